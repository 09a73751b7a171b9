//! Commands an operator runs against a running host, through its admin listener:
//! `ecmahost status` (`status.rs`), `ecmahost connector import-now` (`import_now.rs`) and
//! `ecmahost support-bundle` (`bundle.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use serde_json::Value as Json;

use crate::config::HostConfig;

pub mod bundle;
pub mod import_now;
pub mod status;

#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{file}: key `admin_listen` is not set, so the host serves no status; set it (for example \"127.0.0.1:8586\") or pass --admin URL")]
    NoAdminListener { file: String },
    #[error(
        "cannot reach the host's admin listener at {url}: {detail} (is `ecmahost serve` running?)"
    )]
    Unreachable { url: String, detail: String },
    #[error("{url} answered {status}: {detail}")]
    Refused {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A client for one host's admin listener (plain HTTP, normally on loopback).
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// `--admin URL` when given, else the `admin_listen` address of the host config `config`.
    pub fn new(admin: Option<&str>, config: &Path) -> Result<Self, OperateError> {
        let base = match admin {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let host = HostConfig::load(config)?;
                let addr = host
                    .admin_listen
                    .ok_or_else(|| OperateError::NoAdminListener {
                        file: config.display().to_string(),
                    })?;
                format!("http://{}", reachable(addr))
            }
        };
        // Plain HTTP only; the TLS settings are never used, but reqwest wants a provider.
        let tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| OperateError::Client(e.to_string()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| OperateError::Client(e.to_string()))?;
        Ok(Self { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send a request: the URL, the status and the body.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<(String, reqwest::StatusCode, Vec<u8>), OperateError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .request(method, &url)
            .send()
            .await
            .map_err(|e| unreachable(&url, e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| unreachable(&url, e))?;
        Ok((url, status, body.to_vec()))
    }

    /// GET `path`, as JSON, whatever the status (`/status` answers 503 with a body).
    pub async fn get_json(&self, path: &str) -> Result<Json, OperateError> {
        let (url, status, body) = self.send(reqwest::Method::GET, path).await?;
        serde_json::from_slice(&body).map_err(|e| OperateError::Refused {
            url,
            status: status.as_u16(),
            detail: format!("not JSON: {e}"),
        })
    }

    /// GET `path` as text; an error status is an error.
    pub async fn get_text(&self, path: &str) -> Result<String, OperateError> {
        let (url, status, body) = self.send(reqwest::Method::GET, path).await?;
        let text = String::from_utf8_lossy(&body).to_string();
        if !status.is_success() {
            return Err(OperateError::Refused {
                url,
                status: status.as_u16(),
                detail: text,
            });
        }
        Ok(text)
    }

    /// POST `path`; a status other than 2xx is an error carrying the body's `error`.
    pub async fn post(&self, path: &str) -> Result<Json, OperateError> {
        let (url, status, body) = self.send(reqwest::Method::POST, path).await?;
        let body: Json = serde_json::from_slice(&body).unwrap_or(Json::Null);
        if !status.is_success() {
            return Err(OperateError::Refused {
                url,
                status: status.as_u16(),
                detail: body["error"].as_str().unwrap_or("no detail").to_string(),
            });
        }
        Ok(body)
    }
}

fn unreachable(url: &str, e: reqwest::Error) -> OperateError {
    OperateError::Unreachable {
        url: url.to_string(),
        detail: e.to_string(),
    }
}

/// A listener on every address is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}
