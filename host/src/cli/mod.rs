//! The administrator's commands beside `serve`: connector management (`ecmahost connector
//! ...`). `main.rs` parses the command line and dispatches here; each command prints what it
//! did or found, and fails (exit code 1) when it finds a problem.

pub mod connector;
