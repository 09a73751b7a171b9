//! PATCH operations that only add or remove values of multi-valued attributes (Entra's group
//! member updates), read as value-level changes without rendering the resource, so that their
//! cost follows the values they name, not the size of the attribute.

use ecma_plugin_api::{AttributeChange, AttributeModification, ValueChange, ValueModification};
use ecma_scim::{CompareOp, Filter, PatchOp, PatchOpKind};

use super::*;

impl ResourceMapping {
    /// The value-level changes `ops` make to `current`, one `Update` change per attribute, with
    /// only the values that change (a value added twice, or one already there, is not added
    /// again). `None` when any operation does something else (a replace, a whole-attribute
    /// remove, a single-valued attribute, a value the host cannot resolve or that `current`
    /// does not hold), so that the caller takes the general path with its exact semantics.
    pub fn value_changes(
        &self,
        ops: &[PatchOp],
        refs: &dyn ReferenceResolver,
        current: &CsObject,
    ) -> Option<Vec<AttributeChange>> {
        let mut changes: Vec<AttributeChange> = Vec::new();
        for op in ops {
            let path = op.path.as_ref()?;
            if path.sub_attr.is_some() || path.attr.sub_attr.is_some() {
                return None;
            }
            let name = self.attribute_for_path(&path.attr)?;
            let m = self.attributes.iter().find(|m| m.attribute == name)?;
            let whole = match &m.target {
                Target::Extension => true,
                Target::Core(t) => t.sub.is_none() && t.element.is_none(),
            };
            if !m.multi_valued || !m.writable() || m.is_dn() || !whole || name == self.anchor {
                return None;
            }
            let scim_name = m.scim_name(&self.extension_urn);
            let convert = |item: &Json| {
                self.convert_item(m, item, refs, Some(current), &scim_name)
                    .ok()
            };
            let (modification, items): (ValueModification, Vec<Json>) = match op.op {
                PatchOpKind::Add if path.value_filter.is_none() => match &op.value {
                    Some(Json::Array(items)) => (ValueModification::Add, items.clone()),
                    Some(Json::Null) | None => return None,
                    Some(item) => (ValueModification::Add, vec![item.clone()]),
                },
                PatchOpKind::Remove => match (&path.value_filter, &op.value) {
                    // `members[value eq "id"]`
                    (
                        Some(Filter::Compare {
                            path: key,
                            op: CompareOp::Eq,
                            value,
                        }),
                        None,
                    ) if key.urn.is_none()
                        && key.sub_attr.is_none()
                        && key.name.eq_ignore_ascii_case("value") =>
                    {
                        (ValueModification::Delete, vec![value.clone()])
                    }
                    // Entra's dialect: `{"op": "Remove", "path": "members", "value": [...]}`
                    (None, Some(Json::Array(items))) if !items.is_empty() => {
                        (ValueModification::Delete, items.clone())
                    }
                    _ => return None,
                },
                _ => return None,
            };
            let position = match changes.iter().position(|c| c.name == m.attribute) {
                Some(p) => p,
                None => {
                    changes.push(AttributeChange {
                        name: m.attribute.clone(),
                        modification: AttributeModification::Update,
                        values: Vec::new(),
                    });
                    changes.len() - 1
                }
            };
            let held = current.get(&m.attribute).unwrap_or(&[]);
            for item in &items {
                let value = convert(item)?;
                let pending = &mut changes[position].values;
                // What earlier operations of this request did to the value decides last.
                let now_held = match pending.iter().rev().find(|c| c.value == value) {
                    Some(c) => c.modification == ValueModification::Add,
                    None => held.binary_search(&value).is_ok(),
                };
                match (modification, now_held) {
                    (ValueModification::Add, false) | (ValueModification::Delete, true) => {
                        pending.retain(|c| c.value != value);
                        pending.push(ValueChange {
                            modification,
                            value,
                        });
                    }
                    (ValueModification::Add, true) => {}
                    // Removing a value the object does not hold: the general path answers.
                    (ValueModification::Delete, false) => return None,
                }
            }
        }
        // A value added then removed again (or the reverse) in one request changes nothing.
        for change in &mut changes {
            let held = current.get(&change.name).unwrap_or(&[]);
            change.values.retain(|c| {
                let there = held.binary_search(&c.value).is_ok();
                (c.modification == ValueModification::Add) != there
            });
        }
        changes.retain(|c| !c.values.is_empty());
        Some(changes)
    }
}
