//! `cargo bench -p ecma-integration-tests --bench membership`: the cost of adding and removing
//! one member of a group of 100, 10,000 and 100,000 members, through the real host (HTTPS,
//! PATCH in Entra's shape) into the demo's SQLite tables by the SQL connector. A user attribute
//! PATCH, measured in the same run, is the baseline. It prints figures; it asserts none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A benchmark fails loudly.

use std::time::{Duration, Instant};

use ecma_integration_tests::TestHost;
use ecmahost::registry::ConnectorSlot;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
/// PATCHes per measured operation and size.
const ROUNDS: usize = 200;

fn patch(operations: serde_json::Value) -> String {
    json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()
}

/// Fill the demo database with `members + ROUNDS` users and a group `Big` holding the first
/// `members` of them, then let the host import them.
async fn fill(host: &TestHost, members: usize) {
    let url = format!("sqlite://{}", host.database().display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    for i in 0..members + ROUNDS {
        sqlx::query("INSERT INTO Employees (Login, AzureID, IsActive) VALUES (?, ?, 1)")
            .bind(format!("u{i:06}"))
            .bind(format!("guid-{i:06}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO Groups (GroupName) VALUES ('Big')")
        .execute(&mut *tx)
        .await
        .unwrap();
    for i in 0..members {
        sqlx::query("INSERT INTO GroupMembers (GroupName, Member) VALUES ('Big', ?)")
            .bind(format!("u{i:06}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let entry = host.host.as_ref().unwrap().registry.get("demo").unwrap();
    let ConnectorSlot::Running(runtime) = entry.slot else {
        panic!("demo connector failed");
    };
    runtime.sync_now().await.unwrap();
}

/// Send one PATCH and return how long it took.
async fn timed(host: &TestHost, path: &str, body: &str) -> Duration {
    let started = Instant::now();
    let (status, answer) = host
        .send(Method::PATCH, "demo", path, &host.token, Some(body))
        .await;
    let took = started.elapsed();
    assert!(
        status == StatusCode::NO_CONTENT || status == StatusCode::OK,
        "{status}: {answer}"
    );
    took
}

fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    format!(
        "mean {:6.3} ms  p50 {:6.3} ms  p99 {:6.3} ms",
        mean,
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 99 / 100])
    )
}

#[tokio::main]
async fn main() {
    println!("one-member PATCH on group Big, {ROUNDS} rounds each, one keep-alive HTTPS client");
    for members in [100usize, 10_000, 100_000] {
        let host = TestHost::start().await;
        fill(&host, members).await;
        // Warm up: the first PATCH after an import computes the group's version once.
        timed(&host, "/Groups/Big", &patch(json!([{"op": "add", "path": "members", "value": [{"value": format!("u{:06}", members)}]}]))).await;
        timed(
            &host,
            "/Groups/Big",
            &patch(
                json!([{"op": "remove", "path": format!("members[value eq \"u{:06}\"]", members)}]),
            ),
        )
        .await;
        let (mut adds, mut removes, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let user = format!("u{:06}", members + round);
            let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
            adds.push(timed(&host, "/Groups/Big", &add).await);
            let remove =
                patch(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
            removes.push(timed(&host, "/Groups/Big", &remove).await);
            let rename = patch(
                json!([{"op": "replace", "path": format!("{EXT}:FirstName"), "value": format!("F{round}")}]),
            );
            baseline.push(timed(&host, &format!("/Users/{user}"), &rename).await);
        }
        println!("{members:>7} members  add     {}", summary(adds));
        println!("{members:>7} members  remove  {}", summary(removes));
        println!(
            "{members:>7} members  user attribute PATCH (baseline)  {}",
            summary(baseline)
        );
        host.stop().await;
    }
}
