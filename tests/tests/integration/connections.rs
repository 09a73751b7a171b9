//! Connections through the real host: a connection holding half a request head, or idle
//! between requests, is closed after its time-out on HTTP/1.1 and HTTP/2; one client address
//! cannot take every connection; SIGTERM ends the real `ecmahost` binary even while a plugin
//! call hangs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::process::{demo_folder, Serving};
use ecma_integration_tests::{client_builder_trusting, plugin_dir, TestHost};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Add a `[limits]` table to the demo's host file.
fn limits(dir: &Path, lines: &str) {
    let file = dir.join("host.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}\n[limits]\n{lines}\n")).unwrap();
}

/// A TLS connection to the host offering `alpn`.
async fn tls_connect(
    host: &TestHost,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(&host.certificate).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(ecmahost::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", host.port))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// Read until the host closes the connection (bounded by `within`); returns what was read
/// and how long it took. Panics if the connection is still open after `within`.
async fn read_until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    within: Duration,
) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buf)).await {
            Err(_) => panic!("the connection is still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (all, started.elapsed()),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn half_headers_and_idle_connections_are_closed_after_their_time_outs() {
    let host = TestHost::start_with(Vec::new(), |dir| {
        limits(
            dir,
            "header_read_timeout_seconds = 1\nidle_timeout_seconds = 2",
        )
    })
    .await;
    // HTTP/1.1: half a request head.
    let mut half = tls_connect(&host, b"http/1.1").await;
    half.write_all(b"GET /ecma2host_demo/scim/Users HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    half.flush().await.unwrap();
    // HTTP/1.1: one full request, then idle on the kept-alive connection.
    let mut idle = tls_connect(&host, b"http/1.1").await;
    idle.write_all(
        format!(
            "GET /ecma2host_demo/scim/Users?count=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\r\n",
            host.token
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // HTTP/2: the preface and an empty SETTINGS frame, then nothing.
    let mut h2 = tls_connect(&host, b"h2").await;
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    h2.flush().await.unwrap();

    let within = Duration::from_secs(15);
    let (_, _) = read_until_closed(&mut half, within).await;
    let (answer, _) = read_until_closed(&mut idle, within).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let (_, _) = read_until_closed(&mut h2, within).await;

    // Legitimate requests are served meanwhile and after.
    let (status, _) = host
        .send(
            reqwest::Method::GET,
            "demo",
            "/Users?count=1",
            &host.token,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    host.stop().await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let host = TestHost::start_with(Vec::new(), |dir| {
        limits(dir, "max_connections_per_address = 3")
    })
    .await;
    // 127.0.0.2 (loopback) holds its three connections open with nothing sent.
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((attacker, 0).into()).unwrap();
        held.push(
            socket
                .connect(([127, 0, 0, 1], host.port).into())
                .await
                .unwrap(),
        );
    }
    // Its fourth is closed at once, before any TLS.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((attacker, 0).into()).unwrap();
    let mut fourth = socket
        .connect(([127, 0, 0, 1], host.port).into())
        .await
        .unwrap();
    let (bytes, _) = read_until_closed(&mut fourth, Duration::from_secs(5)).await;
    assert!(bytes.is_empty());
    // 127.0.0.1 is still served, on new connections too.
    let fresh = client_builder_trusting(&host.certificate).build().unwrap();
    let response = fresh
        .get(host.url("demo", "/Users?count=1"))
        .bearer_auth(&host.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Once the attacker's connections close, it may connect again.
    drop(held);
    let attacker_client = client_builder_trusting(&host.certificate)
        .local_address(attacker)
        .build()
        .unwrap();
    let mut status = None;
    for _ in 0..50 {
        if let Ok(r) = attacker_client
            .get(host.url("demo", "/Users?count=1"))
            .bearer_auth(&host.token)
            .send()
            .await
        {
            status = Some(r.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(StatusCode::OK));
    host.stop().await;
}

#[tokio::test]
async fn sigterm_ends_the_binary_even_with_a_hung_plugin_call() {
    let (dir, setup, port) = demo_folder("\n[limits]\nshutdown_grace_seconds = 2\n").await;
    std::fs::copy(
        plugin_dir().join("libecma_faulty.so"),
        dir.path().join("ECMA/libecma_faulty.so"),
    )
    .unwrap();
    let token = "faulty-connector-token-123";
    let hash = ecmahost::token::hash_token(token).unwrap();
    std::fs::write(
        dir.path().join("connectors/faulty.toml"),
        format!(
            "version = 1\nname = \"faulty\"\ntoken_hash = \"{hash}\"\nplugin = \"libecma_faulty.so\"\nobject_type = \"User\"\nanchor = \"Id\"\n\
             [[attributes]]\nname = \"Name\"\n[[attributes]]\nname = \"Mode\"\n"
        ),
    )
    .unwrap();
    let mut child = Serving::start(&setup.host_config);
    let client = ecma_integration_tests::client_trusting(&setup.certificate);
    let url =
        |connector: &str| format!("https://localhost:{port}/ecma2host_{connector}/scim/Users");
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(r) = client.get(url("faulty")).bearer_auth(token).send().await {
            if r.status() == StatusCode::OK {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the host never answered");

    // A POST whose export hangs in the plugin, forever.
    let hung = tokio::spawn({
        let (client, url) = (client.clone(), url("faulty"));
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("Content-Type", "application/scim+json")
                .body(serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "h1",
                    "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"Name": "h1", "Mode": "hang"}
                }).to_string())
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!hung.is_finished(), "the export hangs");

    let pid = child.pid().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let mut exit = None;
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(status) = child.try_wait() {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exit = exit.expect("ecmahost still running 30 s after SIGTERM");
    assert!(exit.success(), "{exit:?}");
    // The hung request was abandoned: no answer, or a failure, never a success.
    let answer = tokio::time::timeout(Duration::from_secs(10), hung)
        .await
        .expect("the hung request ended with the host")
        .unwrap();
    assert!(
        answer.as_ref().map_or(true, |r| !r.status().is_success()),
        "{answer:?}"
    );
}
