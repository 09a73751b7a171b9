//! The integration suite: one binary, real host, real plugins, real SQLite.
//! Each module is one area; every test starts its own host on a free 127.0.0.1 port.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail loudly.

mod autosync;
mod certs;
mod checks;
mod cli;
mod compat;
mod connections;
mod contract;
mod entra;
mod failures;
mod fuzz_corpus;
mod groups;
mod isolation;
mod ldap;
mod loader;
mod observability;
mod operations;
mod outages;
mod postgres;
mod process;
mod protocol;
mod reload;
mod restart;
mod security;
mod webservices;
