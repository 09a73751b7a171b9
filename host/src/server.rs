//! Starting the host: build every connector, then serve all of them over one TLS port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;

use crate::config::HostConfig;
use crate::registry::{Registry, RegistryError};
use crate::scim::{router, AppState};
use crate::tls::{server_config, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A host that is serving. Dropping it does not stop it; call [`RunningHost::shutdown`].
pub struct RunningHost {
    pub addr: SocketAddr,
    pub registry: Arc<Registry>,
    handle: Handle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningHost {
    /// Stop accepting, let requests in flight finish (up to 10 s), and wait.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
        let _ = self.server.await;
    }

    /// Wait until the server stops (it stops on its own only on a fatal error).
    pub async fn wait(self) -> std::io::Result<()> {
        match self.server.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Handle for stopping from elsewhere (signals).
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

/// Load the connectors, bind `config.listen` (port 0 picks a free port) and serve.
pub async fn start(config: &HostConfig) -> Result<RunningHost, StartError> {
    let tls = RustlsConfig::from_config(server_config(&config.tls.certificate, &config.tls.key)?);
    let registry = Registry::load(config).await?;
    let app = router(AppState::new(registry.clone()));
    let listener = std::net::TcpListener::bind(config.listen)
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let handle = Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .handle(handle.clone())
        .serve(app.into_make_service());
    let server = tokio::spawn(server);
    tracing::info!(%addr, connectors = registry.all().len(), "ECMA connector host listening (HTTPS)");
    Ok(RunningHost {
        addr,
        registry,
        handle,
        server,
    })
}
