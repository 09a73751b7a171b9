//! The log channel across the ABI (API 1.1): a connector's `log` and `tracing` records reach
//! the host's log, attributed to the connector that emitted them.
//!
//! Two sides, one module, because they share the record format:
//!
//! - **In the library.** Each cdylib has its own copy of `log` and `tracing`, so records a
//!   plugin emits never reach the host's subscriber by themselves. [`export_connector!`]'s root
//!   module installs a `log` logger and a `tracing` subscriber inside the library
//!   ([`install_bridge`]). Both hand records to the **route** of the connector being called:
//!   the adapter enters its connector's [`LogRoute`] for the length of every call (thread-local),
//!   so a library that backs several connectors attributes each record to the right one.
//!   Records from the library's own threads, outside any call, go to the most recently
//!   attached connector that is still alive. Records emitted while the connector is built
//!   (`Connector::new`) are kept (a few) until the host attaches its sink. Nothing is ever
//!   written to standard error.
//! - **In the host.** The host implements [`LogSink`] (or uses [`TracingLogSink`], which writes
//!   to the host's `tracing` log with a `connector` field) and attaches it with
//!   [`crate::PluginConnector::attach_log`] right after `new_connector`.
//!
//! Cheap when disabled: the host passes its most verbose level. The bridge sets the library's
//! `log` maximum and `tracing` level hint to it, so a disabled record costs what it costs in
//! any program: an atomic load at the call site. Records above a connector's own maximum are
//! dropped before they are formatted.
//!
//! [`export_connector!`]: crate::export_connector

use std::cell::RefCell;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, RwLock, Weak};

use abi_stable::std_types::{RString, RVec};

use crate::ffi::{codes, Code, FfiLogField, FfiLogRecord, FfiLogSink};

/// The severity of a log record; the order of the `log` crate (`Error` is the most severe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    /// The most verbose level the host's current `tracing` subscriber wants, if any.
    pub fn tracing_max() -> Option<Self> {
        use tracing::level_filters::LevelFilter;
        match LevelFilter::current() {
            LevelFilter::OFF => None,
            LevelFilter::ERROR => Some(Self::Error),
            LevelFilter::WARN => Some(Self::Warn),
            LevelFilter::INFO => Some(Self::Info),
            LevelFilter::DEBUG => Some(Self::Debug),
            _ => Some(Self::Trace),
        }
    }

    fn to_code(self) -> Code {
        Code(self as u32)
    }

    /// An unknown level (from a newer peer) reads as `Info`: shown at the usual level, never
    /// lost as trace noise nor raised to an error.
    fn from_code(code: Code) -> Option<Self> {
        match code {
            codes::LOG_OFF => None,
            codes::LOG_ERROR => Some(Self::Error),
            codes::LOG_WARN => Some(Self::Warn),
            codes::LOG_DEBUG => Some(Self::Debug),
            codes::LOG_TRACE => Some(Self::Trace),
            _ => Some(Self::Info),
        }
    }

    fn from_log(level: log::Level) -> Self {
        match level {
            log::Level::Error => Self::Error,
            log::Level::Warn => Self::Warn,
            log::Level::Info => Self::Info,
            log::Level::Debug => Self::Debug,
            log::Level::Trace => Self::Trace,
        }
    }

    fn from_tracing(level: &tracing::Level) -> Self {
        match *level {
            tracing::Level::ERROR => Self::Error,
            tracing::Level::WARN => Self::Warn,
            tracing::Level::INFO => Self::Info,
            tracing::Level::DEBUG => Self::Debug,
            _ => Self::Trace,
        }
    }
}

/// One record a connector logged, as the host receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LogRecord {
    pub level: LogLevel,
    /// The `log` or `tracing` target inside the library (by default its module path).
    pub target: String,
    pub message: String,
    /// Key/value fields, in the order the plugin gave them.
    pub fields: Vec<(String, String)>,
}

/// Where the host wants one connector's log records. Called on the library's threads, during a
/// host call or not, so it must be quick and must not call back into the connector.
pub trait LogSink: Send + Sync + 'static {
    fn log(&self, record: LogRecord);
}

/// A [`LogSink`] that writes to the host's `tracing` log: target `ecma_plugin`, the record's
/// level, fields `connector` (the connector's name) and `plugin_target`, and the message
/// followed by the record's fields as `key=value`.
#[derive(Clone, Debug)]
pub struct TracingLogSink {
    connector: String,
}

