//! Export: add, modify (replace, or value-level add and delete), rename with modrdn, delete;
//! the entries of a batch run concurrently over the pool, each with its own result.

use std::collections::HashSet;
use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeModification, AttributeType, ConnectorError, CsEntryChange,
    ExportErrorKind, ExportRequest, ExportResult, ExportSession, ObjectModification, Value,
    ValueModification, NEW_DN_ATTRIBUTE,
};
use ldap3::{Ldap, Mod};

use crate::directory::{Directory, ObjectType};
use crate::dn::{escape_filter, same_dn, Dn};
use crate::entry::{self, to_bytes, RawEntry};
use crate::error::{check, rc, LdapFailure};
use crate::rootdse::read_entry;
use crate::runtime::Executor;
use crate::search::{self, Item, Paging};
use crate::settings::DN_ANCHOR;

type Values = Vec<(String, Vec<Vec<u8>>)>;

fn failure(
    entry: &CsEntryChange,
    kind: ExportErrorKind,
    message: impl Into<String>,
) -> ExportResult {
    ExportResult::failure(entry.identifier.clone(), kind, message)
}

fn from_ldap(entry: &CsEntryChange, dn: &str, f: &LdapFailure) -> ExportResult {
    failure(entry, f.export_kind(), f.export_message(dn))
}

/// Anchors the directory assigns (entryUUID, nsUniqueId, objectGUID): never written.
fn is_assigned(name: &str) -> bool {
    ["entryUUID", "nsUniqueId", "objectGUID"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
}

fn set(values: &[Vec<u8>]) -> HashSet<Vec<u8>> {
    values.iter().cloned().collect()
}

fn push_value(values: &mut Values, name: &str, value: Vec<u8>) {
    match values
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, v)) => {
            if !v.contains(&value) {
                v.push(value)
            }
        }
        None => values.push((name.to_string(), vec![value])),
    }
}

/// Reference attributes a class requires (a group's `member`): an empty one gets the empty
/// DN as a placeholder, which imports drop.
fn required_references(directory: &Directory, object_type: &ObjectType) -> Vec<String> {
    directory
        .discovery
        .subschema
        .required_attributes(&object_type.settings.object_class)
        .into_iter()
        .filter(|a| {
            object_type
                .schema()
                .attribute(a)
                .is_some_and(|s| s.attribute_type == AttributeType::Reference)
        })
        .collect()
}

pub(crate) struct LdapExportSession {
    executor: Arc<Executor>,
    directory: Arc<Directory>,
    partition: String,
}

impl LdapExportSession {
    pub(crate) fn new(
        executor: Arc<Executor>,
        directory: Directory,
        request: &ExportRequest,
    ) -> Self {
        Self {
            executor,
            directory: Arc::new(directory),
            partition: request.partition.clone(),
        }
    }
}

impl ExportSession for LdapExportSession {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        let directory = self.directory.clone();
        let partition = self.partition.clone();
        self.executor.block_on(async move {
            let work = batch
                .iter()
                .map(|entry| export_one(&directory, &partition, entry));
            futures_util::future::join_all(work).await
        })
    }
}

async fn export_one(directory: &Directory, partition: &str, entry: &CsEntryChange) -> ExportResult {
    let Some(object_type) = directory.object_type(&entry.object_type) else {
        return failure(
            entry,
            ExportErrorKind::ConnectedDirectoryError,
            format!(
                "object type `{}` is not configured (parameter `object_classes`)",
                entry.object_type
            ),
        );
    };
    let mut ldap = match directory.pool.get().await {
        Ok(l) => l,
        Err(e) => return failure(entry, ExportErrorKind::Busy, e.message),
    };
    let outcome = match entry.modification {
        ObjectModification::Add => add(directory, object_type, partition, &mut ldap, entry).await,
        ObjectModification::Update | ObjectModification::Replace => {
            update(directory, object_type, &mut ldap, entry).await
        }
        ObjectModification::Delete => delete(directory, object_type, &mut ldap, entry).await,
    };
    match outcome {
        Ok(anchor) => ExportResult {
            identifier: entry.identifier.clone(),
            error: None,
            anchor,
        },
        Err(result) => result,
    }
}

