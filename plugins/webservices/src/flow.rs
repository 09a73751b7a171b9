//! The flow interpreter: runs a flow's steps in order against a service, with the flow's
//! context (the object, variables, loop elements, responses), and returns what the flow
//! assigned (anchors, watermark) or the error it ended with. Import flows hand each emitted
//! entry to a channel.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use ecma_plugin_api::{
    AnchorAttribute, AttributeChange, AttributeModification, CsEntryChange, ObjectModification,
    ParameterValues, Secret,
};
use ecma_ws_project::template::{Filter, Part, Reference, Source, Target, Template};
use ecma_ws_project::xpath::{Document, XPath};
use ecma_ws_project::{
    Condition, Discovery, Emit, FlowKind, ObjectType, Request, ResultCode, SoapCall, Step,
    DEFAULT_MAX_ITERATIONS, XPATH,
};
use serde_json::Value as Json;
use tokio::sync::mpsc;

use crate::error::WsError;
use crate::http::{HttpRequest, HttpService, RequestBody};
use crate::pointer::select;
use crate::redact::Redactor;
use crate::service::Service;
use crate::soap;
use crate::values::{self, FlowObject};

/// What a finished flow assigned.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub anchors: Vec<(String, Json)>,
    pub watermark: Option<String>,
}

/// Where an import flow's entries go.
pub(crate) type EntrySink = mpsc::Sender<CsEntryChange>;

/// Everything a flow run may read, and what it has assigned so far.
pub(crate) struct FlowRun<'a> {
    pub http: &'a HttpService,
    discovery: &'a Discovery,
    namespaces: &'a BTreeMap<String, String>,
    pub kind: FlowKind,
    pub object_type: Option<&'a ObjectType>,
    pub object: Option<FlowObject>,
    pub parameters: &'a ParameterValues,
    pub page_size: u32,
    pub watermark: String,
    pub password: Option<Secret>,
    pub old_password: Option<Secret>,
    pub sink: Option<EntrySink>,
    /// Part of a delta import: emitted entries default to `Replace`.
    pub delta: bool,
    redactor: Redactor,
    variables: BTreeMap<String, Json>,
    items: Vec<(String, Json)>,
    last: Option<(u16, Json)>,
    /// The last SOAP response's XML, for `for_each = "xpath:..."`.
    last_xml: Option<String>,
    named: BTreeMap<String, Json>,
    outcome: Outcome,
    emitted: u64,
}

enum Control {
    Next,
    /// A `result = success` step ended the flow.
    Done,
}

type StepsFuture<'f> = Pin<Box<dyn Future<Output = Result<Control, WsError>> + Send + 'f>>;

impl<'a> FlowRun<'a> {
    pub(crate) fn new(
        service: &'a Service,
        kind: FlowKind,
        object_type: Option<&'a ObjectType>,
        parameters: &'a ParameterValues,
    ) -> Self {
        let http = &service.http;
        Self {
            http,
            discovery: &service.project.discovery,
            namespaces: &service.project.namespaces,
            kind,
            object_type,
            object: None,
            parameters,
            page_size: 0,
            watermark: String::new(),
            password: None,
            old_password: None,
            sink: None,
            delta: false,
            redactor: http.redactor.clone(),
            variables: BTreeMap::new(),
            items: Vec::new(),
            last: None,
            last_xml: None,
            named: BTreeMap::new(),
            outcome: Outcome::default(),
            emitted: 0,
        }
    }

    /// Run `steps`; the error a step failed with (messages redacted), or what was assigned.
    pub(crate) async fn run(mut self, steps: &[Step]) -> Result<Outcome, WsError> {
        let secrets: Vec<String> = [&self.password, &self.old_password]
            .into_iter()
            .flatten()
            .map(|s| s.expose().to_string())
            .collect();
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        self.redactor = self.http.redactor.with(&refs);
        match self.steps(steps).await {
            Ok(_) => Ok(self.outcome),
            Err(e) => Err(redact_error(e, &self.redactor)),
        }
    }

    fn steps<'f>(&'f mut self, steps: &'f [Step]) -> StepsFuture<'f> {
        Box::pin(async move {
            for step in steps {
                if let Some(condition) = &step.when {
                    if !self.holds(condition)? {
                        continue;
                    }
                }
                if let Control::Done = self.step(step).await? {
                    return Ok(Control::Done);
                }
            }
            Ok(Control::Next)
        })
    }

