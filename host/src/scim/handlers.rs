//! Resource endpoints: list and `.search`, read, create, PATCH, PUT and DELETE, the connector
//! space view (`/cache`), and dispatch of the discovery endpoints. Resource and endpoint names
//! match case-insensitively (`/Users`, `/users`), as Entra and Microsoft's documentation use both.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ecma_scim::query::{parse_attribute_list, project, SearchRequest};
use ecma_scim::{parse_filter, parse_patch, AttrPath, ListResponse};
use serde_json::{json, Value as Json};

use super::error::ApiError;
use super::response::{resource_location, scim_json, with_etag, with_location, MAX_RESULTS};
use super::{discovery, Tenant};
use crate::config::ResourceKind;
use crate::connector::mapping::value_to_json;
use crate::connector::{sort_resources, ListQuery, PatchOutcome, Resources, RuntimeError};
use crate::space::CsObject;

/// A single resource (projected when `attributes` or `excludedAttributes` ask), with its
/// `ETag`.
fn resource_response(
    status: StatusCode,
    tenant: &Tenant,
    resources: Resources<'_>,
    object: &CsObject,
    projection: Option<&ListRequest>,
) -> Response {
    let body = match projection {
        Some(p) if !p.attributes.is_empty() || !p.excluded.is_empty() => project(
            &resources.to_resource_without(object, &tenant.base, &p.excluded),
            &p.attributes,
            &p.excluded,
        ),
        _ => resources.to_resource(object, &tenant.base),
    };
    with_etag(scim_json(status, &body), object)
}

enum Endpoint<'a> {
    ServiceProviderConfig,
    ResourceTypes,
    Schemas,
    Cache,
    Resource(Resources<'a>),
}

fn endpoint<'a>(tenant: &'a Tenant, resource: &str) -> Result<Endpoint<'a>, ApiError> {
    let lower = resource.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "serviceproviderconfig" | "serviceproviderconfigs" => Endpoint::ServiceProviderConfig,
        "resourcetypes" => Endpoint::ResourceTypes,
        "schemas" => Endpoint::Schemas,
        "cache" => Endpoint::Cache,
        _ => match tenant.runtime.resources(resource) {
            Some(r) => Endpoint::Resource(r),
            None => return Err(ApiError::UnknownResource(resource.to_string())),
        },
    })
}

fn query_text<'a>(query: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn query_number(query: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    query_text(query, key)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ApiError::InvalidRequest(format!("{key} must be an integer, got `{v}`"))
            })
        })
        .transpose()
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

fn parse_body(body: &Bytes, tenant: &Tenant) -> Result<Json, ApiError> {
    let value: Json =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ApiError::MalformedJson("expected a JSON object".into()));
    }
    super::input::check_body(&value, tenant.max_value_bytes)?;
    Ok(value)
}

