//! The process's heap: how many malloc arenas glibc keeps.
//!
//! glibc gives a thread that allocates while others do an arena of its own, up to eight per
//! core, and keeps what is freed in that arena for the thread to reuse. switchboard runs a
//! dozen long-lived threads (the runtime's, each plugin's, the state writer, a connector's
//! indexer and watcher), so freed memory piles up in a dozen places. With the files
//! connector over 100k files, after 100 searches (three runs each): 20–23 MB of anonymous
//! memory with glibc's default cap, 14–17 MB with two arenas (BENCHMARKS.md). Two (one per
//! core on the machines we measure) still keep most threads from waiting on each other's
//! allocations.

/// The arena cap set at start-up, unless `MALLOC_ARENA_MAX` in the environment says otherwise.
const ARENAS: i32 = 2;

/// Cap glibc's arenas at [`ARENAS`]; call before the first thread is spawned. Elsewhere
/// (musl, macOS, Windows) the allocator has no such setting and this does nothing.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt takes two integers and no pointers; called before other threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
