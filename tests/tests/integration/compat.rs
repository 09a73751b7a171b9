//! Plugin API compatibility across minors, with real libraries (docs/plugin-api-compatibility.md):
//! a library built against the frozen API 1.0 crate loads and works in this (1.1) host, by
//! `load_library` and as a configured connector; a 1.1 library loads and works in the 1.0
//! loader. And the 1.1 log channel: what a plugin logs reaches the host's log with the
//! connector's name.

use std::sync::{Arc, Mutex, OnceLock};

use ecma_integration_tests::api_1_0::api_1_0;
use ecma_integration_tests::log_capture::plugin_logs;
use ecma_integration_tests::{plugin_dir, ExtraConnector, TestHost};
use ecma_plugin_api::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

const TOKEN: &str = "compat-test-connector-token";

fn token_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| ecmahost::token::hash_token(TOKEN).unwrap().to_string())
}

/// A connector file for a library with the `User`/`Id`/`Name`/`Mode` schema (the 1.0 fixture
/// and the faulty connector both have it).
fn connector(name: &str, plugin: &str) -> ExtraConnector {
    ExtraConnector {
        file_name: Box::leak(format!("{name}.toml").into_boxed_str()),
        toml: format!(
            "version = 1\nname = \"{name}\"\ntoken_hash = \"{}\"\nplugin = \"{plugin}\"\n\
             object_type = \"User\"\nanchor = \"Id\"\n\
             [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n",
            token_hash()
        ),
    }
}

fn user(id: &str, name: &str) -> String {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": id,
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": name, "Mode": "calm"}
    })
    .to_string()
}

fn no_values() -> ParameterValues {
    ParameterValues::new()
}

#[derive(Default)]
struct Collect(Mutex<Vec<LogRecord>>);

impl LogSink for Collect {
    fn log(&self, record: LogRecord) {
        self.0.lock().unwrap().push(record);
    }
}

/// The 1.0 library fails abi_stable's layout check in this host (its vtables are shorter);
/// the reversed check accepts it, and the host calls only what it has: the 1.1 log channel
/// answers "not supported", everything of 1.0 works.
#[test]
fn a_library_built_for_api_1_0_loads_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libecma_fixture_v10.so");
    std::fs::copy(&api_1_0().connector, &path).unwrap();

    let library = load_library(&path).unwrap();
    assert_eq!(library.api_version(), (1, 0));
    assert_eq!(library.info().name, "fixture-v10");
    let connector = library.new_connector().unwrap();

    let error = connector
        .attach_log(Arc::new(Collect::default()), LogLevel::Trace)
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotSupported, "{error}");
    assert!(!connector.log_to_tracing("fixture"));

    connector.test_connection(&no_values()).unwrap();
    let schema = connector.schema(&no_values()).unwrap();
    assert_eq!(schema.object_types[0].anchor, ["Id"]);
    let mut export = connector
        .open_export(
            &no_values(),
            &schema,
            &ExportRequest {
                export_type: ExportType::AttributeUpdate,
                batch_size: 1,
                partition: String::new(),
            },
        )
        .unwrap();
    let results = export
        .put_export_entries(&[CsEntryChange {
            identifier: "ada".into(),
            object_type: "User".into(),
            dn: "ada".into(),
            modification: ObjectModification::Add,
            anchor: vec![AnchorAttribute {
                name: "Id".into(),
                value: Value::String("ada".into()),
            }],
            changes: vec![AttributeChange::set(
                "Name",
                AttributeModification::Add,
                vec![Value::String("Ada Lovelace".into())],
            )],
        }])
        .unwrap();
    assert!(results[0].error.is_none(), "{results:?}");
    export.close().unwrap();

    let mut import = connector
        .open_import(
            &no_values(),
            &schema,
            &ImportRequest {
                kind: ImportKind::Full,
                page_size: 0,
                watermark: String::new(),
                partition: String::new(),
            },
        )
        .unwrap();
    let page = import.next_page().unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(
        page.entries[0]
            .change("Name")
            .unwrap()
            .added_values()
            .next(),
        Some(&Value::String("Ada Lovelace".into()))
    );
    import.close().unwrap();
}

