//! Working conversations: open one, write in it, move it, find it.

use citius_domain::Invalid;
use citius_domain::content::Body;
use citius_domain::conversation::{
    self, Channel, MessageKind, Priority, Status, check_custom_fields, parse_tags,
};
use citius_domain::customer::{Identity, IdentityKind, check_attributes};
use citius_domain::error::{optional_text, required_text};
use citius_domain::event::EventKind;
use citius_domain::paging::{Page, PageRequest};
use citius_domain::records::{Conversation, Event, Message, SearchHits, Tag, TimelineItem};
use citius_domain::role::Permission;
use citius_store::conversations::{
    self as store, AssigneeFilter, Changes, Filter, FirstMessage, NewConversation, NewEvent,
    NewMessage,
};
use citius_store::db::{release_savepoint, rollback_to_savepoint, savepoint};
use citius_store::script::Script;
use citius_store::search::{self, DocKind, NewDoc};
use citius_store::{Conn, DbError, customers, directory, jobs, now_ms};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{Actor, App, AppError, AppResult, require};

/// Who the conversation is with: found by any identity given, or created.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub chat_visitor_id: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

impl CustomerRef {
    pub fn identities(&self) -> Result<Vec<Identity>, Invalid> {
        let mut out = Vec::new();
        for (kind, v) in [
            (IdentityKind::Email, &self.email),
            (IdentityKind::Phone, &self.phone),
            (IdentityKind::External, &self.external_id),
            (IdentityKind::ChatVisitor, &self.chat_visitor_id),
        ] {
            if let Some(v) = v {
                out.push(Identity::parse(kind, v)?);
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    pub filename: String,
    pub content_type: Option<String>,
    /// The file's bytes, base64-encoded.
    pub data_base64: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConversationInput {
    pub customer: CustomerRef,
    pub subject: String,
    /// The first message, as plain text.
    pub body: Option<String>,
    /// The first message as HTML (sanitised on the server); used when `body` is absent.
    pub html: Option<String>,
    /// Who wrote the first message: `inbound` (the customer, default) or `reply` (an agent reaching out).
    pub kind: Option<MessageKind>,
    pub channel: Option<Channel>,
    pub inbox_id: Option<i64>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Value>,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessageInput {
    pub body: Option<String>,
    pub html: Option<String>,
    /// `reply` (to the customer, default), `note` (internal) or `inbound` (recorded on the customer's behalf).
    pub kind: Option<MessageKind>,
    #[serde(default)]
    pub attachments: Vec<AttachmentInput>,
}

/// A partial update; absent fields stay as they are, `null` clears assignee or team.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationInput {
    pub status: Option<Status>,
    /// Required when snoozing: when the conversation wakes up (RFC 3339).
    pub snoozed_until: Option<String>,
    pub priority: Option<Priority>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub assignee_id: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub team_id: Option<Option<i64>>,
    pub subject: Option<String>,
    pub add_tags: Option<Vec<String>>,
    pub remove_tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Value>,
}

/// A validated partial update, whoever asks for it.
#[derive(Debug, Default, Clone)]
pub(crate) struct ConversationChange {
    pub status: Option<Status>,
    /// When a snoozed conversation wakes up (ms since the epoch).
    pub snooze: Option<i64>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Option<i64>>,
    pub team_id: Option<Option<i64>>,
    pub subject: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub custom_fields: Option<serde_json::Value>,
}

impl UpdateConversationInput {
    pub(crate) fn parse(self) -> Result<ConversationChange, Invalid> {
        let snooze = self
            .snoozed_until
            .as_deref()
            .map(|v| parse_instant("snoozed_until", v))
            .transpose()?;
        let subject = self
            .subject
            .as_deref()
            .map(|s| required_text("subject", s, conversation::MAX_SUBJECT))
            .transpose()?;
        let add_tags = self
            .add_tags
            .as_deref()
            .map(parse_tags)
            .transpose()?
            .unwrap_or_default();
        let remove_tags = self
            .remove_tags
            .as_deref()
            .map(parse_tags)
            .transpose()?
            .unwrap_or_default();
        if let Some(f) = &self.custom_fields {
            check_custom_fields(f)?;
        }
        Ok(ConversationChange {
            status: self.status,
            snooze,
            priority: self.priority,
            assignee_id: self.assignee_id,
            team_id: self.team_id,
            subject,
            add_tags,
            remove_tags,
            custom_fields: self.custom_fields,
        })
    }
}

/// Tells "absent" from "null" for fields that can be cleared.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// List filters as they come from a query string.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// Comma-separated statuses, e.g. `open,pending`.
    pub status: Option<String>,
    /// A user id, `me` or `none`.
    pub assignee: Option<String>,
    pub team_id: Option<i64>,
    pub tag: Option<String>,
    pub channel: Option<String>,
    pub inbox_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// RFC 3339 bounds on creation and last update.
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    /// By last activity: `latest` first (default) or `oldest` first (waiting longest).
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn parse_instant(field: &str, v: &str) -> Result<i64, Invalid> {
    v.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| Invalid::field(field, "must be an RFC 3339 time like 2026-01-31T09:00:00Z"))
}

impl ConversationQuery {
    pub fn to_filter(&self, actor: &Actor) -> Result<(Filter, PageRequest), Invalid> {
        let mut f = Filter::default();
        if let Some(s) = &self.status {
            f.statuses = s
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Status::parse(s.trim()))
                .collect::<Result<_, _>>()?;
        }
        f.assignee = match self.assignee.as_deref() {
            None | Some("") => None,
            Some("me") => Some(AssigneeFilter::User(actor.user_id)),
            Some("none") => Some(AssigneeFilter::Unassigned),
            Some(id) => Some(AssigneeFilter::User(id.parse().map_err(|_| {
                Invalid::field("assignee", "must be a user id, 'me' or 'none'")
            })?)),
        };
        f.team_id = self.team_id;
        f.tag = self
            .tag
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(conversation::parse_tag)
            .transpose()?;
        f.channel = self
            .channel
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(Channel::parse)
            .transpose()?;
        f.inbox_id = self.inbox_id;
        f.customer_id = self.customer_id;
        f.created_after = self
            .created_after
            .as_deref()
            .map(|v| parse_instant("created_after", v))
            .transpose()?;
        f.created_before = self
            .created_before
            .as_deref()
            .map(|v| parse_instant("created_before", v))
            .transpose()?;
        f.updated_after = self
            .updated_after
            .as_deref()
            .map(|v| parse_instant("updated_after", v))
            .transpose()?;
        f.updated_before = self
            .updated_before
            .as_deref()
            .map(|v| parse_instant("updated_before", v))
            .transpose()?;
        f.sort = self
            .sort
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(conversation::Sort::parse)
            .transpose()?
            .unwrap_or_default();
        let page = PageRequest::parse(self.limit, self.cursor.as_deref())?;
        Ok((f, page))
    }
}

const MAX_ATTACHMENTS: usize = 10;

/// A validated attachment ready to store.
pub(crate) struct File {
    filename: String,
    content_type: String,
    sha256: String,
    data: Vec<u8>,
}

impl File {
    /// A file checked by its channel (name and type already safe); stored by its content hash.
    pub(crate) fn new(filename: String, content_type: String, data: Vec<u8>) -> Self {
        Self {
            sha256: hex::encode(Sha256::digest(&data)),
            filename,
            content_type,
            data,
        }
    }
}

fn parse_attachments(list: &[AttachmentInput], max_bytes: usize) -> Result<Vec<File>, Invalid> {
    use base64::Engine;
    if list.len() > MAX_ATTACHMENTS {
        return Err(Invalid::field(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} per message"),
        ));
    }
    list.iter()
        .map(|a| {
            let filename = required_text("attachments.filename", &a.filename, 255)?
                .replace(['/', '\\', '"'], "_");
            let content_type = a
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            if !citius_domain::content::is_media_type(&content_type) {
                return Err(Invalid::field(
                    "attachments.content_type",
                    "is not a media type",
                ));
            }
            if a.data_base64.len() > max_bytes / 3 * 4 + 8 {
                return Err(Invalid::field(
                    "attachments",
                    format!("each file must be at most {max_bytes} bytes"),
                ));
            }
            let data = base64::engine::general_purpose::STANDARD
                .decode(a.data_base64.as_bytes())
                .map_err(|_| Invalid::field("attachments.data_base64", "is not valid base64"))?;
            if data.len() > max_bytes {
                return Err(Invalid::field(
                    "attachments",
                    format!("each file must be at most {max_bytes} bytes"),
                ));
            }
            Ok(File {
                filename,
                content_type,
                sha256: hex::encode(Sha256::digest(&data)),
                data,
            })
        })
        .collect()
}

fn body_of(body: Option<&str>, html: Option<&str>) -> Result<Body, Invalid> {
    match (body, html) {
        (Some(t), _) => Body::from_text(t),
        (None, Some(h)) => Body::from_html(h),
        (None, None) => Err(Invalid::field("body", "is required")),
    }
}

impl App {
    pub async fn create_conversation(
        &self,
        actor: &Actor,
        input: NewConversationInput,
    ) -> AppResult<Conversation> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let identities = input.customer.identities()?;
        if identities.is_empty() {
            return Err(Invalid::field(
                "customer",
                "needs at least one of email, phone, external_id, chat_visitor_id",
            )
            .into());
        }
        let customer_name = input
            .customer
            .name
            .as_deref()
            .map(|n| optional_text("customer.name", n, 200))
            .transpose()?;
        if let Some(a) = &input.customer.attributes {
            check_attributes(a)?;
        }
        let subject = required_text("subject", &input.subject, conversation::MAX_SUBJECT)?;
        let body = body_of(input.body.as_deref(), input.html.as_deref())?;
        let tags = parse_tags(&input.tags)?;
        let custom_fields = input.custom_fields.unwrap_or_else(|| json!({}));
        check_custom_fields(&custom_fields)?;
        let kind = input.kind.unwrap_or(MessageKind::Inbound);
        if kind == MessageKind::Note {
            return Err(
                Invalid::field("kind", "the first message cannot be an internal note").into(),
            );
        }
        let new = PreparedConversation {
            identities,
            customer_name,
            attributes: input.customer.attributes,
            subject,
            body,
            files: Vec::new(),
            tags,
            custom_fields,
            kind,
            channel: input.channel.unwrap_or(Channel::Api),
            priority: input.priority.unwrap_or(Priority::Normal),
            inbox_id: input.inbox_id,
            assignee_id: input.assignee_id,
            team_id: input.team_id,
        };
        let routed = new.inbox_id.is_some() && new.assignee_id.is_none();
        let conv = self
            .writes()
            .create_conversation(self.db.backend(), actor.clone(), new)
            .await?;
        if routed {
            // The conversation is stored: a routing hiccup must not turn that into an error (the
            // worker routes it on its next round).
            match self.dispatch(ws).await {
                Ok(0) => {}
                Ok(_) => {
                    let mut c = self.db.read().await?;
                    return Ok(store::get(&mut c, ws, conv.id).await?);
                }
                Err(e) => tracing::warn!(error = %e, "routing a new conversation failed"),
            }
        }
        Ok(conv)
    }

