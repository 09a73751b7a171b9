//! Renders the instance's cn=config (loaded with `slapadd -n0`) and its base entries as LDIF.

use std::fmt::Write as _;
use std::path::Path;

use crate::tls::TlsFiles;
use crate::{
    HarnessError, ACCESSLOG_SUFFIX, ADMIN_DN, BASE_DN, CLIENT_CERT_COMMON_NAME,
    CLIENT_CERT_ORGANIZATION, CLIENT_DN, CONFIG_ADMIN_DN,
};

/// Where Debian's slapd package puts its modules and schema files.
pub(crate) const MODULE_DIR: &str = "/usr/lib/ldap";
pub(crate) const SCHEMA_DIR: &str = "/etc/ldap/schema";

/// The modules loaded from [`MODULE_DIR`] (Debian builds them as modules, not into slapd).
pub(crate) const MODULES: [&str; 4] = ["back_mdb", "accesslog", "syncprov", "sssvlv"];
const SCHEMAS: [&str; 4] = ["core", "cosine", "nis", "inetorgperson"];

/// Each mdb database may grow to this many bytes (address space only; the file grows as used).
const DB_MAX_SIZE: u64 = 4 << 30;

/// What the cn=config of one instance is made of.
pub(crate) struct ConfigInputs<'a> {
    pub dir: &'a Path,
    pub main_db_dir: &'a Path,
    pub accesslog_db_dir: &'a Path,
    pub tls: &'a TlsFiles,
    /// `{SSHA}` hash of the admin password (for both the data and the config rootdn).
    pub password_hash: &'a str,
    pub sync_session_log: Option<u32>,
}

/// The whole cn=config as LDIF: global settings with TLS and the SASL EXTERNAL mapping, the
/// modules, the four schemas (read from [`SCHEMA_DIR`]), the config database, the access log
/// database `cn=accesslog` (`{1}mdb`, with syncprov) and the data database for [`BASE_DN`]
/// (`{2}mdb`, with syncprov, accesslog and sssvlv). The access log database comes first
/// because the accesslog overlay looks its database up when it is configured.
pub(crate) fn render(inputs: &ConfigInputs<'_>) -> Result<String, HarnessError> {
    let dir = inputs.dir.display();
    let tls = inputs.tls;
    let hash = inputs.password_hash;
    let mut ldif = format!(
        "dn: cn=config\n\
         objectClass: olcGlobal\n\
         cn: config\n\
         olcPidFile: {dir}/slapd.pid\n\
         olcArgsFile: {dir}/slapd.args\n\
         olcTLSCACertificateFile: {ca}\n\
         olcTLSCertificateFile: {cert}\n\
         olcTLSCertificateKeyFile: {key}\n\
         olcTLSVerifyClient: try\n\
         olcAuthzRegexp: {{0}}\"^cn={cn},o={org}$\" \"{CLIENT_DN}\"\n\
         \n\
         dn: cn=module{{0}},cn=config\n\
         objectClass: olcModuleList\n\
         cn: module{{0}}\n\
         olcModulePath: {MODULE_DIR}\n",
        ca = tls.ca_cert.display(),
        cert = tls.server_cert.display(),
        key = tls.server_key.display(),
        cn = CLIENT_CERT_COMMON_NAME,
        org = CLIENT_CERT_ORGANIZATION,
    );
    for module in MODULES {
        let _ = writeln!(ldif, "olcModuleLoad: {module}");
    }
    ldif.push_str("\ndn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n");
    for schema in SCHEMAS {
        let path = Path::new(SCHEMA_DIR).join(format!("{schema}.ldif"));
        let text = std::fs::read_to_string(&path).map_err(|source| HarnessError::File {
            what: "reading the schema (Debian's slapd installs it: run scripts/setup.sh)",
            path: path.clone(),
            source,
        })?;
        ldif.push_str(text.trim_end());
        ldif.push_str("\n\n");
    }
    let admin_limits = limits();
    let _ = write!(
        ldif,
        "dn: olcDatabase={{-1}}frontend,cn=config\n\
         objectClass: olcDatabaseConfig\n\
         objectClass: olcFrontendConfig\n\
         olcDatabase: {{-1}}frontend\n\
         \n\
         dn: olcDatabase={{0}}config,cn=config\n\
         objectClass: olcDatabaseConfig\n\
         olcDatabase: {{0}}config\n\
         olcRootDN: {CONFIG_ADMIN_DN}\n\
         olcRootPW: {hash}\n\
         \n\
         {accesslog_db}\
         olcDbIndex: default eq\n\
         olcDbIndex: objectClass,entryCSN,reqStart,reqEnd,reqResult,reqDN,reqType\n\
         olcAccess: {{0}}to * by dn.exact=\"{ADMIN_DN}\" read by dn.exact=\"{CLIENT_DN}\" read by * none\n\
         {admin_limits}\
         \n\
         dn: olcOverlay={{0}}syncprov,olcDatabase={{1}}mdb,cn=config\n\
         objectClass: olcOverlayConfig\n\
         objectClass: olcSyncProvConfig\n\
         olcOverlay: {{0}}syncprov\n\
         olcSpNoPresent: TRUE\n\
         olcSpReloadHint: TRUE\n\
         \n\
         {main_db}\
         olcRootDN: {ADMIN_DN}\n\
         olcRootPW: {hash}\n\
         olcDbIndex: objectClass,entryUUID,entryCSN,member,uniqueMember eq\n\
         olcDbIndex: uid,cn eq,sub\n\
         olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by dn.exact=\"{CLIENT_DN}\" write by * none\n\
         olcAccess: {{1}}to * by dn.exact=\"{CLIENT_DN}\" write by * read\n\
         {admin_limits}\
         \n\
         dn: olcOverlay={{0}}syncprov,olcDatabase={{2}}mdb,cn=config\n\
         objectClass: olcOverlayConfig\n\
         objectClass: olcSyncProvConfig\n\
         olcOverlay: {{0}}syncprov\n",
        accesslog_db = mdb_database(1, inputs.accesslog_db_dir, ACCESSLOG_SUFFIX),
        main_db = mdb_database(2, inputs.main_db_dir, BASE_DN),
    );
    if let Some(size) = inputs.sync_session_log {
        let _ = writeln!(ldif, "olcSpSessionlog: {size}");
    }
    let _ = write!(
        ldif,
        "\n\
         dn: olcOverlay={{1}}accesslog,olcDatabase={{2}}mdb,cn=config\n\
         objectClass: olcOverlayConfig\n\
         objectClass: olcAccessLogConfig\n\
         olcOverlay: {{1}}accesslog\n\
         olcAccessLogDB: {ACCESSLOG_SUFFIX}\n\
         olcAccessLogOps: writes\n\
         olcAccessLogSuccess: TRUE\n\
         olcAccessLogPurge: 07+00:00 01+00:00\n\
         \n\
         dn: olcOverlay={{2}}sssvlv,olcDatabase={{2}}mdb,cn=config\n\
         objectClass: olcOverlayConfig\n\
         objectClass: olcSssVlvConfig\n\
         olcOverlay: {{2}}sssvlv\n"
    );
    Ok(ldif)
}

