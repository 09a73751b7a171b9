//! `ecmahost support-bundle`: one `.tar.gz` with what support needs, the equivalent of
//! Microsoft's `CollectTroubleshootingInfo.ps1`: the host and connector configs with secrets
//! removed, `/status` and `/metrics` (when the host runs), the end of the recent log files,
//! and versions (ecmahost, the system, every library in `ECMA/` with its content hash).

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::AdminClient;
use crate::config::HostConfig;

/// Keys whose values are replaced by `REDACTED` wherever they appear in a config.
const SECRET_WORDS: [&str; 7] = [
    "password",
    "passwd",
    "secret",
    "token",
    "credential",
    "api_key",
    "private",
];

/// How much of each recent log file goes in, from its end.
const LOG_TAIL_BYTES: u64 = 2 * 1024 * 1024;
/// How many of the newest log files go in.
const LOG_FILES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether a config key names a secret.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// Replace every value under a secret-looking key, at any depth.
fn redact(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table.iter_mut() {
                if is_secret(key) {
                    *v = toml::Value::String("REDACTED".into());
                } else {
                    redact(v);
                }
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A config file with its secrets removed; a file that does not parse is left out, with why.
pub fn redacted_file(path: &Path) -> String {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return format!("# cannot read {}: {e}\n", path.display()),
    };
    match text.parse::<toml::Value>() {
        Ok(mut value) => {
            redact(&mut value);
            toml::to_string_pretty(&value)
                .unwrap_or_else(|e| format!("# cannot write {}: {e}\n", path.display()))
        }
        Err(e) => format!(
            "# {} is not valid TOML, so it is left out (it may hold secrets): {}\n",
            path.display(),
            e.message()
        ),
    }
}

/// The last `max` bytes of a file.
fn tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The newest log files of the host's log directory.
fn recent_logs(config: &HostConfig) -> Vec<PathBuf> {
    let Some(dir) = &config.logging.directory else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(crate::logging::FILE_PREFIX)
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    files
        .into_iter()
        .rev()
        .take(LOG_FILES)
        .map(|(_, p)| p)
        .collect()
}

/// `versions.txt`: ecmahost, the system, and each library in `ECMA/`.
fn versions(config: &HostConfig) -> String {
    let mut out = format!("ecmahost {}\n", env!("CARGO_PKG_VERSION"));
    if let Ok(kernel) = std::fs::read_to_string("/proc/version") {
        out.push_str(&format!("system: {kernel}"));
    }
    if let Ok(os) = std::fs::read_to_string("/etc/os-release") {
        if let Some(name) = os.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")) {
            out.push_str(&format!("os: {}\n", name.trim_matches('"')));
        }
    }
    out.push_str(&format!("\nlibraries in {}:\n", config.ecma_dir.display()));
    let mut libraries: Vec<PathBuf> = std::fs::read_dir(&config.ecma_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    libraries.sort();
    for lib in libraries {
        let size = std::fs::metadata(&lib).map(|m| m.len()).unwrap_or(0);
        let hash = crate::plugins::content_hash(&lib).unwrap_or_else(|_| "?".into());
        out.push_str(&format!(
            "  {}  {size} bytes  content hash {hash}\n",
            lib.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    out
}

struct Archive<W: Write> {
    tar: tar::Builder<W>,
    output: PathBuf,
}

impl<W: Write> Archive<W> {
    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
        header.set_cksum();
        self.tar
            .append_data(&mut header, name, bytes)
            .map_err(|source| BundleError::Write {
                path: self.output.clone(),
                source,
            })
    }
}

/// Write the bundle to `output` and return what went in, one line per file.
pub async fn write(
    config_file: &Path,
    admin: Option<&AdminClient>,
    output: &Path,
) -> Result<Vec<String>, BundleError> {
    let config = HostConfig::load(config_file)?;
    let write_error = |source| BundleError::Write {
        path: output.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(output).map_err(write_error)?;
    let mut archive = Archive {
        tar: tar::Builder::new(GzEncoder::new(file, Compression::default())),
        output: output.to_path_buf(),
    };
    let mut listing = Vec::new();
    let mut add = |archive: &mut Archive<_>, name: String, bytes: Vec<u8>| {
        listing.push(format!("{name} ({} bytes)", bytes.len()));
        archive.add(&format!("ecmahost-support/{name}"), &bytes)
    };
    add(
        &mut archive,
        "versions.txt".into(),
        versions(&config).into_bytes(),
    )?;
    add(
        &mut archive,
        "config/host.toml".into(),
        redacted_file(config_file).into_bytes(),
    )?;
    for file in config.connector_files().unwrap_or_default() {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        add(
            &mut archive,
            format!("config/connectors/{name}"),
            redacted_file(&file).into_bytes(),
        )?;
    }
    match admin {
        Some(client) => {
            let status = match client.get_json("/status").await {
                Ok(json) => serde_json::to_vec_pretty(&json).unwrap_or_default(),
                Err(e) => format!("not available: {e}\n").into_bytes(),
            };
            add(&mut archive, "status.json".into(), status)?;
            let metrics = client
                .get_text("/metrics")
                .await
                .unwrap_or_else(|e| format!("not available: {e}\n"));
            add(&mut archive, "metrics.txt".into(), metrics.into_bytes())?;
        }
        None => add(
            &mut archive,
            "status.json".into(),
            b"not available: the host config sets no admin_listen\n".to_vec(),
        )?,
    }
    for log in recent_logs(&config) {
        let name = log
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let bytes = tail(&log, LOG_TAIL_BYTES)
            .unwrap_or_else(|e| format!("cannot read: {e}\n").into_bytes());
        add(&mut archive, format!("logs/{name}"), bytes)?;
    }
    let encoder = archive.tar.into_inner().map_err(write_error)?;
    encoder.finish().map_err(write_error)?;
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "name = \"demo\"\ntoken_hash = \"$argon2id$xyz\"\n[parameters.connectivity]\nhost = \"db\"\nPassword = \"hunter2\"\n[[attributes]]\nname = \"Login\"\n",
        )
        .unwrap();
        let text = redacted_file(&file);
        assert!(
            !text.contains("hunter2") && !text.contains("argon2id"),
            "{text}"
        );
        assert!(text.contains("Password = \"REDACTED\""), "{text}");
        assert!(
            text.contains("host = \"db\"") && text.contains("Login"),
            "{text}"
        );
        std::fs::write(&file, "Password = \"hunter2\" oops").unwrap();
        let text = redacted_file(&file);
        assert!(
            !text.contains("hunter2") && text.contains("left out"),
            "{text}"
        );
    }
}
