//! Test harness for the integration suite: builds the plugins once, starts a real host
//! in-process on a free 127.0.0.1 port with real plugins and a real SQLite file, and gives the
//! test an HTTPS client that trusts the host's generated certificate. [`log_capture`] keeps what
//! the host logged for plugins; [`api_1_0`] builds the frozen API 1.0 fixture; [`cli`] runs the
//! `ecmahost` executable; [`pg_server`] is a PostgreSQL server of the test's own.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // Test support: failing loudly is the point.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub mod api_1_0;
pub mod cli;
pub mod ldap;
pub mod log_capture;
pub mod pg_server;

/// The example web services (testing/ws-services), under the paths the tests always used.
pub use ecma_test_ws_services::{bapi_service, people_api};

use ecmahost::config::HostConfig;
use ecmahost::server::{start, RunningHost};
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
use tempfile::TempDir;

/// The directory holding the test plugins: next to the test binary. The integration tests
/// depend on the plugin crates, so cargo builds their cdylibs there, in the same build.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let dir = exe
            .parent()
            .expect("the test binary's folder")
            .to_path_buf();
        for lib in [
            "libecma_sql.so",
            "libecma_faulty.so",
            "libecma_wrong_api_major.so",
            "libecma_panicking_init.so",
            "libecma_csv.so",
            "libecma_webservices.so",
        ] {
            assert!(
                dir.join(lib).is_file(),
                "plugin {lib} missing in {}",
                dir.display()
            );
        }
        dir
    })
}

