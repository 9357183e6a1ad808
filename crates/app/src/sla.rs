//! Business calendars and SLA policies (settings), the clocks of each conversation (moved by
//! the outbox as events arrive) and the timers that raise warnings and breaches. A timer is a
//! durable job; a warning or breach is recorded once however many nodes run it.

use std::collections::HashMap;

use citius_domain::calendar::{BusinessCalendar, CalendarInput};
use citius_domain::conversation::{MessageKind, Status};
use citius_domain::event::EventKind;
use citius_domain::records::{Conversation, Event};
use citius_domain::role::Permission;
use citius_domain::sla::{
    self, ClockState, SlaClock, SlaEvent, SlaFacts, SlaMetric, SlaPolicy, SlaPolicyInput,
};
use citius_store::settings::{self, Fields, Kind, Setting};
use citius_store::sla::{self as clocks, ClockRow, Mark};
use citius_store::{Conn, DbError, conversations, customers, from_ms, jobs, now_ms};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::{Actor, App, AppError, AppResult, require};

/// Raises an SLA warning or breach when its time comes.
pub const TIMER: &str = "sla.timer";

/// A calendar as stored and shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarInfo {
    pub id: i64,
    #[serde(flatten)]
    pub calendar: CalendarInput,
}

/// A policy as stored and shown; `position` orders them (the first that matches applies).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaPolicyInfo {
    pub id: i64,
    pub position: i64,
    #[serde(flatten)]
    pub policy: SlaPolicyInput,
}

/// The new order of the policies, first to last.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub ids: Vec<i64>,
}

/// One clock of a conversation, as agents see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    pub metric: SlaMetric,
    pub target_secs: i64,
    #[serde(flatten)]
    pub state: ClockState,
    /// When the target is reached, while the clock runs.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub warned_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub breached_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub met_at: Option<Timestamp>,
}

/// The SLA of a conversation: which policy applies and where each clock stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationSla {
    pub policy_id: Option<i64>,
    pub policy_name: Option<String>,
    pub clocks: Vec<ClockView>,
}

/// The workspace at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaSummary {
    /// Running clocks past their target now.
    pub overdue: i64,
    /// Running clocks due within the next hour.
    pub due_within_hour: i64,
    /// Breaches recorded in the last 24 hours.
    pub breached_last_day: i64,
}

/// Policies (in order) and calendars of a workspace, parsed.
pub(crate) struct SlaSetup {
    policies: Vec<(i64, SlaPolicy)>,
    calendars: HashMap<i64, BusinessCalendar>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Internal(DbError::Corrupt(format!("{what}: {e}")))
}

fn parse_calendar(s: &Setting) -> AppResult<CalendarInput> {
    serde_json::from_value(s.definition.clone()).map_err(|e| corrupt("calendar", e))
}

fn parse_policy(s: &Setting) -> AppResult<SlaPolicyInput> {
    serde_json::from_value(s.definition.clone()).map_err(|e| corrupt("SLA policy", e))
}

impl SlaSetup {
    pub(crate) async fn load(c: &mut Conn, workspace_id: i64) -> AppResult<Self> {
        let mut policies = Vec::new();
        for s in settings::list(c, Kind::SlaPolicy, workspace_id).await? {
            let mut p = parse_policy(&s)?
                .validate()
                .map_err(|e| corrupt("SLA policy", e))?;
            p.enabled = s.enabled;
            policies.push((s.id, p));
        }
        let mut calendars = HashMap::new();
        if policies.iter().any(|(_, p)| p.calendar_id.is_some()) {
            for s in settings::list(c, Kind::Calendar, workspace_id).await? {
                let (_, cal) = parse_calendar(&s)?
                    .validate()
                    .map_err(|e| corrupt("calendar", e))?;
                calendars.insert(s.id, cal);
            }
        }
        Ok(Self {
            policies,
            calendars,
        })
    }

    fn policy(&self, id: i64) -> Option<&SlaPolicy> {
        self.policies.iter().find(|(i, _)| *i == id).map(|(_, p)| p)
    }

    /// The calendar a policy counts in; every hour when it has none.
    fn calendar(&self, p: &SlaPolicy) -> BusinessCalendar {
        p.calendar_id
            .and_then(|id| self.calendars.get(&id).cloned())
            .unwrap_or_else(BusinessCalendar::always)
    }
}

/// The business calendars of a workspace, by id.
pub(crate) async fn load_calendars(
    c: &mut Conn,
    workspace_id: i64,
) -> AppResult<HashMap<i64, BusinessCalendar>> {
    let mut calendars = HashMap::new();
    for s in settings::list(c, Kind::Calendar, workspace_id).await? {
        let (_, cal) = parse_calendar(&s)?
            .validate()
            .map_err(|e| corrupt("calendar", e))?;
        calendars.insert(s.id, cal);
    }
    Ok(calendars)
}

