//! The event outbox: every event is written here in the same transaction as the event itself,
//! and one node at a time (holding the `outbox` lease) hands them, in order, to SLA clocks,
//! automation rules and webhooks. Nothing committed is skipped, even when ids commit out of
//! order on PostgreSQL, because rows are removed only once handled.

use citius_domain::records::Event;
use sqlx::Row;

use crate::script::Script;
use crate::{Conn, DbResult, now_ms};

/// Queues a workspace's new events for the outbox consumer, in one statement.
pub async fn push_all(c: &mut Conn, workspace_id: i64, event_ids: &[i64]) -> DbResult<()> {
    if event_ids.is_empty() {
        return Ok(());
    }
    let rows = crate::values(event_ids.len(), 1, 1, |p| format!("({p}, $1)"));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO event_outbox (event_id, workspace_id) VALUES {rows}"
    )))
    .persistent(event_ids.len() <= 4)
    .bind(workspace_id);
    for id in event_ids {
        q = q.bind(*id);
    }
    q.execute(c).await?;
    Ok(())
}

/// Queues events of the script's workspace for the outbox consumer.
pub fn stage(s: &mut Script, event_ids: &[i64]) {
    s.insert(
        "event_outbox (event_id, workspace_id)",
        event_ids,
        1,
        |p| format!("({p}, $1)"),
        |r, id| {
            r.bind(*id);
        },
    );
}

/// An event waiting in the outbox, with its workspace.
#[derive(Debug, Clone)]
pub struct Pending {
    pub workspace_id: i64,
    pub event: Event,
}

/// The oldest waiting events, at most `limit`. Outbox rows whose event is gone (its
/// conversation was deleted) are dropped on the way.
pub async fn oldest(c: &mut Conn, limit: i64) -> DbResult<Vec<Pending>> {
    let rows = sqlx::query(
        "SELECT o.event_id AS outbox_id, o.workspace_id AS outbox_workspace, e.* FROM event_outbox o \
         LEFT JOIN events e ON e.id = o.event_id ORDER BY o.event_id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut orphans = Vec::new();
    for r in &rows {
        let id: Option<i64> = r.try_get("id")?;
        if id.is_none() {
            orphans.push(r.try_get::<i64, _>("outbox_id")?);
            continue;
        }
        out.push(Pending {
            workspace_id: r.try_get("outbox_workspace")?,
            event: crate::conversations::event_row(r)?,
        });
    }
    if !orphans.is_empty() {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM event_outbox WHERE event_id IN ({})",
            crate::id_list(&orphans)
        )))
        .execute(c)
        .await?;
    }
    Ok(out)
}

/// Marks an event handled.
pub async fn done(c: &mut Conn, event_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM event_outbox WHERE event_id = $1")
        .bind(event_id)
        .execute(c)
        .await?;
    Ok(())
}

/// How many events wait, for metrics.
pub async fn backlog(c: &mut Conn) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM event_outbox")
        .fetch_one(c)
        .await?)
}

/// Takes or renews the lease `name` for `holder` until `ms` from now. True when `holder` has it:
/// nobody held it, the previous holder's time ran out, or `holder` already had it.
pub async fn take_lease(c: &mut Conn, name: &str, holder: &str, ms: i64) -> DbResult<bool> {
    let now = now_ms();
    let got: Option<String> = sqlx::query_scalar(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < $4 RETURNING holder",
    )
    .bind(name)
    .bind(holder)
    .bind(now + ms)
    .bind(now)
    .fetch_optional(c)
    .await?;
    Ok(got.is_some())
}

/// Gives a lease back, e.g. on shutdown, so another node takes over at once.
pub async fn release_lease(c: &mut Conn, name: &str, holder: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(c)
        .await?;
    Ok(())
}
