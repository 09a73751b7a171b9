//! What a restart does with the persisted connector space (`data_dir/{connector}/space.snapshot`):
//! the host serves the stored objects at once, with no 503 while it reconciles them with the
//! target in the background; changes made in the target meanwhile appear after the reconcile,
//! and an object changed by SCIM during it keeps the SCIM change. A damaged snapshot, or one of
//! another mapping, is set aside with a warning naming it, and the connector imports in full.

use std::path::{Path, PathBuf};

use ecma_integration_tests::{log_capture, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SNAP_TOKEN: &str = "snap-token-0123456789abcdef0123";

/// The faulty connector `snap`, keeping its objects in `snap-store.tsv` and holding its imports
/// while `snap-gate` exists.
fn write_snap_connector(dir: &Path) {
    let hash = ecmahost::token::hash_token(SNAP_TOKEN).unwrap();
    let toml = format!(
        "version = 1\nname = \"snap\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\n\
         object_type = \"User\"\nanchor = \"Id\"\n[[attributes]]\nname = \"Name\"\n\
         [parameters.connectivity]\nstore_file = \"{}\"\nimport_gate = \"{}\"\n",
        store(dir).display(),
        gate(dir).display()
    );
    std::fs::write(dir.join("connectors/snap.toml"), toml).unwrap();
}

fn store(dir: &Path) -> PathBuf {
    dir.join("snap-store.tsv")
}

fn gate(dir: &Path) -> PathBuf {
    dir.join("snap-gate")
}

/// `id -> Name` of every user `snap` serves, from one GET that must answer 200.
async fn snap_names(host: &TestHost) -> Vec<(String, String)> {
    let (status, body) = host
        .send(Method::GET, "snap", "/Users?count=100", SNAP_TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names: Vec<(String, String)> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r[EXT]["Name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    names.sort();
    names
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The files in `dir` whose names start with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_restart_serves_the_snapshot_at_once_and_reconciles_in_the_background() {
    let mut host = TestHost::start_with(Vec::new(), write_snap_connector).await;
    host.wait_ready_with("snap", SNAP_TOKEN).await;
    for (id, name) in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")] {
        let user = json!({"schemas": [CORE_USER, EXT], "userName": id, EXT: {"Name": name}});
        let (status, body) = host
            .send(
                Method::POST,
                "snap",
                "/Users",
                SNAP_TOKEN,
                Some(&user.to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let before = pairs(&[("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")]);
    assert_eq!(snap_names(&host).await, before);

    // While the host is down, the target changes behind its back, and its imports will wait.
    host.restart_after(|dir| {
        let text = std::fs::read_to_string(store(dir)).unwrap();
        let text = text.replace("s:Bob", "s:Robert") + "dora\tName\ts:Dora\n";
        std::fs::write(store(dir), text).unwrap();
        std::fs::write(gate(dir), "").unwrap();
    })
    .await;
    // The very first request is answered from the snapshot, while the reconcile runs.
    assert_eq!(snap_names(&host).await, before);
    let status = host
        .wait_status("snap", |s| s["import"]["kind"] == "full")
        .await;
    assert_eq!(status["state"], "ready", "{status}");
    assert_eq!(snap_names(&host).await, before);
    // A change made by SCIM during the reconcile is the one that stays.
    let rename = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": format!("{EXT}:Name"), "value": "Caroline"}]});
    let (status, body) = host
        .send(
            Method::PATCH,
            "snap",
            "/Users/carol",
            SNAP_TOKEN,
            Some(&rename.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    std::fs::remove_file(gate(host.dir.path())).unwrap();
    let after = pairs(&[
        ("alice", "Alice"),
        ("bob", "Robert"),
        ("carol", "Caroline"),
        ("dora", "Dora"),
    ]);
    let mut served = Vec::new();
    for _ in 0..400 {
        served = snap_names(&host).await;
        if served == after {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(served, after, "the reconcile brings the target's changes");
    host.stop().await;
}

/// Stop the host, let `edit` change the folder, start it again and wait for `demo`.
async fn restart_demo(host: &mut TestHost, edit: impl FnOnce(&Path)) {
    host.restart_after(edit).await;
    host.wait_ready("demo").await;
}

fn logged_warning_about(file: &Path, reason: &str) -> bool {
    let file = file.display().to_string();
    log_capture::all_lines()
        .iter()
        .any(|l| l.contains("snapshot not used") && l.contains(&file) && l.contains(reason))
}

async fn adele(host: &TestHost) -> Json {
    let (status, body) = host
        .send(Method::GET, "demo", "/Users/adele.vance", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_corrupt_snapshot_is_set_aside_and_the_connector_imports_in_full() {
    let mut host = TestHost::start().await;
    let data = host.dir.path().join("data/demo");
    let snapshot = data.join("space.snapshot");
    // A first restart writes the snapshot at shutdown and serves from it.
    host.restart().await;
    assert!(snapshot.is_file(), "{} written", snapshot.display());
    assert_eq!(adele(&host).await[EXT]["Department"], "Retail");

    restart_demo(&mut host, |_| {
        let mut bytes = std::fs::read(&snapshot).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        std::fs::write(&snapshot, bytes).unwrap();
    })
    .await;
    let aside = files_starting(&data, "space.snapshot.corrupt-");
    assert_eq!(aside.len(), 1, "set aside: {aside:?}");
    assert!(
        logged_warning_about(&snapshot, "checksum"),
        "a warning names {} and the reason",
        snapshot.display()
    );
    // The full import refilled the space.
    assert_eq!(adele(&host).await[EXT]["Department"], "Retail");
    let (status, list) = host
        .send(Method::GET, "demo", "/Users?count=100", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 3, "{list}");
    host.stop().await;
}

#[tokio::test]
async fn a_changed_mapping_invalidates_the_snapshot() {
    const DEPARTMENT: &str = "[[attributes]]\nname = \"Department\"\n";
    let mut host = TestHost::start_with(Vec::new(), |dir| {
        let file = dir.join("connectors/demo.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(DEPARTMENT));
        std::fs::write(&file, text.replace(DEPARTMENT, "")).unwrap();
    })
    .await;
    let data = host.dir.path().join("data/demo");
    let snapshot = data.join("space.snapshot");
    assert!(adele(&host).await[EXT].get("Department").is_none());
    let created = adele(&host).await["meta"]["created"].clone();

    // The administrator maps Department while the host is down.
    restart_demo(&mut host, |dir| {
        let file = dir.join("connectors/demo.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.replacen(
            "[[attributes]]\n",
            &format!("{DEPARTMENT}\n[[attributes]]\n"),
            1,
        );
        std::fs::write(&file, text).unwrap();
    })
    .await;
    assert_eq!(
        files_starting(&data, "space.snapshot.incompatible-").len(),
        1
    );
    assert!(
        logged_warning_about(&snapshot, "configuration"),
        "a warning names {} and the reason",
        snapshot.display()
    );
    let adele = adele(&host).await;
    assert_eq!(adele[EXT]["Department"], "Retail", "{adele}");
    // Its timestamps still came from the set-aside snapshot.
    assert_eq!(adele["meta"]["created"], created);
    host.stop().await;
}
