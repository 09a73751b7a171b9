//! The command line, driven as a user drives it: `ecmahost` run as a process (assert_cmd), its
//! output and exit code checked, against a demo folder (SQLite) or PostgreSQL.

mod manage;
mod reference;
mod transfer;
mod wizard;

use std::path::Path;

use ecma_integration_tests::plugin_dir;
use tempfile::TempDir;

/// A demo folder (host.toml, connectors/demo.toml, SQLite database, the SQL plugin in ECMA/),
/// not served.
pub(crate) async fn demo_folder() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    ecmahost::demo::prepare(
        dir.path(),
        std::net::Ipv4Addr::LOCALHOST.into(),
        0,
        &plugin_dir().join("libecma_sql.so"),
    )
    .await
    .unwrap();
    dir
}

/// `ecmahost ARGS`, run in `dir` to its end.
pub(crate) fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    ecma_integration_tests::cli::ecmahost(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Standard output of a finished command, as text.
pub(crate) fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn assert_contains_all(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "expected `{part}` in:\n{text}");
    }
}

pub(crate) fn sql_plugin_in(dir: &Path) -> std::path::PathBuf {
    dir.join("ECMA/libecma_sql.so")
}
