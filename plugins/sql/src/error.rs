//! Typed database failures and how they map onto the plugin API's two error shapes: a
//! whole-call [`ConnectorError`] and a per-entry [`ExportError`].
//!
//! Drivers classify their native errors into a [`FailureClass`]; everything above the driver
//! works with the class, never with driver-specific codes. No variant carries a connection
//! string or a password, and messages from the connect path go through [`Redactor`] first, so no
//! message can leak a credential.

use std::path::PathBuf;

use ecma_plugin_api::{ConnectorError, ErrorKind, ExportError, ExportErrorKind};

/// What kind of failure the database reported, independent of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// A unique or primary-key constraint refused the row.
    AlreadyExists,
    /// A NOT NULL, CHECK or type rule refused a value.
    Syntax,
    /// A foreign key refused the change (a reference to a missing row, or a change to a row
    /// that others reference).
    ForeignKey,
    /// The database is locked, a deadlock was broken or the pool is exhausted; retrying later
    /// may succeed.
    Busy,
    /// The account lacks a privilege.
    Permission,
    /// The database cannot be reached.
    Connection,
    Other,
}

/// Why a connection could not be opened, as far as the driver tells: it decides which
/// Connectivity answer a failure is pinned on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectCause {
    /// The host name does not resolve.
    HostName,
    /// Nothing listens on that port (or a firewall rejects the connection).
    Refused,
    /// No answer within the connect time-out (a firewall dropping packets, a wrong address).
    TimedOut,
    /// The TLS handshake or the certificate check failed.
    Tls,
    /// The server refused the user name or the password.
    Authentication,
    /// The server has no database of that name.
    DatabaseMissing,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("the SQLite database file {0} does not exist")]
    MissingFile(PathBuf),
    /// The same as `MissingFile`, for a connection string answered as a secret.
    #[error("the SQLite database file named by the connection string does not exist")]
    MissingSecretFile,
    #[error("unsupported database '{0}': use the driver PostgreSQL, MySQL, SQLite or ODBC")]
    UnsupportedScheme(String),
    #[error("invalid connection settings: {0}")]
    InvalidConnectionString(String),
    #[error("cannot connect to the database: {message}")]
    Connect {
        class: FailureClass,
        cause: ConnectCause,
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

    pub(crate) fn statement(class: FailureClass, message: impl Into<String>) -> Self {
        DbError::Statement {
            class,
            message: message.into(),
        }
    }

    /// A failure of the connector itself (a decoding problem, a task that ended), not of the
    /// database.
    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::statement(FailureClass::Other, message)
    }

    /// Why a connection failed, for a connect error.
    pub(crate) fn connect_cause(&self) -> Option<ConnectCause> {
        match self {
            DbError::Connect { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// The failure as a per-entry export error.
    pub(crate) fn to_export_error(&self) -> ExportError {
        let kind = match self.class() {
            FailureClass::AlreadyExists => ExportErrorKind::ObjectAlreadyExists,
            FailureClass::Syntax | FailureClass::ForeignKey => ExportErrorKind::SyntaxViolation,
            FailureClass::Busy => ExportErrorKind::Busy,
            FailureClass::Permission => ExportErrorKind::PermissionIssue,
            FailureClass::Connection | FailureClass::Other => {
                ExportErrorKind::ConnectedDirectoryError
            }
        };
        ExportError {
            kind,
            message: self.to_string(),
        }
    }

    /// The same error with every secret replaced.
    pub(crate) fn redacted(self, redactor: &Redactor) -> Self {
        match self {
            DbError::Connect {
                class,
                cause,
                message,
            } => DbError::Connect {
                class,
                cause,
                message: redactor.apply(&message),
            },
            DbError::Statement { class, message } => DbError::Statement {
                class,
                message: redactor.apply(&message),
            },
            DbError::InvalidConnectionString(message) => {
                DbError::InvalidConnectionString(redactor.apply(&message))
            }
            other => other,
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

/// Removes known secrets (a password, a connection string answered as a secret) from text that
/// is about to become an error message.
///
/// Drivers are not expected to repeat a password, but some repeat the connection string they
/// were given, and a future driver version may be careless: this is the last line of defence.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// Secrets shorter than this are not searched for: replacing every "a" of a message would
    /// destroy it and hide nothing.
    const MIN_LEN: usize = 3;

    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() >= Self::MIN_LEN && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            // Longest first, so that a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret, "<redacted>")
        })
    }
}

/// The class of an SQLSTATE, with the native error number where the state is ambiguous (MySQL
/// reports most constraint failures as `23000`). Used by the PostgreSQL and MySQL drivers and by
/// ODBC, whose drivers pass the server's state through.
pub(crate) fn classify_state(state: &str, native: Option<i64>) -> FailureClass {
    // MySQL and MariaDB server error numbers, where the state does not say enough.
    match native {
        Some(1062 | 1586 | 1022) => return FailureClass::AlreadyExists,
        Some(1451 | 1452 | 1216 | 1217) => return FailureClass::ForeignKey,
        Some(1048 | 1364 | 1406 | 1366 | 1292 | 1265 | 1264 | 3819 | 4025) => {
            return FailureClass::Syntax
        }
        Some(1213 | 1205 | 1040) => return FailureClass::Busy,
        Some(1044 | 1045 | 1142 | 1143 | 1227 | 1370) => return FailureClass::Permission,
        Some(2002 | 2003 | 2005 | 2006 | 2013) => return FailureClass::Connection,
        _ => {}
    }
    match state {
        "23505" => FailureClass::AlreadyExists,
        "23503" => FailureClass::ForeignKey,
        "40001" | "40P01" | "55P03" | "57014" | "53300" | "HYT00" | "HYT01" => FailureClass::Busy,
        "42501" => FailureClass::Permission,
        _ if state.starts_with("23") || state.starts_with("22") => FailureClass::Syntax,
        _ if state.starts_with("08") || state.starts_with("28") || state == "57P01" => {
            FailureClass::Connection
        }
        _ => FailureClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_every_occurrence_and_ignores_tiny_secrets() {
        let mut r = Redactor::default();
        r.add("hunter2");
        r.add("x");
        r.add("postgres://u:hunter2@h/db");
        assert_eq!(
            r.apply("bad url postgres://u:hunter2@h/db (hunter2)"),
            "bad url <redacted> (<redacted>)"
        );
        assert_eq!(r.apply("x marks"), "x marks");
        let e = DbError::Connect {
            class: FailureClass::Connection,
            cause: ConnectCause::Authentication,
            message: "password hunter2 refused".into(),
        }
        .redacted(&r);
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn states_and_native_numbers() {
        assert_eq!(classify_state("23505", None), FailureClass::AlreadyExists);
        assert_eq!(
            classify_state("23000", Some(1062)),
            FailureClass::AlreadyExists
        );
        assert_eq!(classify_state("23000", Some(1048)), FailureClass::Syntax);
        assert_eq!(classify_state("23502", None), FailureClass::Syntax);
        assert_eq!(classify_state("23503", None), FailureClass::ForeignKey);
        assert_eq!(
            classify_state("23000", Some(1451)),
            FailureClass::ForeignKey
        );
        assert_eq!(classify_state("22001", None), FailureClass::Syntax);
        assert_eq!(classify_state("40P01", None), FailureClass::Busy);
        assert_eq!(classify_state("08006", None), FailureClass::Connection);
        assert_eq!(classify_state("42601", None), FailureClass::Other);
        assert_eq!(
            classify_state("HY000", Some(1045)),
            FailureClass::Permission
        );
    }
}
