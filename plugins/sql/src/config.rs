//! The connector's parameters: their exact names, and how the answers resolve, against the
//! live catalog, into a [`ConnectionSpec`], the [`Global`] delta settings and one
//! [`ObjectTypeMap`] per object type.
//!
//! The host merges every page's answers into one set (as ECMA2 does), so names are unique
//! across pages: global names for the connection, object-type detection and global pages,
//! `Type:...` for per-object-type answers and `Type:Column:...` for per-attribute ones. An
//! unanswered parameter takes the default its page offers, so the outcome is the same whether
//! or not the host filled defaults in.

use std::collections::HashSet;
use std::path::PathBuf;

use ecma_plugin_api::{
    AttributeDirection, AttributeType, ConnectorError, ObjectTypeSchema, ParameterValues,
    SchemaAttribute, Secret,
};

use crate::db::{
    ColumnInfo, ConnectionSpec, Database, DriverKind, ProcedureParameter, RoutineKind, TlsMode,
};
use crate::source::Source;
use crate::sql::{Flavor, NamedSql, StatementBuilder};
use crate::values::{discover_type, parse_bool, parse_type_name, DateTimeFormat, Stored};

// Connectivity.
pub(crate) const DRIVER: &str = "driver";
pub(crate) const CONNECTION_STRING: &str = "connection_string";
pub(crate) const HOST: &str = "host";
pub(crate) const PORT: &str = "port";
pub(crate) const DATABASE: &str = "database";
pub(crate) const USER: &str = "user";
pub(crate) const PASSWORD: &str = "password";
pub(crate) const TLS_MODE: &str = "tls_mode";
pub(crate) const TLS_CA_FILE: &str = "tls_ca_file";
pub(crate) const DSN_FILE: &str = "dsn_file";
pub(crate) const ODBC_DIALECT: &str = "odbc_dialect";
pub(crate) const POOL_SIZE: &str = "pool_size";

pub(crate) const DRIVERS: [&str; 4] = ["SQLite", "PostgreSQL", "MySQL", "ODBC"];
pub(crate) const TLS_MODES: [&str; 5] = ["Disable", "Prefer", "Require", "VerifyCa", "VerifyFull"];
pub(crate) const ODBC_DIALECTS: [&str; 5] = ["Auto", "PostgreSQL", "MySQL", "SQLite", "ANSI"];

// Schema 1.
pub(crate) const OBJECT_TYPE_DETECTION: &str = "object_type_detection";
pub(crate) const OBJECT_TYPES: &str = "object_types";
pub(crate) const OBJECT_TYPE_TABLE: &str = "object_type_table";
pub(crate) const OBJECT_TYPE_COLUMN: &str = "object_type_column";
pub(crate) const OBJECT_TYPE_QUERY: &str = "object_type_query";

pub(crate) const FIXED_VALUE: &str = "Fixed value";
pub(crate) const DEFAULT_OBJECT_TYPES: &str = "User";
pub(crate) const TABLE: &str = "Table";
pub(crate) const VIEW: &str = "View";
pub(crate) const PROCEDURE: &str = "Stored procedure";
pub(crate) const QUERY: &str = "SQL query";
pub(crate) const NONE: &str = "None";

pub(crate) const OBJECT_TYPE_DETECTIONS: [&str; 3] = [FIXED_VALUE, TABLE, QUERY];
pub(crate) const ATTRIBUTE_DETECTIONS: [&str; 4] = [TABLE, VIEW, PROCEDURE, QUERY];
pub(crate) const IMPORT_METHODS: [&str; 4] = [TABLE, VIEW, PROCEDURE, QUERY];
pub(crate) const EXPORT_METHODS: [&str; 3] = [TABLE, PROCEDURE, QUERY];
pub(crate) const PASSWORD_METHODS: [&str; 3] = [NONE, PROCEDURE, QUERY];
pub(crate) const DIRECTIONS: [&str; 3] = ["ImportExport", "ImportOnly", "ExportOnly"];

// Global.
pub(crate) const DELTA_STRATEGY: &str = "delta_strategy";
pub(crate) const WATERMARK_QUERY: &str = "watermark_query";
pub(crate) const DATE_TIME_FORMAT: &str = "date_time_format";
pub(crate) const CHANGE_TABLE: &str = "change_table";
pub(crate) const CREATE_CHANGE_TRACKING: &str = "create_change_tracking";
pub(crate) const SNAPSHOT_TABLE: &str = "snapshot_table";

pub(crate) const WATERMARK: &str = "Watermark";
pub(crate) const CHANGE_TRACKING: &str = "Change tracking";
pub(crate) const SNAPSHOT: &str = "Snapshot";
pub(crate) const DELTA_STRATEGIES: [&str; 4] = [NONE, WATERMARK, CHANGE_TRACKING, SNAPSHOT];
pub(crate) const DEFAULT_CHANGE_TABLE: &str = "ecma_changes";
pub(crate) const DEFAULT_SNAPSHOT_TABLE: &str = "ecma_snapshot";

/// Named parameters an export statement may use besides the attributes.
pub(crate) const SPECIAL_ANCHOR: &str = "anchor";
pub(crate) const SPECIAL_DN: &str = "dn";
pub(crate) const SPECIAL_OBJECT_TYPE: &str = "object_type";
pub(crate) const SPECIAL_PASSWORD: &str = "password";
pub(crate) const SPECIAL_WATERMARK: &str = "watermark";
/// In an update statement: the anchor (and DN) the object has after the change, the same as
/// `@anchor` (`@dn`) unless the entry renames it.
pub(crate) const SPECIAL_NEW_ANCHOR: &str = "new_anchor";
pub(crate) const SPECIAL_NEW_DN: &str = "new_dn";

/// `Type:suffix`, the name of a per-object-type parameter.
pub(crate) fn key(object_type: &str, suffix: &str) -> String {
    format!("{object_type}:{suffix}")
}

/// `Type:Column:suffix`, the name of a per-attribute (or per-child-table) parameter.
pub(crate) fn column_key(object_type: &str, column: &str, suffix: &str) -> String {
    format!("{object_type}:{column}:{suffix}")
}

pub(crate) fn attribute_detection_key(object_type: &str) -> String {
    key(object_type, "attribute_detection")
}

pub(crate) fn table_key(object_type: &str) -> String {
    key(object_type, "table")
}

pub(crate) fn anchor_key(object_type: &str) -> String {
    key(object_type, "anchor")
}

