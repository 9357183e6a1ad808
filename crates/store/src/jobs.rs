//! The durable job queue. A job is enqueued in the same transaction as the change that causes
//! it, claimed with a lease (SKIP LOCKED on PostgreSQL; SQLite has a single writer), retried with
//! growing delays, and parked as `dead` after its last attempt.

use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::JobInfo;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Conn, DbResult, now_ms};

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub status: String,
    pub last_error: Option<String>,
}

fn job(r: &AnyRow) -> DbResult<Job> {
    Ok(Job {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        kind: r.try_get("kind")?,
        payload: crate::parse_json(&r.try_get::<String, _>("payload")?)?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        run_at: r.try_get("run_at")?,
        status: r.try_get("status")?,
        last_error: r.try_get("last_error")?,
    })
}

pub struct NewJob<'a> {
    pub workspace_id: Option<i64>,
    pub kind: &'a str,
    pub payload: serde_json::Value,
    pub run_at: i64,
    pub max_attempts: i64,
    /// Jobs with the same key are enqueued once (e.g. one wake-up per snooze).
    pub dedupe_key: Option<String>,
}

/// Enqueues a job; returns its id, or `None` when a job with the same dedupe key exists.
pub async fn enqueue(c: &mut Conn, j: &NewJob<'_>) -> DbResult<Option<i64>> {
    let now = now_ms();
    Ok(sqlx::query_scalar(
        "INSERT INTO jobs (workspace_id, kind, payload, status, run_at, max_attempts, dedupe_key, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(j.workspace_id)
    .bind(j.kind)
    .bind(j.payload.to_string())
    .bind(j.run_at)
    .bind(j.max_attempts)
    .bind(j.dedupe_key.as_deref())
    .bind(now)
    .fetch_optional(c)
    .await?)
}

/// Claims up to `limit` due jobs for `lease_ms`. A job whose lease ran out (its worker died) is
/// due again. The returned `attempts` is the fencing token for [`complete`] and [`fail`].
pub async fn claim(
    c: &mut Conn,
    backend: Backend,
    limit: i64,
    lease_ms: i64,
) -> DbResult<Vec<Job>> {
    let now = now_ms();
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) \
         OR (status = 'running' AND locked_until < $4) ORDER BY run_at, id LIMIT $5{lock}) RETURNING *"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter().map(job).collect()
}

/// Marks a claimed job done; false if the claim was lost (lease expired and re-claimed).
pub async fn complete(c: &mut Conn, id: i64, attempts: i64) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = $1 \
         WHERE id = $2 AND attempts = $3 AND status = 'running'",
    )
    .bind(now_ms())
    .bind(id)
    .bind(attempts)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Delay before retry `attempt` (1-based): 10 s doubling, capped at 6 h.
pub fn backoff_ms(attempt: i64) -> i64 {
    let exp = attempt.clamp(1, 16) - 1;
    (10_000_i64 << exp).min(6 * 3_600_000)
}

/// Records a failure: retried later, or parked as `dead` after the last attempt.
pub async fn fail(c: &mut Conn, job: &Job, error: &str) -> DbResult<()> {
    let now = now_ms();
    let error: String = error.chars().take(2000).collect();
    let (status, run_at) = if job.attempts >= job.max_attempts {
        ("dead", job.run_at)
    } else {
        ("queued", now + backoff_ms(job.attempts))
    };
    sqlx::query(
        "UPDATE jobs SET status = $1, run_at = $2, locked_until = NULL, last_error = $3, updated_at = $4 \
         WHERE id = $5 AND attempts = $6 AND status = 'running'",
    )
    .bind(status)
    .bind(run_at)
    .bind(error)
    .bind(now)
    .bind(job.id)
    .bind(job.attempts)
    .execute(c)
    .await?;
    Ok(())
}

/// Puts a dead job of a workspace back in the queue to run now, with one more attempt.
pub async fn retry_dead(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<bool> {
    let now = now_ms();
    let n = sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = $1, max_attempts = attempts + 1, updated_at = $2 \
         WHERE id = $3 AND workspace_id = $4 AND status = 'dead'",
    )
    .bind(now)
    .bind(now)
    .bind(id)
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// A workspace's jobs, newest first, optionally of one status.
pub async fn list(
    c: &mut Conn,
    workspace_id: i64,
    status: Option<&str>,
    page: PageRequest,
) -> DbResult<Page<JobInfo>> {
    let before = page.after.map_or(i64::MAX, |c| c.id);
    let rows = match status {
        Some(st) => sqlx::query("SELECT * FROM jobs WHERE workspace_id = $1 AND status = $2 AND id < $3 ORDER BY id DESC LIMIT $4")
            .bind(workspace_id)
            .bind(st)
            .bind(before)
            .bind(i64::from(page.limit) + 1)
            .fetch_all(c)
            .await?,
        None => sqlx::query("SELECT * FROM jobs WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")
            .bind(workspace_id)
            .bind(before)
            .bind(i64::from(page.limit) + 1)
            .fetch_all(c)
            .await?,
    };
    let list = rows
        .iter()
        .map(|r| {
            Ok(JobInfo {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
                run_at: crate::from_ms(r.try_get("run_at")?),
                last_error: r.try_get("last_error")?,
                created_at: crate::from_ms(r.try_get("created_at")?),
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(list, page.limit, |j| Cursor {
        key: 0,
        id: j.id,
    }))
}

pub async fn get(c: &mut Conn, id: i64) -> DbResult<Job> {
    let r = sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(c)
        .await?;
    job(&r)
}

/// Counts per status, for metrics and readiness.
pub async fn counts(c: &mut Conn) -> DbResult<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect()
}

/// Forgets finished jobs older than `before_ms`.
pub async fn purge_done(c: &mut Conn, before_ms: i64) -> DbResult<u64> {
    Ok(
        sqlx::query("DELETE FROM jobs WHERE status = 'done' AND updated_at < $1")
            .bind(before_ms)
            .execute(c)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(super::backoff_ms(1), 10_000);
        assert_eq!(super::backoff_ms(2), 20_000);
        assert_eq!(super::backoff_ms(30), 6 * 3_600_000);
    }
}
