//! The connector space: an in-memory copy of one connector's objects in the target, keyed by
//! anchor, with an index on the query attribute.
//!
//! SCIM reads are answered from here; it changes only after an export succeeds or an import
//! reads the target. Architecture invariants:
//! - every operation is synchronous and short; the lock is never held across an `.await`;
//! - lookups by anchor or by the query attribute are hash lookups, never scans;
//! - attribute names are interned, so a million objects share one copy of each name.

use std::collections::HashMap;
use std::sync::Arc;

use ecma_plugin_api::Value;
use parking_lot::RwLock;

/// An interned attribute name.
pub type AttrName = Arc<str>;

/// One object as the connector space holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsObject {
    pub anchor: String,
    pub dn: String,
    /// Attribute values by name, sorted by name; absent means no value.
    pub attributes: Vec<(AttrName, Vec<Value>)>,
}

impl CsObject {
    pub fn get(&self, name: &str) -> Option<&[Value]> {
        self.attributes
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.attributes[i].1.as_slice())
    }
}

/// Case-folded index key: SCIM `eq` on strings is case-insensitive unless the schema says
/// otherwise, and the index serves exactly those lookups.
pub fn index_key(value: &Value) -> String {
    match value {
        Value::String(s) | Value::Reference(s) => s.to_lowercase(),
        other => other.to_string(),
    }
}

#[derive(Default)]
struct Inner {
    objects: HashMap<String, Arc<CsObject>>,
    /// Case-folded anchor -> anchors (more than one only if the target is case-sensitive).
    by_anchor: HashMap<String, Vec<String>>,
    /// Case-folded query attribute value -> anchors.
    by_query: HashMap<String, Vec<String>>,
    /// Case-folded DN -> anchors, kept only for connectors whose references are DNs.
    by_dn: HashMap<String, Vec<String>>,
    names: HashMap<Box<str>, AttrName>,
}

/// The store. Cheap to share: wrap it in an `Arc`.
pub struct ConnectorSpace {
    query_attribute: String,
    index_dns: bool,
    inner: RwLock<Inner>,
}

fn index_add(index: &mut HashMap<String, Vec<String>>, key: String, anchor: &str) {
    let anchors = index.entry(key).or_default();
    if !anchors.iter().any(|a| a == anchor) {
        anchors.push(anchor.to_string());
    }
}

fn index_remove(index: &mut HashMap<String, Vec<String>>, key: &str, anchor: &str) {
    if let Some(anchors) = index.get_mut(key) {
        anchors.retain(|a| a != anchor);
        if anchors.is_empty() {
            index.remove(key);
        }
    }
}

impl ConnectorSpace {
    pub fn new(query_attribute: impl Into<String>) -> Self {
        Self {
            query_attribute: query_attribute.into(),
            index_dns: false,
            inner: RwLock::new(Inner::default()),
        }
    }

    /// Also index DNs, for [`Self::find_by_dn`] (connectors whose references are DNs).
    pub fn with_dn_index(mut self) -> Self {
        self.index_dns = true;
        self
    }

    pub fn query_attribute(&self) -> &str {
        &self.query_attribute
    }

    /// The interned copy of `name`.
    pub fn intern(&self, name: &str) -> AttrName {
        if let Some(n) = self.inner.read().names.get(name) {
            return n.clone();
        }
        let mut inner = self.inner.write();
        inner
            .names
            .entry(name.into())
            .or_insert_with(|| Arc::from(name))
            .clone()
    }