/// Everything a list or search asks for, from the query string or a SearchRequest body.
struct ListRequest {
    query: ListQuery,
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl ListRequest {
    fn new(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        attributes: &[String],
        excluded: &[String],
    ) -> Result<Self, ApiError> {
        let list = |items: &[String]| -> Result<Vec<AttrPath>, ApiError> {
            let joined = items.join(",");
            parse_attribute_list(&joined)
                .map_err(|e| ApiError::InvalidRequest(format!("attribute list: {e}")))
        };
        let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ApiError::InvalidRequest(format!(
                    "sortOrder must be ascending or descending, got `{other}`"
                )))
            }
        };
        Ok(Self {
            query: ListQuery {
                filter: filter
                    .map(parse_filter)
                    .transpose()
                    .map_err(RuntimeError::from)?,
                start_index: start_index.unwrap_or(1).max(1) as usize,
                count: count.map_or(MAX_RESULTS, |c| c.clamp(0, MAX_RESULTS as i64) as usize),
                sort_by: sort_by
                    .map(AttrPath::parse)
                    .transpose()
                    .map_err(|e| ApiError::InvalidRequest(format!("sortBy: {e}")))?,
                descending,
                excluded: list(excluded)?,
            },
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let one = |key: &str| {
            query_text(query, key)
                .map(|v| vec![v.to_string()])
                .unwrap_or_default()
        };
        Self::new(
            query_text(query, "filter"),
            query_number(query, "startIndex")?,
            query_number(query, "count")?,
            query_text(query, "sortBy"),
            query_text(query, "sortOrder"),
            &one("attributes"),
            &one("excludedAttributes"),
        )
    }

    fn from_search(body: &Json) -> Result<Self, ApiError> {
        let r = SearchRequest::parse(body).map_err(ApiError::InvalidRequest)?;
        Self::new(
            r.filter.as_deref(),
            r.start_index,
            r.count,
            r.sort_by.as_deref(),
            r.sort_order.as_deref(),
            &r.attributes,
            &r.excluded_attributes,
        )
    }

    fn respond(self, tenant: &Tenant, resources: Resources<'_>) -> Result<Response, ApiError> {
        let (resources, total) = resources.list(&self.query, &tenant.base)?;
        self.render(resources, total)
    }

    /// `POST /.search` at the root: every resource type's matches, merged (RFC 7644 §3.4.3),
    /// in the config's type order unless `sortBy` orders them.
    fn respond_all(self, tenant: &Tenant) -> Result<Response, ApiError> {
        let mut all = Vec::new();
        for resources in tenant.runtime.all_resources() {
            all.extend(resources.all_matching(&self.query, &tenant.base)?);
        }
        sort_resources(&mut all, &self.query);
        let total = all.len();
        let start = self.query.start_index.max(1) - 1;
        let page = all.into_iter().skip(start).take(self.query.count).collect();
        self.render(page, total)
    }

    fn render(self, resources: Vec<Json>, total: usize) -> Result<Response, ApiError> {
        let resources = if self.attributes.is_empty() && self.excluded.is_empty() {
            resources
        } else {
            resources
                .iter()
                .map(|r| project(r, &self.attributes, &self.excluded))
                .collect()
        };
        Ok(scim_json(
            StatusCode::OK,
            &ListResponse::new(resources, total, self.query.start_index),
        ))
    }
}

/// `GET /{resource}`: a list (`filter`, `startIndex`, `count`, `sortBy`, `sortOrder`,
/// `attributes`, `excludedAttributes`), the connector space, or a discovery document.
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
        Endpoint::Cache => cache(&tenant, &query),
        Endpoint::Resource(r) => ListRequest::from_query(&query)?.respond(&tenant, r),
    }
}

/// `GET /cache`: the connector spaces as the host holds them (resource type, anchor, DN,
/// attribute values), paged.
/// Microsoft's host shows this only with a debug flag that turns authentication off; here the
/// connector's token guards it like every other endpoint.
fn cache(tenant: &Tenant, query: &HashMap<String, String>) -> Result<Response, ApiError> {
    let request = ListRequest::from_query(query)?;
    let objects = tenant
        .runtime
        .cache_page(request.query.start_index, request.query.count)?;
    let total = tenant.runtime.object_count();
    let resources = objects
        .iter()
        .map(|(resource_type, o)| {
            let attributes: serde_json::Map<String, Json> = o
                .attributes
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        Json::Array(v.iter().map(value_to_json).collect()),
                    )
                })
                .collect();
            json!({"resourceType": resource_type, "anchor": o.anchor, "dn": o.dn, "version": o.etag(), "attributes": attributes})
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(resources, total, request.query.start_index),
    ))
}

/// `GET /{resource}/{id}` (with `attributes` / `excludedAttributes`), `If-None-Match` answered
/// by 304.
pub async fn get_one(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match endpoint(&tenant, &resource)? {
        Endpoint::ResourceTypes => {
            discovery::resource_type(&tenant, &id).map(|d| scim_json(StatusCode::OK, &d))
        }
        Endpoint::Schemas => discovery::schema(&tenant, &id).map(|d| scim_json(StatusCode::OK, &d)),
        Endpoint::ServiceProviderConfig | Endpoint::Cache => Err(ApiError::NoRoute),
        Endpoint::Resource(r) => {
            let object = r.get(&id)?;
            let version = object.etag();
            let unchanged = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == version || t.trim() == "*"));
            if unchanged {
                let mut response = StatusCode::NOT_MODIFIED.into_response();
                if let Ok(value) = HeaderValue::from_str(&version) {
                    response.headers_mut().insert(header::ETAG, value);
                }
                return Ok(response);
            }
            let request = ListRequest::from_query(&query)?;
            Ok(resource_response(
                StatusCode::OK,
                &tenant,
                r,
                &object,
                Some(&request),
            ))
        }
    }
}

