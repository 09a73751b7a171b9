//! The configuration wizard: which parameters each page asks, listed from the live database,
//! and the validation of each page's answers against it.
//!
//! Pages depend on earlier answers, as in Microsoft's generic SQL connector: Schema 1 lists the
//! tables of the database "Connectivity" points at, Schema 2 the tables, views and procedures
//! for each object type Schema 1 found, Schema 3 and 4 the columns of what Schema 2 chose, and
//! the run-step page the sources and columns again. Alternatives on one page (a table, a view,
//! a procedure or a query) are all declared; only the one the current answer (or default)
//! selects is `required`.

use ecma_plugin_api::{
    ConfigPage, ConnectorError, ParameterDefinition, ParameterIssue, ParameterKind, ParameterValues,
};

use crate::config::*;
use crate::db::{ConnectionSpec, Database, DriverKind, Pools};
use crate::error::{ConnectCause, DbError};
use crate::source::Source;
use crate::sql::{Flavor, NamedSql, Statement};
use crate::values::{
    discover_type, parse_bool, parse_type_name, type_name, DateTimeFormat,
    DEFAULT_DATE_TIME_FORMAT, TYPE_NAMES,
};

/// Which drivers the "Stored procedure" choices apply to, for every page that offers them.
const PROCEDURE_DRIVERS: &str =
    "Stored procedure: PostgreSQL, MySQL/MariaDB and ODBC only (SQLite has none).";

fn drop_down(name: impl Into<String>, options: Vec<String>) -> ParameterDefinition {
    ParameterDefinition::new(
        name,
        ParameterKind::DropDown {
            options,
            extensible: false,
        },
    )
}

/// A drop-down that also takes a typed answer (a name not listed, or SQL text).
fn open_drop_down(name: impl Into<String>, options: Vec<String>) -> ParameterDefinition {
    ParameterDefinition::new(
        name,
        ParameterKind::DropDown {
            options,
            extensible: true,
        },
    )
}

fn strings(options: &[&str]) -> Vec<String> {
    options.iter().map(|o| o.to_string()).collect()
}

fn required_if(definition: ParameterDefinition, required: bool) -> ParameterDefinition {
    if required {
        definition.required()
    } else {
        definition
    }
}

fn issue(parameter: impl Into<String>, message: impl Into<String>) -> ParameterIssue {
    ParameterIssue {
        parameter: parameter.into(),
        message: message.into(),
    }
}

/// The pool for the answered connection settings.
pub(crate) async fn database(
    pools: &Pools,
    values: &ParameterValues,
) -> Result<Database, ConnectorError> {
    let spec = connection_spec(values)?;
    Ok(pools.get(&spec).await?)
}

/// The name of a choice the answers make now, falling back to `default` when the answer is
/// not one of `options` (validation reports that separately).
fn current<'a>(
    values: &ParameterValues,
    name: &str,
    options: &[&'a str],
    default: &'a str,
) -> &'a str {
    answer(values, name)
        .and_then(|given| options.iter().find(|o| o.eq_ignore_ascii_case(given)))
        .copied()
        .unwrap_or(default)
}

fn driver_name(driver: DriverKind) -> &'static str {
    match driver {
        DriverKind::Sqlite => "SQLite",
        DriverKind::Postgres => "PostgreSQL",
        DriverKind::MySql => "MySQL",
        DriverKind::Odbc => "ODBC",
    }
}

pub(crate) async fn parameters(
    pools: &Pools,
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    match page {
        ConfigPage::Connectivity => Ok(connectivity(values)),
        ConfigPage::Schema(1) => schema1(&database(pools, values).await?, values).await,
        ConfigPage::Schema(2) => schema2(&database(pools, values).await?, values).await,
        ConfigPage::Schema(3) => schema3(&database(pools, values).await?, values).await,
        ConfigPage::Schema(4) => schema4(&database(pools, values).await?, values).await,
        ConfigPage::Global => Ok(global_page(values)),
        ConfigPage::RunStep => run_steps(&database(pools, values).await?, values).await,
        _ => Ok(Vec::new()),
    }
}

