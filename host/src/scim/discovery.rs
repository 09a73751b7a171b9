//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, generated from the connector's
//! schema and the mapping of each resource type, so they describe exactly what the connector
//! exposes: no nulls, camelCase, one core and one ECMA2Host extension schema per type.

use ecma_plugin_api::{AttributeDirection, AttributeType};
use ecma_scim::{
    ListResponse, SCHEMA_ENTERPRISE_USER, SCHEMA_RESOURCE_TYPE, SCHEMA_SCHEMA,
    SCHEMA_SERVICE_PROVIDER_CONFIG,
};
use serde_json::{json, Value as Json};

use super::error::ApiError;
use super::response::{MAX_OPERATIONS, MAX_PAYLOAD, MAX_RESULTS};
use super::Tenant;
use crate::config::ResourceKind;
use crate::connector::mapping::DN_ATTRIBUTE;
use crate::connector::Resources;

pub fn service_provider_config(tenant: &Tenant) -> Json {
    json!({
        "schemas": [SCHEMA_SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/ecmahost/ecmahost",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_OPERATIONS, "maxPayloadSize": MAX_PAYLOAD},
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

fn resource_type_document(tenant: &Tenant, resources: Resources<'_>) -> Json {
    let mapping = resources.mapping();
    let mut extensions = vec![json!({"schema": mapping.extension_urn(), "required": false})];
    if mapping
        .exposed()
        .any(|e| e.urn == Some(SCHEMA_ENTERPRISE_USER))
    {
        extensions.push(json!({"schema": SCHEMA_ENTERPRISE_USER, "required": false}));
    }
    json!({
        "schemas": [SCHEMA_RESOURCE_TYPE],
        "id": mapping.resource_type(),
        "name": mapping.resource_type(),
        "endpoint": format!("/{}", mapping.endpoint()),
        "description": format!("{} objects of connector '{}'", mapping.object_type(), tenant.runtime.name()),
        "schema": mapping.core_schema(),
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", tenant.base, mapping.resource_type()),
        },
    })
}

pub fn resource_types(tenant: &Tenant) -> ListResponse<Json> {
    let documents: Vec<Json> = tenant
        .runtime
        .all_resources()
        .map(|r| resource_type_document(tenant, r))
        .collect();
    let total = documents.len();
    ListResponse::new(documents, total, 1)
}

pub fn resource_type(tenant: &Tenant, id: &str) -> Result<Json, ApiError> {
    tenant
        .runtime
        .all_resources()
        .find(|r| r.mapping().resource_type().eq_ignore_ascii_case(id))
        .map(|r| resource_type_document(tenant, r))
        .ok_or_else(|| ApiError::UnknownResource(format!("ResourceTypes/{id}")))
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

/// A complex reference (`members`, `manager`): `value`, `$ref` and, for `members`, `type`,
/// as RFC 7643 §4.2 and §8.7.1 define them. `types` are the resource types it may name.
fn complex_reference(name: &str, multi_valued: bool, description: &str, types: &[&str]) -> Json {
    let sub =
        |name: &str, t: AttributeType| attribute(name, t, false, name, false, "immutable", "none");
    let mut reference = sub("$ref", AttributeType::Reference);
    reference["referenceTypes"] = json!(types);
    let mut subs = vec![sub("value", AttributeType::String), reference];
    if multi_valued {
        let mut kind = sub("type", AttributeType::String);
        kind["canonicalValues"] = json!(types);
        subs.push(kind);
    }
    json!({
        "name": name, "type": "complex", "multiValued": multi_valued, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": "none", "subAttributes": subs,
    })
}

/// The core schema, extension schema and (if used) enterprise extension of one resource type.
fn type_schema_documents(tenant: &Tenant, resources: Resources<'_>, types: &[&str]) -> Vec<Json> {
    let mapping = resources.mapping();
    // A connector that renames lets the anchor and the DN change; otherwise they are set once.
    let renames = tenant.runtime.capabilities().object_rename;
    let set_once = if renames { "readWrite" } else { "immutable" };
    let compound = mapping.compound_anchor();
    let mut core = vec![if mapping.assigned_anchor() {
        // The target assigns the anchor: it is only the id, which every resource has.
        None
    } else if compound {
        // The id of a multi-attribute anchor, made from its parts: the parts are written.
        Some(attribute(
            mapping.anchor_scim(),
            AttributeType::String,
            false,
            &format!(
                "The anchor, made of {} (parts joined by `~`)",
                mapping.anchor_parts().join(", ")
            ),
            false,
            "readOnly",
            "server",
        ))
    } else {
        Some(attribute(
            mapping.anchor_scim(),
            mapping.anchor_type(),
            false,
            &format!("The anchor, {}", mapping.anchor()),
            true,
            set_once,
            "server",
        ))
    }]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    if mapping.has_active() {
        core.push(attribute(
            "active",
            AttributeType::Boolean,
            false,
            "Follows the connector's disable flow",
            // With a set-attribute disable flow, `active` always has a value: it cannot be removed.
            mapping.active_attribute().is_some(),
            "readWrite",
            "none",
        ));
    }
    // Complex parents of mapped sub-attributes, keyed by (in the enterprise extension, name).
    let mut complex: std::collections::BTreeMap<(bool, String), Json> = Default::default();
    let mut extension = Vec::new();
    let mut enterprise = Vec::new();
    for exposed in mapping.exposed() {
        let (connector_name, scim_name, t, multi) = (
            exposed.attribute,
            exposed.scim_name,
            exposed.attribute_type,
            exposed.multi_valued,
        );
        let description = format!("Connector attribute {connector_name}");
        // The anchor, if selected too, repeats the id: read-only here.
        // Import-only attributes are read-only; export-only ones are write-only, never returned.
        let part = mapping.anchor_parts().iter().any(|p| p == connector_name);
        let mutability =
            if (part && !compound) || exposed.direction == AttributeDirection::ImportOnly {
                "readOnly"
            } else if connector_name == DN_ATTRIBUTE || part {
                set_once
            } else if exposed.direction == AttributeDirection::ExportOnly {
                "writeOnly"
            } else {
                "readWrite"
            };
        let plain = |name: &str| {
            let mut a = attribute(name, t, multi, &description, false, mutability, "none");
            if t == AttributeType::Reference {
                a["referenceTypes"] = json!(types);
            }
            if exposed.direction == AttributeDirection::ExportOnly {
                a["returned"] = json!("never");
            }
            a
        };
        let holder = match exposed.urn {
            Some(SCHEMA_ENTERPRISE_USER) => &mut enterprise,
            Some(_) => {
                extension.push(plain(&scim_name));
                continue;
            }
            None => &mut core,
        };
        if exposed.complex_reference {
            holder.push(complex_reference(&scim_name, multi, &description, types));
        } else if let Some((parent, sub)) = scim_name.split_once('.') {
            let key = (exposed.urn.is_some(), parent.to_string());
            let entry = complex.entry(key).or_insert_with(|| {
                json!({"name": parent, "type": "complex", "multiValued": exposed.parent_multi_valued, "description": parent,
                       "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none", "subAttributes": []})
            });
            if let Some(Json::Array(subs)) = entry.get_mut("subAttributes") {
                subs.push(plain(sub));
            }
        } else {
            holder.push(plain(&scim_name));
        }
    }
    for ((in_enterprise, _), value) in complex {
        match in_enterprise {
            true => enterprise.push(value),
            false => core.push(value),
        }
    }
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
    let core_description = match mapping.kind() {
        ResourceKind::User => "User Account".to_string(),
        ResourceKind::Group => "Group".to_string(),
        ResourceKind::Custom => format!("{} objects", mapping.object_type()),
    };
    let mut documents = vec![
        document(
            mapping.core_schema(),
            mapping.resource_type(),
            &core_description,
            core,
        ),
        document(
            mapping.extension_urn(),
            &format!("ECMA2Host {}", mapping.resource_type()),
            &format!("Attributes of connector '{}'", tenant.runtime.name()),
            extension,
        ),
    ];
    if !enterprise.is_empty() {
        documents.push(document(
            SCHEMA_ENTERPRISE_USER,
            "EnterpriseUser",
            "Enterprise User",
            enterprise,
        ));
    }
    documents
}

fn schema_documents(tenant: &Tenant) -> Vec<Json> {
    let types: Vec<&str> = tenant
        .runtime
        .all_resources()
        .map(|r| r.mapping().resource_type())
        .collect();
    tenant
        .runtime
        .all_resources()
        .flat_map(|r| type_schema_documents(tenant, r, &types))
        .collect()
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
