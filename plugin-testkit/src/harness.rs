//! [`ConnectorHarness`]: one connector instance, its parameter answers, and the calls the host
//! makes on it, each checked against the plugin contract.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ecma_plugin_api::{
    load_library, Capabilities, ConfigPage, Connector, CsEntryChange, ExportRequest, ExportResult,
    ImportKind, ImportRequest, ParameterDefinition, ParameterValues, Partition, PasswordOptions,
    PasswordTarget, PluginConnector, PluginExportSession, PluginLibrary, Schema, Secret,
};

use crate::pages::{self, PageReport, PageWalk};
use crate::{entry, HarnessError};

/// An import that keeps answering `more = true` is stopped after this many pages, unless
/// [`ConnectorHarness::with_max_import_pages`] says otherwise.
pub const DEFAULT_MAX_IMPORT_PAGES: usize = 100_000;

/// The host's import page size (it asks `max(export_page_size, 500)`).
const DEFAULT_IMPORT_PAGE_SIZE: u32 = 500;
/// The host's default `export_page_size`.
const DEFAULT_EXPORT_BATCH_SIZE: u32 = 100;

/// A connector instance driven the way the host drives it. See the crate documentation.
pub struct ConnectorHarness {
    connector: PluginConnector,
    /// Kept so a loaded library is visibly owned by the harness (abi_stable never unloads).
    library: Option<PluginLibrary>,
    values: ParameterValues,
    object_type: Option<String>,
    import_page_size: u32,
    export_batch_size: u32,
    max_import_pages: usize,
    /// Discovered once per set of answers, as the host does at start.
    schema: Option<Schema>,
    capabilities: Option<Capabilities>,
}

/// Everything one import returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportRun {
    /// Entries of every page, in order.
    pub entries: Vec<CsEntryChange>,
    /// What `close` returned: pass it to the next delta import.
    pub watermark: String,
    /// How many entries each page held, in order (so tests can check paging).
    pub page_sizes: Vec<usize>,
}

impl ImportRun {
    /// The entry whose anchor reads `anchor` (see [`entry::anchor_text`]).
    pub fn find(&self, anchor: &str) -> Option<&CsEntryChange> {
        self.entries
            .iter()
            .find(|e| entry::anchor_text(e) == anchor)
    }

    /// The first value of `attribute` on the entry anchored at `anchor`, as text.
    pub fn text(&self, anchor: &str, attribute: &str) -> Option<String> {
        self.find(anchor).and_then(|e| entry::text(e, attribute))
    }

    /// The anchors of every entry, in import order.
    pub fn anchors(&self) -> Vec<String> {
        self.entries.iter().map(entry::anchor_text).collect()
    }
}

impl ConnectorHarness {
    /// Drive an existing connector instance (in-process or from a loaded library).
    pub fn new(connector: PluginConnector) -> Self {
        Self {
            connector,
            library: None,
            values: ParameterValues::new(),
            object_type: None,
            import_page_size: DEFAULT_IMPORT_PAGE_SIZE,
            export_batch_size: DEFAULT_EXPORT_BATCH_SIZE,
            max_import_pages: DEFAULT_MAX_IMPORT_PAGES,
            schema: None,
            capabilities: None,
        }
    }

    /// A new instance of connector type `C`, behind the same FFI adapter a library uses.
    pub fn in_process<C: Connector>() -> Result<Self, HarnessError> {
        let connector =
            PluginConnector::in_process::<C>().map_err(HarnessError::call("new_connector"))?;
        Ok(Self::new(connector))
    }

    /// Load a built connector library (`.so`) with the host's checks and make an instance.
    ///
    /// A library is never unloaded, and `dlopen` returns the already loaded copy for a path it
    /// has seen: rebuild into a new path to test a new version in the same process.
    pub fn load(path: &Path) -> Result<Self, HarnessError> {
        let library = load_library(path)?;
        let connector = library
            .new_connector()
            .map_err(HarnessError::call("new_connector"))?;
        let mut harness = Self::new(connector);
        harness.library = Some(library);
        Ok(harness)
    }

    /// The library, when the harness loaded one.
    pub fn library(&self) -> Option<&PluginLibrary> {
        self.library.as_ref()
    }

    /// The connector, for calls the harness does not wrap.
    pub fn connector(&self) -> &PluginConnector {
        &self.connector
    }

    /// The answers so far (passed to every call, as the host does).
    pub fn parameters(&self) -> &ParameterValues {
        &self.values
    }

    /// Answer a parameter. Forgets the discovered schema and capabilities.
    pub fn answer(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.values.insert(name, value);
        self.forget_discovery();
        self
    }

    /// Answer a secret parameter (an encrypted string).
    pub fn answer_secret(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.values.insert_secret(name, value);
        self.forget_discovery();
        self
    }

