//! `ecmahost ws`: web services projects from the command line. `discover` adds a WSDL's tree
//! (a file, or downloaded with its imports over HTTP(S)) to a project and prints it, `add-rest` records a REST service (or an OpenAPI
//! document's operations), `check` loads a project and
//! prints what it offers, `test` runs one flow of a connector against the live service and
//! prints every exchange (secrets redacted). The project model is `ecma-ws-project`; the host
//! never links the connector: `test` loads its library like any plugin.

use std::path::{Path, PathBuf};

mod openapi;

use std::sync::{Arc, Mutex};

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, CsEntryChange, ImportKind,
    ImportRequest, LogLevel, LogRecord, LogSink, ObjectModification, PasswordOptions,
    PasswordTarget, Secret, Value,
};
pub use ecma_ws_project::FlowKind;
use ecma_ws_project::{Method, ParameterLocation, ProjectFile, RestParameter, RestService};

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
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Load(#[from] ecma_plugin_api::LoadError),
    #[error("{0}")]
    Connector(#[from] ecma_plugin_api::ConnectorError),
}

/// `--flow NAME`: a flow by its key in the project (`full_import`, `export_add`, ...).
pub fn parse_flow(name: &str) -> Result<FlowKind, String> {
    FlowKind::ALL
        .into_iter()
        .find(|k| k.key() == name.replace('-', "_"))
        .ok_or_else(|| {
            let known: Vec<&str> = FlowKind::ALL.iter().map(FlowKind::key).collect();
            format!("'{name}' is not a flow; one of {}", known.join(", "))
        })
}

/// The object an export or password test works on (`--entry`, JSON):
/// `{"object_type": "User", "anchor": {"userName": "adele"}, "dn": "...",
///   "attributes": {"displayName": "Adele", "mail": ["a@x", "b@x"]}, "password": "..."}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TestEntry {
    object_type: String,
    anchor: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    dn: Option<String>,
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    old_password: Option<String>,
}

/// Collects the connector's log lines (its exchanges among them), in order.
#[derive(Default)]
struct Collected(Mutex<Vec<String>>);

impl LogSink for Collected {
    fn log(&self, record: LogRecord) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(match record.target.as_str() {
                "exchange" => record.message,
                _ => format!("log: {}", record.message),
            });
        }
    }
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::String(n.to_string()), Value::Integer),
        serde_json::Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// Run `flow` of the connector `connector` (a connector file; its parameter answers, secrets
