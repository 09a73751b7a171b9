//! What can go wrong between the connector and its file, and how the host should see it.
//!
//! Whole-call failures leave the connector as a [`ConnectorError`], whose kind the host maps
//! to a SCIM status: a file the host cannot reach is `Connection`, a bad parameter answer
//! `InvalidConfiguration`, a file edited while a batch was being written `Busy` (retry).
//! Per-entry export failures are not `CsvError`s: they are `ExportResult`s (see `export.rs`).

use std::path::{Path, PathBuf};

use ecma_plugin_api::{ConnectorError, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("parameter '{name}': {message}")]
    Parameter { name: &'static str, message: String },

    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The file is not a CSV file this connector can use (no header, ragged rows, a duplicate
    /// anchor value, invalid UTF-8, ...). The message says where.
    #[error("{path}: {message}")]
    Malformed { path: PathBuf, message: String },

    #[error(
        "{path} changed while a batch was being written to it; the batch was not applied, retry it"
    )]
    ChangedMeanwhile { path: PathBuf },

    /// A delta import whose watermark does not identify the snapshot next to the file.
    #[error("delta import: {0}; run a full import first")]
    NoSnapshot(String),
}

impl CsvError {
    pub(crate) fn read(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| CsvError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn write(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| CsvError::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, message: impl Into<String>) -> Self {
        CsvError::Malformed {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            CsvError::Parameter { .. } => ErrorKind::InvalidConfiguration,
            CsvError::Read { .. } => ErrorKind::Connection,
            CsvError::ChangedMeanwhile { .. } => ErrorKind::Busy,
            CsvError::Write { .. } | CsvError::Malformed { .. } | CsvError::NoSnapshot(_) => {
                ErrorKind::Other
            }
        }
    }
}

impl From<CsvError> for ConnectorError {
    fn from(e: CsvError) -> Self {
        ConnectorError::new(e.kind(), e.to_string())
    }
}
