//! Streaming searches: paged (RFC 2696) or plain, entries handed over one by one, continuation
//! references reported and never followed.

use ldap3::adapters::PagedResults;
use ldap3::controls::{Control, RawControl};
use ldap3::{Ldap, ResultEntry, Scope, SearchEntry};

use crate::entry::RawEntry;
use crate::error::{rc, LdapFailure};

/// One item of a search.
pub(crate) enum Item {
    Entry(RawEntry, Vec<Control>),
    /// An intermediate response (content synchronisation info).
    Intermediate(ResultEntry),
}

/// How the search pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paging {
    None,
    Paged(i32),
}

/// Run one search, calling `each` for every entry and intermediate message. Returns the
/// final result (its controls carry e.g. the sync cookie). Referrals in the result stream are
/// logged, never followed.
pub(crate) async fn run<F, Fut>(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attributes: &[String],
    paging: Paging,
    controls: Vec<RawControl>,
    mut each: F,
) -> Result<ldap3::LdapResult, LdapFailure>
where
    F: FnMut(Item) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let operation = format!("search `{base}` for `{filter}`");
    if !controls.is_empty() {
        ldap.with_controls(controls);
    }
    let attrs: Vec<String> = attributes.to_vec();
    let started = match paging {
        Paging::Paged(size) => {
            ldap.streaming_search_with(
                PagedResults::new(size.max(1)),
                base,
                Scope::Subtree,
                filter,
                attrs,
            )
            .await
        }
        // No adapter: intermediate messages (content synchronisation) must come through.
        Paging::None => {
            ldap.streaming_search(base, Scope::Subtree, filter, attrs)
                .await
        }
    };
    let mut stream = started.map_err(|e| LdapFailure::from_client(&operation, e))?;
    let mut references = 0usize;
    loop {
        let next = stream.next().await;
        match next {
            Ok(Some(result)) => {
                if result.is_ref() {
                    references += 1;
                    continue;
                }
                let item = if result.is_intermediate() {
                    Item::Intermediate(result)
                } else {
                    let controls = result.1.clone();
                    Item::Entry(RawEntry::new(SearchEntry::construct(result)), controls)
                };
                if !each(item).await {
                    let handle = stream.ldap_handle();
                    let id = handle.last_id();
                    let _ = handle.abandon(id).await;
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(LdapFailure::from_client(&operation, e)),
        }
    }
    let result = stream.finish().await;
    if references > 0 {
        log::warn!("{operation}: the server returned {references} continuation reference(s) to other servers; referrals are not followed, so those entries are not imported");
    }
    match result.rc {
        rc::SUCCESS => Ok(result),
        _ => Err(LdapFailure::from_result(&operation, &result)),
    }
}

/// Read a search window by window with VLV and server-side sort (for servers without paged
/// results), `window` entries at a time, calling `each` for every entry.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_vlv<F, Fut>(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    attributes: &[String],
    window: i64,
    sort_key: &str,
    ordering_rule: Option<&str>,
    mut each: F,
) -> Result<(), LdapFailure>
where
    F: FnMut(Item) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let operation = format!("VLV search `{base}` for `{filter}`");
    let window = window.max(1);
    let mut offset: i64 = 1;
    let mut content_count: i64 = 0;
    let mut context: Option<Vec<u8>> = None;
    // Bounded: each window moves on by `window`, and the server says how many there are.
    for _ in 0..10_000_000 {
        let controls = vec![
            crate::vlv::sort(sort_key, ordering_rule),
            crate::vlv::request(offset, window, content_count, context.as_deref()),
        ];
        let mut seen = 0i64;
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let result = run(
            ldap,
            base,
            filter,
            attributes,
            Paging::None,
            controls,
            |item| {
                seen += 1;
                let next = each(item);
                let stop = &stopped;
                async move {
                    let more = next.await;
                    if !more {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    more
                }
            },
        )
        .await?;
        let stopped = stopped.load(std::sync::atomic::Ordering::Relaxed);
        let response = result
            .ctrls
            .iter()
            .find(|c| c.1.ctype == crate::vlv::RESPONSE_OID)
            .and_then(|c| c.1.val.as_deref())
            .and_then(crate::vlv::parse_response)
            .ok_or_else(|| LdapFailure::Client {
                operation: operation.clone(),
                message: "the server answered without a VLV response control: it does not do VLV here (choose another import_method)".into(),
            })?;
        if response.result != 0 {
            return Err(LdapFailure::Client {
                operation,
                message: format!(
                    "the server refused the VLV window (result {})",
                    response.result
                ),
            });
        }
        content_count = i64::try_from(response.content_count).unwrap_or(i64::MAX);
        context = response.context;
        offset += window;
        if stopped || seen == 0 || offset > content_count {
            return Ok(());
        }
    }
    Ok(())
}
