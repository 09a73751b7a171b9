//! TLS: the rustls server configuration (ring provider) and `ecmahost cert generate`;
//! `info.rs` reads what a certificate says, `reload.rs` serves a certificate that is re-read
//! when its files change.

pub mod info;
pub mod reload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificate {path}: {detail}")]
    Certificate { path: String, detail: String },
    #[error("cannot read private key {path}: {detail}")]
    Key { path: String, detail: String },
    #[error("TLS configuration rejected: {0}")]
    Config(#[from] rustls::Error),
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot watch {path} for a new certificate: {detail}")]
    Watch { path: String, detail: String },
    #[error("{path} already exists; pass --force to replace it (a running host picks up the new certificate and key)")]
    Exists { path: String },
}

/// The ring crypto provider; we never use aws-lc.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration from PEM files, offering HTTP/2 and HTTP/1.1.
pub fn server_config(
    certificate: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    reloading_server_config(Arc::new(reload::ReloadingCert::load(certificate, key)?))
}

/// A server configuration whose certificate is re-read when its files change (see
/// [`reload`]), offering HTTP/2 and HTTP/1.1.
pub fn reloading_server_config(
    cert: Arc<reload::ReloadingCert>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Refuse to overwrite an existing certificate or key unless `force`.
pub fn check_overwrite(files: &[&Path], force: bool) -> Result<(), TlsError> {
    match files.iter().find(|f| f.exists()) {
        Some(existing) if !force => Err(TlsError::Exists {
            path: existing.display().to_string(),
        }),
        _ => Ok(()),
    }
}

/// The names a generated certificate covers: this machine's host name, `localhost`, 127.0.0.1.
pub fn default_names() -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Ok(host) = gethostname::gethostname().into_string() {
        if !host.is_empty() && !names.contains(&host) {
            names.insert(0, host);
        }
    }
    names
}

/// How long a generated certificate is valid unless `cert generate --days` says otherwise.
pub const DEFAULT_VALIDITY_DAYS: u32 = 825;

/// Write a self-signed certificate valid from now for `days`, and its key (mode 0600), as PEM.
pub fn generate_self_signed(
    names: Vec<String>,
    days: u32,
    certificate: &Path,
    key: &Path,
) -> Result<(), TlsError> {
    let mut params = rcgen::CertificateParams::new(names.clone())?;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(i64::from(days));
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        names.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    dn.push(rcgen::DnType::OrganizationName, "ECMA connector host");
    params.distinguished_name = dn;
    let key_pair = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key_pair)?;
    write_file(certificate, cert.pem().as_bytes(), 0o644)?;
    write_file(key, key_pair.serialize_pem().as_bytes(), 0o600)
}

/// Write through a temp file and a rename, with `mode`, creating the parent directory.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write {
        path: path.display().to_string(),
        source,
    };
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The folders this write creates, and the one that exists above them.
    let mut missing = Vec::new();
    let mut existing = parent;
    while !existing.exists() {
        missing.push(existing.to_path_buf());
        match existing.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(up) => existing = up,
            None => {
                existing = Path::new(".");
                break;
            }
        }
    }
    std::fs::create_dir_all(parent).map_err(err)?;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(err)?;
    inherit_owner(&file, existing, &missing).map_err(err)?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Run as root (an administrator's `sudo ecmahost connector ...`), a file and the folders made
/// for it take the owner and group of the folder they are written into, as the packaged
/// folders set them (`/etc/ecmahost/connectors` is root:ecmahost, the data folder ecmahost's):
/// else the service, which runs as `ecmahost`, could not read a connector file, a rotated
/// token or a secret that root wrote. Anyone else's files are theirs, as usual.
fn inherit_owner(file: &std::fs::File, existing: &Path, made: &[PathBuf]) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if file.metadata()?.uid() != 0 {
        return Ok(());
    }
    let folder = std::fs::metadata(existing)?;
    let (uid, gid) = (folder.uid(), folder.gid());
    if (uid, gid) == (0, 0) {
        return Ok(());
    }
    for dir in made.iter().rev() {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    std::os::unix::fs::fchown(file, Some(uid), Some(gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_root_a_file_takes_its_folders_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join("probe");
        write_file(&probe, b"x", 0o600).unwrap();
        if std::fs::metadata(&probe).unwrap().uid() != 0 {
            return; // only root changes owners
        }
        // A folder of the service's user (here `nobody`), as the package makes them.
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
        let secret = data.join("secrets/hr.password");
        write_file(&secret, b"s3cret", 0o600).unwrap();
        for path in [data.join("secrets"), secret] {
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (65534, 65534),
                "{}",
                path.display()
            );
        }
        // A root-owned folder keeps root's files root's.
        assert_eq!(std::fs::metadata(&probe).unwrap().uid(), 0);
    }

    #[test]
    fn generated_certificate_loads_and_key_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        generate_self_signed(default_names(), 90, &cert, &key).unwrap();
        server_config(&cert, &key).unwrap();
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(server_config(&key, &cert).is_err());
    }
}
