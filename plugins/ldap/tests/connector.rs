//! The LDAP connector driven as the host drives it (through the FFI adapter) against a real,
//! throwaway slapd (`ecma-test-slapd`): pages, schema, export, groups, passwords, paged import,
//! each delta method slapd has, TLS and the error mapping. A missing slapd fails the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

use ecma_ldap::LdapConnector;
use ecma_plugin_api::{ConfigPage, ExportErrorKind, ObjectModification, PasswordOptions};
use ecma_plugin_testkit::{entry, ConnectorHarness};
use ecma_test_slapd::{Scope, Slapd, PEOPLE_DN};

const PERSON: &str = "inetOrgPerson";
const GROUP: &str = "groupOfNames";

fn harness(slapd: &Slapd) -> ConnectorHarness {
    let mut h = ConnectorHarness::in_process::<LdapConnector>().unwrap();
    h.answer("host", "127.0.0.1")
        .answer("port", slapd.port().to_string())
        .answer("binding", "Simple")
        .answer("user_name", slapd.admin_dn())
        .answer_secret("password", slapd.admin_password())
        .answer("object_classes", "inetOrgPerson,groupOfNames")
        .answer("inetOrgPerson:anchor", "employeeNumber")
        .answer(
            "inetOrgPerson:dn_template",
            "uid={uid},ou=people,{partition}",
        )
        .answer("groupOfNames:anchor", "-dn-")
        .answer("groupOfNames:dn_template", "cn={cn},ou=groups,{partition}");
    h
}

fn person(number: &str, uid: &str) -> entry::EntryBuilder {
    entry::add(PERSON, "employeeNumber", number)
        .dn(&format!("CN={number},OBJECT=INETORGPERSON"))
        .set("uid", uid)
        .set("cn", uid)
        .set("sn", "Tester")
}

fn person_dn(uid: &str) -> String {
    format!("uid={uid},{PEOPLE_DN}")
}

#[test]
fn pages_show_the_server_and_its_schema() {
    let slapd = Slapd::start().unwrap();
    let mut h = harness(&slapd);
    let walk = h.walk_pages().unwrap();
    for report in &walk.pages {
        assert!(
            report.issues.is_empty(),
            "{:?}: {:?}",
            report.page,
            report.issues
        );
    }
    let global = walk.page(ConfigPage::Global).unwrap();
    let label = |name: &str| {
        global
            .definitions
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.description.clone())
            .unwrap_or_default()
    };
    assert!(label("server").contains("OpenLDAP"), "{}", label("server"));
    assert!(label("naming_contexts").contains("dc=example,dc=com"));
    assert!(
        label("supported_controls").contains("1.2.840.113556.1.4.319"),
        "paged results listed"
    );
    assert!(
        label("supported_extensions").contains("1.3.6.1.4.1.4203.1.11.1"),
        "password modify listed"
    );
    let delta = walk.definition("delta_method").unwrap();
    assert!(
        delta.description.contains("Access log")
            && delta.description.contains("Content synchronization"),
        "{}",
        delta.description
    );
    let schema1 = walk.definition("object_classes").unwrap();
    assert!(
        schema1.description.contains("groupOfUniqueNames")
            && schema1.description.contains("organizationalUnit")
    );

    let schema = h.schema().unwrap();
    let person = schema.object_type(PERSON).unwrap();
    assert_eq!(person.anchor, ["employeeNumber"]);
    assert!(person.attribute("objectClass").unwrap().multi_valued);
    assert!(person.attribute("mail").unwrap().multi_valued);
    assert!(!person.attribute("displayName").unwrap().multi_valued);
    assert_eq!(
        person.attribute("manager").unwrap().attribute_type,
        ecma_plugin_api::AttributeType::Reference
    );
    assert_eq!(
        person.attribute("jpegPhoto").unwrap().attribute_type,
        ecma_plugin_api::AttributeType::Binary
    );
    assert!(person.attribute("userPassword").is_none());
    let group = schema.object_type(GROUP).unwrap();
    assert_eq!(group.anchor, ["-dn-"]);
    let partitions = h.partitions().unwrap();
    assert!(
        partitions.iter().any(|p| p.dn == "dc=example,dc=com"),
        "{partitions:?}"
    );
    assert!(
        !partitions.iter().any(|p| p.dn == "cn=accesslog"),
        "the access log is not a partition"
    );

    // More structural classes; operational attributes on request; containers.
    h.answer(
        "object_classes",
        "inetOrgPerson,groupOfUniqueNames,organizationalUnit",
    )
    .answer("groupOfUniqueNames:anchor", "entryUUID")
    .answer("organizationalUnit:anchor", "-dn-")
    .answer("include_operational_attributes", "true");
    let schema = h.schema().unwrap();
    let unique = schema.object_type("groupOfUniqueNames").unwrap();
    assert_eq!(
        unique.attribute("uniqueMember").unwrap().attribute_type,
        ecma_plugin_api::AttributeType::Reference
    );
    assert!(schema
        .object_type("organizationalUnit")
        .unwrap()
        .attribute("ou")
        .is_some());
    let created = schema
        .object_type(PERSON)
        .unwrap()
        .attribute("createTimestamp")
        .unwrap();
    assert_eq!(
        created.direction,
        ecma_plugin_api::AttributeDirection::ImportOnly
    );
    let partition = partitions
        .iter()
        .find(|p| p.dn == "dc=example,dc=com")
        .unwrap();
    let containers = h.connector().hierarchy(h.parameters(), partition).unwrap();
    let dns: Vec<&str> = containers.iter().map(|c| c.dn.as_str()).collect();
    assert!(
        dns.contains(&"ou=people,dc=example,dc=com")
            && dns.contains(&"ou=groups,dc=example,dc=com"),
        "{dns:?}"
    );
    // The connectivity page checks the bind: a wrong password is named there.
    h.answer_secret("password", "not-the-password");
    let report = h.page(ConfigPage::Connectivity).unwrap();
    assert!(
        report
            .issues
            .iter()
            .any(|i| i.parameter == "password" && i.message.contains("invalidCredentials")),
        "{:?}",
        report.issues
    );
    h.answer_secret("password", slapd.admin_password());

    // A multi-valued anchor is refused with the reason.
    h.answer("inetOrgPerson:anchor", "uid");
    let error = h.schema().unwrap_err().to_string();
    assert!(error.contains("`uid` is multi-valued"), "{error}");
}

