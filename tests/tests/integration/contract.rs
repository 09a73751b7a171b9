//! The ECMA2 contract as the host honours it: `meta.created` and `meta.lastModified` that
//! survive a restart, and renames of users and groups through the SQL connector, with the
//! references other objects hold, checked against the rows in SQLite.

use ecma_integration_tests::{ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch_body(operations: Json) -> String {
    json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()
}

/// `(created, lastModified)` of a resource, checked to be RFC 3339 UTC date-times.
fn times(resource: &Json) -> (String, String) {
    let meta = &resource["meta"];
    let get = |key: &str| {
        let text = meta[key]
            .as_str()
            .unwrap_or_else(|| panic!("meta.{key} missing in {resource}"));
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("meta.{key} `{text}` is not RFC 3339: {e}"));
        assert!(text.ends_with('Z'), "meta.{key} `{text}` is not UTC");
        text.to_string()
    };
    (get("created"), get("lastModified"))
}

/// An SQLite file in `dir` made by `statements`.
async fn sqlite_file(dir: &std::path::Path, name: &str, statements: &[&str]) -> std::path::PathBuf {
    use sqlx::Connection;
    let path = dir.join(name);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    path
}

/// The rows a query returns from an SQLite file.
async fn sqlite_rows<T>(path: &std::path::Path, query: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query_as(query).fetch_all(&mut conn).await.unwrap()
}

/// A connector `name` on the SQL plugin over the SQLite file `db`: `head` holds its top-level
/// keys after the plugin, `pages` its parameter pages after the connectivity page.
fn sql_connector(
    name: &str,
    token: &str,
    db: &std::path::Path,
    head: &str,
    pages: &str,
) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(token).unwrap();
    ExtraConnector {
        file_name: Box::leak(format!("{name}.toml").into_boxed_str()),
        toml: format!(
            "version = 1\nname = \"{name}\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_sql.so\"\nautosync_minutes = 0\n{head}\n[parameters.connectivity]\nconnection_string = \"sqlite://{}\"\n\n{pages}",
            db.display()
        ),
    }
}

