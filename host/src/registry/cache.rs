//! Start-up clean-up of `ECMA/Cache/`: library copies that no connector loaded.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Registry;

impl Registry {
    /// Delete library copies in `ECMA/Cache/` that no connector has loaded. Only safe at
    /// start-up: later, every loaded copy must stay, since it can never be unloaded.
    pub(super) fn clean_cache(&self) {
        let loaded: BTreeSet<PathBuf> = self
            .lifecycle
            .lock()
            .values()
            .flat_map(|l| l.versions_loaded.iter().cloned())
            .collect();
        let cache = self.host.ecma_dir.join("Cache");
        let Ok(dirs) = std::fs::read_dir(&cache) else {
            return;
        };
        for dir in dirs
            .filter_map(|d| d.ok())
            .map(|d| d.path())
            .filter(|p| p.is_dir())
        {
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            // A stamp (the plugin loader's memo of a library's hash) stays while the
            // connector has a loaded version here.
            let in_use = loaded.iter().any(|l| l.parent() == Some(dir.as_path()));
            for file in files.filter_map(|f| f.ok()).map(|f| f.path()) {
                let stamp = file.extension().is_some_and(|e| e == "stamp");
                let keep = loaded.contains(&file) || (stamp && in_use);
                if !keep {
                    match std::fs::remove_file(&file) {
                        Ok(()) => {
                            tracing::info!(file = %file.display(), "removed unused library copy from the cache")
                        }
                        Err(e) => {
                            tracing::warn!(file = %file.display(), error = %e, "cannot remove unused library copy")
                        }
                    }
                }
            }
            let _ = std::fs::remove_dir(&dir); // Only succeeds when empty.
        }
    }
}