#[test]
fn export_adds_modifies_renames_and_deletes_entries() {
    let slapd = Slapd::start().unwrap();
    let mut h = harness(&slapd);
    // Add: the DN from the template, the RDN value escaped.
    let results = h
        .export([person("1001", "ada").set("mail", "ada@example.com")])
        .unwrap();
    assert!(results[0].error.is_none(), "{results:?}");
    assert!(
        results[0]
            .anchor
            .iter()
            .any(|a| a.name == "-dn-" && a.value.as_str() == Some(person_dn("ada").as_str())),
        "{results:?}"
    );
    let found = slapd
        .ldapsearch(PEOPLE_DN, Scope::One, "(uid=ada)", &[])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].first("mail").as_deref(), Some("ada@example.com"));
    assert_eq!(found[0].first("employeeNumber").as_deref(), Some("1001"));
    assert!(found[0]
        .values("objectClass")
        .iter()
        .any(|c| c == "inetOrgPerson"));

    // The same add again: already exists.
    let again = h.export([person("1001", "ada")]).unwrap();
    assert_eq!(
        again[0].error.as_ref().unwrap().kind,
        ExportErrorKind::ObjectAlreadyExists
    );

    // Modify: replace one value, add and remove values of a multi-valued one.
    h.export_ok([entry::update(PERSON, "employeeNumber", "1001")
        .dn(&person_dn("ada"))
        .set("sn", "Lovelace")
        .add_values("mail", ["ada2@example.com"])])
        .unwrap();
    h.export_ok([entry::update(PERSON, "employeeNumber", "1001")
        .dn(&person_dn("ada"))
        .remove_values("mail", ["ada@example.com"])])
        .unwrap();
    let found = slapd
        .ldapsearch(PEOPLE_DN, Scope::One, "(uid=ada)", &[])
        .unwrap();
    assert_eq!(found[0].first("sn").as_deref(), Some("Lovelace"));
    assert_eq!(found[0].values("mail"), ["ada2@example.com"]);

    // Rename: a new value of the RDN's attribute is a modrdn.
    let renamed = h
        .export([entry::update(PERSON, "employeeNumber", "1001")
            .dn(&person_dn("ada"))
            .set("uid", "ada.l")])
        .unwrap();
    assert!(renamed[0].error.is_none(), "{renamed:?}");
    assert_eq!(slapd.count(PEOPLE_DN, "(uid=ada)").unwrap(), 0);
    assert_eq!(
        slapd.count(&person_dn("ada.l"), "(objectClass=*)").unwrap(),
        1
    );
    // A move to another container by a new DN (modrdn with a new superior).
    slapd
        .ldapadd("dn: ou=staff,dc=example,dc=com\nobjectClass: organizationalUnit\nou: staff\n")
        .unwrap();
    h.export_ok([entry::update(PERSON, "employeeNumber", "1001")
        .dn(&person_dn("ada.l"))
        .move_to("uid=ada.l,ou=staff,dc=example,dc=com")])
        .unwrap();
    assert_eq!(
        slapd
            .count("ou=staff,dc=example,dc=com", "(uid=ada.l)")
            .unwrap(),
        1
    );

    // Delete.
    h.export_ok([
        entry::delete(PERSON, "employeeNumber", "1001").dn("uid=ada.l,ou=staff,dc=example,dc=com")
    ])
    .unwrap();
    assert_eq!(
        slapd
            .count("dc=example,dc=com", "(employeeNumber=1001)")
            .unwrap(),
        0
    );
    let gone = h
        .export([entry::delete(PERSON, "employeeNumber", "1001")
            .dn("uid=ada.l,ou=staff,dc=example,dc=com")])
        .unwrap();
    assert_eq!(
        gone[0].error.as_ref().unwrap().kind,
        ExportErrorKind::NoSuchObject
    );
}

