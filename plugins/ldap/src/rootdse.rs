//! What the server says about itself: the Root DSE (RFC 4512 section 5.1) and its vendor.

use ldap3::{Ldap, Scope, SearchEntry};

use crate::error::LdapFailure;

pub(crate) mod oid {
    pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
    pub const VLV: &str = "2.16.840.1.113730.3.4.9";
    pub const SORT: &str = "1.2.840.113556.1.4.473";
    pub const CONTENT_SYNC: &str = "1.3.6.1.4.1.4203.1.9.1.1";
    pub const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";
    pub const PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
    pub const AD_LDS_CAPABILITY: &str = "1.2.840.113556.1.4.1851";
    pub const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Vendor {
    OpenLdap,
    /// 389 Directory Server and its relatives (Red Hat DS, Netscape).
    Dirsrv,
    /// Active Directory and AD LDS.
    ActiveDirectory,
    Other,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RootDse {
    pub vendor_name: String,
    pub vendor_version: String,
    pub naming_contexts: Vec<String>,
    pub supported_controls: Vec<String>,
    pub supported_extensions: Vec<String>,
    pub supported_features: Vec<String>,
    pub sasl_mechanisms: Vec<String>,
    pub subschema: String,
    pub object_classes: Vec<String>,
    pub capabilities: Vec<String>,
    pub changelog: String,
    pub highest_usn: String,
}

fn first(entry: &SearchEntry, name: &str) -> String {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first().cloned())
        .unwrap_or_default()
}

fn all(entry: &SearchEntry, name: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl RootDse {
    pub(crate) async fn read(ldap: &mut Ldap) -> Result<RootDse, LdapFailure> {
        let operation = "read the Root DSE";
        let result = ldap
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                vec![
                    "*",
                    "+",
                    "namingContexts",
                    "supportedControl",
                    "supportedExtension",
                    "supportedFeatures",
                    "supportedSASLMechanisms",
                    "subschemaSubentry",
                    "vendorName",
                    "vendorVersion",
                    "changelog",
                    "highestCommittedUSN",
                    "supportedCapabilities",
                ],
            )
            .await;
        let (entries, _) = match result {
            Ok(r) => r
                .success()
                .map_err(|e| LdapFailure::from_client(operation, e))?,
            Err(e) => return Err(LdapFailure::from_client(operation, e)),
        };
        let Some(entry) = entries.into_iter().next().map(SearchEntry::construct) else {
            return Ok(RootDse::default());
        };
        Ok(RootDse {
            vendor_name: first(&entry, "vendorName"),
            vendor_version: first(&entry, "vendorVersion"),
            naming_contexts: all(&entry, "namingContexts"),
            supported_controls: all(&entry, "supportedControl"),
            supported_extensions: all(&entry, "supportedExtension"),
            supported_features: all(&entry, "supportedFeatures"),
            sasl_mechanisms: all(&entry, "supportedSASLMechanisms"),
            subschema: first(&entry, "subschemaSubentry"),
            object_classes: all(&entry, "objectClass"),
            capabilities: all(&entry, "supportedCapabilities"),
            changelog: first(&entry, "changelog"),
            highest_usn: first(&entry, "highestCommittedUSN"),
        })
    }

    pub(crate) fn vendor(&self) -> Vendor {
        let name = self.vendor_name.to_ascii_lowercase();
        if self
            .object_classes
            .iter()
            .any(|c| c.eq_ignore_ascii_case("OpenLDAProotDSE"))
            || name.contains("openldap")
        {
            Vendor::OpenLdap
        } else if name.contains("389")
            || name.contains("red hat")
            || name.contains("netscape")
            || name.contains("fedora")
        {
            Vendor::Dirsrv
        } else if self
            .capabilities
            .iter()
            .any(|c| c == oid::AD_LDS_CAPABILITY || c == oid::AD_CAPABILITY)
        {
            Vendor::ActiveDirectory
        } else {
            Vendor::Other
        }
    }

    pub(crate) fn vendor_label(&self) -> String {
        let name = match (self.vendor(), self.vendor_name.as_str()) {
            (_, n) if !n.is_empty() => n.to_string(),
            (Vendor::OpenLdap, _) => "OpenLDAP".to_string(),
            (Vendor::ActiveDirectory, _) => "Active Directory / AD LDS".to_string(),
            _ => "unknown vendor".to_string(),
        };
        if self.vendor_version.is_empty() {
            name
        } else {
            format!("{name} {}", self.vendor_version)
        }
    }

    pub(crate) fn supports_control(&self, oid: &str) -> bool {
        self.supported_controls.iter().any(|c| c == oid)
    }

    pub(crate) fn supports_extension(&self, oid: &str) -> bool {
        self.supported_extensions.iter().any(|c| c == oid)
    }

    /// The naming contexts that hold data (not the access log, changelog or config).
    pub(crate) fn data_contexts(&self) -> Vec<String> {
        self.naming_contexts
            .iter()
            .filter(|c| {
                let lower = c.to_ascii_lowercase();
                !(lower == "cn=accesslog"
                    || lower == "cn=changelog"
                    || lower == "cn=config"
                    || lower.starts_with("cn=schema")
                    || lower.starts_with("cn=configuration"))
            })
            .cloned()
            .collect()
    }
}

/// A base search that reads one entry's attributes, or `None` when it does not exist.
pub(crate) async fn read_entry(
    ldap: &mut Ldap,
    dn: &str,
    attributes: Vec<String>,
) -> Result<Option<SearchEntry>, LdapFailure> {
    let operation = format!("read `{dn}`");
    let outcome = ldap
        .search(dn, Scope::Base, "(objectClass=*)", attributes)
        .await;
    match outcome {
        Ok(result) => {
            let crate::error::rc::SUCCESS = result.1.rc else {
                if result.1.rc == crate::error::rc::NO_SUCH_OBJECT {
                    return Ok(None);
                }
                return Err(LdapFailure::from_result(&operation, &result.1));
            };
            Ok(result.0.into_iter().next().map(SearchEntry::construct))
        }
        Err(e) => Err(LdapFailure::from_client(&operation, e)),
    }
}
