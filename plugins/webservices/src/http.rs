//! The HTTP side of a service: one reqwest client (rustls, ring provider, the system's roots
//! plus an optional CA file, an optional client certificate), the base URL with the `host` and
//! `port` overrides, authentication on every request, a per-connector rate limit, and retries
//! with exponential back-off on 429, 502, 503 and 504 that honour a bounded `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use ecma_ws_project::{Auth, Method, ProjectFile, Retry};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::Url;
use serde_json::Value as Json;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::auth::{self, Credentials, Placement, TokenCache};
use crate::error::{service_message, WsError};
use crate::redact::Redactor;

/// TLS and endpoint settings from the connectivity page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub ca_file: Option<String>,
    pub client_certificate: Option<String>,
    pub client_key: Option<String>,
    /// Log every request and response, secrets redacted.
    pub trace: bool,
}

/// One request, fully rendered.
#[derive(Clone, Debug)]
pub(crate) struct HttpRequest {
    pub method: Method,
    pub url: Url,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<RequestBody>,
}

#[derive(Clone, Debug)]
pub(crate) enum RequestBody {
    Json(Json),
    /// A SOAP envelope; its Content-Type is among the request's headers.
    Xml(String),
}

/// A response: status and body (JSON when it parses, else the text as a JSON string).
#[derive(Clone, Debug)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub body: Json,
    pub text: String,
    pub retry_after: Option<Duration>,
}

pub(crate) struct HttpService {
    client: reqwest::Client,
    base: Url,
    auth: Auth,
    token_url: Option<Url>,
    credentials: Credentials,
    tokens: TokenCache,
    limiter: Option<RateLimiter>,
    retry: Retry,
    headers: Vec<(String, String)>,
    pub(crate) redactor: Redactor,
    /// Log every exchange (the `trace` parameter; `ecmahost ws test` sets it).
    trace: bool,
}

