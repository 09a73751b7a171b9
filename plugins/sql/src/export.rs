//! Export: turning each [`CsEntryChange`] into the statements of one [`Operation`], and a
//! session that applies a batch of them in one transaction with a result per entry.
//!
//! An entry's first statement writes the object itself: a generated INSERT, UPDATE or DELETE
//! on the export table, or the stored procedure or SQL statement configured for the
//! modification. Then come the child-table statements of its multi-valued attributes (a
//! delete of the object's child rows comes first instead, for foreign keys' sake).
//! Generated INSERTs also keep their rows ([`Insert`]), so that the database layer can send
//! the rows of a batch's new objects together, as multi-row statements.
//!
//! Planning is pure and checks every attribute name against the resolved schema before any
//! SQL is written, so an entry that names an unknown attribute or carries an unconvertible value
//! fails alone, without touching the database.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeDirection, AttributeModification, AttributeType,
    ConnectorError, CsEntryChange, ExportError, ExportErrorKind, ExportResult, ExportSession,
    ObjectModification, PasswordTarget, Schema, Secret, Value, ValueModification,
};

use crate::config::{
    key, lookup, ChildTable, Custom, Export, ObjectTypeMap, ProcedureCall, Settings,
    SPECIAL_ANCHOR, SPECIAL_DN, SPECIAL_OBJECT_TYPE, SPECIAL_PASSWORD,
};
use crate::db::{Check, Database, Operation, Outcome, RoutineKind, Step};
use crate::error::{entry_error, Redactor};
use crate::runtime::Executor;
use crate::sql::{Bind, Dialect, Flavor, Insert, Statement, StatementBuilder};
use crate::values::{from_stored, to_bind, DateTimeFormat};

/// An attribute as export sees it.
#[derive(Clone, Debug)]
struct Attribute {
    attribute_type: AttributeType,
    direction: AttributeDirection,
    /// The declared type of the column written (for casts and date parsing).
    declared: Option<String>,
}

/// Where and how the entries of one object type are written.
#[derive(Debug)]
struct Target {
    object_type: String,
    anchor: String,
    dn: Option<String>,
    /// Single-valued attributes.
    attributes: HashMap<String, Attribute>,
    children: Vec<ChildTable>,
    method: Method,
    format: DateTimeFormat,
}

#[derive(Debug)]
enum Method {
    /// Generated statements on this table.
    Table(String),
    Custom {
        add: Option<Custom>,
        update: Option<Custom>,
        delete: Option<Custom>,
    },
}

fn syntax(message: String) -> ExportError {
    entry_error(ExportErrorKind::SyntaxViolation, message)
}

