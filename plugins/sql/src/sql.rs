//! SQL text generation: the [`Dialect`] of each database, identifier quoting, placeholders,
//! the [`Statement`] every query of this connector is built as, and administrator-written SQL
//! with named parameters ([`NamedSql`]).
//!
//! Security invariant: values only ever travel as [`Bind`] parameters. Identifiers (table and
//! column names from the configuration or the schema) are the only text spliced into SQL, always
//! through [`Dialect::quote_ident`], and callers check them against the discovered schema first.
//! The one other thing spliced in is a PostgreSQL type name read from the catalog, as the target
//! of a `CAST`, and only after [`is_type_name`] accepted it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use ecma_plugin_api::AttributeType;

/// The family of SQL a database speaks, whether reached natively or through ODBC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Flavor {
    Sqlite,
    Postgres,
    MySql,
    /// Any other database behind ODBC: ANSI SQL only.
    Generic,
}

/// How to write SQL for one database connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dialect {
    pub(crate) flavor: Flavor,
    /// `$1, $2, ...` (native PostgreSQL) rather than `?`.
    numbered: bool,
    /// The identifier quote; `None` when the database has none (identifiers must then be plain).
    quote: Option<char>,
    /// Reached through ODBC: values are read as text, so no read casts are needed.
    odbc: bool,
    /// `INSERT ... RETURNING` reports assigned keys (MariaDB has it, MySQL does not).
    returning: bool,
}

impl Dialect {
    pub(crate) const SQLITE: Dialect = Dialect {
        flavor: Flavor::Sqlite,
        numbered: false,
        quote: Some('"'),
        odbc: false,
        returning: true,
    };
    pub(crate) const POSTGRES: Dialect = Dialect {
        flavor: Flavor::Postgres,
        numbered: true,
        quote: Some('"'),
        odbc: false,
        returning: true,
    };
    pub(crate) const MYSQL: Dialect = Dialect {
        flavor: Flavor::MySql,
        numbered: false,
        quote: Some('`'),
        odbc: false,
        returning: false,
    };

    /// The dialect of an ODBC connection to a database of `flavor`, quoting identifiers with
    /// the character the driver reports.
    pub(crate) fn odbc(flavor: Flavor, quote: Option<char>) -> Self {
        Dialect {
            flavor,
            numbered: false,
            quote,
            odbc: true,
            returning: matches!(flavor, Flavor::Sqlite | Flavor::Postgres),
        }
    }

    /// The same dialect, with `INSERT ... RETURNING` known to work (MariaDB 10.5 and later).
    pub(crate) fn with_returning(mut self) -> Self {
        self.returning = true;
        self
    }

    /// `name` as a quoted identifier: wrapped in the quote character, embedded quotes doubled,
    /// so any column name (spaces, dots, quotes) is taken literally.
    pub(crate) fn quote_ident(self, name: &str) -> String {
        match self.quote {
            Some(q) => {
                let doubled = format!("{q}{q}");
                format!("{q}{}{q}", name.replace(q, &doubled))
            }
            // Without a quote character only plain names are safe; anything else is refused
            // when the configuration is validated (see `plain_identifier`).
            None => name.to_string(),
        }
    }

    /// Whether `name` can be written in this dialect without changing its meaning.
    pub(crate) fn can_quote(self, name: &str) -> bool {
        self.quote.is_some() || plain_identifier(name)
    }

    /// The placeholder for the `index`-th (1-based) parameter.
    fn placeholder(self, index: usize) -> String {
        if self.numbered {
            format!("${index}")
        } else {
            "?".to_string()
        }
    }

    /// Whether `INSERT ... RETURNING` reports assigned keys.
    pub(crate) fn supports_returning(self) -> bool {
        self.returning
    }

