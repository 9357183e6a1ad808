//! Storage for Citius: one set of queries over embedded SQLite or PostgreSQL.
//!
//! Both backends speak the same SQL for almost everything (`$n` placeholders, `RETURNING`,
//! `ON CONFLICT`), so each query is written once and runs through sqlx's `Any` driver. The few
//! places where the backends differ (full-text search, job claiming, schema) switch on
//! [`Backend`] in one spot each. Functions take a `&mut AnyConnection`, so use cases compose them
//! inside one transaction: a change, its events, its search entry and its jobs commit together.

pub mod activity;
pub mod audit;
pub mod automation;
pub mod backup;
pub mod bulk;
pub mod chat;
pub mod conversations;
pub mod customers;
pub mod db;
pub mod directory;
pub mod email;
pub mod handoffs;
pub mod idempotency;
pub mod imap;
pub mod jobs;
pub mod mentions;
pub mod notify;
pub mod outbox;
pub mod routing;
pub mod script;
pub mod search;
pub mod settings;
pub mod sla;
mod sql;
pub mod telephony;
pub mod views;
pub mod webhooks;

pub use db::{Backend, Db, DbConfig, HeldWrite};
pub use sqlx::AnyConnection as Conn;
pub use sqlx::Error as SqlxError;
/// A write transaction.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
/// A transaction on a connection held by its writer (see [`db::HeldWrite`]).
pub type HeldTx<'c> = sqlx::Transaction<'c, sqlx::Any>;

use jiff::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Sql(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl DbError {
    /// Whether this transaction lost to another one's locks (PostgreSQL's deadlock or
    /// serialization failure): the same work may well succeed once the other has finished.
    pub fn lost_to_contention(&self) -> bool {
        matches!(self, DbError::Sql(sqlx::Error::Database(d))
            if matches!(d.code().as_deref(), Some("40P01" | "40001")))
    }

    /// Whether a write that failed with this error certainly took no effect: the database
    /// refused the statement as a whole (or it was never sent: `Corrupt`). After a broken
    /// connection that is unknown: a statement that commits on its own may have committed.
    pub fn took_no_effect(&self) -> bool {
        match self {
            DbError::NotFound | DbError::Conflict(_) | DbError::Corrupt(_) => true,
            DbError::Sql(e) => matches!(e, sqlx::Error::Database(_)),
            DbError::Migrate(_) | DbError::Unavailable(_) => false,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => DbError::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                DbError::Conflict(d.constraint().unwrap_or("unique").to_string())
            }
            _ => DbError::Sql(e),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Milliseconds since the Unix epoch: how instants are stored.
pub fn to_ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Ids for an `IN (...)` list. Only ids this program produced go in, so inlining them is safe, and
/// one statement serves any count.
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The VALUES list of a multi-row insert of `count` rows that bind `width` values each, after
/// `shared` parameters bound once for every row. `row` shapes one row around its placeholders:
/// `values(2, 2, 1, |p| format!("($1, {p})"))` is `($1, $2, $3), ($1, $4, $5)`.
/// Such statements differ with their row count: callers keep them prepared (`persistent`) only
/// for the usual few rows, so group commits of every size do not crowd the statement cache.
fn values(count: usize, width: usize, shared: usize, row: impl Fn(&str) -> String) -> String {
    (0..count)
        .map(|i| {
            let params = (0..width)
                .map(|k| format!("${}", shared + i * width + k + 1))
                .collect::<Vec<_>>()
                .join(", ");
            row(&params)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ids a multi-row insert returned, in VALUES order: ids are handed out in that order, but
/// RETURNING promises no order of its own.
fn in_values_order(mut ids: Vec<i64>, expected: usize) -> DbResult<Vec<i64>> {
    ids.sort_unstable();
    if ids.len() != expected {
        return Err(DbError::Corrupt(format!(
            "an insert of {expected} rows returned {} ids",
            ids.len()
        )));
    }
    Ok(ids)
}

fn parse_json(s: &str) -> DbResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| DbError::Corrupt(format!("json: {e}")))
}

fn parse_enum<T>(r: Result<T, citius_domain::Invalid>) -> DbResult<T> {
    r.map_err(|e| DbError::Corrupt(e.to_string()))
}

/// Makes `Option<row>` into `NotFound` for lookups that must hit.
trait Found<T> {
    fn found(self) -> DbResult<T>;
}

impl<T> Found<T> for Option<T> {
    fn found(self) -> DbResult<T> {
        self.ok_or(DbError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_number_rows_after_the_shared_parameters() {
        assert_eq!(
            super::values(2, 2, 1, |p| format!("($1, {p})")),
            "($1, $2, $3), ($1, $4, $5)"
        );
        assert_eq!(super::values(1, 3, 0, |p| format!("({p})")), "($1, $2, $3)");
    }
}
