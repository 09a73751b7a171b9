//! One resource type of a running connector (Users, Groups, a custom type): list, read,
//! create, PATCH, PUT and DELETE, with the deprovisioning flows and initial passwords.
//!
//! Architecture invariants (see the parent module): the connector space changes only after
//! the target confirmed the change; changes to one object are serialised by its lock.

use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, CsEntryChange, ExportErrorKind,
    ExportType, ObjectModification, PasswordOptions, PasswordTarget, Secret, Value, ValueChange,
    ValueModification, NEW_DN_ATTRIBUTE,
};
use ecma_scim::{apply_patch, AttrPath, Filter, PatchOp};
use serde_json::Value as Json;

use super::mapping::{self, Attributes, MappingError, ResourceMapping, DN_ATTRIBUTE};
use super::{ConnectorRuntime, ListQuery, PatchOutcome, ResourceType, RuntimeError, TypeState};
use crate::config::{DeleteFlow, DisableFlow};
use crate::space::CsObject;

/// A view of one resource type of a connector: what the SCIM handlers call.
#[derive(Clone, Copy)]
pub struct Resources<'a> {
    runtime: &'a ConnectorRuntime,
    index: usize,
}

impl<'a> Resources<'a> {
    pub(super) fn new(runtime: &'a ConnectorRuntime, index: usize) -> Self {
        Self { runtime, index }
    }

