//! Full-text search over subjects, messages and customers: FTS5 on SQLite, tsvector + GIN on
//! PostgreSQL. Documents are written in the same transaction as the data they index.
//!
//! A document id encodes what it indexes: `ref_id * 4 + kind`, so replacing or deleting the
//! document of a message or customer is a primary-key operation.

use sqlx::Row;

use crate::{Backend, Conn, DbResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Subject = 0,
    Message = 1,
    Customer = 2,
}

fn doc_id(kind: DocKind, ref_id: i64) -> i64 {
    ref_id * 4 + kind as i64
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
    put_all_new(c, backend, workspace_id, &[doc]).await
}

/// A text to index that has no document yet.
pub struct NewDoc<'a> {
    pub kind: DocKind,
    pub ref_id: i64,
    pub conversation_id: Option<i64>,
    pub body: &'a str,
}

/// Indexes several new texts of a workspace in one statement (a new conversation brings its
/// subject, its first message and perhaps a new customer).
pub async fn put_all_new(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    docs: &[NewDoc<'_>],
) -> DbResult<()> {
    if docs.is_empty() {
        return Ok(());
    }
    let table = match backend {
        Backend::Sqlite => "search_fts (rowid, body, workspace_id, conversation_id)",
        Backend::Postgres => "search_documents (id, body, workspace_id, conversation_id)",
    };
    let rows = (0..docs.len())
        .map(|i| {
            let p = i * 3;
            format!("(${}, ${}, $1, ${})", p + 2, p + 3, p + 4)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} VALUES {rows}"
    )))
    .bind(workspace_id);
    for d in docs {
        q = q
            .bind(doc_id(d.kind, d.ref_id))
            .bind(index_text(d.body))
            .bind(d.conversation_id);
    }
    q.execute(c).await?;
    Ok(())
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
    let id = doc_id(kind, ref_id);
    let body = index_text(body);
    match backend {
        Backend::Sqlite => {
            sqlx::query("DELETE FROM search_fts WHERE rowid = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query("INSERT INTO search_fts (rowid, body, workspace_id, conversation_id) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(body)
                .bind(workspace_id)
                .bind(conversation_id)
                .execute(c)
                .await?;
        }
        Backend::Postgres => {
            sqlx::query(
                "INSERT INTO search_documents (id, workspace_id, conversation_id, body) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, conversation_id = excluded.conversation_id",
            )
            .bind(id)
            .bind(workspace_id)
            .bind(conversation_id)
            .bind(body)
            .execute(c)
            .await?;
        }
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
    let sql = match backend {
        Backend::Sqlite => "DELETE FROM search_fts WHERE rowid = $1",
        Backend::Postgres => "DELETE FROM search_documents WHERE id = $1",
    };
    sqlx::query(sql)
        .bind(doc_id(kind, ref_id))
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

/// How far back (in document ids, four per message) PostgreSQL looks for matches in id order
/// before it asks the GIN index: about 20,000 messages, a few milliseconds to test.
const RECENT_DOC_IDS: i64 = 80_000;

/// Document ids matching every term (whole words, or prefixes), newest first: at most `scan`,
/// and at least `want` where that many exist.
async fn matching(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    terms: &[String],
    prefix: bool,
    scan: i64,
    want: usize,
) -> DbResult<Vec<(i64, Option<i64>)>> {
    let rows = match backend {
        Backend::Sqlite => {
            let star = if prefix { "*" } else { "" };
            let expr = terms
                .iter()
                .map(|t| format!("\"{t}\"{star}"))
                .collect::<Vec<_>>()
                .join(" ");
            sqlx::query(
                "SELECT rowid AS id, conversation_id FROM search_fts WHERE search_fts MATCH $1 AND workspace_id = $2 \
                 ORDER BY rowid DESC LIMIT $3",
            )
            .bind(expr)
            .bind(workspace_id)
            .bind(scan)
            .fetch_all(c)
            .await?
        }
        Backend::Postgres => {
            let star = if prefix { ":*" } else { "" };
            let expr = terms
                .iter()
                .map(|t| format!("{t}{star}"))
                .collect::<Vec<_>>()
                .join(" & ");
            let newest: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM search_documents")
                    .fetch_one(&mut *c)
                    .await?;
            // A GIN index cannot return matches in id order, so newest-first takes two paths.
            // Common words fill a page within the newest documents: read those in id order and
            // test each (COALESCE keeps the planner off the GIN index here). Words too rare for
            // that are few everywhere: the GIN index finds them all and sorting them is cheap
            // (`id + 0` keeps the planner off the primary key, which would test every row).
            let recent = sqlx::query(
                "SELECT id, conversation_id FROM search_documents WHERE workspace_id = $1 AND id >= $2 \
                 AND COALESCE(tsv @@ to_tsquery('simple', $3), false) ORDER BY id DESC LIMIT $4",
            )
            .bind(workspace_id)
            .bind(newest.saturating_sub(RECENT_DOC_IDS))
            .bind(&expr)
            .bind(scan)
            .fetch_all(&mut *c)
            .await?;
            if recent.len() >= want || newest <= RECENT_DOC_IDS {
                recent
            } else {
                sqlx::query(
                    "SELECT id, conversation_id FROM search_documents WHERE workspace_id = $1 \
                     AND tsv @@ to_tsquery('simple', $2) ORDER BY id + 0 DESC LIMIT $3",
                )
                .bind(workspace_id)
                .bind(&expr)
                .bind(scan)
                .fetch_all(&mut *c)
                .await?
            }
        }
    };
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("conversation_id")?)))
        .collect()
}

/// Every term must match (whole words first, then prefixes). At most `limit` of each kind.
pub async fn query(
    c: &mut Conn,
    backend: Backend,
    workspace_id: i64,
    q: &str,
    limit: usize,
) -> DbResult<Matches> {
    let terms = terms(q);
    if terms.is_empty() {
        return Ok(Matches::default());
    }
    let scan = (limit * 8) as i64;
    // Whole words first: their index lists are read newest first and stop after a page. Only
    // when that leaves the page short do we widen to prefixes ("refun" finds "refund"), which
    // must merge the lists of every word with that prefix.
    // Several documents may point at one conversation: ask for some spare.
    let want = limit * 2;
    let mut rows = matching(c, backend, workspace_id, &terms, false, scan, want).await?;
    let found: std::collections::HashSet<Option<i64>> =
        rows.iter().map(|(_, conversation)| *conversation).collect();
    if found.len() < limit {
        let seen: std::collections::HashSet<i64> = rows.iter().map(|(id, _)| *id).collect();
        let more = matching(c, backend, workspace_id, &terms, true, scan, want).await?;
        let mut more: Vec<(i64, Option<i64>)> = more
            .into_iter()
            .filter(|(id, _)| !seen.contains(id))
            .collect();
        rows.append(&mut more);
    }
    let mut m = Matches::default();
    for (id, conversation_id) in rows {
        if id % 4 == DocKind::Customer as i64 {
            if m.customer_ids.len() < limit && !m.customer_ids.contains(&(id / 4)) {
                m.customer_ids.push(id / 4);
            }
        } else if let Some(cid) = conversation_id
            && m.conversation_ids.len() < limit
            && !m.conversation_ids.contains(&cid)
        {
            m.conversation_ids.push(cid);
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
