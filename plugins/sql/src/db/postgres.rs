//! PostgreSQL through sqlx: connection options (URL and/or separate fields, TLS through rustls
//! with the ring provider), typed binding, row decoding by the reported type, and SQLSTATE
//! classification.
//!
//! Types without a decoder here (numeric, uuid, json, enums, ...) are read as text: the
//! generated `SELECT`s cast them (see [`crate::sql::Dialect::select_item`]), and an
//! administrator's query must do the same, which the error message says.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow, PgSslMode,
};
use sqlx::query::Query;
use sqlx::{Decode, PgPool, Postgres, Row as _, TypeInfo, ValueRef};

use super::native::{classify_transport, open_pool, statement_error, Native, Target};
use super::{ConnectionSpec, Row, TlsMode};
use crate::error::{classify_state, DbError, FailureClass};
use crate::sql::Bind;
use crate::values::Stored;

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 10;

fn options(spec: &ConnectionSpec) -> Result<PgConnectOptions, DbError> {
    let mut options = match &spec.connection_string {
        Some(url) => PgConnectOptions::from_str(url).map_err(|e| {
            // sqlx's message may quote the URL; the caller scrubs secrets, but a URL answered
            // as a secret is not repeated at all.
            DbError::InvalidConnectionString(if spec.connection_string_secret {
                "not a valid PostgreSQL URL".into()
            } else {
                e.to_string()
            })
        })?,
        None => PgConnectOptions::new(),
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
            TlsMode::Disable => PgSslMode::Disable,
            TlsMode::Prefer => PgSslMode::Prefer,
            TlsMode::Require => PgSslMode::Require,
            TlsMode::VerifyCa => PgSslMode::VerifyCa,
            TlsMode::VerifyFull => PgSslMode::VerifyFull,
        });
    }
    if let Some(ca) = &spec.tls_ca {
        options = options.ssl_root_cert(ca);
    }
    Ok(options.application_name("ecmahost-sql"))
}

pub(super) async fn connect(spec: &ConnectionSpec) -> Result<PgPool, DbError> {
    let options = options(spec)?;
    let target = Target::new(
        options.get_host(),
        options.get_port(),
        options.get_database(),
        options.get_username(),
    );
    let pool = PgPoolOptions::new()
        .max_connections(spec.max_connections(MAX_CONNECTIONS))
        .acquire_timeout(ACQUIRE_TIMEOUT);
    open_pool(options, pool, &target, |_| None).await
}

impl Native for Postgres {
    fn bind<'q>(
        q: Query<'q, Postgres, PgArguments>,
        value: &'q Bind,
    ) -> Query<'q, Postgres, PgArguments> {
        use ecma_plugin_api::AttributeType as T;
        match value {
            // A NULL carries the column's type, or PostgreSQL refuses `text` for an integer
            // column; types without a natural match are cast by the SQL (see `Dialect`).
            Bind::Null(T::Integer) => q.bind(None::<i64>),
            Bind::Null(T::Boolean) => q.bind(None::<bool>),
            Bind::Null(T::Binary) => q.bind(None::<Vec<u8>>),
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

    fn read_row(row: &PgRow) -> Result<Row, DbError> {
        (0..row.len())
            .map(|i| {
                let raw = row.try_get_raw(i).map_err(statement_error::<Postgres>)?;
                if raw.is_null() {
                    return Ok(None);
                }
                let type_name = raw.type_info().name().to_string();
                let stored = match type_name.as_str() {
                    "BOOL" => <bool as Decode<Postgres>>::decode(raw).map(Stored::Boolean),
                    "INT2" => <i16 as Decode<Postgres>>::decode(raw).map(|v| Stored::Integer(v.into())),
                    "INT4" => <i32 as Decode<Postgres>>::decode(raw).map(|v| Stored::Integer(v.into())),
                    "INT8" => <i64 as Decode<Postgres>>::decode(raw).map(Stored::Integer),
                    "OID" => <sqlx::postgres::types::Oid as Decode<Postgres>>::decode(raw)
                        .map(|v| Stored::Integer(v.0.into())),
                    "FLOAT4" => <f32 as Decode<Postgres>>::decode(raw).map(|v| Stored::Real(v.into())),
                    "FLOAT8" => <f64 as Decode<Postgres>>::decode(raw).map(Stored::Real),
                    "BYTEA" => <Vec<u8> as Decode<Postgres>>::decode(raw).map(Stored::Blob),
                    "TIMESTAMP" => {
                        <NaiveDateTime as Decode<Postgres>>::decode(raw).map(Stored::Timestamp)
                    }
                    "TIMESTAMPTZ" => {
                        <DateTime<Utc> as Decode<Postgres>>::decode(raw).map(Stored::TimestampTz)
                    }
                    "DATE" => <NaiveDate as Decode<Postgres>>::decode(raw).map(Stored::Date),
                    "TIME" => <NaiveTime as Decode<Postgres>>::decode(raw).map(Stored::Time),
                    "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "CITEXT" => {
                        <String as Decode<Postgres>>::decode(raw).map(Stored::Text)
                    }
                    other => {
                        return Err(DbError::other(format!(
                            "column {} has the PostgreSQL type {other}, which the connector cannot read; \
                             cast it to text in the query (CAST(column AS text))",
                            i + 1
                        )))
                    }
                };
                stored.map(Some).map_err(|e| {
                    DbError::other(format!("cannot read column {} ({type_name}): {e}", i + 1))
                })
            })
            .collect()
    }

    fn classify(e: &sqlx::Error) -> FailureClass {
        match e.as_database_error().and_then(|db| db.code()) {
            Some(state) => classify_state(&state, None),
            None => classify_transport(e).unwrap_or(FailureClass::Other),
        }
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn last_insert_id(_: &PgQueryResult) -> Option<i64> {
        // PostgreSQL reports assigned keys through RETURNING.
        None
    }

    /// The protocol counts parameters in 16 bits.
    const MAX_PARAMETERS: usize = 65535;

    const INSERTS_IN_WITH: bool = true;
}
