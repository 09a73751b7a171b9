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
#[derive(Clone, Debug)]
pub struct CsObject {
    pub anchor: String,
    pub dn: String,
    /// Attribute values by name, sorted by name; absent means no value. Multi-valued values are
    /// a sorted set.
    pub attributes: Box<[(AttrName, Values)]>,
    /// When the host first saw the object, in Unix milliseconds (`meta.created`). The space
    /// sets it when the object is stored; 0 before that.
    pub created: i64,
    /// When the host last saw the object change (`meta.lastModified`), in Unix milliseconds.
    pub modified: i64,
    /// The content hash behind [`CsObject::etag`], computed when first asked and kept up to
    /// date by value-level changes.
    version: std::sync::OnceLock<u64>,
}

/// One value's share of an object's version: the first 8 bytes of SHA-256 over the attribute
/// name and the typed value (stable across builds and restarts; versions are persisted).
fn version_term(name: &str, value: &Value) -> u64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    let (tag, bytes): (u8, std::borrow::Cow<[u8]>) = match value {
        Value::String(s) => (b's', s.as_bytes().into()),
        Value::Reference(s) => (b'r', s.as_bytes().into()),
        Value::Integer(i) => (b'i', i.to_le_bytes().to_vec().into()),
        Value::Boolean(b) => (b'b', vec![u8::from(*b)].into()),
        Value::Binary(b) => (b'x', b.as_slice().into()),
    };
    hasher.update([0, tag]);
    hasher.update(&bytes);
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// Objects are equal when their content is: the timestamps record history, not content.
impl PartialEq for CsObject {
    fn eq(&self, other: &Self) -> bool {
        self.anchor == other.anchor && self.dn == other.dn && self.attributes == other.attributes
    }
}

impl Eq for CsObject {}

/// The time source of a connector space, in Unix milliseconds (a parameter, so tests control
/// it).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// The timestamps of an object the space does not hold yet, remembered from an earlier run:
/// `(created, modified, version)`. The version tells whether the object changed meanwhile.
pub type Remembered = (i64, i64, String);

impl CsObject {
    pub fn get(&self, name: &str) -> Option<&[Value]> {
        self.attributes
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.attributes[i].1.as_slice())
    }

    /// The object's version, for `ETag` and `meta.version`: a weak validator over its content.
    pub fn etag(&self) -> String {
        format!("W/\"{:016x}\"", self.version())
    }

    /// A hash of the content that is a sum of one term per value, so that adding or removing a
    /// value updates it without reading the others (a group with 100,000 members).
    fn version(&self) -> u64 {
        *self.version.get_or_init(|| {
            let mut sum = version_term("\u{0}anchor", &Value::String(self.anchor.clone()))
                .wrapping_add(version_term("\u{0}dn", &Value::String(self.dn.clone())));
            for (name, values) in &self.attributes {
                for value in values {
                    sum = sum.wrapping_add(version_term(name, value));
                }
            }
            sum
        })
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
    /// Timestamps from an earlier run, by anchor, taken when the object arrives.
    remembered: HashMap<String, Remembered>,
}

/// The store. Cheap to share: wrap it in an `Arc`.
pub struct ConnectorSpace {
    query_attribute: String,
    index_dns: bool,
    inner: RwLock<Inner>,
    clock: Clock,
    /// Some timestamp changed since [`Self::take_changed`] last said so.
    changed: std::sync::atomic::AtomicBool,
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
            clock: system_clock(),
            changed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Use `clock` for the objects' timestamps.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Timestamps kept from an earlier run; an object that arrives later with the same anchor
    /// takes them (and keeps `modified` if its version is the remembered one).
    pub fn remember(&self, entries: impl IntoIterator<Item = (String, Remembered)>) {
        self.inner.write().remembered.extend(entries);
    }

    /// What to persist about timestamps: every object (shared, so the lock is held only to
    /// clone pointers; versions are computed by the caller, outside it), and the remembered
    /// entries of objects not seen again yet (an import still running).
    pub fn timestamp_snapshot(&self) -> (Vec<Arc<CsObject>>, Vec<(String, Remembered)>) {
        let inner = self.inner.read();
        let objects = inner.objects.iter().map(|e| e.0.clone()).collect();
        let remembered = inner
            .remembered
            .iter()
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect();
        (objects, remembered)
    }

