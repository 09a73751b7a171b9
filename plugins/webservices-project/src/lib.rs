//! `ecma_ws_project`: the web services connector's project file, shared by the connector
//! (`plugins/webservices`) and the host's `ecmahost ws` commands, so that the host never links
//! the plugin.
//!
//! A project is one TOML file: the connection (base URL, time-outs, retries, rate limit), the
//! authentication method (credentials are connector parameters, never in the file), discovery
//! results (REST services, SOAP services from a WSDL), the connector schema (object types,
//! attributes, anchor, `export_password`) and each object type's operation flows (ordered
//! steps: REST calls, assignments, conditions, for-each, do-while, emitted entries, results).
//! [`load`] reads and checks one; every error names the file, the line and the key.
//! [`json_schema`] is the JSON Schema of the format (docs/webservices-project.schema.json).
//! Templates (`{attr.mail}`, `{response./items}`) are parsed by [`template`]. [`wsdl`] reads a
//! WSDL 1.1 (with its imports) into SOAP discovery results; [`add_soap`], [`add_rest`] and
//! [`add_rest_services`] record discovery results in a project file, keeping its text. [`xpath`] is the XPath subset
//! that SOAP steps read responses with (`xpath:` assignments and `for_each`).

mod edit;
mod load;
pub mod model;
pub mod template;
mod validate;
pub mod wsdl;
pub mod xpath;

pub use edit::{add_rest, add_rest_services, add_soap, EditError};
pub use load::{load, parse, Issue, KeyPath, ProjectError};
pub use model::*;
pub use validate::{FlowKind, DEFAULT_MAX_ITERATIONS, EXPORT_PASSWORD, SECRET_PARAMETERS, XPATH};

/// The JSON Schema of a project file, as pretty JSON.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ProjectFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
