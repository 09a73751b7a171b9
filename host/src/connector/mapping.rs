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
//! The virtual attribute `<dn>` exposes the object's DN, as Microsoft's host does for LDAP.

use std::collections::BTreeMap;

use base64::Engine;
use ecma_plugin_api::{AttributeDirection, AttributeType, ObjectTypeSchema, Schema, Value};
use ecma_scim::{
    AttrPath, ECMA_EXTENSION_PREFIX, SCHEMA_CORE_GROUP, SCHEMA_CORE_USER, SCHEMA_ENTERPRISE_USER,
};
use serde_json::{json, Map, Value as Json};

use crate::config::{DisableFlow, DnConfig, ResourceKind, ResourceTypeConfig};
use crate::space::CsObject;

/// Connector attribute values by attribute name, as read from a SCIM resource.
pub type Attributes = BTreeMap<String, Vec<Value>>;

/// The virtual attribute that carries an object's DN (Microsoft's `<dn>` for LDAP connectors).
pub const DN_ATTRIBUTE: &str = "<dn>";

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

/// Parse and check a mapped path from a connector config.
pub fn parse_core_target(path: &str) -> Result<CoreTarget, String> {
    let parsed = ecma_scim::PatchPath::parse(path)
        .map_err(|e| format!("`{path}` is not a SCIM attribute path: {e}"))?;
    let urn = match parsed.attr.urn {
        None => None,
        Some(urn) if urn.eq_ignore_ascii_case(SCHEMA_ENTERPRISE_USER) => {
            Some(SCHEMA_ENTERPRISE_USER.to_string())
        }
        Some(_) => {
            return Err(format!("`{path}`: map to a core attribute, to the enterprise extension ({SCHEMA_ENTERPRISE_USER}:...), or leave `scim` out to use the ECMA2Host extension"));
        }
    };
    let reserved = ["id", "meta", "schemas"];
    if urn.is_none() && reserved.contains(&parsed.attr.name.to_ascii_lowercase().as_str()) {
        return Err(format!("`{path}` is managed by the host"));
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
        urn,
        name: parsed.attr.name,
        sub,
        element,
    })
}

/// Core paths a connector attribute may map to in this release.
pub fn check_core_path(path: &str) -> Result<(), String> {
    parse_core_target(path).map(|_| ())
}

/// Attributes that RFC 7643 defines as complex references (`{value, $ref, ...}`): a
/// connector reference attribute mapped to one of them renders in that shape.
fn is_complex_reference(target: &CoreTarget) -> bool {
    target.sub.is_none()
        && target.element.is_none()
        && (target.name.eq_ignore_ascii_case("members")
            || target.name.eq_ignore_ascii_case("manager"))
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
    /// Import-only attributes are read-only in SCIM; export-only ones are write-only (never
    /// returned, never kept in the connector space).
    direction: AttributeDirection,
    target: Target,
}

impl Mapped {
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
    anchor_type: AttributeType,
    anchor_scim: String,
    query_attribute: String,
    attributes: Vec<Mapped>,
    active_attribute: Option<String>,
    dn: DnConfig,
}

fn type_of(object_type: &ObjectTypeSchema, attribute: &str) -> Option<(AttributeType, bool)> {
    if attribute == DN_ATTRIBUTE {
        return Some((AttributeType::String, false));
    }
    object_type
        .attribute(attribute)
        .map(|a| (a.attribute_type, a.multi_valued))
}

fn direction_of(object_type: &ObjectTypeSchema, attribute: &str) -> AttributeDirection {
    object_type
        .attribute(attribute)
        .map_or(AttributeDirection::ImportExport, |a| a.direction)
}

