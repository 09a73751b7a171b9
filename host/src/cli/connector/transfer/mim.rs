//! MIM Sync's "Export Management Agent" file (`export-ma`, or `saved-ma-configuration` from a
//! full server export), read into a connector draft.
//!
//! `ma-listname` picks the library, `private-configuration` parameter values become page
//! answers by their `use` (encrypted ones are exported empty and become environment
//! variables to set), `attribute-inclusion` and the DSML schema give the object types, their
//! anchors and attributes, `ma-partition-data` the selected partitions and containers, and
//! `ma-run-data` the run profiles and the export batch size. Metaverse rules (joins,
//! projections, attribute flows, provisioning, extensions) have no equivalent and are listed
//! as such.

use serde::Deserialize;

use super::ecma2host::add_answer;
use super::report::ImportReport;
use super::{plugin_for_library, secret_env};
use crate::cli::connector::draft::{Answer, ConnectorDraft, TypeDraft};
use ecma_plugin_api::ConfigPage;

/// Either root: both hold one `ma-data`.
#[derive(Debug, Deserialize)]
struct Root {
    #[serde(rename = "ma-data")]
    ma_data: MaData,
}

/// An element whose content does not matter here, only its presence.
#[derive(Debug, Default, Deserialize)]
struct Present {}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct MaData {
    name: String,
    category: String,
    ma_listname: String,
    schema: MimSchema,
    attribute_inclusion: AttributeInclusion,
    private_configuration: PrivateConfiguration,
    ma_partition_data: PartitionData,
    ma_run_data: RunData,
    stay_disconnector: Option<Present>,
    join: Option<Present>,
    projection: Option<Present>,
    export_attribute_flow: Option<Present>,
    provisioning_cleanup: Option<Present>,
    extension: Option<Present>,
    controller_configuration: Option<Present>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MimSchema {
    dsml: Dsml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Dsml {
    directory_schema: DirectorySchema,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct DirectorySchema {
    class: Vec<DsmlClass>,
    attribute_type: Vec<DsmlAttributeType>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DsmlClass {
    #[serde(rename = "@id")]
    id: String,
    attribute: Vec<DsmlClassAttribute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DsmlClassAttribute {
    #[serde(rename = "@ref")]
    reference: String,
    #[serde(rename = "@isAnchor")]
    is_anchor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DsmlAttributeType {
    #[serde(rename = "@id")]
    id: String,
    #[serde(rename = "@single-value")]
    single_value: Option<String>,
    syntax: String,
    #[serde(rename = "@encrypted")]
    encrypted: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AttributeInclusion {
    attribute: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename = "private-configuration")]
struct PrivateConfiguration {
    #[serde(rename = "MAConfig")]
    ma_config: MaConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct MaConfig {
    importing: Importing,
    extension_config: ExtensionConfig,
    parameter_values: ParameterValuesXml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Importing {
    per_class_settings: PerClassSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PerClassSettings {
    class: Vec<ClassSetting>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClassSetting {
    name: String,
    anchor: AnchorSetting,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnchorSetting {
    attribute: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct ExtensionConfig {
    filename: String,
    export_default_page_size: Option<u32>,
    export_enabled: Option<String>,
    import_enabled: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ParameterValuesXml {
    parameter: Vec<ParameterValueXml>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ParameterValueXml {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@type")]
    kind: String,
    #[serde(rename = "@use")]
    use_: String,
    #[serde(rename = "@encrypted")]
    encrypted: Option<String>,
    #[serde(rename = "$text")]
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PartitionData {
    partition: Vec<MimPartition>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct MimPartition {
    name: String,
    selected: String,
    filter: PartitionFilter,
    custom_data: PartitionCustomData,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PartitionFilter {
    containers: Containers,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Containers {
    inclusions: Inclusions,
    exclusions: Inclusions,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Inclusions {
    inclusion: Vec<String>,
    exclusion: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct PartitionCustomData {
    ecma_partition_data: EcmaPartitionData,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EcmaPartitionData {
    dn: String,
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct RunData {
    run_configuration: Vec<MimRunConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MimRunConfiguration {
    name: String,
    configuration: RunConfigurationSteps,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RunConfigurationSteps {
    step: Vec<MimStep>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct MimStep {
    step_type: StepType,
    threshold: Threshold,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StepType {
    #[serde(rename = "@type")]
    kind: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct Threshold {
    batch_size: Option<u32>,
}

fn yes(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// A MIM use (`connectivity`, `run-step`, ...) as a page.
fn page_of(use_: &str) -> Option<ConfigPage> {
    Some(match use_.to_ascii_lowercase().as_str() {
        "connectivity" => ConfigPage::Connectivity,
        "global" => ConfigPage::Global,
        "capabilities" => ConfigPage::Capabilities,
        "partition" => ConfigPage::Partition,
        "run-step" | "runstep" => ConfigPage::RunStep,
        "schema" => ConfigPage::Schema(1),
        _ => return None,
    })
}

/// The ECMA2 DSML syntax OIDs as attribute types, for the report.
fn syntax_name(oid: &str) -> &'static str {
    match oid.trim() {
        "1.3.6.1.4.1.1466.115.121.1.27" => "integer",
        "1.3.6.1.4.1.1466.115.121.1.7" => "boolean",
        "1.3.6.1.4.1.1466.115.121.1.5" => "binary",
        "1.3.6.1.4.1.1466.115.121.1.12" => "reference",
        _ => "string",
    }
}

/// The connector draft a MIM management agent export describes.
pub fn import(xml: &str, report: &mut ImportReport) -> anyhow::Result<ConnectorDraft> {
    let root: Root = quick_xml::de::from_str(xml).map_err(|e| {
        anyhow::anyhow!("not a MIM Export Management Agent file (export-ma or saved-ma-configuration with ma-data): {e}")
    })?;
    let ma = root.ma_data;
    let name: String = ma
        .name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let mut draft = ConnectorDraft {
        name: name.clone(),
        notes: vec![format!(
            "Imported from the MIM management agent `{}` ({}).",
            ma.name, ma.ma_listname
        )],
        ..ConnectorDraft::default()
    };
    if name == ma.name {
        report.mapped(format!("ma-data/name `{}`: name", ma.name));
    } else {
        report.mapped(format!(
            "ma-data/name `{}`: name `{name}` (connector names are ASCII letters and digits)",
            ma.name
        ));
    }
    if !ma.category.is_empty() && !ma.category.eq_ignore_ascii_case("Extensible2") {
        report.not_mapped(format!(
            "category `{}`: only ECMA2 (Extensible2) agents have a connector here",
            ma.category
        ));
    }
    let library = match ma.ma_listname.as_str() {
        "" => ma
            .private_configuration
            .ma_config
            .extension_config
            .filename
            .clone(),
        listed => listed.to_string(),
    };
    match plugin_for_library(&library) {
        Some(plugin) => {
            report.mapped(format!("ma-listname `{library}`: plugin = \"{plugin}\""));
            draft.plugin = plugin;
        }
        None => {
            report.not_mapped(format!(
                "ma-listname `{library}`: no Linux connector library corresponds to it"
            ));
            report.needs_answer("plugin: the file name of a connector library in the ECMA folder");
        }
    }
    report.mapped("token: MIM has none; a new token was generated (printed below, once)");
    for p in &ma
        .private_configuration
        .ma_config
        .parameter_values
        .parameter
    {
        let Some(page) = page_of(&p.use_) else {
            report.not_mapped(format!("parameter `{}`: unknown use `{}`", p.name, p.use_));
            continue;
        };
        if matches!(p.kind.as_str(), "label" | "divider") {
            continue;
        }
        let key = crate::connector::checks::parameter_key(page, &p.name);
        if yes(&p.encrypted) || p.kind == "encrypted-string" {
            let var = secret_env(&draft.name, &p.name);
            report.needs_answer(format!("{key}: encrypted, exported empty; the file reads it from the environment variable {var}"));
            add_answer(&mut draft, page, &p.name, Answer::Env(var));
        } else {
            report.mapped(format!("parameter `{}` ({}): {key}", p.name, p.use_));
            add_answer(
                &mut draft,
                page,
                &p.name,
                Answer::Text(p.value.trim().to_string()),
            );
        }
    }
    let schema = &ma.schema.dsml.directory_schema;
    let included = &ma.attribute_inclusion.attribute;
    let anchors = &ma
        .private_configuration
        .ma_config
        .importing
        .per_class_settings
        .class;
    for class in &schema.class {
        let mut t = TypeDraft {
            name: if draft.types.is_empty() {
                "User".into()
            } else {
                class.id.clone()
            },
            object_type: class.id.clone(),
            delete: true,
            ..TypeDraft::default()
        };
        report.mapped(format!(
            "dsml:class `{}`: resource type {} (object type `{}`)",
            class.id, t.name, class.id
        ));
        let anchor_from_settings = anchors
            .iter()
            .find(|c| c.name == class.id)
            .and_then(|c| c.anchor.attribute.first().cloned());
        let anchor_in_schema = class
            .attribute
            .iter()
            .find(|a| yes(&a.is_anchor))
            .map(|a| a.reference.trim_start_matches('#').to_string());
        match anchor_from_settings.or(anchor_in_schema) {
            Some(anchor) => {
                report.mapped(format!("{}: anchor `{anchor}`", t.name));
                t.anchor = anchor;
            }
            None => report.needs_answer(format!("{}: anchor (none declared)", t.name)),
        }
        for a in &class.attribute {
            let id = a.reference.trim_start_matches('#');
            if id == t.anchor {
                continue;
            }
            if !included.is_empty() && !included.iter().any(|i| i == id) {
                report.not_mapped(format!(
                    "{}: `{id}` is not in attribute-inclusion; left out",
                    t.name
                ));
                continue;
            }
            let described = schema.attribute_type.iter().find(|at| at.id == id);
            let kind = described
                .map(|d| syntax_name(&d.syntax))
                .unwrap_or("string");
            let multi = described.is_some_and(|d| !yes(&d.single_value));
            if described.is_some_and(|d| yes(&d.encrypted)) {
                report.not_mapped(format!(
                    "{}: `{id}` is encrypted (a password); set it through password_attribute",
                    t.name
                ));
                continue;
            }
            t.attributes.push((id.to_string(), None));
            report.mapped(format!(
                "{}: attribute `{id}` ({kind}{})",
                t.name,
                if multi { ", multi-valued" } else { "" }
            ));
        }
        draft.types.push(t);
    }
    if draft.types.is_empty() {
        report.needs_answer("object types: the file has no DSML schema");
    }
    for p in &ma.ma_partition_data.partition {
        if p.selected != "1" && !p.selected.eq_ignore_ascii_case("true") {
            continue;
        }
        let data = &p.custom_data.ecma_partition_data;
        let chosen = [&data.dn, &data.name, &p.name]
            .into_iter()
            .find(|v| !v.is_empty())
            .cloned()
            .unwrap_or_default();
        if chosen.is_empty() || chosen.eq_ignore_ascii_case("default") {
            continue;
        }
        report.mapped(format!("partition `{chosen}`: partitions"));
        draft.partitions.push(chosen);
        let containers = &p.filter.containers;
        if !containers.inclusions.inclusion.is_empty() {
            report.not_mapped(format!(
                "partition `{}`: container inclusions {} (add them as `containers = [..]` if the connector declares hierarchy)",
                p.name,
                containers.inclusions.inclusion.join(", ")
            ));
        }
        if !containers.exclusions.exclusion.is_empty() {
            report.not_mapped(format!(
                "partition `{}`: container exclusions (no equivalent)",
                p.name
            ));
        }
    }
    let mut full = false;
    let mut delta = false;
    for rc in &ma.ma_run_data.run_configuration {
        for step in &rc.configuration.step {
            match step.step_type.kind.as_str() {
                "full-import" => full = true,
                "delta-import" => delta = true,
                "export" => {
                    if let Some(size) = step.threshold.batch_size.filter(|s| *s > 0) {
                        draft.export_page_size = size;
                    }
                }
                other => {
                    report.not_mapped(format!(
                        "run profile `{}`: step `{other}` (no equivalent)",
                        rc.name
                    ));
                    continue;
                }
            }
            report.mapped(format!(
                "run profile `{}`: {}",
                rc.name, step.step_type.kind
            ));
        }
    }
    if let Some(size) = ma
        .private_configuration
        .ma_config
        .extension_config
        .export_default_page_size
    {
        if !ma.ma_run_data.run_configuration.iter().any(|rc| {
            rc.configuration
                .step
                .iter()
                .any(|s| s.threshold.batch_size.is_some())
        }) {
            draft.export_page_size = size;
        }
    }
    draft.full_import = full || ma.ma_run_data.run_configuration.is_empty();
    draft.delta_import = delta;
    report.mapped(format!(
        "run profiles: export, full import {}, delta import {}, export page size {}",
        draft.full_import, draft.delta_import, draft.export_page_size
    ));
    for (present, what) in [
        (ma.join.is_some(), "join rules"),
        (ma.projection.is_some(), "projection rules"),
        (
            ma.export_attribute_flow.is_some(),
            "export attribute flows (the IdP's attribute mappings do this)",
        ),
        (ma.stay_disconnector.is_some(), "stay-disconnector filter"),
        (ma.provisioning_cleanup.is_some(), "provisioning clean-up"),
        (ma.extension.is_some(), "rules extension"),
        (
            ma.controller_configuration.is_some(),
            "controller configuration",
        ),
    ] {
        if present {
            report.not_mapped(format!(
                "{what}: metaverse configuration, no equivalent here"
            ));
        }
    }
    Ok(draft)
}
