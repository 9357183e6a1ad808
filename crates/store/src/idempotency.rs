//! Idempotency keys: the first response to a keyed request is kept and replayed on retries.

use sqlx::Row;

use crate::{Conn, DbError, DbResult, now_ms};

pub enum Claim {
    /// First time: run the request, then [`finish`].
    New,
    /// Seen before with the same body: answer this again.
    Replay { status: u16, body: String },
    /// Seen before with another body.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

pub async fn claim(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    key: &str,
    request_hash: &str,
) -> DbResult<Claim> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (workspace_id, user_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id, user_id, key) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(key)
    .bind(request_hash)
    .bind(now_ms())
    .execute(&mut *c)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let r = sqlx::query(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE workspace_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(key)
    .fetch_optional(c)
    .await?
    .ok_or(DbError::NotFound)?;
    let hash: String = r.try_get("request_hash")?;
    if hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    let status: Option<i64> = r.try_get("status_code")?;
    let body: Option<String> = r.try_get("response_body")?;
    Ok(match (status, body) {
        (Some(s), Some(b)) => Claim::Replay {
            status: u16::try_from(s).unwrap_or(200),
            body: b,
        },
        _ => Claim::InProgress,
    })
}

pub async fn finish(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    key: &str,
    status: u16,
    body: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status_code = $1, response_body = $2 WHERE workspace_id = $3 AND user_id = $4 AND key = $5",
    )
    .bind(i64::from(status))
    .bind(body)
    .bind(workspace_id)
    .bind(user_id)
    .bind(key)
    .execute(c)
    .await?;
    Ok(())
}

/// Forgets a key whose request failed on our side, so a retry runs again.
pub async fn release(c: &mut Conn, workspace_id: i64, user_id: i64, key: &str) -> DbResult<()> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND user_id = $2 AND key = $3",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(key)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn purge(c: &mut Conn, before_ms: i64) -> DbResult<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before_ms)
            .execute(c)
            .await?
            .rows_affected(),
    )
}
