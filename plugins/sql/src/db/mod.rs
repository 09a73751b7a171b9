//! The database layer: which driver a connection string selects, the pool cache, catalog
//! introspection, reading rows and applying an export batch.
//!
//! Everything above this module is driver-neutral: it builds [`Statement`]s with the
//! [`Dialect`] of the [`Database`] and gets back [`Stored`] values and typed [`DbError`]s.
//! Adding PostgreSQL or MySQL means a new `Database` variant and a sibling of [`sqlite`].

mod sqlite;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use crate::error::DbError;
use crate::sql::{Dialect, Statement};
use crate::values::Stored;

/// A column as the catalog declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnInfo {
    pub(crate) name: String,
    /// The declared type, verbatim (may be empty in SQLite).
    pub(crate) declared_type: String,
    /// Position in the primary key, 1-based; 0 when not part of it.
    pub(crate) primary_key: u32,
}

/// How an export operation's success is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// At least one row must be affected, else the object does not exist.
    RowsAffected,
    /// The statement is a lookup that must return a row.
    RowExists,
    /// The statement returns one row whose first `n` columns the caller wants back; a NULL
    /// among them fails the operation.
    Returning(usize),
}

/// One export entry as a single statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Operation {
    pub(crate) statement: Statement,
    pub(crate) check: Check,
}

/// What happened to one operation of a batch. Failed operations were rolled back alone.
#[derive(Debug)]
pub(crate) enum Outcome {
    Done {
        returned: Vec<Stored>,
    },
    NotFound,
    /// A [`Check::Returning`] statement produced no row or a NULL.
    NullReturned,
    Failed(DbError),
}

/// A connection pool to one database.
#[derive(Clone, Debug)]
pub(crate) enum Database {
    Sqlite(sqlx::SqlitePool),
}

impl Database {
    /// Open a pool for `connection_string`. `secret` says the string was answered as a secret,
    /// so that error messages do not repeat any part of it.
    async fn connect(connection_string: &str, secret: bool) -> Result<Self, DbError> {
        sqlite::connect(connection_string, secret)
            .await
            .map(Database::Sqlite)
    }

    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Run a trivial query to prove the database answers.
    pub(crate) async fn ping(&self) -> Result<(), DbError> {
        match self {
            Database::Sqlite(pool) => sqlite::ping(pool).await,
        }
    }

    /// User tables, sorted by name.
    pub(crate) async fn tables(&self) -> Result<Vec<String>, DbError> {
        match self {
            Database::Sqlite(pool) => sqlite::tables(pool).await,
        }
    }

    /// Columns of `table` in declaration order; empty when the table does not exist.
    pub(crate) async fn columns(&self, table: &str) -> Result<Vec<ColumnInfo>, DbError> {
        match self {
            Database::Sqlite(pool) => sqlite::columns(pool, table).await,
        }
    }

    /// Run a query; each row comes back as one optional value per selected column.
    pub(crate) async fn fetch(
        &self,
        statement: &Statement,
    ) -> Result<Vec<Vec<Option<Stored>>>, DbError> {
        match self {
            Database::Sqlite(pool) => sqlite::fetch(pool, statement).await,
        }
    }

    /// Apply `operations` in one transaction, each isolated so that its failure undoes only
    /// itself. `Err` means the batch as a whole failed and nothing was committed.
    pub(crate) async fn apply_batch(
        &self,
        operations: &[Operation],
    ) -> Result<Vec<Outcome>, DbError> {
        match self {
            Database::Sqlite(pool) => sqlite::apply_batch(pool, operations).await,
        }
    }
}

/// Pools by connection string, so that passing the parameter answers with every call (ECMA2
/// style) does not mean a reconnect per call.
#[derive(Default)]
pub(crate) struct Pools {
    pools: Mutex<HashMap<String, Arc<OnceCell<Database>>>>,
}

impl Pools {
    /// The pool for `connection_string`, opened on first use. Concurrent first calls share one
    /// attempt; a failed attempt is not remembered, so the next call tries again.
    pub(crate) async fn get(
        &self,
        connection_string: &str,
        secret: bool,
    ) -> Result<Database, DbError> {
        let cell = {
            let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
            pools
                .entry(connection_string.to_string())
                .or_default()
                .clone()
        };
        cell.get_or_try_init(|| Database::connect(connection_string, secret))
            .await
            .cloned()
    }
}
