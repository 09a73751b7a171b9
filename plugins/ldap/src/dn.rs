//! Distinguished names (RFC 4514): parsing into RDNs, comparing, escaping values, DN templates.

use std::borrow::Cow;
use std::fmt;

/// One attribute-value assertion of an RDN, with the value unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ava {
    pub attribute: String,
    pub value: String,
    /// The value was written as a hex-encoded BER value (`cn=#04024869`), kept as written
    /// (with its `#`); a value that merely starts with an escaped `\#` is not.
    pub hex: bool,
}

/// A parsed DN: RDNs from the entry up to the root, each one or more AVAs (`cn=a+sn=b`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dn {
    pub rdns: Vec<Vec<Ava>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{dn}` is not a valid DN (RFC 4514): {reason}")]
pub(crate) struct DnError {
    pub dn: String,
    pub reason: String,
}

/// Escape a value for an RDN (RFC 4514 section 2.4).
pub(crate) fn escape_value(value: &str) -> Cow<'_, str> {
    ldap3::dn_escape(value)
}

/// Escape a value for a search filter (RFC 4515 section 3).
pub(crate) fn escape_filter(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

impl Dn {
    /// Parse `text`. The empty string is the root DSE's (empty) DN.
    pub(crate) fn parse(text: &str) -> Result<Dn, DnError> {
        let fail = |reason: &str| DnError {
            dn: text.to_string(),
            reason: reason.to_string(),
        };
        let mut rdns = Vec::new();
        if text.trim().is_empty() {
            return Ok(Dn { rdns });
        }
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut rdn = Vec::new();
        loop {
            // attribute type
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && bytes[i] != b'=' {
                if matches!(bytes[i], b',' | b'+' | b'\\') {
                    return Err(fail("an attribute type must be followed by `=`"));
                }
                i += 1;
            }
            if i >= bytes.len() {
                return Err(fail("an RDN has no `=`"));
            }
            let attribute = text[start..i].trim().to_string();
            if attribute.is_empty()
                || !attribute
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ';')
            {
                return Err(fail("an attribute type is empty or has characters other than letters, digits, `-` and `.`"));
            }
            i += 1; // '='
            let mut value: Vec<u8> = Vec::new();
            let mut trailing_unescaped_spaces = 0usize;
            let hex = i < bytes.len() && bytes[i] == b'#';
            if hex {
                // hex-encoded BER value (`#` and hex pairs): keep as written
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b',' | b'+') {
                    i += 1;
                }
                let written = text[start..i].trim_end();
                let digits = &written[1..];
                if digits.is_empty()
                    || digits.len() % 2 != 0
                    || !digits.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(fail(
                        "a value starting with `#` must be hex pairs (a BER value); escape a literal `#` as `\\#`",
                    ));
                }
                value.extend_from_slice(written.as_bytes());
            } else {
                while i < bytes.len() && bytes[i] == b' ' && value.is_empty() {
                    i += 1;
                }
                while i < bytes.len() && !matches!(bytes[i], b',' | b'+') {
                    let c = bytes[i];
                    if c == b'\\' {
                        let next = *bytes.get(i + 1).ok_or_else(|| fail("a `\\` ends the DN"))?;
                        match (
                            hex_digit(next),
                            bytes.get(i + 2).copied().and_then(hex_digit),
                        ) {
                            (Some(h), Some(l)) => {
                                value.push(h * 16 + l);
                                i += 3;
                            }
                            _ if b" \"#+,;<=>\\".contains(&next) => {
                                value.push(next);
                                i += 2;
                            }
                            _ => {
                                return Err(fail(
                                    "a `\\` must escape a special character or two hex digits",
                                ))
                            }
                        }
                        trailing_unescaped_spaces = 0;
                        continue;
                    }
                    if matches!(c, b'"' | b';' | b'<' | b'>') {
                        return Err(fail("`\"`, `;`, `<` and `>` must be escaped in a value"));
                    }
                    trailing_unescaped_spaces = if c == b' ' {
                        trailing_unescaped_spaces + 1
                    } else {
                        0
                    };
                    value.push(c);
                    i += 1;
                }
                value.truncate(value.len() - trailing_unescaped_spaces);
            }
            let value = String::from_utf8(value).map_err(|_| fail("a value is not UTF-8"))?;
            rdn.push(Ava {
                attribute,
                value,
                hex,
            });
            match bytes.get(i) {
                Some(b'+') => {
                    i += 1;
                }
                Some(b',') => {
                    rdns.push(std::mem::take(&mut rdn));
                    i += 1;
                }
                _ => {
                    rdns.push(std::mem::take(&mut rdn));
                    break;
                }
            }
        }
        Ok(Dn { rdns })
    }

    /// The first RDN as text (`uid=jo\2C smith`).
    pub(crate) fn rdn(&self) -> String {
        self.rdns.first().map(|r| rdn_text(r)).unwrap_or_default()
    }

    /// The parent DN (empty for a one-RDN DN).
    pub(crate) fn parent(&self) -> Dn {
        Dn {
            rdns: self.rdns.iter().skip(1).cloned().collect(),
        }
    }

    /// Whether `self` is `ancestor` or below it (compared case-insensitively).
    pub(crate) fn is_within(&self, ancestor: &Dn) -> bool {
        let n = ancestor.rdns.len();
        self.rdns.len() >= n
            && self.rdns[self.rdns.len() - n..]
                .iter()
                .zip(&ancestor.rdns)
                .all(|(a, b)| same_rdn(a, b))
    }

    /// A normalised form for comparing DNs: lower-case types and values, canonical escapes.
    pub(crate) fn normalized(&self) -> String {
        let lowered = Dn {
            rdns: self
                .rdns
                .iter()
                .map(|rdn| {
                    rdn.iter()
                        .map(|ava| Ava {
                            attribute: ava.attribute.to_ascii_lowercase(),
                            value: ava.value.to_lowercase(),
                            hex: ava.hex,
                        })
                        .collect()
                })
                .collect(),
        };
        lowered.to_string()
    }
}

