//! Conversions between [`crate::model`] and [`crate::ffi`], in both directions.
//!
//! Codes that the receiving side does not know never fail a conversion: they fall back to the
//! most conservative meaning (a generic directory error, a plain string, ...). That keeps a
//! host and a library of different minor versions talking.

use abi_stable::std_types::{ROption, RString, RVec};

use crate::ffi::{codes, *};
use crate::model::*;

pub(crate) fn rs(s: &str) -> RString {
    RString::from(s)
}

fn rvec<T, U>(items: &[T], f: impl Fn(&T) -> U) -> RVec<U> {
    items.iter().map(f).collect()
}

fn vec<T, U>(items: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    items.iter().map(f).collect()
}

pub(crate) fn value_to_ffi(v: &Value) -> FfiValue {
    match v {
        Value::String(s) => FfiValue::String(rs(s)),
        Value::Integer(i) => FfiValue::Integer(*i),
        Value::Boolean(b) => FfiValue::Boolean(*b),
        Value::Binary(b) => FfiValue::Binary(b.as_slice().into()),
        Value::Reference(s) => FfiValue::Reference(rs(s)),
    }
}

pub(crate) fn value_from_ffi(v: &FfiValue) -> Value {
    match v {
        FfiValue::String(s) => Value::String(s.to_string()),
        FfiValue::Integer(i) => Value::Integer(*i),
        FfiValue::Boolean(b) => Value::Boolean(*b),
        FfiValue::Binary(b) => Value::Binary(b.to_vec()),
        FfiValue::Reference(s) => Value::Reference(s.to_string()),
    }
}

fn attribute_type_code(t: AttributeType) -> Code {
    match t {
        AttributeType::String => codes::TYPE_STRING,
        AttributeType::Integer => codes::TYPE_INTEGER,
        AttributeType::Boolean => codes::TYPE_BOOLEAN,
        AttributeType::Binary => codes::TYPE_BINARY,
        AttributeType::Reference => codes::TYPE_REFERENCE,
    }
}

fn attribute_type_from(c: Code) -> AttributeType {
    match c {
        codes::TYPE_INTEGER => AttributeType::Integer,
        codes::TYPE_BOOLEAN => AttributeType::Boolean,
        codes::TYPE_BINARY => AttributeType::Binary,
        codes::TYPE_REFERENCE => AttributeType::Reference,
        _ => AttributeType::String,
    }
}

fn direction_code(d: AttributeDirection) -> Code {
    match d {
        AttributeDirection::ImportExport => codes::DIRECTION_IMPORT_EXPORT,
        AttributeDirection::ImportOnly => codes::DIRECTION_IMPORT_ONLY,
        AttributeDirection::ExportOnly => codes::DIRECTION_EXPORT_ONLY,
    }
}

fn direction_from(c: Code) -> AttributeDirection {
    match c {
        codes::DIRECTION_IMPORT_EXPORT => AttributeDirection::ImportExport,
        codes::DIRECTION_EXPORT_ONLY => AttributeDirection::ExportOnly,
        // Never write to an attribute whose direction this side does not understand.
        _ => AttributeDirection::ImportOnly,
    }
}

pub(crate) fn schema_to_ffi(s: &Schema) -> FfiSchema {
    FfiSchema {
        object_types: rvec(&s.object_types, |t| FfiObjectType {
            name: rs(&t.name),
            anchor: rvec(&t.anchor, |a| rs(a)),
            attributes: rvec(&t.attributes, |a| FfiSchemaAttribute {
                name: rs(&a.name),
                attribute_type: attribute_type_code(a.attribute_type),
                multi_valued: a.multi_valued,
                direction: direction_code(a.direction),
            }),
        }),
    }
}

pub(crate) fn schema_from_ffi(s: &FfiSchema) -> Schema {
    Schema {
        object_types: vec(&s.object_types, |t| ObjectTypeSchema {
            name: t.name.to_string(),
            anchor: vec(&t.anchor, |a| a.to_string()),
            attributes: vec(&t.attributes, |a| SchemaAttribute {
                name: a.name.to_string(),
                attribute_type: attribute_type_from(a.attribute_type),
                multi_valued: a.multi_valued,
                direction: direction_from(a.direction),
            }),
        }),
    }
}

fn object_modification_code(m: ObjectModification) -> Code {
    match m {
        ObjectModification::Add => codes::OBJECT_ADD,
        ObjectModification::Replace => codes::OBJECT_REPLACE,
        ObjectModification::Update => codes::OBJECT_UPDATE,
        ObjectModification::Delete => codes::OBJECT_DELETE,
    }
}

