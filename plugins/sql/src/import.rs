//! Full and delta import: a session that reads each object type in turn, streaming rows from
//! the database in page-sized chunks through a bounded channel, so the plugin's memory is a few
//! pages whatever the table size.
//!
//! Per object type, an import is one or two phases:
//! - full import: every row of the import source, as `Add` entries;
//! - watermark delta: the delta source's rows past the last watermark, as `Replace` (or
//!   `Delete`, by the operation column);
//! - change-tracking delta: the change table's anchors since the last seen id; each chunk of
//!   anchors is looked up in the import source: found is `Replace`, gone is `Delete`;
//! - snapshot delta: every row, compared with its recorded digest (new is `Add`, changed is
//!   `Replace`, unchanged is skipped), then a second phase of `Delete`s for recorded anchors not
//!   seen. A full import with this strategy records the digests.
//!
//! Multi-valued attributes are read per chunk from their child tables with one
//! `key IN (...)` query each.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeDirection, AttributeModification, AttributeType,
    ConnectorError, CsEntryChange, ImportKind, ImportPage, ImportRequest, ImportSession,
    ObjectModification, ObjectTypeSchema, Schema, Value,
};

use crate::config::{
    type_key, ChildTable, DeltaStrategy, Global, ObjectTypeMap, Settings, SPECIAL_WATERMARK,
};
use crate::db::{Database, Row, RowStream};
use crate::delta;
use crate::runtime::Executor;
use crate::source::{Filter, Shape, Source};
use crate::sql::{Bind, Statement};
use crate::values::{anchor_identifier, anchor_text, from_stored, to_bind, DateTimeFormat, Stored};

/// Page size used when the host asks for pages of zero rows.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// What to read for one object type, and how a row becomes an entry.
struct Plan {
    map: ObjectTypeMap,
    /// Selected columns: name, type read as, declared type.
    columns: Vec<(String, AttributeType, Option<String>)>,
    /// Whether a selected column becomes an attribute change (the DN and operation columns may
    /// be selected only to be looked at).
    emit: Vec<bool>,
    /// Where each anchor column is, in the anchor's order.
    anchor_indexes: Vec<usize>,
    dn_index: Option<usize>,
    operation_index: Option<usize>,
    /// Multi-valued attributes read, with the type their values are read as.
    children: Vec<(ChildTable, AttributeType)>,
}

impl Plan {
    fn new(map: &ObjectTypeMap, schema: &ObjectTypeSchema) -> Result<Self, ConnectorError> {
        let mut columns = Vec::new();
        let mut emit = Vec::new();
        let mut children = Vec::new();
        for attribute in &schema.attributes {
            if attribute.direction == AttributeDirection::ExportOnly {
                continue;
            }
            if let Some(column) = map.column(&attribute.name) {
                if column.direction == AttributeDirection::ExportOnly {
                    continue;
                }
                columns.push((
                    attribute.name.clone(),
                    attribute.attribute_type,
                    column.declared().map(str::to_string),
                ));
                emit.push(true);
            } else if let Some(child) = map.child(&attribute.name) {
                if child.value.direction != AttributeDirection::ExportOnly {
                    children.push((child.clone(), attribute.attribute_type));
                }
            } else {
                return Err(ConnectorError::invalid_configuration(format!(
                    "attribute '{}' of object type '{}' is not a column of {}",
                    attribute.name,
                    map.name,
                    map.source.describe()
                )));
            }
        }
        let mut index_of =
            |name: &str, emitted: bool| match columns.iter().position(|(c, _, _)| c == name) {
                Some(i) => i,
                None => {
                    let column = map.column(name);
                    columns.push((
                        name.to_string(),
                        column.map_or(AttributeType::String, |c| c.attribute_type),
                        column.and_then(|c| c.declared().map(str::to_string)),
                    ));
                    emit.push(emitted);
                    columns.len() - 1
                }
            };
        // The anchor is always reported, as the spec of an imported entry requires.
        let anchor_indexes = map.anchor.iter().map(|a| index_of(a, true)).collect();
        let dn_index = map.dn.as_deref().map(|dn| index_of(dn, false));
        Ok(Self {
            map: map.clone(),
            columns,
            emit,
            anchor_indexes,
            dn_index,
            operation_index: None,
            children,
        })
    }

