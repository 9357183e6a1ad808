//! Conversations, their messages, tags and the append-only event log.

use citius_domain::conversation::{Channel, MessageKind, Priority, Sort, Status};
use citius_domain::event::EventKind;
use citius_domain::paging::{Cursor, Page, PageRequest};
use citius_domain::records::{Attachment, Conversation, Event, Message, Tag};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::script::Script;
use crate::sql::Sql;
use crate::{Conn, DbError, DbResult, Found, from_ms, now_ms, parse_enum, parse_json};

pub struct NewConversation<'a> {
    pub workspace_id: i64,
    pub customer_id: i64,
    pub channel: Channel,
    pub inbox_id: Option<i64>,
    pub priority: Priority,
    pub subject: &'a str,
    pub custom_fields: &'a serde_json::Value,
}

/// The first message of a new conversation; the conversation's id is not known yet.
pub struct FirstMessage<'a> {
    pub kind: MessageKind,
    pub author_user_id: Option<i64>,
    pub author_customer_id: Option<i64>,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

/// New conversations of the script's workspace with their first messages, under reserved ids
/// (see [`crate::script::reserve`]): (conversation id, message id, conversation, message).
pub fn stage_with_first_message(
    s: &mut Script,
    new: &[(i64, i64, &NewConversation<'_>, &FirstMessage<'_>)],
) {
    s.insert(
        "conversations (id, customer_id, channel, inbox_id, priority, subject, custom_fields, \
         workspace_id, status, message_count, created_at, updated_at)",
        new,
        7,
        |p| format!("({p}, $1, 'open', 1, $2, $2)"),
        |r, (id, _, n, _)| {
            r.bind(*id)
                .bind(n.customer_id)
                .bind(n.channel.as_str())
                .bind(n.inbox_id)
                .bind(n.priority.as_str())
                .bind(n.subject)
                .bind(n.custom_fields.to_string());
        },
    );
    s.insert(
        "messages (id, conversation_id, kind, author_user_id, author_customer_id, body_text, \
         body_html, workspace_id, created_at)",
        new,
        7,
        |p| format!("({p}, $1, $2)"),
        |r, (conversation_id, id, _, m)| {
            r.bind(*id)
                .bind(*conversation_id)
                .bind(m.kind.as_str())
                .bind(m.author_user_id)
                .bind(m.author_customer_id)
                .bind(m.body_text)
                .bind(m.body_html);
        },
    );
}

const SELECT: &str = "SELECT c.*, cu.name AS customer_name FROM conversations c JOIN customers cu ON cu.id = c.customer_id";

fn conversation(r: &AnyRow) -> DbResult<Conversation> {
    Ok(Conversation {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        customer_name: r.try_get("customer_name")?,
        channel: parse_enum(Channel::parse(&r.try_get::<String, _>("channel")?))?,
        inbox_id: r.try_get("inbox_id")?,
        status: parse_enum(Status::parse(&r.try_get::<String, _>("status")?))?,
        priority: parse_enum(Priority::parse(&r.try_get::<String, _>("priority")?))?,
        assignee_id: r.try_get("assignee_id")?,
        team_id: r.try_get("team_id")?,
        subject: r.try_get("subject")?,
        tags: Vec::new(),
        custom_fields: parse_json(&r.try_get::<String, _>("custom_fields")?)?,
        snoozed_until: r.try_get::<Option<i64>, _>("snoozed_until")?.map(from_ms),
        message_count: r.try_get("message_count")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

/// Fills in tags for a page of conversations with one query.
async fn with_tags(c: &mut Conn, mut list: Vec<Conversation>) -> DbResult<Vec<Conversation>> {
    if list.is_empty() {
        return Ok(list);
    }
    let ids = crate::id_list(&list.iter().map(|c| c.id).collect::<Vec<_>>());
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT ct.conversation_id, t.name FROM conversation_tags ct JOIN tags t ON t.id = ct.tag_id \
         WHERE ct.conversation_id IN ({}) ORDER BY t.name",
        ids
    )))
    .fetch_all(c)
    .await?;
    for r in &rows {
        let cid: i64 = r.try_get("conversation_id")?;
        if let Some(conv) = list.iter_mut().find(|c| c.id == cid) {
            conv.tags.push(r.try_get("name")?);
        }
    }
    Ok(list)
}

pub async fn get(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Conversation> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE c.id = $1 AND c.workspace_id = $2"
    )))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&mut *c)
    .await?
    .found()?;
    with_tags(c, vec![conversation(&r)?]).await?.pop().found()
}

