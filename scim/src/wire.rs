//! Wire shapes of RFC 7644 messages: schema URNs, the error body and the list response.

use serde::Serialize;

pub const SCHEMA_CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const SCHEMA_CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const SCHEMA_ENTERPRISE_USER: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCHEMA_LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SCHEMA_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCHEMA_PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SCHEMA_SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SCHEMA_BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const SCHEMA_BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const SCHEMA_SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const SCHEMA_RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Prefix of the extension schema the host exposes connector attributes under; the object
/// type follows (`...:2.0:User`), then `:<attribute>`.
pub const ECMA_EXTENSION_PREFIX: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:";

/// The `Content-Type` of every SCIM response.
pub const CONTENT_TYPE: &str = "application/scim+json";

/// RFC 7644 §3.12 `scimType` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// RFC 7644 §3.12 error body. `status` is a string on the wire.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub schemas: [&'static str; 1],
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ErrorBody {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            schemas: [SCHEMA_ERROR],
            status: status.to_string(),
            scim_type: scim_type.map(ScimType::as_str),
            detail: detail.into(),
        }
    }
}

/// RFC 7644 §3.4.2 list response.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T: Serialize> {
    pub schemas: [&'static str; 1],
    pub total_results: usize,
    pub start_index: usize,
    pub items_per_page: usize,
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T: Serialize> ListResponse<T> {
    pub fn new(resources: Vec<T>, total_results: usize, start_index: usize) -> Self {
        Self {
            schemas: [SCHEMA_LIST_RESPONSE],
            total_results,
            start_index,
            items_per_page: resources.len(),
            resources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_string_status_and_camel_case() {
        let body = serde_json::to_value(ErrorBody::new(409, Some(ScimType::Uniqueness), "exists"))
            .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": [SCHEMA_ERROR], "status": "409", "scimType": "uniqueness", "detail": "exists"
            })
        );
        let body = serde_json::to_value(ErrorBody::new(404, None, "gone")).unwrap();
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn list_response_names_resources_with_capital_r() {
        let body =
            serde_json::to_value(ListResponse::<serde_json::Value>::new(vec![], 0, 1)).unwrap();
        assert_eq!(body["Resources"], serde_json::json!([]));
        assert_eq!(body["totalResults"], 0);
        assert_eq!(body["itemsPerPage"], 0);
    }
}
