//! The SQL connector driven exactly as the host drives it: through the FFI adapter
//! (`PluginConnector::in_process`), against real SQLite files in temporary directories.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ecma_plugin_api::*;
use ecma_sql::SqlConnector;
use sqlx::{Connection, Row};

const EMPLOYEES: &str = "CREATE TABLE Employees (
    EmployeeId TEXT PRIMARY KEY,
    UserName TEXT NOT NULL UNIQUE,
    FirstName TEXT,
    LastName TEXT,
    Email TEXT,
    Department TEXT,
    IsActive BOOLEAN NOT NULL DEFAULT 1,
    Age INTEGER,
    Photo BLOB
)";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A temporary SQLite file, with direct access for setting up and checking rows.
struct TestDb {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TestDb {
    fn new(script: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.db");
        let db = Self { _dir: dir, path };
        db.exec(script);
        db
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    fn exec(&self, script: &str) {
        let url = format!("{}?mode=rwc", self.url());
        block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(script).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        });
    }

    /// Every column of every row as text (`None` for NULL).
    fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let url = self.url();
        block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
            let out = rows
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.try_get_unchecked::<Option<String>, _>(i).unwrap())
                        .collect()
                })
                .collect();
            conn.close().await.unwrap();
            out
        })
    }

    fn count(&self, table: &str) -> usize {
        self.rows(&format!("SELECT count(*) FROM \"{table}\""))[0][0]
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn connector() -> PluginConnector {
    PluginConnector::in_process::<SqlConnector>().unwrap()
}

fn params(db: &TestDb, pairs: &[(&str, &str)]) -> ParameterValues {
    let mut values = ParameterValues::new();
    values.insert("connection_string", db.url());
    for (k, v) in pairs {
        values.insert(*k, *v);
    }
    values
}

fn user_params(db: &TestDb) -> ParameterValues {
    params(
        db,
        &[
            ("object_types", "User"),
            ("User:table", "Employees"),
            ("User:anchor", "EmployeeId"),
        ],
    )
}

fn names(defs: &[ParameterDefinition]) -> Vec<&str> {
    defs.iter().map(|d| d.name.as_str()).collect()
}

fn def<'a>(defs: &'a [ParameterDefinition], name: &str) -> &'a ParameterDefinition {
    defs.iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no parameter {name} in {:?}", names(defs)))
}

fn options(d: &ParameterDefinition) -> Vec<&str> {
    match &d.kind {
        ParameterKind::DropDown { options, .. } => options.iter().map(String::as_str).collect(),
        other => panic!("{} is {other:?}, not a drop-down", d.name),
    }
}

fn add(id: &str, attrs: &[(&str, Value)]) -> CsEntryChange {
    CsEntryChange {
        identifier: format!("add-{id}"),
        object_type: "User".into(),
        dn: id.into(),
        modification: ObjectModification::Add,
        anchor: vec![AnchorAttribute {
            name: "EmployeeId".into(),
            value: Value::String(id.into()),
        }],
        changes: attrs
            .iter()
            .map(|(n, v)| AttributeChange::set(*n, AttributeModification::Add, vec![v.clone()]))
            .collect(),
    }
}

fn update(id: &str, changes: Vec<AttributeChange>) -> CsEntryChange {
    CsEntryChange {
        identifier: format!("update-{id}"),
        object_type: "User".into(),
        dn: id.into(),
        modification: ObjectModification::Replace,
        anchor: vec![AnchorAttribute {
            name: "EmployeeId".into(),
            value: Value::String(id.into()),
        }],
        changes,
    }
}

