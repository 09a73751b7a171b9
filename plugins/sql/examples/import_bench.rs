//! Full-import benchmark of the SQL connector alone: drains a full import through the same FFI
//! adapter the host uses and prints the time, the rate and the process's peak memory. This is
//! a benchmark, not a test; see docs/BENCHMARKS.md for how it is run.
//!
//! ```sh
//! cargo run --release -p ecma-sql-connector --example import_bench -- \
//!     postgres://postgres@127.0.0.1:5432/ecma_bench Users 500
//! ```
//!
//! Arguments: a connection string (PostgreSQL or MySQL URL, or an SQLite file), the table, and
//! the page size (500, as the host asks, by default).

use std::time::Instant;

use ecma_plugin_api::{ImportKind, ImportRequest, ParameterValues, PluginConnector};
use ecma_sql::SqlConnector;

/// The process's peak resident memory in KiB (`VmHWM`), on Linux.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let connection_string = args
        .next()
        .ok_or("usage: import_bench <connection string> <table> [page size]")?;
    let table = args
        .next()
        .ok_or("usage: import_bench <connection string> <table> [page size]")?;
    let page_size: u32 = args.next().map_or(Ok(500), |p| p.parse())?;

    let connector = PluginConnector::in_process::<SqlConnector>()?;
    let mut values = ParameterValues::new();
    values.insert("connection_string", connection_string);
    values.insert("object_types", "User");
    values.insert("User:table", table);
    let schema = connector.schema(&values)?;
    let before = peak_kib();
    let started = Instant::now();
    let request = ImportRequest {
        kind: ImportKind::Full,
        page_size,
        watermark: String::new(),
        partition: String::new(),
    };
    let mut session = connector.open_import(&values, &schema, &request)?;
    let (mut entries, mut pages) = (0usize, 0usize);
    loop {
        let page = session.next_page()?;
        entries += page.entries.len();
        pages += 1;
        if !page.more {
            break;
        }
    }
    session.close()?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{entries} entries in {pages} pages: {seconds:.2} s, {:.0} entries/s; peak RSS {} MiB before, {} MiB after",
        entries as f64 / seconds,
        before / 1024,
        peak_kib() / 1024
    );
    Ok(())
}