fn connectivity(values: &ParameterValues) -> Vec<ParameterDefinition> {
    let driver = driver(values).unwrap_or_default();
    let sqlite = driver == DriverKind::Sqlite;
    let server = matches!(driver, DriverKind::Postgres | DriverKind::MySql);
    let no_url = answer(values, CONNECTION_STRING).is_none();
    vec![
        drop_down(DRIVER, strings(&DRIVERS))
            .required()
            .with_default(driver_name(driver))
            .with_description(
                "The database driver: SQLite, PostgreSQL and MySQL/MariaDB are native; ODBC reaches \
                 any other database through a DSN file. When not answered it follows the connection \
                 string's scheme.",
            ),
        required_if(
            ParameterDefinition::new(CONNECTION_STRING, ParameterKind::String),
            sqlite && answer(values, DATABASE).is_none(),
        )
        .with_description(
            "SQLite: a sqlx URL such as sqlite:///var/lib/app.db, or a file path (the file must exist); \
             required unless `database` names the file. PostgreSQL and MySQL: optional, a URL \
             (postgres://user@host:5432/db, mysql://user@host/db) that the fields below override; \
             without it give `host`, `port`, `database` and `user`. ODBC: optional, an ODBC \
             connection string added to the DSN file's settings.",
        ),
        ParameterDefinition::new(HOST, ParameterKind::String)
            .with_description("PostgreSQL and MySQL: the server's host name or address."),
        ParameterDefinition::new(PORT, ParameterKind::String)
            .with_description("PostgreSQL and MySQL: the server's port (5432 and 3306 by default)."),
        required_if(
            ParameterDefinition::new(DATABASE, ParameterKind::String),
            server && no_url,
        )
        .with_description(
            "PostgreSQL and MySQL: the database (required when there is no connection string); \
             SQLite: the file, instead of a URL.",
        ),
        ParameterDefinition::new(USER, ParameterKind::String)
            .with_description("The user name to sign in with (ODBC: added as UID)."),
        ParameterDefinition::new(PASSWORD, ParameterKind::EncryptedString)
            .with_description("The password (ODBC: added as PWD). Never logged or shown."),
        drop_down(TLS_MODE, strings(&TLS_MODES))
            .with_default("Prefer")
            .with_description(
                "PostgreSQL and MySQL: Disable, Prefer (TLS if offered), Require, VerifyCa (check the \
                 certificate against the CA file) or VerifyFull (also the host name).",
            ),
        ParameterDefinition::new(TLS_CA_FILE, ParameterKind::File)
            .with_description("PEM file of the CA that signed the server's certificate."),
        required_if(
            ParameterDefinition::new(DSN_FILE, ParameterKind::File),
            driver == DriverKind::Odbc && answer(values, CONNECTION_STRING).is_none(),
        )
        .with_description(
            "ODBC: a DSN file (UTF-8 text, key=value lines, e.g. DRIVER=PostgreSQL Unicode, \
             SERVER=db, PORT=5432, DATABASE=app). For large imports ask the driver to stream \
             (psqlODBC: UseDeclareFetch=1; MariaDB: NO_CACHE=1).",
        ),
        drop_down(ODBC_DIALECT, strings(&ODBC_DIALECTS))
            .with_default("Auto")
            .with_description(
                "ODBC: the SQL of the database behind the DSN; Auto detects it from the driver.",
            ),
        ParameterDefinition::new(POOL_SIZE, ParameterKind::String).with_description(
            "Connections kept open (default 10; SQLite 4).",
        ),
    ]
}

async fn schema1(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    let tables = db.tables().await?;
    let detection = current(
        values,
        OBJECT_TYPE_DETECTION,
        &OBJECT_TYPE_DETECTIONS,
        FIXED_VALUE,
    );
    Ok(vec![
        drop_down(OBJECT_TYPE_DETECTION, strings(&OBJECT_TYPE_DETECTIONS))
            .required()
            .with_default(FIXED_VALUE)
            .with_description(
                "How object types are found: a fixed list, the values of a table's column, or the \
                 first column of an SQL query's rows.",
            ),
        required_if(
            ParameterDefinition::new(OBJECT_TYPES, ParameterKind::String),
            detection == FIXED_VALUE,
        )
        .with_default(DEFAULT_OBJECT_TYPES)
        .with_description("Fixed value: comma-separated object type names, e.g. User,Group."),
        required_if(drop_down(OBJECT_TYPE_TABLE, tables), detection == TABLE)
            .with_description("Table: the table listing the object types."),
        required_if(
            ParameterDefinition::new(OBJECT_TYPE_COLUMN, ParameterKind::String),
            detection == TABLE,
        )
        .with_description("Table: the column of that table holding the type names."),
        required_if(
            ParameterDefinition::new(OBJECT_TYPE_QUERY, ParameterKind::Text),
            detection == QUERY,
        )
        .with_description("SQL query: its rows' first column are the type names."),
    ])
}

