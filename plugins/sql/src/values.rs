//! Conversions between the plugin API's typed [`Value`]s and what the database stores.
//!
//! The schema's attribute type is the contract: export converts incoming values to it before
//! binding (a SCIM client may send `"true"` for a boolean column), and import reads stored
//! values back as it (SQLite keeps booleans as 0/1 and ignores most declared types). Date and
//! time values travel as text in the configured [`DateTimeFormat`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use ecma_plugin_api::{AttributeType, Value};

use crate::sql::Bind;

/// A non-NULL value as the database returned it, before the schema's type is applied.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stored {
    Integer(i64),
    Real(f64),
    Boolean(bool),
    Text(String),
    Blob(Vec<u8>),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Date(NaiveDate),
    Time(NaiveTime),
}

impl Stored {
    /// Bind this exact value again (a watermark, an anchor read back).
    pub(crate) fn to_bind(&self) -> Bind {
        match self {
            Stored::Integer(i) => Bind::Integer(*i),
            Stored::Real(r) => Bind::Real(*r),
            Stored::Boolean(b) => Bind::Boolean(*b),
            Stored::Text(s) => Bind::Text(s.clone()),
            Stored::Blob(b) => Bind::Blob(b.clone()),
            Stored::Timestamp(t) => Bind::Timestamp(*t),
            Stored::TimestampTz(t) => Bind::TimestampTz(*t),
            Stored::Date(d) => Bind::Date(*d),
            Stored::Time(t) => Bind::Time(*t),
        }
    }
}

/// How date and time values are written as text: a chrono `strftime` pattern (the "date-time
/// format" of the Global page). Imports format timestamps with it; exports parse text with it
/// before handing the value to the database in ISO form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DateTimeFormat(String);

impl Default for DateTimeFormat {
    fn default() -> Self {
        Self(DEFAULT_DATE_TIME_FORMAT.to_string())
    }
}

/// ISO 8601 with a space, and fractional seconds only when there are any.
pub(crate) const DEFAULT_DATE_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

impl DateTimeFormat {
    /// The pattern, or a message saying why chrono cannot use it.
    pub(crate) fn parse(pattern: &str) -> Result<Self, String> {
        use chrono::format::{Item, StrftimeItems};
        if pattern.trim().is_empty() {
            return Ok(Self::default());
        }
        if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
            return Err(format!(
                "'{pattern}' is not a valid strftime pattern (for example {DEFAULT_DATE_TIME_FORMAT})"
            ));
        }
        Ok(Self(pattern.to_string()))
    }

    pub(crate) fn format(&self, t: &NaiveDateTime) -> String {
        t.format(&self.0).to_string()
    }

    /// Text in this format (or RFC 3339) as a timestamp, if it is one.
    pub(crate) fn parse_timestamp(&self, text: &str) -> Option<NaiveDateTime> {
        let text = text.trim();
        NaiveDateTime::parse_from_str(text, &self.0)
            .ok()
            .or_else(|| {
                DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|t| t.naive_utc())
            })
            .or_else(|| NaiveDateTime::parse_from_str(text, DEFAULT_DATE_TIME_FORMAT).ok())
            .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok())
    }

    /// A timestamp value from the host, rewritten as ISO 8601 for the database; anything that
    /// does not parse is passed on for the database to judge.
    pub(crate) fn to_database(&self, text: &str) -> String {
        match self.parse_timestamp(text) {
            Some(t) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            None => text.to_string(),
        }
    }
}

