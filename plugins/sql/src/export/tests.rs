//! Planning tests: the statements an entry becomes, checked without a database.

use ecma_plugin_api::{
    AttributeChange, AttributeDirection, AttributeModification, AttributeType, CsEntryChange,
    ExportErrorKind, ObjectModification, Schema, Value, ValueChange, ValueModification,
    NEW_DN_ATTRIBUTE,
};

use super::plan::plan;
use super::target::Target;
use crate::config::{ChildTable, Column, Custom, Export, ObjectTypeMap, ProcedureCall};
use crate::db::{Check, ColumnInfo, RoutineKind};
use crate::sql::{Bind, Dialect};
use crate::values::DateTimeFormat;

fn column(name: &str, attribute_type: AttributeType) -> Column {
    Column {
        name: name.into(),
        attribute_type,
        direction: AttributeDirection::ImportExport,
        declared_type: String::new(),
    }
}

fn map() -> ObjectTypeMap {
    let source = crate::source::Source::Table("Emp \"loyees\"".into());
    let columns = vec![
        column("Id", AttributeType::Integer),
        column("Name", AttributeType::String),
        column("Active", AttributeType::Boolean),
    ];
    ObjectTypeMap {
        name: "User".into(),
        import: source.clone(),
        delta: crate::config::DeltaSource {
            source: source.clone(),
            watermark_column: None,
            operation_column: None,
        },
        source,
        anchor: vec!["Id".into()],
        dn: None,
        export: Export::Table {
            table: "Emp \"loyees\"".into(),
            columns: columns
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name.clone(),
                    declared_type: String::new(),
                    primary_key: 0,
                })
                .collect(),
        },
        columns,
        children: vec![ChildTable {
            table: "Mail".into(),
            key_columns: vec!["UserId".into()],
            key_declared: vec![String::new()],
            value: column("Address", AttributeType::String),
        }],
        password: None,
    }
}

fn target() -> Target {
    Target::new(&map(), &Schema::default(), &DateTimeFormat::default())
}

fn entry(modification: ObjectModification, changes: Vec<AttributeChange>) -> CsEntryChange {
    CsEntryChange {
        identifier: "x".into(),
        object_type: "User".into(),
        dn: "7".into(),
        modification,
        anchor: Vec::new(),
        changes,
    }
}

fn sql(entry: &CsEntryChange) -> (String, Vec<Bind>, Check) {
    let planned = plan(Dialect::SQLITE, &target(), entry).unwrap();
    let step = &planned.operation.steps[0];
    (
        step.statement.sql.clone(),
        step.statement.binds.clone(),
        step.check,
    )
}

#[test]
fn statements_per_modification() {
    let set =
        |name: &str, v: Value| AttributeChange::set(name, AttributeModification::Replace, vec![v]);
    let add = entry(
        ObjectModification::Add,
        vec![set("Name", Value::String("a".into()))],
    );
    assert_eq!(
        sql(&add),
        (
            "INSERT INTO \"Emp \"\"loyees\"\"\" (\"Name\", \"Id\") VALUES (?, ?)".into(),
            vec![Bind::Text("a".into()), Bind::Integer(7)],
            Check::RowsAffected
        ),
        "the DN is the anchor and converts to its type"
    );
    let update = entry(
        ObjectModification::Update,
        vec![
            set("Active", Value::String("True".into())),
            AttributeChange::delete("Name"),
        ],
    );
    assert_eq!(
        sql(&update),
        (
            "UPDATE \"Emp \"\"loyees\"\"\" SET \"Active\" = ?, \"Name\" = ? WHERE \"Id\" = ?"
                .into(),
            vec![
                Bind::Boolean(true),
                Bind::Null(AttributeType::String),
                Bind::Integer(7)
            ],
            Check::RowsAffected
        )
    );
    let touch = entry(ObjectModification::Replace, Vec::new());
    assert_eq!(sql(&touch).2, Check::RowExists);
    let delete = entry(ObjectModification::Delete, Vec::new());
    let planned = plan(Dialect::SQLITE, &target(), &delete).unwrap();
    let steps: Vec<&str> = planned
        .operation
        .steps
        .iter()
        .map(|s| s.statement.sql.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "DELETE FROM \"Mail\" WHERE \"UserId\" = ?",
            "DELETE FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ?"
        ],
        "child rows go first"
    );
    let anonymous = CsEntryChange {
        dn: String::new(),
        ..add.clone()
    };
    assert_eq!(
        sql(&anonymous).0,
        "INSERT INTO \"Emp \"\"loyees\"\"\" (\"Name\") VALUES (?) RETURNING \"Id\""
    );
    assert_eq!(sql(&anonymous).2, Check::Returning(1));
    let planned = plan(Dialect::MYSQL, &target(), &anonymous).unwrap();
    assert_eq!(planned.operation.steps[0].check, Check::LastInsertId);
}

