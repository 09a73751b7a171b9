//! `ecmahost connector new`: Microsoft's configuration wizard in the terminal.
//!
//! Pages in Microsoft's order: Properties (name, autosync, token, library), the connector's own
//! pages as it declares them (each computed from the answers so far, and validated by the
//! connector after it is answered: a refused answer gets the connector's message and the same
//! question again), capabilities, partitions, run profiles, export page size, object types
//! (anchor, query attribute, DN), attribute selection with the SCIM name of each, and
//! deprovisioning. It writes one commented connector file. Secret answers go to files of their
//! own (mode 0600) in the data folder, which the connector file names.
//!
//! `--answers FILE` does the same without prompts: FILE is a connector file (its token may be
//! left out, and is then generated); each page is checked with the connector's validation, then
//! the whole file as a start would, and it is written only if nothing is wrong.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use ecma_plugin_api::{
    AttributeType, ConfigPage, DnStyle, ParameterDefinition, ParameterKind, ParameterValues,
    PluginConnector,
};
use inquire::validator::Validation;
use inquire::{Confirm, CustomType, MultiSelect, Password, PasswordDisplayMode, Select, Text};

use super::draft::{Answer, ConnectorDraft, Disable, TypeDraft};
use super::files::declared_name;
use super::validate::{build_report, Report, Scratch};
use crate::config::{ConnectorConfig, HostConfig, ParameterAnswers};
use crate::connector::checks::check_parameter_page;
use crate::isolation::Isolation;
use crate::plugins::load_for_connector;
use crate::plugins::pages::{kind_name, page_order, page_title};
use crate::token::{generate_token, hash_token, TokenError, MIN_TOKEN_LEN};

const EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:";
/// The DN question's answer for a directory's own DN (the `<dn>` attribute).
const DN_CHOICE: &str = "<dn> (the directory's DN, -dn- in SCIM)";

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The answers given so far, page by page, with the secret ones apart.
#[derive(Default)]
struct Answers {
    values: ParameterValues,
    /// The value and whether it is secret, by name, to rebuild `values` after a change.
    given: BTreeMap<String, (String, bool)>,
    pages: BTreeMap<ConfigPage, Vec<(String, Answer)>>,
}

impl Answers {
    fn set(&mut self, page: ConfigPage, name: &str, value: String, answer: Answer) {
        let secret = matches!(answer, Answer::Env(_) | Answer::File(_));
        self.given.insert(name.to_string(), (value, secret));
        let answers = self.pages.entry(page).or_default();
        answers.retain(|(n, _)| n != name);
        answers.push((name.to_string(), answer));
        self.rebuild();
    }

    /// Forget an answer: the connector applies its default.
    fn unset(&mut self, page: ConfigPage, name: &str) {
        self.given.remove(name);
        if let Some(answers) = self.pages.get_mut(&page) {
            answers.retain(|(n, _)| n != name);
        }
        self.rebuild();
    }

    fn rebuild(&mut self) {
        let mut values = ParameterValues::new();
        for (name, (value, secret)) in &self.given {
            match secret {
                true => values.insert_secret(name, value),
                false => values.insert(name, value),
            }
        }
        self.values = values;
    }
}

/// The width help lines are wrapped to: an 80-column terminal, less the brackets.
const HELP_WIDTH: usize = 76;

/// `text` broken into lines of at most `width` characters at spaces (a longer word keeps its
/// own line), so that no line starts with a space where the terminal would break it.
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join("\n")
}

/// The help under a parameter's prompt: its description, then its type on a line of its own.
fn help_text(def: &ParameterDefinition) -> String {
    let kind = wrap(&kind_name(&def.kind), HELP_WIDTH);
    match def.description.trim().is_empty() {
        true => kind,
        false => format!("{}\n{kind}", wrap(&def.description, HELP_WIDTH)),
    }
}

/// A page's title, after a blank line.
fn heading(title: &str) {
    println!("\n{title}");
}