    /// PostgreSQL will not turn a text parameter into, say, a timestamp or an integer column by
    /// itself: such parameters get an explicit `CAST` to the column's declared type.
    fn needs_cast(self, bind: &Bind, declared: Option<&str>) -> Option<String> {
        // Typed NULLs of integers, booleans and binary fit their columns as they are.
        let untyped = matches!(
            bind,
            Bind::Text(_) | Bind::Null(AttributeType::String | AttributeType::Reference)
        );
        if self.flavor != Flavor::Postgres || !untyped {
            return None;
        }
        let declared = declared?.trim();
        let family = type_family(declared);
        let textual = matches!(
            family.as_str(),
            "" | "text"
                | "character varying"
                | "varchar"
                | "character"
                | "char"
                | "bpchar"
                | "name"
                | "citext"
                | "unknown"
        );
        (!textual && is_type_name(declared)).then(|| declared.to_string())
    }

    /// A select-list item for `column`: native PostgreSQL connections read types the connector
    /// has no decoder for (numeric, uuid, json, enums, ...) as text.
    pub(crate) fn select_item(self, column: &str, declared: Option<&str>) -> String {
        let quoted = self.quote_ident(column);
        if self.flavor != Flavor::Postgres || self.odbc {
            return quoted;
        }
        match declared {
            Some(declared) if !postgres_readable(declared) => {
                format!("CAST({quoted} AS text) AS {quoted}")
            }
            _ => quoted,
        }
    }
}

/// A declared type without its modifiers, in lower case: `character varying(20)` becomes
/// `character varying`.
fn type_family(declared: &str) -> String {
    let mut out = String::with_capacity(declared.len());
    let mut depth = 0usize;
    for c in declared.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Types the PostgreSQL driver decodes natively (see `db::postgres`).
fn postgres_readable(declared: &str) -> bool {
    matches!(
        type_family(declared).as_str(),
        "text"
            | "character varying"
            | "varchar"
            | "character"
            | "char"
            | "bpchar"
            | "name"
            | "smallint"
            | "integer"
            | "bigint"
            | "int2"
            | "int4"
            | "int8"
            | "boolean"
            | "bool"
            | "bytea"
            | "real"
            | "double precision"
            | "float4"
            | "float8"
            | "timestamp without time zone"
            | "timestamp"
            | "timestamp with time zone"
            | "timestamptz"
            | "date"
            | "time without time zone"
            | "time"
    )
}

/// Whether `declared` looks like a type name as PostgreSQL's `format_type` writes it: letters,
/// digits, spaces, `_`, `.`, `,`, `(`, `)`, `[`, `]` and double-quoted parts without quotes
/// inside. Anything else is never spliced into SQL.
pub(crate) fn is_type_name(declared: &str) -> bool {
    !declared.is_empty()
        && !declared.contains("--")
        && !declared.contains("/*")
        && declared.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, ' ' | '_' | '.' | ',' | '(' | ')' | '[' | ']' | '"')
        })
        && declared.matches('"').count() % 2 == 0
}

/// A name that means the same quoted or not: ASCII letters, digits and `_`, not starting with
/// a digit.
pub(crate) fn plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Date(NaiveDate),
    Time(NaiveTime),
    /// The anchor value the first statement of the same operation returned (a key the
    /// database assigned); resolved by the driver before the statement runs.
    Returned,
}

/// SQL text plus its parameters, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind>,
}

impl Statement {
    /// A statement without parameters.
    pub(crate) fn plain(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            binds: Vec::new(),
        }
    }

    /// The same statement with [`Bind::Returned`] replaced by `returned`.
    pub(crate) fn resolved(&self, returned: Option<&Bind>) -> Self {
        Self {
            sql: self.sql.clone(),
            binds: self
                .binds
                .iter()
                .map(|b| match (b, returned) {
                    (Bind::Returned, Some(value)) => value.clone(),
                    (Bind::Returned, None) => Bind::Null(AttributeType::String),
                    (other, _) => other.clone(),
                })
                .collect(),
        }
    }
}

/// `INSERT INTO table (columns) VALUES (...), (...) [RETURNING column]`, kept as its parts so
/// that the rows of inserts of one shape (table, columns, returned column) can travel together
/// in one multi-row statement (see `db::multirow`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Insert {
    table: String,
    /// Each column with its declared type, which decides the casts.
    columns: Vec<(String, Option<String>)>,
    /// The column whose value the database assigns and the statement returns.
    returning: Option<String>,
    /// One value per column in each row.
    rows: Vec<Vec<Bind>>,
}

