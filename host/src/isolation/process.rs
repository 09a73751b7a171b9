//! One worker process, seen from the host: spawn it, send it calls, route its replies and log
//! records, notice when it ends, and end it when the host no longer needs it.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ecma_plugin_api::{ConnectorError, LogLevel, LogSink, PluginInfo, TracingLogSink};

use super::protocol::{read_frame, write_frame, Answer, FromWorker, Request};

/// How long a new worker has to connect and load its library.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a worker could not be started. Each names the program or the library at fault.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot start the worker process {exe}: {source}")]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("the worker process {exe} did not connect within {secs} s{exited}")]
    NoConnect {
        exe: PathBuf,
        secs: u64,
        exited: String,
    },
    #[error("the worker process could not load {library}: {detail}")]
    Load { library: PathBuf, detail: String },
    #[error("the worker process for {library} broke the protocol: {detail}")]
    Protocol { library: PathBuf, detail: String },
}

/// What every worker of one connector library is started with.
#[derive(Debug)]
pub struct WorkerSpec {
    /// The `ecmahost` binary (`plugin-worker` is one of its commands).
    pub exe: PathBuf,
    /// The immutable cached copy of the library.
    pub library: PathBuf,
    /// The connector's name, for the log.
    pub connector: String,
    pub log_level: Option<LogLevel>,
}

/// A started worker, with the name and API version its library reported.
pub type Started = (Arc<WorkerProcess>, PluginInfo, (u32, u32));

type Waiter = mpsc::SyncSender<Result<Answer, ConnectorError>>;

/// Calls waiting for their reply, and why the worker ended once it has.
#[derive(Default)]
struct Calls {
    waiting: HashMap<u64, Waiter>,
    ended: Option<String>,
}

/// A running worker. Dropping it ends the process (after the last session is dropped too).
pub struct WorkerProcess {
    pid: u32,
    child: Arc<Mutex<Child>>,
    writer: Mutex<BufWriter<UnixStream>>,
    calls: Arc<Mutex<Calls>>,
    next_id: AtomicU64,
    connector: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WorkerProcess {
    /// Start a worker for `spec` and wait until its library is loaded.
    pub fn start(spec: &WorkerSpec) -> Result<Started, WorkerError> {
        let exe_err = |source| WorkerError::Spawn {
            exe: spec.exe.clone(),
            source,
        };
        // A private folder (mode 0700) for the socket: only this user can connect to it.
        let dir = tempfile::Builder::new()
            .prefix("ecmahost-worker-")
            .tempdir()
            .map_err(exe_err)?;
        let socket = dir.path().join("socket");
        let listener = UnixListener::bind(&socket).map_err(exe_err)?;
        listener.set_nonblocking(true).map_err(exe_err)?;
        let mut child = Command::new(&spec.exe)
            .arg("plugin-worker")
            .arg("--library")
            .arg(&spec.library)
            .arg("--socket")
            .arg(&socket)
            .arg("--log-level")
            .arg(super::level_name(spec.log_level))
            .stdin(Stdio::null())
            .spawn()
            .map_err(exe_err)?;
        let stream = match accept(&listener, &mut child) {
            Ok(stream) => stream,
            Err(exited) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(WorkerError::NoConnect {
                    exe: spec.exe.clone(),
                    secs: START_TIMEOUT.as_secs(),
                    exited,
                });
            }
        };
        drop(dir);
        let protocol = |detail: String| WorkerError::Protocol {
            library: spec.library.clone(),
            detail,
        };
        let _ = stream.set_read_timeout(Some(START_TIMEOUT));
        let reader = stream.try_clone().map_err(|e| protocol(e.to_string()))?;
        let mut input = BufReader::new(reader);
        let first = read_frame::<FromWorker>(&mut input);
        let (info, api) = match first {
            Ok(Some(FromWorker::Ready { info, api })) => (info, api),
            Ok(Some(FromWorker::LoadFailed(detail))) => {
                let _ = child.wait();
                return Err(WorkerError::Load {
                    library: spec.library.clone(),
                    detail,
                });
            }
            other => {
                let _ = child.kill();
                let status = child.wait().ok();
                return Err(protocol(match other {
                    Err(e) => e.to_string(),
                    _ => format!(
                        "it sent no greeting and {}",
                        status.map_or("did not end".into(), describe)
                    ),
                }));
            }
        };
        let _ = stream.set_read_timeout(None);
        let pid = child.id();
        let process = Arc::new(Self {
            pid,
            child: Arc::new(Mutex::new(child)),
            writer: Mutex::new(BufWriter::new(stream)),
            calls: Arc::new(Mutex::new(Calls::default())),
            next_id: AtomicU64::new(1),
            connector: spec.connector.clone(),
        });
        let (calls, child, connector) = (
            process.calls.clone(),
            process.child.clone(),
            spec.connector.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("worker-{pid}"))
            .spawn(move || read_replies(input, calls, child, connector, pid));
        if let Err(e) = spawned {
            return Err(protocol(format!("cannot start its reader thread: {e}")));
        }
        tracing::info!(connector = %spec.connector, pid, library = %spec.library.display(), plugin = %info.name, "started a connector worker process");
        Ok((process, info, api))
    }

