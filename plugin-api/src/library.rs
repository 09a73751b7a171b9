//! The host's side: load a connector library and call it through safe wrappers.
//!
//! [`load_library`] checks the ABI (abi_stable's header, layout and version checks) and the
//! API version the library reports. A library built for an older minor fails abi_stable's
//! layout check (its root module and vtables have fewer fields than the host's); it is accepted
//! when the check passes the other way round, and the host then calls only what it has. [`PluginConnector`] converts every call to and from the FFI
//! types. The same wrapper serves an in-process connector ([`PluginConnector::in_process`]), so
//! tests and the plugin test kit exercise exactly the path the host takes.
//!
//! abi_stable never unloads a library: a loaded library lives until the process exits. Callers
//! must give every version of a library its own path (see the host's plugin cache).

use std::path::{Path, PathBuf};

use std::sync::Arc;

use abi_stable::abi_stability::abi_checking::{
    check_layout_compatibility_with_globals, CheckingGlobals,
};
use abi_stable::library::{lib_header_from_path, LibHeader, LibraryError, RootModuleError};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RResult, RString};
use abi_stable::StableAbi;

use crate::convert::*;
use crate::ffi::*;
use crate::logging::{level_to_ffi, HostSink, LogLevel, LogSink, TracingLogSink};
use crate::model::*;
use crate::Connector;

/// Why a library could not be loaded. Each variant says what an administrator can do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("connector library {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("{path} is not a connector library: {detail}")]
    NotAPlugin { path: PathBuf, detail: String },
    #[error("connector library {path} is incompatible with this host (host API {host_major}.{host_minor}): {detail}")]
    Incompatible {
        path: PathBuf,
        host_major: u32,
        host_minor: u32,
        detail: String,
    },
    #[error("connector library {path} failed to initialise: {detail}")]
    InitFailed { path: PathBuf, detail: String },
}

/// A loaded connector library.
#[derive(Clone)]
pub struct PluginLibrary {
    module: ConnectorModuleRef,
    info: PluginInfo,
    api: (u32, u32),
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary")
            .field("info", &self.info)
            .field("api", &self.api)
            .finish()
    }
}

/// Load the library at `path` and check that it is a connector this host can drive.
///
/// The path must be unique to this version of the file: `dlopen` returns the already loaded
/// library for a path (or inode) it has seen, even if the file changed.
pub fn load_library(path: &Path) -> Result<PluginLibrary, LoadError> {
    if !path.is_file() {
        return Err(LoadError::NotFound {
            path: path.to_path_buf(),
        });
    }
    // dlopen searches the library path for a name without a '/': always pass an absolute path.
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let path = absolute.as_path();
    if let Some(detail) = truncated_elf(path) {
        return Err(LoadError::NotAPlugin {
            path: path.to_path_buf(),
            detail,
        });
    }
    let header = lib_header_from_path(path).map_err(|e| classify(path, e))?;
    let (module, older) = match header.init_root_module::<ConnectorModuleRef>() {
        Ok(module) => (module, false),
        Err(forward @ LibraryError::AbiInstability(_)) => (
            init_older_minor(header, forward).map_err(|e| classify(path, e))?,
            true,
        ),
        Err(e) => return Err(classify(path, e)),
    };
    let ffi_info = (module.info())();
    if older && ffi_info.api_minor > API_MINOR {
        return Err(LoadError::Incompatible {
            path: path.to_path_buf(),
            host_major: API_MAJOR,
            host_minor: API_MINOR,
            detail: format!(
                "library reports API {}.{} but has the layout of an older minor",
                ffi_info.api_major, ffi_info.api_minor
            ),
        });
    }
    if ffi_info.api_major != API_MAJOR {
        return Err(LoadError::Incompatible {
            path: path.to_path_buf(),
            host_major: API_MAJOR,
            host_minor: API_MINOR,
            detail: format!(
                "library was built for API {}.{}",
                ffi_info.api_major, ffi_info.api_minor
            ),
        });
    }
    let info = PluginInfo {
        name: ffi_info.name.to_string(),
        version: ffi_info.version.to_string(),
        description: ffi_info.description.to_string(),
    };
    Ok(PluginLibrary {
        module,
        info,
        api: (ffi_info.api_major, ffi_info.api_minor),
    })
}

