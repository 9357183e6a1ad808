//! Automation rules: settings, the execution log, dry runs on past conversations, and running
//! the rules as events arrive (from the outbox, inside its transaction).

use citius_domain::automation::{
    self, Action, DryRunReport, Facts, Outcome, Rule, RuleInput, Trigger,
};
use citius_domain::content::Body;
use citius_domain::conversation::MessageKind;
use citius_domain::event::EventKind;
use citius_domain::paging::{Page, PageRequest};
use citius_domain::records::{Conversation, Event};
use citius_domain::role::Permission;
use citius_store::automation::{self as log, NewRun};
use citius_store::db::{release_savepoint, rollback_to_savepoint, savepoint};
use citius_store::settings::{self, Fields, Kind, Setting};
use citius_store::{Conn, DbError, conversations, customers};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::{By, ConversationChange, RuleOrigin};
use crate::sla::OrderInput;
use crate::{Actor, App, AppError, AppResult, require};

/// A rule as stored and shown; `position` is its place in the run order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleInfo {
    pub id: i64,
    pub position: i64,
    #[serde(flatten)]
    pub rule: RuleInput,
}

/// One entry of the execution log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleRun {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub rule_name: String,
    pub conversation_id: Option<i64>,
    /// `applied`, `stopped` (a loop or a long chain) or `failed`.
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// A rule to try on past conversations without saving it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunInput {
    pub rule: RuleInput,
    /// How many of the most recent conversations to look at (default 200, at most 1000).
    pub limit: Option<u32>,
}

fn corrupt(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(DbError::Corrupt(format!("rule: {e}")))
}

fn parse_rule(s: &Setting) -> AppResult<RuleInput> {
    serde_json::from_value(s.definition.clone()).map_err(corrupt)
}

/// Which trigger an event fires, if any.
fn trigger_of(e: &Event) -> Option<Trigger> {
    use EventKind as K;
    Some(match e.kind {
        K::Created => Trigger::ConversationCreated,
        // Machines' mail (auto-replies, bulk) is recorded but never answered by rules: two
        // autoresponders would otherwise answer each other for ever.
        K::MessageAdded
            if e.data.get("kind").and_then(|k| k.as_str()) == Some("inbound")
                && e.data.get("automatic").is_none() =>
        {
            Trigger::MessageReceived
        }
        K::SlaWarning => Trigger::SlaWarning,
        K::SlaBreached => Trigger::SlaBreached,
        K::StatusChanged
        | K::PriorityChanged
        | K::Assigned
        | K::Transferred
        | K::Tagged
        | K::Untagged
        | K::SubjectChanged
        | K::FieldsChanged => Trigger::ConversationUpdated,
        _ => return None,
    })
}

/// The rules whose changes led to an event, first to last.
fn chain_of(e: &Event) -> Vec<i64> {
    match e
        .data
        .get("rule")
        .and_then(|r| serde_json::from_value::<RuleOrigin>(r.clone()).ok())
    {
        Some(origin) => {
            let mut chain = origin.chain;
            chain.push(origin.rule_id);
            chain
        }
        None => Vec::new(),
    }
}

fn facts_of(
    conv: &Conversation,
    customer: Option<&citius_domain::records::Customer>,
    message: Option<String>,
) -> Facts {
    let hours = Timestamp::now()
        .duration_since(conv.created_at)
        .as_secs_f64()
        / 3600.0;
    Facts {
        id: conv.id,
        status: Some(conv.status),
        priority: Some(conv.priority),
        channel: Some(conv.channel),
        inbox_id: conv.inbox_id,
        team_id: conv.team_id,
        assignee_id: conv.assignee_id,
        tags: conv.tags.clone(),
        subject: conv.subject.clone(),
        message,
        customer_email: customer.and_then(|c| c.email()).map(str::to_string),
        customer_name: customer.map(|c| c.name.clone()).unwrap_or_default(),
        customer_attributes: customer.map(|c| c.attributes.clone()).unwrap_or_default(),
        hours_since_created: hours.max(0.0),
        within_business_hours: None,
    }
}

