//! What an import did, line by line: what it mapped, what it could not, and what still needs
//! an answer.

/// The lines of an import report, in the order found.
#[derive(Debug, Default)]
pub struct ImportReport {
    lines: Vec<(Kind, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mapped,
    NotMapped,
    NeedsAnswer,
}

impl ImportReport {
    pub fn mapped(&mut self, line: impl Into<String>) {
        self.lines.push((Kind::Mapped, line.into()));
    }

    pub fn not_mapped(&mut self, line: impl Into<String>) {
        self.lines.push((Kind::NotMapped, line.into()));
    }

    pub fn needs_answer(&mut self, line: impl Into<String>) {
        self.lines.push((Kind::NeedsAnswer, line.into()));
    }

    pub fn needs_answers(&self) -> usize {
        self.lines
            .iter()
            .filter(|(k, _)| *k == Kind::NeedsAnswer)
            .count()
    }

    /// One line per finding, `mapped`, `not mapped` or `needs answer` first.
    pub fn render(&self) -> String {
        self.lines
            .iter()
            .map(|(kind, line)| {
                let label = match kind {
                    Kind::Mapped => "mapped      ",
                    Kind::NotMapped => "not mapped  ",
                    Kind::NeedsAnswer => "needs answer",
                };
                format!("{label}  {line}\n")
            })
            .collect()
    }
}
