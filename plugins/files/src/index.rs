//! The search index: a SQLite file of its own (`index.sqlite` in the plugin's data folder)
//! holding one row per file and an FTS5 table of names and contents. This module owns the
//! schema and every write; [`crate::search`] reads it.
//!
//! Schema:
//!
//! * `files(id INTEGER PRIMARY KEY, path TEXT UNIQUE, name, size, mtime_ns, kind)` — what
//!   was indexed and from which version of the file (`size`, `mtime_ns`) and as what (`kind`:
//!   text, truncated, binary, unreadable). The integer `id` is the rowid of the file's FTS
//!   row, so a changed or vanished file's terms are replaced or deleted by rowid.
//! * `docs` — a *contentless* FTS5 table (`content=''`, `contentless_delete=1`) over `path`,
//!   `name` and `body`: it keeps the terms and their positions, not a second copy of the text.
//!   That copy was three quarters of the index at 100k files; snippets are made from the files
//!   themselves, for the hits returned only ([`crate::snippet`]). Tokenized by `porter` over
//!   `unicode61` with `_` as a token character, so English words match their other forms
//!   (`parsing` finds `parse`), `snake_case` identifiers stay whole, and diacritics fold. The
//!   name column also carries the name split into words (`MyNotes_v2.txt` adds `My Notes v2
//!   txt`), so both the identifier and its parts match.
//! * `meta` — schema version, the size cap the bodies were cut at (when either differs from
//!   what the connector runs with, the index is emptied for a rebuild), and the state of the
//!   last complete scan: which roots and rules it covered (`scope`) and when it finished
//!   (`scanned_at`). A new process whose scope matches answers from the index at once and
//!   reconciles in the background instead of walking the tree first.
//!
//! Writing: [`Index::plan`] compares a walk with the rows (by size and mtime, through
//! [`crate::known`]) and says what to re-read and what is gone; [`Index::run`] carries the
//! plan out, files read and tokenized ([`crate::tokens`]) on a second thread while this one
//! writes, in batches of a few hundred files, committing about once a second; between batches it reports progress, lets the caller apply other changes and stops
//! cleanly (committing what it wrote) when told to. [`Index::upsert`] and
//! [`Index::remove_under`] apply single changes and commit at once.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::content::{self, Contents};
use crate::known::Known;
use crate::paths::Root;
use crate::scan::FileEntry;
use crate::tokens::{self, TOKENIZER, Tokenizer, Tokens};

/// Bumped whenever the tables or the tokenizer change; an index of another version is rebuilt.
const SCHEMA_VERSION: &str = "2";

/// Files read and written between progress reports and the caller's other work.
pub const BATCH: usize = 256;

/// Bytes of text read ahead of the writer at most: the reading thread waits when the writer
/// falls behind, so memory stays bounded whatever the files' sizes.
const READ_AHEAD_BYTES: usize = 8 << 20;

/// How long one transaction of a run may stay open before it is committed. Each commit
/// flushes FTS5's pending terms into a new segment that later merges must fold in again, so
/// committing every batch spent most of a large build in flushes and merges; a commit about
/// once a second keeps that cost small while a stopped run still keeps what it wrote.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// FTS5's in-memory buffer of pending terms before it writes a segment (its default is 1 MiB):
/// fewer, larger segments make a large first build spend less time merging. At 100k files:
/// 51.6 s with 1 MiB, 46.2 s with 4 MiB, 46.0 s with 16 MiB (peak RSS 91, 95, 113 MB).
const PENDING_TERMS_BYTES: i64 = 4 << 20;

/// The SQLite page cache of a connection that writes (negative: KiB). A build touches many
/// pages while merging segments; searches need far fewer ([`crate::search`]).
const WRITER_CACHE_KIB: i64 = 8 * 1024;

