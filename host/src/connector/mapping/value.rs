//! Value conversion between SCIM JSON and connector values, and JSON lookups.

use super::*;

/// Case-insensitive member lookup.
pub fn get_ci<'a>(object: &'a Json, key: &str) -> Option<&'a Json> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::String(s) | Value::Reference(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Binary(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

/// Convert a JSON value to the connector's type, accepting the string forms IdPs send.
pub fn json_to_value(
    json: &Json,
    attribute_type: AttributeType,
    name: &str,
) -> Result<Value, MappingError> {
    let wrong = |expected: &str| {
        MappingError::InvalidValue(format!("{name}: expected {expected}, got {json}"))
    };
    Ok(match attribute_type {
        AttributeType::String => match json {
            Json::String(s) => Value::String(s.clone()),
            Json::Number(n) => Value::String(n.to_string()),
            Json::Bool(b) => Value::String(b.to_string()),
            _ => return Err(wrong("a string")),
        },
        AttributeType::Reference => match json {
            Json::String(s) => Value::Reference(s.clone()),
            _ => return Err(wrong("a reference (string)")),
        },
        AttributeType::Integer => match json {
            Json::Number(n) => Value::Integer(n.as_i64().ok_or_else(|| wrong("an integer"))?),
            Json::String(s) => Value::Integer(s.trim().parse().map_err(|_| wrong("an integer"))?),
            _ => return Err(wrong("an integer")),
        },
        AttributeType::Boolean => match json {
            Json::Bool(b) => Value::Boolean(*b),
            Json::String(s) if s.eq_ignore_ascii_case("true") => Value::Boolean(true),
            Json::String(s) if s.eq_ignore_ascii_case("false") => Value::Boolean(false),
            _ => return Err(wrong("a boolean")),
        },
        AttributeType::Binary => match json {
            Json::String(s) => {
                Value::Binary(decode_base64(s).ok_or_else(|| wrong("base64 binary"))?)
            }
            _ => return Err(wrong("base64 binary")),
        },
    })
}

/// Base64 in either alphabet, padded or not: SCIM binary values are standard base64, and a
/// binary anchor's id (which the anchor's SCIM attribute shows) is unpadded base64url. The
/// alphabets differ only in `+/` versus `-_`, so no text decodes differently in the two.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

/// The value at a SCIM attribute path (`password`, or `urn:...:User:InitialPassword`), if the
/// resource carries a string there.
pub fn string_at<'a>(resource: &'a Json, path: &str) -> Option<&'a str> {
    let parsed = AttrPath::parse(path).ok()?;
    let holder = match &parsed.urn {
        Some(urn) => get_ci(resource, urn)
            .filter(|v| v.is_object())
            .unwrap_or(resource),
        None => resource,
    };
    let value = get_ci(holder, &parsed.name)?;
    match &parsed.sub_attr {
        Some(sub) => get_ci(value, sub)?.as_str(),
        None => value.as_str(),
    }
}

/// Characters an id keeps in a URL path segment: RFC 3986's unreserved set.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode an id for use as a URL path segment.
pub fn percent_encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}
