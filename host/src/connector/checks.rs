//! Checks made when a connector is built, once its library has answered: the connector file's
//! keys against what the connector declares (its parameter pages, capabilities, schema anchor,
//! partitions and containers).
//!
//! Every function here is pure, like vector's `validate()`: `ConnectorRuntime::build` asks the
//! plugin, then hands the answers here. Each error names the connector's file and the key at
//! fault, shows the value, and says how to fix it. A rename needs no build check: no key asks
//! for one, and the host refuses a rename at request time when `object_rename` is off.

use std::fmt;

use ecma_plugin_api::{Capabilities, ConfigPage, ParameterDefinition, ParameterKind, Schema};

use crate::config::{ConnectorConfig, ResourceTypeConfig};

/// Why a connector file does not fit what its connector declares.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("{file}: key `{key}`: {what}, but the connector does not declare the `{capability}` capability; {fix}")]
    MissingCapability {
        file: String,
        key: String,
        what: String,
        capability: &'static str,
        fix: String,
    },
    #[error(
        "{file}: key `{key}`: `{key} = {}` in the host config, but the connector's anchor of object type {object_type} is {}{}; {}",
        quoted(configured), names(plugin), from(parameter), anchor_fix(key, configured, plugin, parameter)
    )]
    AnchorMismatch {
        file: String,
        key: String,
        object_type: String,
        configured: Vec<String>,
        plugin: Vec<String>,
        /// The parameter that told the connector its anchor, as `parameters.<page>.<name>`.
        parameter: Option<String>,
    },
    #[error("{file}: key `{key}`: the connector has no parameter `{name}` on page {page}; remove it or fix its name ({})", known_list(known))]
    UnknownParameter {
        file: String,
        key: String,
        page: String,
        name: String,
        /// The page's parameters, closest to `name` first.
        known: Vec<String>,
    },
    #[error(
        "{file}: key `{key}`: `{name}` is a {kind} on page {page}, not a parameter; remove it"
    )]
    NotAParameter {
        file: String,
        key: String,
        page: String,
        name: String,
        kind: &'static str,
    },
    #[error("{file}: key `{key}`: the connector reports no {what} `{value}`; use the DN or the name of one it reports ({})", known_list(known))]
    UnknownScope {
        file: String,
        key: String,
        /// `partition` or `container`.
        what: &'static str,
        value: String,
        /// What the connector reports, as `DN (name)`, closest to `value` first.
        known: Vec<String>,
    },
}

/// Several check errors, shown one after the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckErrors(pub Vec<CheckError>);

impl fmt::Display for CheckErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CheckErrors {}

/// A value as TOML writes it: one string, or an array for several.
fn quoted(values: &[String]) -> String {
    match values {
        [one] => toml::Value::String(one.clone()).to_string(),
        many => toml_list(many),
    }
}

fn toml_list(values: &[String]) -> String {
    toml::Value::Array(
        values
            .iter()
            .map(|v| toml::Value::String(v.clone()))
            .collect(),
    )
    .to_string()
}

fn names(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn from(source: &Option<String>) -> String {
    source
        .as_ref()
        .map(|s| format!(" (from `{s}`)"))
        .unwrap_or_default()
}

fn anchor_fix(
    key: &str,
    configured: &[String],
    plugin: &[String],
    source: &Option<String>,
) -> String {
    let here = format!("set `{key} = {}` here", quoted(plugin));
    match source {
        Some(source) => format!("{here}, or answer `{source} = {}`", quoted(configured)),
        None => format!("{here}, or configure the connector's anchor to match"),
    }
}

/// At most this many known names are listed.
const LISTED: usize = 12;

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        return "it has none".into();
    }
    let shown: Vec<String> = known
        .iter()
        .take(LISTED)
        .map(|k| format!("`{k}`"))
        .collect();
    let more = match known.len().saturating_sub(LISTED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    format!("known: {}{more}", shown.join(", "))
}

