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
/// keyed by them. The host passes exactly the answers of the connector file (secret ones
/// resolved from `{ env = ... }` or `{ file = ... }`), never defaults: a parameter's `default`
/// only pre-fills a wizard, so apply your own defaults.
///
/// **Time-outs.** Every call is bounded by the connector file's `call_timeout_seconds`
/// (default 30, at most 3600). When it passes, the host gives up on the call (the request gets
/// 503 with `Retry-After`, or the build or import fails), but it cannot stop your thread: the
/// call keeps its slot of `max_concurrent_calls` (default 8) until it returns, and `/status`
/// shows the connector as degraded meanwhile. Bound your own I/O below the time-out.
///
/// **Errors.** A [`ConnectorError`] fails the whole call. During a SCIM request its
/// [`ErrorKind`] decides the answer: `Busy` and `Connection` give 503 with `Retry-After: 5`;
/// `InvalidConfiguration`, `NotSupported`, `Panic` and `Other` give 500. While the connector
/// is being built, any error makes it `Failed`: every request gets 503 with the error as
/// `detail`, until the file or the library changes.
///
/// **Logging (API 1.1).** Use `log::info!` or `tracing::info!` as anywhere. The SDK forwards
/// the records to the host's log, with the connector's name, at the levels the host wants.
/// Never print to standard output or standard error.
pub trait Connector: Send + Sync + 'static {
    /// Name, version and description of this library. The host calls it once when it loads
    /// the library, logs it (`loaded connector library`), shows it in `/status` and in
    /// `ecmahost plugin inspect`. It must not fail; a panic here reads as `<unknown>`.
    fn info() -> PluginInfo
    where
        Self: Sized;

    /// A new instance. The host calls it once per connector it builds: at start-up, and for
    /// every reload of that connector (the new instance runs beside the old one until the
    /// swap). `ecmahost plugin inspect` also makes one. Don't connect to the target here: no
    /// parameter answers are known yet. An error makes the connector `Failed`.
    fn new() -> Result<Self, ConnectorError>
    where
        Self: Sized;

    /// The parameters of `page`, given the answers to the earlier pages (`values`; empty when
    /// inspecting). The host asks for every page the connector file answers, in page order,
    /// when it builds the connector, and refuses an answer whose name the page does not define.
    /// `ecmahost plugin inspect` lists every page with no answers, so don't fail when earlier
    /// answers are missing: return what you can.
    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError>;

    /// Problems with the answers to `page`; empty means the page is valid. When it builds the
    /// connector, the host calls it for every page the connector file answers, with all the
    /// answers, and refuses the file if any page has a problem: each issue is reported as
    /// `parameters.<page>.<parameter>: <message>`. Check what you can without side effects;
    /// connecting is the job of [`Connector::test_connection`].
    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        let _ = (page, values);
        Ok(Vec::new())
    }

    /// What the connector can do, given the answers. Called once per build, after the pages
    /// are validated; the host keeps the answer for the life of that instance (a reload asks
    /// again). See [`Capabilities`] for what the host does with each field.
    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError>;

    /// Object types and attributes of the connected system. Called once per build, after
    /// [`Connector::capabilities`]. The host checks the connector file against it (object
    /// types, anchor, attributes, their types and directions), refuses the file where they
    /// disagree, and passes the schema of the configured object types to every import and
    /// export. An attribute's type decides its SCIM form (`Binary` as base64, `Reference` as
    /// the SCIM id of the referenced object) and its direction whether SCIM may write it.
    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError>;

    /// The partitions of the target (an LDAP naming context, a database, a tenant). Called once
    /// per build when the connector declares [`Capabilities::partitions`]; the connector file's
    /// `partitions` selects among them by DN or name (none selected: the default partition,
    /// named by the empty string). Each import then runs once per selected partition, naming it
    /// in [`ImportRequest::partition`], and each export names the partition of its object in
    /// [`ExportRequest::partition`].
    fn partitions(&self, values: &ParameterValues) -> Result<Vec<Partition>, ConnectorError> {
        let _ = values;
        Ok(Vec::new())
    }

    /// The containers (organisational units, schemas) of `partition`. Called once per build
    /// and selected partition when the connector declares [`Capabilities::hierarchy`] and the
    /// connector file selects `containers`; imports of that partition then keep only the
    /// entries whose DN is inside a selected container.
    fn hierarchy(
        &self,
        values: &ParameterValues,
        partition: &Partition,
    ) -> Result<Vec<Container>, ConnectorError> {
        let _ = (values, partition);
        Ok(Vec::new())
    }

    /// Connect to the target and say whether that worked. The host calls it before it swaps a
    /// reloaded version in (a failure keeps the old version serving, and `/status` says
    /// why). At start-up the first full import is the connection test.
    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError>;

    /// Start an import run. The host runs a full import ([`ImportKind::Full`]) when the
    /// connector starts with an empty connector space, before a reload that cannot keep the
    /// old space, and on autosync (every `autosync_minutes`) unless a delta can run. A delta
    /// ([`ImportKind::Delta`]) runs on autosync when the run profiles ask for it, the
    /// connector declares [`Capabilities::delta_import`], and a watermark from an earlier run
    /// exists ([`ImportRequest::watermark`]). `page_size` is a hint (at least 500).
    ///
    /// A full import is the truth: objects it does not return are removed from the connector
    /// space (except those a SCIM request changed meanwhile). In a delta, report a deleted
    /// object as a `Delete` entry (anchor set), a changed one as `Replace` (all its values) or
    /// `Update` (changed attributes, value-level for multi-valued ones). Every entry carries
    /// its object type, anchor and DN; a multi-valued attribute comes as one change with one
    /// `Add` value per value (the host keeps them as a set). Entries of object types that are
    /// not configured are skipped.
    fn open_import(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError>;

    /// Open an export connection. The host opens one lazily for its first batch and reuses it
    /// for every later batch; it drops it (without [`ExportSession::close`]) when a batch
    /// fails as a whole, and opens a new one for the next. With
    /// [`Capabilities::concurrent_operations`] the host runs two sessions at once (changes to
    /// one object always stay in order); otherwise one. `request.export_type` is the one the
    /// connector declared, `batch_size` the connector file's `export_page_size` (default 100).
    fn open_export(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError>;

    /// Set a password. The host calls it when the connector file names a
    /// `password_attribute` (which requires [`Capabilities::passwords`]) and a SCIM request
    /// carries that attribute: right after the `Add` of a POST (if it fails, the host deletes
    /// the new object again and the POST fails), and for a PATCH or PUT that sends a password.
    /// `target` names the object by its anchor and DN; `options` are all off. The password is
    /// never stored, exported as an attribute, or logged; keep it out of your messages too.
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

    /// Change a password, proving the old one (ECMA2's `ChangePassword`). SCIM never carries
    /// the old password, so no SCIM request reaches this: the host never calls it. Implement
    /// it if your target distinguishes a user's own change from an administrator's reset (a
    /// tool or a future API may call it); otherwise keep the default ("not supported").
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
    /// The next page; `more == false` on the last one. The host calls it until then (a failed
    /// page fails the whole import) and applies each page before it asks for the next, so a
    /// connector holds one page at a time whatever the target's size.
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError>;

    /// End the run; returns the watermark to pass to the next delta import (empty: keep the
    /// previous one). The host keeps it in memory and in `data_dir/{connector}/watermark`
    /// (`watermark-{partition}` per selected partition), so a restart deltas on from it.
    fn close(&mut self) -> Result<String, ConnectorError>;
}

/// One export connection, reused for many batches.
pub trait ExportSession: Send {
    /// Apply a batch; return exactly one result per entry, naming its identifier (the host
    /// chooses identifiers; an entry without a result fails as `ConnectedDirectoryError`).
    ///
    /// A batch holds up to `batch_size` entries for different objects, coalesced from
    /// concurrent SCIM requests; apply them independently, so one failure fails only its entry.
    /// Each result's error decides the SCIM answer of its request: `ObjectAlreadyExists` 409
    /// `uniqueness`; `NoSuchObject` 404; `SyntaxViolation`, `InvalidDn` and
    /// `MissingAnchorComponent` 400 `invalidValue`; `Busy` 503 with `Retry-After: 5`;
    /// `ConnectedDirectoryError`, `PermissionIssue`, `CustomContinueRun` and `CustomStopRun`
    /// 500. A successful `Add` may return the anchor the target assigned (an identity column)
    /// in [`ExportResult::anchor`]. Return an error for the whole call only when nothing in the
    /// batch was applied: every entry of the batch then fails with it. The host changes its
    /// connector space only for entries that succeeded.
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError>;

    /// End the connection. The host does not call it today: it drops the session (so release
    /// resources in `Drop` too).
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
    let built = {
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
    };
    log.built();
    built
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