async fn schema2(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    let tables = db.tables().await?;
    let views = db.views().await?;
    let procedures = db.procedures().await?;
    // Every method is offered whatever the database, so that the reference lists them all;
    // validation refuses a stored procedure on SQLite, which has none.
    let detections = strings(&ATTRIBUTE_DETECTIONS);
    let mut defs = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let detection = current(
            values,
            &attribute_detection_key(t),
            &ATTRIBUTE_DETECTIONS,
            TABLE,
        );
        defs.push(
            drop_down(attribute_detection_key(t), detections.clone())
                .required()
                .with_default(TABLE)
                .with_description(format!(
                    "How the attributes of {t} are found: the columns of a table, a view, a stored \
                     procedure's result (PostgreSQL, MySQL/MariaDB and ODBC; SQLite has no stored \
                     procedures) or an SQL query's result."
                )),
        );
        let mut table = required_if(drop_down(table_key(t), tables.clone()), detection == TABLE)
            .with_description(format!("Table: the table holding one row per {t}."));
        table.default = default_table(&tables, t).map(str::to_string);
        defs.push(table);
        defs.push(
            required_if(drop_down(key(t, "view"), views.clone()), detection == VIEW)
                .with_description(format!("View: the view holding one row per {t}.")),
        );
        defs.push(
            required_if(
                drop_down(key(t, "procedure"), procedures.clone()),
                detection == PROCEDURE,
            )
            .with_description(format!(
                "Stored procedure: returns one row per {t} (in PostgreSQL a set-returning \
                 function). {PROCEDURE_DRIVERS}"
            )),
        );
        defs.push(
            required_if(
                ParameterDefinition::new(key(t, "attribute_query"), ParameterKind::Text),
                detection == QUERY,
            )
            .with_description(format!("SQL query: returns one row per {t}.")),
        );
        defs.push(
            ParameterDefinition::new(key(t, "multivalued_tables"), ParameterKind::String)
                .with_description(format!(
                "Comma-separated child tables holding multi-valued attributes of {t}, one row per \
                     value, keyed by the anchor. Tables: {}.",
                tables.join(", ")
            )),
        );
    }
    Ok(defs)
}

/// The detection source and its columns for `object_type`, as pages 3, 4 and the run steps
/// need them.
async fn detected(
    db: &Database,
    values: &ParameterValues,
    object_type: &str,
) -> Result<(Source, Vec<crate::db::ColumnInfo>), ConnectorError> {
    let source = detection_source(db, values, object_type).await?;
    let parameter = detection_parameter(object_type, &source);
    let columns = source_columns(db, &source, &parameter).await?;
    Ok((source, columns))
}

async fn schema3(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    let mut defs = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let (_, columns) = detected(db, values, t).await?;
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let mut anchor = open_drop_down(anchor_key(t), names.clone())
            .required()
            .with_description(format!(
                "The column that identifies a {t} for good, or several columns separated by \
                 commas for a multi-column anchor (for example 'TenantId,Login')."
            ));
        anchor.default = default_anchor(&columns).map(str::to_string);
        let anchor_list: Vec<String> = anchor_of(values, t, &columns).unwrap_or_default();
        defs.push(anchor);
        defs.push(drop_down(dn_key(t), names).with_description(format!(
            "The column holding the DN of a {t}, if not the anchor."
        )));
        defs.push(
            ParameterDefinition::new(dn_is_anchor_key(t), ParameterKind::CheckBox)
                .with_default("true")
                .with_description("Use the anchor value as the DN."),
        );
        for table in multivalued_tables(values, t) {
            let child = db.columns(&table).await?;
            let names: Vec<String> = child.iter().map(|c| c.name.clone()).collect();
            let mut key_column = open_drop_down(column_key(t, &table, "key_column"), names.clone())
                .required()
                .with_description(format!(
                    "The column of {table} holding the {t}'s anchor value; for a \
                     multi-column anchor, one column per anchor column, in the anchor's \
                     order, separated by commas."
                ));
            key_column.default = default_key_columns(&child, &anchor_list).map(|k| k.join(","));
            let key_names: Vec<String> = key_columns_of(values, t, &table, &anchor_list, &child)
                .map(|keys| keys.into_iter().map(|k| k.name).collect())
                .unwrap_or_default();
            defs.push(key_column);
            let mut value_column = drop_down(column_key(t, &table, "value_column"), names)
                .required()
                .with_description(format!(
                    "The column of {table} holding one value; the attribute is named after it."
                ));
            value_column.default = default_value_column(&child, &key_names).map(str::to_string);
            defs.push(value_column);
        }
    }
    Ok(defs)
}

