//! The part of the sqlx drivers that does not depend on the database: running statements,
//! streaming rows into a bounded channel, describing a query, and the batch transaction (with
//! a savepoint per entry when an entry fails).
//!
//! Each native driver implements [`Native`] (how to bind a value, decode a row and classify an
//! error); the functions here are generic over it, so SQLite, PostgreSQL and MySQL share one
//! implementation of the export transaction.

use futures_util::TryStreamExt;
use sqlx::query::Query;
use sqlx::{Column, Executor, IntoArguments, Pool, TypeInfo};
use tokio::sync::mpsc;

use super::multirow::{self, Unit};
use super::{Check, ColumnInfo, Operation, Outcome, Row};
use std::time::Duration;

use crate::error::{ConnectCause, DbError, FailureClass};
use crate::sql::{Bind, Dialect, Statement};
use crate::values::Stored;

/// What a native driver adds to sqlx's `Database`.
pub(super) trait Native: sqlx::Database {
    fn bind<'q>(
        query: Query<'q, Self, <Self as sqlx::Database>::Arguments<'q>>,
        value: &'q Bind,
    ) -> Query<'q, Self, <Self as sqlx::Database>::Arguments<'q>>;

    /// Every column of `row`, decoded by the type the database reports for it.
    fn read_row(row: &Self::Row) -> Result<Row, DbError>;

    fn classify(e: &sqlx::Error) -> FailureClass;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The key an auto-increment column got from the last insert, where the driver knows it.
    fn last_insert_id(result: &Self::QueryResult) -> Option<i64>;

    /// The most parameters one statement may bind.
    const MAX_PARAMETERS: usize;

    /// Whether the database runs INSERTs in `WITH` ([`crate::sql::Insert::tagged_statement`]),
    /// so that a multi-row insert can tell which entry each assigned key belongs to.
    const INSERTS_IN_WITH: bool;
}

fn query<DB: Native>(statement: &Statement) -> Query<'_, DB, DB::Arguments<'_>> {
    statement
        .binds
        .iter()
        .fold(sqlx::query(&statement.sql), |q, value| DB::bind(q, value))
}

/// The database's own message, without sqlx's wrapping.
pub(super) fn message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

pub(super) fn statement_error<DB: Native>(e: sqlx::Error) -> DbError {
    DbError::Statement {
        class: DB::classify(&e),
        message: message(&e),
    }
}

/// Failures to open a connection or a transaction: busy stays busy, everything else is a
/// connection problem.
pub(super) fn connect_error<DB: Native>(e: sqlx::Error) -> DbError {
    let class = match DB::classify(&e) {
        FailureClass::Busy => FailureClass::Busy,
        _ => FailureClass::Connection,
    };
    DbError::Connect {
        class,
        cause: ConnectCause::Other,
        message: message(&e),
    }
}

/// How long the first connection to a server may take before the connector says so: long
/// enough for a slow network, short enough that a wizard page does not seem to hang.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a connection goes, for messages: never a password.
pub(super) struct Target {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) database: Option<String>,
    pub(super) user: String,
}

