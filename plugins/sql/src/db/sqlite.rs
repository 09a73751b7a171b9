//! SQLite through sqlx: connection-string rules, catalog queries, row decoding, the batch
//! transaction and the mapping of SQLite result codes onto [`FailureClass`].

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
};
use sqlx::{
    ConnectOptions, Connection, Decode, Row, Sqlite, SqliteConnection, SqlitePool, TypeInfo,
    ValueRef,
};

use super::{Check, ColumnInfo, Operation, Outcome};
use crate::error::{DbError, FailureClass};
use crate::sql::{Bind, Statement};
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
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_TOOBIG: i64 = 18;
const SQLITE_CONSTRAINT: i64 = 19;
const SQLITE_MISMATCH: i64 = 20;
const SQLITE_RANGE: i64 = 25;
const SQLITE_NOTADB: i64 = 26;
// Extended constraint codes: the first two mean a duplicate, the last a missing referent.
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

pub(super) async fn connect(connection_string: &str, secret: bool) -> Result<SqlitePool, DbError> {
    let options = options(connection_string, secret)?;
    if !is_in_memory(connection_string) {
        enable_wal(&options).await?;
    }
    SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(connect_error)
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
            Err(e) if classify(&e) == FailureClass::Busy => {
                if Instant::now() >= deadline {
                    return Err(connect_error(e));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Ok(()) | Err(_) => return Ok(()),
        }
    }
}

pub(super) async fn ping(pool: &SqlitePool) -> Result<(), DbError> {
    sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(statement_error)
}

pub(super) async fn tables(pool: &SqlitePool) -> Result<Vec<String>, DbError> {
    sqlx::query_scalar::<_, String>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .map_err(statement_error)
}

pub(super) async fn columns(pool: &SqlitePool, table: &str) -> Result<Vec<ColumnInfo>, DbError> {
    // The table-valued form of the pragma takes the name as a bound parameter.
    let rows = sqlx::query("SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid")
        .bind(table)
        .fetch_all(pool)
        .await
        .map_err(statement_error)?;
    rows.iter()
        .map(|row| {
            Ok(ColumnInfo {
                name: row.try_get("name").map_err(statement_error)?,
                declared_type: row.try_get("type").map_err(statement_error)?,
                primary_key: u32::try_from(row.try_get::<i64, _>("pk").map_err(statement_error)?)
                    .unwrap_or(0),
            })
        })
        .collect()
}

pub(super) async fn fetch(
    pool: &SqlitePool,
    statement: &Statement,
) -> Result<Vec<Vec<Option<Stored>>>, DbError> {
    let rows = query(statement)
        .fetch_all(pool)
        .await
        .map_err(statement_error)?;
    rows.iter().map(|row| read_row(row, row.len())).collect()
}

pub(super) async fn apply_batch(
    pool: &SqlitePool,
    operations: &[Operation],
) -> Result<Vec<Outcome>, DbError> {
    // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a busy
    // database fails the call before any entry ran rather than in the middle of the batch.
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(connect_error)?;
    let mut outcomes = Vec::with_capacity(operations.len());
    for operation in operations {
        control(&mut tx, "SAVEPOINT ecma_entry").await?;
        let outcome = run(&mut tx, operation).await;
        if !matches!(outcome, Outcome::Done { .. }) {
            // If this fails, SQLite has already rolled back the whole transaction (it does so
            // on some I/O and memory errors), and earlier entries are gone with it.
            control(&mut tx, "ROLLBACK TO SAVEPOINT ecma_entry").await?;
        }
        control(&mut tx, "RELEASE SAVEPOINT ecma_entry").await?;
        outcomes.push(outcome);
    }
    tx.commit().await.map_err(statement_error)?;
    Ok(outcomes)
}

async fn control(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), DbError> {
    sqlx::query(sql)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(statement_error)
}

