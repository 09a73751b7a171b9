//! A test-only connector library whose root-module initializer panics.
//!
//! The host reads the library's abi_stable header, which is valid, and then asks it for its root
//! module. abi_stable runs the `#[export_root_module]` function inside `catch_unwind` in the
//! library and reports `RootModuleError::Unwound`, which `load_library` turns into
//! `LoadError::InitFailed` ("the library's initializer panicked"). No unwinding crosses the
//! boundary and the host keeps running.
//!
//! Never ship it: it exists for the loader tests in `tests/tests/integration/loader.rs`.
#![allow(clippy::panic)] // Panicking while the host initialises the library is this crate's whole purpose.

use ecma_plugin_api::ffi::ConnectorModuleRef;

#[abi_stable::export_root_module]
pub fn panicking_root_module() -> ConnectorModuleRef {
    panic!("panicking-init test library: deliberate panic in the root module initializer");
}
