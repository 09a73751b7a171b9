//! Entra's provisioning sequence against the demo connector, checking the SCIM answer and the
//! rows in SQLite after every step.

use ecma_integration_tests::TestHost;
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

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
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][0]["schemaExtensions"][0]["schema"], EXT);

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
    host.stop().await;
}
