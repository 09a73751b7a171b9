//! Proves the harness against the real slapd it starts: entries, the access log, sync,
//! paging, TLS, SASL EXTERNAL, limits, errors, and that nothing is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

use std::path::Path;

use ecma_test_slapd::{
    people_ldif, Scope, Slapd, SlapdOptions, ACCESSLOG_SUFFIX, ADMIN_DN, BASE_DN, CLIENT_DN,
    GROUPS_DN, PEOPLE_DN,
};

const JDOE: &str = "uid=jdoe,ou=people,dc=example,dc=com";

fn add_jdoe(slapd: &Slapd) {
    slapd
        .ldapadd(&format!(
            "dn: {JDOE}\nobjectClass: inetOrgPerson\nuid: jdoe\ncn: Jöhn Doe\nsn: Doe\n\
             description:: IGxlYWRpbmcgc3BhY2U=\nmail: jdoe@example.com\nmail: john@example.com\n"
        ))
        .unwrap();
}

/// Runs `program args` with the test CA trusted and, when `with_client_cert`, the client
/// certificate offered; returns the output (success or not).
fn tool(
    slapd: &Slapd,
    program: &'static str,
    args: &[&str],
    with_client_cert: bool,
) -> ecma_test_slapd::ToolOutput {
    let mut command = slapd.command(program).unwrap();
    if with_client_cert {
        command
            .env("LDAPTLS_CERT", slapd.client_cert_path())
            .env("LDAPTLS_KEY", slapd.client_key_path());
    }
    command.args(args);
    slapd.run(command, b"").unwrap()
}

#[test]
fn starts_with_the_base_entries_and_finds_an_added_person_with_base64_values() {
    let slapd = Slapd::start().unwrap();
    assert_eq!(slapd.url(), format!("ldap://127.0.0.1:{}", slapd.port()));
    assert_eq!(
        slapd.ldaps_url(),
        format!("ldaps://127.0.0.1:{}", slapd.ldaps_port())
    );
    let base: Vec<String> = slapd
        .ldapsearch(BASE_DN, Scope::Sub, "(objectClass=*)", &["1.1"])
        .unwrap()
        .iter()
        .map(|entry| entry.dn().to_owned())
        .collect();
    assert_eq!(base, [BASE_DN, PEOPLE_DN, GROUPS_DN]);

    add_jdoe(&slapd);
    let found = slapd
        .ldapsearch(PEOPLE_DN, Scope::One, "(uid=jdoe)", &[])
        .unwrap();
    assert_eq!(found.len(), 1);
    let jdoe = &found[0];
    assert_eq!(jdoe.dn(), JDOE);
    // ldapsearch prints both as `attr:: base64` (non-ASCII, and a leading space).
    assert_eq!(jdoe.first("cn").as_deref(), Some("Jöhn Doe"));
    assert_eq!(jdoe.first("description").as_deref(), Some(" leading space"));
    assert_eq!(
        jdoe.values("mail"),
        ["jdoe@example.com", "john@example.com"]
    );
    assert_eq!(
        slapd.count(BASE_DN, "(objectClass=inetOrgPerson)").unwrap(),
        1
    );

    let operational = slapd
        .ldapsearch(
            JDOE,
            Scope::Base,
            "(objectClass=*)",
            &["entryUUID", "entryCSN"],
        )
        .unwrap();
    assert_eq!(operational[0].first("entryUUID").unwrap().len(), 36);
}

