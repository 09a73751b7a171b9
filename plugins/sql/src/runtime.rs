//! The connector's private tokio runtime, the bridge from the synchronous plugin API to sqlx.
//!
//! The library carries its own copy of tokio, so the host's runtime is invisible here: every
//! entry point blocks on this runtime instead. It is multi-threaded because the host calls entry
//! points from several of its blocking-pool threads at once, and because sqlx returns pooled
//! connections through spawned tasks that must make progress between our calls.

use std::future::Future;

use ecma_plugin_api::ConnectorError;
use tokio::runtime::{Builder, Runtime};

/// Owns the runtime; shared by the connector and the sessions it opens.
pub(crate) struct Executor {
    runtime: Option<Runtime>,
}

impl Executor {
    pub(crate) fn new() -> Result<Self, ConnectorError> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ecma-sql")
            .enable_all()
            .build()
            .map_err(|e| {
                ConnectorError::other(format!("cannot start the SQL connector's runtime: {e}"))
            })?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Run `future` to completion on the calling thread.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, ConnectorError> {
        match &self.runtime {
            Some(runtime) => Ok(runtime.block_on(future)),
            None => Err(ConnectorError::other(
                "the SQL connector's runtime has shut down",
            )),
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // A plain drop waits for the workers, and panics if it happens inside an async context;
        // the last session may be dropped anywhere, so let the workers wind down on their own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