#[test]
fn export_errors_name_what_is_wrong() {
    let slapd = Slapd::start().unwrap();
    let mut h = harness(&slapd);
    // A missing parent container is named, and nothing is created.
    let missing = h
        .export([person("2001", "bob").dn("uid=bob,ou=nowhere,dc=example,dc=com")])
        .unwrap();
    let error = missing[0].error.as_ref().unwrap();
    assert_eq!(error.kind, ExportErrorKind::InvalidDn);
    assert!(
        error
            .message
            .contains("`ou=nowhere,dc=example,dc=com` does not exist"),
        "{}",
        error.message
    );
    assert_eq!(slapd.count("dc=example,dc=com", "(ou=nowhere)").unwrap(), 0);
    // A schema violation carries the server's diagnostic.
    let bad = h
        .export([entry::add(PERSON, "employeeNumber", "2002")
            .dn("x")
            .set("uid", "carl")
            .set("cn", "carl")])
        .unwrap();
    let error = bad[0].error.as_ref().unwrap();
    assert_eq!(
        error.kind,
        ExportErrorKind::SyntaxViolation,
        "{}",
        error.message
    );
    assert!(
        error.message.contains("sn"),
        "the missing required attribute is named: {}",
        error.message
    );
    // Injection payloads stay inside their value, in DNs and in filters.
    let payload = "evil,ou=groups+cn=x";
    h.export_ok([person("2003", payload)]).unwrap();
    let found = slapd
        .ldapsearch(PEOPLE_DN, Scope::One, "(employeeNumber=2003)", &["uid"])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].values("uid"), [payload]);
    assert_eq!(
        slapd
            .count("ou=groups,dc=example,dc=com", "(cn=x)")
            .unwrap(),
        0
    );
    // Wrong credentials are explained without the password.
    h.answer_secret("password", "wrong-password");
    let error = h.test_connection().unwrap_err().to_string();
    assert!(
        error.contains("invalidCredentials") && error.contains("user_name"),
        "{error}"
    );
    assert!(!error.contains("wrong-password"));
}

