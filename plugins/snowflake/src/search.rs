//! The data source: the unified search asks the configured Cortex Search service
//! (`POST /api/v2/databases/{db}/schemas/{schema}/cortex-search-services/{service}:query`,
//! each name percent-encoded as one path segment), and fetch reads the hit's row from the
//! table behind it by its key, the id passed as a bind variable (never written into the SQL).

use serde_json::{Map, Value, json};
use switchboard_plugin_api::Call;
use switchboard_plugin_api::model::{Document, SearchHit};

use crate::api::{Api, Target};
use crate::cells::shown;
use crate::config::{Config, SearchConfig};
use crate::error::Error;
use crate::ident::{Ident, qualified};
use crate::statements::{self, Statement};
use crate::wire::{SearchQuery, SearchResults, Status};

/// Cortex Search returns at most this many results a query.
const MOST: u32 = 1_000;
/// The longest id fetch takes.
const MAX_ID: usize = 1_024;
/// How long a snippet is, in characters.
const SNIPPET: usize = 240;

fn configured(config: &Config) -> Result<&SearchConfig, Error> {
    config.search.as_ref().ok_or_else(|| {
        Error::NotConfigured(
            "Snowflake search is not configured: set search.service (a Cortex Search service) \
             with search.database, search.schema and search.id_column in this source's \
             config section"
                .to_string(),
        )
    })
}

fn ident(value: &str, what: &str) -> Result<Ident, Error> {
    Ident::new(value).map_err(|e| Error::NotConfigured(format!("{what}: {e}")))
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Search the Cortex Search service for `query`.
pub fn search(
    api: &Api,
    config: &Config,
    query: &str,
    limit: u32,
    call: &Call,
) -> Result<Vec<SearchHit>, Error> {
    let search = configured(config)?;
    if query.trim().is_empty() {
        return Err(Error::Invalid("the search query is empty".to_string()));
    }
    let (database, schema) = search.place(config);
    let database = ident(database.unwrap_or_default(), "search.database")?;
    let schema = ident(schema.unwrap_or_default(), "search.schema")?;
    let service = ident(&search.service, "search.service")?;
    let path = format!(
        "/api/v2/databases/{}/schemas/{}/cortex-search-services/{}:query",
        database.segment(),
        schema.segment(),
        service.segment()
    );
    let body = SearchQuery {
        query,
        columns: search.wanted_columns(),
        limit: limit.clamp(1, MOST),
    };
    let body = serde_json::to_value(&body)
        .map_err(|e| Error::Invalid(format!("the search cannot be sent as JSON: {e}")))?;
    let response = api.send(&Target::post(path, Some(body)), Some(call))?;
    if response.status() != 200 {
        let said: Status = response.json().unwrap_or_default();
        let detail = said.message.map(|m| format!(": {m}")).unwrap_or_default();
        return Err(match response.status() {
            404 => Error::NotFound(format!(
                "Snowflake has no Cortex Search service {} in {}.{} the role can use (404{detail}): \
                 check search.service, search.database and search.schema",
                service.as_str(),
                database.as_str(),
                schema.as_str()
            )),
            status => Error::Answer(format!(
                "Cortex Search answered {status}{detail}: check the search settings"
            )),
        });
    }
    let found: SearchResults = response
        .json()
        .map_err(|e| Error::Answer(format!("Cortex Search's answer could not be read: {e}")))?;
    found
        .results
        .iter()
        .map(|result| hit(search, result))
        .collect()
}

fn hit(search: &SearchConfig, result: &Map<String, Value>) -> Result<SearchHit, Error> {
    let id = text_of(result.get(&search.id_column)).ok_or_else(|| {
        Error::Answer(format!(
            "a Cortex Search result has no {} column: set search.id_column to a column the \
             service returns",
            search.id_column
        ))
    })?;
    let title = search
        .title_column
        .as_ref()
        .and_then(|c| text_of(result.get(c)))
        .unwrap_or_else(|| id.clone());
    let snippet = search
        .text_column
        .as_ref()
        .and_then(|c| text_of(result.get(c)))
        .map(|text| cut(&text, SNIPPET));
    Ok(SearchHit {
        id,
        title,
        url: None,
        snippet,
        score: None,
    })
}

fn cut(text: &str, most: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(most) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// The row whose id column is `id`, as a document of `column: value` lines.
pub fn fetch(api: &Api, config: &Config, id: &str, call: &Call) -> Result<Document, Error> {
    let search = configured(config)?;
    if id.is_empty() || id.chars().count() > MAX_ID || id.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{:?} is not a Snowflake document id (ids are what search returned: at most \
             {MAX_ID} characters, no control characters)",
            id.chars().take(40).collect::<String>()
        )));
    }
    let Some(table) = &search.table else {
        return Err(Error::NotConfigured(
            "fetch needs search.table, the table whose search.id_column keys the rows".to_string(),
        ));
    };
    let (database, schema) = search.place(config);
    let database = ident(database.unwrap_or_default(), "search.database")?;
    let schema = ident(schema.unwrap_or_default(), "search.schema")?;
    let table = ident(table, "search.table")?;
    let column = ident(&search.id_column, "search.id_column")?;
    let sql = format!(
        "SELECT * FROM {} WHERE {} = ?",
        qualified(&[&database, &schema, &table]),
        column.quoted()
    );
    let statement = Statement {
        sql: &sql,
        bindings: vec![id.to_string()],
    };
    let rows = statements::run(api, config, &statement, 1, call)?;
    let Some(row) = rows.rows.first() else {
        return Err(Error::NotFound(format!(
            "no row of {} has {} = {id:?}: search again for a current id",
            table.as_str(),
            column.as_str()
        )));
    };
    let mut metadata = Map::new();
    let mut text = String::new();
    for (column, value) in rows.columns.iter().zip(row) {
        text.push_str(&format!("{}: {}\n", column.name, shown(value)));
        metadata.insert(column.name.clone(), value.clone());
    }
    let title = search
        .title_column
        .as_ref()
        .and_then(|c| text_of(metadata.get(c)))
        .unwrap_or_else(|| id.to_string());
    let metadata = json!({
        "table": qualified(&[&database, &schema, &table]),
        "statement_handle": rows.statement_handle,
        "row": Value::Object(metadata),
    });
    Ok(Document {
        id: id.to_string(),
        title,
        text,
        url: None,
        metadata: match metadata {
            Value::Object(map) => map,
            _ => Map::new(),
        },
    })
}
