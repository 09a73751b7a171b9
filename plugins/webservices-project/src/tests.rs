//! The project format end to end: the shipped example loads, bad files are refused with the
//! file, line and key, and docs/webservices-project.schema.json is the schema of these types.

use std::path::{Path, PathBuf};

use crate::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> PathBuf {
    repo().join("plugins/webservices/examples/rest-users/project.toml")
}

#[test]
fn the_rest_example_loads() {
    let project = load(&example()).unwrap();
    assert_eq!(project.name, "rest-users");
    let names: Vec<&str> = project
        .object_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["User", "Group"]);
    let user = &project.object_types[0];
    assert!(user.export_password);
    assert!(user.flows.get(FlowKind::FullImport).is_some());
    assert!(user.flows.get(FlowKind::PasswordSet).is_some());
    assert!(matches!(project.auth, Auth::Oauth2ClientCredentials { .. }));
    assert_eq!(project.discovery.rest.len(), 8);
    assert!(user.flows.get(FlowKind::DeltaImport).is_some());
}

fn error_of(text: &str) -> String {
    parse(text, Path::new("p.toml")).unwrap_err().to_string()
}

const HEAD: &str = r#"version = 1
name = "t"
[connection]
base_url = "http://127.0.0.1:1"
"#;

#[test]
fn an_unknown_key_names_file_line_and_key() {
    let text = format!("{HEAD}[[object_types]]\nname = \"User\"\nanchor = \"id\"\nattributes = [{{ name = \"id\" }}]\nflavour = 1\n");
    let e = error_of(&text);
    assert!(e.starts_with("p.toml:9:1: unknown field `flavour`"), "{e}");
}

#[test]
fn semantic_errors_name_line_and_key_path() {
    let text = format!(
        r#"{HEAD}[[object_types]]
name = "User"
anchor = "id"
attributes = [{{ name = "id" }}]

[[object_types.flows.export_add.steps]]
[object_types.flows.export_add.steps.request]
method = "POST"
path = "/users/{{attr.nickname}}"

[[object_types.flows.export_add.steps]]
log = "x"
set = {{ "var.a" = "1" }}

[[object_types.flows.full_import.steps]]
request = {{ method = "GET", path = "/u", query = {{ k = "{{param.client_secret}}" }} }}
"#
    );
    let e = error_of(&text);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(
        lines,
        [
            "p.toml:20: object_types[0].flows.full_import.steps[0].request.query.k: '{param.client_secret}' would put a secret into a request; secrets go only through [auth]",
            "p.toml:13: object_types[0].flows.export_add.steps[0].request.path: in '/users/{attr.nickname}': 'nickname' is not an attribute of this object type",
            "p.toml:15: object_types[0].flows.export_add.steps[1]: the step has set and log; split it into one step each",
        ],
        "{e}"
    );
}

#[test]
fn schema_consistency_is_checked() {
    let text = format!(
        "{HEAD}[[object_types]]\nname = \"User\"\nanchor = \"login\"\nattributes = [{{ name = \"id\", multi_valued = true }}]\n"
    );
    let e = error_of(&text);
    assert!(
        e.contains("object_types[0].anchor: anchor 'login' is not an attribute of 'User'"),
        "{e}"
    );
    let e = error_of(
        "version = 2\nname = \"t\"\nobject_types = []\n[connection]\nbase_url = \"ftp://x\"\n",
    );
    assert!(
        e.contains("p.toml:1: version: version 2 is not known"),
        "{e}"
    );
    assert!(
        e.contains("p.toml:5: connection.base_url: 'ftp://x' is not an http:// or https:// URL"),
        "{e}"
    );
    assert!(
        e.contains("object_types: the project declares no object type"),
        "{e}"
    );
}

/// `ECMA_UPDATE_SCHEMA=1 cargo test -p ecma-ws-project` rewrites the file.
#[test]
fn the_published_json_schema_is_current() {
    let file = repo().join("docs/webservices-project.schema.json");
    let schema = json_schema();
    if std::env::var_os("ECMA_UPDATE_SCHEMA").is_some() {
        std::fs::write(&file, &schema).unwrap();
    }
    let published = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        published == schema,
        "{} is out of date; run ECMA_UPDATE_SCHEMA=1 cargo test -p ecma-ws-project",
        file.display()
    );
    // The example is an instance of it in shape: every top-level key is a schema property.
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let example: toml::Value =
        toml::from_str(&std::fs::read_to_string(example()).unwrap()).unwrap();
    for key in example.as_table().unwrap().keys() {
        assert!(
            schema["properties"].get(key).is_some(),
            "{key} missing from the schema"
        );
    }
}