fn delete(id: &str) -> CsEntryChange {
    CsEntryChange {
        identifier: format!("delete-{id}"),
        modification: ObjectModification::Delete,
        changes: Vec::new(),
        ..update(id, Vec::new())
    }
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn export(
    c: &PluginConnector,
    values: &ParameterValues,
    batch: &[CsEntryChange],
) -> Vec<ExportResult> {
    let schema = c.schema(values).unwrap();
    let request = ExportRequest {
        export_type: ExportType::AttributeUpdate,
        batch_size: 100,
        partition: String::new(),
    };
    let mut session = c.open_export(values, &schema, &request).unwrap();
    let results = session.put_export_entries(batch).unwrap();
    session.close().unwrap();
    assert_eq!(results.len(), batch.len());
    for (result, entry) in results.iter().zip(batch) {
        assert_eq!(result.identifier, entry.identifier);
    }
    results
}

fn error_kind(result: &ExportResult) -> Option<ExportErrorKind> {
    result.error.as_ref().map(|e| e.kind)
}

fn import_all(c: &PluginConnector, values: &ParameterValues, page_size: u32) -> Vec<ImportPage> {
    let schema = c.schema(values).unwrap();
    let request = ImportRequest {
        kind: ImportKind::Full,
        page_size,
        watermark: String::new(),
        partition: String::new(),
    };
    let mut session = c.open_import(values, &schema, &request).unwrap();
    let mut pages = Vec::new();
    loop {
        let page = session.next_page().unwrap();
        let more = page.more;
        pages.push(page);
        if !more {
            break;
        }
        assert!(pages.len() < 1000, "import does not end");
    }
    assert_eq!(session.close().unwrap(), "");
    pages
}

#[test]
fn info_capabilities_and_connection_test() {
    let db = TestDb::new(EMPLOYEES);
    let c = connector();
    let values = user_params(&db);
    let caps = c.capabilities(&values).unwrap();
    assert_eq!(caps.dn_style, DnStyle::Generic);
    assert_eq!(
        caps.export_type,
        ExportType::AttributeUpdate,
        "generated statements apply value-level changes"
    );
    assert_eq!(caps.object_confirmation, ObjectConfirmation::Normal);
    assert!(caps.concurrent_operations);
    assert!(caps.object_rename, "generated statements apply renames");
    assert!(
        !caps.delta_import
            && !caps.full_export
            && !caps.passwords
            && !caps.partitions
            && !caps.hierarchy
    );
    c.test_connection(&values).unwrap();

    let mut plain_path_values = ParameterValues::new();
    plain_path_values.insert("connection_string", db.path.display().to_string());
    c.test_connection(&plain_path_values).unwrap();

    let mut missing = ParameterValues::new();
    let missing_path = db.path.with_file_name("nope.db");
    missing.insert(
        "connection_string",
        format!("sqlite://{}", missing_path.display()),
    );
    let err = c.test_connection(&missing).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidConfiguration);
    assert!(err.message.contains("nope.db"), "{err}");
    assert!(
        !missing_path.exists(),
        "a missing database file must not be created"
    );

    let err = c.test_connection(&ParameterValues::new()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidConfiguration);
    assert!(err.message.contains("connection_string"));
}