/// A conversation known to have no tags (one just created without any): one query, not two.
pub async fn get_untagged(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Conversation> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE c.id = $1 AND c.workspace_id = $2"
    )))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(c)
    .await?
    .found()?;
    conversation(&r)
}

/// The record of a conversation just stored by [`stage_with_first_message`], as that
/// insert wrote it: open, one message, no tags, assignee or team, last active `now`.
pub fn just_made(
    n: &NewConversation<'_>,
    id: i64,
    customer_name: String,
    now: i64,
) -> Conversation {
    Conversation {
        id,
        customer_id: n.customer_id,
        customer_name,
        channel: n.channel,
        inbox_id: n.inbox_id,
        status: Status::Open,
        priority: n.priority,
        assignee_id: None,
        team_id: None,
        subject: n.subject.to_string(),
        tags: Vec::new(),
        custom_fields: n.custom_fields.clone(),
        snoozed_until: None,
        message_count: 1,
        created_at: from_ms(now),
        updated_at: from_ms(now),
    }
}

pub async fn get_many(c: &mut Conn, workspace_id: i64, ids: &[i64]) -> DbResult<Vec<Conversation>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::id_list(ids);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE c.workspace_id = $1 AND c.id IN ({}) ORDER BY c.updated_at DESC, c.id DESC",
        list
    )))
    .bind(workspace_id)
    .fetch_all(&mut *c)
    .await?;
    let found = rows
        .iter()
        .map(conversation)
        .collect::<DbResult<Vec<_>>>()?;
    with_tags(c, found).await
}

/// Who a list is filtered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    User(i64),
    Unassigned,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub statuses: Vec<Status>,
    pub assignee: Option<AssigneeFilter>,
    pub team_id: Option<i64>,
    pub tag: Option<String>,
    pub channel: Option<Channel>,
    pub inbox_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    pub sort: Sort,
}

/// A page of conversations in order of last activity (latest or oldest first). Every filter
/// narrows an indexed range, which either order walks from its end. A tag filter walks the
/// tag's own entries, which carry their conversation's last activity, and checks the rest on
/// each conversation.
pub async fn list(
    c: &mut Conn,
    workspace_id: i64,
    f: &Filter,
    page: PageRequest,
) -> DbResult<Page<Conversation>> {
    // A tag is walked in its own entries, unless another filter narrows the list to one
    // agent's, team's, inbox's or customer's conversations: then that filter's range is walked
    // and the tag checked on each (a common tag beside one agent's filter would read most of
    // the tag's entries before a page is full).
    let narrowed = matches!(f.assignee, Some(AssigneeFilter::User(_)))
        || f.team_id.is_some()
        || f.inbox_id.is_some()
        || f.customer_id.is_some();
    // The columns that order and bound the page.
    let (mut q, key, id) = match &f.tag {
        Some(tag) if !narrowed => {
            let mut q = Sql::new(
                "SELECT c.*, cu.name AS customer_name FROM conversation_tags ct \
                 JOIN conversations c ON c.id = ct.conversation_id \
                 JOIN customers cu ON cu.id = c.customer_id WHERE ct.tag_id = ",
            );
            tag_id_subquery(&mut q, workspace_id, tag).push(" AND");
            (q, "ct.conversation_updated_at", "ct.conversation_id")
        }
        _ => (Sql::new(&format!("{SELECT} WHERE")), "c.updated_at", "c.id"),
    };
    q.push(" c.workspace_id = ").int(workspace_id);
    if let (Some(tag), true) = (&f.tag, narrowed) {
        q.push(
            " AND EXISTS (SELECT 1 FROM conversation_tags ct WHERE ct.conversation_id = c.id \
             AND ct.tag_id = ",
        );
        tag_id_subquery(&mut q, workspace_id, tag).push(")");
    }
    match f.statuses.as_slice() {
        [] => {}
        [one] => {
            q.push(" AND c.status = ").text(one.as_str());
        }
        several => {
            // Written as an expression so no index on status is chosen: merging several status
            // ranges means sorting them all, while walking the newest rows and checking the
            // status stops after a page.
            q.push(" AND (c.status || '') IN (");
            for (i, s) in several.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.text(s.as_str());
            }
            q.push(")");
        }
    }
    match f.assignee {
        Some(AssigneeFilter::User(u)) => {
            q.push(" AND c.assignee_id = ").int(u);
        }
        Some(AssigneeFilter::Unassigned) => {
            q.push(" AND c.assignee_id IS NULL");
        }
        None => {}
    }
    if let Some(t) = f.team_id {
        q.push(" AND c.team_id = ").int(t);
    }
    if let Some(ch) = f.channel {
        q.push(" AND c.channel = ").text(ch.as_str());
    }
    if let Some(i) = f.inbox_id {
        q.push(" AND c.inbox_id = ").int(i);
    }
    if let Some(cu) = f.customer_id {
        q.push(" AND c.customer_id = ").int(cu);
    }
    if let Some(v) = f.created_after {
        q.push(" AND c.created_at >= ").int(v);
    }
    if let Some(v) = f.created_before {
        q.push(" AND c.created_at < ").int(v);
    }
    if let Some(v) = f.updated_after {
        q.push(" AND ").push(key).push(" >= ").int(v);
    }
    if let Some(v) = f.updated_before {
        q.push(" AND ").push(key).push(" < ").int(v);
    }
    let (bound, beyond, order) = match f.sort {
        Sort::Latest => ("<=", "<", "DESC"),
        Sort::Oldest => (">=", ">", "ASC"),
    };
    if let Some(after) = page.after {
        // The first condition bounds the index range; the second breaks ties.
        q.push(" AND ")
            .push(key)
            .push(" ")
            .push(bound)
            .push(" ")
            .int(after.key);
        q.push(" AND (")
            .push(key)
            .push(" ")
            .push(beyond)
            .push(" ")
            .int(after.key);
        q.push(" OR ")
            .push(id)
            .push(" ")
            .push(beyond)
            .push(" ")
            .int(after.id)
            .push(")");
    }
    q.push(" ORDER BY ")
        .push(key)
        .push(" ")
        .push(order)
        .push(", ")
        .push(id)
        .push(" ")
        .push(order)
        .push(" LIMIT ")
        .int(i64::from(page.limit) + 1);
    let rows = q.query().fetch_all(&mut *c).await?;
    let found = rows
        .iter()
        .map(conversation)
        .collect::<DbResult<Vec<_>>>()?;
    let found = with_tags(c, found).await?;
    Ok(Page::from_overfetch(found, page.limit, |c| Cursor {
        key: c.updated_at.as_millisecond(),
        id: c.id,
    }))
}