/// The DN of a new entry: the one the host sends when it is in a partition, else the type's
/// template.
fn new_dn(
    directory: &Directory,
    object_type: &ObjectType,
    partition: &str,
    entry: &CsEntryChange,
    values: &Values,
) -> Result<String, ExportResult> {
    let partitions = directory.partitions();
    let in_partition = Dn::parse(&entry.dn)
        .ok()
        .filter(|dn| !dn.rdns.is_empty())
        .is_some_and(|dn| {
            partitions
                .iter()
                .any(|p| Dn::parse(p).is_ok_and(|p| dn.is_within(&p)))
        });
    if in_partition {
        return Ok(entry.dn.clone());
    }
    let Some(template) = &object_type.settings.dn_template else {
        return Err(failure(
            entry,
            ExportErrorKind::InvalidDn,
            format!(
                "`{}` is not a DN in this directory's partitions ({}): map `-dn-` (the `<dn>` attribute) in the connector file and in Entra, or set parameter `{}:dn_template`",
                entry.dn,
                partitions.join("; "),
                object_type.settings.object_class
            ),
        ));
    };
    let partition = if partition.is_empty() {
        partitions.first().cloned().unwrap_or_default()
    } else {
        partition.to_string()
    };
    template
        .render(&partition, |name| {
            values
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first())
                .and_then(|b| String::from_utf8(b.clone()).ok())
                .map(Into::into)
        })
        .map_err(|e| {
            failure(
                entry,
                ExportErrorKind::MissingAnchorComponent,
                e.to_string(),
            )
        })
}

async fn add(
    directory: &Directory,
    object_type: &ObjectType,
    partition: &str,
    ldap: &mut Ldap,
    entry: &CsEntryChange,
) -> Result<Vec<AnchorAttribute>, ExportResult> {
    let mut values: Values = Vec::new();
    for change in entry.changes.iter().filter(|c| c.name != NEW_DN_ATTRIBUTE) {
        for v in change.added_values() {
            push_value(&mut values, &change.name, to_bytes(v));
        }
    }
    for anchor in &entry.anchor {
        if anchor.name != DN_ANCHOR && !is_assigned(&anchor.name) {
            push_value(&mut values, &anchor.name, to_bytes(&anchor.value));
        }
    }
    let dn = new_dn(directory, object_type, partition, entry, &values)?;
    let parsed =
        Dn::parse(&dn).map_err(|e| failure(entry, ExportErrorKind::InvalidDn, e.to_string()))?;
    // The RDN's values must be in the entry.
    for ava in parsed.rdns.first().into_iter().flatten() {
        push_value(&mut values, &ava.attribute, ava.value.as_bytes().to_vec());
    }
    if !values
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("objectClass"))
    {
        values.push((
            "objectClass".to_string(),
            object_type
                .shape
                .object_classes
                .iter()
                .map(|c| c.as_bytes().to_vec())
                .collect(),
        ));
    }
    for required in required_references(directory, object_type) {
        if !values
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(&required) && !v.is_empty())
        {
            values.push((required, vec![Vec::new()]));
        }
    }
    let attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = values
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n.as_bytes().to_vec(), set(v)))
        .collect();
    let timeout = directory.pool.settings().operation_timeout;
    let outcome = ldap.with_timeout(timeout).add(&dn, attrs).await;
    match check(&format!("add `{dn}`"), outcome, &[]) {
        Ok(_) => {}
        Err(f) if f.code() == Some(rc::NO_SUCH_OBJECT) => {
            let parent = parsed.parent().to_string();
            return Err(failure(
                entry,
                ExportErrorKind::InvalidDn,
                format!("{f}; the parent container `{parent}` does not exist: create it in the directory first (the connector never creates containers), or fix the DN"),
            ));
        }
        Err(f) => return Err(from_ldap(entry, &dn, &f)),
    }
    // Tell the host the anchor the directory assigned and the DN it used.
    let mut anchors = Vec::new();
    let anchor_name = object_type
        .schema()
        .anchor
        .first()
        .cloned()
        .unwrap_or_default();
    if is_assigned(&anchor_name) {
        let found = read_entry(ldap.with_timeout(timeout), &dn, vec![anchor_name.clone()])
            .await
            .map_err(|f| from_ldap(entry, &dn, &f))?;
        let value = found
            .map(RawEntry::new)
            .and_then(|raw| entry::anchor_value(&raw, object_type.schema()))
            .ok_or_else(|| {
                failure(
                    entry,
                    ExportErrorKind::ConnectedDirectoryError,
                    format!("`{dn}` was added, but the directory shows no `{anchor_name}` for it"),
                )
            })?;
        anchors.push(value);
    }
    if !same_dn(&dn, &entry.dn) || anchor_name == DN_ANCHOR {
        anchors.push(AnchorAttribute {
            name: NEW_DN_ATTRIBUTE.to_string(),
            value: Value::String(dn.clone()),
        });
    }
    Ok(anchors)
}

