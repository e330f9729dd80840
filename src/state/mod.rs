//! Local state: one SQLite database shared by every switchboard process of a user.
//!
//! Writes go through a single writer thread fed by a channel ([`writer`]), batched into one
//! transaction, so a request never waits on the disk for its audit row. Reads use a separate
//! connection. WAL mode and a busy timeout let several processes (several clients, the CLI)
//! share the file. Plugins never open this file: they reach it through the key-value service.

pub mod approvals;
pub mod audit;
pub mod retention;
mod schema;
mod spill;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

pub use audit::{AuditRecord, Outcome};
use writer::{Op, Writer};

/// How long a statement waits for another process's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite failed.
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The folder could not be created.
    #[error("cannot create the state folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database was written by a newer switchboard.
    #[error(
        "the state database has schema version {found}, newer than this switchboard knows ({known}); upgrade switchboard"
    )]
    TooNew {
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// The writer thread is gone (the process is shutting down).
    #[error("the state writer has stopped")]
    WriterGone,
    /// A write failed.
    #[error("state write failed: {0}")]
    Write(String),
}

/// A loaded plugin file, as recorded.
#[derive(Clone, Debug)]
pub struct PluginRecord {
    /// The plugin's name.
    pub name: String,
    /// The library's path.
    pub file: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The plugin's version.
    pub version: String,
    /// The interface version it was built against.
    pub api_version: String,
    /// When this exact file was first loaded.
    pub first_seen: String,
    /// When it was last loaded.
    pub last_loaded: String,
}

/// The handle to the state database. Cheap to clone.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    reader: Mutex<Connection>,
}

fn open_connection(path: &Path) -> Result<Connection, StateError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The current time as the database stores it (RFC 3339, UTC, milliseconds).
pub fn now() -> String {
    stamp(chrono::Utc::now())
}

/// A time as the database stores it.
pub fn stamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A time as the database stores it, as the person's local time of day (`14:03:27`).
pub fn local_time(stamp: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stamp)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| stamp.to_string())
}