    fn items(&self) -> Vec<(String, Option<String>)> {
        self.columns
            .iter()
            .map(|(name, _, declared)| (name.clone(), declared.clone()))
            .collect()
    }

    /// The first anchor column: the whole anchor wherever a single-column one is required
    /// (change tracking and snapshots, which configuration refuses for several columns).
    fn first_anchor(&self) -> Option<&(String, AttributeType, Option<String>)> {
        self.anchor_indexes
            .first()
            .and_then(|i| self.columns.get(*i))
    }

    fn anchor_name(&self) -> &str {
        self.map.anchor.first().map_or("", String::as_str)
    }

    /// The type of each anchor column, in the anchor's order.
    fn anchor_types(&self) -> Vec<AttributeType> {
        self.anchor_indexes
            .iter()
            .filter_map(|i| self.columns.get(*i))
            .map(|(_, t, _)| *t)
            .collect()
    }

    fn anchor_type(&self) -> AttributeType {
        self.first_anchor()
            .map_or(AttributeType::String, |(_, t, _)| *t)
    }

    fn anchor_declared(&self) -> Option<&str> {
        self.first_anchor().and_then(|(_, _, d)| d.as_deref())
    }

    /// An anchor's text (from the change or snapshot table) as the value to look it up by.
    fn anchor_bind(&self, text: &str) -> Bind {
        to_bind(&Value::String(text.to_string()), self.anchor_type())
            .unwrap_or_else(|_| Bind::Text(text.to_string()))
    }

    /// An anchor's text (from the snapshot table: [`anchor_text`], hex for binary anchors) as
    /// the anchor value.
    fn anchor_value(&self, text: &str) -> Value {
        match self.anchor_type() {
            AttributeType::Integer => text
                .parse()
                .map_or_else(|_| Value::String(text.to_string()), Value::Integer),
            AttributeType::Reference => Value::Reference(text.to_string()),
            AttributeType::Binary => {
                hex::decode(text).map_or_else(|_| Value::String(text.to_string()), Value::Binary)
            }
            _ => Value::String(text.to_string()),
        }
    }

    /// A row as an entry with `modification`; `None` for a row without an anchor.
    fn entry(
        &self,
        row: Row,
        modification: ObjectModification,
        format: &DateTimeFormat,
    ) -> Result<Option<CsEntryChange>, ConnectorError> {
        let mut values = Vec::with_capacity(row.len());
        for (cell, (name, attribute_type, _)) in row.into_iter().zip(&self.columns) {
            let value = match cell {
                Some(stored) => Some(from_stored(stored, *attribute_type, format).map_err(
                    |problem| {
                        ConnectorError::other(format!(
                        "column '{name}' of {} {problem}; set parameter '{}' to the type it holds",
                        self.map.import.describe(),
                        type_key(&self.map.name, name)
                    ))
                    },
                )?),
                None => None,
            };
            values.push(value);
        }
        let mut anchor = Vec::with_capacity(self.anchor_indexes.len());
        for (i, name) in self.anchor_indexes.iter().zip(&self.map.anchor) {
            // A row with a NULL anchor component cannot be addressed: it is not an object.
            let Some(Some(value)) = values.get(*i).cloned() else {
                return Ok(None);
            };
            anchor.push(AnchorAttribute {
                name: name.clone(),
                value,
            });
        }
        let modification = match self
            .operation_index
            .and_then(|i| values.get(i).cloned().flatten())
        {
            Some(op) if is_delete_marker(&op) => ObjectModification::Delete,
            _ => modification,
        };
        let identifier = anchor_identifier(anchor.iter().map(|a| &a.value));
        let dn = self
            .dn_index
            .and_then(|i| values.get(i).cloned().flatten())
            .map(|v| anchor_text(&v))
            .filter(|dn| !dn.is_empty())
            .unwrap_or_else(|| identifier.clone());
        let changes = if modification == ObjectModification::Delete {
            Vec::new()
        } else {
            values
                .into_iter()
                .zip(&self.columns)
                .zip(&self.emit)
                .filter_map(|((value, (name, _, _)), emit)| {
                    let value = value.filter(|_| *emit)?;
                    Some(AttributeChange::set(
                        name.clone(),
                        AttributeModification::Add,
                        vec![value],
                    ))
                })
                .collect()
        };
        Ok(Some(CsEntryChange {
            identifier,
            object_type: self.map.name.clone(),
            dn,
            modification,
            anchor,
            changes,
        }))
    }

