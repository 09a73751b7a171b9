//! Delta imports by each of Microsoft's methods: the OpenLDAP access log (`reqStart`), a
//! changelog (`changeNumber`, 389 DS and OpenDJ), `uSNChanged` with show-deleted (AD LDS),
//! content synchronisation (RFC 4533 refreshOnly, with a cookie), and a `modifyTimestamp`
//! watermark that cannot see deletes. A changed entry is read again and sent whole
//! (`Replace`), so seeing a change twice is harmless and watermarks can be inclusive.

use std::collections::HashSet;

use base64::Engine;
use ecma_plugin_api::{ConnectorError, ImportRequest, ObjectModification, Value};
use ldap3::controls::{
    Control, ControlType, EntryState, RawControl, SyncDone, SyncInfo, SyncRequest, SyncState,
};

use crate::directory::Directory;
use crate::dn::{escape_filter, Dn};
use crate::entry::{self, RawEntry};
use crate::import::{attributes_of, paging, send, Sender};
use crate::rootdse::{oid, read_entry};
use crate::search::{self, Item, Paging};
use crate::settings::{DeltaMethod, DN_ANCHOR};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn prefix(method: DeltaMethod) -> &'static str {
    match method {
        DeltaMethod::None => "",
        DeltaMethod::AccessLog => "accesslog:",
        DeltaMethod::Changelog => "changelog:",
        DeltaMethod::Usn => "usn:",
        DeltaMethod::ContentSync => "sync:",
        DeltaMethod::ModifyTimestamp => "modifytimestamp:",
    }
}

fn generalized_now(margin_seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(margin_seconds))
        .format("%Y%m%d%H%M%SZ")
        .to_string()
}

/// The watermark a full import returns, taken before it reads anything.
pub(crate) async fn starting_watermark(
    directory: &Directory,
    partition: &str,
) -> Result<String, ConnectorError> {
    let method = directory.global.delta_method;
    let value = match method {
        DeltaMethod::None => return Ok(String::new()),
        DeltaMethod::AccessLog => latest_access_log(directory).await?,
        DeltaMethod::Changelog => {
            let mut ldap = directory.pool.get().await?;
            read_entry(&mut ldap, "", vec!["lastChangeNumber".into()])
                .await?
                .map(RawEntry::new)
                .and_then(|e| e.first_text("lastChangeNumber"))
                .unwrap_or_else(|| "0".into())
        }
        DeltaMethod::Usn => {
            let mut ldap = directory.pool.get().await?;
            read_entry(&mut ldap, "", vec!["highestCommittedUSN".into()])
                .await?
                .map(RawEntry::new)
                .and_then(|e| e.first_text("highestCommittedUSN"))
                .unwrap_or_else(|| "0".into())
        }
        DeltaMethod::ContentSync => {
            let mut cookies = Vec::new();
            for base in directory.bases(partition) {
                // A refresh that matches nothing returns the server's current cookie.
                let (cookie, _) = sync_refresh(
                    directory,
                    &base,
                    "(entryUUID=00000000-0000-0000-0000-000000000000)",
                    None,
                    None,
                )
                .await?;
                cookies.push(cookie.map(|c| B64.encode(c)).unwrap_or_default());
            }
            cookies.join(" ")
        }
        // Entries changed while the full import runs are seen again; a margin covers clock
        // skew between this host and the directory.
        DeltaMethod::ModifyTimestamp => generalized_now(300),
    };
    Ok(format!("{}{value}", prefix(method)))
}

/// Run a delta import; returns the new watermark.
pub(crate) async fn run(
    directory: &Directory,
    request: &ImportRequest,
    tx: &Sender,
) -> Result<String, ConnectorError> {
    let method = directory.global.delta_method;
    let watermark = request.watermark.strip_prefix(prefix(method)).ok_or_else(|| {
        ConnectorError::invalid_configuration(format!(
            "the watermark `{}` is not one of delta method `{}`: the delta method changed, so run a full import first",
            request.watermark,
            crate::settings::delta_method_name(method)
        ))
    })?;
    let bases = directory.bases(&request.partition);
    let next = match method {
        DeltaMethod::None => String::new(),
        DeltaMethod::AccessLog => access_log(directory, &bases, watermark, tx).await?,
        DeltaMethod::Changelog => changelog(directory, &bases, watermark, tx).await?,
        DeltaMethod::Usn => usn(directory, &bases, watermark, request.page_size, tx).await?,
        DeltaMethod::ModifyTimestamp => {
            modify_timestamp(directory, &bases, watermark, request.page_size, tx).await?
        }
        DeltaMethod::ContentSync => {
            let cookies: Vec<&str> = watermark.split(' ').collect();
            let mut next = Vec::new();
            for (i, base) in bases.iter().enumerate() {
                let cookie = cookies
                    .get(i)
                    .filter(|c| !c.is_empty())
                    .map(|c| B64.decode(c))
                    .transpose()
                    .map_err(|_| ConnectorError::invalid_configuration("the content synchronisation cookie in the watermark is not base64: run a full import"))?;
                let filter = union_filter(directory);
                let (cookie, _) = sync_refresh(directory, base, &filter, cookie, Some(tx)).await?;
                next.push(cookie.map(|c| B64.encode(c)).unwrap_or_default());
            }
            next.join(" ")
        }
    };
    Ok(format!("{}{next}", prefix(method)))
}

