//! The connector runtime: one configured connector, alive. It owns the loaded plugin, the
//! mapping, the connector space, the export engine and the import, and applies the
//! deprovisioning rules.
//!
//! Handlers call [`ConnectorRuntime`] with SCIM resources and PATCH operations; it answers with
//! objects or a [`RuntimeError`]. Architecture invariants:
//! - the connector space changes only after the target confirmed the change;
//! - changes to one object are serialised (per-anchor lock); different objects export
//!   concurrently and coalesce into batches;
//! - every plugin call goes through [`calls::PluginCalls`] (blocking pool, time-out, bound).

pub mod calls;
pub mod export;
pub mod import;
pub mod mapping;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, Capabilities, ConnectorError,
    CsEntryChange, ExportErrorKind, ExportRequest, ExportType, ImportKind, ObjectModification,
    ParameterValues, PasswordOptions, PasswordTarget, PluginConnector, Schema, Secret, Value,
};
use ecma_scim::{apply_patch, Filter, FilterError, PatchError, PatchOp};
use parking_lot::RwLock;
use serde_json::Value as Json;

use self::calls::{CallError, PluginCalls};
use self::export::{ExportContext, ExportEngine};
use self::import::{apply_delta, entry_anchor, run_import, to_object, ImportJob, ImportProgress};
use self::mapping::{get_ci, Attributes, MappingBuildError, MappingError, ResourceMapping};
use crate::config::{ConnectorConfig, DeleteFlow, DisableFlow};
use crate::plugins::{load_for_connector, LoadedLibrary, PluginError};
use crate::space::{ConnectorSpace, CsObject};

