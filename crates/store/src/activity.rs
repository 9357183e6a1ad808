//! Who is viewing or typing in a conversation: short-lived rows that expire on their own.

use sqlx::Row;

use crate::{Conn, DbResult};

/// Someone else at a conversation.
#[derive(Debug, Clone)]
pub struct Present {
    pub user_id: i64,
    pub name: String,
    pub activity: String,
    pub started_at: i64,
}

/// Records (or renews) what a user is doing in a conversation until `expires_at`.
pub async fn put(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    user_id: i64,
    activity: &str,
    now: i64,
    expires_at: i64,
) -> DbResult<()> {
    // Renewing the same activity keeps its start; a change of activity starts anew.
    sqlx::query(
        "INSERT INTO conversation_activity (workspace_id, conversation_id, user_id, activity, started_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (conversation_id, user_id) DO UPDATE SET \
         started_at = CASE WHEN conversation_activity.activity = excluded.activity THEN conversation_activity.started_at ELSE excluded.started_at END, \
         activity = excluded.activity, expires_at = excluded.expires_at",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .bind(user_id)
    .bind(activity)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// The user left the conversation.
pub async fn clear(c: &mut Conn, conversation_id: i64, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM conversation_activity WHERE conversation_id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(())
}

/// Everyone but `except_user` still active in the conversation, typing first.
pub async fn others(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    except_user: i64,
    now: i64,
) -> DbResult<Vec<Present>> {
    let rows = sqlx::query(
        "SELECT a.user_id, u.name, a.activity, a.started_at FROM conversation_activity a JOIN users u ON u.id = a.user_id \
         WHERE a.workspace_id = $1 AND a.conversation_id = $2 AND a.user_id <> $3 AND a.expires_at > $4 \
         ORDER BY CASE WHEN a.activity = 'typing' THEN 0 ELSE 1 END, a.started_at",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .bind(except_user)
    .bind(now)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Present {
                user_id: r.try_get("user_id")?,
                name: r.try_get("name")?,
                activity: r.try_get("activity")?,
                started_at: r.try_get("started_at")?,
            })
        })
        .collect()
}

/// Forgets expired rows.
pub async fn purge(c: &mut Conn, now: i64) -> DbResult<u64> {
    Ok(
        sqlx::query("DELETE FROM conversation_activity WHERE expires_at <= $1")
            .bind(now)
            .execute(c)
            .await?
            .rows_affected(),
    )
}
