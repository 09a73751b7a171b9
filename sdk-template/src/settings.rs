//! The parameter pages (what the host's connector file answers) and the settings read from the
//! answers.
//!
//! - connectivity: `file` (required), `delimiter` (default `,`), `encoding` (a note: UTF-8 only);
//! - schema1: `object_type` (default `User`), `anchor` (a drop-down of the header's columns,
//!   required).
//!
//! The host passes only what a connector file answers; it does not fill in defaults. So every
//! default declared here is also applied here, when the answer is missing.

use std::path::{Path, PathBuf};

use ecma_plugin_api::{
    ConfigPage, ParameterDefinition, ParameterIssue, ParameterKind, ParameterValues,
};

use crate::error::CsvError;
use crate::table;

pub const FILE: &str = "file";
pub const DELIMITER: &str = "delimiter";
pub const ENCODING: &str = "encoding";
pub const OBJECT_TYPE: &str = "object_type";
pub const ANCHOR: &str = "anchor";

const DEFAULT_DELIMITER: &str = ",";
const DEFAULT_OBJECT_TYPE: &str = "User";

/// Where the file is and how to read it: the connectivity page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSettings {
    pub path: PathBuf,
    pub delimiter: u8,
}

/// Everything a session needs: the connectivity and schema pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub file: FileSettings,
    pub object_type: String,
    pub anchor: String,
}

/// A non-empty answer, or `None`.
fn answer<'a>(values: &'a ParameterValues, name: &str) -> Option<&'a str> {
    values.get(name).filter(|v| !v.is_empty())
}

/// One ASCII character, or the word `tab`. Quotes and line breaks would make the file
/// unreadable, so they are refused.
fn parse_delimiter(text: &str) -> Result<u8, String> {
    if text.eq_ignore_ascii_case("tab") || text == "\\t" {
        return Ok(b'\t');
    }
    match text.as_bytes() {
        [b'"' | b'\r' | b'\n'] => Err(format!("{text:?} cannot separate fields")),
        [byte] if byte.is_ascii() => Ok(*byte),
        _ => Err(format!(
            "{text:?} is not one ASCII character (write `tab` for a tab)"
        )),
    }
}

impl FileSettings {
    pub fn from_values(values: &ParameterValues) -> Result<Self, CsvError> {
        let path = answer(values, FILE).ok_or(CsvError::Parameter {
            name: FILE,
            message: "the path of the CSV file is required".into(),
        })?;
        let delimiter = parse_delimiter(answer(values, DELIMITER).unwrap_or(DEFAULT_DELIMITER))
            .map_err(|message| CsvError::Parameter {
                name: DELIMITER,
                message,
            })?;
        Ok(Self {
            path: PathBuf::from(path),
            delimiter,
        })
    }

    /// The column names of the file's header row.
    pub fn header(&self) -> Result<Vec<String>, CsvError> {
        table::read_header(&self.path, self.delimiter)
    }
}

impl Settings {
    pub fn from_values(values: &ParameterValues) -> Result<Self, CsvError> {
        let file = FileSettings::from_values(values)?;
        let anchor = answer(values, ANCHOR).ok_or(CsvError::Parameter {
            name: ANCHOR,
            message: "choose the column that identifies a row".into(),
        })?;
        Ok(Self {
            file,
            object_type: answer(values, OBJECT_TYPE)
                .unwrap_or(DEFAULT_OBJECT_TYPE)
                .to_string(),
            anchor: anchor.to_string(),
        })
    }
}