impl Target {
    /// `map` with the attribute types of the schema the host passed, where it names them.
    fn new(map: &ObjectTypeMap, schema: &Schema, format: &DateTimeFormat) -> Self {
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

    fn where_(&self) -> String {
        match &self.method {
            Method::Table(table) => format!("table '{table}'"),
            Method::Custom { .. } => format!("object type '{}'", self.object_type),
        }
    }

    fn attribute(&self, name: &str) -> Result<&Attribute, ExportError> {
        self.attributes.get(name).ok_or_else(|| {
            syntax(format!(
                "attribute '{name}' is not a column of {}",
                self.where_()
            ))
        })
    }

    /// An attribute the entry writes: known, and not import-only.
    fn writable(&self, name: &str) -> Result<&Attribute, ExportError> {
        let attribute = self.attribute(name)?;
        if attribute.direction == AttributeDirection::ImportOnly && name != self.anchor {
            return Err(syntax(format!("attribute '{name}' is import-only")));
        }
        Ok(attribute)
    }

    fn child(&self, name: &str) -> Option<&ChildTable> {
        self.children.iter().find(|c| c.value.name == name)
    }

    /// `value` as a parameter for a column of `attribute`'s type; dates are rewritten from the
    /// configured format to ISO 8601.
    fn convert(
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

    fn bind(&self, name: &str, value: &Value) -> Result<(Bind, Option<String>), ExportError> {
        let attribute = self.writable(name)?;
        Ok((
            self.convert(name, attribute, value)?,
            attribute.declared.clone(),
        ))
    }

    /// The anchor value of an existing object: from the entry's anchor, or its DN when the DN
    /// is the anchor.
    fn anchor_value(&self, entry: &CsEntryChange) -> Option<Value> {
        entry.anchor_value(&self.anchor).cloned().or_else(|| {
            (self.dn.is_none() && !entry.dn.is_empty()).then(|| Value::String(entry.dn.clone()))
        })
    }

    /// `(anchor column, value, declared type)` of an existing object.
    fn anchor_condition(
        &self,
        entry: &CsEntryChange,
    ) -> Result<(String, Bind, Option<String>), ExportError> {
        let value = self.anchor_value(entry).ok_or_else(|| {
            entry_error(
                ExportErrorKind::MissingAnchorComponent,
                format!("the entry has no value for anchor '{}'", self.anchor),
            )
        })?;
        let attribute = self.attribute(&self.anchor)?;
        Ok((
            self.anchor.clone(),
            self.convert(&self.anchor, attribute, &value)?,
            attribute.declared.clone(),
        ))
    }
}

/// Date and time types, whose text the date-time format applies to.
fn is_temporal(declared: &str) -> bool {
    let d = declared.to_ascii_lowercase();
    d.contains("date") || d.contains("time")
}

/// The single value an attribute change sets, or `None` for "clear it".
fn new_value(change: &AttributeChange) -> Result<Option<&Value>, ExportError> {
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

/// An entry's statements, and which anchor it reads back because the database assigns it.
#[derive(Debug)]
struct Planned {
    operation: Operation,
    assigned_anchor: Option<(String, AttributeType)>,
}

fn step(statement: Statement, check: Check) -> Step {
    Step::new(statement, check)
}

fn plan(dialect: Dialect, target: &Target, entry: &CsEntryChange) -> Result<Planned, ExportError> {
    // Multi-valued changes are split off; the object's own statement sees the rest.
    let (multi, single): (Vec<&AttributeChange>, Vec<&AttributeChange>) = entry
        .changes
        .iter()
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
    let mut planned = match &target.method {
        Method::Table(table) => match entry.modification {
            ObjectModification::Add => plan_insert(dialect, target, table, entry, &single)?,
            ObjectModification::Replace | ObjectModification::Update => {
                plan_update(dialect, target, table, entry, &single)?
            }
            ObjectModification::Delete => {
                let mut b = StatementBuilder::new(dialect);
                b.sql("DELETE FROM ")
                    .ident(table)
                    .sql(" WHERE ")
                    .equalities([target.anchor_condition(entry)?]);
                Planned {
                    operation: Operation {
                        steps: vec![step(b.finish(), Check::RowsAffected)],
                    },
                    assigned_anchor: None,
                }
            }
        },
        Method::Custom {
            add,
            update,
            delete,
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
            plan_custom(dialect, target, entry, &single, custom)?
        }
    };
    let anchor = match (&planned.assigned_anchor, target.anchor_condition(entry)) {
        (Some(_), _) => Some((
            Bind::Returned,
            target.attribute(&target.anchor)?.declared.clone(),
        )),
        (None, Ok((_, value, declared))) => Some((value, declared)),
        (None, Err(_)) => None,
    };
    let children = plan_children(dialect, target, entry, &multi, anchor)?;
    if entry.modification == ObjectModification::Delete {
        // Child rows go first, so that a foreign key to the object does not refuse its delete.
        let mut steps = children;
        steps.append(&mut planned.operation.steps);
        planned.operation.steps = steps;
    } else {
        planned.operation.steps.extend(children);
    }
    Ok(planned)
}

fn plan_insert(
    dialect: Dialect,
    target: &Target,
    table: &str,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
) -> Result<Planned, ExportError> {
    let mut columns: Vec<(String, Bind, Option<String>)> = Vec::new();
    let mut seen = HashSet::new();
    for anchor in &entry.anchor {
        if seen.insert(anchor.name.as_str()) {
            let (value, declared) = target.bind(&anchor.name, &anchor.value)?;
            columns.push((anchor.name.clone(), value, declared));
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
            let (value, declared) = target.bind(&change.name, value)?;
            columns.push((change.name.clone(), value, declared));
        }
    }
    let anchor_given = columns.iter().any(|(name, _, _)| *name == target.anchor);
    if !anchor_given && target.dn.is_none() && !entry.dn.is_empty() {
        // The DN is the anchor; a new object's DN names its anchor value.
        let (value, declared) = target.bind(&target.anchor, &Value::String(entry.dn.clone()))?;
        columns.push((target.anchor.clone(), value, declared));
    } else if let Some(dn_column) = &target.dn {
        if !entry.dn.is_empty() && !columns.iter().any(|(name, _, _)| name == dn_column) {
            let (value, declared) = target.bind(dn_column, &Value::String(entry.dn.clone()))?;
            columns.push((dn_column.clone(), value, declared));
        }
    }
    let assigned = !columns.iter().any(|(name, _, _)| *name == target.anchor);

    // The database chose the anchor (an identity column, a default): report it back.
    let (check, returning, assigned_anchor) = if assigned {
        let anchor_type = target.attribute(&target.anchor)?.attribute_type;
        let (check, returning) = if dialect.supports_returning() {
            (Check::Returning(1), Some(target.anchor.clone()))
        } else {
            (Check::LastInsertId, None)
        };
        (check, returning, Some((target.anchor.clone(), anchor_type)))
    } else {
        (Check::RowsAffected, None, None)
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
    })
}

fn plan_update(
    dialect: Dialect,
    target: &Target,
    table: &str,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
) -> Result<Planned, ExportError> {
    let condition = target.anchor_condition(entry)?;
    let mut sets: Vec<(String, Bind, Option<String>)> = Vec::new();
    for change in changes {
        let attribute = target.writable(&change.name)?;
        if sets.iter().any(|(name, _, _)| *name == change.name) {
            return Err(syntax(format!(
                "attribute '{}' is changed twice in one entry",
                change.name
            )));
        }
        let value = match new_value(change)? {
            Some(value) => target.convert(&change.name, attribute, value)?,
            None => Bind::Null(attribute.attribute_type),
        };
        sets.push((change.name.clone(), value, attribute.declared.clone()));
    }

    let mut b = StatementBuilder::new(dialect);
    let check = if sets.is_empty() {
        // Nothing to change, but the object must still exist for the entry to succeed.
        b.sql("SELECT 1 FROM ")
            .ident(table)
            .sql(" WHERE ")
            .equalities([condition]);
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
        b.sql(" WHERE ").equalities([condition]);
        Check::RowsAffected
    };
    Ok(Planned {
        operation: Operation {
            steps: vec![step(b.finish(), check)],
        },
        assigned_anchor: None,
    })
}

/// Values by name for a configured statement: the bound value and the declared type to cast
/// it to, if any.
type NamedValues = Vec<(String, (Bind, Option<String>))>;

/// The values a configured statement can name: the entry's single-valued attributes (NULL
/// when the entry does not set them), the anchor, the DN and the object type.
fn named_values(
    target: &Target,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
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
    let anchor = match target.anchor_condition(entry) {
        Ok((_, value, _)) => value,
        Err(_) => Bind::Null(AttributeType::String),
    };
    if !values.iter().any(|(n, _)| *n == target.anchor) {
        values.push((target.anchor.clone(), (anchor.clone(), None)));
    }
    values.push((SPECIAL_ANCHOR.to_string(), (anchor, None)));
    values.push((SPECIAL_DN.to_string(), (Bind::Text(entry.dn.clone()), None)));
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
fn render_custom(
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
) -> Result<Planned, ExportError> {
    let values = named_values(target, entry, changes)?;
    let statement = render_custom(dialect, custom, &values).map_err(syntax)?;
    let anchor_known = target.anchor_value(entry).is_some();
    let (check, assigned_anchor) = match (custom, entry.modification) {
        // A procedure's row count says nothing reliable.
        (Custom::Procedure(_), _) => (Check::None, None),
        (Custom::Query(_), ObjectModification::Add) if !anchor_known => (
            // The statement must return the key the database assigned (INSERT ... RETURNING).
            Check::Returning(1),
            Some((
                target.anchor.clone(),
                target.attribute(&target.anchor)?.attribute_type,
            )),
        ),
        (Custom::Query(_), ObjectModification::Add) => (Check::None, None),
        (Custom::Query(_), _) => (Check::RowsAffected, None),
    };
    Ok(Planned {
        operation: Operation {
            steps: vec![step(statement, check)],
        },
        assigned_anchor,
    })
}

/// The child-table statements of an entry's multi-valued changes (and, for a delete, the
/// removal of all its child rows).
fn plan_children(
    dialect: Dialect,
    target: &Target,
    entry: &CsEntryChange,
    changes: &[&AttributeChange],
    anchor: Option<(Bind, Option<String>)>,
) -> Result<Vec<Step>, ExportError> {
    let needs_anchor = entry.modification == ObjectModification::Delete
        && !target.children.is_empty()
        || !changes.is_empty();
    let Some((anchor, anchor_declared)) = anchor else {
        return if needs_anchor {
            Err(entry_error(
                ExportErrorKind::MissingAnchorComponent,
                format!("the entry has no value for anchor '{}'", target.anchor),
            ))
        } else {
            Ok(Vec::new())
        };
    };
    let delete_all = |child: &ChildTable| {
        let mut b = StatementBuilder::new(dialect);
        b.sql("DELETE FROM ")
            .ident(&child.table)
            .sql(" WHERE ")
            .ident(&child.key_column)
            .sql(" = ")
            .typed_bind(anchor.clone(), key_declared(child, &anchor_declared));
        step(b.finish(), Check::None)
    };
    let convert = |child: &ChildTable, value: &Value| -> Result<Bind, ExportError> {
        let attribute = Attribute {
            attribute_type: child.value.attribute_type,
            direction: child.value.direction,
            declared: child.value.declared().map(str::to_string),
        };
        target.convert(&child.value.name, &attribute, value)
    };
    // `None` without values: there is nothing to insert.
    let insert = |child: &ChildTable, values: Vec<Bind>| {
        let columns = vec![
            (
                child.key_column.clone(),
                key_declared(child, &anchor_declared).map(str::to_string),
            ),
            (
                child.value.name.clone(),
                child.value.declared().map(str::to_string),
            ),
        ];
        let rows = values
            .into_iter()
            .map(|value| vec![anchor.clone(), value])
            .collect();
        Insert::new(&child.table, columns, None, rows)
            .map(|insert| Step::insert(dialect, insert, Check::None))
    };
    let delete_one = |child: &ChildTable, value: Bind| {
        let mut b = StatementBuilder::new(dialect);
        b.sql("DELETE FROM ")
            .ident(&child.table)
            .sql(" WHERE ")
            .ident(&child.key_column)
            .sql(" = ")
            .typed_bind(anchor.clone(), key_declared(child, &anchor_declared))
            .sql(" AND ")
            .ident(&child.value.name)
            .sql(" = ")
            .typed_bind(value, child.value.declared());
        step(b.finish(), Check::None)
    };

    let mut steps = Vec::new();
    if entry.modification == ObjectModification::Delete {
        steps.extend(target.children.iter().map(delete_all));
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
                    steps.push(delete_all(child));
                }
                let mut values = Vec::new();
                let mut distinct = HashSet::new();
                for value in change.added_values() {
                    // A value listed twice is one row.
                    if distinct.insert(value.clone()) {
                        values.push(convert(child, value)?);
                    }
                }
                steps.extend(insert(child, values));
            }
            AttributeModification::Delete => steps.push(delete_all(child)),
            AttributeModification::Update => {
                for value_change in &change.values {
                    let value = convert(child, &value_change.value)?;
                    // Deleting first makes adding a value that is already there harmless.
                    steps.push(delete_one(child, value.clone()));
                    if value_change.modification == ValueModification::Add {
                        steps.extend(insert(child, vec![value]));
                    }
                }
            }
        }
    }
    Ok(steps)
}

