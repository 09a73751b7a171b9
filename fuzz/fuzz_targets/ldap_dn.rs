#![no_main]
//! cargo-fuzz target: see `targets::ldap_dn`.

#[path = "../src/targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::ldap_dn(data));
