//! SQLite through sqlx: connection-string rules, WAL set-up, value binding, row decoding by
//! storage class, and the mapping of SQLite result codes onto [`FailureClass`].
//!
//! The workspace links the system's shared libsqlite3 (`sqlite-unbundled`): the host and every
//! loaded plugin version must share one SQLite, or their POSIX locks break each other's.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteRow,
};
use sqlx::{ConnectOptions, Connection, Decode, Row as _, Sqlite, SqlitePool, TypeInfo, ValueRef};

use super::native::{classify_transport, connect_error, Native};
use super::{ConnectionSpec, Row};
use crate::error::{DbError, FailureClass};
use crate::sql::Bind;
use crate::values::Stored;

/// How long a writer waits for another writer's lock before SQLite reports SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call waits for a free pooled connection before it is reported as busy.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite has one writer at a time; a few connections let imports read while a batch writes.
const MAX_CONNECTIONS: u32 = 4;

// Primary result codes (the low byte of an extended code). https://www.sqlite.org/rescode.html
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_PERM: i64 = 3;
const SQLITE_READONLY: i64 = 8;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_TOOBIG: i64 = 18;
const SQLITE_CONSTRAINT: i64 = 19;
const SQLITE_MISMATCH: i64 = 20;
const SQLITE_RANGE: i64 = 25;
const SQLITE_NOTADB: i64 = 26;
// Extended constraint codes that mean a duplicate.
const SQLITE_CONSTRAINT_PRIMARYKEY: i64 = 1555;
const SQLITE_CONSTRAINT_UNIQUE: i64 = 2067;
const SQLITE_CONSTRAINT_FOREIGNKEY: i64 = 787;

/// Connection options for `connection_string`, refusing a database file that does not exist.
///
/// Accepted: `sqlite:` URLs as sqlx reads them (`sqlite:///abs.db`, `sqlite://rel.db`,
/// `sqlite:file.db?mode=ro`, `sqlite::memory:`) and plain file paths.
fn options(connection_string: &str, secret: bool) -> Result<SqliteConnectOptions, DbError> {
    let s = connection_string.trim();
    let options = if s.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(s).map_err(|e| {
            DbError::InvalidConnectionString(if secret {
                "not a valid SQLite URL".into()
            } else {
                e.to_string()
            })
        })?
    } else if let Some((scheme, _)) = s.split_once("://") {
        // Only a well-formed scheme is repeated: anything else may be part of a credential.
        let plain = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        let shown = if plain && !secret { scheme } else { "?" };
        return Err(DbError::UnsupportedScheme(shown.to_string()));
    } else {
        SqliteConnectOptions::new().filename(s)
    };
    let in_memory = is_in_memory(s);
    // sqlx would create the file only if asked to; checking first gives the administrator a
    // message naming the path instead of SQLite's "unable to open database file".
    if !in_memory && !Path::new(options.get_filename()).is_file() {
        return Err(if secret {
            DbError::MissingSecretFile
        } else {
            DbError::MissingFile(options.get_filename().to_path_buf())
        });
    }
    Ok(options.create_if_missing(false).busy_timeout(BUSY_TIMEOUT))
}

fn is_in_memory(connection_string: &str) -> bool {
    connection_string.contains(":memory:") || connection_string.contains("mode=memory")
}

pub(super) async fn connect(spec: &ConnectionSpec) -> Result<SqlitePool, DbError> {
    // A plain file path may also be given as the database name.
    let (connection_string, secret) = match (&spec.connection_string, &spec.database) {
        (Some(cs), _) => (cs.as_str(), spec.connection_string_secret),
        (None, Some(path)) => (path.as_str(), false),
        (None, None) => {
            return Err(DbError::InvalidConnectionString(
                "SQLite needs a connection string or a database file".into(),
            ))
        }
    };
    let options = options(connection_string, secret)?;
    if !is_in_memory(connection_string) {
        enable_wal(&options).await?;
    }
    SqlitePoolOptions::new()
        .max_connections(spec.max_connections(MAX_CONNECTIONS))
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(connect_error::<Sqlite>)
}

