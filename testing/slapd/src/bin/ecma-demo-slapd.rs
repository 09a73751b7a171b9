//! `ecma-demo-slapd INFO_FILE`: a throwaway slapd for `scripts/demo-ldap.sh`, with sample
//! people and an empty groups container. It writes `KEY=value` lines (port, suffix, admin DN,
//! the admin password file) to INFO_FILE, then serves until its standard input closes, and
//! removes everything on the way out.

use std::io::Read;
use std::process::ExitCode;

use ecma_test_slapd::{people_ldif, Slapd};

fn main() -> ExitCode {
    let Some(info) = std::env::args().nth(1) else {
        eprintln!("usage: ecma-demo-slapd INFO_FILE (serves until standard input closes)");
        return ExitCode::from(2);
    };
    let slapd = match Slapd::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start slapd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = slapd.ldapadd(&people_ldif(5)) {
        eprintln!("error: cannot load the sample people: {e}");
        return ExitCode::FAILURE;
    }
    let password_file = slapd.dir().join("demo-admin-password");
    let lines = format!(
        "LDAP_PORT={}\nLDAP_SUFFIX={}\nLDAP_ADMIN_DN={}\nLDAP_PASSWORD_FILE={}\n",
        slapd.port(),
        slapd.base_dn(),
        slapd.admin_dn(),
        password_file.display()
    );
    let written = std::fs::write(&password_file, slapd.admin_password())
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))
        })
        .and_then(|()| std::fs::write(&info, lines));
    if let Err(e) = written {
        eprintln!("error: cannot write {info}: {e}");
        return ExitCode::FAILURE;
    }
    // Serve until whoever started us closes our standard input.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(slapd);
    ExitCode::SUCCESS
}
