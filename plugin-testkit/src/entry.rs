//! Builders for export entries, and readers for imported ones.
//!
//! ```
//! use ecma_plugin_api::{AttributeModification, ObjectModification};
//! use ecma_plugin_testkit::entry;
//!
//! let change = entry::update("User", "Id", "alice")
//!     .set("Email", "alice@example.com")
//!     .clear("Phone")
//!     .build();
//! assert_eq!(change.modification, ObjectModification::Update);
//! assert_eq!(change.identifier, "update-alice");
//! assert_eq!(change.change("Email").unwrap().modification, AttributeModification::Replace);
//! assert_eq!(change.change("Phone").unwrap().modification, AttributeModification::Delete);
//! ```
//!
//! Each entry gets the identifier `<modification>-<anchor>` and the DN the host generates
//! (`CN=<anchor>,OBJECT=<TYPE>`) unless the test sets others.

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, CsEntryChange, ObjectModification,
    PasswordTarget, Value, ValueChange, ValueModification,
};

/// Things a test writes as attribute values: `&str`, `String`, `i64`, `bool`, `Vec<u8>` or a
/// [`Value`]. Strings become [`Value::String`]; use `Value::Reference` explicitly.
pub trait IntoValue {
    fn into_value(self) -> Value;
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}
impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::String(self.to_string())
    }
}
impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::String(self)
    }
}
impl IntoValue for &String {
    fn into_value(self) -> Value {
        Value::String(self.clone())
    }
}
impl IntoValue for i64 {
    fn into_value(self) -> Value {
        Value::Integer(self)
    }
}
impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Boolean(self)
    }
}
impl IntoValue for Vec<u8> {
    fn into_value(self) -> Value {
        Value::Binary(self)
    }
}

/// One export entry under construction. Turn it into a [`CsEntryChange`] with
/// [`EntryBuilder::build`] or `.into()`; the harness's `export` takes builders directly.
#[derive(Clone, Debug)]
pub struct EntryBuilder {
    entry: CsEntryChange,
}

fn start(
    modification: ObjectModification,
    object_type: &str,
    anchor_name: &str,
    anchor_value: impl IntoValue,
) -> EntryBuilder {
    let value = anchor_value.into_value();
    let operation = match modification {
        ObjectModification::Add => "add",
        ObjectModification::Replace => "replace",
        ObjectModification::Update => "update",
        ObjectModification::Delete => "delete",
    };
    EntryBuilder {
        entry: CsEntryChange {
            identifier: format!("{operation}-{value}"),
            object_type: object_type.to_string(),
            dn: format!("CN={value},OBJECT={}", object_type.to_uppercase()),
            modification,
            anchor: vec![AnchorAttribute {
                name: anchor_name.to_string(),
                value,
            }],
            changes: Vec::new(),
        },
    }
}

/// A new object. Attributes set on it are attribute `Add`s.
pub fn add(object_type: &str, anchor_name: &str, anchor_value: impl IntoValue) -> EntryBuilder {
    start(
        ObjectModification::Add,
        object_type,
        anchor_name,
        anchor_value,
    )
}

/// The whole object, as an `ObjectReplace` connector receives it. Attributes set are `Replace`s.
pub fn replace(object_type: &str, anchor_name: &str, anchor_value: impl IntoValue) -> EntryBuilder {
    start(
        ObjectModification::Replace,
        object_type,
        anchor_name,
        anchor_value,
    )
}

/// Changed attributes only, as the host sends a PATCH. Attributes set are `Replace`s.
pub fn update(object_type: &str, anchor_name: &str, anchor_value: impl IntoValue) -> EntryBuilder {
    start(
        ObjectModification::Update,
        object_type,
        anchor_name,
        anchor_value,
    )
}

/// Remove the object.
pub fn delete(object_type: &str, anchor_name: &str, anchor_value: impl IntoValue) -> EntryBuilder {
    start(
        ObjectModification::Delete,
        object_type,
        anchor_name,
        anchor_value,
    )
}

impl EntryBuilder {
    /// How whole-attribute values are written on this kind of entry.
    fn set_modification(&self) -> AttributeModification {
        match self.entry.modification {
            ObjectModification::Add => AttributeModification::Add,
            _ => AttributeModification::Replace,
        }
    }

    /// Set a single-valued attribute.
    pub fn set(self, name: &str, value: impl IntoValue) -> Self {
        self.set_values(name, [value])
    }

    /// Set an attribute to exactly these values.
    pub fn set_values<V: IntoValue>(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let modification = self.set_modification();
        self.entry.changes.push(AttributeChange::set(
            name,
            modification,
            values.into_iter().map(IntoValue::into_value).collect(),
        ));
        self
    }