    pub async fn conversation(&self, actor: &Actor, id: i64) -> AppResult<Conversation> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::get(&mut c, actor.workspace_id, id).await?)
    }

    pub async fn conversations(
        &self,
        actor: &Actor,
        q: &ConversationQuery,
    ) -> AppResult<Page<Conversation>> {
        require(actor, Permission::Read)?;
        let (filter, page) = q.to_filter(actor)?;
        let mut c = self.db.read().await?;
        Ok(store::list(&mut c, actor.workspace_id, &filter, page).await?)
    }

    /// Conversation counts per status: all, mine and unassigned (the inbox's badges).
    pub async fn conversation_counts(&self, actor: &Actor) -> AppResult<InboxCounts> {
        let mut counts = self.inbox_counts(actor).await?;
        let mut c = self.db.read().await?;
        counts.by_status = store::count_by_status(&mut c, actor.workspace_id, None).await?;
        Ok(counts)
    }

    /// The inbox sidebar's counts, without the per-status totals of the whole history.
    pub async fn inbox_counts(&self, actor: &Actor) -> AppResult<InboxCounts> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        let [open, mine_open, unassigned_open, snoozed] =
            store::count_open(&mut c, actor.workspace_id, actor.user_id).await?;
        Ok(InboxCounts {
            open,
            mine_open,
            unassigned_open,
            snoozed,
            by_status: Vec::new(),
        })
    }

    pub async fn add_message(
        &self,
        actor: &Actor,
        conversation_id: i64,
        input: NewMessageInput,
    ) -> AppResult<Message> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let body = body_of(input.body.as_deref(), input.html.as_deref())?;
        let kind = input.kind.unwrap_or(MessageKind::Reply);
        let files = parse_attachments(&input.attachments, self.config.max_attachment_bytes)?;
        let backend = self.db.backend();
        let inputs = std::sync::Arc::new((actor.clone(), body, files));
        self.writes()
            .write(
                ws,
                Box::new(move |c| {
                    let inputs = inputs.clone();
                    Box::pin(async move {
                    let (actor, body, files) = &*inputs;
                    let conv = store::get(&mut *c, ws, conversation_id).await?;
                    let (message_id, added) = append_message(
                        &mut *c,
                        backend,
                        By::Agent(actor),
                        ws,
                        conversation_id,
                        conv.customer_id,
                        kind,
                        body,
                        files,
                    )
                    .await?;
                    let mut events = vec![added];
                    // A reply is the update the customer was owed.
                    if kind == MessageKind::Reply {
                        for f in citius_store::handoffs::complete_updates_owed(
                            &mut *c,
                            ws,
                            conversation_id,
                            actor.user_id,
                        )
                        .await?
                        {
                            events.push(
                                store::insert_event(
                                    &mut *c,
                                    ws,
                                    conversation_id,
                                    EventKind::FollowUpDone,
                                    Some(actor.user_id),
                                    &json!({"follow_up_id": f.id, "kind": f.kind, "text": f.text, "by_reply": message_id}),
                                )
                                .await?,
                            );
                        }
                    }
                    // A note calls in the colleagues it @mentions.
                    if kind == MessageKind::Note && body.text.contains('@') {
                        events.extend(
                            record_mentions(&mut *c, ws, conversation_id, message_id, actor, &body.text)
                                .await?,
                        );
                    }
                    // A customer writing reopens the conversation; an agent's reply leaves the status to the agent.
                    if kind == MessageKind::Inbound {
                        events.extend(reopen_for_customer(&mut *c, ws, &conv).await?);
                    }
                    let message = store::message_by_id(&mut *c, ws, message_id).await?;
                    Ok((message, events))
                    })
                }),
            )
            .await
    }

    pub async fn update_conversation(
        &self,
        actor: &Actor,
        id: i64,
        input: UpdateConversationInput,
    ) -> AppResult<Conversation> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let change = input.parse()?;
        let mut tx = self.db.begin().await?;
        let events = self
            .change_conversation(&mut tx, By::Agent(actor), ws, id, &change)
            .await?;
        let conv = store::get(&mut tx, ws, id).await?;
        self.commit(tx, ws, events).await?;
        Ok(conv)
    }

    /// Applies a validated change inside the caller's transaction; returns the events it
    /// recorded. One place for what a change means, whoever makes it.
    pub(crate) async fn change_conversation(
        &self,
        tx: &mut Conn,
        by: By<'_>,
        ws: i64,
        id: i64,
        input: &ConversationChange,
    ) -> AppResult<Vec<Event>> {
        let now = now_ms();
        let snooze = input.snooze;
        let backend = self.db.backend();
        let conv = store::get(&mut *tx, ws, id).await?;
        let mut changes = Changes::default();
        let mut events: Vec<Event> = Vec::new();
        let me = by.user_id();
        if let Some(to) = input.status {
            let to = conv.status.transition(to, snooze, now)?;
            if matches!(to, Status::Resolved | Status::Closed)
                && to != conv.status
                && citius_store::handoffs::open_updates_owed(&mut *tx, ws, id).await? > 0
            {
                return Err(AppError::Conflict(
                    "the customer is owed an update: reply or mark the follow-up done first".into(),
                ));
            }
            changes.status = Some(to);
            changes.snoozed_until = Some(snooze);
            if to != conv.status || snooze.is_some() {
                events.push(
                    store::insert_event(
                        &mut *tx,
                        ws,
                        id,
                        EventKind::StatusChanged,
                        me,
                        &by.stamp(json!({"from": conv.status, "to": to, "snoozed_until": snooze})),
                    )
                    .await?,
                );
            }
            if let Some(until) = snooze {
                jobs::enqueue(
                    &mut *tx,
                    &jobs::NewJob {
                        workspace_id: Some(ws),
                        kind: crate::worker::UNSNOOZE,
                        payload: json!({"conversation_id": id, "until": until}),
                        run_at: until,
                        max_attempts: 10,
                        dedupe_key: Some(format!("unsnooze:{id}:{until}")),
                    },
                )
                .await?;
            }
        } else if snooze.is_some() {
            return Err(
                Invalid::field("snoozed_until", "is only allowed with status 'snoozed'").into(),
            );
        }
        if let Some(p) = input.priority.filter(|p| *p != conv.priority) {
            changes.priority = Some(p);
            events.push(
                store::insert_event(
                    &mut *tx,
                    ws,
                    id,
                    EventKind::PriorityChanged,
                    me,
                    &by.stamp(json!({"from": conv.priority, "to": p})),
                )
                .await?,
            );
        }
        let assignee_changed = input.assignee_id.is_some_and(|a| a != conv.assignee_id);
        let team_changed = input.team_id.is_some_and(|t| t != conv.team_id);
        if let Some(Some(u)) = input.assignee_id {
            directory::member(&mut *tx, ws, u)
                .await
                .map_err(|e| not_found_as(e, "assignee_id"))?;
        }
        if let Some(Some(t)) = input.team_id {
            directory::team(&mut *tx, ws, t)
                .await
                .map_err(|e| not_found_as(e, "team_id"))?;
        }
        if assignee_changed || team_changed {
            changes.assignee_id = input.assignee_id;
            changes.team_id = input.team_id;
            let kind = if conv.assignee_id.is_some() || conv.team_id.is_some() {
                EventKind::Transferred
            } else {
                EventKind::Assigned
            };
            events.push(
                store::insert_event(
                    &mut *tx,
                    ws,
                    id,
                    kind,
                    me,
                    &by.stamp(json!({
                        "from": {"assignee_id": conv.assignee_id, "team_id": conv.team_id},
                        "assignee_id": input.assignee_id.unwrap_or(conv.assignee_id),
                        "team_id": input.team_id.unwrap_or(conv.team_id),
                    })),
                )
                .await?,
            );
        }
        if let Some(s) = input.subject.clone().filter(|s| *s != conv.subject) {
            search::put(&mut *tx, backend, ws, DocKind::Subject, id, Some(id), &s).await?;
            events.push(
                store::insert_event(
                    &mut *tx,
                    ws,
                    id,
                    EventKind::SubjectChanged,
                    me,
                    &by.stamp(json!({"from": conv.subject, "to": s})),
                )
                .await?,
            );
            changes.subject = Some(s);
        }
        if let Some(f) = input
            .custom_fields
            .clone()
            .filter(|f| *f != conv.custom_fields)
        {
            events.push(
                store::insert_event(
                    &mut *tx,
                    ws,
                    id,
                    EventKind::FieldsChanged,
                    me,
                    &by.stamp(json!({"from": conv.custom_fields, "to": f})),
                )
                .await?,
            );
            changes.custom_fields = Some(f);
        }
        let mut added = Vec::new();
        for t in &input.add_tags {
            if store::add_tag(&mut *tx, ws, id, t).await? {
                added.push(t.clone());
            }
        }
        if conv.tags.len() + added.len() > conversation::MAX_TAGS_PER_CONVERSATION {
            return Err(Invalid::field("add_tags", "at most 30 tags per conversation").into());
        }
        if !added.is_empty() {
            events.push(
                store::insert_event(
                    &mut *tx,
                    ws,
                    id,
                    EventKind::Tagged,
                    me,
                    &by.stamp(json!({"tags": added})),
                )
                .await?,
            );
        }
        let mut removed = Vec::new();
        for t in &input.remove_tags {
            if store::remove_tag(&mut *tx, ws, id, t).await? {
                removed.push(t.clone());
            }
        }
        if !removed.is_empty() {
            events.push(
                store::insert_event(
                    &mut *tx,
                    ws,
                    id,
                    EventKind::Untagged,
                    me,
                    &by.stamp(json!({"tags": removed})),
                )
                .await?,
            );
        }
        store::apply(&mut *tx, ws, id, &changes).await?;
        Ok(events)
    }

    /// Deletes a conversation with its messages and history. Audited.
    pub async fn delete_conversation(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let conv = store::get(&mut tx, ws, id).await?;
        store::delete_many(&mut tx, self.db.backend(), ws, &[id]).await?;
        crate::directory::audit(&mut tx, actor, "conversation.deleted", "conversation", Some(id), json!({
            "customer_id": conv.customer_id, "messages": conv.message_count, "channel": conv.channel,
        })).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Messages and events of a conversation in the order they happened.
    pub async fn timeline(&self, actor: &Actor, id: i64) -> AppResult<Vec<TimelineItem>> {
        require(actor, Permission::Read)?;
        let ws = actor.workspace_id;
        let mut c = self.db.read().await?;
        store::get(&mut c, ws, id).await?;
        let messages = store::messages(&mut c, ws, id, 0, 5000).await?;
        let events = store::events(&mut c, ws, id, 5000).await?;
        Ok(interleave(messages, events))
    }

    pub async fn message(&self, actor: &Actor, id: i64) -> AppResult<Message> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::message_by_id(&mut c, actor.workspace_id, id).await?)
    }

    pub async fn messages(&self, actor: &Actor, conversation_id: i64) -> AppResult<Vec<Message>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        store::get(&mut c, actor.workspace_id, conversation_id).await?;
        Ok(store::messages(&mut c, actor.workspace_id, conversation_id, 0, 5000).await?)
    }

    pub async fn attachment(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<(citius_domain::records::Attachment, Vec<u8>)> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::attachment(&mut c, actor.workspace_id, id).await?)
    }

    pub async fn tags(&self, actor: &Actor) -> AppResult<Vec<Tag>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::tags(&mut c, actor.workspace_id).await?)
    }

    pub async fn create_tag(&self, actor: &Actor, name: &str) -> AppResult<Tag> {
        require(actor, Permission::Work)?;
        let name = conversation::parse_tag(name)?;
        let mut tx = self.db.begin().await?;
        let id = store::ensure_tag(&mut tx, actor.workspace_id, &name).await?;
        tx.commit().await?;
        Ok(Tag { id, name })
    }

    pub async fn delete_tag(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        let name = store::delete_tag(&mut tx, actor.workspace_id, id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "tag.deleted",
            "tag",
            Some(id),
            json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn search(&self, actor: &Actor, q: &str) -> AppResult<SearchHits> {
        require(actor, Permission::Read)?;
        if q.chars().count() > 200 {
            return Err(Invalid::field("q", "must be at most 200 characters").into());
        }
        let mut c = self.db.read().await?;
        let m = search::query(&mut c, &self.db, actor.workspace_id, q, 25).await?;
        let mut conversations =
            store::get_many(&mut c, actor.workspace_id, &m.conversation_ids).await?;
        conversations.sort_by_key(|cv| m.conversation_ids.iter().position(|id| *id == cv.id));
        let mut found = customers::get_many(&mut c, actor.workspace_id, &m.customer_ids).await?;
        found.retain(|cu| cu.merged_into_id.is_none());
        found.sort_by_key(|cu| m.customer_ids.iter().position(|id| *id == cu.id));
        Ok(SearchHits {
            conversations,
            customers: found,
        })
    }

    /// A workspace's events after `after_id`, for stream catch-up.
    pub async fn events_since(
        &self,
        actor: &Actor,
        after_id: i64,
        limit: i64,
    ) -> AppResult<Vec<Event>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::events_since(&mut c, actor.workspace_id, after_id, limit).await?)
    }
}

