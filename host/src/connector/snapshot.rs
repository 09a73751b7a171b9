//! The persisted connector space: every resource type's objects with their `meta` timestamps,
//! and the delta watermarks, in `data_dir/{connector}/space.snapshot`, so that a restart serves
//! at once and reconciles with the target in the background.
//!
//! The file is written atomically (streamed to a temporary file, synced, renamed over the old
//! one) after every import, a few seconds after exports change the space (less often for a
//! large space: writing takes at most a tenth of the time), and at shutdown; never while the
//! first import is still filling the space. Layout: the magic `ECMASNAP`, the format version,
//! the body's length and its CRC-32, then the body: a fingerprint of the configuration the
//! space was built for (mapping, object types, anchors, references, partitions, host version),
//! the watermarks, and per resource type its attribute names, its objects and the timestamps
//! still remembered for objects not seen again yet. Integers are LEB128 varints, times 8 bytes.
//!
//! A file that fails a check (magic, version, length, checksum, layout, fingerprint) is renamed
//! `space.snapshot.corrupt-<unix ms>` or `space.snapshot.incompatible-<unix ms>`, with a
//! warning that names it and the reason, and the connector imports in full; a snapshot of an
//! older configuration still hands its timestamps to the new space, which applies them as
//! objects arrive (an object whose version changed gets `lastModified` = when it was seen).

use std::collections::{BTreeMap, HashMap};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ecma_plugin_api::Value;

use super::partitions::Scope;
use crate::config::ConnectorConfig;
use crate::space::{AttrName, ConnectorSpace, CsObject, Remembered, Values};

/// How often the writer looks for changes (and the shortest time between two writes).
const FLUSH_EVERY: Duration = Duration::from_secs(2);
const MAGIC: &[u8; 8] = b"ECMASNAP";
/// Bumped whenever the layout changes; a file of another version is set aside.
const FORMAT_VERSION: u32 = 1;
/// Magic, version, body length, body CRC-32.
const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// The snapshot file of a connector.
pub fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("space.snapshot")
}

/// What the space holds depends on: this host's version (how imports become objects), the
/// reference style, every resource type's config (object type, anchor, query attribute, DNs,
/// attribute mapping) and the selected partitions and containers.
pub fn fingerprint(config: &ConnectorConfig, scope: &Scope) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let described = format!(
        "{}\n{:?}\n{:?}\n{:?}",
        env!("CARGO_PKG_VERSION"),
        config.references,
        config.resource_types,
        scope
    );
    Sha256::digest(described.as_bytes()).into()
}

/// Why a snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error("it is not a connector space snapshot (no ECMASNAP header)")]
    Magic,
    #[error("it has format version {found}; this host reads version {FORMAT_VERSION}")]
    Version { found: u32 },
    #[error("it is truncated or has trailing bytes: the header says {expected} bytes of content, the file has {found}")]
    Length { expected: u64, found: u64 },
    #[error("its checksum does not match its content (the file is damaged)")]
    Checksum,
    #[error("its content is malformed: {0}")]
    Malformed(&'static str),
    #[error("the connector's configuration (mapping, object types, anchor, references or partitions) or the host's version changed since it was written")]
    Fingerprint,
}

impl SnapshotError {
    /// The suffix of the name the file is set aside under.
    fn aside(&self) -> &'static str {
        match self {
            SnapshotError::Version { .. } | SnapshotError::Fingerprint => "incompatible",
            _ => "corrupt",
        }
    }
}

/// One resource type's space, by the resource type's name.
pub type NamedSpace<'a> = (&'a str, &'a ConnectorSpace);

/// Load `file` into `spaces` (empty, in the config's order). Returns the watermarks saved with
/// it when the space was restored; `None` when there was nothing to restore or the file could
/// not be used (then it is set aside with a warning, and any timestamps it still gives are
/// remembered). Without a snapshot, the timestamps files of hosts before snapshots are read.
pub fn load(
    connector: &str,
    file: &Path,
    fingerprint: &[u8; 32],
    spaces: &[NamedSpace<'_>],
) -> Option<BTreeMap<String, String>> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            load_legacy_timestamps(file, spaces);
            return None;
        }
        Err(e) => {
            set_aside(connector, file, &SnapshotError::Io(e));
            return None;
        }
    };
    let started = Instant::now();
    match decode(&bytes, fingerprint, spaces) {
        Ok(Decoded::Restored(watermarks, objects)) => {
            tracing::info!(connector, file = %file.display(), objects, ms = started.elapsed().as_millis() as u64, "connector space restored from its snapshot; reconciling with the target in the background");
            Some(watermarks)
        }
        Ok(Decoded::Stale) => {
            set_aside(connector, file, &SnapshotError::Fingerprint);
            None
        }
        Err(e) => {
            set_aside(connector, file, &e);
            None
        }
    }
}

