//! The messages between the host and a worker process, and their framing on the socket.
//!
//! Both ends are the same `ecmahost` binary, so the format is private: postcard-encoded serde
//! values of the plugin API's plain types, each frame prefixed by its length (4 bytes, little
//! endian). The host sends `(id, Request)`; the worker answers each id once with a `Reply`, and
//! sends `Log` records whenever the connector logs.

use std::io::{self, Read, Write};

use ecma_plugin_api::{
    Capabilities, ConfigPage, ConnectorError, Container, CsEntryChange, ExportRequest,
    ExportResult, ImportPage, ImportRequest, LogRecord, ParameterDefinition, ParameterIssue,
    ParameterValues, Partition, PasswordOptions, PasswordTarget, PluginInfo, Schema, Secret,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The largest frame either side accepts (an export batch or an import page fits many times).
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

/// An import or export session inside the worker.
pub type SessionId = u64;

/// One call of the plugin API, as the host asks the worker to make it.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    ConfigParameters {
        page: ConfigPage,
        values: ParameterValues,
    },
    ValidatePage {
        page: ConfigPage,
        values: ParameterValues,
    },
    Capabilities(ParameterValues),
    Schema(ParameterValues),
    Partitions(ParameterValues),
    Hierarchy {
        values: ParameterValues,
        partition: Partition,
    },
    TestConnection(ParameterValues),
    OpenImport {
        values: ParameterValues,
        schema: Schema,
        request: ImportRequest,
    },
    NextPage(SessionId),
    CloseImport(SessionId),
    OpenExport {
        values: ParameterValues,
        schema: Schema,
        request: ExportRequest,
    },
    PutExportEntries {
        session: SessionId,
        batch: Vec<CsEntryChange>,
    },
    CloseExport(SessionId),
    /// Forget a session the host dropped (no answer).
    DropSession(SessionId),
    SetPassword {
        values: ParameterValues,
        target: PasswordTarget,
        new_password: Secret,
        options: PasswordOptions,
    },
    ChangePassword {
        values: ParameterValues,
        target: PasswordTarget,
        old_password: Secret,
        new_password: Secret,
    },
}

impl Request {
    /// The entry point's name, for messages.
    pub fn entry_point(&self) -> &'static str {
        match self {
            Request::ConfigParameters { .. } => "config_parameters",
            Request::ValidatePage { .. } => "validate_page",
            Request::Capabilities(_) => "capabilities",
            Request::Schema(_) => "schema",
            Request::Partitions(_) => "partitions",
            Request::Hierarchy { .. } => "hierarchy",
            Request::TestConnection(_) => "test_connection",
            Request::OpenImport { .. } => "open_import",
            Request::NextPage(_) => "next_page",
            Request::CloseImport(_) => "close (import)",
            Request::OpenExport { .. } => "open_export",
            Request::PutExportEntries { .. } => "put_export_entries",
            Request::CloseExport(_) => "close (export)",
            Request::DropSession(_) => "drop session",
            Request::SetPassword { .. } => "set_password",
            Request::ChangePassword { .. } => "change_password",
        }
    }
}

/// What a successful call returned.
#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    Parameters(Vec<ParameterDefinition>),
    Issues(Vec<ParameterIssue>),
    Capabilities(Capabilities),
    Schema(Schema),
    Partitions(Vec<Partition>),
    Containers(Vec<Container>),
    Done,
    Session(SessionId),
    Page(ImportPage),
    Watermark(String),
    Results(Vec<ExportResult>),
}

/// A frame from the worker to the host.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// The first frame: the library loaded and a connector instance exists.
    Ready {
        info: PluginInfo,
        api: (u32, u32),
    },
    /// The first frame when the library could not be loaded or instantiated; the worker exits.
    LoadFailed(String),
    Reply {
        id: u64,
        result: Result<Answer, ConnectorError>,
    },
    Log(LogRecord),
}

/// Write one frame.
pub fn write_frame<T: Serialize>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let bytes = postcard::to_stdvec(value).map_err(io::Error::other)?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|len| *len as usize <= MAX_FRAME)
        .ok_or_else(|| {
            io::Error::other(format!("a frame of {} bytes is too large", bytes.len()))
        })?;
    let mut frame = Vec::with_capacity(4 + bytes.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&bytes);
    out.write_all(&frame)?;
    out.flush()
}

/// Read one frame; `Ok(None)` at a clean end of the stream.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!(
            "a frame of {len} bytes is larger than the {MAX_FRAME}-byte limit"
        )));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    postcard::from_bytes(&bytes)
        .map(Some)
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecma_plugin_api::{ErrorKind, ObjectModification};

    #[test]
    fn frames_round_trip_the_plain_types() {
        let entry = CsEntryChange {
            object_type: "User".into(),
            modification: ObjectModification::Add,
            dn: "uid=a,dc=example".into(),
            identifier: "1".into(),
            anchor: Vec::new(),
            changes: Vec::new(),
        };
        let mut values = ParameterValues::new();
        values.insert("host", "db");
        values.insert_secret("password", "s3cret");
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &(
                7u64,
                Request::PutExportEntries {
                    session: 3,
                    batch: vec![entry.clone()],
                },
            ),
        )
        .unwrap();
        write_frame(&mut buf, &Request::TestConnection(values.clone())).unwrap();
        let reply = FromWorker::Reply {
            id: 7,
            result: Err(ConnectorError::new(ErrorKind::Connection, "down")),
        };
        write_frame(&mut buf, &reply).unwrap();
        let mut input = buf.as_slice();
        let (id, request): (u64, Request) = read_frame(&mut input).unwrap().unwrap();
        assert_eq!(id, 7);
        match request {
            Request::PutExportEntries { session, batch } => {
                assert_eq!(session, 3);
                assert_eq!(batch, vec![entry]);
            }
            other => panic!("unexpected {other:?}"),
        }
        match read_frame::<Request>(&mut input).unwrap().unwrap() {
            Request::TestConnection(v) => assert_eq!(v, values),
            other => panic!("unexpected {other:?}"),
        }
        match read_frame::<FromWorker>(&mut input).unwrap().unwrap() {
            FromWorker::Reply { id: 7, result } => {
                assert_eq!(result.unwrap_err().kind, ErrorKind::Connection)
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(read_frame::<FromWorker>(&mut input).unwrap().is_none());
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        let err = read_frame::<FromWorker>(&mut input).unwrap_err();
        assert!(err.to_string().contains("limit"), "{err}");
    }
}