impl Target {
    pub(super) fn new(host: &str, port: u16, database: Option<&str>, user: &str) -> Self {
        Self {
            host: host.to_string(),
            port,
            database: database.map(str::to_string),
            user: user.to_string(),
        }
    }

    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Why the server refused the sign-in or the database, from its SQLSTATE (PostgreSQL) or error
/// number (MySQL and MariaDB).
fn server_cause(state: Option<&str>, native: Option<i64>) -> Option<ConnectCause> {
    match (state, native) {
        (_, Some(1045 | 1698)) | (Some("28P01" | "28000"), _) => Some(ConnectCause::Authentication),
        (_, Some(1049)) | (Some("3D000"), _) => Some(ConnectCause::DatabaseMissing),
        _ => None,
    }
}

/// The first connection's failure, explained: what was tried (host, port, database, user) and
/// which answer to check.
pub(super) fn explain_connect_failure(
    e: &sqlx::Error,
    target: &Target,
    native: Option<i64>,
) -> DbError {
    let address = target.address();
    let detail = message(e);
    let (cause, text) = match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => (
            ConnectCause::Refused,
            format!(
                "{address} refused the connection ({detail}): is the database server running \
                 and listening on port {}? Check `host` and `port`",
                target.port
            ),
        ),
        sqlx::Error::Io(io)
            if io.to_string().contains("lookup address")
                || io.to_string().contains("Name or service not known") =>
        {
            (
                ConnectCause::HostName,
                format!(
                    "the host name `{}` does not resolve ({detail}); check `host`",
                    target.host
                ),
            )
        }
        // A failed certificate check during the handshake reaches sqlx as an I/O error.
        sqlx::Error::Tls(_) => (
            ConnectCause::Tls,
            format!("TLS with {address} failed ({detail}); check `tls_mode` and `tls_ca_file`"),
        ),
        sqlx::Error::Io(io) if is_tls_failure(io) => (
            ConnectCause::Tls,
            format!("TLS with {address} failed ({detail}); check `tls_mode` and `tls_ca_file`"),
        ),
        _ => {
            let state = e.as_database_error().and_then(|d| d.code());
            match server_cause(state.as_deref(), native) {
                Some(ConnectCause::Authentication) => (
                    ConnectCause::Authentication,
                    format!(
                        "{address} refused the sign-in of user `{}` ({detail}); check `user` and `password`",
                        target.user
                    ),
                ),
                Some(cause) => (
                    cause,
                    format!(
                        "{address} has no database `{}` ({detail}); check `database` (or the connection string's path)",
                        target.database.as_deref().unwrap_or("")
                    ),
                ),
                None => (ConnectCause::Other, format!("{address}: {detail}")),
            }
        }
    };
    DbError::Connect {
        class: match DB_BUSY.contains(&state_of(e).as_deref().unwrap_or("")) {
            true => FailureClass::Busy,
            false => FailureClass::Connection,
        },
        cause,
        message: text,
    }
}

/// Whether an I/O error of the first connection is the TLS handshake's (rustls reports a
/// refused certificate as invalid data: "invalid peer certificate: UnknownIssuer").
fn is_tls_failure(io: &std::io::Error) -> bool {
    let text = io.to_string().to_ascii_lowercase();
    io.kind() == std::io::ErrorKind::InvalidData
        && ["certificate", "handshake", "tls"]
            .iter()
            .any(|w| text.contains(w))
}

/// Connect-phase states that mean "try again later".
const DB_BUSY: [&str; 2] = ["53300", "57P03"];

fn state_of(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// Open the first connection directly, within [`CONNECT_TIMEOUT`], so that a failure is the
/// driver's own error at once (a pool retries a refused connection until its acquire time-out
/// and then reports only "pool timed out"); then the pool, which opens the others as needed.
pub(super) async fn open_pool<DB>(
    options: <DB::Connection as sqlx::Connection>::Options,
    pool: sqlx::pool::PoolOptions<DB>,
    target: &Target,
    native: impl Fn(&sqlx::Error) -> Option<i64>,
) -> Result<Pool<DB>, DbError>
where
    DB: Native,
{
    use sqlx::ConnectOptions;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => Err(DbError::Connect {
            class: FailureClass::Connection,
            cause: ConnectCause::TimedOut,
            message: format!(
                "no answer from {} within {} s: check `host` and `port`, and that no firewall drops the connection",
                target.address(),
                CONNECT_TIMEOUT.as_secs()
            ),
        }),
        Ok(Err(e)) => Err(explain_connect_failure(&e, target, native(&e))),
        Ok(Ok(first)) => {
            let _ = sqlx::Connection::close(first).await;
            Ok(pool.connect_lazy_with(options))
        }
    }
}

