//! A bounded XPath 1.0 subset over XML responses, with namespace prefixes from the project's
//! `[namespaces]` table: location paths on the child, descendant, descendant-or-self, self,
//! parent and attribute axes (`/`, `//`, `.`, `..`, `@`), name tests (`p:name`, `p:*`, `*`,
//! `name`), `text()` and `node()`, predicates (a position, `last()`, comparisons with `=`,
//! `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`), string and number literals, and the functions
//! `count`, `string`, `normalize-space`, `concat`, `contains`, `starts-with`, `not`,
//! `local-name`, `namespace-uri`, `position`, `last`, `true`, `false`. Unions, variables
//! and arithmetic are not part of it. [`XPath::parse`] checks an expression once (the
//! project load does); [`Document::parse`] reads a response; [`XPath::select`] gives JSON.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde_json::{Map, Value as Json};

/// The longest expression accepted, in bytes.
const MAX_LENGTH: usize = 2048;
/// Nesting of parentheses, predicates and function calls at most.
const MAX_NESTING: usize = 32;
/// Nesting of a document's elements at most.
const MAX_DEPTH: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XPathError {
    #[error("XPath '{expression}': {message}")]
    Syntax { expression: String, message: String },
    #[error("the response is not XML (at byte {at}): {message}")]
    Xml { at: u64, message: String },
}

/// A checked expression, its prefixes resolved.
#[derive(Clone, Debug)]
pub struct XPath {
    text: String,
    expr: Expr,
}

