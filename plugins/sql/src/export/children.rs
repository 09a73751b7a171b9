//! The child-table statements of an entry: the rows of its multi-valued attributes.
//!
//! A child table holds one row per value, keyed by the owner's anchor (one key column per
//! anchor column). Whole-attribute changes
//! (`Add`, `Replace`, `Delete`) rewrite the owner's rows; a value-level `Update` touches only
//! the rows of the values it names: one `DELETE ... WHERE key = ? AND value IN (...)` for every
//! value it mentions and one multi-row `INSERT` for those it leaves present, so its cost is
//! proportional to the change, whatever the number of values the attribute already has.

use std::collections::HashMap;

use ecma_plugin_api::{
    AttributeChange, AttributeModification, CsEntryChange, ExportError, ObjectModification, Value,
    ValueModification,
};

use super::target::{missing_anchor, Attribute, Target};
use crate::config::ChildTable;
use crate::db::{Check, Step};
use crate::sql::{Bind, Dialect, Insert, StatementBuilder};

/// Values per `IN (...)` list and rows per `INSERT` of a value-level change: far below every
/// database's parameter limit.
const VALUES_PER_STATEMENT: usize = 1000;

/// The owner's anchor as child tables are keyed by it: per anchor column, in order, the value
/// (or [`Bind::Returned`] for a key the database assigns) and the column's declared type.
#[derive(Clone, Debug)]
pub(super) struct OwnerKey {
    pub(super) values: Vec<(Bind, Option<String>)>,
}

impl OwnerKey {
    /// The key of an object whose anchor is `columns` ([`super::target::ColumnValue`]s).
    pub(super) fn of(columns: &[super::target::ColumnValue]) -> Self {
        Self {
            values: columns
                .iter()
                .map(|(_, value, declared)| (value.clone(), declared.clone()))
                .collect(),
        }
    }
}

/// The declared type to cast the `i`-th anchor value to in `child`'s key column: the key
/// column's own, else the anchor column's.
pub(super) fn key_declared<'a>(
    child: &'a ChildTable,
    i: usize,
    anchor_declared: Option<&'a str>,
) -> Option<&'a str> {
    child
        .key_declared
        .get(i)
        .map(String::as_str)
        .filter(|d| !d.is_empty())
        .or(anchor_declared)
}

/// `"k1" = ? AND "k2" = ?`: the rows of `child` keyed by `values` (one per key column).
pub(super) fn keyed(
    b: &mut StatementBuilder,
    child: &ChildTable,
    values: &[(Bind, Option<String>)],
) {
    for (i, (column, (value, declared))) in child.key_columns.iter().zip(values).enumerate() {
        if i > 0 {
            b.sql(" AND ");
        }
        b.ident(column)
            .sql(" = ")
            .typed_bind(value.clone(), key_declared(child, i, declared.as_deref()));
    }
}

