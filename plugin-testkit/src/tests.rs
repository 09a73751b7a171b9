//! The harness against a well-behaved connector (the host's faulty connector, asked nicely) and
//! against one that breaks each rule the harness promises to catch.

use ecma_faulty::FaultyConnector;
use ecma_plugin_api::*;

use crate::entry::{self, add, delete, update};
use crate::{ConnectorHarness, HarnessError};

fn faulty() -> ConnectorHarness {
    ConnectorHarness::in_process::<FaultyConnector>().unwrap()
}

#[test]
fn walks_pages_and_round_trips_an_export_through_import() {
    let mut h = faulty();
    let walk = h.configure().unwrap();
    assert_eq!(walk.pages.len(), 1);
    assert_eq!(walk.pages[0].page, ConfigPage::Connectivity);
    h.test_connection().unwrap();
    assert_eq!(h.schema().unwrap().object_types[0].anchor, vec!["Id"]);

    let results = h
        .export([
            add("User", "Id", "alice").set("Name", "Alice"),
            add("User", "Id", "bob").set("Name", "Bob"),
        ])
        .unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].identifier, "add-alice");
    assert!(results.iter().all(|r| r.error.is_none()));

    let refused = h.export([add("User", "Id", "alice")]).unwrap();
    assert_eq!(
        refused[0].error.as_ref().unwrap().kind,
        ExportErrorKind::ObjectAlreadyExists
    );
    let err = h.export_ok([add("User", "Id", "alice")]).unwrap_err();
    assert!(matches!(err, HarnessError::ExportRefused { .. }), "{err}");

    h.export_ok([update("User", "Id", "bob").set("Name", "Robert")])
        .unwrap();
    h.export_ok([delete("User", "Id", "alice")]).unwrap();
    let run = h.full_import().unwrap();
    assert_eq!(run.anchors(), vec!["bob"]);
    assert_eq!(run.text("bob", "Name").as_deref(), Some("Robert"));
    assert_eq!(run.page_sizes, vec![1]);
}

#[test]
fn a_panic_is_a_connector_error_of_kind_panic() {
    let mut h = faulty().with("panic_in", "schema");
    let err = h.schema().unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Panic));
    assert!(err.to_string().starts_with("schema failed"), "{err}");
}

#[test]
fn one_session_serves_several_batches() {
    let mut h = faulty();
    let mut connection = h.open_export().unwrap();
    connection.put([add("User", "Id", "a")]).unwrap();
    connection.put([add("User", "Id", "b")]).unwrap();
    connection.close().unwrap();
    assert_eq!(h.full_import().unwrap().entries.len(), 2);
}

#[test]
fn duplicate_identifiers_in_a_batch_are_the_test_s_bug() {
    let mut h = faulty();
    let err = h
        .export([
            add("User", "Id", "a").set("Name", "1"),
            add("User", "Id", "a").set("Name", "2"),
        ])
        .unwrap_err();
    assert!(matches!(err, HarnessError::DuplicateIdentifier(ref id) if id == "add-a"));
}

#[test]
fn builders_fill_identifier_dn_and_modifications() {
    let e = add("User", "Id", "alice")
        .set("Name", "Alice")
        .set_values("Groups", ["a", "b"])
        .build();
    assert_eq!(e.dn, "CN=alice,OBJECT=USER");
    assert_eq!(
        e.change("Name").unwrap().modification,
        AttributeModification::Add
    );
    assert_eq!(entry::values(&e, "Groups").len(), 2);

    let e = update("User", "Id", 7)
        .add_values("Groups", ["c"])
        .remove_values("Groups", ["a"])
        .identifier("mine")
        .dn("uid=7")
        .build();
    assert_eq!(e.identifier, "mine");
    assert_eq!(e.dn, "uid=7");
    assert_eq!(e.anchor[0].value, Value::Integer(7));
    assert_eq!(e.changes.len(), 2);
    assert_eq!(
        e.changes[1].values[0].modification,
        ValueModification::Delete
    );

    let e = entry::replace("User", "Id", "x").set("Flag", true).build();
    assert_eq!(e.changes[0].modification, AttributeModification::Replace);
    let target = entry::password_target("User", "Id", "x");
    assert_eq!(target.anchor[0].value, Value::String("x".into()));
}