#[test]
fn the_root_dse_offers_starttls_paging_sort_vlv_sync_and_password_modify() {
    let slapd = Slapd::start().unwrap();
    let dse = slapd
        .ldapsearch("", Scope::Base, "(objectClass=*)", &["+"])
        .unwrap();
    let dse = &dse[0];
    assert_eq!(dse.values("namingContexts"), [ACCESSLOG_SUFFIX, BASE_DN]);
    let controls = dse.values("supportedControl");
    for control in [
        "1.2.840.113556.1.4.319",   // paged results
        "1.2.840.113556.1.4.473",   // server-side sort
        "2.16.840.1.113730.3.4.9",  // VLV
        "1.3.6.1.4.1.4203.1.9.1.1", // content sync
    ] {
        assert!(
            controls.iter().any(|c| c == control),
            "{control} in {controls:?}"
        );
    }
    let extensions = dse.values("supportedExtension");
    for extension in ["1.3.6.1.4.1.1466.20037", "1.3.6.1.4.1.4203.1.11.1"] {
        assert!(
            extensions.iter().any(|e| e == extension),
            "{extension} in {extensions:?}"
        );
    }
    // EXTERNAL is only offered on a connection with a client certificate.
    assert!(!dse
        .values("supportedSASLMechanisms")
        .contains(&"EXTERNAL".to_owned()));
    let ldaps = slapd.ldaps_url();
    let with_cert = tool(
        &slapd,
        "ldapsearch",
        &[
            "-x",
            "-H",
            &ldaps,
            "-LLL",
            "-s",
            "base",
            "-b",
            "",
            "supportedSASLMechanisms",
        ],
        true,
    );
    let with_cert = ecma_test_slapd::parse_entries(&with_cert.success().unwrap()).unwrap();
    let mechanisms = with_cert[0].values("supportedSASLMechanisms");
    assert!(
        mechanisms.contains(&"EXTERNAL".to_owned()),
        "{mechanisms:?}"
    );
}

#[test]
fn the_access_log_records_add_modify_modrdn_and_delete() {
    let slapd = Slapd::start().unwrap();
    add_jdoe(&slapd);
    slapd
        .ldapmodify(&format!(
            "dn: {JDOE}\nchangetype: modify\nreplace: sn\nsn: Smith\n-\nadd: telephoneNumber\n\
             telephoneNumber: 1\n-\ndelete: description\n\n\
             dn: {JDOE}\nchangetype: modrdn\nnewrdn: uid=jsmith\ndeleteoldrdn: 1\n\
             newsuperior: {GROUPS_DN}\n"
        ))
        .unwrap();
    slapd
        .ldapdelete(&format!("uid=jsmith,{GROUPS_DN}"))
        .unwrap();

    let log = slapd
        .ldapsearch(
            ACCESSLOG_SUFFIX,
            Scope::One,
            &format!("(reqDN={JDOE})"),
            &[
                "reqStart",
                "reqType",
                "reqDN",
                "reqMod",
                "reqNewRDN",
                "reqNewSuperior",
            ],
        )
        .unwrap();
    let types: Vec<String> = log.iter().filter_map(|e| e.first("reqType")).collect();
    assert_eq!(types, ["add", "modify", "modrdn"]);
    let add = &log[0];
    let start = add.first("reqStart").unwrap();
    // 20261202033839.000007Z: generalized time with a six-digit sequence, also the RDN.
    assert_eq!(add.dn(), format!("reqStart={start},{ACCESSLOG_SUFFIX}"));
    assert!(start.len() == 22 && start.ends_with('Z') && start.as_bytes()[14] == b'.');
    assert!(add.values("reqMod").contains(&"cn:+ Jöhn Doe".to_owned()));
    let modify = log[1].values("reqMod");
    for change in ["sn:= Smith", "telephoneNumber:+ 1", "description:-"] {
        assert!(
            modify.contains(&change.to_owned()),
            "{change} in {modify:?}"
        );
    }
    assert_eq!(log[2].first("reqNewRDN").as_deref(), Some("uid=jsmith"));
    assert_eq!(log[2].first("reqNewSuperior").as_deref(), Some(GROUPS_DN));
    // reqStart orders the log: a watermark search finds what came after it.
    let after = slapd
        .ldapsearch(
            ACCESSLOG_SUFFIX,
            Scope::One,
            &format!("(&(reqStart>={start})(!(reqStart={start})))"),
            &["reqType", "reqDN"],
        )
        .unwrap();
    let after: Vec<(String, String)> = after
        .iter()
        .map(|e| (e.first("reqType").unwrap(), e.first("reqDN").unwrap()))
        .collect();
    assert_eq!(
        after,
        [
            ("modify".to_owned(), JDOE.to_owned()),
            ("modrdn".to_owned(), JDOE.to_owned()),
            ("delete".to_owned(), format!("uid=jsmith,{GROUPS_DN}")),
        ]
    );
}

