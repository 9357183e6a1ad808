//! Service level agreements: response and resolution targets, chosen per conversation by the
//! first matching policy, counted in business time, paused while the team waits on the
//! customer. A clock is a small value; [`apply`] says what each event does to the clocks, so
//! the store only keeps them and the job queue only wakes them at their warning and due times.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::BusinessCalendar;
use crate::conversation::{Channel, MessageKind, Priority, Status, string_enum};
use crate::error::required_text;
use crate::{Invalid, InvalidField};

pub const MAX_NAME: usize = 100;
pub const MIN_TARGET_SECS: i64 = 60;
pub const MAX_TARGET_SECS: i64 = 90 * 24 * 3600;
pub const DEFAULT_WARN_BEFORE_SECS: i64 = 15 * 60;
const MAX_CONDITION_VALUES: usize = 50;

string_enum!(
    /// What an SLA measures.
    SlaMetric, "metric" {
        FirstResponse => "first_response",
        NextResponse => "next_response",
        Resolution => "resolution",
    }
);

/// Targets in seconds; at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaTargets {
    /// From the customer's first message to the first agent reply.
    #[serde(default)]
    pub first_response_secs: Option<i64>,
    /// From a customer message (after an agent replied) to the next agent reply.
    #[serde(default)]
    pub next_response_secs: Option<i64>,
    /// From creation to resolved.
    #[serde(default)]
    pub resolution_secs: Option<i64>,
}

impl SlaTargets {
    pub fn of(&self, m: SlaMetric) -> Option<i64> {
        match m {
            SlaMetric::FirstResponse => self.first_response_secs,
            SlaMetric::NextResponse => self.next_response_secs,
            SlaMetric::Resolution => self.resolution_secs,
        }
    }
}

/// Which conversations a policy covers; an empty list means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaConditions {
    #[serde(default)]
    pub priorities: Vec<Priority>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub inbox_ids: Vec<i64>,
    /// Customer tiers (the customer's `tier` attribute), compared without case.
    #[serde(default)]
    pub tiers: Vec<String>,
}

/// A policy as written; stored as given once valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyInput {
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub conditions: SlaConditions,
    pub targets: SlaTargets,
    /// Count only the business hours of this calendar; without one, every hour counts.
    #[serde(default)]
    pub calendar_id: Option<i64>,
    /// Stop the clocks while the conversation is pending on the customer (default yes).
    #[serde(default)]
    pub pause_when_pending: Option<bool>,
    /// How long before a target a warning is raised (default 15 minutes).
    #[serde(default)]
    pub warn_before_secs: Option<i64>,
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    pub name: String,
    pub enabled: bool,
    pub conditions: SlaConditions,
    pub targets: SlaTargets,
    pub calendar_id: Option<i64>,
    pub pause_when_pending: bool,
    pub warn_before_secs: i64,
}