    /// Whether the process has ended (it crashed, or its socket broke).
    pub fn has_ended(&self) -> bool {
        lock(&self.calls).ended.is_some()
    }

    /// Make one call and wait for its reply. A worker that ends first fails the call with a
    /// `Connection` error (503 with `Retry-After` during a SCIM request).
    pub fn call(&self, request: Request) -> Result<Answer, ConnectorError> {
        let entry_point = request.entry_point();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut calls = lock(&self.calls);
            if let Some(why) = &calls.ended {
                return Err(ended_error(entry_point, why));
            }
            calls.waiting.insert(id, tx);
        }
        if let Err(e) = write_frame(&mut *lock(&self.writer), &(id, request)) {
            lock(&self.calls).waiting.remove(&id);
            return Err(ended_error(
                entry_point,
                &format!("its socket failed ({e})"),
            ));
        }
        match rx.recv() {
            Ok(result) => result,
            Err(_) => Err(ended_error(entry_point, "it ended")),
        }
    }

    /// Send a call that has no reply (dropping a session); errors are ignored.
    pub fn notify(&self, request: Request) {
        if !self.has_ended() {
            let _ = write_frame(&mut *lock(&self.writer), &(0u64, request));
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        lock(&self.calls).ended = Some("the host stopped it".into());
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
        tracing::info!(connector = %self.connector, pid = self.pid, "stopped a connector worker process");
    }
}

fn ended_error(entry_point: &str, why: &str) -> ConnectorError {
    ConnectorError::connection(format!(
        "the connector's worker process ended during {entry_point}: {why}; the next call starts a new one"
    ))
}

/// Wait for the worker to connect, or say why it did not (it exited, or the time ran out).
fn accept(listener: &UnixListener, child: &mut Child) -> Result<UnixStream, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                return stream
                    .set_nonblocking(false)
                    .map(|_| stream)
                    .map_err(|e| format!(": {e}"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!(": {e}")),
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(": it {}", describe(status)));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(String::new())
}

/// "exited with code 3", "was killed by signal 11 (SIGSEGV)".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                6 => " (SIGABRT)",
                9 => " (SIGKILL: out of memory, or killed)",
                11 => " (SIGSEGV)",
                7 => " (SIGBUS)",
                4 => " (SIGILL)",
                8 => " (SIGFPE)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
        (None, None) => "ended".into(),
    }
}

/// The reader thread: hand each reply to its caller, log each record, and when the socket
/// ends, fail every waiting call and say how the process ended.
fn read_replies(
    mut input: BufReader<UnixStream>,
    calls: Arc<Mutex<Calls>>,
    child: Arc<Mutex<Child>>,
    connector: String,
    pid: u32,
) {
    let log = TracingLogSink::new(connector.clone());
    let broke = loop {
        match read_frame::<FromWorker>(&mut input) {
            Ok(Some(FromWorker::Reply { id, result })) => {
                if let Some(waiter) = lock(&calls).waiting.remove(&id) {
                    let _ = waiter.send(result);
                }
            }
            Ok(Some(FromWorker::Log(record))) => log.log(record),
            Ok(Some(_)) => {}
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    if lock(&calls).ended.is_some() {
        return; // The host stopped it.
    }
    let status = wait_briefly(&child);
    let why = match (status, broke) {
        (Some(status), _) => format!("the process {}", describe(status)),
        (None, Some(e)) => format!("its socket broke ({e})"),
        (None, None) => "it closed its socket".into(),
    };
    tracing::warn!(connector = %connector, pid, "connector worker process ended: {why}; calls in flight fail with 503, the next call starts a new worker");
    let mut calls = lock(&calls);
    calls.ended = Some(why.clone());
    for (_, waiter) in calls.waiting.drain() {
        let _ = waiter.send(Err(ConnectorError::connection(format!(
            "the connector's worker process ended: {why}; the next call starts a new one"
        ))));
    }
}

/// The exit status of a worker whose socket closed, killing it if it lingers.
fn wait_briefly(child: &Mutex<Child>) -> Option<ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut child = lock(child);
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {}
            Ok(None) => {
                let _ = child.kill();
                return child.wait().ok();
            }
            Err(_) => return None,
        }
        drop(child);
        std::thread::sleep(Duration::from_millis(10));
    }
}
