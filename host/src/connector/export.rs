//! The export engine: turns single changes into plugin batches.
//!
//! Requests hand it one `CsEntryChange` each and wait for that entry's result. Workers take
//! whatever is queued, up to the export page size, and send it to the plugin as one
//! `put_export_entries` call, so concurrent requests for different objects coalesce into one
//! batch (one transaction in the SQL connector). Each worker keeps its export session open
//! across batches and reopens it after a failed call.
//!
//! Each entry's request names the partition of its object ([`Scope::export_partition`]): a
//! batch holds entries of one partition, and a worker keeps one session per partition.
//!
//! Ordering per object is the caller's job (the runtime serialises changes to one object), so
//! one batch never holds two changes to the same object.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ecma_plugin_api::{
    ConnectorError, CsEntryChange, ExportErrorKind, ExportRequest, ExportResult, ParameterValues,
    PluginConnector, PluginExportSession, Schema,
};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::calls::{CallError, PluginCalls};
use super::partitions::Scope;

struct Job {
    entry: CsEntryChange,
    reply: oneshot::Sender<Result<ExportResult, CallError>>,
}

/// Everything a worker needs to open sessions and call the plugin.
#[derive(Clone)]
pub struct ExportContext {
    pub connector: String,
    pub plugin: Arc<PluginConnector>,
    pub calls: PluginCalls,
    pub parameters: Arc<ParameterValues>,
    pub schema: Arc<Schema>,
    /// The request for every session; its partition is set per batch from `scope`.
    pub request: ExportRequest,
    pub scope: Arc<Scope>,
    pub metrics: crate::metrics::ConnectorMetrics,
}

pub struct ExportEngine {
    queue: mpsc::Sender<Job>,
    next_id: AtomicU64,
}

impl ExportEngine {
    /// Start `workers` workers (at least one) on the current runtime.
    pub fn start(context: ExportContext, workers: usize) -> Self {
        let batch = context.request.batch_size.max(1) as usize;
        let (queue, receiver) = mpsc::channel(batch * workers.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            tokio::spawn(worker(context.clone(), receiver.clone(), batch));
        }
        Self {
            queue,
            next_id: AtomicU64::new(1),
        }
    }

    /// Export one change and wait for its result. The entry's identifier is replaced by one
    /// unique within this engine.
    pub async fn export(&self, mut entry: CsEntryChange) -> Result<ExportResult, CallError> {
        entry.identifier = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (reply, result) = oneshot::channel();
        let closed =
            || CallError::Connector(ConnectorError::other("the export engine has stopped"));
        self.queue
            .send(Job { entry, reply })
            .await
            .map_err(|_| closed())?;
        result.await.map_err(|_| closed())?
    }
}

async fn worker(
    context: ExportContext,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    batch_size: usize,
) {
    let mut sessions: HashMap<String, PluginExportSession> = HashMap::new();
    loop {
        let jobs = {
            let mut rx = receiver.lock().await;
            let Some(first) = rx.recv().await else { return };
            let mut jobs = vec![first];
            while jobs.len() < batch_size {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        // One plugin batch per partition, in the order partitions first appear.
        let mut batches: Vec<(String, Vec<Job>)> = Vec::new();
        for job in jobs {
            let partition = context.scope.export_partition(&job.entry.dn).to_string();
            match batches.iter_mut().find(|(p, _)| *p == partition) {
                Some((_, batch)) => batch.push(job),
                None => batches.push((partition, vec![job])),
            }
        }
        for (partition, jobs) in batches {
            let open = sessions.remove(&partition);
            if let Some(session) = export_batch(&context, &partition, open, jobs).await {
                sessions.insert(partition, session);
            }
        }
    }
}

/// Send one partition's batch, opening a session if there is none. Returns the session to
/// keep, or `None` after a failed call (the next batch reopens it).
async fn export_batch(
    context: &ExportContext,
    partition: &str,
    open: Option<PluginExportSession>,
    jobs: Vec<Job>,
) -> Option<PluginExportSession> {
    let (entries, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.entry, j.reply)).unzip();
    let ids: Vec<String> = entries.iter().map(|e| e.identifier.clone()).collect();
    context.metrics.export_batch(ids.len());
    let ctx = context.clone();
    let request = ExportRequest {
        partition: partition.to_string(),
        ..context.request.clone()
    };
    let outcome = context
        .calls
        .run("put_export_entries", move || {
            let mut s = match open {
                Some(s) => s,
                None => ctx
                    .plugin
                    .open_export(&ctx.parameters, &ctx.schema, &request)?,
            };
            let results = s.put_export_entries(&entries)?;
            Ok((s, results))
        })
        .await;
    match outcome {
        Ok((s, results)) => {
            let mut by_id: HashMap<String, ExportResult> = results
                .into_iter()
                .map(|r| (r.identifier.clone(), r))
                .collect();
            for (id, reply) in ids.into_iter().zip(replies) {
                let result = by_id.remove(&id).unwrap_or_else(|| {
                    ExportResult::failure(
                        id,
                        ExportErrorKind::ConnectedDirectoryError,
                        "the connector returned no result for this entry",
                    )
                });
                context.metrics.export_result(result_label(&result));
                let _ = reply.send(Ok(result));
            }
            Some(s)
        }
        Err(e) => {
            tracing::warn!(connector = %context.connector, partition, error = %e, batch = ids.len(), "export batch failed");
            for reply in replies {
                context.metrics.export_result("call_failed");
                let _ = reply.send(Err(e.clone()));
            }
            None
        }
    }
}

/// The metrics label of one entry's result: `success` or the export error code.
fn result_label(result: &ExportResult) -> &'static str {
    result
        .error
        .as_ref()
        .map_or("success", |e| crate::metrics::export_code(e.kind))
}
