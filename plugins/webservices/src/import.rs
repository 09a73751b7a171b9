//! Import runs: each object type's import flow runs as a task on the connector's runtime and
//! hands its entries through a bounded channel, so the connector holds about one page
//! whatever the service's size; `close` returns the watermarks the flows set.

use std::sync::Arc;

use ecma_plugin_api::{
    ConnectorError, CsEntryChange, ImportKind, ImportPage, ImportRequest, ImportSession,
    ParameterValues,
};
use ecma_ws_project::FlowKind;
use serde_json::{Map, Value as Json};
use tokio::sync::{mpsc, oneshot};

use crate::flow::FlowRun;
use crate::runtime::Executor;
use crate::service::Service;

pub(crate) struct WsImportSession {
    executor: Arc<Executor>,
    entries: mpsc::Receiver<CsEntryChange>,
    result: Option<oneshot::Receiver<Result<String, ConnectorError>>>,
    page_size: usize,
    watermark: String,
}

impl WsImportSession {
    pub(crate) fn open(
        executor: Arc<Executor>,
        service: Arc<Service>,
        parameters: ParameterValues,
        request: &ImportRequest,
    ) -> Result<Self, ConnectorError> {
        let page_size = if request.page_size == 0 {
            500
        } else {
            request.page_size
        };
        let (sink, entries) = mpsc::channel(page_size as usize);
        let (done, result) = oneshot::channel();
        let kind = match request.kind {
            ImportKind::Full => FlowKind::FullImport,
            ImportKind::Delta => FlowKind::DeltaImport,
        };
        let previous: Map<String, Json> =
            serde_json::from_str(&request.watermark).unwrap_or_default();
        executor.handle()?.spawn(async move {
            let outcome = run_flows(&service, &parameters, kind, page_size, &previous, sink).await;
            // The receiver is gone only when the session was dropped: nobody to tell.
            let _ = done.send(outcome);
        });
        Ok(Self {
            executor,
            entries,
            result: Some(result),
            page_size: page_size as usize,
            watermark: String::new(),
        })
    }
}

/// Every object type's flow of `kind`, in project order; the combined watermark.
async fn run_flows(
    service: &Service,
    parameters: &ParameterValues,
    kind: FlowKind,
    page_size: u32,
    previous: &Map<String, Json>,
    sink: mpsc::Sender<CsEntryChange>,
) -> Result<String, ConnectorError> {
    let mut watermarks = Map::new();
    for t in &service.project.object_types {
        // A delta reads a type without a delta flow whole, as upserts: its deletions wait for
        // the next full import.
        let (flow_kind, flow) = match (t.flows.get(kind), t.flows.get(FlowKind::FullImport)) {
            (Some(flow), _) => (kind, flow),
            (None, Some(full)) => (FlowKind::FullImport, full),
            (None, None) => continue,
        };
        let mut run = FlowRun::new(service, flow_kind, Some(t), parameters);
        run.delta = kind == FlowKind::DeltaImport;
        run.page_size = page_size;
        run.watermark = previous
            .get(&t.name)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        run.sink = Some(sink.clone());
        let outcome = run.run(&flow.steps).await.map_err(|e| {
            let e = e.connector_error();
            ConnectorError::new(
                e.kind,
                format!("{} of {}: {}", flow_kind.key(), t.name, e.message),
            )
        })?;
        let watermark = outcome.watermark.or_else(|| {
            previous
                .get(&t.name)
                .and_then(Json::as_str)
                .map(str::to_string)
        });
        if let Some(watermark) = watermark {
            watermarks.insert(t.name.clone(), Json::String(watermark));
        }
    }
    Ok(if watermarks.is_empty() {
        String::new()
    } else {
        Json::Object(watermarks).to_string()
    })
}

impl ImportSession for WsImportSession {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        let (entries, closed) = self.executor.block_on(async {
            let mut page = Vec::with_capacity(self.page_size);
            while page.len() < self.page_size {
                match self.entries.recv().await {
                    Some(entry) => page.push(entry),
                    None => return (page, true),
                }
            }
            (page, false)
        })?;
        if closed {
            if let Some(result) = self.result.take() {
                self.watermark = match self.executor.block_on(result)? {
                    Ok(outcome) => outcome?,
                    Err(_) => {
                        return Err(ConnectorError::other(
                            "the import flow stopped without a result",
                        ))
                    }
                };
            }
        }
        Ok(ImportPage {
            entries,
            more: !closed,
        })
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        Ok(std::mem::take(&mut self.watermark))
    }
}
