//! A walk of every root compared with the index as it goes, so the index follows the tree
//! while the walk runs instead of after it.
//!
//! Each file the walk finds is checked against the rows as they were when the walk began
//! ([`Known`]). Where the index already answers searches (a new process reconciling what
//! changed while nothing watched, or a periodic walk), a changed file is re-read at the walk's
//! next pause, so a search sees it within moments of the walk passing it. Past [`EARLY`] such
//! files (a checkout, a restored backup) the rest wait for the end of the walk, where
//! [`Index::run`] reads and writes at once. The first build keeps every file for that run,
//! which reports progress against a known total.

use std::cell::{Cell, RefCell};

use crate::index::{Index, Plan};
use crate::known::Known;
use crate::paths::Root;
use crate::scan::FileEntry;

/// Changed files re-read as the walk finds them, at most.
pub const EARLY: usize = 1024;

/// One walk's comparison with the index. Its methods take `&self`: they are called from the
/// walk's hooks, which are shared closures.
pub struct Reconciling {
    known: RefCell<Known>,
    /// Whether changed files are re-read during the walk.
    eager: bool,
    found: Cell<usize>,
    /// Changed files found since the last pause.
    early: RefCell<Vec<FileEntry>>,
    early_indexed: Cell<usize>,
    /// Changed files whose early reading failed: read again after the walk.
    late: RefCell<Vec<FileEntry>>,
}

