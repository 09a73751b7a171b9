//! Where rows come from: a table, a view, a stored procedure or an SQL query (the methods of
//! Microsoft's schema and run-step pages), and the SQL that reads them.
//!
//! Tables, views and queries are read with a generated `SELECT` of exactly the wanted columns
//! (a query becomes a derived table), so filters such as "anchor in this page's list" work the
//! same on all three. A PostgreSQL set-returning function is selected from the same way. A
//! MySQL or ODBC procedure can only be `CALL`ed: its rows come back whole, in the procedure's
//! own column order, and filters do not apply.

use ecma_plugin_api::ConnectorError;

use crate::config::{PROCEDURE, QUERY, TABLE, VIEW};
use crate::sql::{Bind, Dialect, Flavor, NamedSql, Statement, StatementBuilder};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    Table(String),
    View(String),
    Procedure(String),
    /// Administrator-written SQL; may use named parameters such as `@watermark`.
    Query(String),
}

/// A restriction on the rows read.
pub(crate) enum Filter<'a> {
    /// Rows whose column is not NULL (unaddressable rows have no anchor).
    NotNull(&'a str),
    /// Rows whose column holds one of these values.
    In {
        column: &'a str,
        values: Vec<Bind>,
        declared: Option<&'a str>,
    },
    /// Rows whose column is past this value (a watermark).
    After { column: &'a str, value: Bind },
}

/// How the statement's columns line up with what was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Exactly the requested items, in order, filtered in SQL.
    Items,
    /// The procedure's own columns, unfiltered.
    Whole,
}

impl Source {
    pub(crate) fn from_method(method: &str, text: String) -> Self {
        match method {
            VIEW => Source::View(text),
            PROCEDURE => Source::Procedure(text),
            QUERY => Source::Query(text),
            _ => Source::Table(text),
        }
    }

    /// The method's name as the pages offer it.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Source::Table(_) => TABLE,
            Source::View(_) => VIEW,
            Source::Procedure(_) => PROCEDURE,
            Source::Query(_) => QUERY,
        }
    }

    /// The name or the SQL.
    pub(crate) fn text(&self) -> &str {
        match self {
            Source::Table(t) | Source::View(t) | Source::Procedure(t) | Source::Query(t) => t,
        }
    }

    /// For messages: "table 'Employees'", "the SQL query".
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::Table(t) => format!("table '{t}'"),
            Source::View(v) => format!("view '{v}'"),
            Source::Procedure(p) => format!("stored procedure '{p}'"),
            Source::Query(_) => "the SQL query".to_string(),
        }
    }

    /// Whether reading it yields whole procedure rows (see [`Shape::Whole`]).
    pub(crate) fn is_call(&self, dialect: Dialect) -> bool {
        matches!(self, Source::Procedure(_)) && dialect.flavor != Flavor::Postgres
    }

    fn check_name(&self, dialect: Dialect) -> Result<(), ConnectorError> {
        match self {
            Source::Table(name) | Source::View(name) | Source::Procedure(name)
                if !dialect.can_quote(name) =>
            {
                Err(ConnectorError::invalid_configuration(format!(
                    "'{name}' cannot be written in this database's SQL (it has no identifier quotes)"
                )))
            }
            Source::Procedure(_) if dialect.flavor == Flavor::Sqlite => {
                Err(ConnectorError::invalid_configuration(
                    "SQLite has no stored procedures; use a table, a view or an SQL query",
                ))
            }
            _ => Ok(()),
        }
    }

    /// `"name"(?, ?)` or `CALL name(?, ?)` for a procedure with `args`.
    fn call(&self, b: &mut StatementBuilder, dialect: Dialect, name: &str, args: Vec<Bind>) {
        let generic = dialect.flavor == Flavor::Generic;
        match dialect.flavor {
            Flavor::Postgres => {
                b.ident(name);
            }
            _ if generic => {
                b.sql("{CALL ").ident(name);
            }
            _ => {
                b.sql("CALL ").ident(name);
            }
        }
        b.sql("(");
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.bind(arg);
        }
        b.sql(")");
        if generic {
            b.sql("}");
        }
    }

    /// Every row and column, for describing the source (nothing is filtered or bound).
    pub(crate) fn select_all(&self, dialect: Dialect) -> Result<Statement, ConnectorError> {
        self.check_name(dialect)?;
        let mut b = StatementBuilder::new(dialect);
        match self {
            Source::Table(name) | Source::View(name) => {
                b.sql("SELECT * FROM ").ident(name);
            }
            Source::Procedure(name) if dialect.flavor == Flavor::Postgres => {
                b.sql("SELECT * FROM ");
                self.call(&mut b, dialect, name, Vec::new());
            }
            Source::Procedure(name) => self.call(&mut b, dialect, name, Vec::new()),
            Source::Query(sql) => {
                b.sql(sql);
            }
        }
        Ok(b.finish())
    }

    /// The rows of this source: `items` (column, declared type) where the SQL can choose them,
    /// restricted by `filter`. A query's named parameters and a procedure's arguments come from
    /// `parameter`, by name (a procedure is passed the `watermark` if it is asked for one).
    pub(crate) fn select(
        &self,
        dialect: Dialect,
        items: &[(String, Option<String>)],
        filter: Filter<'_>,
        parameter: &dyn Fn(&str) -> Option<Bind>,
    ) -> Result<(Statement, Shape), ConnectorError> {
        self.check_name(dialect)?;
        let mut b = StatementBuilder::new(dialect);
        let args = || {
            parameter(crate::config::SPECIAL_WATERMARK)
                .into_iter()
                .collect::<Vec<_>>()
        };
        if let Source::Procedure(name) = self {
            if self.is_call(dialect) {
                self.call(&mut b, dialect, name, args());
                return Ok((b.finish(), Shape::Whole));
            }
        }
        b.sql("SELECT ");
        if items.is_empty() {
            b.sql("*");
        }
        for (i, (column, declared)) in items.iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.sql(&dialect.select_item(column, declared.as_deref()));
        }
        b.sql(" FROM ");
        match self {
            Source::Table(name) | Source::View(name) => {
                b.ident(name);
            }
            Source::Procedure(name) => {
                self.call(&mut b, dialect, name, args());
                b.sql(" AS ecma_source");
            }
            Source::Query(sql) => {
                let named = NamedSql::parse(sql).map_err(|m| {
                    ConnectorError::invalid_configuration(format!("the SQL query: {m}"))
                })?;
                // The query's placeholders are numbered within the outer statement.
                b.sql("(");
                append_rendered(&mut b, &named, parameter)?;
                b.sql(") AS ecma_source");
            }
        }
        match filter {
            Filter::NotNull(column) => {
                b.sql(" WHERE ").ident(column).sql(" IS NOT NULL");
            }
            Filter::In {
                column,
                values,
                declared,
            } => {
                b.sql(" WHERE ").in_list(column, values, declared);
            }
            Filter::After { column, value } => {
                b.sql(" WHERE ").ident(column).sql(" > ").bind(value);
            }
        }
        Ok((b.finish(), Shape::Items))
    }
}