pub(crate) fn dn_key(object_type: &str) -> String {
    key(object_type, "dn")
}

pub(crate) fn dn_is_anchor_key(object_type: &str) -> String {
    key(object_type, "dn_is_anchor")
}

pub(crate) fn type_key(object_type: &str, column: &str) -> String {
    column_key(object_type, column, "type")
}

pub(crate) fn direction_key(object_type: &str, column: &str) -> String {
    column_key(object_type, column, "direction")
}

/// A non-empty answer.
pub(crate) fn answer<'a>(values: &'a ParameterValues, name: &str) -> Option<&'a str> {
    values.get(name).map(str::trim).filter(|v| !v.is_empty())
}

fn invalid(message: impl Into<String>) -> ConnectorError {
    ConnectorError::invalid_configuration(message)
}

/// One of `options`, or an error naming the parameter and the options.
fn choice<'a>(
    values: &ParameterValues,
    name: &str,
    options: &[&'a str],
    default: &'a str,
) -> Result<&'a str, ConnectorError> {
    match answer(values, name) {
        None => Ok(default),
        Some(given) => options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(given))
            .copied()
            .ok_or_else(|| {
                invalid(format!(
                    "parameter '{name}' is '{given}'; use one of {}",
                    options.join(", ")
                ))
            }),
    }
}

fn flag(values: &ParameterValues, name: &str, default: bool) -> Result<bool, ConnectorError> {
    match answer(values, name) {
        None => Ok(default),
        Some(v) => parse_bool(v)
            .ok_or_else(|| invalid(format!("parameter '{name}' must be true or false"))),
    }
}

/// The driver a connection string's scheme implies: sqlx URLs for PostgreSQL and MySQL,
/// anything else is left to the SQLite rules (which name an unknown scheme in their error).
fn driver_of_url(connection_string: &str) -> DriverKind {
    let lower = connection_string.trim().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        DriverKind::Postgres
    } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        DriverKind::MySql
    } else {
        DriverKind::Sqlite
    }
}

/// The driver answered, or the one the other answers imply (a URL's scheme, a DSN file).
pub(crate) fn driver(values: &ParameterValues) -> Result<DriverKind, ConnectorError> {
    if let Some(given) = answer(values, DRIVER) {
        return match choice(values, DRIVER, &DRIVERS, DRIVERS[0])? {
            "PostgreSQL" => Ok(DriverKind::Postgres),
            "MySQL" => Ok(DriverKind::MySql),
            "ODBC" => Ok(DriverKind::Odbc),
            "SQLite" => Ok(DriverKind::Sqlite),
            _ => Err(invalid(format!("parameter '{DRIVER}' is '{given}'"))),
        };
    }
    Ok(match answer(values, CONNECTION_STRING) {
        Some(cs) => driver_of_url(cs),
        None if answer(values, DSN_FILE).is_some() => DriverKind::Odbc,
        None => DriverKind::Sqlite,
    })
}

/// The Connectivity page's answers as connection settings.
pub(crate) fn connection_spec(values: &ParameterValues) -> Result<ConnectionSpec, ConnectorError> {
    let driver = driver(values)?;
    let text = |name: &str| answer(values, name).map(str::to_string);
    let port = match answer(values, PORT) {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| {
            invalid(format!(
                "parameter '{PORT}' must be a port number (1-65535)"
            ))
        })?),
    };
    let tls = match answer(values, TLS_MODE) {
        None => None,
        Some(_) => Some(match choice(values, TLS_MODE, &TLS_MODES, "Prefer")? {
            "Disable" => TlsMode::Disable,
            "Require" => TlsMode::Require,
            "VerifyCa" => TlsMode::VerifyCa,
            "VerifyFull" => TlsMode::VerifyFull,
            _ => TlsMode::Prefer,
        }),
    };
    let odbc_flavor = match choice(values, ODBC_DIALECT, &ODBC_DIALECTS, "Auto")? {
        "PostgreSQL" => Some(Flavor::Postgres),
        "MySQL" => Some(Flavor::MySql),
        "SQLite" => Some(Flavor::Sqlite),
        "ANSI" => Some(Flavor::Generic),
        _ => None,
    };
    let pool_size = match answer(values, POOL_SIZE) {
        None => None,
        Some(n) => Some(
            n.parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| invalid(format!("parameter '{POOL_SIZE}' must be 1 to 1000")))?,
        ),
    };
    let spec = ConnectionSpec {
        driver,
        connection_string: text(CONNECTION_STRING),
        connection_string_secret: values.is_secret(CONNECTION_STRING),
        host: text(HOST),
        port,
        database: text(DATABASE),
        user: text(USER),
        // The password is taken verbatim: spaces may be part of it.
        password: values
            .get(PASSWORD)
            .filter(|p| !p.is_empty())
            .map(Secret::new),
        tls,
        tls_ca: text(TLS_CA_FILE).map(PathBuf::from),
        dsn_file: text(DSN_FILE).map(PathBuf::from),
        odbc_flavor,
        pool_size,
    };
    match driver {
        DriverKind::Sqlite if spec.connection_string.is_none() && spec.database.is_none() => Err(
            invalid(format!("parameter '{CONNECTION_STRING}' is required")),
        ),
        DriverKind::Postgres | DriverKind::MySql
            if spec.connection_string.is_none() && spec.database.is_none() =>
        {
            Err(invalid(format!(
                "parameter '{DATABASE}' is required for {} when there is no '{CONNECTION_STRING}' \
                 (give the database, or a URL such as {})",
                if driver == DriverKind::Postgres {
                    "PostgreSQL"
                } else {
                    "MySQL"
                },
                if driver == DriverKind::Postgres {
                    "postgres://user@host:5432/db"
                } else {
                    "mysql://user@host:3306/db"
                }
            )))
        }
        DriverKind::Odbc if spec.connection_string.is_none() && spec.dsn_file.is_none() => Err(
            invalid(format!("parameter '{DSN_FILE}' is required for ODBC")),
        ),
        _ => Ok(spec),
    }
}

/// How deltas are found (the Global page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeltaStrategy {
    None,
    /// Rows changed since the last watermark, by a watermark query and a delta source.
    Watermark,
    /// A change table filled by triggers.
    ChangeTracking,
    /// A digest of every row, kept in a snapshot table and compared at each delta.
    Snapshot,
}

