//! What operators watch: `/healthz`, `/readyz`, `/status` and `/metrics` on the admin listener
//! while a connector fails and recovers, and the figures requests, exports and imports leave.

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

const FLAKY_TOKEN: &str = "flaky-connector-token-123";

/// A faulty-plugin connector whose library file starts out broken.
fn flaky() -> ExtraConnector {
    let hash = ecmahost::token::hash_token(FLAKY_TOKEN).unwrap();
    ExtraConnector {
        file_name: "flaky.toml",
        toml: format!(
            "version = 1\nname = \"flaky\"\ntoken_hash = \"{hash}\"\nplugin = \"libflaky.so\"\n\
             object_type = \"User\"\nanchor = \"Id\"\n\
             [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n"
        ),
    }
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
