//! Fetching each kind of Box file against the stand-in: text from the download server (which
//! never sees the token), text that is not UTF-8, a PDF and an image described, a file above
//! the size cap, a file Box is still preparing (202 + Retry-After) waited for or given up on,
//! a wait cancelled, hostile ids refused before anything is sent, and an unknown id.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_plugin_api::testing;
use switchboard_plugin_api::{Connector, ErrorKind};

use crate::tests::{call, world};

#[test]
fn fetch_reads_a_text_file_from_the_download_server_without_the_token() {
    let w = world(json!({}));
    let doc = w.source.fetch("1001", &testing::call(&call())).unwrap();
    assert_eq!(doc.id, "1001");
    assert_eq!(doc.title, "Q3 budget review.md");
    assert!(
        doc.text.contains("Spend is 4% under budget."),
        "{}",
        doc.text
    );
    assert_eq!(doc.url.as_deref(), Some(w.mock.url("/file/1001").as_str()));
    assert_eq!(doc.metadata["path"], "All Files/Finance");
    assert_eq!(doc.metadata["owner"]["login"], "ada@example.com");
    assert_eq!(doc.metadata["content"], "text");
    assert_eq!(doc.metadata["lossy"], false);
    assert_eq!(
        doc.metadata["size"],
        json!(w.mock.file("1001").unwrap().content.len())
    );
    let asked = w.mock.seen_at("/2.0/files/1001/content");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].authorization.as_deref(),
        Some("Bearer box-dev-token")
    );
    let downloads = w.mock.download_seen();
    assert_eq!(
        downloads.len(),
        1,
        "the 302 was followed to the other origin"
    );
    assert_eq!(
        downloads[0].authorization, None,
        "no token for the download server"
    );
    assert!(downloads[0].target.starts_with("/d/1/"));
}

#[test]
fn text_that_is_not_utf8_is_decoded_lossily_and_says_so() {
    let w = world(json!({}));
    let doc = w.source.fetch("1009", &testing::call(&call())).unwrap();
    assert!(
        doc.text.starts_with("[This file is not valid UTF-8"),
        "{}",
        doc.text
    );
    assert!(
        doc.text.contains("Budget f\u{fffd}r Caf\u{fffd}: 1200 EUR"),
        "{}",
        doc.text
    );
    assert_eq!(doc.metadata["lossy"], true);
}

#[test]
fn other_files_and_large_ones_are_described_not_downloaded() {
    let w = world(json!({}));
    let pdf = w.source.fetch("1003", &testing::call(&call())).unwrap();
    assert!(
        pdf.text
            .starts_with("Annual report 2025.pdf is a PDF document of ")
            && pdf.text.contains("in All Files/Finance")
            && pdf.text.contains("budget summary"),
        "{}",
        pdf.text
    );
    assert_eq!(pdf.metadata["content"], "metadata only");
    let png = w.source.fetch("1010", &testing::call(&call())).unwrap();
    assert!(png.text.contains("is an image"), "{}", png.text);
    assert!(w.mock.download_seen().is_empty());
    assert!(w.mock.seen_at("/2.0/files/1003/content").is_empty());

    let small = world(json!({"max_read_bytes": 10}));
    let big = small.source.fetch("1001", &testing::call(&call())).unwrap();
    assert!(
        big.text
            .contains("above the 10 bytes this source reads (the max_read_bytes setting)"),
        "{}",
        big.text
    );
    assert!(small.mock.seen_at("/2.0/files/1001/content").is_empty());
}

#[test]
fn a_file_not_ready_is_waited_for_within_the_budget() {
    let w = world(json!({}));
    w.mock.not_ready("1002", 2, 1);
    let fake = call();
    let started = Instant::now();
    let doc = w.source.fetch("1002", &testing::call(&fake)).unwrap();
    assert!(doc.text.starts_with("team,quarter,amount"), "{}", doc.text);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "both Retry-Afters waited"
    );
    assert_eq!(w.mock.seen_at("/2.0/files/1002/content").len(), 3);
    let told: Vec<String> = fake.progress().into_iter().map(|(_, _, m)| m).collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[0].contains("Box is preparing budget-2026.csv for download; waiting 1 s"));

    let impatient = world(json!({"download_wait_seconds": 1}));
    impatient.mock.not_ready("1002", 5, 1);
    let error = impatient
        .source
        .fetch("1002", &testing::call(&call()))
        .unwrap_err();
    assert!(
        error
            .message
            .contains("still preparing the file after 1 s (202 Accepted)"),
        "{}",
        error.message
    );
    assert_eq!(impatient.mock.seen_at("/2.0/files/1002/content").len(), 2);
    assert!(impatient.mock.download_seen().is_empty());
}

#[test]
fn a_fetch_cancelled_while_waiting_for_a_file_stops() {
    let w = world(json!({}));
    w.mock.not_ready("1001", 1, 30);
    let fake = call();
    let started = Instant::now();
    let error = std::thread::scope(|s| {
        s.spawn(|| {
            fake.wait_for_progress(Duration::from_secs(10), |m| m.contains("preparing"));
            fake.cancel();
        });
        w.source.fetch("1001", &testing::call(&fake)).unwrap_err()
    });
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(w.mock.seen_at("/2.0/files/1001/content").len(), 1);
}

#[test]
fn hostile_ids_are_refused_before_anything_is_sent() {
    let w = world(json!({}));
    for id in [
        "",
        "../1001",
        "1001/../../users/me",
        "1001?fields=owned_by",
        "1001&x=1",
        "1001#",
        "%31%30",
        "abc",
        "'; DROP TABLE files; --",
        "1 OR 1=1",
        "１２３",
        "-1",
        &"1".repeat(30),
    ] {
        let error = w.source.fetch(id, &testing::call(&call())).unwrap_err();
        assert_eq!(error.kind, ErrorKind::INVALID_INPUT, "{id:?}");
        assert!(
            error
                .message
                .contains("is not a Box file id: Box ids are digits only"),
            "{}",
            error.message
        );
    }
    assert!(w.mock.seen().is_empty(), "{:?}", w.mock.seen());
}

#[test]
fn an_unknown_file_is_not_found_in_box_words() {
    let w = world(json!({}));
    let error = w
        .source
        .fetch("999999", &testing::call(&call()))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NOT_FOUND);
    assert!(
        error
            .message
            .starts_with("reading the details of Box file 999999: Box has no such item")
            && error
                .message
                .contains("404 not_found: Could not find the specified resource (request id "),
        "{}",
        error.message
    );
}
