//! Starts one configured slapd, says where it listens, and stops it on drop.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use tempfile::TempDir;

use crate::account::{chown_tree, service_user};
use crate::config::{self, ConfigInputs};
use crate::tls::{self, TlsFiles};
use crate::tools::{self, find_program, tool_command};
use crate::{write_file, HarnessError, SlapdOptions, ADMIN_DN, ADMIN_PASSWORD, BASE_DN};

/// The ldap-utils programs the harness and its users run; checked at start, so that a missing
/// package fails every test the same way.
const LDAP_UTILS: [&str; 5] = [
    "ldapsearch",
    "ldapadd",
    "ldapmodify",
    "ldapdelete",
    "ldapwhoami",
];
/// How long slapd gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Starts that fail because another process took a chosen port are retried this often.
const START_ATTEMPTS: usize = 3;

/// A running slapd. See the crate documentation for what it is configured with.
#[derive(Debug)]
pub struct Slapd {
    // Fields drop in order: the process stops before its directory is removed.
    process: SlapdProcess,
    port: u16,
    ldaps_port: u16,
    pub(crate) tls: TlsFiles,
    pub(crate) password_file: PathBuf,
    log_path: PathBuf,
    pub(crate) tool_timeout: Duration,
    pub(crate) dir: TempDir,
}

impl Slapd {
    /// Starts an instance with the default options.
    pub fn start() -> Result<Slapd, HarnessError> {
        Slapd::start_with(SlapdOptions::default())
    }

    /// Starts an instance: writes its configuration and certificates to a fresh temp
    /// directory, starts slapd on free ports, waits until it answers, and adds the base
    /// entries. Fails (with slapd's log) when it does not answer within the start time-out.
    pub fn start_with(options: SlapdOptions) -> Result<Slapd, HarnessError> {
        let slapd = find_program("slapd")?;
        let slapadd = find_program("slapadd")?;
        let slappasswd = find_program("slappasswd")?;
        for program in LDAP_UTILS {
            find_program(program)?;
        }
        let dir = tempfile::Builder::new()
            .prefix("ecma-slapd-")
            .tempdir()
            .map_err(|source| HarnessError::File {
                what: "creating a temp directory in",
                path: std::env::temp_dir(),
                source,
            })?;
        let root = dir.path();
        let [config_dir, main_db_dir, accesslog_db_dir, tls_dir] =
            ["slapd.d", "data", "accesslog", "tls"].map(|name| root.join(name));
        for path in [&config_dir, &main_db_dir, &accesslog_db_dir, &tls_dir] {
            std::fs::create_dir(path).map_err(|source| HarnessError::File {
                what: "creating",
                path: path.clone(),
                source,
            })?;
        }
        let tls = tls::generate(&tls_dir)?;
        // ldap-utils read the password from this file (`-y`), so it never shows in `ps`.
        let password_file = root.join("admin.password");
        write_file(&password_file, ADMIN_PASSWORD.as_bytes())?;
        let timeout = options.tool_timeout;
        let mut hash = Command::new(slappasswd);
        hash.args(["-h", "{SSHA}", "-T"]).arg(&password_file);
        let password_hash = tools::run(hash, b"", timeout)?.success()?;
        let config_ldif = config::render(&ConfigInputs {
            dir: root,
            main_db_dir: &main_db_dir,
            accesslog_db_dir: &accesslog_db_dir,
            tls: &tls,
            password_hash: password_hash.trim(),
            sync_session_log: options.sync_session_log,
        })?;
        let config_path = root.join("config.ldif");
        write_file(&config_path, config_ldif.as_bytes())?;
        let mut load = Command::new(slapadd);
        load.args(["-n0", "-F"])
            .arg(&config_dir)
            .arg("-l")
            .arg(&config_path);
        tools::run(load, b"", timeout)?.success()?;
        let user = service_user()?;
        if let Some(user) = &user {
            chown_tree(root, user)?;
        }

        let log_path = root.join("slapd.log");
        let mut attempt = 1;
        let (process, port, ldaps_port) = loop {
            let (port, ldaps_port) = free_ports()?;
            let mut command = Command::new(&slapd);
            command
                .arg("-d")
                .arg(&options.log_level)
                .arg("-F")
                .arg(&config_dir)
                .arg("-h")
                .arg(format!(
                    "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{ldaps_port}/"
                ));
            if let Some(user) = &user {
                command
                    .arg("-u")
                    .arg(user.uid.to_string())
                    .arg("-g")
                    .arg(user.gid.to_string());
            }
            let mut process = SlapdProcess::spawn(command, root, &log_path)?;
            let probe = Probe {
                url: ldap_url(port),
                ca: &tls.ca_cert,
                cwd: root,
            };
            match process.wait_until_ready(&probe, options.start_timeout) {
                Ok(()) => break (process, port, ldaps_port),
                Err(reason) => {
                    let log = read_log(&log_path);
                    // Another process may take a chosen port before slapd binds it.
                    if attempt < START_ATTEMPTS && log.contains("Address already in use") {
                        attempt += 1;
                        continue;
                    }
                    return Err(HarnessError::Startup {
                        reason,
                        log_path,
                        log,
                    });
                }
            }
        };
        let instance = Slapd {
            process,
            port,
            ldaps_port,
            tls,
            password_file,
            log_path,
            tool_timeout: timeout,
            dir,
        };
        instance.ldapadd(&config::base_entries())?;
        Ok(instance)
    }