impl SlaPolicyInput {
    pub fn validate(&self) -> Result<SlaPolicy, Invalid> {
        let mut errors = Vec::new();
        let name = required_text("name", &self.name, MAX_NAME)
            .map_err(|e| errors.extend(e.fields))
            .unwrap_or_default();
        let t = &self.targets;
        let all = [
            ("targets.first_response_secs", t.first_response_secs),
            ("targets.next_response_secs", t.next_response_secs),
            ("targets.resolution_secs", t.resolution_secs),
        ];
        if t.next_response_secs.is_some()
            && t.first_response_secs.is_none()
            && t.resolution_secs.is_none()
        {
            errors.push(InvalidField {
                field: "targets".into(),
                message: "a next-response target needs a first-response or resolution target too"
                    .into(),
            });
        } else if all.iter().all(|(_, v)| v.is_none()) {
            errors.push(InvalidField {
                field: "targets".into(),
                message: "set at least one target".into(),
            });
        }
        for (field, v) in all {
            if let Some(v) = v
                && !(MIN_TARGET_SECS..=MAX_TARGET_SECS).contains(&v)
            {
                errors.push(InvalidField {
                    field: field.into(),
                    message: format!("must be between {MIN_TARGET_SECS} s and 90 days"),
                });
            }
        }
        let warn = self.warn_before_secs.unwrap_or(DEFAULT_WARN_BEFORE_SECS);
        let smallest = all.iter().filter_map(|(_, v)| *v).min().unwrap_or(i64::MAX);
        if self.warn_before_secs.is_some() && !(0..smallest).contains(&warn) {
            errors.push(InvalidField {
                field: "warn_before_secs".into(),
                message: "must be at least 0 and less than the smallest target".into(),
            });
        }
        let c = &self.conditions;
        let counts = [
            ("conditions.priorities", c.priorities.len()),
            ("conditions.channels", c.channels.len()),
            ("conditions.inbox_ids", c.inbox_ids.len()),
            ("conditions.tiers", c.tiers.len()),
        ];
        for (field, n) in counts {
            if n > MAX_CONDITION_VALUES {
                errors.push(InvalidField {
                    field: field.into(),
                    message: format!("at most {MAX_CONDITION_VALUES} values"),
                });
            }
        }
        let tiers: Vec<String> = c
            .tiers
            .iter()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        if !errors.is_empty() {
            return Err(Invalid { fields: errors });
        }
        Ok(SlaPolicy {
            name,
            enabled: self.enabled.unwrap_or(true),
            conditions: SlaConditions { tiers, ..c.clone() },
            targets: t.clone(),
            calendar_id: self.calendar_id,
            pause_when_pending: self.pause_when_pending.unwrap_or(true),
            // Never more than the smallest target, so a warning always comes first.
            warn_before_secs: warn.min(smallest.saturating_sub(1)).max(0),
        })
    }
}

/// What policies are chosen by.
#[derive(Debug, Clone, Copy)]
pub struct SlaFacts<'a> {
    pub priority: Priority,
    pub channel: Channel,
    pub inbox_id: Option<i64>,
    pub tier: Option<&'a str>,
}

impl SlaPolicy {
    pub fn covers(&self, f: &SlaFacts<'_>) -> bool {
        let c = &self.conditions;
        (c.priorities.is_empty() || c.priorities.contains(&f.priority))
            && (c.channels.is_empty() || c.channels.contains(&f.channel))
            && (c.inbox_ids.is_empty() || f.inbox_id.is_some_and(|i| c.inbox_ids.contains(&i)))
            && (c.tiers.is_empty()
                || f.tier
                    .is_some_and(|t| c.tiers.iter().any(|x| x.eq_ignore_ascii_case(t.trim()))))
    }
}

/// The first enabled policy, in order, that covers the conversation.
pub fn choose<'p, T>(
    policies: &'p [T],
    policy: impl Fn(&T) -> &SlaPolicy,
    facts: &SlaFacts<'_>,
) -> Option<&'p T> {
    policies.iter().find(|p| {
        let p = policy(p);
        p.enabled && p.covers(facts)
    })
}

/// One metric's clock. Business seconds used are counted when it stops running, so a clock
/// that runs needs only its start to know when it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    pub metric: SlaMetric,
    pub target_secs: i64,
    /// Seconds used before the current running stretch.
    pub used_secs: i64,
    /// Since when it runs; `None` while paused or after it stopped.
    pub running_since: Option<Timestamp>,
    /// When the target was met (or the conversation resolved); the clock is done.
    pub stopped_at: Option<Timestamp>,
}

/// Where a clock stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClockState {
    /// Running, `left_secs` of (business) time to go.
    Running { left_secs: i64 },
    /// Running and within the warning lead.
    DueSoon { left_secs: i64 },
    /// Running past its target.
    Overdue { over_secs: i64 },
    /// Waiting on the customer.
    Paused { left_secs: i64 },
    /// Done: `late` when it took longer than the target.
    Met { late: bool },
}

