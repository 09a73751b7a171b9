//! The connector space: an in-memory copy of one resource type's objects in the target, keyed
//! by anchor, with an index on the query attribute.
//!
//! SCIM reads are answered from here; it changes only after an export succeeds or an import
//! reads the target. Architecture invariants:
//! - every operation is synchronous and short; the lock is never held across an `.await`;
//! - lookups by anchor or by the query attribute are hash lookups, never scans;
//! - storage is compact (the brief allows 1 KB per cached object): attribute names are
//!   interned, a single value lives inline, the object map is keyed by the object's own anchor,
//!   and indexes point at objects instead of copying anchors (`benches/space_memory.rs`).

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use ecma_plugin_api::Value;
use parking_lot::RwLock;
use smallvec::SmallVec;

/// An interned attribute name.
pub type AttrName = Arc<str>;

/// The values of one attribute: one lives inline, more spill to the heap.
pub type Values = SmallVec<[Value; 1]>;

/// One object as the connector space holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsObject {
    pub anchor: String,
    pub dn: String,
    /// Attribute values by name, sorted by name; absent means no value. Multi-valued values are
    /// a sorted set.
    pub attributes: Box<[(AttrName, Values)]>,
}

impl CsObject {
    pub fn get(&self, name: &str) -> Option<&[Value]> {
        self.attributes
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.attributes[i].1.as_slice())
    }

    /// The object's version, for `ETag` and `meta.version`: a weak validator over its content.
    pub fn etag(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.anchor.as_bytes());
        hasher.update([0]);
        hasher.update(self.dn.as_bytes());
        for (name, values) in &self.attributes {
            hasher.update([0]);
            hasher.update(name.as_bytes());
            for value in values {
                hasher.update(format!("\u{1}{value:?}").as_bytes());
            }
        }
        format!("W/\"{}\"", hex::encode(&hasher.finalize()[..8]))
    }

    /// The attributes as an owned map, to build a changed copy from.
    pub fn attribute_map(&self) -> std::collections::BTreeMap<String, Vec<Value>> {
        self.attributes
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect()
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

/// An object in the map, hashed and compared by its anchor, so the map needs no key of its own.
#[derive(Clone)]
struct ByAnchor(Arc<CsObject>);

impl Borrow<str> for ByAnchor {
    fn borrow(&self) -> &str {
        &self.0.anchor
    }
}

impl Hash for ByAnchor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same hash as the `str` it borrows as.
        self.0.anchor.as_str().hash(state);
    }
}

impl PartialEq for ByAnchor {
    fn eq(&self, other: &Self) -> bool {
        self.0.anchor == other.0.anchor
    }
}

impl Eq for ByAnchor {}

/// The objects an index key leads to (more than one only when values repeat).
type Hits = SmallVec<[Arc<CsObject>; 1]>;

/// Index key -> objects.
type Index = HashMap<Box<str>, Hits>;

#[derive(Default)]
struct Inner {
    objects: HashSet<ByAnchor>,
    /// Case-folded anchor -> objects, only for anchors that are not already lower case (the
    /// others are found in `objects` directly).
    by_anchor: Index,
    /// Case-folded query attribute value -> objects.
    by_query: Index,
    /// Case-folded DN -> objects, kept only for connectors whose references are DNs.
    by_dn: Index,
    names: HashMap<Box<str>, AttrName>,
}

/// The store. Cheap to share: wrap it in an `Arc`.
pub struct ConnectorSpace {
    query_attribute: String,
    index_dns: bool,
    inner: RwLock<Inner>,
}

fn index_add(index: &mut Index, key: String, object: &Arc<CsObject>) {
    let hits = index.entry(key.into_boxed_str()).or_default();
    hits.retain(|o| o.anchor != object.anchor);
    hits.push(object.clone());
}

