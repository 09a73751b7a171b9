//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries (`fuzz_targets/`) and the
//! stable regression test that replays `fuzz/corpus/` (the integration binary's
//! `fuzz_corpus` module). Each one feeds arbitrary bytes to a parser the host runs on
//! untrusted input, then uses what it parsed; the only failure is a panic.

use std::collections::HashMap;
use std::sync::OnceLock;

use ecma_plugin_api::{AttributeType, ObjectTypeSchema, Schema, SchemaAttribute};
use ecma_scim::query::{parse_attribute_list, project, SearchRequest};
use ecma_scim::{apply_patch, parse_filter, parse_patch, AttrPath};
use ecmahost::connector::mapping::{RefTarget, ReferenceResolver, ResourceMapping};
use ecmahost::space::ConnectorSpace;
use serde_json::{json, Value};

/// A resource with the shapes filters and PATCH paths reach: strings, a boolean, a complex
/// multi-valued attribute, an extension.
pub fn resource() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "alex",
        "userName": "alex.wilber",
        "active": true,
        "name": {"givenName": "Alex", "familyName": "Wilber"},
        "emails": [{"type": "work", "value": "alex@example.com", "primary": true}],
        "members": [{"value": "a"}, {"value": "b"}],
        "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Department": "Sales", "Level": 3}
    })
}

/// The filter grammar (RFC 7644 §3.4.2.2), then evaluation against [`resource`].
pub fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = parse_filter(text) {
        let _ = filter.matches(&resource(), &|_| false);
        let _ = filter.matches(&resource(), &|_| true);
    }
}

/// PATCH bodies (both of Entra's dialects), then application to [`resource`].
pub fn patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(ops) = parse_patch(&body) {
        let mut target = resource();
        let _ = apply_patch(&mut target, &ops);
    }
}

/// `.search` bodies: the request, its filter, its attribute lists and the projection.
pub fn search(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(request) = SearchRequest::parse(&body) else {
        return;
    };
    if let Some(f) = request.filter.as_deref() {
        filter(f.as_bytes());
    }
    let attributes = parse_attribute_list(&request.attributes.join(","));
    let excluded = parse_attribute_list(&request.excluded_attributes.join(","));
    if let (Ok(a), Ok(e)) = (attributes, excluded) {
        let _ = project(&resource(), &a, &e);
    }
    if let Some(s) = request.sort_by.as_deref() {
        let _ = AttrPath::parse(s);
    }
}

/// The connector TOML loader, with its validation, from a scratch file.
pub fn connector_toml(data: &[u8]) {
    thread_local! {
        static DIR: Option<tempfile::TempDir> = tempfile::tempdir().ok();
    }
    DIR.with(|dir| {
        let Some(dir) = dir else { return };
        let file = dir.path().join("fuzz.toml");
        if std::fs::write(&file, data).is_ok() {
            let _ = ecmahost::config::ConnectorConfig::load(&file);
        }
    });
}

/// `POST /Bulk` bodies: the request's checks, then each operation read in order, as if every
/// POST before it succeeded, and PATCH bodies parsed.
pub fn bulk(data: &[u8]) {
    let Ok((operations, _)) = ecmahost::scim::bulk::read_request(data, 65_536) else {
        return;
    };
    let mut ids = HashMap::new();
    for operation in &operations {
        let Ok(op) = ecmahost::scim::bulk::read_operation(operation, &ids) else {
            continue;
        };
        match (op.method.as_str(), op.bulk_id) {
            ("POST", Some(bulk_id)) => {
                let id = format!("created-{}", ids.len());
                ids.insert(bulk_id, id);
            }
            ("PATCH", _) => {
                if let Ok(ops) = parse_patch(&op.data) {
                    let _ = apply_patch(&mut resource(), &ops);
                }
            }
            _ => {}
        }
    }
}