/// Ask one parameter; `None` when left empty.
fn ask(def: &ParameterDefinition) -> anyhow::Result<Option<String>> {
    let label = format!("{}:", def.name);
    let help = help_text(def);
    let required = def.required;
    let non_empty = move |s: &str| -> Result<Validation, inquire::CustomUserError> {
        Ok(match required && s.trim().is_empty() {
            true => Validation::Invalid("this parameter is required".into()),
            false => Validation::Valid,
        })
    };
    let answer = match &def.kind {
        ParameterKind::Label => {
            println!("  {}", def.description);
            return Ok(None);
        }
        ParameterKind::Divider => return Ok(None),
        ParameterKind::CheckBox => {
            let default = def
                .default
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case("true"));
            Confirm::new(&label)
                .with_default(default)
                .with_help_message(&help)
                .prompt()?
                .to_string()
        }
        ParameterKind::EncryptedString => Password::new(&label)
            .without_confirmation()
            .with_display_mode(PasswordDisplayMode::Masked)
            .with_help_message(&help)
            .with_validator(non_empty)
            .prompt()?,
        _ => {
            let mut text = Text::new(&label)
                .with_help_message(&help)
                .with_validator(non_empty);
            if let Some(default) = &def.default {
                text = text.with_default(default);
            }
            text.prompt()?
        }
    };
    Ok(Some(answer).filter(|a| !a.is_empty()))
}

/// Ask `def` and record the answer.
fn ask_into(
    answers: &mut Answers,
    page: ConfigPage,
    def: &ParameterDefinition,
    secret_file: &dyn Fn(&str, &str) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let value = ask(def)?;
    // The connector applies its own defaults to what is not answered (a default answered
    // explicitly could mean something else: the SQL driver follows the URL's scheme).
    let Some(value) = value.filter(|v| def.default.as_deref() != Some(v.as_str())) else {
        answers.unset(page, &def.name);
        return Ok(());
    };
    {
        let answer = match def.kind {
            ParameterKind::EncryptedString => Answer::File(secret_file(&def.name, &value)?),
            _ => Answer::Text(value.clone()),
        };
        answers.set(page, &def.name, value, answer);
    }
    Ok(())
}

/// Run the wizard, or `--answers` without prompts.
pub(super) async fn new(host: &HostConfig, answers: Option<&Path>) -> anyhow::Result<()> {
    match answers {
        Some(file) => from_answers(host, file).await,
        None => {
            use std::io::IsTerminal;
            if !std::io::stdin().is_terminal() {
                bail!(
                    "`connector new` asks its questions on a terminal, and standard input is \
                     not one; for automation give the answers as a connector file: \
                     `ecmahost connector new --answers FILE`"
                );
            }
            let host = host.clone();
            tokio::task::spawn_blocking(move || interactive(&host)).await?
        }
    }
}

