//! TLS for LDAPS and StartTLS: rustls (ring provider) with a CA file, the system roots, or a
//! server certificate pinned by its SHA-256 fingerprint; a client certificate for SASL EXTERNAL.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use ecma_plugin_api::ConnectorError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::settings::{names, ConnectionSettings};

fn invalid(message: String) -> ConnectorError {
    ConnectorError::invalid_configuration(message)
}

fn read_certificates(
    path: &Path,
    parameter: &str,
) -> Result<Vec<CertificateDer<'static>>, ConnectorError> {
    let file = File::open(path).map_err(|e| {
        invalid(format!(
            "parameter `{parameter}`: cannot read {}: {e}",
            path.display()
        ))
    })?;
    let certificates = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("parameter `{parameter}`: {}: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(invalid(format!(
            "parameter `{parameter}`: {} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
            path.display()
        )));
    }
    Ok(certificates)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ConnectorError> {
    let parameter = names::CLIENT_KEY_FILE;
    let file = File::open(path).map_err(|e| {
        invalid(format!(
            "parameter `{parameter}`: cannot read {}: {e}",
            path.display()
        ))
    })?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .map_err(|e| invalid(format!("parameter `{parameter}`: {}: {e}", path.display())))?
        .ok_or_else(|| {
            invalid(format!(
                "parameter `{parameter}`: {} holds no PEM private key",
                path.display()
            ))
        })
}

/// SHA-256 of a DER certificate, as lower-case hex with colons (what the global page shows).
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly the server certificate the administrator pinned (`sha256`), or with no pin
/// any certificate: only for reading the server's certificate so the administrator can pin
/// it, never to send credentials or data. Either way the server must hold the key.
#[derive(Debug)]
struct Pinned {
    sha256: Option<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.sha256 {
            Some(pin) if fingerprint(end_entity).replace(':', "") != *pin => {
                Err(rustls::Error::General(format!(
                    "the server's certificate has SHA-256 fingerprint {}, not the pinned one ({})",
                    fingerprint(end_entity),
                    names::SERVER_CERTIFICATE_SHA256
                )))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client configuration for these settings. `inspect_only` accepts any server
/// certificate, for showing it; callers then never bind.
pub(crate) fn client_config(
    settings: &ConnectionSettings,
    inspect_only: bool,
) -> Result<Arc<ClientConfig>, ConnectorError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectorError::other(format!("TLS set-up: {e}")))?;
    let builder = if inspect_only || settings.pinned_sha256.is_some() {
        let sha256 = if inspect_only {
            None
        } else {
            settings.pinned_sha256.clone()
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { sha256, provider }))
    } else {
        let mut roots = RootCertStore::empty();
        match &settings.ca_file {
            Some(path) => {
                for certificate in read_certificates(path, names::CA_FILE)? {
                    roots.add(certificate).map_err(|e| {
                        invalid(format!(
                            "parameter `{}`: {}: {e}",
                            names::CA_FILE,
                            path.display()
                        ))
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for certificate in found.certs {
                    // A system store may hold certificates rustls cannot use; skip those.
                    let _ = roots.add(certificate);
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&settings.client_certificate, &settings.client_key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(
                read_certificates(cert, names::CLIENT_CERTIFICATE_FILE)?,
                read_key(key)?,
            )
            .map_err(|e| {
                invalid(format!(
                    "parameters `{}` and `{}`: {e}",
                    names::CLIENT_CERTIFICATE_FILE,
                    names::CLIENT_KEY_FILE
                ))
            })?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// What the global page shows of a server certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub sha256: String,
}

pub(crate) fn describe(der: &[u8]) -> CertificateInfo {
    let sha256 = fingerprint(der);
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, certificate)) => CertificateInfo {
            subject: certificate.subject().to_string(),
            issuer: certificate.issuer().to_string(),
            not_after: certificate.validity().not_after.to_string(),
            sha256,
        },
        Err(_) => CertificateInfo {
            subject: "(unreadable certificate)".into(),
            issuer: String::new(),
            not_after: String::new(),
            sha256,
        },
    }
}
