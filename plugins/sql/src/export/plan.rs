//! Planning: one entry change becomes the statements of one [`Operation`], before the
//! database is asked anything.
//!
//! An entry's first statements write the object itself: a generated INSERT, UPDATE or DELETE
//! on the export table, or the stored procedure or SQL statement configured for the
//! modification; a rename adds a lookup of the new anchor before the update and the moves of
//! its child rows after it ([`super::rename`]). Then come the child-table statements of its
//! multi-valued attributes ([`super::children`]); for a delete they come first instead, for
//! foreign keys' sake. Generated INSERTs also keep their rows ([`Insert`]), so that the
//! database layer can send the rows of a batch's new objects together, as multi-row
//! statements.
//!
//! Planning is pure and checks every attribute name against the resolved schema before any
//! SQL is written, so an entry that names an unknown attribute or carries an unconvertible value
//! fails alone, without touching the database.

use std::collections::HashSet;

use ecma_plugin_api::{
    AttributeChange, AttributeDirection, AttributeType, CsEntryChange, ExportError,
    ExportErrorKind, ObjectModification, Value, NEW_DN_ATTRIBUTE,
};

use super::children::{plan_children, OwnerKey};
use super::rename::Rename;
use super::target::{missing_anchor, new_value, syntax, ColumnValue, Method, Target};
use crate::config::{
    key, lookup, Custom, ProcedureCall, SPECIAL_ANCHOR, SPECIAL_DN, SPECIAL_NEW_ANCHOR,
    SPECIAL_NEW_DN, SPECIAL_OBJECT_TYPE,
};
use crate::db::{Check, Operation, RoutineKind, Step};
use crate::error::entry_error;
use crate::sql::{Bind, Dialect, Flavor, Insert, Statement, StatementBuilder};

/// An entry's statements, and what its outcome needs to be read.
#[derive(Debug)]
pub(super) struct Planned {
    pub(super) operation: Operation,
    /// The anchor the entry reads back because the database assigns it.
    pub(super) assigned_anchor: Option<(String, AttributeType)>,
    /// The entry renames its object.
    pub(super) renames: bool,
}

fn step(statement: Statement, check: Check) -> Step {
    Step::new(statement, check)
}

