//! The files connector's confinement under a concurrent local attacker: while a thread swaps a
//! shared file or folder with a symlink leading out of the root (an atomic `RENAME_EXCHANGE`,
//! as fast as the kernel allows), the client reads (`read`, `fetch`, `list`, `resources/read`)
//! and changes (`write`, `mkdir`, `delete`, `move`) through the real plugin loaded by
//! switchboard. Whatever interleaving the race produces, nothing outside the root is read,
//! written, created, moved or deleted: the plugin opens everything beneath its root handle
//! without following any symlink, so a link swapped in after the check fails the open.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rmcp::model::ReadResourceRequestParams;
use serde_json::json;

use crate::support::{Home, Plugin, call, connect, text_of};

/// What the file outside the root holds; a reply that contains it leaked.
const MARKER: &str = "OUTSIDE-THE-ROOT-MARKER";

/// How many reads race the swapper.
const READS: usize = 2_000;

/// How many rounds of write, mkdir, delete and move race the swapper.
const WRITE_ROUNDS: usize = 400;

/// Swap the names `a` and `b` in one system call (both must exist).
fn exchange(a: &Path, b: &Path) {
    let a = CString::new(a.as_os_str().as_bytes()).expect("path");
    let b = CString::new(b.as_os_str().as_bytes()).expect("path");
    // SAFETY: two valid NUL-terminated paths; the call only renames.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
}

/// A thread that exchanges each pair of names, over and over, until `stop`; counts the swaps.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(pairs: Vec<(PathBuf, PathBuf)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, swaps) = (stop.clone(), swaps.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for (a, b) in &pairs {
                        exchange(a, b);
                    }
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        Self {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    /// Stop swapping, leaving each pair as it started (an even number of swaps); the count.
    fn finish(mut self, pairs: &[(PathBuf, PathBuf)]) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("swapper");
        }
        let swaps = self.swaps.load(Ordering::Relaxed);
        if swaps % 2 == 1 {
            for (a, b) in pairs {
                exchange(a, b);
            }
        }
        swaps
    }
}

/// The names in `folder`, recursively, relative to it.
fn tree(folder: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            names.insert(
                path.strip_prefix(folder)
                    .expect("under")
                    .display()
                    .to_string(),
            );
            if entry.file_type().expect("type").is_dir() {
                pending.push(path);
            }
        }
    }
    names
}

fn config(root: &Path) -> String {
    format!(
        "connectors:\n  files:\n    config:\n      roots: [{:?}]\n      rescan_seconds: 0\n",
        root.display().to_string()
    )
}

#[tokio::test]
async fn a_symlink_swapped_in_while_reading_never_leaks_what_is_outside() {
    let base = tempfile::tempdir().expect("tempdir");
    let base = std::fs::canonicalize(base.path()).expect("canonical");
    let (root, outside) = (base.join("root"), base.join("outside"));
    std::fs::create_dir_all(root.join("folder")).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("note.txt"), MARKER).expect("write");
    // A listing of the swapped folder that reached outside would show this name.
    std::fs::write(outside.join(format!("{MARKER}.txt")), "x").expect("write");
    std::fs::write(root.join("note.txt"), "inside the root").expect("write");
    std::fs::write(root.join("folder/note.txt"), "inside the folder").expect("write");
    // The symlinks live under hidden names, which the connector never shows.
    std::os::unix::fs::symlink(outside.join("note.txt"), root.join(".note-link")).expect("link");
    std::os::unix::fs::symlink(&outside, root.join(".folder-link")).expect("link");
    let pairs = vec![
        (root.join("note.txt"), root.join(".note-link")),
        (root.join("folder"), root.join(".folder-link")),
    ];

    let home = Home::new(&config(&root));
    home.install(Plugin::Files);
    let (client, _events) = connect(&home).await;

    let file = root.join("note.txt").display().to_string();
    let nested = root.join("folder/note.txt").display().to_string();
    let swapper = Swapper::start(pairs.clone());
    let (mut leaks, mut served, mut refused) = (0usize, 0usize, 0usize);
    let mut refusals = BTreeSet::new();
    for i in 0..READS {
        let path = if i % 2 == 0 { &file } else { &nested };
        let text = match i % 5 {
            0 | 1 => {
                let result = client
                    .call_tool(call("files__read", json!({"path": path})))
                    .await
                    .expect("read");
                if result.is_error == Some(true) {
                    refused += 1;
                    refusals.insert(first_words(&text_of(&result)));
                } else {
                    served += 1;
                }
                text_of(&result)
            }
            2 => match client
                .call_tool(call("fetch", json!({"id": format!("files:{path}")})))
                .await
            {
                Ok(result) => {
                    if result.is_error == Some(true) {
                        refused += 1;
                    } else {
                        served += 1;
                    }
                    format!("{:?}", result.content)
                }
                Err(e) => {
                    refused += 1;
                    e.to_string()
                }
            },
            3 => {
                let folder = root.join("folder").display().to_string();
                let result = client
                    .call_tool(call("files__list", json!({"path": folder})))
                    .await
                    .expect("list");
                if result.is_error == Some(true) {
                    refused += 1;
                } else {
                    served += 1;
                }
                format!("{:?}", result.content)
            }
            _ => match client
                .read_resource(ReadResourceRequestParams::new(format!("file://{path}")))
                .await
            {
                Ok(read) => {
                    served += 1;
                    format!("{:?}", read.contents)
                }
                Err(e) => {
                    refused += 1;
                    e.to_string()
                }
            },
        };
        if text.contains(MARKER) {
            leaks += 1;
        }
    }
    let swaps = swapper.finish(&pairs);
    eprintln!(
        "reads racing a symlink swap: {leaks} of {READS} leaked; {served} served, {refused} \
         refused, {swaps} swaps; refusals: {refusals:?}"
    );
    assert_eq!(
        leaks, 0,
        "{leaks} of {READS} reads returned the file outside the root"
    );
    assert!(
        served > 0,
        "some reads should find the file inside the root"
    );
    // Once the swapping stops, the file reads as always.
    let calm = client
        .call_tool(call("files__read", json!({"path": file})))
        .await
        .expect("read");
    assert_eq!(text_of(&calm), "inside the root");
    client.cancel().await.ok();
}

