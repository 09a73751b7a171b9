//! Attribute mapping: a connector object <-> a SCIM resource (JSON).
//!
//! Every selected attribute appears under the ECMA2Host extension schema
//! (`urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:<attr>`), or at a core SCIM path
//! when the connector config maps it there. `userName` and `id` are the anchor. `active` follows
//! the disable flow. Values are converted by the connector schema's attribute type, leniently on
//! input (Entra sends booleans as "True"/"False").

use std::collections::BTreeMap;

use base64::Engine;
use ecma_plugin_api::{AttributeType, ObjectTypeSchema, Schema, Value};
use ecma_scim::{AttrPath, ECMA_EXTENSION_PREFIX, SCHEMA_CORE_USER};
use serde_json::{json, Map, Value as Json};

use crate::config::{ConnectorConfig, DisableFlow, DnConfig};
use crate::space::CsObject;

/// Connector attribute values by attribute name, as read from a SCIM resource.
pub type Attributes = BTreeMap<String, Vec<Value>>;

/// Why a connector's configuration does not fit the schema its library reports.
#[derive(Debug, thiserror::Error)]
#[error("{file}: key `{key}`: {message}")]
pub struct MappingBuildError {
    pub file: String,
    pub key: String,
    pub message: String,
}

/// A SCIM resource that cannot become connector attributes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Mutability(String),
}

/// A core SCIM path a connector attribute maps to: `displayName`, `name.givenName`, or an
/// element of a multi-valued attribute picked by one `eq` term, as Entra maps `mail`:
/// `emails[type eq "work"].value`.
#[derive(Clone, Debug, PartialEq)]
pub struct CoreTarget {
    pub name: String,
    pub sub: Option<String>,
    /// `(key, value)`: the element of the multi-valued `name` whose `key` equals `value`.
    pub element: Option<(String, Json)>,
}