/// Whether the workspace's business hours (its first calendar) are open now, when a rule
/// asks; `None` (counted as open) when none asks or there is no calendar.
async fn business_hours_open(c: &mut Conn, ws: i64, rules: &[Rule]) -> AppResult<Option<bool>> {
    let asks = rules.iter().any(|r| {
        r.conditions
            .all
            .iter()
            .chain(&r.conditions.any)
            .any(|c| c.field == "business_hours")
    });
    if !asks {
        return Ok(None);
    }
    let calendars = crate::sla::load_calendars(c, ws).await?;
    Ok(calendars
        .iter()
        .min_by_key(|(id, _)| **id)
        .map(|(_, cal)| cal.is_open(Timestamp::now())))
}

/// The field changes among a rule's actions, as one change.
pub(crate) fn change_of(actions: &[Action]) -> ConversationChange {
    let mut change = ConversationChange::default();
    for a in actions {
        match a {
            Action::SetStatus { status } => change.status = Some(*status),
            Action::SetPriority { priority } => change.priority = Some(*priority),
            Action::Assign { user_id } => change.assignee_id = Some(*user_id),
            Action::SetTeam { team_id } => change.team_id = Some(*team_id),
            Action::AddTags { tags } => change
                .add_tags
                .extend(tags.iter().map(|t| t.trim().to_lowercase())),
            Action::RemoveTags { tags } => change
                .remove_tags
                .extend(tags.iter().map(|t| t.trim().to_lowercase())),
            Action::Snooze { hours } => {
                change.status = Some(citius_domain::conversation::Status::Snoozed);
                change.snooze = Some(citius_store::now_ms() + i64::from(*hours) * 3_600_000);
            }
            Action::AddNote { .. } | Action::Reply { .. } | Action::SendWebhook { .. } => {}
        }
    }
    change
}

impl App {
    pub async fn rules(&self, actor: &Actor) -> AppResult<Vec<RuleInfo>> {
        require(actor, Permission::Work)?;
        let mut c = self.db.read().await?;
        settings::list(&mut c, Kind::Rule, actor.workspace_id)
            .await?
            .iter()
            .map(|s| {
                let mut rule = parse_rule(s)?;
                rule.enabled = Some(s.enabled);
                Ok(RuleInfo {
                    id: s.id,
                    position: s.position,
                    rule,
                })
            })
            .collect()
    }

    /// Creates (`id` none, run last) or replaces a rule. Audited.
    pub async fn save_rule(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: RuleInput,
    ) -> AppResult<RuleInfo> {
        require(actor, Permission::Administer)?;
        input.validate()?;
        let ws = actor.workspace_id;
        let definition = serde_json::to_value(&input).map_err(corrupt)?;
        let fields = Fields {
            name: input.name.trim(),
            enabled: input.enabled.unwrap_or(true),
            link: None,
            trigger_kind: Some(input.trigger.as_str()),
            definition: &definition,
        };
        let mut tx = self.db.begin().await?;
        for (i, a) in input.actions.iter().enumerate() {
            if let Action::SendWebhook { endpoint_id } = a {
                citius_store::webhooks::get_endpoint(&mut tx, ws, *endpoint_id)
                    .await
                    .map_err(|e| {
                        crate::conversations::not_found_as(e, &format!("actions[{i}].endpoint_id"))
                    })?;
            }
        }
        let id = match id {
            Some(id) => {
                settings::update(&mut tx, Kind::Rule, ws, id, &fields).await?;
                id
            }
            None => settings::create(&mut tx, Kind::Rule, ws, &fields).await?,
        };
        crate::directory::audit(
            &mut tx,
            actor,
            "rule.saved",
            "rule",
            Some(id),
            json!({"name": input.name}),
        )
        .await?;
        let saved = settings::get(&mut tx, Kind::Rule, ws, id).await?;
        tx.commit().await?;
        let mut rule = input;
        rule.enabled = Some(saved.enabled);
        Ok(RuleInfo {
            id,
            position: saved.position,
            rule,
        })
    }

