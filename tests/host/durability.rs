//! The audit trail under pressure: end of input and signals with calls in flight, a database
//! locked by another process or on a full disk, kill -9, and a shutdown the database will
//! not let finish. Every answered call has its row, or (kill -9 only) the rows missing are
//! the last ones answered, at most one batch.

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::support::raw::Raw;
use crate::support::{Home, Plugin, stdout};

const CONFIG: &str = "connectors:\n  probe: {enabled: true}\nplugins:\n  bundled: false\n  max_concurrent_calls: 256\n";

fn probe_home() -> Home {
    let home = Home::new(CONFIG);
    home.install(Plugin::Probe);
    home
}

/// The request ids (the JSON-RPC part) of the `tools/call` rows on disk.
fn call_rows(home: &Home) -> Vec<String> {
    let output = home.run(&["audit", "--json", "--limit", "100000000"]);
    assert!(output.status.success(), "{output:?}");
    stdout(&output)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("audit JSON line"))
        .filter(|row| row["method"] == "tools/call")
        .map(|row| {
            let id = row["request_id"].as_str().expect("request id");
            id.rsplit('/').next().expect("id part").to_string()
        })
        .collect()
}

fn slow_call(id: i64, ms: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "probe__slow", "arguments": {"ms": ms}}})
}

/// The ids of the successful answers among `messages`.
fn answered(messages: &[Value]) -> HashSet<i64> {
    messages
        .iter()
        .filter(|m| m["result"]["content"][0]["text"].is_string())
        .filter_map(|m| m["id"].as_i64())
        .collect()
}

#[tokio::test]
async fn end_of_input_with_200_calls_in_flight_answers_and_records_every_one() {
    let home = probe_home();
    let mut raw = Raw::spawn(&home);
    raw.initialize().await;
    for id in 100..300 {
        raw.send(slow_call(id, 300)).await;
    }
    raw.close_input();
    let messages = raw.rest().await;
    let answers = answered(&messages);
    assert_eq!(
        answers.len(),
        200,
        "answers after end of input: {messages:?}"
    );
    assert!(raw.exit().await.success());
    assert_eq!(call_rows(&home).len(), 200, "one row per answered call");
}

#[cfg(unix)]
async fn signal_with_calls_in_flight(signal: i32) {
    let home = probe_home();
    let mut raw = Raw::spawn(&home);
    raw.initialize().await;
    for id in 100..150 {
        raw.send(slow_call(id, 500)).await;
    }
    // Requests are read in order: once the ping is answered, the 50 calls have been read.
    raw.send(json!({"jsonrpc": "2.0", "id": 999, "method": "ping"}))
        .await;
    raw.response(999).await;
    // SAFETY: signalling the child this test started.
    assert_eq!(unsafe { libc::kill(raw.pid(), signal) }, 0);
    let messages = raw.rest().await;
    assert_eq!(answered(&messages).len(), 50, "{messages:?}");
    assert!(raw.exit().await.success());
    assert_eq!(call_rows(&home).len(), 50);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_with_calls_in_flight_answers_and_records_every_one() {
    signal_with_calls_in_flight(libc::SIGTERM).await;
}

#[cfg(unix)]
#[tokio::test]
async fn sigint_with_calls_in_flight_answers_and_records_every_one() {
    signal_with_calls_in_flight(libc::SIGINT).await;
}

/// Hold an exclusive lock on the database from another connection (another process, to
/// SQLite) until the returned connection commits.
fn lock_database(home: &Home) -> rusqlite::Connection {
    let locker = rusqlite::Connection::open(home.path().join("state").join("switchboard.db"))
        .expect("open the database");
    locker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    locker
}

#[tokio::test]
async fn a_database_locked_for_10_s_loses_no_row() {
    let home = probe_home();
    let mut raw = Raw::spawn(&home);
    raw.initialize().await;
    let locker = lock_database(&home);
    // Calls keep coming for the whole 10 s the lock is held, each answered at once.
    let held = std::time::Instant::now();
    let mut id = 100;
    while held.elapsed() < std::time::Duration::from_secs(10) {
        let answer = raw
            .call(id, "probe__echo", json!({"text": format!("call {id}")}))
            .await;
        assert!(answer["result"].is_object(), "{answer}");
        id += 1;
        raw.send(json!({"jsonrpc": "2.0", "id": 0, "method": "ping"}))
            .await;
        raw.response(0).await;
    }
    locker.execute_batch("COMMIT").expect("unlock");
    drop(locker);
    assert!(raw.finish().await.success());
    let calls = (id - 100) as usize;
    assert_eq!(call_rows(&home).len(), calls, "rows of {calls} calls");
}

#[tokio::test]
async fn a_shutdown_the_database_will_not_let_finish_keeps_its_rows_for_the_next_start() {
    let home = probe_home();
    let mut raw = Raw::spawn(&home);
    raw.initialize().await;
    let locker = lock_database(&home);
    for id in 100..120 {
        let answer = raw.call(id, "probe__echo", json!({"text": "x"})).await;
        assert!(answer["result"].is_object(), "{answer}");
    }
    // The lock outlasts the shutdown: it gives up after its limit and spills the rows.
    assert!(raw.finish().await.success());
    let state = home.path().join("state");
    let spilled = spill_files(&state);
    assert_eq!(spilled.len(), 1, "{spilled:?}");
    locker.execute_batch("COMMIT").expect("unlock");
    drop(locker);
    // The next process to open the database replays them.
    assert_eq!(call_rows(&home).len(), 20);
    assert!(spill_files(&state).is_empty());
}

fn spill_files(state: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(state)
        .expect("state folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("unwritten-"))
        })
        .collect()
}

