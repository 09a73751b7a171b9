//! `plugin inspect --answers` and `plugin reference`: every page, given answers, and the
//! generated SQL connector reference that docs/sql-connector.md must equal.

use ecma_integration_tests::cli::ecmahost;

use super::{assert_contains_all, demo_folder, sql_plugin_in, stdout};

const BEGIN: &str = "<!-- BEGIN GENERATED: ecmahost plugin reference -->\n";
const END: &str = "<!-- END GENERATED -->\n";

#[tokio::test]
async fn inspect_with_answers_lists_every_page_with_types_defaults_and_descriptions() {
    let dir = demo_folder().await;
    // Only connectivity and schema 1: the later pages take the connector's defaults.
    let answers = dir.path().join("answers.toml");
    let url = format!("sqlite://{}", dir.path().join("data/demo.db").display());
    std::fs::write(
        &answers,
        format!("[parameters.connectivity]\nconnection_string = \"{url}\"\n[parameters.schema1]\nobject_types = \"User,Group\"\n[parameters.schema2]\n\"User:table\" = \"Employees\"\n\"Group:table\" = \"Groups\"\n"),
    )
    .unwrap();
    let out = ecmahost(dir.path())
        .args(["plugin", "inspect"])
        .arg(sql_plugin_in(dir.path()))
        .arg("--answers")
        .arg(&answers)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert_contains_all(
        &text,
        &[
            "answers from: ",
            "  [connectivity]\n    driver: drop-down (SQLite, PostgreSQL, MySQL, ODBC) (required), default \"SQLite\"",
            "    password: encrypted string  The password",
            "  [schema2]\n    User:attribute_detection: drop-down",
            // Schema 3 and 4 list the columns of the tables answered on schema 2.
            "    User:anchor: drop-down (",
            "Login",
            "    User:FirstName:type: drop-down",
            "    Group:GroupName:direction: drop-down",
            "  [run_step]\n    User:import_method:",
            "  [global]\n    delta_strategy: drop-down",
        ],
    );
    assert!(!text.contains("depends on earlier answers"), "{text}");
}

/// docs/sql-connector.md's parameter reference is the generated one. With ECMAHOST_BLESS=1 the
/// test rewrites it instead (after a change to the SQL connector's pages).
#[tokio::test]
async fn the_sql_connector_guide_lists_every_parameter_as_generated() {
    let dir = demo_folder().await;
    let out = ecmahost(dir.path())
        .args(["plugin", "reference"])
        .arg(sql_plugin_in(dir.path()))
        .args(["--answers", "connectors/demo.toml", "--markdown"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let generated = stdout(&out);
    assert!(
        !generated.contains(&dir.path().display().to_string()),
        "the reference names no path: {generated}"
    );
    // Every parameter the SQL connector documents appears (lib.rs lists them by page).
    for name in [
        "`driver`",
        "`connection_string`",
        "`dsn_file`",
        "`pool_size`",
        "`object_type_query`",
        "`User:multivalued_tables`",
        "`Group:GroupMembers:key_column`",
        "`User:dn_is_anchor`",
        "`User:Login:type`",
        "`User:Login:direction`",
        "`snapshot_table`",
        "`User:set_password`",
        "`User:delta_operation_column`",
        "`User:export_method`",
    ] {
        assert!(
            generated.contains(name),
            "{name} missing from:\n{generated}"
        );
    }
    let doc_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/sql-connector.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let (before, rest) = doc.split_once(BEGIN).expect("the BEGIN GENERATED marker");
    let (committed, after) = rest.split_once(END).expect("the END GENERATED marker");
    if std::env::var_os("ECMAHOST_BLESS").is_some() {
        std::fs::write(&doc_path, format!("{before}{BEGIN}{generated}{END}{after}")).unwrap();
        return;
    }
    assert!(
        committed == generated,
        "docs/sql-connector.md is not what `ecmahost plugin reference` generates; run \
         `ECMAHOST_BLESS=1 cargo test -p ecma-integration-tests the_sql_connector_guide` and \
         commit the result"
    );
}
