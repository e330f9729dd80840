//! The connector's settings: where the account is, who signs in and how, the session context
//! statements run in, the limits a statement runs under, and the Cortex Search service behind
//! the unified search. The JSON Schema the host validates `config.yaml` with is derived from
//! these types; what the schema cannot say (an account or an `api_url`, a user for key-pair
//! sign-in, identifiers without control characters) is [`Settings::check`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Settings;

use crate::ident::Ident;

/// The connector's settings, every default filled in.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The account identifier, as in its URL: `myorg-myaccount` (organization and account
    /// name joined by a dash) or an account locator such as `xy12345.eu-central-1`. Needed for
    /// key-pair sign-in (the JWT names it) and for the default api_url.
    #[serde(default)]
    pub account: Option<String>,
    /// The Snowflake user the connector signs in as. Needed for key-pair sign-in; with a
    /// programmatic access token the token says who it is.
    #[serde(default)]
    pub user: Option<String>,
    /// The SQL API's base URL. Default: `https://{account}.snowflakecomputing.com`. Set it for
    /// a private link, a proxy, or a stand-in.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Snowflake has no separate token endpoint for these flows (the JWT is made and signed
    /// here, a programmatic access token is sent as it is). Accepted like every connector's
    /// auth_url: when `account` is not set, the account the key-pair JWT names is read from
    /// this URL's host (else from api_url's).
    #[serde(default)]
    pub auth_url: Option<String>,
    /// The warehouse statements run on (case-sensitive, as Snowflake stores it); the user's
    /// default when not set.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// The database statements run in; the user's default when not set.
    #[serde(default)]
    pub database: Option<String>,
    /// The schema statements run in; the user's default when not set.
    #[serde(default)]
    pub schema: Option<String>,
    /// The role statements run as; the user's default role when not set. Give it a role that
    /// can only read what the person wants the model to see.
    #[serde(default)]
    pub role: Option<String>,
    /// How the connector signs in: `token` (a programmatic access token, the secret `token`)
    /// or `key_pair` (a JWT signed with the secret `private_key`).
    #[serde(default)]
    pub auth: AuthMode,
    /// Seconds a statement may run before Snowflake cancels it (the SQL API's `timeout`).
    #[serde(default = "default_statement_timeout")]
    #[schemars(range(min = 1, max = 604_800))]
    pub statement_timeout: u64,
    /// The most rows a query returns; the rest are not fetched, and the answer says it was
    /// cut.
    #[serde(default = "default_max_rows")]
    #[schemars(range(min = 1, max = 100_000))]
    pub max_rows: u64,
    /// The Cortex Search service the unified search asks, and the table fetch reads a hit
    /// from. Without it the search says it is not configured.
    #[serde(default)]
    pub search: Option<SearchConfig>,
}

/// How the connector authenticates.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// A programmatic access token (secret `token`).
    #[default]
    Token,
    /// A key-pair JWT signed with the secret `private_key`.
    KeyPair,
}

/// A Cortex Search service and the table behind it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// The service's database; the top-level `database` when not set.
    #[serde(default)]
    pub database: Option<String>,
    /// The service's schema; the top-level `schema` when not set.
    #[serde(default)]
    pub schema: Option<String>,
    /// The Cortex Search service's name.
    #[serde(default)]
    pub service: String,
    /// Columns a search returns; empty means the id, title and text columns.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The column holding a result's id (what fetch takes).
    #[serde(default = "default_id_column")]
    pub id_column: String,
    /// The column holding a result's title; the id when not set.
    #[serde(default)]
    pub title_column: Option<String>,
    /// The column a hit's snippet is cut from.
    #[serde(default)]
    pub text_column: Option<String>,
    /// The table (in the service's database and schema) whose id_column fetch looks a row up
    /// by. Without it fetch says it is not configured.
    #[serde(default)]
    pub table: Option<String>,
}

fn default_statement_timeout() -> u64 {
    60
}

fn default_max_rows() -> u64 {
    1_000
}

fn default_id_column() -> String {
    "ID".to_string()
}

