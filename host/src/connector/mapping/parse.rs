//! A SCIM resource as connector attributes (lenient on input, as Entra sends it).

use super::*;

impl ResourceMapping {
    /// Connector attributes from a SCIM resource. The anchor comes from the anchor's SCIM
    /// attribute. Reference ids become connector reference values; an id the host does not
    /// know is an error unless `current` (the object being changed) already holds it.
    pub fn from_resource(
        &self,
        resource: &Json,
        refs: &dyn ReferenceResolver,
        current: Option<&CsObject>,
    ) -> Result<(Value, Attributes), MappingError> {
        let mut out = Attributes::new();
        let anchor = if self.compound_anchor() {
            // Filled in below from the parts, which are ordinary attributes.
            Value::String(String::new())
        } else if self.assigned_anchor {
            // The target's own value: the object's, or none yet for a create.
            match current {
                Some(object) => {
                    let value = json_to_value(
                        &Json::String(object.anchor.clone()),
                        self.anchor_type,
                        "id",
                    )?;
                    // A DN anchor is not an attribute: the request's `-dn-` (a rename) stays.
                    if !self.dn_anchor {
                        out.insert(self.anchor.clone(), vec![value.clone()]);
                    }
                    value
                }
                None => Value::String(String::new()),
            }
        } else {
            let name = &self.anchor_scim;
            let given = get_ci(resource, name)
                .ok_or_else(|| MappingError::InvalidValue(format!("{name} is required")))?;
            let anchor = json_to_value(given, self.anchor_type, name)?;
            if anchor.to_string().is_empty() {
                return Err(MappingError::InvalidValue(format!(
                    "{name} must not be empty"
                )));
            }
            out.insert(self.anchor.clone(), vec![anchor.clone()]);
            anchor
        };
        // Import-only attributes are read-only (RFC 7643 §2.2: input values are ignored).
        for m in self.attributes.iter().filter(|m| m.writable()) {
            let found = match &m.target {
                // A client that names the DN by its alias means it, even next to the name
                // the host rendered (a PATCH of `<dn>` applied to a rendered resource).
                Target::Extension if m.is_dn() => get_ci(resource, &self.extension_urn)
                    .and_then(|e| get_ci(e, DN_ALIAS).or_else(|| get_ci(e, DN_ATTRIBUTE))),
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
            let scim_name = m.scim_name(&self.extension_urn);
            let convert = |item: &Json| self.convert_item(m, item, refs, current, &scim_name);
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
            if m.attribute == self.anchor && !self.compound_anchor() && !self.dn_anchor {
                // Exposed read-only (it is the id): input values are ignored (RFC 7643 §2.2).
                // A DN anchor is the exception: a new `-dn-` renames the object.
                continue;
            }
            // One value of a collapsed attribute that the object already has: keep them all.
            let values = match current.and_then(|c| c.get(&m.attribute)) {
                Some(held) if m.collapsed && values.len() == 1 && held.contains(&values[0]) => {
                    held.to_vec()
                }
                _ => values,
            };
            if !values.is_empty() {
                out.insert(m.attribute.clone(), values);
            }
        }
        let anchor = if self.compound_anchor() {
            let mut parts = Vec::new();
            for part in &self.anchor_parts {
                let m = self.attributes.iter().find(|m| m.attribute == *part);
                let value = out
                    .get(part)
                    .and_then(|v| v.first())
                    .filter(|v| !v.to_string().is_empty());
                match (value, m) {
                    (Some(v), _) => parts.push(v),
                    (None, m) => {
                        let name =
                            m.map_or_else(|| part.clone(), |m| m.scim_name(&self.extension_urn));
                        return Err(MappingError::InvalidValue(format!(
                            "{name} is required: it is part of the anchor"
                        )));
                    }
                }
            }
            Value::String(compound_id(parts))
        } else {
            anchor
        };
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
}

impl ResourceMapping {
    /// One SCIM value of `m` as a connector value: a reference id becomes the connector's
    /// reference value (an id the host does not know is an error unless `current` already
    /// holds it), anything else is converted by the attribute's type.
    pub(super) fn convert_item(
        &self,
        m: &Mapped,
        item: &Json,
        refs: &dyn ReferenceResolver,
        current: Option<&CsObject>,
        scim_name: &str,
    ) -> Result<Value, MappingError> {
        if m.attribute_type != AttributeType::Reference {
            return json_to_value(unwrap_value_object(item), m.attribute_type, scim_name);
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
