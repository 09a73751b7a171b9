//! Refusals and failures: bad tokens, bad bodies, unknown connectors, a library that does not
//! load, and a plugin that panics. In each case the host answers clearly, changes no row, and
//! keeps serving.

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;

const FAULTY_TOKEN: &str = "faulty-connector-token-123";

fn connector(name: &str, plugin: &str, parameters: &str) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(FAULTY_TOKEN).unwrap();
    ExtraConnector {
        file_name: Box::leak(format!("{name}.toml").into_boxed_str()),
        toml: format!(
            "version = 1\nname = \"{name}\"\ntoken_hash = \"{hash}\"\nplugin = \"{plugin}\"\nobject_type = \"User\"\nanchor = \"Id\"\n\
             [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n{parameters}"
        ),
    }
}

fn user(id: &str, mode: &str) -> String {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": id,
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": id, "Mode": mode}
    })
    .to_string()
}

#[tokio::test]
async fn wrong_token_is_401_and_changes_nothing() {
    let host = TestHost::start().await;
    let before = host.rows().await;
    let (status, headers, body) = host
        .send_full(
            Method::POST,
            "demo",
            "/Users",
            "wrong-token-wrong-token",
            Some(&user("mallory", "")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(body["status"], "401");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    let (status, _) = host
        .send(Method::DELETE, "demo", "/Users/adele.vance", "", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(host.rows().await, before);
    host.stop().await;
}

#[tokio::test]
async fn malformed_json_is_400_invalid_syntax_and_changes_nothing() {
    let host = TestHost::start().await;
    let before = host.rows().await;
    let (status, body) = host
        .send(
            Method::POST,
            "demo",
            "/Users",
            &host.token,
            Some("{\"userName\": "),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidSyntax");
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/adele.vance",
            &host.token,
            Some("[1,2"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidSyntax");
    let (status, body) = host
        .send(
            Method::GET,
            "demo",
            "/Users?filter=userName+eq",
            &host.token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");
    assert_eq!(host.rows().await, before);
    host.stop().await;
}

#[tokio::test]
async fn broken_library_leaves_other_connectors_serving() {
    let extra = vec![connector("broken", "libnotaplugin.so", "")];
    let host = TestHost::start_with(extra, |dir| {
        std::fs::write(dir.join("ECMA/libnotaplugin.so"), b"not an ELF file").unwrap();
    })
    .await;
    let (status, headers, body) = host
        .send_full(Method::GET, "broken", "/Users", FAULTY_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key("retry-after"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("is not a connector library"),
        "{body}"
    );
    // Its token is still checked.
    let (status, _) = host
        .send(Method::GET, "broken", "/Users", "wrong-token-wrong", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The demo connector serves on.
    let (status, body) = host
        .send(Method::GET, "demo", "/Users", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 3);
    host.stop().await;
}

#[tokio::test]
async fn plugin_panic_is_500_and_host_keeps_serving() {
    let host =
        TestHost::start_with(vec![connector("faulty", "libecma_faulty.so", "")], |_| {}).await;
    host.wait_ready_with("faulty", FAULTY_TOKEN).await;
    let (status, body) = host
        .send(
            Method::POST,
            "faulty",
            "/Users",
            FAULTY_TOKEN,
            Some(&user("p1", "panic")),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["detail"].as_str().unwrap().contains("panicked"),
        "{body}"
    );
    // Nothing was recorded for the failed change.
    let (status, _) = host
        .send(Method::GET, "faulty", "/Users/p1", FAULTY_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // One connector's token never opens another connector.
    let (status, _) = host
        .send(Method::GET, "faulty", "/Users", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = host
        .send(Method::GET, "demo", "/Users", FAULTY_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The same connector and the others keep working.
    let (status, body) = host
        .send(
            Method::POST,
            "faulty",
            "/Users",
            FAULTY_TOKEN,
            Some(&user("ok1", "calm")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = host
        .send(Method::GET, "demo", "/Users/adele.vance", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn failing_import_answers_503_with_retry_after() {
    let extra = vec![connector(
        "noimport",
        "libecma_faulty.so",
        "[parameters.connectivity]\npanic_in = \"next_page\"\n",
    )];
    let host = TestHost::start_with(extra, |_| {}).await;
    let (status, headers, body) = host
        .send_full(Method::GET, "noimport", "/Users", FAULTY_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key("retry-after"));
    assert!(
        body["detail"].as_str().unwrap().contains("import"),
        "{body}"
    );
    host.stop().await;
}

#[tokio::test]
async fn initial_password_goes_to_the_password_call_and_never_anywhere_else() {
    let mut faulty = connector("pw", "libecma_faulty.so", "");
    faulty.toml = faulty.toml.replace(
        "anchor = \"Id\"\n",
        "anchor = \"Id\"\npassword_attribute = \"password\"\n",
    );
    // The target's record of password calls, selected so the connector space shows it.
    faulty
        .toml
        .push_str("\n[[attributes]]\nname = \"PasswordSet\"\n");
    let host = TestHost::start_with(vec![faulty], |_| {}).await;
    host.wait_status("pw", |s| s["state"] == "ready").await;
    let with_password = |id: &str, password: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": id, "password": password}).to_string()
    };

    let (status, body) = host
        .send(
            Method::POST,
            "pw",
            "/Users",
            FAULTY_TOKEN,
            Some(&with_password("p1", "S3cret-Passw0rd!")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("password").is_none());
    assert!(!body.to_string().contains("S3cret-Passw0rd!"));
    // The target recorded a password call; the connector space never saw the password.
    let runtime = match host.host.as_ref().unwrap().registry.get("pw").unwrap().slot {
        ecmahost::registry::ConnectorSlot::Running(r) => r,
        ecmahost::registry::ConnectorSlot::Failed { reason, .. } => panic!("{reason}"),
    };
    runtime.sync_now().await.unwrap();
    let (_, cache) = host
        .send(Method::GET, "pw", "/cache", FAULTY_TOKEN, None)
        .await;
    assert_eq!(
        cache["Resources"][0]["attributes"]["PasswordSet"],
        json!(["yes"]),
        "{cache}"
    );
    assert!(!cache.to_string().contains("S3cret-Passw0rd!"));

    // A password the target refuses undoes the add: no half-created user.
    let (status, body) = host
        .send(
            Method::POST,
            "pw",
            "/Users",
            FAULTY_TOKEN,
            Some(&with_password("p2", "too-weak")),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
    assert!(!body.to_string().contains("too-weak"));
    let (status, _) = host
        .send(Method::GET, "pw", "/Users/p2", FAULTY_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    runtime.sync_now().await.unwrap();
    let (_, cache) = host
        .send(Method::GET, "pw", "/cache", FAULTY_TOKEN, None)
        .await;
    assert_eq!(
        cache["totalResults"], 1,
        "the target holds only p1: {cache}"
    );
    host.stop().await;
}
