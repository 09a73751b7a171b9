//! Templates: text with `{placeholder}`s that name values of the flow's context, with an
//! optional JSON Pointer (`{response./items/0/id}`) and filter (`{response./items|len}`,
//! `{var.offset|add:100}`).
//! `{{` and `}}` are literal braces.

use std::fmt;

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Ref(Reference),
}

/// One placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub source: Source,
    /// A JSON Pointer into the source's value; a `*` segment maps over an array.
    pub pointer: Option<String>,
    pub filter: Option<Filter>,
}

/// What a placeholder names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `anchor` (the first anchor value) or `anchor.NAME`.
    Anchor(Option<String>),
    Dn,
    ObjectType,
    /// `attr.NAME`: the entry's value (an array when multi-valued, null when absent).
    Attr(String),
    Var(String),
    /// `param.NAME`: a connector parameter (never a secret one).
    Param(String),
    /// The body of the last response.
    Response,
    /// The status of the last response.
    Status,
    /// `steps.NAME`: the body of the named step's response.
    Step(String),
    /// A `for_each` loop variable.
    Item(String),
    PageSize,
    Watermark,
    Password,
    OldPassword,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// The length of an array or string.
    Len,
    /// The value as an integer (null counts as 0) plus this: offsets and page numbers.
    Add(i64),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed '{{' (write '{{{{' for a literal brace)")]
    Unclosed,
    #[error("'}}' without '{{' (write '}}}}' for a literal brace)")]
    StrayClose,
    #[error("empty placeholder '{{}}'")]
    Empty,
    #[error("unknown filter '|{0}' (known: len, add:N with N an integer)")]
    UnknownFilter(String),
    #[error("'{0}' needs a name after the dot, as in '{0}.NAME'")]
    MissingName(String),
    #[error("'{0}' is not a name (letters, digits, '_', '-' and ':')")]
    BadName(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::StrayClose),
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest.find('}').ok_or(TemplateError::Unclosed)?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Ref(Reference::parse(&rest[..end])?));
                    for _ in 0..rest[..=end].chars().count() {
                        chars.next();
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// The placeholder, when the template is exactly one (its value keeps its JSON type).
    pub fn single(&self) -> Option<&Reference> {
        match self.parts.as_slice() {
            [Part::Ref(r)] => Some(r),
            _ => None,
        }
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }
}

fn check_name(name: &str) -> Result<(), TemplateError> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ':'))
    {
        Ok(())
    } else {
        Err(TemplateError::BadName(name.to_string()))
    }
}

impl Reference {
    fn parse(inner: &str) -> Result<Self, TemplateError> {
        let inner = inner.trim();
        if inner.is_empty() {
            return Err(TemplateError::Empty);
        }
        let (inner, filter) = match inner.split_once('|') {
            Some((head, "len")) => (head, Some(Filter::Len)),
            Some((head, other)) => match other.strip_prefix("add:").map(|n| n.trim().parse()) {
                Some(Ok(n)) => (head, Some(Filter::Add(n))),
                _ => return Err(TemplateError::UnknownFilter(other.to_string())),
            },
            None => (inner, None),
        };
        let (head, pointer) = match inner.split_once("./") {
            Some((head, pointer)) => (head, Some(format!("/{pointer}"))),
            None => (inner, None),
        };
        let named = |prefix: &str, make: fn(String) -> Source| {
            let name = head
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('.'))
                .unwrap_or_default();
            if name.is_empty() {
                return Err(TemplateError::MissingName(prefix.to_string()));
            }
            check_name(name)?;
            Ok(make(name.to_string()))
        };
        let first = head.split('.').next().unwrap_or_default();
        let source = match (first, head.contains('.')) {
            ("anchor", false) => Source::Anchor(None),
            ("anchor", true) => named("anchor", |n| Source::Anchor(Some(n)))?,
            ("attr", _) => named("attr", Source::Attr)?,
            ("var", _) => named("var", Source::Var)?,
            ("param", _) => named("param", Source::Param)?,
            ("steps", _) => named("steps", Source::Step)?,
            ("dn", false) => Source::Dn,
            ("object_type", false) => Source::ObjectType,
            ("response", false) => Source::Response,
            ("status", false) => Source::Status,
            ("page_size", false) => Source::PageSize,
            ("watermark", false) => Source::Watermark,
            ("password", false) => Source::Password,
            ("old_password", false) => Source::OldPassword,
            _ => {
                check_name(head)?;
                Source::Item(head.to_string())
            }
        };
        Ok(Self {
            source,
            pointer,
            filter,
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Anchor(None) => f.write_str("anchor"),
            Source::Anchor(Some(n)) => write!(f, "anchor.{n}"),
            Source::Dn => f.write_str("dn"),
            Source::ObjectType => f.write_str("object_type"),
            Source::Attr(n) => write!(f, "attr.{n}"),
            Source::Var(n) => write!(f, "var.{n}"),
            Source::Param(n) => write!(f, "param.{n}"),
            Source::Response => f.write_str("response"),
            Source::Status => f.write_str("status"),
            Source::Step(n) => write!(f, "steps.{n}"),
            Source::Item(n) => f.write_str(n),
            Source::PageSize => f.write_str("page_size"),
            Source::Watermark => f.write_str("watermark"),
            Source::Password => f.write_str("password"),
            Source::OldPassword => f.write_str("old_password"),
        }
    }
}

