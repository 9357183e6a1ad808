//! Email in and out. Mail from the SMTP listener or an IMAP mailbox becomes messages on the
//! customer's timeline (threaded, de-duplicated, loops and bounces recognised), each in one
//! transaction that also keeps the original. Replies to email conversations leave through the
//! SMTP relay as durable jobs, retried with the same Message-ID until they go or fail for good.

use std::sync::Arc;

use citius_domain::conversation::{Channel, MessageKind, Priority, Status};
use citius_domain::customer::{Identity, IdentityKind};
use citius_domain::email::{self as mail, ParsedMail, Refusal, ReplyToken};
use citius_domain::event::EventKind;
use citius_domain::paging::{Page, PageRequest};
use citius_domain::records::{Event, InboundMail, Inbox};
use citius_domain::role::Permission;
use citius_store::conversations as store;
use citius_store::email::{self as email_store, NewEmailMessage, NewInbound};
use citius_store::{Conn, DbError, customers, directory, jobs, now_ms};
use lettre::AsyncTransport;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::conversations::{By, File, PreparedConversation, append_message, insert_conversation};
use crate::{Actor, App, AppError, AppResult, require};

/// Sends one outgoing email message.
pub const SEND: &str = "email.send";
/// Tries before a message counts as not delivered (about 2.8 hours with the queue's back-off).
const SEND_ATTEMPTS: i64 = 10;
/// The instance key that signs reply tokens.
const TOKEN_KEY: &str = "mail_reply_token";

/// Where mail for one recipient address goes.
#[derive(Debug, Clone)]
pub struct MailTarget {
    pub workspace_id: i64,
    pub inbox: Inbox,
    /// What followed '+' in the address (a reply token, or anything the sender chose).
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailSource {
    Smtp,
    Imap,
}

impl MailSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MailSource::Smtp => "smtp",
            MailSource::Imap => "imap",
        }
    }
}

/// What became of a mail in one inbox.
#[derive(Debug, Clone)]
pub struct MailReceipt {
    pub outcome: String,
    pub reason: Option<String>,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    /// The same mail had arrived before; nothing new was stored.
    pub duplicate: bool,
}

