//! The host file's `[limits]` table: input sizes, connection time-outs and bounds, shutdown
//! grace, and the failed-token rate limits, with their defaults (docs/RELIABILITY.md lists them).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitsFile {
    max_value_bytes: Option<usize>,
    max_body_bytes: Option<usize>,
    max_header_bytes: Option<usize>,
    max_uri_bytes: Option<usize>,
    header_read_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    shutdown_grace_seconds: Option<u64>,
    auth_failures_per_address_per_minute: Option<u32>,
    auth_failures_per_connector_per_minute: Option<u32>,
    token_check_workers: Option<usize>,
}

/// The validated limits. Every field has a default; `Limits::default()` is what an empty
/// `[limits]` table gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest string value one attribute may carry, in bytes (400 `invalidValue` above).
    pub max_value_bytes: usize,
    /// The largest request body, in bytes (413 above).
    pub max_body_bytes: usize,
    /// The most bytes of request headers (names and values), in bytes (431 above).
    pub max_header_bytes: usize,
    /// The longest request target (path and query), in bytes (414 above).
    pub max_uri_bytes: usize,
    /// How long a client may take to send a request's headers, and to send its first request.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
    /// The most TLS connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// The most connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// How long requests in flight may run after SIGTERM before they are abandoned.
    pub shutdown_grace: Duration,
    /// Failed token checks one client address may make per minute before it gets 429.
    pub auth_failures_per_address_per_minute: u32,
    /// Failed token checks one connector accepts per minute, from all addresses, before 429.
    pub auth_failures_per_connector_per_minute: u32,
    /// Threads that run Argon2 verifications, each with its own reused memory.
    pub token_check_workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_value_bytes: 64 * 1024,
            max_body_bytes: 2 * 1024 * 1024,
            max_header_bytes: 32 * 1024,
            max_uri_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_connections_per_address: 512,
            shutdown_grace: Duration::from_secs(10),
            auth_failures_per_address_per_minute: 60,
            auth_failures_per_connector_per_minute: 600,
            token_check_workers: 1,
        }
    }
}

impl LimitsFile {
    pub(super) fn validate(self, file: &Path) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let positive = |key: &str, value: Option<usize>, default: usize| match value {
            Some(0) => Err(ConfigError::invalid(
                file,
                format!("limits.{key}"),
                "must be at least 1",
            )),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let seconds = |key: &str, value: Option<u64>, default: Duration| {
            positive(key, value.map(|v| v as usize), default.as_secs() as usize)
                .map(|s| Duration::from_secs(s as u64))
        };
        let per_minute = |key: &str, value: Option<u32>, default: u32| {
            positive(key, value.map(|v| v as usize), default as usize).map(|v| v as u32)
        };
        let limits = Limits {
            max_value_bytes: positive("max_value_bytes", self.max_value_bytes, d.max_value_bytes)?,
            max_body_bytes: positive("max_body_bytes", self.max_body_bytes, d.max_body_bytes)?,
            max_header_bytes: positive(
                "max_header_bytes",
                self.max_header_bytes,
                d.max_header_bytes,
            )?,
            max_uri_bytes: positive("max_uri_bytes", self.max_uri_bytes, d.max_uri_bytes)?,
            header_read_timeout: seconds(
                "header_read_timeout_seconds",
                self.header_read_timeout_seconds,
                d.header_read_timeout,
            )?,
            idle_timeout: seconds(
                "idle_timeout_seconds",
                self.idle_timeout_seconds,
                d.idle_timeout,
            )?,
            max_connections: positive("max_connections", self.max_connections, d.max_connections)?,
            max_connections_per_address: positive(
                "max_connections_per_address",
                self.max_connections_per_address,
                d.max_connections_per_address,
            )?,
            shutdown_grace: seconds(
                "shutdown_grace_seconds",
                self.shutdown_grace_seconds,
                d.shutdown_grace,
            )?,
            auth_failures_per_address_per_minute: per_minute(
                "auth_failures_per_address_per_minute",
                self.auth_failures_per_address_per_minute,
                d.auth_failures_per_address_per_minute,
            )?,
            auth_failures_per_connector_per_minute: per_minute(
                "auth_failures_per_connector_per_minute",
                self.auth_failures_per_connector_per_minute,
                d.auth_failures_per_connector_per_minute,
            )?,
            token_check_workers: positive(
                "token_check_workers",
                self.token_check_workers,
                d.token_check_workers,
            )?,
        };
        // hyper needs room for the request line and the headers together.
        if limits.max_header_bytes > HYPER_HEAD_BUFFER / 2 || limits.max_uri_bytes > 65_000 {
            return Err(ConfigError::invalid(
                file,
                "limits.max_header_bytes",
                format!(
                    "max_header_bytes must be at most {} and max_uri_bytes at most 65000",
                    HYPER_HEAD_BUFFER / 2
                ),
            ));
        }
        Ok(limits)
    }
}

/// The HTTP/1.1 read buffer: a request head larger than this is refused by hyper itself (with
/// an empty 431) before the host sees it; anything up to it reaches the host's own checks,
/// which answer in SCIM.
pub const HYPER_HEAD_BUFFER: usize = 256 * 1024;
