//! A test-only connector that misbehaves on demand, to prove the host survives it.
//!
//! It keeps `User` objects (anchor `Id`, attributes `Name`, `Mode` and the import-only
//! `PasswordSet`) in memory. Two kinds of
//! trigger:
//! - per entry: an export entry whose `Mode` is `panic` panics inside `put_export_entries`;
//!   `hang` blocks until the process ends; `segfault` dereferences a null pointer (SIGSEGV) and
//!   `abort` aborts the process (SIGABRT), which no `catch_unwind` can stop;
//! - per entry point: the connectivity parameters `panic_in`, `hang_in`, `segfault_in` and
//!   `abort_in` are comma-separated lists of entry points that panic (block, segfault, abort)
//!   on every call:
//!   `config_parameters`, `validate_page`, `capabilities`, `schema`, `test_connection`,
//!   `open_import`, `next_page`, `open_export`, `put_export_entries`.
//!
//! It also logs on known calls, for the log-channel tests: `log::info!` when it is built and
//! for each exported entry (with an `id` field), `log::debug!` once per export batch (which a
//! host at `info` must never see), and `tracing::info!` when an import opens.
//!
//! It can also pose as a partitioned directory, for the host's partition tests: the
//! connectivity parameter `partitions` (DNs separated by `;`) turns on the `partitions`
//! capability and lists them, `containers` (`;`-separated DNs) turns on `hierarchy` and lists
//! each under the partition its DN ends with, and `record_to` names a file to which every
//! `open_import` and `open_export` appends one line, `open_import <partition>` or
//! `open_export <partition>`, so a test can read which partition the host named (and one line
//! per exported entry, `export <modification> <id> <attribute,...>`). An object
//! lives in the partition its add was exported to, and an import of a partition returns only
//! its objects.
//!
//! For the restart tests it can keep its objects in a file and hold its imports: with
//! `store_file`, every `open_import` reads the objects from that file (one line per object: the
//! `Id`, then tab-separated attribute names and `s:`/`r:`-prefixed string or reference values),
//! so a test can change the target behind the host's back, and every export batch writes them
//! back; with `import_gate`, `next_page` waits while that file exists (up to two minutes).
//!
//! The connectivity parameter `two_pass = true` declares
//! `no_reference_values_in_first_export_pass`; `Manager` is a reference attribute.
//!
//! Never ship it: it exists for the host's fault-isolation and partition tests.
#![allow(clippy::panic)] // Panicking on demand is this crate's whole purpose.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ecma_plugin_api::*;

type Store = Arc<Mutex<BTreeMap<String, BTreeMap<String, Value>>>>;
/// The partition each object was added in, by `Id`.
type Homes = Arc<Mutex<BTreeMap<String, String>>>;

pub struct FaultyConnector {
    store: Store,
    homes: Homes,
}

