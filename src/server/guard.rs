//! The guard every stdio server runs under, so that nothing a server starts outlives
//! switchboard, however switchboard ends (kill -9 included).
//!
//! switchboard starts `switchboard __guard -- COMMAND ARGS...` (a hidden subcommand) instead
//! of the server. The guard leads the server's process group, starts the server in it with
//! the guard's stdin, stdout and stderr (it never reads or writes them: it is not in the data
//! path, and it lets go of its own copies of stdin and stdout), and then waits for one of:
//!
//! - the server exits: the guard ends whatever the server left behind and exits with the
//!   server's status (the same code, or killed by the same signal), so supervision, restarts
//!   and the quoted stderr see what they saw without a guard;
//! - switchboard is gone: the lifeline (a socket whose other end only switchboard holds, on
//!   fd [`LIFELINE_FD`]) reads end-of-file, or the kernel's death signal arrives
//!   (`PR_SET_PDEATHSIG`, set before the guard runs, Linux), or the parent changed; the guard
//!   ends everything it started;
//! - SIGTERM, SIGINT or SIGHUP: switchboard stopping the server (it signals the whole group);
//!   the guard ends everything it started.
//!
//! "Ending everything" is SIGTERM, [`GRACE`] to exit, then SIGKILL. On Linux the guard is a
//! child subreaper, so descendants that leave the group (a new group or session) or whose
//! parent dies are still its descendants and are found in /proc. Elsewhere only the process
//! group is reached (`killpg`), which is what switchboard itself did before the guard.
//!
//! The lifeline also carries one line back when the guard starts: whether the server
//! started, or the operating system's error, so a missing program is reported as exactly
//! the error switchboard would have had spawning it itself.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The descriptor on which the guard finds its lifeline to switchboard.
pub const LIFELINE_FD: RawFd = 3;

/// How long what the guard ends is given between SIGTERM and SIGKILL. Shorter than
/// switchboard's own stop grace (`supervise::STOP_GRACE`), so the guard has swept before
/// switchboard would kill the group, guard included.
const GRACE: Duration = Duration::from_millis(1000);

/// The line the guard sends when the server started.
pub const STARTED: &str = "started";

/// The prefix of the line the guard sends when the server could not start:
/// `failed <errno or -> <message>`.
pub const FAILED: &str = "failed";

/// Where the signal handler writes the number of the signal it caught (the self-pipe that
/// wakes the guard's `poll`).
static WAKE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn note_signal(signal: libc::c_int) {
    let fd = WAKE.load(Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write is async-signal-safe; a full socket just drops the byte (it only has to
    // wake the loop, which then reaps and checks everything).
    unsafe {
        libc::write(fd, (&raw const byte).cast(), 1);
    }
}

/// Why the guard ends what it started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cause {
    /// The server exited.
    ServerExited,
    /// switchboard is gone.
    Orphaned,
    /// A stop signal (switchboard signals the whole group: its members have it already).
    Signalled,
}

/// Run the guard: start `command`, wait, end everything, exit as the server did.
pub fn run(command: &[OsString]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        eprintln!("switchboard __guard: no command given");
        return ExitCode::from(2);
    };
    let parent = std::os::unix::process::parent_id();
    let mut lifeline = lifeline();
    let wake = match install_wake() {
        Ok(wake) => wake,
        Err(e) => return refuse(lifeline.as_mut(), &e, "cannot watch signals"),
    };
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments has no memory effects.
    unsafe {
        // Orphans below us become our children, not init's: nothing can slip out of reach.
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong);
    }

    let mut server = std::process::Command::new(program);
    server.args(args);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let guard = std::process::id() as libc::pid_t;
        // SAFETY: runs in the forked child before exec; prctl and getppid are
        // async-signal-safe. Should the guard be killed outright, the server still hears.
        unsafe {
            server.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
                if libc::getppid() != guard {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    let child = match server.spawn() {
        Ok(child) => child,
        Err(e) => return refuse(lifeline.as_mut(), &e, "cannot start the server"),
    };
    let server_pid = child.id() as libc::pid_t;
    // Reaped with waitpid below; the handle would only try again.
    drop(child);
    if let Some(line) = lifeline.as_mut() {
        let _ = writeln!(line, "{STARTED}");
    }
    let_go_of_stdio();

    let (cause, mut status) = loop {
        match wait(server_pid, parent, lifeline.as_ref(), &wake) {
            // Without /proc the guard reaches nothing beyond the group, which switchboard
            // is already ending itself (SIGTERM, then SIGKILL): keep waiting for the server.
            (Cause::Signalled, None) if !cfg!(target_os = "linux") => continue,
            ended => break ended,
        }
    };
    end_everything(cause, server_pid, &mut status, &wake);
    match status {
        Some(status) => exit_like(status),
        // Nobody is left to read a status when switchboard is gone.
        None => ExitCode::from(1),
    }
}

/// The lifeline on [`LIFELINE_FD`], if there is one (a socket; anything else is left alone).
fn lifeline() -> Option<UnixStream> {
    // SAFETY: fstat writes into the struct we own; a closed descriptor answers EBADF.
    let is_socket = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(LIFELINE_FD, &mut stat) == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFSOCK
    };
    if !is_socket {
        return None;
    }
    // SAFETY: the descriptor is open (fstat said so) and nothing else in this process owns
    // it; close-on-exec keeps it from the server.
    unsafe {
        libc::fcntl(LIFELINE_FD, libc::F_SETFD, libc::FD_CLOEXEC);
        Some(UnixStream::from_raw_fd(LIFELINE_FD))
    }
}

