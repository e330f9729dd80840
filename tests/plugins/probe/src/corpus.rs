//! The probe's data source: five fixed documents on unrelated topics, searched by substring.
//!
//! The host's tests use it to exercise the unified `search` / `fetch` without a real backend:
//! each document has words no other has (`sourdough`, `anemone`, `orbit`, `hive`, `gambit`), a
//! few words are shared (`temperature` in doc-1 and doc-4), and two magic queries misbehave on
//! purpose: `__slow__` takes ten seconds unless cancelled, `__fail__` fails.

use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use switchboard_plugin_api::model::{Document, JsonObject, SearchHit, SearchRequest};
use switchboard_plugin_api::{Call, ErrorKind, PluginError};

/// The query that makes a search take [`SLOW_SEARCH`] (or until cancelled).
pub const SLOW_QUERY: &str = "__slow__";
/// The query that makes a search fail.
pub const FAILING_QUERY: &str = "__fail__";
/// How long the slow search takes when nobody cancels it.
const SLOW_SEARCH: Duration = Duration::from_secs(10);
/// How often the slow search looks for cancellation.
const TICK: Duration = Duration::from_millis(10);
/// Characters of context on each side of a match in a snippet.
const SNIPPET_CONTEXT: usize = 40;

/// One document of the corpus.
struct Entry {
    id: &'static str,
    title: &'static str,
    topic: &'static str,
    text: &'static str,
}

const CORPUS: [Entry; 5] = [
    Entry {
        id: "doc-1",
        title: "Baking sourdough bread",
        topic: "cooking",
        text: "A sourdough starter is flour and water colonised by wild yeast and lactic acid \
               bacteria. Feed it daily, keep it at room temperature, and use it when it doubles \
               within six hours. A long cold proof gives the loaf its sour flavour and open crumb.",
    },
    Entry {
        id: "doc-2",
        title: "Life in tide pools",
        topic: "marine biology",
        text: "Tide pools form where the sea leaves water trapped among rocks at low tide. Sea \
               anemones, hermit crabs, limpets and starfish survive there despite waves, sun and \
               sudden changes of salinity.",
    },
    Entry {
        id: "doc-3",
        title: "Orbital mechanics for beginners",
        topic: "spaceflight",
        text: "A spacecraft in orbit is always falling but moving sideways fast enough to keep \
               missing the planet. To raise an orbit, burn prograde; a Hohmann transfer uses two \
               burns to move between circular orbits with the least fuel.",
    },
    Entry {
        id: "doc-4",
        title: "Beekeeping basics",
        topic: "agriculture",
        text: "A healthy hive holds one queen, thousands of workers and a few hundred drones. \
               Bees keep the brood nest near 35 degrees whatever the outside temperature, and \
               the beekeeper checks the frames for eggs, stores and signs of swarming.",
    },
    Entry {
        id: "doc-5",
        title: "Chess openings explained",
        topic: "games",
        text: "Openings fight for the centre, develop the pieces and bring the king to safety. \
               A gambit offers a pawn for quicker development; the Queen's Gambit and the King's \
               Gambit are the best known.",
    },
];

/// The documents whose title or text contains the query, ignoring case: title matches first,
/// then by id, at most `request.limit`. An empty query matches everything.
pub fn search(request: &SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
    match request.query.as_str() {
        SLOW_QUERY => return slow_search(call),
        FAILING_QUERY => {
            return Err(PluginError::new(
                ErrorKind::FAILED,
                "the probe's search failed on purpose",
            ));
        }
        _ => {}
    }
    Ok(matches(&request.query, request.limit))
}

/// The ordinary search: substring matches, scored 2 for the title and 1 for the text.
fn matches(query: &str, limit: u32) -> Vec<SearchHit> {
    let query = query.to_lowercase();
    let mut hits: Vec<SearchHit> = CORPUS
        .iter()
        .filter_map(|entry| {
            let in_title = entry.title.to_lowercase().contains(&query);
            let at = entry.text.to_lowercase().find(&query);
            let score = f64::from(u8::from(in_title)) * 2.0 + f64::from(u8::from(at.is_some()));
            (score > 0.0).then(|| SearchHit {
                id: entry.id.into(),
                title: entry.title.into(),
                url: Some(url(entry.id)),
                snippet: Some(snippet(entry.text, at.unwrap_or(0), query.len())),
                score: Some(score),
            })
        })
        .collect();
    // Stable sort: equal scores stay in corpus (id) order.
    hits.sort_by(|a, b| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)));
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    hits
}