fn interactive(host: &HostConfig) -> anyhow::Result<()> {
    println!("Properties");
    let existing: Vec<String> = host
        .connector_files()?
        .iter()
        .filter_map(|f| declared_name(f))
        .collect();
    let name = Text::new("Name:")
        .with_help_message(
            "ASCII letters and digits; the tenant URL is https://<host>:8585/ecma2host_<name>/scim",
        )
        .with_validator(
            move |s: &str| -> Result<Validation, inquire::CustomUserError> {
                Ok(if !valid_name(s) {
                    Validation::Invalid("a connector name is ASCII letters and digits only".into())
                } else if existing.iter().any(|e| e == s) {
                    Validation::Invalid(format!("a connector named `{s}` exists already").into())
                } else {
                    Validation::Valid
                })
            },
        )
        .prompt()?;
    let autosync_minutes = CustomType::<u32>::new("Autosync timer (minutes):")
        .with_default(120)
        .with_error_message("a whole number of minutes")
        .prompt()?;
    let token = Password::new("Secret token (empty: generate one):")
        .without_confirmation()
        .with_display_mode(PasswordDisplayMode::Masked)
        .with_validator(|s: &str| -> Result<Validation, inquire::CustomUserError> {
            Ok(match s.is_empty() || s.chars().count() >= MIN_TOKEN_LEN {
                true => Validation::Valid,
                false => Validation::Invalid(TokenError::TooShort.to_string().into()),
            })
        })
        .prompt()?;
    let generated = token.is_empty();
    let token = if generated { generate_token() } else { token };
    let mut libraries: Vec<String> = std::fs::read_dir(&host.ecma_dir)
        .with_context(|| format!("cannot read the ECMA folder {}", host.ecma_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".so"))
        .collect();
    libraries.sort();
    if libraries.is_empty() {
        bail!(
            "no connector library (.so) in the ECMA folder {}: copy one there first",
            host.ecma_dir.display()
        );
    }
    let plugin = Select::new("Connector library:", libraries).prompt()?;

    let scratch = Scratch::new(&host.ecma_dir.join(&plugin))?;
    let loaded = load_for_connector(&scratch.ecma(), &name, &plugin, Isolation::InProcess)?;
    let connector = loaded.library.new_connector()?;
    let secrets_dir = host.data_dir.join("secrets");
    let connector_name = name.clone();
    let secret_file = move |parameter: &str, value: &str| -> anyhow::Result<String> {
        let safe: String = parameter
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = secrets_dir.join(format!("{connector_name}.{safe}"));
        crate::tls::write_file(&path, value.as_bytes(), 0o600)?;
        Ok(path.canonicalize()?.display().to_string())
    };
    let answers = connector_pages(&connector, &secret_file)?;

    let capabilities = connector.capabilities(&answers.values)?;
    heading("Capabilities");
    println!(
        "  DN style {:?}, export type {:?}, delta import {}, passwords {}, object rename {}, partitions {}",
        capabilities.dn_style, capabilities.export_type, capabilities.delta_import,
        capabilities.passwords, capabilities.object_rename, capabilities.partitions
    );
    let mut draft = ConnectorDraft {
        name: name.clone(),
        token_hash: hash_token(&token)?.to_string(),
        plugin: plugin.clone(),
        autosync_minutes,
        notes: vec![format!("Written by `ecmahost connector new` for {plugin}.")],
        // A directory names members and managers by DN.
        references_dn: capabilities.dn_style == DnStyle::Ldap,
        ..ConnectorDraft::default()
    };
    heading("Partitions");
    if capabilities.partitions {
        let partitions = connector.partitions(&answers.values)?;
        let names: Vec<String> = partitions.iter().map(|p| p.dn.clone()).collect();
        if !names.is_empty() {
            draft.partitions = MultiSelect::new("Partitions to serve:", names).prompt()?;
        }
    } else {
        println!("  the connector has one partition (default)");
    }
    heading("Run profiles (export is required)");
    draft.full_import = Confirm::new("Full import:")
        .with_default(true)
        .with_help_message("read the target at start and at each autosync; without it the host cannot tell whether an object exists before exporting it")
        .prompt()?;
    if capabilities.delta_import {
        draft.delta_import = Confirm::new("Delta import:").with_default(false).prompt()?;
    }
    heading("Export");
    draft.export_page_size = CustomType::<u32>::new("Page size:")
        .with_default(100)
        .with_validator(|n: &u32| -> Result<Validation, inquire::CustomUserError> {
            Ok(match (1..=10_000).contains(n) {
                true => Validation::Valid,
                false => Validation::Invalid("between 1 and 10000".into()),
            })
        })
        .prompt()?;

    let schema = connector.schema(&answers.values)?;
    if schema.object_types.is_empty() {
        bail!("the connector reports no object types for these answers");
    }
    heading("Object types");
    let names: Vec<String> = schema.object_types.iter().map(|t| t.name.clone()).collect();
    let user_type = Select::new("Object type for users (/Users):", names.clone()).prompt()?;
    let mut chosen = vec![("User".to_string(), user_type.clone())];
    for other in names.iter().filter(|n| **n != user_type) {
        if Confirm::new(&format!("Also expose {other}?"))
            .with_default(true)
            .prompt()?
        {
            let default = if other.to_ascii_lowercase().contains("group") {
                "Group".to_string()
            } else {
                other.clone()
            };
            let resource = Text::new(&format!("SCIM resource type for {other}:"))
                .with_default(&default)
                .with_validator(|s: &str| -> Result<Validation, inquire::CustomUserError> {
                    Ok(match valid_name(s) && s != "User" {
                        true => Validation::Valid,
                        false => Validation::Invalid("ASCII letters and digits, not User".into()),
                    })
                })
                .prompt()?;
            chosen.push((resource, other.clone()));
        }
    }
    for (resource, object_type) in chosen {
        let Some(ot) = schema.object_type(&object_type) else {
            continue;
        };
        heading(&format!("{resource} ({object_type})"));
        let anchor = ot.anchor.first().cloned().unwrap_or_default();
        println!("  anchor: {anchor} (the connector's anchor for {object_type})");
        let all: Vec<String> = ot.attributes.iter().map(|a| a.name.clone()).collect();
        let query = Select::new("Query attribute:", all.clone())
            .with_starting_cursor(all.iter().position(|a| *a == anchor).unwrap_or(0))
            .prompt()?;
        let mut dn_choices = vec!["autogenerated".to_string()];
        // A directory's DN is its own: `<dn>` (SCIM `-dn-`) keeps the one it gives or Entra sends.
        if capabilities.dn_style == DnStyle::Ldap {
            dn_choices.insert(0, DN_CHOICE.to_string());
        }
        dn_choices.extend(all.iter().cloned());
        let dn = Select::new("DN:", dn_choices).prompt()?;
        let selectable: Vec<String> = all.iter().filter(|a| **a != anchor).cloned().collect();
        // The disable flow offers only boolean attributes not exposed: say so before.
        let booleans: Vec<&str> = ot
            .attributes
            .iter()
            .filter(|a| a.attribute_type == AttributeType::Boolean && a.name != anchor)
            .map(|a| a.name.as_str())
            .collect();
        let mut help =
            "↑↓ to move, space to select one, → to all, ← to none, type to filter".to_string();
        if resource == "User" && !booleans.is_empty() {
            help.push_str(&format!(
                "\nleave {} unselected to make active = false set it (the disable flow)",
                booleans.join(" or ")
            ));
        }
        let selected = MultiSelect::new("Attributes to expose:", selectable.clone())
            .with_all_selected_by_default()
            .with_help_message(&help)
            .prompt()?;
        let mut attributes = Vec::new();
        let mut single_valued = Vec::new();
        for attribute in &selected {
            let default = format!("{EXTENSION}{resource}:{attribute}");
            let scim = Text::new(&format!("SCIM name of {attribute}:"))
                .with_default(&default)
                .with_validator(
                    move |s: &str| -> Result<Validation, inquire::CustomUserError> {
                        if s.starts_with(EXTENSION) {
                            return Ok(Validation::Valid);
                        }
                        Ok(match crate::connector::mapping::check_core_path(s) {
                            Ok(()) => Validation::Valid,
                            Err(m) => Validation::Invalid(m.into()),
                        })
                    },
                )
                .prompt()?;
            attributes.push((attribute.clone(), Some(scim).filter(|s| *s != default)));
            if ot.attribute(attribute).is_some_and(|a| a.multi_valued)
                && Confirm::new(&format!("Treat {attribute} as single value?"))
                    .with_default(false)
                    .with_help_message(
                        "a multi-valued attribute of the target shown and written as one value",
                    )
                    .prompt()?
            {
                single_valued.push(attribute.clone());
            }
        }
        let mut t = TypeDraft {
            name: resource.clone(),
            object_type: object_type.clone(),
            anchor: anchor.clone(),
            query_attribute: Some(query).filter(|q| *q != anchor),
            dn_attribute: Some(dn)
                .filter(|d| d != "autogenerated")
                .map(|d| match d == DN_CHOICE {
                    true => "<dn>".to_string(),
                    false => d,
                }),
            attributes,
            single_valued,
            ..TypeDraft::default()
        };
        if resource == "User"
            && capabilities.passwords
            && Confirm::new("Send the SCIM password to the connector?")
                .with_default(true)
                .with_help_message(
                    "the initial password Entra sends goes to the connector's password call, after the add",
                )
                .prompt()?
        {
            t.password_attribute = Some("password".to_string());
        }
        heading(&format!("Deprovisioning of {resource}"));
        if resource == "User" {
            let booleans: Vec<String> = ot
                .attributes
                .iter()
                .filter(|a| {
                    a.attribute_type == AttributeType::Boolean
                        && !selected.contains(&a.name)
                        && a.name != anchor
                })
                .map(|a| a.name.clone())
                .collect();
            let mut flows = vec!["None", "Delete"];
            if !booleans.is_empty() {
                flows.push("Set attribute value");
            }
            t.disable = match Select::new("Disable flow (active = false):", flows).prompt()? {
                "Delete" => Disable::Delete,
                "Set attribute value" => Disable::SetAttribute(
                    Select::new(
                        "Boolean attribute that takes the value of active:",
                        booleans,
                    )
                    .prompt()?,
                ),
                _ => Disable::None,
            };
        }
        t.delete = Select::new("Delete flow:", vec!["Delete", "None"]).prompt()? == "Delete";
        draft.types.push(t);
    }
    draft.parameters = answers
        .pages
        .into_iter()
        .map(|(page, list)| (page.key(), list))
        .collect();
    let file = host.connectors_dir.join(format!("{name}.toml"));
    crate::tls::write_file(&file, draft.to_toml().as_bytes(), 0o640)?;
    ConnectorConfig::load(&file)
        .with_context(|| format!("the file written, {}, does not load", file.display()))?;
    println!("\nwrote {}; a running host loads it now", file.display());
    println!("tenant URL: https://<host>:8585/ecma2host_{name}/scim");
    if generated {
        println!("new token (shown once; give it to the IdP as the Secret Token): {token}");
    }
    Ok(())
}

