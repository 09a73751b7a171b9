//! List and search parameters (RFC 7644 §3.4.2.3-§3.4.2.5, §3.4.3, §3.9): `attributes` and
//! `excludedAttributes` projection, `sortBy`/`sortOrder`, and the `.search` request body.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::filter::{comparable_values, lookup_attr, AttrPath, FilterError};
use crate::json::{get_ci, remove_ci, set_ci};
use crate::wire::SCHEMA_SEARCH_REQUEST;

/// Attributes returned whatever `attributes`/`excludedAttributes` say.
const ALWAYS: [&str; 2] = ["id", "schemas"];

/// Parse a comma-separated `attributes` / `excludedAttributes` value.
pub fn parse_attribute_list(list: &str) -> Result<Vec<AttrPath>, FilterError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(AttrPath::parse)
        .collect()
}

/// The resource reduced to `attributes` (when not empty) and without `excluded`.
pub fn project(resource: &Value, attributes: &[AttrPath], excluded: &[AttrPath]) -> Value {
    let Value::Object(source) = resource else {
        return resource.clone();
    };
    let mut out = if attributes.is_empty() {
        source.clone()
    } else {
        let mut picked = Map::new();
        for key in ALWAYS {
            if let Some(v) = get_ci(source, key) {
                picked.insert(key.to_string(), v.clone());
            }
        }
        for path in attributes {
            copy_path(source, &mut picked, path);
        }
        picked
    };
    for path in excluded {
        if ALWAYS
            .iter()
            .any(|a| path.urn.is_none() && path.name.eq_ignore_ascii_case(a))
        {
            continue;
        }
        remove_path(&mut out, path);
    }
    Value::Object(out)
}

/// The object that holds `path.name`: the extension object for an extension URN the resource
/// has, else the resource itself (core attributes are top-level).
fn container_key<'a>(source: &'a Map<String, Value>, path: &AttrPath) -> Option<&'a str> {
    let urn = path.urn.as_deref()?;
    source
        .keys()
        .find(|k| k.eq_ignore_ascii_case(urn) && source[k.as_str()].is_object())
        .map(String::as_str)
}

/// A path that names a whole extension object (`urn:...:ECMA2Host:2.0:User`): the parser reads
/// its last segment as an attribute name, so rebuild the URN and look for it as a key.
fn whole_extension_key(source: &Map<String, Value>, path: &AttrPath) -> Option<String> {
    let urn = path.urn.as_deref()?;
    if path.sub_attr.is_some() {
        return None;
    }
    let full = format!("{urn}:{}", path.name);
    source
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&full) && source[k.as_str()].is_object())
        .cloned()
}

fn copy_path(source: &Map<String, Value>, target: &mut Map<String, Value>, path: &AttrPath) {
    if let Some(key) = whole_extension_key(source, path) {
        target.insert(key.clone(), source[key.as_str()].clone());
        return;
    }
    let (from, to) = match container_key(source, path) {
        Some(key) => {
            let Some(Value::Object(ext)) = source.get(key) else {
                return;
            };
            let entry = target
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(to) = entry else { return };
            (ext, to)
        }
        None => (source, target),
    };
    let Some(value) = get_ci(from, &path.name) else {
        return;
    };
    let name = from
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&path.name))
        .cloned()
        .unwrap_or_else(|| path.name.clone());
    match (&path.sub_attr, value) {
        (None, v) => {
            to.insert(name, v.clone());
        }
        (Some(sub), Value::Object(complex)) => {
            if let Some(v) = get_ci(complex, sub) {
                let entry = to.entry(name).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(parent) = entry {
                    set_ci(parent, sub, v.clone());
                }
            }
        }
        (Some(sub), Value::Array(items)) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(|i| {
                    i.as_object().and_then(|m| get_ci(m, sub)).map(|v| {
                        let mut one = Map::new();
                        one.insert(sub.clone(), v.clone());
                        Value::Object(one)
                    })
                })
                .collect();
            to.insert(name, Value::Array(picked));
        }
        _ => {}
    }
}

fn remove_path(target: &mut Map<String, Value>, path: &AttrPath) {
    if let Some(key) = whole_extension_key(target, path) {
        target.remove(&key);
        return;
    }
    let container = match container_key(target, path).map(str::to_string) {
        Some(key) => match target.get_mut(&key) {
            Some(Value::Object(ext)) => ext,
            _ => return,
        },
        None => target,
    };
    match &path.sub_attr {
        None => {
            remove_ci(container, &path.name);
        }
        Some(sub) => match container
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&path.name))
            .map(|(_, v)| v)
        {
            Some(Value::Object(complex)) => {
                remove_ci(complex, sub);
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(m) = item {
                        remove_ci(m, sub);
                    }
                }
            }
            _ => {}
        },
    }
}