impl TracingLogSink {
    pub fn new(connector: impl Into<String>) -> Self {
        Self {
            connector: connector.into(),
        }
    }
}

impl LogSink for TracingLogSink {
    fn log(&self, record: LogRecord) {
        let mut text = record.message;
        for (name, value) in &record.fields {
            let _ = write!(text, " {name}={value}");
        }
        let (connector, target) = (self.connector.as_str(), record.target.as_str());
        // `tracing` levels are part of each call site, hence one call per level.
        match record.level {
            LogLevel::Error => {
                tracing::error!(target: "ecma_plugin", connector, plugin_target = target, "{text}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "ecma_plugin", connector, plugin_target = target, "{text}")
            }
            LogLevel::Info => {
                tracing::info!(target: "ecma_plugin", connector, plugin_target = target, "{text}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "ecma_plugin", connector, plugin_target = target, "{text}")
            }
            LogLevel::Trace => {
                tracing::trace!(target: "ecma_plugin", connector, plugin_target = target, "{text}")
            }
        }
    }
}

/// The host's [`LogSink`] behind the ABI. A panic in the sink must not unwind into the
/// library's frames, so it is caught here and the record is dropped.
pub(crate) struct HostSink(pub(crate) Arc<dyn LogSink>);

impl FfiLogSink for HostSink {
    fn log(&self, record: &FfiLogRecord) {
        let record = LogRecord {
            level: LogLevel::from_code(record.level).unwrap_or(LogLevel::Info),
            target: record.target.to_string(),
            message: record.message.to_string(),
            fields: record
                .fields
                .iter()
                .map(|f| (f.name.to_string(), f.value.to_string()))
                .collect(),
        };
        let _ = catch_unwind(AssertUnwindSafe(|| self.0.log(record)));
    }
}

pub(crate) fn level_to_ffi(level: Option<LogLevel>) -> Code {
    level.map_or(codes::LOG_OFF, LogLevel::to_code)
}

// ---------------------------------------------------------------------------------------------
// The library's side.

/// Records kept while a connector is being built, before the host can attach its sink.
const EARLY_RECORDS: usize = 64;

/// A host sink as one connector holds it.
struct Attached {
    sink: crate::ffi::FfiLogSinkBox,
    max_level: Option<LogLevel>,
}

/// Where one connector's records go: its host sink once attached, and until then a short
/// buffer of the records emitted while it was being built.
pub(crate) struct LogRoute {
    attached: RwLock<Option<Attached>>,
    early: Mutex<Option<Vec<FfiLogRecord>>>,
    /// Whether records are still added to `early`: only while the connector is being built,
    /// so that a host without a log channel (API 1.0) does not make every call keep records.
    keeping: AtomicBool,
}

thread_local! {
    /// The route of the connector whose call this thread is running.
    static CURRENT: RefCell<Option<Arc<LogRoute>>> = const { RefCell::new(None) };
}

/// The most recently attached route: where records from outside any call go.
static LATEST: RwLock<Weak<LogRoute>> = RwLock::new(Weak::new());

/// Whether this copy of the crate installed the `log`/`tracing` bridge (only inside a cdylib).
static BRIDGE: AtomicBool = AtomicBool::new(false);

/// The most verbose level any attached sink wants (a `LogLevel` number, 0 for none). Before
/// the first attach it is `Info`, so that what a connector logs while it is built is kept.
static MAX_LEVEL: AtomicUsize = AtomicUsize::new(LogLevel::Info as usize);
static ATTACHED_ANY: AtomicBool = AtomicBool::new(false);

fn global_max_level() -> usize {
    MAX_LEVEL.load(Ordering::Relaxed)
}

/// Leaves the route entered by [`LogRoute::enter`], restoring the one before it.
pub(crate) struct RouteScope(Option<Arc<LogRoute>>);

impl Drop for RouteScope {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}

impl LogRoute {
    /// A route for a connector being built: it keeps early records until a sink is attached.
    pub(crate) fn building() -> Arc<Self> {
        Arc::new(Self {
            attached: RwLock::new(None),
            early: Mutex::new(Some(Vec::new())),
            keeping: AtomicBool::new(true),
        })
    }

    /// A route that keeps nothing until a sink is attached (an in-process connector).
    pub(crate) fn detached() -> Arc<Self> {
        Arc::new(Self {
            attached: RwLock::new(None),
            early: Mutex::new(None),
            keeping: AtomicBool::new(false),
        })
    }

    /// The connector is built: keep what it logged so far for the sink, and nothing more.
    pub(crate) fn built(&self) {
        self.keeping.store(false, Ordering::Relaxed);
    }

    /// Make this the current thread's route until the scope is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> RouteScope {
        let previous = CURRENT
            .try_with(|current| current.borrow_mut().replace(Arc::clone(self)))
            .ok()
            .flatten();
        RouteScope(previous)
    }

    /// Send this route's records to `sink`, those at `max_level` or more severe; flush what was
    /// kept while the connector was built.
    pub(crate) fn attach(self: &Arc<Self>, sink: crate::ffi::FfiLogSinkBox, max_level: Code) {
        let max_level = LogLevel::from_code(max_level);
        let wanted = max_level.map_or(0, |l| l as usize);
        let previous = if ATTACHED_ANY.swap(true, Ordering::Relaxed) {
            MAX_LEVEL.fetch_max(wanted, Ordering::Relaxed)
        } else {
            MAX_LEVEL.swap(wanted, Ordering::Relaxed)
        };
        let early = self
            .early
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default();
        for record in &early {
            if LogLevel::from_code(record.level).map(|l| Some(l) <= max_level) == Some(true) {
                sink.log(record);
            }
        }
        *self
            .attached
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Attached { sink, max_level });
        *LATEST.write().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(self);
        if previous != global_max_level() && BRIDGE.load(Ordering::Relaxed) {
            apply_max_level();
        }
    }

