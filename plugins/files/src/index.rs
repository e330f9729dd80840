//! The search index: a SQLite file of its own (`index.sqlite` in the plugin's data folder)
//! holding one row per file and an FTS5 table of names and contents.
//!
//! Schema:
//!
//! * `files(id INTEGER PRIMARY KEY, path TEXT UNIQUE, name, root, size, mtime_ns, indexed,
//!   kind)` — what was indexed and from which version of the file (`size`, `mtime_ns`), when
//!   (`indexed`, Unix seconds) and as what (`kind`: text, truncated, binary, unreadable). The
//!   integer `id` is the rowid of the file's FTS row, so a changed or vanished file's text is
//!   replaced or deleted by rowid; `path` is unique all the same.
//! * `docs` — FTS5 over `path`, `name` and `body`, tokenized by `unicode61` with `_` as a token
//!   character (so `snake_case` identifiers stay whole) and diacritics folded. The name column
//!   also carries the name split into words (`MyNotes_v2.txt` adds `My Notes v2 txt`), so both
//!   the identifier and its parts match.
//! * `meta` — schema version and the size cap the bodies were cut at; when either differs from
//!   what the connector runs with, the index is rebuilt.
//!
//! Keeping current is by modification time: [`Index::sync`] takes a fresh walk, re-reads only
//! files whose size or mtime changed, and drops rows of files that are gone. It writes in
//! batches of a few hundred files, reports progress after each, commits about once a second,
//! and stops cleanly (committing what it wrote) when the request is cancelled. Between walks,
//! the write tools' changes are applied directly: [`Index::upsert`] re-reads given files and
//! [`Index::remove_under`] drops a path and everything under it.
//!
//! Ranking is FTS5's `bm25` with the name weighted well above the path and the body; queries
//! that look like file names also match names directly and come first.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::content::{self, Contents};
use crate::paths::Root;
use crate::query::{NameQuery, match_expression, name_query};
use crate::scan::FileEntry;

/// Bumped whenever the tables or the tokenizer change; an index of another version is rebuilt.
const SCHEMA_VERSION: &str = "1";

/// Files written between progress reports and cancellation checks.
const BATCH: usize = 256;

/// How long one transaction of a sync may stay open before it is committed. Each commit
/// flushes FTS5's pending terms into a new segment that later merges must fold in again, so
/// committing every batch spent most of a large build in flushes and merges; a commit about
/// once a second keeps that cost small while a cancelled or budget-limited run still keeps
/// what it wrote (it commits before it stops).
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// FTS5's `rank` with the weights of the FTS columns (path, name, body) for `bm25`. Searches
/// order by `rank` rather than by a `bm25()` expression: FTS5 then sorts the matches by score
/// itself, and `snippet()` is computed only for the rows returned, not for every match (for a
/// common word, building every match's snippet before sorting was most of the query's time).
const RANK: &str = "bm25(2.0, 10.0, 1.0)";

/// Tokens of context in a snippet.
const SNIPPET_TOKENS: i64 = 12;

/// Characters of a file's beginning shown when a hit has no snippet of its own.
const LEAD_CHARS: usize = 160;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    root TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    indexed INTEGER NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_name ON files (name COLLATE NOCASE);
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5 (
    path, name, body,
    tokenize = \"unicode61 remove_diacritics 2 tokenchars '_'\"
);
";

/// How an index run reports to the request that triggered it.
pub struct Progress<'a> {
    /// Called after each batch with (files done, files to do).
    pub report: &'a dyn Fn(usize, usize),
    /// Polled between batches; `true` stops the run.
    pub cancelled: &'a dyn Fn() -> bool,
}

/// What a sync did.
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

/// A search, as the index sees it.
#[derive(Clone, Debug)]
pub struct Query<'a> {
    /// What was typed.
    pub text: &'a str,
    /// Most hits wanted.
    pub limit: usize,
    /// Only files at or under this absolute path.
    pub path_prefix: Option<&'a str>,
}

/// One hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Absolute path.
    pub path: String,
    /// File name.
    pub name: String,
    /// Size in bytes when indexed.
    pub size: u64,
    /// Text around the match, the match marked with « ».
    pub snippet: Option<String>,
    /// Relevance, higher is better.
    pub score: f64,
}

