//! The connector's tools: `query` (read-only statements only, see [`crate::sql`]), `execute`
//! (any statement; not read-only, so the host asks the person first), the catalog's listings
//! (`list_databases`, `list_schemas`, `list_tables`, `describe_table`, written with quoted
//! identifiers), and the sign-in convention's `sign_in`, `check` and `sign_out`.

use schemars::JsonSchema;
use serde::Deserialize;
use switchboard_plugin_api::model::ToolAnnotations;
use switchboard_plugin_api::source::{CHECK, SIGN_IN, SIGN_OUT};
use switchboard_plugin_api::{Call, ErrorKind, PluginError, Tool, ToolResult, Tools};

use crate::Snowflake;
use crate::cells::shown;
use crate::error::Error;
use crate::ident::{Ident, qualified};
use crate::render;
use crate::sql::check_read_only;
use crate::statements::{self, Rows, Statement};

/// A statement to run.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementArgs {
    /// One SQL statement.
    #[schemars(length(min = 1))]
    pub statement: String,
    /// The most rows to return (at most the configured max_rows).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_rows: Option<u64>,
}

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// A database.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseArgs {
    /// The database's name exactly as list_databases shows it (case-sensitive).
    pub database: String,
}

/// A schema.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaArgs {
    /// The database's name exactly as list_databases shows it (case-sensitive).
    pub database: String,
    /// The schema's name exactly as list_schemas shows it (case-sensitive).
    pub schema: String,
}

/// A table.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableArgs {
    /// The database's name exactly as list_databases shows it (case-sensitive).
    pub database: String,
    /// The schema's name exactly as list_schemas shows it (case-sensitive).
    pub schema: String,
    /// The table's (or view's) name exactly as list_tables shows it (case-sensitive).
    pub table: String,
}

/// `sign_in`'s arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInArgs {
    /// Ignored: Snowflake's sign-in here is a configured secret, with no interactive flow.
    #[serde(default)]
    pub flow: Option<String>,
}

/// Tools that change things: the host asks before each call.
fn asked() -> ToolAnnotations {
    ToolAnnotations {
        read_only_hint: Some(false),
        destructive_hint: Some(true),
        open_world_hint: Some(true),
        ..ToolAnnotations::default()
    }
}

/// The tool table.
pub fn tools() -> Tools<Snowflake> {
    Tools::new()
        .add(
            Tool::new(
                "query",
                "Run one read-only SQL statement (SELECT, WITH … SELECT, SHOW, DESCRIBE, \
                 EXPLAIN, LIST) in Snowflake and return its rows as a table. Statements that \
                 change data are refused: use execute for those.",
            )
            .title("Query Snowflake")
            .output::<Rows>()
            .annotations(ToolAnnotations::read_only()),
            query,
        )
        .add(
            Tool::new(
                "execute",
                "Run any single SQL statement in Snowflake, including ones that change data \
                 (INSERT, UPDATE, DELETE, CREATE...). The person is asked first.",
            )
            .title("Execute a Snowflake statement")
            .output::<Rows>()
            .annotations(asked()),
            execute,
        )
        .add(
            Tool::new("list_databases", "List the databases the role can see.")
                .title("List Snowflake databases")
                .output::<Rows>()
                .annotations(ToolAnnotations::read_only()),
            |s: &Snowflake, _: NoArgs, call: &Call| s.listing("SHOW DATABASES".to_string(), call),
        )
        .add(
            Tool::new("list_schemas", "List the schemas of a database.")
                .title("List Snowflake schemas")
                .output::<Rows>()
                .annotations(ToolAnnotations::read_only()),
            |s: &Snowflake, args: DatabaseArgs, call: &Call| {
                let sql = names(&[&args.database]).map(|q| format!("SHOW SCHEMAS IN DATABASE {q}"));
                s.listing_of(sql, call)
            },
        )
        .add(
            Tool::new("list_tables", "List the tables of a schema.")
                .title("List Snowflake tables")
                .output::<Rows>()
                .annotations(ToolAnnotations::read_only()),
            |s: &Snowflake, args: SchemaArgs, call: &Call| {
                let sql = names(&[&args.database, &args.schema])
                    .map(|q| format!("SHOW TABLES IN SCHEMA {q}"));
                s.listing_of(sql, call)
            },
        )
        .add(
            Tool::new(
                "describe_table",
                "Describe a table's columns: name, type, nullability, default, keys, comment.",
            )
            .title("Describe a Snowflake table")
            .output::<Rows>()
            .annotations(ToolAnnotations::read_only()),
            |s: &Snowflake, args: TableArgs, call: &Call| {
                let sql = names(&[&args.database, &args.schema, &args.table])
                    .map(|q| format!("DESCRIBE TABLE {q}"));
                s.listing_of(sql, call)
            },
        )
        .add(
            Tool::new(
                SIGN_IN,
                "Say how this source signs in (a configured secret; nothing interactive).",
            )
            .title("Sign in to Snowflake")
            .annotations(ToolAnnotations::read_only()),
            sign_in,
        )
        .add(
            Tool::new(
                CHECK,
                "Run one cheap statement to check that Snowflake answers, and say as whom.",
            )
            .title("Check the Snowflake connection")
            .annotations(ToolAnnotations::read_only()),
            check,
        )
        .add(
            Tool::new(
                SIGN_OUT,
                "Forget what this source holds in memory (it keeps no tokens).",
            )
            .title("Sign out of Snowflake")
            .annotations(ToolAnnotations::read_only()),
            sign_out,
        )
}

