//! Attribute mapping: a connector object <-> a SCIM resource (JSON), for one resource type.
//!
//! Every selected attribute appears under the resource type's ECMA2Host extension schema
//! (`urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:<Type>:<attr>`), or at a core SCIM
//! path (or an enterprise extension path) when the connector config maps it there. `id` and the
//! anchor's SCIM attribute (`userName` for users, `displayName` for groups unless configured)
//! carry the anchor. `active` follows the disable flow (users only). Values are converted by the
//! connector schema's attribute type, leniently on input (Entra sends booleans as "True").
//!
//! Reference values (group `members`, a `manager`) are SCIM ids outside and the connector's own
//! reference values (anchors or DNs) inside; a [`ReferenceResolver`] translates between them.
//! The virtual attribute `-dn-` (Microsoft's current name; the preview's `<dn>` is an alias)
//! exposes the object's DN, as Microsoft's host does for LDAP.

mod check;
mod delta;
mod parse;
mod render;
#[cfg(test)]
mod tests;
mod value;

pub use check::{check_core_path, parse_core_target};
pub use value::{get_ci, json_to_value, percent_encode, string_at, value_to_json};

use std::collections::BTreeMap;

use base64::Engine;
use ecma_plugin_api::{
    AnchorAttribute, AttributeDirection, AttributeType, ObjectTypeSchema, Schema, Value,
};
use ecma_scim::{
    AttrPath, ECMA_EXTENSION_PREFIX, SCHEMA_CORE_GROUP, SCHEMA_CORE_USER, SCHEMA_ENTERPRISE_USER,
};
use serde_json::{json, Map, Value as Json};

use crate::config::{DisableFlow, DnConfig, ResourceKind, ResourceTypeConfig};
use crate::space::CsObject;

/// Connector attribute values by attribute name, as read from a SCIM resource.
pub type Attributes = BTreeMap<String, Vec<Value>>;

/// The virtual attribute that carries an object's DN, as Entra's documentation names it today
/// (`urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:-dn-`).
pub const DN_ATTRIBUTE: &str = "-dn-";

/// The ECMA2Host preview's name for [`DN_ATTRIBUTE`], accepted in connector configs and in
/// requests.
pub const DN_ALIAS: &str = "<dn>";

/// The id of an object with a multi-attribute anchor: each part's text (as
/// [`ResourceMapping::anchor_string`] gives it, so binary parts are base64url), with `%` and
/// `~` percent-encoded, joined by `~`. [`split_compound_id`] reverses it. `("Contoso", "42")`
/// is `Contoso~42`; `("a~b", "c")` is `a%7Eb~c`.
pub fn compound_id<'a>(parts: impl IntoIterator<Item = &'a Value>) -> String {
    parts
        .into_iter()
        .map(|v| {
            ResourceMapping::anchor_string(v)
                .replace('%', "%25")
                .replace('~', "%7E")
        })
        .collect::<Vec<_>>()
        .join("~")
}

