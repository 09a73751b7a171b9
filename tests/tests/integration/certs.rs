//! Certificates: `ecmahost cert generate` refuses to overwrite, `cert show` prints what the
//! certificate says, and a running host serves a replaced certificate to new connections.

use std::path::Path;

use assert_cmd::Command;
use ecma_integration_tests::{client_trusting, ecmahost_bin, TestHost};
use ecmahost::tls::info::CertificateInfo;
use reqwest::StatusCode;

/// Run `ecmahost ARGS` in `dir`: exit code, standard output and standard error.
fn ecmahost(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let assert = Command::new(ecmahost_bin())
        .current_dir(dir)
        .args(args)
        .assert();
    let output = assert.get_output().clone();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn fingerprint(file: &Path) -> String {
    CertificateInfo::from_pem_file(file)
        .unwrap()
        .sha256_fingerprint
}

#[test]
fn generate_refuses_to_overwrite_without_force_and_show_prints_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls/cert.pem");
    let (code, out, err) = ecmahost(
        dir.path(),
        &["cert", "generate", "--name", "scim.example.org"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote tls/cert.pem and tls/key.pem"), "{out}");
    let first = fingerprint(&cert);
    let (code, shown, err) = ecmahost(dir.path(), &["cert", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        shown.contains("CN=scim.example.org") && shown.contains("DNS:scim.example.org"),
        "the name asked for is the subject and a SAN: {shown}"
    );

    let (code, _, err) = ecmahost(dir.path(), &["cert", "generate"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: tls/cert.pem already exists; pass --force to replace it"),
        "{err}"
    );
    assert_eq!(
        fingerprint(&cert),
        first,
        "the old certificate is untouched"
    );

    let (code, _, err) = ecmahost(dir.path(), &["cert", "generate", "--force"]);
    assert_eq!(code, 0, "{err}");
    let second = fingerprint(&cert);
    assert_ne!(second, first);

    let (code, out, err) = ecmahost(dir.path(), &["cert", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("subject:     CN="), "{out}");
    assert!(
        out.contains("DNS:localhost") && out.contains("IP:127.0.0.1"),
        "{out}"
    );
    assert!(
        !out.contains("scim.example.org"),
        "the replaced one had it: {out}"
    );
    assert!(out.contains(&format!("SHA-256:     {second}")), "{out}");
    assert!(out.contains("not after:   "), "{out}");

    let (code, _, err) = ecmahost(dir.path(), &["cert", "show", "--cert", "missing.pem"]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.pem"), "{err}");
}

#[tokio::test]
async fn a_replaced_certificate_serves_new_connections_without_a_restart() {
    let host = TestHost::start().await;
    let tls = host.dir.path().join("tls");
    let old_cert = tls.join("cert.pem");
    let old_copy = host.dir.path().join("old-cert.pem");
    std::fs::copy(&old_cert, &old_copy).unwrap();
    let before = host.admin_get("/status").await.1;
    assert!(before.contains(&fingerprint(&old_cert)), "{before}");

    // The administrator writes a new pair beside the old one and renames both into place.
    let (new_cert, new_key) = (
        host.dir.path().join("new-cert.pem"),
        host.dir.path().join("new-key.pem"),
    );
    ecmahost::tls::generate_self_signed(ecmahost::tls::default_names(), 90, &new_cert, &new_key)
        .unwrap();
    let wanted = fingerprint(&new_cert);
    std::fs::copy(&new_cert, host.dir.path().join("served-cert.pem")).unwrap();
    std::fs::rename(&new_key, tls.join("key.pem")).unwrap();
    std::fs::rename(&new_cert, &old_cert).unwrap();

    let mut served = String::new();
    for _ in 0..100 {
        served = host.admin_get("/status").await.1;
        if served.contains(&wanted) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        served.contains(&wanted),
        "the host did not reload: {served}"
    );

    // A new connection gets the new certificate: a client that trusts only it succeeds, and
    // one that trusts only the old one fails the handshake.
    let url = host.url("demo", "/Users?count=1");
    let new_client = client_trusting(&host.dir.path().join("served-cert.pem"));
    let response = new_client
        .get(&url)
        .bearer_auth(&host.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let old_client = client_trusting(&old_copy);
    assert!(
        old_client
            .get(&url)
            .bearer_auth(&host.token)
            .send()
            .await
            .is_err(),
        "the old certificate is no longer served"
    );
    host.stop().await;
}

/// A certificate that expires within 30 days: `cert show` warns, and a host serving it warns
/// in its log and in `/status`.
#[tokio::test]
async fn a_certificate_near_its_expiry_is_warned_about_in_the_log_and_status() {
    // Generated for 10 days: 9 whole days are left, or 10 within the second it was made.
    let left = |text: &str| ["9 day(s)", "10 day(s)"].iter().any(|d| text.contains(d));
    let host = TestHost::start_with(Vec::new(), |dir| {
        let (code, out, err) = ecmahost(dir, &["cert", "generate", "--days", "10", "--force"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("wrote tls/cert.pem"), "{out}");
        let (code, out, err) = ecmahost(dir, &["cert", "show"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("warning:     the certificate expires in ") && left(&out),
            "{out}"
        );
    })
    .await;
    let (status, body) = host.admin_get("/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let warning = body["certificate"]["warning"].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("the certificate expires in ") && left(warning),
        "{body}"
    );
    let logged = ecma_integration_tests::log_capture::all_lines();
    assert!(
        logged
            .iter()
            .any(|line| line.contains("the certificate expires in ") && left(line)),
        "no warning in the log"
    );
    host.stop().await;
}

#[test]
fn generate_refuses_a_validity_of_zero_days() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = ecmahost(dir.path(), &["cert", "generate", "--days", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--days"), "{err}");
    assert!(!dir.path().join("tls/cert.pem").exists());
}