/// What an event means for SLA clocks, if anything.
fn sla_event(e: &Event) -> Option<SlaEvent> {
    match e.kind {
        EventKind::Created => Some(SlaEvent::Created),
        EventKind::MessageAdded => e
            .data
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(|k| MessageKind::parse(k).ok())
            .map(SlaEvent::Message),
        EventKind::StatusChanged => {
            let status = |k: &str| {
                e.data
                    .get(k)
                    .and_then(|v| v.as_str())
                    .and_then(|s| Status::parse(s).ok())
            };
            Some(SlaEvent::Status {
                from: status("from")?,
                to: status("to")?,
            })
        }
        _ => None,
    }
}

fn clock_of(row: &ClockRow) -> AppResult<SlaClock> {
    serde_json::from_value(row.clock.clone()).map_err(|e| corrupt("SLA clock", e))
}

impl App {
    // ---- calendars ----

    pub async fn calendars(&self, actor: &Actor) -> AppResult<Vec<CalendarInfo>> {
        require(actor, Permission::Work)?;
        let mut c = self.db.read().await?;
        settings::list(&mut c, Kind::Calendar, actor.workspace_id)
            .await?
            .iter()
            .map(|s| {
                Ok(CalendarInfo {
                    id: s.id,
                    calendar: parse_calendar(s)?,
                })
            })
            .collect()
    }

