//! Catalog introspection: tables, views, stored procedures and their parameters, and the
//! columns of a table, as SQL per [`Flavor`], run through the ordinary query path. A database of
//! a known flavor reached through ODBC is therefore introspected like a native one; only the
//! generic ODBC flavor uses the driver's catalog functions.
//!
//! Everything is scoped to the connection's current schema (PostgreSQL `current_schema()`,
//! MySQL `DATABASE()`), which is what the wizard pages list.

use super::{Backend, ColumnInfo, Database, Row};
use crate::error::DbError;
use crate::sql::{Bind, Flavor, Statement, StatementBuilder};
use crate::values::Stored;

/// Whether a routine is called with `CALL` (a procedure) or selected from (a function).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoutineKind {
    Procedure,
    Function,
}

/// One input parameter of a stored procedure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcedureParameter {
    /// The name without a leading `@` or `p_`/`in_` prefix is what attributes are matched to.
    pub(crate) name: String,
    pub(crate) declared_type: String,
}

fn text(cell: Option<&Option<Stored>>) -> String {
    match cell {
        Some(Some(Stored::Text(s))) => s.clone(),
        Some(Some(Stored::Blob(b))) => String::from_utf8_lossy(b).into_owned(),
        Some(Some(Stored::Integer(i))) => i.to_string(),
        _ => String::new(),
    }
}

