//! The plugin's settings: the databases it offers, and for each which tables and operations
//! become tools, how big a page or a batch may be, and whether it may write. The JSON Schema
//! the host validates `config.yaml` with is derived from these types; what it cannot say
//! (names, URLs without inline passwords, globs that compile, a password slot that exists)
//! is [`Settings::check`], each message naming the setting.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Settings;

/// The secrets a database's password may come from: the manifest must declare them up front,
/// so there is a fixed set of slots, and each database names the one it uses.
pub const PASSWORD_SLOTS: [&str; 9] = [
    "password_1",
    "password_2",
    "password_3",
    "password_4",
    "password_5",
    "password_6",
    "password_7",
    "password_8",
    "password_9",
];

/// The plugin's settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The databases whose tables become tools.
    #[serde(default)]
    pub databases: Vec<DatabaseConfig>,
    /// Seconds between checks for a schema change (a table added or altered) and between
    /// attempts to open a database that could not be opened.
    #[serde(default = "default_refresh")]
    #[schemars(range(min = 1, max = 86_400))]
    pub refresh_seconds: u64,
}

/// One database.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The prefix of its tools: table `customer` of database `shop` gives
    /// `shop__customer_create` … `shop__customer_bulk_upsert`. Lowercase letters, digits and
    /// `_`, starting with a letter.
    pub name: String,
    /// `sqlite:PATH` (a file; `~` is the home folder), or `postgres://user@host:port/db` /
    /// `host=… user=… dbname=…`. Never a password: see password_secret.
    pub url: String,
    /// The secret holding the PostgreSQL password: one of password_1 … password_9, set in
    /// the connector's `secrets:` as a `${keyring:…}` or `${env:…}` reference.
    #[serde(default)]
    pub password_secret: Option<String>,
    /// Which tables and views become tools.
    #[serde(default)]
    pub tables: TableFilter,
    /// The operations offered for each table (all nine by default; e.g. `[read, list]`).
    #[serde(default = "all_operations")]
    pub operations: Vec<Operation>,
    /// Offer reads only (read, list), and open the database so it cannot write.
    #[serde(default)]
    pub read_only: bool,
    /// Per table, the text columns whose rows the unified search looks in; `["*"]` means all
    /// its text columns. Tables not named here are not searched.
    #[serde(default)]
    pub search_columns: BTreeMap<String, Vec<String>>,
    /// The most rows one list call returns (its limit is capped at this).
    #[serde(default = "default_list_limit")]
    #[schemars(range(min = 1, max = 10_000))]
    pub list_limit: u64,
    /// The most rows one bulk call takes.
    #[serde(default = "default_bulk_size")]
    #[schemars(range(min = 1, max = 10_000))]
    pub bulk_size: u64,
    /// Seconds a statement may wait for a lock (SQLite) or run (PostgreSQL), and connecting
    /// may take.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 3_600))]
    pub timeout_seconds: u64,
    /// TLS towards PostgreSQL (rustls); ignored for SQLite.
    #[serde(default)]
    pub tls: TlsConfig,
}

/// Include and exclude globs over table names (`*`, `?`, `[abc]`; a PostgreSQL table
/// matches by `name` or `schema.name`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableFilter {
    /// A table must match one of these.
    #[serde(default = "everything")]
    pub include: Vec<String>,
    /// And none of these.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Default for TableFilter {
    fn default() -> Self {
        Self {
            include: everything(),
            exclude: Vec::new(),
        }
    }
}

/// TLS settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// `disable`, `prefer` or `require` (the default: the certificate and host verified).
    #[serde(default)]
    pub mode: TlsModeConfig,
    /// A PEM file of certificate authorities to trust instead of the built-in roots.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// As libpq's sslmode.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TlsModeConfig {
    Disable,
    Prefer,
    #[default]
    Require,
}

/// One of the nine operations.
#[derive(
    Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
    List,
    BulkCreate,
    BulkUpdate,
    BulkDelete,
    BulkUpsert,
}

impl Operation {
    /// All nine, in the order their tools are listed.
    pub const ALL: [Operation; 9] = [
        Operation::Create,
        Operation::Read,
        Operation::Update,
        Operation::Delete,
        Operation::List,
        Operation::BulkCreate,
        Operation::BulkUpdate,
        Operation::BulkDelete,
        Operation::BulkUpsert,
    ];

