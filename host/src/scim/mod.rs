//! The SCIM front end: routes `/ecma2host_{connector}/scim/...`, checks the connector's token,
//! parses requests and hands them to the connector runtime.
//!
//! Architecture invariants: handlers are thin (extract, call the runtime, render); all errors
//! become responses in `error.rs` only; no plugin call and no slow work happens on this layer
//! (the Argon2 token check runs on the token gate's own bounded pool, `auth/`). URLs in
//! responses start with the configured public URL, never with the request's `Host`.

mod audit;
pub mod bulk;
mod discovery;
pub mod error;
mod guard;
mod handlers;
mod input;
pub mod response;

use std::sync::Arc;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::routing::get;
use axum::Router;

use self::error::ApiError;
use crate::auth::{Refusal, TokenGate};
use crate::config::Limits;
use crate::connector::ConnectorRuntime;
use crate::registry::{ConnectorSlot, Registry};

/// Every URL of a connector starts with this, then the connector name.
pub const TENANT_PREFIX: &str = "ecma2host_";

#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Token checks: caches, failure limits and the bounded Argon2 pool.
    gate: Arc<TokenGate>,
    /// `https://name:port`, without a trailing `/`: the start of every URL in a response.
    public_url: Arc<str>,
    limits: Arc<Limits>,
}

impl AppState {
    /// `public_url` is the configured or derived base (`config::public_url_for`).
    pub fn new(registry: Arc<Registry>, public_url: String) -> std::io::Result<Self> {
        let limits = registry.host().limits.clone();
        Ok(Self {
            gate: Arc::new(TokenGate::new(&limits)?),
            registry,
            public_url: public_url.into(),
            limits: Arc::new(limits),
        })
    }
}

pub fn router(state: AppState) -> Router {
    let limits = state.limits.clone();
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
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(limits, guard::guard))
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
    /// The longest string value a body may carry (`limits.max_value_bytes`).
    pub max_value_bytes: usize,
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
            .unwrap_or_default();
        // Names match exactly, as in Microsoft's host; an unknown name is refused like a wrong
        // token, so names cannot be probed.
        let name = segment.strip_prefix(TENANT_PREFIX);
        let entry = name.and_then(|n| state.registry.get(n));
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let connector = name.zip(entry.as_ref().map(|e| &e.verifier));
        state
            .gate
            .check(connector, bearer(&parts.headers), address)
            .await
            .map_err(|refusal| match refusal {
                Refusal::Unauthorized => ApiError::Unauthorized,
                Refusal::TooManyFailures(wait) => ApiError::TooManyFailures {
                    retry_after: (wait.as_secs_f64().ceil() as u64).max(1),
                },
            })?;
        let (Some(name), Some(entry)) = (name, entry) else {
            return Err(ApiError::Unauthorized);
        };
        match entry.slot {
            ConnectorSlot::Running(runtime) => Ok(Tenant {
                runtime,
                base: format!("{}/{TENANT_PREFIX}{name}/scim", state.public_url),
                max_value_bytes: state.limits.max_value_bytes,
            }),
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
