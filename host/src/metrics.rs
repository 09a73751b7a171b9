//! The host's Prometheus metrics: SCIM requests, latency, export results and batch sizes,
//! import durations and object counts, with the status-derived gauges added at each scrape.
//!
//! One [`HostMetrics`] per running host (the registry owns it), so two hosts in one process
//! (the integration tests) never mix their figures. A connector records through its
//! [`ConnectorMetrics`] handle, which carries the `connector` label. Label values come from a
//! small fixed set (methods, status codes, export error codes) or from configured connector
//! names, never from request input, so a client cannot grow the series without bound.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry as PromRegistry;

use crate::registry::ConnectorStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    connector: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    connector: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExportLabels {
    connector: String,
    /// `success` or the ECMA2 export error code (`no_such_object`, `busy`, ...), or
    /// `call_failed` when the whole batch call failed.
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorLabel {
    connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImportLabels {
    connector: String,
    /// `full` or `delta`.
    kind: String,
    /// `ok` or `failed`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    connector: String,
    plugin: String,
    version: String,
    content_hash: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn batch_histogram() -> Histogram {
    // 1 to 4096 entries.
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

fn import_histogram() -> Histogram {
    // 10 ms to about 45 min.
    Histogram::new(exponential_buckets(0.01, 2.0, 19))
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every counter and histogram of one host.
#[derive(Debug)]
pub struct HostMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<LatencyLabels>,
    export_results: Family<ExportLabels, Counter>,
    batch_sizes: HistogramFamily<ConnectorLabel>,
    import_seconds: HistogramFamily<ImportLabels>,
    import_objects: Family<ImportLabels, Counter>,
}

impl Default for HostMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            export_results: Family::default(),
            batch_sizes: Family::new_with_constructor(batch_histogram),
            import_seconds: Family::new_with_constructor(import_histogram),
            import_objects: Family::default(),
        }
    }
}

/// An ECMA2 export error code as a label and in the audit log.
pub fn export_code(kind: ecma_plugin_api::ExportErrorKind) -> &'static str {
    use ecma_plugin_api::ExportErrorKind as K;
    match kind {
        K::ConnectedDirectoryError => "connected_directory_error",
        K::InvalidDn => "invalid_dn",
        K::MissingAnchorComponent => "missing_anchor_component",
        K::SyntaxViolation => "syntax_violation",
        K::ObjectAlreadyExists => "object_already_exists",
        K::NoSuchObject => "no_such_object",
        K::PermissionIssue => "permission_issue",
        K::CustomContinueRun => "custom_continue_run",
        K::CustomStopRun => "custom_stop_run",
        K::Busy => "busy",
    }
}

/// The SCIM methods counted by name; anything else is `OTHER`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "OTHER",
    }
}

impl HostMetrics {
    /// A connector's handle.
    pub fn connector(self: &Arc<Self>, name: &str) -> ConnectorMetrics {
        ConnectorMetrics {
            connector: name.to_string(),
            host: self.clone(),
        }
    }