/// Orders a timeline by the event log, which records what happened in commit order (clocks
/// can tie or step back): each message sits just before the event that recorded it.
fn interleave(messages: Vec<Message>, events: Vec<Event>) -> Vec<TimelineItem> {
    let mut by_id: std::collections::HashMap<i64, Message> =
        messages.into_iter().map(|m| (m.id, m)).collect();
    let mut items = Vec::with_capacity(by_id.len() + events.len());
    for e in events {
        if e.kind == EventKind::MessageAdded
            && let Some(m) = e
                .data
                .get("message_id")
                .and_then(|v| v.as_i64())
                .and_then(|id| by_id.remove(&id))
        {
            items.push(TimelineItem::Message(m));
        }
        items.push(TimelineItem::Event(e));
    }
    // Messages without an event (none are written so today) still show, by time.
    let mut rest: Vec<Message> = by_id.into_values().collect();
    rest.sort_by_key(|m| (m.created_at, m.id));
    items.extend(rest.into_iter().map(TimelineItem::Message));
    items
}

/// Counts of the inbox views. `open`, `mine_open`, `unassigned_open` and `snoozed` stop at 1000
/// (the inbox shows "999+"); `by_status` is exact.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct InboxCounts {
    pub open: i64,
    pub mine_open: i64,
    pub unassigned_open: i64,
    pub snoozed: i64,
    #[schema(value_type = Vec<Object>)]
    pub by_status: Vec<(Status, i64)>,
}

