//! The semantic checks of a parsed project: the schema is consistent, every step does one
//! thing, and every template and assignment names something its flow knows. Pure: no I/O.

use std::collections::HashSet;

use crate::load::KeyPath;
use crate::model::*;
use crate::template::{Source, Target, Template};
use crate::xpath::XPath;

/// The prefix of a SOAP `save` value or a `for_each` that is an XPath expression.
pub const XPATH: &str = "xpath:";

/// Connector parameters that hold secrets: templates may not name them.
pub const SECRET_PARAMETERS: &[&str] = &["password", "client_secret", "api_key", "bearer_token"];

/// The attribute `export_password = true` adds to an object type's schema.
pub const EXPORT_PASSWORD: &str = "export_password";

/// The do-while bound when `max_iterations` is absent.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

/// Which flow a step belongs to: it decides what the templates may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    FullImport,
    DeltaImport,
    ExportAdd,
    ExportReplace,
    ExportDelete,
    PasswordSet,
    PasswordChange,
    TestConnection,
}

impl FlowKind {
    pub fn key(&self) -> &'static str {
        match self {
            FlowKind::FullImport => "full_import",
            FlowKind::DeltaImport => "delta_import",
            FlowKind::ExportAdd => "export_add",
            FlowKind::ExportReplace => "export_replace",
            FlowKind::ExportDelete => "export_delete",
            FlowKind::PasswordSet => "password_set",
            FlowKind::PasswordChange => "password_change",
            FlowKind::TestConnection => "test_connection",
        }
    }

    pub fn is_import(&self) -> bool {
        matches!(self, FlowKind::FullImport | FlowKind::DeltaImport)
    }

    /// Flows that run for one object (an entry change or a password target).
    pub fn has_object(&self) -> bool {
        !self.is_import() && *self != FlowKind::TestConnection
    }

    pub const ALL: [FlowKind; 8] = [
        FlowKind::FullImport,
        FlowKind::DeltaImport,
        FlowKind::ExportAdd,
        FlowKind::ExportReplace,
        FlowKind::ExportDelete,
        FlowKind::PasswordSet,
        FlowKind::PasswordChange,
        FlowKind::TestConnection,
    ];
}

impl Flows {
    pub fn get(&self, kind: FlowKind) -> Option<&Flow> {
        match kind {
            FlowKind::FullImport => self.full_import.as_ref(),
            FlowKind::DeltaImport => self.delta_import.as_ref(),
            FlowKind::ExportAdd => self.export_add.as_ref(),
            FlowKind::ExportReplace => self.export_replace.as_ref(),
            FlowKind::ExportDelete => self.export_delete.as_ref(),
            FlowKind::PasswordSet => self.password_set.as_ref(),
            FlowKind::PasswordChange => self.password_change.as_ref(),
            FlowKind::TestConnection => None,
        }
    }
}

impl ObjectType {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// A declared attribute, or `export_password` when the type exports passwords.
    pub fn knows(&self, name: &str) -> bool {
        self.attribute(name).is_some() || (self.export_password && name == EXPORT_PASSWORD)
    }
}

type Found = Vec<(KeyPath, String)>;