fn union_filter(directory: &Directory) -> String {
    let parts: String = directory
        .types
        .iter()
        .map(|t| t.settings.import_filter.clone())
        .collect();
    format!("(|{parts})")
}

fn union_attributes(directory: &Directory) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &directory.types {
        for a in attributes_of(t) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
                out.push(a);
            }
        }
    }
    out
}

fn within(bases: &[String], dn: &str) -> bool {
    let Ok(dn) = Dn::parse(dn) else { return false };
    bases
        .iter()
        .any(|b| Dn::parse(b).is_ok_and(|b| dn.is_within(&b)))
}

/// One change a log reports.
#[derive(Debug, Clone)]
struct Change {
    dn: String,
    kind: ChangeKind,
    /// The entry's unique id (entryUUID or nsUniqueId), when the log has it.
    uuid: Option<String>,
}

#[derive(Debug, Clone)]
enum ChangeKind {
    Write,
    Delete,
    Rename { new_dn: String },
}

/// Send what the changes mean now: each written entry read again, each delete as a delete.
async fn apply(
    directory: &Directory,
    bases: &[String],
    changes: Vec<Change>,
    tx: &Sender,
) -> Result<(), ConnectorError> {
    let attributes = union_attributes(directory);
    let mut ldap = directory.pool.get().await?;
    let mut written: HashSet<String> = HashSet::new();
    for change in changes {
        let (delete_dn, write_dn) = match &change.kind {
            ChangeKind::Write => (None, Some(change.dn.clone())),
            ChangeKind::Delete => (Some(change.dn.clone()), None),
            ChangeKind::Rename { new_dn } => (Some(change.dn.clone()), Some(new_dn.clone())),
        };
        if let Some(dn) = delete_dn.filter(|dn| within(bases, dn)) {
            for t in &directory.types {
                let anchor_name = t.schema().anchor.first().map(String::as_str).unwrap_or("");
                // A rename keeps an attribute anchor: the write below moves the object.
                if matches!(change.kind, ChangeKind::Rename { .. }) && anchor_name != DN_ANCHOR {
                    continue;
                }
                let anchor = match (&change.uuid, anchor_name) {
                    (_, DN_ANCHOR) => None,
                    (Some(uuid), a)
                        if a.eq_ignore_ascii_case("entryUUID")
                            || a.eq_ignore_ascii_case("nsUniqueId") =>
                    {
                        Some(Value::String(uuid.clone()))
                    }
                    _ => {
                        log::warn!("a delete of `{dn}` cannot be matched to an object of {}: the log does not say its `{anchor_name}`; a full import removes it", t.name());
                        continue;
                    }
                };
                if let Some(delete) = entry::delete_change(t.schema(), &dn, anchor) {
                    if tx.send(Ok(delete)).await.is_err() {
                        return Ok(());
                    }
                }
            }
            written.remove(&Dn::parse(&dn).map(|d| d.normalized()).unwrap_or_default());
        }
        if let Some(dn) = write_dn.filter(|dn| within(bases, dn)) {
            let key = Dn::parse(&dn)
                .map(|d| d.normalized())
                .unwrap_or_else(|_| dn.clone());
            if !written.insert(key) {
                continue;
            }
            let Some(found) = read_entry(&mut ldap, &dn, attributes.clone()).await? else {
                continue; // deleted since; its delete follows
            };
            let raw = RawEntry::new(found);
            if let Some(t) = directory.type_of_classes(&raw.object_classes()) {
                if !send(tx, &raw, t, ObjectModification::Replace).await {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// `reqStart` of the newest access log entry, or the contextCSN's time, or now.
async fn latest_access_log(directory: &Directory) -> Result<String, ConnectorError> {
    let mut ldap = directory.pool.get().await?;
    let base = &directory.global.accesslog_base;
    let found = read_entry(&mut ldap, base, vec!["contextCSN".into()]).await?;
    let csn = found
        .map(RawEntry::new)
        .map(|e| {
            e.get("contextCSN")
                .iter()
                .filter_map(|v| std::str::from_utf8(v).ok())
                .filter_map(|v| v.split('#').next().map(str::to_string))
                .max()
        })
        .ok_or_else(|| ConnectorError::invalid_configuration(format!("the access log `{base}` does not exist: enable slapo-accesslog, or fix parameter `accesslog_base`")))?;
    Ok(csn.unwrap_or_else(|| generalized_now(0)))
}

/// Parse `reqOld`'s `attr: value` lines for one attribute.
fn old_value(values: &[Vec<u8>], attribute: &str) -> Option<String> {
    values
        .iter()
        .filter_map(|v| std::str::from_utf8(v).ok())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case(attribute)
                .then(|| value.trim().to_string())
        })
}

fn renamed_dn(old: &str, new_rdn: &str, new_superior: Option<String>) -> String {
    let parent = match new_superior.filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => Dn::parse(old)
            .map(|d| d.parent().to_string())
            .unwrap_or_default(),
    };
    if parent.is_empty() {
        new_rdn.to_string()
    } else {
        format!("{new_rdn},{parent}")
    }
}

async fn access_log(
    directory: &Directory,
    bases: &[String],
    watermark: &str,
    tx: &Sender,
) -> Result<String, ConnectorError> {
    let base = directory.global.accesslog_base.clone();
    let filter = format!(
        "(&(objectClass=auditWriteObject)(reqResult=0)(reqStart>={}))",
        escape_filter(watermark)
    );
    let attrs: Vec<String> = [
        "reqStart",
        "reqType",
        "reqDN",
        "reqNewRDN",
        "reqNewSuperior",
        "reqEntryUUID",
        "reqOld",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut records: Vec<(String, Change)> = Vec::new();
    let mut ldap = directory.pool.dedicated().await?;
    let paged = if directory
        .discovery
        .root
        .supports_control(oid::PAGED_RESULTS)
    {
        Paging::Paged(1000)
    } else {
        Paging::None
    };
    search::run(
        &mut ldap,
        &base,
        &filter,
        &attrs,
        paged,
        Vec::new(),
        |item| {
            if let Item::Entry(raw, _) = item {
                let start = raw.first_text("reqStart").unwrap_or_default();
                let dn = raw.first_text("reqDN").unwrap_or_default();
                let uuid = raw
                    .first_text("reqEntryUUID")
                    .or_else(|| old_value(raw.get("reqOld"), "entryUUID"));
                let kind = match raw
                    .first_text("reqType")
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .as_str()
                {
                    "add" | "modify" => Some(ChangeKind::Write),
                    "delete" => Some(ChangeKind::Delete),
                    "modrdn" => raw.first_text("reqNewRDN").map(|rdn| ChangeKind::Rename {
                        new_dn: renamed_dn(&dn, &rdn, raw.first_text("reqNewSuperior")),
                    }),
                    _ => None,
                };
                if let Some(kind) = kind {
                    records.push((start, Change { dn, kind, uuid }));
                }
            }
            async { true }
        },
    )
    .await?;
    let _ = ldap.unbind().await;
    records.sort_by(|a, b| a.0.cmp(&b.0));
    let next = records
        .last()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| watermark.to_string());
    apply(
        directory,
        bases,
        records.into_iter().map(|r| r.1).collect(),
        tx,
    )
    .await?;
    Ok(next)
}

async fn changelog(
    directory: &Directory,
    bases: &[String],
    watermark: &str,
    tx: &Sender,
) -> Result<String, ConnectorError> {
    let last: u64 = watermark.trim().parse().map_err(|_| {
        ConnectorError::invalid_configuration(format!(
            "the changelog watermark `{watermark}` is not a change number: run a full import"
        ))
    })?;
    let base = directory.global.changelog_base.clone();
    let filter = format!("(changeNumber>={})", last + 1);
    let attrs: Vec<String> = [
        "changeNumber",
        "targetDN",
        "changeType",
        "newRDN",
        "newSuperior",
        "targetUniqueId",
        "targetEntryUUID",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut records: Vec<(u64, Change)> = Vec::new();
    let mut ldap = directory.pool.dedicated().await?;
    search::run(
        &mut ldap,
        &base,
        &filter,
        &attrs,
        Paging::None,
        Vec::new(),
        |item| {
            if let Item::Entry(raw, _) = item {
                let number = raw
                    .first_text("changeNumber")
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0);
                let dn = raw.first_text("targetDN").unwrap_or_default();
                let uuid = raw
                    .first_text("targetEntryUUID")
                    .or_else(|| raw.first_text("targetUniqueId"));
                let kind = match raw
                    .first_text("changeType")
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .as_str()
                {
                    "add" | "modify" => Some(ChangeKind::Write),
                    "delete" => Some(ChangeKind::Delete),
                    "modrdn" | "moddn" => raw.first_text("newRDN").map(|rdn| ChangeKind::Rename {
                        new_dn: renamed_dn(&dn, &rdn, raw.first_text("newSuperior")),
                    }),
                    _ => None,
                };
                if let Some(kind) = kind {
                    records.push((number, Change { dn, kind, uuid }));
                }
            }
            async { true }
        },
    )
    .await?;
    let _ = ldap.unbind().await;
    records.sort_by_key(|r| r.0);
    let next = records.last().map(|r| r.0).unwrap_or(last);
    apply(
        directory,
        bases,
        records.into_iter().map(|r| r.1).collect(),
        tx,
    )
    .await?;
    Ok(next.to_string())
}

async fn modify_timestamp(
    directory: &Directory,
    bases: &[String],
    watermark: &str,
    page_size: u32,
    tx: &Sender,
) -> Result<String, ConnectorError> {
    let next = generalized_now(300);
    for base in bases {
        for t in &directory.types {
            let filter = format!(
                "(&{}(modifyTimestamp>={}))",
                t.settings.import_filter,
                escape_filter(watermark)
            );
            let mut ldap = directory.pool.dedicated().await?;
            search::run(
                &mut ldap,
                base,
                &filter,
                &attributes_of(t),
                paging(directory, t, page_size),
                Vec::new(),
                |item| async move {
                    match item {
                        Item::Entry(raw, _) => send(tx, &raw, t, ObjectModification::Replace).await,
                        Item::Intermediate(_) => true,
                    }
                },
            )
            .await?;
            let _ = ldap.unbind().await;
        }
    }
    Ok(next)
}

async fn usn(
    directory: &Directory,
    bases: &[String],
    watermark: &str,
    page_size: u32,
    tx: &Sender,
) -> Result<String, ConnectorError> {
    let last: u64 = watermark.trim().parse().map_err(|_| {
        ConnectorError::invalid_configuration(format!(
            "the USN watermark `{watermark}` is not a number: run a full import"
        ))
    })?;
    let mut ldap = directory.pool.get().await?;
    let next = read_entry(&mut ldap, "", vec!["highestCommittedUSN".into()])
        .await?
        .map(RawEntry::new)
        .and_then(|e| e.first_text("highestCommittedUSN"))
        .unwrap_or_else(|| last.to_string());
    for base in bases {
        for t in &directory.types {
            let filter = format!("(&{}(uSNChanged>={}))", t.settings.import_filter, last + 1);
            let mut ldap = directory.pool.dedicated().await?;
            search::run(
                &mut ldap,
                base,
                &filter,
                &attributes_of(t),
                paging(directory, t, page_size),
                Vec::new(),
                |item| async move {
                    match item {
                        Item::Entry(raw, _) => send(tx, &raw, t, ObjectModification::Replace).await,
                        Item::Intermediate(_) => true,
                    }
                },
            )
            .await?;
            // Deleted objects: tombstones, seen only with the show-deleted control.
            let show_deleted = RawControl {
                ctype: oid::SHOW_DELETED.to_string(),
                crit: true,
                val: None,
            };
            let anchor = t.schema().anchor.first().cloned().unwrap_or_default();
            let filter = format!("(&(isDeleted=TRUE)(uSNChanged>={}))", last + 1);
            search::run(
                &mut ldap,
                base,
                &filter,
                std::slice::from_ref(&anchor),
                Paging::None,
                vec![show_deleted],
                |item| {
                    let delete = match &item {
                        Item::Entry(raw, _) => raw
                            .get(&anchor)
                            .first()
                            .map(|b| Value::Binary(b.clone()))
                            .and_then(|v| entry::delete_change(t.schema(), &raw.dn, Some(v))),
                        Item::Intermediate(_) => None,
                    };
                    async move {
                        match delete {
                            Some(d) => tx.send(Ok(d)).await.is_ok(),
                            None => true,
                        }
                    }
                },
            )
            .await?;
            let _ = ldap.unbind().await;
        }
    }
    Ok(next)
}

/// One refreshOnly content synchronisation search (RFC 4533). With `tx`, changed entries are
/// sent whole and deleted ones as deletes. Returns the new cookie and whether the server
/// answered with a present phase (whose deletes cannot be told without the full set).
async fn sync_refresh(
    directory: &Directory,
    base: &str,
    filter: &str,
    cookie: Option<Vec<u8>>,
    tx: Option<&Sender>,
) -> Result<(Option<Vec<u8>>, bool), ConnectorError> {
    let request: RawControl = SyncRequest {
        mode: ldap3::controls::RefreshMode::RefreshOnly,
        cookie: cookie.clone(),
        reload_hint: false,
    }
    .into();
    let attributes = union_attributes(directory);
    let mut ldap = directory.pool.dedicated().await?;
    let mut new_cookie: Option<Vec<u8>> = None;
    let mut present_phase = false;
    let mut deleted: Vec<(String, Option<String>)> = Vec::new();
    let result = search::run(
        &mut ldap,
        base,
        filter,
        &attributes,
        Paging::None,
        vec![request],
        |item| {
            let mut send_entry: Option<(RawEntry, ObjectModification)> = None;
            match item {
                Item::Entry(raw, controls) => {
                    let state = controls.iter().find_map(|c| match c {
                        Control(Some(ControlType::SyncState), raw) => {
                            Some(raw.parse::<SyncState>())
                        }
                        _ => None,
                    });
                    match state {
                        Some(SyncState {
                            state: EntryState::Delete,
                            entry_uuid,
                            cookie,
                        }) => {
                            deleted.push((raw.dn.clone(), entry::uuid_text(&entry_uuid)));
                            if cookie.is_some() {
                                new_cookie = cookie;
                            }
                        }
                        Some(SyncState {
                            state: EntryState::Present,
                            ..
                        }) => present_phase = true,
                        Some(SyncState { cookie, .. }) => {
                            if cookie.is_some() {
                                new_cookie = cookie;
                            }
                            send_entry = Some((raw, ObjectModification::Replace));
                        }
                        None => send_entry = Some((raw, ObjectModification::Replace)),
                    }
                }
                Item::Intermediate(message) => match ldap3::controls::parse_syncinfo(message) {
                    SyncInfo::NewCookie(c) => new_cookie = Some(c),
                    SyncInfo::RefreshDelete { cookie, .. }
                    | SyncInfo::RefreshPresent { cookie, .. } => {
                        if cookie.is_some() {
                            new_cookie = cookie;
                        }
                    }
                    SyncInfo::SyncIdSet {
                        cookie,
                        refresh_deletes,
                        sync_uuids,
                    } => {
                        if cookie.is_some() {
                            new_cookie = cookie;
                        }
                        if refresh_deletes {
                            deleted.extend(
                                sync_uuids
                                    .iter()
                                    .map(|u| (String::new(), entry::uuid_text(u))),
                            );
                        } else {
                            present_phase = true;
                        }
                    }
                },
            }
            async move {
                match (send_entry, tx) {
                    (Some((raw, modification)), Some(tx)) => {
                        match directory.type_of_classes(&raw.object_classes()) {
                            Some(t) => send(tx, &raw, t, modification).await,
                            None => true,
                        }
                    }
                    _ => true,
                }
            }
        },
    )
    .await?;
    let _ = ldap.unbind().await;
    for c in &result.ctrls {
        if let Control(Some(ControlType::SyncDone), raw) = c {
            let done = raw.parse::<SyncDone>();
            if done.cookie.is_some() {
                new_cookie = done.cookie;
            }
            if !done.refresh_deletes && cookie.is_some() {
                present_phase = true;
            }
        }
    }
    if let Some(tx) = tx {
        for (dn, uuid) in deleted {
            for t in &directory.types {
                let anchor = t.schema().anchor.first().map(String::as_str).unwrap_or("");
                let value = match (&uuid, anchor) {
                    (_, DN_ANCHOR) if !dn.is_empty() => None,
                    (Some(u), a) if a.eq_ignore_ascii_case("entryUUID") => {
                        Some(Value::String(u.clone()))
                    }
                    _ => continue,
                };
                if let Some(d) = entry::delete_change(t.schema(), &dn, value) {
                    if tx.send(Ok(d)).await.is_err() {
                        break;
                    }
                }
            }
        }
        if present_phase {
            log::warn!("content synchronisation of `{base}` answered with a present phase, which does not name deleted entries: give the server a session log (OpenLDAP: olcSpSessionlog on syncprov) so deltas see deletes; until then a full import removes them");
        }
    }
    Ok((new_cookie.or(cookie), present_phase))
}
