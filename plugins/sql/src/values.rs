//! Conversions between the plugin API's typed [`Value`]s and what the database stores.
//!
//! The schema's attribute type is the contract: export converts incoming values to it before
//! binding (a SCIM client may send `"true"` for a boolean column), and import reads stored
//! values back as it (SQLite keeps booleans as 0/1 and ignores most declared types).

use ecma_plugin_api::{AttributeType, Value};

use crate::sql::Bind;

/// A non-NULL value as the database returned it, before the schema's type is applied.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stored {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Stored {
    /// Bind this exact value again, e.g. as the keyset position of the next page.
    pub(crate) fn to_bind(&self) -> Bind {
        match self {
            Stored::Integer(i) => Bind::Integer(*i),
            Stored::Real(r) => Bind::Real(*r),
            Stored::Text(s) => Bind::Text(s.clone()),
            Stored::Blob(b) => Bind::Blob(b.clone()),
        }
    }
}

/// The attribute type a declared column type suggests.
///
/// Follows SQLite's affinity rules where they apply (any type containing `INT` is an integer),
/// and adds `BOOL*` because SQLite has no boolean storage class of its own.
pub(crate) fn discover_type(declared: &str) -> AttributeType {
    let declared = declared.trim().to_ascii_uppercase();
    if declared.starts_with("BOOL") {
        AttributeType::Boolean
    } else if declared.contains("INT") {
        AttributeType::Integer
    } else if declared.contains("BLOB") {
        AttributeType::Binary
    } else {
        AttributeType::String
    }
}

pub(crate) fn type_name(t: AttributeType) -> &'static str {
    match t {
        AttributeType::String => "String",
        AttributeType::Integer => "Integer",
        AttributeType::Boolean => "Boolean",
        AttributeType::Binary => "Binary",
        AttributeType::Reference => "Reference",
    }
}

/// The names [`type_name`] produces, in the order the schema page offers them.
pub(crate) const TYPE_NAMES: [&str; 5] = ["String", "Integer", "Boolean", "Binary", "Reference"];

pub(crate) fn parse_type_name(name: &str) -> Option<AttributeType> {
    Some(match name {
        "String" => AttributeType::String,
        "Integer" => AttributeType::Integer,
        "Boolean" => AttributeType::Boolean,
        "Binary" => AttributeType::Binary,
        "Reference" => AttributeType::Reference,
        _ => return None,
    })
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") || text == "1" {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") || text == "0" {
        Some(false)
    } else {
        None
    }
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Boolean(_) => "a boolean",
        Value::Binary(_) => "binary data",
        Value::Reference(_) => "a reference",
    }
}

/// Bind `value` for a column of type `target`, converting where the meaning is unambiguous.
///
/// The error says what was expected and what arrived, never the value itself: attribute
/// values can be personal data.
pub(crate) fn to_bind(value: &Value, target: AttributeType) -> Result<Bind, String> {
    let mismatch = || format!("expects {}, got {}", expected(target), value_kind(value));
    Ok(match (target, value) {
        (
            AttributeType::String | AttributeType::Reference,
            Value::String(s) | Value::Reference(s),
        ) => Bind::Text(s.clone()),
        (AttributeType::String | AttributeType::Reference, Value::Integer(i)) => {
            Bind::Text(i.to_string())
        }
        (AttributeType::String | AttributeType::Reference, Value::Boolean(b)) => {
            Bind::Text(b.to_string())
        }
        (AttributeType::Integer, Value::Integer(i)) => Bind::Integer(*i),
        (AttributeType::Integer, Value::Boolean(b)) => Bind::Integer(i64::from(*b)),
        (AttributeType::Integer, Value::String(s) | Value::Reference(s)) => Bind::Integer(
            s.trim()
                .parse()
                .map_err(|_| "expects an integer, got a string that is not one".to_string())?,
        ),
        (AttributeType::Boolean, Value::Boolean(b)) => Bind::Boolean(*b),
        (AttributeType::Boolean, Value::Integer(0)) => Bind::Boolean(false),
        (AttributeType::Boolean, Value::Integer(1)) => Bind::Boolean(true),
        (AttributeType::Boolean, Value::String(s) | Value::Reference(s)) => {
            Bind::Boolean(parse_bool(s).ok_or_else(|| {
                "expects a boolean (true/false/1/0), got another string".to_string()
            })?)
        }
        (AttributeType::Binary, Value::Binary(b)) => Bind::Blob(b.clone()),
        _ => return Err(mismatch()),
    })
}

