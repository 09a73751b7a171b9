//! `ecmahost bench --soak`: a steady mix of GET by filter, POST, PATCH and DELETE at a fixed
//! rate for a fixed time, with the host's RSS sampled along the way (from `/proc/{pid}/status`,
//! when `--pid` is given). It counts every answer that is not the one the request expects.
//!
//! Requests leave on a fixed schedule (every 10 ms, a hundredth of the rate), whatever the
//! answers' latency, as an identity provider's do; at most [`IN_FLIGHT_PER_CLIENT`] per client
//! are in flight, and a request that finds none free waits (the achieved rate shows it). The
//! mix keeps the population steady: creates and deletes balance once [`POPULATION`] users
//! exist; a PATCH picks one of the newest users and a DELETE the oldest, so none of them
//! races another. The RSS baseline is taken after a warm-up, so the first full token check's
//! Argon2 memory and the caches' first growth do not count as drift.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::StatusCode;
use tokio::sync::Semaphore;

use super::flood::rss_kib;
use super::{client, percentile, BenchError, BenchOptions};

/// Requests one client connection may have in flight.
pub const IN_FLIGHT_PER_CLIENT: usize = 4;
/// The users the mix keeps alive: below it, a DELETE turns into a POST.
pub const POPULATION: usize = 200;
/// How often the RSS is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// The dispatcher's tick.
const TICK: Duration = Duration::from_millis(10);
/// PATCHes pick among this many of the newest users.
const NEWEST: usize = 50;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User";

/// One request's kind, in the mix's order of twenty: 10 GET, 3 POST, 4 PATCH, 3 DELETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Get,
    Post,
    Patch,
    Delete,
}

impl Kind {
    fn of(sequence: usize) -> Self {
        match sequence % 20 {
            0..=9 => Kind::Get,
            10..=12 => Kind::Post,
            13..=16 => Kind::Patch,
            _ => Kind::Delete,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Get => "GET",
            Kind::Post => "POST",
            Kind::Patch => "PATCH",
            Kind::Delete => "DELETE",
        }
    }
}

/// The users this run created and has not deleted: (id, userName), oldest first.
type Live = Arc<Mutex<VecDeque<(String, String)>>>;

/// One RSS sample.
pub struct Sample {
    pub at: Duration,
    pub requests: usize,
    pub rss_kib: Option<u64>,
}

/// The soak's figures.
pub struct SoakResult {
    pub rate: u32,
    pub duration: Duration,
    pub requests: usize,
    pub per_kind: BTreeMap<&'static str, usize>,
    /// Unexpected answers, by "KIND status" (or "KIND no answer").
    pub errors: BTreeMap<String, usize>,
    pub p50: Duration,
    pub p99: Duration,
    pub rss_before_warm_up_kib: Option<u64>,
    pub samples: Vec<Sample>,
}

impl SoakResult {
    pub fn error_count(&self) -> usize {
        self.errors.values().sum()
    }

    /// (start, end, drift in percent) of the RSS after the warm-up.
    pub fn drift(&self) -> Option<(u64, u64, f64)> {
        let start = self.samples.first()?.rss_kib?;
        let end = self.samples.last()?.rss_kib?;
        Some((
            start,
            end,
            (end as f64 - start as f64) * 100.0 / start as f64,
        ))
    }
}

/// What one request needs.
#[derive(Clone)]
struct Target {
    url: String,
    token: String,
    live: Live,
    run: u32,
}