/// Parse and check a core path from a connector config.
pub fn parse_core_target(path: &str) -> Result<CoreTarget, String> {
    let parsed = ecma_scim::PatchPath::parse(path)
        .map_err(|e| format!("`{path}` is not a SCIM attribute path: {e}"))?;
    if parsed.attr.urn.is_some() {
        return Err(format!("`{path}`: map to a core attribute without a URN, or leave `scim` out to use the ECMA2Host extension"));
    }
    let reserved = ["id", "username", "active", "meta", "schemas"];
    if reserved.contains(&parsed.attr.name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{path}` is managed by the host (anchor, disable flow or metadata)"
        ));
    }
    let element = match parsed.value_filter {
        None => None,
        Some(ecma_scim::Filter::Compare { path: key, op: ecma_scim::CompareOp::Eq, value })
            if key.urn.is_none() && key.sub_attr.is_none() =>
        {
            Some((key.name, value))
        }
        Some(_) => return Err(format!("`{path}`: only one `eq` term may pick the element, as in emails[type eq \"work\"].value")),
    };
    let sub = match (&element, parsed.sub_attr, parsed.attr.sub_attr) {
        (Some(_), Some(sub), None) => Some(sub),
        (Some(_), _, _) => return Err(format!("`{path}`: name the sub-attribute after the filter, as in emails[type eq \"work\"].value")),
        (None, _, sub) => sub,
    };
    Ok(CoreTarget {
        name: parsed.attr.name,
        sub,
        element,
    })
}

/// Core paths a connector attribute may map to in this release.
pub fn check_core_path(path: &str) -> Result<(), String> {
    parse_core_target(path).map(|_| ())
}

#[derive(Clone, Debug)]
enum Target {
    Extension,
    Core(CoreTarget),
}

#[derive(Clone, Debug)]
struct Mapped {
    attribute: String,
    attribute_type: AttributeType,
    multi_valued: bool,
    target: Target,
}

/// One exposed connector attribute, as `/Schemas` describes it.
pub struct Exposed<'a> {
    pub attribute: &'a str,
    /// `Department` (in the extension), `displayName`, or `name.givenName` / `emails.value`.
    pub scim_name: String,
    pub attribute_type: AttributeType,
    pub multi_valued: bool,
    pub in_extension: bool,
    /// The parent of `scim_name` is multi-valued (`emails[type eq "work"].value`).
    pub parent_multi_valued: bool,
}

/// How one connector's objects look as SCIM resources.
#[derive(Clone, Debug)]
pub struct ResourceMapping {
    object_type: String,
    resource_type: String,
    endpoint: String,
    extension_urn: String,
    anchor: String,
    anchor_type: AttributeType,
    query_attribute: String,
    attributes: Vec<Mapped>,
    active_attribute: Option<String>,
    dn: DnConfig,
}

fn type_of(object_type: &ObjectTypeSchema, attribute: &str) -> Option<(AttributeType, bool)> {
    object_type
        .attribute(attribute)
        .map(|a| (a.attribute_type, a.multi_valued))
}

impl ResourceMapping {
    /// Check the connector config against the schema its library reports.
    pub fn build(config: &ConnectorConfig, schema: &Schema) -> Result<Self, MappingBuildError> {
        let fail = |key: &str, message: String| MappingBuildError {
            file: config.file.display().to_string(),
            key: key.to_string(),
            message,
        };
        let object_type = schema.object_type(&config.object_type).ok_or_else(|| {
            let known: Vec<_> = schema
                .object_types
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            fail(
                "object_type",
                format!(
                    "`{}` is not an object type of the connector (it has: {})",
                    config.object_type,
                    known.join(", ")
                ),
            )
        })?;
        let known = || {
            object_type
                .attributes
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (anchor_type, _) = type_of(object_type, &config.anchor).ok_or_else(|| {
            fail(
                "anchor",
                format!(
                    "`{}` is not an attribute of {} (it has: {})",
                    config.anchor,
                    object_type.name,
                    known()
                ),
            )
        })?;
        if type_of(object_type, &config.query_attribute).is_none() {
            return Err(fail(
                "query_attribute",
                format!(
                    "`{}` is not an attribute of {}",
                    config.query_attribute, object_type.name
                ),
            ));
        }
        let mut attributes = Vec::new();
        for (i, a) in config.attributes.iter().enumerate() {
            let (attribute_type, multi_valued) =
                type_of(object_type, &a.name).ok_or_else(|| {
                    fail(
                        &format!("attributes[{i}].name"),
                        format!(
                            "`{}` is not an attribute of {} (it has: {})",
                            a.name,
                            object_type.name,
                            known()
                        ),
                    )
                })?;
            let target = match &a.scim {
                None => Target::Extension,
                Some(path) => Target::Core(
                    parse_core_target(path)
                        .map_err(|e| fail(&format!("attributes[{i}].scim"), e))?,
                ),
            };
            attributes.push(Mapped {
                attribute: a.name.clone(),
                attribute_type,
                multi_valued,
                target,
            });
        }
        // The query attribute is always exposed, so Entra can match on it. The anchor already is:
        // it is `userName`.
        for name in [&config.query_attribute] {
            if !attributes.iter().any(|m| &m.attribute == name) {
                if let Some((attribute_type, multi_valued)) = type_of(object_type, name) {
                    attributes.push(Mapped {
                        attribute: name.clone(),
                        attribute_type,
                        multi_valued,
                        target: Target::Extension,
                    });
                }
            }
        }
        let active_attribute = match &config.disable {
            DisableFlow::SetAttribute { attribute } => match type_of(object_type, attribute) {
                Some((AttributeType::Boolean, false)) => Some(attribute.clone()),
                Some(_) => {
                    return Err(fail(
                        "deprovisioning.disable_attribute",
                        format!("`{attribute}` must be a single-valued boolean"),
                    ));
                }
                None => {
                    return Err(fail(
                        "deprovisioning.disable_attribute",
                        format!("`{attribute}` is not an attribute of {}", object_type.name),
                    ))
                }
            },
            _ => None,
        };
        if let DnConfig::Mapped { attribute } = &config.dn {
            if type_of(object_type, attribute).is_none() {
                return Err(fail(
                    "dn.attribute",
                    format!("`{attribute}` is not an attribute of {}", object_type.name),
                ));
            }
        }
        Ok(Self {
            object_type: object_type.name.clone(),
            resource_type: "User".to_string(),
            endpoint: "Users".to_string(),
            extension_urn: format!("{ECMA_EXTENSION_PREFIX}User"),
            anchor: config.anchor.clone(),
            anchor_type,
            query_attribute: config.query_attribute.clone(),
            attributes,
            active_attribute,
            dn: config.dn.clone(),
        })
    }

    pub fn object_type(&self) -> &str {
        &self.object_type
    }
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    pub fn core_schema(&self) -> &'static str {
        SCHEMA_CORE_USER
    }
    pub fn extension_urn(&self) -> &str {
        &self.extension_urn
    }
    pub fn anchor(&self) -> &str {
        &self.anchor
    }
    pub fn anchor_type(&self) -> AttributeType {
        self.anchor_type
    }
    pub fn active_attribute(&self) -> Option<&str> {
        self.active_attribute.as_deref()
    }

    /// `(attribute, SCIM name, type, multi-valued)` of every exposed connector attribute, for
    /// the `/Schemas` document.
    pub fn exposed(&self) -> impl Iterator<Item = Exposed<'_>> {
        self.attributes.iter().map(|m| {
            let (scim_name, in_extension, parent_multi_valued) = match &m.target {
                Target::Extension => (m.attribute.clone(), true, false),
                Target::Core(CoreTarget {
                    name, sub: None, ..
                }) => (name.clone(), false, false),
                Target::Core(CoreTarget {
                    name,
                    sub: Some(sub),
                    element,
                }) => (format!("{name}.{sub}"), false, element.is_some()),
            };
            Exposed {
                attribute: m.attribute.as_str(),
                scim_name,
                attribute_type: m.attribute_type,
                multi_valued: m.multi_valued,
                in_extension,
                parent_multi_valued,
            }
        })
    }

    /// The connector attribute a SCIM path names, if it names one that can use an index:
    /// `Some(true)` for the anchor, `Some(false)` for the query attribute.
    pub fn indexed_path(&self, path: &AttrPath) -> Option<bool> {
        let lower = path.name.to_ascii_lowercase();
        if path.sub_attr.is_none()
            && (lower == "username" || lower == "id")
            && !self.in_extension(path)
        {
            return Some(true);
        }
        let attribute = self.attribute_for_path(path)?;
        if attribute == self.anchor {
            Some(true)
        } else if attribute == self.query_attribute {
            Some(false)
        } else {
            None
        }
    }

    fn in_extension(&self, path: &AttrPath) -> bool {
        path.urn
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(&self.extension_urn))
    }

    fn attribute_for_path(&self, path: &AttrPath) -> Option<&str> {
        self.attributes.iter().find_map(|m| match &m.target {
            Target::Extension
                if self.in_extension(path) && m.attribute.eq_ignore_ascii_case(&path.name) =>
            {
                Some(m.attribute.as_str())
            }
            Target::Core(CoreTarget { name, sub, .. })
                if name.eq_ignore_ascii_case(&path.name)
                    && sub.as_deref().map(str::to_ascii_lowercase)
                        == path.sub_attr.as_deref().map(str::to_ascii_lowercase) =>
            {
                Some(m.attribute.as_str())
            }
            _ => None,
        })
    }

    /// The DN of a new object with these attributes.
    pub fn dn_for(&self, anchor: &str, attributes: &Attributes) -> String {
        match &self.dn {
            DnConfig::Autogenerated => {
                format!("CN={anchor},OBJECT={}", self.object_type.to_uppercase())
            }
            DnConfig::Mapped { attribute } => attributes
                .get(attribute)
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| {
                    format!("CN={anchor},OBJECT={}", self.object_type.to_uppercase())
                }),
        }
    }

    /// The anchor value as a string, the way ids and the connector space key it.
    pub fn anchor_string(value: &Value) -> String {
        value.to_string()
    }

    /// The SCIM resource for `object`. `base` is `https://host/ecma2host_x/scim`.
    pub fn to_resource(&self, object: &CsObject, base: &str) -> Json {
        let mut resource = Map::new();
        resource.insert(
            "schemas".into(),
            json!([SCHEMA_CORE_USER, self.extension_urn]),
        );
        resource.insert("id".into(), Json::String(object.anchor.clone()));
        resource.insert("userName".into(), Json::String(object.anchor.clone()));
        let active = match &self.active_attribute {
            Some(attribute) => !matches!(object.get(attribute), Some([Value::Boolean(false)])),
            None => true,
        };
        resource.insert("active".into(), Json::Bool(active));
        let mut extension = Map::new();
        for m in &self.attributes {
            let Some(values) = object.get(&m.attribute) else {
                continue;
            };
            let value = if m.multi_valued {
                Json::Array(values.iter().map(value_to_json).collect())
            } else {
                match values.first() {
                    Some(v) => value_to_json(v),
                    None => continue,
                }
            };
            match &m.target {
                Target::Extension => {
                    extension.insert(m.attribute.clone(), value);
                }
                Target::Core(CoreTarget {
                    name, sub: None, ..
                }) => {
                    resource.insert(name.clone(), value);
                }
                Target::Core(CoreTarget {
                    name,
                    sub: Some(sub),
                    element: None,
                }) => {
                    if let Json::Object(parent) =
                        resource.entry(name.clone()).or_insert_with(|| json!({}))
                    {
                        parent.insert(sub.clone(), value);
                    }
                }
                Target::Core(CoreTarget {
                    name,
                    sub: Some(sub),
                    element: Some((key, key_value)),
                }) => {
                    // Attributes mapped to the same element (work email value and display, say)
                    // share it.
                    if let Json::Array(elements) =
                        resource.entry(name.clone()).or_insert_with(|| json!([]))
                    {
                        match elements
                            .iter_mut()
                            .find(|e| e.get(key.as_str()) == Some(key_value))
                        {
                            Some(Json::Object(element)) => {
                                element.insert(sub.clone(), value);
                            }
                            _ => elements.push(
                                json!({ key.clone(): key_value.clone(), sub.clone(): value }),
                            ),
                        }
                    }
                }
            }
        }
        if !extension.is_empty() {
            resource.insert(self.extension_urn.clone(), Json::Object(extension));
        } else if let Some(Json::Array(schemas)) = resource.get_mut("schemas") {
            // No extension attribute has a value: the resource does not use that schema.
            schemas.retain(|s| s.as_str() != Some(self.extension_urn.as_str()));
        }
        resource.insert(
            "meta".into(),
            json!({
                "resourceType": self.resource_type,
                "location": format!("{base}/{}/{}", self.endpoint, percent_encode(&object.anchor)),
                "version": etag(object),
            }),
        );
        Json::Object(resource)
    }

    /// Connector attributes from a SCIM resource. The anchor comes from `userName`.
    pub fn from_resource(&self, resource: &Json) -> Result<(Value, Attributes), MappingError> {
        let user_name = get_ci(resource, "userName")
            .ok_or_else(|| MappingError::InvalidValue("userName is required".into()))?;
        let anchor = json_to_value(user_name, self.anchor_type, "userName")?;
        if anchor.to_string().is_empty() {
            return Err(MappingError::InvalidValue(
                "userName must not be empty".into(),
            ));
        }
        let mut out = Attributes::new();
        out.insert(self.anchor.clone(), vec![anchor.clone()]);
        let extension = get_ci(resource, &self.extension_urn);
        for m in &self.attributes {
            let found = match &m.target {
                Target::Extension => extension.and_then(|e| get_ci(e, &m.attribute)),
                Target::Core(CoreTarget {
                    name, sub: None, ..
                }) => get_ci(resource, name),
                Target::Core(CoreTarget {
                    name,
                    sub: Some(sub),
                    element: None,
                }) => get_ci(resource, name).and_then(|p| get_ci(p, sub)),
                Target::Core(CoreTarget {
                    name,
                    sub: Some(sub),
                    element: Some((key, key_value)),
                }) => get_ci(resource, name)
                    .and_then(Json::as_array)
                    .and_then(|elements| {
                        elements
                            .iter()
                            .find(|e| match (get_ci(e, key), key_value) {
                                (Some(Json::String(a)), Json::String(b)) => {
                                    a.eq_ignore_ascii_case(b)
                                }
                                (Some(a), b) => a == b,
                                (None, _) => false,
                            })
                            .and_then(|e| get_ci(e, sub))
                    }),
            };
            let scim_name = match &m.target {
                Target::Extension => format!("{}:{}", self.extension_urn, m.attribute),
                Target::Core(CoreTarget {
                    name, sub: None, ..
                }) => name.clone(),
                Target::Core(CoreTarget {
                    name,
                    sub: Some(sub),
                    ..
                }) => format!("{name}.{sub}"),
            };
            let values = match found {
                None | Some(Json::Null) => continue,
                Some(Json::Array(items)) if m.multi_valued => items
                    .iter()
                    .map(|i| json_to_value(unwrap_value_object(i), m.attribute_type, &scim_name))
                    .collect::<Result<Vec<_>, _>>()?,
                Some(Json::Array(items)) if items.len() <= 1 => match items.first() {
                    Some(i) => vec![json_to_value(
                        unwrap_value_object(i),
                        m.attribute_type,
                        &scim_name,
                    )?],
                    None => continue,
                },
                Some(Json::Array(_)) => {
                    return Err(MappingError::InvalidValue(format!(
                        "{scim_name} is single-valued; got several values"
                    )));
                }
                Some(v) => vec![json_to_value(v, m.attribute_type, &scim_name)?],
            };
            if m.attribute == self.anchor {
                // Exposed read-only (it is userName): input values are ignored (RFC 7643 §2.2).
                continue;
            }
            if !values.is_empty() {
                out.insert(m.attribute.clone(), values);
            }
        }
        if let Some(attribute) = &self.active_attribute {
            let active = match get_ci(resource, "active") {
                None | Some(Json::Null) => true,
                Some(v) => match json_to_value(v, AttributeType::Boolean, "active")? {
                    Value::Boolean(b) => b,
                    _ => true,
                },
            };
            out.insert(attribute.clone(), vec![Value::Boolean(active)]);
        }
        Ok((anchor, out))
    }

    /// Whether the resource says `active: false` (in any of the shapes Entra sends).
    pub fn is_deactivated(resource: &Json) -> Result<bool, MappingError> {
        match get_ci(resource, "active") {
            None | Some(Json::Null) => Ok(false),
            Some(v) => Ok(matches!(
                json_to_value(v, AttributeType::Boolean, "active")?,
                Value::Boolean(false)
            )),
        }
    }

    /// Every connector attribute this mapping manages (the anchor excluded).
    pub fn managed_attributes(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .map(|m| m.attribute.as_str())
            .filter(move |a| *a != self.anchor)
            .chain(self.active_attribute.as_deref())
    }
}

/// `{"value": x}` elements (as Entra sends for some multi-valued attributes) become `x`.
fn unwrap_value_object(item: &Json) -> &Json {
    match item {
        Json::Object(o) if o.len() <= 3 => o.get("value").unwrap_or(item),
        _ => item,
    }
}

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
            Json::String(s) => Value::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| wrong("base64 binary"))?,
            ),
            _ => return Err(wrong("base64 binary")),
        },
    })
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