/// The document with this id.
pub fn fetch(id: &str) -> Result<Document, PluginError> {
    let entry = CORPUS
        .iter()
        .find(|entry| entry.id == id)
        .ok_or_else(|| PluginError::new(ErrorKind::NOT_FOUND, format!("no probe document {id}")))?;
    let mut metadata = JsonObject::new();
    metadata.insert("topic".into(), Value::from(entry.topic));
    metadata.insert(
        "words".into(),
        Value::from(entry.text.split_whitespace().count()),
    );
    Ok(Document {
        id: entry.id.into(),
        title: entry.title.into(),
        text: entry.text.into(),
        url: Some(url(entry.id)),
        metadata,
    })
}

fn url(id: &str) -> String {
    format!("probe://docs/{id}")
}

/// Sleep [`SLOW_SEARCH`] in small steps, giving up when the request is cancelled.
fn slow_search(call: &Call) -> Result<Vec<SearchHit>, PluginError> {
    let mut waited = Duration::ZERO;
    while waited < SLOW_SEARCH {
        if call.is_cancelled() {
            return Err(PluginError::new(
                ErrorKind::CANCELLED,
                format!(
                    "the slow search was cancelled after {} ms",
                    waited.as_millis()
                ),
            ));
        }
        sleep(TICK);
        waited += TICK;
    }
    Ok(Vec::new())
}

/// About [`SNIPPET_CONTEXT`] characters either side of the match at byte `at` (of length
/// `len`) in `text`, with ellipses where it was cut. The corpus is ASCII, so offsets found in
/// the lowercased text are offsets in the text; `get` keeps this panic-free regardless.
fn snippet(text: &str, at: usize, len: usize) -> String {
    let start = at.saturating_sub(SNIPPET_CONTEXT);
    let end = (at + len + SNIPPET_CONTEXT).min(text.len());
    let Some(middle) = text.get(start..end) else {
        return text.chars().take(2 * SNIPPET_CONTEXT).collect();
    };
    let head = if start > 0 { "…" } else { "" };
    let tail = if end < text.len() { "…" } else { "" };
    format!("{head}{}{tail}", middle.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_ascii_with_unique_ids() {
        for entry in &CORPUS {
            assert!(
                entry.text.is_ascii() && entry.title.is_ascii(),
                "{}",
                entry.id
            );
            assert_eq!(CORPUS.iter().filter(|e| e.id == entry.id).count(), 1);
        }
    }

    fn ids(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|hit| hit.id.as_str()).collect()
    }

    #[test]
    fn search_ignores_case_and_ranks_titles_first() {
        assert_eq!(ids(&matches("SOURDOUGH", 10)), ["doc-1"]);
        assert_eq!(ids(&matches("temperature", 10)), ["doc-1", "doc-4"]);
        assert_eq!(ids(&matches("orbit", 10)), ["doc-3"]);
        assert_eq!(ids(&matches("gambit", 10))[0], "doc-5");
        assert_eq!(matches("", 10).len(), 5);
        assert_eq!(matches("", 2).len(), 2);
        assert!(matches("zeppelin", 10).is_empty());
    }

    #[test]
    fn snippets_surround_the_match() {
        let text = CORPUS[2].text;
        let at = text.find("Hohmann").expect("in doc-3");
        let snippet = snippet(text, at, "hohmann".len());
        assert!(snippet.contains("Hohmann transfer"), "{snippet}");
        assert!(
            snippet.starts_with('…') && snippet.ends_with('…'),
            "{snippet}"
        );
    }

    #[test]
    fn fetch_knows_only_the_corpus() {
        assert_eq!(
            fetch("doc-4").map(|d| d.title).ok().as_deref(),
            Some("Beekeeping basics")
        );
        assert_eq!(
            fetch("doc-9").map(|_| ()).map_err(|e| e.kind),
            Err(ErrorKind::NOT_FOUND)
        );
    }
}