/// The Global page's answers.
#[derive(Clone, Debug)]
pub(crate) struct Global {
    pub(crate) strategy: DeltaStrategy,
    pub(crate) watermark_query: Option<String>,
    pub(crate) format: DateTimeFormat,
    pub(crate) change_table: String,
    pub(crate) create_change_tracking: bool,
    pub(crate) snapshot_table: String,
}

pub(crate) fn delta_strategy(values: &ParameterValues) -> Result<DeltaStrategy, ConnectorError> {
    Ok(
        match choice(values, DELTA_STRATEGY, &DELTA_STRATEGIES, NONE)? {
            WATERMARK => DeltaStrategy::Watermark,
            CHANGE_TRACKING => DeltaStrategy::ChangeTracking,
            SNAPSHOT => DeltaStrategy::Snapshot,
            _ => DeltaStrategy::None,
        },
    )
}

pub(crate) fn global(values: &ParameterValues) -> Result<Global, ConnectorError> {
    let strategy = delta_strategy(values)?;
    let watermark_query = answer(values, WATERMARK_QUERY).map(str::to_string);
    if strategy == DeltaStrategy::Watermark && watermark_query.is_none() {
        return Err(invalid(format!(
            "parameter '{WATERMARK_QUERY}' is required with the Watermark delta strategy"
        )));
    }
    let format = DateTimeFormat::parse(answer(values, DATE_TIME_FORMAT).unwrap_or(""))
        .map_err(|m| invalid(format!("parameter '{DATE_TIME_FORMAT}': {m}")))?;
    Ok(Global {
        strategy,
        watermark_query,
        format,
        change_table: answer(values, CHANGE_TABLE)
            .unwrap_or(DEFAULT_CHANGE_TABLE)
            .to_string(),
        create_change_tracking: flag(values, CREATE_CHANGE_TRACKING, false)?,
        snapshot_table: answer(values, SNAPSHOT_TABLE)
            .unwrap_or(DEFAULT_SNAPSHOT_TABLE)
            .to_string(),
    })
}

/// How object types are found (Schema 1).
pub(crate) fn object_type_detection(
    values: &ParameterValues,
) -> Result<&'static str, ConnectorError> {
    choice(
        values,
        OBJECT_TYPE_DETECTION,
        &OBJECT_TYPE_DETECTIONS,
        FIXED_VALUE,
    )
}

/// The object type names as listed in `object_types`, trimmed, in order, without empties.
/// Duplicates are kept so that validation can point them out.
pub(crate) fn listed_object_types(values: &ParameterValues) -> Vec<String> {
    split_list(answer(values, OBJECT_TYPES).unwrap_or(DEFAULT_OBJECT_TYPES))
}

/// A comma-separated list, trimmed, without empties.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn dedupe(mut types: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    types.retain(|t| seen.insert(t.clone()));
    types
}

/// The object types, by the configured detection: the fixed list, the distinct values of a
/// table's column, or the first column of a query's rows.
pub(crate) async fn object_types(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<String>, ConnectorError> {
    let rows = match object_type_detection(values)? {
        TABLE => {
            let table = answer(values, OBJECT_TYPE_TABLE)
                .ok_or_else(|| invalid(format!("parameter '{OBJECT_TYPE_TABLE}' is required")))?;
            let column = answer(values, OBJECT_TYPE_COLUMN)
                .ok_or_else(|| invalid(format!("parameter '{OBJECT_TYPE_COLUMN}' is required")))?;
            let dialect = db.dialect();
            if !dialect.can_quote(table) || !dialect.can_quote(column) {
                return Err(invalid(format!(
                    "'{table}'.'{column}' cannot be written in this database's SQL"
                )));
            }
            let mut b = StatementBuilder::new(dialect);
            b.sql("SELECT DISTINCT ")
                .ident(column)
                .sql(" FROM ")
                .ident(table)
                .sql(" WHERE ")
                .ident(column)
                .sql(" IS NOT NULL");
            db.fetch(&b.finish()).await?
        }
        QUERY => {
            let query = answer(values, OBJECT_TYPE_QUERY)
                .ok_or_else(|| invalid(format!("parameter '{OBJECT_TYPE_QUERY}' is required")))?;
            db.fetch(&crate::sql::Statement::plain(query)).await?
        }
        _ => return Ok(dedupe(listed_object_types(values))),
    };
    let mut types: Vec<String> = rows
        .into_iter()
        .filter_map(|row| match row.into_iter().next().flatten() {
            Some(Stored::Text(s)) => Some(s.trim().to_string()),
            Some(Stored::Integer(i)) => Some(i.to_string()),
            Some(Stored::Blob(b)) => Some(String::from_utf8_lossy(&b).trim().to_string()),
            _ => None,
        })
        .filter(|t| !t.is_empty())
        .collect();
    types.sort();
    let types = dedupe(types);
    if let Some(bad) = types.iter().find(|t| t.contains(':')) {
        return Err(invalid(format!(
            "object type '{bad}' contains ':', which parameter names use as a separator"
        )));
    }
    Ok(types)
}

/// The table a type maps to by default: the one named like the type, ignoring ASCII case.
pub(crate) fn default_table<'a>(tables: &'a [String], object_type: &str) -> Option<&'a str> {
    tables
        .iter()
        .find(|t| t.eq_ignore_ascii_case(object_type))
        .map(String::as_str)
}

/// The anchor a table suggests: its primary key, when that is a single column.
pub(crate) fn default_anchor(columns: &[ColumnInfo]) -> Option<&str> {
    let mut keys = columns.iter().filter(|c| c.primary_key > 0);
    match (keys.next(), keys.next()) {
        (Some(only), None) => Some(&only.name),
        _ => None,
    }
}

/// Where an object type's attributes are detected (Schema 2), answered or defaulted; for a
/// table, the default is the table named like the type.
pub(crate) async fn detection_source(
    db: &Database,
    values: &ParameterValues,
    object_type: &str,
) -> Result<Source, ConnectorError> {
    let method = choice(
        values,
        &attribute_detection_key(object_type),
        &ATTRIBUTE_DETECTIONS,
        TABLE,
    )?;
    let required = |suffix: &str| {
        let name = key(object_type, suffix);
        answer(values, &name)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("parameter '{name}' is required")))
    };
    Ok(match method {
        VIEW => Source::View(required("view")?),
        PROCEDURE => Source::Procedure(required("procedure")?),
        QUERY => Source::Query(required("attribute_query")?),
        _ => match answer(values, &table_key(object_type)) {
            Some(table) => Source::Table(table.to_string()),
            None => {
                let tables = db.tables().await?;
                Source::Table(
                    default_table(&tables, object_type)
                        .map(str::to_string)
                        .ok_or_else(|| {
                            invalid(format!(
                                "parameter '{}' is required",
                                table_key(object_type)
                            ))
                        })?,
                )
            }
        },
    })
}

