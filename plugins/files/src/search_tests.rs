//! The index and its searches together, over real files in a temporary folder.

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::params;

use crate::config::Config;
use crate::index::{BATCH, Hooks, Index, SyncStats, name_terms};
use crate::paths::Roots;
use crate::query::match_expression;
use crate::scan;
use crate::search::{Hit, Query, Searcher};

struct Fixture {
    dir: tempfile::TempDir,
    root: PathBuf,
    roots: Roots,
    index: Index,
    searcher: Searcher,
}

impl Fixture {
    fn new(max_file_size: u64) -> Self {
        Self::with_config(Config {
            max_file_size,
            ..Config::default()
        })
    }

    fn with_config(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = fs::canonicalize(dir.path())
            .expect("canonical")
            .join("root");
        fs::create_dir_all(&root).expect("mkdir");
        let config = Config {
            roots: vec![root.display().to_string()],
            ..config
        };
        let (roots, _) = Roots::new(&config, None).expect("roots");
        let path = dir.path().join("index.sqlite");
        let index = Index::open(&path, config.max_file_size).expect("open");
        let searcher = Searcher::open(&path, config.max_file_size).expect("searcher");
        Self {
            dir,
            root,
            roots,
            index,
            searcher,
        }
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, contents).expect("write");
    }

    fn sync_with(&mut self, max: u64, hooks: &mut Hooks<'_>) -> SyncStats {
        let walk = scan::walk(self.roots.roots(), self.roots.filter(), None, &scan::QUIET);
        self.index
            .sync(walk.files, self.roots.roots(), max, hooks)
            .expect("sync")
    }

    fn sync(&mut self) -> SyncStats {
        self.sync_with(1 << 20, &mut Hooks::quiet(&mut |_| Ok(())))
    }

    fn hits(&self, text: &str, limit: usize, path_prefix: Option<&str>) -> Vec<Hit> {
        self.searcher
            .search(
                &Query {
                    text,
                    limit,
                    path_prefix,
                },
                &self.roots,
            )
            .expect("search")
            .hits
    }

    fn find(&self, text: &str) -> Vec<String> {
        self.hits(text, 10, None)
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
    drop(reopened);
    // Another size cap empties it for a rebuild.
    fx.index.commit().expect("commit");
    let recapped = Index::open(&fx.dir.path().join("index.sqlite"), 10).expect("open");
    assert_eq!(recapped.file_count().expect("len"), 0);
}

/// The index keeps terms, not a copy of the text: the text is in the files only.
#[test]
fn the_index_holds_no_copy_of_the_text() {
    let mut fx = Fixture::new(1 << 20);
    let body = "unmistakable ".repeat(2000);
    fx.write("a.txt", &body);
    fx.sync();
    let conn = rusqlite::Connection::open(fx.dir.path().join("index.sqlite")).expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    assert!(!tables.iter().any(|t| t == "docs_content"), "{tables:?}");
    let stored: Option<String> = conn
        .query_row("SELECT body FROM docs LIMIT 1", [], |r| r.get(0))
        .expect("row");
    assert_eq!(stored, None);
    assert_eq!(fx.find("unmistakable"), vec!["a.txt"]);
}

