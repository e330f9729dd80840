//! Answering searches from the index: a read-only connection of its own, so a search never
//! waits for the indexer's writes (SQLite's WAL lets readers go on beside one writer and see
//! the last commit).
//!
//! A search matches the query's phrases ([`crate::query`]) against names, paths and contents,
//! ranked by FTS5's `bm25` with the name weighted well above the path and the body; queries
//! that look like file names also match names directly and come first. Every hit is checked
//! against the roots and rules the connector runs with now, so an index built under other
//! settings never shows a file they hide, and snippets are made from the files for the
//! returned hits only ([`crate::snippet`]).

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::content::{self, Contents};
use crate::index;
use crate::paths::Roots;
use crate::query::{NameQuery, match_expression, name_query, phrases, snippet_expression};
use crate::snippet::{self, Snippets};

/// FTS5's `rank` with the weights of the FTS columns (path, name, body) for `bm25`. Searches
/// order by `rank` rather than by a `bm25()` expression: FTS5 then sorts the matches by score
/// itself, and nothing else is computed for rows that are not returned.
const RANK: &str = "bm25(2.0, 10.0, 1.0)";

/// The SQLite page cache of the search connection (KiB). Small: what a query reads is mostly
/// the doclists of its terms, read once, and the memory of a long-running process matters
/// more than a warm cache for repeated queries (at 100k files, 2 and 8 MiB gave the same
/// latencies).
const CACHE_KIB: i64 = 1024;

/// Extra rows fetched beyond the limit, for hits the current rules hide.
const SLACK: i64 = 16;

/// Matches of one query ranked at most. Ranking costs time for every match (bm25 reads each
/// match's positions), so a query of words that nearly every file holds (`the`, `name`) took
/// 55–85 ms at 100k files when every match was ranked; it is ranked among its first this-many
/// matches in index order instead, and the answer says so. A query with fewer matches is
/// ranked whole, as before.
pub const CANDIDATES: usize = 20_000;

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

/// A hit before its snippet: the row it came from and whether its file has text.
struct Found {
    hit: Hit,
    has_text: bool,
}

/// The read side of the index.
pub struct Searcher {
    conn: Connection,
    snippets: Snippets,
    max_file_size: u64,
    candidates: usize,
}

/// The full-text candidates: (rowid, bm25) of the first `?2` matches of the match
/// expression `?1`, in index order, without and with a path prefix `?3`.
fn candidates_sql(with_prefix: bool) -> String {
    if with_prefix {
        format!(
            "SELECT docs.rowid, docs.rank FROM docs JOIN files f ON f.id = docs.rowid
             WHERE docs MATCH ?1 AND docs.rank MATCH '{RANK}'
               AND (f.path = ?3 OR substr(f.path, 1, length(?3) + 1) = ?3 || '/')
             LIMIT ?2"
        )
    } else {
        format!("SELECT rowid, rank FROM docs WHERE docs MATCH ?1 AND rank MATCH '{RANK}' LIMIT ?2")
    }
}

fn has_text(kind: &str) -> bool {
    matches!(kind, "text" | "truncated")
}

