//! OpenAPI 3.0 and 3.1 documents (JSON or YAML) read into REST services for a project: one
//! per operation, with the base URL of `servers[0]`, the path, the method, the parameters
//! (the path item's and the operation's, `$ref`s resolved) and request/response samples from
//! the document's examples, else made from the schemas.

use ecma_ws_project::{Method, ParameterLocation, RestParameter, RestService};
use serde_json::{Map, Value as Json};

/// Nesting of `$ref`s and schemas followed at most when a sample is made (recursive schemas
/// stop here).
const MAX_DEPTH: usize = 8;

/// The services of one document, and the operations left out (with why).
pub struct Imported {
    pub title: String,
    pub services: Vec<RestService>,
    pub skipped: Vec<String>,
}

/// Read `text` (JSON, else YAML); `file` only names it in errors.
pub fn read(text: &str, file: &str) -> Result<Imported, String> {
    let document: Json = match serde_json::from_str(text) {
        Ok(json) => json,
        Err(_) => yaml(text).map_err(|e| format!("{file} is neither JSON nor YAML: {e}"))?,
    };
    let version = document
        .get("openapi")
        .and_then(Json::as_str)
        .unwrap_or_default();
    if !(version.starts_with("3.0") || version.starts_with("3.1")) {
        return Err(format!(
            "{file}: 'openapi: {version}' is not OpenAPI 3.0 or 3.1 (a Swagger 2.0 document must be converted first)"
        ));
    }
    let paths = document
        .get("paths")
        .and_then(Json::as_object)
        .ok_or_else(|| format!("{file}: the document has no 'paths'"))?;
    let base_url = document.pointer("/servers/0").and_then(server_url);
    let title = document
        .pointer("/info/title")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let resolver = Resolver(&document);
    let mut services = Vec::new();
    let mut skipped = Vec::new();
    for (path, item) in paths {
        let item = resolver.follow(item);
        let shared = item.get("parameters");
        for (key, operation) in item.as_object().into_iter().flatten() {
            let method = match key.as_str() {
                "get" => Method::Get,
                "post" => Method::Post,
                "put" => Method::Put,
                "patch" => Method::Patch,
                "delete" => Method::Delete,
                "head" | "options" | "trace" => {
                    skipped.push(format!(
                        "{} {path}: the connector sends GET, POST, PUT, PATCH and DELETE only",
                        key.to_ascii_uppercase()
                    ));
                    continue;
                }
                _ => continue,
            };
            let name = operation
                .get("operationId")
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| generated_name(method, path));
            let mut parameters: Vec<RestParameter> = Vec::new();
            // The operation's own parameters override the path item's of the same name and place.
            let lists = [operation.get("parameters"), shared];
            for parameter in lists
                .into_iter()
                .flatten()
                .filter_map(Json::as_array)
                .flatten()
            {
                let parameter = resolver.follow(parameter);
                let Some(parameter) = rest_parameter(parameter, &resolver) else {
                    continue;
                };
                if !parameters
                    .iter()
                    .any(|p| p.name == parameter.name && p.location == parameter.location)
                {
                    parameters.push(parameter);
                }
            }
            let body = operation.get("requestBody").map(|b| resolver.follow(b));
            if let Some(body) = body {
                parameters.push(RestParameter {
                    name: "body".into(),
                    location: ParameterLocation::Body,
                    required: body.get("required").and_then(Json::as_bool) == Some(true),
                    value_type: json_media(body)
                        .and_then(|m| m.get("schema"))
                        .and_then(|s| resolver.follow(s).get("type"))
                        .and_then(Json::as_str)
                        .map(str::to_string),
                });
            }
            let response = operation
                .get("responses")
                .and_then(Json::as_object)
                .and_then(|responses| {
                    let mut codes: Vec<&String> =
                        responses.keys().filter(|c| c.starts_with('2')).collect();
                    codes.sort();
                    codes.first().and_then(|c| responses.get(*c))
                })
                .map(|r| resolver.follow(r));
            let description = ["summary", "description"]
                .iter()
                .find_map(|k| operation.get(*k).and_then(Json::as_str))
                .unwrap_or_default()
                .trim()
                .to_string();
            services.push(RestService {
                name,
                base_url: base_url.clone(),
                resource_path: path.clone(),
                method,
                parameters,
                sample_request: body.and_then(|b| resolver.sample(b)),
                sample_response: response.and_then(|r| resolver.sample(r)),
                description,
            });
        }
    }
    if services.is_empty() {
        return Err(format!("{file}: the document has no operation to record"));
    }
    let mut names = std::collections::HashSet::new();
    for s in &services {
        if !names.insert(s.name.as_str()) {
            return Err(format!(
                "{file}: two operations are named '{}' (operationId); names must be unique",
                s.name
            ));
        }
    }
    Ok(Imported {
        title,
        services,
        skipped,
    })
}

