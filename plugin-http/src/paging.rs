//! Listings that come a page at a time: pages that link to the next one (Microsoft Graph's
//! `@odata.nextLink`, followed exactly as given), and pages asked for by offset (Box's
//! `offset`, `limit` and `total_count`).
//!
//! Both stop at a page limit the caller sets, so a server that always links onward cannot
//! keep a call going.

use serde_json::Value;

use crate::client::{Client, Request};
use crate::error::HttpError;

/// The pages of a listing whose every page may name the next by a URL in `field`.
pub struct LinkedPages<'a> {
    client: &'a Client,
    first: Request,
    next: Option<String>,
    field: &'a str,
    pages: u32,
    max_pages: u32,
    stopped: &'a dyn Fn() -> bool,
}

impl<'a> LinkedPages<'a> {
    /// Pages from `first` on, at most `max_pages`, each request like `first` (its headers)
    /// but for the URL the page before named in `field`.
    pub fn new(
        client: &'a Client,
        first: Request,
        field: &'a str,
        max_pages: u32,
        stopped: &'a dyn Fn() -> bool,
    ) -> Self {
        Self {
            client,
            next: Some(first.url().to_string()),
            first,
            field,
            pages: 0,
            max_pages,
            stopped,
        }
    }

    /// Whether a page limit cut the listing short (more pages were linked).
    pub fn cut_short(&self) -> bool {
        self.pages >= self.max_pages && self.next.is_some()
    }
}

impl Iterator for LinkedPages<'_> {
    type Item = Result<Value, HttpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pages >= self.max_pages {
            return None;
        }
        let url = self.next.take()?;
        self.pages += 1;
        let page = self
            .client
            .send(&self.first.to(url), self.stopped)
            .and_then(|r| r.success())
            .and_then(|r| r.json::<Value>());
        if let Ok(page) = &page {
            self.next = page[self.field].as_str().map(str::to_string);
        }
        Some(page)
    }
}

/// The offsets of a listing paged by offset and limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offsets {
    /// Entries asked for per page.
    pub limit: u64,
    next: Option<u64>,
}

impl Offsets {
    /// From the start, `limit` entries a page.
    pub fn new(limit: u64) -> Self {
        Self {
            limit: limit.max(1),
            next: Some(0),
        }
    }

    /// The offset of the page to ask for next, if any.
    pub fn next(&self) -> Option<u64> {
        self.next
    }

    /// A page of `returned` entries came back, the listing holding `total` in all when the
    /// server says: the listing ends at an empty page, a short one, or `total`.
    pub fn advance(&mut self, returned: usize, total: Option<u64>) {
        let Some(offset) = self.next else {
            return;
        };
        let returned = u64::try_from(returned).unwrap_or(u64::MAX);
        let next = offset.saturating_add(returned);
        let more = returned > 0 && returned >= self.limit && total.is_none_or(|t| next < t);
        self.next = more.then_some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_end_at_the_total_or_a_short_or_empty_page() {
        let mut by_total = Offsets::new(100);
        let mut seen = Vec::new();
        while let Some(offset) = by_total.next() {
            seen.push(offset);
            by_total.advance(100, Some(250));
        }
        assert_eq!(seen, [0, 100, 200]);

        let mut short = Offsets::new(50);
        short.advance(50, None);
        assert_eq!(short.next(), Some(50));
        short.advance(20, None);
        assert_eq!(short.next(), None, "a short page is the last");

        let mut empty = Offsets::new(50);
        empty.advance(0, Some(1_000));
        assert_eq!(
            empty.next(),
            None,
            "an empty page ends it whatever the total says"
        );
        assert_eq!(Offsets::new(0).limit, 1);
    }
}
