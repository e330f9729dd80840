//! The database schema and its migrations, keyed on SQLite's `user_version`.
//!
//! Migrations only ever append: migration N brings a database from version N to N+1, and a
//! database newer than this binary knows is refused rather than written to.

use rusqlite::Connection;

/// Each entry moves the schema one version up.
const MIGRATIONS: &[&str] = &[
    // 1: audit log, plugin key-value store, loaded plugin files.
    "CREATE TABLE audit (
        id          INTEGER PRIMARY KEY,
        request_id  TEXT NOT NULL,
        time        TEXT NOT NULL,
        session     TEXT NOT NULL,
        client      TEXT,
        method      TEXT NOT NULL,
        tool        TEXT,
        provider    TEXT,
        args_sha256 TEXT,
        arguments   TEXT,
        outcome     TEXT NOT NULL,
        error       TEXT,
        duration_ms REAL NOT NULL
    );
    CREATE INDEX audit_time ON audit(time);
    CREATE INDEX audit_request ON audit(request_id);
    CREATE TABLE kv (
        plugin  TEXT NOT NULL,
        key     TEXT NOT NULL,
        value   TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (plugin, key)
    );
    CREATE TABLE plugins (
        name        TEXT NOT NULL,
        file        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        version     TEXT NOT NULL,
        api_version TEXT NOT NULL,
        first_seen  TEXT NOT NULL,
        last_loaded TEXT NOT NULL,
        PRIMARY KEY (name, file, sha256)
    );",
    // 2: approvals: the inbox, grants, and the tool definitions seen (for drift).
    "CREATE TABLE approvals (
        id              TEXT PRIMARY KEY,
        request_id      TEXT NOT NULL,
        session         TEXT NOT NULL,
        pid             INTEGER NOT NULL,
        tool            TEXT NOT NULL,
        provider        TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        args_sha256     TEXT NOT NULL,
        summary         TEXT NOT NULL,
        created         TEXT NOT NULL,
        expires         TEXT NOT NULL,
        status          TEXT NOT NULL,
        remember        TEXT,
        decided         TEXT,
        decided_by      TEXT
    );
    CREATE INDEX approvals_status ON approvals(status);
    CREATE TABLE grants (
        id              TEXT PRIMARY KEY,
        tool            TEXT NOT NULL,
        provider        TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        scope           TEXT NOT NULL,
        session         TEXT,
        created         TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        revoked         TEXT
    );
    CREATE INDEX grants_tool ON grants(tool);
    CREATE TABLE tool_definitions (
        tool          TEXT PRIMARY KEY,
        provider      TEXT NOT NULL,
        hash          TEXT NOT NULL,
        first_seen    TEXT NOT NULL,
        last_seen     TEXT NOT NULL,
        previous_hash TEXT,
        changed       TEXT
    );
    ALTER TABLE audit ADD COLUMN decided_by TEXT;",
    // 3: plugin files' size and modification time, so an unchanged file's digest is reused
    // instead of read again at every start.
    "ALTER TABLE plugins ADD COLUMN size INTEGER;
    ALTER TABLE plugins ADD COLUMN mtime_ns INTEGER;",
    // 4: approvals bound to who asked (`session` holds the asker: a session id, or the client
    // identity of stateless requests), the client's name for the person, the arguments while
    // a question is open (the page shows a long value whole), the single-use nonce an MCP App
    // card answers with, and the sealed request states already used (a 2026-07-28 approval
    // answer is single-use).
    "ALTER TABLE approvals ADD COLUMN client TEXT;
    ALTER TABLE approvals ADD COLUMN arguments TEXT;
    ALTER TABLE approvals ADD COLUMN nonce TEXT;
    CREATE INDEX approvals_call ON approvals(tool, args_sha256);
    CREATE INDEX approvals_created ON approvals(created);
    CREATE TABLE spent_states (
        digest  TEXT PRIMARY KEY,
        expires TEXT NOT NULL
    );",
    // 5: spill files already replayed (by content hash), so a file whose replay committed
    // but was not yet deleted when the process died is not replayed twice.
    "CREATE TABLE replayed_spills (
        sha256   TEXT PRIMARY KEY,
        replayed TEXT NOT NULL
    );",
];

/// The schema version this binary writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring `conn` up to [`VERSION`].
pub fn migrate(conn: &mut Connection) -> Result<(), super::StateError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(super::StateError::TooNew {
            found: current,
            known: VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated while this one waited for the lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > index as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
