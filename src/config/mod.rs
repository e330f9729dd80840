//! The host configuration: `config.yaml`, its types, its defaults and its validation.
//!
//! The shipped `config.yaml` at the repository root is also the embedded default (one file, so
//! the documentation of every key cannot drift from what the code does). Loading fails fast:
//! an unknown key, a wrong type or a bad value is an error that names the file and the key.

pub mod duration;
pub mod edit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub use duration::{Pause, Seconds};

use crate::home::Home;

/// The configuration text compiled into the binary, used when no file exists.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config.yaml");

/// Where the configuration in force came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// The defaults compiled into the binary (no file existed).
    Embedded,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Embedded => f.write_str("the embedded default configuration"),
        }
    }
}

/// A configuration error: which file, which key, what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("{origin}: not valid YAML: {message}")]
    Syntax {
        /// Where the text came from.
        origin: Source,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// A key has a wrong value or is unknown.
    #[error("{origin}: {key}: {message}")]
    Key {
        /// Where the text came from.
        origin: Source,
        /// The dotted path of the key, e.g. `connectors.files.call_timeout`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The whole host configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Logging.
    pub log: LogConfig,
    /// How plugin libraries are found and run.
    pub plugins: PluginsConfig,
    /// One section per plugin, by the plugin's name.
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// The unified `search` / `fetch` tools.
    pub search: SearchConfig,
    /// The audit log.
    pub audit: AuditConfig,
    /// Downstream MCP servers.
    pub servers: ServersConfig,
    /// Which calls need a person's approval, and how to ask.
    pub approvals: ApprovalsConfig,
    /// How `switchboard serve` runs on stdio.
    pub serve: ServeConfig,
}

/// `log:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `switchboard=debug,warn`; `SWITCHBOARD_LOG` wins.
    pub level: String,
    /// Also append the log to `<state>/switchboard.log`.
    pub file: bool,
}

/// `plugins:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// The plugins folder; `None` means `<home>/plugins`.
    pub folder: Option<PathBuf>,
    /// Also load the connectors shipped beside the switchboard executable.
    pub bundled: bool,
    /// Load libraries dropped into the folder while running.
    pub watch: bool,
    /// How long one plugin call may take unless its section says otherwise.
    pub call_timeout: Seconds,
    /// How many calls one plugin runs at once; more wait their turn.
    pub max_concurrent_calls: usize,
}

/// `connectors.<name>:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectorConfig {
    /// Load this plugin; unset means the plugin's own default (most load, test fixtures do not).
    pub enabled: Option<bool>,
    /// Tool and prompt name prefix; unset means the plugin's default, `""` means none.
    pub prefix: Option<String>,
    /// Per-call timeout for this plugin.
    pub call_timeout: Option<Seconds>,
    /// How long the unified `search` waits for this data source; unset means
    /// `search.source_timeout`. A remote service may need longer than local files.
    pub search_timeout: Option<Seconds>,
    /// Believe the plugin's tool annotations (read-only...) when deciding what to ask;
    /// unset means yes for connectors shipped with switchboard, no for others.
    pub trust_annotations: Option<bool>,
    /// Where each declared secret comes from: `${env:NAME}` or `${keyring:NAME}`.
    pub secrets: BTreeMap<String, String>,
    /// The plugin's own settings, checked against the schema the plugin declares.
    pub config: Value,
}

/// `approvals:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// What a tool no rule matches gets.
    pub default: DefaultDecision,
    /// Rules over tool names and providers; deny beats ask beats allow.
    pub rules: Vec<ApprovalRule>,
    /// Providers (plugin or server names) whose tool annotations are believed.
    pub trust_annotations: Vec<String>,
    /// How long a question stays answerable (and how long elicitation waits).
    pub timeout: Seconds,
    /// How long a call waits for an inbox answer before it returns with instructions (well
    /// under a client's request timeout; at most `timeout`, until which the question stays
    /// open).
    pub wait: Seconds,
    /// Keep undecided calls in the approval inbox when the client cannot ask the person.
    pub inbox: bool,
    /// Tell the person with a desktop notification when a question waits (`serve` only).
    pub notify: bool,
}

impl ApprovalsConfig {
    /// How long a call waits for an inbox answer: `wait`, but never past `timeout`.
    pub fn wait_for_answer(&self) -> std::time::Duration {
        self.wait.min(self.timeout).get()
    }
}

/// What a tool without a matching rule gets.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DefaultDecision {
    /// Decide from the tool's trusted annotations: read-only runs, anything else is asked.
    Annotations,
    /// Run everything.
    Allow,
    /// Ask about everything.
    Ask,
    /// Refuse everything.
    Deny,
}

/// A decision a rule gives.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RuleDecision {
    /// Run without asking.
    Allow,
    /// Ask the person.
    Ask,
    /// Refuse.
    Deny,
}