#[test]
fn snippets_ranking_phrases_stemming_and_limits() {
    let mut fx = Fixture::new(1 << 20);
    fx.write(
        "a/essay.txt",
        "Once upon a time there was a lighthouse keeper who kept a very careful logbook \
         of every ship that passed, and the lighthouse stood for a hundred years.",
    );
    fx.write("b/lighthouse.txt", "A short note.");
    fx.write("b/other.txt", "lighthouse mentioned once");
    fx.write(
        "c/parsing.md",
        "We were parsing arguments all day. Ships come from afar.",
    );
    fx.sync();

    let hits = fx.hits("lighthouse", 10, None);
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
    // A name match with no word in its text shows the file's beginning.
    assert_eq!(hits[0].snippet.as_deref(), Some("A short note."));

    // Stemming: other forms of a word match, and the snippet marks what is there.
    let parsed = fx.hits("parse", 10, None);
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    let snippet = parsed[0].snippet.as_deref().expect("snippet");
    assert!(snippet.contains("«parsing»"), "{snippet}");
    let mut ships = fx.find("ship");
    ships.sort();
    assert_eq!(
        ships,
        vec!["a/essay.txt", "c/parsing.md"],
        "ship finds ships"
    );
    // Quotes make a phrase: the words together and in order.
    assert_eq!(fx.find("\"come from\""), vec!["c/parsing.md"]);
    assert!(fx.find("\"from come\"").is_empty());
    assert_eq!(
        fx.find("from come"),
        vec!["c/parsing.md"],
        "without quotes, any order"
    );
    // A prefix only when asked for.
    assert!(fx.find("logb").is_empty());
    assert_eq!(fx.find("logb*"), vec!["a/essay.txt"]);
    // Words are ANDed.
    assert_eq!(fx.find("lighthouse keeper"), vec!["a/essay.txt"]);
    // Limit and path prefix.
    assert_eq!(fx.hits("lighthouse", 1, None).len(), 1);
    let prefix = format!("{}/", fx.root.join("a").display());
    let under_a = fx.hits("lighthouse", 10, Some(&prefix));
    assert_eq!(under_a.len(), 1);
    assert!(under_a[0].path.ends_with("a/essay.txt"));
    // A sibling folder sharing the prefix's spelling does not count as under it.
    let not_a_folder = format!("{}", fx.root.join("b/light").display());
    assert!(fx.hits("lighthouse", 10, Some(&not_a_folder)).is_empty());
    // Punctuation-only and hostile queries are harmless.
    assert!(fx.find("\"*-:").is_empty());
    assert!(fx.find("NEAR(\"a\" b) OR c*").is_empty());
}

/// Snippets come from the file as it is now, and a hit whose file went away or turned binary
/// since it was indexed still comes back, without a snippet.
#[test]
fn snippets_are_read_from_the_files() {
    let mut fx = Fixture::new(1 << 20);
    fx.write("one.txt", "the harbour lantern glows");
    fx.write("two.txt", "a lantern in the window");
    fx.write("three.txt", "lantern");
    fx.sync();
    fx.write("one.txt", "the harbour lantern glows brighter now");
    fs::remove_file(fx.root.join("two.txt")).expect("remove");
    fx.write("three.txt", b"lantern\x00binary");
    let hits = fx.hits("lantern", 10, None);
    assert_eq!(hits.len(), 3, "{hits:?}");
    let of = |name: &str| {
        hits.iter()
            .find(|h| h.path.ends_with(name))
            .map(|h| h.snippet.clone())
            .expect(name)
    };
    assert_eq!(
        of("one.txt").as_deref(),
        Some("the harbour «lantern» glows brighter now")
    );
    assert_eq!(of("two.txt"), None);
    assert_eq!(of("three.txt"), None);
}

/// An index built under other rules never shows what the current rules hide.
#[test]
fn hits_the_rules_hide_now_are_not_shown() {
    let mut fx = Fixture::new(1 << 20);
    fx.write("keep/a.md", "walrus");
    fx.write("drop/b.md", "walrus");
    fx.sync();
    assert_eq!(fx.find("walrus").len(), 2);
    let config = Config {
        roots: vec![fx.root.display().to_string()],
        exclude: vec!["**/drop/**".into()],
        ..Config::default()
    };
    let (stricter, _) = Roots::new(&config, None).expect("roots");
    let hits = fx
        .searcher
        .search(
            &Query {
                text: "walrus",
                limit: 10,
                path_prefix: None,
            },
            &stricter,
        )
        .expect("search")
        .hits;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].path.ends_with("keep/a.md"));
}

#[test]
fn large_files_are_cut_and_searchable_up_to_the_cap() {
    let mut fx = Fixture::new(64);
    let mut text = "alpha ".repeat(10); // 60 bytes
    text.push_str("omega");
    fx.write("big.txt", &text);
    let stats = fx.sync_with(64, &mut Hooks::quiet(&mut |_| Ok(())));
    assert_eq!(stats.indexed, 1);
    assert_eq!(fx.find("alpha"), vec!["big.txt"]);
    assert!(fx.find("omega").is_empty());
}

