//! The SCIM front end: routes `/ecma2host_{connector}/scim/...`, checks the connector's token,
//! parses requests and hands them to the connector runtime.
//!
//! Architecture invariants: handlers are thin (extract, call the runtime, render); all errors
//! become responses in `error.rs` only; no plugin call and no slow work happens on this layer
//! except the Argon2 token check, which runs on the blocking pool with a bound.

mod audit;
mod bulk;
mod discovery;
pub mod error;
mod handlers;
pub mod response;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::routing::get;
use axum::Router;
use tokio::sync::Semaphore;

use self::error::ApiError;
use crate::connector::ConnectorRuntime;
use crate::registry::{ConnectorSlot, Registry};

/// Every URL of a connector starts with this, then the connector name.
pub const TENANT_PREFIX: &str = "ecma2host_";

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Bounds concurrent Argon2 checks, so wrong tokens cannot starve the blocking pool.
    slow_auth: Arc<Semaphore>,
}

impl AppState {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            slow_auth: Arc::new(Semaphore::new(2)),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/{tenant}/scim/{resource}",
            get(handlers::list).post(handlers::create),
        )
        .route(
            "/{tenant}/scim/{resource}/{id}",
            get(handlers::get_one)
                .patch(handlers::patch)
                .put(handlers::replace)
                .delete(handlers::delete)
                .post(handlers::search),
        )
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NoRoute })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        .with_state(state)
}

/// An authenticated request for one running connector.
pub struct Tenant {
    pub runtime: Arc<ConnectorRuntime>,
    /// `https://host/ecma2host_x/scim`, for `Location` and `meta.location`.
    pub base: String,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let segment = parts
            .uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let name = segment
            .get(..TENANT_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(TENANT_PREFIX))
            .map(|_| &segment[TENANT_PREFIX.len()..])
            .ok_or_else(|| ApiError::UnknownConnector(format!("/{segment}")))?;
        let entry = state
            .registry
            .get(name)
            .ok_or_else(|| ApiError::UnknownConnector(format!("/{segment}")))?;
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        if !entry.verifier.matches_cached(token) {
            let _permit = state
                .slow_auth
                .acquire()
                .await
                .map_err(|_| ApiError::Unauthorized)?;
            let (verifier, token) = (entry.verifier.clone(), token.to_string());
            let ok = tokio::task::spawn_blocking(move || verifier.verify_slow(&token))
                .await
                .unwrap_or(false);
            if !ok {
                return Err(ApiError::Unauthorized);
            }
        }
        match entry.slot {
            ConnectorSlot::Running(runtime) => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                    .unwrap_or("localhost");
                Ok(Tenant {
                    runtime,
                    base: format!("https://{host}/{segment}/scim"),
                })
            }
            ConnectorSlot::Failed { name, reason } => {
                Err(ApiError::ConnectorFailed { name, reason })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