/// One rule of `approvals.rules`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRule {
    /// Globs over tool names as clients see them (`shell__*`, `files__delete`); unset means
    /// every tool (of `provider`, if given).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Only tools of this plugin or server.
    #[serde(default)]
    pub provider: Option<String>,
    /// What matching tools get.
    pub decision: RuleDecision,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            default: DefaultDecision::Annotations,
            rules: Vec::new(),
            trust_annotations: Vec::new(),
            timeout: Seconds::from_secs(600),
            wait: Seconds::from_secs(40),
            inbox: true,
            notify: true,
        }
    }
}

/// `search:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// How long `search` waits for each source before reporting it as timed out.
    pub source_timeout: Seconds,
    /// Hits returned when the caller gives no limit.
    pub default_limit: u32,
    /// The largest limit a caller may ask for.
    pub max_limit: u32,
}

/// `audit:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Store tool arguments in the audit log and keep the readable text of settled approval
    /// questions (otherwise only their SHA-256 digest).
    pub store_arguments: bool,
    /// How long audit rows, settled approval questions and revoked or session grants are
    /// kept; older ones are purged when `serve` starts (and by `switchboard audit purge`).
    pub retention: Seconds,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            store_arguments: false,
            retention: Seconds::from_secs(90 * 86_400),
        }
    }
}

/// `servers:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServersConfig {
    /// The `mcpServers` file; relative paths are relative to the configuration folder.
    pub config: PathBuf,
    /// How long serving waits for servers still starting before it answers the first lists;
    /// servers that come up later are announced with `list_changed`.
    pub startup_wait: Seconds,
    /// How long a tool call naming a server that is still starting (by its prefix) waits for
    /// it to come up, instead of being told the tool is unknown.
    pub call_wait: Seconds,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info,rmcp=warn".into(),
            file: true,
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            folder: None,
            bundled: true,
            watch: true,
            call_timeout: Seconds::from_secs(30),
            max_concurrent_calls: 8,
        }
    }
}

impl Default for ConnectorConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            prefix: None,
            call_timeout: None,
            search_timeout: None,
            trust_annotations: None,
            secrets: BTreeMap::new(),
            config: Value::Object(Default::default()),
        }
    }
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            source_timeout: Seconds::from_secs(5),
            default_limit: 10,
            max_limit: 50,
        }
    }
}

/// `serve:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// After each line read (from the client or a downstream server), keep polling this long
    /// instead of sleeping, so a quick answer or the next request is taken without a wake-up
    /// (see `crate::awake`); zero turns it off.
    pub stay_awake: Pause,
    /// `serve --http`.
    pub http: HttpConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            stay_awake: Pause::from_micros(100),
            http: HttpConfig::default(),
        }
    }
}

/// `serve.http:`
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// How long a connection may take to send a request's headers (the first, or the next
    /// on a kept-alive connection) before it is closed.
    pub header_timeout: Seconds,
    /// How many connections are served at once; more wait to be accepted until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout: Seconds::from_secs(10),
            max_connections: 64,
        }
    }
}

impl Default for ServersConfig {
    fn default() -> Self {
        Self {
            config: PathBuf::from("servers_config.json"),
            startup_wait: Seconds::from_millis(1000),
            call_wait: Seconds::from_secs(30),
        }
    }
}

/// A configuration together with where it came from and the home it lives in.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The settings.
    pub config: Config,
    /// The file or the embedded defaults.
    pub source: Source,
    /// The home folder.
    pub home: Home,
}

impl Loaded {
    /// Load `explicit` if given (it must exist), else `<home>/config.yaml` if it exists, else
    /// the embedded defaults.
    pub fn load(home: Home, explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => Some(home.config_file()).filter(|p| p.exists()),
        };
        let (config, source) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let source = Source::File(path);
                (parse(&text, &source)?, source)
            }
            None => (
                parse(EMBEDDED_DEFAULT, &Source::Embedded)?,
                Source::Embedded,
            ),
        };
        Ok(Self {
            config,
            source,
            home,
        })
    }

    /// The plugins folder in force.
    pub fn plugins_folder(&self) -> PathBuf {
        match &self.config.plugins.folder {
            Some(folder) => self.relative_to_config(&expand_tilde(folder)),
            None => self.home.plugins_dir.clone(),
        }
    }

    /// The `mcpServers` file in force.
    pub fn servers_file(&self) -> PathBuf {
        self.relative_to_config(&expand_tilde(&self.config.servers.config))
    }

    fn relative_to_config(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        match &self.source {
            Source::File(file) => file
                .parent()
                .map(|dir| dir.join(path))
                .unwrap_or_else(|| path.to_path_buf()),
            Source::Embedded => self.home.config_dir.join(path),
        }
    }
}