impl ResourceMapping {
    /// Check one resource type's config against the schema its library reports. `file` and
    /// `prefix` (`""` or `resource_types[1].`) locate errors.
    pub fn build(
        file: &str,
        prefix: &str,
        config: &ResourceTypeConfig,
        schema: &Schema,
    ) -> Result<Self, MappingBuildError> {
        let fail = |key: &str, message: String| MappingBuildError {
            file: file.to_string(),
            key: format!("{prefix}{key}"),
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
        let (anchor_type, _) = type_of(object_type, &config.anchor)
            .filter(|_| config.anchor != DN_ATTRIBUTE)
            .ok_or_else(|| {
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
                Some(path) => {
                    let target = parse_core_target(path)
                        .map_err(|e| fail(&format!("attributes[{i}].scim"), e))?;
                    let taken = target.urn.is_none()
                        && target.sub.is_none()
                        && (target.name.eq_ignore_ascii_case(&config.anchor_scim)
                            || (config.kind == ResourceKind::User
                                && target.name.eq_ignore_ascii_case("active")));
                    if taken {
                        return Err(fail(
                            &format!("attributes[{i}].scim"),
                            format!(
                                "`{path}` is managed by the host (the anchor or the disable flow)"
                            ),
                        ));
                    }
                    if is_complex_reference(&target) && attribute_type != AttributeType::Reference {
                        return Err(fail(
                            &format!("attributes[{i}].scim"),
                            format!("`{path}` holds references; `{}` is of type {attribute_type:?}, not Reference", a.name),
                        ));
                    }
                    Target::Core(target)
                }
            };
            attributes.push(Mapped {
                attribute: a.name.clone(),
                attribute_type,
                multi_valued,
                direction: direction_of(object_type, &a.name),
                target,
            });
        }
        // The query attribute is always exposed, so Entra can match on it. The anchor already
        // is: it is `id` and the anchor's SCIM attribute.
        if config.query_attribute != config.anchor
            && !attributes
                .iter()
                .any(|m| m.attribute == config.query_attribute)
        {
            if let Some((attribute_type, multi_valued)) =
                type_of(object_type, &config.query_attribute)
            {
                attributes.push(Mapped {
                    attribute: config.query_attribute.clone(),
                    attribute_type,
                    multi_valued,
                    direction: direction_of(object_type, &config.query_attribute),
                    target: Target::Extension,
                });
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
            if attribute == DN_ATTRIBUTE && !attributes.iter().any(Mapped::is_dn) {
                attributes.push(Mapped {
                    attribute: DN_ATTRIBUTE.to_string(),
                    attribute_type: AttributeType::String,
                    multi_valued: false,
                    direction: AttributeDirection::ImportExport,
                    target: Target::Extension,
                });
            }
        }
        let core_schema = match config.kind {
            ResourceKind::User => SCHEMA_CORE_USER.to_string(),
            ResourceKind::Group => SCHEMA_CORE_GROUP.to_string(),
            ResourceKind::Custom => format!("{CUSTOM_CORE_PREFIX}{}", config.name),
        };
        Ok(Self {
            kind: config.kind,
            object_type: object_type.name.clone(),
            resource_type: config.name.clone(),
            endpoint: config.endpoint.clone(),
            core_schema,
            extension_urn: format!("{ECMA_EXTENSION_PREFIX}{}", config.name),
            anchor: config.anchor.clone(),
            anchor_type,
            anchor_scim: config.anchor_scim.clone(),
            query_attribute: config.query_attribute.clone(),
            attributes,
            active_attribute,
            dn: config.dn.clone(),
        })
    }

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

    /// The DN of a new object with these attributes (the `<dn>` virtual attribute first).
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
            DnConfig::Mapped { attribute } => from(attribute).unwrap_or_else(autogenerated),
        })
    }

    /// The anchor value as a string, the way ids and the connector space key it.
    pub fn anchor_string(value: &Value) -> String {
        value.to_string()
    }

    /// The SCIM resource for `object`. `base` is `https://host/ecma2host_x/scim`.
    pub fn to_resource(&self, object: &CsObject, base: &str, refs: &dyn ReferenceResolver) -> Json {
        self.render(object, base, refs, &[])
    }

    /// Whether `path` (from `excludedAttributes`) names the whole of what `m` renders.
    fn skipped_by(&self, m: &Mapped, path: &AttrPath) -> bool {
        if path.sub_attr.is_some() {
            return false;
        }
        let in_urn = |urn: &str| {
            path.urn
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(urn))
        };
        match &m.target {
            Target::Extension => {
                in_urn(&self.extension_urn) && path.name.eq_ignore_ascii_case(&m.attribute)
            }
            Target::Core(CoreTarget { urn, name, .. }) => {
                name.eq_ignore_ascii_case(&path.name)
                    && match urn {
                        None => path.urn.is_none() || in_urn(&self.core_schema),
                        Some(urn) => in_urn(urn),
                    }
            }
        }
    }

    /// [`Self::to_resource`] without the attributes `skip` names whole (`excludedAttributes`
    /// the caller applies anyway), so a large group's members are not rendered for nothing.
    pub fn render(
        &self,
        object: &CsObject,
        base: &str,
        refs: &dyn ReferenceResolver,
        skip: &[AttrPath],
    ) -> Json {
        let mut resource = Map::new();
        let mut schemas = vec![Json::String(self.core_schema.clone())];
        resource.insert("id".into(), Json::String(object.anchor.clone()));
        resource.insert(
            self.anchor_scim.clone(),
            Json::String(object.anchor.clone()),
        );
        if self.has_active() {
            let active = match &self.active_attribute {
                Some(attribute) => !matches!(object.get(attribute), Some([Value::Boolean(false)])),
                None => true,
            };
            resource.insert("active".into(), Json::Bool(active));
        }
        let mut extensions: BTreeMap<&str, Map<String, Json>> = BTreeMap::new();
        let dn_value = [Value::String(object.dn.clone())];
        let rendered = |m: &&Mapped| m.readable() && !skip.iter().any(|p| self.skipped_by(m, p));
        for m in self.attributes.iter().filter(rendered) {
            let values = if m.is_dn() {
                &dn_value[..]
            } else {
                match object.get(&m.attribute) {
                    Some(values) => values,
                    None => continue,
                }
            };
            let complex = matches!(&m.target, Target::Core(t) if is_complex_reference(t));
            let render = |v: &Value| match (v, complex) {
                (Value::Reference(_), true) => reference_object(v, refs, base, m.multi_valued),
                // A plain SCIM reference is a URI: the referenced resource's location.
                (Value::Reference(raw), false) => Json::String(
                    refs.to_scim(v)
                        .map_or_else(|| raw.clone(), |t| t.location(base)),
                ),
                _ => value_to_json(v),
            };
            let value = if m.multi_valued {
                Json::Array(values.iter().map(render).collect())
            } else {
                match values.first() {
                    Some(v) => render(v),
                    None => continue,
                }
            };
            let (holder, name, sub, element) = match &m.target {
                Target::Extension => {
                    extensions
                        .entry(self.extension_urn.as_str())
                        .or_default()
                        .insert(m.attribute.clone(), value);
                    continue;
                }
                Target::Core(CoreTarget {
                    urn,
                    name,
                    sub,
                    element,
                }) => {
                    let holder = match urn {
                        None => &mut resource,
                        Some(urn) => extensions.entry(urn.as_str()).or_default(),
                    };
                    (holder, name, sub, element)
                }
            };
            match (sub, element) {
                (None, _) => {
                    holder.insert(name.clone(), value);
                }
                (Some(sub), None) => {
                    if let Json::Object(parent) =
                        holder.entry(name.clone()).or_insert_with(|| json!({}))
                    {
                        parent.insert(sub.clone(), value);
                    }
                }
                (Some(sub), Some((key, key_value))) => {
                    // Attributes mapped to the same element (work email value and display, say)
                    // share it.
                    if let Json::Array(elements) =
                        holder.entry(name.clone()).or_insert_with(|| json!([]))
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
        // An extension with no value is not used by the resource (and not in `schemas`).
        for (urn, attributes) in extensions {
            schemas.push(Json::String(urn.to_string()));
            resource.insert(urn.to_string(), Json::Object(attributes));
        }
        resource.insert("schemas".into(), Json::Array(schemas));
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

    /// Connector attributes from a SCIM resource. The anchor comes from the anchor's SCIM
    /// attribute. Reference ids become connector reference values; an id the host does not
    /// know is an error unless `current` (the object being changed) already holds it.
    pub fn from_resource(
        &self,
        resource: &Json,
        refs: &dyn ReferenceResolver,
        current: Option<&CsObject>,
    ) -> Result<(Value, Attributes), MappingError> {
        let name = &self.anchor_scim;
        let given = get_ci(resource, name)
            .ok_or_else(|| MappingError::InvalidValue(format!("{name} is required")))?;
        let anchor = json_to_value(given, self.anchor_type, name)?;
        if anchor.to_string().is_empty() {
            return Err(MappingError::InvalidValue(format!(
                "{name} must not be empty"
            )));
        }
        let mut out = Attributes::new();
        out.insert(self.anchor.clone(), vec![anchor.clone()]);
        // Import-only attributes are read-only (RFC 7643 §2.2: input values are ignored).
        for m in self.attributes.iter().filter(|m| m.writable()) {
            let found = match &m.target {
                Target::Extension => {
                    get_ci(resource, &self.extension_urn).and_then(|e| get_ci(e, &m.attribute))
                }
                Target::Core(CoreTarget {
                    urn,
                    name,
                    sub,
                    element,
                }) => {
                    let holder = match urn {
                        None => Some(resource),
                        Some(urn) => get_ci(resource, urn),
                    };
                    match (sub, element) {
                        (None, _) => holder.and_then(|h| get_ci(h, name)),
                        (Some(sub), None) => holder
                            .and_then(|h| get_ci(h, name))
                            .and_then(|p| get_ci(p, sub)),
                        (Some(sub), Some((key, key_value))) => holder
                            .and_then(|h| get_ci(h, name))
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
                    }
                }
            };
            let scim_name = match &m.target {
                Target::Extension => format!("{}:{}", self.extension_urn, m.attribute),
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
            };
            let convert = |item: &Json| -> Result<Value, MappingError> {
                if m.attribute_type != AttributeType::Reference {
                    return json_to_value(unwrap_value_object(item), m.attribute_type, &scim_name);
                }
                let (id, hint) = reference_id(item).ok_or_else(|| {
                    MappingError::InvalidValue(format!(
                        "{scim_name}: expected a reference with a `value`, got {item}"
                    ))
                })?;
                if let Some(value) = refs.to_connector(&id, hint.as_deref()) {
                    return Ok(value);
                }
                // A value the object already holds but the host cannot resolve (its target is
                // outside the connector space) is kept as it is.
                let held = Value::Reference(id.clone());
                if current
                    .and_then(|c| c.get(&m.attribute))
                    .is_some_and(|v| v.contains(&held))
                {
                    return Ok(held);
                }
                Err(MappingError::InvalidValue(format!(
                    "{scim_name}: no resource has id `{id}`"
                )))
            };
            let values = match found {
                None | Some(Json::Null) => continue,
                Some(Json::Array(items)) if m.multi_valued => {
                    items.iter().map(convert).collect::<Result<Vec<_>, _>>()?
                }
                Some(Json::Array(items)) if items.len() <= 1 => match items.first() {
                    Some(i) => vec![convert(i)?],
                    None => continue,
                },
                Some(Json::Array(_)) => {
                    return Err(MappingError::InvalidValue(format!(
                        "{scim_name} is single-valued; got several values"
                    )));
                }
                Some(v) => vec![convert(v)?],
            };
            if m.attribute == self.anchor {
                // Exposed read-only (it is the id): input values are ignored (RFC 7643 §2.2).
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

    /// Every connector attribute a SCIM request can change and the host exports: the anchor,
    /// `<dn>` and import-only attributes excluded.
    pub fn managed_attributes(&self) -> impl Iterator<Item = &str> {
        self.attributes
            .iter()
            .filter(|m| !m.is_dn() && m.writable())
            .map(|m| m.attribute.as_str())
            .filter(move |a| *a != self.anchor)
            .chain(self.active_attribute.as_deref())
    }

    /// Whether the connector space keeps this attribute of an imported object: the anchor and
    /// the attributes this mapping manages. Other columns the target reports are dropped, so an
    /// import reads back exactly what an export wrote (and versions stay put).
    pub fn keeps(&self, attribute: &str) -> bool {
        attribute == self.anchor
            || self.active_attribute.as_deref() == Some(attribute)
            || self
                .attributes
                .iter()
                .any(|m| m.attribute == attribute && !m.is_dn() && m.readable())
    }

    /// Whether the DN comes from the `<dn>` virtual attribute (the target's DN is kept).
    pub fn dn_is_virtual(&self) -> bool {
        self.attributes.iter().any(Mapped::is_dn)
    }
}

/// A reference value as `{value, $ref}`, plus `type` in a multi-valued one (`members`), as
/// RFC 7643 §4.2 and §4.3 shape them; `{value}` when the host cannot resolve it.
fn reference_object(
    value: &Value,
    refs: &dyn ReferenceResolver,
    base: &str,
    with_type: bool,
) -> Json {
    match refs.to_scim(value) {
        Some(t) if with_type => json!({
            "$ref": t.location(base),
            "value": t.id,
            "type": t.resource_type,
        }),
        Some(t) => json!({"$ref": t.location(base), "value": t.id}),
        None => json!({ "value": value.to_string() }),
    }
}

/// A resource location (`https://host/.../scim/Users/alice`) as `(id, "/Users")`.
fn split_location(location: &str) -> Option<(String, String)> {
    let mut segments = location.trim_end_matches('/').rsplit('/');
    let id = percent_encoding::percent_decode_str(segments.next()?)
        .decode_utf8()
        .ok()?
        .into_owned();
    let endpoint = segments.next()?;
    Some((id, format!("/{endpoint}")))
}

/// The id a SCIM reference names, and the resource type it says it is (`User`, or `/Users`
/// from a location): `"id"`, a location URI, `{"value": "id"}`, `{"value": "id", "type":
/// "User"}`, `{"value": "id", "$ref": "https://.../Users/id"}`.
fn reference_id(item: &Json) -> Option<(String, Option<String>)> {
    match item {
        Json::String(s) if s.contains("://") => {
            split_location(s).map(|(id, endpoint)| (id, Some(endpoint)))
        }
        Json::String(s) => Some((s.clone(), None)),
        Json::Object(_) => {
            let id = get_ci(item, "value")?.as_str()?.to_string();
            let hint = get_ci(item, "type")
                .and_then(Json::as_str)
                .map(str::to_string)
                .or_else(|| {
                    let location = get_ci(item, "$ref")?.as_str()?;
                    split_location(location).map(|(_, endpoint)| endpoint)
                });
            Some((id, hint))
        }
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AttributeConfig;
    use crate::space::ConnectorSpace;
    use ecma_plugin_api::SchemaAttribute;

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

    fn config() -> ResourceTypeConfig {
        ResourceTypeConfig {
            kind: ResourceKind::User,
            name: "User".into(),
            endpoint: "Users".into(),
            object_type: "User".into(),
            anchor: "Login".into(),
            anchor_scim: "userName".into(),
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
            disable: DisableFlow::SetAttribute {
                attribute: "IsActive".into(),
            },
            delete: crate::config::DeleteFlow::Delete,
        }
    }

    fn build(
        config: &ResourceTypeConfig,
        schema: &Schema,
    ) -> Result<ResourceMapping, MappingBuildError> {
        ResourceMapping::build("demo.toml", "", config, schema)
    }

    #[test]
    fn resource_round_trips_through_attributes() {
        let mapping = build(&config(), &schema()).unwrap();
        let ext = mapping.extension_urn().to_string();
        let resource = json!({
            "schemas": [SCHEMA_CORE_USER, ext],
            "userName": "alice",
            "active": "False",
            "name": {"givenName": "Alice"},
            ext.clone(): {"AzureID": "guid-1", "Dept.Code": "D1", "Age": "42"},
        });
        let (anchor, attrs) = mapping
            .from_resource(&resource, &NoReferences, None)
            .unwrap();
        assert_eq!(anchor, Value::String("alice".into()));
        assert_eq!(attrs["Age"], vec![Value::Integer(42)]);
        assert_eq!(attrs["IsActive"], vec![Value::Boolean(false)]);
        assert_eq!(attrs["FirstName"], vec![Value::String("Alice".into())]);

        let space = ConnectorSpace::new("AzureID");
        let object = space.object("alice".into(), mapping.dn_for("alice", &attrs), attrs);
        assert_eq!(object.dn, "CN=alice,OBJECT=USER");
        let back = mapping.to_resource(&object, "https://h/ecma2host_demo/scim", &NoReferences);
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
        let mapping = build(&c, &schema).unwrap();
        let resource = json!({
            "userName": "alice",
            "emails": [{"type": "Work", "value": "a@work"}, {"type": "home", "value": "a@home"}, {"type": "other", "value": "x"}]
        });
        let (_, attrs) = mapping
            .from_resource(&resource, &NoReferences, None)
            .unwrap();
        assert_eq!(attrs["Mail"], vec![Value::String("a@work".into())]);
        assert_eq!(attrs["Home"], vec![Value::String("a@home".into())]);
        let space = ConnectorSpace::new("AzureID");
        let object = space.object("alice".into(), "CN=alice".into(), attrs);
        let back = mapping.to_resource(&object, "https://h/x/scim", &NoReferences);
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
        let mapping = build(&config(), &schema()).unwrap();
        let ext = mapping.extension_urn().to_string();
        assert!(mapping
            .from_resource(&json!({"active": true}), &NoReferences, None)
            .is_err());
        let err = mapping
            .from_resource(
                &json!({"userName": "a", ext: {"Age": "old"}}),
                &NoReferences,
                None,
            )
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
        let err = build(&c, &schema()).unwrap_err().to_string();
        assert!(
            err.contains("attributes[4].name") && err.contains("Nope"),
            "{err}"
        );
        let mut c = config();
        c.disable = DisableFlow::SetAttribute {
            attribute: "FirstName".into(),
        };
        let err = build(&c, &schema()).unwrap_err().to_string();
        assert!(
            err.contains("disable_attribute") && err.contains("boolean"),
            "{err}"
        );
    }

    #[test]
    fn index_paths_are_recognised() {
        let mapping = build(&config(), &schema()).unwrap();
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

    /// Users `alice` and `bob`, referenced by anchor; `CN=<anchor>` as DN.
    struct TwoUsers;

    impl ReferenceResolver for TwoUsers {
        fn to_scim(&self, value: &Value) -> Option<RefTarget> {
            let raw = value.to_string();
            let id = raw.strip_prefix("CN=").unwrap_or(&raw);
            ["alice", "bob"].contains(&id).then(|| RefTarget {
                resource_type: "User".into(),
                endpoint: "Users".into(),
                id: id.to_string(),
            })
        }
        fn to_connector(&self, id: &str, resource_type: Option<&str>) -> Option<Value> {
            let fits = resource_type.is_none_or(|t| t == "User" || t == "/Users");
            (fits && ["alice", "bob"].contains(&id)).then(|| Value::Reference(format!("CN={id}")))
        }
    }

    fn group_schema() -> Schema {
        Schema {
            object_types: vec![ObjectTypeSchema {
                name: "Group".into(),
                anchor: vec!["Name".into()],
                attributes: vec![
                    SchemaAttribute::single("Name", AttributeType::String),
                    SchemaAttribute::multi("Member", AttributeType::Reference),
                    SchemaAttribute::single("Photo", AttributeType::Binary),
                    SchemaAttribute::multi("Tags", AttributeType::String),
                ],
            }],
        }
    }

    fn group_config() -> ResourceTypeConfig {
        ResourceTypeConfig {
            kind: ResourceKind::Group,
            name: "Group".into(),
            endpoint: "Groups".into(),
            object_type: "Group".into(),
            anchor: "Name".into(),
            anchor_scim: "displayName".into(),
            query_attribute: "Name".into(),
            password_attribute: None,
            dn: DnConfig::Autogenerated,
            attributes: vec![
                AttributeConfig {
                    name: "Member".into(),
                    scim: Some("members".into()),
                },
                AttributeConfig {
                    name: "Photo".into(),
                    scim: None,
                },
                AttributeConfig {
                    name: "Tags".into(),
                    scim: None,
                },
            ],
            disable: DisableFlow::None,
            delete: crate::config::DeleteFlow::Delete,
        }
    }

    #[test]
    fn group_members_translate_between_ids_and_connector_references() {
        let mapping = build(&group_config(), &group_schema()).unwrap();
        let ext = mapping.extension_urn().to_string();
        let resource = json!({
            "schemas": [SCHEMA_CORE_GROUP],
            "displayName": "Sales",
            // Entra's shape, a bare id, and scim2-tester's shape with `$ref` and `type`.
            "members": [{"value": "alice", "$ref": null}, "bob"],
            ext.clone(): {"Photo": "AAEC/w==", "Tags": ["a", "b"]},
        });
        let (anchor, attrs) = mapping.from_resource(&resource, &TwoUsers, None).unwrap();
        assert_eq!(anchor, Value::String("Sales".into()));
        assert_eq!(
            attrs["Member"],
            vec![
                Value::Reference("CN=alice".into()),
                Value::Reference("CN=bob".into())
            ]
        );
        assert_eq!(attrs["Photo"], vec![Value::Binary(vec![0, 1, 2, 255])]);
        assert_eq!(attrs["Tags"].len(), 2);

        let space = ConnectorSpace::new("Name");
        let object = space.object("Sales".into(), "CN=Sales".into(), attrs);
        let back = mapping.to_resource(&object, "https://h/x/scim", &TwoUsers);
        assert_eq!(back["schemas"], json!([SCHEMA_CORE_GROUP, ext]));
        assert_eq!(back["displayName"], "Sales");
        assert!(back.get("active").is_none(), "groups have no `active`");
        assert_eq!(
            back["members"][0],
            json!({"value": "alice", "$ref": "https://h/x/scim/Users/alice", "type": "User"})
        );
        assert_eq!(back[&ext]["Photo"], "AAEC/w==");
        assert_eq!(back[&ext]["Tags"], json!(["a", "b"]));
        assert_eq!(back["meta"]["location"], "https://h/x/scim/Groups/Sales");

        // What the mapping renders, it reads back unchanged (a PATCH that changes nothing).
        let (_, again) = mapping.from_resource(&back, &TwoUsers, None).unwrap();
        assert_eq!(again["Member"], object.get("Member").unwrap());

        // `excludedAttributes=members`: not even rendered.
        let without = mapping.render(
            &object,
            "https://h/x/scim",
            &TwoUsers,
            &[AttrPath::parse("members").unwrap()],
        );
        assert!(without.get("members").is_none());
        assert_eq!(without[&ext], back[&ext]);

        let unknown = json!({"displayName": "Sales", "members": [{"value": "carol"}]});
        let err = mapping
            .from_resource(&unknown, &TwoUsers, None)
            .unwrap_err();
        assert!(err.to_string().contains("carol"), "{err}");
        let wrong_type =
            json!({"displayName": "Sales", "members": [{"value": "alice", "type": "Group"}]});
        assert!(mapping.from_resource(&wrong_type, &TwoUsers, None).is_err());
    }

    #[test]
    fn a_dangling_member_renders_as_its_raw_value_and_is_kept() {
        let mapping = build(&group_config(), &group_schema()).unwrap();
        let space = ConnectorSpace::new("Name");
        let object = space.object(
            "Sales".into(),
            "CN=Sales".into(),
            [(
                "Member".to_string(),
                vec![Value::Reference("CN=gone".into())],
            )],
        );
        let back = mapping.to_resource(&object, "https://h/x/scim", &TwoUsers);
        assert_eq!(back["members"], json!([{"value": "CN=gone"}]));
        let (_, attrs) = mapping
            .from_resource(&back, &TwoUsers, Some(&object))
            .unwrap();
        assert_eq!(attrs["Member"], vec![Value::Reference("CN=gone".into())]);
    }

    #[test]
    fn enterprise_manager_and_the_dn_virtual_attribute_map() {
        let mut c = config();
        c.attributes.push(AttributeConfig {
            name: "Boss".into(),
            scim: Some(format!("{SCHEMA_ENTERPRISE_USER}:manager")),
        });
        c.attributes.push(AttributeConfig {
            name: "Number".into(),
            scim: Some(format!("{SCHEMA_ENTERPRISE_USER}:employeeNumber")),
        });
        c.attributes.push(AttributeConfig {
            name: DN_ATTRIBUTE.into(),
            scim: None,
        });
        let mut schema = schema();
        schema.object_types[0]
            .attributes
            .push(SchemaAttribute::single("Boss", AttributeType::Reference));
        schema.object_types[0]
            .attributes
            .push(SchemaAttribute::single("Number", AttributeType::Integer));
        let mapping = build(&c, &schema).unwrap();
        assert!(mapping.dn_is_virtual());
        let ext = mapping.extension_urn().to_string();
        let resource = json!({
            "userName": "carol",
            SCHEMA_ENTERPRISE_USER: {"manager": {"value": "alice"}, "employeeNumber": "7"},
            ext.clone(): {DN_ATTRIBUTE: "CN=carol,OU=Staff,DC=contoso"},
        });
        let (_, attrs) = mapping.from_resource(&resource, &TwoUsers, None).unwrap();
        assert_eq!(attrs["Boss"], vec![Value::Reference("CN=alice".into())]);
        assert_eq!(attrs["Number"], vec![Value::Integer(7)]);
        assert_eq!(
            mapping.dn_for("carol", &attrs),
            "CN=carol,OU=Staff,DC=contoso"
        );
        assert!(!mapping.managed_attributes().any(|a| a == DN_ATTRIBUTE));

        let space = ConnectorSpace::new("AzureID");
        let object = space.object(
            "carol".into(),
            "CN=carol,OU=Staff,DC=contoso".into(),
            attrs.into_iter().filter(|(n, _)| n != DN_ATTRIBUTE),
        );
        let back = mapping.to_resource(&object, "https://h/x/scim", &TwoUsers);
        assert_eq!(
            back[SCHEMA_ENTERPRISE_USER]["manager"],
            json!({"value": "alice", "$ref": "https://h/x/scim/Users/alice"})
        );
        assert_eq!(back[SCHEMA_ENTERPRISE_USER]["employeeNumber"], 7);
        assert_eq!(back[&ext][DN_ATTRIBUTE], "CN=carol,OU=Staff,DC=contoso");
        assert!(back["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(SCHEMA_ENTERPRISE_USER)));
    }

    #[test]
    fn import_only_is_read_only_and_export_only_is_write_only() {
        let mut c = config();
        for name in ["Created", "Secret"] {
            c.attributes.push(AttributeConfig {
                name: name.into(),
                scim: None,
            });
        }
        let mut schema = schema();
        schema.object_types[0].attributes.push(SchemaAttribute {
            direction: AttributeDirection::ImportOnly,
            ..SchemaAttribute::single("Created", AttributeType::String)
        });
        schema.object_types[0].attributes.push(SchemaAttribute {
            direction: AttributeDirection::ExportOnly,
            ..SchemaAttribute::single("Secret", AttributeType::String)
        });
        let mapping = build(&c, &schema).unwrap();
        let ext = mapping.extension_urn().to_string();
        let resource = json!({"userName": "alice", ext.clone(): {"Created": "x", "Secret": "s"}});
        let (_, attrs) = mapping
            .from_resource(&resource, &NoReferences, None)
            .unwrap();
        assert!(!attrs.contains_key("Created"), "read-only input is ignored");
        assert_eq!(attrs["Secret"], vec![Value::String("s".into())]);
        let managed: Vec<&str> = mapping.managed_attributes().collect();
        assert!(!managed.contains(&"Created") && managed.contains(&"Secret"));
        assert!(mapping.keeps("Created") && !mapping.keeps("Secret"));

        let space = ConnectorSpace::new("AzureID");
        let object = space.object(
            "alice".into(),
            "CN=alice".into(),
            [
                ("Created".to_string(), vec![Value::String("2026".into())]),
                ("Secret".to_string(), vec![Value::String("s".into())]),
            ],
        );
        let back = mapping.to_resource(&object, "https://h/x/scim", &NoReferences);
        assert_eq!(back[&ext]["Created"], "2026");
        assert!(
            back[&ext].get("Secret").is_none(),
            "write-only is never returned"
        );
    }
}