#[test]
fn multi_valued_changes_become_child_rows() {
    let mails = |m: AttributeModification, values: &[&str]| {
        AttributeChange::set(
            "Address",
            m,
            values
                .iter()
                .map(|v| Value::String(v.to_string()))
                .collect(),
        )
    };
    let add = entry(
        ObjectModification::Add,
        vec![mails(AttributeModification::Add, &["a@x", "b@x", "a@x"])],
    );
    let planned = plan(Dialect::POSTGRES, &target(), &add).unwrap();
    assert_eq!(
        planned.operation.steps[1].statement.sql,
        "INSERT INTO \"Mail\" (\"UserId\", \"Address\") VALUES ($1, $2), ($3, $4)"
    );
    let replace = entry(
        ObjectModification::Replace,
        vec![mails(AttributeModification::Replace, &["c@x"])],
    );
    let planned = plan(Dialect::SQLITE, &target(), &replace).unwrap();
    let steps: Vec<&str> = planned
        .operation
        .steps
        .iter()
        .map(|s| s.statement.sql.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "SELECT 1 FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ?",
            "DELETE FROM \"Mail\" WHERE \"UserId\" = ?",
            "INSERT INTO \"Mail\" (\"UserId\", \"Address\") VALUES (?, ?)"
        ]
    );
    let update = entry(
        ObjectModification::Update,
        vec![AttributeChange {
            name: "Address".into(),
            modification: AttributeModification::Update,
            values: vec![
                ValueChange {
                    modification: ValueModification::Delete,
                    value: Value::String("a@x".into()),
                },
                ValueChange {
                    modification: ValueModification::Add,
                    value: Value::String("d@x".into()),
                },
            ],
        }],
    );
    let planned = plan(Dialect::SQLITE, &target(), &update).unwrap();
    assert_eq!(
        statements(&planned),
        [
            "SELECT 1 FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ?",
            "DELETE FROM \"Mail\" WHERE \"UserId\" = ? AND \"Address\" IN (?, ?)",
            "INSERT INTO \"Mail\" (\"UserId\", \"Address\") VALUES (?, ?)"
        ],
        "one statement per kind of change, whatever the number of values"
    );
    assert_eq!(
        planned.operation.steps[1].statement.binds,
        [
            Bind::Integer(7),
            Bind::Text("a@x".into()),
            Bind::Text("d@x".into())
        ]
    );
    // The last change of a value wins: added then removed is absent.
    let flip = entry(
        ObjectModification::Update,
        vec![AttributeChange {
            name: "Address".into(),
            modification: AttributeModification::Update,
            values: vec![
                ValueChange {
                    modification: ValueModification::Add,
                    value: Value::String("e@x".into()),
                },
                ValueChange {
                    modification: ValueModification::Delete,
                    value: Value::String("e@x".into()),
                },
            ],
        }],
    );
    let planned = plan(Dialect::SQLITE, &target(), &flip).unwrap();
    assert_eq!(
        statements(&planned)[1..],
        ["DELETE FROM \"Mail\" WHERE \"UserId\" = ? AND \"Address\" IN (?)"]
    );
    let anonymous = CsEntryChange {
        dn: String::new(),
        ..add
    };
    let planned = plan(Dialect::SQLITE, &target(), &anonymous).unwrap();
    assert_eq!(
        planned.operation.steps[1].statement.binds[0],
        Bind::Returned
    );
}

