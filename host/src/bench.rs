//! `ecmahost bench`: a load generator for a running host, with a bare baseline measured in the
//! same run.
//!
//! N clients, each on its own keep-alive TLS connection, send requests back to back for a fixed
//! time. Three phases: a bare axum + rustls server answering a fixed ListResponse (started here,
//! on 127.0.0.1), GET-by-filter against the host, and POST (new users) against the host. It
//! prints req/s, p50 and p99 per phase, and the ratio to the baseline. This is a benchmark, not
//! a test: nothing here asserts a figure. `--flood` runs the wrong-token flood instead
//! (`flood.rs`), `--soak` a steady mixed load with RSS samples (`soak.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::tls::{provider, server_config};

pub mod flood;
pub mod soak;

/// What to load and how hard.
pub struct BenchOptions {
    /// Tenant URL, e.g. `https://localhost:8585/ecma2host_demo/scim`.
    pub url: String,
    pub token: String,
    /// The host's certificate (PEM), trusted as the only root.
    pub certificate: PathBuf,
    /// The host's private key, used only to serve the baseline with the same certificate.
    pub key: PathBuf,
    pub clients: usize,
    pub duration: Duration,
    /// A `filter` query value for the GET phase.
    pub filter: String,
    /// Replace the connector's library this many times under load (0: skip that phase).
    pub swaps: usize,
    /// The host's `ECMA` folder and the library file name to republish.
    pub ecma_dir: PathBuf,
    pub library: String,
    /// The admin listener's base URL (`http://127.0.0.1:8586`), to see when a swap is done.
    pub admin_url: String,
    pub connector: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot read the certificate: {0}")]
    Certificate(String),
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot start the baseline server: {0}")]
    Baseline(std::io::Error),
    #[error("cannot republish the library: {0}")]
    Publish(std::io::Error),
    #[error("swap {0} was not seen in /status within 60 s")]
    SwapTimeout(usize),
}

/// The swap phase's figures.
pub struct SwapResult {
    pub steady: PhaseResult,
    pub during: PhaseResult,
    /// From publishing the file to `/status` showing the new version, per swap.
    pub observed: Vec<Duration>,
    /// The host's own measure: build, checks and swap, per swap (`last_swap_ms`).
    pub host_ms: Vec<u64>,
}

/// The result of one phase.
pub struct PhaseResult {
    pub name: String,
    pub requests: usize,
    pub failures: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

fn client(certificate: &std::path::Path) -> Result<reqwest::Client, BenchError> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| BenchError::Certificate(e.to_string()))?;
    for cert in certs {
        roots
            .add(cert.map_err(|e| BenchError::Certificate(e.to_string()))?)
            .map_err(|e| BenchError::Certificate(e.to_string()))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| BenchError::Certificate(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .pool_max_idle_per_host(1)
        .build()?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Run `request(client, worker, sequence)` from `clients` workers for `duration`.
async fn phase<F, Fut>(
    name: &str,
    options: &BenchOptions,
    request: F,
) -> Result<PhaseResult, BenchError>
where
    F: Fn(reqwest::Client, usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let deadline = Instant::now() + options.duration;
    let mut workers = Vec::new();
    for worker in 0..options.clients {
        let client = client(&options.certificate)?;
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            let mut sequence = 0usize;
            while Instant::now() < deadline {
                let started = Instant::now();
                let ok = request(client.clone(), worker, sequence).await;
                latencies.push(started.elapsed());
                failures += usize::from(!ok);
                sequence += 1;
            }
            (latencies, failures)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        if let Ok((l, f)) = worker.await {
            latencies.extend(l);
            failures += f;
        }
    }
    let elapsed = started.elapsed().max(options.duration);
    latencies.sort_unstable();
    Ok(PhaseResult {
        name: name.to_string(),
        requests: latencies.len(),
        failures,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}

/// Serve a fixed ListResponse over TLS on 127.0.0.1 (the bare baseline).
async fn start_baseline(
    options: &BenchOptions,
) -> Result<(SocketAddr, axum_server::Handle), BenchError> {
    let body = serde_json::to_vec(&ecma_scim::ListResponse::new(
        vec![serde_json::json!({"id": "bench", "userName": "bench"})],
        1,
        1,
    ))
    .unwrap_or_default();
    let app = axum::Router::new().route(
        "/scim/Users",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, ecma_scim::CONTENT_TYPE)],
                    body,
                )
            }
        }),
    );
    let tls = RustlsConfig::from_config(server_config(&options.certificate, &options.key)?);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(BenchError::Baseline)?;
    let addr = listener.local_addr().map_err(BenchError::Baseline)?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .handle(handle.clone())
        .serve(app.into_make_service());
    tokio::spawn(server);
    Ok((addr, handle))
}

