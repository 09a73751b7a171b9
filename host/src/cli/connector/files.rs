//! Connector files: finding one by connector name, hiding its secrets for display, deleting
//! it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::HostConfig;

/// The `name` a connector file declares, read leniently (the file may be invalid otherwise).
pub(super) fn declared_name(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    doc.get("name")?.as_str().map(str::to_string)
}

/// The file of connector `connector` (its `name`), or `connector` itself when it is a path to
/// a file.
pub fn find_connector(host: &HostConfig, connector: &str) -> anyhow::Result<PathBuf> {
    let as_path = Path::new(connector);
    if as_path.extension().is_some_and(|e| e == "toml") && as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    let files = host.connector_files()?;
    let mut found: Vec<PathBuf> = files
        .iter()
        .filter(|f| declared_name(f).as_deref() == Some(connector))
        .cloned()
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => {
            let known: Vec<String> = files.iter().filter_map(|f| declared_name(f)).collect();
            bail!(
                "no connector named `{connector}` in {} (connector names are case-sensitive){}",
                host.connectors_dir.display(),
                match known.is_empty() {
                    true => "; it has no connector files".to_string(),
                    false => format!("; it has {}", known.join(", ")),
                }
            )
        }
        _ => bail!(
            "connector `{connector}` is named by several files ({}); give the file instead",
            found
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Whether a parameter's name says it holds a secret.
fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "credential",
        "private",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `value` with the password of a URL's user information (`scheme://user:password@host`) or of
/// a `PWD=`/`password=` pair replaced.
fn redact_inline(value: &str) -> String {
    let mut out = value.to_string();
    if let Some((scheme, rest)) = value.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            if let Some((user, _)) = userinfo.split_once(':') {
                out = format!("{scheme}://{user}:<redacted>@{host}");
            }
        }
    }
    out.split(';')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_name(k.trim()) => format!("{k}=<redacted>"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// A connector file's document with its token hashes and secret parameter values replaced, so
/// that it can be shown or exported. `{ env = ... }` and `{ file = ... }` answers name where a
/// secret is, not the secret, and stay.
pub fn redact_document(doc: &mut toml_edit::DocumentMut) {
    for key in ["token_hash", "previous_token_hash"] {
        if doc.contains_key(key) {
            doc[key] = toml_edit::value("<redacted>");
        }
    }
    let Some(pages) = doc
        .get_mut("parameters")
        .and_then(toml_edit::Item::as_table_like_mut)
    else {
        return;
    };
    for (_, page) in pages.iter_mut() {
        let Some(page) = page.as_table_like_mut() else {
            continue;
        };
        for (name, item) in page.iter_mut() {
            let Some(text) = item.as_str().map(str::to_string) else {
                continue;
            };
            let shown = match secret_name(name.get()) {
                true => "<redacted>".to_string(),
                false => redact_inline(&text),
            };
            if shown != text {
                *item = toml_edit::value(shown);
            }
        }
    }
}

/// Delete a connector's file, after a confirmation unless `yes`.
pub(super) fn delete(host: &HostConfig, file: &Path, yes: bool) -> anyhow::Result<()> {
    let name = declared_name(file).unwrap_or_else(|| file.display().to_string());
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to delete {} without --yes: there is no terminal to confirm on",
                file.display()
            );
        }
        let confirmed =
            inquire::Confirm::new(&format!("Delete connector {name} ({})?", file.display()))
                .with_default(false)
                .prompt()
                .context("no confirmation")?;
        if !confirmed {
            println!("kept {}", file.display());
            return Ok(());
        }
    }
    std::fs::remove_file(file).with_context(|| format!("cannot delete {}", file.display()))?;
    println!(
        "deleted {}; a running host removes connector {name} now",
        file.display()
    );
    let data = host.data_dir.join(&name);
    if data.exists() {
        println!(
            "its data folder {} is kept (watermarks, timestamps); remove it if the connector is gone for good",
            data.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_and_references_to_them_kept() {
        let mut doc: toml_edit::DocumentMut = "token_hash = \"$argon2id$x\"\n# kept\n[parameters.connectivity]\nconnection_string = \"postgres://app:hunter22@db/hr\"\npassword = \"hunter22\"\napi_key = { env = \"KEY\" }\nhost = \"db\"\nodbc = \"DRIVER=x;PWD=hunter22;UID=u\"\n".parse().unwrap();
        redact_document(&mut doc);
        let text = doc.to_string();
        assert!(
            !text.contains("hunter22") && !text.contains("argon2id"),
            "{text}"
        );
        assert!(text.contains("postgres://app:<redacted>@db/hr"), "{text}");
        assert!(text.contains("api_key = { env = \"KEY\" }"), "{text}");
        assert!(
            text.contains("host = \"db\"") && text.contains("# kept"),
            "{text}"
        );
        assert!(text.contains("PWD=<redacted>;UID=u"), "{text}");
    }
}
