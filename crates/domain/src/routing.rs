//! Routing: which online agent takes a waiting conversation, and in what order waiting work is
//! served. Everything here works on snapshots the caller loads; nothing is read or stored, so the
//! same inputs always give the same decision.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conversation::{Channel, Priority, string_enum};
use crate::error::required_text;
use crate::{Invalid, InvalidField};

/// Most conversations of one channel an agent may hold: more is a typo, not a workload.
pub const MAX_CAPACITY: u32 = 100;
/// Most skill rules per routing policy; every waiting conversation is checked against all.
pub const MAX_SKILL_RULES: usize = 50;
/// Longest value a skill rule compares with (a language, tag or tier).
pub const MAX_RULE_TEXT: usize = 64;
pub const MIN_SKILL_LEVEL: u8 = 1;
pub const MAX_SKILL_LEVEL: u8 = 5;
/// The longest wait ever estimated; also the answer when nobody is online to serve.
pub const MAX_WAIT_ESTIMATE_SECS: u32 = 24 * 3600;

string_enum!(
    /// Whether an agent takes new work. Only `online` agents are routed to; the others get
    /// nothing new, whatever their free capacity.
    Presence, "presence" {
        Online => "online",
        Away => "away",
        Busy => "busy",
        Offline => "offline",
    }
);

string_enum!(
    /// How a routing policy picks among the agents eligible for a conversation. Every order
    /// ends on the oldest `last_assigned_ms`, then the lowest user id, so it is deterministic.
    ///
    /// - `round_robin`: longest since last assigned.
    /// - `least_loaded`: lowest load ratio on the work's channel (load / capacity), then fewest
    ///   open conversations over all channels.
    /// - `skills`: fewest skill levels held beyond the requirements, summed over them (experts
    ///   stay free for the work only they can do), then as `least_loaded`. Without
    ///   requirements it is `least_loaded`.
    Strategy, "strategy" {
        RoundRobin => "round_robin",
        LeastLoaded => "least_loaded",
        Skills => "skills",
    }
);

/// Position of a channel in per-channel arrays.
fn slot(channel: Channel) -> usize {
    match channel {
        Channel::Email => 0,
        Channel::Chat => 1,
        Channel::Sms => 2,
        Channel::Whatsapp => 3,
        Channel::Voice => 4,
        Channel::Api => 5,
    }
}

/// How many conversations of each channel an agent can hold at once. Zero means the agent
/// takes no work on that channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Capacity {
    pub chat: u32,
    pub email: u32,
    pub sms: u32,
    pub whatsapp: u32,
    pub voice: u32,
    pub api: u32,
}

/// Live channels need attention every minute, so they get few slots; a call takes all of one.
impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            chat: 3,
            email: 10,
            sms: 5,
            whatsapp: 5,
            voice: 1,
            api: 10,
        }
    }
}

impl Capacity {
    pub fn of(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Chat => self.chat,
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Whatsapp => self.whatsapp,
            Channel::Voice => self.voice,
            Channel::Api => self.api,
        }
    }

    fn of_mut(&mut self, channel: Channel) -> &mut u32 {
        match channel {
            Channel::Chat => &mut self.chat,
            Channel::Email => &mut self.email,
            Channel::Sms => &mut self.sms,
            Channel::Whatsapp => &mut self.whatsapp,
            Channel::Voice => &mut self.voice,
            Channel::Api => &mut self.api,
        }
    }

    /// Reads a capacity object such as `{"chat": 2, "voice": 0}`. Channels left out keep their
    /// default; unknown keys are refused so a misspelt channel is not silently ignored.
    pub fn parse(v: &serde_json::Value) -> Result<Capacity, Invalid> {
        let Some(object) = v.as_object() else {
            return Err(Invalid::field(
                "capacity",
                "must be an object of channel to count, e.g. {\"chat\": 3}",
            ));
        };
        let mut capacity = Capacity::default();
        let mut problems = Vec::new();
        for (key, value) in object {
            let Ok(channel) = Channel::parse(key) else {
                let shown: String = key.chars().take(40).collect();
                problems.push(InvalidField {
                    field: "capacity".into(),
                    message: format!(
                        "'{shown}' is not a channel: use chat, email, sms, whatsapp, voice or api"
                    ),
                });
                continue;
            };
            match value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= MAX_CAPACITY)
            {
                Some(n) => *capacity.of_mut(channel) = n,
                None => problems.push(InvalidField {
                    field: format!("capacity.{key}"),
                    message: format!("must be a whole number from 0 to {MAX_CAPACITY}"),
                }),
            }
        }
        if problems.is_empty() {
            Ok(capacity)
        } else {
            Err(Invalid { fields: problems })
        }
    }
}

/// Open work an agent holds, per channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    counts: [u32; 6],
}

impl Load {
    pub fn of(&self, channel: Channel) -> u32 {
        self.counts.get(slot(channel)).copied().unwrap_or(0)
    }

    pub fn add(&mut self, channel: Channel) {
        if let Some(n) = self.counts.get_mut(slot(channel)) {
            *n = n.saturating_add(1);
        }
    }

    /// Never goes below zero: a conversation closed twice must not corrupt the count.
    pub fn remove(&mut self, channel: Channel) {
        if let Some(n) = self.counts.get_mut(slot(channel)) {
            *n = n.saturating_sub(1);
        }
    }

    /// Sets one channel's count at once, for callers that load counts already summed.
    pub fn set(&mut self, channel: Channel, count: u32) {
        if let Some(n) = self.counts.get_mut(slot(channel)) {
            *n = count;
        }
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().fold(0, |sum, n| sum.saturating_add(*n))
    }
}

/// An agent as routing sees them: who they are, whether they take work, and what they hold.
#[derive(Debug, Clone)]
pub struct Agent {
    pub user_id: i64,
    pub presence: Presence,
    pub capacity: Capacity,
    pub load: Load,
    /// Skill id to level, 1 (basic) to 5 (expert).
    pub skills: BTreeMap<i64, u8>,
    pub teams: Vec<i64>,
    /// When the agent was last given work; round-robin serves the longest-idle first.
    pub last_assigned_ms: i64,
}

impl Agent {
    /// The agent's level in a skill; 0 when they do not have it.
    pub fn level(&self, skill_id: i64) -> u8 {
        self.skills.get(&skill_id).copied().unwrap_or(0)
    }

    /// Whether every requirement is met at or above its level.
    pub fn meets(&self, required: &[Requirement]) -> bool {
        required
            .iter()
            .all(|r| self.level(r.skill_id) >= r.min_level)
    }

    /// Conversations of this channel the agent could still take.
    pub fn free_slots(&self, channel: Channel) -> u32 {
        self.capacity
            .of(channel)
            .saturating_sub(self.load.of(channel))
    }

    /// Levels held beyond what the work needs, summed: the expertise an assignment would tie up
    /// without using it.
    fn surplus(&self, required: &[Requirement]) -> u32 {
        required
            .iter()
            .map(|r| u32::from(self.level(r.skill_id).saturating_sub(r.min_level)))
            .sum()
    }
}

/// A skill a conversation needs, at a level from 1 to 5 or above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Requirement {
    pub skill_id: i64,
    pub min_level: u8,
}

/// What needs an agent.
#[derive(Debug, Clone)]
pub struct Work {
    pub conversation_id: i64,
    pub channel: Channel,
    /// When set, only members of this team are eligible.
    pub team_id: Option<i64>,
    pub required: Vec<Requirement>,
    pub priority: Priority,
    pub vip: bool,
    pub waiting_since_ms: i64,
    /// When a reply is due; an earlier due time is more urgent.
    pub sla_due_ms: Option<i64>,
    /// An agent who must not get it, such as the one who just declined it or went offline.
    pub exclude_user: Option<i64>,
}

/// Why this agent: recorded on the timeline, so it must read well as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub user_id: i64,
    pub strategy: Strategy,
    /// Agents looked at, whatever their presence.
    pub considered: u32,
    /// Agents that could have taken it: online, not excluded, in the team, with the skills and
    /// a free slot on the channel.
    pub eligible: u32,
    /// The chosen agent's load on this channel before this assignment.
    pub load_before: u32,
    /// The chosen agent's capacity on this channel.
    pub capacity: u32,
    /// The requirements the chosen agent meets: all of the work's, one per skill at the highest
    /// level asked, ordered by skill id. Empty when no skill was needed.
    pub skill_match: Vec<Requirement>,
    /// One English sentence, e.g. "least loaded of 7 eligible agents (1 of 3 chats)".
    pub summary: String,
}

/// Why nobody was chosen, naming the check that ruled out the last candidates: when some agent
/// passed presence, team and skills but all such agents are full, the reason is capacity, not
/// skills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unrouted {
    NoAgentOnline,
    NoSkillMatch,
    AllAtCapacity,
    NotInTeam,
}

impl Unrouted {
    pub fn explain(&self) -> &'static str {
        match self {
            Unrouted::NoAgentOnline => "No agent is online to take it.",
            Unrouted::NotInTeam => "No online agent belongs to the conversation's team.",
            Unrouted::NoSkillMatch => "No online agent has all the skills it needs.",
            Unrouted::AllAtCapacity => {
                "Every agent who could take it is at capacity on this channel."
            }
        }
    }
}

impl std::fmt::Display for Unrouted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.explain())
    }
}

/// How far an agent gets through the eligibility checks, in the order they are applied. The
/// furthest stage any agent reaches names the reason when nobody is eligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Unavailable,
    Online,
    InTeam,
    Skilled,
    Eligible,
}

fn stage(agent: &Agent, work: &Work) -> Stage {
    if agent.presence != Presence::Online || work.exclude_user == Some(agent.user_id) {
        return Stage::Unavailable;
    }
    if let Some(team) = work.team_id
        && !agent.teams.contains(&team)
    {
        return Stage::Online;
    }
    if !agent.meets(&work.required) {
        return Stage::InTeam;
    }
    if agent.free_slots(work.channel) == 0 {
        return Stage::Skilled;
    }
    Stage::Eligible
}

/// What the strategies compare, gathered once per eligible agent.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    surplus: u32,
    load: u32,
    capacity: u32,
    total: u32,
    last_assigned_ms: i64,
    /// Order of assignment within one dispatch round (0 = none yet): agents stamped with the
    /// same `now` are rotated in the order they were served rather than by id.
    turn: u64,
    user_id: i64,
}

