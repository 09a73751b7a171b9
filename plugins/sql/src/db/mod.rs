//! The database layer: which driver a connection uses, the pool cache, catalog introspection,
//! reading rows (all at once or as a bounded stream) and applying an export batch.
//!
//! Everything above this module is driver-neutral: it builds [`Statement`]s with the
//! [`Dialect`] of the [`Database`] and gets back rows of [`Stored`] values and typed
//! [`DbError`]s. There are two kinds of drivers:
//!
//! - native, through sqlx with runtime queries: SQLite ([`sqlite`]), PostgreSQL ([`postgres`])
//!   and MySQL/MariaDB ([`mysql`]), sharing the driver-generic code in [`native`], whose
//!   export batches send the rows of new objects as multi-row INSERTs ([`multirow`]);
//! - ODBC ([`odbc`]), for any other database, through unixODBC and a DSN file.
//!
//! Catalog queries (tables, columns, procedures) are SQL per [`Flavor`] in [`catalog`], so a
//! PostgreSQL or MariaDB reached through ODBC is introspected exactly like a native one.

mod catalog;
mod multirow;
mod mysql;
mod native;
mod odbc;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use ecma_plugin_api::Secret;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, OnceCell};

pub(crate) use catalog::{ProcedureParameter, RoutineKind};

use crate::error::{DbError, Redactor};
use crate::sql::{Dialect, Flavor, Insert, Statement};
use crate::values::Stored;

/// One row: one optional value per selected column.
pub(crate) type Row = Vec<Option<Stored>>;

/// A column as the catalog (or a prepared query) declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnInfo {
    pub(crate) name: String,
    /// The declared type, verbatim (may be empty in SQLite).
    pub(crate) declared_type: String,
    /// Position in the primary key, 1-based; 0 when not part of it.
    pub(crate) primary_key: u32,
}

/// Which driver a connection goes through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum DriverKind {
    #[default]
    Sqlite,
    Postgres,
    MySql,
    Odbc,
}

/// TLS for PostgreSQL and MySQL, named after PostgreSQL's `sslmode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum TlsMode {
    Disable,
    /// TLS if the server offers it (the drivers' default).
    #[default]
    Prefer,
    Require,
    /// TLS with the server's certificate checked against the CA file.
    VerifyCa,
    /// As `VerifyCa`, and the host name must match the certificate.
    VerifyFull,
}

/// Everything needed to open a pool: the Connectivity page's answers, resolved.
#[derive(Clone, Default)]
pub(crate) struct ConnectionSpec {
    pub(crate) driver: DriverKind,
    pub(crate) connection_string: Option<String>,
    /// The connection string was answered as a secret: no error may repeat any part of it.
    pub(crate) connection_string_secret: bool,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) database: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) tls: Option<TlsMode>,
    pub(crate) tls_ca: Option<PathBuf>,
    pub(crate) dsn_file: Option<PathBuf>,
    /// The SQL flavor of the database behind an ODBC data source; `None` detects it.
    pub(crate) odbc_flavor: Option<Flavor>,
    pub(crate) pool_size: Option<u32>,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may embed a password, so it is never shown.
        f.debug_struct("ConnectionSpec")
            .field("driver", &self.driver)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("tls", &self.tls)
            .field("dsn_file", &self.dsn_file)
            .finish_non_exhaustive()
    }
}