/// Tell switchboard (or stderr, without a lifeline) that the server did not start.
fn refuse(lifeline: Option<&mut UnixStream>, error: &std::io::Error, what: &str) -> ExitCode {
    match lifeline {
        Some(line) => {
            let code = error
                .raw_os_error()
                .map_or_else(|| "-".to_string(), |c| c.to_string());
            let _ = writeln!(line, "{FAILED} {code} {error}");
        }
        None => eprintln!("switchboard __guard: {what}: {error}"),
    }
    // As a shell says a command is missing.
    ExitCode::from(127)
}

/// The self-pipe the signal handlers write to, with handlers for SIGCHLD and the stop
/// signals. Handlers, unlike ignored signals, are reset when the server execs.
fn install_wake() -> std::io::Result<UnixStream> {
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    WAKE.store(write.as_raw_fd(), Ordering::Relaxed);
    // The handler writes to it for the rest of the process's life.
    std::mem::forget(write);
    for signal in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only loads an atomic and calls write.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(read)
}

/// Put /dev/null where the guard's stdin and stdout were: only the server holds the pipes,
/// so switchboard sees their end when the server closes them. stderr stays for the guard's
/// own last words.
fn let_go_of_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        // SAFETY: dup2 onto our own standard descriptors, which nothing else owns.
        unsafe {
            libc::dup2(null.as_raw_fd(), 0);
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
}

