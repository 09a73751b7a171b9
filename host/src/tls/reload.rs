//! Certificate reload without a restart: a rustls [`ResolvesServerCert`] whose certificate and
//! key are re-read when their files change, so new connections get the new certificate while
//! open ones keep theirs. A pair that does not load (half written, or a key that does not match)
//! is refused with a log line, and the previous pair keeps serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::info::{now_unix, CertificateInfo};
use super::{provider, TlsError};

/// How often a running host re-checks the expiry date.
const EXPIRY_CHECK: Duration = Duration::from_secs(6 * 3600);

/// The serving certificate and what it says.
#[derive(Debug)]
pub struct ReloadingCert {
    certificate: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, CertificateInfo)>,
}

impl ReloadingCert {
    /// Load the pair; an error names the file at fault.
    pub fn load(certificate: &Path, key: &Path) -> Result<Self, TlsError> {
        Ok(Self {
            certificate: certificate.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(load_pair(certificate, key)?),
        })
    }

    /// The serving certificate's subject, SANs, fingerprint and expiry.
    pub fn info(&self) -> CertificateInfo {
        self.current.read().1.clone()
    }

    /// Re-read both files; on success the new pair serves new connections.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (key, info) = load_pair(&self.certificate, &self.key)?;
        let mut current = self.current.write();
        if current.1 == info {
            return Ok(false);
        }
        tracing::info!(file = %self.certificate.display(), subject = %info.subject, sha256 = %info.sha256_fingerprint, not_after = %info.not_after, "certificate reloaded; new connections use it");
        *current = (key, info);
        Ok(true)
    }

    /// Log a warning when the certificate expires within 30 days (or has expired).
    pub fn warn_if_expiring(&self) {
        let info = self.info();
        if let Some(warning) = info.expiry_warning(now_unix()) {
            tracing::warn!(file = %self.certificate.display(), not_after = %info.not_after, "{warning}");
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().0.clone())
    }
}

fn load_pair(
    certificate: &Path,
    key: &Path,
) -> Result<(Arc<CertifiedKey>, CertificateInfo), TlsError> {
    let cert_error = |detail: String| TlsError::Certificate {
        path: certificate.display().to_string(),
        detail,
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| cert_error(e.to_string()))?;
    let first = chain
        .first()
        .ok_or_else(|| cert_error("no certificate in file".into()))?;
    let info = CertificateInfo::from_der(first).map_err(cert_error)?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        detail: e.to_string(),
    })?;
    let certified =
        CertifiedKey::from_der(chain, key_der, &provider()).map_err(|e| TlsError::Key {
            path: key.display().to_string(),
            detail: format!("{e} (does the key belong to {}?)", certificate.display()),
        })?;
    Ok((Arc::new(certified), info))
}

/// Keeps the certificate watcher alive; dropping it stops watching.
pub struct CertWatch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    expiry: tokio::task::JoinHandle<()>,
}

impl Drop for CertWatch {
    fn drop(&mut self) {
        self.expiry.abort();
    }
}

/// Watch the certificate's and the key's folders and reload on a change of either file; check
/// the expiry date now and every few hours. Runs on the current tokio runtime.
pub fn watch(cert: Arc<ReloadingCert>) -> Result<CertWatch, TlsError> {
    let files = [cert.certificate.clone(), cert.key.clone()];
    let watched = cert.clone();
    let mut debouncer = new_debouncer(
        Duration::from_millis(300),
        None,
        move |result: DebounceEventResult| {
            let Ok(events) = result else { return };
            let ours = events
                .iter()
                .filter(|e| !matches!(e.event.kind, EventKind::Access(_)))
                .flat_map(|e| &e.event.paths)
                .any(|p| files.iter().any(|f| f == p));
            if ours {
                match watched.reload() {
                    Ok(true) => watched.warn_if_expiring(),
                    Ok(false) => {}
                    // Often the second file is not written yet; its own event retries.
                    Err(e) => tracing::warn!(error = %e, "new certificate not loaded yet; the previous one keeps serving"),
                }
            }
        },
    )
    .map_err(|e| TlsError::Watch {
        path: cert.certificate.display().to_string(),
        detail: e.to_string(),
    })?;
    let mut dirs: Vec<PathBuf> = [&cert.certificate, &cert.key]
        .iter()
        .map(|f| f.parent().map(Path::to_path_buf).unwrap_or_default())
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .collect();
    dirs.dedup();
    for dir in &dirs {
        debouncer
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| TlsError::Watch {
                path: dir.display().to_string(),
                detail: e.to_string(),
            })?;
    }
    let weak = Arc::downgrade(&cert);
    let expiry = tokio::spawn(async move {
        loop {
            let Some(cert) = weak.upgrade() else { return };
            cert.warn_if_expiring();
            drop(cert);
            tokio::time::sleep(EXPIRY_CHECK).await;
        }
    });
    Ok(CertWatch {
        _debouncer: debouncer,
        expiry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_swaps_a_valid_pair_and_refuses_a_mismatched_key() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        super::super::generate_self_signed(vec!["one.example".into()], 90, &cert, &key).unwrap();
        let reloading = ReloadingCert::load(&cert, &key).unwrap();
        let first = reloading.info();
        assert!(!reloading.reload().unwrap(), "same files, nothing to do");

        // A new certificate with the old key does not load; the old pair serves on.
        let other = dir.path().join("other-key.pem");
        super::super::generate_self_signed(vec!["two.example".into()], 90, &cert, &other).unwrap();
        let err = reloading.reload().unwrap_err().to_string();
        assert!(err.contains("k.pem"), "{err}");
        assert_eq!(reloading.info(), first);

        std::fs::rename(&other, &key).unwrap();
        assert!(reloading.reload().unwrap());
        assert!(reloading.info().subject.contains("two.example"));
    }
}
