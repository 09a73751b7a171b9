//! The admin listener: `/healthz`, `/readyz`, `/status` (JSON) and `/metrics` (Prometheus
//! text) for operators and orchestrators.
//!
//! It serves plain HTTP and is meant for loopback (`admin_listen = "127.0.0.1:8586"`): it shows
//! connector names, states and counts, never tokens or parameter values.
//!
//! - `/healthz`: 200 while the process answers at all (a liveness probe).
//! - `/readyz`: 200 when every connector serves, else 503 with each reason.
//! - `/status`: every connector's state; 503 when a connector failed (its library or import),
//!   so that a plain HTTP check notices.
//! - `/metrics`: [`crate::metrics::HostMetrics`] in the OpenMetrics text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::registry::Registry;

pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(registry)
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let status = registry.status();
    let reasons: serde_json::Map<String, serde_json::Value> = status
        .iter()
        .filter_map(|s| s.not_serving_reason().map(|r| (s.name.clone(), r.into())))
        .collect();
    if reasons.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({ "ready": true })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "ready": false, "not_serving": reasons })),
        )
    }
}

async fn status(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    let connectors = registry.status();
    let code = if connectors.iter().any(|c| c.failed()) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "connectors": connectors,
        })),
    )
}

async fn metrics(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    match registry.metrics().render(&registry.status()) {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
