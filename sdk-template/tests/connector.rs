//! The CSV connector driven the way the host drives it, through `ecma-plugin-testkit`, against
//! real files in temporary folders. Each test checks the file's bytes, not only what the
//! connector says it did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers: failing loudly is the point.

use std::fs;
use std::path::{Path, PathBuf};

use ecma_csv::CsvConnector;
use ecma_plugin_api::{
    AttributeDirection, AttributeType, ConfigPage, DnStyle, ErrorKind, ExportErrorKind,
    ExportResult, ExportType, ObjectModification, ParameterKind, Value,
};
use ecma_plugin_testkit::entry::{self, add, delete, replace, update};
use ecma_plugin_testkit::{ConnectorHarness, HarnessError};

const PEOPLE: &str = "\
Login,FirstName,LastName,Email,Department
adele,Adele,Vance,adele@contoso.example,Retail
alex,Alex,Wilber,alex@contoso.example,
megan,Megan,Bowen,megan@contoso.example,Finance
";

/// A folder with one CSV file in it.
struct Target {
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Target {
    fn new(content: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("people.csv");
        fs::write(&file, content).unwrap();
        Self { dir, file }
    }

    fn content(&self) -> String {
        fs::read_to_string(&self.file).unwrap()
    }

    fn write(&self, content: &str) {
        fs::write(&self.file, content).unwrap();
    }

    /// A harness with the file answered and the anchor chosen, every page valid.
    fn harness(&self) -> ConnectorHarness {
        let mut h = self.unconfigured().with("anchor", "Login");
        h.configure().unwrap();
        h
    }

    fn unconfigured(&self) -> ConnectorHarness {
        ConnectorHarness::in_process::<CsvConnector>()
            .unwrap()
            .with("file", self.file.display().to_string())
    }

    /// Names in the folder, to prove no temp file is left behind.
    fn folder(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn kind(result: &ExportResult) -> Option<ExportErrorKind> {
    result.error.as_ref().map(|e| e.kind)
}

/// A new `User` row anchored at `login`.
fn user_add(login: &str) -> entry::EntryBuilder {
    add("User", "Login", login)
}

#[test]
fn pages_ask_for_the_file_then_offer_the_header_s_columns_as_anchor() {
    let target = Target::new(PEOPLE);

    // Nothing answered: the walk stops at connectivity, which needs the file.
    let mut bare = ConnectorHarness::in_process::<CsvConnector>().unwrap();
    let walk = bare.walk_pages().unwrap();
    assert_eq!(walk.pages.len(), 1);
    let connectivity = &walk.pages[0];
    assert_eq!(connectivity.unanswered, vec!["file"]);
    assert_eq!(connectivity.issues[0].parameter, "file");
    let names: Vec<&str> = connectivity
        .definitions
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["file", "delimiter", "encoding"]);
    assert_eq!(connectivity.definitions[2].kind, ParameterKind::Label);

    // The file answered: schema page 1 lists the columns and wants one chosen.
    let mut h = target.unconfigured();
    let walk = h.walk_pages_with_defaults().unwrap();
    let schema1 = walk.page(ConfigPage::Schema(1)).unwrap();
    assert_eq!(schema1.unanswered, vec!["anchor"]);
    match &schema1.definition("anchor").unwrap().kind {
        ParameterKind::DropDown {
            options,
            extensible,
        } => {
            assert_eq!(
                options,
                &["Login", "FirstName", "LastName", "Email", "Department"]
            );
            assert!(!extensible);
        }
        other => panic!("anchor is {other:?}"),
    }
    assert_eq!(h.parameters().get("delimiter"), Some(","));
    assert_eq!(h.parameters().get("object_type"), Some("User"));

    h.answer("anchor", "Login");
    let walk = h.configure().unwrap();
    assert_eq!(
        walk.pages.len(),
        2,
        "connectivity and schema1; no other page"
    );
}

#[test]
fn page_validation_names_the_parameter_and_the_problem() {
    let target = Target::new(PEOPLE);
    let problems = |h: &mut ConnectorHarness| h.walk_pages_with_defaults().unwrap().problems();

    let mut h = target.unconfigured().with("delimiter", ";;");
    assert_eq!(
        problems(&mut h),
        ["connectivity.delimiter: \";;\" is not one ASCII character (write `tab` for a tab)"]
    );

    let mut h = ConnectorHarness::in_process::<CsvConnector>()
        .unwrap()
        .with("file", "/nonexistent/people.csv");
    let found = problems(&mut h);
    assert!(
        found[0].starts_with("connectivity.file: cannot read /nonexistent/people.csv"),
        "{found:?}"
    );

    let mut h = target.unconfigured().with("anchor", "Mail");
    let found = problems(&mut h);
    assert!(
        found[0].starts_with("schema1.anchor: 'Mail' is not a column of")
            && found[0].ends_with("(it has: Login, FirstName, LastName, Email, Department)"),
        "{found:?}"
    );

    let empty = Target::new("");
    let mut h = empty.unconfigured();
    let found = problems(&mut h);
    assert!(
        found[0].ends_with("the file has no header row"),
        "{found:?}"
    );
}

#[test]
fn schema_and_capabilities_come_from_the_header() {
    let target = Target::new(PEOPLE);
    let mut h = target.harness();
    let schema = h.schema().unwrap();
    assert_eq!(schema.object_types.len(), 1);
    let users = &schema.object_types[0];
    assert_eq!(users.name, "User");
    assert_eq!(users.anchor, ["Login"]);
    assert_eq!(users.attributes.len(), 5);
    assert!(users
        .attributes
        .iter()
        .all(|a| a.attribute_type == AttributeType::String
            && !a.multi_valued
            && a.direction == AttributeDirection::ImportExport));

    let capabilities = h.capabilities().unwrap();
    assert!(capabilities.delta_import);
    assert_eq!(capabilities.export_type, ExportType::AttributeReplace);
    assert_eq!(capabilities.dn_style, DnStyle::Generic);
    assert!(!capabilities.concurrent_operations);

    h.test_connection().unwrap();
    let mut renamed = target.harness().with("object_type", "Person");
    assert_eq!(renamed.schema().unwrap().object_types[0].name, "Person");
}

#[test]
fn full_import_is_paged_and_leaves_empty_fields_out() {
    let target = Target::new(PEOPLE);
    let mut h = target.harness().with_import_page_size(2);
    let run = h.full_import().unwrap();
    assert_eq!(run.page_sizes, [2, 1]);
    assert_eq!(run.anchors(), ["adele", "alex", "megan"]);
    let alex = run.find("alex").unwrap();
    assert_eq!(alex.modification, ObjectModification::Add);
    assert_eq!(alex.anchor[0].value, Value::String("alex".into()));
    assert_eq!(
        run.text("alex", "Email").as_deref(),
        Some("alex@contoso.example")
    );
    assert!(
        alex.change("Department").is_none(),
        "an empty field is an absent attribute"
    );
    assert!(run.watermark.starts_with("sha256:"));
    assert_eq!(
        target.folder(),
        ["people.csv", "people.csv.snapshot"],
        "the import keeps a snapshot next to the file"
    );

    let mut one_page = target.harness();
    assert_eq!(one_page.full_import().unwrap().page_sizes, [3]);
}

#[test]
fn export_adds_updates_replaces_and_deletes_rows_in_place() {
    let target = Target::new(PEOPLE);
    let mut h = target.harness();
    let results = h
        .export([
            user_add("isaiah")
                .set("FirstName", "Isaiah")
                .set("Email", "isaiah@contoso.example"),
            update("User", "Login", "adele")
                .set("Department", "Sales")
                .clear("Email"),
            replace("User", "Login", "alex").set("LastName", "Wilber-Smith"),
            delete("User", "Login", "megan"),
        ])
        .unwrap();
    assert!(results.iter().all(|r| r.error.is_none()), "{results:?}");
    assert_eq!(
        target.content(),
        "\
Login,FirstName,LastName,Email,Department
adele,Adele,Vance,,Sales
alex,,Wilber-Smith,,
isaiah,Isaiah,,isaiah@contoso.example,
"
    );
    assert_eq!(target.folder(), ["people.csv"], "no temp file left behind");

    // What was written reads back.
    let run = h.full_import().unwrap();
    assert_eq!(run.text("adele", "Department").as_deref(), Some("Sales"));
    assert_eq!(run.anchors(), ["adele", "alex", "isaiah"]);
}

#[test]
fn values_are_quoted_only_when_they_need_it() {
    let target = Target::new("Login,Name,Note\n");
    let mut h = target.harness();
    h.export_ok([
        user_add("a")
            .set("Name", "Doe, Jane")
            .set("Note", "say \"hi\""),
        user_add("b")
            .set("Name", "two\nlines")
            .set("Note", " spaced "),
    ])
    .unwrap();
    assert_eq!(
        target.content(),
        "Login,Name,Note\na,\"Doe, Jane\",\"say \"\"hi\"\"\"\nb,\"two\nlines\", spaced \n"
    );
    let run = h.full_import().unwrap();
    assert_eq!(run.text("b", "Name").as_deref(), Some("two\nlines"));
    assert_eq!(run.text("b", "Note").as_deref(), Some(" spaced "));
}

#[test]
fn other_delimiters_and_dialects_are_kept() {
    let target = Target::new("\u{feff}Login;Name\r\na;x;y\r\n");
    // A ragged row is an error that names the line.
    let mut h = target
        .unconfigured()
        .with("delimiter", ";")
        .with("anchor", "Login");
    let err = h.full_import().unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Other));
    assert!(
        err.to_string().contains("line 2: the row has 3 fields"),
        "{err}"
    );