/// kill -9 after `before` calls answered one after another: the calls without a row are
/// the last ones answered, no more than one batch of them.
#[cfg(unix)]
#[tokio::test]
async fn kill_9_loses_at_most_the_last_batch_window() {
    for round in 0..3 {
        let home = probe_home();
        let mut raw = Raw::spawn(&home);
        raw.initialize().await;
        let before = 200 + round * 97;
        for id in 0..before {
            let answer = raw
                .call(id + 100, "probe__echo", json!({"text": "x"}))
                .await;
            assert!(answer["result"].is_object(), "{answer}");
        }
        // SAFETY: signalling the child this test started.
        assert_eq!(unsafe { libc::kill(raw.pid(), libc::SIGKILL) }, 0);
        assert!(!raw.exit().await.success());
        let rows: HashSet<i64> = call_rows(&home)
            .iter()
            .map(|id| id.parse().expect("numeric id"))
            .collect();
        let missing: Vec<i64> = (100..100 + before)
            .filter(|id| !rows.contains(id))
            .collect();
        // Calls were answered in id order, so the missing ones must be a tail.
        if let Some(first) = missing.first() {
            assert_eq!(
                missing,
                (*first..100 + before).collect::<Vec<_>>(),
                "round {round}: a row older than the last batch is missing"
            );
        }
        assert!(
            missing.len() <= 512,
            "round {round}: {} missing",
            missing.len()
        );
        let db = rusqlite::Connection::open(home.path().join("state").join("switchboard.db"))
            .expect("open the database");
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(integrity, "ok", "round {round}");
    }
}

/// A state folder on a small tmpfs that fills up while calls are answered, then is freed:
/// every row is written once there is room. Mounting needs root; without it the test says
/// so and checks nothing.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_then_freed_loses_no_row() {
    let home = probe_home();
    let state = home.path().join("state");
    std::fs::create_dir_all(&state).expect("state folder");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&state)
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: mounting a tmpfs needs root ({mounted:?})");
        return;
    }
    let _unmount = Unmount(state.clone());
    let mut raw = Raw::spawn(&home);
    raw.initialize().await;
    assert!(raw.call(100, "probe__echo", json!({"text": "x"})).await["result"].is_object());
    // Wait for the first row, so the database file exists before the disk fills.
    while call_rows(&home).is_empty() {
        tokio::task::yield_now().await;
    }
    let filler = state.join("filler");
    fill(&filler);
    for id in 101..200 {
        let answer = raw
            .call(id, "probe__echo", json!({"text": "x".repeat(2000)}))
            .await;
        assert!(answer["result"].is_object(), "{answer}");
    }
    std::fs::remove_file(&filler).expect("free the disk");
    assert!(raw.finish().await.success());
    assert_eq!(call_rows(&home).len(), 100);
}

/// Write `path` until the file system is full.
#[cfg(target_os = "linux")]
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = file.write_all(&block).and_then(|()| file.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            return;
        }
    }
}

#[cfg(target_os = "linux")]
struct Unmount(std::path::PathBuf);

#[cfg(target_os = "linux")]
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
