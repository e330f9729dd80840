//! The single writer thread: everything written to the database goes through it.
//!
//! Requests queue operations on a channel and move on; the thread takes whatever is queued
//! (up to a batch) and writes it in one transaction. When the database is locked by another
//! process or the disk is full, the batch is kept and retried, so nothing queued is lost while
//! the process lives. Closing flushes what is left, waiting at most [`CLOSING_LIMIT`] for a
//! database that stays locked or full; what it still cannot write then goes to a spill file
//! ([`super::spill`]) that the next start replays.
//!
//! A process killed outright (kill -9) loses the writes not yet committed: rows are queued as
//! requests are answered, and a batch is committed [`GATHER`] after its first row, so what is
//! lost is the last rows, never older ones; at most [`BATCH`] while the thread keeps up. A
//! backlog (calls answered faster than the disk takes their rows, or a locked database) is
//! written batch after batch with no pause, so it shrinks as fast as the disk allows.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use super::{AuditRecord, StateError, now};

/// Most operations written in one transaction.
const BATCH: usize = 512;
/// How long background writes gather before they are committed together.
const GATHER: Duration = Duration::from_millis(20);
/// Pause between attempts when a write fails.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// How long shutdown keeps trying a database that stays locked or full before it spills
/// what is left to a file.
pub const CLOSING_LIMIT: Duration = Duration::from_secs(10);
/// The busy timeout of each attempt once closing, so one attempt cannot outlast the limit
/// by much (the connection's usual one is [`super::BUSY_TIMEOUT`]).
const CLOSING_BUSY: Duration = Duration::from_millis(500);

/// Where an awaited write reports how many rows it changed.
pub type Reply = SyncSender<Result<usize, String>>;

/// A plugin file was loaded: one row of `plugins`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct PluginLoad {
    pub name: String,
    pub file: String,
    pub sha256: String,
    pub version: String,
    pub api_version: String,
    /// The file's (size, mtime in ns), when known.
    pub stamp: Option<(i64, i64)>,
}

/// One queued write.
pub enum Op {
    Audit(Box<AuditRecord>),
    Plugin(Box<PluginLoad>),
    Kv {
        plugin: String,
        key: String,
        value: Option<String>,
        reply: Reply,
    },
    /// One statement; with a reply, the caller waits for it.
    Execute {
        sql: Cow<'static, str>,
        params: Vec<rusqlite::types::Value>,
        reply: Option<Reply>,
    },
}

/// The writer thread and the channel to it.
pub struct Writer {
    sender: Mutex<Option<Sender<Op>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// When closing began; the thread's retries end [`CLOSING_LIMIT`] after it.
    closing: Arc<OnceLock<Instant>>,
    /// Cuts short a busy wait in progress when closing begins.
    interrupt: rusqlite::InterruptHandle,
}

