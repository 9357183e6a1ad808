//! Outbound webhook endpoints, the messages sent to them and every delivery attempt.

use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::{WebhookAttemptInfo, WebhookEndpointInfo, WebhookMessageInfo};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbError, DbResult, from_ms, now_ms, parse_json};

/// An endpoint with what delivering to it needs.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub info: WebhookEndpointInfo,
    pub workspace_id: i64,
    pub secret: String,
}

fn endpoint(r: &AnyRow) -> DbResult<Endpoint> {
    let types: serde_json::Value = parse_json(&r.try_get::<String, _>("event_types")?)?;
    Ok(Endpoint {
        info: WebhookEndpointInfo {
            id: r.try_get("id")?,
            url: r.try_get("url")?,
            description: r.try_get("description")?,
            event_types: serde_json::from_value(types)
                .map_err(|e| DbError::Corrupt(format!("webhook event types: {e}")))?,
            enabled: r.try_get::<i64, _>("enabled")? != 0,
            disabled_reason: r.try_get("disabled_reason")?,
            failing_since: r.try_get::<Option<i64>, _>("failing_since")?.map(from_ms),
            created_at: from_ms(r.try_get("created_at")?),
        },
        workspace_id: r.try_get("workspace_id")?,
        secret: r.try_get("secret")?,
    })
}

/// The editable part of an endpoint.
pub struct EndpointFields<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub enabled: bool,
}

fn types_json(t: &[String]) -> String {
    serde_json::Value::from(t.to_vec()).to_string()
}

pub async fn create_endpoint(
    c: &mut Conn,
    workspace_id: i64,
    f: &EndpointFields<'_>,
    secret: &str,
) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_endpoints (workspace_id, url, description, event_types, secret, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(workspace_id)
    .bind(f.url)
    .bind(f.description)
    .bind(types_json(f.event_types))
    .bind(secret)
    .bind(i64::from(f.enabled))
    .bind(now)
    .fetch_one(c)
    .await?)
}

/// Changes an endpoint; turning it on again forgets why it was turned off.
pub async fn update_endpoint(
    c: &mut Conn,
    workspace_id: i64,
    id: i64,
    f: &EndpointFields<'_>,
) -> DbResult<()> {
    let n = sqlx::query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, enabled = $4, \
         disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END, \
         failing_since = CASE WHEN $6 = 1 THEN NULL ELSE failing_since END, updated_at = $7 \
         WHERE id = $8 AND workspace_id = $9",
    )
    .bind(f.url)
    .bind(f.description)
    .bind(types_json(f.event_types))
    .bind(i64::from(f.enabled))
    .bind(i64::from(f.enabled))
    .bind(i64::from(f.enabled))
    .bind(now_ms())
    .bind(id)
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

