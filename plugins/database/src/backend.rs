//! The interface a database implements, and the SQL dialect the statement builder writes
//! for it. The plugin's operations ([`crate::ops`]) build [`Statement`]s from the catalog
//! alone (identifiers quoted by [`Dialect::quote`], every value a bound [`Param`]); a
//! backend only runs them, converting each parameter from its JSON cell and each result
//! column to one, by the [`ColumnType`] the statement carries (the encodings are in
//! [`crate::catalog`]).
//!
//! A backend is opened from [`Connect`] by its module's `open` (`crate::sqlite::open`,
//! `crate::postgres::open`, both `fn(&Connect) -> Result<Box<dyn Backend>, BackendError>`),
//! and is shared by the calls the host makes at once: it keeps its connection(s) behind its
//! own locks.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::catalog::{Catalog, ColumnType};

/// A row as the tools return it: column name → cell.
pub type Row = Map<String, Value>;

/// What opening a database needs, already resolved from the configuration (the password
/// read from its secret; never logged, never in an error).
#[derive(Clone)]
pub struct Connect {
    /// The configured URL: `sqlite:PATH`, `postgres://…`/`postgresql://…`, or a PostgreSQL
    /// key=value string (`host=… dbname=…`). Never shown whole: it may hold a user name.
    pub url: String,
    /// The password, for PostgreSQL; the URL itself never holds one (configuration refuses it).
    pub password: Option<String>,
    /// Open so that no statement can write (SQLite `mode=ro`; PostgreSQL
    /// `default_transaction_read_only`), beside the plugin offering no write tools.
    pub read_only: bool,
    /// How long a statement may wait for a lock (SQLite busy timeout) or run (PostgreSQL
    /// `statement_timeout`), and how long connecting may take.
    pub timeout: Duration,
    /// TLS for PostgreSQL (rustls); SQLite ignores it.
    pub tls: Tls,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connect")
            .field("read_only", &self.read_only)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// TLS towards a PostgreSQL server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: TlsMode,
    /// A PEM file of the certificate authorities to trust instead of the built-in web roots
    /// (a private CA, a self-signed server).
    pub ca_file: Option<std::path::PathBuf>,
}

/// How TLS is used, as libpq's `sslmode` names them (the subset rustls can honour).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP (a loopback or socket connection).
    Disable,
    /// TLS when the server offers it, the certificate verified; plain otherwise.
    Prefer,
    /// TLS always, the certificate and host name verified.
    #[default]
    Require,
}

/// One bound value: the JSON cell and the type of the column it goes to, so the backend
/// converts it (a base64 string to bytes, a decimal string to `numeric`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub value: Value,
    pub ty: ColumnType,
}

/// One statement with its parameters, written in the backend's [`Dialect`].
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// SQL with placeholders `1..=params.len()` in the dialect's style.
    pub sql: String,
    pub params: Vec<Param>,
    /// The result columns in select order, named as the row's keys and typed for decoding;
    /// empty for a statement that returns no rows.
    pub columns: Vec<(String, ColumnType)>,
    /// In a transaction: the number of rows the statement must affect (or return), else the
    /// whole transaction is rolled back with [`BackendError::Unexpected`]. A `bulk_update` by
    /// key sets 1, so a key that matches nothing undoes the batch.
    pub expect_rows: Option<u64>,
}

/// What running a statement gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Rows (a `SELECT`, or a write with `RETURNING`).
    Rows(Vec<Row>),
    /// A write without `RETURNING`: how many rows it affected.
    Affected(u64),
}

impl Outcome {
    /// The rows touched: returned or affected.
    pub fn count(&self) -> u64 {
        match self {
            Outcome::Rows(rows) => rows.len() as u64,
            Outcome::Affected(n) => *n,
        }
    }
}

/// A database the plugin can run statements on.
pub trait Backend: Send + Sync {
    /// The SQL it speaks.
    fn dialect(&self) -> Dialect;

    /// Read the catalog: every table and view the connection can see (PostgreSQL: outside
    /// `pg_catalog` and `information_schema`), in a stable order.
    fn introspect(&self) -> Result<Catalog, BackendError>;

    /// A cheap token that changes when the schema may have changed (SQLite
    /// `PRAGMA schema_version`), or `None` when there is none cheaper than introspecting
    /// again (the plugin then compares catalogs).
    fn schema_token(&self) -> Result<Option<String>, BackendError> {
        Ok(None)
    }