/// `Less` means `a` is the better pick, by the orders documented on [`Strategy`]. Ending on the
/// user id makes it total, so the choice never depends on the order agents are listed in.
fn compare(strategy: Strategy, a: &Candidate, b: &Candidate) -> Ordering {
    let ratio = || {
        // load_a / cap_a vs load_b / cap_b without division; capacities are non-zero here.
        (u64::from(a.load) * u64::from(b.capacity))
            .cmp(&(u64::from(b.load) * u64::from(a.capacity)))
    };
    let rotation = || {
        a.last_assigned_ms
            .cmp(&b.last_assigned_ms)
            .then(a.turn.cmp(&b.turn))
            .then(a.user_id.cmp(&b.user_id))
    };
    match strategy {
        Strategy::RoundRobin => rotation(),
        Strategy::LeastLoaded => ratio()
            .then_with(|| a.total.cmp(&b.total))
            .then_with(rotation),
        Strategy::Skills => a
            .surplus
            .cmp(&b.surplus)
            .then_with(ratio)
            .then_with(|| a.total.cmp(&b.total))
            .then_with(rotation),
    }
}

/// The work's requirements, one per skill at the highest level asked, by skill id.
fn normalized(required: &[Requirement]) -> Vec<Requirement> {
    let mut levels: BTreeMap<i64, u8> = BTreeMap::new();
    for r in required {
        let level = levels.entry(r.skill_id).or_insert(r.min_level);
        *level = (*level).max(r.min_level);
    }
    levels
        .into_iter()
        .map(|(skill_id, min_level)| Requirement {
            skill_id,
            min_level,
        })
        .collect()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The conversations of a channel, in words, for `n` of them.
fn channel_noun(channel: Channel, n: u32) -> &'static str {
    let one = n == 1;
    match (channel, one) {
        (Channel::Chat, true) => "chat",
        (Channel::Chat, false) => "chats",
        (Channel::Email, true) => "email",
        (Channel::Email, false) => "emails",
        (Channel::Sms, true) => "text message",
        (Channel::Sms, false) => "text messages",
        (Channel::Whatsapp, true) => "WhatsApp chat",
        (Channel::Whatsapp, false) => "WhatsApp chats",
        (Channel::Voice, true) => "call",
        (Channel::Voice, false) => "calls",
        (Channel::Api, true) => "API conversation",
        (Channel::Api, false) => "API conversations",
    }
}

fn summary(strategy: Strategy, work: &Work, chosen: &Candidate, eligible: u32) -> String {
    let among = if eligible == 1 {
        "the only eligible agent".to_string()
    } else {
        format!("{eligible} eligible agents")
    };
    let pick = match strategy {
        Strategy::RoundRobin if eligible == 1 => among,
        Strategy::RoundRobin => format!("next in rotation of {among}"),
        Strategy::LeastLoaded if eligible == 1 => among,
        Strategy::LeastLoaded => format!("least loaded of {among}"),
        Strategy::Skills if work.required.is_empty() => {
            if eligible == 1 {
                format!("{among}, no skills required")
            } else {
                format!("least loaded of {among}, no skills required")
            }
        }
        Strategy::Skills => {
            let fit = match chosen.surplus {
                0 => "exactly at the required skill levels".to_string(),
                1 => "1 skill level above requirements".to_string(),
                n => format!("{n} skill levels above requirements"),
            };
            if eligible == 1 {
                format!("{among}, {fit}")
            } else {
                format!("closest skill match of {among}, {fit}")
            }
        }
    };
    format!(
        "{pick} ({} of {} {})",
        chosen.load,
        chosen.capacity,
        channel_noun(work.channel, chosen.capacity)
    )
}

/// One pass over the agents: the best eligible one by the strategy, or the most specific reason
/// there is none. `turns` holds per-agent assignment order within a dispatch round, if any.
fn pick(
    strategy: Strategy,
    work: &Work,
    agents: &[Agent],
    turns: &[u64],
) -> Result<(usize, Decision), Unrouted> {
    let mut furthest = Stage::Unavailable;
    let mut eligible = 0usize;
    let mut best: Option<Candidate> = None;
    for (index, agent) in agents.iter().enumerate() {
        let reached = stage(agent, work);
        furthest = furthest.max(reached);
        if reached != Stage::Eligible {
            continue;
        }
        eligible += 1;
        let candidate = Candidate {
            index,
            surplus: if strategy == Strategy::Skills {
                agent.surplus(&work.required)
            } else {
                0
            },
            load: agent.load.of(work.channel),
            capacity: agent.capacity.of(work.channel),
            total: agent.load.total(),
            last_assigned_ms: agent.last_assigned_ms,
            turn: turns.get(index).copied().unwrap_or(0),
            user_id: agent.user_id,
        };
        best = match best {
            Some(current) if compare(strategy, &candidate, &current) != Ordering::Less => {
                Some(current)
            }
            _ => Some(candidate),
        };
    }
    let Some(chosen) = best else {
        return Err(match furthest {
            Stage::Unavailable => Unrouted::NoAgentOnline,
            Stage::Online => Unrouted::NotInTeam,
            Stage::InTeam => Unrouted::NoSkillMatch,
            Stage::Skilled | Stage::Eligible => Unrouted::AllAtCapacity,
        });
    };
    let eligible = count(eligible);
    Ok((
        chosen.index,
        Decision {
            user_id: chosen.user_id,
            strategy,
            considered: count(agents.len()),
            eligible,
            load_before: chosen.load,
            capacity: chosen.capacity,
            skill_match: normalized(&work.required),
            summary: summary(strategy, work, &chosen, eligible),
        },
    ))
}

/// Picks the agent for one piece of work. An agent is eligible when online, not excluded, in
/// the work's team (if any), at or above every required skill level and below capacity on the
/// work's channel; the [`Strategy`] orders the eligible ones. Pure and linear in the number of
/// agents.
pub fn choose(strategy: Strategy, work: &Work, agents: &[Agent]) -> Result<Decision, Unrouted> {
    pick(strategy, work, agents, &[]).map(|(_, decision)| decision)
}

/// Earlier first; no due time comes after any due time.
fn due_order(a: Option<i64>, b: Option<i64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Orders waiting work: urgent first (priority rank, then VIP, then earlier SLA due), then
/// longest waiting, then by conversation id so the order is total and stable across calls.
pub fn queue_order(a: &Work, b: &Work) -> Ordering {
    b.priority
        .rank()
        .cmp(&a.priority.rank())
        .then_with(|| b.vip.cmp(&a.vip))
        .then_with(|| due_order(a.sla_due_ms, b.sla_due_ms))
        .then_with(|| a.waiting_since_ms.cmp(&b.waiting_since_ms))
        .then_with(|| a.conversation_id.cmp(&b.conversation_id))
}

/// Assigns as much waiting work as the agents can take, most urgent first; updates the agents'
/// loads and `last_assigned_ms` (= `now_ms`) in place, as each assignment changes who is best
/// for the next. Returns the assignments in the order made and leaves the rest in `waiting`, in
/// queue order. Agents stamped with the same `now_ms` in this round take turns in the order
/// they were served, so round robin still rotates within one round.
pub fn dispatch(
    strategy: Strategy,
    waiting: &mut Vec<Work>,
    agents: &mut [Agent],
    now_ms: i64,
) -> Vec<(i64, Decision)> {
    waiting.sort_by(queue_order);
    let mut turns = vec![0u64; agents.len()];
    let mut next_turn = 1u64;
    let mut assigned = Vec::new();
    let mut left = Vec::new();
    for work in waiting.drain(..) {
        match pick(strategy, &work, agents, &turns) {
            Ok((index, decision)) => {
                if let Some(agent) = agents.get_mut(index) {
                    agent.load.add(work.channel);
                    agent.last_assigned_ms = now_ms;
                }
                if let Some(turn) = turns.get_mut(index) {
                    *turn = next_turn;
                }
                next_turn += 1;
                assigned.push((work.conversation_id, decision));
            }
            Err(_) => left.push(work),
        }
    }
    *waiting = left;
    assigned
}

/// Estimated wait, in seconds, for the visitor at `position` (1 is next). Those ahead take the
/// `free_slots` first; every further conversation waits for one to finish, and the
/// `agents_online` finish one each per `avg_handle_secs`. Zero when a free slot is left for the
/// visitor; [`MAX_WAIT_ESTIMATE_SECS`] when nobody is online, and never more.
pub fn estimate_wait_secs(
    position: usize,
    free_slots: u32,
    agents_online: u32,
    avg_handle_secs: u32,
) -> u32 {
    let ahead = u64::try_from(position.saturating_sub(1)).unwrap_or(u64::MAX);
    let to_finish = ahead
        .saturating_add(1)
        .saturating_sub(u64::from(free_slots));
    if to_finish == 0 {
        return 0;
    }
    if agents_online == 0 {
        return MAX_WAIT_ESTIMATE_SECS;
    }
    let online = u64::from(agents_online);
    let secs = to_finish
        .saturating_mul(u64::from(avg_handle_secs))
        .div_ceil(online);
    u32::try_from(secs)
        .unwrap_or(u32::MAX)
        .min(MAX_WAIT_ESTIMATE_SECS)
}

/// A skill a conversation needs when a fact about it holds, e.g. Spanish speakers for messages
/// written in Spanish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillRule {
    pub when: Condition,
    pub skill_id: i64,
    pub min_level: u8,
}

/// A fact about a conversation, as JSON `{"field": "language", "equals": "es"}`. Texts compare
/// without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(
    tag = "field",
    content = "equals",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Condition {
    /// ISO 639-1 code of the detected language, e.g. "es".
    Language(String),
    /// A tag on the conversation.
    Tag(String),
    /// The customer's tier attribute, e.g. "gold".
    Tier(String),
    Channel(Channel),
}

/// What rules are evaluated against, borrowed from the conversation and its customer.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub language: Option<&'a str>,
    pub tags: &'a [String],
    pub tier: Option<&'a str>,
    pub channel: Channel,
}

fn same_text(a: &str, b: &str) -> bool {
    a.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .eq(b.trim().chars().flat_map(char::to_lowercase))
}

impl Condition {
    pub fn holds(&self, facts: &Facts<'_>) -> bool {
        match self {
            Condition::Language(code) => facts.language.is_some_and(|l| same_text(l, code)),
            Condition::Tag(tag) => facts.tags.iter().any(|t| same_text(t, tag)),
            Condition::Tier(tier) => facts.tier.is_some_and(|t| same_text(t, tier)),
            Condition::Channel(channel) => facts.channel == *channel,
        }
    }
}