    async fn step(&mut self, step: &Step) -> Result<Control, WsError> {
        if let Some(request) = &step.request {
            self.request(request, step.name.as_deref()).await?;
        } else if let Some(call) = &step.soap {
            self.soap(call, step.name.as_deref()).await?;
        } else if let Some(set) = &step.set {
            for (target, value) in set {
                let value = self.value(value)?;
                self.assign(target, value)?;
            }
        } else if let (Some(source), Some(item)) = (&step.for_each, &step.item) {
            let elements = match source.strip_prefix(XPATH) {
                Some(expression) => {
                    let xml = self.last_xml.as_deref().ok_or_else(|| {
                        WsError::Flow(format!(
                            "for_each '{source}' reads the last SOAP response, and no SOAP step has answered yet"
                        ))
                    })?;
                    let document =
                        Document::parse(xml).map_err(|e| WsError::Flow(e.to_string()))?;
                    self.xpath(expression)?.select_all(&document)
                }
                None => self.json_elements(source)?,
            };
            for element in elements {
                self.items.push((item.clone(), element));
                let control = self.steps(&step.steps).await;
                self.items.pop();
                if let Control::Done = control? {
                    return Ok(Control::Done);
                }
            }
        } else if let Some(condition) = &step.do_while {
            let bound = step.max_iterations.unwrap_or(DEFAULT_MAX_ITERATIONS);
            let mut iterations = 0u32;
            loop {
                if let Control::Done = self.steps(&step.steps).await? {
                    return Ok(Control::Done);
                }
                iterations += 1;
                if !self.holds(condition)? {
                    break;
                }
                if iterations >= bound {
                    return Err(WsError::Flow(format!(
                        "a do_while loop of the {} flow still continued after {bound} iterations (max_iterations); check its condition",
                        self.kind.key()
                    )));
                }
            }
        } else if let Some(emit) = &step.emit {
            self.emit(emit).await?;
        } else if let Some(result) = &step.result {
            let message = match &result.message {
                Some(m) => values::text(&self.value(m)?),
                None => format!("the {} flow ended with {:?}", self.kind.key(), result.code),
            };
            if result.code == ResultCode::Success {
                return Ok(Control::Done);
            }
            return Err(WsError::Result {
                code: result.code,
                message,
            });
        } else if let Some(line) = &step.log {
            let line = values::text(&self.value(line)?);
            log::info!("{}", self.redactor.apply(&line));
        }
        Ok(Control::Next)
    }

    /// The elements of a `for_each` template's array.
    fn json_elements(&self, source: &str) -> Result<Vec<Json>, WsError> {
        Ok(match self.value(source)? {
            Json::Array(elements) => elements,
            Json::Null => Vec::new(),
            // XML has no arrays: one repeated element comes as an object.
            one @ Json::Object(_) => vec![one],
            other => {
                return Err(WsError::Flow(format!(
                    "for_each '{source}' is not an array: {}",
                    short(&other)
                )))
            }
        })
    }

    /// An XPath expression of the project (checked at load), with its `[namespaces]`.
    fn xpath(&self, expression: &str) -> Result<XPath, WsError> {
        XPath::parse(expression, self.namespaces).map_err(|e| WsError::Configuration(e.to_string()))
    }

    async fn request(&mut self, request: &Request, name: Option<&str>) -> Result<(), WsError> {
        let path = values::text(&self.value(&request.path)?);
        let url = self.http.url(&path)?;
        let mut query = Vec::new();
        for (key, value) in &request.query {
            let value = values::text(&self.value(value)?);
            if !value.is_empty() {
                query.push((key.clone(), value));
            }
        }
        let mut headers = Vec::new();
        for (key, value) in &request.headers {
            headers.push((key.clone(), values::text(&self.value(value)?)));
        }
        let body = match &request.body {
            Some(body) => Some(RequestBody::Json(self.body(body, request.omit_null)?)),
            None => None,
        };
        let http_request = HttpRequest {
            method: request.method,
            url,
            query,
            headers,
            body,
        };
        let response = self.http.send(&http_request).await?;
        let accepted =
            (200..300).contains(&response.status) || request.accept.contains(&response.status);
        if !accepted {
            return Err(self.http.refusal(&http_request, &response));
        }
        self.last_xml = None;
        self.answered(name, response.status, response.body, &request.save, None)
    }

