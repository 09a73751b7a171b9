//! RFC 7644 §3.5.2 PATCH: parsing a PatchOp request body and applying its operations to a
//! resource held as JSON, including both dialects Microsoft Entra ID sends.
//!
//! The module knows no schema. Whether an attribute is multi-valued is read off the data (an
//! existing array, or an array value), values are stored as given (the host coerces types such as
//! Entra's `"False"` by schema afterwards), and attribute names match case-insensitively.
//!
//! Dialects handled:
//! - RFC form: `{"op":"add","path":"members","value":[...]}`, value filters
//!   (`members[value eq "x"]`, `emails[type eq "work"].value`), and path-less add/replace whose
//!   value holds attributes, with extension attributes nested under their schema URN.
//! - Entra default: op names in any case (`"Replace"`), booleans as strings (left alone here), and
//!   `{"op":"Remove","path":"members","value":[{"value":"id"}]}` removing just the listed members.
//! - Entra `aadOptscim062020`: path-less add/replace whose value keys are themselves paths
//!   (`"name.givenName"`, `"urn:...:enterprise:2.0:User:department"`).
//!
//! Error choices: a missing `value` on add/replace is `InvalidValue` (RFC 7644 §3.12: "a required
//! value was missing"), as is a path-less add/replace whose value is not an object; a body or
//! operation of the wrong shape is `InvalidSyntax`; an unparseable path is `InvalidPath`.

use std::fmt;

use serde_json::{Map, Value};

use crate::filter::{element_matches, parse_value_path, AttrPath, CompareOp, Filter};
use crate::json::{get_ci, get_ci_mut, is_core_urn, names_eq, remove_ci, set_ci, starts_with_ci};
use crate::wire::{ScimType, SCHEMA_PATCH_OP};

type Object = Map<String, Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    /// The operation for an `op` member, ignoring case (Entra sends `"Add"`, `"Replace"`, ...).
    pub fn from_name(name: &str) -> Option<PatchOpKind> {
        [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

impl fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PATCH `path`: `attrPath ["[" valFilter "]" ["." subAttr]]`.
///
/// - `attr` is the attribute path before any `[`; without a filter it may carry its own
///   sub-attribute (`name.givenName` is `attr = name.givenName`, `sub_attr = None`).
/// - `value_filter` is the bracketed filter; its paths are relative to `attr`.
/// - `sub_attr` is the `.subAttr` after `]` (`emails[type eq "work"].value`), only with a filter.
///
/// [`PatchPath::target`] gives the attribute ultimately addressed either way.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub value_filter: Option<Filter>,
    pub sub_attr: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path; URN-qualified paths follow the same rules as in filters.
    pub fn parse(s: &str) -> Result<PatchPath, PatchError> {
        let (attr, value_filter, sub_attr) = parse_value_path(s.trim())
            .map_err(|e| PatchError::InvalidPath(format!("invalid path '{s}': {}", e.0)))?;
        Ok(PatchPath {
            attr,
            value_filter,
            sub_attr,
        })
    }

    /// The attribute (or sub-attribute) the path finally designates, ignoring the value filter:
    /// `emails[type eq "work"].value` and `emails.value` both give `emails.value`.
    pub fn target(&self) -> AttrPath {
        match &self.sub_attr {
            Some(sub) => AttrPath {
                sub_attr: Some(sub.clone()),
                ..self.attr.clone()
            },
            None => self.attr.clone(),
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.value_filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

impl PatchOp {
    /// Splits the operation into one operation per addressed attribute, each with an explicit
    /// path: a path-less add/replace becomes one operation per key of its value (an extension URN
    /// key holding an object gives one per attribute inside it), and an add/replace whose path is
    /// an extension schema URN likewise. Other operations come back unchanged. It lets a caller
    /// inspect or coerce values per attribute. Applying the result is equivalent to applying
    /// `self` with one exception: a value-filtered key in a path-less replace that matches no
    /// element is added by [`apply_patch`] (see there), but is `NoTarget` as an explicit replace.
    pub fn split_by_path(&self) -> Result<Vec<PatchOp>, PatchError> {
        let single = || Ok(vec![self.clone()]);
        if self.op == PatchOpKind::Remove {
            return single();
        }
        let value = self.value.as_ref().ok_or_else(|| missing_value(self.op))?;
        let targets = match &self.path {
            None => pathless_targets(value, None)?,
            Some(path) => match whole_schema_urn(path, None) {
                Some(urn) => schema_targets(&urn, value)?,
                None => return single(),
            },
        };
        Ok(targets
            .into_iter()
            .map(|(path, value)| PatchOp {
                op: self.op,
                path: Some(path),
                value: Some(value.clone()),
            })
            .collect())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    Mutability(String),
}

impl PatchError {
    /// The RFC 7644 §3.12 `scimType` for the error (all are HTTP 400).
    pub fn scim_type(&self) -> ScimType {
        match self {
            PatchError::InvalidSyntax(_) => ScimType::InvalidSyntax,
            PatchError::InvalidPath(_) => ScimType::InvalidPath,
            PatchError::NoTarget(_) => ScimType::NoTarget,
            PatchError::InvalidValue(_) => ScimType::InvalidValue,
            PatchError::Mutability(_) => ScimType::Mutability,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            PatchError::InvalidSyntax(m)
            | PatchError::InvalidPath(m)
            | PatchError::NoTarget(m)
            | PatchError::InvalidValue(m)
            | PatchError::Mutability(m) => m,
        }
    }

    /// Prefixes the message with the index of the operation it concerns.
    fn in_operation(self, index: usize) -> PatchError {
        let prefix = |m: String| format!("Operations[{index}]: {m}");
        match self {
            PatchError::InvalidSyntax(m) => PatchError::InvalidSyntax(prefix(m)),
            PatchError::InvalidPath(m) => PatchError::InvalidPath(prefix(m)),
            PatchError::NoTarget(m) => PatchError::NoTarget(prefix(m)),
            PatchError::InvalidValue(m) => PatchError::InvalidValue(prefix(m)),
            PatchError::Mutability(m) => PatchError::Mutability(prefix(m)),
        }
    }
}

fn missing_value(op: PatchOpKind) -> PatchError {
    PatchError::InvalidValue(format!("'{op}' requires a 'value'"))
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses a PatchOp request body (RFC 7644 §3.5.2). Member names (`Operations`, `op`, `path`,
/// `value`, `schemas`) are matched case-insensitively. A `path` that is `null` or blank counts as
/// absent. Path-less add/replace values are checked here (object value, parseable keys) so that a
/// bad request fails before anything is applied.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOp>, PatchError> {
    let Value::Object(body) = body else {
        return Err(PatchError::InvalidSyntax(
            "the PATCH body must be a JSON object".into(),
        ));
    };
    let has_schema = match get_ci(body, "schemas") {
        Some(Value::Array(schemas)) => schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| names_eq(s, SCHEMA_PATCH_OP))),
        _ => false,
    };
    if !has_schema {
        return Err(PatchError::InvalidSyntax(format!(
            "'schemas' must be an array containing \"{SCHEMA_PATCH_OP}\""
        )));
    }
    let operations = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        Some(Value::Array(_)) => {
            return Err(PatchError::InvalidSyntax("'Operations' is empty".into()))
        }
        Some(_) => {
            return Err(PatchError::InvalidSyntax(
                "'Operations' must be an array".into(),
            ))
        }
        None => return Err(PatchError::InvalidSyntax("'Operations' is missing".into())),
    };
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_op(op).map_err(|e| e.in_operation(i)))
        .collect()
}

fn parse_op(op: &Value) -> Result<PatchOp, PatchError> {
    let Value::Object(op) = op else {
        return Err(PatchError::InvalidSyntax(
            "an operation must be a JSON object".into(),
        ));
    };
    let kind = match get_ci(op, "op") {
        Some(Value::String(name)) => PatchOpKind::from_name(name).ok_or_else(|| {
            PatchError::InvalidSyntax(format!(
                "unknown op \"{name}\" (expected add, replace or remove)"
            ))
        })?,
        Some(_) => return Err(PatchError::InvalidSyntax("'op' must be a string".into())),
        None => return Err(PatchError::InvalidSyntax("'op' is missing".into())),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s)?),
        Some(_) => return Err(PatchError::InvalidSyntax("'path' must be a string".into())),
    };
    let value = get_ci(op, "value").cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => {
            return Err(PatchError::NoTarget("'remove' requires a 'path'".into()));
        }
        PatchOpKind::Remove => {}
        PatchOpKind::Add | PatchOpKind::Replace => {
            let value = value.as_ref().ok_or_else(|| missing_value(kind))?;
            if path.is_none() {
                pathless_targets(value, None)?;
            }
        }
    }
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}

