//! Generates the instance's test PKI with rcgen: a CA, slapd's server certificate and a client
//! certificate for SASL EXTERNAL, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};

use crate::{write_file, HarnessError, CLIENT_CERT_COMMON_NAME, CLIENT_CERT_ORGANIZATION};

/// The PEM files of one instance and the server certificate's fingerprint.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub server_fingerprint_sha256: [u8; 32],
}

/// Writes a fresh CA, a server certificate for `127.0.0.1` and `localhost` signed by it, and a
/// client certificate with subject `CN=ecma-client,O=ecmahost-test`, into `dir`.
pub(crate) fn generate(dir: &Path) -> Result<TlsFiles, HarnessError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = name("ecmahost test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;

    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    server_params.distinguished_name = name("127.0.0.1");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server = server_params.signed_by(&server_key, &ca, &ca_key)?;

    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params.distinguished_name = name(CLIENT_CERT_COMMON_NAME);
    client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client = client_params.signed_by(&client_key, &ca, &ca_key)?;

    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        server_fingerprint_sha256: Sha256::digest(server.der()).into(),
    };
    write_file(&files.ca_cert, ca.pem().as_bytes())?;
    write_file(&files.server_cert, server.pem().as_bytes())?;
    write_file(&files.server_key, server_key.serialize_pem().as_bytes())?;
    write_file(&files.client_cert, client.pem().as_bytes())?;
    write_file(&files.client_key, client_key.serialize_pem().as_bytes())?;
    Ok(files)
}

/// `O=ecmahost-test` then `CN=common_name`: X.509 lists the most significant part first, so
/// the LDAP string form (RFC 4514, reversed) reads `CN=...,O=ecmahost-test`.
fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, CLIENT_CERT_ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    name
}
