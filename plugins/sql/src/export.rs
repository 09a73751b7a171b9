//! Export: turning each [`CsEntryChange`] into one parameterised statement, and a session that
//! applies a batch of them in one transaction with a result per entry.
//!
//! Planning is pure and checks every attribute name against the discovered columns before any
//! SQL is written, so an entry that names an unknown column or carries an unconvertible value
//! fails alone, without touching the database.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeModification, AttributeType, ConnectorError, CsEntryChange,
    ExportError, ExportErrorKind, ExportResult, ExportSession, ObjectModification, Schema, Value,
};

use crate::config::ObjectTypeMap;
use crate::db::{Check, Database, Operation, Outcome};
use crate::error::entry_error;
use crate::runtime::Executor;
use crate::sql::{Bind, Dialect, StatementBuilder};
use crate::values::{from_stored, to_bind};

/// Where and how the entries of one object type are written.
#[derive(Debug)]
struct Target {
    table: String,
    anchor: String,
    dn: Option<String>,
    columns: HashMap<String, AttributeType>,
}

impl Target {
    /// `map` with the attribute types of the schema the host passed, where it names them.
    fn new(map: &ObjectTypeMap, schema: &Schema) -> Self {
        let host_type = |column: &str| {
            schema
                .object_type(&map.name)
                .and_then(|t| t.attribute(column))
                .map(|a| a.attribute_type)
        };
        Self {
            table: map.table.clone(),
            anchor: map.anchor.clone(),
            dn: map.dn.clone(),
            columns: map
                .columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        host_type(&c.name).unwrap_or(c.attribute_type),
                    )
                })
                .collect(),
        }
    }

    fn column_type(&self, name: &str) -> Result<AttributeType, ExportError> {
        self.columns.get(name).copied().ok_or_else(|| {
            entry_error(
                ExportErrorKind::SyntaxViolation,
                format!(
                    "attribute '{name}' is not a column of table '{}'",
                    self.table
                ),
            )
        })
    }

    fn bind(&self, name: &str, value: &Value) -> Result<Bind, ExportError> {
        let attribute_type = self.column_type(name)?;
        to_bind(value, attribute_type).map_err(|problem| {
            entry_error(
                ExportErrorKind::SyntaxViolation,
                format!("attribute '{name}' {problem}"),
            )
        })
    }

    /// The anchor value of an existing object: from the entry's anchor, or its DN when the DN
    /// is the anchor.
    fn anchor_value(&self, entry: &CsEntryChange) -> Option<Value> {
        entry.anchor_value(&self.anchor).cloned().or_else(|| {
            (self.dn.is_none() && !entry.dn.is_empty()).then(|| Value::String(entry.dn.clone()))
        })
    }

    fn anchor_condition(&self, entry: &CsEntryChange) -> Result<(String, Bind), ExportError> {
        let value = self.anchor_value(entry).ok_or_else(|| {
            entry_error(
                ExportErrorKind::MissingAnchorComponent,
                format!("the entry has no value for anchor '{}'", self.anchor),
            )
        })?;
        Ok((self.anchor.clone(), self.bind(&self.anchor, &value)?))
    }
}

/// The single value an attribute change sets, or `None` for "clear it".
fn new_value(change: &ecma_plugin_api::AttributeChange) -> Result<Option<&Value>, ExportError> {
    if change.modification == AttributeModification::Delete {
        return Ok(None);
    }
    let mut values = change.added_values();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        _ => Err(entry_error(
            ExportErrorKind::SyntaxViolation,
            format!(
                "attribute '{}' is single-valued but the change adds several values",
                change.name
            ),
        )),
    }
}

/// An entry's statement, and which anchor columns it reads back because the database assigns
/// them.
#[derive(Debug)]
struct Planned {
    operation: Operation,
    assigned_anchor: Option<(String, AttributeType)>,
}

fn plan(dialect: Dialect, target: &Target, entry: &CsEntryChange) -> Result<Planned, ExportError> {
    match entry.modification {
        ObjectModification::Add => plan_insert(dialect, target, entry),
        ObjectModification::Replace | ObjectModification::Update => {
            plan_update(dialect, target, entry)
        }
        ObjectModification::Delete => {
            let mut b = StatementBuilder::new(dialect);
            b.sql("DELETE FROM ")
                .ident(&target.table)
                .sql(" WHERE ")
                .equalities([target.anchor_condition(entry)?]);
            Ok(Planned {
                operation: Operation {
                    statement: b.finish(),
                    check: Check::RowsAffected,
                },
                assigned_anchor: None,
            })
        }
    }
}