/// The connector's own pages, in order, each validated by the connector; a refused answer is
/// asked again after the connector's message.
///
/// A page is listed again after each answer, because an answer may change what the rest of
/// the page requires (the SQL connector needs a `database` for PostgreSQL, a file for SQLite).
fn connector_pages(
    connector: &PluginConnector,
    secret_file: &dyn Fn(&str, &str) -> anyhow::Result<String>,
) -> anyhow::Result<Answers> {
    let mut answers = Answers::default();
    for page in page_order() {
        let list = |answers: &Answers| -> anyhow::Result<Vec<ParameterDefinition>> {
            let defs = connector
                .config_parameters(page, &answers.values)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}: the connector cannot list this page: {e}",
                        page_title(page)
                    )
                })?;
            Ok(defs
                .into_iter()
                .filter(|d| !matches!(d.kind, ParameterKind::Divider))
                .collect())
        };
        // Listed again after an answer; an answer that leaves the page unlistable (a partial
        // answer the connector cannot use yet) keeps the previous list, and validation speaks.
        let relist =
            |answers: &Answers, defs: Vec<ParameterDefinition>| list(answers).unwrap_or(defs);
        let mut defs = list(&answers)?;
        if defs.is_empty() {
            continue;
        }
        heading(&page_title(page));
        let mut asked: Vec<String> = Vec::new();
        while let Some(def) = defs
            .iter()
            .find(|d| {
                (d.required || matches!(d.kind, ParameterKind::Label)) && !asked.contains(&d.name)
            })
            .cloned()
        {
            asked.push(def.name.clone());
            ask_into(&mut answers, page, &def, secret_file)?;
            defs = relist(&answers, defs);
        }
        let optional: Vec<String> = defs
            .iter()
            .filter(|d| !d.required && !matches!(d.kind, ParameterKind::Label))
            .filter(|d| !asked.contains(&d.name))
            .map(|d| d.name.clone())
            .collect();
        if !optional.is_empty()
            && Confirm::new(&format!(
                "Change the {} optional settings of {}?",
                optional.len(),
                page_title(page)
            ))
            .with_default(false)
            .with_help_message(&optional_help(&optional))
            .prompt()?
        {
            for name in &optional {
                if let Some(def) = defs.iter().find(|d| d.name == *name).cloned() {
                    ask_into(&mut answers, page, &def, secret_file)?;
                    defs = relist(&answers, defs);
                }
            }
        }
        loop {
            let issues = connector.validate_page(page, &answers.values)?;
            if issues.is_empty() {
                break;
            }
            let mut asked = false;
            for issue in &issues {
                println!("  {}: {}", issue.parameter, issue.message);
                if let Some(def) = defs.iter().find(|d| d.name == issue.parameter).cloned() {
                    ask_into(&mut answers, page, &def, secret_file)?;
                    defs = relist(&answers, defs);
                    asked = true;
                }
            }
            if !asked {
                bail!("{}: the connector refuses these answers, and names no parameter of the page to ask again", page_title(page));
            }
        }
    }
    Ok(answers)
}

