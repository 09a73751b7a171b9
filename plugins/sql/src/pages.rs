//! The configuration wizard: which parameters each page asks, listed from the live database,
//! and the validation of each page's answers against it.
//!
//! Pages depend on earlier answers: page 2 lists the tables of the database page "connectivity"
//! points at, pages 3 and 4 the columns of the tables page 2 chose.

use ecma_plugin_api::{
    ConfigPage, ConnectorError, ParameterDefinition, ParameterIssue, ParameterKind, ParameterValues,
};

use crate::config::*;
use crate::db::{Database, Pools};
use crate::values::{discover_type, parse_bool, parse_type_name, type_name, TYPE_NAMES};

fn drop_down(name: String, options: Vec<String>) -> ParameterDefinition {
    ParameterDefinition::new(
        name,
        ParameterKind::DropDown {
            options,
            extensible: false,
        },
    )
}

fn issue(parameter: impl Into<String>, message: impl Into<String>) -> ParameterIssue {
    ParameterIssue {
        parameter: parameter.into(),
        message: message.into(),
    }
}

/// The pool for the answered connection string.
pub(crate) async fn database(
    pools: &Pools,
    values: &ParameterValues,
) -> Result<Database, ConnectorError> {
    let connection_string = values.require(CONNECTION_STRING)?;
    Ok(pools
        .get(connection_string, values.is_secret(CONNECTION_STRING))
        .await?)
}