pub(super) fn plan(
    dialect: Dialect,
    target: &Target,
    entry: &CsEntryChange,
) -> Result<Planned, ExportError> {
    // Multi-valued changes are split off; the object's own statement sees the rest. The new
    // DN of a rename is not an attribute.
    let (multi, single): (Vec<&AttributeChange>, Vec<&AttributeChange>) = entry
        .changes
        .iter()
        .filter(|c| c.name != NEW_DN_ATTRIBUTE)
        .partition(|c| target.child(&c.name).is_some());
    for change in &multi {
        if let Some(child) = target.child(&change.name) {
            if child.value.direction == AttributeDirection::ImportOnly {
                return Err(syntax(format!(
                    "attribute '{}' is import-only",
                    change.name
                )));
            }
        }
    }
    let current = target.anchor_conditions(entry);
    let rename = match &current {
        Ok(current) => Rename::of(target, entry, current)?,
        // Without a current anchor only the DN can be told; update planning reports the
        // missing anchor.
        Err(_) => Rename::of(target, entry, &[])?,
    };
    let mut planned = match &target.method {
        Method::Table(table) => match entry.modification {
            ObjectModification::Add => plan_insert(dialect, target, table, entry, &single)?,
            ObjectModification::Replace | ObjectModification::Update => {
                plan_update(dialect, target, table, entry, &single, &rename)?
            }
            ObjectModification::Delete => {
                let mut b = StatementBuilder::new(dialect);
                b.sql("DELETE FROM ")
                    .ident(table)
                    .sql(" WHERE ")
                    .equalities(current.clone()?);
                Planned {
                    operation: Operation {
                        steps: vec![step(b.finish(), Check::RowsAffected)],
                    },
                    assigned_anchor: None,
                    renames: false,
                }
            }
        },
        Method::Custom {
            add,
            update,
            delete,
            takes_new_anchor,
            takes_new_dn,
        } => {
            let (custom, parameter) = match entry.modification {
                ObjectModification::Add => (add, "export_add"),
                ObjectModification::Replace | ObjectModification::Update => {
                    (update, "export_update")
                }
                ObjectModification::Delete => (delete, "export_delete"),
            };
            let custom = custom.as_ref().ok_or_else(|| {
                entry_error(
                    ExportErrorKind::ConnectedDirectoryError,
                    format!(
                        "no statement is configured for this operation (parameter '{}')",
                        key(&target.object_type, parameter)
                    ),
                )
            })?;
            // A rename the statement cannot apply must not succeed without it.
            let missing = if rename.anchor.is_some() && !takes_new_anchor {
                Some(("a new anchor", SPECIAL_NEW_ANCHOR))
            } else if rename.dn.is_some() && target.dn.is_some() && !takes_new_dn {
                Some(("a new DN", SPECIAL_NEW_DN))
            } else {
                None
            };
            if let Some((what, name)) = missing {
                return Err(syntax(format!(
                    "the entry gives the object {what}, but the update statement (parameter \
                     '{}') does not take @{name}: add it to the statement to apply renames",
                    key(&target.object_type, parameter)
                )));
            }
            plan_custom(dialect, target, entry, &single, custom, &rename)?
        }
    };
    if let (Some(_), Ok(current)) = (&rename.anchor, &current) {
        planned
            .operation
            .steps
            .extend(rename.moves(dialect, &target.children, current));
    }
    // Child rows are keyed by the anchor: after a rename, by the new one.
    let owner = match (&planned.assigned_anchor, &rename.anchor, &current) {
        (Some(_), _, _) => target.single_anchor().map(|name| OwnerKey {
            values: vec![(
                Bind::Returned,
                target.attributes.get(name).and_then(|a| a.declared.clone()),
            )],
        }),
        (None, Some(new), _) => Some(OwnerKey::of(new)),
        (None, None, Ok(current)) => Some(OwnerKey::of(current)),
        (None, None, Err(_)) => None,
    };
    let children = plan_children(dialect, target, entry, &multi, owner)?;
    if entry.modification == ObjectModification::Delete {
        // Child rows go first, so that a foreign key to the object does not refuse its delete.
        let mut steps = children;
        steps.append(&mut planned.operation.steps);
        planned.operation.steps = steps;
    } else {
        planned.operation.steps.extend(children);
    }
    planned.renames = rename.renames();
    Ok(planned)
}

fn plan_insert(
    dialect: Dialect,
    target: &Target,
    table: &str,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
) -> Result<Planned, ExportError> {
    let mut columns: Vec<ColumnValue> = Vec::new();
    let mut seen = HashSet::new();
    for anchor in &entry.anchor {
        if seen.insert(anchor.name.as_str()) {
            columns.push(target.bind(&anchor.name, &anchor.value)?);
        }
    }
    for change in changes {
        target.writable(&change.name)?;
        // An anchor value given twice is the same value; a NULL or absent value leaves the
        // column to its default.
        if !seen.insert(change.name.as_str()) {
            continue;
        }
        if let Some(value) = new_value(change)? {
            columns.push(target.bind(&change.name, value)?);
        }
    }
    let given =
        |columns: &[ColumnValue], name: &str| columns.iter().any(|(column, _, _)| column == name);
    let assigned = match target.single_anchor() {
        Some(anchor) => {
            if !given(&columns, anchor) && target.dn.is_none() && !entry.dn.is_empty() {
                // The DN is the anchor; a new object's DN names its anchor value.
                columns.push(target.bind(anchor, &Value::String(entry.dn.clone()))?);
            }
            !given(&columns, anchor)
        }
        // A database assigns one key at most: every column of a multi-column anchor is given.
        None => {
            if let Some(missing) = target.anchor.iter().find(|a| !given(&columns, a)) {
                return Err(missing_anchor(&target.anchor, missing));
            }
            false
        }
    };
    if let Some(dn_column) = &target.dn {
        if !entry.dn.is_empty() && !given(&columns, dn_column) {
            columns.push(target.bind(dn_column, &Value::String(entry.dn.clone()))?);
        }
    }

    // The database chose the anchor (an identity column, a default): report it back.
    let (check, returning, assigned_anchor) = match target.single_anchor() {
        Some(anchor) if assigned => {
            let anchor_type = target.attribute(anchor)?.attribute_type;
            let (check, returning) = if dialect.supports_returning() {
                (Check::Returning(1), Some(anchor.to_string()))
            } else {
                (Check::LastInsertId, None)
            };
            (check, returning, Some((anchor.to_string(), anchor_type)))
        }
        _ => (Check::RowsAffected, None, None),
    };
    let (names, row): (Vec<(String, Option<String>)>, Vec<Bind>) = columns
        .into_iter()
        .map(|(name, value, declared)| ((name, declared), value))
        .unzip();
    let own = match Insert::new(table, names, returning.clone(), vec![row]) {
        Some(insert) => Step::insert(dialect, insert, check),
        None => {
            let mut b = StatementBuilder::new(dialect);
            b.sql("INSERT INTO ")
                .ident(table)
                .sql(match dialect.flavor {
                    // MySQL has no DEFAULT VALUES clause.
                    Flavor::MySql => " () VALUES ()",
                    _ => " DEFAULT VALUES",
                });
            if let Some(column) = &returning {
                b.sql(" RETURNING ").ident(column);
            }
            step(b.finish(), check)
        }
    };
    Ok(Planned {
        operation: Operation { steps: vec![own] },
        assigned_anchor,
        renames: false,
    })
}