    /// Run one statement on its own (autocommit): rows when it has result columns, else the
    /// count affected.
    fn run(&self, statement: &Statement) -> Result<Outcome, BackendError>;

    /// Run `statements` in one transaction, all or nothing: the first failure (or a
    /// statement touching other than its `expect_rows`) rolls everything back and is the
    /// error, its index in `statements` said.
    fn transaction(&self, statements: &[Statement]) -> Result<Vec<Outcome>, BackendError>;
}

/// Why a statement or a connection failed. Messages say what failed; none holds a value a
/// row or parameter had, a password, or the URL.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendError {
    /// The database cannot be opened or reached (or the connection broke): the plugin
    /// withdraws its tools and tries again later.
    Unavailable(String),
    /// A value does not fit its column (not base64, not a decimal, a string too long).
    InvalidValue { column: String, reason: String },
    /// A constraint refused the write (unique, foreign key, not null, check).
    Constraint(String),
    /// The database is open read-only, or the user may not do this.
    ReadOnly(String),
    /// A statement of a transaction touched another number of rows than it had to.
    Unexpected {
        index: usize,
        expected: u64,
        actual: u64,
    },
    /// Anything else the database said.
    Failed(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Unavailable(m) => write!(f, "the database is unavailable: {m}"),
            BackendError::InvalidValue { column, reason } => {
                write!(f, "the value for column {column:?} is not valid: {reason}")
            }
            BackendError::Constraint(m) => write!(f, "a constraint refused the change: {m}"),
            BackendError::ReadOnly(m) => write!(f, "the database refused to write: {m}"),
            BackendError::Unexpected {
                index,
                expected,
                actual,
            } => write!(
                f,
                "item {index} touched {actual} rows instead of {expected}; nothing was changed"
            ),
            BackendError::Failed(m) => write!(f, "the statement failed: {m}"),
        }
    }
}

impl std::error::Error for BackendError {}

/// The SQL a backend speaks. Both speak `RETURNING` and `ON CONFLICT (…) DO UPDATE SET c =
/// excluded.c`; they differ in placeholders and in how a parameter is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The placeholder of the `n`th parameter (from 1): `?N` or `$N`.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// An identifier quoted: in double quotes, a double quote doubled. A name holding NUL
    /// cannot be written in either dialect and is refused by the catalog's readers.
    pub fn quote(self, ident: &str) -> String {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }

    /// A table's name, schema-qualified when it has one.
    pub fn table(self, schema: Option<&str>, name: &str) -> String {
        match schema {
            Some(schema) => format!("{}.{}", self.quote(schema), self.quote(name)),
            None => self.quote(name),
        }
    }

    /// ` RETURNING "a", "b"` for the given columns.
    pub fn returning<'a>(self, columns: impl IntoIterator<Item = &'a str>) -> String {
        let list: Vec<String> = columns.into_iter().map(|c| self.quote(c)).collect();
        format!(" RETURNING {}", list.join(", "))
    }

    /// ` ON CONFLICT ("k1", "k2") DO UPDATE SET "c" = excluded."c", …` (`DO NOTHING` when
    /// there is nothing to update).
    pub fn upsert<'a>(
        self,
        conflict: impl IntoIterator<Item = &'a str>,
        update: impl IntoIterator<Item = &'a str>,
    ) -> String {
        let conflict: Vec<String> = conflict.into_iter().map(|c| self.quote(c)).collect();
        let sets: Vec<String> = update
            .into_iter()
            .map(|c| format!("{q} = excluded.{q}", q = self.quote(c)))
            .collect();
        if sets.is_empty() {
            format!(" ON CONFLICT ({}) DO NOTHING", conflict.join(", "))
        } else {
            format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                conflict.join(", "),
                sets.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn identifiers_are_quoted_and_quotes_doubled() {
        let d = Dialect::Sqlite;
        assert_eq!(
            d.quote(r#"a"; DROP TABLE x; --"#),
            r#""a""; DROP TABLE x; --""#
        );
        assert_eq!(d.table(Some("s\"x"), "t"), r#""s""x"."t""#);
        assert_eq!(Dialect::Postgres.placeholder(3), "$3");
        assert_eq!(d.placeholder(3), "?3");
        assert_eq!(
            d.upsert(["id"], ["name"]),
            r#" ON CONFLICT ("id") DO UPDATE SET "name" = excluded."name""#
        );
        assert_eq!(d.upsert(["id"], []), r#" ON CONFLICT ("id") DO NOTHING"#);
        assert_eq!(d.returning(["a", "b"]), r#" RETURNING "a", "b""#);
    }
}
