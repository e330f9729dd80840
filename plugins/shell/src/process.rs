//! Running one command to the end: spawn it in its own process group, stream and capture its
//! output, honour the timeout and cancellation, and make sure nothing it started is left
//! behind holding the run open.
//!
//! The child gets stdin from a pipe (when the call passes `stdin`) or from `/dev/null`, never
//! the host's: the host's stdin is the MCP connection. stdout and stderr are pipes read by one
//! thread each; a third thread waits for the leader to exit (without reaping it, see
//! [`crate::group`]). The calling thread supervises: it wakes on every event and at least every
//! [`TICK`], checks for cancellation and the deadline, and paces progress notifications.
//!
//! Stopping a run (cancel, timeout) sends SIGTERM to the whole group, waits up to
//! [`TERM_GRACE`] for the leader to exit and the pipes to close, then sends SIGKILL to the
//! group whatever happened (anything that ignored SIGTERM or closed its pipes goes too), and
//! reaps the leader. When the leader exits by itself but something it started in the
//! background still holds the output pipes after [`PIPE_GRACE`], the group is stopped the same
//! way: a run ends when its command ends. A background process that let go of the pipes
//! (`server >log 2>&1 &`) is left running, and a process that left the group (`setsid`) is out
//! of reach; if it still holds a pipe after SIGKILL, the run ends anyway and the reader thread
//! is left to finish when the pipe closes.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::capture::{Captured, LineBatch, Lines};
use crate::group;
use crate::progress::{Report, Throttle};

/// The longest the supervisor sleeps between checks of cancellation and the deadline.
pub const TICK: Duration = Duration::from_millis(40);

/// How long processes get between SIGTERM and SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(1);

/// How long the output pipes may stay open after the leader exited before the group is
/// stopped.
pub const PIPE_GRACE: Duration = Duration::from_secs(1);

/// How long the pipes may stay open after SIGKILL before the run ends without them.
const DETACH_AFTER: Duration = Duration::from_secs(1);

/// How long the leader may survive SIGKILL (stuck in the kernel) before the run gives up on it.
const REAP_LIMIT: Duration = Duration::from_secs(5);

/// Bytes read from a pipe at once.
const CHUNK: usize = 16 * 1024;

/// What to run.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The program (a path, or a name looked up in `PATH`).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The folder it starts in.
    pub cwd: PathBuf,
    /// The whole environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// What its stdin holds; `None` is an empty stdin.
    pub stdin: Option<String>,
    /// When it is stopped.
    pub timeout: Duration,
    /// Bytes kept of stdout, and of stderr.
    pub max_output: usize,
}

/// Why a run was stopped before its command ended by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The client cancelled the call (or the host's deadline for it passed).
    Cancelled,
    /// The run's own timeout passed.
    TimedOut,
    /// The command ended, but processes it started still held its output.
    Leftovers,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The leader's exit status; `None` when it could not be collected.
    pub status: Option<ExitStatus>,
    /// Why it was stopped, if it was.
    pub stopped: Option<Stop>,
    /// Its stdout.
    pub stdout: Captured,
    /// Its stderr.
    pub stderr: Captured,
    /// How long it ran.
    pub duration: Duration,
    /// How many output lines it printed.
    pub lines: u64,
    /// Things the person should know (a process out of reach, a signal that failed).
    pub notes: Vec<String>,
}

impl Outcome {
    /// The exit code, `None` when the leader was killed by a signal.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// The signal that killed the leader, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.and_then(|s| s.signal())
    }
}

/// Which output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// What the helper threads tell the supervisor.
enum Event {
    Lines(Stream, LineBatch),
    Closed,
    Exited,
}

/// Read `pipe` to its end into `captured`, passing line batches on.
fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    stream: Stream,
    captured: Arc<Mutex<Captured>>,
    events: Sender<Event>,
) -> io::Result<()> {
    let name = match stream {
        Stream::Stdout => "shell-stdout",
        Stream::Stderr => "shell-stderr",
    };
    thread::Builder::new().name(name.into()).spawn(move || {
        let mut buffer = vec![0u8; CHUNK];
        let mut lines = Lines::default();
        loop {
            let n = match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let chunk = &buffer[..n];
            if let Ok(mut captured) = captured.lock() {
                captured.push(chunk);
            }
            if let Some(batch) = lines.feed(chunk) {
                // The supervisor may be gone (it detached); then nobody needs the lines.
                let _ = events.send(Event::Lines(stream, batch));
            }
        }
        if let Some(batch) = lines.finish() {
            let _ = events.send(Event::Lines(stream, batch));
        }
        let _ = events.send(Event::Closed);
    })?;
    Ok(())
}