/// The declared type to cast an anchor to in `child`'s key column.
fn key_declared<'a>(child: &'a ChildTable, anchor_declared: &'a Option<String>) -> Option<&'a str> {
    Some(child.key_declared.as_str())
        .filter(|d| !d.is_empty())
        .or(anchor_declared.as_deref())
}

pub(crate) struct SqlExportSession {
    executor: Arc<Executor>,
    db: Database,
    targets: HashMap<String, Target>,
}

impl SqlExportSession {
    pub(crate) fn new(
        executor: Arc<Executor>,
        db: Database,
        settings: &Settings,
        schema: &Schema,
    ) -> Self {
        let targets = settings
            .types
            .iter()
            .map(|map| {
                (
                    map.name.clone(),
                    Target::new(map, schema, &settings.global.format),
                )
            })
            .collect();
        Self {
            executor,
            db,
            targets,
        }
    }

    fn plan_entry(&self, entry: &CsEntryChange) -> Result<Planned, ExportError> {
        let target = self.targets.get(&entry.object_type).ok_or_else(|| {
            syntax(format!(
                "object type '{}' is not configured for this connector",
                entry.object_type
            ))
        })?;
        plan(self.db.dialect(), target, entry)
    }
}

impl ExportSession for SqlExportSession {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        let mut plans: Vec<Result<Option<(String, AttributeType)>, ExportError>> =
            Vec::with_capacity(batch.len());
        let mut operations = Vec::with_capacity(batch.len());
        for entry in &batch {
            plans.push(self.plan_entry(entry).map(|planned| {
                operations.push(planned.operation);
                planned.assigned_anchor
            }));
        }
        let outcomes = if operations.is_empty() {
            Vec::new()
        } else {
            self.executor.block_on(self.db.apply_batch(&operations))??
        };

