//! The stand-in's Cortex Search endpoint: `POST /api/v2/databases/{db}/schemas/{schema}/
//! cortex-search-services/{service}:query` with `{query, columns, limit}`, answered from the
//! seeded `DOCUMENTS` table (a result per document whose title or body holds a query term,
//! most matches first) as `{results: [{<column>: value}], request_id}`; `400` for a body
//! without `query`, a `limit` outside 1-1000 or a column the service does not return; `404`
//! for another service.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{DATABASE, SCHEMA, SEARCH_SERVICE, Shared, error, gate, lock};

pub(super) async fn query(
    State(data): State<Shared>,
    Path((db, schema, service)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut data = lock(&data);
    if let Some(response) = gate(&mut data, &headers) {
        return response;
    }
    let Some(service) = service.strip_suffix(":query") else {
        return error(StatusCode::NOT_FOUND, "390404", "Unknown endpoint.");
    };
    if (db.as_str(), schema.as_str(), service) != (DATABASE, SCHEMA, SEARCH_SERVICE) {
        return error(
            StatusCode::NOT_FOUND,
            "399504",
            &format!("Cortex Search Service {service} does not exist or not authorized."),
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "399501",
            "Unable to parse the request body.",
        );
    };
    data.searches.push(body.clone());
    let Some(query) = body["query"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "399502", "query is required.");
    };
    let limit = body["limit"].as_u64().unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            "399503",
            "limit must be between 1 and 1000.",
        );
    }
    let Some(table) = data
        .catalog
        .iter()
        .flat_map(|d| &d.schemas)
        .flat_map(|s| &s.tables)
        .find(|t| t.name == "DOCUMENTS")
    else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "000000",
            "the seed lost its documents",
        );
    };
    let columns: Vec<String> = match body["columns"].as_array() {
        Some(list) => list
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        None => vec!["BODY".to_string()],
    };
    let mut indexes = Vec::new();
    for column in &columns {
        match table.columns.iter().position(|c| c.name == column) {
            Some(at) => indexes.push(at),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "399505",
                    &format!("Column {column} is not in the service's source query."),
                );
            }
        }
    }
    let terms: Vec<String> = query
        .to_lowercase()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut scored: Vec<(usize, &Vec<Option<String>>)> = table
        .rows
        .iter()
        .map(|row| {
            let text = format!(
                "{} {}",
                row[1].as_deref().unwrap_or(""),
                row[2].as_deref().unwrap_or("")
            )
            .to_lowercase();
            (
                terms.iter().map(|t| text.matches(t.as_str()).count()).sum(),
                row,
            )
        })
        .filter(|(score, _)| *score > 0)
        .collect();
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    let results: Vec<Value> = scored
        .iter()
        .take(limit as usize)
        .map(|(_, row)| {
            let object: serde_json::Map<String, Value> = columns
                .iter()
                .zip(&indexes)
                .map(|(name, &at)| {
                    (
                        name.clone(),
                        row[at].clone().map_or(Value::Null, Value::String),
                    )
                })
                .collect();
            Value::Object(object)
        })
        .collect();
    axum::Json(json!({"results": results, "request_id": format!("search-{}", data.searches.len())}))
        .into_response()
}