/// The value a resource sorts by for `sortBy` (the first, for multi-valued attributes).
pub fn sort_value<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    comparable_values(resource, path)
        .into_iter()
        .find(|v| !v.is_null())
        .or_else(|| lookup_attr(resource, path).filter(|v| !v.is_null() && !v.is_array()))
}

/// Ascending order of two sort values: strings ignoring case, numbers numerically, booleans
/// false before true; resources without a value sort last (RFC 7644 §3.4.2.3).
pub fn compare_sort_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => text(x).to_lowercase().cmp(&text(y).to_lowercase()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The body of `POST .search`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    pub filter: Option<String>,
    #[serde(default)]
    pub attributes: Vec<String>,
    #[serde(default)]
    pub excluded_attributes: Vec<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
}

impl SearchRequest {
    /// Parse and check the `schemas` member.
    pub fn parse(body: &Value) -> Result<Self, String> {
        let request: SearchRequest = serde_json::from_value(body.clone())
            .map_err(|e| format!("not a SearchRequest: {e}"))?;
        if !request
            .schemas
            .iter()
            .any(|s| s.eq_ignore_ascii_case(SCHEMA_SEARCH_REQUEST))
        {
            return Err(format!("schemas must contain {SCHEMA_SEARCH_REQUEST}"));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
            "id": "a", "userName": "alice", "active": true,
            "name": {"givenName": "Alice", "familyName": "A"},
            "emails": [{"type": "work", "value": "a@x"}],
            EXT: {"Department": "Sales", "Dept.Code": "S1"},
            "meta": {"resourceType": "User"}
        })
    }

    fn paths(s: &str) -> Vec<AttrPath> {
        parse_attribute_list(s).unwrap()
    }

    #[test]
    fn attributes_keep_id_schemas_and_the_named_ones() {
        let p = project(
            &user(),
            &paths(&format!("userName, name.givenName, {EXT}:Dept.Code")),
            &[],
        );
        assert_eq!(
            p,
            json!({"schemas": user()["schemas"], "id": "a", "userName": "alice", "name": {"givenName": "Alice"}, EXT: {"Dept.Code": "S1"}})
        );
    }

    #[test]
    fn excluded_attributes_drop_but_never_id() {
        let p = project(
            &user(),
            &[],
            &paths(&format!("id, emails, name.familyName, {EXT}:Department")),
        );
        assert_eq!(p["id"], "a");
        assert!(p.get("emails").is_none());
        assert_eq!(p["name"], json!({"givenName": "Alice"}));
        assert_eq!(p[EXT], json!({"Dept.Code": "S1"}));
    }

    #[test]
    fn a_whole_extension_can_be_named() {
        let p = project(&user(), &[], &paths(EXT));
        assert!(p.get(EXT).is_none());
        let p = project(&user(), &paths(EXT), &[]);
        assert_eq!(p[EXT], user()[EXT]);
    }

    #[test]
    fn sort_values_order_case_insensitively_with_missing_last() {
        let a = json!({"userName": "bob"});
        let b = json!({"userName": "Alice"});
        let none = json!({});
        let path = AttrPath::parse("userName").unwrap();
        assert_eq!(
            compare_sort_values(sort_value(&b, &path), sort_value(&a, &path)),
            Ordering::Less
        );
        assert_eq!(
            compare_sort_values(sort_value(&none, &path), sort_value(&a, &path)),
            Ordering::Greater
        );
        let email = AttrPath::parse("emails.value").unwrap();
        assert_eq!(sort_value(&user(), &email), Some(&json!("a@x")));
    }

    #[test]
    fn search_request_needs_its_schema() {
        assert!(SearchRequest::parse(&json!({"filter": "userName eq \"a\""})).is_err());
        let r = SearchRequest::parse(&json!({"schemas": [SCHEMA_SEARCH_REQUEST], "filter": "x pr", "startIndex": 2, "sortOrder": "descending"})).unwrap();
        assert_eq!(r.start_index, Some(2));
        assert_eq!(r.sort_order.as_deref(), Some("descending"));
    }
}