fn object_modification_from(c: Code) -> Option<ObjectModification> {
    Some(match c {
        codes::OBJECT_ADD => ObjectModification::Add,
        codes::OBJECT_REPLACE => ObjectModification::Replace,
        codes::OBJECT_UPDATE => ObjectModification::Update,
        codes::OBJECT_DELETE => ObjectModification::Delete,
        _ => return None,
    })
}

fn attribute_modification_code(m: AttributeModification) -> Code {
    match m {
        AttributeModification::Add => codes::ATTRIBUTE_ADD,
        AttributeModification::Replace => codes::ATTRIBUTE_REPLACE,
        AttributeModification::Update => codes::ATTRIBUTE_UPDATE,
        AttributeModification::Delete => codes::ATTRIBUTE_DELETE,
    }
}

fn attribute_modification_from(c: Code) -> Option<AttributeModification> {
    Some(match c {
        codes::ATTRIBUTE_ADD => AttributeModification::Add,
        codes::ATTRIBUTE_REPLACE => AttributeModification::Replace,
        codes::ATTRIBUTE_UPDATE => AttributeModification::Update,
        codes::ATTRIBUTE_DELETE => AttributeModification::Delete,
        _ => return None,
    })
}

pub(crate) fn anchors_to_ffi(a: &[AnchorAttribute]) -> RVec<FfiAnchorAttribute> {
    rvec(a, |a| FfiAnchorAttribute {
        name: rs(&a.name),
        value: value_to_ffi(&a.value),
    })
}

pub(crate) fn anchors_from_ffi(a: &[FfiAnchorAttribute]) -> Vec<AnchorAttribute> {
    vec(a, |a| AnchorAttribute {
        name: a.name.to_string(),
        value: value_from_ffi(&a.value),
    })
}

pub(crate) fn entry_to_ffi(e: &CsEntryChange) -> FfiCsEntryChange {
    FfiCsEntryChange {
        identifier: rs(&e.identifier),
        object_type: rs(&e.object_type),
        dn: rs(&e.dn),
        modification: object_modification_code(e.modification),
        anchor: anchors_to_ffi(&e.anchor),
        changes: rvec(&e.changes, |c| FfiAttributeChange {
            name: rs(&c.name),
            modification: attribute_modification_code(c.modification),
            values: rvec(&c.values, |v| FfiValueChange {
                modification: match v.modification {
                    ValueModification::Add => codes::VALUE_ADD,
                    ValueModification::Delete => codes::VALUE_DELETE,
                },
                value: value_to_ffi(&v.value),
            }),
        }),
    }
}

/// An entry with a modification code this side does not know is refused, not guessed.
pub(crate) fn entry_from_ffi(e: &FfiCsEntryChange) -> Result<CsEntryChange, ConnectorError> {
    let unknown = |what: &str, c: Code| {
        ConnectorError::other(format!(
            "entry '{}': unknown {what} code {}",
            e.identifier, c.0
        ))
    };
    let mut changes = Vec::with_capacity(e.changes.len());
    for c in e.changes.iter() {
        let mut values = Vec::with_capacity(c.values.len());
        for v in c.values.iter() {
            let modification = match v.modification {
                codes::VALUE_ADD => ValueModification::Add,
                codes::VALUE_DELETE => ValueModification::Delete,
                other => return Err(unknown("value modification", other)),
            };
            values.push(ValueChange {
                modification,
                value: value_from_ffi(&v.value),
            });
        }
        changes.push(AttributeChange {
            name: c.name.to_string(),
            modification: attribute_modification_from(c.modification)
                .ok_or_else(|| unknown("attribute modification", c.modification))?,
            values,
        });
    }
    Ok(CsEntryChange {
        identifier: e.identifier.to_string(),
        object_type: e.object_type.to_string(),
        dn: e.dn.to_string(),
        modification: object_modification_from(e.modification)
            .ok_or_else(|| unknown("object modification", e.modification))?,
        anchor: anchors_from_ffi(&e.anchor),
        changes,
    })
}

