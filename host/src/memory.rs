//! Giving freed heap memory back to the system at the moments a lot of it was just freed.
//!
//! glibc's allocator keeps freed memory in its arenas, so a host that built a snapshot, ran an
//! import or dropped an Argon2 block stays at its peak size while idle (about 20 MB of the
//! demo's idle RSS). [`release_free`] asks it to return what is free (`malloc_trim`). Other
//! allocators and C libraries need nothing: it does nothing there.

/// Return the allocator's free memory to the system. It walks the heap, so call it from a
/// blocking thread, after work that freed much (an import, a snapshot, an idle Argon2 block).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own arenas; it takes the
    // allocator's locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
