#![no_main]
//! cargo-fuzz target: see `targets::bulk`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::bulk(data));
