#![no_main]
//! cargo-fuzz target: see `targets::filter`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::filter(data));
