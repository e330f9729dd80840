//! The stand-in's catalog: one database with two schemas, a table of ten documents (four
//! about a **budget**) behind the Cortex Search service, a table of 25 events (a result of
//! three partitions), and a table with one row of every type the SQL API sends, each cell in
//! the string form its `jsonv2` format documents.

use serde_json::{Value, json};

/// Rows per partition of a result (Snowflake sizes them by bytes; ten rows is enough to see
/// paging).
pub const PARTITION_ROWS: usize = 10;

/// A column: name, Snowflake type, scale, nullable.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub scale: i64,
    pub nullable: bool,
}

/// A table: its columns and rows (cells as the SQL API sends them).
#[derive(Clone, Debug)]
pub struct Table {
    pub name: &'static str,
    pub comment: &'static str,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A schema and its tables.
#[derive(Clone, Debug)]
pub struct Schema {
    pub name: &'static str,
    pub tables: Vec<Table>,
}

/// A database and its schemas.
#[derive(Clone, Debug)]
pub struct Database {
    pub name: &'static str,
    pub schemas: Vec<Schema>,
}

const fn col(name: &'static str, kind: &'static str, scale: i64) -> Column {
    Column {
        name,
        kind,
        scale,
        nullable: true,
    }
}

impl Column {
    /// Its `rowType` entry.
    pub fn row_type(&self) -> Value {
        json!({
            "name": self.name,
            "database": "",
            "schema": "",
            "table": "",
            "type": self.kind,
            "scale": self.scale,
            "precision": if self.kind == "fixed" { Some(38) } else { None },
            "length": if self.kind == "text" { Some(16_777_216) } else { None },
            "byteLength": if self.kind == "text" { Some(16_777_216) } else { None },
            "nullable": self.nullable,
            "collation": null,
        })
    }
}

fn cells(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| (*v != "NULL").then(|| (*v).to_string()))
        .collect()
}

/// The documents: id, title, body, author, updated on (days since the epoch).
const DOCUMENTS: [(&str, &str, &str, &str, &str); 10] = [
    (
        "doc-01",
        "FY2027 budget proposal",
        "The proposed budget for fiscal 2027 raises cloud spend by 12% and freezes travel.",
        "Ana Ruiz",
        "20440",
    ),
    (
        "doc-02",
        "Q3 marketing budget review",
        "Marketing came in 4% under budget; the savings move to the Q4 launch.",
        "Ben Okafor",
        "20402",
    ),
    (
        "doc-03",
        "Warehouse sizing guide",
        "Start with an X-Small warehouse and scale up when queries queue.",
        "Chen Li",
        "20380",
    ),
    (
        "doc-04",
        "Hiring plan 2027",
        "Twelve engineering hires, paced to the approved budget envelope.",
        "Ana Ruiz",
        "20431",
    ),
    (
        "doc-05",
        "Incident report: ingestion lag",
        "A stuck Snowpipe delayed events by two hours on the 3rd.",
        "Dev Patel",
        "20410",
    ),
    (
        "doc-06",
        "Data retention policy",
        "Raw events are kept 90 days; aggregates for seven years.",
        "Chen Li",
        "20300",
    ),
    (
        "doc-07",
        "Cost allocation by team",
        "Credits are charged back to teams by warehouse tag, against each team's budget.",
        "Ben Okafor",
        "20425",
    ),
    (
        "doc-08",
        "Onboarding checklist",
        "Request a role, set up key-pair authentication, read the style guide.",
        "Dev Patel",
        "20350",
    ),
    (
        "doc-09",
        "Quarterly business review",
        "Revenue grew 8% quarter over quarter; churn held at 2%.",
        "Ana Ruiz",
        "20415",
    ),
    (
        "doc-10",
        "Vendor contract renewals",
        "Three contracts renew in March; legal reviews each before signing.",
        "Eve Martin",
        "20390",
    ),
];

fn documents() -> Table {
    Table {
        name: "DOCUMENTS",
        comment: "Team documents indexed by the DOCS_SEARCH Cortex Search service",
        columns: vec![
            Column {
                nullable: false,
                ..col("ID", "text", 0)
            },
            col("TITLE", "text", 0),
            col("BODY", "text", 0),
            col("AUTHOR", "text", 0),
            col("UPDATED_ON", "date", 0),
        ],
        rows: DOCUMENTS
            .iter()
            .map(|(id, title, body, author, day)| cells(&[id, title, body, author, day]))
            .collect(),
    }
}

fn events() -> Table {
    let kinds = ["login", "query", "export", "budget_alert", "logout"];
    Table {
        name: "EVENTS",
        comment: "Audit events",
        columns: vec![
            Column {
                nullable: false,
                ..col("ID", "fixed", 0)
            },
            col("KIND", "text", 0),
            col("AT", "timestamp_ntz", 9),
        ],
        rows: (1..=25)
            .map(|i: u64| {
                let at = format!("{}.000000000", 1_767_225_600 + i * 3_600);
                cells(&[&i.to_string(), kinds[(i as usize) % kinds.len()], &at])
            })
            .collect(),
    }
}

fn metrics() -> Table {
    Table {
        name: "METRICS",
        comment: "One row of every type",
        columns: vec![
            col("ID", "fixed", 0),
            col("BIG", "fixed", 0),
            col("AMOUNT", "fixed", 2),
            col("RATIO", "real", 0),
            col("ACTIVE", "boolean", 0),
            col("DAY", "date", 0),
            col("AT_TIME", "time", 9),
            col("CREATED", "timestamp_ntz", 9),
            col("SEEN", "timestamp_ltz", 9),
            col("ZONED", "timestamp_tz", 9),
            col("PAYLOAD", "variant", 0),
            col("RAW", "binary", 0),
            col("NOTE", "text", 0),
        ],
        rows: vec![cells(&[
            "7",
            "12345678901234567890123456789012345678",
            "1234.50",
            "0.25",
            "true",
            "20454",
            "45296.500000000",
            "1767225600.123456789",
            "1767225600.000000000",
            "1616173619.000000000 960",
            "{\n  \"budget\": 1200,\n  \"tags\": [\n    \"q1\"\n  ]\n}",
            "48656c6c6f",
            "NULL",
        ])],
    }
}

/// The whole catalog.
pub fn catalog() -> Vec<Database> {
    vec![
        Database {
            name: "SWITCHBOARD_DB",
            schemas: vec![
                Schema {
                    name: "PUBLIC",
                    tables: vec![documents(), events(), metrics()],
                },
                Schema {
                    name: "STAGING",
                    tables: Vec::new(),
                },
            ],
        },
        Database {
            name: "SNOWFLAKE_SAMPLE_DATA",
            schemas: vec![Schema {
                name: "TPCH_SF1",
                tables: Vec::new(),
            }],
        },
    ]
}
