//! The unified `search` and `fetch` tools: one query fanned out to every data source at once,
//! one fetch routed by the id's source prefix.
//!
//! A source that fails or misses its deadline never fails the search: the caller gets the
//! other sources' hits and an error entry naming the source. Hits are interleaved by rank
//! (each source's best first), since scores are not comparable across sources.

use std::time::{Duration, Instant};

use futures::future::join_all;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};

use super::health::SourceHealth;
use crate::provider::{ProviderError, SearchQuery, SharedProvider, SourceHit};
use crate::requester::Requester;

/// Arguments of `search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for.
    pub query: String,
    /// Most hits wanted.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only these sources.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
}

/// Arguments of `fetch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// `<source>:<native id>`.
    pub id: String,
}

/// Limits of the unified search.
#[derive(Clone, Copy, Debug)]
pub struct SearchLimits {
    /// Deadline per source.
    pub source_timeout: Duration,
    /// Default hit count.
    pub default_limit: u32,
    /// Largest hit count.
    pub max_limit: u32,
}

/// The tool definitions.
pub fn tools(limits: SearchLimits) -> Vec<Tool> {
    let read_only = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .open_world(false);
    let search_input = json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "What to look for, in plain words."},
            "limit": {"type": "integer", "minimum": 1, "maximum": limits.max_limit,
                      "description": format!("Most results to return (default {}).", limits.default_limit)},
            "sources": {"type": "array", "items": {"type": "string"},
                        "description": "Only search these sources (by name, e.g. \"files\"); default all."}
        },
        "required": ["query"],
        "additionalProperties": false
    });
    let search_output = json!({
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"}, "url": {"type": "string"},
                    "snippet": {"type": "string"}, "source": {"type": "string"}
                },
                "required": ["id", "title", "source"]
            }},
            "errors": {"type": "array", "items": {
                "type": "object",
                "properties": {"source": {"type": "string"}, "error": {"type": "string"}},
                "required": ["source", "error"]
            }}
        },
        "required": ["results", "errors"]
    });
    let fetch_input = json!({
        "type": "object",
        "properties": {"id": {"type": "string", "minLength": 1,
                               "description": "The id of a search result, e.g. \"files:/home/me/notes.md\"."}},
        "required": ["id"],
        "additionalProperties": false
    });
    let fetch_output = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "text": {"type": "string"},
            "url": {"type": "string"}, "metadata": {"type": "object"}
        },
        "required": ["id", "title", "text", "metadata"]
    });
    vec![
        Tool::new(
            "search",
            "Search every connected data source (local files, mail, documents...) at once. Returns ranked results with ids to pass to `fetch`.",
            object(search_input),
        )
        .with_raw_output_schema(object(search_output).into())
        .with_title("Search all sources")
        .annotate(read_only.clone()),
        Tool::new(
            "fetch",
            "Fetch the full text of one search result by its id.",
            object(fetch_input),
        )
        .with_raw_output_schema(object(fetch_output).into())
        .with_title("Fetch a search result")
        .annotate(read_only),
    ]
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// Run `search` over `sources` (name, provider).
pub async fn search(
    args: SearchArgs,
    sources: Vec<SharedProvider>,
    limits: SearchLimits,
    health: &SourceHealth,
    requester: &Requester,
) -> Result<CallToolResult, ProviderError> {
    let limit = args
        .limit
        .unwrap_or(limits.default_limit)
        .clamp(1, limits.max_limit);
    if let Some(wanted) = &args.sources
        && let Some(unknown) = wanted
            .iter()
            .find(|w| !sources.iter().any(|s| s.name() == w.as_str()))
    {
        let known: Vec<&str> = sources.iter().map(|s| s.name()).collect();
        return Err(ProviderError::InvalidInput(format!(
            "unknown source {unknown:?}; the sources are: {}",
            known.join(", ")
        )));
    }
    let selected: Vec<SharedProvider> = sources
        .into_iter()
        .filter(|s| {
            args.sources
                .as_ref()
                .is_none_or(|w| w.iter().any(|n| n == s.name()))
        })
        .collect();
    let query = SearchQuery {
        query: args.query.clone(),
        limit,
    };
    let asks = selected.iter().map(|source| {
        let query = query.clone();
        // Each source gets its own token, so its deadline stops it alone.
        let requester = requester.with_child_cancellation();
        let deadline = source.search_timeout().unwrap_or(limits.source_timeout);
        async move {
            let token = requester.cancellation().clone();
            let started = Instant::now();
            let outcome = tokio::time::timeout(deadline, source.search(query, requester)).await;
            let outcome = match outcome {
                Ok(result) => result,
                Err(_) => {
                    token.cancel();
                    Err(ProviderError::Timeout(deadline))
                }
            };
            health.record(source.name(), &outcome, started.elapsed());
            outcome
        }
    });
    let outcomes = join_all(asks).await;

    let mut per_source: Vec<(String, std::vec::IntoIter<SourceHit>)> = Vec::new();
    let mut errors = Vec::new();
    for (source, outcome) in selected.iter().zip(outcomes) {
        match outcome {
            Ok(hits) => per_source.push((source.name().to_string(), hits.into_iter())),
            Err(e) => {
                tracing::warn!(source = source.name(), error = %e, "search source failed");
                errors.push(json!({"source": source.name(), "error": e.to_string()}));
            }
        }
    }
    let mut results = Vec::new();
    'rounds: loop {
        let mut any = false;
        for (source, hits) in per_source.iter_mut() {
            if let Some(hit) = hits.next() {
                any = true;
                results.push(hit_json(source, hit));
                if results.len() >= limit as usize {
                    break 'rounds;
                }
            }
        }
        if !any {
            break;
        }
    }
    let text = render_search(&args.query, &results, &errors);
    let structured = json!({"results": results, "errors": errors});
    let mut result = CallToolResult::structured(structured);
    result.content = vec![ContentBlock::text(text)];
    Ok(result)
}

