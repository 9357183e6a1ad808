//! Full-text search over subjects, messages and customers: FTS5 on SQLite, tsvector + GIN on
//! PostgreSQL. Documents are written in the same transaction as the data they index.
//!
//! Conversations' texts and customers' documents live in two tables (see [`DocTable`]). A text's
//! id encodes what it indexes, `ref_id * 4 + kind`, and a customer's document is keyed by the
//! customer's id, so replacing or deleting a document is a primary-key operation.

use sqlx::Row;

use crate::script::Script;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Backend, Conn, Db, DbError, DbResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Subject = 0,
    Message = 1,
    Customer = 2,
}

/// A table of documents. Customers are kept apart from conversations' texts because search
/// reads each newest first, in id order, and customer ids and message ids share no timeline:
/// in one table a word in many messages hid every customer. Apart, a name shared by thousands
/// of customers also stays within a small table, and PostgreSQL's word statistics, which pick
/// the path of a search, describe each on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DocTable {
    sqlite: &'static str,
    postgres: &'static str,
    /// Whether rows name the conversation they belong to (customers' do not).
    conversational: bool,
    /// On PostgreSQL, how many of the newest ids a search tests in order before it asks the GIN
    /// index instead.
    window: i64,
}

/// Subjects and messages: four ids per message, so the window is about 20,000 messages.
const TEXTS: DocTable = DocTable {
    sqlite: "search_fts",
    postgres: "search_documents",
    conversational: true,
    window: 80_000,
};

const CUSTOMERS: DocTable = DocTable {
    sqlite: "customer_fts",
    postgres: "customer_search_documents",
    conversational: false,
    window: 20_000,
};

impl DocTable {
    fn of(kind: DocKind) -> Self {
        match kind {
            DocKind::Customer => CUSTOMERS,
            DocKind::Subject | DocKind::Message => TEXTS,
        }
    }

    fn key(&self, kind: DocKind, ref_id: i64) -> i64 {
        if self.conversational {
            ref_id * 4 + kind as i64
        } else {
            ref_id
        }
    }

    /// The table's name and its key column on `backend`.
    fn on(&self, backend: Backend) -> (&'static str, &'static str) {
        match backend {
            Backend::Sqlite => (self.sqlite, "rowid"),
            Backend::Postgres => (self.postgres, "id"),
        }
    }

    /// The columns a new row fills, in bind order: the workspace, the key, the body, and the
    /// conversation where the table has one.
    fn columns(&self, backend: Backend) -> &'static [&'static str] {
        match (backend, self.conversational) {
            (Backend::Sqlite, true) => &["workspace_id", "rowid", "body", "conversation_id"],
            (Backend::Sqlite, false) => &["workspace_id", "rowid", "body"],
            (Backend::Postgres, true) => &["workspace_id", "id", "body", "conversation_id"],
            (Backend::Postgres, false) => &["workspace_id", "id", "body"],
        }
    }

    /// The conversation column as searches select it (customers' documents have none).
    fn conversation(&self, backend: Backend) -> &'static str {
        match (backend, self.conversational) {
            (_, true) => "conversation_id",
            (Backend::Sqlite, false) => "NULL AS conversation_id",
            (Backend::Postgres, false) => "NULL::BIGINT AS conversation_id",
        }
    }
}

/// Where a document of `kind` lives on `backend`: its table, the columns a new row fills (see
/// `DocTable::columns`) and its key.
pub(crate) fn placement(
    backend: Backend,
    kind: DocKind,
    ref_id: i64,
) -> (&'static str, &'static [&'static str], i64) {
    let table = DocTable::of(kind);
    (
        table.on(backend).0,
        table.columns(backend),
        table.key(kind, ref_id),
    )
}

/// Longest text indexed per document; search needs the gist, not megabytes.
const MAX_INDEXED_CHARS: usize = 20_000;

/// Indexes a text that has no document yet (a new message or conversation): no replace needed.
pub async fn put_new(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    kind: DocKind,
    ref_id: i64,
    conversation_id: Option<i64>,
    body: &str,
) -> DbResult<()> {
    let doc = NewDoc {
        kind,
        ref_id,
        conversation_id,
        body,
    };
    insert(c, backend, workspace_id, &[doc], false).await
}

/// A text to index that has no document yet.
pub struct NewDoc<'a> {
    pub kind: DocKind,
    pub ref_id: i64,
    pub conversation_id: Option<i64>,
    pub body: &'a str,
}