async fn run(conn: &mut SqliteConnection, operation: &Operation) -> Outcome {
    let q = query(&operation.statement);
    let result = match operation.check {
        Check::RowsAffected => q.execute(conn).await.map(|done| {
            if done.rows_affected() == 0 {
                Outcome::NotFound
            } else {
                Outcome::Done {
                    returned: Vec::new(),
                }
            }
        }),
        Check::RowExists => q.fetch_optional(conn).await.map(|row| match row {
            Some(_) => Outcome::Done {
                returned: Vec::new(),
            },
            None => Outcome::NotFound,
        }),
        Check::Returning(n) => match q.fetch_optional(conn).await {
            Ok(Some(row)) => match read_row(&row, n.min(row.len())) {
                // An unaddressable row must not stay: report it so the savepoint is undone.
                Ok(returned) => Ok(match returned.into_iter().collect::<Option<Vec<_>>>() {
                    Some(returned) if returned.len() == n => Outcome::Done { returned },
                    _ => Outcome::NullReturned,
                }),
                Err(e) => return Outcome::Failed(e),
            },
            Ok(None) => Ok(Outcome::NullReturned),
            Err(e) => Err(e),
        },
    };
    result.unwrap_or_else(|e| Outcome::Failed(statement_error(e)))
}

fn query(statement: &Statement) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    statement
        .binds
        .iter()
        .fold(sqlx::query(&statement.sql), |q, bind| match bind {
            Bind::Null(_) => q.bind(None::<String>),
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Integer(i) => q.bind(*i),
            Bind::Real(r) => q.bind(*r),
            Bind::Boolean(b) => q.bind(*b),
            Bind::Blob(b) => q.bind(b.as_slice()),
        })
}

/// The first `width` columns of `row`, each by the storage class SQLite actually used for it:
/// declared column types are only advice in SQLite.
fn read_row(row: &SqliteRow, width: usize) -> Result<Vec<Option<Stored>>, DbError> {
    (0..width)
        .map(|i| {
            let raw = row.try_get_raw(i).map_err(statement_error)?;
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
            stored.map(Some).map_err(|e| DbError::Statement {
                class: FailureClass::Other,
                message: format!("cannot read column {} ({class}): {e}", i + 1),
            })
        })
        .collect()
}

/// The extended SQLite result code of a database error, if it is one.
fn result_code(e: &sqlx::Error) -> Option<i64> {
    e.as_database_error()?.code()?.parse().ok()
}

fn classify(e: &sqlx::Error) -> FailureClass {
    match e {
        sqlx::Error::Database(_) => {
            let code = result_code(e).unwrap_or(0);
            match (code, code & 0xff) {
                (SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE, _) => {
                    FailureClass::AlreadyExists
                }
                (SQLITE_CONSTRAINT_FOREIGNKEY, _) => FailureClass::Other,
                (_, SQLITE_CONSTRAINT | SQLITE_MISMATCH | SQLITE_TOOBIG | SQLITE_RANGE) => {
                    FailureClass::Syntax
                }
                (_, SQLITE_BUSY | SQLITE_LOCKED) => FailureClass::Busy,
                (_, SQLITE_CANTOPEN | SQLITE_NOTADB) => FailureClass::Connection,
                _ => FailureClass::Other,
            }
        }
        sqlx::Error::PoolTimedOut => FailureClass::Busy,
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            FailureClass::Connection
        }
        _ => FailureClass::Other,
    }
}

/// The database's own message, without sqlx's wrapping, for statement failures.
fn message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

fn statement_error(e: sqlx::Error) -> DbError {
    DbError::Statement {
        class: classify(&e),
        message: message(&e),
    }
}

/// Failures to open a connection or a transaction: busy stays busy, everything else is a
/// connection problem.
fn connect_error(e: sqlx::Error) -> DbError {
    let class = match classify(&e) {
        FailureClass::Busy => FailureClass::Busy,
        _ => FailureClass::Connection,
    };
    DbError::Connect {
        class,
        message: message(&e),
    }
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
