//! The connector's tokenizer, and tokenizing the files' text on the thread that reads them, so
//! the index's single writer only stores terms.
//!
//! FTS5 lets one connection write at a time, and in a first build that writer spent most of
//! its time in the tokenizer (`porter` over `unicode61`), not in storing terms. So the thread
//! that reads the files also tokenizes them, with SQLite's own tokenizer made with the index's
//! arguments ([`Tokenizer`]); the writer's connection registers a tokenizer under the name
//! `porter` ([`install_replay`]) that, for the text of the row being inserted inside
//! [`with_tokens`], replays those tokens, and hands everything else (paths, names, queries,
//! rows written without tokens) to the built-in `porter`.
//!
//! Invariants:
//!
//! * What the index stores does not depend on any of this. A replay happens only for text
//!   equal byte for byte to the text the tokens were made from, and they were made by the
//!   built-in tokenizer with the same arguments; the index file names the built-in tokenizer,
//!   so every other connection (searches, the `sqlite3` shell) reads it with that one. The
//!   tests build the same rows both ways and compare every term at every position.
//! * Nothing here can fail a write: without a [`Tokenizer`] (or for text too long for FTS5's
//!   `int` lengths) a row is simply tokenized by the writer, as FTS5 always does.
//!
//! The functions SQLite calls are `extern "C"` and must not unwind: they index nothing, borrow
//! no `RefCell`, and check every length they decode.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;

use rusqlite::Connection;
use rusqlite::ffi::{
    FTS5_TOKENIZE_DOCUMENT, Fts5Tokenizer, SQLITE_DONE, SQLITE_ERROR, SQLITE_OK, fts5_api,
    fts5_tokenizer,
};
use rusqlite::types::ToSqlOutput;

/// The tokenizer of every FTS table the connector makes (the index and the snippet table):
/// English stemming over Unicode words, diacritics folded, `_` inside words.
pub const TOKENIZER: &str = "porter unicode61 remove_diacritics 2 tokenchars '_'";

/// The signature of FTS5's per-token callback.
type TokenFn =
    unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int;

/// [`TOKENIZER`] as FTS5 parses it: the tokenizer's name, then its arguments.
fn tokenizer_words() -> Vec<CString> {
    TOKENIZER
        .split_whitespace()
        .map(|w| CString::new(w.trim_matches('\'')).expect("no NUL in TOKENIZER"))
        .collect()
}

fn failure(why: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(SQLITE_ERROR),
        Some(format!("the FTS5 tokenizer: {why}")),
    )
}

fn check(rc: c_int, what: &str) -> rusqlite::Result<()> {
    if rc == SQLITE_OK {
        Ok(())
    } else {
        Err(failure(&format!("{what} failed (SQLite result code {rc})")))
    }
}

/// The FTS5 API of `conn` (one per connection; it lives as long as the connection).
fn fts5_api(conn: &Connection) -> rusqlite::Result<*mut fts5_api> {
    let mut api: *mut fts5_api = ptr::null_mut();
    let out = ToSqlOutput::Pointer((
        ptr::addr_of_mut!(api).cast::<c_void>().cast_const(),
        c"fts5_api_ptr",
        None,
    ));
    conn.query_row("SELECT fts5(?1)", [out], |_| Ok(()))?;
    if api.is_null() {
        return Err(failure("this SQLite has no FTS5"));
    }
    Ok(api)
}

/// A tokenizer module as FTS5 hands it out: its functions and the context they take.
#[derive(Clone, Copy)]
struct Module {
    context: *mut c_void,
    x: fts5_tokenizer,
}

impl Module {
    /// The module registered under `name` on the connection of `api`, as it is now.
    fn find(api: *mut fts5_api, name: &CString) -> rusqlite::Result<Self> {
        let mut module = Module {
            context: ptr::null_mut(),
            x: fts5_tokenizer {
                xCreate: None,
                xDelete: None,
                xTokenize: None,
            },
        };
        // SAFETY: `api` came from `fts5_api` for a connection still open; FTS5 fills both out
        // parameters or returns an error.
        let rc = unsafe {
            let find = (*api)
                .xFindTokenizer
                .ok_or_else(|| failure("no xFindTokenizer"))?;
            find(api, name.as_ptr(), &mut module.context, &mut module.x)
        };
        check(rc, "finding the built-in tokenizer")?;
        if module.x.xCreate.is_none() || module.x.xDelete.is_none() || module.x.xTokenize.is_none()
        {
            return Err(failure("the built-in tokenizer is incomplete"));
        }
        Ok(module)
    }
}