impl Insert {
    /// An insert of `rows` into `columns` of `table`; `None` when there is no column or no
    /// row, or a row does not have one value per column.
    pub(crate) fn new(
        table: &str,
        columns: Vec<(String, Option<String>)>,
        returning: Option<String>,
        rows: Vec<Vec<Bind>>,
    ) -> Option<Self> {
        let well_formed = !columns.is_empty()
            && !rows.is_empty()
            && rows.iter().all(|row| row.len() == columns.len());
        well_formed.then(|| Self {
            table: table.to_string(),
            columns,
            returning,
            rows,
        })
    }

    pub(crate) fn rows(&self) -> &[Vec<Bind>] {
        &self.rows
    }

    pub(crate) fn returning(&self) -> Option<&str> {
        self.returning.as_deref()
    }

    /// The parameters one row takes.
    pub(crate) fn width(&self) -> usize {
        self.columns.len()
    }

    /// Whether `other`'s rows can share a statement with this insert's.
    pub(crate) fn same_shape(&self, other: &Insert) -> bool {
        self.table == other.table
            && self.columns == other.columns
            && self.returning == other.returning
    }

    /// This insert, all its rows in one statement.
    pub(crate) fn statement(&self, dialect: Dialect) -> Statement {
        self.statement_for(dialect, self.rows.iter().map(|row| (row.as_slice(), None)))
    }