/// Run the three phases and return their results.
pub async fn run(options: &BenchOptions) -> Result<Vec<PhaseResult>, BenchError> {
    let mut results = Vec::new();
    let (addr, handle) = start_baseline(options).await?;
    let baseline_url = format!("https://localhost:{}/scim/Users", addr.port());
    results.push(
        phase(
            "bare axum+rustls, fixed ListResponse",
            options,
            move |c, _, _| {
                let url = baseline_url.clone();
                async move {
                    c.get(url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            },
        )
        .await?,
    );
    handle.shutdown();

    let (url, token, filter) = (
        options.url.clone(),
        options.token.clone(),
        options.filter.clone(),
    );
    results.push(
        phase(
            "GET /Users?filter (connector space)",
            options,
            move |c, _, _| {
                let (url, token, filter) = (url.clone(), token.clone(), filter.clone());
                async move {
                    c.get(format!("{url}/Users"))
                        .query(&[("filter", filter.as_str())])
                        .bearer_auth(token)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            },
        )
        .await?,
    );

    let run_id = std::process::id();
    let (url, token) = (options.url.clone(), options.token.clone());
    results.push(
        phase("POST /Users (export to target)", options, move |c, worker, sequence| {
            let (url, token) = (url.clone(), token.clone());
            async move {
                let user = format!("bench-{run_id}-{worker}-{sequence}");
                let body = serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user,
                    "urn:ietf:params:scim:schemas:extension:ECMA2Host:2.0:User": {"AzureID": format!("{user}-id")},
                });
                c.post(format!("{url}/Users"))
                    .bearer_auth(token)
                    .header("Content-Type", ecma_scim::CONTENT_TYPE)
                    .body(body.to_string())
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED)
            }
        })
        .await?,
    );
    Ok(results)
}

/// The results as a Markdown table.
pub fn table(results: &[PhaseResult]) -> String {
    let baseline = results.first().map(|r| r.per_second).unwrap_or(0.0);
    let mut out = String::from("| phase | requests | failed | req/s | vs bare | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let ratio = if baseline > 0.0 {
            r.per_second / baseline
        } else {
            0.0
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} ms | {:.2} ms |\n",
            r.name,
            r.requests,
            r.failures,
            r.per_second,
            ratio,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        ));
    }
    out
}