    /// Whether any object or timestamp changed since the last call (and reset the flag).
    pub fn take_changed(&self) -> bool {
        self.changed
            .swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    /// Set `object`'s timestamps from the object it replaces (`previous`), else from what an
    /// earlier run remembered, else now.
    fn stamp(&self, inner: &mut Inner, object: &mut CsObject, previous: Option<&CsObject>) {
        let now = || (self.clock)();
        match previous {
            Some(p) => {
                object.created = p.created;
                object.modified = if p.dn == object.dn && p.attributes == object.attributes {
                    p.modified
                } else {
                    now()
                };
            }
            None => match inner.remembered.remove(&object.anchor) {
                Some((created, modified, version)) => {
                    object.created = created;
                    object.modified = if version == object.etag() {
                        modified
                    } else {
                        now()
                    };
                }
                None => {
                    object.created = now();
                    object.modified = object.created;
                }
            },
        }
        // Content counts too: two writes in one millisecond keep `modified` but change what a
        // snapshot of the space must hold.
        if previous.is_none_or(|p| p.modified != object.modified || p != &*object) {
            self.changed
                .store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// Put back objects a snapshot of an earlier run held, with their timestamps (no stamping;
    /// the space is expected to be empty). Attributes must be sorted by name and multi-valued
    /// values sorted sets, as the space stores them; `None` (and nothing stored) if one is not.
    pub fn restore(&self, objects: Vec<CsObject>) -> Option<usize> {
        let sorted = |o: &CsObject| {
            o.attributes.windows(2).all(|w| w[0].0 < w[1].0)
                && o.attributes
                    .iter()
                    .all(|(_, v)| !v.is_empty() && v.windows(2).all(|w| w[0] < w[1]))
        };
        if !objects.iter().all(sorted) {
            return None;
        }
        let count = objects.len();
        let mut inner = self.inner.write();
        inner.objects.reserve(count);
        for object in objects {
            let object = Arc::new(object);
            self.unindex(&mut inner, &object.anchor);
            self.index(&mut inner, &object);
            inner.objects.replace(ByAnchor(object));
        }
        Some(count)
    }

    /// An object as a snapshot holds it: interned names, attributes as stored (see
    /// [`Self::restore`]), and its timestamps.
    pub fn restored_object(
        anchor: String,
        dn: String,
        attributes: Vec<(AttrName, Values)>,
        created: i64,
        modified: i64,
    ) -> CsObject {
        CsObject {
            anchor,
            dn,
            attributes: attributes.into_boxed_slice(),
            created,
            modified,
            version: std::sync::OnceLock::new(),
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

    fn intern_locked(inner: &mut Inner, name: &str) -> AttrName {
        inner
            .names
            .entry(name.into())
            .or_insert_with(|| Arc::from(name))
            .clone()
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
            created: 0,
            modified: 0,
            version: std::sync::OnceLock::new(),
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
    /// Returns the object as stored, with its timestamps.
    pub fn upsert(&self, mut object: CsObject) -> Arc<CsObject> {
        let mut inner = self.inner.write();
        let previous = inner
            .objects
            .get(object.anchor.as_str())
            .map(|e| e.0.clone());
        self.stamp(&mut inner, &mut object, previous.as_deref());
        let object = Arc::new(object);
        self.unindex(&mut inner, &object.anchor);
        self.index(&mut inner, &object);
        inner.objects.replace(ByAnchor(object.clone()));
        object
    }

    fn index(&self, inner: &mut Inner, object: &Arc<CsObject>) {
        let folded = object.anchor.to_lowercase();
        if folded != object.anchor {
            index_add(&mut inner.by_anchor, folded, object);
        }
        if self.index_dns {
            index_add(&mut inner.by_dn, object.dn.to_lowercase(), object);
        }
        if let Some(values) = object.get(&self.query_attribute) {
            for v in values {
                index_add(&mut inner.by_query, index_key(v), object);
            }
        }
    }

    /// Move an object to a new anchor or DN (a rename): the old entry and its index entries go,
    /// the new object comes, in one write.
    pub fn rename(&self, old_anchor: &str, mut object: CsObject) -> Arc<CsObject> {
        let mut inner = self.inner.write();
        self.unindex(&mut inner, old_anchor);
        let old = inner.objects.take(old_anchor).map(|e| e.0);
        // The renamed object keeps its history; a rename is a change.
        self.stamp(&mut inner, &mut object, None);
        if let Some(old) = old {
            object.created = old.created;
        }
        let object = Arc::new(object);
        self.unindex(&mut inner, &object.anchor);
        self.index(&mut inner, &object);
        inner.objects.replace(ByAnchor(object.clone()));
        object
    }

    /// Apply value-level changes (`values` of each `(attribute, changes)`) to the object with
    /// this anchor, in place when no reader holds it: the cost follows the changed values, not
    /// the attribute's size (a member added to a group of 100,000). Returns the stored object.
    pub fn update_values(
        &self,
        anchor: &str,
        changes: &[(&str, &[ecma_plugin_api::ValueChange])],
    ) -> Option<Arc<CsObject>> {
        use ecma_plugin_api::ValueModification;
        let mut inner = self.inner.write();
        let taken = inner.objects.take(anchor)?.0;
        self.unindex_object(&mut inner, &taken);
        let mut object = taken;
        let names: Vec<AttrName> = changes
            .iter()
            .map(|(name, _)| Self::intern_locked(&mut inner, name))
            .collect();
        // Unique unless a reader holds it right now; then it is copied once.
        let o = Arc::make_mut(&mut object);
        let mut version = o.version.get().copied();
        for ((_, values), name) in changes.iter().zip(names) {
            let position = match o
                .attributes
                .binary_search_by(|(n, _)| n.as_ref().cmp(&name))
            {
                Ok(p) => p,
                Err(p) => {
                    let mut attributes = std::mem::take(&mut o.attributes).into_vec();
                    attributes.insert(p, (name.clone(), Values::new()));
                    o.attributes = attributes.into_boxed_slice();
                    p
                }
            };
            let held = &mut o.attributes[position].1;
            for change in values.iter() {
                let found = held.binary_search(&change.value);
                let term = version_term(&name, &change.value);
                match (change.modification, found) {
                    (ValueModification::Add, Err(at)) => {
                        held.insert(at, change.value.clone());
                        version = version.map(|v| v.wrapping_add(term));
                    }
                    (ValueModification::Delete, Ok(at)) => {
                        held.remove(at);
                        version = version.map(|v| v.wrapping_sub(term));
                    }
                    _ => {}
                }
            }
            if held.is_empty() {
                let mut attributes = std::mem::take(&mut o.attributes).into_vec();
                attributes.remove(position);
                o.attributes = attributes.into_boxed_slice();
            }
        }
        o.version = match version {
            Some(v) => std::sync::OnceLock::from(v),
            None => std::sync::OnceLock::new(),
        };
        o.modified = (self.clock)();
        self.changed
            .store(true, std::sync::atomic::Ordering::Release);
        self.index(&mut inner, &object);
        inner.objects.replace(ByAnchor(object.clone()));
        Some(object)
    }

    /// The objects with a value of one of `attributes` equal to `value` (ignoring case): the
    /// objects that reference it. A scan, for renames only.
    pub fn referencing(&self, attributes: &[&str], value: &str) -> Vec<Arc<CsObject>> {
        let holds = |o: &CsObject| {
            attributes.iter().any(|a| {
                o.get(a).is_some_and(|values| {
                    values
                        .iter()
                        .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(value)))
                })
            })
        };
        self.inner
            .read()
            .objects
            .iter()
            .filter(|e| holds(&e.0))
            .map(|e| e.0.clone())
            .collect()
    }

    pub fn remove(&self, anchor: &str) -> Option<Arc<CsObject>> {
        let mut inner = self.inner.write();
        self.changed
            .store(true, std::sync::atomic::Ordering::Release);
        self.unindex(&mut inner, anchor);
        inner.objects.take(anchor).map(|e| e.0)
    }

    fn unindex(&self, inner: &mut Inner, anchor: &str) {
        if let Some(old) = inner.objects.get(anchor).map(|e| e.0.clone()) {
            self.unindex_object(inner, &old);
        }
    }

    /// Remove `old`'s index entries (its set entry stays).
    fn unindex_object(&self, inner: &mut Inner, old: &CsObject) {
        let anchor = old.anchor.as_str();
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

    /// A clock the test moves by hand.
    fn manual_clock() -> (Clock, Arc<std::sync::atomic::AtomicI64>) {
        let now = Arc::new(std::sync::atomic::AtomicI64::new(1_000));
        let read = now.clone();
        let clock: Clock = Arc::new(move || read.load(std::sync::atomic::Ordering::SeqCst));
        (clock, now)
    }

    #[test]
    fn timestamps_follow_changes_not_rewrites() {
        use std::sync::atomic::Ordering::SeqCst;
        let (clock, now) = manual_clock();
        let space = ConnectorSpace::new("AzureID").with_clock(clock);
        let first = space.upsert(user(&space, "alice", "g1"));
        assert_eq!((first.created, first.modified), (1_000, 1_000));
        now.store(2_000, SeqCst);
        // The same content again (an import reading it back) changes nothing.
        let same = space.upsert(user(&space, "alice", "g1"));
        assert_eq!((same.created, same.modified), (1_000, 1_000));
        let changed = space.upsert(user(&space, "alice", "g2"));
        assert_eq!((changed.created, changed.modified), (1_000, 2_000));
        // A rename keeps the creation time and indexes only the new anchor.
        now.store(3_000, SeqCst);
        let renamed = space.rename("alice", user(&space, "alicia", "g2"));
        assert_eq!((renamed.created, renamed.modified), (1_000, 3_000));
        assert!(space.get("alice").is_none());
        assert_eq!(
            space.find_by_query(&Value::String("g2".into()))[0].anchor,
            "alicia"
        );
        assert_eq!(space.len(), 1);
    }

    #[test]
    fn remembered_timestamps_apply_when_the_object_arrives() {
        let (clock, _) = manual_clock();
        let space = ConnectorSpace::new("AzureID").with_clock(clock);
        let version = user(&space, "bob", "g1").etag();
        space.remember([
            ("bob".to_string(), (10, 20, version)),
            ("carol".to_string(), (30, 40, "W/\"other\"".to_string())),
        ]);
        let bob = space.upsert(user(&space, "bob", "g1"));
        assert_eq!((bob.created, bob.modified), (10, 20));
        // Carol changed while the host was down: seen changed now.
        let carol = space.upsert(user(&space, "carol", "g3"));
        assert_eq!((carol.created, carol.modified), (30, 1_000));
    }

    #[test]
    fn referencing_finds_holders_ignoring_case() {
        let space = ConnectorSpace::new("AzureID");
        let group = space.object(
            "Ops".into(),
            String::new(),
            [(
                "Member".to_string(),
                vec![
                    Value::Reference("Alice".into()),
                    Value::Reference("bob".into()),
                ],
            )],
        );
        space.upsert(group);
        assert_eq!(space.referencing(&["Member"], "alice").len(), 1);
        assert!(space.referencing(&["Member"], "carol").is_empty());
        assert!(space.referencing(&["Other"], "alice").is_empty());
    }

    #[test]
    fn value_updates_change_only_the_named_values_and_keep_the_version_exact() {
        use ecma_plugin_api::{ValueChange, ValueModification};
        let space = ConnectorSpace::new("AzureID");
        let members = |n: usize| {
            (0..n)
                .map(|i| Value::Reference(format!("u{i:05}")))
                .collect()
        };
        space.upsert(space.object(
            "Ops".into(),
            "CN=Ops".into(),
            [("Member".to_string(), members(1000))],
        ));
        let before = space.get("Ops").unwrap().etag();
        let add = |v: &str| ValueChange {
            modification: ValueModification::Add,
            value: Value::Reference(v.into()),
        };
        let delete = |v: &str| ValueChange {
            modification: ValueModification::Delete,
            value: Value::Reference(v.into()),
        };
        let changes = [add("zed"), delete("u00007"), add("u00001")];
        let updated = space
            .update_values("Ops", &[("Member", &changes[..])])
            .unwrap();
        let values = updated.get("Member").unwrap();
        assert_eq!(values.len(), 1000);
        assert!(values.contains(&Value::Reference("zed".into())));
        assert!(!values.contains(&Value::Reference("u00007".into())));
        assert!(values.windows(2).all(|w| w[0] < w[1]), "still a sorted set");
        // The maintained version is the one a fresh object with the same content has.
        let fresh = space.object(
            "Ops".into(),
            "CN=Ops".into(),
            [("Member".to_string(), values.to_vec())],
        );
        assert_ne!(updated.etag(), before);
        assert_eq!(updated.etag(), fresh.etag());
        // Removing the last value removes the attribute; adding one creates it.
        let one = space.object(
            "Solo".into(),
            String::new(),
            [("Member".to_string(), members(1))],
        );
        space.upsert(one);
        let gone = space
            .update_values("Solo", &[("Member", &[delete("u00000")][..])])
            .unwrap();
        assert!(gone.get("Member").is_none());
        let back = space
            .update_values("Solo", &[("Member", &[add("u00009")][..])])
            .unwrap();
        assert_eq!(back.get("Member").unwrap().len(), 1);
    }
}
