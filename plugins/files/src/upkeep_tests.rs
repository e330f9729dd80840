//! The index's upkeep through the connector: changes made outside switchboard followed by the
//! watcher, a new process answering from the index the last one left, two processes on one
//! index, and stopping in the middle of a first build.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use abi_stable::std_types::RArc;
use serde_json::{Value, json};
use switchboard_plugin_api::Connector;
use switchboard_plugin_api::model::SearchRequest;
use switchboard_plugin_api::testing::{self, FakeHost};

use crate::Files;
use crate::tests::{World, call, world};

/// The paths (relative to `root`) a search finds.
fn find(files: &Files, root: &Path, query: &str) -> Vec<String> {
    let hits = files
        .search(
            SearchRequest {
                query: query.into(),
                limit: 20,
            },
            &call(),
        )
        .expect("search");
    let mut found: Vec<String> = hits
        .into_iter()
        .map(|h| {
            Path::new(&h.id)
                .strip_prefix(root)
                .map_or(h.id.clone(), |p| p.display().to_string())
        })
        .collect();
    found.sort();
    found
}

/// Search until `query` finds exactly `wanted`; fails after a generous deadline. The wait is
/// for the index to change, however long the machine takes; nothing here assumes a speed.
fn wait_for(files: &Files, root: &Path, query: &str, wanted: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = find(files, root, query);
        if found == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: still {found:?}, wanted {wanted:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// No periodic walks: whatever the index learns, it learns from the watcher.
fn watched_world() -> World {
    world(json!({"rescan_seconds": 3600, "max_file_size": 4096}))
}

#[test]
fn changes_made_outside_are_followed() {
    let w = watched_world();
    let root = &w.root;
    assert_eq!(find(&w.files, root, "knead"), vec!["notes/recipes.md"]);

    // A new file, a rewritten one, a deleted one.
    fs::write(root.join("notes/new.md"), "zebra crossing").expect("write");
    wait_for(&w.files, root, "zebra", &["notes/new.md"]);
    fs::write(root.join("notes/recipes.md"), "Bake the focaccia.").expect("write");
    wait_for(&w.files, root, "focaccia", &["notes/recipes.md"]);
    assert!(find(&w.files, root, "knead").is_empty());
    fs::remove_file(root.join("notes/new.md")).expect("remove");
    wait_for(&w.files, root, "zebra", &[]);

    // A new folder tree: walked, and watched from then on.
    fs::create_dir_all(root.join("trip/day1")).expect("mkdir");
    fs::write(root.join("trip/day1/log.txt"), "saw a quokka").expect("write");
    wait_for(&w.files, root, "quokka", &["trip/day1/log.txt"]);
    fs::write(root.join("trip/day1/later.txt"), "then a wombat").expect("write");
    wait_for(&w.files, root, "wombat", &["trip/day1/later.txt"]);

    // Moved: found where it is now only. A hidden folder is never indexed.
    fs::create_dir_all(root.join(".cache")).expect("mkdir");
    fs::write(root.join(".cache/wombat.txt"), "wombat cache").expect("write");
    fs::rename(root.join("trip"), root.join("journey")).expect("rename");
    wait_for(&w.files, root, "wombat", &["journey/day1/later.txt"]);
    fs::write(root.join("journey/day1/more.txt"), "wombat again").expect("write");
    wait_for(
        &w.files,
        root,
        "wombat",
        &["journey/day1/later.txt", "journey/day1/more.txt"],
    );
    // Moved out of the roots: gone.
    fs::rename(root.join("journey"), w.base.join("elsewhere/journey")).expect("rename");
    wait_for(&w.files, root, "wombat", &[]);
    w.files.shutdown();
}

fn config_for(w: &World, extra: Value) -> Value {
    let mut config = json!({
        "roots": [w.root.display().to_string()],
        "max_file_size": 4096,
        "rescan_seconds": 3600,
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    config
}

/// A second connector over the same data folder: what a new process, or a second one, sees.
fn another(w: &World, extra: Value) -> (RArc<FakeHost>, Files) {
    let host = FakeHost::new(w.base.join("data"));
    let files = Files::new(testing::host(&host), config_for(w, extra)).expect("create");
    (host, files)
}

#[test]
fn a_new_process_answers_from_the_index_it_left() {
    let w = watched_world();
    let (_first_host, first) = another(&w, json!({}));
    assert_eq!(find(&first, &w.root, "knead"), vec!["notes/recipes.md"]);
    first.shutdown();
    drop(first);
    // Changed while nothing ran.
    fs::write(w.root.join("notes/while-away.md"), "capybara").expect("write");

    // Little time to index: the answer comes from the index as it is, and says nothing
    // about a build.
    let (host, second) = another(&w, json!({"index_budget_ms": 100}));
    assert_eq!(find(&second, &w.root, "knead"), vec!["notes/recipes.md"]);
    assert!(!host.logged("still being built"), "{:?}", host.logs());
    // The background reconciliation finds what changed meanwhile.
    wait_for(&second, &w.root, "capybara", &["notes/while-away.md"]);
    second.shutdown();
}

#[test]
fn two_processes_share_one_index() {
    let w = watched_world();
    let (_a_host, a) = another(&w, json!({}));
    let (_b_host, b) = another(&w, json!({}));
    std::thread::scope(|scope| {
        for (n, files) in [&a, &b].into_iter().enumerate() {
            let root = &w.root;
            scope.spawn(move || {
                for i in 0..20 {
                    let name = format!("notes/p{n}-{i}.md");
                    fs::write(root.join(&name), format!("axolotl{n}x{i}")).expect("write");
                    let _ = find(files, root, "knead");
                }
            });
        }
    });
    for n in 0..2 {
        for i in [0, 19] {
            let word = format!("axolotl{n}x{i}");
            let wanted = format!("notes/p{n}-{i}.md");
            wait_for(&a, &w.root, &word, &[&wanted]);
            wait_for(&b, &w.root, &word, &[&wanted]);
        }
    }
    a.shutdown();
    b.shutdown();
}

#[test]
fn stopping_in_a_first_build_keeps_what_it_wrote() {
    let w = watched_world();
    let bulk = w.root.join("bulk");
    fs::create_dir_all(&bulk).expect("mkdir");
    for i in 0..3000 {
        fs::write(bulk.join(format!("f{i:04}.txt")), format!("filler {i}")).expect("write");
    }
    fs::write(bulk.join("zz-last.txt"), "the needle").expect("write");
    let (host, first) = another(&w, json!({"index_budget_ms": 100}));
    // Answers at once, from whatever is there.
    let _ = find(&first, &w.root, "filler");
    first.shutdown();
    assert!(
        !host.logs().iter().any(|(_, m)| m.contains("failed")),
        "{:?}",
        host.logs()
    );
    drop(first);
    let (_host, second) = another(&w, json!({}));
    assert_eq!(find(&second, &w.root, "needle"), vec!["bulk/zz-last.txt"]);
    second.shutdown();
}

/// Where every folder is watched on a local file system, the periodic walk would find
/// nothing the watcher did not report: it is skipped, and changes still arrive.
#[cfg(target_os = "linux")]
#[test]
fn periodic_walks_are_skipped_while_every_folder_is_watched() {
    let w = world(json!({"rescan_seconds": 1, "max_file_size": 4096}));
    let root = &w.root;
    assert_eq!(find(&w.files, root, "knead"), vec!["notes/recipes.md"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !w.host.logged("the periodic walk is skipped") {
        assert!(Instant::now() < deadline, "{:?}", w.host.logs());
        std::thread::sleep(Duration::from_millis(5));
    }
    let walks = |logs: Vec<(switchboard_plugin_api::LogLevel, String)>| {
        logs.iter()
            .filter(|(_, m)| m.starts_with("index: walked"))
            .count()
    };
    assert_eq!(walks(w.host.logs()), 1, "{:?}", w.host.logs());
    fs::write(root.join("notes/new.md"), "zebra crossing").expect("write");
    wait_for(&w.files, root, "zebra", &["notes/new.md"]);
    assert_eq!(walks(w.host.logs()), 1, "{:?}", w.host.logs());
    w.files.shutdown();
}
