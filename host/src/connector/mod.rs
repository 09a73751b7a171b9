//! The connector runtime: one configured connector, alive. It owns the loaded plugin, one
//! mapping and connector space per resource type (Users, Groups, custom types), the export
//! engine and the import, and applies the deprovisioning rules.
//!
//! Handlers pick a resource type with [`ConnectorRuntime::resources`] and call the
//! [`Resources`] view with SCIM resources and PATCH operations; it answers with objects or a
//! [`RuntimeError`]. Architecture invariants:
//! - the connector space changes only after the target confirmed the change;
//! - changes to one object are serialised (per-anchor lock); different objects export
//!   concurrently and coalesce into batches;
//! - every plugin call goes through [`calls::PluginCalls`] (blocking pool, time-out, bound).

pub mod calls;
pub mod checks;
pub mod export;
pub mod import;
pub mod mapping;
pub mod partitions;
mod resource;
pub mod snapshot;

pub use resource::{sort_resources, Resources};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ecma_plugin_api::{
    Capabilities, ConnectorError, ExportErrorKind, ExportRequest, ImportKind, ObjectModification,
    ParameterValues, PluginConnector, Schema, Value,
};
use ecma_scim::{Filter, FilterError, PatchError};
use parking_lot::RwLock;

use self::calls::{CallError, PluginCalls};
use self::checks::{
    check_anchors, check_capabilities, check_parameter_page, CheckError, CheckErrors,
};
use self::export::{ExportContext, ExportEngine};
use self::import::{apply_delta, entry_anchor, run_import, to_object, ImportJob, ImportProgress};
use self::mapping::{
    MappingBuildError, MappingError, RefTarget, ReferenceResolver, ResourceMapping,
};
use self::partitions::Scope;
use crate::config::{ConnectorConfig, References, ResourceTypeConfig};
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
    #[error("{file}: the connector rejected parameter answers: {}", issues.join("; "))]
    Parameters { file: String, issues: Vec<String> },
    #[error(transparent)]
    Mapping(#[from] MappingBuildError),
    /// The file asks for what the connector does not declare (see [`checks`]).
    #[error(transparent)]
    Checks(#[from] CheckErrors),
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
    #[error("an object with {attribute} '{id}' already exists")]
    AlreadyExists { attribute: String, id: String },
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
    /// Attributes the caller will drop (`excludedAttributes`): a hint that lets the runtime
    /// skip rendering them (a group's `members`) when neither the filter nor the sort needs
    /// them.
    pub excluded: Vec<ecma_scim::AttrPath>,
}

impl ListQuery {
    /// The excluded attributes that neither the filter nor `sortBy` mentions.
    fn skippable(&self) -> Vec<ecma_scim::AttrPath> {
        let filter = self
            .filter
            .as_ref()
            .map(|f| f.to_string().to_ascii_lowercase())
            .unwrap_or_default();
        self.excluded
            .iter()
            .filter(|p| {
                let name = p.name.to_ascii_lowercase();
                !filter.contains(&name)
                    && self
                        .sort_by
                        .as_ref()
                        .is_none_or(|s| !s.name.eq_ignore_ascii_case(&name))
            })
            .cloned()
            .collect()
    }
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
    /// One per resource type, in the config's order (users first).
    types: Vec<ResourceType>,
    calls: PluginCalls,
    export: ExportEngine,
    shared: Arc<ConnectorState>,
    /// `data_dir/{connector}`: where the delta watermarks are kept.
    state_dir: std::path::PathBuf,
    /// The selected partitions and containers.
    scope: Arc<Scope>,
    metrics: crate::metrics::ConnectorMetrics,
}

/// One exposed resource type: its config and its mapping. Its connector space lives in
/// [`ConnectorState::spaces`], at the same index.
struct ResourceType {
    config: ResourceTypeConfig,
    mapping: ResourceMapping,
}

/// `(object type, anchor, query attribute)`: the shape a connector space is built for.
type Shape = (String, String, String);

/// What a connector state is built for: the reference style, each resource type's shape and
/// the selected partitions and containers (a space holds only their objects).
type Layout = (References, Vec<Shape>, Scope);

fn shapes(config: &ConnectorConfig) -> Vec<Shape> {
    config
        .resource_types
        .iter()
        .map(|t| {
            (
                t.object_type.clone(),
                t.anchor_parts.join(","),
                t.query_attribute.clone(),
            )
        })
        .collect()
}

/// What outlives one version of a connector's library: the connector spaces, the per-object
/// locks and the import state. A reload that keeps every resource type's object type, anchor
/// and query attribute (and the reference style) hands it to the new version, so the swap needs
/// no new import and changes to one object stay serialised across the two versions.
pub struct ConnectorState {
    shapes: Layout,
    /// One per resource type, in the config's order.
    spaces: Vec<TypeState>,
    availability: RwLock<Availability>,
    progress: ImportProgress,
    /// The last delta watermark of each partition (`""` for the default one), also kept in
    /// `data_dir/{connector}/`.
    watermarks: parking_lot::Mutex<std::collections::BTreeMap<String, String>>,
    /// One sync at a time.
    syncing: tokio::sync::Mutex<()>,
    /// The resource types' names, in the config's order: how the snapshot names the spaces.
    type_names: Vec<String>,
    /// `data_dir/{connector}/space.snapshot`.
    snapshot_file: std::path::PathBuf,
    /// What the snapshot was built for ([`snapshot::fingerprint`]).
    fingerprint: [u8; 32],
    /// One snapshot write at a time. `true` once the last one (at shutdown) is written, after
    /// which background writes (a reconcile still finishing) leave the file alone.
    saving: parking_lot::Mutex<bool>,
    /// The space came from a snapshot and the first version to run must reconcile it with the
    /// target.
    reconcile_pending: std::sync::atomic::AtomicBool,
}

/// One resource type's connector space, its per-object locks and its sync bookkeeping.
struct TypeState {
    space: ConnectorSpace,
    locks: ObjectLocks,
    /// While an autosync runs: anchors that SCIM requests changed since it started. The sync
    /// neither overwrites nor removes them (the target may have been read before the change).
    sync_dirty: parking_lot::Mutex<Option<std::collections::HashSet<String>>>,
}

impl TypeState {
    /// Record that a SCIM request changed `anchor`, for a sync in progress.
    fn mark_dirty(&self, anchor: &str) {
        if let Some(dirty) = self.sync_dirty.lock().as_mut() {
            dirty.insert(anchor.to_string());
        }
    }
}

impl ConnectorState {
    /// A new state, with the connector space an earlier run saved in `state_dir` if its
    /// snapshot is sound and of this configuration (then the connector is ready at once and a
    /// reconcile is pending), else empty with whatever timestamps it still gives.
    fn new(config: &ConnectorConfig, scope: &Scope, state_dir: &Path) -> Self {
        let state = Self::empty(config, scope, state_dir);
        let spaces: Vec<snapshot::NamedSpace<'_>> = state
            .type_names
            .iter()
            .map(String::as_str)
            .zip(state.spaces.iter().map(|s| &s.space))
            .collect();
        let restored = snapshot::load(
            &config.name,
            &state.snapshot_file,
            &state.fingerprint,
            &spaces,
        );
        if let Some(watermarks) = restored {
            *state.watermarks.lock() = watermarks;
            *state.availability.write() = Availability::Ready;
            state
                .reconcile_pending
                .store(true, std::sync::atomic::Ordering::Release);
        }
        state
    }

    fn empty(config: &ConnectorConfig, scope: &Scope, state_dir: &Path) -> Self {
        Self {
            shapes: (config.references, shapes(config), scope.clone()),
            spaces: config
                .resource_types
                .iter()
                .map(|t| {
                    let space = ConnectorSpace::new(t.query_attribute.clone());
                    TypeState {
                        space: match config.references {
                            References::Dn => space.with_dn_index(),
                            References::Anchor => space,
                        },
                        locks: ObjectLocks::default(),
                        sync_dirty: parking_lot::Mutex::new(None),
                    }
                })
                .collect(),
            availability: RwLock::new(if config.run_profiles.full_import {
                Availability::Importing
            } else {
                Availability::Ready
            }),
            progress: ImportProgress::default(),
            watermarks: parking_lot::Mutex::new(std::collections::BTreeMap::new()),
            syncing: tokio::sync::Mutex::new(()),
            type_names: config
                .resource_types
                .iter()
                .map(|t| t.name.clone())
                .collect(),
            snapshot_file: snapshot::file(state_dir),
            fingerprint: snapshot::fingerprint(config, scope),
            saving: parking_lot::Mutex::new(false),
            reconcile_pending: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Which import a sync runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncKind {
    /// Delta when the run profiles, the plugin and a watermark allow it, else full.
    Auto,
    Full,
    Delta,
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
    /// Load the library, check the parameter answers page by page (strict keys, then the
    /// plugin's own validation), discover capabilities, schema and partitions, run the
    /// [`checks`] against them, and check the mapping. Does not import; see
    /// [`Self::start_import`].
    ///
    /// With `previous` (a reload), the new version takes over the previous version's connector
    /// space when the object type, anchor and query attribute are unchanged.
    pub async fn build(
        config: ConnectorConfig,
        ecma_dir: &Path,
        data_dir: &Path,
        previous: Option<&ConnectorRuntime>,
    ) -> Result<Arc<Self>, BuildError> {
        let metrics = crate::metrics::ConnectorMetrics::detached(&config.name);
        Self::build_with_metrics(config, ecma_dir, data_dir, previous, metrics).await
    }

    /// [`Self::build`], recording exports and imports into a host's metrics.
    pub async fn build_with_metrics(
        config: ConnectorConfig,
        ecma_dir: &Path,
        data_dir: &Path,
        previous: Option<&ConnectorRuntime>,
        metrics: crate::metrics::ConnectorMetrics,
    ) -> Result<Arc<Self>, BuildError> {
        let (dir, name, file, isolation) = (
            ecma_dir.to_path_buf(),
            config.name.clone(),
            config.plugin.clone(),
            config.isolation,
        );
        let library =
            tokio::task::spawn_blocking(move || load_for_connector(&dir, &name, &file, isolation))
                .await
                .map_err(|_| CallError::HostPanic {
                    call: "load_library",
                })??;
        let calls = PluginCalls::new(config.max_concurrent_calls as usize, config.call_timeout);
        let (lib, connector) = (library.library.clone(), config.name.clone());
        let plugin = Arc::new(
            calls
                .run("new_connector", move || {
                    let plugin = lib.new_connector()?;
                    // API 1.1: the connector's log records join the host's log (a 1.0
                    // library has no log channel and logs nowhere, as before).
                    plugin.log_to_tracing(&connector);
                    Ok(plugin)
                })
                .await?,
        );
        let parameters = Arc::new(config.parameters.clone());
        let file = config.file.display().to_string();
        check_parameter_keys(&config, &plugin, &calls).await?;

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
                issues: problems,
            });
        }
        let (p, v) = (plugin.clone(), parameters.clone());
        let mut capabilities = calls
            .run("capabilities", move || p.capabilities(&v))
            .await?;
        let (p, v) = (plugin.clone(), parameters.clone());
        let full_schema = calls.run("schema", move || p.schema(&v)).await?;
        let mut errors = check_capabilities(&config, &capabilities);
        errors.extend(check_anchors(&config, &full_schema));
        // The administrator may turn renames off ("Enable Object Rename" unchecked).
        if config.object_rename == Some(false) {
            capabilities.object_rename = false;
        }
        let scope = match discover_scope(&config, &capabilities, &plugin, &calls).await? {
            Ok(scope) => scope,
            Err(e) => {
                errors.extend(e);
                Scope::default()
            }
        };
        if !errors.is_empty() {
            return Err(CheckErrors(errors).into());
        }
        let scope = Arc::new(scope);
        let types = config
            .resource_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(ResourceType {
                    mapping: ResourceMapping::build(
                        &file,
                        &checks::type_prefix(i),
                        t,
                        &full_schema,
                    )?,
                    config: t.clone(),
                })
            })
            .collect::<Result<Vec<_>, MappingBuildError>>()?;
        // Only the configured object types are exported and imported.
        let schema = Arc::new(Schema {
            object_types: full_schema
                .object_types
                .into_iter()
                .filter(|t| types.iter().any(|r| r.mapping.object_type() == t.name))
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
                scope: scope.clone(),
                metrics: metrics.clone(),
            },
            if capabilities.concurrent_operations {
                2
            } else {
                1
            },
        );
        let config_name = config.name.clone();
        let shape = (config.references, shapes(&config), (*scope).clone());
        let state_dir = data_dir.join(&config_name);
        let shared = match previous {
            Some(p) if p.shared.shapes == shape => p.shared.clone(),
            _ => {
                // Reading a large snapshot takes a while: not on an async worker.
                let (c, s, d) = (config.clone(), (*scope).clone(), state_dir.clone());
                let shared = Arc::new(
                    tokio::task::spawn_blocking(move || ConnectorState::new(&c, &s, &d))
                        .await
                        .map_err(|_| CallError::HostPanic {
                            call: "load_snapshot",
                        })?,
                );
                tokio::spawn(snapshot::flush_loop(
                    config_name.clone(),
                    Arc::downgrade(&shared),
                ));
                shared
            }
        };
        Ok(Arc::new(Self {
            config,
            library,
            plugin,
            parameters,
            schema,
            capabilities,
            types,
            calls,
            export,
            state_dir,
            shared,
            scope,
            metrics,
        }))
    }

    /// Run the first full import in the background (if the run profiles include one),
    /// retrying with back-off until it succeeds; or, for a space restored from its snapshot,
    /// the reconcile (a delta or full sync, as autosync chooses) while it serves.
    pub fn start_import(self: &Arc<Self>) {
        let needs_import = self.needs_initial_import();
        let reconcile = self
            .shared
            .reconcile_pending
            .swap(false, std::sync::atomic::Ordering::AcqRel);
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
            } else if reconcile {
                loop {
                    let Some(runtime) = weak.upgrade() else {
                        return;
                    };
                    let Err(e) = runtime.sync_as(SyncKind::Auto).await else {
                        break;
                    };
                    tracing::warn!(connector = %runtime.config.name, error = %e, retry_in_s = delay.as_secs(), "reconciling the restored connector space with the target failed; it serves on from the snapshot");
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
        for partition in self.scope.import_partitions() {
            let job = self.import_job(ImportKind::Full, &partition, String::new());
            let (_, watermark) = run_import(job, |entry| {
                let Some((t, state)) = self.type_of_entry(&entry.object_type) else {
                    return;
                };
                if let Some(object) = to_object(&state.space, &t.mapping, entry) {
                    state.space.upsert(object);
                }
            })
            .await?;
            self.save_watermark(&partition, watermark);
        }
        *self.shared.availability.write() = Availability::Ready;
        self.save_snapshot_in_background().await;
        Ok(())
    }

    /// Write the connector space's snapshot now, on the blocking pool (after an import).
    async fn save_snapshot_in_background(&self) {
        let (state, name) = (self.shared.clone(), self.config.name.clone());
        let _ =
            tokio::task::spawn_blocking(move || snapshot::save_state(&state, &name, false)).await;
    }

    /// An import of `partition` (empty for the default one).
    fn import_job(&self, kind: ImportKind, partition: &str, watermark: String) -> ImportJob<'_> {
        ImportJob {
            connector: &self.config.name,
            plugin: self.plugin.clone(),
            calls: &self.calls,
            parameters: self.parameters.clone(),
            schema: self.schema.clone(),
            kind,
            watermark,
            page_size: self.config.export_page_size.max(500),
            progress: &self.shared.progress,
            partition: partition.to_string(),
            scope: &self.scope,
            metrics: &self.metrics,
        }
    }

    /// `data_dir/{connector}/watermark` for the default partition; one file per selected
    /// partition otherwise (`watermark-<partition DN, percent-encoded>`).
    fn watermark_file(&self, partition: &str) -> std::path::PathBuf {
        match partition {
            "" => self.state_dir.join("watermark"),
            dn => self
                .state_dir
                .join(format!("watermark-{}", mapping::percent_encode(dn))),
        }
    }

    /// A partition's delta watermark: in memory, else the one saved by an earlier run.
    fn watermark(&self, partition: &str) -> String {
        if let Some(current) = self.shared.watermarks.lock().get(partition) {
            return current.clone();
        }
        std::fs::read_to_string(self.watermark_file(partition))
            .map(|w| w.trim_end().to_string())
            .unwrap_or_default()
    }

    fn save_watermark(&self, partition: &str, watermark: String) {
        if watermark.is_empty() {
            return;
        }
        let file = self.watermark_file(partition);
        if let Err(e) = crate::tls::write_file(&file, watermark.as_bytes(), 0o600) {
            tracing::warn!(connector = %self.config.name, error = %e, "cannot save the delta watermark");
        }
        self.shared
            .watermarks
            .lock()
            .insert(partition.to_string(), watermark);
    }

    /// One autosync now: a delta import when the run profiles and the connector allow it and a
    /// watermark exists for every partition, otherwise a full import that reconciles the
    /// connector space with the target (added, changed and removed objects). SCIM traffic is
    /// served throughout.
    pub async fn sync_now(&self) -> Result<SyncReport, CallError> {
        self.sync_as(SyncKind::Auto).await
    }

    /// Why a delta import cannot run now, if it cannot.
    pub fn delta_refusal(&self) -> Option<String> {
        if !self.config.run_profiles.delta_import {
            return Some(format!(
                "{}: the run profiles have no delta import (key `run_profiles.delta_import`)",
                self.config.file.display()
            ));
        }
        if !self.capabilities.delta_import {
            return Some(format!(
                "the plugin of connector `{}` does not support delta import",
                self.config.name
            ));
        }
        let partitions = self.scope.import_partitions();
        if partitions.iter().any(|p| self.watermark(p).is_empty()) {
            return Some("no delta watermark yet: run a full import first".to_string());
        }
        None
    }

    /// Whether the run profiles include a full import.
    pub fn has_full_import(&self) -> bool {
        self.config.run_profiles.full_import
    }

    /// A sync of the requested kind: [`Self::sync_now`]'s choice (`Auto`), a full import that
    /// reconciles the space (`Full`), or a delta (`Delta`; refused by [`Self::delta_refusal`]).
    pub async fn sync_as(&self, kind: SyncKind) -> Result<SyncReport, CallError> {
        let _one = self.shared.syncing.lock().await;
        let partitions = self.scope.import_partitions();
        let watermarks: Vec<String> = partitions.iter().map(|p| self.watermark(p)).collect();
        let possible = self.config.run_profiles.delta_import
            && self.capabilities.delta_import
            && watermarks.iter().all(|w| !w.is_empty());
        let delta = match kind {
            SyncKind::Auto => possible,
            SyncKind::Full => false,
            SyncKind::Delta if possible => true,
            SyncKind::Delta => {
                return Err(CallError::Connector(ConnectorError::other(
                    self.delta_refusal()
                        .unwrap_or_else(|| "delta import not possible".to_string()),
                )))
            }
        };
        let mut report = SyncReport::default();
        if delta {
            report.kind = "delta";
            for (partition, watermark) in partitions.iter().zip(watermarks) {
                let job = self.import_job(ImportKind::Delta, partition, watermark);
                let (entries, watermark) = run_import(job, |entry| {
                    let Some((t, state)) = self.type_of_entry(&entry.object_type) else {
                        return;
                    };
                    if apply_delta(&state.space, &t.mapping, entry) {
                        report.upserted +=
                            u64::from(entry.modification != ObjectModification::Delete);
                        report.removed +=
                            u64::from(entry.modification == ObjectModification::Delete);
                    }
                })
                .await?;
                report.entries += entries;
                self.save_watermark(partition, watermark);
            }
        } else if self.config.run_profiles.full_import {
            report.kind = "full";
            for state in &self.shared.spaces {
                *state.sync_dirty.lock() = Some(std::collections::HashSet::new());
            }
            let mut seen = vec![std::collections::HashSet::new(); self.types.len()];
            let mut on_entry = |entry: &ecma_plugin_api::CsEntryChange| {
                let Some(index) = self.type_index(&entry.object_type) else {
                    return;
                };
                let (t, state) = (&self.types[index], &self.shared.spaces[index]);
                let Some(anchor) = entry_anchor(&t.mapping, entry) else {
                    return;
                };
                let dirty = state
                    .sync_dirty
                    .lock()
                    .as_ref()
                    .is_some_and(|d| d.contains(&anchor));
                if !dirty {
                    if let Some(object) = to_object(&state.space, &t.mapping, entry) {
                        if state.space.get(&anchor).as_deref() != Some(&object) {
                            state.space.upsert(object);
                            report.upserted += 1;
                        }
                    }
                }
                seen[index].insert(anchor);
            };
            // Every partition is read before anything is removed: an object is gone only
            // when no selected partition has it.
            let mut result = Ok(Vec::new());
            for partition in &partitions {
                let job = self.import_job(ImportKind::Full, partition, String::new());
                match run_import(job, &mut on_entry).await {
                    Ok(done) => {
                        if let Ok(all) = result.as_mut() {
                            all.push((partition, done));
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let dirty: Vec<_> = self
                .shared
                .spaces
                .iter()
                .map(|s| s.sync_dirty.lock().take().unwrap_or_default())
                .collect();
            let done = result?;
            for (index, state) in self.shared.spaces.iter().enumerate() {
                for object in state.space.snapshot() {
                    if !seen[index].contains(&object.anchor)
                        && !dirty[index].contains(&object.anchor)
                    {
                        state.space.remove(&object.anchor);
                        report.removed += 1;
                    }
                }
            }
            for (partition, (entries, watermark)) in done {
                report.entries += entries;
                self.save_watermark(partition, watermark);
            }
        } else {
            report.kind = "none";
        }
        tracing::info!(connector = %self.config.name, kind = report.kind, entries = report.entries, upserted = report.upserted, removed = report.removed, "autosync finished");
        if report.kind != "none" {
            self.save_snapshot_in_background().await;
        }
        Ok(report)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
    pub fn config(&self) -> &ConnectorConfig {
        &self.config
    }
    /// The resource type served at `endpoint` (`Users`, `groups`: case-insensitive).
    pub fn resources(&self, endpoint: &str) -> Option<Resources<'_>> {
        self.types
            .iter()
            .position(|t| t.mapping.endpoint().eq_ignore_ascii_case(endpoint))
            .map(|index| Resources::new(self, index))
    }

    /// Every resource type, in the config's order.
    pub fn all_resources(&self) -> impl Iterator<Item = Resources<'_>> {
        (0..self.types.len()).map(|index| Resources::new(self, index))
    }

    fn type_index(&self, object_type: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|t| t.mapping.object_type() == object_type)
    }

    /// The resource type and connector space an imported entry of `object_type` belongs to.
    fn type_of_entry(&self, object_type: &str) -> Option<(&ResourceType, &TypeState)> {
        self.type_index(object_type)
            .map(|i| (&self.types[i], &self.shared.spaces[i]))
    }
    /// The selected partitions and containers.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
    pub fn library(&self) -> &LoadedLibrary {
        &self.library
    }
    /// Objects in the connector spaces of all resource types.
    pub fn object_count(&self) -> usize {
        self.shared.spaces.iter().map(|s| s.space.len()).sum()
    }
    pub fn availability(&self) -> Availability {
        self.shared.availability.read().clone()
    }
    /// Plugin calls that outlived their time-out and are still running: the connector is
    /// degraded (its target hangs) while this is above zero.
    pub fn stuck_calls(&self) -> usize {
        self.calls.stuck()
    }

    /// The import running now, with its rate and (when known) the time left.
    pub fn import_progress(&self) -> Option<import::ImportStatus> {
        self.shared.progress.current()
    }

    /// The last import run that ended (the first full import, an autosync or a triggered one).
    pub fn last_import(&self) -> Option<import::FinishedImport> {
        self.shared.progress.last_finished()
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

    /// A page of the connector spaces themselves (`/cache`): every resource type's objects in
    /// the config's order, each in anchor order, as `(resource type, object)`. `start_index`
    /// is 1-based.
    pub fn cache_page(
        &self,
        start_index: usize,
        count: usize,
    ) -> Result<Vec<(&str, Arc<CsObject>)>, RuntimeError> {
        self.check_available()?;
        Ok(self
            .types
            .iter()
            .zip(&self.shared.spaces)
            .flat_map(|(t, s)| {
                s.space
                    .snapshot()
                    .into_iter()
                    .map(|o| (t.mapping.resource_type(), o))
            })
            .skip(start_index.max(1) - 1)
            .take(count)
            .collect())
    }

    /// Write the connector space's last snapshot now (at shutdown): background work that is
    /// still finishing writes no other after it.
    pub fn save_snapshot(&self) {
        snapshot::save_state(&self.shared, &self.config.name, true);
    }

    /// Test the connection to the target (used by status checks).
    pub async fn test_connection(&self) -> Result<(), CallError> {
        let (p, v) = (self.plugin.clone(), self.parameters.clone());
        self.calls
            .run("test_connection", move || p.test_connection(&v))
            .await
    }
}

impl ConnectorRuntime {
    /// After `old` became `new` (a rename), references to it held by any object of this
    /// connector (the renamed one too) follow: anchors when references are anchors, DNs when
    /// they are DNs. The caller holds no object lock.
    async fn follow_rename(&self, old: &CsObject, new: &CsObject) {
        let (from, to) = match self.config.references {
            References::Anchor => (&old.anchor, &new.anchor),
            References::Dn => (&old.dn, &new.dn),
        };
        if from == to {
            return;
        }
        for resources in self.all_resources() {
            resources.replace_references(from, to).await;
        }
    }
}

/// Strict keys: ask each answered page for its parameters, in the pages' order, with the
/// answers given so far (later pages depend on earlier answers), and refuse a name the page
/// does not define. Runs first: a mistyped answer would make every later check misleading.
async fn check_parameter_keys(
    config: &ConnectorConfig,
    plugin: &Arc<PluginConnector>,
    calls: &PluginCalls,
) -> Result<(), BuildError> {
    let file = config.file.display().to_string();
    let mut so_far = ParameterValues::new();
    let mut unknown = Vec::new();
    for (page, answered) in &config.parameter_pages {
        for (name, value, secret) in config.parameters.iter() {
            if answered.iter().any(|a| a == name) {
                match secret {
                    true => so_far.insert_secret(name, value),
                    false => so_far.insert(name, value),
                }
            }
        }
        let (p, v, page) = (plugin.clone(), so_far.clone(), *page);
        let defined = calls
            .run("config_parameters", move || p.config_parameters(page, &v))
            .await?;
        unknown.extend(check_parameter_page(&file, page, answered, &defined));
    }
    match unknown.is_empty() {
        true => Ok(()),
        false => Err(CheckErrors(unknown).into()),
    }
}

/// Ask a connector that declares partitions (and hierarchy, when containers are selected)
/// what it has, and match the file's selection against it. The outer error is a failed call;
/// the inner one, what the selection gets wrong.
async fn discover_scope(
    config: &ConnectorConfig,
    capabilities: &Capabilities,
    plugin: &Arc<PluginConnector>,
    calls: &PluginCalls,
) -> Result<Result<Scope, Vec<CheckError>>, CallError> {
    if !capabilities.partitions {
        return Ok(Ok(Scope::default()));
    }
    let (p, v) = (plugin.clone(), config.parameters.clone());
    let reported = calls.run("partitions", move || p.partitions(&v)).await?;
    let listed: Vec<&str> = reported.iter().map(|p| p.dn.as_str()).collect();
    tracing::info!(connector = %config.name, partitions = ?listed, selected = ?config.partitions, "the connector reports partitions");
    let selected = match Scope::select(config, &reported) {
        Ok(scope) => scope,
        Err(e) => return Ok(Err(e)),
    };
    if !capabilities.hierarchy || config.containers.is_empty() {
        return Ok(Ok(selected));
    }
    let mut hierarchy = Vec::new();
    for partition in selected.partitions() {
        let (p, v, partition) = (plugin.clone(), config.parameters.clone(), partition.clone());
        hierarchy.push(
            calls
                .run("hierarchy", move || p.hierarchy(&v, &partition))
                .await?,
        );
    }
    let listed: Vec<&str> = hierarchy.iter().flatten().map(|c| c.dn.as_str()).collect();
    tracing::info!(connector = %config.name, containers = ?listed, selected = ?config.containers, "the connector reports containers");
    Ok(selected.with_containers(config, &hierarchy))
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

/// References between objects of this connector: anchors or DNs inside, SCIM ids outside.
impl ReferenceResolver for ConnectorRuntime {
    fn to_scim(&self, value: &Value) -> Option<RefTarget> {
        let raw = value.to_string();
        self.types
            .iter()
            .zip(&self.shared.spaces)
            .find_map(|(t, s)| {
                let object = match self.config.references {
                    References::Anchor => s
                        .space
                        .get(&raw)
                        .or_else(|| s.space.find_by_anchor(&raw).into_iter().next()),
                    References::Dn => s.space.find_by_dn(&raw).into_iter().next(),
                }?;
                Some(RefTarget {
                    resource_type: t.mapping.resource_type().to_string(),
                    endpoint: t.mapping.endpoint().to_string(),
                    id: object.anchor.clone(),
                })
            })
    }

    fn to_connector(&self, id: &str, resource_type: Option<&str>) -> Option<Value> {
        let wanted = |t: &ResourceType| match resource_type {
            None => true,
            Some(hint) => match hint.strip_prefix('/') {
                Some(endpoint) => t.mapping.endpoint().eq_ignore_ascii_case(endpoint),
                None => t.mapping.resource_type().eq_ignore_ascii_case(hint),
            },
        };
        self.types
            .iter()
            .zip(&self.shared.spaces)
            .filter(|(t, _)| wanted(t))
            .find_map(|(_, s)| {
                let object = s.space.get(id)?;
                Some(Value::Reference(match self.config.references {
                    References::Anchor => object.anchor.clone(),
                    References::Dn => object.dn.clone(),
                }))
            })
    }
}

impl From<ConnectorError> for RuntimeError {
    fn from(e: ConnectorError) -> Self {
        RuntimeError::Call(CallError::Connector(e))
    }
}
