//! JSON Pointers (RFC 6901) into responses, with one addition: a `*` segment maps the rest of
//! the pointer over every element of an array (`/emails/*/value`).

use serde_json::Value as Json;

/// The value at `pointer` in `value`; `Null` when absent.
pub(crate) fn select(value: &Json, pointer: &str) -> Json {
    if pointer.is_empty() || pointer == "/" && !value.is_object() {
        return value.clone();
    }
    let segments: Vec<String> = pointer
        .strip_prefix('/')
        .unwrap_or(pointer)
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    walk(value, &segments)
}

fn walk(value: &Json, segments: &[String]) -> Json {
    let Some((first, rest)) = segments.split_first() else {
        return value.clone();
    };
    match (first.as_str(), value) {
        ("*", Json::Array(items)) => Json::Array(
            items
                .iter()
                .map(|item| walk(item, rest))
                .filter(|v| !v.is_null())
                .collect(),
        ),
        (key, Json::Object(map)) => map.get(key).map_or(Json::Null, |v| walk(v, rest)),
        (index, Json::Array(items)) => index
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .map_or(Json::Null, |v| walk(v, rest)),
        _ => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_and_wildcards() {
        let v =
            json!({"items": [{"id": "a", "emails": [{"value": "x"}, {"value": "y"}]}], "a/b": 1});
        assert_eq!(select(&v, "/items/0/id"), json!("a"));
        assert_eq!(select(&v, "/items/0/emails/*/value"), json!(["x", "y"]));
        assert_eq!(select(&v, "/items/*/id"), json!(["a"]));
        assert_eq!(select(&v, "/a~1b"), json!(1));
        assert_eq!(select(&v, "/missing/x"), Json::Null);
        assert_eq!(select(&v, ""), v);
    }
}