#[test]
fn pages_list_live_tables_and_columns() {
    let db = TestDb::new(&format!(
        "{EMPLOYEES}; CREATE TABLE Groups (Id INTEGER PRIMARY KEY, \"Display Name\" TEXT, Members TEXT);
         CREATE VIEW Active AS SELECT EmployeeId, UserName FROM Employees WHERE IsActive;"
    ));
    let c = connector();
    let mut values = params(&db, &[]);

    let p1 = c
        .config_parameters(ConfigPage::Connectivity, &values)
        .unwrap();
    assert_eq!(
        names(&p1),
        [
            "driver",
            "connection_string",
            "host",
            "port",
            "database",
            "user",
            "password",
            "tls_mode",
            "tls_ca_file",
            "dsn_file",
            "odbc_dialect",
            "pool_size"
        ]
    );
    assert_eq!(options(&p1[0]), ["SQLite", "PostgreSQL", "MySQL", "ODBC"]);
    assert_eq!(
        p1[0].default.as_deref(),
        Some("SQLite"),
        "the driver follows the connection string"
    );
    assert!(p1[1].required, "SQLite needs its connection string");
    assert_eq!(p1[1].kind, ParameterKind::String);
    assert_eq!(def(&p1, "password").kind, ParameterKind::EncryptedString);
    assert!(
        p1.iter().filter(|d| d.required).count() == 2,
        "only the driver and the SQLite file are required"
    );
    let mut pg = ParameterValues::new();
    pg.insert("connection_string", "postgres://u@h/db");
    let p = c.config_parameters(ConfigPage::Connectivity, &pg).unwrap();
    assert_eq!(def(&p, "driver").default.as_deref(), Some("PostgreSQL"));
    assert!(!def(&p, "connection_string").required);
    assert!(!def(&p, "database").required, "the URL names the database");
    // PostgreSQL by its fields, without a URL: the database is asked instead.
    let mut fields = ParameterValues::new();
    fields.insert("driver", "PostgreSQL");
    let p = c
        .config_parameters(ConfigPage::Connectivity, &fields)
        .unwrap();
    assert!(!def(&p, "connection_string").required);
    assert!(def(&p, "database").required);
    assert!(!def(&p, "host").required);

    let p = c.config_parameters(ConfigPage::Schema(1), &values).unwrap();
    assert_eq!(
        names(&p),
        [
            "object_type_detection",
            "object_types",
            "object_type_table",
            "object_type_column",
            "object_type_query"
        ]
    );
    assert_eq!(options(&p[0]), ["Fixed value", "Table", "SQL query"]);
    assert_eq!(p[0].default.as_deref(), Some("Fixed value"));
    assert_eq!(p[1].default.as_deref(), Some("User"));
    assert!(p[1].required);
    assert_eq!(options(&p[2]), ["Employees", "Groups"]);
    assert!(!p[2].required && !p[4].required);

    values.insert("object_types", "User, Groups");
    let p = c.config_parameters(ConfigPage::Schema(2), &values).unwrap();
    let per_type = |t: &str| {
        [
            "attribute_detection",
            "table",
            "view",
            "procedure",
            "attribute_query",
            "multivalued_tables",
        ]
        .map(|s| format!("{t}:{s}"))
    };
    let mut expected = per_type("User").to_vec();
    expected.extend(per_type("Groups"));
    assert_eq!(names(&p), expected);
    assert_eq!(
        options(def(&p, "User:attribute_detection")),
        ["Table", "View", "Stored procedure", "SQL query"],
        "every method is offered, and the description says which drivers have procedures"
    );
    assert!(def(&p, "User:attribute_detection")
        .description
        .contains("SQLite has no stored procedures"));
    let mut by_procedure = values.clone();
    by_procedure.insert("User:attribute_detection", "Stored procedure");
    let issues = c
        .validate_page(ConfigPage::Schema(2), &by_procedure)
        .unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].parameter, "User:attribute_detection");
    assert_eq!(
        issues[0].message,
        "SQLite has no stored procedures; use Table, View or SQL query"
    );
    assert_eq!(
        def(&p, "User:attribute_detection").default.as_deref(),
        Some("Table")
    );
    assert_eq!(options(def(&p, "User:table")), ["Employees", "Groups"]);
    assert_eq!(options(def(&p, "User:view")), ["Active"]);
    assert!(def(&p, "User:table").required);
    assert!(!def(&p, "User:view").required);
    assert_eq!(def(&p, "Groups:table").default.as_deref(), Some("Groups"));

    // A table created after the first call shows up: the list is live.
    db.exec("CREATE TABLE Later (x TEXT)");
    let p = c.config_parameters(ConfigPage::Schema(2), &values).unwrap();
    assert_eq!(
        options(def(&p, "User:table")),
        ["Employees", "Groups", "Later"]
    );
    let mut by_view = values.clone();
    by_view.insert("User:attribute_detection", "View");
    let p = c
        .config_parameters(ConfigPage::Schema(2), &by_view)
        .unwrap();
    assert!(def(&p, "User:view").required && !def(&p, "User:table").required);

    values.insert("User:table", "Employees");
    let p = c.config_parameters(ConfigPage::Schema(3), &values).unwrap();
    assert_eq!(
        names(&p),
        [
            "User:anchor",
            "User:dn",
            "User:dn_is_anchor",
            "Groups:anchor",
            "Groups:dn",
            "Groups:dn_is_anchor"
        ]
    );
    let columns = [
        "EmployeeId",
        "UserName",
        "FirstName",
        "LastName",
        "Email",
        "Department",
        "IsActive",
        "Age",
        "Photo",
    ];
    assert_eq!(options(def(&p, "User:anchor")), columns);
    assert!(def(&p, "User:anchor").required);
    assert_eq!(
        def(&p, "User:anchor").default.as_deref(),
        Some("EmployeeId")
    );
    assert_eq!(options(def(&p, "User:dn")), columns);
    assert!(!def(&p, "User:dn").required);
    assert_eq!(def(&p, "User:dn_is_anchor").kind, ParameterKind::CheckBox);
    assert_eq!(
        def(&p, "User:dn_is_anchor").default.as_deref(),
        Some("true")
    );
    assert_eq!(
        options(def(&p, "Groups:anchor")),
        ["Id", "Display Name", "Members"]
    );

    let p = c.config_parameters(ConfigPage::Schema(4), &values).unwrap();
    let defaults: BTreeMap<&str, &str> = p
        .iter()
        .map(|d| (d.name.as_str(), d.default.as_deref().unwrap()))
        .collect();
    assert_eq!(defaults["User:EmployeeId:type"], "String");
    assert_eq!(defaults["User:IsActive:type"], "Boolean");
    assert_eq!(defaults["User:Age:type"], "Integer");
    assert_eq!(defaults["User:Photo:type"], "Binary");
    assert_eq!(defaults["Groups:Id:type"], "Integer");
    assert_eq!(defaults["Groups:Display Name:type"], "String");
    assert_eq!(defaults["User:Age:direction"], "ImportExport");
    assert_eq!(p.len(), 2 * (columns.len() + 3));
    assert_eq!(
        options(def(&p, "User:Age:type")),
        ["String", "Integer", "Boolean", "Binary", "Reference"]
    );
    assert_eq!(
        options(def(&p, "User:Age:direction")),
        ["ImportExport", "ImportOnly", "ExportOnly"]
    );

    let p = c.config_parameters(ConfigPage::Global, &values).unwrap();
    assert_eq!(
        names(&p),
        [
            "delta_strategy",
            "watermark_query",
            "date_time_format",
            "change_table",
            "create_change_tracking",
            "snapshot_table"
        ]
    );
    assert_eq!(
        options(&p[0]),
        ["None", "Watermark", "Change tracking", "Snapshot"]
    );
    let p = c.config_parameters(ConfigPage::RunStep, &values).unwrap();
    assert_eq!(
        def(&p, "User:import_method").default.as_deref(),
        Some("Table")
    );
    assert_eq!(def(&p, "User:import").default.as_deref(), Some("Employees"));
    assert_eq!(
        def(&p, "User:export_table").default.as_deref(),
        Some("Employees")
    );
    assert_eq!(
        options(def(&p, "Groups:export_method")),
        ["Table", "Stored procedure", "SQL query"]
    );
    assert!(
        p.iter().all(|d| !d.required),
        "every run step has a default"
    );

    for page in [
        ConfigPage::Capabilities,
        ConfigPage::Partition,
        ConfigPage::Schema(5),
    ] {
        assert!(
            c.config_parameters(page, &values).unwrap().is_empty(),
            "{page:?}"
        );
    }
}

