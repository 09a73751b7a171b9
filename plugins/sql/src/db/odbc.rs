//! Any database through ODBC: unixODBC's driver manager (via `odbc-api`, narrow calls, so
//! text is UTF-8), a DSN file as in Microsoft's generic SQL connector, a small connection pool,
//! and the same statement, stream and batch operations as the native drivers.
//!
//! ODBC calls block, so every one runs on the connector runtime's blocking pool with a pooled
//! connection it owns for the duration. The SQL [`Flavor`] is detected from the driver's DBMS
//! name (or set on the Connectivity page), so a PostgreSQL or MariaDB behind ODBC gets the same
//! catalog queries and savepoint batches as a native one; any other database is spoken to in
//! ANSI SQL, introspected with the driver's catalog functions, and if it refuses `SAVEPOINT`,
//! each entry of a batch gets a transaction of its own.
//!
//! The connection string holds the password (`PWD=`): it lives only in [`OdbcPool`] and is
//! never formatted into a message; driver messages pass through the pool's [`Redactor`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use odbc_api::parameter::{InputParameter, VarBinaryBox, VarCharBox};
use odbc_api::{Bit, Connection, ConnectionOptions, Cursor, DataType, Nullable, ResultSetMetadata};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::{Check, ColumnInfo, ConnectionSpec, Operation, Outcome, Row};
use crate::error::{classify_state, DbError, FailureClass, Redactor};
use crate::sql::{Bind, Dialect, Flavor, Statement};
use crate::values::Stored;

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 10;

/// The ODBC connection string for `spec`: the DSN file's `key=value` lines, then `UID` and
/// `PWD` from the parameters (which win over the file), each value escaped as ODBC requires.
fn connection_string(spec: &ConnectionSpec) -> Result<String, DbError> {
    let invalid = |m: String| DbError::InvalidConnectionString(m);
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(path) = &spec.dsn_file {
        let bytes = std::fs::read(path)
            .map_err(|e| invalid(format!("cannot read the DSN file {}: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            invalid(format!(
                "the DSN file {} is not UTF-8 text; save it as UTF-8",
                path.display()
            ))
        })?;
        // Windows editors put a byte-order mark in front of UTF-8 files.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with([';', '#', '[']) {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "line {} of the DSN file {} is not key=value",
                    n + 1,
                    path.display()
                ))
            })?;
            pairs.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    let has_credential = spec.user.is_some() || spec.password.is_some();
    if has_credential {
        pairs.retain(|(k, _)| {
            !["UID", "PWD", "USER", "PASSWORD"]
                .iter()
                .any(|c| k.eq_ignore_ascii_case(c))
        });
    }
    let mut out = String::new();
    if let Some(cs) = &spec.connection_string {
        out.push_str(cs.trim().trim_end_matches(';'));
        out.push(';');
    }
    for (key, value) in &pairs {
        out.push_str(&format!(
            "{key}={};",
            odbc_api::escape_attribute_value(value)
        ));
    }
    if let Some(user) = &spec.user {
        out.push_str(&format!("UID={};", odbc_api::escape_attribute_value(user)));
    }
    if let Some(password) = &spec.password {
        out.push_str(&format!(
            "PWD={};",
            odbc_api::escape_attribute_value(password.expose())
        ));
    }
    if pairs.is_empty() && spec.connection_string.is_none() {
        return Err(invalid(
            "ODBC needs a DSN file (parameter 'dsn_file') or an ODBC connection string".into(),
        ));
    }
    Ok(out)
}

/// The class and message of an ODBC error, from its diagnostic record.
fn odbc_error(e: odbc_api::Error) -> DbError {
    match e {
        odbc_api::Error::Diagnostics { record, .. } => {
            let state = record.state.as_str().to_string();
            let message = String::from_utf8_lossy(&record.message)
                .trim_end_matches('\0')
                .trim()
                .to_string();
            DbError::statement(
                classify_state(&state, Some(i64::from(record.native_error))),
                message,
            )
        }
        other => DbError::other(other.to_string()),
    }
}

