//! Keeps secrets out of messages: every secret parameter value (and a password being set) is
//! replaced by `<redacted>` in text that may reach a log, an error or `ecmahost ws test`.

/// The secret values to hide. Short values are hidden too: a secret is a secret.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

pub(crate) const REDACTED: &str = "<redacted>";

impl Redactor {
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret that contains another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    /// This redactor, also hiding `extra`.
    pub(crate) fn with(&self, extra: &[&str]) -> Self {
        Self::new(
            self.secrets
                .iter()
                .cloned()
                .chain(extra.iter().map(|s| (*s).to_string())),
        )
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_every_secret_longest_first() {
        let r = Redactor::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(r.apply("x abcdef y abc"), "x <redacted> y <redacted>");
        assert_eq!(r.with(&["y"]).apply("x y"), "x <redacted>");
    }
}