    /// An insert of this shape for `rows` (rows of inserts of the same shape), each with the
    /// value that replaces its [`Bind::Returned`], if known yet.
    pub(crate) fn statement_for<'a>(
        &self,
        dialect: Dialect,
        rows: impl IntoIterator<Item = (&'a [Bind], Option<&'a Bind>)>,
    ) -> Statement {
        let mut b = StatementBuilder::new(dialect);
        b.sql("INSERT INTO ").ident(&self.table).sql(" (");
        b.ident_list(self.columns.iter().map(|(name, _)| name.as_str()))
            .sql(") VALUES ");
        for (i, (row, returned)) in rows.into_iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            self.tuple(&mut b, row, returned);
        }
        if let Some(column) = &self.returning {
            b.sql(" RETURNING ").ident(column);
        }
        b.finish()
    }

    /// PostgreSQL only: an insert of this shape for `rows`, one data-modifying CTE per row,
    /// that returns `(position, returned column)` for each row. A multi-row `RETURNING` comes
    /// back in an order PostgreSQL does not promise; the position says which row a key was
    /// assigned to.
    pub(crate) fn tagged_statement<'a>(
        &self,
        dialect: Dialect,
        rows: impl IntoIterator<Item = &'a [Bind]>,
    ) -> Statement {
        let returning = self.returning.as_deref().unwrap_or_default();
        let mut b = StatementBuilder::new(dialect);
        let mut count = 0usize;
        for (i, row) in rows.into_iter().enumerate() {
            b.sql(if i == 0 { "WITH " } else { ", " })
                .ident(&format!("ecma_row_{i}"))
                .sql(" AS (INSERT INTO ")
                .ident(&self.table)
                .sql(" (")
                .ident_list(self.columns.iter().map(|(name, _)| name.as_str()))
                .sql(") VALUES ");
            self.tuple(&mut b, row, None);
            b.sql(" RETURNING ").ident(returning).sql(")");
            count += 1;
        }
        for i in 0..count {
            b.sql(if i == 0 {
                " SELECT "
            } else {
                " UNION ALL SELECT "
            })
            .bind(Bind::Integer(i64::try_from(i).unwrap_or(i64::MAX)))
            .sql(", ")
            .ident(returning)
            .sql(" FROM ")
            .ident(&format!("ecma_row_{i}"));
        }
        b.finish()
    }

    /// `(?, ?, ...)`: one row's values, cast to their columns' declared types where needed.
    fn tuple(&self, b: &mut StatementBuilder, row: &[Bind], returned: Option<&Bind>) {
        b.sql("(");
        for (i, (value, (_, declared))) in row.iter().zip(&self.columns).enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            let value = match (value, returned) {
                (Bind::Returned, Some(key)) => key.clone(),
                (value, _) => value.clone(),
            };
            b.typed_bind(value, declared.as_deref());
        }
        b.sql(")");
    }
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
        self.typed_bind(value, None)
    }

    /// A parameter for a column declared as `declared`, cast where the dialect needs it.
    pub(crate) fn typed_bind(&mut self, value: Bind, declared: Option<&str>) -> &mut Self {
        let cast = self.dialect.needs_cast(&value, declared);
        self.binds.push(value);
        let placeholder = self.dialect.placeholder(self.binds.len());
        match cast {
            Some(declared) => {
                self.sql.push_str("CAST(");
                self.sql.push_str(&placeholder);
                self.sql.push_str(" AS ");
                self.sql.push_str(&declared);
                self.sql.push(')');
            }
            None => self.sql.push_str(&placeholder),
        }
        self
    }

    /// `"a" = ? AND "b" = ?` for each `(column, value, declared type)`.
    pub(crate) fn equalities(
        &mut self,
        pairs: impl IntoIterator<Item = (String, Bind, Option<String>)>,
    ) -> &mut Self {
        for (i, (column, value, declared)) in pairs.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(" AND ");
            }
            self.ident(&column)
                .sql(" = ")
                .typed_bind(value, declared.as_deref());
        }
        self
    }

    /// `"column" IN (?, ?, ...)`; an empty list matches nothing.
    pub(crate) fn in_list(
        &mut self,
        column: &str,
        values: impl IntoIterator<Item = Bind>,
        declared: Option<&str>,
    ) -> &mut Self {
        self.ident(column).sql(" IN (");
        let mut any = false;
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.typed_bind(value, declared);
            any = true;
        }
        if !any {
            self.sql.push_str("NULL");
        }
        self.sql.push(')');
        self
    }

    /// Rows whose `columns` (each with its declared type) hold one of `tuples`: `"c" IN (...)`
    /// for one column, `(("a" = ? AND "b" = ?) OR ...)` for several, which every SQL dialect
    /// reads (row-value `IN` is not universal). An empty list matches nothing.
    pub(crate) fn tuples_in(
        &mut self,
        columns: &[(&str, Option<&str>)],
        tuples: impl IntoIterator<Item = Vec<Bind>>,
    ) -> &mut Self {
        if let [(column, declared)] = columns {
            return self.in_list(column, tuples.into_iter().flatten(), *declared);
        }
        self.sql.push('(');
        let mut any = false;
        for (i, tuple) in tuples.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(" OR ");
            }
            self.sql.push('(');
            for (j, ((column, declared), value)) in columns.iter().zip(tuple).enumerate() {
                if j > 0 {
                    self.sql.push_str(" AND ");
                }
                self.ident(column).sql(" = ").typed_bind(value, *declared);
            }
            self.sql.push(')');
            any = true;
        }
        if !any {
            self.sql.push_str("1 = 0");
        }
        self.sql.push(')');
        self
    }

    pub(crate) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            binds: self.binds,
        }
    }
}

/// One piece of administrator-written SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Sql(String),
    Param(String),
}

/// Administrator-written SQL with named parameters: `@name` (letters, digits, `_`) or
/// `@{any name}` for attribute names with spaces or punctuation. `@@name` (a MySQL system
/// variable) and `@` inside strings, quoted identifiers and comments are left alone.
///
/// Each parameter becomes a placeholder of the connection's dialect, so the values are bound,
/// never spliced; the same name may appear several times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NamedSql {
    parts: Vec<Part>,
}

