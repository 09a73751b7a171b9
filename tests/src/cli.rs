//! The `ecmahost` executable, for tests that drive the command line as a user does (assert_cmd
//! for the commands, a pseudo-terminal for the wizard).
//!
//! Cargo builds a package's executable only for that package's own tests, so this suite runs
//! the one in the target folder: `scripts/test.sh` builds it first. A missing or stale
//! executable (older than a source file of the host) fails the
//! test with the command that fixes it, rather than testing old code.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Files under `path` (or `path` itself) modified after `time`.
fn newer_files(path: &Path, time: SystemTime) -> Vec<PathBuf> {
    if path.is_dir() {
        std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .flat_map(|e| newer_files(&e.path(), time))
            .collect()
    } else if modified(path).is_some_and(|m| m > time) {
        vec![path.to_path_buf()]
    } else {
        Vec::new()
    }
}

/// The path of `target/<profile>/ecmahost`, checked to be built from the current sources.
pub fn ecmahost_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let deps = exe.parent().expect("the test binary's folder");
        let profile = deps.parent().expect("the target profile folder");
        let bin = profile.join("ecmahost");
        let built = modified(&bin).unwrap_or_else(|| {
            panic!(
                "{} is missing; build it with `cargo build -p ecmahost` (scripts/test.sh does)",
                bin.display()
            )
        });
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let sources = ["host/src", "host/Cargo.toml", "plugin-api/src", "scim/src"];
        if let Some(newer) = sources
            .iter()
            .flat_map(|s| newer_files(&root.join(s), built))
            .next()
        {
            panic!(
                "{} is older than {}; rebuild it with `cargo build -p ecmahost`",
                bin.display(),
                newer.display()
            );
        }
        bin
    })
}

/// `ecmahost ARGS` with a clean environment for logs, run from `dir`.
pub fn ecmahost(dir: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(ecmahost_bin());
    command.current_dir(dir).env_remove("RUST_LOG");
    command
}