/// Send request `sequence`; `Ok` when the answer was the expected one, else the error's key.
async fn send(client: &reqwest::Client, target: &Target, sequence: usize) -> Result<(), String> {
    let mut kind = Kind::of(sequence);
    if kind == Kind::Delete && target.live.lock().len() <= POPULATION {
        kind = Kind::Post;
    }
    if kind != Kind::Post && target.live.lock().is_empty() {
        kind = Kind::Post;
    }
    let users = format!("{}/Users", target.url);
    let request = match kind {
        Kind::Get => {
            let live = target.live.lock();
            let name = live.get(sequence % live.len().max(1)).map(|u| u.1.clone());
            drop(live);
            let filter = format!("userName eq \"{}\"", name.unwrap_or_default());
            client.get(&users).query(&[("filter", filter)])
        }
        Kind::Post => {
            let name = format!("soak-{}-{sequence}", target.run);
            let body = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                EXT: {"AzureID": format!("{name}-id"), "Department": "Soak"},
            });
            client
                .post(&users)
                .header("Content-Type", ecma_scim::CONTENT_TYPE)
                .body(body.to_string())
        }
        Kind::Patch => {
            let live = target.live.lock();
            let newest = live.len().clamp(1, NEWEST);
            let id = live
                .len()
                .checked_sub(1 + sequence % newest)
                .and_then(|i| live.get(i))
                .map(|u| u.0.clone());
            drop(live);
            let body = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": format!("{EXT}:Department"), "value": format!("Soak {sequence}")}],
            });
            client
                .patch(format!("{users}/{}", id.unwrap_or_default()))
                .header("Content-Type", ecma_scim::CONTENT_TYPE)
                .body(body.to_string())
        }
        Kind::Delete => {
            let oldest = target.live.lock().pop_front();
            let id = oldest.map(|u| u.0).unwrap_or_default();
            client.delete(format!("{users}/{id}"))
        }
    };
    let response = request
        .bearer_auth(&target.token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|_| format!("{} no answer", kind.name()))?;
    let status = response.status();
    let expected = match kind {
        Kind::Get | Kind::Patch => status == StatusCode::OK || status == StatusCode::NO_CONTENT,
        Kind::Post => status == StatusCode::CREATED,
        Kind::Delete => status == StatusCode::NO_CONTENT,
    };
    if !expected {
        return Err(format!("{} {}", kind.name(), status.as_u16()));
    }
    if kind == Kind::Post {
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|_| "POST unreadable body".to_string())?;
        if let (Some(id), Some(name)) = (body["id"].as_str(), body["userName"].as_str()) {
            target
                .live
                .lock()
                .push_back((id.to_string(), name.to_string()));
        }
    } else {
        let _ = response.bytes().await;
    }
    Ok(())
}

/// Run `rate` requests a second for `duration` (after a warm-up of a tenth of it, 2 to 60 s)
/// against `options.url`, sampling the RSS of `pid`.
pub async fn run(
    options: &BenchOptions,
    pid: Option<u32>,
    rate: u32,
) -> Result<SoakResult, BenchError> {
    let clients = (0..options.clients.max(1))
        .map(|_| client(&options.certificate))
        .collect::<Result<Vec<_>, _>>()?;
    let target = Target {
        url: options.url.clone(),
        token: options.token.clone(),
        live: Arc::new(Mutex::new(VecDeque::new())),
        run: std::process::id(),
    };
    let rss_before_warm_up_kib = pid.and_then(rss_kib);
    let warm_up = (options.duration / 10).clamp(Duration::from_secs(2), Duration::from_secs(60));
    let slots = Arc::new(Semaphore::new(clients.len() * IN_FLIGHT_PER_CLIENT));
    let outcomes = Arc::new(Mutex::new(
        Vec::<(Kind, Duration, Result<(), String>)>::new(),
    ));
    let sent = Arc::new(AtomicUsize::new(0));
    let per_tick = f64::from(rate.max(1)) * TICK.as_secs_f64();
    let started = Instant::now();
    let measure_from = started + warm_up;
    let end = measure_from + options.duration;
    let mut samples = Vec::new();
    let mut next_sample = measure_from;
    let mut owed = 0.0;
    let mut sequence = 0usize;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while Instant::now() < end {
        tick.tick().await;
        let now = Instant::now();
        if now >= next_sample {
            samples.push(Sample {
                at: now.saturating_duration_since(measure_from),
                requests: sent.load(Ordering::Relaxed),
                rss_kib: pid.and_then(rss_kib),
            });
            next_sample += SAMPLE_EVERY;
        }
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let (client, target) = (clients[sequence % clients.len()].clone(), target.clone());
            let (outcomes, sent) = (outcomes.clone(), sent.clone());
            let measured = Instant::now() >= measure_from;
            let this = sequence;
            tokio::spawn(async move {
                let began = Instant::now();
                let outcome = send(&client, &target, this).await;
                if measured {
                    sent.fetch_add(1, Ordering::Relaxed);
                    outcomes
                        .lock()
                        .push((Kind::of(this), began.elapsed(), outcome));
                }
                drop(slot);
            });
            sequence += 1;
        }
    }
    // Let the requests in flight finish (each has a 30 s time-out).
    let _ = slots
        .acquire_many((clients.len() * IN_FLIGHT_PER_CLIENT) as u32)
        .await;
    samples.push(Sample {
        at: Instant::now().saturating_duration_since(measure_from),
        requests: sent.load(Ordering::Relaxed),
        rss_kib: pid.and_then(rss_kib),
    });
    let outcomes = std::mem::take(&mut *outcomes.lock());
    let mut per_kind = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut latencies = Vec::with_capacity(outcomes.len());
    for (kind, latency, outcome) in outcomes {
        *per_kind.entry(kind.name()).or_insert(0) += 1;
        latencies.push(latency);
        if let Err(key) = outcome {
            *errors.entry(key).or_insert(0) += 1;
        }
    }
    latencies.sort_unstable();
    Ok(SoakResult {
        rate,
        duration: options.duration,
        requests: latencies.len(),
        per_kind,
        errors,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        rss_before_warm_up_kib,
        samples,
    })
}