/// A hit from a row of `files` (path, name, size, kind), with its score.
fn file_hit(r: &rusqlite::Row<'_>, score: f64) -> rusqlite::Result<Found> {
    Ok(Found {
        hit: Hit {
            path: r.get(0)?,
            name: r.get(1)?,
            size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            snippet: None,
            score,
        },
        has_text: has_text(&r.get::<_, String>(3)?),
    })
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Answer {
    /// The hits, best first.
    pub hits: Vec<Hit>,
    /// When the query matched more files than are ranked, how many were ([`CANDIDATES`]).
    pub ranked_among: Option<usize>,
}

impl Searcher {
    /// Open the index at `path` for searching. It must exist (the indexer creates it).
    pub fn open(path: &Path, max_file_size: u64) -> rusqlite::Result<Self> {
        let conn = index::connect(path)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(Self {
            conn,
            snippets: Snippets::new()?,
            max_file_size,
            candidates: CANDIDATES,
        })
    }

    /// Rank at most `candidates` matches of a query (tests and benchmarks; see
    /// [`CANDIDATES`]).
    pub fn rank_at_most(mut self, candidates: usize) -> Self {
        self.candidates = candidates.max(1);
        self
    }

    /// The full-text hits of `expr`, best first, at most `fetch`; and whether the matches
    /// were more than are ranked.
    fn text_hits(
        &self,
        expr: &str,
        prefix: Option<&str>,
        fetch: usize,
    ) -> rusqlite::Result<(Vec<Found>, bool)> {
        let cap = i64::try_from(self.candidates).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(&candidates_sql(prefix.is_some()))?;
        let pair = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?));
        let mut ranked: Vec<(i64, f64)> = match prefix {
            Some(prefix) => stmt
                .query_map(params![expr, cap, prefix], pair)?
                .collect::<rusqlite::Result<_>>()?,
            None => stmt
                .query_map(params![expr, cap], pair)?
                .collect::<rusqlite::Result<_>>()?,
        };
        let capped = ranked.len() >= self.candidates;
        // bm25 is lower for better matches; ties go to the earlier row, as FTS5 orders them.
        let order = |a: &(i64, f64), b: &(i64, f64)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
        if ranked.len() > fetch {
            ranked.select_nth_unstable_by(fetch, order);
            ranked.truncate(fetch);
        }
        ranked.sort_unstable_by(order);
        let mut row = self
            .conn
            .prepare_cached("SELECT path, name, size, kind FROM files WHERE id = ?1")?;
        let mut found = Vec::with_capacity(ranked.len());
        for (id, bm25) in ranked {
            // A row deleted since the candidates were read is simply not a hit.
            if let Some(hit) = row.query_row([id], |r| file_hit(r, -bm25)).optional()? {
                found.push(hit);
            }
        }
        Ok((found, capped))
    }

    /// When the last complete scan of `scope` finished, as the index records it now.
    pub fn scanned_at(&self, scope: &str) -> rusqlite::Result<Option<i64>> {
        index::scanned_at(&self.conn, scope)
    }

    /// Search names and contents under `roots`. Hits whose name matches a file-name-like
    /// query come first, then full-text hits by rank; no path appears twice.
    pub fn search(&self, query: &Query<'_>, roots: &Roots) -> rusqlite::Result<Answer> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let fetch = limit.saturating_add(SLACK);
        let prefix = query.path_prefix.map(|p| p.trim_end_matches('/'));
        let shown = |found: &Found| roots.indexed_root(Path::new(&found.hit.path)).is_some();

        let (mut text_hits, capped) = match match_expression(query.text) {
            Some(expr) => {
                self.text_hits(&expr, prefix, usize::try_from(fetch).unwrap_or(usize::MAX))?
            }
            None => (Vec::new(), false),
        };
        text_hits.retain(shown);

        let mut name_hits: Vec<Found> = Vec::new();
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
                "SELECT f.path, f.name, f.size, f.kind FROM files f
                 WHERE {condition}
                   AND (?2 IS NULL OR f.path = ?2 OR substr(f.path, 1, length(?2) + 1) = ?2 || '/')
                 ORDER BY length(f.path), f.path LIMIT ?3"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![value, prefix, fetch], |r| file_hit(r, 0.0))?;
            for row in rows {
                name_hits.push(row?);
            }
            name_hits.retain(shown);
        }

        // Name hits rank above every text hit, in their own order.
        let top = text_hits
            .iter()
            .map(|f| f.hit.score)
            .fold(0.0_f64, f64::max);
        let count = name_hits.len();
        let mut merged: Vec<Found> = Vec::with_capacity(count + text_hits.len());
        let mut seen: HashSet<String> = HashSet::new();
        for (rank, mut found) in name_hits.into_iter().enumerate() {
            found.hit.score = top + 1.0 + (count - rank) as f64;
            seen.insert(found.hit.path.clone());
            merged.push(found);
        }
        for found in text_hits {
            if seen.insert(found.hit.path.clone()) {
                merged.push(found);
            }
        }
        merged.truncate(query.limit);
        Ok(Answer {
            hits: self.with_snippets(query.text, merged, roots)?,
            ranked_among: capped.then_some(self.candidates),
        })
    }

    /// Give each hit the text around its match, read from its file now; a hit whose text has
    /// no match (it matched by name or path) shows the file's beginning.
    fn with_snippets(
        &self,
        text: &str,
        found: Vec<Found>,
        roots: &Roots,
    ) -> rusqlite::Result<Vec<Hit>> {
        let words: Vec<String> = phrases(text).into_iter().map(|p| p.text).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let texts: Vec<Option<String>> = found
            .iter()
            .map(|f| f.has_text.then(|| self.read(roots, &f.hit.path)).flatten())
            .collect();
        let excerpts: Vec<(i64, std::borrow::Cow<'_, str>)> = texts
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i as i64, snippet::excerpt(t.as_deref()?, &words))))
            .collect();
        let mut snippets = vec![None; found.len()];
        if let Some(expr) = snippet_expression(text) {
            let pairs: Vec<(i64, &str)> = excerpts.iter().map(|(i, t)| (*i, t.as_ref())).collect();
            let made = self.snippets.make(&expr, &pairs)?;
            for ((i, _), snippet) in excerpts.iter().zip(made) {
                snippets[*i as usize] = snippet;
            }
        }
        Ok(found
            .into_iter()
            .zip(snippets)
            .zip(texts)
            .map(|((f, snippet), text)| Hit {
                snippet: snippet.or_else(|| text.as_deref().and_then(snippet::lead)),
                ..f.hit
            })
            .collect())
    }

    /// The text of the file at `path` as the index reads it (beneath its root, capped), or
    /// `None` when it is gone, hidden or no longer text.
    fn read(&self, roots: &Roots, path: &str) -> Option<String> {
        let path = Path::new(path);
        let root = &roots.roots()[roots.indexed_root(path)?];
        let file = root
            .dir
            .read_file(path.strip_prefix(&root.path).ok()?)
            .ok()?;
        match content::read_capped(file, self.max_file_size).ok()? {
            Contents::Text { text, .. } => Some(text),
            Contents::Binary => None,
        }
    }
}
