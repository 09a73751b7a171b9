#![no_main]
//! cargo-fuzz target: see `targets::connector_toml`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::connector_toml(data));
