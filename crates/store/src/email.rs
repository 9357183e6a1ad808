//! Mail bookkeeping: the inboxes addresses lead to, mail details of messages, the record of
//! every received mail (to spot redeliveries), the raw originals, and the instance keys.

use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::{EmailDetails, InboundMail, Inbox};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, Found, from_ms, now_ms};

/// A secret every node shares, made on first use. The first node to ask creates it; the
/// others read the same value.
pub async fn instance_key(c: &mut Conn, name: &str, fresh: &str) -> DbResult<String> {
    sqlx::query(
        "INSERT INTO instance_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(fresh)
    .bind(now_ms())
    .execute(&mut *c)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM instance_keys WHERE name = $1")
            .bind(name)
            .fetch_one(c)
            .await?,
    )
}

/// The email inbox (and its workspace) that owns an address, in any workspace.
pub async fn inbox_for_address(c: &mut Conn, address: &str) -> DbResult<Option<(i64, Inbox)>> {
    let r = sqlx::query("SELECT * FROM inboxes WHERE address = $1 AND channel = 'email'")
        .bind(address)
        .fetch_optional(c)
        .await?;
    r.map(|r| Ok((r.try_get("workspace_id")?, crate::directory::inbox_row(&r)?)))
        .transpose()
}

/// Whether any email inbox has this address (mail "from ourselves" is a loop).
pub async fn is_own_address(c: &mut Conn, address: &str) -> DbResult<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM inboxes WHERE address = $1 AND channel = 'email'",
    )
    .bind(address)
    .fetch_one(c)
    .await?
        > 0)
}

/// Stores bytes by their SHA-256 (once, however often they arrive).
pub async fn put_blob(c: &mut Conn, sha256: &str, data: &[u8]) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha256)
    .bind(data.len() as i64)
    .bind(data.to_vec())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn blob(c: &mut Conn, sha256: &str) -> DbResult<Vec<u8>> {
    sqlx::query_scalar("SELECT data FROM blobs WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(c)
        .await?
        .found()
}

fn inbound_row(r: &AnyRow) -> DbResult<InboundMail> {
    Ok(InboundMail {
        id: r.try_get("id")?,
        inbox_id: r.try_get("inbox_id")?,
        source: r.try_get("source")?,
        envelope_from: r.try_get("envelope_from")?,
        outcome: r.try_get("outcome")?,
        reason: r.try_get("reason")?,
        conversation_id: r.try_get("conversation_id")?,
        message_id: r.try_get("message_id")?,
        size: r.try_get("size")?,
        received_at: from_ms(r.try_get("received_at")?),
    })
}

/// The earlier delivery of the same mail to this inbox, if there was one.
pub async fn already_received(
    c: &mut Conn,
    inbox_id: i64,
    dedupe_key: &str,
) -> DbResult<Option<InboundMail>> {
    let r = sqlx::query("SELECT * FROM inbound_mail WHERE inbox_id = $1 AND dedupe_key = $2")
        .bind(inbox_id)
        .bind(dedupe_key)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(inbound_row).transpose()
}

pub struct NewInbound<'a> {
    pub workspace_id: i64,
    pub inbox_id: i64,
    pub dedupe_key: &'a str,
    pub source: &'a str,
    pub envelope_from: Option<&'a str>,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub raw_sha256: Option<&'a str>,
    pub size: i64,
}

pub async fn record_inbound(c: &mut Conn, m: &NewInbound<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO inbound_mail (workspace_id, inbox_id, dedupe_key, source, envelope_from, outcome, reason, \
         conversation_id, message_id, raw_sha256, size, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(m.workspace_id)
    .bind(m.inbox_id)
    .bind(m.dedupe_key)
    .bind(m.source)
    .bind(m.envelope_from)
    .bind(m.outcome)
    .bind(m.reason)
    .bind(m.conversation_id)
    .bind(m.message_id)
    .bind(m.raw_sha256)
    .bind(m.size)
    .bind(now_ms())
    .fetch_one(c)
    .await?)
}

/// Received mail of a workspace, newest first.
pub async fn inbound_log(
    c: &mut Conn,
    workspace_id: i64,
    page: PageRequest,
) -> DbResult<Page<InboundMail>> {
    let before = page.after.map_or(i64::MAX, |c| c.id);
    let rows = sqlx::query(
        "SELECT * FROM inbound_mail WHERE workspace_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(workspace_id)
    .bind(before)
    .bind(i64::from(page.limit) + 1)
    .fetch_all(c)
    .await?;
    let items = rows.iter().map(inbound_row).collect::<DbResult<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, page.limit, |m| Cursor {
        key: m.id,
        id: m.id,
    }))
}

pub struct NewEmailMessage<'a> {
    pub message_id: i64,
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub rfc_message_id: &'a str,
    pub from_address: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
    pub raw_sha256: Option<&'a str>,
    pub fold_at: Option<i64>,
    pub delivery_state: &'a str,
}

