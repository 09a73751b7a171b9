//! Entra's provisioning sequence through the host and the generic SQL connector into a real
//! PostgreSQL (127.0.0.1:5432, user `postgres`, trust), checking the rows after every step,
//! a delta sync of changes made behind the host's back (change tracking), a rename (refused
//! with the fix while a foreign key does not cascade, then done), and value-level updates.
//!
//! The test creates a database of its own and drops it at the end, also when it fails.

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";
const TOKEN: &str = "postgres-connector-token-1";

/// A PostgreSQL database for this test, dropped (with its connections) when this is.
pub(crate) struct Database {
    name: String,
}

impl Database {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn create() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("ecma_e2e_{}_{nanos}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(ADMIN)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL must run at 127.0.0.1:5432 (user postgres, trust): {e}")
            });
        sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap();
        Self { name }
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    pub(crate) async fn exec(&self, sql: &str) {
        let mut c = sqlx::PgConnection::connect(&self.url()).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }

    /// Rows as text, in the server's text format.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        use sqlx::Row;
        let mut c = sqlx::PgConnection::connect(&self.url()).await.unwrap();
        sqlx::raw_sql(sql)
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get_unchecked::<Option<String>, _>(i).unwrap())
                    .collect()
            })
            .collect()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let mut admin = sqlx::PgConnection::connect(ADMIN).await?;
                    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin)
                        .await
                        .map(|_| ())
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
    cells.iter().map(|c| c.map(str::to_string)).collect()
}

fn connector(database: &str) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    ExtraConnector {
        file_name: "pg.toml",
        toml: format!(
            r#"version = 1
name = "pg"
token_hash = "{hash}"
plugin = "libecma_sql.so"
object_type = "User"
anchor = "Login"
query_attribute = "AzureID"

[[attributes]]
name = "AzureID"
[[attributes]]
name = "FirstName"
[[attributes]]
name = "Department"
[[attributes]]
name = "Mail"

[run_profiles]
full_import = true
delta_import = true

[deprovisioning]
disable = "set_attribute"
disable_attribute = "IsActive"
delete = "delete"

[parameters.connectivity]
driver = "PostgreSQL"
host = "127.0.0.1"
port = 5432
database = "{database}"
user = "postgres"
password = {{ file = "pg.password" }}

[parameters.schema1]
object_types = "User"

[parameters.schema2]
"User:table" = "Users"
"User:multivalued_tables" = "UserMails"

[parameters.global]
delta_strategy = "Change tracking"
create_change_tracking = true
"#
        ),
    }
}

