//! `connector validate` and `connector test`: the checks a start runs, before the start.
//!
//! `validate` reads the file (offline), then builds the connector exactly as `serve` does
//! (`ConnectorRuntime::build`: the library, each answered page with the plugin's validation,
//! capabilities, schema, the build checks and the mapping), which asks the target where the
//! plugin must, and ends with the connection test a reload makes. The library is loaded from
//! a scratch copy, so nothing is written to the host's `ECMA` or data folders. `test` only
//! connects, and prints the plugin's explanation of a failure.

use std::path::{Path, PathBuf};

use anyhow::bail;
use tempfile::TempDir;

use super::files::declared_name;
use crate::config::{ConnectorConfig, HostConfig};
use crate::connector::calls::CallError;
use crate::connector::checks::parameter_key;
use crate::connector::{BuildError, ConnectorRuntime};
use crate::plugins::{load_for_connector, PluginError};
use ecma_plugin_api::{ConfigPage, ErrorKind};

/// A scratch `ECMA` folder holding a link to the host's library, and a scratch data folder.
pub(super) struct Scratch {
    dir: TempDir,
}

impl Scratch {
    pub(super) fn new(library: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("ECMA"))?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        if let Some(name) = library.file_name() {
            std::os::unix::fs::symlink(
                library.canonicalize()?,
                dir.path().join("ECMA").join(name),
            )?;
        }
        Ok(Self { dir })
    }

    pub(super) fn ecma(&self) -> PathBuf {
        self.dir.path().join("ECMA")
    }

    pub(super) fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// What `validate` found: each check that passed, and each problem with its fix.
#[derive(Default)]
pub(super) struct Report {
    pub(super) problems: usize,
}

impl Report {
    fn ok(&self, what: &str) {
        println!("  ok       {what}");
    }

    fn problem(&mut self, what: &str, fix: Option<&str>) {
        self.problems += 1;
        println!("  PROBLEM  {what}");
        if let Some(fix) = fix {
            println!("           fix: {fix}");
        }
    }
}

/// The library a connector names, which must be in the host's `ECMA` folder.
fn library_of(host: &HostConfig, config: &ConnectorConfig) -> PathBuf {
    host.ecma_dir.join(&config.plugin)
}

pub(super) async fn validate(host: &HostConfig, file: &Path) -> anyhow::Result<()> {
    println!("{}", file.display());
    let mut report = Report::default();
    let config = match ConnectorConfig::load(file) {
        Ok(config) => {
            report.ok("the file parses and its values are valid");
            Some(config)
        }
        Err(e) => {
            report.problem(&e.to_string(), None);
            None
        }
    };
    if let Some(config) = config {
        for other in host.connector_files()? {
            if other != file && declared_name(&other).as_deref() == Some(config.name.as_str()) {
                report.problem(
                    &format!("{}: key `name`: `{}` is also the name of {}; the host serves one connector per name", file.display(), config.name, other.display()),
                    Some("give one of them another name"),
                );
            }
        }
        let library = library_of(host, &config);
        if library.is_file() {
            build_report(&mut report, &config, &library).await?;
        } else {
            report.problem(
                &format!(
                    "{}: key `plugin`: `{}` is not in the ECMA folder {}",
                    file.display(),
                    config.plugin,
                    host.ecma_dir.display()
                ),
                Some("copy the connector library there, or name the one it has"),
            );
        }
    }
    match report.problems {
        0 => {
            println!("no problems: the connector would start");
            Ok(())
        }
        1 => bail!("1 problem in {}", file.display()),
        n => bail!("{n} problems in {}", file.display()),
    }
}