/// Skills a conversation needs: one per skill whose rule holds, at the highest level any holding
/// rule asks, ordered by skill id.
pub fn required_skills(rules: &[SkillRule], facts: &Facts<'_>) -> Vec<Requirement> {
    let holding: Vec<Requirement> = rules
        .iter()
        .filter(|r| r.when.holds(facts))
        .map(|r| Requirement {
            skill_id: r.skill_id,
            min_level: r.min_level,
        })
        .collect();
    normalized(&holding)
}

/// Reads a policy's skill rules: a list of at most 50, each with a positive skill id, a level
/// from 1 to 5 and a compared text of 1 to 64 characters (stored trimmed and lower-cased).
pub fn parse_skill_rules(v: &serde_json::Value) -> Result<Vec<SkillRule>, Invalid> {
    let Some(items) = v.as_array() else {
        return Err(Invalid::field("skill_rules", "must be a list of rules"));
    };
    if items.len() > MAX_SKILL_RULES {
        return Err(Invalid::field(
            "skill_rules",
            format!("at most {MAX_SKILL_RULES} rules (got {})", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_skill_rule(i, item))
        .collect()
}

fn parse_skill_rule(i: usize, item: &serde_json::Value) -> Result<SkillRule, Invalid> {
    let field = |name: &str| format!("skill_rules[{i}].{name}");
    let rule: SkillRule = serde_json::from_value(item.clone()).map_err(|e| {
        Invalid::field(
            format!("skill_rules[{i}]"),
            format!(
                "{e}; expected {{\"when\": {{\"field\": \"language\", \"equals\": \"es\"}}, \"skill_id\": 1, \"min_level\": 3}}"
            ),
        )
    })?;
    if rule.skill_id < 1 {
        return Err(Invalid::field(field("skill_id"), "must be a skill id"));
    }
    if !(MIN_SKILL_LEVEL..=MAX_SKILL_LEVEL).contains(&rule.min_level) {
        return Err(Invalid::field(
            field("min_level"),
            format!("must be from {MIN_SKILL_LEVEL} to {MAX_SKILL_LEVEL}"),
        ));
    }
    let text = |value: &str| {
        required_text(&field("when.equals"), value, MAX_RULE_TEXT).map(|t| t.to_lowercase())
    };
    let when = match rule.when {
        Condition::Language(v) => Condition::Language(text(&v)?),
        Condition::Tag(v) => Condition::Tag(text(&v)?),
        Condition::Tier(v) => Condition::Tier(text(&v)?),
        Condition::Channel(c) => Condition::Channel(c),
    };
    Ok(SkillRule { when, ..rule })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent(user_id: i64) -> Agent {
        Agent {
            user_id,
            presence: Presence::Online,
            capacity: Capacity::default(),
            load: Load::default(),
            skills: BTreeMap::new(),
            teams: Vec::new(),
            last_assigned_ms: 0,
        }
    }

    fn skilled(user_id: i64, skills: &[(i64, u8)]) -> Agent {
        Agent {
            skills: skills.iter().copied().collect(),
            ..agent(user_id)
        }
    }

    fn loaded(mut a: Agent, channel: Channel, n: u32) -> Agent {
        a.load.set(channel, n);
        a
    }

    fn work(conversation_id: i64) -> Work {
        Work {
            conversation_id,
            channel: Channel::Chat,
            team_id: None,
            required: Vec::new(),
            priority: Priority::Normal,
            vip: false,
            waiting_since_ms: 0,
            sla_due_ms: None,
            exclude_user: None,
        }
    }

    fn needing(required: &[(i64, u8)]) -> Work {
        Work {
            required: required
                .iter()
                .map(|(skill_id, min_level)| Requirement {
                    skill_id: *skill_id,
                    min_level: *min_level,
                })
                .collect(),
            ..work(1)
        }
    }

    fn chosen(strategy: Strategy, work: &Work, agents: &[Agent]) -> i64 {
        match choose(strategy, work, agents) {
            Ok(d) => d.user_id,
            Err(e) => panic!("nobody chosen: {e}"),
        }
    }

    #[test]
    fn capacity_defaults_and_parsing() {
        let default = Capacity::default();
        assert_eq!(
            [
                Channel::Chat,
                Channel::Email,
                Channel::Sms,
                Channel::Whatsapp,
                Channel::Voice,
                Channel::Api
            ]
            .map(|c| default.of(c)),
            [3, 10, 5, 5, 1, 10]
        );
        assert_eq!(Capacity::parse(&json!({})), Ok(default.clone()));
        let custom = Capacity::parse(&json!({"chat": 2, "voice": 0, "email": 100})).unwrap();
        assert_eq!(
            (custom.chat, custom.voice, custom.email, custom.sms),
            (2, 0, 100, 5)
        );
        // What the store writes back reads the same.
        let stored = serde_json::to_value(&custom).unwrap();
        assert_eq!(Capacity::parse(&stored), Ok(custom));
    }

    #[test]
    fn capacity_refuses_bad_input() {
        for bad in [json!([]), json!(3), json!(null), json!("chat")] {
            let err = Capacity::parse(&bad).unwrap_err();
            assert_eq!(err.fields[0].field, "capacity", "{bad}");
        }
        let err = Capacity::parse(&json!({"fax": 1})).unwrap_err();
        assert!(err.to_string().contains("'fax' is not a channel"), "{err}");
        for value in [json!(101), json!(-1), json!(2.5), json!("3"), json!(null)] {
            let err = Capacity::parse(&json!({ "chat": value })).unwrap_err();
            assert_eq!(err.fields[0].field, "capacity.chat", "{value}");
            assert!(err.to_string().contains("0 to 100"), "{err}");
        }
        // Every problem is reported at once.
        let err = Capacity::parse(&json!({"chat": 500, "sms": -2, "pager": 1})).unwrap_err();
        assert_eq!(err.fields.len(), 3, "{err}");
    }

    #[test]
    fn load_counts_per_channel() {
        let mut load = Load::default();
        load.add(Channel::Chat);
        load.add(Channel::Chat);
        load.add(Channel::Email);
        assert_eq!(
            (
                load.of(Channel::Chat),
                load.of(Channel::Email),
                load.total()
            ),
            (2, 1, 3)
        );
        load.remove(Channel::Chat);
        load.remove(Channel::Voice);
        assert_eq!(
            (
                load.of(Channel::Chat),
                load.of(Channel::Voice),
                load.total()
            ),
            (1, 0, 2)
        );
        load.set(Channel::Api, u32::MAX);
        load.add(Channel::Api);
        assert_eq!(load.total(), u32::MAX);
    }

    #[test]
    fn enums_read_and_write_as_text() {
        assert_eq!(
            serde_json::to_value(Strategy::RoundRobin).unwrap(),
            json!("round_robin")
        );
        assert_eq!(Strategy::parse("least_loaded"), Ok(Strategy::LeastLoaded));
        assert_eq!(Strategy::LeastLoaded.as_str(), "least_loaded");
        let err = Strategy::parse("fastest").unwrap_err();
        assert!(err.to_string().contains("round_robin"), "{err}");
        for p in Presence::ALL {
            assert_eq!(Presence::parse(p.as_str()), Ok(*p));
        }
        assert!(Presence::parse("ONLINE").is_err());
        assert_eq!(
            serde_json::to_value(Unrouted::AllAtCapacity).unwrap(),
            json!("all_at_capacity")
        );
    }

    #[test]
    fn only_online_agents_get_work() {
        let mut agents = vec![agent(1), agent(2), agent(3), agent(4)];
        agents[0].presence = Presence::Away;
        agents[1].presence = Presence::Busy;
        agents[2].presence = Presence::Offline;
        for strategy in Strategy::ALL {
            assert_eq!(chosen(*strategy, &work(1), &agents), 4);
        }
        agents[3].presence = Presence::Away;
        assert_eq!(
            choose(Strategy::LeastLoaded, &work(1), &agents),
            Err(Unrouted::NoAgentOnline)
        );
        assert_eq!(
            choose(Strategy::LeastLoaded, &work(1), &[]),
            Err(Unrouted::NoAgentOnline)
        );
    }

    #[test]
    fn round_robin_serves_the_longest_idle() {
        let mut agents = vec![agent(1), agent(2), agent(3)];
        agents[0].last_assigned_ms = 300;
        agents[1].last_assigned_ms = 100;
        agents[2].last_assigned_ms = 200;
        // Load does not matter to round robin, only free capacity.
        agents[1].load.set(Channel::Chat, 2);
        assert_eq!(chosen(Strategy::RoundRobin, &work(1), &agents), 2);
        agents[1].load.set(Channel::Chat, 3);
        assert_eq!(chosen(Strategy::RoundRobin, &work(1), &agents), 3);
        // Ties go to the lowest user id, wherever it is listed.
        let tied = vec![agent(9), agent(4), agent(7)];
        assert_eq!(chosen(Strategy::RoundRobin, &work(1), &tied), 4);
    }

    #[test]
    fn least_loaded_compares_ratio_then_total_then_idle_time() {
        // 1 of 3 chats is a third; 1 of 6 a sixth.
        let mut roomy = loaded(agent(1), Channel::Chat, 1);
        roomy.capacity.chat = 6;
        let tight = loaded(agent(2), Channel::Chat, 1);
        assert_eq!(
            chosen(Strategy::LeastLoaded, &work(1), &[tight.clone(), roomy]),
            1
        );

        // Same ratio: fewer conversations overall wins.
        let busy_elsewhere = loaded(loaded(agent(3), Channel::Chat, 1), Channel::Email, 4);
        assert_eq!(
            chosen(
                Strategy::LeastLoaded,
                &work(1),
                &[busy_elsewhere.clone(), tight.clone()]
            ),
            2
        );

        // Same loads: longest since last assigned, then lowest id.
        let mut recent = tight.clone();
        recent.user_id = 5;
        recent.last_assigned_ms = 50;
        let mut earlier = tight;
        earlier.user_id = 6;
        earlier.last_assigned_ms = 10;
        assert_eq!(
            chosen(
                Strategy::LeastLoaded,
                &work(1),
                &[recent.clone(), earlier.clone()]
            ),
            6
        );
        earlier.last_assigned_ms = 50;
        assert_eq!(
            chosen(Strategy::LeastLoaded, &work(1), &[earlier, recent]),
            5
        );
    }

    #[test]
    fn skills_keeps_experts_free() {
        const SPANISH: i64 = 7;
        let expert = skilled(1, &[(SPANISH, 5)]);
        let enough = loaded(skilled(2, &[(SPANISH, 3)]), Channel::Chat, 2);
        let too_little = skilled(3, &[(SPANISH, 2)]);
        let agents = [expert.clone(), enough.clone(), too_little];
        let w = needing(&[(SPANISH, 3)]);
        // The closest match wins even though the expert is idle.
        let d = choose(Strategy::Skills, &w, &agents).unwrap();
        assert_eq!(d.user_id, 2);
        assert_eq!(d.eligible, 2);
        assert_eq!(
            d.summary,
            "closest skill match of 2 eligible agents, exactly at the required skill levels (2 of 3 chats)"
        );
        // Least loaded would have taken the idle expert.
        assert_eq!(chosen(Strategy::LeastLoaded, &w, &agents), 1);
        // When the close match is full, the expert takes it.
        let full = loaded(enough, Channel::Chat, 3);
        assert_eq!(chosen(Strategy::Skills, &w, &[expert, full]), 1);
    }

    #[test]
    fn skills_sums_the_surplus_over_all_requirements() {
        let (lang, product) = (1, 2);
        let w = needing(&[(lang, 2), (product, 2)]);
        let strong_language = skilled(1, &[(lang, 5), (product, 2)]); // 3 above
        let strong_both = skilled(2, &[(lang, 3), (product, 3)]); // 2 above
        let unrelated_expert = skilled(3, &[(lang, 3), (product, 3), (99, 5)]); // 2 above, busier
        let busier = loaded(unrelated_expert, Channel::Email, 1);
        let d = choose(
            Strategy::Skills,
            &w,
            &[strong_language, busier, strong_both],
        )
        .unwrap();
        assert_eq!(d.user_id, 2);
        assert!(
            d.summary.contains("2 skill levels above requirements"),
            "{}",
            d.summary
        );
        // No requirements: the same as least loaded.
        let agents = [loaded(agent(1), Channel::Chat, 1), agent(2)];
        assert_eq!(chosen(Strategy::Skills, &work(1), &agents), 2);
    }

    #[test]
    fn team_limits_who_is_eligible() {
        let mut member = loaded(agent(1), Channel::Chat, 2);
        member.teams = vec![10, 20];
        let outsider = agent(2);
        let w = Work {
            team_id: Some(20),
            ..work(1)
        };
        for strategy in Strategy::ALL {
            assert_eq!(
                chosen(*strategy, &w, &[outsider.clone(), member.clone()]),
                1
            );
        }
        assert_eq!(
            choose(Strategy::LeastLoaded, &w, std::slice::from_ref(&outsider)),
            Err(Unrouted::NotInTeam)
        );
        // A member who is away does not count as a member who could take it.
        member.presence = Presence::Away;
        assert_eq!(
            choose(Strategy::LeastLoaded, &w, &[outsider, member]),
            Err(Unrouted::NotInTeam)
        );
    }

    #[test]
    fn excluded_agent_is_passed_over() {
        let agents = [agent(1), loaded(agent(2), Channel::Chat, 2)];
        let w = Work {
            exclude_user: Some(1),
            ..work(1)
        };
        for strategy in Strategy::ALL {
            assert_eq!(chosen(*strategy, &w, &agents), 2);
        }
        assert_eq!(
            choose(Strategy::RoundRobin, &w, &agents[..1]),
            Err(Unrouted::NoAgentOnline)
        );
    }

    #[test]
    fn capacity_is_never_exceeded() {
        let full = loaded(agent(1), Channel::Chat, 3);
        let mut no_calls = agent(2);
        no_calls.capacity.voice = 0;
        for strategy in Strategy::ALL {
            assert_eq!(
                choose(*strategy, &work(1), std::slice::from_ref(&full)),
                Err(Unrouted::AllAtCapacity)
            );
            let call = Work {
                channel: Channel::Voice,
                ..work(1)
            };
            assert_eq!(
                choose(*strategy, &call, &[no_calls.clone()]),
                Err(Unrouted::AllAtCapacity)
            );
            // Full on chat does not mean full on email.
            let email = Work {
                channel: Channel::Email,
                ..work(1)
            };
            assert_eq!(chosen(*strategy, &email, std::slice::from_ref(&full)), 1);
        }
        // A load above capacity (capacity lowered meanwhile) is simply full.
        let mut over = loaded(agent(3), Channel::Chat, 5);
        over.capacity.chat = 2;
        assert_eq!(
            choose(Strategy::LeastLoaded, &work(1), &[over]),
            Err(Unrouted::AllAtCapacity)
        );
    }

    #[test]
    fn unrouted_names_the_most_specific_reason() {
        let skill = 5;
        let w = Work {
            team_id: Some(1),
            ..needing(&[(skill, 3)])
        };
        let in_team = |mut a: Agent| {
            a.teams = vec![1];
            a
        };
        let offline_expert = Agent {
            presence: Presence::Offline,
            ..in_team(skilled(1, &[(skill, 5)]))
        };
        let outsider_expert = skilled(2, &[(skill, 5)]);
        let member_novice = in_team(skilled(3, &[(skill, 2)]));
        let member_full = loaded(in_team(skilled(4, &[(skill, 3)])), Channel::Chat, 3);

        let reason = |agents: &[Agent]| choose(Strategy::Skills, &w, agents).unwrap_err();
        assert_eq!(
            reason(std::slice::from_ref(&offline_expert)),
            Unrouted::NoAgentOnline
        );
        assert_eq!(
            reason(&[offline_expert.clone(), outsider_expert.clone()]),
            Unrouted::NotInTeam
        );
        assert_eq!(
            reason(&[
                offline_expert.clone(),
                outsider_expert.clone(),
                member_novice.clone()
            ]),
            Unrouted::NoSkillMatch
        );
        assert_eq!(
            reason(&[
                member_full.clone(),
                offline_expert,
                outsider_expert,
                member_novice
            ]),
            Unrouted::AllAtCapacity
        );
        // The listing order does not change the reason.
        assert_eq!(
            reason(&[member_full.clone(), agent(9)]),
            Unrouted::AllAtCapacity
        );
        assert_eq!(reason(&[agent(9), member_full]), Unrouted::AllAtCapacity);
        for r in [
            Unrouted::NoAgentOnline,
            Unrouted::NotInTeam,
            Unrouted::NoSkillMatch,
            Unrouted::AllAtCapacity,
        ] {
            assert!(r.explain().ends_with('.'));
            assert_eq!(r.to_string(), r.explain());
        }
    }

    #[test]
    fn decision_reads_well_as_json() {
        let agents = [
            loaded(agent(1), Channel::Chat, 2),
            loaded(agent(2), Channel::Chat, 1),
            loaded(agent(3), Channel::Chat, 3),
            Agent {
                presence: Presence::Offline,
                ..agent(4)
            },
        ];
        let d = choose(Strategy::LeastLoaded, &work(1), &agents).unwrap();
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "user_id": 2,
                "strategy": "least_loaded",
                "considered": 4,
                "eligible": 2,
                "load_before": 1,
                "capacity": 3,
                "skill_match": [],
                "summary": "least loaded of 2 eligible agents (1 of 3 chats)",
            })
        );
        let back: Decision = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);

        let call = Work {
            channel: Channel::Voice,
            ..needing(&[(4, 2), (1, 1), (4, 3)])
        };
        let d = choose(
            Strategy::RoundRobin,
            &call,
            &[skilled(8, &[(1, 1), (4, 3)])],
        )
        .unwrap();
        assert_eq!(d.summary, "the only eligible agent (0 of 1 call)");
        assert_eq!(
            d.skill_match,
            vec![
                Requirement {
                    skill_id: 1,
                    min_level: 1
                },
                Requirement {
                    skill_id: 4,
                    min_level: 3
                },
            ]
        );
        let d = choose(Strategy::RoundRobin, &work(1), &[agent(1), agent(2)]).unwrap();
        assert_eq!(
            d.summary,
            "next in rotation of 2 eligible agents (0 of 3 chats)"
        );
    }

    #[test]
    fn choice_does_not_depend_on_listing_order() {
        let mut agents: Vec<Agent> = (1..=40)
            .map(|id| {
                let mut a = skilled(id, &[(1, u8::try_from(id % 5 + 1).unwrap())]);
                a.load.set(Channel::Chat, u32::try_from(id % 3).unwrap());
                a.load.set(Channel::Email, u32::try_from(id % 4).unwrap());
                a.last_assigned_ms = id % 7;
                a
            })
            .collect();
        let w = needing(&[(1, 2)]);
        for strategy in Strategy::ALL {
            let forward = choose(*strategy, &w, &agents).unwrap();
            agents.reverse();
            let backward = choose(*strategy, &w, &agents).unwrap();
            assert_eq!(forward, backward, "{strategy}");
        }
    }

    #[test]
    fn queue_puts_urgent_work_first() {
        let at = |id: i64, waiting_since_ms: i64| Work {
            waiting_since_ms,
            ..work(id)
        };
        let mut queue = vec![
            at(1, 100),
            at(2, 50),
            Work {
                priority: Priority::Low,
                ..at(3, 0)
            },
            Work {
                sla_due_ms: Some(900),
                ..at(4, 300)
            },
            Work {
                sla_due_ms: Some(500),
                ..at(5, 400)
            },
            Work {
                vip: true,
                ..at(6, 500)
            },
            Work {
                priority: Priority::High,
                ..at(7, 600)
            },
            Work {
                priority: Priority::Urgent,
                ..at(8, 700)
            },
            Work {
                priority: Priority::High,
                vip: true,
                ..at(9, 800)
            },
            at(10, 50),
        ];
        queue.sort_by(queue_order);
        let order: Vec<i64> = queue.iter().map(|w| w.conversation_id).collect();
        assert_eq!(order, vec![8, 9, 7, 6, 5, 4, 2, 10, 1, 3]);
        assert_eq!(queue_order(&queue[0], &queue[0]), Ordering::Equal);
    }

    #[test]
    fn dispatch_serves_the_most_urgent_when_capacity_is_short() {
        let mut agents = vec![loaded(agent(1), Channel::Chat, 1), agent(2)];
        agents[1].capacity.chat = 1;
        let mut waiting: Vec<Work> = (1..=5)
            .map(|id| Work {
                waiting_since_ms: 100 - id,
                ..work(id)
            })
            .collect();
        waiting[3].priority = Priority::Urgent;
        let made = dispatch(Strategy::LeastLoaded, &mut waiting, &mut agents, 7_000);
        let ids: Vec<(i64, i64)> = made.iter().map(|(c, d)| (*c, d.user_id)).collect();
        // Urgent 4 first to the idle agent 2, then the longest waiting to agent 1 until full.
        assert_eq!(ids, vec![(4, 2), (5, 1), (3, 1)]);
        let left: Vec<i64> = waiting.iter().map(|w| w.conversation_id).collect();
        assert_eq!(left, vec![2, 1]);
        assert_eq!(agents[0].load.of(Channel::Chat), 3);
        assert_eq!(agents[1].load.of(Channel::Chat), 1);
        assert!(agents.iter().all(|a| a.last_assigned_ms == 7_000));
        // Nothing to give: nothing changes.
        let again = dispatch(Strategy::LeastLoaded, &mut waiting, &mut agents, 8_000);
        assert!(again.is_empty());
        assert_eq!(waiting.len(), 2);
    }

    #[test]
    fn dispatch_rotates_round_robin_within_a_round() {
        let mut agents = vec![agent(3), agent(1), agent(2)];
        agents[0].last_assigned_ms = 10;
        let mut waiting: Vec<Work> = (1..=7).map(work).collect();
        let made = dispatch(Strategy::RoundRobin, &mut waiting, &mut agents, 1_000);
        let order: Vec<i64> = made.iter().map(|(_, d)| d.user_id).collect();
        assert_eq!(order, vec![1, 2, 3, 1, 2, 3, 1]);
        assert!(waiting.is_empty());
    }

    #[test]
    fn estimated_wait() {
        // A free slot is left for the visitor.
        assert_eq!(estimate_wait_secs(1, 1, 1, 300), 0);
        assert_eq!(estimate_wait_secs(3, 3, 2, 300), 0);
        // Nothing free: the next finish among 2 agents.
        assert_eq!(estimate_wait_secs(1, 0, 2, 300), 150);
        // 4 ahead, 2 free: 3 must finish, 2 at a time.
        assert_eq!(estimate_wait_secs(5, 2, 2, 300), 450);
        assert_eq!(estimate_wait_secs(0, 0, 1, 60), 60);
        assert_eq!(estimate_wait_secs(4, 0, 0, 300), MAX_WAIT_ESTIMATE_SECS);
        assert_eq!(
            estimate_wait_secs(usize::MAX, 0, 1, u32::MAX),
            MAX_WAIT_ESTIMATE_SECS
        );
        assert_eq!(estimate_wait_secs(10, u32::MAX, 0, 300), 0);
        assert_eq!(estimate_wait_secs(10, 0, 3, 0), 0);
    }

    fn rule(when: Condition, skill_id: i64, min_level: u8) -> SkillRule {
        SkillRule {
            when,
            skill_id,
            min_level,
        }
    }

    #[test]
    fn required_skills_follow_the_facts() {
        let rules = vec![
            rule(Condition::Language("es".into()), 2, 3),
            rule(Condition::Tag("billing".into()), 10, 2),
            rule(Condition::Tag("refund".into()), 10, 4),
            rule(Condition::Tier("gold".into()), 20, 3),
            rule(Condition::Channel(Channel::Voice), 30, 1),
            rule(Condition::Language("de".into()), 3, 3),
            rule(Condition::Tier("gold".into()), 20, 2),
        ];
        let tags = vec!["billing".to_string(), "refund".to_string()];
        let facts = Facts {
            language: Some("ES"),
            tags: &tags,
            tier: Some(" Gold "),
            channel: Channel::Voice,
        };
        let needed = required_skills(&rules, &facts);
        let pairs: Vec<(i64, u8)> = needed.iter().map(|r| (r.skill_id, r.min_level)).collect();
        assert_eq!(pairs, vec![(2, 3), (10, 4), (20, 3), (30, 1)]);

        let quiet = Facts {
            language: None,
            tags: &[],
            tier: None,
            channel: Channel::Email,
        };
        assert!(required_skills(&rules, &quiet).is_empty());
        assert!(required_skills(&[], &facts).is_empty());
    }

    #[test]
    fn skill_rules_parse_from_json() {
        let v = json!([
            {"when": {"field": "language", "equals": " ES "}, "skill_id": 2, "min_level": 3},
            {"when": {"field": "tag", "equals": "Billing"}, "skill_id": 10, "min_level": 1},
            {"when": {"field": "tier", "equals": "gold"}, "skill_id": 20, "min_level": 5},
            {"when": {"field": "channel", "equals": "voice"}, "skill_id": 30, "min_level": 2},
        ]);
        let rules = parse_skill_rules(&v).unwrap();
        assert_eq!(rules[0].when, Condition::Language("es".into()));
        assert_eq!(rules[1].when, Condition::Tag("billing".into()));
        assert_eq!(rules[3].when, Condition::Channel(Channel::Voice));
        // What is stored reads back the same.
        let stored = serde_json::to_value(&rules).unwrap();
        assert_eq!(
            stored[3],
            json!({"when": {"field": "channel", "equals": "voice"}, "skill_id": 30, "min_level": 2})
        );
        assert_eq!(parse_skill_rules(&stored), Ok(rules));
        assert_eq!(parse_skill_rules(&json!([])), Ok(vec![]));
    }

    #[test]
    fn skill_rules_refuse_bad_input() {
        let ok = json!({"when": {"field": "tag", "equals": "vip"}, "skill_id": 1, "min_level": 2});
        let with = |key: &str, value: serde_json::Value| {
            let mut r = ok.clone();
            r[key] = value;
            json!([ok.clone(), r])
        };
        let field_of =
            |v: &serde_json::Value| parse_skill_rules(v).unwrap_err().fields[0].field.clone();

        assert_eq!(field_of(&json!({"rules": []})), "skill_rules");
        assert_eq!(field_of(&json!(null)), "skill_rules");
        let too_many = serde_json::Value::Array(vec![ok.clone(); 51]);
        assert!(
            parse_skill_rules(&too_many)
                .unwrap_err()
                .to_string()
                .contains("at most 50")
        );
        assert!(parse_skill_rules(&serde_json::Value::Array(vec![ok.clone(); 50])).is_ok());

        assert_eq!(
            field_of(&with("min_level", json!(0))),
            "skill_rules[1].min_level"
        );
        assert_eq!(
            field_of(&with("min_level", json!(6))),
            "skill_rules[1].min_level"
        );
        assert_eq!(field_of(&with("min_level", json!(300))), "skill_rules[1]");
        assert_eq!(
            field_of(&with("skill_id", json!(0))),
            "skill_rules[1].skill_id"
        );
        assert_eq!(field_of(&with("skill_id", json!("one"))), "skill_rules[1]");
        assert_eq!(field_of(&with("extra", json!(true))), "skill_rules[1]");
        for when in [
            json!({"field": "tag", "equals": "   "}),
            json!({"field": "tag", "equals": "x".repeat(65)}),
            json!({"field": "tier", "equals": "gold\u{7}"}),
        ] {
            assert_eq!(
                field_of(&with("when", when.clone())),
                "skill_rules[1].when.equals",
                "{when}"
            );
        }
        assert!(
            parse_skill_rules(&with(
                "when",
                json!({"field": "tag", "equals": "x".repeat(64)})
            ))
            .is_ok()
        );
        for when in [
            json!({"field": "country", "equals": "fr"}),
            json!({"field": "channel", "equals": "fax"}),
            json!({"field": "tag"}),
            json!({"field": "tag", "equals": 3}),
            json!({"field": "tag", "equals": "vip", "or": "gold"}),
            json!("language=es"),
        ] {
            let err = parse_skill_rules(&with("when", when.clone())).unwrap_err();
            assert_eq!(err.fields[0].field, "skill_rules[1]", "{when}");
            assert!(err.to_string().contains("expected {\"when\""), "{err}");
        }
    }

    #[test]
    fn chooses_among_a_thousand_online_agents() {
        let agents: Vec<Agent> = (1..=1_000)
            .map(|id: i64| {
                let mut a = skilled(
                    id,
                    &[(id % 20, u8::try_from(id % 5 + 1).unwrap()), (100, 3)],
                );
                a.teams = vec![id % 10];
                a.load.set(Channel::Chat, u32::try_from(id % 3).unwrap());
                a.last_assigned_ms = (id * 7_919) % 1_000;
                a
            })
            .collect();
        let w = Work {
            team_id: Some(3),
            ..needing(&[(3, 3), (100, 2)])
        };
        for strategy in Strategy::ALL {
            let d = choose(*strategy, &w, &agents).unwrap();
            assert_eq!(d.considered, 1_000);
            let a = &agents[usize::try_from(d.user_id - 1).unwrap()];
            assert!(a.teams.contains(&3) && a.level(3) >= 3 && a.free_slots(Channel::Chat) > 0);
        }
        // Eligible: ids 3, 23, 43, ...: in team 3, skill 3 at level 4, never full on chat.
        let d = choose(Strategy::LeastLoaded, &w, &agents).unwrap();
        assert_eq!(d.eligible, 50);
        assert_eq!(d.load_before, 0);
    }
}

