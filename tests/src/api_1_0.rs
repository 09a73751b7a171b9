//! The frozen API 1.0 world of `tests/fixtures/api-1.0/`: a connector library built against the
//! 1.0 `ecma-plugin-api`, and a loader program built with the 1.0 `load_library`.
//!
//! It is a separate cargo workspace (it holds a second package named `ecma-plugin-api`), so
//! this builds it once per test process with the cargo that runs the tests, into
//! `target/api-1.0`. Incremental after the first time. A failed build fails the test with
//! cargo's output: the compatibility tests never pass without the fixture.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // Test support.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The built fixture.
pub struct Api10 {
    /// `libecma_fixture_v10.so`: a connector built against API 1.0 (`User`, anchor `Id`,
    /// attributes `Name` and `Mode`, kept in memory).
    pub connector: PathBuf,
    /// `ecma-fixture-v10-loader <library>`: loads and drives a library the 1.0 way.
    pub loader: PathBuf,
}

/// Build the fixture (once per process) and return where its outputs are.
pub fn api_1_0() -> &'static Api10 {
    static BUILT: OnceLock<Api10> = OnceLock::new();
    BUILT.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/api-1.0/Cargo.toml");
        // The test binary is in `target/{profile}/deps`.
        let target = crate::plugin_dir()
            .parent()
            .and_then(Path::parent)
            .expect("the target directory")
            .join("api-1.0");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let output = Command::new(cargo)
            .args(["build", "--locked", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            // The outer build's settings are not this workspace's.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .expect("run cargo to build the API 1.0 fixture");
        assert!(
            output.status.success(),
            "building the API 1.0 fixture ({}) failed:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let built = Api10 {
            connector: target.join("debug/libecma_fixture_v10.so"),
            loader: target.join("debug/ecma-fixture-v10-loader"),
        };
        for file in [&built.connector, &built.loader] {
            assert!(
                file.is_file(),
                "the API 1.0 fixture has no {}",
                file.display()
            );
        }
        built
    })
}
