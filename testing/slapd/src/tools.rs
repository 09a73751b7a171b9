//! Finds the OpenLDAP programs and runs them with a deadline, collecting their output.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::HarnessError;

/// How often a running program is polled for its exit.
const POLL: Duration = Duration::from_millis(10);

/// Looks `program` up on PATH, then in /usr/sbin and /usr/bin (slapd's tools live in /usr/sbin,
/// which a non-root PATH often lacks).
pub(crate) fn find_program(program: &'static str) -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or(HarnessError::NotInstalled { program })
}

/// A command for `program` that trusts the test CA `ca` and runs in `cwd` (not the caller's
/// directory, whose `ldaprc` could change the defaults).
pub(crate) fn tool_command(
    program: &'static str,
    ca: &Path,
    cwd: &Path,
) -> Result<Command, HarnessError> {
    let mut command = Command::new(find_program(program)?);
    command
        .current_dir(cwd)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_REQCERT", "demand");
    Ok(command)
}

/// What a finished program printed, and how it exited.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    /// The command line, for messages (it never holds a password: the harness passes the
    /// admin password in a file with `-y`).
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    /// The standard output when the program succeeded, or an error with its standard error.
    pub fn success(self) -> Result<String, HarnessError> {
        if self.status.success() {
            Ok(self.stdout)
        } else {
            Err(HarnessError::Tool {
                command: self.command,
                status: self.status,
                stderr: self.stderr.trim_end().to_owned(),
            })
        }
    }
}

/// Runs `command` with `stdin` as its input, killing it when it outlives `timeout`. The exit
/// status is reported, not judged: see [`ToolOutput::success`].
pub(crate) fn run(
    mut command: Command,
    stdin: &[u8],
    timeout: Duration,
) -> Result<ToolOutput, HarnessError> {
    let line = describe(&command);
    let spawn_error = |source| HarnessError::Spawn {
        program: line.clone(),
        source,
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    // Input and output go through threads, so that a program that writes much before reading
    // all its input (ldapadd of 100,000 entries) can never block on a full pipe.
    let writer = child.stdin.take().map(|mut pipe| {
        let input = stdin.to_vec();
        thread::spawn(move || {
            // A program that exits early closes the pipe; its status tells why.
            let _ = pipe.write_all(&input);
        })
    });
    let stdout = child.stdout.take().map(read_all);
    let stderr = child.stderr.take().map(read_all);
    let status = wait_until(&mut child, Instant::now() + timeout).map_err(spawn_error)?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let collect = |reader: Option<thread::JoinHandle<String>>| {
        reader
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default()
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    match status {
        Some(status) => Ok(ToolOutput {
            command: line,
            status,
            stdout,
            stderr,
        }),
        None => Err(HarnessError::TimedOut {
            command: line,
            seconds: timeout.as_secs(),
        }),
    }
}

/// Waits for `child` until `deadline`; past it, kills the child and returns `None`.
pub(crate) fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(POLL);
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// `program arg arg ...` for messages.
fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    command.get_args().fold(program, |mut line, arg| {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
        line
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_says_to_run_the_setup_script() {
        let error = find_program("no-such-ldap-tool").unwrap_err().to_string();
        assert!(
            error.contains("`no-such-ldap-tool` was not found"),
            "{error}"
        );
        assert!(error.contains("run scripts/setup.sh"), "{error}");
    }

    #[test]
    fn a_program_past_its_time_out_is_killed() {
        let mut command = Command::new("sleep");
        command.arg("30");
        let started = Instant::now();
        let error = run(command, b"", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(error, HarnessError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