fn same_rdn(a: &[Ava], b: &[Ava]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.attribute.eq_ignore_ascii_case(&y.attribute)
                && x.value.to_lowercase() == y.value.to_lowercase()
        })
}

fn rdn_text(rdn: &[Ava]) -> String {
    rdn.iter()
        .map(|ava| {
            if ava.hex {
                format!("{}={}", ava.attribute, ava.value)
            } else {
                format!("{}={}", ava.attribute, escape_value(&ava.value))
            }
        })
        .collect::<Vec<_>>()
        .join("+")
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.rdns.iter().map(|r| rdn_text(r)).collect();
        f.write_str(&parts.join(","))
    }
}

/// Compare two DNs as the directory would (types and values case-insensitively). Text that
/// does not parse is compared as it is, ignoring case.
pub(crate) fn same_dn(a: &str, b: &str) -> bool {
    match (Dn::parse(a), Dn::parse(b)) {
        (Ok(a), Ok(b)) => a.normalized() == b.normalized(),
        _ => a.eq_ignore_ascii_case(b),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("the DN template `{template}` has an unclosed `{{`")]
    Unclosed { template: String },
    #[error("the DN template `{template}` needs attribute `{attribute}`, and the object has no value for it")]
    Missing { template: String, attribute: String },
}

/// A DN template such as `uid={uid},ou=people,{partition}`: `{attr}` is the (escaped) first
/// value of the attribute, `{partition}` the partition's DN as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DnTemplate {
    text: String,
}

impl DnTemplate {
    pub(crate) fn new(text: &str) -> Result<Self, TemplateError> {
        let template = Self {
            text: text.trim().to_string(),
        };
        template.placeholders()?;
        Ok(template)
    }

