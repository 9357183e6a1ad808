//! Routing: agents' presence and capacity, per-inbox policies, and the dispatcher that gives
//! waiting conversations to the right agent and records why.

use std::collections::{BTreeMap, HashMap};

use citius_domain::Invalid;
use citius_domain::event::EventKind;
use citius_domain::language;
use citius_domain::records::Event;
use citius_domain::role::Permission;
use citius_domain::routing::{
    self, Agent, Capacity, Decision, Facts, Load, Presence, SkillRule, Strategy, Work,
};
use citius_store::conversations::{self as store, Changes};
use citius_store::routing as rs;
use citius_store::{Conn, directory, now_ms};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::not_found_as;
use crate::{Actor, App, AppResult, require};

/// Conversations the dispatcher looks at per round, oldest first.
const DISPATCH_WINDOW: i64 = 500;
/// Handling time assumed for wait estimates until measured per inbox.
const AVG_HANDLE_SECS: u32 = 300;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    pub presence: Presence,
    /// Conversations per channel at once, e.g. `{"chat": 3, "email": 10}`; missing channels keep
    /// their defaults.
    #[schema(value_type = Option<Object>)]
    pub capacity: Option<serde_json::Value>,
}

/// An agent as routing sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentStatus {
    pub user_id: i64,
    pub name: String,
    pub presence: Presence,
    pub capacity: Capacity,
    /// Open conversations held, per channel.
    #[schema(value_type = Object)]
    pub load: BTreeMap<String, u32>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub changed_at: Option<Timestamp>,
    /// The calendar of the agent's working hours; none means any time.
    pub schedule_calendar_id: Option<i64>,
    /// Within working hours now: routing only gives work to agents on shift.
    pub on_shift: bool,
}

