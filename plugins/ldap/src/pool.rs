//! Connections: open, secure and bind one, and keep a few bound ones per settings for reuse.
//!
//! An `ldap3::Ldap` handle multiplexes operations over one connection, so a pool is a small
//! ring of bound connections; a closed one is replaced on the next use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ecma_plugin_api::ConnectorError;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use tokio::sync::Mutex as AsyncMutex;

use crate::directory::Discovery;
use crate::error::{check, LdapFailure};
use crate::settings::{Binding, ConnectionSettings, Transport};
use crate::tls;

/// Open a connection (TLS as the binding says) and start its driver on the current runtime.
async fn open(settings: &ConnectionSettings, inspect_only: bool) -> Result<Ldap, ConnectorError> {
    let mut options = LdapConnSettings::new().set_conn_timeout(settings.connect_timeout);
    if settings.transport() != Transport::Plain {
        options = options
            .set_config(tls::client_config(settings, inspect_only)?)
            .set_starttls(settings.transport() == Transport::StartTls);
    }
    let url = settings.url();
    let (connection, ldap) = match LdapConnAsync::with_settings(options, &url).await {
        Ok(c) => c,
        Err(e) => {
            let mut error = connect_error(settings, e);
            if !inspect_only
                && settings.transport() != Transport::Plain
                && error.message.contains("TLS failed")
            {
                if let Some(presented) = Box::pin(presented_certificate(settings)).await {
                    error.message = format!("{}; {presented}", error.message);
                }
            }
            return Err(error);
        }
    };
    tokio::spawn(async move {
        if let Err(e) = connection.drive().await {
            log::debug!("LDAP connection ended: {e}");
        }
    });
    Ok(ldap)
}

/// Explain a failed connect with the host and port tried.
fn connect_error(settings: &ConnectionSettings, error: ldap3::LdapError) -> ConnectorError {
    let target = settings.target();
    let text = error.to_string();
    let hint = if text.contains("refused") {
        "nothing listens there: check parameters `host` and `port`"
    } else if text.contains("timeout") || text.contains("elapsed") {
        "no answer within connection_timeout_seconds: check `host`, `port` and firewalls"
    } else if text.contains("lookup")
        || text.contains("resolve")
        || text.contains("Name or service")
    {
        "the host name does not resolve: check parameter `host`"
    } else if text.to_ascii_lowercase().contains("certificate")
        || text.contains("tls")
        || text.contains("TLS")
        || text.contains("handshake")
    {
        "TLS failed: set `ca_file` to the CA that issued the server's certificate, or pin it with `server_certificate_sha256` (the global page shows its fingerprint)"
    } else {
        "check parameters `host`, `port` and `binding`"
    };
    ConnectorError::connection(format!(
        "cannot connect to {target} ({}): {text}; {hint}",
        settings.url()
    ))
}

/// Bind as the settings say.
async fn bind(ldap: &mut Ldap, settings: &ConnectionSettings) -> Result<(), ConnectorError> {
    let operation = format!("bind to {}", settings.target());
    let outcome = match settings.binding {
        Binding::Anonymous => return Ok(()),
        Binding::Ldaps | Binding::StartTls if settings.user.is_empty() => return Ok(()),
        Binding::SaslExternal => {
            ldap.with_timeout(settings.operation_timeout)
                .sasl_external_bind()
                .await
        }
        _ => {
            ldap.with_timeout(settings.operation_timeout)
                .simple_bind(&settings.user, &settings.password)
                .await
        }
    };
    check(&operation, outcome, &[])
        .map(|_| ())
        .map_err(|f: LdapFailure| {
            let mut error = f.into_connector_error();
            // Never echo the password; the client never includes it, but say which DN failed.
            if !settings.user.is_empty() {
                error.message = format!("{} (as `{}`)", error.message, settings.user);
            }
            error
        })
}