    /// A `Delete` entry for an object known only by its anchor text.
    fn deletion(&self, anchor: &str) -> CsEntryChange {
        CsEntryChange {
            identifier: anchor.to_string(),
            object_type: self.map.name.clone(),
            dn: anchor.to_string(),
            modification: ObjectModification::Delete,
            anchor: vec![AnchorAttribute {
                name: self.anchor_name().to_string(),
                value: self.anchor_value(anchor),
            }],
            changes: Vec::new(),
        }
    }
}

/// Whether an operation column's value marks a deleted row.
fn is_delete_marker(value: &Value) -> bool {
    match value {
        Value::String(s) | Value::Reference(s) => {
            let s = s.trim();
            s.eq_ignore_ascii_case("delete")
                || s.eq_ignore_ascii_case("deleted")
                || s.eq_ignore_ascii_case("d")
        }
        Value::Boolean(b) => *b,
        _ => false,
    }
}

/// What a phase does with each chunk of rows.
enum Mode {
    /// Each row is an entry with this modification.
    Rows(ObjectModification),
    /// Rows compared with (and recorded in) the snapshot; `report_all` for a full import.
    Snapshot { generation: i64, report_all: bool },
    /// Each row is an anchor from the change table, to be looked up.
    Changes,
    /// Each row is a vanished anchor from the snapshot table.
    Vanished,
}

/// One streaming query and what its rows mean.
struct Phase {
    stream: RowStream,
    /// The next chunk, read ahead so that a page knows whether another follows.
    pending: Option<Vec<Row>>,
    exhausted: bool,
    mode: Mode,
    /// For procedure sources that return whole rows: where each planned column is.
    projection: Option<Vec<usize>>,
}

impl Phase {
    async fn next(&mut self) -> Result<Option<Vec<Row>>, ConnectorError> {
        let chunk = match self.pending.take() {
            Some(chunk) => Some(chunk),
            None if self.exhausted => None,
            None => self.stream.next().await.transpose()?,
        };
        if chunk.is_none() {
            self.exhausted = true;
            return Ok(None);
        }
        self.pending = self.stream.next().await.transpose()?;
        self.exhausted = self.pending.is_none();
        Ok(chunk)
    }

    fn has_more(&self) -> bool {
        self.pending.is_some()
    }
}

/// What the run returns as its watermark, and what `close` must tidy up.
enum Run {
    Plain,
    Watermark {
        next: Option<Stored>,
        since: Option<Bind>,
    },
    Changes {
        after: i64,
        upto: i64,
    },
    Snapshot {
        generations: Vec<Option<i64>>,
    },
}

pub(crate) struct SqlImportSession {
    executor: Arc<Executor>,
    db: Database,
    global: Global,
    kind: ImportKind,
    page_size: usize,
    plans: Vec<Plan>,
    /// Index of the object type being read, and its phase (0 or 1).
    current: usize,
    step: usize,
    phase: Option<Phase>,
    run: Run,
}