/// Why a connector could not be built. The host logs it, reports the connector unavailable,
/// and keeps serving the others.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("connector library call failed: {0}")]
    Call(#[from] CallError),
    #[error("{file}: the connector rejected parameter answers: {issues}")]
    Parameters { file: String, issues: String },
    #[error(transparent)]
    Mapping(#[from] MappingBuildError),
}

/// Why a SCIM operation on a connector failed. `scim::error` maps each variant to a response.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the host is importing from the target system; retry shortly")]
    Importing,
    #[error("connector '{connector}' is not available: {reason}")]
    Unavailable { connector: String, reason: String },
    #[error("resource {id} not found")]
    NotFound { id: String },
    #[error("an object with userName '{id}' already exists")]
    AlreadyExists { id: String },
    #[error("resource {id} has changed since the version given in If-Match")]
    VersionMismatch { id: String },
    #[error("{0}")]
    Mapping(#[from] MappingError),
    #[error("{0}")]
    Filter(#[from] FilterError),
    #[error("{0}")]
    Patch(#[from] PatchError),
    #[error("the target system refused the change ({kind:?}): {message}")]
    Export {
        kind: ExportErrorKind,
        message: String,
    },
    #[error("{0}")]
    Call(#[from] CallError),
    #[error("setting the password failed: {0}")]
    Password(Box<CallError>),
}

/// Whether a connector can answer requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// The first full import is running.
    Importing,
    Ready,
    /// The first full import failed; it is retried.
    ImportFailed(String),
}

/// What a list or search asks for (projection is the front end's business).
#[derive(Debug)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub sort_by: Option<ecma_scim::AttrPath>,
    pub descending: bool,
}

/// The result of a PATCH or PUT.
pub enum PatchOutcome {
    Updated(Arc<CsObject>),
    /// The disable flow deleted the object.
    Deleted,
}

/// Serialises work on one object at a time; entries vanish when nobody holds or waits.
#[derive(Default)]
struct ObjectLocks {
    locks: parking_lot::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct ObjectGuard<'a> {
    owner: &'a ObjectLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl ObjectLocks {
    async fn lock(&self, anchor: &str) -> ObjectGuard<'_> {
        let key = anchor.to_lowercase();
        let lock = self.locks.lock().entry(key.clone()).or_default().clone();
        let guard = lock.lock_owned().await;
        ObjectGuard {
            owner: self,
            key,
            guard: Some(guard),
        }
    }
}

impl Drop for ObjectGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = self.owner.locks.lock();
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

pub struct ConnectorRuntime {
    config: ConnectorConfig,
    library: LoadedLibrary,
    plugin: Arc<PluginConnector>,
    parameters: Arc<ParameterValues>,
    schema: Arc<Schema>,
    capabilities: Capabilities,
    mapping: ResourceMapping,
    calls: PluginCalls,
    export: ExportEngine,
    shared: Arc<ConnectorState>,
    /// `data_dir/{connector}`: where the delta watermark is kept.
    state_dir: std::path::PathBuf,
}

/// What outlives one version of a connector's library: the connector space, the per-object
/// locks and the import state. A reload that keeps the object type, anchor and query attribute
/// hands it to the new version, so the swap needs no new import and changes to one object stay
/// serialised across the two versions.
pub struct ConnectorState {
    /// `(object type, anchor, query attribute)`: the shape the connector space is built for.
    shape: (String, String, String),
    space: ConnectorSpace,
    locks: ObjectLocks,
    availability: RwLock<Availability>,
    progress: ImportProgress,
    /// While an autosync runs: anchors that SCIM requests changed since it started. The sync
    /// neither overwrites nor removes them (the target may have been read before the change).
    sync_dirty: parking_lot::Mutex<Option<std::collections::HashSet<String>>>,
    /// The last delta watermark, also kept in `data_dir/{connector}/watermark`.
    watermark: parking_lot::Mutex<String>,
    /// One sync at a time.
    syncing: tokio::sync::Mutex<()>,
}

impl ConnectorState {
    fn new(config: &ConnectorConfig) -> Self {
        Self {
            shape: (
                config.object_type.clone(),
                config.anchor.clone(),
                config.query_attribute.clone(),
            ),
            space: ConnectorSpace::new(config.query_attribute.clone()),
            locks: ObjectLocks::default(),
            availability: RwLock::new(if config.run_profiles.full_import {
                Availability::Importing
            } else {
                Availability::Ready
            }),
            progress: ImportProgress::default(),
            sync_dirty: parking_lot::Mutex::new(None),
            watermark: parking_lot::Mutex::new(String::new()),
            syncing: tokio::sync::Mutex::new(()),
        }
    }

    /// Record that a SCIM request changed `anchor`, for a sync in progress.
    fn mark_dirty(&self, anchor: &str) {
        if let Some(dirty) = self.sync_dirty.lock().as_mut() {
            dirty.insert(anchor.to_string());
        }
    }
}

/// What one autosync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub kind: &'static str,
    pub entries: u64,
    /// Objects added or changed in the connector space.
    pub upserted: u64,
    /// Objects removed from the connector space.
    pub removed: u64,
}