/// Every problem of `project`, with the key it is at.
pub fn check(project: &ProjectFile) -> Found {
    let mut found = Found::new();
    let root = KeyPath::default();
    if project.version != 1 {
        found.push((
            root.key("version"),
            format!(
                "version {} is not known; write version = 1",
                project.version
            ),
        ));
    }
    check_connection(project, &root.key("connection"), &mut found);
    if let Auth::Oauth2ClientCredentials { token_url, .. } = &project.auth {
        if token_url.trim().is_empty() {
            found.push((
                root.key("auth").key("token_url"),
                "the token endpoint must not be empty".into(),
            ));
        }
    }
    for (prefix, uri) in &project.namespaces {
        let name_ok = prefix
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && prefix
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            found.push((
                root.key("namespaces").key(prefix),
                format!("'{prefix}' is not an XML prefix (a letter or '_', then letters, digits, '_', '-', '.')"),
            ));
        }
        if uri.trim().is_empty() {
            found.push((
                root.key("namespaces").key(prefix),
                format!("the namespace of prefix '{prefix}' is empty; write its URI"),
            ));
        }
    }
    let mut services = HashSet::new();
    for (i, s) in project.discovery.rest.iter().enumerate() {
        if !services.insert(s.name.as_str()) {
            found.push((
                root.key("discovery").key("rest").index(i).key("name"),
                format!("REST service '{}' is recorded twice", s.name),
            ));
        }
    }
    if project.object_types.is_empty() {
        found.push((
            root.key("object_types"),
            "the project declares no object type; add an [[object_types]] table".into(),
        ));
    }
    let mut names = HashSet::new();
    for (i, t) in project.object_types.iter().enumerate() {
        let key = root.key("object_types").index(i);
        if !names.insert(t.name.as_str()) {
            found.push((
                key.key("name"),
                format!("object type '{}' is declared twice", t.name),
            ));
        }
        check_object_type(t, &key, &mut found);
        for kind in FlowKind::ALL {
            if let Some(flow) = t.flows.get(kind) {
                let mut checker = FlowChecker {
                    project,
                    object_type: Some(t),
                    kind,
                    items: Vec::new(),
                    found: &mut found,
                };
                checker.steps(&flow.steps, &key.key("flows").key(kind.key()).key("steps"));
            }
        }
    }
    if let Some(flow) = &project.test_connection {
        let mut checker = FlowChecker {
            project,
            object_type: None,
            kind: FlowKind::TestConnection,
            items: Vec::new(),
            found: &mut found,
        };
        checker.steps(&flow.steps, &root.key("test_connection").key("steps"));
    }
    found
}

fn check_connection(project: &ProjectFile, key: &KeyPath, found: &mut Found) {
    let c = &project.connection;
    if !(c.base_url.starts_with("http://") || c.base_url.starts_with("https://")) {
        found.push((
            key.key("base_url"),
            format!("'{}' is not an http:// or https:// URL", c.base_url),
        ));
    }
    if !(1..=600).contains(&c.timeout_seconds) {
        found.push((
            key.key("timeout_seconds"),
            format!("{} is outside 1 to 600 seconds", c.timeout_seconds),
        ));
    }
    if c.rate_limit_per_second == Some(0) {
        found.push((
            key.key("rate_limit_per_second"),
            "0 would block every request; leave it out for no limit".into(),
        ));
    }
    if !(1..=10).contains(&c.retry.max_attempts) {
        found.push((
            key.key("retry").key("max_attempts"),
            format!("{} is outside 1 to 10", c.retry.max_attempts),
        ));
    }
    for (name, value) in &c.headers {
        check_template(value, &key.key("headers").key(name), found, &mut |_| None);
    }
}

fn check_object_type(t: &ObjectType, key: &KeyPath, found: &mut Found) {
    if t.attributes.is_empty() {
        found.push((
            key.key("attributes"),
            format!("object type '{}' has no attributes", t.name),
        ));
    }
    let mut seen = HashSet::new();
    for (i, a) in t.attributes.iter().enumerate() {
        if !seen.insert(a.name.as_str()) {
            found.push((
                key.key("attributes").index(i).key("name"),
                format!("attribute '{}' is declared twice", a.name),
            ));
        }
        if t.export_password && a.name == EXPORT_PASSWORD {
            found.push((
                key.key("attributes").index(i).key("name"),
                "export_password = true adds this attribute; do not declare it".into(),
            ));
        }
    }
    for name in t.anchor.names() {
        match t.attribute(name) {
            None => found.push((
                key.key("anchor"),
                format!("anchor '{name}' is not an attribute of '{}'", t.name),
            )),
            Some(a) if a.multi_valued => found.push((
                key.key("anchor"),
                format!("anchor '{name}' is multi-valued; an anchor has one value"),
            )),
            Some(_) => {}
        }
    }
}

struct FlowChecker<'a, 'f> {
    project: &'a ProjectFile,
    object_type: Option<&'a ObjectType>,
    kind: FlowKind,
    /// `for_each` variables in scope.
    items: Vec<String>,
    found: &'f mut Found,
}

impl FlowChecker<'_, '_> {
    fn problem(&mut self, key: KeyPath, message: impl Into<String>) {
        self.found.push((key, message.into()));
    }