#[test]
fn passwords_reach_the_connector() {
    let mut h = faulty();
    let target = entry::password_target("User", "Id", "alice");
    // The faulty connector sets passwords on objects it holds, and refuses `too-weak`.
    let err = h
        .set_password(&target, "n3w-Passw0rd", PasswordOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Other), "no such object yet");
    h.export_ok([add("User", "Id", "alice").set("Name", "Alice")])
        .unwrap();
    h.set_password(&target, "n3w-Passw0rd", PasswordOptions::default())
        .unwrap();
    let err = h
        .set_password(&target, "too-weak", PasswordOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Other));
    // It keeps the trait's default for changing: not supported.
    let err = h.change_password(&target, "old", "n3w").unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotSupported));
}

#[test]
fn loading_a_missing_library_is_a_load_error() {
    let err = match ConnectorHarness::load(std::path::Path::new("/nonexistent/libnothing.so")) {
        Err(e) => e,
        Ok(_) => panic!("loaded a missing library"),
    };
    assert!(matches!(
        err,
        HarnessError::Load(LoadError::NotFound { .. })
    ));
}

#[test]
fn a_built_library_runs_like_an_in_process_connector() {
    // Cargo builds a dependency's cdylib next to the test executable.
    let path = std::env::current_exe()
        .unwrap()
        .with_file_name("libecma_faulty.so");
    let mut h = ConnectorHarness::load(&path).unwrap();
    assert_eq!(h.library().unwrap().info().name, "faulty");
    h.configure().unwrap();
    h.export_ok([add("User", "Id", "carol").set("Name", "Carol")])
        .unwrap();
    assert_eq!(h.full_import().unwrap().anchors(), vec!["carol"]);
}

/// A connector that breaks the rule its connectivity answer `break` names.
struct Misbehaving;

fn rule(values: &ParameterValues) -> String {
    values.get("break").unwrap_or_default().to_string()
}

impl Connector for Misbehaving {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "misbehaving".into(),
            version: "0".into(),
            description: String::new(),
        }
    }
    fn new() -> Result<Self, ConnectorError> {
        Ok(Misbehaving)
    }
    fn config_parameters(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterDefinition>, ConnectorError> {
        let rule = rule(values);
        Ok(match page {
            ConfigPage::Connectivity => vec![
                ParameterDefinition::new("break", ParameterKind::String),
                ParameterDefinition::new("needed", ParameterKind::String).required(),
                ParameterDefinition::new("colour", ParameterKind::String).with_default("blue"),
                ParameterDefinition::new("note", ParameterKind::Label).required(),
            ],
            ConfigPage::Schema(n) if rule == "endless_schema" => {
                vec![ParameterDefinition::new(
                    format!("s{n}"),
                    ParameterKind::String,
                )]
            }
            ConfigPage::Schema(1) => vec![ParameterDefinition::new("table", ParameterKind::String)],
            ConfigPage::Global if rule == "duplicate" => {
                vec![ParameterDefinition::new("table", ParameterKind::String)]
            }
            _ => Vec::new(),
        })
    }
    fn validate_page(
        &self,
        page: ConfigPage,
        values: &ParameterValues,
    ) -> Result<Vec<ParameterIssue>, ConnectorError> {
        Ok(match (page, values.get("colour")) {
            (ConfigPage::Connectivity, Some("red")) => vec![ParameterIssue {
                parameter: "colour".into(),
                message: "red is not allowed".into(),
            }],
            _ => Vec::new(),
        })
    }
    fn capabilities(&self, _: &ParameterValues) -> Result<Capabilities, ConnectorError> {
        Ok(Capabilities::default())
    }
    fn schema(&self, _: &ParameterValues) -> Result<Schema, ConnectorError> {
        Ok(Schema::default())
    }
    fn test_connection(&self, _: &ParameterValues) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn open_import(
        &self,
        values: &ParameterValues,
        _: &Schema,
        _: &ImportRequest,
    ) -> Result<Box<dyn ImportSession>, ConnectorError> {
        Ok(Box::new(EndlessImport(rule(values) == "endless_import")))
    }
    fn open_export(
        &self,
        values: &ParameterValues,
        _: &Schema,
        _: &ExportRequest,
    ) -> Result<Box<dyn ExportSession>, ConnectorError> {
        Ok(Box::new(BadExport(rule(values))))
    }
}

struct EndlessImport(bool);

impl ImportSession for EndlessImport {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        Ok(ImportPage {
            entries: Vec::new(),
            more: self.0,
        })
    }
    fn close(&mut self) -> Result<String, ConnectorError> {
        Ok("w1".into())
    }
}

struct BadExport(String);

