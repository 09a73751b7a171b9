//! The account slapd drops to when the tests run as root, and handing the directory to it.

use std::path::Path;

use rustix::process::geteuid;

use crate::HarnessError;

/// The account slapd drops to when the tests run as root.
#[derive(Debug)]
pub(crate) struct ServiceUser {
    pub uid: u32,
    pub gid: u32,
}

/// `None` when not root (slapd runs as the current user); else the `openldap` account
/// Debian's package creates, or `nobody`.
pub(crate) fn service_user() -> Result<Option<ServiceUser>, HarnessError> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    let path = Path::new("/etc/passwd");
    let passwd = std::fs::read_to_string(path).map_err(|source| HarnessError::File {
        what: "reading",
        path: path.to_owned(),
        source,
    })?;
    let find = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [user, _, uid, gid, ..] if *user == name => Some(ServiceUser {
                    uid: uid.parse().ok()?,
                    gid: gid.parse().ok()?,
                }),
                _ => None,
            }
        })
    };
    find("openldap")
        .or_else(|| find("nobody"))
        .map(Some)
        .ok_or(HarnessError::NoServiceUser)
}

/// Hands `dir` and everything in it to `user`, so that slapd can use it after dropping root.
pub(crate) fn chown_tree(dir: &Path, user: &ServiceUser) -> Result<(), HarnessError> {
    let chown_error = |path: &Path| {
        let path = path.to_owned();
        move |source| HarnessError::File {
            what: "changing the owner of",
            path,
            source,
        }
    };
    std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid)).map_err(chown_error(dir))?;
    let entries = std::fs::read_dir(dir).map_err(chown_error(dir))?;
    for entry in entries {
        let entry = entry.map_err(chown_error(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(chown_error(&path))?.is_dir() {
            chown_tree(&path, user)?;
        } else {
            std::os::unix::fs::chown(&path, Some(user.uid), Some(user.gid))
                .map_err(chown_error(&path))?;
        }
    }
    Ok(())
}