impl Config {
    /// The SQL API's base URL, without a trailing `/`.
    pub fn api_base(&self) -> String {
        match (&self.api_url, &self.account) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(account)) => format!("https://{account}.snowflakecomputing.com"),
            // `check` refuses this; keep a value that fails clearly if it is reached anyway.
            (None, None) => "https://account-not-set.snowflakecomputing.com".to_string(),
        }
    }

    /// The account the key-pair JWT names: `account`, else the first label of auth_url's or
    /// api_url's host.
    pub fn jwt_account(&self) -> Option<String> {
        if let Some(account) = &self.account {
            return Some(account.clone());
        }
        let url = self.auth_url.as_ref().or(self.api_url.as_ref())?;
        let host = url.split("://").nth(1)?.split(['/', ':', '?']).next()?;
        let account = host.strip_suffix(".snowflakecomputing.com")?;
        (!account.is_empty()).then(|| account.to_string())
    }
}

impl SearchConfig {
    /// The service's database and schema, falling back to the session's.
    pub fn place<'a>(&'a self, config: &'a Config) -> (Option<&'a str>, Option<&'a str>) {
        (
            self.database.as_deref().or(config.database.as_deref()),
            self.schema.as_deref().or(config.schema.as_deref()),
        )
    }

    /// The columns a search asks for.
    pub fn wanted_columns(&self) -> Vec<String> {
        if !self.columns.is_empty() {
            return self.columns.clone();
        }
        let mut columns = vec![self.id_column.clone()];
        for column in [&self.title_column, &self.text_column]
            .into_iter()
            .flatten()
        {
            if !columns.contains(column) {
                columns.push(column.clone());
            }
        }
        columns
    }
}

fn url_ok(name: &str, url: &str) -> Result<(), String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("{name} must be an http(s) URL, not {url:?}"))
    }
}

impl Settings for Config {
    fn check(&self) -> Result<(), String> {
        if self.account.is_none() && self.api_url.is_none() {
            return Err("set account (e.g. myorg-myaccount) or api_url".to_string());
        }
        if let Some(account) = &self.account
            && (account.is_empty()
                || !account
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(format!(
                "account {account:?} is not an account identifier (letters, digits, - _ .)"
            ));
        }
        // The schema's bounds, again: the host validates with them, a direct caller may not.
        if !(1..=604_800).contains(&self.statement_timeout) {
            return Err("statement_timeout must be 1 to 604800 seconds".to_string());
        }
        if !(1..=100_000).contains(&self.max_rows) {
            return Err("max_rows must be 1 to 100000".to_string());
        }
        for (name, url) in [("api_url", &self.api_url), ("auth_url", &self.auth_url)] {
            if let Some(url) = url {
                url_ok(name, url)?;
            }
        }
        if self.auth == AuthMode::KeyPair {
            if self.user.as_deref().is_none_or(str::is_empty) {
                return Err(
                    "auth: key_pair needs user (the Snowflake user the key belongs to)".to_string(),
                );
            }
            if self.jwt_account().is_none() {
                return Err("auth: key_pair needs account (the JWT names it)".to_string());
            }
        }
        for (name, value) in [
            ("warehouse", &self.warehouse),
            ("database", &self.database),
            ("schema", &self.schema),
            ("role", &self.role),
            ("user", &self.user),
        ] {
            if let Some(value) = value {
                Ident::new(value).map_err(|e| format!("{name}: {e}"))?;
            }
        }
        if let Some(search) = &self.search {
            check_search(self, search)?;
        }
        Ok(())
    }
}

fn check_search(config: &Config, search: &SearchConfig) -> Result<(), String> {
    if search.service.is_empty() {
        return Err("search.service must name the Cortex Search service".to_string());
    }
    let (database, schema) = search.place(config);
    if database.is_none() || schema.is_none() {
        return Err(
            "search needs a database and a schema (search.database / search.schema, or the \
             top-level database / schema)"
                .to_string(),
        );
    }
    let named = [
        Some(&search.service),
        Some(&search.id_column),
        search.title_column.as_ref(),
        search.text_column.as_ref(),
        search.table.as_ref(),
        search.database.as_ref(),
        search.schema.as_ref(),
    ];
    for value in named.into_iter().flatten().chain(&search.columns) {
        Ident::new(value).map_err(|e| format!("search: {e}"))?;
    }
    Ok(())
}