fn summarise(
    name: &str,
    mut latencies: Vec<Duration>,
    failures: usize,
    elapsed: Duration,
) -> PhaseResult {
    latencies.sort_unstable();
    PhaseResult {
        name: name.to_string(),
        requests: latencies.len(),
        failures,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

async fn connector_status(
    admin: &reqwest::Client,
    options: &BenchOptions,
) -> Option<serde_json::Value> {
    let body: serde_json::Value = admin
        .get(format!("{}/status", options.admin_url))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["connectors"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == options.connector.as_str())
        .cloned()
}

/// GET and POST load while the library is republished `options.swaps` times (temp file, then
/// rename, as documented). Requests are split by whether they started during a swap, from the
/// publish to `/status` showing the new content hash.
pub async fn run_swaps(options: &BenchOptions) -> Result<SwapResult, BenchError> {
    use sha2::{Digest, Sha256};
    type Sample = (Instant, Duration, bool);
    let original =
        std::fs::read(options.ecma_dir.join(&options.library)).map_err(BenchError::Publish)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..options.clients {
        let client = client(&options.certificate)?;
        let (url, token, filter, stop) = (
            options.url.clone(),
            options.token.clone(),
            options.filter.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut samples: Vec<Sample> = Vec::new();
            let mut n = 0usize;
            let run = std::process::id();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                let ok = if worker % 2 == 0 {
                    client.get(format!("{url}/Users")).query(&[("filter", filter.as_str())]).bearer_auth(&token).send().await.is_ok_and(|r| r.status().is_success())
                } else {
                    let user = format!("swap-{run}-{worker}-{n}");
                    let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user});
                    client
                        .post(format!("{url}/Users"))
                        .bearer_auth(&token)
                        .header("Content-Type", ecma_scim::CONTENT_TYPE)
                        .body(body.to_string())
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED)
                };
                samples.push((started, started.elapsed(), ok));
            }
            samples
        }));
    }

    // Plain HTTP, but reqwest still needs a TLS provider: reuse the ring-configured client.
    let admin = client(&options.certificate)?;
    let phase_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut windows, mut observed, mut host_ms) = (Vec::new(), Vec::new(), Vec::new());
    for swap in 1..=options.swaps {
        let mut bytes = original.clone();
        bytes.extend_from_slice(format!("\0bench-swap-{}-{swap}", std::process::id()).as_bytes());
        let expected = hex::encode(Sha256::digest(&bytes));
        let tmp = options
            .ecma_dir
            .join(format!(".{}.bench.tmp", options.library));
        let published = Instant::now();
        std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::rename(&tmp, options.ecma_dir.join(&options.library)))
            .map_err(BenchError::Publish)?;
        let mut done = None;
        for _ in 0..3000 {
            if let Some(status) = connector_status(&admin, options).await {
                if status["content_hash"] == expected.as_str() {
                    host_ms.push(status["last_swap_ms"].as_u64().unwrap_or(0));
                    done = Some(Instant::now());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let done = done.ok_or(BenchError::SwapTimeout(swap))?;
        observed.push(done - published);
        windows.push((published, done));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let elapsed = phase_started.elapsed();

    let (mut steady, mut during) = ((Vec::new(), 0usize), (Vec::new(), 0usize));
    for worker in workers {
        for (started, latency, ok) in worker.await.unwrap_or_default() {
            let in_swap = windows.iter().any(|(a, b)| started >= *a && started <= *b);
            let bucket = if in_swap { &mut during } else { &mut steady };
            bucket.0.push(latency);
            bucket.1 += usize::from(!ok);
        }
    }
    let swap_time: Duration = observed.iter().sum();
    Ok(SwapResult {
        steady: summarise(
            "steady state (GET+POST)",
            steady.0,
            steady.1,
            elapsed.saturating_sub(swap_time),
        ),
        during: summarise("during swaps (GET+POST)", during.0, during.1, swap_time),
        observed,
        host_ms,
    })
}

/// The swap phase as Markdown.
pub fn swap_table(result: &SwapResult) -> String {
    let mut out = table_rows(&[&result.steady, &result.during]);
    let mut observed = result.observed.clone();
    observed.sort_unstable();
    let mut host = result.host_ms.clone();
    host.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    out.push_str(&format!(
        "\n{} swaps. Publish to serving (includes the 500 ms stability wait): min {:.0} ms, median {:.0} ms, max {:.0} ms.\n\
         Host build + checks + swap: min {} ms, median {} ms, max {} ms.\n",
        observed.len(),
        observed.first().copied().map(ms).unwrap_or(0.0),
        observed.get(observed.len() / 2).copied().map(ms).unwrap_or(0.0),
        observed.last().copied().map(ms).unwrap_or(0.0),
        host.first().unwrap_or(&0),
        host.get(host.len() / 2).unwrap_or(&0),
        host.last().unwrap_or(&0),
    ));
    out
}

fn table_rows(results: &[&PhaseResult]) -> String {
    let mut out = String::from(
        "| phase | requests | failed | req/s | p50 | p99 |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms |\n",
            r.name,
            r.requests,
            r.failures,
            r.per_second,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        ));
    }
    out
}
