//! SQL text generation: identifier quoting, placeholders, and the [`Statement`] every query of
//! this connector is built as.
//!
//! Security invariant: values only ever travel as [`Bind`] parameters. Identifiers (table and
//! column names from the configuration or the schema) are the only text spliced into SQL, always
//! through [`Dialect::quote_ident`], and callers check them against the discovered schema first.

use ecma_plugin_api::AttributeType;

/// The SQL flavour of a database. Only SQLite exists in this build; PostgreSQL (`$n`
/// placeholders) and MySQL (backtick quoting) become variants here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
}

impl Dialect {
    /// `name` as a quoted identifier: wrapped in double quotes, embedded quotes doubled, so any
    /// column name (spaces, dots, quotes) is taken literally.
    pub(crate) fn quote_ident(self, name: &str) -> String {
        match self {
            Dialect::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// The placeholder for the `index`-th (1-based) parameter.
    fn placeholder(self, _index: usize) -> &'static str {
        match self {
            Dialect::Sqlite => "?",
        }
    }
}

/// A value bound to a statement parameter, in the database's terms.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Bind {
    /// NULL, with the column type so that drivers with typed parameters can bind it.
    Null(AttributeType),
    Text(String),
    Integer(i64),
    Real(f64),
    Boolean(bool),
    Blob(Vec<u8>),
}

/// SQL text plus its parameters, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind>,
}

/// Appends SQL text, quoted identifiers and parameters to one statement.
pub(crate) struct StatementBuilder {
    dialect: Dialect,
    sql: String,
    binds: Vec<Bind>,
}

impl StatementBuilder {
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            sql: String::with_capacity(128),
            binds: Vec::new(),
        }
    }

    /// Fixed SQL text. Never pass anything derived from input here.
    pub(crate) fn sql(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    pub(crate) fn ident(&mut self, name: &str) -> &mut Self {
        let quoted = self.dialect.quote_ident(name);
        self.sql.push_str(&quoted);
        self
    }

    /// Quoted identifiers separated by `, `.
    pub(crate) fn ident_list<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> &mut Self {
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.ident(name);
        }
        self
    }

    pub(crate) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        let placeholder = self.dialect.placeholder(self.binds.len());
        self.sql.push_str(placeholder);
        self
    }

    /// `"a" = ? AND "b" = ?` for each `(column, value)`.
    pub(crate) fn equalities(
        &mut self,
        pairs: impl IntoIterator<Item = (String, Bind)>,
    ) -> &mut Self {
        for (i, (column, value)) in pairs.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(" AND ");
            }
            self.ident(&column).sql(" = ").bind(value);
        }
        self
    }

    pub(crate) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            binds: self.binds,
        }
    }
}

/// `SELECT cols FROM table [WHERE anchor > ?] ORDER BY anchor LIMIT ?`: one keyset page.
///
/// Keyset rather than OFFSET pagination, so that every page costs an index seek whatever its
/// position in a large table. Rows without an anchor cannot be addressed and are skipped.
pub(crate) fn select_page(
    dialect: Dialect,
    table: &str,
    columns: &[String],
    anchor: &str,
    after: Option<Bind>,
    limit: i64,
) -> Statement {
    let mut b = StatementBuilder::new(dialect);
    b.sql("SELECT ")
        .ident_list(columns.iter().map(String::as_str))
        .sql(" FROM ")
        .ident(table)
        .sql(" WHERE ")
        .ident(anchor);
    match after {
        Some(last) => b.sql(" > ").bind(last),
        None => b.sql(" IS NOT NULL"),
    };
    b.sql(" ORDER BY ")
        .ident(anchor)
        .sql(" LIMIT ")
        .bind(Bind::Integer(limit));
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_embedded_quotes_doubled() {
        let d = Dialect::Sqlite;
        assert_eq!(d.quote_ident("Name"), "\"Name\"");
        assert_eq!(d.quote_ident("first name.x"), "\"first name.x\"");
        assert_eq!(d.quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            d.quote_ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
    }

    #[test]
    fn values_become_parameters() {
        let mut b = StatementBuilder::new(Dialect::Sqlite);
        b.sql("UPDATE ")
            .ident("T")
            .sql(" SET ")
            .ident("c")
            .sql(" = ")
            .bind(Bind::Text("x'); --".into()));
        b.sql(" WHERE ")
            .equalities([("id".to_string(), Bind::Integer(4))]);
        let s = b.finish();
        assert_eq!(s.sql, "UPDATE \"T\" SET \"c\" = ? WHERE \"id\" = ?");
        assert_eq!(
            s.binds,
            vec![Bind::Text("x'); --".into()), Bind::Integer(4)]
        );
    }

    #[test]
    fn keyset_page_statements() {
        let cols = vec!["id".to_string(), "na\"me".to_string()];
        let first = select_page(Dialect::Sqlite, "T", &cols, "id", None, 11);
        assert_eq!(first.sql, "SELECT \"id\", \"na\"\"me\" FROM \"T\" WHERE \"id\" IS NOT NULL ORDER BY \"id\" LIMIT ?");
        let next = select_page(
            Dialect::Sqlite,
            "T",
            &cols,
            "id",
            Some(Bind::Text("k".into())),
            11,
        );
        assert_eq!(
            next.sql,
            "SELECT \"id\", \"na\"\"me\" FROM \"T\" WHERE \"id\" > ? ORDER BY \"id\" LIMIT ?"
        );
        assert_eq!(next.binds, vec![Bind::Text("k".into()), Bind::Integer(11)]);
    }
}