impl ExportSession for BadExport {
    fn put_export_entries(
        &mut self,
        batch: Vec<CsEntryChange>,
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        let mut results: Vec<ExportResult> = batch
            .iter()
            .map(|e| ExportResult::success(&e.identifier))
            .collect();
        match self.0.as_str() {
            "extra_result" => results.push(ExportResult::success("extra")),
            "missing_result" => {
                results.pop();
            }
            "wrong_identifier" => results[0].identifier = "nobody".into(),
            "twice" => results[1].identifier = results[0].identifier.clone(),
            "reversed" => results.reverse(),
            _ => {}
        }
        Ok(results)
    }
}

fn misbehaving(rule: &str) -> ConnectorHarness {
    ConnectorHarness::in_process::<Misbehaving>()
        .unwrap()
        .with("break", rule)
        .with("needed", "yes")
}

#[test]
fn page_walk_reports_issues_unanswered_and_fills_defaults_only_when_asked() {
    let mut h = ConnectorHarness::in_process::<Misbehaving>().unwrap();
    let walk = h.walk_pages().unwrap();
    assert_eq!(
        walk.pages.len(),
        1,
        "the walk stops at the invalid connectivity page"
    );
    let connectivity = walk.page(ConfigPage::Connectivity).unwrap();
    // Labels are never answered, so a "required" label is not reported.
    assert_eq!(connectivity.unanswered, vec!["needed"]);
    assert!(h.parameters().get("colour").is_none());
    assert!(!walk.is_valid());
    assert_eq!(
        walk.problems(),
        vec!["connectivity.needed: required, but not answered"]
    );

    let walk = h.walk_pages_with_defaults().unwrap();
    assert_eq!(h.parameters().get("colour"), Some("blue"));
    assert!(
        walk.definition("table").is_none(),
        "still stopped at connectivity"
    );

    h.answer("needed", "x");
    let walk = h.walk_pages_with_defaults().unwrap();
    assert!(walk.is_valid());
    assert!(walk.definition("table").is_some());

    h.answer("colour", "red");
    let err = h.configure().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the parameter answers are not valid:\nconnectivity.colour: red is not allowed"
    );
    assert_eq!(h.walk_pages().unwrap().issues().count(), 1);
}

#[test]
fn fill_defaults_fills_only_unanswered_parameters() {
    let mut h = misbehaving("");
    h.answer("colour", "green");
    let definitions = h.page(ConfigPage::Connectivity).unwrap().definitions;
    assert!(h.fill_defaults(&definitions).is_empty());
    assert_eq!(h.parameters().get("colour"), Some("green"));
}

#[test]
fn duplicate_parameter_names_across_pages_are_caught() {
    let err = misbehaving("duplicate").walk_pages().unwrap_err();
    assert!(
        matches!(&err, HarnessError::DuplicateParameter { name, first, second }
            if name == "table" && first == "schema1" && second == "global"),
        "{err}"
    );
}

#[test]
fn endless_schema_pages_are_caught() {
    let err = misbehaving("endless_schema").walk_pages().unwrap_err();
    assert!(matches!(err, HarnessError::EndlessSchemaPages(32)), "{err}");
}

#[test]
fn endless_imports_are_caught() {
    let mut h = misbehaving("endless_import").with_max_import_pages(50);
    let err = h.full_import().unwrap_err();
    assert!(
        matches!(err, HarnessError::EndlessImport { pages: 50 }),
        "{err}"
    );
    let run = misbehaving("").delta_import("w0").unwrap();
    assert_eq!(run.watermark, "w1");
}

#[test]
fn every_broken_export_contract_fails_loudly() {
    let batch = || [add("User", "Id", "a"), add("User", "Id", "b")];
    let err = misbehaving("extra_result").export(batch()).unwrap_err();
    assert!(matches!(
        err,
        HarnessError::WrongResultCount {
            entries: 2,
            results: 3
        }
    ));
    let err = misbehaving("missing_result").export(batch()).unwrap_err();
    assert!(matches!(
        err,
        HarnessError::WrongResultCount {
            entries: 2,
            results: 1
        }
    ));
    let err = misbehaving("wrong_identifier").export(batch()).unwrap_err();
    assert!(matches!(err, HarnessError::UnexpectedResult(ref id) if id == "nobody"));
    let err = misbehaving("twice").export(batch()).unwrap_err();
    assert!(matches!(err, HarnessError::UnexpectedResult(ref id) if id == "add-a"));
    // Order is free: results come back in the batch's order.
    let results = misbehaving("reversed").export(batch()).unwrap();
    assert_eq!(results[0].identifier, "add-a");
}
