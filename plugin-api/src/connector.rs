//! The author's side: the safe [`Connector`] trait, and the adapter that exposes it through the
//! stable ABI with every entry point guarded against panics.
//!
//! A connector author implements [`Connector`] with plain Rust types and calls
//! [`crate::export_connector!`] once. They never touch `abi_stable` types.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RString, RVec};

use crate::convert::*;
use crate::ffi::{self, codes, *};
use crate::logging::LogRoute;
use crate::model::*;

/// An ECMA2 connector. Calls are synchronous: the host runs them on a blocking thread pool,
/// with a time-out. A connector that wants async I/O owns its own runtime.
///
/// Like ECMA2, each call receives the parameter answers; a connector may cache connections
/// keyed by them.
pub trait Connector: Send + Sync + 'static {
    /// Name, version and description of this library.
    fn info() -> PluginInfo
    where
        Self: Sized;

    /// A new instance. Called once per configured connector, and for inspection.
    fn new() -> Result<Self, ConnectorError>
    where
        Self: Sized;

    /// The parameters of `page`, given the answers to earlier pages.
    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError>;

    /// Problems with the answers to `page`. Empty means the page is valid.
    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        let _ = (page, values);
        Ok(Vec::new())
    }

    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError>;

    /// Object types and attributes of the connected system.
    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError>;

    fn partitions(&self, values: &ParameterValues) -> Result<Vec<Partition>, ConnectorError> {
        let _ = values;
        Ok(Vec::new())
    }

    fn hierarchy(
        &self,
        values: &ParameterValues,
        partition: &Partition,
    ) -> Result<Vec<Container>, ConnectorError> {
        let _ = (values, partition);
        Ok(Vec::new())
    }

    /// Connect to the target and return whether that worked.
    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError>;

    fn open_import(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError>;

    fn open_export(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError>;

    fn set_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        new_password: &Secret,
        options: PasswordOptions,
    ) -> Result<(), ConnectorError> {
        let _ = (values, target, new_password, options);
        Err(ConnectorError::not_supported("setting a password"))
    }

    fn change_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        old_password: &Secret,
        new_password: &Secret,
    ) -> Result<(), ConnectorError> {
        let _ = (values, target, old_password, new_password);
        Err(ConnectorError::not_supported("changing a password"))
    }
}

/// One import run.
pub trait ImportSession: Send {
    /// The next page; `more == false` on the last one.
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError>;

    /// End the run; returns the watermark to pass to the next delta import.
    fn close(&mut self) -> Result<String, ConnectorError>;
}

/// One export connection, reused for many batches.
pub trait ExportSession: Send {
    /// Apply a batch; return exactly one result per entry, naming its identifier.
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError>;

    fn close(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

/// Run `f`, turning an error or a panic into an `FfiError`. No unwinding may cross the ABI.
fn guard<T>(
    entry_point: &str,
    f: impl FnOnce() -> Result<T, ConnectorError>,
) -> RResult<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(error_to_ffi(&e)),
        Err(payload) => RResult::RErr(FfiError {
            kind: codes::ERROR_PANIC,
            message: RString::from(format!(
                "connector panicked in {entry_point}: {}",
                panic_message(payload.as_ref())
            )),
        }),
    }
}

fn page_or_error(page: &FfiConfigPage) -> Result<ConfigPage, ConnectorError> {
    page_from_ffi(page).ok_or_else(|| {
        ConnectorError::other(format!("unknown configuration page code {}", page.kind.0))
    })
}

/// Wraps an author's [`Connector`] as an [`FfiConnector`]. Every call runs with the
/// connector's log route entered, so what the connector logs is attributed to it.
struct ConnectorAdapter<C> {
    connector: C,
    log: Arc<LogRoute>,
}

pub(crate) fn adapter<C: Connector>(connector: C) -> impl FfiConnector + 'static {
    ConnectorAdapter {
        connector,
        log: LogRoute::detached(),
    }
}

