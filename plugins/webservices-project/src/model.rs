//! The project file as written: strict serde structs (unknown keys are refused), with the JSON
//! Schema derived from the same types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A web services project: how to reach the service, what was discovered, the connector
/// schema, and the operation flows per object type.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Format version; 1.
    pub version: u32,
    /// The project's name, shown in logs and `ecmahost ws` output.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub connection: Connection,
    /// How requests authenticate. Credentials are never written here: they are the
    /// connector's encrypted parameters (`user`, `password`, `client_id`, `client_secret`,
    /// `api_key`, `bearer_token`).
    #[serde(default)]
    pub auth: Auth,
    /// What discovery recorded (`ecmahost ws discover`, `ecmahost ws add-rest`).
    #[serde(default)]
    pub discovery: Discovery,
    /// XML namespace prefixes for the `xpath:` expressions of SOAP steps: prefix = URI.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespaces: BTreeMap<String, String>,
    /// The connector schema with each object type's flows.
    pub object_types: Vec<ObjectType>,
    /// Test Connection: run by the host before it swaps in a reloaded connector and by
    /// `ecmahost ws test --flow test_connection`. Without it, the connection test
    /// authenticates and sends `GET` to the base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_connection: Option<Flow>,
}

/// Where the service is and how patiently to talk to it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// `http://` or `https://` URL that request paths are relative to. The connector's
    /// `host` and `port` parameters override its host and port.
    pub base_url: String,
    /// Time-out of one HTTP request, in seconds (1 to 600).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// At most this many requests per second to the service, across all calls of the
    /// connector; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_second: Option<u32>,
    #[serde(default)]
    pub retry: Retry,
    /// Headers sent with every request (templates; `{param.NAME}` may be used).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

pub fn default_timeout() -> u64 {
    30
}

/// Retries of requests answered 429, 502, 503 or 504, or that failed to connect.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (1 turns retries off; at most 10).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for every further one.
    #[serde(default = "default_backoff")]
    pub initial_backoff_ms: u64,
    /// The longest wait between two attempts, `Retry-After` included: a longer
    /// `Retry-After` is not waited for, and the request fails as busy.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
}

fn default_attempts() -> u32 {
    4
}
fn default_backoff() -> u64 {
    200
}
fn default_max_backoff() -> u64 {
    10_000
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: default_attempts(),
            initial_backoff_ms: default_backoff(),
            max_backoff_ms: default_max_backoff(),
        }
    }
}

/// How every request authenticates.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// HTTP Basic with the `user` and `password` parameters.
    Basic,
    /// HTTP Digest (RFC 7616, MD5, `qop=auth`) with the `user` and `password` parameters.
    Digest,
    /// `Authorization: Bearer` with the `bearer_token` parameter.
    Bearer,
    /// The `api_key` parameter in a header or a query parameter.
    ApiKey {
        #[serde(rename = "in")]
        location: ApiKeyLocation,
        /// The header or query parameter name, e.g. `X-API-Key`.
        name: String,
    },
    /// WS-Security UsernameToken (`PasswordText`) in the header of every SOAP call, with the
    /// `user` and `password` parameters. REST calls go without credentials.
    WsSecurity,
    /// OAuth 2.0 client credentials (RFC 6749 §4.4) with the `client_id` and `client_secret`
    /// parameters. The token is cached, fetched again shortly before it expires, and once
    /// more when the service answers 401.
    Oauth2ClientCredentials {
        /// Token endpoint: absolute, or relative to the base URL.
        token_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// How the client authenticates to the token endpoint.
        #[serde(default)]
        client_auth: ClientAuth,
        /// Fetch a new token this many seconds before the current one expires.
        #[serde(default = "default_refresh_margin")]
        refresh_before_seconds: u64,
    },
}

fn default_refresh_margin() -> u64 {
    30
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    Header,
    Query,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1, preferred).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// Discovery results: the services the flows may call.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rest: Vec<RestService>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soap: Vec<SoapService>,
}

/// One REST operation: endpoint, resource path, method and parameters, with a sample.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestService {
    /// What flows name in `request.service`.
    pub name: String,
    /// Absent: the connection's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Path with `{name}` placeholders for path parameters, e.g. `/api/users/{id}`.
    pub resource_path: String,
    pub method: Method,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<RestParameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_response: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestParameter {
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParameterLocation,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParameterLocation {
    Path,
    Query,
    Header,
    Body,
}

/// One SOAP service of a WSDL: its ports and their operations.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoapService {
    pub name: String,
    /// Where the WSDL was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wsdl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<SoapPort>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoapPort {
    pub name: String,
    pub binding: String,
    /// The endpoint address.
    pub address: String,
    /// `1.1` or `1.2`.
    pub soap_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<SoapOperation>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoapOperation {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub soap_action: String,
    /// `document` or `rpc`.
    pub style: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<MessagePart>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<MessagePart>,
}

/// A message part or element, with its children as the schema describes them.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePart {
    pub name: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<MessagePart>,
}

/// One object type of the connector schema, with its flows.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectType {
    pub name: String,
    /// The anchor attribute, or several for a multi-attribute anchor.
    pub anchor: Anchor,
    pub attributes: Vec<Attribute>,
    /// Add the export-only `export_password` attribute to the schema (as Microsoft's
    /// connector does), and take passwords through the `password_set` flow.
    #[serde(default)]
    pub export_password: bool,
    #[serde(default)]
    pub flows: Flows,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Anchor {
    One(String),
    Parts(Vec<String>),
}