/// The demo connector's mappings (users with a manager, groups with members), built once
/// from its file and the schema the SQL connector reports for the demo tables.
fn demo_mappings() -> &'static [ResourceMapping] {
    static MAPPINGS: OnceLock<Vec<ResourceMapping>> = OnceLock::new();
    MAPPINGS.get_or_init(|| {
        let Ok(dir) = tempfile::tempdir() else {
            return Vec::new();
        };
        let file = dir.path().join("demo.toml");
        let text = include_str!("../corpus/connector_toml/demo.toml");
        let Ok(config) = std::fs::write(&file, text)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                ecmahost::config::ConnectorConfig::load(&file).map_err(|e| e.to_string())
            })
        else {
            return Vec::new();
        };
        use AttributeType::{Boolean, Reference, String as Text};
        let user = ObjectTypeSchema {
            name: "User".into(),
            anchor: vec!["Login".into()],
            attributes: [
                ("Login", Text),
                ("AzureID", Text),
                ("ExternalId", Text),
                ("FirstName", Text),
                ("LastName", Text),
                ("Email", Text),
                ("Department", Text),
                ("Manager", Reference),
                ("IsActive", Boolean),
            ]
            .into_iter()
            .map(|(n, t)| SchemaAttribute::single(n, t))
            .collect(),
        };
        let group = ObjectTypeSchema {
            name: "Group".into(),
            anchor: vec!["GroupName".into()],
            attributes: vec![
                SchemaAttribute::single("GroupName", Text),
                SchemaAttribute::single("ExternalId", Text),
                SchemaAttribute::single("Description", Text),
                SchemaAttribute::multi("Member", Reference),
            ],
        };
        let schema = Schema {
            object_types: vec![user, group],
        };
        config
            .resource_types
            .iter()
            .filter_map(|t| ResourceMapping::build("demo.toml", "", t, &schema).ok())
            .collect()
    })
}

/// References resolve to themselves: ids `a`, `b` and `alex` are known users.
struct KnownIds;

impl ReferenceResolver for KnownIds {
    fn to_scim(&self, value: &ecma_plugin_api::Value) -> Option<RefTarget> {
        let ecma_plugin_api::Value::Reference(id) = value else {
            return None;
        };
        Some(RefTarget {
            resource_type: "User".into(),
            endpoint: "Users".into(),
            id: id.clone(),
        })
    }
    fn to_connector(&self, id: &str, _: Option<&str>) -> Option<ecma_plugin_api::Value> {
        ["a", "b", "alex"]
            .contains(&id)
            .then(|| ecma_plugin_api::Value::Reference(id.to_string()))
    }
}

/// SCIM bodies to connector attributes through the demo's mappings, and what was read
/// rendered back as a resource.
pub fn mapping(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for mapping in demo_mappings() {
        let _ = ResourceMapping::is_deactivated(&body);
        let Ok((anchor, attributes)) = mapping.from_resource(&body, &KnownIds, None) else {
            continue;
        };
        let space = ConnectorSpace::new("AzureID");
        let anchor = ResourceMapping::anchor_string(&anchor);
        let dn = mapping.dn_for(&anchor, &attributes);
        let object = space.object(anchor, dn, attributes);
        let _ = mapping.to_resource(&object, "https://host/ecma2host_demo/scim", &KnownIds);
    }
}

/// LDAP DNs, DN templates and the escaping of values into DNs and filters.
pub fn ldap_dn(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        ecma_ldap::fuzzing::dn(text);
    }
}

/// Web services project files (TOML, with their validation) and WSDL 1.1 documents.
pub fn ws_project(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ecma_ws_project::parse(text, std::path::Path::new("fuzz.toml"));
    thread_local! {
        static DIR: Option<tempfile::TempDir> = tempfile::tempdir().ok();
    }
    DIR.with(|dir| {
        let Some(dir) = dir else { return };
        let file = dir.path().join("fuzz.wsdl");
        if std::fs::write(&file, data).is_ok() {
            if let Ok(services) = ecma_ws_project::wsdl::discover(&file) {
                let _ = ecma_ws_project::wsdl::render(&services);
            }
        }
    });
}

/// Microsoft's configuration exports: an ECMA2Host connector export and a MIM Export
/// Management Agent file, drafted into connector files.
pub fn ms_import(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ecmahost::cli::connector::transfer::fuzz_imports(text);
    }
}
