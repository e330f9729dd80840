//! End-to-end tests of the connector through the [`Connector`] interface, with a fake host and
//! fake per-request services standing in for switchboard.

use std::fs;
use std::path::PathBuf;

use abi_stable::std_types::RArc;
use serde_json::{Value, json};
use switchboard_plugin_api::model::{
    CompletionArgument, CompletionRequest, Content, ResourceContents, SearchRequest,
};
use switchboard_plugin_api::testing::{self, FakeCall, FakeHost};
use switchboard_plugin_api::{Call, Connector, ErrorKind, LogLevel};

use crate::Files;

pub(crate) struct World {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) base: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) host: RArc<FakeHost>,
    pub(crate) files: Files,
}

pub(crate) fn call() -> Call {
    testing::call(&FakeCall::new())
}

pub(crate) fn world(extra_config: Value) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fs::canonicalize(dir.path()).expect("canonical");
    let root = base.join("home");
    let data = base.join("data");
    fs::create_dir_all(root.join("notes")).expect("mkdir");
    fs::create_dir_all(root.join(".ssh")).expect("mkdir");
    fs::create_dir_all(base.join("elsewhere")).expect("mkdir");
    fs::create_dir_all(&data).expect("mkdir");
    fs::write(
        root.join("notes/recipes.md"),
        "# Recipes\n\nKnead the sourdough for ten minutes.",
    )
    .expect("write");
    fs::write(root.join("notes/big.txt"), "word ".repeat(100)).expect("write");
    fs::write(
        root.join("image.png"),
        b"\x89PNG\r\n\x1a\n\x00\x00sourdough",
    )
    .expect("write");
    fs::write(root.join(".ssh/id_ed25519"), "PRIVATE sourdough").expect("write");
    fs::write(base.join("elsewhere/secret.txt"), "sourdough elsewhere").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(base.join("elsewhere/secret.txt"), root.join("sneaky.txt"))
        .expect("symlink");

    let mut config = json!({
        "roots": [root.display().to_string(), base.join("absent").display().to_string()],
        "max_file_size": 64,
        "rescan_seconds": 0,
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra_config.as_object()) {
        for (k, v) in extra {
            config.insert(k.clone(), v.clone());
        }
    }
    let host = FakeHost::new(&data);
    let files = Files::new(testing::host(&host), config).expect("create");
    World {
        _dir: dir,
        base,
        root,
        host,
        files,
    }
}

