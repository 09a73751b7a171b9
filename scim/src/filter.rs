//! RFC 7644 §3.4.2.2 filters: attribute paths, parsing a filter into an AST, rendering it back,
//! and evaluating it against a SCIM resource held as JSON.
//!
//! The parser is a small hand-written lexer plus a recursive-descent parser with the precedence
//! `not` > `and` > `or`. It also owns the `attrPath "[" valFilter "]" ["." subAttr]` syntax that
//! PATCH paths reuse (see [`crate::patch`]), so both agree on URN handling.
//!
//! Attribute paths follow one project-specific rule on top of the RFC: below the ECMA2Host extension
//! URN ([`crate::wire::ECMA_EXTENSION_PREFIX`]) attribute names are connector attribute names, which
//! may contain `.`, so the whole remainder after the last `:` is the name and there is no
//! sub-attribute. They may contain `[...]` too (`Phone[2]`): brackets after such a name belong to
//! the name unless what they hold parses as a value filter (`Tags[value eq "x"]`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

use crate::json::{get_ci, is_core_urn, is_ecma_urn, names_eq};
use crate::wire::ScimType;

/// Nesting of parentheses / `not` beyond this is refused so a hostile filter cannot exhaust the
/// stack of the parser (or of evaluation, which recurses over the same tree).
const MAX_DEPTH: usize = 64;
/// Comparisons per filter. Long `and`/`or` chains parse iteratively but build a deep tree, which
/// evaluation and `Drop` walk recursively; this keeps that depth bounded.
const MAX_TERMS: usize = 1000;

