//! The answers, read into typed settings: connectivity, the global page, and each object type's.

use std::path::PathBuf;
use std::time::Duration;

use ecma_plugin_api::{ConnectorError, ParameterValues};

use crate::dn::{Dn, DnTemplate};

/// Parameter names, exactly as the pages declare them.
pub(crate) mod names {
    pub const HOST: &str = "host";
    pub const PORT: &str = "port";
    pub const BINDING: &str = "binding";
    pub const USER_NAME: &str = "user_name";
    pub const PASSWORD: &str = "password";
    pub const CA_FILE: &str = "ca_file";
    pub const SERVER_CERTIFICATE_SHA256: &str = "server_certificate_sha256";
    pub const CLIENT_CERTIFICATE_FILE: &str = "client_certificate_file";
    pub const CLIENT_KEY_FILE: &str = "client_key_file";
    pub const SASL_OVER_LDAPS: &str = "sasl_over_ldaps";
    pub const CONNECTION_TIMEOUT: &str = "connection_timeout_seconds";
    pub const OPERATION_TIMEOUT: &str = "operation_timeout_seconds";
    pub const ATTRIBUTE_ALIASES: &str = "attribute_aliases";
    pub const INCLUDE_OPERATIONAL: &str = "include_operational_attributes";
    pub const POOL_SIZE: &str = "pool_size";

    pub const DELTA_METHOD: &str = "delta_method";
    pub const ACCESSLOG_BASE: &str = "accesslog_base";
    pub const CHANGELOG_BASE: &str = "changelog_base";
    pub const PASSWORD_ATTRIBUTE: &str = "password_attribute";
    pub const PASSWORD_METHOD: &str = "password_method";
    pub const ADDITIONAL_PARTITIONS: &str = "additional_partitions";

    pub const OBJECT_CLASSES: &str = "object_classes";

    pub const ANCHOR: &str = "anchor";
    pub const DN_TEMPLATE: &str = "dn_template";
    pub const AUXILIARY_CLASSES: &str = "auxiliary_classes";
    pub const IMPORT_FILTER: &str = "import_filter";
    pub const IMPORT_METHOD: &str = "import_method";
}

pub(crate) const BINDINGS: &[&str] = &["Anonymous", "Simple", "LDAPS", "StartTLS", "SASL EXTERNAL"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Binding {
    Anonymous,
    Simple,
    Ldaps,
    StartTls,
    SaslExternal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Transport {
    Plain,
    Ldaps,
    StartTls,
}

/// How to reach and bind to the directory. Equal settings share one pool. `Debug` never
/// shows the password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub binding: Binding,
    pub user: String,
    pub password: String,
    pub ca_file: Option<PathBuf>,
    pub pinned_sha256: Option<String>,
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub sasl_over_ldaps: bool,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub pool_size: usize,
}

impl std::fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("binding", &self.binding)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ConnectionSettings {
    pub(crate) fn transport(&self) -> Transport {
        match self.binding {
            Binding::Anonymous | Binding::Simple => Transport::Plain,
            Binding::Ldaps => Transport::Ldaps,
            Binding::StartTls => Transport::StartTls,
            Binding::SaslExternal if self.sasl_over_ldaps => Transport::Ldaps,
            Binding::SaslExternal => Transport::StartTls,
        }
    }

    pub(crate) fn url(&self) -> String {
        let scheme = match self.transport() {
            Transport::Ldaps => "ldaps",
            _ => "ldap",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    /// `host:port` for messages.
    pub(crate) fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn invalid(message: String) -> ConnectorError {
    ConnectorError::invalid_configuration(message)
}

fn answer<'a>(values: &'a ParameterValues, name: &str) -> Option<&'a str> {
    values.get(name).map(str::trim).filter(|v| !v.is_empty())
}

pub(crate) fn flag(values: &ParameterValues, name: &str) -> Result<bool, ConnectorError> {
    match answer(values, name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") | Some("0") | Some("no") => Ok(false),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some(other) => Err(invalid(format!(
            "parameter `{name}`: `{other}` is not true or false"
        ))),
    }
}