pub(crate) fn text_of(result: &switchboard_plugin_api::ToolResult) -> String {
    result
        .content
        .iter()
        .map(|c| match c {
            Content::Text { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn args(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

#[test]
fn manifest_declares_a_data_source_with_a_schema() {
    let manifest = Files::manifest();
    assert_eq!(manifest.name, "files");
    assert_eq!(
        manifest.data_source.map(|d| d.label).as_deref(),
        Some("Local files")
    );
    assert_eq!(manifest.config_schema["additionalProperties"], json!(false));
    assert!(!manifest.description.is_empty());
}

#[test]
fn missing_roots_warn_but_do_not_fail() {
    let w = world(json!({}));
    let logs = w.host.logs();
    assert!(
        logs.iter()
            .any(|(level, m)| *level == LogLevel::WARNING && m.contains("absent")),
        "{logs:?}"
    );
    let roots = w
        .files
        .call_tool("roots", args(json!({})), &call())
        .expect("roots");
    let listed = &roots.structured_content.expect("structured")["roots"];
    assert_eq!(listed[0]["exists"], json!(true));
    assert_eq!(listed[1]["exists"], json!(false));
}

#[test]
fn unified_search_and_fetch() {
    let w = world(json!({}));
    let c = call();
    let hits = w
        .files
        .search(
            SearchRequest {
                query: "sourdough".into(),
                limit: 10,
            },
            &c,
        )
        .expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let recipes = w.root.join("notes/recipes.md");
    assert_eq!(hits[0].id, recipes.display().to_string());
    assert_eq!(hits[0].title, "recipes.md");
    assert_eq!(
        hits[0].url.as_deref(),
        Some(crate::paths::file_uri(&recipes).as_str())
    );
    assert!(
        hits[0]
            .snippet
            .as_deref()
            .is_some_and(|s| s.contains("«sourdough»"))
    );

    let doc = w.files.fetch(&hits[0].id, &c).expect("fetch");
    assert_eq!(doc.title, "recipes.md");
    assert!(doc.text.starts_with("# Recipes"));
    assert_eq!(doc.metadata["truncated"], json!(false));
    assert!(
        doc.metadata["modified"]
            .as_str()
            .is_some_and(|m| m.ends_with('Z'))
    );

    let big = w
        .files
        .fetch(&w.root.join("notes/big.txt").display().to_string(), &c)
        .expect("fetch big");
    assert_eq!(big.metadata["truncated"], json!(true));
    assert!(big.text.contains("Text cut"), "{}", big.text);

    let binary = w
        .files
        .fetch(&w.root.join("image.png").display().to_string(), &c)
        .expect_err("binary");
    assert!(binary.message.contains("binary"));

    for refused in [
        w.base.join("elsewhere/secret.txt"),
        w.root.join(".ssh/id_ed25519"),
        w.root.join("notes/../../elsewhere/secret.txt"),
        #[cfg(unix)]
        w.root.join("sneaky.txt"),
    ] {
        let error = w
            .files
            .fetch(&refused.display().to_string(), &c)
            .expect_err("refused");
        assert_eq!(error.kind, ErrorKind::INVALID_INPUT, "{}", error.message);
    }

    let zero = w
        .files
        .search(
            SearchRequest {
                query: "sourdough".into(),
                limit: 0,
            },
            &c,
        )
        .expect("search");
    assert!(zero.is_empty());
}

#[test]
fn search_reports_progress_and_honours_cancellation() {
    let w = world(json!({}));
    for i in 0..600 {
        fs::write(w.root.join(format!("notes/n{i}.txt")), format!("note {i}")).expect("write");
    }
    let cancelled = FakeCall::new();
    cancelled.cancel();
    let c = testing::call(&cancelled);
    let error = w
        .files
        .search(
            SearchRequest {
                query: "note".into(),
                limit: 10,
            },
            &c,
        )
        .expect_err("cancelled");
    assert_eq!(error.kind, ErrorKind::CANCELLED);

    let live = FakeCall::new();
    let c = testing::call(&live);
    let hits = w
        .files
        .search(
            SearchRequest {
                query: "note".into(),
                limit: 5,
            },
            &c,
        )
        .expect("search");
    assert_eq!(hits.len(), 5);
    let progress = live.progress();
    assert!(progress.len() >= 2, "{progress:?}");
    let last = progress.last().expect("some progress");
    assert_eq!(Some(last.0), last.1);
    assert!(last.2.starts_with("indexing"));
    assert!(progress.windows(2).all(|p| p[0].0 < p[1].0));
}

#[test]
fn search_tool_renders_text_and_structure() {
    let w = world(json!({}));
    let result = w
        .files
        .call_tool(
            "search",
            args(json!({"query": "recipes.md", "path_prefix": w.root.join("notes").display().to_string()})),
            &call(),
        )
        .expect("search");
    assert!(!result.is_error);
    let results = &result.structured_content.as_ref().expect("structured")["results"];
    assert_eq!(results.as_array().map(Vec::len), Some(1));
    assert_eq!(results[0]["name"], json!("recipes.md"));
    assert!(text_of(&result).contains("recipes.md"));

    let relative = w
        .files
        .call_tool(
            "search",
            args(json!({"query": "x", "path_prefix": "notes"})),
            &call(),
        )
        .expect("tool ran");
    assert!(relative.is_error);
}

#[test]
fn read_tool_pages_and_refuses() {
    let w = world(json!({"max_file_size": 1000}));
    let big = w.root.join("notes/big.txt").display().to_string();
    let page = w
        .files
        .call_tool(
            "read",
            args(json!({"path": big, "offset": 10, "length": 20})),
            &call(),
        )
        .expect("read");
    assert!(!page.is_error);
    assert_eq!(
        page.content.first(),
        Some(&Content::text("word word word word "))
    );
    assert!(text_of(&page).contains("offset=30"), "{}", text_of(&page));

    let folder = w
        .files
        .call_tool(
            "read",
            args(json!({"path": w.root.display().to_string()})),
            &call(),
        )
        .expect("read");
    assert!(folder.is_error);
    let outside = w
        .files
        .call_tool("read", args(json!({"path": "/etc/passwd"})), &call())
        .expect("read");
    assert!(outside.is_error);
    assert!(text_of(&outside).contains("outside"));
    let binary = w
        .files
        .call_tool(
            "read",
            args(json!({"path": w.root.join("image.png").display().to_string()})),
            &call(),
        )
        .expect("read");
    assert!(binary.is_error);
    let unknown = w.files.call_tool("chmod", args(json!({})), &call());
    assert!(matches!(unknown, Err(e) if e.kind == ErrorKind::NOT_FOUND));
}

#[test]
fn list_tool_hides_excluded_entries() {
    let w = world(json!({}));
    let result = w
        .files
        .call_tool(
            "list",
            args(json!({"path": w.root.display().to_string()})),
            &call(),
        )
        .expect("list");
    let entries = &result.structured_content.as_ref().expect("structured")["entries"];
    let names: Vec<&str> = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, vec!["notes", "image.png"]);
}

#[test]
fn resources_and_templates() {
    let w = world(json!({}));
    let catalog = w.files.catalog();
    let read_only: Vec<&str> = catalog
        .tools
        .iter()
        .filter(|t| {
            t.annotations
                .as_ref()
                .is_some_and(|a| a.read_only_hint == Some(true))
        })
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(read_only, vec!["search", "read", "list", "roots"]);
    assert_eq!(catalog.resources.len(), 1);
    let root_uri = crate::paths::file_uri(&w.root);
    assert_eq!(catalog.resources[0].uri, root_uri);
    assert_eq!(catalog.resources[0].name, "home");
    assert_eq!(
        catalog.resources[0].mime_type.as_deref(),
        Some("inode/directory")
    );
    assert_eq!(catalog.resource_templates[0].uri_template, "file://{+path}");

    let folder = w.files.read_resource(&root_uri, &call()).expect("folder");
    let ResourceContents::Text { text, .. } = &folder.contents[0] else {
        panic!("folder listing is text");
    };
    assert!(text.contains("notes/"), "{text}");

    let file_uri = crate::paths::file_uri(&w.root.join("notes/recipes.md"));
    let file = w.files.read_resource(&file_uri, &call()).expect("file");
    let ResourceContents::Text {
        text, mime_type, ..
    } = &file.contents[0]
    else {
        panic!("file contents are text");
    };
    assert!(text.starts_with("# Recipes"));
    assert_eq!(mime_type.as_deref(), Some("text/markdown"));

    let outside = crate::paths::file_uri(&w.base.join("elsewhere/secret.txt"));
    assert!(w.files.read_resource(&outside, &call()).is_err());
    assert!(
        w.files
            .read_resource("https://example.com/", &call())
            .is_err()
    );
}

#[test]
fn template_paths_complete() {
    let w = world(json!({}));
    let complete = |value: &str| {
        w.files
            .complete(
                CompletionRequest {
                    reference: json!({"type": "ref/resource", "uri": "file://{+path}"}),
                    argument: CompletionArgument {
                        name: "path".into(),
                        value: value.into(),
                    },
                    context: None,
                },
                &call(),
            )
            .expect("complete")
            .values
    };
    assert_eq!(complete(""), vec![w.root.display().to_string()]);
    let notes = w.root.join("notes");
    assert_eq!(
        complete(&format!("{}/rec", notes.display())),
        vec![notes.join("recipes.md").display().to_string()]
    );
    assert_eq!(
        complete(&format!("{}/no", w.root.display())),
        vec![format!("{}/", notes.display())]
    );
    assert!(complete(&format!("{}/.s", w.root.display())).is_empty());
}

#[test]
fn concurrent_searches_share_one_index() {
    let w = world(json!({"rescan_seconds": 3600}));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    w.files
                        .search(
                            SearchRequest {
                                query: "knead".into(),
                                limit: 3,
                            },
                            &call(),
                        )
                        .map(|hits| hits.len())
                        .map_err(|e| e.message.to_string())
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().ok(), Some(Ok(1)));
        }
    });
    let logs = w.host.logs();
    let index_runs = logs
        .iter()
        .filter(|(_, m)| m.starts_with("index: walked"))
        .count();
    assert_eq!(index_runs, 1, "{logs:?}");
    // The index lives in the plugin's data folder.
    assert!(w.host.folder().join("index.sqlite").exists());
}