#[test]
fn stopped_runs_keep_their_work_and_resume() {
    let mut fx = Fixture::new(1 << 20);
    for i in 0..(BATCH * 2 + 10) {
        fx.write(&format!("f/{i}.txt"), format!("word{i} common"));
    }
    let batches = Cell::new(0usize);
    let between = Cell::new(0usize);
    let stats = fx.sync_with(
        1 << 20,
        &mut Hooks {
            report: &|done, total| {
                assert_eq!(total, BATCH * 2 + 10);
                assert!(done <= total);
                batches.set(batches.get() + 1);
            },
            stop: &|| batches.get() >= 1,
            between: &mut |_| {
                between.set(between.get() + 1);
                Ok(())
            },
        },
    );
    assert!(stats.cancelled);
    assert_eq!(stats.indexed, BATCH);
    assert_eq!(between.get(), 1);
    // What was written is committed: another connection sees it.
    assert_eq!(fx.find("common").len(), 10);
    assert_eq!(fx.index.file_count().expect("len"), BATCH as u64);
    let rest = fx.sync();
    assert!(!rest.cancelled);
    assert_eq!(rest.indexed, BATCH + 10);
    assert_eq!(fx.index.file_count().expect("len"), (BATCH * 2 + 10) as u64);
}

/// The state of the last complete scan is kept in the index, per scope.
#[test]
fn the_last_scan_is_remembered_per_scope() {
    let mut fx = Fixture::new(1 << 20);
    assert_eq!(fx.index.scanned_at("scope-a").expect("meta"), None);
    fx.index.mark_scanned("scope-a", 1234).expect("mark");
    assert_eq!(fx.index.scanned_at("scope-a").expect("meta"), Some(1234));
    assert_eq!(fx.searcher.scanned_at("scope-a").expect("meta"), Some(1234));
    assert_eq!(fx.index.scanned_at("scope-b").expect("meta"), None);
    drop(fx.index);
    let path = fx.dir.path().join("index.sqlite");
    let reopened = Index::open(&path, 1 << 20).expect("open");
    assert_eq!(reopened.scanned_at("scope-a").expect("meta"), Some(1234));
    drop(reopened);
    // A rebuild (another cap) forgets it.
    let recapped = Index::open(&path, 99).expect("open");
    assert_eq!(recapped.scanned_at("scope-a").expect("meta"), None);
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

/// What the searches return, whole: names first, then a word of a name, then the densest
/// body; words in sequence inside a query word; diacritics folded.
#[test]
fn ranking_of_names_words_and_bodies() {
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
            "filler words about ships and tides ".repeat(4000),
            "more filler about harbours ".repeat(4000)
        ),
    );
    fx.write(
        "src/main.rs",
        "fn main() { let parse_config = read_config(); }",
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
        "notes/order.txt",
        "rs appears here and main too, far apart: rs, then main",
    );
    fx.sync();

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
    let hits = fx.hits("the lighthouse", 10, None);
    assert!(hits.len() >= 3, "{hits:?}");
    for hit in &hits {
        let snippet = hit.snippet.as_deref().expect("a snippet");
        assert!(snippet.contains('«') && snippet.contains('»'), "{snippet}");
    }
    // A long file's snippet shows the match, deep in the file, not its start.
    let long = hits
        .iter()
        .find(|h| h.path.ends_with("docs/long.txt"))
        .and_then(|h| h.snippet.as_deref())
        .expect("long.txt");
    assert!(
        long.contains("«lighthouse»"),
        "the match, not the start: {long}"
    );

    // The rank order is bm25's with the column weights.
    let conn = rusqlite::Connection::open(fx.dir.path().join("index.sqlite")).expect("open");
    let expr = match_expression("lighthouse").expect("expr");
    let by_bm25: Vec<i64> = conn
        .prepare("SELECT rowid FROM docs WHERE docs MATCH ?1 ORDER BY bm25(docs, 2.0, 10.0, 1.0)")
        .and_then(|mut s| s.query_map(params![expr], |r| r.get(0))?.collect())
        .expect("bm25 order");
    let by_rank: Vec<i64> = conn
        .prepare(
            "SELECT rowid FROM docs WHERE docs MATCH ?1 AND rank MATCH 'bm25(2.0, 10.0, 1.0)'
             ORDER BY rank",
        )
        .and_then(|mut s| s.query_map(params![expr], |r| r.get(0))?.collect())
        .expect("rank order");
    assert_eq!(by_rank, by_bm25);
}

