#![no_main]
//! cargo-fuzz target: see `targets::mapping`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::mapping(data));
