//! The LDAP connector's file for tests and benchmarks: `plugins/ldap/examples/openldap.toml`
//! (the demo's too), filled in for an `ecma-test-slapd` instance.

use ecma_test_slapd::Slapd;

use crate::ExtraConnector;

/// The `ldap` connector's token.
pub const TOKEN: &str = "ldap-connector-test-token-0123456789";

const EXAMPLE: &str = include_str!("../../plugins/ldap/examples/openldap.toml");

/// The example connector file for `slapd` (name `ldap`, library `libecma_ldap.so`); the bind
/// password goes in a file in slapd's directory.
pub fn connector(slapd: &Slapd) -> ExtraConnector {
    let hash = ecmahost::token::hash_token(TOKEN).unwrap();
    let password_file = slapd.dir().join("connector-bind.password");
    std::fs::write(&password_file, slapd.admin_password()).unwrap();
    ExtraConnector {
        file_name: "ldap.toml",
        toml: EXAMPLE
            .replace("@TOKEN_HASH@", &hash.to_string())
            .replace("@PORT@", &slapd.port().to_string())
            .replace("@BIND_DN@", slapd.admin_dn())
            .replace("@PASSWORD_FILE@", &password_file.display().to_string()),
    }
}
