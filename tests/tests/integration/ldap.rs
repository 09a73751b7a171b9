//! The LDAP connector end to end: Entra-style SCIM requests through the host into a real,
//! throwaway slapd, with every step checked by `ldapsearch`.

use ecma_integration_tests::{ExtraConnector, TestHost};
use ecma_test_slapd::{Scope, Slapd, PEOPLE_DN};
use reqwest::{Method, StatusCode};
use serde_json::json;

const TOKEN: &str = "ldap-connector-test-token-0123456789";
const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn connector(slapd: &Slapd) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    ExtraConnector {
        file_name: "ldap.toml",
        toml: format!(
            r#"version = 1
name = "ldap"
token_hash = "{hash}"
plugin = "libecma_ldap.so"
autosync_minutes = 0
object_type = "inetOrgPerson"
anchor = "employeeNumber"
password_attribute = "password"

[[attributes]]
name = "<dn>"

[[attributes]]
name = "uid"

[[attributes]]
name = "cn"

[[attributes]]
name = "sn"

[[attributes]]
name = "mail"

[deprovisioning]
delete = "delete"

[parameters.connectivity]
host = "127.0.0.1"
port = "{port}"
binding = "Simple"
user_name = "{admin}"
password = "{password}"

[parameters.schema1]
object_classes = "inetOrgPerson"

[parameters.schema2]
"inetOrgPerson:anchor" = "employeeNumber"
"inetOrgPerson:dn_template" = "uid={{uid}},ou=people,{{partition}}"
"#,
            port = slapd.port(),
            admin = slapd.admin_dn(),
            password = slapd.admin_password(),
        ),
    }
}

#[tokio::test]
async fn entra_users_are_provisioned_into_slapd() {
    let slapd = Slapd::start().unwrap();
    let plugin = ecma_integration_tests::plugin_dir().join("libecma_ldap.so");
    let host = TestHost::start_with(vec![connector(&slapd)], |dir| {
        std::fs::copy(&plugin, dir.join("ECMA/libecma_ldap.so")).unwrap();
    })
    .await;
    host.wait_ready("ldap").await;

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
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": format!("{EXT}:mail"), "value": "grace.hopper@example.com"}]});
    let (status, body) = host
        .send(
            Method::PATCH,
            "ldap",
            "/Users/7001",
            TOKEN,
            Some(&patch.to_string()),
        )
        .await;
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

    // Delete.
    let (status, _) = host
        .send(Method::DELETE, "ldap", "/Users/7001", TOKEN, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(slapd.count(PEOPLE_DN, "(employeeNumber=7001)").unwrap(), 0);
    host.stop().await;
}
