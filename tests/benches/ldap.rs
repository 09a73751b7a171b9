//! `cargo bench -p ecma-integration-tests --bench ldap`: the LDAP connector against a throwaway
//! slapd, next to slapd's own tools doing the same work in the same run:
//! - a full import of `LDAP_BENCH_ENTRIES` (default 100,000) people into the connector space,
//!   next to `ldapsearch` of the same subtree with paging (`-E pr=1000`);
//! - SCIM POSTs of `LDAP_BENCH_POSTS` (default 5,000) users by 32 clients through the host,
//!   next to one `ldapadd` of as many entries.
//!
//! It prints figures; it asserts none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A benchmark fails loudly.

use std::sync::Arc;
use std::time::Instant;

use ecma_integration_tests::ldap::{connector, TOKEN};
use ecma_integration_tests::TestHost;
use ecma_test_slapd::{people_ldif, people_ldif_range, Slapd, PEOPLE_DN};
use ecmahost::registry::ConnectorSlot;
use reqwest::{Method, StatusCode};
use serde_json::json;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";
const CLIENTS: usize = 32;

fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let entries = count("LDAP_BENCH_ENTRIES", 100_000);
    let posts = count("LDAP_BENCH_POSTS", 5_000);
    let slapd = Slapd::start().unwrap();

    let started = Instant::now();
    slapd.ldapadd(&people_ldif(entries)).unwrap();
    let load = started.elapsed();
    println!(
        "load: ldapadd of {entries} entries: {:.1} s ({:.0} entries/s)",
        load.as_secs_f64(),
        entries as f64 / load.as_secs_f64()
    );

    let started = Instant::now();
    let listed = slapd
        .ldapsearch_raw(&[
            "-LLL",
            "-E",
            "pr=1000/noprompt",
            "-b",
            PEOPLE_DN,
            "(objectClass=inetOrgPerson)",
        ])
        .unwrap();
    let search = started.elapsed();
    assert!(listed.matches("dn: ").count() >= entries);
    println!(
        "import baseline: ldapsearch -E pr=1000 of {entries} entries: {:.2} s ({:.0} entries/s)",
        search.as_secs_f64(),
        entries as f64 / search.as_secs_f64()
    );

    let plugin = ecma_integration_tests::plugin_dir().join("libecma_ldap.so");
    let host = TestHost::start_with(vec![connector(&slapd)], |dir| {
        std::fs::copy(&plugin, dir.join("ECMA/libecma_ldap.so")).unwrap();
    })
    .await;
    host.wait_ready_with("ldap", TOKEN).await;
    let entry = host.host.as_ref().unwrap().registry.get("ldap").unwrap();
    let ConnectorSlot::Running(runtime) = entry.slot else {
        panic!("ldap connector failed");
    };
    let started = Instant::now();
    let report = runtime.sync_now().await.unwrap();
    let import = started.elapsed();
    println!(
        "import: full import of {entries} entries into the connector space: {:.2} s ({:.0} entries/s, {:.2}x ldapsearch) {report:?}",
        import.as_secs_f64(),
        entries as f64 / import.as_secs_f64(),
        import.as_secs_f64() / search.as_secs_f64()
    );

    // Export: the same number of entries by ldapadd, then by SCIM POSTs from 32 clients.
    let base = entries + 1_000_000;
    let started = Instant::now();
    slapd
        .ldapadd(&people_ldif_range(base..base + posts))
        .unwrap();
    let add = started.elapsed();
    println!(
        "export baseline: ldapadd of {posts} entries: {:.2} s ({:.0} entries/s)",
        add.as_secs_f64(),
        posts as f64 / add.as_secs_f64()
    );

    let host = Arc::new(host);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let host = host.clone();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= posts {
                        break;
                    }
                    let n = base + posts + i;
                    let user = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
                        "userName": n.to_string(),
                        EXT: {"uid": format!("scim{n}"), "cn": format!("Scim {n}"), "sn": "Bench", "mail": format!("scim{n}@example.com")}
                    });
                    let (status, body) = host.send(Method::POST, "ldap", "/Users", TOKEN, Some(&user.to_string())).await;
                    assert_eq!(status, StatusCode::CREATED, "{body}");
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let scim = started.elapsed();
    println!(
        "export: {posts} SCIM POSTs by {CLIENTS} clients into slapd: {:.2} s ({:.0} requests/s, {:.2} of ldapadd's rate)",
        scim.as_secs_f64(),
        posts as f64 / scim.as_secs_f64(),
        (posts as f64 / scim.as_secs_f64()) / (posts as f64 / add.as_secs_f64())
    );
}