#[test]
fn validation_names_the_parameter() {
    let db = TestDb::new(EMPLOYEES);
    let c = connector();
    let parameters =
        |issues: Vec<ParameterIssue>| issues.into_iter().map(|i| i.parameter).collect::<Vec<_>>();

    let values = user_params(&db);
    for page in [
        ConfigPage::Connectivity,
        ConfigPage::Schema(1),
        ConfigPage::Schema(2),
        ConfigPage::Schema(3),
        ConfigPage::Schema(4),
    ] {
        assert_eq!(c.validate_page(page, &values).unwrap(), [], "{page:?}");
    }

    let mut missing = ParameterValues::new();
    missing.insert(
        "connection_string",
        db.path.with_file_name("gone.db").display().to_string(),
    );
    let issues = c.validate_page(ConfigPage::Connectivity, &missing).unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].parameter, "connection_string");
    assert!(issues[0].message.contains("gone.db"), "{:?}", issues[0]);
    let mut wrong_scheme = ParameterValues::new();
    wrong_scheme.insert("connection_string", "oracle://app:hunter2@localhost/app");
    let issues = c
        .validate_page(ConfigPage::Connectivity, &wrong_scheme)
        .unwrap();
    assert_eq!(parameters(issues.clone()), ["connection_string"]);
    assert!(!issues[0].message.contains("hunter2"));
    let issues = c
        .validate_page(ConfigPage::Connectivity, &ParameterValues::new())
        .unwrap();
    assert_eq!(parameters(issues), ["connection_string"]);

    let bad = params(
        &db,
        &[
            ("object_types", "User,User,A:B"),
            ("object_type_detection", "Magic"),
        ],
    );
    let issues = c.validate_page(ConfigPage::Schema(1), &bad).unwrap();
    assert_eq!(
        parameters(issues),
        ["object_type_detection", "object_types", "object_types"]
    );

    let bad = params(
        &db,
        &[
            ("User:table", "Nope"),
            ("User:attribute_detection", "Query"),
        ],
    );
    let issues = c.validate_page(ConfigPage::Schema(2), &bad).unwrap();
    assert_eq!(
        parameters(issues.clone()),
        ["User:attribute_detection", "User:table"]
    );
    assert!(issues[1].message.contains("Nope"));
    let issues = c
        .validate_page(ConfigPage::Schema(2), &params(&db, &[]))
        .unwrap();
    assert_eq!(
        parameters(issues),
        ["User:table"],
        "no table named like the type, none chosen"
    );

    let bad = params(
        &db,
        &[
            ("User:table", "Employees"),
            ("User:anchor", "Nope"),
            ("User:dn", "Neither"),
            ("User:dn_is_anchor", "perhaps"),
        ],
    );
    let issues = c.validate_page(ConfigPage::Schema(3), &bad).unwrap();
    assert_eq!(
        parameters(issues),
        ["User:anchor", "User:dn", "User:dn_is_anchor"]
    );

    let mut bad = user_params(&db);
    bad.insert("User:Age:type", "Float");
    let issues = c.validate_page(ConfigPage::Schema(4), &bad).unwrap();
    assert_eq!(parameters(issues), ["User:Age:type"]);
}

#[test]
fn schema_has_every_column_with_its_type() {
    let db = TestDb::new(&format!(
        "{EMPLOYEES}; CREATE TABLE \"Odd Table\" (\"key.id\" INTEGER PRIMARY KEY, \"say \"\"hi\"\"\" TEXT, \"[x]\" bool);"
    ));
    let c = connector();
    let mut values = user_params(&db);
    values.insert("User:Department:type", "Reference");
    values.insert("User:Age:type", "String");
    let schema = c.schema(&values).unwrap();
    assert_eq!(schema.object_types.len(), 1);
    let user = schema.object_type("User").unwrap();
    assert_eq!(user.anchor, ["EmployeeId"]);
    let types: Vec<(&str, AttributeType)> = user
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.attribute_type))
        .collect();
    assert_eq!(
        types,
        [
            ("EmployeeId", AttributeType::String),
            ("UserName", AttributeType::String),
            ("FirstName", AttributeType::String),
            ("LastName", AttributeType::String),
            ("Email", AttributeType::String),
            ("Department", AttributeType::Reference),
            ("IsActive", AttributeType::Boolean),
            ("Age", AttributeType::String),
            ("Photo", AttributeType::Binary),
        ]
    );
    assert!(user
        .attributes
        .iter()
        .all(|a| !a.multi_valued && a.direction == AttributeDirection::ImportExport));

    // Two object types, one with names that need quoting, anchor defaulted from the primary key.
    let values = params(
        &db,
        &[
            ("object_types", "User,Odd"),
            ("User:table", "Employees"),
            ("Odd:table", "Odd Table"),
        ],
    );
    let schema = c.schema(&values).unwrap();
    let odd = schema.object_type("Odd").unwrap();
    assert_eq!(odd.anchor, ["key.id"]);
    let names: Vec<&str> = odd.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["key.id", "say \"hi\"", "[x]"]);
    assert_eq!(
        odd.attribute("[x]").unwrap().attribute_type,
        AttributeType::Boolean
    );

    let err = c
        .schema(&params(&db, &[("User:table", "Missing")]))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidConfiguration);
    assert!(err.message.contains("User:table"), "{err}");
}