fn export_kind_code(k: ExportErrorKind) -> Code {
    match k {
        ExportErrorKind::ConnectedDirectoryError => codes::EXPORT_CONNECTED_DIRECTORY_ERROR,
        ExportErrorKind::InvalidDn => codes::EXPORT_INVALID_DN,
        ExportErrorKind::MissingAnchorComponent => codes::EXPORT_MISSING_ANCHOR_COMPONENT,
        ExportErrorKind::SyntaxViolation => codes::EXPORT_SYNTAX_VIOLATION,
        ExportErrorKind::ObjectAlreadyExists => codes::EXPORT_OBJECT_ALREADY_EXISTS,
        ExportErrorKind::NoSuchObject => codes::EXPORT_NO_SUCH_OBJECT,
        ExportErrorKind::PermissionIssue => codes::EXPORT_PERMISSION_ISSUE,
        ExportErrorKind::CustomContinueRun => codes::EXPORT_CUSTOM_CONTINUE_RUN,
        ExportErrorKind::CustomStopRun => codes::EXPORT_CUSTOM_STOP_RUN,
        ExportErrorKind::Busy => codes::EXPORT_BUSY,
    }
}

fn export_kind_from(c: Code) -> ExportErrorKind {
    match c {
        codes::EXPORT_INVALID_DN => ExportErrorKind::InvalidDn,
        codes::EXPORT_MISSING_ANCHOR_COMPONENT => ExportErrorKind::MissingAnchorComponent,
        codes::EXPORT_SYNTAX_VIOLATION => ExportErrorKind::SyntaxViolation,
        codes::EXPORT_OBJECT_ALREADY_EXISTS => ExportErrorKind::ObjectAlreadyExists,
        codes::EXPORT_NO_SUCH_OBJECT => ExportErrorKind::NoSuchObject,
        codes::EXPORT_PERMISSION_ISSUE => ExportErrorKind::PermissionIssue,
        codes::EXPORT_CUSTOM_CONTINUE_RUN => ExportErrorKind::CustomContinueRun,
        codes::EXPORT_CUSTOM_STOP_RUN => ExportErrorKind::CustomStopRun,
        codes::EXPORT_BUSY => ExportErrorKind::Busy,
        _ => ExportErrorKind::ConnectedDirectoryError,
    }
}

pub(crate) fn export_result_to_ffi(r: &ExportResult) -> FfiExportResult {
    let (code, message) = match &r.error {
        None => (codes::EXPORT_SUCCESS, RString::new()),
        Some(e) => (export_kind_code(e.kind), rs(&e.message)),
    };
    FfiExportResult {
        identifier: rs(&r.identifier),
        code,
        message,
        anchor: anchors_to_ffi(&r.anchor),
    }
}

pub(crate) fn export_result_from_ffi(r: &FfiExportResult) -> ExportResult {
    ExportResult {
        identifier: r.identifier.to_string(),
        error: (r.code != codes::EXPORT_SUCCESS).then(|| ExportError {
            kind: export_kind_from(r.code),
            message: r.message.to_string(),
        }),
        anchor: anchors_from_ffi(&r.anchor),
    }
}

const CAPABILITY_FLAGS: [u64; 10] = [
    codes::CAP_DELTA_IMPORT,
    codes::CAP_FULL_EXPORT,
    codes::CAP_EXPORT_PASSWORD_IN_FIRST_PASS,
    codes::CAP_NO_REFERENCE_VALUES_IN_FIRST_EXPORT_PASS,
    codes::CAP_OBJECT_RENAME,
    codes::CAP_DELETE_ADD_AS_REPLACE,
    codes::CAP_PARTITIONS,
    codes::CAP_HIERARCHY,
    codes::CAP_CONCURRENT_OPERATIONS,
    codes::CAP_PASSWORDS,
];

fn capability_bools(c: &mut Capabilities) -> [&mut bool; 10] {
    [
        &mut c.delta_import,
        &mut c.full_export,
        &mut c.export_password_in_first_pass,
        &mut c.no_reference_values_in_first_export_pass,
        &mut c.object_rename,
        &mut c.delete_add_as_replace,
        &mut c.partitions,
        &mut c.hierarchy,
        &mut c.concurrent_operations,
        &mut c.passwords,
    ]
}

pub(crate) fn capabilities_to_ffi(c: &Capabilities) -> FfiCapabilities {
    let mut copy = *c;
    let flags = capability_bools(&mut copy)
        .into_iter()
        .zip(CAPABILITY_FLAGS)
        .filter(|(on, _)| **on)
        .fold(0, |acc, (_, bit)| acc | bit);
    FfiCapabilities {
        dn_style: match c.dn_style {
            DnStyle::None => codes::DN_NONE,
            DnStyle::Generic => codes::DN_GENERIC,
            DnStyle::Ldap => codes::DN_LDAP,
        },
        export_type: export_type_code(c.export_type),
        object_confirmation: match c.object_confirmation {
            ObjectConfirmation::Normal => codes::CONFIRMATION_NORMAL,
            ObjectConfirmation::NoDeleteConfirmation => codes::CONFIRMATION_NO_DELETE,
            ObjectConfirmation::NoAddAndDeleteConfirmation => codes::CONFIRMATION_NO_ADD_AND_DELETE,
        },
        normalizations: u32::from(c.normalizations.uppercase)
            | (u32::from(c.normalizations.remove_accents) << 1),
        flags,
    }
}

