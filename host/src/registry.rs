//! The registry of configured connectors, by name, each either running or failed.
//!
//! A connector whose config is valid but whose library or schema does not load is kept as
//! [`ConnectorSlot::Failed`]: its token still guards it, and requests get a clear 503 naming the
//! reason, while every other connector keeps serving.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::{ConfigError, ConnectorConfig, HostConfig};
use crate::connector::ConnectorRuntime;
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

#[derive(Default)]
pub struct Registry {
    /// Keyed by lower-cased name: URLs match connector names without regard to case.
    connectors: RwLock<HashMap<String, ConnectorEntry>>,
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

impl Registry {
    /// Build every connector in the host's connectors folder. A connector that fails to build
    /// is registered as failed; an invalid config file fails the whole start (it cannot be
    /// guarded by a token).
    pub async fn load(host: &HostConfig) -> Result<Arc<Self>, RegistryError> {
        let registry = Arc::new(Registry::default());
        let mut files: HashMap<String, String> = HashMap::new();
        for file in host.connector_files()? {
            let config = ConnectorConfig::load(&file)?;
            let key = config.name.to_ascii_lowercase();
            if let Some(other) = files.insert(key, file.display().to_string()) {
                return Err(RegistryError::Duplicate {
                    file: file.display().to_string(),
                    name: config.name,
                    other,
                });
            }
            registry.add(config, host).await;
        }
        Ok(registry)
    }

    /// Build one connector and register it (as failed if it does not build).
    pub async fn add(&self, config: ConnectorConfig, host: &HostConfig) {
        let name = config.name.clone();
        let verifier = TokenVerifier::new(config.token_hash.clone());
        let slot = match ConnectorRuntime::build(config, &host.ecma_dir).await {
            Ok(runtime) => {
                runtime.start_import();
                ConnectorSlot::Running(runtime)
            }
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "connector failed to start; other connectors keep serving");
                ConnectorSlot::Failed {
                    name: name.clone(),
                    reason: e.to_string(),
                }
            }
        };
        self.connectors
            .write()
            .insert(name.to_ascii_lowercase(), ConnectorEntry { verifier, slot });
    }

    pub fn get(&self, name: &str) -> Option<ConnectorEntry> {
        self.connectors
            .read()
            .get(&name.to_ascii_lowercase())
            .cloned()
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
}
