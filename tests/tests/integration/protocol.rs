//! SCIM protocol features beyond the Entra sequence: list parameters, `.search`, PUT, ETags,
//! the connector-space view, and both of Entra's PATCH dialects, checked against the rows.

use ecma_integration_tests::TestHost;
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn sql(host: &TestHost, statement: &str) {
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", host.database().display()))
            .await
            .unwrap();
    sqlx::query(statement).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn scalar(host: &TestHost, query: &str) -> i64 {
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", host.database().display()))
            .await
            .unwrap();
    let (n,): (i64,) = sqlx::query_as(query).fetch_one(&mut conn).await.unwrap();
    n
}

#[tokio::test]
async fn list_parameters_and_search() {
    let host = TestHost::start().await;
    let t = host.token.clone();

    // sortBy/sortOrder and paging.
    let (status, body) = host
        .send(
            Method::GET,
            "demo",
            "/Users?sortBy=name.givenName&sortOrder=descending&startIndex=2&count=1",
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 3);
    assert_eq!(body["startIndex"], 2);
    assert_eq!(body["itemsPerPage"], 1);
    let (_, all) = host
        .send(
            Method::GET,
            "demo",
            &format!("/Users?sortBy={EXT}:FirstName&sortOrder=descending"),
            &t,
            None,
        )
        .await;
    let first_names: Vec<&str> = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[EXT]["FirstName"].as_str().unwrap())
        .collect();
    assert_eq!(first_names, ["Megan", "Alex", "Adele"]);

    // attributes / excludedAttributes.
    let (_, body) = host
        .send(
            Method::GET,
            "demo",
            &format!("/Users?attributes=userName,{EXT}:Department&count=1"),
            &t,
            None,
        )
        .await;
    let user = &body["Resources"][0];
    assert_eq!(user["userName"], "adele.vance");
    assert_eq!(user[EXT], json!({"Department": "Retail"}));
    assert!(user.get("active").is_none() && user.get("meta").is_none());
    assert_eq!(user["id"], "adele.vance", "id is always returned");
    let (_, body) = host
        .send(
            Method::GET,
            "demo",
            "/Users?excludedAttributes=active,meta&count=1",
            &t,
            None,
        )
        .await;
    assert!(body["Resources"][0].get("active").is_none());
    assert_eq!(body["Resources"][0]["userName"], "adele.vance");

    // POST .search, at the resource endpoint and at the root.
    let search = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": format!("{EXT}:Department eq \"finance\" or userName sw \"ALEX\""),
        "attributes": ["userName"],
        "sortBy": "userName",
    })
    .to_string();
    for path in ["/Users/.search", "/.search"] {
        let (status, body) = host
            .send(Method::POST, "demo", path, &t, Some(&search))
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let names: Vec<&str> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alex.wilber", "megan.bowen"], "{path}");
    }
    let (status, body) = host
        .send(
            Method::POST,
            "demo",
            "/Users/.search",
            &t,
            Some("{\"filter\": \"userName pr\"}"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The full filter grammar, answered from the connector space.
    let (_, body) = host
        .send(Method::GET, "demo", &format!("/Users?filter=not+({EXT}:Department+eq+%22Retail%22)+and+({EXT}:FirstName+co+%22e%22)"), &t, None)
        .await;
    let names: Vec<&str> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alex.wilber", "megan.bowen"]);
    host.stop().await;
}

#[tokio::test]
async fn put_replaces_and_etags_guard_changes() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let (status, headers, body) = host
        .send_full(Method::GET, "demo", "/Users/alex.wilber", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(body["meta"]["version"], etag.as_str());

    // If-None-Match with the current version: 304.
    let response = host
        .client
        .get(host.url("demo", "/Users/alex.wilber"))
        .bearer_auth(&t)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    // A stale If-Match: 412, nothing written.
    let before = host.rows().await;
    let patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": format!("{EXT}:Department"), "value": "Legal"}]}).to_string();
    let response = host
        .client
        .patch(host.url("demo", "/Users/alex.wilber"))
        .bearer_auth(&t)
        .header("If-Match", "W/\"0000000000000000\"")
        .header("Content-Type", "application/scim+json")
        .body(patch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(host.rows().await, before);

    // PUT with the right version replaces the whole resource: left-out attributes are cleared.
    let put = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "userName": "alex.wilber",
        "active": true,
        EXT: {"AzureID": "6e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e02", "FirstName": "Alexander", "Department": "Legal"}
    })
    .to_string();
    let response = host
        .client
        .put(host.url("demo", "/Users/alex.wilber"))
        .bearer_auth(&t)
        .header("If-Match", &etag)
        .header("Content-Type", "application/scim+json")
        .body(put)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(response.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(scalar(&host, "SELECT COUNT(*) FROM Employees WHERE Login = 'alex.wilber' AND FirstName = 'Alexander' AND LastName IS NULL AND Email IS NULL AND Department = 'Legal'").await, 1);

    // A PUT with another userName renames (the SQL connector renames): the row moves.
    let rename = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "someone.else"}).to_string();
    let (status, body) = host
        .send(Method::PUT, "demo", "/Users/alex.wilber", &t, Some(&rename))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "someone.else");
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login = 'someone.else'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login = 'alex.wilber'"
        )
        .await,
        0
    );
    host.stop().await;
}