    /// The attribute names the template uses (not `partition`).
    pub(crate) fn placeholders(&self) -> Result<Vec<String>, TemplateError> {
        let mut names = Vec::new();
        let mut rest = self.text.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| TemplateError::Unclosed {
                template: self.text.clone(),
            })?;
            let name = &after[..close];
            if !name.eq_ignore_ascii_case("partition") {
                names.push(name.to_string());
            }
            rest = &after[close + 1..];
        }
        Ok(names)
    }

    /// Render with `value(attribute)` giving the attribute's first value.
    pub(crate) fn render<'a>(
        &self,
        partition: &str,
        value: impl Fn(&str) -> Option<Cow<'a, str>>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = self.text.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| TemplateError::Unclosed {
                template: self.text.clone(),
            })?;
            let name = &after[..close];
            if name.eq_ignore_ascii_case("partition") {
                out.push_str(partition);
            } else {
                let v = value(name).ok_or_else(|| TemplateError::Missing {
                    template: self.text.clone(),
                    attribute: name.to_string(),
                })?;
                out.push_str(&escape_value(&v));
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_leading_hash_is_a_string_and_a_real_hex_value_stays_as_written() {
        // Found by the ldap_dn fuzz target: a value starting with `\#` was printed unescaped.
        let dn = Dn::parse(r"cn=\#=\<c\, d,ou=people").unwrap();
        assert_eq!(dn.rdns[0][0].value, "#=<c, d");
        assert!(!dn.rdns[0][0].hex);
        let printed = dn.to_string();
        assert_eq!(printed, r"cn=\23\3d\3cc\2c d,ou=people");
        assert_eq!(Dn::parse(&printed).unwrap(), dn);

        let ber = Dn::parse("cn=#04024869,dc=example").unwrap();
        assert!(ber.rdns[0][0].hex);
        assert_eq!(ber.to_string(), "cn=#04024869,dc=example");
        let err = Dn::parse("cn=#=<c,dc=example").unwrap_err();
        assert!(err.to_string().contains("hex pairs"), "{err}");
    }

    #[test]
    fn parses_escapes_and_multi_valued_rdns() {
        let dn = Dn::parse(r"cn=Smith\, John+uid=js,ou=people,dc=example,dc=com").unwrap();
        assert_eq!(dn.rdns.len(), 4);
        assert_eq!(dn.rdns[0][0].value, "Smith, John");
        assert_eq!(dn.rdns[0][1].attribute, "uid");
        assert_eq!(dn.parent().to_string(), "ou=people,dc=example,dc=com");
        let hex = Dn::parse(r"cn=caf\C3\A9,dc=x").unwrap();
        assert_eq!(hex.rdns[0][0].value, "café");
        assert_eq!(Dn::parse("cn=a , dc=x").unwrap().rdns[0][0].value, "a");
        assert!(Dn::parse("cn=a,dc").is_err());
        assert!(Dn::parse(r"cn=a\").is_err());
        assert!(Dn::parse("cn=a;b,dc=x").is_err());
    }

    #[test]
    fn injection_payloads_stay_inside_their_value() {
        for payload in [
            "x,ou=admins",
            "x+cn=admin",
            "\\2C",
            " lead",
            "trail ",
            "#hash",
            "a=b",
            "quote\"d",
            "<angle>",
            "semi;colon",
            "nul\0",
        ] {
            let dn = format!("uid={},ou=people,dc=example,dc=com", escape_value(payload));
            let parsed = Dn::parse(&dn).unwrap();
            assert_eq!(parsed.rdns.len(), 4, "{payload:?} -> {dn}");
            assert_eq!(parsed.rdns[0].len(), 1, "{payload:?} -> {dn}");
            assert_eq!(parsed.rdns[0][0].value, payload, "{dn}");
        }
        assert_eq!(escape_filter("*)(uid=*"), r"\2a\29\28uid=\2a");
        assert_eq!(escape_filter("a\\b\0"), r"a\5cb\00");
    }

    #[test]
    fn compares_case_insensitively() {
        assert!(same_dn(
            "UID=Jo,OU=People,DC=Example,DC=com",
            "uid=jo,ou=people,dc=example,dc=com"
        ));
        assert!(same_dn(r"cn=a\,b,dc=x", r"cn=a\2cb,dc=x"));
        let child = Dn::parse("uid=a,ou=people,dc=example,dc=com").unwrap();
        assert!(child.is_within(&Dn::parse("DC=example,dc=COM").unwrap()));
        assert!(!child.is_within(&Dn::parse("ou=groups,dc=example,dc=com").unwrap()));
    }

    #[test]
    fn templates_escape_values() {
        let t = DnTemplate::new("uid={uid},ou=people,{partition}").unwrap();
        assert_eq!(t.placeholders().unwrap(), vec!["uid".to_string()]);
        let dn = t
            .render("dc=example,dc=com", |a| {
                (a == "uid").then(|| "x,ou=admins".into())
            })
            .unwrap();
        assert_eq!(dn, r"uid=x\2cou\3dadmins,ou=people,dc=example,dc=com");
        assert!(matches!(
            t.render("dc=x", |_| None),
            Err(TemplateError::Missing { .. })
        ));
        assert!(DnTemplate::new("uid={uid").is_err());
    }
}
