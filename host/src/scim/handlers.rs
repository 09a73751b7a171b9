//! Resource endpoints: list/search, read, create, PATCH and DELETE, plus dispatch of the
//! discovery endpoints. Resource and endpoint names match case-insensitively (`/Users`,
//! `/users`), as Entra and Microsoft's documentation use both.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ecma_scim::{parse_filter, parse_patch, ListResponse};
use serde_json::Value as Json;

use super::error::ApiError;
use super::{discovery, Tenant};
use crate::connector::mapping::percent_encode;
use crate::connector::{PatchOutcome, RuntimeError};

/// The most resources one list response holds (advertised as `filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;

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

enum Endpoint {
    ServiceProviderConfig,
    ResourceTypes,
    Schemas,
    Resource,
}

fn endpoint(tenant: &Tenant, resource: &str) -> Result<Endpoint, ApiError> {
    let lower = resource.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "serviceproviderconfig" | "serviceproviderconfigs" => Endpoint::ServiceProviderConfig,
        "resourcetypes" => Endpoint::ResourceTypes,
        "schemas" => Endpoint::Schemas,
        _ if lower == tenant.runtime.mapping().endpoint().to_ascii_lowercase() => {
            Endpoint::Resource
        }
        _ => return Err(ApiError::UnknownResource(resource.to_string())),
    })
}

fn query_number(query: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    let value = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v);
    value
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ApiError::InvalidRequest(format!("{key} must be an integer, got `{v}`"))
            })
        })
        .transpose()
}

fn query_text<'a>(query: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn parse_body(body: &Bytes) -> Result<Json, ApiError> {
    let value: Json =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::MalformedJson("expected a JSON object".into()))
    }
}

/// `GET /{resource}`: a list (with `filter`, `startIndex`, `count`) or a discovery document.
pub async fn list(
    tenant: Tenant,
    Path((_, resource)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    match endpoint(&tenant, &resource)? {
        Endpoint::ServiceProviderConfig => Ok(scim_json(
            StatusCode::OK,
            &discovery::service_provider_config(&tenant),
        )),
        Endpoint::ResourceTypes => Ok(scim_json(
            StatusCode::OK,
            &discovery::resource_types(&tenant),
        )),
        Endpoint::Schemas => Ok(scim_json(StatusCode::OK, &discovery::schemas(&tenant))),
        Endpoint::Resource => {
            let filter = query_text(&query, "filter")
                .map(parse_filter)
                .transpose()
                .map_err(RuntimeError::from)?;
            let start_index = query_number(&query, "startIndex")?.unwrap_or(1).max(1) as usize;
            let count = query_number(&query, "count")?
                .map_or(MAX_RESULTS, |c| c.clamp(0, MAX_RESULTS as i64) as usize);
            let (resources, total) =
                tenant
                    .runtime
                    .list(filter.as_ref(), start_index, count, &tenant.base)?;
            Ok(scim_json(
                StatusCode::OK,
                &ListResponse::new(resources, total, start_index),
            ))
        }
    }
}

/// `GET /{resource}/{id}`.
pub async fn get_one(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    match endpoint(&tenant, &resource)? {
        Endpoint::ResourceTypes => {
            discovery::resource_type(&tenant, &id).map(|d| scim_json(StatusCode::OK, &d))
        }
        Endpoint::Schemas => discovery::schema(&tenant, &id).map(|d| scim_json(StatusCode::OK, &d)),
        Endpoint::ServiceProviderConfig => Err(ApiError::NoRoute),
        Endpoint::Resource => {
            let object = tenant.runtime.get(&id)?;
            Ok(scim_json(
                StatusCode::OK,
                &tenant.runtime.mapping().to_resource(&object, &tenant.base),
            ))
        }
    }
}

fn require_resource(tenant: &Tenant, resource: &str) -> Result<(), ApiError> {
    match endpoint(tenant, resource)? {
        Endpoint::Resource => Ok(()),
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// `POST /{resource}`: 201 with `Location` and the created resource.
pub async fn create(
    tenant: Tenant,
    Path((_, resource)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_resource(&tenant, &resource)?;
    let body = parse_body(&body)?;
    let object = tenant.runtime.create(&body).await?;
    let mapping = tenant.runtime.mapping();
    let mut response = scim_json(
        StatusCode::CREATED,
        &mapping.to_resource(&object, &tenant.base),
    );
    let location = format!(
        "{}/{}/{}",
        tenant.base,
        mapping.endpoint(),
        percent_encode(&object.anchor)
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `PATCH /{resource}/{id}`: 200 with the resource, or 204 when the disable flow deleted it.
pub async fn patch(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_resource(&tenant, &resource)?;
    let body = parse_body(&body)?;
    let ops = parse_patch(&body).map_err(RuntimeError::from)?;
    match tenant.runtime.patch(&id, &ops, &tenant.base).await? {
        PatchOutcome::Updated(object) => Ok(scim_json(
            StatusCode::OK,
            &tenant.runtime.mapping().to_resource(&object, &tenant.base),
        )),
        PatchOutcome::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// `DELETE /{resource}/{id}`: 204.
pub async fn delete(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    require_resource(&tenant, &resource)?;
    tenant.runtime.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