/// An agent's working hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// A business calendar, or null for no schedule (routed whenever online).
    pub calendar_id: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicyInput {
    pub strategy: Strategy,
    /// Only members of this team get the inbox's conversations.
    pub team_id: Option<i64>,
    /// Skills required when a condition holds, e.g.
    /// `[{"when": {"field": "language", "equals": "de"}, "skill_id": 3, "min_level": 2}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub skill_rules: Option<serde_json::Value>,
    /// After `overflow_after_secs` unassigned, the conversation moves to this team.
    pub overflow_team_id: Option<i64>,
    pub overflow_after_secs: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoutingPolicy {
    pub inbox_id: i64,
    pub strategy: Strategy,
    pub team_id: Option<i64>,
    pub skill_rules: Vec<SkillRule>,
    pub overflow_team_id: Option<i64>,
    pub overflow_after_secs: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Where a waiting conversation stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueInfo {
    /// 1 is next; `null` when the conversation is not waiting.
    pub position: Option<usize>,
    pub waiting: usize,
    pub agents_online: u32,
    pub estimated_wait_secs: Option<u32>,
}

fn policy_of(row: rs::PolicyRow) -> Result<RoutingPolicy, citius_store::DbError> {
    let corrupt = |e: Invalid| citius_store::DbError::Corrupt(e.to_string());
    Ok(RoutingPolicy {
        inbox_id: row.inbox_id,
        strategy: Strategy::parse(&row.strategy).map_err(corrupt)?,
        team_id: row.team_id,
        skill_rules: routing::parse_skill_rules(&row.skill_rules).map_err(corrupt)?,
        overflow_team_id: row.overflow_team_id,
        overflow_after_secs: row.overflow_after_secs,
        updated_at: citius_store::from_ms(row.updated_at),
    })
}

fn default_capacity() -> serde_json::Value {
    serde_json::to_value(Capacity::default()).unwrap_or_else(|_| json!({}))
}

impl App {
    /// Sets the caller's presence. Going away or offline puts their conversations in routed
    /// inboxes back in the queue; coming online lets them take waiting work.
    pub async fn set_presence(
        &self,
        actor: &Actor,
        input: PresenceInput,
    ) -> AppResult<AgentStatus> {
        require(actor, Permission::Work)?;
        let capacity = input
            .capacity
            .as_ref()
            .map(|v| {
                Capacity::parse(v).and_then(|c| {
                    serde_json::to_value(c).map_err(|e| Invalid::field("capacity", e.to_string()))
                })
            })
            .transpose()?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let before = rs::set_presence(
            &mut tx,
            ws,
            actor.user_id,
            input.presence.as_str(),
            capacity.as_ref(),
            &default_capacity(),
            now_ms(),
        )
        .await?;
        let was_online = before.as_deref() == Some(Presence::Online.as_str());
        let mut events = Vec::new();
        if was_online && input.presence != Presence::Online {
            events = requeue(&mut tx, ws, actor.user_id, input.presence).await?;
        }
        self.commit(tx, ws, events).await?;
        // Chat widgets ask whether anyone is online: not from before this change.
        self.forget_online(ws);
        self.dispatch(ws).await?;
        self.agent_status(actor, actor.user_id).await
    }

    /// The caller is still at the screen: keeps them from turning away.
    pub async fn presence_heartbeat(&self, actor: &Actor) -> AppResult<()> {
        require(actor, Permission::Read)?;
        let mut tx = self.db.begin().await?;
        rs::touch(&mut tx, actor.workspace_id, actor.user_id, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's own presence, for the screens' top bar: one read by primary key. Offline
    /// until they first set one.
    pub async fn my_presence(&self, actor: &Actor) -> AppResult<Presence> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(rs::presence_of(&mut c, actor.workspace_id, actor.user_id)
            .await?
            .and_then(|p| Presence::parse(&p).ok())
            .unwrap_or(Presence::Offline))
    }

    /// Every member with their presence, capacity and open work.
    pub async fn agents(&self, actor: &Actor) -> AppResult<Vec<AgentStatus>> {
        require(actor, Permission::Read)?;
        let ws = actor.workspace_id;
        let mut c = self.db.read().await?;
        let members = directory::members(&mut c, ws).await?;
        let presences: HashMap<i64, rs::PresenceRow> = rs::presences(&mut c, ws)
            .await?
            .into_iter()
            .map(|p| (p.user_id, p))
            .collect();
        let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
        let shifts = on_shift(&mut c, ws, presences.values()).await?;
        let mut loads: HashMap<i64, BTreeMap<String, u32>> = HashMap::new();
        for (user, channel, n) in rs::open_load(&mut c, ws, &ids).await? {
            loads
                .entry(user)
                .or_default()
                .insert(channel.as_str().to_string(), n);
        }
        Ok(members
            .into_iter()
            .map(|m| {
                let p = presences.get(&m.id);
                AgentStatus {
                    user_id: m.id,
                    name: m.name,
                    presence: p
                        .and_then(|p| Presence::parse(&p.presence).ok())
                        .unwrap_or(Presence::Offline),
                    capacity: p
                        .and_then(|p| Capacity::parse(&p.capacity).ok())
                        .unwrap_or_default(),
                    load: loads.remove(&m.id).unwrap_or_default(),
                    last_seen_at: p.map(|p| citius_store::from_ms(p.last_seen_at)),
                    changed_at: p.map(|p| citius_store::from_ms(p.changed_at)),
                    schedule_calendar_id: p.and_then(|p| p.schedule_calendar_id),
                    on_shift: shifts.get(&m.id).copied().unwrap_or(true),
                }
            })
            .collect())
    }

    /// Gives an agent working hours, or none. Audited.
    pub async fn set_schedule(
        &self,
        actor: &Actor,
        user_id: i64,
        input: ScheduleInput,
    ) -> AppResult<AgentStatus> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        directory::member(&mut tx, ws, user_id).await?;
        if let Some(cal) = input.calendar_id {
            citius_store::settings::get(&mut tx, citius_store::settings::Kind::Calendar, ws, cal)
                .await
                .map_err(|e| crate::conversations::not_found_as(e, "calendar_id"))?;
        }
        rs::set_schedule(&mut tx, ws, user_id, input.calendar_id, &default_capacity()).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "agent.schedule_set",
            "user",
            Some(user_id),
            serde_json::json!({"calendar_id": input.calendar_id}),
        )
        .await?;
        tx.commit().await?;
        self.agent_status(actor, user_id).await
    }

    async fn agent_status(&self, actor: &Actor, user_id: i64) -> AppResult<AgentStatus> {
        self.agents(actor)
            .await?
            .into_iter()
            .find(|a| a.user_id == user_id)
            .ok_or(crate::AppError::NotFound)
    }

    pub async fn routing_policies(&self, actor: &Actor) -> AppResult<Vec<RoutingPolicy>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(rs::policies(&mut c, actor.workspace_id)
            .await?
            .into_iter()
            .map(policy_of)
            .collect::<Result<_, _>>()?)
    }

    /// Sets how an inbox routes. Audited.
    pub async fn set_routing_policy(
        &self,
        actor: &Actor,
        inbox_id: i64,
        input: RoutingPolicyInput,
    ) -> AppResult<RoutingPolicy> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let rules = routing::parse_skill_rules(&input.skill_rules.unwrap_or_else(|| json!([])))?;
        if let Some(s) = input.overflow_after_secs
            && !(10..=7 * 86_400).contains(&s)
        {
            return Err(
                Invalid::field("overflow_after_secs", "must be between 10 and 604800").into(),
            );
        }
        if input.overflow_team_id.is_some() != input.overflow_after_secs.is_some() {
            return Err(Invalid::field(
                "overflow_team_id",
                "give both the overflow team and overflow_after_secs, or neither",
            )
            .into());
        }
        let mut tx = self.db.begin().await?;
        directory::inbox_by_id(&mut tx, ws, inbox_id).await?;
        for (field, team) in [
            ("team_id", input.team_id),
            ("overflow_team_id", input.overflow_team_id),
        ] {
            if let Some(t) = team {
                directory::team(&mut tx, ws, t)
                    .await
                    .map_err(|e| not_found_as(e, field))?;
            }
        }
        let skills: Vec<i64> = directory::skills(&mut tx, ws)
            .await?
            .iter()
            .map(|s| s.id)
            .collect();
        if let Some(r) = rules.iter().find(|r| !skills.contains(&r.skill_id)) {
            return Err(Invalid::field(
                "skill_rules",
                format!("skill {} does not exist in this workspace", r.skill_id),
            )
            .into());
        }
        let row = rs::PolicyRow {
            inbox_id,
            strategy: input.strategy.as_str().to_string(),
            team_id: input.team_id,
            skill_rules: serde_json::to_value(&rules)
                .map_err(|e| Invalid::field("skill_rules", e.to_string()))?,
            overflow_team_id: input.overflow_team_id,
            overflow_after_secs: input.overflow_after_secs,
            updated_at: now_ms(),
        };
        rs::put_policy(&mut tx, ws, &row).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "routing.policy_set",
            "inbox",
            Some(inbox_id),
            json!({"strategy": row.strategy, "team_id": row.team_id, "skill_rules": row.skill_rules,
                   "overflow_team_id": row.overflow_team_id, "overflow_after_secs": row.overflow_after_secs}),
        )
        .await?;
        tx.commit().await?;
        self.dispatch(ws).await?;
        Ok(policy_of(row)?)
    }

    /// Stops routing an inbox: its conversations stay where they are. Audited.
    pub async fn delete_routing_policy(&self, actor: &Actor, inbox_id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        directory::inbox_by_id(&mut tx, actor.workspace_id, inbox_id).await?;
        rs::delete_policy(&mut tx, actor.workspace_id, inbox_id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "routing.policy_removed",
            "inbox",
            Some(inbox_id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Where a conversation stands in the queue and how long it may wait.
    pub async fn queue_info(&self, actor: &Actor, conversation_id: i64) -> AppResult<QueueInfo> {
        require(actor, Permission::Read)?;
        let ws = actor.workspace_id;
        let mut c = self.db.read().await?;
        store::get(&mut c, ws, conversation_id).await?;
        let routed = rs::routed_inboxes(&mut c, ws).await?;
        let waiting = rs::waiting(&mut c, ws, &routed, DISPATCH_WINDOW).await?;
        let agents = load_agents(&mut c, ws).await?;
        let mut works: Vec<Work> = waiting.iter().map(|w| work_of(w, None, &[])).collect();
        works.sort_by(routing::queue_order);
        let online: Vec<&Agent> = agents
            .iter()
            .filter(|a| a.presence == Presence::Online)
            .collect();
        let position = works
            .iter()
            .position(|w| w.conversation_id == conversation_id)
            .map(|p| p + 1);
        let channel = works
            .iter()
            .find(|w| w.conversation_id == conversation_id)
            .map(|w| w.channel);
        let free: u32 = channel
            .map(|ch| {
                online
                    .iter()
                    .map(|a| a.capacity.of(ch).saturating_sub(a.load.of(ch)))
                    .sum()
            })
            .unwrap_or(0);
        Ok(QueueInfo {
            position,
            waiting: works.len(),
            agents_online: u32::try_from(online.len()).unwrap_or(u32::MAX),
            estimated_wait_secs: position.map(|p| {
                routing::estimate_wait_secs(
                    p,
                    free,
                    u32::try_from(online.len()).unwrap_or(u32::MAX),
                    AVG_HANDLE_SECS,
                )
            }),
        })
    }

    /// Gives waiting conversations of a workspace to agents, most urgent first; moves those
    /// waiting too long to their overflow team. Returns how many were assigned. Safe on several
    /// nodes at once: a conversation is claimed only while still unassigned.
    pub async fn dispatch(&self, ws: i64) -> AppResult<usize> {
        let mut tx = self.db.begin().await?;
        let policies: HashMap<i64, RoutingPolicy> = rs::policies(&mut tx, ws)
            .await?
            .into_iter()
            .map(|p| policy_of(p).map(|p| (p.inbox_id, p)))
            .collect::<Result<_, _>>()?;
        if policies.is_empty() {
            return Ok(0);
        }
        let routed: Vec<i64> = policies.keys().copied().collect();
        let waiting = rs::waiting(&mut tx, ws, &routed, DISPATCH_WINDOW).await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let mut agents = load_agents(&mut tx, ws).await?;
        let ids: Vec<i64> = waiting.iter().map(|w| w.conversation_id).collect();
        let languages: HashMap<i64, &'static str> = rs::first_messages(&mut tx, &ids)
            .await?
            .into_iter()
            .filter_map(|(id, text)| language::detect(&text).map(|l| (id, l)))
            .collect();
        let now = now_ms();
        let mut events: Vec<Event> = Vec::new();
        let mut works: Vec<(Work, Strategy)> = Vec::with_capacity(waiting.len());
        for w in &waiting {
            let Some(policy) = policies.get(&w.inbox_id) else {
                continue;
            };
            let mut team = w.team_id.or(policy.team_id);
            if let (Some(after), Some(overflow)) =
                (policy.overflow_after_secs, policy.overflow_team_id)
                && now - w.created_at >= after * 1000
                && team != Some(overflow)
            {
                store::apply(
                    &mut tx,
                    ws,
                    w.conversation_id,
                    &Changes {
                        team_id: Some(Some(overflow)),
                        ..Changes::default()
                    },
                )
                .await?;
                events.push(
                    store::insert_event(
                        &mut tx,
                        ws,
                        w.conversation_id,
                        EventKind::Overflowed,
                        None,
                        &json!({"from_team_id": team, "team_id": overflow, "waited_secs": (now - w.created_at) / 1000}),
                    )
                    .await?,
                );
                team = Some(overflow);
            }
            let facts = Facts {
                language: languages.get(&w.conversation_id).copied(),
                tags: &w.tags,
                tier: w.customer_attributes.get("tier").and_then(|t| t.as_str()),
                channel: w.channel,
            };
            let required = routing::required_skills(&policy.skill_rules, &facts);
            let mut work = work_of(w, team, &required);
            work.vip = w
                .customer_attributes
                .get("vip")
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
                || facts.tier.is_some_and(|t| t.eq_ignore_ascii_case("vip"));
            works.push((work, policy.strategy));
        }
        works.sort_by(|a, b| routing::queue_order(&a.0, &b.0));
        let mut assigned = 0;
        let mut stamp = now;
        for (work, strategy) in works {
            let decision = match routing::choose(strategy, &work, &agents) {
                Ok(d) => d,
                Err(_) => continue,
            };
            if !rs::claim(
                &mut tx,
                ws,
                work.conversation_id,
                decision.user_id,
                work.team_id,
                now,
            )
            .await?
            {
                continue;
            }
            // Distinct times keep round-robin turning within one round and across rounds.
            stamp += 1;
            rs::mark_assigned(&mut tx, ws, decision.user_id, stamp).await?;
            if let Some(a) = agents.iter_mut().find(|a| a.user_id == decision.user_id) {
                a.load.add(work.channel);
                a.last_assigned_ms = stamp;
            }
            events.push(routed_event(&mut tx, ws, &work, &decision).await?);
            assigned += 1;
        }
        self.commit(tx, ws, events).await?;
        Ok(assigned)
    }

    /// Worker round: online agents silent for too long turn away (their conversations go back
    /// to the queue), then every routed workspace is dispatched.
    pub async fn route_waiting(&self) -> AppResult<usize> {
        let now = now_ms();
        let idle_before = now
            - i64::try_from(self.config.auto_away_secs)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000);
        let idle = {
            let mut c = self.db.read().await?;
            rs::workspaces_with_idle_agents(&mut c, idle_before).await?
        };
        for ws in idle {
            // Presence and the re-queue change together: nobody is away holding chats.
            let mut tx = self.db.begin().await?;
            let mut events = Vec::new();
            for user in rs::auto_away(&mut tx, ws, idle_before, now).await? {
                events.extend(requeue(&mut tx, ws, user, Presence::Away).await?);
            }
            self.commit(tx, ws, events).await?;
        }
        let workspaces = {
            let mut c = self.db.read().await?;
            rs::routed_workspaces(&mut c).await?
        };
        let mut total = 0;
        for ws in workspaces {
            total += self.dispatch(ws).await?;
        }
        Ok(total)
    }
}

/// Whether each scheduled agent is within working hours now.
async fn on_shift<'a>(
    c: &mut Conn,
    ws: i64,
    presences: impl Iterator<Item = &'a rs::PresenceRow>,
) -> AppResult<HashMap<i64, bool>> {
    let scheduled: Vec<(i64, i64)> = presences
        .filter_map(|p| p.schedule_calendar_id.map(|cal| (p.user_id, cal)))
        .collect();
    if scheduled.is_empty() {
        return Ok(HashMap::new());
    }
    let calendars = crate::sla::load_calendars(c, ws).await?;
    let now = Timestamp::now();
    Ok(scheduled
        .into_iter()
        .map(|(user, cal)| (user, calendars.get(&cal).is_none_or(|c| c.is_open(now))))
        .collect())
}

