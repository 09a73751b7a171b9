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
//! - `POST /connectors/{name}/import?kind=full|delta`: start an import now (202), for
//!   `ecmahost connector import-now`; progress shows in `/status`.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::connector::SyncKind;
use crate::registry::{ConnectorSlot, Registry};
use crate::tls::info::now_unix;
use crate::tls::reload::ReloadingCert;

#[derive(Clone)]
struct Admin {
    registry: Arc<Registry>,
    certificate: Option<Arc<ReloadingCert>>,
}

/// The admin endpoints; with `certificate`, `/status` shows it and warns before it expires.
pub fn router(registry: Arc<Registry>, certificate: Option<Arc<ReloadingCert>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/connectors/{name}/import", post(import_now))
        .with_state(Admin {
            registry,
            certificate,
        })
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(admin): State<Admin>) -> impl IntoResponse {
    let status = admin.registry.status();
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

async fn status(State(admin): State<Admin>) -> impl IntoResponse {
    let connectors = admin.registry.status();
    let certificate = admin.certificate.map(|c| {
        let info = c.info();
        let now = now_unix();
        serde_json::json!({
            "subject": info.subject,
            "subject_alt_names": info.subject_alt_names,
            "sha256_fingerprint": info.sha256_fingerprint,
            "not_after": info.not_after,
            "days_left": info.days_left(now),
            "warning": info.expiry_warning(now),
        })
    });
    let code = if connectors.iter().any(|c| c.failed()) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "certificate": certificate,
            "connectors": connectors,
        })),
    )
}

async fn metrics(State(admin): State<Admin>) -> impl IntoResponse {
    match admin.registry.metrics().render(&admin.registry.status()) {
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

#[derive(serde::Deserialize)]
struct ImportQuery {
    #[serde(default)]
    kind: Option<String>,
}

fn refusal(code: StatusCode, error: String) -> axum::response::Response {
    (code, Json(serde_json::json!({ "error": error }))).into_response()
}

/// Start a full (default) or delta import of a running connector in the background.
async fn import_now(
    State(admin): State<Admin>,
    Path(name): Path<String>,
    Query(query): Query<ImportQuery>,
) -> axum::response::Response {
    let kind = match query.kind.as_deref() {
        None | Some("full") => SyncKind::Full,
        Some("delta") => SyncKind::Delta,
        Some(other) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                format!("unknown import kind `{other}` (use full or delta)"),
            )
        }
    };
    let runtime = match admin.registry.get(&name).map(|e| e.slot) {
        None => {
            return refusal(
                StatusCode::NOT_FOUND,
                format!("no connector named `{name}` is configured"),
            )
        }
        Some(ConnectorSlot::Failed { reason, .. }) => {
            return refusal(
                StatusCode::CONFLICT,
                format!("connector `{name}` is not running: {reason}"),
            )
        }
        Some(ConnectorSlot::Running(runtime)) => runtime,
    };
    let refused = match kind {
        SyncKind::Delta => runtime.delta_refusal(),
        _ if !runtime.has_full_import() => Some(format!(
            "{}: the run profiles have no full import (key `run_profiles.full_import`)",
            runtime.config().file.display()
        )),
        _ => None,
    };
    if let Some(reason) = refused {
        return refusal(StatusCode::CONFLICT, reason);
    }
    let kind_name = if kind == SyncKind::Delta {
        "delta"
    } else {
        "full"
    };
    tracing::info!(connector = %runtime.name(), kind = kind_name, "import requested on the admin listener");
    tokio::spawn(async move {
        if let Err(e) = runtime.sync_as(kind).await {
            tracing::error!(connector = %runtime.name(), kind = kind_name, error = %e, "requested import failed");
        }
    });
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "connector": name, "kind": kind_name, "started": true })),
    )
        .into_response()
}