#[test]
fn groups_get_members_value_by_value() {
    let slapd = Slapd::start().unwrap();
    let mut h = harness(&slapd);
    h.export_ok([person("3001", "u1"), person("3002", "u2")])
        .unwrap();
    // A group with no members yet (groupOfNames requires one): the empty DN holds its place.
    let added = h
        .export([
            entry::add(GROUP, "-dn-", "cn=team,ou=groups,dc=example,dc=com")
                .dn("cn=team,ou=groups,dc=example,dc=com")
                .set("cn", "team"),
        ])
        .unwrap();
    assert!(added[0].error.is_none(), "{added:?}");
    let group = "cn=team,ou=groups,dc=example,dc=com";
    h.export_ok([entry::update(GROUP, "-dn-", group).dn(group).add_values(
        "member",
        [
            ecma_plugin_api::Value::Reference(person_dn("u1")),
            ecma_plugin_api::Value::Reference(person_dn("u2")),
        ],
    )])
    .unwrap();
    h.export_ok(
        [entry::update(GROUP, "-dn-", group).dn(group).remove_values(
            "member",
            [ecma_plugin_api::Value::Reference(person_dn("u1"))],
        )],
    )
    .unwrap();
    let found = slapd
        .ldapsearch(group, Scope::Base, "(objectClass=*)", &["member"])
        .unwrap();
    let members: Vec<String> = found[0]
        .values("member")
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect();
    assert_eq!(members, [person_dn("u2")]);
    // Removing the last member keeps the placeholder instead of failing.
    h.export_ok(
        [entry::update(GROUP, "-dn-", group).dn(group).remove_values(
            "member",
            [ecma_plugin_api::Value::Reference(person_dn("u2"))],
        )],
    )
    .unwrap();
    // The import shows the group without the placeholder.
    let run = h.full_import().unwrap();
    let team = run.entries.iter().find(|e| e.dn == group).unwrap();
    assert!(team.changes.iter().all(|c| c.name != "member"), "{team:?}");
}

#[test]
fn passwords_are_set_with_password_modify() {
    let slapd = Slapd::start().unwrap();
    let mut h = harness(&slapd);
    h.export_ok([person("4001", "pat")]).unwrap();
    let mut target = entry::password_target(PERSON, "employeeNumber", "4001");
    target.dn = person_dn("pat");
    h.set_password(&target, "Initial-Pw-1", PasswordOptions::default())
        .unwrap();
    let whoami = |password: &str| {
        let mut command = slapd.command("ldapwhoami").unwrap();
        command.args([
            "-x",
            "-H",
            &slapd.url(),
            "-D",
            &person_dn("pat"),
            "-w",
            password,
        ]);
        slapd.run(command, b"").unwrap().success().is_ok()
    };
    assert!(whoami("Initial-Pw-1"));
    h.change_password(&target, "Initial-Pw-1", "Changed-Pw-2")
        .unwrap();
    assert!(whoami("Changed-Pw-2"));
    assert!(!whoami("Initial-Pw-1"));
    let refused = h
        .change_password(&target, "not-it", "x")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("old password"), "{refused}");
    // The stored value is hashed by the server, never the clear text.
    let stored = slapd
        .ldapsearch(
            &person_dn("pat"),
            Scope::Base,
            "(objectClass=*)",
            &["userPassword"],
        )
        .unwrap();
    assert!(stored[0]
        .first("userPassword")
        .unwrap_or_default()
        .starts_with('{'));
}

#[test]
fn full_import_pages_and_types_values() {
    let slapd = Slapd::start().unwrap();
    slapd.ldapadd(&ecma_test_slapd::people_ldif(25)).unwrap();
    let mut h = harness(&slapd).with_import_page_size(10);
    h.answer("inetOrgPerson:anchor", "entryUUID");
    let run = h.full_import().unwrap();
    let people: Vec<_> = run
        .entries
        .iter()
        .filter(|e| e.object_type == PERSON)
        .collect();
    assert_eq!(people.len(), 25);
    assert!(
        run.page_sizes.iter().all(|&n| n <= 10),
        "{:?}",
        run.page_sizes
    );
    assert!(run.page_sizes.len() >= 3);
    let first = people[0];
    assert_eq!(first.anchor[0].name, "entryUUID");
    assert_eq!(first.anchor[0].value.as_str().map(str::len), Some(36));
    assert_eq!(first.modification, ObjectModification::Add);

    // VLV with server-side sort reads the same entries, window by window.
    h.answer("inetOrgPerson:import_method", "VLV");
    let vlv = h.full_import().unwrap();
    let mut by_vlv: Vec<String> = vlv
        .entries
        .iter()
        .filter(|e| e.object_type == PERSON)
        .map(|e| e.dn.clone())
        .collect();
    let mut by_pages: Vec<String> = people.iter().map(|e| e.dn.clone()).collect();
    by_vlv.sort();
    by_pages.sort();
    assert_eq!(by_vlv, by_pages);
}

