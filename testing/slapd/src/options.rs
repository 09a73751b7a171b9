//! How to start an instance: log level, time-outs and syncprov's session log.

use std::time::Duration;

/// How to start an instance. `SlapdOptions::default()` is what [`Slapd::start`](crate::Slapd::start) uses.
#[derive(Debug, Clone)]
pub struct SlapdOptions {
    pub(crate) log_level: String,
    pub(crate) start_timeout: Duration,
    pub(crate) tool_timeout: Duration,
    pub(crate) sync_session_log: Option<u32>,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        SlapdOptions {
            log_level: "none".to_owned(),
            start_timeout: Duration::from_secs(10),
            tool_timeout: Duration::from_secs(300),
            sync_session_log: Some(10_000),
        }
    }
}

impl SlapdOptions {
    /// slapd's `-d` level for its log file `slapd.log` (default `none`: start-up messages and
    /// errors only; `stats` logs every operation).
    pub fn log_level(mut self, level: &str) -> Self {
        level.clone_into(&mut self.log_level);
        self
    }

    /// How long slapd may take to answer a first search (default 10 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long one ldap-utils call may take before it is killed (default 300 s, enough for
    /// an `ldapadd` of 100,000 entries).
    pub fn tool_timeout(mut self, timeout: Duration) -> Self {
        self.tool_timeout = timeout;
        self
    }

    /// syncprov's session log on the data database (default 10,000 operations). With it, a
    /// refreshOnly sync from a recent cookie reports deletes as a syncIdSet of deleted UUIDs
    /// (`refreshDeletes` TRUE); with `None` (or a cookie older than the log) the server sends
    /// the UUIDs still present instead, and the client deletes the others.
    pub fn sync_session_log(mut self, size: Option<u32>) -> Self {
        self.sync_session_log = size;
        self
    }
}