/// The id of the workspace's tag by that name, as a subquery (none when there is no such tag,
/// which matches nothing).
fn tag_id_subquery<'q>(q: &'q mut Sql, workspace_id: i64, tag: &str) -> &'q mut Sql {
    q.push("(SELECT t.id FROM tags t WHERE t.workspace_id = ")
        .int(workspace_id)
        .push(" AND t.name = ")
        .text(tag)
        .push(")")
}

/// Counts per status for one workspace (inbox badges).
pub async fn count_by_status(
    c: &mut Conn,
    workspace_id: i64,
    assignee: Option<AssigneeFilter>,
) -> DbResult<Vec<(Status, i64)>> {
    let mut q = Sql::new("SELECT status, COUNT(*) AS n FROM conversations WHERE workspace_id = ");
    q.int(workspace_id);
    match assignee {
        Some(AssigneeFilter::User(u)) => {
            q.push(" AND assignee_id = ").int(u);
        }
        Some(AssigneeFilter::Unassigned) => {
            q.push(" AND assignee_id IS NULL");
        }
        None => {}
    }
    q.push(" GROUP BY status");
    let rows = q.query().fetch_all(c).await?;
    rows.iter()
        .map(|r| {
            Ok((
                parse_enum(Status::parse(&r.try_get::<String, _>("status")?))?,
                r.try_get("n")?,
            ))
        })
        .collect()
}

/// Counts stop here: the sidebar shows "999+" rather than reading every waiting conversation.
pub const COUNT_CAP: i64 = 1000;

/// What an inbox's sidebar counts, as its views show them: conversations waiting on the team
/// (open or pending: all, the caller's, nobody's) and snoozed ones, each up to [`COUNT_CAP`].
/// Each count reads at most that many entries of a covering index (status, or the routing
/// load index on assignee and status), however many conversations there are.
pub async fn count_open(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<[i64; 4]> {
    let mut out = [0_i64; 4];
    for (i, filter) in [
        "status IN ('open', 'pending')",
        "assignee_id = $2 AND status IN ('open', 'pending')",
        "assignee_id IS NULL AND status IN ('open', 'pending')",
        "status = 'snoozed'",
    ]
    .into_iter()
    .enumerate()
    {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM conversations WHERE workspace_id = $1 AND {filter} LIMIT {COUNT_CAP}) t"
        );
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(workspace_id);
        if filter.contains("$2") {
            q = q.bind(user_id);
        }
        out[i] = q.fetch_one(&mut *c).await?;
    }
    Ok(out)
}

