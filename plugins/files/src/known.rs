//! What the index holds for the files under a scope, to compare a walk against: path, row,
//! size and modification time. One comparison serves the first build, a folder's walk and the
//! reconciling walk of a new process; the last compares each file as the walk finds it, so a
//! file changed while nothing watched is re-read when the walk passes it, not when it ends.

use std::collections::HashMap;

use crate::scan::FileEntry;

/// The index's rows under a scope, each marked once a walk has found its file.
#[derive(Default)]
pub struct Known {
    rows: HashMap<Box<str>, Row, PathHasher>,
}

struct Row {
    id: i64,
    size: i64,
    mtime_ns: i64,
    found: bool,
}

impl Known {
    /// Read the rows `(id, path, size, mtime_ns)` of `rows` as they stream past, about `count`
    /// of them (the map is sized for that many up front). `None` once `stop` says so (checked
    /// every thousand rows): a one-shot command's process is shut down while a new process's
    /// reconciling walk reads 100k rows, and its exit waits for this thread.
    pub(crate) fn read(
        mut rows: rusqlite::Rows<'_>,
        count: usize,
        stop: &dyn Fn() -> bool,
    ) -> rusqlite::Result<Option<Self>> {
        let mut known = HashMap::with_capacity_and_hasher(count, PathHasher);
        let mut read = 0u32;
        while let Some(row) = rows.next()? {
            read = read.wrapping_add(1);
            if read.is_multiple_of(1024) && stop() {
                return Ok(None);
            }
            let path = row.get_ref(1)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
            })?;
            known.insert(
                Box::from(path),
                Row {
                    id: row.get(0)?,
                    size: row.get(2)?,
                    mtime_ns: row.get(3)?,
                    found: false,
                },
            );
        }
        Ok(Some(Self { rows: known }))
    }

    /// A walk found `file`: whether it is new or changed since it was indexed (so it must be
    /// read). Its row, if any, no longer counts as gone.
    pub fn changed(&mut self, file: &FileEntry) -> bool {
        let Some(row) = self.rows.get_mut(file.path.as_str()) else {
            return true;
        };
        row.found = true;
        let size = i64::try_from(file.size).unwrap_or(i64::MAX);
        row.size != size || row.mtime_ns != file.mtime_ns
    }

    /// The rows whose files no walk found, with their paths.
    pub fn gone(self) -> Vec<(i64, Box<str>)> {
        self.rows
            .into_iter()
            .filter_map(|(path, row)| (!row.found).then_some((row.id, path)))
            .collect()
    }
}

/// Hashing for maps keyed by paths this process walked itself: eight bytes at a time (the
/// multiply-rotate of rustc's FxHash), much cheaper than the default SipHash on 100k paths;
/// nothing an outsider chooses reaches it.
#[derive(Clone, Copy, Default)]
struct PathHasher;

/// The state of one [`PathHasher`] hash.
struct WordHash(u64);

impl WordHash {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::BuildHasher for PathHasher {
    type Hasher = WordHash;
    fn build_hasher(&self) -> WordHash {
        WordHash(0)
    }
}

impl std::hash::Hasher for WordHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            self.add(u64::from_le_bytes(eight));
        }
        let mut rest = [0u8; 8];
        rest[..words.remainder().len()].copy_from_slice(words.remainder());
        self.add(u64::from_le_bytes(rest) ^ (bytes.len() as u64) << 56);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