fn set_aside(connector: &str, file: &Path, reason: &SnapshotError) {
    let now = crate::space::system_clock()();
    let mut aside = file.as_os_str().to_owned();
    aside.push(format!(".{}-{now}", reason.aside()));
    let aside = PathBuf::from(aside);
    match std::fs::rename(file, &aside) {
        Ok(()) => {
            tracing::warn!(connector, file = %file.display(), set_aside_as = %aside.display(), reason = %reason, "connector space snapshot not used; importing in full")
        }
        Err(e) => {
            tracing::warn!(connector, file = %file.display(), reason = %reason, error = %e, "connector space snapshot not used and cannot be set aside; importing in full")
        }
    }
}

enum Decoded {
    /// The spaces hold the snapshot's objects (this many).
    Restored(BTreeMap<String, String>, usize),
    /// Another configuration's snapshot: only its timestamps were remembered.
    Stale,
}

/// A cursor over the body; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.bytes.len() {
            return Err(SnapshotError::Malformed("a field runs past the end"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, SnapshotError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(SnapshotError::Malformed("a number is too long"))
    }

    /// A count of items that each take at least one byte (so a damaged count cannot make us
    /// reserve more than the file could hold).
    fn count(&mut self) -> Result<usize, SnapshotError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len())
            .ok_or(SnapshotError::Malformed("a count exceeds the file"))
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }

    fn bytes(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.count()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        std::str::from_utf8(self.bytes()?)
            .map(str::to_string)
            .map_err(|_| SnapshotError::Malformed("a text is not UTF-8"))
    }

    fn value(&mut self) -> Result<Value, SnapshotError> {
        Ok(match self.take(1)?[0] {
            0 => Value::String(self.string()?),
            1 => Value::Reference(self.string()?),
            2 => Value::Integer(self.i64()?),
            3 => Value::Boolean(self.take(1)?[0] != 0),
            4 => Value::Binary(self.bytes()?.to_vec()),
            _ => return Err(SnapshotError::Malformed("unknown value type")),
        })
    }
}

/// Check the header and the checksum, then fill the spaces (only once every type decoded).
fn decode(
    file: &[u8],
    fingerprint: &[u8; 32],
    spaces: &[NamedSpace<'_>],
) -> Result<Decoded, SnapshotError> {
    if file.len() < HEADER_LEN || &file[..8] != MAGIC {
        return Err(SnapshotError::Magic);
    }
    let u32_at = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&file[at..at + 4]);
        u32::from_le_bytes(b)
    };
    let found = u32_at(8);
    if found != FORMAT_VERSION {
        return Err(SnapshotError::Version { found });
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&file[12..20]);
    let expected = u64::from_le_bytes(length);
    let body = &file[HEADER_LEN..];
    if body.len() as u64 != expected {
        return Err(SnapshotError::Length {
            expected,
            found: body.len() as u64,
        });
    }
    if crc32fast::hash(body) != u32_at(20) {
        return Err(SnapshotError::Checksum);
    }
    let Some(&(_, first)) = spaces.first() else {
        return Err(SnapshotError::Malformed(
            "the connector has no resource types",
        ));
    };
    let mut r = Reader { bytes: body };
    let stale = r.take(32)? != fingerprint;
    let mut watermarks = BTreeMap::new();
    for _ in 0..r.count()? {
        let partition = r.string()?;
        watermarks.insert(partition, r.string()?);
    }
    let types = r.count()?;
    if types != spaces.len() && !stale {
        return Err(SnapshotError::Malformed(
            "the number of resource types differs",
        ));
    }
    let mut decoded = Vec::with_capacity(types);
    for index in 0..types {
        let name = r.string()?;
        // A stale snapshot's types are matched by name; a current one's by position too.
        let space = match spaces.iter().find(|(n, _)| *n == name) {
            Some((_, space)) if stale || spaces[index].0 == name => Some(*space),
            _ if stale => None,
            _ => return Err(SnapshotError::Malformed("a resource type's name differs")),
        };
        decoded.push((space, decode_type(&mut r, space.unwrap_or(first))?));
    }
    if !r.bytes.is_empty() {
        return Err(SnapshotError::Malformed(
            "bytes after the last resource type",
        ));
    }
    if stale {
        for (space, (objects, remembered)) in decoded {
            if let Some(space) = space {
                let old = objects
                    .into_iter()
                    .map(|o| (o.etag(), o))
                    .map(|(v, o)| (o.anchor, (o.created, o.modified, v)));
                space.remember(old.chain(remembered));
            }
        }
        return Ok(Decoded::Stale);
    }
    let mut total = 0;
    for (space, (objects, remembered)) in decoded {
        let Some(space) = space else { continue };
        total += space.restore(objects).ok_or(SnapshotError::Malformed(
            "attributes or values out of order",
        ))?;
        space.remember(remembered);
    }
    Ok(Decoded::Restored(watermarks, total))
}