#[test]
fn full_import_streams_keyset_pages() {
    let db = TestDb::new(EMPLOYEES);
    let mut script = String::from("BEGIN;");
    for i in 0..250 {
        let last = if i % 2 == 0 {
            format!("'Last{i}'")
        } else {
            "NULL".to_string()
        };
        script.push_str(&format!(
            "INSERT INTO Employees (EmployeeId, UserName, FirstName, LastName, IsActive, Age) \
             VALUES ('E{i:04}', 'user{i}', 'First{i}', {last}, {}, {i});",
            i % 3 != 0
        ));
    }
    script.push_str("COMMIT;");
    db.exec(&script);
    let c = connector();
    let mut values = user_params(&db);
    values.insert("User:dn_is_anchor", "false");
    values.insert("User:dn", "UserName");

    let pages = import_all(&c, &values, 100);
    assert_eq!(
        pages.iter().map(|p| p.entries.len()).collect::<Vec<_>>(),
        [100, 100, 50]
    );
    assert_eq!(
        pages.iter().map(|p| p.more).collect::<Vec<_>>(),
        [true, true, false]
    );
    let entries: Vec<&CsEntryChange> = pages.iter().flat_map(|p| &p.entries).collect();
    let ids: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.identifier.as_str()).collect();
    assert_eq!(ids.len(), 250, "every row exactly once");

    let e = entries.iter().find(|e| e.identifier == "E0003").unwrap();
    assert_eq!(e.object_type, "User");
    assert_eq!(e.dn, "user3");
    assert_eq!(e.modification, ObjectModification::Add);
    assert_eq!(
        e.anchor,
        [AnchorAttribute {
            name: "EmployeeId".into(),
            value: s("E0003")
        }]
    );
    assert_eq!(
        e.change("EmployeeId")
            .unwrap()
            .added_values()
            .collect::<Vec<_>>(),
        [&s("E0003")]
    );
    assert_eq!(
        e.change("IsActive")
            .unwrap()
            .added_values()
            .collect::<Vec<_>>(),
        [&Value::Boolean(false)]
    );
    assert_eq!(
        e.change("Age").unwrap().added_values().collect::<Vec<_>>(),
        [&Value::Integer(3)]
    );
    assert!(e.change("LastName").is_none(), "NULL columns are left out");
    assert!(e.change("Email").is_none());
    assert!(e
        .changes
        .iter()
        .all(|c| c.modification == AttributeModification::Add && c.values.len() == 1));
    let e4 = entries.iter().find(|e| e.identifier == "E0004").unwrap();
    assert_eq!(
        e4.change("IsActive").unwrap().added_values().next(),
        Some(&Value::Boolean(true))
    );
    assert_eq!(
        e4.change("LastName").unwrap().added_values().next(),
        Some(&s("Last4"))
    );

    // An exact multiple of the page size ends without an empty page; DN defaults to the anchor.
    let pages = import_all(&c, &user_params(&db), 125);
    assert_eq!(
        pages
            .iter()
            .map(|p| (p.entries.len(), p.more))
            .collect::<Vec<_>>(),
        [(125, true), (125, false)]
    );
    assert_eq!(pages[0].entries[0].dn, pages[0].entries[0].identifier);

    let schema = c.schema(&values).unwrap();
    let delta = ImportRequest {
        kind: ImportKind::Delta,
        page_size: 10,
        watermark: String::new(),
        partition: String::new(),
    };
    let err = c.open_import(&values, &schema, &delta).err().unwrap();
    assert_eq!(err.kind, ErrorKind::NotSupported);
}

