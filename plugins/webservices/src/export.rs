//! Export: each entry of a batch runs its object type's flow (add, replace or delete),
//! several at once, and gets its own result: success with the anchors the flow assigned, or
//! the export error code its failure maps to. Passwords and the connection test run flows too.

use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, ConnectorError, CsEntryChange, ExportResult, ExportSession,
    ObjectModification, ParameterValues, PasswordTarget, Secret,
};
use ecma_ws_project::{FlowKind, ObjectType};
use futures_util::stream::{self, StreamExt};

use crate::error::WsError;
use crate::flow::FlowRun;
use crate::runtime::Executor;
use crate::service::Service;
use crate::values::{self, FlowObject};

/// Entries of one batch in flight at once.
const CONCURRENT_ENTRIES: usize = 16;

pub(crate) struct WsExportSession {
    pub executor: Arc<Executor>,
    pub service: Arc<Service>,
    pub parameters: ParameterValues,
}

impl ExportSession for WsExportSession {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        let (service, parameters) = (&self.service, &self.parameters);
        self.executor.block_on(
            stream::iter(batch)
                .map(|entry| export_one(service, parameters, entry))
                .buffered(CONCURRENT_ENTRIES)
                .collect::<Vec<_>>(),
        )
    }
}

async fn export_one(
    service: &Service,
    parameters: &ParameterValues,
    entry: CsEntryChange,
) -> ExportResult {
    match run_export(service, parameters, &entry).await {
        Ok(anchor) => ExportResult {
            anchor,
            ..ExportResult::success(entry.identifier)
        },
        Err(e) => {
            let (kind, message) = e.export_error();
            ExportResult::failure(entry.identifier, kind, message)
        }
    }
}

fn object_type<'a>(service: &'a Service, name: &str) -> Result<&'a ObjectType, WsError> {
    service
        .project
        .object_types
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            WsError::Configuration(format!(
                "the project '{}' has no object type '{name}'",
                service.project.name
            ))
        })
}

fn flow_missing(service: &Service, t: &ObjectType, kind: FlowKind) -> WsError {
    WsError::Configuration(format!(
        "the project '{}' has no {} flow for object type '{}'; add [object_types.flows.{}]",
        service.project.name,
        kind.key(),
        t.name,
        kind.key()
    ))
}

async fn run_export(
    service: &Service,
    parameters: &ParameterValues,
    entry: &CsEntryChange,
) -> Result<Vec<AnchorAttribute>, WsError> {
    let t = object_type(service, &entry.object_type)?;
    let kind = match entry.modification {
        ObjectModification::Add => FlowKind::ExportAdd,
        ObjectModification::Replace | ObjectModification::Update => FlowKind::ExportReplace,
        ObjectModification::Delete => FlowKind::ExportDelete,
    };
    let flow = t
        .flows
        .get(kind)
        .ok_or_else(|| flow_missing(service, t, kind))?;
    let mut run = FlowRun::new(service, kind, Some(t), parameters);
    run.object = Some(FlowObject::from_entry(t, entry)?);
    let outcome = run.run(&flow.steps).await?;
    let mut anchors = Vec::new();
    for (name, json) in outcome.anchors {
        let value_type = t.attribute(&name).map(|a| a.value_type).unwrap_or_default();
        if let Some(value) = values::from_json(&json, value_type, &name)?
            .into_iter()
            .next()
        {
            anchors.push(AnchorAttribute { name, value });
        }
    }
    Ok(anchors)
}

/// Run the `password_set` (no `old`) or `password_change` flow for `target`.
pub(crate) async fn password(
    service: &Service,
    parameters: &ParameterValues,
    target: &PasswordTarget,
    old: Option<&Secret>,
    new: &Secret,
) -> Result<(), WsError> {
    let t = object_type(service, &target.object_type)?;
    let kind = match old {
        Some(_) => FlowKind::PasswordChange,
        None => FlowKind::PasswordSet,
    };
    let flow = t
        .flows
        .get(kind)
        .ok_or_else(|| flow_missing(service, t, kind))?;
    let mut run = FlowRun::new(service, kind, Some(t), parameters);
    let anchor: Vec<_> = target
        .anchor
        .iter()
        .map(|a| (a.name.clone(), values::to_json(&a.value)))
        .collect();
    run.object = Some(FlowObject {
        dn: target.dn.clone(),
        attributes: anchor.iter().cloned().collect(),
        anchor,
    });
    run.password = Some(new.clone());
    run.old_password = old.cloned();
    run.run(&flow.steps).await.map(|_| ())
}

/// The project's `test_connection` flow, or: authenticate and `GET` the base URL, which must
/// not answer 401, 403 or a server error.
pub(crate) async fn test_connection(
    service: &Service,
    parameters: &ParameterValues,
) -> Result<(), WsError> {
    if let Some(flow) = &service.project.test_connection {
        let run = FlowRun::new(service, FlowKind::TestConnection, None, parameters);
        return run.run(&flow.steps).await.map(|_| ());
    }
    let request = crate::http::HttpRequest {
        method: ecma_ws_project::Method::Get,
        url: service.http.base().clone(),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
    };
    let response = service.http.send(&request).await?;
    match response.status {
        401 | 403 | 500..=599 => Err(service.http.refusal(&request, &response)),
        _ => Ok(()),
    }
}
