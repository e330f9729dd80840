//! Staying awake for a moment after traffic, instead of sleeping between the two halves of a
//! call.
//!
//! A call forwarded to a downstream server is a read (the client's request), a write (to the
//! server), a wait, a read (the server's answer) and a write (to the client). Between them
//! the runtime's thread would go to sleep in `epoll_wait`; on a virtual machine whose idle
//! vCPUs are halted, being woken costs more than the work the call does. For a moment after
//! each line read, a task keeps the thread polling (yielding, so every other task runs first)
//! and the next line is picked up without a sleep. The cost is bounded: at most the window's
//! worth of CPU per line read, and nothing while idle. The window is `serve.stay_awake`; it is
//! kept only by `switchboard serve` on stdio, and never on a single CPU, where polling would
//! hold off the very processes the call waits for.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The process's one keep-awake, when serving asks for it.
static AWAKE: OnceLock<Awake> = OnceLock::new();

struct Awake {
    start: Instant,
    window: u64,
    /// Nanoseconds after `start` until which the spinner keeps going.
    until: AtomicU64,
    /// How many times the spinner has run out its window and gone back to waiting.
    rounds: AtomicU64,
    wake: Notify,
}

impl Awake {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Keep the current runtime's thread awake for `window` after each line read (zero: never).
pub fn keep(window: Duration) {
    // On one CPU, polling would only hold off the processes the call waits for.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if window.is_zero() || cpus < 2 {
        return;
    }
    let awake = Awake {
        start: Instant::now(),
        window: window.as_nanos() as u64,
        until: AtomicU64::new(0),
        rounds: AtomicU64::new(0),
        wake: Notify::new(),
    };
    if AWAKE.set(awake).is_ok()
        && let Some(awake) = AWAKE.get()
    {
        tokio::spawn(spin(awake));
    }
}

/// A line was read: stay awake for the window from now.
pub fn touch() {
    if let Some(awake) = AWAKE.get() {
        awake
            .until
            .store(awake.now() + awake.window, Ordering::Relaxed);
        // While the spinner runs this leaves a permit, and it looks at the window once more
        // before it waits again: no touch is missed.
        awake.wake.notify_one();
    }
}

async fn spin(awake: &'static Awake) {
    loop {
        awake.wake.notified().await;
        while awake.now() < awake.until.load(Ordering::Relaxed) {
            tokio::task::yield_now().await;
        }
        awake.rounds.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spinner starts on a line read and stops by itself once the window has passed:
    /// an idle switchboard does not poll.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn polling_stops_when_the_window_has_passed() {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            eprintln!("one CPU: staying awake is off by design; nothing to check");
            return;
        }
        keep(Duration::from_millis(2));
        let awake = AWAKE.get().expect("kept");
        let touched = Instant::now();
        touch();
        while awake.rounds.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(touched.elapsed() >= Duration::from_millis(2));
    }
}
