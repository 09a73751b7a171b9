//! Parses `ldapsearch -LLL -o ldif-wrap=no` output into entries (DN + ordered attribute values).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::HarnessError;

/// One entry as ldapsearch printed it: its DN and its attributes in the order they came, each
/// with its values in order. Values are bytes (`attr:: base64` lines are decoded); the string
/// accessors decode UTF-8 lossily. Attribute names are matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    dn: String,
    attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// The entry's DN as the server returned it.
    pub fn dn(&self) -> &str {
        &self.dn
    }

    /// The attributes in the order they came, each with its values.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &[Vec<u8>])> {
        self.attributes
            .iter()
            .map(|(name, values)| (name.as_str(), values.as_slice()))
    }

    /// The raw values of `name` (case-insensitive), or an empty slice when it is absent.
    pub fn bytes(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .iter()
            .find(|(have, _)| have.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, values)| values.as_slice())
    }

    /// The values of `name` as strings (empty when absent).
    pub fn values(&self, name: &str) -> Vec<String> {
        self.bytes(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value).into_owned())
            .collect()
    }

    /// The first value of `name` as a string.
    pub fn first(&self, name: &str) -> Option<String> {
        self.bytes(name)
            .first()
            .map(|value| String::from_utf8_lossy(value).into_owned())
    }

    /// Whether the entry has `name` with at least one value.
    pub fn has(&self, name: &str) -> bool {
        !self.bytes(name).is_empty()
    }

    fn push(&mut self, name: String, value: Vec<u8>) {
        match self
            .attributes
            .iter_mut()
            .find(|(have, _)| have.eq_ignore_ascii_case(&name))
        {
            Some((_, values)) => values.push(value),
            None => self.attributes.push((name, vec![value])),
        }
    }
}

/// Parses LDIF content records (as `ldapsearch -LLL` prints them) into entries. Comment lines
/// (`# pagedresults: ...`, `# sortResult: ...`) are skipped; folded lines are unfolded, so
/// output without `-o ldif-wrap=no` parses too.
pub fn parse_entries(text: &str) -> Result<Vec<Entry>, HarnessError> {
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for (number, line) in unfold(text) {
        if line.is_empty() {
            entries.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = split_line(number, &line)?;
        match current.as_mut() {
            None if name.eq_ignore_ascii_case("dn") => {
                let dn = String::from_utf8(value).map_err(|_| HarnessError::Ldif {
                    line: number,
                    reason: "the DN is not UTF-8",
                    text: line.clone(),
                })?;
                current = Some(Entry {
                    dn,
                    attributes: Vec::new(),
                });
            }
            None => {
                return Err(HarnessError::Ldif {
                    line: number,
                    reason: "an entry must start with a dn: line",
                    text: line,
                })
            }
            Some(entry) => entry.push(name.to_owned(), value),
        }
    }
    entries.extend(current);
    Ok(entries)
}

/// Joins continuation lines (RFC 2849: a line starting with one space continues the one
/// before), keeping the number of each logical line's first physical line.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        match (raw.strip_prefix(' '), lines.last_mut()) {
            (Some(rest), Some((_, previous))) if !previous.is_empty() => previous.push_str(rest),
            _ => lines.push((index + 1, raw.to_owned())),
        }
    }
    lines
}

/// Splits `name: value`, `name:: base64` or `name:` (an empty value).
fn split_line(number: usize, line: &str) -> Result<(&str, Vec<u8>), HarnessError> {
    let error = |reason| HarnessError::Ldif {
        line: number,
        reason,
        text: line.to_owned(),
    };
    let (name, rest) = line.split_once(':').ok_or_else(|| error("no `:`"))?;
    if let Some(encoded) = rest.strip_prefix(':') {
        let value = STANDARD
            .decode(encoded.trim_start())
            .map_err(|_| error("invalid base64 value"))?;
        Ok((name, value))
    } else if rest.starts_with('<') {
        Err(error("URL values (`attr:< url`) are not supported"))
    } else {
        Ok((
            name,
            rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_base64_empty_and_repeated_values_in_order() {
        let text = "dn: uid=a,ou=people,dc=example,dc=com\nobjectClass: top\ncn:: SsO2aG4=\n\
                    objectClass: inetOrgPerson\ndescription:\nsn: Doe\n\n\
                    # pagedresults: cookie=\ndn:: Y249w7YsZGM9eA==\ncn: x\n";
        let entries = parse_entries(text).unwrap();
        assert_eq!(entries.len(), 2);
        let first = &entries[0];
        assert_eq!(first.dn(), "uid=a,ou=people,dc=example,dc=com");
        assert_eq!(first.values("objectclass"), ["top", "inetOrgPerson"]);
        assert_eq!(first.first("CN").as_deref(), Some("Jöhn"));
        assert_eq!(first.bytes("description"), [Vec::<u8>::new()]);
        let names: Vec<&str> = first.attributes().map(|(name, _)| name).collect();
        assert_eq!(names, ["objectClass", "cn", "description", "sn"]);
        assert_eq!(entries[1].dn(), "cn=ö,dc=x");
        assert!(!entries[1].has("sn"));
    }

    #[test]
    fn unfolds_wrapped_lines() {
        let entries = parse_entries("dn: cn=a,dc=exa\n mple\ncn: a\n").unwrap();
        assert_eq!(entries[0].dn(), "cn=a,dc=example");
    }

    #[test]
    fn names_the_line_at_fault() {
        let error = parse_entries("dn: cn=a\ncn:: ***\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 2") && error.contains("base64"),
            "{error}"
        );
        let error = parse_entries("cn: a\n").unwrap_err().to_string();
        assert!(error.contains("must start with a dn"), "{error}");
    }
}