fn hit_json(source: &str, hit: SourceHit) -> Value {
    let mut entry = json!({
        "id": format!("{source}:{}", hit.id),
        "title": hit.title,
        "source": source,
    });
    if let Some(url) = hit.url {
        entry["url"] = Value::String(url);
    }
    if let Some(snippet) = hit.snippet {
        entry["snippet"] = Value::String(snippet);
    }
    entry
}

fn render_search(query: &str, results: &[Value], errors: &[Value]) -> String {
    let mut text = if results.is_empty() {
        format!("No results for {query:?}.")
    } else {
        format!("{} result(s) for {query:?}:\n", results.len())
    };
    for (n, hit) in results.iter().enumerate() {
        text.push_str(&format!(
            "\n{}. {}\n   id: {}",
            n + 1,
            hit["title"].as_str().unwrap_or(""),
            hit["id"].as_str().unwrap_or("")
        ));
        if let Some(snippet) = hit["snippet"].as_str() {
            text.push_str(&format!("\n   {snippet}"));
        }
    }
    for error in errors {
        text.push_str(&format!(
            "\n\n(source {} did not answer: {})",
            error["source"].as_str().unwrap_or("?"),
            error["error"].as_str().unwrap_or("?")
        ));
    }
    text
}

/// Run `fetch`: route `<source>:<native id>` to its source.
pub async fn fetch(
    args: FetchArgs,
    sources: Vec<SharedProvider>,
    health: &SourceHealth,
    requester: Requester,
) -> Result<CallToolResult, ProviderError> {
    let Some((source_name, native)) = args.id.split_once(':') else {
        return Err(ProviderError::InvalidInput(format!(
            "{:?} is not a search result id: ids look like <source>:<id>, as `search` returns them",
            args.id
        )));
    };
    let Some(source) = sources.iter().find(|s| s.name() == source_name) else {
        let known: Vec<&str> = sources.iter().map(|s| s.name()).collect();
        return Err(ProviderError::NotFound(format!(
            "no data source named {source_name:?}; the sources are: {}",
            known.join(", ")
        )));
    };
    let started = Instant::now();
    let outcome = source.fetch(native.to_string(), requester).await;
    health.record(source.name(), &outcome, started.elapsed());
    let document = outcome?;
    let mut structured = json!({
        "id": format!("{source_name}:{}", document.id),
        "title": document.title,
        "text": document.text,
        "metadata": Value::Object(document.metadata),
    });
    if let Some(url) = &document.url {
        structured["url"] = Value::String(url.clone());
    }
    let text = format!(
        "# {}\n(id: {})\n\n{}",
        structured["title"].as_str().unwrap_or(""),
        structured["id"].as_str().unwrap_or(""),
        structured["text"].as_str().unwrap_or("")
    );
    let mut result = CallToolResult::structured(structured);
    result.content = vec![ContentBlock::text(text)];
    Ok(result)
}
