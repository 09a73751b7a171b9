//! `cargo bench -p ecma-integration-tests --bench webservices`: SCIM POST throughput through the
//! host and the web services connector into the People API (HTTPS, OAuth2, the `rest-users`
//! example without its rate limit), with 32 clients, next to the API's own rate for the same
//! creates sent to it directly, in the same run. It prints figures; it asserts none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A benchmark fails loudly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ecma_integration_tests::people_api::{PeopleApi, CLIENT_ID, CLIENT_SECRET};
use ecma_integration_tests::{client_trusting, webservices_plugin, ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;

const CLIENTS: usize = 32;
const SECONDS: u64 = 10;
const TOKEN: &str = "people-bench-token-1";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

struct Phase {
    requests: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Phase {
    fn row(&mut self, name: &str) -> String {
        self.latencies.sort();
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len() - 1);
            self.latencies[i].as_secs_f64() * 1000.0
        };
        format!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms |",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            at(0.5),
            at(0.99)
        )
    }
}

/// `CLIENTS` tasks sending `send(client, i)` until `SECONDS` pass; each must succeed.
async fn run<F, Fut>(send: F) -> Phase
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = StatusCode> + Send,
{
    let send = Arc::new(send);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let status = send(client, i).await;
                    assert!(status.is_success(), "request failed: {status}");
                    latencies.push(t.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Phase {
        requests: latencies.len(),
        latencies,
        elapsed: started.elapsed(),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let api = PeopleApi::start().await;
        // The example without its rate limit: the bench measures the connector, not the limit.
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project.toml");
        let example = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../plugins/webservices/examples/rest-users/project.toml"),
        )
        .unwrap()
        .replace("rate_limit_per_second = 500\n", "");
        std::fs::write(&project, example).unwrap();
        let hash = ecmahost::token::hash_token(TOKEN).unwrap();
        let connector = ExtraConnector {
            file_name: "people.toml",
            toml: api.connector_file(&project, &hash.to_string()),
        };
        let host = Arc::new(
            TestHost::start_with(vec![connector], |d| {
                std::fs::copy(webservices_plugin(), d.join("ECMA/libecma_webservices.so"))
                    .unwrap();
                std::fs::write(d.join("connectors/people.secret"), CLIENT_SECRET).unwrap();
            })
            .await,
        );
        host.wait_status("people", |s| s["state"] == "ready").await;

        let through = {
            let host = host.clone();
            run(move |client, i| {
                let host = host.clone();
                async move {
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
                        "userName": format!("host-{client}-{i}"),
                        EXT: {"displayName": "Bench User", "email": format!("h{client}.{i}@contoso.example"), "department": "Bench"}
                    })
                    .to_string();
                    host.send(Method::POST, "people", "/Users", TOKEN, Some(&body)).await.0
                }
            })
            .await
        };

        let client = client_trusting(api.certificate());
        let token: serde_json::Value = client
            .post(format!("https://localhost:{}/oauth/token", api.addr.port()))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
        let url = format!("https://localhost:{}/api/users", api.addr.port());
        let direct = run(move |client_no, i| {
            let (client, bearer, url) = (client.clone(), bearer.clone(), url.clone());
            async move {
                client
                    .post(url)
                    .header("authorization", bearer)
                    .json(&json!({"userName": format!("direct-{client_no}-{i}"), "displayName": "Bench User",
                                  "email": format!("d{client_no}.{i}@contoso.example"), "department": "Bench"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        })
        .await;
        let (mut through, mut direct) = (through, direct);
        println!("{CLIENTS} clients, {SECONDS} s per phase; users in the API at the end: {}", api.store().users.len());
        println!("| path | creates/s | p50 | p99 |\n|---|---:|---:|---:|");
        println!("{}", through.row("SCIM POST through the host and the connector"));
        println!("{}", direct.row("POST /api/users directly (same API, same TLS)"));
        drop(host);
    });
}
