//! IMAP mailboxes of email inboxes: their settings, how far each has been read, and the lease
//! that lets exactly one node poll a mailbox at a time.

use citius_domain::imap::ValidMailbox;
use citius_domain::records::ImapMailbox;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Conn, DbResult, from_ms, now_ms};

/// What a poller needs to read one mailbox, password included. Never serialised.
#[derive(Clone)]
pub struct Account {
    pub inbox_id: i64,
    pub workspace_id: i64,
    pub host: String,
    pub port: i64,
    pub security: String,
    pub username: String,
    pub password: String,
    pub folder: String,
    pub interval_secs: i64,
    pub uid_validity: Option<i64>,
    pub last_uid: i64,
    pub failures: i64,
    /// The lease this poll holds; progress is only recorded under it.
    pub lease_until: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("inbox_id", &self.inbox_id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

fn account(r: &AnyRow) -> DbResult<Account> {
    Ok(Account {
        inbox_id: r.try_get("inbox_id")?,
        workspace_id: r.try_get("workspace_id")?,
        host: r.try_get("host")?,
        port: r.try_get("port")?,
        security: r.try_get("security")?,
        username: r.try_get("username")?,
        password: r.try_get("password")?,
        folder: r.try_get("folder")?,
        interval_secs: r.try_get("interval_secs")?,
        uid_validity: r.try_get("uid_validity")?,
        last_uid: r.try_get("last_uid")?,
        failures: r.try_get("failures")?,
        lease_until: r.try_get::<Option<i64>, _>("lease_until")?.unwrap_or(0),
    })
}

fn view(r: &AnyRow) -> DbResult<ImapMailbox> {
    Ok(ImapMailbox {
        inbox_id: r.try_get("inbox_id")?,
        host: r.try_get("host")?,
        port: r.try_get("port")?,
        security: r.try_get("security")?,
        username: r.try_get("username")?,
        folder: r.try_get("folder")?,
        interval_secs: r.try_get("interval_secs")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        last_uid: r.try_get("last_uid")?,
        fetched: r.try_get("fetched")?,
        last_polled_at: r.try_get::<Option<i64>, _>("last_polled_at")?.map(from_ms),
        last_error: r.try_get("last_error")?,
        failures: r.try_get("failures")?,
        next_poll_at: from_ms(r.try_get("next_poll_at")?),
    })
}

/// The mailbox of an inbox in a workspace, if it has one.
pub async fn get(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<Option<ImapMailbox>> {
    let r = sqlx::query("SELECT * FROM imap_mailboxes WHERE workspace_id = $1 AND inbox_id = $2")
        .bind(workspace_id)
        .bind(inbox_id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(view).transpose()
}

/// Every mailbox of a workspace, by inbox.
pub async fn list(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<ImapMailbox>> {
    let rows =
        sqlx::query("SELECT * FROM imap_mailboxes WHERE workspace_id = $1 ORDER BY inbox_id")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
    rows.iter().map(view).collect()
}

/// Creates or replaces the mailbox settings of an inbox; a `None` password keeps the stored
/// one. A changed server, account or folder starts reading from the beginning again (what was
/// taken before is recognised as a redelivery). The mailbox is polled at once.
pub async fn put(c: &mut Conn, workspace_id: i64, inbox_id: i64, m: &ValidMailbox) -> DbResult<()> {
    let now = now_ms();
    let moved = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM imap_mailboxes WHERE inbox_id = $1 \
         AND (host <> $2 OR port <> $3 OR username <> $4 OR folder <> $5)",
    )
    .bind(inbox_id)
    .bind(&m.host)
    .bind(i64::from(m.port))
    .bind(&m.username)
    .bind(&m.folder)
    .fetch_one(&mut *c)
    .await?
        > 0;
    sqlx::query(
        "INSERT INTO imap_mailboxes (inbox_id, workspace_id, host, port, security, username, password, folder, \
         interval_secs, enabled, next_poll_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, ''), $8, $9, $10, $11, $11, $11) \
         ON CONFLICT (inbox_id) DO UPDATE SET host = excluded.host, port = excluded.port, \
         security = excluded.security, username = excluded.username, \
         password = COALESCE($7, imap_mailboxes.password), folder = excluded.folder, \
         interval_secs = excluded.interval_secs, enabled = excluded.enabled, \
         next_poll_at = excluded.next_poll_at, lease_until = NULL, failures = 0, last_error = NULL, updated_at = excluded.updated_at",
    )
    .bind(inbox_id)
    .bind(workspace_id)
    .bind(&m.host)
    .bind(i64::from(m.port))
    .bind(m.security.as_str())
    .bind(&m.username)
    .bind(m.password.as_deref())
    .bind(&m.folder)
    .bind(m.interval_secs)
    .bind(i64::from(m.enabled))
    .bind(now)
    .execute(&mut *c)
    .await?;
    if moved {
        sqlx::query(
            "UPDATE imap_mailboxes SET uid_validity = NULL, last_uid = 0 WHERE inbox_id = $1",
        )
        .bind(inbox_id)
        .execute(c)
        .await?;
    }
    Ok(())
}

/// Whether the inbox has a stored mailbox (and so a stored password).
pub async fn exists(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM imap_mailboxes WHERE workspace_id = $1 AND inbox_id = $2",
    )
    .bind(workspace_id)
    .bind(inbox_id)
    .fetch_one(c)
    .await?
        > 0)
}

pub async fn delete(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<bool> {
    let n = sqlx::query("DELETE FROM imap_mailboxes WHERE workspace_id = $1 AND inbox_id = $2")
        .bind(workspace_id)
        .bind(inbox_id)
        .execute(c)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Makes a mailbox due now.
pub async fn poll_soon(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE imap_mailboxes SET next_poll_at = $1 WHERE workspace_id = $2 AND inbox_id = $3",
    )
    .bind(now_ms())
    .bind(workspace_id)
    .bind(inbox_id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Leases up to `limit` enabled mailboxes that are due and not held by a live lease. While
/// leased, a mailbox's next poll is the lease's end, so a node that dies mid-poll leaves it due.
pub async fn claim_due(
    c: &mut Conn,
    backend: Backend,
    limit: i64,
    lease_ms: i64,
) -> DbResult<Vec<Account>> {
    let now = now_ms();
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE imap_mailboxes SET lease_until = $1, next_poll_at = $1 WHERE inbox_id IN (SELECT inbox_id FROM imap_mailboxes \
         WHERE enabled = 1 AND next_poll_at <= $2 AND (lease_until IS NULL OR lease_until < $3) \
         ORDER BY next_poll_at LIMIT $4{lock}) RETURNING *"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter().map(account).collect()
}

/// Records that everything up to `uid` has been taken; false when the lease was lost (another
/// node polls the mailbox now, or its settings changed).
pub async fn advance(
    c: &mut Conn,
    a: &Account,
    uid_validity: i64,
    uid: i64,
    taken: i64,
) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE imap_mailboxes SET uid_validity = $1, last_uid = $2, fetched = fetched + $3 \
         WHERE inbox_id = $4 AND lease_until = $5",
    )
    .bind(uid_validity)
    .bind(uid)
    .bind(taken)
    .bind(a.inbox_id)
    .bind(a.lease_until)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Ends a poll: releases the lease and says when to poll next and what went wrong, if anything.
pub async fn finish(
    c: &mut Conn,
    a: &Account,
    error: Option<&str>,
    next_poll_at: i64,
) -> DbResult<()> {
    let failures = if error.is_some() { a.failures + 1 } else { 0 };
    sqlx::query(
        "UPDATE imap_mailboxes SET lease_until = NULL, last_polled_at = $1, last_error = $2, failures = $3, \
         next_poll_at = CASE WHEN next_poll_at < $4 THEN next_poll_at ELSE $5 END \
         WHERE inbox_id = $6 AND lease_until = $7",
    )
    .bind(now_ms())
    .bind(error)
    .bind(failures)
    // A "poll now" asked for during the poll moved the next poll before the lease's end: it
    // wins over the regular schedule.
    .bind(a.lease_until)
    .bind(next_poll_at)
    .bind(a.inbox_id)
    .bind(a.lease_until)
    .execute(c)
    .await?;
    Ok(())
}
