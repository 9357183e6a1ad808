//! Passing the torch: transfers with a context capsule (warm offers or cold moves), the
//! follow-ups agents owe customers, and how handoffs went.

use citius_domain::Invalid;
use citius_domain::content::Body;
use citius_domain::conversation::MessageKind;
use citius_domain::error::{optional_text, required_text};
use citius_domain::event::EventKind;
use citius_domain::handoff::{
    self, Capsule, CapsuleSource, Fallback, FollowUpKind, OfferAnswer, Promise, TransferMode,
    TransferState,
};
use citius_domain::records::{Event, FollowUp, HandoffReport, Transfer};
use citius_domain::role::Permission;
use citius_store::conversations::{self as store, Changes};
use citius_store::{Conn, directory, handoffs, jobs, now_ms};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::not_found_as;
use crate::{Actor, App, AppError, AppResult, require};

/// Ends a warm offer nobody answered in time.
pub const OFFER_TIMEOUT: &str = "transfer.timeout";
/// Raises an overdue follow-up.
pub const FOLLOW_UP_DUE: &str = "follow_up.due";

/// A transfer as requested.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// The agent who should take over.
    pub to_user_id: Option<i64>,
    /// The team that should take over (any member may accept a warm offer).
    pub to_team_id: Option<i64>,
    /// `warm` (default): the receiver accepts first. `cold`: moves at once.
    pub mode: Option<TransferMode>,
    /// Required: what the receiver needs to carry on.
    pub capsule: Option<Capsule>,
    /// Sent to the customer when the receiver takes over, e.g. who they are and that nothing
    /// needs repeating.
    pub message_to_customer: Option<String>,
    /// Who holds the conversation when a warm offer is declined or times out (default `sender`).
    pub fallback: Option<Fallback>,
    /// How long a warm offer waits (default 120 s).
    pub timeout_secs: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineInput {
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpInput {
    pub kind: FollowUpKind,
    pub text: String,
    /// When it is due (RFC 3339); promises without a time are allowed.
    pub due_at: Option<String>,
}

/// A message to the customer in a handoff: short and plain.
const MAX_HANDOFF_MESSAGE: usize = 2000;

impl App {
    /// Starts a transfer. Cold transfers move the conversation now; warm ones wait for the
    /// receiver's answer until they time out.
    pub async fn transfer(
        &self,
        actor: &Actor,
        conversation_id: i64,
        input: TransferInput,
    ) -> AppResult<Transfer> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let capsule = Capsule::parse(input.capsule.ok_or_else(|| {
            Invalid::field(
                "capsule",
                "is required: say what the customer wants and the next step",
            )
        })?)?;
        let message = input
            .message_to_customer
            .as_deref()
            .map(|m| optional_text("message_to_customer", m, MAX_HANDOFF_MESSAGE))
            .transpose()?
            .filter(|m| !m.is_empty());
        if input.to_user_id.is_none() && input.to_team_id.is_none() {
            return Err(Invalid::field("to_user_id", "give an agent, a team or both").into());
        }
        let mode = input.mode.unwrap_or(TransferMode::Warm);
        let fallback = input.fallback.unwrap_or(Fallback::Sender);
        let timeout_ms = handoff::offer_secs(input.timeout_secs)? * 1000;

        let mut tx = self.db.begin().await?;
        let conv = store::get(&mut tx, ws, conversation_id).await?;
        if let Some(u) = input.to_user_id {
            directory::member(&mut tx, ws, u)
                .await
                .map_err(|e| not_found_as(e, "to_user_id"))?;
            if Some(u) == conv.assignee_id {
                return Err(Invalid::field("to_user_id", "already holds this conversation").into());
            }
        }
        if let Some(t) = input.to_team_id {
            let team = directory::team(&mut tx, ws, t)
                .await
                .map_err(|e| not_found_as(e, "to_team_id"))?;
            if let Some(u) = input.to_user_id
                && !team.member_ids.contains(&u)
            {
                return Err(Invalid::field("to_user_id", "is not a member of that team").into());
            }
        }
        if handoffs::open_offer(&mut tx, ws, conversation_id)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(
                "an offer for this conversation is waiting for an answer".into(),
            ));
        }
        let state = match mode {
            TransferMode::Cold => TransferState::Accepted,
            TransferMode::Warm => TransferState::Offered,
        };
        let now = now_ms();
        let t = handoffs::insert_transfer(
            &mut tx,
            &handoffs::NewTransfer {
                workspace_id: ws,
                conversation_id,
                from_user_id: Some(actor.user_id),
                to_user_id: input.to_user_id,
                to_team_id: input.to_team_id,
                mode,
                state,
                fallback,
                capsule: &capsule,
                message_to_customer: message.as_deref(),
                expires_at: (mode == TransferMode::Warm).then_some(now + timeout_ms),
            },
        )
        .await?;
        let events = match mode {
            TransferMode::Cold => hand_over(&mut tx, self, actor, &t, None).await?,
            TransferMode::Warm => {
                jobs::enqueue(
                    &mut tx,
                    &jobs::NewJob {
                        workspace_id: Some(ws),
                        kind: OFFER_TIMEOUT,
                        payload: json!({"transfer_id": t.id}),
                        run_at: now + timeout_ms,
                        max_attempts: 10,
                        dedupe_key: Some(format!("transfer-timeout:{}", t.id)),
                    },
                )
                .await?;
                vec![
                    store::insert_event(
                        &mut tx,
                        ws,
                        conversation_id,
                        EventKind::TransferOffered,
                        Some(actor.user_id),
                        &json!({"transfer_id": t.id, "to_user_id": t.to_user_id, "to_team_id": t.to_team_id,
                                "capsule": capsule, "expires_at": t.expires_at}),
                    )
                    .await?,
                ]
            }
        };
        self.commit(tx, ws, events).await?;
        Ok(t)
    }

    /// The receiver takes a warm offer: the conversation is theirs, with the capsule on top.
    pub async fn accept_transfer(&self, actor: &Actor, transfer_id: i64) -> AppResult<Transfer> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let t = handoffs::transfer_by_id(&mut tx, ws, transfer_id).await?;
        check_receiver(&mut tx, actor, &t).await?;
        handoff::answer_offer(t.state, OfferAnswer::Accept)?;
        if !handoffs::decide(
            &mut tx,
            ws,
            t.id,
            TransferState::Accepted,
            Some(actor.user_id),
            None,
        )
        .await?
        {
            return Err(AppError::Conflict("the offer was answered already".into()));
        }
        let t = handoffs::transfer_by_id(&mut tx, ws, transfer_id).await?;
        let events = hand_over(&mut tx, self, actor, &t, Some(actor.user_id)).await?;
        self.commit(tx, ws, events).await?;
        Ok(t)
    }

    /// The receiver declines a warm offer; the fallback decides who holds the conversation.
    pub async fn decline_transfer(
        &self,
        actor: &Actor,
        transfer_id: i64,
        input: DeclineInput,
    ) -> AppResult<Transfer> {
        require(actor, Permission::Work)?;
        let reason = input
            .reason
            .as_deref()
            .map(|r| optional_text("reason", r, 500))
            .transpose()?
            .filter(|r| !r.is_empty());
        let mut tx = self.db.begin().await?;
        let t = handoffs::transfer_by_id(&mut tx, actor.workspace_id, transfer_id).await?;
        check_receiver(&mut tx, actor, &t).await?;
        let (t, events) = self
            .end_offer(
                &mut tx,
                actor.workspace_id,
                t,
                OfferAnswer::Decline,
                Some(actor.user_id),
                reason.as_deref(),
            )
            .await?;
        self.commit(tx, actor.workspace_id, events).await?;
        Ok(t)
    }

    /// The sender (or an admin) withdraws a warm offer; nothing moves.
    pub async fn cancel_transfer(&self, actor: &Actor, transfer_id: i64) -> AppResult<Transfer> {
        require(actor, Permission::Work)?;
        let mut tx = self.db.begin().await?;
        let t = handoffs::transfer_by_id(&mut tx, actor.workspace_id, transfer_id).await?;
        if t.from_user_id != Some(actor.user_id) && !actor.role.allows(Permission::Administer) {
            return Err(AppError::Forbidden);
        }
        let (t, events) = self
            .end_offer(
                &mut tx,
                actor.workspace_id,
                t,
                OfferAnswer::Cancel,
                Some(actor.user_id),
                None,
            )
            .await?;
        self.commit(tx, actor.workspace_id, events).await?;
        Ok(t)
    }

    /// Ends an open offer without a hand-over and applies the fallback when it was declined or
    /// timed out.
    async fn end_offer(
        &self,
        c: &mut Conn,
        ws_of: i64,
        t: Transfer,
        answer: OfferAnswer,
        by: Option<i64>,
        reason: Option<&str>,
    ) -> AppResult<(Transfer, Vec<Event>)> {
        let state = handoff::answer_offer(t.state, answer)?;
        if !handoffs::decide(&mut *c, ws_of, t.id, state, by, reason).await? {
            return Err(AppError::Conflict("the offer was answered already".into()));
        }
        let conv = store::get(&mut *c, ws_of, t.conversation_id).await?;
        let mut data = json!({"transfer_id": t.id, "reason": reason, "fallback": t.fallback});
        if answer != OfferAnswer::Cancel && t.fallback == Fallback::Queue {
            let team = t.to_team_id.or(conv.team_id);
            store::apply(
                &mut *c,
                ws_of,
                conv.id,
                &Changes {
                    assignee_id: Some(None),
                    team_id: Some(team),
                    ..Changes::default()
                },
            )
            .await?;
            data["assignee_id"] = json!(null);
            data["team_id"] = json!(team);
        }
        let kind = match answer {
            OfferAnswer::Decline => EventKind::TransferDeclined,
            OfferAnswer::Expire => EventKind::TransferExpired,
            _ => EventKind::TransferCancelled,
        };
        let event = store::insert_event(&mut *c, ws_of, conv.id, kind, by, &data).await?;
        let t = handoffs::transfer_by_id(&mut *c, ws_of, t.id).await?;
        Ok((t, vec![event]))
    }

    /// Job: an offer still open at its deadline expires and falls back. Runs once: a second run
    /// finds it answered.
    pub(crate) async fn expire_offer(&self, job: &jobs::Job) -> AppResult<()> {
        let (Some(ws), Some(id)) = (
            job.workspace_id,
            job.payload.get("transfer_id").and_then(|v| v.as_i64()),
        ) else {
            return Ok(());
        };
        let mut tx = self.db.begin().await?;
        let t = match handoffs::transfer_by_id(&mut tx, ws, id).await {
            Ok(t) => t,
            Err(citius_store::DbError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if t.state != TransferState::Offered {
            return Ok(());
        }
        let (_, events) = self
            .end_offer(&mut tx, ws, t, OfferAnswer::Expire, None, None)
            .await?;
        self.commit(tx, ws, events).await?;
        Ok(())
    }

    pub async fn transfers(&self, actor: &Actor, conversation_id: i64) -> AppResult<Vec<Transfer>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        store::get(&mut c, actor.workspace_id, conversation_id).await?;
        Ok(handoffs::transfers_of(&mut c, actor.workspace_id, conversation_id).await?)
    }

    pub async fn transfer_by_id(&self, actor: &Actor, id: i64) -> AppResult<Transfer> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(handoffs::transfer_by_id(&mut c, actor.workspace_id, id).await?)
    }

    /// Warm offers waiting for this agent (directly or through their teams).
    pub async fn my_offers(&self, actor: &Actor) -> AppResult<Vec<Transfer>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(handoffs::offers_for(&mut c, actor.workspace_id, actor.user_id).await?)
    }

    /// The subjects of some conversations, in one lookup: lists of offers and follow-ups name
    /// the conversation they belong to. Ids from elsewhere in the workspace are left out.
    pub async fn subjects_of(
        &self,
        actor: &Actor,
        ids: &[i64],
    ) -> AppResult<std::collections::HashMap<i64, String>> {
        require(actor, Permission::Read)?;
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let mut c = self.db.read().await?;
        Ok(store::get_many(&mut c, actor.workspace_id, &ids)
            .await?
            .into_iter()
            .map(|conv| (conv.id, conv.subject))
            .collect())
    }

    /// A first draft of the capsule from the timeline: the customer's latest ask, the latest
    /// steps taken, open promises and how often the customer wrote before.
    pub async fn capsule_draft(&self, actor: &Actor, conversation_id: i64) -> AppResult<Capsule> {
        require(actor, Permission::Read)?;
        let ws = actor.workspace_id;
        let mut c = self.db.read().await?;
        let conv = store::get(&mut c, ws, conversation_id).await?;
        let messages = store::messages(&mut c, ws, conversation_id, 0, 1000).await?;
        let customer: Vec<&str> = messages
            .iter()
            .filter(|m| m.kind == MessageKind::Inbound)
            .map(|m| m.body_text.as_str())
            .collect();
        let agents: Vec<&str> = messages
            .iter()
            .filter(|m| m.kind != MessageKind::Inbound)
            .map(|m| m.body_text.as_str())
            .collect();
        let promises = handoffs::follow_ups_of(&mut c, ws, conversation_id)
            .await?
            .into_iter()
            .filter(|f| f.kind == FollowUpKind::Promise && f.done_at.is_none())
            .map(|f| Promise {
                text: f.text,
                due_at: f.due_at,
            })
            .collect();
        let prior = store::ids_of_customer(&mut c, ws, conv.customer_id)
            .await?
            .into_iter()
            .filter(|id| *id != conversation_id)
            .count();
        Ok(handoff::prefill(CapsuleSource {
            subject: &conv.subject,
            customer_messages: &customer,
            agent_messages: &agents,
            open_promises: promises,
            prior_conversations: u32::try_from(prior).unwrap_or(u32::MAX),
        }))
    }

    pub async fn add_follow_up(
        &self,
        actor: &Actor,
        conversation_id: i64,
        input: FollowUpInput,
    ) -> AppResult<FollowUp> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let text = required_text("text", &input.text, 500)?;
        let due = input
            .due_at
            .as_deref()
            .map(|d| {
                d.parse::<jiff::Timestamp>()
                    .map(|t| t.as_millisecond())
                    .map_err(|_| Invalid::field("due_at", "must be an RFC 3339 time"))
            })
            .transpose()?;
        let mut tx = self.db.begin().await?;
        store::get(&mut tx, ws, conversation_id).await?;
        let f = handoffs::insert_follow_up(
            &mut tx,
            ws,
            conversation_id,
            input.kind,
            &text,
            due,
            Some(actor.user_id),
        )
        .await?;
        if let Some(due) = due {
            jobs::enqueue(
                &mut tx,
                &jobs::NewJob {
                    workspace_id: Some(ws),
                    kind: FOLLOW_UP_DUE,
                    payload: json!({"follow_up_id": f.id}),
                    run_at: due,
                    max_attempts: 10,
                    dedupe_key: Some(format!("follow-up-due:{}", f.id)),
                },
            )
            .await?;
        }
        let event = store::insert_event(
            &mut tx,
            ws,
            conversation_id,
            EventKind::FollowUpAdded,
            Some(actor.user_id),
            &json!({"follow_up_id": f.id, "kind": f.kind, "text": f.text, "due_at": f.due_at}),
        )
        .await?;
        self.commit(tx, ws, vec![event]).await?;
        Ok(f)
    }

    pub async fn complete_follow_up(&self, actor: &Actor, id: i64) -> AppResult<FollowUp> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let f = handoffs::follow_up_by_id(&mut tx, ws, id).await?;
        if !handoffs::complete_follow_up(&mut tx, ws, id, actor.user_id).await? {
            return Ok(f);
        }
        let event = store::insert_event(
            &mut tx,
            ws,
            f.conversation_id,
            EventKind::FollowUpDone,
            Some(actor.user_id),
            &json!({"follow_up_id": f.id, "kind": f.kind, "text": f.text}),
        )
        .await?;
        let f = handoffs::follow_up_by_id(&mut tx, ws, id).await?;
        self.commit(tx, ws, vec![event]).await?;
        Ok(f)
    }

    pub async fn follow_ups(
        &self,
        actor: &Actor,
        conversation_id: i64,
    ) -> AppResult<Vec<FollowUp>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        store::get(&mut c, actor.workspace_id, conversation_id).await?;
        Ok(handoffs::follow_ups_of(&mut c, actor.workspace_id, conversation_id).await?)
    }

    /// Open follow-ups of the agent's conversations, soonest due first.
    pub async fn my_follow_ups(&self, actor: &Actor) -> AppResult<Vec<FollowUp>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(handoffs::open_follow_ups_of_agent(&mut c, actor.workspace_id, actor.user_id).await?)
    }

    /// Job: a follow-up still open at its due time raises an alert on the timeline and to live
    /// listeners. Runs once: done follow-ups are left alone.
    pub(crate) async fn follow_up_due(&self, job: &jobs::Job) -> AppResult<()> {
        let (Some(ws), Some(id)) = (
            job.workspace_id,
            job.payload.get("follow_up_id").and_then(|v| v.as_i64()),
        ) else {
            return Ok(());
        };
        let mut tx = self.db.begin().await?;
        let f = match handoffs::follow_up_by_id(&mut tx, ws, id).await {
            Ok(f) => f,
            Err(citius_store::DbError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if f.done_at.is_some() {
            return Ok(());
        }
        let conv = store::get(&mut tx, ws, f.conversation_id).await?;
        let event = store::insert_event(
            &mut tx,
            ws,
            f.conversation_id,
            EventKind::FollowUpDue,
            None,
            &json!({"follow_up_id": f.id, "kind": f.kind, "text": f.text, "assignee_id": conv.assignee_id}),
        )
        .await?;
        self.commit(tx, ws, vec![event]).await?;
        Ok(())
    }

    /// Transfers, acceptance and repeated passing over the last `days` days.
    pub async fn handoff_report(
        &self,
        actor: &Actor,
        days: Option<i64>,
    ) -> AppResult<HandoffReport> {
        require(actor, Permission::Read)?;
        let days = days.unwrap_or(30);
        if !(1..=366).contains(&days) {
            return Err(Invalid::field("days", "must be between 1 and 366").into());
        }
        let mut c = self.db.read().await?;
        Ok(handoffs::report(&mut c, actor.workspace_id, now_ms() - days * 86_400_000).await?)
    }
}

/// Only the named receiver, a member of the named team, or an admin may answer an offer.
async fn check_receiver(c: &mut Conn, actor: &Actor, t: &Transfer) -> AppResult<()> {
    if t.to_user_id == Some(actor.user_id) || actor.role.allows(Permission::Administer) {
        return Ok(());
    }
    if t.to_user_id.is_none()
        && let Some(team) = t.to_team_id
    {
        let team = directory::team(c, actor.workspace_id, team).await?;
        if team.member_ids.contains(&actor.user_id) {
            return Ok(());
        }
    }
    Err(AppError::Forbidden)
}

/// Moves the conversation to its receiver and records the `transferred` event with the capsule;
/// tells the customer who takes over when the sender wrote them a message.
async fn hand_over(
    c: &mut Conn,
    app: &App,
    actor: &Actor,
    t: &Transfer,
    accepted_by: Option<i64>,
) -> AppResult<Vec<Event>> {
    let ws = actor.workspace_id;
    let conv = store::get(&mut *c, ws, t.conversation_id).await?;
    let assignee = accepted_by.or(t.to_user_id);
    let team = t.to_team_id.or(conv.team_id);
    store::apply(
        &mut *c,
        ws,
        conv.id,
        &Changes {
            assignee_id: Some(assignee),
            team_id: Some(team),
            ..Changes::default()
        },
    )
    .await?;
    let secs_to_accept = t
        .decided_at
        .map(|d| (d.as_millisecond() - t.created_at.as_millisecond()) as f64 / 1000.0);
    let mut events = vec![
        store::insert_event(
            &mut *c,
            ws,
            conv.id,
            EventKind::Transferred,
            Some(actor.user_id),
            &json!({
                "transfer_id": t.id,
                "mode": t.mode,
                "from": {"assignee_id": conv.assignee_id, "team_id": conv.team_id},
                "from_user_id": t.from_user_id,
                "assignee_id": assignee,
                "team_id": team,
                "capsule": t.capsule,
                "secs_to_accept": secs_to_accept,
            }),
        )
        .await?,
    ];
    if let Some(text) = &t.message_to_customer {
        let body = Body::from_text(text)?;
        let (_, added) = crate::conversations::append_message(
            c,
            app.db.backend(),
            crate::conversations::By::Agent(actor),
            ws,
            conv.id,
            conv.customer_id,
            MessageKind::Reply,
            &body,
            &[],
        )
        .await?;
        events.push(added);
    }
    Ok(events)
}