/// A new conversation, validated, waiting for its transaction.
pub(crate) struct PreparedConversation {
    pub identities: Vec<Identity>,
    pub customer_name: Option<String>,
    pub attributes: Option<serde_json::Value>,
    pub subject: String,
    pub body: Body,
    pub files: Vec<File>,
    pub tags: Vec<String>,
    pub custom_fields: serde_json::Value,
    pub kind: MessageKind,
    pub channel: Channel,
    pub priority: Priority,
    pub inbox_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
}

/// Stores a new conversation with its customer, first message, tags, assignment, search
/// documents and events.
pub(crate) async fn insert_conversation(
    c: &mut Conn,
    backend: citius_store::Backend,
    by: By<'_>,
    ws: i64,
    new: &PreparedConversation,
) -> AppResult<(Conversation, i64, Vec<Event>)> {
    if let Some(inbox) = new.inbox_id {
        directory::inbox_by_id(&mut *c, ws, inbox)
            .await
            .map_err(|e| not_found_as(e, "inbox_id"))?;
    }
    if let Some(u) = new.assignee_id {
        directory::member(&mut *c, ws, u)
            .await
            .map_err(|e| not_found_as(e, "assignee_id"))?;
    }
    if let Some(t) = new.team_id {
        directory::team(&mut *c, ws, t)
            .await
            .map_err(|e| not_found_as(e, "team_id"))?;
    }
    // Everything a new conversation writes goes in as few statements as the data allows: this
    // is every channel's intake path, and on SQLite each statement is a round trip to the
    // writer thread. One moment for the conversation, its message and its events, so the
    // timeline keeps them in order.
    let now = now_ms();
    let wanted = WantedCustomer {
        identities: &new.identities,
        name: new.customer_name.as_deref(),
        attributes: new.attributes.as_ref(),
    };
    let also = [("conversations", 1), ("messages", 1)];
    let (_, (customer_id, id, message_id)) =
        write_with_customers(c, backend, ws, now, &[wanted], &also, |script, resolved| {
            let reserved = |k: usize| resolved.also.get(k).and_then(|ids| ids.first().copied());
            let (Some((customer_id, _)), Some(id), Some(message_id)) =
                (resolved.customers.first(), reserved(0), reserved(1))
            else {
                return Err(DbError::Corrupt("ids of a new conversation".into()).into());
            };
            let item = (by, new, *customer_id, id, message_id);
            stage_conversations(script, backend, ws, &[item]);
            Ok((*customer_id, id, message_id))
        })
        .await?;
    attach(c, ws, message_id, &new.files).await?;
    for t in &new.tags {
        store::add_tag(&mut *c, ws, id, t).await?;
    }
    if new.assignee_id.is_some() || new.team_id.is_some() {
        store::apply(
            &mut *c,
            ws,
            id,
            &Changes {
                assignee_id: new.assignee_id.map(Some),
                team_id: new.team_id.map(Some),
                ..Changes::default()
            },
        )
        .await?;
    }
    let conv = if new.tags.is_empty() {
        store::get_untagged(&mut *c, ws, id).await?
    } else {
        store::get(&mut *c, ws, id).await?
    };
    if new.kind == MessageKind::Reply {
        queue_reply(c, ws, &conv, message_id).await?;
    }
    let mut log = Vec::from(first_events(by, new, customer_id, message_id));
    if !new.tags.is_empty() {
        log.push(NewEvent {
            kind: EventKind::Tagged,
            actor_user_id: by.user_id(),
            data: json!({"tags": new.tags}),
        });
    }
    if new.assignee_id.is_some() || new.team_id.is_some() {
        log.push(NewEvent {
            kind: EventKind::Assigned,
            actor_user_id: by.user_id(),
            data: json!({"assignee_id": new.assignee_id, "team_id": new.team_id}),
        });
    }
    let events = store::insert_events(&mut *c, ws, id, now, log).await?;
    Ok((conv, message_id, events))
}

