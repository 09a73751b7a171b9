//! `ecmahost status`: every connector's state, plugin version, import progress, last import and
//! last error, read from the admin listener's `/status`. On a terminal, running imports show as
//! progress bars (indicatif) until they end.

use std::fmt::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value as Json;

use super::{AdminClient, OperateError};

fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => "-".to_string(),
        other => other.to_string(),
    }
}

/// The report for one `/status` answer.
pub fn render(status: &Json) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "ecmahost {}", text(&status["version"]));
    let cert = &status["certificate"];
    if !cert.is_null() {
        let _ = writeln!(
            out,
            "certificate: {} (SHA-256 {}), expires {} ({} day(s))",
            text(&cert["subject"]),
            text(&cert["sha256_fingerprint"]),
            text(&cert["not_after"]),
            text(&cert["days_left"]),
        );
        if let Some(warning) = cert["warning"].as_str() {
            let _ = writeln!(out, "  warning: {warning}");
        }
    }
    let connectors = status["connectors"].as_array().cloned().unwrap_or_default();
    if connectors.is_empty() {
        let _ = writeln!(out, "no connectors configured");
    }
    for c in &connectors {
        let plugin = match (c["plugin"].as_str(), c["plugin_version"].as_str()) {
            (Some(name), Some(version)) => format!(
                "{name} {version} ({}, {} version(s) loaded)",
                text(&c["content_hash"]),
                text(&c["versions_loaded"])
            ),
            _ => format!("{} (not loaded)", text(&c["plugin_file"])),
        };
        let _ = writeln!(
            out,
            "\n{}: {}\n  plugin:      {plugin}\n  objects:     {}",
            text(&c["name"]),
            text(&c["state"]),
            text(&c["objects"]),
        );
        if let Some(reason) = c["reason"].as_str() {
            let _ = writeln!(out, "  reason:      {reason}");
        }
        if let Some(progress) = c.get("import") {
            let _ = writeln!(out, "  importing:   {}", progress_line(progress));
        }
        let last = &c["last_import"];
        if !last.is_null() {
            let outcome = match last["error"].as_str() {
                Some(error) => format!("failed: {error}"),
                None => format!(
                    "{} object(s) in {} s",
                    text(&last["objects"]),
                    text(&last["seconds"])
                ),
            };
            let _ = writeln!(
                out,
                "  last sync:   {}{} at {}: {outcome}",
                text(&last["kind"]),
                match last["partition"].as_str() {
                    Some(p) => format!(" ({p})"),
                    None => String::new(),
                },
                text(&last["finished_at"]),
            );
        }
        let _ = writeln!(
            out,
            "  reloads:     {} ok, {} refused",
            text(&c["reloads_ok"]),
            text(&c["reloads_failed"])
        );
        // Said once when it is also why the connector does not serve.
        if let Some(error) = c["last_reload_error"]
            .as_str()
            .filter(|e| Some(*e) != c["reason"].as_str())
        {
            let _ = writeln!(out, "  last error:  {error}");
        }
    }
    out
}

/// `full: 1200 of about 5000 object(s), 800/s, 4 s left`.
fn progress_line(p: &Json) -> String {
    let mut line = format!("{}: {}", text(&p["kind"]), text(&p["objects"]));
    if let Some(total) = p["expected_total"].as_u64() {
        let _ = write!(line, " of about {total}");
    }
    let _ = write!(line, " object(s), {}/s", text(&p["objects_per_second"]));
    if let Some(left) = p["seconds_left"].as_u64() {
        let _ = write!(line, ", {left} s left");
    }
    line
}

/// The imports running now, by connector name.
fn running(status: &Json) -> Vec<(String, Json)> {
    status["connectors"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|c| Some((text(&c["name"]), c.get("import")?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// Print the report; on a terminal, follow running imports with progress bars.
pub async fn run(client: &AdminClient) -> Result<(), OperateError> {
    let status = client.get_json("/status").await?;
    print!("{}", render(&status));
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) || running(&status).is_empty() {
        return Ok(());
    }
    println!();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:40}] {pos}/{len} objects, {per_sec}, {eta} left",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let mut shown: Vec<(String, ProgressBar)> = Vec::new();
    // Bounded: a day, twice a second.
    for _ in 0..(2 * 86_400) {
        let status = client.get_json("/status").await?;
        let now = running(&status);
        if now.is_empty() {
            break;
        }
        for (name, progress) in now {
            let bar = match shown.iter().find(|(n, _)| *n == name) {
                Some((_, bar)) => bar.clone(),
                None => {
                    let bar = bars.add(ProgressBar::new(0).with_style(style.clone()));
                    bar.set_prefix(name.clone());
                    shown.push((name, bar.clone()));
                    bar
                }
            };
            let objects = progress["objects"].as_u64().unwrap_or(0);
            bar.set_length(
                progress["expected_total"]
                    .as_u64()
                    .unwrap_or(objects)
                    .max(objects),
            );
            bar.set_position(objects);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for (_, bar) in shown {
        bar.finish();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_shows_state_plugin_progress_last_sync_and_errors() {
        let status = serde_json::json!({
            "version": "0.1.0",
            "connectors": [
                {"name": "demo", "state": "importing", "objects": 10, "plugin": "sql",
                 "plugin_version": "1.2.0", "content_hash": "abc", "versions_loaded": 1,
                 "reloads_ok": 0, "reloads_failed": 1, "last_reload_error": "bad file",
                 "import": {"kind": "full", "objects": 1200, "expected_total": 5000,
                            "objects_per_second": 800.0, "seconds_left": 4},
                 "last_import": {"kind": "full", "finished_at": "2026-01-01T00:00:00.000Z",
                                 "objects": 10, "seconds": 0.5}},
                {"name": "broken", "state": "failed", "reason": "not a library",
                 "plugin_file": "libx.so", "objects": 0, "reloads_ok": 0, "reloads_failed": 0,
                 "last_reload_error": "not a library"}
            ]
        });
        let text = render(&status);
        for needle in [
            "demo: importing",
            "plugin:      sql 1.2.0 (abc, 1 version(s) loaded)",
            "importing:   full: 1200 of about 5000 object(s), 800.0/s, 4 s left",
            "last sync:   full at 2026-01-01T00:00:00.000Z: 10 object(s) in 0.5 s",
            "last error:  bad file",
            "broken: failed",
            "plugin:      libx.so (not loaded)",
            "reason:      not a library",
        ] {
            assert!(text.contains(needle), "missing `{needle}` in\n{text}");
        }
        assert_eq!(
            text.matches("not a library").count(),
            1,
            "the reason is said once:\n{text}"
        );
    }
}
