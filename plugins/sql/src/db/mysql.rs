//! MySQL and MariaDB through sqlx: connection options (URL and/or separate fields, TLS through
//! rustls with the ring provider), binding, row decoding by the reported type, error numbers,
//! and column discovery for stored procedures (which MySQL cannot describe without running).

use std::str::FromStr;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use sqlx::mysql::{
    MySqlArguments, MySqlConnectOptions, MySqlDatabaseError, MySqlPoolOptions, MySqlQueryResult,
    MySqlRow, MySqlSslMode,
};
use sqlx::query::Query;
use sqlx::{Column, Decode, MySql, MySqlPool, Row as _, TypeInfo, ValueRef};

use super::native::{classify_transport, open_pool, statement_error, Native, Target};
use super::{ColumnInfo, ConnectionSpec, Row, TlsMode};
use crate::error::{classify_state, DbError, FailureClass};
use crate::sql::Bind;
use crate::values::Stored;

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 10;

fn options(spec: &ConnectionSpec) -> Result<MySqlConnectOptions, DbError> {
    let mut options = match &spec.connection_string {
        Some(url) => {
            // MariaDB users write mariadb://; sqlx knows the protocol as mysql://.
            let url = match url.strip_prefix("mariadb://") {
                Some(rest) => format!("mysql://{rest}"),
                None => url.clone(),
            };
            MySqlConnectOptions::from_str(&url).map_err(|e| {
                DbError::InvalidConnectionString(if spec.connection_string_secret {
                    "not a valid MySQL URL".into()
                } else {
                    e.to_string()
                })
            })?
        }
        None => MySqlConnectOptions::new(),
    };
    if let Some(host) = &spec.host {
        options = options.host(host);
    }
    if let Some(port) = spec.port {
        options = options.port(port);
    }
    if let Some(database) = &spec.database {
        options = options.database(database);
    }
    if let Some(user) = &spec.user {
        options = options.username(user);
    }
    if let Some(password) = &spec.password {
        options = options.password(password.expose());
    }
    if let Some(tls) = spec.tls {
        options = options.ssl_mode(match tls {
            TlsMode::Disable => MySqlSslMode::Disabled,
            TlsMode::Prefer => MySqlSslMode::Preferred,
            TlsMode::Require => MySqlSslMode::Required,
            TlsMode::VerifyCa => MySqlSslMode::VerifyCa,
            TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
        });
    }
    if let Some(ca) = &spec.tls_ca {
        options = options.ssl_ca(ca);
    }
    // Identifiers are quoted with backticks, so ANSI_QUOTES must stay off, which is the default.
    Ok(options.charset("utf8mb4"))
}

pub(super) async fn connect(spec: &ConnectionSpec) -> Result<MySqlPool, DbError> {
    let options = options(spec)?;
    let target = Target::new(
        options.get_host(),
        options.get_port(),
        options.get_database(),
        options.get_username(),
    );
    let pool = MySqlPoolOptions::new()
        .max_connections(spec.max_connections(MAX_CONNECTIONS))
        .acquire_timeout(ACQUIRE_TIMEOUT);
    open_pool(options, pool, &target, native_number).await
}

/// The server's error number (1045 access denied, 1049 unknown database, ...).
fn native_number(e: &sqlx::Error) -> Option<i64> {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<MySqlDatabaseError>())
        .map(|d| i64::from(d.number()))
}

/// Result columns of `sql`. MySQL describes a `SELECT` when preparing it, but not what a
/// `CALL` returns: the procedure is run and its first row's columns are taken.
pub(super) async fn describe(pool: &MySqlPool, sql: &str) -> Result<Vec<ColumnInfo>, DbError> {
    let is_call = sql
        .trim_start()
        .get(..4)
        .is_some_and(|w| w.eq_ignore_ascii_case("call"));
    if !is_call {
        return super::native::describe(pool, sql).await;
    }
    let row = sqlx::query(sql)
        .fetch_optional(pool)
        .await
        .map_err(statement_error::<MySql>)?
        .ok_or_else(|| {
            DbError::statement(
                FailureClass::Other,
                "the procedure returned no rows, so its columns cannot be discovered; \
                 make it return at least one row, or detect the attributes with an SQL query",
            )
        })?;
    Ok(row
        .columns()
        .iter()
        .map(|c| ColumnInfo {
            name: c.name().to_string(),
            declared_type: c.type_info().name().to_string(),
            primary_key: 0,
        })
        .collect())
}