/// The fields a use case may change on a conversation; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct Changes {
    pub status: Option<Status>,
    /// `Some(None)` clears the snooze time.
    pub snoozed_until: Option<Option<i64>>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Option<i64>>,
    pub team_id: Option<Option<i64>>,
    pub subject: Option<String>,
    pub custom_fields: Option<serde_json::Value>,
    pub customer_id: Option<i64>,
}

pub async fn apply(c: &mut Conn, workspace_id: i64, id: i64, ch: &Changes) -> DbResult<()> {
    let mut q = Sql::new("UPDATE conversations SET updated_at = ");
    q.int(now_ms());
    if let Some(s) = ch.status {
        q.push(", status = ").text(s.as_str());
    }
    if let Some(s) = ch.snoozed_until {
        match s {
            Some(t) => q.push(", snoozed_until = ").int(t),
            None => q.push(", snoozed_until = NULL"),
        };
    }
    if let Some(p) = ch.priority {
        q.push(", priority = ").text(p.as_str());
    }
    if let Some(a) = ch.assignee_id {
        match a {
            Some(u) => q.push(", assignee_id = ").int(u),
            None => q.push(", assignee_id = NULL"),
        };
    }
    if let Some(t) = ch.team_id {
        match t {
            Some(t) => q.push(", team_id = ").int(t),
            None => q.push(", team_id = NULL"),
        };
    }
    if let Some(s) = &ch.subject {
        q.push(", subject = ").text(s);
    }
    if let Some(f) = &ch.custom_fields {
        q.push(", custom_fields = ").text(&f.to_string());
    }
    if let Some(cu) = ch.customer_id {
        q.push(", customer_id = ").int(cu);
    }
    q.push(" WHERE id = ")
        .int(id)
        .push(" AND workspace_id = ")
        .int(workspace_id);
    if q.query().execute(c).await?.rows_affected() == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Unassigns every conversation of a user in one statement; returns their ids.
pub async fn unassign_user(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar("UPDATE conversations SET assignee_id = NULL, updated_at = $1 WHERE workspace_id = $2 AND assignee_id = $3 RETURNING id")
        .bind(now_ms())
        .bind(workspace_id)
        .bind(user_id)
        .fetch_all(c)
        .await?)
}

/// Conversations whose snooze has run out (the job queue wakes them; this is the safety net).
pub async fn due_snoozes(c: &mut Conn, now: i64, limit: i64) -> DbResult<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT workspace_id, id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= $1 ORDER BY snoozed_until LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("workspace_id")?, r.try_get("id")?)))
        .collect()
}

/// Deletes conversations with everything that hangs off them: messages, attachments' links,
/// tags, events and search documents. Set-based: a handful of statements for any number.
pub async fn delete_many(
    c: &mut Conn,
    backend: crate::Backend,
    workspace_id: i64,
    ids: &[i64],
) -> DbResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // Ids come from our own queries; inlining keeps one statement per table.
    let list = crate::id_list(ids);
    let search_table = match backend {
        crate::Backend::Sqlite => "search_fts WHERE rowid",
        crate::Backend::Postgres => "search_documents WHERE id",
    };
    let statements = [
        format!(
            "DELETE FROM {search_table} IN (SELECT id * 4 + 1 FROM messages WHERE conversation_id IN ({list}))"
        ),
        format!(
            "DELETE FROM {search_table} IN (SELECT id * 4 FROM conversations WHERE id IN ({list}))"
        ),
        format!(
            "DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE conversation_id IN ({list}))"
        ),
        format!("DELETE FROM email_messages WHERE conversation_id IN ({list})"),
        format!("DELETE FROM text_messages WHERE conversation_id IN ({list})"),
        format!("DELETE FROM calls WHERE conversation_id IN ({list})"),
        format!("DELETE FROM mentions WHERE conversation_id IN ({list})"),
        format!(
            "UPDATE chat_visitors SET conversation_id = NULL WHERE conversation_id IN ({list})"
        ),
        // The record of received mail stays (it spots redeliveries); its links and original go.
        format!(
            "UPDATE inbound_mail SET conversation_id = NULL, message_id = NULL, raw_sha256 = NULL WHERE conversation_id IN ({list})"
        ),
        format!("DELETE FROM messages WHERE conversation_id IN ({list})"),
        format!("DELETE FROM conversation_tags WHERE conversation_id IN ({list})"),
        format!("DELETE FROM events WHERE conversation_id IN ({list})"),
        format!("DELETE FROM transfers WHERE conversation_id IN ({list})"),
        format!("DELETE FROM follow_ups WHERE conversation_id IN ({list})"),
        format!("DELETE FROM conversation_activity WHERE conversation_id IN ({list})"),
        format!("DELETE FROM sla_clocks WHERE conversation_id IN ({list})"),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *c)
            .await?;
    }
    let n = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM conversations WHERE workspace_id = $1 AND id IN ({list})"
    )))
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Ids of a customer's conversations.
pub async fn ids_of_customer(
    c: &mut Conn,
    workspace_id: i64,
    customer_id: i64,
) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND customer_id = $2",
    )
    .bind(workspace_id)
    .bind(customer_id)
    .fetch_all(c)
    .await?)
}