/// Texts of the script's workspace that have no document yet, indexed when the script runs.
pub fn stage_new(s: &mut Script, backend: Backend, docs: &[NewDoc<'_>]) {
    for table in [TEXTS, CUSTOMERS] {
        let mine: Vec<&NewDoc> = docs
            .iter()
            .filter(|d| DocTable::of(d.kind) == table)
            .collect();
        let columns = table.columns(backend);
        s.insert(
            &format!("{} ({})", table.on(backend).0, columns.join(", ")),
            &mine,
            columns.len() - 1,
            |p| format!("($1, {p})"),
            |r, d| {
                r.bind(table.key(d.kind, d.ref_id)).bind(index_text(d.body));
                if table.conversational {
                    r.bind(d.conversation_id);
                }
            },
        );
    }
}

/// Indexes a text, replacing the document it had.
pub async fn put(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    kind: DocKind,
    ref_id: i64,
    conversation_id: Option<i64>,
    body: &str,
) -> DbResult<()> {
    let doc = NewDoc {
        kind,
        ref_id,
        conversation_id,
        body,
    };
    // FTS5 tables have no upsert: delete, then insert.
    let replace = match backend {
        Backend::Sqlite => {
            delete(c, backend, kind, ref_id).await?;
            false
        }
        Backend::Postgres => true,
    };
    insert(c, backend, workspace_id, &[doc], replace).await
}

/// One multi-row insert per table; on PostgreSQL, `replace` turns a clash on the key into an
/// update of the document.
async fn insert(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    docs: &[NewDoc<'_>],
    replace: bool,
) -> DbResult<()> {
    for table in [TEXTS, CUSTOMERS] {
        let mine: Vec<&NewDoc> = docs
            .iter()
            .filter(|d| DocTable::of(d.kind) == table)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let (name, _) = table.on(backend);
        let columns = table.columns(backend);
        let rows = crate::values(mine.len(), columns.len() - 1, 1, |p| format!("($1, {p})"));
        let on_clash = match (replace, table.conversational) {
            (false, _) => "",
            (true, true) => {
                " ON CONFLICT (id) DO UPDATE SET body = excluded.body, conversation_id = excluded.conversation_id"
            }
            (true, false) => " ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {name} ({}) VALUES {rows}{on_clash}",
            columns.join(", ")
        )))
        .persistent(mine.len() <= 2)
        .bind(workspace_id);
        for d in mine {
            q = q.bind(table.key(d.kind, d.ref_id)).bind(index_text(d.body));
            if table.conversational {
                q = q.bind(d.conversation_id);
            }
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// The text as indexed: words exactly as queries are split (see `terms`), so "ann@example.com"
/// is found by "ann", "example" or the whole address on both backends.
pub fn index_text(body: &str) -> String {
    body.chars()
        .take(MAX_INDEXED_CHARS)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect()
}

pub async fn delete(c: &mut Conn, backend: Backend, kind: DocKind, ref_id: i64) -> DbResult<()> {
    let table = DocTable::of(kind);
    let (name, key) = table.on(backend);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {name} WHERE {key} = $1"
    )))
    .bind(table.key(kind, ref_id))
    .execute(c)
    .await?;
    Ok(())
}

/// Words of a query, stripped of all syntax, so user input is never parsed as a query language.
pub fn terms(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(12)
        .map(|t| t.chars().take(64).collect::<String>().to_lowercase())
        .collect()
}

/// What matched: conversation ids and customer ids, best first.
#[derive(Debug, Default)]
pub struct Matches {
    pub conversation_ids: Vec<i64>,
    pub customer_ids: Vec<i64>,
}

/// Ids of documents in `table` matching every term (whole words, or prefixes), with their
/// conversations, newest first: at most `scan`, and at least `want` where that many exist.
#[allow(clippy::too_many_arguments)]
async fn matching(
    c: &mut Conn,
    backend: Backend,
    table: DocTable,
    workspace_id: i64,
    words: &[String],
    prefix: bool,
    scan: i64,
    want: usize,
    rare: bool,
) -> DbResult<Vec<(i64, Option<i64>)>> {
    let conversation = table.conversation(backend);
    match backend {
        Backend::Sqlite => {
            // FTS5 reads its lists in rowid order, so newest first stops after a page.
            let star = if prefix { "*" } else { "" };
            let expr = words
                .iter()
                .map(|t| format!("\"{t}\"{star}"))
                .collect::<Vec<_>>()
                .join(" ");
            let name = table.sqlite;
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT rowid AS id, {conversation} FROM {name} WHERE {name} MATCH $1 \
                 AND workspace_id = $2 ORDER BY rowid DESC LIMIT $3"
            )))
            .bind(expr)
            .bind(workspace_id)
            .bind(scan)
            .fetch_all(c)
            .await?;
            id_pairs(&rows)
        }
        Backend::Postgres => {
            let star = if prefix { ":*" } else { "" };
            let expr = words
                .iter()
                .map(|t| format!("{t}{star}"))
                .collect::<Vec<_>>()
                .join(" & ");
            let columns = format!("id, {conversation}");
            newest_postgres(c, table, &columns, workspace_id, &expr, scan, want, rare).await
        }
    }
}