/// `ldapsearch -E sync=ro[/cookie]` of the people with `uid`: what it prints (not `-LLL`:
/// the sync information comes as comments).
fn sync_people(slapd: &Slapd, cookie: Option<&str>) -> String {
    let control = match cookie {
        Some(cookie) => format!("sync=ro/{cookie}"),
        None => "sync=ro".to_owned(),
    };
    slapd
        .ldapsearch_raw(&[
            "-E",
            &control,
            "-b",
            PEOPLE_DN,
            "(objectClass=inetOrgPerson)",
            "uid",
        ])
        .unwrap()
}

/// The `# cookie: ...` line of `ldapsearch -E sync=ro` output.
fn sync_cookie(output: &str) -> String {
    output
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("# cookie: "))
        .unwrap_or_else(|| panic!("no cookie in {output}"))
        .to_owned()
}

#[test]
fn a_refresh_only_sync_from_a_cookie_reports_changes_and_deletes() {
    let slapd = Slapd::start().unwrap();
    add_jdoe(&slapd);
    slapd.ldapadd(&people_ldif(2)).unwrap();
    let first = sync_people(&slapd, None);
    assert_eq!(first.matches("\ndn: ").count(), 3, "{first}");
    let cookie = sync_cookie(&first);
    assert!(cookie.starts_with("rid=000,csn="), "{cookie}");

    let deleted = slapd
        .ldapsearch(JDOE, Scope::Base, "(objectClass=*)", &["entryUUID"])
        .unwrap()[0]
        .first("entryUUID")
        .unwrap();
    slapd
        .ldapmodify("dn: uid=user000001,ou=people,dc=example,dc=com\nreplace: sn\nsn: New\n")
        .unwrap();
    slapd.ldapdelete(JDOE).unwrap();
    let next = sync_people(&slapd, Some(&cookie));
    let changed: Vec<&str> = next
        .lines()
        .filter_map(|l| l.strip_prefix("dn: "))
        .collect();
    assert_eq!(
        changed,
        ["uid=user000001,ou=people,dc=example,dc=com"],
        "{next}"
    );
    // With the session log, the deleted entry's UUID comes in a syncIdSet, refreshDeletes.
    assert!(next.contains(&format!("#\t{deleted}\n")), "{next}");
    assert!(next.contains("refreshDeletes=1"), "{next}");
    assert_ne!(sync_cookie(&next), cookie);
}

#[test]
fn without_a_session_log_a_sync_sends_the_uuids_still_present() {
    let slapd = Slapd::start_with(SlapdOptions::default().sync_session_log(None)).unwrap();
    slapd.ldapadd(&people_ldif(2)).unwrap();
    let first = sync_people(&slapd, None);
    let cookie = sync_cookie(&first);
    slapd
        .ldapdelete("uid=user000000,ou=people,dc=example,dc=com")
        .unwrap();
    let next = sync_people(&slapd, Some(&cookie));
    let present = slapd
        .ldapsearch(PEOPLE_DN, Scope::One, "(objectClass=*)", &["entryUUID"])
        .unwrap();
    for entry in &present {
        let uuid = entry.first("entryUUID").unwrap();
        assert!(next.contains(&format!("#\t{uuid}\n")), "{uuid} in {next}");
    }
    assert!(next.contains("refreshDeletes=0"), "{next}");
}

