//! Resource types beyond users: Entra's group provisioning in both PATCH dialects against the
//! demo connector, a custom resource type with its own endpoint and schemas, binary,
//! integer, boolean and multi-valued attributes, and references by DN with the `-dn-` virtual
//! attribute (and its alias `<dn>`). Every step checks the SCIM answer and the rows in SQLite.

use std::path::{Path, PathBuf};

use ecma_integration_tests::{ExtraConnector, TestHost};
use ecmahost::connector::ConnectorRuntime;
use ecmahost::registry::ConnectorSlot;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value as Json};
use sqlx::sqlite::SqliteRow;
use sqlx::Connection;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const USER_EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const DEVICE_CORE: &str = "urn:ecmahost:params:scim:schemas:core:2.0:Device";
const DEVICE_EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:Device";
/// The `schemas` Entra sends when it creates a group.
const ENTRA_GROUP_SCHEMAS: [&str; 2] = [
    CORE_GROUP,
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
];

async fn open(db: &Path) -> sqlx::SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap()
}

/// Run statements (`;`-separated) on an SQLite file, creating it if needed.
async fn exec(db: &Path, statements: &str) {
    let mut conn = open(db).await;
    sqlx::raw_sql(statements).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// The rows of a query on an SQLite file, with `args` bound to its `?` placeholders.
async fn query<T>(db: &Path, sql: &str, args: &[&str]) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
{
    let mut conn = open(db).await;
    let mut statement = sqlx::query_as(sql);
    for arg in args {
        statement = statement.bind(*arg);
    }
    let rows = statement.fetch_all(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    rows
}

/// A group's row in the demo's `Groups`: `(GroupName, ExternalId, Description)`.
async fn group_row(db: &Path, group: &str) -> Option<(String, Option<String>, Option<String>)> {
    query(
        db,
        "SELECT GroupName, ExternalId, Description FROM Groups WHERE GroupName = ?",
        &[group],
    )
    .await
    .into_iter()
    .next()
}

/// A group's members in the demo's `GroupMembers`, sorted.
async fn group_members(db: &Path, group: &str) -> Vec<String> {
    query::<(String,)>(
        db,
        "SELECT Member FROM GroupMembers WHERE GroupName = ? ORDER BY Member",
        &[group],
    )
    .await
    .into_iter()
    .map(|(m,)| m)
    .collect()
}

fn patch_body(operations: Json) -> String {
    json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()
}

/// The running version of `connector`.
fn runtime(host: &TestHost, connector: &str) -> std::sync::Arc<ConnectorRuntime> {
    match host
        .host
        .as_ref()
        .unwrap()
        .registry
        .get(connector)
        .unwrap()
        .slot
    {
        ConnectorSlot::Running(r) => r,
        ConnectorSlot::Failed { reason, .. } => panic!("{connector} failed: {reason}"),
    }
}

/// Wait until `connector` is ready; fail with its status if it is not.
async fn ready(host: &TestHost, connector: &str) {
    let status = host
        .wait_status(connector, |s| {
            s["state"] == "ready" || s["state"] == "failed"
        })
        .await;
    assert_eq!(status["state"], "ready", "{status}");
}

/// A PATCH with an `If-Match` header: `(status, headers, body)`.
async fn send_if_match(
    host: &TestHost,
    path: &str,
    version: &str,
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Json) {
    let response = host
        .client
        .patch(host.url("demo", path))
        .bearer_auth(&host.token)
        .header("Content-Type", "application/scim+json")
        .header("If-Match", version)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.bytes().await.unwrap();
    let json = match bytes.is_empty() {
        true => Json::Null,
        false => serde_json::from_slice(&bytes).unwrap(),
    };
    (status, headers, json)
}

/// Entra's group sequence in its default dialect: create, look up without members, add and
/// remove members (`{"$ref": null, "value": id}` elements), replace `externalId`, refuse an
/// unknown member, answer a projected PATCH, delete.
#[tokio::test]
async fn entra_group_lifecycle_default_dialect() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let db = host.database();
    let seeded_retail = group_members(&db, "Retail").await;
    assert_eq!(seeded_retail, ["adele.vance"]);

    // 1. POST in Entra's shape: 201, Location, id == displayName, no members yet.
    let group = json!({
        "schemas": ENTRA_GROUP_SCHEMAS,
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1",
        "meta": {"resourceType": "Group"}
    })
    .to_string();
    let (status, headers, body) = host
        .send_full(Method::POST, "demo", "/Groups", &t, Some(&group))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .ends_with("/ecma2host_demo/scim/Groups/Group1"),
        "{:?}",
        headers["location"]
    );
    assert_eq!(body["id"], "Group1");
    assert_eq!(body["displayName"], "Group1");
    assert_eq!(body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(body["meta"]["resourceType"], "Group");
    assert!(
        body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(CORE_GROUP)),
        "{body}"
    );
    assert!(
        body.get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{body}"
    );
    assert!(
        body.get("active").is_none(),
        "groups have no active: {body}"
    );
    assert_eq!(
        group_row(&db, "Group1").await,
        Some((
            "Group1".into(),
            Some("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159".into()),
            None
        ))
    );
    assert!(group_members(&db, "Group1").await.is_empty());

    // The same displayName again: 409 uniqueness.
    let (status, body) = host
        .send(Method::POST, "demo", "/Groups", &t, Some(&group))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");

    // 2. GET by id without members.
    let (status, body) = host
        .send(
            Method::GET,
            "demo",
            "/Groups/Group1?excludedAttributes=members",
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "Group1");
    assert_eq!(body["displayName"], "Group1");
    assert!(body.get("members").is_none(), "{body}");

    // 3. Entra's lookup by displayName, without members.
    let (status, body) = host
        .send(
            Method::GET,
            "demo",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22Group1%22",
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["id"], "Group1");
    assert_eq!(
        body["Resources"][0]["externalId"],
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    );
    assert!(body["Resources"][0].get("members").is_none(), "{body}");
    // A seeded group with members: excluded too.
    let (_, body) = host
        .send(
            Method::GET,
            "demo",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22Retail%22",
            &t,
            None,
        )
        .await;
    assert_eq!(body["totalResults"], 1, "{body}");
    assert!(body["Resources"][0].get("members").is_none(), "{body}");

    // 4. Add two members: 204 with an ETag, two rows.
    let add = patch_body(json!([{
        "op": "Add",
        "path": "members",
        "value": [{"$ref": null, "value": "adele.vance"}, {"$ref": null, "value": "alex.wilber"}]
    }]));
    let (status, headers, body) = host
        .send_full(Method::PATCH, "demo", "/Groups/Group1", &t, Some(&add))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Json::Null);
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(
        group_members(&db, "Group1").await,
        ["adele.vance", "alex.wilber"]
    );
    let (status, headers, body) = host
        .send_full(Method::GET, "demo", "/Groups/Group1", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["etag"].to_str().unwrap(),
        etag,
        "the 204's ETag is the group's version"
    );
    assert_eq!(body["members"].as_array().unwrap().len(), 2, "{body}");

    // displayName is not case-exact (RFC 7643 §4.2): Entra's lookup matches any case.
    let (status, body) = host
        .send(
            Method::GET,
            "demo",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22group1%22",
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1, "{body}");

    // The 204's ETag works as If-Match; a stale one is refused with 412 and writes nothing.
    let add_megan = patch_body(json!([{
        "op": "Add",
        "path": "members",
        "value": [{"$ref": null, "value": "megan.bowen"}]
    }]));
    let (status, headers, body) = send_if_match(&host, "/Groups/Group1", &etag, &add_megan).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let newer = headers["etag"].to_str().unwrap().to_string();
    assert_ne!(newer, etag);
    let remove_megan = patch_body(json!([{
        "op": "Remove",
        "path": "members",
        "value": [{"$ref": null, "value": "megan.bowen"}]
    }]));
    let (status, _, body) = send_if_match(&host, "/Groups/Group1", &etag, &remove_megan).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(
        group_members(&db, "Group1").await,
        ["adele.vance", "alex.wilber", "megan.bowen"]
    );
    let (status, _, body) = send_if_match(&host, "/Groups/Group1", &newer, &remove_megan).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        group_members(&db, "Group1").await,
        ["adele.vance", "alex.wilber"]
    );

    // 5. Remove one member with the value-array shape: one row left.
    let remove = patch_body(json!([{
        "op": "Remove",
        "path": "members",
        "value": [{"$ref": null, "value": "alex.wilber"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group1", &t, Some(&remove))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_members(&db, "Group1").await, ["adele.vance"]);

    // 6. Replace externalId: the column changes, the members stay.
    let replace = patch_body(json!([{
        "op": "Replace",
        "path": "externalId",
        "value": "0f0e0d0c-aaaa-bbbb-cccc-000000000001"
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group1", &t, Some(&replace))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        group_row(&db, "Group1").await,
        Some((
            "Group1".into(),
            Some("0f0e0d0c-aaaa-bbbb-cccc-000000000001".into()),
            None
        ))
    );
    assert_eq!(group_members(&db, "Group1").await, ["adele.vance"]);

    // 7. A member that does not exist: 400 invalidValue, nothing written.
    let unknown = patch_body(json!([{
        "op": "Add",
        "path": "members",
        "value": [{"$ref": null, "value": "nobody.here"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group1", &t, Some(&unknown))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    assert_eq!(body["status"], "400");
    assert_eq!(group_members(&db, "Group1").await, ["adele.vance"]);

    // 8. A PATCH that asks for attributes: 200 with the projected body.
    let add_megan = patch_body(json!([{
        "op": "Add",
        "path": "members",
        "value": [{"$ref": null, "value": "megan.bowen"}]
    }]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Groups/Group1?attributes=members",
            &t,
            Some(&add_megan),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "Group1");
    let members = body["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{body}");
    for id in ["adele.vance", "megan.bowen"] {
        let member = members
            .iter()
            .find(|m| m["value"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {body}"));
        assert!(
            member["$ref"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/ecma2host_demo/scim/Users/{id}")),
            "{member}"
        );
        assert_eq!(member["type"], "User");
    }
    assert!(
        body.get("externalId").is_none(),
        "projected to members: {body}"
    );
    assert_eq!(
        group_members(&db, "Group1").await,
        ["adele.vance", "megan.bowen"]
    );

    // Concurrent adds of different members to one group: none is lost.
    let mut logins = Vec::new();
    for i in 0..5 {
        let login = format!("temp.user{i}");
        let user = json!({"schemas": [CORE_USER, USER_EXT], "userName": login, "active": true})
            .to_string();
        let (status, body) = host
            .send(Method::POST, "demo", "/Users", &t, Some(&user))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        logins.push(login);
    }
    let adds: Vec<String> = logins
        .iter()
        .map(|l| {
            patch_body(json!([{
                "op": "Add", "path": "members", "value": [{"$ref": null, "value": l}]
            }]))
        })
        .collect();
    let patch = |i: usize| {
        host.send(
            Method::PATCH,
            "demo",
            "/Groups/Group1",
            &t,
            Some(adds[i].as_str()),
        )
    };
    let results = tokio::join!(patch(0), patch(1), patch(2), patch(3), patch(4));
    for (status, body) in [results.0, results.1, results.2, results.3, results.4] {
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let mut expected = vec!["adele.vance".to_string(), "megan.bowen".to_string()];
    expected.extend(logins.iter().cloned());
    expected.sort();
    assert_eq!(group_members(&db, "Group1").await, expected);
    let (_, body) = host
        .send(Method::GET, "demo", "/Groups/Group1", &t, None)
        .await;
    assert_eq!(body["members"].as_array().unwrap().len(), 7, "{body}");

    // 9. DELETE: the group's row and its member rows go.
    let (status, body) = host
        .send(Method::DELETE, "demo", "/Groups/Group1", &t, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_row(&db, "Group1").await, None);
    assert!(group_members(&db, "Group1").await.is_empty());
    let (status, body) = host
        .send(Method::GET, "demo", "/Groups/Group1", &t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["status"], "404");

    // The seeded groups were not touched.
    assert_eq!(group_members(&db, "Retail").await, seeded_retail);
    assert_eq!(group_members(&db, "Marketing").await, ["alex.wilber"]);
    host.stop().await;
}

/// Entra's `aadOptscim062020` dialect: lower-case ops, `members[value eq "id"]` removal,
/// several operations in one request, and a path-less replace with a value object.
#[tokio::test]
async fn entra_group_membership_aad_dialect() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let db = host.database();

    let group = json!({
        "schemas": ENTRA_GROUP_SCHEMAS,
        "externalId": "5d7c3b1e-0000-4000-8000-000000000002",
        "displayName": "Group2",
        "meta": {"resourceType": "Group"}
    })
    .to_string();
    let (status, body) = host
        .send(Method::POST, "demo", "/Groups", &t, Some(&group))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        group_row(&db, "Group2").await,
        Some((
            "Group2".into(),
            Some("5d7c3b1e-0000-4000-8000-000000000002".into()),
            None
        ))
    );

    // add: two members.
    let add = patch_body(json!([{
        "op": "add",
        "path": "members",
        "value": [{"value": "adele.vance"}, {"value": "megan.bowen"}]
    }]));
    let (status, headers, body) = host
        .send_full(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&add))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(headers.contains_key("etag"), "{headers:?}");
    assert_eq!(
        group_members(&db, "Group2").await,
        ["adele.vance", "megan.bowen"]
    );

    // Adding a member the group already has changes nothing.
    let again = patch_body(json!([{
        "op": "add",
        "path": "members",
        "value": [{"value": "adele.vance"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&again))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        group_members(&db, "Group2").await,
        ["adele.vance", "megan.bowen"]
    );

    // remove by value filter.
    let remove = patch_body(json!([{
        "op": "remove",
        "path": "members[value eq \"adele.vance\"]"
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&remove))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_members(&db, "Group2").await, ["megan.bowen"]);

    // One request, two operations: remove one member, add another.
    let both = patch_body(json!([
        {"op": "remove", "path": "members[value eq \"megan.bowen\"]"},
        {"op": "add", "path": "members", "value": [{"value": "alex.wilber"}]}
    ]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&both))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_members(&db, "Group2").await, ["alex.wilber"]);

    // Removing a user who is not a member changes nothing.
    let not_member = patch_body(json!([{
        "op": "remove",
        "path": "members[value eq \"megan.bowen\"]"
    }]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Groups/Group2",
            &t,
            Some(&not_member),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_members(&db, "Group2").await, ["alex.wilber"]);

    // replace the whole member list.
    let set = patch_body(json!([{
        "op": "replace",
        "path": "members",
        "value": [{"value": "adele.vance"}, {"value": "megan.bowen"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&set))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        group_members(&db, "Group2").await,
        ["adele.vance", "megan.bowen"]
    );
    let back = patch_body(json!([{
        "op": "replace",
        "path": "members",
        "value": [{"value": "alex.wilber"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&back))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_members(&db, "Group2").await, ["alex.wilber"]);

    // A path-less replace with a value object.
    let replace = patch_body(json!([{
        "op": "replace",
        "value": {"externalId": "5d7c3b1e-0000-4000-8000-0000000000ff"}
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&replace))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        group_row(&db, "Group2").await,
        Some((
            "Group2".into(),
            Some("5d7c3b1e-0000-4000-8000-0000000000ff".into()),
            None
        ))
    );
    assert_eq!(group_members(&db, "Group2").await, ["alex.wilber"]);

    // A member that does not exist, in this dialect too: 400, nothing written.
    let unknown = patch_body(json!([{
        "op": "add",
        "path": "members",
        "value": [{"value": "ghost"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&unknown))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    assert_eq!(group_members(&db, "Group2").await, ["alex.wilber"]);

    // The group as Entra reads it back.
    let (status, body) = host
        .send(Method::GET, "demo", "/Groups/Group2", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["externalId"], "5d7c3b1e-0000-4000-8000-0000000000ff");
    assert_eq!(body["members"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["members"][0]["value"], "alex.wilber");
    assert_eq!(body["members"][0]["type"], "User");

    // remove every member (path without filter or value).
    let clear = patch_body(json!([{"op": "remove", "path": "members"}]));
    let (status, body) = host
        .send(Method::PATCH, "demo", "/Groups/Group2", &t, Some(&clear))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(group_members(&db, "Group2").await.is_empty());

    let (status, body) = host
        .send(Method::DELETE, "demo", "/Groups/Group2", &t, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_row(&db, "Group2").await, None);

    // Entra's group names carry spaces, '&', '/', '#' and non-ASCII letters: the id is
    // percent-encoded in locations and found again by its encoded path and by filter.
    let name = "Sales & Marketing (EU)/Team #1 ü";
    let encoded = "Sales%20%26%20Marketing%20%28EU%29%2FTeam%20%231%20%C3%BC";
    let group = json!({
        "schemas": ENTRA_GROUP_SCHEMAS,
        "displayName": name,
        "members": [{"value": "adele.vance"}]
    })
    .to_string();
    let (status, headers, body) = host
        .send_full(Method::POST, "demo", "/Groups", &t, Some(&group))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], name);
    let location = headers["location"].to_str().unwrap();
    assert!(
        location.ends_with(&format!("/ecma2host_demo/scim/Groups/{encoded}")),
        "{location}"
    );
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(group_members(&db, name).await, ["adele.vance"]);
    let path = format!("/Groups/{encoded}");
    let (status, body) = host.send(Method::GET, "demo", &path, &t, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], name);
    let (_, body) = host
        .send(
            Method::GET,
            "demo",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales+%26+Marketing+(EU)%2FTeam+%231+%C3%BC%22",
            &t,
            None,
        )
        .await;
    assert_eq!(body["totalResults"], 1, "{body}");
    let add = patch_body(json!([{
        "op": "add",
        "path": "members",
        "value": [{"value": "megan.bowen"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "demo", &path, &t, Some(&add))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        group_members(&db, name).await,
        ["adele.vance", "megan.bowen"]
    );

    // A full sync finds the target as the host left it.
    let report = runtime(&host, "demo").sync_now().await.unwrap();
    assert_eq!((report.upserted, report.removed), (0, 0), "{report:?}");
    let (_, body) = host.send(Method::GET, "demo", &path, &t, None).await;
    assert_eq!(body["members"].as_array().unwrap().len(), 2, "{body}");

    let (status, body) = host.send(Method::DELETE, "demo", &path, &t, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(group_row(&db, name).await, None);
    assert!(group_members(&db, name).await.is_empty());
    host.stop().await;
}

const DEVICES_TOKEN: &str = "devices-connector-token-1";

/// A database for the `devices` connector: people, devices and their tags.
async fn devices_database(dir: &Path) -> PathBuf {
    let db = dir.join("devices.db");
    exec(
        &db,
        "CREATE TABLE People (Login TEXT PRIMARY KEY, FullName TEXT);
         CREATE TABLE Devices (
             Serial TEXT PRIMARY KEY,
             Owner TEXT,
             Model TEXT,
             Photo BLOB,
             Ports INTEGER,
             Managed BOOLEAN
         );
         CREATE TABLE DeviceTags (Serial TEXT NOT NULL, Tag TEXT NOT NULL, PRIMARY KEY (Serial, Tag));
         INSERT INTO People VALUES ('ann', 'Ann Lee'), ('bob', 'Bob Kent');
         INSERT INTO Devices (Serial, Owner, Model) VALUES ('SN-001', 'ann', 'Surface');",
    )
    .await;
    db
}

/// The `devices` connector: users at /Users and a custom resource type Device at /Devices,
/// whose `Owner` references a user.
fn devices_connector(db: &Path) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(DEVICES_TOKEN).unwrap();
    ExtraConnector {
        file_name: "devices.toml",
        toml: format!(
            r#"version = 1
name = "devices"
token_hash = "{hash}"
plugin = "libecma_sql.so"
autosync_minutes = 0
object_type = "User"
anchor = "Login"

[[attributes]]
name = "FullName"
scim = "displayName"

[[resource_types]]
name = "Device"
object_type = "Device"
anchor = "Serial"

[[resource_types.attributes]]
name = "Owner"
[[resource_types.attributes]]
name = "Model"
[[resource_types.attributes]]
name = "Photo"
[[resource_types.attributes]]
name = "Ports"
[[resource_types.attributes]]
name = "Managed"
[[resource_types.attributes]]
name = "Tag"

[resource_types.deprovisioning]
delete = "delete"

[parameters.connectivity]
connection_string = "sqlite://{db}"

[parameters.schema1]
object_types = "User,Device"

[parameters.schema2]
"User:table" = "People"
"Device:table" = "Devices"
"Device:multivalued_tables" = "DeviceTags"

[parameters.schema3]
"User:anchor" = "Login"
"Device:anchor" = "Serial"
"Device:DeviceTags:key_column" = "Serial"
"Device:DeviceTags:value_column" = "Tag"

[parameters.schema4]
"Device:Owner:type" = "Reference"
"#,
            db = db.display()
        ),
    }
}

/// `(Serial, Owner, Model)` of every device, sorted.
async fn devices(db: &Path) -> Vec<(String, Option<String>, Option<String>)> {
    query(
        db,
        "SELECT Serial, Owner, Model FROM Devices ORDER BY Serial",
        &[],
    )
    .await
}

async fn device_tags(db: &Path, serial: &str) -> Vec<String> {
    query::<(String,)>(
        db,
        "SELECT Tag FROM DeviceTags WHERE Serial = ? ORDER BY Tag",
        &[serial],
    )
    .await
    .into_iter()
    .map(|(t,)| t)
    .collect()
}

/// The attribute called `name` in a `/Schemas` document.
fn attribute<'a>(schema: &'a Json, name: &str) -> &'a Json {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("attribute {name} missing from {schema}"))
}

#[tokio::test]
async fn a_custom_resource_type_has_its_own_endpoint() {
    let data = tempfile::tempdir().unwrap();
    let db = devices_database(data.path()).await;
    let host = TestHost::start_with(vec![devices_connector(&db)], |_| {}).await;
    ready(&host, "devices").await;
    let t = DEVICES_TOKEN;

    // Discovery: two resource types, each with its own core and extension schema.
    let (status, types) = host
        .send(Method::GET, "devices", "/ResourceTypes", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{types}");
    assert_eq!(types["totalResults"], 2, "{types}");
    assert_eq!(types["Resources"][0]["id"], "User");
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][0]["schema"], CORE_USER);
    let device = &types["Resources"][1];
    assert_eq!(device["id"], "Device");
    assert_eq!(device["name"], "Device");
    assert_eq!(device["endpoint"], "/Devices");
    assert_eq!(device["schema"], DEVICE_CORE);
    assert_eq!(device["schemaExtensions"][0]["schema"], DEVICE_EXT);
    assert_eq!(device["schemaExtensions"][0]["required"], false);
    let (status, one) = host
        .send(Method::GET, "devices", "/ResourceTypes/Device", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(&one, device);

    let (status, schemas) = host.send(Method::GET, "devices", "/Schemas", t, None).await;
    assert_eq!(status, StatusCode::OK, "{schemas}");
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in [CORE_USER, USER_EXT, DEVICE_CORE, DEVICE_EXT] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let (status, core) = host
        .send(
            Method::GET,
            "devices",
            &format!("/Schemas/{DEVICE_CORE}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{core}");
    let anchor = attribute(&core, "displayName");
    assert_eq!(anchor["required"], true);
    // The SQL connector renames, so the anchor may change.
    assert_eq!(anchor["mutability"], "readWrite");
    assert!(
        core["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "active"),
        "devices have no active: {core}"
    );
    let (status, ext) = host
        .send(
            Method::GET,
            "devices",
            &format!("/Schemas/{DEVICE_EXT}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ext}");
    for (name, kind, multi) in [
        ("Owner", "reference", false),
        ("Model", "string", false),
        ("Photo", "binary", false),
        ("Ports", "integer", false),
        ("Managed", "boolean", false),
        ("Tag", "string", true),
    ] {
        let a = attribute(&ext, name);
        assert_eq!(
            (&a["type"], &a["multiValued"]),
            (&json!(kind), &json!(multi))
        );
    }

    // The seeded device, listed at its own endpoint; its owner is a user's location.
    let (status, list) = host.send(Method::GET, "devices", "/Devices", t, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1, "{list}");
    let seeded = &list["Resources"][0];
    assert_eq!(seeded["id"], "SN-001");
    assert_eq!(seeded["displayName"], "SN-001");
    assert_eq!(seeded["schemas"], json!([DEVICE_CORE, DEVICE_EXT]));
    assert_eq!(seeded["meta"]["resourceType"], "Device");
    assert!(seeded["meta"]["location"]
        .as_str()
        .unwrap()
        .ends_with("/ecma2host_devices/scim/Devices/SN-001"));
    assert!(seeded.get("active").is_none(), "{seeded}");
    assert_eq!(seeded[DEVICE_EXT]["Model"], "Surface");
    assert!(
        seeded[DEVICE_EXT]["Owner"]
            .as_str()
            .unwrap()
            .ends_with("/ecma2host_devices/scim/Users/ann"),
        "{seeded}"
    );
    // The users are still users.
    let (status, ann) = host
        .send(Method::GET, "devices", "/Users/ann", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{ann}");
    assert_eq!(ann["userName"], "ann");
    assert_eq!(ann["displayName"], "Ann Lee");

    // POST with displayName (the anchor) creates the row.
    let device = json!({
        "schemas": [DEVICE_CORE, DEVICE_EXT],
        "displayName": "SN-002",
        DEVICE_EXT: {"Owner": "bob", "Model": "ThinkPad"}
    })
    .to_string();
    let (status, headers, body) = host
        .send_full(Method::POST, "devices", "/Devices", t, Some(&device))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(headers["location"]
        .to_str()
        .unwrap()
        .ends_with("/ecma2host_devices/scim/Devices/SN-002"));
    assert_eq!(body["id"], "SN-002");
    assert_eq!(body["displayName"], "SN-002");
    assert_eq!(body["meta"]["resourceType"], "Device");
    assert_eq!(body[DEVICE_EXT]["Model"], "ThinkPad");
    assert!(
        body[DEVICE_EXT]["Owner"]
            .as_str()
            .unwrap()
            .ends_with("/Users/bob"),
        "{body}"
    );
    assert_eq!(
        devices(&db).await,
        [
            ("SN-001".into(), Some("ann".into()), Some("Surface".into())),
            ("SN-002".into(), Some("bob".into()), Some("ThinkPad".into())),
        ]
    );
    let (status, body) = host
        .send(Method::POST, "devices", "/Devices", t, Some(&device))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");

    // GET and list, by the anchor and by an extension attribute.
    let (status, body) = host
        .send(Method::GET, "devices", "/Devices/SN-002", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[DEVICE_EXT]["Model"], "ThinkPad");
    let (_, list) = host
        .send(
            Method::GET,
            "devices",
            "/Devices?filter=displayName+eq+%22SN-002%22",
            t,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");
    assert_eq!(list["Resources"][0]["id"], "SN-002");
    let (_, list) = host
        .send(
            Method::GET,
            "devices",
            &format!("/Devices?filter={DEVICE_EXT}:Model+eq+%22Surface%22"),
            t,
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");
    assert_eq!(list["Resources"][0]["id"], "SN-001");
    // Ids of one type are not found at another type's endpoint.
    let (status, _) = host
        .send(Method::GET, "devices", "/Users/SN-002", t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = host
        .send(Method::GET, "devices", "/Devices/ann", t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // PATCH (a custom type answers 200 with the resource).
    let patch = patch_body(json!([
        {"op": "replace", "path": format!("{DEVICE_EXT}:Model"), "value": "X1 Carbon"},
        {"op": "replace", "path": format!("{DEVICE_EXT}:Owner"), "value": "ann"}
    ]));
    let (status, body) = host
        .send(Method::PATCH, "devices", "/Devices/SN-002", t, Some(&patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[DEVICE_EXT]["Model"], "X1 Carbon");
    assert!(
        body[DEVICE_EXT]["Owner"]
            .as_str()
            .unwrap()
            .ends_with("/Users/ann"),
        "{body}"
    );
    assert_eq!(
        devices(&db).await[1],
        (
            "SN-002".into(),
            Some("ann".into()),
            Some("X1 Carbon".into())
        )
    );
    // An owner that does not exist: 400, nothing written.
    let patch = patch_body(json!([
        {"op": "replace", "path": format!("{DEVICE_EXT}:Owner"), "value": "nobody"}
    ]));
    let (status, body) = host
        .send(Method::PATCH, "devices", "/Devices/SN-002", t, Some(&patch))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    assert_eq!(devices(&db).await[1].1.as_deref(), Some("ann"));
    // A new anchor renames the device (the SQL connector renames), and back again.
    for (from, to) in [("SN-002", "SN-003"), ("SN-003", "SN-002")] {
        let patch = patch_body(json!([
            {"op": "replace", "path": "displayName", "value": to}
        ]));
        let (status, body) = host
            .send(
                Method::PATCH,
                "devices",
                &format!("/Devices/{from}"),
                t,
                Some(&patch),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], to, "{body}");
        assert_eq!(devices(&db).await[1].0, to);
    }

    // DELETE removes the row.
    let (status, body) = host
        .send(Method::DELETE, "devices", "/Devices/SN-002", t, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        devices(&db).await,
        [("SN-001".into(), Some("ann".into()), Some("Surface".into()))]
    );
    let (status, _) = host
        .send(Method::GET, "devices", "/Devices/SN-002", t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    host.stop().await;
}

/// `(Photo, Ports, Managed, typeof(Photo))` of one device.
async fn device_values(
    db: &Path,
    serial: &str,
) -> (Option<Vec<u8>>, Option<i64>, Option<bool>, String) {
    query(
        db,
        "SELECT Photo, Ports, Managed, typeof(Photo) FROM Devices WHERE Serial = ?",
        &[serial],
    )
    .await
    .into_iter()
    .next()
    .unwrap_or_else(|| panic!("no row for {serial}"))
}

#[tokio::test]
async fn binary_and_multi_valued_attributes_round_trip() {
    let data = tempfile::tempdir().unwrap();
    let db = devices_database(data.path()).await;
    // A device written behind the host's back, read by the first import.
    exec(
        &db,
        "INSERT INTO Devices (Serial, Model, Photo, Ports, Managed) VALUES ('SN-050', 'Hub', X'FFD8FF00', 2, 0);
         INSERT INTO DeviceTags VALUES ('SN-050', 'shared'), ('SN-050', 'floor-3');",
    )
    .await;
    let host = TestHost::start_with(vec![devices_connector(&db)], |_| {}).await;
    ready(&host, "devices").await;
    let t = DEVICES_TOKEN;

    let (status, body) = host
        .send(Method::GET, "devices", "/Devices/SN-050", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[DEVICE_EXT]["Photo"], "/9j/AA==");
    assert_eq!(body[DEVICE_EXT]["Ports"], 2);
    assert_eq!(body[DEVICE_EXT]["Managed"], false);
    let mut tags: Vec<&str> = body[DEVICE_EXT]["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["floor-3", "shared"]);

    // POST: the bytes, the integer, the boolean and the child rows land in the database.
    let values = json!({
        "Model": "Dock",
        "Photo": "AAEC/v8=",
        "Ports": 4,
        "Managed": true,
        "Tag": ["lab", "loaner"]
    });
    let device = json!({
        "schemas": [DEVICE_CORE, DEVICE_EXT],
        "displayName": "SN-100",
        DEVICE_EXT: values
    })
    .to_string();
    let (status, body) = host
        .send(Method::POST, "devices", "/Devices", t, Some(&device))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body[DEVICE_EXT], values);
    assert_eq!(
        device_values(&db, "SN-100").await,
        (
            Some(vec![0, 1, 2, 254, 255]),
            Some(4),
            Some(true),
            "blob".to_string()
        )
    );
    assert_eq!(device_tags(&db, "SN-100").await, ["lab", "loaner"]);
    let (status, body) = host
        .send(Method::GET, "devices", "/Devices/SN-100", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[DEVICE_EXT], values);

    // A full sync reads the rows back: the same JSON.
    runtime(&host, "devices").sync_now().await.unwrap();
    let (_, body) = host
        .send(Method::GET, "devices", "/Devices/SN-100", t, None)
        .await;
    let ext = &body[DEVICE_EXT];
    assert_eq!(
        (&ext["Model"], &ext["Photo"], &ext["Ports"], &ext["Managed"]),
        (
            &values["Model"],
            &values["Photo"],
            &values["Ports"],
            &values["Managed"]
        ),
        "{body}"
    );
    let mut tags: Vec<&str> = ext["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["lab", "loaner"]);

    // PATCH add a value to the multi-valued attribute: one new child row.
    let add = patch_body(json!([
        {"op": "add", "path": format!("{DEVICE_EXT}:Tag"), "value": ["spare"]}
    ]));
    let (status, body) = host
        .send(Method::PATCH, "devices", "/Devices/SN-100", t, Some(&add))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut tags: Vec<&str> = body[DEVICE_EXT]["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["lab", "loaner", "spare"]);
    assert_eq!(device_tags(&db, "SN-100").await, ["lab", "loaner", "spare"]);

    // Remove one value (Entra's value-array shape): its row goes.
    let remove = patch_body(json!([
        {"op": "remove", "path": format!("{DEVICE_EXT}:Tag"), "value": ["lab"]}
    ]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "devices",
            "/Devices/SN-100",
            t,
            Some(&remove),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(device_tags(&db, "SN-100").await, ["loaner", "spare"]);

    // Entra's string forms of integers and booleans, and new bytes.
    let replace = patch_body(json!([
        {"op": "Replace", "path": format!("{DEVICE_EXT}:Ports"), "value": "8"},
        {"op": "Replace", "path": format!("{DEVICE_EXT}:Managed"), "value": "False"},
        {"op": "Replace", "path": format!("{DEVICE_EXT}:Photo"), "value": "AA=="}
    ]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "devices",
            "/Devices/SN-100",
            t,
            Some(&replace),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[DEVICE_EXT]["Ports"], 8);
    assert_eq!(body[DEVICE_EXT]["Managed"], false);
    assert_eq!(body[DEVICE_EXT]["Photo"], "AA==");
    assert_eq!(
        device_values(&db, "SN-100").await,
        (Some(vec![0]), Some(8), Some(false), "blob".to_string())
    );

    // Not base64: 400 invalidValue, nothing written.
    let bad = patch_body(json!([
        {"op": "Replace", "path": format!("{DEVICE_EXT}:Photo"), "value": "not base64!"}
    ]));
    let (status, body) = host
        .send(Method::PATCH, "devices", "/Devices/SN-100", t, Some(&bad))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    assert_eq!(device_values(&db, "SN-100").await.0, Some(vec![0]));

    // DELETE takes the child rows too.
    let (status, body) = host
        .send(Method::DELETE, "devices", "/Devices/SN-100", t, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(query::<(String,)>(
        &db,
        "SELECT Serial FROM Devices WHERE Serial = 'SN-100'",
        &[]
    )
    .await
    .is_empty());
    assert!(device_tags(&db, "SN-100").await.is_empty());
    assert_eq!(device_tags(&db, "SN-050").await, ["floor-3", "shared"]);
    host.stop().await;
}

const DIRECTORY_TOKEN: &str = "directory-connector-token-1";

/// A connector whose references are DNs: users carry their DN in a column (set through the
/// `<dn>` virtual attribute), and group members are users' DNs.
fn directory_connector(db: &Path) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(DIRECTORY_TOKEN).unwrap();
    ExtraConnector {
        file_name: "directory.toml",
        toml: format!(
            r#"version = 1
name = "directory"
token_hash = "{hash}"
plugin = "libecma_sql.so"
autosync_minutes = 0
references = "dn"
object_type = "User"
anchor = "Login"

[dn]
mode = "mapped"
attribute = "<dn>"

[[attributes]]
name = "-dn-"
[[attributes]]
name = "FullName"
[[attributes]]
name = "Manager"
scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"

[[resource_types]]
name = "Group"
object_type = "Group"
anchor = "TeamName"

[[resource_types.attributes]]
name = "Member"
scim = "members"

[parameters.connectivity]
connection_string = "sqlite://{db}"

[parameters.schema1]
object_types = "User,Group"

[parameters.schema2]
"User:table" = "Staff"
"Group:table" = "Teams"
"Group:multivalued_tables" = "TeamMembers"

[parameters.schema3]
"User:anchor" = "Login"
"User:dn" = "DN"
"User:dn_is_anchor" = false
"Group:anchor" = "TeamName"
"Group:TeamMembers:key_column" = "TeamName"
"Group:TeamMembers:value_column" = "Member"

[parameters.schema4]
"User:Manager:type" = "Reference"
"Group:Member:type" = "Reference"
"#,
            db = db.display()
        ),
    }
}

/// `(Login, DN, FullName, Manager)` of one user of the `directory` connector.
async fn staff(
    db: &Path,
    login: &str,
) -> Option<(String, Option<String>, Option<String>, Option<String>)> {
    query(
        db,
        "SELECT Login, DN, FullName, Manager FROM Staff WHERE Login = ?",
        &[login],
    )
    .await
    .into_iter()
    .next()
}

/// A team's member values (DNs) in the `directory` connector's child table, sorted.
async fn team_members(db: &Path, team: &str) -> Vec<String> {
    query::<(String,)>(
        db,
        "SELECT Member FROM TeamMembers WHERE TeamName = ? ORDER BY Member",
        &[team],
    )
    .await
    .into_iter()
    .map(|(m,)| m)
    .collect()
}

#[tokio::test]
async fn dn_references_and_the_dn_virtual_attribute() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("directory.db");
    exec(
        &db,
        "CREATE TABLE Staff (Login TEXT PRIMARY KEY, DN TEXT UNIQUE, FullName TEXT, Manager TEXT);
         CREATE TABLE Teams (TeamName TEXT PRIMARY KEY);
         CREATE TABLE TeamMembers (TeamName TEXT NOT NULL, Member TEXT NOT NULL, PRIMARY KEY (TeamName, Member));
         INSERT INTO Staff VALUES ('alice', 'CN=Alice,OU=Staff,DC=contoso', 'Alice', NULL);
         INSERT INTO Teams VALUES ('Ops');
         INSERT INTO TeamMembers VALUES ('Ops', 'cn=alice,ou=staff,dc=contoso');",
    )
    .await;
    let host = TestHost::start_with(vec![directory_connector(&db)], |_| {}).await;
    ready(&host, "directory").await;
    let t = DIRECTORY_TOKEN;

    // Imported: the user's DN from its column, the member's DN (any case: DNs are not
    // case-sensitive) resolved to the user's id.
    let (status, alice) = host
        .send(Method::GET, "directory", "/Users/alice", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    assert_eq!(alice[USER_EXT]["-dn-"], "CN=Alice,OU=Staff,DC=contoso");
    let (status, ops) = host
        .send(Method::GET, "directory", "/Groups/Ops", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{ops}");
    assert_eq!(ops["members"][0]["value"], "alice", "{ops}");
    assert_eq!(ops["members"][0]["type"], "User");

    // POST a user with its DN: the DN column holds it.
    let carol = json!({
        "schemas": [CORE_USER, USER_EXT],
        "userName": "carol",
        USER_EXT: {"<dn>": "CN=Carol,OU=Staff,DC=contoso", "FullName": "Carol"},
        ENTERPRISE: {"manager": {"value": "alice"}}
    })
    .to_string();
    let (status, body) = host
        .send(Method::POST, "directory", "/Users", t, Some(&carol))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], "carol");
    assert_eq!(body[USER_EXT]["-dn-"], "CN=Carol,OU=Staff,DC=contoso");
    // The manager is stored as the manager's DN and rendered as a reference to her.
    let manager = &body[ENTERPRISE]["manager"];
    assert_eq!(manager["value"], "alice", "{body}");
    // RFC 7643 §4.3: a manager is `value` and `$ref` (no `type`, unlike members).
    assert_eq!(manager.as_object().unwrap().len(), 2, "{body}");
    assert!(manager["$ref"]
        .as_str()
        .unwrap()
        .ends_with("/ecma2host_directory/scim/Users/alice"));
    assert_eq!(
        staff(&db, "carol").await,
        Some((
            "carol".into(),
            Some("CN=Carol,OU=Staff,DC=contoso".into()),
            Some("Carol".into()),
            Some("CN=Alice,OU=Staff,DC=contoso".into())
        ))
    );

    // POST a group with carol as member: the child table holds her DN.
    let team = json!({
        "schemas": [CORE_GROUP],
        "displayName": "Team1",
        "members": [{"value": "carol"}]
    })
    .to_string();
    let (status, body) = host
        .send(Method::POST, "directory", "/Groups", t, Some(&team))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["members"][0]["value"], "carol", "{body}");
    assert!(body["members"][0]["$ref"]
        .as_str()
        .unwrap()
        .ends_with("/ecma2host_directory/scim/Users/carol"));
    assert_eq!(
        team_members(&db, "Team1").await,
        ["CN=Carol,OU=Staff,DC=contoso"]
    );
    let (status, body) = host
        .send(Method::GET, "directory", "/Groups/Team1", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["members"][0]["value"], "carol");

    // A bare id and an object with `type` and `$ref` name members too.
    let team2 = json!({
        "schemas": [CORE_GROUP],
        "displayName": "Team2",
        "members": [
            "alice",
            {"value": "carol", "type": "User", "$ref": host.url("directory", "/Users/carol")}
        ]
    })
    .to_string();
    let (status, body) = host
        .send(Method::POST, "directory", "/Groups", t, Some(&team2))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        team_members(&db, "Team2").await,
        [
            "CN=Alice,OU=Staff,DC=contoso",
            "CN=Carol,OU=Staff,DC=contoso"
        ]
    );
    let (status, body) = host
        .send(Method::DELETE, "directory", "/Groups/Team2", t, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(team_members(&db, "Team2").await.is_empty());

    // Add alice too (Entra's default dialect): her DN is written.
    let add = patch_body(json!([{
        "op": "Add", "path": "members", "value": [{"$ref": null, "value": "alice"}]
    }]));
    let (status, body) = host
        .send(Method::PATCH, "directory", "/Groups/Team1", t, Some(&add))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        team_members(&db, "Team1").await,
        [
            "CN=Alice,OU=Staff,DC=contoso",
            "CN=Carol,OU=Staff,DC=contoso"
        ]
    );

    // A new DN (by the `<dn>` alias) moves the user: the connector renames it, its DN column
    // changes, and the group that references it by DN follows, in the table too.
    let move_carol = patch_body(json!([{
        "op": "Replace",
        "path": format!("{USER_EXT}:<dn>"),
        "value": "CN=Carol,OU=Alumni,DC=contoso"
    }]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "directory",
            "/Users/carol",
            t,
            Some(&move_carol),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "carol");
    assert_eq!(body[USER_EXT]["-dn-"], "CN=Carol,OU=Alumni,DC=contoso");
    assert_eq!(
        staff(&db, "carol").await.unwrap().1.as_deref(),
        Some("CN=Carol,OU=Alumni,DC=contoso")
    );
    assert_eq!(
        team_members(&db, "Team1").await,
        [
            "CN=Alice,OU=Staff,DC=contoso",
            "CN=Carol,OU=Alumni,DC=contoso"
        ]
    );
    let (_, team) = host
        .send(Method::GET, "directory", "/Groups/Team1", t, None)
        .await;
    let mut ids: Vec<&str> = team["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["alice", "carol"], "{team}");
    // The same DN again is no change; another attribute still changes.
    let same = patch_body(json!([
        {"op": "Replace", "path": format!("{USER_EXT}:-dn-"), "value": "CN=Carol,OU=Alumni,DC=contoso"},
        {"op": "Replace", "path": format!("{USER_EXT}:FullName"), "value": "Carol Smith"}
    ]));
    let (status, body) = host
        .send(Method::PATCH, "directory", "/Users/carol", t, Some(&same))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        staff(&db, "carol").await,
        Some((
            "carol".into(),
            Some("CN=Carol,OU=Alumni,DC=contoso".into()),
            Some("Carol Smith".into()),
            Some("CN=Alice,OU=Staff,DC=contoso".into())
        ))
    );

    // Entra's manager updates: a bare id to set it, a Remove to clear it.
    let (status, body) = host
        .send(
            Method::POST,
            "directory",
            "/Users",
            t,
            Some(
                &json!({
                    "schemas": [CORE_USER, USER_EXT],
                    "userName": "dave",
                    USER_EXT: {"<dn>": "CN=Dave,OU=Staff,DC=contoso"}
                })
                .to_string(),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let set_manager = patch_body(json!([{
        "op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "dave"
    }]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "directory",
            "/Users/carol",
            t,
            Some(&set_manager),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[ENTERPRISE]["manager"]["value"], "dave", "{body}");
    assert_eq!(
        staff(&db, "carol").await.unwrap().3.as_deref(),
        Some("CN=Dave,OU=Staff,DC=contoso")
    );
    let clear_manager = patch_body(json!([{
        "op": "Remove", "path": format!("{ENTERPRISE}:manager")
    }]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "directory",
            "/Users/carol",
            t,
            Some(&clear_manager),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get(ENTERPRISE)
            .is_none_or(|e| e.get("manager").is_none()),
        "{body}"
    );
    assert_eq!(staff(&db, "carol").await.unwrap().3, None);

    // A full sync reads the DNs back: members still resolve to ids.
    runtime(&host, "directory").sync_now().await.unwrap();
    let (_, body) = host
        .send(Method::GET, "directory", "/Groups/Team1", t, None)
        .await;
    let mut ids: Vec<&str> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["alice", "carol"], "{body}");

    // Remove by id: the DN row goes.
    let remove = patch_body(json!([{"op": "remove", "path": "members[value eq \"carol\"]"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "directory",
            "/Groups/Team1",
            t,
            Some(&remove),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        team_members(&db, "Team1").await,
        ["CN=Alice,OU=Staff,DC=contoso"]
    );
    host.stop().await;
}

/// A full sync that finds the target as the host left it keeps every version: a user created
/// through SCIM has the same `ETag` before and after. The connector's table has a column the
/// config does not select (`DN`, which the SQL connector fills with the DN on export).
#[tokio::test]
async fn a_sync_that_finds_nothing_new_keeps_versions() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("directory.db");
    exec(
        &db,
        "CREATE TABLE Staff (Login TEXT PRIMARY KEY, DN TEXT UNIQUE, FullName TEXT, Manager TEXT);
         CREATE TABLE Teams (TeamName TEXT PRIMARY KEY);
         CREATE TABLE TeamMembers (TeamName TEXT NOT NULL, Member TEXT NOT NULL, PRIMARY KEY (TeamName, Member));",
    )
    .await;
    let host = TestHost::start_with(vec![directory_connector(&db)], |_| {}).await;
    ready(&host, "directory").await;
    let t = DIRECTORY_TOKEN;
    let carol = json!({
        "schemas": [CORE_USER, USER_EXT],
        "userName": "carol",
        USER_EXT: {"<dn>": "CN=Carol,OU=Staff,DC=contoso", "FullName": "Carol"}
    })
    .to_string();
    let (status, headers, created) = host
        .send_full(Method::POST, "directory", "/Users", t, Some(&carol))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let version = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(
        query::<(String, Option<String>, Option<String>)>(
            &db,
            "SELECT Login, DN, FullName FROM Staff",
            &[]
        )
        .await,
        [(
            "carol".into(),
            Some("CN=Carol,OU=Staff,DC=contoso".into()),
            Some("Carol".into())
        )]
    );

    let report = runtime(&host, "directory").sync_now().await.unwrap();
    let (status, headers, read) = host
        .send_full(Method::GET, "directory", "/Users/carol", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    let strip = |mut r: Json| {
        r["meta"].as_object_mut().unwrap().remove("version");
        r
    };
    assert_eq!(
        strip(read.clone()),
        strip(created.clone()),
        "the representation is unchanged"
    );
    assert_eq!(
        headers["etag"].to_str().unwrap(),
        version,
        "the sync changed the version of an unchanged user: {created} -> {read}"
    );
    assert_eq!((report.upserted, report.removed), (0, 0), "{report:?}");
    host.stop().await;
}

const TEAMS_TOKEN: &str = "teams-connector-token-1";

/// Groups anchored on Entra's object id (`externalId`), so `displayName` is an ordinary
/// attribute that Entra can rename, as the README suggests.
#[tokio::test]
async fn groups_anchored_on_external_id_can_be_renamed() {
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("teams.db");
    exec(
        &db,
        "CREATE TABLE People (Login TEXT PRIMARY KEY, FullName TEXT);
         CREATE TABLE Teams (ObjectId TEXT PRIMARY KEY, Name TEXT NOT NULL);
         CREATE TABLE TeamMembers (ObjectId TEXT NOT NULL, Member TEXT NOT NULL, PRIMARY KEY (ObjectId, Member));
         INSERT INTO People VALUES ('ann', 'Ann Lee');",
    )
    .await;
    let hash = ecmahost::token::hash_token(TEAMS_TOKEN).unwrap();
    let connector = ExtraConnector {
        file_name: "teams.toml",
        toml: format!(
            r#"version = 1
name = "teams"
token_hash = "{hash}"
plugin = "libecma_sql.so"
autosync_minutes = 0
object_type = "User"
anchor = "Login"

[[resource_types]]
name = "Group"
object_type = "Team"
anchor = "ObjectId"
anchor_scim = "externalId"

[[resource_types.attributes]]
name = "Name"
scim = "displayName"
[[resource_types.attributes]]
name = "Member"
scim = "members"

[parameters.connectivity]
connection_string = "sqlite://{db}"

[parameters.schema1]
object_types = "User,Team"

[parameters.schema2]
"User:table" = "People"
"Team:table" = "Teams"
"Team:multivalued_tables" = "TeamMembers"

[parameters.schema3]
"User:anchor" = "Login"
"Team:anchor" = "ObjectId"
"Team:TeamMembers:key_column" = "ObjectId"
"Team:TeamMembers:value_column" = "Member"

[parameters.schema4]
"Team:Member:type" = "Reference"
"#,
            db = db.display()
        ),
    };
    let host = TestHost::start_with(vec![connector], |_| {}).await;
    ready(&host, "teams").await;
    let t = TEAMS_TOKEN;
    let id = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";

    let group = json!({
        "schemas": ENTRA_GROUP_SCHEMAS,
        "externalId": id,
        "displayName": "Group1",
        "members": [{"value": "ann"}],
        "meta": {"resourceType": "Group"}
    })
    .to_string();
    let (status, created) = host
        .send(Method::POST, "teams", "/Groups", t, Some(&group))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], id);
    assert_eq!(created["externalId"], id);
    assert_eq!(created["displayName"], "Group1");

    // Entra renames the group: 204, and the row follows.
    let rename = patch_body(json!([{"op": "Replace", "path": "displayName", "value": "Group2"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "teams",
            &format!("/Groups/{id}"),
            t,
            Some(&rename),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let rows: Vec<(String, String)> = query(&db, "SELECT ObjectId, Name FROM Teams", &[]).await;
    assert_eq!(rows, [(id.to_string(), "Group2".to_string())]);
    let members: Vec<(String,)> = query(&db, "SELECT Member FROM TeamMembers", &[]).await;
    assert_eq!(members, [("ann".to_string(),)], "members are untouched");

    // Entra finds it by the new name, and by its object id.
    let (status, found) = host
        .send(
            Method::GET,
            "teams",
            "/Groups?excludedAttributes=members&filter=displayName+eq+%22group2%22",
            t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["id"], id);
    assert!(found["Resources"][0].get("members").is_none());
    let (_, found) = host
        .send(
            Method::GET,
            "teams",
            &format!("/Groups?filter=externalId+eq+%22{id}%22"),
            t,
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(found["Resources"][0]["members"][0]["value"], "ann");

    // The anchor itself can change too: the group is renamed, its member rows follow.
    let move_id = patch_body(json!([{"op": "Replace", "path": "externalId", "value": "other"}]));
    let (status, body) = host
        .send(
            Method::PATCH,
            "teams",
            &format!("/Groups/{id}"),
            t,
            Some(&move_id),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let members: Vec<(String, String)> =
        query(&db, "SELECT ObjectId, Member FROM TeamMembers", &[]).await;
    assert_eq!(members, [("other".to_string(), "ann".to_string())]);
    let (status, _) = host
        .send(Method::GET, "teams", &format!("/Groups/{id}"), t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, moved) = host
        .send(Method::GET, "teams", "/Groups/other", t, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["members"][0]["value"], "ann");
    host.stop().await;
}