/// The config key prefix of resource type `index` (`""` for the top-level users).
pub fn type_prefix(index: usize) -> String {
    match index {
        0 => String::new(),
        i => format!("resource_types[{}].", i - 1),
    }
}

/// A parameter name as a TOML key: bare when it can be, quoted otherwise.
pub fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

/// The key of an answered parameter: `parameters.schema3."User:anchor"`.
pub fn parameter_key(page: ConfigPage, name: &str) -> String {
    format!("parameters.{}.{}", page.key(), toml_key(name))
}

/// The attribute names the host's config makes the anchor of a resource type. One today; a
/// multi-attribute anchor will list several, and every anchor check goes through here.
pub fn config_anchor_names(config: &ResourceTypeConfig) -> Vec<&str> {
    config
        .anchor_parts
        .iter()
        .map(|p| match crate::connector::mapping::is_dn_name(p) {
            // `<dn>` is the preview's name for `-dn-`, the name connectors report.
            true => crate::connector::mapping::DN_ATTRIBUTE,
            false => p.as_str(),
        })
        .collect()
}

/// Edit distance between two names, ignoring case: how "close" a typo is.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// `known`, closest to `wanted` first (ties in their own order).
pub fn closest_first(wanted: &str, known: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut known: Vec<(usize, usize, String)> = known
        .into_iter()
        .enumerate()
        .map(|(i, k)| (distance(wanted, &k), i, k))
        .collect();
    known.sort();
    known.into_iter().map(|(_, _, k)| k).collect()
}

/// The answers in `[parameters.<page>]` against the parameters that page defines, given the
/// answers so far: every answered name must be one of them.
pub fn check_parameter_page(
    file: &str,
    page: ConfigPage,
    answered: &[String],
    defined: &[ParameterDefinition],
) -> Vec<CheckError> {
    let answerable =
        |d: &&ParameterDefinition| !matches!(d.kind, ParameterKind::Label | ParameterKind::Divider);
    let mut errors = Vec::new();
    for name in answered {
        match defined.iter().find(|d| d.name == *name) {
            Some(d) if answerable(&d) => {}
            Some(d) => errors.push(CheckError::NotAParameter {
                file: file.to_string(),
                key: parameter_key(page, name),
                page: page.key(),
                name: name.clone(),
                kind: match d.kind {
                    ParameterKind::Divider => "divider",
                    _ => "label",
                },
            }),
            None => errors.push(CheckError::UnknownParameter {
                file: file.to_string(),
                key: parameter_key(page, name),
                page: page.key(),
                name: name.clone(),
                known: closest_first(
                    name,
                    defined.iter().filter(answerable).map(|d| d.name.clone()),
                ),
            }),
        }
    }
    errors
}

/// Keys that ask for something the connector cannot do: a password attribute without
/// `passwords`, selected partitions without `partitions`, containers without `hierarchy`,
/// `object_rename = true` without `object_rename`, a delta run profile without `delta_import`.
pub fn check_capabilities(
    config: &ConnectorConfig,
    capabilities: &Capabilities,
) -> Vec<CheckError> {
    let file = config.file.display().to_string();
    let missing = |key: String, what: String, capability: &'static str, fix: String| {
        CheckError::MissingCapability {
            file: file.clone(),
            key,
            what,
            capability,
            fix,
        }
    };
    let mut errors = Vec::new();
    if !capabilities.passwords {
        for (i, t) in config.resource_types.iter().enumerate() {
            if let Some(attribute) = &t.password_attribute {
                errors.push(missing(
                    format!("{}password_attribute", type_prefix(i)),
                    format!("`{attribute}` would carry initial passwords to the connector"),
                    "passwords",
                    "remove the key, or use a connector (or connector settings) that sets passwords".into(),
                ));
            }
        }
    }
    if !capabilities.partitions && !config.partitions.is_empty() {
        errors.push(missing(
            "partitions".into(),
            format!("{} selects partitions", toml_list(&config.partitions)),
            "partitions",
            "remove the key; the connector serves its one default partition".into(),
        ));
    }
    if !capabilities.hierarchy && !config.containers.is_empty() {
        errors.push(missing(
            "containers".into(),
            format!("{} selects containers", toml_list(&config.containers)),
            "hierarchy",
            "remove the key; imports read whole partitions".into(),
        ));
    }
    if !capabilities.object_rename && config.object_rename == Some(true) {
        errors.push(missing(
            "object_rename".into(),
            "`true` enables renames".into(),
            "object_rename",
            "remove the key or set it to false; this connector cannot rename, so a change of the anchor or DN is refused with 400 mutability".into(),
        ));
    }
    if !capabilities.delta_import && config.run_profiles.delta_import {
        errors.push(missing(
            "run_profiles.delta_import".into(),
            "`true` asks for delta imports".into(),
            "delta_import",
            "set it to false (autosync then runs full imports), or configure the connector's delta settings".into(),
        ));
    }
    errors
}