impl SlaClock {
    pub fn start(metric: SlaMetric, target_secs: i64, at: Timestamp) -> Self {
        Self {
            metric,
            target_secs,
            used_secs: 0,
            running_since: Some(at),
            stopped_at: None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.running_since.is_some()
    }

    pub fn is_done(&self) -> bool {
        self.stopped_at.is_some()
    }

    fn used_at(&self, at: Timestamp, cal: &BusinessCalendar) -> i64 {
        self.used_secs
            + self
                .running_since
                .map_or(0, |s| cal.business_between(s, at))
    }

    pub fn pause(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        if let Some(since) = self.running_since.take() {
            self.used_secs += cal.business_between(since, at);
        }
    }

    pub fn resume(&mut self, at: Timestamp) {
        if !self.is_done() && self.running_since.is_none() {
            self.running_since = Some(at);
        }
    }

    pub fn stop(&mut self, at: Timestamp, cal: &BusinessCalendar) {
        self.pause(at, cal);
        if self.stopped_at.is_none() {
            self.stopped_at = Some(at);
        }
    }

    /// Runs again after a stop (a resolved conversation reopened), keeping the time used.
    pub fn restart(&mut self, at: Timestamp) {
        self.stopped_at = None;
        self.running_since = Some(at);
    }

    /// When the target is reached, while running.
    pub fn due_at(&self, cal: &BusinessCalendar) -> Option<Timestamp> {
        let since = self.running_since?;
        cal.add_business(since, (self.target_secs - self.used_secs).max(0))
    }

    /// When to warn, while running.
    pub fn warn_at(&self, cal: &BusinessCalendar, warn_before_secs: i64) -> Option<Timestamp> {
        let since = self.running_since?;
        cal.add_business(
            since,
            (self.target_secs - self.used_secs - warn_before_secs).max(0),
        )
    }

    pub fn state_at(
        &self,
        now: Timestamp,
        cal: &BusinessCalendar,
        warn_before_secs: i64,
    ) -> ClockState {
        let used = self.used_at(self.stopped_at.unwrap_or(now).min(now), cal);
        let left = self.target_secs - used;
        if self.is_done() {
            ClockState::Met { late: left < 0 }
        } else if !self.is_running() {
            ClockState::Paused { left_secs: left }
        } else if left < 0 {
            ClockState::Overdue { over_secs: -left }
        } else if left <= warn_before_secs {
            ClockState::DueSoon { left_secs: left }
        } else {
            ClockState::Running { left_secs: left }
        }
    }
}

/// What happened to a conversation, as far as SLAs care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaEvent {
    Created,
    Message(MessageKind),
    Status { from: Status, to: Status },
}