async fn schema4(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    let options = strings(&TYPE_NAMES);
    let mut defs = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let (source, mut columns) = detected(db, values, t).await?;
        let mut origin: Vec<String> = vec![source.describe(); columns.len()];
        let anchor = anchor_of(values, t, &columns).unwrap_or_default();
        for table in multivalued_tables(values, t) {
            let child = db.columns(&table).await?;
            let value_name = value_column_name(values, t, &table, &anchor, &child);
            let value_name = value_name.as_deref().unwrap_or("");
            if let Some(value) = child.iter().find(|c| c.name == value_name) {
                columns.push(value.clone());
                origin.push(format!("multi-valued table '{table}'"));
            }
        }
        for (column, origin) in columns.iter().zip(origin) {
            defs.push(
                drop_down(type_key(t, &column.name), options.clone())
                    .with_default(type_name(discover_type(&column.declared_type)))
                    .with_description(format!(
                        "Type of {}.{} in {origin} (declared '{}'). Reference: holds the anchor of another object.",
                        t, column.name, column.declared_type
                    )),
            );
            defs.push(
                drop_down(direction_key(t, &column.name), strings(&DIRECTIONS))
                    .with_default(DIRECTIONS[0])
                    .with_description(format!(
                        "Whether {} is imported, exported or both.",
                        column.name
                    )),
            );
        }
    }
    Ok(defs)
}

fn global_page(values: &ParameterValues) -> Vec<ParameterDefinition> {
    let strategy = current(values, DELTA_STRATEGY, &DELTA_STRATEGIES, NONE);
    vec![
        drop_down(DELTA_STRATEGY, strings(&DELTA_STRATEGIES))
            .required()
            .with_default(NONE)
            .with_description(
                "How delta imports find changes: None; Watermark (rows changed since the value of the \
                 watermark query at the last import); Change tracking (a change table filled by \
                 triggers); Snapshot (a digest of every row, compared at each delta).",
            ),
        required_if(
            ParameterDefinition::new(WATERMARK_QUERY, ParameterKind::Text),
            strategy == WATERMARK,
        )
        .with_description(
            "Watermark: a query returning the current watermark, e.g. SELECT CURRENT_TIMESTAMP or \
             SELECT max(version) FROM users. Run at the start of every import.",
        ),
        ParameterDefinition::new(DATE_TIME_FORMAT, ParameterKind::String)
            .with_default(DEFAULT_DATE_TIME_FORMAT)
            .with_description(
                "How dates and times are written as text (chrono strftime syntax): imports format \
                 them so, exports parse them so.",
            ),
        ParameterDefinition::new(CHANGE_TABLE, ParameterKind::String)
            .with_default(DEFAULT_CHANGE_TABLE)
            .with_description(
                "Change tracking: the change table (id, object_type, anchor, operation, changed_at).",
            ),
        ParameterDefinition::new(CREATE_CHANGE_TRACKING, ParameterKind::CheckBox)
            .with_default("false")
            .with_description(
                "Change tracking: create the change table and the triggers on every object and \
                 multi-valued table when an import starts (PostgreSQL, MySQL, SQLite).",
            ),
        ParameterDefinition::new(SNAPSHOT_TABLE, ParameterKind::String)
            .with_default(DEFAULT_SNAPSHOT_TABLE)
            .with_description(
                "Snapshot: the table keeping a digest per object; created when first needed.",
            ),
    ]
}

