//! Checks made when a connector is built, as a user sees them: a typo in a plugin parameter,
//! a host anchor the plugin does not use, a key that needs a capability the connector lacks,
//! an unknown partition, refused at start-up (in `/status` and the 503) and at hot reload
//! (the old version serves on). And partitions end to end: the test-only faulty connector
//! poses as a partitioned directory and records the partition each import and export named.

use std::path::{Path, PathBuf};

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;

const TOKEN: &str = "checks-connector-token-1";

/// The demo connector's file, as a second connector `name` with `edit` applied.
fn demo_copy(dir: &Path, name: &str, edit: impl Fn(String) -> String) {
    let text = std::fs::read_to_string(dir.join("connectors/demo.toml"))
        .unwrap()
        .replace("name = \"demo\"", &format!("name = \"{name}\""));
    std::fs::write(dir.join(format!("connectors/{name}.toml")), edit(text)).unwrap();
}

/// A connector on the faulty plugin: users anchored on `Id`, `top` among the top-level keys,
/// `connectivity` as its connectivity answers.
fn faulty(name: &str, top: &str, connectivity: &str) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    ExtraConnector {
        file_name: Box::leak(format!("{name}.toml").into_boxed_str()),
        toml: format!(
            "version = 1\nname = \"{name}\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\nobject_type = \"User\"\nanchor = \"Id\"\n{top}\n\
             [[attributes]]\nname = \"Name\"\n[parameters.connectivity]\n{connectivity}"
        ),
    }
}

/// The failure reason `/status` shows for a connector that did not start.
async fn start_failure(host: &TestHost, name: &str) -> String {
    let status = host.wait_status(name, |s| s["state"] == "failed").await;
    status["reason"].as_str().unwrap_or_default().to_string()
}

fn assert_contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "`{part}` missing in: {text}");
    }
}

