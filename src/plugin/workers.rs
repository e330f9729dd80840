//! The threads one plugin's calls run on: a queue of calls and the threads of that plugin
//! that drain it, so no plugin code runs on the async runtime.
//!
//! A thread that finishes a call takes the next queued one without sleeping, so a burst of
//! calls is run by one thread, with no hand-off between threads and no wake-up per call. A
//! call wakes (or starts) another thread only when none is free and the ones running have
//! been at their call for at least [`NUDGE`]; and a caller queued behind busy threads that
//! still waits after [`NUDGE`] wakes (or starts) one more whenever more calls are queued
//! than threads are free to take them. So however many calls are slow or hung, a call queued
//! behind them waits about [`NUDGE`] at most. A thread idle for [`IDLE`] exits.
//!
//! A call whose caller gave up (cancelled, or past its deadline) while it was queued is never
//! started. [`Workers::close`] refuses the calls still queued and any later ones, so no call
//! starts once the plugin is told to shut down; a call already running finishes on its own.
//!
//! A panic in a call (the SDK's guard keeps plugin panics on the plugin's side; this catches
//! the host's) ends that call with [`WorkerError::Lost`], and the thread keeps serving.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long a call may wait behind a busy thread before another thread takes the queue.
pub const NUDGE: Duration = Duration::from_millis(1);

/// How long an idle thread waits for a call before it exits.
pub const IDLE: Duration = Duration::from_secs(10);

/// The most threads one plugin has at once, as many as tokio's blocking pool (calls a
/// deadline gave up on may still hold some).
const MAX_THREADS: usize = 512;

/// Why a call did not give an answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    /// The pool was closed (the host is shutting down).
    #[error("plugin {0} is shutting down")]
    Closed(String),
    /// No thread could be started for it.
    #[error("plugin {0}: no thread could be started: {1}")]
    NoThread(String, String),
    /// The call ended without an answer (it panicked).
    #[error("plugin {0} call failed: it ended without an answer")]
    Lost(String),
}

type Job = Box<dyn FnOnce() + Send>;

/// One plugin's call queue and threads.
pub struct Workers {
    shared: Arc<Shared>,
}

struct Shared {
    plugin: String,
    /// At most this many threads at once ([`MAX_THREADS`]).
    max_threads: usize,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads alive: `running + free + sleeping`.
    threads: usize,
    /// Threads inside a call.
    running: usize,
    /// Threads awake and about to look at the queue (a woken sleeper counts here).
    free: usize,
    /// Threads waiting for a wake-up.
    sleeping: usize,
    /// Wake-ups given to sleepers and not yet taken.
    tokens: usize,
    /// When the most recent call started.
    latest_start: Option<Instant>,
    closed: bool,
}

impl Workers {
    /// A pool for `plugin`'s calls, with no thread until the first call.
    pub fn new(plugin: &str) -> Self {
        Self::with_max_threads(plugin, MAX_THREADS)
    }

