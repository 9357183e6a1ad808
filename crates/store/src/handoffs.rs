//! Transfers with their context capsules, and the follow-ups agents owe customers.

use citius_domain::handoff::{Capsule, Fallback, FollowUpKind, TransferMode, TransferState};
use citius_domain::records::{FollowUp, HandoffReport, Transfer};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbError, DbResult, Found, from_ms, now_ms, parse_enum};

pub struct NewTransfer<'a> {
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub from_user_id: Option<i64>,
    pub to_user_id: Option<i64>,
    pub to_team_id: Option<i64>,
    pub mode: TransferMode,
    pub state: TransferState,
    pub fallback: Fallback,
    pub capsule: &'a Capsule,
    pub message_to_customer: Option<&'a str>,
    pub expires_at: Option<i64>,
}

fn transfer(r: &AnyRow) -> DbResult<Transfer> {
    let capsule: Capsule = serde_json::from_str(&r.try_get::<String, _>("capsule")?)
        .map_err(|e| DbError::Corrupt(format!("capsule: {e}")))?;
    Ok(Transfer {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        from_user_id: r.try_get("from_user_id")?,
        to_user_id: r.try_get("to_user_id")?,
        to_team_id: r.try_get("to_team_id")?,
        mode: parse_enum(TransferMode::parse(&r.try_get::<String, _>("mode")?))?,
        state: parse_enum(TransferState::parse(&r.try_get::<String, _>("state")?))?,
        fallback: parse_enum(Fallback::parse(&r.try_get::<String, _>("fallback")?))?,
        capsule,
        message_to_customer: r.try_get("message_to_customer")?,
        created_at: from_ms(r.try_get("created_at")?),
        expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(from_ms),
        decided_by: r.try_get("decided_by")?,
        decline_reason: r.try_get("decline_reason")?,
    })
}

