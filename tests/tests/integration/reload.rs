//! Hot reload: replacing a library or a connector file while the host serves. No request may
//! fail because of a swap; a broken build must leave the old version serving.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;

const LIB: &str = "libecma_sql.so";
const SECOND_TOKEN: &str = "second-connector-token-1";

/// Publish `bytes` as the library, the documented way: a temp file, then a rename.
fn publish(host: &TestHost, bytes: &[u8]) {
    let ecma = host.dir.path().join("ECMA");
    std::fs::write(ecma.join(".publish.tmp"), bytes).unwrap();
    std::fs::rename(ecma.join(".publish.tmp"), ecma.join(LIB)).unwrap();
}

/// The same library with a different content hash: bytes appended after the ELF image are
/// ignored by the loader.
fn new_build(original: &[u8], n: usize) -> Vec<u8> {
    let mut bytes = original.to_vec();
    bytes.extend_from_slice(format!("\0build-{n}").as_bytes());
    bytes
}

/// A second connector over the same table and library.
fn second_connector(host_dir: &std::path::Path) -> ExtraConnector {
    let demo = std::fs::read_to_string(host_dir.join("connectors/demo.toml")).unwrap();
    let hash = ecmahost::token::hash_token(SECOND_TOKEN).unwrap();
    let mut renamed = false;
    let text: String = demo
        .lines()
        .map(|l| match l {
            // Only the connector's own name, the first `name =` line; attributes have names too.
            l if l.starts_with("name =") && !renamed => {
                renamed = true;
                "name = \"second\"".to_string()
            }
            l if l.starts_with("token_hash =") => format!("token_hash = \"{hash}\""),
            l => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    ExtraConnector {
        file_name: "second.toml",
        toml: text,
    }
}

#[tokio::test]
async fn library_swaps_under_load_fail_no_request() {
    // The second connector is written after the demo folder exists, so it can copy demo.toml.
    let host = TestHost::start_with(Vec::new(), |dir| {
        let second = second_connector(dir);
        std::fs::write(dir.join("connectors").join(second.file_name), second.toml).unwrap();
    })
    .await;
    host.wait_status("second", |s| s["state"] == "ready").await;
    let original = std::fs::read(host.dir.path().join("ECMA").join(LIB)).unwrap();
    let host = Arc::new(host);

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for worker in 0..6 {
        let (host, stop, ok, failed) = (host.clone(), stop.clone(), ok.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (status, body) = if worker % 2 == 0 {
                    host.send(Method::GET, "demo", "/Users?filter=userName+eq+%22alex.wilber%22", &host.token, None).await
                } else {
                    let user = json!({"userName": format!("load-{worker}-{n}"), "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]});
                    host.send(Method::POST, "demo", "/Users", &host.token, Some(&user.to_string())).await
                };
                if status.is_success() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("request failed during swaps: {status} {body}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    for swap in 1..=3 {
        let before = host.status("demo").await["content_hash"].clone();
        publish(&host, &new_build(&original, swap));
        for connector in ["demo", "second"] {
            let status = host
                .wait_status(connector, |s| s["reloads_ok"] == swap)
                .await;
            assert_eq!(status["state"], "ready");
            assert_ne!(status["content_hash"], before);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request may fail because of a swap"
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    let status = host.status("demo").await;
    assert_eq!(status["versions_loaded"], 4, "{status}");
    // Each swap kept the connector space: every created user is still found, and in the table.
    let rows = host.rows().await.len();
    let (_, list) = host
        .send(Method::GET, "demo", "/Users?count=0", &host.token, None)
        .await;
    assert_eq!(list["totalResults"].as_u64().unwrap() as usize, rows);
    Arc::into_inner(host).unwrap().stop().await;
}

#[tokio::test]
async fn a_broken_build_leaves_the_old_version_serving() {
    let host = TestHost::start().await;
    let before = host.status("demo").await;
    let good = std::fs::read(host.dir.path().join("ECMA").join(LIB)).unwrap();
    publish(&host, b"\x7fELF but truncated garbage");
    let status = host.wait_status("demo", |s| s["reloads_failed"] == 1).await;
    assert!(
        status["last_reload_error"]
            .as_str()
            .unwrap()
            .contains("is not a connector library"),
        "{status}"
    );
    assert_eq!(status["content_hash"], before["content_hash"]);
    assert_eq!(status["state"], "ready");
    let (code, body) = host
        .send(Method::GET, "demo", "/Users/adele.vance", &host.token, None)
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");

    // The same broken content again is not retried; fixing the file recovers.
    assert_eq!(host.status("demo").await["reloads_failed"], 1);
    publish(&host, &new_build(&good, 1));
    let status = host.wait_status("demo", |s| s["reloads_ok"] == 1).await;
    assert!(status.get("last_reload_error").is_none(), "{status}");
    host.stop().await;
}

#[tokio::test]
async fn same_content_changes_nothing() {
    let host = TestHost::start().await;
    let registry = host.host.as_ref().unwrap().registry.clone();
    let outcomes = registry.library_changed(LIB).await;
    assert_eq!(
        outcomes,
        vec![(
            "demo".to_string(),
            ecmahost::registry::ReloadOutcome::Unchanged
        )]
    );
    let status = host.status("demo").await;
    assert_eq!(status["versions_loaded"], 1);
    assert_eq!(status["reloads_ok"], 0);
    host.stop().await;
}

#[tokio::test]
async fn a_config_change_reloads_and_reuses_the_loaded_library() {
    let host = TestHost::start().await;
    let file = host.dir.path().join("connectors/demo.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("export_page_size = 100", "export_page_size = 7");
    std::fs::write(&file, text).unwrap();
    let status = host.wait_status("demo", |s| s["reloads_ok"] == 1).await;
    assert_eq!(
        status["versions_loaded"], 1,
        "the unchanged library is reused: {status}"
    );
    // Three users and two groups.
    assert_eq!(status["objects"], 5, "the connector space is carried over");
    let (code, _) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &host.token, None)
        .await;
    assert_eq!(code, StatusCode::OK);

    // An invalid edit is refused and the running version serves on.
    std::fs::write(&file, "version = 1\nname = \"demo\"\n").unwrap();
    let status = host.wait_status("demo", |s| s["reloads_failed"] == 1).await;
    assert!(
        status["last_reload_error"]
            .as_str()
            .unwrap()
            .contains("demo.toml"),
        "{status}"
    );
    let (code, _) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &host.token, None)
        .await;
    assert_eq!(code, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn status_and_metrics_report_loaded_versions() {
    let host = TestHost::start().await;
    let status = host.status("demo").await;
    assert_eq!(status["state"], "ready");
    assert_eq!(status["objects"], 5);
    assert_eq!(status["plugin"], "sql");
    let addr = host.host.as_ref().unwrap().admin_addr.unwrap();
    let metrics = host
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ecmahost_plugin_versions_loaded{connector=\"demo\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains(&host.token));
    host.stop().await;
}

#[tokio::test]
async fn unused_cache_files_are_removed_at_start() {
    let host = TestHost::start_with(Vec::new(), |dir| {
        std::fs::create_dir_all(dir.join("ECMA/Cache/demo")).unwrap();
        std::fs::write(
            dir.join("ECMA/Cache/demo/libecma_sql-0000000000000000.so"),
            b"old",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("ECMA/Cache/gone")).unwrap();
        std::fs::write(
            dir.join("ECMA/Cache/gone/libold-1111111111111111.so"),
            b"old",
        )
        .unwrap();
    })
    .await;
    let cache = host.dir.path().join("ECMA/Cache");
    assert!(!cache.join("demo/libecma_sql-0000000000000000.so").exists());
    assert!(!cache.join("gone").exists());
    // Left: the loaded copy, and the stamp that spares the next start hashing the library.
    let mut left: Vec<String> = std::fs::read_dir(cache.join("demo"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left[0].starts_with("libecma_sql-") && left[0].ends_with(".so"));
    assert_eq!(left[1], "libecma_sql.stamp");
    host.stop().await;
}
