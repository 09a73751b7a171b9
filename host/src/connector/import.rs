//! Import: read the target page by page and hand each entry to the caller, which decides what
//! the connector space does with it (fill it at start-up, reconcile it on autosync, apply a
//! delta).
//!
//! One run reads one partition (`ImportRequest.partition`; empty for the connector's default);
//! entries outside the partition's selected containers are dropped before the caller sees them.
//! Progress is logged at most every two seconds and when the import ends, and is visible to
//! callers through [`ImportProgress`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use ecma_plugin_api::{
    AttributeModification, CsEntryChange, ImportKind, ImportRequest, ObjectModification,
    ParameterValues, PluginConnector, Schema, Value, ValueModification,
};

use super::calls::{CallError, PluginCalls};
use super::mapping::ResourceMapping;
use super::partitions::Scope;
use crate::space::{ConnectorSpace, CsObject};

/// The running import's progress, for the log, `/status` and `ecmahost status`.
#[derive(Default)]
pub struct ImportProgress {
    /// Objects read so far by the running import (or the last one, once it ended).
    pub objects: AtomicU64,
    running: Mutex<Option<RunningImport>>,
    /// Objects the last finished run of each (kind, partition) read: the expected total of
    /// the next one, since the plugin API does not report a total.
    last_totals: Mutex<HashMap<(&'static str, String), u64>>,
    last_finished: Mutex<Option<FinishedImport>>,
}

/// The last import run that ended, as `/status` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FinishedImport {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    pub finished_at: String,
    pub objects: u64,
    pub seconds: f64,
    /// Why it failed; absent when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
struct RunningImport {
    kind: &'static str,
    partition: String,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    expected: Option<u64>,
}

/// A snapshot of the running import, as `/status` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportStatus {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    pub objects: u64,
    /// Objects the previous run of this import read, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<u64>,
    pub objects_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<u64>,
    pub started_at: String,
}

