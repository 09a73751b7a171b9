//! The worker's side (`ecmahost plugin-worker`): load one library, make one connector, and
//! answer the host's calls on the socket until the host goes away.
//!
//! Each call runs on its own thread, so a slow call never holds up the others (the host bounds
//! how many are in flight with the connector's `max_concurrent_calls`). Import and export
//! sessions live here, by id, until the host closes or drops them.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ecma_plugin_api::{
    load_library, ConnectorError, LogLevel, LogRecord, LogSink, PluginConnector,
    PluginExportSession, PluginImportSession,
};

use super::protocol::{read_frame, write_frame, Answer, FromWorker, Request, SessionId};

/// The socket's writing half, shared by the call threads and the log sink.
#[derive(Clone)]
struct Outbox(Arc<Mutex<BufWriter<UnixStream>>>);

impl Outbox {
    fn send(&self, frame: &FromWorker) -> io::Result<()> {
        let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
        write_frame(&mut *out, frame)
    }
}

/// Sends the connector's log records to the host, which logs them as its own.
struct ForwardLog(Outbox);

impl LogSink for ForwardLog {
    fn log(&self, record: LogRecord) {
        let _ = self.0.send(&FromWorker::Log(record));
    }
}

enum Session {
    Import(PluginImportSession),
    Export(PluginExportSession),
}

struct Worker {
    connector: PluginConnector,
    sessions: Mutex<HashMap<SessionId, Arc<Mutex<Session>>>>,
    next_session: Mutex<SessionId>,
}

/// Run a worker: connect to `socket`, load `library`, then serve calls until the host closes
/// the socket. Returns the process's exit code.
pub fn run(library: &Path, socket: &Path, log_level: Option<LogLevel>) -> i32 {
    let stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "ecmahost plugin-worker: cannot connect to {}: {e}",
                socket.display()
            );
            return 2;
        }
    };
    let reader = match stream.try_clone() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ecmahost plugin-worker: {e}");
            return 2;
        }
    };
    let outbox = Outbox(Arc::new(Mutex::new(BufWriter::new(stream))));
    let connector = match load(library) {
        Ok((connector, info, api)) => {
            if outbox.send(&FromWorker::Ready { info, api }).is_err() {
                return 2;
            }
            if let Some(level) = log_level {
                // After the greeting, which must be the first frame. A 1.0 library has no log
                // channel; what it logs is lost, as in process.
                let _ = connector.attach_log(Arc::new(ForwardLog(outbox.clone())), level);
            }
            connector
        }
        Err(message) => {
            let _ = outbox.send(&FromWorker::LoadFailed(message));
            return 3;
        }
    };
    let worker = Arc::new(Worker {
        connector,
        sessions: Mutex::new(HashMap::new()),
        next_session: Mutex::new(1),
    });
    let mut input = BufReader::new(reader);
    loop {
        match read_frame::<(u64, Request)>(&mut input) {
            Ok(Some((id, request))) => {
                if let Request::DropSession(session) = request {
                    worker.forget(session);
                    continue;
                }
                let (worker, replies) = (worker.clone(), outbox.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("call-{id}"))
                    .spawn(move || {
                        let result = worker.call(request);
                        let _ = replies.send(&FromWorker::Reply { id, result });
                    });
                if let Err(e) = spawned {
                    let result = Err(ConnectorError::new(
                        ecma_plugin_api::ErrorKind::Busy,
                        format!("the worker cannot start a thread for the call: {e}"),
                    ));
                    let _ = outbox.send(&FromWorker::Reply { id, result });
                }
            }
            // The host closed the socket (it dropped this connector or is exiting).
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("ecmahost plugin-worker: bad frame from the host: {e}");
                return 2;
            }
        }
    }
}

