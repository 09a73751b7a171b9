//! The audit trail: one log line per SCIM request, at `info`, and its request metrics. Changes
//! and failed requests log with target `audit`, successful reads with target `audit::read`
//! (`[logging.modules] "audit::read" = "off"` leaves reads out of a read-heavy log).
//!
//! The line names the connector, the method, the path (query values that could be secrets
//! redacted), the status, the latency, the export result of a change and the object's id. It
//! never holds a header or a body, so neither the bearer token nor a password can reach it.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, TENANT_PREFIX};

/// Set on an error response by `error.rs`: the export error code (or `call_failed`) of a
/// change the target refused.
#[derive(Clone, Copy, Debug)]
pub struct ExportOutcome(pub &'static str);

/// Query parameters whose values are written as they are; every other value is redacted.
const PLAIN_PARAMETERS: [&str; 8] = [
    "filter",
    "attributes",
    "excludedattributes",
    "startindex",
    "count",
    "sortby",
    "sortorder",
    "cursor",
];

pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let response = next.run(request).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    // Only configured names become labels and log fields; anything else is a 404 anyway.
    let connector = connector_of(&path)
        .and_then(|name| state.registry.configured_name(name))
        .unwrap_or_default();
    state
        .registry
        .metrics()
        .request(&connector, method.as_str(), status, latency);
    let changes = matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && !path.ends_with("/.search");
    // Every request is a line at `info`; successful reads have their own target
    // (`audit::read`), so that an administrator can leave read-heavy traffic out.
    let quiet = !changes && response.status().is_success();
    if quiet && !tracing::enabled!(target: "audit::read", tracing::Level::INFO) {
        return response;
    }
    let query = query.as_deref().map(redact_query);
    let export = match response.extensions().get::<ExportOutcome>() {
        Some(ExportOutcome(code)) => Some(*code),
        None if changes && response.status().is_success() => Some("success"),
        None => None,
    };
    let id = object_id(&path).or_else(|| {
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.rsplit('/').next())
            .map(str::to_string)
    });
    macro_rules! audit_line {
        ($level:expr, $target:literal) => {
            tracing::event!(
                target: $target,
                $level,
                connector = %connector,
                method = %method,
                path = %path,
                query = query.as_deref(),
                status,
                latency_ms = format!("{:.2}", latency.as_secs_f64() * 1000.0),
                export,
                id = id.as_deref(),
                "scim request"
            )
        };
    }
    if quiet {
        audit_line!(tracing::Level::INFO, "audit::read");
    } else {
        audit_line!(tracing::Level::INFO, "audit");
    }
    response
}

/// `demo` in `/ecma2host_demo/scim/Users`.
fn connector_of(path: &str) -> Option<&str> {
    let segment = path.trim_start_matches('/').split('/').next()?;
    segment
        .get(..TENANT_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(TENANT_PREFIX))
        .map(|_| &segment[TENANT_PREFIX.len()..])
}

/// The id in `/ecma2host_x/scim/{resource}/{id}`, except for `.search`.
fn object_id(path: &str) -> Option<String> {
    let mut parts = path.trim_start_matches('/').split('/').skip(2);
    let (_resource, id) = (parts.next()?, parts.next()?);
    (!id.is_empty() && id != ".search").then(|| id.to_string())
}

/// The query with every value not in [`PLAIN_PARAMETERS`] replaced by `REDACTED`.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if !PLAIN_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()) => {
                format!("{name}=REDACTED")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_other_than_scim_parameters_are_redacted() {
        assert_eq!(
            redact_query("filter=userName%20eq%20%22a%22&access_token=s3cret&count=5"),
            "filter=userName%20eq%20%22a%22&access_token=REDACTED&count=5"
        );
    }

    #[test]
    fn connector_and_id_come_from_the_path() {
        assert_eq!(connector_of("/ecma2host_Demo/scim/Users"), Some("Demo"));
        assert_eq!(connector_of("/other/scim"), None);
        assert_eq!(
            object_id("/ecma2host_demo/scim/Users/adele").as_deref(),
            Some("adele")
        );
        assert_eq!(object_id("/ecma2host_demo/scim/Users"), None);
        assert_eq!(object_id("/ecma2host_demo/scim/Users/.search"), None);
    }
}
