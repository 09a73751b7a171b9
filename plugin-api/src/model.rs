//! Plain Rust types of the ECMA2 surface: what connector authors and the host work with.
//!
//! Nothing here is FFI-safe; [`crate::ffi`] holds the `StableAbi` mirror and
//! `convert.rs` translates between the two at the library boundary.

use std::collections::BTreeMap;
use std::fmt;

/// One attribute value. ECMA2 knows exactly these five types.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Value {
    String(String),
    Integer(i64),
    Boolean(bool),
    Binary(Vec<u8>),
    /// A reference to another object, by its anchor or DN as the connector defines.
    Reference(String),
}

impl Value {
    /// The value as text, as SCIM shows strings and references.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Reference(s) => Some(s),
            _ => None,
        }
    }

    /// The type this value belongs to.
    pub fn attribute_type(&self) -> AttributeType {
        match self {
            Value::String(_) => AttributeType::String,
            Value::Integer(_) => AttributeType::Integer,
            Value::Boolean(_) => AttributeType::Boolean,
            Value::Binary(_) => AttributeType::Binary,
            Value::Reference(_) => AttributeType::Reference,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) | Value::Reference(s) => f.write_str(s),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Binary(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AttributeType {
    String,
    Integer,
    Boolean,
    Binary,
    Reference,
}

/// Which way an attribute flows ("import only" attributes are never exported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AttributeDirection {
    ImportExport,
    ImportOnly,
    ExportOnly,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SchemaAttribute {
    pub name: String,
    pub attribute_type: AttributeType,
    pub multi_valued: bool,
    pub direction: AttributeDirection,
}

impl SchemaAttribute {
    /// A single-valued import+export attribute.
    pub fn single(name: impl Into<String>, attribute_type: AttributeType) -> Self {
        Self {
            name: name.into(),
            attribute_type,
            multi_valued: false,
            direction: AttributeDirection::ImportExport,
        }
    }

    /// A multi-valued import+export attribute.
    pub fn multi(name: impl Into<String>, attribute_type: AttributeType) -> Self {
        Self {
            multi_valued: true,
            ..Self::single(name, attribute_type)
        }
    }
}

/// One object type of the connected system, with its anchor attribute(s).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ObjectTypeSchema {
    pub name: String,
    /// Anchor attribute names; more than one makes a multi-attribute anchor.
    pub anchor: Vec<String>,
    pub attributes: Vec<SchemaAttribute>,
}

impl ObjectTypeSchema {
    pub fn attribute(&self, name: &str) -> Option<&SchemaAttribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Schema {
    pub object_types: Vec<ObjectTypeSchema>,
}

impl Schema {
    pub fn object_type(&self, name: &str) -> Option<&ObjectTypeSchema> {
        self.object_types.iter().find(|t| t.name == name)
    }
}

/// What an entry change does to the object as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ObjectModification {
    Add,
    Replace,
    Update,
    Delete,
}

/// What an attribute change does to the attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AttributeModification {
    Add,
    Replace,
    /// Value-level adds and deletes on a multi-valued attribute.
    Update,
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ValueModification {
    Add,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ValueChange {
    pub modification: ValueModification,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AttributeChange {
    pub name: String,
    pub modification: AttributeModification,
    pub values: Vec<ValueChange>,
}

impl AttributeChange {
    /// Set the attribute to exactly these values (Add on a new object, Replace otherwise).
    pub fn set(
        name: impl Into<String>,
        modification: AttributeModification,
        values: Vec<Value>,
    ) -> Self {
        Self {
            name: name.into(),
            modification,
            values: values
                .into_iter()
                .map(|value| ValueChange {
                    modification: ValueModification::Add,
                    value,
                })
                .collect(),
        }
    }

    /// Remove the attribute entirely.
    pub fn delete(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            modification: AttributeModification::Delete,
            values: Vec::new(),
        }
    }

    /// The values this change adds (for Add/Replace: the attribute's new values).
    pub fn added_values(&self) -> impl Iterator<Item = &Value> {
        self.values
            .iter()
            .filter(|v| v.modification == ValueModification::Add)
            .map(|v| &v.value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AnchorAttribute {
    pub name: String,
    pub value: Value,
}

/// The attribute change that carries an object's new DN in a rename.
///
/// When a connector declares [`Capabilities::object_rename`], the host exports a rename as one
/// `Update` (or `Replace`) entry change, the way ECMA2 does: [`CsEntryChange::dn`] and
/// [`CsEntryChange::anchor`] name the object as it is now, a `Replace` change of this name holds
/// the new DN (when the DN changes), and a `Replace` change of an anchor attribute holds its new
/// value (when the anchor changes). No real attribute can be called `-dn-`: LDAP attribute names
/// start with a letter, and the host refuses it as a column or attribute name.
pub const NEW_DN_ATTRIBUTE: &str = "-dn-";

/// ECMA2's `CSEntryChange`: one change to one object, in export or import.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CsEntryChange {
    /// Chosen by the host; export results name it so they can be matched to entries.
    pub identifier: String,
    pub object_type: String,
    pub dn: String,
    pub modification: ObjectModification,
    pub anchor: Vec<AnchorAttribute>,
    pub changes: Vec<AttributeChange>,
}

impl CsEntryChange {
    pub fn change(&self, attribute: &str) -> Option<&AttributeChange> {
        self.changes.iter().find(|c| c.name == attribute)
    }

    /// The new DN of a rename ([`NEW_DN_ATTRIBUTE`]), if this entry moves the object.
    pub fn new_dn(&self) -> Option<&str> {
        self.change(NEW_DN_ATTRIBUTE)
            .and_then(|c| c.added_values().next())
            .and_then(Value::as_str)
    }

    /// The new value of an anchor attribute, if this entry renames the object: a `Replace` (or
    /// `Add`) change of an attribute that is also in [`CsEntryChange::anchor`], with a value
    /// other than the current one.
    pub fn new_anchor_value(&self, attribute: &str) -> Option<&Value> {
        let current = self.anchor_value(attribute)?;
        let change = self.change(attribute)?;
        if !matches!(
            change.modification,
            AttributeModification::Replace | AttributeModification::Add
        ) {
            return None;
        }
        change.added_values().next().filter(|v| *v != current)
    }

    pub fn anchor_value(&self, attribute: &str) -> Option<&Value> {
        self.anchor
            .iter()
            .find(|a| a.name == attribute)
            .map(|a| &a.value)
    }
}

/// ECMA2 export error codes, plus [`ExportErrorKind::Busy`] for "retry later".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ExportErrorKind {
    /// The target refused the change for a reason of its own.
    ConnectedDirectoryError,
    InvalidDn,
    MissingAnchorComponent,
    /// A value or the shape of the change violates the target's rules.
    SyntaxViolation,
    ObjectAlreadyExists,
    NoSuchObject,
    PermissionIssue,
    CustomContinueRun,
    CustomStopRun,
    /// The target is temporarily unavailable; the same change may succeed later.
    Busy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportError {
    pub kind: ExportErrorKind,
    pub message: String,
}

/// The outcome of exporting one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportResult {
    pub identifier: String,
    pub error: Option<ExportError>,
    /// Anchor values the target assigned (for example an identity column). A result may also
    /// carry the DN the object has now, under [`NEW_DN_ATTRIBUTE`]: the DN the target gave a
    /// new object (an LDAP connector that builds DNs from a template), or where an update moved
    /// it (a changed LDAP naming attribute). The host keeps that DN; a moved object is a
    /// rename, so references to it follow.
    pub anchor: Vec<AnchorAttribute>,
}

impl ExportResult {
    pub fn success(identifier: impl Into<String>) -> Self {
        Self {
            identifier: identifier.into(),
            error: None,
            anchor: Vec::new(),
        }
    }

    pub fn failure(
        identifier: impl Into<String>,
        kind: ExportErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            identifier: identifier.into(),
            error: Some(ExportError {
                kind,
                message: message.into(),
            }),
            anchor: Vec::new(),
        }
    }
}

/// How the target names objects (ECMA2's `DNStyle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DnStyle {
    /// Objects have no DN of their own.
    None,
    /// A DN that is a plain string.
    Generic,
    /// An LDAP DN (RFC 4514).
    Ldap,
}

/// What an export entry carries for a changed object ([`Capabilities::export_type`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ExportType {
    /// Changed values only: an `Update` entry with the changed attributes; a change of some
    /// values of a multi-valued attribute (a group's members) is an
    /// [`AttributeModification::Update`] with exactly those value adds and deletes.
    AttributeUpdate,
    /// Changed attributes with all their values: an `Update` entry whose changes are
    /// `Replace` (the whole new value list) or `Delete`.
    AttributeReplace,
    /// The whole object: a `Replace` entry with every attribute the connector file manages.
    ObjectReplace,
}