fn statements(planned: &super::plan::Planned) -> Vec<&str> {
    planned
        .operation
        .steps
        .iter()
        .map(|s| s.statement.sql.as_str())
        .collect()
}

fn rename(changes: Vec<AttributeChange>) -> CsEntryChange {
    CsEntryChange {
        anchor: vec![ecma_plugin_api::AnchorAttribute {
            name: "Id".into(),
            value: Value::Integer(7),
        }],
        ..entry(ObjectModification::Update, changes)
    }
}

#[test]
fn renames_move_the_row_and_its_child_rows() {
    let set =
        |name: &str, v: Value| AttributeChange::set(name, AttributeModification::Replace, vec![v]);
    let entry = rename(vec![
        set("Id", Value::Integer(8)),
        set(NEW_DN_ATTRIBUTE, Value::String("8".into())),
        set("Name", Value::String("b".into())),
        AttributeChange::set(
            "Address",
            AttributeModification::Add,
            vec![Value::String("n@x".into())],
        ),
    ]);
    let planned = plan(Dialect::SQLITE, &target(), &entry).unwrap();
    assert!(planned.renames);
    assert_eq!(
        statements(&planned),
        [
            "SELECT 1 FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ? AND NOT (\"Id\" = ?)",
            "UPDATE \"Emp \"\"loyees\"\"\" SET \"Id\" = ?, \"Name\" = ? WHERE \"Id\" = ?",
            "UPDATE \"Mail\" SET \"UserId\" = ? WHERE \"UserId\" = ?",
            "DELETE FROM \"Mail\" WHERE \"UserId\" = ?",
            "INSERT INTO \"Mail\" (\"UserId\", \"Address\") VALUES (?, ?)",
        ],
        "look for a conflict, move the row, move its child rows, then apply the other changes"
    );
    let steps = &planned.operation.steps;
    assert_eq!(steps[0].check, Check::RowAbsent);
    assert_eq!(
        steps[0].statement.binds,
        [Bind::Integer(8), Bind::Integer(7)]
    );
    assert_eq!(steps[1].check, Check::RowsAffected);
    assert_eq!(
        steps[1].statement.binds,
        [Bind::Integer(8), Bind::Text("b".into()), Bind::Integer(7)]
    );
    assert_eq!(
        steps[2].statement.binds,
        [Bind::Integer(8), Bind::Integer(7)]
    );
    assert_eq!(
        steps[4].statement.binds[0],
        Bind::Integer(8),
        "new values under the new anchor"
    );

    // The DN is the anchor: a new DN alone renames.
    let by_dn = rename(vec![set(NEW_DN_ATTRIBUTE, Value::String("9".into()))]);
    let planned = plan(Dialect::SQLITE, &target(), &by_dn).unwrap();
    assert_eq!(
        planned.operation.steps[1].statement.binds[0],
        Bind::Integer(9)
    );
    assert_eq!(planned.operation.steps.len(), 3);

    // The same anchor value is no rename.
    let same = rename(vec![set("Id", Value::String("7".into()))]);
    let planned = plan(Dialect::SQLITE, &target(), &same).unwrap();
    assert!(!planned.renames);
    assert_eq!(planned.operation.steps[0].check, Check::RowExists);

    // With a DN column, a new DN is written there and the anchor stays.
    let mut with_dn = map();
    with_dn.dn = Some("Name".into());
    let with_dn = Target::new(&with_dn, &Schema::default(), &DateTimeFormat::default());
    let planned = plan(Dialect::SQLITE, &with_dn, &by_dn).unwrap();
    assert!(planned.renames);
    assert_eq!(
        statements(&planned),
        ["UPDATE \"Emp \"\"loyees\"\"\" SET \"Name\" = ? WHERE \"Id\" = ?"]
    );

    let kind = |e: &CsEntryChange| plan(Dialect::SQLITE, &target(), e).unwrap_err().kind;
    assert_eq!(
        kind(&rename(vec![AttributeChange::delete("Id")])),
        ExportErrorKind::SyntaxViolation
    );
    assert_eq!(
        kind(&rename(vec![set(NEW_DN_ATTRIBUTE, Value::Integer(1))])),
        ExportErrorKind::SyntaxViolation
    );
}

