//! Live chat. A chat inbox's widget is found by its public key; each browser that opens it gets
//! a visitor token (its only credential, stored hashed) that reaches nothing but its own
//! conversation. A visitor becomes a customer when they first write, and an identified one when
//! they give their email. Agents see visitors typing and what they have read; visitors see the
//! same of agents. Messages left while nobody is online become email conversations.

use citius_domain::Invalid;
use citius_domain::chat::{
    MAX_VISITOR_FILE, MAX_VISITOR_TEXT, OfflineMessage, TYPING_MS, VisitorDetails, WidgetInput,
};
use citius_domain::content::Body;
use citius_domain::conversation::{Channel, MessageKind, Priority, Status};
use citius_domain::customer::{Identity, IdentityKind};
use citius_domain::email::safe_filename;
use citius_domain::records::{ChatWidget, Inbox};
use citius_domain::role::Permission;
use citius_store::chat::{self as store, Visitor};
use citius_store::{DbError, conversations, customers, directory, now_ms, routing};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::{By, File, PreparedConversation, append_message, insert_conversation};
use crate::{Actor, App, AppError, AppResult, require};

/// What a visitor's browser keeps and shows when the widget opens.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorSession {
    /// Send as `Authorization: Bearer` (or `?token=` for the event stream). Keep it to resume.
    pub token: String,
    pub greeting: String,
    pub color: String,
    pub inbox_name: String,
    /// Someone is online to answer now; otherwise the widget offers the offline form.
    pub agents_online: bool,
    pub conversation_id: Option<i64>,
}

/// A message as the visitor sees it (internal notes are never shown).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorMessage {
    pub id: i64,
    /// `visitor` or `agent`.
    pub from: &'static str,
    /// The agent's name for agents' messages.
    pub author: Option<String>,
    pub text: String,
    pub files: Vec<VisitorFile>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorFile {
    pub id: i64,
    pub filename: String,
    pub size: i64,
}

/// What the other side is doing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorState {
    pub agent_typing: bool,
    /// Agents have seen the visitor's messages up to this id.
    pub seen_up_to: i64,
    pub agents_online: bool,
}

/// The visitor, as an agent sees them in a chat conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorActivity {
    pub typing: bool,
    /// The visitor has read agents' messages up to this id.
    pub read_up_to: i64,
}

fn fresh_secret(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 20]>()))
}

/// What a visitor is called until they give their name.
fn visitor_name(v: &Visitor) -> String {
    format!("Visitor {}", v.id)
}

fn visitor_identity(v: &Visitor) -> AppResult<Identity> {
    Ok(Identity::parse(
        IdentityKind::ChatVisitor,
        &format!("visitor-{}", v.id),
    )?)
}