impl NamedSql {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut sql = String::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\'' | '"' | '`' => {
                    // A quoted string or identifier; a doubled quote inside stays inside.
                    sql.push(c);
                    i += 1;
                    loop {
                        let Some(&d) = chars.get(i) else {
                            return Err(format!("unterminated {c} quote"));
                        };
                        sql.push(d);
                        i += 1;
                        if d == c {
                            if chars.get(i) == Some(&c) {
                                sql.push(c);
                                i += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                '-' if chars.get(i + 1) == Some(&'-') => {
                    while i < chars.len() && chars[i] != '\n' {
                        sql.push(chars[i]);
                        i += 1;
                    }
                }
                '/' if chars.get(i + 1) == Some(&'*') => {
                    let start = i;
                    i += 2;
                    while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                        i += 1;
                    }
                    if i >= chars.len() {
                        return Err("unterminated /* comment".into());
                    }
                    i += 2;
                    sql.extend(&chars[start..i]);
                }
                '@' if chars.get(i + 1) == Some(&'@') => {
                    sql.push_str("@@");
                    i += 2;
                }
                '@' if chars.get(i + 1) == Some(&'{') => {
                    let start = i + 2;
                    let Some(len) = chars[start..].iter().position(|&d| d == '}') else {
                        return Err("unterminated @{...} parameter".into());
                    };
                    let name: String = chars[start..start + len].iter().collect();
                    if name.is_empty() {
                        return Err("empty @{} parameter".into());
                    }
                    parts.push(Part::Sql(std::mem::take(&mut sql)));
                    parts.push(Part::Param(name));
                    i = start + len + 1;
                }
                '@' if chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_alphanumeric() || *d == '_') =>
                {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                        end += 1;
                    }
                    parts.push(Part::Sql(std::mem::take(&mut sql)));
                    parts.push(Part::Param(chars[start..end].iter().collect()));
                    i = end;
                }
                _ => {
                    sql.push(c);
                    i += 1;
                }
            }
        }
        parts.push(Part::Sql(sql));
        parts.retain(|p| !matches!(p, Part::Sql(s) if s.is_empty()));
        Ok(Self { parts })
    }

    /// The parameter names, in order of first appearance.
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Param(name) = part {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// The statement, with each parameter's value (and the declared type it is cast to, if
    /// any) from `value_of`. An unknown name is an error naming it.
    pub(crate) fn render(
        &self,
        dialect: Dialect,
        value_of: impl FnMut(&str) -> Option<(Bind, Option<String>)>,
    ) -> Result<Statement, String> {
        let mut b = StatementBuilder::new(dialect);
        self.render_into(&mut b, value_of)?;
        Ok(b.finish())
    }

    /// [`NamedSql::render`], appended to a statement being built, so that its placeholders
    /// continue the builder's numbering.
    pub(crate) fn render_into(
        &self,
        b: &mut StatementBuilder,
        mut value_of: impl FnMut(&str) -> Option<(Bind, Option<String>)>,
    ) -> Result<(), String> {
        for part in &self.parts {
            match part {
                Part::Sql(text) => {
                    b.sql(text);
                }
                Part::Param(name) => {
                    let (value, declared) =
                        value_of(name).ok_or_else(|| format!("unknown parameter @{name}"))?;
                    b.typed_bind(value, declared.as_deref());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_embedded_quotes_doubled() {
        let d = Dialect::SQLITE;
        assert_eq!(d.quote_ident("Name"), "\"Name\"");
        assert_eq!(d.quote_ident("first name.x"), "\"first name.x\"");
        assert_eq!(d.quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(
            d.quote_ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
        assert_eq!(Dialect::MYSQL.quote_ident("a`b\"c"), "`a``b\"c`");
        let bare = Dialect::odbc(Flavor::Generic, None);
        assert!(bare.can_quote("plain_name1"));
        assert!(!bare.can_quote("not plain"));
    }

    #[test]
    fn values_become_parameters() {
        let mut b = StatementBuilder::new(Dialect::SQLITE);
        b.sql("UPDATE ")
            .ident("T")
            .sql(" SET ")
            .ident("c")
            .sql(" = ")
            .bind(Bind::Text("x'); --".into()));
        b.sql(" WHERE ")
            .equalities([("id".to_string(), Bind::Integer(4), None)]);
        let s = b.finish();
        assert_eq!(s.sql, "UPDATE \"T\" SET \"c\" = ? WHERE \"id\" = ?");
        assert_eq!(
            s.binds,
            vec![Bind::Text("x'); --".into()), Bind::Integer(4)]
        );
    }

    #[test]
    fn tuples_of_key_columns() {
        let mut b = StatementBuilder::new(Dialect::POSTGRES);
        b.tuples_in(
            &[("a", None), ("b", Some("integer"))],
            [
                vec![Bind::Text("x".into()), Bind::Integer(1)],
                vec![Bind::Text("y".into()), Bind::Integer(2)],
            ],
        );
        assert_eq!(
            b.finish().sql,
            "((\"a\" = $1 AND \"b\" = $2) OR (\"a\" = $3 AND \"b\" = $4))"
        );
        let mut b = StatementBuilder::new(Dialect::SQLITE);
        b.tuples_in(
            &[("a", None)],
            [vec![Bind::Integer(1)], vec![Bind::Integer(2)]],
        );
        assert_eq!(b.finish().sql, "\"a\" IN (?, ?)");
        let mut b = StatementBuilder::new(Dialect::SQLITE);
        b.tuples_in(&[("a", None), ("b", None)], Vec::<Vec<Bind>>::new());
        assert_eq!(b.finish().sql, "(1 = 0)");
    }

    #[test]
    fn postgres_numbers_placeholders_and_casts_text_to_other_types() {
        let mut b = StatementBuilder::new(Dialect::POSTGRES);
        b.typed_bind(Bind::Text("a".into()), Some("character varying(20)"))
            .sql(", ")
            .typed_bind(
                Bind::Text("2024-01-01".into()),
                Some("timestamp without time zone"),
            )
            .sql(", ")
            .typed_bind(Bind::Integer(1), Some("integer"))
            .sql(", ")
            .typed_bind(Bind::Null(AttributeType::String), Some("uuid"))
            .sql(", ")
            .typed_bind(Bind::Text("x".into()), Some("evil); DROP TABLE t; --"));
        assert_eq!(
            b.finish().sql,
            "$1, CAST($2 AS timestamp without time zone), $3, CAST($4 AS uuid), $5"
        );
        let d = Dialect::POSTGRES;
        assert_eq!(
            d.select_item("n", Some("numeric(10,2)")),
            "CAST(\"n\" AS text) AS \"n\""
        );
        assert_eq!(d.select_item("n", Some("integer")), "\"n\"");
        assert_eq!(Dialect::MYSQL.select_item("n", Some("decimal")), "`n`");
    }

    #[test]
    fn named_parameters() {
        let q = NamedSql::parse(
            "UPDATE t SET a = @a, \"b@x\" = '@not', c = @{first name} -- @comment\n WHERE id = @id AND @a IS NOT NULL AND @@sql_mode <> '' /* @c */",
        )
        .unwrap();
        assert_eq!(q.names(), ["a", "first name", "id"]);
        let s = q
            .render(Dialect::POSTGRES, |name| match name {
                "a" => Some((Bind::Integer(1), None)),
                "first name" => Some((Bind::Text("x".into()), None)),
                "id" => Some((Bind::Text("7".into()), Some("integer".into()))),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            s.sql,
            "UPDATE t SET a = $1, \"b@x\" = '@not', c = $2 -- @comment\n WHERE id = CAST($3 AS integer) AND $4 IS NOT NULL AND @@sql_mode <> '' /* @c */"
        );
        assert_eq!(s.binds.len(), 4);
        let err = q
            .render(Dialect::SQLITE, |_| None::<(Bind, Option<String>)>)
            .unwrap_err();
        assert!(err.contains("@a"), "{err}");
        assert!(NamedSql::parse("SELECT 'open").is_err());
        assert!(NamedSql::parse("SELECT @{open").is_err());
        assert_eq!(
            NamedSql::parse("it''s").unwrap().names(),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn type_names_that_may_be_spliced() {
        assert!(is_type_name("timestamp(3) with time zone"));
        assert!(is_type_name("\"MyEnum\""));
        assert!(is_type_name("integer[]"));
        assert!(!is_type_name("text; DROP TABLE x"));
        assert!(!is_type_name("text--"));
        assert!(!is_type_name("\"odd"));
    }
}