fn schema() -> String {
    format!(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE files (
             id INTEGER PRIMARY KEY,
             path TEXT NOT NULL UNIQUE,
             name TEXT NOT NULL,
             size INTEGER NOT NULL,
             mtime_ns INTEGER NOT NULL,
             kind TEXT NOT NULL
         );
         CREATE INDEX files_name ON files (name COLLATE NOCASE);
         CREATE VIRTUAL TABLE docs USING fts5 (
             path, name, body,
             content = '', contentless_delete = 1,
             tokenize = \"{TOKENIZER}\"
         );"
    )
}

/// What a run of the index reports to, and asks, whoever started it.
pub struct Hooks<'a> {
    /// Called after each batch with (files done, files to do).
    pub report: &'a dyn Fn(usize, usize),
    /// Polled between batches; `true` stops the run.
    pub stop: &'a dyn Fn() -> bool,
    /// Called between batches with the index, to apply other changes in between (the write
    /// tools', a watcher's) or to pace the run.
    pub between: &'a mut dyn FnMut(&mut Index) -> rusqlite::Result<()>,
}

impl Hooks<'_> {
    /// Run to the end, reporting nothing.
    pub fn quiet(between: &mut dyn FnMut(&mut Index) -> rusqlite::Result<()>) -> Hooks<'_> {
        Hooks {
            report: &|_, _| {},
            stop: &|| false,
            between,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Files the walk found.
    pub files: usize,
    /// Files (re)read and written.
    pub indexed: usize,
    /// Rows dropped because their file is gone.
    pub removed: usize,
    /// Files indexed by name only because they could not be read.
    pub unreadable: usize,
    /// Whether the run stopped early.
    pub cancelled: bool,
}

/// What the index must change to match a walk.
#[derive(Debug, Default)]
pub struct Plan {
    /// Files the walk found.
    pub files: usize,
    /// Files new or changed since they were indexed, to (re)read.
    pub todo: Vec<FileEntry>,
    /// Rows of files the walk no longer found, with the path each had when the walk began
    /// (a row changed meanwhile, or its id given to another file, is not dropped).
    pub gone: Vec<(i64, Box<str>)>,
}

/// The kind of a file that was listed but is no longer there when it is read.
const GONE: &str = "gone";

/// A file read for the index.
struct Loaded {
    entry: FileEntry,
    kind: &'static str,
    body: String,
    /// The body's tokens, when the reading thread made them ([`crate::tokens`]).
    tokens: Option<Tokens>,
}

/// The open index, as its writer.
pub struct Index {
    conn: Connection,
    /// When the open transaction began, if one is open.
    open_since: Option<Instant>,
}

/// What goes in the FTS `name` column: the name, plus its words when it is an identifier-like
/// compound (split at `_`, `-`, `.`, spaces, and lower-to-upper case changes).
pub fn name_terms(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        let boundary = previous.is_some_and(|p| p.is_lowercase() && c.is_uppercase());
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    let split = words.join(" ");
    if split.is_empty() || split.eq_ignore_ascii_case(name) {
        name.to_string()
    } else {
        format!("{name} {split}")
    }
}