/// `[urn ":"] name ["." subAttr]`, compared case-insensitively.
///
/// Below the ECMA2Host extension URN, `name` is the connector attribute name verbatim (it may
/// contain `.`) and `sub_attr` is always `None`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path to a core (top-level) attribute without URN or sub-attribute.
    pub fn simple(name: impl Into<String>) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// Parses `[URI ":"] ATTRNAME ["." subAttr]` (no value filter; see [`parse_filter`] for those).
    pub fn parse(s: &str) -> Result<AttrPath, FilterError> {
        parse_attr_path(s, 0)
    }

    /// Same attribute ignoring case. A core-schema URN counts as no URN, because core attributes
    /// are addressed identically with or without it
    /// (`urn:ietf:params:scim:schemas:core:2.0:User:userName` is `userName`).
    pub fn matches_name(&self, other: &AttrPath) -> bool {
        let urn_eq = match (self.effective_urn(), other.effective_urn()) {
            (None, None) => true,
            (Some(a), Some(b)) => names_eq(a, b),
            _ => false,
        };
        let sub_eq = match (&self.sub_attr, &other.sub_attr) {
            (None, None) => true,
            (Some(a), Some(b)) => names_eq(a, b),
            _ => false,
        };
        urn_eq && sub_eq && names_eq(&self.name, &other.name)
    }

    /// The URN unless it is a core-schema URN (whose attributes live at the top level).
    pub fn effective_urn(&self) -> Option<&str> {
        self.urn.as_deref().filter(|urn| !is_core_urn(urn))
    }

    /// The full path of `inner` (a path inside a value filter, relative to this multi-valued
    /// attribute), e.g. `emails` + `type` -> `emails.type`.
    pub fn child(&self, inner: &AttrPath) -> AttrPath {
        AttrPath {
            urn: self.urn.clone(),
            name: self.name.clone(),
            sub_attr: Some(inner.name.clone()),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator for a filter keyword, ignoring case (`EQ`, `eq`, ...); `pr` is not a
    /// comparison and gives `None`.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const OPS: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        OPS.iter()
            .find(|(kw, _)| kw.eq_ignore_ascii_case(word))
            .map(|(_, op)| *op)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed filter. Inside `ValuePath`, paths in `filter` are relative to `path` (e.g. `type` in
/// `emails[type eq "work"]`). Entra's `emails[type eq "work"].value eq "x"` is represented as
/// `ValuePath { emails, And(type eq "work", value eq "x") }`: one element must satisfy both.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter: {0}")]
pub struct FilterError(pub String);

impl FilterError {
    /// RFC 7644 §3.12: a filter that cannot be parsed is `invalidFilter`.
    pub fn scim_type(&self) -> ScimType {
        ScimType::InvalidFilter
    }
}

/// Parses a complete RFC 7644 §3.4.2.2 filter.
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Err(FilterError("the filter is empty".into()));
    }
    let mut parser = Parser::new(&tokens, input);
    let filter = parser.parse_or()?;
    if let Some(tok) = parser.peek() {
        return Err(FilterError(format!(
            "unexpected {} at position {} after a complete filter",
            tok.tok.describe(),
            tok.pos
        )));
    }
    Ok(filter)
}

/// Parses a PATCH path: `attrPath ["[" valFilter "]" ["." subAttr]]`. Returns the attribute, the
/// value filter and the sub-attribute that follows `]`.
pub(crate) fn parse_value_path(
    input: &str,
) -> Result<(AttrPath, Option<Filter>, Option<String>), FilterError> {
    let tokens = lex(input)?;
    let mut parser = Parser::new(&tokens, input);
    let Some(first) = parser.peek() else {
        return Err(FilterError("the path is empty".into()));
    };
    let Tok::Word(word) = &first.tok else {
        return Err(FilterError(format!(
            "expected an attribute path at position {}, found {}",
            first.pos,
            first.tok.describe()
        )));
    };
    let attr = parse_attr_path(word, first.pos)?;
    parser.i += 1;
    let mut filter = None;
    let mut sub_attr = None;
    if matches!(
        parser.peek(),
        Some(Token {
            tok: Tok::LBracket,
            ..
        })
    ) {
        filter = Some(parser.parse_bracket(&attr)?);
        sub_attr = parser.parse_dot_sub_attr()?;
    }
    if let Some(tok) = parser.peek() {
        return Err(FilterError(format!(
            "unexpected {} at position {}",
            tok.tok.describe(),
            tok.pos
        )));
    }
    Ok((attr, filter, sub_attr))
}

/// `ATTRNAME = ALPHA *(nameChar)`, plus a leading `$` for RFC 7643's `$ref`.
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Connector attribute names under the ECMA2Host URN are taken verbatim; only characters that
/// would make the filter or path ambiguous are refused.
fn is_ecma_attr_name(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"' | ':'))
}

/// Whether `word` (a path being lexed) names an ECMA2Host extension attribute, whose name may
/// go on with brackets.
fn is_ecma_word(word: &str) -> bool {
    word.get(..crate::wire::ECMA_EXTENSION_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(crate::wire::ECMA_EXTENSION_PREFIX))
        && word
            .rfind(':')
            .is_some_and(|i| i >= crate::wire::ECMA_EXTENSION_PREFIX.len())
}

fn parse_attr_path(s: &str, pos: usize) -> Result<AttrPath, FilterError> {
    let bad = |why: &str| {
        FilterError(format!(
            "invalid attribute path '{s}' at position {pos}: {why}"
        ))
    };
    if s.is_empty() {
        return Err(bad("it is empty"));
    }
    // The URN itself contains ':' and '.', so it ends at the LAST ':'; only then is the remainder
    // split into name and sub-attribute.
    let (urn, rest) = match s.rfind(':') {
        Some(i) => {
            let urn = s.get(..i).unwrap_or_default();
            let rest = s.get(i + 1..).unwrap_or_default();
            if urn.is_empty() || rest.is_empty() {
                return Err(bad(
                    "a URN-qualified path needs a URN and an attribute name around the last ':'",
                ));
            }
            if is_ecma_urn(s) {
                if !is_ecma_attr_name(rest) {
                    return Err(bad("invalid extension attribute name"));
                }
                return Ok(AttrPath {
                    urn: Some(urn.to_owned()),
                    name: rest.to_owned(),
                    sub_attr: None,
                });
            }
            (Some(urn.to_owned()), rest)
        }
        None => (None, s),
    };
    let (name, sub_attr) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(name) {
        return Err(bad(&format!(
            "'{name}' is not an attribute name (a letter followed by letters, digits, '-' or '_')"
        )));
    }
    if let Some(sub) = sub_attr {
        if !is_attr_name(sub) {
            return Err(bad(&format!(
                "'{sub}' is not a sub-attribute name (only one '.' level is allowed)"
            )));
        }
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub_attr: sub_attr.map(str::to_owned),
    })
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// Anything unquoted: attribute paths, keywords, operators, numbers, `true`/`false`/`null`.
    Word(String),
    /// A JSON string literal, already unescaped.
    Str(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(s) => format!("string {}", Value::String(s.clone())),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Character (not byte) offset in the input, for error messages.
    pos: usize,
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().enumerate().peekable();
    while let Some(&(pos, (start, c))) = chars.peek() {
        let tok = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                }
            }
            '"' => {
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (_, (i, c)) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let Some(end) = end else {
                    return Err(FilterError(format!(
                        "unterminated string starting at position {pos}"
                    )));
                };
                // The scanned slice is a JSON string literal; let serde_json apply the escapes.
                let literal = input.get(start..=end).unwrap_or_default();
                let text: String = serde_json::from_str(literal)
                    .map_err(|e| FilterError(format!("invalid string at position {pos}: {e}")))?;
                Tok::Str(text)
            }
            _ => {
                let mut end = input.len();
                while let Some(&(_, (i, c))) = chars.peek() {
                    if c == '[' && is_ecma_word(input.get(start..i).unwrap_or_default()) {
                        // `...:User:Phone[2]`: the brackets are part of the connector attribute
                        // name unless they hold a value filter.
                        let close = input.get(i..).and_then(|r| r.find(']')).map(|j| i + j);
                        let inner = close.and_then(|j| input.get(i + 1..j));
                        if let (Some(close), Some(inner)) = (close, inner) {
                            if parse_filter(inner).is_err() {
                                while chars.peek().is_some_and(|&(_, (k, _))| k <= close) {
                                    chars.next();
                                }
                                continue;
                            }
                        }
                    }
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                Tok::Word(input.get(start..end).unwrap_or_default().to_owned())
            }
        };
        tokens.push(Token { tok, pos });
    }
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'t> {
    tokens: &'t [Token],
    i: usize,
    depth: usize,
    terms: usize,
    in_brackets: bool,
    /// Position reported for "unexpected end" errors.
    end_pos: usize,
}

