//! Keeps the connector spaces' `meta.created` and `meta.lastModified` in the connector's data
//! folder (`data_dir/{connector}/timestamps-{ResourceType}.tsv`), so they survive a restart.
//!
//! The file is a snapshot, written atomically (temp file, then rename) a few seconds after a
//! change and at shutdown. One line per object: the percent-encoded anchor, the two times in
//! Unix milliseconds, and the object's version, which says on the next start whether the
//! target changed the object meanwhile (then `lastModified` becomes the time it was seen).

use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;

use crate::connector::mapping::percent_encode;
use crate::space::ConnectorSpace;

/// How long after a change the snapshot is written.
const FLUSH_EVERY: Duration = Duration::from_secs(2);

/// The snapshot file of one resource type.
pub fn file(state_dir: &Path, resource_type: &str) -> PathBuf {
    state_dir.join(format!("timestamps-{resource_type}.tsv"))
}

/// Hand the timestamps saved in `file` (if any) to `space`. A line that does not parse is
/// skipped: losing a timestamp is better than refusing to start.
pub fn load(space: &ConnectorSpace, file: &Path) {
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
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

/// Write `space`'s timestamps to `file`: streamed to a temporary file, synced, then renamed
/// over the old one, so a crash leaves the previous snapshot whole.
pub fn save(space: &ConnectorSpace, file: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (objects, remembered) = space.timestamp_snapshot();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = file.with_extension("tmp");
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    let mut out = std::io::BufWriter::new(out);
    for object in &objects {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            percent_encode(&object.anchor),
            object.created,
            object.modified,
            object.etag()
        )?;
    }
    for (anchor, (created, modified, version)) in &remembered {
        writeln!(
            out,
            "{}\t{created}\t{modified}\t{version}",
            percent_encode(anchor)
        )?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, file)
}

/// Write each changed space's snapshot every [`FLUSH_EVERY`], while the state lives.
pub async fn flush_loop(
    connector: String,
    state: Weak<super::ConnectorState>,
    files: Vec<PathBuf>,
) {
    loop {
        tokio::time::sleep(FLUSH_EVERY).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let files = files.clone();
        let connector = connector.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for (space, file) in state.spaces.iter().map(|s| &s.space).zip(&files) {
                if space.take_changed() {
                    if let Err(e) = save(space, file) {
                        tracing::warn!(connector = %connector, file = %file.display(), error = %e, "cannot save object timestamps");
                    }
                }
            }
        })
        .await;
    }
}