/// Whether the target confirms adds and deletes (ECMA2's `ObjectConfirmation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ObjectConfirmation {
    Normal,
    NoDeleteConfirmation,
    NoAddAndDeleteConfirmation,
}

/// How the target compares anchors and DNs (ECMA2's normalizations).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Normalizations {
    pub uppercase: bool,
    pub remove_accents: bool,
}

/// What a connector can do (ECMA2's `MACapabilities`). The host asks once per build
/// ([`crate::Connector::capabilities`]). Fields marked "not read" are shown by `ecmahost
/// plugin inspect` but change nothing in the host today; declare them truthfully anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Capabilities {
    /// How the target names objects. Not read: DNs are the connector file's business
    /// (`dn`: autogenerated `CN=<anchor>,OBJECT=<type>`, mapped from attributes, or the
    /// target's own through the `<dn>` attribute), and every export entry carries one.
    pub dn_style: DnStyle,
    /// What an export entry of a SCIM PATCH or PUT carries (see [`ExportType`]). A POST is
    /// always an `Add` with every value, a DELETE a `Delete`, whatever this says.
    pub export_type: ExportType,
    /// Not read: the host treats every successful export result as confirmed.
    pub object_confirmation: ObjectConfirmation,
    /// Not read: anchors and DNs are kept as the target returns them.
    pub normalizations: Normalizations,
    /// The connector can import changes since a watermark. With the run profile
    /// `delta_import = true` (which the host refuses without this), autosync runs deltas
    /// from the watermark the last import returned; see [`crate::Connector::open_import`].
    pub delta_import: bool,
    /// Not read: the host never asks for a full export.
    pub full_export: bool,
    /// Not read: the host always sets a password in its own [`crate::Connector::set_password`]
    /// call, after the `Add`.
    pub export_password_in_first_pass: bool,
    /// The host exports a created object in two passes: the `Add` without its reference
    /// values (members, manager), then, once it succeeded, an `Update` that sets them (for an
    /// ObjectReplace connector, a `Replace` with the whole object). If the second pass fails,
    /// the host deletes the new object again and the SCIM create fails. Other changes carry
    /// their references at once.
    pub no_reference_values_in_first_export_pass: bool,
    /// The connector applies renames. Then a SCIM change of the anchor attribute or of the DN
    /// is exported as one `Update` entry whose `dn` and `anchor` are the object's current
    /// identity, with a `Replace` change of [`NEW_DN_ATTRIBUTE`] for the new DN and a `Replace`
    /// change of each renamed anchor attribute for its new value
    /// ([`CsEntryChange::new_dn`], [`CsEntryChange::new_anchor_value`]). Without it the host
    /// refuses such a SCIM change with 400 `mutability`.
    pub object_rename: bool,
    /// Not read: the host never turns a delete and an add into a replace.
    pub delete_add_as_replace: bool,
    /// The target has partitions: the host calls [`crate::Connector::partitions`], and the
    /// connector file's `partitions` selects among them by DN (refused without this).
    /// Imports run per selected partition and exports name their object's partition.
    pub partitions: bool,
    /// The partitions have containers: the host calls [`crate::Connector::hierarchy`] when
    /// the connector file selects `containers` (refused without this), and keeps only the
    /// imported objects inside them.
    pub hierarchy: bool,
    /// The connector can take export calls for different objects at once: the host runs two
    /// export sessions concurrently instead of one. Changes to one object are always exported
    /// in order, one at a time.
    pub concurrent_operations: bool,
    /// The connector sets passwords ([`crate::Connector::set_password`]). The connector file's
    /// `password_attribute` is refused without it.
    pub passwords: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            dn_style: DnStyle::Generic,
            export_type: ExportType::AttributeUpdate,
            object_confirmation: ObjectConfirmation::Normal,
            normalizations: Normalizations::default(),
            delta_import: false,
            full_export: false,
            export_password_in_first_pass: false,
            no_reference_values_in_first_export_pass: false,
            object_rename: false,
            delete_add_as_replace: false,
            partitions: false,
            hierarchy: false,
            concurrent_operations: false,
            passwords: false,
        }
    }
}

