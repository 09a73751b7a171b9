//! LDAP result codes and client errors, mapped to connector errors and ECMA2 export errors.

use ecma_plugin_api::{ConnectorError, ErrorKind, ExportErrorKind};
use ldap3::{LdapError, LdapResult};

/// RFC 4511 appendix A result codes we tell apart.
pub(crate) mod rc {
    pub const SUCCESS: u32 = 0;
    pub const TIME_LIMIT_EXCEEDED: u32 = 3;
    pub const STRONGER_AUTH_REQUIRED: u32 = 8;
    pub const REFERRAL: u32 = 10;
    pub const ADMIN_LIMIT_EXCEEDED: u32 = 11;
    pub const CONFIDENTIALITY_REQUIRED: u32 = 13;
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    pub const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
    pub const INAPPROPRIATE_MATCHING: u32 = 18;
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    pub const INVALID_ATTRIBUTE_SYNTAX: u32 = 21;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    pub const BUSY: u32 = 51;
    pub const UNAVAILABLE: u32 = 52;
    pub const NAMING_VIOLATION: u32 = 64;
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
    pub const NOT_ALLOWED_ON_RDN: u32 = 67;
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
    pub const OBJECT_CLASS_MODS_PROHIBITED: u32 = 69;
}

/// An operation's failure, as the directory or the client reported it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LdapFailure {
    /// The server answered with a result code other than success.
    #[error("{operation}: {name} ({code}){text}{matched}")]
    Result {
        operation: String,
        code: u32,
        name: &'static str,
        text: String,
        matched: String,
        referrals: Vec<String>,
    },
    /// The server could not be reached, the connection broke, or an operation timed out.
    #[error("{operation}: {message}")]
    Unreachable { operation: String, message: String },
    /// Anything else the client library reported.
    #[error("{operation}: {message}")]
    Client { operation: String, message: String },
}

pub(crate) fn code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        _ => "unknown result code",
    }
}

impl LdapFailure {
    pub(crate) fn from_result(operation: &str, result: &LdapResult) -> Self {
        LdapFailure::Result {
            operation: operation.to_string(),
            code: result.rc,
            name: code_name(result.rc),
            text: if result.text.is_empty() {
                String::new()
            } else {
                format!(": {}", result.text)
            },
            matched: if result.matched.is_empty() || result.rc != rc::NO_SUCH_OBJECT {
                String::new()
            } else {
                format!(" (the directory matched only `{}`)", result.matched)
            },
            referrals: result.refs.clone(),
        }
    }

    pub(crate) fn from_client(operation: &str, error: LdapError) -> Self {
        match error {
            LdapError::LdapResult { result } => Self::from_result(operation, &result),
            LdapError::Timeout { .. } => LdapFailure::Unreachable {
                operation: operation.to_string(),
                message: "timed out (operation_timeout_seconds)".into(),
            },
            e @ (LdapError::Io { .. }
            | LdapError::OpSend { .. }
            | LdapError::ResultRecv { .. }
            | LdapError::EndOfStream) => LdapFailure::Unreachable {
                operation: operation.to_string(),
                message: format!("the connection to the directory failed: {e}"),
            },
            other => LdapFailure::Client {
                operation: operation.to_string(),
                message: other.to_string(),
            },
        }
    }

