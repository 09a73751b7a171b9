//! The scenarios, each written once and run against every backend by `main.rs`: wizard pages,
//! schema, export (tables, child tables, references, assigned keys, error mapping, injection),
//! import paging, views, queries and procedures, object type detection, the three delta
//! strategies, passwords, connection failures and TLS.

use ecma_plugin_api::*;
use ecma_plugin_testkit::entry::{self, values};
use ecma_plugin_testkit::ConnectorHarness;

use crate::support::{Kind, Server, TestDb};

pub(crate) fn ok(results: &[ExportResult]) {
    for r in results {
        assert!(r.error.is_none(), "{} failed: {:?}", r.identifier, r.error);
    }
}

pub(crate) fn kinds(results: &[ExportResult]) -> Vec<Option<ExportErrorKind>> {
    results
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.kind))
        .collect()
}

pub(crate) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

pub(crate) fn r(v: &str) -> Value {
    Value::Reference(v.to_string())
}

pub(crate) fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
    cells.iter().map(|c| c.map(str::to_string)).collect()
}

pub(crate) fn configure(h: &mut ConnectorHarness) {
    if let Err(e) = h.configure() {
        panic!("{e}");
    }
}

/// `(identifier, modification)` of every entry, sorted.
fn changes(entries: &[CsEntryChange]) -> Vec<(String, ObjectModification)> {
    let mut out: Vec<_> = entries
        .iter()
        .map(|e| (e.identifier.clone(), e.modification))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn hex_of(db: &TestDb, table: &str, column: &str, id_column: &str, id: &str) -> Option<String> {
    let function = match db.kind.server() {
        Server::Postgres => format!("encode(\"{column}\", 'hex')"),
        _ => format!("HEX(\"{column}\")"),
    };
    db.value(&format!(
        "SELECT {function} FROM \"{table}\" WHERE \"{id_column}\" = '{id}'"
    ))
    .map(|h| h.to_ascii_lowercase())
}

const LIFECYCLE: &str = r#"
CREATE TABLE "Employees" (
    "EmployeeId" {key} PRIMARY KEY,
    "UserName" {key} NOT NULL UNIQUE,
    "FirstName" {text},
    "IsActive" {bool} NOT NULL DEFAULT {true},
    "Age" {int},
    "Photo" {blob},
    "Manager" {key},
    "odd ""name""; --" {text}
);
CREATE TABLE "EmployeeMails" ("EmployeeId" {key} NOT NULL, "Mail" {key} NOT NULL, PRIMARY KEY ("EmployeeId", "Mail"));
CREATE TABLE "Groups" ("GroupId" {serial}, "Name" {key} NOT NULL UNIQUE);
CREATE TABLE "GroupMembers" ("GroupId" {int} NOT NULL, "Member" {key} NOT NULL, PRIMARY KEY ("GroupId", "Member"));
"#;

const ODD: &str = "odd \"name\"; --";

/// The [`LIFECYCLE`] tables as object types: `User` (mails in a child table, a manager
/// reference) and `Group` (a key the database assigns, members in a child table).
fn lifecycle_harness(db: &TestDb) -> ConnectorHarness {
    let mut h = db.harness();
    h.answer("object_types", "User,Group")
        .answer("User:table", "Employees")
        .answer("User:multivalued_tables", "EmployeeMails")
        .answer("User:Manager:type", "Reference")
        .answer("Group:table", "Groups")
        .answer("Group:multivalued_tables", "GroupMembers")
        .answer("Group:Member:type", "Reference");
    configure(&mut h);
    h
}

/// Tables as object types, a child table per multi-valued attribute, references, an identity
/// key, every export modification, error mapping, injection payloads and a full import.
pub fn table_lifecycle(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(LIFECYCLE);
    let mut h = lifecycle_harness(&db);
    h.test_connection().unwrap();

    let schema = h.schema().unwrap();
    let user = schema.object_type("User").unwrap();
    assert_eq!(user.anchor, ["EmployeeId"]);
    let attribute = |t: &ObjectTypeSchema, name: &str| t.attribute(name).unwrap().clone();
    assert!(attribute(user, "Mail").multi_valued);
    assert_eq!(
        attribute(user, "Manager").attribute_type,
        AttributeType::Reference
    );
    assert_eq!(
        attribute(user, "IsActive").attribute_type,
        AttributeType::Boolean
    );
    assert_eq!(
        attribute(user, "Age").attribute_type,
        AttributeType::Integer
    );
    assert_eq!(
        attribute(user, "Photo").attribute_type,
        AttributeType::Binary
    );
    assert!(!attribute(user, ODD).multi_valued);
    let group = schema.object_type("Group").unwrap();
    assert_eq!(group.anchor, ["GroupId"]);
    assert_eq!(
        attribute(group, "GroupId").attribute_type,
        AttributeType::Integer
    );
    let member = attribute(group, "Member");
    assert!(member.multi_valued && member.attribute_type == AttributeType::Reference);

    let payload = "x'); DROP TABLE \"Employees\"; --";
    let results = h
        .export([
            entry::add("User", "EmployeeId", "E1")
                .set("UserName", "alice")
                .set("FirstName", "Alice")
                .set("IsActive", true)
                .set("Age", 41i64)
                .set("Photo", vec![0u8, 1, 2])
                .set_values("Mail", ["a@x.example", "b@x.example"])
                .set(ODD, payload),
            entry::add("User", "EmployeeId", "E2")
                .set("UserName", "bob")
                .set("IsActive", "False")
                .set("Manager", r("E1"))
                .set_values("Mail", ["z@x.example"]),
        ])
        .unwrap();
    ok(&results);
    assert_eq!(
        db.rows(r#"SELECT "EmployeeId", "UserName", "FirstName", "IsActive", "Age", "Manager", "odd ""name""; --" FROM "Employees" ORDER BY "EmployeeId""#),
        [
            row(&[Some("E1"), Some("alice"), Some("Alice"), Some("1"), Some("41"), None, Some(payload)]),
            row(&[Some("E2"), Some("bob"), None, Some("0"), None, Some("E1"), None]),
        ]
    );
    assert_eq!(
        hex_of(&db, "Employees", "Photo", "EmployeeId", "E1").as_deref(),
        Some("000102")
    );
    let mails = || db.rows(r#"SELECT "EmployeeId", "Mail" FROM "EmployeeMails" ORDER BY 1, 2"#);
    assert_eq!(
        mails(),
        [
            row(&[Some("E1"), Some("a@x.example")]),
            row(&[Some("E1"), Some("b@x.example")]),
            row(&[Some("E2"), Some("z@x.example")]),
        ]
    );

    // A group whose key the database assigns, with members written under that key.
    let new_group = CsEntryChange {
        identifier: "new-group".into(),
        object_type: "Group".into(),
        dn: String::new(),
        modification: ObjectModification::Add,
        anchor: Vec::new(),
        changes: vec![
            AttributeChange::set("Name", AttributeModification::Add, vec![s("admins")]),
            AttributeChange::set("Member", AttributeModification::Add, vec![r("E1"), r("E2")]),
        ],
    };
    let results = h.export([new_group.clone()]).unwrap();
    if kind == Kind::OdbcAnsi {
        // Plain ODBC has no portable way to read an assigned key back: the entry is refused
        // and nothing stays.
        assert_eq!(
            kinds(&results),
            [Some(ExportErrorKind::MissingAnchorComponent)]
        );
        assert_eq!(db.count("Groups"), 0);
        let with_key = CsEntryChange {
            anchor: vec![AnchorAttribute {
                name: "GroupId".into(),
                value: Value::Integer(1),
            }],
            ..new_group
        };
        ok(&h.export([with_key]).unwrap());
    } else {
        ok(&results);
        assert_eq!(
            results[0].anchor,
            [AnchorAttribute {
                name: "GroupId".into(),
                value: Value::Integer(1)
            }]
        );
    }
    assert_eq!(
        db.rows(r#"SELECT "GroupId", "Member" FROM "GroupMembers" ORDER BY 2"#),
        [row(&[Some("1"), Some("E1")]), row(&[Some("1"), Some("E2")])]
    );

    let results = h
        .export([
            entry::update("User", "EmployeeId", "E1")
                .set("FirstName", "Alicia")
                .remove_values("Mail", ["a@x.example"])
                .add_values("Mail", ["c@x.example", "b@x.example"])
                .clear("Manager"),
            entry::replace("User", "EmployeeId", "E2")
                .set_values("Mail", ["y@x.example"])
                .clear("Manager"),
            entry::update("Group", "GroupId", 1i64).remove_values("Member", [r("E2")]),
        ])
        .unwrap();
    ok(&results);
    assert_eq!(
        db.value(r#"SELECT "FirstName" FROM "Employees" WHERE "EmployeeId" = 'E1'"#)
            .as_deref(),
        Some("Alicia")
    );
    assert_eq!(
        db.value(r#"SELECT "Manager" FROM "Employees" WHERE "EmployeeId" = 'E2'"#),
        None
    );
    assert_eq!(
        mails(),
        [
            row(&[Some("E1"), Some("b@x.example")]),
            row(&[Some("E1"), Some("c@x.example")]),
            row(&[Some("E2"), Some("y@x.example")]),
        ]
    );
    assert_eq!(db.count("GroupMembers"), 1);

    let import = h.full_import().unwrap();
    assert_eq!(import.watermark, "");
    assert_eq!(import.entries.len(), 3);
    let e1 = import.find("E1").unwrap();
    assert_eq!(e1.modification, ObjectModification::Add);
    assert_eq!(values(e1, "Mail"), [&s("b@x.example"), &s("c@x.example")]);
    assert_eq!(values(e1, "Photo"), [&Value::Binary(vec![0, 1, 2])]);
    assert_eq!(values(e1, "IsActive"), [&Value::Boolean(true)]);
    assert_eq!(values(e1, "Age"), [&Value::Integer(41)]);
    assert_eq!(values(e1, ODD), [&s(payload)]);
    let e2 = import.find("E2").unwrap();
    assert!(e2.change("Manager").is_none(), "NULL columns are left out");
    assert_eq!(values(e2, "IsActive"), [&Value::Boolean(false)]);
    let g = import.find("1").unwrap();
    assert_eq!(g.anchor[0].value, Value::Integer(1));
    assert_eq!(values(g, "Member"), [&r("E1")]);

    // One batch, one transaction, a result per entry; failures undo only themselves.
    let evil = "FirstName\" = 'x'; DROP TABLE \"Employees\"; --";
    let results = h
        .export([
            entry::add("User", "EmployeeId", "E1").set("UserName", "other"),
            entry::add("User", "EmployeeId", "E3").set("UserName", "alice"),
            entry::add("User", "EmployeeId", "E4").set("FirstName", "nobody"),
            entry::update("User", "EmployeeId", "E9").set("FirstName", "x"),
            entry::delete("User", "EmployeeId", "E9"),
            entry::add("User", "EmployeeId", "E5")
                .set("UserName", "carol")
                .set("IsActive", "maybe"),
            entry::add("User", "EmployeeId", "E6")
                .set("UserName", "dave")
                .set(evil, "x"),
            entry::add("User", "EmployeeId", "E7")
                .set("UserName", "erin")
                .set_values("Mail", ["e@x.example"]),
            entry::add("User", "EmployeeId", "E8")
                .set("UserName", "frank")
                .set_values("Mail", ["f@x.example"])
                .set("Age", "forty"),
        ])
        .unwrap();
    use ExportErrorKind::*;
    assert_eq!(
        kinds(&results),
        [
            Some(ObjectAlreadyExists),
            Some(ObjectAlreadyExists),
            Some(SyntaxViolation),
            Some(NoSuchObject),
            Some(NoSuchObject),
            Some(SyntaxViolation),
            Some(SyntaxViolation),
            None,
            Some(SyntaxViolation),
        ]
    );
    let not_null = &results[2].error.as_ref().unwrap().message;
    assert!(
        not_null.contains("UserName"),
        "the database's message: {not_null}"
    );
    assert!(results[6]
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("DROP TABLE"));
    assert_eq!(
        db.rows(r#"SELECT "EmployeeId" FROM "Employees" ORDER BY 1"#),
        [row(&[Some("E1")]), row(&[Some("E2")]), row(&[Some("E7")])]
    );
    assert_eq!(
        db.rows(r#"SELECT "Mail" FROM "EmployeeMails" WHERE "EmployeeId" IN ('E7', 'E8')"#),
        [row(&[Some("e@x.example")])]
    );

    ok(&h
        .export([
            entry::delete("User", "EmployeeId", "E2"),
            entry::delete("Group", "GroupId", 1i64),
        ])
        .unwrap());
    assert_eq!(db.count("Groups") + db.count("GroupMembers"), 0);
    assert_eq!(
        db.rows(r#"SELECT "EmployeeId" FROM "EmployeeMails" WHERE "EmployeeId" = 'E2'"#),
        Vec::<Vec<Option<String>>>::new()
    );
    assert_eq!(db.count("Employees"), 2);
}

/// A batch of new objects goes as multi-row INSERTs (one per table and column set) and every
/// entry still gets its own result: N adds make N rows and N results, a duplicate fails alone,
/// and keys the database assigns come back to their own entries, with their child rows under
/// them. On PostgreSQL and MariaDB a `Stamp` column defaults to the statement's start time, so
/// its distinct values count the statements that inserted the rows.
pub fn batched_adds(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(LIFECYCLE);
    let stamp = match kind.server() {
        Server::Postgres => Some("TIMESTAMPTZ DEFAULT statement_timestamp()"),
        Server::MySql => Some("DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)"),
        Server::Sqlite => None,
    };
    if let Some(stamp) = stamp {
        db.exec(&format!(
            r#"ALTER TABLE "Employees" ADD COLUMN "Stamp" {stamp}; ALTER TABLE "Groups" ADD COLUMN "Stamp" {stamp};"#
        ));
    }
    let statements = |table: &str| {
        stamp.map(|_| {
            db.value(&format!(r#"SELECT COUNT(DISTINCT "Stamp") FROM "{table}""#))
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
    };
    let mut h = lifecycle_harness(&db);

    // Forty adds in two column sets, interleaved; half with two mails each.
    let user = |i: usize| {
        let id = format!("u{i:02}");
        let e = entry::add("User", "EmployeeId", id.as_str()).set("UserName", format!("{id}-name"));
        if i % 2 == 0 {
            e.set(
                "FirstName",
                format!("x'); DROP TABLE \"Employees\"; -- {i}"),
            )
            .set_values("Mail", [format!("{id}.1@x"), format!("{id}.2@x")])
        } else {
            e
        }
    };
    let results = h.export((0..40).map(user)).unwrap();
    assert_eq!(results.len(), 40);
    ok(&results);
    assert_eq!(db.count("Employees"), 40);
    assert_eq!(db.count("EmployeeMails"), 40);
    assert_eq!(
        db.rows(r#"SELECT "EmployeeId", "UserName", "FirstName" FROM "Employees" WHERE "EmployeeId" IN ('u00', 'u01', 'u38') ORDER BY 1"#),
        [
            row(&[Some("u00"), Some("u00-name"), Some("x'); DROP TABLE \"Employees\"; -- 0")]),
            row(&[Some("u01"), Some("u01-name"), None]),
            row(&[Some("u38"), Some("u38-name"), Some("x'); DROP TABLE \"Employees\"; -- 38")]),
        ]
    );
    assert_eq!(
        db.rows(r#"SELECT "Mail" FROM "EmployeeMails" WHERE "EmployeeId" = 'u38' ORDER BY 1"#),
        [row(&[Some("u38.1@x")]), row(&[Some("u38.2@x")])]
    );
    assert!(
        matches!(statements("Employees"), None | Some(2)),
        "one INSERT per column set: {:?}",
        statements("Employees")
    );

    // One entry takes an existing user's unique name: it fails alone, with the database's
    // error, and nothing of it stays.
    let batch: Vec<_> = (40..50)
        .map(|i| {
            if i == 44 {
                entry::add("User", "EmployeeId", "u44").set("UserName", "u00-name")
            } else {
                user(i)
            }
        })
        .collect();
    let results = h.export(batch).unwrap();
    let expected: Vec<_> = (40..50)
        .map(|i| (i == 44).then_some(ExportErrorKind::ObjectAlreadyExists))
        .collect();
    assert_eq!(kinds(&results), expected);
    assert_eq!(db.count("Employees"), 49);
    assert_eq!(db.count("EmployeeMails"), 48);
    assert_eq!(
        db.rows(r#"SELECT "EmployeeId" FROM "Employees" WHERE "EmployeeId" = 'u44'"#),
        Vec::<Vec<Option<String>>>::new()
    );
    if let Some(n) = statements("Employees") {
        assert_eq!(n, 2 + 9, "the batch ran again entry by entry");
    }

    // Groups whose keys the database assigns: each entry gets its own key back, and its
    // members are written under that key.
    let group = |i: usize| CsEntryChange {
        identifier: format!("group-{i}"),
        object_type: "Group".into(),
        dn: String::new(),
        modification: ObjectModification::Add,
        anchor: Vec::new(),
        changes: vec![
            AttributeChange::set(
                "Name",
                AttributeModification::Add,
                vec![s(&format!("g{i}"))],
            ),
            AttributeChange::set(
                "Member",
                AttributeModification::Add,
                vec![r(&format!("u{i:02}")), r(&format!("u{:02}", i + 10))],
            ),
        ],
    };
    let results = h.export((0..5).map(group)).unwrap();
    ok(&results);
    let mut keys = Vec::new();
    for (i, result) in results.iter().enumerate() {
        let [AnchorAttribute {
            name,
            value: Value::Integer(key),
        }] = result.anchor.as_slice()
        else {
            panic!(
                "{}: no assigned key in {:?}",
                result.identifier, result.anchor
            );
        };
        assert_eq!(name, "GroupId");
        assert_eq!(
            db.value(&format!(
                r#"SELECT "Name" FROM "Groups" WHERE "GroupId" = {key}"#
            )),
            Some(format!("g{i}"))
        );
        let (first, second) = (format!("u{i:02}"), format!("u{:02}", i + 10));
        assert_eq!(
            db.rows(&format!(
                r#"SELECT "Member" FROM "GroupMembers" WHERE "GroupId" = {key} ORDER BY 1"#
            )),
            [row(&[Some(&first)]), row(&[Some(&second)])]
        );
        keys.push(*key);
    }
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 5);
    assert_eq!(db.count("GroupMembers"), 10);
    match kind.server() {
        // One statement, a data-modifying CTE per row.
        Server::Postgres => assert_eq!(statements("Groups"), Some(1)),
        // No reliable order for assigned keys: one INSERT each.
        Server::MySql => assert_eq!(statements("Groups"), Some(5)),
        Server::Sqlite => {}
    }
}

/// A full import streams in pages of the size asked for, with `more` set right.
pub fn paging(kind: Kind) {
    let db = TestDb::new(kind);
    let rows: Vec<String> = (1..=2500).map(|i| format!("({i}, 'p{i}')")).collect();
    db.exec(&format!(
        "CREATE TABLE \"People\" (\"Id\" {{int}} PRIMARY KEY, \"Name\" {{text}});
         INSERT INTO \"People\" VALUES {};",
        rows.join(", ")
    ));
    let mut h = db.harness().with_import_page_size(1000);
    h.answer("object_types", "Person")
        .answer("Person:table", "People");
    configure(&mut h);
    let import = h.full_import().unwrap();
    assert_eq!(import.page_sizes, [1000, 1000, 500]);
    let anchors: std::collections::BTreeSet<String> = import.anchors().into_iter().collect();
    assert_eq!(anchors.len(), 2500, "every row exactly once");
    assert_eq!(import.text("2500", "Name").as_deref(), Some("p2500"));
}

const EMPLOYEES: &str = r#"
CREATE TABLE "Employees" ("EmployeeId" {key} PRIMARY KEY, "UserName" {key} NOT NULL, "IsActive" {bool} NOT NULL DEFAULT {true});
INSERT INTO "Employees" ("EmployeeId", "UserName", "IsActive") VALUES ('E1', 'alice', {true}), ('E2', 'bob', {false});
CREATE VIEW "ActiveEmployees" AS SELECT "EmployeeId", "UserName" FROM "Employees" WHERE "IsActive" = {true};
"#;

/// Attributes detected from a view, an SQL query and a stored procedure; imports from each;
/// exports through the table, SQL statements with named parameters and procedures.
pub fn views_queries_and_procedures(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(EMPLOYEES);
    let q = |name: &str| db.q(name);

    // A view for reading, its base table for writing.
    let mut h = db.harness();
    h.answer("object_types", "User")
        .answer("User:attribute_detection", "View")
        .answer("User:view", "ActiveEmployees")
        .answer("User:anchor", "EmployeeId")
        .answer("User:export_table", "Employees");
    configure(&mut h);
    let import = h.full_import().unwrap();
    assert_eq!(import.anchors(), ["E1"]);
    ok(&h
        .export([entry::add("User", "EmployeeId", "E3").set("UserName", "carol")])
        .unwrap());
    let mut anchors = h.full_import().unwrap().anchors();
    anchors.sort();
    assert_eq!(anchors, ["E1", "E3"]);

    // An SQL query for reading, SQL statements with named parameters for writing.
    let mut h = db.harness();
    h.answer("object_types", "User")
        .answer("User:attribute_detection", "SQL query")
        .answer(
            "User:attribute_query",
            format!(
                "SELECT {}, {} FROM {}",
                q("EmployeeId"),
                q("UserName"),
                q("Employees")
            ),
        )
        .answer("User:anchor", "EmployeeId")
        .answer("User:export_method", "SQL query")
        .answer(
            "User:export_add",
            format!(
                "INSERT INTO {} ({}, {}) VALUES (@anchor, @UserName)",
                q("Employees"),
                q("EmployeeId"),
                q("UserName")
            ),
        )
        .answer(
            "User:export_update",
            format!(
                "UPDATE {} SET {} = @UserName WHERE {} = @EmployeeId",
                q("Employees"),
                q("UserName"),
                q("EmployeeId")
            ),
        )
        .answer(
            "User:export_delete",
            format!(
                "DELETE FROM {} WHERE {} = @anchor",
                q("Employees"),
                q("EmployeeId")
            ),
        );
    configure(&mut h);
    assert_eq!(
        h.capabilities().unwrap().export_type,
        ExportType::ObjectReplace,
        "configured statements get whole objects"
    );
    assert!(
        !h.capabilities().unwrap().object_rename,
        "an update statement without @new_anchor or @new_dn cannot rename"
    );
    assert_eq!(h.full_import().unwrap().entries.len(), 3);
    let results = h
        .export([
            entry::add("User", "EmployeeId", "E4").set("UserName", "x'); --"),
            entry::replace("User", "EmployeeId", "E9").set("UserName", "nobody"),
        ])
        .unwrap();
    assert_eq!(kinds(&results), [None, Some(ExportErrorKind::NoSuchObject)]);
    ok(&h
        .export([entry::replace("User", "EmployeeId", "E4").set("UserName", "dave")])
        .unwrap());
    assert_eq!(
        db.value(r#"SELECT "UserName" FROM "Employees" WHERE "EmployeeId" = 'E4'"#)
            .as_deref(),
        Some("dave")
    );
    ok(&h
        .export([entry::delete("User", "EmployeeId", "E4")])
        .unwrap());
    assert_eq!(db.count("Employees"), 3);

    // An unknown named parameter is a configuration error naming it.
    let mut bad = db.harness();
    bad.answer("object_types", "User")
        .answer("User:table", "Employees")
        .answer("User:export_method", "SQL query")
        .answer("User:export_add", "INSERT INTO t VALUES (@nosuch)");
    let walk = bad.walk_pages_with_defaults().unwrap();
    let issues: Vec<String> = walk
        .issues()
        .map(|(_, i)| format!("{}: {}", i.parameter, i.message))
        .collect();
    assert!(
        issues
            .iter()
            .any(|i| i.starts_with("User:export_add") && i.contains("@nosuch")),
        "{issues:?}"
    );

    if !kind.has_procedures() || kind == Kind::OdbcAnsi {
        return;
    }
    match kind.server() {
        Server::Postgres => db.exec(
            r#"
CREATE FUNCTION list_employees() RETURNS TABLE ("EmployeeId" VARCHAR, "UserName" VARCHAR)
  LANGUAGE sql AS $$ SELECT e."EmployeeId", e."UserName" FROM "Employees" e $$;
CREATE PROCEDURE add_employee(p_employeeid VARCHAR, p_username VARCHAR)
  LANGUAGE sql AS $$ INSERT INTO "Employees" ("EmployeeId", "UserName") VALUES (p_employeeid, p_username) $$;
CREATE PROCEDURE update_employee(p_employeeid VARCHAR, p_username VARCHAR)
  LANGUAGE sql AS $$ UPDATE "Employees" SET "UserName" = p_username WHERE "EmployeeId" = p_employeeid $$;
CREATE PROCEDURE delete_employee(p_anchor VARCHAR)
  LANGUAGE sql AS $$ DELETE FROM "Employees" WHERE "EmployeeId" = p_anchor $$;
"#,
        ),
        _ => db.exec(
            r#"
CREATE PROCEDURE list_employees() SELECT "EmployeeId", "UserName" FROM "Employees";
CREATE PROCEDURE add_employee(IN p_employeeid VARCHAR(100), IN p_username VARCHAR(100))
  INSERT INTO "Employees" ("EmployeeId", "UserName") VALUES (p_employeeid, p_username);
CREATE PROCEDURE update_employee(IN p_employeeid VARCHAR(100), IN p_username VARCHAR(100))
  UPDATE "Employees" SET "UserName" = p_username WHERE "EmployeeId" = p_employeeid;
CREATE PROCEDURE delete_employee(IN p_anchor VARCHAR(100))
  DELETE FROM "Employees" WHERE "EmployeeId" = p_anchor;
"#,
        ),
    }
    let mut h = db.harness();
    h.answer("object_types", "User")
        .answer("User:attribute_detection", "Stored procedure")
        .answer("User:procedure", "list_employees")
        .answer("User:anchor", "EmployeeId")
        .answer("User:export_method", "Stored procedure")
        .answer("User:export_add", "add_employee")
        .answer("User:export_update", "update_employee")
        .answer("User:export_delete", "delete_employee");
    configure(&mut h);
    let walk = h.walk_pages().unwrap();
    let procedure = walk.definition("User:procedure").unwrap();
    match &procedure.kind {
        ParameterKind::DropDown { options, .. } => {
            assert!(options.iter().any(|o| o == "add_employee"), "{options:?}")
        }
        other => panic!("{other:?}"),
    }
    let mut anchors = h.full_import().unwrap().anchors();
    anchors.sort();
    assert_eq!(anchors, ["E1", "E2", "E3"]);
    ok(&h
        .export([entry::add("User", "EmployeeId", "E5").set("UserName", "eve")])
        .unwrap());
    ok(&h
        .export([entry::replace("User", "EmployeeId", "E5").set("UserName", "eva")])
        .unwrap());
    assert_eq!(
        db.value(r#"SELECT "UserName" FROM "Employees" WHERE "EmployeeId" = 'E5'"#)
            .as_deref(),
        Some("eva")
    );
    ok(&h
        .export([entry::delete("User", "EmployeeId", "E5")])
        .unwrap());
    assert_eq!(db.count("Employees"), 3);
}

/// Object types from a table's column and from an SQL query.
pub fn object_type_detection(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(
        r#"
CREATE TABLE "ObjectTypes" ("Name" {key});
INSERT INTO "ObjectTypes" VALUES ('Person'), ('Team'), ('Person');
CREATE TABLE "Person" ("Id" {key} PRIMARY KEY, "Name" {text});
CREATE TABLE "Team" ("Id" {int} PRIMARY KEY, "Title" {text});
"#,
    );
    let types = |h: &mut ConnectorHarness| -> Vec<String> {
        configure(h);
        h.schema()
            .unwrap()
            .object_types
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    let mut h = db.harness();
    h.answer("object_type_detection", "Table")
        .answer("object_type_table", "ObjectTypes")
        .answer("object_type_column", "Name");
    assert_eq!(types(&mut h), ["Person", "Team"]);

    let mut h = db.harness();
    h.answer("object_type_detection", "SQL query").answer(
        "object_type_query",
        format!("SELECT {} FROM {}", db.q("Name"), db.q("ObjectTypes")),
    );
    assert_eq!(types(&mut h), ["Person", "Team"]);

    let mut bad = db.harness();
    bad.answer("object_type_detection", "Table")
        .answer("object_type_table", "Nope")
        .answer("object_type_column", "Name");
    let walk = bad.walk_pages_with_defaults().unwrap();
    let parameters: Vec<&str> = walk.issues().map(|(_, i)| i.parameter.as_str()).collect();
    assert_eq!(parameters, ["object_type_table"]);
}

/// The Watermark strategy: an integer version column read through the table, and a timestamp
/// read through an SQL query with `@watermark`.
pub fn delta_watermark(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(
        r#"
CREATE TABLE "Person" ("Id" {key} PRIMARY KEY, "Name" {text}, "Version" {int} NOT NULL, "Op" {key});
INSERT INTO "Person" VALUES ('P1', 'one', 1, NULL), ('P2', 'two', 2, NULL);
CREATE TABLE "Account" ("Id" {key} PRIMARY KEY, "Name" {text}, "Modified" {ts} NOT NULL);
INSERT INTO "Account" VALUES ('A1', 'first', '2024-01-01 10:00:00'), ('A2', 'second', '2024-01-01 11:00:00');
"#,
    );
    let q = |name: &str| db.q(name);
    let mut h = db.harness();
    h.answer("object_types", "Person")
        .answer("delta_strategy", "Watermark")
        .answer(
            "watermark_query",
            format!("SELECT MAX({}) FROM {}", q("Version"), q("Person")),
        )
        .answer("Person:watermark_column", "Version")
        .answer("Person:delta_operation_column", "Op");
    configure(&mut h);
    assert!(h.capabilities().unwrap().delta_import);
    let full = h.full_import().unwrap();
    assert_eq!(full.entries.len(), 2);
    assert_eq!(full.watermark, "watermark:int:2");

    db.exec(
        r#"
UPDATE "Person" SET "Name" = 'uno', "Version" = 3 WHERE "Id" = 'P1';
INSERT INTO "Person" VALUES ('P3', 'three', 4, NULL);
UPDATE "Person" SET "Op" = 'D', "Version" = 5 WHERE "Id" = 'P2';
"#,
    );
    let delta = h.delta_import(&full.watermark).unwrap();
    use ObjectModification::*;
    assert_eq!(
        changes(&delta.entries),
        [
            ("P1".to_string(), Replace),
            ("P2".to_string(), Delete),
            ("P3".to_string(), Replace)
        ]
    );
    assert_eq!(delta.text("P1", "Name").as_deref(), Some("uno"));
    assert_eq!(delta.watermark, "watermark:int:5");
    assert!(h.delta_import(&delta.watermark).unwrap().entries.is_empty());
    let err = h.delta_import("change:1").unwrap_err().to_string();
    assert!(err.contains("full import"), "{err}");

    let mut h = db.harness();
    h.answer("object_types", "Account")
        .answer("delta_strategy", "Watermark")
        .answer("date_time_format", "%d/%m/%Y %H:%M")
        .answer(
            "watermark_query",
            format!("SELECT MAX({}) FROM {}", q("Modified"), q("Account")),
        )
        .answer("Account:delta_import_method", "SQL query")
        .answer(
            "Account:delta_import",
            format!(
                "SELECT * FROM {} WHERE {} > @watermark",
                q("Account"),
                q("Modified")
            ),
        );
    configure(&mut h);
    let full = h.full_import().unwrap();
    assert_eq!(full.entries.len(), 2);
    if matches!(kind, Kind::Postgres | Kind::MySql) {
        // Native drivers read timestamps as such, and write them in the configured format.
        assert!(
            full.watermark
                .starts_with("watermark:ts:2024-01-01T11:00:00"),
            "{}",
            full.watermark
        );
        assert_eq!(
            full.text("A1", "Modified").as_deref(),
            Some("01/01/2024 10:00")
        );
    }
    db.exec(r#"UPDATE "Account" SET "Name" = 'later', "Modified" = '2024-01-02 09:00:00' WHERE "Id" = 'A1';"#);
    let delta = h.delta_import(&full.watermark).unwrap();
    assert_eq!(changes(&delta.entries), [("A1".to_string(), Replace)]);
    assert_eq!(delta.text("A1", "Name").as_deref(), Some("later"));
    assert!(h.delta_import(&delta.watermark).unwrap().entries.is_empty());
}

const PEOPLE: &str = r#"
CREATE TABLE "Person" ("Id" {key} PRIMARY KEY, "Name" {text});
CREATE TABLE "PersonMails" ("Id" {key} NOT NULL, "Mail" {key} NOT NULL);
INSERT INTO "Person" VALUES ('P1', 'one'), ('P2', 'two'), ('P4', 'four');
INSERT INTO "PersonMails" VALUES ('P1', 'old@x.example'), ('P4', 'four@x.example');
"#;

const PEOPLE_CHANGES: &str = r#"
UPDATE "Person" SET "Name" = 'uno' WHERE "Id" = 'P1';
INSERT INTO "Person" VALUES ('P3', 'three');
DELETE FROM "Person" WHERE "Id" = 'P2';
INSERT INTO "PersonMails" VALUES ('P1', 'new@x.example');
"#;

/// Change tracking: the connector creates the change table and its triggers; deltas report
/// what the triggers recorded, looked up again.
pub fn delta_change_tracking(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(PEOPLE);
    let mut h = db.harness();
    h.answer("object_types", "Person")
        .answer("Person:multivalued_tables", "PersonMails")
        .answer("delta_strategy", "Change tracking")
        .answer("create_change_tracking", "true");
    if kind == Kind::OdbcAnsi {
        // The connector writes triggers for the databases it knows only, and says so early.
        let walk = h.walk_pages_with_defaults().unwrap();
        let parameters: Vec<&str> = walk.issues().map(|(_, i)| i.parameter.as_str()).collect();
        assert_eq!(parameters, ["create_change_tracking"]);
        let err = h.full_import().unwrap_err().to_string();
        assert!(err.contains("create the change table"), "{err}");
        return;
    }
    configure(&mut h);
    let full = h.full_import().unwrap();
    assert_eq!(full.entries.len(), 3);
    assert_eq!(full.watermark, "change:0");
    db.exec(PEOPLE_CHANGES);
    // Changes made through the connector are recorded too.
    ok(&h
        .export([entry::replace("Person", "Id", "P4").set("Name", "vier")])
        .unwrap());

    let delta = h.delta_import(&full.watermark).unwrap();
    use ObjectModification::*;
    assert_eq!(
        changes(&delta.entries),
        [
            ("P1".to_string(), Replace),
            ("P2".to_string(), Delete),
            ("P3".to_string(), Replace),
            ("P4".to_string(), Replace)
        ]
    );
    let p1 = delta.find("P1").unwrap();
    assert_eq!(values(p1, "Name"), [&s("uno")]);
    assert_eq!(
        values(p1, "Mail"),
        [&s("new@x.example"), &s("old@x.example")]
    );
    assert!(delta.watermark.starts_with("change:"));
    assert_ne!(delta.watermark, full.watermark);
    assert!(h.delta_import(&delta.watermark).unwrap().entries.is_empty());
    assert!(db.count("ecma_changes") >= 5);
}

/// Snapshot: a digest per object in a table of the connector's own; deltas compare.
pub fn delta_snapshot(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(PEOPLE);
    let mut h = db.harness();
    h.answer("object_types", "Person")
        .answer("Person:multivalued_tables", "PersonMails")
        .answer("delta_strategy", "Snapshot");
    configure(&mut h);
    let full = h.full_import().unwrap();
    assert_eq!(full.entries.len(), 3);
    assert_eq!(full.watermark, "snapshot:1");
    assert_eq!(db.count("ecma_snapshot"), 3);
    db.exec(PEOPLE_CHANGES);

    let delta = h.delta_import(&full.watermark).unwrap();
    use ObjectModification::*;
    assert_eq!(
        changes(&delta.entries),
        [
            ("P1".to_string(), Replace),
            ("P2".to_string(), Delete),
            ("P3".to_string(), Add)
        ]
    );
    assert_eq!(
        values(delta.find("P1").unwrap(), "Mail"),
        [&s("new@x.example"), &s("old@x.example")]
    );
    assert_eq!(db.count("ecma_snapshot"), 3);
    assert!(h.delta_import(&delta.watermark).unwrap().entries.is_empty());
    // A child-table change alone changes the object.
    db.exec(r#"DELETE FROM "PersonMails" WHERE "Id" = 'P4';"#);
    let delta = h.delta_import(&delta.watermark).unwrap();
    assert_eq!(changes(&delta.entries), [("P4".to_string(), Replace)]);
}

/// Initial passwords through a configured SQL statement and a stored procedure; the password
/// never appears in an error.
pub fn passwords(kind: Kind) {
    let db = TestDb::new(kind);
    db.exec(
        r#"
CREATE TABLE "Person" ("Id" {key} PRIMARY KEY, "Name" {text}, "Secret" {text}, CHECK ("Secret" IS NULL OR LENGTH("Secret") >= 8));
INSERT INTO "Person" ("Id", "Name") VALUES ('P1', 'one');
"#,
    );
    let q = |name: &str| db.q(name);
    let mut h = db.harness();
    h.answer("object_types", "Person")
        .answer("Person:Secret:direction", "ExportOnly")
        .answer("Person:password_method", "SQL query")
        .answer(
            "Person:set_password",
            format!(
                "UPDATE {} SET {} = @password WHERE {} = @anchor",
                q("Person"),
                q("Secret"),
                q("Id")
            ),
        );
    configure(&mut h);
    assert!(h.capabilities().unwrap().passwords);
    let target = entry::password_target("Person", "Id", "P1");
    h.set_password(&target, "correct horse battery", PasswordOptions::default())
        .unwrap();
    assert_eq!(
        db.value(r#"SELECT "Secret" FROM "Person" WHERE "Id" = 'P1'"#)
            .as_deref(),
        Some("correct horse battery")
    );
    let err = h
        .set_password(&target, "short1", PasswordOptions::default())
        .unwrap_err()
        .to_string();
    assert!(!err.contains("short1"), "the password leaked: {err}");
    let err = h
        .set_password(
            &entry::password_target("Person", "Id", "P9"),
            "long enough password",
            PasswordOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("no Person"), "{err}");
    assert!(
        h.full_import()
            .unwrap()
            .find("P1")
            .unwrap()
            .change("Secret")
            .is_none(),
        "export-only attributes are not imported"
    );

    if !kind.has_procedures() || kind == Kind::OdbcAnsi {
        return;
    }
    match kind.server() {
        Server::Postgres => db.exec(
            r#"CREATE PROCEDURE set_person_password(p_id VARCHAR, p_password VARCHAR)
  LANGUAGE sql AS $$ UPDATE "Person" SET "Secret" = p_password WHERE "Id" = p_id $$;"#,
        ),
        _ => db.exec(
            r#"CREATE PROCEDURE set_person_password(IN p_id VARCHAR(100), IN p_password VARCHAR(100))
  UPDATE "Person" SET "Secret" = p_password WHERE "Id" = p_id;"#,
        ),
    }
    let mut h = db.harness();
    h.answer("object_types", "Person")
        .answer("Person:password_method", "Stored procedure")
        .answer("Person:set_password", "set_person_password");
    configure(&mut h);
    h.set_password(&target, "another long secret", PasswordOptions::default())
        .unwrap();
    assert_eq!(
        db.value(r#"SELECT "Secret" FROM "Person" WHERE "Id" = 'P1'"#)
            .as_deref(),
        Some("another long secret")
    );
}

/// Unreachable or refused connections are connection errors on the right parameter, and the
/// password is in none of them.
pub fn connection_failures(kind: Kind) {
    let db = TestDb::new(kind);
    let secret = "hunter2-not-the-password";
    let mut h = db.harness();
    let parameter = match kind {
        Kind::Postgres => {
            h.answer("user", "no_such_user")
                .answer_secret("password", secret);
            // A refused sign-in is pinned on the credentials, not on the host.
            "password"
        }
        Kind::MySql => {
            h.answer_secret("password", secret);
            "password"
        }
        Kind::Sqlite => {
            h.answer(
                "connection_string",
                format!("sqlite://{}", db.dir.path().join("missing.db").display()),
            );
            "connection_string"
        }
        _ => {
            let dsn = db.dir.path().join("broken.dsn");
            std::fs::write(
                &dsn,
                "[ODBC]\nDRIVER=No Such ODBC Driver\nSERVER=127.0.0.1\n",
            )
            .unwrap();
            h.answer("dsn_file", dsn.display().to_string())
                .answer_secret("password", secret);
            "dsn_file"
        }
    };
    let err = h.test_connection().unwrap_err().to_string();
    assert!(!err.contains(secret), "the password leaked: {err}");
    let walk = h.walk_pages().unwrap();
    let issues: Vec<&ParameterIssue> = walk.issues().map(|(_, i)| i).collect();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].parameter, parameter);
    assert!(!issues[0].message.contains(secret));
    if matches!(kind, Kind::Postgres | Kind::MySql) {
        assert!(
            issues[0].message.contains("refused the sign-in of user")
                && issues[0].message.contains("check `user` and `password`"),
            "{}",
            issues[0].message
        );
    }
}

/// TLS options of the native drivers: PostgreSQL (TLS on, Debian's snake-oil certificate)
/// and MariaDB (TLS off).
pub fn tls(kind: Kind) {
    let db = TestDb::new(kind);
    let mut h = db.harness();
    match kind {
        Kind::Postgres => {
            h.answer("tls_mode", "Require");
            h.test_connection().unwrap();
            h.answer("tls_mode", "VerifyFull")
                .answer("tls_ca_file", "/etc/ssl/certs/ssl-cert-snakeoil.pem");
            let err = h.test_connection().unwrap_err();
            assert!(err.to_string().contains("Connection"), "{err}");
            h.answer("tls_mode", "Disable");
            h.test_connection().unwrap();
        }
        _ => {
            h.answer("tls_mode", "Require");
            let err = h.test_connection().unwrap_err().to_string();
            assert!(
                err.to_lowercase().contains("tls") || err.to_lowercase().contains("ssl"),
                "{err}"
            );
            h.answer("tls_mode", "Prefer");
            h.test_connection().unwrap();
        }
    }
}
