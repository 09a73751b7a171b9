//! `connector new` through a pseudo-terminal, as an administrator answers it, against a real
//! SQLite database and a real PostgreSQL: wrong answers first (a bad name, a short token, an
//! unreachable database, a table that does not exist), each refused with its message and the
//! same question again; then the file it wrote serves. And `--answers` without prompts.

use std::path::Path;

use ecma_integration_tests::cli::ecmahost_bin;
use rexpect::reader::ReadUntil;
use rexpect::session::PtySession;

use super::{assert_contains_all, demo_folder, run, stdout};
use crate::postgres::Database;

/// Erase what a refused prompt keeps in its input.
const ERASE: &str = "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f";

fn spawn(dir: &Path) -> PtySession {
    let mut command = std::process::Command::new(ecmahost_bin());
    command
        .args(["connector", "new"])
        .current_dir(dir)
        .env("TERM", "xterm")
        .env_remove("RUST_LOG");
    rexpect::session::spawn_command(command, Some(20_000)).unwrap()
}

/// Type `keys` one at a time, as a person does (a burst of erases is read as one key).
fn type_keys(p: &mut PtySession, keys: &str) {
    for c in keys.chars() {
        p.send(&c.to_string()).unwrap();
        p.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
}

/// Wait for `prompt`, then type `keys` and Enter.
fn answer(p: &mut PtySession, prompt: &str, keys: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("no prompt `{prompt}`: {e}"));
    type_keys(p, &format!("{keys}\r"));
}

/// Take the default SCIM name of every selected attribute, up to the prompt `next`, which is
/// answered with its default too.
fn default_scim_names_until(p: &mut PtySession, next: &str) {
    loop {
        let (_, found) = p
            .exp_any(vec![
                ReadUntil::String("SCIM name of".into()),
                ReadUntil::String(next.into()),
            ])
            .unwrap();
        type_keys(p, "\r");
        if found.contains(next) {
            break;
        }
    }
}

/// The wizard from the name to the written file, for a database reached by `wrong_url` (which
/// must be refused with `refusal`) and then `right_url`, whose users are in table `Employees`.
fn walk(dir: &Path, wrong_url: &str, refusal: &str, right_url: &str) -> String {
    let mut p = spawn(dir);
    answer(&mut p, "Name:", "bad-name");
    p.exp_string("a connector name is ASCII letters and digits only")
        .unwrap();
    type_keys(&mut p, &format!("{ERASE}hr\r"));
    answer(&mut p, "Autosync timer (minutes):", "");
    answer(&mut p, "Secret token (empty: generate one):", "short");
    p.exp_string("a secret token must be at least 12 characters")
        .unwrap();
    type_keys(&mut p, &format!("{ERASE}\r"));
    answer(&mut p, "Connector library:", "");
    answer(&mut p, "driver:", "");
    answer(&mut p, "connection_string:", wrong_url);
    answer(&mut p, "optional settings of Connectivity?", "");
    // The connector's own message, then the same question again.
    p.exp_string(&format!("connection_string: {refusal}"))
        .unwrap();
    answer(&mut p, "connection_string:", right_url);
    answer(&mut p, "object_type_detection:", "");
    answer(&mut p, "object_types:", "");
    answer(&mut p, "optional settings of Schema 1?", "");
    answer(&mut p, "User:attribute_detection:", "");
    answer(&mut p, "User:table:", &format!("{ERASE}Staff"));
    answer(&mut p, "optional settings of Schema 2?", "");
    p.exp_string("User:table: table 'Staff' does not exist")
        .unwrap();
    answer(&mut p, "User:table:", &format!("{ERASE}Employees"));
    answer(&mut p, "User:anchor:", "");
    answer(&mut p, "optional settings of Schema 3?", "");
    answer(&mut p, "optional settings of Schema 4?", "");
    answer(&mut p, "delta_strategy:", "");
    answer(&mut p, "optional settings of Global?", "");
    answer(&mut p, "optional settings of Run step?", "");
    answer(&mut p, "Full import:", "");
    answer(&mut p, "Page size:", "");
    answer(&mut p, "Object type for users (/Users):", "");
    answer(&mut p, "Query attribute:", "");
    answer(&mut p, "DN:", "");
    answer(&mut p, "Attributes to expose:", "");
    default_scim_names_until(&mut p, "Disable flow (active = false):");
    answer(&mut p, "Delete flow:", "");
    let rest = p.exp_eof().unwrap();
    assert_contains_all(
        &rest,
        &["wrote ", "connectors/hr.toml", "new token (shown once"],
    );
    std::fs::read_to_string(dir.join("connectors/hr.toml")).unwrap()
}

