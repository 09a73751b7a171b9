//! Import sessions: a task on the connector's runtime streams entries through a bounded
//! channel, so the plugin holds a few pages whatever the directory's size. Full imports page
//! with the paged results control (RFC 2696) where the server offers it; deltas are in
//! `delta.rs`.

use std::sync::{Arc, Mutex};

use ecma_plugin_api::{
    ConnectorError, CsEntryChange, ImportKind, ImportPage, ImportRequest, ImportSession,
    ObjectModification,
};
use tokio::sync::mpsc;

use crate::delta;
use crate::directory::{Directory, ObjectType};
use crate::entry::{self, RawEntry};
use crate::rootdse::oid;
use crate::runtime::Executor;
use crate::search::{self, Item, Paging};
use crate::settings::{DeltaMethod, ImportMethod, DN_ANCHOR};

pub(crate) type Sender = mpsc::Sender<Result<CsEntryChange, ConnectorError>>;

/// The attributes to request for an object type.
pub(crate) fn attributes_of(object_type: &ObjectType) -> Vec<String> {
    let mut out: Vec<String> = object_type
        .schema()
        .attributes
        .iter()
        .map(|a| a.name.clone())
        .collect();
    for extra in ["objectClass", "entryUUID", "modifyTimestamp"] {
        if !out.iter().any(|a| a.eq_ignore_ascii_case(extra)) {
            out.push(extra.to_string());
        }
    }
    if let Some(anchor) = object_type
        .schema()
        .anchor
        .first()
        .filter(|a| *a != DN_ANCHOR)
    {
        if !out.iter().any(|a| a.eq_ignore_ascii_case(anchor)) {
            out.push(anchor.clone());
        }
    }
    out
}

/// Whether a full import of this type reads VLV windows (of this size) instead of a search.
fn vlv_window(directory: &Directory, object_type: &ObjectType, page_size: u32) -> Option<i64> {
    let root = &directory.discovery.root;
    let vlv = match object_type.settings.import_method {
        ImportMethod::Vlv => true,
        ImportMethod::Automatic => {
            !root.supports_control(oid::PAGED_RESULTS)
                && root.supports_control(oid::VLV)
                && root.supports_control(oid::SORT)
        }
        _ => false,
    };
    vlv.then_some(if page_size == 0 {
        500
    } else {
        i64::from(page_size)
    })
}

pub(crate) fn paging(directory: &Directory, object_type: &ObjectType, page_size: u32) -> Paging {
    let size = if page_size == 0 {
        500
    } else {
        page_size.min(i32::MAX as u32) as i32
    };
    match object_type.settings.import_method {
        ImportMethod::Single | ImportMethod::Vlv => Paging::None,
        ImportMethod::Paged => Paging::Paged(size),
        ImportMethod::Automatic => {
            if directory
                .discovery
                .root
                .supports_control(oid::PAGED_RESULTS)
            {
                Paging::Paged(size)
            } else {
                Paging::None
            }
        }
    }
}

/// Send one entry of `object_type` found by a search; false when the session was dropped.
pub(crate) async fn send(
    tx: &Sender,
    raw: &RawEntry,
    object_type: &ObjectType,
    modification: ObjectModification,
) -> bool {
    match entry::to_entry_change(raw, object_type.schema(), modification) {
        Some(change) => tx.send(Ok(change)).await.is_ok(),
        None => {
            log::warn!(
                "entry `{}` has no value for the anchor `{}`; it is not imported",
                raw.dn,
                object_type
                    .schema()
                    .anchor
                    .first()
                    .map(String::as_str)
                    .unwrap_or("")
            );
            true
        }
    }
}