/// The certificate a server presents, read without trusting it, for an error message that
/// lets the administrator pin it.
async fn presented_certificate(settings: &ConnectionSettings) -> Option<String> {
    let mut ldap = open(settings, true).await.ok()?;
    let der = ldap.get_peer_certificate().await.ok().flatten()?;
    let _ = ldap.unbind().await;
    let c = tls::describe(&der);
    Some(format!(
        "the server presented `{}` issued by `{}` (valid until {}), SHA-256 fingerprint {}: if that is your server's certificate, set `ca_file` to its issuer, or pin it with `server_certificate_sha256`",
        c.subject, c.issuer, c.not_after, c.sha256
    ))
}

/// Bound connections for one set of settings.
pub(crate) struct Pool {
    settings: ConnectionSettings,
    slots: Vec<AsyncMutex<Option<Ldap>>>,
    next: AtomicUsize,
    discovery: tokio::sync::OnceCell<Arc<Discovery>>,
}

impl Pool {
    /// A pool outside the cache (a bind as another identity).
    pub(crate) fn standalone(settings: ConnectionSettings) -> Self {
        Self::new(settings)
    }

    fn new(settings: ConnectionSettings) -> Self {
        let loopback = settings.host == "localhost"
            || settings
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback());
        if settings.binding == Binding::Simple && !loopback {
            log::warn!(
                "binding Simple to {} sends the bind password unencrypted: choose binding LDAPS or StartTLS",
                settings.target()
            );
        }
        let slots = (0..settings.pool_size)
            .map(|_| AsyncMutex::new(None))
            .collect();
        Self {
            settings,
            slots,
            next: AtomicUsize::new(0),
            discovery: tokio::sync::OnceCell::new(),
        }
    }

    /// What the server says about itself, read once per pool.
    pub(crate) async fn discovery(&self) -> Result<Arc<Discovery>, ConnectorError> {
        self.discovery
            .get_or_try_init(|| async { crate::directory::discover(self).await.map(Arc::new) })
            .await
            .cloned()
    }

    pub(crate) fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// A bound handle (a clone of a pooled connection), with the operation time-out set.
    pub(crate) async fn get(&self) -> Result<Ldap, ConnectorError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len().max(1);
        let Some(slot) = self.slots.get(index) else {
            return Err(ConnectorError::other("the LDAP pool has no connections"));
        };
        let mut slot = slot.lock().await;
        if let Some(ldap) = slot.as_mut() {
            if !ldap.is_closed() {
                let mut handle = ldap.clone();
                handle.with_timeout(self.settings.operation_timeout);
                return Ok(handle);
            }
        }
        let mut ldap = open(&self.settings, false).await?;
        bind(&mut ldap, &self.settings).await?;
        let mut handle = ldap.clone();
        *slot = Some(ldap);
        handle.with_timeout(self.settings.operation_timeout);
        Ok(handle)
    }

    /// A dedicated connection, not shared: for long searches whose controls must not mix.
    pub(crate) async fn dedicated(&self) -> Result<Ldap, ConnectorError> {
        let mut ldap = open(&self.settings, false).await?;
        bind(&mut ldap, &self.settings).await?;
        Ok(ldap)
    }
}

/// Pools by connection settings, so the answers passed with every call cost no reconnect.
#[derive(Default)]
pub(crate) struct Pools {
    pools: Mutex<HashMap<ConnectionSettings, Arc<Pool>>>,
}

impl Pools {
    pub(crate) fn get(&self, settings: &ConnectionSettings) -> Arc<Pool> {
        let mut pools = match self.pools.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Settings that changed (a new password, say) get a new pool; old ones are dropped
        // when nothing uses them.
        if pools.len() > 16 {
            pools.retain(|_, p| Arc::strong_count(p) > 1);
        }
        pools
            .entry(settings.clone())
            .or_insert_with(|| Arc::new(Pool::new(settings.clone())))
            .clone()
    }
}
