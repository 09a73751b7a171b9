//! The stable-ABI boundary: `#[repr(C)]` mirrors of [`crate::model`], the root module every
//! connector library exports, and the `#[sabi_trait]` objects the host calls through.
//!
//! Compatibility rules (docs/plugin-api-compatibility.md has the whole story):
//! - enumerations that may grow cross the boundary as numeric codes (`Code(u32)`), never as
//!   Rust enums, so an old host reading a new code sees "unknown", not undefined behaviour;
//! - the root module and the trait objects are prefix types: a minor release may append
//!   fields/methods after `last_prefix_field`, never reorder or remove.
#![allow(non_local_definitions)] // `#[sabi_trait]` and `StableAbi` expand to impls the lint dislikes.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RArc, RBox, ROption, RResult, RString, RVec};
use abi_stable::{declare_root_module_statics, sabi_trait, StableAbi};

/// Major version of this ABI. A library built for another major is refused.
pub const API_MAJOR: u32 = 1;
/// Minor version: what this build of the API offers. Libraries of older minors load in newer
/// hosts (the host calls only what they have), and libraries of newer minors in older hosts.
///
/// - 1.0: the ECMA2 surface.
/// - 1.1: the log channel ([`FfiConnector::attach_log`], [`FfiLogSink`]).
pub const API_MINOR: u32 = 1;

/// A numeric code for an enumeration that may grow in a minor release.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(pub u32);

