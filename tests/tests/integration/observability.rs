//! What operators watch: `/healthz`, `/readyz`, `/status` and `/metrics` on the admin listener
//! while a connector fails and recovers, and the figures requests, exports and imports leave.

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

const FLAKY_TOKEN: &str = "flaky-connector-token-123";

/// A connector over the faulty plugin's `Id`, `Name` and `Mode`, read from `plugin`.
fn faulty_connector(name: &'static str, plugin: &str, extra: &str) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(FLAKY_TOKEN).unwrap();
    ExtraConnector {
        file_name: Box::leak(format!("{name}.toml").into_boxed_str()),
        toml: format!(
            "version = 1\nname = \"{name}\"\ntoken_hash = \"{hash}\"\nplugin = \"{plugin}\"\n\
             object_type = \"User\"\nanchor = \"Id\"\n{extra}\
             [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n"
        ),
    }
}

/// A connector whose library file starts out broken.
fn flaky() -> ExtraConnector {
    faulty_connector("flaky", "libflaky.so", "")
}

/// The value of the one metric line that starts with `series` (name and labels).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn readyz_status_and_metrics_follow_a_connector_that_fails_and_recovers() {
    let host = TestHost::start_with(vec![flaky()], |dir| {
        std::fs::write(dir.join("ECMA/libflaky.so"), b"not an ELF file").unwrap();
    })
    .await;

    let (code, body) = host.admin_get("/healthz").await;
    assert_eq!(code, StatusCode::OK, "{body}");

    let (code, body) = host.admin_get("/readyz").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let body: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], false);
    let reason = body["not_serving"]["flaky"].as_str().unwrap();
    assert!(
        reason.starts_with("failed:") && reason.contains("is not a connector library"),
        "{body}"
    );
    assert!(body["not_serving"].get("demo").is_none(), "{body}");

    let (code, body) = host.admin_get("/status").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (_, text) = host.admin_get("/metrics").await;
    assert_eq!(
        metric(&text, "ecmahost_connector_up{connector=\"flaky\"}"),
        Some(0.0)
    );
    assert_eq!(
        metric(&text, "ecmahost_connector_up{connector=\"demo\"}"),
        Some(1.0)
    );

    // The administrator drops a working library in place: the connector recovers.
    let ecma = host.dir.path().join("ECMA");
    std::fs::copy(ecma.join("libecma_faulty.so"), ecma.join(".flaky.tmp")).unwrap();
    std::fs::rename(ecma.join(".flaky.tmp"), ecma.join("libflaky.so")).unwrap();
    host.wait_status("flaky", |s| s["state"] == "ready").await;

    let (code, body) = host.admin_get("/readyz").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, _) = host.admin_get("/status").await;
    assert_eq!(code, StatusCode::OK);
    let (_, text) = host.admin_get("/metrics").await;
    assert_eq!(
        metric(&text, "ecmahost_connector_up{connector=\"flaky\"}"),
        Some(1.0)
    );
    assert!(
        text.contains("ecmahost_plugin_info{connector=\"flaky\",plugin=\"faulty\""),
        "{text}"
    );
    host.stop().await;
}

