//! The real `ecmahost` binary as a child process of a test (`ecmahost serve`), for what only a
//! process shows: signals, `kill -9`, a restart from the same folder.

use std::path::{Path, PathBuf};

use ecma_integration_tests::plugin_dir;

/// `ecmahost serve --config FILE`, killed (SIGKILL) and reaped when dropped. Its log goes to
/// `ecmahost.log` next to the file (appended across restarts).
pub struct Serving {
    child: std::process::Child,
    config: PathBuf,
}

impl Serving {
    /// Start serving `config`.
    pub fn start(config: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_file_name("ecmahost.log"))
            .expect("open the log file");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ecmahost-under-test"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start ecmahost");
        Self {
            child,
            config: config.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait for ecmahost")
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log =
            std::fs::read_to_string(self.config.with_file_name("ecmahost.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// `kill -9`, then wait for it to be gone.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL ecmahost");
        self.child.wait().expect("reap ecmahost");
    }

    /// Start the same folder again.
    pub fn restart(&mut self) {
        self.kill_9();
        *self = Self::start(&self.config);
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A demo folder in a temp dir whose host file listens on a free 127.0.0.1 port (returned),
/// with no admin listener (its fixed port could be taken) and `extra` appended to the file.
pub async fn demo_folder(extra: &str) -> (tempfile::TempDir, ecmahost::demo::DemoSetup, u16) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let setup = ecmahost::demo::prepare(
        dir.path(),
        std::net::Ipv4Addr::LOCALHOST.into(),
        port,
        &plugin_dir().join("libecma_sql.so"),
    )
    .await
    .unwrap();
    without_admin(&setup.host_config, extra);
    (dir, setup, port)
}

/// A free 127.0.0.1 port (for a host file that names its port).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn without_admin(host_config: &Path, extra: &str) {
    let text = std::fs::read_to_string(host_config).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("admin_listen"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(host_config, format!("{text}{extra}")).unwrap();
}
