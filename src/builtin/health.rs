//! Each data source's health as the unified `search` and `fetch` saw it: how many asks, how
//! many failed, when one last worked, the last failure and when. `switchboard://status` shows
//! it to clients; a source that signs in to a web service and whose token has lapsed shows up
//! here as failing with the service's own words, before anyone reads the log.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::provider::ProviderError;

/// One source's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Health {
    /// Searches and fetches asked of it.
    pub asked: u64,
    /// How many of them failed or timed out.
    pub failed: u64,
    /// When one last answered (RFC 3339).
    pub last_ok: Option<String>,
    /// How long the last answer took, in milliseconds.
    pub last_ms: Option<u64>,
    /// The last failure, as the caller was told.
    pub last_error: Option<String>,
    /// When it failed (RFC 3339).
    pub last_error_at: Option<String>,
}

/// The records of every source asked since switchboard started.
#[derive(Debug, Default)]
pub struct SourceHealth(Mutex<BTreeMap<String, Health>>);

impl SourceHealth {
    /// Note what `source` answered after `took`. A cancelled ask says nothing about the
    /// source and is not counted; a refused one (no such id) counts as an answer.
    pub fn record<T>(&self, source: &str, outcome: &Result<T, ProviderError>, took: Duration) {
        if matches!(outcome, Err(ProviderError::Cancelled)) {
            return;
        }
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let health = all.entry(source.to_string()).or_default();
        health.asked += 1;
        let now = crate::server::status::now();
        match outcome {
            // A request it could not serve (no such document, a malformed id) was still
            // answered: the source is up.
            Ok(_) | Err(ProviderError::NotFound(_) | ProviderError::InvalidInput(_)) => {
                health.last_ok = Some(now);
                health.last_ms = Some(took.as_millis().try_into().unwrap_or(u64::MAX));
            }
            Err(e) => {
                health.failed += 1;
                health.last_error = Some(e.to_string());
                health.last_error_at = Some(now);
            }
        }
    }

    /// Every record, by source name.
    pub fn snapshot(&self) -> BTreeMap<String, Health> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_answers_are_counted_apart_and_a_cancelled_ask_not_at_all() {
        let health = SourceHealth::default();
        health.record(
            "box",
            &Err::<(), _>(ProviderError::Failed("Box refused the token".into())),
            Duration::from_millis(5),
        );
        health.record("box", &Ok(()), Duration::from_millis(12));
        health.record::<()>("box", &Err(ProviderError::Cancelled), Duration::ZERO);
        health.record::<()>(
            "box",
            &Err(ProviderError::NotFound("no file 9".into())),
            Duration::from_millis(3),
        );
        let box_health = &health.snapshot()["box"];
        assert_eq!((box_health.asked, box_health.failed), (3, 1));
        assert_eq!(box_health.last_ms, Some(3));
        assert_eq!(
            box_health.last_error.as_deref(),
            Some("Box refused the token")
        );
        assert!(box_health.last_ok.is_some() && box_health.last_error_at.is_some());
        assert!(!health.snapshot().contains_key("files"));
    }
}