#[tokio::test]
async fn the_wizard_on_sqlite_refuses_wrong_answers_and_writes_a_connector_that_validates() {
    let dir = demo_folder().await;
    let db = dir.path().join("data/demo.db");
    let path = dir.path().to_path_buf();
    let file = tokio::task::spawn_blocking(move || {
        walk(
            &path,
            "sqlite:///nonexistent/folder/hr.db",
            "the SQLite database file /nonexistent/folder/hr.db does not exist",
            &format!("sqlite://{}", db.display()),
        )
    })
    .await
    .unwrap();
    assert_contains_all(
        &file,
        &[
            "name = \"hr\"",
            "autosync_minutes = 120",
            "anchor = \"Login\"",
            "\"User:table\" = \"Employees\"",
            "export_page_size = 100",
        ],
    );
    let out = run(dir.path(), &["connector", "validate", "hr"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[tokio::test]
async fn the_wizard_on_postgresql_explains_an_unreachable_server_and_asks_again() {
    let pg = Database::create().await;
    pg.exec("CREATE TABLE \"Employees\" (\"Login\" text PRIMARY KEY, \"Email\" text, \"IsActive\" boolean)")
        .await;
    let dir = demo_folder().await;
    let (path, right) = (dir.path().to_path_buf(), pg.url());
    let wrong = format!("postgres://postgres@127.0.0.1:1/{}", pg.name());
    let file = tokio::task::spawn_blocking(move || {
        walk(
            &path,
            &wrong,
            "cannot connect to the database: 127.0.0.1:1 refused the connection",
            &right,
        )
    })
    .await
    .unwrap();
    assert_contains_all(&file, &["anchor = \"Login\"", "name = \"Email\""]);
    let out = run(dir.path(), &["connector", "validate", "hr"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// PostgreSQL by its separate fields, as a new administrator answers it: once the driver is
/// chosen, the wizard asks for the database (and no longer for a connection string), refuses
/// a database that does not exist with the plugin's message, and writes no URL. Leaving the
/// boolean `IsActive` unexposed offers it for the disable flow.
#[tokio::test]
async fn the_wizard_on_postgresql_by_fields_asks_the_database_not_a_url() {
    let pg = Database::create().await;
    pg.exec("CREATE TABLE \"Employees\" (\"Login\" text PRIMARY KEY, \"Email\" text, \"IsActive\" boolean)")
        .await;
    let dir = demo_folder().await;
    let (path, database) = (dir.path().to_path_buf(), pg.name().to_string());
    let file = tokio::task::spawn_blocking(move || {
        let mut p = spawn(&path);
        answer(&mut p, "Name:", "hr");
        answer(&mut p, "Autosync timer (minutes):", "");
        answer(&mut p, "Secret token (empty: generate one):", "");
        answer(&mut p, "Connector library:", "");
        answer(&mut p, "driver:", "PostgreSQL");
        answer(&mut p, "database:", "nosuchdb");
        answer(&mut p, "optional settings of Connectivity?", "y");
        p.exp_string("connection_string:").unwrap();
        // The help says when a URL is needed.
        p.exp_string("required unless `database` names the file")
            .unwrap();
        type_keys(&mut p, "\r");
        answer(&mut p, "host:", "127.0.0.1");
        answer(&mut p, "port:", "5432");
        answer(&mut p, "user:", "postgres");
        for optional in [
            "password:",
            "tls_mode:",
            "tls_ca_file:",
            "dsn_file:",
            "odbc_dialect:",
            "pool_size:",
        ] {
            answer(&mut p, optional, "");
        }
        p.exp_string(
            "database: cannot connect to the database: 127.0.0.1:5432 has no database `nosuchdb`",
        )
        .unwrap();
        answer(&mut p, "database:", &format!("{ERASE}{database}"));
        answer(&mut p, "object_type_detection:", "");
        answer(&mut p, "object_types:", "");
        answer(&mut p, "optional settings of Schema 1?", "");
        answer(&mut p, "User:attribute_detection:", "");
        answer(&mut p, "User:table:", "Employees");
        answer(&mut p, "optional settings of Schema 2?", "");
        answer(&mut p, "User:anchor:", "");
        answer(&mut p, "optional settings of Schema 3?", "");
        answer(&mut p, "optional settings of Schema 4?", "");
        answer(&mut p, "delta_strategy:", "");
        answer(&mut p, "optional settings of Global?", "");
        answer(&mut p, "optional settings of Run step?", "");
        answer(&mut p, "Full import:", "");
        answer(&mut p, "Page size:", "");
        answer(&mut p, "Object type for users (/Users):", "");
        answer(&mut p, "Query attribute:", "");
        answer(&mut p, "DN:", "");
        // Email and IsActive, all selected: unselect IsActive (the second), keep Email.
        p.exp_string("leave IsActive unselected").unwrap();
        // An arrow key is one escape sequence: sent in one write, not key by key.
        p.send("\x1b[B").unwrap();
        p.flush().unwrap();
        type_keys(&mut p, " \r");
        answer(&mut p, "SCIM name of Email:", "");
        answer(&mut p, "Disable flow (active = false):", "Set attribute");
        answer(
            &mut p,
            "Boolean attribute that takes the value of active:",
            "",
        );
        answer(&mut p, "Delete flow:", "");
        p.exp_eof().unwrap();
        std::fs::read_to_string(path.join("connectors/hr.toml")).unwrap()
    })
    .await
    .unwrap();
    assert_contains_all(
        &file,
        &[
            "driver = \"PostgreSQL\"",
            &format!("database = \"{}\"", pg.name()),
            "host = \"127.0.0.1\"",
            "user = \"postgres\"",
            "disable = \"set_attribute\"\ndisable_attribute = \"IsActive\"",
        ],
    );
    assert!(!file.contains("connection_string"), "{file}");
    let out = run(dir.path(), &["connector", "validate", "hr"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[tokio::test]
async fn answers_without_prompts_get_the_same_validation() {
    let dir = demo_folder().await;
    // Without a terminal the wizard cannot ask: it says what to do instead.
    let out = run(dir.path(), &["connector", "new"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &super::stderr(&out),
        &[
            "standard input is not one",
            "ecmahost connector new --answers FILE",
        ],
    );

    let demo = std::fs::read_to_string(dir.path().join("connectors/demo.toml")).unwrap();
    let answers: String = demo
        .lines()
        .filter(|l| !l.starts_with("token_hash"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("name = \"demo\"", "name = \"hr\"");
    std::fs::write(
        dir.path().join("bad.toml"),
        answers.replace(
            "\"User:table\" = \"Employees\"",
            "\"User:table\" = \"Staff\"",
        ),
    )
    .unwrap();
    let out = run(dir.path(), &["connector", "new", "--answers", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(&stdout(&out), &["PROBLEM  bad.toml: key `parameters.schema2.\"User:table\"`: table 'Staff' does not exist"]);
    assert!(
        !dir.path().join("connectors/hr.toml").exists(),
        "nothing written"
    );

    std::fs::write(dir.path().join("good.toml"), &answers).unwrap();
    let out = run(dir.path(), &["connector", "new", "--answers", "good.toml"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &["wrote connectors/hr.toml", "new token (shown once"],
    );
    let out = run(dir.path(), &["connector", "validate", "hr"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// Users and groups of the demo database: the wizard is told of two object types, places
/// `Group` in the `Groups` table (which it does not guess), exposes it as the SCIM `Group`
/// type, and the file it writes serves `/Groups` with the table's rows.
#[tokio::test]
async fn the_wizard_adds_groups_over_a_real_table_and_the_host_serves_them() {
    let dir = demo_folder().await;
    let db = dir.path().join("data/demo.db");
    let path = dir.path().to_path_buf();
    let (file, said) = tokio::task::spawn_blocking(move || {
        let mut p = spawn(&path);
        answer(&mut p, "Name:", "hr");
        answer(&mut p, "Autosync timer (minutes):", "");
        answer(&mut p, "Secret token (empty: generate one):", "");
        answer(&mut p, "Connector library:", "");
        answer(&mut p, "driver:", "");
        answer(
            &mut p,
            "connection_string:",
            &format!("sqlite://{}", db.display()),
        );
        answer(&mut p, "optional settings of Connectivity?", "");
        answer(&mut p, "object_type_detection:", "");
        answer(&mut p, "object_types:", &format!("{ERASE}User,Group"));
        answer(&mut p, "optional settings of Schema 1?", "");
        answer(&mut p, "User:attribute_detection:", "");
        answer(&mut p, "User:table:", "Employees");
        answer(&mut p, "Group:attribute_detection:", "");
        // No table is named after `Group`: the question has no default, and an empty answer
        // is refused by the prompt itself.
        answer(&mut p, "Group:table:", "");
        p.exp_string("this parameter is required").unwrap();
        type_keys(&mut p, "Groups\r");
        answer(&mut p, "optional settings of Schema 2?", "");
        answer(&mut p, "User:anchor:", "");
        answer(&mut p, "Group:anchor:", "");
        answer(&mut p, "optional settings of Schema 3?", "");
        answer(&mut p, "optional settings of Schema 4?", "");
        answer(&mut p, "delta_strategy:", "");
        answer(&mut p, "optional settings of Global?", "");
        answer(&mut p, "optional settings of Run step?", "");
        answer(&mut p, "Full import:", "");
        answer(&mut p, "Page size:", "");
        answer(&mut p, "Object type for users (/Users):", "");
        answer(&mut p, "Also expose Group?", "");
        answer(&mut p, "SCIM resource type for Group:", "");
        // Users first, then groups, each with its own mapping and deprovisioning.
        answer(&mut p, "Query attribute:", "");
        answer(&mut p, "DN:", "");
        answer(&mut p, "Attributes to expose:", "");
        default_scim_names_until(&mut p, "Disable flow (active = false):");
        answer(&mut p, "Delete flow:", "");
        p.exp_string("Group (Group)").unwrap();
        p.exp_string("anchor: GroupName").unwrap();
        answer(&mut p, "Query attribute:", "");
        answer(&mut p, "DN:", "");
        answer(&mut p, "Attributes to expose:", "");
        p.exp_string("Deprovisioning of Group").unwrap();
        let rest = p.exp_eof().unwrap();
        assert!(
            !rest.contains("Disable flow"),
            "groups have no disable flow: {rest}"
        );
        (
            std::fs::read_to_string(path.join("connectors/hr.toml")).unwrap(),
            rest,
        )
    })
    .await
    .unwrap();
    assert_contains_all(
        &file,
        &[
            "[[resource_types]]\nname = \"Group\"",
            "object_type = \"Group\"",
            "anchor = \"GroupName\"",
            "[[resource_types.attributes]]\nname = \"Description\"",
            "[resource_types.deprovisioning]",
            "object_types = \"User,Group\"",
            "\"Group:table\" = \"Groups\"",
        ],
    );
    let out = run(dir.path(), &["connector", "validate", "hr"]);
    assert!(out.status.success(), "{}", stdout(&out));

    // The host serves the file as written: the two groups of the table, at /Groups.
    let token = said
        .lines()
        .find_map(|l| l.split("Secret Token): ").nth(1))
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| panic!("no token in: {said}"));
    let mut config = ecmahost::config::HostConfig::load(&dir.path().join("host.toml")).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    let host = ecmahost::server::start(&config).await.unwrap();
    let client = ecma_integration_tests::client_trusting(&dir.path().join("tls/cert.pem"));
    let url = format!(
        "https://localhost:{}/ecma2host_hr/scim/Groups",
        host.addr.port()
    );
    let mut body = serde_json::Value::Null;
    for _ in 0..600 {
        let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
        let status = response.status();
        body = response.json().await.unwrap();
        if status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(status, reqwest::StatusCode::OK, "{body}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    host.shutdown().await;
    let mut names: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("a list response: {body}"))
        .iter()
        .filter_map(|g| g["displayName"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["Marketing", "Retail"], "{body}");
    assert!(
        body["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|g| g["schemas"].as_array().is_some_and(|s| s
                .iter()
                .any(|u| u == "urn:ietf:params:scim:schemas:core:2.0:Group"))),
        "{body}"
    );
}
