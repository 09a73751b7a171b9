//! A connector object as a SCIM resource.

use super::*;

impl ResourceMapping {
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
                "created": self.target_time(object, MetaTime::Created)
                    .unwrap_or_else(|| timestamp(object.created)),
                "lastModified": self.target_time(object, MetaTime::LastModified)
                    .unwrap_or_else(|| timestamp(object.modified)),
                "location": format!("{base}/{}/{}", self.endpoint, percent_encode(&object.anchor)),
                "version": object.etag(),
            }),
        );
        Json::Object(resource)
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

impl ResourceMapping {
    /// The target's own value for one of `meta`'s times, where the config maps one and the
    /// object has a value the host can read as a time: an RFC 3339 date-time, an SQL
    /// `YYYY-MM-DD HH:MM:SS[.fff]` (taken as UTC), or Unix seconds.
    fn target_time(&self, object: &CsObject, which: MetaTime) -> Option<String> {
        let (_, attribute) = self.meta_times.iter().find(|(t, _)| *t == which)?;
        let value = object.get(attribute)?.first()?;
        let utc = match value {
            Value::Integer(seconds) => chrono::DateTime::from_timestamp(*seconds, 0)?,
            Value::String(text) => match chrono::DateTime::parse_from_rfc3339(text.trim()) {
                Ok(t) => t.with_timezone(&chrono::Utc),
                Err(_) => {
                    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f")
                        .ok()?
                        .and_utc()
                }
            },
            _ => return None,
        };
        Some(utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

/// Unix milliseconds as an RFC 7643 §2.3.5 dateTime (`2026-12-02T01:02:03.004Z`).
fn timestamp(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
