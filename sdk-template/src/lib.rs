//! `ecma_csv`: a CSV flat-file connector for the ECMA connector host, and the template for
//! writing your own connector.
//!
//! It does what Microsoft's flat-file (PowerShell) connector does: one CSV file is one object
//! type, a row is an object, a column is a single-valued string attribute, and one column is
//! the anchor. It supports full import (paged), delta import (against a snapshot of the last
//! import), and export of Add, Replace, Update and Delete with one atomic file rewrite per
//! batch.
//!
//! # Making it your connector
//!
//! `docs/connector-authoring.md` in the ecmahost repository walks you from a copy of this crate
//! to a connector that the host loads and that Entra ID provisions. In order, change:
//!
//! 1. **`Cargo.toml`**: the package `name` and the `[lib] name`. The library file is
//!    `lib<lib name>.so`, and a connector file's `plugin` key names it. Point the `path` of
//!    `ecma-plugin-api` and `ecma-plugin-testkit` at your ecmahost checkout.
//! 2. **[`CsvConnector`]'s `info()`**: the name, version and description the host logs.
//! 3. **`settings.rs`**: the parameters each page asks (connection details first), the
//!    validation of each page, and the settings your sessions read from the answers. The host
//!    does not fill in defaults, so apply every default you declare.
//! 4. **`schema()` and `capabilities()`** below: your object types, their anchor and
//!    attributes; the export type you want (the host sends `Update`s with changed attributes
//!    for `AttributeReplace`, whole-object `Replace`s for `ObjectReplace`), and whether you
//!    support delta import.
//! 5. **`import.rs` and `export.rs`**: how to read objects from your target and how to apply
//!    changes to it. Return exactly one result per export entry, with its identifier, and
//!    refuse an entry with the [`ecma_plugin_api::ExportErrorKind`] that says why. Fail the
//!    whole call (a [`ConnectorError`]) only when nothing in the batch was applied.
//! 6. **`tests/connector.rs`**: keep the tests honest. They run the connector through
//!    `ecma-plugin-testkit`, which drives it exactly as the host does.
//!
//! Keep the rules the host relies on: calls are synchronous (own a runtime if you need async
//! I/O), never `unwrap` or `panic` (the entry points catch panics, but a panic still fails the
//! call), and never log secrets.
//!
//! # This connector's choices
//!
//! - **Parameters.** Connectivity: `file` (required), `delimiter` (default `,`), `encoding`
//!   (a note: UTF-8 only). Schema page 1: `object_type` (default `User`) and `anchor` (one of
//!   the header's columns, required).
//! - **Capabilities.** Delta import; export type `AttributeReplace`, so the host sends only the
//!   columns a change touched and columns it does not manage are kept; DN style `Generic` (the
//!   DN is the anchor value); no concurrent operations, because every batch rewrites the file.
//! - **Files.** The file must have a header row with distinct column names and a non-empty,
//!   unique value in the anchor column of every row. An empty field is an absent attribute.
//!   The connector writes `<file>.snapshot` and temporary files in the file's folder.
//!
//! # Example
//!
//! The host drives the connector through `ecma_plugin_api::PluginConnector`, the same FFI path
//! a loaded `.so` takes. The tests in `tests/` do the same with less ceremony through
//! `ecma-plugin-testkit`.
//!
//! ```
//! use ecma_plugin_api::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let folder = tempfile::tempdir()?;
//! let file = folder.path().join("people.csv");
//! std::fs::write(&file, "Login,Email\nadele,adele@contoso.example\n")?;
//!
//! // The answers a connector file's [parameters.*] tables give.
//! let mut values = ParameterValues::new();
//! values.insert("file", file.display().to_string());
//! values.insert("anchor", "Login");
//! let connector = PluginConnector::in_process::<ecma_csv::CsvConnector>()?;
//! let schema = connector.schema(&values)?;
//!
//! let import = |kind, watermark: &str| -> Result<(Vec<CsEntryChange>, String), ConnectorError> {
//!     let request = ImportRequest { kind, page_size: 100, watermark: watermark.into(), partition: String::new() };
//!     let mut session = connector.open_import(&values, &schema, &request)?;
//!     let mut entries = Vec::new();
//!     loop {
//!         let page = session.next_page()?;
//!         entries.extend(page.entries);
//!         if !page.more {
//!             return Ok((entries, session.close()?));
//!         }
//!     }
//! };
//! let (entries, watermark) = import(ImportKind::Full, "")?;
//! assert_eq!(entries.len(), 1);
//!
//! let request = ExportRequest { export_type: ExportType::AttributeReplace, batch_size: 100, partition: String::new() };
//! let mut export = connector.open_export(&values, &schema, &request)?;
//! let add = CsEntryChange {
//!     identifier: "1".into(),
//!     object_type: "User".into(),
//!     dn: "alex".into(),
//!     modification: ObjectModification::Add,
//!     anchor: vec![AnchorAttribute { name: "Login".into(), value: Value::String("alex".into()) }],
//!     changes: vec![AttributeChange::set("Email", AttributeModification::Add, vec![Value::String("alex@contoso.example".into())])],
//! };
//! let results = export.put_export_entries(&[add])?;
//! assert_eq!(results[0].error, None);
//! assert_eq!(
//!     std::fs::read_to_string(&file)?,
//!     "Login,Email\nadele,adele@contoso.example\nalex,alex@contoso.example\n"
//! );
//!
//! // A delta import reports what changed since the last import.
//! let (delta, _) = import(ImportKind::Delta, &watermark)?;
//! assert_eq!(delta.len(), 1);
//! assert_eq!(delta[0].anchor[0].value, Value::String("alex".into()));
//! # Ok(())
//! # }
//! ```

