//! The Linux watcher against a real inotify: it keeps up under a flood, never follows a link,
//! and follows a renamed folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::{Seen, Watch};

/// Long enough for any machine; reached only when the watcher is stuck.
const STUCK: Duration = Duration::from_secs(30);

fn watching() -> (Watch, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let watch = Watch::start(
        &[],
        move |seen| {
            let _ = tx.lock().unwrap().send(seen);
        },
        |m| panic!("unexpected warning: {m}"),
    )
    .unwrap();
    (watch, rx)
}

/// Wait until `want` is among the paths seen.
fn wait_for(rx: &mpsc::Receiver<Seen>, want: &Path) {
    loop {
        match rx.recv_timeout(STUCK) {
            Ok(Seen::Paths(paths)) if paths.iter().any(|p| p == want) => return,
            Ok(_) => {}
            Err(e) => panic!("{} was never seen: {e}", want.display()),
        }
    }
}

/// Before our own reader, `folder` waited on `notify`'s event loop, which under a steady
/// stream of events never answered: the indexer stopped following changes (CI hung there).
#[test]
fn watching_a_folder_returns_and_its_changes_arrive_while_another_is_flooded() {
    let dir = tempfile::tempdir().unwrap();
    let busy = dir.path().join("busy");
    let quiet = dir.path().join("quiet");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::create_dir_all(&quiet).unwrap();
    let (watch, rx) = watching();
    watch.folder(&busy);
    // As in the confinement test: a watched folder and a symlink swapped in a loop, from
    // two threads, so events come faster than one reader takes them.
    let boxed = busy.join("box");
    let link = busy.join(".box-link");
    std::fs::create_dir(&boxed).unwrap();
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    watch.folder(&boxed);
    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = (0..2)
        .map(|_| {
            let (boxed, link, stop) = (boxed.clone(), link.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        &boxed,
                        rustix::fs::CWD,
                        &link,
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .unwrap();
                    swaps += 1;
                }
                swaps
            })
        })
        .collect();
    // The flood is under way once its events arrive.
    wait_for(&rx, &boxed);
    let (done_tx, done_rx) = mpsc::channel();
    let watch = Arc::new(watch);
    let adder = {
        let (watch, quiet) = (watch.clone(), quiet.clone());
        std::thread::spawn(move || {
            for i in 0..200 {
                let sub = quiet.join(format!("sub{i}"));
                std::fs::create_dir(&sub).unwrap();
                watch.folder(&sub);
            }
            watch.folder(&quiet);
            done_tx.send(()).unwrap();
        })
    };
    done_rx
        .recv_timeout(STUCK)
        .expect("watching folders did not return while another folder was busy");
    adder.join().unwrap();
    assert!(
        watch.folders() >= 202,
        "busy, quiet and its 200 folders are watched"
    );
    let note = quiet.join("sub7").join("note.txt");
    std::fs::write(&note, "hello").unwrap();
    wait_for(&rx, &note);
    stop.store(true, Ordering::Relaxed);
    for flood in floods {
        assert!(flood.join().unwrap() > 0);
    }
    assert!(watch.sees_everything());
}

#[test]
fn a_symlink_named_as_a_folder_is_not_watched_and_its_target_reports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let link = root.join("box");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let (watch, rx) = watching();
    watch.folder(&link);
    watch.folder(&root);
    assert_eq!(watch.folders(), 1, "only the real folder is watched");
    std::fs::write(outside.join("secret.txt"), "x").unwrap();
    let marker = root.join("marker.txt");
    std::fs::write(&marker, "x").unwrap();
    // Events arrive in order: everything before the marker has been delivered by now.
    let mut seen: Vec<PathBuf> = Vec::new();
    while !seen.contains(&marker) {
        match rx.recv_timeout(STUCK) {
            Ok(Seen::Paths(paths)) => seen.extend(paths),
            Ok(Seen::Rescan) => {}
            Err(e) => panic!("the marker was never seen: {e}"),
        }
    }
    assert!(
        seen.iter()
            .all(|p| p.starts_with(&root) && !p.starts_with(&link)),
        "{seen:?}"
    );
    assert!(watch.sees_everything());
}

#[test]
fn a_folder_renamed_is_reported_and_watched_again_at_its_new_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let old = root.join("old");
    let new = root.join("new");
    std::fs::create_dir_all(old.join("deep")).unwrap();
    let (watch, rx) = watching();
    watch.folder(&root);
    watch.folder(&old);
    watch.folder(&old.join("deep"));
    assert_eq!(watch.folders(), 3);
    std::fs::rename(&old, &new).unwrap();
    wait_for(&rx, &new);
    // What the indexer does on seeing it: the old path is gone, the new one walked.
    watch.forget_under(&old);
    watch.folder(&new);
    watch.folder(&new.join("deep"));
    assert_eq!(watch.folders(), 3, "one watch per folder, wherever it went");
    let file = new.join("deep").join("f.txt");
    std::fs::write(&file, "x").unwrap();
    wait_for(&rx, &file);
}

#[test]
fn a_deleted_folder_can_be_watched_again_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let (watch, rx) = watching();
    watch.folder(&root);
    watch.folder(&sub);
    std::fs::remove_dir(&sub).unwrap();
    wait_for(&rx, &sub);
    watch.forget_under(&sub);
    std::fs::create_dir(&sub).unwrap();
    watch.folder(&sub);
    assert_eq!(watch.folders(), 2);
    let file = sub.join("again.txt");
    std::fs::write(&file, "x").unwrap();
    wait_for(&rx, &file);
}

/// A folder deleted while something still holds it open keeps its watch until the last
/// holder closes it (the kernel reports it gone only then). A folder made again at its path
/// before that is another folder, and must be watched itself: once, the table's entry for
/// the path answered "watched already" and the new folder's changes were never seen.
#[test]
fn a_folder_deleted_while_held_open_and_made_again_is_watched_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let (watch, rx) = watching();
    watch.folder(&root);
    watch.folder(&sub);
    let held = std::fs::File::open(&sub).unwrap();
    std::fs::remove_dir(&sub).unwrap();
    std::fs::create_dir(&sub).unwrap();
    // What the indexer does when the walk enters the folder made again.
    watch.folder(&sub);
    let file = sub.join("after.txt");
    std::fs::write(&file, "x").unwrap();
    wait_for(&rx, &file);
    drop(held);
}
