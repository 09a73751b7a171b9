//! Security through the real host: URLs come from the public URL, never from `Host`; connector
//! names cannot be probed and match exactly; every refusal of the HTTP layer is a SCIM error;
//! wrong tokens are cheap, limited per address, and answered 429 past the limit; input limits.

use ecma_integration_tests::{client_builder_trusting, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

fn user(login: &str) -> String {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "userName": login,
        "active": true,
        EXT: {"AzureID": format!("guid-{login}"), "FirstName": "F", "LastName": "L"}
    })
    .to_string()
}

/// A user with only a `userName`.
fn bare_user(login: &str) -> String {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login})
        .to_string()
}

/// The SCIM error body every refusal must have: `application/scim+json`, the status as a
/// string, a detail; returns the detail.
fn assert_scim_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    expected: u16,
) -> String {
    assert_eq!(
        status.as_u16(),
        expected,
        "{}",
        String::from_utf8_lossy(body)
    );
    assert_eq!(headers["content-type"], "application/scim+json");
    let body: Json = serde_json::from_slice(body).expect("a JSON error body");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(body["status"], expected.to_string());
    body["detail"].as_str().expect("detail").to_string()
}

#[tokio::test]
async fn urls_come_from_the_public_url_never_from_the_host_header() {
    let host = TestHost::start().await;
    let base = format!("https://127.0.0.1:{}/ecma2host_demo/scim", host.port);
    // Over HTTP/1.1, where `Host` is what a proxy or an attacker sets.
    let client = client_builder_trusting(&host.certificate)
        .http1_only()
        .build()
        .unwrap();
    let response = client
        .post(host.url("demo", "/Users"))
        .bearer_auth(&host.token)
        .header("Host", "evil.example/x?")
        .header("Content-Type", "application/scim+json")
        .body(user("host.header"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Json = response.json().await.unwrap();
    assert_eq!(location, format!("{base}/Users/host.header"));
    assert_eq!(body["meta"]["location"], location.as_str());

    // The configured public_url wins, on HTTP/2 too.
    let mut host = host;
    let text = std::fs::read_to_string(&host.host_config).unwrap();
    std::fs::write(
        &host.host_config,
        format!("public_url = \"https://scim.example.test:8585/\"\n{text}"),
    )
    .unwrap();
    host.restart().await;
    let (status, headers, body) = host
        .send_full(Method::GET, "demo", "/Users/host.header", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("location").is_none());
    assert_eq!(
        body["meta"]["location"],
        "https://scim.example.test:8585/ecma2host_demo/scim/Users/host.header"
    );
    host.stop().await;
}

#[tokio::test]
async fn unknown_connectors_and_wrong_tokens_get_the_same_401() {
    let host = TestHost::start().await;
    let refusal = |path: &str, token: &str| {
        let request = host
            .client
            .get(format!("https://localhost:{}{path}", host.port))
            .bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            (status, headers, response.bytes().await.unwrap())
        }
    };
    let wrong = refusal("/ecma2host_demo/scim/Users", "not-the-demo-token").await;
    let unknown = refusal("/ecma2host_nosuchconnector/scim/Users", &host.token).await;
    let cased = refusal("/ecma2host_Demo/scim/Users", &host.token).await;
    let prefix = refusal("/ECMA2HOST_demo/scim/Users", &host.token).await;
    for (status, headers, body) in [&wrong, &unknown, &cased, &prefix] {
        let detail = assert_scim_error(*status, headers, body, 401);
        assert_eq!(detail, "missing or invalid bearer token");
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert_eq!(body, &wrong.2, "byte for byte the same body");
    }
    // The exact name with the right token works.
    let (status, _) = host
        .send(Method::GET, "demo", "/Users?count=1", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn refusals_of_the_http_layer_are_scim_errors() {
    let host = TestHost::start().await;
    for (client, version) in [
        (
            client_builder_trusting(&host.certificate)
                .http2_prior_knowledge()
                .build()
                .unwrap(),
            reqwest::Version::HTTP_2,
        ),
        (
            client_builder_trusting(&host.certificate)
                .http1_only()
                .build()
                .unwrap(),
            reqwest::Version::HTTP_11,
        ),
    ] {
        let send = |request: reqwest::RequestBuilder| async move {
            let response = request.send().await.expect("an answer, not a reset");
            assert_eq!(response.version(), version);
            let status = response.status();
            let headers = response.headers().clone();
            (status, headers, response.bytes().await.unwrap())
        };
        let users = host.url("demo", "/Users");
        // 413: a body over the 2 MiB limit.
        let big = format!("{{\"userName\":\"{}\"}}", "x".repeat(2 * 1024 * 1024 + 10));
        let (s, h, b) = send(
            client
                .post(&users)
                .bearer_auth(&host.token)
                .header("Content-Type", "application/scim+json")
                .body(big),
        )
        .await;
        let detail = assert_scim_error(s, &h, &b, 413);
        assert!(detail.contains("limit 2097152"), "{detail}");
        // 401 for a POST with a body, answered before the body is read.
        let (s, h, b) = send(
            client
                .post(&users)
                .bearer_auth("wrong-token-with-a-body")
                .header("Content-Type", "application/scim+json")
                .body(format!("{{\"userName\":\"{}\"}}", "y".repeat(1024 * 1024))),
        )
        .await;
        assert_scim_error(s, &h, &b, 401);
        // 414: a request target over 16 KiB.
        let long = format!("{users}?filter={}", "a".repeat(17 * 1024));
        let (s, h, b) = send(client.get(&long).bearer_auth(&host.token)).await;
        let detail = assert_scim_error(s, &h, &b, 414);
        assert!(detail.contains("max_uri_bytes"), "{detail}");
        // 431: 100 KB of request headers.
        let (s, h, b) = send(
            client
                .get(&users)
                .bearer_auth(&host.token)
                .header("X-Padding", "p".repeat(100 * 1024)),
        )
        .await;
        let detail = assert_scim_error(s, &h, &b, 431);
        assert!(detail.contains("max_header_bytes"), "{detail}");
        // 415-style extractor refusals and an unknown method stay SCIM too.
        let (s, h, b) = send(
            client
                .request(Method::OPTIONS, &users)
                .bearer_auth(&host.token),
        )
        .await;
        assert_scim_error(s, &h, &b, 405);
    }
    host.stop().await;
}

#[tokio::test]
async fn failed_token_checks_are_limited_per_address_with_429() {
    let host = TestHost::start_with(Vec::new(), |dir| {
        let file = dir.join("host.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            format!("{text}\n[limits]\nauth_failures_per_address_per_minute = 5\n"),
        )
        .unwrap();
    })
    .await;
    // Five failures are answered 401: four distinct wrong tokens and one repeated.
    for token in [
        "wrong-1-aaaaaaaa",
        "wrong-2-aaaaaaaa",
        "wrong-3-aaaaaaaa",
        "wrong-4-aaaaaaaa",
        "wrong-1-aaaaaaaa",
    ] {
        let (status, _) = host.send(Method::GET, "demo", "/Users", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
    }
    // The sixth, whatever the token or the connector name, is 429 with Retry-After.
    for (connector, token) in [("demo", "wrong-5-aaaaaaaa"), ("nosuch", "wrong-1-aaaaaaaa")] {
        let response = host
            .client
            .get(host.url(connector, "/Users"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.unwrap();
        let detail = assert_scim_error(status, &headers, &body, 429);
        // 5 per minute: one every 12 s, less the second the 429 was held back.
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((9..=11).contains(&retry), "Retry-After: {retry}");
        assert!(detail.contains("too many failed token checks"), "{detail}");
    }
    // The connector's own token still opens it from the same address.
    let (status, body) = host
        .send(Method::GET, "demo", "/Users?count=1", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    host.stop().await;
}

#[tokio::test]
async fn input_limits_are_scim_400s_that_name_the_limit_and_change_nothing() {
    let host = TestHost::start().await;
    let before = host.rows().await;
    let t = host.token.clone();
    let refuse = |path: &'static str, method: Method, body: Option<String>| {
        let host = &host;
        let t = t.clone();
        async move {
            let (status, body) = host.send(method, "demo", path, &t, body.as_deref()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert_eq!(body["status"], "400");
            body["detail"].as_str().unwrap().to_string()
        }
    };
    // A 900 KB userName, and a 70 KB one: over the 64 KiB default.
    for size in [900 * 1024, 70 * 1024] {
        let detail = refuse("/Users", Method::POST, Some(bare_user(&"u".repeat(size)))).await;
        assert_eq!(
            detail,
            format!("attribute `userName`: the value is {size} bytes; the limit is 65536 bytes (`limits.max_value_bytes`)")
        );
    }
    // NUL, and other control characters, in an identifier.
    let detail = refuse("/Users", Method::POST, Some(bare_user("nul\u{0}user"))).await;
    assert!(
        detail.contains("`userName`") && detail.contains("NUL"),
        "{detail}"
    );
    let detail = refuse("/Users", Method::POST, Some(bare_user("bell\u{7}user"))).await;
    assert!(detail.contains("control characters"), "{detail}");
    // The same through PATCH.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "x\u{1}y"}]
    })
    .to_string();
    let detail = refuse("/Users/alex.wilber", Method::PATCH, Some(patch)).await;
    assert!(detail.contains("control characters"), "{detail}");
    // Invalid UTF-8 in a query parameter, and a NUL in a path id.
    let detail = refuse("/Users?filter=%FF%FE", Method::GET, None).await;
    assert_eq!(
        detail,
        "query parameter `filter` is not valid UTF-8 after percent-decoding"
    );
    let detail = refuse("/Users/alex%00wilber", Method::GET, None).await;
    assert!(detail.contains("control characters"), "{detail}");
    assert_eq!(host.rows().await, before, "nothing reached the target");
    // A value at the limit goes through.
    let (status, body) = host
        .send(
            Method::POST,
            "demo",
            "/Users",
            &t,
            Some(&user(&format!("limit.{}", "l".repeat(1000)))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    host.stop().await;
}
