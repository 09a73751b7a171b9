//! The ECMA connector host: serves SCIM 2.0 to identity providers (Microsoft Entra ID first)
//! and drives connector plugins loaded from the `ECMA` folder.
//!
//! Data path of one request: `scim` (HTTPS, token check, parse) -> `connector` (mapping,
//! deprovisioning, per-object ordering) -> `space` (the in-memory connector space) and
//! `connector::export` (batched plugin calls on the blocking pool) -> the plugin -> the target.
//! See docs/ARCHITECTURE.md for the code map and its invariants.

pub mod admin;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod connection;
pub mod connector;
pub mod demo;
pub mod isolation;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod operate;
pub mod plugins;
pub mod registry;
pub mod scim;
pub mod server;
pub mod space;
pub mod tls;
pub mod token;
pub mod webservices;
