//! SMS, WhatsApp and voice. A provider (Twilio, or anything speaking its format) posts signed
//! webhooks: texts become messages on the customer's open conversation in the inbox, delivery
//! reports move our replies' state, call progress becomes a call on a voice conversation.
//! Replies leave through the provider's REST API as durable jobs.

use citius_domain::conversation::{Channel, MessageKind, Priority};
use citius_domain::customer::{Identity, IdentityKind};
use citius_domain::event::EventKind;
use citius_domain::records::{Call, Event, Inbox, ProviderAccount};
use citius_domain::role::Permission;
use citius_domain::telephony::{
    self as tel, CallPhase, CallUpdate, DeliveryReport, InboundText, ProviderInput, SendOutcome,
};
use citius_domain::webhook::TargetPolicy;
use citius_domain::{Invalid, content::Body};
use citius_store::telephony::{self as store, Credentials, NewCall, NewText};
use citius_store::{Conn, DbError, conversations, customers, directory, jobs, now_ms};
use serde_json::json;

use crate::conversations::{By, PreparedConversation, append_message, insert_conversation};
use crate::{Actor, App, AppError, AppResult, require};

/// Sends one SMS or WhatsApp reply.
pub const SEND: &str = "text.send";
/// Tries before a reply counts as not delivered (about 40 minutes with the queue's back-off).
const SEND_ATTEMPTS: i64 = 8;
/// The longest text sent in one message (the provider splits it into SMS segments).
const MAX_SEND_CHARS: usize = 1_600;

/// What became of an inbound text.
#[derive(Debug, Clone)]
pub struct TextReceipt {
    pub conversation_id: i64,
    pub message_id: i64,
    /// The provider sent the same message before; nothing new was stored.
    pub duplicate: bool,
}

fn label(channel: Channel) -> &'static str {
    match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::Voice => "Call",
        _ => "SMS",
    }
}

impl App {
    fn provider_policy(&self) -> TargetPolicy {
        TargetPolicy {
            allow_private: self.config.webhook_allow_private,
            allowed_hosts: Vec::new(),
        }
    }