/// SQLite's own tokenizer, made as the index makes it, on a connection of its own so it can
/// run on any one thread (the index's reading thread). Not `Send`: it stays where it was made.
pub struct Tokenizer {
    module: Module,
    instance: *mut Fts5Tokenizer,
    /// Owns the FTS5 context the module lives in; dropped after `instance` is deleted.
    _conn: Connection,
}

impl Tokenizer {
    /// Make the tokenizer of [`TOKENIZER`].
    pub fn new() -> rusqlite::Result<Self> {
        let conn = Connection::open_in_memory()?;
        let api = fts5_api(&conn)?;
        let words = tokenizer_words();
        let (name, args) = words.split_first().ok_or_else(|| failure("no tokenizer"))?;
        let module = Module::find(api, name)?;
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let mut instance = ptr::null_mut();
        // SAFETY: `Module::find` checked the functions are there; `argv` outlives the call.
        let rc = unsafe {
            (module.x.xCreate.expect("checked"))(
                module.context,
                argv.as_mut_ptr(),
                c_int::try_from(argv.len()).unwrap_or(0),
                &mut instance,
            )
        };
        check(rc, "making the tokenizer")?;
        Ok(Self {
            module,
            instance,
            _conn: conn,
        })
    }

    /// The tokens of `text` as the index would make them for a document's column; `None`
    /// when FTS5 could not take the text whole (longer than `int`) or the tokenizer failed,
    /// and the writer then tokenizes it itself.
    pub fn tokenize(&mut self, text: &str) -> Option<Tokens> {
        let len = c_int::try_from(text.len()).ok()?;
        let mut tokens = Tokens {
            encoded: Vec::with_capacity(text.len() + text.len() / 4),
            last_end: 0,
        };
        // SAFETY: the instance is alive (deleted only on drop) and used on this thread only;
        // `collect` gets `tokens` as its context for the length of the call.
        let rc = unsafe {
            (self.module.x.xTokenize.expect("checked"))(
                self.instance,
                ptr::addr_of_mut!(tokens).cast(),
                FTS5_TOKENIZE_DOCUMENT,
                text.as_ptr().cast(),
                len,
                Some(collect),
            )
        };
        (rc == SQLITE_OK).then_some(tokens)
    }
}

impl Drop for Tokenizer {
    fn drop(&mut self) {
        // SAFETY: made by this module's xCreate, deleted once, before its connection closes.
        unsafe { (self.module.x.xDelete.expect("checked"))(self.instance) }
    }
}

/// The tokens of one text, in the order the tokenizer gave them: for each, its flags, its
/// bytes, and where it was in the text, packed as variable-length integers (a 1 MiB file's
/// tokens take about as much memory as its text).
#[derive(Debug, Default)]
pub struct Tokens {
    encoded: Vec<u8>,
    /// The end offset of the last token recorded (starts are stored relative to it).
    last_end: i64,
}

impl Tokens {
    /// Memory the tokens hold, for the reading thread's read-ahead bound.
    pub fn bytes(&self) -> usize {
        self.encoded.capacity()
    }

    fn push(&mut self, flags: c_int, token: &[u8], start: c_int, end: c_int) {
        put(&mut self.encoded, zigzag(i64::from(flags)));
        put(&mut self.encoded, token.len() as u64);
        self.encoded.extend_from_slice(token);
        put(&mut self.encoded, zigzag(i64::from(start) - self.last_end));
        put(&mut self.encoded, zigzag(i64::from(end) - i64::from(start)));
        self.last_end = i64::from(end);
    }

