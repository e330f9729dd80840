//! `servers_config.json`: the downstream MCP servers, in Claude Desktop's `mcpServers` format,
//! with switchboard's optional extensions; parsing, defaults, validation and `${env:…}`
//! expansion.
//!
//! A whole file that cannot be read is one error; an entry that is wrong is an error for that
//! server only (named `mcpServers.<name>.<key>`), and every other server still runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::catalog::naming;
use crate::config::{Seconds, expand_tilde};
use crate::secrets::{Reference, Resolver};

/// How switchboard talks to a server.
#[derive(Clone, Debug, PartialEq)]
pub enum Transport {
    /// A child process speaking MCP on its stdin/stdout.
    Stdio {
        /// The program (looked up on `PATH` when it has no folder).
        command: String,
        /// Its arguments (may hold `${env:NAME}`).
        args: Vec<String>,
        /// Variables added to switchboard's environment (values may hold `${env:NAME}`).
        env: BTreeMap<String, String>,
        /// The working folder; `None` means switchboard's own.
        cwd: Option<PathBuf>,
    },
    /// A remote server over Streamable HTTP.
    Http {
        /// The endpoint (may hold `${env:NAME}`).
        url: String,
        /// Headers sent with every request (values may hold `${env:NAME}`).
        headers: BTreeMap<String, String>,
    },
}

impl Transport {
    /// `stdio` or `http`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
        }
    }
}

/// Which of a server's tools are offered: allowed by `allow` (all when empty) and not denied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolFilter {
    /// Globs over the server's own tool names; empty allows every tool.
    pub allow: Vec<String>,
    /// Globs over the server's own tool names.
    pub deny: Vec<String>,
}

impl ToolFilter {
    /// Whether the tool named `name` (the server's own name) is offered.
    pub fn admits(&self, name: &str) -> bool {
        let allowed = self.allow.is_empty() || self.allow.iter().any(|g| glob_matches(g, name));
        allowed && !self.deny.iter().any(|g| glob_matches(g, name))
    }
}

/// How a server that died is restarted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestartPolicy {
    /// Restarts in a row before the server is given up as failed (0: never restart).
    pub max_attempts: u32,
    /// The wait before the first restart; it doubles with each failure in a row.
    pub initial_delay: Duration,
    /// The longest wait between restarts.
    pub max_delay: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// One valid server entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSpec {
    /// Its name (the key under `mcpServers`).
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// The prefix of its tool and prompt names (`""` for none).
    pub prefix: String,
    /// Which tools are offered.
    pub tools: ToolFilter,
    /// How long starting (spawn, `initialize`, first lists) may take.
    pub startup_timeout: Duration,
    /// How long one call may take.
    pub call_timeout: Duration,
    /// Restarts after a crash.
    pub restart: RestartPolicy,
    /// Believe its tool annotations when deciding what needs approval.
    pub trust_annotations: bool,
}

/// One entry of the file: a server to run, one that is switched off, or one that is wrong.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key under `mcpServers`.
    pub name: String,
    /// What the entry says.
    pub kind: EntryKind,
    /// Keys switchboard does not know (from other clients' formats); they are ignored.
    pub ignored_keys: Vec<String>,
}

/// What an entry says.
#[derive(Clone, Debug)]
pub enum EntryKind {
    /// A server to run.
    Enabled(ServerSpec),
    /// `"disabled": true` or `"enabled": false` (the spec is still checked).
    Disabled(ServerSpec),
    /// The entry is wrong: the message names the file, the server and the key.
    Invalid(String),
}

/// The whole file.
#[derive(Clone, Debug, Default)]
pub struct ServersFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its entries, in name order.
    pub entries: Vec<Entry>,
    /// Why the file as a whole could not be used (no server runs then).
    pub error: Option<String>,
}

/// Default `startup_timeout`.
pub const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `call_timeout`.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestart {
    max_attempts: Option<u32>,
    initial_delay: Option<Seconds>,
    max_delay: Option<Seconds>,
}

