//! A real PostgreSQL cluster for tests, started from the server binaries Debian's `postgresql`
//! package installs (`/usr/lib/postgresql/<version>/bin`), with no daemon of the machine
//! involved: `initdb` in a temporary folder, `pg_ctl start` on a free loopback port with the
//! socket directory inside that folder, a database created for the test, and on drop the
//! server stopped and the folder removed.
//!
//! `initdb` refuses to run as root, so as root the server binaries run as the `postgres` user
//! the package creates (through `runuser`, or `su` where runuser is missing); as anyone else
//! they run as that user, in a folder that user owns.
//!
//! When the binaries are missing a test skips with a visible message ([`Cluster::start_or_skip`]);
//! `SWITCHBOARD_TEST_REQUIRE_POSTGRES=1` (set by scripts/test.sh, which installs the package)
//! turns that into a failure, so CI cannot skip these tests silently.

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The superuser `initdb` creates; trusted on loopback, so no password is involved.
const SUPERUSER: &str = "postgres";

/// The database created for the tests (not `postgres`, so tests see a database of their own).
const DATABASE: &str = "switchboard_test";

/// How long the server may take to accept connections before the start counts as failed.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// How many free ports are tried: another process may take a port between our probe and the
/// server's bind.
const PORT_ATTEMPTS: usize = 3;

/// Why no cluster could be started.
#[derive(Debug)]
pub struct Unavailable {
    reason: String,
}

impl Unavailable {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// What was missing or failed, with what to do about it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Unavailable {}

/// Whether a cluster that cannot start fails the test instead of skipping it.
pub fn required() -> bool {
    std::env::var_os("SWITCHBOARD_TEST_REQUIRE_POSTGRES").is_some_and(|v| v == "1")
}

/// A running PostgreSQL server, stopped and deleted when dropped.
pub struct Cluster {
    bin: PathBuf,
    folder: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Initialise and start a cluster, and create the test database in it.
    pub fn start() -> Result<Cluster, Unavailable> {
        let bin = newest_bin(Path::new("/usr/lib/postgresql"))?;
        let as_postgres = running_as_root();
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let folder = make_folder(as_postgres)?;
            let mut cluster = Cluster {
                bin: bin.clone(),
                folder,
                port: 0,
                as_postgres,
            };
            cluster.init()?;
            cluster.port = free_port()?;
            match cluster.launch() {
                Ok(()) => {
                    cluster.create_database()?;
                    return Ok(cluster);
                }
                // Dropping the cluster stops whatever started and removes the folder.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Unavailable::new("the server did not start")))
    }

    /// [`Cluster::start`], or `None` after printing why when the cluster is unavailable and
    /// `SWITCHBOARD_TEST_REQUIRE_POSTGRES=1` is not set (with it set, a panic naming why).
    pub fn start_or_skip() -> Option<Cluster> {
        match Cluster::start() {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                assert!(
                    !required(),
                    "no PostgreSQL cluster: {e}; SWITCHBOARD_TEST_REQUIRE_POSTGRES=1 says this test must run"
                );
                eprintln!(
                    "skipped: no PostgreSQL cluster: {e} (scripts/test.sh installs Debian's postgresql)"
                );
                None
            }
        }
    }

    /// The loopback address the server listens on.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user to connect as (trusted: no password).
    pub fn user(&self) -> &'static str {
        SUPERUSER
    }