    /// Hand every token to FTS5's callback, as the tokenizer did; stops at the callback's
    /// first error, and, like the built-in tokenizers, reports `SQLITE_DONE` as success.
    ///
    /// # Safety
    /// `token` and `context` must be the pair FTS5 passed to `xTokenize`.
    unsafe fn replay(&self, context: *mut c_void, token: TokenFn) -> c_int {
        let mut at = 0;
        let mut last_end = 0i64;
        let bytes = &self.encoded[..];
        while at < bytes.len() {
            let Some((flags, text, start, end)) = next_token(bytes, &mut at, &mut last_end) else {
                return SQLITE_ERROR;
            };
            // SAFETY: the caller's contract; `text` lives in `self`, which outlives the call.
            let rc = unsafe {
                token(
                    context,
                    flags,
                    text.as_ptr().cast(),
                    text.len() as c_int,
                    start,
                    end,
                )
            };
            if rc == SQLITE_DONE {
                break;
            }
            if rc != SQLITE_OK {
                return rc;
            }
        }
        SQLITE_OK
    }
}

/// One token decoded from `bytes` at `at`: (flags, bytes, start, end); `None` if malformed.
fn next_token<'a>(
    bytes: &'a [u8],
    at: &mut usize,
    last_end: &mut i64,
) -> Option<(c_int, &'a [u8], c_int, c_int)> {
    let flags = c_int::try_from(unzigzag(take(bytes, at)?)).ok()?;
    let len = usize::try_from(take(bytes, at)?).ok()?;
    let text = bytes.get(*at..at.checked_add(len)?)?;
    *at += len;
    let start = last_end.checked_add(unzigzag(take(bytes, at)?))?;
    let end = start.checked_add(unzigzag(take(bytes, at)?))?;
    *last_end = end;
    Some((
        flags,
        text,
        c_int::try_from(start).ok()?,
        c_int::try_from(end).ok()?,
    ))
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// FTS5's callback while [`Tokenizer::tokenize`] runs: record the token.
unsafe extern "C" fn collect(
    context: *mut c_void,
    flags: c_int,
    token: *const c_char,
    len: c_int,
    start: c_int,
    end: c_int,
) -> c_int {
    let Ok(len) = usize::try_from(len) else {
        return SQLITE_ERROR;
    };
    // SAFETY: `context` is the `Tokens` `tokenize` passed; FTS5 gives `len` bytes at `token`.
    unsafe {
        let tokens = &mut *context.cast::<Tokens>();
        let bytes = if len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(token.cast::<u8>(), len)
        };
        tokens.push(flags, bytes, start, end);
    }
    SQLITE_OK
}

/// What [`with_tokens`] offers the replaying tokenizer on this thread.
#[derive(Clone, Copy)]
struct Pending {
    text: *const u8,
    len: usize,
    tokens: *const Tokens,
}

impl Pending {
    const NONE: Pending = Pending {
        text: ptr::null(),
        len: 0,
        tokens: ptr::null(),
    };
}

thread_local! {
    static PENDING: Cell<Pending> = const { Cell::new(Pending::NONE) };
}

/// Run `write` (one row's insert on a connection with [`install_replay`]) with `tokens`, made
/// by a [`Tokenizer`] from `text`, offered for that text: FTS5 stores them instead of
/// tokenizing `text` again. Other text the write tokenizes is tokenized as usual.
pub fn with_tokens<R>(text: &str, tokens: &Tokens, write: impl FnOnce() -> R) -> R {
    struct Restore(Pending);
    impl Drop for Restore {
        fn drop(&mut self) {
            PENDING.set(self.0);
        }
    }
    let _restore = Restore(PENDING.replace(Pending {
        text: text.as_ptr(),
        len: text.len(),
        tokens,
    }));
    write()
}

/// The tokens offered for exactly this text, if any.
///
/// # Safety
/// `text` must point at `len` readable bytes (or `len` be 0).
unsafe fn pending_for(text: *const c_char, len: c_int) -> Option<*const Tokens> {
    let pending = PENDING.try_with(Cell::get).unwrap_or(Pending::NONE);
    let len = usize::try_from(len).ok().filter(|&n| n > 0)?;
    if pending.tokens.is_null() || text.is_null() || pending.len != len {
        return None;
    }
    // SAFETY: the caller's contract for `text`; `with_tokens` keeps its text borrowed (so
    // alive and unchanged) while `PENDING` points at it.
    let same = unsafe {
        std::slice::from_raw_parts(text.cast::<u8>(), len)
            == std::slice::from_raw_parts(pending.text, len)
    };
    same.then_some(pending.tokens)
}

