//! Full and delta import.
//!
//! A full import returns every row as an `Add`. A delta import compares the file with the
//! snapshot the previous import left: rows that appeared are `Add`s, rows whose values changed
//! are `Replace`s (with every value of the row), rows that disappeared are `Delete`s.
//!
//! The snapshot is the file's content as that import read it, kept at `<file>.snapshot`. The
//! watermark is `sha256:<hex>` of the snapshot, so a delta import can tell that the snapshot is
//! the one its watermark came from, and refuses (asking for a full import) when it is not.
//! The snapshot is written when the import is closed, never before: an import that fails
//! half-way leaves the previous snapshot and watermark valid.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, ConnectorError, CsEntryChange,
    ImportKind, ImportPage, ImportRequest, ImportSession, ObjectModification, Value,
};
use sha2::{Digest, Sha256};

use crate::error::CsvError;
use crate::settings::Settings;
use crate::table::{self, CsvTable};

/// Used when the host asks for page size 0.
const DEFAULT_PAGE_SIZE: usize = 500;
const WATERMARK_PREFIX: &str = "sha256:";

/// Where the snapshot of `file` lives: next to it, so it moves with it.
pub fn snapshot_path(file: &Path) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(".snapshot");
    PathBuf::from(name)
}

/// The watermark that identifies a snapshot with this content.
pub fn watermark(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{WATERMARK_PREFIX}{hex}")
}

/// A row as an import entry: the anchor, and every non-empty field as a single value. (A CSV
/// field cannot tell "empty" from "absent", so an empty field is an absent attribute.)
fn row_entry(
    settings: &Settings,
    table: &CsvTable,
    row: &[String],
    modification: ObjectModification,
) -> CsEntryChange {
    let anchor = row[table.anchor_column()].clone();
    CsEntryChange {
        identifier: anchor.clone(),
        object_type: settings.object_type.clone(),
        dn: anchor.clone(),
        modification,
        anchor: vec![AnchorAttribute {
            name: settings.anchor.clone(),
            value: Value::String(anchor),
        }],
        changes: table
            .header
            .iter()
            .zip(row)
            .filter(|(_, value)| !value.is_empty())
            .map(|(column, value)| {
                AttributeChange::set(
                    column.clone(),
                    AttributeModification::Add,
                    vec![Value::String(value.clone())],
                )
            })
            .collect(),
    }
}

fn deleted_entry(settings: &Settings, anchor: &str) -> CsEntryChange {
    CsEntryChange {
        identifier: anchor.to_string(),
        object_type: settings.object_type.clone(),
        dn: anchor.to_string(),
        modification: ObjectModification::Delete,
        anchor: vec![AnchorAttribute {
            name: settings.anchor.clone(),
            value: Value::String(anchor.to_string()),
        }],
        changes: Vec::new(),
    }
}

/// Whether two rows differ in any column of either header (a column added to or removed from
/// the file changes the rows that have a value in it).
fn differs(old: &CsvTable, old_row: &[String], new: &CsvTable, new_row: &[String]) -> bool {
    let value = |table: &CsvTable, row: &[String], column: &str| -> String {
        table
            .column(column)
            .map(|i| row[i].clone())
            .unwrap_or_default()
    };
    let columns: HashSet<&String> = old.header.iter().chain(&new.header).collect();
    columns
        .into_iter()
        .any(|c| value(old, old_row, c) != value(new, new_row, c))
}

/// The changes from `old` to `new`: adds and replaces in the new file's order, then deletes in
/// the old file's order.
fn delta(settings: &Settings, old: &CsvTable, new: &CsvTable) -> Vec<CsEntryChange> {
    let mut entries = Vec::new();
    for row in new.rows() {
        let anchor = &row[new.anchor_column()];
        match old.find(anchor).and_then(|i| old.row(i)) {
            None => entries.push(row_entry(settings, new, row, ObjectModification::Add)),
            Some(old_row) if differs(old, old_row, new, row) => {
                entries.push(row_entry(settings, new, row, ObjectModification::Replace))
            }
            Some(_) => {}
        }
    }
    for row in old.rows() {
        let anchor = &row[old.anchor_column()];
        if new.find(anchor).is_none() {
            entries.push(deleted_entry(settings, anchor));
        }
    }
    entries
}

/// The snapshot a delta import compares with, checked against its watermark.
fn read_snapshot(settings: &Settings, watermark_in: &str) -> Result<CsvTable, CsvError> {
    if watermark_in.is_empty() {
        return Err(CsvError::NoSnapshot(
            "no watermark was given (a delta import continues from an earlier import)".into(),
        ));
    }
    if !watermark_in.starts_with(WATERMARK_PREFIX) {
        return Err(CsvError::NoSnapshot(format!(
            "'{watermark_in}' is not a watermark of this connector"
        )));
    }
    let path = snapshot_path(&settings.file.path);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CsvError::NoSnapshot(format!(
                "the snapshot {} is missing",
                path.display()
            )))
        }
        Err(e) => return Err(CsvError::read(&path)(e)),
    };
    if watermark(&bytes) != watermark_in {
        return Err(CsvError::NoSnapshot(format!(
            "the snapshot {} is not the one this watermark names (a later import replaced it, \
             or it was edited)",
            path.display()
        )));
    }
    CsvTable::parse(&path, &bytes, settings.file.delimiter, &settings.anchor).map_err(|e| {
        CsvError::NoSnapshot(format!(
            "the snapshot cannot be compared with the file: {e}"
        ))
    })
}

/// One import run: the entries are computed when it opens, and handed out page by page.
pub struct CsvImportSession {
    snapshot: PathBuf,
    /// The file's content as read; it becomes the snapshot on close.
    content: Vec<u8>,
    entries: std::vec::IntoIter<CsEntryChange>,
    page_size: usize,
}

impl CsvImportSession {
    pub fn open(settings: &Settings, request: &ImportRequest) -> Result<Self, CsvError> {
        let path = &settings.file.path;
        let (content, _) = table::read_file(path)?;
        let current = CsvTable::parse(path, &content, settings.file.delimiter, &settings.anchor)?;
        let entries = match request.kind {
            ImportKind::Full => current
                .rows()
                .map(|row| row_entry(settings, &current, row, ObjectModification::Add))
                .collect(),
            ImportKind::Delta => {
                let previous = read_snapshot(settings, &request.watermark)?;
                delta(settings, &previous, &current)
            }
        };
        Ok(Self {
            snapshot: snapshot_path(path),
            content,
            entries: Vec::into_iter(entries),
            page_size: match request.page_size {
                0 => DEFAULT_PAGE_SIZE,
                n => n as usize,
            },
        })
    }
}

impl ImportSession for CsvImportSession {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        let entries: Vec<CsEntryChange> = self.entries.by_ref().take(self.page_size).collect();
        Ok(ImportPage {
            entries,
            more: self.entries.len() > 0,
        })
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        table::replace_file(&self.snapshot, &self.content, None)?;
        Ok(watermark(&self.content))
    }
}
