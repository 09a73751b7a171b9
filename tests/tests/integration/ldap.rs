//! The LDAP connector end to end: Entra-style SCIM requests through the host into a real,
//! throwaway slapd, with every step checked by `ldapsearch`.

use ecma_integration_tests::ldap::{connector, TOKEN};
use ecma_integration_tests::TestHost;
use ecma_test_slapd::{Scope, Slapd, PEOPLE_DN};
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A PATCH in Entra's shape; returns the status and body.
async fn patch(
    host: &TestHost,
    path: &str,
    operations: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
    host.send(Method::PATCH, "ldap", path, TOKEN, Some(&body.to_string()))
        .await
}

#[tokio::test]
async fn entra_users_are_provisioned_into_slapd() {
    let slapd = Slapd::start().unwrap();
    let plugin = ecma_integration_tests::plugin_dir().join("libecma_ldap.so");
    let host = TestHost::start_with(vec![connector(&slapd)], |dir| {
        std::fs::copy(&plugin, dir.join("ECMA/libecma_ldap.so")).unwrap();
    })
    .await;
    host.wait_ready_with("ldap", TOKEN).await;

    // Entra's Test Connection: an empty list for a random user name.
    let (status, body) = host
        .send(
            Method::GET,
            "ldap",
            "/Users?filter=userName%20eq%20%22nobody%22",
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);

    // Create: the DN from the template; the response's DN is the directory's.
    let user = json!({
        "schemas": [CORE_USER, EXT],
        "userName": "7001",
        "password": "Pw-for-Grace-1",
        EXT: {"uid": "grace", "cn": "Grace Hopper", "sn": "Hopper", "mail": "grace@example.com"}
    });
    let (status, created) = host
        .send(
            Method::POST,
            "ldap",
            "/Users",
            TOKEN,
            Some(&user.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "7001");
    let dn = format!("uid=grace,{PEOPLE_DN}");
    let found = slapd
        .ldapsearch(&dn, Scope::Base, "(objectClass=*)", &[])
        .unwrap();
    assert_eq!(found.len(), 1, "the entry is in the directory");
    assert_eq!(found[0].first("mail").as_deref(), Some("grace@example.com"));
    assert_eq!(found[0].first("employeeNumber").as_deref(), Some("7001"));
    assert_eq!(created[EXT]["-dn-"], dn.as_str(), "{created}");
    // The initial password went to the directory: the user can bind with it.
    let mut whoami = slapd.command("ldapwhoami").unwrap();
    whoami.args(["-x", "-H", &slapd.url(), "-D", &dn, "-w", "Pw-for-Grace-1"]);
    assert!(
        slapd.run(whoami, b"").unwrap().success().is_ok(),
        "bind with the initial password"
    );

    // PATCH an attribute.
    let (status, body) = patch(&host, "/Users/7001", json!([{"op": "Replace", "path": format!("{EXT}:mail"), "value": "grace.hopper@example.com"}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = slapd
        .ldapsearch(&dn, Scope::Base, "(objectClass=*)", &["mail"])
        .unwrap();
    assert_eq!(found[0].values("mail"), ["grace.hopper@example.com"]);

    // A second user with the same uid: the directory's entryAlreadyExists is a 409.
    let clash = json!({"schemas": [CORE_USER, EXT], "userName": "7002", EXT: {"uid": "grace", "cn": "G", "sn": "H"}});
    let (status, body) = host
        .send(
            Method::POST,
            "ldap",
            "/Users",
            TOKEN,
            Some(&clash.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // A missing required attribute: the server's diagnostic in a 400.
    let bad = json!({"schemas": [CORE_USER, EXT], "userName": "7003", EXT: {"uid": "nosn", "cn": "No Surname"}});
    let (status, body) = host
        .send(
            Method::POST,
            "ldap",
            "/Users",
            TOKEN,
            Some(&bad.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("sn"),
        "{body}"
    );

    // Groups: create, add a member, rename the member, remove it, rename and delete the group.
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team"});
    let (status, created) = host
        .send(
            Method::POST,
            "ldap",
            "/Groups",
            TOKEN,
            Some(&group.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let group_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(group_id.len(), 36, "the id is the entryUUID: {created}");
    let group_dn = "cn=Team,ou=groups,dc=example,dc=com";
    assert_eq!(
        slapd.count(group_dn, "(objectClass=groupOfNames)").unwrap(),
        1
    );
    let members = |slapd: &Slapd, dn: &str| -> Vec<String> {
        let found = slapd
            .ldapsearch(dn, Scope::Base, "(objectClass=*)", &["member"])
            .unwrap();
        found[0]
            .values("member")
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect()
    };
    let (status, body) = patch(
        &host,
        &format!("/Groups/{group_id}"),
        json!([{"op": "Add", "path": "members", "value": [{"value": "7001"}]}]),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(members(&slapd, group_dn), std::slice::from_ref(&dn));
    // A new uid renames the user's entry (modrdn); the group's member follows.
    let (status, body) = patch(
        &host,
        "/Users/7001",
        json!([{"op": "Replace", "path": format!("{EXT}:uid"), "value": "grace.h"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_dn = format!("uid=grace.h,{PEOPLE_DN}");
    assert_eq!(body[EXT]["-dn-"], new_dn.as_str(), "{body}");
    assert_eq!(slapd.count(&new_dn, "(objectClass=*)").unwrap(), 1);
    assert_eq!(
        members(&slapd, group_dn),
        std::slice::from_ref(&new_dn),
        "the member reference followed the rename"
    );
    let (status, body) = patch(
        &host,
        &format!("/Groups/{group_id}"),
        json!([{"op": "Remove", "path": "members[value eq \"7001\"]"}]),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert!(members(&slapd, group_dn).is_empty());
    // Renaming the group keeps its id.
    let (status, body) = patch(
        &host,
        &format!("/Groups/{group_id}"),
        json!([{"op": "Replace", "path": "displayName", "value": "Crew"}]),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(
        slapd
            .count(
                "cn=Crew,ou=groups,dc=example,dc=com",
                "(objectClass=groupOfNames)"
            )
            .unwrap(),
        1
    );
    let (status, body) = host
        .send(
            Method::GET,
            "ldap",
            &format!("/Groups/{group_id}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Crew");
    let (status, _) = host
        .send(
            Method::DELETE,
            "ldap",
            &format!("/Groups/{group_id}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        slapd
            .count("ou=groups,dc=example,dc=com", "(objectClass=groupOfNames)")
            .unwrap(),
        0
    );

    // Delete.
    let (status, _) = host
        .send(Method::DELETE, "ldap", "/Users/7001", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(slapd.count(PEOPLE_DN, "(employeeNumber=7001)").unwrap(), 0);
    host.stop().await;
}

/// With the DN as the anchor (`-dn-`, Microsoft's default for OpenLDAP), the SCIM id is the
/// DN: a create's id is the DN the template made, a rename (a new naming attribute) changes the
/// id, and the old id is gone.
#[tokio::test]
async fn a_dn_anchor_makes_the_dn_the_id_and_renames_change_it() {
    let slapd = Slapd::start().unwrap();
    slapd.ldapadd(&ecma_test_slapd::people_ldif(1)).unwrap();
    let plugin = ecma_integration_tests::plugin_dir().join("libecma_ldap.so");
    let mut file = connector(&slapd);
    file.toml = file
        .toml
        .replacen("anchor = \"employeeNumber\"", "anchor = \"-dn-\"", 1)
        .replace(
            "\"inetOrgPerson:anchor\" = \"employeeNumber\"",
            "\"inetOrgPerson:anchor\" = \"-dn-\"",
        )
        .replace(
            "[[attributes]]\nname = \"uid\"\n",
            "[[attributes]]\nname = \"uid\"\nscim = \"userName\"\nsingle_value = true\n",
        );
    let host = TestHost::start_with(vec![file], |dir| {
        std::fs::copy(&plugin, dir.join("ECMA/libecma_ldap.so")).unwrap();
    })
    .await;
    host.wait_ready_with("ldap", TOKEN).await;

    // An imported entry's id is its DN.
    let imported = format!("uid=user000000,{PEOPLE_DN}");
    let (status, read) = host
        .send(
            Method::GET,
            "ldap",
            &format!("/Users/{imported}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["userName"], "user000000", "{read}");

    // Create: the id is the DN the template made.
    let user = json!({
        "schemas": [CORE_USER, EXT],
        "userName": "ada",
        EXT: {"cn": "Ada Lovelace", "sn": "Lovelace"}
    });
    let (status, created) = host
        .send(
            Method::POST,
            "ldap",
            "/Users",
            TOKEN,
            Some(&user.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let dn = format!("uid=ada,{PEOPLE_DN}");
    assert_eq!(created["id"], dn.as_str(), "{created}");
    assert_eq!(created["userName"], "ada", "{created}");
    assert_eq!(slapd.count(&dn, "(objectClass=inetOrgPerson)").unwrap(), 1);

    // A create that names its DN, as Entra's `-dn-` mapping does: that DN is the id.
    let named = format!("uid=grace,{PEOPLE_DN}");
    let user = json!({
        "schemas": [CORE_USER, EXT],
        "userName": "grace",
        EXT: {"-dn-": named, "cn": "Grace Hopper", "sn": "Hopper"}
    });
    let (status, created) = host
        .send(
            Method::POST,
            "ldap",
            "/Users",
            TOKEN,
            Some(&user.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], named.as_str(), "{created}");
    assert_eq!(slapd.count(&named, "(uid=grace)").unwrap(), 1);

    // Read by that id.
    let (status, read) = host
        .send(Method::GET, "ldap", &format!("/Users/{dn}"), TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read[EXT]["cn"][0], "Ada Lovelace", "{read}");

    // Rename: a new uid is a modrdn, and the id follows the DN.
    let (status, renamed) = patch(
        &host,
        &format!("/Users/{dn}"),
        json!([{"op": "Replace", "path": "userName", "value": "ada.l"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let new_dn = format!("uid=ada.l,{PEOPLE_DN}");
    assert_eq!(renamed["id"], new_dn.as_str(), "{renamed}");
    assert_eq!(slapd.count(&new_dn, "(objectClass=*)").unwrap(), 1);
    assert_eq!(slapd.count(PEOPLE_DN, "(uid=ada)").unwrap(), 0);
    let (status, _) = host
        .send(Method::GET, "ldap", &format!("/Users/{dn}"), TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old id is gone");
    let (status, read) = host
        .send(
            Method::GET,
            "ldap",
            &format!("/Users/{new_dn}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");

    // A group names the user by that id; a rename through `-dn-` changes the id again, and
    // the group's member follows.
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team", "members": [{"value": new_dn}]});
    let (status, created) = host
        .send(
            Method::POST,
            "ldap",
            "/Groups",
            TOKEN,
            Some(&group.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let group_id = created["id"].as_str().unwrap().to_string();
    let group_dn = "cn=Team,ou=groups,dc=example,dc=com";
    let members = |slapd: &Slapd| -> Vec<String> {
        slapd
            .ldapsearch(group_dn, Scope::Base, "(objectClass=*)", &["member"])
            .unwrap()[0]
            .values("member")
    };
    assert_eq!(members(&slapd), std::slice::from_ref(&new_dn));
    let moved = format!("uid=lovelace,{PEOPLE_DN}");
    let (status, renamed) = patch(
        &host,
        &format!("/Users/{new_dn}"),
        json!([{"op": "Replace", "path": format!("{EXT}:-dn-"), "value": moved}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["id"], moved.as_str(), "{renamed}");
    assert_eq!(slapd.count(&moved, "(objectClass=*)").unwrap(), 1);
    assert_eq!(
        members(&slapd),
        std::slice::from_ref(&moved),
        "the member followed"
    );
    let (status, group) = host
        .send(
            Method::GET,
            "ldap",
            &format!("/Groups/{group_id}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["members"][0]["value"], moved.as_str(), "{group}");
    let (status, body) = host
        .send(
            Method::DELETE,
            "ldap",
            &format!("/Groups/{group_id}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Delete by the new id.
    let (status, body) = host
        .send(
            Method::DELETE,
            "ldap",
            &format!("/Users/{moved}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(slapd.count(PEOPLE_DN, "(uid=lovelace)").unwrap(), 0);
    host.stop().await;
}

/// Re-reading a directory that did not change changes nothing in the connector space, by a
/// full import or by a delta from the access log (a sync that reported every entry as changed
/// would rewrite every object and its `meta.lastModified`).
#[tokio::test]
async fn re_imports_of_an_unchanged_directory_change_nothing() {
    use ecmahost::connector::SyncKind;
    use ecmahost::registry::ConnectorSlot;
    // More than one page of the paged search (1,000 entries a page).
    const PEOPLE: usize = 2_500;

    let slapd = Slapd::start().unwrap();
    slapd
        .ldapadd(&ecma_test_slapd::people_ldif(PEOPLE))
        .unwrap();
    let plugin = ecma_integration_tests::plugin_dir().join("libecma_ldap.so");
    let mut file = connector(&slapd);
    file.toml
        .push_str("\n[run_profiles]\ndelta_import = true\n");
    let host = TestHost::start_with(vec![file], |dir| {
        std::fs::copy(&plugin, dir.join("ECMA/libecma_ldap.so")).unwrap();
    })
    .await;
    host.wait_ready_with("ldap", TOKEN).await;
    let entry = host.host.as_ref().unwrap().registry.get("ldap").unwrap();
    let ConnectorSlot::Running(runtime) = entry.slot else {
        panic!("the ldap connector failed");
    };
    assert_eq!(runtime.object_count(), PEOPLE, "the people");

    let full = runtime.sync_as(SyncKind::Full).await.unwrap();
    assert_eq!(
        (full.kind, full.upserted, full.removed),
        ("full", 0, 0),
        "{full:?}"
    );
    let delta = runtime.sync_as(SyncKind::Delta).await.unwrap();
    assert_eq!(
        (delta.kind, delta.upserted, delta.removed),
        ("delta", 0, 0),
        "{delta:?}"
    );
}