fn open(connection_string: &str) -> Result<Connection<'static>, DbError> {
    let env = odbc_api::environment().map_err(odbc_error)?;
    env.connect_with_connection_string(connection_string, ConnectionOptions::default())
        .map_err(|e| {
            let e = odbc_error(e);
            DbError::Connect {
                class: match e.class() {
                    FailureClass::Busy => FailureClass::Busy,
                    _ => FailureClass::Connection,
                },
                cause: crate::error::ConnectCause::Other,
                message: e.to_string(),
            }
        })
}

/// Drop a connection, which disconnects. odbc-api panics when the disconnect fails (a server
/// that went away), so the panic is contained here.
fn discard(conn: Connection<'static>) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(conn)));
}

/// Run `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| DbError::other("the ODBC worker thread stopped"))?
}

/// A pool of ODBC connections to one data source.
pub(crate) struct OdbcPool {
    /// Contains the password: never shown.
    connection_string: String,
    redactor: Redactor,
    idle: Mutex<Vec<Connection<'static>>>,
    permits: Arc<Semaphore>,
    dialect: Dialect,
    /// Cleared when the database refuses `SAVEPOINT`: batches then commit entry by entry.
    savepoints: AtomicBool,
}

/// A connection borrowed from the pool; it goes back when dropped, unless it broke.
struct Lease {
    pool: Arc<OdbcPool>,
    conn: Option<Connection<'static>>,
    broken: bool,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    fn connection(&mut self) -> Result<&Connection<'static>, DbError> {
        if self.conn.is_none() {
            self.conn = Some(open(&self.pool.connection_string)?);
        }
        self.conn
            .as_ref()
            .ok_or_else(|| DbError::other("no ODBC connection"))
    }

    /// Remember whether `e` means the connection is unusable.
    fn note(&mut self, e: &DbError) {
        if e.class() == FailureClass::Connection {
            self.broken = true;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.broken {
                discard(conn);
            } else {
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
            }
        }
    }
}

impl Drop for OdbcPool {
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(PoisonError::into_inner));
        for conn in idle {
            discard(conn);
        }
    }
}

/// The SQL flavor a DBMS name (as `SQLGetInfo` reports it) speaks.
fn flavor_of(dbms: &str) -> Flavor {
    let dbms = dbms.to_ascii_lowercase();
    if dbms.contains("postgres") {
        Flavor::Postgres
    } else if dbms.contains("mysql") || dbms.contains("mariadb") {
        Flavor::MySql
    } else if dbms.contains("sqlite") {
        Flavor::Sqlite
    } else {
        Flavor::Generic
    }
}

