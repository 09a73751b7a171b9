//! Target outages: the SQL connector under POST load while its PostgreSQL server (one of the
//! test's own) crashes and comes back. During the outage requests get 503 with `Retry-After`
//! and a SCIM error body, never 400 or 500; the host recovers by itself; every acknowledged
//! create is in the table and in the connector space afterwards.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecma_integration_tests::pg_server::PgServer;
use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

const TOKEN: &str = "outage-connector-token-0123456789";
const CLIENTS: usize = 4;

fn connector(port: u16) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    ExtraConnector {
        file_name: "outage.toml",
        toml: format!(
            r#"version = 1
name = "outage"
token_hash = "{hash}"
plugin = "libecma_sql.so"
object_type = "User"
anchor = "Login"

[[attributes]]
name = "FirstName"

[parameters.connectivity]
driver = "PostgreSQL"
host = "127.0.0.1"
port = {port}
database = "postgres"
user = "postgres"
password = {{ file = "outage.password" }}

[parameters.schema1]
object_types = "User"

[parameters.schema2]
"User:table" = "Users"
"#
        ),
    }
}

/// What one POST got.
struct Answer {
    login: String,
    status: StatusCode,
    retry_after: bool,
    body: serde_json::Value,
}

#[tokio::test]
async fn a_crashed_database_gets_503s_then_recovers_and_loses_no_acknowledged_create() {
    let server = PgServer::start();
    let mut admin = sqlx::PgConnection::connect(&server.url()).await.unwrap();
    sqlx::raw_sql(r#"CREATE TABLE "Users" ("Login" VARCHAR(100) PRIMARY KEY, "FirstName" TEXT)"#)
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let host = Arc::new(
        TestHost::start_with(vec![connector(server.port())], |dir| {
            std::fs::write(
                dir.join("connectors/outage.password"),
                "unused-under-trust\n",
            )
            .unwrap();
        })
        .await,
    );
    host.wait_ready_with("outage", TOKEN).await;

    // CLIENTS clients create users one after another until told to stop (bounded).
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let created_after_restart = Arc::new(AtomicUsize::new(0));
    let restarted = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (host, stop, answers) = (host.clone(), stop.clone(), answers.clone());
        let (restarted, created_after_restart) = (restarted.clone(), created_after_restart.clone());
        clients.push(tokio::spawn(async move {
            for i in 0..5_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let login = format!("user-{client}-{i}");
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": login,
                    "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"FirstName": "Load"}
                });
                let after_restart = restarted.load(Ordering::SeqCst);
                let (status, headers, body) = host
                    .send_full(Method::POST, "outage", "/Users", TOKEN, Some(&body.to_string()))
                    .await;
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    // A client that honours Retry-After does not hammer the host.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if after_restart && status == StatusCode::CREATED {
                    created_after_restart.fetch_add(1, Ordering::SeqCst);
                }
                answers.lock().unwrap().push(Answer {
                    login,
                    status,
                    retry_after: headers.contains_key("retry-after"),
                    body,
                });
            }
        }));
    }
    let count = |status: StatusCode| {
        answers
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.status == status)
            .count()
    };
    // Before: creates go through.
    wait_for(
        || count(StatusCode::CREATED) >= 20,
        "creates before the outage",
    )
    .await;
    server.crash();
    wait_for(
        || count(StatusCode::SERVICE_UNAVAILABLE) >= 5,
        "503s during the outage",
    )
    .await;
    server.start_again();
    restarted.store(true, Ordering::SeqCst);
    // The host reconnects by itself: creates go through again.
    wait_for(
        || created_after_restart.load(Ordering::SeqCst) >= 20,
        "creates after the server came back",
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }

    let answers = std::mem::take(&mut *answers.lock().unwrap());
    for a in &answers {
        match a.status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(a.retry_after, "a 503 without Retry-After: {}", a.body);
                assert_eq!(a.body["status"], "503", "{}", a.body);
                assert_eq!(
                    a.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
                    "{}",
                    a.body
                );
            }
            other => panic!("{} got {other} during the outage: {}", a.login, a.body),
        }
    }
    // Every acknowledged create is in the table and served by the host.
    let mut check = sqlx::PgConnection::connect(&server.url()).await.unwrap();
    let stored: Vec<(String,)> = sqlx::query_as(r#"SELECT "Login" FROM "Users""#)
        .fetch_all(&mut check)
        .await
        .unwrap();
    let stored: std::collections::HashSet<String> = stored.into_iter().map(|(l,)| l).collect();
    let acknowledged: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .collect();
    for a in &acknowledged {
        assert!(
            stored.contains(&a.login),
            "{} was acknowledged and is not in the table",
            a.login
        );
        let (status, body) = host
            .send(
                Method::GET,
                "outage",
                &format!("/Users/{}", a.login),
                TOKEN,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", a.login);
    }
    check.close().await.unwrap();
    match Arc::try_unwrap(host) {
        Ok(host) => host.stop().await,
        Err(_) => panic!("a client still holds the host"),
    }
}

/// Wait (at most 60 s) until `done`.
async fn wait_for(done: impl Fn() -> bool, what: &str) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {what} within 60 s");
}
