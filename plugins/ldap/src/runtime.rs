//! The connector's own tokio runtime: the plugin API is synchronous, ldap3 is async, and the
//! library's copy of tokio is not the host's, so every entry point blocks on this one.

use std::future::Future;

use ecma_plugin_api::ConnectorError;
use tokio::runtime::Runtime;

pub(crate) struct Executor(Option<Runtime>);

fn stopped() -> ConnectorError {
    ConnectorError::other("the LDAP connector's runtime has stopped")
}

impl Executor {
    pub(crate) fn new() -> Result<Self, ConnectorError> {
        // Several host threads call in at once, and connection drivers are spawned tasks
        // that must run between calls: a small multi-threaded runtime.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ecma-ldap")
            .enable_all()
            .build()
            .map(|r| Self(Some(r)))
            .map_err(|e| {
                ConnectorError::other(format!("cannot start the LDAP connector's runtime: {e}"))
            })
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, ConnectorError> {
        self.0
            .as_ref()
            .map(|r| r.block_on(future))
            .ok_or_else(stopped)
    }

    pub(crate) fn spawn<F>(&self, future: F) -> Result<(), ConnectorError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = self.0.as_ref().ok_or_else(stopped)?;
        runtime.spawn(future);
        Ok(())
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // The last user may drop us on any thread, even inside another runtime: never wait.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