#[test]
fn paged_sorted_and_vlv_searches_return_every_entry() {
    let slapd = Slapd::start().unwrap();
    slapd.ldapadd(&people_ldif(5)).unwrap();
    let paged = slapd
        .ldapsearch_raw(&[
            "-LLL",
            "-E",
            "pr=2/noprompt",
            "-b",
            PEOPLE_DN,
            "(uid=user*)",
            "uid",
        ])
        .unwrap();
    assert_eq!(
        paged.matches("# pagedresults: cookie=").count(),
        3,
        "{paged}"
    );
    assert_eq!(ecma_test_slapd::parse_entries(&paged).unwrap().len(), 5);

    // uid has no ordering rule of its own: sort keys name one.
    let sorted = slapd
        .ldapsearch_raw(&[
            "-LLL",
            "-E",
            "sss=-uid:caseIgnoreOrderingMatch",
            "-b",
            PEOPLE_DN,
            "(uid=user*)",
            "uid",
        ])
        .unwrap();
    let uids: Vec<String> = ecma_test_slapd::parse_entries(&sorted)
        .unwrap()
        .iter()
        .filter_map(|e| e.first("uid"))
        .collect();
    assert_eq!(
        uids,
        [
            "user000004",
            "user000003",
            "user000002",
            "user000001",
            "user000000"
        ]
    );

    // VLV: one before, one after the second of five (ldapsearch asks for more on stdin,
    // which is empty).
    // ldapsearch exits with 76 (VLV error) once its window passes the end.
    let window = tool(
        &slapd,
        "ldapsearch",
        &[
            "-x",
            "-H",
            &slapd.url(),
            "-D",
            ADMIN_DN,
            "-w",
            slapd.admin_password(),
            "-E",
            "sss=uid:caseIgnoreOrderingMatch",
            "-E",
            "vlv=1/1/2/0",
            "-b",
            PEOPLE_DN,
            "(uid=user*)",
            "uid",
        ],
        false,
    )
    .stdout;
    assert!(window.contains("vlvResult: pos=2 count=5"), "{window}");
    let first_window: Vec<&str> = window
        .split("# search result")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("uid: "))
        .collect();
    assert_eq!(first_window, ["user000000", "user000001", "user000002"]);
}

#[test]
fn the_admin_has_no_size_limit_and_anonymous_gets_500() {
    let slapd = Slapd::start().unwrap();
    slapd.ldapadd(&people_ldif(600)).unwrap();
    assert_eq!(
        slapd
            .count(PEOPLE_DN, "(objectClass=inetOrgPerson)")
            .unwrap(),
        600
    );
    let anonymous = tool(
        &slapd,
        "ldapsearch",
        &[
            "-x",
            "-H",
            &slapd.url(),
            "-b",
            PEOPLE_DN,
            "(objectClass=inetOrgPerson)",
            "1.1",
        ],
        false,
    );
    assert_eq!(anonymous.status.code(), Some(4), "{}", anonymous.stderr);
    assert_eq!(anonymous.stdout.matches("\ndn: ").count(), 500);
}

