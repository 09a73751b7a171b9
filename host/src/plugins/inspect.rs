//! `ecmahost plugin inspect FILE [--connector TOML]`: what a library is, without creating a
//! connector for it.
//!
//! Later parameter pages often depend on answers to earlier ones (the SQL connector's schema
//! pages list the tables of the database it was pointed at), so pages that need answers say so
//! instead of failing the whole inspection. Given a connector file, each page is asked with the
//! answers of that file so far, as the host does at build time; answers a page does not define
//! are shown as the build would refuse them, and the partitions (and containers) the connector
//! reports are listed.

use std::fmt::Write;
use std::path::Path;

use ecma_plugin_api::{
    load_library, ConfigPage, ParameterKind, ParameterValues, PluginConnector, API_MAJOR, API_MINOR,
};

use super::PluginError;
use crate::config::ConnectorConfig;
use crate::connector::checks::check_parameter_page;

/// The answers of `config`'s pages up to and including `page` (none without a config).
fn answers_so_far(config: Option<&ConnectorConfig>, page: ConfigPage) -> ParameterValues {
    let mut values = ParameterValues::new();
    let Some(config) = config else {
        return values;
    };
    let names: Vec<&String> = config
        .parameter_pages
        .range(..=page)
        .flat_map(|(_, names)| names)
        .collect();
    for (name, value, secret) in config.parameters.iter() {
        if names.iter().any(|n| n.as_str() == name) {
            match secret {
                true => values.insert_secret(name, value),
                false => values.insert(name, value),
            }
        }
    }
    values
}

/// The partitions the connector reports, and the containers of each.
fn write_partitions(
    out: &mut String,
    connector: &PluginConnector,
    values: &ParameterValues,
    hierarchy: bool,
) {
    match connector.partitions(values) {
        Ok(partitions) if partitions.is_empty() => {
            let _ = writeln!(out, "partitions:   none reported");
        }
        Ok(partitions) => {
            let _ = writeln!(out, "partitions:");
            for p in partitions {
                let _ = writeln!(out, "  {} (name {})", p.dn, p.name);
                if !hierarchy {
                    continue;
                }
                match connector.hierarchy(values, &p) {
                    Ok(containers) => {
                        for c in containers {
                            let _ = writeln!(out, "    container {} (name {})", c.dn, c.name);
                        }
                    }
                    Err(e) => {
                        let _ = writeln!(out, "    containers need parameter answers ({e})");
                    }
                }
            }
        }
        Err(e) => {
            let _ = writeln!(out, "partitions:   need parameter answers ({e})");
        }
    }
}

/// A human-readable description of the library at `path`; with `config`, as configured by
/// that connector file.
pub fn inspect(path: &Path, config: Option<&ConnectorConfig>) -> Result<String, PluginError> {
    let library = load_library(path)?;
    let info = library.info();
    let (major, minor) = library.api_version();
    let mut out = String::new();
    let _ = writeln!(out, "file:         {}", path.display());
    let _ = writeln!(out, "name:         {}", info.name);
    let _ = writeln!(out, "version:      {}", info.version);
    let _ = writeln!(out, "description:  {}", info.description);
    let _ = writeln!(
        out,
        "API version:  {major}.{minor} (this host: {API_MAJOR}.{API_MINOR})"
    );
    let connector = match library.new_connector() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(out, "connector:    cannot be created: {e}");
            return Ok(out);
        }
    };
    let all = config.map(|c| c.parameters.clone()).unwrap_or_default();
    if let Some(config) = config {
        let _ = writeln!(out, "answers from: {}", config.file.display());
    }
    let mut partitions = None;
    match connector.capabilities(&all) {
        Ok(c) => {
            if c.partitions {
                partitions = Some(c.hierarchy);
            }
            let _ = writeln!(out, "capabilities:");
            let _ = writeln!(
                out,
                "  DN style {:?}, export type {:?}, object confirmation {:?}",
                c.dn_style, c.export_type, c.object_confirmation
            );
            let flags = [
                ("delta import", c.delta_import),
                ("full export", c.full_export),
                ("passwords", c.passwords),
                (
                    "export password in first pass",
                    c.export_password_in_first_pass,
                ),
                ("object rename", c.object_rename),
                ("partitions", c.partitions),
                ("hierarchy", c.hierarchy),
                ("concurrent operations", c.concurrent_operations),
                ("delete-add as replace", c.delete_add_as_replace),
                (
                    "no reference values in first export pass",
                    c.no_reference_values_in_first_export_pass,
                ),
            ];
            let on: Vec<&str> = flags.iter().filter(|(_, v)| *v).map(|(n, _)| *n).collect();
            let _ = writeln!(
                out,
                "  {}",
                if on.is_empty() {
                    "no optional capabilities".to_string()
                } else {
                    on.join(", ")
                }
            );
        }
        Err(e) => {
            let _ = writeln!(out, "capabilities: need parameter answers ({e})");
        }
    }
    let _ = writeln!(out, "parameter pages:");
    let mut pages = vec![ConfigPage::Connectivity, ConfigPage::Capabilities];
    pages.extend((1..=8).map(ConfigPage::Schema));
    pages.extend([
        ConfigPage::Global,
        ConfigPage::Partition,
        ConfigPage::RunStep,
    ]);
    let file = config
        .map(|c| c.file.display().to_string())
        .unwrap_or_default();
    for page in pages {
        let values = answers_so_far(config, page);
        let answered = config
            .and_then(|c| c.parameter_pages.get(&page))
            .cloned()
            .unwrap_or_default();
        let defined = connector.config_parameters(page, &values);
        let problems = match &defined {
            Ok(defs) => check_parameter_page(&file, page, &answered, defs),
            Err(_) => Vec::new(),
        };
        match defined {
            Ok(defs) if defs.is_empty() => {
                if !matches!(page, ConfigPage::Schema(_)) {
                    let _ = writeln!(out, "  [{}] no parameters", page.key());
                }
            }
            Ok(defs) => {
                let _ = writeln!(out, "  [{}]", page.key());
                for d in defs {
                    let kind = match &d.kind {
                        ParameterKind::DropDown { options, .. } => format!("drop-down {options:?}"),
                        other => format!("{other:?}"),
                    };
                    let required = if d.required { " (required)" } else { "" };
                    let answer = match values.get(&d.name) {
                        Some(_) if values.is_secret(&d.name) => ", answered <secret>".to_string(),
                        Some(v) => format!(", answered \"{v}\""),
                        None => String::new(),
                    };
                    let default = d
                        .default
                        .map(|v| format!(", default \"{v}\""))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "    {}: {kind}{required}{default}{answer}  {}",
                        d.name, d.description
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  [{}] depends on earlier answers: {e}", page.key());
            }
        }
        for problem in problems {
            let _ = writeln!(out, "  [{}] refused: {problem}", page.key());
        }
    }
    if let Some(hierarchy) = partitions {
        write_partitions(&mut out, &connector, &all, hierarchy);
    }
    Ok(out)
}