#[test]
fn multi_column_anchors_match_every_column() {
    let mut two = map();
    two.anchor = vec!["Id".into(), "Name".into()];
    two.children[0].key_columns = vec!["UserId".into(), "UserName".into()];
    two.children[0].key_declared = vec![String::new(), String::new()];
    let two = Target::new(&two, &Schema::default(), &DateTimeFormat::default());
    let anchor = |id: i64, name: &str| {
        vec![
            ecma_plugin_api::AnchorAttribute {
                name: "Id".into(),
                value: Value::Integer(id),
            },
            ecma_plugin_api::AnchorAttribute {
                name: "Name".into(),
                value: Value::String(name.into()),
            },
        ]
    };
    let mail = |m: AttributeModification, v: &str| {
        AttributeChange::set("Address", m, vec![Value::String(v.into())])
    };
    let add = CsEntryChange {
        anchor: anchor(1, "a"),
        ..entry(
            ObjectModification::Add,
            vec![mail(AttributeModification::Add, "m@x")],
        )
    };
    let planned = plan(Dialect::SQLITE, &two, &add).unwrap();
    assert_eq!(
        statements(&planned),
        [
            "INSERT INTO \"Emp \"\"loyees\"\"\" (\"Id\", \"Name\") VALUES (?, ?)",
            "INSERT INTO \"Mail\" (\"UserId\", \"UserName\", \"Address\") VALUES (?, ?, ?)"
        ]
    );
    assert_eq!(
        planned.operation.steps[1].statement.binds,
        [
            Bind::Integer(1),
            Bind::Text("a".into()),
            Bind::Text("m@x".into())
        ]
    );
    let update = CsEntryChange {
        anchor: anchor(1, "a"),
        ..entry(
            ObjectModification::Update,
            vec![AttributeChange {
                name: "Address".into(),
                modification: AttributeModification::Update,
                values: vec![ValueChange {
                    modification: ValueModification::Delete,
                    value: Value::String("m@x".into()),
                }],
            }],
        )
    };
    let planned = plan(Dialect::SQLITE, &two, &update).unwrap();
    assert_eq!(
        statements(&planned)[1..],
        ["DELETE FROM \"Mail\" WHERE \"UserId\" = ? AND \"UserName\" = ? AND \"Address\" IN (?)"]
    );
    let delete = CsEntryChange {
        anchor: anchor(1, "a"),
        ..entry(ObjectModification::Delete, Vec::new())
    };
    let planned = plan(Dialect::SQLITE, &two, &delete).unwrap();
    assert_eq!(
        statements(&planned),
        [
            "DELETE FROM \"Mail\" WHERE \"UserId\" = ? AND \"UserName\" = ?",
            "DELETE FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ? AND \"Name\" = ?"
        ]
    );
    let renamed = CsEntryChange {
        anchor: anchor(1, "a"),
        ..entry(
            ObjectModification::Update,
            vec![AttributeChange::set(
                "Name",
                AttributeModification::Replace,
                vec![Value::String("b".into())],
            )],
        )
    };
    let planned = plan(Dialect::SQLITE, &two, &renamed).unwrap();
    assert_eq!(
        statements(&planned),
        [
            "SELECT 1 FROM \"Emp \"\"loyees\"\"\" WHERE \"Id\" = ? AND \"Name\" = ? AND NOT (\"Id\" = ? AND \"Name\" = ?)",
            "UPDATE \"Emp \"\"loyees\"\"\" SET \"Name\" = ? WHERE \"Id\" = ? AND \"Name\" = ?",
            "UPDATE \"Mail\" SET \"UserId\" = ?, \"UserName\" = ? WHERE \"UserId\" = ? AND \"UserName\" = ?",
        ]
    );
    assert_eq!(
        planned.operation.steps[2].statement.binds,
        [
            Bind::Integer(1),
            Bind::Text("b".into()),
            Bind::Integer(1),
            Bind::Text("a".into())
        ]
    );
    let half = CsEntryChange {
        anchor: anchor(1, "a")[..1].to_vec(),
        ..delete
    };
    let error = plan(Dialect::SQLITE, &two, &half).unwrap_err();
    assert_eq!(error.kind, ExportErrorKind::MissingAnchorComponent);
    assert!(error.message.contains("'Name'"), "{}", error.message);
    let half_add = CsEntryChange {
        anchor: anchor(1, "a")[..1].to_vec(),
        ..add
    };
    assert_eq!(
        plan(Dialect::SQLITE, &two, &half_add).unwrap_err().kind,
        ExportErrorKind::MissingAnchorComponent,
        "no database assigns part of an anchor"
    );
}

