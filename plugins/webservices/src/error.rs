//! What can go wrong talking to a service, and the one mapping of it to ECMA2 export error
//! codes (per entry) and connector errors (whole calls).

use std::time::Duration;

use ecma_plugin_api::{ConnectorError, ErrorKind, ExportErrorKind};
use ecma_ws_project::ResultCode;
use serde_json::Value as Json;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WsError {
    /// The project or a parameter is wrong.
    #[error("{0}")]
    Configuration(String),
    /// The service could not be reached, or did not answer in time.
    #[error("{0}")]
    Transport(String),
    /// The token endpoint refused the client.
    #[error("{0}")]
    Authentication(String),
    /// The service answered a status the flow does not accept.
    #[error("{method} {url} answered {status}: {message}")]
    Status {
        method: String,
        url: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The service answered a SOAP call with a fault.
    #[error("{operation} answered a SOAP fault ({code}): {message}")]
    Fault {
        operation: String,
        code: String,
        message: String,
    },
    /// The flow could not run (a loop bound, a value of the wrong shape).
    #[error("{0}")]
    Flow(String),
    /// A `result` step ended the flow with an error code.
    #[error("{message}")]
    Result { code: ResultCode, message: String },
}

impl WsError {
    /// The export error code and message of a failed entry.
    pub(crate) fn export_error(&self) -> (ExportErrorKind, String) {
        let kind = match self {
            WsError::Configuration(_) | WsError::Flow(_) => {
                ExportErrorKind::ConnectedDirectoryError
            }
            WsError::Transport(_) => ExportErrorKind::Busy,
            WsError::Authentication(_) => ExportErrorKind::PermissionIssue,
            WsError::Status { status, .. } => status_kind(*status),
            WsError::Fault { code, .. } => fault_kind(code),
            WsError::Result { code, .. } => result_kind(*code),
        };
        (kind, self.to_string())
    }

    /// The error of a whole call (an import, a connection test, a password).
    pub(crate) fn connector_error(&self) -> ConnectorError {
        let kind = match self {
            WsError::Configuration(_) => ErrorKind::InvalidConfiguration,
            WsError::Transport(_) => ErrorKind::Connection,
            WsError::Status { status, .. } if status_kind(*status) == ExportErrorKind::Busy => {
                ErrorKind::Busy
            }
            WsError::Result {
                code: ResultCode::Busy,
                ..
            } => ErrorKind::Busy,
            _ => ErrorKind::Other,
        };
        ConnectorError::new(kind, self.to_string())
    }
}

/// HTTP status to export error: 409 exists, 404/410 no such object, 400/422 syntax, 401/403
/// permission, 429 and 5xx busy, anything else the service's own error.
pub(crate) fn status_kind(status: u16) -> ExportErrorKind {
    match status {
        409 => ExportErrorKind::ObjectAlreadyExists,
        404 | 410 => ExportErrorKind::NoSuchObject,
        400 | 422 => ExportErrorKind::SyntaxViolation,
        401 | 403 => ExportErrorKind::PermissionIssue,
        429 | 500..=599 => ExportErrorKind::Busy,
        _ => ExportErrorKind::ConnectedDirectoryError,
    }
}

/// A fault the client caused (`Client`, SOAP 1.2 `Sender`) is a syntax violation, a
/// WS-Security refusal a permission issue, the server's own (`Server`, `Receiver`) a
/// connected-directory error.
pub(crate) fn fault_kind(code: &str) -> ExportErrorKind {
    let local = code.rsplit(':').next().unwrap_or(code);
    if local.contains("FailedAuthentication") || local.contains("InvalidSecurity") {
        ExportErrorKind::PermissionIssue
    } else if local.starts_with("Client") || local.starts_with("Sender") {
        ExportErrorKind::SyntaxViolation
    } else {
        ExportErrorKind::ConnectedDirectoryError
    }
}

pub(crate) fn result_kind(code: ResultCode) -> ExportErrorKind {
    match code {
        // `success` never becomes an error; map it to the mildest code for completeness.
        ResultCode::Success | ResultCode::ConnectedDirectoryError => {
            ExportErrorKind::ConnectedDirectoryError
        }
        ResultCode::InvalidDn => ExportErrorKind::InvalidDn,
        ResultCode::MissingAnchorComponent => ExportErrorKind::MissingAnchorComponent,
        ResultCode::SyntaxViolation => ExportErrorKind::SyntaxViolation,
        ResultCode::ObjectAlreadyExists => ExportErrorKind::ObjectAlreadyExists,
        ResultCode::NoSuchObject => ExportErrorKind::NoSuchObject,
        ResultCode::PermissionIssue => ExportErrorKind::PermissionIssue,
        ResultCode::CustomContinueRun => ExportErrorKind::CustomContinueRun,
        ResultCode::CustomStopRun => ExportErrorKind::CustomStopRun,
        ResultCode::Busy => ExportErrorKind::Busy,
    }
}

/// The service's own words from an error body: a JSON `message`, `detail`,
/// `error_description` or `error` (also nested under `error`), else the text itself, cut short.
pub(crate) fn service_message(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<Json>(body) {
        for pointer in [
            "/message",
            "/detail",
            "/error_description",
            "/error/message",
            "/error",
            "/title",
        ] {
            if let Some(text) = json.pointer(pointer).and_then(Json::as_str) {
                return text.to_string();
            }
        }
    }
    let text = body.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None if text.is_empty() => "(no body)".to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_export_codes() {
        assert_eq!(status_kind(409), ExportErrorKind::ObjectAlreadyExists);
        assert_eq!(status_kind(404), ExportErrorKind::NoSuchObject);
        assert_eq!(status_kind(422), ExportErrorKind::SyntaxViolation);
        assert_eq!(status_kind(403), ExportErrorKind::PermissionIssue);
        assert_eq!(status_kind(503), ExportErrorKind::Busy);
        assert_eq!(status_kind(429), ExportErrorKind::Busy);
        assert_eq!(status_kind(418), ExportErrorKind::ConnectedDirectoryError);
    }

    #[test]
    fn messages_come_from_the_body() {
        assert_eq!(
            service_message(r#"{"message": "email is invalid"}"#),
            "email is invalid"
        );
        assert_eq!(service_message(r#"{"error": {"message": "nope"}}"#), "nope");
        assert_eq!(service_message(" plain "), "plain");
        assert_eq!(service_message(""), "(no body)");
    }
}