impl ConnectionSpec {
    /// The pool cache key: a digest of every setting, so that a changed password opens a new
    /// pool, and no credential sits in the cache's keys.
    fn key(&self) -> String {
        let mut hash = Sha256::new();
        let mut field = |v: &[u8]| {
            hash.update((v.len() as u64).to_le_bytes());
            hash.update(v);
        };
        field(format!("{:?}", self.driver).as_bytes());
        field(self.connection_string.as_deref().unwrap_or("").as_bytes());
        field(self.host.as_deref().unwrap_or("").as_bytes());
        field(&self.port.unwrap_or(0).to_le_bytes());
        field(self.database.as_deref().unwrap_or("").as_bytes());
        field(self.user.as_deref().unwrap_or("").as_bytes());
        field(self.password.as_ref().map_or("", |p| p.expose()).as_bytes());
        field(format!("{:?}", self.tls).as_bytes());
        field(
            self.tls_ca
                .as_deref()
                .map_or(&[][..], |p| p.as_os_str().as_encoded_bytes()),
        );
        field(
            self.dsn_file
                .as_deref()
                .map_or(&[][..], |p| p.as_os_str().as_encoded_bytes()),
        );
        field(format!("{:?}", self.odbc_flavor).as_bytes());
        field(&self.pool_size.unwrap_or(0).to_le_bytes());
        hex::encode(hash.finalize())
    }

    /// The secrets this spec holds, for scrubbing driver messages.
    pub(crate) fn redactor(&self) -> Redactor {
        let mut r = Redactor::default();
        if let Some(password) = &self.password {
            r.add(password.expose());
        }
        if let Some(cs) = &self.connection_string {
            if self.connection_string_secret {
                r.add(cs);
            }
            // A URL's user-info password (`scheme://user:password@host`).
            if let Some((_, rest)) = cs.split_once("://") {
                if let Some((userinfo, _)) = rest.split_once('@') {
                    if let Some((_, password)) = userinfo.split_once(':') {
                        r.add(password);
                    }
                }
            }
            // An ODBC-style `PWD=...;` or `password=...` pair.
            for pair in cs.split([';', ' ', '&', '?']) {
                if let Some((k, v)) = pair.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("pwd")
                        || k.trim().eq_ignore_ascii_case("password")
                    {
                        r.add(v.trim_matches(['{', '}']));
                    }
                }
            }
        }
        r
    }

    fn max_connections(&self, default: u32) -> u32 {
        self.pool_size.filter(|n| *n > 0).unwrap_or(default)
    }
}

/// How an export step's success is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Run it; success is enough.
    None,
    /// At least one row must be affected, else the object does not exist.
    RowsAffected,
    /// The statement is a lookup that must return a row.
    RowExists,
    /// The statement is a lookup that must return no row, else the object exists already
    /// (a rename onto another object's anchor).
    RowAbsent,
    /// The statement returns one row whose first `n` columns the caller wants back; a NULL
    /// among them fails the operation.
    Returning(usize),
    /// The database assigned an auto-increment key (MySQL has no `RETURNING`): report it.
    LastInsertId,
}

/// One statement of an export entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Step {
    pub(crate) statement: Statement,
    pub(crate) check: Check,
    /// The same statement as rows of a table, when it is a plain INSERT: rows that the
    /// optimistic pass of a batch may send together with other entries' (see [`multirow`]).
    pub(crate) insert: Option<Insert>,
}

impl Step {
    pub(crate) fn new(statement: Statement, check: Check) -> Self {
        Self {
            statement,
            check,
            insert: None,
        }
    }

    /// A step that inserts `insert`'s rows.
    pub(crate) fn insert(dialect: Dialect, insert: Insert, check: Check) -> Self {
        Self {
            statement: insert.statement(dialect),
            check,
            insert: Some(insert),
        }
    }
}

/// One export entry: its statements, run in order within one savepoint. The first step is the
/// object's own statement: what it returns is what [`crate::sql::Bind::Returned`] means in the
/// later ones (child-table rows of a new object whose key the database assigned).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Operation {
    pub(crate) steps: Vec<Step>,
}

/// What happened to one operation of a batch. Failed operations were rolled back alone.
#[derive(Debug)]
pub(crate) enum Outcome {
    Done {
        returned: Vec<Stored>,
    },
    NotFound,
    /// A [`Check::RowAbsent`] lookup found a row.
    Exists,
    /// A [`Check::Returning`] statement produced no row or a NULL.
    NullReturned,
    Failed(DbError),
}

/// Rows produced by a query running in the background, in chunks; the channel is bounded, so
/// the producer waits while the consumer is behind and memory stays flat whatever the size of
/// the result. Dropping the stream stops the producer.
pub(crate) struct RowStream {
    rx: mpsc::Receiver<Result<Vec<Row>, DbError>>,
}