/// The parameters of `page`. Schema page 1 lists the header's columns, so it reads the file
/// the connectivity page points at.
pub fn parameters(
    page: ConfigPage,
    values: &ParameterValues,
) -> Result<Vec<ParameterDefinition>, CsvError> {
    Ok(match page {
        ConfigPage::Connectivity => vec![
            ParameterDefinition::new(FILE, ParameterKind::String)
                .required()
                .with_description(
                    "Absolute path of the CSV file. Its first row names the columns. The \
                     connector rewrites it (and keeps <file>.snapshot) in the same folder, so \
                     the host needs write access to the folder.",
                ),
            ParameterDefinition::new(DELIMITER, ParameterKind::String)
                .with_default(DEFAULT_DELIMITER)
                .with_description("The field separator: one character, or `tab`."),
            ParameterDefinition::new(ENCODING, ParameterKind::Label).with_description(
                "The file must be UTF-8 (a byte-order mark is kept). Other encodings are refused.",
            ),
        ],
        ConfigPage::Schema(1) => {
            let columns = FileSettings::from_values(values)?.header()?;
            vec![
                ParameterDefinition::new(OBJECT_TYPE, ParameterKind::String)
                    .required()
                    .with_default(DEFAULT_OBJECT_TYPE)
                    .with_description("The object type a row is (the host's `object_type`)."),
                ParameterDefinition::new(
                    ANCHOR,
                    ParameterKind::DropDown {
                        options: columns,
                        extensible: false,
                    },
                )
                .required()
                .with_description(
                    "The column whose value identifies a row for good (the host's `anchor`, \
                     SCIM `userName`). Values must be unique and not empty.",
                ),
            ]
        }
        _ => Vec::new(),
    })
}

fn issue(parameter: &str, message: impl Into<String>) -> ParameterIssue {
    ParameterIssue {
        parameter: parameter.to_string(),
        message: message.into(),
    }
}

/// Problems with the answers to `page`. Reading the file is part of validating it: a path
/// that exists but holds no usable header is as wrong as a missing one.
pub fn validate(page: ConfigPage, values: &ParameterValues) -> Vec<ParameterIssue> {
    match page {
        ConfigPage::Connectivity => validate_connectivity(values),
        ConfigPage::Schema(1) => validate_schema(values),
        _ => Vec::new(),
    }
}

fn validate_connectivity(values: &ParameterValues) -> Vec<ParameterIssue> {
    match FileSettings::from_values(values) {
        Err(CsvError::Parameter { name, message }) => vec![issue(name, message)],
        Err(other) => vec![issue(FILE, other.to_string())],
        Ok(file) => match file.header() {
            Ok(_) => Vec::new(),
            Err(e) => vec![issue(FILE, e.to_string())],
        },
    }
}

fn validate_schema(values: &ParameterValues) -> Vec<ParameterIssue> {
    let mut issues = Vec::new();
    if values.get(OBJECT_TYPE).is_some_and(|t| t.trim().is_empty()) {
        issues.push(issue(OBJECT_TYPE, "must not be empty"));
    }
    let columns = match FileSettings::from_values(values).and_then(|f| f.header()) {
        Ok(columns) => columns,
        Err(e) => {
            issues.push(issue(ANCHOR, format!("cannot list the columns: {e}")));
            return issues;
        }
    };
    match answer(values, ANCHOR) {
        None => issues.push(issue(ANCHOR, "choose the column that identifies a row")),
        Some(anchor) if !columns.iter().any(|c| c == anchor) => issues.push(issue(
            ANCHOR,
            format!(
                "'{anchor}' is not a column of {} (it has: {})",
                display(values),
                columns.join(", ")
            ),
        )),
        Some(_) => {}
    }
    issues
}

fn display(values: &ParameterValues) -> String {
    values
        .get(FILE)
        .map(|p| Path::new(p).display().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(parse_delimiter(","), Ok(b','));
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\t"), Ok(b'\t'));
        assert!(parse_delimiter("\"").is_err());
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("é").is_err());
    }

    #[test]
    fn defaults_apply_when_unanswered() {
        let mut values = ParameterValues::new();
        values.insert(FILE, "/tmp/x.csv");
        values.insert(ANCHOR, "Id");
        let settings = Settings::from_values(&values).unwrap();
        assert_eq!(settings.file.delimiter, b',');
        assert_eq!(settings.object_type, "User");
    }
}