pub(crate) fn capabilities_from_ffi(f: &FfiCapabilities) -> Capabilities {
    let mut c = Capabilities {
        dn_style: match f.dn_style {
            codes::DN_NONE => DnStyle::None,
            codes::DN_LDAP => DnStyle::Ldap,
            _ => DnStyle::Generic,
        },
        export_type: export_type_from(f.export_type),
        object_confirmation: match f.object_confirmation {
            codes::CONFIRMATION_NO_DELETE => ObjectConfirmation::NoDeleteConfirmation,
            codes::CONFIRMATION_NO_ADD_AND_DELETE => ObjectConfirmation::NoAddAndDeleteConfirmation,
            _ => ObjectConfirmation::Normal,
        },
        normalizations: Normalizations {
            uppercase: f.normalizations & 1 != 0,
            remove_accents: f.normalizations & 2 != 0,
        },
        ..Capabilities::default()
    };
    for (on, bit) in capability_bools(&mut c).into_iter().zip(CAPABILITY_FLAGS) {
        *on = f.flags & bit != 0;
    }
    c
}

pub(crate) fn export_type_code(t: ExportType) -> Code {
    match t {
        ExportType::AttributeUpdate => codes::EXPORT_TYPE_ATTRIBUTE_UPDATE,
        ExportType::AttributeReplace => codes::EXPORT_TYPE_ATTRIBUTE_REPLACE,
        ExportType::ObjectReplace => codes::EXPORT_TYPE_OBJECT_REPLACE,
    }
}

pub(crate) fn export_type_from(c: Code) -> ExportType {
    match c {
        codes::EXPORT_TYPE_ATTRIBUTE_REPLACE => ExportType::AttributeReplace,
        codes::EXPORT_TYPE_OBJECT_REPLACE => ExportType::ObjectReplace,
        _ => ExportType::AttributeUpdate,
    }
}

pub(crate) fn page_to_ffi(p: &ConfigPage) -> FfiConfigPage {
    let (kind, index) = match p {
        ConfigPage::Connectivity => (codes::PAGE_CONNECTIVITY, 0),
        ConfigPage::Capabilities => (codes::PAGE_CAPABILITIES, 0),
        ConfigPage::Schema(n) => (codes::PAGE_SCHEMA, *n),
        ConfigPage::Global => (codes::PAGE_GLOBAL, 0),
        ConfigPage::Partition => (codes::PAGE_PARTITION, 0),
        ConfigPage::RunStep => (codes::PAGE_RUN_STEP, 0),
    };
    FfiConfigPage { kind, index }
}

pub(crate) fn page_from_ffi(p: &FfiConfigPage) -> Option<ConfigPage> {
    Some(match p.kind {
        codes::PAGE_CONNECTIVITY => ConfigPage::Connectivity,
        codes::PAGE_CAPABILITIES => ConfigPage::Capabilities,
        codes::PAGE_SCHEMA => ConfigPage::Schema(p.index),
        codes::PAGE_GLOBAL => ConfigPage::Global,
        codes::PAGE_PARTITION => ConfigPage::Partition,
        codes::PAGE_RUN_STEP => ConfigPage::RunStep,
        _ => return None,
    })
}

pub(crate) fn parameter_to_ffi(d: &ParameterDefinition) -> FfiParameterDefinition {
    let (kind, options, extensible) = match &d.kind {
        ParameterKind::String => (codes::PARAM_STRING, RVec::new(), false),
        ParameterKind::EncryptedString => (codes::PARAM_ENCRYPTED_STRING, RVec::new(), false),
        ParameterKind::Text => (codes::PARAM_TEXT, RVec::new(), false),
        ParameterKind::Label => (codes::PARAM_LABEL, RVec::new(), false),
        ParameterKind::Divider => (codes::PARAM_DIVIDER, RVec::new(), false),
        ParameterKind::CheckBox => (codes::PARAM_CHECKBOX, RVec::new(), false),
        ParameterKind::DropDown {
            options,
            extensible,
        } => (codes::PARAM_DROPDOWN, rvec(options, |o| rs(o)), *extensible),
        ParameterKind::File => (codes::PARAM_FILE, RVec::new(), false),
    };
    FfiParameterDefinition {
        name: rs(&d.name),
        kind,
        description: rs(&d.description),
        default: d.default.as_deref().map(rs).into(),
        required: d.required,
        options,
        extensible,
    }
}