/// The wizard pages ECMA2 asks parameters for, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConfigPage {
    Connectivity,
    Capabilities,
    /// Schema pages are numbered from 1; each may depend on the answers before it.
    Schema(u32),
    Global,
    Partition,
    RunStep,
}

impl ConfigPage {
    /// The key the host's connector config uses for this page (`[parameters.<key>]`).
    pub fn key(&self) -> String {
        match self {
            ConfigPage::Connectivity => "connectivity".into(),
            ConfigPage::Capabilities => "capabilities".into(),
            ConfigPage::Schema(n) => format!("schema{n}"),
            ConfigPage::Global => "global".into(),
            ConfigPage::Partition => "partition".into(),
            ConfigPage::RunStep => "run_step".into(),
        }
    }

    /// Inverse of [`ConfigPage::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "connectivity" => ConfigPage::Connectivity,
            "capabilities" => ConfigPage::Capabilities,
            "global" => ConfigPage::Global,
            "partition" => ConfigPage::Partition,
            "run_step" => ConfigPage::RunStep,
            _ => ConfigPage::Schema(
                key.strip_prefix("schema")?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)?,
            ),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ParameterKind {
    String,
    /// A secret: never logged, shown or returned by the host.
    EncryptedString,
    /// Multi-line text.
    Text,
    Label,
    Divider,
    CheckBox,
    DropDown {
        options: Vec<String>,
        extensible: bool,
    },
    File,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ParameterDefinition {
    pub name: String,
    pub kind: ParameterKind,
    pub description: String,
    /// What a configuration tool pre-fills. The host passes only the answers the administrator
    /// gave, so a connector applies its own defaults to parameters left unanswered.
    pub default: Option<String>,
    pub required: bool,
}

impl ParameterDefinition {
    pub fn new(name: impl Into<String>, kind: ParameterKind) -> Self {
        Self {
            name: name.into(),
            kind,
            description: String::new(),
            default: None,
            required: false,
        }
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn with_default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    pub fn with_description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
}

/// A string that must never be printed: passwords, encrypted parameters.
#[derive(Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call this only where the value is handed to the target.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct ParameterValue {
    value: String,
    secret: bool,
}

/// Parameter answers, by name. Secret values are redacted from `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ParameterValues {
    values: BTreeMap<String, ParameterValue>,
}