    /// Keep a response as the last one (and under the step's name), then apply `save`.
    fn answered(
        &mut self,
        name: Option<&str>,
        status: u16,
        body: Json,
        save: &BTreeMap<String, String>,
        xml: Option<&Document>,
    ) -> Result<(), WsError> {
        if let Some(name) = name {
            self.named.insert(name.to_string(), body.clone());
        }
        self.last = Some((status, body));
        for (target, value) in save {
            let value = match (value.strip_prefix(XPATH), xml) {
                (Some(expression), Some(document)) => self.xpath(expression)?.select(document),
                (Some(_), None) => {
                    return Err(WsError::Configuration(format!(
                        "save '{target}' = '{value}': XPath reads SOAP responses only"
                    )))
                }
                _ if value.starts_with('/') => select(self.last_body(), value),
                _ => self.value(value)?,
            };
            self.assign(target, value)?;
        }
        Ok(())
    }

    async fn soap(&mut self, call: &SoapCall, name: Option<&str>) -> Result<(), WsError> {
        let service = call
            .service
            .as_ref()
            .and_then(|s| self.discovery.soap.iter().find(|d| &d.name == s));
        let (port, operation) = service
            .and_then(|s| {
                s.ports.iter().find_map(|p| {
                    p.operations
                        .iter()
                        .find(|o| o.name == call.operation)
                        .map(|o| (p, o))
                })
            })
            .unzip();
        let version = match call
            .version
            .as_deref()
            .or(port.map(|p| p.soap_version.as_str()))
        {
            Some("1.2") => soap::Version::V12,
            _ => soap::Version::V11,
        };
        let action = call
            .action
            .clone()
            .or(operation.map(|o| o.soap_action.clone()))
            .unwrap_or_default();
        let namespace = call
            .namespace
            .clone()
            .or(service.and_then(|s| s.target_namespace.clone()))
            .unwrap_or_default();
        let path = match &call.path {
            Some(path) => values::text(&self.value(path)?),
            // The discovered address names the service's own host: keep only its path, so
            // the base URL (and the host and port parameters) decide where it goes.
            None => port
                .and_then(|p| reqwest::Url::parse(&p.address).ok())
                .map(|u| u.path().to_string())
                .unwrap_or_default(),
        };
        let body = match &call.body {
            Some(body) => self.xml(body)?,
            None => String::new(),
        };
        let envelope = soap::Call {
            version,
            operation: &call.operation,
            namespace: &namespace,
            qualified: call.qualified,
            body: &body,
            security: self.http.ws_security(),
        }
        .envelope();
        let request = HttpRequest {
            method: ecma_ws_project::Method::Post,
            url: self.http.url(&path)?,
            query: Vec::new(),
            headers: soap::Call::headers(version, &action),
            body: Some(RequestBody::Xml(envelope)),
        };
        let response = self.http.send(&request).await?;
        let ok = (200..300).contains(&response.status);
        let busy = matches!(response.status, 429 | 502..=504);
        match (ok, soap::read_response(&response.text)) {
            (true, Ok(Ok(json))) => {
                let document = if call.save.values().any(|v| v.starts_with(XPATH)) {
                    Some(
                        Document::parse(&response.text)
                            .map_err(|e| WsError::Flow(format!("{}: {e}", call.operation)))?,
                    )
                } else {
                    None
                };
                self.answered(name, response.status, json, &call.save, document.as_ref())?;
                self.last_xml = Some(response.text);
                Ok(())
            }
            (_, Ok(Err(fault))) if !busy => Err(WsError::Fault {
                operation: call.operation.clone(),
                code: fault.code,
                message: fault.message,
            }),
            (true, Err(problem)) => Err(WsError::Flow(format!("{}: {problem}", call.operation))),
            _ => Err(self.http.refusal(&request, &response)),
        }
    }

