//! Watching the `ECMA` folder and the connectors folder, and turning changes into reloads.
//!
//! Publishing a library by writing a temp file and renaming it is the documented way, but a slow
//! copy in place must work too. So a changed library is reloaded only once it is stable: the same
//! size and modification time across two looks at least 500 ms apart. The registry then copies
//! it into each user's cache under a new content-hashed name; an unchanged hash changes nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use tokio::sync::mpsc;

use crate::registry::{Registry, ReloadOutcome};

/// How long two looks at a changing file are apart.
const STABLE_INTERVAL: Duration = Duration::from_millis(500);
/// Give up on a file that keeps changing after this many looks (about a minute).
const STABLE_MAX_LOOKS: usize = 120;

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct WatchError {
    path: PathBuf,
    source: notify_debouncer_full::notify::Error,
}

/// Start watching; reloads run on the current tokio runtime.
pub fn spawn(registry: Arc<Registry>) -> Result<WatchGuard, WatchError> {
    let host = registry.host().clone();
    let (tx, rx) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut debouncer = new_debouncer(
        Duration::from_millis(200),
        None,
        move |result: DebounceEventResult| match result {
            Ok(events) => {
                // Opening or reading a file (our own hashing and copying included) is not a change;
                // reacting to it would reload in a loop.
                let paths: Vec<PathBuf> = events
                    .into_iter()
                    .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                    .flat_map(|e| e.event.paths)
                    .collect();
                if !paths.is_empty() {
                    let _ = tx.send(paths);
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "file watcher error");
                }
            }
        },
    )
    .map_err(|source| WatchError {
        path: host.ecma_dir.clone(),
        source,
    })?;
    for dir in [&host.ecma_dir, &host.connectors_dir] {
        debouncer
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError {
                path: dir.clone(),
                source,
            })?;
    }
    tokio::spawn(dispatch(registry, rx));
    tracing::info!(ecma = %host.ecma_dir.display(), connectors = %host.connectors_dir.display(), "watching for connector library and config changes");
    Ok(WatchGuard {
        _debouncer: debouncer,
    })
}

async fn dispatch(registry: Arc<Registry>, mut rx: mpsc::UnboundedReceiver<Vec<PathBuf>>) {
    let host = registry.host().clone();
    let ecma_dir = canonical(&host.ecma_dir);
    let connectors_dir = canonical(&host.connectors_dir);
    while let Some(paths) = rx.recv().await {
        let mut seen = HashSet::new();
        for path in paths {
            if !seen.insert(path.clone()) || is_temporary(&path) {
                continue;
            }
            let parent = path.parent().map(canonical);
            if parent.as_deref() == Some(connectors_dir.as_path())
                && path.extension().is_some_and(|e| e == "toml")
            {
                let outcome = registry.reload_file(&path).await;
                log_outcome(&path.display().to_string(), &outcome);
            } else if parent.as_deref() == Some(ecma_dir.as_path()) && path.is_file() {
                let Some(file_name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                let registry = registry.clone();
                // Waiting for stability must not hold up other events.
                tokio::spawn(async move {
                    if wait_until_stable(&path).await {
                        for (connector, outcome) in registry.library_changed(&file_name).await {
                            log_outcome(&connector, &outcome);
                        }
                    } else {
                        tracing::warn!(file = %path.display(), "library kept changing; not reloaded");
                    }
                });
            }
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Editors' and copiers' scratch files: hidden files and `*.tmp`/`*.part`/`*~`.
fn is_temporary(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".tmp")
        || name.ends_with(".part")
}

fn log_outcome(what: &str, outcome: &ReloadOutcome) {
    match outcome {
        ReloadOutcome::Unchanged => tracing::debug!(what, "change seen; nothing to reload"),
        ReloadOutcome::Swapped => tracing::info!(what, "reloaded"),
        ReloadOutcome::Removed => tracing::info!(what, "removed"),
        ReloadOutcome::Failed(reason) => {
            tracing::warn!(what, %reason, "reload failed; previous version serves on")
        }
    }
}

fn fingerprint(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// True once `path` shows the same non-zero size and mtime twice, `STABLE_INTERVAL` apart.
async fn wait_until_stable(path: &Path) -> bool {
    let mut last = fingerprint(path);
    for _ in 0..STABLE_MAX_LOOKS {
        tokio::time::sleep(STABLE_INTERVAL).await;
        let now = fingerprint(path);
        if now.is_some() && now == last && now.is_some_and(|(len, _)| len > 0) {
            return true;
        }
        last = now;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_files_are_ignored() {
        for name in [".libx.so.swp", "libx.so.tmp", "libx.so~", "libx.so.part"] {
            assert!(is_temporary(Path::new(name)), "{name}");
        }
        assert!(!is_temporary(Path::new("libx.so")));
    }

    #[tokio::test]
    async fn a_file_still_growing_is_not_stable_yet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.so");
        std::fs::write(&path, b"a").unwrap();
        let writer = {
            let path = path.clone();
            tokio::spawn(async move {
                for i in 0..4 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    std::fs::write(&path, vec![b'x'; 10 + i]).unwrap();
                }
            })
        };
        let started = std::time::Instant::now();
        assert!(wait_until_stable(&path).await);
        // It cannot settle before the last write, about 1.2 s in.
        assert!(started.elapsed() >= Duration::from_millis(1200));
        writer.await.unwrap();
    }
}