/// The entry's DN now: the host's, or, if the directory no longer has it there (renamed
/// outside the host), where its assigned anchor is found.
async fn locate(
    directory: &Directory,
    object_type: &ObjectType,
    ldap: &mut Ldap,
    entry: &CsEntryChange,
) -> Result<String, ExportResult> {
    let timeout = directory.pool.settings().operation_timeout;
    let exists = read_entry(ldap.with_timeout(timeout), &entry.dn, vec!["1.1".into()])
        .await
        .map_err(|f| from_ldap(entry, &entry.dn, &f))?;
    if exists.is_some() {
        return Ok(entry.dn.clone());
    }
    let anchor = object_type
        .schema()
        .anchor
        .first()
        .cloned()
        .unwrap_or_default();
    let value = entry
        .anchor_value(&anchor)
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (true, Some(value)) = (
        is_assigned(&anchor) && !anchor.eq_ignore_ascii_case("objectGUID"),
        value,
    ) {
        let filter = format!("({anchor}={})", escape_filter(&value));
        for base in directory.partitions() {
            let mut found = None;
            let _ = search::run(
                ldap,
                &base,
                &filter,
                &["1.1".to_string()],
                Paging::None,
                Vec::new(),
                |item| {
                    if let Item::Entry(raw, _) = item {
                        found = Some(raw.dn);
                    }
                    async { true }
                },
            )
            .await;
            if let Some(dn) = found {
                return Ok(dn);
            }
        }
    }
    Err(failure(
        entry,
        ExportErrorKind::NoSuchObject,
        format!("`{}` is not in the directory", entry.dn),
    ))
}

/// The new RDN when the change replaces the value the current RDN is made of.
fn rdn_change(current: &Dn, entry: &CsEntryChange) -> Option<String> {
    let ava = current.rdns.first()?.first()?;
    let change = entry
        .changes
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(&ava.attribute))?;
    let still_there = |values: &mut dyn Iterator<Item = &Value>| {
        values
            .filter_map(Value::as_str)
            .any(|v| v.eq_ignore_ascii_case(&ava.value))
    };
    let new_value = match change.modification {
        AttributeModification::Replace | AttributeModification::Add => {
            if still_there(&mut change.added_values()) {
                return None;
            }
            change.added_values().next()?.as_str()?.to_string()
        }
        AttributeModification::Update => {
            let deleted = change.values.iter().any(|v| {
                v.modification == ValueModification::Delete
                    && v.value
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(&ava.value))
            });
            if !deleted {
                return None;
            }
            change
                .values
                .iter()
                .find(|v| v.modification == ValueModification::Add)?
                .value
                .as_str()?
                .to_string()
        }
        AttributeModification::Delete => return None,
    };
    Some(format!(
        "{}={}",
        ava.attribute,
        crate::dn::escape_value(&new_value)
    ))
}

