//! Checks one resource type's config against the schema its library reports, and builds its mapping.

use super::*;

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
    if urn.is_none() && meta_time(&parsed.attr.name, parsed.attr.sub_attr.as_deref()).is_some() {
        // A target that keeps its own creation or change time: it wins over the host's.
        return Ok(CoreTarget {
            urn,
            name: parsed.attr.name,
            sub: parsed.attr.sub_attr,
            element: None,
        });
    }
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

/// Which of the host's timestamps `meta.created` or `meta.lastModified` names, if either.
pub(super) fn meta_time(name: &str, sub: Option<&str>) -> Option<MetaTime> {
    if !name.eq_ignore_ascii_case("meta") {
        return None;
    }
    match sub?.to_ascii_lowercase().as_str() {
        "created" => Some(MetaTime::Created),
        "lastmodified" => Some(MetaTime::LastModified),
        _ => None,
    }
}

/// Core paths a connector attribute may map to in this release.
pub fn check_core_path(path: &str) -> Result<(), String> {
    parse_core_target(path).map(|_| ())
}

fn type_of(object_type: &ObjectTypeSchema, attribute: &str) -> Option<(AttributeType, bool)> {
    if is_dn_name(attribute) {
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
        let mut anchor_type = AttributeType::String;
        // An import-only anchor is the target's to assign: no SCIM attribute carries it in.
        // The DN as the anchor (`-dn-`, an LDAP directory's): the target names the object, and
        // the id is its DN, which changes when the object is renamed.
        let dn_anchor = matches!(config.anchor_parts.as_slice(), [one] if is_dn_name(one));
        let assigned_anchor = match config.anchor_parts.as_slice() {
            [one] => {
                dn_anchor
                    || (type_of(object_type, one).is_some()
                        && direction_of(object_type, one) == AttributeDirection::ImportOnly)
            }
            _ => false,
        };
        let anchor_scim = if assigned_anchor {
            "id".to_string()
        } else {
            config.anchor_scim.clone()
        };
        for part in &config.anchor_parts {
            let (part_type, multi_valued) = type_of(object_type, part)
                .filter(|_| !is_dn_name(part) || dn_anchor)
                .ok_or_else(|| {
                    fail(
                        "anchor",
                        format!(
                            "`{part}` is not an attribute of {} (it has: {})",
                            object_type.name,
                            known()
                        ),
                    )
                })?;
            if multi_valued {
                return Err(fail(
                    "anchor",
                    format!("`{part}` is multi-valued, and an anchor names one object: choose a single-valued attribute"),
                ));
            }
            if config.anchor_parts.len() > 1 && !config.attributes.iter().any(|a| a.name == *part) {
                return Err(fail(
                    "anchor",
                    format!("`{part}` is part of a multi-attribute anchor, so SCIM requests must be able to give it: select it in `attributes`"),
                ));
            }
            if config.anchor_parts.len() == 1 {
                anchor_type = part_type;
            }
        }
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
        let mut meta_times = Vec::new();
        for (i, a) in config.attributes.iter().enumerate() {
            let collapsed =
                a.single_value && type_of(object_type, &a.name).is_some_and(|(_, multi)| multi);
            let (attribute_type, multi_valued) = type_of(object_type, &a.name)
                .map(|(t, multi)| (t, multi && !a.single_value))
                .ok_or_else(|| {
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
                    if let Some(time) = meta_time(&target.name, target.sub.as_deref()) {
                        if multi_valued
                            || !matches!(
                                attribute_type,
                                AttributeType::String | AttributeType::Integer
                            )
                        {
                            return Err(fail(
                                &format!("attributes[{i}].scim"),
                                format!("`{path}` needs a single-valued string (a date-time) or integer (Unix seconds); `{}` is not", a.name),
                            ));
                        }
                        // Read from the target, never written back: not a mapped attribute.
                        meta_times.push((time, a.name.clone()));
                        continue;
                    }
                    let taken = target.urn.is_none()
                        && target.sub.is_none()
                        && (target.name.eq_ignore_ascii_case(&anchor_scim)
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
                collapsed,
                attribute: if is_dn_name(&a.name) {
                    DN_ATTRIBUTE.to_string()
                } else {
                    a.name.clone()
                },
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
                    collapsed: false,
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
            if is_dn_name(attribute) && !attributes.iter().any(Mapped::is_dn) {
                attributes.push(Mapped {
                    collapsed: false,
                    attribute: DN_ATTRIBUTE.to_string(),
                    attribute_type: AttributeType::String,
                    multi_valued: false,
                    direction: AttributeDirection::ImportExport,
                    target: Target::Extension,
                });
            }
        }
        // With the DN as the anchor, the DN is the target's: imports keep it, exports learn it.
        if dn_anchor && !attributes.iter().any(Mapped::is_dn) {
            attributes.push(Mapped {
                collapsed: false,
                attribute: DN_ATTRIBUTE.to_string(),
                attribute_type: AttributeType::String,
                multi_valued: false,
                direction: AttributeDirection::ImportExport,
                target: Target::Extension,
            });
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
            anchor: match dn_anchor {
                true => DN_ATTRIBUTE.to_string(),
                false => config.anchor.clone(),
            },
            anchor_parts: match dn_anchor {
                true => vec![DN_ATTRIBUTE.to_string()],
                false => config.anchor_parts.clone(),
            },
            dn_anchor,
            meta_times,
            anchor_type,
            anchor_scim,
            assigned_anchor,
            query_attribute: config.query_attribute.clone(),
            attributes,
            active_attribute,
            dn: config.dn.clone(),
        })
    }
}
