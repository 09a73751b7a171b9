//! The one place where errors become HTTP responses: status, `scimType`, `Retry-After` and an
//! RFC 7644 error body served as `application/scim+json`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ecma_plugin_api::{ErrorKind, ExportErrorKind};
use ecma_scim::{ErrorBody, ScimType};

use crate::connector::calls::CallError;
use crate::connector::mapping::MappingError;
use crate::connector::RuntimeError;

/// Every way a SCIM request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// No token, a wrong token, or no connector of that name: one answer for all three.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("too many failed token checks from this address or for this connector; retry after {retry_after} s")]
    TooManyFailures { retry_after: u64 },
    #[error("connector '{name}' is not available: {reason}")]
    ConnectorFailed { name: String, reason: String },
    #[error("this connector has no resource type or endpoint '{0}'")]
    UnknownResource(String),
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("the request is larger than this endpoint accepts (limit {limit})")]
    PayloadTooLarge { limit: usize },
    #[error("no such endpoint")]
    NoRoute,
    #[error("the request headers are larger than this host accepts (limit {limit} bytes, `max_header_bytes`)")]
    HeadersTooLarge { limit: usize },
    #[error(
        "the request URL is longer than this host accepts (limit {limit} bytes, `max_uri_bytes`)"
    )]
    UriTooLong { limit: usize },
    /// A refusal made below the handlers (a body-limit or extractor rejection), re-served as
    /// a SCIM error with the status it had.
    #[error("{detail}")]
    Http { status: u16, detail: String },
}

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_IMPORTING: u32 = 10;
const RETRY_AFTER_BUSY: u32 = 5;
const RETRY_AFTER_UNAVAILABLE: u32 = 60;