    /// [`Self::answer`], by value, for building a harness in one expression.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.answer(name, value);
        self
    }

    /// Pass only this object type's schema to imports and exports, as the host does for the
    /// object type a connector file configures. By default the whole schema is passed.
    pub fn with_object_type(mut self, object_type: &str) -> Self {
        self.object_type = Some(object_type.to_string());
        self
    }

    /// The page size imports ask for (the host asks 500 or more).
    pub fn with_import_page_size(mut self, page_size: u32) -> Self {
        self.import_page_size = page_size;
        self
    }

    /// The batch size export sessions are opened with (the host's `export_page_size`).
    pub fn with_export_batch_size(mut self, batch_size: u32) -> Self {
        self.export_batch_size = batch_size;
        self
    }

    /// Give up on an import after this many pages.
    pub fn with_max_import_pages(mut self, pages: usize) -> Self {
        self.max_import_pages = pages;
        self
    }

    fn forget_discovery(&mut self) {
        self.schema = None;
        self.capabilities = None;
    }

    // --- Parameter pages -------------------------------------------------------------------

    /// Walk every page with the answers given so far, as the host would pass them: nothing is
    /// filled in. Problems are reported in the [`PageWalk`], not as an error, and end the walk
    /// (the pages after an invalid one are not asked).
    pub fn walk_pages(&mut self) -> Result<PageWalk, HarnessError> {
        self.forget_discovery();
        pages::walk(&self.connector, &mut self.values, false)
    }

    /// Walk every page like the wizard: before a page is validated, its unanswered parameters
    /// get their defaults, so later pages see them.
    pub fn walk_pages_with_defaults(&mut self) -> Result<PageWalk, HarnessError> {
        self.forget_discovery();
        pages::walk(&self.connector, &mut self.values, true)
    }

    /// [`Self::walk_pages_with_defaults`], then fail with
    /// [`HarnessError::InvalidParameters`] if any page has issues or unanswered required
    /// parameters. The usual first line of a connector test.
    pub fn configure(&mut self) -> Result<PageWalk, HarnessError> {
        self.walk_pages_with_defaults()?.into_valid()
    }

    /// Ask and validate one page (no defaults filled).
    pub fn page(&mut self, page: ConfigPage) -> Result<PageReport, HarnessError> {
        pages::run_page(&self.connector, &mut self.values, page, false)
    }

    /// Answer every unanswered parameter among `definitions` that has a default. Returns the
    /// names filled in.
    pub fn fill_defaults(&mut self, definitions: &[ParameterDefinition]) -> Vec<String> {
        let filled = pages::fill_defaults(&mut self.values, definitions);
        if !filled.is_empty() {
            self.forget_discovery();
        }
        filled
    }

    // --- Discovery ---------------------------------------------------------------------------

    pub fn capabilities(&mut self) -> Result<Capabilities, HarnessError> {
        let capabilities = self
            .connector
            .capabilities(&self.values)
            .map_err(HarnessError::call("capabilities"))?;
        self.capabilities = Some(capabilities);
        Ok(capabilities)
    }

    /// Discover the schema (always calls the connector) and keep it for imports and exports.
    pub fn schema(&mut self) -> Result<Schema, HarnessError> {
        let schema = self
            .connector
            .schema(&self.values)
            .map_err(HarnessError::call("schema"))?;
        self.schema = Some(schema.clone());
        Ok(schema)
    }

    pub fn partitions(&self) -> Result<Vec<Partition>, HarnessError> {
        self.connector
            .partitions(&self.values)
            .map_err(HarnessError::call("partitions"))
    }

    pub fn test_connection(&self) -> Result<(), HarnessError> {
        self.connector
            .test_connection(&self.values)
            .map_err(HarnessError::call("test_connection"))
    }

    /// The schema passed to imports and exports: discovered once, narrowed to the object type
    /// if one was chosen.
    fn session_schema(&mut self) -> Result<Schema, HarnessError> {
        let mut schema = match &self.schema {
            Some(schema) => schema.clone(),
            None => self.schema()?,
        };
        if let Some(object_type) = &self.object_type {
            schema.object_types.retain(|t| &t.name == object_type);
        }
        Ok(schema)
    }

    fn known_capabilities(&mut self) -> Result<Capabilities, HarnessError> {
        match self.capabilities {
            Some(capabilities) => Ok(capabilities),
            None => self.capabilities(),
        }
    }

    // --- Import ------------------------------------------------------------------------------

    /// A full import, drained to the last page and closed.
    pub fn full_import(&mut self) -> Result<ImportRun, HarnessError> {
        self.import(ImportKind::Full, "")
    }

    /// A delta import from `watermark` (what an earlier import's `close` returned).
    pub fn delta_import(&mut self, watermark: &str) -> Result<ImportRun, HarnessError> {
        self.import(ImportKind::Delta, watermark)
    }

    fn import(&mut self, kind: ImportKind, watermark: &str) -> Result<ImportRun, HarnessError> {
        let schema = self.session_schema()?;
        let request = ImportRequest {
            kind,
            page_size: self.import_page_size,
            watermark: watermark.to_string(),
            partition: String::new(),
        };
        let mut session = self
            .connector
            .open_import(&self.values, &schema, &request)
            .map_err(HarnessError::call("open_import"))?;
        let mut run = ImportRun::default();
        loop {
            if run.page_sizes.len() == self.max_import_pages {
                return Err(HarnessError::EndlessImport {
                    pages: run.page_sizes.len(),
                });
            }
            let page = session
                .next_page()
                .map_err(HarnessError::call("next_page"))?;
            run.page_sizes.push(page.entries.len());
            run.entries.extend(page.entries);
            if !page.more {
                break;
            }
        }
        run.watermark = session
            .close()
            .map_err(HarnessError::call("close_import"))?;
        Ok(run)
    }

    // --- Export ------------------------------------------------------------------------------

    /// Open an export session with the export type the connector's capabilities announce, as
    /// the host does. Use it to send several batches over one session.
    pub fn open_export(&mut self) -> Result<ExportConnection, HarnessError> {
        let schema = self.session_schema()?;
        let request = ExportRequest {
            export_type: self.known_capabilities()?.export_type,
            batch_size: self.export_batch_size,
            partition: String::new(),
        };
        let session = self
            .connector
            .open_export(&self.values, &schema, &request)
            .map_err(HarnessError::call("open_export"))?;
        Ok(ExportConnection { session })
    }

    /// Export one batch in a new session and close it. Returns one result per entry, in the
    /// batch's order. Accepts [`entry`] builders or [`CsEntryChange`]s.
    pub fn export<E: Into<CsEntryChange>>(
        &mut self,
        batch: impl IntoIterator<Item = E>,
    ) -> Result<Vec<ExportResult>, HarnessError> {
        let mut connection = self.open_export()?;
        let results = connection.put(batch)?;
        connection.close()?;
        Ok(results)
    }

    /// [`Self::export`], and fail with [`HarnessError::ExportRefused`] if the connector
    /// refused any entry.
    pub fn export_ok<E: Into<CsEntryChange>>(
        &mut self,
        batch: impl IntoIterator<Item = E>,
    ) -> Result<(), HarnessError> {
        for result in self.export(batch)? {
            if let Some(error) = result.error {
                return Err(HarnessError::ExportRefused {
                    identifier: result.identifier,
                    kind: error.kind,
                    message: error.message,
                });
            }
        }
        Ok(())
    }

    // --- Passwords ---------------------------------------------------------------------------

    pub fn set_password(
        &self,
        target: &PasswordTarget,
        new_password: &str,
        options: PasswordOptions,
    ) -> Result<(), HarnessError> {
        self.connector
            .set_password(&self.values, target, &Secret::new(new_password), options)
            .map_err(HarnessError::call("set_password"))
    }

    pub fn change_password(
        &self,
        target: &PasswordTarget,
        old_password: &str,
        new_password: &str,
    ) -> Result<(), HarnessError> {
        self.connector
            .change_password(
                &self.values,
                target,
                &Secret::new(old_password),
                &Secret::new(new_password),
            )
            .map_err(HarnessError::call("change_password"))
    }
}