    fn with_max_threads(plugin: &str, max_threads: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                plugin: plugin.to_string(),
                max_threads,
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            }),
        }
    }

    /// Run `call` on one of the plugin's threads and wait for what it returns. Dropping the
    /// future does not stop a call that has started (foreign code cannot be stopped); a call
    /// still queued is then never started.
    pub async fn run<R, F>(&self, call: F) -> Result<R, WorkerError>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (answer, mut answered) = oneshot::channel();
        let behind = self.push(Box::new(move || {
            // Nobody waits for the answer any more: the call was cancelled while queued.
            if !answer.is_closed() {
                let _ = answer.send(call());
            }
        }))?;
        // Dropped unanswered: refused by `close` before it started, or it panicked.
        let lost = || {
            if self.shared.lock().closed {
                WorkerError::Closed(self.shared.plugin.clone())
            } else {
                WorkerError::Lost(self.shared.plugin.clone())
            }
        };
        if !behind {
            return answered.await.map_err(|_| lost());
        }
        let nudge = tokio::time::sleep(NUDGE);
        tokio::pin!(nudge);
        tokio::select! {
            biased;
            result = &mut answered => return result.map_err(|_| lost()),
            () = &mut nudge => self.shared.nudge(),
        }
        answered.await.map_err(|_| lost())
    }

    /// Take no more calls and refuse those still queued ([`WorkerError::Closed`]); the
    /// threads exit once their running call (if any) returns.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        let refused = std::mem::take(&mut state.queue);
        drop(state);
        self.shared.wake.notify_all();
        // Outside the lock: dropping a call answers its caller.
        drop(refused);
    }

    /// Queue `job`, waking or starting a thread if need be; true when it waits behind a
    /// busy thread (more calls queued than threads free to take them).
    fn push(&self, job: Job) -> Result<bool, WorkerError> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(WorkerError::Closed(self.shared.plugin.clone()));
        }
        state.queue.push_back(job);
        let busy_for_a_while = state
            .latest_start
            .is_none_or(|started| started.elapsed() >= NUDGE);
        if state.free == 0
            && (state.running == 0 || busy_for_a_while)
            && let Err(e) = Shared::wake_one(&self.shared, &mut state)
        {
            if state.running + state.free == 0 {
                // Nobody would ever take it.
                state.queue.pop_back();
                return Err(e);
            }
            tracing::warn!(error = %e, "the queued call waits for a busy thread");
        }
        Ok(state.queue.len() > state.free)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A caller has waited [`NUDGE`]: if more calls are queued than threads are free to
    /// take them, wake or start one. (Not only when none is free: a thread woken by another
    /// caller's nudge takes a call ahead of this one, which may hang too.)
    fn nudge(self: &Arc<Self>) {
        let mut state = self.lock();
        if state.queue.len() > state.free
            && let Err(e) = Self::wake_one(self, &mut state)
        {
            tracing::warn!(error = %e, "the queued call waits for a busy thread");
        }
    }

    /// Make one more thread free: a sleeper woken, else a new thread.
    fn wake_one(this: &Arc<Self>, state: &mut State) -> Result<(), WorkerError> {
        if state.sleeping > 0 {
            state.sleeping -= 1;
            state.tokens += 1;
            state.free += 1;
            this.wake.notify_one();
            return Ok(());
        }
        if state.threads >= this.max_threads {
            return Ok(());
        }
        let shared = this.clone();
        let runtime = tokio::runtime::Handle::try_current().ok();
        let spawned = std::thread::Builder::new()
            .name(format!("plugin-{}", this.plugin))
            .spawn(move || {
                // Host callbacks reach the runtime through the handle they are given; this
                // makes `Handle::current` work here too, as it did on tokio's blocking threads.
                let _runtime = runtime.as_ref().map(tokio::runtime::Handle::enter);
                shared.serve();
            });
        match spawned {
            Ok(_) => {
                state.threads += 1;
                state.free += 1;
                Ok(())
            }
            Err(e) => Err(WorkerError::NoThread(this.plugin.clone(), e.to_string())),
        }
    }

    /// One thread's life: take queued calls until idle for [`IDLE`] or closed. It starts
    /// counted as free.
    fn serve(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                state.free -= 1;
                state.running += 1;
                state.latest_start = Some(Instant::now());
                drop(state);
                if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
                    tracing::error!(plugin = %self.plugin, "a plugin call panicked in the host");
                }
                state = self.lock();
                state.running -= 1;
                state.free += 1;
                continue;
            }
            if state.closed {
                state.free -= 1;
                state.threads -= 1;
                return;
            }
            state.free -= 1;
            state.sleeping += 1;
            loop {
                let (next, waited) = self
                    .wake
                    .wait_timeout(state, IDLE)
                    .unwrap_or_else(|e| e.into_inner());
                state = next;
                if state.tokens > 0 {
                    // Counted free by whoever woke it.
                    state.tokens -= 1;
                    break;
                }
                if state.closed {
                    state.sleeping -= 1;
                    state.free += 1;
                    break;
                }
                if waited.timed_out() {
                    state.sleeping -= 1;
                    state.threads -= 1;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn answers_every_call_in_a_burst() {
        let rt = runtime();
        rt.block_on(async {
            let workers = Arc::new(Workers::new("t"));
            let calls: Vec<_> = (0..500)
                .map(|i| {
                    let workers = workers.clone();
                    tokio::spawn(async move { workers.run(move || i * 2).await })
                })
                .collect();
            for (i, call) in calls.into_iter().enumerate() {
                assert_eq!(call.await.unwrap(), Ok(i * 2));
            }
        });
    }

    #[test]
    fn a_hung_call_does_not_hold_up_the_next() {
        let rt = runtime();
        rt.block_on(async {
            let workers = Workers::new("t");
            let (release, holding) = hold(&workers).await;
            // The next calls are answered while the first still holds its thread.
            for i in 0..5 {
                assert_eq!(workers.run(move || i).await, Ok(i));
            }
            release.send(()).unwrap();
            holding.await;
        });
    }

    #[test]
    fn a_panicking_call_is_lost_and_the_next_is_answered() {
        let rt = runtime();
        rt.block_on(async {
            let workers = Workers::new("t");
            let lost = workers.run(|| -> u8 { panic!("in the host") }).await;
            assert_eq!(lost, Err(WorkerError::Lost("t".into())));
            assert_eq!(workers.run(|| 7).await, Ok(7));
        });
    }

    /// Hold one of the pool's threads with a call that has started; release it with the
    /// sender, then await the future for the call's end.
    async fn hold(workers: &Workers) -> (mpsc::Sender<()>, impl Future<Output = ()> + '_) {
        let (release, held) = mpsc::channel::<()>();
        let (started, has_started) = mpsc::channel::<()>();
        let mut holding = Box::pin(workers.run(move || {
            started.send(()).unwrap();
            held.recv().unwrap();
        }));
        tokio::select! {
            _ = &mut holding => panic!("the held call answered"),
            () = async { tokio::task::spawn_blocking(move || has_started.recv().unwrap()).await.unwrap() } => {}
        }
        (release, async move { holding.await.unwrap() })
    }

    #[test]
    fn calls_queued_behind_several_hung_calls_each_get_a_thread() {
        let rt = runtime();
        rt.block_on(async {
            let workers = Arc::new(Workers::new("t"));
            let (release, held) = mpsc::channel::<()>();
            let held = Arc::new(Mutex::new(held));
            // Queued together: eight calls that hang, then one behind them.
            let hung: Vec<_> = (0..8)
                .map(|_| {
                    let workers = workers.clone();
                    let held = held.clone();
                    tokio::spawn(async move {
                        workers
                            .run(move || held.lock().unwrap().recv().unwrap())
                            .await
                    })
                })
                .collect();
            let behind = {
                let workers = workers.clone();
                tokio::spawn(async move { workers.run(|| "behind").await })
            };
            // A guard, not a measure: held up, the call would wait for the hung ones forever.
            let answered = tokio::time::timeout(Duration::from_secs(60), behind)
                .await
                .expect("the call behind the hung ones was held up");
            assert_eq!(answered.unwrap(), Ok("behind"));
            for _ in &hung {
                release.send(()).unwrap();
            }
            for call in hung {
                assert_eq!(call.await.unwrap(), Ok(()));
            }
        });
    }

    #[test]
    fn a_call_whose_caller_gave_up_while_it_was_queued_never_starts() {
        let rt = runtime();
        rt.block_on(async {
            // One thread, so the calls stay queued behind the held one.
            let workers = Workers::with_max_threads("t", 1);
            let (release, holding) = hold(&workers).await;
            let (ran, has_run) = mpsc::channel::<usize>();
            for i in 0..10 {
                let ran = ran.clone();
                // Polled once (queued), then dropped, as a cancelled request's call is.
                let call = Box::pin(workers.run(move || ran.send(i).unwrap()));
                let _ = futures::poll!(call);
            }
            let mut last = Box::pin(workers.run(move || ran.send(10).unwrap()));
            assert!(futures::poll!(&mut last).is_pending());
            release.send(()).unwrap();
            holding.await;
            assert_eq!(last.await, Ok(()));
            assert_eq!(has_run.try_iter().collect::<Vec<_>>(), [10]);
        });
    }

    #[test]
    fn close_refuses_what_is_queued_and_what_comes_later_and_the_running_call_finishes() {
        let rt = runtime();
        rt.block_on(async {
            let workers = Workers::with_max_threads("t", 1);
            let (release, holding) = hold(&workers).await;
            let mut queued: Vec<_> = (0..10)
                .map(|i| Box::pin(futures::future::maybe_done(workers.run(move || i))))
                .collect();
            for call in &mut queued {
                let _ = futures::poll!(call);
            }
            workers.close();
            assert_eq!(
                workers.run(|| ()).await,
                Err(WorkerError::Closed("t".into()))
            );
            let mut answers = Vec::new();
            for mut call in queued {
                (&mut call).await;
                answers.push(call.as_mut().take_output().unwrap());
            }
            let closed: Vec<Result<i32, _>> = (0..10)
                .map(|_| Err(WorkerError::Closed("t".into())))
                .collect();
            assert_eq!(answers, closed);
            release.send(()).unwrap();
            holding.await;
        });
    }
}