/// The `ecmahost` executable of this build (`target/debug/ecmahost`), for tests that drive the
/// command line. Cargo does not build a dependency's binaries for another package's tests, so
/// scripts/test.sh builds it first.
pub fn ecmahost_bin() -> PathBuf {
    let bin = plugin_dir()
        .parent()
        .expect("the target profile folder")
        .join("ecmahost");
    assert!(
        bin.is_file(),
        "{} missing: build it with `cargo build -p ecmahost --bin ecmahost` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// The generic web services connector.
pub fn webservices_plugin() -> PathBuf {
    plugin_dir().join("libecma_webservices.so")
}

/// The SDK template's CSV connector.
pub fn csv_plugin() -> PathBuf {
    plugin_dir().join("libecma_csv.so")
}

/// A running host over a demo folder (SQLite `Employees`, connector `demo`) in a temp dir.
pub struct TestHost {
    pub dir: TempDir,
    pub host: Option<RunningHost>,
    pub token: String,
    pub client: reqwest::Client,
    pub port: u16,
    /// The demo folder's `host.toml`.
    pub host_config: PathBuf,
    /// The host's certificate (PEM), for clients of other kinds than `client`.
    pub certificate: PathBuf,
}

/// Extra connector file written next to `demo.toml` before the host starts.
pub struct ExtraConnector {
    pub file_name: &'static str,
    pub toml: String,
}

impl TestHost {
    pub async fn start() -> Self {
        Self::start_with(Vec::new(), |_| {}).await
    }

    /// Start with extra connectors, after letting `edit` change the demo folder.
    pub async fn start_with(extra: Vec<ExtraConnector>, edit: impl FnOnce(&Path)) -> Self {
        // Before any connector is built: the host passes the subscriber's level to plugins.
        log_capture::install();
        let dir = tempfile::tempdir().expect("temp dir");
        let plugins = plugin_dir();
        let setup = ecmahost::demo::prepare(
            dir.path(),
            std::net::Ipv4Addr::LOCALHOST.into(),
            0,
            &plugins.join("libecma_sql.so"),
        )
        .await
        .expect("demo folder");
        std::fs::copy(
            plugins.join("libecma_faulty.so"),
            dir.path().join("ECMA/libecma_faulty.so"),
        )
        .expect("copy plugin");
        for c in extra {
            std::fs::write(dir.path().join("connectors").join(c.file_name), c.toml)
                .expect("write connector");
        }
        edit(dir.path());
        let host = start_on(&setup.host_config).await;
        let port = host.addr.port();
        let client = client_trusting(&setup.certificate);
        let test = Self {
            dir,
            host: Some(host),
            token: setup.token,
            client,
            port,
            host_config: setup.host_config,
            certificate: setup.certificate,
        };
        test.wait_ready("demo").await;
        test
    }

    pub fn url(&self, connector: &str, path: &str) -> String {
        format!(
            "https://localhost:{}/ecma2host_{connector}/scim{path}",
            self.port
        )
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("data/demo.db")
    }

    /// Wait (bounded) until the connector's first import is done.
    pub async fn wait_ready(&self, connector: &str) {
        self.wait_ready_with(connector, &self.token).await;
    }

    /// Wait until `connector` (whose token is `token`) has finished its start-up import. A
    /// wrong token fails at once: a 401 would otherwise look ready.
    pub async fn wait_ready_with(&self, connector: &str, token: &str) {
        let mut last = Json::Null;
        // 60 s: the suite's hosts start side by side on two cores.
        for _ in 0..1200 {
            let (status, body) = self
                .send(Method::GET, connector, "/Users?count=1", token, None)
                .await;
            assert_ne!(
                status,
                StatusCode::UNAUTHORIZED,
                "wait_ready: wrong token for connector {connector}: {body}"
            );
            if status != StatusCode::SERVICE_UNAVAILABLE {
                return;
            }
            last = body;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("connector {connector} did not become ready in 60 s; it last answered 503: {last}");
    }

    /// Send a request; returns the status and the JSON body (Null when empty).
    pub async fn send(
        &self,
        method: Method,
        connector: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> (StatusCode, Json) {
        let (status, _, json) = self.send_full(method, connector, path, token, body).await;
        (status, json)
    }

    pub async fn send_full(
        &self,
        method: Method,
        connector: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Json) {
        let mut request = self
            .client
            .request(method, self.url(connector, path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("request reaches the host");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let json = if bytes.is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        (status, headers, json)
    }

    /// Rows of `Employees` as `(Login, Department, IsActive)`, sorted.
    pub async fn rows(&self) -> Vec<(String, Option<String>, bool)> {
        use sqlx::Connection;
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", self.database().display()))
                .await
                .expect("open test database");
        sqlx::query_as("SELECT Login, Department, IsActive FROM Employees ORDER BY Login")
            .fetch_all(&mut conn)
            .await
            .expect("query rows")
    }

    /// `/status` from the admin listener: the entry for `connector`.
    pub async fn status(&self, connector: &str) -> Json {
        let addr = self
            .host
            .as_ref()
            .and_then(|h| h.admin_addr)
            .expect("admin listener");
        let body: Json = self
            .client
            .get(format!("http://{addr}/status"))
            .send()
            .await
            .expect("status reachable")
            .json()
            .await
            .expect("status JSON");
        body["connectors"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == connector).cloned())
            .unwrap_or(Json::Null)
    }

    /// GET `path` on the admin listener: the status and the body as text.
    pub async fn admin_get(&self, path: &str) -> (StatusCode, String) {
        let addr = self
            .host
            .as_ref()
            .and_then(|h| h.admin_addr)
            .expect("admin listener");
        let response = self
            .client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("admin listener reachable");
        let status = response.status();
        (status, response.text().await.expect("admin body"))
    }

    /// Poll `/status` (bounded, 60 s) until `done` holds for `connector`; returns that status.
    pub async fn wait_status(&self, connector: &str, done: impl Fn(&Json) -> bool) -> Json {
        for _ in 0..600 {
            let status = self.status(connector).await;
            if done(&status) {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "connector {connector} never reached the expected state: {}",
            self.status(connector).await
        );
    }

    /// Stop the host gracefully and start it again on the same folder (a new port), as an
    /// administrator's restart would.
    pub async fn restart(&mut self) {
        self.restart_after(|_| {}).await;
        self.wait_ready("demo").await;
    }

    /// Stop the host gracefully, let `edit` change the folder while it is down, and start it
    /// again without waiting for any connector to be ready.
    pub async fn restart_after(&mut self, edit: impl FnOnce(&Path)) {
        if let Some(host) = self.host.take() {
            host.shutdown().await;
        }
        edit(self.dir.path());
        let host = start_on(&self.host_config).await;
        self.port = host.addr.port();
        self.host = Some(host);
    }

    pub async fn stop(mut self) {
        if let Some(host) = self.host.take() {
            host.shutdown().await;
        }
    }
}

/// Start a host from `host_config` on free loopback ports.
async fn start_on(host_config: &Path) -> RunningHost {
    let mut config = HostConfig::load(host_config).expect("host config");
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.admin_listen = Some("127.0.0.1:0".parse().expect("address"));
    start(&config).await.expect("host starts")
}

/// An HTTPS client (ring provider) that trusts exactly `certificate`.
pub fn client_trusting(certificate: &Path) -> reqwest::Client {
    client_builder_trusting(certificate)
        .build()
        .expect("client")
}

/// The same client's builder, for tests that need HTTP/1.1 only or other settings.
pub fn client_builder_trusting(certificate: &Path) -> reqwest::ClientBuilder {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(certificate).expect("read certificate") {
        roots.add(cert.expect("certificate")).expect("add root");
    }
    let tls = rustls::ClientConfig::builder_with_provider(ecmahost::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder().use_preconfigured_tls(tls)
}
