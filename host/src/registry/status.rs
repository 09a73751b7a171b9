//! `/status`: each connector's state, library, partitions, import progress and reload
//! history, as JSON, and the readiness verdict `/readyz` and `/status` answer with.

use serde::Serialize;

use super::{ConnectorSlot, Registry};
use crate::connector::import::{FinishedImport, ImportStatus};
use crate::connector::Availability;

/// A connector's state, as `/status` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub file: String,
    /// `importing`, `ready`, `degraded` (calls to the target hang), `import_failed` or `failed`.
    pub state: &'static str,
    /// Plugin calls still running past their time-out.
    pub stuck_calls: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub objects: usize,
    pub imported_so_far: u64,
    /// The import running now: objects so far, rate, expected total and time left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportStatus>,
    /// The last import run that ended, with its error if it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_import: Option<FinishedImport>,
    /// The selected partitions' DNs (none: the connector's default partition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<String>,
    /// The selected containers' DNs (none: whole partitions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    pub plugin_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    pub versions_loaded: usize,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_swap_ms: Option<u64>,
}

impl Registry {
    /// Status of every connector, sorted by name.
    pub fn status(&self) -> Vec<ConnectorStatus> {
        let lifecycle = self.lifecycle.lock().clone();
        let connectors = self.connectors.read().clone();
        let mut out: Vec<ConnectorStatus> = lifecycle
            .iter()
            .map(|(k, l)| {
                let mut s = ConnectorStatus {
                    name: l.name.clone(),
                    file: l.file.display().to_string(),
                    state: "failed",
                    reason: None,
                    stuck_calls: 0,
                    objects: 0,
                    imported_so_far: 0,
                    import: None,
                    last_import: None,
                    partitions: Vec::new(),
                    containers: Vec::new(),
                    plugin_file: l.plugin.clone(),
                    plugin: None,
                    plugin_version: None,
                    content_hash: None,
                    versions_loaded: l.versions_loaded.len(),
                    reloads_ok: l.reloads_ok,
                    reloads_failed: l.reloads_failed,
                    last_reload_error: l.last_error.clone(),
                    last_swap_ms: l.last_swap_ms,
                };
                match connectors.get(k).map(|e| &e.slot) {
                    Some(ConnectorSlot::Running(r)) => {
                        s.stuck_calls = r.stuck_calls();
                        let (state, reason) = match r.availability() {
                            Availability::Ready if s.stuck_calls > 0 => (
                                "degraded",
                                Some(format!(
                                    "{} call(s) to the target did not finish within their time-out",
                                    s.stuck_calls
                                )),
                            ),
                            Availability::Ready => ("ready", None),
                            Availability::Importing => ("importing", None),
                            Availability::ImportFailed(reason) => ("import_failed", Some(reason)),
                        };
                        s.state = state;
                        s.reason = reason;
                        s.objects = r.object_count();
                        s.imported_so_far = r.imported_so_far();
                        s.import = r.import_progress();
                        s.last_import = r.last_import();
                        s.partitions = r.scope().partitions().map(|p| p.dn.clone()).collect();
                        s.containers = r.scope().containers().map(|c| c.dn.clone()).collect();
                        s.plugin = Some(r.library().library.info().name.clone());
                        s.plugin_version = Some(r.library().library.info().version.clone());
                        s.content_hash = Some(r.library().content_hash.clone());
                    }
                    Some(ConnectorSlot::Failed { reason, .. }) => s.reason = Some(reason.clone()),
                    None => s.reason = l.last_error.clone(),
                }
                s
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

impl ConnectorStatus {
    /// Whether the connector answers SCIM requests (`ready`, or `degraded`: it serves from its
    /// connector space while some calls to the target hang).
    pub fn serving(&self) -> bool {
        matches!(self.state, "ready" | "degraded")
    }

    /// Whether the connector cannot serve until an administrator acts (or a retry succeeds).
    pub fn failed(&self) -> bool {
        matches!(self.state, "failed" | "import_failed")
    }

    /// Why the connector is not serving, in one line, for `/readyz`.
    pub fn not_serving_reason(&self) -> Option<String> {
        if self.serving() {
            return None;
        }
        Some(match (&self.reason, self.state) {
            (Some(reason), state) => format!("{state}: {reason}"),
            (None, "importing") => format!(
                "importing: the first import has read {} object(s) so far",
                self.imported_so_far
            ),
            (None, state) => state.to_string(),
        })
    }
}
