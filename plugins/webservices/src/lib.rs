//! `ecma_webservices`: the generic web services connector for the ECMA connector host.
//!
//! Like Microsoft's Web Service connector, it loads a project (here a documented TOML file,
//! crate `ecma-ws-project`) that says where the service is, which object types and
//! attributes the connector offers, and how each operation is done: full and delta import,
//! export add / replace / delete, password set and change, and the connection test, each an
//! ordered flow of REST calls, assignments, conditions, for-each and do-while loops, emitted
//! entries and result codes (module `flow`).
//!
//! The runtime (module `http`) talks JSON over reqwest and rustls (ring provider), with
//! none, Basic, Digest, Bearer, API-key, OAuth2 client-credentials (module `auth`) or
//! client-certificate authentication, time-outs, retries with back-off on 429/502/503/504
//! that honour `Retry-After`, and a per-connector rate limit. Statuses map to ECMA2 export
//! error codes (module `error`): 409 object already exists, 404 no such object, 400/422
//! syntax violation with the service's message, 401/403 permission issue, 429/5xx busy.
//!
//! Capabilities: generic DNs, export type `ObjectReplace` (as Microsoft's), concurrent
//! operations, delta import when an object type has a `delta_import` flow (a delta reads the
//! other types whole, as upserts), passwords when
//! one has a `password_set` flow. `export_password = true` adds the export-only
//! `export_password` attribute to an object type's schema.
//!
//! The plugin API is synchronous; the connector owns one tokio runtime and blocks on it in
//! every entry point (module `runtime`). Services are cached by the parameter answers.
//!
//! Parameters (connectivity page): `project` (the project file), `host` and `port` (override
//! the project's base URL), `user`, `password` (encrypted), `client_id`, `client_secret`
//! (encrypted), `api_key` (encrypted), `bearer_token` (encrypted), `ca_file`,
//! `client_certificate`, `client_key`, `trace` (log every exchange). Secrets are never logged and are redacted from every
//! message (module `redact`).

mod auth;
mod error;
mod export;
mod flow;
mod http;
mod import;
mod pages;
mod pointer;
mod redact;
mod runtime;
mod service;
mod soap;
mod values;

use std::sync::Arc;

use ecma_plugin_api::{
    AttributeDirection, AttributeType, Capabilities, ConfigPage, Connector, ConnectorError,
    DnStyle, ExportRequest, ExportSession, ExportType, ImportRequest, ImportSession,
    ObjectTypeSchema, ParameterDefinition, ParameterIssue, ParameterValues, PasswordOptions,
    PasswordTarget, PluginInfo, Schema, SchemaAttribute, Secret,
};
use ecma_ws_project::{FlowKind, ObjectType, EXPORT_PASSWORD};

use crate::runtime::Executor;
use crate::service::{Service, Services};

/// The generic web services connector.
pub struct WebServicesConnector {
    executor: Arc<Executor>,
    services: Services,
}

impl WebServicesConnector {
    fn service(&self, values: &ParameterValues) -> Result<Arc<Service>, ConnectorError> {
        self.services.get(values).map_err(|e| e.connector_error())
    }
}

fn schema_of(t: &ObjectType) -> ObjectTypeSchema {
    let mut attributes: Vec<SchemaAttribute> = t
        .attributes
        .iter()
        .map(|a| SchemaAttribute {
            name: a.name.clone(),
            attribute_type: match a.value_type {
                ecma_ws_project::AttributeType::String => AttributeType::String,
                ecma_ws_project::AttributeType::Integer => AttributeType::Integer,
                ecma_ws_project::AttributeType::Boolean => AttributeType::Boolean,
                ecma_ws_project::AttributeType::Binary => AttributeType::Binary,
                ecma_ws_project::AttributeType::Reference => AttributeType::Reference,
            },
            multi_valued: a.multi_valued,
            direction: match a.direction {
                ecma_ws_project::Direction::ImportExport => AttributeDirection::ImportExport,
                ecma_ws_project::Direction::ImportOnly => AttributeDirection::ImportOnly,
                ecma_ws_project::Direction::ExportOnly => AttributeDirection::ExportOnly,
            },
        })
        .collect();
    if t.export_password {
        attributes.push(SchemaAttribute {
            direction: AttributeDirection::ExportOnly,
            ..SchemaAttribute::single(EXPORT_PASSWORD, AttributeType::String)
        });
    }
    ObjectTypeSchema {
        name: t.name.clone(),
        anchor: t.anchor.names().into_iter().map(str::to_string).collect(),
        attributes,
    }
}

impl Connector for WebServicesConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "webservices".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Generic web services connector: REST APIs driven by a project file \
                          of schema and operation flows"
                .into(),
        }
    }

    fn new() -> Result<Self, ConnectorError> {
        Ok(Self {
            executor: Arc::new(Executor::new()?),
            services: Services::default(),
        })
    }

    fn config_parameters(
        &self,
        page: ConfigPage,
        _values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        Ok(pages::parameters(page))
    }

    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        Ok(pages::validate(page, values))
    }

    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        let (delta, passwords) = match self.service(values) {
            Ok(service) => {
                let types = &service.project.object_types;
                (
                    types
                        .iter()
                        .any(|t| t.flows.get(FlowKind::DeltaImport).is_some()),
                    types
                        .iter()
                        .any(|t| t.flows.get(FlowKind::PasswordSet).is_some()),
                )
            }
            Err(_) => (false, false),
        };
        Ok(Capabilities {
            dn_style: DnStyle::Generic,
            export_type: ExportType::ObjectReplace,
            concurrent_operations: true,
            delta_import: delta,
            passwords,
            export_password_in_first_pass: true,
            ..Capabilities::default()
        })
    }

    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        let service = self.service(values)?;
        Ok(Schema {
            object_types: service.project.object_types.iter().map(schema_of).collect(),
        })
    }

    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        let service = self.service(values)?;
        self.executor
            .block_on(export::test_connection(&service, values))?
            .map_err(|e| e.connector_error())
    }

    fn open_import(
        &self,
        values: &ParameterValues,
        _schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        let service = self.service(values)?;
        Ok(Box::new(import::WsImportSession::open(
            self.executor.clone(),
            service,
            values.clone(),
            request,
        )?))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        _schema: &Schema,
        _request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        Ok(Box::new(export::WsExportSession {
            executor: self.executor.clone(),
            service: self.service(values)?,
            parameters: values.clone(),
        }))
    }

    fn set_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        new_password: &Secret,
        _options: PasswordOptions,
    ) -> Result<(), ConnectorError> {
        let service = self.service(values)?;
        self.executor
            .block_on(export::password(
                &service,
                values,
                target,
                None,
                new_password,
            ))?
            .map_err(|e| e.connector_error())
    }

    fn change_password(
        &self,
        values: &ParameterValues,
        target: &PasswordTarget,
        old_password: &Secret,
        new_password: &Secret,
    ) -> Result<(), ConnectorError> {
        let service = self.service(values)?;
        self.executor
            .block_on(export::password(
                &service,
                values,
                target,
                Some(old_password),
                new_password,
            ))?
            .map_err(|e| e.connector_error())
    }
}

ecma_plugin_api::export_connector!(WebServicesConnector);