    /// Deliver one record: to the sink if attached and the level is wanted, else keep it if the
    /// connector is still being built. `build` formats the record only when it is delivered.
    fn deliver(&self, level: LogLevel, build: impl FnOnce() -> FfiLogRecord) {
        if let Some(attached) = self
            .attached
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            if Some(level) <= attached.max_level {
                attached.sink.log(&build());
            }
            return;
        }
        if !self.keeping.load(Ordering::Relaxed) {
            return;
        }
        let mut early = self.early.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = early.as_mut() {
            if kept.len() < EARLY_RECORDS {
                kept.push(build());
            }
        }
    }
}

/// The route a record emitted on this thread belongs to.
fn route() -> Option<Arc<LogRoute>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
        .or_else(|| {
            LATEST
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .upgrade()
        })
}

/// Hand one record to the route of this thread, if any.
fn dispatch(level: LogLevel, build: impl FnOnce() -> FfiLogRecord) {
    if level as usize > global_max_level() {
        return;
    }
    if let Some(route) = route() {
        route.deliver(level, build);
    }
}

fn record(
    level: LogLevel,
    target: &str,
    message: String,
    fields: Vec<(String, String)>,
) -> FfiLogRecord {
    FfiLogRecord {
        level: level.to_code(),
        target: RString::from(target),
        message: RString::from(message),
        fields: fields
            .into_iter()
            .map(|(name, value)| FfiLogField {
                name: RString::from(name),
                value: RString::from(value),
            })
            .collect::<RVec<_>>(),
    }
}

/// Install the `log` logger and the `tracing` subscriber of this library. Called by the root
/// module of a cdylib (never in-process: there the host's own logger is the global one). If
/// the plugin set its own logger or subscriber first, that one stays and this half does nothing.
pub(crate) fn install_bridge() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let _ = log::set_logger(&LogBridge);
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(TracingBridge),
        );
        BRIDGE.store(true, Ordering::Relaxed);
        apply_max_level();
    });
}

/// Tell `log` and `tracing` (this library's copies) the level the host wants.
fn apply_max_level() {
    let level = match global_max_level() {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    log::set_max_level(level);
    tracing::callsite::rebuild_interest_cache();
}

/// The library's `log` logger.
struct LogBridge;

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        LogLevel::from_log(metadata.level()) as usize <= global_max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        dispatch(LogLevel::from_log(record.level()), || {
            let mut fields = KeyValues(Vec::new());
            let _ = record.key_values().visit(&mut fields);
            self::record(
                LogLevel::from_log(record.level()),
                record.target(),
                record.args().to_string(),
                fields.0,
            )
        });
    }

    fn flush(&self) {}
}