impl Writer {
    /// Start the thread writing to `conn`; what shutdown cannot write goes to a spill file
    /// in `spill_dir`.
    pub fn start(conn: Connection, spill_dir: PathBuf) -> Self {
        let (sender, receiver) = mpsc::channel();
        let closing = Arc::new(OnceLock::new());
        let interrupt = conn.get_interrupt_handle();
        let thread = {
            let closing = closing.clone();
            std::thread::Builder::new()
                .name("state-writer".into())
                .spawn(move || {
                    let thread = Thread {
                        conn,
                        spill_dir,
                        closing,
                    };
                    run(thread, receiver);
                })
                .expect("spawning the state writer thread")
        };
        Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            closing,
            interrupt,
        }
    }

    pub fn send(&self, op: Op) {
        let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let sent = guard.as_ref().map(|s| s.send(op).is_ok()).unwrap_or(false);
        if !sent {
            tracing::error!("state writer stopped; a write was not recorded");
        }
    }

    /// Queue an operation that replies, and wait for the rows it changed.
    pub fn call(&self, make: impl FnOnce(Reply) -> Op) -> Result<usize, StateError> {
        let (reply, answer) = mpsc::sync_channel(1);
        {
            let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
            let sender = guard.as_ref().ok_or(StateError::WriterGone)?;
            sender
                .send(make(reply))
                .map_err(|_| StateError::WriterGone)?;
        }
        answer
            .recv()
            .map_err(|_| StateError::WriterGone)?
            .map_err(StateError::Write)
    }

    /// Shutdown has begun: from now on each attempt waits at most [`CLOSING_BUSY`] for a
    /// lock, and background writes still unwritten [`CLOSING_LIMIT`] after this are spilled.
    /// The last writes of a shutdown (plugins flushing, housekeeping) are still accepted;
    /// the limit counts from here so that waiting for them does not add to it.
    pub fn begin_closing(&self) {
        let _ = self.closing.set(Instant::now());
    }

    /// Stop accepting writes, write what is queued, and wait for the thread: at most about
    /// [`CLOSING_LIMIT`] after [`Writer::begin_closing`] (or this call) when the database
    /// stays locked or full (then the rest is spilled).
    pub fn close(&self) {
        self.begin_closing();
        drop(self.sender.lock().unwrap_or_else(|e| e.into_inner()).take());
        // A write waiting out the usual busy timeout starts over with the short one.
        self.interrupt.interrupt();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

/// What the writer thread owns.
struct Thread {
    conn: Connection,
    spill_dir: PathBuf,
    closing: Arc<OnceLock<Instant>>,
}

/// The thread's loop; returns how many times it paused to gather (what the tests count).
fn run(mut thread: Thread, receiver: Receiver<Op>) -> usize {
    let mut batch: Vec<Op> = Vec::with_capacity(BATCH);
    let mut gathers = 0;
    // Blocks for the first operation; the loop ends when every sender is gone and the
    // queue is empty.
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        take_queued(&receiver, &mut batch);
        // Background writes (audit rows) gather for a moment, so a busy session costs one
        // commit and one wake-up per window instead of one per request: sleeping, not waiting
        // on the channel, means senders do not wake this thread. Writes someone waits for go
        // out at once, and so does a backlog of a whole batch or more: pausing then would
        // only let the queue outgrow what the thread can write.
        if batch.len() < BATCH && !batch.iter().any(Op::is_awaited) {
            gathers += 1;
            std::thread::sleep(GATHER);
            take_queued(&receiver, &mut batch);
        }
        thread.write_with_retry(&mut batch, &receiver);
    }
    gathers
}