type TypeContent = (Vec<CsObject>, Vec<(String, Remembered)>);

fn decode_type(r: &mut Reader<'_>, space: &ConnectorSpace) -> Result<TypeContent, SnapshotError> {
    let names: Vec<AttrName> = (0..r.count()?)
        .map(|_| r.string().map(|n| space.intern(&n)))
        .collect::<Result<_, _>>()?;
    let count = r.count()?;
    let mut objects = Vec::with_capacity(count);
    for _ in 0..count {
        let anchor = r.string()?;
        let dn = r.string()?;
        let created = r.i64()?;
        let modified = r.i64()?;
        let attributes = (0..r.count()?)
            .map(|_| {
                let name = usize::try_from(r.varint()?)
                    .ok()
                    .and_then(|i| names.get(i))
                    .ok_or(SnapshotError::Malformed(
                        "an attribute name index is out of range",
                    ))?
                    .clone();
                let values = (0..r.count()?)
                    .map(|_| r.value())
                    .collect::<Result<Values, _>>()?;
                Ok((name, values))
            })
            .collect::<Result<Vec<_>, SnapshotError>>()?;
        objects.push(ConnectorSpace::restored_object(
            anchor, dn, attributes, created, modified,
        ));
    }
    let remembered = (0..r.count()?)
        .map(|_| Ok((r.string()?, (r.i64()?, r.i64()?, r.string()?))))
        .collect::<Result<_, SnapshotError>>()?;
    Ok((objects, remembered))
}

/// A writer that counts and checksums what passes through it.
struct Body<W> {
    out: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Body<W> {
    fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn varint(&mut self, mut n: u64) -> std::io::Result<()> {
        let mut buf = [0u8; 10];
        let mut i = 0;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                buf[i] = byte;
                break;
            }
            buf[i] = byte | 0x80;
            i += 1;
        }
        self.raw(&buf[..=i])
    }

    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.varint(b.len() as u64)?;
        self.raw(b)
    }

    fn i64(&mut self, n: i64) -> std::io::Result<()> {
        self.raw(&n.to_le_bytes())
    }

    fn value(&mut self, value: &Value) -> std::io::Result<()> {
        match value {
            Value::String(s) => self.raw(&[0]).and_then(|_| self.bytes(s.as_bytes())),
            Value::Reference(s) => self.raw(&[1]).and_then(|_| self.bytes(s.as_bytes())),
            Value::Integer(i) => self.raw(&[2]).and_then(|_| self.i64(*i)),
            Value::Boolean(b) => self.raw(&[3, u8::from(*b)]),
            Value::Binary(b) => self.raw(&[4]).and_then(|_| self.bytes(b)),
        }
    }

    fn space(&mut self, name: &str, space: &ConnectorSpace) -> std::io::Result<()> {
        self.bytes(name.as_bytes())?;
        let (objects, remembered) = space.timestamp_snapshot();
        let mut table: HashMap<&str, u64> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        for (n, _) in objects.iter().flat_map(|o| o.attributes.iter()) {
            table.entry(n).or_insert_with(|| {
                names.push(n);
                names.len() as u64 - 1
            });
        }
        self.varint(names.len() as u64)?;
        for n in &names {
            self.bytes(n.as_bytes())?;
        }
        self.varint(objects.len() as u64)?;
        for object in &objects {
            self.object(object, &table)?;
        }
        self.varint(remembered.len() as u64)?;
        for (anchor, (created, modified, version)) in &remembered {
            self.bytes(anchor.as_bytes())?;
            self.i64(*created)?;
            self.i64(*modified)?;
            self.bytes(version.as_bytes())?;
        }
        Ok(())
    }

    fn object(&mut self, o: &Arc<CsObject>, table: &HashMap<&str, u64>) -> std::io::Result<()> {
        self.bytes(o.anchor.as_bytes())?;
        self.bytes(o.dn.as_bytes())?;
        self.i64(o.created)?;
        self.i64(o.modified)?;
        self.varint(o.attributes.len() as u64)?;
        for (name, values) in o.attributes.iter() {
            self.varint(table.get(name.as_ref()).copied().unwrap_or_default())?;
            self.varint(values.len() as u64)?;
            for v in values {
                self.value(v)?;
            }
        }
        Ok(())
    }
}