/// The start of a refusal, without the path, to report which refusals the race produced.
fn first_words(text: &str) -> String {
    text.split_whitespace()
        .skip(1)
        .take(6)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_symlinked_parent_swapped_in_never_redirects_a_change_outside() {
    let base = tempfile::tempdir().expect("tempdir");
    let base = std::fs::canonicalize(base.path()).expect("canonical");
    let (root, outside) = (base.join("root"), base.join("outside"));
    let folder = root.join("box");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    // The same names in the shared folder and outside: a delete or a move through the swapped
    // link would take the one outside.
    for i in 0..WRITE_ROUNDS {
        for place in [&folder, &outside] {
            std::fs::write(place.join(format!("victim-{i}.txt")), "victim").expect("write");
            std::fs::write(place.join(format!("leaving-{i}.txt")), "leaving").expect("write");
        }
        std::fs::write(root.join(format!("arriving-{i}.txt")), "arriving").expect("write");
    }
    std::os::unix::fs::symlink(&outside, root.join(".box-link")).expect("link");
    let pairs = vec![(folder.clone(), root.join(".box-link"))];
    let before = tree(&outside);

    let home = Home::new(&config(&root));
    home.install(Plugin::Files);
    let (client, _events) = connect(&home).await;

    let in_box = |name: String| folder.join(name).display().to_string();
    let swapper = Swapper::start(pairs.clone());
    let mut done = 0usize;
    for i in 0..WRITE_ROUNDS {
        let calls = [
            (
                "files__write",
                json!({"path": in_box(format!("written-{i}.txt")), "content": MARKER}),
            ),
            (
                "files__write",
                json!({"path": in_box(format!("new-{i}/deep.txt")), "content": MARKER,
                       "create_dirs": true}),
            ),
            ("files__mkdir", json!({"path": in_box(format!("made-{i}"))})),
            (
                "files__delete",
                json!({"path": in_box(format!("victim-{i}.txt"))}),
            ),
            (
                "files__move",
                json!({"from": in_box(format!("leaving-{i}.txt")),
                       "to": root.join(format!("left-{i}.txt")).display().to_string()}),
            ),
            (
                "files__move",
                json!({"from": root.join(format!("arriving-{i}.txt")).display().to_string(),
                       "to": in_box(format!("arrived-{i}.txt"))}),
            ),
        ];
        for (tool, arguments) in calls {
            let result = client.call_tool(call(tool, arguments)).await.expect("call");
            if result.is_error != Some(true) {
                done += 1;
            }
        }
    }
    let swaps = swapper.finish(&pairs);
    let after = tree(&outside);
    let appeared: Vec<_> = after.difference(&before).collect();
    let vanished: Vec<_> = before.difference(&after).collect();
    eprintln!(
        "changes racing a symlinked parent: {} appeared outside, {} vanished from outside, of \
         {} calls ({done} done, {swaps} swaps)",
        appeared.len(),
        vanished.len(),
        WRITE_ROUNDS * 6
    );
    assert!(
        appeared.is_empty() && vanished.is_empty(),
        "changes escaped the root: appeared {appeared:?}, vanished {vanished:?}"
    );
    assert!(done > 0, "some changes should land inside the root");
    client.cancel().await.ok();
}