/// A day of a support floor, simulated minute by minute: conversations arrive, are dispatched,
/// are handled for a random time and complete; agents leave and return. Every decision is
/// replayed against a brute-force check of the rules.
#[cfg(test)]
mod simulation {
    use super::*;
    use serde_json::json;

    /// xorshift64*: small, seeded and the same on every machine.
    struct Rng(u64);

    impl Rng {
        /// Scrambles the seed (one splitmix64 step) so that nearby seeds start far apart.
        fn new(seed: u64) -> Self {
            let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            Rng((z ^ (z >> 31)) | 1)
        }

        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Uniform in `lo..=hi` (the modulo bias is negligible for these small ranges).
        fn between(&mut self, lo: i64, hi: i64) -> i64 {
            let span = u64::try_from(hi - lo + 1).unwrap();
            lo + i64::try_from(self.next() % span).unwrap()
        }

        fn percent(&mut self) -> i64 {
            self.between(0, 99)
        }

        fn level(&mut self, lo: u8, hi: u8) -> u8 {
            u8::try_from(self.between(i64::from(lo), i64::from(hi))).unwrap()
        }
    }

    const TICK_MS: i64 = 60_000;
    const CONVERSATIONS: usize = 1_000;
    const AGENTS: i64 = 50;
    /// Arrivals spread over an eight-hour day, with a rush of 30% of them in ten minutes.
    const DAY_TICKS: i64 = 480;
    const RUSH: (i64, i64) = (150, 159);