/// `"a"."b"` of names the model gave, each checked.
fn names(parts: &[&str]) -> Result<String, Error> {
    let idents = parts
        .iter()
        .map(|p| Ident::new(p).map_err(Error::Invalid))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(qualified(&idents.iter().collect::<Vec<_>>()))
}

/// A tool's answer: the rows, or the failure for the model to read; a cancellation is the
/// call's own error.
fn answer(result: Result<Rows, Error>) -> Result<ToolResult, PluginError> {
    match result {
        Ok(rows) => Ok(ToolResult::typed(render::table(&rows), &rows)),
        Err(Error::Cancelled) => Err(PluginError::new(ErrorKind::CANCELLED, "cancelled")),
        Err(error) => Ok(ToolResult::error(error.to_string())),
    }
}

impl Snowflake {
    fn run(&self, sql: &str, max_rows: Option<u64>, call: &Call) -> Result<Rows, Error> {
        let cap = max_rows
            .unwrap_or(self.config.max_rows)
            .clamp(1, self.config.max_rows);
        let statement = Statement {
            sql,
            bindings: Vec::new(),
        };
        statements::run(&self.api, &self.config, &statement, cap, call)
    }

    fn listing(&self, sql: String, call: &Call) -> Result<ToolResult, PluginError> {
        answer(self.run(&sql, None, call))
    }

    fn listing_of(
        &self,
        sql: Result<String, Error>,
        call: &Call,
    ) -> Result<ToolResult, PluginError> {
        match sql {
            Ok(sql) => self.listing(sql, call),
            Err(error) => Ok(ToolResult::error(error.to_string())),
        }
    }
}

fn query(s: &Snowflake, args: StatementArgs, call: &Call) -> Result<ToolResult, PluginError> {
    if let Err(refusal) = check_read_only(&args.statement) {
        return Ok(ToolResult::error(refusal.to_string()));
    }
    answer(s.run(&args.statement, args.max_rows, call))
}

fn execute(s: &Snowflake, args: StatementArgs, call: &Call) -> Result<ToolResult, PluginError> {
    answer(s.run(&args.statement, args.max_rows, call))
}

fn sign_in(s: &Snowflake, _: SignInArgs, _: &Call) -> Result<ToolResult, PluginError> {
    let auth = s.api.auth();
    match auth.header() {
        Ok(_) => Ok(ToolResult::text(format!(
            "Nothing interactive is needed: this source signs in with {} ({}), which is set. \
             `switchboard sources test snowflake` checks that Snowflake takes it.",
            auth.what(),
            auth.secret_needed()
        ))),
        Err(error) => Ok(ToolResult::error(format!(
            "Nothing interactive is needed, but {error}"
        ))),
    }
}

fn check(s: &Snowflake, _: NoArgs, call: &Call) -> Result<ToolResult, PluginError> {
    let sql = "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_WAREHOUSE()";
    match s.run(sql, Some(1), call) {
        Ok(rows) => {
            let cells: Vec<String> = rows
                .rows
                .first()
                .map(|row| row.iter().map(shown).collect())
                .unwrap_or_default();
            let get = |i: usize| cells.get(i).cloned().unwrap_or_else(|| "NULL".to_string());
            Ok(ToolResult::text(format!(
                "Snowflake at {} answered: signed in as {} with role {}, warehouse {} ({}).",
                s.api.base(),
                get(0),
                get(1),
                get(2),
                s.api.auth().what()
            )))
        }
        Err(Error::Cancelled) => Err(PluginError::new(ErrorKind::CANCELLED, "cancelled")),
        Err(error) => Ok(ToolResult::error(format!(
            "Snowflake at {} did not answer the check: {error}",
            s.api.base()
        ))),
    }
}

fn sign_out(s: &Snowflake, _: NoArgs, _: &Call) -> Result<ToolResult, PluginError> {
    s.api.auth().forget();
    Ok(ToolResult::text(
        "Nothing to sign out of: this source keeps no tokens (a key-pair JWT lives only in \
         memory, and was dropped). Its credential is the secret you configured; remove it with \
         `switchboard sources remove snowflake`.",
    ))
}
