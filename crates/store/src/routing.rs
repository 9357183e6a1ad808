//! Agents' presence and capacity, inboxes' routing policies, the open work each agent holds and
//! the conversations waiting for an agent.

use citius_domain::conversation::{Channel, Priority};
use sqlx::Row;

use crate::{Conn, DbResult, parse_enum};

/// An agent's presence as stored; capacity stays JSON until the domain parses it.
#[derive(Debug, Clone)]
pub struct PresenceRow {
    pub user_id: i64,
    pub presence: String,
    pub capacity: serde_json::Value,
    pub last_seen_at: i64,
    pub last_assigned_at: i64,
    pub changed_at: i64,
    /// The calendar of the agent's working hours, if they have one.
    pub schedule_calendar_id: Option<i64>,
}

/// Gives an agent working hours (or takes them away). Agents without a presence yet get one,
/// offline with `capacity`.
pub async fn set_schedule(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    calendar_id: Option<i64>,
    capacity: &serde_json::Value,
) -> DbResult<()> {
    let now = crate::now_ms();
    sqlx::query(
        "INSERT INTO agent_presence (workspace_id, user_id, presence, capacity, last_seen_at, changed_at, schedule_calendar_id) \
         VALUES ($1, $2, 'offline', $3, $4, $4, $5) \
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET schedule_calendar_id = excluded.schedule_calendar_id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(capacity.to_string())
    .bind(now)
    .bind(calendar_id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn presences(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<PresenceRow>> {
    let rows = sqlx::query(
        "SELECT p.* FROM agent_presence p JOIN memberships m ON m.workspace_id = p.workspace_id AND m.user_id = p.user_id \
         WHERE p.workspace_id = $1 ORDER BY p.user_id",
    )
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PresenceRow {
                user_id: r.try_get("user_id")?,
                presence: r.try_get("presence")?,
                capacity: crate::parse_json(&r.try_get::<String, _>("capacity")?)?,
                last_seen_at: r.try_get("last_seen_at")?,
                last_assigned_at: r.try_get("last_assigned_at")?,
                changed_at: r.try_get("changed_at")?,
                schedule_calendar_id: r.try_get("schedule_calendar_id")?,
            })
        })
        .collect()
}

/// One agent's presence as stored, if they ever set one: a lookup by primary key.
pub async fn presence_of(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT presence FROM agent_presence WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(c)
    .await?)
}

/// Sets an agent's presence (and capacity, when given); returns the presence it had.
pub async fn set_presence(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    presence: &str,
    capacity: Option<&serde_json::Value>,
    default_capacity: &serde_json::Value,
    now: i64,
) -> DbResult<Option<String>> {
    let before: Option<String> = sqlx::query_scalar(
        "SELECT presence FROM agent_presence WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(&mut *c)
    .await?;
    let capacity = capacity.map(|v| v.to_string());
    if before.is_some() {
        sqlx::query(
            "UPDATE agent_presence SET presence = $1, capacity = COALESCE($2, capacity), last_seen_at = $3, \
             changed_at = CASE WHEN presence = $4 THEN changed_at ELSE $5 END WHERE workspace_id = $6 AND user_id = $7",
        )
        .bind(presence)
        .bind(capacity)
        .bind(now)
        .bind(presence)
        .bind(now)
        .bind(workspace_id)
        .bind(user_id)
        .execute(c)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO agent_presence (workspace_id, user_id, presence, capacity, last_seen_at, last_assigned_at, changed_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(presence)
        .bind(capacity.unwrap_or_else(|| default_capacity.to_string()))
        .bind(now)
        .bind(now)
        .execute(c)
        .await?;
    }
    Ok(before)
}

/// Records that an agent is still there (the workspace screen pings while open).
pub async fn touch(c: &mut Conn, workspace_id: i64, user_id: i64, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE agent_presence SET last_seen_at = $1 WHERE workspace_id = $2 AND user_id = $3",
    )
    .bind(now)
    .bind(workspace_id)
    .bind(user_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Workspaces where an online agent has been silent since `idle_before`.
pub async fn workspaces_with_idle_agents(c: &mut Conn, idle_before: i64) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT workspace_id FROM agent_presence WHERE presence = 'online' AND last_seen_at < $1",
    )
    .bind(idle_before)
    .fetch_all(c)
    .await?)
}

/// Online agents of a workspace silent since `idle_before` become away; returns who.
pub async fn auto_away(
    c: &mut Conn,
    workspace_id: i64,
    idle_before: i64,
    now: i64,
) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE agent_presence SET presence = 'away', changed_at = $1 \
         WHERE workspace_id = $2 AND presence = 'online' AND last_seen_at < $3 RETURNING user_id",
    )
    .bind(now)
    .bind(workspace_id)
    .bind(idle_before)
    .fetch_all(c)
    .await?)
}