    target.write("\u{feff}Login;Name\r\na;x\r\n");
    h.configure().unwrap();
    h.export_ok([user_add("b").set("Name", "semi;colon")])
        .unwrap();
    assert_eq!(
        target.content(),
        "\u{feff}Login;Name\r\na;x\r\nb;\"semi;colon\"\r\n"
    );

    let tabs = Target::new("Login\tName\na\tx\n");
    let mut h = tabs
        .unconfigured()
        .with("delimiter", "tab")
        .with("anchor", "Login");
    h.configure().unwrap();
    assert_eq!(
        h.full_import().unwrap().text("a", "Name").as_deref(),
        Some("x")
    );
}

#[test]
fn refused_entries_get_the_ecma2_error_and_leave_the_file_alone() {
    let target = Target::new(PEOPLE);
    let before = fs::metadata(&target.file).unwrap().modified().unwrap();
    let mut h = target.harness();
    let results = h
        .export([
            user_add("adele"),
            update("User", "Login", "nobody").set("Email", "x"),
            delete("User", "Login", "ghost"),
            replace("User", "Login", "ghost"),
            user_add("new1").set("Phone", "555"),
            user_add("new2").set_values("Email", ["a@x", "b@x"]),
            update("User", "Login", "alex").set("Login", "alexander"),
            add("User", "Login", "").identifier("no-anchor"),
            add("Group", "Login", "g1"),
            user_add("new3").set("Email", Value::Binary(vec![1, 2])),
        ])
        .unwrap();
    let kinds: Vec<Option<ExportErrorKind>> = results.iter().map(kind).collect();
    use ExportErrorKind::*;
    assert_eq!(
        kinds,
        [
            Some(ObjectAlreadyExists),
            Some(NoSuchObject),
            Some(NoSuchObject),
            Some(NoSuchObject),
            Some(SyntaxViolation),
            Some(SyntaxViolation),
            Some(SyntaxViolation),
            Some(MissingAnchorComponent),
            Some(SyntaxViolation),
            Some(SyntaxViolation),
        ]
    );
    let message = |i: usize| results[i].error.as_ref().unwrap().message.clone();
    assert!(message(4).contains("no column 'Phone'"), "{}", message(4));
    assert!(
        message(6).contains("anchor and cannot change"),
        "{}",
        message(6)
    );

    // Nothing succeeded, so the file was not even rewritten.
    assert_eq!(target.content(), PEOPLE);
    assert_eq!(
        fs::metadata(&target.file).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn a_batch_applies_what_it_can_and_each_entry_sees_the_ones_before_it() {
    let target = Target::new("Login,Name\n");
    let mut h = target.harness();
    let results = h
        .export([
            user_add("a").set("Name", "first"),
            user_add("a").set("Name", "again").identifier("dup"),
            update("User", "Login", "a").set("Name", "second"),
            user_add("b").set("Unknown", "x"),
        ])
        .unwrap();
    let kinds: Vec<_> = results.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(ExportErrorKind::ObjectAlreadyExists),
            None,
            Some(ExportErrorKind::SyntaxViolation)
        ]
    );
    assert_eq!(target.content(), "Login,Name\na,second\n");
}

