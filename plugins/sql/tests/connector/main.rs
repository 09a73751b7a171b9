//! The SQL connector driven as the host drives it (through the FFI adapter), in one test
//! binary:
//! - `sqlite_files`: the SQLite specifics, on files in temporary directories;
//! - `scenarios` and `identity` (renames, value-level updates, binary and multi-column
//!   anchors), run once per backend by the modules below: PostgreSQL (127.0.0.1:5432, user
//!   `postgres`, trust) and MariaDB (127.0.0.1:3306, `root`, empty password) natively and
//!   through Debian's ODBC drivers (`odbc-postgresql`, `odbc-mariadb`; `scripts/setup.sh`
//!   installs them), and SQLite. Each test creates a database of its own and drops it
//!   afterwards. A missing server or driver fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

mod identity;
mod scenarios;
mod sqlite_files;
mod support;

/// One `#[test]` per scenario (`module::function`) for a backend.
macro_rules! backend {
    ($module:ident, $kind:expr, [$($group:ident::$scenario:ident),* $(,)?]) => {
        mod $module {
            $(
                #[test]
                fn $scenario() {
                    crate::$group::$scenario($kind);
                }
            )*
        }
    };
}

backend!(
    postgres,
    crate::support::Kind::Postgres,
    [
        scenarios::table_lifecycle,
        scenarios::batched_adds,
        scenarios::paging,
        scenarios::views_queries_and_procedures,
        scenarios::object_type_detection,
        scenarios::delta_watermark,
        scenarios::delta_change_tracking,
        scenarios::delta_snapshot,
        scenarios::passwords,
        scenarios::connection_failures,
        scenarios::tls,
        identity::renames,
        identity::value_level_members,
        identity::binary_anchors,
        identity::two_column_anchors,
        identity::anchor_validation,
        identity::custom_renames,
    ]
);

backend!(
    mysql,
    crate::support::Kind::MySql,
    [
        scenarios::table_lifecycle,
        scenarios::batched_adds,
        scenarios::paging,
        scenarios::views_queries_and_procedures,
        scenarios::object_type_detection,
        scenarios::delta_watermark,
        scenarios::delta_change_tracking,
        scenarios::delta_snapshot,
        scenarios::passwords,
        scenarios::connection_failures,
        scenarios::tls,
        identity::renames,
        identity::value_level_members,
        identity::binary_anchors,
        identity::two_column_anchors,
        identity::anchor_validation,
        identity::custom_renames,
    ]
);

backend!(
    sqlite,
    crate::support::Kind::Sqlite,
    [
        scenarios::table_lifecycle,
        scenarios::batched_adds,
        scenarios::paging,
        scenarios::views_queries_and_procedures,
        scenarios::object_type_detection,
        scenarios::delta_watermark,
        scenarios::delta_change_tracking,
        scenarios::delta_snapshot,
        scenarios::passwords,
        scenarios::connection_failures,
        identity::renames,
        identity::value_level_members,
        identity::binary_anchors,
        identity::two_column_anchors,
        identity::anchor_validation,
        identity::custom_renames,
    ]
);

backend!(
    odbc_postgres,
    crate::support::Kind::OdbcPostgres,
    [
        scenarios::table_lifecycle,
        scenarios::paging,
        scenarios::views_queries_and_procedures,
        scenarios::object_type_detection,
        scenarios::delta_watermark,
        scenarios::delta_change_tracking,
        scenarios::delta_snapshot,
        scenarios::passwords,
        scenarios::connection_failures,
        identity::renames,
        identity::value_level_members,
        identity::binary_anchors,
        identity::two_column_anchors,
        identity::anchor_validation,
        identity::custom_renames,
    ]
);

backend!(
    odbc_mariadb,
    crate::support::Kind::OdbcMariaDb,
    [
        scenarios::table_lifecycle,
        scenarios::paging,
        scenarios::views_queries_and_procedures,
        scenarios::object_type_detection,
        scenarios::delta_watermark,
        scenarios::delta_change_tracking,
        scenarios::delta_snapshot,
        scenarios::passwords,
        scenarios::connection_failures,
        identity::renames,
        identity::value_level_members,
        identity::binary_anchors,
        identity::two_column_anchors,
        identity::anchor_validation,
        identity::custom_renames,
    ]
);

// PostgreSQL behind ODBC, spoken to as an unknown database: ANSI SQL, the driver's catalog
// functions, no RETURNING, and no triggers created for it.
backend!(
    odbc_ansi,
    crate::support::Kind::OdbcAnsi,
    [
        scenarios::table_lifecycle,
        scenarios::paging,
        scenarios::views_queries_and_procedures,
        scenarios::object_type_detection,
        scenarios::delta_change_tracking,
        scenarios::delta_snapshot,
        scenarios::passwords,
        identity::renames,
        identity::value_level_members,
        identity::binary_anchors,
        identity::two_column_anchors,
        identity::anchor_validation,
        identity::custom_renames,
    ]
);