    pub async fn delete_rule(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        settings::delete(&mut tx, Kind::Rule, actor.workspace_id, id).await?;
        crate::directory::audit(&mut tx, actor, "rule.deleted", "rule", Some(id), json!({}))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the order rules run in. Audited.
    pub async fn order_rules(&self, actor: &Actor, input: OrderInput) -> AppResult<Vec<RuleInfo>> {
        require(actor, Permission::Administer)?;
        if input.ids.len() > 500 {
            return Err(citius_domain::Invalid::field("ids", "at most 500").into());
        }
        let mut tx = self.db.begin().await?;
        settings::reorder(&mut tx, Kind::Rule, actor.workspace_id, &input.ids).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "rule.reordered",
            "rule",
            None,
            json!({"ids": input.ids}),
        )
        .await?;
        tx.commit().await?;
        self.rules(actor).await
    }

    /// The execution log, newest first; of one rule if given.
    pub async fn rule_runs(
        &self,
        actor: &Actor,
        rule_id: Option<i64>,
        page: PageRequest,
    ) -> AppResult<Page<RuleRun>> {
        require(actor, Permission::Work)?;
        let mut c = self.db.read().await?;
        let p = log::runs(&mut c, actor.workspace_id, rule_id, page).await?;
        Ok(p.map(|r| RuleRun {
            id: r.id,
            rule_id: r.rule_id,
            rule_name: r.rule_name,
            conversation_id: r.conversation_id,
            outcome: r.outcome,
            detail: r.detail,
            created_at: r.created_at,
        }))
    }