/// The parts' texts of a [`compound_id`].
pub fn split_compound_id(id: &str) -> Vec<String> {
    id.split('~')
        .map(|part| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// Whether a configured or requested attribute name is the virtual DN attribute.
pub fn is_dn_name(name: &str) -> bool {
    name == DN_ATTRIBUTE || name == DN_ALIAS
}

/// The core schema of custom resource types: `urn:ecmahost:params:scim:schemas:core:2.0:<Type>`.
pub const CUSTOM_CORE_PREFIX: &str = "urn:ecmahost:params:scim:schemas:core:2.0:";

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

/// Where a reference points: the resource type and the id of the referenced resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefTarget {
    pub resource_type: String,
    pub endpoint: String,
    pub id: String,
}

/// Translates between SCIM ids and the connector's reference values.
pub trait ReferenceResolver {
    /// The resource a connector reference value (an anchor or a DN) names, if the host knows it.
    fn to_scim(&self, value: &Value) -> Option<RefTarget>;
    /// The connector reference value for the resource with this id; `resource_type` (from the
    /// reference's `type` or `$ref`) narrows the search when given.
    fn to_connector(&self, id: &str, resource_type: Option<&str>) -> Option<Value>;
}

impl RefTarget {
    /// The referenced resource's URL (`$ref`).
    pub fn location(&self, base: &str) -> String {
        format!("{base}/{}/{}", self.endpoint, percent_encode(&self.id))
    }
}

/// A resolver that knows no resource (for connectors without reference attributes, and tests).
pub struct NoReferences;

impl ReferenceResolver for NoReferences {
    fn to_scim(&self, _: &Value) -> Option<RefTarget> {
        None
    }
    fn to_connector(&self, _: &str, _: Option<&str>) -> Option<Value> {
        None
    }
}

/// A path from a connector config: `displayName`, `name.givenName`, an element of a
/// multi-valued attribute picked by one `eq` term, as Entra maps `mail`
/// (`emails[type eq "work"].value`), or an enterprise extension attribute
/// (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`).
#[derive(Clone, Debug, PartialEq)]
pub struct CoreTarget {
    /// `None` for the core schema, else the extension the attribute lives in.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
    /// `(key, value)`: the element of the multi-valued `name` whose `key` equals `value`.
    pub element: Option<(String, Json)>,
}

/// Attributes that RFC 7643 defines as complex references (`{value, $ref, ...}`): a
/// connector reference attribute mapped to one of them renders in that shape.
fn is_complex_reference(target: &CoreTarget) -> bool {
    target.sub.is_none()
        && target.element.is_none()
        && (target.name.eq_ignore_ascii_case("members")
            || target.name.eq_ignore_ascii_case("manager"))
}

/// One of the timestamps in `meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MetaTime {
    Created,
    LastModified,
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
    /// A multi-valued connector attribute shown as one value (`single_value`): a request
    /// that gives one of its values keeps the others.
    collapsed: bool,
    /// Import-only attributes are read-only in SCIM; export-only ones are write-only (never
    /// returned, never kept in the connector space).
    direction: AttributeDirection,
    target: Target,
}

impl Mapped {
    /// The attribute's full SCIM name, for messages: `urn:...:ECMA2Host:2.0:User:Department`,
    /// `name.givenName`, `urn:...:enterprise:2.0:User:manager`.
    fn scim_name(&self, extension_urn: &str) -> String {
        match &self.target {
            Target::Extension => format!("{extension_urn}:{}", self.attribute),
            Target::Core(CoreTarget { urn, name, sub, .. }) => {
                let path = match sub {
                    None => name.clone(),
                    Some(sub) => format!("{name}.{sub}"),
                };
                match urn {
                    None => path,
                    Some(urn) => format!("{urn}:{path}"),
                }
            }
        }
    }

    fn is_dn(&self) -> bool {
        self.attribute == DN_ATTRIBUTE
    }
    fn readable(&self) -> bool {
        self.direction != AttributeDirection::ExportOnly
    }
    fn writable(&self) -> bool {
        self.direction != AttributeDirection::ImportOnly
    }
}

/// One exposed connector attribute, as `/Schemas` describes it.
pub struct Exposed<'a> {
    pub attribute: &'a str,
    /// `Department` (in the extension), `displayName`, or `name.givenName` / `emails.value`.
    pub scim_name: String,
    pub attribute_type: AttributeType,
    pub multi_valued: bool,
    /// The schema the attribute lives in: `None` for the core schema.
    pub urn: Option<&'a str>,
    /// The parent of `scim_name` is multi-valued (`emails[type eq "work"].value`).
    pub parent_multi_valued: bool,
    /// Rendered as `{value, $ref, type}` (group `members`, `manager`).
    pub complex_reference: bool,
    /// What the connector's schema says: import-only is read-only, export-only write-only.
    pub direction: AttributeDirection,
}

/// How one resource type's objects look as SCIM resources.
#[derive(Clone, Debug)]
pub struct ResourceMapping {
    kind: ResourceKind,
    object_type: String,
    resource_type: String,
    endpoint: String,
    core_schema: String,
    extension_urn: String,
    anchor: String,
    /// Every anchor attribute; more than one makes a multi-attribute anchor, whose parts are
    /// ordinary mapped attributes and whose id is [`compound_id`] of their values.
    anchor_parts: Vec<String>,
    /// Connector attributes whose values are the object's creation or change time in the
    /// target (`scim = "meta.created"` / `"meta.lastModified"`): they win over the host's.
    meta_times: Vec<(MetaTime, String)>,
    anchor_type: AttributeType,
    /// `id` for an anchor the target assigns ([`Self::assigned_anchor`]).
    anchor_scim: String,
    /// The anchor is an import-only attribute the target assigns (entryUUID, an identity
    /// column): a create carries none, the id is the target's value, and `userName` or
    /// `displayName` are ordinary mapped attributes.
    assigned_anchor: bool,
    /// The anchor is the DN (`-dn-`): the id is the object's DN.
    dn_anchor: bool,
    query_attribute: String,
    attributes: Vec<Mapped>,
    active_attribute: Option<String>,
    dn: DnConfig,
}

