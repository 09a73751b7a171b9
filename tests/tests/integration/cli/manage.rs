//! `connector list|show|validate|test|delete|rotate-token` on a demo folder, PostgreSQL and MariaDB:
//! their output, their exit codes, and what they change.

use ecma_integration_tests::cli::ecmahost;
use ecma_integration_tests::TestHost;
use reqwest::{Method, StatusCode};

use super::{assert_contains_all, demo_folder, run, stderr, stdout};
use crate::postgres::Database;

#[tokio::test]
async fn list_show_validate_and_test_the_demo_connector() {
    let dir = demo_folder().await;

    let out = run(dir.path(), &["connector", "list"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "NAME",
            "demo  libecma_sql.so  Users (User), Groups (Group)",
            "file valid",
        ],
    );

    let out = run(dir.path(), &["connector", "show", "demo"]);
    assert!(out.status.success(), "{out:?}");
    let shown = stdout(&out);
    assert_contains_all(
        &shown,
        &[
            "token_hash = \"<redacted>\"",
            "name = \"demo\"",
            "[parameters.schema2]",
        ],
    );
    assert!(
        !shown.contains("$argon2"),
        "show prints no token hash:\n{shown}"
    );

    let out = run(dir.path(), &["connector", "validate", "demo"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "ok       the file parses and its values are valid",
            "ok       library libecma_sql.so loads (sql ",
            "ok       the connection test reached the target",
            "no problems: the connector would start",
        ],
    );

    let out = run(dir.path(), &["connector", "test", "demo"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &["connector demo: connected to the target through sql "],
    );

    let out = run(dir.path(), &["connector", "show", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert_contains_all(
        &stderr(&out),
        &["no connector named `nobody`", "it has demo"],
    );
}

#[tokio::test]
async fn validate_prints_every_problem_with_its_file_key_and_fix_and_fails() {
    let dir = demo_folder().await;
    let file = dir.path().join("connectors/demo.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    // A typo on schema 3 and one on schema 4.
    let broken = text
        .replace(
            "\"User:dn_is_anchor\" = true",
            "\"User:dn_is_ancor\" = true",
        )
        .replace("\"User:Manager:type\"", "\"User:Manger:type\"");
    std::fs::write(&file, broken).unwrap();
    let out = run(dir.path(), &["connector", "validate", "demo"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "PROBLEM  connectors/demo.toml: key `parameters.schema3.\"User:dn_is_ancor\"`: the connector has no parameter `User:dn_is_ancor` on page schema3; remove it or fix its name (known: `User:dn_is_anchor`",
            "PROBLEM  connectors/demo.toml: key `parameters.schema4.\"User:Manger:type\"`: the connector has no parameter `User:Manger:type` on page schema4; remove it or fix its name (known: `User:Manager:type`",
        ],
    );
    assert_contains_all(
        &stderr(&out),
        &["error: 2 problems in connectors/demo.toml"],
    );

    // A table that does not exist, with the plugin's own message, on its key.
    std::fs::write(
        &file,
        text.replace(
            "\"Group:table\" = \"Groups\"",
            "\"Group:table\" = \"Teams\"",
        ),
    )
    .unwrap();
    let out = run(dir.path(), &["connector", "validate", "demo"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &[
            "PROBLEM  connectors/demo.toml: key `parameters.schema2.\"Group:table\"`: table 'Teams' (parameter 'Group:table') does not exist",
        ],
    );

    // A required answer left out is named by the key it goes under, which the file lacks.
    let connection = text
        .lines()
        .find(|l| l.starts_with("connection_string"))
        .unwrap();
    std::fs::write(&file, text.replace(connection, "")).unwrap();
    let out = run(dir.path(), &["connector", "validate", "demo"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &["PROBLEM  connectors/demo.toml: key `parameters.connectivity.connection_string`: parameter 'connection_string' is required"],
    );

    // A file that does not parse stops at the file, naming the key.
    std::fs::write(&file, text.replace("name = \"demo\"", "name = \"de-mo\"")).unwrap();
    let out = run(
        dir.path(),
        &["connector", "validate", "connectors/demo.toml"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &["PROBLEM  connectors/demo.toml: key `name`: `de-mo` must be ASCII letters and digits only"],
    );
}

/// A PostgreSQL connector file in the demo folder, with these connectivity answers.
fn postgres_connector(dir: &std::path::Path, connectivity: &str) {
    let demo = std::fs::read_to_string(dir.join("connectors/demo.toml")).unwrap();
    let hash = demo.lines().find(|l| l.starts_with("token_hash")).unwrap();
    std::fs::write(
        dir.join("connectors/pg.toml"),
        format!("version = 1\nname = \"pg\"\n{hash}\nplugin = \"libecma_sql.so\"\nobject_type = \"User\"\nanchor = \"Login\"\n[parameters.connectivity]\ndriver = \"PostgreSQL\"\nhost = \"127.0.0.1\"\nuser = \"postgres\"\n{connectivity}\n"),
    )
    .unwrap();
}

#[tokio::test]
async fn test_explains_a_refused_port_and_a_missing_database_on_postgresql() {
    let db = Database::create().await;
    let dir = demo_folder().await;

    // Nothing listens on port 1: said at once, with the address tried, not "pool timed out".
    postgres_connector(
        dir.path(),
        &format!("port = \"1\"\ndatabase = \"{}\"", db.name()),
    );
    let out = run(dir.path(), &["connector", "test", "pg"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stderr(&out),
        &[
            "127.0.0.1:1 refused the connection",
            "listening on port 1? Check `host` and `port`",
        ],
    );
    assert!(!stderr(&out).contains("timed out"), "{}", stderr(&out));
    let out = run(dir.path(), &["connector", "validate", "pg"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stdout(&out),
        &["key `parameters.connectivity.port`: cannot connect to the database: 127.0.0.1:1 refused the connection"],
    );

    // A database that does not exist is blamed on `database`, not on `host`.
    postgres_connector(
        dir.path(),
        "port = \"5432\"\ndatabase = \"ecma_no_such_db\"",
    );
    let out = run(dir.path(), &["connector", "test", "pg"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stderr(&out),
        &[
            "127.0.0.1:5432 has no database `ecma_no_such_db`",
            "check `database`",
        ],
    );
    let out = run(dir.path(), &["connector", "validate", "pg"]);
    assert_contains_all(
        &stdout(&out),
        &["key `parameters.connectivity.database`: cannot connect to the database: 127.0.0.1:5432 has no database `ecma_no_such_db`"],
    );

    postgres_connector(
        dir.path(),
        &format!("port = \"5432\"\ndatabase = \"{}\"", db.name()),
    );
    let out = run(dir.path(), &["connector", "test", "pg"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(&stdout(&out), &["connector pg: connected to the target"]);
}

#[tokio::test]
async fn delete_asks_for_yes_without_a_terminal_and_keeps_the_data() {
    let dir = demo_folder().await;
    let file = dir.path().join("connectors/demo.toml");
    let out = run(dir.path(), &["connector", "delete", "demo"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stderr(&out),
        &["refusing to delete connectors/demo.toml without --yes"],
    );
    assert!(file.is_file());

    let out = run(dir.path(), &["connector", "delete", "demo", "--yes"]);
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(&stdout(&out), &["deleted connectors/demo.toml"]);
    assert!(!file.exists());
    assert!(
        dir.path().join("data/demo.db").is_file(),
        "the target's data stays"
    );
}

/// Wait (bounded) until `token` gets `expected` from the demo connector.
async fn wait_for(host: &TestHost, token: &str, expected: StatusCode) {
    for _ in 0..100 {
        let (status, _) = host
            .send(Method::GET, "demo", "/Users?count=1", token, None)
            .await;
        if status == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the demo connector never answered {expected} to that token");
}

fn new_token(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split_once("(shown once; give it to the IdP as the Secret Token): "))
        .map(|(_, t)| t.trim().to_string())
        .unwrap_or_else(|| panic!("no new token in:\n{stdout}"))
}

#[tokio::test]
async fn rotate_token_keeps_the_old_token_for_the_overlap_then_drops_it() {
    let host = TestHost::start().await;
    let first = host.token.clone();
    let rotate = |overlap: &str| {
        ecmahost(host.dir.path())
            .args([
                "connector",
                "rotate-token",
                "demo",
                "--overlap-minutes",
                overlap,
            ])
            .output()
            .unwrap()
    };
    let out = rotate("60");
    assert!(out.status.success(), "{out:?}");
    assert_contains_all(&stdout(&out), &["the old token is accepted until 20"]);
    let second = new_token(&stdout(&out));
    assert!(second.len() >= 12 && second != first);
    let file = std::fs::read_to_string(host.dir.path().join("connectors/demo.toml")).unwrap();
    assert!(
        !file.contains(&second),
        "the file holds only the token's hash"
    );
    assert_contains_all(
        &file,
        &[
            "previous_token_hash = \"$argon2id$",
            "previous_token_expires = \"20",
        ],
    );
    // The host reloads the file: both tokens work during the overlap.
    wait_for(&host, &second, StatusCode::OK).await;
    let (status, _) = host
        .send(Method::GET, "demo", "/Users?count=1", &first, None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the old token works during the overlap"
    );

    // No overlap: the token before is refused at once.
    let out = rotate("0");
    assert!(out.status.success(), "{out:?}");
    let third = new_token(&stdout(&out));
    wait_for(&host, &third, StatusCode::OK).await;
    let (status, _) = host
        .send(Method::GET, "demo", "/Users?count=1", &second, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    host.stop().await;
}

#[tokio::test]
async fn test_explains_a_missing_database_and_a_refused_sign_in_on_mariadb() {
    let dir = demo_folder().await;
    let demo = std::fs::read_to_string(dir.path().join("connectors/demo.toml")).unwrap();
    let hash = demo.lines().find(|l| l.starts_with("token_hash")).unwrap();
    let write = |connectivity: &str| {
        std::fs::write(
            dir.path().join("connectors/maria.toml"),
            format!("version = 1\nname = \"maria\"\n{hash}\nplugin = \"libecma_sql.so\"\nobject_type = \"User\"\nanchor = \"Login\"\n[parameters.connectivity]\ndriver = \"MySQL\"\nhost = \"127.0.0.1\"\nport = \"3306\"\n{connectivity}\n"),
        )
        .unwrap();
    };
    write("user = \"root\"\ndatabase = \"ecma_no_such_db\"");
    let out = run(dir.path(), &["connector", "test", "maria"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stderr(&out),
        &[
            "127.0.0.1:3306 has no database `ecma_no_such_db`",
            "check `database`",
        ],
    );

    write("user = \"ecma_nobody\"\ndatabase = \"test\"");
    let out = run(dir.path(), &["connector", "test", "maria"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_contains_all(
        &stderr(&out),
        &[
            "127.0.0.1:3306 refused the sign-in of user `ecma_nobody`",
            "check `user` and `password`",
        ],
    );

    write("user = \"root\"\ndatabase = \"test\"");
    let out = run(dir.path(), &["connector", "test", "maria"]);
    assert!(
        out.status.success(),
        "MariaDB must run at 127.0.0.1:3306 (root, no password, db test): {out:?}"
    );
}
