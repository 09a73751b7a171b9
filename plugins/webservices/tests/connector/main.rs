//! The web services connector through the test kit (the host's calls, without the host),
//! against a small HTTP service started on 127.0.0.1 for each test: every authentication
//! method that can be tested locally, and refusals mapped to export errors without secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

mod auth;
mod certificate;
mod paging;

use std::net::SocketAddr;
use std::path::Path;

use ecma_plugin_testkit::ConnectorHarness;
use ecma_webservices::WebServicesConnector;

/// Serve the router `app` makes for its address on 127.0.0.1, from a runtime of its own (the
/// test kit's calls block); the server stops when the runtime is dropped.
fn serve(app: impl FnOnce(SocketAddr) -> axum::Router) -> (SocketAddr, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(addr);
    runtime.spawn(async move { axum::serve(listener, app).await });
    (addr, runtime)
}

/// A project whose full import reads `{base_url}/items` (`{"items": [{"id", "name"}]}`);
/// `tail` goes in its `[auth]` table and may add flows after it.
fn import_project(dir: &Path, name: &str, base_url: &str, tail: &str) -> std::path::PathBuf {
    write_project(
        dir,
        name,
        &format!(
            r#"version = 1
name = "{name}"

[connection]
base_url = "{base_url}"
retry = {{ max_attempts = 1 }}

[[object_types]]
name = "Item"
anchor = "id"
attributes = [{{ name = "id" }}, {{ name = "name" }}]

[[object_types.flows.full_import.steps]]
request = {{ method = "GET", path = "/items" }}

[[object_types.flows.full_import.steps]]
for_each = "{{response./items}}"
as = "item"
steps = [{{ emit = {{ attributes = {{ id = "{{item./id}}", name = "{{item./name}}" }} }} }}]

[auth]
{tail}
"#
        ),
    )
}

/// The connector in-process, answering `project`.
fn harness(project: &Path) -> ConnectorHarness {
    let mut h = ConnectorHarness::in_process::<WebServicesConnector>().unwrap();
    h.answer("project", project.display().to_string());
    h
}

/// Write `toml` as the project `name` in `dir`.
fn write_project(dir: &Path, name: &str, toml: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}