impl ResourceMapping {
    pub fn kind(&self) -> ResourceKind {
        self.kind
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
    pub fn core_schema(&self) -> &str {
        &self.core_schema
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
    /// The top-level SCIM attribute that carries the anchor (`userName`, `displayName`).
    pub fn anchor_scim(&self) -> &str {
        &self.anchor_scim
    }

    /// Whether the target assigns the anchor (see the field).
    pub fn assigned_anchor(&self) -> bool {
        self.assigned_anchor
    }
    /// Whether the anchor is the DN (`-dn-`), so that the id is the DN and a rename changes it.
    pub fn dn_anchor(&self) -> bool {
        self.dn_anchor
    }
    pub fn active_attribute(&self) -> Option<&str> {
        self.active_attribute.as_deref()
    }
    /// Whether this type exposes `active` (users do, whatever the disable flow).
    pub fn has_active(&self) -> bool {
        self.kind == ResourceKind::User
    }

    /// Every exposed connector attribute, for the `/Schemas` documents.
    pub fn exposed(&self) -> impl Iterator<Item = Exposed<'_>> {
        self.attributes.iter().map(|m| {
            let (scim_name, urn, parent_multi_valued, complex_reference) = match &m.target {
                Target::Extension => (
                    m.attribute.clone(),
                    Some(self.extension_urn.as_str()),
                    false,
                    false,
                ),
                Target::Core(t) => (
                    match &t.sub {
                        None => t.name.clone(),
                        Some(sub) => format!("{}.{sub}", t.name),
                    },
                    t.urn.as_deref(),
                    t.element.is_some(),
                    is_complex_reference(t),
                ),
            };
            Exposed {
                attribute: m.attribute.as_str(),
                scim_name,
                attribute_type: m.attribute_type,
                multi_valued: m.multi_valued,
                urn,
                parent_multi_valued,
                complex_reference,
                direction: m.direction,
            }
        })
    }

    /// The connector attribute a SCIM path names, if it names one that can use an index:
    /// `Some(true)` for the anchor, `Some(false)` for the query attribute.
    pub fn indexed_path(&self, path: &AttrPath) -> Option<bool> {
        let core = path
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(&self.core_schema));
        if path.sub_attr.is_none()
            && core
            && (path.name.eq_ignore_ascii_case(&self.anchor_scim)
                || path.name.eq_ignore_ascii_case("id"))
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

    fn in_urn(path: &AttrPath, urn: &str) -> bool {
        path.urn
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(urn))
    }

    fn attribute_for_path(&self, path: &AttrPath) -> Option<&str> {
        let lower = |s: Option<&str>| s.map(str::to_ascii_lowercase);
        self.attributes.iter().find_map(|m| match &m.target {
            Target::Extension
                if Self::in_urn(path, &self.extension_urn)
                    && m.attribute.eq_ignore_ascii_case(&path.name) =>
            {
                Some(m.attribute.as_str())
            }
            Target::Core(CoreTarget { urn, name, sub, .. })
                if name.eq_ignore_ascii_case(&path.name)
                    && match urn {
                        None => path
                            .urn
                            .as_deref()
                            .is_none_or(|u| u.eq_ignore_ascii_case(&self.core_schema)),
                        Some(urn) => Self::in_urn(path, urn),
                    }
                    && lower(sub.as_deref()) == lower(path.sub_attr.as_deref()) =>
            {
                Some(m.attribute.as_str())
            }
            _ => None,
        })
    }

    /// The DN of a new object with these attributes (the `-dn-` virtual attribute first).
    pub fn dn_for(&self, anchor: &str, attributes: &Attributes) -> String {
        let autogenerated = || format!("CN={anchor},OBJECT={}", self.object_type.to_uppercase());
        let from = |attribute: &str| {
            attributes
                .get(attribute)
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .filter(|dn| !dn.is_empty())
        };
        from(DN_ATTRIBUTE).unwrap_or_else(|| match &self.dn {
            DnConfig::Autogenerated => autogenerated(),
            DnConfig::Mapped { attribute } if !is_dn_name(attribute) => {
                from(attribute).unwrap_or_else(autogenerated)
            }
            DnConfig::Mapped { .. } => autogenerated(),
        })
    }