impl<C: Connector> ConnectorAdapter<C> {
    /// [`guard`], with this connector's log route entered.
    fn call<T>(
        &self,
        entry_point: &str,
        f: impl FnOnce(&C) -> Result<T, ConnectorError>,
    ) -> RResult<T, FfiError> {
        let _route = self.log.enter();
        guard(entry_point, || f(&self.connector))
    }
}

impl<C: Connector> FfiConnector for ConnectorAdapter<C> {
    fn config_parameters(
        &self,
        page: FfiConfigPage,
        values: &RVec<FfiParameterValue>,
    ) -> FfiResult<RVec<FfiParameterDefinition>> {
        self.call("config_parameters", |c| {
            let defs = c.config_parameters(page_or_error(&page)?, &values_from_ffi(values))?;
            Ok(defs.iter().map(parameter_to_ffi).collect())
        })
    }

    fn validate_page(
        &self,
        page: FfiConfigPage,
        values: &RVec<FfiParameterValue>,
    ) -> FfiResult<RVec<FfiParameterIssue>> {
        self.call("validate_page", |c| {
            let issues = c.validate_page(page_or_error(&page)?, &values_from_ffi(values))?;
            Ok(issues.iter().map(issue_to_ffi).collect())
        })
    }

    fn capabilities(&self, values: &RVec<FfiParameterValue>) -> FfiResult<FfiCapabilities> {
        self.call("capabilities", |c| {
            Ok(capabilities_to_ffi(
                &c.capabilities(&values_from_ffi(values))?,
            ))
        })
    }

    fn schema(&self, values: &RVec<FfiParameterValue>) -> FfiResult<FfiSchema> {
        self.call("schema", |c| {
            Ok(schema_to_ffi(&c.schema(&values_from_ffi(values))?))
        })
    }

    fn partitions(&self, values: &RVec<FfiParameterValue>) -> FfiResult<RVec<FfiPartition>> {
        self.call("partitions", |c| {
            Ok(c.partitions(&values_from_ffi(values))?
                .iter()
                .map(partition_to_ffi)
                .collect())
        })
    }

    fn hierarchy(
        &self,
        values: &RVec<FfiParameterValue>,
        partition: &FfiPartition,
    ) -> FfiResult<RVec<FfiPartition>> {
        self.call("hierarchy", |c| {
            let containers =
                c.hierarchy(&values_from_ffi(values), &partition_from_ffi(partition))?;
            Ok(containers
                .iter()
                .map(|c| {
                    partition_to_ffi(&Partition {
                        name: c.name.clone(),
                        dn: c.dn.clone(),
                    })
                })
                .collect())
        })
    }

    fn test_connection(&self, values: &RVec<FfiParameterValue>) -> FfiResult<()> {
        self.call("test_connection", |c| {
            c.test_connection(&values_from_ffi(values))
        })
    }

    fn open_import(
        &self,
        values: &RVec<FfiParameterValue>,
        schema: &FfiSchema,
        request: FfiImportRequest,
    ) -> FfiResult<FfiImportSessionBox> {
        self.call("open_import", |c| {
            let session = c.open_import(
                &values_from_ffi(values),
                &schema_from_ffi(schema),
                &import_request_from_ffi(&request),
            )?;
            Ok(FfiImportSession_TO::from_value(
                ImportAdapter(session, self.log.clone()),
                TD_Opaque,
            ))
        })
    }

    fn open_export(
        &self,
        values: &RVec<FfiParameterValue>,
        schema: &FfiSchema,
        request: FfiExportRequest,
    ) -> FfiResult<FfiExportSessionBox> {
        self.call("open_export", |c| {
            let session = c.open_export(
                &values_from_ffi(values),
                &schema_from_ffi(schema),
                &export_request_from_ffi(&request),
            )?;
            Ok(FfiExportSession_TO::from_value(
                ExportAdapter(session, self.log.clone()),
                TD_Opaque,
            ))
        })
    }

