//! Attribute values between the connector space and JSON: an entry change as the object a
//! flow sees (`{attr.NAME}` is a scalar, an array when multi-valued, null when absent), and
//! JSON from a response as typed values of an imported entry.

use std::collections::BTreeMap;

use base64::Engine as _;
use ecma_plugin_api::{AttributeModification, CsEntryChange, Value};
use ecma_ws_project::{AttributeType, ObjectType};
use serde_json::Value as Json;

use crate::error::WsError;

/// The object an export or password flow works on.
#[derive(Clone, Debug, Default)]
pub(crate) struct FlowObject {
    pub dn: String,
    /// Anchor attributes in the object type's order.
    pub anchor: Vec<(String, Json)>,
    pub attributes: BTreeMap<String, Json>,
}

pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::String(s) | Value::Reference(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Binary(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

impl FlowObject {
    /// The object of an entry change: its anchor, DN and the values its changes set.
    pub(crate) fn from_entry(t: &ObjectType, entry: &CsEntryChange) -> Result<Self, WsError> {
        let mut attributes = BTreeMap::new();
        for change in &entry.changes {
            let multi = t.attribute(&change.name).is_some_and(|a| a.multi_valued);
            let value = match change.modification {
                AttributeModification::Add | AttributeModification::Replace => {
                    let values: Vec<Json> = change.added_values().map(to_json).collect();
                    if multi {
                        Json::Array(values)
                    } else {
                        values.into_iter().next().unwrap_or(Json::Null)
                    }
                }
                AttributeModification::Delete => Json::Null,
                AttributeModification::Update => {
                    return Err(WsError::Flow(format!(
                        "a value-level update of '{}' reached the connector, which exports whole objects (ObjectReplace)",
                        change.name
                    )))
                }
            };
            attributes.insert(change.name.clone(), value);
        }
        let anchor: Vec<(String, Json)> = entry
            .anchor
            .iter()
            .map(|a| (a.name.clone(), to_json(&a.value)))
            .collect();
        for (name, value) in &anchor {
            attributes
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        Ok(Self {
            dn: entry.dn.clone(),
            anchor,
            attributes,
        })
    }
}

/// Typed values of `attribute` from JSON: an array gives one value per element, null none.
pub(crate) fn from_json(
    json: &Json,
    value_type: AttributeType,
    attribute: &str,
) -> Result<Vec<Value>, WsError> {
    let one = |json: &Json| -> Result<Option<Value>, WsError> {
        let wrong = || {
            WsError::Flow(format!(
                "the service's value {json} for '{attribute}' is not a {value_type:?}"
            ))
        };
        Ok(Some(match (value_type, json) {
            (_, Json::Null) => return Ok(None),
            (AttributeType::String, Json::String(s)) => Value::String(s.clone()),
            (AttributeType::String, Json::Number(_) | Json::Bool(_)) => {
                Value::String(json.to_string())
            }
            (AttributeType::Reference, Json::String(s)) => Value::Reference(s.clone()),
            (AttributeType::Reference, Json::Number(n)) => Value::Reference(n.to_string()),
            (AttributeType::Integer, Json::Number(n)) => {
                Value::Integer(n.as_i64().ok_or_else(wrong)?)
            }
            (AttributeType::Integer, Json::String(s)) => {
                Value::Integer(s.trim().parse().map_err(|_| wrong())?)
            }
            (AttributeType::Boolean, Json::Bool(b)) => Value::Boolean(*b),
            (AttributeType::Boolean, Json::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                _ => return Err(wrong()),
            },
            (AttributeType::Binary, Json::String(s)) => Value::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| wrong())?,
            ),
            _ => return Err(wrong()),
        }))
    };
    match json {
        Json::Array(items) => items
            .iter()
            .filter_map(|item| one(item).transpose())
            .collect(),
        other => Ok(one(other)?.into_iter().collect()),
    }
}

/// A JSON value as text: strings as they are, null empty, anything else as JSON.
pub(crate) fn text(json: &Json) -> String {
    match json {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Null, an empty string and an empty array are "empty".
pub(crate) fn is_empty(json: &Json) -> bool {
    match json {
        Json::Null => true,
        Json::String(s) => s.is_empty(),
        Json::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_to_typed_values() {
        assert_eq!(
            from_json(&json!(["a", "b"]), AttributeType::String, "x").unwrap(),
            vec![Value::String("a".into()), Value::String("b".into())]
        );
        assert_eq!(
            from_json(&json!("12"), AttributeType::Integer, "x").unwrap(),
            vec![Value::Integer(12)]
        );
        assert_eq!(
            from_json(&json!("True"), AttributeType::Boolean, "x").unwrap(),
            vec![Value::Boolean(true)]
        );
        assert!(from_json(&Json::Null, AttributeType::String, "x")
            .unwrap()
            .is_empty());
        let e = from_json(&json!({"a": 1}), AttributeType::Integer, "age").unwrap_err();
        assert!(e.to_string().contains("'age'"), "{e}");
    }
}