fn integer(cell: Option<&Option<Stored>>) -> i64 {
    match cell {
        Some(Some(Stored::Integer(i))) => *i,
        Some(Some(Stored::Text(s))) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn names(rows: Vec<Row>) -> Vec<String> {
    rows.iter().map(|r| text(r.first())).collect()
}

impl Database {
    fn with_name(&self, sql: &str, name: &str) -> Statement {
        // Catalog SQL is fixed text with `{}` where the one parameter goes, written in the
        // placeholder style of the dialect.
        let mut b = StatementBuilder::new(self.dialect);
        let (before, after) = sql.split_once("{}").unwrap_or((sql, ""));
        b.sql(before).bind(Bind::Text(name.to_string())).sql(after);
        b.finish()
    }

    /// User tables of the current schema, sorted by name.
    pub(crate) async fn tables(&self) -> Result<Vec<String>, DbError> {
        let sql = match self.flavor() {
            Flavor::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            }
            Flavor::Postgres => {
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1"
            }
            Flavor::MySql => {
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
            }
            Flavor::Generic => return self.odbc_tables("TABLE").await,
        };
        Ok(names(self.fetch(&Statement::plain(sql)).await?))
    }

    /// Views of the current schema, sorted by name.
    pub(crate) async fn views(&self) -> Result<Vec<String>, DbError> {
        let sql = match self.flavor() {
            Flavor::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name",
            Flavor::Postgres => {
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm') ORDER BY 1"
            }
            Flavor::MySql => {
                "SELECT TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'VIEW' ORDER BY TABLE_NAME"
            }
            Flavor::Generic => return self.odbc_tables("VIEW").await,
        };
        Ok(names(self.fetch(&Statement::plain(sql)).await?))
    }

    /// Stored procedures (and, in PostgreSQL, functions) of the current schema. SQLite has
    /// none.
    pub(crate) async fn procedures(&self) -> Result<Vec<String>, DbError> {
        let sql = match self.flavor() {
            Flavor::Sqlite | Flavor::Generic => return Ok(Vec::new()),
            Flavor::Postgres => {
                "SELECT DISTINCT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p') ORDER BY 1"
            }
            Flavor::MySql => {
                "SELECT ROUTINE_NAME FROM information_schema.ROUTINES \
                 WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY ROUTINE_NAME"
            }
        };
        Ok(names(self.fetch(&Statement::plain(sql)).await?))
    }

    /// How `name` is called and its input parameters in order; `None` if there is no such
    /// routine.
    pub(crate) async fn procedure(
        &self,
        name: &str,
    ) -> Result<Option<(RoutineKind, Vec<ProcedureParameter>)>, DbError> {
        let (kind_sql, parameters_sql) = match self.flavor() {
            Flavor::Sqlite | Flavor::Generic => return Ok(None),
            // Of overloaded routines, the one with the smallest specific name is used.
            Flavor::Postgres => (
                "SELECT r.routine_type::text FROM information_schema.routines r \
                 WHERE r.routine_schema = current_schema() AND r.routine_name = {} \
                 ORDER BY r.specific_name LIMIT 1",
                "SELECT COALESCE(p.parameter_name, '')::text, \
                 (CASE WHEN p.data_type IN ('USER-DEFINED', 'ARRAY') THEN p.udt_name ELSE p.data_type END)::text \
                 FROM information_schema.parameters p \
                 WHERE p.specific_schema = current_schema() AND p.parameter_mode IN ('IN', 'INOUT') \
                 AND p.specific_name = (SELECT min(r.specific_name) FROM information_schema.routines r \
                   WHERE r.routine_schema = current_schema() AND r.routine_name = {}) \
                 ORDER BY p.ordinal_position",
            ),
            Flavor::MySql => (
                "SELECT ROUTINE_TYPE FROM information_schema.ROUTINES \
                 WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = {} LIMIT 1",
                "SELECT COALESCE(PARAMETER_NAME, ''), DATA_TYPE FROM information_schema.PARAMETERS \
                 WHERE SPECIFIC_SCHEMA = DATABASE() AND SPECIFIC_NAME = {} \
                 AND PARAMETER_MODE IN ('IN', 'INOUT') ORDER BY ORDINAL_POSITION",
            ),
        };
        let kinds = self.fetch(&self.with_name(kind_sql, name)).await?;
        let Some(row) = kinds.first() else {
            return Ok(None);
        };
        let kind = if text(row.first()).eq_ignore_ascii_case("PROCEDURE") {
            RoutineKind::Procedure
        } else {
            RoutineKind::Function
        };
        let parameters = self
            .fetch(&self.with_name(parameters_sql, name))
            .await?
            .iter()
            .map(|r| ProcedureParameter {
                name: text(r.first()),
                declared_type: text(r.get(1)),
            })
            .collect();
        Ok(Some((kind, parameters)))
    }

    /// Columns of `table` (or view) in declaration order; empty when it does not exist.
    pub(crate) async fn columns(&self, table: &str) -> Result<Vec<ColumnInfo>, DbError> {
        let sql = match self.flavor() {
            // The table-valued form of the pragma takes the name as a bound parameter.
            Flavor::Sqlite => "SELECT name, type, pk FROM pragma_table_info({}) ORDER BY cid",
            Flavor::Postgres => {
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)::text, \
                 COALESCE((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0)::int8 \
                 FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                 WHERE n.nspname = current_schema() AND c.relname = {} \
                 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            }
            Flavor::MySql => {
                "SELECT c.COLUMN_NAME, c.COLUMN_TYPE, COALESCE(k.ORDINAL_POSITION, 0) \
                 FROM information_schema.COLUMNS c \
                 LEFT JOIN information_schema.KEY_COLUMN_USAGE k \
                 ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME \
                 AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY' \
                 WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = {} ORDER BY c.ORDINAL_POSITION"
            }
            Flavor::Generic => return self.odbc_columns(table).await,
        };
        let rows = self.fetch(&self.with_name(sql, table)).await?;
        Ok(rows
            .iter()
            .map(|r| ColumnInfo {
                name: text(r.first()),
                declared_type: text(r.get(1)),
                primary_key: u32::try_from(integer(r.get(2))).unwrap_or(0),
            })
            .collect())
    }

    async fn odbc_tables(&self, kind: &'static str) -> Result<Vec<String>, DbError> {
        match &self.backend {
            Backend::Odbc(pool) => pool.tables(kind).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn odbc_columns(&self, table: &str) -> Result<Vec<ColumnInfo>, DbError> {
        match &self.backend {
            Backend::Odbc(pool) => pool.columns(table.to_string()).await,
            _ => Ok(Vec::new()),
        }
    }
}
