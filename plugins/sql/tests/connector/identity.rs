//! Scenarios of the ECMA2 identity contract, each written once and run on the native backends
//! by `main.rs`: renames (the row and its child rows move; conflicts, missing objects, DN
//! renames, foreign keys with and without `ON UPDATE CASCADE`, the per-entry retry), value-level
//! membership changes on a large group (only the changed rows are touched), binary anchors,
//! two-column anchors, and the validation of the anchor parameter.

use std::time::Instant;

use ecma_plugin_api::*;
use ecma_plugin_testkit::entry::{self, values, EntryBuilder};
use ecma_plugin_testkit::ConnectorHarness;

use crate::scenarios::{configure, kinds, ok, r, row, s};
use crate::support::{Kind, Server, TestDb};

type Rows = Vec<Vec<Option<String>>>;

const RENAME_TABLES: &str = r#"
CREATE TABLE "People" ("PersonId" {key} PRIMARY KEY, "UserName" {key} NOT NULL UNIQUE, "Title" {text}, "Dn" {key});
CREATE TABLE "PersonMails" ("PersonId" {key} NOT NULL, "Mail" {key} NOT NULL, PRIMARY KEY ("PersonId", "Mail"));
CREATE TABLE "Teams" ("TeamId" {key} PRIMARY KEY, "Name" {text});
CREATE TABLE "TeamMembers" ("TeamId" {key} NOT NULL, "Member" {key} NOT NULL, PRIMARY KEY ("TeamId", "Member"),
    FOREIGN KEY ("TeamId") REFERENCES "Teams" ("TeamId") ON UPDATE CASCADE ON DELETE CASCADE);
CREATE TABLE "Rooms" ("RoomId" {key} PRIMARY KEY, "Name" {text});
CREATE TABLE "RoomSeats" ("RoomId" {key} NOT NULL, "Seat" {key} NOT NULL, PRIMARY KEY ("RoomId", "Seat"),
    FOREIGN KEY ("RoomId") REFERENCES "Rooms" ("RoomId"));
"#;

/// A rename as the host sends it: an `Update` of the current object with the new anchor value
/// and, when given, the new DN.
fn rename(object_type: &str, anchor: &str, from: &str, to: &str) -> EntryBuilder {
    entry::update(object_type, anchor, from).set(anchor, to)
}

fn new_dn(builder: EntryBuilder, dn: &str) -> EntryBuilder {
    builder.set(NEW_DN_ATTRIBUTE, dn)
}

/// `Person` (mails in a child table without a foreign key; the DN in a column of its own),
/// `Team` (members in a child table whose foreign key cascades updates; the DN is the anchor)
/// and `Room` (seats in a child table whose foreign key does not cascade).
fn rename_harness(db: &TestDb) -> ConnectorHarness {
    let mut h = db.harness();
    h.answer("object_types", "Person,Team,Room")
        .answer("Person:table", "People")
        .answer("Person:multivalued_tables", "PersonMails")
        .answer("Person:dn", "Dn")
        .answer("Person:dn_is_anchor", "false")
        .answer("Team:table", "Teams")
        .answer("Team:multivalued_tables", "TeamMembers")
        .answer("Team:Member:type", "Reference")
        .answer("Room:table", "Rooms")
        .answer("Room:multivalued_tables", "RoomSeats");
    configure(&mut h);
    h
}