fn plan_update(
    dialect: Dialect,
    target: &Target,
    table: &str,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
    rename: &Rename,
) -> Result<Planned, ExportError> {
    let current = target.anchor_conditions(entry)?;
    let mut sets: Vec<ColumnValue> = rename.changed_columns(&current).cloned().collect();
    sets.extend(rename.dn_column.clone());
    let mut named = HashSet::new();
    for change in changes {
        let attribute = target.writable(&change.name)?;
        if !named.insert(change.name.as_str()) {
            return Err(syntax(format!(
                "attribute '{}' is changed twice in one entry",
                change.name
            )));
        }
        // An anchor column's new value is the rename's business.
        if target.is_anchor(&change.name) {
            continue;
        }
        let value = match new_value(change)? {
            Some(value) => target.convert(&change.name, attribute, value)?,
            None => Bind::Null(attribute.attribute_type),
        };
        sets.push((change.name.clone(), value, attribute.declared.clone()));
    }

    let mut steps: Vec<Step> = rename.guard(dialect, table, &current).into_iter().collect();
    let mut b = StatementBuilder::new(dialect);
    let check = if sets.is_empty() {
        // Nothing to change, but the object must still exist for the entry to succeed.
        b.sql("SELECT 1 FROM ")
            .ident(table)
            .sql(" WHERE ")
            .equalities(current);
        Check::RowExists
    } else {
        b.sql("UPDATE ").ident(table).sql(" SET ");
        for (i, (name, value, declared)) in sets.into_iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.ident(&name)
                .sql(" = ")
                .typed_bind(value, declared.as_deref());
        }
        b.sql(" WHERE ").equalities(current);
        Check::RowsAffected
    };
    steps.push(step(b.finish(), check));
    Ok(Planned {
        operation: Operation { steps },
        assigned_anchor: None,
        renames: false,
    })
}

/// Values by name for a configured statement: the bound value and the declared type to cast
/// it to, if any.
pub(super) type NamedValues = Vec<(String, (Bind, Option<String>))>;