        let mut outcomes = outcomes.into_iter();
        let results = batch
            .into_iter()
            .zip(plans)
            .map(|(entry, planned)| match planned {
                Ok(assigned_anchor) => {
                    let target = self.targets.get(&entry.object_type);
                    result(target, entry.identifier, assigned_anchor, outcomes.next())
                }
                Err(e) => ExportResult::failure(entry.identifier, e.kind, e.message),
            })
            .collect();
        Ok(results)
    }
}

/// The result of an entry the database ran.
fn result(
    target: Option<&Target>,
    identifier: String,
    assigned_anchor: Option<(String, AttributeType)>,
    outcome: Option<Outcome>,
) -> ExportResult {
    let where_ = target.map_or_else(String::new, Target::where_);
    match outcome {
        Some(Outcome::Done { returned }) => {
            let mut result = ExportResult::success(identifier);
            if let (Some((name, attribute_type)), Some(stored)) =
                (assigned_anchor, returned.into_iter().next())
            {
                let format = target.map(|t| t.format.clone()).unwrap_or_default();
                if let Ok(value) = from_stored(stored, attribute_type, &format) {
                    result.anchor.push(AnchorAttribute { name, value });
                }
            }
            result
        }
        Some(Outcome::NotFound) => ExportResult::failure(
            identifier,
            ExportErrorKind::NoSuchObject,
            format!("no row of {where_} has this anchor"),
        ),
        Some(Outcome::NullReturned) => ExportResult::failure(
            identifier,
            ExportErrorKind::MissingAnchorComponent,
            format!("the entry has no anchor value and {where_} assigned none"),
        ),
        Some(Outcome::Failed(e)) => {
            let e = e.to_export_error();
            ExportResult::failure(identifier, e.kind, e.message)
        }
        None => ExportResult::failure(
            identifier,
            ExportErrorKind::ConnectedDirectoryError,
            "the database returned no outcome for this entry",
        ),
    }
}