struct KeyValues(Vec<(String, String)>);

impl<'kvs> log::kv::VisitSource<'kvs> for KeyValues {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }
}

/// The library's `tracing` layer: events become records; the names of the spans they happen
/// in become a `span` field (`outer:inner`).
struct TracingBridge;

impl<S> tracing_subscriber::Layer<S> for TracingBridge
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        LogLevel::from_tracing(metadata.level()) as usize <= global_max_level()
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match global_max_level() {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let metadata = event.metadata();
        let level = LogLevel::from_tracing(metadata.level());
        dispatch(level, || {
            let mut visitor = EventFields::default();
            event.record(&mut visitor);
            if let Some(scope) = ctx.event_scope(event) {
                let spans: Vec<&str> = scope.from_root().map(|span| span.name()).collect();
                visitor.fields.push(("span".to_string(), spans.join(":")));
            }
            record(level, metadata.target(), visitor.message, visitor.fields)
        });
    }
}

#[derive(Default)]
struct EventFields {
    message: String,
    fields: Vec<(String, String)>,
}

impl tracing::field::Visit for EventFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::FfiLogSink_TO;
    use abi_stable::sabi_trait::TD_Opaque;

    #[derive(Default)]
    struct Collect(Mutex<Vec<LogRecord>>);

    impl LogSink for Collect {
        fn log(&self, record: LogRecord) {
            self.0.lock().unwrap().push(record);
        }
    }

    fn sink(collect: &Arc<Collect>) -> crate::ffi::FfiLogSinkBox {
        FfiLogSink_TO::from_ptr(
            abi_stable::std_types::RArc::new(HostSink(collect.clone())),
            TD_Opaque,
        )
    }

    fn info(message: &str) {
        dispatch(LogLevel::Info, || {
            record(
                LogLevel::Info,
                "fixture",
                message.to_string(),
                vec![("k".into(), "v".into())],
            )
        });
    }

    /// Each connector's calls log to its own sink; the early records of a connector being built
    /// reach its sink when it is attached (and nothing logged between); a thread outside any call logs to the latest.
    /// (One test: the routes share process-wide state.)
    #[test]
    fn records_follow_the_connector_being_called() {
        let (a, b) = (Arc::new(Collect::default()), Arc::new(Collect::default()));
        let (route_a, route_b) = (LogRoute::building(), LogRoute::building());
        {
            let _in_new = route_a.enter();
            info("while building a");
        }
        route_a.built();
        {
            let _call_before_attach = route_a.enter();
            info("after building a, before its sink");
        }
        route_a.attach(sink(&a), codes::LOG_INFO);
        route_b.attach(sink(&b), codes::LOG_DEBUG);
        {
            let _call = route_a.enter();
            info("call of a");
            dispatch(LogLevel::Debug, || {
                panic!("a does not want debug: not formatted")
            });
            {
                let _nested = route_b.enter();
                info("call of b");
            }
            info("back in a");
        }
        std::thread::spawn(|| info("background")).join().unwrap();

        let messages = |c: &Collect| -> Vec<String> {
            c.0.lock()
                .unwrap()
                .iter()
                .map(|r| r.message.clone())
                .collect()
        };
        assert_eq!(messages(&a), ["while building a", "call of a", "back in a"]);
        assert_eq!(messages(&b), ["call of b", "background"]);
        let first = a.0.lock().unwrap()[0].clone();
        assert_eq!(first.level, LogLevel::Info);
        assert_eq!(first.target, "fixture");
        assert_eq!(first.fields, [("k".to_string(), "v".to_string())]);

        drop(route_b);
        std::thread::spawn(|| info("after b is gone"))
            .join()
            .unwrap();
        assert_eq!(messages(&b), ["call of b", "background"]);
    }

    #[test]
    fn unknown_level_codes_read_as_info() {
        assert_eq!(LogLevel::from_code(Code(42)), Some(LogLevel::Info));
        assert_eq!(LogLevel::from_code(codes::LOG_OFF), None);
        for level in [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
        ] {
            assert_eq!(LogLevel::from_code(level.to_code()), Some(level));
        }
    }
}
