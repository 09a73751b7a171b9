//! Target outages: the SQL connector under POST load while its PostgreSQL server (one of the
//! test's own) crashes and comes back. During the outage requests get 503 with `Retry-After`
//! and a SCIM error body, never 400 or 500; the host recovers by itself; every acknowledged
//! create is in the table and in the connector space afterwards. The same for the host itself
//! killed (`kill -9`) while an export batch is in the middle of its transaction.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::process::{demo_folder, Serving};
use ecma_integration_tests::pg_server::PgServer;
use ecma_integration_tests::{client_trusting, ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};
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

/// Create the connector's table in `server`; returns the connection that did it.
async fn users_table(server: &PgServer) -> sqlx::PgConnection {
    let mut admin = sqlx::PgConnection::connect(&server.url()).await.unwrap();
    sqlx::raw_sql(r#"CREATE TABLE "Users" ("Login" VARCHAR(100) PRIMARY KEY, "FirstName" TEXT)"#)
        .execute(&mut admin)
        .await
        .unwrap();
    admin
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
    users_table(&server).await.close().await.unwrap();
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

/// Create `login` through the host at `url`; the answer, or `None` when there was none.
async fn create(client: &reqwest::Client, url: &str, login: &str) -> Option<(StatusCode, Json)> {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": login,
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"FirstName": "Load"}
    });
    let sent = client
        .post(url)
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .ok()?;
    let status = sent.status();
    Some((status, sent.json().await.unwrap_or(Json::Null)))
}

/// The host's answer to `GET {url}{path}`, or `None` while it does not answer.
async fn get(client: &reqwest::Client, url: &str, path: &str) -> Option<(StatusCode, Json)> {
    let response = client
        .get(format!("{url}{path}"))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = response.status();
    Some((status, response.json().await.unwrap_or(Json::Null)))
}

async fn stored_logins(server: &PgServer) -> HashSet<String> {
    let mut check = sqlx::PgConnection::connect(&server.url()).await.unwrap();
    let stored: Vec<(String,)> = sqlx::query_as(r#"SELECT "Login" FROM "Users""#)
        .fetch_all(&mut check)
        .await
        .unwrap();
    check.close().await.unwrap();
    stored.into_iter().map(|(l,)| l).collect()
}

#[tokio::test]
async fn a_host_killed_in_the_middle_of_an_export_batch_loses_no_acknowledged_create() {
    let server = PgServer::start();
    let mut admin = users_table(&server).await;
    let (dir, setup, port) = demo_folder("").await;
    let outage = connector(server.port());
    std::fs::write(
        dir.path().join("connectors").join(outage.file_name),
        outage.toml,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("connectors/outage.password"),
        "unused-under-trust\n",
    )
    .unwrap();
    let mut host = Serving::start(&setup.host_config);
    let client = client_trusting(&setup.certificate);
    let url = format!("https://localhost:{port}/ecma2host_outage/scim");
    wait_until_ready(&client, &url).await;

    // Clients create users one after another; the kill ends them.
    let answers = Arc::new(Mutex::new(Vec::<(String, Option<StatusCode>)>::new()));
    let mut clients = Vec::new();
    for c in 0..CLIENTS * 2 {
        let (client, url, answers) = (client.clone(), format!("{url}/Users"), answers.clone());
        clients.push(tokio::spawn(async move {
            for i in 0..5_000 {
                let login = format!("user-{c}-{i}");
                let status = create(&client, &url, &login).await.map(|(s, _)| s);
                answers.lock().unwrap().push((login, status));
                if status.is_none() {
                    break;
                }
            }
        }));
    }
    let acknowledged = |answers: &[(String, Option<StatusCode>)]| {
        answers
            .iter()
            .filter(|(_, s)| *s == Some(StatusCode::CREATED))
            .count()
    };
    wait_for(
        || acknowledged(&answers.lock().unwrap()) >= 50,
        "creates before the kill",
    )
    .await;
    // Hold the table: the next export batch waits inside its transaction, at its INSERT.
    sqlx::raw_sql(r#"BEGIN; LOCK TABLE "Users" IN ACCESS EXCLUSIVE MODE"#)
        .execute(&mut admin)
        .await
        .unwrap();
    let mut waiting = Vec::<(String,)>::new();
    for _ in 0..300 {
        waiting = sqlx::query_as(
            "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND state = 'active' AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        if waiting.iter().any(|(q,)| q.contains("INSERT")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !waiting.iter().any(|(q,)| q.contains("INSERT")) {
        let activity: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT state, wait_event_type, query FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        let answers = answers.lock().unwrap();
        let last: Vec<_> = answers.iter().rev().take(10).collect();
        panic!(
            "no export batch waited at its INSERT: {waiting:?}; activity {activity:?}; \
             {} answers, the last {last:?}; the host exited: {:?}; its log ends:\n{}",
            answers.len(),
            host.try_wait(),
            host.log_tail(30)
        );
    }
    host.kill_9();
    sqlx::raw_sql("ROLLBACK").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    for (login, status) in &answers {
        assert!(
            matches!(*status, None | Some(StatusCode::CREATED)),
            "{login} got {status:?} before the kill"
        );
    }

    // After the restart: every acknowledged create is in the table, once, and the connector
    // space (reconciled in the background) serves exactly what the table holds.
    host.restart();
    wait_until_ready(&client, &url).await;
    let stored = stored_logins(&server).await;
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter(|(_, s)| *s == Some(StatusCode::CREATED))
        .map(|(l, _)| l)
        .collect();
    for login in &acknowledged {
        assert!(
            stored.contains(*login),
            "{login} was acknowledged and is not in the table"
        );
    }
    let mut served = Json::Null;
    for _ in 0..300 {
        if let Some((StatusCode::OK, list)) = get(&client, &url, "/Users?count=10000").await {
            if list["totalResults"] == stored.len() {
                served = list;
                break;
            }
            served = list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        served["totalResults"],
        stored.len(),
        "the space matches the table"
    );
    let names: HashSet<&str> = served["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), stored.len(), "no user twice");
    assert!(names.iter().all(|n| stored.contains(*n)));
    // Creating again what the kill cut off works (nothing half-written is in the way).
    let lost: Vec<&String> = answers
        .iter()
        .filter(|(l, s)| s.is_none() && !stored.contains(l))
        .map(|(l, _)| l)
        .collect();
    assert!(!lost.is_empty(), "the kill cut off the batch's creates");
    for login in lost {
        let answer = create(&client, &format!("{url}/Users"), login).await;
        assert!(
            matches!(answer, Some((StatusCode::CREATED, _))),
            "{login} again: {answer:?}"
        );
    }
}

/// Wait (at most 60 s) until the host answers the connector's list with a 200.
async fn wait_until_ready(client: &reqwest::Client, url: &str) {
    for _ in 0..600 {
        if let Some((StatusCode::OK, _)) = get(client, url, "/Users?count=1").await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the host at {url} did not become ready within 60 s");
}
