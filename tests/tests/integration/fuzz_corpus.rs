//! The fuzz corpus as a stable regression test: every input under `fuzz/corpus/{target}/`
//! (seeds, and any crash cargo-fuzz found, once fixed) runs through the same target body as
//! the cargo-fuzz binaries (`fuzz/src/targets.rs`), with no panic.

#[path = "../../../fuzz/src/targets.rs"]
mod targets;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        run(&std::fs::read(&path).unwrap());
        inputs += 1;
    }
    assert!(inputs > 0, "no corpus in {}", dir.display());
}

#[test]
fn filter_corpus() {
    replay("filter", targets::filter);
}

#[test]
fn patch_corpus() {
    replay("patch", targets::patch);
}

#[test]
fn search_corpus() {
    replay("search", targets::search);
}

#[test]
fn connector_toml_corpus() {
    replay("connector_toml", targets::connector_toml);
}

#[test]
fn mapping_corpus() {
    replay("mapping", targets::mapping);
}

#[test]
fn bulk_corpus() {
    replay("bulk", targets::bulk);
}

#[test]
fn ldap_dn_corpus() {
    replay("ldap_dn", targets::ldap_dn);
}

#[test]
fn ws_project_corpus() {
    replay("ws_project", targets::ws_project);
}

#[test]
fn ms_import_corpus() {
    replay("ms_import", targets::ms_import);
}