/// The open index.
pub struct Index {
    conn: Connection,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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

/// Read and (re)write the rows of `batch` inside `tx`; returns how many could not be read
/// (they are indexed by name only).
fn write_files(
    tx: &rusqlite::Transaction<'_>,
    batch: &[&FileEntry],
    roots: &[Root],
    max_file_size: u64,
    indexed_at: i64,
) -> rusqlite::Result<usize> {
    let mut unreadable = 0;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO files (path, name, root, size, mtime_ns, indexed, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (path) DO UPDATE SET name = excluded.name,
                root = excluded.root, size = excluded.size,
                mtime_ns = excluded.mtime_ns, indexed = excluded.indexed,
                kind = excluded.kind
             RETURNING id",
        )?;
        let mut drop_doc = tx.prepare_cached("DELETE FROM docs WHERE rowid = ?1")?;
        let mut add_doc = tx
            .prepare_cached("INSERT INTO docs (rowid, path, name, body) VALUES (?1, ?2, ?3, ?4)")?;
        for file in batch {
            let path = Path::new(&file.path);
            let name = crate::paths::display_name(path);
            let root = roots.get(file.root);
            let opened = match root.and_then(|r| path.strip_prefix(&r.path).ok().zip(Some(r))) {
                Some((rel, root)) => root.dir.read_file(rel),
                None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            };
            let (kind, body) = match opened.and_then(|f| content::read_capped(f, max_file_size)) {
                Ok(Contents::Text {
                    text,
                    truncated: false,
                }) => ("text", text),
                Ok(Contents::Text {
                    text,
                    truncated: true,
                }) => ("truncated", text),
                Ok(Contents::Binary) => ("binary", String::new()),
                Err(_) => {
                    unreadable += 1;
                    ("unreadable", String::new())
                }
            };
            let root = root
                .map(|r| r.path.display().to_string())
                .unwrap_or_default();
            let size = i64::try_from(file.size).unwrap_or(i64::MAX);
            let id: i64 = upsert.query_row(
                params![file.path, name, root, size, file.mtime_ns, indexed_at, kind],
                |r| r.get(0),
            )?;
            drop_doc.execute([id])?;
            add_doc.execute(params![id, file.path, name_terms(&name), body])?;
        }
    }
    Ok(unreadable)
}

/// The full-text query: `?1` the match expression, `?2` the path prefix or NULL, `?3` the
/// limit.
fn text_query_sql() -> String {
    format!(
        "SELECT f.path, f.name, f.size,
                snippet(docs, 2, '«', '»', '…', {SNIPPET_TOKENS}), docs.rank
         FROM docs JOIN files f ON f.id = docs.rowid
         WHERE docs MATCH ?1 AND docs.rank MATCH '{RANK}'
           AND (?2 IS NULL OR f.path = ?2 OR substr(f.path, 1, length(?2) + 1) = ?2 || '/')
         ORDER BY docs.rank LIMIT ?3"
    )
}

