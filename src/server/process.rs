//! Child processes of stdio servers, each run under the guard (`guard.rs`, switchboard
//! itself as `switchboard __guard -- COMMAND ARGS...`), which leads the server's process
//! group, so that ending a server ends everything it started (`npx` → `node`, `uvx` →
//! `python`, ...), and so that nothing is left when switchboard dies without a chance to
//! clean up: the guard holds a lifeline to switchboard and ends everything when it breaks.
//!
//! On Linux the guard also asks the kernel for SIGTERM when switchboard dies
//! (`PR_SET_PDEATHSIG`). On Windows there is no guard: each server is put in a Job Object
//! that kills every process in it when its last handle closes, which switchboard's death
//! does. Dropping a [`Group`] ends the whole group.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

#[cfg(unix)]
use std::os::{fd::OwnedFd, unix::net::UnixStream};

#[cfg(unix)]
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

#[cfg(unix)]
use super::guard;

/// What to start.
pub struct Launch<'a> {
    /// The program.
    pub command: &'a str,
    /// Its arguments, references already expanded.
    pub args: Vec<String>,
    /// Added environment, references already expanded.
    pub env: BTreeMap<String, String>,
    /// Its working folder.
    pub cwd: Option<&'a PathBuf>,
}

/// A started server: its process group and its pipes.
pub struct Spawned {
    /// The process group.
    pub group: Group,
    /// Its stdin (we write MCP to it).
    pub stdin: ChildStdin,
    /// Its stdout (it writes MCP to us).
    pub stdout: ChildStdout,
    /// Its stderr (logged, never copied to our stdout).
    pub stderr: Option<ChildStderr>,
}

/// A server's guard, leader of the server's process group (on Windows: the server, and
/// the Job Object holding it and everything it starts).
pub struct Group {
    child: Child,
    pid: Option<u32>,
    exited: Option<ExitStatus>,
    /// Our end of the guard's lifeline: closing it (dropping the group, or switchboard's
    /// death) makes the guard end everything.
    #[cfg(unix)]
    _lifeline: UnixStream,
    /// Every process the server starts; closing it kills them all.
    #[cfg(windows)]
    job: Option<job::Job>,
}

/// Start `launch` under the guard in a new process group with piped stdin, stdout and
/// stderr (the server inherits them from the guard). Returns once the guard has started the
/// server, or with the error starting it gave.
pub async fn spawn(launch: &Launch<'_>) -> std::io::Result<Spawned> {
    #[cfg(unix)]
    let (mut command, lifeline, theirs) = guarded(launch)?;
    #[cfg(not(unix))]
    let mut command = Command::new(launch.command);
    #[cfg(not(unix))]
    command.args(&launch.args);
    command
        .envs(&launch.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(cfg!(not(unix)));
    if let Some(dir) = launch.cwd {
        command.current_dir(dir);
    }
    let mut child = command.spawn()?;
    #[cfg(unix)]
    drop(theirs);
    #[cfg(windows)]
    let job = job::Job::adopt(&child);
    let pid = child.id();
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("the child's pipes were not set up"));
    };
    let stderr = child.stderr.take();
    #[cfg(unix)]
    let lifeline = started(lifeline, &mut child).await?;
    Ok(Spawned {
        group: Group {
            child,
            pid,
            exited: None,
            #[cfg(unix)]
            _lifeline: lifeline,
            #[cfg(windows)]
            job,
        },
        stdin,
        stdout,
        stderr,
    })
}

/// The guard's command for `launch`, and the two ends of its lifeline: ours, and the one
/// the guard finds on [`guard::LIFELINE_FD`] (to be closed here once it is spawned).
#[cfg(unix)]
fn guarded(launch: &Launch<'_>) -> std::io::Result<(Command, UnixStream, OwnedFd)> {
    use std::os::fd::AsRawFd;
    let (ours, theirs) = UnixStream::pair()?;
    let theirs = OwnedFd::from(theirs);
    let mut command = Command::new(own_executable()?);
    command
        .arg0("switchboard")
        .arg("__guard")
        .arg("--")
        .arg(launch.command)
        .args(&launch.args)
        .process_group(0);
    let fd = theirs.as_raw_fd();
    #[cfg(target_os = "linux")]
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (dup2, fcntl, prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            // Both ends are close-on-exec; the guard's end moves to where it looks for it,
            // and a copy made by dup2 is not.
            if fd == guard::LIFELINE_FD {
                libc::fcntl(fd, libc::F_SETFD, 0);
            } else if libc::dup2(fd, guard::LIFELINE_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
                // switchboard died between fork and prctl: nobody would stop us.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            Ok(())
        });
    }
    Ok((command, ours, theirs))
}

