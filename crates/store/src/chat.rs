//! Live-chat bookkeeping: widgets (by their public key) and visitors (by their token's hash),
//! with what each visitor is doing and has read.

use citius_domain::chat::ValidWidget;
use citius_domain::records::ChatWidget;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, Found, from_ms, now_ms};

fn widget_row(r: &AnyRow) -> DbResult<ChatWidget> {
    Ok(ChatWidget {
        inbox_id: r.try_get("inbox_id")?,
        key: r.try_get("widget_key")?,
        greeting: r.try_get("greeting")?,
        color: r.try_get("color")?,
        allowed_origins: serde_json::from_str(&r.try_get::<String, _>("allowed_origins")?)
            .unwrap_or_default(),
        offline_inbox_id: r.try_get("offline_inbox_id")?,
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

/// Creates or updates an inbox's widget; a new widget gets `fresh_key`, an existing one keeps its key.
pub async fn put_widget(
    c: &mut Conn,
    workspace_id: i64,
    inbox_id: i64,
    fresh_key: &str,
    w: &ValidWidget,
) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO chat_widgets (inbox_id, workspace_id, widget_key, greeting, color, allowed_origins, \
         offline_inbox_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (inbox_id) DO UPDATE SET greeting = excluded.greeting, color = excluded.color, \
         allowed_origins = excluded.allowed_origins, offline_inbox_id = excluded.offline_inbox_id, \
         updated_at = excluded.updated_at",
    )
    .bind(inbox_id)
    .bind(workspace_id)
    .bind(fresh_key)
    .bind(&w.greeting)
    .bind(&w.color)
    .bind(serde_json::to_string(&w.allowed_origins).unwrap_or_else(|_| "[]".into()))
    .bind(w.offline_inbox_id)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn widget(
    c: &mut Conn,
    workspace_id: i64,
    inbox_id: i64,
) -> DbResult<Option<ChatWidget>> {
    let r = sqlx::query("SELECT * FROM chat_widgets WHERE workspace_id = $1 AND inbox_id = $2")
        .bind(workspace_id)
        .bind(inbox_id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(widget_row).transpose()
}

pub async fn widgets(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<ChatWidget>> {
    let rows = sqlx::query("SELECT * FROM chat_widgets WHERE workspace_id = $1 ORDER BY inbox_id")
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(widget_row).collect()
}

/// A widget and its workspace, by the public key its snippet carries.
pub async fn widget_by_key(c: &mut Conn, key: &str) -> DbResult<Option<(i64, ChatWidget)>> {
    let r = sqlx::query("SELECT * FROM chat_widgets WHERE widget_key = $1")
        .bind(key)
        .fetch_optional(c)
        .await?;
    r.map(|r| Ok((r.try_get("workspace_id")?, widget_row(&r)?)))
        .transpose()
}

/// Gives the widget a new key: the old snippet stops working.
pub async fn rotate_key(
    c: &mut Conn,
    workspace_id: i64,
    inbox_id: i64,
    key: &str,
) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE chat_widgets SET widget_key = $1, updated_at = $2 WHERE workspace_id = $3 AND inbox_id = $4",
    )
    .bind(key)
    .bind(now_ms())
    .bind(workspace_id)
    .bind(inbox_id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// A visitor as the widget API sees them.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub id: i64,
    pub workspace_id: i64,
    pub inbox_id: i64,
    pub customer_id: Option<i64>,
    pub conversation_id: Option<i64>,
    pub typing_until: Option<i64>,
    pub read_up_to: i64,
    pub agent_read_up_to: i64,
}

fn visitor_row(r: &AnyRow) -> DbResult<Visitor> {
    Ok(Visitor {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        inbox_id: r.try_get("inbox_id")?,
        customer_id: r.try_get("customer_id")?,
        conversation_id: r.try_get("conversation_id")?,
        typing_until: r.try_get("typing_until")?,
        read_up_to: r.try_get("read_up_to")?,
        agent_read_up_to: r.try_get("agent_read_up_to")?,
    })
}

pub async fn insert_visitor(
    c: &mut Conn,
    workspace_id: i64,
    inbox_id: i64,
    token_hash: &str,
) -> DbResult<Visitor> {
    let now = now_ms();
    let r = sqlx::query(
        "INSERT INTO chat_visitors (workspace_id, inbox_id, token_hash, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING *",
    )
    .bind(workspace_id)
    .bind(inbox_id)
    .bind(token_hash)
    .bind(now)
    .fetch_one(c)
    .await?;
    visitor_row(&r)
}

pub async fn visitor_by_token(c: &mut Conn, token_hash: &str) -> DbResult<Visitor> {
    let r = sqlx::query("SELECT * FROM chat_visitors WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(c)
        .await?
        .found()?;
    visitor_row(&r)
}

/// The visitor writing in a conversation, if it came from the widget.
pub async fn visitor_of(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<Option<Visitor>> {
    let r = sqlx::query(
        "SELECT * FROM chat_visitors WHERE conversation_id = $1 AND workspace_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(conversation_id)
    .bind(workspace_id)
    .fetch_optional(c)
    .await?;
    r.as_ref().map(visitor_row).transpose()
}

pub async fn set_conversation(
    c: &mut Conn,
    visitor_id: i64,
    customer_id: i64,
    conversation_id: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE chat_visitors SET customer_id = $1, conversation_id = $2, last_seen_at = $3 WHERE id = $4")
        .bind(customer_id)
        .bind(conversation_id)
        .bind(now_ms())
        .bind(visitor_id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn set_customer(
    c: &mut Conn,
    workspace_id: i64,
    visitor_id: i64,
    customer_id: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE chat_visitors SET customer_id = $1 WHERE id = $2 AND workspace_id = $3")
        .bind(customer_id)
        .bind(visitor_id)
        .bind(workspace_id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn set_typing(c: &mut Conn, visitor_id: i64, until: Option<i64>) -> DbResult<()> {
    sqlx::query("UPDATE chat_visitors SET typing_until = $1, last_seen_at = $2 WHERE id = $3")
        .bind(until)
        .bind(now_ms())
        .bind(visitor_id)
        .execute(c)
        .await?;
    Ok(())
}

/// Moves what the visitor has read forward (never back).
pub async fn set_read(c: &mut Conn, visitor_id: i64, up_to: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE chat_visitors SET read_up_to = CASE WHEN read_up_to < $1 THEN $2 ELSE read_up_to END, \
         last_seen_at = $3 WHERE id = $4",
    )
    .bind(up_to)
    .bind(up_to)
    .bind(now_ms())
    .bind(visitor_id)
    .execute(c)
    .await?;
    Ok(())
}

/// An agent has the conversation open: they have seen everything in it so far.
pub async fn set_agent_read(c: &mut Conn, conversation_id: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE chat_visitors SET agent_read_up_to = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $1) \
         WHERE conversation_id = $2",
    )
    .bind(conversation_id)
    .bind(conversation_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Forgets visitors idle since `before` who never wrote.
pub async fn purge_idle(c: &mut Conn, before: i64) -> DbResult<u64> {
    Ok(
        sqlx::query("DELETE FROM chat_visitors WHERE customer_id IS NULL AND last_seen_at < $1")
            .bind(before)
            .execute(c)
            .await?
            .rows_affected(),
    )
}