#[test]
fn one_export_session_sees_hand_edits_between_batches() {
    let target = Target::new("Login,Name\n");
    let mut h = target.harness();
    let mut session = h.open_export().unwrap();
    session.put([user_add("a")]).unwrap();
    target.write(&(target.content() + "manual,Typed by hand\n"));
    let results = session.put([user_add("b")]).unwrap();
    assert!(results[0].error.is_none());
    session.close().unwrap();
    assert_eq!(
        target.content(),
        "Login,Name\na,\nmanual,Typed by hand\nb,\n"
    );
}

#[test]
fn delta_import_reports_rows_added_changed_and_removed_by_hand() {
    let target = Target::new(PEOPLE);
    let mut h = target.harness();
    let full = h.full_import().unwrap();

    // Edit the file as a person would: change alex, remove megan, add nestor.
    target.write(
        "\
Login,FirstName,LastName,Email,Department
adele,Adele,Vance,adele@contoso.example,Retail
alex,Alex,Wilber,alex@contoso.example,Marketing
nestor,Nestor,Wilke,nestor@contoso.example,Operations
",
    );
    let delta = h.delta_import(&full.watermark).unwrap();
    let changes: Vec<(String, ObjectModification)> = delta
        .entries
        .iter()
        .map(|e| (entry::anchor_text(e), e.modification))
        .collect();
    assert_eq!(
        changes,
        [
            ("alex".to_string(), ObjectModification::Replace),
            ("nestor".to_string(), ObjectModification::Add),
            ("megan".to_string(), ObjectModification::Delete),
        ]
    );
    // A replace carries the whole row.
    assert_eq!(
        delta.text("alex", "Department").as_deref(),
        Some("Marketing")
    );
    assert_eq!(delta.text("alex", "FirstName").as_deref(), Some("Alex"));
    assert!(delta.find("megan").unwrap().changes.is_empty());
    assert_ne!(delta.watermark, full.watermark);

    // Nothing changed since: an empty delta, and the watermark stays the same.
    let again = h.delta_import(&delta.watermark).unwrap();
    assert!(again.entries.is_empty());
    assert_eq!(again.watermark, delta.watermark);

    // The host's own exports show up in the next delta too (that is how ECMA2 confirms them).
    h.export_ok([update("User", "Login", "adele").set("Department", "Sales")])
        .unwrap();
    let confirmed = h.delta_import(&again.watermark).unwrap();
    assert_eq!(confirmed.anchors(), ["adele"]);
}

