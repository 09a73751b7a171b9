//! The harness's one error type: every failure names the program, file or step at fault.

use std::path::PathBuf;

/// Why starting slapd, or an ldap-utils call against it, failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A program of Debian's `slapd` or `ldap-utils` package is not installed.
    #[error("`{program}` was not found on PATH, /usr/sbin or /usr/bin: run scripts/setup.sh, which installs Debian's slapd and ldap-utils")]
    NotInstalled { program: &'static str },
    /// Creating, writing or reading a file of the temp directory failed.
    #[error("{what} {}: {source}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The tests run as root, and neither the `openldap` user (Debian's slapd package creates
    /// it) nor `nobody` exists for slapd to drop to.
    #[error("no `openldap` or `nobody` user in /etc/passwd for slapd to run as: run scripts/setup.sh, which installs Debian's slapd (it creates `openldap`)")]
    NoServiceUser,
    /// A program could not be started, or waiting on it failed.
    #[error("could not run `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A program did not finish within its time-out and was killed.
    #[error("`{command}` did not finish within {seconds} s and was killed")]
    TimedOut { command: String, seconds: u64 },
    /// A program exited with an error status.
    #[error("`{command}` failed ({status}): {stderr}")]
    Tool {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// slapd exited or did not answer within the start time-out.
    #[error("slapd did not start: {reason}\n--- slapd log ({}) ---\n{log}", log_path.display())]
    Startup {
        reason: String,
        log_path: PathBuf,
        log: String,
    },
    /// Generating the test certificates failed.
    #[error("could not generate the test certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// ldapsearch printed something that is not LDIF.
    #[error("ldapsearch output line {line}: {reason}: {text:?}")]
    Ldif {
        line: usize,
        reason: &'static str,
        text: String,
    },
}