#[tokio::test]
async fn entra_patch_dialects_update_the_rows_and_no_op_patches_export_nothing() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    sql(&host, "CREATE TABLE updates (n INTEGER)").await;
    sql(&host, "CREATE TRIGGER count_updates AFTER UPDATE ON Employees BEGIN INSERT INTO updates VALUES (1); END").await;

    // Default dialect: capitalised ops, one op per path, "False" as a string.
    let default = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": format!("{EXT}:Department"), "value": "Research"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": format!("{EXT}:LastName"), "value": "Vance-Smith"}
    ]})
    .to_string();
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/adele.vance",
            &t,
            Some(&default),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(scalar(&host, "SELECT COUNT(*) FROM Employees WHERE Login='adele.vance' AND Department='Research' AND IsActive=0 AND LastName='Vance-Smith'").await, 1);
    assert_eq!(
        scalar(&host, "SELECT COUNT(*) FROM updates").await,
        1,
        "one PATCH, one UPDATE"
    );

    // aadOptscim062020: lower-case ops, real booleans, no path, URN-qualified keys.
    let optscim = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"active": true, format!("{EXT}:Department"): "Retail", format!("{EXT}:Email"): null}}
    ]})
    .to_string();
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/adele.vance",
            &t,
            Some(&optscim),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], true);
    assert_eq!(scalar(&host, "SELECT COUNT(*) FROM Employees WHERE Login='adele.vance' AND Department='Retail' AND IsActive=1 AND Email IS NULL").await, 1);
    assert_eq!(scalar(&host, "SELECT COUNT(*) FROM updates").await, 2);

    // A PATCH that changes nothing exports nothing.
    let same = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": format!("{EXT}:Department"), "value": "Retail"}]}).to_string();
    let (status, _) = host
        .send(Method::PATCH, "demo", "/Users/adele.vance", &t, Some(&same))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        scalar(&host, "SELECT COUNT(*) FROM updates").await,
        2,
        "no UPDATE for a no-op PATCH"
    );

    // Remove clears the column.
    let remove = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": format!("{EXT}:LastName")}]}).to_string();
    let (status, _) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/adele.vance",
            &t,
            Some(&remove),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login='adele.vance' AND LastName IS NULL"
        )
        .await,
        1
    );
    host.stop().await;
}

