//! `connector export` and `connector import` (ecmahost's TOML or Microsoft ECMA2Host's
//! connector export XML) and `connector import-mim` (a MIM Export Management Agent file). An
//! import writes one connector file into the connectors folder and reports, line by line, what
//! it mapped, what it could not, and what still needs an answer.

mod ecma2host;
mod mim;
mod report;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::draft::ConnectorDraft;
use super::files::redact_document;
use crate::config::{ConnectorConfig, HostConfig};
use crate::token::{generate_token, hash_token};
pub use report::ImportReport;

/// The file formats of `connector export` and `connector import`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// ecmahost's connector TOML.
    Toml,
    /// Microsoft ECMA2Host's connector export XML.
    Ecma2host,
}

/// Our connector library for a Microsoft library or MIM connector name, compared
/// case-insensitively; a `.so` file name stays as it is.
pub(crate) fn plugin_for_library(name: &str) -> Option<String> {
    let folded: String = name
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if name.ends_with(".so") && !name.contains('/') {
        Some(name.to_string())
    } else if folded.contains("genericsql") {
        Some(crate::demo::SQL_PLUGIN_FILE.to_string())
    } else if folded.contains("genericldap") {
        Some("libecma_ldap.so".to_string())
    } else {
        None
    }
}

/// The environment variable an imported secret is read from: `ECMAHOST_<CONNECTOR>_<NAME>`.
pub(crate) fn secret_env(connector: &str, parameter: &str) -> String {
    let upper = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("ECMAHOST_{}_{}", upper(connector), upper(parameter))
}

fn write_out(text: &str, output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            crate::tls::write_file(path, text.as_bytes(), 0o600)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Write a connector's configuration; secrets only with `with_secrets`.
pub(super) fn export(
    file: &Path,
    format: Format,
    with_secrets: bool,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let text = match format {
        Format::Toml => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if with_secrets {
                text
            } else {
                let mut doc: toml_edit::DocumentMut = text
                    .parse()
                    .with_context(|| format!("{} is not valid TOML", file.display()))?;
                redact_document(&mut doc);
                doc.to_string()
            }
        }
        Format::Ecma2host => ecma2host::export(&ConnectorConfig::load(file)?, with_secrets)?,
    };
    write_out(&text, output)
}

/// Where an imported connector goes.
fn target_file(host: &HostConfig, name: &str, force: bool) -> anyhow::Result<PathBuf> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("the imported connector's name `{name}` is not ASCII letters and digits; fix it in the source file");
    }
    let file = host.connectors_dir.join(format!("{name}.toml"));
    if file.exists() && !force {
        bail!(
            "{} exists; delete it first, or pass --force to replace it",
            file.display()
        );
    }
    Ok(file)
}