/// How many events a new conversation's log starts with (see [`first_events`]).
const FIRST_EVENTS: usize = 2;

/// What every new conversation's log starts with: it was created, and its first message.
fn first_events(
    by: By<'_>,
    new: &PreparedConversation,
    customer_id: i64,
    message_id: i64,
) -> [NewEvent; FIRST_EVENTS] {
    [
        NewEvent {
            kind: EventKind::Created,
            actor_user_id: by.user_id(),
            data: json!({"channel": new.channel, "customer_id": customer_id}),
        },
        NewEvent {
            kind: EventKind::MessageAdded,
            actor_user_id: by.user_id(),
            data: by.stamp(json!({"message_id": message_id, "kind": new.kind})),
        },
    ]
}

impl PreparedConversation {
    /// Whether this conversation can share its statements with others made at the same time:
    /// nothing beyond its customer, subject and the customer's first message.
    pub(crate) fn is_plain(&self) -> bool {
        self.kind == MessageKind::Inbound
            && self.files.is_empty()
            && self.tags.is_empty()
            && self.inbox_id.is_none()
            && self.assignee_id.is_none()
            && self.team_id.is_none()
    }
}

/// Plain new conversations of one workspace (see [`PreparedConversation::is_plain`]) staged
/// together: their customers looked up and every id reserved (one statement on PostgreSQL),
/// then one script with every row, however many there are. Under load every statement is a
/// round trip to the database that the whole group waits for.
pub(crate) struct PlainConversations<'a> {
    script: Script,
    resolved: Resolved,
    conversations: Vec<NewConversation<'a>>,
    ids: Vec<i64>,
    events: Vec<Vec<Event>>,
}

/// Looks up the customers of `group` and reserves every id its rows need; nothing is written
/// yet. `Conflict` when two of them name the same identity; the caller then stores them one by
/// one.
pub(crate) async fn stage_plain_conversations<'a>(
    c: &mut Conn,
    backend: citius_store::Backend,
    ws: i64,
    group: &[(&Actor, &'a PreparedConversation)],
) -> AppResult<PlainConversations<'a>> {
    let now = now_ms();
    let mut script = Script::new(backend, ws, now);
    let wanted: Vec<WantedCustomer> = group
        .iter()
        .map(|(_, new)| WantedCustomer {
            identities: &new.identities,
            name: new.customer_name.as_deref(),
            attributes: new.attributes.as_ref(),
        })
        .collect();
    // The rows' ids are reserved with the new customers', in one statement.
    let also = [
        ("conversations", group.len()),
        ("messages", group.len()),
        ("events", group.len() * FIRST_EVENTS),
    ];
    let mut resolved = resolve_customers(c, backend, &mut script, &wanted, &also).await?;
    let customer_ids: Vec<i64> = resolved.customers.iter().map(|(id, _)| *id).collect();
    let [conversation_ids, message_ids, event_ids] = std::mem::take(&mut resolved.also)
        .try_into()
        .map_err(|_| AppError::Internal(DbError::Corrupt("ids of three tables".into())))?;
    let items: Vec<(By, &PreparedConversation, i64, i64, i64)> = group
        .iter()
        .zip(&customer_ids)
        .zip(conversation_ids.iter().zip(&message_ids))
        .map(|(((actor, new), customer_id), (id, message_id))| {
            (By::Agent(actor), *new, *customer_id, *id, *message_id)
        })
        .collect();
    let conversations = stage_conversations(&mut script, backend, ws, &items);
    let logs = items
        .iter()
        .map(|(by, new, customer_id, id, message_id)| {
            let log = first_events(*by, new, *customer_id, *message_id);
            (*id, Vec::from(log))
        })
        .collect();
    let events = store::stage_events(&mut script, logs, event_ids, now);
    Ok(PlainConversations {
        script,
        resolved,
        conversations,
        ids: conversation_ids,
        events,
    })
}

impl PlainConversations<'_> {
    /// Whether the script is all there is to write, so that it may commit on its own: it is,
    /// unless a known customer gains an identity (whose search document is written anew once
    /// the script has run).
    pub(crate) fn is_one_statement(&self) -> bool {
        self.resolved.grown.is_empty()
    }

    /// The events the conversations will start with, in order.
    pub(crate) fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().flatten()
    }

    /// Sends `notice` if (and when) the script commits.
    pub(crate) fn announce(&mut self, notice: &citius_store::notify::Notice) {
        citius_store::notify::announce_in(&mut self.script, notice);
    }

    /// Writes everything staged; returns each conversation as stored with its events, in the
    /// group's order.
    pub(crate) async fn store(self, c: &mut Conn) -> AppResult<Vec<(Conversation, Vec<Event>)>> {
        let (ws, now, backend) = (
            self.script.workspace_id(),
            self.script.now(),
            self.script.backend(),
        );
        self.script.run(c).await?;
        self.resolved.reindex(c, backend, ws).await?;
        let stored = self
            .conversations
            .iter()
            .zip(&self.ids)
            .zip(self.resolved.customers)
            .map(|((n, id), (_, name))| store::just_made(n, *id, name, now));
        Ok(stored.zip(self.events).collect())
    }
}

/// Stores plain new conversations of one workspace together (see [`PlainConversations`]).
/// `Conflict` when two of them name the same identity.
pub(crate) async fn insert_plain_conversations(
    c: &mut Conn,
    backend: citius_store::Backend,
    ws: i64,
    group: &[(&Actor, &PreparedConversation)],
) -> AppResult<Vec<(Conversation, Vec<Event>)>> {
    let staged = stage_plain_conversations(c, backend, ws, group).await?;
    staged.store(c).await
}