/// The agents of a workspace as routing needs them. Agents outside their working hours
/// count as away: they keep what they hold but get nothing new.
async fn load_agents(c: &mut Conn, ws: i64) -> AppResult<Vec<Agent>> {
    let presences = rs::presences(&mut *c, ws).await?;
    let shifts = on_shift(&mut *c, ws, presences.iter()).await?;
    let ids: Vec<i64> = presences.iter().map(|p| p.user_id).collect();
    let mut loads: HashMap<i64, Load> = HashMap::new();
    for (user, channel, n) in rs::open_load(&mut *c, ws, &ids).await? {
        let load = loads.entry(user).or_default();
        for _ in 0..n {
            load.add(channel);
        }
    }
    let mut skills: HashMap<i64, BTreeMap<i64, u8>> = HashMap::new();
    for (user, skill, level) in directory::user_skills(&mut *c, ws).await? {
        skills
            .entry(user)
            .or_default()
            .insert(skill, u8::try_from(level.clamp(0, 5)).unwrap_or(0));
    }
    let mut teams: HashMap<i64, Vec<i64>> = HashMap::new();
    for t in directory::teams(&mut *c, ws).await? {
        for m in t.member_ids {
            teams.entry(m).or_default().push(t.id);
        }
    }
    Ok(presences
        .into_iter()
        .map(|p| Agent {
            user_id: p.user_id,
            presence: match Presence::parse(&p.presence).unwrap_or(Presence::Offline) {
                Presence::Online if !shifts.get(&p.user_id).copied().unwrap_or(true) => {
                    Presence::Away
                }
                other => other,
            },
            capacity: Capacity::parse(&p.capacity).unwrap_or_default(),
            load: loads.remove(&p.user_id).unwrap_or_default(),
            skills: skills.remove(&p.user_id).unwrap_or_default(),
            teams: teams.remove(&p.user_id).unwrap_or_default(),
            last_assigned_ms: p.last_assigned_at,
        })
        .collect())
}

