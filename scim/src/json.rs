//! Case-insensitive access to JSON object members and the URN tests shared by filters and PATCH.
//!
//! SCIM attribute names and schema URNs are case-insensitive (RFC 7643 §2.1, RFC 7644 §3.10),
//! but `serde_json::Map` is not. Every lookup of an attribute in a resource goes through these
//! helpers so that `username` finds the stored `userName` key and a write overwrites it instead of
//! adding a second key that differs only in case.

use serde_json::{Map, Value};

use crate::wire::ECMA_EXTENSION_PREFIX;

/// Prefix shared by the core schemas (User, Group, ...), whose attributes are top-level members of a
/// resource rather than members of an object keyed by the schema URN.
pub(crate) const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

/// Compares two attribute names or URNs ignoring case. The ASCII test comes first because
/// practically every SCIM name is ASCII and it needs no allocation.
pub(crate) fn names_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

pub(crate) fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

pub(crate) fn is_core_urn(urn: &str) -> bool {
    starts_with_ci(urn, CORE_SCHEMA_PREFIX)
}

pub(crate) fn is_ecma_urn(urn: &str) -> bool {
    starts_with_ci(urn, ECMA_EXTENSION_PREFIX)
}

/// The stored spelling of the key matching `name`: the exact key if present, otherwise the first key
/// equal ignoring case.
pub(crate) fn find_key<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    if let Some((key, _)) = map.get_key_value(name) {
        return Some(key.as_str());
    }
    map.keys()
        .find(|key| names_eq(key, name))
        .map(String::as_str)
}

pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| names_eq(key, name))
            .map(|(_, value)| value)
    })
}

pub(crate) fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = find_key(map, name)?.to_owned();
    map.get_mut(&key)
}

/// Writes `value` under the existing spelling of `name` if there is one, so the resource keeps a
/// single key per attribute.
pub(crate) fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    let key = find_key(map, name).unwrap_or(name).to_owned();
    map.insert(key, value);
}

pub(crate) fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = find_key(map, name)?.to_owned();
    map.remove(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookups_ignore_case_and_prefer_exact_keys() {
        let Value::Object(mut map) = json!({"userName": "a", "Title": "b"}) else {
            unreachable!()
        };
        assert_eq!(get_ci(&map, "USERNAME"), Some(&json!("a")));
        assert_eq!(find_key(&map, "title"), Some("Title"));
        set_ci(&mut map, "username", json!("c"));
        assert_eq!(map.len(), 2);
        assert_eq!(map["userName"], json!("c"));
        assert_eq!(remove_ci(&mut map, "TITLE"), Some(json!("b")));
        assert!(get_ci_mut(&mut map, "title").is_none());
        assert!(names_eq("Straße", "STRAßE"));
    }

    #[test]
    fn urn_classes() {
        assert!(is_core_urn("urn:ietf:params:scim:schemas:core:2.0:User"));
        assert!(is_core_urn("URN:IETF:params:scim:schemas:core:2.0:Group"));
        assert!(!is_core_urn(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ));
        assert!(is_ecma_urn(
            "urn:ietf:params:scim:schemas:extension:ecma2host:2.0:User"
        ));
        assert!(!starts_with_ci("urn", "urn:"));
    }
}
