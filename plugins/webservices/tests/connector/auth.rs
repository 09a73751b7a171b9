//! Basic, Digest, Bearer and API keys (header and query) against a service that checks them,
//! and what wrong credentials give: a permission issue whose message holds no secret.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ecma_plugin_api::ExportErrorKind;
use ecma_plugin_testkit::{entry, ConnectorHarness};
use md5::{Digest, Md5};
use serde_json::{json, Value};

const USER: &str = "svc-user";
const PASSWORD: &str = "svc-pass-7Q!x";
const TOKEN: &str = "static-bearer-4b1d";
const KEY: &str = "api-key-e83f";
const REALM: &str = "people";
const NONCE: &str = "dcd98b7102dd2f0e8b11d0f600bfb0c093";

type Items = Arc<Mutex<Vec<(String, String)>>>;

/// A service on its own runtime, stopped with the test.
struct Service {
    addr: SocketAddr,
    items: Items,
    _runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Self {
        let items: Items = Arc::new(Mutex::new(vec![("a1".into(), "Alice".into())]));
        let app = Router::new()
            .route("/{kind}/items", get(list).post(create))
            .with_state(items.clone());
        let (addr, runtime) = crate::serve(|_| app);
        Self {
            addr,
            items,
            _runtime: runtime,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A project for `kind` with this `[auth]` table body, importing and adding items.
    fn project(&self, kind: &str, auth: &str) -> PathBuf {
        crate::import_project(
            self.dir.path(),
            kind,
            &format!("http://127.0.0.1:{}/{kind}", self.addr.port()),
            &format!(
                r#"{auth}

[[object_types.flows.export_add.steps]]
request = {{ method = "POST", path = "/items", body = {{ id = "{{anchor}}", name = "{{attr.name}}" }} }}"#
            ),
        )
    }
}

fn authorized(
    kind: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    match kind {
        "basic" => {
            use base64::Engine as _;
            let expected =
                base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
            header("authorization") == format!("Basic {expected}")
        }
        "bearer" => header("authorization") == format!("Bearer {TOKEN}"),
        "key-header" => header("x-api-key") == KEY,
        "key-query" => query.get("api_key").map(String::as_str) == Some(KEY),
        "digest" => digest_valid(header("authorization"), method.as_str(), uri),
        _ => false,
    }
}

/// Checks a Digest answer (RFC 7616, MD5, qop=auth) as a server does.
fn digest_valid(authorization: &str, method: &str, uri: &Uri) -> bool {
    let Some(rest) = authorization.strip_prefix("Digest ") else {
        return false;
    };
    let params: HashMap<&str, &str> = rest
        .split(", ")
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect();
    let md5 = |s: String| {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let ha1 = md5(format!("{USER}:{REALM}:{PASSWORD}"));
    let ha2 = md5(format!(
        "{method}:{}",
        params.get("uri").copied().unwrap_or_default()
    ));
    let expected = md5(format!(
        "{ha1}:{NONCE}:{}:{}:auth:{ha2}",
        params.get("nc").copied().unwrap_or_default(),
        params.get("cnonce").copied().unwrap_or_default()
    ));
    params.get("username") == Some(&USER)
        && params.get("uri").copied() == uri.path_and_query().map(|p| p.as_str())
        && params.get("response") == Some(&expected.as_str())
}

fn refuse(kind: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "who are you?"})),
    )
        .into_response();
    if kind == "digest" {
        response.headers_mut().insert(
            "www-authenticate",
            format!(r#"Digest realm="{REALM}", qop="auth", nonce="{NONCE}", algorithm=MD5"#)
                .parse()
                .unwrap(),
        );
    }
    response
}

async fn list(
    State(items): State<Items>,
    Path(kind): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !authorized(&kind, &method, &uri, &headers, &query) {
        return refuse(&kind);
    }
    let items: Vec<Value> = items
        .lock()
        .unwrap()
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    Json(json!({ "items": items })).into_response()
}

async fn create(
    State(items): State<Items>,
    Path(kind): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&kind, &method, &uri, &headers, &query) {
        return refuse(&kind);
    }
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    items.lock().unwrap().push((text("id"), text("name")));
    StatusCode::CREATED.into_response()
}

fn harness(
    project: &std::path::Path,
    secrets: &[(&str, &str)],
    plain: &[(&str, &str)],
) -> ConnectorHarness {
    let mut h = crate::harness(project);
    for (name, value) in plain {
        h.answer(name, *value);
    }
    for (name, value) in secrets {
        h.answer_secret(name, *value);
    }
    h
}

/// Import and export both pass the service's check for `kind`.
fn round_trip(service: &Service, kind: &str, mut h: ConnectorHarness) {
    h.configure().unwrap();
    let import = h.full_import().unwrap();
    assert_eq!(
        import.text("a1", "name").as_deref(),
        Some("Alice"),
        "{kind}"
    );
    h.export_ok([entry::add("Item", "id", format!("{kind}-1")).set("name", "Bob")])
        .unwrap();
    assert!(service
        .items
        .lock()
        .unwrap()
        .contains(&(format!("{kind}-1"), "Bob".to_string())));
}

#[test]
fn every_local_auth_method_passes_the_services_check() {
    let service = Service::start();
    let basic = service.project("basic", r#"kind = "basic""#);
    round_trip(
        &service,
        "basic",
        harness(&basic, &[("password", PASSWORD)], &[("user", USER)]),
    );
    let digest = service.project("digest", r#"kind = "digest""#);
    round_trip(
        &service,
        "digest",
        harness(&digest, &[("password", PASSWORD)], &[("user", USER)]),
    );
    let bearer = service.project("bearer", r#"kind = "bearer""#);
    round_trip(
        &service,
        "bearer",
        harness(&bearer, &[("bearer_token", TOKEN)], &[]),
    );
    let header = service.project(
        "key-header",
        "kind = \"api_key\"\nin = \"header\"\nname = \"X-API-Key\"",
    );
    round_trip(
        &service,
        "key-header",
        harness(&header, &[("api_key", KEY)], &[]),
    );
    let query = service.project(
        "key-query",
        "kind = \"api_key\"\nin = \"query\"\nname = \"api_key\"",
    );
    round_trip(
        &service,
        "key-query",
        harness(&query, &[("api_key", KEY)], &[]),
    );
}

#[test]
fn wrong_credentials_are_a_permission_issue_without_the_secret() {
    let service = Service::start();
    let basic = service.project("basic", r#"kind = "basic""#);
    let wrong = "wrong-password-5512";
    let mut h = harness(&basic, &[("password", wrong)], &[("user", USER)]);
    h.configure().unwrap();
    let results = h
        .export([entry::add("Item", "id", "x").set("name", wrong)])
        .unwrap();
    let error = results[0].error.clone().expect("refused");
    assert_eq!(error.kind, ExportErrorKind::PermissionIssue, "{error:?}");
    assert_eq!(
        error.message,
        "POST /basic/items answered 401: who are you?"
    );
    let e = h.full_import().unwrap_err().to_string();
    assert!(e.contains("answered 401"), "{e}");
    assert!(!e.contains(wrong), "{e}");
}

#[test]
fn missing_credentials_are_named_on_the_connectivity_page() {
    let service = Service::start();
    let bearer = service.project("bearer", r#"kind = "bearer""#);
    let mut h = harness(&bearer, &[], &[]);
    let e = h.configure().unwrap_err().to_string();
    assert!(e.contains("bearer_token"), "{e}");
}