/// Move what is queued into `batch`, up to [`BATCH`] operations.
fn take_queued(receiver: &Receiver<Op>, batch: &mut Vec<Op>) {
    while batch.len() < BATCH {
        match receiver.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

impl Op {
    /// Whether a caller is blocked on this write.
    fn is_awaited(&self) -> bool {
        matches!(self, Op::Kv { .. } | Op::Execute { reply: Some(_), .. })
    }

    fn take_reply(self) -> Option<Reply> {
        match self {
            Op::Kv { reply, .. } => Some(reply),
            Op::Execute { reply, .. } => reply,
            _ => None,
        }
    }
}

impl Thread {
    /// Write `batch`, retrying while the database refuses. Until closing, retry for as long
    /// as it takes (the process is alive, nothing is lost); once closing, keep trying until
    /// [`CLOSING_LIMIT`] after it began, each attempt waiting at most [`CLOSING_BUSY`], then
    /// spill what is left to a file.
    fn write_with_retry(&mut self, batch: &mut Vec<Op>, receiver: &Receiver<Op>) {
        let mut attempt = 0u32;
        let mut short_waits = false;
        loop {
            let closing = self.closing.get().copied();
            if closing.is_some() && !short_waits {
                short_waits = true;
                let _ = self.conn.busy_timeout(CLOSING_BUSY);
            }
            let error = match write_batch(&mut self.conn, batch) {
                Ok(changed) => {
                    for (op, rows) in batch.drain(..).zip(changed) {
                        if let Some(reply) = op.take_reply() {
                            let _ = reply.send(Ok(rows));
                        }
                    }
                    return;
                }
                Err(e) => e.to_string(),
            };
            attempt += 1;
            // Callers waiting on a reply hear of the failure at once; background writes
            // (audit rows) stay queued.
            let mut kept = Vec::with_capacity(batch.len());
            for op in batch.drain(..) {
                if op.is_awaited() {
                    if let Some(reply) = op.take_reply() {
                        let _ = reply.send(Err(error.clone()));
                    }
                } else {
                    kept.push(op);
                }
            }
            *batch = kept;
            if attempt == 1 || attempt.is_multiple_of(20) {
                tracing::warn!(
                    error = %error,
                    queued = batch.len(),
                    "writing the state database failed; retrying"
                );
            }
            // What was queued meanwhile joins the batch being retried.
            while let Ok(op) = receiver.try_recv() {
                batch.push(op);
            }
            if batch.is_empty() {
                return;
            }
            if closing.is_some_and(|since| since.elapsed() >= CLOSING_LIMIT) {
                give_up(batch, &self.spill_dir, &error);
                return;
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }
}

/// Shutdown could not write `batch`: keep it in a spill file for the next start.
fn give_up(batch: &mut Vec<Op>, spill_dir: &std::path::Path, error: &str) {
    match super::spill::write(spill_dir, batch) {
        Ok((file, count)) => tracing::warn!(
            error = %error,
            writes = count,
            file = %file.display(),
            "the state database stayed unwritable at shutdown; the unwritten rows are kept in a file the next start replays"
        ),
        Err(e) => tracing::error!(
            error = %error,
            spill_error = %e,
            lost = batch.len(),
            "the state database stayed unwritable at shutdown and the rows could not be kept in a file either; they are lost"
        ),
    }
    batch.clear();
}

fn write_batch(conn: &mut Connection, batch: &[Op]) -> rusqlite::Result<Vec<usize>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut changed = Vec::with_capacity(batch.len());
    for op in batch {
        changed.push(apply(&tx, op)?);
    }
    tx.commit()?;
    Ok(changed)
}

/// Apply one write inside `tx` (also how a spill file is replayed).
pub(super) fn apply(tx: &rusqlite::Transaction<'_>, op: &Op) -> rusqlite::Result<usize> {
    match op {
        Op::Audit(record) => {
            super::audit::insert(tx, record)?;
            Ok(1)
        }
        Op::Plugin(load) => tx.execute(
            "INSERT INTO plugins (name, file, sha256, version, api_version, first_seen, last_loaded, size, mtime_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)
             ON CONFLICT (name, file, sha256) DO UPDATE SET last_loaded = excluded.last_loaded,
                 version = excluded.version, api_version = excluded.api_version,
                 size = excluded.size, mtime_ns = excluded.mtime_ns",
            params![
                load.name,
                load.file,
                load.sha256,
                load.version,
                load.api_version,
                now(),
                load.stamp.map(|s| s.0),
                load.stamp.map(|s| s.1)
            ],
        ),
        Op::Kv {
            plugin, key, value, ..
        } => match value {
            Some(value) => tx.execute(
                "INSERT INTO kv (plugin, key, value, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                params![plugin, key, value, now()],
            ),
            None => tx.execute(
                "DELETE FROM kv WHERE plugin = ?1 AND key = ?2",
                params![plugin, key],
            ),
        },
        Op::Execute { sql, params, .. } => {
            let mut statement = tx.prepare_cached(sql.as_ref())?;
            statement.execute(rusqlite::params_from_iter(params.iter()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_is_written_without_pausing_and_every_row_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        super::super::State::open(&path).unwrap().close();
        let (sender, receiver) = mpsc::channel();
        let rows = BATCH * 4 + 7;
        for i in 0..rows {
            let record = AuditRecord::new(format!("r-{i}"), "s", "tools/call");
            sender.send(Op::Audit(Box::new(record))).unwrap();
        }
        drop(sender);
        let thread = Thread {
            conn: Connection::open(&path).unwrap(),
            spill_dir: dir.path().to_path_buf(),
            closing: Arc::new(OnceLock::new()),
        };
        // Four whole batches go out at once; only the last, short one waits for company.
        assert_eq!(run(thread, receiver), 1);
        let state = super::super::State::open(&path).unwrap();
        assert_eq!(state.recent_audit(100_000).unwrap().len(), rows);
    }
}
