//! The introspected catalog, the same for every backend: tables and views, their columns and
//! types, keys and constraints, and comments. Everything the plugin writes into SQL (table
//! and column names) and into a tool's schema comes from here and only from here, so a name
//! the database did not report can never reach a statement.
//!
//! # Cells
//!
//! A value crosses the plugin as JSON, one encoding per [`ColumnType`], so both backends
//! read and write the same shapes and the tool schemas ([`crate::schema`]) can promise them:
//!
//! | type | JSON |
//! |---|---|
//! | `Integer` | number (an `i64`) |
//! | `Numeric` | string of the decimal, exactly as the database prints it (no precision lost) |
//! | `Float` | number; NaN and infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | `Text`, `Enum`, `Uuid`, `Other` | string |
//! | `Boolean` | `true` / `false` |
//! | `Date` | string `YYYY-MM-DD` |
//! | `Time` | string `HH:MM:SS[.ffffff][+HH:MM]` |
//! | `Timestamp` | string RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.ffffff]`, `Z`/offset when `with_zone`) |
//! | `Json` | the JSON value itself |
//! | `Array` | array of the element's encoding |
//! | `Bytes` | string, standard base64 with padding |
//! | SQL `NULL` | `null` |
//!
//! SQLite stores what it is given whatever a column declares, so its backend returns a value
//! that does not fit its column's type in the encoding of what is actually stored (an integer
//! as a number, text as a string, a blob as base64), never an error.

use serde::Serialize;

/// Every table and view the database reported (before the configuration's include/exclude
/// globs: those are the plugin's choice, not the database's).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Catalog {
    /// In a stable order (schema, then name), so two introspections of the same database
    /// compare equal and a change is a real change.
    pub tables: Vec<Table>,
}

impl Catalog {
    /// The table or view called `name` (in any schema when `schema` is `None`).
    pub fn table(&self, schema: Option<&str>, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == name && (schema.is_none() || t.schema.as_deref() == schema))
    }
}

/// Whether a relation stores rows or is a query over others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Table,
    /// A view (PostgreSQL materialized views too): offered for listing only.
    View,
}

/// A table or view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    /// Its name exactly as the database stores it (case and all).
    pub name: String,
    /// Its schema (`public`, …) for PostgreSQL; `None` for SQLite's main database.
    pub schema: Option<String>,
    pub kind: TableKind,
    /// In the table's own order.
    pub columns: Vec<Column>,
    /// The primary key's columns in key order; empty when the table has none (then it gets
    /// list-only tools, there being no way to name one row).
    pub primary_key: Vec<String>,
    /// Unique constraints and unique indexes other than the primary key, the targets
    /// `bulk_upsert` may name.
    pub uniques: Vec<Unique>,
    pub foreign_keys: Vec<ForeignKey>,
    /// The table's comment (PostgreSQL `COMMENT ON TABLE`), for the tools' descriptions.
    pub comment: Option<String>,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether one row can be named: a table (not a view) with a primary key.
    pub fn has_key(&self) -> bool {
        self.kind == TableKind::Table && !self.primary_key.is_empty()
    }
}

/// A unique constraint or unique index.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unique {
    /// The constraint's (or index's) name, as `bulk_upsert`'s `on` names it.
    pub name: String,
    pub columns: Vec<String>,
}

/// A foreign key: `columns` of this table refer to `references_columns` of another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub references_schema: Option<String>,
    pub references_table: String,
    /// Empty when the database leaves them implicit (SQLite: the referenced primary key).
    pub references_columns: Vec<String>,
}

/// A column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    /// Its name exactly as the database stores it.
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
    /// The default's SQL text as the database reports it (`now()`, `'x'`, `nextval(...)`);
    /// a column with a default (or generated, or an integer primary key SQLite fills in) may
    /// be left out of `create`.
    pub default: Option<String>,
    /// Filled by the database on insert: an identity/serial column, SQLite's `INTEGER PRIMARY
    /// KEY` (the rowid). Optional in `create` even without a default.
    pub auto: bool,
    /// Computed by the database (`GENERATED ALWAYS AS`): never written, only read.
    pub generated: bool,
    /// The column's comment, for the schemas' descriptions.
    pub comment: Option<String>,
}

/// A column's type, as much as the tools need to say what a value looks like. The JSON each
/// one is read and written as is in the module's documentation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnType {
    /// A whole number of `bits` (16, 32, 64) width.
    Integer {
        bits: u8,
    },
    /// An exact decimal; `None` when unconstrained.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// A binary floating-point number of `bits` (32 or 64).
    Float {
        bits: u8,
    },
    /// Text, at most `max_length` characters when the type says so (`varchar(n)`).
    Text {
        max_length: Option<u32>,
    },
    Boolean,
    Date,
    Time {
        with_zone: bool,
    },
    Timestamp {
        with_zone: bool,
    },
    Uuid,
    /// `json` or `jsonb`.
    Json,
    /// An array of the element type (PostgreSQL).
    Array(Box<ColumnType>),
    /// An enumerated type `name` and its labels in their order.
    Enum {
        name: String,
        labels: Vec<String>,
    },
    /// `bytea` / `BLOB`.
    Bytes,
    /// A type the plugin has no mapping for, by its database name (empty for a SQLite
    /// column declared without a type, which holds anything): read and written as text.
    Other(String),
}