async fn run_steps(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    let tables = db.tables().await?;
    let mut sources = tables.clone();
    sources.extend(db.views().await?);
    sources.extend(db.procedures().await?);
    let strategy = delta_strategy(values).unwrap_or(DeltaStrategy::None);
    let mut defs = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let (source, columns) = detected(db, values, t).await?;
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();

        let import_method = current(
            values,
            &key(t, "import_method"),
            &IMPORT_METHODS,
            source.method(),
        );
        defs.push(
            drop_down(key(t, "import_method"), strings(&IMPORT_METHODS))
                .with_default(source.method())
                .with_description(format!(
                    "Full import of {t}: read a table, a view, a stored procedure or an SQL query. \
                     {PROCEDURE_DRIVERS}"
                )),
        );
        defs.push(
            open_drop_down(key(t, "import"), sources.clone())
                .with_default(source.text())
                .with_description(
                    "The table, view or procedure name, or the SQL query, to read. Defaults to where \
                     the attributes were detected.",
                ),
        );
        let delta_method = current(
            values,
            &key(t, "delta_import_method"),
            &IMPORT_METHODS,
            import_method,
        );
        defs.push(
            drop_down(key(t, "delta_import_method"), strings(&IMPORT_METHODS))
                .with_default(import_method)
                .with_description(format!(
                    "Watermark delta: read changed rows from a table or view (by the watermark column), \
                     a procedure (given the watermark) or an SQL query (using @watermark). \
                     {PROCEDURE_DRIVERS}"
                )),
        );
        defs.push(
            open_drop_down(key(t, "delta_import"), sources.clone())
                .with_default(answer(values, &key(t, "import")).unwrap_or(source.text()))
                .with_description("The delta source's name or SQL query."),
        );
        defs.push(
            required_if(
                drop_down(key(t, "watermark_column"), names.clone()),
                strategy == DeltaStrategy::Watermark && matches!(delta_method, TABLE | VIEW),
            )
            .with_description(
                "Watermark delta from a table or view: rows whose column is past the watermark.",
            ),
        );
        defs.push(
            drop_down(key(t, "delta_operation_column"), names.clone()).with_description(
                "Watermark delta: a column whose value 'delete' or 'D' marks a deleted row.",
            ),
        );
        let export_method = current(values, &key(t, "export_method"), &EXPORT_METHODS, TABLE);
        defs.push(
            drop_down(key(t, "export_method"), strings(&EXPORT_METHODS))
                .with_default(TABLE)
                .with_description(format!(
                    "Export of {t}: generated statements on a table, or a stored procedure or SQL \
                     statement per operation (given every attribute as a named parameter). \
                     {PROCEDURE_DRIVERS}"
                )),
        );
        let mut export_table = required_if(
            drop_down(key(t, "export_table"), tables.clone()),
            export_method == TABLE && !matches!(source, Source::Table(_)),
        )
        .with_description("Table export: the table written to.");
        if let Source::Table(table) = &source {
            export_table.default = Some(table.clone());
        }
        defs.push(export_table);
        for (suffix, what, extra) in [
            ("export_add", "adds", ""),
            (
                "export_update",
                "updates",
                " Renames are applied only if it takes @new_anchor, and @new_dn when the DN has a \
                 column (the anchor and DN after the change; @anchor and @dn are the current \
                 ones).",
            ),
            ("export_delete", "deletes", ""),
        ] {
            defs.push(
                ParameterDefinition::new(key(t, suffix), ParameterKind::Text).with_description(format!(
                    "Procedure or SQL export: the procedure name, or the SQL statement (named parameters \
                     @Attribute, @anchor, @dn, @object_type, @new_anchor, @new_dn), that {what} a {t}. \
                     Unset: refused.{extra}"
                )),
            );
        }
        let password_method = current(values, &key(t, "password_method"), &PASSWORD_METHODS, NONE);
        defs.push(
            drop_down(key(t, "password_method"), strings(&PASSWORD_METHODS))
                .with_default(NONE)
                .with_description(format!(
                    "How the initial password of a {t} is set. {PROCEDURE_DRIVERS}"
                )),
        );
        defs.push(
            required_if(
                ParameterDefinition::new(key(t, "set_password"), ParameterKind::Text),
                password_method != NONE,
            )
            .with_description(
                "The procedure name, or the SQL statement, that sets a password (@password, @anchor).",
            ),
        );
    }
    Ok(defs)
}

pub(crate) async fn validate(
    pools: &Pools,
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    match page {
        ConfigPage::Connectivity => Ok(validate_connectivity(pools, values).await),
        ConfigPage::Schema(1) => {
            validate_object_types(&database(pools, values).await?, values).await
        }
        ConfigPage::Schema(2) => validate_sources(&database(pools, values).await?, values).await,
        ConfigPage::Schema(3) => validate_anchors(&database(pools, values).await?, values).await,
        ConfigPage::Schema(4) => validate_types(&database(pools, values).await?, values).await,
        ConfigPage::Global => validate_global(&database(pools, values).await?, values).await,
        ConfigPage::RunStep => validate_run_steps(&database(pools, values).await?, values).await,
        _ => Ok(Vec::new()),
    }
}

/// The parameter a configuration error names (`parameter 'x'` or `(parameter 'x')`), if any.
fn named_parameter(message: &str) -> Option<String> {
    let start = message.find("parameter '")? + "parameter '".len();
    let len = message[start..].find('\'')?;
    Some(message[start..start + len].to_string())
}