pub(crate) fn parameter_from_ffi(d: &FfiParameterDefinition) -> ParameterDefinition {
    let kind = match d.kind {
        codes::PARAM_ENCRYPTED_STRING => ParameterKind::EncryptedString,
        codes::PARAM_TEXT => ParameterKind::Text,
        codes::PARAM_LABEL => ParameterKind::Label,
        codes::PARAM_DIVIDER => ParameterKind::Divider,
        codes::PARAM_CHECKBOX => ParameterKind::CheckBox,
        codes::PARAM_DROPDOWN => ParameterKind::DropDown {
            options: vec(&d.options, |o| o.to_string()),
            extensible: d.extensible,
        },
        codes::PARAM_FILE => ParameterKind::File,
        _ => ParameterKind::String,
    };
    ParameterDefinition {
        name: d.name.to_string(),
        kind,
        description: d.description.to_string(),
        default: match &d.default {
            ROption::RSome(s) => Some(s.to_string()),
            ROption::RNone => None,
        },
        required: d.required,
    }
}

pub(crate) fn values_to_ffi(v: &ParameterValues) -> RVec<FfiParameterValue> {
    v.iter()
        .map(|(name, value, secret)| FfiParameterValue {
            name: rs(name),
            value: rs(value),
            secret,
        })
        .collect()
}

pub(crate) fn values_from_ffi(v: &[FfiParameterValue]) -> ParameterValues {
    let mut out = ParameterValues::new();
    for p in v {
        if p.secret {
            out.insert_secret(p.name.as_str(), p.value.as_str());
        } else {
            out.insert(p.name.as_str(), p.value.as_str());
        }
    }
    out
}

pub(crate) fn issue_to_ffi(i: &ParameterIssue) -> FfiParameterIssue {
    FfiParameterIssue {
        parameter: rs(&i.parameter),
        message: rs(&i.message),
    }
}

pub(crate) fn issue_from_ffi(i: &FfiParameterIssue) -> ParameterIssue {
    ParameterIssue {
        parameter: i.parameter.to_string(),
        message: i.message.to_string(),
    }
}

pub(crate) fn partition_to_ffi(p: &Partition) -> FfiPartition {
    FfiPartition {
        name: rs(&p.name),
        dn: rs(&p.dn),
    }
}

pub(crate) fn partition_from_ffi(p: &FfiPartition) -> Partition {
    Partition {
        name: p.name.to_string(),
        dn: p.dn.to_string(),
    }
}

pub(crate) fn import_request_to_ffi(r: &ImportRequest) -> FfiImportRequest {
    FfiImportRequest {
        kind: match r.kind {
            ImportKind::Full => codes::IMPORT_FULL,
            ImportKind::Delta => codes::IMPORT_DELTA,
        },
        page_size: r.page_size,
        watermark: rs(&r.watermark),
        partition: rs(&r.partition),
    }
}

pub(crate) fn import_request_from_ffi(r: &FfiImportRequest) -> ImportRequest {
    ImportRequest {
        kind: if r.kind == codes::IMPORT_DELTA {
            ImportKind::Delta
        } else {
            ImportKind::Full
        },
        page_size: r.page_size,
        watermark: r.watermark.to_string(),
        partition: r.partition.to_string(),
    }
}

pub(crate) fn export_request_to_ffi(r: &ExportRequest) -> FfiExportRequest {
    FfiExportRequest {
        export_type: export_type_code(r.export_type),
        batch_size: r.batch_size,
        partition: rs(&r.partition),
    }
}

pub(crate) fn export_request_from_ffi(r: &FfiExportRequest) -> ExportRequest {
    ExportRequest {
        export_type: export_type_from(r.export_type),
        batch_size: r.batch_size,
        partition: r.partition.to_string(),
    }
}

pub(crate) fn password_target_to_ffi(t: &PasswordTarget) -> FfiPasswordTarget {
    FfiPasswordTarget {
        object_type: rs(&t.object_type),
        dn: rs(&t.dn),
        anchor: anchors_to_ffi(&t.anchor),
    }
}