fn expected(t: AttributeType) -> &'static str {
    match t {
        AttributeType::String => "a string",
        AttributeType::Integer => "an integer",
        AttributeType::Boolean => "a boolean",
        AttributeType::Binary => "binary data",
        AttributeType::Reference => "a reference",
    }
}

/// Read a stored value as `target`.
pub(crate) fn from_stored(stored: Stored, target: AttributeType) -> Result<Value, String> {
    let text = |stored: Stored| match stored {
        Stored::Integer(i) => i.to_string(),
        Stored::Real(r) => r.to_string(),
        Stored::Text(s) => s,
        Stored::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
    };
    Ok(match target {
        AttributeType::String => Value::String(text(stored)),
        AttributeType::Reference => Value::Reference(text(stored)),
        AttributeType::Integer => Value::Integer(match stored {
            Stored::Integer(i) => i,
            // The range check keeps the cast exact.
            Stored::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => r as i64,
            Stored::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| "holds text that is not an integer".to_string())?,
            _ => return Err("holds a value that is not an integer".into()),
        }),
        AttributeType::Boolean => Value::Boolean(match stored {
            Stored::Integer(i) => i != 0,
            Stored::Real(r) => r != 0.0,
            Stored::Text(s) => {
                parse_bool(&s).ok_or_else(|| "holds text that is not a boolean".to_string())?
            }
            Stored::Blob(_) => return Err("holds binary data, not a boolean".into()),
        }),
        AttributeType::Binary => Value::Binary(match stored {
            Stored::Blob(b) => b,
            Stored::Text(s) => s.into_bytes(),
            _ => return Err("holds a number, not binary data".into()),
        }),
    })
}

/// The text form of an anchor value, used as identifier and DN of imported objects.
pub(crate) fn anchor_text(value: &Value) -> String {
    match value {
        Value::Binary(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_attribute_types() {
        assert_eq!(discover_type("INTEGER"), AttributeType::Integer);
        assert_eq!(discover_type("bigint"), AttributeType::Integer);
        assert_eq!(discover_type("BOOLEAN"), AttributeType::Boolean);
        assert_eq!(discover_type("bool"), AttributeType::Boolean);
        assert_eq!(discover_type("BLOB"), AttributeType::Binary);
        assert_eq!(discover_type("TEXT"), AttributeType::String);
        assert_eq!(discover_type("VARCHAR(20)"), AttributeType::String);
        assert_eq!(discover_type(""), AttributeType::String);
    }

    #[test]
    fn export_conversions() {
        use AttributeType as T;
        assert_eq!(
            to_bind(&Value::String("True".into()), T::Boolean),
            Ok(Bind::Boolean(true))
        );
        assert_eq!(
            to_bind(&Value::String("0".into()), T::Boolean),
            Ok(Bind::Boolean(false))
        );
        assert!(to_bind(&Value::String("yes please".into()), T::Boolean).is_err());
        assert_eq!(
            to_bind(&Value::String(" 42 ".into()), T::Integer),
            Ok(Bind::Integer(42))
        );
        assert!(to_bind(&Value::String("4x".into()), T::Integer).is_err());
        assert_eq!(
            to_bind(&Value::Integer(7), T::String),
            Ok(Bind::Text("7".into()))
        );
        assert!(to_bind(&Value::Binary(vec![1]), T::String).is_err());
        assert!(to_bind(&Value::String("AQ==".into()), T::Binary).is_err());
        let err = to_bind(&Value::String("secret-ish".into()), T::Integer).unwrap_err();
        assert!(!err.contains("secret-ish"));
    }

    #[test]
    fn import_conversions() {
        use AttributeType as T;
        assert_eq!(
            from_stored(Stored::Integer(1), T::Boolean),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            from_stored(Stored::Integer(0), T::Boolean),
            Ok(Value::Boolean(false))
        );
        assert_eq!(
            from_stored(Stored::Integer(5), T::String),
            Ok(Value::String("5".into()))
        );
        assert_eq!(
            from_stored(Stored::Text("12".into()), T::Integer),
            Ok(Value::Integer(12))
        );
        assert_eq!(
            from_stored(Stored::Blob(vec![0, 1]), T::Binary),
            Ok(Value::Binary(vec![0, 1]))
        );
        assert!(from_stored(Stored::Text("x".into()), T::Integer).is_err());
        assert_eq!(anchor_text(&Value::Binary(vec![0xab, 1])), "ab01");
    }
}
