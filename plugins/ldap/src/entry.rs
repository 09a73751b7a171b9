//! Directory entries and connector values: a search entry as an import entry change, and a
//! connector value as the bytes LDAP sends.

use std::collections::HashMap;

use base64::Engine;
use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, AttributeType, CsEntryChange,
    ObjectModification, ObjectTypeSchema, Value,
};
use ldap3::SearchEntry;

use crate::settings::DN_ANCHOR;

/// The bytes of a value as LDAP carries it.
pub(crate) fn to_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) | Value::Reference(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Boolean(b) => {
            if *b {
                b"TRUE".to_vec()
            } else {
                b"FALSE".to_vec()
            }
        }
        Value::Binary(b) => b.clone(),
    }
}

/// A value read from the directory, as the schema types it. `None` drops it (an integer
/// that is not one, the empty DN placeholder of an otherwise empty group).
pub(crate) fn from_bytes(bytes: &[u8], attribute_type: AttributeType) -> Option<Value> {
    let text = || std::str::from_utf8(bytes).ok().map(str::to_string);
    match attribute_type {
        AttributeType::Binary => Some(Value::Binary(bytes.to_vec())),
        AttributeType::Integer => text()?.trim().parse().ok().map(Value::Integer),
        AttributeType::Boolean => match text()?.trim().to_ascii_uppercase().as_str() {
            "TRUE" => Some(Value::Boolean(true)),
            "FALSE" => Some(Value::Boolean(false)),
            _ => None,
        },
        AttributeType::Reference => text().filter(|s| !s.is_empty()).map(Value::Reference),
        AttributeType::String => {
            Some(Value::String(text().unwrap_or_else(|| {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            })))
        }
    }
}

/// An entry's values by attribute name (case-insensitive), as bytes whatever ldap3 decoded.
pub(crate) struct RawEntry {
    pub dn: String,
    values: HashMap<String, (String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    pub(crate) fn new(entry: SearchEntry) -> Self {
        let mut values: HashMap<String, (String, Vec<Vec<u8>>)> = HashMap::new();
        for (name, vals) in entry.attrs {
            let slot = values
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| (name.clone(), Vec::new()));
            slot.1.extend(vals.into_iter().map(String::into_bytes));
        }
        for (name, vals) in entry.bin_attrs {
            let slot = values
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| (name.clone(), Vec::new()));
            slot.1.extend(vals);
        }
        Self {
            dn: entry.dn,
            values,
        }
    }

    pub(crate) fn get(&self, name: &str) -> &[Vec<u8>] {
        self.values
            .get(&name.to_ascii_lowercase())
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    pub(crate) fn first_text(&self, name: &str) -> Option<String> {
        self.get(name)
            .first()
            .and_then(|b| String::from_utf8(b.clone()).ok())
    }

    /// The entry's object classes, lower-cased.
    pub(crate) fn object_classes(&self) -> Vec<String> {
        self.get("objectClass")
            .iter()
            .filter_map(|b| std::str::from_utf8(b).ok())
            .map(str::to_ascii_lowercase)
            .collect()
    }
}

/// The anchor value of an entry: its DN, or the anchor attribute's first value typed as the
/// schema says.
pub(crate) fn anchor_value(entry: &RawEntry, schema: &ObjectTypeSchema) -> Option<AnchorAttribute> {
    let name = schema.anchor.first()?;
    if name == DN_ANCHOR {
        return Some(AnchorAttribute {
            name: name.clone(),
            value: Value::String(entry.dn.clone()),
        });
    }
    let attribute_type = schema
        .attribute(name)
        .map(|a| a.attribute_type)
        .unwrap_or(AttributeType::String);
    let value = entry
        .get(name)
        .first()
        .and_then(|b| from_bytes(b, attribute_type))?;
    Some(AnchorAttribute {
        name: name.clone(),
        value,
    })
}

/// A full import entry change (`modification`: Add for full imports, Replace for deltas).
pub(crate) fn to_entry_change(
    entry: &RawEntry,
    schema: &ObjectTypeSchema,
    modification: ObjectModification,
) -> Option<CsEntryChange> {
    let anchor = anchor_value(entry, schema)?;
    let changes = schema
        .attributes
        .iter()
        .filter_map(|a| {
            let values: Vec<Value> = entry
                .get(&a.name)
                .iter()
                .filter_map(|b| from_bytes(b, a.attribute_type))
                .collect();
            (!values.is_empty())
                .then(|| AttributeChange::set(a.name.clone(), AttributeModification::Add, values))
        })
        .collect();
    Some(CsEntryChange {
        identifier: String::new(),
        object_type: schema.name.clone(),
        dn: entry.dn.clone(),
        modification,
        anchor: vec![anchor],
        changes,
    })
}

/// A delete for an import: the DN and, when known, the anchor.
pub(crate) fn delete_change(
    schema: &ObjectTypeSchema,
    dn: &str,
    anchor: Option<Value>,
) -> Option<CsEntryChange> {
    let name = schema.anchor.first()?.clone();
    let value = match anchor {
        Some(v) => v,
        None if name == DN_ANCHOR => Value::String(dn.to_string()),
        None => return None,
    };
    Some(CsEntryChange {
        identifier: String::new(),
        object_type: schema.name.clone(),
        dn: dn.to_string(),
        modification: ObjectModification::Delete,
        anchor: vec![AnchorAttribute { name, value }],
        changes: Vec::new(),
    })
}

/// A UUID as LDAP writes entryUUID (RFC 4530), from its 16 bytes.
pub(crate) fn uuid_text(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 {
        return None;
    }
    let h = hex::encode(bytes);
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_by_type() {
        assert_eq!(
            from_bytes(b"42", AttributeType::Integer),
            Some(Value::Integer(42))
        );
        assert_eq!(from_bytes(b"x", AttributeType::Integer), None);
        assert_eq!(
            from_bytes(b"TRUE", AttributeType::Boolean),
            Some(Value::Boolean(true))
        );
        assert_eq!(from_bytes(b"", AttributeType::Reference), None);
        assert_eq!(to_bytes(&Value::Boolean(false)), b"FALSE");
        assert_eq!(
            uuid_text(&[
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                0xde, 0xf0
            ])
            .unwrap(),
            "12345678-9abc-def0-1234-56789abcdef0"
        );
    }
}