/// The parameter that named `source` for `object_type`'s attribute detection.
pub(crate) fn detection_parameter(object_type: &str, source: &Source) -> String {
    key(
        object_type,
        match source {
            Source::Table(_) => "table",
            Source::View(_) => "view",
            Source::Procedure(_) => "procedure",
            Source::Query(_) => "attribute_query",
        },
    )
}

/// The columns `source` yields; an error naming `parameter` if it has none (a missing table).
pub(crate) async fn source_columns(
    db: &Database,
    source: &Source,
    parameter: &str,
) -> Result<Vec<ColumnInfo>, ConnectorError> {
    let columns = match source {
        Source::Table(name) | Source::View(name) => {
            let columns = db.columns(name).await?;
            if columns.is_empty() && matches!(source, Source::View(_)) {
                // Some ODBC catalogs list tables only; a view still describes itself.
                db.describe(&source.select_all(db.dialect())?.sql).await?
            } else {
                columns
            }
        }
        Source::Procedure(_) | Source::Query(_) => {
            db.describe(&source.select_all(db.dialect())?.sql).await?
        }
    };
    if columns.is_empty() {
        return Err(invalid(match source {
            Source::Table(name) => {
                format!("table '{name}' (parameter '{parameter}') does not exist")
            }
            Source::View(name) => format!("view '{name}' (parameter '{parameter}') does not exist"),
            _ => format!(
                "{} (parameter '{parameter}') returns no columns",
                source.describe()
            ),
        }));
    }
    Ok(columns)
}

/// The type an attribute gets: the `Type:Column:type` answer, or the one its declared type
/// suggests.
pub(crate) fn column_type(
    values: &ParameterValues,
    object_type: &str,
    column: &ColumnInfo,
) -> Result<AttributeType, ConnectorError> {
    let name = type_key(object_type, &column.name);
    match answer(values, &name) {
        Some(t) => parse_type_name(t).ok_or_else(|| {
            invalid(format!(
                "parameter '{name}' must be one of String, Integer, Boolean, Binary, Reference"
            ))
        }),
        None => Ok(discover_type(&column.declared_type)),
    }
}

pub(crate) fn column_direction(
    values: &ParameterValues,
    object_type: &str,
    column: &str,
) -> Result<AttributeDirection, ConnectorError> {
    Ok(
        match choice(
            values,
            &direction_key(object_type, column),
            &DIRECTIONS,
            DIRECTIONS[0],
        )? {
            "ImportOnly" => AttributeDirection::ImportOnly,
            "ExportOnly" => AttributeDirection::ExportOnly,
            _ => AttributeDirection::ImportExport,
        },
    )
}

/// A column with the attribute type and direction it is exposed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) attribute_type: AttributeType,
    pub(crate) direction: AttributeDirection,
    /// As the catalog declares it; empty when unknown (a query's column).
    pub(crate) declared_type: String,
}

impl Column {
    pub(crate) fn declared(&self) -> Option<&str> {
        Some(self.declared_type.as_str()).filter(|d| !d.is_empty())
    }
}

/// A multi-valued attribute: the rows of a child table whose key columns hold the owner's
/// anchor values; each row's value column is one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChildTable {
    pub(crate) table: String,
    /// One column per anchor column, in the anchor's order.
    pub(crate) key_columns: Vec<String>,
    /// The key columns' declared types, in the same order (empty when unknown).
    pub(crate) key_declared: Vec<String>,
    /// The attribute: named after the value column.
    pub(crate) value: Column,
}

/// How delta rows are read with the Watermark strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeltaSource {
    pub(crate) source: Source,
    /// For a table or view: rows whose column is past the watermark.
    pub(crate) watermark_column: Option<String>,
    /// A column whose value `delete` (or `D`) marks a deleted row.
    pub(crate) operation_column: Option<String>,
}

/// A stored procedure, with the input parameters the catalog lists for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcedureCall {
    pub(crate) name: String,
    pub(crate) kind: RoutineKind,
    pub(crate) parameters: Vec<ProcedureParameter>,
}

/// A statement the administrator configured: SQL with named parameters or a procedure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Custom {
    Query(NamedSql),
    Procedure(ProcedureCall),
}

/// How an object type's changes are written (the export run step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Export {
    /// Generated INSERT, UPDATE and DELETE statements on a table, whose columns are listed.
    Table {
        table: String,
        columns: Vec<ColumnInfo>,
    },
    /// One configured statement per modification; `None` refuses that modification.
    Custom {
        add: Option<Custom>,
        update: Option<Custom>,
        delete: Option<Custom>,
    },
}

/// How one object type maps onto the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectTypeMap {
    pub(crate) name: String,
    /// Where the attributes were detected.
    pub(crate) source: Source,
    /// The anchor columns, in order: one, or several for a multi-column anchor (never empty).
    pub(crate) anchor: Vec<String>,
    /// The column holding the DN, when it is not the anchor.
    pub(crate) dn: Option<String>,
    /// Single-valued attributes.
    pub(crate) columns: Vec<Column>,
    /// Multi-valued attributes.
    pub(crate) children: Vec<ChildTable>,
    /// Where full imports (and change-tracking and snapshot deltas) read.
    pub(crate) import: Source,
    pub(crate) delta: DeltaSource,
    pub(crate) export: Export,
    pub(crate) password: Option<Custom>,
}

impl ObjectTypeMap {
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub(crate) fn child(&self, attribute: &str) -> Option<&ChildTable> {
        self.children.iter().find(|c| c.value.name == attribute)
    }

    /// Whether the configured update statement takes the named parameter `name` (a
    /// procedure: a parameter of that name, as [`lookup`] matches names). `None` without one.
    pub(crate) fn update_takes(&self, name: &str) -> Option<bool> {
        let wanted = [(name.to_string(), ())];
        let takes = |parameter: &str| lookup(&wanted, parameter).is_some();
        match &self.export {
            Export::Custom {
                update: Some(Custom::Query(sql)),
                ..
            } => Some(sql.names().into_iter().any(takes)),
            Export::Custom {
                update: Some(Custom::Procedure(call)),
                ..
            } => Some(call.parameters.iter().any(|p| takes(&p.name))),
            Export::Table { .. } | Export::Custom { update: None, .. } => None,
        }
    }