/// resolved) with the library `plugin`, and print each exchange and the outcome.
pub fn test(
    connector: &Path,
    plugin: &Path,
    flow: FlowKind,
    entry: Option<&Path>,
) -> Result<String, WsCommandError> {
    let config = crate::config::ConnectorConfig::load(connector)?;
    let mut values = config.parameters.clone();
    values.insert("trace", "true");
    let library = ecma_plugin_api::load_library(plugin)?;
    let connector = library.new_connector()?;
    let log = Arc::new(Collected::default());
    connector.attach_log(log.clone(), LogLevel::Info)?;
    let entry: Option<TestEntry> = match entry {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|source| WsCommandError::Read {
                path: file.to_path_buf(),
                source,
            })?;
            Some(serde_json::from_str(&text).map_err(|e| {
                WsCommandError::Argument(format!("--entry {}: {e}", file.display()))
            })?)
        }
        None => None,
    };
    let needs_entry = || {
        WsCommandError::Argument(format!(
            "--flow {} works on an object: give --entry FILE (JSON with object_type, anchor, attributes)",
            flow.key()
        ))
    };
    let outcome = match flow {
        FlowKind::TestConnection => connector
            .test_connection(&values)
            .map(|()| "connection test passed".to_string()),
        FlowKind::FullImport | FlowKind::DeltaImport => {
            let schema = connector.schema(&values)?;
            let request = ImportRequest {
                kind: if flow == FlowKind::FullImport {
                    ImportKind::Full
                } else {
                    ImportKind::Delta
                },
                page_size: 500,
                watermark: String::new(),
                partition: String::new(),
            };
            (|| {
                let mut session = connector.open_import(&values, &schema, &request)?;
                let mut lines = Vec::new();
                for _ in 0..100_000 {
                    let page = session.next_page()?;
                    for e in &page.entries {
                        let attributes: Vec<String> = e
                            .changes
                            .iter()
                            .map(|c| {
                                format!(
                                    "{}={}",
                                    c.name,
                                    c.added_values()
                                        .map(|v| v.to_string())
                                        .collect::<Vec<_>>()
                                        .join("|")
                                )
                            })
                            .collect();
                        lines.push(format!(
                            "{:?} {} {}: {}",
                            e.modification,
                            e.object_type,
                            e.dn,
                            attributes.join(", ")
                        ));
                    }
                    if !page.more {
                        break;
                    }
                }
                let watermark = session.close()?;
                lines.push(format!("{} entries; watermark {watermark:?}", lines.len()));
                Ok(lines.join("\n"))
            })()
        }
        FlowKind::PasswordSet | FlowKind::PasswordChange => {
            let entry = entry.ok_or_else(needs_entry)?;
            let target = PasswordTarget {
                object_type: entry.object_type.clone(),
                dn: entry.dn.clone().unwrap_or_default(),
                anchor: anchors(&entry),
            };
            let password = Secret::new(entry.password.clone().unwrap_or_default());
            match &entry.old_password {
                Some(old) if flow == FlowKind::PasswordChange => connector
                    .change_password(&values, &target, &Secret::new(old.clone()), &password)
                    .map(|()| "password changed".to_string()),
                _ if flow == FlowKind::PasswordChange => {
                    return Err(WsCommandError::Argument(
                        "--flow password_change needs old_password in the --entry file".into(),
                    ))
                }
                _ => connector
                    .set_password(&values, &target, &password, PasswordOptions::default())
                    .map(|()| "password set".to_string()),
            }
        }
        FlowKind::ExportAdd | FlowKind::ExportReplace | FlowKind::ExportDelete => {
            let entry = entry.ok_or_else(needs_entry)?;
            let (modification, attribute_modification) = match flow {
                FlowKind::ExportAdd => (ObjectModification::Add, AttributeModification::Add),
                FlowKind::ExportReplace => {
                    (ObjectModification::Replace, AttributeModification::Replace)
                }
                _ => (ObjectModification::Delete, AttributeModification::Replace),
            };
            let change = CsEntryChange {
                identifier: "1".into(),
                object_type: entry.object_type.clone(),
                dn: entry.dn.clone().unwrap_or_default(),
                modification,
                anchor: anchors(&entry),
                changes: if modification == ObjectModification::Delete {
                    Vec::new()
                } else {
                    entry
                        .attributes
                        .iter()
                        .map(|(name, v)| {
                            let values = match v {
                                serde_json::Value::Array(items) => {
                                    items.iter().map(json_value).collect()
                                }
                                other => vec![json_value(other)],
                            };
                            AttributeChange::set(name.clone(), attribute_modification, values)
                        })
                        .collect()
                },
            };
            let schema = connector.schema(&values)?;
            let request = ecma_plugin_api::ExportRequest {
                export_type: ecma_plugin_api::ExportType::ObjectReplace,
                batch_size: 1,
                partition: String::new(),
            };
            (|| {
                let mut session = connector.open_export(&values, &schema, &request)?;
                let results = session.put_export_entries(&[change])?;
                Ok(match results.first().and_then(|r| r.error.as_ref()) {
                    None => format!(
                        "exported{}",
                        results
                            .first()
                            .map(|r| r
                                .anchor
                                .iter()
                                .map(|a| format!(" (anchor {}={})", a.name, a.value))
                                .collect::<String>())
                            .unwrap_or_default()
                    ),
                    Some(e) => format!("export failed: {:?}: {}", e.kind, e.message),
                })
            })()
        }
    };
    let mut out: Vec<String> = log.0.lock().map(|l| l.clone()).unwrap_or_default();
    match outcome {
        Ok(summary) => {
            out.push(summary);
            Ok(out.join("\n") + "\n")
        }
        Err(e) => {
            out.push(format!("failed: {e}"));
            Err(WsCommandError::Argument(out.join("\n")))
        }
    }
}