fn delta_harness(slapd: &Slapd, method: &str) -> ConnectorHarness {
    let mut h = harness(slapd);
    h.answer("inetOrgPerson:anchor", "entryUUID")
        .answer("delta_method", method);
    h
}

fn delta_sees_changes(method: &str, sees_deletes: bool) {
    let slapd = Slapd::start().unwrap();
    slapd.ldapadd(&ecma_test_slapd::people_ldif(3)).unwrap();
    let mut h = delta_harness(&slapd, method);
    let full = h.full_import().unwrap();
    assert!(
        !full.watermark.is_empty(),
        "{method}: a full import returns a watermark"
    );
    let people = slapd
        .ldapsearch(
            PEOPLE_DN,
            Scope::One,
            "(objectClass=inetOrgPerson)",
            &["uid"],
        )
        .unwrap();
    let (changed, deleted, moved) = (
        people[0].dn().to_string(),
        people[1].dn().to_string(),
        people[2].dn().to_string(),
    );
    std::thread::sleep(std::time::Duration::from_millis(1100)); // timestamps have seconds
    slapd
        .ldapmodify(&format!(
            "dn: {changed}\nchangetype: modify\nreplace: sn\nsn: Changed\n"
        ))
        .unwrap();
    slapd.ldapdelete(&deleted).unwrap();
    slapd
        .ldapmodify(&format!(
            "dn: {moved}\nchangetype: modrdn\nnewrdn: uid=moved\ndeleteoldrdn: 1\n"
        ))
        .unwrap();
    slapd.ldapadd("dn: uid=newcomer,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: newcomer\ncn: newcomer\nsn: New\n").unwrap();
    let delta = h.delta_import(&full.watermark).unwrap();
    let by_dn = |dn: &str| {
        delta
            .entries
            .iter()
            .filter(|e| e.dn.eq_ignore_ascii_case(dn))
            .collect::<Vec<_>>()
    };
    let changed_entries = by_dn(&changed);
    assert!(
        changed_entries
            .iter()
            .any(|e| e.modification == ObjectModification::Replace
                && entry::text(e, "sn").as_deref() == Some("Changed")),
        "{method}: {:?}",
        delta.entries
    );
    assert!(
        !by_dn("uid=newcomer,ou=people,dc=example,dc=com").is_empty(),
        "{method}: the add is seen"
    );
    let deletes = delta
        .entries
        .iter()
        .filter(|e| e.modification == ObjectModification::Delete)
        .count();
    if sees_deletes {
        assert!(
            deletes >= 1,
            "{method}: the delete is seen: {:?}",
            delta.entries
        );
        let anchor = full
            .entries
            .iter()
            .find(|e| e.dn == deleted)
            .unwrap()
            .anchor[0]
            .value
            .clone();
        assert!(
            delta.entries.iter().any(
                |e| e.modification == ObjectModification::Delete && e.anchor[0].value == anchor
            ),
            "{method}: the delete names the entryUUID"
        );
    } else {
        assert_eq!(deletes, 0);
    }
    // The next delta starts after these changes.
    let next = h.delta_import(&delta.watermark).unwrap();
    assert!(!next
        .entries
        .iter()
        .any(|e| e.dn.eq_ignore_ascii_case(&deleted)
            && e.modification == ObjectModification::Replace));
}

#[test]
fn delta_by_access_log() {
    delta_sees_changes("Access log", true);
}

#[test]
fn delta_by_content_synchronization() {
    delta_sees_changes("Content synchronization", true);
}

#[test]
fn delta_by_modify_timestamp() {
    delta_sees_changes("modifyTimestamp", false);
}