    /// Remove every value of an attribute.
    pub fn clear(mut self, name: &str) -> Self {
        self.entry.changes.push(AttributeChange::delete(name));
        self
    }

    /// Value-level changes on a multi-valued attribute (attribute modification `Update`).
    pub fn add_values<V: IntoValue>(self, name: &str, values: impl IntoIterator<Item = V>) -> Self {
        self.value_changes(name, ValueModification::Add, values)
    }

    /// Value-level removals on a multi-valued attribute (attribute modification `Update`).
    pub fn remove_values<V: IntoValue>(
        self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.value_changes(name, ValueModification::Delete, values)
    }

    fn value_changes<V: IntoValue>(
        mut self,
        name: &str,
        modification: ValueModification,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.entry.changes.push(AttributeChange {
            name: name.to_string(),
            modification: AttributeModification::Update,
            values: values
                .into_iter()
                .map(|v| ValueChange {
                    modification,
                    value: v.into_value(),
                })
                .collect(),
        });
        self
    }

    /// Rename: a new value for an anchor attribute, as the host sends it to a connector that
    /// declares `object_rename` (a `Replace` of that attribute; the entry's anchor stays the
    /// current one).
    ///
    /// ```
    /// use ecma_plugin_api::Value;
    /// use ecma_plugin_testkit::entry;
    ///
    /// let rename = entry::update("User", "Login", "alice").rename_to("Login", "alicia").build();
    /// assert_eq!(rename.anchor_value("Login"), Some(&Value::String("alice".into())));
    /// assert_eq!(rename.new_anchor_value("Login"), Some(&Value::String("alicia".into())));
    /// ```
    pub fn rename_to(mut self, anchor_name: &str, new_value: impl IntoValue) -> Self {
        self.entry.changes.push(AttributeChange::set(
            anchor_name,
            AttributeModification::Replace,
            vec![new_value.into_value()],
        ));
        self
    }

    /// Move: a new DN, carried by [`ecma_plugin_api::NEW_DN_ATTRIBUTE`] as the host sends it
    /// (the entry's `dn` stays the current one).
    ///
    /// ```
    /// use ecma_plugin_testkit::entry;
    ///
    /// let moved = entry::update("User", "Login", "alice")
    ///     .move_to("CN=alice,OU=Alumni,DC=contoso")
    ///     .build();
    /// assert_eq!(moved.new_dn(), Some("CN=alice,OU=Alumni,DC=contoso"));
    /// ```
    pub fn move_to(mut self, new_dn: &str) -> Self {
        self.entry.changes.push(AttributeChange::set(
            ecma_plugin_api::NEW_DN_ATTRIBUTE,
            AttributeModification::Replace,
            vec![Value::String(new_dn.to_string())],
        ));
        self
    }

    /// Replace the generated identifier (needed when one batch holds two changes to one object).
    pub fn identifier(mut self, identifier: &str) -> Self {
        self.entry.identifier = identifier.to_string();
        self
    }

    pub fn dn(mut self, dn: &str) -> Self {
        self.entry.dn = dn.to_string();
        self
    }

    pub fn build(self) -> CsEntryChange {
        self.entry
    }
}

impl From<EntryBuilder> for CsEntryChange {
    fn from(builder: EntryBuilder) -> Self {
        builder.entry
    }
}

/// Whom a password call is for.
pub fn password_target(
    object_type: &str,
    anchor_name: &str,
    anchor_value: impl IntoValue,
) -> PasswordTarget {
    let value = anchor_value.into_value();
    PasswordTarget {
        object_type: object_type.to_string(),
        dn: format!("CN={value},OBJECT={}", object_type.to_uppercase()),
        anchor: vec![AnchorAttribute {
            name: anchor_name.to_string(),
            value,
        }],
    }
}

/// The values an entry gives an attribute (the added values of its change), in order.
pub fn values<'a>(entry: &'a CsEntryChange, attribute: &str) -> Vec<&'a Value> {
    entry
        .change(attribute)
        .map(|c| c.added_values().collect())
        .unwrap_or_default()
}

/// The first value an entry gives an attribute, as text (`Display` of [`Value`]).
pub fn text(entry: &CsEntryChange, attribute: &str) -> Option<String> {
    values(entry, attribute).first().map(|v| v.to_string())
}

/// The entry's anchor as text: its anchor values joined with `+` (one value for most
/// connectors).
pub fn anchor_text(entry: &CsEntryChange) -> String {
    entry
        .anchor
        .iter()
        .map(|a| a.value.to_string())
        .collect::<Vec<_>>()
        .join("+")
}
