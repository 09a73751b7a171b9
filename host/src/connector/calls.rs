//! Running plugin calls: on tokio's blocking pool, never on an async worker, with a per-call
//! time-out and a per-connector bound on concurrent calls.
//!
//! The permit is released when the blocking call really returns, not when the caller gives up
//! on it. A hung target therefore holds its permits, and only its own connector runs out: the
//! bound keeps one slow target from exhausting the shared blocking pool.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ecma_plugin_api::ConnectorError;
use tokio::sync::Semaphore;

#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    #[error("the connector call `{call}` did not finish within {} s", timeout.as_secs())]
    Timeout {
        call: &'static str,
        timeout: Duration,
    },
    #[error("the host panicked while running `{call}`")]
    HostPanic { call: &'static str },
    #[error("{0}")]
    Connector(ConnectorError),
}

/// Runs one connector's plugin calls.
#[derive(Clone)]
pub struct PluginCalls {
    permits: Arc<Semaphore>,
    timeout: Duration,
    /// Calls that outlived their time-out and have not returned yet: the connector is degraded
    /// while this is above zero.
    stuck: Arc<AtomicUsize>,
}

/// Still waiting for a permit: giving up now leaves nothing behind.
const WAITING: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const ABANDONED: u8 = 3;

impl PluginCalls {
    pub fn new(max_concurrent: usize, timeout: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            timeout,
            stuck: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Calls still running past their time-out.
    pub fn stuck(&self) -> usize {
        self.stuck.load(Ordering::Relaxed)
    }

    /// Run `f` on the blocking pool. Waiting for a permit counts against the time-out too, so
    /// a request never waits longer than one time-out for a stuck connector.
    pub async fn run<T, F>(&self, call: &'static str, f: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ConnectorError> + Send + 'static,
    {
        let timeout = self.timeout;
        // RUNNING -> FINISHED when the call returns; RUNNING -> ABANDONED when the caller gives
        // up. Whichever comes second settles the `stuck` count.
        let state = Arc::new(AtomicU8::new(WAITING));
        let (task_state, stuck) = (state.clone(), self.stuck.clone());
        let work = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| CallError::HostPanic { call })?;
            // No await between marking RUNNING and spawning: a time-out sees one or the other.
            state.store(RUNNING, Ordering::Release);
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let result = catch_unwind(AssertUnwindSafe(f));
                if task_state.swap(FINISHED, Ordering::AcqRel) == ABANDONED {
                    stuck.fetch_sub(1, Ordering::Relaxed);
                }
                result
            });
            match task.await {
                Ok(Ok(result)) => result.map_err(CallError::Connector),
                Ok(Err(_)) | Err(_) => Err(CallError::HostPanic { call }),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                if state
                    .compare_exchange(RUNNING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    self.stuck.fetch_add(1, Ordering::Relaxed);
                }
                Err(CallError::Timeout { call, timeout })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hung_calls_time_out_and_keep_their_permit() {
        let calls = PluginCalls::new(1, Duration::from_millis(100));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let hung = calls.run("hang", move || {
            let _ = wait.recv();
            Ok(())
        });
        assert!(matches!(
            hung.await,
            Err(CallError::Timeout { call: "hang", .. })
        ));
        // The only permit is still held by the hung call: the next call times out waiting.
        assert!(matches!(
            calls.run("next", || Ok(1)).await,
            Err(CallError::Timeout { .. })
        ));
        release.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.run("after", || Ok(2)).await.unwrap(), 2);
        assert_eq!(calls.stuck(), 0);
    }

    #[tokio::test]
    async fn errors_and_panics_come_back_as_values() {
        let calls = PluginCalls::new(2, Duration::from_secs(5));
        let err = calls
            .run("fail", || Err::<(), _>(ConnectorError::other("nope")))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Connector(e) if e.message == "nope"));
        #[allow(clippy::panic)]
        let err = calls
            .run("boom", || -> Result<(), ConnectorError> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::HostPanic { call: "boom" }));
    }
}