fn index_remove(index: &mut Index, key: &str, anchor: &str) {
    if let Some(hits) = index.get_mut(key) {
        hits.retain(|o| o.anchor != anchor);
        if hits.is_empty() {
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
        let mut attrs: Vec<(AttrName, Values)> = attributes
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, mut v)| {
                // Multi-valued attributes are sets (RFC 7643 §2.4): one canonical order, so the
                // same values read back from the target give the same object and version.
                let values = if v.len() > 1 {
                    v.sort();
                    v.dedup();
                    v.shrink_to_fit();
                    Values::from_vec(v)
                } else {
                    // `from_vec` keeps a heap buffer whose capacity exceeds the inline one (a
                    // collected Vec often has room for 4): move the one value inline instead.
                    v.into_iter().collect()
                };
                (self.intern(&n), values)
            })
            .collect();
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        attrs.dedup_by(|a, b| a.0 == b.0);
        let (mut anchor, mut dn) = (anchor, dn);
        anchor.shrink_to_fit();
        dn.shrink_to_fit();
        CsObject {
            anchor,
            dn,
            attributes: attrs.into_boxed_slice(),
        }
    }

    pub fn get(&self, anchor: &str) -> Option<Arc<CsObject>> {
        self.inner.read().objects.get(anchor).map(|e| e.0.clone())
    }

    pub fn contains(&self, anchor: &str) -> bool {
        self.inner.read().objects.contains(anchor)
    }

    /// Objects whose anchor equals `value`, ignoring case.
    pub fn find_by_anchor(&self, value: &str) -> Vec<Arc<CsObject>> {
        let key = value.to_lowercase();
        let inner = self.inner.read();
        let exact = inner.objects.get(key.as_str()).map(|e| e.0.clone());
        let folded = inner
            .by_anchor
            .get(key.as_str())
            .into_iter()
            .flatten()
            .cloned();
        exact.into_iter().chain(folded).collect()
    }

    /// Objects whose DN equals `dn`, ignoring case (empty unless built [`Self::with_dn_index`]).
    pub fn find_by_dn(&self, dn: &str) -> Vec<Arc<CsObject>> {
        Self::lookup(&self.inner.read().by_dn, &dn.to_lowercase())
    }

    /// Objects whose query attribute has a value equal to `value` (case-folded as [`index_key`]).
    pub fn find_by_query(&self, value: &Value) -> Vec<Arc<CsObject>> {
        Self::lookup(&self.inner.read().by_query, &index_key(value))
    }

    fn lookup(index: &Index, key: &str) -> Vec<Arc<CsObject>> {
        index.get(key).map(|h| h.to_vec()).unwrap_or_default()
    }

    /// Insert or replace an object, keeping the indexes in step.
    pub fn upsert(&self, object: CsObject) {
        let object = Arc::new(object);
        let mut inner = self.inner.write();
        self.unindex(&mut inner, &object.anchor);
        let folded = object.anchor.to_lowercase();
        if folded != object.anchor {
            index_add(&mut inner.by_anchor, folded, &object);
        }
        if self.index_dns {
            index_add(&mut inner.by_dn, object.dn.to_lowercase(), &object);
        }
        if let Some(values) = object.get(&self.query_attribute) {
            for v in values {
                index_add(&mut inner.by_query, index_key(v), &object);
            }
        }
        inner.objects.replace(ByAnchor(object));
    }

    pub fn remove(&self, anchor: &str) -> Option<Arc<CsObject>> {
        let mut inner = self.inner.write();
        self.unindex(&mut inner, anchor);
        inner.objects.take(anchor).map(|e| e.0)
    }

    fn unindex(&self, inner: &mut Inner, anchor: &str) {
        let Some(old) = inner.objects.get(anchor).map(|e| e.0.clone()) else {
            return;
        };
        index_remove(&mut inner.by_anchor, &anchor.to_lowercase(), anchor);
        index_remove(&mut inner.by_dn, &old.dn.to_lowercase(), anchor);
        if let Some(values) = old.get(&self.query_attribute) {
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
        let mut all: Vec<_> = self
            .inner
            .read()
            .objects
            .iter()
            .map(|e| e.0.clone())
            .collect();
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
    fn mixed_case_anchors_and_dns_are_found_ignoring_case() {
        let space = ConnectorSpace::new("AzureID").with_dn_index();
        space.upsert(user(&space, "Bob.Smith", "g1"));
        space.upsert(user(&space, "bob.smith", "g2"));
        let found = |v: &str| {
            let mut a: Vec<String> = space
                .find_by_anchor(v)
                .iter()
                .map(|o| o.anchor.clone())
                .collect();
            a.sort();
            a
        };
        assert_eq!(found("BOB.SMITH"), ["Bob.Smith", "bob.smith"]);
        assert_eq!(
            space.find_by_dn("cn=bob.smith,object=user").len(),
            2,
            "both DNs fold to the same key"
        );
        space.remove("Bob.Smith");
        assert_eq!(found("Bob.Smith"), ["bob.smith"]);
        assert_eq!(space.find_by_dn("CN=BOB.SMITH,OBJECT=USER").len(), 1);
        // Replacing an object keeps one index entry for it.
        space.upsert(user(&space, "bob.smith", "g3"));
        assert_eq!(found("bob.smith"), ["bob.smith"]);
        assert_eq!(space.find_by_dn("CN=bob.smith,OBJECT=USER").len(), 1);
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