    /// How a rule would have matched the most recent conversations; changes nothing. Message
    /// conditions see no message (only a live customer message has one).
    pub async fn dry_run_rule(&self, actor: &Actor, input: DryRunInput) -> AppResult<DryRunReport> {
        require(actor, Permission::Administer)?;
        input.rule.validate()?;
        let want = usize::try_from(input.limit.unwrap_or(200).clamp(1, 1000)).unwrap_or(200);
        let mut past: Vec<Conversation> = Vec::new();
        let mut cursor: Option<String> = None;
        while past.len() < want {
            let page = self
                .conversations(
                    actor,
                    &crate::conversations::ConversationQuery {
                        limit: Some(u32::try_from((want - past.len()).min(100)).unwrap_or(100)),
                        cursor: cursor.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            past.extend(page.items);
            match page.next {
                Some(c) => cursor = Some(c.encode()),
                None => break,
            }
        }
        let mut c = self.db.read().await?;
        let ids: Vec<i64> = past.iter().map(|p| p.customer_id).collect();
        let people = customers::get_many(&mut c, actor.workspace_id, &ids).await?;
        let facts: Vec<Facts> = past
            .iter()
            .map(|conv| facts_of(conv, people.iter().find(|p| p.id == conv.customer_id), None))
            .collect();
        Ok(automation::dry_run(&input.rule.conditions, &facts))
    }

    /// Runs the rules an event triggers, in order, inside the outbox's transaction; returns
    /// the events their actions recorded. A rule whose action fails (an agent who left, say)
    /// is undone alone and logged as failed.
    pub(crate) async fn run_rules(
        &self,
        tx: &mut Conn,
        ws: i64,
        conv: &Conversation,
        event: &Event,
    ) -> AppResult<Vec<Event>> {
        let Some(trigger) = trigger_of(event) else {
            return Ok(Vec::new());
        };
        let stored = settings::rules_for(tx, ws, trigger.as_str()).await?;
        if stored.is_empty() {
            return Ok(Vec::new());
        }
        let mut rules = Vec::with_capacity(stored.len());
        for s in &stored {
            let input = parse_rule(s)?;
            rules.push(Rule {
                id: s.id,
                name: s.name.clone(),
                conditions: input.conditions,
                actions: input.actions,
            });
        }
        let customer = customers::get(tx, ws, conv.customer_id).await.ok();
        let message = match (
            trigger,
            event.data.get("message_id").and_then(|m| m.as_i64()),
        ) {
            (Trigger::MessageReceived, Some(id)) => conversations::message_by_id(tx, ws, id)
                .await
                .ok()
                .map(|m| m.body_text),
            _ => None,
        };
        let mut facts = facts_of(conv, customer.as_ref(), message);
        facts.within_business_hours = business_hours_open(tx, ws, &rules).await?;
        let chain = chain_of(event);
        let mut produced = Vec::new();
        // Rules run earlier in this pass belong to the chain of the changes that follow.
        let mut ran: Vec<i64> = Vec::new();
        for outcome in automation::evaluate(&rules, &mut facts, &chain) {
            let (rule_id, run) = match &outcome {
                Outcome::Run { rule_id, actions } => (*rule_id, Ok(actions)),
                Outcome::Stopped { rule_id, reason } => (*rule_id, Err(reason)),
            };
            let name = rules
                .iter()
                .find(|r| r.id == rule_id)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let origin = RuleOrigin {
                rule_id,
                rule_name: name.clone(),
                chain: chain.iter().chain(&ran).copied().collect(),
            };
            let (result, detail) = match run {
                Err(reason) => {
                    produced.push(
                        conversations::insert_event(
                            tx,
                            ws,
                            conv.id,
                            EventKind::RuleStopped,
                            None,
                            &json!({"rule": origin, "reason": reason}),
                        )
                        .await?,
                    );
                    ("stopped", json!({"reason": reason}))
                }
                Ok(actions) => {
                    ran.push(rule_id);
                    savepoint(tx).await?;
                    match self.apply_actions(tx, ws, conv, &origin, actions).await {
                        Ok(events) => {
                            release_savepoint(tx).await?;
                            produced.extend(events);
                            ("applied", json!({"actions": actions}))
                        }
                        Err(AppError::Internal(e)) if !matches!(e, DbError::Corrupt(_)) => {
                            return Err(AppError::Internal(e));
                        }
                        Err(e) => {
                            rollback_to_savepoint(tx).await?;
                            (
                                "failed",
                                json!({"actions": actions, "error": e.to_string()}),
                            )
                        }
                    }
                }
            };
            log::record(
                tx,
                ws,
                &NewRun {
                    rule_id,
                    rule_name: &name,
                    conversation_id: conv.id,
                    event_id: Some(event.id),
                    outcome: result,
                    detail: &detail,
                },
            )
            .await?;
        }
        Ok(produced)
    }

    /// A rule's reply with its placeholders filled; the workspace speaks as the agent.
    async fn fill_template(
        &self,
        tx: &mut Conn,
        ws: i64,
        conv: &Conversation,
        template: &str,
    ) -> AppResult<String> {
        let customer = customers::get(tx, ws, conv.customer_id).await?;
        let workspace = citius_store::directory::workspace_by_id(tx, ws).await?;
        let values = citius_domain::macros::Values {
            customer_email: customer.email().unwrap_or_default().to_string(),
            customer_name: customer.name,
            agent_name: workspace.name.clone(),
            conversation_id: conv.id,
            conversation_subject: conv.subject.clone(),
            workspace_name: workspace.name,
        };
        Ok(citius_domain::macros::render(template, &values)?)
    }

    async fn apply_actions(
        &self,
        tx: &mut Conn,
        ws: i64,
        conv: &Conversation,
        origin: &RuleOrigin,
        actions: &[Action],
    ) -> AppResult<Vec<Event>> {
        let by = By::Rule(origin);
        let mut events = self
            .change_conversation(tx, by, ws, conv.id, &change_of(actions))
            .await?;
        for a in actions {
            let (kind, text) = match a {
                Action::AddNote { text } => (MessageKind::Note, text.clone()),
                Action::Reply { template } => (
                    MessageKind::Reply,
                    self.fill_template(tx, ws, conv, template).await?,
                ),
                Action::SendWebhook { endpoint_id } => {
                    self.send_to_endpoint(
                        tx,
                        ws,
                        *endpoint_id,
                        "rule.triggered",
                        json!({"rule": origin, "conversation": conv}),
                    )
                    .await?;
                    continue;
                }
                _ => continue,
            };
            let body = Body::from_text(&text)?;
            let (_, added) = crate::conversations::append_message(
                tx,
                self.db.backend(),
                by,
                ws,
                conv.id,
                conv.customer_id,
                kind,
                &body,
                &[],
            )
            .await?;
            events.push(added);
        }
        Ok(events)
    }
}

/// How far back an idle rule looks past its threshold: the worker runs every few seconds, so
/// a day covers any pause of the workers.
const IDLE_WINDOW_MS: i64 = 24 * 3_600_000;
/// Conversations one idle rule handles per round.
const IDLE_BATCH: i64 = 200;

impl App {
    /// Worker round for `idle` rules: conversations that sat unchanged for a rule's hours and
    /// meet its conditions get its actions, once per quiet stretch; returns how many acted.
    pub async fn run_idle_rules(&self) -> AppResult<usize> {
        let mut c = self.db.read().await?;
        let rules = settings::rules_everywhere(&mut c, Trigger::Idle.as_str()).await?;
        drop(c);
        let now = citius_store::now_ms();
        let mut acted = 0;
        for (ws, s) in rules {
            let input = parse_rule(&s)?;
            let Some(hours) = input.after_hours else {
                continue;
            };
            let until = now - i64::from(hours) * 3_600_000;
            let rule = Rule {
                id: s.id,
                name: s.name.clone(),
                conditions: input.conditions,
                actions: input.actions,
            };
            let mut c = self.db.read().await?;
            let ids =
                conversations::quiet(&mut c, ws, until - IDLE_WINDOW_MS, until, IDLE_BATCH).await?;
            drop(c);
            for id in ids {
                let mut tx = self.db.begin().await?;
                let conv = match conversations::get(&mut tx, ws, id).await {
                    Ok(conv) => conv,
                    Err(DbError::NotFound) => continue,
                    Err(e) => return Err(e.into()),
                };
                // Changed meanwhile, or already handled in this quiet stretch.
                if conv.updated_at.as_millisecond() > until
                    || log::ran_since(&mut tx, rule.id, id, conv.updated_at.as_millisecond())
                        .await?
                {
                    continue;
                }
                let customer = customers::get(&mut tx, ws, conv.customer_id).await.ok();
                let mut facts = facts_of(&conv, customer.as_ref(), None);
                facts.within_business_hours =
                    business_hours_open(&mut tx, ws, std::slice::from_ref(&rule)).await?;
                let Some(Outcome::Run { actions, .. }) =
                    automation::evaluate(std::slice::from_ref(&rule), &mut facts, &[])
                        .into_iter()
                        .next()
                else {
                    continue;
                };
                let origin = RuleOrigin {
                    rule_id: rule.id,
                    rule_name: rule.name.clone(),
                    chain: Vec::new(),
                };
                savepoint(&mut tx).await?;
                let (outcome, detail, events) = match self
                    .apply_actions(&mut tx, ws, &conv, &origin, &actions)
                    .await
                {
                    Ok(events) => {
                        release_savepoint(&mut tx).await?;
                        acted += 1;
                        (
                            "applied",
                            json!({"actions": actions, "after_hours": hours}),
                            events,
                        )
                    }
                    Err(AppError::Internal(e)) if !matches!(e, DbError::Corrupt(_)) => {
                        return Err(AppError::Internal(e));
                    }
                    Err(e) => {
                        rollback_to_savepoint(&mut tx).await?;
                        (
                            "failed",
                            json!({"actions": actions, "error": e.to_string()}),
                            Vec::new(),
                        )
                    }
                };
                log::record(
                    &mut tx,
                    ws,
                    &NewRun {
                        rule_id: rule.id,
                        rule_name: &rule.name,
                        conversation_id: id,
                        event_id: None,
                        outcome,
                        detail: &detail,
                    },
                )
                .await?;
                self.commit(tx, ws, events).await?;
            }
        }
        Ok(acted)
    }
}