impl Reconciling {
    /// Compare a walk of everything with `index`; `eager` where the index already answers.
    /// `None` when `stop` says so while the rows are read.
    pub fn new(
        index: &Index,
        eager: bool,
        stop: &dyn Fn() -> bool,
    ) -> rusqlite::Result<Option<Self>> {
        let Some(known) = index.known(None, stop)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            known: RefCell::new(known),
            eager,
            found: Cell::new(0),
            early: RefCell::new(Vec::new()),
            early_indexed: Cell::new(0),
            late: RefCell::new(Vec::new()),
        }))
    }

    /// The walk's [`crate::scan::WalkHooks::keep`]: whether the walk keeps `file` for the run
    /// after it. Unchanged files and those taken for early reading are not kept.
    pub fn keep(&self, file: &FileEntry) -> bool {
        self.found.set(self.found.get() + 1);
        if !self.known.borrow_mut().changed(file) {
            return false;
        }
        let mut early = self.early.borrow_mut();
        if self.eager && self.early_indexed.get() + early.len() < EARLY {
            early.push(file.clone());
            return false;
        }
        true
    }

    /// At a pause of the walk: re-read the changed files found since the last one. On an
    /// error they are kept for the run after the walk, and the error is returned with their
    /// number.
    pub fn catch_up(
        &self,
        index: &mut Index,
        roots: &[Root],
        max_file_size: u64,
    ) -> Result<(), (usize, rusqlite::Error)> {
        let files = std::mem::take(&mut *self.early.borrow_mut());
        if files.is_empty() {
            return Ok(());
        }
        let count = files.len();
        match index.upsert(files.clone(), roots, max_file_size) {
            Ok(()) => {
                self.early_indexed.set(self.early_indexed.get() + count);
                Ok(())
            }
            Err(e) => {
                self.late.borrow_mut().extend(files);
                Err((count, e))
            }
        }
    }

    /// How many files were re-read during the walk.
    pub fn early_indexed(&self) -> usize {
        self.early_indexed.get()
    }

    /// The walk is over and kept `kept`: what is left to do.
    pub fn into_plan(self, kept: Vec<FileEntry>) -> Plan {
        let mut todo = kept;
        todo.extend(self.early.into_inner());
        todo.extend(self.late.into_inner());
        Plan {
            files: self.found.get(),
            todo,
            gone: self.known.into_inner().gone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::Config;
    use crate::index::Hooks;
    use crate::paths::Roots;
    use crate::scan::{self, WalkHooks};
    use crate::search::{Query, Searcher};

    struct Tree {
        _dir: tempfile::TempDir,
        roots: Roots,
        index: Index,
        searcher: Searcher,
    }

    impl Tree {
        /// `files` written under a root and indexed.
        fn indexed(files: &[(&str, &str)]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let root = fs::canonicalize(dir.path()).unwrap().join("root");
            for (rel, text) in files {
                let path = root.join(rel);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, text).unwrap();
            }
            let config = Config {
                roots: vec![root.display().to_string()],
                ..Config::default()
            };
            let (roots, _) = Roots::new(&config, None).unwrap();
            let at = dir.path().join("index.sqlite");
            let mut index = Index::open(&at, 1 << 20).unwrap();
            let walk = scan::walk(roots.roots(), roots.filter(), None, &scan::QUIET);
            let quiet = &mut |_: &mut Index| Ok(());
            index
                .sync(walk.files, roots.roots(), 1 << 20, &mut Hooks::quiet(quiet))
                .unwrap();
            let searcher = Searcher::open(&at, 1 << 20).unwrap();
            Self {
                _dir: dir,
                roots,
                index,
                searcher,
            }
        }

        /// The walk's entry for `rel`.
        fn walked(&self, rel: &str) -> FileEntry {
            let walk = scan::walk(self.roots.roots(), self.roots.filter(), None, &scan::QUIET);
            let path = self.roots.roots()[0].path.join(rel).display().to_string();
            walk.files.into_iter().find(|f| f.path == path).unwrap()
        }

        fn rewrite(&self, rel: &str, text: &str) {
            let path = self.roots.roots()[0].path.join(rel);
            fs::write(&path, text).unwrap();
            // Moved explicitly: the test must not depend on the timestamps' resolution.
            let later = SystemTime::now() + Duration::from_secs(5);
            fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(later))
                .unwrap();
        }

        fn finds(&self, word: &str) -> usize {
            let query = Query {
                text: word,
                limit: 10,
                path_prefix: None,
            };
            self.searcher
                .search(&query, &self.roots)
                .unwrap()
                .hits
                .len()
        }
    }

    /// The walk stops at its first pause after the changed file: before, a reconciling
    /// walk re-read changed files only once it had listed everything, so a change made
    /// while no process ran waited for the whole walk (1.4-1.6 s at 100k files).
    #[test]
    fn a_changed_file_is_searchable_at_the_walks_next_pause() {
        // The root's own files are listed before its folders are entered, so the walk finds
        // plan.txt first and pauses at least four times after it.
        let mut names: Vec<(String, String)> = (0..1200)
            .map(|i| (format!("f{}/f{i}.txt", i % 2), format!("filler {i}")))
            .collect();
        names.push(("plan.txt".into(), "old words".into()));
        let files: Vec<(&str, &str)> = names
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let mut tree = Tree::indexed(&files);
        tree.rewrite("plan.txt", "zebra crossing");
        assert_eq!(tree.finds("zebra"), 0);
        let reconciling = Reconciling::new(&tree.index, true, &|| false)
            .unwrap()
            .expect("not stopped");
        let index = RefCell::new(&mut tree.index);
        let roots = tree.roots.roots();
        let applied = Cell::new(false);
        let stop = || {
            reconciling
                .catch_up(&mut index.borrow_mut(), roots, 1 << 20)
                .unwrap();
            applied.set(reconciling.early_indexed() > 0);
            applied.get()
        };
        let walk = scan::walk(
            roots,
            tree.roots.filter(),
            None,
            &WalkHooks {
                stop: &stop,
                keep: &|file| reconciling.keep(file),
                ..scan::QUIET
            },
        );
        assert!(
            walk.cancelled,
            "the walk stopped at the pause after the change"
        );
        assert!(walk.files.is_empty(), "nothing unchanged is kept for later");
        assert_eq!(tree.finds("zebra"), 1, "searchable before the walk ended");
    }

    /// A one-shot command's process waits for this thread when it exits; reading 100k rows
    /// before the walk took 100-300 ms of every `switchboard search` and did not look at the
    /// stop until it was done.
    #[test]
    fn reading_the_rows_stops_when_told_and_reads_them_all_otherwise() {
        let names: Vec<(String, String)> = (0..2100)
            .map(|i| (format!("d{}/f{i}.txt", i % 3), format!("filler {i}")))
            .collect();
        let files: Vec<(&str, &str)> = names
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let tree = Tree::indexed(&files);
        let asked = Cell::new(0);
        let stop_now = || {
            asked.set(asked.get() + 1);
            true
        };
        assert!(
            Reconciling::new(&tree.index, true, &stop_now)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            asked.get(),
            1,
            "stopped at the first look, within 1,024 rows"
        );

        let asked = Cell::new(0);
        let go_on = || {
            asked.set(asked.get() + 1);
            false
        };
        let reconciling = Reconciling::new(&tree.index, true, &go_on)
            .unwrap()
            .expect("not stopped");
        assert_eq!(asked.get(), 2, "looked every 1,024 rows");
        let plan = reconciling.into_plan(Vec::new());
        assert_eq!(
            plan.gone.len(),
            2100,
            "every row read (none found by a walk)"
        );
    }

    /// A walk compares with rows read when it began; a change applied meanwhile (the watcher,
    /// a write tool) may remove a row and give its id to a new file. The walk's "gone" must not
    /// drop that new file's row.
    #[test]
    fn rows_gone_when_the_walk_began_do_not_take_a_new_file_with_them() {
        let mut tree = Tree::indexed(&[("a.txt", "apple")]);
        let root = tree.roots.roots()[0].path.clone();
        fs::write(root.join("z.txt"), "zucchini").unwrap();
        let z = tree.walked("z.txt");
        tree.index
            .upsert(vec![z], tree.roots.roots(), 1 << 20)
            .unwrap();
        let reconciling = Reconciling::new(&tree.index, true, &|| false)
            .unwrap()
            .expect("not stopped");
        // While the walk runs: z.txt (the highest id) is deleted and its row removed.
        fs::remove_file(root.join("z.txt")).unwrap();
        tree.index
            .remove_under(&root.join("z.txt").display().to_string())
            .unwrap();
        let walk = scan::walk(
            tree.roots.roots(),
            tree.roots.filter(),
            None,
            &WalkHooks {
                keep: &|file| reconciling.keep(file),
                ..scan::QUIET
            },
        );
        // After the walk passed: a new file, indexed the way the watcher's changes are; SQLite
        // gives it the freed id.
        fs::write(root.join("new.txt"), "nectarine").unwrap();
        let entry = tree.walked("new.txt");
        tree.index
            .upsert(vec![entry], tree.roots.roots(), 1 << 20)
            .unwrap();
        let plan = reconciling.into_plan(walk.files);
        assert_eq!(plan.gone.len(), 1, "z.txt's row, as the walk began");
        let quiet = &mut |_: &mut Index| Ok(());
        tree.index
            .run(plan, tree.roots.roots(), 1 << 20, &mut Hooks::quiet(quiet))
            .unwrap();
        assert_eq!(tree.finds("nectarine"), 1, "the new file keeps its row");
        assert_eq!(tree.finds("apple"), 1);
        assert_eq!(tree.finds("zucchini"), 0);
    }
}