/// A parameter name without case, spaces or punctuation: Microsoft's "DSN File" is our
/// `dsn_file`.
fn folded(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Check the imported answers' names against the library's own pages (when it is in the ECMA
/// folder): a name that differs only in case, spaces or punctuation is renamed to the
/// library's, one it does not define is left out. Pages the library cannot list without a
/// working connection are kept as written.
fn match_parameter_names(
    host: &HostConfig,
    draft: &mut ConnectorDraft,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    let library = host.ecma_dir.join(&draft.plugin);
    if draft.plugin.is_empty() || !library.is_file() {
        return Ok(());
    }
    let scratch = super::validate::Scratch::new(&library)?;
    let loaded = crate::plugins::load_for_connector(
        &scratch.ecma(),
        &draft.name,
        &draft.plugin,
        crate::isolation::Isolation::InProcess,
    )?;
    let connector = loaded.library.new_connector()?;
    let mut so_far = ecma_plugin_api::ParameterValues::new();
    for (page_key, answers) in &mut draft.parameters {
        let Some(page) = ecma_plugin_api::ConfigPage::from_key(page_key) else {
            continue;
        };
        let defs = match connector.config_parameters(page, &so_far) {
            Ok(defs) => defs,
            Err(e) => {
                report.not_mapped(format!(
                    "[parameters.{page_key}]: names not checked, the connector cannot list the page yet ({})",
                    e.message
                ));
                continue;
            }
        };
        let mut kept = Vec::new();
        for (name, answer) in answers.drain(..) {
            let name = if defs.iter().any(|d| d.name == name) {
                name
            } else if let Some(d) = defs.iter().find(|d| folded(&d.name) == folded(&name)) {
                report.mapped(format!(
                    "Parameter `{name}`: renamed to {}'s `{}`",
                    draft.plugin, d.name
                ));
                d.name.clone()
            } else {
                let closest = crate::connector::checks::closest_first(
                    &name,
                    defs.iter().map(|d| d.name.clone()),
                );
                report.not_mapped(format!(
                    "Parameter `{name}`: {} has no such parameter on page {page_key}; left out (closest: {})",
                    draft.plugin,
                    closest
                        .iter()
                        .take(3)
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                continue;
            };
            if let super::draft::Answer::Text(v) = &answer {
                so_far.insert(name.clone(), v.clone());
            }
            kept.push((name, answer));
        }
        *answers = kept;
    }
    Ok(())
}

/// Write `draft` with a new token, print the report and what is left to do.
fn finish(
    host: &HostConfig,
    mut draft: ConnectorDraft,
    mut report: ImportReport,
    force: bool,
) -> anyhow::Result<()> {
    let file = target_file(host, &draft.name, force)?;
    match_parameter_names(host, &mut draft, &mut report)?;
    let token = generate_token();
    draft.token_hash = hash_token(&token)?.to_string();
    crate::tls::write_file(&file, draft.to_toml().as_bytes(), 0o640)?;
    if let Err(e) = ConnectorConfig::load(&file) {
        report.needs_answer(format!("the file does not load yet: {e}"));
    }
    print!("{}", report.render());
    println!("wrote {}", file.display());
    println!("new token (shown once; give it to the IdP as the Secret Token): {token}");
    match report.needs_answers() {
        0 => println!("next: `ecmahost connector validate {}` checks it against the target", draft.name),
        n => println!(
            "next: answer the {n} line(s) marked `needs answer`, then `ecmahost connector validate {}`",
            draft.name
        ),
    }
    Ok(())
}

/// Import `file`: ecmahost TOML, or (when it is XML) an ECMA2Host connector export.
pub(super) fn import(host: &HostConfig, file: &Path, force: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    if text.trim_start().starts_with('<') {
        let mut report = ImportReport::default();
        for draft in ecma2host::import(&text, &mut report)? {
            finish(host, draft, std::mem::take(&mut report), force)?;
        }
        return Ok(());
    }
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is neither XML nor valid TOML", file.display()))?;
    let name = doc
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let target = target_file(host, &name, force)?;
    let mut report = ImportReport::default();
    report.mapped("an ecmahost connector file: every key as written");
    let hash = doc
        .get("token_hash")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let mut token = None;
    if crate::token::TokenHash::parse(hash).is_err() {
        let new = generate_token();
        doc["token_hash"] = toml_edit::value(hash_token(&new)?.to_string());
        doc.remove("previous_token_hash");
        doc.remove("previous_token_expires");
        report.needs_answer(
            "token: exported without it; a new token was generated (printed below, once)",
        );
        token = Some(new);
    }
    crate::tls::write_file(&target, doc.to_string().as_bytes(), 0o640)?;
    if let Err(e) = ConnectorConfig::load(&target) {
        report.needs_answer(format!("the file does not load yet: {e}"));
    }
    print!("{}", report.render());
    println!("wrote {}", target.display());
    if let Some(token) = token {
        println!("new token (shown once; give it to the IdP as the Secret Token): {token}");
    }
    Ok(())
}

/// Import a MIM Export Management Agent file.
pub(super) fn import_mim(host: &HostConfig, file: &Path, force: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut report = ImportReport::default();
    let draft = mim::import(&text, &mut report)?;
    finish(host, draft, report, force)
}

/// For the fuzz targets (`fuzz/`): read `xml` as an ECMA2Host connector export and as a MIM
/// Export Management Agent file, and render each connector file drafted, writing nothing.
#[doc(hidden)]
pub fn fuzz_imports(xml: &str) -> usize {
    let mut drafted = 0;
    let mut report = ImportReport::default();
    if let Ok(drafts) = ecma2host::import(xml, &mut report) {
        drafted += drafts.iter().filter(|d| !d.to_toml().is_empty()).count();
    }
    let mut report = ImportReport::default();
    if let Ok(draft) = mim::import(xml, &mut report) {
        drafted += usize::from(!draft.to_toml().is_empty());
    }
    drafted + report.render().len().min(1)
}
