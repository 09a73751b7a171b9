//! `POST /Bulk` (RFC 7644 §3.7): several operations in one request, run in order, with
//! `bulkId` references from later operations to resources created by earlier ones.
//!
//! Each operation goes through the same runtime calls as its single-request form, so mapping,
//! per-object ordering and export behave identically. Limits are advertised in
//! `/ServiceProviderConfig` and enforced here.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use ecma_scim::{parse_patch, ErrorBody, SCHEMA_BULK_REQUEST, SCHEMA_BULK_RESPONSE};
use serde_json::{json, Value as Json};

use super::error::{classify, ApiError};
use super::response::{resource_location, scim_json, MAX_OPERATIONS, MAX_PAYLOAD};
use super::Tenant;
use crate::connector::{PatchOutcome, RuntimeError};

/// What one operation produced: status and, where there is one, the resource's location and
/// version, or the error body.
struct Outcome {
    status: u16,
    location: Option<String>,
    version: Option<String>,
    error: Option<ErrorBody>,
}

impl Outcome {
    fn failed(error: ApiError) -> Self {
        let (status, scim_type, _) = classify(&error);
        let body = ErrorBody::new(status.as_u16(), scim_type, error.to_string());
        Self {
            status: status.as_u16(),
            location: None,
            version: None,
            error: Some(body),
        }
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::InvalidRequest(message.into())
}

/// Replace every `"bulkId:<id>"` string in `value` by the id it was given; an unknown
/// reference is an error.
fn resolve(value: &mut Json, ids: &HashMap<String, String>) -> Result<(), ApiError> {
    match value {
        Json::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                let id = ids.get(reference).ok_or_else(|| {
                    invalid(format!(
                        "bulkId `{reference}` does not name an earlier, successful POST"
                    ))
                })?;
                *s = id.clone();
            }
            Ok(())
        }
        Json::Array(items) => items.iter_mut().try_for_each(|i| resolve(i, ids)),
        Json::Object(map) => map.values_mut().try_for_each(|v| resolve(v, ids)),
        _ => Ok(()),
    }
}

/// `/Users` or `/Users/{id}`: the endpoint and the id, if any.
fn split_path(path: &str) -> (String, Option<String>) {
    let trimmed = path.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((endpoint, id)) => (endpoint.to_string(), Some(id.to_string())),
        None => (trimmed.to_string(), None),
    }
}

async fn run_one(tenant: &Tenant, operation: &Json, ids: &mut HashMap<String, String>) -> Outcome {
    match run_checked(tenant, operation, ids).await {
        Ok(outcome) => outcome,
        Err(error) => Outcome::failed(error),
    }
}

async fn run_checked(
    tenant: &Tenant,
    operation: &Json,
    ids: &mut HashMap<String, String>,
) -> Result<Outcome, ApiError> {
    let method = operation["method"]
        .as_str()
        .ok_or_else(|| invalid("an operation has no `method`"))?
        .to_ascii_uppercase();
    let path = operation["path"]
        .as_str()
        .ok_or_else(|| invalid("an operation has no `path`"))?;
    let (endpoint, id) = split_path(path);
    // `/Users/bulkId:qwerty` names the resource an earlier POST of this request created.
    let id = match id {
        Some(id) => {
            let mut id = Json::String(id);
            resolve(&mut id, ids)?;
            id.as_str().map(str::to_string)
        }
        None => None,
    };
    let runtime = tenant
        .runtime
        .resources(&endpoint)
        .ok_or_else(|| ApiError::UnknownResource(endpoint.clone()))?;
    let mapping = runtime.mapping();
    let mut data = operation.get("data").cloned().unwrap_or(Json::Null);
    resolve(&mut data, ids)?;
    let if_match = operation["version"].as_str();
    let located = |anchor: &str| Some(resource_location(&tenant.base, mapping.endpoint(), anchor));
    match (method.as_str(), id) {
        ("POST", None) => {
            let bulk_id = operation["bulkId"]
                .as_str()
                .ok_or_else(|| invalid("a POST operation needs a `bulkId`"))?;
            if !data.is_object() {
                return Err(invalid("a POST operation needs `data`, a resource"));
            }
            let object = runtime.create(&data).await?;
            ids.insert(bulk_id.to_string(), object.anchor.clone());
            Ok(Outcome {
                status: 201,
                location: located(&object.anchor),
                version: Some(object.etag()),
                error: None,
            })
        }
        ("PUT", Some(id)) => {
            let outcome = runtime.replace(&id, &data, if_match).await?;
            Ok(changed(outcome, &id, located))
        }
        ("PATCH", Some(id)) => {
            let ops = parse_patch(&data).map_err(RuntimeError::from)?;
            let outcome = runtime.patch(&id, &ops, if_match, &tenant.base).await?;
            Ok(changed(outcome, &id, located))
        }
        ("DELETE", Some(id)) => {
            runtime.delete(&id, if_match).await?;
            Ok(Outcome {
                status: 204,
                location: located(&id),
                version: None,
                error: None,
            })
        }
        (other, _) => Err(invalid(format!(
            "`{other}` with path `{path}` is not a bulk operation"
        ))),
    }
}

