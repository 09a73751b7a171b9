//! The SQL connector driven as the host drives it (through the FFI adapter), in one test
//! binary:
//! - `sqlite_files`: the SQLite specifics, on files in temporary directories;
//! - `scenarios`, run once per backend by the modules below: PostgreSQL (127.0.0.1:5432, user
//!   `postgres`, trust) and MariaDB (127.0.0.1:3306, `root`, empty password) natively and
//!   through Debian's ODBC drivers (`odbc-postgresql`, `odbc-mariadb`; `scripts/setup.sh`
//!   installs them), and SQLite. Each test creates a database of its own and drops it
//!   afterwards. A missing server or driver fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

mod scenarios;
mod sqlite_files;
mod support;

/// One `#[test]` per scenario for a backend.
macro_rules! backend {
    ($module:ident, $kind:expr, [$($scenario:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    crate::scenarios::$scenario($kind);
                }
            )*
        }
    };
}

backend!(
    postgres,
    crate::support::Kind::Postgres,
    [
        table_lifecycle,
        batched_adds,
        paging,
        views_queries_and_procedures,
        object_type_detection,
        delta_watermark,
        delta_change_tracking,
        delta_snapshot,
        passwords,
        connection_failures,
        tls,
    ]
);

backend!(
    mysql,
    crate::support::Kind::MySql,
    [
        table_lifecycle,
        batched_adds,
        paging,
        views_queries_and_procedures,
        object_type_detection,
        delta_watermark,
        delta_change_tracking,
        delta_snapshot,
        passwords,
        connection_failures,
        tls,
    ]
);

backend!(
    sqlite,
    crate::support::Kind::Sqlite,
    [
        table_lifecycle,
        batched_adds,
        paging,
        views_queries_and_procedures,
        object_type_detection,
        delta_watermark,
        delta_change_tracking,
        delta_snapshot,
        passwords,
        connection_failures,
    ]
);

backend!(
    odbc_postgres,
    crate::support::Kind::OdbcPostgres,
    [
        table_lifecycle,
        paging,
        views_queries_and_procedures,
        object_type_detection,
        delta_watermark,
        delta_change_tracking,
        delta_snapshot,
        passwords,
        connection_failures,
    ]
);

backend!(
    odbc_mariadb,
    crate::support::Kind::OdbcMariaDb,
    [
        table_lifecycle,
        paging,
        views_queries_and_procedures,
        object_type_detection,
        delta_watermark,
        delta_change_tracking,
        delta_snapshot,
        passwords,
        connection_failures,
    ]
);

// PostgreSQL behind ODBC, spoken to as an unknown database: ANSI SQL, the driver's catalog
// functions, no RETURNING, and no triggers created for it.
backend!(
    odbc_ansi,
    crate::support::Kind::OdbcAnsi,
    [
        table_lifecycle,
        paging,
        views_queries_and_procedures,
        object_type_detection,
        delta_change_tracking,
        delta_snapshot,
        passwords,
    ]
);
