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
    CsEntryChange, ExportErrorKind, ExportRequest, ExportType, ObjectModification, ParameterValues,
    PluginConnector, Schema, Value,
};
use ecma_scim::{apply_patch, Filter, FilterError, PatchError, PatchOp};
use parking_lot::RwLock;
use serde_json::Value as Json;

use self::calls::{CallError, PluginCalls};
use self::export::{ExportContext, ExportEngine};
use self::import::{full_import, ImportJob, ImportProgress};
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
        }
    }
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
            shared,
        }))
    }

    /// Run the first full import in the background (if the run profiles include one),
    /// retrying with back-off until it succeeds.
    pub fn start_import(self: &Arc<Self>) {
        if !self.needs_initial_import() {
            return;
        }
        // A weak reference: a version replaced by a reload stops retrying.
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut delay = Duration::from_secs(1);
            while let Some(runtime) = weak.upgrade() {
                match runtime.import_once().await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::error!(connector = %runtime.config.name, error = %e, retry_in_s = delay.as_secs(), "full import failed");
                        *runtime.shared.availability.write() =
                            Availability::ImportFailed(e.to_string());
                    }
                }
                drop(runtime);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
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
        full_import(ImportJob {
            connector: &self.config.name,
            plugin: self.plugin.clone(),
            calls: &self.calls,
            parameters: self.parameters.clone(),
            schema: self.schema.clone(),
            mapping: &self.mapping,
            space: &self.shared.space,
            page_size: self.config.export_page_size.max(500),
            progress: &self.shared.progress,
        })
        .await?;
        *self.shared.availability.write() = Availability::Ready;
        Ok(())
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

impl From<ConnectorError> for RuntimeError {
    fn from(e: ConnectorError) -> Self {
        RuntimeError::Call(CallError::Connector(e))
    }
}