#[derive(Clone, Debug)]
enum Expr {
    Path(Path),
    Literal(String),
    Number(f64),
    Call(Function, Vec<Expr>),
    Compare(Op, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Count,
    String,
    NormalizeSpace,
    Concat,
    Contains,
    StartsWith,
    Not,
    LocalName,
    NamespaceUri,
    Position,
    Last,
    True,
    False,
}

impl Function {
    fn named(name: &str) -> Option<(Self, usize, usize)> {
        // (function, fewest arguments, most arguments)
        Some(match name {
            "count" => (Self::Count, 1, 1),
            "string" => (Self::String, 0, 1),
            "normalize-space" => (Self::NormalizeSpace, 0, 1),
            "concat" => (Self::Concat, 2, 16),
            "contains" => (Self::Contains, 2, 2),
            "starts-with" => (Self::StartsWith, 2, 2),
            "not" => (Self::Not, 1, 1),
            "local-name" => (Self::LocalName, 0, 1),
            "namespace-uri" => (Self::NamespaceUri, 0, 1),
            "position" => (Self::Position, 0, 0),
            "last" => (Self::Last, 0, 0),
            "true" => (Self::True, 0, 0),
            "false" => (Self::False, 0, 0),
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
struct Path {
    absolute: bool,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
struct Step {
    axis: Axis,
    test: Test,
    predicates: Vec<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Axis {
    Child,
    Descendant,
    DescendantOrSelf,
    SelfNode,
    Parent,
    Attribute,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Test {
    /// `*` (any namespace) or `p:*` (the namespace's).
    Any(Option<String>),
    /// A namespace (empty: none) and local name.
    Name(String, String),
    Text,
    Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Slash,
    DoubleSlash,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    At,
    Comma,
    Dot,
    DotDot,
    Star,
    Axis(String),
    Name(String),
    Literal(String),
    Number(f64),
    Op(Op),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let name_start = |c: char| c.is_alphabetic() || c == '_';
    let name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '/' if next == Some('/') => {
                out.push(Token::DoubleSlash);
                i += 2;
            }
            '/' => {
                out.push(Token::Slash);
                i += 1;
            }
            '(' | ')' | '[' | ']' | '@' | ',' | '*' | '=' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    ']' => Token::CloseBracket,
                    '@' => Token::At,
                    ',' => Token::Comma,
                    '*' => Token::Star,
                    _ => Token::Op(Op::Eq),
                });
                i += 1;
            }
            '!' if next == Some('=') => {
                out.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let equal = next == Some('=');
                out.push(Token::Op(match (c, equal) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    (_, false) => Op::Gt,
                    _ => Op::Ge,
                }));
                i += if equal { 2 } else { 1 };
            }
            '.' if next == Some('.') => {
                out.push(Token::DotDot);
                i += 2;
            }
            '.' if !next.is_some_and(|n| n.is_ascii_digit()) => {
                out.push(Token::Dot);
                i += 1;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .ok_or("a string literal is not closed")?;
                out.push(Token::Literal(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let number: String = chars[start..i].iter().collect();
                out.push(Token::Number(
                    number
                        .parse()
                        .map_err(|_| format!("'{number}' is not a number"))?,
                ));
            }
            c if name_start(c) => {
                let start = i;
                while i < chars.len() && name_char(chars[i]) {
                    i += 1;
                }
                // A prefix: `p:name` or `p:*`; `::` ends an axis name.
                if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
                    out.push(Token::Axis(chars[start..i].iter().collect()));
                    i += 2;
                    continue;
                }
                if chars.get(i) == Some(&':') {
                    match chars.get(i + 1) {
                        Some('*') => i += 2,
                        Some(&n) if name_start(n) => {
                            i += 1;
                            while i < chars.len() && name_char(chars[i]) {
                                i += 1;
                            }
                        }
                        _ => return Err("a ':' must be followed by a name or '*'".into()),
                    }
                }
                out.push(Token::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected '{other}'")),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    namespaces: &'a BTreeMap<String, String>,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.at + offset)
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), String> {
        match self.bump() {
            Some(t) if t == token => Ok(()),
            _ => Err(format!("expected {what}")),
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("nests deeper than {MAX_NESTING} levels"));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == word)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.bump();
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.compare()?;
        while self.keyword("and") {
            self.bump();
            left = Expr::And(Box::new(left), Box::new(self.compare()?));
        }
        Ok(left)
    }

    fn compare(&mut self) -> Result<Expr, String> {
        let left = self.primary()?;
        if let Some(Token::Op(op)) = self.peek().cloned() {
            self.bump();
            let right = self.primary()?;
            return Ok(Expr::Compare(op, Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Token::Literal(s)) => {
                self.bump();
                Ok(Expr::Literal(s))
            }
            Some(Token::Number(n)) => {
                self.bump();
                Ok(Expr::Number(n))
            }
            Some(Token::Open) => {
                self.bump();
                let inner = self.nested(Self::or)?;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Name(name))
                if self.peek_at(1) == Some(&Token::Open) && name != "text" && name != "node" =>
            {
                let (function, fewest, most) = Function::named(&name).ok_or_else(|| {
                    format!("'{name}()' is not among the supported functions (count, string, normalize-space, concat, contains, starts-with, not, local-name, namespace-uri, position, last, true, false)")
                })?;
                self.bump();
                self.bump();
                let mut arguments = Vec::new();
                if self.peek() != Some(&Token::Close) {
                    loop {
                        arguments.push(self.nested(Self::or)?);
                        if self.peek() == Some(&Token::Comma) {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                self.expect(Token::Close, "')' after the function's arguments")?;
                if arguments.len() < fewest || arguments.len() > most {
                    return Err(format!(
                        "{name}() takes {fewest} to {most} arguments, not {}",
                        arguments.len()
                    ));
                }
                if matches!(
                    function,
                    Function::Count | Function::LocalName | Function::NamespaceUri
                ) && arguments.iter().any(|a| !matches!(a, Expr::Path(_)))
                {
                    return Err(format!("{name}() takes a location path"));
                }
                Ok(Expr::Call(function, arguments))
            }
            Some(_) => Ok(Expr::Path(self.path()?)),
            None => Err("the expression ends too early".into()),
        }
    }

    fn path(&mut self) -> Result<Path, String> {
        let mut steps = Vec::new();
        let absolute = matches!(self.peek(), Some(Token::Slash | Token::DoubleSlash));
        let mut separator = self.peek().cloned();
        if absolute {
            self.bump();
            if separator == Some(Token::Slash) && !self.starts_step() {
                return Ok(Path { absolute, steps });
            }
        } else {
            separator = None;
        }
        loop {
            if separator == Some(Token::DoubleSlash) {
                steps.push(Step {
                    axis: Axis::DescendantOrSelf,
                    test: Test::Node,
                    predicates: Vec::new(),
                });
            }
            steps.push(self.step()?);
            match self.peek() {
                Some(Token::Slash | Token::DoubleSlash) => separator = self.bump(),
                _ => break,
            }
        }
        Ok(Path { absolute, steps })
    }

    fn starts_step(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Token::Dot
                    | Token::DotDot
                    | Token::At
                    | Token::Star
                    | Token::Axis(_)
                    | Token::Name(_)
            )
        )
    }

    fn step(&mut self) -> Result<Step, String> {
        let mut axis = Axis::Child;
        match self.peek().cloned() {
            Some(Token::Dot) => {
                self.bump();
                return Ok(Step {
                    axis: Axis::SelfNode,
                    test: Test::Node,
                    predicates: Vec::new(),
                });
            }
            Some(Token::DotDot) => {
                self.bump();
                return Ok(Step {
                    axis: Axis::Parent,
                    test: Test::Node,
                    predicates: Vec::new(),
                });
            }
            Some(Token::At) => {
                self.bump();
                axis = Axis::Attribute;
            }
            Some(Token::Axis(name)) => {
                self.bump();
                axis = match name.as_str() {
                    "child" => Axis::Child,
                    "descendant" => Axis::Descendant,
                    "descendant-or-self" => Axis::DescendantOrSelf,
                    "self" => Axis::SelfNode,
                    "parent" => Axis::Parent,
                    "attribute" => Axis::Attribute,
                    other => return Err(format!("the axis '{other}::' is not supported (child, descendant, descendant-or-self, self, parent, attribute)")),
                };
            }
            _ => {}
        }
        let test = match self.bump() {
            Some(Token::Star) => Test::Any(None),
            Some(Token::Name(name)) if self.peek() == Some(&Token::Open) => {
                self.bump();
                self.expect(Token::Close, "')'")?;
                match name.as_str() {
                    "text" => Test::Text,
                    "node" => Test::Node,
                    other => return Err(format!("'{other}()' is not a node test")),
                }
            }
            Some(Token::Name(name)) => match name.split_once(':') {
                Some((prefix, local)) => {
                    let uri = self.namespaces.get(prefix).ok_or_else(|| {
                        format!("the prefix '{prefix}' is not declared; add it to the project's [namespaces] table")
                    })?;
                    if local == "*" {
                        Test::Any(Some(uri.clone()))
                    } else {
                        Test::Name(uri.clone(), local.to_string())
                    }
                }
                None => Test::Name(String::new(), name),
            },
            _ => return Err("expected a step (a name, '*', '@name', '.', '..' or text())".into()),
        };
        let mut predicates = Vec::new();
        while self.peek() == Some(&Token::OpenBracket) {
            self.bump();
            predicates.push(self.nested(Self::or)?);
            self.expect(Token::CloseBracket, "']'")?;
        }
        Ok(Step {
            axis,
            test,
            predicates,
        })
    }
}

impl XPath {
    /// Check `text` with `namespaces` (prefix to URI) for its prefixes.
    pub fn parse(text: &str, namespaces: &BTreeMap<String, String>) -> Result<Self, XPathError> {
        let fail = |message: String| XPathError::Syntax {
            expression: text.to_string(),
            message,
        };
        if text.len() > MAX_LENGTH {
            return Err(fail(format!("longer than {MAX_LENGTH} bytes")));
        }
        let mut parser = Parser {
            tokens: tokens(text).map_err(fail)?,
            at: 0,
            namespaces,
            depth: 0,
        };
        let expr = parser.or().map_err(fail)?;
        if parser.at < parser.tokens.len() {
            return Err(fail(format!(
                "unexpected {:?} after the expression",
                parser.tokens[parser.at]
            )));
        }
        Ok(Self {
            text: text.to_string(),
            expr,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The expression is a location path (it selects nodes, as `for_each` needs).
    pub fn is_path(&self) -> bool {
        matches!(self.expr, Expr::Path(_))
    }

    /// The expression's value in `document`: a node set as JSON (nothing: null, one node: its
    /// value, more: an array), or the string, number or boolean it computes.
    pub fn select(&self, document: &Document) -> Json {
        match self.evaluate(document) {
            Value::Nodes(nodes) => match nodes.as_slice() {
                [] => Json::Null,
                [one] => document.json(*one),
                many => Json::Array(many.iter().map(|n| document.json(*n)).collect()),
            },
            other => other.json(),
        }
    }

    /// Each selected node as JSON (`for_each`); a non-path expression gives its one value.
    pub fn select_all(&self, document: &Document) -> Vec<Json> {
        match self.evaluate(document) {
            Value::Nodes(nodes) => nodes.iter().map(|n| document.json(*n)).collect(),
            other => vec![other.json()],
        }
    }

    fn evaluate(&self, document: &Document) -> Value {
        let context = Context {
            node: NodeRef::Node(0),
            position: 1,
            size: 1,
        };
        document.eval(&self.expr, context)
    }
}

/// An XML document read for XPath: elements, attributes and text with their namespaces.
#[derive(Debug)]
pub struct Document {
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    parent: usize,
    children: Vec<usize>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Root,
    Element {
        namespace: String,
        local: String,
        attributes: Vec<Attribute>,
    },
    Text(String),
}

#[derive(Debug)]
struct Attribute {
    namespace: String,
    local: String,
    value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum NodeRef {
    Node(usize),
    Attribute(usize, usize),
}

#[derive(Clone, Copy)]
struct Context {
    node: NodeRef,
    position: usize,
    size: usize,
}

enum Value {
    Nodes(Vec<NodeRef>),
    Text(String),
    Number(f64),
    Bool(bool),
}

impl Value {
    fn json(self) -> Json {
        match self {
            Value::Text(s) => Json::String(s),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Json::from(n as i64),
            Value::Number(n) => serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number),
            Value::Bool(b) => Json::Bool(b),
            Value::Nodes(_) => Json::Null,
        }
    }
}

fn resolved(result: ResolveResult) -> String {
    match result {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        _ => String::new(),
    }
}

impl Document {
    pub fn parse(text: &str) -> Result<Self, XPathError> {
        let mut reader = NsReader::from_str(text);
        let mut nodes = vec![Node {
            parent: 0,
            children: Vec::new(),
            kind: Kind::Root,
        }];
        let mut open = vec![0usize];
        let fail = |reader: &NsReader<&[u8]>, message: String| XPathError::Xml {
            at: reader.buffer_position(),
            message,
        };
        loop {
            let read = reader
                .read_resolved_event()
                .map(|(ns, event)| (resolved(ns), event));
            let (namespace, event) = read.map_err(|e| fail(&reader, e.to_string()))?;
            let parent = open.last().copied().unwrap_or(0);
            match event {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    if open.len() > MAX_DEPTH {
                        return Err(fail(&reader, "the document nests too deeply".into()));
                    }
                    let mut attributes = Vec::new();
                    for attribute in e.attributes() {
                        let attribute = attribute.map_err(|e| fail(&reader, e.to_string()))?;
                        let key = attribute.key;
                        if key.as_namespace_binding().is_some() {
                            continue;
                        }
                        let (ns, local) = reader.resolve_attribute(key);
                        let value = attribute
                            .unescape_value()
                            .map_err(|e| fail(&reader, e.to_string()))?
                            .into_owned();
                        attributes.push(Attribute {
                            namespace: resolved(ns),
                            local: String::from_utf8_lossy(local.as_ref()).into_owned(),
                            value,
                        });
                    }
                    let index = nodes.len();
                    nodes.push(Node {
                        parent,
                        children: Vec::new(),
                        kind: Kind::Element {
                            namespace,
                            local: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                            attributes,
                        },
                    });
                    nodes[parent].children.push(index);
                    if matches!(event, Event::Start(_)) {
                        open.push(index);
                    }
                }
                Event::End(_) => {
                    if open.len() <= 1 {
                        return Err(fail(&reader, "an unbalanced end tag".into()));
                    }
                    open.pop();
                }
                Event::Text(ref t) => {
                    let t = t.unescape().map_err(|e| fail(&reader, e.to_string()))?;
                    push_text(&mut nodes, parent, &t);
                }
                Event::CData(ref t) => {
                    push_text(&mut nodes, parent, &String::from_utf8_lossy(t));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(Self { nodes })
    }

    fn eval(&self, expr: &Expr, context: Context) -> Value {
        match expr {
            Expr::Literal(s) => Value::Text(s.clone()),
            Expr::Number(n) => Value::Number(*n),
            Expr::Path(path) => Value::Nodes(self.path(path, context.node)),
            Expr::And(a, b) => {
                Value::Bool(self.truth(self.eval(a, context)) && self.truth(self.eval(b, context)))
            }
            Expr::Or(a, b) => {
                Value::Bool(self.truth(self.eval(a, context)) || self.truth(self.eval(b, context)))
            }
            Expr::Compare(op, a, b) => {
                Value::Bool(self.compare(*op, self.eval(a, context), self.eval(b, context)))
            }
            Expr::Call(function, arguments) => self.call(*function, arguments, context),
        }
    }

    fn call(&self, function: Function, arguments: &[Expr], context: Context) -> Value {
        let text = |i: usize| match arguments.get(i) {
            Some(a) => self.string(self.eval(a, context)),
            None => self.string_value(context.node),
        };
        let first_node = || match arguments.first() {
            Some(a) => match self.eval(a, context) {
                Value::Nodes(nodes) => nodes.first().copied(),
                _ => None,
            },
            None => Some(context.node),
        };
        match function {
            Function::Count => match arguments.first().map(|a| self.eval(a, context)) {
                Some(Value::Nodes(nodes)) => Value::Number(nodes.len() as f64),
                _ => Value::Number(0.0),
            },
            Function::String => Value::Text(text(0)),
            Function::NormalizeSpace => {
                Value::Text(text(0).split_whitespace().collect::<Vec<_>>().join(" "))
            }
            Function::Concat => Value::Text((0..arguments.len()).map(text).collect()),
            Function::Contains => Value::Bool(text(0).contains(&text(1))),
            Function::StartsWith => Value::Bool(text(0).starts_with(&text(1))),
            Function::Not => Value::Bool(
                !arguments
                    .first()
                    .is_some_and(|a| self.truth(self.eval(a, context))),
            ),
            Function::LocalName => {
                Value::Text(first_node().map(|n| self.name(n).1).unwrap_or_default())
            }
            Function::NamespaceUri => {
                Value::Text(first_node().map(|n| self.name(n).0).unwrap_or_default())
            }
            Function::Position => Value::Number(context.position as f64),
            Function::Last => Value::Number(context.size as f64),
            Function::True => Value::Bool(true),
            Function::False => Value::Bool(false),
        }
    }

    fn truth(&self, value: Value) -> bool {
        match value {
            Value::Nodes(n) => !n.is_empty(),
            Value::Text(s) => !s.is_empty(),
            Value::Number(n) => n != 0.0 && !n.is_nan(),
            Value::Bool(b) => b,
        }
    }

    fn string(&self, value: Value) -> String {
        match value {
            Value::Nodes(n) => n.first().map(|n| self.string_value(*n)).unwrap_or_default(),
            Value::Text(s) => s,
            Value::Number(n) => match Value::Number(n).json() {
                Json::Number(n) => n.to_string(),
                _ => "NaN".into(),
            },
            Value::Bool(b) => b.to_string(),
        }
    }

    fn compare(&self, op: Op, a: Value, b: Value) -> bool {
        let strings = |v: Value| -> Vec<String> {
            match v {
                Value::Nodes(n) => n.iter().map(|n| self.string_value(*n)).collect(),
                other => vec![self.string(other)],
            }
        };
        let numeric = matches!(a, Value::Number(_))
            || matches!(b, Value::Number(_))
            || !matches!(op, Op::Eq | Op::Ne);
        if let (Value::Bool(x), other) | (other, Value::Bool(x)) = (&a, &b) {
            if matches!(op, Op::Eq | Op::Ne) {
                let y = match other {
                    Value::Nodes(n) => !n.is_empty(),
                    Value::Text(s) => !s.is_empty(),
                    Value::Number(n) => *n != 0.0,
                    Value::Bool(y) => *y,
                };
                return (*x == y) == (op == Op::Eq);
            }
        }
        let (left, right) = (strings(a), strings(b));
        left.iter().any(|l| {
            right.iter().any(|r| {
                if numeric {
                    let (l, r) = (number(l), number(r));
                    match op {
                        Op::Eq => l == r,
                        Op::Ne => l != r,
                        Op::Lt => l < r,
                        Op::Le => l <= r,
                        Op::Gt => l > r,
                        Op::Ge => l >= r,
                    }
                } else {
                    (l == r) == (op == Op::Eq)
                }
            })
        })
    }

    fn name(&self, node: NodeRef) -> (String, String) {
        match node {
            NodeRef::Node(i) => match &self.nodes[i].kind {
                Kind::Element {
                    namespace, local, ..
                } => (namespace.clone(), local.clone()),
                _ => Default::default(),
            },
            NodeRef::Attribute(i, a) => self
                .attribute(i, a)
                .map(|a| (a.namespace.clone(), a.local.clone()))
                .unwrap_or_default(),
        }
    }

    fn attribute(&self, node: usize, index: usize) -> Option<&Attribute> {
        match &self.nodes[node].kind {
            Kind::Element { attributes, .. } => attributes.get(index),
            _ => None,
        }
    }

    fn string_value(&self, node: NodeRef) -> String {
        match node {
            NodeRef::Attribute(i, a) => self
                .attribute(i, a)
                .map(|a| a.value.clone())
                .unwrap_or_default(),
            NodeRef::Node(i) => {
                let mut out = String::new();
                self.collect_text(i, &mut out);
                out
            }
        }
    }

    fn collect_text(&self, node: usize, out: &mut String) {
        match &self.nodes[node].kind {
            Kind::Text(t) => out.push_str(t),
            _ => {
                for child in &self.nodes[node].children {
                    self.collect_text(*child, out);
                }
            }
        }
    }

    fn path(&self, path: &Path, context: NodeRef) -> Vec<NodeRef> {
        let mut current = vec![if path.absolute {
            NodeRef::Node(0)
        } else {
            context
        }];
        for step in &path.steps {
            let mut next = Vec::new();
            for node in &current {
                let mut found: Vec<NodeRef> = self
                    .axis(step.axis, *node)
                    .into_iter()
                    .filter(|n| self.matches(step, *n))
                    .collect();
                for predicate in &step.predicates {
                    let size = found.len();
                    found = found
                        .into_iter()
                        .enumerate()
                        .filter(|(i, n)| {
                            let context = Context {
                                node: *n,
                                position: i + 1,
                                size,
                            };
                            match self.eval(predicate, context) {
                                Value::Number(p) => p == (i + 1) as f64,
                                other => self.truth(other),
                            }
                        })
                        .map(|(_, n)| n)
                        .collect();
                }
                next.extend(found);
            }
            next.sort_unstable();
            next.dedup();
            current = next;
        }
        current
    }

    fn axis(&self, axis: Axis, node: NodeRef) -> Vec<NodeRef> {
        let NodeRef::Node(i) = node else {
            return match (axis, node) {
                (Axis::SelfNode, _) => vec![node],
                (Axis::Parent, NodeRef::Attribute(i, _)) => vec![NodeRef::Node(i)],
                _ => Vec::new(),
            };
        };
        match axis {
            Axis::Child => self.nodes[i]
                .children
                .iter()
                .map(|c| NodeRef::Node(*c))
                .collect(),
            Axis::Descendant | Axis::DescendantOrSelf => {
                let mut out = Vec::new();
                if axis == Axis::DescendantOrSelf {
                    out.push(node);
                }
                self.descendants(i, &mut out);
                out
            }
            Axis::SelfNode => vec![node],
            Axis::Parent if i == 0 => Vec::new(),
            Axis::Parent => vec![NodeRef::Node(self.nodes[i].parent)],
            Axis::Attribute => match &self.nodes[i].kind {
                Kind::Element { attributes, .. } => (0..attributes.len())
                    .map(|a| NodeRef::Attribute(i, a))
                    .collect(),
                _ => Vec::new(),
            },
        }
    }

    fn descendants(&self, node: usize, out: &mut Vec<NodeRef>) {
        for child in &self.nodes[node].children {
            out.push(NodeRef::Node(*child));
            self.descendants(*child, out);
        }
    }

    fn matches(&self, step: &Step, node: NodeRef) -> bool {
        let principal_attribute = step.axis == Axis::Attribute;
        let (is_principal, is_text) = match node {
            NodeRef::Attribute(..) => (principal_attribute, false),
            NodeRef::Node(i) => match self.nodes[i].kind {
                Kind::Element { .. } => (!principal_attribute, false),
                Kind::Text(_) => (false, true),
                Kind::Root => (false, false),
            },
        };
        match &step.test {
            Test::Node => true,
            Test::Text => is_text,
            Test::Any(None) => is_principal,
            Test::Any(Some(uri)) => is_principal && &self.name(node).0 == uri,
            Test::Name(uri, local) => {
                is_principal && {
                    let (ns, name) = self.name(node);
                    &ns == uri && &name == local
                }
            }
        }
    }

    /// A node as JSON: an element with child elements or attributes an object (`@name` for
    /// attributes, child local names, `#text` for mixed text), other elements their trimmed
    /// text, text and attribute nodes their text.
    fn json(&self, node: NodeRef) -> Json {
        let NodeRef::Node(i) = node else {
            return Json::String(self.string_value(node));
        };
        let attributes = match &self.nodes[i].kind {
            Kind::Element { attributes, .. } => attributes.as_slice(),
            Kind::Text(t) => return Json::String(t.clone()),
            Kind::Root => &[],
        };
        let elements: Vec<usize> = self.nodes[i]
            .children
            .iter()
            .copied()
            .filter(|c| matches!(self.nodes[*c].kind, Kind::Element { .. }))
            .collect();
        let own_text = self.nodes[i]
            .children
            .iter()
            .filter_map(|c| match &self.nodes[*c].kind {
                Kind::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<String>();
        if elements.is_empty() && attributes.is_empty() {
            return Json::String(own_text.trim().to_string());
        }
        let mut map = Map::new();
        for a in attributes {
            map.insert(format!("@{}", a.local), Json::String(a.value.clone()));
        }
        for child in elements {
            let name = self.name(NodeRef::Node(child)).1;
            let value = self.json(NodeRef::Node(child));
            add_child(&mut map, name, value);
        }
        if !own_text.trim().is_empty() {
            map.insert("#text".into(), Json::String(own_text.trim().to_string()));
        }
        Json::Object(map)
    }
}

/// Add an element's value under its name: a repeated name becomes an array (XML as JSON).
pub fn add_child(map: &mut Map<String, Json>, name: String, value: Json) {
    match map.get_mut(&name) {
        Some(Json::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Json::Array(vec![first, value]);
        }
        None => {
            map.insert(name, value);
        }
    }
}

fn push_text(nodes: &mut Vec<Node>, parent: usize, text: &str) {
    if parent == 0 {
        return;
    }
    if let Some(&last) = nodes[parent].children.last() {
        if let Kind::Text(existing) = &mut nodes[last].kind {
            existing.push_str(text);
            return;
        }
    }
    let index = nodes.len();
    nodes.push(Node {
        parent,
        children: Vec::new(),
        kind: Kind::Text(text.to_string()),
    });
    nodes[parent].children.push(index);
}

fn number(text: &str) -> f64 {
    text.trim().parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RESPONSE: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Body>
    <u:GetUsersResponse xmlns:u="urn:contoso:users" xmlns:a="urn:contoso:audit">
      <u:User id="1" a:by="svc"><u:Name>Adele</u:Name><u:Mail>adele@contoso.com</u:Mail></u:User>
      <u:User id="2"><u:Name>Brian &amp; Co</u:Name><u:Mail/></u:User>
      <u:User id="3"><u:Name><![CDATA[Carol]]></u:Name></u:User>
      <Total>3</Total>
    </u:GetUsersResponse>
  </s:Body>
</s:Envelope>"#;

    fn ns() -> BTreeMap<String, String> {
        [
            ("soap", "http://schemas.xmlsoap.org/soap/envelope/"),
            ("x", "urn:contoso:users"),
            ("audit", "urn:contoso:audit"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    fn select(expression: &str) -> Json {
        let document = Document::parse(RESPONSE).unwrap();
        XPath::parse(expression, &ns()).unwrap().select(&document)
    }

    #[test]
    fn paths_with_prefixes_predicates_and_functions() {
        assert_eq!(
            select("/soap:Envelope/soap:Body/x:GetUsersResponse/Total"),
            json!("3")
        );
        assert_eq!(
            select("//x:User/x:Name/text()"),
            json!(["Adele", "Brian & Co", "Carol"])
        );
        assert_eq!(select("//x:User[2]/x:Name"), json!("Brian & Co"));
        assert_eq!(select("//x:User[last()]/@id"), json!("3"));
        assert_eq!(select("//x:User[@id='2']/x:Name"), json!("Brian & Co"));
        assert_eq!(
            select("//x:User[x:Name='Adele']/x:Mail"),
            json!("adele@contoso.com")
        );
        assert_eq!(select("//x:User[@audit:by]/@id"), json!("1"));
        assert_eq!(select("//x:User[@id > 1 and not(x:Mail)]/@id"), json!("3"));
        assert_eq!(select("count(//x:User)"), json!(3));
        assert_eq!(select("string(//Total)"), json!("3"));
        assert_eq!(select("local-name(//x:*[1])"), json!("GetUsersResponse"));
        assert_eq!(select("//*[local-name()='Total']"), json!("3"));
        assert_eq!(select("//x:User[1]/@*"), json!(["1", "svc"]));
        assert_eq!(
            select("//x:User[1]/x:Name/.."),
            json!({"@id": "1", "@by": "svc", "Name": "Adele", "Mail": "adele@contoso.com"})
        );
        assert_eq!(
            select("concat(//x:User[1]/x:Name, ' <', //x:User[1]/x:Mail, '>')"),
            json!("Adele <adele@contoso.com>")
        );
        // Unprefixed names are in no namespace, as in XPath 1.0.
        assert_eq!(select("//User"), Json::Null);
        assert_eq!(select("//x:Missing"), Json::Null);
    }

    #[test]
    fn node_sets_for_each() {
        let document = Document::parse(RESPONSE).unwrap();
        let users = XPath::parse("//x:User", &ns()).unwrap();
        assert!(users.is_path());
        let all = users.select_all(&document);
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[1],
            json!({"@id": "2", "Name": "Brian & Co", "Mail": ""})
        );
    }

    #[test]
    fn bad_expressions_are_refused_with_the_reason() {
        let bad = |e: &str| XPath::parse(e, &ns()).unwrap_err().to_string();
        assert!(
            bad("//u:User").contains("the prefix 'u' is not declared"),
            "{}",
            bad("//u:User")
        );
        assert!(bad("//x:User[").contains("ends too early"));
        assert!(
            bad("sum(//x)").contains("'sum()' is not among"),
            "{}",
            bad("sum(//x)")
        );
        assert!(
            bad("following::x").contains("axis 'following::'"),
            "{}",
            bad("following::x")
        );
        assert!(
            bad("//a | //b").contains("unexpected '|'"),
            "{}",
            bad("//a | //b")
        );
        assert!(bad("'open").contains("not closed"));
        assert!(bad(&"(".repeat(40)).contains("nests deeper"));
        assert!(Document::parse("<a><b></a>").is_err());
    }
}