    /// Whether the anchor has several attributes.
    pub fn compound_anchor(&self) -> bool {
        self.anchor_parts.len() > 1
    }

    /// Every anchor attribute, in order.
    pub fn anchor_parts(&self) -> &[String] {
        &self.anchor_parts
    }

    /// The anchor attributes an entry change names an object by, from the object's anchor
    /// value and its attributes (where a multi-attribute anchor's parts live).
    pub fn anchor_attributes(
        &self,
        anchor: &Value,
        attributes: &Attributes,
    ) -> Vec<AnchorAttribute> {
        if !self.compound_anchor() {
            return vec![AnchorAttribute {
                name: self.anchor.clone(),
                value: anchor.clone(),
            }];
        }
        self.anchor_parts
            .iter()
            .filter_map(|part| {
                Some(AnchorAttribute {
                    name: part.clone(),
                    value: attributes.get(part)?.first()?.clone(),
                })
            })
            .collect()
    }

    /// The anchor attributes of a stored object.
    pub fn anchor_of(&self, object: &CsObject) -> Vec<AnchorAttribute> {
        if self.dn_anchor {
            return vec![AnchorAttribute {
                name: DN_ATTRIBUTE.to_string(),
                value: Value::String(object.dn.clone()),
            }];
        }
        self.anchor_parts
            .iter()
            .filter_map(|part| {
                let value = object.get(part).and_then(|v| v.first().cloned());
                let value = match (value, self.compound_anchor()) {
                    (Some(v), _) => v,
                    // An object whose anchor attribute was not kept: its id is the anchor.
                    (None, false) => Value::String(object.anchor.clone()),
                    (None, true) => return None,
                };
                Some(AnchorAttribute {
                    name: part.clone(),
                    value,
                })
            })
            .collect()
    }

    /// The id of the object an entry change (an import) names, if it names every anchor part.
    pub fn id_of_entry(&self, entry: &ecma_plugin_api::CsEntryChange) -> Option<String> {
        let part = |name: &str| {
            entry
                .anchor_value(name)
                .or_else(|| entry.change(name).and_then(|c| c.added_values().next()))
        };
        if !self.compound_anchor() {
            return part(&self.anchor).map(Self::anchor_string);
        }
        let values: Option<Vec<&Value>> = self.anchor_parts.iter().map(|p| part(p)).collect();
        Some(compound_id(values?))
    }

    /// The anchor value as a string, the way ids and the connector space key it. A binary
    /// anchor (AD LDS `objectGUID`) is its bytes in unpadded base64url (RFC 4648 §5), so its
    /// id is stable and URL-safe.
    pub fn anchor_string(value: &Value) -> String {
        match value {
            Value::Binary(bytes) => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            other => other.to_string(),
        }
    }

    /// The writable attributes that hold references to other objects (`members`, `manager`).
    pub fn reference_attributes(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter(|m| m.attribute_type == AttributeType::Reference && m.writable())
            .map(|m| m.attribute.as_str())
    }

    /// Every connector attribute a SCIM request can change and the host exports: the anchor,
    /// `-dn-` and import-only attributes excluded.
    pub fn managed_attributes(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter(|m| !m.is_dn() && m.writable())
            .map(|m| m.attribute.as_str())
            // A multi-attribute anchor's parts are ordinary attributes: changing one renames.
            .filter(move |a| *a != self.anchor || self.compound_anchor())
            .chain(self.active_attribute.as_deref())
    }

    /// Whether the connector space keeps this attribute of an imported object: the anchor and
    /// the attributes this mapping manages. Other columns the target reports are dropped, so an
    /// import reads back exactly what an export wrote (and versions stay put).
    pub fn keeps(&self, attribute: &str) -> bool {
        // A DN anchor is the object's DN, never a stored attribute.
        (self.anchor_parts.iter().any(|p| p == attribute) && !self.dn_anchor)
            || self.meta_times.iter().any(|(_, a)| a == attribute)
            || self.active_attribute.as_deref() == Some(attribute)
            || self
                .attributes
                .iter()
                .any(|m| m.attribute == attribute && !m.is_dn() && m.readable())
    }

    /// Whether the DN comes from the `-dn-` virtual attribute (the target's DN is kept).
    pub fn dn_is_virtual(&self) -> bool {
        self.attributes.iter().any(Mapped::is_dn)
    }
}