    fn set_password(
        &self,
        values: &RVec<FfiParameterValue>,
        target: &FfiPasswordTarget,
        new_password: &RString,
        options: u32,
    ) -> FfiResult<()> {
        self.call("set_password", |c| {
            c.set_password(
                &values_from_ffi(values),
                &password_target_from_ffi(target),
                &Secret::new(new_password.as_str()),
                password_options_from_ffi(options),
            )
        })
    }

    fn change_password(
        &self,
        values: &RVec<FfiParameterValue>,
        target: &FfiPasswordTarget,
        old_password: &RString,
        new_password: &RString,
    ) -> FfiResult<()> {
        self.call("change_password", |c| {
            c.change_password(
                &values_from_ffi(values),
                &password_target_from_ffi(target),
                &Secret::new(old_password.as_str()),
                &Secret::new(new_password.as_str()),
            )
        })
    }

    fn attach_log(&self, sink: FfiLogSinkBox, max_level: Code) -> FfiResult<()> {
        guard("attach_log", || {
            self.log.attach(sink, max_level);
            Ok(())
        })
    }
}

struct ImportAdapter(Box<dyn ImportSession>, Arc<LogRoute>);

impl FfiImportSession for ImportAdapter {
    fn next_page(&mut self) -> FfiResult<FfiImportPage> {
        let _route = self.1.enter();
        guard("next_page", || {
            let page = self.0.next_page()?;
            Ok(FfiImportPage {
                entries: page.entries.iter().map(entry_to_ffi).collect(),
                more: page.more,
            })
        })
    }

    fn close(&mut self) -> FfiResult<RString> {
        let _route = self.1.enter();
        guard("close_import", || Ok(RString::from(self.0.close()?)))
    }
}

struct ExportAdapter(Box<dyn ExportSession>, Arc<LogRoute>);

impl FfiExportSession for ExportAdapter {
    fn put_export_entries(
        &mut self,
        batch: RVec<FfiCsEntryChange>,
    ) -> FfiResult<RVec<FfiExportResult>> {
        let _route = self.1.enter();
        guard("put_export_entries", || {
            let entries = batch
                .iter()
                .map(entry_from_ffi)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(self
                .0
                .put_export_entries(entries)?
                .iter()
                .map(export_result_to_ffi)
                .collect())
        })
    }

    fn close(&mut self) -> FfiResult<()> {
        let _route = self.1.enter();
        guard("close_export", || self.0.close())
    }
}

extern "C" fn info_entry<C: Connector>() -> FfiPluginInfo {
    match catch_unwind(C::info) {
        Ok(info) => info_to_ffi(&info),
        Err(payload) => info_to_ffi(&PluginInfo {
            name: "<unknown>".into(),
            version: "0.0.0".into(),
            description: format!("info() panicked: {}", panic_message(payload.as_ref())),
        }),
    }
}

extern "C" fn new_connector_entry<C: Connector>() -> FfiResult<FfiConnectorBox> {
    // What `C::new` logs is kept until the host attaches its sink to the new connector.
    let log = LogRoute::building();
    let _route = log.enter();
    guard("new_connector", || {
        Ok(FfiConnector_TO::from_value(
            ConnectorAdapter {
                connector: C::new()?,
                log: log.clone(),
            },
            TD_Opaque,
        ))
    })
}

/// The root module for connector type `C`. Called once per load by the exported loader.
#[doc(hidden)]
pub fn root_module<C: Connector>() -> ffi::ConnectorModuleRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    // Only a cdylib's root module gets here: its `log` and `tracing` are its own copies.
    crate::logging::install_bridge();
    ffi::ConnectorModule {
        info: info_entry::<C>,
        new_connector: new_connector_entry::<C>,
    }
    .leak_into_prefix()
}

/// Export `$connector` (a type implementing [`Connector`]) as this library's root module.
///
/// The crate must be a `cdylib` and depend on `abi_stable` (the exported symbol's code names it).
///
/// ```ignore
/// ecma_plugin_api::export_connector!(MyConnector);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[::abi_stable::export_root_module]
        pub fn __ecma_connector_root_module() -> $crate::ffi::ConnectorModuleRef {
            $crate::root_module::<$connector>()
        }
    };
}