/// Read a file beneath its root for the index: its text up to the cap, or why there is none.
fn load(entry: FileEntry, roots: &[Root], max_file_size: u64) -> Loaded {
    let path = Path::new(&entry.path);
    let root = roots.get(entry.root);
    let opened = match root.and_then(|r| path.strip_prefix(&r.path).ok().zip(Some(r))) {
        Some((rel, root)) => root.dir.read_file(rel),
        None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    let (kind, body) = match opened.and_then(|f| content::read_capped(f, max_file_size)) {
        // Removed since the walk listed it: the row goes, no row comes.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (GONE, String::new()),
        Ok(Contents::Text {
            text,
            truncated: false,
        }) => ("text", text),
        Ok(Contents::Text {
            text,
            truncated: true,
        }) => ("truncated", text),
        Ok(Contents::Binary) => ("binary", String::new()),
        Err(_) => ("unreadable", String::new()),
    };
    Loaded {
        entry,
        kind,
        body,
        tokens: None,
    }
}

/// Open a connection to the index file in WAL mode, with the busy timeout every user of it
/// shares. Searches open their own ([`crate::search`]).
pub fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// When the last complete scan of `scope` finished (Unix seconds), as the index file at
/// `conn` records it; `None` when the index holds no complete scan of exactly that scope.
pub fn scanned_at(conn: &Connection, scope: &str) -> rusqlite::Result<Option<i64>> {
    if meta(conn, "scope")?.as_deref() != Some(scope) {
        return Ok(None);
    }
    Ok(meta(conn, "scanned_at")?.and_then(|v| v.parse().ok()))
}

impl Index {
    /// Open (or create) the index at `path`. An index built with another schema version or
    /// another size cap is emptied, and a file that is not a sound SQLite database is deleted:
    /// either way the next run rebuilds it. The index is a cache of the files, never the only
    /// copy of anything.
    pub fn open(path: &Path, max_file_size: u64) -> rusqlite::Result<Self> {
        match Self::open_as_is(path, max_file_size) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.as_os_str().to_owned();
                    file.push(suffix);
                    // A missing companion file is fine; a real failure shows in the reopen.
                    let _ = std::fs::remove_file(&file);
                }
                Self::open_as_is(path, max_file_size)
            }
            other => other,
        }
    }

    /// Open as the file is, emptying it when it was built otherwise. Opening an index that is
    /// already as wanted writes nothing, so it never waits for another process's write lock.
    fn open_as_is(path: &Path, max_file_size: u64) -> rusqlite::Result<Self> {
        let conn = connect(path)?;
        tokens::install_replay(&conn)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        let cap = max_file_size.to_string();
        let built = |conn: &Connection| -> rusqlite::Result<(bool, bool)> {
            let has_meta: bool = conn.query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get(0),
            )?;
            if !has_meta {
                return Ok((false, false));
            }
            let version = meta(conn, "schema_version")?;
            let wanted = version.as_deref() == Some(SCHEMA_VERSION)
                && meta(conn, "max_file_size")?.as_deref() == Some(cap.as_str());
            Ok((wanted, version.is_some()))
        };
        if built(&conn)?.0 {
            return Ok(Self {
                conn,
                open_since: None,
            });
        }
        // New, another version, or cut at another size: start over, under the write lock so
        // two processes opening a new index at once build its tables once.
        let tx = rusqlite::Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let (wanted, old) = built(&tx)?;
        if !wanted {
            tx.execute_batch(&format!(
                "DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta;
                 {}",
                schema()
            ))?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('max_file_size', ?2)",
                params![SCHEMA_VERSION, cap],
            )?;
            tx.execute(
                "INSERT INTO docs (docs, rank) VALUES ('hashsize', ?1)",
                [PENDING_TERMS_BYTES],
            )?;
        }
        tx.commit()?;
        if !wanted && old {
            // Give the old tables' pages back to the file system (an index of a home folder
            // is gigabytes); the new tables are empty, so this is quick.
            conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        }
        Ok(Self {
            conn,
            open_since: None,
        })
    }

    /// How many files the index holds.
    pub fn file_count(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM files", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// When the last complete scan of `scope` finished; see [`scanned_at`].
    pub fn scanned_at(&self, scope: &str) -> rusqlite::Result<Option<i64>> {
        scanned_at(&self.conn, scope)
    }

    /// The folders holding the files of the last scans, each once, in no set order: what a new
    /// process watches before it walks, so a change made during its first walk is seen in a
    /// folder the walk has not reached yet.
    ///
    /// Cut short, with what it has, once `stop` says so (checked every thousand files): a
    /// one-shot command's process is shut down while this runs.
    pub fn folders_of_files(
        &self,
        stop: &dyn Fn() -> bool,
    ) -> rusqlite::Result<Vec<std::path::PathBuf>> {
        let mut statement = self.conn.prepare("SELECT path FROM files")?;
        let mut rows = statement.query([])?;
        let mut read = 0u32;
        // Cut at the last separator and compared as strings: a new process does this for
        // every file it knows before it follows changes, and `Path`'s component-wise
        // parsing and ordering made it most of a one-shot command's CPU at 100k files.
        let mut folders: Vec<String> = Vec::new();
        while let Some(row) = rows.next()? {
            read = read.wrapping_add(1);
            if read.is_multiple_of(1024) && stop() {
                break;
            }
            let Ok(path) = row.get_ref(0)?.as_str() else {
                continue;
            };
            let folder = match path.rsplit_once(std::path::MAIN_SEPARATOR) {
                Some((folder, _)) if folder.contains(std::path::MAIN_SEPARATOR) => folder,
                // Right under the file system's root (`/a`, `C:\\a`): the root, as `Path` says.
                _ => match Path::new(path).parent().and_then(Path::to_str) {
                    Some(folder) => folder,
                    None => continue,
                },
            };
            // In the order the walks wrote them, a folder's files mostly come together.
            if folders.last().is_none_or(|last| last != folder) {
                folders.push(folder.to_owned());
            }
        }
        folders.sort_unstable();
        folders.dedup();
        Ok(folders.into_iter().map(std::path::PathBuf::from).collect())
    }

    /// Record that a complete scan of `scope` has just been applied (committing it with
    /// whatever the run left open).
    pub fn mark_scanned(&mut self, scope: &str, at: i64) -> rusqlite::Result<()> {
        self.begin()?;
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('scope', ?1), ('scanned_at', ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![scope, at.to_string()],
        )?;
        self.commit()
    }

    fn begin(&mut self) -> rusqlite::Result<()> {
        if self.open_since.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.open_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Commit what is written so far, so searches see it.
    pub fn commit(&mut self) -> rusqlite::Result<()> {
        if self.open_since.take().is_some() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// What must change for the index to match `files`, a complete walk of everything under
    /// `scope` (an absolute path; `None`: of every root).
    pub fn plan(&self, files: Vec<FileEntry>, scope: Option<&str>) -> rusqlite::Result<Plan> {
        let mut known = self.known(scope, &|| false)?.unwrap_or_default();
        let total = files.len();
        let todo = files.into_iter().filter(|f| known.changed(f)).collect();
        Ok(Plan {
            files: total,
            todo,
            gone: known.gone(),
        })
    }

    /// The rows under `scope` (a folder's path; `None` for everything), for a walk to be
    /// compared against as it goes ([`Known::changed`]); `None` when `stop` said so first.
    pub fn known(
        &self,
        scope: Option<&str>,
        stop: &dyn Fn() -> bool,
    ) -> rusqlite::Result<Option<Known>> {
        let scope = scope.map(|s| s.trim_end_matches('/'));
        // Sized from the table when it is everything; a folder's rows are few.
        let count = match scope {
            None => self
                .conn
                .query_row("SELECT count(*) FROM files", [], |r| r.get::<_, i64>(0))?,
            Some(_) => 0,
        };
        let mut stmt = self.conn.prepare(
            "SELECT id, path, size, mtime_ns FROM files
             WHERE ?1 IS NULL OR path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
        )?;
        Known::read(
            stmt.query([scope])?,
            usize::try_from(count).unwrap_or(0),
            stop,
        )
    }

    /// Carry out `plan`: drop what is gone, then (re)read and write what changed, the reading
    /// on a thread of its own so it overlaps the writing. Stops between batches when
    /// `hooks.stop` says so, committing what it wrote.
    pub fn run(
        &mut self,
        plan: Plan,
        roots: &[Root],
        max_file_size: u64,
        hooks: &mut Hooks<'_>,
    ) -> rusqlite::Result<SyncStats> {
        let mut stats = SyncStats {
            files: plan.files,
            removed: plan.gone.len(),
            ..SyncStats::default()
        };
        if !plan.gone.is_empty() {
            self.begin()?;
            self.drop_gone(&plan.gone)?;
            self.commit()?;
        }
        let total = plan.todo.len();
        if total == 0 {
            return Ok(stats);
        }
        let (send, receive) = mpsc::sync_channel::<Vec<Loaded>>(2);
        let result = std::thread::scope(|scope| {
            let todo = plan.todo;
            scope.spawn(move || {
                // Without a tokenizer the writer tokenizes, as FTS5 always does.
                let mut tokenizer = Tokenizer::new().ok();
                let mut batch = Vec::new();
                let mut bytes = 0;
                for entry in todo {
                    let mut loaded = load(entry, roots, max_file_size);
                    if let Some(tokenizer) = tokenizer.as_mut().filter(|_| !loaded.body.is_empty())
                    {
                        loaded.tokens = tokenizer.tokenize(&loaded.body);
                    }
                    bytes += loaded.body.len() + loaded.tokens.as_ref().map_or(0, Tokens::bytes);
                    batch.push(loaded);
                    if batch.len() >= BATCH || bytes >= READ_AHEAD_BYTES / 2 {
                        bytes = 0;
                        if send.send(std::mem::take(&mut batch)).is_err() {
                            return;
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = send.send(batch);
                }
            });
            let mut written = || -> rusqlite::Result<()> {
                for batch in &receive {
                    if (hooks.stop)() {
                        stats.cancelled = true;
                        break;
                    }
                    self.begin()?;
                    stats.unreadable += self.write_loaded(&batch)?;
                    stats.indexed += batch.len();
                    if self
                        .open_since
                        .is_some_and(|at| at.elapsed() >= COMMIT_EVERY)
                    {
                        self.commit()?;
                    }
                    (hooks.report)(stats.indexed, total);
                    (hooks.between)(self)?;
                }
                Ok(())
            };
            let outcome = written();
            // Dropping the receiver stops the reading thread at its next batch.
            drop(receive);
            outcome
        });
        let committed = self.commit();
        result?;
        committed?;
        if stats.indexed < total {
            stats.cancelled = true;
        }
        Ok(stats)
    }

    /// Plan and run in one go, to the end: a whole walk applied (the tests' and benchmarks'
    /// way; the connector's upkeep plans and runs itself, see [`crate::indexer`]).
    pub fn sync(
        &mut self,
        files: Vec<FileEntry>,
        roots: &[Root],
        max_file_size: u64,
        hooks: &mut Hooks<'_>,
    ) -> rusqlite::Result<SyncStats> {
        let plan = self.plan(files, None)?;
        self.run(plan, roots, max_file_size, hooks)
    }

    /// Write read files into the open transaction; returns how many could not be read (they
    /// are indexed by name only).
    fn write_loaded(&self, batch: &[Loaded]) -> rusqlite::Result<usize> {
        // Plain statements only, no upsert and no `RETURNING`: a statement SQLite may have to
        // undo on its own opens a savepoint, and FTS5 writes out its pending terms at every
        // savepoint, so an upsert per file made every file a segment of its own (two thirds
        // of a first build's time went to those flushes).
        let mut existing = self
            .conn
            .prepare_cached("SELECT id FROM files WHERE path = ?1")?;
        let mut update = self.conn.prepare_cached(
            "UPDATE files SET name = ?2, size = ?3, mtime_ns = ?4, kind = ?5 WHERE id = ?1",
        )?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO files (path, name, size, mtime_ns, kind) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut drop_doc = self
            .conn
            .prepare_cached("DELETE FROM docs WHERE rowid = ?1")?;
        let mut add_doc = self
            .conn
            .prepare_cached("INSERT INTO docs (rowid, path, name, body) VALUES (?1, ?2, ?3, ?4)")?;
        let mut forget = self
            .conn
            .prepare_cached("DELETE FROM files WHERE id = ?1")?;
        let mut unreadable = 0;
        for file in batch {
            let known: Option<i64> = existing
                .query_row([&file.entry.path], |r| r.get(0))
                .optional()?;
            if file.kind == GONE {
                if let Some(id) = known {
                    forget.execute([id])?;
                    drop_doc.execute([id])?;
                }
                continue;
            }
            let name = crate::paths::display_name(Path::new(&file.entry.path));
            let size = i64::try_from(file.entry.size).unwrap_or(i64::MAX);
            let id = match known {
                Some(id) => {
                    update.execute(params![id, name, size, file.entry.mtime_ns, file.kind])?;
                    drop_doc.execute([id])?;
                    id
                }
                None => {
                    insert.execute(params![
                        file.entry.path,
                        name,
                        size,
                        file.entry.mtime_ns,
                        file.kind
                    ])?;
                    self.conn.last_insert_rowid()
                }
            };
            let row = params![id, file.entry.path, name_terms(&name), file.body];
            match &file.tokens {
                Some(tokens) => tokens::with_tokens(&file.body, tokens, || add_doc.execute(row)),
                None => add_doc.execute(row),
            }?;
            unreadable += usize::from(file.kind == "unreadable");
        }
        Ok(unreadable)
    }

    /// Drop the rows of `gone` that still hold the path they were read with: a walk compares
    /// against rows read before it began, and changes applied while it ran may have removed
    /// such a row and given its id to a file written since.
    fn drop_gone(&self, gone: &[(i64, Box<str>)]) -> rusqlite::Result<()> {
        let mut still = self
            .conn
            .prepare_cached("SELECT 1 FROM files WHERE id = ?1 AND path = ?2")?;
        let mut ids = Vec::with_capacity(gone.len());
        for (id, path) in gone {
            if still.exists(params![id, &**path])? {
                ids.push(*id);
            }
        }
        self.drop_rows(&ids)
    }

    fn drop_rows(&self, ids: &[i64]) -> rusqlite::Result<()> {
        let mut drop_doc = self
            .conn
            .prepare_cached("DELETE FROM docs WHERE rowid = ?1")?;
        let mut drop_file = self
            .conn
            .prepare_cached("DELETE FROM files WHERE id = ?1")?;
        for id in ids {
            drop_doc.execute([id])?;
            drop_file.execute([id])?;
        }
        Ok(())
    }

    /// (Re)index the given files now and commit, whatever the index thinks of their version:
    /// the write tools and the watcher call this for files just written, so a rewrite within
    /// the file system's mtime resolution is not missed.
    pub fn upsert(
        &mut self,
        files: Vec<FileEntry>,
        roots: &[Root],
        max_file_size: u64,
    ) -> rusqlite::Result<()> {
        let loaded: Vec<Loaded> = files
            .into_iter()
            .map(|f| load(f, roots, max_file_size))
            .collect();
        self.begin()?;
        self.write_loaded(&loaded)?;
        self.commit()
    }

    /// Drop the rows of `path` and of everything under it (a deleted or moved file or folder)
    /// and commit; returns how many were dropped.
    pub fn remove_under(&mut self, path: &str) -> rusqlite::Result<usize> {
        let path = path.trim_end_matches('/');
        let ids: Vec<i64> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM files
                 WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
            )?;
            stmt.query_map([path], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        if ids.is_empty() {
            return Ok(0);
        }
        self.begin()?;
        self.drop_rows(&ids)?;
        self.commit()?;
        Ok(ids.len())
    }

    /// Let the index give back memory it holds between runs: SQLite's page cache, then the
    /// heap pages a large build left free (see [`trim_heap`]).
    pub fn release_memory(&self) {
        // Best effort: a failure only means the memory stays held a while longer.
        let _ = self.conn.execute_batch("PRAGMA shrink_memory");
        trim_heap();
    }
}

/// Hand free heap pages back to the system. A first build allocates and frees hundreds of
/// megabytes of text and FTS5 buffers on two threads; glibc keeps what was freed in its
/// per-thread arenas, so a process that built its index once stayed 40–50 MB larger for good.
/// `malloc_trim` returns those pages (every arena, not just the top of the main heap).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and may be called at any time from any
        // thread; glibc serialises it with its allocator.
        unsafe {
            malloc_trim(0);
        }
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        // A run stopped by an error may leave its transaction open; keep what it wrote.
        let _ = self.commit();
    }
}