impl ConnectorRuntime {
    /// Load the library, check the parameter answers page by page, discover capabilities and
    /// schema, and check the mapping against it. Does not import; see [`Self::start_import`].
    ///
    /// With `previous` (a reload), the new version takes over the previous version's connector
    /// space when the object type, anchor and query attribute are unchanged.
    pub async fn build(
        config: ConnectorConfig,
        ecma_dir: &Path,
        data_dir: &Path,
        previous: Option<&ConnectorRuntime>,
    ) -> Result<Arc<Self>, BuildError> {
        let (dir, name, file) = (
            ecma_dir.to_path_buf(),
            config.name.clone(),
            config.plugin.clone(),
        );
        let library = tokio::task::spawn_blocking(move || load_for_connector(&dir, &name, &file))
            .await
            .map_err(|_| CallError::HostPanic {
                call: "load_library",
            })??;
        let calls = PluginCalls::new(config.max_concurrent_calls as usize, config.call_timeout);
        let lib = library.library.clone();
        let plugin = Arc::new(
            calls
                .run("new_connector", move || lib.new_connector())
                .await?,
        );
        let parameters = Arc::new(config.parameters.clone());

        let mut problems = Vec::new();
        for page in config.parameter_pages.keys() {
            let (p, v, page) = (plugin.clone(), parameters.clone(), *page);
            for issue in calls
                .run("validate_page", move || p.validate_page(page, &v))
                .await?
            {
                problems.push(format!(
                    "parameters.{}.{}: {}",
                    page.key(),
                    issue.parameter,
                    issue.message
                ));
            }
        }
        if !problems.is_empty() {
            return Err(BuildError::Parameters {
                file: config.file.display().to_string(),
                issues: problems.join("; "),
            });
        }
        let (p, v) = (plugin.clone(), parameters.clone());
        let capabilities = calls
            .run("capabilities", move || p.capabilities(&v))
            .await?;
        let (p, v) = (plugin.clone(), parameters.clone());
        let full_schema = calls.run("schema", move || p.schema(&v)).await?;
        let mapping = ResourceMapping::build(&config, &full_schema)?;
        // Only the configured object type is exported and imported.
        let schema = Arc::new(Schema {
            object_types: full_schema
                .object_types
                .into_iter()
                .filter(|t| t.name == mapping.object_type())
                .collect(),
        });
        let export_type = capabilities.export_type;
        let export = ExportEngine::start(
            ExportContext {
                connector: config.name.clone(),
                plugin: plugin.clone(),
                calls: calls.clone(),
                parameters: parameters.clone(),
                schema: schema.clone(),
                request: ExportRequest {
                    export_type,
                    batch_size: config.export_page_size,
                    partition: String::new(),
                },
            },
            if capabilities.concurrent_operations {
                2
            } else {
                1
            },
        );
        let config_name = config.name.clone();
        let shape = (
            config.object_type.clone(),
            config.anchor.clone(),
            config.query_attribute.clone(),
        );
        let shared = match previous {
            Some(p) if p.shared.shape == shape => p.shared.clone(),
            _ => Arc::new(ConnectorState::new(&config)),
        };
        Ok(Arc::new(Self {
            config,
            library,
            plugin,
            parameters,
            schema,
            capabilities,
            mapping,
            calls,
            export,
            state_dir: data_dir.join(&config_name),
            shared,
        }))
    }

