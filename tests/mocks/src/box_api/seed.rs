//! The stand-in's data: a few folders and ten files of a small team's Box, several text files
//! mentioning "budget", one PDF, one image and one text file that is not valid UTF-8, so a
//! search for "budget" has pages to follow and a fetch meets every kind of content.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A folder.
#[derive(Clone, Debug)]
pub struct Folder {
    pub id: String,
    pub name: String,
    /// `None` for the root, "All Files" (id `0`).
    pub parent: Option<String>,
}

/// A file and its bytes.
#[derive(Clone, Debug)]
pub struct File {
    pub id: String,
    pub name: String,
    pub parent: String,
    pub description: String,
    pub content: Vec<u8>,
    pub modified_at: String,
}

/// Who owns everything: the person the developer token and a browser sign-in stand for.
pub fn owner() -> Value {
    json!({"type": "user", "id": "11446498", "name": "Ada Lovelace", "login": "ada@example.com"})
}

/// The folders by id.
pub fn folders() -> BTreeMap<String, Folder> {
    [
        ("0", "All Files", None),
        ("100", "Finance", Some("0")),
        ("101", "Planning", Some("100")),
        ("200", "Engineering", Some("0")),
        ("300", "Marketing", Some("0")),
    ]
    .into_iter()
    .map(|(id, name, parent)| {
        (
            id.to_string(),
            Folder {
                id: id.to_string(),
                name: name.to_string(),
                parent: parent.map(str::to_string),
            },
        )
    })
    .collect()
}

/// The files by id.
pub fn files() -> BTreeMap<String, File> {
    let text = |s: &str| s.as_bytes().to_vec();
    // "Budget für Café" in Latin-1: not UTF-8.
    let mut latin1 = b"Legacy export\nBudget f".to_vec();
    latin1.push(0xFC);
    latin1.extend_from_slice(b"r Caf");
    latin1.push(0xE9);
    latin1.extend_from_slice(b": 1200 EUR\n");
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    pdf.extend_from_slice(&[0u8; 64]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[7u8; 48]);
    [
        (
            "1001",
            "Q3 budget review.md",
            "100",
            "Quarterly review of the budget against actuals",
            text(
                "# Q3 budget review\n\nSpend is 4% under budget. Travel is over by 12k; \
                 hiring is behind plan.\n",
            ),
            "2025-10-02T09:14:00-07:00",
        ),
        (
            "1002",
            "budget-2026.csv",
            "100",
            "",
            text("team,quarter,amount\nengineering,Q1,120000\nmarketing,Q1,45000\n"),
            "2025-11-20T16:40:12-08:00",
        ),
        (
            "1003",
            "Annual report 2025.pdf",
            "100",
            "Annual report with the budget summary for the board",
            pdf,
            "2025-12-01T08:00:00-08:00",
        ),
        (
            "1004",
            "Team offsite notes.txt",
            "300",
            "",
            text("Offsite in Lisbon. The budget covers flights and two nights.\n"),
            "2025-09-15T12:00:00-07:00",
        ),
        (
            "1005",
            "roadmap.md",
            "200",
            "What engineering ships next",
            text("# Roadmap\n\n- search everywhere\n- faster sync\n"),
            "2025-08-30T10:30:00-07:00",
        ),
        (
            "1006",
            "service-config.yaml",
            "200",
            "",
            text("replicas: 3\nregion: eu-west-1\n"),
            "2025-07-01T11:11:11-07:00",
        ),
        (
            "1007",
            "campaign-budget.json",
            "300",
            "Spring campaign spend plan",
            text("{\"campaign\": \"spring\", \"budget\": 30000, \"currency\": \"USD\"}\n"),
            "2025-11-05T14:22:00-08:00",
        ),
        (
            "1008",
            "meeting-2025-11-03.txt",
            "101",
            "",
            text("Planning meeting: agreed to freeze the budget until January.\n"),
            "2025-11-03T17:05:00-08:00",
        ),
        (
            "1009",
            "legacy-export.txt",
            "200",
            "",
            latin1,
            "2024-02-10T09:00:00-08:00",
        ),
        (
            "1010",
            "logo.png",
            "300",
            "The company logo",
            png,
            "2024-06-01T09:00:00-07:00",
        ),
    ]
    .into_iter()
    .map(|(id, name, parent, description, content, modified_at)| {
        (
            id.to_string(),
            File {
                id: id.to_string(),
                name: name.to_string(),
                parent: parent.to_string(),
                description: description.to_string(),
                content,
                modified_at: modified_at.to_string(),
            },
        )
    })
    .collect()
}