/// Append `named`, rendered with the builder's own placeholder numbering.
fn append_rendered(
    b: &mut StatementBuilder,
    named: &NamedSql,
    parameter: &dyn Fn(&str) -> Option<Bind>,
) -> Result<(), ConnectorError> {
    named
        .render_into(b, |name| parameter(name).map(|value| (value, None)))
        .map_err(|m| ConnectorError::invalid_configuration(format!("the SQL query: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(names: &[&str]) -> Vec<(String, Option<String>)> {
        names.iter().map(|n| (n.to_string(), None)).collect()
    }

    #[test]
    fn selects_per_method_and_dialect() {
        let none = |_: &str| None;
        let (s, shape) = Source::Table("Emp".into())
            .select(
                Dialect::SQLITE,
                &items(&["Id", "a b"]),
                Filter::NotNull("Id"),
                &none,
            )
            .unwrap();
        assert_eq!(
            s.sql,
            "SELECT \"Id\", \"a b\" FROM \"Emp\" WHERE \"Id\" IS NOT NULL"
        );
        assert_eq!(shape, Shape::Items);

        let watermark = |name: &str| (name == "watermark").then_some(Bind::Integer(5));
        let (s, _) = Source::Query("SELECT * FROM t WHERE v > @watermark".into())
            .select(
                Dialect::POSTGRES,
                &items(&["Id"]),
                Filter::In {
                    column: "Id",
                    values: vec![Bind::Integer(1), Bind::Integer(2)],
                    declared: None,
                },
                &watermark,
            )
            .unwrap();
        assert_eq!(
            s.sql,
            "SELECT \"Id\" FROM (SELECT * FROM t WHERE v > $1) AS ecma_source WHERE \"Id\" IN ($2, $3)"
        );
        assert_eq!(
            s.binds,
            vec![Bind::Integer(5), Bind::Integer(1), Bind::Integer(2)]
        );

        let (s, shape) = Source::Procedure("list_users".into())
            .select(
                Dialect::MYSQL,
                &items(&["Id"]),
                Filter::NotNull("Id"),
                &watermark,
            )
            .unwrap();
        assert_eq!(
            (s.sql.as_str(), shape),
            ("CALL `list_users`(?)", Shape::Whole)
        );
        let (s, shape) = Source::Procedure("list_users".into())
            .select(
                Dialect::POSTGRES,
                &items(&["Id"]),
                Filter::NotNull("Id"),
                &none,
            )
            .unwrap();
        assert_eq!(
            (s.sql.as_str(), shape),
            (
                "SELECT \"Id\" FROM \"list_users\"() AS ecma_source WHERE \"Id\" IS NOT NULL",
                Shape::Items
            )
        );
        assert!(Source::Procedure("p".into())
            .select_all(Dialect::SQLITE)
            .is_err());
        assert_eq!(
            Source::Procedure("p".into())
                .select_all(Dialect::odbc(Flavor::Generic, Some('"')))
                .unwrap()
                .sql,
            "{CALL \"p\"()}"
        );
    }
}