#[test]
fn starttls_and_ldaps_verify_the_server_against_the_test_ca() {
    let slapd = Slapd::start().unwrap();
    let password = slapd.admin_password();
    for (url, starttls) in [(slapd.url(), true), (slapd.ldaps_url(), false)] {
        let mut args = vec!["-x", "-H", &url, "-D", ADMIN_DN, "-w", password];
        if starttls {
            args.push("-ZZ");
        }
        let whoami = tool(&slapd, "ldapwhoami", &args, false);
        assert_eq!(
            whoami.clone().success().unwrap(),
            format!("dn:{ADMIN_DN}\n")
        );

        // The system's CAs do not know the test CA: the server certificate is refused.
        let mut command = slapd.command("ldapwhoami").unwrap();
        command
            .env("LDAPTLS_CACERT", "/etc/ssl/certs/ca-certificates.crt")
            .args(&args);
        let refused = slapd.run(command, b"").unwrap();
        assert!(!refused.status.success(), "{url}: {}", refused.stdout);
    }

    let pem = std::fs::read_to_string(slapd.server_cert_path()).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine;
    use sha2::Digest;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    assert_eq!(
        <[u8; 32]>::from(sha2::Sha256::digest(der)),
        slapd.server_cert_fingerprint_sha256()
    );
    assert!(std::fs::read_to_string(slapd.ca_pem_path())
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn sasl_external_with_the_client_certificate_binds_as_the_mapped_dn_and_may_write() {
    let slapd = Slapd::start().unwrap();
    let ldaps = slapd.ldaps_url();
    let url = slapd.url();
    for args in [
        vec!["-Y", "EXTERNAL", "-H", &ldaps, "-Q"],
        vec!["-Y", "EXTERNAL", "-H", &url, "-ZZ", "-Q"],
    ] {
        let whoami = tool(&slapd, "ldapwhoami", &args, true);
        assert_eq!(whoami.success().unwrap(), format!("dn:{CLIENT_DN}\n"));
    }
    // Without a client certificate there is nothing to bind with.
    let without = tool(
        &slapd,
        "ldapwhoami",
        &["-Y", "EXTERNAL", "-H", &ldaps, "-Q"],
        false,
    );
    assert!(!without.status.success());

    let mut add = slapd.command("ldapadd").unwrap();
    add.env("LDAPTLS_CERT", slapd.client_cert_path())
        .env("LDAPTLS_KEY", slapd.client_key_path())
        .args(["-Y", "EXTERNAL", "-Q", "-H", &ldaps]);
    let ldif = format!(
        "dn: cn=staff,{GROUPS_DN}\nobjectClass: groupOfNames\ncn: staff\nmember: {ADMIN_DN}\n"
    );
    slapd.run(add, ldif.as_bytes()).unwrap().success().unwrap();
    let log = tool(
        &slapd,
        "ldapsearch",
        &[
            "-Y",
            "EXTERNAL",
            "-Q",
            "-H",
            &ldaps,
            "-LLL",
            "-b",
            ACCESSLOG_SUFFIX,
            "(reqType=add)",
            "reqAuthzID",
        ],
        true,
    );
    let log = ecma_test_slapd::parse_entries(&log.success().unwrap()).unwrap();
    let authz: Vec<String> = log.iter().filter_map(|e| e.first("reqAuthzID")).collect();
    assert_eq!(authz.last().map(String::as_str), Some(CLIENT_DN));
}

#[test]
fn a_failing_tool_reports_its_stderr() {
    let slapd = Slapd::start().unwrap();
    add_jdoe(&slapd);
    let error = slapd
        .ldapadd(&format!(
            "dn: {JDOE}\nobjectClass: inetOrgPerson\nuid: jdoe\ncn: x\nsn: y\n"
        ))
        .unwrap_err()
        .to_string();
    assert!(error.contains("Already exists (68)"), "{error}");
    let error = slapd
        .ldapsearch(
            "ou=nowhere,dc=example,dc=com",
            Scope::Sub,
            "(objectClass=*)",
            &[],
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("No such object (32)"), "{error}");
}

#[test]
fn dropping_stops_slapd_and_removes_its_directory() {
    let slapd = Slapd::start().unwrap();
    let pid = slapd.pid();
    let dir = slapd.dir().to_owned();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(dir.join("slapd.d").is_dir());
    drop(slapd);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "slapd {pid} still runs"
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
}

#[test]
fn a_panicking_test_still_stops_its_slapd() {
    let (pid, dir) = std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::channel();
        let outcome = scope
            .spawn(move || {
                let slapd = Slapd::start().unwrap();
                sender.send((slapd.pid(), slapd.dir().to_owned())).unwrap();
                panic!("a test fails while slapd runs");
            })
            .join();
        assert!(outcome.is_err());
        receiver.recv().unwrap()
    });
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "slapd {pid} still runs"
    );
    assert!(!dir.exists());
}

#[test]
fn two_instances_run_at_once_with_their_own_data() {
    let first = Slapd::start().unwrap();
    let second = Slapd::start().unwrap();
    let ports = [
        first.port(),
        first.ldaps_port(),
        second.port(),
        second.ldaps_port(),
    ];
    let mut distinct = ports.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{ports:?}");
    add_jdoe(&first);
    assert_eq!(first.count(PEOPLE_DN, "(uid=jdoe)").unwrap(), 1);
    assert_eq!(second.count(PEOPLE_DN, "(uid=jdoe)").unwrap(), 0);
}

#[test]
fn a_slapd_that_cannot_start_fails_with_its_own_log() {
    let error = Slapd::start_with(SlapdOptions::default().log_level("no-such-level"))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("slapd did not start: slapd exited"),
        "{error}"
    );
    assert!(error.contains("--- slapd log ("), "{error}");
    assert!(error.contains("no-such-level"), "{error}");
}
