//! The out-of-process mode (`isolation = "process"` in a connector file): the library runs in
//! a child process of the host binary (`ecmahost plugin-worker`), so a segfault, an abort or an
//! out-of-memory kill in native code ends only that worker.
//!
//! - `protocol.rs`: the frames on the Unix socket between host and worker.
//! - `worker.rs`: the child's side (load the library with the same `load_library` checks, call
//!   it, answer).
//! - `process.rs`: the host's handle on one child (spawn, calls, replies, log records, death).
//! - here: [`WorkerLibrary`], what the plugin loader hands the runtime instead of an in-process
//!   library, and [`RemoteConnector`], a [`Connector`] that forwards every call to a worker, so
//!   the rest of the host calls it through the same `PluginConnector` as any library.
//!
//! A worker that dies fails the calls in flight with a `Connection` error (503 with
//! `Retry-After` during a SCIM request); the next call starts a new worker. Every connector
//! instance (each reload builds one) has its own worker, ended when the instance is dropped: a
//! hot swap drains the old worker and ends it, and its memory returns to the system.

mod process;
pub mod protocol;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ecma_plugin_api::{
    Capabilities, ConfigPage, Connector, ConnectorError, Container, CsEntryChange, ExportRequest,
    ExportResult, ExportSession, ImportPage, ImportRequest, ImportSession, LogLevel,
    ParameterDefinition, ParameterIssue, ParameterValues, Partition, PasswordOptions,
    PasswordTarget, PluginConnector, PluginInfo, Schema, Secret,
};

pub use process::WorkerError;
use process::{WorkerProcess, WorkerSpec};
use protocol::{Answer, Request, SessionId};

fn unexpected(entry_point: &str, answer: Answer) -> ConnectorError {
    ConnectorError::other(format!(
        "the worker answered {entry_point} out of turn: {answer:?}"
    ))
}

/// Take the answer of the expected kind.
macro_rules! expect {
    ($result:expr, $entry:literal, $variant:ident) => {
        match $result? {
            Answer::$variant(value) => Ok(value),
            other => Err(unexpected($entry, other)),
        }
    };
    ($result:expr, $entry:literal) => {
        match $result? {
            Answer::Done => Ok(()),
            other => Err(unexpected($entry, other)),
        }
    };
}

/// The environment variable that names the program to run as a worker, for hosts embedded in
/// another binary (the integration tests); by default the running `ecmahost` itself.
pub const WORKER_EXE_ENV: &str = "ECMAHOST_WORKER_EXE";

/// How a connector's library runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Loaded into the host process (the default, and the fastest).
    #[default]
    InProcess,
    /// In a worker process of its own.
    Process,
}

/// `--log-level` of `ecmahost plugin-worker`.
pub fn level_name(level: Option<LogLevel>) -> &'static str {
    match level {
        None => "off",
        Some(LogLevel::Error) => "error",
        Some(LogLevel::Warn) => "warn",
        Some(LogLevel::Info) => "info",
        Some(LogLevel::Debug) => "debug",
        Some(LogLevel::Trace) => "trace",
    }
}

/// The inverse of [`level_name`].
pub fn parse_level(name: &str) -> Result<Option<LogLevel>, String> {
    Ok(Some(match name {
        "off" => return Ok(None),
        "error" => LogLevel::Error,
        "warn" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        other => return Err(format!("unknown log level {other:?}")),
    }))
}

/// A library loaded in a worker process: its name and version, and how to start workers.
#[derive(Clone)]
pub struct WorkerLibrary {
    spec: Arc<WorkerSpec>,
    info: PluginInfo,
    api: (u32, u32),
    /// The worker that answered the load, kept for the first connector instance.
    spare: Arc<Mutex<Option<Arc<WorkerProcess>>>>,
}

impl std::fmt::Debug for WorkerLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerLibrary")
            .field("info", &self.info)
            .field("library", &self.spec.library)
            .finish()
    }
}

impl WorkerLibrary {
    /// Start a worker for `library` (a cached copy) and check that it loads.
    pub fn start(library: &Path, connector: &str) -> Result<Self, WorkerError> {
        let exe = match std::env::var_os(WORKER_EXE_ENV) {
            Some(exe) => PathBuf::from(exe),
            None => std::env::current_exe().map_err(|source| WorkerError::Spawn {
                exe: PathBuf::from("ecmahost"),
                source,
            })?,
        };
        let spec = Arc::new(WorkerSpec {
            exe,
            library: library.to_path_buf(),
            connector: connector.to_string(),
            log_level: LogLevel::tracing_max(),
        });
        let (process, info, api) = WorkerProcess::start(&spec)?;
        Ok(Self {
            spec,
            info,
            api,
            spare: Arc::new(Mutex::new(Some(process))),
        })
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    pub fn api_version(&self) -> (u32, u32) {
        self.api
    }

    /// A connector instance with a worker of its own.
    pub fn new_connector(&self) -> Result<PluginConnector, ConnectorError> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
        let current = match spare {
            Some(process) => process,
            None => start_for_call(&self.spec)?,
        };
        Ok(PluginConnector::from_connector(RemoteConnector(Arc::new(
            Supervisor {
                spec: self.spec.clone(),
                current: Mutex::new(current),
            },
        ))))
    }
}

fn start_for_call(spec: &WorkerSpec) -> Result<Arc<WorkerProcess>, ConnectorError> {
    WorkerProcess::start(spec)
        .map(|(process, _, _)| process)
        .map_err(|e| ConnectorError::connection(e.to_string()))
}

/// A connector whose calls run in a worker process, restarted when it dies.
pub struct RemoteConnector(Arc<Supervisor>);

