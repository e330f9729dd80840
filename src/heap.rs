//! The process's heap: how many malloc arenas glibc keeps, and where its large blocks live.
//!
//! glibc gives a thread that allocates while others do an arena of its own, up to eight per
//! core, and keeps what is freed in that arena for the thread to reuse. switchboard runs a
//! dozen long-lived threads (the runtime's, each plugin's, the state writer, a connector's
//! indexer and watcher), so freed memory piles up in a dozen places. With the files
//! connector over 100k files, after 100 searches (three runs each): 20–23 MB of anonymous
//! memory with glibc's default cap, 14–17 MB with two arenas (BENCHMARKS.md). Two (one per
//! core on the machines we measure) still keep most threads from waiting on each other's
//! allocations.
//!
//! Blocks of [`MMAP_FROM`] bytes or more (a file read for a snippet or for the index, a
//! walk's list of 100k files) get pages of their own, given back when freed. glibc would
//! otherwise raise that threshold each time such a block is freed, up to 32 MiB, and serve
//! the next ones from the arenas, where they leave holes: after a first build of 100k files
//! and 100 searches, 49 MB resident with the moving threshold, 40 MB with a fixed one.

/// The arena cap set at start-up, unless `MALLOC_ARENA_MAX` in the environment says otherwise.
const ARENAS: i32 = 2;

/// The size from which a block is mapped on its own, unless `MALLOC_MMAP_THRESHOLD_` in the
/// environment says otherwise.
const MMAP_FROM: i32 = 256 * 1024;

/// Cap glibc's arenas at [`ARENAS`] and fix its mmap threshold at [`MMAP_FROM`], each unless
/// its environment variable is set; call before the first thread is spawned. Elsewhere (musl,
/// macOS, Windows) the allocator has no such settings and this does nothing.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    for (variable, setting, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, ARENAS),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, MMAP_FROM),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mallopt takes two integers and no pointers; called before other threads.
            unsafe {
                libc::mallopt(setting, value);
            }
        }
    }
}
