//! Running plugin calls: on tokio's blocking pool, never on an async worker, with a per-call
//! time-out and a per-connector bound on concurrent calls.
//!
//! The permit is released when the blocking call really returns, not when the caller gives up
//! on it. A hung target therefore holds its permits, and only its own connector runs out: the
//! bound keeps one slow target from exhausting the shared blocking pool.

use std::panic::{catch_unwind, AssertUnwindSafe};
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
}

impl PluginCalls {
    pub fn new(max_concurrent: usize, timeout: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            timeout,
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Run `f` on the blocking pool. Waiting for a permit counts against the time-out too, so
    /// a request never waits longer than one time-out for a stuck connector.
    pub async fn run<T, F>(&self, call: &'static str, f: F) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ConnectorError> + Send + 'static,
    {
        let timeout = self.timeout;
        let work = async {
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| CallError::HostPanic { call })?;
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                catch_unwind(AssertUnwindSafe(f))
            });
            match task.await {
                Ok(Ok(result)) => result.map_err(CallError::Connector),
                Ok(Err(_)) | Err(_) => Err(CallError::HostPanic { call }),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout { call, timeout }),
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
