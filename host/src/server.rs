//! Starting the host: build every connector, then serve all of them over one TLS port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;

use crate::config::{public_url_for, HostConfig, Limits, HYPER_HEAD_BUFFER};
use crate::connection::{ConnectionBounds, GuardedAcceptor};
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
    #[error("cannot start the token-check workers: {0}")]
    Workers(std::io::Error),
}

/// A host that is serving. Dropping it does not stop it; call [`RunningHost::shutdown`].
pub struct RunningHost {
    pub addr: SocketAddr,
    /// Where `/status` and `/metrics` are served, when `admin_listen` is set.
    pub admin_addr: Option<SocketAddr>,
    pub registry: Arc<Registry>,
    /// Open SCIM connections and their bounds.
    pub connections: Arc<ConnectionBounds>,
    /// How long requests in flight may run once shutdown starts (`limits.shutdown_grace_seconds`).
    pub grace: Duration,
    handle: Handle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    admin: Option<(Handle, tokio::task::JoinHandle<std::io::Result<()>>)>,
    _watch: WatchGuard,
    /// The serving certificate, re-read when its files change.
    pub certificate: Arc<ReloadingCert>,
    _cert_watch: CertWatch,
}

impl RunningHost {
    /// Stop accepting, let requests in flight finish (up to the grace period), and wait.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(self.grace));
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
    let listener = bind(config.listen)?;
    let addr = local_addr(&listener, config.listen)?;
    let public_url = public_url_for(config.public_url.as_deref(), addr);
    let state = AppState::new(registry.clone(), public_url).map_err(StartError::Workers)?;
    let app = router(state);
    let handle = Handle::new();
    let connections = ConnectionBounds::new(&config.limits);
    let guarded = connections.clone();
    let mut server = axum_server::from_tcp_rustls(listener, tls)
        .handle(handle.clone())
        .map(|tls| GuardedAcceptor::new(tls, guarded));
    configure_http(server.http_builder(), &config.limits);
    let server = server.serve(app.into_make_service_with_connect_info::<SocketAddr>());
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
        connections,
        grace: config.limits.shutdown_grace,
        handle,
        server,
        admin,
        _watch: watch,
        certificate,
        _cert_watch: cert_watch,
    })
}

/// hyper's own limits, set above the host's (`guard.rs` answers those in SCIM) so that only a
/// request far over them meets hyper's bare refusals; and the HTTP/1.1 header-read time-out,
/// which hyper applies to every request head, the first and each one on a kept-alive
/// connection.
fn configure_http(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    limits: &Limits,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(HYPER_HEAD_BUFFER);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_header_list_size(u32::try_from(HYPER_HEAD_BUFFER).unwrap_or(u32::MAX));
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

/// Save what every running connector keeps across restarts (its connector space snapshot).
fn save_state(registry: &Registry) {
    for entry in registry.all() {
        if let crate::registry::ConnectorSlot::Running(runtime) = entry.slot {
            runtime.save_snapshot();
        }
    }
}
