//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries (`fuzz_targets/`) and the
//! stable regression test that replays `fuzz/corpus/` (the integration binary's
//! `fuzz_corpus` module). Each one feeds arbitrary bytes to a parser the host runs on
//! untrusted input, then uses what it parsed; the only failure is a panic.

use ecma_scim::query::{parse_attribute_list, project, SearchRequest};
use ecma_scim::{apply_patch, parse_filter, parse_patch, AttrPath};
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