/// The answer a connection failure is pinned on: the one the driver's error points at (the
/// user for a refused sign-in, the database for a missing one, the port for a refused
/// connection), when it was answered; else the connection string, DSN file or host.
fn blamed_parameter(spec: &ConnectionSpec, values: &ParameterValues, e: &DbError) -> &'static str {
    let answered = |name: &str| answer(values, name).is_some();
    let specific = match e.connect_cause() {
        Some(ConnectCause::Authentication) => {
            Some(if answered(PASSWORD) { PASSWORD } else { USER })
        }
        Some(ConnectCause::DatabaseMissing) => Some(DATABASE),
        Some(ConnectCause::Refused) => Some(PORT),
        Some(ConnectCause::Tls) => Some(TLS_MODE),
        Some(ConnectCause::HostName | ConnectCause::TimedOut) => Some(HOST),
        Some(ConnectCause::Other) | None => None,
    };
    match specific {
        Some(name) if answered(name) => name,
        _ if spec.connection_string.is_some() => CONNECTION_STRING,
        _ if spec.driver == DriverKind::Odbc => DSN_FILE,
        _ if spec.driver == DriverKind::Sqlite => DATABASE,
        _ => HOST,
    }
}

async fn validate_connectivity(pools: &Pools, values: &ParameterValues) -> Vec<ParameterIssue> {
    let spec = match connection_spec(values) {
        Ok(spec) => spec,
        Err(e) => {
            let parameter = named_parameter(&e.message).unwrap_or_else(|| CONNECTION_STRING.into());
            let message =
                if parameter == CONNECTION_STRING && answer(values, CONNECTION_STRING).is_none() {
                    "a connection string is required".to_string()
                } else {
                    e.message
                };
            return vec![issue(parameter, message)];
        }
    };
    let reached = match pools.get(&spec).await {
        Ok(db) => db.ping().await,
        Err(e) => Err(e),
    };
    match reached {
        Ok(()) => Vec::new(),
        Err(e) => vec![issue(blamed_parameter(&spec, values, &e), e.to_string())],
    }
}

async fn validate_object_types(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    if let Some(detection) = answer(values, OBJECT_TYPE_DETECTION) {
        if !OBJECT_TYPE_DETECTIONS
            .iter()
            .any(|d| d.eq_ignore_ascii_case(detection))
        {
            issues.push(issue(
                OBJECT_TYPE_DETECTION,
                format!(
                    "'{detection}' is not offered; use one of {}",
                    OBJECT_TYPE_DETECTIONS.join(", ")
                ),
            ));
        }
    }
    match current(
        values,
        OBJECT_TYPE_DETECTION,
        &OBJECT_TYPE_DETECTIONS,
        FIXED_VALUE,
    ) {
        FIXED_VALUE => {
            let listed = listed_object_types(values);
            if listed.is_empty() {
                issues.push(issue(OBJECT_TYPES, "list at least one object type"));
            }
            let mut seen = std::collections::HashSet::new();
            for object_type in &listed {
                if object_type.contains(':') {
                    issues.push(issue(
                        OBJECT_TYPES,
                        format!("object type '{object_type}' must not contain ':'"),
                    ));
                }
                if !seen.insert(object_type.as_str()) {
                    issues.push(issue(
                        OBJECT_TYPES,
                        format!("object type '{object_type}' is listed twice"),
                    ));
                }
            }
        }
        detection => {
            let parameter = if detection == TABLE {
                OBJECT_TYPE_TABLE
            } else {
                OBJECT_TYPE_QUERY
            };
            if detection == TABLE {
                if let Some(table) = answer(values, OBJECT_TYPE_TABLE) {
                    let columns = db.columns(table).await?;
                    if columns.is_empty() {
                        issues.push(issue(
                            OBJECT_TYPE_TABLE,
                            format!("table '{table}' does not exist"),
                        ));
                        return Ok(issues);
                    }
                    if let Some(column) = answer(values, OBJECT_TYPE_COLUMN) {
                        if !columns.iter().any(|c| c.name == column) {
                            issues.push(issue(
                                OBJECT_TYPE_COLUMN,
                                format!("'{column}' is not a column of table '{table}'"),
                            ));
                            return Ok(issues);
                        }
                    }
                }
            }
            match object_types(db, values).await {
                Ok(types) if types.is_empty() => {
                    issues.push(issue(parameter, "no object types were found"));
                }
                Ok(_) => {}
                Err(e) => {
                    let parameter = named_parameter(&e.message).unwrap_or_else(|| parameter.into());
                    issues.push(issue(parameter, e.message));
                }
            }
        }
    }
    Ok(issues)
}