/// Initialise a library whose layout failed abi_stable's check (`forward`), if it is an older
/// minor of this API: the same shared prefix, with fewer fields appended.
///
/// abi_stable's check is asymmetric: it accepts an implementation with more trailing prefix
/// fields than the interface and refuses one with fewer ("too many fields"), because it assumes
/// libraries are at least as new as their loader. Run with the library's layout as the
/// interface and the host's as the implementation, the same check accepts exactly the libraries
/// whose every shared field, type, package and version is compatible and which only lack
/// appended fields. The host reads such fields through `missing_field(option)` accessors and
/// `#[sabi_trait]` default bodies, which see that the library's prefix is shorter. Any other
/// mismatch fails both ways, and the forward error is the one reported.
fn init_older_minor(
    header: &'static LibHeader,
    forward: LibraryError,
) -> Result<ConnectorModuleRef, LibraryError> {
    let Some(library_layout) = header.layout() else {
        return Err(forward);
    };
    // Fresh globals: the reversed pair must not enter the process-wide map in which abi_stable
    // merges the prefix types it has checked (host layout first, library layout second).
    let reversed = check_layout_compatibility_with_globals(
        library_layout,
        <ConnectorModuleRef as StableAbi>::LAYOUT,
        &CheckingGlobals::new(),
    );
    if reversed.is_err() {
        return Err(forward);
    }
    // SAFETY: the layout check above passed with the roles swapped: the library's root module
    // is a prefix of the host's, with every shared field compatible. `ConnectorModuleRef`
    // reads the fields after that prefix as absent (the library's prefix metadata says how
    // many it has), and this still runs abi_stable's version-string check.
    unsafe { header.init_root_module_with_unchecked_layout::<ConnectorModuleRef>() }
}

/// Why an ELF file cannot be mapped safely, if it is cut short.
///
/// `dlopen` maps a library's loadable segments without comparing them with the file's size, then
/// touches the missing pages, and the kernel kills the whole process with SIGBUS: an interrupted
/// copy would take the host down. Files that are not ELF, or are malformed in other ways, are
/// left for `dlopen` to refuse cleanly.
fn truncated_elf(path: &Path) -> Option<String> {
    use object::elf::{FileHeader32, FileHeader64, PT_LOAD};
    use object::read::elf::{FileHeader, ProgramHeader};
    use object::{Endianness, FileKind};

    fn check<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<String> {
        let len = data.len() as u64;
        let header = H::parse(data).ok()?;
        let endian = header.endian().ok()?;
        let Ok(segments) = header.program_headers(endian, data) else {
            return Some(format!(
                "the file is truncated: it has {len} bytes, too few for its program headers"
            ));
        };
        segments
            .iter()
            .filter(|s| s.p_type(endian) == PT_LOAD)
            .map(|s| {
                s.p_offset(endian)
                    .into()
                    .saturating_add(s.p_filesz(endian).into())
            })
            .find(|end| *end > len)
            .map(|end| {
                format!("the file is truncated: it has {len} bytes but its segments need {end}")
            })
    }

    let data = std::fs::read(path).ok()?;
    match FileKind::parse(data.as_slice()).ok()? {
        FileKind::Elf64 => check::<FileHeader64<Endianness>>(&data),
        FileKind::Elf32 => check::<FileHeader32<Endianness>>(&data),
        _ => None,
    }
}

fn classify(path: &Path, e: LibraryError) -> LoadError {
    let path = path.to_path_buf();
    let detail = e.to_string();
    match e {
        LibraryError::OpenError { .. } | LibraryError::GetSymbolError { .. } => {
            LoadError::NotAPlugin { path, detail }
        }
        LibraryError::RootModule {
            err: RootModuleError::Unwound,
            ..
        } => LoadError::InitFailed {
            path,
            detail: "the library's initializer panicked".to_string(),
        },
        LibraryError::RootModule { .. } => LoadError::InitFailed { path, detail },
        _ => LoadError::Incompatible {
            path,
            host_major: API_MAJOR,
            host_minor: API_MINOR,
            detail,
        },
    }
}

impl PluginLibrary {
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// `(major, minor)` of the API the library was built against.
    pub fn api_version(&self) -> (u32, u32) {
        self.api
    }

    /// A new connector instance from this library.
    pub fn new_connector(&self) -> Result<PluginConnector, ConnectorError> {
        match (self.module.new_connector())() {
            RResult::ROk(inner) => Ok(PluginConnector { inner }),
            RResult::RErr(e) => Err(error_from_ffi(&e)),
        }
    }
}

fn lift<T, U>(r: FfiResult<T>, f: impl FnOnce(T) -> U) -> Result<U, ConnectorError> {
    match r {
        RResult::ROk(v) => Ok(f(v)),
        RResult::RErr(e) => Err(error_from_ffi(&e)),
    }
}

/// A connector instance, as the host calls it. Every call is synchronous and may block:
/// run it on a blocking thread.
pub struct PluginConnector {
    inner: FfiConnectorBox,
}

impl PluginConnector {
    /// Wrap an in-process connector behind the same FFI adapter a library export uses.
    pub fn in_process<C: Connector>() -> Result<Self, ConnectorError> {
        Ok(Self::from_connector(C::new()?))
    }

    /// Wrap an existing connector value behind the same FFI adapter (the host's proxy for a
    /// connector that runs in a worker process is one).
    pub fn from_connector<C: Connector>(connector: C) -> Self {
        Self {
            inner: FfiConnector_TO::from_value(crate::connector::adapter(connector), TD_Opaque),
        }
    }

