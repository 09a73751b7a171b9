//! Export: apply a batch of entry changes to the file, all in memory, then write the file once.
//!
//! Each entry either applies completely or not at all, and gets exactly one result naming its
//! identifier. The batch's successes reach the file together, through one atomic rewrite; if
//! that write fails, the call fails and the host treats the whole batch as not applied, which
//! is true.
//!
//! What each modification means here (every column is a single-valued string):
//! - `Add`: a new row; columns the entry does not set are empty.
//! - `Replace`: the row becomes exactly the entry (columns it does not set become empty).
//! - `Update`: only the columns the entry names change (the host sends this, because the
//!   capabilities say `AttributeReplace`).
//! - `Delete`: the row goes.
//!
//! Refusals: a duplicate add is `ObjectAlreadyExists`, a change to a missing row
//! `NoSuchObject`, an unknown column, a second value or a changed anchor `SyntaxViolation`, and
//! an entry without an anchor value `MissingAnchorComponent`.

use std::sync::{Arc, Mutex};

use ecma_plugin_api::{
    AttributeChange, AttributeModification, ConnectorError, CsEntryChange, ExportError,
    ExportErrorKind, ExportResult, ExportSession, ObjectModification, Value, ValueModification,
};

use crate::error::CsvError;
use crate::settings::Settings;
use crate::table::{self, CsvTable};

fn refuse(kind: ExportErrorKind, message: impl Into<String>) -> ExportError {
    ExportError {
        kind,
        message: message.into(),
    }
}

/// A value as CSV text. The schema says every attribute is a string, but numbers and booleans
/// have an obvious text, so they are accepted; bytes are not.
fn text(attribute: &str, value: &Value) -> Result<String, ExportError> {
    match value {
        Value::String(s) | Value::Reference(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        Value::Binary(_) => Err(refuse(
            ExportErrorKind::SyntaxViolation,
            format!("'{attribute}': binary values cannot be stored in a CSV file"),
        )),
    }
}

/// The one value an attribute change sets (`""` for none).
fn single_value(change: &AttributeChange) -> Result<String, ExportError> {
    let mut values = change.added_values();
    let first = values.next().map(|v| text(&change.name, v)).transpose()?;
    if values.next().is_some() {
        return Err(refuse(
            ExportErrorKind::SyntaxViolation,
            format!("'{}' is single-valued; got several values", change.name),
        ));
    }
    Ok(first.unwrap_or_default())
}

/// The field's new content after `change`.
fn changed_field(current: &str, change: &AttributeChange) -> Result<String, ExportError> {
    match change.modification {
        AttributeModification::Add | AttributeModification::Replace => single_value(change),
        AttributeModification::Delete => Ok(String::new()),
        AttributeModification::Update => {
            let mut field = current.to_string();
            for value_change in &change.values {
                let value = text(&change.name, &value_change.value)?;
                match value_change.modification {
                    ValueModification::Delete if field == value => field.clear(),
                    ValueModification::Delete => {}
                    ValueModification::Add => field = value,
                }
            }
            Ok(field)
        }
    }
}

/// The entry's anchor value: from its anchor attributes, or (on an add) from a change of the
/// anchor column.
fn anchor_of(settings: &Settings, entry: &CsEntryChange) -> Result<String, ExportError> {
    let from_anchor = entry
        .anchor_value(&settings.anchor)
        .map(|v| text(&settings.anchor, v))
        .transpose()?;
    let from_change = match (entry.modification, entry.change(&settings.anchor)) {
        (ObjectModification::Add, Some(change)) => Some(single_value(change)?),
        _ => None,
    };
    from_anchor
        .or(from_change)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            refuse(
                ExportErrorKind::MissingAnchorComponent,
                format!(
                    "the entry has no value for the anchor '{}'",
                    settings.anchor
                ),
            )
        })
}

