//! The spill file: background writes the writer could not commit before the process ended.
//!
//! Shutdown waits a bounded time ([`super::writer::CLOSING_LIMIT`]) for a locked or full
//! database. What is still unwritten then (audit rows, plugin records, queued statements) is
//! written to `unwritten-<pid>-<nanos>.jsonl` in the state folder, through a temporary file
//! renamed into place, so a spill file is either whole or absent. The next process to open
//! the database replays every spill file in one transaction each and deletes it; the file's
//! SHA-256 is recorded in the same transaction (`replayed_spills`), so a replay that
//! committed but was not yet deleted when its process died is not applied twice, and two
//! processes starting together apply a file once.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuditRecord;
use super::writer::{Op, PluginLoad};

const PREFIX: &str = "unwritten-";
const SUFFIX: &str = ".jsonl";

/// One spilled write, as a line of the file.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Spilled {
    Audit(Box<AuditRecord>),
    Plugin(Box<PluginLoad>),
    Execute { sql: String, params: Vec<Cell> },
}

/// A statement parameter.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<&Value> for Cell {
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Cell::Null,
            Value::Integer(n) => Cell::Integer(*n),
            Value::Real(r) => Cell::Real(*r),
            Value::Text(t) => Cell::Text(t.clone()),
            Value::Blob(b) => Cell::Blob(b.clone()),
        }
    }
}

impl From<Cell> for Value {
    fn from(cell: Cell) -> Self {
        match cell {
            Cell::Null => Value::Null,
            Cell::Integer(n) => Value::Integer(n),
            Cell::Real(r) => Value::Real(r),
            Cell::Text(t) => Value::Text(t),
            Cell::Blob(b) => Value::Blob(b),
        }
    }
}

impl Spilled {
    /// The spillable form of a background write; `None` for writes someone waits on (they
    /// were answered with the error instead).
    fn of(op: &Op) -> Option<Self> {
        Some(match op {
            Op::Audit(record) => Spilled::Audit(record.clone()),
            Op::Plugin(load) => Spilled::Plugin(load.clone()),
            Op::Execute {
                sql,
                params,
                reply: None,
            } => Spilled::Execute {
                sql: sql.to_string(),
                params: params.iter().map(Cell::from).collect(),
            },
            Op::Execute { reply: Some(_), .. } | Op::Kv { .. } => return None,
        })
    }

    fn into_op(self) -> Op {
        match self {
            Spilled::Audit(record) => Op::Audit(record),
            Spilled::Plugin(load) => Op::Plugin(load),
            Spilled::Execute { sql, params } => Op::Execute {
                sql: Cow::Owned(sql),
                params: params.into_iter().map(Value::from).collect(),
                reply: None,
            },
        }
    }
}

/// Write `ops` (the background ones) to a new spill file in `dir`; returns the file and how
/// many writes it holds.
pub fn write(dir: &Path, ops: &[Op]) -> std::io::Result<(PathBuf, usize)> {
    let mut text = Vec::new();
    let mut count = 0;
    for spilled in ops.iter().filter_map(Spilled::of) {
        serde_json::to_writer(&mut text, &spilled).map_err(std::io::Error::other)?;
        text.push(b'\n');
        count += 1;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!("{PREFIX}{}-{nanos}{SUFFIX}", std::process::id());
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // What the database holds, only its owner reads.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial)?;
    let written = file
        .write_all(&text)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&partial, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok((path, count))
}

/// The spill files waiting in `dir`, oldest first.
fn pending(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    files.sort();
    files
}

/// Replay every spill file in `dir` into `conn`, deleting each once it is applied; returns
/// how many writes were applied. A file that cannot be applied now (the database is locked)
/// stays for the next start.
pub fn replay(conn: &mut Connection, dir: &Path) -> usize {
    let mut applied = 0;
    for path in pending(dir) {
        match replay_file(conn, &path) {
            Ok(count) => {
                applied += count;
                // Another process replaying the same file at once may have deleted it.
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(file = %path.display(), error = %e, "a replayed spill file could not be deleted; it will not be applied twice");
                }
            }
            Err(e) => tracing::warn!(
                file = %path.display(),
                error = %e,
                "replaying unwritten state failed; the file is kept and replayed at the next start"
            ),
        }
    }
    if applied > 0 {
        tracing::info!(
            writes = applied,
            "replayed state writes a previous shutdown could not commit"
        );
    }
    applied
}

fn replay_file(conn: &mut Connection, path: &Path) -> Result<usize, super::StateError> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        // Replayed and deleted by another process since the folder was listed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(super::StateError::Folder {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let digest = hex::encode(Sha256::digest(&text));
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let seen: Option<String> = tx
        .query_row(
            "SELECT replayed FROM replayed_spills WHERE sha256 = ?1",
            params![digest],
            |r| r.get(0),
        )
        .optional()?;
    if seen.is_some() {
        return Ok(0);
    }
    let mut count = 0;
    for (number, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Spilled>(line) {
            Ok(spilled) => {
                super::writer::apply(&tx, &spilled.into_op())?;
                count += 1;
            }
            Err(e) => tracing::warn!(
                file = %path.display(),
                line = number + 1,
                error = %e,
                "a line of a spill file is not a state write; it is skipped"
            ),
        }
    }
    tx.execute(
        "INSERT INTO replayed_spills (sha256, replayed) VALUES (?1, ?2)",
        params![digest, super::now()],
    )?;
    tx.commit()?;
    Ok(count)
}