/// Below this many expected matches, reading every match through the GIN index and sorting
/// them costs less than testing the newest documents in order.
const RARE: f64 = 5_000.0;

/// PostgreSQL's word statistics for the search tables, as a node last read them. Planning a
/// read of `pg_stats` takes about a millisecond, more than many searches it steers, and the
/// statistics change only when ANALYZE runs: each node reads them at most once a minute.
#[derive(Clone, Default)]
pub struct WordStats(Arc<Mutex<Option<Kept>>>);

/// Statistics and when they were read.
type Kept = (Instant, Arc<Frequencies>);

const WORD_STATS_FOR: Duration = Duration::from_secs(60);

impl WordStats {
    async fn get(&self, c: &mut Conn) -> DbResult<Arc<Frequencies>> {
        let kept = self
            .0
            .lock()
            .map_err(|_| DbError::Corrupt("word statistics lock poisoned".into()))?
            .clone();
        if let Some((read, f)) = kept
            && read.elapsed() < WORD_STATS_FOR
        {
            return Ok(f);
        }
        let fresh = Arc::new(Frequencies::read(c).await?);
        // No statistics yet (a new database): read again next time rather than miss the first
        // ANALYZE for a minute.
        if !fresh.0.is_empty()
            && let Ok(mut kept) = self.0.lock()
        {
            *kept = Some((Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }
}

/// Each search table's row count and its most common words with the share of rows holding
/// each. A table without statistics is missing (small or new).
#[derive(Debug, Default)]
struct Frequencies(Vec<(String, f64, BTreeMap<String, f64>)>);

impl Frequencies {
    async fn read(c: &mut Conn) -> DbResult<Self> {
        // The element frequencies end with three summary numbers that have no element.
        let rows: Vec<(String, f64, Option<String>, Option<f64>)> = sqlx::query_as(
            "SELECT s.tablename::text, GREATEST(cl.reltuples, 0)::float8, x.e, x.f::float8 \
             FROM pg_stats s JOIN pg_class cl ON cl.oid = to_regclass(s.tablename) \
             LEFT JOIN LATERAL unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) \
               AS x(e, f) ON true \
             WHERE s.schemaname = current_schema() AND s.tablename IN ($1, $2) AND s.attname = 'tsv' \
             ORDER BY 1",
        )
        .bind(TEXTS.postgres)
        .bind(CUSTOMERS.postgres)
        .fetch_all(c)
        .await?;
        let mut out = Self::default();
        for (table, rows, word, share) in rows {
            if out.0.last().is_none_or(|(t, _, _)| *t != table) {
                out.0.push((table.clone(), rows, BTreeMap::new()));
            }
            if let (Some(word), Some(share), Some((_, _, words))) = (word, share, out.0.last_mut())
            {
                words.insert(word, share);
            }
        }
        Ok(out)
    }

    /// Whether reading every match of `terms` in `table` through the index beats testing the
    /// newest documents: the rarest term is expected in fewer than [`RARE`] documents. A term
    /// missing from the common words is rarer than all of them and counts as none; a prefix
    /// counts every common word it begins.
    fn rare(&self, table: DocTable, terms: &[String], prefix: bool) -> bool {
        let Some((_, rows, words)) = self.0.iter().find(|(t, _, _)| t == table.postgres) else {
            return true;
        };
        let share = |term: &String| -> f64 {
            if prefix {
                words
                    .range::<str, _>((Bound::Included(term.as_str()), Bound::Unbounded))
                    .take_while(|(w, _)| w.starts_with(term.as_str()))
                    .map(|(_, f)| f)
                    .sum()
            } else {
                words.get(term).copied().unwrap_or(0.0)
            }
        };
        let rarest = terms.iter().map(share).fold(f64::INFINITY, f64::min);
        rarest * rows < RARE
    }
}

/// Newest-first matches of a tsquery in one PostgreSQL table.
///
/// A GIN index cannot return matches in id order, so newest-first takes one of two ways,
/// chosen from the statistics (see [`Frequencies::rare`]) rather than by the planner, which guesses
/// one document in 200 for a word it has no statistics for and then reads the whole table
/// looking for a word that is nowhere.
/// 1. A common word: the newest documents, tested in id order until a page is full (COALESCE
///    keeps the planner off the GIN index).
/// 2. A rare word, or a common one not used lately: every match through the index, sorted.
#[allow(clippy::too_many_arguments)]
async fn newest_postgres(
    c: &mut Conn,
    table: DocTable,
    columns: &str,
    workspace_id: i64,
    expr: &str,
    scan: i64,
    want: usize,
    rare: bool,
) -> DbResult<Vec<(i64, Option<i64>)>> {
    let name = table.postgres;
    if !rare {
        // Kept prepared, so its plan must suit any words: the query is parsed once, in a
        // subquery (a plain call is parsed again for every row tested), and the page size is
        // written in. A plan that knew neither would expect to test a sixth of the table and
        // start parallel workers, which take longer to launch than the whole search.
        let recent = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} FROM {name} WHERE workspace_id = $1 \
         AND id >= (SELECT COALESCE(MAX(id), 0) FROM {name}) - $2 \
         AND COALESCE(tsv @@ (SELECT to_tsquery('simple', $3)), false) ORDER BY id DESC LIMIT {scan}"
        )))
        .bind(workspace_id)
        .bind(table.window)
        .bind(expr)
        .fetch_all(&mut *c)
        .await?;
        if recent.len() >= want {
            return id_pairs(&recent);
        }
    }
    // `id + 0` keeps the planner off the primary key, which would test every row.
    let all = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM {name} WHERE workspace_id = $1 \
         AND tsv @@ to_tsquery('simple', $2) ORDER BY id + 0 DESC LIMIT $3"
    )))
    .bind(workspace_id)
    .bind(expr)
    .bind(scan)
    // Planned for these very words: the generic plan of a cached statement expects thousands
    // of matches and starts parallel workers, which cost more than a rare word's few matches.
    .persistent(false)
    .fetch_all(c)
    .await?;
    id_pairs(&all)
}