fn load(
    library: &Path,
) -> Result<(PluginConnector, ecma_plugin_api::PluginInfo, (u32, u32)), String> {
    let library = load_library(library).map_err(|e| e.to_string())?;
    let connector = library
        .new_connector()
        .map_err(|e| format!("the library cannot create a connector: {e}"))?;
    Ok((connector, library.info().clone(), library.api_version()))
}

impl Worker {
    fn call(&self, request: Request) -> Result<Answer, ConnectorError> {
        let c = &self.connector;
        Ok(match request {
            Request::ConfigParameters { page, values } => {
                Answer::Parameters(c.config_parameters(page, &values)?)
            }
            Request::ValidatePage { page, values } => {
                Answer::Issues(c.validate_page(page, &values)?)
            }
            Request::Capabilities(values) => Answer::Capabilities(c.capabilities(&values)?),
            Request::Schema(values) => Answer::Schema(c.schema(&values)?),
            Request::Partitions(values) => Answer::Partitions(c.partitions(&values)?),
            Request::Hierarchy { values, partition } => {
                Answer::Containers(c.hierarchy(&values, &partition)?)
            }
            Request::TestConnection(values) => {
                c.test_connection(&values)?;
                Answer::Done
            }
            Request::OpenImport {
                values,
                schema,
                request,
            } => {
                let session = c.open_import(&values, &schema, &request)?;
                Answer::Session(self.keep(Session::Import(session)))
            }
            Request::OpenExport {
                values,
                schema,
                request,
            } => {
                let session = c.open_export(&values, &schema, &request)?;
                Answer::Session(self.keep(Session::Export(session)))
            }
            Request::NextPage(id) => match &mut *self.session(id)?.lock() {
                Session::Import(s) => Answer::Page(s.next_page()?),
                Session::Export(_) => return Err(wrong_session(id)),
            },
            Request::CloseImport(id) => {
                let session = self.session(id)?;
                self.forget(id);
                let mut session = session.lock();
                match &mut *session {
                    Session::Import(s) => Answer::Watermark(s.close()?),
                    Session::Export(_) => return Err(wrong_session(id)),
                }
            }
            Request::PutExportEntries { session, batch } => {
                match &mut *self.session(session)?.lock() {
                    Session::Export(s) => Answer::Results(s.put_export_entries(&batch)?),
                    Session::Import(_) => return Err(wrong_session(session)),
                }
            }
            Request::CloseExport(id) => {
                let session = self.session(id)?;
                self.forget(id);
                let mut session = session.lock();
                match &mut *session {
                    Session::Export(s) => {
                        s.close()?;
                        Answer::Done
                    }
                    Session::Import(_) => return Err(wrong_session(id)),
                }
            }
            Request::DropSession(id) => {
                self.forget(id);
                Answer::Done
            }
            Request::SetPassword {
                values,
                target,
                new_password,
                options,
            } => {
                c.set_password(&values, &target, &new_password, options)?;
                Answer::Done
            }
            Request::ChangePassword {
                values,
                target,
                old_password,
                new_password,
            } => {
                c.change_password(&values, &target, &old_password, &new_password)?;
                Answer::Done
            }
        })
    }

    fn keep(&self, session: Session) -> SessionId {
        let mut next = self.next_session.lock().unwrap_or_else(|p| p.into_inner());
        let id = *next;
        *next += 1;
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(Mutex::new(session)));
        id
    }

    /// The session, locked for this call (the host never calls one session concurrently).
    fn session(&self, id: SessionId) -> Result<SessionGuard, ConnectorError> {
        let session = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
            .ok_or_else(|| ConnectorError::other(format!("the worker has no session {id}")))?;
        Ok(SessionGuard(session))
    }

    fn forget(&self, id: SessionId) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
}

/// A session held for one call.
struct SessionGuard(Arc<Mutex<Session>>);

impl SessionGuard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Session> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn wrong_session(id: SessionId) -> ConnectorError {
    ConnectorError::other(format!("session {id} is not of the kind this call needs"))
}