/// Parse and validate configuration text.
pub fn parse(text: &str, source: &Source) -> Result<Config, ConfigError> {
    // YAML → JSON value first, so every key error can name its dotted path.
    let value: Value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_saphyr::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: source.clone(),
            message: e.to_string(),
        })?
    };
    let value = if value.is_null() {
        Value::Object(Default::default())
    } else {
        value
    };
    let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Key {
            origin: source.clone(),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message: e.into_inner().to_string(),
        }
    })?;
    validate(&config, source)?;
    Ok(config)
}

fn validate(config: &Config, source: &Source) -> Result<(), ConfigError> {
    let key_error = |key: String, message: String| ConfigError::Key {
        origin: source.clone(),
        key,
        message,
    };
    if config.plugins.max_concurrent_calls == 0 {
        return Err(key_error(
            "plugins.max_concurrent_calls".into(),
            "must be at least 1".into(),
        ));
    }
    if config.serve.http.max_connections == 0 {
        return Err(key_error(
            "serve.http.max_connections".into(),
            "must be at least 1".into(),
        ));
    }
    if config.search.default_limit == 0 || config.search.default_limit > config.search.max_limit {
        return Err(key_error(
            "search.default_limit".into(),
            format!(
                "must be between 1 and search.max_limit ({})",
                config.search.max_limit
            ),
        ));
    }
    for (index, rule) in config.approvals.rules.iter().enumerate() {
        if rule.tools.is_empty() && rule.provider.is_none() {
            return Err(key_error(
                format!("approvals.rules[{index}]"),
                "a rule needs `tools` (globs over tool names), `provider`, or both".into(),
            ));
        }
        for glob in &rule.tools {
            if let Err(e) = globset::Glob::new(glob) {
                return Err(key_error(
                    format!("approvals.rules[{index}].tools"),
                    format!("{glob:?} is not a valid glob: {e}"),
                ));
            }
        }
    }
    for (name, section) in &config.connectors {
        if let Some(prefix) = &section.prefix
            && !prefix.is_empty()
            && !crate::catalog::naming::is_valid_prefix(prefix)
        {
            return Err(key_error(
                format!("connectors.{name}.prefix"),
                format!("{prefix:?} is not a valid prefix: use letters, digits, '_' and '-'"),
            ));
        }
        if !section.config.is_object() {
            return Err(key_error(
                format!("connectors.{name}.config"),
                "must be a mapping of the plugin's settings".into(),
            ));
        }
        for (secret, reference) in &section.secrets {
            if crate::secrets::Reference::parse(reference).is_none() {
                return Err(key_error(
                    format!("connectors.{name}.secrets.{secret}"),
                    "must be a reference such as ${env:NAME} or ${keyring:NAME}; secrets are never written inline".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Expand a leading `~` to the user's home folder (as plugins do).
pub fn expand_tilde(path: &Path) -> PathBuf {
    use switchboard_plugin_api::paths::{expand_home, home_dir};
    match path.to_str() {
        Some(text) => expand_home(text, home_dir().as_deref()),
        None => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_is_the_default() {
        let parsed = parse(EMBEDDED_DEFAULT, &Source::Embedded).expect("shipped config parses");
        // The shipped file spells out the bundled connectors' sections.
        let expected = Config {
            connectors: parsed.connectors.clone(),
            ..Config::default()
        };
        assert_eq!(parsed, expected);
        assert!(parsed.connectors.contains_key("files"));
    }

    #[test]
    fn stay_awake_may_be_zero_but_not_negative() {
        let off = parse("serve: {stay_awake: 0}\n", &Source::Embedded).unwrap();
        assert!(off.serve.stay_awake.get().is_zero());
        let set = parse("serve: {stay_awake: 250us}\n", &Source::Embedded).unwrap();
        assert_eq!(set.serve.stay_awake.get().as_micros(), 250);
        let err = parse("serve: {stay_awake: -1}\n", &Source::Embedded).unwrap_err();
        assert!(err.to_string().contains("serve.stay_awake"), "{err}");
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let source = Source::File(PathBuf::from("/tmp/c.yaml"));
        let err = parse("plugins:\n  wtach: true\n", &source).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/tmp/c.yaml: plugins"), "{text}");
        assert!(text.contains("wtach"), "{text}");
    }

    #[test]
    fn wrong_type_names_the_dotted_key() {
        let err = parse(
            "connectors:\n  files:\n    call_timeout: soon\n",
            &Source::Embedded,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("connectors.files.call_timeout"),
            "{err}"
        );
    }

    #[test]
    fn inline_secret_is_refused() {
        let err = parse(
            "connectors:\n  box:\n    secrets:\n      TOKEN: hunter2\n",
            &Source::Embedded,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("connectors.box.secrets.TOKEN"),
            "{err}"
        );
    }

    #[test]
    fn empty_file_means_defaults() {
        assert_eq!(parse("", &Source::Embedded).unwrap(), Config::default());
        assert_eq!(
            parse("# nothing\n", &Source::Embedded).unwrap(),
            Config::default()
        );
    }
}
