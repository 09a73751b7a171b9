//! The host file: where to listen, the certificate, the `ECMA` and data folders, logging.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::limits::{Limits, LimitsFile};
use super::{check_version, read_toml, relative_to, ConfigError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostFile {
    version: u32,
    #[serde(default = "default_listen")]
    listen: String,
    tls: TlsFile,
    #[serde(default = "default_ecma_dir")]
    ecma_dir: PathBuf,
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default = "default_connectors_dir")]
    connectors_dir: PathBuf,
    #[serde(default)]
    logging: LoggingFile,
    /// Plain-HTTP `/status` and `/metrics`; keep it on loopback.
    admin_listen: Option<String>,
    /// The base of every URL the host puts in a response (`Location`, `meta.location`).
    public_url: Option<String>,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    certificate: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoggingFile {
    level: Option<String>,
    directory: Option<PathBuf>,
    #[serde(default)]
    format: LogFormat,
    #[serde(default)]
    rotation: LogRotation,
    /// Rotated files to keep (0 keeps them all).
    max_files: Option<usize>,
    /// Per-module levels, added to `level`: `{ "ecmahost::connector" = "debug", audit = "off" }`.
    #[serde(default)]
    modules: std::collections::BTreeMap<String, String>,
}

/// How log lines are written, on standard error and in files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event (fields flattened, with `timestamp`, `level` and `target`).
    Json,
}

/// When the log file is rotated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogRotation {
    Minutely,
    Hourly,
    #[default]
    Daily,
    Weekly,
    Never,
}

/// Rotated log files kept when `max_files` is not set.
pub const DEFAULT_MAX_LOG_FILES: usize = 14;

fn default_listen() -> String {
    "0.0.0.0:8585".to_string()
}
fn default_ecma_dir() -> PathBuf {
    PathBuf::from("ECMA")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_connectors_dir() -> PathBuf {
    PathBuf::from("connectors")
}

/// The validated host configuration. Paths are absolute or relative to the working directory.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub file: PathBuf,
    pub listen: SocketAddr,
    pub tls: TlsConfig,
    /// Where administrators drop connector libraries; `Cache/` below it holds loaded copies.
    pub ecma_dir: PathBuf,
    pub data_dir: PathBuf,
    /// One `*.toml` per connector.
    pub connectors_dir: PathBuf,
    pub logging: LoggingConfig,
    /// Where `/status` and `/metrics` are served (plain HTTP), if anywhere.
    pub admin_listen: Option<SocketAddr>,
    /// `https://name:port` that URLs in responses start with; `None` means derived from the
    /// listen address and the host name when the port is known (see [`public_url_for`]).
    pub public_url: Option<String>,
    pub limits: Limits,
}

#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug)]
pub struct LoggingConfig {
    /// `EnvFilter` directives: `level`, then one `module=level` per `[logging.modules]` entry.
    pub level: String,
    /// Write rotated log files here as well as to standard error.
    pub directory: Option<PathBuf>,
    pub format: LogFormat,
    pub rotation: LogRotation,
    /// Rotated files kept; `None` keeps them all.
    pub max_files: Option<usize>,
}

impl HostConfig {
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let raw: HostFile = read_toml(file)?;
        check_version(file, raw.version)?;
        let listen = raw.listen.parse().map_err(|e| {
            ConfigError::invalid(
                file,
                "listen",
                format!("`{}` is not an address:port ({e})", raw.listen),
            )
        })?;
        let admin_listen = raw
            .admin_listen
            .map(|a| {
                a.parse().map_err(|e| {
                    ConfigError::invalid(
                        file,
                        "admin_listen",
                        format!("`{a}` is not an address:port ({e})"),
                    )
                })
            })
            .transpose()?;
        let mut level = raw.logging.level.unwrap_or_else(|| "info".to_string());
        if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
            return Err(ConfigError::invalid(
                file,
                "logging.level",
                format!("`{level}` is not a log filter (try `info` or `info,ecmahost::connector=debug`)"),
            ));
        }
        for (module, module_level) in &raw.logging.modules {
            let directive = format!("{module}={module_level}");
            if module.is_empty()
                || module.contains([',', '=', ' '])
                || directive
                    .parse::<tracing_subscriber::filter::Directive>()
                    .is_err()
            {
                return Err(ConfigError::invalid(
                    file,
                    format!("logging.modules.{module}"),
                    format!("`{module_level}` is not a level for module `{module}` (use off, error, warn, info, debug or trace)"),
                ));
            }
            level.push(',');
            level.push_str(&directive);
        }
        let public_url = raw
            .public_url
            .map(|url| {
                check_public_url(&url).map_err(|m| ConfigError::invalid(file, "public_url", m))
            })
            .transpose()?;
        let limits = raw.limits.validate(file)?;
        Ok(HostConfig {
            file: file.to_path_buf(),
            public_url,
            limits,
            listen,
            tls: TlsConfig {
                certificate: relative_to(file, &raw.tls.certificate),
                key: relative_to(file, &raw.tls.key),
            },
            ecma_dir: relative_to(file, &raw.ecma_dir),
            data_dir: relative_to(file, &raw.data_dir),
            connectors_dir: relative_to(file, &raw.connectors_dir),
            admin_listen,
            logging: LoggingConfig {
                level,
                directory: raw.logging.directory.map(|d| relative_to(file, &d)),
                format: raw.logging.format,
                rotation: raw.logging.rotation,
                max_files: match raw.logging.max_files {
                    Some(0) => None,
                    Some(n) => Some(n),
                    None => Some(DEFAULT_MAX_LOG_FILES),
                },
            },
        })
    }

    /// Every connector file in `connectors_dir`, sorted by name.
    pub fn connector_files(&self) -> Result<Vec<PathBuf>, ConfigError> {
        let entries =
            std::fs::read_dir(&self.connectors_dir).map_err(|source| ConfigError::Read {
                file: self.connectors_dir.clone(),
                source,
            })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        Ok(files)
    }
}