/// Forgets attachment contents no message refers to any more.
pub async fn purge_orphan_blobs(c: &mut Conn) -> DbResult<u64> {
    Ok(sqlx::query("DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = blobs.sha256) \
         AND NOT EXISTS (SELECT 1 FROM email_messages e WHERE e.raw_sha256 = blobs.sha256) \
         AND NOT EXISTS (SELECT 1 FROM inbound_mail i WHERE i.raw_sha256 = blobs.sha256)")
        .execute(c)
        .await?
        .rows_affected())
}

// ---- Tags -------------------------------------------------------------------------------

/// The tag's id, creating it on first use.
pub async fn ensure_tag(c: &mut Conn, workspace_id: i64, name: &str) -> DbResult<i64> {
    sqlx::query("INSERT INTO tags (workspace_id, name) VALUES ($1, $2) ON CONFLICT (workspace_id, name) DO NOTHING")
        .bind(workspace_id)
        .bind(name)
        .execute(&mut *c)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM tags WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name)
            .fetch_one(c)
            .await?,
    )
}

/// Adds a tag; false if it was already there.
pub async fn add_tag(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    name: &str,
) -> DbResult<bool> {
    let tag_id = ensure_tag(c, workspace_id, name).await?;
    let n = sqlx::query(
        "INSERT INTO conversation_tags (conversation_id, tag_id, conversation_updated_at) \
         SELECT id, $1, updated_at FROM conversations WHERE id = $2 AND workspace_id = $3 \
         ON CONFLICT DO NOTHING",
    )
    .bind(tag_id)
    .bind(conversation_id)
    .bind(workspace_id)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Removes a tag; false if it was not there.
pub async fn remove_tag(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    name: &str,
) -> DbResult<bool> {
    let n = sqlx::query(
        "DELETE FROM conversation_tags WHERE conversation_id = $1 AND tag_id IN (SELECT id FROM tags WHERE workspace_id = $2 AND name = $3)",
    )
    .bind(conversation_id)
    .bind(workspace_id)
    .bind(name)
    .execute(c)
    .await?
    .rows_affected();
    Ok(n > 0)
}

pub async fn tags(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<Tag>> {
    let rows =
        sqlx::query("SELECT id, name FROM tags WHERE workspace_id = $1 ORDER BY name LIMIT 1000")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Tag {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

pub async fn delete_tag(c: &mut Conn, workspace_id: i64, tag_id: i64) -> DbResult<String> {
    let name: String =
        sqlx::query_scalar("SELECT name FROM tags WHERE id = $1 AND workspace_id = $2")
            .bind(tag_id)
            .bind(workspace_id)
            .fetch_optional(&mut *c)
            .await?
            .found()?;
    sqlx::query("DELETE FROM conversation_tags WHERE tag_id = $1")
        .bind(tag_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM tags WHERE id = $1")
        .bind(tag_id)
        .execute(c)
        .await?;
    Ok(name)
}

// ---- Messages ---------------------------------------------------------------------------

pub struct NewMessage<'a> {
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub kind: MessageKind,
    pub author_user_id: Option<i64>,
    pub author_customer_id: Option<i64>,
    pub body_text: &'a str,
    pub body_html: &'a str,
}

/// Stores a message and bumps the conversation's counters.
pub async fn insert_message(c: &mut Conn, m: &NewMessage<'_>) -> DbResult<i64> {
    let now = now_ms();
    let id = insert_message_row(&mut *c, m, now).await?;
    sqlx::query(
        "UPDATE conversations SET message_count = message_count + 1, updated_at = $1 WHERE id = $2",
    )
    .bind(now)
    .bind(m.conversation_id)
    .execute(c)
    .await?;
    Ok(id)
}

async fn insert_message_row(c: &mut Conn, m: &NewMessage<'_>, now: i64) -> DbResult<i64> {
    insert_message_rows(c, std::slice::from_ref(m), now)
        .await?
        .pop()
        .ok_or_else(|| DbError::Corrupt("a message insert returned nothing".into()))
}

async fn insert_message_rows(
    c: &mut Conn,
    messages: &[NewMessage<'_>],
    now: i64,
) -> DbResult<Vec<i64>> {
    let rows = crate::values(messages.len(), 7, 1, |p| format!("({p}, $1)"));
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO messages (workspace_id, conversation_id, kind, author_user_id, author_customer_id, body_text, body_html, created_at) \
         VALUES {rows} RETURNING id"
    )))
    .persistent(messages.len() == 1)
    .bind(now);
    for m in messages {
        q = q
            .bind(m.workspace_id)
            .bind(m.conversation_id)
            .bind(m.kind.as_str())
            .bind(m.author_user_id)
            .bind(m.author_customer_id)
            .bind(m.body_text)
            .bind(m.body_html);
    }
    crate::in_values_order(q.fetch_all(c).await?, messages.len())
}

/// Stores an attachment's bytes once per content (keyed by SHA-256) and links it to a message.
pub async fn insert_attachment(
    c: &mut Conn,
    workspace_id: i64,
    message_id: i64,
    filename: &str,
    content_type: &str,
    sha256: &str,
    data: &[u8],
) -> DbResult<i64> {
    let now = now_ms();
    sqlx::query("INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING")
        .bind(sha256)
        .bind(data.len() as i64)
        .bind(data.to_vec())
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO attachments (workspace_id, message_id, filename, content_type, size, sha256, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(workspace_id)
    .bind(message_id)
    .bind(filename)
    .bind(content_type)
    .bind(data.len() as i64)
    .bind(sha256)
    .bind(now)
    .fetch_one(c)
    .await?)
}

/// Whether an attachment belongs to a message the customer can see in the conversation (theirs
/// or a reply, never an internal note).
pub async fn attachment_in(
    c: &mut Conn,
    attachment_id: i64,
    conversation_id: i64,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM attachments a JOIN messages m ON m.id = a.message_id \
         WHERE a.id = $1 AND m.conversation_id = $2 AND m.kind IN ('inbound', 'reply')",
    )
    .bind(attachment_id)
    .bind(conversation_id)
    .fetch_one(c)
    .await?
        > 0)
}

