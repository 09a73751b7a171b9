//! The connector's own tokio runtime. The plugin API is synchronous and this library has its
//! own copy of tokio, so every entry point blocks on this runtime; it is multi-threaded
//! because the host calls entry points from several threads at once, and because import
//! flows run as tasks that must progress between `next_page` calls.

use std::future::Future;

use ecma_plugin_api::ConnectorError;
use tokio::runtime::{Builder, Handle, Runtime};

pub(crate) struct Executor {
    runtime: Option<Runtime>,
}

impl Executor {
    pub(crate) fn new() -> Result<Self, ConnectorError> {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ecma-webservices")
            .enable_all()
            .build()
            .map(|runtime| Self {
                runtime: Some(runtime),
            })
            .map_err(|e| {
                ConnectorError::other(format!("cannot start the web services runtime: {e}"))
            })
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, ConnectorError> {
        self.handle().map(|h| h.block_on(future))
    }

    pub(crate) fn handle(&self) -> Result<Handle, ConnectorError> {
        self.runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| ConnectorError::other("the web services runtime has shut down"))
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // The last session may be dropped on any thread, even inside another runtime: never
        // wait for the workers here.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