#[test]
fn import_walks_every_object_type_in_turn() {
    let db = TestDb::new(&format!(
        "{EMPLOYEES}; CREATE TABLE Groups (Id INTEGER PRIMARY KEY, Name TEXT);
         CREATE TABLE Empty (Id TEXT PRIMARY KEY);
         INSERT INTO Employees (EmployeeId, UserName) VALUES ('a', 'ua'), ('b', 'ub'), ('c', 'uc');
         INSERT INTO Groups (Id, Name) VALUES (10, 'ten'), (2, 'two'), (33, NULL);"
    ));
    let c = connector();
    let values = params(
        &db,
        &[
            ("object_types", "User,Empty,Group"),
            ("User:table", "Employees"),
            ("Group:table", "Groups"),
        ],
    );
    let pages = import_all(&c, &values, 2);
    let seen: Vec<(String, String)> = pages
        .iter()
        .flat_map(|p| &p.entries)
        .map(|e| (e.object_type.clone(), e.identifier.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("User", "a"),
        ("User", "b"),
        ("User", "c"),
        ("Group", "2"),
        ("Group", "10"),
        ("Group", "33"),
    ]
    .iter()
    .map(|(t, i)| (t.to_string(), i.to_string()))
    .collect();
    assert_eq!(seen, expected, "integer anchors page in numeric order");
    assert!(pages.iter().all(|p| p.entries.len() <= 2));
    assert!(!pages.last().unwrap().more);
    let g = pages
        .iter()
        .flat_map(|p| &p.entries)
        .find(|e| e.identifier == "10")
        .unwrap();
    assert_eq!(g.anchor[0].value, Value::Integer(10));
}

#[test]
fn export_add_update_delete() {
    let db = TestDb::new(EMPLOYEES);
    let c = connector();
    let values = user_params(&db);

    let results = export(
        &c,
        &values,
        &[
            add(
                "E1",
                &[
                    ("UserName", s("alice")),
                    ("FirstName", s("Alice")),
                    ("IsActive", Value::Boolean(true)),
                    ("Age", Value::Integer(41)),
                ],
            ),
            add(
                "E2",
                &[
                    ("UserName", s("bob")),
                    ("IsActive", s("False")),
                    ("Age", s("7")),
                    ("Photo", Value::Binary(vec![0, 1, 2])),
                ],
            ),
        ],
    );
    assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
    assert_eq!(
        db.rows("SELECT EmployeeId, UserName, FirstName, IsActive, Age, typeof(Age), hex(Photo) FROM Employees ORDER BY EmployeeId"),
        [
            [Some("E1"), Some("alice"), Some("Alice"), Some("1"), Some("41"), Some("integer"), Some("")],
            [Some("E2"), Some("bob"), None, Some("0"), Some("7"), Some("integer"), Some("000102")],
        ]
        .map(|r| r.map(|v| v.map(str::to_string)).to_vec())
    );

    let results = export(
        &c,
        &values,
        &[
            update(
                "E1",
                vec![
                    AttributeChange::set(
                        "FirstName",
                        AttributeModification::Replace,
                        vec![s("Alicia")],
                    ),
                    AttributeChange::set(
                        "Email",
                        AttributeModification::Replace,
                        vec![s("a@example.com")],
                    ),
                    AttributeChange::set(
                        "IsActive",
                        AttributeModification::Replace,
                        vec![s("false")],
                    ),
                ],
            ),
            CsEntryChange {
                modification: ObjectModification::Update,
                ..update(
                    "E2",
                    vec![
                        AttributeChange::delete("Age"),
                        AttributeChange::delete("Photo"),
                    ],
                )
            },
            update("E2", Vec::new()),
        ],
    );
    assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
    assert_eq!(
        db.rows("SELECT FirstName, Email, IsActive FROM Employees WHERE EmployeeId = 'E1'"),
        [[
            Some("Alicia".to_string()),
            Some("a@example.com".to_string()),
            Some("0".to_string())
        ]]
    );
    assert_eq!(
        db.rows("SELECT Age, Photo FROM Employees WHERE EmployeeId = 'E2'"),
        [[None, None]]
    );

    let results = export(&c, &values, &[delete("E1")]);
    assert!(results[0].error.is_none());
    assert_eq!(
        db.rows("SELECT EmployeeId FROM Employees"),
        [[Some("E2".to_string())]]
    );
}

#[test]
fn one_failing_entry_does_not_sink_the_batch() {
    let db = TestDb::new(&format!(
        "{EMPLOYEES}; INSERT INTO Employees (EmployeeId, UserName) VALUES ('E1', 'alice');"
    ));
    let c = connector();
    let values = user_params(&db);
    let results = export(
        &c,
        &values,
        &[
            add("E2", &[("UserName", s("bob"))]),
            add("E1", &[("UserName", s("other"))]),
            add("E3", &[("UserName", s("alice"))]),
            add("E4", &[("FirstName", s("no user name"))]),
            update(
                "E9",
                vec![AttributeChange::set(
                    "FirstName",
                    AttributeModification::Replace,
                    vec![s("x")],
                )],
            ),
            update("E9", Vec::new()),
            delete("E9"),
            add("E5", &[("UserName", s("carol")), ("IsActive", s("maybe"))]),
            add("E6", &[("UserName", s("dave")), ("Age", s("forty"))]),
            add("E7", &[("UserName", s("erin"))]),
        ],
    );
    let kinds: Vec<Option<ExportErrorKind>> = results.iter().map(error_kind).collect();
    use ExportErrorKind::*;
    assert_eq!(
        kinds,
        [
            None,
            Some(ObjectAlreadyExists),
            Some(ObjectAlreadyExists),
            Some(SyntaxViolation),
            Some(NoSuchObject),
            Some(NoSuchObject),
            Some(NoSuchObject),
            Some(SyntaxViolation),
            Some(SyntaxViolation),
            None,
        ]
    );
    let not_null = results[3].error.as_ref().unwrap();
    assert!(
        not_null.message.contains("NOT NULL") && not_null.message.contains("UserName"),
        "{not_null:?}"
    );
    assert!(results[7]
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("IsActive"));
    assert_eq!(
        db.rows("SELECT EmployeeId, UserName FROM Employees ORDER BY EmployeeId"),
        [["E1", "alice"], ["E2", "bob"], ["E7", "erin"]]
            .map(|r| r.map(|v| Some(v.to_string())).to_vec())
    );
}

#[test]
fn injection_payloads_are_plain_data() {
    let db = TestDb::new(EMPLOYEES);
    let c = connector();
    let values = user_params(&db);
    let payloads = [
        "x'); DROP TABLE Employees; --",
        "\"; DELETE FROM Employees; --",
        "Robert'); --",
        "?",
        "' OR '1'='1",
    ];
    let batch: Vec<CsEntryChange> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            add(
                &format!("{p}{i}"),
                &[("UserName", s(p)), ("LastName", s(p))],
            )
        })
        .collect();
    let results = export(&c, &values, &batch);
    assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
    assert_eq!(db.count("Employees"), payloads.len());
    for (i, p) in payloads.iter().enumerate() {
        let id = format!("{p}{i}");
        let results = export(
            &c,
            &values,
            &[update(
                &id,
                vec![AttributeChange::set(
                    "FirstName",
                    AttributeModification::Replace,
                    vec![s(p)],
                )],
            )],
        );
        assert!(results[0].error.is_none(), "{results:?}");
    }
    let rows =
        db.rows("SELECT EmployeeId, UserName, LastName, FirstName FROM Employees ORDER BY rowid");
    for (row, (i, p)) in rows.iter().zip(payloads.iter().enumerate()) {
        assert_eq!(row[0].as_deref(), Some(format!("{p}{i}").as_str()));
        assert!(row[1..].iter().all(|v| v.as_deref() == Some(*p)), "{row:?}");
    }

    // A hostile attribute name is refused as unknown, before any SQL is built from it.
    let evil = "FirstName\" = 'x'; DROP TABLE Employees; --";
    let results = export(
        &c,
        &values,
        &[update(
            &format!("{}0", payloads[0]),
            vec![AttributeChange::set(
                evil,
                AttributeModification::Replace,
                vec![s("x")],
            )],
        )],
    );
    assert_eq!(
        error_kind(&results[0]),
        Some(ExportErrorKind::SyntaxViolation)
    );
    assert_eq!(db.count("Employees"), payloads.len());
    // The import reads everything back verbatim, too.
    let imported: Vec<CsEntryChange> = import_all(&c, &values, 2)
        .into_iter()
        .flat_map(|p| p.entries)
        .collect();
    assert_eq!(imported.len(), payloads.len());
    assert!(imported
        .iter()
        .any(|e| e.change("UserName").unwrap().added_values().next() == Some(&s(payloads[0]))));
}