/// Why mail was not taken.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message itself is unacceptable: tell the sender (SMTP 5xx).
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// Storing it failed: the sender should try again later (SMTP 4xx).
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl App {
    /// The key that signs reply tokens, shared by all nodes through the database.
    pub(crate) async fn mail_key(&self) -> AppResult<Arc<[u8]>> {
        let key = self
            .mail_key
            .get_or_try_init(|| async {
                let mut c = self.db.begin().await?;
                let key = email_store::instance_key(&mut c, TOKEN_KEY, &fresh_key()).await?;
                c.commit().await?;
                Ok::<_, AppError>(Arc::from(key.into_bytes()))
            })
            .await?;
        Ok(key.clone())
    }

    /// The inbox an address belongs to (`support+anything@` finds `support@`).
    pub async fn mail_target(&self, address: &str) -> AppResult<Option<MailTarget>> {
        let (base, tag) = mail::split_plus_address(address);
        let mut c = self.db.read().await?;
        Ok(email_store::inbox_for_address(&mut c, &base)
            .await?
            .map(|(workspace_id, inbox)| MailTarget {
                workspace_id,
                inbox,
                tag,
            }))
    }

    /// Takes in one received mail for each of its inboxes. Returns once everything is durably
    /// stored; a redelivery is recognised and stored once.
    pub async fn receive_mail(
        &self,
        targets: &[MailTarget],
        raw: Vec<u8>,
        source: MailSource,
        envelope_from: Option<String>,
    ) -> Result<Vec<MailReceipt>, MailError> {
        // Parsing is CPU work on untrusted input of up to 25 MB: keep it off the async threads.
        let raw = Arc::new(raw);
        let parsed = {
            let (raw, envelope) = (raw.clone(), envelope_from.clone());
            tokio::task::spawn_blocking(move || {
                mail::parse_with_envelope(&raw, envelope.as_deref())
            })
            .await
            .map_err(|_| Refusal::Unparseable)??
        };
        let parsed = Arc::new(parsed);
        let key = self.mail_key().await?;
        let raw_sha = hex::encode(Sha256::digest(raw.as_slice()));
        let mut receipts = Vec::new();
        let mut routed = Vec::new();
        for target in targets {
            let ws = target.workspace_id;
            let (t, p, r, k, sha, from) = (
                target.clone(),
                parsed.clone(),
                raw.clone(),
                key.clone(),
                raw_sha.clone(),
                envelope_from.clone(),
            );
            let backend = self.db.backend();
            let receipt = self
                .writes()
                .write(
                    ws,
                    Box::new(move |c| {
                        let (k, t, p, r, sha, from) = (
                            k.clone(),
                            t.clone(),
                            p.clone(),
                            r.clone(),
                            sha.clone(),
                            from.clone(),
                        );
                        Box::pin(async move {
                            receive_in(c, backend, &k, &t, &p, &r, &sha, source, from.as_deref())
                                .await
                        })
                    }),
                )
                .await?;
            if receipt.outcome == "created" {
                routed.push(ws);
            }
            receipts.push(receipt);
        }
        for ws in routed {
            // Stored already: a routing hiccup is the worker's to retry, not the sender's.
            if let Err(e) = self.dispatch(ws).await {
                tracing::warn!(error = %e, "routing new mail failed");
            }
        }
        Ok(receipts)
    }

    /// Received mail of the workspace, newest first: what arrived and what became of it.
    pub async fn inbound_mail(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> AppResult<Page<InboundMail>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(email_store::inbound_log(&mut c, actor.workspace_id, page).await?)
    }

    /// A message's email exactly as received or sent.
    pub async fn email_original(&self, actor: &Actor, message_id: i64) -> AppResult<Vec<u8>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        let (_, _, raw) =
            email_store::email_message(&mut c, actor.workspace_id, message_id).await?;
        let raw = raw.ok_or(AppError::NotFound)?;
        Ok(email_store::blob(&mut c, &raw).await?)
    }

    /// Sends a failed or bounced email message again (same Message-ID: the customer's mail
    /// program shows it once).
    pub async fn resend_email(&self, actor: &Actor, message_id: i64) -> AppResult<()> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let (_, details, _) = email_store::email_message(&mut tx, ws, message_id).await?;
        if !matches!(details.delivery_state.as_str(), "failed" | "bounced") {
            return Err(AppError::Conflict(format!(
                "the message is {}; only failed or bounced mail is sent again",
                details.delivery_state
            )));
        }
        email_store::set_delivery(&mut tx, message_id, "queued", None, details.attempts).await?;
        enqueue_send(&mut tx, ws, message_id, true).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Job: sends one queued email through the relay.
    pub(crate) async fn send_email(&self, job: &jobs::Job) -> AppResult<()> {
        let (Some(ws), Some(message_id)) = (
            job.workspace_id,
            job.payload.get("message_id").and_then(|v| v.as_i64()),
        ) else {
            return Ok(());
        };
        let mut c = self.db.read().await?;
        let (conversation_id, details, raw_sha) =
            match email_store::email_message(&mut c, ws, message_id).await {
                Ok(row) => row,
                Err(DbError::NotFound) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
        if details.delivery_state == "sent" {
            return Ok(());
        }
        // The first attempt composes the message and keeps it; retries send the same bytes.
        let raw = match raw_sha {
            Some(sha) => email_store::blob(&mut c, &sha).await?,
            None => {
                let raw = compose(&mut c, ws, conversation_id, message_id, &details).await?;
                drop(c);
                let sha = hex::encode(Sha256::digest(&raw));
                let mut tx = self.db.begin().await?;
                email_store::put_blob(&mut tx, &sha, &raw).await?;
                email_store::set_original(&mut tx, message_id, &sha).await?;
                tx.commit().await?;
                raw
            }
        };
        let mut recipients = details.to.clone();
        recipients.extend(details.cc.iter().cloned());
        let result = self.relay_send(&details.from, &recipients, &raw).await;
        let attempts = job.attempts;
        let mut tx = self.db.begin().await?;
        let to = details.to.join(", ");
        match result {
            Ok(()) => {
                email_store::set_delivery(&mut tx, message_id, "sent", None, attempts).await?;
                let e = store::insert_event(
                    &mut tx,
                    ws,
                    conversation_id,
                    EventKind::EmailSent,
                    None,
                    &json!({"message_id": message_id, "to": to}),
                )
                .await?;
                self.commit(tx, ws, vec![e]).await?;
                Ok(())
            }
            Err(SendError { permanent, text }) => {
                if permanent || attempts >= job.max_attempts {
                    email_store::set_delivery(&mut tx, message_id, "failed", Some(&text), attempts)
                        .await?;
                    let e = store::insert_event(
                        &mut tx,
                        ws,
                        conversation_id,
                        EventKind::EmailFailed,
                        None,
                        &json!({"message_id": message_id, "to": to, "error": text}),
                    )
                    .await?;
                    self.commit(tx, ws, vec![e]).await?;
                    // Nothing more to try: the job is finished, the message shows the failure.
                    Ok(())
                } else {
                    email_store::set_delivery(&mut tx, message_id, "queued", Some(&text), attempts)
                        .await?;
                    tx.commit().await?;
                    Err(AppError::Unavailable(text))
                }
            }
        }
    }

    async fn relay_send(&self, from: &str, to: &[String], raw: &[u8]) -> Result<(), SendError> {
        let Some(relay) = self.relay()? else {
            return Err(SendError {
                permanent: false,
                text: "no outgoing mail server is configured (smtp_relay)".into(),
            });
        };
        let parse = |a: &str| {
            a.parse::<lettre::Address>().map_err(|e| SendError {
                permanent: true,
                text: format!("invalid address {a}: {e}"),
            })
        };
        let envelope = lettre::address::Envelope::new(
            Some(parse(from)?),
            to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?,
        )
        .map_err(|e| SendError {
            permanent: true,
            text: e.to_string(),
        })?;
        relay
            .send_raw(&envelope, raw)
            .await
            .map(|_| ())
            .map_err(|e| SendError {
                permanent: e.is_permanent(),
                text: e.to_string().chars().take(500).collect(),
            })
    }

    fn relay(
        &self,
    ) -> Result<Option<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>, SendError> {
        let Some(url) = self.config.smtp_relay.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let transport = self.relay.get_or_init(|| {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                .map(|b| b.timeout(Some(std::time::Duration::from_secs(60))).build())
                .map_err(|e| e.to_string())
        });
        match transport {
            Ok(t) => Ok(Some(t.clone())),
            Err(e) => Err(SendError {
                permanent: false,
                text: format!("smtp_relay is not usable: {e}"),
            }),
        }
    }
}

