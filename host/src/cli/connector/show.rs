//! `connector list` and `connector show`: what the connectors folder holds, without secrets.

use std::path::Path;

use anyhow::Context;

use super::files::{declared_name, redact_document};
use crate::config::{ConnectorConfig, HostConfig};

/// One line per connector file: name, library, resource types, and whether it loads.
pub(super) fn list(host: &HostConfig) -> anyhow::Result<()> {
    let files = host.connector_files()?;
    if files.is_empty() {
        println!(
            "no connector files in {}; create one with `ecmahost connector new`",
            host.connectors_dir.display()
        );
        return Ok(());
    }
    let mut rows = vec![[
        "NAME".to_string(),
        "LIBRARY".to_string(),
        "RESOURCES".to_string(),
        "FILE".to_string(),
        "STATE".to_string(),
    ]];
    for file in &files {
        let row = match ConnectorConfig::load(file) {
            Ok(c) => [
                c.name.clone(),
                c.plugin.clone(),
                c.resource_types
                    .iter()
                    .map(|t| format!("{} ({})", t.endpoint, t.object_type))
                    .collect::<Vec<_>>()
                    .join(", "),
                file.display().to_string(),
                "file valid".to_string(),
            ],
            Err(e) => [
                declared_name(file).unwrap_or_else(|| "?".into()),
                String::new(),
                String::new(),
                file.display().to_string(),
                format!("invalid: {e}"),
            ],
        };
        rows.push(row);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, width) in widths.iter().enumerate() {
            line.push_str(&format!("{:<width$}  ", row[i]));
        }
        line.push_str(&row[4]);
        println!("{}", line.trim_end());
    }
    Ok(())
}

/// The file as written (comments kept), with token hashes and secret values replaced.
pub(super) fn show(file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", file.display()))?;
    redact_document(&mut doc);
    println!("# {}", file.display());
    print!("{doc}");
    if let Err(e) = ConnectorConfig::load(file) {
        println!("# invalid: {e}");
    }
    Ok(())
}