impl State {
    /// Open (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = open_connection(path)?;
        schema::migrate(&mut conn)?;
        let folder = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        spill::replay(&mut conn, &folder);
        let reader = open_connection(path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Writer::start(conn, folder),
                reader: Mutex::new(reader),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Queue an audit row; returns at once.
    pub fn record_audit(&self, record: AuditRecord) {
        self.inner.writer.send(Op::Audit(Box::new(record)));
    }

    /// Record that a plugin file was loaded.
    /// Record that a plugin file was loaded; `stamp` is the file's (size, mtime in ns).
    pub fn record_plugin(
        &self,
        name: &str,
        file: &Path,
        sha256: &str,
        (version, api): (&str, &str),
        stamp: Option<(i64, i64)>,
    ) {
        self.inner
            .writer
            .send(Op::Plugin(Box::new(writer::PluginLoad {
                name: name.to_string(),
                file: file.display().to_string(),
                sha256: sha256.to_string(),
                version: version.to_string(),
                api_version: api.to_string(),
                stamp,
            })));
    }

    /// The digest recorded for `file` when it had this size and modification time.
    pub fn known_digest(
        &self,
        file: &Path,
        (size, mtime_ns): (i64, i64),
    ) -> Result<Option<String>, StateError> {
        let file = file.display().to_string();
        self.read(|c| {
            c.query_row(
                "SELECT sha256 FROM plugins WHERE file = ?1 AND size = ?2 AND mtime_ns = ?3
                 ORDER BY last_loaded DESC LIMIT 1",
                params![file, size, mtime_ns],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Write (or with `None` delete) a plugin's key; durable when this returns. Blocks: call it
    /// from a blocking thread.
    pub fn kv_put(&self, plugin: &str, key: &str, value: Option<&str>) -> Result<(), StateError> {
        self.inner
            .writer
            .call(|reply| Op::Kv {
                plugin: plugin.to_string(),
                key: key.to_string(),
                value: value.map(str::to_string),
                reply,
            })
            .map(|_| ())
    }

    /// Run one statement through the writer and wait for it; returns the rows it changed.
    /// Blocks: call it from a blocking thread.
    pub(crate) fn execute(
        &self,
        sql: &'static str,
        params: Vec<Value>,
    ) -> Result<usize, StateError> {
        self.inner.writer.call(|reply| Op::Execute {
            sql: sql.into(),
            params,
            reply: Some(reply),
        })
    }

    /// Queue one statement; returns at once.
    pub(crate) fn execute_later(&self, sql: &'static str, params: Vec<Value>) {
        self.inner.writer.send(Op::Execute {
            sql: sql.into(),
            params,
            reply: None,
        });
    }

    /// Shutdown has begun: a locked or full database is waited for briefly from now on, and
    /// [`State::close`] gives up on it a bounded time after this (see [`writer`]).
    pub fn begin_closing(&self) {
        self.inner.writer.begin_closing();
    }

    /// Flush and stop the writer; later writes are dropped with an error log.
    pub fn close(&self) {
        self.inner.writer.close();
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        let conn = self.inner.reader.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&conn)?)
    }

    /// A plugin's value for `key`.
    pub fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<String>, StateError> {
        self.read(|c| {
            c.query_row(
                "SELECT value FROM kv WHERE plugin = ?1 AND key = ?2",
                params![plugin, key],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// A plugin's keys starting with `prefix`, sorted.
    pub fn kv_keys(&self, plugin: &str, prefix: &str) -> Result<Vec<String>, StateError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT key FROM kv WHERE plugin = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key",
            )?;
            let rows = stmt.query_map(params![plugin, prefix], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// The most recent audit rows, newest first.
    pub fn recent_audit(&self, limit: u32) -> Result<Vec<AuditRecord>, StateError> {
        self.read(|c| audit::recent(c, limit))
    }

    /// Every recorded plugin file, most recently loaded first.
    pub fn plugin_records(&self) -> Result<Vec<PluginRecord>, StateError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name, file, sha256, version, api_version, first_seen, last_loaded
                 FROM plugins ORDER BY last_loaded DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(PluginRecord {
                    name: r.get(0)?,
                    file: r.get(1)?,
                    sha256: r.get(2)?,
                    version: r.get(3)?,
                    api_version: r.get(4)?,
                    first_seen: r.get(5)?,
                    last_loaded: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Facts for `doctor`: schema version, journal mode, row counts.
    pub fn health(&self) -> Result<Vec<(String, String)>, StateError> {
        self.read(|c| {
            let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let journal: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let audit: i64 = c.query_row("SELECT count(*) FROM audit", [], |r| r.get(0))?;
            let kv: i64 = c.query_row("SELECT count(*) FROM kv", [], |r| r.get(0))?;
            Ok(vec![
                ("schema version".into(), version.to_string()),
                ("journal mode".into(), journal),
                ("audit rows".into(), audit.to_string()),
                ("key-value entries".into(), kv.to_string()),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_round_trip_and_audit_flush() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        state.kv_put("p", "a", Some("1")).unwrap();
        state.kv_put("p", "ab", Some("2")).unwrap();
        state.kv_put("q", "a", Some("3")).unwrap();
        assert_eq!(state.kv_get("p", "a").unwrap().as_deref(), Some("1"));
        assert_eq!(state.kv_keys("p", "a").unwrap(), vec!["a", "ab"]);
        state.kv_put("p", "a", None).unwrap();
        assert_eq!(state.kv_get("p", "a").unwrap(), None);

        let mut record = AuditRecord::new("r-1", "s", "tools/call");
        record.outcome = Outcome::Ok;
        state.record_audit(record);
        // A second handle sees the row once the first has closed (closing writes the queue).
        let path = state.path().to_path_buf();
        state.close();
        let rows = State::open(&path).unwrap().recent_audit(10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].request_id, "r-1");
    }

    #[test]
    fn rows_queued_while_the_database_is_locked_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let state = State::open(&path).unwrap();
        // Another process holds the database for longer than two write attempts.
        let locker = Connection::open(&path).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let total = 40;
        for i in 0..total {
            let mut record = AuditRecord::new(format!("r-{i}"), "s", "tools/call");
            record.outcome = Outcome::Ok;
            state.record_audit(record);
            // Spread over the lock, so rows arrive while the writer retries.
            std::thread::sleep(BUSY_TIMEOUT * 3 / total);
        }
        locker.execute_batch("COMMIT").unwrap();
        state.close();
        let rows = State::open(&path).unwrap().recent_audit(1000).unwrap();
        assert_eq!(rows.len(), total as usize, "rows were lost while retrying");
    }

    /// Files in `dir` whose name says they are spill files.
    fn spill_files(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("unwritten-")
            })
            .collect()
    }

    #[test]
    fn shutdown_against_a_database_that_stays_locked_is_bounded_and_spills_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let state = State::open(&path).unwrap();
        let locker = Connection::open(&path).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        for i in 0..25 {
            let mut record = AuditRecord::new(format!("r-{i}"), "s", "tools/call");
            record.outcome = Outcome::Ok;
            state.record_audit(record);
        }
        state.execute_later(
            "INSERT INTO spent_states (digest, expires) VALUES (?1, ?2)",
            vec![Value::Text("d".into()), Value::Text("2999-01-01".into())],
        );
        let started = std::time::Instant::now();
        state.close();
        let took = started.elapsed();
        // The limit plus one attempt's busy wait and a retry pause, not the 40 × 5 s of old.
        assert!(
            took < writer::CLOSING_LIMIT + BUSY_TIMEOUT,
            "closing took {took:?}"
        );
        let files = spill_files(dir.path());
        assert_eq!(files.len(), 1, "one spill file: {files:?}");
        locker.execute_batch("COMMIT").unwrap();
        drop(locker);

        // The next start replays it, once, and deletes it.
        let next = State::open(&path).unwrap();
        assert_eq!(next.recent_audit(1000).unwrap().len(), 25);
        let spent: i64 = next
            .read(|c| c.query_row("SELECT count(*) FROM spent_states", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(spent, 1);
        assert!(spill_files(dir.path()).is_empty());
    }

    #[test]
    fn a_spill_file_whose_replay_committed_is_not_applied_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let record = AuditRecord::new("r-spilled", "s", "tools/call");
        let ops = [writer::Op::Audit(Box::new(record))];
        let (file, count) = spill::write(dir.path(), &ops).unwrap();
        assert_eq!(count, 1);
        let text = std::fs::read(&file).unwrap();
        State::open(&path).unwrap().close();
        // A process that died after committing the replay but before deleting the file.
        std::fs::write(&file, &text).unwrap();
        let state = State::open(&path).unwrap();
        let rows = state.recent_audit(10).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert!(spill_files(dir.path()).is_empty());
    }

    #[test]
    fn two_processes_opening_at_once_replay_a_spill_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        State::open(&path).unwrap().close();
        let ops: Vec<writer::Op> = (0..50)
            .map(|i| writer::Op::Audit(Box::new(AuditRecord::new(format!("r-{i}"), "s", "x"))))
            .collect();
        spill::write(dir.path(), &ops).unwrap();
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || State::open(&path).unwrap().close())
            })
            .collect();
        for opener in openers {
            opener.join().unwrap();
        }
        assert_eq!(
            State::open(&path)
                .unwrap()
                .recent_audit(1000)
                .unwrap()
                .len(),
            50
        );
        assert!(spill_files(dir.path()).is_empty());
    }

    #[test]
    fn a_damaged_line_of_a_spill_file_is_skipped_and_the_rest_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let ops = [
            writer::Op::Audit(Box::new(AuditRecord::new("r-1", "s", "tools/call"))),
            writer::Op::Audit(Box::new(AuditRecord::new("r-2", "s", "tools/call"))),
        ];
        let (file, _) = spill::write(dir.path(), &ops).unwrap();
        let mut text = std::fs::read_to_string(&file).unwrap();
        text.insert_str(0, "{not a write}\n");
        std::fs::write(&file, text).unwrap();
        let rows = State::open(&path).unwrap().recent_audit(10).unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
    }

    #[test]
    fn two_handles_share_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let a = State::open(&path).unwrap();
        let b = State::open(&path).unwrap();
        a.kv_put("p", "k", Some("from a")).unwrap();
        assert_eq!(b.kv_get("p", "k").unwrap().as_deref(), Some("from a"));
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = State::open(&path).err().expect("must refuse");
        assert!(
            matches!(err, StateError::TooNew { found: 999, .. }),
            "{err}"
        );
    }
}