mod error;
mod export;
mod import;
mod settings;
mod table;

use std::sync::{Arc, Mutex};

use ecma_plugin_api::{
    AttributeType, Capabilities, ConfigPage, Connector, ConnectorError, DnStyle, ExportRequest,
    ExportSession, ExportType, ImportRequest, ImportSession, ObjectConfirmation, ObjectTypeSchema,
    ParameterDefinition, ParameterIssue, ParameterValues, PluginInfo, Schema, SchemaAttribute,
};

pub use crate::error::CsvError;
use crate::export::CsvExportSession;
use crate::import::CsvImportSession;
use crate::settings::{FileSettings, Settings};

/// The CSV connector. One instance serves one connector file of the host.
pub struct CsvConnector {
    /// Serialises the file rewrites of every export session of this instance.
    write_lock: Arc<Mutex<()>>,
}

impl Connector for CsvConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "csv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "CSV flat-file connector: a row per object, a column per attribute".into(),
        }
    }

    fn new() -> Result<Self, ConnectorError> {
        Ok(Self {
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        Ok(settings::parameters(page, values)?)
    }

    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        Ok(settings::validate(page, values))
    }

    fn capabilities(&self, _values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        Ok(Capabilities {
            dn_style: DnStyle::Generic,
            export_type: ExportType::AttributeReplace,
            object_confirmation: ObjectConfirmation::Normal,
            delta_import: true,
            concurrent_operations: false,
            ..Capabilities::default()
        })
    }

    /// One object type, named by `object_type`: the header's columns as single-valued,
    /// import-and-export string attributes, anchored on `anchor`.
    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        let settings = Settings::from_values(values)?;
        let columns = settings.file.header()?;
        if !columns.contains(&settings.anchor) {
            return Err(ConnectorError::invalid_configuration(format!(
                "anchor '{}' is not a column of {} (it has: {})",
                settings.anchor,
                settings.file.path.display(),
                columns.join(", ")
            )));
        }
        Ok(Schema {
            object_types: vec![ObjectTypeSchema {
                name: settings.object_type,
                anchor: vec![settings.anchor],
                attributes: columns
                    .into_iter()
                    .map(|c| SchemaAttribute::single(c, AttributeType::String))
                    .collect(),
            }],
        })
    }

    /// The file is "reachable" when its header can be read.
    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        FileSettings::from_values(values)?.header()?;
        Ok(())
    }

    fn open_import(
        &self,
        values: &ParameterValues,
        _schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        let settings = Settings::from_values(values)?;
        // What a connector logs reaches the host's log with the connector's name (API 1.1).
        log::info!(file:% = settings.file.path.display(), kind:? = request.kind; "import opened");
        Ok(Box::new(CsvImportSession::open(&settings, request)?))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        _schema: &Schema,
        _request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        let settings = Settings::from_values(values)?;
        Ok(Box::new(CsvExportSession::new(
            settings,
            self.write_lock.clone(),
        )))
    }
}

ecma_plugin_api::export_connector!(CsvConnector);
