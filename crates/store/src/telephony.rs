//! SMS, WhatsApp and voice bookkeeping: the provider account of an inbox, the text details of
//! messages (provider id, delivery state), and phone calls.

use citius_domain::records::{Call, ProviderAccount, TextDetails};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, Found, from_ms, now_ms};

/// The provider account with its secret, for signing checks and sending. Never serialised.
#[derive(Clone)]
pub struct Credentials {
    pub account_sid: String,
    pub auth_token: String,
    pub api_base: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("account_sid", &self.account_sid)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

pub async fn put_account(
    c: &mut Conn,
    workspace_id: i64,
    inbox_id: i64,
    account_sid: &str,
    auth_token: Option<&str>,
    api_base: &str,
) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO provider_accounts (inbox_id, workspace_id, account_sid, auth_token, api_base, created_at, updated_at) \
         VALUES ($1, $2, $3, COALESCE($4, ''), $5, $6, $6) ON CONFLICT (inbox_id) DO UPDATE SET \
         account_sid = excluded.account_sid, auth_token = COALESCE($4, provider_accounts.auth_token), \
         api_base = excluded.api_base, updated_at = excluded.updated_at",
    )
    .bind(inbox_id)
    .bind(workspace_id)
    .bind(account_sid)
    .bind(auth_token)
    .bind(api_base)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

fn account_row(r: &AnyRow) -> DbResult<ProviderAccount> {
    Ok(ProviderAccount {
        inbox_id: r.try_get("inbox_id")?,
        account_sid: r.try_get("account_sid")?,
        api_base: r.try_get("api_base")?,
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

pub async fn account(
    c: &mut Conn,
    workspace_id: i64,
    inbox_id: i64,
) -> DbResult<Option<ProviderAccount>> {
    let r =
        sqlx::query("SELECT * FROM provider_accounts WHERE workspace_id = $1 AND inbox_id = $2")
            .bind(workspace_id)
            .bind(inbox_id)
            .fetch_optional(c)
            .await?;
    r.as_ref().map(account_row).transpose()
}

pub async fn accounts(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<ProviderAccount>> {
    let rows =
        sqlx::query("SELECT * FROM provider_accounts WHERE workspace_id = $1 ORDER BY inbox_id")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
    rows.iter().map(account_row).collect()
}

/// The credentials of an inbox's account, found by inbox alone (webhooks name only the inbox).
pub async fn credentials(c: &mut Conn, inbox_id: i64) -> DbResult<Option<(i64, Credentials)>> {
    let r = sqlx::query("SELECT workspace_id, account_sid, auth_token, api_base FROM provider_accounts WHERE inbox_id = $1")
        .bind(inbox_id)
        .fetch_optional(c)
        .await?;
    r.map(|r| {
        Ok((
            r.try_get("workspace_id")?,
            Credentials {
                account_sid: r.try_get("account_sid")?,
                auth_token: r.try_get("auth_token")?,
                api_base: r.try_get("api_base")?,
            },
        ))
    })
    .transpose()
}

pub async fn delete_account(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<bool> {
    let n = sqlx::query("DELETE FROM provider_accounts WHERE workspace_id = $1 AND inbox_id = $2")
        .bind(workspace_id)
        .bind(inbox_id)
        .execute(c)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// The message a provider id already became, if the webhook came before.
pub async fn message_by_sid(
    c: &mut Conn,
    inbox_id: i64,
    sid: &str,
) -> DbResult<Option<(i64, i64)>> {
    let r = sqlx::query(
        "SELECT message_id, conversation_id FROM text_messages WHERE inbox_id = $1 AND sid = $2",
    )
    .bind(inbox_id)
    .bind(sid)
    .fetch_optional(c)
    .await?;
    r.map(|r| Ok((r.try_get("message_id")?, r.try_get("conversation_id")?)))
        .transpose()
}

pub struct NewText<'a> {
    pub message_id: i64,
    pub workspace_id: i64,
    pub inbox_id: i64,
    pub conversation_id: i64,
    pub sid: Option<&'a str>,
    pub customer_address: &'a str,
    pub delivery_state: &'a str,
    pub delivery_error: Option<&'a str>,
}

pub async fn insert_text(c: &mut Conn, t: &NewText<'_>) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO text_messages (message_id, workspace_id, inbox_id, conversation_id, sid, customer_address, \
         delivery_state, delivery_error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(t.message_id)
    .bind(t.workspace_id)
    .bind(t.inbox_id)
    .bind(t.conversation_id)
    .bind(t.sid)
    .bind(t.customer_address)
    .bind(t.delivery_state)
    .bind(t.delivery_error)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

fn details_row(r: &AnyRow) -> DbResult<TextDetails> {
    Ok(TextDetails {
        sid: r.try_get("sid")?,
        customer_address: r.try_get("customer_address")?,
        delivery_state: r.try_get("delivery_state")?,
        delivery_error: r.try_get("delivery_error")?,
        attempts: r.try_get("attempts")?,
    })
}

/// Text details of a conversation's messages with ids in `first..=last`.
pub async fn details_between(
    c: &mut Conn,
    conversation_id: i64,
    first: i64,
    last: i64,
) -> DbResult<Vec<(i64, TextDetails)>> {
    let rows = sqlx::query(
        "SELECT * FROM text_messages WHERE conversation_id = $1 AND message_id BETWEEN $2 AND $3",
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

fn row_lock(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => " FOR UPDATE",
        crate::Backend::Sqlite => "",
    }
}

/// A text message with its inbox and conversation.
pub async fn text(c: &mut Conn, message_id: i64) -> DbResult<(i64, i64, i64, TextDetails)> {
    text_row(c, message_id, "").await
}

/// [`text`], locked until the transaction ends on PostgreSQL, as [`call_by_sid`] is.
pub async fn text_locked(
    c: &mut Conn,
    backend: crate::Backend,
    message_id: i64,
) -> DbResult<(i64, i64, i64, TextDetails)> {
    text_row(c, message_id, row_lock(backend)).await
}

async fn text_row(
    c: &mut Conn,
    message_id: i64,
    lock: &str,
) -> DbResult<(i64, i64, i64, TextDetails)> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM text_messages WHERE message_id = $1{lock}"
    )))
    .bind(message_id)
    .fetch_optional(c)
    .await?
    .found()?;
    Ok((
        r.try_get("workspace_id")?,
        r.try_get("inbox_id")?,
        r.try_get("conversation_id")?,
        details_row(&r)?,
    ))
}

pub async fn set_delivery(
    c: &mut Conn,
    message_id: i64,
    sid: Option<&str>,
    state: &str,
    error: Option<&str>,
    attempts: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE text_messages SET sid = COALESCE($1, sid), delivery_state = $2, delivery_error = $3, \
         attempts = $4, updated_at = $5 WHERE message_id = $6",
    )
    .bind(sid)
    .bind(state)
    .bind(error)
    .bind(attempts)
    .bind(now_ms())
    .bind(message_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Where the customer last wrote from in a conversation (replies go there).
pub async fn last_customer_address(c: &mut Conn, conversation_id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT customer_address FROM text_messages WHERE conversation_id = $1 AND delivery_state = 'received' \
         ORDER BY message_id DESC LIMIT 1",
    )
    .bind(conversation_id)
    .fetch_optional(c)
    .await?)
}

/// The customer's open conversation in an inbox, newest first, if there is one.
pub async fn open_conversation(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
    inbox_id: i64,
) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM conversations WHERE customer_id = $1 AND inbox_id = $2 AND status <> 'closed' \
         AND workspace_id = $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(customer_id)
    .bind(inbox_id)
    .bind(workspace_id)
    .fetch_optional(c)
    .await?)
}

