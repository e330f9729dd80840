//! Tests of the write tools (`write`, `move`, `delete`, `mkdir`) through the [`Connector`]
//! interface, with the fake host and call of [`crate::tests`]: what they do, everything they
//! refuse, and that the search index follows their changes.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};
use switchboard_plugin_api::model::SearchRequest;
use switchboard_plugin_api::{Connector, ErrorKind, ToolResult};

use crate::Files;
use crate::tests::{World, args, call, text_of, world};
use switchboard_plugin_api::testing::{self, FakeHost};

fn run(w: &World, tool: &str, arguments: Value) -> ToolResult {
    w.files
        .call_tool(tool, args(arguments), &call())
        .unwrap_or_else(|e| panic!("{tool} failed as a call: {}", e.message))
}

fn ok(w: &World, tool: &str, arguments: Value) -> Value {
    let result = run(w, tool, arguments.clone());
    assert!(!result.is_error, "{tool} {arguments}: {}", text_of(&result));
    result.structured_content.unwrap_or(Value::Null)
}

fn refused(w: &World, tool: &str, arguments: Value) -> String {
    let result = run(w, tool, arguments.clone());
    assert!(result.is_error, "{tool} {arguments} should be refused");
    text_of(&result)
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

fn found(w: &World, query: &str) -> Vec<String> {
    w.files
        .search(
            SearchRequest {
                query: query.into(),
                limit: 10,
            },
            &call(),
        )
        .expect("search")
        .into_iter()
        .map(|hit| hit.id)
        .collect()
}

#[test]
fn write_tools_are_offered_with_their_hints_unless_read_only() {
    let w = world(json!({}));
    let catalog = w.files.catalog();
    let names: Vec<&str> = catalog.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "search", "read", "list", "roots", "write", "move", "delete", "mkdir"
        ]
    );
    for tool in &catalog.tools[4..] {
        let hints = tool.annotations.as_ref().expect("annotations");
        assert_eq!(hints.read_only_hint, Some(false), "{}", tool.name);
        assert_eq!(hints.open_world_hint, Some(false), "{}", tool.name);
        assert_eq!(
            hints.destructive_hint,
            Some(tool.name != "mkdir"),
            "{}",
            tool.name
        );
        assert_eq!(
            tool.input_schema["additionalProperties"],
            json!(false),
            "{}",
            tool.name
        );
        assert!(!tool.description.is_empty());
    }

    let read_only = world(json!({"writable": false}));
    assert_eq!(read_only.files.catalog().tools.len(), 4);
    let target = s(&read_only.root.join("new.txt"));
    let refused = read_only.files.call_tool(
        "write",
        args(json!({"path": target, "content": "x"})),
        &call(),
    );
    assert!(matches!(refused, Err(e) if e.kind == ErrorKind::NOT_FOUND));
    assert!(!read_only.root.join("new.txt").exists());
}

#[test]
fn write_creates_and_replaces_only_when_asked() {
    let w = world(json!({}));
    let path = w.root.join("notes/todo.md");
    let created = ok(
        &w,
        "write",
        json!({"path": s(&path), "content": "buy flour"}),
    );
    assert_eq!(
        created,
        json!({"path": s(&path), "bytes": 9, "created": true})
    );
    assert_eq!(fs::read_to_string(&path).expect("read"), "buy flour");

    let again = refused(&w, "write", json!({"path": s(&path), "content": "other"}));
    assert!(again.contains("overwrite"), "{again}");
    assert_eq!(fs::read_to_string(&path).expect("read"), "buy flour");

    let replaced = ok(
        &w,
        "write",
        json!({"path": s(&path), "content": "buy rye", "overwrite": true}),
    );
    assert_eq!(replaced["created"], json!(false));
    assert_eq!(fs::read_to_string(&path).expect("read"), "buy rye");

    let deep = w.root.join("projects/new/plan.txt");
    let missing = refused(&w, "write", json!({"path": s(&deep), "content": "x"}));
    assert!(missing.contains("create_dirs"), "{missing}");
    assert!(!w.root.join("projects").exists());
    ok(
        &w,
        "write",
        json!({"path": s(&deep), "content": "step one", "create_dirs": true}),
    );
    assert_eq!(fs::read_to_string(&deep).expect("read"), "step one");

    let folder = refused(
        &w,
        "write",
        json!({"path": s(&w.root.join("notes")), "content": "x", "overwrite": true}),
    );
    assert!(folder.contains("folder"), "{folder}");
    // Nothing but the written files is left behind (no temporary files).
    let mut names: Vec<String> = fs::read_dir(w.root.join("notes"))
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert_eq!(names, vec!["big.txt", "recipes.md", "todo.md"]);
}