/// Stages new conversations with their first messages and search documents under reserved
/// ids: (who, what, customer id, conversation id, message id). Returns the conversations as
/// staged, in order.
fn stage_conversations<'a>(
    script: &mut Script,
    backend: citius_store::Backend,
    ws: i64,
    items: &[(By<'_>, &'a PreparedConversation, i64, i64, i64)],
) -> Vec<NewConversation<'a>> {
    let conversations: Vec<NewConversation> = items
        .iter()
        .map(|(_, new, customer_id, _, _)| NewConversation {
            workspace_id: ws,
            customer_id: *customer_id,
            channel: new.channel,
            inbox_id: new.inbox_id,
            priority: new.priority,
            subject: &new.subject,
            custom_fields: &new.custom_fields,
        })
        .collect();
    let firsts: Vec<FirstMessage> = items
        .iter()
        .map(|(by, new, customer_id, _, _)| {
            let (author_user_id, author_customer_id) = authors(*by, new.kind, *customer_id);
            FirstMessage {
                kind: new.kind,
                author_user_id,
                author_customer_id,
                body_text: &new.body.text,
                body_html: &new.body.html,
            }
        })
        .collect();
    let rows: Vec<(i64, i64, &NewConversation, &FirstMessage)> = items
        .iter()
        .zip(conversations.iter().zip(&firsts))
        .map(|((_, _, _, id, message_id), (n, m))| (*id, *message_id, n, m))
        .collect();
    store::stage_with_first_message(script, &rows);
    let docs: Vec<NewDoc> = items
        .iter()
        .flat_map(|(_, new, _, id, message_id)| {
            [
                NewDoc {
                    kind: DocKind::Subject,
                    ref_id: *id,
                    conversation_id: Some(*id),
                    body: new.subject.as_str(),
                },
                NewDoc {
                    kind: DocKind::Message,
                    ref_id: *message_id,
                    conversation_id: Some(*id),
                    body: new.body.text.as_str(),
                },
            ]
        })
        .collect();
    search::stage_new(script, backend, &docs);
    conversations
}

/// A customer writing reopens their conversation (pending, snoozed, resolved become open).
pub(crate) async fn reopen_for_customer(
    c: &mut Conn,
    ws: i64,
    conv: &Conversation,
) -> AppResult<Option<Event>> {
    let to = conv.status.on_customer_message();
    if to == conv.status {
        return Ok(None);
    }
    store::apply(
        &mut *c,
        ws,
        conv.id,
        &Changes {
            status: Some(to),
            snoozed_until: Some(None),
            ..Changes::default()
        },
    )
    .await?;
    Ok(Some(
        store::insert_event(
            &mut *c,
            ws,
            conv.id,
            EventKind::StatusChanged,
            None,
            &json!({"from": conv.status, "to": to, "reason": "customer_message"}),
        )
        .await?,
    ))
}

/// Stores a message in a conversation with its attachments, its search document and the
/// `message_added` event: the one way a message enters a timeline. Returns its id and the event.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn append_message(
    c: &mut Conn,
    backend: citius_store::Backend,
    by: By<'_>,
    ws: i64,
    conversation_id: i64,
    customer_id: i64,
    kind: MessageKind,
    body: &Body,
    files: &[File],
) -> AppResult<(i64, Event)> {
    let (author_user, author_customer) = authors(by, kind, customer_id);
    let message_id = store::insert_message(
        c,
        &NewMessage {
            workspace_id: ws,
            conversation_id,
            kind,
            author_user_id: author_user,
            author_customer_id: author_customer,
            body_text: &body.text,
            body_html: &body.html,
        },
    )
    .await?;
    attach(c, ws, message_id, files).await?;
    search::put_new(
        c,
        backend,
        ws,
        DocKind::Message,
        message_id,
        Some(conversation_id),
        &body.text,
    )
    .await?;
    if kind == MessageKind::Reply {
        let conv = store::get(&mut *c, ws, conversation_id).await?;
        queue_reply(c, ws, &conv, message_id).await?;
    }
    let event = store::insert_event(
        c,
        ws,
        conversation_id,
        EventKind::MessageAdded,
        by.user_id(),
        &by.stamp(json!({"message_id": message_id, "kind": kind})),
    )
    .await?;
    Ok((message_id, event))
}

/// Stores a message's files.
async fn attach(c: &mut Conn, ws: i64, message_id: i64, files: &[File]) -> AppResult<()> {
    for f in files {
        store::insert_attachment(
            c,
            ws,
            message_id,
            &f.filename,
            &f.content_type,
            &f.sha256,
            &f.data,
        )
        .await?;
    }
    Ok(())
}

/// Who wrote a message: inbound messages are the customer's words; everything else is the
/// acting agent's.
fn authors(by: By<'_>, kind: MessageKind, customer_id: i64) -> (Option<i64>, Option<i64>) {
    match kind {
        MessageKind::Inbound => (None, Some(customer_id)),
        _ => (by.user_id(), None),
    }
}

/// A reply goes back on the channel the conversation came from.
async fn queue_reply(c: &mut Conn, ws: i64, conv: &Conversation, message_id: i64) -> AppResult<()> {
    match conv.channel {
        Channel::Email => crate::email::queue_outgoing(c, ws, conv, message_id).await?,
        Channel::Sms | Channel::Whatsapp => {
            crate::telephony::queue_outgoing(c, ws, conv, message_id).await?
        }
        Channel::Chat | Channel::Voice | Channel::Api => {}
    }
    Ok(())
}

/// Who makes a change: a person (or their API token), or an automation rule acting on its own.
#[derive(Debug, Clone, Copy)]
pub(crate) enum By<'a> {
    Agent(&'a Actor),
    Rule(&'a RuleOrigin),
    /// A message that arrived on a channel (mail, chat, a provider's webhook); `automatic`
    /// names what machine sent it (an auto-reply, bulk mail), so rules do not answer it.
    Channel {
        automatic: Option<&'static str>,
    },
}

/// The rule behind a change, recorded on its events so the timeline says why and so chains of
/// rules can be stopped.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RuleOrigin {
    pub rule_id: i64,
    pub rule_name: String,
    /// Rules that fired before this one in the same chain, first to last.
    #[serde(default)]
    pub chain: Vec<i64>,
}

impl By<'_> {
    pub(crate) fn user_id(&self) -> Option<i64> {
        match self {
            By::Agent(a) => Some(a.user_id),
            By::Rule(_) | By::Channel { .. } => None,
        }
    }

    /// Event data with the rule behind it, when there is one.
    pub(crate) fn stamp(&self, mut data: serde_json::Value) -> serde_json::Value {
        match (self, data.as_object_mut()) {
            (By::Rule(origin), Some(map)) => {
                map.insert("rule".into(), json!(origin));
            }
            (By::Channel { automatic: Some(a) }, Some(map)) => {
                map.insert("automatic".into(), json!(a));
            }
            _ => {}
        }
        data
    }
}