    fn t(&self) -> &'a ResourceType {
        &self.runtime.types[self.index]
    }

    fn state(&self) -> &'a TypeState {
        &self.runtime.shared.spaces[self.index]
    }

    pub fn mapping(&self) -> &'a ResourceMapping {
        &self.t().mapping
    }

    /// The SCIM resource for `object`, with references translated to SCIM ids.
    pub fn to_resource(&self, object: &CsObject, base: &str) -> Json {
        self.mapping().to_resource(object, base, self.runtime)
    }

    /// The SCIM resource for `object` without the top-level attributes in `skip` (which the
    /// caller would drop anyway): a large group's members are not rendered for nothing.
    pub fn to_resource_without(&self, object: &CsObject, base: &str, skip: &[AttrPath]) -> Json {
        self.mapping().render(object, base, self.runtime, skip)
    }

    pub fn get(&self, id: &str) -> Result<Arc<CsObject>, RuntimeError> {
        self.runtime.check_available()?;
        self.lookup(id)
    }

    fn lookup(&self, id: &str) -> Result<Arc<CsObject>, RuntimeError> {
        self.state()
            .space
            .get(id)
            .ok_or_else(|| RuntimeError::NotFound { id: id.to_string() })
    }

    /// Resources matching the query, sorted (by anchor unless `sort_by` is given) and paged:
    /// `(page, total)`.
    pub fn list(&self, query: &ListQuery, base: &str) -> Result<(Vec<Json>, usize), RuntimeError> {
        let filter = query.filter.as_ref();
        let candidates = self.candidates(filter)?;
        let start = query.start_index.max(1) - 1;
        let skip = query.skippable();
        if filter.is_none() && query.sort_by.is_none() {
            // Nothing to evaluate: render only the page.
            let total = candidates.len();
            let page = candidates
                .iter()
                .skip(start)
                .take(query.count)
                .map(|o| self.mapping().render(o, base, self.runtime, &skip))
                .collect();
            return Ok((page, total));
        }
        let mut matched = self.matching(candidates, filter, base, &skip);
        sort_resources(&mut matched, query);
        let total = matched.len();
        let page = matched.into_iter().skip(start).take(query.count).collect();
        Ok((page, total))
    }

    /// The objects a filter may match, in anchor order: from an index when the filter allows,
    /// else all of them.
    fn candidates(&self, filter: Option<&Filter>) -> Result<Vec<Arc<CsObject>>, RuntimeError> {
        self.runtime.check_available()?;
        let mut candidates = filter
            .and_then(|f| self.index_candidates(f))
            .unwrap_or_else(|| self.state().space.snapshot());
        candidates.sort_by(|a, b| a.anchor.cmp(&b.anchor));
        Ok(candidates)
    }

    /// Every resource that matches `filter`, in anchor order (`candidates` come sorted).
    fn matching(
        &self,
        candidates: Vec<Arc<CsObject>>,
        filter: Option<&Filter>,
        base: &str,
        skip: &[AttrPath],
    ) -> Vec<Json> {
        let case_exact =
            |p: &ecma_scim::AttrPath| p.urn.is_none() && p.name.eq_ignore_ascii_case("id");
        candidates
            .iter()
            .map(|o| self.mapping().render(o, base, self.runtime, skip))
            .filter(|r| filter.is_none_or(|f| f.matches(r, &case_exact)))
            .collect()
    }

    /// Every resource of this type that matches the query's filter, unsorted by the query and
    /// unpaged (a root search merges these across resource types).
    pub fn all_matching(&self, query: &ListQuery, base: &str) -> Result<Vec<Json>, RuntimeError> {
        let filter = query.filter.as_ref();
        let candidates = self.candidates(filter)?;
        Ok(self.matching(candidates, filter, base, &query.skippable()))
    }

    /// Candidates from an index when the filter ANDs an `eq` on the anchor or query attribute.
    fn index_candidates(&self, filter: &Filter) -> Option<Vec<Arc<CsObject>>> {
        filter
            .equality_terms()
            .into_iter()
            .find_map(|(path, value)| {
                let is_anchor = self.mapping().indexed_path(path)?;
                let value = match value {
                    Json::String(s) => Value::String(s.clone()),
                    Json::Number(n) => Value::Integer(n.as_i64()?),
                    Json::Bool(b) => Value::Boolean(*b),
                    _ => return None,
                };
                Some(if is_anchor {
                    self.state().space.find_by_anchor(&value.to_string())
                } else {
                    self.state().space.find_by_query(&value)
                })
            })
    }

    /// POST: export an Add, then record the object.
    pub async fn create(&self, resource: &Json) -> Result<Arc<CsObject>, RuntimeError> {
        self.runtime.check_available()?;
        let (anchor_value, mut attributes) =
            self.mapping().from_resource(resource, self.runtime, None)?;
        let assigned = self.mapping().assigned_anchor();
        let anchor = match assigned {
            // Not an id yet: the target assigns it. The key only serialises this create.
            true => format!("\u{0}create-{}", rand::random::<u64>()),
            false => ResourceMapping::anchor_string(&anchor_value),
        };
        let _guard = self.state().locks.lock(&anchor).await;
        if !assigned
            && (self.state().space.contains(&anchor)
                || !self.state().space.find_by_anchor(&anchor).is_empty())
        {
            return Err(RuntimeError::AlreadyExists {
                attribute: self.mapping().anchor_scim().to_string(),
                id: anchor,
            });
        }
        let anchor_attributes = match assigned {
            true => Vec::new(),
            false => self.mapping().anchor_attributes(&anchor_value, &attributes),
        };
        // The anchor travels as the entry's anchor, not as attribute changes.
        let parts: Vec<(String, Vec<Value>)> = self
            .mapping()
            .anchor_parts()
            .iter()
            // A DN anchor is the request's `-dn-` (if any), which names the new object.
            .filter(|_| !self.mapping().dn_anchor())
            .filter_map(|p| attributes.remove_entry(p))
            .collect();
        let dn = self.mapping().dn_for(&anchor, &attributes);
        attributes.remove(DN_ATTRIBUTE);
        // ECMA2's "no reference values in first export pass": the Add goes without its
        // references, which follow in an Update once the object exists.
        let second_pass: Vec<AttributeChange> = if self
            .runtime
            .capabilities
            .no_reference_values_in_first_export_pass
        {
            let references: Vec<String> = self
                .mapping()
                .reference_attributes()
                .map(str::to_string)
                .collect();
            references
                .iter()
                .filter_map(|name| attributes.get(name).map(|v| (name, v.clone())))
                .map(|(name, values)| {
                    AttributeChange::set(name.clone(), AttributeModification::Replace, values)
                })
                .collect()
        } else {
            Vec::new()
        };
        let changes = attributes
            .iter()
            .filter(|(name, _)| !second_pass.iter().any(|c| &c.name == *name))
            .map(|(name, values)| {
                AttributeChange::set(name.clone(), AttributeModification::Add, values.clone())
            })
            .collect();
        let result = self
            .export_entry(
                ObjectModification::Add,
                anchor_attributes.clone(),
                &dn,
                changes,
            )
            .await?;
        // A target that names new objects itself (an LDAP DN template) says which DN it gave.
        let (given_dn, result): (Vec<AnchorAttribute>, Vec<AnchorAttribute>) =
            result.into_iter().partition(|a| a.name == NEW_DN_ATTRIBUTE);
        let dn = given_dn
            .into_iter()
            .find_map(|a| a.value.as_str().map(str::to_string))
            .unwrap_or(dn);
        if !second_pass.is_empty() {
            let (modification, second_pass) = match self.runtime.capabilities.export_type {
                // The whole object, as an ObjectReplace connector expects.
                ExportType::ObjectReplace => (
                    ObjectModification::Replace,
                    attributes
                        .iter()
                        .map(|(name, values)| {
                            AttributeChange::set(
                                name.clone(),
                                AttributeModification::Replace,
                                values.clone(),
                            )
                        })
                        .collect(),
                ),
                _ => (ObjectModification::Update, second_pass),
            };
            let anchor_now = match result.first() {
                Some(_) if !self.mapping().compound_anchor() => result.clone(),
                _ => anchor_attributes,
            };
            if let Err(e) = self
                .export_entry(modification, anchor_now.clone(), &dn, second_pass)
                .await
            {
                // No object without the references the request gave: undo the Add.
                let undo = self
                    .export_entry(ObjectModification::Delete, anchor_now, &dn, Vec::new())
                    .await;
                if let Err(undo) = undo {
                    tracing::error!(connector = %self.runtime.config.name, id = %anchor, error = %undo, "could not undo an add whose references failed");
                }
                return Err(e);
            }
        }
        attributes.extend(parts);
        // The target may assign the anchor (an identity column, say).
        let anchor = match result.into_iter().next() {
            // The DN is the anchor: the one the target gave (a template's) or the request's.
            _ if self.mapping().dn_anchor() => dn.clone(),
            Some(a) if !self.mapping().compound_anchor() => {
                let id = ResourceMapping::anchor_string(&a.value);
                attributes.insert(self.mapping().anchor().to_string(), vec![a.value]);
                id
            }
            _ if assigned => {
                return Err(RuntimeError::Export {
                    kind: ExportErrorKind::ConnectedDirectoryError,
                    message: format!(
                    "the connector created the object but returned no `{}`, the anchor it assigns",
                    self.mapping().anchor()
                ),
                })
            }
            _ => anchor,
        };
        // Export-only values went to the target; the connector space never holds them.
        attributes.retain(|name, _| self.mapping().keeps(name));
        let object = self.state().space.object(anchor, dn, attributes);
        if let Err(e) = self.set_initial_password(&object, resource).await {
            // No half-created user: undo the Add, then report why.
            if let Err(undo) = self.delete_locked(&object).await {
                tracing::error!(connector = %self.runtime.config.name, id = %object.anchor, error = %undo, "could not undo an add whose password failed");
            }
            return Err(e);
        }
        self.state().mark_dirty(&object.anchor);
        Ok(self.state().space.upsert(object))
    }

    /// PATCH: apply the operations to the resource, export what changed (or delete, per the
    /// disable flow), then record the new state. A PATCH that changes nothing exports nothing.
    pub async fn patch(
        &self,
        id: &str,
        ops: &[PatchOp],
        if_match: Option<&str>,
        base: &str,
    ) -> Result<PatchOutcome, RuntimeError> {
        self.runtime.check_available()?;
        let applied = {
            let _guard = self.state().locks.lock(id).await;
            let current = self.lookup(id)?;
            self.check_version(&current, if_match)?;
            if let Some(changes) = self.mapping().value_changes(ops, self.runtime, &current) {
                return self.apply_value_changes(current, changes).await;
            }
            let mut resource = self.mapping().to_resource(&current, base, self.runtime);
            apply_patch(&mut resource, ops)?;
            self.apply_resource(current, &resource).await?
        };
        Ok(self.finish(applied).await)
    }

    /// After the object's lock is released: references to a renamed object follow it. (Under
    /// the lock, two renames of objects that reference each other would wait on each other.)
    async fn finish(&self, (outcome, renamed_from): Applied) -> PatchOutcome {
        if let (Some(old), PatchOutcome::Updated(new)) = (&renamed_from, &outcome) {
            self.runtime.follow_rename(old, new).await;
        }
        outcome
    }

    /// A PATCH that only adds or removes values of multi-valued attributes: export exactly
    /// those value changes (`Update` with value adds and deletes for an AttributeUpdate
    /// connector, the new value list for AttributeReplace, the whole object for ObjectReplace),
    /// then change those values in the connector space. Nothing is rendered or diffed, so a
    /// member added to a group costs the same at 100 members as at 100,000.
    async fn apply_value_changes(
        &self,
        current: Arc<CsObject>,
        changes: Vec<AttributeChange>,
    ) -> Result<PatchOutcome, RuntimeError> {
        if changes.is_empty() {
            return Ok(PatchOutcome::Updated(current));
        }
        let exported = match self.runtime.capabilities.export_type {
            ExportType::AttributeUpdate => changes.clone(),
            ExportType::AttributeReplace => changes
                .iter()
                .map(|c| {
                    let mut values = current.get(&c.name).unwrap_or(&[]).to_vec();
                    for v in &c.values {
                        match v.modification {
                            ValueModification::Add => values.push(v.value.clone()),
                            ValueModification::Delete => values.retain(|x| x != &v.value),
                        }
                    }
                    AttributeChange::set(c.name.clone(), AttributeModification::Replace, values)
                })
                .collect(),
            ExportType::ObjectReplace => {
                let mut merged = current.attribute_map();
                for c in &changes {
                    let values = merged.entry(c.name.clone()).or_default();
                    for v in &c.values {
                        match v.modification {
                            ValueModification::Add => values.push(v.value.clone()),
                            ValueModification::Delete => values.retain(|x| x != &v.value),
                        }
                    }
                }
                self.mapping()
                    .managed_attributes()
                    .map(|a| match merged.get(a).filter(|v| !v.is_empty()) {
                        Some(v) => {
                            AttributeChange::set(a, AttributeModification::Replace, v.clone())
                        }
                        None => AttributeChange::delete(a),
                    })
                    .collect()
            }
        };
        let modification = match self.runtime.capabilities.export_type {
            ExportType::ObjectReplace => ObjectModification::Replace,
            _ => ObjectModification::Update,
        };
        let (anchor_value, anchor, dn) = (
            self.anchor_of(&current),
            current.anchor.clone(),
            current.dn.clone(),
        );
        self.export_entry(modification, anchor_value, &dn, exported)
            .await?;
        // No reader of ours holds the object while the space changes it: it can change in place.
        drop(current);
        let kept: Vec<(&str, &[ValueChange])> = changes
            .iter()
            .filter(|c| self.mapping().keeps(&c.name))
            .map(|c| (c.name.as_str(), c.values.as_slice()))
            .collect();
        self.state().mark_dirty(&anchor);
        self.state()
            .space
            .update_values(&anchor, &kept)
            .map(PatchOutcome::Updated)
            .ok_or(RuntimeError::NotFound { id: anchor })
    }

    /// PUT: replace the resource with `resource` (attributes it leaves out are cleared).
    pub async fn replace(
        &self,
        id: &str,
        resource: &Json,
        if_match: Option<&str>,
    ) -> Result<PatchOutcome, RuntimeError> {
        self.runtime.check_available()?;
        let applied = {
            let _guard = self.state().locks.lock(id).await;
            let current = self.lookup(id)?;
            self.check_version(&current, if_match)?;
            self.apply_resource(current, resource).await?
        };
        Ok(self.finish(applied).await)
    }

    /// `If-Match`: the client's version must be the current one.
    fn check_version(
        &self,
        current: &CsObject,
        if_match: Option<&str>,
    ) -> Result<(), RuntimeError> {
        match if_match {
            Some(wanted)
                if wanted.trim() != "*"
                    && !wanted.split(',').any(|v| v.trim() == current.etag()) =>
            {
                Err(RuntimeError::VersionMismatch {
                    id: current.anchor.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Make the object look like `resource`: export what changed (or delete, per the disable
    /// flow), then record the new state. A resource that changes nothing exports nothing. A
    /// new anchor or DN is a rename, exported in the same entry when the connector declares
    /// `object_rename`. The caller holds the object's lock.
    async fn apply_resource(
        &self,
        current: Arc<CsObject>,
        resource: &Json,
    ) -> Result<Applied, RuntimeError> {
        if self.t().config.disable == DisableFlow::Delete
            && ResourceMapping::is_deactivated(resource)?
        {
            self.delete_locked(&current).await?;
            return Ok((PatchOutcome::Deleted, None));
        }
        let (anchor_value, mut wanted) =
            self.mapping()
                .from_resource(resource, self.runtime, Some(&current))?;
        let mut rename = self.rename_of(&current, &anchor_value, &mut wanted)?;
        // The new anchor is locked too, so that no create or other rename takes it meanwhile.
        let _new_guard = match &rename.anchor {
            Some(new) if new.to_lowercase() != current.anchor.to_lowercase() => {
                Some(self.state().locks.lock(new).await)
            }
            _ => None,
        };
        if let Some(new) = &rename.anchor {
            self.check_free(new, &current)?;
        }
        let mut changes = self.diff(&current, &wanted);
        // A password in a PATCH or PUT is set through the password call, never stored.
        self.set_initial_password(&current, resource).await?;
        if changes.is_empty() && rename.is_none() {
            return Ok((PatchOutcome::Updated(current), None));
        }
        let mut exported = if self.runtime.capabilities.export_type == ExportType::ObjectReplace {
            // Export-only values the request did not send are unknown, not removed.
            self.mapping()
                .managed_attributes()
                .filter_map(|a| match wanted.get(a) {
                    Some(v) => Some(AttributeChange::set(
                        a,
                        AttributeModification::Replace,
                        v.clone(),
                    )),
                    None if self.mapping().keeps(a) => Some(AttributeChange::delete(a)),
                    None => None,
                })
                .collect()
        } else {
            changes.clone()
        };
        // A multi-attribute anchor's new parts are already among the changes.
        if rename.anchor.is_some() && !self.mapping().compound_anchor() {
            let change = AttributeChange::set(
                self.mapping().anchor(),
                AttributeModification::Replace,
                vec![anchor_value.clone()],
            );
            exported.push(change.clone());
            changes.push(change);
        }
        if let Some(dn) = &rename.dn {
            exported.push(AttributeChange::set(
                NEW_DN_ATTRIBUTE,
                AttributeModification::Replace,
                vec![Value::String(dn.clone())],
            ));
        }
        let modification = match self.runtime.capabilities.export_type {
            ExportType::ObjectReplace => ObjectModification::Replace,
            _ => ObjectModification::Update,
        };
        let result = self
            .export_entry(
                modification,
                self.anchor_of(&current),
                &current.dn,
                exported,
            )
            .await?;
        // A target that renames on its own (a changed LDAP naming attribute) says where the
        // object went: that is a rename too, and references follow it.
        if rename.dn.is_none() {
            rename.dn = result
                .iter()
                .filter(|a| a.name == NEW_DN_ATTRIBUTE)
                .find_map(|a| a.value.as_str().map(str::to_string))
                .filter(|dn| *dn != current.dn);
        }
        // With the DN as the anchor, a new DN is a new anchor (and id).
        if self.mapping().dn_anchor() {
            rename.anchor = rename.dn.clone();
        }
        let mut merged: Attributes = current.attribute_map();
        for change in changes.iter().filter(|c| self.mapping().keeps(&c.name)) {
            match change.modification {
                AttributeModification::Delete => {
                    merged.remove(&change.name);
                }
                _ => {
                    merged.insert(
                        change.name.clone(),
                        change.added_values().cloned().collect(),
                    );
                }
            }
        }
        let anchor = rename
            .anchor
            .clone()
            .unwrap_or_else(|| current.anchor.clone());
        let dn = rename.dn.clone().unwrap_or_else(|| current.dn.clone());
        let object = self.state().space.object(anchor, dn, merged);
        // A sync running now may have read the target before this change: it leaves it alone.
        self.state().mark_dirty(&current.anchor);
        if rename.is_none() {
            return Ok((
                PatchOutcome::Updated(self.state().space.upsert(object)),
                None,
            ));
        }
        self.state().mark_dirty(&object.anchor);
        let object = self.state().space.rename(&current.anchor, object);
        tracing::info!(connector = %self.runtime.config.name, resource_type = self.mapping().resource_type(), from = %current.anchor, to = %object.anchor, dn = %object.dn, "renamed");
        Ok((PatchOutcome::Updated(object), Some(current)))
    }

    /// What a change of `current` to `anchor_value` and `wanted` renames: a new anchor, a new
    /// DN (from `-dn-`, or regenerated when the host generated the old one from the anchor).
    /// Refused with `mutability` when the connector cannot rename. Takes `-dn-` out of `wanted`.
    fn rename_of(
        &self,
        current: &CsObject,
        anchor_value: &Value,
        wanted: &mut Attributes,
    ) -> Result<Rename, RuntimeError> {
        let new_anchor = ResourceMapping::anchor_string(anchor_value);
        let anchor = (new_anchor != current.anchor).then_some(new_anchor);
        let mut dn = wanted
            .remove(DN_ATTRIBUTE)
            .and_then(|v| v.first().map(Value::to_string))
            .filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case(&current.dn));
        if let (Some(new), None, false) = (&anchor, &dn, self.mapping().dn_is_virtual()) {
            // A DN the host made from the old anchor follows the anchor.
            let mapping = self.mapping();
            if mapping.dn_for(&current.anchor, &current.attribute_map()) == current.dn {
                dn = Some(mapping.dn_for(new, wanted)).filter(|d| *d != current.dn);
            }
        }
        let rename = Rename { anchor, dn };
        if !rename.is_none() && !self.runtime.capabilities.object_rename {
            let what = match &rename.anchor {
                Some(new) => format!(
                    "changing {} from `{}` to `{new}`",
                    self.mapping().anchor_scim(),
                    current.anchor
                ),
                None => format!("changing {DN_ATTRIBUTE}"),
            };
            let why = match self.runtime.config.object_rename {
                Some(false) => "renames are turned off in its file (`object_rename = false`)",
                _ => "its library does not declare the object_rename capability",
            };
            return Err(MappingError::Mutability(format!(
                "{what} renames the object, and connector '{}' cannot rename: {why}",
                self.runtime.config.name
            ))
            .into());
        }
        Ok(rename)
    }

    /// A rename's new anchor must not belong to another object (in any case).
    fn check_free(&self, anchor: &str, current: &CsObject) -> Result<(), RuntimeError> {
        let space = &self.state().space;
        let taken = space
            .get(anchor)
            .into_iter()
            .chain(space.find_by_anchor(anchor));
        if taken.into_iter().any(|o| o.anchor != current.anchor) {
            return Err(RuntimeError::AlreadyExists {
                attribute: self.mapping().anchor_scim().to_string(),
                id: anchor.to_string(),
            });
        }
        Ok(())
    }

    /// The anchor attributes an entry change names `object` by.
    fn anchor_of(&self, object: &CsObject) -> Vec<AnchorAttribute> {
        self.mapping().anchor_of(object)
    }

    /// After `old` was renamed to `new` (in another resource type, or this one): every object
    /// of this type whose reference attributes hold `from` gets `to` instead, in the target
    /// and then in the connector space. A failure is logged; the rename itself stands.
    pub(super) async fn replace_references(&self, from: &str, to: &str) {
        let attributes: Vec<&str> = self.mapping().reference_attributes().collect();
        if attributes.is_empty() {
            return;
        }
        // A holder may itself be renamed meanwhile (it is then found again under its new
        // anchor): a few passes until no holder is left or none moved.
        for _ in 0..3 {
            let mut moved = false;
            for holder in self.state().space.referencing(&attributes, from) {
                let _guard = self.state().locks.lock(&holder.anchor).await;
                // Re-read under the lock: a request may have changed it meanwhile.
                let Some(current) = self.state().space.get(&holder.anchor) else {
                    moved = true;
                    continue;
                };
                if let Err(e) = self
                    .replace_reference_locked(&current, &attributes, from, to)
                    .await
                {
                    tracing::warn!(connector = %self.runtime.config.name, id = %current.anchor, from, to, error = %e, "could not update a reference to a renamed object");
                }
            }
            if !moved {
                break;
            }
        }
    }

    async fn replace_reference_locked(
        &self,
        current: &CsObject,
        attributes: &[&str],
        from: &str,
        to: &str,
    ) -> Result<(), RuntimeError> {
        let is_from = |v: &Value| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(from));
        let mut merged = current.attribute_map();
        let mut exported = Vec::new();
        for attribute in attributes {
            let Some(values) = merged.get_mut(*attribute) else {
                continue;
            };
            let Some(old) = values.iter().find(|v| is_from(v)).cloned() else {
                continue;
            };
            values.retain(|v| !is_from(v));
            let new = Value::Reference(to.to_string());
            if !values.contains(&new) {
                values.push(new.clone());
            }
            exported.push(match self.runtime.capabilities.export_type {
                ExportType::AttributeUpdate => AttributeChange {
                    name: attribute.to_string(),
                    modification: AttributeModification::Update,
                    values: vec![
                        ValueChange {
                            modification: ValueModification::Delete,
                            value: old,
                        },
                        ValueChange {
                            modification: ValueModification::Add,
                            value: new,
                        },
                    ],
                },
                _ => {
                    AttributeChange::set(*attribute, AttributeModification::Replace, values.clone())
                }
            });
        }
        if exported.is_empty() {
            return Ok(());
        }
        let modification = match self.runtime.capabilities.export_type {
            ExportType::ObjectReplace => {
                // The whole object, as an ObjectReplace connector expects.
                exported = self
                    .mapping()
                    .managed_attributes()
                    .filter_map(|a| {
                        let v = merged.get(a)?;
                        Some(AttributeChange::set(
                            a,
                            AttributeModification::Replace,
                            v.clone(),
                        ))
                    })
                    .collect();
                ObjectModification::Replace
            }
            _ => ObjectModification::Update,
        };
        self.export_entry(modification, self.anchor_of(current), &current.dn, exported)
            .await?;
        let object = self
            .state()
            .space
            .object(current.anchor.clone(), current.dn.clone(), merged);
        self.state().mark_dirty(&object.anchor);
        self.state().space.upsert(object);
        Ok(())
    }

    fn diff(&self, current: &CsObject, wanted: &Attributes) -> Vec<AttributeChange> {
        self.mapping()
            .managed_attributes()
            .filter_map(|a| {
                let old = current.get(a).unwrap_or(&[]);
                // The connector space holds multi-valued attributes as sorted sets.
                let same = |new: &Vec<Value>| {
                    if new.len() <= 1 {
                        return new.as_slice() == old;
                    }
                    let mut new = new.clone();
                    new.sort();
                    new.dedup();
                    new.as_slice() == old
                };
                match wanted.get(a) {
                    Some(new) if !same(new) => Some(AttributeChange::set(
                        a,
                        AttributeModification::Replace,
                        new.clone(),
                    )),
                    None if !old.is_empty() => Some(AttributeChange::delete(a)),
                    _ => None,
                }
            })
            .collect()
    }

    /// DELETE, per the delete flow.
    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<(), RuntimeError> {
        self.runtime.check_available()?;
        let _guard = self.state().locks.lock(id).await;
        let current = self.lookup(id)?;
        self.check_version(&current, if_match)?;
        match self.t().config.delete {
            DeleteFlow::None => Ok(()),
            DeleteFlow::Delete => self.delete_locked(&current).await,
        }
    }

    async fn delete_locked(&self, current: &CsObject) -> Result<(), RuntimeError> {
        let anchor_value = self.anchor_of(current);
        match self
            .export_entry(
                ObjectModification::Delete,
                anchor_value,
                &current.dn,
                Vec::new(),
            )
            .await
        {
            Ok(_) => {
                self.state().mark_dirty(&current.anchor);
                self.state().space.remove(&current.anchor);
                Ok(())
            }
            Err(RuntimeError::Export {
                kind: ExportErrorKind::NoSuchObject,
                ..
            }) => {
                // The target had already lost it: the connector space was stale.
                self.state().space.remove(&current.anchor);
                Err(RuntimeError::NotFound {
                    id: current.anchor.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// If the connector takes passwords and `resource` carries one, set it on `object` through
    /// the plugin's password call. The password is never logged or stored.
    async fn set_initial_password(
        &self,
        object: &CsObject,
        resource: &Json,
    ) -> Result<(), RuntimeError> {
        let Some(attribute) = &self.t().config.password_attribute else {
            return Ok(());
        };
        let Some(password) = mapping::string_at(resource, attribute) else {
            return Ok(());
        };
        let target = PasswordTarget {
            object_type: self.mapping().object_type().to_string(),
            dn: object.dn.clone(),
            anchor: self.anchor_of(object),
        };
        let (plugin, parameters, secret) = (
            self.runtime.plugin.clone(),
            self.runtime.parameters.clone(),
            Secret::new(password),
        );
        self.runtime
            .calls
            .run("set_password", move || {
                plugin.set_password(&parameters, &target, &secret, PasswordOptions::default())
            })
            .await
            .map_err(|e| RuntimeError::Password(Box::new(e)))
    }

    /// Export one entry; a per-entry failure becomes [`RuntimeError::Export`]. Returns the
    /// anchor values the target assigned, if any.
    async fn export_entry(
        &self,
        modification: ObjectModification,
        anchor: Vec<AnchorAttribute>,
        dn: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<Vec<AnchorAttribute>, RuntimeError> {
        let entry = CsEntryChange {
            identifier: String::new(),
            object_type: self.mapping().object_type().to_string(),
            dn: dn.to_string(),
            modification,
            anchor,
            changes,
        };
        let result = self.runtime.export.export(entry).await?;
        match result.error {
            None => Ok(result.anchor),
            Some(e) => {
                tracing::warn!(connector = %self.runtime.config.name, ?modification, kind = ?e.kind, message = %e.message, "export refused");
                Err(RuntimeError::Export {
                    kind: e.kind,
                    message: e.message,
                })
            }
        }
    }
}

/// What applying a resource did, and the object as it was if it was renamed.
type Applied = (PatchOutcome, Option<Arc<CsObject>>);

/// What one change renames: the new anchor (the SCIM id) and the new DN, each if it changes.
struct Rename {
    anchor: Option<String>,
    dn: Option<String>,
}

impl Rename {
    fn is_none(&self) -> bool {
        self.anchor.is_none() && self.dn.is_none()
    }
}

/// Sort by the query's `sortBy` (stable: equal keys keep their order), if it has one.
pub fn sort_resources(resources: &mut [Json], query: &ListQuery) {
    let Some(path) = &query.sort_by else {
        return;
    };
    resources.sort_by(|a, b| {
        let order = ecma_scim::query::compare_sort_values(
            ecma_scim::query::sort_value(a, path),
            ecma_scim::query::sort_value(b, path),
        );
        if query.descending {
            order.reverse()
        } else {
            order
        }
    });
}
