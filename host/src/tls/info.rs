//! What a certificate says, for `ecmahost cert show`, `/status` and the expiry warning:
//! subject, SANs, SHA-256 fingerprint and validity (parsed with x509-parser).

use std::net::IpAddr;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::TlsError;

/// A host warns this many days before its certificate expires.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses, as written in the certificate.
    pub subject_alt_names: Vec<String>,
    /// SHA-256 of the DER, as colon-separated upper-case hex.
    pub sha256_fingerprint: String,
    pub not_before: String,
    pub not_after: String,
    /// Seconds since the epoch of `not_after`.
    #[serde(skip)]
    pub not_after_unix: i64,
}

impl CertificateInfo {
    /// Parse one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let mut subject_alt_names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => subject_alt_names.push(format!("DNS:{dns}")),
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            subject_alt_names.push(format!("IP:{ip}"));
                        }
                    }
                    other => subject_alt_names.push(other.to_string()),
                }
            }
        }
        let validity = cert.validity();
        Ok(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            subject_alt_names,
            sha256_fingerprint: fingerprint(der),
            not_before: rfc3339(validity.not_before.timestamp()),
            not_after: rfc3339(validity.not_after.timestamp()),
            not_after_unix: validity.not_after.timestamp(),
        })
    }

    /// The first certificate of a PEM file.
    pub fn from_pem_file(path: &Path) -> Result<Self, TlsError> {
        let error = |detail: String| TlsError::Certificate {
            path: path.display().to_string(),
            detail,
        };
        let der = CertificateDer::pem_file_iter(path)
            .map_err(|e| error(e.to_string()))?
            .next()
            .ok_or_else(|| error("no certificate in file".into()))?
            .map_err(|e| error(e.to_string()))?;
        Self::from_der(&der).map_err(error)
    }

    /// Whole days until it expires at `now` (negative once expired).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after_unix - now).div_euclid(86_400)
    }

    /// The warning to log and show, when it expires within [`EXPIRY_WARNING_DAYS`].
    pub fn expiry_warning(&self, now: i64) -> Option<String> {
        let days = self.days_left(now);
        if days < 0 {
            Some(format!(
                "the certificate expired on {}; replace it (ecmahost cert generate --force, or your CA's)",
                self.not_after
            ))
        } else if days < EXPIRY_WARNING_DAYS {
            Some(format!(
                "the certificate expires in {days} day(s), on {}; replace the files and the host reloads them",
                self.not_after
            ))
        } else {
            None
        }
    }

    /// The `cert show` text.
    pub fn render(&self, now: i64) -> String {
        let mut out = format!(
            "subject:     {}\nissuer:      {}\nSANs:        {}\nSHA-256:     {}\nnot before:  {}\nnot after:   {} ({} day(s) left)\n",
            self.subject,
            self.issuer,
            self.subject_alt_names.join(", "),
            self.sha256_fingerprint,
            self.not_before,
            self.not_after,
            self.days_left(now),
        );
        if let Some(warning) = self.expiry_warning(now) {
            out.push_str(&format!("warning:     {warning}\n"));
        }
        out
    }
}

/// `AB:CD:...`, the form browsers and `openssl x509 -fingerprint -sha256` print.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subject_sans_fingerprint_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        super::super::generate_self_signed(
            vec!["scim.example.org".into(), "127.0.0.1".into()],
            400,
            &cert,
            &key,
        )
        .unwrap();
        let info = CertificateInfo::from_pem_file(&cert).unwrap();
        assert!(info.subject.contains("CN=scim.example.org"), "{info:?}");
        assert_eq!(
            info.subject_alt_names,
            vec!["DNS:scim.example.org", "IP:127.0.0.1"]
        );
        assert_eq!(info.sha256_fingerprint.len(), 32 * 3 - 1);
        let now = now_unix();
        // Valid for 400 days: no warning now; ten days before its end, the warning shows.
        // 399 whole days, or 400 within the second it was made.
        assert!((399..=400).contains(&info.days_left(now)), "{info:?}");
        assert_eq!(info.expiry_warning(now), None);
        let late = info.not_after_unix - 10 * 86_400;
        assert!(info
            .expiry_warning(late)
            .unwrap()
            .contains("expires in 10 day(s)"));
        assert!(info.render(late).contains("warning:"));
        assert!(CertificateInfo::from_pem_file(&key).is_err());
    }
}