/// The worker of one connector instance, replaced when it ends.
struct Supervisor {
    spec: Arc<WorkerSpec>,
    current: Mutex<Arc<WorkerProcess>>,
}

impl RemoteConnector {
    fn call(&self, request: Request) -> Result<Answer, ConnectorError> {
        self.0.process()?.call(request)
    }
}

impl Supervisor {
    /// The live worker, starting a new one if the last one ended.
    fn process(&self) -> Result<Arc<WorkerProcess>, ConnectorError> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.has_ended() {
            *current = start_for_call(&self.spec)?;
        }
        Ok(current.clone())
    }

    /// Open an export session in the live worker.
    fn open_export(
        &self,
        open: &ExportOpen,
    ) -> Result<(Arc<WorkerProcess>, SessionId), ConnectorError> {
        let process = self.process()?;
        let request = Request::OpenExport {
            values: open.values.clone(),
            schema: open.schema.clone(),
            request: open.request.clone(),
        };
        let id = expect!(process.call(request), "open_export", Session)?;
        Ok((process, id))
    }
}

/// What an export session was opened with, to open it again on a new worker.
struct ExportOpen {
    values: ParameterValues,
    schema: Schema,
    request: ExportRequest,
}

impl Connector for RemoteConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "ecmahost worker proxy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "forwards every call to a worker process".into(),
        }
    }

    fn new() -> Result<Self, ConnectorError> {
        Err(ConnectorError::other(
            "a worker proxy is made by WorkerLibrary::new_connector",
        ))
    }

    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        let request = Request::ConfigParameters {
            page,
            values: values.clone(),
        };
        expect!(self.call(request), "config_parameters", Parameters)
    }

    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        let request = Request::ValidatePage {
            page,
            values: values.clone(),
        };
        expect!(self.call(request), "validate_page", Issues)
    }

    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        let request = Request::Capabilities(values.clone());
        expect!(self.call(request), "capabilities", Capabilities)
    }

    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        expect!(self.call(Request::Schema(values.clone())), "schema", Schema)
    }

    fn partitions(&self, values: &ParameterValues) -> Result<Vec<Partition>, ConnectorError> {
        let request = Request::Partitions(values.clone());
        expect!(self.call(request), "partitions", Partitions)
    }

    fn hierarchy(
        &self,
        values: &ParameterValues,
        partition: &Partition,
    ) -> Result<Vec<Container>, ConnectorError> {
        let request = Request::Hierarchy {
            values: values.clone(),
            partition: partition.clone(),
        };
        expect!(self.call(request), "hierarchy", Containers)
    }

    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        let request = Request::TestConnection(values.clone());
        expect!(self.call(request), "test_connection")
    }

    fn open_import(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        let process = self.0.process()?;
        let request = Request::OpenImport {
            values: values.clone(),
            schema: schema.clone(),
            request: request.clone(),
        };
        let id = expect!(process.call(request), "open_import", Session)?;
        Ok(Box::new(RemoteImport {
            process,
            id,
            open: true,
        }))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        schema: &Schema,
        request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        let open = ExportOpen {
            values: values.clone(),
            schema: schema.clone(),
            request: request.clone(),
        };
        let (process, id) = self.0.open_export(&open)?;
        Ok(Box::new(RemoteExport {
            supervisor: self.0.clone(),
            open,
            process,
            id,
            closed: false,
        }))
    }

    fn set_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        new_password: &Secret,
        options: PasswordOptions,
    ) -> Result<(), ConnectorError> {
        let request = Request::SetPassword {
            values: values.clone(),
            target: target.clone(),
            new_password: new_password.clone(),
            options,
        };
        expect!(self.call(request), "set_password")
    }

    fn change_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        old_password: &Secret,
        new_password: &Secret,
    ) -> Result<(), ConnectorError> {
        let request = Request::ChangePassword {
            values: values.clone(),
            target: target.clone(),
            old_password: old_password.clone(),
            new_password: new_password.clone(),
        };
        expect!(self.call(request), "change_password")
    }
}

/// An import session inside one worker. If that worker ends, the import fails.
struct RemoteImport {
    process: Arc<WorkerProcess>,
    id: SessionId,
    open: bool,
}

impl ImportSession for RemoteImport {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        expect!(
            self.process.call(Request::NextPage(self.id)),
            "next_page",
            Page
        )
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        self.open = false;
        let request = Request::CloseImport(self.id);
        expect!(self.process.call(request), "close (import)", Watermark)
    }
}

impl Drop for RemoteImport {
    fn drop(&mut self) {
        if self.open {
            self.process.notify(Request::DropSession(self.id));
        }
    }
}

/// An export session inside one worker. The host keeps an export session across batches, so
/// when its worker has ended since the last batch (a crash during another session's call), the
/// next batch opens a new session on the new worker instead of failing: nothing of it was sent.
struct RemoteExport {
    supervisor: Arc<Supervisor>,
    open: ExportOpen,
    process: Arc<WorkerProcess>,
    id: SessionId,
    closed: bool,
}

impl ExportSession for RemoteExport {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        if self.process.has_ended() {
            (self.process, self.id) = self.supervisor.open_export(&self.open)?;
        }
        let request = Request::PutExportEntries {
            session: self.id,
            batch,
        };
        expect!(self.process.call(request), "put_export_entries", Results)
    }

    fn close(&mut self) -> Result<(), ConnectorError> {
        self.closed = true;
        expect!(
            self.process.call(Request::CloseExport(self.id)),
            "close (export)"
        )
    }
}

impl Drop for RemoteExport {
    fn drop(&mut self) {
        if !self.closed {
            self.process.notify(Request::DropSession(self.id));
        }
    }
}