    pub(crate) fn code(&self) -> Option<u32> {
        match self {
            LdapFailure::Result { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The export error code for this failure.
    pub(crate) fn export_kind(&self) -> ExportErrorKind {
        match self {
            LdapFailure::Unreachable { .. } => ExportErrorKind::Busy,
            LdapFailure::Client { .. } => ExportErrorKind::ConnectedDirectoryError,
            LdapFailure::Result { code, .. } => match *code {
                rc::ENTRY_ALREADY_EXISTS => ExportErrorKind::ObjectAlreadyExists,
                rc::NO_SUCH_OBJECT => ExportErrorKind::NoSuchObject,
                rc::INVALID_DN_SYNTAX | rc::NAMING_VIOLATION | rc::NOT_ALLOWED_ON_RDN => {
                    ExportErrorKind::SyntaxViolation
                }
                rc::CONSTRAINT_VIOLATION
                | rc::INVALID_ATTRIBUTE_SYNTAX
                | rc::OBJECT_CLASS_VIOLATION
                | rc::UNDEFINED_ATTRIBUTE_TYPE
                | rc::INAPPROPRIATE_MATCHING
                | rc::ATTRIBUTE_OR_VALUE_EXISTS
                | rc::NO_SUCH_ATTRIBUTE
                | rc::OBJECT_CLASS_MODS_PROHIBITED
                | rc::NOT_ALLOWED_ON_NON_LEAF => ExportErrorKind::SyntaxViolation,
                rc::INSUFFICIENT_ACCESS_RIGHTS
                | rc::INAPPROPRIATE_AUTHENTICATION
                | rc::INVALID_CREDENTIALS
                | rc::STRONGER_AUTH_REQUIRED
                | rc::CONFIDENTIALITY_REQUIRED => ExportErrorKind::PermissionIssue,
                rc::BUSY | rc::UNAVAILABLE | rc::TIME_LIMIT_EXCEEDED | rc::ADMIN_LIMIT_EXCEEDED => {
                    ExportErrorKind::Busy
                }
                _ => ExportErrorKind::ConnectedDirectoryError,
            },
        }
    }

    /// The message an export result carries: the server's diagnostic, and the fix where we
    /// know one.
    pub(crate) fn export_message(&self, dn: &str) -> String {
        match self {
            LdapFailure::Result {
                code: rc::REFERRAL,
                referrals,
                ..
            } => format!(
                "{self}; the server referred the operation on `{dn}` to {}, and referrals are not followed: point the connector at the server that holds this entry",
                if referrals.is_empty() { "another server".to_string() } else { referrals.join(", ") }
            ),
            _ => self.to_string(),
        }
    }

    /// A whole-call error (import, schema, connection test).
    pub(crate) fn into_connector_error(self) -> ConnectorError {
        let kind = match &self {
            LdapFailure::Unreachable { .. } => ErrorKind::Connection,
            LdapFailure::Result { code, .. } => match *code {
                rc::BUSY | rc::UNAVAILABLE => ErrorKind::Busy,
                rc::INVALID_CREDENTIALS
                | rc::INAPPROPRIATE_AUTHENTICATION
                | rc::STRONGER_AUTH_REQUIRED
                | rc::CONFIDENTIALITY_REQUIRED => ErrorKind::InvalidConfiguration,
                _ => ErrorKind::Other,
            },
            LdapFailure::Client { .. } => ErrorKind::Other,
        };
        let message = match (&self, self.code()) {
            (_, Some(rc::INVALID_CREDENTIALS)) => {
                format!("{self}: check parameters `user_name` (the bind DN) and `password`")
            }
            (_, Some(rc::CONFIDENTIALITY_REQUIRED)) | (_, Some(rc::STRONGER_AUTH_REQUIRED)) => {
                format!("{self}: the server wants TLS: choose binding LDAPS or StartTLS")
            }
            (
                LdapFailure::Result {
                    code: rc::REFERRAL,
                    referrals,
                    ..
                },
                _,
            ) => format!(
                "{self}: the server referred the operation to {}, and referrals are not followed",
                referrals.join(", ")
            ),
            _ => self.to_string(),
        };
        ConnectorError::new(kind, message)
    }
}

/// Check an operation's result; success (and `extra_ok` codes) pass.
pub(crate) fn check(
    operation: &str,
    outcome: Result<LdapResult, LdapError>,
    extra_ok: &[u32],
) -> Result<LdapResult, LdapFailure> {
    match outcome {
        Ok(result) if result.rc == rc::SUCCESS || extra_ok.contains(&result.rc) => Ok(result),
        Ok(result) => Err(LdapFailure::from_result(operation, &result)),
        Err(e) => Err(LdapFailure::from_client(operation, e)),
    }
}

impl From<LdapFailure> for ConnectorError {
    fn from(f: LdapFailure) -> Self {
        f.into_connector_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: u32) -> LdapFailure {
        LdapFailure::from_result(
            "add `uid=a,dc=x`",
            &LdapResult {
                rc: code,
                matched: "dc=x".into(),
                text: "diagnostic".into(),
                refs: vec!["ldap://other/".into()],
                ctrls: vec![],
            },
        )
    }

    #[test]
    fn result_codes_map_to_export_errors() {
        use ExportErrorKind::*;
        for (code, kind) in [
            (68, ObjectAlreadyExists),
            (32, NoSuchObject),
            (19, SyntaxViolation),
            (21, SyntaxViolation),
            (65, SyntaxViolation),
            (64, SyntaxViolation),
            (50, PermissionIssue),
            (51, Busy),
            (52, Busy),
            (10, ConnectedDirectoryError),
            (80, ConnectedDirectoryError),
        ] {
            assert_eq!(failure(code).export_kind(), kind, "code {code}");
        }
        let missing = failure(32).to_string();
        assert!(
            missing.contains("noSuchObject (32): diagnostic"),
            "{missing}"
        );
        assert!(missing.contains("matched only `dc=x`"), "{missing}");
        let referral = failure(10).export_message("uid=a,dc=x");
        assert!(
            referral.contains("ldap://other/") && referral.contains("not followed"),
            "{referral}"
        );
    }
}
