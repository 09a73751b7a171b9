//! The stable plugin interface between the ECMA connector host and connector libraries.
//!
//! This crate owns the ECMA2 surface in Rust: capabilities, configuration parameters asked page
//! by page, schema discovery, paged import with a watermark, batched export with a result per
//! entry, passwords and a connection test. It has three layers:
//!
//! - [`model`]: plain Rust types (`CsEntryChange`, `Schema`, `Capabilities`, ...). Authors and
//!   the host work with these.
//! - [`ffi`]: their `#[repr(C)]`/`StableAbi` mirrors, the root module and the trait objects that
//!   cross the `cdylib` boundary. Nobody outside this crate should need them.
//! - the two sides of the boundary: [`Connector`] + [`export_connector!`] for authors (every entry
//!   point catches panics), and [`load_library`] + [`PluginConnector`] for the host.
//! - the log channel (API 1.1): what a connector logs with `log` or `tracing` reaches the
//!   host's [`LogSink`] (by default [`TracingLogSink`]) with the connector's name.
//!
//! A host loads libraries built for any minor of its major, older or newer
//! (docs/plugin-api-compatibility.md).
//!
//! Architecture invariant: this crate knows nothing of HTTP, SCIM or the host's configuration.
//!
//! ```no_run
//! use ecma_plugin_api::*;
//!
//! struct Nothing;
//! impl Connector for Nothing {
//!     fn info() -> PluginInfo {
//!         PluginInfo { name: "nothing".into(), version: "0.1.0".into(), description: String::new() }
//!     }
//!     fn new() -> Result<Self, ConnectorError> { Ok(Nothing) }
//!     fn config_parameters(&self, _: ConfigPage, _: &ParameterValues) -> Result<Vec<ParameterDefinition>, ConnectorError> { Ok(vec![]) }
//!     fn capabilities(&self, _: &ParameterValues) -> Result<Capabilities, ConnectorError> { Ok(Capabilities::default()) }
//!     fn schema(&self, _: &ParameterValues) -> Result<Schema, ConnectorError> { Ok(Schema::default()) }
//!     fn test_connection(&self, _: &ParameterValues) -> Result<(), ConnectorError> { Ok(()) }
//!     fn open_import(&self, _: &ParameterValues, _: &Schema, _: &ImportRequest) -> Result<Box<dyn ImportSession>, ConnectorError> {
//!         Err(ConnectorError::not_supported("import"))
//!     }
//!     fn open_export(&self, _: &ParameterValues, _: &Schema, _: &ExportRequest) -> Result<Box<dyn ExportSession>, ConnectorError> {
//!         Err(ConnectorError::not_supported("export"))
//!     }
//! }
//! // In a cdylib crate that also depends on abi_stable:
//! // ecma_plugin_api::export_connector!(Nothing);
//! ```

mod connector;
mod convert;
pub mod ffi;
mod library;
mod logging;
pub mod model;

pub use connector::{root_module, Connector, ExportSession, ImportSession};
pub use ffi::{API_MAJOR, API_MINOR};
pub use library::{
    load_library, LoadError, PluginConnector, PluginExportSession, PluginImportSession,
    PluginLibrary,
};
pub use logging::{LogLevel, LogRecord, LogSink, TracingLogSink};
pub use model::*;
