//! Reading a project file: TOML syntax and shape errors with their line and column, then the
//! semantic checks (`validate.rs`), each located by its key path in the same text.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::ProjectFile;
use crate::validate;

/// Why a project file cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read web services project {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or not the shape of a project (an unknown key, a wrong type).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed, but wrong: one issue per line.
    #[error("{}", Issues(path, issues))]
    Invalid { path: PathBuf, issues: Vec<Issue> },
}

/// One semantic problem, at a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// `object_types[0].flows.export_add.steps[1].request.path`
    pub key: String,
    /// 1-based; 0 when the key is not in the text (a default).
    pub line: usize,
    pub message: String,
}

struct Issues<'a>(&'a Path, &'a [Issue]);

impl fmt::Display for Issues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.1.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match issue.line {
                0 => write!(f, "{}: {}: {}", self.0.display(), issue.key, issue.message)?,
                line => write!(
                    f,
                    "{}:{line}: {}: {}",
                    self.0.display(),
                    issue.key,
                    issue.message
                )?,
            }
        }
        Ok(())
    }
}

/// Read and check the project at `path`.
pub fn load(path: &Path) -> Result<ProjectFile, ProjectError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProjectError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parse and check `text`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<ProjectFile, ProjectError> {
    let project: ProjectFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| line_column(text, s.start))
            .unwrap_or((0, 0));
        ProjectError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let found = validate::check(&project);
    if found.is_empty() {
        return Ok(project);
    }
    let document = toml_edit::ImDocument::parse(text).ok();
    let issues = found
        .into_iter()
        .map(|(key, message)| Issue {
            line: document
                .as_ref()
                .and_then(|d| span_of(d, &key))
                .map(|offset| line_column(text, offset).0)
                .unwrap_or(0),
            key: key.to_string(),
            message,
        })
        .collect();
    Err(ProjectError::Invalid {
        path: path.to_path_buf(),
        issues,
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A key path into the document: `object_types[0].flows`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn key(&self, name: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(name.to_string()));
        next
    }

    pub fn index(&self, i: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(i));
        next
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The offset of the deepest part of `key` present in the document.
fn span_of(document: &toml_edit::ImDocument<&str>, key: &KeyPath) -> Option<usize> {
    let mut item = document.as_item();
    let mut best = None;
    for segment in &key.0 {
        let next = match segment {
            Segment::Key(k) => item.get(k.as_str()),
            Segment::Index(i) => item.get(*i),
        };
        match next {
            Some(next) => {
                item = next;
                best = item.span().map(|s| s.start).or(best);
            }
            None => break,
        }
    }
    best
}