/// The help line of "Change the optional settings?": their names, the first few.
fn optional_help(names: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut help = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        help.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    help
}

/// `--answers FILE`: the pages validated one by one, then the whole file as a start does.
async fn from_answers(host: &HostConfig, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", file.display()))?;
    let name = doc
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if !valid_name(&name) {
        bail!(
            "{}: key `name`: `{name}` must be ASCII letters and digits only",
            file.display()
        );
    }
    let target = host.connectors_dir.join(format!("{name}.toml"));
    if target.exists()
        || host
            .connector_files()?
            .iter()
            .any(|f| declared_name(f).as_deref() == Some(name.as_str()))
    {
        bail!(
            "{}: key `name`: a connector named `{name}` exists already",
            file.display()
        );
    }
    let mut token = None;
    if doc.get("token_hash").is_none() {
        let new = generate_token();
        doc["token_hash"] = toml_edit::value(hash_token(&new)?.to_string());
        token = Some(new);
    }
    // The answers as they would be written, beside the target, under a name the host ignores.
    let draft_file = host.connectors_dir.join(format!(".{name}.toml.new"));
    crate::tls::write_file(&draft_file, doc.to_string().as_bytes(), 0o640)?;
    let outcome = check_answers(host, &draft_file, file).await;
    if outcome.is_err() {
        let _ = std::fs::remove_file(&draft_file);
        return outcome;
    }
    std::fs::rename(&draft_file, &target)?;
    println!("wrote {}; a running host loads it now", target.display());
    if let Some(token) = token {
        println!("new token (shown once; give it to the IdP as the Secret Token): {token}");
    }
    Ok(())
}

