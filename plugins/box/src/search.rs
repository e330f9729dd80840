//! Searching Box: `GET /search?query=…&type=file&limit=…&offset=…`, offset pages followed
//! until the limit, Box's total or a short page, each hit a file with its id, name, link and
//! a snippet from its description and folder path.

use switchboard_plugin_api::Call;
use switchboard_plugin_api::model::SearchHit;
use switchboard_plugin_http::Offsets;

use crate::api::{Api, query};
use crate::error::Failure;
use crate::wire::{FILE_FIELDS, Item, Page};

/// The files matching `words`, at most `limit`.
pub fn files(api: &Api, words: &str, limit: u32, call: &Call) -> Result<Vec<Item>, Failure> {
    let words = words.trim();
    if words.is_empty() {
        return Err(Failure::Invalid(
            "a Box search needs words to look for".to_string(),
        ));
    }
    let limit = limit.min(api.config.search_limit);
    let mut found = Vec::new();
    if limit == 0 {
        return Ok(found);
    }
    let per_page = limit.min(api.config.page_size);
    let per_page_text = per_page.to_string();
    let mut offsets = Offsets::new(u64::from(per_page));
    while let Some(offset) = offsets.next() {
        if call.is_cancelled() {
            return Err(Failure::Cancelled);
        }
        let offset_text = offset.to_string();
        let url = api.config.api("/search")
            + &query(&[
                ("query", words),
                ("type", "file"),
                ("limit", &per_page_text),
                ("offset", &offset_text),
                ("fields", FILE_FIELDS),
            ]);
        let page: Page<Item> = api.get_json(&url, "searching Box", call)?;
        offsets.advance(page.entries.len(), page.total_count);
        found.extend(page.entries.into_iter().filter(|i| i.kind == "file"));
        if found.len() >= limit as usize {
            found.truncate(limit as usize);
            break;
        }
    }
    Ok(found)
}

/// A file as a search hit.
pub fn hit(api: &Api, item: &Item) -> SearchHit {
    SearchHit {
        id: item.id.clone(),
        title: item.name.clone(),
        url: Some(api.config.file_link(&item.id)),
        snippet: snippet(item),
        score: None,
    }
}

/// The description and where the file is: what Box says of a file without opening it.
pub fn snippet(item: &Item) -> Option<String> {
    let described = item
        .described()
        .map(|d| d.chars().take(300).collect::<String>());
    let place = item.path().map(|p| format!("in {p}"));
    match (described, place) {
        (Some(d), Some(p)) => Some(format!("{d} ({p})")),
        (d, p) => d.or(p),
    }
}