fn require_resource<'a>(tenant: &'a Tenant, resource: &str) -> Result<Resources<'a>, ApiError> {
    match endpoint(tenant, resource)? {
        Endpoint::Resource(r) => Ok(r),
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// `POST /{resource}`: 201 with `Location` and the created resource. `POST /.search` (at the
/// root) searches every resource type of the connector.
pub async fn create(
    tenant: Tenant,
    Path((_, resource)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if resource.eq_ignore_ascii_case(".search") {
        return ListRequest::from_search(&parse_body(&body, &tenant)?)?.respond_all(&tenant);
    }
    if resource.eq_ignore_ascii_case("bulk") {
        return super::bulk::bulk(&tenant, &body).await;
    }
    let r = require_resource(&tenant, &resource)?;
    let body = parse_body(&body, &tenant)?;
    let object = r.create(&body).await?;
    let response = resource_response(StatusCode::CREATED, &tenant, r, &object, None);
    let location = resource_location(&tenant.base, r.mapping().endpoint(), &object.anchor);
    Ok(with_location(response, &location))
}

/// `POST /{resource}/.search`.
pub async fn search(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = require_resource(&tenant, &resource)?;
    if !id.eq_ignore_ascii_case(".search") {
        return Err(ApiError::MethodNotAllowed);
    }
    ListRequest::from_search(&parse_body(&body, &tenant)?)?.respond(&tenant, r)
}

fn outcome_response(
    tenant: &Tenant,
    resources: Resources<'_>,
    outcome: PatchOutcome,
    projection: Option<&ListRequest>,
) -> Response {
    match outcome {
        PatchOutcome::Updated(object) => {
            // After a rename, `Location` tells the client the resource's new URL.
            let location =
                resource_location(&tenant.base, resources.mapping().endpoint(), &object.anchor);
            let response =
                resource_response(StatusCode::OK, tenant, resources, &object, projection);
            with_location(response, &location)
        }
        PatchOutcome::Deleted => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `PATCH /{resource}/{id}`: 200 with the resource, or 204 when the disable flow deleted it.
/// Groups answer 204 with the new `ETag`, as Microsoft documents for Entra's group updates
/// (echoing a group with thousands of members costs both sides); `?attributes=` or
/// `?excludedAttributes=` ask for a body anyway (RFC 7644 §3.5.2).
pub async fn patch(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = require_resource(&tenant, &resource)?;
    let request = ListRequest::from_query(&query)?;
    let body = parse_body(&body, &tenant)?;
    let ops = parse_patch(&body).map_err(RuntimeError::from)?;
    let outcome = r.patch(&id, &ops, if_match(&headers), &tenant.base).await?;
    let asked = !request.attributes.is_empty() || !request.excluded.is_empty();
    match outcome {
        PatchOutcome::Updated(object) if r.mapping().kind() == ResourceKind::Group && !asked => {
            let location = resource_location(&tenant.base, r.mapping().endpoint(), &object.anchor);
            let response = with_etag(StatusCode::NO_CONTENT.into_response(), &object);
            Ok(with_location(response, &location))
        }
        outcome => Ok(outcome_response(&tenant, r, outcome, Some(&request))),
    }
}

/// `PUT /{resource}/{id}`: replace the resource as a whole.
pub async fn replace(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = require_resource(&tenant, &resource)?;
    let body = parse_body(&body, &tenant)?;
    let outcome = r.replace(&id, &body, if_match(&headers)).await?;
    Ok(outcome_response(&tenant, r, outcome, None))
}

/// `DELETE /{resource}/{id}`: 204.
pub async fn delete(
    tenant: Tenant,
    Path((_, resource, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let r = require_resource(&tenant, &resource)?;
    r.delete(&id, if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
