//! The unix calls behind process-group control: signalling a whole group, and learning that
//! the group leader exited without reaping it.
//!
//! Every run is started as the leader of a new process group (its pid is the group id), so one
//! signal reaches it and everything it started that stayed in the group. Signalling a group by
//! id is only safe while that id cannot be reused: the kernel keeps it as long as any process
//! of the group exists, including the leader as a zombie. So the leader is watched with
//! `waitid(WNOWAIT)`, which reports its exit but leaves it unreaped, and it is reaped (by
//! `Child::wait`) only after the last signal to its group has been sent.

use std::io;

/// Send `signal` to every process of the group `pgid`. A group that no longer exists is not
/// an error.
pub fn signal_group(pgid: u32, signal: libc::c_int) -> io::Result<()> {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "process id out of range",
        ));
    };
    if pgid <= 1 {
        // Never `kill(0)` (our own group) or `kill(-1)` (every process we may signal).
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal process group 0 or 1",
        ));
    }
    // SAFETY: `kill` takes plain integers and touches no memory of ours.
    let status = unsafe { libc::kill(-pgid, signal) };
    if status == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(error)
    }
}

/// Block until the child `pid` has exited, without reaping it (so its pid, and thus its
/// process group id, stay reserved until `Child::wait` collects it).
pub fn wait_exit_keep_zombie(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: `siginfo_t` is plain data for which all-zero bytes are a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t` for the duration of the call.
        let status = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if status == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// The conventional name of a signal number, for messages.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}