#[tokio::test]
async fn entra_sequence_into_postgres() {
    let db = Database::create().await;
    db.exec(
        r#"CREATE TABLE "Users" ("Login" VARCHAR(100) PRIMARY KEY, "AzureID" VARCHAR(64) UNIQUE,
             "FirstName" TEXT, "Department" TEXT, "IsActive" BOOLEAN NOT NULL DEFAULT TRUE);
           CREATE TABLE "UserMails" ("Login" VARCHAR(100) NOT NULL REFERENCES "Users" ("Login"),
             "Mail" VARCHAR(200) NOT NULL, PRIMARY KEY ("Login", "Mail"));
           INSERT INTO "Users" VALUES ('adele.vance', 'guid-adele', 'Adele', 'Retail', TRUE);
           INSERT INTO "UserMails" VALUES ('adele.vance', 'adele@contoso.example');"#,
    )
    .await;
    let host = TestHost::start_with(vec![connector(&db.name)], |dir| {
        // The password is a secret read from a file; PostgreSQL's trust ignores it.
        std::fs::write(
            dir.join("connectors/pg.password"),
            "not-needed-under-trust\n",
        )
        .unwrap();
    })
    .await;
    host.wait_status("pg", |s| s["state"] == "ready").await;
    let send = |method: Method, path: &str, body: Option<String>| {
        let host = &host;
        let path = path.to_string();
        async move { host.send(method, "pg", &path, TOKEN, body.as_deref()).await }
    };
    let user_rows = || {
        db.rows(r#"SELECT "Login", "FirstName", "Department", "IsActive" FROM "Users" ORDER BY 1"#)
    };
    let mail_rows = || db.rows(r#"SELECT "Login", "Mail" FROM "UserMails" ORDER BY 1, 2"#);

    // Entra's connection test, then the lookup by the query attribute.
    let (status, body) = send(
        Method::GET,
        "/Users?filter=userName+eq+%22f8e1c5a2-8d1b-4a9e-9f3c-0d2e4b6a8c10%22",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    let (status, body) = send(
        Method::GET,
        &format!("/Users?filter={EXT}:AzureID+eq+%22guid-adele%22"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Resources"][0]["userName"], "adele.vance");
    assert_eq!(
        body["Resources"][0][EXT]["Mail"],
        json!(["adele@contoso.example"])
    );

    // Create: the row and its child rows.
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "userName": "isaiah.langer",
        "active": true,
        EXT: {"AzureID": "guid-isaiah", "FirstName": "Isaiah'); DROP TABLE \"Users\"; --",
              "Department": "Sales", "Mail": ["isaiah@contoso.example", "il@contoso.example"]}
    })
    .to_string();
    let (status, body) = send(Method::POST, "/Users", Some(user.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        user_rows().await,
        [
            row(&[
                Some("adele.vance"),
                Some("Adele"),
                Some("Retail"),
                Some("t")
            ]),
            row(&[
                Some("isaiah.langer"),
                Some("Isaiah'); DROP TABLE \"Users\"; --"),
                Some("Sales"),
                Some("t")
            ]),
        ]
    );
    assert_eq!(
        mail_rows().await,
        [
            row(&[Some("adele.vance"), Some("adele@contoso.example")]),
            row(&[Some("isaiah.langer"), Some("il@contoso.example")]),
            row(&[Some("isaiah.langer"), Some("isaiah@contoso.example")]),
        ]
    );

    // The same user again: PostgreSQL's unique violation is SCIM's 409.
    let (status, body) = send(Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(user_rows().await.len(), 2);

    // PATCH in Entra's dialect: an attribute, then the disable flow.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": format!("{EXT}:Department"), "value": "Research"}]
    })
    .to_string();
    let (status, body) = send(Method::PATCH, "/Users/isaiah.langer", Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let disable = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    })
    .to_string();
    let (status, body) = send(Method::PATCH, "/Users/isaiah.langer", Some(disable)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(
        db.rows(r#"SELECT "Department", "IsActive" FROM "Users" WHERE "Login" = 'isaiah.langer'"#)
            .await,
        [row(&[Some("Research"), Some("f")])]
    );

    // Changes behind the host's back come in with the next delta sync (change tracking).
    db.exec(
        r#"UPDATE "Users" SET "Department" = 'Audit' WHERE "Login" = 'adele.vance';
           INSERT INTO "Users" ("Login", "AzureID", "FirstName") VALUES ('new.hire', 'guid-new', 'New');
           INSERT INTO "UserMails" VALUES ('new.hire', 'new@contoso.example');"#,
    )
    .await;
    let runtime = match &host.host.as_ref().unwrap().registry.get("pg").unwrap().slot {
        ecmahost::registry::ConnectorSlot::Running(r) => r.clone(),
        ecmahost::registry::ConnectorSlot::Failed { reason, .. } => panic!("pg failed: {reason}"),
    };
    let report = runtime.sync_now().await.unwrap();
    assert_eq!(report.kind, "delta");
    // The triggers also recorded the host's own writes to isaiah.langer: it is read again
    // (three entries) but equals the stored object, so only two objects change.
    assert_eq!((report.entries, report.upserted, report.removed), (3, 2, 0));
    let (_, body) = send(Method::GET, "/Users/adele.vance", None).await;
    assert_eq!(body[EXT]["Department"], "Audit");
    let (status, body) = send(Method::GET, "/Users/new.hire", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[EXT]["Mail"], json!(["new@contoso.example"]));

    // Delete: the child rows go first (they reference the user), then the row.
    let (status, body) = send(Method::DELETE, "/Users/isaiah.langer", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = send(Method::GET, "/Users/isaiah.langer", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        db.rows(r#"SELECT COUNT(*) FROM "UserMails" WHERE "Login" = 'isaiah.langer'"#)
            .await,
        [row(&[Some("0")])]
    );
    assert_eq!(user_rows().await.len(), 2);

    // Entra renames adele.vance. Her mail rows reference her row without ON UPDATE CASCADE,
    // so PostgreSQL refuses: 400 with the fix, and nothing changed.
    let rename = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": "adele.v"}]
    })
    .to_string();
    let (status, body) = send(Method::PATCH, "/Users/adele.vance", Some(rename.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("ON UPDATE CASCADE"),
        "{body}"
    );
    assert_eq!(
        mail_rows().await[0],
        row(&[Some("adele.vance"), Some("adele@contoso.example")])
    );
    // With the key declared ON UPDATE CASCADE, the rename goes through: row and mail rows.
    db.exec(
        r#"ALTER TABLE "UserMails" DROP CONSTRAINT "UserMails_Login_fkey",
             ADD FOREIGN KEY ("Login") REFERENCES "Users" ("Login") ON UPDATE CASCADE"#,
    )
    .await;
    let (status, body) = send(Method::PATCH, "/Users/adele.vance", Some(rename)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "adele.v");
    let (status, _) = send(Method::GET, "/Users/adele.vance", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        mail_rows().await,
        [
            row(&[Some("adele.v"), Some("adele@contoso.example")]),
            row(&[Some("new.hire"), Some("new@contoso.example")]),
        ]
    );

    // Value-level: one mail added and one removed are one INSERT and one DELETE.
    let values = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Add", "path": format!("{EXT}:Mail"), "value": ["hire@contoso.example"]},
            {"op": "Remove", "path": format!("{EXT}:Mail[value eq \"new@contoso.example\"]")}
        ]
    })
    .to_string();
    let (status, body) = send(Method::PATCH, "/Users/new.hire", Some(values)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[EXT]["Mail"], json!(["hire@contoso.example"]));
    assert_eq!(
        mail_rows().await,
        [
            row(&[Some("adele.v"), Some("adele@contoso.example")]),
            row(&[Some("new.hire"), Some("hire@contoso.example")]),
        ]
    );
    host.stop().await;
}