    /// Build an object with interned names, values sorted by attribute name.
    pub fn object(
        &self,
        anchor: String,
        dn: String,
        attributes: impl IntoIterator<Item = (String, Vec<Value>)>,
    ) -> CsObject {
        let mut attrs: Vec<(AttrName, Vec<Value>)> = attributes
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, mut v)| {
                // Multi-valued attributes are sets (RFC 7643 §2.4): one canonical order, so the
                // same values read back from the target give the same object and version.
                if v.len() > 1 {
                    v.sort();
                    v.dedup();
                }
                (self.intern(&n), v)
            })
            .collect();
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        attrs.dedup_by(|a, b| a.0 == b.0);
        CsObject {
            anchor,
            dn,
            attributes: attrs,
        }
    }

    pub fn get(&self, anchor: &str) -> Option<Arc<CsObject>> {
        self.inner.read().objects.get(anchor).cloned()
    }

    pub fn contains(&self, anchor: &str) -> bool {
        self.inner.read().objects.contains_key(anchor)
    }

    /// Objects whose anchor equals `value`, ignoring case.
    pub fn find_by_anchor(&self, value: &str) -> Vec<Arc<CsObject>> {
        self.lookup(|i| &i.by_anchor, &value.to_lowercase())
    }

    /// Objects whose DN equals `dn`, ignoring case (empty unless built [`Self::with_dn_index`]).
    pub fn find_by_dn(&self, dn: &str) -> Vec<Arc<CsObject>> {
        self.lookup(|i| &i.by_dn, &dn.to_lowercase())
    }

    /// Objects whose query attribute has a value equal to `value` (case-folded as [`index_key`]).
    pub fn find_by_query(&self, value: &Value) -> Vec<Arc<CsObject>> {
        self.lookup(|i| &i.by_query, &index_key(value))
    }

    fn lookup(
        &self,
        index: impl Fn(&Inner) -> &HashMap<String, Vec<String>>,
        key: &str,
    ) -> Vec<Arc<CsObject>> {
        let inner = self.inner.read();
        index(&inner)
            .get(key)
            .map(|anchors| {
                anchors
                    .iter()
                    .filter_map(|a| inner.objects.get(a).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Insert or replace an object, keeping the indexes in step.
    pub fn upsert(&self, object: CsObject) {
        let mut inner = self.inner.write();
        Self::unindex(&mut inner, &self.query_attribute, &object.anchor);
        index_add(
            &mut inner.by_anchor,
            object.anchor.to_lowercase(),
            &object.anchor,
        );
        if self.index_dns {
            index_add(&mut inner.by_dn, object.dn.to_lowercase(), &object.anchor);
        }
        if let Some(values) = object.get(&self.query_attribute) {
            for v in values {
                index_add(&mut inner.by_query, index_key(v), &object.anchor);
            }
        }
        inner
            .objects
            .insert(object.anchor.clone(), Arc::new(object));
    }

    pub fn remove(&self, anchor: &str) -> Option<Arc<CsObject>> {
        let mut inner = self.inner.write();
        Self::unindex(&mut inner, &self.query_attribute, anchor);
        inner.objects.remove(anchor)
    }

    fn unindex(inner: &mut Inner, query_attribute: &str, anchor: &str) {
        let Some(old) = inner.objects.get(anchor).cloned() else {
            return;
        };
        index_remove(&mut inner.by_anchor, &anchor.to_lowercase(), anchor);
        index_remove(&mut inner.by_dn, &old.dn.to_lowercase(), anchor);
        if let Some(values) = old.get(query_attribute) {
            for v in values {
                index_remove(&mut inner.by_query, &index_key(v), anchor);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every object, sorted by anchor (stable order for paging through scans).
    pub fn snapshot(&self) -> Vec<Arc<CsObject>> {
        let mut all: Vec<_> = self.inner.read().objects.values().cloned().collect();
        all.sort_by(|a, b| a.anchor.cmp(&b.anchor));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(space: &ConnectorSpace, anchor: &str, query: &str) -> CsObject {
        space.object(
            anchor.into(),
            format!("CN={anchor},OBJECT=USER"),
            [
                ("Login".to_string(), vec![Value::String(anchor.into())]),
                ("AzureID".to_string(), vec![Value::String(query.into())]),
            ],
        )
    }

    #[test]
    fn indexes_follow_upserts_and_removes() {
        let space = ConnectorSpace::new("AzureID");
        space.upsert(user(&space, "alice", "GUID-1"));
        space.upsert(user(&space, "bob", "guid-2"));
        assert_eq!(
            space.find_by_query(&Value::String("guid-1".into()))[0].anchor,
            "alice"
        );
        assert_eq!(space.find_by_anchor("ALICE")[0].anchor, "alice");

        // Changing the query attribute moves the index entry.
        space.upsert(user(&space, "alice", "guid-9"));
        assert!(space
            .find_by_query(&Value::String("guid-1".into()))
            .is_empty());
        assert_eq!(
            space.find_by_query(&Value::String("GUID-9".into())).len(),
            1
        );

        space.remove("alice");
        assert!(space
            .find_by_query(&Value::String("guid-9".into()))
            .is_empty());
        assert!(space.find_by_anchor("alice").is_empty());
        assert_eq!(space.len(), 1);
    }

    #[test]
    fn names_are_interned_and_attributes_sorted() {
        let space = ConnectorSpace::new("AzureID");
        let a = user(&space, "a", "1");
        let b = user(&space, "b", "2");
        assert!(Arc::ptr_eq(&a.attributes[0].0, &b.attributes[0].0));
        assert_eq!(
            a.attributes
                .iter()
                .map(|(n, _)| n.as_ref())
                .collect::<Vec<_>>(),
            ["AzureID", "Login"]
        );
        assert_eq!(a.get("Login"), Some(&[Value::String("a".into())][..]));
    }
}
