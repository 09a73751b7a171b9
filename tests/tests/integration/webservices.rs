//! The generic web services connector through the host, into the People API (a real HTTPS
//! REST application the test starts on 127.0.0.1, `ecma_integration_tests::people_api`), with
//! the shipped `rest-users` example project: OAuth2 client credentials, cursor paging, users
//! and groups. The API's store is checked after every step; then an expired token, retries on
//! 429/503, and the error mapping (409, 400 with the service's message, 503 when it stays busy).

use std::path::PathBuf;

use ecma_integration_tests::people_api::{PeopleApi, CLIENT_SECRET};
use ecma_integration_tests::{webservices_plugin, ExtraConnector, TestHost};
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const TOKEN: &str = "people-connector-token-1";

fn example_project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/webservices/examples/rest-users/project.toml")
        .canonicalize()
        .unwrap()
}

fn connector(api: &PeopleApi) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    ExtraConnector {
        file_name: "people.toml",
        toml: api.connector_file(&example_project(), &hash.to_string()),
    }
}

/// A host with the web services connector as `connector` (its secret parameter in
/// `connectors/{secret_file}`), ready.
async fn start(connector: ExtraConnector, secret_file: &str, secret: &str) -> TestHost {
    let name = connector.file_name.trim_end_matches(".toml").to_string();
    let host = TestHost::start_with(vec![connector], |dir| {
        std::fs::copy(
            webservices_plugin(),
            dir.join("ECMA/libecma_webservices.so"),
        )
        .unwrap();
        std::fs::write(dir.join("connectors").join(secret_file), secret).unwrap();
    })
    .await;
    let status = host
        .wait_status(&name, |s| s["state"] == "ready" || s["state"] == "failed")
        .await;
    assert_eq!(status["state"], "ready", "{status}");
    host
}

/// One SCIM request to `connector` with the test's token.
async fn scim(
    host: &TestHost,
    connector: &str,
    method: Method,
    path: String,
    body: Option<String>,
) -> (StatusCode, serde_json::Value) {
    host.send(method, connector, &path, TOKEN, body.as_deref())
        .await
}

/// A SCIM user with these ECMA2Host extension attributes.
fn scim_user(user_name: &str, extension: serde_json::Value) -> String {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "userName": user_name,
        EXT: extension
    })
    .to_string()
}

/// The error body's `detail` says `text`.
fn assert_detail(body: &serde_json::Value, text: &str) {
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(text), "{body}");
}

fn patch(path: &str, value: serde_json::Value) -> String {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": path, "value": value}]
    })
    .to_string()
}