pub(crate) fn classify(error: &ApiError) -> (StatusCode, Option<ScimType>, Option<u32>) {
    use StatusCode as S;
    match error {
        ApiError::Unauthorized => (S::UNAUTHORIZED, None, None),
        ApiError::TooManyFailures { retry_after } => (
            S::TOO_MANY_REQUESTS,
            None,
            Some(u32::try_from(*retry_after).unwrap_or(u32::MAX)),
        ),
        ApiError::UnknownResource(_) | ApiError::NoRoute => (S::NOT_FOUND, None, None),
        ApiError::HeadersTooLarge { .. } => (S::REQUEST_HEADER_FIELDS_TOO_LARGE, None, None),
        ApiError::UriTooLong { .. } => (S::URI_TOO_LONG, None, None),
        ApiError::Http { status, .. } => {
            (S::from_u16(*status).unwrap_or(S::BAD_REQUEST), None, None)
        }
        ApiError::ConnectorFailed { .. } => {
            (S::SERVICE_UNAVAILABLE, None, Some(RETRY_AFTER_UNAVAILABLE))
        }
        ApiError::MalformedJson(_) => (S::BAD_REQUEST, Some(ScimType::InvalidSyntax), None),
        ApiError::InvalidRequest(_) => (S::BAD_REQUEST, Some(ScimType::InvalidValue), None),
        ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, None, None),
        ApiError::PayloadTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, Some(ScimType::TooMany), None),
        ApiError::Runtime(e) => match e {
            RuntimeError::Importing => (S::SERVICE_UNAVAILABLE, None, Some(RETRY_AFTER_IMPORTING)),
            RuntimeError::Unavailable { .. } => {
                (S::SERVICE_UNAVAILABLE, None, Some(RETRY_AFTER_UNAVAILABLE))
            }
            RuntimeError::NotFound { .. } => (S::NOT_FOUND, None, None),
            RuntimeError::AlreadyExists { .. } => (S::CONFLICT, Some(ScimType::Uniqueness), None),
            RuntimeError::VersionMismatch { .. } => (S::PRECONDITION_FAILED, None, None),
            RuntimeError::Mapping(MappingError::InvalidValue(_)) => {
                (S::BAD_REQUEST, Some(ScimType::InvalidValue), None)
            }
            RuntimeError::Mapping(MappingError::Mutability(_)) => {
                (S::BAD_REQUEST, Some(ScimType::Mutability), None)
            }
            RuntimeError::Filter(f) => (S::BAD_REQUEST, Some(f.scim_type()), None),
            RuntimeError::Patch(p) => (S::BAD_REQUEST, Some(p.scim_type()), None),
            RuntimeError::Export { kind, .. } => match kind {
                ExportErrorKind::ObjectAlreadyExists => {
                    (S::CONFLICT, Some(ScimType::Uniqueness), None)
                }
                ExportErrorKind::NoSuchObject => (S::NOT_FOUND, None, None),
                ExportErrorKind::SyntaxViolation
                | ExportErrorKind::InvalidDn
                | ExportErrorKind::MissingAnchorComponent => {
                    (S::BAD_REQUEST, Some(ScimType::InvalidValue), None)
                }
                ExportErrorKind::Busy => (S::SERVICE_UNAVAILABLE, None, Some(RETRY_AFTER_BUSY)),
                ExportErrorKind::ConnectedDirectoryError
                | ExportErrorKind::PermissionIssue
                | ExportErrorKind::CustomContinueRun
                | ExportErrorKind::CustomStopRun => (S::INTERNAL_SERVER_ERROR, None, None),
            },
            RuntimeError::Password(call) => {
                classify(&ApiError::Runtime(RuntimeError::Call((**call).clone())))
            }
            RuntimeError::Call(CallError::Timeout { .. }) => {
                (S::SERVICE_UNAVAILABLE, None, Some(RETRY_AFTER_BUSY))
            }
            RuntimeError::Call(CallError::HostPanic { .. }) => {
                (S::INTERNAL_SERVER_ERROR, None, None)
            }
            RuntimeError::Call(CallError::Connector(c)) => match c.kind {
                ErrorKind::Busy | ErrorKind::Connection => {
                    (S::SERVICE_UNAVAILABLE, None, Some(RETRY_AFTER_BUSY))
                }
                ErrorKind::InvalidConfiguration
                | ErrorKind::NotSupported
                | ErrorKind::Panic
                | ErrorKind::Other => (S::INTERNAL_SERVER_ERROR, None, None),
            },
        },
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, scim_type, retry_after) = classify(&self);
        let detail = self.to_string();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), %detail, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), %detail, "request refused");
        }
        let body = serde_json::to_vec(&ErrorBody::new(status.as_u16(), scim_type, detail))
            .unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ecma_scim::CONTENT_TYPE),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // For the audit line: what the target said about the change.
        let export = match &self {
            ApiError::Runtime(RuntimeError::Export { kind, .. }) => {
                Some(crate::metrics::export_code(*kind))
            }
            ApiError::Runtime(RuntimeError::Call(_) | RuntimeError::Password(_)) => {
                Some("call_failed")
            }
            _ => None,
        };
        if let Some(code) = export {
            response
                .extensions_mut()
                .insert(super::audit::ExportOutcome(code));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecma_plugin_api::ConnectorError;

    fn export(kind: ExportErrorKind) -> ApiError {
        ApiError::Runtime(RuntimeError::Export {
            kind,
            message: "m".into(),
        })
    }

    #[test]
    fn export_failures_map_to_the_documented_statuses() {
        let cases = [
            (
                export(ExportErrorKind::ObjectAlreadyExists),
                409,
                Some("uniqueness"),
                false,
            ),
            (export(ExportErrorKind::NoSuchObject), 404, None, false),
            (
                export(ExportErrorKind::SyntaxViolation),
                400,
                Some("invalidValue"),
                false,
            ),
            (export(ExportErrorKind::Busy), 503, None, true),
            (
                export(ExportErrorKind::ConnectedDirectoryError),
                500,
                None,
                false,
            ),
            (
                ApiError::Runtime(RuntimeError::Call(CallError::Timeout {
                    call: "x",
                    timeout: std::time::Duration::from_secs(1),
                })),
                503,
                None,
                true,
            ),
            (
                ApiError::Runtime(RuntimeError::Call(CallError::Connector(
                    ConnectorError::new(ErrorKind::Panic, "p"),
                ))),
                500,
                None,
                false,
            ),
            (ApiError::Runtime(RuntimeError::Importing), 503, None, true),
            (
                ApiError::MalformedJson("x".into()),
                400,
                Some("invalidSyntax"),
                false,
            ),
            (ApiError::Unauthorized, 401, None, false),
            (
                ApiError::TooManyFailures { retry_after: 7 },
                429,
                None,
                true,
            ),
            (ApiError::HeadersTooLarge { limit: 1 }, 431, None, false),
            (ApiError::UriTooLong { limit: 1 }, 414, None, false),
            (
                ApiError::Http {
                    status: 415,
                    detail: "x".into(),
                },
                415,
                None,
                false,
            ),
        ];
        for (error, status, scim_type, retry) in cases {
            let (s, t, r) = classify(&error);
            assert_eq!(s.as_u16(), status, "{error}");
            assert_eq!(t.map(ScimType::as_str), scim_type, "{error}");
            assert_eq!(r.is_some(), retry, "{error}");
        }
    }

    #[test]
    fn responses_are_scim_json_with_string_status() {
        let response = ApiError::Runtime(RuntimeError::Importing).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            ecma_scim::CONTENT_TYPE
        );
        assert_eq!(response.headers()[header::RETRY_AFTER], "10");
    }
}
