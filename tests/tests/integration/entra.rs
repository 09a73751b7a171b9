//! Entra's provisioning sequence against the demo connector, checking the SCIM answer and the
//! rows in SQLite after every step.

use ecma_integration_tests::TestHost;
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The Manager column of one Employees row.
async fn manager_of(host: &TestHost, login: &str) -> Option<String> {
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", host.database().display()))
            .await
            .unwrap();
    let (manager,): (Option<String>,) =
        sqlx::query_as("SELECT Manager FROM Employees WHERE Login = ?")
            .bind(login)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    manager
}

#[tokio::test]
async fn entra_provisioning_sequence() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let seeded = host.rows().await;
    assert_eq!(seeded.len(), 3);

    // 1. Entra's connection test: a random GUID must answer 200 with an empty list.
    let (status, body) = host
        .send(
            Method::GET,
            "demo",
            "/Users?filter=userName+eq+%22f8e1c5a2-8d1b-4a9e-9f3c-0d2e4b6a8c10%22",
            &t,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );

    // 2. Entra looks the user up by the query attribute ("+" decodes as a space).
    let filter =
        format!("/Users?filter={EXT}:AzureID+eq+%226e3f5a3e-1b4c-4c5e-9a51-0a1b2c3d4e02%22");
    let (status, body) = host.send(Method::GET, "demo", &filter, &t, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["userName"], "alex.wilber");
    assert_eq!(body["Resources"][0][EXT]["Department"], "Marketing");

    // 3. POST creates the row.
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "externalId": "isaiah",
        "userName": "isaiah.langer",
        "active": true,
        EXT: {"AzureID": "guid-isaiah", "FirstName": "Isaiah", "LastName": "Langer", "Department": "Sales"}
    })
    .to_string();
    let (status, headers, body) = host
        .send_full(Method::POST, "demo", "/Users", &t, Some(&user))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert!(headers["location"]
        .to_str()
        .unwrap()
        .ends_with("/ecma2host_demo/scim/Users/isaiah.langer"));
    assert_eq!(body["id"], "isaiah.langer");
    assert_eq!(body[EXT]["FirstName"], "Isaiah");
    let rows = host.rows().await;
    assert!(
        rows.contains(&("isaiah.langer".into(), Some("Sales".into()), true)),
        "{rows:?}"
    );

    // The same anchor again: 409 uniqueness, nothing written.
    let (status, body) = host
        .send(Method::POST, "demo", "/Users", &t, Some(&user))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(body["status"], "409");
    assert_eq!(host.rows().await.len(), 4);

    // 4. GET by id.
    let (status, body) = host
        .send(Method::GET, "demo", "/Users/isaiah.langer", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["userName"], "isaiah.langer");
    assert_eq!(body["active"], true);

    // 5. PATCH an attribute (Entra's default dialect: capitalised op).
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": format!("{EXT}:Department"), "value": "Research"}]
    })
    .to_string();
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/isaiah.langer",
            &t,
            Some(&patch),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[EXT]["Department"], "Research");
    let rows = host.rows().await;
    assert!(
        rows.contains(&("isaiah.langer".into(), Some("Research".into()), true)),
        "{rows:?}"
    );

    // 5b. Entra sets the manager as a bare id in the enterprise extension; the row holds the
    // manager's Login and SCIM shows the manager's id and location.
    let manager = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "adele.vance"}]
    })
    .to_string();
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/isaiah.langer",
            &t,
            Some(&manager),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[ENTERPRISE]["manager"]["value"], "adele.vance");
    assert!(body[ENTERPRISE]["manager"]["$ref"]
        .as_str()
        .unwrap()
        .ends_with("/ecma2host_demo/scim/Users/adele.vance"));
    assert_eq!(
        manager_of(&host, "isaiah.langer").await.as_deref(),
        Some("adele.vance")
    );
    // A manager the host does not know is refused, and the row keeps its manager.
    let unknown = manager.replace("adele.vance", "nobody.here");
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/isaiah.langer",
            &t,
            Some(&unknown),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "invalidValue");
    assert_eq!(
        manager_of(&host, "isaiah.langer").await.as_deref(),
        Some("adele.vance")
    );

    // 6. PATCH active to "False": the disable flow sets IsActive.
    let disable = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    })
    .to_string();
    let (status, body) = host
        .send(
            Method::PATCH,
            "demo",
            "/Users/isaiah.langer",
            &t,
            Some(&disable),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    assert!(host
        .rows()
        .await
        .contains(&("isaiah.langer".into(), Some("Research".into()), false)));

    // 7. DELETE removes the row.
    let (status, body) = host
        .send(Method::DELETE, "demo", "/Users/isaiah.langer", &t, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(host.rows().await, seeded);

    // 8. And it is gone.
    let (status, body) = host
        .send(Method::GET, "demo", "/Users/isaiah.langer", &t, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], "404");
    host.stop().await;
}

#[tokio::test]
async fn discovery_describes_the_connector() {
    let host = TestHost::start().await;
    let t = host.token.clone();
    let (status, spc) = host
        .send(Method::GET, "demo", "/ServiceProviderConfig", &t, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["supported"], true);

    let (_, types) = host
        .send(Method::GET, "demo", "/ResourceTypes", &t, None)
        .await;
    assert_eq!(types["totalResults"], 2);
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][0]["schemaExtensions"][0]["schema"], EXT);
    assert_eq!(
        types["Resources"][0]["schemaExtensions"][1]["schema"],
        ENTERPRISE
    );
    assert_eq!(types["Resources"][1]["endpoint"], "/Groups");
    assert_eq!(
        types["Resources"][1]["schema"],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );

    let (_, schemas) = host.send(Method::GET, "demo", "/Schemas", &t, None).await;
    let ext = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == EXT)
        .unwrap();
    let names: Vec<&str> = ext["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    for expected in ["AzureID", "FirstName", "LastName", "Email", "Department"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"Login"),
        "the anchor is userName, not repeated"
    );
    assert!(
        !names.contains(&"IsActive"),
        "the disable flow owns IsActive; it is exposed as active"
    );
    // Group members are a complex reference to users or groups, as RFC 7643 §8.7.1 has it.
    let group = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "urn:ietf:params:scim:schemas:core:2.0:Group")
        .unwrap();
    let members = group["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "members")
        .unwrap();
    assert_eq!(members["multiValued"], true);
    let subs: Vec<&str> = members["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "$ref", "type"]);
    assert_eq!(
        members["subAttributes"][1]["referenceTypes"],
        json!(["User", "Group"])
    );
    assert!(
        !serde_json::to_string(&schemas).unwrap().contains("null"),
        "discovery documents have no nulls"
    );
    host.stop().await;
}
