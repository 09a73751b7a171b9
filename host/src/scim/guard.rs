//! The request guard, around every SCIM route: refuses a request target or headers over the
//! configured limits, query parameters that are not strict UTF-8, and a path with control
//! characters (an id with `%00`), before routing; and turns
//! any refusal made below the handlers (the body limit, extractor rejections) into a SCIM error
//! body, so that no answer of this listener is `text/plain` or empty.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::error::ApiError;
use crate::config::Limits;

/// The most bytes of a non-SCIM refusal's body kept as the SCIM error's `detail`.
const DETAIL_BYTES: usize = 512;

pub(super) async fn guard(
    State(limits): State<Arc<Limits>>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(e) = check(&limits, &request) {
        return e.into_response();
    }
    rescue(next.run(request).await, &limits).await
}

fn check(limits: &Limits, request: &Request) -> Result<(), ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > limits.max_uri_bytes {
        return Err(ApiError::UriTooLong {
            limit: limits.max_uri_bytes,
        });
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > limits.max_header_bytes {
        return Err(ApiError::HeadersTooLarge {
            limit: limits.max_header_bytes,
        });
    }
    if let Some(query) = request.uri().query() {
        strict_utf8_query(query)?;
    }
    let path = percent_decode_str(request.uri().path()).decode_utf8();
    if path
        .as_ref()
        .map_or(true, |p| p.chars().any(char::is_control))
    {
        return Err(ApiError::InvalidRequest(
            "the URL path must be UTF-8 without control characters after percent-decoding".into(),
        ));
    }
    Ok(())
}

/// Every key and value of `query`, percent-decoded, must be UTF-8: a lossy decoding would
/// turn `%FF` into U+FFFD and match something the client never sent.
fn strict_utf8_query(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded_key = percent_decode_str(key).decode_utf8();
        if decoded_key.is_err() || percent_decode_str(value).decode_utf8().is_err() {
            let name: String = percent_decode_str(key)
                .decode_utf8_lossy()
                .chars()
                .take(64)
                .collect();
            return Err(ApiError::InvalidRequest(format!(
                "query parameter `{name}` is not valid UTF-8 after percent-decoding"
            )));
        }
    }
    Ok(())
}

/// A refusal that is not already a SCIM error becomes one, with the same status.
async fn rescue(response: Response, limits: &Limits) -> Response {
    let status = response.status();
    let is_scim = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == ecma_scim::CONTENT_TYPE.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_scim {
        return response;
    }
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge {
            limit: limits.max_body_bytes,
        }
        .into_response();
    }
    let body = axum::body::to_bytes(response.into_body(), DETAIL_BYTES)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_string()
    } else {
        text
    };
    ApiError::Http {
        status: status.as_u16(),
        detail,
    }
    .into_response()
}

/// The body of a response, for tests.
#[cfg(test)]
async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn query_parameters_must_be_strict_utf8() {
        assert!(strict_utf8_query("filter=userName%20eq%20%22%C3%A9%22&count=1").is_ok());
        let err = strict_utf8_query("count=1&filter=%FF%FE").unwrap_err();
        assert_eq!(
            err.to_string(),
            "query parameter `filter` is not valid UTF-8 after percent-decoding"
        );
        assert!(strict_utf8_query("%FF=1").is_err());
    }

    #[tokio::test]
    async fn plain_refusals_become_scim_errors_with_their_status() {
        let limits = Limits::default();
        let plain = (
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no such type",
        )
            .into_response();
        let response = rescue(plain, &limits).await;
        assert_eq!(response.status().as_u16(), 415);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            ecma_scim::CONTENT_TYPE
        );
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body["status"], "415");
        assert_eq!(body["detail"], "no such type");
        let empty = Response::builder().status(431).body(Body::empty()).unwrap();
        let body = body_text(rescue(empty, &limits).await).await;
        assert!(body.contains("Request Header Fields Too Large"), "{body}");
    }
}