    // Skills.
    const EN: i64 = 1;
    const ES: i64 = 2;
    const DE: i64 = 3;
    const FR: i64 = 4;
    const BILLING: i64 = 10;
    const SHIPPING: i64 = 11;
    const TECH: i64 = 12;
    const ENTERPRISE: i64 = 13;
    const VIP_CARE: i64 = 20;
    const PHONE: i64 = 30;
    /// Asked for by some conversations, held by nobody.
    const JAPANESE: i64 = 40;

    // Teams.
    const SUPPORT: i64 = 1;
    const LATAM: i64 = 2;
    const EMEA: i64 = 3;
    const TECHNICAL: i64 = 4;
    /// A team without members: conversations sent there can never be served.
    const EMPTY_TEAM: i64 = 9;

    /// Identical English generalists, well above what routine work needs; they never leave.
    const GENERALISTS: std::ops::RangeInclusive<i64> = 1..=8;
    /// Identical English juniors, exactly at what routine work needs; they never leave.
    const JUNIORS: std::ops::RangeInclusive<i64> = 9..=14;

    fn rules() -> Vec<SkillRule> {
        let rule = |field: &str, equals: &str, skill_id: i64, min_level: u8| json!({"when": {"field": field, "equals": equals}, "skill_id": skill_id, "min_level": min_level});
        let v = json!([
            rule("language", "en", EN, 2),
            rule("language", "es", ES, 3),
            rule("language", "de", DE, 3),
            rule("language", "fr", FR, 3),
            rule("tag", "billing", BILLING, 2),
            rule("tag", "shipping", SHIPPING, 2),
            rule("tag", "api", TECH, 3),
            rule("tag", "outage", TECH, 4),
            rule("tag", "contract", ENTERPRISE, 5),
            rule("tag", "japanese", JAPANESE, 1),
            rule("tier", "gold", VIP_CARE, 3),
            rule("tier", "platinum", VIP_CARE, 5),
            rule("channel", "voice", PHONE, 1),
        ]);
        parse_skill_rules(&v).unwrap()
    }

