//! Limits on what a SCIM body may carry, checked before anything is mapped or exported: no
//! string value longer than `limits.max_value_bytes`, no NUL anywhere, and no control character
//! in an identifier (`id`, `userName`, `externalId`, `displayName`, a reference's `value`),
//! whether it is set directly or by a PATCH operation's `path`.

use serde_json::Value as Json;

use super::error::ApiError;

/// Attributes that name an object; control characters there would make ids, DNs and URLs that
/// no one can type or read back.
const IDENTIFIERS: [&str; 4] = ["id", "userName", "externalId", "displayName"];

/// Reference attributes whose `value` is an id.
const REFERENCES: [&str; 2] = ["members", "manager"];

fn is_identifier(name: &str) -> bool {
    // Extension attributes are written `urn:...:User:attribute`; the last part is the name.
    let last = name.rsplit(':').next().unwrap_or(name);
    IDENTIFIERS.iter().any(|i| i.eq_ignore_ascii_case(last))
}

fn is_reference(name: &str) -> bool {
    let last = name.rsplit(':').next().unwrap_or(name);
    REFERENCES.iter().any(|r| r.eq_ignore_ascii_case(last))
}

/// Check every string in `body` against the limits.
pub fn check_body(body: &Json, max_value_bytes: usize) -> Result<(), ApiError> {
    walk(body, "", false, max_value_bytes)
}

fn walk(value: &Json, path: &str, identifier: bool, max: usize) -> Result<(), ApiError> {
    match value {
        Json::String(s) => check_string(s, path, identifier, max),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, &format!("{path}[{i}]"), identifier, max)),
        Json::Object(map) => {
            // A PATCH operation (or a Bulk one) names its target in `path`.
            let patched = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, v)| v.as_str())
                .map(|p| p.split(['[', '.']).next().unwrap_or(p).to_string());
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let child_is_identifier = is_identifier(key)
                    || (key.eq_ignore_ascii_case("value")
                        && (identifier
                            || patched
                                .as_deref()
                                .is_some_and(|p| is_identifier(p) || is_reference(p))))
                    || (is_reference(key) && !child.is_string())
                    || (identifier && child.is_object());
                walk(child, &child_path, child_is_identifier, max)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_string(s: &str, path: &str, identifier: bool, max: usize) -> Result<(), ApiError> {
    if s.len() > max {
        return Err(ApiError::InvalidRequest(format!(
            "attribute `{path}`: the value is {} bytes; the limit is {max} bytes (`limits.max_value_bytes`)",
            s.len()
        )));
    }
    if s.contains('\0') {
        return Err(ApiError::InvalidRequest(format!(
            "attribute `{path}`: the value contains a NUL character, which no value may contain"
        )));
    }
    if identifier {
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(ApiError::InvalidRequest(format!(
                "attribute `{path}`: identifiers may not contain control characters (found U+{:04X})",
                u32::from(c)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(body: Json, max: usize) -> Option<String> {
        check_body(&body, max).err().map(|e| e.to_string())
    }

    #[test]
    fn long_values_nul_and_control_characters_in_identifiers_are_refused() {
        assert_eq!(detail(json!({"userName": "ok", "title": "a\nb"}), 10), None);
        assert_eq!(
            detail(json!({"emails": [{"value": "x".repeat(11)}]}), 10).unwrap(),
            "attribute `emails[0].value`: the value is 11 bytes; the limit is 10 bytes (`limits.max_value_bytes`)"
        );
        assert!(detail(json!({"title": "a\u{0}b"}), 10)
            .unwrap()
            .contains("`title`"));
        assert_eq!(
            detail(json!({"userName": "a\tb"}), 10).unwrap(),
            "attribute `userName`: identifiers may not contain control characters (found U+0009)"
        );
        let ext = json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m\u{1}"}}});
        assert!(detail(ext, 10).unwrap().contains("manager.value"));
        let members = json!({"members": [{"value": "a\u{7f}"}]});
        assert!(detail(members, 10).unwrap().contains("members[0].value"));
    }

    #[test]
    fn patch_operations_are_checked_by_their_path() {
        let patch = |path: &str, value: Json| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": path, "value": value}]})
        };
        assert!(detail(patch("userName", json!("a\rb")), 50).is_some());
        assert!(detail(patch("members", json!([{"value": "a\u{1b}"}])), 50).is_some());
        assert_eq!(detail(patch("title", json!("a\nb")), 50), None);
        assert!(detail(patch("title", json!("x".repeat(51))), 50).is_some());
        assert!(detail(
            json!({"Operations": [{"op": "add", "value": {"userName": "a\u{1}"}}]}),
            10
        )
        .is_some());
    }
}