#[tokio::test]
async fn meta_timestamps_are_recorded_and_survive_a_restart() {
    let mut host = TestHost::start().await;
    let t = host.token.clone();

    // An imported object has both, equal: first seen at the import.
    let (status, adele) = host
        .send(Method::GET, "demo", "/Users/adele.vance", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{adele}");
    let (adele_created, adele_modified) = times(&adele);
    assert_eq!(adele_created, adele_modified);

    // A created object: created = lastModified.
    let user = json!({"schemas": [CORE_USER, EXT], "userName": "tim", EXT: {"FirstName": "Tim"}});
    let (status, created) = host
        .send(Method::POST, "demo", "/Users", &t, Some(&user.to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (tim_created, tim_modified) = times(&created);
    assert_eq!(tim_created, tim_modified);

    // A change moves lastModified, never created; a PATCH that changes nothing moves neither.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let change = patch_body(
        json!([{"op": "replace", "path": format!("{EXT}:FirstName"), "value": "Timothy"}]),
    );
    let (status, changed) = host
        .send(Method::PATCH, "demo", "/Users/tim", &t, Some(&change))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (created_after, modified_after) = times(&changed);
    assert_eq!(created_after, tim_created);
    assert!(
        modified_after > tim_modified,
        "{modified_after} <= {tim_modified}"
    );
    let (_, same) = host
        .send(Method::PATCH, "demo", "/Users/tim", &t, Some(&change))
        .await;
    assert_eq!(times(&same), (tim_created.clone(), modified_after.clone()));

    // After a restart (which imports everything again), the times are the ones recorded.
    host.restart().await;
    let (status, tim) = host.send(Method::GET, "demo", "/Users/tim", &t, None).await;
    assert_eq!(status, StatusCode::OK, "{tim}");
    assert_eq!(times(&tim), (tim_created, modified_after));
    let (_, adele) = host
        .send(Method::GET, "demo", "/Users/adele.vance", &t, None)
        .await;
    assert_eq!(times(&adele), (adele_created, adele_modified));
    // Lists carry them too.
    let (_, list) = host
        .send(
            Method::GET,
            "demo",
            "/Users?filter=userName%20eq%20%22tim%22",
            &t,
            None,
        )
        .await;
    times(&list["Resources"][0]);
    host.stop().await;
}

async fn db(host: &TestHost) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", host.database().display()))
        .await
        .unwrap()
}

async fn strings(host: &TestHost, query: &str) -> Vec<String> {
    let mut conn = db(host).await;
    let rows: Vec<(String,)> = sqlx::query_as(query).fetch_all(&mut conn).await.unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}

#[tokio::test]
async fn users_and_groups_are_renamed_with_the_references_to_them() {
    let host = TestHost::start().await;
    let t = host.token.clone();

    // Entra changes a user's UPN: the anchor changes.
    let rename = patch_body(json!([{"op": "Replace", "path": "userName", "value": "adele.v"}]));
    let response = host
        .client
        .patch(host.url("demo", "/Users/adele.vance"))
        .bearer_auth(&t)
        .header("content-type", "application/scim+json")
        .body(rename)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Json = response.json().await.unwrap();
    assert_eq!(body["id"], "adele.v", "{body}");
    assert_eq!(body["userName"], "adele.v");
    assert!(
        location.ends_with("/ecma2host_demo/scim/Users/adele.v"),
        "{location}"
    );
    assert_eq!(body["meta"]["location"], location.as_str());
    let (status, _) = host
        .send(Method::GET, "demo", "/Users/adele.vance", &t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The row moved, and so did every reference to it in the target and in the space.
    assert_eq!(
        strings(
            &host,
            "SELECT Login FROM Employees WHERE Login LIKE 'adele%'"
        )
        .await,
        ["adele.v"]
    );
    assert_eq!(
        strings(
            &host,
            "SELECT Manager FROM Employees WHERE Login = 'megan.bowen'"
        )
        .await,
        ["adele.v"]
    );
    assert_eq!(
        strings(
            &host,
            "SELECT Member FROM GroupMembers WHERE GroupName = 'Retail'"
        )
        .await,
        ["adele.v"]
    );
    let (_, megan) = host
        .send(Method::GET, "demo", "/Users/megan.bowen", &t, None)
        .await;
    assert_eq!(
        megan["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        "adele.v",
        "{megan}"
    );

    // A group rename moves the group's row and its member rows.
    let rename = patch_body(json!([{"op": "Replace", "path": "displayName", "value": "Stores"}]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Retail", &t, Some(&rename))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        strings(
            &host,
            "SELECT GroupName FROM GroupMembers WHERE Member = 'adele.v'"
        )
        .await,
        ["Stores"]
    );
    assert!(strings(
        &host,
        "SELECT GroupName FROM Groups WHERE GroupName = 'Retail'"
    )
    .await
    .is_empty());
    let (status, _) = host
        .send(Method::GET, "demo", "/Groups/Retail", &t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, stores) = host
        .send(Method::GET, "demo", "/Groups/Stores", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{stores}");
    assert_eq!(stores["displayName"], "Stores");
    assert_eq!(stores["members"][0]["value"], "adele.v", "{stores}");

    // A rename onto another object's anchor is a conflict, and nothing changes.
    let clash = patch_body(json!([{"op": "Replace", "path": "userName", "value": "MEGAN.BOWEN"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/alex.wilber",
            &t,
            Some(&clash),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(
        strings(&host, "SELECT Login FROM Employees ORDER BY Login").await,
        ["adele.v", "alex.wilber", "megan.bowen"]
    );
    host.stop().await;
}

#[tokio::test]
async fn a_member_added_to_a_large_group_touches_one_row() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    // 3,000 users in group Big, and the host imports them.
    {
        use sqlx::Connection;
        let mut conn = db(&host).await;
        let mut tx = conn.begin().await.unwrap();
        for i in 0..3001 {
            sqlx::query("INSERT INTO Employees (Login, IsActive) VALUES (?, 1)")
                .bind(format!("u{i:05}"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO Groups (GroupName) VALUES ('Big')")
            .execute(&mut *tx)
            .await
            .unwrap();
        for i in 0..3000 {
            sqlx::query("INSERT INTO GroupMembers (GroupName, Member) VALUES ('Big', ?)")
                .bind(format!("u{i:05}"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let entry = host.host.as_ref().unwrap().registry.get("demo").unwrap();
    let ecmahost::registry::ConnectorSlot::Running(runtime) = entry.slot else {
        panic!("demo failed");
    };
    runtime.sync_now().await.unwrap();
    let rowids = || async {
        let mut conn = db(&host).await;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT rowid, Member FROM GroupMembers WHERE GroupName = 'Big' ORDER BY Member",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows
    };
    let before = rowids().await;

    // Entra's shapes: an add with a value list, a remove by value filter.
    let add = patch_body(json!([{"op": "Add", "path": "members", "value": [{"value": "u03000"}]}]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Big", &t, Some(&add))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let remove = patch_body(json!([{"op": "Remove", "path": "members[value eq \"u00007\"]"}]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Big", &t, Some(&remove))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Exactly one row more and one row less; every other row is the row it was (same rowid):
    // the connector received the two values, not the member list.
    let after = rowids().await;
    assert_eq!(after.len(), 3000);
    assert!(after.iter().any(|(_, m)| m == "u03000"));
    assert!(!after.iter().any(|(_, m)| m == "u00007"));
    let untouched: Vec<_> = before.iter().filter(|(_, m)| m != "u00007").collect();
    for row in &untouched {
        assert!(after.contains(row), "row {row:?} was rewritten");
    }
    // The connector space agrees.
    let (_, big) = host
        .send(Method::GET, "demo", "/Groups/Big", &t, None)
        .await;
    let members = big["members"].as_array().unwrap();
    assert_eq!(members.len(), 3000);
    assert!(members.iter().any(|m| m["value"] == "u03000"));
    host.stop().await;
}

#[tokio::test]
async fn a_connector_that_cannot_rename_refuses_a_new_anchor() {
    const TOKEN: &str = "norename-token-0123456789abcdef";
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    let faulty = ExtraConnector {
        file_name: "norename.toml",
        toml: format!(
            "version = 1\nname = \"norename\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\nobject_type = \"User\"\nanchor = \"Id\"\n[[attributes]]\nname = \"Name\"\n"
        ),
    };
    let host = TestHost::start_with(vec![faulty], |_| {}).await;
    host.wait_ready_with("norename", TOKEN).await;
    let user = json!({"schemas": [CORE_USER], "userName": "u1"}).to_string();
    let (status, body) = host
        .send(Method::POST, "norename", "/Users", TOKEN, Some(&user))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rename = patch_body(json!([{"op": "replace", "path": "userName", "value": "u2"}]));
    let (status, body) = host
        .send(Method::PATCH, "norename", "/Users/u1", TOKEN, Some(&rename))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "mutability");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("connector 'norename' cannot rename") && detail.contains("object_rename"),
        "{detail}"
    );
    // Still there under its old id; its schema says the anchor is immutable.
    let (status, _) = host
        .send(Method::GET, "norename", "/Users/u1", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, schema) = host
        .send(
            Method::GET,
            "norename",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            TOKEN,
            None,
        )
        .await;
    let user_name = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap();
    assert_eq!(user_name["mutability"], "immutable");
    host.stop().await;
}

#[tokio::test]
async fn a_two_column_anchor_round_trips_and_renames() {
    const TOKEN: &str = "accounts-token-0123456789abcdef";
    let data = tempfile::tempdir().unwrap();
    let path = sqlite_file(
        data.path(),
        "accounts.db",
        &[
            "CREATE TABLE Accounts (Tenant TEXT NOT NULL, Login TEXT NOT NULL, FullName TEXT, PRIMARY KEY (Tenant, Login))",
            "INSERT INTO Accounts VALUES ('contoso', 'ann', 'Ann Lee'), ('fabrikam', 'ann', 'Ann Other')",
        ],
    )
    .await;
    let connector = sql_connector(
        "accounts",
        TOKEN,
        &path,
        "object_type = \"User\"\nanchor = [\"Tenant\", \"Login\"]\n[[attributes]]\nname = \"Tenant\"\n[[attributes]]\nname = \"Login\"\n[[attributes]]\nname = \"FullName\"\nscim = \"displayName\"\n",
        "[parameters.schema1]\nobject_types = \"User\"\n[parameters.schema2]\n\"User:table\" = \"Accounts\"\n[parameters.schema3]\n\"User:anchor\" = \"Tenant,Login\"\n",
    );
    let host = TestHost::start_with(vec![connector], |_| {}).await;
    host.wait_ready_with("accounts", TOKEN).await;
    let rows = || {
        sqlite_rows::<(String, String, Option<String>)>(
            &path,
            "SELECT Tenant, Login, FullName FROM Accounts ORDER BY Tenant, Login",
        )
    };

    // Imported: two objects with the same Login, told apart by the tenant; the id joins the
    // parts with `~`.
    let (status, ann) = host
        .send(Method::GET, "accounts", "/Users/contoso~ann", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{ann}");
    assert_eq!(ann["id"], "contoso~ann");
    assert_eq!(ann["displayName"], "Ann Lee");
    assert_eq!(ann[EXT]["Tenant"], "contoso");
    let (status, other) = host
        .send(Method::GET, "accounts", "/Users/fabrikam~ann", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{other}");

    // Created from its parts; `userName` is the id, not an input.
    let bob = json!({"schemas": [CORE_USER, EXT], "userName": "whatever", "displayName": "Bob",
        EXT: {"Tenant": "contoso", "Login": "bob"}});
    let (status, created) = host
        .send(
            Method::POST,
            "accounts",
            "/Users",
            TOKEN,
            Some(&bob.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "contoso~bob");
    // A part missing: 400 naming it.
    let partial = json!({"schemas": [CORE_USER, EXT], "userName": "x", EXT: {"Tenant": "contoso"}});
    let (status, body) = host
        .send(
            Method::POST,
            "accounts",
            "/Users",
            TOKEN,
            Some(&partial.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Login is required"),
        "{body}"
    );

    // An update finds the row by both columns; a new part renames.
    let change = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Bob B"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "accounts",
            "/Users/contoso~bob",
            TOKEN,
            Some(&change),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let moved = patch_body(
        json!([{"op": "replace", "path": format!("{EXT}:Tenant"), "value": "fabrikam"}]),
    );
    let (status, body) = host
        .send(
            Method::PATCH,
            "accounts",
            "/Users/contoso~bob",
            TOKEN,
            Some(&moved),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "fabrikam~bob");
    assert_eq!(
        rows().await,
        [
            ("contoso".into(), "ann".into(), Some("Ann Lee".into())),
            ("fabrikam".into(), "ann".into(), Some("Ann Other".into())),
            ("fabrikam".into(), "bob".into(), Some("Bob B".into())),
        ]
    );
    let (status, _) = host
        .send(Method::GET, "accounts", "/Users/contoso~bob", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // DELETE by both columns removes exactly that row.
    let (status, body) = host
        .send(
            Method::DELETE,
            "accounts",
            "/Users/fabrikam~ann",
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(rows().await.len(), 2);
    assert_eq!(rows().await[0].0, "contoso");
    host.stop().await;
}

#[tokio::test]
async fn a_binary_anchor_is_a_base64url_id() {
    const TOKEN: &str = "devices-token-0123456789abcdef0";
    let data = tempfile::tempdir().unwrap();
    let path = sqlite_file(
        data.path(),
        "things.db",
        &[
            "CREATE TABLE Things (Guid BLOB PRIMARY KEY, Name TEXT)",
            // 0xfb 0xff 0x00 0x10 0x3e: base64 `+/8AED4=`, base64url `-_8AED4`.
            "INSERT INTO Things VALUES (X'fbff00103e', 'printer')",
        ],
    )
    .await;
    let connector = sql_connector(
        "things",
        TOKEN,
        &path,
        "object_type = \"User\"\nanchor = \"Guid\"\n[[attributes]]\nname = \"Name\"\nscim = \"displayName\"\n",
        "[parameters.schema1]\nobject_types = \"User\"\n[parameters.schema2]\n\"User:table\" = \"Things\"\n[parameters.schema3]\n\"User:anchor\" = \"Guid\"\n[parameters.schema4]\n\"User:Guid:type\" = \"Binary\"\n",
    );
    let host = TestHost::start_with(vec![connector], |_| {}).await;
    host.wait_ready_with("things", TOKEN).await;
    let name = || {
        sqlite_rows::<(Vec<u8>, Option<String>)>(
            &path,
            "SELECT Guid, Name FROM Things ORDER BY Guid",
        )
    };

    let (status, thing) = host
        .send(Method::GET, "things", "/Users/-_8AED4", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{thing}");
    assert_eq!(thing["id"], "-_8AED4");
    assert!(thing["meta"]["location"]
        .as_str()
        .unwrap()
        .ends_with("/Users/-_8AED4"));
    // A filter on the id finds it; a PATCH finds the row by its bytes.
    let (_, found) = host
        .send(
            Method::GET,
            "things",
            "/Users?filter=id%20eq%20%22-_8AED4%22",
            TOKEN,
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let change = patch_body(json!([{"op": "replace", "path": "displayName", "value": "plotter"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "things",
            "/Users/-_8AED4",
            TOKEN,
            Some(&change),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        name().await,
        [(vec![0xfb, 0xff, 0x00, 0x10, 0x3e], Some("plotter".into()))]
    );
    // Created with standard base64 in the anchor's attribute: the id is base64url.
    let new = json!({"schemas": [CORE_USER], "userName": "AQID+A==", "displayName": "scanner"});
    let (status, created) = host
        .send(
            Method::POST,
            "things",
            "/Users",
            TOKEN,
            Some(&new.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "AQID-A");
    let (status, body) = host
        .send(Method::DELETE, "things", "/Users/-_8AED4", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        name().await,
        [(vec![1, 2, 3, 0xf8], Some("scanner".into()))]
    );
    host.stop().await;
}

#[tokio::test]
async fn an_administrator_can_turn_renames_off_and_cannot_turn_them_on() {
    const TOKEN: &str = "renameon-token-0123456789abcdef";
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    // The faulty connector cannot rename: asking for renames is refused when it is built.
    let faulty = ExtraConnector {
        file_name: "renameon.toml",
        toml: format!(
            "version = 1\nname = \"renameon\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\nobject_rename = true\nobject_type = \"User\"\nanchor = \"Id\"\n[[attributes]]\nname = \"Name\"\n"
        ),
    };
    let host = TestHost::start_with(vec![faulty], |dir| {
        let file = dir.join("connectors/demo.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            text.replacen("version = 1\n", "version = 1\nobject_rename = false\n", 1),
        )
        .unwrap();
    })
    .await;
    let status = host
        .wait_status("renameon", |s| s["state"] == "failed")
        .await;
    let reason = status["reason"].as_str().unwrap();
    assert!(
        reason.contains("renameon.toml") && reason.contains("object_rename"),
        "{reason}"
    );
    // The demo's SQL connector can rename, but its file says not to.
    let rename = patch_body(json!([{"op": "Replace", "path": "userName", "value": "adele.v"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/adele.vance",
            &host.token,
            Some(&rename),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "mutability");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`object_rename = false`"),
        "{body}"
    );
    host.stop().await;
}

#[tokio::test]
async fn two_users_that_manage_each_other_rename_at_once() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let manager = |id: &str| {
        patch_body(json!([{"op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "value": id}]))
    };
    for (user, boss) in [
        ("alex.wilber", "megan.bowen"),
        ("megan.bowen", "alex.wilber"),
    ] {
        let (status, body) = host
            .send(
                Method::PATCH,
                "demo",
                &format!("/Users/{user}"),
                &t,
                Some(&manager(boss)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let rename = |to: &str| patch_body(json!([{"op": "Replace", "path": "userName", "value": to}]));
    let (alex, megan) = (rename("alex.w"), rename("megan.b"));
    // Each rename then updates the other's manager: neither may wait on the other's lock.
    let both = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        tokio::join!(
            host.send(Method::PATCH, "demo", "/Users/alex.wilber", &t, Some(&alex)),
            host.send(
                Method::PATCH,
                "demo",
                "/Users/megan.bowen",
                &t,
                Some(&megan)
            ),
        )
    })
    .await
    .expect("the two renames finished");
    assert_eq!(both.0 .0, StatusCode::OK, "{}", both.0 .1);
    assert_eq!(both.1 .0, StatusCode::OK, "{}", both.1 .1);
    let managers: Vec<(String, Option<String>)> = {
        let mut conn = db(&host).await;
        sqlx::query_as("SELECT Login, Manager FROM Employees WHERE Login IN ('alex.w', 'megan.b') ORDER BY Login")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(
        managers,
        [
            ("alex.w".to_string(), Some("megan.b".to_string())),
            ("megan.b".to_string(), Some("alex.w".to_string())),
        ]
    );
    host.stop().await;
}

#[tokio::test]
async fn references_wait_for_the_second_pass_when_the_connector_asks() {
    const TOKEN: &str = "twopass-token-0123456789abcdef0";
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("twopass.record");
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    let faulty = ExtraConnector {
        file_name: "twopass.toml",
        toml: format!(
            "version = 1\nname = \"twopass\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\nobject_type = \"User\"\nanchor = \"Id\"\n[[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Manager\"\nscim = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\"\n[parameters.connectivity]\ntwo_pass = \"true\"\nrecord_to = \"{}\"\n",
            record.display()
        ),
    };
    let host = TestHost::start_with(vec![faulty], |_| {}).await;
    host.wait_ready_with("twopass", TOKEN).await;
    let boss = json!({"schemas": [CORE_USER], "userName": "boss", "name": {"givenName": "B"}});
    let (status, body) = host
        .send(
            Method::POST,
            "twopass",
            "/Users",
            TOKEN,
            Some(&boss.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let worker = json!({"schemas": [CORE_USER, EXT], "userName": "worker",
        EXT: {"Name": "W"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "boss"}}});
    let (status, body) = host
        .send(
            Method::POST,
            "twopass",
            "/Users",
            TOKEN,
            Some(&worker.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"],
        "boss"
    );
    // The connector saw the Add without the reference, then an Update with only it.
    let exports: Vec<String> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("export ") && l.contains(" worker "))
        .map(str::to_string)
        .collect();
    assert_eq!(
        exports,
        ["export Add worker Name", "export Update worker Manager"],
        "{exports:?}"
    );
    host.stop().await;
}