/// The first lines of the mdb database number `index` for `suffix`, stored in `dir`. A
/// throwaway database needs no durability: without `olcDbNoSync` every write waits for two
/// fsyncs (the entry and its access log record), which makes bulk loads disk-bound.
fn mdb_database(index: u8, dir: &Path, suffix: &str) -> String {
    format!(
        "dn: olcDatabase={{{index}}}mdb,cn=config\n\
         objectClass: olcDatabaseConfig\n\
         objectClass: olcMdbConfig\n\
         olcDatabase: {{{index}}}mdb\n\
         olcDbDirectory: {}\n\
         olcSuffix: {suffix}\n\
         olcDbMaxSize: {DB_MAX_SIZE}\n\
         olcDbNoSync: TRUE\n",
        dir.display()
    )
}

/// No size or time limit for the admin and the certificate identity, so that 100,000-entry
/// searches work without paging; everyone else keeps slapd's default of 500 entries.
fn limits() -> String {
    format!(
        "olcLimits: {{0}}dn.exact=\"{ADMIN_DN}\" size=unlimited time=unlimited\n\
         olcLimits: {{1}}dn.exact=\"{CLIENT_DN}\" size=unlimited time=unlimited\n"
    )
}

/// The entries every instance starts with: the suffix and its two containers.
pub(crate) fn base_entries() -> String {
    format!(
        "dn: {BASE_DN}\n\
         objectClass: dcObject\n\
         objectClass: organization\n\
         dc: example\n\
         o: Example\n\
         \n\
         dn: ou=people,{BASE_DN}\n\
         objectClass: organizationalUnit\n\
         ou: people\n\
         \n\
         dn: ou=groups,{BASE_DN}\n\
         objectClass: organizationalUnit\n\
         ou: groups\n"
    )
}