/// A connector file that does not load (here: a secret from an environment variable that is
/// not set, as `connector import-mim` leaves one) neither stops the start nor hides: the
/// other connectors serve, `/readyz` and `/status` name it with the file's error, its URL gets
/// the 401 of an unknown connector, and once the file is fixed it starts. A new file added to
/// the running host that does not load shows the same way.
#[tokio::test]
async fn a_connector_file_that_does_not_load_is_reported_and_the_others_serve() {
    let mut broken = faulty_connector(
        "hrdb",
        "libecma_faulty.so",
        "[parameters.connectivity]\npassword = { env = \"ECMAHOST_TEST_UNSET_HRDB\" }\n",
    );
    let fixed = faulty_connector("hrdb", "libecma_faulty.so", "").toml;
    broken.file_name = "hrdb.toml";
    let host = TestHost::start_with(vec![broken], |_| {}).await;

    let (code, body) = host.admin_get("/readyz").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let body: Json = serde_json::from_str(&body).unwrap();
    let reason = body["not_serving"]["hrdb"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("failed:")
            && reason.contains("hrdb.toml")
            && reason.contains("ECMAHOST_TEST_UNSET_HRDB"),
        "{body}"
    );
    assert!(body["not_serving"].get("demo").is_none(), "{body}");
    let status = host.status("hrdb").await;
    assert_eq!(status["state"], "failed", "{status}");
    let (code, _) = host
        .send(Method::GET, "hrdb", "/Users", FLAKY_TOKEN, None)
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    // Fixed and saved: it starts.
    let file = host.dir.path().join("connectors/hrdb.toml");
    std::fs::write(&file, &fixed).unwrap();
    host.wait_status("hrdb", |s| s["state"] == "ready").await;
    let (code, body) = host.admin_get("/readyz").await;
    assert_eq!(code, StatusCode::OK, "{body}");

    // A second broken file, added while the host runs, shows under the name it declares.
    std::fs::write(
        host.dir.path().join("connectors/late.toml"),
        "version = 1\nname = \"late\"\nthis is not TOML\n",
    )
    .unwrap();
    let status = host.wait_status("late", |s| s["state"] == "failed").await;
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("late.toml"),
        "{status}"
    );
    let (code, _) = host.admin_get("/readyz").await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    // Removed: forgotten.
    std::fs::remove_file(host.dir.path().join("connectors/late.toml")).unwrap();
    for _ in 0..100 {
        if host.status("late").await.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(host.status("late").await.is_null());
    let (code, body) = host.admin_get("/readyz").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    host.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_exports_and_imports() {
    let host = TestHost::start().await;
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "metrics.user",
    });
    let user = user.to_string();
    for expected in [StatusCode::CREATED, StatusCode::CONFLICT] {
        let (code, body) = host
            .send(Method::POST, "demo", "/Users", &host.token, Some(&user))
            .await;
        assert_eq!(code, expected, "{body}");
    }
    let (code, _) = host
        .send(Method::GET, "demo", "/Users/nobody", &host.token, None)
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _) = host
        .send(Method::GET, "demo", "/Users", "wrong-token-wrong", None)
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    let (code, text) = host.admin_get("/metrics").await;
    assert_eq!(code, StatusCode::OK);
    for (series, value) in [
        (
            "ecmahost_scim_requests_total{connector=\"demo\",method=\"POST\",status=\"201\"}",
            1.0,
        ),
        (
            "ecmahost_scim_requests_total{connector=\"demo\",method=\"GET\",status=\"404\"}",
            1.0,
        ),
        (
            "ecmahost_scim_requests_total{connector=\"demo\",method=\"GET\",status=\"401\"}",
            1.0,
        ),
        (
            "ecmahost_export_results_total{connector=\"demo\",result=\"success\"}",
            1.0,
        ),
        (
            "ecmahost_export_batch_size_count{connector=\"demo\"}",
            1.0,
        ),
        (
            "ecmahost_import_objects_total{connector=\"demo\",kind=\"full\",outcome=\"ok\"}",
            5.0,
        ),
        (
            "ecmahost_import_duration_seconds_count{connector=\"demo\",kind=\"full\",outcome=\"ok\"}",
            1.0,
        ),
        (
            "ecmahost_scim_request_duration_seconds_count{connector=\"demo\",method=\"POST\"}",
            2.0,
        ),
        ("ecmahost_reloads_total{connector=\"demo\"}", 0.0),
    ] {
        assert_eq!(metric(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(text.contains("ecmahost_plugin_info{connector=\"demo\",plugin=\"sql\""));
    assert!(!text.contains(&host.token));

    // `/status` shows the last import.
    let status = host.status("demo").await;
    assert_eq!(status["last_import"]["kind"], "full", "{status}");
    assert!(status["last_import"].get("error").is_none(), "{status}");
    host.stop().await;
}

/// A connector that sets initial passwords.
fn with_passwords() -> ExtraConnector {
    faulty_connector(
        "audited",
        "libecma_faulty.so",
        "password_attribute = \"password\"\n",
    )
}

/// The audit lines of `connector` for `method` on paths ending with `path_end`.
fn audited(
    connector: &str,
    method: &str,
    path_end: &str,
) -> Vec<ecma_integration_tests::log_capture::AuditLine> {
    ecma_integration_tests::log_capture::audit_lines(connector)
        .into_iter()
        .filter(|l| l["method"] == method && l["path"].ends_with(path_end))
        .collect()
}

#[tokio::test]
async fn every_change_leaves_an_audit_line_and_no_secret_reaches_the_log() {
    const PASSWORD: &str = "Audit-Passw0rd-Never-Logged!";
    let host = TestHost::start_with(vec![with_passwords()], |_| {}).await;
    host.wait_status("audited", |s| s["state"] == "ready").await;

    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "audit.user",
        "password": PASSWORD,
    });
    let (code, body) = host
        .send(
            Method::POST,
            "audited",
            "/Users",
            FLAKY_TOKEN,
            Some(&user.to_string()),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");

    let demo_user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "audit.demo",
    });
    let (code, body) = host
        .send(
            Method::POST,
            "demo",
            "/Users",
            &host.token,
            Some(&demo_user.to_string()),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}],
    });
    let (code, body) = host
        .send(
            Method::PATCH,
            "demo",
            &format!("/Users/{id}"),
            &host.token,
            Some(&patch.to_string()),
        )
        .await;
    assert!(code.is_success(), "{code} {body}");
    let (code, _) = host
        .send(
            Method::DELETE,
            "demo",
            &format!("/Users/{id}"),
            &host.token,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    // A refused change names the target's error code.
    let (code, _) = host
        .send(
            Method::DELETE,
            "demo",
            "/Users/nobody.here",
            &host.token,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Reads are audited too: a successful one (target `audit::read`) and a failed one.
    let (code, _) = host
        .send(
            Method::GET,
            "demo",
            "/Users?filter=userName%20eq%20%22audit.read.probe%22",
            &host.token,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = host
        .send(
            Method::GET,
            "demo",
            "/Users?filter=userName%20eq&access_token=qs-secret-7f3a",
            &host.token,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    let create = audited("audited", "POST", "/Users");
    assert_eq!(create.len(), 1, "{create:?}");
    assert_eq!(create[0]["status"], "201");
    assert_eq!(create[0]["export"], "success");
    assert_eq!(create[0]["id"], "audit.user");
    assert!(create[0].contains_key("latency_ms"));

    // Other tests share the process's log: pick this test's lines by their id.
    let create: Vec<_> = audited("demo", "POST", "/Users")
        .into_iter()
        .filter(|l| l.get("id") == Some(&id))
        .collect();
    assert_eq!(create.len(), 1, "{create:?}");
    assert_eq!(
        (create[0]["status"].as_str(), create[0]["id"].as_str()),
        ("201", id.as_str())
    );
    let update = audited("demo", "PATCH", &format!("/Users/{id}"));
    assert_eq!(update.len(), 1, "{update:?}");
    assert_eq!(update[0]["export"], "success");
    assert_eq!(update[0]["id"], id);
    let delete = audited("demo", "DELETE", &format!("/Users/{id}"));
    assert_eq!(delete.len(), 1, "{delete:?}");
    assert_eq!(
        (delete[0]["status"].as_str(), delete[0]["export"].as_str()),
        ("204", "success")
    );
    let refused = audited("demo", "DELETE", "/Users/nobody.here");
    assert_eq!(refused[0]["status"], "404", "{refused:?}");
    let probe: Vec<_> = audited("demo", "GET", "/Users")
        .into_iter()
        .filter(|l| {
            l.get("query")
                .is_some_and(|q| q.contains("audit.read.probe"))
        })
        .collect();
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert_eq!(probe[0]["status"], "200");
    let read: Vec<_> = audited("demo", "GET", "/Users")
        .into_iter()
        .filter(|l| l.get("query").is_some_and(|q| q.contains("access_token")))
        .collect();
    assert_eq!(read.len(), 1, "{read:?}");
    let query = &read[0]["query"];
    assert!(
        query.contains("filter=userName") && query.contains("access_token=REDACTED"),
        "{query}"
    );
    assert_eq!(read[0]["status"], "400");
    assert!(
        !read[0].contains_key("export"),
        "reads export nothing: {read:?}"
    );

    let all = ecma_integration_tests::log_capture::all_lines();
    for secret in [PASSWORD, FLAKY_TOKEN, host.token.as_str(), "qs-secret-7f3a"] {
        let found: Vec<_> = all.iter().filter(|l| l.contains(secret)).collect();
        assert!(found.is_empty(), "`{secret}` reached the log: {found:?}");
    }
    host.stop().await;
}
