//! A test-only connector that misbehaves on demand, to prove the host survives it.
//!
//! It keeps `User` objects (anchor `Id`, attributes `Name` and `Mode`) in memory. An export
//! entry whose `Mode` is `panic` panics inside `put_export_entries`; `hang` blocks until the
//! process ends. The connectivity parameter `panic_in` names entry points that panic on every
//! call (`schema`, `capabilities`, `open_import`, `next_page`, `test_connection`).
//!
//! Never ship it: it exists for the host's fault-isolation tests.
#![allow(clippy::panic)] // Panicking on demand is this crate's whole purpose.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ecma_plugin_api::*;

type Store = Arc<Mutex<BTreeMap<String, BTreeMap<String, Value>>>>;

pub struct FaultyConnector {
    store: Store,
}

fn check(values: &ParameterValues, entry_point: &str) {
    if values
        .get("panic_in")
        .is_some_and(|list| list.split(',').any(|p| p.trim() == entry_point))
    {
        panic!("faulty connector: deliberate panic in {entry_point}");
    }
}

fn schema() -> Schema {
    Schema {
        object_types: vec![ObjectTypeSchema {
            name: "User".into(),
            anchor: vec!["Id".into()],
            attributes: vec![
                SchemaAttribute::single("Id", AttributeType::String),
                SchemaAttribute::single("Name", AttributeType::String),
                SchemaAttribute::single("Mode", AttributeType::String),
            ],
        }],
    }
}

impl Connector for FaultyConnector {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "faulty".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test connector that panics or hangs on demand".into(),
        }
    }

    fn new() -> Result<Self, ConnectorError> {
        Ok(Self {
            store: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    fn config_parameters(
        &self,
        page: ConfigPage,
        _: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        Ok(match page {
            ConfigPage::Connectivity => {
                vec![ParameterDefinition::new("panic_in", ParameterKind::String)
                    .with_description("Comma-separated entry points that panic")]
            }
            _ => Vec::new(),
        })
    }

    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        check(values, "capabilities");
        Ok(Capabilities {
            concurrent_operations: true,
            ..Capabilities::default()
        })
    }

    fn schema(&self, values: &ParameterValues) -> Result<Schema, ConnectorError> {
        check(values, "schema");
        Ok(schema())
    }

    fn test_connection(&self, values: &ParameterValues) -> Result<(), ConnectorError> {
        check(values, "test_connection");
        Ok(())
    }

    fn open_import(
        &self,
        values: &ParameterValues,
        _: &Schema,
        _: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        check(values, "open_import");
        let entries = self
            .store
            .lock()
            .map_err(|_| ConnectorError::other("store poisoned"))?
            .iter()
            .map(|(id, attrs)| CsEntryChange {
                identifier: id.clone(),
                object_type: "User".into(),
                dn: id.clone(),
                modification: ObjectModification::Add,
                anchor: vec![AnchorAttribute {
                    name: "Id".into(),
                    value: Value::String(id.clone()),
                }],
                changes: attrs
                    .iter()
                    .map(|(n, v)| {
                        AttributeChange::set(n.clone(), AttributeModification::Add, vec![v.clone()])
                    })
                    .collect(),
            })
            .collect();
        Ok(Box::new(Import {
            entries: Some(entries),
            panic: values
                .get("panic_in")
                .is_some_and(|p| p.contains("next_page")),
        }))
    }

    fn open_export(
        &self,
        _: &ParameterValues,
        _: &Schema,
        _: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        Ok(Box::new(Export {
            store: self.store.clone(),
        }))
    }
}

struct Import {
    entries: Option<Vec<CsEntryChange>>,
    panic: bool,
}

impl ImportSession for Import {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        if self.panic {
            panic!("faulty connector: deliberate panic in next_page");
        }
        Ok(ImportPage {
            entries: self.entries.take().unwrap_or_default(),
            more: false,
        })
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        Ok(String::new())
    }
}

struct Export {
    store: Store,
}

fn text(entry: &CsEntryChange, name: &str) -> Option<String> {
    entry
        .change(name)
        .and_then(|c| c.added_values().next())
        .map(|v| v.to_string())
}

impl ExportSession for Export {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        let mut results = Vec::with_capacity(batch.len());
        for entry in batch {
            match text(&entry, "Mode").as_deref() {
                Some("panic") => panic!("faulty connector: deliberate panic in put_export_entries"),
                Some("hang") => loop {
                    std::thread::park();
                },
                _ => {}
            }
            let id = entry
                .anchor
                .first()
                .map(|a| a.value.to_string())
                .unwrap_or_default();
            let mut store = self
                .store
                .lock()
                .map_err(|_| ConnectorError::other("store poisoned"))?;
            let result = match entry.modification {
                ObjectModification::Add if store.contains_key(&id) => ExportResult::failure(
                    &entry.identifier,
                    ExportErrorKind::ObjectAlreadyExists,
                    "exists",
                ),
                ObjectModification::Delete => match store.remove(&id) {
                    Some(_) => ExportResult::success(&entry.identifier),
                    None => ExportResult::failure(
                        &entry.identifier,
                        ExportErrorKind::NoSuchObject,
                        "missing",
                    ),
                },
                _ => {
                    let attrs = store.entry(id).or_default();
                    for change in &entry.changes {
                        match change.added_values().next() {
                            Some(v) if change.modification != AttributeModification::Delete => {
                                attrs.insert(change.name.clone(), v.clone());
                            }
                            _ => {
                                attrs.remove(&change.name);
                            }
                        }
                    }
                    ExportResult::success(&entry.identifier)
                }
            };
            results.push(result);
        }
        Ok(results)
    }
}

export_connector!(FaultyConnector);
