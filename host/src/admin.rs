//! The admin listener: `/status` (JSON) and `/metrics` (Prometheus text) for operators.
//!
//! It serves plain HTTP and is meant for loopback (`admin_listen = "127.0.0.1:8586"`): it shows
//! connector names, states and counts, never tokens or parameter values.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::registry::{ConnectorStatus, Registry};

pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(registry)
}

async fn status(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    Json(serde_json::json!({ "connectors": registry.status() }))
}

/// One Prometheus series per connector.
struct Metric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&ConnectorStatus) -> f64,
}

const METRICS: [Metric; 6] = [
    Metric {
        name: "ecmahost_connector_up",
        kind: "gauge",
        help: "1 when the connector answers requests",
        value: |s| f64::from(u8::from(s.state == "ready")),
    },
    Metric {
        name: "ecmahost_connector_objects",
        kind: "gauge",
        help: "Objects in the connector space",
        value: |s| s.objects as f64,
    },
    Metric {
        name: "ecmahost_plugin_versions_loaded",
        kind: "gauge",
        help: "Library versions loaded for the connector since start (never unloaded)",
        value: |s| s.versions_loaded as f64,
    },
    Metric {
        name: "ecmahost_reloads_total",
        kind: "counter",
        help: "Reloads swapped in",
        value: |s| s.reloads_ok as f64,
    },
    Metric {
        name: "ecmahost_reload_failures_total",
        kind: "counter",
        help: "Reloads refused",
        value: |s| s.reloads_failed as f64,
    },
    Metric {
        name: "ecmahost_last_swap_milliseconds",
        kind: "gauge",
        help: "Duration of the last reload",
        value: |s| s.last_swap_ms.unwrap_or(0) as f64,
    },
];

async fn metrics(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let mut out = String::new();
    let status = registry.status();
    for m in &METRICS {
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} {}",
            m.name, m.help, m.name, m.kind
        );
        for s in &status {
            let _ = writeln!(
                out,
                "{}{{connector=\"{}\"}} {}",
                m.name,
                s.name,
                (m.value)(s)
            );
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