/// The classes every sqlx driver shares, for errors that did not come from the database.
pub(super) fn classify_transport(e: &sqlx::Error) -> Option<FailureClass> {
    match e {
        sqlx::Error::PoolTimedOut => Some(FailureClass::Busy),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Some(FailureClass::Connection),
        sqlx::Error::Database(db) => match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => Some(FailureClass::AlreadyExists),
            sqlx::error::ErrorKind::NotNullViolation | sqlx::error::ErrorKind::CheckViolation => {
                Some(FailureClass::Syntax)
            }
            sqlx::error::ErrorKind::ForeignKeyViolation => Some(FailureClass::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

pub(super) async fn fetch<DB>(pool: &Pool<DB>, statement: &Statement) -> Result<Vec<Row>, DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let rows = query::<DB>(statement)
        .fetch_all(pool)
        .await
        .map_err(statement_error::<DB>)?;
    rows.iter().map(DB::read_row).collect()
}

pub(super) async fn execute<DB>(pool: &Pool<DB>, statement: &Statement) -> Result<u64, DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    query::<DB>(statement)
        .execute(pool)
        .await
        .map(|done| DB::rows_affected(&done))
        .map_err(statement_error::<DB>)
}

pub(super) async fn execute_script<DB>(pool: &Pool<DB>, sql: &str) -> Result<(), DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(statement_error::<DB>)
}

/// Run `statement` and send its rows to `tx` in chunks. Stops early, returning the connection
/// to the pool, as soon as the receiving [`super::RowStream`] is dropped.
pub(super) async fn stream<DB>(
    pool: Pool<DB>,
    statement: Statement,
    chunk: usize,
    tx: mpsc::Sender<Result<Vec<Row>, DbError>>,
) where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut rows = query::<DB>(&statement).fetch(&pool);
    let mut buffer = Vec::with_capacity(chunk);
    loop {
        let row = match rows.try_next().await {
            Ok(Some(row)) => DB::read_row(&row),
            Ok(None) => break,
            Err(e) => Err(statement_error::<DB>(e)),
        };
        match row {
            Ok(row) => buffer.push(row),
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
        if buffer.len() >= chunk {
            let full = std::mem::replace(&mut buffer, Vec::with_capacity(chunk));
            if tx.send(Ok(full)).await.is_err() {
                return;
            }
        }
    }
    if !buffer.is_empty() {
        let _ = tx.send(Ok(buffer)).await;
    }
}

/// The result columns of `sql`, from a prepared statement.
pub(super) async fn describe<DB>(pool: &Pool<DB>, sql: &str) -> Result<Vec<ColumnInfo>, DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    use sqlx::Statement as _;
    let prepared = pool.prepare(sql).await.map_err(statement_error::<DB>)?;
    Ok(prepared
        .columns()
        .iter()
        .map(|c| ColumnInfo {
            name: c.name().to_string(),
            declared_type: c.type_info().name().to_string(),
            primary_key: 0,
        })
        .collect())
}

/// Apply a batch in one transaction with a result per entry.
///
/// A savepoint costs two round trips per entry, and most batches succeed whole, so the batch
/// first runs without any, and the row inserts of consecutive new objects go as multi-row
/// statements ([`multirow`]). If anything does not succeed, that attempt is rolled back and
/// the batch runs again entry by entry, with a savepoint around each, so that a failure
/// undoes only itself. Either way the results are the same; only a batch with a failure pays
/// twice.
pub(super) async fn apply_batch<DB>(
    pool: &Pool<DB>,
    dialect: Dialect,
    begin: Option<&'static str>,
    operations: &[Operation],
) -> Result<Vec<Outcome>, DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    {
        let mut tx = start::<DB>(pool, begin).await?;
        let mut outcomes = Vec::with_capacity(operations.len());
        let mut clean = true;
        for unit in multirow::units(operations, DB::INSERTS_IN_WITH) {
            match unit {
                Unit::One(operation) => {
                    let outcome = run::<DB>(&mut tx, operation).await;
                    clean = matches!(outcome, Outcome::Done { .. });
                    outcomes.push(outcome);
                }
                Unit::Run(run) => match run_rows::<DB>(&mut tx, dialect, run).await {
                    Some(done) => outcomes.extend(done),
                    None => clean = false,
                },
            }
            if !clean {
                break;
            }
        }
        if clean {
            tx.commit().await.map_err(statement_error::<DB>)?;
            return Ok(outcomes);
        }
        tx.rollback().await.map_err(statement_error::<DB>)?;
        if operations.len() == 1 {
            // The rollback undid exactly the one failed entry: its outcome stands.
            return Ok(outcomes);
        }
    }
    let mut tx = start::<DB>(pool, begin).await?;
    let mut outcomes = Vec::with_capacity(operations.len());
    for operation in operations {
        control::<DB>(&mut tx, "SAVEPOINT ecma_entry").await?;
        let outcome = run::<DB>(&mut tx, operation).await;
        if !matches!(outcome, Outcome::Done { .. }) {
            // If this fails, the database has already rolled back the whole transaction (SQLite
            // on some I/O errors, MySQL on a deadlock), and earlier entries are gone with it.
            control::<DB>(&mut tx, "ROLLBACK TO SAVEPOINT ecma_entry").await?;
        }
        control::<DB>(&mut tx, "RELEASE SAVEPOINT ecma_entry").await?;
        outcomes.push(outcome);
    }
    tx.commit().await.map_err(statement_error::<DB>)?;
    Ok(outcomes)
}