#[test]
fn unknown_attributes_and_object_types_are_rejected() {
    let db = TestDb::new(EMPLOYEES);
    let c = connector();
    let values = user_params(&db);
    let results = export(
        &c,
        &values,
        &[
            add("E1", &[("UserName", s("alice")), ("Nickname", s("al"))]),
            update(
                "E1",
                vec![AttributeChange::set(
                    "nope",
                    AttributeModification::Replace,
                    vec![s("x")],
                )],
            ),
            CsEntryChange {
                object_type: "Printer".into(),
                ..add("P1", &[])
            },
            CsEntryChange {
                anchor: Vec::new(),
                dn: String::new(),
                ..delete("E1")
            },
            add("E2", &[("UserName", s("bob")), ("FirstName", s("a"))]),
            CsEntryChange {
                anchor: Vec::new(),
                dn: String::new(),
                ..add("E3", &[("UserName", s("carol"))])
            },
        ],
    );
    assert_eq!(
        error_kind(&results[0]),
        Some(ExportErrorKind::SyntaxViolation)
    );
    assert!(results[0]
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("Nickname"));
    assert_eq!(
        error_kind(&results[1]),
        Some(ExportErrorKind::SyntaxViolation)
    );
    assert!(results[1].error.as_ref().unwrap().message.contains("nope"));
    assert_eq!(
        error_kind(&results[2]),
        Some(ExportErrorKind::SyntaxViolation)
    );
    assert!(results[2]
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("Printer"));
    assert_eq!(
        error_kind(&results[3]),
        Some(ExportErrorKind::MissingAnchorComponent)
    );
    assert_eq!(error_kind(&results[4]), None);
    // SQLite would accept a NULL TEXT primary key; a row nobody can address must not stay.
    assert_eq!(
        error_kind(&results[5]),
        Some(ExportErrorKind::MissingAnchorComponent)
    );
    assert_eq!(
        db.rows("SELECT EmployeeId FROM Employees"),
        [[Some("E2".to_string())]]
    );
}