/// A full import of every object type under every base.
async fn full(
    directory: &Directory,
    request: &ImportRequest,
    tx: &Sender,
) -> Result<String, ConnectorError> {
    // The delta watermark is taken before reading, so nothing changed meanwhile is missed.
    let watermark = delta::starting_watermark(directory, &request.partition).await?;
    for base in directory.bases(&request.partition) {
        for object_type in &directory.types {
            let mut ldap = directory.pool.dedicated().await?;
            let attrs = attributes_of(object_type);
            let each = |item| async move {
                match item {
                    Item::Entry(raw, _) => {
                        send(tx, &raw, object_type, ObjectModification::Add).await
                    }
                    Item::Intermediate(_) => true,
                }
            };
            if let Some(window) = vlv_window(directory, object_type, request.page_size) {
                let anchor = object_type
                    .schema()
                    .anchor
                    .first()
                    .cloned()
                    .unwrap_or_default();
                let (key, rule) = directory.discovery.subschema.sort_key(&anchor);
                let filter = &object_type.settings.import_filter;
                search::run_vlv(
                    &mut ldap,
                    &base,
                    filter,
                    &attrs,
                    window,
                    &key,
                    rule.as_deref(),
                    each,
                )
                .await?;
                let _ = ldap.unbind().await;
                continue;
            }
            let paging = paging(directory, object_type, request.page_size);
            search::run(
                &mut ldap,
                &base,
                &object_type.settings.import_filter,
                &attrs,
                paging,
                Vec::new(),
                each,
            )
            .await?;
            let _ = ldap.unbind().await;
        }
    }
    Ok(watermark)
}

pub(crate) struct LdapImportSession {
    executor: Arc<Executor>,
    rx: mpsc::Receiver<Result<CsEntryChange, ConnectorError>>,
    page_size: usize,
    watermark: Arc<Mutex<Option<Result<String, ConnectorError>>>>,
    done: bool,
}

impl LdapImportSession {
    pub(crate) fn open(
        executor: Arc<Executor>,
        directory: Directory,
        request: ImportRequest,
    ) -> Result<Self, ConnectorError> {
        if request.kind == ImportKind::Delta && directory.global.delta_method == DeltaMethod::None {
            return Err(ConnectorError::invalid_configuration(
                "a delta import needs a delta method: set `delta_method` on the global page",
            ));
        }
        let page_size = if request.page_size == 0 {
            500
        } else {
            request.page_size as usize
        };
        let (tx, rx) = mpsc::channel(page_size.saturating_mul(2).max(16));
        let watermark = Arc::new(Mutex::new(None));
        let slot = watermark.clone();
        executor.spawn(async move {
            let outcome = match request.kind {
                ImportKind::Full => full(&directory, &request, &tx).await,
                ImportKind::Delta => delta::run(&directory, &request, &tx).await,
            };
            let outcome = match outcome {
                Ok(w) => Ok(w),
                Err(e) => {
                    let _ = tx.send(Err(e.clone())).await;
                    Err(e)
                }
            };
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(outcome);
            }
        })?;
        Ok(Self {
            executor,
            rx,
            page_size,
            watermark,
            done: false,
        })
    }
}

impl ImportSession for LdapImportSession {
    fn next_page(&mut self) -> Result<ImportPage, ConnectorError> {
        if self.done {
            return Ok(ImportPage::default());
        }
        let page_size = self.page_size;
        let rx = &mut self.rx;
        let (entries, more) = self.executor.block_on(async {
            let mut entries = Vec::with_capacity(page_size.min(4096));
            while entries.len() < page_size {
                match rx.recv().await {
                    Some(Ok(entry)) => entries.push(entry),
                    Some(Err(e)) => return Err(e),
                    None => return Ok((entries, false)),
                }
            }
            Ok((entries, true))
        })??;
        self.done = !more;
        Ok(ImportPage { entries, more })
    }

    fn close(&mut self) -> Result<String, ConnectorError> {
        self.rx.close();
        let slot = self
            .watermark
            .lock()
            .map_err(|_| ConnectorError::other("the import's state is poisoned"))?
            .take();
        match slot {
            Some(Ok(watermark)) => Ok(watermark),
            Some(Err(e)) => Err(e),
            None => Ok(String::new()),
        }
    }
}
