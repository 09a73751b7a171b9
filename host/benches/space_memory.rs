//! Memory per cached object: fills a connector space with objects shaped like the 1M-row
//! import benchmark (docs/BENCHMARKS.md: anchor `Login`, query attribute `AzureID`, five more
//! attributes) and reports the heap bytes the space holds and the process's resident memory,
//! per object.
//!
//! `cargo bench -p ecmahost --bench space_memory [-- OBJECTS]` (default 1,000,000).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ecma_plugin_api::Value;
use ecmahost::space::ConnectorSpace;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Resident set size in bytes, from `/proc/self/statm`.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn object(space: &ConnectorSpace, g: usize) -> ecmahost::space::CsObject {
    let login = format!("user{g:07}");
    // Collected like an import's values (a Vec with spare capacity), not built with `vec![]`.
    let text = |s: String| {
        std::iter::once(Value::String(s))
            .filter(|_| true)
            .collect::<Vec<_>>()
    };
    space.object(
        login.clone(),
        format!("CN={login},OBJECT=USER"),
        [
            ("Login".to_string(), text(login.clone())),
            (
                "AzureID".to_string(),
                text(format!("{:032x}", g as u128 * 0x9e37_79b9_7f4a_7c15)),
            ),
            ("FirstName".to_string(), text(format!("First{g}"))),
            ("LastName".to_string(), text(format!("Last{g}"))),
            (
                "Email".to_string(),
                text(format!("user{g}@contoso.example")),
            ),
            ("Department".to_string(), text(format!("Dept{}", g % 50))),
            ("IsActive".to_string(), vec![Value::Boolean(g % 7 != 0)]),
        ],
    )
}

fn main() {
    let objects: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let (heap_before, rss_before) = (LIVE.load(Ordering::Relaxed), rss());
    let space = ConnectorSpace::new("AzureID");
    for g in 0..objects {
        space.upsert(object(&space, g));
    }
    let heap = LIVE.load(Ordering::Relaxed) - heap_before;
    let resident = rss().saturating_sub(rss_before);
    println!("| objects | heap bytes/object | resident bytes/object |");
    println!("|---:|---:|---:|");
    println!(
        "| {objects} | {} | {} |",
        heap / objects.max(1) as isize,
        resident / objects.max(1)
    );
    // Keep the space alive until measured.
    assert_eq!(space.len(), objects);
}