impl App {
    pub async fn chat_widgets(&self, actor: &Actor) -> AppResult<Vec<ChatWidget>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(store::widgets(&mut c, actor.workspace_id).await?)
    }

    pub async fn chat_widget(&self, actor: &Actor, inbox_id: i64) -> AppResult<ChatWidget> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        directory::inbox_by_id(&mut c, actor.workspace_id, inbox_id).await?;
        store::widget(&mut c, actor.workspace_id, inbox_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Sets up (or changes) a chat inbox's widget. Audited.
    pub async fn set_chat_widget(
        &self,
        actor: &Actor,
        inbox_id: i64,
        input: WidgetInput,
    ) -> AppResult<ChatWidget> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let valid = input.validate()?;
        let mut tx = self.db.begin().await?;
        let inbox = directory::inbox_by_id(&mut tx, ws, inbox_id).await?;
        if inbox.channel != Channel::Chat {
            return Err(Invalid::field("inbox", "only a chat inbox has a widget").into());
        }
        if let Some(o) = valid.offline_inbox_id {
            let offline = directory::inbox_by_id(&mut tx, ws, o)
                .await
                .map_err(|e| crate::conversations::not_found_as(e, "offline_inbox_id"))?;
            if offline.channel != Channel::Email || offline.address.is_none() {
                return Err(Invalid::field(
                    "offline_inbox_id",
                    "must be an email inbox with an address (replies go by email)",
                )
                .into());
            }
        }
        store::put_widget(&mut tx, ws, inbox_id, &fresh_secret("wk_"), &valid).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "inbox.widget_set",
            "inbox",
            Some(inbox_id),
            json!({"allowed_origins": valid.allowed_origins, "offline_inbox_id": valid.offline_inbox_id}),
        )
        .await?;
        let widget = store::widget(&mut tx, ws, inbox_id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(widget)
    }

    /// Replaces the widget's public key (the old snippet stops working). Audited.
    pub async fn rotate_widget_key(&self, actor: &Actor, inbox_id: i64) -> AppResult<ChatWidget> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        if !store::rotate_key(&mut tx, ws, inbox_id, &fresh_secret("wk_")).await? {
            return Err(AppError::NotFound);
        }
        crate::directory::audit(
            &mut tx,
            actor,
            "inbox.widget_key_rotated",
            "inbox",
            Some(inbox_id),
            json!({}),
        )
        .await?;
        let widget = store::widget(&mut tx, ws, inbox_id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(widget)
    }

    /// A widget by its public key (for the widget API's origin check).
    pub async fn widget_by_key(&self, key: &str) -> AppResult<(i64, ChatWidget)> {
        if key.len() > 100 {
            return Err(AppError::NotFound);
        }
        let mut c = self.db.read().await?;
        store::widget_by_key(&mut c, key)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Drops the remembered "anyone online" of a workspace (an agent's presence changed).
    pub(crate) fn forget_online(&self, ws: i64) {
        self.online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ws);
    }

    /// Whether anyone is online to answer. Read at most every few seconds per workspace: every
    /// open widget asks, and a few seconds late is fine for showing "online".
    async fn agents_online(&self, ws: i64) -> AppResult<bool> {
        const FRESH: std::time::Duration = std::time::Duration::from_secs(5);
        let cached = self
            .online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ws)
            .copied();
        if let Some((at, online)) = cached
            && at.elapsed() < FRESH
        {
            return Ok(online);
        }
        let mut c = self.db.read().await?;
        let online = routing::presences(&mut c, ws)
            .await?
            .iter()
            .any(|p| p.presence == "online");
        self.online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ws, (std::time::Instant::now(), online));
        Ok(online)
    }

    /// Opens the widget for a browser: resumes its visitor when `resume` is a token of this
    /// widget, else starts a new visitor.
    pub async fn start_visitor(
        &self,
        key: &str,
        resume: Option<&str>,
    ) -> AppResult<VisitorSession> {
        let (ws, widget) = self.widget_by_key(key).await?;
        let inbox = {
            let mut c = self.db.read().await?;
            directory::inbox_by_id(&mut c, ws, widget.inbox_id).await?
        };
        let resumed = match resume {
            Some(t) => match self.visitor(t).await {
                Ok((v, _)) if v.inbox_id == widget.inbox_id => Some((t.to_string(), v)),
                Ok(_) | Err(AppError::Unauthorized) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let (token, visitor) = match resumed {
            Some(r) => r,
            None => {
                let token = fresh_secret("vt_");
                let mut tx = self.db.begin().await?;
                let v = store::insert_visitor(
                    &mut tx,
                    ws,
                    widget.inbox_id,
                    &crate::access::hash_secret(&token),
                )
                .await?;
                tx.commit().await?;
                (token, v)
            }
        };
        Ok(VisitorSession {
            token,
            greeting: widget.greeting,
            color: widget.color,
            inbox_name: inbox.name,
            agents_online: self.agents_online(ws).await?,
            conversation_id: visitor.conversation_id,
        })
    }

    /// The visitor a token belongs to, with their widget.
    pub async fn visitor(&self, token: &str) -> AppResult<(Visitor, ChatWidget)> {
        if !token.starts_with("vt_") || token.len() > 100 {
            return Err(AppError::Unauthorized);
        }
        let mut c = self.db.read().await?;
        let v = match store::visitor_by_token(&mut c, &crate::access::hash_secret(token)).await {
            Ok(v) => v,
            Err(DbError::NotFound) => return Err(AppError::Unauthorized),
            Err(e) => return Err(e.into()),
        };
        let widget = store::widget(&mut c, v.workspace_id, v.inbox_id)
            .await?
            .ok_or(AppError::Unauthorized)?;
        Ok((v, widget))
    }

    /// The visitor's conversation after message `after`, without internal notes.
    pub async fn visitor_messages(
        &self,
        v: &Visitor,
        after: i64,
    ) -> AppResult<Vec<VisitorMessage>> {
        let Some(conv) = v.conversation_id else {
            return Ok(Vec::new());
        };
        let mut c = self.db.read().await?;
        let list =
            conversations::customer_messages(&mut c, v.workspace_id, conv, after.max(0), 200)
                .await?;
        let mut names: Vec<(i64, String)> = Vec::new();
        let mut out = Vec::with_capacity(list.len());
        for m in list {
            let from = match m.kind {
                MessageKind::Inbound => "visitor",
                MessageKind::Reply => "agent",
                _ => continue,
            };
            let author = match (from, m.author_user_id) {
                ("agent", Some(u)) => match names.iter().find(|(id, _)| *id == u) {
                    Some((_, n)) => Some(n.clone()),
                    None => {
                        let n = directory::member(&mut c, v.workspace_id, u)
                            .await
                            .map(|user| user.name)
                            .unwrap_or_else(|_| "Support".into());
                        names.push((u, n.clone()));
                        Some(n)
                    }
                },
                ("agent", None) => Some("Support".into()),
                _ => None,
            };
            out.push(VisitorMessage {
                id: m.id,
                from,
                author,
                text: m.body_text,
                files: m
                    .attachments
                    .into_iter()
                    .map(|a| VisitorFile {
                        id: a.id,
                        filename: a.filename,
                        size: a.size,
                    })
                    .collect(),
                created_at: m.created_at,
            });
        }
        Ok(out)
    }

    /// The visitor writes (text, a file, or both): the first message opens a conversation in
    /// the widget's inbox; later ones join it, or open a new one once it was closed.
    pub async fn visitor_send(
        &self,
        v: &Visitor,
        text: &str,
        file: Option<(String, String, Vec<u8>)>,
    ) -> AppResult<VisitorMessage> {
        let text = text.trim();
        if text.chars().count() > MAX_VISITOR_TEXT {
            return Err(Invalid::field(
                "body",
                format!("must be at most {MAX_VISITOR_TEXT} characters"),
            )
            .into());
        }
        let files = match file {
            Some((name, content_type, data)) => {
                if data.len() > MAX_VISITOR_FILE {
                    return Err(Invalid::field(
                        "file",
                        format!("must be at most {} MB", MAX_VISITOR_FILE >> 20),
                    )
                    .into());
                }
                if data.is_empty() {
                    return Err(Invalid::field("file", "is empty").into());
                }
                // A browser's guess at the type is not worth refusing the file over.
                let content_type = if citius_domain::content::is_media_type(&content_type) {
                    content_type
                } else {
                    "application/octet-stream".to_string()
                };
                vec![File::new(safe_filename(&name), content_type, data)]
            }
            None => Vec::new(),
        };
        if text.is_empty() && files.is_empty() {
            return Err(Invalid::field("body", "write something or attach a file").into());
        }
        let body = if text.is_empty() {
            Body::from_received(Some(&format!("Sent {}", files.len())), None)
        } else {
            Body::from_text(text)?
        };
        let ws = v.workspace_id;
        let backend = self.db.backend();
        let mut tx = self.db.begin().await?;
        let open = match v.conversation_id {
            Some(id) => match conversations::get(&mut tx, ws, id).await {
                Ok(conv) if conv.status != Status::Closed => Some(conv),
                Ok(_) | Err(DbError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let by = By::Channel { automatic: None };
        let (conv_id, customer_id, message_id, events, created) = match open {
            Some(conv) => {
                let (message_id, added) = append_message(
                    &mut tx,
                    backend,
                    by,
                    ws,
                    conv.id,
                    conv.customer_id,
                    MessageKind::Inbound,
                    &body,
                    &files,
                )
                .await?;
                let mut events = vec![added];
                events.extend(crate::conversations::reopen_for_customer(&mut tx, ws, &conv).await?);
                (conv.id, conv.customer_id, message_id, events, false)
            }
            None => {
                // The visitor identity finds the customer an earlier chat or their email made.
                let identities = vec![visitor_identity(v)?];
                let subject: String = text.lines().next().unwrap_or("").chars().take(80).collect();
                let new = PreparedConversation {
                    identities,
                    customer_name: Some(visitor_name(v)),
                    attributes: None,
                    subject: if subject.is_empty() {
                        "Chat".to_string()
                    } else {
                        subject
                    },
                    body: body.clone(),
                    files,
                    tags: Vec::new(),
                    custom_fields: json!({}),
                    kind: MessageKind::Inbound,
                    channel: Channel::Chat,
                    priority: Priority::Normal,
                    inbox_id: Some(v.inbox_id),
                    assignee_id: None,
                    team_id: None,
                };
                let (conv, message_id, events) =
                    insert_conversation(&mut tx, backend, by, ws, &new).await?;
                (conv.id, conv.customer_id, message_id, events, true)
            }
        };
        store::set_conversation(&mut tx, v.id, customer_id, conv_id).await?;
        store::set_typing(&mut tx, v.id, None).await?;
        let message = conversations::message_by_id(&mut tx, ws, message_id).await?;
        self.commit(tx, ws, events).await?;
        if created && let Err(e) = self.dispatch(ws).await {
            tracing::warn!(error = %e, "routing a new chat failed");
        }
        Ok(VisitorMessage {
            id: message.id,
            from: "visitor",
            author: None,
            text: message.body_text,
            files: message
                .attachments
                .into_iter()
                .map(|a| VisitorFile {
                    id: a.id,
                    filename: a.filename,
                    size: a.size,
                })
                .collect(),
            created_at: message.created_at,
        })
    }

    pub async fn visitor_typing(&self, v: &Visitor, typing: bool) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        store::set_typing(&mut tx, v.id, typing.then(|| now_ms() + TYPING_MS)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn visitor_read(&self, v: &Visitor, up_to: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        store::set_read(&mut tx, v.id, up_to.max(0)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What agents are doing in the visitor's conversation.
    pub async fn visitor_state(&self, v: &Visitor) -> AppResult<VisitorState> {
        let now = now_ms();
        let agent_typing = match v.conversation_id {
            Some(conv) => {
                let mut c = self.db.read().await?;
                citius_store::activity::others(&mut c, v.workspace_id, conv, 0, now)
                    .await?
                    .iter()
                    .any(|o| o.activity == "typing")
            }
            None => false,
        };
        Ok(VisitorState {
            agent_typing,
            seen_up_to: v.agent_read_up_to,
            agents_online: self.agents_online(v.workspace_id).await?,
        })
    }

    /// The visitor says who they are. The email becomes the customer's when nobody else holds
    /// it; otherwise it is kept as a claim for an agent to check (an unverified visitor never
    /// joins another customer's history on their own word).
    pub async fn visitor_identify(&self, v: &Visitor, d: VisitorDetails) -> AppResult<()> {
        let ws = v.workspace_id;
        let email = Identity::parse(IdentityKind::Email, &d.email)?;
        let name =
            citius_domain::error::optional_text("name", d.name.as_deref().unwrap_or(""), 100)?;
        let mut tx = self.db.begin().await?;
        let customer = match v.customer_id {
            Some(c) => c,
            None => {
                let c = crate::conversations::find_or_create_customer(
                    &mut tx,
                    self.db.backend(),
                    ws,
                    &[visitor_identity(v)?],
                    Some(&visitor_name(v)),
                    None,
                )
                .await?;
                store::set_customer(&mut tx, ws, v.id, c).await?;
                c
            }
        };
        let current = customers::get(&mut tx, ws, customer).await?;
        match customers::find_by_identity(&mut tx, ws, &email).await? {
            None => customers::insert_identity(&mut tx, ws, customer, &email).await?,
            Some(holder) if holder == customer => {}
            // Held by someone else: kept as a claim an agent can act on (Customers → possible
            // duplicates), never a merge on a visitor's word.
            Some(_) => customers::add_claim(&mut tx, ws, customer, &email, "chat").await?,
        }
        // A name given replaces the placeholder, never a name an agent set.
        let new_name =
            (!name.is_empty() && current.name == visitor_name(v)).then_some(name.as_str());
        if new_name.is_some() {
            customers::update(&mut tx, ws, customer, new_name, None).await?;
        }
        crate::customers::reindex(&mut tx, self.db.backend(), ws, customer).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A message left while nobody is online: an email conversation in the widget's offline
    /// inbox, answered by email.
    pub async fn visitor_offline(&self, key: &str, m: OfflineMessage) -> AppResult<i64> {
        let (ws, widget) = self.widget_by_key(key).await?;
        let email = Identity::parse(IdentityKind::Email, &m.email)?;
        let body = Body::from_text(&m.body)?;
        let name =
            citius_domain::error::optional_text("name", m.name.as_deref().unwrap_or(""), 100)?;
        let inbox = self.offline_inbox(ws, &widget).await?;
        let mut tx = self.db.begin().await?;
        let subject: String = m
            .body
            .trim()
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        let new = PreparedConversation {
            identities: vec![email],
            customer_name: (!name.is_empty()).then_some(name),
            attributes: None,
            subject: format!("Chat message: {subject}"),
            body,
            files: Vec::new(),
            tags: Vec::new(),
            custom_fields: json!({}),
            kind: MessageKind::Inbound,
            channel: Channel::Email,
            priority: Priority::Normal,
            inbox_id: Some(inbox.id),
            assignee_id: None,
            team_id: None,
        };
        let by = By::Channel { automatic: None };
        let (conv, _, events) =
            insert_conversation(&mut tx, self.db.backend(), by, ws, &new).await?;
        self.commit(tx, ws, events).await?;
        if let Err(e) = self.dispatch(ws).await {
            tracing::warn!(error = %e, "routing an offline message failed");
        }
        Ok(conv.id)
    }

    async fn offline_inbox(&self, ws: i64, widget: &ChatWidget) -> AppResult<Inbox> {
        let mut c = self.db.read().await?;
        if let Some(id) = widget.offline_inbox_id
            && let Ok(i) = directory::inbox_by_id(&mut c, ws, id).await
        {
            return Ok(i);
        }
        directory::inboxes(&mut c, ws)
            .await?
            .into_iter()
            .find(|i| i.channel == Channel::Email && i.address.is_some())
            .ok_or_else(|| {
                AppError::Unavailable("offline messages need an email inbox; none is set up".into())
            })
    }

    /// A file in the visitor's own conversation.
    pub async fn visitor_file(
        &self,
        v: &Visitor,
        id: i64,
    ) -> AppResult<(citius_domain::records::Attachment, Vec<u8>)> {
        let conv = v.conversation_id.ok_or(AppError::NotFound)?;
        let mut c = self.db.read().await?;
        if !conversations::attachment_in(&mut c, id, conv).await? {
            return Err(AppError::NotFound);
        }
        Ok(conversations::attachment(&mut c, v.workspace_id, id).await?)
    }

    /// The visitor of a chat conversation, as agents see them.
    pub(crate) async fn visitor_activity(
        &self,
        c: &mut citius_store::Conn,
        ws: i64,
        conversation_id: i64,
        now: i64,
    ) -> AppResult<Option<VisitorActivity>> {
        Ok(store::visitor_of(c, ws, conversation_id)
            .await?
            .map(|v| VisitorActivity {
                typing: v.typing_until.is_some_and(|t| t > now),
                read_up_to: v.read_up_to,
            }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_prefixed_and_long() {
        let s = super::fresh_secret("vt_");
        assert!(s.starts_with("vt_") && s.len() == 43);
        assert_ne!(s, super::fresh_secret("vt_"));
    }
}