/// The object's version, for `ETag` and `meta.version`: a weak validator over its content.
pub fn etag(object: &CsObject) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(object.anchor.as_bytes());
    hasher.update([0]);
    hasher.update(object.dn.as_bytes());
    for (name, values) in &object.attributes {
        hasher.update([0]);
        hasher.update(name.as_bytes());
        for value in values {
            hasher.update(format!("\u{1}{value:?}").as_bytes());
        }
    }
    format!("W/\"{}\"", hex::encode(&hasher.finalize()[..8]))
}

/// Percent-encode an id for use as a URL path segment.
pub fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AttributeConfig, ConnectorConfig};
    use crate::space::ConnectorSpace;
    use ecma_plugin_api::{ParameterValues, SchemaAttribute};

    fn schema() -> Schema {
        Schema {
            object_types: vec![ObjectTypeSchema {
                name: "User".into(),
                anchor: vec!["Login".into()],
                attributes: vec![
                    SchemaAttribute::single("Login", AttributeType::String),
                    SchemaAttribute::single("AzureID", AttributeType::String),
                    SchemaAttribute::single("FirstName", AttributeType::String),
                    SchemaAttribute::single("Dept.Code", AttributeType::String),
                    SchemaAttribute::single("Age", AttributeType::Integer),
                    SchemaAttribute::single("IsActive", AttributeType::Boolean),
                ],
            }],
        }
    }

    fn config() -> ConnectorConfig {
        ConnectorConfig {
            file: "demo.toml".into(),
            name: "demo".into(),
            token_hash: crate::token::hash_token("0123456789abcdef").unwrap(),
            plugin: "libecma_sql.so".into(),
            autosync_minutes: 0,
            object_type: "User".into(),
            anchor: "Login".into(),
            query_attribute: "AzureID".into(),
            password_attribute: None,
            dn: DnConfig::Autogenerated,
            attributes: ["AzureID", "Dept.Code", "Age"]
                .into_iter()
                .map(|n| AttributeConfig {
                    name: n.into(),
                    scim: None,
                })
                .chain([AttributeConfig {
                    name: "FirstName".into(),
                    scim: Some("name.givenName".into()),
                }])
                .collect(),
            export_page_size: 100,
            call_timeout: std::time::Duration::from_secs(5),
            max_concurrent_calls: 4,
            run_profiles: crate::config::RunProfiles {
                full_import: true,
                delta_import: false,
            },
            disable: DisableFlow::SetAttribute {
                attribute: "IsActive".into(),
            },
            delete: crate::config::DeleteFlow::Delete,
            parameters: ParameterValues::new(),
            parameter_pages: Default::default(),
        }
    }

    #[test]
    fn resource_round_trips_through_attributes() {
        let mapping = ResourceMapping::build(&config(), &schema()).unwrap();
        let ext = mapping.extension_urn().to_string();
        let resource = json!({
            "schemas": [SCHEMA_CORE_USER, ext],
            "userName": "alice",
            "active": "False",
            "name": {"givenName": "Alice"},
            ext.clone(): {"AzureID": "guid-1", "Dept.Code": "D1", "Age": "42"},
        });
        let (anchor, attrs) = mapping.from_resource(&resource).unwrap();
        assert_eq!(anchor, Value::String("alice".into()));
        assert_eq!(attrs["Age"], vec![Value::Integer(42)]);
        assert_eq!(attrs["IsActive"], vec![Value::Boolean(false)]);
        assert_eq!(attrs["FirstName"], vec![Value::String("Alice".into())]);

        let space = ConnectorSpace::new("AzureID");
        let object = space.object("alice".into(), mapping.dn_for("alice", &attrs), attrs);
        assert_eq!(object.dn, "CN=alice,OBJECT=USER");
        let back = mapping.to_resource(&object, "https://h/ecma2host_demo/scim");
        assert_eq!(back["id"], "alice");
        assert_eq!(back["active"], false);
        assert_eq!(back["name"]["givenName"], "Alice");
        assert_eq!(back[&ext]["Dept.Code"], "D1");
        assert_eq!(back[&ext]["Age"], 42);
        assert_eq!(
            back["meta"]["location"],
            "https://h/ecma2host_demo/scim/Users/alice"
        );
    }

    #[test]
    fn attributes_map_to_an_element_of_a_multi_valued_core_attribute() {
        let mut c = config();
        c.attributes.push(AttributeConfig {
            name: "Mail".into(),
            scim: Some("emails[type eq \"work\"].value".into()),
        });
        c.attributes.push(AttributeConfig {
            name: "Home".into(),
            scim: Some("emails[type eq \"home\"].value".into()),
        });
        let mut schema = schema();
        for name in ["Mail", "Home"] {
            schema.object_types[0]
                .attributes
                .push(SchemaAttribute::single(name, AttributeType::String));
        }
        let mapping = ResourceMapping::build(&c, &schema).unwrap();
        let resource = json!({
            "userName": "alice",
            "emails": [{"type": "Work", "value": "a@work"}, {"type": "home", "value": "a@home"}, {"type": "other", "value": "x"}]
        });
        let (_, attrs) = mapping.from_resource(&resource).unwrap();
        assert_eq!(attrs["Mail"], vec![Value::String("a@work".into())]);
        assert_eq!(attrs["Home"], vec![Value::String("a@home".into())]);
        let space = ConnectorSpace::new("AzureID");
        let object = space.object("alice".into(), "CN=alice".into(), attrs);
        let back = mapping.to_resource(&object, "https://h/x/scim");
        // Elements follow the configured attribute order.
        assert_eq!(
            back["emails"],
            json!([{"type": "work", "value": "a@work"}, {"type": "home", "value": "a@home"}])
        );
        assert!(parse_core_target("emails[type eq \"work\" or primary eq true].value").is_err());
        assert!(parse_core_target("emails[type eq \"work\"]").is_err());
    }

    #[test]
    fn wrong_types_and_missing_user_name_are_invalid_values() {
        let mapping = ResourceMapping::build(&config(), &schema()).unwrap();
        let ext = mapping.extension_urn().to_string();
        assert!(mapping.from_resource(&json!({"active": true})).is_err());
        let err = mapping
            .from_resource(&json!({"userName": "a", ext: {"Age": "old"}}))
            .unwrap_err();
        assert!(err.to_string().contains("Age"), "{err}");
    }

    #[test]
    fn build_names_the_key_that_does_not_fit_the_schema() {
        let mut c = config();
        c.attributes.push(AttributeConfig {
            name: "Nope".into(),
            scim: None,
        });
        let err = ResourceMapping::build(&c, &schema())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("attributes[4].name") && err.contains("Nope"),
            "{err}"
        );
        let mut c = config();
        c.disable = DisableFlow::SetAttribute {
            attribute: "FirstName".into(),
        };
        let err = ResourceMapping::build(&c, &schema())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("disable_attribute") && err.contains("boolean"),
            "{err}"
        );
    }

    #[test]
    fn index_paths_are_recognised() {
        let mapping = ResourceMapping::build(&config(), &schema()).unwrap();
        let path = |s: &str| AttrPath::parse(s).unwrap();
        assert_eq!(mapping.indexed_path(&path("userName")), Some(true));
        assert_eq!(
            mapping.indexed_path(&path(&format!("{}:AzureID", mapping.extension_urn()))),
            Some(false)
        );
        // The anchor is userName; it is not repeated under the extension unless selected.
        assert_eq!(
            mapping.indexed_path(&path(&format!("{}:Login", mapping.extension_urn()))),
            None
        );
        assert_eq!(mapping.indexed_path(&path("name.givenName")), None);
    }
}
