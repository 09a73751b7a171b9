//! Log output: lines on standard error and, when configured, in rotated files with a
//! retention limit, as readable text or JSON, filtered per module.
//!
//! Nothing in the host logs a token, a password or a secret parameter: tokens are never
//! formatted, and parameter values print through `ParameterValues`' redacting `Debug`. The
//! audit trail (target `audit`, one line per SCIM request, `scim/audit.rs`) holds no header and
//! no body.

use std::path::PathBuf;

use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::config::{LogFormat, LogRotation, LoggingConfig};

/// The log files' names: `ecmahost.<date>.log` (`ecmahost.log` without rotation).
pub const FILE_PREFIX: &str = "ecmahost";
pub const FILE_SUFFIX: &str = "log";

/// Keeps the file writer alive; drop it only at exit so buffered lines are flushed.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot write log files in {dir} (key `logging.directory`): {source}")]
    Directory {
        dir: PathBuf,
        source: tracing_appender::rolling::InitError,
    },
}

type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync>;

/// A formatting layer for `writer` in the configured format.
fn format_layer<S, W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Human => fmt::layer().with_writer(writer).with_ansi(ansi).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(writer)
            .boxed(),
    }
}

/// The rolling file appender for `config.directory`.
pub fn file_appender(config: &LoggingConfig) -> Result<Option<RollingFileAppender>, LogError> {
    let Some(dir) = &config.directory else {
        return Ok(None);
    };
    let rotation = match config.rotation {
        LogRotation::Minutely => Rotation::MINUTELY,
        LogRotation::Hourly => Rotation::HOURLY,
        LogRotation::Daily => Rotation::DAILY,
        LogRotation::Weekly => Rotation::WEEKLY,
        LogRotation::Never => Rotation::NEVER,
    };
    let mut builder = RollingFileAppender::builder()
        .rotation(rotation)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix(FILE_SUFFIX);
    if let Some(n) = config.max_files {
        builder = builder.max_log_files(n);
    }
    builder
        .build(dir)
        .map(Some)
        .map_err(|source| LogError::Directory {
            dir: dir.clone(),
            source,
        })
}

/// The layers `config` asks for: standard error (when `stderr`) and the files.
pub fn layers<S>(
    config: &LoggingConfig,
    stderr: bool,
) -> Result<(Vec<BoxedLayer<S>>, LogGuard), LogError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let mut layers = Vec::new();
    if stderr {
        // Colours only for a terminal: redirected logs stay plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        layers.push(format_layer(config.format, std::io::stderr, ansi));
    }
    let guard = match file_appender(config)? {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            layers.push(format_layer(config.format, writer, false));
            Some(guard)
        }
        None => None,
    };
    Ok((layers, LogGuard(guard)))
}

/// The filter: `RUST_LOG` when set, else the configured directives.
pub fn filter(config: &LoggingConfig) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level))
}

/// Install the global subscriber.
pub fn init(config: &LoggingConfig) -> Result<LogGuard, LogError> {
    let (layers, guard) = layers(config, true)?;
    let _ = tracing_subscriber::registry()
        .with(filter(config))
        .with(layers)
        .try_init();
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path, format: LogFormat, max_files: Option<usize>) -> LoggingConfig {
        LoggingConfig {
            level: "info,noisy=off".into(),
            directory: Some(dir.to_path_buf()),
            format,
            rotation: LogRotation::Daily,
            max_files,
        }
    }

    fn log_files(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn json_lines_in_rotated_files_with_per_module_levels() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), LogFormat::Json, Some(2));
        let (layers, guard) = layers(&config, false).unwrap();
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::new(&config.level))
            .with(layers);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "audit", connector = "demo", status = 201u16, "scim request");
            tracing::info!(target: "noisy", "never written");
        });
        drop(guard);
        let files = log_files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.starts_with("ecmahost.") && name.ends_with(".log"),
            "{name}"
        );
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0]["target"], "audit");
        assert_eq!(lines[0]["connector"], "demo");
        assert_eq!(lines[0]["status"], 201);
        assert_eq!(lines[0]["message"], "scim request");
    }

    #[test]
    fn retention_removes_the_oldest_files() {
        let dir = tempfile::tempdir().unwrap();
        for day in ["2020-01-01", "2020-01-02", "2020-01-03"] {
            std::fs::write(dir.path().join(format!("ecmahost.{day}.log")), "old\n").unwrap();
        }
        let config = config(dir.path(), LogFormat::Human, Some(2));
        let (layers, guard) = layers(&config, false).unwrap();
        let subscriber = tracing_subscriber::registry().with(layers);
        tracing::subscriber::with_default(subscriber, || tracing::info!("today"));
        drop(guard);
        let files = log_files(dir.path());
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(!files.iter().any(|f| f.ends_with("ecmahost.2020-01-01.log")));
        assert!(!files.iter().any(|f| f.ends_with("ecmahost.2020-01-02.log")));
    }

    #[test]
    fn an_unwritable_directory_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let config = config(&file.join("logs"), LogFormat::Human, None);
        let err = match layers::<tracing_subscriber::Registry>(&config, false) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a directory under a file cannot be created"),
        };
        assert!(err.contains("logging.directory"), "{err}");
    }
}
