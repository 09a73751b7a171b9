//! A test-only connector library that says it was built for the next major of the plugin API.
//!
//! Everything abi_stable checks is right: the header, the root module's layout and its version
//! string all come from this build of `ecma-plugin-api`. Only the API version that `info` reports
//! is wrong, so the library gets past abi_stable and must be refused by our own check in
//! `load_library` (`LoadError::Incompatible`, "library was built for API 2.0"). That is the
//! situation of a library built against a future plugin-api 2.x whose author kept the old
//! abi_stable version string.
//!
//! Never ship it: it exists for the loader tests in `tests/tests/integration/loader.rs`.

use abi_stable::export_root_module;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{RResult, RString};
use ecma_plugin_api::ffi::{
    codes, ConnectorModule, ConnectorModuleRef, FfiConnectorBox, FfiError, FfiPluginInfo, FfiResult,
};

/// The API major this library claims: one more than the host's.
pub const CLAIMED_API_MAJOR: u32 = ecma_plugin_api::API_MAJOR + 1;

extern "C" fn info() -> FfiPluginInfo {
    FfiPluginInfo {
        name: RString::from("wrong-api-major"),
        version: RString::from(env!("CARGO_PKG_VERSION")),
        description: RString::from("Test library that claims a future plugin API major"),
        api_major: CLAIMED_API_MAJOR,
        api_minor: 0,
    }
}

/// A host that checks the API version never gets here; one that does not gets an error rather
/// than a connector.
extern "C" fn new_connector() -> FfiResult<FfiConnectorBox> {
    RResult::RErr(FfiError {
        kind: codes::ERROR_NOT_SUPPORTED,
        message: RString::from(format!(
            "this test library claims plugin API {CLAIMED_API_MAJOR}.0 and has no connector"
        )),
    })
}

#[export_root_module]
pub fn wrong_api_major_root_module() -> ConnectorModuleRef {
    ConnectorModule {
        info,
        new_connector,
    }
    .leak_into_prefix()
}