fn anchors(entry: &TestEntry) -> Vec<AnchorAttribute> {
    entry
        .anchor
        .iter()
        .map(|(name, v)| AnchorAttribute {
            name: name.clone(),
            value: json_value(v),
        })
        .collect()
}

/// Add the services of the WSDL at `wsdl` (a file, or an `http://` or `https://` URL) to
/// `project`; the tree, as printed.
pub fn discover(wsdl: &Path, project: &Path) -> Result<String, WsCommandError> {
    let location = wsdl.to_string_lossy();
    let services = if location.starts_with("http://") || location.starts_with("https://") {
        discover_url(&location)?
    } else if location.contains("://") {
        return Err(WsCommandError::Argument(format!(
            "--wsdl {location}: give a file or an http:// or https:// URL"
        )));
    } else {
        ecma_ws_project::wsdl::discover(wsdl)?
    };
    ecma_ws_project::add_soap(project, &services)?;
    Ok(format!(
        "{}added to {}\n",
        ecma_ws_project::wsdl::render(&services),
        project.display()
    ))
}

/// Time-out of one WSDL or XSD download.
pub const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The largest WSDL or XSD downloaded, in bytes.
pub const FETCH_LIMIT: usize = 8 << 20;

/// Read the WSDL at `url` and what it imports over HTTP(S), on a thread of its own (the
/// downloads block on their own runtime, wherever this is called from).
fn discover_url(url: &str) -> Result<Vec<ecma_ws_project::SoapService>, WsCommandError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut loader = HttpLoader::new()?;
                Ok(ecma_ws_project::wsdl::discover_with(url, &mut loader)?)
            })
            .join()
            .unwrap_or_else(|_| {
                Err(WsCommandError::Argument(format!(
                    "--wsdl {url}: the download stopped unexpectedly"
                )))
            })
    })
}

/// Downloads for WSDL discovery: http and https only, imports relative to the importing
/// document's URL, each download bounded by [`FETCH_TIMEOUT`] and [`FETCH_LIMIT`].
struct HttpLoader {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl HttpLoader {
    fn new() -> Result<Self, WsCommandError> {
        let fail = |e: &dyn std::fmt::Display| {
            WsCommandError::Argument(format!("cannot prepare the WSDL download: {e}"))
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A system certificate rustls cannot use is skipped, as browsers do.
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(&e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| fail(&e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(&e))?;
        Ok(Self { runtime, client })
    }
}

fn web_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "a {other}: location is not followed; only http and https"
        )),
    }
}

