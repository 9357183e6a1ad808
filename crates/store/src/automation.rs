//! The execution log of automation rules: what each rule did to which conversation, or why it
//! was stopped.

use citius_domain::paging::{Cursor, Page, PageRequest};
use sqlx::Row;

use crate::{Conn, DbResult, from_ms, now_ms, parse_json};

#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub conversation_id: Option<i64>,
    pub event_id: Option<i64>,
    pub outcome: String,
    pub detail: serde_json::Value,
    pub created_at: jiff::Timestamp,
}

/// What a run records.
pub struct NewRun<'a> {
    pub rule_id: i64,
    pub rule_name: &'a str,
    pub conversation_id: i64,
    /// The event that fired the rule; none for rules on the clock.
    pub event_id: Option<i64>,
    pub outcome: &'a str,
    pub detail: &'a serde_json::Value,
}

pub async fn record(c: &mut Conn, workspace_id: i64, r: &NewRun<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO rule_runs (workspace_id, rule_id, rule_name, conversation_id, event_id, outcome, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(workspace_id)
    .bind(r.rule_id)
    .bind(r.rule_name)
    .bind(r.conversation_id)
    .bind(r.event_id)
    .bind(r.outcome)
    .bind(r.detail.to_string())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Whether a rule acted on a conversation at or after `since_ms` (so an idle rule acts once
/// per quiet stretch).
pub async fn ran_since(
    c: &mut Conn,
    rule_id: i64,
    conversation_id: i64,
    since_ms: i64,
) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM rule_runs WHERE rule_id = $1 AND conversation_id = $2 AND created_at >= $3",
    )
    .bind(rule_id)
    .bind(conversation_id)
    .bind(since_ms)
    .fetch_one(c)
    .await?;
    Ok(n > 0)
}

/// Runs of a workspace (of one rule, if given), newest first.
pub async fn runs(
    c: &mut Conn,
    workspace_id: i64,
    rule_id: Option<i64>,
    page: PageRequest,
) -> DbResult<Page<RunRow>> {
    let before = page.after.map_or(i64::MAX, |c| c.id);
    let limit = i64::from(page.limit) + 1;
    let rows = match rule_id {
        Some(r) => sqlx::query(
            "SELECT * FROM rule_runs WHERE workspace_id = $1 AND rule_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(workspace_id)
        .bind(r)
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await?,
        None => sqlx::query(
            "SELECT * FROM rule_runs WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(workspace_id)
        .bind(before)
        .bind(limit)
        .fetch_all(c)
        .await?,
    };
    let list = rows
        .iter()
        .map(|r| {
            Ok(RunRow {
                id: r.try_get("id")?,
                rule_id: r.try_get("rule_id")?,
                rule_name: r.try_get("rule_name")?,
                conversation_id: r.try_get("conversation_id")?,
                event_id: r.try_get("event_id")?,
                outcome: r.try_get("outcome")?,
                detail: parse_json(&r.try_get::<String, _>("detail")?)?,
                created_at: from_ms(r.try_get("created_at")?),
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(list, page.limit, |r| Cursor {
        key: 0,
        id: r.id,
    }))
}