/// Whether `key` names a whole schema (so its value is an object of that schema's attributes)
/// rather than an attribute. Schema URNs end in `:<version>:<ResourceType>`
/// (`...:enterprise:2.0:User`), which an attribute path never does because attribute names start
/// with a letter; a URN the resource already uses as an extension key or lists in `schemas` counts
/// too.
fn is_schema_urn(key: &str, resource: Option<&Object>) -> bool {
    if !starts_with_ci(key, "urn:") {
        return false;
    }
    if let Some(resource) = resource {
        if get_ci(resource, key).is_some_and(Value::is_object) {
            return true;
        }
        if let Some(Value::Array(schemas)) = get_ci(resource, "schemas") {
            if schemas
                .iter()
                .any(|s| s.as_str().is_some_and(|s| names_eq(s, key)))
            {
                return true;
            }
        }
    }
    let mut segments = key.rsplit(':');
    let _resource_type = segments.next();
    segments.next().is_some_and(|v| {
        v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}

/// The schema URN when `path` addresses a whole schema (`"path": "urn:...:enterprise:2.0:User"`).
fn whole_schema_urn(path: &PatchPath, resource: Option<&Object>) -> Option<String> {
    if path.value_filter.is_some() || path.sub_attr.is_some() || path.attr.sub_attr.is_some() {
        return None;
    }
    let urn = format!("{}:{}", path.attr.urn.as_deref()?, path.attr.name);
    is_schema_urn(&urn, resource).then_some(urn)
}

/// The attributes of a schema-URN-keyed object as (path, value) pairs.
fn schema_targets<'v>(
    urn: &str,
    value: &'v Value,
) -> Result<Vec<(PatchPath, &'v Value)>, PatchError> {
    let Value::Object(attrs) = value else {
        return Err(PatchError::InvalidValue(format!(
            "the value for schema '{urn}' must be an object of its attributes"
        )));
    };
    attrs
        .iter()
        .map(|(name, v)| Ok((PatchPath::parse(&format!("{urn}:{name}"))?, v)))
        .collect()
}

/// The (path, value) pairs of a path-less add/replace: each key of the value object is a path,
/// or a schema URN whose object value holds that schema's attributes.
fn pathless_targets<'v>(
    value: &'v Value,
    resource: Option<&Object>,
) -> Result<Vec<(PatchPath, &'v Value)>, PatchError> {
    let Value::Object(attrs) = value else {
        return Err(PatchError::InvalidValue(
            "an add or replace without 'path' needs an object value holding the attributes to set"
                .into(),
        ));
    };
    let mut targets = Vec::with_capacity(attrs.len());
    for (key, v) in attrs {
        if v.is_object() && is_schema_urn(key, resource) {
            targets.extend(schema_targets(key, v)?);
        } else {
            targets.push((PatchPath::parse(key)?, v));
        }
    }
    Ok(targets)
}

// ---------------------------------------------------------------------------------------------
// Applying

/// Applies `ops` in order to `resource` (a JSON object). On error the resource may be partly
/// modified; callers apply to a copy and discard it, which makes the request atomic.
///
/// A replace whose `path` has a value filter matching nothing fails with `NoTarget`
/// (RFC 7644 §3.5.2.3), but the same filtered key inside a path-less replace value (Entra's
/// aadOptscim062020 dialect) adds the element the filter describes instead.
/// Value filters compare strings case-insensitively; see [`apply_patch_with`] to say otherwise.
pub fn apply_patch(resource: &mut Value, ops: &[PatchOp]) -> Result<(), PatchError> {
    apply_patch_with(resource, ops, &|_| false)
}

