//! A service: the loaded project and its HTTP side, built from the parameter answers and
//! cached by them (and by the project file's modification time), since the host passes the
//! answers with every call.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ecma_plugin_api::ParameterValues;
use ecma_ws_project::template::{Part, Source, Template};
use ecma_ws_project::ProjectFile;
use sha2::{Digest, Sha256};

use crate::auth::Credentials;
use crate::error::WsError;
use crate::http::{Endpoint, HttpService};

/// The connectivity answers, checked.
pub(crate) struct Settings {
    pub project: ProjectFile,
    pub endpoint: Endpoint,
    pub credentials: Credentials,
}

impl Settings {
    /// The settings, or the parameter at fault with the reason.
    pub(crate) fn from_values(values: &ParameterValues) -> Result<Self, (&'static str, WsError)> {
        let path = project_path(values).map_err(|e| ("project", e))?;
        let project = ecma_ws_project::load(&path)
            .map_err(|e| ("project", WsError::Configuration(e.to_string())))?;
        let text = |name: &str| {
            values
                .get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_string())
        };
        let port = match text("port") {
            Some(port) => Some(port.parse::<u16>().map_err(|_| {
                (
                    "port",
                    WsError::Configuration(format!("'{port}' is not a port number")),
                )
            })?),
            None => None,
        };
        let endpoint = Endpoint {
            host: text("host"),
            port,
            ca_file: text("ca_file"),
            client_certificate: text("client_certificate"),
            client_key: text("client_key"),
            trace: values
                .get("trace")
                .is_some_and(|t| t.eq_ignore_ascii_case("true")),
        };
        let credentials = Credentials::from_values(values);
        let missing = credentials.missing_for(&project.auth);
        if let Some(first) = missing.first() {
            return Err((
                first,
                WsError::Configuration(format!(
                    "the project {} authenticates with {}, which needs this parameter",
                    path.display(),
                    auth_name(&project)
                )),
            ));
        }
        Ok(Self {
            project,
            endpoint,
            credentials,
        })
    }
}

fn auth_name(project: &ProjectFile) -> &'static str {
    match project.auth {
        ecma_ws_project::Auth::None => "none",
        ecma_ws_project::Auth::Basic => "basic",
        ecma_ws_project::Auth::Digest => "digest",
        ecma_ws_project::Auth::Bearer => "bearer",
        ecma_ws_project::Auth::WsSecurity => "ws_security",
        ecma_ws_project::Auth::ApiKey { .. } => "api_key",
        ecma_ws_project::Auth::Oauth2ClientCredentials { .. } => "oauth2_client_credentials",
    }
}

fn project_path(values: &ParameterValues) -> Result<PathBuf, WsError> {
    values
        .get("project")
        .filter(|p| !p.trim().is_empty())
        .map(|p| PathBuf::from(p.trim()))
        .ok_or_else(|| {
            WsError::Configuration(
                "parameter 'project' is required: the project file's path".into(),
            )
        })
}

pub(crate) struct Service {
    pub project: ProjectFile,
    pub http: HttpService,
}

impl Service {
    pub(crate) fn build(values: &ParameterValues) -> Result<Self, WsError> {
        let settings = Settings::from_values(values).map_err(|(parameter, e)| match e {
            WsError::Configuration(m) => {
                WsError::Configuration(format!("parameter '{parameter}': {m}"))
            }
            other => other,
        })?;
        let headers = settings
            .project
            .connection
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), render_with_parameters(value, values)))
            .collect();
        let http = HttpService::new(
            &settings.project,
            &settings.endpoint,
            settings.credentials,
            headers,
        )?;
        Ok(Self {
            project: settings.project,
            http,
        })
    }
}

/// A connection header: only `{param.NAME}` (never a secret one) is known there.
fn render_with_parameters(text: &str, values: &ParameterValues) -> String {
    let Ok(template) = Template::parse(text) else {
        return text.to_string();
    };
    template
        .parts
        .iter()
        .map(|part| match part {
            Part::Text(t) => t.clone(),
            Part::Ref(r) => match &r.source {
                Source::Param(name) if !values.is_secret(name) => {
                    values.get(name).unwrap_or_default().to_string()
                }
                _ => String::new(),
            },
        })
        .collect()
}

/// Services by the answers they were built from.
#[derive(Default)]
pub(crate) struct Services {
    cache: Mutex<HashMap<[u8; 32], Arc<Service>>>,
}

impl Services {
    pub(crate) fn get(&self, values: &ParameterValues) -> Result<Arc<Service>, WsError> {
        let key = fingerprint(values);
        if let Some(service) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(service);
        }
        let service = Arc::new(Service::build(values)?);
        if let Ok(mut cache) = self.cache.lock() {
            // Old answers (a reload, an edited project) are not asked for again.
            if cache.len() >= 8 {
                cache.clear();
            }
            cache.insert(key, service.clone());
        }
        Ok(service)
    }
}

/// A digest of every answer and of the project file's size and modification time. Kept in
/// memory only.
fn fingerprint(values: &ParameterValues) -> [u8; 32] {
    let mut hash = Sha256::new();
    for (name, value, _) in values.iter() {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(value.as_bytes());
        hash.update([0]);
    }
    if let Some(meta) = values
        .get("project")
        .and_then(|p| std::fs::metadata(p.trim()).ok())
    {
        hash.update(meta.len().to_le_bytes());
        if let Ok(modified) = meta.modified() {
            hash.update(format!("{modified:?}").as_bytes());
        }
    }
    hash.finalize().into()
}