    fn roster(rng: &mut Rng) -> Vec<Agent> {
        (1..=AGENTS)
            .map(|user_id| {
                let mut skills = BTreeMap::new();
                let mut capacity = Capacity::default();
                let teams;
                match user_id {
                    1..=8 => {
                        skills.extend([(EN, 4), (BILLING, 3), (SHIPPING, 3), (PHONE, 1)]);
                        teams = vec![SUPPORT];
                    }
                    9..=14 => {
                        skills.extend([(EN, 2), (BILLING, 2), (SHIPPING, 2)]);
                        teams = vec![SUPPORT];
                    }
                    15..=20 => {
                        skills.extend([
                            (ES, rng.level(4, 5)),
                            (EN, rng.level(2, 4)),
                            (BILLING, rng.level(2, 4)),
                            (SHIPPING, rng.level(2, 4)),
                        ]);
                        if rng.percent() < 50 {
                            skills.insert(PHONE, 1);
                        }
                        if rng.percent() < 30 {
                            skills.insert(VIP_CARE, rng.level(3, 4));
                        }
                        capacity.chat = u32::from(rng.level(2, 4));
                        capacity.email = u32::from(rng.level(6, 10));
                        teams = vec![SUPPORT, LATAM];
                    }
                    21..=30 => {
                        let (main, other) = if user_id <= 25 { (DE, FR) } else { (FR, DE) };
                        skills.extend([
                            (main, rng.level(4, 5)),
                            (EN, 3),
                            (BILLING, rng.level(2, 4)),
                            (SHIPPING, rng.level(2, 4)),
                        ]);
                        if rng.percent() < 30 {
                            skills.insert(other, 3);
                        }
                        if rng.percent() < 50 {
                            skills.insert(PHONE, 1);
                        }
                        capacity.chat = u32::from(rng.level(2, 4));
                        teams = vec![SUPPORT, EMEA];
                    }
                    31..=40 => {
                        skills.extend([(EN, rng.level(3, 4)), (TECH, rng.level(3, 5)), (PHONE, 1)]);
                        match user_id {
                            31 | 32 => skills.insert(ES, 3),
                            33 | 34 => skills.insert(DE, 3),
                            35 => skills.insert(FR, 3),
                            _ => None,
                        };
                        capacity = Capacity {
                            chat: 2,
                            email: 6,
                            sms: 3,
                            whatsapp: 3,
                            voice: 1,
                            api: 10,
                        };
                        teams = if user_id >= 36 {
                            vec![TECHNICAL, SUPPORT]
                        } else {
                            vec![TECHNICAL]
                        };
                    }
                    41..=48 => {
                        let vip = if user_id <= 43 { 5 } else { rng.level(3, 5) };
                        skills.extend([
                            (EN, 4),
                            (VIP_CARE, vip),
                            (BILLING, 4),
                            (SHIPPING, 3),
                            (PHONE, 1),
                        ]);
                        match user_id {
                            41 | 44 => skills.insert(ES, 3),
                            42 => skills.insert(DE, 3),
                            43 => skills.insert(FR, 3),
                            _ => None,
                        };
                        capacity = Capacity {
                            chat: 2,
                            email: 5,
                            sms: 3,
                            whatsapp: 3,
                            voice: 1,
                            api: 10,
                        };
                        teams = vec![SUPPORT];
                    }
                    _ => {
                        skills.extend([
                            (EN, 5),
                            (ENTERPRISE, 5),
                            (TECH, 4),
                            (BILLING, 5),
                            (VIP_CARE, 5),
                            (PHONE, 1),
                        ]);
                        capacity = Capacity {
                            chat: 2,
                            email: 4,
                            sms: 2,
                            whatsapp: 2,
                            voice: 1,
                            api: 10,
                        };
                        teams = vec![SUPPORT, TECHNICAL];
                    }
                }
                Agent {
                    user_id,
                    presence: Presence::Online,
                    capacity,
                    load: Load::default(),
                    skills,
                    teams,
                    last_assigned_ms: 0,
                }
            })
            .collect()
    }

    struct Arrival {
        tick: i64,
        work: Work,
    }

    fn arrivals(rng: &mut Rng, rules: &[SkillRule]) -> Vec<Arrival> {
        let mut all: Vec<Arrival> = (0..CONVERSATIONS)
            .map(|i| {
                let tick = if rng.percent() < 30 {
                    rng.between(RUSH.0, RUSH.1)
                } else {
                    rng.between(0, DAY_TICKS - 1)
                };
                let channel = match rng.percent() {
                    0..=39 => Channel::Chat,
                    40..=64 => Channel::Email,
                    65..=79 => Channel::Whatsapp,
                    80..=89 => Channel::Sms,
                    _ => Channel::Voice,
                };
                let language = match rng.percent() {
                    0..=54 => Some("en"),
                    55..=74 => Some("es"),
                    75..=84 => Some("de"),
                    85..=94 => Some("fr"),
                    _ => None,
                };
                let tags: Vec<String> = match rng.percent() {
                    0..=34 => vec!["billing".into()],
                    35..=64 => vec!["shipping".into()],
                    65..=79 => vec!["api".into()],
                    80..=82 => vec!["api".into(), "outage".into()],
                    83..=84 => vec!["contract".into()],
                    85 => vec!["japanese".into()],
                    _ => vec![],
                };
                let tier = match rng.percent() {
                    0..=7 => Some("gold"),
                    8..=14 => Some("Gold"),
                    15..=18 => Some("platinum"),
                    _ => None,
                };
                let facts = Facts {
                    language,
                    tags: &tags,
                    tier,
                    channel,
                };
                let technical = tags.iter().any(|t| t == "api");
                let team_id = if rng.between(0, 999) < 5 {
                    Some(EMPTY_TEAM)
                } else if technical && rng.percent() < 60 {
                    Some(TECHNICAL)
                } else if rng.percent() < 15 {
                    Some(SUPPORT)
                } else {
                    None
                };
                let priority = match rng.percent() {
                    0..=9 => Priority::Low,
                    10..=69 => Priority::Normal,
                    70..=91 => Priority::High,
                    _ => Priority::Urgent,
                };
                let arrived_ms = tick * TICK_MS;
                let sla_due_ms =
                    (rng.percent() < 50).then(|| arrived_ms + rng.between(2, 60) * TICK_MS);
                Arrival {
                    tick,
                    work: Work {
                        conversation_id: i64::try_from(i).unwrap(),
                        channel,
                        team_id,
                        required: required_skills(rules, &facts),
                        priority,
                        vip: tier == Some("platinum"),
                        waiting_since_ms: arrived_ms,
                        sla_due_ms,
                        exclude_user: None,
                    },
                }
            })
            .collect();
        all.sort_by_key(|a| (a.tick, a.work.conversation_id));
        all
    }

    /// Minutes a conversation takes once an agent has it.
    fn handling_ticks(rng: &mut Rng, channel: Channel) -> i64 {
        match channel {
            Channel::Chat => rng.between(4, 12),
            Channel::Email => rng.between(8, 30),
            Channel::Sms | Channel::Whatsapp => rng.between(5, 15),
            Channel::Voice => rng.between(3, 9),
            Channel::Api => rng.between(5, 20),
        }
    }

    /// Agents stepping away and coming back. Away and offline hand their conversations back to
    /// the queue; busy keeps them but takes nothing new.
    struct Absence {
        from: i64,
        until: i64,
        presence: Presence,
        agents: &'static [i64],
    }

    const ABSENCES: &[Absence] = &[
        Absence {
            from: 60,
            until: 110,
            presence: Presence::Away,
            agents: &[15, 21, 31, 41],
        },
        // In the middle of the rush, including one of the two enterprise specialists.
        Absence {
            from: 155,
            until: 230,
            presence: Presence::Offline,
            agents: &[49, 22, 26, 35, 16],
        },
        Absence {
            from: 200,
            until: 260,
            presence: Presence::Busy,
            agents: &[37, 43],
        },
        Absence {
            from: 300,
            until: 340,
            presence: Presence::Away,
            agents: &[17, 18, 19, 42, 36],
        },
        Absence {
            from: 420,
            until: 460,
            presence: Presence::Offline,
            agents: &[50, 23, 27],
        },
    ];

