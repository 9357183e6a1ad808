//! @mentions: who was called into which conversation, and whether they have looked.

use citius_domain::records::Mention;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, from_ms, now_ms};

pub async fn insert(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    message_id: i64,
    user_id: i64,
    by_user_id: Option<i64>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO mentions (workspace_id, conversation_id, message_id, user_id, by_user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .bind(message_id)
    .bind(user_id)
    .bind(by_user_id)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

fn row(r: &AnyRow) -> DbResult<Mention> {
    Ok(Mention {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        subject: r.try_get("subject")?,
        message_id: r.try_get("message_id")?,
        excerpt: r
            .try_get::<String, _>("body_text")?
            .chars()
            .take(200)
            .collect(),
        by_user_id: r.try_get("by_user_id")?,
        created_at: from_ms(r.try_get("created_at")?),
        seen_at: r.try_get::<Option<i64>, _>("seen_at")?.map(from_ms),
    })
}

/// A person's mentions, newest first.
pub async fn of_user(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    limit: i64,
) -> DbResult<Vec<Mention>> {
    let rows = sqlx::query(
        "SELECT m.id, m.conversation_id, m.message_id, m.by_user_id, m.created_at, m.seen_at, v.subject, g.body_text \
         FROM mentions m JOIN conversations v ON v.id = m.conversation_id JOIN messages g ON g.id = m.message_id \
         WHERE m.workspace_id = $1 AND m.user_id = $2 ORDER BY m.id DESC LIMIT $3",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(row).collect()
}

pub async fn unseen_count(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM mentions WHERE workspace_id = $1 AND user_id = $2 AND seen_at IS NULL",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_one(c)
    .await?)
}

/// The person opened the conversation: their mentions in it are seen.
pub async fn mark_seen(c: &mut Conn, conversation_id: i64, user_id: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE mentions SET seen_at = $1 WHERE conversation_id = $2 AND user_id = $3 AND seen_at IS NULL",
    )
    .bind(now_ms())
    .bind(conversation_id)
    .bind(user_id)
    .execute(c)
    .await?;
    Ok(())
}