async fn update(
    directory: &Directory,
    object_type: &ObjectType,
    ldap: &mut Ldap,
    entry: &CsEntryChange,
) -> Result<Vec<AnchorAttribute>, ExportResult> {
    let timeout = directory.pool.settings().operation_timeout;
    let mut dn = locate(directory, object_type, ldap, entry).await?;
    let current =
        Dn::parse(&dn).map_err(|e| failure(entry, ExportErrorKind::InvalidDn, e.to_string()))?;
    let mut renamed_to = None;
    // A rename: a new DN from the host, or a new value of the RDN's attribute.
    let target = match entry.new_dn() {
        Some(new) => Some(
            Dn::parse(new)
                .map_err(|e| failure(entry, ExportErrorKind::InvalidDn, e.to_string()))?,
        ),
        None => rdn_change(&current, entry).map(|rdn| {
            let mut text = rdn;
            let parent = current.parent().to_string();
            if !parent.is_empty() {
                text = format!("{text},{parent}");
            }
            Dn::parse(&text).unwrap_or_else(|_| current.clone())
        }),
    };
    if let Some(target) = target.filter(|t| t.normalized() != current.normalized()) {
        let new_rdn = target.rdn();
        let new_parent = target.parent();
        let superior = (new_parent.normalized() != current.parent().normalized())
            .then(|| new_parent.to_string());
        let outcome = ldap
            .with_timeout(timeout)
            .modifydn(&dn, &new_rdn, true, superior.as_deref())
            .await;
        if let Err(f) = check(&format!("rename `{dn}` to `{target}`"), outcome, &[]) {
            let mut result = from_ldap(entry, &dn, &f);
            if f.code() == Some(rc::NO_SUCH_OBJECT) && superior.is_some() {
                if let Some(e) = result.error.as_mut() {
                    e.kind = ExportErrorKind::InvalidDn;
                    e.message = format!("{}; the new parent container `{new_parent}` may not exist: create it first", e.message);
                }
            }
            return Err(result);
        }
        dn = target.to_string();
        renamed_to = Some(dn.clone());
    }
    let anchor_name = object_type
        .schema()
        .anchor
        .first()
        .cloned()
        .unwrap_or_default();
    let mut mods: Vec<Mod<Vec<u8>>> = Vec::new();
    let mut touched_references = Vec::new();
    for change in &entry.changes {
        if change.name == NEW_DN_ATTRIBUTE
            || is_assigned(&change.name)
            || (change.name == anchor_name && anchor_name == DN_ANCHOR)
        {
            continue;
        }
        let name = change.name.as_bytes().to_vec();
        let values: Vec<Vec<u8>> = change.added_values().map(to_bytes).collect();
        match change.modification {
            AttributeModification::Add if values.is_empty() => {}
            AttributeModification::Add | AttributeModification::Replace => {
                mods.push(Mod::Replace(name, set(&values)))
            }
            AttributeModification::Delete => mods.push(Mod::Replace(name, HashSet::new())),
            AttributeModification::Update => {
                let adds: Vec<Vec<u8>> = change
                    .values
                    .iter()
                    .filter(|v| v.modification == ValueModification::Add)
                    .map(|v| to_bytes(&v.value))
                    .collect();
                let deletes: Vec<Vec<u8>> = change
                    .values
                    .iter()
                    .filter(|v| v.modification == ValueModification::Delete)
                    .map(|v| to_bytes(&v.value))
                    .collect();
                if !adds.is_empty() {
                    mods.push(Mod::Add(name.clone(), set(&adds)));
                }
                if !deletes.is_empty() {
                    mods.push(Mod::Delete(name, set(&deletes)));
                }
            }
        }
        touched_references.push(change.name.clone());
    }
    if !mods.is_empty() {
        let operation = format!("modify `{dn}`");
        let outcome = ldap.with_timeout(timeout).modify(&dn, mods.clone()).await;
        match check(&operation, outcome, &[]) {
            Ok(_) => {}
            // The last member of a group that must have one: keep the empty DN placeholder.
            Err(f) if f.code() == Some(rc::OBJECT_CLASS_VIOLATION) => {
                let required: Vec<String> = required_references(directory, object_type)
                    .into_iter()
                    .filter(|r| touched_references.iter().any(|t| t.eq_ignore_ascii_case(r)))
                    .collect();
                if required.is_empty() {
                    return Err(from_ldap(entry, &dn, &f));
                }
                for r in required {
                    mods.push(Mod::Add(r.into_bytes(), [Vec::new()].into_iter().collect()));
                }
                let retry = ldap.with_timeout(timeout).modify(&dn, mods).await;
                check(&operation, retry, &[]).map_err(|f| from_ldap(entry, &dn, &f))?;
            }
            Err(f) => return Err(from_ldap(entry, &dn, &f)),
        }
    }
    Ok(renamed_to
        .into_iter()
        .map(|dn| AnchorAttribute {
            name: NEW_DN_ATTRIBUTE.to_string(),
            value: Value::String(dn),
        })
        .collect())
}

async fn delete(
    directory: &Directory,
    object_type: &ObjectType,
    ldap: &mut Ldap,
    entry: &CsEntryChange,
) -> Result<Vec<AnchorAttribute>, ExportResult> {
    let dn = locate(directory, object_type, ldap, entry).await?;
    let timeout = directory.pool.settings().operation_timeout;
    let outcome = ldap.with_timeout(timeout).delete(&dn).await;
    match check(&format!("delete `{dn}`"), outcome, &[]) {
        Ok(_) => Ok(Vec::new()),
        Err(f) if f.code() == Some(rc::NOT_ALLOWED_ON_NON_LEAF) => Err(failure(
            entry,
            ExportErrorKind::SyntaxViolation,
            format!("{f}; `{dn}` has entries below it, and the connector deletes only leaves: move or delete them first"),
        )),
        Err(f) => Err(from_ldap(entry, &dn, &f)),
    }
}