impl Anchor {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Anchor::One(name) => vec![name.as_str()],
            Anchor::Parts(parts) => parts.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attribute {
    pub name: String,
    #[serde(default, rename = "type")]
    pub value_type: AttributeType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub direction: Direction,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    #[default]
    String,
    Integer,
    Boolean,
    /// Base64 in JSON.
    Binary,
    /// The anchor of another object.
    Reference,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    ImportExport,
    ImportOnly,
    ExportOnly,
}

/// The operations of one object type. A missing flow means the operation is not offered.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flows {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_import: Option<Flow>,
    /// Changes since `{watermark}`. Import flows set `watermark` for the next delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_import: Option<Flow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_add: Option<Flow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_replace: Option<Flow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_delete: Option<Flow>,
    /// Sets `{password}` (an administrator's reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_set: Option<Flow>,
    /// Changes `{old_password}` to `{password}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_change: Option<Flow>,
}

/// An ordered list of steps.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub steps: Vec<Step>,
}

/// One step. It does exactly one of: `request`, `set`, `for_each` (with `as` and `steps`),
/// `do_while` (with `steps`), `emit`, `result`, `log`. `when` makes any step conditional.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Names the step's response for later steps: `{steps.NAME./pointer}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Run the step only when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// A REST call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// A SOAP operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soap: Option<SoapCall>,
    /// Assignments: target (`var.NAME`, `anchor.NAME`, `watermark`) = template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<BTreeMap<String, String>>,
    /// Run `steps` once per element of this array (a template that names one, such as
    /// `{response./items}`), with the element as `{AS}` / `{AS./pointer}`. `xpath:PATH`
    /// runs them once per node the location path selects in the last SOAP response (an
    /// element as JSON: child elements by local name, attributes as `@name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// The loop variable's name for `for_each`.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Run `steps`, then again while this holds (paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub do_while: Option<Condition>,
    /// Bound of `do_while` (default 100000): the flow fails when reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// The body of `for_each` and `do_while`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Import flows: one entry for the connector space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit: Option<Emit>,
    /// Export and password flows: end the flow with this result for the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultStep>,
    /// A line for the connector's log (a template; secrets are redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// A REST call. Strings are templates.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The discovered REST service this call uses (documentation; it must exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub method: Method,
    /// Relative to the base URL, or absolute (a next link).
    pub path: String,
    /// Query parameters; one whose value renders empty is left out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body. A string that is exactly one placeholder becomes that value with its
    /// type (an array for a multi-valued attribute, null when absent); other strings are
    /// interpolated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Leave out of the body every object key whose value renders to null (an attribute
    /// without a value), instead of sending `null`.
    #[serde(default)]
    pub omit_null: bool,
    /// Statuses besides 2xx that do not fail the flow (e.g. 404 for a lookup); test them
    /// with `when = { status = [404] }`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<u16>,
    /// Assignments from the response: target (`var.NAME`, `anchor.NAME`, `watermark`) =
    /// a JSON Pointer into the body (`/id`) or a template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub save: BTreeMap<String, String>,
}

/// A SOAP call: the operation's element in the Body, its children from `body`. The response
/// Body becomes JSON (an element with children an object, repeated elements an array, text a
/// string), so `save` and templates use JSON Pointers into it:
/// `{response./BAPI_USER_GETLISTResponse/ROWS}`. A `save` value `xpath:EXPR` is an XPath
/// expression over the whole response envelope instead, its prefixes from `[namespaces]`.
/// A SOAP fault fails the flow.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoapCall {
    /// The discovered SOAP service (`[[discovery.soap]]`) whose port gives the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The operation, and the name of the Body's element.
    pub operation: String,
    /// The SOAP action; default: the discovered operation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The endpoint (a template; relative to the base URL, or absolute); default: the path of
    /// the discovered port's address, else the base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `1.1` or `1.2`; default: the discovered port's, else 1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The operation element's namespace; default: the service's target namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Child elements are in the namespace too (`elementFormDefault="qualified"`).
    #[serde(default)]
    pub qualified: bool,
    /// The operation element's children as an XML fragment, a template whose placeholders
    /// are XML-escaped: `<USERNAME>{anchor}</USERNAME><ADDRESS><E_MAIL>{attr.email}</E_MAIL></ADDRESS>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Assignments from the response, as in a REST request, or `xpath:EXPR` (an XPath
    /// expression over the response envelope: one node gives its value, several an array).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub save: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A test on templates or on the last response's status.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The template renders to something other than null, `""` or `[]`.
    NotEmpty(String),
    /// The template renders to null, `""` or `[]`.
    Empty(String),
    /// Both render to the same text.
    Equals([String; 2]),
    NotEquals([String; 2]),
    /// The last response's status is one of these.
    Status(Vec<u16>),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// One imported entry. Anchor attributes must be among `attributes`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Emit {
    /// Attribute = template (a pointer with `*` maps an array: `{user./emails/*/value}`).
    pub attributes: BTreeMap<String, String>,
    /// The DN; default: the anchor value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// `add`, `replace` or `delete` (a delta's deleted object); default `add` in a full
    /// import, `replace` in a delta. May be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modification: Option<String>,
}

/// The result of the entry being exported.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultStep {
    pub code: ResultCode,
    /// A template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// ECMA2's export error codes, plus `success` and `busy` (retry later).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResultCode {
    Success,
    ConnectedDirectoryError,
    InvalidDn,
    MissingAnchorComponent,
    SyntaxViolation,
    ObjectAlreadyExists,
    NoSuchObject,
    PermissionIssue,
    CustomContinueRun,
    CustomStopRun,
    Busy,
}