    /// A template as XML text: every placeholder's value escaped.
    fn xml(&self, text: &str) -> Result<String, WsError> {
        let template = Template::parse(text)
            .map_err(|e| WsError::Configuration(format!("template '{text}': {e}")))?;
        let mut out = String::new();
        for part in &template.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => {
                    out.push_str(&quick_xml::escape::escape(values::text(&self.resolve(r))))
                }
            }
        }
        Ok(out)
    }

    fn last_body(&self) -> &Json {
        self.last.as_ref().map_or(&Json::Null, |(_, body)| body)
    }

    fn body(&self, template: &Json, omit_null: bool) -> Result<Json, WsError> {
        Ok(match template {
            Json::String(s) => self.value(s)?,
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.body(v, omit_null))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let v = self.body(v, omit_null)?;
                    if !(omit_null && v.is_null()) {
                        out.insert(k.clone(), v);
                    }
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }

    fn assign(&mut self, target: &str, value: Json) -> Result<(), WsError> {
        match Target::parse(target).map_err(WsError::Configuration)? {
            Target::Var(name) => {
                self.variables.insert(name, value);
            }
            Target::Anchor(name) => {
                self.outcome.anchors.retain(|(n, _)| n != &name);
                self.outcome.anchors.push((name, value));
            }
            Target::Watermark => self.outcome.watermark = Some(values::text(&value)),
        }
        Ok(())
    }

    fn holds(&self, condition: &Condition) -> Result<bool, WsError> {
        Ok(match condition {
            Condition::NotEmpty(t) => !values::is_empty(&self.value(t)?),
            Condition::Empty(t) => values::is_empty(&self.value(t)?),
            Condition::Equals([a, b]) => {
                values::text(&self.value(a)?) == values::text(&self.value(b)?)
            }
            Condition::NotEquals([a, b]) => {
                values::text(&self.value(a)?) != values::text(&self.value(b)?)
            }
            Condition::Status(statuses) => self
                .last
                .as_ref()
                .is_some_and(|(status, _)| statuses.contains(status)),
            Condition::All(all) => {
                for c in all {
                    if !self.holds(c)? {
                        return Ok(false);
                    }
                }
                true
            }
            Condition::Any(any) => {
                for c in any {
                    if self.holds(c)? {
                        return Ok(true);
                    }
                }
                false
            }
            Condition::Not(inner) => !self.holds(inner)?,
        })
    }

    /// A template's value: a lone placeholder keeps its JSON type, anything else is text.
    fn value(&self, text: &str) -> Result<Json, WsError> {
        let template = Template::parse(text)
            .map_err(|e| WsError::Configuration(format!("template '{text}': {e}")))?;
        if let Some(reference) = template.single() {
            return Ok(self.resolve(reference));
        }
        let mut out = String::new();
        for part in &template.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => out.push_str(&values::text(&self.resolve(r))),
            }
        }
        Ok(Json::String(out))
    }

    fn resolve(&self, reference: &Reference) -> Json {
        let object = self.object.as_ref();
        let base = match &reference.source {
            Source::Anchor(None) => object
                .and_then(|o| o.anchor.first())
                .map_or(Json::Null, |(_, v)| v.clone()),
            Source::Anchor(Some(name)) => object
                .and_then(|o| o.anchor.iter().find(|(n, _)| n == name))
                .map_or(Json::Null, |(_, v)| v.clone()),
            Source::Dn => object.map_or(Json::Null, |o| Json::String(o.dn.clone())),
            Source::ObjectType => self
                .object_type
                .map_or(Json::Null, |t| Json::String(t.name.clone())),
            Source::Attr(name) => object
                .and_then(|o| o.attributes.get(name).cloned())
                .unwrap_or(Json::Null),
            Source::Var(name) => self.variables.get(name).cloned().unwrap_or(Json::Null),
            Source::Param(name) if !self.parameters.is_secret(name) => self
                .parameters
                .get(name)
                .map_or(Json::Null, |v| Json::String(v.to_string())),
            Source::Param(_) => Json::Null,
            Source::Response => self.last_body().clone(),
            Source::Status => self
                .last
                .as_ref()
                .map_or(Json::Null, |(status, _)| Json::from(*status)),
            Source::Step(name) => self.named.get(name).cloned().unwrap_or(Json::Null),
            Source::Item(name) => self
                .items
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map_or(Json::Null, |(_, v)| v.clone()),
            Source::PageSize => Json::from(self.page_size),
            Source::Watermark => Json::String(self.watermark.clone()),
            Source::Password => self
                .password
                .as_ref()
                .map_or(Json::Null, |p| Json::String(p.expose().to_string())),
            Source::OldPassword => self
                .old_password
                .as_ref()
                .map_or(Json::Null, |p| Json::String(p.expose().to_string())),
        };
        let value = match &reference.pointer {
            Some(pointer) => select(&base, pointer),
            None => base,
        };
        match reference.filter {
            Some(Filter::Len) => Json::from(match &value {
                Json::Array(a) => a.len(),
                Json::String(s) => s.chars().count(),
                Json::Object(o) => o.len(),
                _ => 0,
            }),
            Some(Filter::Add(n)) => {
                let base = match &value {
                    Json::Number(v) => v.as_i64().unwrap_or_default(),
                    Json::String(s) => s.trim().parse().unwrap_or_default(),
                    _ => 0,
                };
                Json::from(base.saturating_add(n))
            }
            None => value,
        }
    }

    async fn emit(&mut self, emit: &Emit) -> Result<(), WsError> {
        let (Some(t), Some(sink)) = (self.object_type, &self.sink) else {
            return Ok(());
        };
        let modification = match &emit.modification {
            Some(m) => match values::text(&self.value(m)?).to_ascii_lowercase().as_str() {
                "add" => ObjectModification::Add,
                "replace" | "update" => ObjectModification::Replace,
                "delete" => ObjectModification::Delete,
                other => {
                    return Err(WsError::Flow(format!(
                        "emit.modification rendered '{other}', which is not add, replace or delete"
                    )))
                }
            },
            None if self.delta => ObjectModification::Replace,
            None => ObjectModification::Add,
        };
        let mut anchor = Vec::new();
        let mut changes = Vec::new();
        for (name, template) in &emit.attributes {
            let Some(attribute) = t.attribute(name) else {
                continue;
            };
            // An empty string is no value (an empty XML element, an empty JSON field).
            let json = match self.value(template)? {
                Json::String(s) if s.is_empty() => Json::Null,
                other => other,
            };
            let found = values::from_json(&json, attribute.value_type, name)?;
            if t.anchor.names().contains(&name.as_str()) {
                let value = found.into_iter().next().ok_or_else(|| {
                    WsError::Flow(format!(
                        "an imported {} has no value for its anchor '{name}' ({template})",
                        t.name
                    ))
                })?;
                anchor.push(AnchorAttribute {
                    name: name.clone(),
                    value,
                });
            } else if !found.is_empty() && modification != ObjectModification::Delete {
                let found = if attribute.multi_valued {
                    found
                } else {
                    found.into_iter().take(1).collect()
                };
                changes.push(AttributeChange::set(
                    name.clone(),
                    AttributeModification::Add,
                    found,
                ));
            }
        }
        let anchor_text = anchor
            .iter()
            .map(|a| a.value.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let dn = match &emit.dn {
            Some(dn) => values::text(&self.value(dn)?),
            None => anchor_text,
        };
        self.emitted += 1;
        let entry = CsEntryChange {
            identifier: self.emitted.to_string(),
            object_type: t.name.clone(),
            dn,
            modification,
            anchor,
            changes,
        };
        sink.send(entry)
            .await
            .map_err(|_| WsError::Flow("the import was closed before its flow ended".into()))
    }
}

fn short(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn redact_error(error: WsError, redactor: &Redactor) -> WsError {
    match error {
        WsError::Status {
            method,
            url,
            status,
            message,
            retry_after,
        } => WsError::Status {
            method,
            url: redactor.apply(&url),
            status,
            message: redactor.apply(&message),
            retry_after,
        },
        WsError::Result { code, message } => WsError::Result {
            code,
            message: redactor.apply(&message),
        },
        WsError::Flow(m) => WsError::Flow(redactor.apply(&m)),
        WsError::Fault {
            operation,
            code,
            message,
        } => WsError::Fault {
            operation,
            code,
            message: redactor.apply(&message),
        },
        WsError::Transport(m) => WsError::Transport(redactor.apply(&m)),
        other => other,
    }
}