fn plan_insert(
    dialect: Dialect,
    target: &Target,
    entry: &CsEntryChange,
) -> Result<Planned, ExportError> {
    let mut columns: Vec<(String, Bind)> = Vec::new();
    let mut seen = HashSet::new();
    for anchor in &entry.anchor {
        if seen.insert(anchor.name.as_str()) {
            columns.push((
                anchor.name.clone(),
                target.bind(&anchor.name, &anchor.value)?,
            ));
        }
    }
    for change in &entry.changes {
        target.column_type(&change.name)?;
        // An anchor value given twice is the same value; a NULL or absent value leaves the
        // column to its default.
        if !seen.insert(change.name.as_str()) {
            continue;
        }
        if let Some(value) = new_value(change)? {
            columns.push((change.name.clone(), target.bind(&change.name, value)?));
        }
    }
    let anchor_given = columns.iter().any(|(name, _)| *name == target.anchor);
    if !anchor_given && target.dn.is_none() && !entry.dn.is_empty() {
        // The DN is the anchor; a new object's DN names its anchor value.
        let value = Value::String(entry.dn.clone());
        columns.push((target.anchor.clone(), target.bind(&target.anchor, &value)?));
    } else if let Some(dn_column) = &target.dn {
        if !entry.dn.is_empty() && !columns.iter().any(|(name, _)| name == dn_column) {
            columns.push((
                dn_column.clone(),
                target.bind(dn_column, &Value::String(entry.dn.clone()))?,
            ));
        }
    }
    let assigned = !columns.iter().any(|(name, _)| *name == target.anchor);

    let mut b = StatementBuilder::new(dialect);
    b.sql("INSERT INTO ").ident(&target.table);
    if columns.is_empty() {
        b.sql(" DEFAULT VALUES");
    } else {
        b.sql(" (")
            .ident_list(columns.iter().map(|(name, _)| name.as_str()))
            .sql(") VALUES (");
        for (i, (_, value)) in columns.into_iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.bind(value);
        }
        b.sql(")");
    }
    let (check, assigned_anchor) = if assigned {
        // The database chose the anchor (an INTEGER PRIMARY KEY, a default): report it back.
        b.sql(" RETURNING ").ident(&target.anchor);
        (
            Check::Returning(1),
            Some((target.anchor.clone(), target.column_type(&target.anchor)?)),
        )
    } else {
        (Check::RowsAffected, None)
    };
    Ok(Planned {
        operation: Operation {
            statement: b.finish(),
            check,
        },
        assigned_anchor,
    })
}

fn plan_update(
    dialect: Dialect,
    target: &Target,
    entry: &CsEntryChange,
) -> Result<Planned, ExportError> {
    let condition = target.anchor_condition(entry)?;
    let mut sets: Vec<(String, Bind)> = Vec::new();
    for change in &entry.changes {
        let attribute_type = target.column_type(&change.name)?;
        if sets.iter().any(|(name, _)| *name == change.name) {
            return Err(entry_error(
                ExportErrorKind::SyntaxViolation,
                format!("attribute '{}' is changed twice in one entry", change.name),
            ));
        }
        let value = match new_value(change)? {
            Some(value) => target.bind(&change.name, value)?,
            None => Bind::Null(attribute_type),
        };
        sets.push((change.name.clone(), value));
    }

    let mut b = StatementBuilder::new(dialect);
    let check = if sets.is_empty() {
        // Nothing to change, but the object must still exist for the entry to succeed.
        b.sql("SELECT 1 FROM ")
            .ident(&target.table)
            .sql(" WHERE ")
            .equalities([condition])
            .sql(" LIMIT 1");
        Check::RowExists
    } else {
        b.sql("UPDATE ").ident(&target.table).sql(" SET ");
        for (i, (name, value)) in sets.into_iter().enumerate() {
            if i > 0 {
                b.sql(", ");
            }
            b.ident(&name).sql(" = ").bind(value);
        }
        b.sql(" WHERE ").equalities([condition]);
        Check::RowsAffected
    };
    Ok(Planned {
        operation: Operation {
            statement: b.finish(),
            check,
        },
        assigned_anchor: None,
    })
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
        maps: &[ObjectTypeMap],
        schema: &Schema,
    ) -> Self {
        let targets = maps
            .iter()
            .map(|map| (map.name.clone(), Target::new(map, schema)))
            .collect();
        Self {
            executor,
            db,
            targets,
        }
    }

    fn plan_entry(&self, entry: &CsEntryChange) -> Result<Planned, ExportError> {
        let target = self.targets.get(&entry.object_type).ok_or_else(|| {
            entry_error(
                ExportErrorKind::SyntaxViolation,
                format!(
                    "object type '{}' is not configured for this connector",
                    entry.object_type
                ),
            )
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
    let table = target.map_or("", |t| t.table.as_str());
    match outcome {
        Some(Outcome::Done { returned }) => {
            let mut result = ExportResult::success(identifier);
            if let (Some((name, attribute_type)), Some(stored)) =
                (assigned_anchor, returned.into_iter().next())
            {
                if let Ok(value) = from_stored(stored, attribute_type) {
                    result.anchor.push(AnchorAttribute { name, value });
                }
            }
            result
        }
        Some(Outcome::NotFound) => ExportResult::failure(
            identifier,
            ExportErrorKind::NoSuchObject,
            format!("no row of table '{table}' has this anchor"),
        ),
        Some(Outcome::NullReturned) => ExportResult::failure(
            identifier,
            ExportErrorKind::MissingAnchorComponent,
            format!("the entry has no anchor value and table '{table}' assigned none"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Column;
    use ecma_plugin_api::AttributeChange;

    fn target() -> Target {
        let column = |name: &str, attribute_type| Column {
            name: name.into(),
            attribute_type,
        };
        let map = ObjectTypeMap {
            name: "User".into(),
            table: "Emp \"loyees\"".into(),
            anchor: "Id".into(),
            dn: None,
            columns: vec![
                column("Id", AttributeType::Integer),
                column("Name", AttributeType::String),
                column("Active", AttributeType::Boolean),
            ],
        };
        Target::new(&map, &Schema::default())
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
        let planned = plan(Dialect::Sqlite, &target(), entry).unwrap();
        let statement = planned.operation.statement;
        (statement.sql, statement.binds, planned.operation.check)
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
        assert_eq!(
            sql(&delete).0,
            "DELETE FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ?"
        );
        let anonymous = CsEntryChange {
            dn: String::new(),
            ..add
        };
        assert_eq!(
            sql(&anonymous).0,
            "INSERT INTO \"Emp \"\"loyees\"\"\" (\"Name\") VALUES (?) RETURNING \"Id\""
        );
        assert_eq!(sql(&anonymous).2, Check::Returning(1));
    }

    #[test]
    fn bad_entries_fail_before_any_sql() {
        let kind = |e: &CsEntryChange| plan(Dialect::Sqlite, &target(), e).unwrap_err().kind;
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
}