async fn start<DB>(
    pool: &Pool<DB>,
    begin: Option<&'static str>,
) -> Result<sqlx::Transaction<'static, DB>, DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    match begin {
        Some(sql) => pool.begin_with(sql).await,
        None => pool.begin().await,
    }
    .map_err(connect_error::<DB>)
}

async fn control<DB>(conn: &mut DB::Connection, sql: &'static str) -> Result<(), DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    sqlx::query::<DB>(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(statement_error::<DB>)
}

/// A run of new objects ([`Unit::Run`]) as multi-row INSERTs: the objects' rows, then their
/// child rows. `None` if a statement failed or did not insert or return exactly one row per
/// row sent: the caller then rolls back and goes entry by entry, which says which entry failed
/// and why.
async fn run_rows<DB>(
    conn: &mut DB::Connection,
    dialect: Dialect,
    run: &[Operation],
) -> Option<Vec<Outcome>>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut returned: Vec<Option<Stored>> = vec![None; run.len()];
    for chunk in multirow::object_rows(dialect, run, DB::MAX_PARAMETERS) {
        if chunk.tagged {
            let rows = query::<DB>(&chunk.statement)
                .fetch_all(&mut *conn)
                .await
                .ok()?;
            for row in &rows {
                let mut values = DB::read_row(row).ok()?.into_iter();
                let (Some(Some(Stored::Integer(position))), Some(Some(key))) =
                    (values.next(), values.next())
                else {
                    return None;
                };
                let owner = *chunk.owners.get(usize::try_from(position).ok()?)?;
                if returned.get_mut(owner)?.replace(key).is_some() {
                    return None;
                }
            }
        } else {
            let done = query::<DB>(&chunk.statement)
                .execute(&mut *conn)
                .await
                .ok()?;
            if DB::rows_affected(&done) != u64::try_from(chunk.owners.len()).ok()? {
                return None;
            }
        }
    }
    let every_key = run
        .iter()
        .zip(&returned)
        .all(|(operation, key)| key.is_some() || !multirow::assigns_key(operation));
    if !every_key {
        return None;
    }
    let keys: Vec<Option<Bind>> = returned
        .iter()
        .map(|key| key.as_ref().map(Stored::to_bind))
        .collect();
    for chunk in multirow::child_rows(dialect, run, &keys, DB::MAX_PARAMETERS) {
        query::<DB>(&chunk.statement)
            .execute(&mut *conn)
            .await
            .ok()?;
    }
    Some(
        returned
            .into_iter()
            .map(|key| Outcome::Done {
                returned: key.into_iter().collect(),
            })
            .collect(),
    )
}

/// The result of one step, before the operation decides what it means.
enum StepResult {
    Done(Vec<Stored>),
    NotFound,
    Exists,
    NullReturned,
}

async fn run<DB>(conn: &mut DB::Connection, operation: &Operation) -> Outcome
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut returned: Vec<Stored> = Vec::new();
    for (i, step) in operation.steps.iter().enumerate() {
        let assigned = returned.first().map(Stored::to_bind);
        let statement = step.statement.resolved(assigned.as_ref());
        match run_step::<DB>(conn, &statement, step.check).await {
            Ok(StepResult::Done(values)) => {
                if i == 0 {
                    returned = values;
                }
            }
            Ok(StepResult::NotFound) => return Outcome::NotFound,
            Ok(StepResult::Exists) => return Outcome::Exists,
            Ok(StepResult::NullReturned) => return Outcome::NullReturned,
            Err(e) => return Outcome::Failed(e),
        }
    }
    Outcome::Done { returned }
}