/// Put the database file into WAL mode, so that imports read while a batch writes.
///
/// WAL is a property of the file, so it is switched on once, on a connection of its own, and
/// not by every pooled connection: connections switching at the same time race for an
/// exclusive lock, and SQLite reports that as SQLITE_BUSY without waiting for the busy timeout.
/// Busy is retried until the busy timeout; any other failure (a read-only file, say) is left
/// for the pool's own connection to report, or to live with in the file's journal mode.
async fn enable_wal(options: &SqliteConnectOptions) -> Result<(), DbError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(10);
    loop {
        let attempt = async {
            let conn = options
                .clone()
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await?;
            conn.close().await
        };
        match attempt.await {
            Err(e) if <Sqlite as Native>::classify(&e) == FailureClass::Busy => {
                if Instant::now() >= deadline {
                    return Err(connect_error::<Sqlite>(e));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Ok(()) | Err(_) => return Ok(()),
        }
    }
}

/// Dates and times are stored as ISO 8601 text, as SQLite's date functions expect.
const TIMESTAMP_TEXT: &str = "%Y-%m-%d %H:%M:%S%.f";

impl Native for Sqlite {
    fn bind<'q>(
        q: Query<'q, Sqlite, SqliteArguments<'q>>,
        value: &'q Bind,
    ) -> Query<'q, Sqlite, SqliteArguments<'q>> {
        match value {
            Bind::Null(_) | Bind::Returned => q.bind(None::<String>),
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Integer(i) => q.bind(*i),
            Bind::Real(r) => q.bind(*r),
            Bind::Boolean(b) => q.bind(*b),
            Bind::Blob(b) => q.bind(b.as_slice()),
            Bind::Timestamp(t) => q.bind(t.format(TIMESTAMP_TEXT).to_string()),
            Bind::TimestampTz(t) => q.bind(t.naive_utc().format(TIMESTAMP_TEXT).to_string()),
            Bind::Date(d) => q.bind(d.format("%Y-%m-%d").to_string()),
            Bind::Time(t) => q.bind(t.format("%H:%M:%S%.f").to_string()),
        }
    }

    /// Each column by the storage class SQLite actually used for it: declared column types are
    /// only advice in SQLite.
    fn read_row(row: &SqliteRow) -> Result<Row, DbError> {
        (0..row.len())
            .map(|i| {
                let raw = row
                    .try_get_raw(i)
                    .map_err(super::native::statement_error::<Sqlite>)?;
                if raw.is_null() {
                    return Ok(None);
                }
                let class = raw.type_info().name().to_string();
                let stored = match class.as_str() {
                    "INTEGER" => <i64 as Decode<Sqlite>>::decode(raw).map(Stored::Integer),
                    "REAL" => <f64 as Decode<Sqlite>>::decode(raw).map(Stored::Real),
                    "BLOB" => <Vec<u8> as Decode<Sqlite>>::decode(raw).map(Stored::Blob),
                    _ => <String as Decode<Sqlite>>::decode(raw).map(Stored::Text),
                };
                stored.map(Some).map_err(|e| {
                    DbError::other(format!("cannot read column {} ({class}): {e}", i + 1))
                })
            })
            .collect()
    }

    fn classify(e: &sqlx::Error) -> FailureClass {
        if let sqlx::Error::Database(_) = e {
            let code = result_code(e).unwrap_or(0);
            return match (code, code & 0xff) {
                (SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE, _) => {
                    FailureClass::AlreadyExists
                }
                (SQLITE_CONSTRAINT_FOREIGNKEY, _) => FailureClass::ForeignKey,
                (_, SQLITE_CONSTRAINT | SQLITE_MISMATCH | SQLITE_TOOBIG | SQLITE_RANGE) => {
                    FailureClass::Syntax
                }
                (_, SQLITE_BUSY | SQLITE_LOCKED) => FailureClass::Busy,
                (_, SQLITE_PERM | SQLITE_READONLY) => FailureClass::Permission,
                (_, SQLITE_CANTOPEN | SQLITE_NOTADB) => FailureClass::Connection,
                _ => FailureClass::Other,
            };
        }
        classify_transport(e).unwrap_or(FailureClass::Other)
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn last_insert_id(result: &SqliteQueryResult) -> Option<i64> {
        Some(result.last_insert_rowid())
    }

    /// `SQLITE_MAX_VARIABLE_NUMBER` since SQLite 3.32 (RETURNING, which the connector
    /// relies on, came in 3.35).
    const MAX_PARAMETERS: usize = 32766;

    const INSERTS_IN_WITH: bool = false;
}

/// The extended SQLite result code of a database error, if it is one.
fn result_code(e: &sqlx::Error) -> Option<i64> {
    e.as_database_error()?.code()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.db");
        let missing = dir.path().join("missing.db");
        std::fs::write(&file, b"").unwrap();

        for s in [
            file.display().to_string(),
            format!("sqlite://{}", file.display()),
            format!("sqlite:{}", file.display()),
        ] {
            assert_eq!(
                options(&s, false).unwrap().get_filename(),
                file.as_path(),
                "{s}"
            );
        }
        let err = options(&format!("sqlite://{}", missing.display()), false).unwrap_err();
        assert!(err.to_string().contains("missing.db"), "{err}");
        let err = options(&missing.display().to_string(), true).unwrap_err();
        assert!(!err.to_string().contains("missing.db"), "{err}");
        let err = options("postgres://user:hunter2@db/x", false).unwrap_err();
        assert!(matches!(err, DbError::UnsupportedScheme(ref s) if s == "postgres"));
        assert!(!err.to_string().contains("hunter2"));
        assert!(options("sqlite::memory:", false).is_ok());
        let err = options("sqlite://surely-missing-ecma-test.db", false).unwrap_err();
        assert!(
            err.to_string().contains("surely-missing-ecma-test.db"),
            "{err}"
        );
        assert!(!Path::new("surely-missing-ecma-test.db").exists());
    }
}
