//! The web services connector through the test kit (the host's calls, without the host),
//! against a small HTTP service started on 127.0.0.1 for each test: every authentication
//! method that can be tested locally, and refusals mapped to export errors without secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

mod auth;