pub(crate) async fn parameters(
    pools: &Pools,
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, ConnectorError> {
    match page {
        ConfigPage::Connectivity => Ok(vec![ParameterDefinition::new(CONNECTION_STRING, ParameterKind::String)
            .required()
            .with_description(
                "SQLite database: a sqlx URL such as sqlite:///var/lib/app.db or sqlite://relative.db, or a file \
                 path. The file must exist.",
            )]),
        ConfigPage::Schema(1) => Ok(vec![
            drop_down(OBJECT_TYPE_DETECTION.into(), vec![FIXED_VALUE.into()])
                .required()
                .with_default(FIXED_VALUE)
                .with_description("How object types are found: a fixed list, given below."),
            ParameterDefinition::new(OBJECT_TYPES, ParameterKind::String)
                .required()
                .with_default(DEFAULT_OBJECT_TYPES)
                .with_description("Comma-separated object type names, e.g. User,Group."),
        ]),
        ConfigPage::Schema(2) => {
            let db = database(pools, values).await?;
            let tables = db.tables().await?;
            let mut defs = Vec::new();
            for object_type in object_types(values) {
                defs.push(
                    drop_down(attribute_detection_key(&object_type), vec![TABLE_DETECTION.into()])
                        .required()
                        .with_default(TABLE_DETECTION)
                        .with_description(format!("How the attributes of {object_type} are found.")),
                );
                let mut table = drop_down(table_key(&object_type), tables.clone())
                    .required()
                    .with_description(format!("The table holding one row per {object_type}."));
                table.default = default_table(&tables, &object_type).map(str::to_string);
                defs.push(table);
            }
            Ok(defs)
        }
        ConfigPage::Schema(3) => {
            let db = database(pools, values).await?;
            let mut defs = Vec::new();
            for object_type in object_types(values) {
                let (_, columns) = table_columns(&db, values, &object_type).await?;
                let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
                let mut anchor = drop_down(anchor_key(&object_type), names.clone())
                    .required()
                    .with_description(format!("The column that identifies a {object_type} for good."));
                anchor.default = default_anchor(&columns).map(str::to_string);
                defs.push(anchor);
                defs.push(
                    drop_down(dn_key(&object_type), names)
                        .with_description(format!("The column holding the DN of a {object_type}, if not the anchor.")),
                );
                defs.push(
                    ParameterDefinition::new(dn_is_anchor_key(&object_type), ParameterKind::CheckBox)
                        .with_default("true")
                        .with_description("Use the anchor value as the DN."),
                );
            }
            Ok(defs)
        }
        ConfigPage::Schema(4) => {
            let db = database(pools, values).await?;
            let options: Vec<String> = TYPE_NAMES.iter().map(|t| t.to_string()).collect();
            let mut defs = Vec::new();
            for object_type in object_types(values) {
                let (table, columns) = table_columns(&db, values, &object_type).await?;
                for column in &columns {
                    defs.push(
                        drop_down(type_key(&object_type, &column.name), options.clone())
                            .with_default(type_name(discover_type(&column.declared_type)))
                            .with_description(format!(
                                "Type of {table}.{} (declared '{}').",
                                column.name, column.declared_type
                            )),
                    );
                }
            }
            Ok(defs)
        }
        _ => Ok(Vec::new()),
    }
}

pub(crate) async fn validate(
    pools: &Pools,
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    match page {
        ConfigPage::Connectivity => Ok(validate_connectivity(pools, values).await),
        ConfigPage::Schema(1) => Ok(validate_object_types(values)),
        ConfigPage::Schema(2) => validate_tables(&database(pools, values).await?, values).await,
        ConfigPage::Schema(3) => validate_anchors(&database(pools, values).await?, values).await,
        ConfigPage::Schema(4) => validate_types(&database(pools, values).await?, values).await,
        _ => Ok(Vec::new()),
    }
}

async fn validate_connectivity(pools: &Pools, values: &ParameterValues) -> Vec<ParameterIssue> {
    let Some(connection_string) = answer(values, CONNECTION_STRING) else {
        return vec![issue(CONNECTION_STRING, "a connection string is required")];
    };
    let reached = match pools
        .get(connection_string, values.is_secret(CONNECTION_STRING))
        .await
    {
        Ok(db) => db.ping().await,
        Err(e) => Err(e),
    };
    match reached {
        Ok(()) => Vec::new(),
        Err(e) => vec![issue(CONNECTION_STRING, e.to_string())],
    }
}

fn validate_object_types(values: &ParameterValues) -> Vec<ParameterIssue> {
    let mut issues = Vec::new();
    if let Some(detection) = answer(values, OBJECT_TYPE_DETECTION) {
        if detection != FIXED_VALUE {
            issues.push(issue(
                OBJECT_TYPE_DETECTION,
                format!("'{detection}' is not offered; use '{FIXED_VALUE}'"),
            ));
        }
    }
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
    issues
}

async fn validate_tables(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let tables = db.tables().await?;
    let mut issues = Vec::new();
    for object_type in object_types(values) {
        let key = attribute_detection_key(&object_type);
        if let Some(detection) = answer(values, &key) {
            if detection != TABLE_DETECTION {
                issues.push(issue(
                    key,
                    format!("'{detection}' is not offered; use '{TABLE_DETECTION}'"),
                ));
            }
        }
        let key = table_key(&object_type);
        match answer(values, &key).or_else(|| default_table(&tables, &object_type)) {
            None => issues.push(issue(key, format!("choose the table of {object_type}"))),
            Some(table) if !tables.iter().any(|t| t.eq_ignore_ascii_case(table)) => {
                issues.push(issue(key, format!("table '{table}' does not exist")));
            }
            Some(_) => {}
        }
    }
    Ok(issues)
}

async fn validate_anchors(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    for object_type in object_types(values) {
        let (table, columns) = match table_columns(db, values, &object_type).await {
            Ok(found) => found,
            Err(e) => {
                issues.push(issue(table_key(&object_type), e.message));
                continue;
            }
        };
        let is_column = |name: &str| columns.iter().any(|c| c.name == name);

        let key = anchor_key(&object_type);
        match answer(values, &key).or_else(|| default_anchor(&columns)) {
            None => issues.push(issue(
                key,
                format!("choose the anchor column of {object_type}"),
            )),
            Some(anchor) if !is_column(anchor) => {
                issues.push(issue(
                    key,
                    format!("'{anchor}' is not a column of table '{table}'"),
                ));
            }
            Some(_) => {}
        }
        let key = dn_key(&object_type);
        if let Some(dn) = answer(values, &key) {
            if !is_column(dn) {
                issues.push(issue(
                    key,
                    format!("'{dn}' is not a column of table '{table}'"),
                ));
            }
        }
        let key = dn_is_anchor_key(&object_type);
        if let Some(flag) = answer(values, &key) {
            if parse_bool(flag).is_none() {
                issues.push(issue(key, "must be true or false"));
            }
        }
    }
    Ok(issues)
}

async fn validate_types(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ParameterIssue>, ConnectorError> {
    let mut issues = Vec::new();
    for object_type in object_types(values) {
        let (_, columns) = match table_columns(db, values, &object_type).await {
            Ok(found) => found,
            Err(e) => {
                issues.push(issue(table_key(&object_type), e.message));
                continue;
            }
        };
        for column in &columns {
            let key = type_key(&object_type, &column.name);
            if let Some(name) = answer(values, &key) {
                if parse_type_name(name).is_none() {
                    issues.push(issue(
                        key,
                        format!("'{name}' is not one of {}", TYPE_NAMES.join(", ")),
                    ));
                }
            }
        }
    }
    Ok(issues)
}