/// The built-in tokenizer a replaying one falls back to, as the connection had it.
struct Replaying {
    builtin: Module,
}

/// One replaying tokenizer (FTS5 makes one per table it opens).
struct ReplayInstance {
    builtin: fts5_tokenizer,
    inner: *mut Fts5Tokenizer,
}

/// Register, on the index writer's connection, the tokenizer that replays [`with_tokens`]'s
/// tokens, under the name of the built-in one it stands in for. Call once, before the
/// connection first touches an FTS table.
pub fn install_replay(conn: &Connection) -> rusqlite::Result<()> {
    let api = fts5_api(conn)?;
    let words = tokenizer_words();
    let name = words.first().ok_or_else(|| failure("no tokenizer"))?;
    let context = Box::into_raw(Box::new(Replaying {
        builtin: Module::find(api, name)?,
    }));
    let mut x = fts5_tokenizer {
        xCreate: Some(replay_create),
        xDelete: Some(replay_delete),
        xTokenize: Some(replay_tokenize),
    };
    // SAFETY: FTS5 copies `x`, keeps `context` until the connection closes and then calls
    // `drop_replaying` on it; on failure it keeps nothing, and the box is freed here.
    let rc = unsafe {
        let create = (*api)
            .xCreateTokenizer
            .ok_or_else(|| failure("no xCreateTokenizer"))?;
        create(
            api,
            name.as_ptr(),
            context.cast(),
            &mut x,
            Some(drop_replaying),
        )
    };
    if rc != SQLITE_OK {
        // SAFETY: FTS5 did not take the box.
        drop(unsafe { Box::from_raw(context) });
    }
    check(rc, "registering the replaying tokenizer")
}

unsafe extern "C" fn drop_replaying(context: *mut c_void) {
    // SAFETY: the box `install_replay` gave FTS5, handed back once.
    drop(unsafe { Box::from_raw(context.cast::<Replaying>()) });
}

unsafe extern "C" fn replay_create(
    context: *mut c_void,
    args: *mut *const c_char,
    nargs: c_int,
    out: *mut *mut Fts5Tokenizer,
) -> c_int {
    // SAFETY: `context` is the `Replaying` registered with this function; the built-in
    // module's functions were checked present by `Module::find`.
    unsafe {
        let replaying = &*context.cast::<Replaying>();
        let builtin = replaying.builtin;
        let mut inner = ptr::null_mut();
        let Some(create) = builtin.x.xCreate else {
            return SQLITE_ERROR;
        };
        let rc = create(builtin.context, args, nargs, &mut inner);
        if rc != SQLITE_OK {
            return rc;
        }
        *out = Box::into_raw(Box::new(ReplayInstance {
            builtin: builtin.x,
            inner,
        }))
        .cast();
    }
    SQLITE_OK
}

unsafe extern "C" fn replay_delete(instance: *mut Fts5Tokenizer) {
    // SAFETY: made by `replay_create`, deleted once.
    unsafe {
        let instance = Box::from_raw(instance.cast::<ReplayInstance>());
        if let Some(delete) = instance.builtin.xDelete {
            delete(instance.inner);
        }
    }
}

