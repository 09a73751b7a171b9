//! The connector's parameters: their exact names, and how the answers resolve, against the
//! live catalog, into one [`ObjectTypeMap`] per object type.
//!
//! The host merges every page's answers into one set (as ECMA2 does), so names are unique
//! across pages: global names for the first pages, `Type:...` and `Type:Column:type` for the
//! per-object-type ones. An unanswered parameter takes the default its page offers, so the
//! outcome is the same whether or not the host filled defaults in.

use ecma_plugin_api::{
    AttributeType, ConnectorError, ObjectTypeSchema, ParameterValues, SchemaAttribute,
};

use crate::db::{ColumnInfo, Database};
use crate::values::{discover_type, parse_bool, parse_type_name};

pub(crate) const CONNECTION_STRING: &str = "connection_string";
pub(crate) const OBJECT_TYPE_DETECTION: &str = "object_type_detection";
pub(crate) const OBJECT_TYPES: &str = "object_types";

/// The only object type detection this slice offers: a list typed by the administrator.
pub(crate) const FIXED_VALUE: &str = "Fixed value";
pub(crate) const DEFAULT_OBJECT_TYPES: &str = "User";
/// The only attribute detection this slice offers: the columns of one table.
pub(crate) const TABLE_DETECTION: &str = "Table";

pub(crate) fn attribute_detection_key(object_type: &str) -> String {
    format!("{object_type}:attribute_detection")
}

pub(crate) fn table_key(object_type: &str) -> String {
    format!("{object_type}:table")
}

pub(crate) fn anchor_key(object_type: &str) -> String {
    format!("{object_type}:anchor")
}

pub(crate) fn dn_key(object_type: &str) -> String {
    format!("{object_type}:dn")
}

pub(crate) fn dn_is_anchor_key(object_type: &str) -> String {
    format!("{object_type}:dn_is_anchor")
}

pub(crate) fn type_key(object_type: &str, column: &str) -> String {
    format!("{object_type}:{column}:type")
}

/// A non-empty answer.
pub(crate) fn answer<'a>(values: &'a ParameterValues, name: &str) -> Option<&'a str> {
    values.get(name).map(str::trim).filter(|v| !v.is_empty())
}

/// The object type names as listed in `object_types`, trimmed, in order, without empties.
/// Duplicates are kept so that validation can point them out.
pub(crate) fn listed_object_types(values: &ParameterValues) -> Vec<String> {
    answer(values, OBJECT_TYPES)
        .unwrap_or(DEFAULT_OBJECT_TYPES)
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`listed_object_types`] with duplicates removed.
pub(crate) fn object_types(values: &ParameterValues) -> Vec<String> {
    let mut types = listed_object_types(values);
    let mut seen = std::collections::HashSet::new();
    types.retain(|t| seen.insert(t.clone()));
    types
}

/// The table a type maps to by default: the one named like the type, ignoring ASCII case as
/// SQLite does for identifiers.
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

/// The table answered for `object_type`, or its default.
pub(crate) async fn table_of(
    db: &Database,
    values: &ParameterValues,
    object_type: &str,
) -> Result<String, ConnectorError> {
    if let Some(table) = answer(values, &table_key(object_type)) {
        return Ok(table.to_string());
    }
    let tables = db.tables().await?;
    default_table(&tables, object_type)
        .map(str::to_string)
        .ok_or_else(|| {
            ConnectorError::invalid_configuration(format!(
                "parameter '{}' is required",
                table_key(object_type)
            ))
        })
}

/// The columns of the table answered for `object_type`; an error if the table does not exist.
pub(crate) async fn table_columns(
    db: &Database,
    values: &ParameterValues,
    object_type: &str,
) -> Result<(String, Vec<ColumnInfo>), ConnectorError> {
    let table = table_of(db, values, object_type).await?;
    let columns = db.columns(&table).await?;
    if columns.is_empty() {
        return Err(ConnectorError::invalid_configuration(format!(
            "table '{table}' (parameter '{}') does not exist",
            table_key(object_type)
        )));
    }
    Ok((table, columns))
}

