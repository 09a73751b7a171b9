//! The registry of configured connectors, by name, each either running or failed, and their
//! lifecycle: building at start-up, hot reload, status, and cache clean-up.
//!
//! A connector whose config is valid but whose library or schema does not load is kept as
//! [`ConnectorSlot::Failed`]: its token still guards it, and requests get a clear 503 naming the
//! reason, while every other connector keeps serving.
//!
//! Reload works like a vector config reload: build the new version beside the old one, check it
//! (ABI and API version, capabilities, schema against the config, a connection test, and a full
//! import when the connector space cannot be carried over), then swap the registry entry in one
//! write. Requests in flight hold an `Arc` of the old version and finish on it; new requests get
//! the new one. If any step fails, the old version keeps serving and the failure is recorded.
//!
//! `reload.rs` builds, checks and swaps (its refusals are [`ReloadError`]s), `status.rs`
//! reports, `watch.rs` turns file changes into reloads, and `cache.rs` cleans the library cache
//! at start-up.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::config::{ConfigError, ConnectorConfig, HostConfig};
use crate::connector::ConnectorRuntime;
use crate::token::TokenVerifier;

mod cache;
mod reload;
mod status;
pub mod watch;

pub use reload::{ReloadError, ReloadOutcome};
pub use status::ConnectorStatus;

#[derive(Clone)]
pub enum ConnectorSlot {
    Running(Arc<ConnectorRuntime>),
    Failed { name: String, reason: String },
}

/// One entry: the token check and the slot.
#[derive(Clone)]
pub struct ConnectorEntry {
    pub verifier: TokenVerifier,
    pub slot: ConnectorSlot,
}

/// What the host remembers about a connector across reloads.
#[derive(Clone, Debug, Default)]
struct Lifecycle {
    name: String,
    file: PathBuf,
    plugin: String,
    /// Every library copy loaded for this connector since start-up. abi_stable never unloads a
    /// library, so each stays mapped until the process exits.
    versions_loaded: BTreeSet<PathBuf>,
    reloads_ok: u64,
    reloads_failed: u64,
    last_error: Option<String>,
    last_swap_ms: Option<u64>,
    /// The library content and config last refused, so the same bad build is not retried on
    /// every file event.
    refused: Option<(String, ConnectorConfig)>,
}

pub struct Registry {
    host: HostConfig,
    /// Keyed by lower-cased name, so that two names differing only in case are refused; URLs
    /// match names exactly (see [`Registry::get`]).
    connectors: RwLock<HashMap<String, ConnectorEntry>>,
    lifecycle: Mutex<HashMap<String, Lifecycle>>,
    /// Reloads run one at a time.
    reloading: tokio::sync::Mutex<()>,
    metrics: Arc<crate::metrics::HostMetrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{file}: key `name`: connector `{name}` is also defined in {other}")]
    Duplicate {
        file: String,
        name: String,
        other: String,
    },
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The `name` (else the file stem) and `plugin` a connector file declares, read without
/// checking the rest.
fn declared(file: &Path) -> (String, String) {
    let table = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let text = |key: &str| {
        table
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let name = text("name").unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.display().to_string())
    });
    (name, text("plugin").unwrap_or_default())
}

impl Registry {
    /// Build every connector in the host's connectors folder. A connector that fails to build
    /// is registered as failed; a config file that does not load is reported as failed too
    /// (see [`Registry::record_rejected_file`]), and the other connectors start. Two files
    /// naming one connector fail the start. Afterwards, cache files no connector loaded are
    /// deleted.
    pub async fn load(host: &HostConfig) -> Result<Arc<Self>, RegistryError> {
        let registry = Arc::new(Registry {
            host: host.clone(),
            connectors: RwLock::new(HashMap::new()),
            lifecycle: Mutex::new(HashMap::new()),
            reloading: tokio::sync::Mutex::new(()),
            metrics: Arc::default(),
        });
        let mut files: HashMap<String, String> = HashMap::new();
        for file in host.connector_files()? {
            let config = match ConnectorConfig::load(&file) {
                Ok(config) => config,
                Err(e) => {
                    tracing::error!(error = %e, "connector file rejected; the other connectors start");
                    registry.record_rejected_file(&file, &e.to_string());
                    continue;
                }
            };
            if let Some(other) = files.insert(key(&config.name), file.display().to_string()) {
                return Err(RegistryError::Duplicate {
                    file: file.display().to_string(),
                    name: config.name,
                    other,
                });
            }
            // A connector that fails to build is recorded as failed; the others start anyway.
            let _ = registry.install(config, None).await;
        }
        registry.clean_cache();
        Ok(registry)
    }

    /// A connector file that does not load (invalid TOML or values, an unset environment
    /// variable): `/status` and `/readyz` show it as failed, under the name it declares, with
    /// the error. Nothing serves it: with no valid token hash to guard it, its URL gets the
    /// same 401 as an unknown connector. Saving a fixed file starts it.
    fn record_rejected_file(&self, file: &Path, error: &str) {
        let mut lifecycle = self.lifecycle.lock();
        let (mut name, plugin) = declared(file);
        if lifecycle.get(&key(&name)).is_some_and(|l| l.file != file) {
            // Another file's connector has this name: keep its entry, show this one by path.
            name = file.display().to_string();
        }
        lifecycle.retain(|k, l| l.file != file || *k == key(&name));
        let entry = lifecycle.entry(key(&name)).or_default();
        entry.name = name;
        entry.file = file.to_path_buf();
        entry.plugin = plugin;
        entry.last_error = Some(error.to_string());
    }

    /// The connector named exactly `name` (case-sensitive, as Microsoft's host).
    pub fn get(&self, name: &str) -> Option<ConnectorEntry> {
        let entry = self.connectors.read().get(&key(name)).cloned()?;
        let exact = match &entry.slot {
            ConnectorSlot::Running(runtime) => runtime.name() == name,
            ConnectorSlot::Failed { name: failed, .. } => failed == name,
        };
        exact.then_some(entry)
    }

    /// The configured spelling of a connector's name, looked up without regard to case.
    pub fn configured_name(&self, name: &str) -> Option<String> {
        self.connectors
            .read()
            .get(&key(name))
            .map(|e| match &e.slot {
                ConnectorSlot::Running(r) => r.name().to_string(),
                ConnectorSlot::Failed { name, .. } => name.clone(),
            })
    }

    /// Every connector, sorted by name.
    pub fn all(&self) -> Vec<ConnectorEntry> {
        let mut all: Vec<_> = self.connectors.read().values().cloned().collect();
        all.sort_by_key(|e| match &e.slot {
            ConnectorSlot::Running(r) => r.name().to_string(),
            ConnectorSlot::Failed { name, .. } => name.clone(),
        });
        all
    }

    /// The host's metrics, which the connectors and the SCIM layer record into.
    pub fn metrics(&self) -> &Arc<crate::metrics::HostMetrics> {
        &self.metrics
    }

    /// The host configuration the registry was built from.
    pub fn host(&self) -> &HostConfig {
        &self.host
    }
}
