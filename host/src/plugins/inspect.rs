//! `ecmahost plugin inspect FILE`: what a library is, without creating a connector for it.
//!
//! Later parameter pages often depend on answers to earlier ones (the SQL connector's schema
//! pages list the tables of the database it was pointed at), so pages that need answers say so
//! instead of failing the whole inspection.

use std::fmt::Write;
use std::path::Path;

use ecma_plugin_api::{
    load_library, ConfigPage, ParameterKind, ParameterValues, API_MAJOR, API_MINOR,
};

use super::PluginError;

/// A human-readable description of the library at `path`.
pub fn inspect(path: &Path) -> Result<String, PluginError> {
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
    let none = ParameterValues::new();
    match connector.capabilities(&none) {
        Ok(c) => {
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
    for page in pages {
        match connector.config_parameters(page, &none) {
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
                    let default = d
                        .default
                        .map(|v| format!(", default \"{v}\""))
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "    {}: {kind}{required}{default}  {}",
                        d.name, d.description
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  [{}] depends on earlier answers: {e}", page.key());
            }
        }
    }
    Ok(out)
}