    /// One SCIM request. `connector` must be a configured connector's name or empty (a path
    /// that names none), so that request input never becomes a label.
    pub fn request(&self, connector: &str, method: &str, status: u16, latency: Duration) {
        let method = method_label(method).to_string();
        self.requests
            .get_or_create(&RequestLabels {
                connector: connector.to_string(),
                method: method.clone(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                connector: connector.to_string(),
                method,
            })
            .observe(latency.as_secs_f64());
    }

    /// The OpenMetrics text of these metrics plus the gauges derived from `status`.
    pub fn render(&self, status: &[ConnectorStatus]) -> Result<String, std::fmt::Error> {
        let mut registry = PromRegistry::with_prefix("ecmahost");
        registry.register(
            "scim_requests",
            "SCIM requests answered, by connector, method and HTTP status",
            self.requests.clone(),
        );
        registry.register(
            "scim_request_duration_seconds",
            "SCIM request latency, by connector and method",
            self.latency.clone(),
        );
        registry.register(
            "export_results",
            "Exported entries by result: success or the ECMA2 export error code",
            self.export_results.clone(),
        );
        registry.register(
            "export_batch_size",
            "Entries per put_export_entries call",
            self.batch_sizes.clone(),
        );
        registry.register(
            "import_duration_seconds",
            "Duration of imports (one per partition), by kind and outcome",
            self.import_seconds.clone(),
        );
        registry.register(
            "import_objects",
            "Objects read by imports, by kind and outcome",
            self.import_objects.clone(),
        );
        register_status(&mut registry, status);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// A gauge or counter per connector, taken from `/status` at each scrape.
fn register_status(registry: &mut PromRegistry, status: &[ConnectorStatus]) {
    let up: Family<ConnectorLabel, Gauge> = Family::default();
    let objects: Family<ConnectorLabel, Gauge> = Family::default();
    let versions: Family<ConnectorLabel, Gauge> = Family::default();
    let swap_ms: Family<ConnectorLabel, Gauge> = Family::default();
    let reloads: Family<ConnectorLabel, Counter> = Family::default();
    let reload_failures: Family<ConnectorLabel, Counter> = Family::default();
    let plugin: Family<PluginLabels, Gauge> = Family::default();
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for s in status {
        let label = ConnectorLabel {
            connector: s.name.clone(),
        };
        up.get_or_create(&label).set(i64::from(s.state == "ready"));
        objects.get_or_create(&label).set(as_i64(s.objects as u64));
        versions
            .get_or_create(&label)
            .set(as_i64(s.versions_loaded as u64));
        swap_ms
            .get_or_create(&label)
            .set(as_i64(s.last_swap_ms.unwrap_or(0)));
        reloads.get_or_create(&label).inc_by(s.reloads_ok);
        reload_failures
            .get_or_create(&label)
            .inc_by(s.reloads_failed);
        if let (Some(name), Some(version)) = (&s.plugin, &s.plugin_version) {
            plugin
                .get_or_create(&PluginLabels {
                    connector: s.name.clone(),
                    plugin: name.clone(),
                    version: version.clone(),
                    content_hash: s.content_hash.clone().unwrap_or_default(),
                })
                .set(1);
        }
    }
    registry.register("connector_up", "1 when the connector answers requests", up);
    registry.register(
        "connector_objects",
        "Objects in the connector space",
        objects,
    );
    registry.register(
        "plugin_versions_loaded",
        "Library versions loaded for the connector since start (never unloaded)",
        versions,
    );
    registry.register(
        "plugin_info",
        "The library version serving each connector (value 1)",
        plugin,
    );
    registry.register("reloads", "Reloads swapped in", reloads);
    registry.register("reload_failures", "Reloads refused", reload_failures);
    registry.register(
        "last_swap_milliseconds",
        "Duration of the last reload",
        swap_ms,
    );
}

/// One connector's side of [`HostMetrics`]: what its export engine and imports record.
#[derive(Clone, Debug)]
pub struct ConnectorMetrics {
    connector: String,
    host: Arc<HostMetrics>,
}

impl ConnectorMetrics {
    /// A handle that records into metrics nobody reads (a connector built outside a host,
    /// such as by a command-line check).
    pub fn detached(connector: &str) -> Self {
        Arc::new(HostMetrics::default()).connector(connector)
    }

    /// One `put_export_entries` call of `size` entries.
    pub fn export_batch(&self, size: usize) {
        self.host
            .batch_sizes
            .get_or_create(&ConnectorLabel {
                connector: self.connector.clone(),
            })
            .observe(size as f64);
    }

    /// One entry's export result: `success`, an export error code, or `call_failed`.
    pub fn export_result(&self, result: &str) {
        self.host
            .export_results
            .get_or_create(&ExportLabels {
                connector: self.connector.clone(),
                result: result.to_string(),
            })
            .inc();
    }

    /// One finished import run (`kind` is `full` or `delta`).
    pub fn import(&self, kind: &str, ok: bool, objects: u64, took: Duration) {
        let labels = ImportLabels {
            connector: self.connector.clone(),
            kind: kind.to_string(),
            outcome: if ok { "ok" } else { "failed" }.to_string(),
        };
        self.host
            .import_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.host
            .import_objects
            .get_or_create(&labels)
            .inc_by(objects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_with_connector_labels() {
        let host = Arc::new(HostMetrics::default());
        host.request("demo", "POST", 201, Duration::from_millis(3));
        host.request("demo", "BREW", 405, Duration::from_millis(1));
        let c = host.connector("demo");
        c.export_batch(3);
        c.export_result("success");
        c.export_result("no_such_object");
        c.import("full", true, 42, Duration::from_millis(20));
        let text = host.render(&[]).unwrap();
        for line in [
            "ecmahost_scim_requests_total{connector=\"demo\",method=\"POST\",status=\"201\"} 1",
            "ecmahost_scim_requests_total{connector=\"demo\",method=\"OTHER\",status=\"405\"} 1",
            "ecmahost_export_results_total{connector=\"demo\",result=\"no_such_object\"} 1",
            "ecmahost_export_batch_size_count{connector=\"demo\"} 1",
            "ecmahost_import_objects_total{connector=\"demo\",kind=\"full\",outcome=\"ok\"} 42",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing `{line}` in\n{text}");
        }
        assert!(text.contains("ecmahost_scim_request_duration_seconds_bucket{"));
    }
}
