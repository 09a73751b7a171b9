//! Configuration: the host TOML file and one TOML file per connector.
//!
//! Files are parsed into strict serde structs (`deny_unknown_fields`, a `version` field), then
//! validated into the types the rest of the host uses. Every error names the file and the key.
//! Validation here is pure (no I/O beyond reading the files); loading plugins and checking the
//! answers against the connector happen when a connector is built.

mod answers;
mod connector;
mod host;
mod limits;

pub use answers::ParameterAnswers;

pub use connector::{
    AttributeConfig, ConnectorConfig, DeleteFlow, DisableFlow, DnConfig, References, ResourceKind,
    ResourceTypeConfig, RunProfiles,
};
pub use host::{public_url_for, HostConfig, LogFormat, LogRotation, LoggingConfig, TlsConfig};
pub use limits::{Limits, HYPER_HEAD_BUFFER};

use std::path::{Path, PathBuf};

/// A configuration problem, always tied to a file and, where there is one, a key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: key `{key}`: {message}")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            file: file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Read and deserialize one TOML file; toml's error already names the key and line.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        file: file.to_path_buf(),
        message: e.to_string(),
    })
}

pub(crate) fn check_version(file: &Path, version: u32) -> Result<(), ConfigError> {
    if version == 1 {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            file,
            "version",
            format!("unsupported version {version}; this host reads version 1"),
        ))
    }
}

/// Resolve `path` against the directory of the file that named it.
pub(crate) fn relative_to(file: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(path)
    }
}
