//! Full import: a session that walks each object type's table in anchor order, one keyset
//! page per call, so memory is bounded by the page size whatever the table size.

use std::sync::Arc;

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, AttributeType, ConnectorError,
    CsEntryChange, ImportPage, ImportSession, ObjectModification, Schema,
};

use crate::config::{type_key, ObjectTypeMap};
use crate::db::Database;
use crate::runtime::Executor;
use crate::sql::{select_page, Bind};
use crate::values::{anchor_text, from_stored, Stored};

/// Page size used when the host asks for pages of zero rows.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// What to read for one object type.
struct Plan {
    object_type: String,
    table: String,
    anchor: String,
    /// Selected columns with the type each is read as.
    columns: Vec<(String, AttributeType)>,
    anchor_index: usize,
    dn_index: Option<usize>,
    /// Whether a selected column becomes an attribute change (the DN column may be selected
    /// only to compute DNs).
    emit: Vec<bool>,
}

impl Plan {
    fn new(
        map: &ObjectTypeMap,
        schema: &ecma_plugin_api::ObjectTypeSchema,
    ) -> Result<Self, ConnectorError> {
        let mut columns = Vec::new();
        let mut emit = Vec::new();
        for attribute in &schema.attributes {
            if map.column(&attribute.name).is_none() {
                return Err(ConnectorError::invalid_configuration(format!(
                    "attribute '{}' of object type '{}' is not a column of table '{}'",
                    attribute.name, map.name, map.table
                )));
            }
            columns.push((attribute.name.clone(), attribute.attribute_type));
            emit.push(true);
        }
        let mut index_of =
            |name: &str, emitted: bool| match columns.iter().position(|(c, _)| c == name) {
                Some(i) => i,
                None => {
                    let t = map
                        .column(name)
                        .map_or(AttributeType::String, |c| c.attribute_type);
                    columns.push((name.to_string(), t));
                    emit.push(emitted);
                    columns.len() - 1
                }
            };
        // The anchor is always reported, as the spec of an imported entry requires.
        let anchor_index = index_of(&map.anchor, true);
        let dn_index = map.dn.as_deref().map(|dn| index_of(dn, false));
        Ok(Self {
            object_type: map.name.clone(),
            table: map.table.clone(),
            anchor: map.anchor.clone(),
            columns,
            anchor_index,
            dn_index,
            emit,
        })
    }

    fn entry(&self, row: Vec<Option<Stored>>) -> Result<Option<CsEntryChange>, ConnectorError> {
        let mut values = Vec::with_capacity(row.len());
        for (cell, (name, attribute_type)) in row.into_iter().zip(&self.columns) {
            let value = match cell {
                Some(stored) => Some(from_stored(stored, *attribute_type).map_err(|problem| {
                    ConnectorError::other(format!(
                        "column '{name}' of table '{}' {problem}; set parameter '{}' to the type it holds",
                        self.table,
                        type_key(&self.object_type, name)
                    ))
                })?),
                None => None,
            };
            values.push(value);
        }
        // The query excludes NULL anchors; this only guards against a short row.
        let Some(Some(anchor)) = values.get(self.anchor_index).cloned() else {
            return Ok(None);
        };
        let identifier = anchor_text(&anchor);
        let dn = self
            .dn_index
            .and_then(|i| values.get(i).cloned().flatten())
            .map(|v| anchor_text(&v))
            .filter(|dn| !dn.is_empty())
            .unwrap_or_else(|| identifier.clone());
        let changes = values
            .into_iter()
            .zip(&self.columns)
            .zip(&self.emit)
            .filter_map(|((value, (name, _)), emit)| {
                let value = value.filter(|_| *emit)?;
                Some(AttributeChange::set(
                    name.clone(),
                    AttributeModification::Add,
                    vec![value],
                ))
            })
            .collect();
        Ok(Some(CsEntryChange {
            identifier,
            object_type: self.object_type.clone(),
            dn,
            modification: ObjectModification::Add,
            anchor: vec![AnchorAttribute {
                name: self.anchor.clone(),
                value: anchor,
            }],
            changes,
        }))
    }
}

pub(crate) struct SqlImportSession {
    executor: Arc<Executor>,
    db: Database,
    page_size: usize,
    plans: Vec<Plan>,
    /// Index of the object type being read.
    current: usize,
    /// The anchor of the last row returned for the current object type, as stored.
    after: Option<Bind>,
}

impl SqlImportSession {
    pub(crate) fn new(
        executor: Arc<Executor>,
        db: Database,
        maps: &[ObjectTypeMap],
        schema: &Schema,
        page_size: u32,
    ) -> Result<Self, ConnectorError> {
        let plans = schema
            .object_types
            .iter()
            .map(|object_type| {
                let map = maps
                    .iter()
                    .find(|m| m.name == object_type.name)
                    .ok_or_else(|| {
                        ConnectorError::invalid_configuration(format!(
                            "object type '{}' is not listed in parameter 'object_types'",
                            object_type.name
                        ))
                    })?;
                Plan::new(map, object_type)
            })
            .collect::<Result<_, _>>()?;
        let page_size = match usize::try_from(page_size) {
            Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
            Ok(n) => n,
        };
        Ok(Self {
            executor,
            db,
            page_size,
            plans,
            current: 0,
            after: None,
        })
    }
}

impl ImportSession for SqlImportSession {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        while let Some(plan) = self.plans.get(self.current) {
            let names: Vec<String> = plan.columns.iter().map(|(name, _)| name.clone()).collect();
            // One row beyond the page tells whether another page follows, so the last page
            // is never an empty one.
            let limit = i64::try_from(self.page_size + 1).unwrap_or(i64::MAX);
            let statement = select_page(
                self.db.dialect(),
                &plan.table,
                &names,
                &plan.anchor,
                self.after.take(),
                limit,
            );
            let mut rows = self.executor.block_on(self.db.fetch(&statement))??;
            let exhausted = rows.len() <= self.page_size;
            rows.truncate(self.page_size);
            self.after = rows
                .last()
                .and_then(|row| row.get(plan.anchor_index).cloned().flatten())
                .map(|stored| stored.to_bind());

            let mut entries = Vec::with_capacity(rows.len());
            for row in rows {
                entries.extend(plan.entry(row)?);
            }
            if exhausted {
                self.current += 1;
                self.after = None;
            }
            let more = !exhausted || self.current < self.plans.len();
            if !entries.is_empty() || !more {
                return Ok(ImportPage { entries, more });
            }
        }
        Ok(ImportPage {
            entries: Vec::new(),
            more: false,
        })
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        // No delta import yet, so there is no position to remember.
        Ok(String::new())
    }
}