#[cfg(unix)]
#[test]
fn writing_through_a_link_inside_a_root_replaces_its_target() {
    let w = world(json!({}));
    let target = w.root.join("notes/recipes.md");
    let link = w.root.join("recipes-link.md");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let written = ok(
        &w,
        "write",
        json!({"path": s(&link), "content": "new recipe", "overwrite": true}),
    );
    assert_eq!(written["path"], json!(s(&target)));
    assert!(
        fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&target).expect("read"), "new recipe");
}

#[test]
fn every_write_tool_refuses_what_reading_refuses() {
    let w = world(json!({}));
    #[cfg(unix)]
    std::os::unix::fs::symlink(w.base.join("elsewhere"), w.root.join("out")).expect("symlink");
    let inside = s(&w.root.join("notes/recipes.md"));
    let mut refused_paths = vec![
        (s(&w.base.join("elsewhere/secret.txt")), "outside a root"),
        (s(&w.base.join("elsewhere/new.txt")), "new, outside a root"),
        (
            s(&w.root.join("notes/../../elsewhere/secret.txt")),
            "through ..",
        ),
        (s(&w.root.join("notes/../notes/x.txt")), "any .."),
        (s(&w.root.join(".ssh/id_ed25519")), "hidden"),
        (s(&w.root.join(".ssh/new")), "new, in a hidden folder"),
        (s(&w.root.join(".profile")), "new, hidden name"),
        ("notes/x.txt".to_string(), "relative"),
    ];
    #[cfg(unix)]
    {
        refused_paths.push((s(&w.root.join("out/new.txt")), "through a link out"));
        refused_paths.push((s(&w.root.join("out/secret.txt")), "existing, link out"));
        refused_paths.push((s(&w.root.join("sneaky.txt")), "a link to a file outside"));
        refused_paths.push((s(&w.root.join("out")), "a link to a folder outside"));
    }
    for (path, why) in &refused_paths {
        let attempts = [
            (
                "write",
                json!({"path": path, "content": "x", "overwrite": true, "create_dirs": true}),
            ),
            ("mkdir", json!({"path": path})),
            ("delete", json!({"path": path, "recursive": true})),
            (
                "move",
                json!({"from": path, "to": s(&w.root.join("moved"))}),
            ),
            (
                "move",
                json!({"from": inside, "to": path, "overwrite": true}),
            ),
        ];
        for (tool, arguments) in attempts {
            let result = run(&w, tool, arguments.clone());
            assert!(result.is_error, "{tool} {why}: {arguments}");
        }
    }
    // Nothing changed anywhere.
    assert_eq!(
        fs::read_to_string(w.base.join("elsewhere/secret.txt")).expect("read"),
        "sourdough elsewhere"
    );
    assert_eq!(
        fs::read_dir(w.base.join("elsewhere"))
            .expect("list")
            .count(),
        1
    );
    assert!(
        fs::read_to_string(w.root.join(".ssh/id_ed25519")).is_ok_and(|t| t == "PRIVATE sourdough")
    );
    assert!(w.root.join("notes/recipes.md").exists());
    assert!(!w.root.join("moved").exists());
    assert!(!w.root.join(".profile").exists());
}

