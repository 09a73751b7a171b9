//! `ecmahost connector import-now NAME [--delta] [--wait]`: start an import on a running host
//! and, with `--wait`, follow it in `/status` until it ends.

use std::time::Duration;

use serde_json::Value as Json;

use super::{AdminClient, OperateError};

/// The connector's entry in `/status`.
async fn connector_status(client: &AdminClient, name: &str) -> Result<Json, OperateError> {
    let status = client.get_json("/status").await?;
    Ok(status["connectors"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|c| {
                    c["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .cloned()
        })
        .unwrap_or(Json::Null))
}

/// Start the import; with `wait`, poll until it ends and return its `last_import` line.
pub async fn run(
    client: &AdminClient,
    name: &str,
    delta: bool,
    wait: bool,
) -> Result<String, OperateError> {
    let before = connector_status(client, name).await?["last_import"]["finished_at"].clone();
    let kind = if delta { "delta" } else { "full" };
    let path = format!(
        "/connectors/{}/import?kind={kind}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    );
    client.post(&path).await?;
    let mut out = format!("{kind} import of {name} started on {}\n", client.base());
    if !wait {
        out.push_str("follow it with `ecmahost status`\n");
        return Ok(out);
    }
    // Bounded: a day of polling, twice a second.
    for _ in 0..(2 * 86_400) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = connector_status(client, name).await?;
        let last = &status["last_import"];
        if status.get("import").is_none() && last["finished_at"] != before && !last.is_null() {
            match last["error"].as_str() {
                Some(error) => {
                    return Err(OperateError::Refused {
                        url: client.base().to_string(),
                        status: 500,
                        detail: format!("the {kind} import of {name} failed: {error}"),
                    })
                }
                None => {
                    out.push_str(&format!(
                        "{kind} import of {name} finished: {} object(s) in {} s\n",
                        last["objects"], last["seconds"]
                    ));
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}
