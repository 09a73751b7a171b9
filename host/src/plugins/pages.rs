//! The parameter pages a connector asks, in the wizard's order, each computed from the answers
//! given so far; shared by `plugin inspect`, `plugin reference` and `connector new`.

use ecma_plugin_api::{ConfigPage, ParameterDefinition, ParameterKind, PluginConnector};

use crate::config::ParameterAnswers;
use crate::connector::checks::{check_parameter_page, CheckError};

/// Schema pages asked at most; a connector with more is not a wizard anyone finishes.
pub const MAX_SCHEMA_PAGES: u32 = 8;

/// Every page, in the order Microsoft's wizard (and the host at build time) asks them.
pub fn page_order() -> Vec<ConfigPage> {
    let mut pages = vec![ConfigPage::Connectivity, ConfigPage::Capabilities];
    pages.extend((1..=MAX_SCHEMA_PAGES).map(ConfigPage::Schema));
    pages.extend([
        ConfigPage::Global,
        ConfigPage::Partition,
        ConfigPage::RunStep,
    ]);
    pages
}

/// The wizard's title for a page.
pub fn page_title(page: ConfigPage) -> String {
    match page {
        ConfigPage::Connectivity => "Connectivity".into(),
        ConfigPage::Capabilities => "Capabilities".into(),
        ConfigPage::Schema(n) => format!("Schema {n}"),
        ConfigPage::Global => "Global".into(),
        ConfigPage::Partition => "Partitions".into(),
        ConfigPage::RunStep => "Run step".into(),
    }
}

/// A parameter's type as the wizard shows it.
pub fn kind_name(kind: &ParameterKind) -> String {
    match kind {
        ParameterKind::String => "string".into(),
        ParameterKind::EncryptedString => "encrypted string".into(),
        ParameterKind::Text => "multi-line text".into(),
        ParameterKind::Label => "label".into(),
        ParameterKind::Divider => "divider".into(),
        ParameterKind::CheckBox => "checkbox".into(),
        ParameterKind::File => "file".into(),
        ParameterKind::DropDown {
            options,
            extensible,
        } => {
            let open = if *extensible { " or typed" } else { "" };
            match options.is_empty() {
                true => format!("drop-down (none listed){open}"),
                false => format!("drop-down ({}){open}", options.join(", ")),
            }
        }
    }
}

/// One page as the connector defines it for the answers so far.
pub struct PageReport {
    pub page: ConfigPage,
    /// The parameters, or why the connector could not list them (it needs other answers).
    pub parameters: Result<Vec<ParameterDefinition>, String>,
    /// Answers given on this page that the page does not define.
    pub refused: Vec<CheckError>,
}

/// Ask every page with the answers of the pages before it (and its own), as a build does.
pub fn walk(connector: &PluginConnector, answers: &ParameterAnswers) -> Vec<PageReport> {
    let file = answers.file.display().to_string();
    page_order()
        .into_iter()
        .map(|page| {
            let values = answers.up_to(page);
            let parameters = connector
                .config_parameters(page, &values)
                .map_err(|e| e.to_string());
            let refused = match &parameters {
                Ok(defs) => check_parameter_page(&file, page, answers.on_page(page), defs),
                Err(_) => Vec::new(),
            };
            PageReport {
                page,
                parameters,
                refused,
            }
        })
        .collect()
}