#[tokio::test]
async fn rest_users_and_groups_through_the_host() {
    let api = PeopleApi::start().await;
    {
        let mut store = api.store();
        for (name, department) in [
            ("adele", "Retail"),
            ("alex", "Sales"),
            ("bianca", "Legal"),
            ("diego", "Sales"),
            ("emma", "Finance"),
        ] {
            store.add_user(name, department);
        }
    }
    let host = start(connector(&api), "people.secret", CLIENT_SECRET).await;
    let send = |method, path: &str, body| scim(&host, "people", method, path.to_string(), body);

    // The full import paged through the API two users at a time.
    let (status, body) = send(Method::GET, "/Users?count=100", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 5, "{body}");
    assert!(api.store().list_requests >= 3);
    let (_, body) = send(Method::GET, "/Users/diego", None).await;
    assert_eq!(body[EXT]["department"], "Sales", "{body}");
    assert_eq!(body[EXT]["id"], api.store().user("diego").unwrap().id);

    // Changes behind the host's back come in with the next delta (the API's change feed, from
    // the watermark the full import saved); groups are read whole.
    {
        let mut store = api.store();
        store.add_user("frank", "Ops");
        let mut bianca = store.user("bianca").unwrap().clone();
        bianca.department = Some("Compliance".into());
        store.put_user(bianca);
        store.remove_user("emma");
    }
    let runtime = match &host
        .host
        .as_ref()
        .unwrap()
        .registry
        .get("people")
        .unwrap()
        .slot
    {
        ecmahost::registry::ConnectorSlot::Running(r) => r.clone(),
        ecmahost::registry::ConnectorSlot::Failed { reason, .. } => {
            panic!("people failed: {reason}")
        }
    };
    let report = runtime.sync_now().await.unwrap();
    assert_eq!(report.kind, "delta");
    assert_eq!((report.entries, report.removed), (3, 1), "{report:?}");
    let (status, body) = send(Method::GET, "/Users/frank", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[EXT]["department"], "Ops");
    let (_, body) = send(Method::GET, "/Users/bianca", None).await;
    assert_eq!(body[EXT]["department"], "Compliance");
    let (status, _) = send(Method::GET, "/Users/emma", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Create, with an initial password through the password_set flow.
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "userName": "isaiah",
        "active": true,
        "password": "Initial-Passw0rd",
        EXT: {"displayName": "Isaiah Langer", "email": "isaiah@contoso.example", "department": "R&D"}
    });
    let (status, body) = send(Method::POST, "/Users", Some(user.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    {
        let store = api.store();
        let stored = store.user("isaiah").expect("isaiah in the API");
        assert_eq!(stored.display_name.as_deref(), Some("Isaiah Langer"));
        assert_eq!(stored.email.as_deref(), Some("isaiah@contoso.example"));
        assert_eq!(stored.department.as_deref(), Some("R&D"));
        assert!(stored.active);
        assert_eq!(store.passwords["isaiah"], "Initial-Passw0rd");
    }

    // The same userName again: the API's 409 is SCIM's 409.
    let (status, body) = send(Method::POST, "/Users", Some(user.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(api.store().users.len(), 6);

    // A value the API refuses: 400 with the API's own message, nothing stored.
    let bad = scim_user("nomail", json!({"email": "not-an-address"}));
    let (status, body) = send(Method::POST, "/Users", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_detail(&body, "email 'not-an-address' is not an email address");
    assert!(api.store().user("nomail").is_none());

    // PATCH: the whole object goes to the API (ObjectReplace), then the disable flow.
    let (status, body) = send(
        Method::PATCH,
        "/Users/isaiah",
        Some(patch(&format!("{EXT}:department"), json!("Research"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    {
        let store = api.store();
        let stored = store.user("isaiah").unwrap();
        assert_eq!(stored.department.as_deref(), Some("Research"));
        assert_eq!(stored.display_name.as_deref(), Some("Isaiah Langer"));
    }
    let (status, body) = send(
        Method::PATCH,
        "/Users/isaiah",
        Some(patch("active", json!("False"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!api.store().user("isaiah").unwrap().active);

    // A new password in a PATCH goes through the password flow, never into the object.
    let (status, body) = send(
        Method::PATCH,
        "/Users/isaiah",
        Some(patch("password", json!("Changed-Passw0rd"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(api.store().passwords["isaiah"], "Changed-Passw0rd");
    assert!(body.get("password").is_none(), "{body}");

    // Groups: members are users' anchors.
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineering",
        "members": [{"value": "isaiah"}, {"value": "adele"}]
    });
    let (status, body) = send(Method::POST, "/Groups", Some(group.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut members = api.store().group("Engineering").unwrap().members.clone();
    members.sort();
    assert_eq!(members, ["adele", "isaiah"]);
    let remove = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members[value eq \"adele\"]"}]
    });
    let (status, body) = send(
        Method::PATCH,
        "/Groups/Engineering",
        Some(remove.to_string()),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(
        api.store().group("Engineering").unwrap().members,
        ["isaiah"]
    );

    // Delete.
    let (status, body) = send(Method::DELETE, "/Users/isaiah", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(api.store().user("isaiah").is_none());
    let (status, _) = send(Method::GET, "/Users/isaiah", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The API revokes every token: the connector fetches a new one once, and goes on.
    let issued = {
        let mut store = api.store();
        store.expire_tokens();
        store.tokens_issued
    };
    let (status, body) = send(
        Method::PATCH,
        "/Users/adele",
        Some(patch(&format!("{EXT}:department"), json!("Audit"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    {
        let store = api.store();
        assert_eq!(
            store.user("adele").unwrap().department.as_deref(),
            Some("Audit")
        );
        assert_eq!(store.tokens_issued, issued + 1);
    }

    // 429, then 503, each with Retry-After: the connector waits and retries.
    api.store().fail_next.extend([429, 503]);
    let (status, body) = send(
        Method::PATCH,
        "/Users/adele",
        Some(patch(&format!("{EXT}:department"), json!("Retail"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    {
        let store = api.store();
        assert_eq!(store.failures_served, 2);
        assert_eq!(
            store.user("adele").unwrap().department.as_deref(),
            Some("Retail")
        );
    }

    // Busy beyond the retries: SCIM 503 with Retry-After, and nothing changed.
    api.store().fail_next.extend([503, 503, 503, 503]);
    let (status, headers, body) = host
        .send_full(
            Method::PATCH,
            "people",
            "/Users/adele",
            TOKEN,
            Some(&patch(&format!("{EXT}:department"), json!("Gone"))),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        api.store().user("adele").unwrap().department.as_deref(),
        Some("Retail")
    );
    api.store().fail_next.clear();

    // Nothing the connector logged carries the client secret.
    for line in ecma_integration_tests::log_capture::plugin_logs("people") {
        assert!(!line.message.contains(CLIENT_SECRET), "{line:?}");
    }
    host.stop().await;
}

/// `ecmahost ws discover`, `add-rest` and `check` on a copy of the example project: each
/// step adds to the project, a repeat replaces, and a broken project names file, line and key.
#[test]
fn ws_commands_edit_and_check_a_project() {
    use ecmahost::webservices::{add_rest, check, discover, RestArguments};
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project.toml");
    std::fs::copy(example_project(), &project).unwrap();
    let wsdl = example_project()
        .parent()
        .unwrap()
        .join("../soap-users/users.wsdl");
    for _ in 0..2 {
        let tree = discover(&wsdl, &project).unwrap();
        assert!(tree.contains("operation BAPI_USER_CREATE1 (document, action \"urn:contoso:users:BAPI_USER_CREATE1\")"), "{tree}");
    }
    let line = add_rest(
        &project,
        RestArguments {
            openapi: None,
            name: Some("get_user".into()),
            method: Some("get".into()),
            path: Some("/api/users/{id}".into()),
            base_url: None,
            parameters: vec!["id:path:required".into()],
            sample_request: None,
            sample_response: None,
            description: None,
        },
    )
    .unwrap();
    assert_eq!(
        line,
        format!(
            "recorded REST service get_user (GET /api/users/{{id}}) in {}\n",
            project.display()
        )
    );
    let summary = check(&project).unwrap();
    assert!(
        summary.contains("discovery: 9 REST services, 1 SOAP services"),
        "{summary}"
    );
    assert!(summary.contains("object type User: anchor userName, 6 attributes + export_password; flows: full_import, delta_import, export_add, export_replace, export_delete, password_set"), "{summary}");

    let bad = std::fs::read_to_string(&project).unwrap().replace(
        "path = \"/api/users/{steps.find./items/0/id}/password\"",
        "path = \"/api/users/{attr.nickname}/password\"",
    );
    std::fs::write(&project, bad).unwrap();
    let e = check(&project).unwrap_err().to_string();
    assert!(
        e.contains(": object_types[0].flows.password_set.steps[2].request.path: in '/api/users/{attr.nickname}/password': 'nickname' is not an attribute of this object type"),
        "{e}"
    );
    let after = e
        .strip_prefix(&format!("{}:", project.display()))
        .expect("names the file");
    let line: usize = after
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("then the line");
    assert!(line > 100, "{e}");
}

/// `ecmahost ws discover --wsdl URL`: the SOAP test service's WSDL (`?wsdl`) and the XSD it
/// imports (relative to the WSDL's URL) are downloaded, giving the tree the files give; a
/// missing document is an error naming its URL and the status.
#[tokio::test]
async fn ws_discover_reads_a_wsdl_and_its_imports_by_url() {
    use ecma_integration_tests::bapi_service::{BapiService, ENDPOINT};
    use ecmahost::webservices::discover;
    let service = BapiService::start().await;
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project.toml");
    std::fs::copy(example_project(), &project).unwrap();
    let url = format!("http://{}{ENDPOINT}?wsdl", service.addr);
    let file = example_project()
        .parent()
        .unwrap()
        .join("../soap-users/users.wsdl");
    let (by_url, by_file, missing) = tokio::task::spawn_blocking({
        let (project, url) = (project.clone(), url.clone());
        let missing = format!("http://{}/sap/bc/srt/rfc/sap/gone?wsdl", service.addr);
        move || {
            let by_file = discover(&file, &project).unwrap();
            let by_url = discover(std::path::Path::new(&url), &project).unwrap();
            let missing = discover(std::path::Path::new(&missing), &project).unwrap_err();
            (by_url, by_file, (missing.to_string(), url))
        }
    })
    .await
    .unwrap();
    assert_eq!(by_url, by_file);
    // The message structure comes from users.xsd, which only the import names.
    assert!(by_url.contains("E_MAIL"), "{by_url}");
    let text = std::fs::read_to_string(&project).unwrap();
    assert!(text.contains(&format!("wsdl = \"{url}\"")), "{text}");
    assert_eq!(text.matches("[[discovery.soap]]").count(), 1, "{text}");
    assert!(text.contains("name = \"E_MAIL\""), "{text}");
    assert_eq!(
        missing.0,
        format!(
            "cannot fetch http://{}/sap/bc/srt/rfc/sap/gone?wsdl: the server answered 404 Not Found",
            service.addr
        )
    );
}

/// `ecmahost ws add-rest --openapi FILE` (the executable): every operation of a small OpenAPI
/// 3.1 YAML document becomes a REST service of the project, with the server's URL, the path
/// item's and `$ref` parameters, and samples from the examples or the schema; a second run
/// updates the same services instead of adding them again.
#[test]
fn ws_add_rest_records_an_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project.toml");
    let head = "version = 1\nname = \"people\"\n\n[connection]\nbase_url = \"https://contoso.people.example/api\"\n\n[[object_types]]\nname = \"User\"\nanchor = \"id\"\nattributes = [{ name = \"id\" }]\n";
    std::fs::write(&project, head).unwrap();
    let document =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/openapi/people.yaml");
    let run = || {
        let out = std::process::Command::new(ecma_integration_tests::cli::ecmahost_bin())
            .args(["ws", "add-rest", "--project"])
            .arg(&project)
            .arg("--openapi")
            .arg(&document)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    let lines = |added: usize, updated: usize| {
        format!(
            "recorded 3 REST services from {} (People API) in {}: {added} added, {updated} updated
  list_users GET /users (cursor:query)
  create_user POST /users (body:body:required)
  delete_users_id DELETE /users/{{id}} (id:path:required)
  skipped HEAD /users/{{id}}: the connector sends GET, POST, PUT, PATCH and DELETE only
",
            document.display(),
            project.display()
        )
    };
    assert_eq!(first, lines(3, 0));
    let after_first = std::fs::read_to_string(&project).unwrap();
    assert_eq!(run(), lines(0, 3));
    let text = std::fs::read_to_string(&project).unwrap();
    assert_eq!(text, after_first, "a repeated run changes nothing");
    let loaded = ecma_ws_project::load(&project).unwrap();
    let rest = &loaded.discovery.rest;
    assert_eq!(rest.len(), 3, "{text}");
    assert!(text.starts_with(head), "{text}");
    let create = rest.iter().find(|s| s.name == "create_user").unwrap();
    assert_eq!(
        create.base_url.as_deref(),
        Some("https://contoso.people.example/api")
    );
    assert_eq!(create.resource_path, "/users");
    assert_eq!(create.method, ecma_ws_project::Method::Post);
    let sample: serde_json::Value =
        serde_json::from_str(create.sample_request.as_deref().unwrap()).unwrap();
    assert_eq!(
        sample,
        json!({"id": "string", "userName": "adele", "active": false, "emails": ["user@example.com"]})
    );
    let list = rest.iter().find(|s| s.name == "list_users").unwrap();
    assert_eq!(list.description, "List users");
    let page: serde_json::Value =
        serde_json::from_str(list.sample_response.as_deref().unwrap()).unwrap();
    assert_eq!(
        page,
        json!({"items": [{"id": "u1", "userName": "adele"}], "next": null})
    );
    let delete = rest.iter().find(|s| s.name == "delete_users_id").unwrap();
    assert_eq!(delete.description, "Remove a user");
    assert!(delete.sample_response.is_none());
    assert!(text.contains("name = \"list_users\"\nbase_url = \"https://contoso.people.example/api\"\nresource_path = \"/users\"\nmethod = \"GET\""), "{text}");
}

/// The SAP BAPI-style SOAP example through the host: WS-Security, GETLIST with its row cursor
/// and GET_DETAIL per user, CREATE1 with the password, BAPI RETURN messages as result codes
/// (224 → 409, 124 → 404), a SOAP fault as 400 with its reason, CHANGE and DELETE, the
/// service's store checked after every step.
#[tokio::test]
async fn soap_bapi_users_through_the_host() {
    use ecma_integration_tests::bapi_service::{
        BapiService, BapiUser, SOAP_CONNECTOR, SOAP_PASSWORD,
    };
    let service = BapiService::start().await;
    {
        let mut store = service.store();
        for (name, department) in [("ADELE", "Retail"), ("ALEX", "Sales"), ("BIANCA", "Legal")] {
            store.users.insert(
                name.into(),
                BapiUser {
                    first_name: name.to_lowercase(),
                    department: department.into(),
                    ..BapiUser::default()
                },
            );
        }
    }
    let project = example_project()
        .parent()
        .unwrap()
        .join("../soap-users/project.toml")
        .canonicalize()
        .unwrap();
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    let sap = ExtraConnector {
        file_name: "sap.toml",
        toml: ecma_test_ws_services::fill(
            SOAP_CONNECTOR,
            &[
                ("TOKEN_HASH", &hash.to_string()),
                ("PROJECT", &project.display().to_string()),
                ("PORT", &service.addr.port().to_string()),
                ("PASSWORD_FILE", "sap.password"),
            ],
        ),
    };
    let host = start(sap, "sap.password", SOAP_PASSWORD).await;
    let send = |method, path: &str, body| scim(&host, "sap", method, path.to_string(), body);

    // Two GETLIST pages (rows 1-2, then 3), a GET_DETAIL per user.
    let (status, body) = send(Method::GET, "/Users?count=100", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 3, "{body}");
    let (_, body) = send(Method::GET, "/Users/ALEX", None).await;
    assert_eq!(body[EXT]["DEPARTMENT"], "Sales", "{body}");
    assert_eq!(body[EXT]["FIRSTNAME"], "alex", "{body}");
    {
        let store = service.store();
        let lists = store
            .calls
            .iter()
            .filter(|c| *c == "BAPI_USER_GETLIST")
            .count();
        let details = store
            .calls
            .iter()
            .filter(|c| *c == "BAPI_USER_GET_DETAIL")
            .count();
        assert!(lists >= 2, "{:?}", store.calls);
        assert!(details >= 3, "{:?}", store.calls);
    }

    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
        "userName": "ISAIAH",
        "password": "Initial-Passw0rd",
        EXT: {"FIRSTNAME": "Isaiah", "LASTNAME": "Langer & Sons", "E_MAIL": "isaiah@contoso.example", "DEPARTMENT": "R&D"}
    });
    let (status, body) = send(Method::POST, "/Users", Some(user.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        service.store().users["ISAIAH"],
        BapiUser {
            first_name: "Isaiah".into(),
            last_name: "Langer & Sons".into(),
            email: "isaiah@contoso.example".into(),
            department: "R&D".into(),
            password: "Initial-Passw0rd".into(),
        }
    );

    // RETURN 224 (created behind the host's back, so only the service knows it) → 409.
    service
        .store()
        .users
        .insert("ZOE".into(), BapiUser::default());
    let zoe = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ZOE"});
    let (status, body) = send(Method::POST, "/Users", Some(zoe.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_detail(&body, "User ZOE already exists");

    // A SOAP fault (soap:Client) → 400 with its reason, nothing stored.
    let bad = scim_user("NOMAIL", json!({"E_MAIL": "not-an-address"}));
    let (status, body) = send(Method::POST, "/Users", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_detail(&body, "E_MAIL 'not-an-address' is not an address");
    assert!(!service.store().users.contains_key("NOMAIL"));

    // CHANGE carries the whole address.
    let (status, body) = send(
        Method::PATCH,
        "/Users/ISAIAH",
        Some(patch(&format!("{EXT}:DEPARTMENT"), json!("Research"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    {
        let store = service.store();
        assert_eq!(store.users["ISAIAH"].department, "Research");
        assert_eq!(store.users["ISAIAH"].last_name, "Langer & Sons");
        assert_eq!(store.users["ISAIAH"].password, "Initial-Passw0rd");
    }

    // Removed behind the host's back: RETURN 124 → 404.
    service.store().users.remove("BIANCA");
    let (status, body) = send(
        Method::PATCH,
        "/Users/BIANCA",
        Some(patch(&format!("{EXT}:DEPARTMENT"), json!("Gone"))),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) = send(Method::DELETE, "/Users/ISAIAH", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(!service.store().users.contains_key("ISAIAH"));
    host.stop().await;
}

/// `ecmahost ws test`: one flow against the live People API, every exchange printed without
/// the client secret, and an export that reaches the API's store.
#[tokio::test]
async fn ws_test_runs_one_flow_and_prints_the_exchanges() {
    use ecmahost::webservices::{test, FlowKind as TestFlow};
    let api = PeopleApi::start().await;
    api.store().add_user("adele", "Retail");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.toml");
    let hash = ecmahost::token::hash_token(TOKEN).unwrap().to_string();
    std::fs::write(&file, api.connector_file(&example_project(), &hash)).unwrap();
    std::fs::write(dir.path().join("people.secret"), CLIENT_SECRET).unwrap();
    let entry = dir.path().join("zed.json");
    std::fs::write(
        &entry,
        r#"{"object_type": "User", "anchor": {"userName": "zed"}, "attributes": {"displayName": "Zed", "email": "zed@contoso.example"}}"#,
    )
    .unwrap();
    let run = |flow, entry: Option<std::path::PathBuf>| {
        let file = file.clone();
        tokio::task::spawn_blocking(move || {
            test(&file, &webservices_plugin(), flow, entry.as_deref())
        })
    };
    let out = run(TestFlow::FullImport, None).await.unwrap().unwrap();
    let port = api.addr.port();
    assert!(
        out.contains(&format!(
            "GET https://localhost:{port}/api/users?limit=500\n  response: 200 "
        )),
        "{out}"
    );
    assert!(out.contains("Add User adele: "), "{out}");
    assert!(out.contains("1 entries; watermark "), "{out}");
    assert!(!out.contains(CLIENT_SECRET), "{out}");

    let out = run(TestFlow::ExportAdd, Some(entry))
        .await
        .unwrap()
        .unwrap();
    assert!(out.ends_with("exported\n"), "{out}");
    assert_eq!(
        api.store().user("zed").unwrap().display_name.as_deref(),
        Some("Zed")
    );
    let e = run(TestFlow::ExportDelete, None)
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("give --entry FILE"), "{e}");
}

/// The example services as docs/webservices.md runs them: `ecma-demo-ws` as a process, its
/// `service.env`, the guide's `ws discover` from the live WSDL, `ws add-rest` and `ws test`
/// with the example connector file filled in, then a SCIM create through the host that lands
/// in the running People API.
#[tokio::test]
async fn ws_example_service_as_the_guide_runs_it() {
    use ecma_test_ws_services::people_api::REST_CONNECTOR;
    use std::collections::HashMap;

    /// Stops the service process, whatever the test does.
    struct Service(std::process::Child);
    impl Drop for Service {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let service_dir = dir.path().join("service");
    let mut service = Service(
        std::process::Command::new(env!("CARGO_BIN_EXE_ecma-demo-ws-under-test"))
            .arg("--dir")
            .arg(&service_dir)
            .args(["--rest-port", "0", "--soap-port", "0"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let env_file = service_dir.join("service.env");
    for _ in 0..300 {
        if env_file.is_file() {
            break;
        }
        assert!(
            service.0.try_wait().unwrap().is_none(),
            "ecma-demo-ws exited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let env: HashMap<String, String> = std::fs::read_to_string(&env_file)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    let secret = std::fs::read_to_string(&env["PEOPLE_SECRET_FILE"]).unwrap();
    assert!(secret.len() >= 20, "a generated client secret");

    let ecmahost = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecmahost-under-test"))
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ecmahost {args:?}: {text}");
        text
    };
    let examples = example_project().parent().unwrap().join("..");
    let people = dir.path().join("people.toml");
    let sap = dir.path().join("sap.toml");
    std::fs::copy(example_project(), &people).unwrap();
    std::fs::copy(examples.join("soap-users/project.toml"), &sap).unwrap();
    let (people_s, sap_s) = (people.to_str().unwrap(), sap.to_str().unwrap());

    // SOAP discovery from the running service's WSDL (and the XSD it imports).
    let tree = ecmahost(&[
        "ws",
        "discover",
        "--wsdl",
        &env["SOAP_WSDL"],
        "--project",
        sap_s,
    ]);
    assert!(tree.contains("BAPI_USER_CREATE1"), "{tree}");
    assert!(std::fs::read_to_string(&sap)
        .unwrap()
        .contains(&format!("wsdl = \"{}\"", env["SOAP_WSDL"])));
    // A REST service recorded by hand, then the project checked.
    ecmahost(&[
        "ws",
        "add-rest",
        "--project",
        people_s,
        "--name",
        "get_user",
        "--method",
        "GET",
        "--path",
        "/api/users/{id}",
        "--param",
        "id:path:required",
    ]);
    let summary = ecmahost(&["ws", "check", "--project", people_s]);
    assert!(summary.contains("discovery: 9 REST services"), "{summary}");

    // The example connector file, filled in as the guide's sed command does.
    let hash = ecmahost::token::hash_token(TOKEN).unwrap().to_string();
    let connector = ecma_test_ws_services::fill(
        REST_CONNECTOR,
        &[
            ("TOKEN_HASH", &hash),
            ("PROJECT", people_s),
            ("PORT", &env["PEOPLE_PORT"]),
            ("SECRET_FILE", &env["PEOPLE_SECRET_FILE"]),
            ("CA_FILE", &env["PEOPLE_CA_FILE"]),
        ],
    );
    let connector_file = dir.path().join("people-connector.toml");
    std::fs::write(&connector_file, &connector).unwrap();
    let plugin = webservices_plugin();
    let out = ecmahost(&[
        "ws",
        "test",
        "--connector",
        connector_file.to_str().unwrap(),
        "--plugin",
        plugin.to_str().unwrap(),
        "--flow",
        "full_import",
    ]);
    let list = format!(
        "GET https://localhost:{}/api/users?limit=500\n  response: 200 ",
        env["PEOPLE_PORT"]
    );
    assert!(out.contains(&list), "{out}");
    assert!(out.contains("Add User adele: "), "{out}");
    assert!(out.contains("5 entries; watermark "), "{out}");
    assert!(!out.contains(secret.trim()), "{out}");

    // SCIM through the host into the running service.
    let host = TestHost::start_with(
        vec![ExtraConnector {
            file_name: "people.toml",
            toml: connector,
        }],
        |dir| {
            std::fs::copy(&plugin, dir.join("ECMA/libecma_webservices.so")).unwrap();
        },
    )
    .await;
    let status = host
        .wait_status("people", |s| {
            s["state"] == "ready" || s["state"] == "failed"
        })
        .await;
    assert_eq!(status["state"], "ready", "{status}");
    let body = scim_user(
        "zed",
        json!({"displayName": "Zed Example", "email": "zed@contoso.example"}),
    );
    let (status, body) = scim(&host, "people", Method::POST, "/Users".into(), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The service has it, as its own API answers.
    let client =
        ecma_integration_tests::client_trusting(std::path::Path::new(&env["PEOPLE_CA_FILE"]));
    let base = &env["PEOPLE_URL"];
    let token: serde_json::Value = client
        .post(format!("{base}/oauth/token"))
        .basic_auth(&env["PEOPLE_CLIENT_ID"], Some(secret.trim()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let found: serde_json::Value = client
        .get(format!("{base}/api/users?userName=zed"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["displayName"], "Zed Example", "{found}");
    assert_eq!(found["items"][0]["email"], "zed@contoso.example", "{found}");
    host.stop().await;
    drop(service);
}