/// Apply `changes` to `row`. The anchor column may be "set" to its own value, never changed:
/// this connector does not rename objects.
fn apply_changes(
    table: &CsvTable,
    row: &mut [String],
    changes: &[AttributeChange],
) -> Result<(), ExportError> {
    let anchor_column = table.anchor_column();
    for change in changes {
        let column = table.column(&change.name).ok_or_else(|| {
            refuse(
                ExportErrorKind::SyntaxViolation,
                format!(
                    "the file has no column '{}' (it has: {})",
                    change.name,
                    table.header.join(", ")
                ),
            )
        })?;
        let field = changed_field(&row[column], change)?;
        if column == anchor_column && field != row[column] {
            return Err(refuse(
                ExportErrorKind::SyntaxViolation,
                format!(
                    "'{}' is the anchor and cannot change (from '{}' to '{field}')",
                    change.name, row[column]
                ),
            ));
        }
        row[column] = field;
    }
    Ok(())
}

/// Apply one entry to the table, or leave the table as it was and say why not.
fn apply(
    settings: &Settings,
    table: &mut CsvTable,
    entry: &CsEntryChange,
) -> Result<(), ExportError> {
    if entry.object_type != settings.object_type {
        return Err(refuse(
            ExportErrorKind::SyntaxViolation,
            format!(
                "object type '{}' is not '{}', the only object type of this file",
                entry.object_type, settings.object_type
            ),
        ));
    }
    let anchor = anchor_of(settings, entry)?;
    let position = table.find(&anchor);
    let missing = || {
        refuse(
            ExportErrorKind::NoSuchObject,
            format!("no row has {} '{anchor}'", settings.anchor),
        )
    };
    let empty_row = || {
        let mut row = vec![String::new(); table.header.len()];
        row[table.anchor_column()] = anchor.clone();
        row
    };
    match entry.modification {
        ObjectModification::Add => {
            if position.is_some() {
                return Err(refuse(
                    ExportErrorKind::ObjectAlreadyExists,
                    format!("a row with {} '{anchor}' already exists", settings.anchor),
                ));
            }
            let mut row = empty_row();
            apply_changes(table, &mut row, &entry.changes)?;
            table.insert(row);
        }
        ObjectModification::Replace => {
            let position = position.ok_or_else(missing)?;
            let mut row = empty_row();
            apply_changes(table, &mut row, &entry.changes)?;
            table.replace(position, row);
        }
        ObjectModification::Update => {
            let position = position.ok_or_else(missing)?;
            let mut row = table.row(position).ok_or_else(missing)?.to_vec();
            apply_changes(table, &mut row, &entry.changes)?;
            table.replace(position, row);
        }
        ObjectModification::Delete => table.remove(position.ok_or_else(missing)?),
    }
    Ok(())
}

/// An export session. It holds no file handle: each batch reads the file afresh, so edits made
/// by hand between batches are kept.
pub struct CsvExportSession {
    settings: Settings,
    /// Shared by every session of one connector instance: two batches never rewrite the file
    /// at the same time.
    write_lock: Arc<Mutex<()>>,
}

impl CsvExportSession {
    pub fn new(settings: Settings, write_lock: Arc<Mutex<()>>) -> Self {
        Self {
            settings,
            write_lock,
        }
    }

    fn run(&self, batch: &[CsEntryChange]) -> Result<Vec<ExportResult>, CsvError> {
        // A poisoned lock only means another batch panicked; the file itself is whole, because
        // it is only ever replaced by a rename.
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let file = &self.settings.file;
        let (content, stamp) = table::read_file(&file.path)?;
        let mut table =
            CsvTable::parse(&file.path, &content, file.delimiter, &self.settings.anchor)?;
        let mut changed = false;
        let results = batch
            .iter()
            .map(|entry| match apply(&self.settings, &mut table, entry) {
                Ok(()) => {
                    changed = true;
                    ExportResult::success(&entry.identifier)
                }
                Err(error) => ExportResult {
                    identifier: entry.identifier.clone(),
                    error: Some(error),
                    anchor: Vec::new(),
                },
            })
            .collect();
        if changed {
            let bytes = table
                .to_bytes(file.delimiter)
                .map_err(|e| CsvError::malformed(&file.path, e.to_string()))?;
            table::replace_file(&file.path, &bytes, Some(stamp))?;
        }
        Ok(results)
    }
}

impl ExportSession for CsvExportSession {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        Ok(self.run(&batch)?)
    }
}