/// A query matching more files than are ranked is ranked among its first matches and says
/// so; below the cap the whole ranking is kept.
#[test]
fn broad_queries_are_ranked_among_their_first_matches() {
    let mut fx = Fixture::new(1 << 20);
    for i in 0..10 {
        // Later files hold the word more often: a full ranking puts the last first.
        fx.write(&format!("f{i}.txt"), "heron ".repeat(i + 1) + "marsh");
    }
    fx.sync();
    let path = fx.dir.path().join("index.sqlite");
    let search = |cap: usize, text: &str| {
        Searcher::open(&path, 1 << 20)
            .expect("searcher")
            .rank_at_most(cap)
            .search(
                &Query {
                    text,
                    limit: 2,
                    path_prefix: None,
                },
                &fx.roots,
            )
            .expect("search")
    };
    let name = |a: &crate::search::Answer| -> Vec<String> {
        a.hits.iter().map(|h| h.name.clone()).collect()
    };
    let whole = search(100, "heron");
    assert_eq!(name(&whole), vec!["f9.txt", "f8.txt"]);
    assert_eq!(whole.ranked_among, None);
    let capped = search(3, "heron");
    assert_eq!(capped.ranked_among, Some(3));
    // The best two of the first three rows in index order.
    let conn = rusqlite::Connection::open(&path).expect("open");
    let mut first: Vec<(usize, String)> = conn
        .prepare("SELECT name FROM files ORDER BY id LIMIT 3")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map(|names: Vec<String>| {
            names
                .into_iter()
                .map(|n| (n[1..n.len() - 4].parse().expect("number"), n))
                .collect()
        })
        .expect("first rows");
    first.sort();
    let best_two: Vec<String> = first.into_iter().rev().take(2).map(|(_, n)| n).collect();
    assert_eq!(name(&capped), best_two, "{capped:?}");
    // Under a path prefix the cap counts matches under it only.
    let prefixed = Searcher::open(&path, 1 << 20)
        .expect("searcher")
        .rank_at_most(3)
        .search(
            &Query {
                text: "heron",
                limit: 5,
                path_prefix: Some(&fx.root.join("f9.txt").display().to_string()),
            },
            &fx.roots,
        )
        .expect("search");
    assert_eq!(name(&prefixed), vec!["f9.txt"]);
    assert_eq!(prefixed.ranked_among, None);
}

