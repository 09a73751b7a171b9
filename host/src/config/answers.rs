//! Parameter answers: the `[parameters.<page>]` tables of a connector file, or of an answers
//! file that holds only those (the wizard's `--answers`, `plugin inspect --answers`).
//!
//! An answer is a literal (string, boolean or integer) or a secret read from the environment or
//! a file (`{ env = "VAR" }`, `{ file = "path" }`); secrets stay marked as such so that nothing
//! prints them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ecma_plugin_api::{ConfigPage, ParameterValues};
use serde::Deserialize;

use super::{read_toml, relative_to, ConfigError};

/// A parameter answer as written in TOML.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ParameterFileValue {
    Text(String),
    Bool(bool),
    Integer(i64),
    Secret(SecretSource),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretSource {
    env: Option<String>,
    file: Option<PathBuf>,
}

/// The `[parameters.*]` tables as written, page key first.
pub(crate) type PagesFile = BTreeMap<String, BTreeMap<String, ParameterFileValue>>;

/// Every answer, merged, and which page answered which parameter.
pub(crate) fn parse_pages(
    file: &Path,
    raw: PagesFile,
) -> Result<(ParameterValues, BTreeMap<ConfigPage, Vec<String>>), ConfigError> {
    let mut parameters = ParameterValues::new();
    let mut parameter_pages = BTreeMap::new();
    for (page_key, answers) in raw {
        let page = ConfigPage::from_key(&page_key).ok_or_else(|| {
            ConfigError::invalid(
                file,
                format!("parameters.{page_key}"),
                "unknown page; use connectivity, capabilities, schema1..schemaN, global, partition or run_step",
            )
        })?;
        let mut names = Vec::new();
        for (name, value) in answers {
            let key = format!("parameters.{page_key}.{name}");
            match value {
                ParameterFileValue::Text(s) => parameters.insert(name.clone(), s),
                ParameterFileValue::Bool(b) => parameters.insert(name.clone(), b.to_string()),
                ParameterFileValue::Integer(i) => parameters.insert(name.clone(), i.to_string()),
                ParameterFileValue::Secret(source) => {
                    parameters.insert_secret(name.clone(), read_secret(file, &key, source)?)
                }
            }
            names.push(name);
        }
        parameter_pages.insert(page, names);
    }
    Ok((parameters, parameter_pages))
}

fn read_secret(file: &Path, key: &str, source: SecretSource) -> Result<String, ConfigError> {
    match (source.env, source.file) {
        (Some(var), None) => std::env::var(&var).map_err(|_| {
            ConfigError::invalid(
                file,
                key,
                format!("environment variable `{var}` is not set"),
            )
        }),
        (None, Some(path)) => {
            let path = relative_to(file, &path);
            std::fs::read_to_string(&path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| {
                    ConfigError::invalid(file, key, format!("cannot read {}: {e}", path.display()))
                })
        }
        _ => Err(ConfigError::invalid(
            file,
            key,
            "a secret is `{ env = \"VAR\" }` or `{ file = \"path\" }`",
        )),
    }
}

/// The parameter answers of one file, page by page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParameterAnswers {
    pub file: PathBuf,
    /// Every answer, merged (ECMA2 passes all answers to every call).
    pub values: ParameterValues,
    /// Which page answered which parameter.
    pub pages: BTreeMap<ConfigPage, Vec<String>>,
}

/// Only the parameters of a file; its other keys (a whole connector file's) are not read here.
#[derive(Deserialize)]
struct AnswersFile {
    #[serde(default)]
    parameters: PagesFile,
}

impl ParameterAnswers {
    /// The `[parameters.*]` tables of `file`, a connector file or an answers file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let raw: AnswersFile = read_toml(file)?;
        let (values, pages) = parse_pages(file, raw.parameters)?;
        Ok(Self {
            file: file.to_path_buf(),
            values,
            pages,
        })
    }

    /// The answers of the pages up to and including `page`, as the host asks that page.
    pub fn up_to(&self, page: ConfigPage) -> ParameterValues {
        let mut values = ParameterValues::new();
        for (_, names) in self.pages.range(..=page) {
            for name in names {
                if let Some(value) = self.values.get(name) {
                    match self.values.is_secret(name) {
                        true => values.insert_secret(name, value),
                        false => values.insert(name, value),
                    }
                }
            }
        }
        values
    }

    /// The names answered on `page`.
    pub fn on_page(&self, page: ConfigPage) -> &[String] {
        self.pages.get(&page).map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answers_file_needs_only_its_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.toml");
        std::fs::write(
            &file,
            "name = \"ignored\"\n[parameters.connectivity]\nconnection_string = \"sqlite://x.db\"\n[parameters.schema1]\nobject_types = \"User\"\n[parameters.schema3]\n\"User:dn_is_anchor\" = true\n",
        )
        .unwrap();
        let a = ParameterAnswers::load(&file).unwrap();
        assert_eq!(a.values.get("User:dn_is_anchor"), Some("true"));
        let first = a.up_to(ConfigPage::Connectivity);
        assert_eq!(first.get("connection_string"), Some("sqlite://x.db"));
        assert_eq!(first.get("object_types"), None);
        assert_eq!(
            a.up_to(ConfigPage::Schema(2)).get("object_types"),
            Some("User")
        );
        assert_eq!(
            a.on_page(ConfigPage::Schema(1)),
            ["object_types".to_string()]
        );
    }

    #[test]
    fn an_unknown_page_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.toml");
        std::fs::write(&file, "[parameters.nowhere]\nx = 1\n").unwrap();
        let err = ParameterAnswers::load(&file).unwrap_err().to_string();
        assert!(err.contains("`parameters.nowhere`"), "{err}");
    }
}