/// Set `target`'s initial password with the statement configured for its object type.
///
/// The password is bound as a parameter, never formatted into SQL, and scrubbed from any
/// error message the database returns.
pub(crate) async fn set_password(
    db: &Database,
    settings: &Settings,
    target: &PasswordTarget,
    password: &Secret,
) -> Result<(), ConnectorError> {
    let map = settings.object_type(&target.object_type).ok_or_else(|| {
        ConnectorError::invalid_configuration(format!(
            "object type '{}' is not one of this connector's object types",
            target.object_type
        ))
    })?;
    let custom = map.password.as_ref().ok_or_else(|| {
        ConnectorError::not_supported(&format!(
            "setting a password of {} (parameter '{}')",
            map.name,
            key(&map.name, "password_method")
        ))
    })?;
    let entry = CsEntryChange {
        identifier: String::new(),
        object_type: target.object_type.clone(),
        dn: target.dn.clone(),
        modification: ObjectModification::Update,
        anchor: target.anchor.clone(),
        changes: Vec::new(),
    };
    let export_target = Target::new(map, &Schema::default(), &settings.global.format);
    let mut values = named_values(&export_target, &entry, &[])
        .map_err(|e| ConnectorError::invalid_configuration(e.message))?;
    if !values
        .iter()
        .any(|(n, (b, _))| n == SPECIAL_ANCHOR && !matches!(b, Bind::Null(_)))
    {
        return Err(ConnectorError::invalid_configuration(format!(
            "the password target has no value for anchor '{}'",
            map.anchor
        )));
    }
    values.insert(
        0,
        (
            SPECIAL_PASSWORD.to_string(),
            (Bind::Text(password.expose().to_string()), None),
        ),
    );
    let statement = render_custom(db.dialect(), custom, &values)
        .map_err(ConnectorError::invalid_configuration)?;
    let mut redactor = Redactor::default();
    redactor.add(password.expose());
    let affected = db
        .execute(&statement)
        .await
        .map_err(|e| ConnectorError::from(e.redacted(&redactor)))?;
    if matches!(custom, Custom::Query(_)) && affected == 0 {
        return Err(ConnectorError::other(format!(
            "no {} has this anchor: the password statement changed no row",
            map.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Column;
    use crate::db::ColumnInfo;

    fn column(name: &str, attribute_type: AttributeType) -> Column {
        Column {
            name: name.into(),
            attribute_type,
            direction: AttributeDirection::ImportExport,
            declared_type: String::new(),
        }
    }

    fn map() -> ObjectTypeMap {
        let source = crate::source::Source::Table("Emp \"loyees\"".into());
        let columns = vec![
            column("Id", AttributeType::Integer),
            column("Name", AttributeType::String),
            column("Active", AttributeType::Boolean),
        ];
        ObjectTypeMap {
            name: "User".into(),
            import: source.clone(),
            delta: crate::config::DeltaSource {
                source: source.clone(),
                watermark_column: None,
                operation_column: None,
            },
            source,
            anchor: "Id".into(),
            dn: None,
            export: Export::Table {
                table: "Emp \"loyees\"".into(),
                columns: columns
                    .iter()
                    .map(|c| ColumnInfo {
                        name: c.name.clone(),
                        declared_type: String::new(),
                        primary_key: 0,
                    })
                    .collect(),
            },
            columns,
            children: vec![ChildTable {
                table: "Mail".into(),
                key_column: "UserId".into(),
                key_declared: String::new(),
                value: column("Address", AttributeType::String),
            }],
            password: None,
        }
    }

    fn target() -> Target {
        Target::new(&map(), &Schema::default(), &DateTimeFormat::default())
    }

    fn entry(modification: ObjectModification, changes: Vec<AttributeChange>) -> CsEntryChange {
        CsEntryChange {
            identifier: "x".into(),
            object_type: "User".into(),
            dn: "7".into(),
            modification,
            anchor: Vec::new(),
            changes,
        }
    }

    fn sql(entry: &CsEntryChange) -> (String, Vec<Bind>, Check) {
        let planned = plan(Dialect::SQLITE, &target(), entry).unwrap();
        let step = &planned.operation.steps[0];
        (
            step.statement.sql.clone(),
            step.statement.binds.clone(),
            step.check,
        )
    }

    #[test]
    fn statements_per_modification() {
        let set = |name: &str, v: Value| {
            AttributeChange::set(name, AttributeModification::Replace, vec![v])
        };
        let add = entry(
            ObjectModification::Add,
            vec![set("Name", Value::String("a".into()))],
        );
        assert_eq!(
            sql(&add),
            (
                "INSERT INTO \"Emp \"\"loyees\"\"\" (\"Name\", \"Id\") VALUES (?, ?)".into(),
                vec![Bind::Text("a".into()), Bind::Integer(7)],
                Check::RowsAffected
            ),
            "the DN is the anchor and converts to its type"
        );
        let update = entry(
            ObjectModification::Update,
            vec![
                set("Active", Value::String("True".into())),
                AttributeChange::delete("Name"),
            ],
        );
        assert_eq!(
            sql(&update),
            (
                "UPDATE \"Emp \"\"loyees\"\"\" SET \"Active\" = ?, \"Name\" = ? WHERE \"Id\" = ?"
                    .into(),
                vec![
                    Bind::Boolean(true),
                    Bind::Null(AttributeType::String),
                    Bind::Integer(7)
                ],
                Check::RowsAffected
            )
        );
        let touch = entry(ObjectModification::Replace, Vec::new());
        assert_eq!(sql(&touch).2, Check::RowExists);
        let delete = entry(ObjectModification::Delete, Vec::new());
        let planned = plan(Dialect::SQLITE, &target(), &delete).unwrap();
        let steps: Vec<&str> = planned
            .operation
            .steps
            .iter()
            .map(|s| s.statement.sql.as_str())
            .collect();
        assert_eq!(
            steps,
            [
                "DELETE FROM \"Mail\" WHERE \"UserId\" = ?",
                "DELETE FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ?"
            ],
            "child rows go first"
        );
        let anonymous = CsEntryChange {
            dn: String::new(),
            ..add.clone()
        };
        assert_eq!(
            sql(&anonymous).0,
            "INSERT INTO \"Emp \"\"loyees\"\"\" (\"Name\") VALUES (?) RETURNING \"Id\""
        );
        assert_eq!(sql(&anonymous).2, Check::Returning(1));
        let planned = plan(Dialect::MYSQL, &target(), &anonymous).unwrap();
        assert_eq!(planned.operation.steps[0].check, Check::LastInsertId);
    }

    #[test]
    fn multi_valued_changes_become_child_rows() {
        let mails = |m: AttributeModification, values: &[&str]| {
            AttributeChange::set(
                "Address",
                m,
                values
                    .iter()
                    .map(|v| Value::String(v.to_string()))
                    .collect(),
            )
        };
        let add = entry(
            ObjectModification::Add,
            vec![mails(AttributeModification::Add, &["a@x", "b@x", "a@x"])],
        );
        let planned = plan(Dialect::POSTGRES, &target(), &add).unwrap();
        assert_eq!(
            planned.operation.steps[1].statement.sql,
            "INSERT INTO \"Mail\" (\"UserId\", \"Address\") VALUES ($1, $2), ($3, $4)"
        );
        let replace = entry(
            ObjectModification::Replace,
            vec![mails(AttributeModification::Replace, &["c@x"])],
        );
        let planned = plan(Dialect::SQLITE, &target(), &replace).unwrap();
        let steps: Vec<&str> = planned
            .operation
            .steps
            .iter()
            .map(|s| s.statement.sql.as_str())
            .collect();
        assert_eq!(
            steps,
            [
                "SELECT 1 FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ?",
                "DELETE FROM \"Mail\" WHERE \"UserId\" = ?",
                "INSERT INTO \"Mail\" (\"UserId\", \"Address\") VALUES (?, ?)"
            ]
        );
        let update = entry(
            ObjectModification::Update,
            vec![AttributeChange {
                name: "Address".into(),
                modification: AttributeModification::Update,
                values: vec![
                    ecma_plugin_api::ValueChange {
                        modification: ValueModification::Delete,
                        value: Value::String("a@x".into()),
                    },
                    ecma_plugin_api::ValueChange {
                        modification: ValueModification::Add,
                        value: Value::String("d@x".into()),
                    },
                ],
            }],
        );
        let planned = plan(Dialect::SQLITE, &target(), &update).unwrap();
        assert_eq!(planned.operation.steps.len(), 4);
        let anonymous = CsEntryChange {
            dn: String::new(),
            ..add
        };
        let planned = plan(Dialect::SQLITE, &target(), &anonymous).unwrap();
        assert_eq!(
            planned.operation.steps[1].statement.binds[0],
            Bind::Returned
        );
    }

    #[test]
    fn bad_entries_fail_before_any_sql() {
        let kind = |e: &CsEntryChange| plan(Dialect::SQLITE, &target(), e).unwrap_err().kind;
        let multi = AttributeChange::set(
            "Name",
            AttributeModification::Replace,
            vec![Value::String("a".into()), Value::String("b".into())],
        );
        assert_eq!(
            kind(&entry(ObjectModification::Update, vec![multi])),
            ExportErrorKind::SyntaxViolation
        );
        let twice = vec![
            AttributeChange::delete("Name"),
            AttributeChange::delete("Name"),
        ];
        assert_eq!(
            kind(&entry(ObjectModification::Update, twice)),
            ExportErrorKind::SyntaxViolation
        );
        let no_anchor = CsEntryChange {
            dn: String::new(),
            ..entry(ObjectModification::Delete, Vec::new())
        };
        assert_eq!(kind(&no_anchor), ExportErrorKind::MissingAnchorComponent);
        let not_a_number = CsEntryChange {
            dn: "seven".into(),
            ..entry(ObjectModification::Delete, Vec::new())
        };
        assert_eq!(kind(&not_a_number), ExportErrorKind::SyntaxViolation);
    }

    #[test]
    fn configured_statements_bind_named_values() {
        let mut map = map();
        map.export = Export::Custom {
            add: Some(Custom::Query(
                crate::sql::NamedSql::parse("INSERT INTO u (id, n) VALUES (@anchor, @Name)")
                    .unwrap(),
            )),
            update: Some(Custom::Procedure(ProcedureCall {
                name: "upd".into(),
                kind: RoutineKind::Procedure,
                parameters: vec![
                    crate::db::ProcedureParameter {
                        name: "p_id".into(),
                        declared_type: "integer".into(),
                    },
                    crate::db::ProcedureParameter {
                        name: "p_active".into(),
                        declared_type: "boolean".into(),
                    },
                ],
            })),
            delete: None,
        };
        let target = Target::new(&map, &Schema::default(), &DateTimeFormat::default());
        let add = entry(
            ObjectModification::Add,
            vec![AttributeChange::set(
                "Name",
                AttributeModification::Add,
                vec![Value::String("x'); --".into())],
            )],
        );
        let planned = plan(Dialect::POSTGRES, &target, &add).unwrap();
        let s = &planned.operation.steps[0].statement;
        assert_eq!(s.sql, "INSERT INTO u (id, n) VALUES ($1, $2)");
        assert_eq!(s.binds, [Bind::Integer(7), Bind::Text("x'); --".into())]);
        let update = entry(ObjectModification::Update, Vec::new());
        let planned = plan(Dialect::POSTGRES, &target, &update).unwrap();
        assert_eq!(
            planned.operation.steps[0].statement.sql, "CALL \"upd\"($1, $2)",
            "integer and boolean parameters need no cast"
        );
        let delete = entry(ObjectModification::Delete, Vec::new());
        assert_eq!(
            plan(Dialect::POSTGRES, &target, &delete).unwrap_err().kind,
            ExportErrorKind::ConnectedDirectoryError
        );
    }
}