/// Index time and search latency by query class over a real folder named by
/// `FILES_BENCH_ROOT`. The index is kept at `FILES_BENCH_INDEX` when set (built when empty),
/// so runs can reuse one build. Run with `FILES_BENCH_ROOT=... cargo test --release -p
/// switchboard-files -- --ignored --nocapture search_latency_by_class`.
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
        exclude: vec!["**/.*".into(), "**/.*/**".into()],
        ..Config::default()
    };
    let (roots, _) = Roots::new(&config, crate::config::home_dir().as_deref()).expect("roots");
    let mut index = Index::open(&index_path, config.max_file_size).expect("open");
    if index.file_count().expect("count") == 0 {
        let start = std::time::Instant::now();
        let walk = scan::walk(roots.roots(), roots.filter(), None, &scan::QUIET);
        let walked = start.elapsed();
        let stats = index
            .sync(
                walk.files,
                roots.roots(),
                config.max_file_size,
                &mut Hooks::quiet(&mut |_| Ok(())),
            )
            .expect("sync");
        eprintln!(
            "build: {} files in {:.2?} (walk {walked:.2?}); {}",
            stats.indexed,
            start.elapsed(),
            memory()
        );
        drop(index);
        crate::index::trim_heap();
        eprintln!("after the build, trimmed: {}", memory());
    } else {
        drop(index);
    }
    let mut searcher = Searcher::open(&index_path, config.max_file_size).expect("searcher");
    if let Some(cap) = std::env::var("FILES_BENCH_CANDIDATES")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        searcher = searcher.rank_at_most(cap);
    }
    let queries = std::env::var("FILES_BENCH_QUERIES").unwrap_or_else(|_| {
        "rare:from_str_radix,parse_quote,siphasher;none:zzqxjvw,qqxxzzyy;\
         common:the,this,and,name;one-percent:mutex,backtrace,bitflags;\
         two-word:error handling,thread safe,come from"
            .into()
    });
    let percentile = |times: &mut Vec<f64>, p: f64| {
        times.sort_by(f64::total_cmp);
        let at = ((times.len() as f64 - 1.0) * p).round() as usize;
        times[at]
    };
    eprintln!("searcher open: {}", memory());
    for class in queries.split(';') {
        let (name, list) = class.split_once(':').expect("class:queries");
        let mut times = Vec::new();
        for _ in 0..5 {
            for text in list.split(',') {
                let t = std::time::Instant::now();
                let hits = searcher
                    .search(
                        &Query {
                            text,
                            limit: 10,
                            path_prefix: None,
                        },
                        &roots,
                    )
                    .expect("search")
                    .hits;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                std::hint::black_box(hits);
            }
        }
        eprintln!(
            "{name:<12} p50 {:>8.2} ms p95 {:>8.2} ms max {:>8.2} ms",
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.95),
            percentile(&mut times, 1.0),
        );
    }
    eprintln!("after the queries: {}", memory());
}

/// This process's resident and peak memory, from /proc (Linux; elsewhere nothing).
fn memory() -> String {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Opening an index that is already as wanted writes nothing: another process holding the
/// write lock (a serve in the middle of a build) does not hold up a second one.
#[test]
fn opening_a_built_index_takes_no_write_lock() {
    let mut fx = Fixture::new(1 << 20);
    fx.write("a.txt", "otter");
    fx.sync();
    let path = fx.dir.path().join("index.sqlite");
    let other = rusqlite::Connection::open(&path).expect("open");
    other.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let second = Index::open(&path, 1 << 20).expect("opened beside a writer");
    assert_eq!(second.file_count().expect("count"), 1);
    other.execute_batch("COMMIT").expect("unlock");
}

/// An index of an older schema is rebuilt, and the file gives its old pages back.
#[test]
fn an_older_index_is_replaced_and_shrunk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.sqlite");
    {
        let old = rusqlite::Connection::open(&path).expect("open");
        old.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '1'), ('max_file_size', '1048576');
             CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT, root TEXT);
             CREATE VIRTUAL TABLE docs USING fts5 (path, name, body);",
        )
        .expect("old schema");
        let mut add = old
            .prepare("INSERT INTO docs (path, name, body) VALUES ('p', 'n', ?1)")
            .expect("prepare");
        for _ in 0..200 {
            add.execute(["old text ".repeat(2000)]).expect("insert");
        }
    }
    let before = fs::metadata(&path).expect("size").len();
    let index = Index::open(&path, 1 << 20).expect("open");
    assert_eq!(index.file_count().expect("count"), 0);
    let after = fs::metadata(&path).expect("size").len();
    assert!(after * 4 < before, "{before} -> {after}");
    // And it works as a new one.
    drop(index);
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .expect("version");
    assert_eq!(version, "2");
}

/// Two processes creating the same new index at once both get it, built once.
#[test]
fn two_openers_of_a_new_index_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.sqlite");
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    Index::open(&path, 1 << 20).map(|i| i.file_count())
                })
            })
            .collect();
        for handle in handles {
            let opened = handle.join().expect("thread");
            assert!(matches!(opened, Ok(Ok(0))), "{opened:?}");
        }
    });
}

