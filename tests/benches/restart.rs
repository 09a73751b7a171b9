//! `cargo bench -p ecma-integration-tests --bench restart`: a restart with a large connector
//! space, from exec to the first answered GET, with the persisted snapshot and (the baseline, in
//! the same run) without it. It runs the release `ecmahost` executable and SQL connector
//! (`cargo build --release -p ecmahost --bin ecmahost` and `cargo build --release -p
//! ecma-sql-connector --lib` first; or set `ECMA_RELEASE_DIR`) over the demo folder, whose `Employees` table a recursive CTE fills with
//! `ECMA_RESTART_OBJECTS` users (default 1,000,000). It prints figures; it asserts none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A benchmark fails loudly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use ecma_integration_tests::client_trusting;
use sqlx::Connection;

fn release_dir() -> PathBuf {
    std::env::var_os("ECMA_RELEASE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"))
}

fn free_port() -> u16 {
    // The admin listener takes the next port: find two free in a row.
    loop {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// One run of the host: the process and when it was started.
struct Run {
    child: Child,
    started: Instant,
}

fn exec(host_config: &Path) -> Run {
    let started = Instant::now();
    let child = Command::new(release_dir().join("ecmahost"))
        .arg("serve")
        .arg("--config")
        .arg(host_config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run the release ecmahost");
    Run { child, started }
}

/// Poll (every 5 ms, for at most 30 minutes) until a GET of one user (as Entra reads one) is
/// answered 200.
async fn first_answer(client: &reqwest::Client, url: &str, token: &str, run: &Run) -> Duration {
    for _ in 0..360_000 {
        if let Ok(response) = client.get(url).bearer_auth(token).send().await {
            if response.status() == reqwest::StatusCode::OK {
                return run.started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no answer in 30 minutes");
}

/// Poll `/status` until the demo connector's last import ended and none runs.
async fn reconciled(client: &reqwest::Client, admin: &str, run: &Run) -> Duration {
    for _ in 0..36_000 {
        if let Ok(response) = client.get(format!("{admin}/status")).send().await {
            if let Ok(body) = response.json::<serde_json::Value>().await {
                let demo = &body["connectors"][0];
                if demo["import"].is_null() && demo["last_import"].is_object() {
                    return run.started.elapsed();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no import ended in 30 minutes");
}

/// SIGTERM (the host writes its snapshot on the way out), then wait; how long that took.
fn stop(mut run: Run) -> Duration {
    let started = Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(run.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    run.child.wait().unwrap();
    started.elapsed()
}

async fn fill(database: &Path, objects: u64) -> Duration {
    let started = Instant::now();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
         INSERT INTO Employees (Login, AzureID, FirstName, LastName, Email, Department, IsActive)
         SELECT printf('u%07d', i), printf('guid-%07d', i), 'First', printf('Last%d', i),
                printf('u%07d@contoso.example', i), 'Sales', 1 FROM n",
    )
    .bind(i64::try_from(objects).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let objects: u64 = std::env::var("ECMA_RESTART_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let setup = ecmahost::demo::prepare(
        dir.path(),
        std::net::Ipv4Addr::LOCALHOST.into(),
        port,
        &release_dir().join("libecma_sql.so"),
    )
    .await
    .unwrap();
    let filled = fill(&dir.path().join("data/demo.db"), objects).await;
    println!("filled {objects} rows in {}", ms(filled));
    let client = client_trusting(&setup.certificate);
    let url = format!("https://localhost:{port}/ecma2host_demo/scim/Users/u0000000");
    let admin = format!("http://127.0.0.1:{}", port + 1);
    let snapshot = dir.path().join("data/demo/space.snapshot");

    // The first start has no snapshot: it imports everything before it answers.
    let run = exec(&setup.host_config);
    let cold = first_answer(&client, &url, &setup.token, &run).await;
    let shutdown = stop(run);
    let size = std::fs::metadata(&snapshot).map(|m| m.len()).unwrap_or(0);
    println!("first start, no snapshot: first answer after {}", ms(cold));
    println!(
        "shutdown (writes the snapshot, {:.1} MB): {}",
        size as f64 / 1e6,
        ms(shutdown)
    );

    let run = exec(&setup.host_config);
    let with = first_answer(&client, &url, &setup.token, &run).await;
    let reconcile = reconciled(&client, &admin, &run).await;
    stop(run);
    println!(
        "restart with the snapshot: first answer after {}; reconcile (full import) done after {}",
        ms(with),
        ms(reconcile)
    );

    std::fs::remove_file(&snapshot).unwrap();
    let run = exec(&setup.host_config);
    let without = first_answer(&client, &url, &setup.token, &run).await;
    stop(run);
    println!(
        "restart without a snapshot (baseline): first answer after {}",
        ms(without)
    );
    println!(
        "| objects | with snapshot | without (baseline) | reconcile done | snapshot size |\n|---|---|---|---|---|\n| {objects} | {} | {} | {} | {:.1} MB |",
        ms(with),
        ms(without),
        ms(reconcile),
        size as f64 / 1e6
    );
}
