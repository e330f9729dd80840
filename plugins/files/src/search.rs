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

use rusqlite::{Connection, params};

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
/// more than a warm cache for repeated queries.
const CACHE_KIB: i64 = 2 * 1024;

/// Extra rows fetched beyond the limit, for hits the current rules hide.
const SLACK: i64 = 16;

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
}

/// The full-text query: `?1` the match expression, `?2` the path prefix or NULL, `?3` the
/// limit.
pub(crate) fn text_query_sql() -> String {
    format!(
        "SELECT f.path, f.name, f.size, f.kind, docs.rank
         FROM docs JOIN files f ON f.id = docs.rowid
         WHERE docs MATCH ?1 AND docs.rank MATCH '{RANK}'
           AND (?2 IS NULL OR f.path = ?2 OR substr(f.path, 1, length(?2) + 1) = ?2 || '/')
         ORDER BY docs.rank LIMIT ?3"
    )
}

fn has_text(kind: &str) -> bool {
    matches!(kind, "text" | "truncated")
}

/// A full-text hit from a row of (path, name, size, kind, bm25 score); bm25 is lower for
/// better matches, so the score is its negation.
fn text_hit(r: &rusqlite::Row<'_>) -> rusqlite::Result<Found> {
    Ok(Found {
        hit: Hit {
            path: r.get(0)?,
            name: r.get(1)?,
            size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            snippet: None,
            score: -r.get::<_, f64>(4)?,
        },
        has_text: has_text(&r.get::<_, String>(3)?),
    })
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
        })
    }

    /// When the last complete scan of `scope` finished, as the index records it now.
    pub fn scanned_at(&self, scope: &str) -> rusqlite::Result<Option<i64>> {
        index::scanned_at(&self.conn, scope)
    }

    /// Search names and contents under `roots`. Hits whose name matches a file-name-like
    /// query come first, then full-text hits by rank; no path appears twice.
    pub fn search(&self, query: &Query<'_>, roots: &Roots) -> rusqlite::Result<Vec<Hit>> {
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let fetch = limit.saturating_add(SLACK);
        let prefix = query.path_prefix.map(|p| p.trim_end_matches('/'));
        let shown = |found: &Found| roots.indexed_root(Path::new(&found.hit.path)).is_some();

        let mut text_hits: Vec<Found> = Vec::new();
        if let Some(expr) = match_expression(query.text) {
            let mut stmt = self.conn.prepare_cached(&text_query_sql())?;
            for row in stmt.query_map(params![expr, prefix, fetch], text_hit)? {
                text_hits.push(row?);
            }
        }
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
            let rows = stmt.query_map(params![value, prefix, fetch], |r| {
                Ok(Found {
                    hit: Hit {
                        path: r.get(0)?,
                        name: r.get(1)?,
                        size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        snippet: None,
                        score: 0.0,
                    },
                    has_text: has_text(&r.get::<_, String>(3)?),
                })
            })?;
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
        self.with_snippets(query.text, merged, roots)
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