/// Renames: the row and its child rows move to the new anchor in the same transaction, the
/// entry's other changes apply to the renamed object, a conflict or a missing object fails the
/// entry alone, a new DN goes to the DN column (or, when the DN is the anchor, renames), a
/// cascading foreign key and an absent one both work, and one that does not cascade gives an
/// error that says how to fix it.
pub fn renames(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(RENAME_TABLES);
    let mut h = rename_harness(&db);
    let caps = h.capabilities().unwrap();
    assert!(caps.object_rename);
    assert_eq!(caps.export_type, ExportType::AttributeUpdate);

    ok(&h
        .export([
            entry::add("Person", "PersonId", "P1")
                .set("UserName", "alice")
                .set_values("Mail", ["a1@x", "a2@x"])
                .dn("CN=alice"),
            entry::add("Person", "PersonId", "P2")
                .set("UserName", "bob")
                .set_values("Mail", ["b1@x"])
                .dn("CN=bob"),
            entry::add("Team", "TeamId", "T1")
                .set("Name", "core")
                .set_values("Member", [r("P1"), r("P2")]),
            entry::add("Room", "RoomId", "R1")
                .set("Name", "blue")
                .set_values("Seat", ["s1", "s2"]),
        ])
        .unwrap());
    let people =
        || db.rows(r#"SELECT "PersonId", "UserName", "Title", "Dn" FROM "People" ORDER BY 1"#);
    let mails = || db.rows(r#"SELECT "PersonId", "Mail" FROM "PersonMails" ORDER BY 1, 2"#);
    assert_eq!(
        people(),
        [
            row(&[Some("P1"), Some("alice"), None, Some("CN=alice")]),
            row(&[Some("P2"), Some("bob"), None, Some("CN=bob")]),
        ]
    );

    // The row and its mails move; the other changes of the entry apply to the renamed object.
    let results = h
        .export([
            new_dn(rename("Person", "PersonId", "P1", "P9"), "CN=alicia")
                .set("Title", "Boss")
                .add_values("Mail", ["a3@x"])
                .remove_values("Mail", ["a1@x"]),
        ])
        .unwrap();
    ok(&results);
    assert_eq!(
        people(),
        [
            row(&[Some("P2"), Some("bob"), None, Some("CN=bob")]),
            row(&[Some("P9"), Some("alice"), Some("Boss"), Some("CN=alicia")]),
        ]
    );
    assert_eq!(
        mails(),
        [
            row(&[Some("P2"), Some("b1@x")]),
            row(&[Some("P9"), Some("a2@x")]),
            row(&[Some("P9"), Some("a3@x")]),
        ],
        "no row stays under the old anchor"
    );

    // A rename onto another object's anchor, and of an object that does not exist.
    let results = h
        .export([
            rename("Person", "PersonId", "P9", "P2").set("Title", "Chief"),
            rename("Person", "PersonId", "P5", "P6"),
        ])
        .unwrap();
    assert_eq!(
        kinds(&results),
        [
            Some(ExportErrorKind::ObjectAlreadyExists),
            Some(ExportErrorKind::NoSuchObject)
        ]
    );
    assert!(
        results[0]
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("new anchor"),
        "{:?}",
        results[0].error
    );
    assert_eq!(
        people()[1][2].as_deref(),
        Some("Boss"),
        "the failed entry changed nothing"
    );
    assert_eq!(mails().len(), 3);

    // A new DN alone: written to the DN column, the anchor stays.
    ok(&h
        .export([new_dn(
            entry::update("Person", "PersonId", "P2"),
            "CN=robert",
        )])
        .unwrap());
    assert_eq!(
        people()[0],
        row(&[Some("P2"), Some("bob"), None, Some("CN=robert")])
    );

    // The DN is the Team's anchor: a new DN renames it. The foreign key cascades the members.
    ok(&h
        .export([new_dn(entry::update("Team", "TeamId", "T1"), "T2")])
        .unwrap());
    assert_eq!(
        db.rows(r#"SELECT "TeamId", "Member" FROM "TeamMembers" ORDER BY 1, 2"#),
        [
            row(&[Some("T2"), Some("P1")]),
            row(&[Some("T2"), Some("P2")])
        ]
    );
    assert_eq!(
        db.rows(r#"SELECT "TeamId" FROM "Teams""#),
        [row(&[Some("T2")])]
    );

    // A foreign key without ON UPDATE CASCADE refuses the move in any order: a clear error,
    // and nothing changed.
    let results = h.export([rename("Room", "RoomId", "R1", "R2")]).unwrap();
    assert_eq!(kinds(&results), [Some(ExportErrorKind::SyntaxViolation)]);
    let message = &results[0].error.as_ref().unwrap().message;
    assert!(
        message.contains("ON UPDATE CASCADE") && message.contains("RoomSeats"),
        "{message}"
    );
    assert_eq!(
        db.rows(r#"SELECT "RoomId", "Seat" FROM "RoomSeats" ORDER BY 2"#),
        [
            row(&[Some("R1"), Some("s1")]),
            row(&[Some("R1"), Some("s2")])
        ]
    );

    // A batch with a failing entry runs again entry by entry: the rename is applied once.
    let results = h
        .export([
            rename("Person", "PersonId", "P2", "P3"),
            entry::add("Person", "PersonId", "P9").set("UserName", "again"),
            entry::update("Person", "PersonId", "P3")
                .identifier("after-rename")
                .add_values("Mail", ["b2@x"]),
        ])
        .unwrap();
    assert_eq!(
        kinds(&results),
        [None, Some(ExportErrorKind::ObjectAlreadyExists), None]
    );
    assert_eq!(
        mails(),
        [
            row(&[Some("P3"), Some("b1@x")]),
            row(&[Some("P3"), Some("b2@x")]),
            row(&[Some("P9"), Some("a2@x")]),
            row(&[Some("P9"), Some("a3@x")]),
        ]
    );

    let import = h.full_import().unwrap();
    let mut anchors = import.anchors();
    anchors.sort();
    assert_eq!(anchors, ["P3", "P9", "R1", "T2"]);
    let p9 = import.find("P9").unwrap();
    assert_eq!(p9.dn, "CN=alicia");
    assert_eq!(values(p9, "Mail"), [&s("a2@x"), &s("a3@x")]);
    assert_eq!(
        values(import.find("T2").unwrap(), "Member"),
        [&r("P1"), &r("P2")]
    );

    // A rename that changes only the case: MariaDB compares without case, so the lookup for
    // a conflict must not find the object itself.
    ok(&h
        .export([rename("Person", "PersonId", "P3", "p3")])
        .unwrap());
    assert_eq!(
        db.rows(
            r#"SELECT "PersonId", "Mail" FROM "PersonMails" WHERE "Mail" LIKE 'b%' ORDER BY 2"#
        ),
        [
            row(&[Some("p3"), Some("b1@x")]),
            row(&[Some("p3"), Some("b2@x")])
        ]
    );
}

const CREW: &str = r#"
CREATE TABLE "Crews" ("CrewId" {int} PRIMARY KEY, "Name" {text});
CREATE TABLE "CrewMembers" ("CrewId" {int} NOT NULL, "Member" {key} NOT NULL, PRIMARY KEY ("CrewId", "Member"));
CREATE TABLE "MemberLog" ("Op" {key} NOT NULL, "Member" {key} NOT NULL);
"#;

/// Triggers that log every row inserted, updated or deleted in `CrewMembers`.
fn log_member_rows(db: &TestDb) {
    db.exec(match db.kind.server() {
        Server::Postgres => {
            r#"
CREATE FUNCTION "log_member"() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN INSERT INTO "MemberLog" VALUES ('D', OLD."Member");
    ELSIF TG_OP = 'INSERT' THEN INSERT INTO "MemberLog" VALUES ('I', NEW."Member");
    ELSE INSERT INTO "MemberLog" VALUES ('U', NEW."Member");
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER "log_member" AFTER INSERT OR UPDATE OR DELETE ON "CrewMembers"
    FOR EACH ROW EXECUTE FUNCTION "log_member"();
"#
        }
        Server::MySql => {
            r#"
CREATE TRIGGER "log_member_i" AFTER INSERT ON "CrewMembers" FOR EACH ROW INSERT INTO "MemberLog" VALUES ('I', NEW."Member");
CREATE TRIGGER "log_member_u" AFTER UPDATE ON "CrewMembers" FOR EACH ROW INSERT INTO "MemberLog" VALUES ('U', NEW."Member");
CREATE TRIGGER "log_member_d" AFTER DELETE ON "CrewMembers" FOR EACH ROW INSERT INTO "MemberLog" VALUES ('D', OLD."Member");
"#
        }
        Server::Sqlite => {
            r#"
CREATE TRIGGER "log_member_i" AFTER INSERT ON "CrewMembers" BEGIN INSERT INTO "MemberLog" VALUES ('I', NEW."Member"); END;
CREATE TRIGGER "log_member_u" AFTER UPDATE ON "CrewMembers" BEGIN INSERT INTO "MemberLog" VALUES ('U', NEW."Member"); END;
CREATE TRIGGER "log_member_d" AFTER DELETE ON "CrewMembers" BEGIN INSERT INTO "MemberLog" VALUES ('D', OLD."Member"); END;
"#
        }
    });
}

/// Value-level changes on a group of several thousand members: one member added and one
/// removed touch exactly those two rows (triggers log every row written), and a single-valued
/// change in the same entry applies too.
pub fn value_level_members(kind: Kind) {
    const SIZE: usize = 5000;
    let db = TestDb::new(kind);
    db.exec(CREW);
    let mut h = db.harness();
    h.answer("object_types", "Crew")
        .answer("Crew:table", "Crews")
        .answer("Crew:multivalued_tables", "CrewMembers")
        .answer("Crew:Member:type", "Reference");
    configure(&mut h);
    assert_eq!(
        h.capabilities().unwrap().export_type,
        ExportType::AttributeUpdate
    );
    let member = |i: usize| format!("M{i:05}");
    ok(&h
        .export([entry::add("Crew", "CrewId", 1i64)
            .set("Name", "big")
            .set_values("Member", (1..=SIZE).map(|i| r(&member(i))))])
        .unwrap());
    assert_eq!(db.count("CrewMembers"), SIZE);
    log_member_rows(&db);

    let mut session = h.open_export().unwrap();
    let started = Instant::now();
    ok(&session
        .put([entry::update("Crew", "CrewId", 1i64)
            .add_values("Member", [r(&member(SIZE + 1))])
            .remove_values("Member", [r(&member(1))])
            .set("Name", "bigger")])
        .unwrap());
    eprintln!(
        "{kind:?}: one member added and one removed in a group of {SIZE}: {:?} (one batch)",
        started.elapsed()
    );
    session.close().unwrap();
    assert_eq!(db.count("CrewMembers"), SIZE);
    let member_row = |m: &str| {
        db.rows(&format!(
            r#"SELECT "Member" FROM "CrewMembers" WHERE "Member" = '{m}'"#
        ))
    };
    assert!(member_row(&member(1)).is_empty());
    assert_eq!(member_row(&member(SIZE + 1)).len(), 1);
    assert_eq!(
        db.rows(r#"SELECT "Op", "Member" FROM "MemberLog" ORDER BY 1, 2"#),
        [
            row(&[Some("D"), Some(member(1).as_str())]),
            row(&[Some("I"), Some(member(SIZE + 1).as_str())]),
        ],
        "only the changed rows were written"
    );
    assert_eq!(
        db.value(r#"SELECT "Name" FROM "Crews""#).as_deref(),
        Some("bigger")
    );

    // Removing an absent member and clearing a single-valued attribute write no member row.
    ok(&h
        .export([entry::update("Crew", "CrewId", 1i64)
            .remove_values("Member", [r("nobody")])
            .clear("Name")])
        .unwrap());
    assert_eq!(db.count("MemberLog"), 2);
    assert_eq!(db.value(r#"SELECT "Name" FROM "Crews""#), None);
}

const TOKENS: &str = r#"
CREATE TABLE "Tokens" ("TokenId" {bin16} NOT NULL PRIMARY KEY, "Label" {text});
CREATE TABLE "TokenScopes" ("TokenId" {bin16} NOT NULL, "Scope" {key} NOT NULL, PRIMARY KEY ("TokenId", "Scope"));
"#;

/// `(hex of the key, other column)` of every row of `table`, in key order.
fn hex_rows(db: &TestDb, table: &str, key: &str, other: &str) -> Rows {
    let hex = match db.kind.server() {
        Server::Postgres => format!("encode(\"{key}\", 'hex')"),
        _ => format!("LOWER(HEX(\"{key}\"))"),
    };
    db.rows(&format!(
        "SELECT {hex}, \"{other}\" FROM \"{table}\" ORDER BY 1, 2"
    ))
}

/// A binary anchor (BLOB, bytea, VARBINARY) round-trips: adds, import reports `Value::Binary`
/// anchors with the child rows keyed by them, and updates, renames and deletes find the row
/// by its bytes.
pub fn binary_anchors(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(TOKENS);
    let mut h = db.harness();
    h.answer("object_types", "Token")
        .answer("Token:table", "Tokens")
        .answer("Token:multivalued_tables", "TokenScopes");
    configure(&mut h);
    let schema = h.schema().unwrap();
    let token = schema.object_type("Token").unwrap();
    assert_eq!(token.anchor, ["TokenId"]);
    assert_eq!(
        token.attribute("TokenId").unwrap().attribute_type,
        AttributeType::Binary
    );

    let a = vec![0u8, 1, 2];
    let b = vec![0xffu8, 0, 0x7f];
    ok(&h
        .export([
            entry::add("Token", "TokenId", a.clone())
                .identifier("a")
                .set("Label", "first")
                .set_values("Scope", ["read", "write"]),
            entry::add("Token", "TokenId", b.clone())
                .identifier("b")
                .set("Label", "second"),
        ])
        .unwrap());
    assert_eq!(
        hex_rows(&db, "Tokens", "TokenId", "Label"),
        [
            row(&[Some("000102"), Some("first")]),
            row(&[Some("ff007f"), Some("second")]),
        ]
    );

    let import = h.full_import().unwrap();
    let by_anchor = |bytes: &[u8]| {
        import
            .entries
            .iter()
            .find(|e| e.anchor_value("TokenId") == Some(&Value::Binary(bytes.to_vec())))
            .unwrap()
            .clone()
    };
    let first = by_anchor(&a);
    assert_eq!(first.identifier, "000102");
    assert_eq!(values(&first, "Scope"), [&s("read"), &s("write")]);
    assert!(by_anchor(&b).change("Scope").is_none());

    let renamed = vec![9u8, 9];
    ok(&h
        .export([
            entry::update("Token", "TokenId", a.clone())
                .identifier("update")
                .set("Label", "First")
                .remove_values("Scope", ["write"]),
            entry::update("Token", "TokenId", a.clone())
                .identifier("rename")
                .set("TokenId", renamed.clone()),
        ])
        .unwrap());
    assert_eq!(
        hex_rows(&db, "Tokens", "TokenId", "Label"),
        [
            row(&[Some("0909"), Some("First")]),
            row(&[Some("ff007f"), Some("second")]),
        ]
    );
    assert_eq!(
        hex_rows(&db, "TokenScopes", "TokenId", "Scope"),
        [row(&[Some("0909"), Some("read")])]
    );

    let results = h
        .export([
            entry::delete("Token", "TokenId", renamed).identifier("delete"),
            entry::delete("Token", "TokenId", a).identifier("gone"),
        ])
        .unwrap();
    assert_eq!(kinds(&results), [None, Some(ExportErrorKind::NoSuchObject)]);
    assert_eq!(db.count("TokenScopes"), 0);
    assert_eq!(
        hex_rows(&db, "Tokens", "TokenId", "Label"),
        [row(&[Some("ff007f"), Some("second")])]
    );

    // Snapshot deltas report a vanished binary anchor as its bytes; change tracking, which
    // records anchors as text, is refused.
    let mut h = db.harness();
    h.answer("object_types", "Token")
        .answer("Token:table", "Tokens")
        .answer("Token:multivalued_tables", "TokenScopes")
        .answer("delta_strategy", "Snapshot");
    configure(&mut h);
    let watermark = h.full_import().unwrap().watermark;
    ok(&h
        .export([entry::delete("Token", "TokenId", b.clone())])
        .unwrap());
    let delta = h.delta_import(&watermark).unwrap();
    assert_eq!(delta.entries.len(), 1);
    assert_eq!(delta.entries[0].modification, ObjectModification::Delete);
    assert_eq!(
        delta.entries[0].anchor_value("TokenId"),
        Some(&Value::Binary(b))
    );
    h.answer("delta_strategy", "Change tracking")
        .answer("create_change_tracking", "true");
    let issues = h.page(ConfigPage::RunStep).unwrap().issues;
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].parameter, "delta_strategy");
    assert!(
        issues[0].message.contains("binary"),
        "{}",
        issues[0].message
    );
}

const ACCOUNTS: &str = r#"
CREATE TABLE "Accounts" ("Tenant" {key} NOT NULL, "Login" {key} NOT NULL, "Name" {text}, PRIMARY KEY ("Tenant", "Login"));
CREATE TABLE "AccountTags" ("Tenant" {key} NOT NULL, "Login" {key} NOT NULL, "Tag" {key} NOT NULL,
    PRIMARY KEY ("Tenant", "Login", "Tag"));
"#;

/// An entry for the account `(tenant, login)`.
fn account(modification: ObjectModification, tenant: &str, login: &str) -> CsEntryChange {
    let builder = match modification {
        ObjectModification::Add => entry::add,
        ObjectModification::Replace => entry::replace,
        ObjectModification::Update => entry::update,
        ObjectModification::Delete => entry::delete,
    };
    let mut entry = builder("Account", "Tenant", tenant)
        .identifier(&format!("{tenant}/{login}"))
        .build();
    entry.anchor.push(AnchorAttribute {
        name: "Login".into(),
        value: s(login),
    });
    entry
}

fn with(mut entry: CsEntryChange, change: AttributeChange) -> CsEntryChange {
    entry.changes.push(change);
    entry
}

fn replace(name: &str, value: &str) -> AttributeChange {
    AttributeChange::set(name, AttributeModification::Replace, vec![s(value)])
}

/// A two-column anchor (`Tenant,Login`): the schema reports both columns, import reports both
/// components, adds, updates, renames and deletes identify rows by both, and a child table
/// keyed by two columns holds a multi-valued attribute.
pub fn two_column_anchors(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(ACCOUNTS);
    let mut h = db.harness();
    h.answer("object_types", "Account")
        .answer("Account:table", "Accounts")
        .answer("Account:anchor", "Tenant, Login")
        .answer("Account:multivalued_tables", "AccountTags");
    configure(&mut h);
    assert_eq!(
        h.parameters().get("Account:AccountTags:key_column"),
        Some("Tenant,Login"),
        "the key columns named like the anchor columns are the default"
    );
    assert_eq!(
        h.schema().unwrap().object_type("Account").unwrap().anchor,
        ["Tenant", "Login"]
    );

    let add = |tenant, login, name| {
        with(
            account(ObjectModification::Add, tenant, login),
            AttributeChange::set("Name", AttributeModification::Add, vec![s(name)]),
        )
    };
    let tags = |values: &[&str]| {
        AttributeChange::set(
            "Tag",
            AttributeModification::Add,
            values.iter().map(|v| s(v)).collect(),
        )
    };
    ok(&h
        .export([
            with(add("t1", "ann", "Ann One"), tags(&["red", "blue"])),
            with(add("t2", "ann", "Ann Two"), tags(&["red"])),
            add("t1", "bob", "Bob"),
        ])
        .unwrap());
    let accounts = || db.rows(r#"SELECT "Tenant", "Login", "Name" FROM "Accounts" ORDER BY 1, 2"#);
    let tag_rows =
        || db.rows(r#"SELECT "Tenant", "Login", "Tag" FROM "AccountTags" ORDER BY 1, 2, 3"#);
    assert_eq!(accounts().len(), 3);
    assert_eq!(tag_rows().len(), 3);

    let import = h.full_import().unwrap();
    let mut anchors = import.anchors();
    anchors.sort();
    assert_eq!(anchors, ["t1+ann", "t1+bob", "t2+ann"]);
    let ann = import.find("t2+ann").unwrap();
    assert_eq!(
        ann.anchor,
        [
            AnchorAttribute {
                name: "Tenant".into(),
                value: s("t2")
            },
            AnchorAttribute {
                name: "Login".into(),
                value: s("ann")
            },
        ]
    );
    assert_eq!(ann.identifier, "t2+ann");
    assert_eq!(values(ann, "Tag"), [&s("red")]);
    assert_eq!(
        values(import.find("t1+ann").unwrap(), "Tag"),
        [&s("blue"), &s("red")],
        "child rows are matched by both key columns"
    );
    assert!(import.find("t1+bob").unwrap().change("Tag").is_none());

    let results = h
        .export([
            with(
                account(ObjectModification::Update, "t2", "ann"),
                replace("Name", "Ann Deux"),
            ),
            with(
                with(
                    account(ObjectModification::Update, "t1", "bob"),
                    replace("Login", "robert"),
                ),
                tags(&["green"]),
            ),
            // Onto an existing account: refused.
            with(
                account(ObjectModification::Update, "t1", "ann"),
                replace("Login", "robert"),
            ),
            with(
                account(ObjectModification::Update, "t3", "ann"),
                replace("Name", "nobody"),
            ),
        ])
        .unwrap();
    assert_eq!(
        kinds(&results),
        [
            None,
            None,
            Some(ExportErrorKind::ObjectAlreadyExists),
            Some(ExportErrorKind::NoSuchObject)
        ]
    );
    assert_eq!(
        accounts(),
        [
            row(&[Some("t1"), Some("ann"), Some("Ann One")]),
            row(&[Some("t1"), Some("robert"), Some("Bob")]),
            row(&[Some("t2"), Some("ann"), Some("Ann Deux")]),
        ]
    );
    assert_eq!(
        tag_rows(),
        [
            row(&[Some("t1"), Some("ann"), Some("blue")]),
            row(&[Some("t1"), Some("ann"), Some("red")]),
            row(&[Some("t1"), Some("robert"), Some("green")]),
            row(&[Some("t2"), Some("ann"), Some("red")]),
        ]
    );
    let mut remove_red = account(ObjectModification::Update, "t1", "ann");
    remove_red.changes.push(AttributeChange {
        name: "Tag".into(),
        modification: AttributeModification::Update,
        values: vec![ValueChange {
            modification: ValueModification::Delete,
            value: s("red"),
        }],
    });
    ok(&h.export([remove_red]).unwrap());
    assert_eq!(
        tag_rows()[..2],
        [
            row(&[Some("t1"), Some("ann"), Some("blue")]),
            row(&[Some("t1"), Some("robert"), Some("green")]),
        ],
        "only t1/ann's red went; t2/ann's stays"
    );
    assert_eq!(tag_rows().len(), 3);

    let mut half = account(ObjectModification::Delete, "t1", "ann");
    half.anchor.pop();
    half.identifier = "half".into();
    let results = h
        .export([account(ObjectModification::Delete, "t1", "ann"), half])
        .unwrap();
    assert_eq!(
        kinds(&results),
        [None, Some(ExportErrorKind::MissingAnchorComponent)]
    );
    assert!(results[1]
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("'Login'"));
    assert_eq!(
        accounts(),
        [
            row(&[Some("t1"), Some("robert"), Some("Bob")]),
            row(&[Some("t2"), Some("ann"), Some("Ann Deux")]),
        ]
    );
    assert_eq!(
        tag_rows(),
        [
            row(&[Some("t1"), Some("robert"), Some("green")]),
            row(&[Some("t2"), Some("ann"), Some("red")]),
        ]
    );

    // A page of hundreds of accounts reads its tags by both key columns in a few queries.
    const MANY: usize = 1200;
    let many: Vec<CsEntryChange> = (0..MANY)
        .map(|i| {
            with(
                account(ObjectModification::Add, "t9", &format!("u{i:04}")),
                tags(&[&format!("tag{}", i % 7)]),
            )
        })
        .collect();
    ok(&h.export(many).unwrap());
    // Pages bigger than the key lists a query takes.
    let mut h = h.with_import_page_size(2000);
    let import = h.full_import().unwrap();
    assert_eq!(import.entries.len(), MANY + 2);
    let tagged = import
        .entries
        .iter()
        .filter(|e| e.change("Tag").is_some())
        .count();
    assert_eq!(tagged, MANY + 2);
    assert_eq!(
        values(import.find("t9+u0010").unwrap(), "Tag"),
        [&s("tag3")]
    );
}

/// The issues of the Schema 3 page for these anchor answers, as `(parameter, message)`.
fn anchor_issues(db: &TestDb, answers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = db.harness();
    h.answer("object_types", "Account")
        .answer("Account:table", "Accounts");
    for (name, value) in answers {
        h.answer(name, *value);
    }
    h.page(ConfigPage::Schema(3))
        .unwrap()
        .issues
        .into_iter()
        .map(|i| (i.parameter, i.message))
        .collect()
}

/// The anchor parameter's syntax and validation: each component must be a single-valued
/// column, listed once, and a multi-column anchor can key no child table and no change-tracking
/// or snapshot delta. Every message names the parameter and the column.
pub fn anchor_validation(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(ACCOUNTS);
    let mut h = db.harness();
    h.answer("object_types", "Account")
        .answer("Account:table", "Accounts");
    let page = h.page(ConfigPage::Schema(3)).unwrap();
    let anchor = page.definition("Account:anchor").unwrap();
    assert!(
        anchor.description.contains("commas"),
        "{}",
        anchor.description
    );
    assert!(matches!(
        anchor.kind,
        ParameterKind::DropDown {
            extensible: true,
            ..
        }
    ));

    assert!(anchor_issues(&db, &[("Account:anchor", "Tenant,Login")]).is_empty());
    let only = |issues: Vec<(String, String)>| {
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].0, "Account:anchor");
        issues[0].1.clone()
    };
    let message = only(anchor_issues(&db, &[("Account:anchor", "Tenant,Nope")]));
    assert!(
        message.contains("'Nope'") && message.contains("commas"),
        "{message}"
    );
    let message = only(anchor_issues(&db, &[("Account:anchor", "Tenant,Tenant")]));
    assert!(
        message.contains("'Tenant'") && message.contains("twice"),
        "{message}"
    );
    let tags = [
        ("Account:multivalued_tables", "AccountTags"),
        ("Account:AccountTags:key_column", "Tenant,Login"),
        ("Account:AccountTags:value_column", "Tag"),
    ];
    let message = only(anchor_issues(
        &db,
        &[tags[0], tags[1], tags[2], ("Account:anchor", "Tenant,Tag")],
    ));
    assert!(
        message.contains("'Tag' is a multi-valued attribute") && message.contains("AccountTags"),
        "{message}"
    );
    assert!(anchor_issues(&db, &[tags[0], tags[2], ("Account:anchor", "Tenant,Login")]).is_empty());
    // A child table keyed by one column, for an anchor of two.
    let issues = anchor_issues(
        &db,
        &[
            tags[0],
            ("Account:AccountTags:key_column", "Tenant"),
            tags[2],
            ("Account:anchor", "Tenant,Login"),
        ],
    );
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].0, "Account:AccountTags:key_column");
    assert!(
        issues[0].1.contains("Tenant, Login") && issues[0].1.contains("commas"),
        "{}",
        issues[0].1
    );

    // Change tracking records one anchor column per object.
    h.answer("Account:anchor", "Tenant,Login")
        .answer("delta_strategy", "Change tracking")
        .answer("create_change_tracking", "true");
    let issues = h.page(ConfigPage::RunStep).unwrap().issues;
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].parameter, "delta_strategy");
    assert!(
        issues[0].message.contains("Account:anchor"),
        "{}",
        issues[0].message
    );
}

/// Configured statements rename through `@new_anchor` and `@new_dn`; the connector still moves
/// the child rows. An update statement that takes neither cannot rename: the capability is not
/// declared, and a rename sent anyway is refused, naming the parameter.
pub fn custom_renames(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(RENAME_TABLES);
    let q = |name: &str| db.q(name);
    let harness = |update: String| {
        let mut h = db.harness();
        h.answer("object_types", "Person")
            .answer("Person:table", "People")
            .answer("Person:multivalued_tables", "PersonMails")
            .answer("Person:dn", "Dn")
            .answer("Person:dn_is_anchor", "false")
            .answer("Person:export_method", "SQL query")
            .answer(
                "Person:export_add",
                format!(
                    "INSERT INTO {} ({}, {}, {}) VALUES (@anchor, @UserName, @dn)",
                    q("People"),
                    q("PersonId"),
                    q("UserName"),
                    q("Dn")
                ),
            )
            .answer("Person:export_update", update);
        configure(&mut h);
        h
    };
    let mut h = harness(format!(
        "UPDATE {} SET {} = @new_anchor, {} = @Title, {} = @new_dn WHERE {} = @anchor",
        q("People"),
        q("PersonId"),
        q("Title"),
        q("Dn"),
        q("PersonId")
    ));
    let caps = h.capabilities().unwrap();
    assert_eq!(caps.export_type, ExportType::ObjectReplace);
    assert!(caps.object_rename);
    ok(&h
        .export([entry::add("Person", "PersonId", "P1")
            .set("UserName", "alice")
            .set_values("Mail", ["a@x"])
            .dn("CN=alice")])
        .unwrap());
    ok(&h
        .export([
            new_dn(rename("Person", "PersonId", "P1", "P7"), "CN=alicia")
                .set("UserName", "alice")
                .set("Title", "Boss"),
        ])
        .unwrap());
    assert_eq!(
        db.rows(r#"SELECT "PersonId", "Title", "Dn" FROM "People""#),
        [row(&[Some("P7"), Some("Boss"), Some("CN=alicia")])]
    );
    assert_eq!(
        db.rows(r#"SELECT "PersonId", "Mail" FROM "PersonMails""#),
        [row(&[Some("P7"), Some("a@x")])]
    );

    let mut h = harness(format!(
        "UPDATE {} SET {} = @Title WHERE {} = @PersonId",
        q("People"),
        q("Title"),
        q("PersonId")
    ));
    assert!(!h.capabilities().unwrap().object_rename);
    let results = h
        .export([rename("Person", "PersonId", "P7", "P8")])
        .unwrap();
    assert_eq!(kinds(&results), [Some(ExportErrorKind::SyntaxViolation)]);
    let message = &results[0].error.as_ref().unwrap().message;
    assert!(
        message.contains("Person:export_update") && message.contains("@new_anchor"),
        "{message}"
    );
    assert_eq!(
        db.value(r#"SELECT "PersonId" FROM "People""#).as_deref(),
        Some("P7")
    );

    // The DN has a column: a statement must take @new_dn too.
    let mut h = harness(format!(
        "UPDATE {} SET {} = @new_anchor WHERE {} = @anchor",
        q("People"),
        q("PersonId"),
        q("PersonId")
    ));
    assert!(!h.capabilities().unwrap().object_rename);
    let results = h
        .export([new_dn(entry::update("Person", "PersonId", "P7"), "CN=x")])
        .unwrap();
    assert_eq!(kinds(&results), [Some(ExportErrorKind::SyntaxViolation)]);
    let message = &results[0].error.as_ref().unwrap().message;
    assert!(message.contains("@new_dn"), "{message}");
    ok(&h
        .export([rename("Person", "PersonId", "P7", "P8")])
        .unwrap());
    assert_eq!(
        db.rows(r#"SELECT "PersonId", "Mail" FROM "PersonMails""#),
        [row(&[Some("P8"), Some("a@x")])]
    );
}