    pub async fn provider_accounts(&self, actor: &Actor) -> AppResult<Vec<ProviderAccount>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(store::accounts(&mut c, actor.workspace_id).await?)
    }

    pub async fn provider_account(
        &self,
        actor: &Actor,
        inbox_id: i64,
    ) -> AppResult<ProviderAccount> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        directory::inbox_by_id(&mut c, actor.workspace_id, inbox_id).await?;
        store::account(&mut c, actor.workspace_id, inbox_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Connects an SMS, WhatsApp or voice inbox to its provider account. Audited (never the token).
    pub async fn set_provider_account(
        &self,
        actor: &Actor,
        inbox_id: i64,
        input: ProviderInput,
    ) -> AppResult<ProviderAccount> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let inbox = directory::inbox_by_id(&mut tx, ws, inbox_id).await?;
        if !matches!(
            inbox.channel,
            Channel::Sms | Channel::Whatsapp | Channel::Voice
        ) {
            return Err(Invalid::field(
                "inbox",
                "only SMS, WhatsApp and voice inboxes have a provider account",
            )
            .into());
        }
        if inbox.address.is_none() {
            return Err(Invalid::field(
                "inbox",
                "give the inbox its phone number (address) first: replies are sent from it",
            )
            .into());
        }
        let has_token = store::account(&mut tx, ws, inbox_id).await?.is_some();
        let valid = input.validate(has_token, &self.provider_policy())?;
        store::put_account(
            &mut tx,
            ws,
            inbox_id,
            &valid.account_sid,
            valid.auth_token.as_deref(),
            valid.api_base.as_str().trim_end_matches('/'),
        )
        .await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "inbox.provider_set",
            "inbox",
            Some(inbox_id),
            json!({"account_sid": valid.account_sid, "api_base": valid.api_base.as_str(),
                   "token_changed": valid.auth_token.is_some()}),
        )
        .await?;
        let account = store::account(&mut tx, ws, inbox_id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn remove_provider_account(&self, actor: &Actor, inbox_id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        if !store::delete_account(&mut tx, actor.workspace_id, inbox_id).await? {
            return Err(AppError::NotFound);
        }
        crate::directory::audit(
            &mut tx,
            actor,
            "inbox.provider_removed",
            "inbox",
            Some(inbox_id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The secret a webhook for this inbox must be signed with. Webhooks carry no session: the
    /// signature is their authentication.
    pub async fn provider_token(&self, inbox_id: i64) -> AppResult<String> {
        let mut c = self.db.read().await?;
        Ok(store::credentials(&mut c, inbox_id)
            .await?
            .ok_or(AppError::NotFound)?
            .1
            .auth_token)
    }

    async fn webhook_inbox(&self, inbox_id: i64, channels: &[Channel]) -> AppResult<(i64, Inbox)> {
        let mut c = self.db.read().await?;
        let (ws, _) = store::credentials(&mut c, inbox_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let inbox = directory::inbox_by_id(&mut c, ws, inbox_id).await?;
        if !channels.contains(&inbox.channel) {
            return Err(Invalid::field(
                "inbox",
                format!(
                    "a {} inbox does not take this webhook",
                    inbox.channel.as_str()
                ),
            )
            .into());
        }
        Ok((ws, inbox))
    }

    /// Takes in an SMS or WhatsApp message. A webhook retried by the provider is stored once.
    pub async fn receive_text(&self, inbox_id: i64, text: InboundText) -> AppResult<TextReceipt> {
        let (ws, inbox) = self
            .webhook_inbox(inbox_id, &[Channel::Sms, Channel::Whatsapp])
            .await?;
        if text.from.whatsapp != (inbox.channel == Channel::Whatsapp) {
            return Err(Invalid::field(
                "From",
                format!("is not a {} address", label(inbox.channel)),
            )
            .into());
        }
        // Two webhooks can race: the same message retried (the loser finds the winner's), or two
        // texts from a new number (the loser's new customer collides; trying again finds it).
        let mut tries = 0;
        let receipt = loop {
            tries += 1;
            match self.store_text(ws, &inbox, &text).await {
                Err(AppError::Conflict(why)) => {
                    let mut c = self.db.read().await?;
                    if let Some((message_id, conversation_id)) =
                        store::message_by_sid(&mut c, inbox_id, &text.sid).await?
                    {
                        break TextReceipt {
                            conversation_id,
                            message_id,
                            duplicate: true,
                        };
                    }
                    if tries >= 3 {
                        return Err(AppError::Conflict(why));
                    }
                }
                other => break other?,
            }
        };
        if !receipt.duplicate
            && let Err(e) = self.dispatch(ws).await
        {
            tracing::warn!(error = %e, "routing a new text failed");
        }
        Ok(receipt)
    }

    async fn store_text(
        &self,
        ws: i64,
        inbox: &Inbox,
        text: &InboundText,
    ) -> AppResult<TextReceipt> {
        let mut tx = self.db.begin().await?;
        if let Some((message_id, conversation_id)) =
            store::message_by_sid(&mut tx, inbox.id, &text.sid).await?
        {
            return Ok(TextReceipt {
                conversation_id,
                message_id,
                duplicate: true,
            });
        }
        let body = Body::from_received(Some(&text.timeline_text()), None);
        let identity = Identity::parse(IdentityKind::Phone, &text.from.phone)?;
        let who = text
            .profile_name
            .clone()
            .unwrap_or_else(|| text.from.phone.clone());
        let (conversation_id, message_id, events) = continue_or_open(
            &mut tx,
            self.db.backend(),
            ws,
            inbox,
            identity,
            text.profile_name.clone(),
            format!("{} from {who}", label(inbox.channel)),
            &body,
        )
        .await?;
        store::insert_text(
            &mut tx,
            &NewText {
                message_id,
                workspace_id: ws,
                inbox_id: inbox.id,
                conversation_id,
                sid: Some(&text.sid),
                customer_address: &text.from.address(),
                delivery_state: "received",
                delivery_error: None,
            },
        )
        .await?;
        self.commit(tx, ws, events).await?;
        Ok(TextReceipt {
            conversation_id,
            message_id,
            duplicate: false,
        })
    }

    /// Moves a reply's delivery state as the provider reports it. Reports about unknown
    /// messages, or older than what is known, change nothing.
    pub async fn text_delivery_report(
        &self,
        inbox_id: i64,
        report: DeliveryReport,
    ) -> AppResult<()> {
        let (ws, _) = self
            .webhook_inbox(inbox_id, &[Channel::Sms, Channel::Whatsapp])
            .await?;
        let Some(state) = report.state() else {
            return Ok(());
        };
        let mut tx = self.db.begin().await?;
        let Some((message_id, conversation_id)) =
            store::message_by_sid(&mut tx, inbox_id, &report.sid).await?
        else {
            return Ok(());
        };
        let (_, _, _, details) = store::text_locked(&mut tx, self.db.backend(), message_id).await?;
        if !tel::delivery_advances(&details.delivery_state, state) {
            return Ok(());
        }
        store::set_delivery(
            &mut tx,
            message_id,
            None,
            state,
            report.error.as_deref(),
            details.attempts,
        )
        .await?;
        let mut events = Vec::new();
        if state == "failed" {
            events.push(
                conversations::insert_event(
                    &mut tx,
                    ws,
                    conversation_id,
                    EventKind::TextFailed,
                    None,
                    &json!({"message_id": message_id, "to": details.customer_address,
                            "error": report.error.clone().unwrap_or_else(|| report.status.clone())}),
                )
                .await?,
            );
        }
        self.commit(tx, ws, events).await?;
        Ok(())
    }

    /// Records a call's progress: the first report opens (or continues) the customer's voice
    /// conversation; later ones move the call forward. A repeated report changes nothing.
    pub async fn call_update(&self, inbox_id: i64, u: CallUpdate) -> AppResult<Call> {
        let (ws, inbox) = self.webhook_inbox(inbox_id, &[Channel::Voice]).await?;
        // The first reports of a call can race to open it; the loser tries again and finds it.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.apply_call_update(ws, &inbox, &u).await {
                Err(AppError::Conflict(_)) if tries < 3 => continue,
                other => return other,
            }
        }
    }

    async fn apply_call_update(&self, ws: i64, inbox: &Inbox, u: &CallUpdate) -> AppResult<Call> {
        let inbox_id = inbox.id;
        let mut tx = self.db.begin().await?;
        let mut events = Vec::new();
        let mut call =
            match store::call_by_sid(&mut tx, self.db.backend(), inbox_id, &u.sid).await? {
                Some(call) => call,
                None => {
                    // A withheld number is nobody's: the call gets a customer of its own.
                    let (identity, who) = match &u.customer {
                        Some(p) => (
                            Identity::parse(IdentityKind::Phone, &p.phone)?,
                            p.phone.clone(),
                        ),
                        None => (
                            Identity::parse(IdentityKind::External, &format!("call-{}", u.sid))?,
                            "a withheld number".to_string(),
                        ),
                    };
                    let text = if u.outbound {
                        format!("Phone call to {who}")
                    } else {
                        format!("Phone call from {who}")
                    };
                    let (conversation_id, _, evs) = continue_or_open(
                        &mut tx,
                        self.db.backend(),
                        ws,
                        inbox,
                        identity,
                        None,
                        text.clone(),
                        &Body::from_received(Some(&text), None),
                    )
                    .await?;
                    events.extend(evs);
                    store::insert_call(
                        &mut tx,
                        &NewCall {
                            workspace_id: ws,
                            inbox_id,
                            conversation_id,
                            sid: &u.sid,
                            outbound: u.outbound,
                            customer_number: u
                                .customer
                                .as_ref()
                                .map_or("withheld", |p| p.phone.as_str()),
                            our_number: &u.ours.phone,
                            phase: CallPhase::Ringing.as_str(),
                            provider_status: &u.provider_status,
                        },
                    )
                    .await?
                }
            };
        let before = call.clone();
        let current = CallPhase::parse(&call.phase).unwrap_or(CallPhase::Ringing);
        let now = jiff::Timestamp::now();
        if let Some(next) = u.phase
            && current.moves_to(next)
        {
            call.phase = next.as_str().to_string();
            call.provider_status = u.provider_status.clone();
            if matches!(next, CallPhase::Answered | CallPhase::Transferred)
                || (next == CallPhase::Completed && call.answered_at.is_none())
            {
                call.answered_at.get_or_insert(now);
            }
            if next.ended() {
                call.ended_at = Some(now);
            }
        }
        if let Some(d) = u.duration_secs {
            call.duration_secs = Some(d);
        }
        if let Some(t) = &u.transferred_to {
            call.transferred_to = Some(t.clone());
        }
        if let Some(r) = &u.recording_url {
            call.recording_url = Some(r.clone());
            call.recording_secs = u.recording_secs.or(call.recording_secs);
        }
        let moved = call.phase != before.phase;
        let recorded = call.recording_url != before.recording_url;
        if moved || recorded || call.duration_secs != before.duration_secs {
            store::update_call(&mut tx, &call).await?;
        }
        if moved || recorded || events.iter().any(|e| e.kind == EventKind::Created) {
            events.push(
                conversations::insert_event(
                    &mut tx,
                    ws,
                    call.conversation_id,
                    EventKind::CallUpdated,
                    None,
                    &json!({
                        "change": if recorded && !moved { "recording" } else { "phase" },
                        "call_id": call.id, "phase": call.phase, "provider_status": call.provider_status,
                        "outbound": call.outbound, "customer_number": call.customer_number,
                        "duration_secs": call.duration_secs, "transferred_to": call.transferred_to,
                        "recording_url": if recorded { call.recording_url.clone() } else { None },
                        "recording_secs": call.recording_secs,
                    }),
                )
                .await?,
            );
        }
        self.commit(tx, ws, events).await?;
        Ok(call)
    }

    /// The phone calls of a conversation.
    pub async fn calls(&self, actor: &Actor, conversation_id: i64) -> AppResult<Vec<Call>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        conversations::get(&mut c, actor.workspace_id, conversation_id).await?;
        Ok(store::calls_of(&mut c, actor.workspace_id, conversation_id).await?)
    }

    /// Sends a queued SMS or WhatsApp reply through the provider. Retried by the queue while
    /// the provider has trouble; a refusal fails the reply at once, visibly.
    pub(crate) async fn send_text(&self, job: &jobs::Job) -> AppResult<()> {
        let Some(message_id) = job.payload.get("message_id").and_then(|v| v.as_i64()) else {
            return Ok(());
        };
        let (ws, inbox_id, conversation_id, details, creds, from, text) = {
            let mut c = self.db.read().await?;
            let (ws, inbox_id, conversation_id, details) =
                match store::text(&mut c, message_id).await {
                    Ok(t) => t,
                    Err(DbError::NotFound) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
            if details.delivery_state != "queued" {
                return Ok(());
            }
            let creds = store::credentials(&mut c, inbox_id).await?.map(|(_, c)| c);
            let inbox = directory::inbox_by_id(&mut c, ws, inbox_id).await?;
            let from = inbox.address.map(|a| {
                if inbox.channel == Channel::Whatsapp {
                    format!("whatsapp:{a}")
                } else {
                    a
                }
            });
            let message = conversations::message_by_id(&mut c, ws, message_id).await?;
            (
                ws,
                inbox_id,
                conversation_id,
                details,
                creds,
                from,
                message.body_text,
            )
        };
        let outcome = match (creds, from) {
            (Some(creds), Some(from)) => {
                self.post_text(&creds, inbox_id, &from, &details.customer_address, &text)
                    .await
            }
            _ => SendOutcome::Refused("the inbox has no provider account or phone number".into()),
        };
        let mut tx = self.db.begin().await?;
        let result = match outcome {
            SendOutcome::Accepted { sid } => {
                store::set_delivery(&mut tx, message_id, Some(&sid), "sent", None, job.attempts)
                    .await?;
                self.commit(tx, ws, Vec::new()).await?;
                return Ok(());
            }
            SendOutcome::Retry(e) if job.attempts < job.max_attempts => {
                store::set_delivery(&mut tx, message_id, None, "queued", Some(&e), job.attempts)
                    .await?;
                tx.commit().await?;
                return Err(AppError::Unavailable(e));
            }
            SendOutcome::Retry(e) | SendOutcome::Refused(e) => e,
        };
        store::set_delivery(
            &mut tx,
            message_id,
            None,
            "failed",
            Some(&result),
            job.attempts,
        )
        .await?;
        let event = conversations::insert_event(
            &mut tx,
            ws,
            conversation_id,
            EventKind::TextFailed,
            None,
            &json!({"message_id": message_id, "to": details.customer_address, "error": result}),
        )
        .await?;
        self.commit(tx, ws, vec![event]).await?;
        Ok(())
    }

    async fn post_text(
        &self,
        creds: &Credentials,
        inbox_id: i64,
        from: &str,
        to: &str,
        text: &str,
    ) -> SendOutcome {
        let body: String = text.chars().take(MAX_SEND_CHARS).collect();
        let mut form = vec![
            ("To", to.to_string()),
            ("From", from.to_string()),
            ("Body", body),
        ];
        if let Some(base) = &self.config.public_url {
            form.push((
                "StatusCallback",
                format!(
                    "{}/hooks/twilio/{inbox_id}/status",
                    base.trim_end_matches('/')
                ),
            ));
        }
        let response = crate::webhooks::guarded_client(self.provider_policy())
            .post(tel::messages_endpoint(&creds.api_base, &creds.account_sid))
            .basic_auth(&creds.account_sid, Some(&creds.auth_token))
            .form(&form)
            .send()
            .await;
        match response {
            Ok(mut r) => {
                let status = r.status().as_u16();
                // The answer is a small JSON document: read no more than that.
                let mut body = Vec::new();
                while let Ok(Some(chunk)) = r.chunk().await {
                    body.extend_from_slice(&chunk);
                    if body.len() > 64 * 1024 {
                        break;
                    }
                }
                tel::judge_send(status, &String::from_utf8_lossy(&body))
            }
            Err(e) => SendOutcome::Retry(format!("the provider did not answer: {e}")),
        }
    }
}

/// The customer's open conversation in the inbox gets the message; without one, a new
/// conversation starts. Returns the conversation, the message and the events.
#[allow(clippy::too_many_arguments)]
async fn continue_or_open(
    c: &mut Conn,
    backend: citius_store::Backend,
    ws: i64,
    inbox: &Inbox,
    identity: Identity,
    name: Option<String>,
    subject: String,
    body: &Body,
) -> AppResult<(i64, i64, Vec<Event>)> {
    let by = By::Channel { automatic: None };
    if let Some(customer) = customers::find_by_identity(&mut *c, ws, &identity).await?
        && let Some(conv_id) = store::open_conversation(&mut *c, ws, customer, inbox.id).await?
    {
        let conv = conversations::get(&mut *c, ws, conv_id).await?;
        let (message_id, added) = append_message(
            &mut *c,
            backend,
            by,
            ws,
            conv.id,
            conv.customer_id,
            MessageKind::Inbound,
            body,
            &[],
        )
        .await?;
        let mut events = vec![added];
        events.extend(crate::conversations::reopen_for_customer(&mut *c, ws, &conv).await?);
        return Ok((conv.id, message_id, events));
    }
    let new = PreparedConversation {
        identities: vec![identity],
        customer_name: name,
        attributes: None,
        subject: subject.chars().take(200).collect(),
        body: body.clone(),
        files: Vec::new(),
        tags: Vec::new(),
        custom_fields: json!({}),
        kind: MessageKind::Inbound,
        channel: inbox.channel,
        priority: Priority::Normal,
        inbox_id: Some(inbox.id),
        assignee_id: None,
        team_id: None,
    };
    let (conv, message_id, events) = insert_conversation(&mut *c, backend, by, ws, &new).await?;
    Ok((conv.id, message_id, events))
}

/// Called for every reply on an SMS or WhatsApp conversation: the reply is queued for sending
/// (in the same transaction), to where the customer last wrote from.
pub(crate) async fn queue_outgoing(
    c: &mut Conn,
    ws: i64,
    conv: &citius_domain::records::Conversation,
    message_id: i64,
) -> AppResult<()> {
    let Some(inbox_id) = conv.inbox_id else {
        return Ok(());
    };
    let to = match store::last_customer_address(&mut *c, conv.id).await? {
        Some(a) => Some(a),
        None => customers::get(&mut *c, ws, conv.customer_id)
            .await?
            .identities
            .iter()
            .find(|i| i.kind == IdentityKind::Phone)
            .map(|i| {
                if conv.channel == Channel::Whatsapp {
                    format!("whatsapp:{}", i.value)
                } else {
                    i.value.clone()
                }
            }),
    };
    let problem = to.is_none().then_some("the customer has no phone number");
    store::insert_text(
        &mut *c,
        &NewText {
            message_id,
            workspace_id: ws,
            inbox_id,
            conversation_id: conv.id,
            sid: None,
            customer_address: to.as_deref().unwrap_or(""),
            delivery_state: if problem.is_some() {
                "failed"
            } else {
                "queued"
            },
            delivery_error: problem,
        },
    )
    .await?;
    if problem.is_none() {
        jobs::enqueue(
            c,
            &jobs::NewJob {
                workspace_id: Some(ws),
                kind: SEND,
                payload: json!({"message_id": message_id}),
                run_at: now_ms(),
                max_attempts: SEND_ATTEMPTS,
                dedupe_key: Some(format!("{SEND}:{message_id}")),
            },
        )
        .await?;
    }
    Ok(())
}