async fn run_step<DB>(
    conn: &mut DB::Connection,
    statement: &Statement,
    check: Check,
) -> Result<StepResult, DbError>
where
    DB: Native,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let q = query::<DB>(statement);
    let error = statement_error::<DB>;
    Ok(match check {
        Check::None => {
            q.execute(&mut *conn).await.map_err(error)?;
            StepResult::Done(Vec::new())
        }
        Check::RowsAffected => {
            let done = q.execute(&mut *conn).await.map_err(error)?;
            if DB::rows_affected(&done) == 0 {
                StepResult::NotFound
            } else {
                StepResult::Done(Vec::new())
            }
        }
        Check::RowExists => match q.fetch_optional(&mut *conn).await.map_err(error)? {
            Some(_) => StepResult::Done(Vec::new()),
            None => StepResult::NotFound,
        },
        Check::RowAbsent => match q.fetch_optional(&mut *conn).await.map_err(error)? {
            Some(_) => StepResult::Exists,
            None => StepResult::Done(Vec::new()),
        },
        Check::Returning(n) => match q.fetch_optional(&mut *conn).await.map_err(error)? {
            // An unaddressable row must not stay: report it so the savepoint is undone.
            Some(row) => {
                let values = DB::read_row(&row)?;
                match values.into_iter().take(n).collect::<Option<Vec<_>>>() {
                    Some(values) if values.len() == n => StepResult::Done(values),
                    _ => StepResult::NullReturned,
                }
            }
            None => StepResult::NullReturned,
        },
        Check::LastInsertId => {
            let done = q.execute(&mut *conn).await.map_err(error)?;
            match DB::last_insert_id(&done).filter(|id| *id > 0) {
                Some(id) => StepResult::Done(vec![Stored::Integer(id)]),
                None => StepResult::NullReturned,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::new("db.example", 5433, Some("hr"), "sync")
    }

    fn explained(e: sqlx::Error) -> (ConnectCause, String) {
        match explain_connect_failure(&e, &target(), None) {
            DbError::Connect { cause, message, .. } => (cause, message),
            other => panic!("not a connect error: {other}"),
        }
    }

    #[test]
    fn transport_failures_name_the_address_and_the_answer_to_check() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let (cause, message) = explained(sqlx::Error::Io(refused));
        assert_eq!(cause, ConnectCause::Refused);
        assert!(
            message.starts_with("db.example:5433 refused the connection"),
            "{message}"
        );
        assert!(
            message.contains("listening on port 5433? Check `host` and `port`"),
            "{message}"
        );

        let dns = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        let (cause, message) = explained(sqlx::Error::Io(dns));
        assert_eq!(cause, ConnectCause::HostName);
        assert!(
            message.contains("the host name `db.example` does not resolve"),
            "{message}"
        );

        let wrapped = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        let (cause, message) = explained(wrapped);
        assert_eq!(cause, ConnectCause::Tls, "{message}");
        assert!(message.contains("`tls_ca_file`"), "{message}");
        let tls = sqlx::Error::Tls("invalid peer certificate: UnknownIssuer".into());
        let (cause, message) = explained(tls);
        assert_eq!(cause, ConnectCause::Tls);
        assert!(
            message.contains("TLS with db.example:5433 failed")
                && message.contains("`tls_ca_file`"),
            "{message}"
        );
    }

    #[test]
    fn server_refusals_are_the_sign_in_or_the_database() {
        assert_eq!(
            server_cause(Some("28P01"), None),
            Some(ConnectCause::Authentication)
        );
        assert_eq!(
            server_cause(None, Some(1045)),
            Some(ConnectCause::Authentication)
        );
        assert_eq!(
            server_cause(Some("3D000"), None),
            Some(ConnectCause::DatabaseMissing)
        );
        assert_eq!(
            server_cause(Some("HY000"), Some(1049)),
            Some(ConnectCause::DatabaseMissing)
        );
        assert_eq!(server_cause(Some("08006"), None), None);
    }
}