/// An attachment's metadata and bytes.
pub async fn attachment(
    c: &mut Conn,
    workspace_id: i64,
    id: i64,
) -> DbResult<(Attachment, Vec<u8>)> {
    let r = sqlx::query(
        "SELECT a.id, a.filename, a.content_type, a.size, a.sha256, b.data FROM attachments a \
         JOIN blobs b ON b.sha256 = a.sha256 WHERE a.id = $1 AND a.workspace_id = $2",
    )
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(c)
    .await?
    .found()?;
    Ok((attachment_row(&r)?, r.try_get("data")?))
}

fn attachment_row(r: &AnyRow) -> DbResult<Attachment> {
    Ok(Attachment {
        id: r.try_get("id")?,
        filename: r.try_get("filename")?,
        content_type: r.try_get("content_type")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
    })
}

fn message(r: &AnyRow) -> DbResult<Message> {
    Ok(Message {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        kind: parse_enum(MessageKind::parse(&r.try_get::<String, _>("kind")?))?,
        author_user_id: r.try_get("author_user_id")?,
        author_customer_id: r.try_get("author_customer_id")?,
        body_text: r.try_get("body_text")?,
        body_html: r.try_get("body_html")?,
        attachments: Vec::new(),
        email: None,
        text: None,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

/// Up to `limit` messages of a conversation, oldest first, with attachments and mail details
/// (three queries in all).
pub async fn messages(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    after_id: i64,
    limit: i64,
) -> DbResult<Vec<Message>> {
    load_messages(c, workspace_id, conversation_id, after_id, limit, false).await
}

/// The messages a customer sees: theirs and the replies, never internal notes.
pub async fn customer_messages(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    after_id: i64,
    limit: i64,
) -> DbResult<Vec<Message>> {
    load_messages(c, workspace_id, conversation_id, after_id, limit, true).await
}

async fn load_messages(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    after_id: i64,
    limit: i64,
    customer_side: bool,
) -> DbResult<Vec<Message>> {
    let kinds = if customer_side {
        " AND kind IN ('inbound', 'reply')"
    } else {
        ""
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM messages WHERE conversation_id = $1 AND workspace_id = $2 AND id > $3{kinds} ORDER BY id LIMIT $4"
    )))
    .bind(conversation_id)
    .bind(workspace_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    let mut list = rows.iter().map(message).collect::<DbResult<Vec<_>>>()?;
    if let (Some(first), Some(last)) = (list.first().map(|m| m.id), list.last().map(|m| m.id)) {
        for (id, details) in
            crate::email::details_between(&mut *c, conversation_id, first, last).await?
        {
            if let Some(m) = list.iter_mut().find(|m| m.id == id) {
                m.email = Some(Box::new(details));
            }
        }
        for (id, details) in
            crate::telephony::details_between(&mut *c, conversation_id, first, last).await?
        {
            if let Some(m) = list.iter_mut().find(|m| m.id == id) {
                m.text = Some(Box::new(details));
            }
        }
        let rows = sqlx::query(
            "SELECT a.id, a.message_id, a.filename, a.content_type, a.size, a.sha256 FROM attachments a \
             JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = $1 AND a.message_id BETWEEN $2 AND $3 ORDER BY a.id",
        )
        .bind(conversation_id)
        .bind(first)
        .bind(last)
        .fetch_all(c)
        .await?;
        for r in &rows {
            let mid: i64 = r.try_get("message_id")?;
            if let Some(m) = list.iter_mut().find(|m| m.id == mid) {
                m.attachments.push(attachment_row(r)?);
            }
        }
    }
    Ok(list)
}

pub async fn message_by_id(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Message> {
    let conversation_id: i64 = sqlx::query_scalar(
        "SELECT conversation_id FROM messages WHERE id = $1 AND workspace_id = $2",
    )
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&mut *c)
    .await?
    .found()?;
    messages(c, workspace_id, conversation_id, id - 1, 1)
        .await?
        .pop()
        .found()
}

// ---- Events -----------------------------------------------------------------------------

/// Conversations still in play (open, pending, snoozed) last changed between `from_ms` and
/// `to_ms`, oldest change first, at most `limit`: what idle rules look at.
pub async fn quiet(
    c: &mut Conn,
    workspace_id: i64,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> DbResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND status IN ('open', 'pending', 'snoozed') \
         AND updated_at >= $2 AND updated_at <= $3 ORDER BY updated_at, id LIMIT $4",
    )
    .bind(workspace_id)
    .bind(from_ms)
    .bind(to_ms)
    .bind(limit)
    .fetch_all(c)
    .await?)
}