pub(crate) fn password_target_from_ffi(t: &FfiPasswordTarget) -> PasswordTarget {
    PasswordTarget {
        object_type: t.object_type.to_string(),
        dn: t.dn.to_string(),
        anchor: anchors_from_ffi(&t.anchor),
    }
}

pub(crate) fn password_options_to_ffi(o: &PasswordOptions) -> u32 {
    (if o.unlock_account {
        codes::PASSWORD_UNLOCK_ACCOUNT
    } else {
        0
    }) | (if o.force_change_at_logon {
        codes::PASSWORD_FORCE_CHANGE_AT_LOGON
    } else {
        0
    }) | (if o.validate {
        codes::PASSWORD_VALIDATE
    } else {
        0
    })
}

pub(crate) fn password_options_from_ffi(o: u32) -> PasswordOptions {
    PasswordOptions {
        unlock_account: o & codes::PASSWORD_UNLOCK_ACCOUNT != 0,
        force_change_at_logon: o & codes::PASSWORD_FORCE_CHANGE_AT_LOGON != 0,
        validate: o & codes::PASSWORD_VALIDATE != 0,
    }
}

pub(crate) fn error_to_ffi(e: &ConnectorError) -> FfiError {
    FfiError {
        kind: match e.kind {
            ErrorKind::InvalidConfiguration => codes::ERROR_INVALID_CONFIGURATION,
            ErrorKind::Connection => codes::ERROR_CONNECTION,
            ErrorKind::NotSupported => codes::ERROR_NOT_SUPPORTED,
            ErrorKind::Busy => codes::ERROR_BUSY,
            ErrorKind::Panic => codes::ERROR_PANIC,
            ErrorKind::Other => codes::ERROR_OTHER,
        },
        message: rs(&e.message),
    }
}

pub(crate) fn error_from_ffi(e: &FfiError) -> ConnectorError {
    let kind = match e.kind {
        codes::ERROR_INVALID_CONFIGURATION => ErrorKind::InvalidConfiguration,
        codes::ERROR_CONNECTION => ErrorKind::Connection,
        codes::ERROR_NOT_SUPPORTED => ErrorKind::NotSupported,
        codes::ERROR_BUSY => ErrorKind::Busy,
        codes::ERROR_PANIC => ErrorKind::Panic,
        _ => ErrorKind::Other,
    };
    ConnectorError::new(kind, e.message.as_str())
}

pub(crate) fn info_to_ffi(i: &PluginInfo) -> FfiPluginInfo {
    FfiPluginInfo {
        name: rs(&i.name),
        version: rs(&i.version),
        description: rs(&i.description),
        api_major: API_MAJOR,
        api_minor: API_MINOR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_change_round_trips() {
        let entry = CsEntryChange {
            identifier: "1".into(),
            object_type: "User".into(),
            dn: "CN=a,OBJECT=USER".into(),
            modification: ObjectModification::Update,
            anchor: vec![AnchorAttribute {
                name: "id".into(),
                value: Value::Integer(7),
            }],
            changes: vec![
                AttributeChange::set(
                    "mail",
                    AttributeModification::Replace,
                    vec![Value::String("a@x".into())],
                ),
                AttributeChange::delete("phone"),
                AttributeChange {
                    name: "photo".into(),
                    modification: AttributeModification::Update,
                    values: vec![ValueChange {
                        modification: ValueModification::Delete,
                        value: Value::Binary(vec![1, 2]),
                    }],
                },
            ],
        };
        assert_eq!(entry_from_ffi(&entry_to_ffi(&entry)), Ok(entry));
    }

    #[test]
    fn unknown_export_code_reads_as_directory_error() {
        let mut r =
            export_result_to_ffi(&ExportResult::failure("1", ExportErrorKind::Busy, "later"));
        r.code = Code(999);
        let back = export_result_from_ffi(&r);
        assert_eq!(
            back.error.map(|e| e.kind),
            Some(ExportErrorKind::ConnectedDirectoryError)
        );
    }

    #[test]
    fn capabilities_round_trip() {
        let caps = Capabilities {
            dn_style: DnStyle::Ldap,
            export_type: ExportType::ObjectReplace,
            delta_import: true,
            passwords: true,
            concurrent_operations: true,
            normalizations: Normalizations {
                uppercase: false,
                remove_accents: true,
            },
            ..Capabilities::default()
        };
        assert_eq!(capabilities_from_ffi(&capabilities_to_ffi(&caps)), caps);
    }
}
