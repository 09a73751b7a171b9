//! The ECMA2 contract as the host honours it: `meta.created` and `meta.lastModified` that
//! survive a restart, and renames of users and groups through the SQL connector, with the
//! references other objects hold, checked against the rows in SQLite.

use ecma_integration_tests::TestHost;
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