#[derive(Deserialize)]
struct RawEntry {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    disabled: bool,
    /// `"enabled": false`, as other MCP hosts write it: the same as `"disabled": true`.
    enabled: Option<bool>,
    prefix: Option<String>,
    tools: Option<RawFilter>,
    startup_timeout: Option<Seconds>,
    call_timeout: Option<Seconds>,
    restart: Option<RawRestart>,
    #[serde(default)]
    trust_annotations: bool,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// Read and check the file at `path`. A missing file means no servers.
pub fn load(path: &Path) -> ServersFile {
    let mut file = ServersFile {
        path: path.to_path_buf(),
        ..ServersFile::default()
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return file,
        Err(e) => {
            file.error = Some(format!("cannot read {}: {e}", path.display()));
            return file;
        }
    };
    match parse(&text, path) {
        Ok(entries) => file.entries = entries,
        Err(message) => file.error = Some(message),
    }
    file
}

/// Parse the text of a servers file found at `path` (relative `cwd`s are relative to its
/// folder). Errors of one entry land in that entry; an `Err` means the file is unusable.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, String> {
    let origin = path.display();
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!("{origin}: not valid JSON: {e}; the file holds {{\"mcpServers\": {{...}}}}")
    })?;
    let Value::Object(top) = value else {
        return Err(format!(
            "{origin}: must be a JSON object with an \"mcpServers\" object inside"
        ));
    };
    let servers = match top.get("mcpServers") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(servers)) => servers,
        Some(_) => {
            return Err(format!(
                "{origin}: mcpServers: must be an object of servers by name"
            ));
        }
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    Ok(servers
        .iter()
        .map(|(name, value)| entry(name, value, folder, &origin.to_string()))
        .collect())
}

fn entry(name: &str, value: &Value, folder: &Path, origin: &str) -> Entry {
    let key = |k: &str| format!("{origin}: mcpServers.{name}.{k}");
    let mut ignored_keys = Vec::new();
    let kind = match spec(name, value, folder, origin, &key, &mut ignored_keys) {
        Ok((spec, true)) => EntryKind::Disabled(spec),
        Ok((spec, false)) => EntryKind::Enabled(spec),
        Err(message) => EntryKind::Invalid(message),
    };
    Entry {
        name: name.to_string(),
        kind,
        ignored_keys,
    }
}