/// The attribute type a declared column type suggests, for SQLite, PostgreSQL, MySQL and the
/// type names ODBC drivers report.
///
/// Follows SQLite's affinity rules where they apply (any type containing `INT` is an integer),
/// adds `BOOL*` (SQLite has no boolean storage class) and MySQL's `TINYINT(1)`/`BIT(1)`
/// convention for booleans, and keeps `INTERVAL` and `POINT` out of the integers.
pub(crate) fn discover_type(declared: &str) -> AttributeType {
    let declared = declared.trim().to_ascii_uppercase();
    if declared.starts_with("BOOL")
        || declared.starts_with("TINYINT(1)")
        || declared == "BIT"
        || declared.starts_with("BIT(1)")
    {
        AttributeType::Boolean
    } else if declared.contains("INT")
        && !declared.contains("INTERVAL")
        && !declared.contains("POINT")
    {
        AttributeType::Integer
    } else if declared.contains("BLOB") || declared.contains("BYTEA") || declared.contains("BINARY")
    {
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

/// [`parse_bool`], plus the spellings databases and ODBC drivers use for stored booleans.
fn parse_stored_bool(text: &str) -> Option<bool> {
    parse_bool(text).or_else(|| match text.trim().to_ascii_lowercase().as_str() {
        "t" | "y" | "yes" | "on" => Some(true),
        "f" | "n" | "no" | "off" => Some(false),
        _ => None,
    })
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

/// Read a stored value as `target`, writing dates and times in `format`.
pub(crate) fn from_stored(
    stored: Stored,
    target: AttributeType,
    format: &DateTimeFormat,
) -> Result<Value, String> {
    let text = |stored: Stored| match stored {
        Stored::Integer(i) => i.to_string(),
        Stored::Real(r) => r.to_string(),
        Stored::Boolean(b) => b.to_string(),
        Stored::Text(s) => s,
        Stored::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
        Stored::Timestamp(t) => format.format(&t),
        Stored::TimestampTz(t) => format.format(&t.naive_utc()),
        Stored::Date(d) => d.format("%Y-%m-%d").to_string(),
        Stored::Time(t) => t.format("%H:%M:%S%.f").to_string(),
    };
    Ok(match target {
        AttributeType::String => Value::String(text(stored)),
        AttributeType::Reference => Value::Reference(text(stored)),
        AttributeType::Integer => Value::Integer(match stored {
            Stored::Integer(i) => i,
            Stored::Boolean(b) => i64::from(b),
            // The range check keeps the cast exact.
            Stored::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => r as i64,
            Stored::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| "holds text that is not an integer".to_string())?,
            _ => return Err("holds a value that is not an integer".into()),
        }),
        AttributeType::Boolean => Value::Boolean(match stored {
            Stored::Boolean(b) => b,
            Stored::Integer(i) => i != 0,
            Stored::Real(r) => r != 0.0,
            Stored::Text(s) => parse_stored_bool(&s)
                .ok_or_else(|| "holds text that is not a boolean".to_string())?,
            Stored::Blob(b) if b.len() == 1 => b[0] != 0,
            _ => return Err("holds a value that is not a boolean".into()),
        }),
        AttributeType::Binary => Value::Binary(match stored {
            Stored::Blob(b) => b,
            Stored::Text(s) => s.into_bytes(),
            _ => return Err("holds a number or a date, not binary data".into()),
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

/// The identifier (and default DN) of an object with these anchor values: the one value's
/// [`anchor_text`], or for a multi-column anchor the components' texts joined with `+`, with
/// `\` and `+` inside a component escaped by a `\`, so that two anchors never read the same.
pub(crate) fn anchor_identifier<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let texts: Vec<String> = values.into_iter().map(anchor_text).collect();
    if texts.len() == 1 {
        return texts.into_iter().next().unwrap_or_default();
    }
    texts
        .iter()
        .map(|t| t.replace('\\', "\\\\").replace('+', "\\+"))
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_attribute_types() {
        assert_eq!(discover_type("INTEGER"), AttributeType::Integer);
        assert_eq!(discover_type("bigint"), AttributeType::Integer);
        assert_eq!(discover_type("int(11) unsigned"), AttributeType::Integer);
        assert_eq!(discover_type("BOOLEAN"), AttributeType::Boolean);
        assert_eq!(discover_type("bool"), AttributeType::Boolean);
        assert_eq!(discover_type("tinyint(1)"), AttributeType::Boolean);
        assert_eq!(discover_type("tinyint(4)"), AttributeType::Integer);
        assert_eq!(discover_type("BLOB"), AttributeType::Binary);
        assert_eq!(discover_type("bytea"), AttributeType::Binary);
        assert_eq!(discover_type("varbinary(16)"), AttributeType::Binary);
        assert_eq!(discover_type("TEXT"), AttributeType::String);
        assert_eq!(discover_type("VARCHAR(20)"), AttributeType::String);
        assert_eq!(discover_type("interval"), AttributeType::String);
        assert_eq!(
            discover_type("timestamp without time zone"),
            AttributeType::String
        );
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
        let f = DateTimeFormat::default();
        assert_eq!(
            from_stored(Stored::Integer(1), T::Boolean, &f),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            from_stored(Stored::Integer(0), T::Boolean, &f),
            Ok(Value::Boolean(false))
        );
        assert_eq!(
            from_stored(Stored::Text("t".into()), T::Boolean, &f),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            from_stored(Stored::Integer(5), T::String, &f),
            Ok(Value::String("5".into()))
        );
        assert_eq!(
            from_stored(Stored::Text("12".into()), T::Integer, &f),
            Ok(Value::Integer(12))
        );
        assert_eq!(
            from_stored(Stored::Blob(vec![0, 1]), T::Binary, &f),
            Ok(Value::Binary(vec![0, 1]))
        );
        assert!(from_stored(Stored::Text("x".into()), T::Integer, &f).is_err());
        assert_eq!(anchor_text(&Value::Binary(vec![0xab, 1])), "ab01");
        assert_eq!(anchor_identifier([&Value::Integer(7)]), "7");
        assert_eq!(
            anchor_identifier([&Value::String("a+b".into()), &Value::Integer(2)]),
            "a\\+b+2"
        );
        assert_ne!(
            anchor_identifier([&Value::String("a\\".into()), &Value::String("b".into())]),
            anchor_identifier([&Value::String("a".into()), &Value::String("\\b".into())])
        );
    }

    #[test]
    fn date_time_format() {
        let t = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_opt(13, 5, 9)
            .unwrap();
        let f = DateTimeFormat::default();
        assert_eq!(
            from_stored(Stored::Timestamp(t), AttributeType::String, &f),
            Ok(Value::String("2024-02-29 13:05:09".into()))
        );
        let custom = DateTimeFormat::parse("%d/%m/%Y %H:%M").unwrap();
        assert_eq!(custom.format(&t), "29/02/2024 13:05");
        assert_eq!(
            custom.to_database("29/02/2024 13:05"),
            "2024-02-29 13:05:00"
        );
        assert_eq!(
            custom.to_database("2024-02-29T13:05:09Z"),
            "2024-02-29 13:05:09"
        );
        assert_eq!(custom.to_database("not a date"), "not a date");
        assert!(DateTimeFormat::parse("%Q").is_err());
    }
}