/// Applies an event to a conversation's clocks (one per metric at most) under `policy`;
/// returns the metrics whose clock changed. Clocks for metrics without a target never start.
pub fn apply(
    clocks: &mut Vec<SlaClock>,
    event: SlaEvent,
    at: Timestamp,
    policy: &SlaPolicy,
    cal: &BusinessCalendar,
) -> Vec<SlaMetric> {
    let mut changed = Vec::new();
    let find = |clocks: &mut Vec<SlaClock>, m: SlaMetric| clocks.iter().position(|c| c.metric == m);
    match event {
        SlaEvent::Created => {
            for m in [SlaMetric::FirstResponse, SlaMetric::Resolution] {
                if let (Some(target), None) = (policy.targets.of(m), find(clocks, m)) {
                    clocks.push(SlaClock::start(m, target, at));
                    changed.push(m);
                }
            }
        }
        SlaEvent::Message(MessageKind::Reply) => {
            // Without a first-response target, the first reply is remembered as a met
            // next-response clock, so the customer's answer starts the next wait.
            let first_reply = find(clocks, SlaMetric::FirstResponse).is_none()
                && find(clocks, SlaMetric::NextResponse).is_none();
            if let (true, Some(target)) = (first_reply, policy.targets.next_response_secs) {
                let mut met = SlaClock::start(SlaMetric::NextResponse, target, at);
                met.stop(at, cal);
                clocks.push(met);
                changed.push(SlaMetric::NextResponse);
            }
            for c in clocks.iter_mut() {
                if matches!(c.metric, SlaMetric::FirstResponse | SlaMetric::NextResponse)
                    && !c.is_done()
                {
                    c.stop(at, cal);
                    changed.push(c.metric);
                }
            }
        }
        SlaEvent::Message(MessageKind::Inbound) => {
            // A customer writing after an agent's reply waits for the next one.
            let replied = clocks.iter().any(|c| {
                c.is_done()
                    && matches!(c.metric, SlaMetric::FirstResponse | SlaMetric::NextResponse)
            });
            let waiting = clocks
                .iter()
                .any(|c| c.metric == SlaMetric::NextResponse && !c.is_done());
            if let (true, false, Some(target)) =
                (replied, waiting, policy.targets.next_response_secs)
            {
                let fresh = SlaClock::start(SlaMetric::NextResponse, target, at);
                match find(clocks, SlaMetric::NextResponse) {
                    Some(i) => clocks[i] = fresh,
                    None => clocks.push(fresh),
                }
                changed.push(SlaMetric::NextResponse);
            }
        }
        SlaEvent::Message(MessageKind::Note) => {}
        SlaEvent::Status { from, to } => {
            let done = |s: Status| matches!(s, Status::Resolved | Status::Closed);
            if done(to) && !done(from) {
                for c in clocks.iter_mut().filter(|c| !c.is_done()) {
                    c.stop(at, cal);
                    changed.push(c.metric);
                }
            } else if done(from) && !done(to) {
                if let Some(i) = find(clocks, SlaMetric::Resolution) {
                    clocks[i].restart(at);
                    // Reopened straight into pending: waiting on the customer already.
                    if policy.pause_when_pending && to == Status::Pending {
                        clocks[i].pause(at, cal);
                    }
                    changed.push(SlaMetric::Resolution);
                }
            } else if policy.pause_when_pending && to == Status::Pending && from != Status::Pending
            {
                for c in clocks.iter_mut().filter(|c| c.is_running()) {
                    c.pause(at, cal);
                    changed.push(c.metric);
                }
            } else if from == Status::Pending && to != Status::Pending {
                for c in clocks
                    .iter_mut()
                    .filter(|c| !c.is_done() && !c.is_running())
                {
                    c.resume(at);
                    changed.push(c.metric);
                }
            }
        }
    }
    changed.sort_by_key(|m| m.as_str());
    changed.dedup();
    changed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::calendar::{CalendarInput, OpeningHours};

    const M: i64 = 60;
    const H: i64 = 3600;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy(pause: bool) -> SlaPolicy {
        SlaPolicyInput {
            name: "Standard".into(),
            enabled: None,
            conditions: SlaConditions::default(),
            targets: SlaTargets {
                first_response_secs: Some(H),
                next_response_secs: Some(2 * H),
                resolution_secs: Some(8 * H),
            },
            calendar_id: None,
            pause_when_pending: Some(pause),
            warn_before_secs: Some(10 * M),
        }
        .validate()
        .unwrap()
    }

    fn office() -> BusinessCalendar {
        CalendarInput {
            name: "Office".into(),
            time_zone: "UTC".into(),
            hours: ["monday", "tuesday", "wednesday", "thursday", "friday"]
                .iter()
                .map(|d| OpeningHours {
                    day: d.to_string(),
                    open: "09:00".into(),
                    close: "17:00".into(),
                })
                .collect(),
            holidays: vec![],
        }
        .validate()
        .unwrap()
        .1
    }

    fn clock(clocks: &[SlaClock], m: SlaMetric) -> &SlaClock {
        clocks.iter().find(|c| c.metric == m).unwrap()
    }

    #[test]
    fn a_conversation_lifecycle() {
        let cal = BusinessCalendar::always();
        let p = policy(true);
        let mut c = Vec::new();
        let t0 = t("2026-11-23T10:00:00Z");
        assert_eq!(
            apply(&mut c, SlaEvent::Created, t0, &p, &cal),
            [SlaMetric::FirstResponse, SlaMetric::Resolution]
        );
        let first = clock(&c, SlaMetric::FirstResponse);
        assert_eq!(first.due_at(&cal), Some(t("2026-11-23T11:00:00Z")));
        assert_eq!(
            first.warn_at(&cal, p.warn_before_secs),
            Some(t("2026-11-23T10:50:00Z"))
        );
        assert_eq!(
            first.state_at(t("2026-11-23T10:55:00Z"), &cal, p.warn_before_secs),
            ClockState::DueSoon { left_secs: 5 * M }
        );
        assert_eq!(
            first.state_at(t("2026-11-23T11:30:00Z"), &cal, p.warn_before_secs),
            ClockState::Overdue { over_secs: 30 * M }
        );

        // The agent replies at 10:30: met in time; the customer answers: next response runs.
        apply(
            &mut c,
            SlaEvent::Message(MessageKind::Reply),
            t("2026-11-23T10:30:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::FirstResponse).state_at(t("2026-11-23T12:00:00Z"), &cal, 0),
            ClockState::Met { late: false }
        );
        apply(
            &mut c,
            SlaEvent::Message(MessageKind::Inbound),
            t("2026-11-23T11:00:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::NextResponse).due_at(&cal),
            Some(t("2026-11-23T13:00:00Z"))
        );
        // A second customer message does not restart the wait.
        assert!(
            apply(
                &mut c,
                SlaEvent::Message(MessageKind::Inbound),
                t("2026-11-23T11:30:00Z"),
                &p,
                &cal
            )
            .is_empty()
        );

        // Pending for two hours pushes resolution and next response back by two hours.
        let pending = SlaEvent::Status {
            from: Status::Open,
            to: Status::Pending,
        };
        apply(&mut c, pending, t("2026-11-23T12:00:00Z"), &p, &cal);
        assert_eq!(
            clock(&c, SlaMetric::Resolution).due_at(&cal),
            None,
            "paused"
        );
        let back = SlaEvent::Status {
            from: Status::Pending,
            to: Status::Open,
        };
        apply(&mut c, back, t("2026-11-23T14:00:00Z"), &p, &cal);
        assert_eq!(
            clock(&c, SlaMetric::Resolution).due_at(&cal),
            Some(t("2026-11-23T20:00:00Z"))
        );
        assert_eq!(
            clock(&c, SlaMetric::NextResponse).due_at(&cal),
            Some(t("2026-11-23T15:00:00Z"))
        );

        // Resolving stops everything; reopening runs resolution on from where it was.
        let resolve = SlaEvent::Status {
            from: Status::Open,
            to: Status::Resolved,
        };
        apply(&mut c, resolve, t("2026-11-23T16:00:00Z"), &p, &cal);
        assert!(c.iter().all(SlaClock::is_done));
        let reopen = SlaEvent::Status {
            from: Status::Resolved,
            to: Status::Open,
        };
        apply(&mut c, reopen, t("2026-11-24T09:00:00Z"), &p, &cal);
        // 4 h used (10-12, 14-16): 4 h left.
        assert_eq!(
            clock(&c, SlaMetric::Resolution).due_at(&cal),
            Some(t("2026-11-24T13:00:00Z"))
        );
    }

    #[test]
    fn next_response_without_a_first_response_target() {
        let cal = BusinessCalendar::always();
        let mut p = policy(true);
        p.targets.first_response_secs = None;
        let mut c = Vec::new();
        apply(
            &mut c,
            SlaEvent::Created,
            t("2026-11-23T10:00:00Z"),
            &p,
            &cal,
        );
        apply(
            &mut c,
            SlaEvent::Message(MessageKind::Reply),
            t("2026-11-23T10:10:00Z"),
            &p,
            &cal,
        );
        apply(
            &mut c,
            SlaEvent::Message(MessageKind::Inbound),
            t("2026-11-23T11:00:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::NextResponse).due_at(&cal),
            Some(t("2026-11-23T13:00:00Z"))
        );
        let only_next = SlaPolicyInput {
            name: "x".into(),
            enabled: None,
            conditions: SlaConditions::default(),
            targets: SlaTargets {
                first_response_secs: None,
                next_response_secs: Some(600),
                resolution_secs: None,
            },
            calendar_id: None,
            pause_when_pending: None,
            warn_before_secs: None,
        };
        assert_eq!(only_next.validate().unwrap_err().fields[0].field, "targets");
    }

    #[test]
    fn reopening_into_pending_stays_paused() {
        let cal = BusinessCalendar::always();
        let p = policy(true);
        let mut c = Vec::new();
        apply(
            &mut c,
            SlaEvent::Created,
            t("2026-11-23T10:00:00Z"),
            &p,
            &cal,
        );
        apply(
            &mut c,
            SlaEvent::Status {
                from: Status::Open,
                to: Status::Resolved,
            },
            t("2026-11-23T11:00:00Z"),
            &p,
            &cal,
        );
        apply(
            &mut c,
            SlaEvent::Status {
                from: Status::Resolved,
                to: Status::Pending,
            },
            t("2026-11-23T12:00:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::Resolution).due_at(&cal),
            None,
            "paused while pending"
        );
        apply(
            &mut c,
            SlaEvent::Status {
                from: Status::Pending,
                to: Status::Open,
            },
            t("2026-11-23T14:00:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::Resolution).due_at(&cal),
            Some(t("2026-11-23T21:00:00Z"))
        );
    }

    #[test]
    fn without_pausing_pending_time_counts() {
        let cal = BusinessCalendar::always();
        let p = policy(false);
        let mut c = Vec::new();
        apply(
            &mut c,
            SlaEvent::Created,
            t("2026-11-23T10:00:00Z"),
            &p,
            &cal,
        );
        let changed = apply(
            &mut c,
            SlaEvent::Status {
                from: Status::Open,
                to: Status::Pending,
            },
            t("2026-11-23T10:10:00Z"),
            &p,
            &cal,
        );
        assert!(changed.is_empty());
        assert_eq!(
            clock(&c, SlaMetric::Resolution).due_at(&cal),
            Some(t("2026-11-23T18:00:00Z"))
        );
    }

    #[test]
    fn business_hours_and_late_replies() {
        let cal = office();
        let p = policy(true);
        let mut c = Vec::new();
        // Friday 16:30: one business hour is due Monday 09:30.
        apply(
            &mut c,
            SlaEvent::Created,
            t("2026-11-20T16:30:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::FirstResponse).due_at(&cal),
            Some(t("2026-11-23T09:30:00Z"))
        );
        apply(
            &mut c,
            SlaEvent::Message(MessageKind::Reply),
            t("2026-11-23T10:00:00Z"),
            &p,
            &cal,
        );
        assert_eq!(
            clock(&c, SlaMetric::FirstResponse).state_at(t("2026-11-23T11:00:00Z"), &cal, 0),
            ClockState::Met { late: true }
        );
    }

    #[test]
    fn policies_are_chosen_in_order() {
        let mut vip = policy(true);
        vip.name = "VIP".into();
        vip.conditions.tiers = vec!["gold".into()];
        let mut urgent = policy(true);
        urgent.conditions.priorities = vec![Priority::Urgent];
        let any = policy(true);
        let list = vec![vip, urgent, any];
        let facts = |priority, tier| SlaFacts {
            priority,
            channel: Channel::Email,
            inbox_id: None,
            tier,
        };
        let pick = |f: SlaFacts<'_>| choose(&list, |p| p, &f).map(|p| p.conditions.clone());
        assert_eq!(
            pick(facts(Priority::Low, Some(" Gold "))),
            Some(list[0].conditions.clone())
        );
        assert_eq!(
            pick(facts(Priority::Urgent, None)),
            Some(list[1].conditions.clone())
        );
        assert_eq!(
            pick(facts(Priority::Normal, Some("silver"))),
            Some(list[2].conditions.clone())
        );
        let mut off = list.clone();
        for p in &mut off {
            p.enabled = false;
        }
        assert!(choose(&off, |p| p, &facts(Priority::Normal, None)).is_none());
    }

    #[test]
    fn bad_policies_name_the_field() {
        let err = SlaPolicyInput {
            name: String::new(),
            enabled: None,
            conditions: SlaConditions::default(),
            targets: SlaTargets {
                first_response_secs: Some(10),
                next_response_secs: None,
                resolution_secs: Some(MAX_TARGET_SECS + 1),
            },
            calendar_id: None,
            pause_when_pending: None,
            warn_before_secs: Some(3600),
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "targets.first_response_secs",
                "targets.resolution_secs",
                "warn_before_secs"
            ]
        );
        let none = SlaPolicyInput {
            targets: SlaTargets::default(),
            name: "x".into(),
            enabled: None,
            conditions: SlaConditions::default(),
            calendar_id: None,
            pause_when_pending: None,
            warn_before_secs: None,
        };
        assert_eq!(none.validate().unwrap_err().fields[0].field, "targets");
    }
}