    /// Its name in tool names and the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::BulkCreate => "bulk_create",
            Operation::BulkUpdate => "bulk_update",
            Operation::BulkDelete => "bulk_delete",
            Operation::BulkUpsert => "bulk_upsert",
        }
    }

    /// Whether it only reads.
    pub fn reads(self) -> bool {
        matches!(self, Operation::Read | Operation::List)
    }
}

fn all_operations() -> Vec<Operation> {
    Operation::ALL.to_vec()
}
fn everything() -> Vec<String> {
    vec!["*".to_string()]
}
fn default_refresh() -> u64 {
    30
}
fn default_list_limit() -> u64 {
    100
}
fn default_bulk_size() -> u64 {
    100
}
fn default_timeout() -> u64 {
    10
}

/// Where a database lives, as its URL says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Sqlite(String),
    Postgres,
}

impl DatabaseConfig {
    /// Which backend the URL names.
    pub fn location(&self) -> Result<Location, String> {
        if let Some(path) = self.url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("a sqlite: url needs a path (sqlite:/data/app.db)".to_string());
            }
            return Ok(Location::Sqlite(path.to_string()));
        }
        if self.url.starts_with("postgres://")
            || self.url.starts_with("postgresql://")
            || self.url.contains('=')
        {
            return Ok(Location::Postgres);
        }
        Err("the url must start with sqlite: or postgres://, or be host=… dbname=…".to_string())
    }

    /// The operations offered: the configured ones, reads only when read_only.
    pub fn offered(&self) -> Vec<Operation> {
        Operation::ALL
            .into_iter()
            .filter(|op| self.operations.contains(op) && (!self.read_only || op.reads()))
            .collect()
    }

    /// The compiled include and exclude globs.
    pub fn filter(&self) -> Result<(GlobSet, GlobSet), String> {
        Ok((
            globs(&self.tables.include, "tables.include")?,
            globs(&self.tables.exclude, "tables.exclude")?,
        ))
    }
}

fn globs(patterns: &[String], key: &str) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        set.add(Glob::new(pattern).map_err(|e| format!("{key}: {pattern:?}: {e}"))?);
    }
    set.build().map_err(|e| format!("{key}: {e}"))
}

/// Whether a PostgreSQL URL or key=value string carries a password itself.
fn inline_password(url: &str) -> bool {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let userinfo = authority.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
        return userinfo.contains(':') || url.contains("password=");
    }
    url.split_whitespace().any(|pair| {
        pair.trim_start()
            .to_ascii_lowercase()
            .starts_with("password")
    })
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 30
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.contains("__")
}

impl Settings for Config {
    fn check(&self) -> Result<(), String> {
        if !(1..=86_400).contains(&self.refresh_seconds) {
            return Err("refresh_seconds must be 1 to 86400".to_string());
        }
        let mut seen = Vec::new();
        for (i, db) in self.databases.iter().enumerate() {
            let at = format!("databases[{i}]");
            if !valid_name(&db.name) {
                return Err(format!(
                    "{at}.name {:?} must be lowercase letters, digits and _ (no __), starting \
                     with a letter, at most 30 characters",
                    db.name
                ));
            }
            if seen.contains(&&db.name) {
                return Err(format!("{at}.name {:?} is used twice", db.name));
            }
            seen.push(&db.name);
            let at = format!("databases[{i}] ({})", db.name);
            let location = db.location().map_err(|e| format!("{at}.url: {e}"))?;
            if location == Location::Postgres && inline_password(&db.url) {
                return Err(format!(
                    "{at}.url holds a password: take it out and set password_secret to one of \
                     password_1 … password_9, given in the connector's secrets as a \
                     ${{keyring:…}} or ${{env:…}} reference"
                ));
            }
            if let Some(slot) = &db.password_secret
                && !PASSWORD_SLOTS.contains(&slot.as_str())
            {
                return Err(format!(
                    "{at}.password_secret {slot:?} must be one of password_1 … password_9"
                ));
            }
            if db.operations.is_empty() {
                return Err(format!("{at}.operations is empty: name at least one"));
            }
            db.filter().map_err(|e| format!("{at}.{e}"))?;
            for (key, value, most) in [
                ("list_limit", db.list_limit, 10_000),
                ("bulk_size", db.bulk_size, 10_000),
                ("timeout_seconds", db.timeout_seconds, 3_600),
            ] {
                if !(1..=most).contains(&value) {
                    return Err(format!("{at}.{key} must be 1 to {most}"));
                }
            }
            for (table, columns) in &db.search_columns {
                if columns.is_empty() {
                    return Err(format!(
                        "{at}.search_columns.{table} is empty: name columns or [\"*\"]"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
