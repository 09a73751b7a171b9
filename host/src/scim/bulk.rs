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

/// One operation of a bulk request, read and with its `bulkId` references resolved.
#[derive(Debug)]
pub struct Operation {
    /// POST, PUT, PATCH or DELETE, upper case.
    pub method: String,
    /// `Users` in `/Users/{id}`.
    pub endpoint: String,
    /// The resource's id (a `bulkId:` reference resolved); none for a POST.
    pub id: Option<String>,
    /// A POST's `bulkId`.
    pub bulk_id: Option<String>,
    /// The resource or PATCH body, references resolved.
    pub data: Json,
    /// The `version` to check (`If-Match`).
    pub version: Option<String>,
}

/// Read one operation against the ids earlier POSTs were given. Pure: nothing runs.
pub fn read_operation(
    operation: &Json,
    ids: &HashMap<String, String>,
) -> Result<Operation, ApiError> {
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
    let mut data = operation.get("data").cloned().unwrap_or(Json::Null);
    resolve(&mut data, ids)?;
    let bulk_id = operation["bulkId"].as_str().map(str::to_string);
    match (method.as_str(), &id) {
        ("POST", None) => {
            if bulk_id.is_none() {
                return Err(invalid("a POST operation needs a `bulkId`"));
            }
            if !data.is_object() {
                return Err(invalid("a POST operation needs `data`, a resource"));
            }
        }
        ("PUT" | "PATCH" | "DELETE", Some(_)) => {}
        (other, _) => {
            return Err(invalid(format!(
                "`{other}` with path `{path}` is not a bulk operation"
            )))
        }
    }
    Ok(Operation {
        method,
        endpoint,
        id,
        bulk_id,
        data,
        version: operation["version"].as_str().map(str::to_string),
    })
}

async fn run_checked(
    tenant: &Tenant,
    operation: &Json,
    ids: &mut HashMap<String, String>,
) -> Result<Outcome, ApiError> {
    let Operation {
        method,
        endpoint,
        id,
        bulk_id,
        data,
        version,
    } = read_operation(operation, ids)?;
    let runtime = tenant
        .runtime
        .resources(&endpoint)
        .ok_or_else(|| ApiError::UnknownResource(endpoint.clone()))?;
    let mapping = runtime.mapping();
    let if_match = version.as_deref();
    let located = |anchor: &str| Some(resource_location(&tenant.base, mapping.endpoint(), anchor));
    match (method.as_str(), id, bulk_id) {
        ("POST", None, Some(bulk_id)) => {
            let object = runtime.create(&data).await?;
            ids.insert(bulk_id, object.anchor.clone());
            Ok(Outcome {
                status: 201,
                location: located(&object.anchor),
                version: Some(object.etag()),
                error: None,
            })
        }
        ("PUT", Some(id), _) => {
            let outcome = runtime.replace(&id, &data, if_match).await?;
            Ok(changed(outcome, &id, located))
        }
        ("PATCH", Some(id), _) => {
            let ops = parse_patch(&data).map_err(RuntimeError::from)?;
            let outcome = runtime.patch(&id, &ops, if_match, &tenant.base).await?;
            Ok(changed(outcome, &id, located))
        }
        ("DELETE", Some(id), _) => {
            runtime.delete(&id, if_match).await?;
            Ok(Outcome {
                status: 204,
                location: located(&id),
                version: None,
                error: None,
            })
        }
        // `read_operation` let only the shapes above through.
        (other, _, _) => Err(invalid(format!("`{other}` is not a bulk operation"))),
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

/// A bulk request's operations and its `failOnErrors`, checked against the limits (size,
/// values, schema, number of operations). Pure: nothing runs.
pub fn read_request(
    body: &[u8],
    max_value_bytes: usize,
) -> Result<(Vec<Json>, Option<u64>), ApiError> {
    if body.len() > MAX_PAYLOAD {
        return Err(ApiError::PayloadTooLarge { limit: MAX_PAYLOAD });
    }
    let mut request: Json =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    super::input::check_body(&request, max_value_bytes)?;
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
    let fail_on_errors = request["failOnErrors"].as_u64().filter(|n| *n > 0);
    let Some(Json::Array(operations)) = request.get_mut("Operations").map(Json::take) else {
        return Err(ApiError::MalformedJson(
            "`Operations` must be an array".into(),
        ));
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_OPERATIONS,
        });
    }
    Ok((operations, fail_on_errors))
}

/// Run a bulk request.
pub async fn bulk(tenant: &Tenant, body: &[u8]) -> Result<Response, ApiError> {
    let (operations, fail_on_errors) = read_request(body, tenant.max_value_bytes)?;
    let mut ids = HashMap::new();
    let mut errors = 0u64;
    let mut results = Vec::with_capacity(operations.len());
    for operation in &operations {
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