    pub fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        lift(
            self.inner
                .config_parameters(page_to_ffi(&page), &values_to_ffi(values)),
            |d| d.iter().map(parameter_from_ffi).collect(),
        )
    }

    pub fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        lift(
            self.inner
                .validate_page(page_to_ffi(&page), &values_to_ffi(values)),
            |i| i.iter().map(issue_from_ffi).collect(),
        )
    }

    pub fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        lift(self.inner.capabilities(&values_to_ffi(values)), |c| {
            capabilities_from_ffi(&c)
        })
    }

    pub fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        lift(self.inner.schema(&values_to_ffi(values)), |s| {
            schema_from_ffi(&s)
        })
    }

    pub fn partitions(&self, values: &ParameterValues) -> Result<Vec<Partition>, ConnectorError> {
        lift(self.inner.partitions(&values_to_ffi(values)), |p| {
            p.iter().map(partition_from_ffi).collect()
        })
    }

    pub fn hierarchy(
        &self,
        values: &ParameterValues,
        partition: &Partition,
    ) -> Result<Vec<Container>, ConnectorError> {
        lift(
            self.inner
                .hierarchy(&values_to_ffi(values), &partition_to_ffi(partition)),
            |p| {
                p.iter()
                    .map(|c| Container {
                        name: c.name.to_string(),
                        dn: c.dn.to_string(),
                    })
                    .collect()
            },
        )
    }

    pub fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        lift(self.inner.test_connection(&values_to_ffi(values)), |_| ())
    }

    /// Receive this connector's log records at `max_level` or more severe in `sink` (API 1.1).
    /// Call it once, right after [`PluginLibrary::new_connector`]: records the connector logged
    /// while it was built are delivered then. A library built for API 1.0 has no log channel
    /// and answers `ErrorKind::NotSupported`; what it logs is lost, as it always was.
    pub fn attach_log(
        &self,
        sink: Arc<dyn LogSink>,
        max_level: LogLevel,
    ) -> Result<(), ConnectorError> {
        let sink = FfiLogSink_TO::from_ptr(RArc::new(HostSink(sink)), TD_Opaque);
        lift(
            self.inner.attach_log(sink, level_to_ffi(Some(max_level))),
            |_| (),
        )
    }

    /// Send this connector's log records to the host's `tracing` log, with `connector` as a
    /// field ([`TracingLogSink`]), at the most verbose level the current subscriber wants.
    /// Returns whether the library has a log channel (false for API 1.0 libraries, and when
    /// the subscriber wants nothing).
    pub fn log_to_tracing(&self, connector: &str) -> bool {
        LogLevel::tracing_max().is_some_and(|max_level| {
            self.attach_log(Arc::new(TracingLogSink::new(connector)), max_level)
                .is_ok()
        })
    }

    pub fn open_import(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ImportRequest,
    ) -> Result<PluginImportSession, ConnectorError> {
        let r = self.inner.open_import(
            &values_to_ffi(values),
            &schema_to_ffi(schema),
            import_request_to_ffi(request),
        );
        lift(r, |inner| PluginImportSession { inner })
    }

    pub fn open_export(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ExportRequest,
    ) -> Result<PluginExportSession, ConnectorError> {
        let r = self.inner.open_export(
            &values_to_ffi(values),
            &schema_to_ffi(schema),
            export_request_to_ffi(request),
        );
        lift(r, |inner| PluginExportSession { inner })
    }

    pub fn set_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        new_password: &Secret,
        options: PasswordOptions,
    ) -> Result<(), ConnectorError> {
        let r = self.inner.set_password(
            &values_to_ffi(values),
            &password_target_to_ffi(target),
            &RString::from(new_password.expose()),
            password_options_to_ffi(&options),
        );
        lift(r, |_| ())
    }

    pub fn change_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        old_password: &Secret,
        new_password: &Secret,
    ) -> Result<(), ConnectorError> {
        let r = self.inner.change_password(
            &values_to_ffi(values),
            &password_target_to_ffi(target),
            &RString::from(old_password.expose()),
            &RString::from(new_password.expose()),
        );
        lift(r, |_| ())
    }
}

/// An open import run.
pub struct PluginImportSession {
    inner: FfiImportSessionBox,
}

impl PluginImportSession {
    /// The next page. An entry with a modification code this host does not know fails the page.
    pub fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        match self.inner.next_page() {
            RResult::ROk(page) => Ok(ImportPage {
                entries: page
                    .entries
                    .iter()
                    .map(entry_from_ffi)
                    .collect::<Result<_, _>>()?,
                more: page.more,
            }),
            RResult::RErr(e) => Err(error_from_ffi(&e)),
        }
    }

    /// End the run and return the watermark for the next delta import.
    pub fn close(&mut self) -> Result<String, ConnectorError> {
        lift(self.inner.close(), |w| w.to_string())
    }
}

/// An open export connection.
pub struct PluginExportSession {
    inner: FfiExportSessionBox,
}

impl PluginExportSession {
    pub fn put_export_entries(
        &mut self,
        batch: &[CsEntryChange],
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        let ffi_batch = batch.iter().map(entry_to_ffi).collect();
        lift(self.inner.put_export_entries(ffi_batch), |r| {
            r.iter().map(export_result_from_ffi).collect()
        })
    }

    pub fn close(&mut self) -> Result<(), ConnectorError> {
        lift(self.inner.close(), |_| ())
    }
}
