//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, generated from the connector's
//! schema and mapping, so they describe exactly what the connector exposes.

use ecma_plugin_api::AttributeType;
use ecma_scim::{
    ListResponse, SCHEMA_RESOURCE_TYPE, SCHEMA_SCHEMA, SCHEMA_SERVICE_PROVIDER_CONFIG,
};
use serde_json::{json, Map, Value as Json};

use super::error::ApiError;
use super::handlers::MAX_RESULTS;
use super::Tenant;

pub fn service_provider_config(tenant: &Tenant) -> Json {
    json!({
        "schemas": [SCHEMA_SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/ecmahost/ecmahost",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": super::bulk::MAX_OPERATIONS, "maxPayloadSize": super::bulk::MAX_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The connector's secret token in an Authorization: Bearer header",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", tenant.base),
        },
    })
}

fn resource_type_document(tenant: &Tenant) -> Json {
    let mapping = tenant.runtime.mapping();
    json!({
        "schemas": [SCHEMA_RESOURCE_TYPE],
        "id": mapping.resource_type(),
        "name": mapping.resource_type(),
        "endpoint": format!("/{}", mapping.endpoint()),
        "description": format!("{} objects of connector '{}'", mapping.object_type(), tenant.runtime.name()),
        "schema": mapping.core_schema(),
        "schemaExtensions": [{"schema": mapping.extension_urn(), "required": false}],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", tenant.base, mapping.resource_type()),
        },
    })
}

pub fn resource_types(tenant: &Tenant) -> ListResponse<Json> {
    ListResponse::new(vec![resource_type_document(tenant)], 1, 1)
}

pub fn resource_type(tenant: &Tenant, id: &str) -> Result<Json, ApiError> {
    let document = resource_type_document(tenant);
    if id.eq_ignore_ascii_case(tenant.runtime.mapping().resource_type()) {
        Ok(document)
    } else {
        Err(ApiError::UnknownResource(format!("ResourceTypes/{id}")))
    }
}

fn scim_type(t: AttributeType) -> &'static str {
    match t {
        AttributeType::String => "string",
        AttributeType::Integer => "integer",
        AttributeType::Boolean => "boolean",
        AttributeType::Binary => "binary",
        AttributeType::Reference => "reference",
    }
}

fn attribute(
    name: &str,
    t: AttributeType,
    multi_valued: bool,
    description: &str,
    required: bool,
    mutability: &str,
    uniqueness: &str,
) -> Json {
    let mut a = json!({
        "name": name,
        "type": scim_type(t),
        "multiValued": multi_valued,
        "description": description,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    });
    if t == AttributeType::Reference {
        a["referenceTypes"] = json!(["external"]);
    }
    a
}

fn schema_documents(tenant: &Tenant) -> Vec<Json> {
    let mapping = tenant.runtime.mapping();
    let mut core = vec![
        attribute(
            "userName",
            mapping.anchor_type(),
            false,
            &format!("The anchor, {}", mapping.anchor()),
            true,
            // Without object rename in the connector, the anchor can be set once, never changed.
            if tenant.runtime.capabilities().object_rename {
                "readWrite"
            } else {
                "immutable"
            },
            "server",
        ),
        attribute(
            "active",
            AttributeType::Boolean,
            false,
            "Follows the connector's disable flow",
            // With a set-attribute disable flow, `active` always has a value: it cannot be removed.
            mapping.active_attribute().is_some(),
            "readWrite",
            "none",
        ),
    ];
    let mut complex: Map<String, Json> = Map::new();
    let mut extension = Vec::new();
    for exposed in mapping.exposed() {
        let (connector_name, scim_name, t, multi) = (
            exposed.attribute,
            exposed.scim_name,
            exposed.attribute_type,
            exposed.multi_valued,
        );
        let description = format!("Connector attribute {connector_name}");
        // The anchor, if selected too, repeats userName: read-only here.
        let mutability = if connector_name == mapping.anchor() {
            "readOnly"
        } else {
            "readWrite"
        };
        let plain = |name: &str| attribute(name, t, multi, &description, false, mutability, "none");
        if exposed.in_extension {
            extension.push(plain(&scim_name));
        } else if let Some((parent, sub)) = scim_name.split_once('.') {
            let entry = complex.entry(parent.to_string()).or_insert_with(|| {
                json!({"name": parent, "type": "complex", "multiValued": exposed.parent_multi_valued, "description": parent,
                       "required": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none", "subAttributes": []})
            });
            if let Some(Json::Array(subs)) = entry.get_mut("subAttributes") {
                subs.push(plain(sub));
            }
        } else {
            core.push(plain(&scim_name));
        }
    }
    core.extend(complex.into_iter().map(|(_, v)| v));
    let document = |id: &str, name: &str, description: &str, attributes: Vec<Json>| {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": id,
            "name": name,
            "description": description,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": format!("{}/Schemas/{id}", tenant.base)},
        })
    };
    vec![
        document(mapping.core_schema(), "User", "User Account", core),
        document(
            mapping.extension_urn(),
            "ECMA2Host User",
            &format!("Attributes of connector '{}'", tenant.runtime.name()),
            extension,
        ),
    ]
}

pub fn schemas(tenant: &Tenant) -> ListResponse<Json> {
    let documents = schema_documents(tenant);
    let total = documents.len();
    ListResponse::new(documents, total, 1)
}

pub fn schema(tenant: &Tenant, id: &str) -> Result<Json, ApiError> {
    schema_documents(tenant)
        .into_iter()
        .find(|d| d["id"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
        .ok_or_else(|| ApiError::UnknownResource(format!("Schemas/{id}")))
}