#[test]
fn bad_entries_fail_before_any_sql() {
    let kind = |e: &CsEntryChange| plan(Dialect::SQLITE, &target(), e).unwrap_err().kind;
    let multi = AttributeChange::set(
        "Name",
        AttributeModification::Replace,
        vec![Value::String("a".into()), Value::String("b".into())],
    );
    assert_eq!(
        kind(&entry(ObjectModification::Update, vec![multi])),
        ExportErrorKind::SyntaxViolation
    );
    let twice = vec![
        AttributeChange::delete("Name"),
        AttributeChange::delete("Name"),
    ];
    assert_eq!(
        kind(&entry(ObjectModification::Update, twice)),
        ExportErrorKind::SyntaxViolation
    );
    let no_anchor = CsEntryChange {
        dn: String::new(),
        ..entry(ObjectModification::Delete, Vec::new())
    };
    assert_eq!(kind(&no_anchor), ExportErrorKind::MissingAnchorComponent);
    let not_a_number = CsEntryChange {
        dn: "seven".into(),
        ..entry(ObjectModification::Delete, Vec::new())
    };
    assert_eq!(kind(&not_a_number), ExportErrorKind::SyntaxViolation);
}

#[test]
fn configured_statements_bind_named_values() {
    let mut map = map();
    map.export = Export::Custom {
        add: Some(Custom::Query(
            crate::sql::NamedSql::parse("INSERT INTO u (id, n) VALUES (@anchor, @Name)").unwrap(),
        )),
        update: Some(Custom::Procedure(ProcedureCall {
            name: "upd".into(),
            kind: RoutineKind::Procedure,
            parameters: vec![
                crate::db::ProcedureParameter {
                    name: "p_id".into(),
                    declared_type: "integer".into(),
                },
                crate::db::ProcedureParameter {
                    name: "p_active".into(),
                    declared_type: "boolean".into(),
                },
            ],
        })),
        delete: None,
    };
    let target = Target::new(&map, &Schema::default(), &DateTimeFormat::default());
    let add = entry(
        ObjectModification::Add,
        vec![AttributeChange::set(
            "Name",
            AttributeModification::Add,
            vec![Value::String("x'); --".into())],
        )],
    );
    let planned = plan(Dialect::POSTGRES, &target, &add).unwrap();
    let s = &planned.operation.steps[0].statement;
    assert_eq!(s.sql, "INSERT INTO u (id, n) VALUES ($1, $2)");
    assert_eq!(s.binds, [Bind::Integer(7), Bind::Text("x'); --".into())]);
    let update = entry(ObjectModification::Update, Vec::new());
    let planned = plan(Dialect::POSTGRES, &target, &update).unwrap();
    assert_eq!(
        planned.operation.steps[0].statement.sql, "CALL \"upd\"($1, $2)",
        "integer and boolean parameters need no cast"
    );
    let delete = entry(ObjectModification::Delete, Vec::new());
    assert_eq!(
        plan(Dialect::POSTGRES, &target, &delete).unwrap_err().kind,
        ExportErrorKind::ConnectedDirectoryError
    );
}