impl<'t> Parser<'t> {
    fn new(tokens: &'t [Token], input: &str) -> Self {
        Parser {
            tokens,
            i: 0,
            depth: 0,
            terms: 0,
            in_brackets: false,
            end_pos: input.chars().count(),
        }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.i)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(keyword))
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.peek_keyword("or") {
            self.i += 1;
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.peek_keyword("and") {
            self.i += 1;
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().map_or(self.end_pos, |t| t.pos);
            return Err(FilterError(format!(
                "nesting deeper than {MAX_DEPTH} levels at position {pos}"
            )));
        }
        let result = self.parse_unary_inner();
        self.depth -= 1;
        result
    }

    fn parse_unary_inner(&mut self) -> Result<Filter, FilterError> {
        let Some(tok) = self.peek() else {
            return Err(FilterError(format!(
                "unexpected end of filter at position {}: expected an attribute path, '(' or 'not'",
                self.end_pos
            )));
        };
        match &tok.tok {
            Tok::LParen => {
                self.i += 1;
                let inner = self.parse_or()?;
                self.expect(&Tok::RParen, tok.pos, "'('")?;
                Ok(inner)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && self.not_is_keyword() => {
                self.i += 1;
                Ok(Filter::Not(Box::new(self.parse_unary()?)))
            }
            Tok::Word(w) => {
                self.i += 1;
                let path = parse_attr_path(w, tok.pos)?;
                if matches!(
                    self.peek(),
                    Some(Token {
                        tok: Tok::LBracket,
                        ..
                    })
                ) {
                    let mut filter = self.parse_bracket(&path)?;
                    // Entra's `emails[type eq "work"].value eq "x"`: the trailing comparison must hold
                    // for the same element as the bracketed filter, so it joins the element filter.
                    let sub_pos = self.peek().map_or(self.end_pos, |t| t.pos);
                    if let Some(sub) = self.parse_dot_sub_attr()? {
                        let cond = self.parse_condition(AttrPath::simple(sub), sub_pos)?;
                        filter = Filter::And(Box::new(filter), Box::new(cond));
                    }
                    return Ok(Filter::ValuePath {
                        path,
                        filter: Box::new(filter),
                    });
                }
                self.parse_condition(path, tok.pos)
            }
            other => Err(FilterError(format!(
                "unexpected {} at position {}: expected an attribute path, '(' or 'not'",
                other.describe(),
                tok.pos
            ))),
        }
    }

    /// `not` is only the operator when it cannot be an attribute named "not": i.e. unless an
    /// operator follows it (`not pr`, `not eq 1`).
    fn not_is_keyword(&self) -> bool {
        match self.tokens.get(self.i + 1) {
            Some(Token {
                tok: Tok::Word(w), ..
            }) => !(w.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(w).is_some()),
            _ => true,
        }
    }

    fn expect(&mut self, want: &Tok, open_pos: usize, open: &str) -> Result<(), FilterError> {
        match self.peek() {
            Some(tok) if tok.tok == *want => {
                self.i += 1;
                Ok(())
            }
            Some(tok) => Err(FilterError(format!(
                "expected {} to close {open} at position {open_pos}, found {} at position {}",
                want.describe(),
                tok.tok.describe(),
                tok.pos
            ))),
            None => Err(FilterError(format!(
                "missing {} to close {open} at position {open_pos}",
                want.describe()
            ))),
        }
    }

    /// `"[" valFilter "]"` after `path`; the current token is the `[`.
    fn parse_bracket(&mut self, path: &AttrPath) -> Result<Filter, FilterError> {
        let open_pos = self.peek().map_or(self.end_pos, |t| t.pos);
        if self.in_brackets {
            return Err(FilterError(format!(
                "nested value filter '[' at position {open_pos} is not allowed"
            )));
        }
        if path.sub_attr.is_some() {
            return Err(FilterError(format!(
                "a value filter '[' (position {open_pos}) must follow a multi-valued attribute, not the sub-attribute '{path}'"
            )));
        }
        self.i += 1;
        self.in_brackets = true;
        let inner = self.parse_or();
        self.in_brackets = false;
        let inner = inner?;
        self.expect(&Tok::RBracket, open_pos, "'['")?;
        Ok(inner)
    }

    /// An optional `.subAttr` right after `]`.
    fn parse_dot_sub_attr(&mut self) -> Result<Option<String>, FilterError> {
        let Some(Token {
            tok: Tok::Word(w),
            pos,
        }) = self.peek()
        else {
            return Ok(None);
        };
        let Some(sub) = w.strip_prefix('.') else {
            return Ok(None);
        };
        if !is_attr_name(sub) {
            return Err(FilterError(format!(
                "invalid sub-attribute '{w}' at position {pos}"
            )));
        }
        self.i += 1;
        Ok(Some(sub.to_owned()))
    }

    /// `path pr` or `path op value`; `path_pos` is where the path started.
    fn parse_condition(&mut self, path: AttrPath, path_pos: usize) -> Result<Filter, FilterError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(FilterError(format!(
                "more than {MAX_TERMS} comparisons (at position {path_pos})"
            )));
        }
        let Some(tok) = self.peek() else {
            return Err(FilterError(format!(
                "missing operator after '{path}' (position {path_pos}) at the end of the filter"
            )));
        };
        let Tok::Word(word) = &tok.tok else {
            return Err(FilterError(format!(
                "expected an operator after '{path}', found {} at position {}",
                tok.tok.describe(),
                tok.pos
            )));
        };
        if word.eq_ignore_ascii_case("pr") {
            self.i += 1;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            return Err(FilterError(format!(
                "unknown operator '{word}' at position {} (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)",
                tok.pos
            )));
        };
        self.i += 1;
        let value = self.parse_comp_value(op, tok.pos)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `compValue = false / null / true / number / string`.
    fn parse_comp_value(&mut self, op: CompareOp, op_pos: usize) -> Result<Value, FilterError> {
        let missing = || {
            FilterError(format!(
                "missing value after operator '{op}' at position {op_pos}"
            ))
        };
        let Some(tok) = self.peek() else {
            return Err(missing());
        };
        let value = match &tok.tok {
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Value::Null,
            Tok::Word(w) => match serde_json::from_str::<Value>(w) {
                Ok(number @ Value::Number(_)) => number,
                _ => {
                    return Err(FilterError(format!(
                        "invalid value '{w}' at position {}: expected a quoted string, a number, true, false or null",
                        tok.pos
                    )))
                }
            },
            _ => return Err(missing()),
        };
        self.i += 1;
        Ok(value)
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

impl fmt::Display for Filter {
    /// Renders a filter that parses back to the same tree; parentheses are added only where
    /// precedence or associativity needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::And(a, b) => write_binary(f, a, "and", b, 2),
            Filter::Or(a, b) => write_binary(f, a, "or", b, 1),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn precedence(filter: &Filter) -> u8 {
    match filter {
        Filter::Or(..) => 1,
        Filter::And(..) => 2,
        _ => 3,
    }
}

fn write_binary(
    f: &mut fmt::Formatter<'_>,
    a: &Filter,
    kw: &str,
    b: &Filter,
    prec: u8,
) -> fmt::Result {
    // Parsing is left-associative, so a right operand of equal precedence needs parentheses.
    if precedence(a) < prec {
        write!(f, "({a})")?;
    } else {
        write!(f, "{a}")?;
    }
    write!(f, " {kw} ")?;
    if precedence(b) <= prec {
        write!(f, "({b})")
    } else {
        write!(f, "{b}")
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

impl Filter {
    /// Evaluates the filter against a SCIM resource (a JSON object). `case_exact` says, per
    /// attribute path as written in the filter (paths inside a value filter are passed joined to
    /// their parent, e.g. `emails.type`), whether string comparisons are case-sensitive.
    pub fn matches(&self, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
        match self {
            Filter::Present(path) => attr_values(resource, path).into_iter().any(is_present),
            Filter::Compare { path, op, value } => {
                let candidates = comparable_values(resource, path);
                if candidates.is_empty() {
                    // An absent attribute is "not equal" to anything, and nothing else.
                    return *op == CompareOp::Ne;
                }
                let exact = case_exact(path);
                candidates
                    .into_iter()
                    .any(|candidate| compare(candidate, *op, value, exact))
            }
            Filter::And(a, b) => a.matches(resource, case_exact) && b.matches(resource, case_exact),
            Filter::Or(a, b) => a.matches(resource, case_exact) || b.matches(resource, case_exact),
            Filter::Not(inner) => !inner.matches(resource, case_exact),
            Filter::ValuePath { path, filter } => {
                let inner_exact = |inner: &AttrPath| case_exact(&path.child(inner));
                attr_values(resource, path)
                    .into_iter()
                    .any(|value| match value {
                        Value::Array(items) => items
                            .iter()
                            .any(|item| element_matches(filter, item, &inner_exact)),
                        other => element_matches(filter, other, &inner_exact),
                    })
            }
        }
    }

    /// The `eq` comparisons that must all hold for the filter to match (those ANDed at the top
    /// level), so a caller can narrow candidates with an index before evaluating the whole filter.
    /// `a eq 1 and (b eq 2 or c eq 3)` gives only `a`.
    pub fn equality_terms(&self) -> Vec<(&AttrPath, &Value)> {
        let mut terms = Vec::new();
        let mut stack = vec![self];
        while let Some(filter) = stack.pop() {
            match filter {
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value,
                } => terms.push((path, value)),
                Filter::And(a, b) => {
                    // Pushed right first so terms come out in filter order.
                    stack.push(b);
                    stack.push(a);
                }
                _ => {}
            }
        }
        terms
    }
}

/// Evaluates a value filter against one element of a multi-valued attribute. A primitive element
/// is seen as `{"value": element}`, which is how RFC 7643 names the value of simple multi-valued
/// attributes.
pub(crate) fn element_matches(
    filter: &Filter,
    element: &Value,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    match element {
        Value::Object(_) => filter.matches(element, case_exact),
        other => {
            let mut wrapped = Map::new();
            wrapped.insert("value".into(), other.clone());
            filter.matches(&Value::Object(wrapped), case_exact)
        }
    }
}

/// The attribute named by `path.urn` + `path.name`: under the extension object when the resource
/// has one for that URN, otherwise at the top level (where core attributes live).
pub(crate) fn lookup_attr<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    if let Some(urn) = &path.urn {
        if let Some(Value::Object(ext)) = get_ci(obj, urn) {
            return get_ci(ext, &path.name);
        }
    }
    get_ci(obj, &path.name)
}

/// The raw values `path` designates: the attribute itself, or its sub-attribute in the object or
/// in each object element of an array.
fn attr_values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = lookup_attr(resource, path) else {
        return Vec::new();
    };
    let Some(sub) = &path.sub_attr else {
        return vec![top];
    };
    match top {
        Value::Object(map) => get_ci(map, sub).into_iter().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| item.as_object().and_then(|m| get_ci(m, sub)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The scalar values a comparison is tried against: arrays are flattened (any element may match)
/// and a complex value stands for its `value` sub-attribute.
pub(crate) fn comparable_values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    fn scalar(value: &Value) -> Option<&Value> {
        match value {
            Value::Object(map) => get_ci(map, "value"),
            other => Some(other),
        }
    }
    let mut out = Vec::new();
    for value in attr_values(resource, path) {
        match value {
            Value::Array(items) => out.extend(items.iter().filter_map(scalar)),
            other => out.extend(scalar(other)),
        }
    }
    out
}

/// `pr`: present and not null, "", [] or {}.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

fn fold(s: &str, exact: bool) -> std::borrow::Cow<'_, str> {
    if exact {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    match op {
        CompareOp::Eq => values_equal(actual, expected, exact),
        CompareOp::Ne => !values_equal(actual, expected, exact),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let (Value::String(a), Value::String(e)) = (actual, expected) else {
                return false;
            };
            let (a, e) = (fold(a, exact), fold(e, exact));
            match op {
                CompareOp::Co => a.contains(e.as_ref()),
                CompareOp::Sw => a.starts_with(e.as_ref()),
                _ => a.ends_with(e.as_ref()),
            }
        }
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let Some(ordering) = order(actual, expected, exact) else {
                return false;
            };
            match op {
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
                CompareOp::Lt => ordering == Ordering::Less,
                _ => ordering != Ordering::Greater,
            }
        }
    }
}

fn values_equal(a: &Value, b: &Value, exact: bool) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => {
            if exact {
                a == b
            } else {
                names_eq(a, b)
            }
        }
        (Value::Number(_), Value::Number(_)) => order(a, b, exact) == Some(Ordering::Equal),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

/// Ordering for gt/ge/lt/le: numbers numerically, strings lexicographically (so ISO 8601
/// timestamps in the same format order by time); anything else is unordered.
fn order(a: &Value, b: &Value, exact: bool) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            // Integers are compared exactly; f64 would lose precision above 2^53.
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(fold(x, exact).cmp(&fold(y, exact))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const ECMA_USER: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

    fn p(s: &str) -> Filter {
        match parse_filter(s) {
            Ok(f) => f,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn path(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    fn cmp(path_s: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: path(path_s),
            op,
            value,
        }
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn err(s: &str) -> String {
        match parse_filter(s) {
            Ok(f) => panic!("{s:?} should not parse, got {f:?}"),
            Err(e) => e.0,
        }
    }

    fn no_case(_: &AttrPath) -> bool {
        false
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, ECMA_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "bjensen-ext",
            "userName": "bjensen",
            "name": {"familyName": "O'Malley", "givenName": "Barbara"},
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "loginCount": 42,
            "nickName": "",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "ims": [{"value": "babs@foo.com", "type": "xmpp"}],
            "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
            ENTERPRISE: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
            },
            ECMA_USER: {"Dept.Code": "SAL-1", "Department": "Sales", "Phone[2]": "555", "Tags": ["a", "b"]}
        })
    }

    fn eval(s: &str, resource: &Value) -> bool {
        p(s).matches(resource, &no_case)
    }

    /// Every example filter of RFC 7644 §3.4.2.2 with whether it matches `user()`.
    const RFC_EXAMPLES: &[(&str, bool)] = &[
        (r#"userName eq "bjensen""#, true),
        (r#"name.familyName co "O'Malley""#, true),
        (r#"userName sw "J""#, false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            false,
        ),
        ("title pr", true),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr or userType eq "Intern""#, true),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            true,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            true,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
    ];

    #[test]
    fn rfc_examples_parse_and_evaluate() {
        let resource = user();
        for (s, expected) in RFC_EXAMPLES {
            assert_eq!(eval(s, &resource), *expected, "{s}");
        }
    }

    #[test]
    fn rfc_examples_have_the_expected_shape() {
        assert_eq!(
            p(r#"userName eq "bjensen""#),
            cmp("userName", CompareOp::Eq, json!("bjensen"))
        );
        assert_eq!(
            p(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#),
            Filter::Compare {
                path: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    name: "userName".into(),
                    sub_attr: None
                },
                op: CompareOp::Sw,
                value: json!("J")
            }
        );
        assert_eq!(p("title pr"), Filter::Present(AttrPath::simple("title")));
        assert_eq!(
            p(
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#
            ),
            and(
                cmp("userType", CompareOp::Ne, json!("Employee")),
                not(or(
                    cmp("emails", CompareOp::Co, json!("example.com")),
                    cmp("emails.value", CompareOp::Co, json!("example.org"))
                ))
            )
        );
        assert_eq!(
            p(
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#
            ),
            or(
                Filter::ValuePath {
                    path: path("emails"),
                    filter: Box::new(and(
                        cmp("type", CompareOp::Eq, json!("work")),
                        cmp("value", CompareOp::Co, json!("@example.com"))
                    ))
                },
                Filter::ValuePath {
                    path: path("ims"),
                    filter: Box::new(and(
                        cmp("type", CompareOp::Eq, json!("xmpp")),
                        cmp("value", CompareOp::Co, json!("@foo.com"))
                    ))
                }
            )
        );
    }

    #[test]
    fn rendering_round_trips() {
        let extra = [
            "a pr or b pr and c pr",
            "(a pr or b pr) and c pr",
            "a pr and (b pr and c pr)",
            "a pr or (b pr or c pr)",
            "not (not (a pr))",
            r#"emails[type eq "work"].value eq "x\"y""#,
            "x gt 1.5 and y le -3 and z eq null and w eq true",
        ];
        for s in RFC_EXAMPLES.iter().map(|(s, _)| *s).chain(extra) {
            let parsed = p(s);
            assert_eq!(p(&parsed.to_string()), parsed, "{s} rendered as {parsed}");
        }
        assert_eq!(
            p("a pr or (b pr or c pr)").to_string(),
            "a pr or (b pr or c pr)"
        );
        assert_eq!(p(r#"A EQ "x""#).to_string(), r#"A eq "x""#);
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let (a, b, c) = (
            Filter::Present(path("a")),
            Filter::Present(path("b")),
            Filter::Present(path("c")),
        );
        assert_eq!(
            p("a pr or b pr and c pr"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            p("a pr and b pr or c pr"),
            or(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            p("(a pr or b pr) and c pr"),
            and(or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(p("not (a pr) and b pr"), and(not(a.clone()), b.clone()));
        assert_eq!(
            p("not (a pr or b pr) or c pr"),
            or(not(or(a.clone(), b.clone())), c.clone())
        );
        assert_eq!(
            p("a pr or b pr or c pr"),
            or(or(a.clone(), b.clone()), c.clone())
        );
        // RFC 7644 requires "not" to be followed by a parenthesis; the bare form is accepted too.
        assert_eq!(p("not a pr and b pr"), and(not(a.clone()), b.clone()));
        // Behavior agrees with the shape.
        let r = json!({"a": 1, "c": 1});
        assert!(eval("a pr or b pr and c pr", &r));
        assert!(!eval("(a pr or b pr) and b pr", &r));
        assert!(eval("a pr and not (b pr)", &r));
    }

    #[test]
    fn keywords_and_operators_are_case_insensitive() {
        assert_eq!(
            p(r#"userName EQ "x" AND Not (title PR) Or active Eq TRUE"#),
            or(
                and(
                    cmp("userName", CompareOp::Eq, json!("x")),
                    not(Filter::Present(path("title")))
                ),
                cmp("active", CompareOp::Eq, json!(true))
            )
        );
        for (word, op) in [
            ("eq", CompareOp::Eq),
            ("NE", CompareOp::Ne),
            ("Co", CompareOp::Co),
            ("sW", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("GT", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lT", CompareOp::Lt),
            ("LE", CompareOp::Le),
        ] {
            assert_eq!(p(&format!("x {word} 1")), cmp("x", op, json!(1)));
        }
    }

    #[test]
    fn comp_values_are_json() {
        assert_eq!(p("a eq false"), cmp("a", CompareOp::Eq, json!(false)));
        assert_eq!(p("a eq Null"), cmp("a", CompareOp::Eq, Value::Null));
        assert_eq!(p("a ge -12.5e1"), cmp("a", CompareOp::Ge, json!(-125.0)));
        assert_eq!(p("a eq 7"), cmp("a", CompareOp::Eq, json!(7)));
        assert_eq!(
            p(r#"a eq "tab\t quote\" uni\u00e9 slash\/""#),
            cmp("a", CompareOp::Eq, json!("tab\t quote\" uni\u{e9} slash/"))
        );
        assert_eq!(
            p(r#"a eq "pa(r)en [x] and or""#),
            cmp("a", CompareOp::Eq, json!("pa(r)en [x] and or"))
        );
    }

    #[test]
    fn entra_filters() {
        assert_eq!(
            p(r#"userName eq "7a3d1f2e-5c4b-4d3a-9e8f-0a1b2c3d4e5f""#),
            cmp(
                "userName",
                CompareOp::Eq,
                json!("7a3d1f2e-5c4b-4d3a-9e8f-0a1b2c3d4e5f")
            )
        );
        assert_eq!(
            p(r#"externalId eq "x""#),
            cmp("externalId", CompareOp::Eq, json!("x"))
        );
        // Group membership probe.
        let group = json!({"id": "g1", "displayName": "Sales", "members": [{"value": "u1"}, {"value": "u2"}]});
        assert!(eval(r#"id eq "g1" and members[value eq "u2"]"#, &group));
        assert!(!eval(r#"id eq "g1" and members[value eq "u3"]"#, &group));
        assert!(eval(r#"members eq "u1""#, &group));
        assert!(eval(r#"displayName eq "sales""#, &group));
    }

    #[test]
    fn entra_value_path_with_trailing_comparison() {
        assert_eq!(
            p(r#"emails[type eq "work"].value eq "x""#),
            Filter::ValuePath {
                path: path("emails"),
                filter: Box::new(and(
                    cmp("type", CompareOp::Eq, json!("work")),
                    cmp("value", CompareOp::Eq, json!("x"))
                ))
            }
        );
        let r = user();
        assert!(eval(
            r#"emails[type eq "work"].value eq "bjensen@example.com""#,
            &r
        ));
        // Same element must satisfy both: the work address is not babs@jensen.org.
        assert!(!eval(
            r#"emails[type eq "work"].value eq "babs@jensen.org""#,
            &r
        ));
        assert!(eval(
            r#"emails[type eq "home"].value pr and userName eq "bjensen""#,
            &r
        ));
    }

    #[test]
    fn urn_paths() {
        assert_eq!(
            path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            AttrPath {
                urn: Some(ENTERPRISE.into()),
                name: "manager".into(),
                sub_attr: Some("value".into())
            }
        );
        assert_eq!(
            path("urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:Dept.Code"),
            AttrPath {
                urn: Some(ECMA_USER.into()),
                name: "Dept.Code".into(),
                sub_attr: None
            }
        );
        assert_eq!(
            path("urn:ietf:params:scim:schemas:extension:ecma2host:2.0:Group:a.b.c"),
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:ecma2host:2.0:Group".into()),
                name: "a.b.c".into(),
                sub_attr: None
            }
        );
        let r = user();
        assert!(eval(
            &format!(r#"{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            &r
        ));
        assert!(eval(
            &format!(r#"{ENTERPRISE}:manager eq "26118915-6090-4610-87e4-49d8ca9f808D""#),
            &r
        ));
        assert!(eval(
            &format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#),
            &r
        ));
        assert!(eval(&format!(r#"{ECMA_USER}:Dept.Code eq "sal-1""#), &r));
        assert!(eval(&format!(r#"{ECMA_USER}:dept.code sw "SAL""#), &r));
        // Brackets that hold no filter are part of a connector attribute name.
        assert!(eval(&format!(r#"{ECMA_USER}:Phone[2] eq "555""#), &r));
        assert!(eval(
            &format!(r#"({ECMA_USER}:Phone[2] eq "555") and {ECMA_USER}:Phone[2] pr"#),
            &r
        ));
        assert_eq!(
            parse_filter(&format!(r#"{ECMA_USER}:Phone[2] eq "555""#))
                .unwrap()
                .to_string(),
            format!(r#"{ECMA_USER}:Phone[2] eq "555""#)
        );
        // A filter inside the brackets is a value filter, as for any multi-valued attribute.
        assert!(eval(&format!(r#"{ECMA_USER}:Tags[value eq "b"]"#), &r));
        assert!(!eval(&format!("{ECMA_USER}:Dept pr"), &r));
        // Core URN paths and URN keys are case-insensitive; with no object under the URN the
        // attribute is looked up at the top level.
        assert!(eval(
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq "BJENSEN""#,
            &r
        ));
        assert!(eval(
            &format!(
                r#"{}:employeeNumber eq "701984""#,
                ENTERPRISE.to_uppercase()
            ),
            &r
        ));
        let flat = json!({"manager": "m1"});
        assert!(eval(&format!(r#"{ENTERPRISE}:manager eq "m1""#), &flat));
    }

    #[test]
    fn attr_path_parse_display_and_names() {
        for s in [
            "userName",
            "name.givenName",
            "members.$ref",
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User:Dept.Code",
        ] {
            assert_eq!(path(s).to_string(), s);
        }
        assert!(path("UserName").matches_name(&path("userName")));
        assert!(path("urn:ietf:params:scim:schemas:core:2.0:User:userName")
            .matches_name(&path("username")));
        assert!(
            path(&format!("{ENTERPRISE}:Manager.Value")).matches_name(&path(&format!(
                "{}:manager.value",
                ENTERPRISE.to_lowercase()
            )))
        );
        assert!(!path("name").matches_name(&path("name.givenName")));
        assert!(!path(&format!("{ENTERPRISE}:manager")).matches_name(&path("manager")));
        for bad in [
            "", "1abc", "a.b.c", "name.", ".name", "a b", ":x", "urn:x:", "a-é",
        ] {
            assert!(AttrPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn malformed_filters_are_rejected_with_location() {
        let cases = [
            (r#"(userName eq "x""#, "missing ')'"),
            (r#"userName eq "x")"#, "unexpected ')' at position 15"),
            ("userName eq", "missing value after operator 'eq'"),
            (
                "userName eq )",
                "missing value after operator 'eq' at position 9",
            ),
            (r#"userName xx "x""#, "unknown operator 'xx' at position 9"),
            (
                r#"userName eq "x" garbage"#,
                "unexpected 'garbage' at position 16",
            ),
            (
                r#"userName eq "x"#,
                "unterminated string starting at position 12",
            ),
            (
                "userName eq bjensen",
                "invalid value 'bjensen' at position 12",
            ),
            ("userName", "missing operator after 'userName'"),
            ("", "empty"),
            ("   ", "empty"),
            (r#"userName eq "x" and"#, "unexpected end of filter"),
            (r#"emails[type eq "work""#, "missing ']'"),
            (r#"emails[type eq "work")"#, "expected ']'"),
            (r#"emails[type[value eq "x"] pr]"#, "nested value filter"),
            (
                r#"name.givenName[value eq "x"]"#,
                "must follow a multi-valued attribute",
            ),
            (r#"a eq "bad \q escape""#, "invalid string at position 5"),
            (r#""x" eq "y""#, "expected an attribute path"),
            ("1abc pr", "invalid attribute path '1abc' at position 0"),
            ("a eq 01", "invalid value '01'"),
            ("()", "unexpected ')'"),
            (
                r#"emails[type eq "work"].value"#,
                "missing operator after 'value'",
            ),
            (
                r#"emails[type eq "work"].9 eq "x""#,
                "invalid sub-attribute '.9'",
            ),
        ];
        for (input, needle) in cases {
            let msg = err(input);
            assert!(
                msg.contains(needle),
                "{input:?}: {msg:?} should contain {needle:?}"
            );
        }
        assert_eq!(
            parse_filter("x eq").unwrap_err().to_string(),
            "invalid filter: missing value after operator 'eq' at position 2"
        );
        assert_eq!(FilterError("x".into()).scim_type(), ScimType::InvalidFilter);
    }

    #[test]
    fn hostile_nesting_is_refused_not_overflowing() {
        let deep = format!("{}a pr{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(err(&deep).contains("nesting deeper"));
        let nots = format!("{}(a pr)", "not ".repeat(10_000));
        assert!(err(&nots).contains("nesting deeper"));
        let long = vec!["a pr"; 5000].join(" or ");
        assert!(err(&long).contains("more than 1000 comparisons"));
        let ok = vec!["a pr"; 1000].join(" and ");
        assert!(parse_filter(&ok).is_ok());
    }

    #[test]
    fn not_can_be_an_attribute_name() {
        assert_eq!(p("not pr"), Filter::Present(path("not")));
        assert_eq!(p(r#"not eq "x""#), cmp("not", CompareOp::Eq, json!("x")));
        assert_eq!(p("and pr"), Filter::Present(path("and")));
    }

    #[test]
    fn string_comparisons_respect_case_exact() {
        let r = json!({"userName": "BJensen", "id": "AbC"});
        let exact_id = |p: &AttrPath| names_eq(&p.name, "id");
        let f = p(r#"userName eq "bjensen" and id eq "AbC""#);
        assert!(f.matches(&r, &exact_id));
        assert!(!p(r#"id eq "abc""#).matches(&r, &exact_id));
        assert!(p(r#"id eq "abc""#).matches(&r, &no_case));
        assert!(!p(r#"id sw "ab""#).matches(&r, &exact_id));
        assert!(p(r#"userName ew "SEN""#).matches(&r, &exact_id));
        // Value-filter paths are passed joined to their parent.
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |p: &AttrPath| {
            seen.borrow_mut().push(p.to_string());
            true
        };
        assert!(!p(r#"emails[type eq "WORK"]"#).matches(&user(), &record));
        assert_eq!(*seen.borrow(), vec!["emails.type".to_string(); 2]);
    }

    #[test]
    fn typed_comparisons() {
        let r = user();
        assert!(eval("active eq true", &r));
        assert!(!eval("active eq false", &r));
        assert!(eval("active ne false", &r));
        assert!(!eval(r#"active eq "true""#, &r));
        assert!(!eval("active gt false", &r));
        assert!(!eval("active lt true", &r));
        assert!(eval("loginCount eq 42", &r));
        assert!(eval("loginCount eq 42.0", &r));
        assert!(eval("loginCount gt 9", &r));
        assert!(!eval(r#"loginCount gt "9""#, &r));
        assert!(eval("loginCount le 42", &r));
        assert!(eval("loginCount lt 42.5", &r));
        assert!(!eval(r#"loginCount co "4""#, &r));
        assert!(eval(r#"title gt "tour""#, &r));
        assert!(eval(r#"meta.created lt "2011-01-01T00:00:00Z""#, &r));
        let with_null = json!({"a": null, "b": 1});
        assert!(eval("a eq null", &with_null));
        assert!(!eval("b eq null", &with_null));
        assert!(eval("b ne null", &with_null));
    }

    #[test]
    fn presence() {
        let r = user();
        assert!(eval("name pr", &r));
        assert!(eval("emails pr", &r));
        assert!(eval("emails.type pr", &r));
        assert!(!eval("emails.display pr", &r));
        assert!(!eval("nickName pr", &r));
        assert!(!eval("missing pr", &r));
        let empties = json!({"a": null, "b": [], "c": {}, "d": "", "e": 0, "f": false});
        for (attr, present) in [
            ("a", false),
            ("b", false),
            ("c", false),
            ("d", false),
            ("e", true),
            ("f", true),
        ] {
            assert_eq!(eval(&format!("{attr} pr"), &empties), present, "{attr}");
        }
    }

    #[test]
    fn absent_attributes() {
        let r = user();
        assert!(eval(r#"missing ne "x""#, &r));
        for op in ["eq", "co", "sw", "ew", "gt", "ge", "lt", "le"] {
            assert!(!eval(&format!(r#"missing {op} "x""#), &r), "{op}");
        }
        assert!(eval(r#"not (missing eq "x")"#, &r));
        assert!(eval(r#"name.middleName ne "x""#, &r));
    }

    #[test]
    fn multi_valued_any_semantics() {
        let r = user();
        assert!(eval(r#"emails co "jensen.org""#, &r));
        assert!(eval(r#"emails.type eq "home""#, &r));
        assert!(eval(r#"emails.value ew ".COM""#, &r));
        assert!(!eval(r#"emails.type eq "other""#, &r));
        assert!(eval(
            r#"schemas eq "URN:ietf:params:scim:schemas:core:2.0:User""#,
            &r
        ));
        assert!(eval(
            r#"emails[primary eq true].value eq "bjensen@example.com""#,
            &r
        ));
        assert!(!eval(r#"emails[not (type pr)]"#, &r));
        // Primitive elements stand for their own "value".
        let tags = json!({"tags": ["red", "green"]});
        assert!(eval(r#"tags[value eq "green"]"#, &tags));
        assert!(eval(r#"tags eq "RED""#, &tags));
    }

    #[test]
    fn attribute_keys_are_case_insensitive() {
        let r = json!({"USERNAME": "x", "Name": {"GivenName": "y"}, "Emails": [{"Value": "z", "TYPE": "work"}]});
        assert!(eval(r#"userName eq "x""#, &r));
        assert!(eval(r#"name.givenName eq "y""#, &r));
        assert!(eval(r#"emails[type eq "work"].value eq "z""#, &r));
        assert!(eval(r#"emails eq "z""#, &r));
    }

    #[test]
    fn equality_terms_are_the_top_level_conjunction() {
        let f = p(r#"a eq 1 and (b eq 2 or c eq 3)"#);
        let terms = f.equality_terms();
        assert_eq!(terms, vec![(&path("a"), &json!(1))]);

        let f = p(
            r#"a eq 1 and b ne 2 and (c eq 3 and d eq "x") and e pr and emails[type eq "w"] and not (f eq 1)"#,
        );
        let names: Vec<String> = f
            .equality_terms()
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(names, ["a", "c", "d"]);

        assert!(p("a eq 1 or b eq 2").equality_terms().is_empty());
        let f = p(r#"userName eq "bjensen""#);
        assert_eq!(
            f.equality_terms(),
            vec![(&path("userName"), &json!("bjensen"))]
        );
    }
}
