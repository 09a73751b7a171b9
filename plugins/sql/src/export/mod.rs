//! Export: a session that applies a batch of entry changes in one transaction, with a result
//! per entry, and the initial-password statement.
//!
//! Each entry is planned on its own ([`mod@plan`]: the statements of one operation, checked
//! against the schema before any SQL is written), using the object type's [`target`]; renames
//! ([`rename`]) and multi-valued attributes ([`children`]) add their statements to the
//! entry's. The database layer then runs the batch (`Database::apply_batch`) and each outcome
//! becomes the entry's [`ExportResult`].

mod children;
mod plan;
mod rename;
mod target;

use std::collections::HashMap;
use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeType, ConnectorError, CsEntryChange, ExportError, ExportErrorKind,
    ExportResult, ExportSession, ObjectModification, PasswordTarget, Schema, Secret,
};

use crate::config::{key, Custom, Settings, SPECIAL_ANCHOR, SPECIAL_PASSWORD};
use crate::db::{Database, Outcome};
use crate::error::{FailureClass, Redactor};
use crate::runtime::Executor;
use crate::sql::Bind;
use crate::values::from_stored;

use plan::{named_values, plan, render_custom, Planned};
use rename::Rename;
use target::{syntax, Target};

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
        let mut plans: Vec<Result<Expected, ExportError>> = Vec::with_capacity(batch.len());
        let mut operations = Vec::with_capacity(batch.len());
        for entry in &batch {
            plans.push(self.plan_entry(entry).map(|planned| {
                operations.push(planned.operation);
                Expected {
                    assigned_anchor: planned.assigned_anchor,
                    renames: planned.renames,
                }
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
                Ok(expected) => {
                    let target = self.targets.get(&entry.object_type);
                    result(target, entry.identifier, expected, outcomes.next())
                }
                Err(e) => ExportResult::failure(entry.identifier, e.kind, e.message),
            })
            .collect();
        Ok(results)
    }
}

/// What reading a planned entry's outcome needs.
struct Expected {
    /// The anchor the database assigns, read back.
    assigned_anchor: Option<(String, AttributeType)>,
    renames: bool,
}

/// The result of an entry the database ran.
fn result(
    target: Option<&Target>,
    identifier: String,
    expected: Expected,
    outcome: Option<Outcome>,
) -> ExportResult {
    let where_ = target.map_or_else(String::new, Target::where_);
    match outcome {
        Some(Outcome::Done { returned }) => {
            let mut result = ExportResult::success(identifier);
            if let (Some((name, attribute_type)), Some(stored)) =
                (expected.assigned_anchor, returned.into_iter().next())
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
        Some(Outcome::Exists) => ExportResult::failure(
            identifier,
            ExportErrorKind::ObjectAlreadyExists,
            format!("another row of {where_} already has the new anchor"),
        ),
        Some(Outcome::NullReturned) => ExportResult::failure(
            identifier,
            ExportErrorKind::MissingAnchorComponent,
            format!("the entry has no anchor value and {where_} assigned none"),
        ),
        Some(Outcome::Failed(e)) if expected.renames && e.class() == FailureClass::ForeignKey => {
            let children = target.map_or_else(String::new, |t| {
                t.children
                    .iter()
                    .map(|c| format!("'{}'", c.table))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let tables = if children.is_empty() {
                "a table that references the anchor".to_string()
            } else {
                format!("a table that references the anchor (such as {children})")
            };
            ExportResult::failure(
                identifier,
                ExportErrorKind::SyntaxViolation,
                format!(
                    "a foreign key refused the rename of this row of {where_} ({e}): the row and \
                     the rows that reference it cannot move to the new anchor one after the \
                     other; declare the foreign key of {tables} ON UPDATE CASCADE, or drop it"
                ),
            )
        }
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
    let mut values = named_values(&export_target, &entry, &[], &Rename::default())
        .map_err(|e| ConnectorError::invalid_configuration(e.message))?;
    if !values
        .iter()
        .any(|(n, (b, _))| n == SPECIAL_ANCHOR && !matches!(b, Bind::Null(_)))
    {
        return Err(ConnectorError::invalid_configuration(format!(
            "the password target has no value for anchor '{}'",
            map.anchor.join(", ")
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
mod tests;
