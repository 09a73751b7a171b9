//! Where and how the entries of one object type are written ([`Target`]): the attributes an
//! export may set, with the types and declared column types their values are bound as, and the
//! object's anchor, read from an entry and turned into `WHERE` conditions.

use std::collections::HashMap;

use ecma_plugin_api::{
    AttributeChange, AttributeDirection, AttributeModification, AttributeType, CsEntryChange,
    ExportError, ExportErrorKind, Schema, Value,
};

use crate::config::{
    ChildTable, Custom, Export, ObjectTypeMap, SPECIAL_NEW_ANCHOR, SPECIAL_NEW_DN,
};
use crate::error::entry_error;
use crate::sql::Bind;
use crate::values::{to_bind, DateTimeFormat};

/// `(column, value, declared type)`: one column a statement sets or matches.
pub(super) type ColumnValue = (String, Bind, Option<String>);

/// An attribute as export sees it.
#[derive(Clone, Debug)]
pub(super) struct Attribute {
    pub(super) attribute_type: AttributeType,
    pub(super) direction: AttributeDirection,
    /// The declared type of the column written (for casts and date parsing).
    pub(super) declared: Option<String>,
}

/// Where and how the entries of one object type are written.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) object_type: String,
    /// The anchor columns, in order (one, or several for a multi-column anchor).
    pub(super) anchor: Vec<String>,
    /// The column holding the DN; `None` when the DN is the anchor.
    pub(super) dn: Option<String>,
    /// Single-valued attributes.
    pub(super) attributes: HashMap<String, Attribute>,
    /// Multi-valued attributes: child tables keyed by one column per anchor column.
    pub(super) children: Vec<ChildTable>,
    pub(super) method: Method,
    pub(super) format: DateTimeFormat,
}

#[derive(Debug)]
pub(super) enum Method {
    /// Generated statements on this table.
    Table(String),
    Custom {
        add: Option<Custom>,
        update: Option<Custom>,
        delete: Option<Custom>,
        /// The update statement takes `@new_anchor` (`@new_dn`), so it can give an object a
        /// new anchor (DN).
        takes_new_anchor: bool,
        takes_new_dn: bool,
    },
}

pub(super) fn syntax(message: String) -> ExportError {
    entry_error(ExportErrorKind::SyntaxViolation, message)
}