    /// The rules restated plainly, to check the engine against.
    fn may_take(a: &Agent, w: &Work) -> bool {
        a.presence == Presence::Online
            && w.exclude_user != Some(a.user_id)
            && w.team_id.is_none_or(|t| a.teams.contains(&t))
            && w.required
                .iter()
                .all(|r| a.skills.get(&r.skill_id).is_some_and(|l| *l >= r.min_level))
            && a.load.of(w.channel) < a.capacity.of(w.channel)
    }

    /// Whether anyone on the roster could serve it on a quiet day: everyone online, nobody busy.
    fn servable(roster: &[Agent], w: &Work) -> bool {
        roster.iter().any(|a| {
            w.team_id.is_none_or(|t| a.teams.contains(&t))
                && w.required
                    .iter()
                    .all(|r| a.skills.get(&r.skill_id).is_some_and(|l| *l >= r.min_level))
                && a.capacity.of(w.channel) > 0
        })
    }

    fn surplus(a: &Agent, w: &Work) -> u32 {
        w.required
            .iter()
            .map(|r| u32::from(a.skills.get(&r.skill_id).copied().unwrap_or(0) - r.min_level))
            .sum()
    }

    /// `a`'s load ratio on the channel is at most `b`'s.
    fn ratio_at_most(a: &Agent, b: &Agent, ch: Channel) -> bool {
        u64::from(a.load.of(ch)) * u64::from(b.capacity.of(ch))
            <= u64::from(b.load.of(ch)) * u64::from(a.capacity.of(ch))
    }

    /// Replays one dispatch round in queue order against the plain rules: each assignment went
    /// to an agent allowed to take it and first by the strategy's own measure; each conversation
    /// left waiting had nobody allowed to take it at its turn.
    fn check_round(
        strategy: Strategy,
        before: &[Agent],
        queue: &[Work],
        made: &[(i64, Decision)],
        left: &[Work],
        now_ms: i64,
    ) {
        let mut shadow = before.to_vec();
        let mut made = made.iter().peekable();
        let mut skipped = Vec::new();
        for w in queue {
            let eligible: Vec<usize> = (0..shadow.len())
                .filter(|i| may_take(&shadow[*i], w))
                .collect();
            let Some((_, d)) = made.next_if(|(id, _)| *id == w.conversation_id) else {
                assert!(
                    eligible.is_empty(),
                    "conversation {} left waiting although {} agents could take it",
                    w.conversation_id,
                    eligible.len()
                );
                skipped.push(w.conversation_id);
                continue;
            };
            let c = shadow.iter().position(|a| a.user_id == d.user_id).unwrap();
            let agent = &shadow[c];
            let ch = w.channel;
            assert_eq!(agent.presence, Presence::Online, "{d:?}");
            assert_ne!(w.exclude_user, Some(agent.user_id), "{d:?}");
            if let Some(team) = w.team_id {
                assert!(agent.teams.contains(&team), "{d:?} outside team {team}");
            }
            for r in &w.required {
                assert!(agent.level(r.skill_id) >= r.min_level, "{d:?} lacks {r:?}");
            }
            assert!(agent.load.of(ch) < agent.capacity.of(ch), "{d:?} was full");
            assert_eq!(usize::try_from(d.eligible).unwrap(), eligible.len());
            assert_eq!(
                (d.load_before, d.capacity),
                (agent.load.of(ch), agent.capacity.of(ch))
            );
            assert_eq!(d.considered, u32::try_from(shadow.len()).unwrap());
            assert_eq!(d.skill_match, w.required);
            for e in eligible.iter().map(|i| &shadow[*i]) {
                match strategy {
                    Strategy::RoundRobin => {
                        assert!(agent.last_assigned_ms <= e.last_assigned_ms, "{d:?}")
                    }
                    Strategy::LeastLoaded => assert!(
                        ratio_at_most(agent, e, ch),
                        "{d:?} more loaded than {}",
                        e.user_id
                    ),
                    Strategy::Skills => {
                        let (mine, theirs) = (surplus(agent, w), surplus(e, w));
                        assert!(
                            mine < theirs || (mine == theirs && ratio_at_most(agent, e, ch)),
                            "{d:?} vs {}",
                            e.user_id
                        );
                    }
                }
            }
            // What keeps identical agents even: a load-aware pick never passes over a peer
            // holding less open work on the channel.
            if strategy != Strategy::RoundRobin {
                for group in [GENERALISTS, JUNIORS] {
                    if group.contains(&agent.user_id) {
                        for peer in shadow.iter().filter(|p| {
                            group.contains(&p.user_id) && p.presence == Presence::Online
                        }) {
                            assert!(
                                agent.load.of(ch) <= peer.load.of(ch),
                                "{d:?} while peer {} held less",
                                peer.user_id
                            );
                        }
                    }
                }
            }
            shadow[c].load.add(ch);
            shadow[c].last_assigned_ms = now_ms;
        }
        assert!(made.next().is_none(), "assignments out of queue order");
        let left: Vec<i64> = left.iter().map(|w| w.conversation_id).collect();
        assert_eq!(left, skipped, "waiting work not left in queue order");
    }

    #[derive(Debug)]
    struct Outcome {
        assignments: usize,
        requeues: usize,
        /// Re-queued conversations that went back to the same agent after they returned.
        returned_to_same: usize,
        completed: usize,
        stranded: Vec<(Work, Unrouted)>,
        /// Conversations that waited a round because every agent who could take them was full.
        capacity_waits: usize,
        longest_queue: usize,
        ticks: i64,
        /// Skill levels held beyond the requirements, summed over all assignments.
        surplus: u32,
        per_agent: BTreeMap<i64, u32>,
    }

    fn simulate(strategy: Strategy, seed: u64) -> Outcome {
        let mut rng = Rng::new(seed);
        let rules = rules();
        let mut agents = roster(&mut rng);
        let roster_snapshot = agents.clone();
        let arrivals = arrivals(&mut rng, &rules);
        let index = |user_id: i64| usize::try_from(user_id - 1).unwrap();
        let last_event = ABSENCES.iter().map(|a| a.until).max().unwrap_or(0);

        let mut next_arrival = 0;
        let mut waiting: Vec<Work> = Vec::new();
        // (conversation, agent, finishes at tick)
        let mut active: Vec<(Work, i64, i64)> = Vec::new();
        let mut completed = vec![false; CONVERSATIONS];
        let mut handed_back: BTreeMap<i64, i64> = BTreeMap::new();
        let mut out = Outcome {
            assignments: 0,
            requeues: 0,
            returned_to_same: 0,
            completed: 0,
            stranded: Vec::new(),
            capacity_waits: 0,
            longest_queue: 0,
            ticks: 0,
            surplus: 0,
            per_agent: (1..=AGENTS).map(|id| (id, 0)).collect(),
        };

        let mut tick = 0;
        loop {
            let now_ms = tick * TICK_MS;
            // Finished conversations free their slot.
            active.retain(|(w, user, until)| {
                if *until > tick {
                    return true;
                }
                agents[index(*user)].load.remove(w.channel);
                completed[usize::try_from(w.conversation_id).unwrap()] = true;
                out.completed += 1;
                false
            });
            for absence in ABSENCES {
                for user in absence.agents {
                    let agent = &mut agents[index(*user)];
                    if absence.from == tick {
                        agent.presence = absence.presence;
                        if absence.presence == Presence::Busy {
                            continue;
                        }
                        // Nobody away holds conversations: they go back to the queue, not to them.
                        let (theirs, others): (Vec<_>, Vec<_>) =
                            active.drain(..).partition(|(_, u, _)| u == user);
                        active = others;
                        for (w, _, _) in theirs {
                            agent.load.remove(w.channel);
                            handed_back.insert(w.conversation_id, *user);
                            out.requeues += 1;
                            waiting.push(Work {
                                exclude_user: Some(*user),
                                ..w
                            });
                        }
                        assert_eq!(agent.load.total(), 0);
                    }
                    if absence.until == tick {
                        agent.presence = Presence::Online;
                        // Back at work: no longer a reason to keep work from them.
                        for w in waiting.iter_mut().filter(|w| w.exclude_user == Some(*user)) {
                            w.exclude_user = None;
                        }
                    }
                }
            }
            while let Some(a) = arrivals.get(next_arrival).filter(|a| a.tick == tick) {
                waiting.push(a.work.clone());
                next_arrival += 1;
            }
            out.longest_queue = out.longest_queue.max(waiting.len());

            let before = agents.clone();
            let mut queue = waiting.clone();
            queue.sort_by(queue_order);
            let made = dispatch(strategy, &mut waiting, &mut agents, now_ms);
            check_round(strategy, &before, &queue, &made, &waiting, now_ms);
            for a in &agents {
                for ch in Channel::ALL {
                    assert!(
                        a.load.of(*ch) <= a.capacity.of(*ch),
                        "agent {} over capacity on {ch}",
                        a.user_id
                    );
                }
            }
            out.capacity_waits += waiting
                .iter()
                .filter(|w| choose(strategy, w, &agents) == Err(Unrouted::AllAtCapacity))
                .count();

            for (conversation_id, decision) in made {
                let w = queue
                    .iter()
                    .find(|w| w.conversation_id == conversation_id)
                    .unwrap()
                    .clone();
                if let Some(previous) = handed_back.remove(&conversation_id)
                    && previous == decision.user_id
                {
                    // Only once they were back online: exclusion held until then.
                    assert!(w.exclude_user.is_none());
                    out.returned_to_same += 1;
                }
                out.surplus += surplus(&agents[index(decision.user_id)], &w);
                *out.per_agent.entry(decision.user_id).or_default() += 1;
                out.assignments += 1;
                let until = tick + handling_ticks(&mut rng, w.channel);
                active.push((w, decision.user_id, until));
            }

            let arrived_all = next_arrival == arrivals.len();
            if arrived_all && tick >= last_event && active.is_empty() {
                break;
            }
            tick += 1;
            assert!(tick < 10 * DAY_TICKS, "the simulation does not settle");
        }
        out.ticks = tick;

        // Nothing servable is stranded: whatever still waits, nobody on the whole roster could
        // ever serve, even with everyone online and idle (as they are now).
        assert!(
            agents
                .iter()
                .all(|a| a.presence == Presence::Online && a.load.total() == 0)
        );
        assert!(
            handed_back.is_empty(),
            "re-queued but never re-assigned: {handed_back:?}"
        );
        for w in &waiting {
            assert!(
                !servable(&roster_snapshot, w),
                "conversation {} stranded: {w:?}",
                w.conversation_id
            );
            let reason = choose(strategy, w, &agents).unwrap_err();
            assert!(
                matches!(reason, Unrouted::NoSkillMatch | Unrouted::NotInTeam),
                "{reason:?}"
            );
            out.stranded.push((w.clone(), reason));
        }
        for a in &arrivals {
            let id = usize::try_from(a.work.conversation_id).unwrap();
            assert_eq!(
                completed[id],
                servable(&roster_snapshot, &a.work),
                "{:?}",
                a.work
            );
        }
        assert_eq!(out.completed + out.stranded.len(), CONVERSATIONS);
        assert_eq!(out.assignments, out.completed + out.requeues);
        out
    }