/// Wait until the server exits, switchboard is gone or a stop signal comes; the server's
/// wait status if it exited.
fn wait(
    server: libc::pid_t,
    parent: u32,
    lifeline: Option<&UnixStream>,
    wake: &UnixStream,
) -> (Cause, Option<libc::c_int>) {
    let mut status = None;
    loop {
        reap(server, &mut status);
        if status.is_some() {
            return (Cause::ServerExited, status);
        }
        if std::os::unix::process::parent_id() != parent {
            return (Cause::Orphaned, status);
        }
        let mut fds = vec![libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(line) = lifeline {
            fds.push(libc::pollfd {
                fd: line.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: fds is a live array of fds.len() pollfd.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            continue; // EINTR: a signal; the self-pipe has its number.
        }
        if fds[0].revents != 0 {
            let stop = drain(wake)
                .into_iter()
                .any(|s| [libc::SIGTERM, libc::SIGINT, libc::SIGHUP].contains(&s));
            if stop {
                reap(server, &mut status);
                let orphaned = std::os::unix::process::parent_id() != parent;
                return (
                    if orphaned {
                        Cause::Orphaned
                    } else {
                        Cause::Signalled
                    },
                    status,
                );
            }
        }
        if let (Some(mut line), Some(polled)) = (lifeline, fds.get(1))
            && polled.revents != 0
        {
            let mut byte = [0u8; 64];
            // End of file or an error: switchboard's end is closed, whoever closed it.
            if !matches!(line.read(&mut byte), Ok(n) if n > 0) {
                reap(server, &mut status);
                return (Cause::Orphaned, status);
            }
        }
    }
}

/// The signal numbers the handler wrote since the last look.
fn drain(mut wake: &UnixStream) -> Vec<libc::c_int> {
    let mut caught = Vec::new();
    let mut buffer = [0u8; 64];
    while let Ok(n) = wake.read(&mut buffer) {
        if n == 0 {
            break;
        }
        caught.extend(buffer[..n].iter().map(|&b| libc::c_int::from(b)));
    }
    caught
}

/// Reap every child that exited (the server, and orphans adopted as subreaper); note the
/// server's status.
fn reap(server: libc::pid_t, status: &mut Option<libc::c_int>) {
    loop {
        let mut raw = 0;
        // SAFETY: waitpid writes the status into our integer.
        let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if pid == server {
            *status = Some(raw);
        }
    }
}

/// End everything the guard started: SIGTERM (to the group's members only if they were not
/// signalled already), [`GRACE`], SIGKILL; then reap the server if it has not been.
#[cfg(target_os = "linux")]
fn end_everything(
    cause: Cause,
    server: libc::pid_t,
    status: &mut Option<libc::c_int>,
    wake: &UnixStream,
) {
    let me = std::process::id() as libc::pid_t;
    let term_group = cause != Cause::Signalled;
    let deadline = Instant::now() + GRACE;
    let mut killed = false;
    let mut terminated = false;
    loop {
        reap(server, status);
        let left = Remaining::find(me);
        if left.is_empty() {
            break;
        }
        if !terminated {
            left.signal(libc::SIGTERM, term_group);
            terminated = true;
        } else if Instant::now() >= deadline {
            if killed && Instant::now() >= deadline + GRACE {
                eprintln!(
                    "switchboard __guard: processes still running after SIGKILL: {}",
                    left.describe()
                );
                break;
            }
            left.signal(libc::SIGKILL, true);
            killed = true;
        }
        pause(wake);
    }
    reap(server, status);
}

/// Wait 20 ms, or less if a signal comes: children's exits wake the guard at once, other
/// processes are looked for again after the pause.
fn pause(wake: &UnixStream) {
    let mut fd = libc::pollfd {
        fd: wake.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    unsafe { libc::poll(&mut fd, 1, 20) };
    drain(wake);
}

/// What is still running below the guard.
#[cfg(target_os = "linux")]
struct Remaining {
    /// Each live process: pid, and whether it is in the guard's process group.
    processes: Vec<(libc::pid_t, bool)>,
}

#[cfg(target_os = "linux")]
impl Remaining {
    /// Every live descendant of `me` and every live member of its group, itself excepted.
    fn find(me: libc::pid_t) -> Self {
        let table = super::process::processes();
        let mut below = vec![me];
        let mut processes: Vec<(libc::pid_t, bool)> = Vec::new();
        // The table is not ordered parent before child: follow parent links to a fixed point.
        let mut grew = true;
        while grew {
            grew = false;
            for entry in &table {
                let pid = entry.pid as libc::pid_t;
                if pid == me || below.contains(&pid) {
                    continue;
                }
                if below.contains(&(entry.parent as libc::pid_t)) || entry.group == me as u32 {
                    below.push(pid);
                    if !entry.zombie {
                        processes.push((pid, entry.group == me as u32));
                    }
                    grew = true;
                }
            }
        }
        Remaining { processes }
    }

    fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    fn signal(&self, signal: libc::c_int, group_too: bool) {
        for &(pid, in_group) in &self.processes {
            if group_too || !in_group {
                // SAFETY: kill has no memory effects; a process gone answers ESRCH.
                unsafe { libc::kill(pid, signal) };
            }
        }
    }

    fn describe(&self) -> String {
        let pids: Vec<String> = self.processes.iter().map(|(p, _)| p.to_string()).collect();
        pids.join(", ")
    }
}

/// Without /proc (macOS, the BSDs) the guard reaches the process group only, as a whole:
/// when switchboard is gone, SIGTERM to the group, [`GRACE`] for the server to exit, then
/// SIGKILL to the group, which ends the guard too. Otherwise switchboard ends the group
/// itself, as it did before the guard existed, and the guard only reports the status.
#[cfg(not(target_os = "linux"))]
fn end_everything(
    cause: Cause,
    server: libc::pid_t,
    status: &mut Option<libc::c_int>,
    wake: &UnixStream,
) {
    if cause != Cause::Orphaned {
        return;
    }
    let me = std::process::id() as libc::pid_t;
    // SAFETY: killpg has no memory effects; the guard's own handler takes the SIGTERM.
    unsafe { libc::killpg(me, libc::SIGTERM) };
    let deadline = Instant::now() + GRACE;
    while status.is_none() && Instant::now() < deadline {
        pause(wake);
        reap(server, status);
    }
    // SAFETY: as above; the last thing the guard does.
    unsafe { libc::killpg(me, libc::SIGKILL) };
}

/// Exit as the server did: with its code, or killed by its signal.
fn exit_like(status: libc::c_int) -> ExitCode {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // SAFETY: restoring the default action and raising the signal on ourselves.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_UNBLOCK, &all, std::ptr::null_mut());
            libc::raise(signal);
        }
        // A signal whose default is not to end the process: say so as shells do.
        return ExitCode::from((128 + signal) as u8);
    }
    ExitCode::from(libc::WEXITSTATUS(status) as u8)
}
