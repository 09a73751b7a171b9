//! `ecmahost ws`: web services projects from the command line. `discover` adds a WSDL's tree
//! to a project and prints it, `add-rest` records a REST service, `check` loads a project and
//! prints what it offers. The project model is `ecma-ws-project`; the host never links the
//! connector itself.

use std::path::{Path, PathBuf};

use ecma_ws_project::{
    FlowKind, Method, ParameterLocation, ProjectFile, RestParameter, RestService,
};

#[derive(Debug, thiserror::Error)]
pub enum WsCommandError {
    #[error(transparent)]
    Project(#[from] ecma_ws_project::ProjectError),
    #[error(transparent)]
    Edit(#[from] ecma_ws_project::EditError),
    #[error(transparent)]
    Wsdl(#[from] ecma_ws_project::wsdl::WsdlError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Argument(String),
}

/// Add the services of the WSDL at `wsdl` to `project`; the tree, as printed.
pub fn discover(wsdl: &Path, project: &Path) -> Result<String, WsCommandError> {
    if wsdl.to_string_lossy().contains("://") {
        return Err(WsCommandError::Argument(format!(
            "--wsdl {}: download the WSDL (and the files it imports) and give its path",
            wsdl.display()
        )));
    }
    let services = ecma_ws_project::wsdl::discover(wsdl)?;
    ecma_ws_project::add_soap(project, &services)?;
    Ok(format!(
        "{}added to {}\n",
        ecma_ws_project::wsdl::render(&services),
        project.display()
    ))
}

/// What `ecmahost ws add-rest` is given.
#[derive(clap::Args)]
pub struct RestArguments {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub method: String,
    /// The resource path, e.g. `/api/users/{id}`.
    #[arg(long)]
    pub path: String,
    /// Absent: the project's base URL.
    #[arg(long)]
    pub base_url: Option<String>,
    /// `NAME:IN` or `NAME:IN:required`, IN one of path, query, header, body; repeatable.
    #[arg(long = "param")]
    pub parameters: Vec<String>,
    /// A file holding a sample request body.
    #[arg(long)]
    pub sample_request: Option<PathBuf>,
    /// A file holding a sample response body.
    #[arg(long)]
    pub sample_response: Option<PathBuf>,
    #[arg(long)]
    pub description: Option<String>,
}

/// Record a REST service in `project`; a line saying so.
pub fn add_rest(project: &Path, args: RestArguments) -> Result<String, WsCommandError> {
    let method = match args.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => {
            return Err(WsCommandError::Argument(format!(
                "--method {other}: write GET, POST, PUT, PATCH or DELETE"
            )))
        }
    };
    let parameters = args
        .parameters
        .iter()
        .map(|p| parameter(p))
        .collect::<Result<Vec<_>, _>>()?;
    let read = |file: &Option<PathBuf>| {
        file.as_ref()
            .map(|f| {
                std::fs::read_to_string(f).map_err(|source| WsCommandError::Read {
                    path: f.clone(),
                    source,
                })
            })
            .transpose()
    };
    let service = RestService {
        name: args.name.clone(),
        base_url: args.base_url,
        resource_path: args.path.clone(),
        method,
        parameters,
        sample_request: read(&args.sample_request)?,
        sample_response: read(&args.sample_response)?,
        description: args.description.unwrap_or_default(),
    };
    ecma_ws_project::add_rest(project, &service)?;
    Ok(format!(
        "recorded REST service {} ({} {}) in {}\n",
        args.name,
        method.as_str(),
        args.path,
        project.display()
    ))
}

fn parameter(text: &str) -> Result<RestParameter, WsCommandError> {
    let bad = || {
        WsCommandError::Argument(format!(
            "--param {text}: write NAME:IN or NAME:IN:required, IN one of path, query, header, body"
        ))
    };
    let mut parts = text.split(':');
    let (Some(name), Some(location)) = (parts.next(), parts.next()) else {
        return Err(bad());
    };
    let location = match location {
        "path" => ParameterLocation::Path,
        "query" => ParameterLocation::Query,
        "header" => ParameterLocation::Header,
        "body" => ParameterLocation::Body,
        _ => return Err(bad()),
    };
    let required = match parts.next() {
        None => false,
        Some("required") => true,
        Some(_) => return Err(bad()),
    };
    if name.is_empty() || parts.next().is_some() {
        return Err(bad());
    }
    Ok(RestParameter {
        name: name.to_string(),
        location,
        required,
        value_type: None,
    })
}

/// Load `project` and describe it: connection, object types and their flows, discovery.
pub fn check(project: &Path) -> Result<String, WsCommandError> {
    let p = ecma_ws_project::load(project)?;
    Ok(summary(&p, project))
}

fn summary(p: &ProjectFile, file: &Path) -> String {
    let auth = serde_json::to_value(&p.auth)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default();
    let mut out = format!(
        "project {} ({}) is valid\n  base URL {}, auth {auth}\n",
        p.name,
        file.display(),
        p.connection.base_url
    );
    for t in &p.object_types {
        let flows: Vec<&str> = FlowKind::ALL
            .iter()
            .filter(|k| t.flows.get(**k).is_some())
            .map(FlowKind::key)
            .collect();
        out.push_str(&format!(
            "  object type {}: anchor {}, {} attributes{}; flows: {}\n",
            t.name,
            t.anchor.names().join(", "),
            t.attributes.len(),
            if t.export_password {
                " + export_password"
            } else {
                ""
            },
            if flows.is_empty() {
                "none".to_string()
            } else {
                flows.join(", ")
            }
        ));
    }
    out.push_str(&format!(
        "  test connection: {}\n  discovery: {} REST services, {} SOAP services\n",
        if p.test_connection.is_some() {
            "the project's flow"
        } else {
            "GET of the base URL"
        },
        p.discovery.rest.len(),
        p.discovery.soap.len()
    ));
    out
}