fn number<T: std::str::FromStr>(
    values: &ParameterValues,
    name: &str,
    default: T,
    what: &str,
) -> Result<T, ConnectorError> {
    match answer(values, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| invalid(format!("parameter `{name}`: `{v}` is not {what}"))),
    }
}

fn path(values: &ParameterValues, name: &str) -> Option<PathBuf> {
    answer(values, name).map(PathBuf::from)
}

/// Read the connectivity page.
pub(crate) fn connection(values: &ParameterValues) -> Result<ConnectionSettings, ConnectorError> {
    let host = answer(values, names::HOST)
        .ok_or_else(|| {
            invalid(format!(
                "parameter `{}` is required: the directory server's host name or address",
                names::HOST
            ))
        })?
        .to_string();
    let binding = match answer(values, names::BINDING).unwrap_or("Simple") {
        b if b.eq_ignore_ascii_case("anonymous") => Binding::Anonymous,
        b if b.eq_ignore_ascii_case("simple") => Binding::Simple,
        b if b.eq_ignore_ascii_case("ldaps") || b.eq_ignore_ascii_case("ssl") => Binding::Ldaps,
        b if b.eq_ignore_ascii_case("starttls") || b.eq_ignore_ascii_case("tls") => {
            Binding::StartTls
        }
        b if b.eq_ignore_ascii_case("sasl external") || b.eq_ignore_ascii_case("sasl") => {
            Binding::SaslExternal
        }
        other => {
            return Err(invalid(format!(
                "parameter `{}`: `{other}` is not one of {}",
                names::BINDING,
                BINDINGS.join(", ")
            )))
        }
    };
    let sasl_over_ldaps = flag(values, names::SASL_OVER_LDAPS)?;
    let default_port = match binding {
        Binding::Ldaps => 636,
        Binding::SaslExternal if sasl_over_ldaps => 636,
        _ => 389,
    };
    let port = number(values, names::PORT, default_port, "a port number (1-65535)")?;
    if port == 0 {
        return Err(invalid(format!(
            "parameter `{}`: 0 is not a port",
            names::PORT
        )));
    }
    let user = answer(values, names::USER_NAME).unwrap_or("").to_string();
    let password = values.get(names::PASSWORD).unwrap_or("").to_string();
    if binding == Binding::Simple && user.is_empty() {
        return Err(invalid(format!(
            "binding Simple needs parameter `{}` (the bind DN); choose Anonymous to bind without one",
            names::USER_NAME
        )));
    }
    if !user.is_empty() && binding != Binding::SaslExternal {
        Dn::parse(&user).map_err(|e| invalid(format!("parameter `{}`: {e}", names::USER_NAME)))?;
        if password.is_empty() {
            return Err(invalid(format!(
                "parameter `{}` is set, so parameter `{}` is required (an empty password would be an unauthenticated bind)",
                names::USER_NAME,
                names::PASSWORD
            )));
        }
    }
    let client_certificate = path(values, names::CLIENT_CERTIFICATE_FILE);
    let client_key = path(values, names::CLIENT_KEY_FILE);
    if binding == Binding::SaslExternal && (client_certificate.is_none() || client_key.is_none()) {
        return Err(invalid(format!(
            "binding SASL EXTERNAL authenticates with a client certificate: set `{}` and `{}` (PEM files)",
            names::CLIENT_CERTIFICATE_FILE,
            names::CLIENT_KEY_FILE
        )));
    }
    let pinned_sha256 = answer(values, names::SERVER_CERTIFICATE_SHA256)
        .map(|v| v.replace(':', "").to_ascii_lowercase());
    if let Some(pin) = &pinned_sha256 {
        if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid(format!(
                "parameter `{}`: a SHA-256 fingerprint is 64 hex digits (colons allowed), as the global page shows it",
                names::SERVER_CERTIFICATE_SHA256
            )));
        }
    }
    let seconds = |name, default| {
        number(values, name, default, "a number of seconds").and_then(|s: u64| {
            if s == 0 {
                Err(invalid(format!(
                    "parameter `{name}`: must be at least 1 second"
                )))
            } else {
                Ok(Duration::from_secs(s))
            }
        })
    };
    Ok(ConnectionSettings {
        host,
        port,
        binding,
        user,
        password,
        ca_file: path(values, names::CA_FILE),
        pinned_sha256,
        client_certificate,
        client_key,
        sasl_over_ldaps,
        connect_timeout: seconds(names::CONNECTION_TIMEOUT, 10)?,
        operation_timeout: seconds(names::OPERATION_TIMEOUT, 60)?,
        pool_size: number(values, names::POOL_SIZE, 4usize, "a number of connections")?
            .clamp(1, 64),
    })
}

