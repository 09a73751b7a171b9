#![no_main]
//! cargo-fuzz target: see `targets::ws_project`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::ws_project(data));
