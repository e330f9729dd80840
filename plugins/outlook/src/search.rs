//! Searching the mailbox: the person's words as one KQL string in `$search` (quoted, with a
//! `"` or `\` inside escaped so it cannot end the string early), the few properties a hit
//! shows in `$select`, pages of `$top` followed by `@odata.nextLink` until the limit.

use switchboard_plugin_api::Call;
use switchboard_plugin_api::model::SearchHit;

use crate::api::{Api, encode, item_id};
use crate::error::MailError;
use crate::wire::Message;

/// What a hit needs, and no more (Graph answers faster for fewer properties).
pub const SELECT: &str = "id,subject,from,receivedDateTime,bodyPreview,webLink";

/// The most hits one search returns, whatever it asks.
pub const MOST: usize = 250;

/// `query` as a KQL string for `$search`: `"..."`, with `\` and `"` escaped, control
/// characters made spaces. Empty words are refused.
pub fn kql(query: &str) -> Result<String, MailError> {
    let cleaned: String = query
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        return Err(MailError::Input(
            "the search query is empty: give the words to look for".to_string(),
        ));
    }
    let escaped = cleaned.replace('\\', "\\\\").replace('"', "\\\"");
    Ok(format!("\"{escaped}\""))
}

/// The messages matching `query` (in `folder`, an id or a well-known name such as `inbox`,
/// when given), newest first, at most `limit`.
pub fn messages(
    api: &Api,
    query: &str,
    folder: Option<&str>,
    limit: usize,
    page_size: u32,
    call: &Call,
) -> Result<Vec<Message>, MailError> {
    let limit = limit.min(MOST);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let search = kql(query)?;
    let within = match folder {
        Some(folder) => format!("/mailFolders/{}", encode(item_id(folder, "folder")?)),
        None => String::new(),
    };
    let top = limit.min(page_size as usize).max(1);
    let first = format!(
        "{}{within}/messages?$search={}&$select={}&$top={top}",
        api.root(),
        encode(&search),
        encode(SELECT)
    );
    let mut found = Vec::new();
    api.pages(
        first,
        "the mail search",
        call,
        limit.div_ceil(top) + 1,
        |m| {
            found.push(m);
            found.len() < limit
        },
    )?;
    Ok(found)
}

/// A message as a hit of the unified search.
pub fn hit(message: &Message) -> SearchHit {
    let mut about = Vec::new();
    if let Some(from) = &message.from {
        about.push(format!("from {}", from.shown()));
    }
    if let Some(at) = message.received() {
        about.push(at);
    }
    let preview = message
        .body_preview
        .as_deref()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let snippet = match (preview.is_empty(), about.is_empty()) {
        (_, true) => preview,
        (true, false) => about.join(", "),
        (false, false) => format!("{preview} ({})", about.join(", ")),
    };
    SearchHit {
        id: message.id.clone(),
        title: message.title(),
        url: message.web_link.clone(),
        snippet: (!snippet.is_empty()).then_some(snippet),
        score: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_one_kql_string_whatever_it_holds() {
        assert_eq!(kql("budget").unwrap(), "\"budget\"");
        assert_eq!(kql("  q3 budget ").unwrap(), "\"q3 budget\"");
        assert_eq!(
            kql("budget\" OR from:\"ceo").unwrap(),
            "\"budget\\\" OR from:\\\"ceo\""
        );
        assert_eq!(kql("a\\\"b").unwrap(), "\"a\\\\\\\"b\"");
        assert_eq!(kql("x\ny").unwrap(), "\"x y\"");
        assert!(matches!(kql(" \t "), Err(MailError::Input(_))));
    }
}