/// Where an assignment (`set`, `save`) writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Var(String),
    /// An anchor value the service assigned (export flows).
    Anchor(String),
    /// The watermark for the next delta import.
    Watermark,
}

impl Target {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "'{text}' is not an assignment target (write var.NAME, anchor.NAME or watermark)"
            )
        };
        match text.split_once('.') {
            None if text == "watermark" => Ok(Target::Watermark),
            Some(("var", name)) => check_name(name)
                .map(|()| Target::Var(name.to_string()))
                .map_err(|_| bad()),
            Some(("anchor", name)) => check_name(name)
                .map(|()| Target::Anchor(name.to_string()))
                .map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(source: Source, pointer: Option<&str>) -> Part {
        Part::Ref(Reference {
            source,
            pointer: pointer.map(str::to_string),
            filter: None,
        })
    }

    #[test]
    fn placeholders_text_and_escapes() {
        let t = Template::parse("/api/users/{var.id}?x={{y}}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Text("/api/users/".into()),
                r(Source::Var("id".into()), None),
                Part::Text("?x={y}".into()),
            ]
        );
        let t = Template::parse("{steps.find./items/0/id}").unwrap();
        assert_eq!(
            t.single().unwrap(),
            &Reference {
                source: Source::Step("find".into()),
                pointer: Some("/items/0/id".into()),
                filter: None
            }
        );
        let t = Template::parse("{response./items|len}").unwrap();
        assert_eq!(t.single().unwrap().filter, Some(Filter::Len));
        let t = Template::parse("{var.offset|add:-25}").unwrap();
        assert_eq!(t.single().unwrap().filter, Some(Filter::Add(-25)));
        let t = Template::parse("{user./emails/*/value}").unwrap();
        assert_eq!(t.single().unwrap().source, Source::Item("user".into()));
        assert_eq!(
            Template::parse("é{anchor}").unwrap().parts,
            vec![Part::Text("é".into()), r(Source::Anchor(None), None)]
        );
    }

    #[test]
    fn bad_templates_say_why() {
        assert_eq!(Template::parse("{var.x"), Err(TemplateError::Unclosed));
        assert_eq!(Template::parse("a}"), Err(TemplateError::StrayClose));
        assert_eq!(Template::parse("{}"), Err(TemplateError::Empty));
        assert_eq!(
            Template::parse("{attr}"),
            Err(TemplateError::MissingName("attr".into()))
        );
        assert_eq!(
            Template::parse("{x|upper}"),
            Err(TemplateError::UnknownFilter("upper".into()))
        );
        assert_eq!(
            Template::parse("{x|add:one}"),
            Err(TemplateError::UnknownFilter("add:one".into()))
        );
        assert!(Target::parse("attr.x").is_err());
        assert_eq!(Target::parse("var.next"), Ok(Target::Var("next".into())));
    }
}
