//! Child processes of stdio servers, each the leader of its own process group, so that ending
//! a server ends everything it started (`npx` → `node`, `uvx` → `python`, ...).
//!
//! On Linux the child also asks the kernel for SIGTERM when switchboard dies without a chance
//! to clean up (`PR_SET_PDEATHSIG`). Dropping a [`Group`] kills the whole group.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

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

/// A child process that leads its own process group.
pub struct Group {
    child: Child,
    pid: Option<u32>,
    exited: Option<ExitStatus>,
}

/// Start `launch` in a new process group with piped stdin, stdout and stderr.
pub fn spawn(launch: &Launch<'_>) -> std::io::Result<Spawned> {
    let mut command = Command::new(launch.command);
    command
        .args(&launch.args)
        .envs(&launch.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(cfg!(not(unix)));
    if let Some(dir) = launch.cwd {
        command.current_dir(dir);
    }
    #[cfg(unix)]
    {
        command.process_group(0);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: the closure runs in the forked child before exec and only makes
            // async-signal-safe system calls (prctl, getppid, _exit).
            let parent = std::process::id() as libc::pid_t;
            unsafe {
                command.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
                    // switchboard died between fork and prctl: nobody would stop us.
                    if libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
    }
    let mut child = command.spawn()?;
    let pid = child.id();
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::Error::other("the child's pipes were not set up"));
    };
    let stderr = child.stderr.take();
    Ok(Spawned {
        group: Group {
            child,
            pid,
            exited: None,
        },
        stdin,
        stdout,
        stderr,
    })
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
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return false;
        };
        entries.flatten().any(|entry| {
            let is_pid = entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit());
            is_pid
                && std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
                    let fields: Vec<&str> = stat
                        .rfind(')')
                        .map(|i| stat[i + 1..].split_whitespace().take(3).collect())
                        .unwrap_or_default();
                    fields.len() == 3 && fields[0] != "Z" && fields[2] == group.to_string()
                })
        })
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

    /// Without process groups the child is killed when its handle drops (`kill_on_drop`).
    #[cfg(not(unix))]
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
        // outlive its supervisor.
        self.signal(Signal::Kill);
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