fn soap_example() -> PathBuf {
    repo().join("plugins/webservices/examples/soap-users/users.wsdl")
}

#[test]
fn the_bapi_wsdl_is_discovered_with_its_imported_schema() {
    let services = wsdl::discover(&soap_example()).unwrap();
    let tree = wsdl::render(&services);
    assert!(tree.starts_with(
        "service ZUserService\n  port ZUserServicePort (binding ZUserServiceBinding, SOAP 1.1) at http://sap.contoso.example:8000/sap/bc/srt/rfc/sap/zuserservice\n"
    ), "{tree}");
    let port = &services[0].ports[0];
    let names: Vec<&str> = port.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "BAPI_USER_GETLIST",
            "BAPI_USER_GET_DETAIL",
            "BAPI_USER_CREATE1",
            "BAPI_USER_CHANGE",
            "BAPI_USER_DELETE"
        ]
    );
    // The structure comes from users.xsd, which the WSDL's inline schema imports.
    assert!(tree.contains(
        "    operation BAPI_USER_GETLIST (document, action \"urn:contoso:users:BAPI_USER_GETLIST\")\n      input\n        BAPI_USER_GETLIST\n          MAX_ROWS: xsd:int\n          FROM_ROW: xsd:int\n      output\n        BAPI_USER_GETLISTResponse\n          USERLIST\n            item [*]\n              USERNAME: xsd:string\n          ROWS: xsd:int\n          NEXT_ROW: xsd:int\n          RETURN\n            TYPE: xsd:string\n            NUMBER: xsd:string\n            MESSAGE: xsd:string\n"
    ), "{tree}");
}

#[test]
fn discovery_is_added_to_a_project_keeping_its_text_and_repeats_replace() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p.toml");
    let original = format!(
        "# my comment\n{HEAD}\n[[object_types]]\nname = \"User\"\nanchor = \"id\"\nattributes = [{{ name = \"id\" }}]\n"
    );
    std::fs::write(&project, &original).unwrap();
    let services = wsdl::discover(&soap_example()).unwrap();
    add_soap(&project, &services).unwrap();
    add_soap(&project, &services).unwrap();
    add_rest(
        &project,
        &RestService {
            name: "list".into(),
            base_url: None,
            resource_path: "/users".into(),
            method: Method::Get,
            parameters: Vec::new(),
            sample_request: None,
            sample_response: None,
            description: String::new(),
        },
    )
    .unwrap();
    let text = std::fs::read_to_string(&project).unwrap();
    assert!(text.starts_with(&original), "{text}");
    let loaded = load(&project).unwrap();
    assert_eq!(loaded.discovery.soap.len(), 1);
    assert_eq!(loaded.discovery.soap[0].ports[0].operations.len(), 5);
    assert_eq!(loaded.discovery.rest[0].resource_path, "/users");
}

#[test]
fn a_broken_wsdl_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.wsdl");
    std::fs::write(&file, "<definitions><oops></definitions>").unwrap();
    let e = wsdl::discover(&file).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: not well-formed XML", file.display())),
        "{e}"
    );
}

#[test]
fn xpath_expressions_are_checked_when_the_project_loads() {
    let text = format!(
        r#"{HEAD}[namespaces]
u = "urn:contoso:users"

[[object_types]]
name = "User"
anchor = "id"
attributes = [{{ name = "id" }}]

[[object_types.flows.full_import.steps]]
soap = {{ operation = "GetUsers", save = {{ "var.total" = "xpath:count(//u:User)", "var.bad" = "xpath://v:User" }} }}

[[object_types.flows.full_import.steps]]
for_each = "xpath:count(//u:User)"
as = "user"
steps = [{{ log = "{{user./Name}}" }}]
"#
    );
    let e = error_of(&text);
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(
        lines,
        [
            "p.toml:14: object_types[0].flows.full_import.steps[0].soap.save.var.bad: XPath '//v:User': the prefix 'v' is not declared; add it to the project's [namespaces] table",
            "p.toml:17: object_types[0].flows.full_import.steps[1].for_each: XPath 'count(//u:User)' computes a value; for_each needs a location path that selects nodes, such as //p:item",
        ],
        "{e}"
    );
    let good = text
        .replace("xpath://v:User", "xpath://u:User[1]/@id")
        .replace("xpath:count(//u:User)\"\nas", "xpath://u:User\"\nas");
    let project = parse(&good, Path::new("p.toml")).unwrap();
    assert_eq!(project.namespaces["u"], "urn:contoso:users");
}