    /// Creates (`id` none) or replaces a calendar. Audited.
    pub async fn save_calendar(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: CalendarInput,
    ) -> AppResult<CalendarInfo> {
        require(actor, Permission::Administer)?;
        let (name, _) = input.validate()?;
        let definition = serde_json::to_value(&input).map_err(|e| corrupt("calendar", e))?;
        let fields = Fields {
            name: &name,
            enabled: true,
            link: None,
            trigger_kind: None,
            definition: &definition,
        };
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let id = match id {
            Some(id) => {
                settings::update(&mut tx, Kind::Calendar, ws, id, &fields).await?;
                id
            }
            None => settings::create(&mut tx, Kind::Calendar, ws, &fields).await?,
        };
        crate::directory::audit(
            &mut tx,
            actor,
            "calendar.saved",
            "calendar",
            Some(id),
            json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(CalendarInfo {
            id,
            calendar: input,
        })
    }

    /// Deletes a calendar no policy uses. Audited.
    pub async fn delete_calendar(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        settings::delete(&mut tx, Kind::Calendar, actor.workspace_id, id)
            .await
            .map_err(|e| match e {
                DbError::Conflict(m) => AppError::Conflict(m),
                e => e.into(),
            })?;
        crate::directory::audit(
            &mut tx,
            actor,
            "calendar.deleted",
            "calendar",
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- policies ----

    pub async fn sla_policies(&self, actor: &Actor) -> AppResult<Vec<SlaPolicyInfo>> {
        require(actor, Permission::Work)?;
        let mut c = self.db.read().await?;
        settings::list(&mut c, Kind::SlaPolicy, actor.workspace_id)
            .await?
            .iter()
            .map(|s| {
                let mut policy = parse_policy(s)?;
                policy.enabled = Some(s.enabled);
                Ok(SlaPolicyInfo {
                    id: s.id,
                    position: s.position,
                    policy,
                })
            })
            .collect()
    }

    /// Creates (`id` none, placed last) or replaces a policy. It applies to conversations
    /// created from now on. Audited.
    pub async fn save_sla_policy(
        &self,
        actor: &Actor,
        id: Option<i64>,
        input: SlaPolicyInput,
    ) -> AppResult<SlaPolicyInfo> {
        require(actor, Permission::Administer)?;
        let valid = input.validate()?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        if let Some(cal) = valid.calendar_id {
            settings::get(&mut tx, Kind::Calendar, ws, cal)
                .await
                .map_err(|e| crate::conversations::not_found_as(e, "calendar_id"))?;
        }
        let definition = serde_json::to_value(&input).map_err(|e| corrupt("SLA policy", e))?;
        let fields = Fields {
            name: &valid.name,
            enabled: valid.enabled,
            link: valid.calendar_id,
            trigger_kind: None,
            definition: &definition,
        };
        let id = match id {
            Some(id) => {
                settings::update(&mut tx, Kind::SlaPolicy, ws, id, &fields).await?;
                id
            }
            None => settings::create(&mut tx, Kind::SlaPolicy, ws, &fields).await?,
        };
        crate::directory::audit(
            &mut tx,
            actor,
            "sla_policy.saved",
            "sla_policy",
            Some(id),
            json!({"name": valid.name}),
        )
        .await?;
        let saved = settings::get(&mut tx, Kind::SlaPolicy, ws, id).await?;
        tx.commit().await?;
        let mut policy = input;
        policy.enabled = Some(saved.enabled);
        Ok(SlaPolicyInfo {
            id,
            position: saved.position,
            policy,
        })
    }

    pub async fn delete_sla_policy(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        settings::delete(&mut tx, Kind::SlaPolicy, actor.workspace_id, id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "sla_policy.deleted",
            "sla_policy",
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the order policies are tried in. Audited.
    pub async fn order_sla_policies(
        &self,
        actor: &Actor,
        input: OrderInput,
    ) -> AppResult<Vec<SlaPolicyInfo>> {
        require(actor, Permission::Administer)?;
        if input.ids.len() > 500 {
            return Err(citius_domain::Invalid::field("ids", "at most 500").into());
        }
        let mut tx = self.db.begin().await?;
        settings::reorder(&mut tx, Kind::SlaPolicy, actor.workspace_id, &input.ids).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "sla_policy.reordered",
            "sla_policy",
            None,
            json!({"ids": input.ids}),
        )
        .await?;
        tx.commit().await?;
        self.sla_policies(actor).await
    }

    // ---- clocks ----

    /// Where a conversation's SLA stands.
    pub async fn conversation_sla(
        &self,
        actor: &Actor,
        conversation_id: i64,
    ) -> AppResult<ConversationSla> {
        require(actor, Permission::Work)?;
        let ws = actor.workspace_id;
        let mut c = self.db.read().await?;
        conversations::get(&mut c, ws, conversation_id).await?;
        let rows = clocks::clocks(&mut c, ws, conversation_id).await?;
        let Some(policy_id) = rows.first().map(|r| r.policy_id) else {
            return Ok(ConversationSla {
                policy_id: None,
                policy_name: None,
                clocks: Vec::new(),
            });
        };
        let setup = SlaSetup::load(&mut c, ws).await?;
        let policy = setup.policy(policy_id);
        let cal = policy
            .map(|p| setup.calendar(p))
            .unwrap_or_else(BusinessCalendar::always);
        let warn = policy.map_or(0, |p| p.warn_before_secs);
        let now = Timestamp::now();
        let views = rows
            .iter()
            .map(|r| {
                let clock = clock_of(r)?;
                Ok(ClockView {
                    metric: clock.metric,
                    target_secs: clock.target_secs,
                    state: clock.state_at(now, &cal, warn),
                    due_at: r.due_at.map(from_ms),
                    warned_at: r.warned_at.map(from_ms),
                    breached_at: r.breached_at.map(from_ms),
                    met_at: r.met_at.map(from_ms),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        Ok(ConversationSla {
            policy_id: Some(policy_id),
            policy_name: policy.map(|p| p.name.clone()),
            clocks: views,
        })
    }

    pub async fn sla_summary(&self, actor: &Actor) -> AppResult<SlaSummary> {
        require(actor, Permission::Work)?;
        let mut c = self.db.read().await?;
        let (overdue, soon, breached) =
            clocks::summary(&mut c, actor.workspace_id, 3_600_000, now_ms() - 86_400_000).await?;
        Ok(SlaSummary {
            overdue,
            due_within_hour: soon,
            breached_last_day: breached,
        })
    }

    /// Moves a conversation's clocks for one event (from the outbox) and schedules their
    /// timers; returns the events it recorded.
    pub(crate) async fn run_sla_clocks(
        &self,
        tx: &mut Conn,
        setup: &SlaSetup,
        ws: i64,
        conv: &Conversation,
        event: &Event,
    ) -> AppResult<Vec<Event>> {
        let Some(sla_event) = sla_event(event) else {
            return Ok(Vec::new());
        };
        if setup.policies.is_empty() {
            return Ok(Vec::new());
        }
        let rows = clocks::clocks(tx, ws, conv.id).await?;
        let mut produced = Vec::new();
        let (policy_id, policy) = match rows.first() {
            Some(r) => match setup.policy(r.policy_id) {
                Some(p) => (r.policy_id, p),
                // The policy was deleted: its clocks stay as they were.
                None => return Ok(Vec::new()),
            },
            None if sla_event == SlaEvent::Created => {
                let tier = customers::get(tx, ws, conv.customer_id)
                    .await
                    .ok()
                    .and_then(|c| {
                        c.attributes
                            .get("tier")
                            .and_then(|t| t.as_str())
                            .map(str::to_string)
                    });
                let facts = SlaFacts {
                    priority: conv.priority,
                    channel: conv.channel,
                    inbox_id: conv.inbox_id,
                    tier: tier.as_deref(),
                };
                match sla::choose(&setup.policies, |(_, p)| p, &facts) {
                    Some((id, p)) => (*id, p),
                    None => return Ok(Vec::new()),
                }
            }
            None => return Ok(Vec::new()),
        };
        let cal = setup.calendar(policy);
        let mut list = rows.iter().map(clock_of).collect::<AppResult<Vec<_>>>()?;
        let changed = sla::apply(&mut list, sla_event, event.created_at, policy, &cal);
        for clock in list.iter().filter(|c| changed.contains(&c.metric)) {
            let due = clock.due_at(&cal);
            let row = ClockRow {
                conversation_id: conv.id,
                metric: clock.metric.as_str().to_string(),
                policy_id,
                clock: serde_json::to_value(clock).map_err(|e| corrupt("SLA clock", e))?,
                due_at: due.map(|t| t.as_millisecond()),
                warned_at: None,
                breached_at: None,
                met_at: clock.stopped_at.map(|t| t.as_millisecond()),
            };
            // A new wait for the next response may warn and breach again.
            let rearm = clock.metric == SlaMetric::NextResponse
                && sla_event == SlaEvent::Message(MessageKind::Inbound);
            clocks::put(tx, ws, &row, rearm).await?;
            if let (Some(due), Some(warn)) = (due, clock.warn_at(&cal, policy.warn_before_secs)) {
                schedule(tx, ws, conv.id, clock.metric, "warn", warn).await?;
                schedule(tx, ws, conv.id, clock.metric, "breach", due).await?;
            }
        }
        if sla_event == SlaEvent::Created && !changed.is_empty() {
            let due: serde_json::Map<String, serde_json::Value> = list
                .iter()
                .filter_map(|c| {
                    c.due_at(&cal)
                        .map(|d| (c.metric.as_str().to_string(), json!(d)))
                })
                .collect();
            produced.push(
                conversations::insert_event(
                    tx,
                    ws,
                    conv.id,
                    EventKind::SlaApplied,
                    None,
                    &json!({"policy_id": policy_id, "policy_name": policy.name, "due": due}),
                )
                .await?,
            );
        }
        Ok(produced)
    }

    /// A timer came due: records the warning or breach if the clock still runs and its time
    /// has really come (a clock paused or stopped since has moved on or ended).
    pub(crate) async fn sla_timer(&self, job: &jobs::Job) -> AppResult<()> {
        let p = &job.payload;
        let (Some(ws), Some(conv_id), Some(metric), Some(mark)) = (
            job.workspace_id,
            p.get("conversation_id").and_then(|v| v.as_i64()),
            p.get("metric")
                .and_then(|v| v.as_str())
                .and_then(|m| SlaMetric::parse(m).ok()),
            p.get("mark").and_then(|v| v.as_str()),
        ) else {
            return Ok(());
        };
        let mut tx = self.db.begin().await?;
        let rows = clocks::clocks(&mut tx, ws, conv_id).await?;
        let Some(row) = rows.iter().find(|r| r.metric == metric.as_str()) else {
            return Ok(());
        };
        let setup = SlaSetup::load(&mut tx, ws).await?;
        let Some(policy) = setup.policy(row.policy_id) else {
            return Ok(());
        };
        let cal = setup.calendar(policy);
        let clock = clock_of(row)?;
        let now = Timestamp::now();
        let (when, kind, mark) = match mark {
            "warn" => (
                clock.warn_at(&cal, policy.warn_before_secs),
                EventKind::SlaWarning,
                Mark::Warned,
            ),
            _ => (clock.due_at(&cal), EventKind::SlaBreached, Mark::Breached),
        };
        let Some(when) = when.filter(|w| *w <= now) else {
            return Ok(());
        };
        if !clocks::mark(
            &mut tx,
            conv_id,
            metric.as_str(),
            mark,
            now.as_millisecond(),
        )
        .await?
        {
            return Ok(());
        }
        let event = conversations::insert_event(
            &mut tx,
            ws,
            conv_id,
            kind,
            None,
            &json!({"metric": metric, "policy_id": row.policy_id, "policy_name": policy.name, "due_at": clock.due_at(&cal), "at": when}),
        )
        .await?;
        self.commit(tx, ws, vec![event]).await
    }
}

async fn schedule(
    c: &mut Conn,
    ws: i64,
    conv: i64,
    metric: SlaMetric,
    mark: &str,
    at: Timestamp,
) -> AppResult<()> {
    let at = at.as_millisecond();
    jobs::enqueue(
        c,
        &jobs::NewJob {
            workspace_id: Some(ws),
            kind: TIMER,
            payload: json!({"conversation_id": conv, "metric": metric, "mark": mark}),
            run_at: at,
            max_attempts: 10,
            dedupe_key: Some(format!("sla:{conv}:{metric}:{mark}:{at}")),
        },
    )
    .await?;
    Ok(())
}