/// The `;`-separated DNs in parameter `parameter`.
fn list(values: &ParameterValues, parameter: &str) -> Vec<String> {
    values
        .get(parameter)
        .map(|list| {
            list.split(';')
                .map(str::trim)
                .filter(|dn| !dn.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The first RDN's value: `People` for `ou=People,dc=example`.
fn rdn_value(dn: &str) -> String {
    let first = dn.split(',').next().unwrap_or(dn);
    first
        .split_once('=')
        .map_or(first, |(_, v)| v)
        .trim()
        .to_string()
}

/// Append `line` to the `record_to` file, if there is one.
fn record(values: &ParameterValues, line: &str) -> Result<(), ConnectorError> {
    let Some(file) = values.get("record_to").filter(|f| !f.is_empty()) else {
        return Ok(());
    };
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .and_then(|mut f| writeln!(f, "{line}"))
        .map_err(|e| ConnectorError::other(format!("cannot record to {file}: {e}")))
}

/// Whether the comma-separated list in parameter `parameter` names `entry_point`.
fn listed(values: &ParameterValues, parameter: &str, entry_point: &str) -> bool {
    values
        .get(parameter)
        .is_some_and(|list| list.split(',').any(|p| p.trim() == entry_point))
}

/// Misbehave in `entry_point` if `panic_in` or `hang_in` names it.
fn check(values: &ParameterValues, entry_point: &str) {
    Trigger::of(values, entry_point).fire(entry_point);
}

/// What an entry point does when it is called.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Behave,
    Panic,
    Hang,
    Segfault,
    Abort,
}

impl Trigger {
    fn of(values: &ParameterValues, entry_point: &str) -> Self {
        if listed(values, "panic_in", entry_point) {
            Trigger::Panic
        } else if listed(values, "hang_in", entry_point) {
            Trigger::Hang
        } else if listed(values, "segfault_in", entry_point) {
            Trigger::Segfault
        } else if listed(values, "abort_in", entry_point) {
            Trigger::Abort
        } else {
            Trigger::Behave
        }
    }

    fn fire(self, entry_point: &str) {
        match self {
            Trigger::Behave => {}
            Trigger::Panic => panic!("faulty connector: deliberate panic in {entry_point}"),
            Trigger::Hang => hang(),
            Trigger::Segfault => segfault(),
            Trigger::Abort => std::process::abort(),
        }
    }
}

/// Crash the process with a real invalid memory access (SIGSEGV), as native code does.
fn segfault() -> ! {
    // SAFETY: none; this is the crash the host's out-of-process mode must survive. The
    // volatile write cannot be optimised away.
    unsafe { std::ptr::null_mut::<u64>().write_volatile(0xdead) };
    std::process::abort()
}

/// Block this thread until the process ends. The host's call time-out gives up on it; the
/// thread stays parked, which is what a plugin stuck on a dead target looks like.
fn hang() -> ! {
    loop {
        std::thread::park();
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
                // Another user's `Id`, for the reference tests.
                SchemaAttribute::single("Manager", AttributeType::Reference),
                // Set to "yes" by a successful password call; read-only.
                SchemaAttribute {
                    direction: AttributeDirection::ImportOnly,
                    ..SchemaAttribute::single("PasswordSet", AttributeType::String)
                },
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
        log::info!("faulty: connector built");
        Ok(Self {
            store: Arc::new(Mutex::new(BTreeMap::new())),
            homes: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        check(values, "config_parameters");
        Ok(match page {
            ConfigPage::Connectivity => vec![
                ParameterDefinition::new("panic_in", ParameterKind::String)
                    .with_description("Comma-separated entry points that panic"),
                ParameterDefinition::new("hang_in", ParameterKind::String)
                    .with_description("Comma-separated entry points that never return"),
                ParameterDefinition::new("segfault_in", ParameterKind::String)
                    .with_description("Comma-separated entry points that crash with SIGSEGV"),
                ParameterDefinition::new("abort_in", ParameterKind::String)
                    .with_description("Comma-separated entry points that abort the process"),
                ParameterDefinition::new("partitions", ParameterKind::String)
                    .with_description("Semicolon-separated partition DNs to report"),
                ParameterDefinition::new("containers", ParameterKind::String)
                    .with_description("Semicolon-separated container DNs to report"),
                ParameterDefinition::new("record_to", ParameterKind::File).with_description(
                    "A file that records the partition of every import and export, and each exported entry",
                ),
                ParameterDefinition::new("two_pass", ParameterKind::CheckBox).with_description(
                    "Declare no_reference_values_in_first_export_pass",
                ),
                ParameterDefinition::new("store_file", ParameterKind::File)
                    .with_description("A file the objects are read from at each import and written to after each export"),
                ParameterDefinition::new("import_gate", ParameterKind::File)
                    .with_description("Imports wait while this file exists"),
            ],
            _ => Vec::new(),
        })
    }

    fn validate_page(
        &self,
        _: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        check(values, "validate_page");
        Ok(Vec::new())
    }

    fn capabilities(&self, values: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        check(values, "capabilities");
        Ok(Capabilities {
            concurrent_operations: true,
            passwords: true,
            partitions: !list(values, "partitions").is_empty(),
            no_reference_values_in_first_export_pass: values.get("two_pass") == Some("true"),
            hierarchy: !list(values, "containers").is_empty(),
            ..Capabilities::default()
        })
    }

    fn partitions(&self, values: &ParameterValues) -> Result<Vec<Partition>, ConnectorError> {
        Ok(list(values, "partitions")
            .into_iter()
            .map(|dn| Partition {
                name: rdn_value(&dn),
                dn,
            })
            .collect())
    }

    fn hierarchy(
        &self,
        values: &ParameterValues,
        partition: &Partition,
    ) -> Result<Vec<Container>, ConnectorError> {
        let suffix = format!(",{}", partition.dn.to_lowercase());
        Ok(list(values, "containers")
            .into_iter()
            .filter(|dn| dn.to_lowercase().ends_with(&suffix))
            .map(|dn| Container {
                name: rdn_value(&dn),
                dn,
            })
            .collect())
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
        request: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        check(values, "open_import");
        record(values, &format!("open_import {}", request.partition))?;
        if let Some(file) = values.get("store_file").filter(|f| !f.is_empty()) {
            let read = read_store(file)?;
            *self
                .store
                .lock()
                .map_err(|_| ConnectorError::other("store poisoned"))? = read;
        }
        let homes = self
            .homes
            .lock()
            .map_err(|_| ConnectorError::other("store poisoned"))?
            .clone();
        let entries: Vec<CsEntryChange> = self
            .store
            .lock()
            .map_err(|_| ConnectorError::other("store poisoned"))?
            .iter()
            .filter(|(id, _)| {
                request.partition.is_empty()
                    || homes.get(*id).is_some_and(|p| *p == request.partition)
            })
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
        tracing::info!(objects = entries.len(), "faulty: import opened");
        Ok(Box::new(Import {
            entries: Some(entries),
            trigger: Trigger::of(values, "next_page"),
            gate: values
                .get("import_gate")
                .filter(|f| !f.is_empty())
                .map(std::path::PathBuf::from),
        }))
    }

    fn open_export(
        &self,
        values: &ParameterValues,
        _: &Schema,
        request: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        check(values, "open_export");
        record(values, &format!("open_export {}", request.partition))?;
        Ok(Box::new(Export {
            store: self.store.clone(),
            homes: self.homes.clone(),
            values: values.clone(),
            partition: request.partition.clone(),
            trigger: Trigger::of(values, "put_export_entries"),
        }))
    }

    /// Records that a password was set (never the password itself); refuses `too-weak`.
    fn set_password(
        &self,
        _: &ParameterValues,
        target: &PasswordTarget,
        new_password: &Secret,
        _: PasswordOptions,
    ) -> Result<(), ConnectorError> {
        if new_password.expose() == "too-weak" {
            return Err(ConnectorError::other(
                "the password does not meet the target's policy",
            ));
        }
        let id = target
            .anchor
            .first()
            .map(|a| a.value.to_string())
            .unwrap_or_default();
        let mut store = self
            .store
            .lock()
            .map_err(|_| ConnectorError::other("store poisoned"))?;
        let attrs = store
            .get_mut(&id)
            .ok_or_else(|| ConnectorError::other(format!("no object {id}")))?;
        attrs.insert("PasswordSet".into(), Value::String("yes".into()));
        Ok(())
    }
}

/// The objects in a `store_file` (none when it does not exist yet).
fn read_store(file: &str) -> Result<BTreeMap<String, BTreeMap<String, Value>>, ConnectorError> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(ConnectorError::other(format!("cannot read {file}: {e}"))),
    };
    let mut store = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.split('\t');
        let id = fields.next().unwrap_or_default().to_string();
        let mut attrs = BTreeMap::new();
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            let value = match value.split_once(':') {
                Some(("r", v)) => Value::Reference(v.to_string()),
                Some((_, v)) => Value::String(v.to_string()),
                None => Value::String(value.to_string()),
            };
            attrs.insert(name.to_string(), value);
        }
        store.insert(id, attrs);
    }
    Ok(store)
}

/// Write the objects to a `store_file` (temp file, then rename).
fn write_store(
    file: &str,
    store: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Result<(), ConnectorError> {
    let mut text = String::new();
    for (id, attrs) in store {
        text.push_str(id);
        for (name, value) in attrs {
            let tag = match value {
                Value::Reference(_) => 'r',
                _ => 's',
            };
            text.push_str(&format!("\t{name}\t{tag}:{value}"));
        }
        text.push('\n');
    }
    let tmp = format!("{file}.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, file))
        .map_err(|e| ConnectorError::other(format!("cannot write {file}: {e}")))
}

struct Import {
    entries: Option<Vec<CsEntryChange>>,
    trigger: Trigger,
    /// `import_gate`: wait while this file exists.
    gate: Option<std::path::PathBuf>,
}

impl ImportSession for Import {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        self.trigger.fire("next_page");
        if let Some(gate) = &self.gate {
            for _ in 0..6000 {
                if !gate.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
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
    homes: Homes,
    /// The answers, for `record_to`.
    values: ParameterValues,
    /// The partition this session's adds go to.
    partition: String,
    /// What every `put_export_entries` call does before looking at its entries.
    trigger: Trigger,
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
        self.trigger.fire("put_export_entries");
        log::debug!("faulty: export batch of {}", batch.len());
        let mut results = Vec::with_capacity(batch.len());
        for entry in batch {
            match text(&entry, "Mode").as_deref() {
                Some("panic") => Trigger::Panic.fire("put_export_entries"),
                Some("hang") => hang(),
                Some("segfault") => segfault(),
                Some("abort") => std::process::abort(),
                _ => {}
            }
            let id = entry
                .anchor
                .first()
                .map(|a| a.value.to_string())
                .unwrap_or_default();
            let names: Vec<&str> = entry.changes.iter().map(|c| c.name.as_str()).collect();
            record(
                &self.values,
                &format!("export {:?} {id} {}", entry.modification, names.join(",")),
            )?;
            let id_for_log = id.clone();
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
                    Some(_) => {
                        if let Ok(mut homes) = self.homes.lock() {
                            homes.remove(&id);
                        }
                        ExportResult::success(&entry.identifier)
                    }
                    None => ExportResult::failure(
                        &entry.identifier,
                        ExportErrorKind::NoSuchObject,
                        "missing",
                    ),
                },
                _ => {
                    if entry.modification == ObjectModification::Add {
                        if let Ok(mut homes) = self.homes.lock() {
                            homes.insert(id.clone(), self.partition.clone());
                        }
                    }
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
            if result.error.is_none() {
                log::info!(id = id_for_log.as_str(); "faulty: exported an entry");
            }
            results.push(result);
        }
        if let Some(file) = self.values.get("store_file").filter(|f| !f.is_empty()) {
            let store = self
                .store
                .lock()
                .map_err(|_| ConnectorError::other("store poisoned"))?;
            write_store(file, &store)?;
        }
        Ok(results)
    }
}

export_connector!(FaultyConnector);