    /// Whether a rename of this type's objects can be applied: generated statements always
    /// apply it; a configured update statement only if it takes `@new_anchor` and, when the
    /// DN has a column of its own, `@new_dn`, since it would otherwise drop the new identity
    /// silently. Without an update statement, every update is refused, renames included.
    pub(crate) fn applies_renames(&self) -> bool {
        let takes = |name: &str| self.update_takes(name).unwrap_or(true);
        takes(SPECIAL_NEW_ANCHOR) && (self.dn.is_none() || takes(SPECIAL_NEW_DN))
    }

    pub(crate) fn schema(&self) -> ObjectTypeSchema {
        let single = self.columns.iter().map(|c| SchemaAttribute {
            name: c.name.clone(),
            attribute_type: c.attribute_type,
            multi_valued: false,
            direction: c.direction,
        });
        let multi = self.children.iter().map(|c| SchemaAttribute {
            name: c.value.name.clone(),
            attribute_type: c.value.attribute_type,
            multi_valued: true,
            direction: c.value.direction,
        });
        ObjectTypeSchema {
            name: self.name.clone(),
            anchor: self.anchor.clone(),
            attributes: single.chain(multi).collect(),
        }
    }
}

/// Everything the answers resolve to.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) global: Global,
    pub(crate) types: Vec<ObjectTypeMap>,
}

impl Settings {
    pub(crate) fn object_type(&self, name: &str) -> Option<&ObjectTypeMap> {
        self.types.iter().find(|t| t.name == name)
    }
}

/// Every configured object type, resolved against the live catalog.
pub(crate) async fn resolve(
    db: &Database,
    values: &ParameterValues,
) -> Result<Settings, ConnectorError> {
    let global = global(values)?;
    let mut types = Vec::new();
    for object_type in object_types(db, values).await? {
        types.push(resolve_one(db, values, &object_type, &global).await?);
    }
    Ok(Settings { global, types })
}

/// The child tables listed for `object_type` (Schema 2).
pub(crate) fn multivalued_tables(values: &ParameterValues, object_type: &str) -> Vec<String> {
    dedupe(split_list(
        answer(values, &key(object_type, "multivalued_tables")).unwrap_or(""),
    ))
}

/// The key column a child table suggests: one named like the anchor, else its first column.
pub(crate) fn default_key_column<'a>(columns: &'a [ColumnInfo], anchor: &str) -> Option<&'a str> {
    columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(anchor))
        .or_else(|| columns.first())
        .map(|c| c.name.as_str())
}

/// The key columns a child table suggests for `anchor`: for one anchor column,
/// [`default_key_column`]; for several, a column named like each, if the table has them all.
pub(crate) fn default_key_columns(
    columns: &[ColumnInfo],
    anchor: &[String],
) -> Option<Vec<String>> {
    match anchor {
        [] => None,
        [only] => default_key_column(columns, only).map(|c| vec![c.to_string()]),
        several => several
            .iter()
            .map(|a| {
                columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(a))
                    .map(|c| c.name.clone())
            })
            .collect(),
    }
}

/// The value column a child table suggests: its first column that is not a key column.
pub(crate) fn default_value_column<'a>(
    columns: &'a [ColumnInfo],
    keys: &[String],
) -> Option<&'a str> {
    columns
        .iter()
        .find(|c| !keys.contains(&c.name))
        .map(|c| c.name.as_str())
}

/// The value column of child table `table` as answered, or the default after its key columns
/// (none if the keys cannot be told).
pub(crate) fn value_column_name(
    values: &ParameterValues,
    object_type: &str,
    table: &str,
    anchor: &[String],
    columns: &[ColumnInfo],
) -> Option<String> {
    if let Some(value) = answer(values, &column_key(object_type, table, "value_column")) {
        return Some(value.to_string());
    }
    let keys: Vec<String> = key_columns_of(values, object_type, table, anchor, columns)
        .ok()?
        .into_iter()
        .map(|k| k.name)
        .collect();
    default_value_column(columns, &keys).map(str::to_string)
}

/// The key columns of child table `table` of `object_type`: the `Type:Table:key_column`
/// answer, in the anchor's syntax ([`anchor_columns`]: one column per anchor column, in the
/// anchor's order, separated by commas), or the default. The error names the parameter.
pub(crate) fn key_columns_of(
    values: &ParameterValues,
    object_type: &str,
    table: &str,
    anchor: &[String],
    columns: &[ColumnInfo],
) -> Result<Vec<ColumnInfo>, String> {
    let name = column_key(object_type, table, "key_column");
    let one_per_anchor_column = || {
        if anchor.len() > 1 {
            format!(
                "; name one column of '{table}' per anchor column, in the anchor's order ({}), \
                 separated by commas",
                anchor.join(", ")
            )
        } else {
            String::new()
        }
    };
    let chosen = match answer(values, &name) {
        Some(given) => anchor_columns(given, columns),
        None => default_key_columns(columns, anchor)
            .ok_or_else(|| format!("parameter '{name}' is required{}", one_per_anchor_column()))?,
    };
    let mut found: Vec<ColumnInfo> = Vec::with_capacity(chosen.len());
    for column in &chosen {
        let info = columns.iter().find(|c| c.name == *column).ok_or_else(|| {
            format!("'{column}' (parameter '{name}') is not a column of table '{table}'")
        })?;
        if found.iter().any(|f| f.name == *column) {
            return Err(format!("'{column}' is listed twice in parameter '{name}'"));
        }
        found.push(info.clone());
    }
    if found.len() != anchor.len() {
        return Err(format!(
            "parameter '{name}' names {} column(s) of table '{table}', but the anchor of \
             {object_type} has {}{}",
            found.len(),
            anchor.len(),
            one_per_anchor_column()
        ));
    }
    Ok(found)
}