/// `public_url` as written, without a trailing `/`: an `http(s)://` URL with a host, and no
/// query or fragment.
fn check_public_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("`{url}` must start with https:// (or http:// behind a proxy)"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || rest
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '@'))
    {
        return Err(format!(
            "`{url}` must be a base URL like https://host.example:8585, with a host and no \
             query, fragment, user or spaces"
        ));
    }
    Ok(trimmed.to_string())
}

/// The base URL responses use: `public_url` when configured, else `https://{name}:{port}`,
/// where the name is the listen address, or this machine's host name when the host listens
/// on every address.
pub fn public_url_for(configured: Option<&str>, bound: SocketAddr) -> String {
    if let Some(url) = configured {
        return url.to_string();
    }
    let name = if bound.ip().is_unspecified() {
        gethostname::gethostname()
            .into_string()
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string())
    } else if bound.is_ipv6() {
        format!("[{}]", bound.ip())
    } else {
        bound.ip().to_string()
    };
    format!("https://{name}:{}", bound.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let file = dir.join("host.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn defaults_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "version = 1\n[tls]\ncertificate = \"tls/c.pem\"\nkey = \"/abs/k.pem\"\n",
        );
        let config = HostConfig::load(&file).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:8585");
        assert_eq!(config.tls.certificate, dir.path().join("tls/c.pem"));
        assert_eq!(config.tls.key, PathBuf::from("/abs/k.pem"));
        assert_eq!(config.ecma_dir, dir.path().join("ECMA"));
        assert_eq!(config.public_url, None);
        assert_eq!(config.limits, Limits::default());
    }

    #[test]
    fn public_url_and_limits_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let tls = "[tls]\ncertificate = \"c\"\nkey = \"k\"\n";
        let file = write(
            dir.path(),
            &format!("version = 1\npublic_url = \"https://scim.example:8585/\"\n[limits]\nmax_value_bytes = 10\n{tls}"),
        );
        let config = HostConfig::load(&file).unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://scim.example:8585")
        );
        assert_eq!(config.limits.max_value_bytes, 10);
        for (line, key) in [
            ("public_url = \"evil.example/x?\"", "`public_url`"),
            ("public_url = \"https://h/x?y\"", "`public_url`"),
            (
                "[limits]\nidle_timeout_seconds = 0",
                "`limits.idle_timeout_seconds`",
            ),
            (
                "[limits]\nmax_header_bytes = 1000000",
                "`limits.max_header_bytes`",
            ),
        ] {
            let file = write(dir.path(), &format!("version = 1\n{tls}{line}\n"));
            let err = HostConfig::load(&file).unwrap_err().to_string();
            assert!(err.contains(key), "{line}: {err}");
        }
        let bound: SocketAddr = "127.0.0.1:8585".parse().unwrap();
        assert_eq!(public_url_for(None, bound), "https://127.0.0.1:8585");
        assert_eq!(public_url_for(Some("https://a"), bound), "https://a");
        let any: SocketAddr = "0.0.0.0:9".parse().unwrap();
        assert!(!public_url_for(None, any).contains("0.0.0.0"));
    }

    #[test]
    fn logging_keys_format_rotation_retention_and_modules() {
        let dir = tempfile::tempdir().unwrap();
        let base = "version = 1\n[tls]\ncertificate = \"c\"\nkey = \"k\"\n[logging]\n";
        let file = write(
            dir.path(),
            &format!("{base}format = \"json\"\nrotation = \"hourly\"\nmax_files = 3\ndirectory = \"logs\"\n[logging.modules]\naudit = \"off\"\n\"ecmahost::connector\" = \"debug\"\n"),
        );
        let config = HostConfig::load(&file).unwrap().logging;
        assert_eq!(config.format, LogFormat::Json);
        assert_eq!(config.rotation, LogRotation::Hourly);
        assert_eq!(config.max_files, Some(3));
        assert_eq!(config.directory, Some(dir.path().join("logs")));
        assert_eq!(config.level, "info,audit=off,ecmahost::connector=debug");

        let file = write(dir.path(), &format!("{base}max_files = 0\n"));
        let config = HostConfig::load(&file).unwrap().logging;
        assert_eq!((config.format, config.max_files), (LogFormat::Human, None));

        let file = write(
            dir.path(),
            &format!("{base}[logging.modules]\naudit = \"loud\"\n"),
        );
        let err = HostConfig::load(&file).unwrap_err().to_string();
        assert!(
            err.contains("logging.modules.audit") && err.contains("loud"),
            "{err}"
        );
        let file = write(dir.path(), &format!("{base}format = \"xml\"\n"));
        let err = HostConfig::load(&file).unwrap_err().to_string();
        assert!(err.contains("host.toml") && err.contains("xml"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "version = 1\nlisten = \"nope\"\n[tls]\ncertificate = \"c\"\nkey = \"k\"\n",
        );
        let err = HostConfig::load(&file).unwrap_err().to_string();
        assert!(
            err.contains("host.toml") && err.contains("`listen`"),
            "{err}"
        );

        let file = write(
            dir.path(),
            "version = 1\nlisten_port = 1\n[tls]\ncertificate = \"c\"\nkey = \"k\"\n",
        );
        let err = HostConfig::load(&file).unwrap_err().to_string();
        assert!(
            err.contains("host.toml") && err.contains("listen_port"),
            "{err}"
        );
    }
}
