//! What the platform stores and shows: the records every layer passes around.
//! Timestamps are UTC instants; on the wire they are RFC 3339 strings.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::conversation::{Channel, MessageKind, Priority, Status};
use crate::customer::IdentityKind;
use crate::event::EventKind;
use crate::role::Role;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// Role in the workspace the request is made in.
    pub role: Role,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub member_ids: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Skill {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Inbox {
    pub id: i64,
    pub name: String,
    pub channel: Channel,
    pub address: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to recognise it; the token itself is never stored.
    pub prefix: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct IdentityView {
    pub kind: IdentityKind,
    pub value: String,
}

/// A customer's first email address, for greetings and webhooks.
impl Customer {
    pub fn email(&self) -> Option<&str> {
        self.identities
            .iter()
            .find(|i| i.kind == IdentityKind::Email)
            .map(|i| i.value.as_str())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub identities: Vec<IdentityView>,
    /// Set when this customer was merged into another; its history now lives there.
    pub merged_into_id: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerNote {
    pub id: i64,
    pub customer_id: i64,
    pub author_user_id: Option<i64>,
    pub body: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    pub channel: Channel,
    pub inbox_id: Option<i64>,
    pub status: Status,
    pub priority: Priority,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    pub subject: String,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub snoozed_until: Option<Timestamp>,
    pub message_count: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub kind: MessageKind,
    pub author_user_id: Option<i64>,
    pub author_customer_id: Option<i64>,
    pub body_text: String,
    /// Sanitised on the server; safe to render.
    pub body_html: String,
    pub attachments: Vec<Attachment>,
    /// Mail details when the message came or went by email.
    pub email: Option<Box<EmailDetails>>,
    /// SMS or WhatsApp details when the message came or went that way.
    pub text: Option<Box<TextDetails>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// How an SMS or WhatsApp message travelled.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TextDetails {
    /// The provider's id for the message (unknown until a send is accepted).
    pub sid: Option<String>,
    /// The customer's address as the provider writes it, e.g. `whatsapp:+14155550100`.
    pub customer_address: String,
    /// `received`, `queued`, `sent`, `delivered`, `read` or `failed`.
    pub delivery_state: String,
    pub delivery_error: Option<String>,
    pub attempts: i64,
}

/// The SMS/WhatsApp/voice provider account of an inbox. The auth token is never shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderAccount {
    pub inbox_id: i64,
    pub account_sid: String,
    pub api_base: String,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Someone was @mentioned in an internal note.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Mention {
    pub id: i64,
    pub conversation_id: i64,
    pub subject: String,
    pub message_id: i64,
    /// The start of the note.
    pub excerpt: String,
    pub by_user_id: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When they opened the conversation since.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub seen_at: Option<Timestamp>,
}

/// An inbox view someone saved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    pub filters: crate::views::ViewFilters,
    /// Everyone in the workspace sees it.
    pub shared: bool,
    pub owner_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// The live-chat widget of a chat inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatWidget {
    pub inbox_id: i64,
    /// Public: the snippet on the website carries it.
    pub key: String,
    pub greeting: String,
    pub color: String,
    /// Sites allowed to embed the widget; empty: any.
    pub allowed_origins: Vec<String>,
    /// Where offline messages go (an email inbox).
    pub offline_inbox_id: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A phone call on a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Call {
    pub id: i64,
    pub conversation_id: i64,
    pub inbox_id: i64,
    /// We called the customer.
    pub outbound: bool,
    pub customer_number: String,
    pub our_number: String,
    /// `ringing`, `answered`, `transferred`, `completed` or `missed`.
    pub phase: String,
    /// The provider's own word for the state, e.g. `no-answer`.
    pub provider_status: String,
    pub duration_secs: Option<i64>,
    pub recording_url: Option<String>,
    pub recording_secs: Option<i64>,
    pub transferred_to: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
}

/// What a message looked like as mail, and how its delivery went.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmailDetails {
    /// The Message-ID header, without angle brackets.
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Where quoted text or a signature starts in `body_text` (characters); the timeline folds it away.
    pub fold_at: Option<i64>,
    /// `received`, `queued`, `sent`, `failed` or `bounced`.
    pub delivery_state: String,
    pub delivery_error: Option<String>,
    pub attempts: i64,
    /// The original is kept and can be downloaded.
    pub has_original: bool,
}

/// What became of a received mail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundMail {
    pub id: i64,
    pub inbox_id: i64,
    /// `smtp` or `imap`.
    pub source: String,
    pub envelope_from: Option<String>,
    /// `created`, `appended`, `auto_reply`, `bounce`, `ignored` or `rejected`.
    pub outcome: String,
    pub reason: Option<String>,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub size: i64,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Timestamp,
}

/// An external mailbox an email inbox reads over IMAP, and how reading it goes. The password
/// is never shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImapMailbox {
    pub inbox_id: i64,
    pub host: String,
    pub port: i64,
    /// `tls` or `plain`.
    pub security: String,
    pub username: String,
    pub folder: String,
    pub interval_secs: i64,
    pub enabled: bool,
    /// The highest UID read so far in the folder.
    pub last_uid: i64,
    /// Messages taken from the mailbox so far.
    pub fetched: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_polled_at: Option<Timestamp>,
    /// Why the last poll failed, if it did.
    pub last_error: Option<String>,
    /// Polls failed in a row.
    pub failures: i64,
    #[schema(value_type = String, format = DateTime)]
    pub next_poll_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    pub id: i64,
    pub conversation_id: i64,
    pub kind: EventKind,
    pub actor_user_id: Option<i64>,
    #[schema(value_type = Object)]
    pub data: Value,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// One entry of a conversation's timeline, in the order things happened.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineItem {
    Message(Message),
    Event(Event),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<i64>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub ip: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHits {
    pub conversations: Vec<Conversation>,
    pub customers: Vec<Customer>,
}

/// A background job as operators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobInfo {
    pub id: i64,
    pub kind: String,
    /// queued, running, done or dead (gave up after its last attempt).
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[schema(value_type = String, format = DateTime)]
    pub run_at: Timestamp,
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A conversation passed to another agent or team, with what the receiver needs to carry on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transfer {
    pub id: i64,
    pub conversation_id: i64,
    pub from_user_id: Option<i64>,
    pub to_user_id: Option<i64>,
    pub to_team_id: Option<i64>,
    pub mode: crate::handoff::TransferMode,
    pub state: crate::handoff::TransferState,
    pub fallback: crate::handoff::Fallback,
    pub capsule: crate::handoff::Capsule,
    pub message_to_customer: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When an unanswered warm offer falls back.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<i64>,
    pub decline_reason: Option<String>,
}

/// A promise to a customer or an update owed before resolving.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUp {
    pub id: i64,
    pub conversation_id: i64,
    pub kind: crate::handoff::FollowUpKind,
    pub text: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    pub created_by: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<Timestamp>,
    pub done_by: Option<i64>,
    /// Due and not done.
    pub overdue: bool,
}

/// How handoffs went over a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandoffReport {
    pub transfers: i64,
    pub conversations_transferred: i64,
    pub transfers_per_conversation: f64,
    pub accepted: i64,
    pub declined: i64,
    pub expired: i64,
    /// Warm offers still waiting for an answer.
    pub waiting: i64,
    pub mean_secs_to_accept: Option<f64>,
    /// Transferred conversations since resolved or closed.
    pub resolved_after_handoff: i64,
    /// Conversations accepted by a third (or later) holder: the ones customers feel most.
    pub passed_three_or_more: i64,
}

/// Where outbound webhooks of a workspace go. The signing secret is shown once, when created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpointInfo {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event types delivered; `*` means all.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the endpoint was turned off automatically, if it was.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed, if the latest ones did.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub failing_since: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// One event sent (or being sent) to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookMessageInfo {
    pub id: i64,
    pub endpoint_id: i64,
    /// The `webhook-id` header: receivers de-duplicate on it; replays keep it.
    pub msg_id: String,
    pub event_type: String,
    /// pending, delivered or failed (gave up after its last attempt).
    pub status: String,
    pub attempts: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// One try at delivering a webhook message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookAttemptInfo {
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}
