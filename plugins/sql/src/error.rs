//! Typed database failures and how they map onto the plugin API's two error shapes: a
//! whole-call [`ConnectorError`] and a per-entry [`ExportError`].
//!
//! Drivers classify their native errors into a [`FailureClass`]; everything above the driver
//! works with the class, never with driver-specific codes. No variant carries a connection
//! string, so no message can leak a credential embedded in one.

use std::path::PathBuf;

use ecma_plugin_api::{ConnectorError, ErrorKind, ExportError, ExportErrorKind};

/// What kind of failure the database reported, independent of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// A unique or primary-key constraint refused the row.
    AlreadyExists,
    /// A NOT NULL, CHECK or type rule refused a value.
    Syntax,
    /// The database is locked or the pool is exhausted; retrying later may succeed.
    Busy,
    /// The database cannot be reached.
    Connection,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("the SQLite database file {0} does not exist")]
    MissingFile(PathBuf),
    /// The same as `MissingFile`, for a connection string answered as a secret.
    #[error("the SQLite database file named by the connection string does not exist")]
    MissingSecretFile,
    #[error("unsupported database '{0}': this build of the SQL connector supports SQLite only")]
    UnsupportedScheme(String),
    #[error("invalid connection string: {0}")]
    InvalidConnectionString(String),
    #[error("cannot connect to the database: {message}")]
    Connect {
        class: FailureClass,
        message: String,
    },
    #[error("{message}")]
    Statement {
        class: FailureClass,
        message: String,
    },
}

impl DbError {
    pub(crate) fn class(&self) -> FailureClass {
        match self {
            DbError::MissingFile(_)
            | DbError::MissingSecretFile
            | DbError::UnsupportedScheme(_)
            | DbError::InvalidConnectionString(_) => FailureClass::Other,
            DbError::Connect { class, .. } | DbError::Statement { class, .. } => *class,
        }
    }

    /// The failure as a per-entry export error.
    pub(crate) fn to_export_error(&self) -> ExportError {
        let kind = match self.class() {
            FailureClass::AlreadyExists => ExportErrorKind::ObjectAlreadyExists,
            FailureClass::Syntax => ExportErrorKind::SyntaxViolation,
            FailureClass::Busy => ExportErrorKind::Busy,
            FailureClass::Connection | FailureClass::Other => {
                ExportErrorKind::ConnectedDirectoryError
            }
        };
        ExportError {
            kind,
            message: self.to_string(),
        }
    }
}

impl From<DbError> for ConnectorError {
    fn from(e: DbError) -> Self {
        let kind = match &e {
            DbError::MissingFile(_)
            | DbError::MissingSecretFile
            | DbError::UnsupportedScheme(_)
            | DbError::InvalidConnectionString(_) => ErrorKind::InvalidConfiguration,
            DbError::Connect {
                class: FailureClass::Busy,
                ..
            }
            | DbError::Statement {
                class: FailureClass::Busy,
                ..
            } => ErrorKind::Busy,
            DbError::Connect { .. }
            | DbError::Statement {
                class: FailureClass::Connection,
                ..
            } => ErrorKind::Connection,
            DbError::Statement { .. } => ErrorKind::Other,
        };
        ConnectorError::new(kind, e.to_string())
    }
}

/// A per-entry failure found before the database was asked anything.
pub(crate) fn entry_error(kind: ExportErrorKind, message: impl Into<String>) -> ExportError {
    ExportError {
        kind,
        message: message.into(),
    }
}