/// The soak as Markdown: the samples (at most about a dozen rows), then the summary.
pub fn table(result: &SoakResult) -> String {
    let mb = |k: Option<u64>| k.map_or("-".to_string(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    let mut out = String::from("| time | requests | RSS |\n|---:|---:|---:|\n");
    let step = result.samples.len().div_ceil(12).max(1);
    let last = result.samples.len().saturating_sub(1);
    for (i, s) in result.samples.iter().enumerate() {
        if i % step == 0 || i == last {
            out.push_str(&format!(
                "| {} s | {} | {} |\n",
                s.at.as_secs(),
                s.requests,
                mb(s.rss_kib)
            ));
        }
    }
    let seconds = result.duration.as_secs_f64().max(1e-9);
    let kinds: Vec<String> = result
        .per_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    out.push_str(&format!(
        "\n{} requests in {:.0} s ({:.0}/s, asked {}/s): {}; p50 {:.2} ms, p99 {:.2} ms\n",
        result.requests,
        seconds,
        result.requests as f64 / seconds,
        result.rate,
        kinds.join(", "),
        result.p50.as_secs_f64() * 1e3,
        result.p99.as_secs_f64() * 1e3,
    ));
    match result.drift() {
        Some((start, end, drift)) => out.push_str(&format!(
            "RSS {} before the warm-up, {} after it, {} at the end: drift {drift:+.1}%\n",
            mb(result.rss_before_warm_up_kib),
            mb(Some(start)),
            mb(Some(end)),
        )),
        None => out.push_str("RSS not sampled (give --pid)\n"),
    }
    if result.errors.is_empty() {
        out.push_str("errors: 0\n");
    } else {
        let errors: Vec<String> = result
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        out.push_str(&format!(
            "errors: {} ({})\n",
            result.error_count(),
            errors.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_half_reads_and_balances_creates_and_deletes() {
        let kinds: Vec<Kind> = (0..20).map(Kind::of).collect();
        let count = |k: Kind| kinds.iter().filter(|x| **x == k).count();
        assert_eq!(
            [
                count(Kind::Get),
                count(Kind::Post),
                count(Kind::Patch),
                count(Kind::Delete)
            ],
            [10, 3, 4, 3]
        );
    }

    #[test]
    fn drift_is_measured_from_the_first_sample_after_the_warm_up() {
        let sample = |rss| Sample {
            at: Duration::ZERO,
            requests: 0,
            rss_kib: Some(rss),
        };
        let result = SoakResult {
            rate: 1000,
            duration: Duration::from_secs(600),
            requests: 0,
            per_kind: BTreeMap::new(),
            errors: BTreeMap::new(),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            rss_before_warm_up_kib: Some(10_000),
            samples: vec![sample(40_000), sample(41_000), sample(42_000)],
        };
        let (start, end, drift) = result.drift().unwrap();
        assert_eq!((start, end), (40_000, 42_000));
        assert!((drift - 5.0).abs() < 1e-9);
    }
}