impl ImportProgress {
    /// The running import, if any.
    pub fn current(&self) -> Option<ImportStatus> {
        let running = self.running.lock().clone()?;
        let objects = self.objects.load(Ordering::Relaxed);
        let (rate, left) = rate_and_left(objects, running.expected, running.started.elapsed());
        Some(ImportStatus {
            kind: running.kind,
            partition: running.partition,
            objects,
            expected_total: running.expected,
            objects_per_second: (rate * 10.0).round() / 10.0,
            seconds_left: left.map(|d| d.as_secs()),
            started_at: running
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    fn begin(&self, kind: &'static str, partition: &str) -> Option<u64> {
        let expected = self
            .last_totals
            .lock()
            .get(&(kind, partition.to_string()))
            .copied()
            .filter(|n| *n > 0);
        self.objects.store(0, Ordering::Relaxed);
        *self.running.lock() = Some(RunningImport {
            kind,
            partition: partition.to_string(),
            started: Instant::now(),
            started_at: chrono::Utc::now(),
            expected,
        });
        expected
    }

    /// The last import run that ended.
    pub fn last_finished(&self) -> Option<FinishedImport> {
        self.last_finished.lock().clone()
    }

    fn end(
        &self,
        kind: &'static str,
        partition: &str,
        outcome: Result<u64, String>,
        took: Duration,
    ) {
        *self.running.lock() = None;
        *self.last_finished.lock() = Some(FinishedImport {
            kind,
            partition: partition.to_string(),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            objects: self.objects.load(Ordering::Relaxed),
            seconds: (took.as_secs_f64() * 100.0).round() / 100.0,
            error: outcome.as_ref().err().cloned(),
        });
        if let Ok(total) = outcome {
            self.last_totals
                .lock()
                .insert((kind, partition.to_string()), total);
        }
    }
}

/// Objects per second so far and, with an expected total, the time left.
fn rate_and_left(
    objects: u64,
    expected: Option<u64>,
    elapsed: Duration,
) -> (f64, Option<Duration>) {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        objects as f64 / seconds
    } else {
        0.0
    };
    let left = expected
        .filter(|_| rate > 0.0)
        .map(|e| Duration::from_secs_f64(e.saturating_sub(objects) as f64 / rate));
    (rate, left)
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
    pub metrics: &'a crate::metrics::ConnectorMetrics,
}

/// Run an import, calling `on_entry` for every entry (the caller routes it by object type).
/// Returns the number of entries and the new watermark. Progress is logged at most every two
/// seconds: objects so far, the rate, and (when an earlier run gives a total) the time left.
pub async fn run_import(
    job: ImportJob<'_>,
    on_entry: impl FnMut(&CsEntryChange),
) -> Result<(u64, String), CallError> {
    let started = Instant::now();
    let kind_name = match job.kind {
        ImportKind::Full => "full",
        ImportKind::Delta => "delta",
    };
    let expected = job.progress.begin(kind_name, &job.partition);
    let result = read_pages(&job, kind_name, expected, on_entry).await;
    let took = started.elapsed();
    let outcome = match &result {
        Ok((n, _)) => Ok(*n),
        Err(e) => Err(e.to_string()),
    };
    job.progress.end(kind_name, &job.partition, outcome, took);
    let objects = job.progress.objects.load(Ordering::Relaxed);
    job.metrics.import(kind_name, result.is_ok(), objects, took);
    if result.is_ok() {
        let (rate, _) = rate_and_left(objects, None, took);
        tracing::info!(
            connector = job.connector,
            kind = kind_name,
            partition = %job.partition,
            objects,
            seconds = format!("{:.2}", took.as_secs_f64()),
            per_second = format!("{rate:.0}"),
            "import finished"
        );
    }
    result
}

async fn read_pages(
    job: &ImportJob<'_>,
    kind_name: &'static str,
    expected: Option<u64>,
    mut on_entry: impl FnMut(&CsEntryChange),
) -> Result<(u64, String), CallError> {
    let started = Instant::now();
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
            let (rate, left) = rate_and_left(total, expected, started.elapsed());
            tracing::info!(
                connector = job.connector,
                kind = kind_name,
                partition = %job.partition,
                objects = total,
                per_second = format!("{rate:.0}"),
                expected_total = expected,
                seconds_left = left.map(|d| d.as_secs()),
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
    Ok((total, watermark))
}

/// The anchor of an imported entry, as the connector space keys it (the id).
pub fn entry_anchor(mapping: &ResourceMapping, entry: &CsEntryChange) -> Option<String> {
    mapping.id_of_entry(entry)
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
    for part in mapping.anchor_parts() {
        if !attributes.iter().any(|(n, _)| n == part) {
            if let Some(value) = entry.anchor_value(part) {
                attributes.push((part.clone(), vec![value.clone()]));
            }
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
                // A delta that repeats what the space holds changes nothing.
                Some(object) if space.get(&anchor).as_deref() == Some(&object) => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_time_left_from_the_last_runs_total() {
        let (rate, left) = rate_and_left(1_000, Some(5_000), Duration::from_secs(2));
        assert_eq!(rate, 500.0);
        assert_eq!(left, Some(Duration::from_secs(8)));
        assert_eq!(rate_and_left(1_000, None, Duration::from_secs(2)).1, None);
        assert_eq!(rate_and_left(0, Some(10), Duration::ZERO), (0.0, None));

        let progress = ImportProgress::default();
        assert_eq!(progress.begin("full", ""), None, "no earlier run, no total");
        progress.objects.store(42, Ordering::Relaxed);
        assert_eq!(progress.current().unwrap().objects, 42);
        progress.end("full", "", Ok(42), Duration::from_millis(10));
        assert!(progress.current().is_none());
        assert_eq!(progress.last_finished().unwrap().objects, 42);
        assert_eq!(progress.begin("full", ""), Some(42));
        assert_eq!(progress.current().unwrap().expected_total, Some(42));
    }
}
