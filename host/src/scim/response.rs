//! What every SCIM response shares: the JSON body with SCIM's media type, resource URLs, the
//! `ETag` and `Location` headers, and the limits the host advertises.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::connector::mapping::percent_encode;
use crate::space::CsObject;

/// The most resources one list response holds (advertised as `filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;
/// The most operations one `/Bulk` request may hold (advertised as `bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;
/// The largest `/Bulk` body, in bytes (advertised as `bulk.maxPayloadSize`).
pub const MAX_PAYLOAD: usize = 1_048_576;

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(ecma_scim::CONTENT_TYPE),
            );
            response
        }
        Err(e) => ApiError::InvalidRequest(format!("response could not be serialised: {e}"))
            .into_response(),
    }
}

/// The URL of the resource with `id` at `endpoint`: `{base}/Users/{id}`.
pub fn resource_location(base: &str, endpoint: &str, id: &str) -> String {
    format!("{base}/{endpoint}/{}", percent_encode(id))
}

/// Set the object's `ETag` on a response.
pub fn with_etag(mut response: Response, object: &CsObject) -> Response {
    if let Ok(value) = HeaderValue::from_str(&object.etag()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Set `Location` on a response.
pub fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
