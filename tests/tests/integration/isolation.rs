//! `isolation = "process"`: a library that segfaults or aborts ends only its worker process.
//! The request it was serving gets 503 with `Retry-After` and a SCIM body, the next request
//! gets a new worker, the other connectors never notice, and a hot swap ends the old worker.
//! In process (the default) the same crash ends the host, which is why the mode exists.

use std::time::Duration;

use crate::process::{demo_folder, Serving};
use ecma_integration_tests::{client_trusting, plugin_dir};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value as Json};

const TOKEN: &str = "isolated-connector-token-0123456789";

/// A demo folder with the faulty connector beside the demo one, with `isolation` (a TOML line
/// or nothing); returns the folder, the running host and the faulty connector's base URL.
async fn host_with_faulty(isolation: &str) -> (tempfile::TempDir, Serving, Client, String, String) {
    let (dir, setup, port) = demo_folder("").await;
    std::fs::copy(
        plugin_dir().join("libecma_faulty.so"),
        dir.path().join("ECMA/libecma_faulty.so"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("connectors/faulty.toml"),
        faulty_toml(isolation, 100),
    )
    .unwrap();
    let host = Serving::start(&setup.host_config);
    let client = client_trusting(&setup.certificate);
    let url = format!("https://localhost:{port}/ecma2host_faulty/scim");
    let demo = format!("https://localhost:{port}/ecma2host_demo/scim");
    wait_ready(&client, &url, TOKEN, &host).await;
    wait_ready(&client, &demo, &setup.token, &host).await;
    (dir, host, client, url, format!("{demo}\n{}", setup.token))
}

fn faulty_toml(isolation: &str, page_size: u32) -> String {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    format!(
        "version = 1\nname = \"faulty\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\n\
         object_type = \"User\"\nanchor = \"Id\"\nexport_page_size = {page_size}\n{isolation}\n\
         [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n"
    )
}

async fn wait_ready(client: &Client, url: &str, token: &str, host: &Serving) {
    for _ in 0..600 {
        if let Ok(r) = client
            .get(format!("{url}/Users?count=1"))
            .bearer_auth(token)
            .send()
            .await
        {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{url} did not become ready within 60 s: {}",
        host.log_tail(40)
    );
}

/// POST a user whose `Mode` tells the faulty connector what to do; `None` when the host gave
/// no answer at all.
async fn create(
    client: &Client,
    url: &str,
    id: &str,
    mode: &str,
) -> Option<(StatusCode, Option<String>, Json)> {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": id,
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": id, "Mode": mode}
    });
    let response = client
        .post(format!("{url}/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Some((status, retry, response.json().await.unwrap_or(Json::Null)))
}

/// The worker pids the host's log names, in start order.
fn worker_pids(host: &Serving) -> Vec<u32> {
    host.log_tail(10_000)
        .lines()
        .filter(|l| l.contains("started a connector worker process"))
        .filter_map(|l| {
            let rest = &l[l.find(" pid=")? + 5..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_an_isolated_library_fails_only_its_request_and_a_new_worker_serves_on() {
    let (_dir, mut host, client, url, demo) = host_with_faulty("isolation = \"process\"").await;
    let (demo_url, demo_token) = demo.split_once('\n').unwrap();
    let first = worker_pids(&host);
    assert_eq!(first.len(), 1, "one worker at start: {}", host.log_tail(40));

    for (crash, signal) in [("segfault", "SIGSEGV"), ("abort", "SIGABRT")] {
        let answer = create(&client, &url, &format!("{crash}-1"), crash).await;
        let (status, retry, body) =
            answer.unwrap_or_else(|| panic!("no answer to the {crash}: {}", host.log_tail(40)));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{crash}: {body}");
        assert!(retry.is_some(), "{crash}: 503 without Retry-After");
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or("")
                .contains("worker process ended"),
            "{body}"
        );
        assert!(host.try_wait().is_none(), "the host died with its worker");
        assert!(
            host.log_tail(200).contains(signal),
            "the log does not say {signal}: {}",
            host.log_tail(40)
        );

        // The next request gets a new worker.
        let ok = format!("after-{crash}");
        let (status, _, body) = create(&client, &url, &ok, "").await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "after the {crash}: {body}");
        let read = client
            .get(format!("{url}/Users/{ok}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::OK);
    }
    let pids = worker_pids(&host);
    assert_eq!(pids.len(), 3, "a new worker after each crash: {pids:?}");
    assert!(
        pids.iter().take(2).all(|p| !alive(*p)),
        "crashed workers are gone"
    );
    assert!(alive(pids[2]), "the current worker runs");

    // The crashed user was never stored; the other connector never noticed.
    let missing = client
        .get(format!("{url}/Users/segfault-1"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let demo = client
        .get(format!("{demo_url}/Users?count=1"))
        .bearer_auth(demo_token)
        .send()
        .await
        .unwrap();
    assert_eq!(demo.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_swap_of_an_isolated_connector_ends_the_old_worker() {
    let (dir, host, client, url, _) = host_with_faulty("isolation = \"process\"").await;
    let (status, _, body) = create(&client, &url, "before-swap", "").await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let old = worker_pids(&host);
    assert_eq!(old.len(), 1, "{}", host.log_tail(40));

    // A changed connector file is a new version: built beside the old one, then swapped in.
    std::fs::write(
        dir.path().join("connectors/faulty.toml"),
        faulty_toml("isolation = \"process\"", 50),
    )
    .unwrap();
    for _ in 0..300 {
        if worker_pids(&host).len() == 2 && !alive(old[0]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pids = worker_pids(&host);
    assert_eq!(
        pids.len(),
        2,
        "the swap starts a new worker: {}",
        host.log_tail(40)
    );
    assert!(!alive(old[0]), "the old worker still runs after the swap");
    assert!(alive(pids[1]));
    assert!(host
        .log_tail(200)
        .contains("stopped a connector worker process"));

    // The swapped-in version serves, from the same connector space.
    let (status, _, body) = create(&client, &url, "after-swap", "").await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let read = client
        .get(format!("{url}/Users/before-swap"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segfault_in_an_in_process_library_ends_the_host() {
    let (_dir, mut host, client, url, _) = host_with_faulty("").await;
    assert!(worker_pids(&host).is_empty(), "no worker in process mode");
    let answer = create(&client, &url, "segfault-1", "segfault").await;
    assert!(
        answer.is_none(),
        "an answer from a crashed host: {answer:?}"
    );
    let mut status = None;
    for _ in 0..100 {
        status = host.try_wait();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.and_then(|s| s.signal()), Some(11), "{status:?}");
}