unsafe extern "C" fn replay_tokenize(
    instance: *mut Fts5Tokenizer,
    context: *mut c_void,
    flags: c_int,
    text: *const c_char,
    len: c_int,
    token: Option<TokenFn>,
) -> c_int {
    // SAFETY: `instance` was made by `replay_create`; FTS5 passes `len` bytes at `text` and
    // the callback with its context.
    unsafe {
        let instance = &*instance.cast::<ReplayInstance>();
        if flags == FTS5_TOKENIZE_DOCUMENT
            && let Some(callback) = token
            && let Some(tokens) = pending_for(text, len)
        {
            return (*tokens).replay(context, callback);
        }
        match instance.builtin.xTokenize {
            Some(tokenize) => tokenize(instance.inner, context, flags, text, len, token),
            None => SQLITE_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: &[&str] = &[
        "The quick brown foxes were jumping over the lazy dogs; parsing parsed parses.",
        "snake_case_identifier and CamelCaseName with __dunder__ and x_1 or 3.14",
        "Crème brûlée, naïve café, Ångström, ΑΘΗΝΑ, Москва",
        "漢字とかなの混じった文 and emoji 🎉🎉 between words",
        "   leading and trailing spaces\t\n  ",
        "a",
        "",
    ];

    fn table(conn: &Connection) {
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE t USING fts5 (
                 name, body, content = '', contentless_delete = 1, tokenize = \"{TOKENIZER}\"
             );
             CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');"
        ))
        .expect("tables");
    }

    /// Every (term, row, column, position) the table holds.
    fn instances(conn: &Connection) -> Vec<(String, i64, String, i64)> {
        let mut stmt = conn
            .prepare("SELECT term, doc, col, offset FROM v ORDER BY doc, col, offset, term")
            .expect("vocab");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    fn insert(conn: &Connection, row: i64, body: &str) {
        conn.execute(
            "INSERT INTO t (rowid, name, body) VALUES (?1, 'My_notes-v2.txt', ?2)",
            rusqlite::params![row, body],
        )
        .expect("insert");
    }

    fn texts() -> Vec<String> {
        let mut texts: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
        // Long enough that offsets and counts need several bytes each.
        texts.push(TEXTS[..4].join(" ").repeat(2_000));
        texts
    }

    #[test]
    fn rows_written_with_replayed_tokens_hold_what_the_builtin_tokenizer_stores() {
        let plain = Connection::open_in_memory().expect("open");
        table(&plain);
        let replaying = Connection::open_in_memory().expect("open");
        install_replay(&replaying).expect("install");
        table(&replaying);
        let mut tokenizer = Tokenizer::new().expect("tokenizer");
        for (row, text) in (0..).zip(texts().iter()) {
            insert(&plain, row, text);
            let tokens = tokenizer.tokenize(text).expect("tokens");
            with_tokens(text, &tokens, || insert(&replaying, row, text));
        }
        let stored = instances(&plain);
        assert!(stored.len() > 20_000, "{} instances", stored.len());
        assert!(stored.iter().any(|(term, ..)| term == "jump"), "stemmed");
        assert!(stored.iter().any(|(term, ..)| term == "creme"), "folded");
        let replayed = instances(&replaying);
        let differs = stored.iter().zip(&replayed).position(|(a, b)| a != b);
        assert!(
            differs.is_none() && stored.len() == replayed.len(),
            "{} instances stored, {} replayed; first difference at {differs:?}: {:?} against {:?}",
            stored.len(),
            replayed.len(),
            differs.map(|i| &stored[i]),
            differs.map(|i| &replayed[i]),
        );
        // Queries on the writer's connection go to the built-in tokenizer.
        let hit: i64 = replaying
            .query_row("SELECT rowid FROM t WHERE t MATCH 'jumped'", [], |r| {
                r.get(0)
            })
            .expect("match");
        assert_eq!(hit, 0);
    }

    #[test]
    fn the_tokens_offered_for_a_text_are_what_is_stored_for_it_and_for_nothing_else() {
        let conn = Connection::open_in_memory().expect("open");
        install_replay(&conn).expect("install");
        table(&conn);
        let mut tokenizer = Tokenizer::new().expect("tokenizer");
        let other = tokenizer.tokenize("gamma delta").expect("tokens");
        // The same text: the offered tokens are stored (the replay is what writes).
        with_tokens("alpha beta", &other, || insert(&conn, 1, "alpha beta"));
        // Text of the same length but other bytes, and a write outside `with_tokens`: the
        // built-in tokenizer's own tokens.
        with_tokens("alpha beta", &other, || insert(&conn, 2, "alpha betb"));
        insert(&conn, 3, "alpha beta");
        let body = |row: i64| -> Vec<String> {
            instances(&conn)
                .into_iter()
                .filter(|(_, doc, col, _)| *doc == row && col == "body")
                .map(|(term, ..)| term)
                .collect()
        };
        assert_eq!(body(1), ["gamma", "delta"]);
        assert_eq!(body(2), ["alpha", "betb"]);
        assert_eq!(body(3), ["alpha", "beta"]);
    }
}