async fn validate_sources(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let tables = db.tables().await?;
    let mut issues = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let detection_key = attribute_detection_key(t);
        if let Some(detection) = answer(values, &detection_key) {
            if !ATTRIBUTE_DETECTIONS
                .iter()
                .any(|d| d.eq_ignore_ascii_case(detection))
            {
                issues.push(issue(
                    detection_key.clone(),
                    format!(
                        "'{detection}' is not offered; use one of {}",
                        ATTRIBUTE_DETECTIONS.join(", ")
                    ),
                ));
            }
        }
        match current(values, &detection_key, &ATTRIBUTE_DETECTIONS, TABLE) {
            PROCEDURE if db.flavor() == Flavor::Sqlite => issues.push(issue(
                detection_key.clone(),
                "SQLite has no stored procedures; use Table, View or SQL query",
            )),
            TABLE => {
                let name = table_key(t);
                match answer(values, &name).or_else(|| default_table(&tables, t)) {
                    None => issues.push(issue(name, format!("choose the table of {t}"))),
                    Some(table) if !tables.iter().any(|x| x.eq_ignore_ascii_case(table)) => {
                        issues.push(issue(name, format!("table '{table}' does not exist")));
                    }
                    Some(_) => {}
                }
            }
            _ => {
                if let Err(e) = detected(db, values, t).await {
                    let parameter = named_parameter(&e.message).unwrap_or(detection_key);
                    issues.push(issue(parameter, e.message));
                }
            }
        }
        let name = key(t, "multivalued_tables");
        for table in multivalued_tables(values, t) {
            if !tables.contains(&table) {
                issues.push(issue(
                    name.clone(),
                    format!("table '{table}' does not exist"),
                ));
            }
        }
    }
    Ok(issues)
}

async fn validate_anchors(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let (source, columns) = match detected(db, values, t).await {
            Ok(found) => found,
            Err(e) => {
                let parameter = named_parameter(&e.message).unwrap_or_else(|| table_key(t));
                issues.push(issue(parameter, e.message));
                continue;
            }
        };
        let where_ = source.describe();
        let is_column = |name: &str| columns.iter().any(|c| c.name == name);

        let anchor_name = anchor_key(t);
        let anchor: Option<Vec<String>> = answer(values, &anchor_name)
            .map(|a| anchor_columns(a, &columns))
            .or_else(|| default_anchor(&columns).map(|a| vec![a.to_string()]));
        // Checking the anchor needs the multi-valued attributes, found below; its issue comes
        // first all the same.
        let anchor_issue_at = issues.len();
        let name = dn_key(t);
        if let Some(dn) = answer(values, &name) {
            if !is_column(dn) {
                issues.push(issue(name, format!("'{dn}' is not a column of {where_}")));
            }
        }
        let name = dn_is_anchor_key(t);
        if let Some(flag) = answer(values, &name) {
            if parse_bool(flag).is_none() {
                issues.push(issue(name, "must be true or false"));
            }
        }
        let mut multi_valued: Vec<(String, String)> = Vec::new();
        // Key columns follow the anchor: their issues count only if the anchor has none.
        let mut key_issues = Vec::new();
        let anchor_list = anchor.clone().unwrap_or_default();
        for table in multivalued_tables(values, t) {
            let child = db.columns(&table).await?;
            let keys: Vec<String> = match key_columns_of(values, t, &table, &anchor_list, &child) {
                Ok(keys) => keys.into_iter().map(|k| k.name).collect(),
                Err(message) => {
                    key_issues.push(issue(column_key(t, &table, "key_column"), message));
                    Vec::new()
                }
            };
            let name = column_key(t, &table, "value_column");
            let value = answer(values, &name)
                .map(str::to_string)
                .or_else(|| default_value_column(&child, &keys).map(str::to_string));
            match &value {
                None => issues.push(issue(name, format!("choose a column of {table}"))),
                Some(column) if !child.iter().any(|c| c.name == *column) => {
                    issues.push(issue(
                        name,
                        format!("'{column}' is not a column of table '{table}'"),
                    ));
                }
                Some(column) if keys.contains(column) => issues.push(issue(
                    name,
                    "the value column must differ from the key columns",
                )),
                Some(column) if is_column(column) => issues.push(issue(
                    name,
                    format!("{t} already has an attribute named '{column}'"),
                )),
                Some(_) => {}
            }
            multi_valued.push((value.unwrap_or_default(), table.clone()));
        }
        let multi_valued: Vec<(&str, &str)> = multi_valued
            .iter()
            .map(|(value, table)| (value.as_str(), table.as_str()))
            .collect();
        let problem = match &anchor {
            None => Some(format!("choose the anchor of {t}: {ANCHOR_SYNTAX}")),
            Some(anchor) => check_anchor(t, anchor, &columns, &where_, &multi_valued).err(),
        };
        match problem {
            Some(message) => issues.insert(anchor_issue_at, issue(anchor_name, message)),
            None => issues.extend(key_issues),
        }
    }
    Ok(issues)
}