struct SendError {
    permanent: bool,
    text: String,
}

fn fresh_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Stores one received mail in one inbox; runs inside the write transaction.
#[allow(clippy::too_many_arguments)]
async fn receive_in(
    c: &mut Conn,
    backend: citius_store::Backend,
    key: &[u8],
    target: &MailTarget,
    mail: &ParsedMail,
    raw: &[u8],
    raw_sha: &str,
    source: MailSource,
    envelope_from: Option<&str>,
) -> AppResult<(MailReceipt, Vec<Event>)> {
    let ws = target.workspace_id;
    if let Some(prev) =
        email_store::already_received(&mut *c, target.inbox.id, &mail.dedupe_key).await?
    {
        return Ok((
            MailReceipt {
                outcome: prev.outcome,
                reason: prev.reason,
                conversation_id: prev.conversation_id,
                message_id: prev.message_id,
                duplicate: true,
            },
            Vec::new(),
        ));
    }
    email_store::put_blob(&mut *c, raw_sha, raw).await?;
    // What became of the mail: outcome, reason, conversation and message.
    let mut events = Vec::new();
    let (outcome, reason, conversation_id, message_id) = if email_store::is_own_address(
        &mut *c,
        &mail.from.address,
    )
    .await?
        || ReplyToken::in_references([mail.message_id.as_str()], key).is_some()
    {
        (
            "ignored",
            Some("sent by Citius itself (a mail loop)".into()),
            None,
            None,
        )
    } else if let Some(b) = &mail.bounce {
        let found = match &b.original_message_id {
            Some(id) => email_store::by_rfc_ids(&mut *c, ws, std::slice::from_ref(id)).await?,
            None => Vec::new(),
        };
        match found.first() {
            Some(&(msg, conv)) => {
                let (_, details, _) = email_store::email_message(&mut *c, ws, msg).await?;
                email_store::set_delivery(
                    &mut *c,
                    msg,
                    "bounced",
                    Some(&b.diagnostic),
                    details.attempts,
                )
                .await?;
                events.push(
                    store::insert_event(
                        &mut *c,
                        ws,
                        conv,
                        EventKind::EmailFailed,
                        None,
                        &json!({"message_id": msg, "to": details.to.join(", "), "error": b.diagnostic, "bounced": true}),
                    )
                    .await?,
                );
                ("bounce", Some(b.diagnostic.clone()), Some(conv), Some(msg))
            }
            None => (
                "ignored",
                Some("a delivery report about mail Citius did not send".into()),
                None,
                None,
            ),
        }
    } else {
        let files: Vec<File> = mail
            .files
            .iter()
            .map(|f| File::new(f.filename.clone(), f.content_type.clone(), f.data.clone()))
            .collect();
        let automatic = mail.automatic.map(|a| a.as_str());
        let by = By::Channel { automatic };
        let existing = thread_of(&mut *c, key, target, mail).await?;
        let (outcome, conv_id, msg_id) = match existing {
            Some(conv) => {
                let (msg_id, added) = append_message(
                    &mut *c,
                    backend,
                    by,
                    ws,
                    conv.id,
                    conv.customer_id,
                    MessageKind::Inbound,
                    &mail.body,
                    &files,
                )
                .await?;
                events.push(added);
                // An out-of-office answer does not mean the customer needs us again.
                if automatic.is_none() {
                    events.extend(
                        crate::conversations::reopen_for_customer(&mut *c, ws, &conv).await?,
                    );
                }
                (
                    if automatic.is_some() {
                        "auto_reply"
                    } else {
                        "appended"
                    },
                    conv.id,
                    msg_id,
                )
            }
            None => {
                let new = PreparedConversation {
                    identities: vec![Identity::parse(IdentityKind::Email, &mail.from.address)?],
                    customer_name: mail.from.name.clone(),
                    attributes: None,
                    subject: mail.subject.clone(),
                    body: mail.body.clone(),
                    files,
                    tags: Vec::new(),
                    custom_fields: json!({}),
                    kind: MessageKind::Inbound,
                    channel: Channel::Email,
                    priority: Priority::Normal,
                    inbox_id: Some(target.inbox.id),
                    assignee_id: None,
                    team_id: None,
                };
                let (conv, msg_id, evs) =
                    insert_conversation(&mut *c, backend, by, ws, &new).await?;
                events.extend(evs);
                (
                    if automatic.is_some() {
                        "auto_reply"
                    } else {
                        "created"
                    },
                    conv.id,
                    msg_id,
                )
            }
        };
        email_store::insert_email_message(
            &mut *c,
            &NewEmailMessage {
                message_id: msg_id,
                workspace_id: ws,
                conversation_id: conv_id,
                rfc_message_id: &mail.message_id,
                from_address: mail.reply_address(),
                to: &mail.to,
                cc: &mail.cc,
                raw_sha256: Some(raw_sha),
                fold_at: mail.fold_at.map(|f| f as i64),
                delivery_state: "received",
            },
        )
        .await?;
        (outcome, None, Some(conv_id), Some(msg_id))
    };
    email_store::record_inbound(
        &mut *c,
        &NewInbound {
            workspace_id: ws,
            inbox_id: target.inbox.id,
            dedupe_key: &mail.dedupe_key,
            source: source.as_str(),
            envelope_from,
            outcome,
            reason: reason.as_deref(),
            conversation_id,
            message_id,
            raw_sha256: Some(raw_sha),
            size: raw.len() as i64,
        },
    )
    .await?;
    Ok((
        MailReceipt {
            outcome: outcome.to_string(),
            reason,
            conversation_id,
            message_id,
            duplicate: false,
        },
        events,
    ))
}

