//! The audit log of security and admin actions: sign-ins, tokens, roles, merges, deletions.

use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::AuditEntry;
use sqlx::Row;

use crate::{Conn, DbResult, from_ms, now_ms, parse_json};

pub struct NewEntry<'a> {
    pub workspace_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<i64>,
    pub data: serde_json::Value,
    pub ip: Option<&'a str>,
}

pub async fn record(c: &mut Conn, e: &NewEntry<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, actor_user_id, action, target_kind, target_id, data, ip, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.workspace_id)
    .bind(e.actor_user_id)
    .bind(e.action)
    .bind(e.target_kind)
    .bind(e.target_id)
    .bind(e.data.to_string())
    .bind(e.ip)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

/// Newest first.
pub async fn list(
    c: &mut Conn,
    workspace_id: i64,
    page: PageRequest,
) -> DbResult<Page<AuditEntry>> {
    let before = page.after.map_or(i64::MAX, |c| c.id);
    let rows = sqlx::query(
        "SELECT * FROM audit_log WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(workspace_id)
    .bind(before)
    .bind(i64::from(page.limit) + 1)
    .fetch_all(c)
    .await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                actor_user_id: r.try_get("actor_user_id")?,
                action: r.try_get("action")?,
                target_kind: r.try_get("target_kind")?,
                target_id: r.try_get("target_id")?,
                data: parse_json(&r.try_get::<String, _>("data")?)?,
                ip: r.try_get("ip")?,
                created_at: from_ms(r.try_get("created_at")?),
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(entries, page.limit, |e| Cursor {
        key: 0,
        id: e.id,
    }))
}