/// The anchor columns answered for `object_type` (see [`anchor_columns`]), or the single-column
/// primary key.
pub(crate) fn anchor_of(
    values: &ParameterValues,
    object_type: &str,
    columns: &[ColumnInfo],
) -> Result<Vec<String>, ConnectorError> {
    let name = anchor_key(object_type);
    match answer(values, &name) {
        Some(anchor) => Ok(anchor_columns(anchor, columns)),
        None => default_anchor(columns)
            .map(|a| vec![a.to_string()])
            .ok_or_else(|| invalid(format!("parameter '{name}' is required"))),
    }
}

/// How the anchor parameter reads: one column name, or several separated by commas for a
/// multi-column anchor (`TenantId,Login`), in the order the anchor lists them. An answer that
/// is exactly the name of a column is that one column, even if the name has a comma in it.
pub(crate) fn anchor_columns(answer: &str, columns: &[ColumnInfo]) -> Vec<String> {
    let answer = answer.trim();
    if columns.iter().any(|c| c.name == answer) {
        return vec![answer.to_string()];
    }
    split_list(answer)
}

/// An example of the anchor syntax, for messages.
pub(crate) const ANCHOR_SYNTAX: &str =
    "name one column, or several separated by commas for a multi-column anchor (for example 'TenantId,Login')";

/// Why `anchor` cannot be `object_type`'s anchor, if it cannot: every component must be a
/// single-valued column of the source, listed once. `multi_valued` lists the multi-valued
/// attributes with their child tables.
pub(crate) fn check_anchor(
    object_type: &str,
    anchor: &[String],
    columns: &[ColumnInfo],
    where_: &str,
    multi_valued: &[(&str, &str)],
) -> Result<(), String> {
    if anchor.is_empty() {
        return Err(format!(
            "choose the anchor of {object_type}: {ANCHOR_SYNTAX}"
        ));
    }
    for (i, component) in anchor.iter().enumerate() {
        if let Some((_, table)) = multi_valued.iter().find(|(name, _)| name == component) {
            return Err(format!(
                "'{component}' is a multi-valued attribute (child table '{table}'); every anchor \
                 component must be a single-valued column of {where_}"
            ));
        }
        if !columns.iter().any(|c| c.name == *component) {
            return Err(format!(
                "'{component}' is not a column of {where_}; {ANCHOR_SYNTAX}"
            ));
        }
        if anchor[..i].contains(component) {
            return Err(format!("anchor column '{component}' is listed twice"));
        }
    }
    Ok(())
}

async fn resolve_one(
    db: &Database,
    values: &ParameterValues,
    object_type: &str,
    global: &Global,
) -> Result<ObjectTypeMap, ConnectorError> {
    let source = detection_source(db, values, object_type).await?;
    let parameter = detection_parameter(object_type, &source);
    let infos = source_columns(db, &source, &parameter).await?;
    let is_column = |name: &str| infos.iter().any(|c| c.name == name);
    let where_ = source.describe();

    let anchor = anchor_of(values, object_type, &infos)?;
    let dn_is_anchor = flag(values, &dn_is_anchor_key(object_type), true)?;
    let dn = match answer(values, &dn_key(object_type)) {
        Some(dn) if !is_column(dn) => {
            return Err(invalid(format!(
                "DN column '{dn}' (parameter '{}') is not a column of {where_}",
                dn_key(object_type)
            )));
        }
        Some(dn) if !dn_is_anchor && !anchor.iter().any(|a| a == dn) => Some(dn.to_string()),
        _ => None,
    };

    let mut columns = Vec::with_capacity(infos.len());
    for info in &infos {
        columns.push(Column {
            name: info.name.clone(),
            attribute_type: column_type(values, object_type, info)?,
            direction: column_direction(values, object_type, &info.name)?,
            declared_type: info.declared_type.clone(),
        });
    }

    let mut tables = Vec::new();
    for table in multivalued_tables(values, object_type) {
        let child_columns = db.columns(&table).await?;
        if child_columns.is_empty() {
            return Err(invalid(format!(
                "multi-valued table '{table}' (parameter '{}') does not exist",
                key(object_type, "multivalued_tables")
            )));
        }
        tables.push((table, child_columns));
    }
    // The anchor is checked first, against the multi-valued attributes as answered: the child
    // tables' keys depend on it.
    let multi_valued: Vec<(String, String)> = tables
        .iter()
        .map(|(table, columns)| {
            let value = value_column_name(values, object_type, table, &anchor, columns);
            (value.unwrap_or_default(), table.clone())
        })
        .collect();
    let multi_valued: Vec<(&str, &str)> = multi_valued
        .iter()
        .map(|(value, table)| (value.as_str(), table.as_str()))
        .collect();
    if let Err(problem) = check_anchor(object_type, &anchor, &infos, &where_, &multi_valued) {
        return Err(invalid(format!(
            "parameter '{}': {problem}",
            anchor_key(object_type)
        )));
    }

    let mut children = Vec::new();
    for (table, child_columns) in tables {
        let keys = key_columns_of(values, object_type, &table, &anchor, &child_columns)
            .map_err(invalid)?;
        let key_names: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
        let value_name = column_key(object_type, &table, "value_column");
        let value = answer(values, &value_name)
            .or_else(|| default_value_column(&child_columns, &key_names))
            .ok_or_else(|| invalid(format!("parameter '{value_name}' is required")))?;
        let value_column = child_columns
            .iter()
            .find(|c| c.name == value)
            .cloned()
            .ok_or_else(|| {
                invalid(format!(
                    "'{value}' (parameter '{value_name}') is not a column of table '{table}'"
                ))
            })?;
        if key_names.contains(&value_column.name) {
            return Err(invalid(format!(
                "table '{table}': the key and value columns must differ (parameters '{}', '{}')",
                column_key(object_type, &table, "key_column"),
                column_key(object_type, &table, "value_column")
            )));
        }
        if is_column(&value_column.name)
            || children
                .iter()
                .any(|c: &ChildTable| c.value.name == value_column.name)
        {
            return Err(invalid(format!(
                "multi-valued attribute '{}' (table '{table}') has the name of another attribute of {object_type}",
                value_column.name
            )));
        }
        children.push(ChildTable {
            table: table.clone(),
            key_columns: key_names,
            key_declared: keys.into_iter().map(|k| k.declared_type).collect(),
            value: Column {
                name: value_column.name.clone(),
                attribute_type: column_type(values, object_type, &value_column)?,
                direction: column_direction(values, object_type, &value_column.name)?,
                declared_type: value_column.declared_type.clone(),
            },
        });
    }

    let binary_anchor = anchor.iter().any(|a| {
        columns
            .iter()
            .any(|c| c.name == *a && c.attribute_type == AttributeType::Binary)
    });
    if binary_anchor && global.strategy == DeltaStrategy::ChangeTracking {
        return Err(invalid(format!(
            "parameter '{DELTA_STRATEGY}': the {CHANGE_TRACKING} strategy records anchors as \
             text, but the anchor of {object_type} (parameter '{}') is binary; use the {SNAPSHOT} \
             or {WATERMARK} strategy",
            anchor_key(object_type)
        )));
    }
    if anchor.len() > 1 {
        let needs_one = match global.strategy {
            DeltaStrategy::ChangeTracking => Some(CHANGE_TRACKING),
            DeltaStrategy::Snapshot => Some(SNAPSHOT),
            DeltaStrategy::None | DeltaStrategy::Watermark => None,
        };
        if let Some(strategy) = needs_one {
            return Err(invalid(format!(
                "parameter '{DELTA_STRATEGY}': the {strategy} strategy records one anchor column per \
                 object, but {object_type} has a multi-column anchor (parameter '{}'); use the \
                 {WATERMARK} strategy or a single-column anchor",
                anchor_key(object_type)
            )));
        }
    }

    let mut map = ObjectTypeMap {
        name: object_type.to_string(),
        import: source.clone(),
        delta: DeltaSource {
            source: source.clone(),
            watermark_column: None,
            operation_column: None,
        },
        source,
        anchor,
        dn,
        columns,
        children,
        export: Export::Custom {
            add: None,
            update: None,
            delete: None,
        },
        password: None,
    };
    map.import = run_step_source(values, object_type, "import", &map.source)?;
    map.delta = DeltaSource {
        source: run_step_source(values, object_type, "delta_import", &map.import)?,
        watermark_column: answer(values, &key(object_type, "watermark_column")).map(str::to_string),
        operation_column: answer(values, &key(object_type, "delta_operation_column"))
            .map(str::to_string),
    };
    if global.strategy == DeltaStrategy::Watermark
        && matches!(map.delta.source, Source::Table(_) | Source::View(_))
        && map.delta.watermark_column.is_none()
    {
        return Err(invalid(format!(
            "parameter '{}' is required: the Watermark strategy reads a table or view by that column",
            key(object_type, "watermark_column")
        )));
    }
    map.export = resolve_export(db, values, &map).await?;
    map.password = resolve_custom(
        db,
        values,
        &map,
        &key(object_type, "password_method"),
        &key(object_type, "set_password"),
        &PASSWORD_METHODS,
        &[SPECIAL_PASSWORD],
    )
    .await?;
    Ok(map)
}