fn spec(
    name: &str,
    value: &Value,
    folder: &Path,
    origin: &str,
    key: &dyn Fn(&str) -> String,
    ignored: &mut Vec<String>,
) -> Result<(ServerSpec, bool), String> {
    if !value.is_object() {
        return Err(format!(
            "{origin}: mcpServers.{name}: must be an object with \"command\" (and \"args\", \"env\") or \"url\""
        ));
    }
    let raw: RawEntry = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("{origin}: mcpServers.{name}: {inner}")
        } else {
            format!("{}: {inner}", key(&path))
        }
    })?;
    ignored.extend(raw.other.keys().cloned());
    let kind = raw.kind.as_deref().map(str::to_ascii_lowercase);
    let transport = match (kind.as_deref(), raw.command, raw.url) {
        (Some("sse"), _, _) => {
            return Err(format!(
                "{}: the SSE transport is not supported; switchboard reaches remote servers over Streamable HTTP (set \"type\": \"http\" and the server's Streamable HTTP endpoint, often ending in /mcp)",
                key("type")
            ));
        }
        (Some(other), _, _)
            if !matches!(
                other,
                "stdio" | "http" | "streamable-http" | "streamablehttp"
            ) =>
        {
            return Err(format!(
                "{}: {other:?} is not a transport switchboard knows: use \"stdio\" (with \"command\") or \"http\" (with \"url\")",
                key("type")
            ));
        }
        (_, Some(_), Some(_)) => {
            return Err(format!(
                "{origin}: mcpServers.{name}: has both \"command\" and \"url\"; keep one"
            ));
        }
        (Some("http" | "streamable-http" | "streamablehttp"), Some(_), None) => {
            return Err(format!(
                "{}: an http server needs \"url\", not \"command\"",
                key("type")
            ));
        }
        (Some("stdio"), None, Some(_)) => {
            return Err(format!(
                "{}: a stdio server needs \"command\", not \"url\"",
                key("type")
            ));
        }
        (_, Some(command), None) => {
            if command.trim().is_empty() {
                return Err(format!("{}: must name a program", key("command")));
            }
            check_references(&raw.args, &key("args"))?;
            for (variable, text) in &raw.env {
                check_references(std::slice::from_ref(text), &key(&format!("env.{variable}")))?;
            }
            Transport::Stdio {
                command,
                args: raw.args,
                env: raw.env,
                cwd: raw.cwd.map(|dir| {
                    let dir = expand_tilde(&dir);
                    if dir.is_absolute() {
                        dir
                    } else {
                        folder.join(dir)
                    }
                }),
            }
        }
        (_, None, Some(url)) => {
            check_references(std::slice::from_ref(&url), &key("url"))?;
            let scheme_ok =
                url.starts_with("http://") || url.starts_with("https://") || url.starts_with("${");
            if !scheme_ok {
                return Err(format!(
                    "{}: {url:?} is not an http:// or https:// address",
                    key("url")
                ));
            }
            for (header, text) in &raw.headers {
                check_references(
                    std::slice::from_ref(text),
                    &key(&format!("headers.{header}")),
                )?;
            }
            Transport::Http {
                url,
                headers: raw.headers,
            }
        }
        (_, None, None) => {
            return Err(format!(
                "{origin}: mcpServers.{name}: needs \"command\" (a program to start) or \"url\" (a Streamable HTTP server)"
            ));
        }
    };
    let prefix = match raw.prefix {
        Some(prefix) => {
            if !prefix.is_empty() && !naming::is_valid_prefix(&prefix) {
                return Err(format!(
                    "{}: {prefix:?} is not a valid prefix: letters, digits, '_' and '-', at most 40 characters (\"\" for none)",
                    key("prefix")
                ));
            }
            prefix
        }
        None if naming::is_valid_prefix(name) => name.to_string(),
        None => {
            return Err(format!(
                "{origin}: mcpServers.{name}: the name is not usable as a tool prefix (letters, digits, '_' and '-', at most 40 characters); set \"prefix\" to one that is"
            ));
        }
    };
    let tools = match raw.tools {
        Some(filter) => {
            for (list, globs) in [("allow", &filter.allow), ("deny", &filter.deny)] {
                if let Some(bad) = globs.iter().find(|g| g.is_empty()) {
                    return Err(format!(
                        "{}: {bad:?} is not a glob over tool names",
                        key(&format!("tools.{list}"))
                    ));
                }
            }
            ToolFilter {
                allow: filter.allow,
                deny: filter.deny,
            }
        }
        None => ToolFilter::default(),
    };
    let defaults = RestartPolicy::default();
    let restart = match raw.restart {
        Some(r) => RestartPolicy {
            max_attempts: r.max_attempts.unwrap_or(defaults.max_attempts),
            initial_delay: r.initial_delay.map_or(defaults.initial_delay, Seconds::get),
            max_delay: r.max_delay.map_or(defaults.max_delay, Seconds::get),
        },
        None => defaults,
    };
    if restart.initial_delay > restart.max_delay {
        return Err(format!(
            "{}: is longer than restart.max_delay ({:?})",
            key("restart.initial_delay"),
            restart.max_delay
        ));
    }
    let spec = ServerSpec {
        name: name.to_string(),
        transport,
        prefix,
        tools,
        startup_timeout: raw
            .startup_timeout
            .map_or(DEFAULT_STARTUP_TIMEOUT, Seconds::get),
        call_timeout: raw.call_timeout.map_or(DEFAULT_CALL_TIMEOUT, Seconds::get),
        restart,
        trust_annotations: raw.trust_annotations,
    };
    if raw.disabled && raw.enabled == Some(true) {
        return Err(format!(
            "{origin}: mcpServers.{name}: says both \"disabled\": true and \"enabled\": true; keep one"
        ));
    }
    Ok((spec, raw.disabled || raw.enabled == Some(false)))
}