#[test]
fn delta_import_refuses_a_watermark_that_does_not_name_the_snapshot() {
    let target = Target::new(PEOPLE);
    let mut h = target.harness();

    let err = h.delta_import("").unwrap_err();
    assert!(err.to_string().contains("run a full import first"), "{err}");

    let err = h.delta_import("sha256:00").unwrap_err();
    assert!(err.to_string().contains("snapshot"), "{err}");
    assert!(err.to_string().contains("is missing"), "{err}");

    let first = h.full_import().unwrap();
    target.write(&(target.content() + "zoe,Zoe,,,\n"));
    let second = h.full_import().unwrap();
    // The second import replaced the snapshot the first watermark named.
    let err = h.delta_import(&first.watermark).unwrap_err();
    assert!(
        err.to_string().contains("not the one this watermark names"),
        "{err}"
    );
    assert!(h
        .delta_import(&second.watermark)
        .unwrap()
        .entries
        .is_empty());

    // A snapshot edited by hand is refused too.
    let snapshot = Path::new(&format!("{}.snapshot", target.file.display())).to_path_buf();
    fs::write(&snapshot, "Login\n").unwrap();
    assert!(h.delta_import(&second.watermark).is_err());
}

#[test]
fn an_unreachable_file_is_a_connection_error() {
    let target = Target::new(PEOPLE);
    let mut h = target.harness();
    h.schema().unwrap(); // as the host does when it starts
    fs::remove_file(&target.file).unwrap();
    assert_eq!(
        h.test_connection().unwrap_err().kind(),
        Some(ErrorKind::Connection)
    );
    let err = h.export([user_add("x")]).unwrap_err();
    assert!(
        matches!(&err, HarnessError::Connector { call: "put_export_entries", source } if source.kind == ErrorKind::Connection),
        "{err}"
    );
    assert_eq!(
        h.full_import().unwrap_err().kind(),
        Some(ErrorKind::Connection)
    );
}

#[test]
fn passwords_are_not_supported() {
    let target = Target::new(PEOPLE);
    let h = target.harness();
    let who = entry::password_target("User", "Login", "adele");
    let err = h
        .set_password(&who, "n3w-Secret", Default::default())
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotSupported));
}

#[test]
fn the_built_library_behaves_like_the_in_process_connector() {
    // Cargo builds this package's cdylib next to the test executable's folder.
    let exe = std::env::current_exe().unwrap();
    let library = exe.parent().unwrap().join("libecma_csv.so");
    let library = if library.is_file() {
        library
    } else {
        exe.parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("libecma_csv.so")
    };
    let target = Target::new(PEOPLE);
    let mut h = ConnectorHarness::load(&library)
        .unwrap()
        .with("file", target.file.display().to_string())
        .with("anchor", "Login");
    assert_eq!(h.library().unwrap().info().name, "csv");
    h.configure().unwrap();
    h.export_ok([user_add("zoe").set("FirstName", "Zoe")])
        .unwrap();
    assert!(target.content().ends_with("zoe,Zoe,,,\n"));
    assert_eq!(h.full_import().unwrap().entries.len(), 4);
}