fn work_of(w: &rs::WaitingRow, team: Option<i64>, required: &[routing::Requirement]) -> Work {
    Work {
        conversation_id: w.conversation_id,
        channel: w.channel,
        team_id: team.or(w.team_id),
        required: required.to_vec(),
        priority: w.priority,
        vip: false,
        waiting_since_ms: w.created_at,
        sla_due_ms: None,
        exclude_user: None,
    }
}

/// The `assigned` event of a routed conversation, with the decision that explains it.
async fn routed_event(c: &mut Conn, ws: i64, work: &Work, decision: &Decision) -> AppResult<Event> {
    Ok(store::insert_event(
        c,
        ws,
        work.conversation_id,
        EventKind::Assigned,
        None,
        &json!({"assignee_id": decision.user_id, "team_id": work.team_id, "routing": decision,
                "required_skills": work.required}),
    )
    .await?)
}

/// Puts an agent's open conversations in routed inboxes back in the queue.
async fn requeue(
    c: &mut Conn,
    ws: i64,
    user_id: i64,
    now_presence: Presence,
) -> AppResult<Vec<Event>> {
    let ids = rs::routed_open_of(&mut *c, ws, user_id).await?;
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        store::apply(
            &mut *c,
            ws,
            id,
            &Changes {
                assignee_id: Some(None),
                ..Changes::default()
            },
        )
        .await?;
        events.push(
            store::insert_event(
                &mut *c,
                ws,
                id,
                EventKind::Requeued,
                None,
                &json!({"from_user_id": user_id, "reason": format!("the agent is {}", now_presence.as_str())}),
            )
            .await?,
        );
    }
    Ok(events)
}