/// A running 1.1 host serves a connector whose library was built for 1.0.
#[tokio::test]
async fn a_running_host_serves_a_library_built_for_api_1_0() {
    let fixture = api_1_0();
    let host = TestHost::start_with(vec![connector("oldapi", "libecma_fixture_v10.so")], |dir| {
        std::fs::copy(&fixture.connector, dir.join("ECMA/libecma_fixture_v10.so")).unwrap();
    })
    .await;
    host.wait_ready_with("oldapi", TOKEN).await;
    let (status, body) = host
        .send(
            Method::POST,
            "oldapi",
            "/Users",
            TOKEN,
            Some(&user("grace", "Grace")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = host
        .send(
            Method::GET,
            "oldapi",
            "/Users?filter=userName%20eq%20%22grace%22",
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(
        body["Resources"][0]["urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User"]["Name"],
        "Grace",
        "{body}"
    );
    host.stop().await;
}

/// A library built for 1.1 (the faulty connector) loads and works in a 1.0 host: abi_stable's
/// forward check accepts a library with more fields, and the 1.0 host ignores them. The
/// library's log bridge has no sink there and writes nothing on its own.
#[test]
fn a_library_built_for_api_1_1_works_in_a_1_0_loader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libecma_faulty.so");
    std::fs::copy(plugin_dir().join("libecma_faulty.so"), &path).unwrap();
    let output = std::process::Command::new(&api_1_0().loader)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for line in [
        "loader_api=1.0",
        &format!("library_api={API_MAJOR}.{API_MINOR}"),
        "name=faulty",
        "test_connection=ok",
        "object_types=User",
        "export=ok",
        "import=v10-loader:Ada",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no `{line}` in:\n{stdout}"
        );
    }
    assert_eq!(stderr, "", "the library wrote to standard error on its own");
}

/// What the faulty connector logs (`log` with a key/value field, `tracing`, and while it is
/// built) shows in the host's log with the connector's name; two connectors on the same
/// library each get their own lines; a debug record stays out of a host at `info`.
#[tokio::test]
async fn a_plugin_log_line_reaches_the_host_log_with_the_connector_name() {
    let host = TestHost::start_with(
        vec![
            connector("logalpha", "libecma_faulty.so"),
            connector("logbeta", "libecma_faulty.so"),
        ],
        |_| {},
    )
    .await;
    host.wait_ready_with("logalpha", TOKEN).await;
    host.wait_ready_with("logbeta", TOKEN).await;
    let (status, body) = host
        .send(
            Method::POST,
            "logalpha",
            "/Users",
            TOKEN,
            Some(&user("ann", "Ann")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let alpha = plugin_logs("logalpha");
    let messages: Vec<&str> = alpha.iter().map(|l| l.message.as_str()).collect();
    assert!(messages.contains(&"faulty: connector built"), "{alpha:#?}");
    assert!(
        messages.contains(&"faulty: import opened objects=0"),
        "{alpha:#?}"
    );
    let exported = alpha
        .iter()
        .find(|l| l.message == "faulty: exported an entry id=ann")
        .unwrap_or_else(|| panic!("no export line in {alpha:#?}"));
    assert_eq!(exported.level, tracing::Level::INFO);
    assert_eq!(exported.plugin_target, "ecma_faulty");
    assert!(
        !messages.iter().any(|m| m.contains("export batch")),
        "a debug record reached a host at info: {alpha:#?}"
    );

    let beta = plugin_logs("logbeta");
    assert!(
        beta.iter().any(|l| l.message == "faulty: connector built"),
        "{beta:#?}"
    );
    assert!(
        !beta.iter().any(|l| l.message.contains("id=ann")),
        "logbeta got logalpha's export: {beta:#?}"
    );
    host.stop().await;
}