impl HttpService {
    pub(crate) fn new(
        project: &ProjectFile,
        endpoint: &Endpoint,
        credentials: Credentials,
        headers: Vec<(String, String)>,
    ) -> Result<Self, WsError> {
        let base = override_endpoint(&project.connection.base_url, endpoint)?;
        let token_url = match &project.auth {
            Auth::Oauth2ClientCredentials { token_url, .. } => Some(join(&base, token_url)?),
            _ => None,
        };
        let missing = credentials.missing_for(&project.auth);
        if !missing.is_empty() {
            return Err(WsError::Configuration(format!(
                "the project's authentication needs the parameter(s) {} on the connectivity page",
                missing.join(", ")
            )));
        }
        let timeout = Duration::from_secs(project.connection.timeout_seconds);
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(endpoint)?)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| WsError::Configuration(format!("cannot build the HTTP client: {e}")))?;
        let redactor = Redactor::new(credentials.secrets());
        Ok(Self {
            client,
            base,
            auth: project.auth.clone(),
            token_url,
            credentials,
            tokens: TokenCache::default(),
            limiter: project
                .connection
                .rate_limit_per_second
                .map(RateLimiter::new),
            retry: project.connection.retry.clone(),
            headers,
            redactor,
            trace: endpoint.trace,
        })
    }

    /// `path` against the base URL (an absolute URL, such as a next link, as it is).
    pub(crate) fn url(&self, path: &str) -> Result<Url, WsError> {
        join(&self.base, path)
    }

    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    /// The UsernameToken of every SOAP call, when the project authenticates with WS-Security.
    pub(crate) fn ws_security(&self) -> Option<(&str, &ecma_plugin_api::Secret)> {
        match self.auth {
            Auth::WsSecurity => Some((
                self.credentials.user.as_deref()?,
                self.credentials.password.as_ref()?,
            )),
            _ => None,
        }
    }

    /// Send `request`, authenticating, rate limiting and retrying as configured. Any status
    /// comes back as a response; only a transport failure (after retries) is an error.
    pub(crate) async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, WsError> {
        let mut attempt = 1;
        let mut stale_token: Option<String> = None;
        let mut refreshed = false;
        let mut digest: Option<String> = None;
        loop {
            if let Some(limiter) = &self.limiter {
                limiter.wait().await;
            }
            let placement = self.placement(stale_token.as_deref()).await?;
            let token_sent = match &placement {
                Placement::Header(name, value) if name == AUTHORIZATION.as_str() => {
                    Some(value.expose().to_string())
                }
                _ => None,
            };
            let built = self.build(request, placement, digest.as_deref());
            let outcome = built.send().await;
            let response = match outcome {
                Ok(response) => response,
                Err(e) => {
                    let message = self.redactor.apply(&format!(
                        "{} {}: {}",
                        request.method.as_str(),
                        request.url,
                        error_chain(&e)
                    ));
                    if (e.is_connect() || e.is_timeout()) && attempt < self.retry.max_attempts {
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    self.record(request, &format!("failed: {message}"));
                    return Err(WsError::Transport(message));
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap_or_default();
            let retry_after = retry_after(&headers);
            self.record(request, &format!("{status} {}", self.redactor.apply(&text)));
            // A rejected OAuth2 token: fetch a new one, once per request.
            if status == 401 && token_sent.is_some() && self.token_url.is_some() && !refreshed {
                refreshed = true;
                stale_token = token_sent;
                continue;
            }
            if status == 401 && matches!(self.auth, Auth::Digest) && digest.is_none() {
                if let Some(answer) = self.digest_answer(request, &headers) {
                    digest = Some(answer);
                    continue;
                }
            }
            if matches!(status, 429 | 502 | 503 | 504) && attempt < self.retry.max_attempts {
                let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                if wait <= Duration::from_millis(self.retry.max_backoff_ms) {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    digest = None;
                    continue;
                }
            }
            let body = serde_json::from_str(&text).unwrap_or_else(|_| Json::String(text.clone()));
            return Ok(HttpResponse {
                status,
                body,
                text,
                retry_after,
            });
        }
    }

    /// Turn a non-accepted response into the flow's error, with the service's message.
    pub(crate) fn refusal(&self, request: &HttpRequest, response: &HttpResponse) -> WsError {
        WsError::Status {
            method: request.method.as_str().to_string(),
            url: self.redactor.apply(request.url.path()),
            status: response.status,
            message: self.redactor.apply(&service_message(&response.text)),
            retry_after: response.retry_after,
        }
    }

    fn build(
        &self,
        request: &HttpRequest,
        placement: Placement,
        digest: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .client
            .request(method, request.url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in self.headers.iter().chain(&request.headers) {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder = match placement {
            Placement::Nothing => builder,
            Placement::Header(name, value) => builder.header(name, value.expose()),
            Placement::Query(name, value) => builder.query(&[(name.as_str(), value.expose())]),
            Placement::Basic(user, password) => builder.basic_auth(user, Some(password.expose())),
        };
        if let Some(answer) = digest {
            builder = builder.header(AUTHORIZATION, answer);
        }
        match &request.body {
            Some(RequestBody::Json(body)) => builder = builder.json(body),
            Some(RequestBody::Xml(text)) => builder = builder.body(text.clone()),
            None => {}
        }
        builder
    }

    async fn placement(&self, stale_token: Option<&str>) -> Result<Placement, WsError> {
        let c = &self.credentials;
        Ok(match &self.auth {
            Auth::None | Auth::Digest | Auth::WsSecurity => Placement::Nothing,
            Auth::Basic => match (&c.user, &c.password) {
                (Some(user), Some(password)) => Placement::Basic(user.clone(), password.clone()),
                _ => Placement::Nothing,
            },
            Auth::Bearer => match &c.bearer_token {
                Some(token) => Placement::Header(
                    AUTHORIZATION.to_string(),
                    ecma_plugin_api::Secret::new(format!("Bearer {}", token.expose())),
                ),
                None => Placement::Nothing,
            },
            Auth::ApiKey { location, name } => match &c.api_key {
                Some(key) => auth::api_key(*location, name, key),
                None => Placement::Nothing,
            },
            Auth::Oauth2ClientCredentials {
                scope,
                client_auth,
                refresh_before_seconds,
                ..
            } => {
                let Some(token_url) = &self.token_url else {
                    return Ok(Placement::Nothing);
                };
                let stale = stale_token.and_then(|s| s.strip_prefix("Bearer "));
                let token = self
                    .tokens
                    .token(
                        &self.client,
                        token_url,
                        scope.as_deref(),
                        *client_auth,
                        Duration::from_secs(*refresh_before_seconds),
                        c,
                        stale,
                        &self.redactor,
                    )
                    .await?;
                Placement::Header(
                    AUTHORIZATION.to_string(),
                    ecma_plugin_api::Secret::new(format!("Bearer {}", token.expose())),
                )
            }
        })
    }

    fn digest_answer(&self, request: &HttpRequest, headers: &HeaderMap) -> Option<String> {
        let challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.trim_start().starts_with("Digest"))?;
        let mut uri = request.url.path().to_string();
        if let Some(q) = request.url.query() {
            uri.push('?');
            uri.push_str(q);
        }
        let (user, password) = (
            self.credentials.user.as_ref()?,
            self.credentials.password.as_ref()?,
        );
        auth::digest_answer(challenge, request.method.as_str(), &uri, user, password)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .retry
            .initial_backoff_ms
            .saturating_mul(1u64 << (attempt - 1).min(20));
        let jitter = rand::random::<u64>() % (base / 4 + 1);
        Duration::from_millis((base + jitter).min(self.retry.max_backoff_ms))
    }

    fn record(&self, request: &HttpRequest, outcome: &str) {
        if !self.trace {
            return;
        }
        let mut line = format!("{} {}", request.method.as_str(), request.url);
        if !request.query.is_empty() {
            let query: Vec<String> = request
                .query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            line.push_str(&format!("?{}", query.join("&")));
        }
        match &request.body {
            Some(RequestBody::Json(body)) => line.push_str(&format!("\n  request: {body}")),
            Some(RequestBody::Xml(text)) => line.push_str(&format!("\n  request: {text}")),
            None => {}
        }
        line.push_str(&format!("\n  response: {outcome}"));
        log::info!(target: "exchange", "{}", self.redactor.apply(&line));
    }
}

/// Every cause of a reqwest error, so "connection refused" is not hidden behind "error
/// sending request".
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The project's base URL with the `host` and `port` parameters applied.
pub(crate) fn override_endpoint(base_url: &str, endpoint: &Endpoint) -> Result<Url, WsError> {
    let mut url = Url::parse(base_url).map_err(|e| {
        WsError::Configuration(format!(
            "connection.base_url '{base_url}' is not a URL: {e}"
        ))
    })?;
    if let Some(host) = &endpoint.host {
        url.set_host(Some(host)).map_err(|e| {
            WsError::Configuration(format!("parameter host '{host}' is not a host name: {e}"))
        })?;
    }
    if let Some(port) = endpoint.port {
        url.set_port(Some(port)).map_err(|()| {
            WsError::Configuration(format!("parameter port cannot be set on '{base_url}'"))
        })?;
    }
    Ok(url)
}

/// `path` relative to `base`: an absolute URL as it is; otherwise appended to the base's
/// path (so `/api/users` under `https://h/v2` is `https://h/v2/api/users`).
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, WsError> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return Url::parse(path).map_err(|e| WsError::Flow(format!("'{path}' is not a URL: {e}")));
    }
    let mut url = base.clone();
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    url.set_query(query);
    Ok(url)
}

fn tls_config(endpoint: &Endpoint) -> Result<rustls::ClientConfig, WsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, file: &str, e: &dyn std::fmt::Display| {
        WsError::Configuration(format!("cannot read {what} {file}: {e}"))
    };
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(file) = &endpoint.ca_file {
        for cert in CertificateDer::pem_file_iter(file).map_err(|e| bad("ca_file", file, &e))? {
            let cert = cert.map_err(|e| bad("ca_file", file, &e))?;
            roots.add(cert).map_err(|e| bad("ca_file", file, &e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WsError::Configuration(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match (&endpoint.client_certificate, &endpoint.client_key) {
        (Some(cert_file), Some(key_file)) => {
            let certs = CertificateDer::pem_file_iter(cert_file)
                .map_err(|e| bad("client_certificate", cert_file, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("client_certificate", cert_file, &e))?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| bad("client_key", key_file, &e))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| WsError::Configuration(format!("client certificate: {e}")))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(WsError::Configuration(
            "client_certificate and client_key go together; set both or neither".into(),
        )),
    }
}

/// At most `rate` requests per second: each request reserves the next free slot.
struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    fn new(rate: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_spaces_requests() {
        let limiter = RateLimiter::new(5);
        let start = Instant::now();
        for _ in 0..11 {
            limiter.wait().await;
        }
        // The first goes at once, each further one 200 ms later (virtual time).
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn host_and_port_override_the_base_url() {
        let endpoint = Endpoint {
            host: Some("127.0.0.1".into()),
            port: Some(8080),
            ..Endpoint::default()
        };
        let url = override_endpoint("https://people.contoso.example/v2", &endpoint).unwrap();
        assert_eq!(url.as_str(), "https://127.0.0.1:8080/v2");
        assert_eq!(
            join(&url, "/api/users?x=1").unwrap().as_str(),
            "https://127.0.0.1:8080/v2/api/users?x=1"
        );
        assert_eq!(
            join(&url, "http://other/next").unwrap().as_str(),
            "http://other/next"
        );
    }
}