pub async fn get_endpoint(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Endpoint> {
    let r = sqlx::query("SELECT * FROM webhook_endpoints WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_one(c)
        .await?;
    endpoint(&r)
}

pub async fn endpoints(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<Endpoint>> {
    let rows = sqlx::query("SELECT * FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY id")
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(endpoint).collect()
}

/// Deletes an endpoint with its messages and their attempts.
pub async fn delete_endpoint(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<()> {
    get_endpoint(c, workspace_id, id).await?;
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE message_id IN (SELECT id FROM webhook_messages WHERE endpoint_id = $1)",
    )
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query("DELETE FROM webhook_messages WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Records that deliveries to an endpoint fail since `since` (kept if already failing), or,
/// with `None`, that they work again.
pub async fn set_failing(c: &mut Conn, id: i64, since: Option<i64>) -> DbResult<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = CASE WHEN $1 IS NULL THEN NULL \
         ELSE COALESCE(failing_since, $2) END WHERE id = $3",
    )
    .bind(since)
    .bind(since)
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

/// Turns an endpoint off and says why; its pending messages stop.
pub async fn disable(c: &mut Conn, id: i64, reason: &str) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, last_error = $1, updated_at = $2 \
         WHERE endpoint_id = $3 AND status = 'pending'",
    )
    .bind(format!("endpoint disabled: {reason}"))
    .bind(now)
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

fn message(r: &AnyRow) -> DbResult<WebhookMessageInfo> {
    Ok(WebhookMessageInfo {
        id: r.try_get("id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        msg_id: r.try_get("msg_id")?,
        event_type: r.try_get("event_type")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get::<Option<i64>, _>("next_attempt_at")?.map(from_ms),
        last_status_code: r.try_get("last_status_code")?,
        last_error: r.try_get("last_error")?,
        payload: parse_json(&r.try_get::<String, _>("payload")?)?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

/// Stores a message to send; returns its id.
pub async fn insert_message(
    c: &mut Conn,
    workspace_id: i64,
    endpoint_id: i64,
    msg_id: &str,
    event_type: &str,
    payload: &str,
) -> DbResult<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_messages (workspace_id, endpoint_id, msg_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6) RETURNING id",
    )
    .bind(workspace_id)
    .bind(endpoint_id)
    .bind(msg_id)
    .bind(event_type)
    .bind(payload)
    .bind(now)
    .fetch_one(c)
    .await?)
}

/// A message with its raw payload, as the sender needs it.
pub async fn message_to_send(c: &mut Conn, id: i64) -> DbResult<(WebhookMessageInfo, String)> {
    let r = sqlx::query("SELECT * FROM webhook_messages WHERE id = $1")
        .bind(id)
        .fetch_one(c)
        .await?;
    Ok((message(&r)?, r.try_get("payload")?))
}

pub async fn get_message(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<WebhookMessageInfo> {
    let r = sqlx::query("SELECT * FROM webhook_messages WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_one(c)
        .await?;
    message(&r)
}

/// Messages of an endpoint, newest first.
pub async fn messages(
    c: &mut Conn,
    workspace_id: i64,
    endpoint_id: i64,
    page: PageRequest,
) -> DbResult<Page<WebhookMessageInfo>> {
    let before = page.after.map_or(i64::MAX, |c| c.id);
    let rows = sqlx::query(
        "SELECT * FROM webhook_messages WHERE workspace_id = $1 AND endpoint_id = $2 AND id < $3 \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(workspace_id)
    .bind(endpoint_id)
    .bind(before)
    .bind(i64::from(page.limit) + 1)
    .fetch_all(c)
    .await?;
    let list = rows.iter().map(message).collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(list, page.limit, |m| Cursor {
        key: 0,
        id: m.id,
    }))
}

/// What one attempt found.
pub struct AttemptOutcome<'a> {
    pub status_code: Option<i64>,
    pub error: Option<&'a str>,
    pub duration_ms: i64,
}

/// Records attempt `attempt` of a message and where the message now stands: `delivered`,
/// `pending` until `next_at`, or `failed`.
pub async fn record_attempt(
    c: &mut Conn,
    message_id: i64,
    attempt: i64,
    o: &AttemptOutcome<'_>,
    status: &str,
    next_at: Option<i64>,
) -> DbResult<()> {
    let now = now_ms();
    let error: Option<String> = o.error.map(|e| e.chars().take(500).collect());
    sqlx::query(
        "INSERT INTO webhook_attempts (message_id, attempt, status_code, error, duration_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(message_id)
    .bind(attempt)
    .bind(o.status_code)
    .bind(error.as_deref())
    .bind(o.duration_ms)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "UPDATE webhook_messages SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4, \
         last_error = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(status)
    .bind(attempt)
    .bind(next_at)
    .bind(o.status_code)
    .bind(error.as_deref())
    .bind(now)
    .bind(message_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Puts a message back to be sent now (a manual replay); keeps its id so receivers can
/// de-duplicate.
pub async fn requeue(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<()> {
    let now = now_ms();
    let n = sqlx::query(
        "UPDATE webhook_messages SET status = 'pending', next_attempt_at = $1, updated_at = $1 \
         WHERE id = $2 AND workspace_id = $3",
    )
    .bind(now)
    .bind(id)
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

pub async fn attempts(c: &mut Conn, message_id: i64) -> DbResult<Vec<WebhookAttemptInfo>> {
    Ok(attempts_of(c, &[message_id])
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect())
}

/// The attempts of several messages in one query, as (message id, attempt), oldest first.
pub async fn attempts_of(
    c: &mut Conn,
    message_ids: &[i64],
) -> DbResult<Vec<(i64, WebhookAttemptInfo)>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM webhook_attempts WHERE message_id IN ({}) ORDER BY id",
        crate::id_list(message_ids)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(c).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("message_id")?,
                WebhookAttemptInfo {
                    attempt: r.try_get("attempt")?,
                    status_code: r.try_get("status_code")?,
                    error: r.try_get("error")?,
                    duration_ms: r.try_get("duration_ms")?,
                    created_at: from_ms(r.try_get("created_at")?),
                },
            ))
        })
        .collect()
}
