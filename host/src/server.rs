//! Starting the host: build every connector, then serve all of them over one TLS port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;

use crate::config::HostConfig;
use crate::registry::watch::WatchGuard;
use crate::registry::{Registry, RegistryError};
use crate::scim::{router, AppState};
use crate::tls::reload::{CertWatch, ReloadingCert};
use crate::tls::{reloading_server_config, TlsError};

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
    #[error(transparent)]
    Watch(#[from] crate::registry::watch::WatchError),
}

/// A host that is serving. Dropping it does not stop it; call [`RunningHost::shutdown`].
pub struct RunningHost {
    pub addr: SocketAddr,
    /// Where `/status` and `/metrics` are served, when `admin_listen` is set.
    pub admin_addr: Option<SocketAddr>,
    pub registry: Arc<Registry>,
    handle: Handle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    admin: Option<(Handle, tokio::task::JoinHandle<std::io::Result<()>>)>,
    _watch: WatchGuard,
    /// The serving certificate, re-read when its files change.
    pub certificate: Arc<ReloadingCert>,
    _cert_watch: CertWatch,
}

impl RunningHost {
    /// Stop accepting, let requests in flight finish (up to 10 s), and wait.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(10)));
        if let Some((handle, task)) = self.admin {
            handle.shutdown();
            let _ = task.await;
        }
        let _ = self.server.await;
        save_state(&self.registry);
    }

    /// Wait until the server stops (after [`Self::handle`]'s graceful shutdown, or on a fatal
    /// error), then save what the connectors keep across restarts.
    pub async fn wait(self) -> std::io::Result<()> {
        let result = match self.server.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        };
        save_state(&self.registry);
        result
    }

    /// Handle for stopping from elsewhere (signals).
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

/// Load the connectors, bind `config.listen` (port 0 picks a free port) and serve.
pub async fn start(config: &HostConfig) -> Result<RunningHost, StartError> {
    let certificate = Arc::new(ReloadingCert::load(
        &config.tls.certificate,
        &config.tls.key,
    )?);
    let tls = RustlsConfig::from_config(reloading_server_config(certificate.clone())?);
    let cert_watch = crate::tls::reload::watch(certificate.clone())?;
    let registry = Registry::load(config).await?;
    let app = router(AppState::new(registry.clone()));
    let listener = bind(config.listen)?;
    let addr = local_addr(&listener, config.listen)?;
    let handle = Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .handle(handle.clone())
        .serve(app.into_make_service());
    let server = tokio::spawn(server);
    let (admin_addr, admin) = match config.admin_listen {
        Some(admin_listen) => {
            let listener = bind(admin_listen)?;
            let admin_addr = local_addr(&listener, admin_listen)?;
            let admin_handle = Handle::new();
            let task = tokio::spawn(
                axum_server::from_tcp(listener)
                    .handle(admin_handle.clone())
                    .serve(
                        crate::admin::router(registry.clone(), Some(certificate.clone()))
                            .into_make_service(),
                    ),
            );
            tracing::info!(addr = %admin_addr, "admin endpoints /status and /metrics (HTTP)");
            (Some(admin_addr), Some((admin_handle, task)))
        }
        None => (None, None),
    };
    let watch = crate::registry::watch::spawn(registry.clone())?;
    tracing::info!(%addr, connectors = registry.all().len(), "ECMA connector host listening (HTTPS)");
    Ok(RunningHost {
        addr,
        admin_addr,
        registry,
        handle,
        server,
        admin,
        _watch: watch,
        certificate,
        _cert_watch: cert_watch,
    })
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|source| StartError::Bind { addr, source })
}

fn local_addr(
    listener: &std::net::TcpListener,
    wanted: SocketAddr,
) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Bind {
        addr: wanted,
        source,
    })
}

/// Save what every running connector keeps across restarts (object timestamps).
fn save_state(registry: &Registry) {
    for entry in registry.all() {
        if let crate::registry::ConnectorSlot::Running(runtime) = entry.slot {
            runtime.save_timestamps();
        }
    }
}