/// The source of an import run step (`Type:import` or `Type:delta_import`), by its method, or
/// `default` when neither is answered.
fn run_step_source(
    values: &ParameterValues,
    object_type: &str,
    step: &str,
    default: &Source,
) -> Result<Source, ConnectorError> {
    let method_name = key(object_type, &format!("{step}_method"));
    let text_name = key(object_type, step);
    let text = answer(values, &text_name).map(str::to_string);
    let method = match answer(values, &method_name) {
        None if text.is_none() => return Ok(default.clone()),
        None => default.method(),
        Some(_) => choice(values, &method_name, &IMPORT_METHODS, TABLE)?,
    };
    let text = match (text, default) {
        (Some(text), _) => text,
        // The method changed but not the source: reuse the default's name or SQL if it fits.
        (None, d) if d.method() == method => d.text().to_string(),
        (None, _) => return Err(invalid(format!("parameter '{text_name}' is required"))),
    };
    Ok(Source::from_method(method, text))
}

async fn resolve_export(
    db: &Database,
    values: &ParameterValues,
    map: &ObjectTypeMap,
) -> Result<Export, ConnectorError> {
    let object_type = &map.name;
    let method_name = key(object_type, "export_method");
    match choice(values, &method_name, &EXPORT_METHODS, TABLE)? {
        TABLE => {
            let table_name = key(object_type, "export_table");
            let table = match (answer(values, &table_name), &map.source) {
                (Some(table), _) => table.to_string(),
                (None, Source::Table(table)) => table.clone(),
                (None, _) => {
                    return Err(invalid(format!(
                        "parameter '{table_name}' is required: attributes are not detected from a table"
                    )))
                }
            };
            let columns = db.columns(&table).await?;
            if columns.is_empty() {
                return Err(invalid(format!(
                    "table '{table}' (parameter '{table_name}') does not exist"
                )));
            }
            Ok(Export::Table { table, columns })
        }
        method => {
            let one = |suffix: &str| {
                let name = key(object_type, suffix);
                let text = answer(values, &name).map(str::to_string);
                async move {
                    match text {
                        None => Ok(None),
                        Some(text) => custom(db, map, method, &name, &text, &[]).await.map(Some),
                    }
                }
            };
            let add = one("export_add").await?;
            let update = one("export_update").await?;
            let delete = one("export_delete").await?;
            Ok(Export::Custom {
                add,
                update,
                delete,
            })
        }
    }
}