impl Native for MySql {
    fn bind<'q>(
        q: Query<'q, MySql, MySqlArguments>,
        value: &'q Bind,
    ) -> Query<'q, MySql, MySqlArguments> {
        match value {
            Bind::Null(_) | Bind::Returned => q.bind(None::<String>),
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Integer(i) => q.bind(*i),
            Bind::Real(r) => q.bind(*r),
            Bind::Boolean(b) => q.bind(*b),
            Bind::Blob(b) => q.bind(b.as_slice()),
            Bind::Timestamp(t) => q.bind(*t),
            Bind::TimestampTz(t) => q.bind(*t),
            Bind::Date(d) => q.bind(*d),
            Bind::Time(t) => q.bind(*t),
        }
    }

    fn read_row(row: &MySqlRow) -> Result<Row, DbError> {
        (0..row.len())
            .map(|i| {
                let raw = row.try_get_raw(i).map_err(statement_error::<MySql>)?;
                if raw.is_null() {
                    return Ok(None);
                }
                let type_name = raw.type_info().name().to_string();
                let stored = match type_name.as_str() {
                    "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT"
                    | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED"
                    | "INT UNSIGNED" | "YEAR" => {
                        <i64 as Decode<MySql>>::decode(raw).map(Stored::Integer)
                    }
                    "BIGINT UNSIGNED" | "BIT" => <u64 as Decode<MySql>>::decode(raw).map(|v| {
                        i64::try_from(v)
                            .map_or_else(|_| Stored::Text(v.to_string()), Stored::Integer)
                    }),
                    "FLOAT" => <f32 as Decode<MySql>>::decode(raw).map(|v| Stored::Real(v.into())),
                    "DOUBLE" => <f64 as Decode<MySql>>::decode(raw).map(Stored::Real),
                    "DATETIME" | "TIMESTAMP" => {
                        <NaiveDateTime as Decode<MySql>>::decode(raw).map(Stored::Timestamp)
                    }
                    "DATE" => <NaiveDate as Decode<MySql>>::decode(raw).map(Stored::Date),
                    "TIME" => <NaiveTime as Decode<MySql>>::decode(raw).map(Stored::Time),
                    "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BINARY" | "VARBINARY"
                    | "GEOMETRY" => <Vec<u8> as Decode<MySql>>::decode(raw).map(Stored::Blob),
                    // Text, DECIMAL (sent as its digits), JSON, ENUM and SET all arrive as text.
                    _ => <String as Decode<MySql>>::decode(raw).map(Stored::Text),
                };
                stored.map(Some).map_err(|e| {
                    DbError::other(format!("cannot read column {} ({type_name}): {e}", i + 1))
                })
            })
            .collect()
    }

    fn classify(e: &sqlx::Error) -> FailureClass {
        match e.as_database_error() {
            Some(db) => {
                let number = db
                    .try_downcast_ref::<MySqlDatabaseError>()
                    .map(|m| i64::from(m.number()));
                let state = db.code().map(|c| c.to_string()).unwrap_or_default();
                match classify_state(&state, number) {
                    FailureClass::Other => classify_transport(e).unwrap_or(FailureClass::Other),
                    class => class,
                }
            }
            None => classify_transport(e).unwrap_or(FailureClass::Other),
        }
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn last_insert_id(result: &MySqlQueryResult) -> Option<i64> {
        i64::try_from(result.last_insert_id()).ok()
    }

    /// The protocol counts parameters in 16 bits.
    const MAX_PARAMETERS: usize = 65535;

    const INSERTS_IN_WITH: bool = false;
}