fn call_row(r: &AnyRow) -> DbResult<Call> {
    Ok(Call {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        inbox_id: r.try_get("inbox_id")?,
        outbound: r.try_get::<i64, _>("outbound")? != 0,
        customer_number: r.try_get("customer_number")?,
        our_number: r.try_get("our_number")?,
        phase: r.try_get("phase")?,
        provider_status: r.try_get("provider_status")?,
        duration_secs: r.try_get("duration_secs")?,
        recording_url: r.try_get("recording_url")?,
        recording_secs: r.try_get("recording_secs")?,
        transferred_to: r.try_get("transferred_to")?,
        started_at: from_ms(r.try_get("started_at")?),
        answered_at: r.try_get::<Option<i64>, _>("answered_at")?.map(from_ms),
        ended_at: r.try_get::<Option<i64>, _>("ended_at")?.map(from_ms),
    })
}

/// A call by the provider's id, locked until the transaction ends on PostgreSQL (reports of
/// one call arrive together at hang-up; SQLite has one writer anyway).
pub async fn call_by_sid(
    c: &mut Conn,
    backend: crate::Backend,
    inbox_id: i64,
    sid: &str,
) -> DbResult<Option<Call>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM calls WHERE inbox_id = $1 AND sid = $2{}",
        row_lock(backend)
    )))
    .bind(inbox_id)
    .bind(sid)
    .fetch_optional(c)
    .await?;
    r.as_ref().map(call_row).transpose()
}

pub struct NewCall<'a> {
    pub workspace_id: i64,
    pub inbox_id: i64,
    pub conversation_id: i64,
    pub sid: &'a str,
    pub outbound: bool,
    pub customer_number: &'a str,
    pub our_number: &'a str,
    pub phase: &'a str,
    pub provider_status: &'a str,
}

pub async fn insert_call(c: &mut Conn, n: &NewCall<'_>) -> DbResult<Call> {
    let now = now_ms();
    let r = sqlx::query(
        "INSERT INTO calls (workspace_id, inbox_id, conversation_id, sid, outbound, customer_number, our_number, \
         phase, provider_status, started_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING *",
    )
    .bind(n.workspace_id)
    .bind(n.inbox_id)
    .bind(n.conversation_id)
    .bind(n.sid)
    .bind(i64::from(n.outbound))
    .bind(n.customer_number)
    .bind(n.our_number)
    .bind(n.phase)
    .bind(n.provider_status)
    .bind(now)
    .fetch_one(c)
    .await?;
    call_row(&r)
}

/// Writes a call's new state (the caller decided what changed).
pub async fn update_call(c: &mut Conn, call: &Call) -> DbResult<()> {
    sqlx::query(
        "UPDATE calls SET phase = $1, provider_status = $2, duration_secs = $3, recording_url = $4, \
         recording_secs = $5, transferred_to = $6, answered_at = $7, ended_at = $8, updated_at = $9 WHERE id = $10",
    )
    .bind(&call.phase)
    .bind(&call.provider_status)
    .bind(call.duration_secs)
    .bind(call.recording_url.as_deref())
    .bind(call.recording_secs)
    .bind(call.transferred_to.as_deref())
    .bind(call.answered_at.map(|t| t.as_millisecond()))
    .bind(call.ended_at.map(|t| t.as_millisecond()))
    .bind(now_ms())
    .bind(call.id)
    .execute(c)
    .await?;
    Ok(())
}

/// The calls of a conversation, oldest first.
pub async fn calls_of(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<Vec<Call>> {
    let rows = sqlx::query(
        "SELECT * FROM calls WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY id",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(call_row).collect()
}