    /// The database created for the tests.
    pub fn dbname(&self) -> &'static str {
        DATABASE
    }

    /// `postgres://postgres@127.0.0.1:<port>/switchboard_test`.
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            SUPERUSER,
            self.host(),
            self.port,
            DATABASE
        )
    }

    /// The same as key-value connection parameters (`host=… port=… user=… dbname=…`).
    pub fn params(&self) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            self.host(),
            self.port,
            SUPERUSER,
            DATABASE
        )
    }

    /// The temporary folder holding the data directory, the socket and the server log.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn data(&self) -> PathBuf {
        self.folder.join("data")
    }

    fn log(&self) -> PathBuf {
        self.folder.join("server.log")
    }

    fn init(&self) -> Result<(), Unavailable> {
        let data = self.data();
        let output = self.server_tool(
            "initdb",
            &[
                "-D",
                path_arg(&data)?,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        )?;
        succeeded("initdb", &output)
    }

    fn launch(&self) -> Result<(), Unavailable> {
        let options = format!(
            "-p {} -k {} -c listen_addresses={} -c fsync=off -c full_page_writes=off",
            self.port,
            path_arg(&self.folder)?,
            self.host()
        );
        let (data, log) = (self.data(), self.log());
        // `-W`: return at once; readiness is observed below through pg_isready.
        let output = self.server_tool(
            "pg_ctl",
            &[
                "-D",
                path_arg(&data)?,
                "-l",
                path_arg(&log)?,
                "-W",
                "-o",
                &options,
                "start",
            ],
        )?;
        succeeded("pg_ctl start", &output)?;
        self.wait_ready()
    }

    /// Poll `pg_isready` until the server accepts connections, the postmaster is gone, or the
    /// deadline passes. Each probe is answered by the server itself, so no fixed sleep decides
    /// when the server is up; between probes the loop yields briefly rather than spin.
    fn wait_ready(&self) -> Result<(), Unavailable> {
        let started = Instant::now();
        let port = self.port.to_string();
        loop {
            let probe = Command::new(self.bin.join("pg_isready"))
                .args(["-h", self.host(), "-p", &port, "-U", SUPERUSER, "-t", "1"])
                .output()
                .map_err(|e| Unavailable::new(format!("cannot run pg_isready: {e}")))?;
            if probe.status.success() {
                return Ok(());
            }
            if !self.postmaster_running()? {
                return Err(Unavailable::new(format!(
                    "the server stopped while starting on port {}: {}",
                    self.port,
                    self.log_tail()
                )));
            }
            if started.elapsed() > READY_DEADLINE {
                return Err(Unavailable::new(format!(
                    "the server did not accept connections within {READY_DEADLINE:?}: {}",
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn postmaster_running(&self) -> Result<bool, Unavailable> {
        let data = self.data();
        let status = self.server_tool("pg_ctl", &["-D", path_arg(&data)?, "status"])?;
        Ok(status.status.success())
    }

    fn create_database(&self) -> Result<(), Unavailable> {
        let port = self.port.to_string();
        let output = Command::new(self.bin.join("createdb"))
            .args(["-h", self.host(), "-p", &port, "-U", SUPERUSER, DATABASE])
            .output()
            .map_err(|e| Unavailable::new(format!("cannot run createdb: {e}")))?;
        succeeded("createdb", &output)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// Run one of the server's binaries, as `postgres` when we are root.
    fn server_tool(&self, tool: &str, args: &[&str]) -> Result<Output, Unavailable> {
        let program = self.bin.join(tool);
        let program = path_arg(&program)?;
        let mut command = if !self.as_postgres {
            let mut c = Command::new(program);
            c.args(args);
            c
        } else if Path::new("/usr/sbin/runuser").exists() || Path::new("/sbin/runuser").exists() {
            let mut c = Command::new("runuser");
            c.args(["-u", SUPERUSER, "--", program]).args(args);
            c
        } else {
            let line = std::iter::once(program)
                .chain(args.iter().copied())
                .map(shell_quote)
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = Command::new("su");
            c.args([SUPERUSER, "-s", "/bin/sh", "-c", &line]);
            c
        };
        // The folder is the working directory: the postgres user may not be able to enter ours.
        command
            .current_dir(&self.folder)
            .output()
            .map_err(|e| Unavailable::new(format!("cannot run {tool}: {e}")))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(data) = path_arg(&self.data())
            && self.data().join("postmaster.pid").exists()
        {
            let _ = self.server_tool("pg_ctl", &["-D", data, "-m", "fast", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// The bin folder of the newest installed major version.
fn newest_bin(root: &Path) -> Result<PathBuf, Unavailable> {
    let missing = || {
        Unavailable::new(format!(
            "PostgreSQL's server binaries are not installed (no {}/<version>/bin/initdb; \
             install Debian's postgresql package)",
            root.display()
        ))
    };
    let entries = std::fs::read_dir(root).map_err(|_| missing())?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
        .ok_or_else(missing)
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A new empty folder under the system's temporary folder, owned by `postgres` when the server
/// runs as that user (initdb wants to own the data directory's parent's child, and the socket
/// goes here too).
fn make_folder(as_postgres: bool) -> Result<PathBuf, Unavailable> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let folder = std::env::temp_dir().join(format!(
        "switchboard-pg-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&folder)
        .map_err(|e| Unavailable::new(format!("cannot create {}: {e}", folder.display())))?;
    if as_postgres {
        let output = Command::new("chown")
            .arg(format!("{SUPERUSER}:"))
            .arg(&folder)
            .output()
            .map_err(|e| Unavailable::new(format!("cannot run chown: {e}")))?;
        if let Err(e) = succeeded("chown (is there a postgres user?)", &output) {
            let _ = std::fs::remove_dir_all(&folder);
            return Err(e);
        }
    }
    Ok(folder)
}

/// A port nothing listens on at this moment.
fn free_port() -> Result<u16, Unavailable> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Unavailable::new(format!("cannot find a free loopback port: {e}")))
}

fn succeeded(step: &str, output: &Output) -> Result<(), Unavailable> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(Unavailable::new(format!(
        "{step} failed ({}): {}",
        output.status,
        stderr.trim()
    )))
}

fn path_arg(path: &Path) -> Result<&str, Unavailable> {
    path.to_str()
        .ok_or_else(|| Unavailable::new(format!("{} is not UTF-8", path.display())))
}

/// `'…'` with embedded quotes closed, escaped and reopened, for `su -c`.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_say_what_to_install() {
        let e = newest_bin(Path::new("/nonexistent/postgresql")).unwrap_err();
        assert!(e.reason().contains("postgresql package"), "{e}");
    }

    #[test]
    fn the_newest_version_with_an_initdb_wins() {
        let root = make_folder(false).unwrap();
        for (version, with_initdb) in [("9", true), ("15", true), ("16", false), ("x", true)] {
            let bin = root.join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            if with_initdb {
                std::fs::write(bin.join("initdb"), "").unwrap();
            }
        }
        assert_eq!(newest_bin(&root).unwrap(), root.join("15").join("bin"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn quoting_for_su_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