impl OdbcPool {
    pub(super) async fn connect(spec: &ConnectionSpec) -> Result<Arc<Self>, DbError> {
        let connection_string = connection_string(spec)?;
        let redactor = spec.redactor();
        let forced = spec.odbc_flavor;
        let cs = connection_string.clone();
        let (conn, dialect, connection_string) = blocking(move || {
            let mut cs = cs;
            let mut conn = open(&cs)?;
            let dbms = conn.database_management_system_name().map_err(odbc_error)?;
            // psqlODBC's default statement-level rollback wraps every statement in a savepoint
            // of its own and releases it afterwards, which releases the batch's per-entry
            // savepoint too (PostgreSQL releases later savepoints with an earlier one). The
            // connector rolls back itself, so it asks psqlODBC not to, unless the DSN says.
            if flavor_of(&dbms) == Flavor::Postgres
                && !cs.to_ascii_lowercase().contains("protocol=")
            {
                cs.push_str("Protocol=7.4-0;");
                discard(conn);
                conn = open(&cs)?;
            }
            let flavor = forced.unwrap_or_else(|| flavor_of(&dbms));
            let quote = match flavor {
                Flavor::MySql => Some('`'),
                Flavor::Postgres | Flavor::Sqlite => Some('"'),
                Flavor::Generic => conn
                    .identifier_quote_char()
                    .map_err(odbc_error)?
                    .filter(|c| !c.is_whitespace()),
            };
            let dialect = Dialect::odbc(flavor, quote);
            // Only MariaDB, of the MySQL family, reports keys with RETURNING.
            let dialect =
                if flavor == Flavor::MySql && dbms.to_ascii_lowercase().contains("mariadb") {
                    dialect.with_returning()
                } else {
                    dialect
                };
            Ok((conn, dialect, cs))
        })
        .await?;
        let size = usize::try_from(spec.max_connections(MAX_CONNECTIONS)).unwrap_or(1);
        Ok(Arc::new(Self {
            connection_string,
            redactor,
            idle: Mutex::new(vec![conn]),
            permits: Arc::new(Semaphore::new(size)),
            dialect,
            savepoints: AtomicBool::new(true),
        }))
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn lease(self: &Arc<Self>) -> Result<Lease, DbError> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                DbError::statement(FailureClass::Busy, "no free ODBC connection in the pool")
            })?
            .map_err(|_| DbError::other("the ODBC pool is closed"))?;
        let conn = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Ok(Lease {
            pool: self.clone(),
            conn,
            broken: false,
            _permit: permit,
        })
    }

    /// Run `f` with a pooled connection on the blocking pool; errors are scrubbed of secrets.
    async fn with_connection<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection<'static>) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, DbError> {
        let mut lease = self.lease().await?;
        let redactor = self.redactor.clone();
        blocking(move || {
            let result = lease.connection().and_then(f);
            if let Err(e) = &result {
                lease.note(e);
            }
            result.map_err(|e| e.redacted(&redactor))
        })
        .await
    }

    pub(super) async fn fetch(self: &Arc<Self>, statement: Statement) -> Result<Vec<Row>, DbError> {
        self.with_connection(move |conn| {
            let mut rows = Vec::new();
            run(conn, &statement, &mut |row| {
                rows.push(row);
                true
            })?;
            Ok(rows)
        })
        .await
    }

    pub(super) async fn execute(self: &Arc<Self>, statement: Statement) -> Result<u64, DbError> {
        self.with_connection(move |conn| run(conn, &statement, &mut |_| true))
            .await
    }

    pub(super) async fn stream(
        self: Arc<Self>,
        statement: Statement,
        chunk: usize,
        tx: mpsc::Sender<Result<Vec<Row>, DbError>>,
    ) {
        let sender = tx.clone();
        let result = self
            .with_connection(move |conn| {
                let mut buffer = Vec::with_capacity(chunk);
                let mut open = true;
                run(conn, &statement, &mut |row| {
                    buffer.push(row);
                    if buffer.len() >= chunk {
                        let full = std::mem::replace(&mut buffer, Vec::with_capacity(chunk));
                        open = sender.blocking_send(Ok(full)).is_ok();
                    }
                    open
                })?;
                if open && !buffer.is_empty() {
                    let _ = sender.blocking_send(Ok(buffer));
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            let _ = tx.send(Err(e)).await;
        }
    }

    pub(super) async fn describe(
        self: &Arc<Self>,
        sql: String,
    ) -> Result<Vec<ColumnInfo>, DbError> {
        self.with_connection(move |conn| {
            let mut prepared = conn.prepare(&sql).map_err(odbc_error)?;
            let columns = describe_columns(&mut prepared)?;
            if !columns.is_empty() {
                return Ok(columns);
            }
            // Drivers do not describe what a CALL returns before it runs.
            drop(prepared);
            match conn.execute(&sql, (), None).map_err(odbc_error)? {
                Some(mut cursor) => describe_columns(&mut cursor),
                None => Ok(Vec::new()),
            }
        })
        .await
    }

    /// Tables (`kind` "TABLE") or views ("VIEW") through the driver's catalog function.
    pub(super) async fn tables(
        self: &Arc<Self>,
        kind: &'static str,
    ) -> Result<Vec<String>, DbError> {
        self.with_connection(move |conn| {
            let catalog = conn.current_catalog().unwrap_or_default();
            let mut names = Vec::new();
            for row in conn.tables(&catalog, "%", "%", kind).map_err(odbc_error)? {
                let row = row.map_err(odbc_error)?;
                if let Ok(Some(name)) = row.table.as_str() {
                    names.push(name.to_string());
                }
            }
            names.sort();
            names.dedup();
            Ok(names)
        })
        .await
    }

    /// Columns of `table` through the driver's catalog functions, with the primary key.
    pub(super) async fn columns(
        self: &Arc<Self>,
        table: String,
    ) -> Result<Vec<ColumnInfo>, DbError> {
        self.with_connection(move |conn| {
            let catalog = conn.current_catalog().unwrap_or_default();
            let mut keys: Vec<(String, u32)> = Vec::new();
            if let Ok(rows) = conn.primary_keys(Some(&catalog), None, &table) {
                for row in rows.flatten() {
                    if let (Ok(Some(name)), Ok(Some(t))) = (row.column.as_str(), row.table.as_str())
                    {
                        if t == table {
                            keys.push((name.to_string(), u32::try_from(row.key_seq).unwrap_or(0)));
                        }
                    }
                }
            }
            let mut columns: Vec<(i32, ColumnInfo)> = Vec::new();
            for row in conn
                .columns(&catalog, "%", &table, "%")
                .map_err(odbc_error)?
            {
                let row = row.map_err(odbc_error)?;
                // The table name is a search pattern: keep exact matches only.
                if row.table.as_str().ok().flatten() != Some(table.as_str()) {
                    continue;
                }
                let name = row
                    .column_name
                    .as_str()
                    .ok()
                    .flatten()
                    .unwrap_or("")
                    .to_string();
                let primary_key = keys.iter().find(|(k, _)| *k == name).map_or(0, |(_, n)| *n);
                columns.push((
                    row.ordinal_position,
                    ColumnInfo {
                        declared_type: row
                            .type_name
                            .as_str()
                            .ok()
                            .flatten()
                            .unwrap_or("")
                            .to_string(),
                        name,
                        primary_key,
                    },
                ));
            }
            columns.sort_by_key(|(position, _)| *position);
            Ok(columns.into_iter().map(|(_, c)| c).collect())
        })
        .await
    }

    pub(super) async fn apply_batch(
        self: &Arc<Self>,
        operations: Vec<Operation>,
    ) -> Result<Vec<Outcome>, DbError> {
        let pool = self.clone();
        self.with_connection(move |conn| {
            conn.set_autocommit(false).map_err(odbc_error)?;
            let savepoints = pool.savepoints.load(Ordering::Relaxed);
            let result = batch(conn, &operations, savepoints);
            let result = match result {
                Ok((outcomes, still)) => {
                    if !still {
                        pool.savepoints.store(false, Ordering::Relaxed);
                    }
                    conn.commit().map_err(odbc_error).map(|()| outcomes)
                }
                Err(e) => Err(e),
            };
            if result.is_err() {
                let _ = conn.rollback();
            }
            conn.set_autocommit(true).map_err(odbc_error)?;
            result
        })
        .await
    }
}

/// The result columns a prepared statement or cursor describes.
fn describe_columns(metadata: &mut impl ResultSetMetadata) -> Result<Vec<ColumnInfo>, DbError> {
    let count = metadata.num_result_cols().map_err(odbc_error)?;
    (1..=u16::try_from(count).unwrap_or(0))
        .map(|i| {
            Ok(ColumnInfo {
                name: metadata.col_name(i).map_err(odbc_error)?,
                declared_type: type_name(metadata.col_data_type(i).map_err(odbc_error)?),
                primary_key: 0,
            })
        })
        .collect()
}

fn control(conn: &Connection<'static>, sql: &str) -> Result<(), DbError> {
    run(conn, &Statement::plain(sql), &mut |_| true).map(|_| ())
}

/// The operations of one batch, in the open transaction. Returns the outcomes and whether
/// savepoints still work.
fn batch(
    conn: &Connection<'static>,
    operations: &[Operation],
    mut savepoints: bool,
) -> Result<(Vec<Outcome>, bool), DbError> {
    let mut outcomes = Vec::with_capacity(operations.len());
    for operation in operations {
        if savepoints {
            if let Err(e) = control(conn, "SAVEPOINT ecma_entry") {
                if !outcomes.is_empty() {
                    return Err(e);
                }
                // The database has no savepoints: each entry becomes its own transaction.
                conn.rollback().map_err(odbc_error)?;
                savepoints = false;
            }
        }
        let outcome = run_operation(conn, operation);
        let done = matches!(outcome, Outcome::Done { .. });
        if savepoints {
            if !done {
                control(conn, "ROLLBACK TO SAVEPOINT ecma_entry")?;
            }
            control(conn, "RELEASE SAVEPOINT ecma_entry")?;
        } else if done {
            conn.commit().map_err(odbc_error)?;
        } else {
            conn.rollback().map_err(odbc_error)?;
        }
        outcomes.push(outcome);
    }
    Ok((outcomes, savepoints))
}

fn run_operation(conn: &Connection<'static>, operation: &Operation) -> Outcome {
    let mut returned: Vec<Stored> = Vec::new();
    for (i, step) in operation.steps.iter().enumerate() {
        let assigned = returned.first().map(Stored::to_bind);
        let statement = step.statement.resolved(assigned.as_ref());
        let mut first: Option<Row> = None;
        let affected = run(conn, &statement, &mut |row| {
            first.get_or_insert(row);
            false
        });
        let affected = match affected {
            Ok(n) => n,
            Err(e) => return Outcome::Failed(e),
        };
        match step.check {
            Check::None => {}
            Check::RowsAffected if affected == 0 => return Outcome::NotFound,
            Check::RowsAffected => {}
            Check::RowExists if first.is_none() => return Outcome::NotFound,
            Check::RowExists => {}
            Check::RowAbsent if first.is_some() => return Outcome::Exists,
            Check::RowAbsent => {}
            Check::Returning(n) => {
                let values = first
                    .map(|row| row.into_iter().take(n).collect::<Option<Vec<_>>>())
                    .unwrap_or_default();
                match values {
                    Some(values) if values.len() == n => {
                        if i == 0 {
                            returned = values;
                        }
                    }
                    _ => return Outcome::NullReturned,
                }
            }
            // ODBC has no portable way to ask for an assigned key.
            Check::LastInsertId => return Outcome::NullReturned,
        }
    }
    Outcome::Done { returned }
}

/// The value of `bind` as an ODBC input parameter. Temporal values travel as ISO 8601 text,
/// which every driver converts.
fn parameter(bind: &Bind) -> Box<dyn InputParameter> {
    use ecma_plugin_api::AttributeType as T;
    match bind {
        Bind::Null(T::Integer) => Box::new(Nullable::<i64>::null()),
        Bind::Null(T::Boolean) => Box::new(Nullable::<Bit>::null()),
        Bind::Null(T::Binary) => Box::new(VarBinaryBox::null()),
        Bind::Null(_) | Bind::Returned => Box::new(VarCharBox::null()),
        Bind::Text(s) => Box::new(VarCharBox::from_string(s.clone())),
        Bind::Integer(i) => Box::new(*i),
        Bind::Real(r) => Box::new(*r),
        Bind::Boolean(b) => Box::new(Bit::from_bool(*b)),
        Bind::Blob(b) => Box::new(VarBinaryBox::from_vec(b.clone())),
        Bind::Timestamp(t) => text(t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Bind::TimestampTz(t) => text(t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Bind::Date(d) => text(d.format("%Y-%m-%d").to_string()),
        Bind::Time(t) => text(t.format("%H:%M:%S%.f").to_string()),
    }
}

fn text(s: String) -> Box<dyn InputParameter> {
    Box::new(VarCharBox::from_string(s))
}

/// How a result column is read.
#[derive(Clone, Copy)]
enum Read {
    Integer,
    Real,
    Binary,
    Text,
}

fn read_kind(t: DataType) -> Read {
    match t {
        DataType::Integer
        | DataType::SmallInt
        | DataType::BigInt
        | DataType::TinyInt
        | DataType::Bit => Read::Integer,
        DataType::Real | DataType::Float { .. } | DataType::Double => Read::Real,
        DataType::Binary { .. } | DataType::Varbinary { .. } | DataType::LongVarbinary { .. } => {
            Read::Binary
        }
        _ => Read::Text,
    }
}

/// A type name for a column ODBC describes, as [`crate::values::discover_type`] reads it.
fn type_name(t: DataType) -> String {
    match t {
        DataType::Integer => "INTEGER",
        DataType::SmallInt => "SMALLINT",
        DataType::BigInt => "BIGINT",
        DataType::TinyInt => "TINYINT",
        DataType::Bit => "BIT",
        DataType::Real => "REAL",
        DataType::Float { .. } => "FLOAT",
        DataType::Double => "DOUBLE",
        DataType::Numeric { .. } => "NUMERIC",
        DataType::Decimal { .. } => "DECIMAL",
        DataType::Binary { .. } => "BINARY",
        DataType::Varbinary { .. } => "VARBINARY",
        DataType::LongVarbinary { .. } => "LONGVARBINARY",
        DataType::Date => "DATE",
        DataType::Time { .. } => "TIME",
        DataType::Timestamp { .. } => "TIMESTAMP",
        _ => "VARCHAR",
    }
    .to_string()
}

/// Execute `statement`, handing each result row to `on_row` until it returns false; returns
/// the number of rows affected (0 when the driver does not say).
fn run(
    conn: &Connection<'static>,
    statement: &Statement,
    on_row: &mut dyn FnMut(Row) -> bool,
) -> Result<u64, DbError> {
    let parameters: Vec<Box<dyn InputParameter>> = statement.binds.iter().map(parameter).collect();
    let mut prepared = conn.preallocate().map_err(odbc_error)?;
    if let Some(mut cursor) = prepared
        .execute(&statement.sql, parameters.as_slice())
        .map_err(odbc_error)?
    {
        // A statement with a result set reports the rows it returned; asking the driver for a
        // row count after the cursor closed is a function sequence error.
        let mut returned = 0u64;
        let count = u16::try_from(cursor.num_result_cols().map_err(odbc_error)?).unwrap_or(0);
        let kinds = (1..=count)
            .map(|i| cursor.col_data_type(i).map(read_kind))
            .collect::<Result<Vec<_>, _>>()
            .map_err(odbc_error)?;
        let mut buffer = Vec::new();
        while let Some(mut row) = cursor.next_row().map_err(odbc_error)? {
            let mut values = Vec::with_capacity(kinds.len());
            for (i, kind) in kinds.iter().enumerate() {
                let column = u16::try_from(i + 1).unwrap_or(u16::MAX);
                let present = match kind {
                    Read::Binary => row.get_binary(column, &mut buffer),
                    _ => row.get_text(column, &mut buffer),
                }
                .map_err(odbc_error)?;
                values.push(present.then(|| stored(*kind, &buffer)));
            }
            returned += 1;
            if !on_row(values) {
                return Ok(returned);
            }
        }
        return Ok(returned);
    }
    Ok(prepared
        .row_count()
        .map_err(odbc_error)?
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0))
}

fn stored(kind: Read, bytes: &[u8]) -> Stored {
    if let Read::Binary = kind {
        return Stored::Blob(bytes.to_vec());
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    match kind {
        Read::Integer => text
            .trim()
            .parse()
            .map_or_else(|_| Stored::Text(text), Stored::Integer),
        Read::Real => text
            .trim()
            .parse()
            .map_or_else(|_| Stored::Text(text), Stored::Real),
        _ => Stored::Text(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecma_plugin_api::Secret;

    #[test]
    fn dsn_file_becomes_an_escaped_connection_string() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.dsn");
        std::fs::write(
            &file,
            "\u{feff}[ODBC]\n; comment\nDRIVER=PostgreSQL Unicode\nSERVER=db;host\nUID=fromfile\n\nPORT = 5432\n",
        )
        .unwrap();
        let spec = ConnectionSpec {
            dsn_file: Some(file.clone()),
            user: Some("app".into()),
            password: Some(Secret::new("p;w}d")),
            ..ConnectionSpec::default()
        };
        let cs = connection_string(&spec).unwrap();
        assert_eq!(
            cs,
            "DRIVER=PostgreSQL Unicode;SERVER={db;host};PORT=5432;UID=app;PWD={p;w}}d};"
        );
        std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
        let err = connection_string(&spec).unwrap_err().to_string();
        assert!(err.contains("UTF-8"), "{err}");
        std::fs::write(&file, "DRIVER=x\nnonsense\n").unwrap();
        let err = connection_string(&spec).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("p;w}d"));
        assert!(connection_string(&ConnectionSpec::default()).is_err());
    }

    #[test]
    fn flavors_from_dbms_names() {
        assert_eq!(flavor_of("PostgreSQL"), Flavor::Postgres);
        assert_eq!(flavor_of("MariaDB"), Flavor::MySql);
        assert_eq!(flavor_of("MySQL"), Flavor::MySql);
        assert_eq!(flavor_of("Oracle"), Flavor::Generic);
    }
}
