//! The operator's commands against a running host, as a user runs them: `ecmahost status`,
//! `ecmahost connector import-now` and `ecmahost support-bundle`.

use std::io::Read;
use std::path::Path;

use assert_cmd::Command;
use ecma_integration_tests::{ecmahost_bin, TestHost};
use reqwest::{Method, StatusCode};

/// Run `ecmahost ARGS` against the test host's admin listener: exit code, stdout, stderr. The
/// command runs on a blocking thread, so the host (on this test's runtime) answers it.
async fn ecmahost(host: &TestHost, args: &[&str]) -> (i32, String, String) {
    let admin = format!("http://{}", host.host.as_ref().unwrap().admin_addr.unwrap());
    let dir = host.dir.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let assert = Command::new(ecmahost_bin())
            .current_dir(dir)
            .args(args)
            .args(["--admin", &admin])
            .assert();
        let output = assert.get_output();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    })
    .await
    .unwrap()
}

async fn insert_employee(host: &TestHost, login: &str) {
    use sqlx::Connection;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", host.database().display()))
            .await
            .unwrap();
    sqlx::query("INSERT INTO Employees (Login, IsActive) VALUES (?, 1)")
        .bind(login)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn status_and_import_now_drive_a_running_host() {
    let host = TestHost::start().await;
    let (code, out, err) = ecmahost(&host, &["status"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("demo: ready"), "{out}");
    assert!(out.contains("plugin:      sql "), "{out}");
    assert!(out.contains("objects:     5"), "{out}");
    assert!(out.contains("last sync:   full at "), "{out}");
    assert!(out.contains("certificate: CN="), "{out}");

    // A row added behind the host's back is served after a triggered full import.
    insert_employee(&host, "added.behind").await;
    let (code, _) = host
        .send(
            Method::GET,
            "demo",
            "/Users/added.behind",
            &host.token,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, out, err) = ecmahost(&host, &["connector", "import-now", "demo", "--wait"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("full import of demo started"), "{out}");
    assert!(
        out.contains("full import of demo finished: 6 object(s)"),
        "{out}"
    );
    let (code, body) = host
        .send(
            Method::GET,
            "demo",
            "/Users/added.behind",
            &host.token,
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");

    // The demo's run profiles have no delta import: refused, with the key to change.
    let (code, _, err) = ecmahost(&host, &["connector", "import-now", "demo", "--delta"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("run_profiles.delta_import"), "{err}");
    let (code, _, err) = ecmahost(&host, &["connector", "import-now", "nosuch"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no connector named `nosuch`"), "{err}");
    host.stop().await;
}

/// Every file of a `.tar.gz`, by name.
fn unpack(archive: &Path) -> Vec<(String, String)> {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            (name, text)
        })
        .collect()
}

#[tokio::test]
async fn support_bundle_holds_configs_without_secrets_status_logs_and_versions() {
    let host = TestHost::start().await;
    let logs = host.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("ecmahost.2026-01-01.log"), "INFO a recent line\n").unwrap();
    let demo = std::fs::read_to_string(host.dir.path().join("connectors/demo.toml")).unwrap();
    let hash = demo
        .lines()
        .find_map(|l| l.strip_prefix("token_hash = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();

    let (code, out, err) = ecmahost(
        &host,
        &[
            "support-bundle",
            "--config",
            "host.toml",
            "--output",
            "bundle.tar.gz",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote bundle.tar.gz"), "{out}");
    let files = unpack(&host.dir.path().join("bundle.tar.gz"));
    let file = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == &format!("ecmahost-support/{name}"))
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| {
                panic!(
                    "{name} missing from {:?}",
                    files.iter().map(|f| &f.0).collect::<Vec<_>>()
                )
            })
    };
    assert!(file("versions.txt").contains("libecma_sql.so"));
    assert!(file("versions.txt").contains("content hash"));
    let connector = file("config/connectors/demo.toml");
    assert!(
        connector.contains("token_hash = \"REDACTED\""),
        "{connector}"
    );
    assert!(connector.contains("Login"), "{connector}");
    assert!(file("config/host.toml").contains("tls"));
    assert!(file("status.json").contains("\"name\": \"demo\""));
    assert!(file("metrics.txt").contains("ecmahost_connector_up"));
    assert!(file("logs/ecmahost.2026-01-01.log").contains("a recent line"));
    for (name, text) in &files {
        assert!(!text.contains(&hash), "{name} holds the token hash");
        assert!(!text.contains(&host.token), "{name} holds the token");
    }
    host.stop().await;
}

/// Run `ecmahost ARGS` with no host: exit code and stdout.
fn ecmahost_offline(args: &[&str]) -> (i32, String) {
    let assert = Command::new(ecmahost_bin()).args(args).assert();
    let output = assert.get_output();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

#[test]
fn completions_for_bash_zsh_and_fish_cover_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F _ecmahost"),
        ("zsh", "#compdef ecmahost"),
        ("fish", "complete -c ecmahost"),
    ] {
        let (code, out) = ecmahost_offline(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(out.contains(marker), "{shell}: {out}");
        for command in ["serve", "status", "import-now", "support-bundle", "cert"] {
            assert!(out.contains(command), "{shell} lacks {command}");
        }
    }
    let (code, _) = ecmahost_offline(&["completions", "tcsh"]);
    assert_eq!(code, 2, "clap refuses an unknown shell");
}

/// `ecmahost completions bash | head` is no error: the script is larger than a pipe holds,
/// and the reader goes away before the end.
#[test]
fn completions_into_a_reader_that_stops_early_end_quietly() {
    use std::io::Read;
    let mut child = std::process::Command::new(ecmahost_bin())
        .args(["completions", "bash"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Ended by SIGPIPE, as `cat` would be (the shell's 141), or done before the reader left.
    use std::os::unix::process::ExitStatusExt;
    assert!(
        output.status.success() || output.status.signal() == Some(13),
        "{:?}: {stderr}",
        output.status
    );
}

#[test]
fn the_systemd_unit_is_hardened_and_writes_only_data_and_ecma() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy/ecmahost.service"),
    )
    .unwrap();
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing from the unit"))
            .to_string()
    };
    assert_eq!(value("User"), "ecmahost");
    assert_eq!(value("ProtectSystem"), "strict");
    assert_eq!(value("Restart"), "on-failure");
    assert_eq!(
        value("ReadWritePaths"),
        "/var/lib/ecmahost/data /var/lib/ecmahost/ECMA"
    );
    assert_eq!(value("NoNewPrivileges"), "yes");
    assert_eq!(value("CapabilityBoundingSet"), "");
    assert!(
        value("ExecStart").starts_with("/usr/bin/ecmahost serve --config /etc/ecmahost/host.toml")
    );
    // The config it points at is a valid host file.
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy/host.toml");
    let host = ecmahost::config::HostConfig::load(&config).unwrap();
    assert_eq!(host.data_dir, Path::new("/var/lib/ecmahost/data"));
    assert_eq!(host.ecma_dir, Path::new("/var/lib/ecmahost/ECMA"));
}