    /// `ldap://127.0.0.1:PORT` (plain; StartTLS is offered).
    pub fn url(&self) -> String {
        ldap_url(self.port)
    }

    /// `ldaps://127.0.0.1:PORT` (TLS from the start).
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn ldaps_port(&self) -> u16 {
        self.ldaps_port
    }

    /// [`BASE_DN`](crate::BASE_DN).
    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    /// [`ADMIN_DN`](crate::ADMIN_DN).
    pub fn admin_dn(&self) -> &'static str {
        ADMIN_DN
    }

    /// [`ADMIN_PASSWORD`](crate::ADMIN_PASSWORD).
    pub fn admin_password(&self) -> &'static str {
        ADMIN_PASSWORD
    }

    /// The test CA's certificate (PEM), which signed the server and client certificates.
    pub fn ca_pem_path(&self) -> &Path {
        &self.tls.ca_cert
    }

    /// slapd's server certificate (PEM), for `127.0.0.1` and `localhost`.
    pub fn server_cert_path(&self) -> &Path {
        &self.tls.server_cert
    }

    /// SHA-256 of the server certificate's DER encoding.
    pub fn server_cert_fingerprint_sha256(&self) -> [u8; 32] {
        self.tls.server_fingerprint_sha256
    }

    /// The client certificate (PEM, subject [`CLIENT_CERT_SUBJECT`](crate::CLIENT_CERT_SUBJECT)).
    pub fn client_cert_path(&self) -> &Path {
        &self.tls.client_cert
    }

    /// The client certificate's private key (PKCS#8 PEM).
    pub fn client_key_path(&self) -> &Path {
        &self.tls.client_key
    }

    /// The instance's directory (configuration, databases, certificates, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of slapd.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// What slapd wrote to its log so far (see [`SlapdOptions::log_level`]).
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }
}

/// The slapd child process; stopping it is its drop.
#[derive(Debug)]
struct SlapdProcess {
    child: Child,
}

impl SlapdProcess {
    /// Starts `command` in `cwd` with its standard output and error going to `log_path`.
    fn spawn(mut command: Command, cwd: &Path, log_path: &Path) -> Result<Self, HarnessError> {
        let open_error = |source| HarnessError::File {
            what: "creating",
            path: log_path.to_owned(),
            source,
        };
        let log = File::create(log_path).map_err(open_error)?;
        let log_err = log.try_clone().map_err(open_error)?;
        let child = command
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                program: command.get_program().to_string_lossy().into_owned(),
                source,
            })?;
        Ok(SlapdProcess { child })
    }

    /// Polls with an anonymous root DSE search until slapd answers; the error says why not
    /// (it exited, or `timeout` passed).
    fn wait_until_ready(&mut self, probe: &Probe<'_>, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Err(format!("slapd exited ({status})")),
                Ok(None) => {}
                Err(error) => return Err(format!("waiting for slapd failed: {error}")),
            }
            if probe.answers()? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer on {} within {} s",
                    probe.url,
                    timeout.as_secs_f32()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SlapdProcess {
    /// SIGTERM, then SIGKILL when slapd has not exited after [`STOP_TIMEOUT`].
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            if let Some(pid) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
                let _ = kill_process(pid, Signal::TERM);
            }
            // Past the deadline, `wait_until` kills the process and reaps it.
            let _ = tools::wait_until(&mut self.child, Instant::now() + STOP_TIMEOUT);
        }
    }
}

/// The anonymous root DSE search that tells whether slapd answers.
struct Probe<'a> {
    url: String,
    ca: &'a Path,
    cwd: &'a Path,
}

impl Probe<'_> {
    fn answers(&self) -> Result<bool, String> {
        let mut command =
            tool_command("ldapsearch", self.ca, self.cwd).map_err(|e| e.to_string())?;
        command
            .args(["-x", "-H", &self.url, "-o", "nettimeout=1"])
            .args(["-s", "base", "-b", "", "namingContexts"]);
        tools::run(command, b"", Duration::from_secs(5))
            .map(|output| output.status.success())
            .map_err(|error| error.to_string())
    }
}

fn ldap_url(port: u16) -> String {
    format!("ldap://127.0.0.1:{port}")
}

fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|error| format!("(could not read {}: {error})", path.display()))
}

/// Two distinct ports that were free a moment ago (the OS picks them; both listeners are
/// held until both are known).
fn free_ports() -> Result<(u16, u16), HarnessError> {
    let bind = || {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| Ok((listener.local_addr()?.port(), listener)))
            .map_err(|source| HarnessError::Spawn {
                program: "a listener on 127.0.0.1 to find a free port".to_owned(),
                source,
            })
    };
    let (first, _held) = bind()?;
    let (second, _also_held) = bind()?;
    Ok((first, second))
}
