//! The configuration wizard, without a person: ask each page's parameters in ECMA2's order,
//! optionally fill in the defaults, and validate each page before the next is asked.
//!
//! Order: connectivity, capabilities, schema1, schema2, ... (until a schema page declares no
//! parameter), global, partition, run step. Each page sees the answers to every page before it,
//! as in the host and in Microsoft's wizard. Like the wizard, a walk stops after the first page
//! with problems: later pages may list things (tables, columns) that only a valid answer to it
//! can tell.

use std::collections::HashMap;

use ecma_plugin_api::{
    ConfigPage, ParameterDefinition, ParameterIssue, ParameterKind, ParameterValues,
    PluginConnector,
};

use crate::HarnessError;

/// The harness stops asking schema pages here; a connector that still declares parameters on
/// this page is reported as [`HarnessError::EndlessSchemaPages`].
pub const MAX_SCHEMA_PAGES: u32 = 32;

/// What one page declared and what its validation said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageReport {
    pub page: ConfigPage,
    pub definitions: Vec<ParameterDefinition>,
    /// What the connector's `validate_page` returned for the answers at that point.
    pub issues: Vec<ParameterIssue>,
    /// Required parameters of this page that had no (or an empty) answer. The host passes only
    /// what the connector file answers, so these would be missing at run time.
    pub unanswered: Vec<String>,
}

impl PageReport {
    pub fn is_valid(&self) -> bool {
        self.issues.is_empty() && self.unanswered.is_empty()
    }

    pub fn definition(&self, name: &str) -> Option<&ParameterDefinition> {
        self.definitions.iter().find(|d| d.name == name)
    }
}

/// Every page that declared at least one parameter, in the order they were asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageWalk {
    pub pages: Vec<PageReport>,
}

impl PageWalk {
    pub fn page(&self, page: ConfigPage) -> Option<&PageReport> {
        self.pages.iter().find(|p| p.page == page)
    }

    /// A parameter's definition, whichever page declared it.
    pub fn definition(&self, name: &str) -> Option<&ParameterDefinition> {
        self.pages.iter().find_map(|p| p.definition(name))
    }

    /// Issues of every page, with the page that reported them.
    pub fn issues(&self) -> impl Iterator<Item = (ConfigPage, &ParameterIssue)> {
        self.pages
            .iter()
            .flat_map(|p| p.issues.iter().map(move |i| (p.page, i)))
    }

    pub fn is_valid(&self) -> bool {
        self.pages.iter().all(PageReport::is_valid)
    }

    /// One line per problem, `page.parameter: message`, as the host words them.
    pub fn problems(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for report in &self.pages {
            let key = report.page.key();
            for issue in &report.issues {
                lines.push(format!("{key}.{}: {}", issue.parameter, issue.message));
            }
            for name in &report.unanswered {
                lines.push(format!("{key}.{name}: required, but not answered"));
            }
        }
        lines
    }

    /// `Ok(self)` if every page is valid, else [`HarnessError::InvalidParameters`].
    pub fn into_valid(self) -> Result<Self, HarnessError> {
        if self.is_valid() {
            Ok(self)
        } else {
            Err(HarnessError::InvalidParameters(self.problems().join("\n")))
        }
    }
}

/// Labels and dividers are shown, never answered.
pub(crate) fn is_answerable(definition: &ParameterDefinition) -> bool {
    !matches!(
        definition.kind,
        ParameterKind::Label | ParameterKind::Divider
    )
}

/// Answer every unanswered parameter that has a default with that default. Returns the names
/// it filled in. Encrypted-string defaults are stored as secrets.
pub(crate) fn fill_defaults(
    values: &mut ParameterValues,
    definitions: &[ParameterDefinition],
) -> Vec<String> {
    let mut filled = Vec::new();
    for definition in definitions.iter().filter(|d| is_answerable(d)) {
        let Some(default) = &definition.default else {
            continue;
        };
        if values.get(&definition.name).is_some() {
            continue;
        }
        if definition.kind == ParameterKind::EncryptedString {
            values.insert_secret(definition.name.clone(), default.clone());
        } else {
            values.insert(definition.name.clone(), default.clone());
        }
        filled.push(definition.name.clone());
    }
    filled
}

/// Ask, (fill,) and validate one page.
pub(crate) fn run_page(
    connector: &PluginConnector,
    values: &mut ParameterValues,
    page: ConfigPage,
    fill: bool,
) -> Result<PageReport, HarnessError> {
    let definitions = connector
        .config_parameters(page, values)
        .map_err(HarnessError::call("config_parameters"))?;
    if fill {
        fill_defaults(values, &definitions);
    }
    // An empty page has nothing to validate; the host validates only pages it has answers for.
    let issues = if definitions.is_empty() {
        Vec::new()
    } else {
        connector
            .validate_page(page, values)
            .map_err(HarnessError::call("validate_page"))?
    };
    let unanswered = definitions
        .iter()
        .filter(|d| d.required && is_answerable(d))
        .filter(|d| values.get(&d.name).is_none_or(str::is_empty))
        .map(|d| d.name.clone())
        .collect();
    Ok(PageReport {
        page,
        definitions,
        issues,
        unanswered,
    })
}

/// Walk every page in order. See the module documentation for the order.
pub(crate) fn walk(
    connector: &PluginConnector,
    values: &mut ParameterValues,
    fill: bool,
) -> Result<PageWalk, HarnessError> {
    let mut walk = PageWalk::default();
    let mut declared_on: HashMap<String, ConfigPage> = HashMap::new();
    // Records a page; says whether the walk may go on.
    let mut record = |walk: &mut PageWalk, report: PageReport| -> Result<bool, HarnessError> {
        for definition in &report.definitions {
            if let Some(first) = declared_on.insert(definition.name.clone(), report.page) {
                return Err(HarnessError::DuplicateParameter {
                    name: definition.name.clone(),
                    first: first.key(),
                    second: report.page.key(),
                });
            }
        }
        let valid = report.is_valid();
        if !report.definitions.is_empty() {
            walk.pages.push(report);
        }
        Ok(valid)
    };

    for page in [ConfigPage::Connectivity, ConfigPage::Capabilities] {
        let report = run_page(connector, values, page, fill)?;
        if !record(&mut walk, report)? {
            return Ok(walk);
        }
    }
    let mut number = 1;
    loop {
        let report = run_page(connector, values, ConfigPage::Schema(number), fill)?;
        if report.definitions.is_empty() {
            break;
        }
        if number == MAX_SCHEMA_PAGES {
            return Err(HarnessError::EndlessSchemaPages(number));
        }
        if !record(&mut walk, report)? {
            return Ok(walk);
        }
        number += 1;
    }
    for page in [
        ConfigPage::Global,
        ConfigPage::Partition,
        ConfigPage::RunStep,
    ] {
        let report = run_page(connector, values, page, fill)?;
        if !record(&mut walk, report)? {
            return Ok(walk);
        }
    }
    Ok(walk)
}