pub async fn insert_email_message(c: &mut Conn, m: &NewEmailMessage<'_>) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO email_messages (message_id, workspace_id, conversation_id, rfc_message_id, from_address, \
         to_addresses, cc_addresses, raw_sha256, fold_at, delivery_state, updated_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(m.message_id)
    .bind(m.workspace_id)
    .bind(m.conversation_id)
    .bind(m.rfc_message_id)
    .bind(m.from_address)
    .bind(serde_json::to_string(m.to).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(m.cc).unwrap_or_else(|_| "[]".into()))
    .bind(m.raw_sha256)
    .bind(m.fold_at)
    .bind(m.delivery_state)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

fn details_row(r: &AnyRow) -> DbResult<EmailDetails> {
    let list = |col: &str| -> DbResult<Vec<String>> {
        Ok(serde_json::from_str(&r.try_get::<String, _>(col)?).unwrap_or_default())
    };
    Ok(EmailDetails {
        message_id: r.try_get("rfc_message_id")?,
        from: r.try_get("from_address")?,
        to: list("to_addresses")?,
        cc: list("cc_addresses")?,
        fold_at: r.try_get("fold_at")?,
        delivery_state: r.try_get("delivery_state")?,
        delivery_error: r.try_get("delivery_error")?,
        attempts: r.try_get("attempts")?,
        has_original: r.try_get::<Option<String>, _>("raw_sha256")?.is_some(),
    })
}

/// Mail details of a conversation's messages with ids in `first..=last`.
pub async fn details_between(
    c: &mut Conn,
    conversation_id: i64,
    first: i64,
    last: i64,
) -> DbResult<Vec<(i64, EmailDetails)>> {
    let rows = sqlx::query(
        "SELECT * FROM email_messages WHERE conversation_id = $1 AND message_id BETWEEN $2 AND $3",
    )
    .bind(conversation_id)
    .bind(first)
    .bind(last)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("message_id")?, details_row(r)?)))
        .collect()
}

/// A message's mail row: (conversation id, details, raw original's hash).
pub async fn email_message(
    c: &mut Conn,
    workspace_id: i64,
    message_id: i64,
) -> DbResult<(i64, EmailDetails, Option<String>)> {
    let r = sqlx::query("SELECT * FROM email_messages WHERE message_id = $1 AND workspace_id = $2")
        .bind(message_id)
        .bind(workspace_id)
        .fetch_optional(c)
        .await?
        .found()?;
    Ok((
        r.try_get("conversation_id")?,
        details_row(&r)?,
        r.try_get("raw_sha256")?,
    ))
}

/// Messages of the workspace with one of these Message-IDs: (message id, conversation id),
/// newest first.
pub async fn by_rfc_ids(
    c: &mut Conn,
    workspace_id: i64,
    rfc_ids: &[String],
) -> DbResult<Vec<(i64, i64)>> {
    if rfc_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = crate::sql::Sql::new(
        "SELECT message_id, conversation_id FROM email_messages WHERE workspace_id = ",
    );
    q.int(workspace_id).push(" AND rfc_message_id IN (");
    for (i, id) in rfc_ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.text(id);
    }
    q.push(") ORDER BY message_id DESC");
    let rows = q.query().fetch_all(c).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("message_id")?, r.try_get("conversation_id")?)))
        .collect()
}

/// The newest conversation of `customer_id`, not closed, holding a mail with one of these
/// Message-IDs: one query however many ids a reply refers to.
pub async fn customer_thread(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    rfc_ids: &[String],
) -> DbResult<Option<i64>> {
    if rfc_ids.is_empty() {
        return Ok(None);
    }
    let mut q = crate::sql::Sql::new(
        "SELECT e.conversation_id FROM email_messages e JOIN conversations v ON v.id = e.conversation_id \
         WHERE e.workspace_id = ",
    );
    q.int(workspace_id)
        .push(" AND v.customer_id = ")
        .int(customer_id)
        .push(" AND v.status <> 'closed' AND e.rfc_message_id IN (");
    for (i, id) in rfc_ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.text(id);
    }
    q.push(") ORDER BY e.message_id DESC LIMIT 1");
    Ok(q.query()
        .fetch_optional(c)
        .await?
        .map(|r| r.try_get("conversation_id"))
        .transpose()?)
}

/// The Message-IDs of a conversation's mail, oldest first (for References), at most `limit`
/// of the newest.
pub async fn thread_ids(c: &mut Conn, conversation_id: i64, limit: i64) -> DbResult<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query_scalar(
        "SELECT rfc_message_id FROM email_messages WHERE conversation_id = $1 ORDER BY message_id DESC LIMIT $2",
    )
    .bind(conversation_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    ids.reverse();
    Ok(ids)
}

/// Records how sending went. `attempts` counts tries so far.
pub async fn set_delivery(
    c: &mut Conn,
    message_id: i64,
    state: &str,
    error: Option<&str>,
    attempts: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE email_messages SET delivery_state = $1, delivery_error = $2, attempts = $3, updated_at = $4 WHERE message_id = $5",
    )
    .bind(state)
    .bind(error)
    .bind(attempts)
    .bind(now_ms())
    .bind(message_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Keeps the original of a sent message (the bytes that went to the relay).
pub async fn set_original(c: &mut Conn, message_id: i64, raw_sha256: &str) -> DbResult<()> {
    sqlx::query("UPDATE email_messages SET raw_sha256 = $1 WHERE message_id = $2")
        .bind(raw_sha256)
        .bind(message_id)
        .execute(c)
        .await?;
    Ok(())
}

/// The address the customer last wrote from in a conversation (their Reply-To when they gave one).
pub async fn last_received_from(c: &mut Conn, conversation_id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT from_address FROM email_messages WHERE conversation_id = $1 AND delivery_state = 'received' \
         ORDER BY message_id DESC LIMIT 1",
    )
    .bind(conversation_id)
    .fetch_optional(c)
    .await?)
}
