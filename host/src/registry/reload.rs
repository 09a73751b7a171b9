//! Building and hot reload: build a version beside the running one, check it, swap it in one
//! write, or keep the old one and record why ([`ReloadError`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::{key, ConnectorEntry, ConnectorSlot, Registry};
use crate::config::{ConfigError, ConnectorConfig};
use crate::connector::calls::CallError;
use crate::connector::{BuildError, ConnectorRuntime};
use crate::plugins::content_hash;
use crate::token::TokenVerifier;

/// What a reload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Same config and same library content: nothing to do.
    Unchanged,
    /// The new version serves now.
    Swapped,
    /// The new version was refused; the old one (if any) keeps serving.
    Failed(ReloadError),
    /// The connector's file was removed; the connector is gone.
    Removed,
}

/// Why a version was not swapped in. The running version, if any, keeps serving.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ReloadError {
    /// The connector file is invalid.
    #[error(transparent)]
    Config(Arc<ConfigError>),
    /// The library, its answers or the mapping did not build.
    #[error(transparent)]
    Build(Arc<BuildError>),
    /// The new version could not reach the target.
    #[error("connection test failed: {0}")]
    ConnectionTest(Arc<CallError>),
    /// The new version needs a connector space of its own, and its full import failed.
    #[error("full import failed: {0}")]
    Import(Arc<CallError>),
}

/// Two refusals are the same when they say the same thing.
impl PartialEq for ReloadError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for ReloadError {}

impl Registry {
    /// Build `config` (beside `previous`, if any) and register it. Returns why if the build
    /// failed; then the previous version, if there is one, stays.
    pub(super) async fn install(
        &self,
        config: ConnectorConfig,
        previous: Option<Arc<ConnectorRuntime>>,
    ) -> Result<(), ReloadError> {
        let name = config.name.clone();
        let verifier = TokenVerifier::new(config.token_hash.clone())
            .with_previous(config.previous_token.clone());
        {
            let mut lifecycle = self.lifecycle.lock();
            let entry = lifecycle.entry(key(&name)).or_default();
            entry.name = name.clone();
            entry.file = config.file.clone();
            entry.plugin = config.plugin.clone();
        }
        let started = Instant::now();
        let reload = previous.is_some();
        let metrics = self.metrics.connector(&name);
        let built = match ConnectorRuntime::build_with_metrics(
            config,
            &self.host.ecma_dir,
            &self.host.data_dir,
            previous.as_deref(),
            metrics,
        )
        .await
        {
            Ok(runtime) => self.check(runtime, reload).await,
            Err(e) => Err(ReloadError::Build(Arc::new(e))),
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
            Err(error) => {
                let reason = error.to_string();
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
                                slot: ConnectorSlot::Failed { name, reason },
                            },
                        );
                    }
                }
                Err(error)
            }
        }
    }

    /// The checks a reload makes before swapping: a connection test, and a full import when
    /// the new version cannot take over the old connector space.
    async fn check(
        &self,
        runtime: Arc<ConnectorRuntime>,
        reload: bool,
    ) -> Result<Arc<ConnectorRuntime>, ReloadError> {
        if !reload {
            return Ok(runtime);
        }
        runtime
            .test_connection()
            .await
            .map_err(|e| ReloadError::ConnectionTest(Arc::new(e)))?;
        if runtime.needs_initial_import() {
            runtime
                .import_now()
                .await
                .map_err(|e| ReloadError::Import(Arc::new(e)))?;
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
                let error = ReloadError::Config(Arc::new(e));
                tracing::error!(%error, "connector file rejected; the running version keeps serving");
                match &previous_name {
                    Some(name) => {
                        if let Some(l) = self.lifecycle.lock().get_mut(&key(name)) {
                            l.reloads_failed += 1;
                            l.last_error = Some(error.to_string());
                        }
                    }
                    // A new file: shown as failed until it loads.
                    None => self.record_rejected_file(file, &error.to_string()),
                }
                return ReloadOutcome::Failed(error);
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
            Err(error) => {
                if let Some(l) = self.lifecycle.lock().get_mut(&key(&name)) {
                    l.refused = Some((hash, attempted));
                }
                ReloadOutcome::Failed(error)
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
}