/// Write a snapshot of `spaces` to `file`: streamed to a temporary file, the header filled in
/// last, synced, then renamed over the old one, so a crash leaves the previous snapshot whole.
pub fn save(
    file: &Path,
    fingerprint: &[u8; 32],
    watermarks: &BTreeMap<String, String>,
    spaces: &[NamedSpace<'_>],
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = file.with_extension("snapshot.tmp");
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(&[0u8; HEADER_LEN])?;
    let mut body = Body {
        out,
        crc: crc32fast::Hasher::new(),
        len: 0,
    };
    body.raw(fingerprint)?;
    body.varint(watermarks.len() as u64)?;
    for (partition, watermark) in watermarks {
        body.bytes(partition.as_bytes())?;
        body.bytes(watermark.as_bytes())?;
    }
    body.varint(spaces.len() as u64)?;
    for (name, space) in spaces {
        body.space(name, space)?;
    }
    let Body { out, crc, len } = body;
    let mut out = out.into_inner().map_err(|e| e.into_error())?;
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&len.to_le_bytes());
    header.extend_from_slice(&crc.finalize().to_le_bytes());
    out.seek(std::io::SeekFrom::Start(0))?;
    out.write_all(&header)?;
    out.sync_all()?;
    std::fs::rename(&tmp, file)?;
    // The timestamps files of hosts before snapshots would otherwise apply again one day.
    if let Some(dir) = file.parent() {
        for (name, _) in spaces {
            let _ = std::fs::remove_file(legacy_file(dir, name));
        }
    }
    Ok(())
}

/// Write `state`'s snapshot now, if its space is complete (not during the first import).
/// `last` marks the shutdown's snapshot; once it is written, later calls do nothing.
pub fn save_state(state: &super::ConnectorState, connector: &str, last: bool) {
    if *state.availability.read() != super::Availability::Ready {
        return;
    }
    let mut closed = state.saving.lock();
    if *closed {
        return;
    }
    *closed = last;
    for s in &state.spaces {
        s.space.take_changed();
    }
    // Watermarks first: the objects taken after them hold everything up to them.
    let watermarks = state.watermarks.lock().clone();
    let spaces: Vec<NamedSpace<'_>> = state
        .type_names
        .iter()
        .map(String::as_str)
        .zip(state.spaces.iter().map(|s| &s.space))
        .collect();
    let started = Instant::now();
    let file = &state.snapshot_file;
    match save(file, &state.fingerprint, &watermarks, &spaces) {
        Ok(()) => {
            let objects: usize = spaces.iter().map(|(_, s)| s.len()).sum();
            tracing::debug!(connector, file = %file.display(), objects, ms = started.elapsed().as_millis() as u64, "connector space snapshot written");
        }
        Err(e) => {
            tracing::warn!(connector, file = %file.display(), error = %e, "cannot write the connector space snapshot; the previous one stays")
        }
    }
    // The snapshot's buffers, and before it an import's pages, were just freed.
    crate::memory::release_free();
}

/// Write the snapshot when the space changed, at most every [`FLUSH_EVERY`] and at most a
/// tenth of the time, while the state lives.
pub async fn flush_loop(connector: String, state: Weak<super::ConnectorState>) {
    let mut pending = false;
    let mut quiet_until = Instant::now();
    loop {
        tokio::time::sleep(FLUSH_EVERY).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        pending |= state
            .spaces
            .iter()
            .fold(false, |any, s| s.space.take_changed() | any);
        if !pending || Instant::now() < quiet_until {
            continue;
        }
        pending = false;
        let connector = connector.clone();
        let started = Instant::now();
        let _ = tokio::task::spawn_blocking(move || save_state(&state, &connector, false)).await;
        quiet_until = Instant::now() + started.elapsed() * 9;
    }
}

/// `timestamps-{ResourceType}.tsv`, what hosts before snapshots kept.
fn legacy_file(state_dir: &Path, resource_type: &str) -> PathBuf {
    state_dir.join(format!("timestamps-{resource_type}.tsv"))
}