async fn check_answers(host: &HostConfig, draft_file: &Path, source: &Path) -> anyhow::Result<()> {
    let mut config = ConnectorConfig::load(draft_file).map_err(|e| {
        anyhow::anyhow!(
            "{}",
            e.to_string().replace(
                &draft_file.display().to_string(),
                &source.display().to_string()
            )
        )
    })?;
    let library = host.ecma_dir.join(&config.plugin);
    if !library.is_file() {
        bail!(
            "{}: key `plugin`: `{}` is not in the ECMA folder {}",
            source.display(),
            config.plugin,
            host.ecma_dir.display()
        );
    }
    let answers = ParameterAnswers {
        file: source.to_path_buf(),
        ..config.answers()
    };
    let scratch = Scratch::new(&library)?;
    let (ecma, name, plugin) = (scratch.ecma(), config.name.clone(), config.plugin.clone());
    let problems = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let loaded = load_for_connector(&ecma, &name, &plugin, Isolation::InProcess)?;
        let connector = loaded.library.new_connector()?;
        let file = answers.file.display().to_string();
        let mut problems = Vec::new();
        for page in answers.pages.keys() {
            let values = answers.up_to(*page);
            let defs = connector
                .config_parameters(*page, &values)
                .map_err(|e| anyhow::anyhow!("{file}: page {}: {e}", page.key()))?;
            problems.extend(
                check_parameter_page(&file, *page, answers.on_page(*page), &defs)
                    .iter()
                    .map(ToString::to_string),
            );
            for issue in connector.validate_page(*page, &values)? {
                problems.push(format!(
                    "{file}: key `{}`: {}",
                    crate::connector::checks::parameter_key(*page, &issue.parameter),
                    issue.message
                ));
            }
            if !problems.is_empty() {
                break;
            }
        }
        Ok(problems)
    })
    .await??;
    if !problems.is_empty() {
        for p in &problems {
            println!("  PROBLEM  {p}");
        }
        bail!("{} refused; nothing was written", source.display());
    }
    config.file = source.to_path_buf();
    let mut report = Report::default();
    build_report(&mut report, &config, &library).await?;
    if report.problems > 0 {
        bail!("{} refused; nothing was written", source.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_is_wrapped_at_spaces_with_the_type_on_its_own_line() {
        let def = ParameterDefinition::new(
            "driver",
            ParameterKind::DropDown {
                options: vec!["SQLite".into(), "PostgreSQL".into()],
                extensible: false,
            },
        )
        .with_description(
            "The database driver: SQLite, PostgreSQL and MySQL/MariaDB are native; ODBC reaches \
             any other database through a DSN file.",
        );
        let help = help_text(&def);
        let lines: Vec<&str> = help.lines().collect();
        assert_eq!(
            lines,
            [
                "The database driver: SQLite, PostgreSQL and MySQL/MariaDB are native; ODBC",
                "reaches any other database through a DSN file.",
                "drop-down (SQLite, PostgreSQL)",
            ]
        );
        assert!(lines
            .iter()
            .all(|l| l.len() <= HELP_WIDTH && !l.starts_with(' ')));
        assert_eq!(wrap("a  b\n c", 10), "a b c");
        assert_eq!(wrap("", 10), "");
    }

    #[test]
    fn the_optional_settings_are_named_in_the_help() {
        let names: Vec<String> = (1..=8).map(|i| format!("p{i}")).collect();
        assert_eq!(optional_help(&names[..2]), "p1, p2");
        assert_eq!(optional_help(&names), "p1, p2, p3, p4, p5, p6 and 2 more");
    }
}