#[tokio::test]
async fn a_mistyped_plugin_parameter_is_refused_at_start_up() {
    let host = TestHost::start_with(Vec::new(), |dir| {
        demo_copy(dir, "typo", |t| {
            t.replace(
                "[parameters.schema3]\n",
                "[parameters.schema3]\n\"User:ancor_typo\" = \"x\"\n",
            )
        })
    })
    .await;
    let reason = start_failure(&host, "typo").await;
    assert_contains_all(
        &reason,
        &[
            "typo.toml: key `parameters.schema3.\"User:ancor_typo\"`",
            "the connector has no parameter `User:ancor_typo` on page schema3",
            "(known: `User:anchor`, ",
        ],
    );
    // The same reason reaches the IdP in the 503, and the demo serves on.
    let (status, body) = host
        .send(Method::GET, "typo", "/Users", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"].as_str().unwrap().contains("User:ancor_typo"),
        "{body}"
    );
    let (status, _) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn a_mistyped_plugin_parameter_is_refused_at_reload_and_the_old_version_serves() {
    let host = TestHost::start().await;
    let file = host.dir.path().join("connectors/demo.toml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "[parameters.schema3]\n",
        "[parameters.schema3]\n\"User:ancor_typo\" = \"x\"\n",
    );
    std::fs::write(&file, text).unwrap();
    let status = host.wait_status("demo", |s| s["reloads_failed"] == 1).await;
    assert_eq!(status["state"], "ready", "{status}");
    assert_contains_all(
        status["last_reload_error"].as_str().unwrap(),
        &[
            "demo.toml: key `parameters.schema3.\"User:ancor_typo\"`",
            "(known: `User:anchor`, ",
        ],
    );
    let (code, _) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &host.token, None)
        .await;
    assert_eq!(code, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn a_host_anchor_the_plugin_does_not_use_names_both_keys() {
    let host = TestHost::start_with(Vec::new(), |dir| {
        demo_copy(dir, "anchors", |t| {
            t.replace("\"User:anchor\" = \"Login\"", "\"User:anchor\" = \"Email\"")
        })
    })
    .await;
    let reason = start_failure(&host, "anchors").await;
    assert_contains_all(
        &reason,
        &[
            "anchors.toml: key `anchor`: `anchor = \"Login\"` in the host config",
            "the connector's anchor of object type User is `Email` (from `parameters.schema3.\"User:anchor\"`)",
            "set `anchor = \"Email\"` here, or answer `parameters.schema3.\"User:anchor\" = \"Login\"`",
        ],
    );
    host.stop().await;
}

#[tokio::test]
async fn keys_that_need_a_capability_the_connector_lacks_are_refused() {
    let extra = vec![
        faulty("nodelta", "[run_profiles]\ndelta_import = true", ""),
        faulty("noparts", "partitions = [\"dc=example,dc=com\"]", ""),
    ];
    let host = TestHost::start_with(extra, |_| {}).await;
    assert_contains_all(
        &start_failure(&host, "nodelta").await,
        &[
            "nodelta.toml: key `run_profiles.delta_import`",
            "does not declare the `delta_import` capability",
        ],
    );
    assert_contains_all(
        &start_failure(&host, "noparts").await,
        &[
            "noparts.toml: key `partitions`: [\"dc=example,dc=com\"] selects partitions",
            "does not declare the `partitions` capability; remove the key",
        ],
    );
    host.stop().await;
}

const PARTITIONS: &str = "partitions = \"dc=example,dc=com;dc=branch,dc=example,dc=com\"";

fn record_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.record"))
}

/// The sessions the faulty connector recorded (`open_import …`, `open_export …`).
fn recorded(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("open_"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn an_unknown_partition_or_container_lists_the_known_ones() {
    let extra = vec![
        faulty("badpart", "partitions = [\"dc=exampel,dc=com\"]", PARTITIONS),
        faulty(
            "badbox",
            "partitions = [\"example\"]\ncontainers = [\"ou=Staff,dc=example,dc=com\"]",
            &format!("{PARTITIONS}\ncontainers = \"ou=People,dc=example,dc=com;ou=Rooms,dc=branch,dc=example,dc=com\""),
        ),
    ];
    let host = TestHost::start_with(extra, |_| {}).await;
    assert_contains_all(
        &start_failure(&host, "badpart").await,
        &[
            "badpart.toml: key `partitions[0]`: the connector reports no partition `dc=exampel,dc=com`",
            "(known: `dc=example,dc=com (example)`, `dc=branch,dc=example,dc=com (branch)`)",
        ],
    );
    assert_contains_all(
        &start_failure(&host, "badbox").await,
        &[
            "badbox.toml: key `containers[0]`: the connector reports no container `ou=Staff,dc=example,dc=com`",
            "(known: `ou=People,dc=example,dc=com (People)`, ",
        ],
    );
    host.stop().await;
}

#[tokio::test]
async fn one_selected_partition_is_named_by_every_import_and_export() {
    let records = tempfile::tempdir().unwrap();
    let record = record_file(records.path(), "one");
    let extra = vec![faulty(
        "one",
        // By name: the connector reports `example` for dc=example,dc=com.
        "partitions = [\"example\"]\npassword_attribute = \"password\"",
        &format!("{PARTITIONS}\nrecord_to = \"{}\"", record.display()),
    )];
    let host = TestHost::start_with(extra, |_| {}).await;
    host.wait_status("one", |s| s["state"] == "ready").await;
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ann",
        "password": "S3cret-Passw0rd!",
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": "Ann"}
    });
    let (status, body) = host
        .send(
            Method::POST,
            "one",
            "/Users",
            TOKEN,
            Some(&user.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        recorded(&record),
        [
            "open_import dc=example,dc=com",
            "open_export dc=example,dc=com"
        ]
    );
    host.stop().await;
}

#[tokio::test]
async fn several_partitions_import_each_and_export_to_the_partition_of_the_dn() {
    let records = tempfile::tempdir().unwrap();
    let record = record_file(records.path(), "parts");
    let extra = vec![faulty(
        "parts",
        "partitions = [\"dc=example,dc=com\", \"dc=branch,dc=example,dc=com\"]\n[dn]\nmode = \"mapped\"\nattribute = \"Name\"",
        &format!("{PARTITIONS}\nrecord_to = \"{}\"", record.display()),
    )];
    let host = TestHost::start_with(extra, |_| {}).await;
    let status = host.wait_status("parts", |s| s["state"] == "ready").await;
    assert_eq!(
        status["partitions"],
        json!(["dc=example,dc=com", "dc=branch,dc=example,dc=com"])
    );
    assert_eq!(
        recorded(&record),
        [
            "open_import dc=example,dc=com",
            "open_import dc=branch,dc=example,dc=com"
        ]
    );
    for (id, dn) in [
        ("bob", "uid=bob,dc=branch,dc=example,dc=com"),
        ("cat", "uid=cat,dc=example,dc=com"),
    ] {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": id,
            "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": dn}
        });
        let (status, body) = host
            .send(
                Method::POST,
                "parts",
                "/Users",
                TOKEN,
                Some(&user.to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let exports: Vec<String> = recorded(&record)
        .into_iter()
        .filter(|l| l.starts_with("open_export"))
        .collect();
    assert!(
        exports.contains(&"open_export dc=branch,dc=example,dc=com".to_string())
            && exports.contains(&"open_export dc=example,dc=com".to_string()),
        "{exports:?}"
    );
    // A full sync reads both partitions: each object comes back from its own partition, so
    // nothing is removed.
    let runtime = match host
        .host
        .as_ref()
        .unwrap()
        .registry
        .get("parts")
        .unwrap()
        .slot
    {
        ecmahost::registry::ConnectorSlot::Running(r) => r,
        ecmahost::registry::ConnectorSlot::Failed { reason, .. } => panic!("{reason}"),
    };
    let report = runtime.sync_now().await.unwrap();
    assert_eq!((report.entries, report.removed), (2, 0), "{report:?}");
    assert_eq!(host.status("parts").await["objects"], 2);
    host.stop().await;
}

#[tokio::test]
async fn several_partitions_with_autogenerated_dns_are_refused() {
    let connector = faulty(
        "autodn",
        "partitions = [\"example\", \"branch\"]",
        PARTITIONS,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("autodn.toml");
    std::fs::write(&file, &connector.toml).unwrap();
    let error = ecmahost::config::ConnectorConfig::load(&file)
        .unwrap_err()
        .to_string();
    assert_contains_all(
        &error,
        &[
            "autodn.toml: key `partitions`: several partitions are selected",
            "resource type User has autogenerated DNs",
            "`dn.mode = \"mapped\"`",
        ],
    );
}

#[test]
fn inspect_with_a_connector_file_shows_partitions_and_refused_answers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inspected.toml");
    let config = faulty(
        "inspected",
        "",
        &format!("{PARTITIONS}\ncontainers = \"ou=People,dc=example,dc=com\"\nhang_inn = \"x\""),
    );
    std::fs::write(&file, &config.toml).unwrap();
    let config = ecmahost::config::ConnectorConfig::load(&file).unwrap();
    let out = ecmahost::plugins::inspect(
        &ecma_integration_tests::plugin_dir().join("libecma_faulty.so"),
        Some(&config.answers()),
    )
    .unwrap();
    assert_contains_all(
        &out,
        &[
            "partitions, hierarchy",
            "[connectivity] refused: ",
            "key `parameters.connectivity.hang_inn`: the connector has no parameter `hang_inn` on page connectivity; remove it or fix its name (known: `hang_in`, ",
            "partitions:\n  dc=example,dc=com (name example)\n    container ou=People,dc=example,dc=com (name People)\n  dc=branch,dc=example,dc=com (name branch)\n",
        ],
    );
}