    fn steps(&mut self, steps: &[Step], key: &KeyPath) {
        if steps.is_empty() {
            self.problem(key.clone(), "a flow or loop needs at least one step");
        }
        for (i, step) in steps.iter().enumerate() {
            self.step(step, &key.index(i));
        }
    }

    fn step(&mut self, step: &Step, key: &KeyPath) {
        let actions: Vec<&str> = [
            ("request", step.request.is_some()),
            ("soap", step.soap.is_some()),
            ("set", step.set.is_some()),
            ("for_each", step.for_each.is_some()),
            ("do_while", step.do_while.is_some()),
            ("emit", step.emit.is_some()),
            ("result", step.result.is_some()),
            ("log", step.log.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name)
        .collect();
        match actions.as_slice() {
            [_] => {}
            [] => self.problem(
                key.clone(),
                "the step does nothing; give it one of request, soap, set, for_each, do_while, emit, result, log",
            ),
            many => self.problem(
                key.clone(),
                format!("the step has {}; split it into one step each", many.join(" and ")),
            ),
        }
        let looping = step.for_each.is_some() || step.do_while.is_some();
        if !looping && !step.steps.is_empty() {
            self.problem(
                key.key("steps"),
                "only for_each and do_while steps have a body",
            );
        }
        if step.item.is_some() && step.for_each.is_none() {
            self.problem(key.key("as"), "'as' names the variable of a for_each");
        }
        if step.max_iterations.is_some() && step.do_while.is_none() {
            self.problem(
                key.key("max_iterations"),
                "'max_iterations' bounds a do_while",
            );
        }
        if let Some(condition) = &step.when {
            self.condition(condition, &key.key("when"));
        }
        if let Some(request) = &step.request {
            self.request(request, &key.key("request"));
        }
        if let Some(call) = &step.soap {
            self.soap(call, &key.key("soap"));
        }
        if let Some(set) = &step.set {
            for (target, value) in set {
                let at = key.key("set").key(target);
                self.target(target, &at);
                self.template(value, &at);
            }
        }
        if let Some(source) = &step.for_each {
            match source.strip_prefix(XPATH) {
                Some(expression) => {
                    if let Some(x) = self.xpath(expression, &key.key("for_each")) {
                        if !x.is_path() {
                            self.problem(
                                key.key("for_each"),
                                format!("XPath '{expression}' computes a value; for_each needs a location path that selects nodes, such as //p:item"),
                            );
                        }
                    }
                }
                None => self.template(source, &key.key("for_each")),
            }
            match &step.item {
                Some(item) => {
                    self.items.push(item.clone());
                    self.steps(&step.steps, &key.key("steps"));
                    self.items.pop();
                }
                None => self.problem(
                    key.key("for_each"),
                    "a for_each needs 'as', the name its steps use for the element",
                ),
            }
        }
        if let Some(condition) = &step.do_while {
            self.steps(&step.steps, &key.key("steps"));
            self.condition(condition, &key.key("do_while"));
            if step.max_iterations == Some(0) {
                self.problem(
                    key.key("max_iterations"),
                    "0 iterations would never run the body",
                );
            }
        }
        if let Some(emit) = &step.emit {
            self.emit(emit, &key.key("emit"));
        }
        if let Some(result) = &step.result {
            if self.kind.is_import() && result.code == ResultCode::Success {
                self.problem(
                    key.key("result"),
                    "an import has no per-entry result; a result other than success fails the import",
                );
            }
            if let Some(message) = &result.message {
                self.template(message, &key.key("result").key("message"));
            }
        }
        if let Some(line) = &step.log {
            self.template(line, &key.key("log"));
        }
    }

    fn request(&mut self, request: &Request, key: &KeyPath) {
        if let Some(service) = &request.service {
            if !self
                .project
                .discovery
                .rest
                .iter()
                .any(|s| &s.name == service)
            {
                self.problem(
                    key.key("service"),
                    format!("no REST service '{service}' in [[discovery.rest]]; record it with `ecmahost ws add-rest` or remove the key"),
                );
            }
        }
        self.template(&request.path, &key.key("path"));
        for (name, value) in &request.query {
            self.template(value, &key.key("query").key(name));
        }
        for (name, value) in &request.headers {
            self.template(value, &key.key("headers").key(name));
        }
        if let Some(body) = &request.body {
            self.json(body, &key.key("body"));
        }
        for status in &request.accept {
            if !(100..=599).contains(status) {
                self.problem(key.key("accept"), format!("{status} is not an HTTP status"));
            }
        }
        for (target, value) in &request.save {
            let at = key.key("save").key(target);
            self.target(target, &at);
            if !value.starts_with('/') {
                self.template(value, &at);
            }
        }
    }

    fn soap(&mut self, call: &SoapCall, key: &KeyPath) {
        if let Some(service) = &call.service {
            match self.project.discovery.soap.iter().find(|s| &s.name == service) {
                None => self.problem(
                    key.key("service"),
                    format!("no SOAP service '{service}' in [[discovery.soap]]; run `ecmahost ws discover` or remove the key"),
                ),
                Some(s) => {
                    let known = s
                        .ports
                        .iter()
                        .any(|p| p.operations.iter().any(|o| o.name == call.operation));
                    if !known {
                        self.problem(
                            key.key("operation"),
                            format!("SOAP service '{service}' has no operation '{}'", call.operation),
                        );
                    }
                }
            }
        }
        if let Some(version) = &call.version {
            if version != "1.1" && version != "1.2" {
                self.problem(key.key("version"), format!("'{version}' is not 1.1 or 1.2"));
            }
        }
        if let Some(path) = &call.path {
            self.template(path, &key.key("path"));
        }
        if let Some(body) = &call.body {
            self.template(body, &key.key("body"));
        }
        for (target, value) in &call.save {
            let at = key.key("save").key(target);
            self.target(target, &at);
            match value.strip_prefix(XPATH) {
                Some(expression) => {
                    self.xpath(expression, &at);
                }
                None if !value.starts_with('/') => self.template(value, &at),
                None => {}
            }
        }
    }

    /// Check an XPath expression against the project's `[namespaces]`.
    fn xpath(&mut self, expression: &str, key: &KeyPath) -> Option<XPath> {
        match XPath::parse(expression, &self.project.namespaces) {
            Ok(x) => Some(x),
            Err(e) => {
                self.problem(key.clone(), e.to_string());
                None
            }
        }
    }

    fn json(&mut self, value: &serde_json::Value, key: &KeyPath) {
        match value {
            serde_json::Value::String(s) => self.template(s, key),
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.json(v, &key.index(i));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    self.json(v, &key.key(k));
                }
            }
            _ => {}
        }
    }

    fn target(&mut self, text: &str, key: &KeyPath) {
        match Target::parse(text) {
            Err(message) => self.problem(key.clone(), message),
            Ok(Target::Watermark) if !self.kind.is_import() => self.problem(
                key.clone(),
                "only import flows set the watermark (for the next delta import)",
            ),
            Ok(Target::Anchor(name)) => {
                let anchors = self
                    .object_type
                    .map(|t| t.anchor.names())
                    .unwrap_or_default();
                if !matches!(self.kind, FlowKind::ExportAdd | FlowKind::ExportReplace) {
                    self.problem(
                        key.clone(),
                        "only export_add and export_replace flows return an assigned anchor",
                    );
                } else if !anchors.contains(&name.as_str()) {
                    self.problem(key.clone(), format!("'{name}' is not an anchor attribute"));
                }
            }
            Ok(_) => {}
        }
    }

    fn condition(&mut self, condition: &Condition, key: &KeyPath) {
        match condition {
            Condition::NotEmpty(t) | Condition::Empty(t) => self.template(t, key),
            Condition::Equals([a, b]) | Condition::NotEquals([a, b]) => {
                self.template(a, key);
                self.template(b, key);
            }
            Condition::Status(statuses) => {
                if statuses.is_empty() {
                    self.problem(key.clone(), "list at least one status");
                }
            }
            Condition::All(all) | Condition::Any(all) => {
                for (i, c) in all.iter().enumerate() {
                    self.condition(c, &key.index(i));
                }
            }
            Condition::Not(inner) => self.condition(inner, &key.key("not")),
        }
    }

    fn emit(&mut self, emit: &Emit, key: &KeyPath) {
        if !self.kind.is_import() {
            self.problem(key.clone(), "only import flows emit entries");
            return;
        }
        let Some(t) = self.object_type else { return };
        for name in t.anchor.names() {
            if !emit.attributes.contains_key(name) {
                self.problem(
                    key.key("attributes"),
                    format!("the anchor '{name}' must be emitted"),
                );
            }
        }
        for (name, value) in &emit.attributes {
            let at = key.key("attributes").key(name);
            match t.attribute(name) {
                None => self.problem(
                    at.clone(),
                    format!("'{name}' is not an attribute of '{}'", t.name),
                ),
                Some(a) if a.direction == Direction::ExportOnly => self.problem(
                    at.clone(),
                    format!("'{name}' is export-only; it cannot be imported"),
                ),
                Some(_) => {}
            }
            self.template(value, &at);
        }
        if let Some(dn) = &emit.dn {
            self.template(dn, &key.key("dn"));
        }
        if let Some(m) = &emit.modification {
            self.template(m, &key.key("modification"));
            if Template::parse(m).is_ok_and(|t| t.single().is_none())
                && !matches!(m.as_str(), "add" | "replace" | "delete")
            {
                self.problem(
                    key.key("modification"),
                    format!("'{m}' is not add, replace or delete"),
                );
            }
        }
    }

    fn template(&mut self, text: &str, key: &KeyPath) {
        let (kind, object_type, items) = (self.kind, self.object_type, self.items.clone());
        check_template(text, key, self.found, &mut |source| {
            source_problem(source, kind, object_type, &items)
        });
    }
}

