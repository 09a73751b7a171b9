//! `connector rotate-token`: a new token's hash in the file, the old hash kept as
//! `previous_token_hash` until `previous_token_expires`, so that requests with the old token
//! keep working while the IdP is given the new one. The running host reloads the file.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::config::ConnectorConfig;
use crate::token::{generate_token, hash_token};

pub(super) fn rotate(file: &Path, overlap: Duration) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", file.display()))?;
    let Some(old) = doc
        .get("token_hash")
        .and_then(|v| v.as_str())
        .map(str::to_string)
    else {
        bail!("{}: key `token_hash`: missing, so there is no token to rotate; run `ecmahost token generate` and add its line", file.display());
    };
    let token = generate_token();
    doc["token_hash"] = toml_edit::value(hash_token(&token)?.to_string());
    let expires = chrono::Utc::now()
        + chrono::Duration::from_std(overlap).context("the overlap is too long")?;
    let expires = expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if overlap.is_zero() {
        doc.remove("previous_token_hash");
        doc.remove("previous_token_expires");
    } else {
        doc["previous_token_hash"] = toml_edit::value(old);
        doc["previous_token_expires"] = toml_edit::value(expires.clone());
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(file)?.permissions());
    crate::tls::write_file(file, doc.to_string().as_bytes(), mode & 0o7777)?;
    if let Err(e) = ConnectorConfig::load(file) {
        println!("warning: the file does not load now (it did not before either?): {e}");
    }
    println!("new token (shown once; give it to the IdP as the Secret Token): {token}");
    match overlap.is_zero() {
        true => println!("the old token stopped working"),
        false => println!("the old token is accepted until {expires}"),
    }
    println!("wrote {}; a running host reloads it", file.display());
    Ok(())
}