/// `servers[0].url` with its variables' defaults; absent when not an absolute http(s) URL.
fn server_url(server: &Json) -> Option<String> {
    let mut url = server.get("url")?.as_str()?.to_string();
    if let Some(variables) = server.get("variables").and_then(Json::as_object) {
        for (name, variable) in variables {
            if let Some(default) = variable.get("default").and_then(Json::as_str) {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    (url.starts_with("http://") || url.starts_with("https://"))
        .then(|| url.trim_end_matches('/').to_string())
}

/// `get_users_id` for `GET /users/{id}`.
fn generated_name(method: Method, path: &str) -> String {
    let mut name = method.as_str().to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            name.push('_');
            name.push_str(part);
        }
    }
    name
}

fn rest_parameter(parameter: &Json, resolver: &Resolver) -> Option<RestParameter> {
    let location = match parameter.get("in")?.as_str()? {
        "path" => ParameterLocation::Path,
        "query" => ParameterLocation::Query,
        "header" => ParameterLocation::Header,
        // Cookies are not sent by the connector.
        _ => return None,
    };
    Some(RestParameter {
        name: parameter.get("name")?.as_str()?.to_string(),
        required: location == ParameterLocation::Path
            || parameter.get("required").and_then(Json::as_bool) == Some(true),
        value_type: parameter
            .get("schema")
            .and_then(|s| resolver.follow(s).get("type"))
            .and_then(Json::as_str)
            .map(str::to_string),
        location,
    })
}

/// The JSON media type of a request body or response (`application/json`, `...+json`), else
/// its first.
fn json_media(holder: &Json) -> Option<&Json> {
    let content = holder.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.starts_with("application/json") || media.contains("+json"))
        .or_else(|| content.iter().next())
        .map(|(_, v)| v)
}

struct Resolver<'a>(&'a Json);

impl Resolver<'_> {
    /// `value`, or what its local `$ref` (`#/components/...`) names, followed a few times.
    fn follow<'v>(&'v self, value: &'v Json) -> &'v Json {
        let mut current = value;
        for _ in 0..MAX_DEPTH {
            match current.get("$ref").and_then(Json::as_str) {
                Some(reference) => match reference
                    .strip_prefix('#')
                    .and_then(|pointer| self.0.pointer(pointer))
                {
                    Some(next) => current = next,
                    None => return current,
                },
                None => return current,
            }
        }
        current
    }

    /// A sample body as pretty JSON: the media type's `example`, its first `examples` value,
    /// else one made from its schema.
    fn sample(&self, holder: &Json) -> Option<String> {
        let media = json_media(holder)?;
        let example = media.get("example").cloned().or_else(|| {
            media
                .get("examples")
                .and_then(Json::as_object)
                .and_then(|e| e.values().next())
                .map(|e| self.follow(e))
                .and_then(|e| e.get("value").cloned())
        });
        let value = match example {
            Some(v) => v,
            None => self.made(media.get("schema")?, 0),
        };
        serde_json::to_string_pretty(&value).ok()
    }

    /// A value a schema accepts: its example or default, else by its type.
    fn made(&self, schema: &Json, depth: usize) -> Json {
        let schema = self.follow(schema);
        if depth > MAX_DEPTH {
            return Json::Null;
        }
        for key in ["example", "default", "const"] {
            if let Some(v) = schema.get(key) {
                return v.clone();
            }
        }
        if let Some(first) = schema
            .get("examples")
            .and_then(Json::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Json::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(parts) = schema.get(key).and_then(Json::as_array) {
                let mut merged = Map::new();
                for part in parts {
                    match self.made(part, depth + 1) {
                        Json::Object(o) => merged.extend(o),
                        other if key != "allOf" => return other,
                        _ => {}
                    }
                    if key != "allOf" {
                        break;
                    }
                }
                return Json::Object(merged);
            }
        }
        // 3.1 writes `type: [string, "null"]`.
        let kind = match schema.get("type") {
            Some(Json::Array(kinds)) => {
                kinds.iter().filter_map(Json::as_str).find(|k| *k != "null")
            }
            Some(kind) => kind.as_str(),
            None if schema.get("properties").is_some() => Some("object"),
            None => None,
        };
        match kind {
            Some("object") => Json::Object(
                schema
                    .get("properties")
                    .and_then(Json::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(name, property)| (name.clone(), self.made(property, depth + 1)))
                    .collect(),
            ),
            Some("array") => Json::Array(
                schema
                    .get("items")
                    .map(|items| vec![self.made(items, depth + 1)])
                    .unwrap_or_default(),
            ),
            Some("integer") | Some("number") => Json::from(0),
            Some("boolean") => Json::Bool(false),
            Some("string") => Json::String(
                match schema.get("format").and_then(Json::as_str) {
                    Some("date-time") => "2024-01-01T00:00:00Z",
                    Some("date") => "2024-01-01",
                    Some("email") => "user@example.com",
                    Some("uuid") => "00000000-0000-0000-0000-000000000000",
                    _ => "string",
                }
                .to_string(),
            ),
            _ => Json::Null,
        }
    }
}

/// The first YAML document as JSON (mapping keys as text; aliases are not followed).
fn yaml(text: &str) -> Result<Json, String> {
    let documents = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let first = documents.into_iter().next().ok_or("the file is empty")?;
    Ok(yaml_json(first))
}

fn yaml_json(value: yaml_rust2::Yaml) -> Json {
    use yaml_rust2::Yaml;
    match value {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::String(r), Json::Number),
        Yaml::Integer(i) => Json::from(i),
        Yaml::String(s) => Json::String(s),
        Yaml::Boolean(b) => Json::Bool(b),
        Yaml::Array(items) => Json::Array(items.into_iter().map(yaml_json).collect()),
        Yaml::Hash(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match yaml_json(k) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Json::Null,
    }
}