#[tokio::test]
async fn the_connector_space_is_visible_behind_the_token() {
    let host = TestHost::start().await;
    let (status, body) = host
        .send(Method::GET, "demo", "/cache?count=2", &host.token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Three users, then two groups.
    assert_eq!(body["totalResults"], 5);
    assert_eq!(body["itemsPerPage"], 2);
    let first = &body["Resources"][0];
    assert_eq!(first["anchor"], "adele.vance");
    assert_eq!(first["dn"], "CN=adele.vance,OBJECT=USER");
    assert_eq!(first["attributes"]["IsActive"], json!([true]));
    let (status, _) = host
        .send(Method::GET, "demo", "/cache", "not-the-token-at-all", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    host.stop().await;
}

#[tokio::test]
async fn bulk_runs_operations_in_order_with_bulk_id_references() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b1",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bulk.one", EXT: {"Department": "Ops"}}},
            {"method": "PATCH", "path": "/Users/bulkId:b1",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": format!("{EXT}:Department"), "value": "Bulk"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "dup",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "adele.vance"}},
            {"method": "DELETE", "path": "/Users/megan.bowen"},
            {"method": "PATCH", "path": "/Users/bulkId:unknown", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "active"}]}},
            // A group whose member is the user this request created.
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Bulk Team", "members": [{"value": "bulkId:b1"}]}}
        ]
    })
    .to_string();
    let (status, body) = host
        .send(Method::POST, "demo", "/Bulk", &t, Some(&bulk))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let statuses: Vec<&str> = body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["201", "200", "409", "204", "400", "201"],
        "{body}"
    );
    assert!(body["Operations"][5]["location"]
        .as_str()
        .unwrap()
        .ends_with("/Groups/Bulk%20Team"));
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM GroupMembers WHERE GroupName = 'Bulk Team' AND Member = 'bulk.one'"
        )
        .await,
        1
    );
    assert_eq!(body["Operations"][0]["bulkId"], "b1");
    assert!(body["Operations"][0]["location"]
        .as_str()
        .unwrap()
        .ends_with("/Users/bulk.one"));
    assert_eq!(body["Operations"][2]["response"]["scimType"], "uniqueness");
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login = 'bulk.one' AND Department = 'Bulk'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login = 'megan.bowen'"
        )
        .await,
        0
    );

    // failOnErrors stops after that many errors.
    let stop = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": [
            {"method": "DELETE", "path": "/Users/nobody"},
            {"method": "DELETE", "path": "/Users/alex.wilber"}
        ]
    })
    .to_string();
    let (_, body) = host
        .send(Method::POST, "demo", "/Bulk", &t, Some(&stop))
        .await;
    assert_eq!(body["Operations"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login = 'alex.wilber'"
        )
        .await,
        1
    );
    let (_, spc) = host
        .send(Method::GET, "demo", "/ServiceProviderConfig", &t, None)
        .await;
    assert_eq!(spc["bulk"]["supported"], true);
    assert_eq!(spc["bulk"]["maxOperations"], 1000);
    host.stop().await;
}

/// A column whose name holds `.` and `[` (which Microsoft's host cannot map) works in PATCH paths
/// and filters, under the ECMA2Host extension.
#[tokio::test]
async fn attribute_names_with_dots_and_brackets_work_in_paths_and_filters() {
    const ODD: &str = "Room.No[1]";
    let host = TestHost::start_with(Vec::new(), |dir| {
        let database = dir.join("data/demo.db");
        // The closure is synchronous and runs inside the test's runtime: alter the table from a
        // thread with a runtime of its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", database.display()))
                        .await
                        .unwrap();
                sqlx::query(&format!("ALTER TABLE Employees ADD COLUMN \"{ODD}\" TEXT"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            });
        })
        .join()
        .unwrap();
        let config = dir.join("connectors/demo.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("\n[[attributes]]\nname = \"{ODD}\"\n"));
        std::fs::write(&config, text).unwrap();
    })
    .await;
    let t = host.token.clone();
    let patch = json!({
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": format!("{EXT}:{ODD}"), "value": "B-12"}]
    })
    .to_string();
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/alex.wilber",
            &t,
            Some(&patch),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[EXT][ODD], "B-12");
    assert_eq!(
        scalar(
            &host,
            "SELECT COUNT(*) FROM Employees WHERE Login = 'alex.wilber' AND \"Room.No[1]\" = 'B-12'"
        )
        .await,
        1
    );
    let filter = format!("/Users?filter={EXT}:{ODD}+eq+%22b-12%22")
        .replace('[', "%5B")
        .replace(']', "%5D");
    let (status, body) = host.send(Method::GET, "demo", &filter, &t, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["id"], "alex.wilber");
    host.stop().await;
}