/// A configured statement (`method` and `text_name`), if its method is not `None`.
async fn resolve_custom(
    db: &Database,
    values: &ParameterValues,
    map: &ObjectTypeMap,
    method_name: &str,
    text_name: &str,
    methods: &[&'static str],
    extra: &[&str],
) -> Result<Option<Custom>, ConnectorError> {
    let method = choice(values, method_name, methods, methods[0])?;
    if method == NONE {
        return Ok(None);
    }
    let text = answer(values, text_name)
        .ok_or_else(|| invalid(format!("parameter '{text_name}' is required")))?;
    custom(db, map, method, text_name, text, extra)
        .await
        .map(Some)
}

/// The named parameters every configured statement of `map` may use.
pub(crate) fn statement_names<'a>(map: &'a ObjectTypeMap, extra: &[&'a str]) -> Vec<&'a str> {
    let mut names: Vec<&str> = map.columns.iter().map(|c| c.name.as_str()).collect();
    names.extend([
        SPECIAL_ANCHOR,
        SPECIAL_DN,
        SPECIAL_OBJECT_TYPE,
        SPECIAL_NEW_ANCHOR,
        SPECIAL_NEW_DN,
    ]);
    names.extend(extra);
    names
}

async fn custom(
    db: &Database,
    map: &ObjectTypeMap,
    method: &str,
    name: &str,
    text: &str,
    extra: &[&str],
) -> Result<Custom, ConnectorError> {
    if method == PROCEDURE {
        let (kind, parameters) = db.procedure(text).await?.ok_or_else(|| {
            invalid(format!(
                "stored procedure '{text}' (parameter '{name}') does not exist"
            ))
        })?;
        return Ok(Custom::Procedure(ProcedureCall {
            name: text.to_string(),
            kind,
            parameters,
        }));
    }
    let sql = NamedSql::parse(text).map_err(|m| invalid(format!("parameter '{name}': {m}")))?;
    let known = statement_names(map, extra);
    if let Some(unknown) = sql
        .names()
        .into_iter()
        .find(|n| !known.contains(n) && !known.iter().any(|k| k.eq_ignore_ascii_case(n)))
    {
        return Err(invalid(format!(
            "parameter '{name}' uses @{unknown}, which is neither an attribute of {} nor one of @anchor, @dn, @object_type, @new_anchor, @new_dn{}",
            map.name,
            extra.iter().map(|e| format!(", @{e}")).collect::<String>()
        )));
    }
    Ok(Custom::Query(sql))
}

/// The value for a named parameter: exact name first, then ignoring ASCII case; a procedure
/// parameter also matches without a leading `p_`, `in_` or `@`.
pub(crate) fn lookup<'a, T>(candidates: &'a [(String, T)], name: &str) -> Option<&'a T> {
    let stripped = name.trim_start_matches('@');
    let bare = ["p_", "in_", "i_"]
        .iter()
        .find_map(|p| {
            stripped
                .get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .map(|_| &stripped[p.len()..])
        })
        .unwrap_or(stripped);
    [name, stripped, bare].iter().find_map(|wanted| {
        candidates
            .iter()
            .find(|(n, _)| n == wanted)
            .or_else(|| {
                candidates
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
            })
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_type_list() {
        let mut values = ParameterValues::new();
        assert_eq!(dedupe(listed_object_types(&values)), vec!["User"]);
        values.insert(OBJECT_TYPES, " User, Group ,,User ");
        assert_eq!(listed_object_types(&values), vec!["User", "Group", "User"]);
        assert_eq!(dedupe(listed_object_types(&values)), vec!["User", "Group"]);
    }

    #[test]
    fn defaults_from_the_catalog() {
        let tables = vec!["groups".to_string(), "Users".to_string()];
        assert_eq!(default_table(&tables, "User"), None);
        assert_eq!(default_table(&tables, "users"), Some("Users"));
        let col = |name: &str, pk| ColumnInfo {
            name: name.into(),
            declared_type: "TEXT".into(),
            primary_key: pk,
        };
        assert_eq!(default_anchor(&[col("a", 0), col("id", 1)]), Some("id"));
        assert_eq!(default_anchor(&[col("a", 1), col("b", 2)]), None);
        assert_eq!(default_anchor(&[col("a", 0)]), None);
        let child = [col("Id", 1), col("UserId", 0), col("Email", 0)];
        assert_eq!(default_key_column(&child, "userid"), Some("UserId"));
        assert_eq!(default_key_column(&child, "x"), Some("Id"));
        assert_eq!(
            default_value_column(&child, &["UserId".to_string()]),
            Some("Id")
        );
        let two = ["tenant".to_string(), "login".to_string()];
        let child = [col("Login", 0), col("Tenant", 0), col("Tag", 0)];
        assert_eq!(
            default_key_columns(&child, &two),
            Some(vec!["Tenant".to_string(), "Login".to_string()])
        );
        assert_eq!(default_key_columns(&child[..1], &two), None);
    }

    #[test]
    fn drivers_and_connection_settings() {
        let mut v = ParameterValues::new();
        assert!(connection_spec(&v).is_err(), "SQLite needs a file");
        v.insert(CONNECTION_STRING, "postgres://app@db/x");
        assert_eq!(driver(&v).unwrap(), DriverKind::Postgres);
        v.insert(CONNECTION_STRING, "mariadb://root@db/x");
        assert_eq!(driver(&v).unwrap(), DriverKind::MySql);
        v.insert(CONNECTION_STRING, "/var/lib/app.db");
        assert_eq!(driver(&v).unwrap(), DriverKind::Sqlite);
        v.insert(DRIVER, "postgresql");
        v.insert(PORT, "5433");
        v.insert_secret(PASSWORD, " sp ace ");
        let spec = connection_spec(&v).unwrap();
        assert_eq!(spec.driver, DriverKind::Postgres);
        assert_eq!(spec.port, Some(5433));
        assert_eq!(spec.password.as_ref().map(|p| p.expose()), Some(" sp ace "));
        v.insert(PORT, "99999");
        assert!(connection_spec(&v).unwrap_err().message.contains(PORT));
        v.insert(PORT, "1");
        v.insert(DRIVER, "Oracle");
        assert!(connection_spec(&v).unwrap_err().message.contains(DRIVER));
        // PostgreSQL and MySQL need no URL: the separate fields are enough, with a database.
        for server in ["PostgreSQL", "MySQL"] {
            let mut fields = ParameterValues::new();
            fields.insert(DRIVER, server);
            fields.insert(HOST, "db");
            fields.insert(USER, "app");
            let message = connection_spec(&fields).unwrap_err().message;
            assert!(
                message.contains("parameter 'database' is required"),
                "{message}"
            );
            fields.insert(DATABASE, "hr");
            let spec = connection_spec(&fields).unwrap();
            assert_eq!(spec.connection_string, None);
            assert_eq!(spec.database.as_deref(), Some("hr"));
        }
        let mut odbc = ParameterValues::new();
        odbc.insert(DRIVER, "ODBC");
        assert!(connection_spec(&odbc)
            .unwrap_err()
            .message
            .contains(DSN_FILE));
    }

    #[test]
    fn named_parameter_lookup() {
        let candidates = vec![("FirstName".to_string(), 1), ("anchor".to_string(), 2)];
        assert_eq!(lookup(&candidates, "FirstName"), Some(&1));
        assert_eq!(lookup(&candidates, "firstname"), Some(&1));
        assert_eq!(lookup(&candidates, "p_firstname"), Some(&1));
        assert_eq!(lookup(&candidates, "@anchor"), Some(&2));
        assert_eq!(lookup(&candidates, "in_Anchor"), Some(&2));
        assert_eq!(lookup(&candidates, "other"), None);
    }
}