#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug)]
pub enum FfiValue {
    String(RString),
    Integer(i64),
    Boolean(bool),
    Binary(RVec<u8>),
    Reference(RString),
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiSchemaAttribute {
    pub name: RString,
    /// `AttributeType` code.
    pub attribute_type: Code,
    pub multi_valued: bool,
    /// `AttributeDirection` code.
    pub direction: Code,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiObjectType {
    pub name: RString,
    pub anchor: RVec<RString>,
    pub attributes: RVec<FfiSchemaAttribute>,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiSchema {
    pub object_types: RVec<FfiObjectType>,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiValueChange {
    /// `ValueModification` code.
    pub modification: Code,
    pub value: FfiValue,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiAttributeChange {
    pub name: RString,
    /// `AttributeModification` code.
    pub modification: Code,
    pub values: RVec<FfiValueChange>,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiAnchorAttribute {
    pub name: RString,
    pub value: FfiValue,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiCsEntryChange {
    pub identifier: RString,
    pub object_type: RString,
    pub dn: RString,
    /// `ObjectModification` code.
    pub modification: Code,
    pub anchor: RVec<FfiAnchorAttribute>,
    pub changes: RVec<FfiAttributeChange>,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiExportResult {
    pub identifier: RString,
    /// `ExportErrorKind` code, or [`codes::EXPORT_SUCCESS`].
    pub code: Code,
    pub message: RString,
    pub anchor: RVec<FfiAnchorAttribute>,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiCapabilities {
    pub dn_style: Code,
    pub export_type: Code,
    pub object_confirmation: Code,
    /// Bit 0: uppercase, bit 1: remove accents.
    pub normalizations: u32,
    /// Bit flags, see [`codes::CAP_DELTA_IMPORT`] and the constants after it.
    pub flags: u64,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiConfigPage {
    pub kind: Code,
    /// Schema page number (1-based); 0 for other pages.
    pub index: u32,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiParameterDefinition {
    pub name: RString,
    pub kind: Code,
    pub description: RString,
    pub default: ROption<RString>,
    pub required: bool,
    /// Drop-down options.
    pub options: RVec<RString>,
    /// Drop-down accepts values outside `options`.
    pub extensible: bool,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiParameterValue {
    pub name: RString,
    pub value: RString,
    pub secret: bool,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiParameterIssue {
    pub parameter: RString,
    pub message: RString,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiPartition {
    pub name: RString,
    pub dn: RString,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiImportRequest {
    pub kind: Code,
    pub page_size: u32,
    pub watermark: RString,
    pub partition: RString,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiImportPage {
    pub entries: RVec<FfiCsEntryChange>,
    pub more: bool,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiExportRequest {
    pub export_type: Code,
    pub batch_size: u32,
    pub partition: RString,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiPasswordTarget {
    pub object_type: RString,
    pub dn: RString,
    pub anchor: RVec<FfiAnchorAttribute>,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiPluginInfo {
    pub name: RString,
    pub version: RString,
    pub description: RString,
    pub api_major: u32,
    pub api_minor: u32,
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiError {
    /// `ErrorKind` code.
    pub kind: Code,
    pub message: RString,
}

/// Code values. Unknown codes read by either side map to a safe default.
pub mod codes {
    use super::Code;

    pub const TYPE_STRING: Code = Code(0);
    pub const TYPE_INTEGER: Code = Code(1);
    pub const TYPE_BOOLEAN: Code = Code(2);
    pub const TYPE_BINARY: Code = Code(3);
    pub const TYPE_REFERENCE: Code = Code(4);

    pub const DIRECTION_IMPORT_EXPORT: Code = Code(0);
    pub const DIRECTION_IMPORT_ONLY: Code = Code(1);
    pub const DIRECTION_EXPORT_ONLY: Code = Code(2);

    pub const OBJECT_ADD: Code = Code(0);
    pub const OBJECT_REPLACE: Code = Code(1);
    pub const OBJECT_UPDATE: Code = Code(2);
    pub const OBJECT_DELETE: Code = Code(3);

    pub const ATTRIBUTE_ADD: Code = Code(0);
    pub const ATTRIBUTE_REPLACE: Code = Code(1);
    pub const ATTRIBUTE_UPDATE: Code = Code(2);
    pub const ATTRIBUTE_DELETE: Code = Code(3);

    pub const VALUE_ADD: Code = Code(0);
    pub const VALUE_DELETE: Code = Code(1);

    pub const EXPORT_SUCCESS: Code = Code(0);
    pub const EXPORT_CONNECTED_DIRECTORY_ERROR: Code = Code(1);
    pub const EXPORT_INVALID_DN: Code = Code(2);
    pub const EXPORT_MISSING_ANCHOR_COMPONENT: Code = Code(3);
    pub const EXPORT_SYNTAX_VIOLATION: Code = Code(4);
    pub const EXPORT_OBJECT_ALREADY_EXISTS: Code = Code(5);
    pub const EXPORT_NO_SUCH_OBJECT: Code = Code(6);
    pub const EXPORT_PERMISSION_ISSUE: Code = Code(7);
    pub const EXPORT_CUSTOM_CONTINUE_RUN: Code = Code(8);
    pub const EXPORT_CUSTOM_STOP_RUN: Code = Code(9);
    pub const EXPORT_BUSY: Code = Code(10);

    pub const DN_NONE: Code = Code(0);
    pub const DN_GENERIC: Code = Code(1);
    pub const DN_LDAP: Code = Code(2);

    pub const EXPORT_TYPE_ATTRIBUTE_UPDATE: Code = Code(0);
    pub const EXPORT_TYPE_ATTRIBUTE_REPLACE: Code = Code(1);
    pub const EXPORT_TYPE_OBJECT_REPLACE: Code = Code(2);

    pub const CONFIRMATION_NORMAL: Code = Code(0);
    pub const CONFIRMATION_NO_DELETE: Code = Code(1);
    pub const CONFIRMATION_NO_ADD_AND_DELETE: Code = Code(2);

    pub const CAP_DELTA_IMPORT: u64 = 1;
    pub const CAP_FULL_EXPORT: u64 = 1 << 1;
    pub const CAP_EXPORT_PASSWORD_IN_FIRST_PASS: u64 = 1 << 2;
    pub const CAP_NO_REFERENCE_VALUES_IN_FIRST_EXPORT_PASS: u64 = 1 << 3;
    pub const CAP_OBJECT_RENAME: u64 = 1 << 4;
    pub const CAP_DELETE_ADD_AS_REPLACE: u64 = 1 << 5;
    pub const CAP_PARTITIONS: u64 = 1 << 6;
    pub const CAP_HIERARCHY: u64 = 1 << 7;
    pub const CAP_CONCURRENT_OPERATIONS: u64 = 1 << 8;
    pub const CAP_PASSWORDS: u64 = 1 << 9;

    pub const PAGE_CONNECTIVITY: Code = Code(0);
    pub const PAGE_CAPABILITIES: Code = Code(1);
    pub const PAGE_SCHEMA: Code = Code(2);
    pub const PAGE_GLOBAL: Code = Code(3);
    pub const PAGE_PARTITION: Code = Code(4);
    pub const PAGE_RUN_STEP: Code = Code(5);

    pub const PARAM_STRING: Code = Code(0);
    pub const PARAM_ENCRYPTED_STRING: Code = Code(1);
    pub const PARAM_TEXT: Code = Code(2);
    pub const PARAM_LABEL: Code = Code(3);
    pub const PARAM_DIVIDER: Code = Code(4);
    pub const PARAM_CHECKBOX: Code = Code(5);
    pub const PARAM_DROPDOWN: Code = Code(6);
    pub const PARAM_FILE: Code = Code(7);

    pub const IMPORT_FULL: Code = Code(0);
    pub const IMPORT_DELTA: Code = Code(1);

    pub const PASSWORD_UNLOCK_ACCOUNT: u32 = 1;
    pub const PASSWORD_FORCE_CHANGE_AT_LOGON: u32 = 1 << 1;
    pub const PASSWORD_VALIDATE: u32 = 1 << 2;

    pub const ERROR_INVALID_CONFIGURATION: Code = Code(0);
    pub const ERROR_CONNECTION: Code = Code(1);
    pub const ERROR_NOT_SUPPORTED: Code = Code(2);
    pub const ERROR_BUSY: Code = Code(3);
    pub const ERROR_PANIC: Code = Code(4);
    pub const ERROR_OTHER: Code = Code(5);

    // Log levels (API 1.1), the `log` crate's order: a smaller code is more severe.
    /// As a maximum level: nothing is wanted.
    pub const LOG_OFF: Code = Code(0);
    pub const LOG_ERROR: Code = Code(1);
    pub const LOG_WARN: Code = Code(2);
    pub const LOG_INFO: Code = Code(3);
    pub const LOG_DEBUG: Code = Code(4);
    pub const LOG_TRACE: Code = Code(5);
}

/// One key/value field of a log record (API 1.1).
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiLogField {
    pub name: RString,
    pub value: RString,
}

/// One log record a library sends to the host (API 1.1).
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiLogRecord {
    /// A `LOG_*` level code.
    pub level: Code,
    /// Where the record comes from inside the library: a `log` target or a `tracing` target
    /// (by default the module path).
    pub target: RString,
    pub message: RString,
    pub fields: RVec<FfiLogField>,
}

/// Where a library sends the log records of one connector (API 1.1). The host implements it;
/// the library calls it on any of its threads, during a host call or not.
#[sabi_trait]
pub trait FfiLogSink: Send + Sync {
    #[sabi(last_prefix_field)]
    fn log(&self, record: &FfiLogRecord);
}

/// A host's log sink as a library holds it: shared by the connector's calls and sessions.
pub type FfiLogSinkBox = FfiLogSink_TO<'static, RArc<()>>;

pub type FfiResult<T> = RResult<T, FfiError>;

/// A configured-or-not connector instance. Like ECMA2, every call gets the parameter answers.
#[sabi_trait]
pub trait FfiConnector: Send + Sync {
    fn config_parameters(
        &self,
        page: FfiConfigPage,
        values: &RVec<FfiParameterValue>,
    ) -> FfiResult<RVec<FfiParameterDefinition>>;

    fn validate_page(
        &self,
        page: FfiConfigPage,
        values: &RVec<FfiParameterValue>,
    ) -> FfiResult<RVec<FfiParameterIssue>>;

    fn capabilities(&self, values: &RVec<FfiParameterValue>) -> FfiResult<FfiCapabilities>;

    fn schema(&self, values: &RVec<FfiParameterValue>) -> FfiResult<FfiSchema>;

    fn partitions(&self, values: &RVec<FfiParameterValue>) -> FfiResult<RVec<FfiPartition>>;

    fn hierarchy(
        &self,
        values: &RVec<FfiParameterValue>,
        partition: &FfiPartition,
    ) -> FfiResult<RVec<FfiPartition>>;

    fn test_connection(&self, values: &RVec<FfiParameterValue>) -> FfiResult<()>;

    fn open_import(
        &self,
        values: &RVec<FfiParameterValue>,
        schema: &FfiSchema,
        request: FfiImportRequest,
    ) -> FfiResult<FfiImportSessionBox>;

    fn open_export(
        &self,
        values: &RVec<FfiParameterValue>,
        schema: &FfiSchema,
        request: FfiExportRequest,
    ) -> FfiResult<FfiExportSessionBox>;

    fn set_password(
        &self,
        values: &RVec<FfiParameterValue>,
        target: &FfiPasswordTarget,
        new_password: &RString,
        options: u32,
    ) -> FfiResult<()>;

    #[sabi(last_prefix_field)]
    fn change_password(
        &self,
        values: &RVec<FfiParameterValue>,
        target: &FfiPasswordTarget,
        old_password: &RString,
        new_password: &RString,
    ) -> FfiResult<()>;

    // API 1.1. Methods appended after `last_prefix_field` need a default body: it is what a
    // host runs when the library was built before the method existed.

    /// Send this connector's log records to `sink`, those at `max_level` (a `LOG_*` code) or
    /// more severe. The host calls it once, right after `new_connector`. A 1.0 library lacks it
    /// and answers "not supported".
    fn attach_log(&self, sink: FfiLogSinkBox, max_level: Code) -> FfiResult<()> {
        let _ = (sink, max_level);
        RResult::RErr(FfiError {
            kind: codes::ERROR_NOT_SUPPORTED,
            message: RString::from("the library was built for API 1.0: it has no log channel"),
        })
    }
}

/// An open import run: pages until `more` is false, then `close` returns the new watermark.
#[sabi_trait]
pub trait FfiImportSession: Send {
    fn next_page(&mut self) -> FfiResult<FfiImportPage>;

    #[sabi(last_prefix_field)]
    fn close(&mut self) -> FfiResult<RString>;
}

/// An open export connection: batches in, one result per entry out.
#[sabi_trait]
pub trait FfiExportSession: Send {
    fn put_export_entries(
        &mut self,
        batch: RVec<FfiCsEntryChange>,
    ) -> FfiResult<RVec<FfiExportResult>>;

    #[sabi(last_prefix_field)]
    fn close(&mut self) -> FfiResult<()>;
}

pub type FfiConnectorBox = FfiConnector_TO<'static, RBox<()>>;
pub type FfiImportSessionBox = FfiImportSession_TO<'static, RBox<()>>;
pub type FfiExportSessionBox = FfiExportSession_TO<'static, RBox<()>>;

/// The root module a connector library exports (through [`crate::export_connector!`]).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ConnectorModuleRef)))]
#[sabi(missing_field(panic))]
pub struct ConnectorModule {
    pub info: extern "C" fn() -> FfiPluginInfo,

    #[sabi(last_prefix_field)]
    pub new_connector: extern "C" fn() -> FfiResult<FfiConnectorBox>,
}

impl RootModule for ConnectorModuleRef {
    declare_root_module_statics! {ConnectorModuleRef}
    const BASE_NAME: &'static str = "ecma_connector";
    const NAME: &'static str = "ecma_connector";
    // The ABI version, not the crate version: abi_stable refuses a library whose major differs.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}
