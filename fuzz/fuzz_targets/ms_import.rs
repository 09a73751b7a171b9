#![no_main]
//! cargo-fuzz target: see `targets::ms_import`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::ms_import(data));
