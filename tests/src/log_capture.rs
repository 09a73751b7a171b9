//! Captures what the host writes to its `tracing` log: the records of plugins (target
//! `ecma_plugin`, the log channel of API 1.1), so that tests can assert that a plugin's log line
//! reached the host's log with the connector's name; the audit lines (target `audit`) with
//! their fields; and every event at `info` or above as text, so that tests can assert that a
//! secret never reached the log.
//!
//! One process-wide subscriber, installed before the first host starts ([`install`]), at
//! `info`: the level the host passes to the plugins.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // Test support.

use std::sync::{Mutex, Once};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// One plugin record as the host logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginLog {
    pub level: tracing::Level,
    pub connector: String,
    pub plugin_target: String,
    pub message: String,
}

static CAPTURED: Mutex<Vec<PluginLog>> = Mutex::new(Vec::new());
static AUDIT: Mutex<Vec<AuditLine>> = Mutex::new(Vec::new());
static ALL: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One audit line (target `audit`, or `audit::read` for a successful read): its fields by name, values as the log would print them.
pub type AuditLine = std::collections::BTreeMap<String, String>;

/// Every audit line logged so far for `connector`.
pub fn audit_lines(connector: &str) -> Vec<AuditLine> {
    AUDIT
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.get("connector").map(String::as_str) == Some(connector))
        .cloned()
        .collect()
}

/// Every event logged so far at `info` or above, any target, as `target: field=value ...`.
pub fn all_lines() -> Vec<String> {
    ALL.lock().unwrap().clone()
}

/// Install the capturing subscriber as the process's global one (idempotent).
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::registry()
            .with(Capture)
            .try_init()
            .expect("no other global subscriber in the test binary");
    });
}

/// Every plugin record logged so far for `connector`.
pub fn plugin_logs(connector: &str) -> Vec<PluginLog> {
    CAPTURED
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.connector == connector)
        .cloned()
        .collect()
}

struct Capture;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut all = AllFields::default();
        event.record(&mut all);
        let target = event.metadata().target();
        let text = all
            .0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        ALL.lock().unwrap().push(format!("{target}: {text}"));
        if target == "audit" || target == "audit::read" {
            AUDIT.lock().unwrap().push(all.0);
            return;
        }
        if target != "ecma_plugin" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        CAPTURED.lock().unwrap().push(PluginLog {
            level: *event.metadata().level(),
            connector: fields.connector,
            plugin_target: fields.plugin_target,
            message: fields.message,
        });
    }
}

#[derive(Default)]
struct Fields {
    connector: String,
    plugin_target: String,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "connector" => self.connector = value.to_string(),
            "plugin_target" => self.plugin_target = value.to_string(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "connector" => self.connector = format!("{value:?}"),
            "plugin_target" => self.plugin_target = format!("{value:?}"),
            _ => {}
        }
    }
}

/// Every field of an event, by name.
#[derive(Default)]
struct AllFields(AuditLine);

impl Visit for AllFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}
