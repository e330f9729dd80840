//! What every black-box test needs: the built binary and plugin libraries, a throwaway home
//! folder, and a real MCP client talking to `switchboard serve` over pipes.

pub mod build;
pub mod client;
pub mod everything;
pub mod raw;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use build::{Plugin, echo_server, plugin_library};
pub use client::connect;

/// A temporary `SWITCHBOARD_HOME` with a config file and a plugins folder.
pub struct Home {
    /// Owns the folder (removed on drop); `None` for a view of another `Home`'s folder.
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Home {
    /// A home whose config is `config_yaml` (bundled connectors off and every call allowed,
    /// unless it says otherwise).
    pub fn new(config_yaml: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("switchboard-test-")
            .tempdir()
            .expect("temp home");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugins folder");
        let home = Self {
            path: dir.path().to_path_buf(),
            _dir: Some(dir),
        };
        home.write_config(config_yaml);
        home
    }

    /// Replace the config file.
    pub fn write_config(&self, config_yaml: &str) {
        let mut text = config_yaml.to_string();
        if !text.contains("bundled:") {
            text = format!("plugins:\n  bundled: false\n{text}");
        }
        // Tests about other things run every call; the approval tests set their own policy.
        if !text.contains("approvals:") {
            text = format!("approvals:\n  default: allow\n{text}");
        }
        std::fs::write(self.path().join("config.yaml"), text).expect("write config");
    }

    /// Another handle on the home at `path` (for use from another thread); it does not
    /// remove the folder.
    pub fn at(path: &Path) -> Self {
        Self {
            _dir: None,
            path: path.to_path_buf(),
        }
    }

    /// The home folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugins folder.
    pub fn plugins(&self) -> PathBuf {
        self.path().join("plugins")
    }

    /// Copy a built plugin into the plugins folder; returns the copy's path.
    pub fn install(&self, plugin: Plugin) -> PathBuf {
        let source = plugin_library(plugin);
        let target = self.plugins().join(source.file_name().expect("file name"));
        std::fs::copy(&source, &target).expect("copy plugin");
        target
    }

    /// Write `servers_config.json` (the downstream servers).
    pub fn write_servers(&self, servers: &serde_json::Value) {
        let text = serde_json::to_string_pretty(servers).expect("servers JSON");
        std::fs::write(self.path().join("servers_config.json"), text).expect("write servers");
    }

    /// A `switchboard` command with this home.
    pub fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .env("SWITCHBOARD_HOME", self.path())
            .env_remove("SWITCHBOARD_CONFIG")
            .env("SWITCHBOARD_LOG", "warn")
            .env("RUST_BACKTRACE", "0");
        command
    }

    /// `switchboard serve --http` on a free loopback port with `auth` (`["--no-auth"]` or
    /// `["--token", T]`); returns once it listens (it says so on stderr).
    pub fn serve_http(&self, auth: &[&str]) -> HttpServer {
        let port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            free.local_addr().expect("address").port()
        };
        let mut child = self
            .command()
            .args(["serve", "--http", &format!("127.0.0.1:{port}")])
            .args(auth)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn serve --http");
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while !line.contains("serving MCP at") {
            line.clear();
            let read = std::io::BufRead::read_line(&mut stderr, &mut line).expect("read stderr");
            assert!(read > 0, "the server ended before listening");
        }
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        HttpServer { child, port }
    }

    /// Run the CLI with `args` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run switchboard")
    }
}

/// A `serve --http` process, killed when dropped.
pub struct HttpServer {
    child: std::process::Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tools/call` params for `name` with the arguments object `args`.
pub fn call(name: &str, args: serde_json::Value) -> rmcp::model::CallToolRequestParams {
    let mut params = rmcp::model::CallToolRequestParams::new(name.to_string());
    params.arguments = args.as_object().cloned();
    params
}

/// The text blocks of a tool result, joined by newlines.
pub fn text_of(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The switchboard binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_switchboard"))
}

/// stdout of a CLI run as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a CLI run as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
