//! Passwords: RFC 3062's Password Modify extended operation where the server offers it (the
//! server hashes), else a replace of the password attribute; a change proves the old one by
//! binding as the user.

use std::collections::HashSet;

use ecma_plugin_api::{ConnectorError, PasswordTarget, Secret};
use ldap3::exop::PasswordModify;
use ldap3::Mod;

use crate::directory::Directory;
use crate::error::check;
use crate::rootdse::oid;
use crate::settings::{ConnectionSettings, PasswordMethod};

fn method(directory: &Directory) -> PasswordMethod {
    directory.global.password_method.unwrap_or(
        if directory
            .discovery
            .root
            .supports_extension(oid::PASSWORD_MODIFY)
        {
            PasswordMethod::Extended
        } else {
            PasswordMethod::Replace
        },
    )
}

/// Set a password as the connector's bind identity.
pub(crate) async fn set(
    directory: &Directory,
    target: &PasswordTarget,
    password: &Secret,
) -> Result<(), ConnectorError> {
    let dn = target.dn.as_str();
    let mut ldap = directory.pool.get().await?;
    let timeout = directory.pool.settings().operation_timeout;
    let operation = format!("set the password of `{dn}`");
    match method(directory) {
        PasswordMethod::Extended => {
            let outcome = ldap
                .with_timeout(timeout)
                .extended(PasswordModify {
                    user_id: Some(dn),
                    old_pass: None,
                    new_pass: Some(password.expose()),
                })
                .await
                .map(|r| r.1);
            check(&operation, outcome, &[])?;
        }
        PasswordMethod::Replace => {
            let attribute = directory.global.password_attribute.as_bytes().to_vec();
            let value: HashSet<Vec<u8>> = [password.expose().as_bytes().to_vec()]
                .into_iter()
                .collect();
            let outcome = ldap
                .with_timeout(timeout)
                .modify(dn, vec![Mod::Replace(attribute, value)])
                .await;
            check(&operation, outcome, &[])?;
        }
    }
    Ok(())
}

/// Change a password: bind as the user with the old one (which proves it), then change it as
/// the user.
pub(crate) async fn change(
    directory: &Directory,
    target: &PasswordTarget,
    old: &Secret,
    new: &Secret,
) -> Result<(), ConnectorError> {
    let as_user = ConnectionSettings {
        binding: match directory.pool.settings().binding {
            crate::settings::Binding::Anonymous | crate::settings::Binding::SaslExternal => {
                crate::settings::Binding::Simple
            }
            b => b,
        },
        user: target.dn.clone(),
        password: old.expose().to_string(),
        pool_size: 1,
        ..directory.pool.settings().clone()
    };
    let pool = crate::pool::Pool::standalone(as_user);
    let mut ldap = pool.dedicated().await.map_err(|mut e| {
        e.message = format!(
            "the old password of `{}` was refused: {}",
            target.dn, e.message
        );
        e
    })?;
    let timeout = directory.pool.settings().operation_timeout;
    let operation = format!("change the password of `{}`", target.dn);
    let outcome = match method(directory) {
        PasswordMethod::Extended => ldap
            .with_timeout(timeout)
            .extended(PasswordModify {
                user_id: None,
                old_pass: Some(old.expose()),
                new_pass: Some(new.expose()),
            })
            .await
            .map(|r| r.1),
        PasswordMethod::Replace => {
            let attribute = directory.global.password_attribute.as_bytes().to_vec();
            let value: HashSet<Vec<u8>> = [new.expose().as_bytes().to_vec()].into_iter().collect();
            ldap.with_timeout(timeout)
                .modify(&target.dn, vec![Mod::Replace(attribute, value)])
                .await
        }
    };
    let result = check(&operation, outcome, &[]);
    let _ = ldap.unbind().await;
    result?;
    Ok(())
}
