//! SCIM 2.0 (RFC 7643/7644) as data: wire types, the filter grammar and PATCH semantics.
//!
//! Architecture invariant: no I/O, no HTTP framework, no knowledge of connectors. Everything
//! here works on `serde_json::Value` resources and plain types, so it can be tested alone and
//! reused by any front end. The host maps these errors to HTTP responses; this crate only says
//! which `scimType` an error is.

pub mod filter;
mod json;
pub mod patch;
pub mod query;
pub mod wire;

pub use filter::{parse_filter, AttrPath, CompareOp, Filter, FilterError};
pub use patch::{
    apply_patch, apply_patch_with, parse_patch, PatchError, PatchOp, PatchOpKind, PatchPath,
};
pub use wire::*;