impl RowStream {
    /// Chunks buffered ahead of the consumer.
    const DEPTH: usize = 2;

    fn channel() -> (mpsc::Sender<Result<Vec<Row>, DbError>>, Self) {
        let (tx, rx) = mpsc::channel(Self::DEPTH);
        (tx, Self { rx })
    }

    /// The next chunk; `None` when the query has no more rows.
    pub(crate) async fn next(&mut self) -> Option<Result<Vec<Row>, DbError>> {
        self.rx.recv().await
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    Odbc(Arc<odbc::OdbcPool>),
}

/// A connection pool to one database, with the SQL dialect to speak to it.
#[derive(Clone)]
pub(crate) struct Database {
    backend: Backend,
    dialect: Dialect,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({:?})", self.dialect.flavor)
    }
}

impl Database {
    /// Open a pool for `spec`; every error message is scrubbed of the spec's secrets.
    async fn connect(spec: &ConnectionSpec) -> Result<Self, DbError> {
        let redactor = spec.redactor();
        let opened = match spec.driver {
            DriverKind::Sqlite => sqlite::connect(spec).await.map(|pool| Database {
                backend: Backend::Sqlite(pool),
                dialect: Dialect::SQLITE,
            }),
            DriverKind::Postgres => postgres::connect(spec).await.map(|pool| Database {
                backend: Backend::Postgres(pool),
                dialect: Dialect::POSTGRES,
            }),
            DriverKind::MySql => mysql::connect(spec).await.map(|pool| Database {
                backend: Backend::MySql(pool),
                dialect: Dialect::MYSQL,
            }),
            DriverKind::Odbc => odbc::OdbcPool::connect(spec).await.map(|pool| Database {
                dialect: pool.dialect(),
                backend: Backend::Odbc(pool),
            }),
        };
        opened.map_err(|e| e.redacted(&redactor))
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn flavor(&self) -> Flavor {
        self.dialect.flavor
    }

    /// Whether this is an ODBC connection (some features need the native drivers).
    pub(crate) fn is_odbc(&self) -> bool {
        matches!(self.backend, Backend::Odbc(_))
    }

    /// Run a trivial query to prove the database answers.
    pub(crate) async fn ping(&self) -> Result<(), DbError> {
        self.fetch(&Statement::plain("SELECT 1")).await.map(|_| ())
    }

    /// Run a query and return all its rows. For small results only (catalog, lookups).
    pub(crate) async fn fetch(&self, statement: &Statement) -> Result<Vec<Row>, DbError> {
        match &self.backend {
            Backend::Sqlite(pool) => native::fetch(pool, statement).await,
            Backend::Postgres(pool) => native::fetch(pool, statement).await,
            Backend::MySql(pool) => native::fetch(pool, statement).await,
            Backend::Odbc(pool) => pool.fetch(statement.clone()).await,
        }
    }

    /// Run one statement in its own transaction; returns the rows it affected.
    pub(crate) async fn execute(&self, statement: &Statement) -> Result<u64, DbError> {
        match &self.backend {
            Backend::Sqlite(pool) => native::execute(pool, statement).await,
            Backend::Postgres(pool) => native::execute(pool, statement).await,
            Backend::MySql(pool) => native::execute(pool, statement).await,
            Backend::Odbc(pool) => pool.execute(statement.clone()).await,
        }
    }

    /// Run DDL (several statements allowed, no parameters) outside prepared statements: MySQL
    /// cannot prepare `CREATE TRIGGER`.
    pub(crate) async fn execute_script(&self, sql: &str) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite(pool) => native::execute_script(pool, sql).await,
            Backend::Postgres(pool) => native::execute_script(pool, sql).await,
            Backend::MySql(pool) => native::execute_script(pool, sql).await,
            Backend::Odbc(pool) => pool.execute(Statement::plain(sql)).await.map(|_| ()),
        }
    }

    /// Start `statement` in the background and stream its rows in chunks of `chunk` rows.
    /// Must be called on the connector's runtime.
    pub(crate) fn stream(&self, statement: Statement, chunk: usize) -> Result<RowStream, DbError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| DbError::other("no runtime to run the query on"))?;
        let (tx, stream) = RowStream::channel();
        let chunk = chunk.max(1);
        match &self.backend {
            Backend::Sqlite(pool) => {
                handle.spawn(native::stream(pool.clone(), statement, chunk, tx));
            }
            Backend::Postgres(pool) => {
                handle.spawn(native::stream(pool.clone(), statement, chunk, tx));
            }
            Backend::MySql(pool) => {
                handle.spawn(native::stream(pool.clone(), statement, chunk, tx));
            }
            Backend::Odbc(pool) => {
                let pool = pool.clone();
                handle.spawn(async move { pool.stream(statement, chunk, tx).await });
            }
        }
        Ok(stream)
    }

    /// Apply `operations` in one transaction, each isolated so that its failure undoes only
    /// itself. `Err` means the batch as a whole failed and nothing was committed. The native
    /// drivers send the row inserts of consecutive new objects as multi-row INSERTs.
    pub(crate) async fn apply_batch(
        &self,
        operations: &[Operation],
    ) -> Result<Vec<Outcome>, DbError> {
        match &self.backend {
            // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a
            // busy database fails the call before any entry ran rather than mid-batch.
            Backend::Sqlite(pool) => {
                native::apply_batch(pool, self.dialect, Some("BEGIN IMMEDIATE"), operations).await
            }
            Backend::Postgres(pool) => {
                native::apply_batch(pool, self.dialect, None, operations).await
            }
            Backend::MySql(pool) => native::apply_batch(pool, self.dialect, None, operations).await,
            Backend::Odbc(pool) => pool.apply_batch(operations.to_vec()).await,
        }
    }

    /// The result columns of `sql` (a view's or a query's), without running it.
    pub(crate) async fn describe(&self, sql: &str) -> Result<Vec<ColumnInfo>, DbError> {
        match &self.backend {
            Backend::Sqlite(pool) => native::describe(pool, sql).await,
            Backend::Postgres(pool) => native::describe(pool, sql).await,
            Backend::MySql(pool) => mysql::describe(pool, sql).await,
            Backend::Odbc(pool) => pool.describe(sql.to_string()).await,
        }
    }
}