    /// Run the first full import in the background (if the run profiles include one),
    /// retrying with back-off until it succeeds.
    pub fn start_import(self: &Arc<Self>) {
        let needs_import = self.needs_initial_import();
        // A weak reference: a version replaced by a reload stops retrying and stops syncing.
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut delay = Duration::from_secs(1);
            // Retry the initial import until it succeeds (or this version is replaced).
            if needs_import {
                loop {
                    let Some(runtime) = weak.upgrade() else {
                        return;
                    };
                    let Err(e) = runtime.import_once().await else {
                        break;
                    };
                    tracing::error!(connector = %runtime.config.name, error = %e, retry_in_s = delay.as_secs(), "full import failed");
                    *runtime.shared.availability.write() =
                        Availability::ImportFailed(e.to_string());
                    drop(runtime);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
            }
            autosync(weak).await;
        });
    }

    /// Whether this version starts with an empty connector space that a full import must fill.
    pub fn needs_initial_import(&self) -> bool {
        self.config.run_profiles.full_import
            && *self.shared.availability.read() != Availability::Ready
    }

    /// Run the full import now, once (a reload does this before it swaps the new version in).
    pub async fn import_now(&self) -> Result<(), CallError> {
        self.import_once().await
    }

    async fn import_once(&self) -> Result<(), CallError> {
        tracing::info!(connector = %self.config.name, "full import started");
        let space = &self.shared.space;
        let (_, watermark) =
            run_import(self.import_job(ImportKind::Full, String::new()), |entry| {
                if let Some(object) = to_object(space, &self.mapping, entry) {
                    space.upsert(object);
                }
            })
            .await?;
        self.save_watermark(watermark);
        *self.shared.availability.write() = Availability::Ready;
        Ok(())
    }

    fn import_job(&self, kind: ImportKind, watermark: String) -> ImportJob<'_> {
        ImportJob {
            connector: &self.config.name,
            plugin: self.plugin.clone(),
            calls: &self.calls,
            parameters: self.parameters.clone(),
            schema: self.schema.clone(),
            object_type: self.mapping.object_type(),
            kind,
            watermark,
            page_size: self.config.export_page_size.max(500),
            progress: &self.shared.progress,
        }
    }

    fn watermark_file(&self) -> std::path::PathBuf {
        self.state_dir.join("watermark")
    }

    /// The delta watermark: in memory, else the one saved by an earlier run.
    fn watermark(&self) -> String {
        let current = self.shared.watermark.lock().clone();
        if !current.is_empty() {
            return current;
        }
        std::fs::read_to_string(self.watermark_file())
            .map(|w| w.trim_end().to_string())
            .unwrap_or_default()
    }

    fn save_watermark(&self, watermark: String) {
        if watermark.is_empty() {
            return;
        }
        let file = self.watermark_file();
        if let Err(e) = crate::tls::write_file(&file, watermark.as_bytes(), 0o600) {
            tracing::warn!(connector = %self.config.name, error = %e, "cannot save the delta watermark");
        }
        *self.shared.watermark.lock() = watermark;
    }

    /// One autosync now: a delta import when the run profiles and the connector allow it and a
    /// watermark exists, otherwise a full import that reconciles the connector space with the
    /// target (added, changed and removed objects). SCIM traffic is served throughout.
    pub async fn sync_now(&self) -> Result<SyncReport, CallError> {
        let _one = self.shared.syncing.lock().await;
        let watermark = self.watermark();
        let delta = self.config.run_profiles.delta_import
            && self.capabilities.delta_import
            && !watermark.is_empty();
        let space = &self.shared.space;
        let mut report = SyncReport::default();
        if delta {
            report.kind = "delta";
            let (entries, watermark) =
                run_import(self.import_job(ImportKind::Delta, watermark), |entry| {
                    if apply_delta(space, &self.mapping, entry) {
                        report.upserted +=
                            u64::from(entry.modification != ObjectModification::Delete);
                        report.removed +=
                            u64::from(entry.modification == ObjectModification::Delete);
                    }
                })
                .await?;
            report.entries = entries;
            self.save_watermark(watermark);
        } else if self.config.run_profiles.full_import {
            report.kind = "full";
            *self.shared.sync_dirty.lock() = Some(std::collections::HashSet::new());
            let mut seen = std::collections::HashSet::new();
            let result = run_import(self.import_job(ImportKind::Full, String::new()), |entry| {
                let Some(anchor) = entry_anchor(&self.mapping, entry) else {
                    return;
                };
                let dirty = self
                    .shared
                    .sync_dirty
                    .lock()
                    .as_ref()
                    .is_some_and(|d| d.contains(&anchor));
                if !dirty {
                    if let Some(object) = to_object(space, &self.mapping, entry) {
                        if space.get(&anchor).as_deref() != Some(&object) {
                            space.upsert(object);
                            report.upserted += 1;
                        }
                    }
                }
                seen.insert(anchor);
            })
            .await;
            let dirty = self.shared.sync_dirty.lock().take().unwrap_or_default();
            let (entries, watermark) = result?;
            for object in space.snapshot() {
                if !seen.contains(&object.anchor) && !dirty.contains(&object.anchor) {
                    space.remove(&object.anchor);
                    report.removed += 1;
                }
            }
            report.entries = entries;
            self.save_watermark(watermark);
        } else {
            report.kind = "none";
        }
        tracing::info!(connector = %self.config.name, kind = report.kind, entries = report.entries, upserted = report.upserted, removed = report.removed, "autosync finished");
        Ok(report)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
    pub fn config(&self) -> &ConnectorConfig {
        &self.config
    }
    pub fn mapping(&self) -> &ResourceMapping {
        &self.mapping
    }
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
    pub fn library(&self) -> &LoadedLibrary {
        &self.library
    }
    pub fn space(&self) -> &ConnectorSpace {
        &self.shared.space
    }
    pub fn availability(&self) -> Availability {
        self.shared.availability.read().clone()
    }
    /// Plugin calls that outlived their time-out and are still running: the connector is
    /// degraded (its target hangs) while this is above zero.
    pub fn stuck_calls(&self) -> usize {
        self.calls.stuck()
    }

    pub fn imported_so_far(&self) -> u64 {
        self.shared
            .progress
            .objects
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn check_available(&self) -> Result<(), RuntimeError> {
        match &*self.shared.availability.read() {
            Availability::Ready => Ok(()),
            Availability::Importing => Err(RuntimeError::Importing),
            Availability::ImportFailed(reason) => Err(RuntimeError::Unavailable {
                connector: self.config.name.clone(),
                reason: format!(
                    "the initial import from the target failed and is being retried: {reason}"
                ),
            }),
        }
    }

    pub fn get(&self, id: &str) -> Result<Arc<CsObject>, RuntimeError> {
        self.check_available()?;
        self.lookup(id)
    }

    fn lookup(&self, id: &str) -> Result<Arc<CsObject>, RuntimeError> {
        self.shared
            .space
            .get(id)
            .ok_or_else(|| RuntimeError::NotFound { id: id.to_string() })
    }

    /// Resources matching the query, sorted (by anchor unless `sort_by` is given) and paged:
    /// `(page, total)`.
    pub fn list(&self, query: &ListQuery, base: &str) -> Result<(Vec<Json>, usize), RuntimeError> {
        self.check_available()?;
        let filter = query.filter.as_ref();
        let mut candidates = filter
            .and_then(|f| self.index_candidates(f))
            .unwrap_or_else(|| self.shared.space.snapshot());
        candidates.sort_by(|a, b| a.anchor.cmp(&b.anchor));
        let case_exact =
            |p: &ecma_scim::AttrPath| p.urn.is_none() && p.name.eq_ignore_ascii_case("id");
        let start = query.start_index.max(1) - 1;
        if filter.is_none() && query.sort_by.is_none() {
            // Nothing to evaluate: render only the page.
            let total = candidates.len();
            let page = candidates
                .iter()
                .skip(start)
                .take(query.count)
                .map(|o| self.mapping.to_resource(o, base))
                .collect();
            return Ok((page, total));
        }
        let mut matched: Vec<Json> = candidates
            .iter()
            .map(|o| self.mapping.to_resource(o, base))
            .filter(|r| filter.is_none_or(|f| f.matches(r, &case_exact)))
            .collect();
        if let Some(path) = &query.sort_by {
            // A stable sort keeps anchor order among equal keys.
            matched.sort_by(|a, b| {
                let order = ecma_scim::query::compare_sort_values(
                    ecma_scim::query::sort_value(a, path),
                    ecma_scim::query::sort_value(b, path),
                );
                if query.descending {
                    order.reverse()
                } else {
                    order
                }
            });
        }
        let total = matched.len();
        let page = matched.into_iter().skip(start).take(query.count).collect();
        Ok((page, total))
    }

    /// A page of the connector space itself, in anchor order (`/cache`). `start_index` is
    /// 1-based.
    pub fn cache_page(
        &self,
        start_index: usize,
        count: usize,
    ) -> Result<Vec<Arc<CsObject>>, RuntimeError> {
        self.check_available()?;
        Ok(self
            .shared
            .space
            .snapshot()
            .into_iter()
            .skip(start_index.max(1) - 1)
            .take(count)
            .collect())
    }

    /// Candidates from an index when the filter ANDs an `eq` on the anchor or query attribute.
    fn index_candidates(&self, filter: &Filter) -> Option<Vec<Arc<CsObject>>> {
        filter
            .equality_terms()
            .into_iter()
            .find_map(|(path, value)| {
                let is_anchor = self.mapping.indexed_path(path)?;
                let value = match value {
                    Json::String(s) => Value::String(s.clone()),
                    Json::Number(n) => Value::Integer(n.as_i64()?),
                    Json::Bool(b) => Value::Boolean(*b),
                    _ => return None,
                };
                Some(if is_anchor {
                    self.shared.space.find_by_anchor(&value.to_string())
                } else {
                    self.shared.space.find_by_query(&value)
                })
            })
    }

    /// POST: export an Add, then record the object.
    pub async fn create(&self, resource: &Json) -> Result<Arc<CsObject>, RuntimeError> {
        self.check_available()?;
        let (anchor_value, mut attributes) = self.mapping.from_resource(resource)?;
        let anchor = ResourceMapping::anchor_string(&anchor_value);
        let _guard = self.shared.locks.lock(&anchor).await;
        if self.shared.space.contains(&anchor)
            || !self.shared.space.find_by_anchor(&anchor).is_empty()
        {
            return Err(RuntimeError::AlreadyExists { id: anchor });
        }
        attributes.remove(self.mapping.anchor());
        let dn = self.mapping.dn_for(&anchor, &attributes);
        let changes = attributes
            .iter()
            .map(|(name, values)| {
                AttributeChange::set(name.clone(), AttributeModification::Add, values.clone())
            })
            .collect();
        let result = self
            .export_entry(ObjectModification::Add, &anchor_value, &dn, changes)
            .await?;
        // The target may assign the anchor (an identity column, say).
        let (anchor_value, anchor) = match result.into_iter().next() {
            Some(a) => (a.value.clone(), ResourceMapping::anchor_string(&a.value)),
            None => (anchor_value, anchor),
        };
        attributes.insert(self.mapping.anchor().to_string(), vec![anchor_value]);
        let object = self.shared.space.object(anchor, dn, attributes);
        if let Err(e) = self.set_initial_password(&object, resource).await {
            // No half-created user: undo the Add, then report why.
            if let Err(undo) = self.delete_locked(&object).await {
                tracing::error!(connector = %self.config.name, id = %object.anchor, error = %undo, "could not undo an add whose password failed");
            }
            return Err(e);
        }
        self.shared.mark_dirty(&object.anchor);
        self.shared.space.upsert(object.clone());
        Ok(Arc::new(object))
    }

    /// PATCH: apply the operations to the resource, export what changed (or delete, per the
    /// disable flow), then record the new state. A PATCH that changes nothing exports nothing.
    pub async fn patch(
        &self,
        id: &str,
        ops: &[PatchOp],
        if_match: Option<&str>,
        base: &str,
    ) -> Result<PatchOutcome, RuntimeError> {
        self.check_available()?;
        let _guard = self.shared.locks.lock(id).await;
        let current = self.lookup(id)?;
        self.check_version(&current, if_match)?;
        let mut resource = self.mapping.to_resource(&current, base);
        apply_patch(&mut resource, ops)?;
        self.apply_resource(current, &resource).await
    }

    /// PUT: replace the resource with `resource` (attributes it leaves out are cleared).
    pub async fn replace(
        &self,
        id: &str,
        resource: &Json,
        if_match: Option<&str>,
    ) -> Result<PatchOutcome, RuntimeError> {
        self.check_available()?;
        let _guard = self.shared.locks.lock(id).await;
        let current = self.lookup(id)?;
        self.check_version(&current, if_match)?;
        self.apply_resource(current, resource).await
    }

    /// `If-Match`: the client's version must be the current one.
    fn check_version(
        &self,
        current: &CsObject,
        if_match: Option<&str>,
    ) -> Result<(), RuntimeError> {
        match if_match {
            Some(wanted)
                if wanted.trim() != "*"
                    && !wanted
                        .split(',')
                        .any(|v| v.trim() == mapping::etag(current)) =>
            {
                Err(RuntimeError::VersionMismatch {
                    id: current.anchor.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Make the object look like `resource`: export what changed (or delete, per the disable
    /// flow), then record the new state. A resource that changes nothing exports nothing.
    /// The caller holds the object's lock.
    async fn apply_resource(
        &self,
        current: Arc<CsObject>,
        resource: &Json,
    ) -> Result<PatchOutcome, RuntimeError> {
        if get_ci(resource, "userName").and_then(Json::as_str) != Some(current.anchor.as_str()) {
            return Err(MappingError::Mutability(
                "userName is the anchor and cannot be changed".into(),
            )
            .into());
        }
        if self.config.disable == DisableFlow::Delete && ResourceMapping::is_deactivated(resource)?
        {
            self.delete_locked(&current).await?;
            return Ok(PatchOutcome::Deleted);
        }
        let (anchor_value, wanted) = self.mapping.from_resource(resource)?;
        let changes = self.diff(&current, &wanted);
        // A password in a PATCH or PUT is set through the password call, never stored.
        self.set_initial_password(&current, resource).await?;
        if changes.is_empty() {
            return Ok(PatchOutcome::Updated(current));
        }
        let (modification, exported) = if self.capabilities.export_type == ExportType::ObjectReplace
        {
            let all = self
                .mapping
                .managed_attributes()
                .map(|a| match wanted.get(a) {
                    Some(v) => AttributeChange::set(a, AttributeModification::Replace, v.clone()),
                    None => AttributeChange::delete(a),
                })
                .collect();
            (ObjectModification::Replace, all)
        } else {
            (ObjectModification::Update, changes.clone())
        };
        self.export_entry(modification, &anchor_value, &current.dn, exported)
            .await?;
        let mut merged: Attributes = current
            .attributes
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        for change in &changes {
            match change.modification {
                AttributeModification::Delete => {
                    merged.remove(&change.name);
                }
                _ => {
                    merged.insert(
                        change.name.clone(),
                        change.added_values().cloned().collect(),
                    );
                }
            }
        }
        let object = self
            .shared
            .space
            .object(current.anchor.clone(), current.dn.clone(), merged);
        self.shared.space.upsert(object.clone());
        Ok(PatchOutcome::Updated(Arc::new(object)))
    }

    fn diff(&self, current: &CsObject, wanted: &Attributes) -> Vec<AttributeChange> {
        self.mapping
            .managed_attributes()
            .filter_map(|a| {
                let old = current.get(a).unwrap_or(&[]);
                match wanted.get(a) {
                    Some(new) if new.as_slice() != old => Some(AttributeChange::set(
                        a,
                        AttributeModification::Replace,
                        new.clone(),
                    )),
                    None if !old.is_empty() => Some(AttributeChange::delete(a)),
                    _ => None,
                }
            })
            .collect()
    }

    /// DELETE, per the delete flow.
    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Result<(), RuntimeError> {
        self.check_available()?;
        let _guard = self.shared.locks.lock(id).await;
        let current = self.lookup(id)?;
        self.check_version(&current, if_match)?;
        match self.config.delete {
            DeleteFlow::None => Ok(()),
            DeleteFlow::Delete => self.delete_locked(&current).await,
        }
    }

    async fn delete_locked(&self, current: &CsObject) -> Result<(), RuntimeError> {
        let anchor_value = current
            .get(self.mapping.anchor())
            .and_then(|v| v.first().cloned())
            .unwrap_or_else(|| Value::String(current.anchor.clone()));
        match self
            .export_entry(
                ObjectModification::Delete,
                &anchor_value,
                &current.dn,
                Vec::new(),
            )
            .await
        {
            Ok(_) => {
                self.shared.mark_dirty(&current.anchor);
                self.shared.space.remove(&current.anchor);
                Ok(())
            }
            Err(RuntimeError::Export {
                kind: ExportErrorKind::NoSuchObject,
                ..
            }) => {
                // The target had already lost it: the connector space was stale.
                self.shared.space.remove(&current.anchor);
                Err(RuntimeError::NotFound {
                    id: current.anchor.clone(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// If the connector takes passwords and `resource` carries one, set it on `object` through
    /// the plugin's password call. The password is never logged or stored.
    async fn set_initial_password(
        &self,
        object: &CsObject,
        resource: &Json,
    ) -> Result<(), RuntimeError> {
        let Some(attribute) = &self.config.password_attribute else {
            return Ok(());
        };
        let Some(password) = mapping::string_at(resource, attribute) else {
            return Ok(());
        };
        let target = PasswordTarget {
            object_type: self.mapping.object_type().to_string(),
            dn: object.dn.clone(),
            anchor: vec![AnchorAttribute {
                name: self.mapping.anchor().to_string(),
                value: object
                    .get(self.mapping.anchor())
                    .and_then(|v| v.first().cloned())
                    .unwrap_or_else(|| Value::String(object.anchor.clone())),
            }],
        };
        let (plugin, parameters, secret) = (
            self.plugin.clone(),
            self.parameters.clone(),
            Secret::new(password),
        );
        self.calls
            .run("set_password", move || {
                plugin.set_password(&parameters, &target, &secret, PasswordOptions::default())
            })
            .await
            .map_err(|e| RuntimeError::Password(Box::new(e)))
    }

    /// Export one entry; a per-entry failure becomes [`RuntimeError::Export`]. Returns the
    /// anchor values the target assigned, if any.
    async fn export_entry(
        &self,
        modification: ObjectModification,
        anchor: &Value,
        dn: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<Vec<AnchorAttribute>, RuntimeError> {
        let entry = CsEntryChange {
            identifier: String::new(),
            object_type: self.mapping.object_type().to_string(),
            dn: dn.to_string(),
            modification,
            anchor: vec![AnchorAttribute {
                name: self.mapping.anchor().to_string(),
                value: anchor.clone(),
            }],
            changes,
        };
        let result = self.export.export(entry).await?;
        match result.error {
            None => Ok(result.anchor),
            Some(e) => {
                tracing::warn!(connector = %self.config.name, ?modification, kind = ?e.kind, message = %e.message, "export refused");
                Err(RuntimeError::Export {
                    kind: e.kind,
                    message: e.message,
                })
            }
        }
    }

    /// Test the connection to the target (used by status checks).
    pub async fn test_connection(&self) -> Result<(), CallError> {
        let (p, v) = (self.plugin.clone(), self.parameters.clone());
        self.calls
            .run("test_connection", move || p.test_connection(&v))
            .await
    }
}

/// The autosync timer: every `autosync_minutes` (0 turns it off), while the version is alive.
async fn autosync(weak: std::sync::Weak<ConnectorRuntime>) {
    let minutes = match weak.upgrade() {
        Some(r) if r.config.autosync_minutes > 0 => r.config.autosync_minutes,
        _ => return,
    };
    let period = Duration::from_secs(u64::from(minutes) * 60);
    loop {
        tokio::time::sleep(period).await;
        let Some(runtime) = weak.upgrade() else {
            return;
        };
        if let Err(e) = runtime.sync_now().await {
            tracing::warn!(connector = %runtime.config.name, error = %e, "autosync failed; the connector space is unchanged and serves on");
        }
    }
}

impl From<ConnectorError> for RuntimeError {
    fn from(e: ConnectorError) -> Self {
        RuntimeError::Call(CallError::Connector(e))
    }
}