/// The conversation a mail continues, if any. A signed token (in the address or a referenced
/// Message-ID) is trusted; a plain reference only when the sender is that conversation's
/// customer, so knowing someone's Message-ID does not let a stranger write into their
/// conversation. Closed conversations are final: new mail starts a new one.
async fn thread_of(
    c: &mut Conn,
    key: &[u8],
    target: &MailTarget,
    mail: &ParsedMail,
) -> AppResult<Option<citius_domain::records::Conversation>> {
    let ws = target.workspace_id;
    let token = target
        .tag
        .as_deref()
        .and_then(|t| ReplyToken::verify(t, key))
        .or_else(|| ReplyToken::in_references(mail.references.iter().map(String::as_str), key))
        .filter(|t| t.workspace_id == ws);
    let usable = |conv: &citius_domain::records::Conversation| conv.status != Status::Closed;
    if let Some(t) = token {
        match store::get(&mut *c, ws, t.conversation_id).await {
            Ok(conv) if usable(&conv) => return Ok(Some(conv)),
            Ok(_) | Err(DbError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let identity = Identity::parse(IdentityKind::Email, &mail.from.address)?;
    let sender = customers::find_by_identity(&mut *c, ws, &identity).await?;
    let Some(sender) = sender else {
        return Ok(None);
    };
    match email_store::customer_thread(&mut *c, ws, sender, &mail.references).await? {
        Some(conv_id) => Ok(Some(store::get(&mut *c, ws, conv_id).await?)),
        None => Ok(None),
    }
}

/// Called for every reply an agent, rule or macro adds: on an email conversation the reply is
/// queued for sending (in the same transaction). Other channels are not sent by mail.
pub(crate) async fn queue_outgoing(
    c: &mut Conn,
    ws: i64,
    conv: &citius_domain::records::Conversation,
    message_id: i64,
) -> AppResult<()> {
    let conversation_id = conv.id;
    let inbox = match conv.inbox_id {
        Some(id) => Some(directory::inbox_by_id(&mut *c, ws, id).await?),
        None => None,
    };
    let from = inbox
        .as_ref()
        .filter(|i| i.channel == Channel::Email)
        .and_then(|i| i.address.clone());
    // Answer where the customer last wrote from; else their known address.
    let to = match email_store::last_received_from(&mut *c, conversation_id).await? {
        Some(a) => Some(a),
        None => customers::get(&mut *c, ws, conv.customer_id)
            .await?
            .email()
            .map(str::to_string),
    };
    let key = email_store::instance_key(&mut *c, TOKEN_KEY, &fresh_key()).await?;
    let token = ReplyToken {
        workspace_id: ws,
        conversation_id,
    };
    let domain = from
        .as_deref()
        .and_then(|f| f.split_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_else(|| "citius.invalid".into());
    let unique = hex::encode(rand::random::<[u8; 8]>());
    let rfc_id = token.message_id(key.as_bytes(), &unique, &domain);
    let problem = match (&from, &to) {
        (None, _) => Some("the conversation has no email inbox to send from"),
        (_, None) => Some("the customer has no email address"),
        _ => None,
    };
    email_store::insert_email_message(
        &mut *c,
        &NewEmailMessage {
            message_id,
            workspace_id: ws,
            conversation_id,
            rfc_message_id: &rfc_id,
            from_address: from.as_deref().unwrap_or(""),
            to: &to.into_iter().collect::<Vec<_>>(),
            cc: &[],
            raw_sha256: None,
            fold_at: None,
            delivery_state: if problem.is_some() {
                "failed"
            } else {
                "queued"
            },
        },
    )
    .await?;
    match problem {
        Some(p) => {
            email_store::set_delivery(&mut *c, message_id, "failed", Some(p), 0).await?;
        }
        None => enqueue_send(&mut *c, ws, message_id, false).await?,
    }
    Ok(())
}

async fn enqueue_send(c: &mut Conn, ws: i64, message_id: i64, again: bool) -> AppResult<()> {
    jobs::enqueue(
        c,
        &jobs::NewJob {
            workspace_id: Some(ws),
            kind: SEND,
            payload: json!({"message_id": message_id}),
            run_at: now_ms(),
            max_attempts: SEND_ATTEMPTS,
            dedupe_key: (!again).then(|| format!("email.send:{message_id}")),
        },
    )
    .await?;
    Ok(())
}

/// Builds the outgoing message: text and HTML, the files, and the headers that keep the
/// customer's mail program threading it (In-Reply-To, References) and their reply finding its
/// way back (the signed Message-ID and Reply-To).
async fn compose(
    c: &mut Conn,
    ws: i64,
    conversation_id: i64,
    message_id: i64,
    details: &citius_domain::records::EmailDetails,
) -> AppResult<Vec<u8>> {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

    let conv = store::get(&mut *c, ws, conversation_id).await?;
    let msg = store::message_by_id(&mut *c, ws, message_id).await?;
    let inbox = match conv.inbox_id {
        Some(id) => Some(directory::inbox_by_id(&mut *c, ws, id).await?),
        None => None,
    };
    let key = email_store::instance_key(&mut *c, TOKEN_KEY, &fresh_key()).await?;
    let token = ReplyToken {
        workspace_id: ws,
        conversation_id,
    };
    let bad = |what: &str| AppError::Unavailable(format!("cannot compose the email: {what}"));
    let from_name = inbox.as_ref().map(|i| i.name.clone());
    let from: lettre::Address = details
        .from
        .parse()
        .map_err(|_| bad("invalid From address"))?;
    let reply_to: lettre::Address = token
        .reply_address(key.as_bytes(), &details.from)
        .parse()
        .map_err(|_| bad("invalid Reply-To address"))?;
    let thread: Vec<String> = email_store::thread_ids(&mut *c, conversation_id, 20)
        .await?
        .into_iter()
        .filter(|id| id != &details.message_id)
        .collect();
    let mut b = lettre::Message::builder()
        .from(Mailbox::new(from_name, from))
        .reply_to(Mailbox::new(None, reply_to))
        .subject(mail::reply_subject(&conv.subject))
        .message_id(Some(format!("<{}>", details.message_id)));
    for to in &details.to {
        b = b.to(Mailbox::new(
            None,
            to.parse().map_err(|_| bad("invalid To address"))?,
        ));
    }
    if let Some(last) = thread.last() {
        b = b.in_reply_to(format!("<{last}>"));
        b = b.references(
            thread
                .iter()
                .map(|id| format!("<{id}>"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let html = format!(
        "<!doctype html><html><body><div>{}</div></body></html>",
        msg.body_html
    );
    let alternative = MultiPart::alternative_plain_html(msg.body_text.clone(), html);
    let body = if msg.attachments.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &msg.attachments {
            let data = email_store::blob(&mut *c, &a.sha256).await?;
            let ct = ContentType::parse(&a.content_type).unwrap_or(
                ContentType::parse("application/octet-stream").map_err(|_| bad("content type"))?,
            );
            let part: SinglePart = Attachment::new(a.filename.clone()).body(data, ct);
            mixed = mixed.singlepart(part);
        }
        mixed
    };
    let m = b.multipart(body).map_err(|e| bad(&e.to_string()))?;
    Ok(m.formatted())
}