/// Write `input` to the child's stdin and close it. A child that exits without reading it all
/// is not an error.
fn spawn_writer(mut stdin: std::process::ChildStdin, input: String) -> io::Result<()> {
    thread::Builder::new()
        .name("shell-stdin".into())
        .spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        })?;
    Ok(())
}

fn spawn_waiter(pid: u32, events: Sender<Event>) -> io::Result<()> {
    thread::Builder::new()
        .name("shell-wait".into())
        .spawn(move || {
            // On an error (the child was reaped elsewhere), `Child::wait` reports it.
            let _ = group::wait_exit_keep_zombie(pid);
            let _ = events.send(Event::Exited);
        })?;
    Ok(())
}

/// The progress of stopping a run.
struct Stopping {
    why: Stop,
    term_at: Instant,
    kill_at: Option<Instant>,
}

/// Supervision state.
struct Watch {
    open: usize,
    exited_at: Option<Instant>,
    stopping: Option<Stopping>,
    notes: Vec<String>,
}

impl Watch {
    fn signal(&mut self, pgid: u32, signal: libc::c_int) {
        if let Err(e) = group::signal_group(pgid, signal) {
            self.notes
                .push(format!("could not signal the process group {pgid}: {e}"));
        }
    }

    fn stop(&mut self, pgid: u32, why: Stop, now: Instant) {
        self.signal(pgid, libc::SIGTERM);
        self.stopping = Some(Stopping {
            why,
            term_at: now,
            kill_at: None,
        });
    }

    /// One round of supervision; `true` when the run is over.
    fn step(&mut self, pgid: u32, deadline: Instant, cancelled: bool) -> bool {
        let now = Instant::now();
        let quiet = self.exited_at.is_some() && self.open == 0;
        if self.stopping.is_none() {
            if cancelled {
                self.stop(pgid, Stop::Cancelled, now);
            } else if now >= deadline {
                self.stop(pgid, Stop::TimedOut, now);
            } else if quiet {
                return true;
            } else if self
                .exited_at
                .is_some_and(|at| now.duration_since(at) >= PIPE_GRACE)
            {
                self.stop(pgid, Stop::Leftovers, now);
            }
        }
        let Some(stopping) = &self.stopping else {
            return false;
        };
        match stopping.kill_at {
            None if quiet || now.duration_since(stopping.term_at) >= TERM_GRACE => {
                self.signal(pgid, libc::SIGKILL);
                if let Some(stopping) = &mut self.stopping {
                    stopping.kill_at = Some(now);
                }
                false
            }
            None => false,
            Some(at) if self.exited_at.is_none() => {
                if now.duration_since(at) >= REAP_LIMIT {
                    self.notes.push(format!(
                        "process {pgid} did not die after SIGKILL; it was left unreaped"
                    ));
                    return true;
                }
                false
            }
            Some(at) => {
                if self.open > 0 && now.duration_since(at) >= DETACH_AFTER {
                    self.notes.push(
                        "a process outside the command's process group still holds its \
                         output; the run ended without waiting for it"
                            .to_string(),
                    );
                    return true;
                }
                self.open == 0
            }
        }
    }
}

fn snapshot(captured: &Arc<Mutex<Captured>>) -> Captured {
    captured
        .lock()
        .map(|c| c.clone())
        .unwrap_or_else(|p| p.into_inner().clone())
}

