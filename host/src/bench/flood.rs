//! `ecmahost bench --flood`: legitimate GETs measured alone, then next to a flood of one wrong
//! token, then next to a flood of distinct wrong tokens, with the host's RSS sampled before and
//! after each phase (from `/proc/{pid}/status`, when `--pid` is given).
//!
//! Legitimate clients are paced (one request every [`LEGIT_INTERVAL`] each), as an identity
//! provider is; flood clients send back to back. A benchmark, not a test: nothing is asserted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{client, percentile, BenchError, BenchOptions};

/// Pause between two requests of one legitimate client.
pub const LEGIT_INTERVAL: Duration = Duration::from_millis(5);
/// Legitimate clients.
pub const LEGIT_CLIENTS: usize = 4;

/// One flood phase's figures.
pub struct FloodResult {
    pub name: String,
    pub legit_requests: usize,
    pub legit_failures: usize,
    pub legit_p50: Duration,
    pub legit_p99: Duration,
    /// Wrong-token requests answered per second, and how many of them were 401 and 429.
    pub flood_per_second: f64,
    pub flood_401: usize,
    pub flood_429: usize,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flood {
    None,
    SameToken,
    DistinctTokens,
}

/// The host's resident set size, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn run_phase(
    name: &str,
    options: &BenchOptions,
    pid: Option<u32>,
    flood: Flood,
) -> Result<FloodResult, BenchError> {
    let rss_before_kib = pid.and_then(rss_kib);
    let stop = Arc::new(AtomicBool::new(false));
    let (unauthorized, limited, answered) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut flooders = Vec::new();
    if flood != Flood::None {
        for worker in 0..options.clients {
            let c = client(&options.certificate)?;
            let url = format!("{}/Users", options.url);
            let (stop, unauthorized, limited, answered) = (
                stop.clone(),
                unauthorized.clone(),
                limited.clone(),
                answered.clone(),
            );
            flooders.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let token = match flood {
                        Flood::DistinctTokens => {
                            format!("wrong-{worker}-{n}-{}", std::process::id())
                        }
                        _ => "wrong-token-flood-0000".to_string(),
                    };
                    if let Ok(r) = c.get(&url).bearer_auth(token).send().await {
                        answered.fetch_add(1, Ordering::Relaxed);
                        match r.status().as_u16() {
                            401 => unauthorized.fetch_add(1, Ordering::Relaxed),
                            429 => limited.fetch_add(1, Ordering::Relaxed),
                            _ => 0,
                        };
                        let _ = r.bytes().await;
                    }
                }
            }));
        }
    }
    let deadline = Instant::now() + options.duration;
    let mut legit = Vec::new();
    for _ in 0..LEGIT_CLIENTS {
        let c = client(&options.certificate)?;
        let (url, token, filter) = (
            format!("{}/Users", options.url),
            options.token.clone(),
            options.filter.clone(),
        );
        legit.push(tokio::spawn(async move {
            let (mut latencies, mut failures) = (Vec::new(), 0usize);
            let mut next = Instant::now();
            while Instant::now() < deadline {
                tokio::time::sleep_until(next.into()).await;
                next += LEGIT_INTERVAL;
                let started = Instant::now();
                let ok = c
                    .get(&url)
                    .query(&[("filter", filter.as_str())])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                latencies.push(started.elapsed());
                failures += usize::from(!ok);
            }
            (latencies, failures)
        }));
    }
    let started = Instant::now();
    let (mut latencies, mut legit_failures) = (Vec::new(), 0);
    for task in legit {
        if let Ok((l, f)) = task.await {
            latencies.extend(l);
            legit_failures += f;
        }
    }
    let elapsed = started.elapsed().max(options.duration);
    stop.store(true, Ordering::Relaxed);
    for task in flooders {
        let _ = task.await;
    }
    latencies.sort_unstable();
    Ok(FloodResult {
        name: name.to_string(),
        legit_requests: latencies.len(),
        legit_failures,
        legit_p50: percentile(&latencies, 0.50),
        legit_p99: percentile(&latencies, 0.99),
        flood_per_second: answered.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        flood_401: unauthorized.load(Ordering::Relaxed),
        flood_429: limited.load(Ordering::Relaxed),
        rss_before_kib,
        rss_after_kib: pid.and_then(rss_kib),
    })
}

/// Quiet, one wrong token, distinct wrong tokens; `options.clients` flood connections.
pub async fn run(options: &BenchOptions, pid: Option<u32>) -> Result<Vec<FloodResult>, BenchError> {
    Ok(vec![
        run_phase("quiet", options, pid, Flood::None).await?,
        run_phase("flood: one wrong token", options, pid, Flood::SameToken).await?,
        run_phase(
            "flood: distinct wrong tokens",
            options,
            pid,
            Flood::DistinctTokens,
        )
        .await?,
        run_phase("quiet again", options, pid, Flood::None).await?,
    ])
}

/// The flood phases as Markdown.
pub fn table(results: &[FloodResult]) -> String {
    let mib =
        |k: Option<u64>| k.map_or("-".to_string(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    let mut out = String::from(
        "| phase | legit requests | legit failed | legit p50 | legit p99 | wrong-token req/s | 401 | 429 | RSS before | RSS after |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} ms | {:.2} ms | {:.0} | {} | {} | {} | {} |\n",
            r.name,
            r.legit_requests,
            r.legit_failures,
            r.legit_p50.as_secs_f64() * 1e3,
            r.legit_p99.as_secs_f64() * 1e3,
            r.flood_per_second,
            r.flood_401,
            r.flood_429,
            mib(r.rss_before_kib),
            mib(r.rss_after_kib),
        ));
    }
    out
}