/// Pools by connection settings, so that passing the parameter answers with every call (ECMA2
/// style) does not mean a reconnect per call.
#[derive(Default)]
pub(crate) struct Pools {
    pools: Mutex<HashMap<String, Arc<OnceCell<Database>>>>,
}

impl Pools {
    /// The pool for `spec`, opened on first use. Concurrent first calls share one attempt; a
    /// failed attempt is not remembered, so the next call tries again.
    pub(crate) async fn get(&self, spec: &ConnectionSpec) -> Result<Database, DbError> {
        let cell = {
            let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
            pools.entry(spec.key()).or_default().clone()
        };
        cell.get_or_try_init(|| Database::connect(spec))
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_differ_by_password_and_never_show_it() {
        let a = ConnectionSpec {
            driver: DriverKind::Postgres,
            password: Some(Secret::new("hunter2")),
            connection_string: Some("postgres://u:s3cr3t@h/db".into()),
            ..ConnectionSpec::default()
        };
        let b = ConnectionSpec {
            password: Some(Secret::new("hunter3")),
            ..a.clone()
        };
        assert_ne!(a.key(), b.key());
        assert!(!a.key().contains("hunter2"));
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        let r = a.redactor();
        assert_eq!(r.apply("s3cr3t and hunter2"), "<redacted> and <redacted>");
        let odbc = ConnectionSpec {
            connection_string: Some("DRIVER={X};UID=u;PWD={p@ss;word}".into()),
            ..ConnectionSpec::default()
        };
        assert!(!odbc.redactor().apply("p@ss").contains("p@ss"));
    }
}