/// The type a column gets: the `Type:Column:type` answer, or the one its declared type suggests.
pub(crate) fn column_type(
    values: &ParameterValues,
    object_type: &str,
    column: &ColumnInfo,
) -> Result<AttributeType, ConnectorError> {
    let key = type_key(object_type, &column.name);
    match answer(values, &key) {
        Some(name) => parse_type_name(name).ok_or_else(|| {
            ConnectorError::invalid_configuration(format!(
                "parameter '{key}' must be one of String, Integer, Boolean, Binary, Reference"
            ))
        }),
        None => Ok(discover_type(&column.declared_type)),
    }
}

/// A column with the attribute type it is exposed as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) attribute_type: AttributeType,
}

/// How one object type maps onto the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectTypeMap {
    pub(crate) name: String,
    pub(crate) table: String,
    pub(crate) anchor: String,
    /// The column holding the DN, when it is not the anchor.
    pub(crate) dn: Option<String>,
    pub(crate) columns: Vec<Column>,
}

impl ObjectTypeMap {
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub(crate) fn schema(&self) -> ObjectTypeSchema {
        ObjectTypeSchema {
            name: self.name.clone(),
            anchor: vec![self.anchor.clone()],
            attributes: self
                .columns
                .iter()
                .map(|c| SchemaAttribute::single(c.name.clone(), c.attribute_type))
                .collect(),
        }
    }
}

/// Every configured object type, resolved against the live catalog.
pub(crate) async fn resolve(
    db: &Database,
    values: &ParameterValues,
) -> Result<Vec<ObjectTypeMap>, ConnectorError> {
    let mut maps = Vec::new();
    for object_type in object_types(values) {
        maps.push(resolve_one(db, values, &object_type).await?);
    }
    Ok(maps)
}

async fn resolve_one(
    db: &Database,
    values: &ParameterValues,
    object_type: &str,
) -> Result<ObjectTypeMap, ConnectorError> {
    let (table, infos) = table_columns(db, values, object_type).await?;
    let invalid = |message: String| ConnectorError::invalid_configuration(message);
    let is_column = |name: &str| infos.iter().any(|c| c.name == name);

    let key = anchor_key(object_type);
    let anchor = match answer(values, &key) {
        Some(anchor) => anchor.to_string(),
        None => default_anchor(&infos)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("parameter '{key}' is required")))?,
    };
    if !is_column(&anchor) {
        return Err(invalid(format!(
            "anchor column '{anchor}' (parameter '{key}') is not a column of table '{table}'"
        )));
    }

    let key = dn_is_anchor_key(object_type);
    let dn_is_anchor = match answer(values, &key) {
        Some(v) => parse_bool(v)
            .ok_or_else(|| invalid(format!("parameter '{key}' must be true or false")))?,
        None => true,
    };
    let key = dn_key(object_type);
    let dn = match answer(values, &key) {
        Some(dn) if !is_column(dn) => {
            return Err(invalid(format!(
                "DN column '{dn}' (parameter '{key}') is not a column of table '{table}'"
            )));
        }
        Some(dn) if !dn_is_anchor && dn != anchor => Some(dn.to_string()),
        _ => None,
    };

    let columns = infos
        .iter()
        .map(|info| {
            Ok(Column {
                name: info.name.clone(),
                attribute_type: column_type(values, object_type, info)?,
            })
        })
        .collect::<Result<_, ConnectorError>>()?;
    Ok(ObjectTypeMap {
        name: object_type.to_string(),
        table,
        anchor,
        dn,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_type_list() {
        let mut values = ParameterValues::new();
        assert_eq!(object_types(&values), vec!["User"]);
        values.insert(OBJECT_TYPES, " User, Group ,,User ");
        assert_eq!(listed_object_types(&values), vec!["User", "Group", "User"]);
        assert_eq!(object_types(&values), vec!["User", "Group"]);
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
    }
}