/// The parameter answer that most likely told the connector the anchor of `object_type`: a
/// name mentioning "anchor" whose value is one of the reported anchor attributes, preferring
/// names that also mention the object type.
fn anchor_source(config: &ConnectorConfig, object_type: &str, plugin: &[String]) -> Option<String> {
    let mut best: Option<(bool, String)> = None;
    for (page, answered) in &config.parameter_pages {
        for name in answered {
            let lower = name.to_lowercase();
            let value = config.parameters.get(name).unwrap_or_default();
            if !lower.contains("anchor") || !plugin.iter().any(|a| a == value) {
                continue;
            }
            let names_type = lower.contains(&object_type.to_lowercase());
            if best.as_ref().is_none_or(|(typed, _)| names_type && !typed) {
                best = Some((names_type, parameter_key(*page, name)));
            }
        }
    }
    best.map(|(_, key)| key)
}

/// Each resource type's anchor against the anchor the connector reports for its object type.
/// Object types the connector does not have are left to the mapping check, which lists them.
pub fn check_anchors(config: &ConnectorConfig, schema: &Schema) -> Vec<CheckError> {
    let file = config.file.display().to_string();
    let mut errors = Vec::new();
    for (i, t) in config.resource_types.iter().enumerate() {
        let Some(object_type) = schema.object_type(&t.object_type) else {
            continue;
        };
        let plugin = &object_type.anchor;
        if plugin.is_empty() {
            continue; // The connector does not say; the mapping check still needs an attribute.
        }
        let configured = config_anchor_names(t);
        let same = configured.len() == plugin.len()
            && configured.iter().all(|c| plugin.iter().any(|p| p == c));
        if !same {
            errors.push(CheckError::AnchorMismatch {
                file: file.clone(),
                key: format!("{}anchor", type_prefix(i)),
                object_type: object_type.name.clone(),
                configured: configured.iter().map(|c| c.to_string()).collect(),
                plugin: plugin.clone(),
                parameter: anchor_source(config, &object_type.name, plugin),
            });
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecma_plugin_api::{AttributeType, ObjectTypeSchema, SchemaAttribute};

    fn config(extra: &str) -> ConnectorConfig {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hr.toml");
        let hash = crate::token::hash_token("correct horse battery").unwrap();
        std::fs::write(
            &file,
            format!("version = 1\nname = \"hr\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_sql.so\"\nobject_type = \"User\"\nanchor = \"Login\"\n{extra}"),
        )
        .unwrap();
        ConnectorConfig::load(&file).unwrap()
    }

    fn schema(anchor: &[&str]) -> Schema {
        Schema {
            object_types: vec![ObjectTypeSchema {
                name: "User".into(),
                anchor: anchor.iter().map(|a| a.to_string()).collect(),
                attributes: vec![
                    SchemaAttribute::single("Login", AttributeType::String),
                    SchemaAttribute::single("Email", AttributeType::String),
                ],
            }],
        }
    }

    #[test]
    fn an_anchor_the_connector_does_not_use_names_both_sides() {
        let c = config("[parameters.schema3]\n\"User:anchor\" = \"Email\"\n");
        let errors = check_anchors(&c, &schema(&["Email"]));
        let [error] = errors.as_slice() else {
            panic!("one error expected: {errors:?}")
        };
        let text = error.to_string();
        for part in [
            "hr.toml",
            "key `anchor`",
            "`anchor = \"Login\"` in the host config",
            "anchor of object type User is `Email`",
            "from `parameters.schema3.\"User:anchor\"`",
            "set `anchor = \"Email\"` here",
            "or answer `parameters.schema3.\"User:anchor\" = \"Login\"`",
        ] {
            assert!(text.contains(part), "{part} missing in: {text}");
        }
        assert!(check_anchors(&c, &schema(&["Login"])).is_empty());
        // A connector that reports no anchor is not contradicted.
        assert!(check_anchors(&c, &schema(&[])).is_empty());
        // Without a parameter that set it, the message says what to change generically.
        let plain = config("");
        let text = check_anchors(&plain, &schema(&["Email", "Login"]))[0].to_string();
        assert!(
            text.contains("is `Email` + `Login`;") && text.contains("[\"Email\", \"Login\"]"),
            "{text}"
        );
    }

    #[test]
    fn unknown_parameters_list_the_closest_first() {
        let defined = vec![
            ParameterDefinition::new("User:dn", ParameterKind::String),
            ParameterDefinition::new("User:anchor", ParameterKind::String),
            ParameterDefinition::new("Heading", ParameterKind::Label),
        ];
        let answered = vec![
            "User:anchor".to_string(),
            "User:ancor_typo".to_string(),
            "Heading".to_string(),
        ];
        let errors = check_parameter_page("hr.toml", ConfigPage::Schema(3), &answered, &defined);
        assert_eq!(errors.len(), 2, "{errors:?}");
        let text = errors[0].to_string();
        assert!(
            text.starts_with("hr.toml: key `parameters.schema3.\"User:ancor_typo\"`: the connector has no parameter `User:ancor_typo` on page schema3"),
            "{text}"
        );
        assert!(
            text.ends_with("(known: `User:anchor`, `User:dn`)"),
            "{text}"
        );
        assert!(
            errors[1].to_string().contains("is a label"),
            "{}",
            errors[1]
        );
        let none = check_parameter_page("hr.toml", ConfigPage::Capabilities, &answered[..1], &[]);
        assert!(
            none[0].to_string().ends_with("(it has none)"),
            "{}",
            none[0]
        );
    }

    #[test]
    fn keys_that_need_a_capability_are_refused_without_it() {
        let c = config(
            "password_attribute = \"password\"\npartitions = [\"dc=example,dc=com\"]\ncontainers = [\"ou=People,dc=example,dc=com\"]\n[run_profiles]\ndelta_import = true\n",
        );
        let errors = check_capabilities(&c, &Capabilities::default());
        let keys: Vec<String> = errors
            .iter()
            .map(|e| match e {
                CheckError::MissingCapability {
                    key, capability, ..
                } => format!("{key}:{capability}"),
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "password_attribute:passwords",
                "partitions:partitions",
                "containers:hierarchy",
                "run_profiles.delta_import:delta_import"
            ]
        );
        assert!(errors[1]
            .to_string()
            .contains("[\"dc=example,dc=com\"] selects partitions"));
        let all = Capabilities {
            passwords: true,
            partitions: true,
            hierarchy: true,
            delta_import: true,
            ..Capabilities::default()
        };
        assert!(check_capabilities(&c, &all).is_empty());
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("anchor", "ancor"), 1);
        assert_eq!(distance("User:Anchor", "user:anchor"), 0);
        assert_eq!(distance("", "abc"), 3);
    }
}