#[test]
fn a_large_first_build_answers_at_once_and_finishes_in_the_background() {
    let w = world(json!({"index_budget_ms": 100, "max_file_size": 4096}));
    let bulk = w.root.join("bulk");
    fs::create_dir_all(&bulk).expect("mkdir");
    for i in 0..12_000 {
        fs::write(
            bulk.join(format!("f{i:05}.txt")),
            format!("common filler words {i}"),
        )
        .expect("write");
    }
    fs::write(bulk.join("zz-last.txt"), "the needle is here").expect("write");

    let first = w.files.search(
        SearchRequest {
            query: "common".into(),
            limit: 5,
        },
        &call(),
    );
    assert!(first.is_ok(), "{first:?}");
    let logged = |needle: &str| w.host.logged(needle);
    // When 100 ms were not enough (the usual case), the rest is built in the background:
    // wait for it to say so.
    if logged("still being built") {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !logged("index: the first build finished") {
            assert!(
                std::time::Instant::now() < deadline,
                "the background build never finished"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let needle = w
        .files
        .search(
            SearchRequest {
                query: "needle".into(),
                limit: 5,
            },
            &call(),
        )
        .expect("search");
    assert_eq!(needle.len(), 1, "{needle:?}");
    assert!(needle[0].id.ends_with("zz-last.txt"));
}

/// Every key `value` holds is a property of `schema` and every required one is there, down
/// through objects and arrays' items: a structured answer fits the output schema its type gave.
fn fits(schema: &Value, value: &Value, at: &str) {
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object().expect(at);
            for key in fields.keys() {
                assert!(
                    properties.contains_key(key),
                    "{at}.{key} is not in {schema}"
                );
                fits(&properties[key], &fields[key], &format!("{at}.{key}"));
            }
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap();
                assert!(fields.contains_key(key), "{at}.{key} is required");
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                fits(&schema["items"], item, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn tool_schemas_come_from_the_argument_types_and_answers_fit_their_output_schemas() {
    let w = world(json!({}));
    let catalog = w.files.catalog();
    let tool = |name: &str| catalog.tools.iter().find(|t| t.name == name).unwrap();
    let search = &tool("search").input_schema;
    assert_eq!(search["required"], json!(["query"]));
    assert_eq!(search["properties"]["query"]["minLength"], 1);
    let limit = &search["properties"]["limit"];
    assert_eq!(
        (limit["default"].clone(), limit["maximum"].clone()),
        (json!(10), json!(100))
    );
    assert_eq!(tool("read").input_schema["required"], json!(["path"]));
    assert_eq!(
        tool("mkdir").input_schema["properties"]["parents"]["default"],
        true
    );
    assert_eq!(tool("roots").input_schema["properties"], json!({}));
    let kinds = &tool("list").output_schema.as_ref().unwrap()["properties"]["entries"]["items"]["properties"]
        ["kind"];
    assert!(kinds.to_string().contains("\"dir\""), "{kinds}");

    let root = w.root.display().to_string();
    let new = w.root.join("notes/new.md").display().to_string();
    for (name, arguments) in [
        ("search", json!({"query": "sourdough"})),
        ("list", json!({"path": root})),
        ("roots", json!({})),
        ("write", json!({"path": new, "content": "fresh"})),
        (
            "mkdir",
            json!({"path": w.root.join("made").display().to_string()}),
        ),
        (
            "move",
            json!({"from": new, "to": w.root.join("notes/moved.md").display().to_string()}),
        ),
        (
            "delete",
            json!({"path": w.root.join("notes/moved.md").display().to_string()}),
        ),
    ] {
        let result = w.files.call_tool(name, args(arguments), &call()).unwrap();
        assert!(!result.is_error, "{name}: {}", text_of(&result));
        let value = result.structured_content.expect(name);
        fits(tool(name).output_schema.as_ref().expect(name), &value, name);
    }

    // Arguments the types refuse are a tool error naming the field; nothing is written.
    let refused = w
        .files
        .call_tool("write", args(json!({"path": 5, "content": "x"})), &call())
        .unwrap();
    assert!(refused.is_error);
    assert!(
        text_of(&refused).contains("`path`: invalid type: integer `5`"),
        "{}",
        text_of(&refused)
    );
}