/// This very program, to run as the guard: on Linux through /proc, which still works when
/// the file was replaced or removed since switchboard started (an upgrade while running).
#[cfg(unix)]
fn own_executable() -> std::io::Result<PathBuf> {
    if cfg!(target_os = "linux") {
        return Ok(PathBuf::from("/proc/self/exe"));
    }
    std::env::current_exe()
}

/// Wait for the guard's first line: the server started (then keep the lifeline), or the
/// error the operating system gave for starting it (the guard then exits).
#[cfg(unix)]
async fn started(lifeline: UnixStream, child: &mut Child) -> std::io::Result<UnixStream> {
    use tokio::io::AsyncBufReadExt;
    lifeline.set_nonblocking(true)?;
    let mut reader = tokio::io::BufReader::new(tokio::net::UnixStream::from_std(lifeline)?);
    let mut line = String::new();
    let read = (&mut reader).take(4096).read_line(&mut line).await;
    let line = line.trim_end();
    if read.is_ok() && line == guard::STARTED {
        let lifeline = reader.into_inner().into_std()?;
        return Ok(lifeline);
    }
    if let Some(failure) = line.strip_prefix(guard::FAILED) {
        let mut parts = failure.trim_start().splitn(2, ' ');
        let code = parts.next().and_then(|c| c.parse::<i32>().ok());
        let message = parts.next().unwrap_or_default();
        let _ = child.wait().await;
        return Err(match code {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::other(message.to_string()),
        });
    }
    let status = child.wait().await?;
    Err(std::io::Error::other(format!(
        "the guard that starts the server {} before starting it",
        describe_exit(&status)
    )))
}

impl Group {
    /// The leader's process id (also the group id).
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Wait for the leader to exit.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let status = self.child.wait().await?;
        self.exited = Some(status);
        Ok(status)
    }

    /// End the group: give the leader `grace` to exit on its own (its stdin should already be
    /// closed), then SIGTERM to the group and `grace` more, then SIGKILL to the group. Also
    /// ends what the leader left behind when it exited. Returns the leader's exit status.
    pub async fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Ok(Ok(status)) = tokio::time::timeout(grace, self.wait()).await {
            // What the leader left behind gets the same chance: SIGTERM, then SIGKILL.
            if self.group_alive() {
                self.signal(Signal::Term);
                let _ = tokio::time::timeout(grace, self.group_gone()).await;
            }
            self.signal(Signal::Kill);
            return Some(status);
        }
        self.signal(Signal::Term);
        let ended = tokio::time::timeout(grace, async {
            let status = self.wait().await.ok();
            self.group_gone().await;
            status
        })
        .await;
        self.signal(Signal::Kill);
        match ended {
            Ok(status) => status,
            Err(_) => tokio::time::timeout(grace, self.wait()).await.ok()?.ok(),
        }
    }

    /// Wait until no process of the group runs (checked every 20 ms: the members are not
    /// our children, so there is nothing to wait on).
    async fn group_gone(&self) {
        while self.group_alive() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether a process of the group still runs; zombies waiting for whoever adopted them
    /// do not count.
    #[cfg(target_os = "linux")]
    fn group_alive(&self) -> bool {
        let Some(group) = self.pid else { return false };
        processes()
            .iter()
            .any(|process| !process.zombie && process.group == group)
    }

    #[cfg(all(unix, not(target_os = "linux")))]
    fn group_alive(&self) -> bool {
        match self.pid {
            // SAFETY: signal 0 only checks whether the group exists.
            Some(pid) => unsafe { libc::killpg(pid as libc::pid_t, 0) == 0 },
            None => false,
        }
    }

    #[cfg(not(unix))]
    fn group_alive(&self) -> bool {
        self.exited.is_none()
    }

    #[cfg(unix)]
    fn signal(&self, signal: Signal) {
        let Some(pid) = self.pid else { return };
        let number = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: killpg has no memory effects; a group that is gone answers ESRCH.
        unsafe {
            libc::killpg(pid as libc::pid_t, number);
        }
    }

    /// Without signals there is only killing: the Job Object, everything in it at once (the
    /// child itself is also killed when its handle drops, `kill_on_drop`).
    #[cfg(windows)]
    fn signal(&self, signal: Signal) {
        if let (Signal::Kill, Some(job)) = (signal, &self.job) {
            job.terminate();
        }
    }

    #[cfg(not(any(unix, windows)))]
    fn signal(&self, _signal: Signal) {}
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

impl Drop for Group {
    fn drop(&mut self) {
        // Whatever path left the group behind (a failed start, a timeout), nothing of it may
        // outlive its supervisor. A guard still running ends everything itself when its
        // lifeline closes, which dropping the group does next; SIGKILL now would end the
        // guard before it reaches what left the group. A guard gone may have left members.
        #[cfg(unix)]
        let guard_gone = self.exited.is_some() || !matches!(self.child.try_wait(), Ok(None));
        #[cfg(not(unix))]
        let guard_gone = true;
        if guard_gone {
            self.signal(Signal::Kill);
        }
    }
}

/// One process as `/proc/<pid>/stat` describes it.
#[cfg(target_os = "linux")]
pub struct ProcessEntry {
    /// Its id.
    pub pid: u32,
    /// Its parent's id.
    pub parent: u32,
    /// Its process group.
    pub group: u32,
    /// Whether it has exited and waits to be reaped.
    pub zombie: bool,
}

/// Every process /proc shows (the ones that end while it is read are missing).
#[cfg(target_os = "linux")]
pub fn processes() -> Vec<ProcessEntry> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
            let zombie = fields.next()? == "Z";
            let parent = fields.next()?.parse().ok()?;
            let group = fields.next()?.parse().ok()?;
            Some(ProcessEntry {
                pid,
                parent,
                group,
                zombie,
            })
        })
        .collect()
}