impl ParameterValues {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(
            name.into(),
            ParameterValue {
                value: value.into(),
                secret: false,
            },
        );
    }

    pub fn insert_secret(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(
            name.into(),
            ParameterValue {
                value: value.into(),
                secret: true,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.value.as_str())
    }

    /// The value, or an `InvalidConfiguration` error naming the missing parameter.
    pub fn require(&self, name: &str) -> Result<&str, ConnectorError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            ConnectorError::invalid_configuration(format!("parameter '{name}' is required"))
        })
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v.secret)
    }

    /// `(name, value, secret)` for every answer.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.values
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str(), v.secret))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl fmt::Debug for ParameterValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.values.iter().map(|(k, v)| {
                (
                    k,
                    if v.secret {
                        "<redacted>"
                    } else {
                        v.value.as_str()
                    },
                )
            }))
            .finish()
    }
}

/// A problem with one parameter's answer, found by page validation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ParameterIssue {
    pub parameter: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Partition {
    pub name: String,
    pub dn: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Container {
    pub name: String,
    pub dn: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ImportKind {
    Full,
    Delta,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ImportRequest {
    pub kind: ImportKind,
    /// The most entries one page should hold; 0 leaves the choice to the connector.
    pub page_size: u32,
    /// The watermark a previous import's `close` returned; empty for none.
    pub watermark: String,
    /// Partition DN; empty for the default partition.
    pub partition: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ImportPage {
    pub entries: Vec<CsEntryChange>,
    /// More pages follow.
    pub more: bool,
}

/// What an export connection is for ([`crate::Connector::open_export`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportRequest {
    /// The connector's own [`Capabilities::export_type`].
    pub export_type: ExportType,
    /// The most entries one batch holds (the connector file's `export_page_size`).
    pub batch_size: u32,
    /// The DN of the selected partition the exported objects are in; empty for the default
    /// partition (no `partitions` selected).
    pub partition: String,
}

/// Whom a password call is for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PasswordTarget {
    pub object_type: String,
    pub dn: String,
    pub anchor: Vec<AnchorAttribute>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PasswordOptions {
    pub unlock_account: bool,
    pub force_change_at_logon: bool,
    pub validate: bool,
}

/// Name and version a library reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
}

/// Broad class of a connector error; the host maps it to a SCIM status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ErrorKind {
    /// A parameter answer is missing or wrong.
    InvalidConfiguration,
    /// The target cannot be reached or refused the connection.
    Connection,
    /// The connector does not implement this call.
    NotSupported,
    /// The target is temporarily unavailable; retry later.
    Busy,
    /// The connector panicked; the host turned it into this error.
    Panic,
    /// Anything else the connector or the target reported.
    Other,
}

/// A whole-call failure of a connector (per-entry export failures are [`ExportError`]s).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[error("{kind:?}: {message}")]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ConnectorError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfiguration, message)
    }

    pub fn connection(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connection, message)
    }

    pub fn not_supported(what: &str) -> Self {
        Self::new(
            ErrorKind::NotSupported,
            format!("{what} is not supported by this connector"),
        )
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_parameters_are_redacted_from_debug() {
        let mut values = ParameterValues::new();
        values.insert("user", "alice");
        values.insert_secret("password", "hunter2hunter2");
        let shown = format!("{values:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("hunter2"));
        assert_eq!(format!("{:?}", Secret::new("s3cr3t")), "Secret(<redacted>)");
    }

    #[test]
    fn page_keys_round_trip() {
        for page in [
            ConfigPage::Connectivity,
            ConfigPage::Capabilities,
            ConfigPage::Schema(1),
            ConfigPage::Schema(4),
            ConfigPage::Global,
            ConfigPage::Partition,
            ConfigPage::RunStep,
        ] {
            assert_eq!(ConfigPage::from_key(&page.key()), Some(page));
        }
        assert_eq!(ConfigPage::from_key("schema0"), None);
        assert_eq!(ConfigPage::from_key("bogus"), None);
    }
}