/// Every `${...}` in `texts` must be a reference switchboard understands.
fn check_references(texts: &[String], key: &str) -> Result<(), String> {
    for text in texts {
        for piece in references(text) {
            if Reference::parse(piece).is_none() {
                return Err(format!(
                    "{key}: {piece:?} is not a reference switchboard understands: use ${{env:NAME}} or ${{keyring:NAME}}"
                ));
            }
        }
    }
    Ok(())
}

/// The `${...}` pieces of `text`.
fn references(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        match rest[start..].find('}') {
            Some(end) => {
                found.push(&rest[start..start + end + 1]);
                rest = &rest[start + end + 1..];
            }
            None => {
                found.push(&rest[start..]);
                break;
            }
        }
    }
    found
}

/// Replace every `${env:NAME}` / `${keyring:NAME}` in `text` by its value; an unset one is an
/// error naming `key` and the reference (never a value).
pub fn expand(text: &str, key: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("{key}: an unclosed \"${{\""));
        };
        let piece = &rest[start..start + end + 1];
        let reference = Reference::parse(piece)
            .ok_or_else(|| format!("{key}: {piece:?} is not a reference"))?;
        match Resolver.resolve(&reference) {
            Ok(Some(value)) => out.push_str(&value),
            Ok(None) => {
                return Err(format!(
                    "{key}: {piece} is not set; set it in the environment switchboard starts in (or store it with `switchboard secrets set`)"
                ));
            }
            Err(e) => return Err(format!("{key}: {piece}: {e}")),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `*` matches any run of characters, `?` any one character; everything else itself.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let pattern: Vec<char> = glob.chars().collect();
    let text: Vec<char> = name.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(json: &str) -> EntryKind {
        let entries = parse(json, Path::new("/cfg/servers_config.json")).expect("file parses");
        entries.into_iter().next().expect("one entry").kind
    }

    fn invalid(json: &str) -> String {
        match parse_one(json) {
            EntryKind::Invalid(message) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn claude_desktop_entries_parse_unchanged() {
        let text = r#"{"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
            "gh": {"command": "gh-mcp", "env": {"TOKEN": "${env:GH_TOKEN}"}, "cwd": "work"}
        }}"#;
        let entries = parse(text, Path::new("/cfg/servers_config.json")).unwrap();
        assert_eq!(entries.len(), 2);
        let EntryKind::Enabled(fs) = &entries[0].kind else {
            panic!("{:?}", entries[0])
        };
        assert_eq!(fs.prefix, "fs");
        assert_eq!(fs.restart, RestartPolicy::default());
        assert!(!fs.trust_annotations);
        let EntryKind::Enabled(gh) = &entries[1].kind else {
            panic!("{:?}", entries[1])
        };
        let Transport::Stdio { cwd, env, .. } = &gh.transport else {
            panic!()
        };
        assert_eq!(cwd.as_deref(), Some(Path::new("/cfg/work")));
        assert_eq!(env["TOKEN"], "${env:GH_TOKEN}");
    }

    #[test]
    fn extensions_parse() {
        let kind = parse_one(
            r#"{"mcpServers": {"a": {"command": "x", "disabled": true, "prefix": "",
               "tools": {"allow": ["get_*"], "deny": ["get_secret"]},
               "startup_timeout": "5s", "call_timeout": 2,
               "restart": {"max_attempts": 2, "initial_delay": "100ms", "max_delay": "1s"},
               "trust_annotations": true}}}"#,
        );
        let EntryKind::Disabled(spec) = kind else {
            panic!("{kind:?}")
        };
        assert_eq!(spec.prefix, "");
        assert!(spec.tools.admits("get_page"));
        assert!(!spec.tools.admits("get_secret"));
        assert!(!spec.tools.admits("put_page"));
        assert_eq!(spec.startup_timeout, Duration::from_secs(5));
        assert_eq!(spec.call_timeout, Duration::from_secs(2));
        assert_eq!(spec.restart.max_attempts, 2);
        assert_eq!(spec.restart.initial_delay, Duration::from_millis(100));
        assert!(spec.trust_annotations);
    }

    #[test]
    fn errors_name_the_server_and_the_key() {
        let e = invalid(r#"{"mcpServers": {"a": {"command": "x", "startup_timeout": "soon"}}}"#);
        assert!(
            e.starts_with("/cfg/servers_config.json: mcpServers.a.startup_timeout: "),
            "{e}"
        );
        let e = invalid(r#"{"mcpServers": {"a": {"command": "x", "tools": {"alow": []}}}}"#);
        assert!(e.contains("mcpServers.a.tools"), "{e}");
        assert!(e.contains("alow"), "{e}");
        let e = invalid(r#"{"mcpServers": {"a": {"command": "x", "args": ["${file:/x}"]}}}"#);
        assert!(e.contains("mcpServers.a.args"), "{e}");
        let e = invalid(r#"{"mcpServers": {"my server": {"command": "x"}}}"#);
        assert!(e.contains("set \"prefix\""), "{e}");
        let e = invalid(r#"{"mcpServers": {"a": {"args": []}}}"#);
        assert!(e.contains("needs \"command\""), "{e}");
        let e = invalid(r#"{"mcpServers": {"a": {"type": "sse", "url": "http://x/sse"}}}"#);
        assert!(e.contains("Streamable HTTP"), "{e}");
        let e = invalid(r#"{"mcpServers": {"a": {"command": "x", "prefix": "a b"}}}"#);
        assert!(e.contains("mcpServers.a.prefix"), "{e}");
    }

    #[test]
    fn enabled_false_is_disabled() {
        let kind = parse_one(r#"{"mcpServers": {"a": {"command": "x", "enabled": false}}}"#);
        assert!(matches!(kind, EntryKind::Disabled(_)), "{kind:?}");
        let kind = parse_one(r#"{"mcpServers": {"a": {"command": "x", "enabled": true}}}"#);
        assert!(matches!(kind, EntryKind::Enabled(_)), "{kind:?}");
        let e = invalid(
            r#"{"mcpServers": {"a": {"command": "x", "enabled": true, "disabled": true}}}"#,
        );
        assert!(e.contains("keep one"), "{e}");
        let e = invalid(r#"{"mcpServers": {"a": {"command": "x", "enabled": "no"}}}"#);
        assert!(e.contains("mcpServers.a.enabled"), "{e}");
    }

    #[test]
    fn unknown_keys_of_other_clients_are_ignored_and_named() {
        let entries = parse(
            r#"{"mcpServers": {"a": {"command": "x", "alwaysAllow": ["t"]}}}"#,
            Path::new("s.json"),
        )
        .unwrap();
        assert!(matches!(entries[0].kind, EntryKind::Enabled(_)));
        assert_eq!(entries[0].ignored_keys, vec!["alwaysAllow".to_string()]);
    }

    #[test]
    fn http_entries() {
        let kind = parse_one(
            r#"{"mcpServers": {"r": {"type": "http", "url": "https://example.test/mcp",
               "headers": {"Authorization": "Bearer ${env:R_TOKEN}"}}}}"#,
        );
        let EntryKind::Enabled(spec) = kind else {
            panic!("{kind:?}")
        };
        assert_eq!(spec.transport.kind(), "http");
    }

    #[test]
    fn a_broken_file_is_one_error() {
        let e = parse("{not json", Path::new("s.json")).unwrap_err();
        assert!(e.starts_with("s.json: not valid JSON"), "{e}");
        assert!(parse("", Path::new("s.json")).unwrap().is_empty());
        assert!(parse("{}", Path::new("s.json")).unwrap().is_empty());
    }

    #[test]
    fn expansion() {
        assert_eq!(expand("plain", "k").unwrap(), "plain");
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand("x${env:PATH}y", "k").unwrap(), format!("x{path}y"));
        let e = expand("${env:SWITCHBOARD_SURELY_UNSET_VAR}", "mcpServers.a.env.T").unwrap_err();
        assert!(
            e.starts_with("mcpServers.a.env.T: ${env:SWITCHBOARD_SURELY_UNSET_VAR} is not set")
        );
    }

    #[test]
    fn globs() {
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("get_*", "get_"));
        assert!(glob_matches("*_file", "read_file"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("*a*b*", "xxaxxbxx"));
        assert!(!glob_matches("echo", "echo2"));
    }
}
