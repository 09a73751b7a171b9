//! Adding discovery results to a project file in place: the file's own text, comments and
//! order are kept; an entry with the same name is replaced; the result must load before it
//! is written (through a temporary file and a rename, so a failure changes nothing).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::load::{parse, ProjectError};
use crate::model::{RestService, SoapService};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Shape { path: PathBuf, message: String },
}

#[derive(Serialize)]
struct Appended<'a, T: Serialize> {
    discovery: Section<'a, T>,
}

#[derive(Serialize)]
struct Section<'a, T: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    soap: Option<&'a [T]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rest: Option<&'a [T]>,
}

/// Record SOAP services (from [`crate::wsdl::discover`]) in the project at `path`.
pub fn add_soap(path: &Path, services: &[SoapService]) -> Result<(), EditError> {
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let section = Section {
        soap: Some(services),
        rest: None,
    };
    add(path, "soap", &names, &section)
}

/// Record a REST service in the project at `path`.
pub fn add_rest(path: &Path, service: &RestService) -> Result<(), EditError> {
    add_rest_services(path, std::slice::from_ref(service))
}

/// Record REST services (an OpenAPI document's operations) in the project at `path`.
pub fn add_rest_services(path: &Path, services: &[RestService]) -> Result<(), EditError> {
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let section = Section {
        soap: None,
        rest: Some(services),
    };
    add(path, "rest", &names, &section)
}

fn add<T: Serialize>(
    path: &Path,
    kind: &str,
    names: &[&str],
    section: &Section<'_, T>,
) -> Result<(), EditError> {
    let shape = |message: String| EditError::Shape {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| ProjectError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| shape(e.to_string()))?;
    if let Some(entries) = document
        .get_mut("discovery")
        .and_then(|d| d.get_mut(kind))
        .and_then(toml_edit::Item::as_array_of_tables_mut)
    {
        entries.retain(|t| {
            !t.get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| names.contains(&n))
        });
    }
    let appended = toml::to_string(&Appended {
        discovery: Section {
            soap: section.soap,
            rest: section.rest,
        },
    })
    .map_err(|e| shape(format!("cannot write the discovery results: {e}")))?;
    let mut new_text = document.to_string();
    if !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push('\n');
    new_text.push_str(&appended);
    parse(&new_text, path)?;
    let temp = path.with_extension("toml.tmp");
    let write = |p: &Path, e| EditError::Write {
        path: p.to_path_buf(),
        source: e,
    };
    std::fs::write(&temp, new_text).map_err(|e| write(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| write(path, e))
}