/// Build as a start does, then test the connection.
pub(super) async fn build_report(
    report: &mut Report,
    config: &ConnectorConfig,
    library: &Path,
) -> anyhow::Result<()> {
    let scratch = Scratch::new(library)?;
    let file = config.file.display().to_string();
    match ConnectorRuntime::build(config.clone(), &scratch.ecma(), &scratch.data(), None).await {
        Ok(runtime) => {
            let info = runtime.library().library.info();
            report.ok(&format!("library {} loads ({} {})", config.plugin, info.name, info.version));
            report.ok("every answered parameter page passes the connector's validation");
            report.ok("capabilities, schema, anchors, partitions and the attribute mapping fit the file");
            match runtime.test_connection().await {
                Ok(()) => report.ok("the connection test reached the target"),
                Err(e) => report.problem(&format!("{file}: the connection test failed: {e}"), Some("see `ecmahost connector test`")),
            }
        }
        Err(BuildError::Parameters { issues, .. }) => {
            for issue in issues {
                let (key, message) = issue.split_once(": ").unwrap_or(("parameters", &issue));
                let key = key
                    .strip_prefix("parameters.")
                    .and_then(|rest| rest.split_once('.'))
                    .and_then(|(page, name)| Some(parameter_key(ConfigPage::from_key(page)?, name)))
                    .unwrap_or_else(|| key.to_string());
                report.problem(&format!("{file}: key `{key}`: {message}"), None);
            }
        }
        Err(BuildError::Checks(errors)) => {
            for e in errors.0 {
                report.problem(&e.to_string(), None);
            }
        }
        Err(BuildError::Plugin(e @ (PluginError::Load(_) | PluginError::Connector(_)))) => {
            report.problem(
                &format!("{file}: key `plugin`: {} cannot be used: {e}", config.plugin),
                Some("use a library built for this host (`ecmahost plugin inspect` shows its API version)"),
            );
        }
        Err(BuildError::Call(CallError::Connector(e))) if e.kind == ErrorKind::Connection => report
            .problem(
                &format!("{file}: key `parameters.connectivity`: {}", e.message),
                None,
            ),
        Err(BuildError::Call(CallError::Connector(e))) if e.kind == ErrorKind::InvalidConfiguration => {
            let key = match blamed_key(config, &e.message) {
                key if key == "parameters" => defining_key(config, &scratch, &e.message)
                    .await
                    .unwrap_or(key),
                key => key,
            };
            report.problem(&format!("{file}: key `{key}`: {}", e.message), None)
        }
        Err(e @ BuildError::Call(_)) => report.problem(
            &format!("{file}: {e}"),
            Some("a page the file answers needs the target; `ecmahost connector test` explains connection failures"),
        ),
        Err(e) => report.problem(&format!("{file}: {e}"), None),
    }
    Ok(())
}

/// The parameter a connector's configuration error names (`parameter 'x'`).
fn named_parameter(message: &str) -> Option<&str> {
    message
        .split_once("parameter '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(name, _)| name)
}

/// The key of a parameter the error names that the file does not answer (a required one left
/// out): the first page, in the wizard's order, that defines it given the answers before it.
async fn defining_key(
    config: &ConnectorConfig,
    scratch: &Scratch,
    message: &str,
) -> Option<String> {
    let name = named_parameter(message)?.to_string();
    let answers = config.answers();
    let (ecma, connector, plugin) = (scratch.ecma(), config.name.clone(), config.plugin.clone());
    tokio::task::spawn_blocking(move || {
        let loaded = load_for_connector(
            &ecma,
            &connector,
            &plugin,
            crate::isolation::Isolation::InProcess,
        )
        .ok()?;
        let connector = loaded.library.new_connector().ok()?;
        for page in crate::plugins::pages::page_order() {
            // A page the answers cannot list yet ends the search.
            let defs = connector
                .config_parameters(page, &answers.up_to(page))
                .ok()?;
            if defs.iter().any(|d| d.name == name) {
                return Some(parameter_key(page, &name));
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// The answer a connector's configuration error names (`parameter 'x'`), as
/// `parameters.<page>.<name>`; else the `parameters` table.
fn blamed_key(config: &ConnectorConfig, message: &str) -> String {
    let named = named_parameter(message);
    named
        .and_then(|name| {
            config
                .parameter_pages
                .iter()
                .find(|(_, names)| names.iter().any(|n| n == name))
                .map(|(page, _)| parameter_key(*page, name))
        })
        .unwrap_or_else(|| "parameters".to_string())
}

pub(super) async fn test(host: &HostConfig, file: &Path) -> anyhow::Result<()> {
    let config = ConnectorConfig::load(file)?;
    let library = library_of(host, &config);
    if !library.is_file() {
        bail!(
            "{}: key `plugin`: `{}` is not in the ECMA folder {}",
            file.display(),
            config.plugin,
            host.ecma_dir.display()
        );
    }
    let scratch = Scratch::new(&library)?;
    let (ecma, name, plugin_file) = (scratch.ecma(), config.name.clone(), config.plugin.clone());
    let values = config.parameters.clone();
    let (timeout, isolation) = (config.call_timeout, config.isolation);
    let result = tokio::time::timeout(
        timeout,
        tokio::task::spawn_blocking(move || -> Result<_, anyhow::Error> {
            let loaded = load_for_connector(&ecma, &name, &plugin_file, isolation)?;
            let info = loaded.library.info();
            let connector = loaded.library.new_connector()?;
            Ok((
                format!("{} {}", info.name, info.version),
                connector.test_connection(&values),
            ))
        }),
    )
    .await;
    match result {
        Err(_) => bail!(
            "connector {}: the connection test did not finish within {} s (`call_timeout_seconds`)",
            config.name,
            timeout.as_secs()
        ),
        Ok(joined) => {
            let (plugin, outcome) = joined??;
            match outcome {
                Ok(()) => {
                    println!(
                        "connector {}: connected to the target through {plugin}",
                        config.name
                    );
                    Ok(())
                }
                Err(e) => bail!(
                    "connector {}: the connection through {plugin} failed: {}",
                    config.name,
                    e.message
                ),
            }
        }
    }
}