/// An open export session; each [`ExportConnection::put`] is one `put_export_entries` batch.
pub struct ExportConnection {
    session: PluginExportSession,
}

impl ExportConnection {
    /// Send one batch. Checks that the connector returned exactly one result per entry, each
    /// naming an identifier of the batch, and returns them in the batch's order.
    pub fn put<E: Into<CsEntryChange>>(
        &mut self,
        batch: impl IntoIterator<Item = E>,
    ) -> Result<Vec<ExportResult>, HarnessError> {
        let batch: Vec<CsEntryChange> = batch.into_iter().map(Into::into).collect();
        let mut seen = HashSet::new();
        for entry in &batch {
            if !seen.insert(entry.identifier.as_str()) {
                return Err(HarnessError::DuplicateIdentifier(entry.identifier.clone()));
            }
        }
        let results = self
            .session
            .put_export_entries(&batch)
            .map_err(HarnessError::call("put_export_entries"))?;
        match_results(&batch, results)
    }

    pub fn close(mut self) -> Result<(), HarnessError> {
        self.session
            .close()
            .map_err(HarnessError::call("close_export"))
    }
}

/// Pair results with entries by identifier, the way the host's export engine does, but fail on
/// anything the host would have to paper over.
fn match_results(
    batch: &[CsEntryChange],
    results: Vec<ExportResult>,
) -> Result<Vec<ExportResult>, HarnessError> {
    if results.len() != batch.len() {
        return Err(HarnessError::WrongResultCount {
            entries: batch.len(),
            results: results.len(),
        });
    }
    let mut pending: HashMap<&str, Option<ExportResult>> = batch
        .iter()
        .map(|e| (e.identifier.as_str(), None))
        .collect();
    for result in results {
        match pending.get_mut(result.identifier.as_str()) {
            Some(slot @ None) => *slot = Some(result),
            _ => return Err(HarnessError::UnexpectedResult(result.identifier)),
        }
    }
    batch
        .iter()
        .map(|e| {
            pending
                .get_mut(e.identifier.as_str())
                .and_then(Option::take)
                .ok_or_else(|| HarnessError::MissingResult(e.identifier.clone()))
        })
        .collect()
}