/// A referenced id that does not exist in this workspace is bad input, not a missing resource.
pub(crate) fn not_found_as(e: DbError, field: &str) -> AppError {
    match e {
        DbError::NotFound => Invalid::field(field, "does not exist in this workspace").into(),
        e => e.into(),
    }
}

/// What a new customer is called: the name given, else their first identity.
fn display_name(name: Option<&str>, identities: &[Identity]) -> String {
    name.filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| identities.first().map(|i| i.value.clone()))
        .unwrap_or_default()
}

/// Finds the customer holding any of the identities (the first found wins), or creates one, and
/// attaches the identities nobody holds yet.
pub(crate) async fn find_or_create_customer(
    c: &mut Conn,
    backend: citius_store::Backend,
    ws: i64,
    identities: &[Identity],
    name: Option<&str>,
    attributes: Option<&serde_json::Value>,
) -> AppResult<i64> {
    let wanted = WantedCustomer {
        identities,
        name,
        attributes,
    };
    let (resolved, ()) =
        write_with_customers(c, backend, ws, now_ms(), &[wanted], &[], |_, _| Ok(())).await?;
    resolved
        .customers
        .first()
        .map(|(id, _)| *id)
        .ok_or_else(|| AppError::Internal(DbError::Corrupt("no customer came back".into())))
}