impl Target {
    /// `map` with the attribute types of the schema the host passed, where it names them.
    pub(super) fn new(map: &ObjectTypeMap, schema: &Schema, format: &DateTimeFormat) -> Self {
        let host_type = |name: &str| {
            schema
                .object_type(&map.name)
                .and_then(|t| t.attribute(name))
                .map(|a| a.attribute_type)
        };
        let (method, declared_in_table): (Method, HashMap<String, String>) = match &map.export {
            Export::Table { table, columns } => (
                Method::Table(table.clone()),
                columns
                    .iter()
                    .map(|c| (c.name.clone(), c.declared_type.clone()))
                    .collect(),
            ),
            Export::Custom {
                add,
                update,
                delete,
            } => (
                Method::Custom {
                    add: add.clone(),
                    update: update.clone(),
                    delete: delete.clone(),
                    takes_new_anchor: map.update_takes(SPECIAL_NEW_ANCHOR).unwrap_or(true),
                    takes_new_dn: map.update_takes(SPECIAL_NEW_DN).unwrap_or(true),
                },
                HashMap::new(),
            ),
        };
        let table_method = matches!(method, Method::Table(_));
        let attributes = map
            .columns
            .iter()
            // With a table export, only the export table's columns can be written.
            .filter(|c| !table_method || declared_in_table.contains_key(&c.name))
            .map(|c| {
                let declared = declared_in_table
                    .get(&c.name)
                    .cloned()
                    .or_else(|| c.declared().map(str::to_string))
                    .filter(|d| !d.is_empty());
                (
                    c.name.clone(),
                    Attribute {
                        attribute_type: host_type(&c.name).unwrap_or(c.attribute_type),
                        direction: c.direction,
                        declared,
                    },
                )
            })
            .collect();
        let children = map
            .children
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if let Some(t) = host_type(&c.value.name) {
                    c.value.attribute_type = t;
                }
                c
            })
            .collect();
        Self {
            object_type: map.name.clone(),
            anchor: map.anchor.clone(),
            dn: map.dn.clone(),
            attributes,
            children,
            method,
            format: format.clone(),
        }
    }

    pub(super) fn where_(&self) -> String {
        match &self.method {
            Method::Table(table) => format!("table '{table}'"),
            Method::Custom { .. } => format!("object type '{}'", self.object_type),
        }
    }

    pub(super) fn is_anchor(&self, name: &str) -> bool {
        self.anchor.iter().any(|a| a == name)
    }

    /// The anchor column, when the anchor is one column.
    pub(super) fn single_anchor(&self) -> Option<&str> {
        match self.anchor.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    pub(super) fn attribute(&self, name: &str) -> Result<&Attribute, ExportError> {
        self.attributes.get(name).ok_or_else(|| {
            syntax(format!(
                "attribute '{name}' is not a column of {}",
                self.where_()
            ))
        })
    }

    /// An attribute the entry writes: known, and not import-only.
    pub(super) fn writable(&self, name: &str) -> Result<&Attribute, ExportError> {
        let attribute = self.attribute(name)?;
        if attribute.direction == AttributeDirection::ImportOnly && !self.is_anchor(name) {
            return Err(syntax(format!("attribute '{name}' is import-only")));
        }
        Ok(attribute)
    }

    pub(super) fn child(&self, name: &str) -> Option<&ChildTable> {
        self.children.iter().find(|c| c.value.name == name)
    }

    /// `value` as a parameter for a column of `attribute`'s type; dates are rewritten from the
    /// configured format to ISO 8601.
    pub(super) fn convert(
        &self,
        name: &str,
        attribute: &Attribute,
        value: &Value,
    ) -> Result<Bind, ExportError> {
        let bind = to_bind(value, attribute.attribute_type)
            .map_err(|problem| syntax(format!("attribute '{name}' {problem}")))?;
        Ok(match (bind, attribute.declared.as_deref()) {
            (Bind::Text(text), Some(declared)) if is_temporal(declared) => {
                Bind::Text(self.format.to_database(&text))
            }
            (bind, _) => bind,
        })
    }

    /// `value` bound for the writable column `name`.
    pub(super) fn bind(&self, name: &str, value: &Value) -> Result<ColumnValue, ExportError> {
        let attribute = self.writable(name)?;
        Ok((
            name.to_string(),
            self.convert(name, attribute, value)?,
            attribute.declared.clone(),
        ))
    }

    /// The current value of anchor column `name` of an existing object: from the entry's
    /// anchor, or, for a single-column anchor that is also the DN, from the DN.
    pub(super) fn anchor_value(&self, entry: &CsEntryChange, name: &str) -> Option<Value> {
        entry.anchor_value(name).cloned().or_else(|| {
            (self.anchor.len() == 1 && self.dn.is_none() && !entry.dn.is_empty())
                .then(|| Value::String(entry.dn.clone()))
        })
    }

    /// One condition per anchor column that finds an existing object's row.
    pub(super) fn anchor_conditions(
        &self,
        entry: &CsEntryChange,
    ) -> Result<Vec<ColumnValue>, ExportError> {
        self.anchor
            .iter()
            .map(|name| {
                let value = self
                    .anchor_value(entry, name)
                    .ok_or_else(|| missing_anchor(&self.anchor, name))?;
                let attribute = self.attribute(name)?;
                Ok((
                    name.clone(),
                    self.convert(name, attribute, &value)?,
                    attribute.declared.clone(),
                ))
            })
            .collect()
    }
}

/// The error of an entry that lacks the value of anchor column `name`.
pub(super) fn missing_anchor(anchor: &[String], name: &str) -> ExportError {
    let message = if anchor.len() > 1 {
        format!(
            "the entry has no value for anchor component '{name}' (the anchor is {})",
            anchor.join(", ")
        )
    } else {
        format!("the entry has no value for anchor '{name}'")
    };
    entry_error(ExportErrorKind::MissingAnchorComponent, message)
}

/// Date and time types, whose text the date-time format applies to.
fn is_temporal(declared: &str) -> bool {
    let d = declared.to_ascii_lowercase();
    d.contains("date") || d.contains("time")
}

/// The single value an attribute change sets, or `None` for "clear it".
pub(super) fn new_value(change: &AttributeChange) -> Result<Option<&Value>, ExportError> {
    if change.modification == AttributeModification::Delete {
        return Ok(None);
    }
    let mut values = change.added_values();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        _ => Err(syntax(format!(
            "attribute '{}' is single-valued but the change adds several values",
            change.name
        ))),
    }
}