async fn validate_types(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        let columns = match detected(db, values, t).await {
            Ok((_, columns)) => columns,
            Err(e) => {
                let parameter = named_parameter(&e.message).unwrap_or_else(|| table_key(t));
                issues.push(issue(parameter, e.message));
                continue;
            }
        };
        let mut names: Vec<String> = columns.into_iter().map(|c| c.name).collect();
        for table in multivalued_tables(values, t) {
            if let Some(value) = answer(values, &column_key(t, &table, "value_column")) {
                names.push(value.to_string());
            }
        }
        for column in &names {
            let name = type_key(t, column);
            if let Some(given) = answer(values, &name) {
                if parse_type_name(given).is_none() {
                    issues.push(issue(
                        name,
                        format!("'{given}' is not one of {}", TYPE_NAMES.join(", ")),
                    ));
                }
            }
            let name = direction_key(t, column);
            if let Some(given) = answer(values, &name) {
                if !DIRECTIONS.iter().any(|d| d.eq_ignore_ascii_case(given)) {
                    issues.push(issue(
                        name,
                        format!("'{given}' is not one of {}", DIRECTIONS.join(", ")),
                    ));
                }
            }
        }
    }
    Ok(issues)
}

async fn validate_global(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    let strategy = match delta_strategy(values) {
        Ok(strategy) => strategy,
        Err(e) => {
            issues.push(issue(DELTA_STRATEGY, e.message));
            DeltaStrategy::None
        }
    };
    if let Some(format) = answer(values, DATE_TIME_FORMAT) {
        if let Err(m) = DateTimeFormat::parse(format) {
            issues.push(issue(DATE_TIME_FORMAT, m));
        }
    }
    if let Some(flag) = answer(values, CREATE_CHANGE_TRACKING) {
        if parse_bool(flag).is_none() {
            issues.push(issue(CREATE_CHANGE_TRACKING, "must be true or false"));
        }
    }
    match strategy {
        DeltaStrategy::Watermark => match answer(values, WATERMARK_QUERY) {
            None => issues.push(issue(
                WATERMARK_QUERY,
                "the Watermark strategy needs a watermark query",
            )),
            Some(query) => match db.fetch(&Statement::plain(query)).await {
                Ok(rows) if rows.len() == 1 && rows[0].first().is_some_and(Option::is_some) => {}
                Ok(_) => issues.push(issue(
                    WATERMARK_QUERY,
                    "the query must return exactly one non-NULL value",
                )),
                Err(e) => issues.push(issue(WATERMARK_QUERY, e.to_string())),
            },
        },
        DeltaStrategy::ChangeTracking => {
            let create = answer(values, CREATE_CHANGE_TRACKING)
                .and_then(parse_bool)
                .unwrap_or(false);
            let table = answer(values, CHANGE_TABLE).unwrap_or(DEFAULT_CHANGE_TABLE);
            if create && (db.is_odbc() && db.flavor() == Flavor::Generic) {
                issues.push(issue(
                    CREATE_CHANGE_TRACKING,
                    "the connector can create triggers in PostgreSQL, MySQL and SQLite only; create them yourself",
                ));
            }
            if !create && db.columns(table).await?.is_empty() {
                issues.push(issue(
                    CHANGE_TABLE,
                    format!("table '{table}' does not exist; tick '{CREATE_CHANGE_TRACKING}' to have it created"),
                ));
            }
        }
        DeltaStrategy::Snapshot | DeltaStrategy::None => {}
    }
    Ok(issues)
}

async fn validate_run_steps(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    for object_type in object_types(db, values).await? {
        let t = object_type.as_str();
        // Each SQL text must at least parse; resolution then checks names against the catalog.
        for suffix in [
            "import",
            "delta_import",
            "export_add",
            "export_update",
            "export_delete",
            "set_password",
        ] {
            let name = key(t, suffix);
            if let Some(text) = answer(values, &name) {
                if let Err(m) = NamedSql::parse(text) {
                    issues.push(issue(name, m));
                }
            }
        }
    }
    if !issues.is_empty() {
        return Ok(issues);
    }
    if let Err(e) = resolve(db, values).await {
        let parameter = named_parameter(&e.message).unwrap_or_else(|| DELTA_STRATEGY.into());
        issues.push(issue(parameter, e.message));
    }
    Ok(issues)
}