/// The child-table statements of an entry's multi-valued changes (and, for a delete, the
/// removal of all its child rows); `owner` is `None` when the entry has no anchor.
pub(super) fn plan_children(
    dialect: Dialect,
    target: &Target,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
    owner: Option<OwnerKey>,
) -> Result<Vec<Step>, ExportError> {
    let needs_owner = entry.modification == ObjectModification::Delete
        && !target.children.is_empty()
        || !changes.is_empty();
    let Some(owner) = owner else {
        return if needs_owner {
            let first = target.anchor.first().map_or("", String::as_str);
            Err(missing_anchor(&target.anchor, first))
        } else {
            Ok(Vec::new())
        };
    };
    let rows = ChildRows {
        dialect,
        target,
        owner: &owner,
    };
    let mut steps = Vec::new();
    if entry.modification == ObjectModification::Delete {
        steps.extend(target.children.iter().map(|child| rows.delete_all(child)));
        return Ok(steps);
    }
    // Several changes to one multi-valued attribute apply in order (value-level removals,
    // then additions, say).
    for change in changes {
        let Some(child) = target.child(&change.name) else {
            continue;
        };
        match change.modification {
            AttributeModification::Add | AttributeModification::Replace => {
                if entry.modification != ObjectModification::Add {
                    steps.push(rows.delete_all(child));
                }
                let mut values = Vec::new();
                for value in distinct(change.added_values()) {
                    values.push(rows.convert(child, value)?);
                }
                steps.extend(rows.insert(child, values));
            }
            AttributeModification::Delete => steps.push(rows.delete_all(child)),
            AttributeModification::Update => {
                // The last change of a value decides whether it is present afterwards.
                let mut last: HashMap<&Value, ValueModification> = HashMap::new();
                let mut order: Vec<&Value> = Vec::new();
                for value_change in &change.values {
                    if last
                        .insert(&value_change.value, value_change.modification)
                        .is_none()
                    {
                        order.push(&value_change.value);
                    }
                }
                let mut touched = Vec::with_capacity(order.len());
                let mut present = Vec::new();
                for value in order {
                    let bind = rows.convert(child, value)?;
                    if last.get(value) == Some(&ValueModification::Add) {
                        present.push(bind.clone());
                    }
                    touched.push(bind);
                }
                // Deleting first makes adding a value that is already there harmless.
                for part in touched.chunks(VALUES_PER_STATEMENT) {
                    steps.push(rows.delete_values(child, part.to_vec()));
                }
                for part in present.chunks(VALUES_PER_STATEMENT) {
                    steps.extend(rows.insert(child, part.to_vec()));
                }
            }
        }
    }
    Ok(steps)
}

/// `values` without repeats, in order: a value listed twice is one row.
fn distinct<'a>(values: impl Iterator<Item = &'a Value>) -> Vec<&'a Value> {
    let mut seen = std::collections::HashSet::new();
    values.filter(|v| seen.insert(*v)).collect()
}

/// Statements on the child rows of one owner.
struct ChildRows<'a> {
    dialect: Dialect,
    target: &'a Target,
    owner: &'a OwnerKey,
}

impl ChildRows<'_> {
    fn convert(&self, child: &ChildTable, value: &Value) -> Result<Bind, ExportError> {
        let attribute = Attribute {
            attribute_type: child.value.attribute_type,
            direction: child.value.direction,
            declared: child.value.declared().map(str::to_string),
        };
        self.target.convert(&child.value.name, &attribute, value)
    }

    /// `WHERE key = ?`, the owner's rows.
    fn owned(&self, b: &mut StatementBuilder, child: &ChildTable) {
        b.sql(" WHERE ");
        keyed(b, child, &self.owner.values);
    }

    fn delete_all(&self, child: &ChildTable) -> Step {
        let mut b = StatementBuilder::new(self.dialect);
        b.sql("DELETE FROM ").ident(&child.table);
        self.owned(&mut b, child);
        Step::new(b.finish(), Check::None)
    }

    /// The owner's rows holding one of `values`.
    fn delete_values(&self, child: &ChildTable, values: Vec<Bind>) -> Step {
        let mut b = StatementBuilder::new(self.dialect);
        b.sql("DELETE FROM ").ident(&child.table);
        self.owned(&mut b, child);
        b.sql(" AND ")
            .in_list(&child.value.name, values, child.value.declared());
        Step::new(b.finish(), Check::None)
    }

    /// One row per value; `None` without values: there is nothing to insert.
    fn insert(&self, child: &ChildTable, values: Vec<Bind>) -> Option<Step> {
        let mut columns: Vec<(String, Option<String>)> = child
            .key_columns
            .iter()
            .zip(&self.owner.values)
            .enumerate()
            .map(|(i, (column, (_, declared)))| {
                (
                    column.clone(),
                    key_declared(child, i, declared.as_deref()).map(str::to_string),
                )
            })
            .collect();
        columns.push((
            child.value.name.clone(),
            child.value.declared().map(str::to_string),
        ));
        let key: Vec<Bind> = self.owner.values.iter().map(|(v, _)| v.clone()).collect();
        let rows = values
            .into_iter()
            .map(|value| {
                let mut row = key.clone();
                row.push(value);
                row
            })
            .collect();
        Insert::new(&child.table, columns, None, rows)
            .map(|insert| Step::insert(self.dialect, insert, Check::None))
    }
}
