//! SLA clocks: one row per conversation and metric, holding the domain clock as JSON and the
//! instants queries need (when it is due, when it was warned, breached or met).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, now_ms, parse_json};

#[derive(Debug, Clone)]
pub struct ClockRow {
    pub conversation_id: i64,
    pub metric: String,
    pub policy_id: i64,
    pub clock: serde_json::Value,
    pub due_at: Option<i64>,
    pub warned_at: Option<i64>,
    pub breached_at: Option<i64>,
    pub met_at: Option<i64>,
}

fn clock_row(r: &AnyRow) -> DbResult<ClockRow> {
    Ok(ClockRow {
        conversation_id: r.try_get("conversation_id")?,
        metric: r.try_get("metric")?,
        policy_id: r.try_get("policy_id")?,
        clock: parse_json(&r.try_get::<String, _>("clock")?)?,
        due_at: r.try_get("due_at")?,
        warned_at: r.try_get("warned_at")?,
        breached_at: r.try_get("breached_at")?,
        met_at: r.try_get("met_at")?,
    })
}

/// The clocks of a conversation.
pub async fn clocks(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<Vec<ClockRow>> {
    let rows = sqlx::query(
        "SELECT * FROM sla_clocks WHERE conversation_id = $1 AND workspace_id = $2 ORDER BY metric",
    )
    .bind(conversation_id)
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(clock_row).collect()
}

/// The clocks of many conversations, for list pages: one query.
pub async fn clocks_of(c: &mut Conn, workspace_id: i64, ids: &[i64]) -> DbResult<Vec<ClockRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM sla_clocks WHERE workspace_id = $1 AND conversation_id IN ({})",
        crate::id_list(ids)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(clock_row).collect()
}

/// Writes a clock. A clock that starts running again (its due instant moves) may warn and
/// breach again, so those marks are cleared when `rearm` is set.
pub async fn put(c: &mut Conn, workspace_id: i64, row: &ClockRow, rearm: bool) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sla_clocks (conversation_id, metric, workspace_id, policy_id, clock, due_at, met_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (conversation_id, metric) DO UPDATE SET policy_id = excluded.policy_id, clock = excluded.clock, \
         due_at = excluded.due_at, met_at = excluded.met_at, updated_at = excluded.updated_at, \
         warned_at = CASE WHEN $9 = 1 THEN NULL ELSE sla_clocks.warned_at END, \
         breached_at = CASE WHEN $10 = 1 THEN NULL ELSE sla_clocks.breached_at END",
    )
    .bind(row.conversation_id)
    .bind(&row.metric)
    .bind(workspace_id)
    .bind(row.policy_id)
    .bind(row.clock.to_string())
    .bind(row.due_at)
    .bind(row.met_at)
    .bind(now)
    .bind(i64::from(rearm))
    .bind(i64::from(rearm))
    .execute(c)
    .await?;
    Ok(())
}

/// Which mark a timer sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Warned,
    Breached,
}

/// Sets a mark once: true only for the caller that set it, so a warning or breach is recorded
/// exactly once however many nodes run the timer.
pub async fn mark(
    c: &mut Conn,
    conversation_id: i64,
    metric: &str,
    m: Mark,
    at: i64,
) -> DbResult<bool> {
    let col = match m {
        Mark::Warned => "warned_at",
        Mark::Breached => "breached_at",
    };
    let sql = format!(
        "UPDATE sla_clocks SET {col} = $1 WHERE conversation_id = $2 AND metric = $3 AND {col} IS NULL"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(at)
        .bind(conversation_id)
        .bind(metric)
        .execute(c)
        .await?
        .rows_affected()
        == 1)
}

/// Counts for the SLA overview: running clocks past due, due within `soon_ms`, and breaches
/// recorded since `since_ms`. Each is a range over an index.
pub async fn summary(
    c: &mut Conn,
    workspace_id: i64,
    soon_ms: i64,
    since_ms: i64,
) -> DbResult<(i64, i64, i64)> {
    let now = now_ms();
    let count = |sql: &'static str, from: i64, to: i64| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(workspace_id)
            .bind(from)
            .bind(to)
    };
    let due =
        "SELECT COUNT(*) FROM sla_clocks WHERE workspace_id = $1 AND due_at > $2 AND due_at <= $3";
    let overdue = count(due, i64::MIN, now).fetch_one(&mut *c).await?;
    let soon = count(due, now, now + soon_ms).fetch_one(&mut *c).await?;
    let breached = count(
        "SELECT COUNT(*) FROM sla_clocks WHERE workspace_id = $1 AND breached_at >= $2 AND breached_at <= $3",
        since_ms,
        now,
    )
    .fetch_one(c)
    .await?;
    Ok((overdue, soon, breached))
}
