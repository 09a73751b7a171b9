//! Credentials from the connector's parameters and what they put on a request: Basic, Bearer,
//! an API key, an OAuth2 client-credentials token (cached, refreshed before it expires and on
//! demand after a 401), and HTTP Digest answers to a challenge.

use std::time::{Duration, Instant};

use ecma_plugin_api::{ParameterValues, Secret};
use ecma_ws_project::{ApiKeyLocation, Auth, ClientAuth};
use md5::{Digest as _, Md5};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::WsError;
use crate::redact::Redactor;

/// Secret and non-secret credentials, by the parameter names the connectivity page declares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credentials {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub api_key: Option<Secret>,
    pub bearer_token: Option<Secret>,
}

impl Credentials {
    pub(crate) fn from_values(values: &ParameterValues) -> Self {
        let text = |name: &str| {
            values
                .get(name)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let secret = |name: &str| text(name).map(Secret::new);
        Self {
            user: text("user"),
            password: secret("password"),
            client_id: text("client_id"),
            client_secret: secret("client_secret"),
            api_key: secret("api_key"),
            bearer_token: secret("bearer_token"),
        }
    }

    /// Every secret value, for the [`Redactor`].
    pub(crate) fn secrets(&self) -> Vec<String> {
        [
            &self.password,
            &self.client_secret,
            &self.api_key,
            &self.bearer_token,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.expose().to_string())
        .collect()
    }

    /// The parameters `auth` needs that are missing, by name.
    pub(crate) fn missing_for(&self, auth: &Auth) -> Vec<&'static str> {
        let mut missing = Vec::new();
        let mut need = |present: bool, name: &'static str| {
            if !present {
                missing.push(name);
            }
        };
        match auth {
            Auth::None => {}
            Auth::Basic | Auth::Digest | Auth::WsSecurity => {
                need(self.user.is_some(), "user");
                need(self.password.is_some(), "password");
            }
            Auth::Bearer => need(self.bearer_token.is_some(), "bearer_token"),
            Auth::ApiKey { .. } => need(self.api_key.is_some(), "api_key"),
            Auth::Oauth2ClientCredentials { .. } => {
                need(self.client_id.is_some(), "client_id");
                need(self.client_secret.is_some(), "client_secret");
            }
        }
        missing
    }
}

/// A token from the token endpoint.
struct CachedToken {
    value: Secret,
    /// When to stop using it (its expiry less the refresh margin).
    refresh_at: Instant,
}

/// The OAuth2 token cache. Concurrent callers wait for one fetch.
#[derive(Default)]
pub(crate) struct TokenCache {
    token: Mutex<Option<CachedToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenCache {
    /// A valid token; fetches one when there is none, it is about to expire, or `stale` is the
    /// token a 401 answered (another caller may have replaced it already).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn token(
        &self,
        client: &reqwest::Client,
        token_url: &reqwest::Url,
        scope: Option<&str>,
        client_auth: ClientAuth,
        refresh_before: Duration,
        credentials: &Credentials,
        stale: Option<&str>,
        redactor: &Redactor,
    ) -> Result<Secret, WsError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            let rejected = stale == Some(token.value.expose());
            if !rejected && Instant::now() < token.refresh_at {
                return Ok(token.value.clone());
            }
        }
        let (Some(id), Some(secret)) = (&credentials.client_id, &credentials.client_secret) else {
            return Err(WsError::Configuration(
                "OAuth2 needs the client_id and client_secret parameters".into(),
            ));
        };
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let mut request = client.post(token_url.clone());
        match client_auth {
            ClientAuth::Basic => request = request.basic_auth(id, Some(secret.expose())),
            ClientAuth::Body => {
                form.push(("client_id", id));
                form.push(("client_secret", secret.expose()));
            }
        }
        let response = request.form(&form).send().await.map_err(|e| {
            WsError::Transport(redactor.apply(&format!("token endpoint {token_url}: {e}")))
        })?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(WsError::Authentication(redactor.apply(&format!(
                "the token endpoint {token_url} answered {status}: {}",
                crate::error::service_message(&body)
            ))));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            WsError::Authentication(format!(
                "the token endpoint {token_url} answered without an access_token: {e}"
            ))
        })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        // Never keep a token past half its life when the margin is longer than that.
        let margin = refresh_before.min(lifetime / 2);
        let value = Secret::new(parsed.access_token);
        *cached = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        Ok(value)
    }
}

/// Where an API key goes.
pub(crate) fn api_key(location: ApiKeyLocation, name: &str, key: &Secret) -> Placement {
    match location {
        ApiKeyLocation::Header => Placement::Header(name.to_string(), key.clone()),
        ApiKeyLocation::Query => Placement::Query(name.to_string(), key.clone()),
    }
}

/// What authentication adds to one request.
pub(crate) enum Placement {
    Nothing,
    Header(String, Secret),
    Query(String, Secret),
    Basic(String, Secret),
}

/// The `Authorization` value answering a Digest challenge (RFC 7616 with MD5; `qop=auth`
/// when offered, else RFC 2069's form).
pub(crate) fn digest_answer(
    challenge: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &Secret,
) -> Option<String> {
    let rest = challenge.trim().strip_prefix("Digest")?.trim();
    let params = parse_challenge(rest);
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    if let Some(algorithm) = get("algorithm") {
        if !algorithm.eq_ignore_ascii_case("MD5") {
            return None;
        }
    }
    let md5 = |text: String| hex(&Md5::digest(text.as_bytes()));
    let ha1 = md5(format!("{user}:{realm}:{}", password.expose()));
    let ha2 = md5(format!("{method}:{uri}"));
    let qop_auth = get("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
    let mut answer = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5"
    );
    if qop_auth {
        let cnonce = hex(&rand::random::<[u8; 8]>());
        let nc = "00000001";
        let response = md5(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        answer.push_str(&format!(
            ", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\""
        ));
    } else {
        let response = md5(format!("{ha1}:{nonce}:{ha2}"));
        answer.push_str(&format!(", response=\"{response}\""));
    }
    if let Some(opaque) = get("opaque") {
        answer.push_str(&format!(", opaque=\"{opaque}\""));
    }
    Some(answer)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `key=value` and `key="quoted, value"` pairs of a challenge.
fn parse_challenge(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = tail.trim_start().trim_start_matches(',');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_answers_rfc_2617_example() {
        // RFC 2617 §3.5, with its cnonce replaced: check the parts that do not depend on it.
        let challenge = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let answer = digest_answer(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            &Secret::new("Circle Of Life"),
        )
        .unwrap();
        assert!(answer.contains(r#"username="Mufasa""#), "{answer}");
        assert!(answer.contains("qop=auth, nc=00000001"), "{answer}");
        assert!(answer.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
        assert!(!answer.contains("Circle"));
        // Without qop (RFC 2069), the response is fixed (computed independently with Python).
        let answer = digest_answer(
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#,
            "GET",
            "/dir/index.html",
            "Mufasa",
            &Secret::new("Circle Of Life"),
        )
        .unwrap();
        assert!(
            answer.contains(r#"response="670fd8c2df070c60b045671b8b24ff02""#),
            "{answer}"
        );
        assert_eq!(
            digest_answer("Basic realm=x", "GET", "/", "u", &Secret::new("p")),
            None
        );
    }
}