/// Hand the timestamps a host before snapshots saved (if any) to the spaces. A line that does
/// not parse is skipped: losing a timestamp is better than refusing to start.
fn load_legacy_timestamps(file: &Path, spaces: &[NamedSpace<'_>]) {
    let Some(dir) = file.parent() else { return };
    for (name, space) in spaces {
        let Ok(text) = std::fs::read_to_string(legacy_file(dir, name)) else {
            continue;
        };
        let entries = text.lines().filter_map(|line| {
            let mut fields = line.split('\t');
            let anchor = percent_encoding::percent_decode_str(fields.next()?)
                .decode_utf8()
                .ok()?
                .into_owned();
            let created = fields.next()?.parse().ok()?;
            let modified = fields.next()?.parse().ok()?;
            let version = fields.next()?.to_string();
            Some((anchor, (created, modified, version)))
        });
        space.remember(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space_with(objects: &[(&str, &str)]) -> ConnectorSpace {
        let space = ConnectorSpace::new("Mail");
        for (anchor, mail) in objects {
            space.upsert(space.object(
                anchor.to_string(),
                format!("CN={anchor}"),
                [
                    ("Mail".to_string(), vec![Value::String(mail.to_string())]),
                    (
                        "Member".to_string(),
                        vec![Value::Reference("b".into()), Value::Reference("a".into())],
                    ),
                    ("Age".to_string(), vec![Value::Integer(-3)]),
                    ("On".to_string(), vec![Value::Boolean(true)]),
                    ("Photo".to_string(), vec![Value::Binary(vec![0, 255])]),
                ],
            ));
        }
        space
    }

    fn saved(dir: &Path, space: &ConnectorSpace) -> PathBuf {
        let file = dir.join("space.snapshot");
        let watermarks = BTreeMap::from([(String::new(), "w1".to_string())]);
        save(&file, &[7; 32], &watermarks, &[("User", space)]).unwrap();
        file
    }

    #[test]
    fn a_snapshot_restores_objects_timestamps_and_watermarks() {
        let dir = tempfile::tempdir().unwrap();
        let space = space_with(&[("alice", "A@x"), ("bob", "b@x")]);
        space.remember([("carol".to_string(), (1, 2, "W/\"v\"".to_string()))]);
        let file = saved(dir.path(), &space);
        let back = ConnectorSpace::new("Mail");
        let watermarks = load("c", &file, &[7; 32], &[("User", &back)]).unwrap();
        assert_eq!(watermarks[""], "w1");
        assert_eq!(back.len(), 2);
        for anchor in ["alice", "bob"] {
            let (a, b) = (space.get(anchor).unwrap(), back.get(anchor).unwrap());
            assert_eq!(*a, *b);
            assert_eq!(
                (a.created, a.modified, a.etag()),
                (b.created, b.modified, b.etag())
            );
        }
        // Indexes are rebuilt; remembered timestamps kept.
        assert_eq!(back.find_by_query(&Value::String("a@X".into())).len(), 1);
        assert_eq!(back.timestamp_snapshot().1.len(), 1);
        assert!(file.is_file(), "a good snapshot stays in place");
    }

    #[test]
    fn damaged_or_foreign_snapshots_are_set_aside() {
        let aside = |dir: &Path, kind: &str| {
            std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("space.snapshot.{kind}-"))
                })
                .count()
        };
        let space = space_with(&[("alice", "a@x")]);
        type Damage = fn(&mut Vec<u8>);
        let damage: [(&str, Damage); 4] = [
            ("corrupt", |b| {
                let last = b.len() - 1;
                b[last] ^= 1;
            }),
            ("corrupt", |b| b.truncate(b.len() - 3)),
            ("corrupt", |b| b[0] = b'X'),
            ("incompatible", |b| b[8] = 99),
        ];
        for (kind, damage) in damage {
            let dir = tempfile::tempdir().unwrap();
            let file = saved(dir.path(), &space);
            let mut bytes = std::fs::read(&file).unwrap();
            damage(&mut bytes);
            std::fs::write(&file, bytes).unwrap();
            let back = ConnectorSpace::new("Mail");
            assert!(load("c", &file, &[7; 32], &[("User", &back)]).is_none());
            assert!(back.is_empty());
            assert!(!file.exists());
            assert_eq!(aside(dir.path(), kind), 1, "{kind}");
        }
        // Another configuration's snapshot: set aside, but its timestamps are remembered.
        let dir = tempfile::tempdir().unwrap();
        let file = saved(dir.path(), &space);
        let back = ConnectorSpace::new("Mail");
        assert!(load("c", &file, &[8; 32], &[("User", &back)]).is_none());
        assert!(back.is_empty());
        assert_eq!(aside(dir.path(), "incompatible"), 1);
        let alice = space.get("alice").unwrap();
        let again = back.upsert(
            space_with(&[("alice", "a@x")])
                .get("alice")
                .unwrap()
                .as_ref()
                .clone(),
        );
        assert_eq!(
            (again.created, again.modified),
            (alice.created, alice.modified)
        );
    }
}