/// The values a configured statement can name: the entry's single-valued attributes (NULL
/// when the entry does not set them), the anchor, the DN, the object type, and the anchor and
/// DN after a rename (the current ones when the entry renames nothing).
pub(super) fn named_values(
    target: &Target,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
    rename: &Rename,
) -> Result<NamedValues, ExportError> {
    let mut values: NamedValues = Vec::new();
    for change in changes {
        let attribute = target.writable(&change.name)?;
        let bind = match new_value(change)? {
            Some(value) => target.convert(&change.name, attribute, value)?,
            None => Bind::Null(attribute.attribute_type),
        };
        values.push((change.name.clone(), (bind, None)));
    }
    for anchor in &entry.anchor {
        if !values.iter().any(|(n, _)| *n == anchor.name) {
            if let Ok(attribute) = target.attribute(&anchor.name) {
                let bind = target.convert(&anchor.name, attribute, &anchor.value)?;
                values.push((anchor.name.clone(), (bind, None)));
            }
        }
    }
    let current = target.anchor_conditions(entry).unwrap_or_default();
    for name in &target.anchor {
        if !values.iter().any(|(n, _)| n == name) {
            let bind = current
                .iter()
                .find(|(column, _, _)| column == name)
                .map_or(Bind::Null(AttributeType::String), |(_, value, _)| {
                    value.clone()
                });
            values.push((name.clone(), (bind, None)));
        }
    }
    // With a multi-column anchor, @anchor is its first column; each has its own name too.
    let first = |columns: &[ColumnValue]| {
        columns
            .first()
            .map_or(Bind::Null(AttributeType::String), |(_, value, _)| {
                value.clone()
            })
    };
    let anchor = first(&current);
    let new_anchor = rename
        .anchor
        .as_deref()
        .map_or_else(|| anchor.clone(), first);
    values.push((SPECIAL_ANCHOR.to_string(), (anchor, None)));
    values.push((SPECIAL_NEW_ANCHOR.to_string(), (new_anchor, None)));
    values.push((SPECIAL_DN.to_string(), (Bind::Text(entry.dn.clone()), None)));
    let new_dn = rename.dn.clone().unwrap_or_else(|| entry.dn.clone());
    values.push((SPECIAL_NEW_DN.to_string(), (Bind::Text(new_dn), None)));
    values.push((
        SPECIAL_OBJECT_TYPE.to_string(),
        (Bind::Text(entry.object_type.clone()), None),
    ));
    // Attributes the entry does not mention are NULL (ObjectReplace sends every attribute).
    for (name, attribute) in &target.attributes {
        if !values.iter().any(|(n, _)| n == name) {
            values.push((name.clone(), (Bind::Null(attribute.attribute_type), None)));
        }
    }
    Ok(values)
}

/// A configured statement with the named values bound.
pub(super) fn render_custom(
    dialect: Dialect,
    custom: &Custom,
    values: &NamedValues,
) -> Result<Statement, String> {
    match custom {
        Custom::Query(sql) => sql.render(dialect, |name| lookup(values, name).cloned()),
        Custom::Procedure(call) => Ok(call_procedure(dialect, call, values)),
    }
}

/// `CALL proc(?, ?)` (`SELECT fn(...)` for a PostgreSQL function), each parameter bound to the
/// value of the same name, cast to the parameter's declared type where PostgreSQL needs it.
fn call_procedure(dialect: Dialect, call: &ProcedureCall, values: &NamedValues) -> Statement {
    let mut b = StatementBuilder::new(dialect);
    let generic = dialect.flavor == Flavor::Generic;
    match (dialect.flavor, call.kind) {
        (Flavor::Postgres, RoutineKind::Function) => b.sql("SELECT "),
        _ if generic => b.sql("{CALL "),
        _ => b.sql("CALL "),
    };
    b.ident(&call.name).sql("(");
    for (i, parameter) in call.parameters.iter().enumerate() {
        if i > 0 {
            b.sql(", ");
        }
        let value = lookup(values, &parameter.name)
            .map(|(bind, _)| bind.clone())
            .unwrap_or(Bind::Null(AttributeType::String));
        b.typed_bind(
            value,
            Some(parameter.declared_type.as_str()).filter(|d| !d.is_empty()),
        );
    }
    b.sql(")");
    if generic {
        b.sql("}");
    }
    b.finish()
}

fn plan_custom(
    dialect: Dialect,
    target: &Target,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
    custom: &Custom,
    rename: &Rename,
) -> Result<Planned, ExportError> {
    let values = named_values(target, entry, changes, rename)?;
    let statement = render_custom(dialect, custom, &values).map_err(syntax)?;
    let anchor_known = target
        .anchor
        .iter()
        .all(|name| target.anchor_value(entry, name).is_some());
    let (check, assigned_anchor) = match (custom, entry.modification, target.single_anchor()) {
        // A procedure's row count says nothing reliable.
        (Custom::Procedure(_), _, _) => (Check::None, None),
        (Custom::Query(_), ObjectModification::Add, Some(anchor)) if !anchor_known => (
            // The statement must return the key the database assigned (INSERT ... RETURNING).
            Check::Returning(1),
            Some((anchor.to_string(), target.attribute(anchor)?.attribute_type)),
        ),
        (Custom::Query(_), ObjectModification::Add, _) => (Check::None, None),
        (Custom::Query(_), _, _) => (Check::RowsAffected, None),
    };
    Ok(Planned {
        operation: Operation {
            steps: vec![step(statement, check)],
        },
        assigned_anchor,
        renames: false,
    })
}
