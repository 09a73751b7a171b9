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

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::config::{ConfigError, ConnectorConfig, HostConfig};
use crate::connector::{Availability, ConnectorRuntime};
use crate::plugins::content_hash;
use crate::token::TokenVerifier;

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

/// A connector's state, as `/status` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub file: String,
    /// `importing`, `ready`, `degraded` (calls to the target hang), `import_failed` or `failed`.
    pub state: &'static str,
    /// Plugin calls still running past their time-out.
    pub stuck_calls: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub objects: usize,
    pub imported_so_far: u64,
    /// The selected partitions' DNs (none: the connector's default partition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
    /// The selected containers' DNs (none: whole partitions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    pub plugin_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    pub versions_loaded: usize,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_swap_ms: Option<u64>,
}

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Same config and same library content: nothing to do.
    Unchanged,
    /// The new version serves now.
    Swapped,
    /// The new version was refused; the old one (if any) keeps serving.
    Failed(String),
    /// The connector's file was removed; the connector is gone.
    Removed,
}

pub struct Registry {
    host: HostConfig,
    /// Keyed by lower-cased name: URLs match connector names without regard to case.
    connectors: RwLock<HashMap<String, ConnectorEntry>>,
    lifecycle: Mutex<HashMap<String, Lifecycle>>,
    /// Reloads run one at a time.
    reloading: tokio::sync::Mutex<()>,
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

impl Registry {
    /// Build every connector in the host's connectors folder. A connector that fails to build
    /// is registered as failed; an invalid config file fails the whole start (it cannot be
    /// guarded by a token). Afterwards, cache files no connector loaded are deleted.
    pub async fn load(host: &HostConfig) -> Result<Arc<Self>, RegistryError> {
        let registry = Arc::new(Registry {
            host: host.clone(),
            connectors: RwLock::new(HashMap::new()),
            lifecycle: Mutex::new(HashMap::new()),
            reloading: tokio::sync::Mutex::new(()),
        });
        let mut files: HashMap<String, String> = HashMap::new();
        for file in host.connector_files()? {
            let config = ConnectorConfig::load(&file)?;
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

    /// Build `config` (beside `previous`, if any) and register it. Returns an error message if
    /// the build failed; then the previous version, if there is one, stays.
    async fn install(
        &self,
        config: ConnectorConfig,
        previous: Option<Arc<ConnectorRuntime>>,
    ) -> Result<(), String> {
        let name = config.name.clone();
        let verifier = TokenVerifier::new(config.token_hash.clone());
        {
            let mut lifecycle = self.lifecycle.lock();
            let entry = lifecycle.entry(key(&name)).or_default();
            entry.name = name.clone();
            entry.file = config.file.clone();
            entry.plugin = config.plugin.clone();
        }
        let started = Instant::now();
        let reload = previous.is_some();
        let built = match ConnectorRuntime::build(
            config,
            &self.host.ecma_dir,
            &self.host.data_dir,
            previous.as_deref(),
        )
        .await
        {
            Ok(runtime) => self.check(runtime, reload).await,
            Err(e) => Err(e.to_string()),
        };
        match built {
            Ok(runtime) => {
                let cached = runtime.library().cached.clone();
                self.connectors.write().insert(
                    key(&name),
                    ConnectorEntry {
                        verifier,
                        slot: ConnectorSlot::Running(runtime.clone()),
                    },
                );
                // Start-up imports run in the background; a reload imported before the swap.
                runtime.start_import();
                let mut lifecycle = self.lifecycle.lock();
                let entry = lifecycle.entry(key(&name)).or_default();
                entry.versions_loaded.insert(cached);
                entry.last_error = None;
                if reload {
                    entry.reloads_ok += 1;
                    entry.last_swap_ms = Some(started.elapsed().as_millis() as u64);
                    tracing::info!(connector = %name, ms = started.elapsed().as_millis() as u64, "connector reloaded and swapped in");
                }
                Ok(())
            }
            Err(reason) => {
                let mut lifecycle = self.lifecycle.lock();
                let entry = lifecycle.entry(key(&name)).or_default();
                entry.last_error = Some(reason.clone());
                if reload {
                    entry.reloads_failed += 1;
                    tracing::error!(connector = %name, error = %reason, "reload refused; the running version keeps serving");
                } else {
                    tracing::error!(connector = %name, error = %reason, "connector failed to start; other connectors keep serving");
                    drop(lifecycle);
                    let mut connectors = self.connectors.write();
                    // A failed first build (or a failed rebuild of a failed connector) records why.
                    let keep_running = matches!(
                        connectors.get(&key(&name)),
                        Some(ConnectorEntry {
                            slot: ConnectorSlot::Running(_),
                            ..
                        })
                    );
                    if !keep_running {
                        connectors.insert(
                            key(&name),
                            ConnectorEntry {
                                verifier,
                                slot: ConnectorSlot::Failed {
                                    name,
                                    reason: reason.clone(),
                                },
                            },
                        );
                    }
                }
                Err(reason)
            }
        }
    }

    /// The checks a reload makes before swapping: a connection test, and a full import when
    /// the new version cannot take over the old connector space.
    async fn check(
        &self,
        runtime: Arc<ConnectorRuntime>,
        reload: bool,
    ) -> Result<Arc<ConnectorRuntime>, String> {
        if !reload {
            return Ok(runtime);
        }
        runtime
            .test_connection()
            .await
            .map_err(|e| format!("connection test failed: {e}"))?;
        if runtime.needs_initial_import() {
            runtime
                .import_now()
                .await
                .map_err(|e| format!("full import failed: {e}"))?;
        }
        Ok(runtime)
    }

    /// Re-read one connector file and reload that connector if its config or its library's
    /// content changed. A removed file removes the connector.
    pub async fn reload_file(&self, file: &Path) -> ReloadOutcome {
        let _one_at_a_time = self.reloading.lock().await;
        self.reload_file_locked(file).await
    }

    async fn reload_file_locked(&self, file: &Path) -> ReloadOutcome {
        let previous_name = self
            .lifecycle
            .lock()
            .values()
            .find(|l| l.file == file)
            .map(|l| l.name.clone());
        if !file.is_file() {
            if let Some(name) = previous_name {
                self.connectors.write().remove(&key(&name));
                self.lifecycle.lock().remove(&key(&name));
                tracing::info!(connector = %name, file = %file.display(), "connector file removed; connector stopped");
                return ReloadOutcome::Removed;
            }
            return ReloadOutcome::Unchanged;
        }
        let config = match ConnectorConfig::load(file) {
            Ok(c) => c,
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(error = %reason, "connector file rejected; the running version keeps serving");
                if let Some(name) = &previous_name {
                    if let Some(l) = self.lifecycle.lock().get_mut(&key(name)) {
                        l.reloads_failed += 1;
                        l.last_error = Some(reason.clone());
                    }
                }
                return ReloadOutcome::Failed(reason);
            }
        };
        if let Some(old) = previous_name.filter(|old| key(old) != key(&config.name)) {
            // The file now names another connector: the old name goes away.
            self.connectors.write().remove(&key(&old));
            self.lifecycle.lock().remove(&key(&old));
        }
        let previous = self.get(&config.name).and_then(|e| match e.slot {
            ConnectorSlot::Running(r) => Some(r),
            ConnectorSlot::Failed { .. } => None,
        });
        let hash = content_hash(&self.host.ecma_dir.join(&config.plugin)).unwrap_or_default();
        if let Some(running) = &previous {
            if hash == running.library().content_hash && running.config() == &config {
                return ReloadOutcome::Unchanged;
            }
            let refused = self
                .lifecycle
                .lock()
                .get(&key(&config.name))
                .and_then(|l| l.refused.clone());
            if refused.is_some_and(|(h, c)| h == hash && c == config) {
                return ReloadOutcome::Unchanged;
            }
        }
        let name = config.name.clone();
        let attempted = config.clone();
        match self.install(config, previous).await {
            Ok(()) => {
                if let Some(l) = self.lifecycle.lock().get_mut(&key(&name)) {
                    l.refused = None;
                }
                ReloadOutcome::Swapped
            }
            Err(reason) => {
                if let Some(l) = self.lifecycle.lock().get_mut(&key(&name)) {
                    l.refused = Some((hash, attempted));
                }
                ReloadOutcome::Failed(reason)
            }
        }
    }

    /// A library in the `ECMA` folder changed: reload every connector that uses it.
    pub async fn library_changed(&self, file_name: &str) -> Vec<(String, ReloadOutcome)> {
        let _one_at_a_time = self.reloading.lock().await;
        let users: Vec<(String, PathBuf)> = self
            .lifecycle
            .lock()
            .values()
            .filter(|l| l.plugin == file_name)
            .map(|l| (l.name.clone(), l.file.clone()))
            .collect();
        let mut outcomes = Vec::new();
        for (name, file) in users {
            outcomes.push((name, self.reload_file_locked(&file).await));
        }
        outcomes
    }

    /// Delete library copies in `ECMA/Cache/` that no connector has loaded. Only safe at
    /// start-up: later, every loaded copy must stay, since it can never be unloaded.
    fn clean_cache(&self) {
        let loaded: BTreeSet<PathBuf> = self
            .lifecycle
            .lock()
            .values()
            .flat_map(|l| l.versions_loaded.iter().cloned())
            .collect();
        let cache = self.host.ecma_dir.join("Cache");
        let Ok(dirs) = std::fs::read_dir(&cache) else {
            return;
        };
        for dir in dirs
            .filter_map(|d| d.ok())
            .map(|d| d.path())
            .filter(|p| p.is_dir())
        {
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            for file in files.filter_map(|f| f.ok()).map(|f| f.path()) {
                if !loaded.contains(&file) {
                    match std::fs::remove_file(&file) {
                        Ok(()) => {
                            tracing::info!(file = %file.display(), "removed unused library copy from the cache")
                        }
                        Err(e) => {
                            tracing::warn!(file = %file.display(), error = %e, "cannot remove unused library copy")
                        }
                    }
                }
            }
            let _ = std::fs::remove_dir(&dir); // Only succeeds when empty.
        }
    }

    pub fn get(&self, name: &str) -> Option<ConnectorEntry> {
        self.connectors.read().get(&key(name)).cloned()
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

    /// The host configuration the registry was built from.
    pub fn host(&self) -> &HostConfig {
        &self.host
    }

    /// Status of every connector, sorted by name.
    pub fn status(&self) -> Vec<ConnectorStatus> {
        let lifecycle = self.lifecycle.lock().clone();
        let connectors = self.connectors.read().clone();
        let mut out: Vec<ConnectorStatus> = lifecycle
            .iter()
            .map(|(k, l)| {
                let mut s = ConnectorStatus {
                    name: l.name.clone(),
                    file: l.file.display().to_string(),
                    state: "failed",
                    reason: None,
                    stuck_calls: 0,
                    objects: 0,
                    imported_so_far: 0,
                    partitions: Vec::new(),
                    containers: Vec::new(),
                    plugin_file: l.plugin.clone(),
                    plugin: None,
                    plugin_version: None,
                    content_hash: None,
                    versions_loaded: l.versions_loaded.len(),
                    reloads_ok: l.reloads_ok,
                    reloads_failed: l.reloads_failed,
                    last_reload_error: l.last_error.clone(),
                    last_swap_ms: l.last_swap_ms,
                };
                match connectors.get(k).map(|e| &e.slot) {
                    Some(ConnectorSlot::Running(r)) => {
                        s.stuck_calls = r.stuck_calls();
                        let (state, reason) = match r.availability() {
                            Availability::Ready if s.stuck_calls > 0 => (
                                "degraded",
                                Some(format!(
                                    "{} call(s) to the target did not finish within their time-out",
                                    s.stuck_calls
                                )),
                            ),
                            Availability::Ready => ("ready", None),
                            Availability::Importing => ("importing", None),
                            Availability::ImportFailed(reason) => ("import_failed", Some(reason)),
                        };
                        s.state = state;
                        s.reason = reason;
                        s.objects = r.object_count();
                        s.imported_so_far = r.imported_so_far();
                        s.partitions = r.scope().partitions().map(|p| p.dn.clone()).collect();
                        s.containers = r.scope().containers().map(|c| c.dn.clone()).collect();
                        s.plugin = Some(r.library().library.info().name.clone());
                        s.plugin_version = Some(r.library().library.info().version.clone());
                        s.content_hash = Some(r.library().content_hash.clone());
                    }
                    Some(ConnectorSlot::Failed { reason, .. }) => s.reason = Some(reason.clone()),
                    None => s.reason = l.last_error.clone(),
                }
                s
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