/// Attribute names the directory wants with an option, as written (`userCertificate;binary`).
pub(crate) fn attribute_aliases(values: &ParameterValues) -> Vec<String> {
    list(values, names::ATTRIBUTE_ALIASES)
}

/// A comma- or semicolon-separated list answer... but DNs have commas, so partitions use `;`.
pub(crate) fn list(values: &ParameterValues, name: &str) -> Vec<String> {
    answer(values, name)
        .map(|v| {
            v.split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// DNs separated by `;` or new lines.
pub(crate) fn dn_list(values: &ParameterValues, name: &str) -> Result<Vec<String>, ConnectorError> {
    answer(values, name)
        .map(|v| {
            v.split([';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|dn| {
                    Dn::parse(dn)
                        .map(|_| dn.to_string())
                        .map_err(|e| invalid(format!("parameter `{name}`: {e}")))
                })
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeltaMethod {
    None,
    AccessLog,
    Changelog,
    Usn,
    ContentSync,
    ModifyTimestamp,
}

pub(crate) const DELTA_METHODS: &[(&str, DeltaMethod)] = &[
    ("None", DeltaMethod::None),
    ("Access log", DeltaMethod::AccessLog),
    ("Changelog", DeltaMethod::Changelog),
    ("USN", DeltaMethod::Usn),
    ("Content synchronization", DeltaMethod::ContentSync),
    ("modifyTimestamp", DeltaMethod::ModifyTimestamp),
];

pub(crate) fn delta_method_name(method: DeltaMethod) -> &'static str {
    DELTA_METHODS
        .iter()
        .find(|(_, m)| *m == method)
        .map(|(n, _)| *n)
        .unwrap_or("None")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PasswordMethod {
    /// RFC 3062's Password Modify extended operation.
    Extended,
    /// A replace of the password attribute.
    Replace,
}

pub(crate) const PASSWORD_METHODS: &[&str] =
    &["Password Modify extended operation", "Replace attribute"];

/// The global page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Global {
    pub delta_method: DeltaMethod,
    pub accesslog_base: String,
    pub changelog_base: String,
    pub password_attribute: String,
    /// `None`: the Password Modify operation when the server offers it, else a replace.
    pub password_method: Option<PasswordMethod>,
    pub additional_partitions: Vec<String>,
}

pub(crate) fn global(values: &ParameterValues) -> Result<Global, ConnectorError> {
    let delta_method = match answer(values, names::DELTA_METHOD) {
        None => DeltaMethod::None,
        Some(v) => DELTA_METHODS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(v))
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                invalid(format!(
                    "parameter `{}`: `{v}` is not one of {}",
                    names::DELTA_METHOD,
                    DELTA_METHODS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?,
    };
    let password_method = match answer(values, names::PASSWORD_METHOD) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case(PASSWORD_METHODS[0]) => Some(PasswordMethod::Extended),
        Some(v) if v.eq_ignore_ascii_case(PASSWORD_METHODS[1]) => Some(PasswordMethod::Replace),
        Some(v) => {
            return Err(invalid(format!(
                "parameter `{}`: `{v}` is not one of {}",
                names::PASSWORD_METHOD,
                PASSWORD_METHODS.join(", ")
            )))
        }
    };
    Ok(Global {
        delta_method,
        accesslog_base: answer(values, names::ACCESSLOG_BASE)
            .unwrap_or("cn=accesslog")
            .to_string(),
        changelog_base: answer(values, names::CHANGELOG_BASE)
            .unwrap_or("cn=changelog")
            .to_string(),
        password_attribute: answer(values, names::PASSWORD_ATTRIBUTE)
            .unwrap_or("userPassword")
            .to_string(),
        password_method,
        additional_partitions: dn_list(values, names::ADDITIONAL_PARTITIONS)?,
    })
}

/// The object classes chosen as object types (schema page 1).
pub(crate) fn object_classes(values: &ParameterValues) -> Vec<String> {
    let chosen = list(values, names::OBJECT_CLASSES);
    if chosen.is_empty() {
        vec!["inetOrgPerson".to_string(), "groupOfNames".to_string()]
    } else {
        chosen
    }
}

/// The anchor of an object type: the DN itself, or one attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Dn,
    Attribute(String),
}

pub(crate) const DN_ANCHOR: &str = ecma_plugin_api::NEW_DN_ATTRIBUTE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImportMethod {
    /// Paged results where the server offers them, else VLV, else one search.
    Automatic,
    Paged,
    Vlv,
    Single,
}

pub(crate) const IMPORT_METHODS: &[&str] = &["Automatic", "Paged results", "VLV", "Single search"];

/// One object type's answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TypeSettings {
    pub object_class: String,
    pub anchor: Anchor,
    pub dn_template: Option<DnTemplate>,
    pub auxiliary_classes: Vec<String>,
    pub import_filter: String,
    pub import_method: ImportMethod,
}

pub(crate) fn key(object_class: &str, name: &str) -> String {
    format!("{object_class}:{name}")
}

/// The default anchor for a server: its stable unique id where it has one.
pub(crate) fn default_anchor(vendor: crate::rootdse::Vendor) -> &'static str {
    use crate::rootdse::Vendor;
    match vendor {
        Vendor::OpenLdap => "entryUUID",
        Vendor::Dirsrv => "nsUniqueId",
        Vendor::ActiveDirectory => "objectGUID",
        Vendor::Other => DN_ANCHOR,
    }
}

pub(crate) fn type_settings(
    values: &ParameterValues,
    object_class: &str,
    default_anchor: &str,
) -> Result<TypeSettings, ConnectorError> {
    let anchor = match answer(values, &key(object_class, names::ANCHOR)).unwrap_or(default_anchor) {
        a if a == DN_ANCHOR || a.eq_ignore_ascii_case("<dn>") => Anchor::Dn,
        a => Anchor::Attribute(a.to_string()),
    };
    let dn_template = answer(values, &key(object_class, names::DN_TEMPLATE))
        .map(|t| {
            DnTemplate::new(t).map_err(|e| {
                invalid(format!(
                    "parameter `{}`: {e}",
                    key(object_class, names::DN_TEMPLATE)
                ))
            })
        })
        .transpose()?;
    let import_method = match answer(values, &key(object_class, names::IMPORT_METHOD)) {
        None => ImportMethod::Automatic,
        Some(v) => match IMPORT_METHODS
            .iter()
            .position(|m| m.eq_ignore_ascii_case(v))
        {
            Some(0) => ImportMethod::Automatic,
            Some(1) => ImportMethod::Paged,
            Some(2) => ImportMethod::Vlv,
            Some(_) => ImportMethod::Single,
            None => {
                return Err(invalid(format!(
                    "parameter `{}`: `{v}` is not one of {}",
                    key(object_class, names::IMPORT_METHOD),
                    IMPORT_METHODS.join(", ")
                )))
            }
        },
    };
    let import_filter = answer(values, &key(object_class, names::IMPORT_FILTER))
        .map(str::to_string)
        .unwrap_or_else(|| format!("(objectClass={})", crate::dn::escape_filter(object_class)));
    ldap3::parse_filter(&import_filter).map_err(|_| {
        invalid(format!(
            "parameter `{}`: `{import_filter}` is not a valid LDAP filter (RFC 4515)",
            key(object_class, names::IMPORT_FILTER)
        ))
    })?;
    Ok(TypeSettings {
        object_class: object_class.to_string(),
        anchor,
        dn_template,
        auxiliary_classes: list(values, &key(object_class, names::AUXILIARY_CLASSES)),
        import_filter,
        import_method,
    })
}