/// Spawn the command of `spec` in a new process group. On Linux the kernel also kills it
/// (SIGKILL) when the thread that started it ends, which is when the call ends or when
/// switchboard dies however it dies (kill -9 included): the call's thread lives as long as
/// the run.
fn spawn(spec: &Spec) -> io::Result<Child> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    #[cfg(target_os = "linux")]
    {
        // SAFETY: runs in the forked child before exec; getpid, prctl, getppid and _exit are
        // async-signal-safe and touch no memory of the parent.
        let parent = unsafe { libc::getpid() };
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                // switchboard died between fork and prctl: nobody would stop the command.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    command.spawn()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The command's state letter in /proc (`Z` once it is dead and unreaped).
    fn state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit(')').next()?.trim_start().chars().next()
    }

    #[test]
    fn a_command_dies_with_the_thread_that_started_it() {
        let spec = Spec {
            program: "/bin/sleep".into(),
            args: vec!["1000".into()],
            cwd: std::env::temp_dir(),
            env: Vec::new(),
            stdin: None,
            timeout: Duration::from_secs(1000),
            max_output: 1024,
        };
        // What switchboard dying does to the call's thread, without killing the test.
        let mut child = thread::spawn(move || spawn(&spec).expect("spawn sleep"))
            .join()
            .expect("spawning thread");
        // Poll for the event, with a deadline (a command that survived would sleep 1000 s).
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the command outlived the thread that started it");
            }
            thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        assert_eq!(state(child.id()), None);
    }
}

/// Run `spec` to the end. `cancelled` is polled at least every [`TICK`]; `report` receives
/// throttled output lines. The error is a failure to start the command.
pub fn run(spec: &Spec, cancelled: &dyn Fn() -> bool, report: Report<'_>) -> io::Result<Outcome> {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let mut child = spawn(spec)?;
    let pgid = child.id();
    let stdout = Arc::new(Mutex::new(Captured::new(spec.max_output)));
    let stderr = Arc::new(Mutex::new(Captured::new(spec.max_output)));
    let (events, inbox): (Sender<Event>, Receiver<Event>) = mpsc::channel();
    let mut watch = Watch {
        open: 0,
        exited_at: None,
        stopping: None,
        notes: Vec::new(),
    };

    let helpers = (|| {
        if let Some(pipe) = child.stdout.take() {
            spawn_reader(pipe, Stream::Stdout, stdout.clone(), events.clone())?;
            watch.open += 1;
        }
        if let Some(pipe) = child.stderr.take() {
            spawn_reader(pipe, Stream::Stderr, stderr.clone(), events.clone())?;
            watch.open += 1;
        }
        if let (Some(pipe), Some(input)) = (child.stdin.take(), &spec.stdin) {
            spawn_writer(pipe, input.clone())?;
        }
        spawn_waiter(pgid, events.clone())
    })();
    drop(events);
    if let Err(e) = helpers {
        // Without its helpers the run cannot be watched: stop it at once.
        let _ = group::signal_group(pgid, libc::SIGKILL);
        let _ = child.wait();
        return Err(e);
    }

    let mut throttle = Throttle::new(report);
    loop {
        let mut next = inbox.recv_timeout(TICK);
        let woke = Instant::now();
        loop {
            match next {
                Ok(Event::Lines(Stream::Stdout, batch)) => throttle.lines(batch, ""),
                Ok(Event::Lines(Stream::Stderr, batch)) => throttle.lines(batch, "stderr: "),
                Ok(Event::Closed) => watch.open = watch.open.saturating_sub(1),
                Ok(Event::Exited) => watch.exited_at = Some(Instant::now()),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
            if woke.elapsed() >= TICK {
                // A flood of output must not delay the checks below.
                break;
            }
            next = inbox.try_recv().map_err(|e| match e {
                mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            });
        }
        throttle.tick();
        if watch.step(pgid, deadline, cancelled()) {
            break;
        }
    }
    throttle.flush();

    // Every signal to the group has been sent: now the leader may be reaped.
    let status = if watch.exited_at.is_some() {
        match child.wait() {
            Ok(status) => Some(status),
            Err(e) => {
                watch
                    .notes
                    .push(format!("could not collect the exit status: {e}"));
                None
            }
        }
    } else {
        None
    };
    let stopped = watch.stopping.as_ref().map(|s| s.why);
    Ok(Outcome {
        status,
        stopped,
        stdout: snapshot(&stdout),
        stderr: snapshot(&stderr),
        duration: started.elapsed(),
        lines: throttle.count(),
        notes: watch.notes,
    })
}