/// Collapse runs of whitespace so a snippet reads as one line.
/// A full-text hit from a row of (path, name, size, snippet, bm25 score); bm25 is lower
/// for better matches, so the score is its negation.
fn text_hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<Hit> {
    Ok(Hit {
        path: r.get(0)?,
        name: r.get(1)?,
        size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        snippet: r
            .get::<_, Option<String>>(3)?
            .map(|s| one_line(&s))
            .filter(|s| !s.is_empty()),
        score: -r.get::<_, f64>(4)?,
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The beginning of a text, on one line, at most [`LEAD_CHARS`] characters.
fn lead(text: &str) -> Option<String> {
    let line = one_line(text);
    if line.is_empty() {
        return None;
    }
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(LEAD_CHARS).collect();
    Some(if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    })
}

impl Index {
    /// Open (or create) the index at `path`. An index built with another schema version or
    /// another size cap is emptied, and a file that is not a sound SQLite database is deleted:
    /// either way the next sync rebuilds it. The index is a cache of the files, never the only
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

    fn open_as_is(path: &Path, max_file_size: u64) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 32 MiB of page cache (negative = KiB): FTS segment merges during a big first index
        // touch many pages.
        conn.pragma_update(None, "cache_size", -32 * 1024)?;

        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if version.as_deref().is_some_and(|v| v != SCHEMA_VERSION) {
            conn.execute_batch("DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS files;")?;
        }
        conn.execute_batch(SCHEMA)?;
        let cap = max_file_size.to_string();
        let stored_cap: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'max_file_size'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if stored_cap.as_deref() != Some(cap.as_str()) {
            conn.execute_batch("DELETE FROM docs; DELETE FROM files;")?;
        }
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('max_file_size', ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![SCHEMA_VERSION, cap],
        )?;
        Ok(Self { conn })
    }

    /// How many files the index holds.
    pub fn file_count(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM files", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Bring the index in line with a complete walk: `files` is everything that exists now,
    /// `roots` the roots their `root` indexes point into (each file is read beneath its root),
    /// `max_file_size` is the cap.
    pub fn sync(
        &mut self,
        files: &[FileEntry],
        roots: &[Root],
        max_file_size: u64,
        progress: &Progress<'_>,
    ) -> rusqlite::Result<SyncStats> {
        let mut stats = SyncStats {
            files: files.len(),
            ..SyncStats::default()
        };

        // What the index holds now: path -> (id, size, mtime).
        let mut known: HashMap<String, (i64, i64, i64)> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, path, size, mtime_ns FROM files")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(1)?, (r.get(0)?, r.get(2)?, r.get(3)?)))
            })?;
            for row in rows {
                let (path, version) = row?;
                known.insert(path, version);
            }
        }
        let mut todo: Vec<&FileEntry> = Vec::new();
        for file in files {
            let size = i64::try_from(file.size).unwrap_or(i64::MAX);
            match known.remove(&file.path) {
                Some((_, s, m)) if s == size && m == file.mtime_ns => {}
                _ => todo.push(file),
            }
        }

        // Whatever was not walked is gone.
        if !known.is_empty() {
            let tx = self.conn.transaction()?;
            {
                let mut drop_doc = tx.prepare_cached("DELETE FROM docs WHERE rowid = ?1")?;
                let mut drop_file = tx.prepare_cached("DELETE FROM files WHERE id = ?1")?;
                for (id, _, _) in known.values() {
                    drop_doc.execute([id])?;
                    drop_file.execute([id])?;
                }
            }
            tx.commit()?;
            stats.removed = known.len();
        }

        let total = todo.len();
        let indexed_at = now_unix();
        let mut batches = todo.chunks(BATCH).peekable();
        while batches.peek().is_some() {
            let tx = self.conn.transaction()?;
            let opened = Instant::now();
            while let Some(batch) = batches.next_if(|_| opened.elapsed() < COMMIT_EVERY) {
                if (progress.cancelled)() {
                    stats.cancelled = true;
                    break;
                }
                stats.unreadable += write_files(&tx, batch, roots, max_file_size, indexed_at)?;
                stats.indexed += batch.len();
                (progress.report)(stats.indexed, total);
            }
            tx.commit()?;
            if stats.cancelled {
                break;
            }
        }
        Ok(stats)
    }

    /// Read and (re)write the rows of `batch` in one transaction; returns how many could not
    /// be read (they are indexed by name only).
    fn write_batch(
        &mut self,
        batch: &[&FileEntry],
        roots: &[Root],
        max_file_size: u64,
        indexed_at: i64,
    ) -> rusqlite::Result<usize> {
        let tx = self.conn.transaction()?;
        let unreadable = write_files(&tx, batch, roots, max_file_size, indexed_at)?;
        tx.commit()?;
        Ok(unreadable)
    }

    /// (Re)index the given files now, whatever the index thinks of their version: the write
    /// tools call this for a file they just wrote, so a rewrite within the file system's mtime
    /// resolution is not missed.
    pub fn upsert(
        &mut self,
        files: &[FileEntry],
        roots: &[Root],
        max_file_size: u64,
    ) -> rusqlite::Result<()> {
        let batch: Vec<&FileEntry> = files.iter().collect();
        self.write_batch(&batch, roots, max_file_size, now_unix())
            .map(|_| ())
    }

    /// Drop the rows of `path` and of everything under it (a deleted or moved file or folder);
    /// returns how many were dropped.
    pub fn remove_under(&mut self, path: &str) -> rusqlite::Result<usize> {
        let path = path.trim_end_matches('/');
        let tx = self.conn.transaction()?;
        let ids: Vec<i64> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM files
                 WHERE path = ?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/'",
            )?;
            stmt.query_map([path], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        {
            let mut drop_doc = tx.prepare_cached("DELETE FROM docs WHERE rowid = ?1")?;
            let mut drop_file = tx.prepare_cached("DELETE FROM files WHERE id = ?1")?;
            for id in &ids {
                drop_doc.execute([id])?;
                drop_file.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(ids.len())
    }

    /// Search names and contents. Hits whose name matches a file-name-like query come first,
    /// then full-text hits by rank; no path appears twice.
    pub fn search(&self, query: &Query<'_>) -> rusqlite::Result<Vec<Hit>> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let prefix = query.path_prefix.map(|p| p.trim_end_matches('/'));

        let text_hits = match match_expression(query.text) {
            Some(expr) => self.text_hits(&expr, prefix, limit)?,
            None => Vec::new(),
        };

        let mut name_hits: Vec<(i64, Hit)> = Vec::new();
        if let Some(name_query) = name_query(query.text) {
            let (condition, value) = match name_query {
                NameQuery::Name(name) => ("f.name = ?1 COLLATE NOCASE", name),
                NameQuery::PathSuffix(tail) => ("substr(lower(f.path), -length(?1)) = ?1", tail),
                NameQuery::Glob(glob) if glob.contains('/') => {
                    ("lower(f.path) GLOB ('*/' || ?1)", glob)
                }
                NameQuery::Glob(glob) => ("lower(f.name) GLOB ?1", glob),
            };
            let sql = format!(
                "SELECT f.id, f.path, f.name, f.size FROM files f
                 WHERE {condition}
                   AND (?2 IS NULL OR f.path = ?2 OR substr(f.path, 1, length(?2) + 1) = ?2 || '/')
                 ORDER BY length(f.path), f.path LIMIT ?3"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![value, prefix, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    Hit {
                        path: r.get(1)?,
                        name: r.get(2)?,
                        size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                        snippet: None,
                        score: 0.0,
                    },
                ))
            })?;
            for row in rows {
                name_hits.push(row?);
            }
        }

        // Name hits rank above every text hit, in their own order.
        let top = text_hits.iter().map(|h| h.score).fold(0.0_f64, f64::max);
        let count = name_hits.len();
        let mut merged: Vec<Hit> = Vec::with_capacity(count + text_hits.len());
        let mut seen: HashSet<String> = HashSet::new();
        for (rank, (id, mut hit)) in name_hits.into_iter().enumerate() {
            hit.score = top + 1.0 + (count - rank) as f64;
            hit.snippet = match text_hits.iter().find(|t| t.path == hit.path) {
                Some(text) => text.snippet.clone(),
                None => self.lead_of(id)?,
            };
            seen.insert(hit.path.clone());
            merged.push(hit);
        }
        for hit in text_hits {
            if seen.insert(hit.path.clone()) {
                merged.push(hit);
            }
        }
        merged.truncate(query.limit);
        Ok(merged)
    }

    /// Full-text hits for an FTS5 match expression, best first, at most `limit`, under
    /// `prefix` when given. Ordered by FTS5's `rank` (see [`RANK`]) so that snippets are made
    /// for the returned rows only.
    fn text_hits(
        &self,
        expr: &str,
        prefix: Option<&str>,
        limit: i64,
    ) -> rusqlite::Result<Vec<Hit>> {
        let mut text_hits: Vec<Hit> = Vec::new();
        let mut stmt = self.conn.prepare_cached(&text_query_sql())?;
        let rows = stmt.query_map(params![expr, prefix, limit], text_hit)?;
        for row in rows {
            text_hits.push(row?);
        }
        Ok(text_hits)
    }

    /// The beginning of a file's indexed text.
    fn lead_of(&self, id: i64) -> rusqlite::Result<Option<String>> {
        let head: Option<String> = self
            .conn
            .prepare_cached("SELECT substr(body, 1, ?2) FROM docs WHERE rowid = ?1")?
            .query_row(params![id, (LEAD_CHARS * 2) as i64], |r| r.get(0))
            .optional()?;
        Ok(head.as_deref().and_then(lead))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::paths::Roots;
    use crate::scan;
    use std::cell::Cell;
    use std::fs;
    use std::path::PathBuf;

    struct Fixture {
        dir: tempfile::TempDir,
        root: PathBuf,
        roots: Roots,
        index: Index,
    }

    impl Fixture {
        fn new(max_file_size: u64) -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let root = fs::canonicalize(dir.path())
                .expect("canonical")
                .join("root");
            fs::create_dir_all(&root).expect("mkdir");
            let config = Config {
                roots: vec![root.display().to_string()],
                max_file_size,
                ..Config::default()
            };
            let (roots, _) = Roots::new(&config, None).expect("roots");
            let index = Index::open(&dir.path().join("index.sqlite"), max_file_size).expect("open");
            Self {
                dir,
                root,
                roots,
                index,
            }
        }

        fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
            let path = self.root.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("mkdir");
            }
            fs::write(path, contents).expect("write");
        }

        fn sync_with(&mut self, max: u64, progress: &Progress<'_>) -> SyncStats {
            let walk = scan::walk(self.roots.roots(), self.roots.filter(), None, &|| false);
            self.index
                .sync(&walk.files, self.roots.roots(), max, progress)
                .expect("sync")
        }

        fn sync(&mut self) -> SyncStats {
            self.sync_with(
                1 << 20,
                &Progress {
                    report: &|_, _| {},
                    cancelled: &|| false,
                },
            )
        }

        fn find(&self, text: &str) -> Vec<String> {
            self.index
                .search(&Query {
                    text,
                    limit: 10,
                    path_prefix: None,
                })
                .expect("search")
                .into_iter()
                .map(|h| {
                    Path::new(&h.path)
                        .strip_prefix(&self.root)
                        .expect("under root")
                        .display()
                        .to_string()
                })
                .collect()
        }
    }

    #[test]
    fn round_trip_reindex_and_removal() {
        let mut fx = Fixture::new(1 << 20);
        fx.write("notes/groceries.md", "Buy oat milk and sourdough bread.");
        fx.write("src/main.rs", "fn main() { let parse_config = 1; }");
        fx.write("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 sourdough");
        fx.write(".hidden/secret.txt", "sourdough secret");

        let first = fx.sync();
        assert_eq!(
            first,
            SyncStats {
                files: 3,
                indexed: 3,
                ..SyncStats::default()
            }
        );
        assert_eq!(fx.index.file_count().expect("len"), 3);
        assert_eq!(fx.find("sourdough"), vec!["notes/groceries.md"]);
        assert_eq!(fx.find("parse_config"), vec!["src/main.rs"]);
        assert_eq!(fx.find("groceries"), vec!["notes/groceries.md"]);
        assert_eq!(fx.find("photo"), vec!["photo.jpg"]);
        assert_eq!(fx.find("main.rs"), vec!["src/main.rs"]);
        assert_eq!(fx.find("src/main.rs"), vec!["src/main.rs"]);
        assert_eq!(fx.find("*.JPG"), vec!["photo.jpg"]);
        assert!(fx.find("secret").is_empty());

        // Nothing changed: nothing re-read.
        let again = fx.sync();
        assert_eq!((again.indexed, again.removed), (0, 0));

        // A changed file is re-read (the mtime is moved explicitly so the test does not depend
        // on the file system's timestamp resolution).
        let path = fx.root.join("notes/groceries.md");
        fs::write(&path, "Buy rye bread.").expect("rewrite");
        let later = SystemTime::now() + Duration::from_secs(5);
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(later))
            .expect("set mtime");
        let changed = fx.sync();
        assert_eq!((changed.indexed, changed.removed), (1, 0));
        assert!(fx.find("sourdough").is_empty());
        assert_eq!(fx.find("rye"), vec!["notes/groceries.md"]);
        assert_eq!(fx.index.file_count().expect("len"), 3);

        // A deleted file disappears.
        fs::remove_file(fx.root.join("src/main.rs")).expect("remove");
        let removed = fx.sync();
        assert_eq!((removed.indexed, removed.removed), (0, 1));
        assert!(fx.find("parse_config").is_empty());
        assert_eq!(fx.index.file_count().expect("len"), 2);

        // A damaged index file is replaced, not fatal.
        let junk = fx.dir.path().join("junk.sqlite");
        fs::write(&junk, vec![b'x'; 4096]).expect("write junk");
        let rebuilt = Index::open(&junk, 1 << 20).expect("rebuilt");
        assert_eq!(rebuilt.file_count().expect("len"), 0);

        // Reopening keeps the index.
        let reopened = Index::open(&fx.dir.path().join("index.sqlite"), 1 << 20).expect("open");
        assert_eq!(reopened.file_count().expect("len"), 2);
        // Another size cap empties it for a rebuild.
        let recapped = Index::open(&fx.dir.path().join("index.sqlite"), 10).expect("open");
        assert_eq!(recapped.file_count().expect("len"), 0);
    }

    #[test]
    fn snippets_ranking_prefix_and_limits() {
        let mut fx = Fixture::new(1 << 20);
        fx.write(
            "a/essay.txt",
            "Once upon a time there was a lighthouse keeper who kept a very careful logbook \
             of every ship that passed, and the lighthouse stood for a hundred years.",
        );
        fx.write("b/lighthouse.txt", "A short note.");
        fx.write("b/other.txt", "lighthouse mentioned once");
        fx.sync();

        let hits = fx
            .index
            .search(&Query {
                text: "lighthouse",
                limit: 10,
                path_prefix: None,
            })
            .expect("search");
        assert_eq!(hits.len(), 3);
        // The name match outranks body matches.
        assert!(hits[0].path.ends_with("b/lighthouse.txt"), "{hits:?}");
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "{hits:?}"
        );
        let essay = hits
            .iter()
            .find(|h| h.path.ends_with("essay.txt"))
            .expect("essay");
        let snippet = essay.snippet.as_deref().expect("snippet");
        assert!(snippet.contains("«lighthouse»"), "{snippet}");

        // Prefix on the last word.
        assert_eq!(fx.find("logb").len(), 1);
        // Words are ANDed.
        assert_eq!(fx.find("lighthouse keeper"), vec!["a/essay.txt"]);
        // Limit and path prefix.
        let limited = fx
            .index
            .search(&Query {
                text: "lighthouse",
                limit: 1,
                path_prefix: None,
            })
            .expect("search");
        assert_eq!(limited.len(), 1);
        let prefix = format!("{}/", fx.root.join("a").display());
        let under_a = fx
            .index
            .search(&Query {
                text: "lighthouse",
                limit: 10,
                path_prefix: Some(&prefix),
            })
            .expect("search");
        assert_eq!(under_a.len(), 1);
        assert!(under_a[0].path.ends_with("a/essay.txt"));
        // A sibling folder sharing the prefix's spelling does not count as under it.
        let not_a_folder = format!("{}", fx.root.join("b/light").display());
        let none = fx
            .index
            .search(&Query {
                text: "lighthouse",
                limit: 10,
                path_prefix: Some(&not_a_folder),
            })
            .expect("search");
        assert!(none.is_empty(), "{none:?}");
        // Punctuation-only and hostile queries are harmless.
        assert!(fx.find("\"*-:").is_empty());
        assert!(fx.find("NEAR(\"a\" b) OR c*").is_empty());
    }

    #[test]
    fn large_files_are_cut_and_searchable_up_to_the_cap() {
        let mut fx = Fixture::new(64);
        let mut text = "alpha ".repeat(10); // 60 bytes
        text.push_str("omega");
        fx.write("big.txt", &text);
        let stats = fx.sync_with(
            64,
            &Progress {
                report: &|_, _| {},
                cancelled: &|| false,
            },
        );
        assert_eq!(stats.indexed, 1);
        assert_eq!(fx.find("alpha"), vec!["big.txt"]);
        assert!(fx.find("omega").is_empty());
    }

    #[test]
    fn cancelled_runs_keep_their_work_and_resume() {
        let mut fx = Fixture::new(1 << 20);
        for i in 0..(BATCH * 2 + 10) {
            fx.write(&format!("f/{i}.txt"), format!("word{i} common"));
        }
        let batches = Cell::new(0usize);
        let stats = fx.sync_with(
            1 << 20,
            &Progress {
                report: &|done, total| {
                    assert_eq!(total, BATCH * 2 + 10);
                    assert!(done <= total);
                    batches.set(batches.get() + 1);
                },
                cancelled: &|| batches.get() >= 1,
            },
        );
        assert!(stats.cancelled);
        assert_eq!(stats.indexed, BATCH);
        assert_eq!(fx.index.file_count().expect("len"), BATCH as u64);
        let rest = fx.sync();
        assert!(!rest.cancelled);
        assert_eq!(rest.indexed, BATCH + 10);
        assert_eq!(fx.index.file_count().expect("len"), (BATCH * 2 + 10) as u64);
    }

    #[test]
    fn name_terms_split_compounds() {
        assert_eq!(name_terms("notes.md"), "notes.md notes md");
        assert_eq!(
            name_terms("MyNotes_v2.txt"),
            "MyNotes_v2.txt My Notes v2 txt"
        );
        assert_eq!(name_terms("file_123"), "file_123 file 123");
        assert_eq!(name_terms("README"), "README");
        assert_eq!(name_terms("..."), "...");
    }

    /// Index time for a real folder named by `FILES_BENCH_ROOT`, with the default rules. Run
    /// with `FILES_BENCH_ROOT=~/src cargo test --release -p switchboard-files -- --ignored
    /// --nocapture index_real_folder`.
    #[test]
    #[ignore = "benchmark"]
    fn index_real_folder() {
        let Some(folder) = std::env::var_os("FILES_BENCH_ROOT") else {
            eprintln!("FILES_BENCH_ROOT is not set; nothing to measure");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            roots: vec![folder.to_string_lossy().into_owned()],
            ..Config::default()
        };
        let (roots, _) = Roots::new(&config, crate::config::home_dir().as_deref()).expect("roots");
        let mut index =
            Index::open(&dir.path().join("index.sqlite"), config.max_file_size).expect("open");
        let names = roots.roots();
        let quiet = Progress {
            report: &|_, _| {},
            cancelled: &|| false,
        };
        let start = std::time::Instant::now();
        let walk = scan::walk(roots.roots(), roots.filter(), None, &|| false);
        let walked = start.elapsed();
        let stats = index
            .sync(&walk.files, names, config.max_file_size, &quiet)
            .expect("sync");
        let total = start.elapsed();
        let again = std::time::Instant::now();
        let walk = scan::walk(roots.roots(), roots.filter(), None, &|| false);
        let rescan = index
            .sync(&walk.files, names, config.max_file_size, &quiet)
            .expect("sync");
        let rescanned = again.elapsed();
        let size = fs::metadata(dir.path().join("index.sqlite")).map_or(0, |m| m.len());
        let search = std::time::Instant::now();
        let hits = index
            .search(&Query {
                text: "fn main",
                limit: 10,
                path_prefix: None,
            })
            .expect("search");
        eprintln!(
            "{}: {} files, walk {walked:?}, walk+index {total:?} ({} skipped by the walk, \
             {} unreadable); unchanged rescan {rescanned:?} ({} re-read); index {} MiB; \
             search {:?} ({} hits)",
            folder.to_string_lossy(),
            stats.files,
            walk.skipped,
            stats.unreadable,
            rescan.indexed,
            size >> 20,
            search.elapsed(),
            hits.len()
        );
    }

    /// The text query as it was before it ordered by FTS5's `rank`: ordering by an aliased
    /// `bm25()` expression made SQLite build `snippet()` for every matching row before sorting.
    /// Kept to check that the rank-ordered query returns the same hits in the same order, and
    /// to measure the two side by side.
    fn text_hits_ordered_by_expression(index: &Index, text: &str, limit: usize) -> Vec<Hit> {
        let Some(expr) = match_expression(text) else {
            return Vec::new();
        };
        let sql = format!(
            "SELECT f.path, f.name, f.size,
                    snippet(docs, 2, '«', '»', '…', {SNIPPET_TOKENS}),
                    bm25(docs, 2.0, 10.0, 1.0) AS relevance
             FROM docs JOIN files f ON f.id = docs.rowid
             WHERE docs MATCH ?1
             ORDER BY relevance LIMIT ?2"
        );
        let mut stmt = index.conn.prepare_cached(&sql).expect("prepare");
        stmt.query_map(params![expr, limit as i64], text_hit)
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    /// Ordering by `rank` returns the hits the `bm25()`-ordered query returned, in the same
    /// order and with the same scores and snippets: name matches, names split into words,
    /// identifiers, word sequences inside a query word (`main.rs`, `well-known`), diacritics,
    /// prefixes, several words.
    #[test]
    fn rank_order_matches_the_bm25_order() {
        let mut fx = Fixture::new(1 << 20);
        fx.write("docs/lighthouse.md", "A note about nothing in particular.");
        fx.write(
            "docs/keeper.txt",
            "The lighthouse keeper kept the lighthouse lamp lit; lighthouse duty never ends.",
        );
        fx.write(
            "docs/long.txt",
            format!(
                "{} the lighthouse appears once in this long text about the sea {}",
                "filler words about ships and tides ".repeat(40),
                "more filler about harbours ".repeat(40)
            ),
        );
        fx.write(
            "src/main.rs",
            "fn main() { let parse_config = read_config(); }",
        );
        fx.write(
            "src/config.rs",
            "pub fn parse_config() -> Config { Config::default() }",
        );
        fx.write(
            "src/LighthouseMap_v2.rs",
            "// a map of every lighthouse on the coast",
        );
        fx.write(
            "notes/cafe.txt",
            "Meet at the café near the well-known lighthouse.",
        );
        fx.write(
            "notes/well.txt",
            "The well is known to be deep; known wells are few.",
        );
        fx.write(
            "notes/order.txt",
            "rs appears here and main too, far apart: rs, then main",
        );
        fx.sync();

        let queries = [
            "lighthouse",
            "Lighthouse Map",
            "parse_config",
            "main.rs",
            "well-known",
            "cafe",
            "light",
            "the lighthouse",
            "config",
            "nothing-matches-this",
        ];
        for text in queries {
            let expr = match_expression(text).expect("expression");
            let before = text_hits_ordered_by_expression(&fx.index, text, 10);
            let after = fx.index.text_hits(&expr, None, 10).expect("search");
            assert_eq!(
                after.len(),
                before.len(),
                "{text}: {after:#?} vs {before:#?}"
            );
            for (a, b) in after.iter().zip(&before) {
                assert_eq!(
                    (&a.path, &a.snippet),
                    (&b.path, &b.snippet),
                    "{text}: {after:#?} vs {before:#?}"
                );
                assert!((a.score - b.score).abs() < 1e-9, "{text}: {a:?} vs {b:?}");
            }
            // Distinct scores, so the order compared above is the ranking, not a tie's.
            assert!(
                after.windows(2).all(|w| w[0].score > w[1].score),
                "{text}: {after:#?}"
            );
        }

        // What the searches return through `search`, whole.
        let top = |text: &str| fx.find(text);
        assert_eq!(top("lighthouse")[0], "docs/lighthouse.md", "the name first");
        assert_eq!(
            top("lighthouse")[1..3],
            ["src/LighthouseMap_v2.rs", "docs/keeper.txt"],
            "then a word of a name, then the densest body"
        );
        assert_eq!(
            top("main.rs"),
            vec!["src/main.rs"],
            "the words in sequence only"
        );
        assert_eq!(top("well-known"), vec!["notes/cafe.txt"]);
        assert_eq!(top("cafe"), vec!["notes/cafe.txt"], "diacritics folded");
        assert_eq!(top("Lighthouse Map"), vec!["src/LighthouseMap_v2.rs"]);
        let hits = fx
            .index
            .search(&Query {
                text: "the lighthouse",
                limit: 10,
                path_prefix: None,
            })
            .expect("search");
        assert!(hits.len() >= 3, "{hits:?}");
        for hit in &hits {
            let snippet = hit.snippet.as_deref().expect("a snippet");
            assert!(snippet.contains('«') && snippet.contains('»'), "{snippet}");
        }
        let long = hits
            .iter()
            .find(|h| h.path.ends_with("docs/long.txt"))
            .and_then(|h| h.snippet.as_deref())
            .expect("long.txt");
        assert!(
            long.contains("«lighthouse»"),
            "the match, not the start: {long}"
        );
    }

    /// The full-text query must not sort in a temporary b-tree: SQLite computes every result
    /// column, `snippet()` included, for every row it sorts, i.e. for every match. FTS5
    /// ordering by `rank` itself is what keeps snippets to the rows returned.
    #[test]
    fn snippets_are_not_built_for_every_match() {
        let fx = Fixture::new(1 << 20);
        let mut stmt = fx
            .index
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", text_query_sql()))
            .expect("explain");
        let plan: Vec<String> = stmt
            .query_map(params!["\"word\"", None::<String>, 10], |r| r.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:#?}"
        );
        assert!(plan[0].contains("docs"), "the FTS table drives: {plan:#?}");
    }

    /// Search latency by query class over a real folder named by `FILES_BENCH_ROOT`, the
    /// rank-ordered query against the expression-ordered one in the same run. The index is
    /// kept at `FILES_BENCH_INDEX` when set (built when empty), so runs can reuse one build.
    /// Run with `FILES_BENCH_ROOT=... cargo test --release -p switchboard-files -- --ignored
    /// --nocapture search_latency_by_class`.
    #[test]
    #[ignore = "benchmark"]
    fn search_latency_by_class() {
        let Some(folder) = std::env::var_os("FILES_BENCH_ROOT") else {
            eprintln!("FILES_BENCH_ROOT is not set; nothing to measure");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let index_path = std::env::var_os("FILES_BENCH_INDEX")
            .map_or_else(|| dir.path().join("index.sqlite"), PathBuf::from);
        let config = Config {
            roots: vec![folder.to_string_lossy().into_owned()],
            ..Config::default()
        };
        let (roots, _) = Roots::new(&config, crate::config::home_dir().as_deref()).expect("roots");
        let mut index = Index::open(&index_path, config.max_file_size).expect("open");
        if index.file_count().expect("count") == 0 {
            let start = std::time::Instant::now();
            let walk = scan::walk(roots.roots(), roots.filter(), None, &|| false);
            let stats = index
                .sync(
                    &walk.files,
                    roots.roots(),
                    config.max_file_size,
                    &Progress {
                        report: &|_, _| {},
                        cancelled: &|| false,
                    },
                )
                .expect("sync");
            eprintln!("build: {} files in {:.2?}", stats.indexed, start.elapsed());
        }
        let classes: [(&str, &[&str]); 5] = [
            (
                "rare",
                &["from_str_radix", "lexer", "parse_quote", "siphasher"],
            ),
            ("none", &["zzqxjvw", "qqxxzzyy", "notawordanywhere"]),
            ("common", &["the", "fn", "use"]),
            ("one-percent", &["mutex", "backtrace", "utf8", "bitflags"]),
            (
                "two-word",
                &["error handling", "thread safe", "pub fn", "unsafe impl"],
            ),
        ];
        let rounds = 5;
        let percentile = |times: &mut Vec<f64>, p: f64| {
            times.sort_by(f64::total_cmp);
            let at = ((times.len() as f64 - 1.0) * p).round() as usize;
            times[at]
        };
        for (class, queries) in classes {
            let (mut old, mut new) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                for text in queries {
                    let t = std::time::Instant::now();
                    let before = text_hits_ordered_by_expression(&index, text, 10);
                    old.push(t.elapsed().as_secs_f64() * 1e3);
                    let t = std::time::Instant::now();
                    let after = index
                        .search(&Query {
                            text,
                            limit: 10,
                            path_prefix: None,
                        })
                        .expect("search");
                    new.push(t.elapsed().as_secs_f64() * 1e3);
                    assert_eq!(before.is_empty(), after.is_empty(), "{text}");
                }
            }
            eprintln!(
                "{class:<12} ordered by expression p50 {:>8.2} ms p95 {:>8.2} ms max {:>8.2} ms | \
                 Index::search p50 {:>8.2} ms p95 {:>8.2} ms max {:>8.2} ms",
                percentile(&mut old, 0.5),
                percentile(&mut old, 0.95),
                percentile(&mut old, 1.0),
                percentile(&mut new, 0.5),
                percentile(&mut new, 0.95),
                percentile(&mut new, 1.0),
            );
        }
    }

    /// Index time for 10k generated files. Run with
    /// `cargo test --release -p switchboard-files -- --ignored --nocapture index_10k`.
    #[test]
    #[ignore = "benchmark"]
    fn index_10k() {
        let mut fx = Fixture::new(1 << 20);
        let words = [
            "lorem",
            "ipsum",
            "dolor",
            "sit",
            "amet",
            "fn",
            "let",
            "struct",
            "impl",
            "parse_args",
            "config",
            "server",
            "client",
            "index",
            "search",
            "query",
            "token",
            "module",
        ];
        for i in 0..10_000usize {
            let mut body = String::new();
            for j in 0..(40 + i % 200) {
                body.push_str(words[(i * 7 + j * 13) % words.len()]);
                body.push(if j % 12 == 11 { '\n' } else { ' ' });
            }
            body.push_str(&format!("unique{i}\n"));
            fx.write(&format!("d{}/s{}/file_{i}.txt", i % 20, i % 7), body);
        }
        let start = std::time::Instant::now();
        let walk = scan::walk(fx.roots.roots(), fx.roots.filter(), None, &|| false);
        let walked = start.elapsed();
        let stats = fx
            .index
            .sync(
                &walk.files,
                fx.roots.roots(),
                1 << 20,
                &Progress {
                    report: &|_, _| {},
                    cancelled: &|| false,
                },
            )
            .expect("sync");
        let total = start.elapsed();
        let rescan_start = std::time::Instant::now();
        let walk = scan::walk(fx.roots.roots(), fx.roots.filter(), None, &|| false);
        let again = fx
            .index
            .sync(
                &walk.files,
                fx.roots.roots(),
                1 << 20,
                &Progress {
                    report: &|_, _| {},
                    cancelled: &|| false,
                },
            )
            .expect("sync");
        let rescan = rescan_start.elapsed();
        let search_start = std::time::Instant::now();
        let hits = fx.find("unique4242");
        let searched = search_start.elapsed();
        eprintln!(
            "10k files: walk {walked:?}, walk+index {total:?} ({} indexed); \
             unchanged rescan {rescan:?} ({} re-read); search {searched:?} -> {hits:?}",
            stats.indexed, again.indexed
        );
        assert_eq!(stats.indexed, 10_000);
        assert_eq!(again.indexed, 0);
        assert_eq!(hits.len(), 1);
    }
}
