//! `connector export|import|import-mim`: a round trip through ECMA2Host's XML that serves
//! again, and the sample files written from Microsoft's published formats
//! (tests/fixtures/formats/), with their line-by-line reports.

use std::path::Path;

use super::{assert_contains_all, demo_folder, run, stdout};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/formats")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test]
async fn an_ecma2host_export_imports_back_into_a_connector_that_validates() {
    let dir = demo_folder().await;
    let out = run(
        dir.path(),
        &["connector", "export", "demo", "--format", "ecma2host"],
    );
    assert!(out.status.success(), "{out:?}");
    let xml = stdout(&out);
    assert_contains_all(
        &xml,
        &[
            "<Configuration>",
            "<Use>Connectivity</Use>",
            "<LibraryName>libecma_sql.so</LibraryName>",
            "<SecretToken/>",
            "<ProfileName>demo</ProfileName>",
            "<IsAnchor>true</IsAnchor>",
            "<SoftDeleteStatusAttribute>IsActive</SoftDeleteStatusAttribute>",
        ],
    );
    assert!(!xml.contains("$argon2"), "no token hash in an export");
    let copy = dir.path().join("copy.xml");
    std::fs::write(
        &copy,
        xml.replace("<ProfileName>demo<", "<ProfileName>copy<"),
    )
    .unwrap();
    let out = run(dir.path(), &["connector", "import", "copy.xml"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "mapped        ECMAConfig/LibraryName `libecma_sql.so`: plugin = \"libecma_sql.so\"",
            "mapped        User: attribute `Manager` as urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "mapped        Group: attribute `Member` as members",
            "wrote connectors/copy.toml",
            "new token (shown once",
        ],
    );
    let out = run(dir.path(), &["connector", "validate", "copy"]);
    assert!(
        out.status.success(),
        "the imported copy validates: {}",
        stdout(&out)
    );

    // Importing again does not overwrite without --force.
    let out = run(dir.path(), &["connector", "import", "copy.xml"]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(dir.path(), &["connector", "import", "copy.xml", "--force"]);
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test]
async fn a_toml_export_hides_secrets_and_imports_with_a_new_token() {
    let dir = demo_folder().await;
    let out = run(
        dir.path(),
        &[
            "connector",
            "export",
            "demo",
            "--output",
            "demo-export.toml",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let exported = std::fs::read_to_string(dir.path().join("demo-export.toml")).unwrap();
    assert!(exported.contains("token_hash = \"<redacted>\"") && !exported.contains("$argon2"));
    let out = run(
        dir.path(),
        &["connector", "export", "demo", "--with-secrets"],
    );
    assert!(stdout(&out).contains("token_hash = \"$argon2id$"));

    std::fs::remove_file(dir.path().join("connectors/demo.toml")).unwrap();
    let out = run(dir.path(), &["connector", "import", "demo-export.toml"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "needs answer  token: exported without it; a new token was generated",
            "wrote connectors/demo.toml",
        ],
    );
    let out = run(dir.path(), &["connector", "validate", "demo"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[tokio::test]
async fn microsofts_ecma2host_sample_reports_what_it_maps_and_what_needs_an_answer() {
    let dir = demo_folder().await;
    let out = run(
        dir.path(),
        &["connector", "import", &fixture("ecma2host-genericsql.xml")],
    );
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "not mapped    Setting: port 8585 and certificate 3F2A9C1B7D5E4F60A1B2C3D4E5F60718293A4B5C: host settings",
            "mapped        ECMAConfig/LibraryName `Microsoft.IAM.Connector.GenericSql`: plugin = \"libecma_sql.so\"",
            "mapped        ECMAConfig/AutosyncTimer 240: autosync_minutes",
            "mapped        Parameter `DSN File` (Connectivity): parameters.connectivity.\"DSN File\"",
            "needs answer  parameters.connectivity.Password: encrypted, exported empty; the file reads it from the environment variable ECMAHOST_HRSQL_PASSWORD",
            "not mapped    Parameter `Extension Setting`: unknown Use `Extension`",
            "mapped        RunStep `Export` batch size 50: export_page_size",
            "mapped        User: anchor `EmployeeId`",
            "mapped        User: query attribute `AzureID`",
            "mapped        User: `Phones` TreatAsSingleValue: single_value = true",
            "mapped        User: disable flow set `Enabled`, delete flow none",
            // Microsoft's parameter names, checked against our SQL connector's pages.
            "mapped        Parameter `DSN File`: renamed to libecma_sql.so's `dsn_file`",
            "not mapped    Parameter `User Name`: libecma_sql.so has no such parameter on page connectivity; left out (closest: `user`",
            "not mapped    [parameters.schema1]: names not checked, the connector cannot list the page yet",
            "wrote connectors/HRSQL.toml",
        ],
    );
    let file = std::fs::read_to_string(dir.path().join("connectors/HRSQL.toml")).unwrap();
    assert_contains_all(
        &file,
        &[
            "name = \"HRSQL\"",
            "autosync_minutes = 240",
            "export_page_size = 50",
            "dsn_file = 'C:\\ECMA\\hr.dsn'",
            "password = { env = \"ECMAHOST_HRSQL_PASSWORD\" }",
            "delta_strategy = \"None\"",
            "name = \"Phones\"\n# Multi-valued in the target, one value in SCIM.\nsingle_value = true",
            "disable_attribute = \"Enabled\"",
            "delete = \"none\"",
        ],
    );
}

#[tokio::test]
async fn a_mim_export_ma_sample_reports_metaverse_rules_and_encrypted_values() {
    let dir = demo_folder().await;
    let out = run(
        dir.path(),
        &[
            "connector",
            "import-mim",
            &fixture("mim-export-ma-genericsql.xml"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "mapped        ma-data/name `HR Database`: name `HRDatabase`",
            "mapped        ma-listname `Generic SQL (Microsoft)`: plugin = \"libecma_sql.so\"",
            "needs answer  parameters.connectivity.Password: encrypted, exported empty; the file reads it from the environment variable ECMAHOST_HRDATABASE_PASSWORD",
            "mapped        parameter `Export Type` (run-step): parameters.run_step.\"Export Type\"",
            "not mapped    parameter `Odd Setting`: unknown use `somewhere`",
            "mapped        dsml:class `Employee`: resource type User (object type `Employee`)",
            "mapped        User: anchor `EmployeeId`",
            "mapped        User: attribute `Manager` (reference)",
            "mapped        User: attribute `Phones` (string, multi-valued)",
            "not mapped    User: `Secret` is encrypted",
            "not mapped    User: `Notes` is not in attribute-inclusion; left out",
            "not mapped    run profile `Delta Sync`: step `apply-rules` (no equivalent)",
            "mapped        run profiles: export, full import true, delta import false, export page size 50",
            "not mapped    join rules: metaverse configuration, no equivalent here",
            "not mapped    projection rules",
            "not mapped    export attribute flows",
            "wrote connectors/HRDatabase.toml",
        ],
    );
    let file = std::fs::read_to_string(dir.path().join("connectors/HRDatabase.toml")).unwrap();
    assert_contains_all(
        &file,
        &[
            "object_type = \"Employee\"",
            "anchor = \"EmployeeId\"",
            "name = \"Phones\"",
        ],
    );
    assert!(
        !file.contains("Notes") && !file.contains("\"Secret\""),
        "{file}"
    );
}
