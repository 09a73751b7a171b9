//! `ecmahost plugin inspect FILE [--answers TOML]`: what a library is, without creating a
//! connector for it.
//!
//! Later parameter pages often depend on answers to earlier ones (the SQL connector's schema
//! pages list the tables of the database it was pointed at), so pages that need answers say so
//! instead of failing the whole inspection. Given answers (a connector file, or a file of
//! `[parameters.<page>]` tables), each page is asked with the answers so far, as the host does at build time; answers a page does not define
//! are shown as the build would refuse them, and the partitions (and containers) the connector
//! reports are listed.

use std::fmt::Write;
use std::path::Path;

use ecma_plugin_api::{
    load_library, ConfigPage, ParameterValues, PluginConnector, API_MAJOR, API_MINOR,
};

use super::pages::{kind_name, walk};
use super::PluginError;
use crate::config::ParameterAnswers;

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

/// A human-readable description of the library at `path`; with `answers`, as configured by
/// them.
pub fn inspect(path: &Path, answers: Option<&ParameterAnswers>) -> Result<String, PluginError> {
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
    let none = ParameterAnswers::default();
    let answers = answers.unwrap_or(&none);
    let all = answers.values.clone();
    if answers != &none {
        let _ = writeln!(out, "answers from: {}", answers.file.display());
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
    for report in walk(&connector, answers) {
        let key = report.page.key();
        match report.parameters {
            Ok(defs) if defs.is_empty() => {
                if !matches!(report.page, ConfigPage::Schema(_)) {
                    let _ = writeln!(out, "  [{key}] no parameters");
                }
            }
            Ok(defs) => {
                let values = answers.up_to(report.page);
                let _ = writeln!(out, "  [{key}]");
                for d in defs {
                    let required = if d.required { " (required)" } else { "" };
                    let _ = writeln!(
                        out,
                        "    {}: {}{required}{}{}  {}",
                        d.name,
                        kind_name(&d.kind),
                        d.default
                            .map(|v| format!(", default \"{v}\""))
                            .unwrap_or_default(),
                        answered(&values, &d.name),
                        d.description
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  [{key}] depends on earlier answers: {e}");
            }
        }
        for problem in report.refused {
            let _ = writeln!(out, "  [{key}] refused: {problem}");
        }
    }
    if let Some(hierarchy) = partitions {
        write_partitions(&mut out, &connector, &all, hierarchy);
    }
    Ok(out)
}

/// `, answered "x"` (or `<secret>`), or nothing.
fn answered(values: &ParameterValues, name: &str) -> String {
    match values.get(name) {
        Some(_) if values.is_secret(name) => ", answered <secret>".to_string(),
        Some(v) => format!(", answered \"{v}\""),
        None => String::new(),
    }
}