impl SqlImportSession {
    /// Open the session: check the configuration, create change-tracking or snapshot objects
    /// when asked, and take the new watermark before any row is read, so that changes made
    /// while this import runs are seen again by the next delta.
    pub(crate) async fn open(
        executor: Arc<Executor>,
        db: Database,
        settings: Settings,
        schema: &Schema,
        request: &ImportRequest,
    ) -> Result<Self, ConnectorError> {
        let plans = schema
            .object_types
            .iter()
            .map(|object_type| {
                let map = settings.object_type(&object_type.name).ok_or_else(|| {
                    ConnectorError::invalid_configuration(format!(
                        "object type '{}' is not one of this connector's object types",
                        object_type.name
                    ))
                })?;
                Plan::new(map, object_type)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let page_size = match usize::try_from(request.page_size) {
            Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
            Ok(n) => n,
        };
        let global = settings.global.clone();
        let delta = request.kind == ImportKind::Delta;
        let run = match global.strategy {
            DeltaStrategy::None if delta => {
                return Err(ConnectorError::not_supported(
                    "delta import without a delta strategy (Global page)",
                ))
            }
            DeltaStrategy::None => Run::Plain,
            DeltaStrategy::Watermark => {
                let since = if delta {
                    Some(delta::decode_watermark(&request.watermark)?)
                } else {
                    None
                };
                let query = global.watermark_query.clone().unwrap_or_default();
                let rows = db.fetch(&Statement::plain(query)).await.map_err(|e| {
                    ConnectorError::other(format!("the watermark query failed: {e}"))
                })?;
                let next = rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next().flatten());
                Run::Watermark { next, since }
            }
            DeltaStrategy::ChangeTracking => {
                let maps: Vec<ObjectTypeMap> = plans.iter().map(|p| p.map.clone()).collect();
                if global.create_change_tracking {
                    delta::ensure_change_tracking(&db, &global.change_table, &maps).await?;
                }
                let after = if delta {
                    delta::decode_change(&request.watermark)?
                } else {
                    0
                };
                let upto = delta::last_change(&db, &global.change_table).await?;
                Run::Changes { after, upto }
            }
            DeltaStrategy::Snapshot => {
                delta::ensure_snapshot(&db, &global.snapshot_table).await?;
                Run::Snapshot {
                    generations: vec![None; plans.len()],
                }
            }
        };
        let mut session = Self {
            executor,
            db,
            global,
            kind: request.kind,
            page_size,
            plans,
            current: 0,
            step: 0,
            phase: None,
            run,
        };
        // Check every plan's source now, so that a bad configuration fails the open call.
        for i in 0..session.plans.len() {
            session.check_source(i)?;
        }
        Ok(session)
    }

    fn check_source(&mut self, i: usize) -> Result<(), ConnectorError> {
        let dialect = self.db.dialect();
        let plan = &mut self.plans[i];
        let changes = matches!(self.run, Run::Changes { .. }) && self.kind == ImportKind::Delta;
        if changes && plan.map.import.is_call(dialect) {
            return Err(ConnectorError::invalid_configuration(format!(
                "change tracking looks {} up by anchor, which a procedure that is CALLed cannot do; \
                 import from a table, a view or an SQL query",
                plan.map.name
            )));
        }
        if matches!(self.run, Run::Watermark { .. }) && self.kind == ImportKind::Delta {
            if let Some(column) = plan.map.delta.operation_column.clone() {
                let index = plan.columns.iter().position(|(c, _, _)| *c == column);
                plan.operation_index = Some(match index {
                    Some(i) => i,
                    None => {
                        plan.columns.push((column, AttributeType::String, None));
                        plan.emit.push(false);
                        plan.columns.len() - 1
                    }
                });
            }
        }
        Ok(())
    }

    /// The source this run reads for `plan`, and the filter that applies.
    fn source_of(&self, plan: &Plan) -> (Source, bool) {
        match (&self.run, self.kind) {
            (Run::Watermark { .. }, ImportKind::Delta) => (plan.map.delta.source.clone(), true),
            _ => (plan.map.import.clone(), false),
        }
    }

    /// Start phase `step` of plan `index`; `None` when the plan has no such phase.
    async fn start(&mut self, index: usize, step: usize) -> Result<Option<Phase>, ConnectorError> {
        let dialect = self.db.dialect();
        let delta = self.kind == ImportKind::Delta;
        let plan = &self.plans[index];
        let (statement, mode, projection) = match (&self.run, step) {
            (Run::Changes { after, upto }, 0) if delta => (
                delta::changes_since(
                    dialect,
                    &self.global.change_table,
                    &plan.map.name,
                    *after,
                    *upto,
                ),
                Mode::Changes,
                None,
            ),
            (Run::Snapshot { generations }, 1) if delta => {
                let Some(generation) = generations[index] else {
                    return Ok(None);
                };
                (
                    delta::vanished(
                        dialect,
                        &self.global.snapshot_table,
                        &plan.map.name,
                        generation,
                    ),
                    Mode::Vanished,
                    None,
                )
            }
            (_, 0) => {
                let (source, is_delta_source) = self.source_of(plan);
                let since = match &self.run {
                    Run::Watermark { since, .. } => since.clone(),
                    _ => None,
                };
                let filter = match (
                    &since,
                    &plan.map.delta.watermark_column,
                    is_delta_source,
                    &source,
                ) {
                    (Some(value), Some(column), true, Source::Table(_) | Source::View(_)) => {
                        Filter::After {
                            column,
                            value: value.clone(),
                        }
                    }
                    _ => Filter::NotNull(plan.anchor_name()),
                };
                let parameter = |name: &str| -> Option<Bind> {
                    if name.eq_ignore_ascii_case(SPECIAL_WATERMARK) {
                        since.clone()
                    } else {
                        None
                    }
                };
                let (statement, shape) =
                    source.select(dialect, &plan.items(), filter, &parameter)?;
                let projection = match shape {
                    Shape::Items => None,
                    Shape::Whole => Some(self.projection(plan, &source).await?),
                };
                let mode = if matches!(self.run, Run::Snapshot { .. }) {
                    let generation = delta::next_generation(
                        &self.db,
                        &self.global.snapshot_table,
                        &plan.map.name,
                    )
                    .await?;
                    if let Run::Snapshot { generations } = &mut self.run {
                        generations[index] = Some(generation);
                    }
                    Mode::Snapshot {
                        generation,
                        report_all: !delta,
                    }
                } else if delta {
                    Mode::Rows(ObjectModification::Replace)
                } else {
                    Mode::Rows(ObjectModification::Add)
                };
                (statement, mode, projection)
            }
            _ => return Ok(None),
        };
        let stream = self.db.stream(statement, self.page_size)?;
        Ok(Some(Phase {
            stream,
            pending: None,
            exhausted: false,
            mode,
            projection,
        }))
    }

    /// Where each planned column sits in the rows of a `CALL`ed procedure: by the detected
    /// columns when the procedure is the one attributes were detected from, else by describing
    /// it (which, in MySQL, runs it once).
    async fn projection(&self, plan: &Plan, source: &Source) -> Result<Vec<usize>, ConnectorError> {
        let names: Vec<String> = if *source == plan.map.source {
            plan.map.columns.iter().map(|c| c.name.clone()).collect()
        } else {
            let statement = source.select_all(self.db.dialect())?;
            self.db
                .describe(&statement.sql)
                .await?
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        plan.columns
            .iter()
            .map(|(column, _, _)| {
                names.iter().position(|n| n == column).ok_or_else(|| {
                    ConnectorError::invalid_configuration(format!(
                        "{} returns no column '{column}'",
                        source.describe()
                    ))
                })
            })
            .collect()
    }

    /// Whether anything follows the current phase.
    fn later_work(&self) -> bool {
        let more_phases = self.step == 0
            && self.kind == ImportKind::Delta
            && matches!(self.run, Run::Snapshot { .. });
        more_phases || self.current + 1 < self.plans.len()
    }

    async fn next_page_async(&mut self) -> Result<ImportPage, ConnectorError> {
        while self.current < self.plans.len() {
            let mut phase = match self.phase.take() {
                Some(phase) => phase,
                None => match self.start(self.current, self.step).await? {
                    Some(phase) => phase,
                    None => {
                        self.advance();
                        continue;
                    }
                },
            };
            let Some(chunk) = phase.next().await? else {
                self.step += 1;
                if self.step > 1 {
                    self.advance();
                }
                continue;
            };
            let entries = self.entries(&phase, chunk).await?;
            let more = phase.has_more() || self.later_work();
            self.phase = Some(phase);
            if !more {
                self.current = self.plans.len();
                self.phase = None;
            }
            if !entries.is_empty() || !more {
                return Ok(ImportPage { entries, more });
            }
        }
        Ok(ImportPage {
            entries: Vec::new(),
            more: false,
        })
    }

    fn advance(&mut self) {
        self.current += 1;
        self.step = 0;
        self.phase = None;
    }

    /// The entries one chunk of rows yields in `phase`.
    async fn entries(
        &self,
        phase: &Phase,
        chunk: Vec<Row>,
    ) -> Result<Vec<CsEntryChange>, ConnectorError> {
        let plan = &self.plans[self.current];
        let format = &self.global.format;
        let project = |row: Row| -> Row {
            match &phase.projection {
                Some(indexes) => indexes
                    .iter()
                    .map(|i| row.get(*i).cloned().flatten())
                    .collect(),
                None => row,
            }
        };
        match &phase.mode {
            Mode::Rows(modification) => {
                let mut entries = Vec::with_capacity(chunk.len());
                for row in chunk {
                    entries.extend(plan.entry(project(row), *modification, format)?);
                }
                self.attach_children(plan, &mut entries).await?;
                Ok(entries)
            }
            Mode::Snapshot {
                generation,
                report_all,
            } => {
                let mut entries = Vec::with_capacity(chunk.len());
                for row in chunk {
                    entries.extend(plan.entry(project(row), ObjectModification::Add, format)?);
                }
                self.attach_children(plan, &mut entries).await?;
                self.compare_with_snapshot(plan, entries, *generation, *report_all)
                    .await
            }
            Mode::Changes => {
                let mut seen = HashSet::new();
                let anchors: Vec<String> = chunk
                    .into_iter()
                    .filter_map(|row| row.into_iter().next().flatten())
                    .map(|stored| match stored {
                        Stored::Text(s) => s,
                        Stored::Integer(i) => i.to_string(),
                        other => format!("{other:?}"),
                    })
                    .filter(|anchor| seen.insert(anchor.clone()))
                    .collect();
                self.look_up(plan, &anchors).await
            }
            Mode::Vanished => Ok(chunk
                .into_iter()
                .filter_map(|row| row.into_iter().next().flatten())
                .filter_map(|stored| match stored {
                    Stored::Text(s) => Some(s),
                    Stored::Integer(i) => Some(i.to_string()),
                    _ => None,
                })
                .map(|anchor| plan.deletion(&anchor))
                .collect()),
        }
    }

    /// The current rows of `anchors`: `Replace` for those found, `Delete` for the others.
    async fn look_up(
        &self,
        plan: &Plan,
        anchors: &[String],
    ) -> Result<Vec<CsEntryChange>, ConnectorError> {
        let mut found: Vec<CsEntryChange> = Vec::new();
        for part in anchors.chunks(IN_LIST_LIMIT) {
            let filter = Filter::In {
                column: plan.anchor_name(),
                values: part.iter().map(|a| plan.anchor_bind(a)).collect(),
                declared: plan.anchor_declared(),
            };
            let (statement, _) =
                plan.map
                    .import
                    .select(self.db.dialect(), &plan.items(), filter, &|_| None)?;
            for row in self.db.fetch(&statement).await? {
                found.extend(plan.entry(row, ObjectModification::Replace, &self.global.format)?);
            }
        }
        self.attach_children(plan, &mut found).await?;
        let present: HashSet<String> = found.iter().map(|e| e.identifier.clone()).collect();
        found.extend(
            anchors
                .iter()
                .filter(|a| !present.contains(*a))
                .map(|a| plan.deletion(a)),
        );
        Ok(found)
    }

    /// Add each multi-valued attribute's values to the entries, read from the child tables for
    /// all of them at once.
    async fn attach_children(
        &self,
        plan: &Plan,
        entries: &mut [CsEntryChange],
    ) -> Result<(), ConnectorError> {
        if plan.children.is_empty() || entries.is_empty() {
            return Ok(());
        }
        let dialect = self.db.dialect();
        let index: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.modification != ObjectModification::Delete)
            .map(|(i, e)| (e.identifier.clone(), i))
            .collect();
        let types = plan.anchor_types();
        // Each object's anchor values, in the anchor's order, as the child rows hold them.
        let keys: Vec<Vec<Bind>> = entries
            .iter()
            .filter(|e| e.modification != ObjectModification::Delete)
            .filter_map(|e| {
                plan.map
                    .anchor
                    .iter()
                    .zip(&types)
                    .map(|(name, t)| to_bind(e.anchor_value(name)?, *t).ok())
                    .collect::<Option<Vec<Bind>>>()
            })
            .collect();
        let per_query = match types.len() {
            0 | 1 => IN_LIST_LIMIT,
            _ => KEY_TUPLES_LIMIT,
        };
        for (child, attribute_type) in &plan.children {
            let mut values: Vec<Vec<Value>> = vec![Vec::new(); entries.len()];
            let key_columns: Vec<(&str, Option<&str>)> = child
                .key_columns
                .iter()
                .zip(&child.key_declared)
                .map(|(column, declared)| {
                    (
                        column.as_str(),
                        Some(declared.as_str()).filter(|d| !d.is_empty()),
                    )
                })
                .collect();
            for part in keys.chunks(per_query) {
                let mut b = crate::sql::StatementBuilder::new(dialect);
                b.sql("SELECT ")
                    .ident_list(child.key_columns.iter().map(String::as_str))
                    .sql(", ")
                    .sql(&dialect.select_item(&child.value.name, child.value.declared()))
                    .sql(" FROM ")
                    .ident(&child.table)
                    .sql(" WHERE ")
                    .tuples_in(&key_columns, part.iter().cloned());
                for row in self.db.fetch(&b.finish()).await? {
                    let mut cells = row.into_iter();
                    let mut key = Vec::with_capacity(types.len());
                    for t in &types {
                        let Some(Some(stored)) = cells.next() else {
                            break;
                        };
                        key.push(
                            from_stored(stored, *t, &self.global.format)
                                .map_err(ConnectorError::other)?,
                        );
                    }
                    let (true, Some(Some(value))) = (key.len() == types.len(), cells.next()) else {
                        continue;
                    };
                    let key = anchor_identifier(&key);
                    let value = from_stored(value, *attribute_type, &self.global.format).map_err(|problem| {
                        ConnectorError::other(format!(
                            "column '{}' of table '{}' {problem}; set parameter '{}' to the type it holds",
                            child.value.name,
                            child.table,
                            type_key(&plan.map.name, &child.value.name)
                        ))
                    })?;
                    if let Some(i) = index.get(&key) {
                        values[*i].push(value);
                    }
                }
            }
            for (entry, mut values) in entries.iter_mut().zip(values) {
                if !values.is_empty() {
                    // A stable order, so that snapshots of the same values compare equal.
                    values.sort();
                    entry.changes.push(AttributeChange::set(
                        child.value.name.clone(),
                        AttributeModification::Add,
                        values,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Compare a chunk's objects with their recorded digests, record the new digests under
    /// `generation`, and return what changed (or, for a full import, everything).
    async fn compare_with_snapshot(
        &self,
        plan: &Plan,
        entries: Vec<CsEntryChange>,
        generation: i64,
        report_all: bool,
    ) -> Result<Vec<CsEntryChange>, ConnectorError> {
        let dialect = self.db.dialect();
        let table = &self.global.snapshot_table;
        let object_type = &plan.map.name;
        let mut recorded: HashMap<String, String> = HashMap::new();
        if !report_all {
            let anchors: Vec<String> = entries.iter().map(|e| e.identifier.clone()).collect();
            for part in anchors.chunks(IN_LIST_LIMIT) {
                let statement = delta::recorded_digests(dialect, table, object_type, part);
                for row in self.db.fetch(&statement).await? {
                    let mut cells = row.into_iter();
                    if let (Some(Some(Stored::Text(anchor))), Some(Some(Stored::Text(digest)))) =
                        (cells.next(), cells.next())
                    {
                        recorded.insert(anchor, digest.trim().to_string());
                    }
                }
            }
        }
        let mut changed = Vec::new();
        let mut unchanged = Vec::new();
        let mut report = Vec::new();
        for mut entry in entries {
            let digest = delta::digest(&entry);
            match recorded.get(&entry.identifier) {
                Some(old) if *old == digest && !report_all => unchanged.push(entry.identifier),
                old => {
                    if old.is_some() && !report_all {
                        entry.modification = ObjectModification::Replace;
                    }
                    changed.push((entry.identifier.clone(), digest));
                    report.push(entry);
                }
            }
        }
        // Upserts are batched to stay well under every database's parameter limit.
        let operations: Vec<_> = changed
            .chunks(IN_LIST_LIMIT / 4)
            .map(|part| delta::record_digests(dialect, table, object_type, generation, part))
            .collect();
        if !operations.is_empty() {
            for outcome in self.db.apply_batch(&operations).await? {
                if let crate::db::Outcome::Failed(e) = outcome {
                    return Err(ConnectorError::other(format!(
                        "cannot record the snapshot in '{table}': {e}"
                    )));
                }
            }
        }
        for part in unchanged.chunks(IN_LIST_LIMIT) {
            self.db
                .execute(&delta::touch_digests(
                    dialect,
                    table,
                    object_type,
                    generation,
                    part,
                ))
                .await?;
        }
        Ok(report)
    }

    async fn close_async(&mut self) -> Result<String, ConnectorError> {
        self.phase = None;
        Ok(match &self.run {
            Run::Plain => String::new(),
            Run::Watermark { next, .. } => next
                .as_ref()
                .map(delta::encode_watermark)
                .unwrap_or_default(),
            Run::Changes { upto, .. } => delta::encode_change(*upto),
            Run::Snapshot { generations } => {
                // Objects not seen in this run are gone: their rows were reported (delta) or
                // never belonged to the new baseline (full).
                let dialect = self.db.dialect();
                for (plan, generation) in self.plans.iter().zip(generations) {
                    if let Some(generation) = generation {
                        self.db
                            .execute(&delta::forget_vanished(
                                dialect,
                                &self.global.snapshot_table,
                                &plan.map.name,
                                *generation,
                            ))
                            .await?;
                    }
                }
                delta::encode_snapshot(generations.iter().flatten().copied().max().unwrap_or(0))
            }
        })
    }
}

/// Values per `IN (...)` list: far below every database's parameter limit (SQLite's is 32766).
const IN_LIST_LIMIT: usize = 2000;
/// Anchors per `(a = ? AND b = ?) OR ...` list of a multi-column anchor: each `OR` nests one
/// level deeper, and SQLite refuses expressions deeper than 1000.
const KEY_TUPLES_LIMIT: usize = 250;

impl ImportSession for SqlImportSession {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        let executor = self.executor.clone();
        executor.block_on(self.next_page_async())?
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        let executor = self.executor.clone();
        executor.block_on(self.close_async())?
    }
}