/// A Job Object that kills every process in it when its last handle closes: switchboard's
/// end, however it comes, closes it. A process is put in it just after it starts (the
/// standard library cannot start one suspended and hand over its thread), so a server that
/// starts a process within that instant leaves one process outside: the gap on Windows.
#[cfg(windows)]
mod job {
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
        SetInformationJobObject, TerminateJobObject,
    };

    /// An open Job Object handle, closed (which kills what is in it) on drop.
    pub struct Job(HANDLE);

    // SAFETY: a kernel handle may be used and closed from any thread.
    unsafe impl Send for Job {}
    // SAFETY: as above; the calls made through it are thread-safe.
    unsafe impl Sync for Job {}

    impl Job {
        /// A new kill-on-close job holding `child`; `None` (logged) if Windows refuses.
        pub fn adopt(child: &tokio::process::Child) -> Option<Job> {
            let process = child.raw_handle()? as HANDLE;
            // SAFETY: plain Win32 calls on handles we own; the information struct lives on
            // the stack for the call and its size is passed.
            unsafe {
                let handle = CreateJobObjectW(std::ptr::null(), std::ptr::null());
                if handle.is_null() {
                    tracing::warn!(error = %std::io::Error::last_os_error(), "cannot create a job object; what the server starts may outlive switchboard");
                    return None;
                }
                let job = Job(handle);
                let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
                limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
                let set = SetInformationJobObject(
                    job.0,
                    JobObjectExtendedLimitInformation,
                    (&raw const limits).cast(),
                    std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
                );
                if set == 0 || AssignProcessToJobObject(job.0, process) == 0 {
                    tracing::warn!(error = %std::io::Error::last_os_error(), "cannot put the server in a job object; what it starts may outlive switchboard");
                    return None;
                }
                Some(job)
            }
        }

        /// Kill every process in the job.
        pub fn terminate(&self) {
            // SAFETY: a handle we own; a job already empty just stays empty.
            unsafe {
                TerminateJobObject(self.0, 1);
            }
        }
    }

    impl Drop for Job {
        fn drop(&mut self) {
            // SAFETY: closing the handle we own, once; kill-on-close ends what is left.
            unsafe {
                CloseHandle(self.0);
            }
        }
    }
}

/// Describe how a process ended: `exited with status 3`, `killed by signal 9`.
pub fn describe_exit(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    format!("ended ({status})")
}