/// Resolves `wanted` into a script, lets `stage` add the caller's rows under the ids reserved
/// with `also`, runs the script and indexes anew the known customers who gained identities.
/// Should another transaction take one of the identities given out here first, everything is
/// resolved and staged once more (see [`run_claiming`]).
async fn write_with_customers<T>(
    c: &mut Conn,
    backend: citius_store::Backend,
    ws: i64,
    now: i64,
    wanted: &[WantedCustomer<'_>],
    also: &[(&'static str, usize)],
    mut stage: impl FnMut(&mut Script, &Resolved) -> AppResult<T>,
) -> AppResult<(Resolved, T)> {
    let mut last_try = false;
    loop {
        let mut script = Script::new(backend, ws, now);
        let resolved = resolve_customers(c, backend, &mut script, wanted, also).await?;
        let staged = stage(&mut script, &resolved)?;
        if run_claiming(c, backend, script, &resolved, last_try).await? {
            resolved.reindex(c, backend, ws).await?;
            return Ok((resolved, staged));
        }
        last_try = true;
    }
}

/// Runs a script that makes customers or gives them identities. On PostgreSQL another
/// transaction may have committed one of those identities since [`resolve_customers`] looked
/// (SQLite's one writer cannot race): the script alone is then undone, and `false` asks the
/// caller to resolve again, which now finds that customer. A last try runs without the guard.
async fn run_claiming(
    c: &mut Conn,
    backend: citius_store::Backend,
    script: Script,
    resolved: &Resolved,
    last_try: bool,
) -> AppResult<bool> {
    if backend != citius_store::Backend::Postgres || !resolved.claims || last_try {
        script.run(c).await?;
        return Ok(true);
    }
    savepoint(c).await?;
    match script.run(c).await {
        Ok(()) => {
            release_savepoint(c).await?;
            Ok(true)
        }
        Err(e) if customers::identity_taken(&e) => {
            rollback_to_savepoint(c).await?;
            Ok(false)
        }
        Err(e) => {
            // Gone, so that the caller's own savepoint is the one it rolls back to.
            rollback_to_savepoint(c).await?;
            Err(e.into())
        }
    }
}

/// A customer a new conversation names.
#[derive(Clone, Copy)]
pub(crate) struct WantedCustomer<'a> {
    pub identities: &'a [Identity],
    pub name: Option<&'a str>,
    pub attributes: Option<&'a serde_json::Value>,
}

/// Who each wanted customer is, by id and name: the customer holding any of its identities
/// (the first found wins), or a new one. New customers, their documents and the identities
/// nobody holds yet go into `script`, under ids reserved here (with `also`, the ids of the
/// caller's own rows, in the same statement); a known customer who gains an
/// identity is in [`Resolved::grown`], to index anew once the script has run. `Conflict` when
/// two of them name the same identity: they may mean one new customer, which only one by one
/// can tell.
pub(crate) async fn resolve_customers(
    c: &mut Conn,
    backend: citius_store::Backend,
    script: &mut Script,
    wanted: &[WantedCustomer<'_>],
    also: &[(&'static str, usize)],
) -> AppResult<Resolved> {
    let ws = script.workspace_id();
    let every: Vec<Identity> = wanted
        .iter()
        .flat_map(|w| w.identities.iter().cloned())
        .collect();
    let mut named = std::collections::HashSet::new();
    if !every.iter().all(|i| named.insert(i)) {
        return Err(AppError::Conflict(
            "two new conversations name the same customer".into(),
        ));
    }
    // Ids for every wanted customer are drawn with the lookup, in one round trip; those of
    // customers found known go unused.
    let mut wants = vec![("customers", wanted.len())];
    wants.extend_from_slice(also);
    let (holders, reserved) = customers::holders_and_ids(c, backend, ws, &every, &wants).await?;
    let held: std::collections::HashMap<Identity, (i64, String)> = holders
        .into_iter()
        .map(|h| (h.identity, (h.customer_id, h.name)))
        .collect();
    let known: Vec<Option<&(i64, String)>> = wanted
        .iter()
        .map(|w| w.identities.iter().find_map(|i| held.get(i)))
        .collect();
    let newcomers: Vec<usize> = (0..wanted.len()).filter(|k| known[*k].is_none()).collect();
    let mut reserved = reserved.into_iter();
    let mut fresh_ids = reserved.next().unwrap_or_default().into_iter();
    let mut customers: Vec<(i64, String)> = Vec::with_capacity(wanted.len());
    for (w, k) in wanted.iter().zip(&known) {
        customers.push(match k {
            Some((id, name)) => (*id, name.clone()),
            None => (
                fresh_ids.next().unwrap_or_default(),
                display_name(w.name, w.identities),
            ),
        });
    }
    let empty = json!({});
    let rows: Vec<(i64, &str, &serde_json::Value)> = newcomers
        .iter()
        .map(|&k| {
            let (id, name) = &customers[k];
            (*id, name.as_str(), wanted[k].attributes.unwrap_or(&empty))
        })
        .collect();
    customers::stage_new(script, &rows);
    let attached: Vec<(i64, &Identity)> = wanted
        .iter()
        .zip(&customers)
        .flat_map(|(w, (id, _))| {
            w.identities
                .iter()
                .filter(|i| !held.contains_key(*i))
                .map(move |i| (*id, i))
        })
        .collect();
    customers::stage_identities(script, &attached);
    // A new customer's document is its name and identities, all known here.
    let texts: Vec<String> = newcomers
        .iter()
        .map(|&k| {
            crate::customers::search_text(
                &customers[k].1,
                wanted[k].identities.iter().map(|i| i.value.as_str()),
            )
        })
        .collect();
    let docs: Vec<NewDoc> = newcomers
        .iter()
        .zip(&texts)
        .map(|(&k, text)| NewDoc {
            kind: DocKind::Customer,
            ref_id: customers[k].0,
            conversation_id: None,
            body: text,
        })
        .collect();
    search::stage_new(script, backend, &docs);
    let claims = !attached.is_empty();
    let mut grown: Vec<i64> = attached
        .iter()
        .map(|(holder, _)| *holder)
        .filter(|id| {
            known
                .iter()
                .any(|k| k.is_some_and(|(known, _)| known == id))
        })
        .collect();
    grown.sort_unstable();
    grown.dedup();
    Ok(Resolved {
        customers,
        grown,
        claims,
        also: reserved.collect(),
    })
}

/// Wanted customers as resolved: each one's id and name in order, the known customers whose
/// search documents must be written anew once the script has run, whether the script gives
/// out identities, and the ids reserved for the caller's other rows (in the order asked).
pub(crate) struct Resolved {
    pub customers: Vec<(i64, String)>,
    grown: Vec<i64>,
    claims: bool,
    pub also: Vec<Vec<i64>>,
}

impl Resolved {
    /// Indexes anew every known customer who gained an identity; after the script has run.
    pub(crate) async fn reindex(
        &self,
        c: &mut Conn,
        backend: citius_store::Backend,
        ws: i64,
    ) -> AppResult<()> {
        for id in &self.grown {
            crate::customers::reindex(c, backend, ws, *id).await?;
        }
        Ok(())
    }
}

impl From<&citius_domain::views::ViewFilters> for ConversationQuery {
    fn from(f: &citius_domain::views::ViewFilters) -> Self {
        Self {
            status: f.status.clone(),
            assignee: f.assignee.clone(),
            team_id: f.team_id,
            tag: f.tag.clone(),
            channel: f.channel.clone(),
            inbox_id: f.inbox_id,
            sort: f.sort.clone(),
            ..Default::default()
        }
    }
}

impl App {
    /// The inbox views the caller sees: their own and the shared ones.
    pub async fn saved_views(
        &self,
        actor: &Actor,
    ) -> AppResult<Vec<citius_domain::records::SavedView>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(citius_store::views::visible(&mut c, actor.workspace_id, actor.user_id).await?)
    }

    /// One view the caller sees.
    pub async fn saved_view(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<citius_domain::records::SavedView> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        citius_store::views::get(&mut c, actor.workspace_id, id)
            .await?
            .filter(|v| v.shared || v.owner_id == actor.user_id)
            .ok_or(AppError::NotFound)
    }

    /// Saves a view; a shared one is for admins to make.
    pub async fn create_view(
        &self,
        actor: &Actor,
        input: citius_domain::views::ViewInput,
    ) -> AppResult<citius_domain::records::SavedView> {
        require(actor, Permission::Read)?;
        let (name, filters, shared) = input.validate()?;
        if shared {
            require(actor, Permission::Administer)?;
        }
        // The filters must make a valid query now, not fail each time the view opens.
        ConversationQuery::from(&filters).to_filter(actor)?;
        let mut tx = self.db.begin().await?;
        if citius_store::views::count_of(&mut tx, actor.workspace_id, actor.user_id).await?
            >= citius_domain::views::MAX_VIEWS
        {
            return Err(Invalid::field(
                "name",
                format!(
                    "at most {} saved views each",
                    citius_domain::views::MAX_VIEWS
                ),
            )
            .into());
        }
        let view = citius_store::views::insert(
            &mut tx,
            actor.workspace_id,
            actor.user_id,
            &name,
            &filters,
            shared,
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Deletes a view: one's own, or a shared one as an admin.
    pub async fn delete_view(&self, actor: &Actor, id: i64) -> AppResult<()> {
        let view = self.saved_view(actor, id).await?;
        if view.owner_id != actor.user_id {
            require(actor, Permission::Administer)?;
        }
        let mut tx = self.db.begin().await?;
        citius_store::views::delete(&mut tx, actor.workspace_id, id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Records the @mentions of a note, one event each (the mentioned see it live in their list).
async fn record_mentions(
    c: &mut Conn,
    ws: i64,
    conversation_id: i64,
    message_id: i64,
    actor: &Actor,
    text: &str,
) -> AppResult<Vec<Event>> {
    let members = directory::members(&mut *c, ws).await?;
    let people: Vec<citius_domain::mention::Person<'_>> = members
        .iter()
        .map(|m| citius_domain::mention::Person {
            id: m.id,
            name: &m.name,
            email: &m.email,
        })
        .collect();
    let mut events = Vec::new();
    for user_id in citius_domain::mention::mentioned(text, &people) {
        if user_id == actor.user_id {
            continue;
        }
        citius_store::mentions::insert(
            &mut *c,
            ws,
            conversation_id,
            message_id,
            user_id,
            Some(actor.user_id),
        )
        .await?;
        events.push(
            store::insert_event(
                &mut *c,
                ws,
                conversation_id,
                EventKind::Mentioned,
                Some(actor.user_id),
                &json!({"user_id": user_id, "message_id": message_id}),
            )
            .await?,
        );
    }
    Ok(events)
}

impl App {
    /// The caller's @mentions, newest first.
    pub async fn my_mentions(
        &self,
        actor: &Actor,
    ) -> AppResult<Vec<citius_domain::records::Mention>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(citius_store::mentions::of_user(&mut c, actor.workspace_id, actor.user_id, 100).await?)
    }

    /// How many of the caller's mentions they have not looked at yet.
    pub async fn unseen_mentions(&self, actor: &Actor) -> AppResult<i64> {
        let mut c = self.db.read().await?;
        Ok(citius_store::mentions::unseen_count(&mut c, actor.workspace_id, actor.user_id).await?)
    }
}

/// Most conversations one bulk action changes.
pub const MAX_BULK: usize = 100;

/// What a bulk change did: each conversation changes on its own (with its events, rules and
/// audit), so one that cannot change does not stop the others.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct BulkOutcome {
    pub updated: Vec<i64>,
    /// Conversation and why it did not change.
    #[schema(value_type = Vec<Object>)]
    pub failed: Vec<(i64, String)>,
}

impl App {
    /// Applies one change to several conversations.
    pub async fn bulk_update(
        &self,
        actor: &Actor,
        ids: &[i64],
        change: UpdateConversationInput,
    ) -> AppResult<BulkOutcome> {
        require(actor, Permission::Work)?;
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(
                Invalid::field("ids", format!("pick 1 to {MAX_BULK} conversations")).into(),
            );
        }
        let mut out = BulkOutcome {
            updated: Vec::new(),
            failed: Vec::new(),
        };
        for id in ids {
            match self.update_conversation(actor, id, change.clone()).await {
                Ok(_) => out.updated.push(id),
                Err(AppError::NotFound) => out.failed.push((id, "no such conversation".into())),
                Err(AppError::Invalid(e)) => {
                    // The same change is invalid for all of them: say so once.
                    if out.updated.is_empty() {
                        return Err(AppError::Invalid(e));
                    }
                    out.failed.push((id, e.to_string()));
                }
                Err(AppError::Conflict(m)) => out.failed.push((id, m)),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}