/// [`apply_patch`] with a `case_exact` predicate for value filters, as in [`Filter::matches`]
/// (it receives the joined path, e.g. `emails.type`).
pub fn apply_patch_with(
    resource: &mut Value,
    ops: &[PatchOp],
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<(), PatchError> {
    let Value::Object(root) = resource else {
        return Err(PatchError::InvalidValue(
            "the resource to patch is not a JSON object".into(),
        ));
    };
    for (i, op) in ops.iter().enumerate() {
        apply_op(root, op, case_exact).map_err(|e| e.in_operation(i))?;
    }
    Ok(())
}

fn apply_op(
    root: &mut Object,
    op: &PatchOp,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<(), PatchError> {
    match &op.path {
        Some(path) => apply_at(root, op.op, path, op.value.as_ref(), case_exact),
        None if op.op == PatchOpKind::Remove => {
            Err(PatchError::NoTarget("'remove' requires a 'path'".into()))
        }
        None => {
            let value = op.value.as_ref().ok_or_else(|| missing_value(op.op))?;
            for (path, v) in pathless_targets(value, Some(root))? {
                match apply_at(root, op.op, &path, Some(v), case_exact) {
                    // Entra's aadOptscim062020 dialect sends keys such as
                    // `emails[type eq "work"].value` in a path-less replace even when the user has
                    // no work email yet. RFC 7644's noTarget rule is about the `path` member, and
                    // a path-less replace "replaces or adds", so such a key creates the element.
                    // A filtered replace reports NoTarget before changing anything, so retrying
                    // as an add is safe.
                    Err(PatchError::NoTarget(_))
                        if op.op == PatchOpKind::Replace && path.value_filter.is_some() =>
                    {
                        apply_at(root, PatchOpKind::Add, &path, Some(v), case_exact)?;
                    }
                    other => other?,
                }
            }
            Ok(())
        }
    }
}

fn apply_at(
    root: &mut Object,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<(), PatchError> {
    if let Some(urn) = whole_schema_urn(path, Some(root)) {
        return apply_to_schema(root, kind, &urn, value, case_exact);
    }
    if is_unchanged_read_only(root, kind, path, value)? {
        return Ok(());
    }
    let Some(urn) = path.attr.effective_urn() else {
        return apply_in(root, kind, path, value, case_exact);
    };
    // Extension attribute: it lives in the object keyed by the schema URN.
    match get_ci(root, urn) {
        Some(Value::Object(_)) => {}
        None | Some(Value::Null) if kind == PatchOpKind::Remove => return Ok(()),
        None | Some(Value::Null) => {
            set_ci(root, urn, Value::Object(Map::new()));
            list_schema(root, urn);
        }
        Some(_) => {
            return Err(PatchError::InvalidPath(format!(
                "'{urn}' in the resource is not an object"
            )))
        }
    }
    let Some(Value::Object(extension)) = get_ci_mut(root, urn) else {
        return Err(PatchError::InvalidPath(format!(
            "'{urn}' in the resource is not an object"
        )));
    };
    apply_in(extension, kind, path, value, case_exact)?;
    if extension.is_empty() {
        // The resource no longer uses the extension (RFC 7643 §3: `schemas` lists those in use).
        remove_ci(root, urn);
        unlist_schema(root, urn);
    }
    Ok(())
}

/// `path` names a whole schema: remove drops the extension, add/replace apply to each attribute
/// in the value object.
fn apply_to_schema(
    root: &mut Object,
    kind: PatchOpKind,
    urn: &str,
    value: Option<&Value>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<(), PatchError> {
    if kind == PatchOpKind::Remove {
        if is_core_urn(urn) {
            return Err(PatchError::Mutability(format!(
                "the core schema '{urn}' cannot be removed"
            )));
        }
        remove_ci(root, urn);
        unlist_schema(root, urn);
        return Ok(());
    }
    let value = value.ok_or_else(|| missing_value(kind))?;
    for (path, v) in schema_targets(urn, value)? {
        apply_at(root, kind, &path, Some(v), case_exact)?;
    }
    Ok(())
}

fn list_schema(root: &mut Object, urn: &str) {
    if let Some(Value::Array(schemas)) = get_ci_mut(root, "schemas") {
        if !schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| names_eq(s, urn)))
        {
            schemas.push(Value::String(urn.to_owned()));
        }
    }
}

fn unlist_schema(root: &mut Object, urn: &str) {
    if let Some(Value::Array(schemas)) = get_ci_mut(root, "schemas") {
        schemas.retain(|s| !s.as_str().is_some_and(|s| names_eq(s, urn)));
    }
}

/// `id`, `meta` and `schemas` are server-managed. Writing back the value they already have is
/// allowed (and skipped), because some clients send whole resources in a path-less replace; any
/// other change is a `Mutability` error. Returns whether the operation is such a no-op.
fn is_unchanged_read_only(
    root: &Object,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<bool, PatchError> {
    const READ_ONLY: [&str; 3] = ["id", "meta", "schemas"];
    let name = &path.attr.name;
    if path.attr.effective_urn().is_some() || !READ_ONLY.iter().any(|r| names_eq(name, r)) {
        return Ok(false);
    }
    if kind != PatchOpKind::Remove && path.value_filter.is_none() && path.sub_attr.is_none() {
        let current = get_ci(root, name).and_then(|v| match &path.attr.sub_attr {
            Some(sub) => v.as_object().and_then(|m| get_ci(m, sub)),
            None => Some(v),
        });
        if current.is_some() && current == value {
            return Ok(true);
        }
    }
    Err(PatchError::Mutability(format!(
        "'{}' is read-only and cannot be changed with PATCH",
        path.attr
    )))
}

/// Applies one operation inside `obj`, the object holding the attribute (the resource itself or
/// an extension object).
fn apply_in(
    obj: &mut Object,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<(), PatchError> {
    let name = path.attr.name.as_str();
    if let Some(filter) = &path.value_filter {
        return apply_filtered(obj, kind, path, filter, value, case_exact);
    }
    let Some(sub) = &path.attr.sub_attr else {
        return match kind {
            PatchOpKind::Add => add_value(obj, name, value.ok_or_else(|| missing_value(kind))?),
            PatchOpKind::Replace => {
                replace_value(obj, name, value.ok_or_else(|| missing_value(kind))?);
                Ok(())
            }
            PatchOpKind::Remove => {
                remove_value(obj, name, value);
                Ok(())
            }
        };
    };
    // `name.sub`: act inside the complex attribute (or in every element of a multi-valued one).
    let parent = match get_ci_mut(obj, name) {
        Some(Value::Null) | None if kind == PatchOpKind::Remove => return Ok(()),
        Some(Value::Null) | None => {
            set_ci(obj, name, Value::Object(Map::new()));
            get_ci_mut(obj, name)
        }
        other => other,
    };
    let mut parents: Vec<&mut Object> = match parent {
        Some(Value::Object(m)) => vec![m],
        Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => {
            return Err(PatchError::InvalidPath(format!(
                "'{name}' is not a complex attribute, so '{}' cannot be addressed",
                path.attr
            )))
        }
    };
    for parent in parents.iter_mut() {
        match kind {
            PatchOpKind::Add => add_value(parent, sub, value.ok_or_else(|| missing_value(kind))?)?,
            PatchOpKind::Replace => {
                replace_value(parent, sub, value.ok_or_else(|| missing_value(kind))?)
            }
            PatchOpKind::Remove => remove_value(parent, sub, value),
        }
    }
    // A complex attribute left without sub-attributes is unassigned (RFC 7643 §2.5).
    if matches!(get_ci(obj, name), Some(Value::Object(m)) if m.is_empty()) {
        remove_ci(obj, name);
    }
    Ok(())
}

/// Add (RFC 7644 §3.5.2.1): a multi-valued attribute gains the values it does not already have, a
/// complex attribute gains/updates the given sub-attributes, anything else is set.
fn add_value(obj: &mut Object, name: &str, value: &Value) -> Result<(), PatchError> {
    if value.is_null() {
        // Adding "no value" changes nothing.
        return Ok(());
    }
    match get_ci_mut(obj, name) {
        Some(Value::Array(items)) => {
            let new: Vec<&Value> = match value {
                Value::Array(values) => values.iter().collect(),
                single => vec![single],
            };
            let mut touched = Vec::new();
            for item in new.into_iter().filter(|v| !v.is_null()) {
                match same_element_index(items, item) {
                    Some(i) => {
                        // Already present: update it with any sub-attributes the client sent.
                        if let (Some(Value::Object(existing)), Value::Object(given)) =
                            (items.get_mut(i), item)
                        {
                            merge(existing, given);
                        }
                        touched.push(i);
                    }
                    None => {
                        items.push(item.clone());
                        touched.push(items.len() - 1);
                    }
                }
            }
            demote_other_primaries(items, &touched);
        }
        Some(Value::Object(existing)) if value.is_object() => {
            if let Value::Object(given) = value {
                merge(existing, given);
            }
        }
        Some(slot) => *slot = value.clone(),
        None => set_ci(obj, name, value.clone()),
    }
    Ok(())
}

/// Replace (RFC 7644 §3.5.2.3): sets the attribute, replacing arrays entirely; for a complex
/// attribute the given sub-attributes replace or are added and the others are left unchanged, as
/// the RFC requires. A null value unassigns the attribute.
fn replace_value(obj: &mut Object, name: &str, value: &Value) {
    if value.is_null() {
        remove_ci(obj, name);
        return;
    }
    match (get_ci_mut(obj, name), value) {
        (Some(Value::Object(existing)), Value::Object(given)) => merge(existing, given),
        (Some(slot), _) => *slot = value.clone(),
        (None, _) => set_ci(obj, name, value.clone()),
    }
}

/// Remove (RFC 7644 §3.5.2.2) without a value filter. With a value on a multi-valued attribute
/// (Entra's `{"op":"Remove","path":"members","value":[{"value":"id"}]}`) only the listed elements
/// go; otherwise the attribute is unassigned. Removing something absent is not an error, so a
/// retried request succeeds.
fn remove_value(obj: &mut Object, name: &str, value: Option<&Value>) {
    let listed: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => values.iter().collect(),
        Some(single) => vec![single],
    };
    if let (false, Some(Value::Array(items))) = (listed.is_empty(), get_ci_mut(obj, name)) {
        items.retain(|item| !listed.iter().any(|given| same_element(item, given)));
        if !items.is_empty() {
            return;
        }
    }
    remove_ci(obj, name);
}

/// Operations with a value filter (`members[value eq "x"]`, `emails[type eq "work"].value`).
fn apply_filtered(
    obj: &mut Object,
    kind: PatchOpKind,
    path: &PatchPath,
    filter: &Filter,
    value: Option<&Value>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> Result<(), PatchError> {
    let name = path.attr.name.as_str();
    let element_exact = |inner: &AttrPath| case_exact(&path.attr.child(inner));
    let no_match = || PatchError::NoTarget(format!("no value of '{}' matches '{path}'", path.attr));
    let need_value = || value.ok_or_else(|| missing_value(kind));
    match get_ci_mut(obj, name) {
        None | Some(Value::Null) => match kind {
            PatchOpKind::Remove => Ok(()),
            PatchOpKind::Replace => Err(no_match()),
            PatchOpKind::Add => {
                let element = new_element(filter, path, need_value()?)?;
                set_ci(obj, name, Value::Array(vec![element]));
                Ok(())
            }
        },
        Some(Value::Array(items)) => {
            let mut hits: Vec<usize> = (0..items.len())
                .filter(|&i| {
                    items
                        .get(i)
                        .is_some_and(|e| element_matches(filter, e, &element_exact))
                })
                .collect();
            match kind {
                PatchOpKind::Remove => {
                    match &path.sub_attr {
                        Some(sub) => {
                            for i in hits {
                                if let Some(Value::Object(element)) = items.get_mut(i) {
                                    remove_ci(element, sub);
                                }
                            }
                        }
                        None => {
                            let mut index = 0;
                            items.retain(|_| {
                                index += 1;
                                !hits.contains(&(index - 1))
                            });
                        }
                    }
                    if items.is_empty() {
                        remove_ci(obj, name);
                    }
                    return Ok(());
                }
                PatchOpKind::Replace if hits.is_empty() => return Err(no_match()),
                PatchOpKind::Add if hits.is_empty() => {
                    // Entra adds e.g. `emails[type eq "work"].value` when there is no work email
                    // yet: create the element the filter describes.
                    items.push(new_element(filter, path, need_value()?)?);
                    hits.push(items.len() - 1);
                }
                PatchOpKind::Replace | PatchOpKind::Add => {
                    let value = need_value()?;
                    for &i in &hits {
                        let Some(element) = items.get_mut(i) else {
                            continue;
                        };
                        set_in_element(element, kind, path, value)?;
                    }
                }
            }
            demote_other_primaries(items, &hits);
            Ok(())
        }
        Some(single @ Value::Object(_)) => {
            // A single-valued complex attribute is treated as a one-element list.
            if !element_matches(filter, single, &element_exact) {
                return if kind == PatchOpKind::Remove {
                    Ok(())
                } else {
                    Err(no_match())
                };
            }
            match (kind, &path.sub_attr) {
                (PatchOpKind::Remove, Some(sub)) => {
                    if let Value::Object(m) = single {
                        remove_ci(m, sub);
                    }
                }
                (PatchOpKind::Remove, None) => {
                    remove_ci(obj, name);
                }
                _ => set_in_element(single, kind, path, need_value()?)?,
            }
            Ok(())
        }
        Some(_) => Err(PatchError::InvalidPath(format!(
            "'{}' is neither multi-valued nor complex, so it cannot take a value filter",
            path.attr
        ))),
    }
}

/// Add/replace on one element selected by a value filter.
fn set_in_element(
    element: &mut Value,
    kind: PatchOpKind,
    path: &PatchPath,
    value: &Value,
) -> Result<(), PatchError> {
    match (&path.sub_attr, element) {
        (Some(sub), Value::Object(m)) => match kind {
            PatchOpKind::Add => add_value(m, sub, value),
            _ => {
                replace_value(m, sub, value);
                Ok(())
            }
        },
        (Some(_), _) => Err(PatchError::InvalidPath(format!(
            "the values selected by '{path}' are not complex, so they have no sub-attributes"
        ))),
        (None, element) => {
            match (kind, &mut *element, value) {
                (PatchOpKind::Add, Value::Object(existing), Value::Object(given)) => {
                    merge(existing, given)
                }
                // RFC 7644 §3.5.2.3: "all matching record values SHALL be replaced".
                (_, slot, _) => *slot = value.clone(),
            }
            Ok(())
        }
    }
}

/// The element an add with a value filter creates when nothing matches: the filter's `eq` terms
/// give its identifying sub-attributes (`type eq "work"` -> `"type": "work"`), then the value is
/// set as the sub-attribute after `]`, or merged in when the value is an object.
fn new_element(filter: &Filter, path: &PatchPath, value: &Value) -> Result<Value, PatchError> {
    let Some(mut element) = filter_template(filter) else {
        return Err(PatchError::NoTarget(format!(
            "no value matches '{path}', and only a filter of 'eq' comparisons joined by 'and' describes a value to add"
        )));
    };
    match (&path.sub_attr, value) {
        (Some(sub), value) => {
            if !value.is_null() {
                set_ci(&mut element, sub, value.clone());
            }
        }
        (None, Value::Object(given)) => merge(&mut element, given),
        (None, _) => {
            return Err(PatchError::InvalidValue(format!(
                "adding to '{path}' needs an object value or a sub-attribute after ']'"
            )))
        }
    }
    Ok(Value::Object(element))
}

fn filter_template(filter: &Filter) -> Option<Object> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let mut element = Map::new();
            element.insert(path.name.clone(), value.clone());
            Some(element)
        }
        Filter::And(a, b) => {
            let mut element = filter_template(a)?;
            merge(&mut element, &filter_template(b)?);
            Some(element)
        }
        _ => None,
    }
}

/// Sets each given sub-attribute (null unassigns it), keeping existing key spellings.
fn merge(target: &mut Object, given: &Object) {
    for (key, value) in given {
        if value.is_null() {
            remove_ci(target, key);
        } else {
            set_ci(target, key, value.clone());
        }
    }
}

/// The key identifying an element of a multi-valued attribute: the `value` sub-attribute of a
/// complex element (member ids, email addresses), or a simple element itself.
fn element_key(element: &Value) -> Option<&Value> {
    match element {
        Value::Object(m) => get_ci(m, "value"),
        other => Some(other),
    }
}

fn same_element(a: &Value, b: &Value) -> bool {
    a == b || element_key(a).is_some_and(|key| Some(key) == element_key(b))
}

fn same_element_index(items: &[Value], item: &Value) -> Option<usize> {
    items
        .iter()
        .position(|existing| same_element(existing, item))
}

fn is_primary(element: &Value) -> bool {
    let Value::Object(m) = element else {
        return false;
    };
    match get_ci(m, "primary") {
        Some(Value::Bool(b)) => *b,
        // Entra's default dialect sends booleans as strings; coercion is the host's, but the
        // intent is still "primary".
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// RFC 7644 §3.5.2: setting one value's `primary` to true makes the server set it false on the
/// others. `touched` are the elements the operation wrote; the last primary among them wins.
fn demote_other_primaries(items: &mut [Value], touched: &[usize]) {
    let Some(&keep) = touched
        .iter()
        .rev()
        .find(|&&i| items.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep && is_primary(item) {
            if let Value::Object(m) = item {
                set_ci(m, "primary", Value::Bool(false));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const ECMA_USER: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn body(ops: Value) -> Value {
        json!({"schemas": [SCHEMA_PATCH_OP], "Operations": ops})
    }

    /// Parses and applies a body to a copy of `resource`, as the host does.
    fn patch(resource: &Value, ops: Value) -> Result<Value, PatchError> {
        let ops = parse_patch(&body(ops))?;
        let mut copy = resource.clone();
        apply_patch(&mut copy, &ops)?;
        Ok(copy)
    }

    fn ok(resource: &Value, ops: Value) -> Value {
        match patch(resource, ops.clone()) {
            Ok(v) => v,
            Err(e) => panic!("{ops} should apply: {e:?}"),
        }
    }

    fn fails(resource: &Value, ops: Value) -> PatchError {
        match patch(resource, ops.clone()) {
            Ok(v) => panic!("{ops} should fail, got {v}"),
            Err(e) => e,
        }
    }

    fn pp(s: &str) -> PatchPath {
        PatchPath::parse(s).unwrap()
    }

    fn user() -> Value {
        json!({
            "schemas": [CORE_USER],
            "id": "u1",
            "userName": "bjensen",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z"}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Sales",
            "members": [{"value": "u1"}, {"value": "u2", "display": "Two"}, {"value": "u3"}]
        })
    }

    // ---- parsing ------------------------------------------------------------------------

    #[test]
    fn entra_default_dialect_body() {
        let b = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
            {"op":"Replace","path":"active","value":"False"},
            {"op":"Add","path":"urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:Department","value":"Sales"}
        ]});
        let ops = parse_patch(&b).unwrap();
        assert_eq!(
            ops,
            vec![
                PatchOp {
                    op: PatchOpKind::Replace,
                    path: Some(pp("active")),
                    value: Some(json!("False"))
                },
                PatchOp {
                    op: PatchOpKind::Add,
                    path: Some(PatchPath {
                        attr: AttrPath {
                            urn: Some(ECMA_USER.into()),
                            name: "Department".into(),
                            sub_attr: None
                        },
                        value_filter: None,
                        sub_attr: None
                    }),
                    value: Some(json!("Sales"))
                },
            ]
        );
        let mut r = user();
        apply_patch(&mut r, &ops).unwrap();
        // Stored as given: the host coerces "False" by schema.
        assert_eq!(r["active"], json!("False"));
        assert_eq!(r[ECMA_USER], json!({"Department": "Sales"}));
        assert_eq!(r["schemas"], json!([CORE_USER, ECMA_USER]));
    }

    #[test]
    fn entra_aad_opt_scim_062020_filtered_keys() {
        let r = ok(
            &user(),
            json!([{"op": "replace", "value": {
                "displayName": "Babs",
                "emails[type eq \"work\"].value": "w@new",
                "addresses[type eq \"work\"].locality": "Oslo",
                "addresses[type eq \"work\"].postalCode": "0150",
                "phoneNumbers[type eq \"mobile\"].value": "+47 1"
            }}]),
        );
        assert_eq!(r["displayName"], json!("Babs"));
        assert_eq!(
            r["emails"][0],
            json!({"value": "w@new", "type": "work", "primary": true})
        );
        assert_eq!(
            r["addresses"],
            json!([{"type": "work", "locality": "Oslo", "postalCode": "0150"}])
        );
        assert_eq!(
            r["phoneNumbers"],
            json!([{"type": "mobile", "value": "+47 1"}])
        );
        // A filter that cannot describe a new element still reports NoTarget.
        assert!(matches!(
            fails(
                &user(),
                json!([{"op": "replace", "value": {"ims[type co \"x\"].value": "a"}}])
            ),
            PatchError::NoTarget(_)
        ));
    }

    #[test]
    fn entra_aad_opt_scim_062020_body() {
        let mut r = user();
        r[ENTERPRISE] = json!({"employeeNumber": "7"});
        r["schemas"] = json!([CORE_USER, ENTERPRISE]);
        let r = ok(
            &r,
            json!([{"op":"replace","value":{
                "active": false,
                "name.givenName": "Bo",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "X",
                "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:Dept.Code": "D-1"
            }}]),
        );
        assert_eq!(r["active"], json!(false));
        assert_eq!(
            r["name"],
            json!({"givenName": "Bo", "familyName": "Jensen"})
        );
        assert_eq!(
            r[ENTERPRISE],
            json!({"employeeNumber": "7", "department": "X"})
        );
        assert_eq!(r[ECMA_USER], json!({"Dept.Code": "D-1"}));
        assert_eq!(r["schemas"], json!([CORE_USER, ENTERPRISE, ECMA_USER]));
    }

    #[test]
    fn body_shape_errors() {
        let op = json!([{"op": "add", "path": "title", "value": "x"}]);
        let cases = [
            (json!([]), "JSON object"),
            (json!({"Operations": op}), "schemas"),
            (
                json!({"schemas": SCHEMA_PATCH_OP, "Operations": op}),
                "schemas",
            ),
            (
                json!({"schemas": ["urn:other"], "Operations": op}),
                "schemas",
            ),
            (
                json!({"schemas": [SCHEMA_PATCH_OP]}),
                "'Operations' is missing",
            ),
            (
                json!({"schemas": [SCHEMA_PATCH_OP], "Operations": []}),
                "'Operations' is empty",
            ),
            (
                json!({"schemas": [SCHEMA_PATCH_OP], "Operations": {}}),
                "must be an array",
            ),
            (
                body(json!(["add"])),
                "Operations[0]: an operation must be a JSON object",
            ),
            (body(json!([{"path": "x", "value": 1}])), "'op' is missing"),
            (
                body(json!([{"op": 1, "value": {}}])),
                "'op' must be a string",
            ),
            (
                body(json!([{"op": "add", "path": "a", "value": 1}, {"op": "merge", "value": {}}])),
                "Operations[1]: unknown op \"merge\"",
            ),
            (
                body(json!([{"op": "add", "path": ["a"], "value": 1}])),
                "'path' must be a string",
            ),
        ];
        for (b, needle) in cases {
            match parse_patch(&b) {
                Err(PatchError::InvalidSyntax(m)) => {
                    assert!(m.contains(needle), "{b}: {m:?} lacks {needle:?}")
                }
                other => panic!("{b}: expected InvalidSyntax, got {other:?}"),
            }
        }
    }

    #[test]
    fn member_names_and_op_names_are_case_insensitive() {
        let b = json!({"SCHEMAS": [SCHEMA_PATCH_OP.to_uppercase()], "operations": [
            {"OP": "ADD", "PATH": "title", "VALUE": "a"},
            {"op": "rePlace", "path": "nickName", "value": "b"},
            {"Op": "Remove", "Path": "displayName"}
        ]});
        let kinds: Vec<PatchOpKind> = parse_patch(&b).unwrap().iter().map(|o| o.op).collect();
        assert_eq!(
            kinds,
            [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
        );
    }

    #[test]
    fn operation_errors_by_kind() {
        let r = user();
        assert!(
            matches!(fails(&r, json!([{"op": "remove"}])), PatchError::NoTarget(m) if m.contains("Operations[0]"))
        );
        assert!(matches!(
            fails(&r, json!([{"op": "remove", "path": ""}])),
            PatchError::NoTarget(_)
        ));
        assert!(matches!(
            fails(&r, json!([{"op": "remove", "path": null}])),
            PatchError::NoTarget(_)
        ));
        assert!(matches!(
            fails(&r, json!([{"op": "add", "path": "title"}])),
            PatchError::InvalidValue(_)
        ));
        assert!(matches!(
            fails(&r, json!([{"op": "replace"}])),
            PatchError::InvalidValue(_)
        ));
        assert!(matches!(
            fails(&r, json!([{"op": "replace", "value": "x"}])),
            PatchError::InvalidValue(_)
        ));
        assert!(matches!(
            fails(&r, json!([{"op": "replace", "value": ["x"]}])),
            PatchError::InvalidValue(_)
        ));
        for bad in [
            r#"members[value eq "x""#,
            r#"members[value xx "x"]"#,
            r#"emails[type eq "work"]value"#,
            "1name",
            "name.given.name",
            r#"name.givenName[value eq "x"]"#,
            "a b",
        ] {
            match fails(&r, json!([{"op": "remove", "path": bad}])) {
                PatchError::InvalidPath(m) => assert!(m.contains(bad), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(
            fails(&r, json!([{"op": "add", "value": {"bad key": 1}}])),
            PatchError::InvalidPath(_)
        ));
        // Errors from applying also name the operation.
        match fails(
            &r,
            json!([{"op": "add", "path": "title", "value": "x"}, {"op": "replace", "path": "id", "value": "u2"}]),
        ) {
            PatchError::Mutability(m) => assert!(m.starts_with("Operations[1]: "), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn patch_paths() {
        let p = pp(r#"members[value eq "x"]"#);
        assert_eq!(p.attr, AttrPath::simple("members"));
        assert_eq!(
            p.value_filter,
            Some(Filter::Compare {
                path: AttrPath::simple("value"),
                op: CompareOp::Eq,
                value: json!("x")
            })
        );
        assert_eq!(p.sub_attr, None);

        let p = pp(r#"emails[type eq "work"].value"#);
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
        assert_eq!(p.target(), AttrPath::parse("emails.value").unwrap());

        let p = pp("name.givenName");
        assert_eq!(p.attr, AttrPath::parse("name.givenName").unwrap());
        assert_eq!((p.value_filter, p.sub_attr), (None, None));

        let p = pp(&format!("{ENTERPRISE}:manager.value"));
        assert_eq!(p.attr.urn.as_deref(), Some(ENTERPRISE));
        assert_eq!(
            p.target().to_string(),
            format!("{ENTERPRISE}:manager.value")
        );

        let p = pp(&format!("{ECMA_USER}:Dept.Code"));
        assert_eq!(
            p.attr,
            AttrPath {
                urn: Some(ECMA_USER.into()),
                name: "Dept.Code".into(),
                sub_attr: None
            }
        );

        let p = pp(&format!(r#"{ECMA_USER}:Phones[type eq "x"].number"#));
        assert_eq!(p.attr.name, "Phones");
        assert_eq!(p.sub_attr.as_deref(), Some("number"));

        // Brackets holding no filter belong to the connector attribute's name.
        let p = pp(&format!("{ECMA_USER}:Phone[2]"));
        assert_eq!(p.attr.name, "Phone[2]");
        assert!(p.value_filter.is_none());

        for s in [
            "userName",
            r#"members[value eq "x"]"#,
            r#"emails[type eq "work" and primary eq true].value"#,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ] {
            assert_eq!(pp(s).to_string(), s);
        }
        assert_eq!(pp("  title ").attr, AttrPath::simple("title"));
    }

    // ---- add ----------------------------------------------------------------------------

    #[test]
    fn add_sets_single_values_and_sub_attributes() {
        let r = ok(
            &user(),
            json!([
                {"op": "add", "path": "title", "value": "Boss"},
                {"op": "add", "path": "userName", "value": "bj"},
                {"op": "add", "path": "name.middleName", "value": "M"},
                {"op": "add", "path": "addresses.locality", "value": "Oslo"},
                {"op": "add", "path": "x509", "value": null}
            ]),
        );
        assert_eq!(r["title"], json!("Boss"));
        assert_eq!(r["userName"], json!("bj"));
        assert_eq!(
            r["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "M"})
        );
        assert_eq!(r["addresses"], json!({"locality": "Oslo"}));
        assert!(r.get("x509").is_none());
    }

    #[test]
    fn add_to_multi_valued_appends_missing_values() {
        let r = ok(
            &user(),
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "new@example.com", "type": "other"},
                {"value": "babs@jensen.org", "type": "home", "display": "Babs"}
            ]}]),
        );
        assert_eq!(
            r["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home", "display": "Babs"},
                {"value": "new@example.com", "type": "other"}
            ])
        );
        // A single value is appended too; simple multi-valued attributes dedupe by equality.
        let r = ok(
            &json!({"tags": ["a"]}),
            json!([{"op": "add", "path": "tags", "value": "b"}, {"op": "add", "path": "tags", "value": ["a", "c"]}]),
        );
        assert_eq!(r["tags"], json!(["a", "b", "c"]));
        // An array value for an absent attribute is stored as the array.
        let r = ok(
            &json!({}),
            json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "1"}]}]),
        );
        assert_eq!(r["phoneNumbers"], json!([{"value": "1"}]));
    }

    #[test]
    fn add_complex_merges_sub_attributes() {
        let r = ok(
            &user(),
            json!([{"op": "add", "path": "name", "value": {"givenName": "Babs", "honorificPrefix": "Ms"}}]),
        );
        assert_eq!(
            r["name"],
            json!({"givenName": "Babs", "familyName": "Jensen", "honorificPrefix": "Ms"})
        );
    }

    #[test]
    fn add_with_value_filter_creates_or_updates_the_element() {
        // Entra default dialect for a user without a mobile number yet.
        let r = ok(
            &user(),
            json!([
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+47 1"},
                {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Oslo"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "b@new.example"}
            ]),
        );
        assert_eq!(
            r["phoneNumbers"],
            json!([{"type": "mobile", "value": "+47 1"}])
        );
        assert_eq!(
            r["addresses"],
            json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Oslo"}])
        );
        assert_eq!(r["emails"][0]["value"], json!("b@new.example"));
        assert_eq!(r["emails"].as_array().unwrap().len(), 2);
        // Only 'eq' filters joined by 'and' describe an element to create.
        assert!(matches!(
            fails(
                &user(),
                json!([{"op": "add", "path": "phoneNumbers[type co \"mob\"].value", "value": "1"}])
            ),
            PatchError::NoTarget(_)
        ));
        assert!(matches!(
            fails(
                &user(),
                json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"]", "value": "1"}])
            ),
            PatchError::InvalidValue(_)
        ));
        let r = ok(
            &user(),
            json!([{"op": "add", "path": "ims[type eq \"xmpp\"]", "value": {"value": "b@x"}}]),
        );
        assert_eq!(r["ims"], json!([{"type": "xmpp", "value": "b@x"}]));
    }

    #[test]
    fn primary_true_demotes_the_others() {
        let r = ok(
            &user(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "c@x", "type": "other", "primary": true}]}]),
        );
        assert_eq!(r["emails"][0]["primary"], json!(false));
        assert_eq!(r["emails"][2]["primary"], json!(true));
        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
        );
        assert_eq!(r["emails"][0]["primary"], json!(false));
        assert_eq!(r["emails"][1]["primary"], json!("True"));
        // A whole-array replace is taken as given.
        let both = json!([{"value": "a", "primary": true}, {"value": "b", "primary": true}]);
        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "emails", "value": both}]),
        );
        assert_eq!(r["emails"], both);
    }

    // ---- replace ------------------------------------------------------------------------

    #[test]
    fn replace_sets_and_matches_keys_case_insensitively() {
        let r = ok(
            &user(),
            json!([
                {"op": "replace", "path": "username", "value": "BJ"},
                {"op": "replace", "path": "NAME.GIVENNAME", "value": "Bo"},
                {"op": "replace", "path": "title", "value": "New"},
                {"op": "replace", "path": "emails", "value": [{"value": "only@x"}]}
            ]),
        );
        assert_eq!(r["userName"], json!("BJ"));
        assert!(r.get("username").is_none());
        assert_eq!(r["name"]["givenName"], json!("Bo"));
        assert!(r["name"].get("GIVENNAME").is_none());
        assert_eq!(r["title"], json!("New"));
        assert_eq!(r["emails"], json!([{"value": "only@x"}]));
        let keys = r
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.eq_ignore_ascii_case("username"))
            .count();
        assert_eq!(keys, 1);
    }

    #[test]
    fn replace_complex_keeps_unspecified_sub_attributes() {
        // RFC 7644 §3.5.2.3: sub-attributes not in the value are left unchanged.
        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "name", "value": {"familyName": "Doe", "givenName": null}}]),
        );
        assert_eq!(r["name"], json!({"familyName": "Doe"}));
    }

    #[test]
    fn replace_null_unassigns() {
        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "name.givenName", "value": null}, {"op": "replace", "path": "emails", "value": null}]),
        );
        assert_eq!(r["name"], json!({"familyName": "Jensen"}));
        assert!(r.get("emails").is_none());
        let r = ok(
            &json!({"name": {"givenName": "a"}}),
            json!([{"op": "replace", "path": "name.givenName", "value": null}]),
        );
        assert_eq!(r, json!({}));
    }

    #[test]
    fn replace_with_value_filter() {
        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "w@x", "type": "work"}}]),
        );
        assert_eq!(r["emails"][0], json!({"value": "w@x", "type": "work"}));
        assert_eq!(r["emails"][1]["value"], json!("babs@jensen.org"));

        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"WORK\"].value", "value": "w@x"}]),
        );
        assert_eq!(
            r["emails"][0],
            json!({"value": "w@x", "type": "work", "primary": true})
        );

        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "emails[value co \"@\"].display", "value": "D"}]),
        );
        assert!(r["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["display"] == json!("D")));

        match fails(
            &user(),
            json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]),
        ) {
            PatchError::NoTarget(m) => {
                assert!(m.contains(r#"emails[type eq "other"].value"#), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            fails(
                &user(),
                json!([{"op": "replace", "path": "ims[type eq \"xmpp\"]", "value": {}}])
            ),
            PatchError::NoTarget(_)
        ));
        assert!(matches!(
            fails(
                &user(),
                json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "y"}])
            ),
            PatchError::InvalidPath(_)
        ));
    }

    #[test]
    fn replace_of_missing_attribute_adds_it() {
        let r = ok(
            &user(),
            json!([{"op": "replace", "path": "nickName", "value": "Babs"}]),
        );
        assert_eq!(r["nickName"], json!("Babs"));
    }

    #[test]
    fn case_exact_value_filters() {
        let mut r = user();
        let ops = parse_patch(&body(
            json!([{"op": "replace", "path": "emails[type eq \"WORK\"].value", "value": "x"}]),
        ))
        .unwrap();
        let exact = |p: &AttrPath| p.to_string() == "emails.type";
        assert!(matches!(
            apply_patch_with(&mut r, &ops, &exact),
            Err(PatchError::NoTarget(_))
        ));
        assert!(apply_patch_with(&mut r, &ops, &|_| false).is_ok());
    }

    // ---- remove -------------------------------------------------------------------------

    #[test]
    fn remove_attributes_and_sub_attributes() {
        let r = ok(
            &user(),
            json!([
                {"op": "remove", "path": "title"},
                {"op": "remove", "path": "emails"},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "nickName"}
            ]),
        );
        assert!(r.get("emails").is_none());
        assert_eq!(r["name"], json!({"familyName": "Jensen"}));
        let r = ok(&r, json!([{"op": "remove", "path": "NAME.familyName"}]));
        assert!(
            r.get("name").is_none(),
            "an emptied complex attribute is unassigned"
        );
        let r = ok(&user(), json!([{"op": "remove", "path": "emails.type"}]));
        assert_eq!(
            r["emails"],
            json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
        );
    }

    #[test]
    fn remove_with_value_filter() {
        let r = ok(
            &user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        );
        assert_eq!(
            r["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}])
        );
        let r = ok(
            &r,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        );
        assert!(r.get("emails").is_none());
        let r = ok(
            &user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
        );
        assert_eq!(
            r["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
        // Nothing matching is fine, so a retried request succeeds.
        let r = ok(
            &user(),
            json!([{"op": "remove", "path": "emails[type eq \"other\"]"}, {"op": "remove", "path": "ims[type eq \"x\"]"}]),
        );
        assert_eq!(r, user());
    }

    // ---- groups -------------------------------------------------------------------------

    #[test]
    fn group_members_entra_default_dialect() {
        let r = ok(
            &group(),
            json!([
                {"op": "Add", "path": "members", "value": [{"value": "u4"}, {"value": "u1"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "u2"}, {"value": "u9"}]}
            ]),
        );
        assert_eq!(
            r["members"],
            json!([{"value": "u1"}, {"value": "u3"}, {"value": "u4"}])
        );
        let r = ok(
            &r,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}, {"value": "u4"}]}]),
        );
        assert!(r.get("members").is_none());
        // Without a value, remove clears all members.
        let r = ok(&group(), json!([{"op": "Remove", "path": "members"}]));
        assert!(r.get("members").is_none());
        // Adding to a group without members.
        let r = ok(
            &json!({"id": "g2", "displayName": "x"}),
            json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}]}]),
        );
        assert_eq!(r["members"], json!([{"value": "u1"}]));
    }

    #[test]
    fn group_members_aad_opt_scim_062020() {
        let r = ok(
            &group(),
            json!([
                {"op": "add", "path": "members", "value": [{"value": "u5"}]},
                {"op": "remove", "path": "members[value eq \"u2\"]"},
                {"op": "remove", "path": "members[value eq \"absent\"]"}
            ]),
        );
        assert_eq!(
            r["members"],
            json!([{"value": "u1"}, {"value": "u3"}, {"value": "u5"}])
        );
        let r = ok(
            &group(),
            json!([{"op": "replace", "value": {"displayName": "Renamed", "id": "g1"}}]),
        );
        assert_eq!(r["displayName"], json!("Renamed"));
    }

    // ---- extensions ---------------------------------------------------------------------

    #[test]
    fn extension_attributes_live_under_their_urn() {
        let r = ok(
            &user(),
            json!([
                {"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": "m1"},
                {"op": "add", "path": format!("{ENTERPRISE}:costCenter"), "value": "C"},
                {"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "9"},
                {"op": "add", "path": format!("{}:Dept.Code", ECMA_USER.to_lowercase()), "value": "D"}
            ]),
        );
        assert_eq!(
            r[ENTERPRISE],
            json!({"manager": "m1", "costCenter": "C", "employeeNumber": "9"})
        );
        // The URN key is matched case-insensitively once it exists; a new one is created as sent.
        assert_eq!(r[ECMA_USER.to_lowercase()], json!({"Dept.Code": "D"}));
        assert_eq!(
            r["schemas"],
            json!([CORE_USER, ENTERPRISE, ECMA_USER.to_lowercase()])
        );

        // `manager` was sent as a plain string, so it has no sub-attributes to address.
        for kind in ["add", "replace"] {
            let path = format!("{}:manager.value", ENTERPRISE.to_uppercase());
            assert!(matches!(
                fails(&r, json!([{"op": kind, "path": path, "value": "m2"}])),
                PatchError::InvalidPath(_)
            ));
        }

        // Removing the last attribute removes the extension object and its schema.
        let r = ok(
            &r,
            json!([
                {"op": "remove", "path": format!("{ENTERPRISE}:manager")},
                {"op": "remove", "path": format!("{ENTERPRISE}:costCenter")},
                {"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")},
                {"op": "remove", "path": format!("{ENTERPRISE}:employeeNumber")},
                {"op": "remove", "path": format!("{ECMA_USER}:Missing")}
            ]),
        );
        assert!(r.get(ENTERPRISE).is_none());
        assert_eq!(r["schemas"], json!([CORE_USER, ECMA_USER.to_lowercase()]));
    }

    #[test]
    fn entra_manager_in_both_shapes() {
        let r = ok(
            &user(),
            json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "m1"}}]),
        );
        assert_eq!(r[ENTERPRISE]["manager"], json!({"value": "m1"}));
        let r = ok(
            &r,
            json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager.value"), "value": "m2"}]),
        );
        assert_eq!(r[ENTERPRISE]["manager"], json!({"value": "m2"}));
        let r = ok(
            &r,
            json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager"), "value": [{"value": "m2"}]}]),
        );
        assert!(r.get(ENTERPRISE).is_none());
    }

    #[test]
    fn pathless_extension_object_rfc_form() {
        let r = ok(
            &user(),
            json!([{"op": "add", "value": {
                "title": "T",
                "emails": [{"value": "n@x", "type": "other"}],
                ENTERPRISE: {"employeeNumber": "1", "manager": {"value": "m"}},
                ECMA_USER: {"Dept.Code": "X"}
            }}]),
        );
        assert_eq!(r["title"], json!("T"));
        assert_eq!(r["emails"].as_array().unwrap().len(), 3);
        assert_eq!(
            r[ENTERPRISE],
            json!({"employeeNumber": "1", "manager": {"value": "m"}})
        );
        assert_eq!(r[ECMA_USER], json!({"Dept.Code": "X"}));
        // A core-schema URN key holds top-level attributes.
        let r = ok(
            &user(),
            json!([{"op": "replace", "value": {CORE_USER: {"displayName": "B"}}}]),
        );
        assert_eq!(r["displayName"], json!("B"));
        assert!(r.get(CORE_USER).is_none());
    }

    #[test]
    fn whole_schema_paths() {
        let mut start = user();
        start[ENTERPRISE] = json!({"employeeNumber": "1", "department": "D"});
        start["schemas"] = json!([CORE_USER, ENTERPRISE]);
        let r = ok(
            &start,
            json!([{"op": "replace", "path": ENTERPRISE, "value": {"department": "E"}}]),
        );
        assert_eq!(
            r[ENTERPRISE],
            json!({"employeeNumber": "1", "department": "E"})
        );
        let r = ok(&start, json!([{"op": "remove", "path": ENTERPRISE}]));
        assert!(r.get(ENTERPRISE).is_none());
        assert_eq!(r["schemas"], json!([CORE_USER]));
        assert!(matches!(
            fails(&start, json!([{"op": "remove", "path": CORE_USER}])),
            PatchError::Mutability(_)
        ));
        assert!(matches!(
            fails(
                &start,
                json!([{"op": "add", "path": ENTERPRISE, "value": "x"}])
            ),
            PatchError::InvalidValue(_)
        ));
    }

    #[test]
    fn core_urn_paths_resolve_to_the_top_level() {
        let r = ok(
            &user(),
            json!([
                {"op": "replace", "path": format!("{CORE_USER}:userName"), "value": "x"},
                {"op": "replace", "path": format!("{CORE_USER}:name.givenName"), "value": "G"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"home\"]"}
            ]),
        );
        assert_eq!(r["userName"], json!("x"));
        assert_eq!(r["name"]["givenName"], json!("G"));
        assert_eq!(r["emails"].as_array().unwrap().len(), 1);
        assert!(r.get(CORE_USER).is_none());
        assert_eq!(r["schemas"], json!([CORE_USER]));
    }

    // ---- mutability ---------------------------------------------------------------------

    #[test]
    fn id_meta_and_schemas_are_read_only() {
        let r = user();
        for ops in [
            json!([{"op": "replace", "path": "id", "value": "u2"}]),
            json!([{"op": "remove", "path": "ID"}]),
            json!([{"op": "remove", "path": "meta"}]),
            json!([{"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}]),
            json!([{"op": "add", "path": "schemas", "value": [ENTERPRISE]}]),
            json!([{"op": "replace", "value": {"active": false, "id": "other"}}]),
            json!([{"op": "replace", "path": format!("{CORE_USER}:id"), "value": "u2"}]),
        ] {
            match fails(&r, ops.clone()) {
                PatchError::Mutability(m) => assert!(m.contains("read-only"), "{m}"),
                other => panic!("{ops}: {other:?}"),
            }
        }
        // Echoing the current value is harmless, and an extension attribute called "id" is writable.
        let r = ok(
            &r,
            json!([
                {"op": "replace", "value": {"id": "u1", "active": false, "schemas": [CORE_USER]}},
                {"op": "add", "path": format!("{ECMA_USER}:id"), "value": "ext-id"}
            ]),
        );
        assert_eq!(r["id"], json!("u1"));
        assert_eq!(r["active"], json!(false));
        assert_eq!(r[ECMA_USER]["id"], json!("ext-id"));
    }

    // ---- misc ---------------------------------------------------------------------------

    #[test]
    fn values_are_stored_as_given() {
        let r = ok(
            &user(),
            json!([
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Add", "path": format!("{ECMA_USER}:Flag"), "value": "False"},
                {"op": "Add", "path": "emails[type eq \"work\"].primary", "value": "True"}
            ]),
        );
        assert_eq!(r["active"], json!("True"));
        assert_eq!(r[ECMA_USER]["Flag"], json!("False"));
        assert_eq!(r["emails"][0]["primary"], json!("True"));
    }

    #[test]
    fn non_object_resources_and_scalar_parents_are_rejected() {
        let ops = parse_patch(&body(json!([{"op": "add", "path": "a", "value": 1}]))).unwrap();
        assert!(matches!(
            apply_patch(&mut json!([]), &ops),
            Err(PatchError::InvalidValue(_))
        ));
        assert!(matches!(
            fails(
                &json!({"userName": "x"}),
                json!([{"op": "add", "path": "userName.first", "value": 1}])
            ),
            PatchError::InvalidPath(_)
        ));
        // A scalar under an extension URN key is not an extension object.
        assert!(matches!(
            fails(
                &json!({ENTERPRISE: "x"}),
                json!([{"op": "add", "path": format!("{ENTERPRISE}:a"), "value": 1}])
            ),
            PatchError::InvalidPath(_)
        ));
    }

    #[test]
    fn split_by_path_expands_pathless_operations() {
        let ops = parse_patch(&body(json!([
            {"op": "replace", "value": {"active": false, "name.givenName": "Bo", ENTERPRISE: {"department": "X"}}},
            {"op": "add", "path": ECMA_USER, "value": {"Dept.Code": "D"}},
            {"op": "remove", "path": "title"},
            {"op": "add", "path": "title", "value": "T"}
        ])))
        .unwrap();
        let split: Vec<PatchOp> = ops
            .iter()
            .flat_map(|op| op.split_by_path().unwrap())
            .collect();
        let rendered: Vec<String> = split
            .iter()
            .map(|op| {
                format!(
                    "{} {} {}",
                    op.op,
                    op.path.as_ref().unwrap(),
                    op.value.clone().unwrap_or(Value::Null)
                )
            })
            .collect();
        assert_eq!(
            rendered,
            [
                "replace active false".to_string(),
                "replace name.givenName \"Bo\"".to_string(),
                format!("replace {ENTERPRISE}:department \"X\""),
                format!("add {ECMA_USER}:Dept.Code \"D\""),
                "remove title null".to_string(),
                "add title \"T\"".to_string(),
            ]
        );
        // Same result either way.
        let (mut a, mut b) = (user(), user());
        apply_patch(&mut a, &ops).unwrap();
        apply_patch(&mut b, &split).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn error_scim_types() {
        let cases = [
            (PatchError::InvalidSyntax(String::new()), "invalidSyntax"),
            (PatchError::InvalidPath(String::new()), "invalidPath"),
            (PatchError::NoTarget(String::new()), "noTarget"),
            (PatchError::InvalidValue(String::new()), "invalidValue"),
            (PatchError::Mutability("m".into()), "mutability"),
        ];
        for (e, t) in cases {
            assert_eq!(e.scim_type().as_str(), t);
        }
        assert_eq!(PatchError::Mutability("m".into()).message(), "m");
        assert_eq!(
            PatchOpKind::from_name(" REPLACE "),
            Some(PatchOpKind::Replace)
        );
        assert_eq!(PatchOpKind::from_name("patch"), None);
    }
}
