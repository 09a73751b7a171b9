//! Certificate authentication: a service on TLS that requires a client certificate from its
//! CA. With the certificate (and the CA in `ca_file`) the import goes through; without it the
//! handshake fails and the import says it could not connect.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use ecma_plugin_api::ErrorKind;
use ecma_plugin_testkit::HarnessError;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use serde_json::json;

struct Pki {
    dir: tempfile::TempDir,
    server: rustls::ServerConfig,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf = |names: Vec<String>, purpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![purpose];
        (params.signed_by(&key, &ca, &ca_key).unwrap(), key)
    };
    let (server_cert, server_key) = leaf(
        vec!["localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        vec!["ecma-connector".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
    write("ca.pem", ca.pem());
    write("client.pem", client_cert.pem());
    write("client.key", client_key.serialize_pem());

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
        )
        .unwrap();
    Pki { dir, server }
}

#[test]
fn a_client_certificate_opens_a_service_that_requires_one() {
    let pki = pki();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route(
        "/items",
        get(|| async { Json(json!({"items": [{"id": "c1", "name": "Certified"}]})) }),
    );
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(pki.server));
    let _server = runtime.spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .serve(app.into_make_service())
            .await
    });

    let dir = pki.dir.path();
    let project = crate::import_project(
        dir,
        "certificate",
        &format!("https://localhost:{port}"),
        r#"kind = "none""#,
    );
    let file = |name: &str| dir.join(name).display().to_string();
    let mut h = crate::harness(&project);
    h.answer("ca_file", file("ca.pem"));
    h.answer("client_certificate", file("client.pem"));
    h.answer("client_key", file("client.key"));
    h.configure().unwrap();
    let run = h.full_import().unwrap();
    assert_eq!(run.text("c1", "name").as_deref(), Some("Certified"));

    // The same service without the certificate: the handshake fails.
    let mut h = crate::harness(&project);
    h.answer("ca_file", file("ca.pem"));
    h.configure().unwrap();
    match h.full_import() {
        Err(HarnessError::Connector { source, .. }) => {
            assert_eq!(source.kind, ErrorKind::Connection, "{source}");
        }
        other => panic!("expected a connection error, got {other:?}"),
    }
}