pub async fn mark_assigned(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE agent_presence SET last_assigned_at = $1 WHERE workspace_id = $2 AND user_id = $3",
    )
    .bind(now)
    .bind(workspace_id)
    .bind(user_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Open conversations held by these agents, per channel: `(user, channel, count)`.
pub async fn open_load(
    c: &mut Conn,
    workspace_id: i64,
    user_ids: &[i64],
) -> DbResult<Vec<(i64, Channel, u32)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT assignee_id, channel, COUNT(*) AS n FROM conversations WHERE workspace_id = $1 \
         AND assignee_id IN ({}) AND status = 'open' GROUP BY assignee_id, channel",
        crate::id_list(user_ids)
    )))
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("assignee_id")?,
                parse_enum(Channel::parse(&r.try_get::<String, _>("channel")?))?,
                u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(u32::MAX),
            ))
        })
        .collect()
}

/// A routing policy as stored; rules stay JSON until the domain parses them.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub inbox_id: i64,
    pub strategy: String,
    pub team_id: Option<i64>,
    pub skill_rules: serde_json::Value,
    pub overflow_team_id: Option<i64>,
    pub overflow_after_secs: Option<i64>,
    pub updated_at: i64,
}

fn policy_row(r: &sqlx::any::AnyRow) -> DbResult<PolicyRow> {
    Ok(PolicyRow {
        inbox_id: r.try_get("inbox_id")?,
        strategy: r.try_get("strategy")?,
        team_id: r.try_get("team_id")?,
        skill_rules: crate::parse_json(&r.try_get::<String, _>("skill_rules")?)?,
        overflow_team_id: r.try_get("overflow_team_id")?,
        overflow_after_secs: r.try_get("overflow_after_secs")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn policies(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<PolicyRow>> {
    let rows =
        sqlx::query("SELECT * FROM routing_policies WHERE workspace_id = $1 ORDER BY inbox_id")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
    rows.iter().map(policy_row).collect()
}

/// The inboxes of a workspace that route their conversations: the ones whose waiting
/// conversations make up its queue.
pub async fn routed_inboxes(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT inbox_id FROM routing_policies WHERE workspace_id = $1 ORDER BY inbox_id",
    )
    .bind(workspace_id)
    .fetch_all(c)
    .await?)
}

pub async fn policy(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<Option<PolicyRow>> {
    let row =
        sqlx::query("SELECT * FROM routing_policies WHERE workspace_id = $1 AND inbox_id = $2")
            .bind(workspace_id)
            .bind(inbox_id)
            .fetch_optional(c)
            .await?;
    row.as_ref().map(policy_row).transpose()
}

pub async fn put_policy(c: &mut Conn, workspace_id: i64, p: &PolicyRow) -> DbResult<()> {
    sqlx::query("DELETE FROM routing_policies WHERE workspace_id = $1 AND inbox_id = $2")
        .bind(workspace_id)
        .bind(p.inbox_id)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO routing_policies (inbox_id, workspace_id, strategy, team_id, skill_rules, overflow_team_id, \
         overflow_after_secs, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.inbox_id)
    .bind(workspace_id)
    .bind(&p.strategy)
    .bind(p.team_id)
    .bind(p.skill_rules.to_string())
    .bind(p.overflow_team_id)
    .bind(p.overflow_after_secs)
    .bind(p.updated_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn delete_policy(c: &mut Conn, workspace_id: i64, inbox_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM routing_policies WHERE workspace_id = $1 AND inbox_id = $2")
        .bind(workspace_id)
        .bind(inbox_id)
        .execute(c)
        .await?;
    Ok(())
}

/// An open conversation with nobody assigned in an inbox that routes.
#[derive(Debug, Clone)]
pub struct WaitingRow {
    pub conversation_id: i64,
    pub inbox_id: i64,
    pub channel: Channel,
    pub team_id: Option<i64>,
    pub priority: Priority,
    pub created_at: i64,
    pub customer_attributes: serde_json::Value,
    pub tags: Vec<String>,
}

/// Routed inboxes read by one statement; SQLite takes at most 500 parts in a compound SELECT.
const INBOXES_PER_STATEMENT: usize = 100;

/// The oldest waiting conversations of the workspace's routed `inboxes`, at most `limit`.
pub async fn waiting(
    c: &mut Conn,
    workspace_id: i64,
    inboxes: &[i64],
    limit: i64,
) -> DbResult<Vec<WaitingRow>> {
    let mut list = Vec::new();
    for some in inboxes.chunks(INBOXES_PER_STATEMENT) {
        list.extend(oldest_waiting(c, workspace_id, some, limit).await?);
    }
    // Each statement's rows come oldest first; several statements' are merged here.
    list.sort_by_key(|w| (w.created_at, w.conversation_id));
    list.truncate(usize::try_from(limit).unwrap_or(0));
    if !list.is_empty() {
        let ids = crate::id_list(&list.iter().map(|w| w.conversation_id).collect::<Vec<_>>());
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT ct.conversation_id, t.name FROM conversation_tags ct JOIN tags t ON t.id = ct.tag_id \
             WHERE ct.conversation_id IN ({ids})"
        )))
        .fetch_all(c)
        .await?;
        for r in &rows {
            let id: i64 = r.try_get("conversation_id")?;
            if let Some(w) = list.iter_mut().find(|w| w.conversation_id == id) {
                w.tags.push(r.try_get("name")?);
            }
        }
    }
    Ok(list)
}

/// The oldest waiting conversations of `inboxes` (without their tags), at most `limit`. Each
/// inbox's oldest are read in order from the index of waiting conversations (migration 0021)
/// and merged: open unassigned conversations of inboxes that do not route, however many, are
/// never read.
async fn oldest_waiting(
    c: &mut Conn,
    workspace_id: i64,
    inboxes: &[i64],
    limit: i64,
) -> DbResult<Vec<WaitingRow>> {
    if inboxes.is_empty() {
        return Ok(Vec::new());
    }
    let per_inbox = (0..inboxes.len())
        .map(|i| {
            format!(
                "SELECT * FROM (SELECT id, inbox_id, channel, team_id, priority, created_at, customer_id \
                 FROM conversations WHERE workspace_id = $1 AND inbox_id = ${} \
                 AND assignee_id IS NULL AND status = 'open' ORDER BY created_at, id LIMIT $2) AS w{i}",
                i + 3
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!(
        "SELECT w.id, w.inbox_id, w.channel, w.team_id, w.priority, w.created_at, cu.attributes \
         FROM ({per_inbox}) AS w JOIN customers cu ON cu.id = w.customer_id \
         ORDER BY w.created_at, w.id LIMIT $2"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(workspace_id)
        .bind(limit);
    for inbox in inboxes {
        q = q.bind(*inbox);
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| {
            Ok(WaitingRow {
                conversation_id: r.try_get("id")?,
                inbox_id: r.try_get("inbox_id")?,
                channel: parse_enum(Channel::parse(&r.try_get::<String, _>("channel")?))?,
                team_id: r.try_get("team_id")?,
                priority: parse_enum(Priority::parse(&r.try_get::<String, _>("priority")?))?,
                created_at: r.try_get("created_at")?,
                customer_attributes: crate::parse_json(&r.try_get::<String, _>("attributes")?)?,
                tags: Vec::new(),
            })
        })
        .collect()
}

/// Workspaces with at least one routing policy: the ones the dispatcher visits.
pub async fn routed_workspaces(c: &mut Conn) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT workspace_id FROM routing_policies ORDER BY workspace_id",
    )
    .fetch_all(c)
    .await?)
}

/// Open conversations an agent holds in inboxes that route: what goes back to the queue when
/// they leave.
pub async fn routed_open_of(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT c.id FROM conversations c JOIN routing_policies p ON p.inbox_id = c.inbox_id \
         WHERE c.workspace_id = $1 AND c.assignee_id = $2 AND c.status = 'open' ORDER BY c.id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(c)
    .await?)
}

/// The first message of a conversation, for language detection.
pub async fn first_message_text(c: &mut Conn, conversation_id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT body_text FROM messages WHERE conversation_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(conversation_id)
    .fetch_optional(c)
    .await?)
}

/// The first message of each of these conversations, in one query (for language detection).
pub async fn first_messages(
    c: &mut Conn,
    conversation_ids: &[i64],
) -> DbResult<Vec<(i64, String)>> {
    if conversation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT conversation_id, body_text FROM messages WHERE id IN \
         (SELECT MIN(id) FROM messages WHERE conversation_id IN ({}) GROUP BY conversation_id)",
        crate::id_list(conversation_ids)
    )))
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("conversation_id")?, r.try_get("body_text")?)))
        .collect()
}

/// Gives a waiting conversation to an agent, only if it is still open and unassigned: when
/// two nodes route at once, one wins and the other moves on.
pub async fn claim(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    user_id: i64,
    team_id: Option<i64>,
    now: i64,
) -> DbResult<bool> {
    let n = sqlx::query(
        "UPDATE conversations SET assignee_id = $1, team_id = $2, updated_at = $3 \
         WHERE workspace_id = $4 AND id = $5 AND assignee_id IS NULL AND status = 'open'",
    )
    .bind(user_id)
    .bind(team_id)
    .bind(now)
    .bind(workspace_id)
    .bind(conversation_id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n == 1)
}
