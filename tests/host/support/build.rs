//! Building the plugin libraries the tests load.
//!
//! `cargo test` does not produce cdylibs, so the tests ask cargo for them (once per test
//! binary) and read the artifact paths from its JSON messages. The compatibility plugins are
//! built in generated workspaces against generated copies of `plugin-api` at other versions,
//! sharing this workspace's target folder so their dependencies are not compiled again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// The plugins of this workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plugin {
    /// `plugins/files`.
    Files,
    /// `plugins/fixture`.
    Fixture,
    /// `tests/plugins/probe`.
    Probe,
    /// `plugins/outlook`.
    Outlook,
    /// `plugins/box`.
    Box,
    /// `plugins/snowflake`.
    Snowflake,
    /// The probe plugin's source built against plugin-api 1.0 (an older minor version).
    CompatOlderMinor,
    /// Built against plugin-api 2.0 (another major version).
    CompatNewerMajor,
    /// Built against the current version with its types changed (a broken layout).
    CompatBrokenLayout,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This workspace's target folder (the parent of `CARGO_TARGET_TMPDIR`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.env("CARGO_TARGET_DIR", target_dir());
    command
}

/// Run `cargo build` with `args` in `dir`; return the cdylib file of each package built.
fn build_cdylibs(dir: &Path, args: &[&str]) -> HashMap<String, PathBuf> {
    let mut command = cargo();
    command
        .current_dir(dir)
        .args(["build", "--message-format=json-render-diagnostics"])
        .args(args);
    let output = command.output().expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut found = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        if message["reason"] != "compiler-artifact" || !is_cdylib {
            continue;
        }
        let name = message["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let file = message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(PathBuf::from)
            .find(|p| {
                p.extension().and_then(|e| e.to_str()) == Some(std::env::consts::DLL_EXTENSION)
            });
        if let Some(file) = file {
            found.insert(name, file);
        }
    }
    found
}

fn workspace_plugins() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        build_cdylibs(
            &workspace_root(),
            &[
                "-p",
                "switchboard-files",
                "-p",
                "switchboard-fixture",
                "-p",
                "switchboard-probe",
                "-p",
                "switchboard-outlook",
                "-p",
                "switchboard-box",
                "-p",
                "switchboard-snowflake",
            ],
        )
    })
}

/// The built library of `plugin`.
pub fn plugin_library(plugin: Plugin) -> PathBuf {
    let crate_name = match plugin {
        Plugin::Files => "switchboard_files",
        Plugin::Fixture => "switchboard_fixture",
        Plugin::Probe => "switchboard_probe",
        Plugin::Outlook => "switchboard_outlook",
        Plugin::Box => "switchboard_box",
        Plugin::Snowflake => "switchboard_snowflake",
        Plugin::CompatOlderMinor => return compat_library("v1_0"),
        Plugin::CompatNewerMajor => return compat_library("v2"),
        Plugin::CompatBrokenLayout => return compat_library("broken"),
    };
    workspace_plugins()
        .get(crate_name)
        .unwrap_or_else(|| panic!("cargo built no cdylib named {crate_name}"))
        .clone()
}

/// Build (once) the compat plugin against the `variant` copy of plugin-api.
fn compat_library(variant: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(variant) {
        return path.clone();
    }
    let dir = generate_compat_workspace(variant);
    let crate_name = format!("compat_{variant}");
    let libraries = build_cdylibs(&dir, &["--offline"]);
    let path = libraries
        .get(&crate_name)
        .unwrap_or_else(|| panic!("no cdylib {crate_name} built"))
        .clone();
    built.insert(variant.to_string(), path.clone());
    path
}

/// The section of the root manifest that starts with `header`, up to the next top-level
/// table that is not a sub-table of it.
fn manifest_sections(manifest: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            inside = line.starts_with(prefix);
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Remove the `// abi:since 1.N` ... `// abi:end` blocks appended after 1.`minor`: what that
/// older copy of plugin-api lacked.
fn strip_since(source: &str, minor: u32) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in source.lines() {
        let trimmed = line.trim();
        if let Some(since) = trimmed.strip_prefix("// abi:since 1.") {
            // A block appended after `minor`: not in that version's copy.
            skipping = since.parse::<u32>().is_ok_and(|n| n > minor);
            if skipping {
                continue;
            }
        }
        if skipping && trimmed == "// abi:end" {
            skipping = false;
            continue;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The interface version of `plugin-api/` as it is now.
const CURRENT_API: &str = "1.2.0";

fn generate_compat_workspace(variant: &str) -> PathBuf {
    let root = workspace_root();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("compat-{variant}"));
    let api = dir.join(format!("api_{variant}"));
    let plugin = dir.join(format!("plugin_{variant}"));
    std::fs::create_dir_all(api.join("src")).expect("compat api dir");
    std::fs::create_dir_all(plugin.join("src")).expect("compat plugin dir");

    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    let workspace = format!(
        "[workspace]\nmembers = [\"plugin_{variant}\"]\nresolver = \"3\"\n\n{}\n{}",
        manifest_sections(&manifest, "[workspace.dependencies]"),
        manifest_sections(&manifest, "[profile")
    );
    std::fs::write(dir.join("Cargo.toml"), workspace).expect("write workspace");
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy lock file");

    let version = match variant {
        "v1_0" => "1.0.0",
        "v2" => "2.0.0",
        _ => CURRENT_API,
    };
    let api_manifest =
        std::fs::read_to_string(root.join("plugin-api/Cargo.toml")).expect("api manifest");
    let api_manifest = api_manifest.replacen(
        &format!("version = \"{CURRENT_API}\""),
        &format!("version = \"{version}\""),
        1,
    );
    std::fs::write(api.join("Cargo.toml"), api_manifest).expect("write api manifest");
    for entry in std::fs::read_dir(root.join("plugin-api/src")).expect("api sources") {
        let path = entry.expect("entry").path();
        let mut source = std::fs::read_to_string(&path).expect("api source");
        if variant == "v1_0" {
            source = strip_since(&source, 0);
        }
        if variant == "broken" && path.ends_with("abi.rs") {
            // Same version, different types: the log level widened to 64 bits.
            source = source.replace(
                "pub struct LogLevel(pub u32);",
                "pub struct LogLevel(pub u64);",
            );
        }
        std::fs::write(
            api.join("src").join(path.file_name().expect("name")),
            source,
        )
        .expect("write api source");
    }

    let plugin_manifest = format!(
        "[package]\nname = \"compat_{variant}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n\
         switchboard-plugin-api = {{ path = \"../api_{variant}\" }}\n\
         abi_stable.workspace = true\nserde_json.workspace = true\n"
    );
    std::fs::write(plugin.join("Cargo.toml"), plugin_manifest).expect("write plugin manifest");
    let source = include_str!("../../fixtures/compat_plugin.rs").replace("VARIANT", variant);
    std::fs::write(plugin.join("src/lib.rs"), source).expect("write plugin source");
    dir
}

/// The test MCP server (`tests/servers/echo`), built once per test binary.
pub fn echo_server() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let output = cargo()
                .current_dir(workspace_root())
                .args([
                    "build",
                    "--message-format=json-render-diagnostics",
                    "-p",
                    "switchboard-echo-server",
                ])
                .output()
                .expect("run cargo build");
            assert!(
                output.status.success(),
                "cargo build -p switchboard-echo-server failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|m| {
                    m["reason"] == "compiler-artifact" && m["target"]["name"] == "echo-server"
                })
                .find_map(|m| m["executable"].as_str().map(PathBuf::from))
                .expect("cargo built no echo-server executable")
        })
        .clone()
}
