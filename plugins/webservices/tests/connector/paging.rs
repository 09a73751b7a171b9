//! Paging styles other than the cursor (which the host's integration test covers): an offset
//! kept in a variable (`|add:N`), and next links (absolute URLs from the response).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

const NAMES: [&str; 5] = ["ann", "ben", "cat", "dan", "eve"];
const LIMIT: usize = 2;

/// `/offset/items?offset=&limit=` and `/link/items?page=` over the same five items.
fn app(base: String) -> Router {
    let page = |start: usize| -> Vec<Value> {
        NAMES
            .iter()
            .skip(start)
            .take(LIMIT)
            .map(|n| json!({"id": n, "name": n.to_uppercase()}))
            .collect()
    };
    Router::new()
        .route(
            "/offset/items",
            get(move |Query(q): Query<HashMap<String, usize>>| async move {
                assert_eq!(q.get("limit"), Some(&LIMIT));
                Json(json!({ "items": page(q.get("offset").copied().unwrap_or(0)) }))
            }),
        )
        .route(
            "/link/items",
            get(
                move |State(base): State<String>, Query(q): Query<HashMap<String, usize>>| async move {
                    let n = q.get("page").copied().unwrap_or(0);
                    let next = ((n + 1) * LIMIT < NAMES.len())
                        .then(|| format!("{base}/link/items?page={}", n + 1));
                    Json(json!({ "items": page(n * LIMIT), "next": next }))
                },
            ),
        )
        .with_state(base)
}

fn project(dir: &std::path::Path, port: u16, style: &str, flow: &str) -> std::path::PathBuf {
    crate::write_project(
        dir,
        style,
        &format!(
            r#"version = 1
name = "paging-{style}"

[connection]
base_url = "http://127.0.0.1:{port}/{style}"

[[object_types]]
name = "Item"
anchor = "id"
attributes = [{{ name = "id" }}, {{ name = "name" }}]
{flow}
[[object_types.flows.full_import.steps.steps]]
for_each = "{{response./items}}"
as = "item"
steps = [{{ emit = {{ attributes = {{ id = "{{item./id}}", name = "{{item./name}}" }} }} }}]
"#
        ),
    )
}

fn import_all(project: &std::path::Path) -> Vec<String> {
    let mut h = crate::harness(project).with_import_page_size(2);
    h.configure().unwrap();
    let run = h.full_import().unwrap();
    assert_eq!(run.text("cat", "name").as_deref(), Some("CAT"));
    run.anchors()
}

#[test]
fn offset_and_next_link_paging_read_every_item_once() {
    let (addr, _runtime) = crate::serve(|addr| app(format!("http://{addr}")));
    let (dir, port) = (tempfile::tempdir().unwrap(), addr.port());
    let styles = [
        (
            "offset",
            r#"
[[object_types.flows.full_import.steps]]
set = { "var.offset" = "0" }

[[object_types.flows.full_import.steps]]
do_while = { not_empty = "{response./items}" }
max_iterations = 10

[[object_types.flows.full_import.steps.steps]]
request = { method = "GET", path = "/items", query = { offset = "{var.offset}", limit = "2" } }

[[object_types.flows.full_import.steps.steps]]
set = { "var.offset" = "{var.offset|add:2}" }
"#,
        ),
        (
            "link",
            r#"
[[object_types.flows.full_import.steps]]
set = { "var.next" = "/items" }

[[object_types.flows.full_import.steps]]
do_while = { not_empty = "{var.next}" }
max_iterations = 10

[[object_types.flows.full_import.steps.steps]]
request = { method = "GET", path = "{var.next}", save = { "var.next" = "/next" } }
"#,
        ),
    ];
    for (style, flow) in styles {
        let project = project(dir.path(), port, style, flow);
        assert_eq!(import_all(&project), NAMES, "{}", project.display());
    }
}
