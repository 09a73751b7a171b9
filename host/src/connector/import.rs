//! Import: read the target page by page and hand each entry to the caller, which decides what
//! the connector space does with it (fill it at start-up, reconcile it on autosync, apply a
//! delta).
//!
//! One run reads one partition (`ImportRequest.partition`; empty for the connector's default);
//! entries outside the partition's selected containers are dropped before the caller sees them.
//! Progress is logged at most every two seconds and when the import ends, and is visible to
//! callers through [`ImportProgress`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ecma_plugin_api::{
    AttributeModification, CsEntryChange, ImportKind, ImportRequest, ObjectModification,
    ParameterValues, PluginConnector, Schema, Value, ValueModification,
};

use super::calls::{CallError, PluginCalls};
use super::mapping::ResourceMapping;
use super::partitions::Scope;
use crate::space::{ConnectorSpace, CsObject};

/// Objects read so far by the running import.
#[derive(Default)]
pub struct ImportProgress {
    pub objects: AtomicU64,
}

pub struct ImportJob<'a> {
    pub connector: &'a str,
    pub plugin: Arc<PluginConnector>,
    pub calls: &'a PluginCalls,
    pub parameters: Arc<ParameterValues>,
    pub schema: Arc<Schema>,
    pub kind: ImportKind,
    pub watermark: String,
    pub page_size: u32,
    pub progress: &'a ImportProgress,
    /// The partition's DN; empty for the default partition.
    pub partition: String,
    /// Which entries of the partition are in scope (its selected containers).
    pub scope: &'a Scope,
}

/// Run an import, calling `on_entry` for every entry (the caller routes it by object type).
/// Returns the number of entries and the new watermark.
pub async fn run_import(
    job: ImportJob<'_>,
    mut on_entry: impl FnMut(&CsEntryChange),
) -> Result<(u64, String), CallError> {
    let started = Instant::now();
    let kind_name = match job.kind {
        ImportKind::Full => "full",
        ImportKind::Delta => "delta",
    };
    let request = ImportRequest {
        kind: job.kind,
        page_size: job.page_size,
        watermark: job.watermark.clone(),
        partition: job.partition.clone(),
    };
    let (plugin, parameters, schema) = (
        job.plugin.clone(),
        job.parameters.clone(),
        job.schema.clone(),
    );
    let mut session = job
        .calls
        .run("open_import", move || {
            plugin.open_import(&parameters, &schema, &request)
        })
        .await?;
    job.progress.objects.store(0, Ordering::Relaxed);
    let mut total = 0u64;
    let mut last_log = Instant::now();
    loop {
        let (s, page) = job
            .calls
            .run("get_import_entries", move || {
                let page = session.next_page()?;
                Ok((session, page))
            })
            .await?;
        session = s;
        for entry in &page.entries {
            if job.scope.keeps(&job.partition, &entry.dn) {
                on_entry(entry);
                total += 1;
            }
        }
        job.progress.objects.store(total, Ordering::Relaxed);
        if last_log.elapsed() >= Duration::from_secs(2) {
            tracing::info!(
                connector = job.connector,
                kind = kind_name,
                partition = %job.partition,
                objects = total,
                "import in progress"
            );
            last_log = Instant::now();
        }
        if !page.more {
            break;
        }
    }
    let watermark = job
        .calls
        .run("close_import", move || session.close())
        .await?;
    tracing::info!(
        connector = job.connector,
        kind = kind_name,
        partition = %job.partition,
        objects = total,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "import finished"
    );
    Ok((total, watermark))
}

/// The anchor of an imported entry, as the connector space keys it.
pub fn entry_anchor(mapping: &ResourceMapping, entry: &CsEntryChange) -> Option<String> {
    let anchor = entry.anchor_value(mapping.anchor()).or_else(|| {
        entry
            .change(mapping.anchor())
            .and_then(|c| c.added_values().next())
    })?;
    Some(ResourceMapping::anchor_string(anchor))
}

/// A full entry (Add or Replace) as a connector-space object.
pub fn to_object(
    space: &ConnectorSpace,
    mapping: &ResourceMapping,
    entry: &CsEntryChange,
) -> Option<CsObject> {
    let anchor = entry_anchor(mapping, entry)?;
    let mut attributes: Vec<(String, Vec<Value>)> = entry
        .changes
        .iter()
        .map(|c| (c.name.clone(), c.added_values().cloned().collect()))
        .collect();
    if !attributes.iter().any(|(n, _)| n == mapping.anchor()) {
        if let Some(value) = entry.anchor_value(mapping.anchor()) {
            attributes.push((mapping.anchor().to_string(), vec![value.clone()]));
        }
    }
    // The host owns DNs (autogenerated or mapped), so import and export agree on them; with the
    // `-dn-` virtual attribute the target's DN is the truth.
    let dn = match mapping.dn_is_virtual() && !entry.dn.is_empty() {
        true => entry.dn.clone(),
        false => mapping.dn_for(&anchor, &attributes.iter().cloned().collect()),
    };
    attributes.retain(|(name, _)| mapping.keeps(name));
    Some(space.object(anchor, dn, attributes))
}

/// Apply one delta entry to the connector space. Returns whether it changed anything.
pub fn apply_delta(
    space: &ConnectorSpace,
    mapping: &ResourceMapping,
    entry: &CsEntryChange,
) -> bool {
    let Some(anchor) = entry_anchor(mapping, entry) else {
        return false;
    };
    match entry.modification {
        ObjectModification::Add | ObjectModification::Replace => {
            match to_object(space, mapping, entry) {
                Some(object) => {
                    space.upsert(object);
                    true
                }
                None => false,
            }
        }
        ObjectModification::Delete => space.remove(&anchor).is_some(),
        ObjectModification::Update => {
            let Some(current) = space.get(&anchor) else {
                // An update for an object the space never saw: take what the entry carries.
                return to_object(space, mapping, entry)
                    .map(|o| space.upsert(o))
                    .is_some();
            };
            let mut attributes = current.attribute_map();
            for change in entry.changes.iter().filter(|c| mapping.keeps(&c.name)) {
                match change.modification {
                    AttributeModification::Delete => {
                        attributes.remove(&change.name);
                    }
                    AttributeModification::Add | AttributeModification::Replace => {
                        attributes.insert(
                            change.name.clone(),
                            change.added_values().cloned().collect(),
                        );
                    }
                    AttributeModification::Update => {
                        let values = attributes.entry(change.name.clone()).or_default();
                        for v in &change.values {
                            match v.modification {
                                ValueModification::Add if !values.contains(&v.value) => {
                                    values.push(v.value.clone())
                                }
                                ValueModification::Delete => values.retain(|x| x != &v.value),
                                _ => {}
                            }
                        }
                    }
                }
            }
            space.upsert(space.object(current.anchor.clone(), current.dn.clone(), attributes));
            true
        }
    }
}