#[test]
fn quoted_names_and_assigned_anchors() {
    let db = TestDb::new("CREATE TABLE \"My Things\" (\"the id\" INTEGER PRIMARY KEY, \"a.b\" TEXT, \"say \"\"hi\"\"\" TEXT, \"flag?\" BOOLEAN)");
    let c = connector();
    let values = params(
        &db,
        &[("object_types", "Thing"), ("Thing:table", "My Things")],
    );
    let entry = |changes: Vec<AttributeChange>| CsEntryChange {
        identifier: "t".into(),
        object_type: "Thing".into(),
        dn: String::new(),
        modification: ObjectModification::Add,
        anchor: Vec::new(),
        changes,
    };
    let results = export(
        &c,
        &values,
        &[entry(vec![
            AttributeChange::set("a.b", AttributeModification::Add, vec![s("dotted")]),
            AttributeChange::set("say \"hi\"", AttributeModification::Add, vec![s("quoted")]),
            AttributeChange::set(
                "flag?",
                AttributeModification::Add,
                vec![Value::Boolean(true)],
            ),
        ])],
    );
    assert!(results[0].error.is_none(), "{results:?}");
    assert_eq!(
        results[0].anchor,
        [AnchorAttribute {
            name: "the id".into(),
            value: Value::Integer(1)
        }]
    );

    let imported: Vec<CsEntryChange> = import_all(&c, &values, 10)
        .into_iter()
        .flat_map(|p| p.entries)
        .collect();
    assert_eq!(imported.len(), 1);
    let e = &imported[0];
    assert_eq!(e.identifier, "1");
    assert_eq!(
        e.change("say \"hi\"").unwrap().added_values().next(),
        Some(&s("quoted"))
    );
    assert_eq!(
        e.change("a.b").unwrap().added_values().next(),
        Some(&s("dotted"))
    );
    assert_eq!(
        e.change("flag?").unwrap().added_values().next(),
        Some(&Value::Boolean(true))
    );

    // With the DN as anchor, a delete may name the object by DN alone.
    let results = export(
        &c,
        &values,
        &[CsEntryChange {
            modification: ObjectModification::Delete,
            dn: "1".into(),
            ..entry(Vec::new())
        }],
    );
    assert!(results[0].error.is_none(), "{results:?}");
    assert_eq!(db.count("My Things"), 0);
}

#[test]
fn concurrent_callers_and_instances() {
    // Several host threads call one instance at once, and a second instance (its own pool,
    // as a second configured connector would have) writes the same file: first connections
    // race to switch the file to WAL, batches contend for the write lock, imports read
    // alongside. Nothing may fail.
    let db = TestDb::new(EMPLOYEES);
    let instances = [connector(), connector()];
    let values = user_params(&db);
    std::thread::scope(|scope| {
        for t in 0..6 {
            let (c, values) = (&instances[t % 2], &values);
            scope.spawn(move || {
                for b in 0..10 {
                    let batch: Vec<CsEntryChange> = (0..20)
                        .map(|i| {
                            add(
                                &format!("T{t}B{b}I{i}"),
                                &[("UserName", s(&format!("u{t}-{b}-{i}")))],
                            )
                        })
                        .collect();
                    let results = export(c, values, &batch);
                    assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
                    if b % 3 == 0 {
                        import_all(c, values, 50);
                    }
                }
            });
        }
    });
    assert_eq!(db.count("Employees"), 6 * 10 * 20);
    let imported: usize = import_all(&instances[0], &values, 500)
        .iter()
        .map(|p| p.entries.len())
        .sum();
    assert_eq!(imported, 6 * 10 * 20);
}

#[test]
fn the_built_library_loads_and_works() {
    // The cdylib cargo built with this test binary: beside it in deps/ (`cargo test`), or one
    // level up (`cargo build`). Copied to a path of its own as the host's plugin cache does, so
    // a concurrent rebuild cannot change it.
    let exe = std::env::current_exe().unwrap();
    let name = format!(
        "{}ecma_sql{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let deps = exe.parent().unwrap();
    let built = [deps.join(&name), deps.parent().unwrap().join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .expect("the SQL connector's cdylib was built with its tests");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(built.file_name().unwrap());
    std::fs::copy(&built, &copy).unwrap();

    let library = load_library(&copy).unwrap();
    assert_eq!(library.info().name, "sql");
    assert_eq!(library.info().version, env!("CARGO_PKG_VERSION"));
    let c = library.new_connector().unwrap();
    let db = TestDb::new(EMPLOYEES);
    let values = user_params(&db);
    c.test_connection(&values).unwrap();
    let results = export(&c, &values, &[add("E1", &[("UserName", s("alice"))])]);
    assert!(results[0].error.is_none(), "{results:?}");
    let pages = import_all(&c, &values, 10);
    assert_eq!(pages[0].entries[0].identifier, "E1");
}
