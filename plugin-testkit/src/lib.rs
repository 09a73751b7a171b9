//! `ecma_plugin_testkit`: run a connector the way the ECMA connector host does, without the host.
//!
//! A connector author's tests should exercise the same path the host takes: the stable-ABI
//! adapter, the parameter pages asked in order, schema discovery, imports drained page by page,
//! and export batches whose results are matched to entries by identifier. [`ConnectorHarness`]
//! does exactly that on a [`PluginConnector`](ecma_plugin_api::PluginConnector), so the same test can drive a connector type
//! compiled into the test ([`ConnectorHarness::in_process`]) or the built `.so`
//! ([`ConnectorHarness::load`]).
//!
//! What the harness checks, and reports as a [`HarnessError`] rather than letting a test pass:
//! - parameter names are unique across pages (the host merges every page into one answer set);
//! - a connector stops declaring schema pages (at most [`MAX_SCHEMA_PAGES`]);
//! - an import ends (at most [`ConnectorHarness::with_max_import_pages`] pages);
//! - an export returns exactly one result per entry, naming an identifier of the batch.
//!
//! Everything is synchronous, like the plugin API. Use plain `#[test]`s: a connector that owns
//! a tokio runtime panics when it is called from inside another runtime's task.
//!
//! ```
//! use ecma_plugin_testkit::{entry, ConnectorHarness};
//!
//! # fn main() -> Result<(), ecma_plugin_testkit::HarnessError> {
//! // Any type implementing `ecma_plugin_api::Connector` (here the host's fault-injection
//! // connector, which keeps `User` objects with anchor `Id` in memory).
//! let mut harness = ConnectorHarness::in_process::<ecma_faulty::FaultyConnector>()?;
//! let pages = harness.configure()?; // every page, defaults filled, validated
//! assert!(pages.definition("panic_in").is_some());
//!
//! let results = harness.export([entry::add("User", "Id", "alice").set("Name", "Alice")])?;
//! assert!(results[0].error.is_none());
//!
//! let import = harness.full_import()?;
//! assert_eq!(import.text("alice", "Name").as_deref(), Some("Alice"));
//! # Ok(())
//! # }
//! ```

pub mod entry;
mod harness;
mod pages;

use ecma_plugin_api::{ConnectorError, ErrorKind, ExportErrorKind, LoadError};

pub use harness::{ConnectorHarness, ExportConnection, ImportRun, DEFAULT_MAX_IMPORT_PAGES};
pub use pages::{PageReport, PageWalk, MAX_SCHEMA_PAGES};

/// Why the harness could not run a step, or caught the connector breaking the plugin contract.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot load the connector library: {0}")]
    Load(#[from] LoadError),

    /// A call returned an error (or panicked; the adapter turns that into kind `Panic`).
    #[error("{call} failed: {source}")]
    Connector {
        call: &'static str,
        #[source]
        source: ConnectorError,
    },

    /// Some page has issues or unanswered required parameters; one line per problem.
    #[error("the parameter answers are not valid:\n{0}")]
    InvalidParameters(String),

    #[error("parameter '{name}' is declared on page '{first}' and again on page '{second}'; the host merges every page into one set of answers, so names must be unique")]
    DuplicateParameter {
        name: String,
        first: String,
        second: String,
    },

    #[error("the connector still declares parameters on page 'schema{0}'; a connector must end its schema pages with an empty one")]
    EndlessSchemaPages(u32),

    #[error(
        "the import did not end after {pages} pages (the connector keeps answering more = true)"
    )]
    EndlessImport { pages: usize },

    /// The test itself built a bad batch: identifiers must be unique within a batch.
    #[error("the batch holds more than one entry with identifier '{0}'")]
    DuplicateIdentifier(String),

    #[error("export contract broken: {entries} entries in the batch but {results} results")]
    WrongResultCount { entries: usize, results: usize },

    #[error("export contract broken: a result names identifier '{0}', which is not in the batch or was already answered")]
    UnexpectedResult(String),

    #[error("export contract broken: no result for the entry with identifier '{0}'")]
    MissingResult(String),

    /// Returned by [`ConnectorHarness::export_ok`] for the first entry the connector refused.
    #[error("the connector refused entry '{identifier}' ({kind:?}): {message}")]
    ExportRefused {
        identifier: String,
        kind: ExportErrorKind,
        message: String,
    },
}

impl HarnessError {
    pub(crate) fn call(call: &'static str) -> impl FnOnce(ConnectorError) -> Self {
        move |source| HarnessError::Connector { call, source }
    }

    /// The connector's own error, when a call failed.
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match self {
            HarnessError::Connector { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The kind of the connector's error, when a call failed.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.connector_error().map(|e| e.kind)
    }
}

#[cfg(test)]
mod tests;
