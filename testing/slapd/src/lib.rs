//! Test harness for the LDAP connector: a throwaway OpenLDAP `slapd` (Debian's package, as
//! `scripts/setup.sh` installs it) in a fresh temp directory, and helpers that drive it with
//! Debian's `ldap-utils`.
//!
//! [`Slapd::start`] configures cn=config with `slapadd -n0` (no system file is read or
//! written, except the packaged modules and schema files), then runs slapd in the foreground
//! on two free 127.0.0.1 ports: `ldap://` (StartTLS offered) and `ldaps://`, as the `openldap`
//! user (or `nobody`) when the tests run as root. Each instance has:
//! - the schemas core, cosine, nis and inetorgperson;
//! - an mdb database for [`BASE_DN`] with rootdn [`ADMIN_DN`] / [`ADMIN_PASSWORD`], the
//!   entries [`BASE_DN`], [`PEOPLE_DN`] and [`GROUPS_DN`], and the overlays syncprov (RFC 4533,
//!   with a session log unless turned off), accesslog and sssvlv (server-side sort and VLV);
//! - the access log: a second mdb database [`ACCESSLOG_SUFFIX`] (successful writes, indexed on
//!   `reqStart`), readable by the admin and the certificate identity;
//! - a test PKI made with rcgen: a CA, a server certificate for `127.0.0.1` and `localhost`,
//!   and a client certificate ([`CLIENT_CERT_SUBJECT`]) that SASL EXTERNAL maps to
//!   [`CLIENT_DN`], which may write the data and read the access log;
//! - no size limit for the admin and [`CLIENT_DN`]; others get slapd's default of 500;
//! - `olcDbNoSync` on both databases (a throwaway server needs no fsync; with it an `ldapadd`
//!   of 100,000 people takes about 50 s on the 2-core CI machine, without it over 300 s).
//!
//! Dropping the [`Slapd`] stops the process (SIGTERM, then SIGKILL after 5 s) and removes
//! the directory, also when a test panics. A missing package is an error naming
//! `scripts/setup.sh`: tests fail, they never skip.
//!
//! ```
//! use ecma_test_slapd::{people_ldif, Scope, Slapd, PEOPLE_DN};
//!
//! let slapd = Slapd::start()?;
//! slapd.ldapadd(&people_ldif(3))?;
//! let people = slapd.ldapsearch(PEOPLE_DN, Scope::One, "(uid=user000001)", &["mail"])?;
//! assert_eq!(people[0].first("mail").as_deref(), Some("user000001@example.com"));
//! assert_eq!(slapd.count(PEOPLE_DN, "(objectClass=inetOrgPerson)")?, 3);
//! # Ok::<(), ecma_test_slapd::HarnessError>(())
//! ```

mod account;
mod client;
mod config;
mod error;
mod ldif;
mod options;
mod people;
mod server;
mod tls;
mod tools;

use std::path::Path;

pub use client::Scope;
pub use error::HarnessError;
pub use ldif::{parse_entries, Entry};
pub use options::SlapdOptions;
pub use people::{people_ldif, people_ldif_range};
pub use server::Slapd;
pub use tools::ToolOutput;

/// The suffix of the data database.
pub const BASE_DN: &str = "dc=example,dc=com";
/// The container the people go in.
pub const PEOPLE_DN: &str = "ou=people,dc=example,dc=com";
/// The container the groups go in.
pub const GROUPS_DN: &str = "ou=groups,dc=example,dc=com";
/// The rootdn of the data database.
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
/// The password of [`ADMIN_DN`] and of [`CONFIG_ADMIN_DN`] (a test value, nothing secret).
pub const ADMIN_PASSWORD: &str = "ecma-test-admin-password";
/// The rootdn of cn=config, for tests that change the configuration at run time.
pub const CONFIG_ADMIN_DN: &str = "cn=admin,cn=config";
/// The suffix of the access log database.
pub const ACCESSLOG_SUFFIX: &str = "cn=accesslog";
/// The subject of the client certificate, as RFC 4514 writes it.
pub const CLIENT_CERT_SUBJECT: &str = "CN=ecma-client,O=ecmahost-test";
/// The identity SASL EXTERNAL with the client certificate binds as (`olcAuthzRegexp`). No
/// entry exists for it; ACLs let it write the data and read the access log.
pub const CLIENT_DN: &str = "cn=ecma-client,dc=example,dc=com";

pub(crate) const CLIENT_CERT_COMMON_NAME: &str = "ecma-client";
pub(crate) const CLIENT_CERT_ORGANIZATION: &str = "ecmahost-test";

/// Writes `bytes` to a new file `path` readable by its owner only (keys and the password
/// file; ldap-utils warn about a password file that others can read), naming it on failure.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), HarnessError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|source| HarnessError::File {
            what: "writing",
            path: path.to_owned(),
            source,
        })
}