#[test]
fn roots_cannot_be_deleted_or_moved_and_folders_need_recursive() {
    let w = world(json!({}));
    let root = refused(&w, "delete", json!({"path": s(&w.root), "recursive": true}));
    assert!(root.contains("shared folder"), "{root}");
    refused(
        &w,
        "move",
        json!({"from": s(&w.root), "to": s(&w.root.join("elsewhere"))}),
    );
    assert!(w.root.join("notes/recipes.md").exists());

    let notes = s(&w.root.join("notes"));
    let folder = refused(&w, "delete", json!({"path": notes}));
    assert!(folder.contains("recursive"), "{folder}");
    let gone = ok(&w, "delete", json!({"path": notes, "recursive": true}));
    assert_eq!(gone, json!({"path": notes, "kind": "dir", "entries": 3}));
    assert!(!w.root.join("notes").exists());

    // A folder holding something hidden is not deleted: nothing unseen is destroyed.
    let project = w.root.join("project");
    fs::create_dir_all(project.join(".git")).expect("mkdir");
    fs::write(project.join(".git/HEAD"), "ref").expect("write");
    fs::write(project.join("main.rs"), "fn main() {}").expect("write");
    let hidden = refused(
        &w,
        "delete",
        json!({"path": s(&project), "recursive": true}),
    );
    assert!(hidden.contains(".git"), "{hidden}");
    assert!(project.join("main.rs").exists());

    let file = ok(&w, "delete", json!({"path": s(&project.join("main.rs"))}));
    assert_eq!(file["kind"], json!("file"));
    assert!(!project.join("main.rs").exists());
    let missing = refused(&w, "delete", json!({"path": s(&project.join("main.rs"))}));
    assert!(missing.contains("does not exist"), "{missing}");
}

#[test]
fn a_folder_holding_a_root_cannot_be_deleted_or_moved() {
    let w = world(json!({}));
    let nested = w.root.join("notes");
    let outer = world(json!({"roots": [s(&w.base), s(&nested)]}));
    let refusal = refused(
        &outer,
        "delete",
        json!({"path": s(&w.root), "recursive": true}),
    );
    assert!(refusal.contains("holds the shared folder"), "{refusal}");
    refused(
        &outer,
        "move",
        json!({"from": s(&w.root), "to": s(&w.base.join("moved"))}),
    );
    assert!(nested.join("recipes.md").exists());
}

#[cfg(unix)]
#[test]
fn deleting_a_link_removes_the_link_only() {
    let w = world(json!({}));
    let target = w.root.join("notes/recipes.md");
    let link = w.root.join("link.md");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let result = ok(&w, "delete", json!({"path": s(&link)}));
    assert_eq!(result["kind"], json!("link"));
    assert!(fs::symlink_metadata(&link).is_err());
    assert!(target.exists());
}

#[test]
fn move_renames_and_replaces_only_when_asked() {
    let w = world(json!({}));
    let from = w.root.join("notes/recipes.md");
    let to = w.root.join("notes/bread.md");
    let moved = ok(&w, "move", json!({"from": s(&from), "to": s(&to)}));
    assert_eq!(
        moved,
        json!({"from": s(&from), "to": s(&to), "replaced": false})
    );
    assert!(!from.exists());
    assert!(to.exists());

    let big = w.root.join("notes/big.txt");
    let taken = refused(&w, "move", json!({"from": s(&big), "to": s(&to)}));
    assert!(taken.contains("overwrite"), "{taken}");
    assert!(big.exists());
    let replaced = ok(
        &w,
        "move",
        json!({"from": s(&big), "to": s(&to), "overwrite": true}),
    );
    assert_eq!(replaced["replaced"], json!(true));
    assert!(fs::read_to_string(&to).is_ok_and(|t| t.starts_with("word")));

    let folder = w.root.join("notes");
    let into_itself = refused(
        &w,
        "move",
        json!({"from": s(&folder), "to": s(&folder.join("inner"))}),
    );
    assert!(into_itself.contains("into itself"), "{into_itself}");
    let onto_folder = refused(
        &w,
        "move",
        json!({"from": s(&to), "to": s(&folder), "overwrite": true}),
    );
    assert!(onto_folder.contains("folder"), "{onto_folder}");
    let no_parent = refused(
        &w,
        "move",
        json!({"from": s(&to), "to": s(&w.root.join("a/b.md"))}),
    );
    assert!(no_parent.contains("mkdir"), "{no_parent}");
    ok(
        &w,
        "move",
        json!({"from": s(&folder), "to": s(&w.root.join("journal"))}),
    );
    assert!(w.root.join("journal/bread.md").exists());
}