/// The cost of a walk that finds nothing changed, over `FILES_BENCH_ROOT` against the index at
/// `FILES_BENCH_INDEX` (built by `search_latency_by_class`): the walk, then the plan. Run with
/// `cargo test --release -p switchboard-files -- --ignored --nocapture unchanged_rescan`.
#[test]
#[ignore = "benchmark"]
fn unchanged_rescan() {
    let (Some(folder), Some(index_path)) = (
        std::env::var_os("FILES_BENCH_ROOT"),
        std::env::var_os("FILES_BENCH_INDEX"),
    ) else {
        eprintln!("FILES_BENCH_ROOT and FILES_BENCH_INDEX are not set; nothing to measure");
        return;
    };
    let config = Config {
        roots: vec![folder.to_string_lossy().into_owned()],
        exclude: vec!["**/.*".into(), "**/.*/**".into()],
        ..Config::default()
    };
    let (roots, _) = Roots::new(&config, None).expect("roots");
    let index = Index::open(Path::new(&index_path), config.max_file_size).expect("open");
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let walk = scan::walk(roots.roots(), roots.filter(), None, &scan::QUIET);
        let walked = start.elapsed();
        let files = walk.files.len();
        let plan = index.plan(walk.files, None).expect("plan");
        eprintln!(
            "{files} files: walk {walked:.1?}, plan {:.1?} ({} to read, {} gone)",
            start.elapsed() - walked,
            plan.todo.len(),
            plan.gone.len()
        );
    }
}

/// A file a walk listed but that is gone when it is read leaves no row (it used to stay as an
/// unreadable file until the next walk).
#[test]
fn a_file_gone_before_it_is_read_leaves_no_row() {
    let mut fx = Fixture::new(1 << 20);
    fx.write("stays.txt", "kestrel");
    fx.write("goes.txt", "kestrel");
    fx.sync();
    assert_eq!(fx.index.file_count().expect("count"), 2);
    // Changed, listed, then removed before the run reads it.
    fx.write("goes.txt", "kestrel again, longer");
    let walk = scan::walk(fx.roots.roots(), fx.roots.filter(), None, &scan::QUIET);
    fs::remove_file(fx.root.join("goes.txt")).expect("remove");
    let plan = fx.index.plan(walk.files, None).expect("plan");
    assert_eq!(plan.todo.len(), 1);
    fx.index
        .run(
            plan,
            fx.roots.roots(),
            1 << 20,
            &mut Hooks::quiet(&mut |_| Ok(())),
        )
        .expect("run");
    assert_eq!(fx.index.file_count().expect("count"), 1);
    assert_eq!(fx.find("kestrel"), vec!["stays.txt"]);
}

/// What a new process watches before its first walk: every folder holding an indexed file,
/// once each, however the paths sort.
#[test]
fn the_folders_of_indexed_files_are_listed_once_each() {
    let mut fx = Fixture::new(1 << 20);
    fx.write("a.md", "top");
    fx.write("b/one.md", "one");
    fx.write("b/c/two.md", "two");
    fx.write("b/three.md", "three");
    fx.write("b-c/four.md", "four");
    fx.sync();
    let root = fx.root.clone();
    let mut folders = fx.index.folders_of_files(&|| false).expect("folders");
    folders.sort();
    assert_eq!(
        folders,
        [
            root.clone(),
            root.join("b"),
            root.join("b").join("c"),
            root.join("b-c")
        ]
    );
}

/// A one-shot command's process is shut down while its indexer lists these; the listing
/// stops when told, so the process does not wait for 100k rows it will never use.
#[test]
fn listing_the_folders_of_indexed_files_stops_when_told() {
    let mut fx = Fixture::new(1 << 20);
    for i in 0..2_100 {
        fx.write(&format!("f{i}/note.md"), "x");
    }
    fx.sync();
    assert_eq!(
        fx.index.folders_of_files(&|| false).expect("all").len(),
        2_100
    );
    let asked = std::cell::Cell::new(0);
    let stop = || {
        asked.set(asked.get() + 1);
        true
    };
    let cut = fx.index.folders_of_files(&stop).expect("cut short");
    assert_eq!(asked.get(), 1, "asked once, at the first thousand rows");
    assert!(
        cut.len() < 1_024,
        "{} folders listed after the stop",
        cut.len()
    );
}
