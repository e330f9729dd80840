//! The MCP reference server `@modelcontextprotocol/server-everything`, installed from npm into
//! the target folder with the versions pinned by `tests/servers/everything/package-lock.json`.
//!
//! Only a machine without `node` skips the tests that use it, and says so on stderr.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// How many times `npm ci` is tried before the tests that need the server fail.
const NPM_ATTEMPTS: usize = 3;

fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The server's entry script (`node <it> stdio`), or `None` when node is absent.
pub fn server_everything() -> Option<PathBuf> {
    static INSTALLED: OnceLock<Option<PathBuf>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if !has("node") {
                return None;
            }
            let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/everything");
            let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-everything");
            let entry =
                folder.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
            let lock = std::fs::read(pinned.join("package-lock.json")).expect("package-lock.json");
            let installed_lock = std::fs::read(folder.join("package-lock.json")).ok();
            if entry.exists() && installed_lock.as_deref() == Some(lock.as_slice()) {
                return Some(entry);
            }
            std::fs::create_dir_all(&folder).expect("server-everything folder");
            for file in ["package.json", "package-lock.json"] {
                std::fs::copy(pinned.join(file), folder.join(file)).expect("copy npm manifest");
            }
            assert!(
                has("npm"),
                "node is installed but npm is not; install npm to run these tests"
            );
            // The registry is across a network: a dropped connection is tried again, twice.
            let mut failures = Vec::new();
            while failures.len() < NPM_ATTEMPTS {
                let output = Command::new("npm")
                    .current_dir(&folder)
                    .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                    .output()
                    .expect("run npm ci");
                if output.status.success() {
                    break;
                }
                failures.push(String::from_utf8_lossy(&output.stderr).into_owned());
            }
            assert!(
                failures.len() < NPM_ATTEMPTS,
                "npm ci for server-everything failed {NPM_ATTEMPTS} times:\n{}",
                failures.join("\n---\n")
            );
            assert!(entry.exists(), "npm ci did not install {}", entry.display());
            Some(entry)
        })
        .clone()
}

/// The server's entry script, or a visible note that the calling test is skipped.
pub fn server_everything_or_skip(test: &str) -> Option<PathBuf> {
    let entry = server_everything();
    if entry.is_none() {
        eprintln!(
            "SKIPPED {test}: node is not installed, so @modelcontextprotocol/server-everything cannot run"
        );
    }
    entry
}