/// The result of a PUT or PATCH: 200 with the new version, or 204 when the disable flow deleted
/// the object.
fn changed(outcome: PatchOutcome, id: &str, located: impl Fn(&str) -> Option<String>) -> Outcome {
    match outcome {
        PatchOutcome::Updated(o) => Outcome {
            status: 200,
            location: located(&o.anchor),
            version: Some(o.etag()),
            error: None,
        },
        PatchOutcome::Deleted => Outcome {
            status: 204,
            location: located(id),
            version: None,
            error: None,
        },
    }
}

/// Run a bulk request.
pub async fn bulk(tenant: &Tenant, body: &[u8]) -> Result<Response, ApiError> {
    if body.len() > MAX_PAYLOAD {
        return Err(ApiError::PayloadTooLarge { limit: MAX_PAYLOAD });
    }
    let request: Json =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    super::input::check_body(&request, tenant.max_value_bytes)?;
    let schemas_ok = request["schemas"].as_array().is_some_and(|s| {
        s.iter().any(|v| {
            v.as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(SCHEMA_BULK_REQUEST))
        })
    });
    if !schemas_ok {
        return Err(ApiError::MalformedJson(format!(
            "schemas must contain {SCHEMA_BULK_REQUEST}"
        )));
    }
    let operations = request["Operations"]
        .as_array()
        .ok_or_else(|| ApiError::MalformedJson("`Operations` must be an array".into()))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_OPERATIONS,
        });
    }
    let fail_on_errors = request["failOnErrors"].as_u64().filter(|n| *n > 0);
    let mut ids = HashMap::new();
    let mut errors = 0u64;
    let mut results = Vec::with_capacity(operations.len());
    for operation in operations {
        let outcome = run_one(tenant, operation, &mut ids).await;
        errors += u64::from(outcome.error.is_some());
        let mut result =
            json!({"method": operation["method"], "status": outcome.status.to_string()});
        for (key, value) in [
            ("bulkId", operation["bulkId"].as_str().map(str::to_string)),
            ("location", outcome.location),
            ("version", outcome.version),
        ] {
            if let Some(value) = value {
                result[key] = json!(value);
            }
        }
        if let Some(error) = outcome.error {
            result["response"] = json!(error);
        }
        results.push(result);
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    Ok(scim_json(
        StatusCode::OK,
        &json!({"schemas": [SCHEMA_BULK_RESPONSE], "Operations": results}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_ids_resolve_anywhere_and_unknown_ones_fail() {
        let ids = HashMap::from([("qwerty".to_string(), "alice".to_string())]);
        let mut data = json!({"members": [{"value": "bulkId:qwerty"}], "manager": {"value": "bulkId:qwerty"}, "x": "bulkId-not"});
        resolve(&mut data, &ids).unwrap();
        assert_eq!(
            data,
            json!({"members": [{"value": "alice"}], "manager": {"value": "alice"}, "x": "bulkId-not"})
        );
        assert!(resolve(&mut json!("bulkId:nope"), &ids).is_err());
    }

    #[test]
    fn paths_split_into_endpoint_and_id() {
        assert_eq!(split_path("/Users"), ("Users".to_string(), None));
        assert_eq!(
            split_path("/Users/a.b"),
            ("Users".to_string(), Some("a.b".to_string()))
        );
    }
}