    fn spread(out: &Outcome, group: std::ops::RangeInclusive<i64>) -> (u32, u32) {
        let counts: Vec<u32> = group.map(|id| out.per_agent[&id]).collect();
        (*counts.iter().min().unwrap(), *counts.iter().max().unwrap())
    }

    /// Why whatever is left waiting can never be served.
    fn stranded_causes(out: &Outcome) -> (usize, usize, usize) {
        let (mut japanese, mut empty_team, mut combination) = (0, 0, 0);
        for (w, _) in &out.stranded {
            if w.team_id == Some(EMPTY_TEAM) {
                empty_team += 1;
            } else if w.required.iter().any(|r| r.skill_id == JAPANESE) {
                japanese += 1;
            } else {
                combination += 1;
            }
        }
        (japanese, empty_team, combination)
    }

    fn report(strategy: Strategy, seed: u64, out: &Outcome) {
        let (japanese, empty_team, combination) = stranded_causes(out);
        let (gmin, gmax) = spread(out, GENERALISTS);
        let (jmin, jmax) = spread(out, JUNIORS);
        eprintln!(
            "{strategy} (seed {seed}): {} assignments, {} completed, {} re-queued ({} back to the \
             same agent after their return), {} stranded ({japanese} need Japanese, {empty_team} \
             sent to an empty team, {combination} need a combination nobody has), {} waits at \
             capacity, longest queue {}, {} minutes, skill surplus {}; generalists {gmin}..={gmax}, \
             juniors {jmin}..={jmax}",
            out.assignments,
            out.completed,
            out.requeues,
            out.returned_to_same,
            out.stranded.len(),
            out.capacity_waits,
            out.longest_queue,
            out.ticks,
            out.surplus,
        );
    }

    /// Identical agents who never leave end the day with assignment counts within 1.5x of each
    /// other. Why: a load-aware pick never passes over a peer holding less (checked at every
    /// decision above) and round robin serves the peer idle longest, so a peer pulls ahead only
    /// by finishing its conversations sooner, that is through the random handling times. With
    /// 15 to 60 conversations each that noise is around 10-20%; the bound leaves room for it and
    /// is checked on several seeds, not tuned to one (worst seen over 20 seeds: 1.31).
    fn assert_balanced(strategy: Strategy, out: &Outcome) {
        let groups = match strategy {
            // Skills keeps the generalists free on purpose (checked separately).
            Strategy::Skills => vec![JUNIORS],
            _ => vec![GENERALISTS, JUNIORS],
        };
        for group in groups {
            let (min, max) = spread(out, group.clone());
            assert!(
                min > 0 && 2 * max <= 3 * min,
                "{strategy}: {group:?} got {min}..={max}"
            );
        }
    }

    /// What every run must show, whatever the strategy; the per-decision rules and the end state
    /// were already checked inside `simulate`.
    fn assert_day(out: &Outcome) {
        assert!(out.requeues > 0, "absences handed work back");
        assert!(out.capacity_waits > 0, "the rush filled agents up");
        assert!(
            !out.stranded.is_empty(),
            "some conversations cannot be served by anyone"
        );
        assert!(out.completed > 900, "{out:?}");
    }

    const SEED: u64 = 2_024;

    #[test]
    fn round_robin_day() {
        let out = simulate(Strategy::RoundRobin, SEED);
        report(Strategy::RoundRobin, SEED, &out);
        assert_day(&out);
        assert_balanced(Strategy::RoundRobin, &out);
    }

    #[test]
    fn least_loaded_day() {
        let out = simulate(Strategy::LeastLoaded, SEED);
        report(Strategy::LeastLoaded, SEED, &out);
        assert_day(&out);
        assert_balanced(Strategy::LeastLoaded, &out);
    }

    #[test]
    fn skills_day_keeps_experts_free() {
        let out = simulate(Strategy::Skills, SEED);
        report(Strategy::Skills, SEED, &out);
        assert_day(&out);
        assert_balanced(Strategy::Skills, &out);
        // Routine English work goes to the juniors who match it exactly, not the generalists.
        let (_, generalists_max) = spread(&out, GENERALISTS);
        let (juniors_min, _) = spread(&out, JUNIORS);
        assert!(
            generalists_max < juniors_min,
            "{generalists_max} vs {juniors_min}"
        );
        // Over the day, far less expertise is tied up than when only load counts.
        let least_loaded = simulate(Strategy::LeastLoaded, SEED);
        assert!(
            2 * out.surplus < least_loaded.surplus,
            "{} vs {}",
            out.surplus,
            least_loaded.surplus
        );
    }

    #[test]
    fn balance_holds_on_other_days() {
        for seed in 1..=5 {
            for strategy in Strategy::ALL {
                let out = simulate(*strategy, seed);
                assert_day(&out);
                assert_balanced(*strategy, &out);
            }
        }
    }
}

/// Arbitrary agents, work and policy JSON: nothing panics, and the rules hold whatever the input.
#[cfg(test)]
mod fuzz {
    use super::Strategy as Pick;
    use super::{
        Agent, Capacity, Load, Presence, Requirement, Work, choose, dispatch, parse_skill_rules,
    };
    use crate::conversation::{Channel, Priority};
    use proptest::prelude::*;

    fn arb_agent() -> impl Strategy<Value = Agent> {
        (
            0usize..4,
            prop::array::uniform6(0u32..5),
            prop::array::uniform6(0u32..7),
            prop::collection::btree_map(1i64..6, 0u8..7, 0..4),
            prop::collection::vec(1i64..4, 0..3),
            -3i64..3,
        )
            .prop_map(
                |(presence, capacity, load, skills, teams, last_assigned_ms)| {
                    let mut agent = Agent {
                        user_id: 0,
                        presence: Presence::ALL[presence],
                        capacity: Capacity {
                            chat: capacity[0],
                            email: capacity[1],
                            sms: capacity[2],
                            whatsapp: capacity[3],
                            voice: capacity[4],
                            api: capacity[5],
                        },
                        load: Load::default(),
                        skills,
                        teams,
                        last_assigned_ms,
                    };
                    for (channel, n) in Channel::ALL.iter().zip(load) {
                        agent.load.set(*channel, n);
                    }
                    agent
                },
            )
    }

    fn arb_work() -> impl Strategy<Value = Work> {
        (
            0usize..6,
            prop::option::of(1i64..4),
            prop::collection::vec((1i64..6, 0u8..7), 0..3),
            prop::option::of(1i64..30),
            0usize..4,
            any::<bool>(),
            prop::option::of(0i64..5),
            0i64..5,
        )
            .prop_map(
                |(channel, team_id, required, exclude_user, priority, vip, sla_due_ms, since)| {
                    Work {
                        conversation_id: 0,
                        channel: Channel::ALL[channel],
                        team_id,
                        required: required
                            .into_iter()
                            .map(|(skill_id, min_level)| Requirement {
                                skill_id,
                                min_level,
                            })
                            .collect(),
                        priority: Priority::ALL[priority],
                        vip,
                        waiting_since_ms: since,
                        sla_due_ms,
                        exclude_user,
                    }
                },
            )
    }

    fn may_take(a: &Agent, w: &Work) -> bool {
        a.presence == Presence::Online
            && w.exclude_user != Some(a.user_id)
            && w.team_id.is_none_or(|t| a.teams.contains(&t))
            && w.required
                .iter()
                .all(|r| a.level(r.skill_id) >= r.min_level)
            && a.load.of(w.channel) < a.capacity.of(w.channel)
    }

    proptest! {
        #[test]
        fn choices_follow_the_rules(
            mut agents in prop::collection::vec(arb_agent(), 0..30),
            mut works in prop::collection::vec(arb_work(), 0..30),
            strategy in 0usize..3,
            now_ms in any::<i64>(),
        ) {
            let strategy = Pick::ALL[strategy];
            for (id, a) in (1..).zip(agents.iter_mut()) {
                a.user_id = id;
            }
            for (id, w) in (1..).zip(works.iter_mut()) {
                w.conversation_id = id;
            }
            for w in &works {
                match choose(strategy, w, &agents) {
                    Ok(d) => {
                        let a = agents.iter().find(|a| a.user_id == d.user_id).unwrap();
                        prop_assert!(may_take(a, w));
                        let eligible = agents.iter().filter(|a| may_take(a, w)).count();
                        prop_assert_eq!(usize::try_from(d.eligible).unwrap(), eligible);
                    }
                    Err(_) => prop_assert!(!agents.iter().any(|a| may_take(a, w))),
                }
            }
            let mut after = agents.clone();
            let mut waiting = works.clone();
            let made = dispatch(strategy, &mut waiting, &mut after, now_ms);
            prop_assert_eq!(made.len() + waiting.len(), works.len());
            for (before, after) in agents.iter().zip(&after) {
                for ch in Channel::ALL {
                    let added = after.load.of(*ch) - before.load.of(*ch);
                    prop_assert!(added == 0 || after.load.of(*ch) <= after.capacity.of(*ch));
                }
            }
            for w in &waiting {
                prop_assert!(!after.iter().any(|a| may_take(a, w)));
            }
        }

        #[test]
        fn parsing_never_panics(raw in "\\PC{0,200}") {
            let value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
            let _ = Capacity::parse(&value);
            let _ = parse_skill_rules(&value);
            let _ = parse_skill_rules(&serde_json::Value::Array(vec![value]));
        }
    }
}