pub async fn insert_event(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    kind: EventKind,
    actor_user_id: Option<i64>,
    data: &serde_json::Value,
) -> DbResult<Event> {
    let new = NewEvent {
        kind,
        actor_user_id,
        data: data.clone(),
    };
    insert_events(c, workspace_id, conversation_id, now_ms(), vec![new])
        .await?
        .pop()
        .found()
}

/// An event about to be appended to a conversation's log.
pub struct NewEvent {
    pub kind: EventKind,
    pub actor_user_id: Option<i64>,
    pub data: serde_json::Value,
}

/// Appends events that happened at `now` to a conversation's log in the order given, with one
/// statement for the rows and one for their outbox entries, however many there are.
pub async fn insert_events(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    now: i64,
    events: Vec<NewEvent>,
) -> DbResult<Vec<Event>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let count = events.len();
    let rows = crate::values(count, 3, 3, |p| format!("($1, $2, {p}, $3)"));
    let sql = format!(
        "INSERT INTO events (workspace_id, conversation_id, kind, actor_user_id, data, created_at) \
         VALUES {rows} RETURNING id"
    );
    let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .persistent(count <= 2)
        .bind(workspace_id)
        .bind(conversation_id)
        .bind(now);
    for e in &events {
        q = q
            .bind(e.kind.as_str())
            .bind(e.actor_user_id)
            .bind(e.data.to_string());
    }
    let ids = crate::in_values_order(q.fetch_all(&mut *c).await?, count)?;
    crate::outbox::push_all(c, workspace_id, &ids).await?;
    Ok(logged(vec![(conversation_id, events)], ids, now)
        .pop()
        .unwrap_or_default())
}