fn id_pairs(rows: &[sqlx::any::AnyRow]) -> DbResult<Vec<(i64, Option<i64>)>> {
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("conversation_id")?)))
        .collect()
}

/// Every term must match (whole words first, then prefixes). At most `limit` of each kind.
pub async fn query(
    c: &mut Conn,
    db: &Db,
    workspace_id: i64,
    q: &str,
    limit: usize,
) -> DbResult<Matches> {
    let words = terms(q);
    let mut m = Matches::default();
    if words.is_empty() {
        return Ok(m);
    }
    let backend = db.backend();
    let frequencies = match backend {
        Backend::Postgres => db.word_stats().get(&mut *c).await?,
        Backend::Sqlite => Arc::default(),
    };
    // Whole words first: their lists stop after a page. Only when that leaves a list short do
    // we widen to prefixes ("refun" finds "refund"), which must merge the lists of every word
    // with that prefix.
    for prefix in [false, true] {
        for table in [TEXTS, CUSTOMERS] {
            let found = if table.conversational {
                &mut m.conversation_ids
            } else {
                &mut m.customer_ids
            };
            if prefix && found.len() >= limit {
                continue;
            }
            // Several texts may belong to one conversation: read up to four a conversation and
            // hope for two. A customer has one document.
            let (scan, want) = if table.conversational {
                (limit * 4, limit * 2)
            } else {
                (limit, limit)
            };
            let rows = matching(
                c,
                backend,
                table,
                workspace_id,
                &words,
                prefix,
                scan as i64,
                want,
                frequencies.rare(table, &words, prefix),
            )
            .await?;
            for (id, conversation_id) in rows {
                let id = if table.conversational {
                    match conversation_id {
                        Some(cid) => cid,
                        None => continue,
                    }
                } else {
                    id
                };
                if found.len() < limit && !found.contains(&id) {
                    found.push(id);
                }
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_query_syntax() {
        assert_eq!(
            terms(r#"Refund "NEAR(x)" OR * -col:1"#),
            vec!["refund", "near", "x", "or", "col", "1"]
        );
        assert!(terms("\"*:&|!()").is_empty());
        assert_eq!(terms("Grüße"), vec!["grüße"]);
    }
}