impl ecma_ws_project::wsdl::Loader for HttpLoader {
    fn load(&mut self, location: &str) -> Result<String, ecma_ws_project::wsdl::WsdlError> {
        let fail = |message: String| ecma_ws_project::wsdl::WsdlError::Fetch {
            url: location.to_string(),
            message,
        };
        let url = web_url(location).map_err(fail)?;
        let body =
            self.runtime.block_on(async {
                let mut response =
                    self.client.get(url).send().await.map_err(|e| {
                        format!("{e} (checked within {}s)", FETCH_TIMEOUT.as_secs())
                    })?;
                let status = response.status();
                if !status.is_success() {
                    return Err(format!("the server answered {status}"));
                }
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
                    if body.len() + chunk.len() > FETCH_LIMIT {
                        return Err(format!(
                            "larger than {} MiB; download it and give the file",
                            FETCH_LIMIT >> 20
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            });
        String::from_utf8(body.map_err(fail)?)
            .map_err(|_| fail("the document is not UTF-8 text".into()))
    }

    fn resolve(
        &self,
        base: &str,
        reference: &str,
    ) -> Result<String, ecma_ws_project::wsdl::WsdlError> {
        let fail = |message: String| ecma_ws_project::wsdl::WsdlError::Fetch {
            url: reference.to_string(),
            message: format!("imported by {base}: {message}"),
        };
        let joined = web_url(base)
            .and_then(|b| b.join(reference).map_err(|e| e.to_string()))
            .map_err(fail)?;
        web_url(joined.as_str()).map_err(fail)?;
        Ok(joined.to_string())
    }
}

/// What `ecmahost ws add-rest` is given: one service, or an OpenAPI document.
#[derive(clap::Args)]
pub struct RestArguments {
    /// An OpenAPI 3.0 or 3.1 document (JSON or YAML): every operation becomes a service,
    /// named by its operationId; a repeated run updates them.
    #[arg(long, conflicts_with_all = ["name", "method", "path", "base_url", "parameters", "sample_request", "sample_response", "description"])]
    pub openapi: Option<PathBuf>,
    #[arg(long, required_unless_present = "openapi")]
    pub name: Option<String>,
    #[arg(long, required_unless_present = "openapi")]
    pub method: Option<String>,
    /// The resource path, e.g. `/api/users/{id}`.
    #[arg(long, required_unless_present = "openapi")]
    pub path: Option<String>,
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

/// Record a REST service, or an OpenAPI document's operations, in `project`; what was
/// recorded, a line each.
pub fn add_rest(project: &Path, args: RestArguments) -> Result<String, WsCommandError> {
    if let Some(file) = &args.openapi {
        return add_openapi(project, file);
    }
    let missing =
        |flag: &str| WsCommandError::Argument(format!("give --{flag} (or --openapi FILE)"));
    let name = args.name.ok_or_else(|| missing("name"))?;
    let path = args.path.ok_or_else(|| missing("path"))?;
    let method_text = args.method.ok_or_else(|| missing("method"))?;
    let method = match method_text.to_ascii_uppercase().as_str() {
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
        name: name.clone(),
        base_url: args.base_url,
        resource_path: path.clone(),
        method,
        parameters,
        sample_request: read(&args.sample_request)?,
        sample_response: read(&args.sample_response)?,
        description: args.description.unwrap_or_default(),
    };
    ecma_ws_project::add_rest(project, &service)?;
    Ok(format!(
        "recorded REST service {name} ({} {path}) in {}\n",
        method.as_str(),
        project.display()
    ))
}

fn add_openapi(project: &Path, file: &Path) -> Result<String, WsCommandError> {
    let text = std::fs::read_to_string(file).map_err(|source| WsCommandError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let imported =
        openapi::read(&text, &file.display().to_string()).map_err(WsCommandError::Argument)?;
    let before: std::collections::HashSet<String> = ecma_ws_project::load(project)?
        .discovery
        .rest
        .into_iter()
        .map(|s| s.name)
        .collect();
    ecma_ws_project::add_rest_services(project, &imported.services)?;
    let added = imported
        .services
        .iter()
        .filter(|s| !before.contains(&s.name))
        .count();
    let mut out = format!(
        "recorded {} REST services from {} ({}) in {}: {added} added, {} updated\n",
        imported.services.len(),
        file.display(),
        if imported.title.is_empty() {
            "untitled"
        } else {
            &imported.title
        },
        project.display(),
        imported.services.len() - added
    );
    for s in &imported.services {
        let parameters: Vec<String> = s
            .parameters
            .iter()
            .map(|p| {
                let location = serde_json::to_value(p.location)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                format!(
                    "{}:{location}{}",
                    p.name,
                    if p.required { ":required" } else { "" }
                )
            })
            .collect();
        out.push_str(&format!(
            "  {} {} {}{}\n",
            s.name,
            s.method.as_str(),
            s.resource_path,
            if parameters.is_empty() {
                String::new()
            } else {
                format!(" ({})", parameters.join(", "))
            }
        ));
    }
    for skipped in &imported.skipped {
        out.push_str(&format!("  skipped {skipped}\n"));
    }
    Ok(out)
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