#[test]
fn mkdir_creates_parents_and_is_idempotent() {
    let w = world(json!({}));
    let deep = w.root.join("a/b/c");
    let strict = refused(&w, "mkdir", json!({"path": s(&deep), "parents": false}));
    assert!(strict.contains("parents"), "{strict}");
    assert_eq!(
        ok(&w, "mkdir", json!({"path": s(&deep)})),
        json!({"path": s(&deep), "created": true})
    );
    assert!(deep.is_dir());
    assert_eq!(
        ok(&w, "mkdir", json!({"path": s(&deep)}))["created"],
        json!(false)
    );
    let file = refused(
        &w,
        "mkdir",
        json!({"path": s(&w.root.join("notes/recipes.md"))}),
    );
    assert!(file.contains("file"), "{file}");
    ok(
        &w,
        "mkdir",
        json!({"path": s(&w.root.join("a/d")), "parents": false}),
    );
}

#[test]
fn search_follows_writes_moves_and_deletes_at_once() {
    // No rescan for an hour: whatever the search sees, the write tools told the index.
    let w = world(json!({"rescan_seconds": 3600}));
    assert!(found(&w, "pumpernickel").is_empty());
    let note = w.root.join("notes/bread.md");
    ok(
        &w,
        "write",
        json!({"path": s(&note), "content": "pumpernickel needs rye"}),
    );
    assert_eq!(found(&w, "pumpernickel"), vec![s(&note)]);

    // A rewrite of the same size within the same instant is seen too.
    ok(
        &w,
        "write",
        json!({"path": s(&note), "content": "ciabattaaaaa needs oil", "overwrite": true}),
    );
    assert!(found(&w, "pumpernickel").is_empty());
    assert_eq!(found(&w, "ciabattaaaaa"), vec![s(&note)]);

    let moved = w.root.join("bread.md");
    ok(&w, "move", json!({"from": s(&note), "to": s(&moved)}));
    assert_eq!(found(&w, "ciabattaaaaa"), vec![s(&moved)]);

    // A moved folder is found where it went (the index marks itself stale and rescans).
    let recipes = w.root.join("notes/recipes.md");
    assert_eq!(found(&w, "sourdough"), vec![s(&recipes)]);
    ok(
        &w,
        "move",
        json!({"from": s(&w.root.join("notes")), "to": s(&w.root.join("kitchen"))}),
    );
    assert_eq!(
        found(&w, "sourdough"),
        vec![s(&w.root.join("kitchen/recipes.md"))]
    );

    ok(&w, "delete", json!({"path": s(&moved)}));
    assert!(found(&w, "ciabattaaaaa").is_empty());
    ok(
        &w,
        "delete",
        json!({"path": s(&w.root.join("kitchen")), "recursive": true}),
    );
    assert!(found(&w, "sourdough").is_empty());
}

#[test]
fn the_plugins_own_data_folder_is_never_touched() {
    let w = world(json!({}));
    // A second connector sharing the whole base folder, its data folder included.
    let data = w.base.join("data");
    let host = FakeHost::new(&data);
    let files = Files::new(
        testing::host(&host),
        json!({"roots": [s(&w.base)], "rescan_seconds": 0}),
    )
    .expect("create");
    assert!(
        files
            .search(
                SearchRequest {
                    query: "sourdough".into(),
                    limit: 5
                },
                &call(),
            )
            .is_ok()
    );
    for (tool, arguments) in [
        (
            "write",
            json!({"path": s(&data.join("index.sqlite")), "content": "x", "overwrite": true}),
        ),
        ("delete", json!({"path": s(&data), "recursive": true})),
        (
            "move",
            json!({"from": s(&data), "to": s(&w.base.join("moved"))}),
        ),
        ("mkdir", json!({"path": s(&data.join("sub"))})),
    ] {
        let result = files
            .call_tool(tool, args(arguments.clone()), &call())
            .expect("tool ran");
        assert!(result.is_error, "{tool} {arguments}");
        assert!(
            text_of(&result).contains("own data"),
            "{}",
            text_of(&result)
        );
    }
    // Nor through a link pointing into it.
    #[cfg(unix)]
    {
        let link = w.base.join("index-link");
        std::os::unix::fs::symlink(data.join("index.sqlite"), &link).expect("symlink");
        let result = files
            .call_tool(
                "write",
                args(json!({"path": s(&link), "content": "x", "overwrite": true})),
                &call(),
            )
            .expect("tool ran");
        assert!(
            text_of(&result).contains("own data"),
            "{}",
            text_of(&result)
        );
    }
    assert!(data.join("index.sqlite").exists());
    assert!(fs::metadata(data.join("index.sqlite")).is_ok_and(|m| m.len() > 1));
}