fn check_template(
    text: &str,
    key: &KeyPath,
    found: &mut Found,
    problem: &mut dyn FnMut(&Source) -> Option<String>,
) {
    match Template::parse(text) {
        Err(e) => found.push((key.clone(), format!("in '{text}': {e}"))),
        Ok(t) => {
            for r in t.references() {
                if let Source::Param(name) = &r.source {
                    if SECRET_PARAMETERS.contains(&name.as_str()) {
                        found.push((
                            key.clone(),
                            format!("'{{param.{name}}}' would put a secret into a request; secrets go only through [auth]"),
                        ));
                    }
                } else if let Some(message) = problem(&r.source) {
                    found.push((key.clone(), format!("in '{text}': {message}")));
                }
            }
        }
    }
}

/// Why `source` is unknown in this flow, if it is.
fn source_problem(
    source: &Source,
    kind: FlowKind,
    object_type: Option<&ObjectType>,
    items: &[String],
) -> Option<String> {
    let object_only = |what: &str| {
        (!kind.has_object()).then(|| {
            format!(
                "'{what}' names the exported object; a {} flow has none",
                kind.key()
            )
        })
    };
    match source {
        Source::Anchor(None) | Source::Dn => object_only(&source.to_string()),
        Source::Anchor(Some(name)) => object_only("anchor").or_else(|| {
            let anchors = object_type.map(|t| t.anchor.names()).unwrap_or_default();
            (!anchors.contains(&name.as_str()))
                .then(|| format!("'{name}' is not an anchor attribute"))
        }),
        Source::Attr(name) => object_only("attr").or_else(|| {
            (!object_type.is_some_and(|t| t.knows(name)))
                .then(|| format!("'{name}' is not an attribute of this object type"))
        }),
        Source::Item(name) => (!items.contains(name)).then(|| {
            format!("'{name}' is no for_each variable here (and not a known name such as var.NAME, attr.NAME, response)")
        }),
        Source::Password => (!matches!(kind, FlowKind::PasswordSet | FlowKind::PasswordChange))
            .then(|| "'password' is known only in password flows".to_string()),
        Source::OldPassword => (kind != FlowKind::PasswordChange)
            .then(|| "'old_password' is known only in a password_change flow".to_string()),
        Source::Watermark => (kind != FlowKind::DeltaImport)
            .then(|| "'watermark' is known only in a delta_import flow".to_string()),
        Source::PageSize => (!kind.is_import())
            .then(|| "'page_size' is known only in import flows".to_string()),
        Source::ObjectType
        | Source::Var(_)
        | Source::Param(_)
        | Source::Response
        | Source::Status
        | Source::Step(_) => None,
    }
}