pub async fn insert_transfer(c: &mut Conn, t: &NewTransfer<'_>) -> DbResult<Transfer> {
    let now = now_ms();
    let capsule =
        serde_json::to_string(t.capsule).map_err(|e| DbError::Corrupt(format!("capsule: {e}")))?;
    let decided = (t.state != TransferState::Offered).then_some(now);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO transfers (workspace_id, conversation_id, from_user_id, to_user_id, to_team_id, mode, state, \
         fallback, capsule, message_to_customer, created_at, expires_at, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(t.workspace_id)
    .bind(t.conversation_id)
    .bind(t.from_user_id)
    .bind(t.to_user_id)
    .bind(t.to_team_id)
    .bind(t.mode.as_str())
    .bind(t.state.as_str())
    .bind(t.fallback.as_str())
    .bind(capsule)
    .bind(t.message_to_customer)
    .bind(now)
    .bind(t.expires_at)
    .bind(decided)
    .fetch_one(&mut *c)
    .await?;
    transfer_by_id(c, t.workspace_id, id).await
}

pub async fn transfer_by_id(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Transfer> {
    let row = sqlx::query("SELECT * FROM transfers WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?
        .found()?;
    transfer(&row)
}

pub async fn transfers_of(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<Vec<Transfer>> {
    let rows = sqlx::query(
        "SELECT * FROM transfers WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY id",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(transfer).collect()
}

/// Warm offers waiting for this agent's answer (or for any member of their teams).
pub async fn offers_for(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<Vec<Transfer>> {
    let rows = sqlx::query(
        "SELECT * FROM transfers WHERE workspace_id = $1 AND state = 'offered' AND (to_user_id = $2 \
         OR (to_user_id IS NULL AND to_team_id IN (SELECT team_id FROM team_members WHERE user_id = $3))) ORDER BY id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(user_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(transfer).collect()
}

/// The conversation's offer still waiting for an answer, if any.
pub async fn open_offer(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<Option<Transfer>> {
    let row = sqlx::query(
        "SELECT * FROM transfers WHERE workspace_id = $1 AND conversation_id = $2 AND state = 'offered'",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(transfer).transpose()
}

/// Moves an open offer to its answer. Returns false when it was already answered, so two nodes
/// (or an answer racing the timeout) decide it once.
pub async fn decide(
    c: &mut Conn,
    workspace_id: i64,
    id: i64,
    state: TransferState,
    by: Option<i64>,
    reason: Option<&str>,
) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE transfers SET state = $1, decided_at = $2, decided_by = $3, decline_reason = $4 \
         WHERE workspace_id = $5 AND id = $6 AND state = 'offered'",
    )
    .bind(state.as_str())
    .bind(now_ms())
    .bind(by)
    .bind(reason)
    .bind(workspace_id)
    .bind(id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Handoff figures over transfers made since `since`.
pub async fn report(c: &mut Conn, workspace_id: i64, since: i64) -> DbResult<HandoffReport> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS transfers, COUNT(DISTINCT conversation_id) AS conversations, \
         SUM(CASE WHEN state = 'accepted' THEN 1 ELSE 0 END) AS accepted, \
         SUM(CASE WHEN state = 'declined' THEN 1 ELSE 0 END) AS declined, \
         SUM(CASE WHEN state = 'expired' THEN 1 ELSE 0 END) AS expired, \
         SUM(CASE WHEN state = 'offered' THEN 1 ELSE 0 END) AS waiting, \
         AVG(CASE WHEN mode = 'warm' AND state = 'accepted' THEN CAST(decided_at - created_at AS DOUBLE PRECISION) END) AS accept_ms \
         FROM transfers WHERE workspace_id = $1 AND created_at >= $2",
    )
    .bind(workspace_id)
    .bind(since)
    .fetch_one(&mut *c)
    .await?;
    let n = |k: &str| -> DbResult<i64> { Ok(r.try_get::<Option<i64>, _>(k)?.unwrap_or(0)) };
    let accept_ms: Option<f64> = r.try_get("accept_ms")?;
    let passes = sqlx::query(
        "SELECT SUM(CASE WHEN n >= 3 THEN 1 ELSE 0 END) AS three, \
         SUM(CASE WHEN resolved THEN 1 ELSE 0 END) AS resolved FROM ( \
           SELECT t.conversation_id, COUNT(*) AS n, MAX(CASE WHEN c.status IN ('resolved', 'closed') THEN 1 ELSE 0 END) = 1 AS resolved \
           FROM transfers t JOIN conversations c ON c.id = t.conversation_id \
           WHERE t.workspace_id = $1 AND t.created_at >= $2 AND t.state = 'accepted' GROUP BY t.conversation_id) x",
    )
    .bind(workspace_id)
    .bind(since)
    .fetch_one(c)
    .await?;
    let conversations = n("conversations")?;
    let transfers = n("transfers")?;
    Ok(HandoffReport {
        transfers,
        conversations_transferred: conversations,
        transfers_per_conversation: if conversations > 0 {
            transfers as f64 / conversations as f64
        } else {
            0.0
        },
        accepted: n("accepted")?,
        declined: n("declined")?,
        expired: n("expired")?,
        waiting: n("waiting")?,
        mean_secs_to_accept: accept_ms.map(|ms| ms / 1000.0),
        resolved_after_handoff: passes.try_get::<Option<i64>, _>("resolved")?.unwrap_or(0),
        passed_three_or_more: passes.try_get::<Option<i64>, _>("three")?.unwrap_or(0),
    })
}

fn follow_up(r: &AnyRow, now: i64) -> DbResult<FollowUp> {
    let due: Option<i64> = r.try_get("due_at")?;
    let done: Option<i64> = r.try_get("done_at")?;
    Ok(FollowUp {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        kind: parse_enum(FollowUpKind::parse(&r.try_get::<String, _>("kind")?))?,
        text: r.try_get("text")?,
        due_at: due.map(from_ms),
        created_by: r.try_get("created_by")?,
        created_at: from_ms(r.try_get("created_at")?),
        done_at: done.map(from_ms),
        done_by: r.try_get("done_by")?,
        overdue: done.is_none() && due.is_some_and(|d| d < now),
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_follow_up(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    kind: FollowUpKind,
    text: &str,
    due_at: Option<i64>,
    created_by: Option<i64>,
) -> DbResult<FollowUp> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO follow_ups (workspace_id, conversation_id, kind, text, due_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .bind(kind.as_str())
    .bind(text)
    .bind(due_at)
    .bind(created_by)
    .bind(now_ms())
    .fetch_one(&mut *c)
    .await?;
    follow_up_by_id(c, workspace_id, id).await
}

pub async fn follow_up_by_id(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<FollowUp> {
    let row = sqlx::query("SELECT * FROM follow_ups WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?
        .found()?;
    follow_up(&row, now_ms())
}

pub async fn follow_ups_of(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<Vec<FollowUp>> {
    let rows = sqlx::query(
        "SELECT * FROM follow_ups WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY id",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    let now = now_ms();
    rows.iter().map(|r| follow_up(r, now)).collect()
}

/// Open follow-ups on conversations assigned to this agent (or created by them), soonest due first.
pub async fn open_follow_ups_of_agent(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
) -> DbResult<Vec<FollowUp>> {
    let rows = sqlx::query(
        "SELECT f.* FROM follow_ups f JOIN conversations c ON c.id = f.conversation_id \
         WHERE f.workspace_id = $1 AND f.done_at IS NULL AND (c.assignee_id = $2 OR (c.assignee_id IS NULL AND f.created_by = $3)) \
         ORDER BY CASE WHEN f.due_at IS NULL THEN 1 ELSE 0 END, f.due_at, f.id LIMIT 200",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(user_id)
    .fetch_all(c)
    .await?;
    let now = now_ms();
    rows.iter().map(|r| follow_up(r, now)).collect()
}

/// Marks a follow-up done; false when it already was.
pub async fn complete_follow_up(
    c: &mut Conn,
    workspace_id: i64,
    id: i64,
    by: i64,
) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE follow_ups SET done_at = $1, done_by = $2 WHERE workspace_id = $3 AND id = $4 AND done_at IS NULL",
    )
    .bind(now_ms())
    .bind(by)
    .bind(workspace_id)
    .bind(id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Open "update the customer" tasks of a conversation: resolving waits for them.
pub async fn open_updates_owed(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM follow_ups WHERE workspace_id = $1 AND conversation_id = $2 \
         AND kind = 'update_customer' AND done_at IS NULL",
    )
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_one(c)
    .await?)
}

/// Marks the open "update the customer" tasks of a conversation done (a reply was sent);
/// returns them.
pub async fn complete_updates_owed(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    by: i64,
) -> DbResult<Vec<FollowUp>> {
    let rows = sqlx::query(
        "UPDATE follow_ups SET done_at = $1, done_by = $2 WHERE workspace_id = $3 AND conversation_id = $4 \
         AND kind = 'update_customer' AND done_at IS NULL RETURNING *",
    )
    .bind(now_ms())
    .bind(by)
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    let now = now_ms();
    rows.iter().map(|r| follow_up(r, now)).collect()
}