#[test]
fn tls_bindings() {
    let slapd = Slapd::start().unwrap();
    let ca = slapd.ca_pem_path().display().to_string();
    // StartTLS with the CA.
    let mut h = harness(&slapd);
    h.answer("binding", "StartTLS").answer("ca_file", &ca);
    h.test_connection().unwrap();
    // LDAPS without the CA: refused, and the error shows the fingerprint to pin.
    let mut h = harness(&slapd);
    h.answer("binding", "LDAPS")
        .answer("port", slapd.ldaps_port().to_string())
        .answer("ca_file", "");
    let error = h.test_connection().unwrap_err().to_string();
    let fingerprint = slapd
        .server_cert_fingerprint_sha256()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert!(error.contains(&fingerprint), "{error}");
    // Pinned, it connects.
    h.answer("server_certificate_sha256", &fingerprint);
    h.test_connection().unwrap();
    // SASL EXTERNAL with the client certificate, and the global page shows the certificate.
    let mut h = harness(&slapd);
    h.answer("binding", "SASL EXTERNAL")
        .answer("user_name", "")
        .answer("ca_file", &ca)
        .answer(
            "client_certificate_file",
            slapd.client_cert_path().display().to_string(),
        )
        .answer(
            "client_key_file",
            slapd.client_key_path().display().to_string(),
        );
    h.test_connection().unwrap();
    let global = h.page(ConfigPage::Global).unwrap();
    let sha = global
        .definitions
        .iter()
        .find(|d| d.name == "certificate_sha256")
        .unwrap();
    assert_eq!(sha.description, fingerprint);
    h.export_ok([person("5001", "tls")]).unwrap();
    assert_eq!(slapd.count(PEOPLE_DN, "(uid=tls)").unwrap(), 1);
}

#[test]
fn more_result_codes_and_connections() {
    let slapd = Slapd::start().unwrap();
    let mut h = harness(&slapd);
    // A referral is reported, never followed.
    let mut add = slapd.command("ldapadd").unwrap();
    let password = slapd.dir().join("referral-test.pw");
    std::fs::write(&password, slapd.admin_password()).unwrap();
    add.args([
        "-x",
        "-M",
        "-H",
        &slapd.url(),
        "-D",
        slapd.admin_dn(),
        "-y",
        password.to_str().unwrap(),
    ]);
    let referral = "dn: ou=remote,dc=example,dc=com\nobjectClass: referral\nobjectClass: extensibleObject\nou: remote\nref: ldap://directory.elsewhere.example/ou=remote,dc=example,dc=com\n";
    slapd
        .run(add, referral.as_bytes())
        .unwrap()
        .success()
        .unwrap();
    let referred = h
        .export([person("6001", "far").dn("uid=far,ou=remote,dc=example,dc=com")])
        .unwrap();
    let message = &referred[0].error.as_ref().unwrap().message;
    assert!(
        message.contains("directory.elsewhere.example") && message.contains("not followed"),
        "{message}"
    );
    // Without write rights: a permission issue.
    h.export_ok([person("6002", "reader")]).unwrap();
    let mut target = entry::password_target(PERSON, "employeeNumber", "6002");
    target.dn = person_dn("reader");
    h.set_password(&target, "Reader-Pw-1", PasswordOptions::default())
        .unwrap();
    let mut reader = harness(&slapd);
    reader
        .answer("user_name", person_dn("reader"))
        .answer_secret("password", "Reader-Pw-1");
    let refused = reader.export([person("6003", "nope")]).unwrap();
    assert_eq!(
        refused[0].error.as_ref().unwrap().kind,
        ExportErrorKind::PermissionIssue,
        "{refused:?}"
    );
    // Anonymous binding reads the Root DSE.
    let mut anonymous = harness(&slapd);
    anonymous
        .answer("binding", "Anonymous")
        .answer("user_name", "");
    anonymous.test_connection().unwrap();
    // A server that accepts connections but never answers: the operation time-out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut hung = harness(&slapd);
    hung.answer("port", silent.local_addr().unwrap().port().to_string())
        .answer("operation_timeout_seconds", "1");
    let started = std::time::Instant::now();
    let error = hung.test_connection().unwrap_err().to_string();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // Nothing listens: refused, with the host and port tried.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut nothing = harness(&slapd);
    nothing.answer("port", closed.to_string());
    let error = nothing.test_connection().unwrap_err().to_string();
    assert!(
        error.contains(&format!("127.0.0.1:{closed}")) && error.contains("port"),
        "{error}"
    );
    // The server goes away: exports are busy (retry later), not failures.
    drop(slapd);
    let busy = h.export([person("6004", "late")]).unwrap();
    assert_eq!(
        busy[0].error.as_ref().unwrap().kind,
        ExportErrorKind::Busy,
        "{busy:?}"
    );
}