/// Events of conversations of the script's workspace under reserved ids, one for each event in
/// order (see [`crate::script::reserve`]), with their outbox entries. Returns each
/// conversation's events as they will be once the script has run.
pub fn stage_events(
    s: &mut Script,
    logs: Vec<(i64, Vec<NewEvent>)>,
    ids: Vec<i64>,
    now: i64,
) -> Vec<Vec<Event>> {
    let rows: Vec<(i64, i64, &NewEvent)> = logs
        .iter()
        .flat_map(|(conversation_id, events)| events.iter().map(move |e| (*conversation_id, e)))
        .zip(&ids)
        .map(|((conversation_id, e), id)| (*id, conversation_id, e))
        .collect();
    s.insert(
        "events (id, conversation_id, kind, actor_user_id, data, workspace_id, created_at)",
        &rows,
        5,
        |p| format!("({p}, $1, $2)"),
        |r, (id, conversation_id, e)| {
            r.bind(*id)
                .bind(*conversation_id)
                .bind(e.kind.as_str())
                .bind(e.actor_user_id)
                .bind(e.data.to_string());
        },
    );
    debug_assert_eq!(rows.len(), ids.len(), "an id for every event");
    crate::outbox::stage(s, &ids);
    logged(logs, ids, now)
}

/// Events as stored: each log's events take the next of `ids`, in order.
fn logged(logs: Vec<(i64, Vec<NewEvent>)>, ids: Vec<i64>, now: i64) -> Vec<Vec<Event>> {
    let mut ids = ids.into_iter();
    logs.into_iter()
        .map(|(conversation_id, events)| {
            events
                .into_iter()
                .zip(ids.by_ref())
                .map(|(e, id)| Event {
                    id,
                    conversation_id,
                    kind: e.kind,
                    actor_user_id: e.actor_user_id,
                    data: e.data,
                    created_at: from_ms(now),
                })
                .collect()
        })
        .collect()
}

pub(crate) fn event_row(r: &AnyRow) -> DbResult<Event> {
    Ok(Event {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        kind: parse_enum(EventKind::parse(&r.try_get::<String, _>("kind")?))?,
        actor_user_id: r.try_get("actor_user_id")?,
        data: parse_json(&r.try_get::<String, _>("data")?)?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

pub async fn events(
    c: &mut Conn,
    workspace_id: i64,
    conversation_id: i64,
    limit: i64,
) -> DbResult<Vec<Event>> {
    let rows = sqlx::query("SELECT * FROM events WHERE conversation_id = $1 AND workspace_id = $2 ORDER BY id LIMIT $3")
        .bind(conversation_id)
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter().map(event_row).collect()
}

/// A workspace's events after `after_id`, oldest first: the catch-up for live streams.
pub async fn events_since(
    c: &mut Conn,
    workspace_id: i64,
    after_id: i64,
    limit: i64,
) -> DbResult<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT * FROM events WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(workspace_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(event_row).collect()
}

/// Events of a workspace by id (those another node announced).
pub async fn events_by_ids(c: &mut Conn, workspace_id: i64, ids: &[i64]) -> DbResult<Vec<Event>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::id_list(ids);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM events WHERE workspace_id = $1 AND id IN ({list}) ORDER BY id"
    )))
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(event_row).collect()
}

/// Events of a workspace with ids in `first..=last`.
pub async fn events_between(
    c: &mut Conn,
    workspace_id: i64,
    first: i64,
    last: i64,
) -> DbResult<Vec<Event>> {
    let rows = sqlx::query("SELECT * FROM events WHERE workspace_id = $1 AND id >= $2 AND id <= $3 ORDER BY id LIMIT 10000")
        .bind(workspace_id)
        .bind(first)
        .bind(last)
        .fetch_all(c)
        .await?;
    rows.iter().map(event_row).collect()
}

/// Events of every workspace after `after_id` (a node catching up after losing its listener).
pub async fn all_events_since(
    c: &mut Conn,
    after_id: i64,
    limit: i64,
) -> DbResult<Vec<(i64, Event)>> {
    let rows = sqlx::query("SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after_id)
        .bind(limit)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("workspace_id")?, event_row(r)?)))
        .collect()
}

/// Ids of events (any workspace) after `after_id`: how a node notices commits made elsewhere.
pub async fn latest_event_id(c: &mut Conn) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM events")
            .fetch_one(c)
            .await?,
    )
}
