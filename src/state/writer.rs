//! The single writer thread: everything written to the database goes through it.
//!
//! Requests queue operations on a channel and move on; the thread takes whatever is queued
//! (up to a batch) and writes it in one transaction. When the database is locked by another
//! process or the disk is full, the batch is kept and retried, so nothing queued is lost while
//! the process lives; closing flushes what is left.

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, params};

use super::{AuditRecord, StateError, now};

/// Most operations written in one transaction.
const BATCH: usize = 512;
/// How long background writes gather before they are committed together.
const GATHER: Duration = Duration::from_millis(20);
/// Pause between attempts when a write fails.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// Attempts at shutdown before giving up on what is left (about 10 s).
const CLOSING_ATTEMPTS: u32 = 40;

/// Where an awaited write reports how many rows it changed.
pub type Reply = SyncSender<Result<usize, String>>;

/// One queued write.
pub enum Op {
    Audit(Box<AuditRecord>),
    Plugin {
        name: String,
        file: String,
        sha256: String,
        version: String,
        api_version: String,
        stamp: Option<(i64, i64)>,
    },
    Kv {
        plugin: String,
        key: String,
        value: Option<String>,
        reply: Reply,
    },
    /// One statement; with a reply, the caller waits for it.
    Execute {
        sql: &'static str,
        params: Vec<rusqlite::types::Value>,
        reply: Option<Reply>,
    },
}

pub struct Writer {
    sender: Mutex<Option<Sender<Op>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub fn start(conn: Connection) -> Self {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || run(conn, receiver))
            .expect("spawning the state writer thread");
        Self {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
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

    /// Stop accepting writes, write what is queued, and wait for the thread.
    pub fn close(&self) {
        drop(self.sender.lock().unwrap_or_else(|e| e.into_inner()).take());
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

fn run(mut conn: Connection, receiver: Receiver<Op>) {
    let mut batch: Vec<Op> = Vec::with_capacity(BATCH);
    // Blocks for the first operation; the loop ends when every sender is gone and the
    // queue is empty.
    while let Ok(first) = receiver.recv() {
        // Background writes (audit rows) gather for a moment, so a busy session costs one
        // commit and one wake-up per window instead of one per request: sleeping, not waiting
        // on the channel, means senders do not wake this thread. Writes someone waits for go
        // out at once.
        if !first.is_awaited() {
            std::thread::sleep(GATHER);
        }
        batch.push(first);
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        write_with_retry(&mut conn, &mut batch, &receiver);
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

/// Write `batch`, retrying while the database refuses. While the channel is open, retry for
/// as long as it takes (the process is alive, nothing is lost); once it is closed (shutdown),
/// give up after [`CLOSING_ATTEMPTS`] and say how much was lost.
fn write_with_retry(conn: &mut Connection, batch: &mut Vec<Op>, receiver: &Receiver<Op>) {
    let mut attempt = 0u32;
    loop {
        match write_batch(conn, batch) {
            Ok(changed) => {
                for (op, rows) in batch.drain(..).zip(changed) {
                    if let Some(reply) = op.take_reply() {
                        let _ = reply.send(Ok(rows));
                    }
                }
                return;
            }
            Err(e) => {
                attempt += 1;
                let message = e.to_string();
                // Callers waiting on a reply hear of the failure at once; background writes
                // (audit rows) stay queued.
                let mut kept = Vec::with_capacity(batch.len());
                for op in batch.drain(..) {
                    if op.is_awaited() {
                        if let Some(reply) = op.take_reply() {
                            let _ = reply.send(Err(message.clone()));
                        }
                    } else {
                        kept.push(op);
                    }
                }
                *batch = kept;
                if batch.is_empty() {
                    return;
                }
                if attempt == 1 || attempt.is_multiple_of(20) {
                    tracing::warn!(
                        error = %message,
                        queued = batch.len(),
                        "writing the state database failed; retrying"
                    );
                }
                // Whether the channel is closed (shutdown): asking must not lose what it
                // takes, so a write queued meanwhile joins the batch being retried.
                let closing = match receiver.try_recv() {
                    Ok(op) => {
                        batch.push(op);
                        false
                    }
                    Err(mpsc::TryRecvError::Empty) => false,
                    Err(mpsc::TryRecvError::Disconnected) => true,
                };
                if closing && attempt >= CLOSING_ATTEMPTS {
                    tracing::error!(
                        lost = batch.len(),
                        error = %message,
                        "giving up on state writes at shutdown"
                    );
                    batch.clear();
                    return;
                }
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
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

fn apply(tx: &rusqlite::Transaction<'_>, op: &Op) -> rusqlite::Result<usize> {
    match op {
        Op::Audit(record) => {
            super::audit::insert(tx, record)?;
            Ok(1)
        }
        Op::Plugin {
            name,
            file,
            sha256,
            version,
            api_version,
            stamp,
        } => tx.execute(
            "INSERT INTO plugins (name, file, sha256, version, api_version, first_seen, last_loaded, size, mtime_ns)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)
             ON CONFLICT (name, file, sha256) DO UPDATE SET last_loaded = excluded.last_loaded,
                 version = excluded.version, api_version = excluded.api_version,
                 size = excluded.size, mtime_ns = excluded.mtime_ns",
            params![
                name,
                file,
                sha256,
                version,
                api_version,
                now(),
                stamp.map(|s| s.0),
                stamp.map(|s| s.1)
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
            let mut statement = tx.prepare_cached(sql)?;
            statement.execute(rusqlite::params_from_iter(params.iter()))
        }
    }
}
