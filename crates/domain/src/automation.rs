//! Automation rules: when a trigger fires and the conditions hold, the actions run, in the
//! order of the rules. Later rules see what earlier ones changed. A rule's changes are events
//! too, so they may fire rules again: a chain remembers which rules ran in it, and a rule that
//! would run a second time in one chain (a loop), or a chain longer than [`MAX_CHAIN`], stops.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::conversation::{Channel, Priority, Status, string_enum};
use crate::error::required_text;
use crate::{Invalid, InvalidField};

pub const MAX_NAME: usize = 100;
pub const MAX_CONDITIONS: usize = 50;
pub const MAX_ACTIONS: usize = 20;
pub const MAX_TEXT: usize = 5000;
/// Rules in one chain of changes caused by rules.
pub const MAX_CHAIN: usize = 5;

string_enum!(
    /// What makes a rule look at a conversation.
    Trigger, "trigger" {
        ConversationCreated => "conversation_created",
        ConversationUpdated => "conversation_updated",
        MessageReceived => "message_received",
        SlaWarning => "sla_warning",
        SlaBreached => "sla_breached",
        Idle => "idle",
    }
);

/// Longest wait an `idle` rule may ask for: a year.
pub const MAX_IDLE_HOURS: u32 = 24 * 366;

string_enum!(
    /// How a condition compares.
    Op, "op" {
        Equals => "equals",
        NotEquals => "not_equals",
        In => "in",
        NotIn => "not_in",
        Contains => "contains",
        NotContains => "not_contains",
        Gt => "gt",
        Lt => "lt",
        IsSet => "is_set",
        IsNotSet => "is_not_set",
    }
);

/// What a field holds, so conditions can be checked when a rule is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Tags,
    /// Customer attributes: text or number, whatever was stored.
    Any,
}

fn kind_of(field: &str) -> Option<Kind> {
    Some(match field {
        "status" | "priority" | "channel" | "subject" | "message" | "customer.email"
        | "customer.name" | "business_hours" => Kind::Text,
        "inbox_id" | "team_id" | "assignee_id" | "hours_since_created" => Kind::Number,
        "tags" => Kind::Tags,
        f if f.starts_with("customer.attributes.") && f.len() > 20 && f.len() <= 80 => Kind::Any,
        _ => return None,
    })
}

const FIELDS: &str = "status, priority, channel, subject, message, customer.email, customer.name, \
    customer.attributes.<name>, inbox_id, team_id, assignee_id, hours_since_created, tags, \
    business_hours (open or closed)";

/// One test on the conversation, e.g. `{"field": "priority", "op": "equals", "value": "urgent"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Value,
}

/// All of `all` must hold and, when `any` is not empty, at least one of `any`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default)]
    pub all: Vec<Condition>,
    #[serde(default)]
    pub any: Vec<Condition>,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    SetStatus {
        status: Status,
    },
    SetPriority {
        priority: Priority,
    },
    /// Assign to an agent, or `null` to unassign.
    Assign {
        user_id: Option<i64>,
    },
    SetTeam {
        team_id: Option<i64>,
    },
    AddTags {
        tags: Vec<String>,
    },
    RemoveTags {
        tags: Vec<String>,
    },
    /// An internal note on the timeline.
    AddNote {
        text: String,
    },
    /// A reply to the customer; placeholders as in macros, e.g. `{{ customer.first_name }}`.
    Reply {
        template: String,
    },
    /// Snooze for this many hours (1 to 720); a customer's message wakes it earlier.
    Snooze {
        hours: u32,
    },
    /// Send the conversation to a webhook endpoint (event type `rule.triggered`), whatever
    /// the endpoint subscribes to.
    SendWebhook {
        endpoint_id: i64,
    },
}

/// A rule as written; stored as given once valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    pub trigger: Trigger,
    /// For `idle`: how many hours the conversation sat unchanged, e.g. 72 for "pending for
    /// three days" (with a condition on the status). The rule acts once per quiet stretch.
    #[serde(default)]
    pub after_hours: Option<u32>,
    #[serde(default)]
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

impl RuleInput {
    /// Checks names, lengths, that each condition's field exists and its operator and value
    /// fit the field; errors name the path, e.g. `conditions.all[2].op`.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors: Vec<InvalidField> = Vec::new();
        if let Err(e) = required_text("name", &self.name, MAX_NAME) {
            errors.extend(e.fields);
        }
        match (self.trigger, self.after_hours) {
            (Trigger::Idle, Some(h)) if (1..=MAX_IDLE_HOURS).contains(&h) => {}
            (Trigger::Idle, _) => errors.push(InvalidField {
                field: "after_hours".into(),
                message: format!("an idle rule needs 1 to {MAX_IDLE_HOURS} hours"),
            }),
            (_, Some(_)) => errors.push(InvalidField {
                field: "after_hours".into(),
                message: "only idle rules wait".into(),
            }),
            (_, None) => {}
        }
        let c = &self.conditions;
        if c.all.len() + c.any.len() > MAX_CONDITIONS {
            errors.push(InvalidField {
                field: "conditions".into(),
                message: format!("at most {MAX_CONDITIONS} conditions"),
            });
        }
        for (group, list) in [("all", &c.all), ("any", &c.any)] {
            for (i, cond) in list.iter().enumerate().take(MAX_CONDITIONS) {
                if let Err(e) = check_condition(cond) {
                    errors.push(InvalidField {
                        field: format!("conditions.{group}[{i}].{}", e.0),
                        message: e.1,
                    });
                }
            }
        }
        if self.actions.is_empty() || self.actions.len() > MAX_ACTIONS {
            errors.push(InvalidField {
                field: "actions".into(),
                message: format!("give 1 to {MAX_ACTIONS} actions"),
            });
        }
        for (i, a) in self.actions.iter().enumerate().take(MAX_ACTIONS) {
            let bad = |m: &str| InvalidField {
                field: format!("actions[{i}]"),
                message: m.to_string(),
            };
            match a {
                Action::AddTags { tags } | Action::RemoveTags { tags } => {
                    if let Err(e) = crate::conversation::parse_tags(tags) {
                        errors.extend(e.fields.into_iter().map(|f| InvalidField {
                            field: format!("actions[{i}].tags"),
                            message: f.message,
                        }));
                    } else if tags.is_empty() {
                        errors.push(bad("give at least one tag"));
                    }
                }
                Action::AddNote { text } => {
                    if let Err(e) = required_text("text", text, MAX_TEXT) {
                        errors.extend(e.fields.into_iter().map(|f| InvalidField {
                            field: format!("actions[{i}].text"),
                            message: f.message,
                        }));
                    }
                }
                Action::SetStatus {
                    status: Status::Snoozed,
                } => {
                    errors.push(bad("use the snooze action, which says for how long"));
                }
                Action::Reply { template } => {
                    if let Err(e) = required_text("template", template, MAX_TEXT)
                        .and_then(|t| crate::macros::check_template(&t))
                    {
                        errors.extend(e.fields.into_iter().map(|f| InvalidField {
                            field: format!("actions[{i}].template"),
                            message: f.message,
                        }));
                    }
                }
                Action::Snooze { hours } if !(1..=720).contains(hours) => {
                    errors.push(bad("snooze for 1 to 720 hours"));
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid { fields: errors })
        }
    }
}

/// Why a condition is refused: the part of it (`field`, `op`, `value`) and the message.
fn check_condition(c: &Condition) -> Result<(), (&'static str, String)> {
    let kind =
        kind_of(&c.field).ok_or_else(|| ("field", format!("unknown field; known: {FIELDS}")))?;
    let needs_number = matches!(c.op, Op::Gt | Op::Lt);
    if needs_number && !matches!(kind, Kind::Number | Kind::Any) {
        return Err(("op", format!("`{}` needs a number field", c.op)));
    }
    if matches!(c.op, Op::Contains | Op::NotContains) && kind == Kind::Number {
        return Err(("op", format!("`{}` needs a text or tags field", c.op)));
    }
    let value_ok = match c.op {
        Op::IsSet | Op::IsNotSet => true,
        Op::In | Op::NotIn => c.value.as_array().is_some_and(|a| {
            !a.is_empty() && a.len() <= 100 && a.iter().all(|v| v.is_string() || v.is_number())
        }),
        Op::Gt | Op::Lt => c.value.is_number(),
        _ => match kind {
            Kind::Number => c.value.is_number() || (c.field == "assignee_id" && c.value.is_null()),
            _ => c.value.as_str().is_some_and(|s| s.chars().count() <= 500) || c.value.is_number(),
        },
    };
    if !value_ok {
        return Err((
            "value",
            match c.op {
                Op::In | Op::NotIn => "must be a list of 1 to 100 values".into(),
                Op::Gt | Op::Lt => "must be a number".into(),
                _ if kind == Kind::Number => "must be a number".into(),
                _ => "must be a text of at most 500 characters".into(),
            },
        ));
    }
    let choices: &[&str] = match c.field.as_str() {
        "status" => &["open", "pending", "snoozed", "resolved", "closed"],
        "priority" => &["low", "normal", "high", "urgent"],
        "channel" => &["email", "chat", "sms", "whatsapp", "voice", "api"],
        "business_hours" => &["open", "closed"],
        _ => &[],
    };
    let listed: Vec<&Value> = match &c.value {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    if !choices.is_empty()
        && matches!(c.op, Op::Equals | Op::NotEquals | Op::In | Op::NotIn)
        && listed
            .iter()
            .any(|v| !v.as_str().is_some_and(|s| choices.contains(&s)))
    {
        return Err(("value", format!("must be one of {}", choices.join(", "))));
    }
    Ok(())
}

/// What rules look at: the conversation as it stands (and the message that fired them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub id: i64,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
    pub inbox_id: Option<i64>,
    pub team_id: Option<i64>,
    pub assignee_id: Option<i64>,
    pub tags: Vec<String>,
    pub subject: String,
    /// The customer's message that fired `message_received`.
    pub message: Option<String>,
    pub customer_email: Option<String>,
    pub customer_name: String,
    pub customer_attributes: Value,
    pub hours_since_created: f64,
    /// Whether the workspace's business hours are open now; unknown means always open.
    pub within_business_hours: Option<bool>,
}

enum Fact {
    Text(String),
    Number(f64),
    Tags(Vec<String>),
    Missing,
}

impl Facts {
    fn get(&self, field: &str) -> Fact {
        let text = |s: &str| Fact::Text(s.to_string());
        let id = |v: Option<i64>| v.map_or(Fact::Missing, |n| Fact::Number(n as f64));
        match field {
            "status" => self.status.map_or(Fact::Missing, |s| text(s.as_str())),
            "priority" => self.priority.map_or(Fact::Missing, |p| text(p.as_str())),
            "channel" => self.channel.map_or(Fact::Missing, |c| text(c.as_str())),
            "subject" => text(&self.subject),
            "message" => self.message.as_deref().map_or(Fact::Missing, text),
            "customer.email" => self.customer_email.as_deref().map_or(Fact::Missing, text),
            "customer.name" => text(&self.customer_name),
            "inbox_id" => id(self.inbox_id),
            "team_id" => id(self.team_id),
            "assignee_id" => id(self.assignee_id),
            "hours_since_created" => Fact::Number(self.hours_since_created),
            "business_hours" => text(if self.within_business_hours.unwrap_or(true) {
                "open"
            } else {
                "closed"
            }),
            "tags" => Fact::Tags(self.tags.clone()),
            f => match f
                .strip_prefix("customer.attributes.")
                .and_then(|k| self.customer_attributes.get(k))
            {
                Some(Value::String(s)) => text(s),
                Some(Value::Number(n)) => n.as_f64().map_or(Fact::Missing, Fact::Number),
                Some(Value::Bool(b)) => text(if *b { "true" } else { "false" }),
                _ => Fact::Missing,
            },
        }
    }

    /// What an action changes, as the next rules see it.
    fn apply(&mut self, a: &Action) {
        match a {
            Action::SetStatus { status } => self.status = Some(*status),
            Action::SetPriority { priority } => self.priority = Some(*priority),
            Action::Assign { user_id } => self.assignee_id = *user_id,
            Action::SetTeam { team_id } => self.team_id = *team_id,
            Action::AddTags { tags } => {
                for t in tags {
                    let t = t.trim().to_lowercase();
                    if !self.tags.contains(&t) {
                        self.tags.push(t);
                    }
                }
            }
            Action::RemoveTags { tags } => {
                let gone: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).collect();
                self.tags.retain(|t| !gone.contains(t));
            }
            Action::Snooze { .. } => self.status = Some(Status::Snoozed),
            Action::AddNote { .. } | Action::Reply { .. } | Action::SendWebhook { .. } => {}
        }
    }
}

fn same(a: &str, v: &Value) -> bool {
    match v {
        Value::String(s) => a.eq_ignore_ascii_case(s.trim()),
        Value::Number(n) => a.trim() == n.to_string(),
        _ => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

impl Condition {
    pub fn holds(&self, facts: &Facts) -> bool {
        let fact = facts.get(&self.field);
        let values: Vec<&Value> = match &self.value {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        let equals = |f: &Fact, v: &Value| match f {
            Fact::Text(s) => same(s, v),
            Fact::Number(n) => number(v).is_some_and(|x| (x - n).abs() < 1e-9),
            Fact::Tags(t) => t.iter().any(|t| same(t, v)),
            Fact::Missing => v.is_null(),
        };
        match self.op {
            Op::IsSet => {
                !matches!(fact, Fact::Missing) && !matches!(&fact, Fact::Text(s) if s.is_empty())
            }
            Op::IsNotSet => {
                matches!(fact, Fact::Missing) || matches!(&fact, Fact::Text(s) if s.is_empty())
            }
            Op::Equals => equals(&fact, &self.value),
            Op::NotEquals => !equals(&fact, &self.value),
            Op::In => values.iter().any(|v| equals(&fact, v)),
            Op::NotIn => !values.iter().any(|v| equals(&fact, v)),
            Op::Contains | Op::NotContains => {
                let needle = self
                    .value
                    .as_str()
                    .map(|s| s.trim().to_lowercase())
                    .unwrap_or_default();
                let found = match &fact {
                    Fact::Text(s) => !needle.is_empty() && s.to_lowercase().contains(&needle),
                    Fact::Tags(t) => t.iter().any(|t| t.eq_ignore_ascii_case(&needle)),
                    _ => false,
                };
                found == (self.op == Op::Contains)
            }
            Op::Gt | Op::Lt => match (&fact, number(&self.value)) {
                (Fact::Number(n), Some(x)) => {
                    (self.op == Op::Gt && *n > x) || (self.op == Op::Lt && *n < x)
                }
                (Fact::Text(s), Some(x)) => s
                    .trim()
                    .parse::<f64>()
                    .is_ok_and(|n| (self.op == Op::Gt && n > x) || (self.op == Op::Lt && n < x)),
                _ => false,
            },
        }
    }
}

impl Conditions {
    pub fn hold(&self, facts: &Facts) -> bool {
        self.all.iter().all(|c| c.holds(facts))
            && (self.any.is_empty() || self.any.iter().any(|c| c.holds(facts)))
    }
}

/// A rule ready to run: its id, name and what it says.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

/// What evaluating rules decided for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Run these actions; the chain grows by this rule.
    Run { rule_id: i64, actions: Vec<Action> },
    /// The rule matched but must not run: it already ran in this chain, or the chain is long.
    Stopped { rule_id: i64, reason: String },
}

/// Evaluates rules in order for one event. `chain` lists the rules whose changes led to the
/// event (empty for a person's or customer's change). Facts are updated as each rule's
/// actions would change them, so later rules see earlier ones' work.
pub fn evaluate(rules: &[Rule], facts: &mut Facts, chain: &[i64]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for r in rules {
        if !r.conditions.hold(facts) {
            continue;
        }
        // A rule with nothing left to change (its tag is there, the status is set) is done:
        // running it again is neither work nor a loop.
        let mut after = facts.clone();
        for a in &r.actions {
            after.apply(a);
        }
        let notes = r.actions.iter().any(|a| {
            matches!(
                a,
                Action::AddNote { .. } | Action::Reply { .. } | Action::SendWebhook { .. }
            )
        });
        if after == *facts && !notes {
            continue;
        }
        if chain.contains(&r.id) {
            out.push(Outcome::Stopped {
                rule_id: r.id,
                reason: format!(
                    "rule \u{201c}{}\u{201d} would run again on its own change (a loop)",
                    r.name
                ),
            });
            continue;
        }
        if chain.len() >= MAX_CHAIN {
            out.push(Outcome::Stopped {
                rule_id: r.id,
                reason: format!("{MAX_CHAIN} rules already ran one after another"),
            });
            continue;
        }
        *facts = after;
        out.push(Outcome::Run {
            rule_id: r.id,
            actions: r.actions.clone(),
        });
    }
    out
}

/// How a rule would have done on past conversations.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DryRunReport {
    pub examined: usize,
    pub matched: usize,
    /// Up to 20 conversations it would have acted on, newest first.
    pub sample_ids: Vec<i64>,
}

/// Checks a rule against past conversations without changing anything.
pub fn dry_run(conditions: &Conditions, past: &[Facts]) -> DryRunReport {
    let matched: Vec<i64> = past
        .iter()
        .filter(|f| conditions.hold(f))
        .map(|f| f.id)
        .collect();
    DryRunReport {
        examined: past.len(),
        matched: matched.len(),
        sample_ids: matched.into_iter().take(20).collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn cond(field: &str, op: Op, value: Value) -> Condition {
        Condition {
            field: field.into(),
            op,
            value,
        }
    }

    fn facts() -> Facts {
        Facts {
            id: 7,
            status: Some(Status::Open),
            priority: Some(Priority::Normal),
            channel: Some(Channel::Email),
            inbox_id: Some(3),
            team_id: None,
            assignee_id: None,
            tags: vec!["billing".into()],
            subject: "Refund for order 42".into(),
            message: Some("I want my MONEY back".into()),
            customer_email: Some("ada@example.com".into()),
            customer_name: "Ada".into(),
            customer_attributes: json!({"tier": "Gold", "seats": 40}),
            hours_since_created: 30.0,
            within_business_hours: Some(false),
        }
    }

    #[test]
    fn conditions_by_operator_and_type() {
        let f = facts();
        let yes = [
            cond("priority", Op::Equals, json!("normal")),
            cond("status", Op::In, json!(["open", "pending"])),
            cond("channel", Op::NotIn, json!(["chat"])),
            cond("message", Op::Contains, json!("money")),
            cond("subject", Op::NotContains, json!("invoice")),
            cond("tags", Op::Contains, json!("Billing")),
            cond("tags", Op::NotContains, json!("vip")),
            cond("customer.attributes.tier", Op::Equals, json!("gold")),
            cond("customer.attributes.seats", Op::Gt, json!(10)),
            cond("hours_since_created", Op::Gt, json!(24)),
            cond("assignee_id", Op::IsNotSet, Value::Null),
            cond("inbox_id", Op::Equals, json!(3)),
            cond("customer.email", Op::IsSet, Value::Null),
            cond("business_hours", Op::Equals, json!("closed")),
        ];
        for c in &yes {
            assert!(c.holds(&f), "{c:?}");
            assert!(check_condition(c).is_ok(), "{c:?}");
        }
        let no = [
            cond("priority", Op::NotEquals, json!("normal")),
            cond("hours_since_created", Op::Lt, json!(24)),
            cond("customer.attributes.plan", Op::IsSet, Value::Null),
            cond("message", Op::Contains, json!("")),
            cond("team_id", Op::Equals, json!(1)),
        ];
        for c in &no {
            assert!(!c.holds(&f), "{c:?}");
        }
        let any = Conditions {
            all: vec![yes[0].clone()],
            any: vec![no[0].clone(), yes[1].clone()],
        };
        assert!(any.hold(&f));
        let none = Conditions {
            all: vec![],
            any: vec![no[0].clone()],
        };
        assert!(!none.hold(&f));
    }

    #[test]
    fn validation_names_the_path() {
        let input = RuleInput {
            name: "Escalate".into(),
            enabled: None,
            trigger: Trigger::MessageReceived,
            after_hours: None,
            conditions: Conditions {
                all: vec![
                    cond("priority", Op::Equals, json!("normal")),
                    cond("subject", Op::Gt, json!(3)),
                    cond("mood", Op::Equals, json!("angry")),
                ],
                any: vec![cond("priority", Op::In, json!(["asap"]))],
            },
            actions: vec![
                Action::SetStatus {
                    status: Status::Snoozed,
                },
                Action::AddTags { tags: vec![] },
            ],
        };
        let err = input.validate().unwrap_err();
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "conditions.all[1].op",
                "conditions.all[2].field",
                "conditions.any[0].value",
                "actions[0]",
                "actions[1]"
            ]
        );
        assert!(err.fields[0].message.contains("needs a number field"));
    }

    fn rule(id: i64, conditions: Vec<Condition>, actions: Vec<Action>) -> Rule {
        Rule {
            id,
            name: format!("rule {id}"),
            conditions: Conditions {
                all: conditions,
                any: vec![],
            },
            actions,
        }
    }

    #[test]
    fn later_rules_see_earlier_changes() {
        let rules = [
            rule(
                1,
                vec![cond("message", Op::Contains, json!("money"))],
                vec![Action::SetPriority {
                    priority: Priority::Urgent,
                }],
            ),
            rule(
                2,
                vec![cond("priority", Op::Equals, json!("urgent"))],
                vec![Action::AddTags {
                    tags: vec!["escalated".into()],
                }],
            ),
        ];
        let mut f = facts();
        let out = evaluate(&rules, &mut f, &[]);
        assert_eq!(out.len(), 2);
        assert_eq!(f.priority, Some(Priority::Urgent));
        assert!(f.tags.contains(&"escalated".to_string()));
    }

    #[test]
    fn a_loop_is_stopped() {
        // A: open → pending; B: pending → open. B's change fires A again, which must not run.
        let a = rule(
            1,
            vec![cond("status", Op::Equals, json!("open"))],
            vec![Action::SetStatus {
                status: Status::Pending,
            }],
        );
        let b = rule(
            2,
            vec![cond("status", Op::Equals, json!("pending"))],
            vec![Action::SetStatus {
                status: Status::Open,
            }],
        );
        let rules = [a, b];
        // A person opens it: A runs; in that pass B sees pending and runs too.
        let mut f = facts();
        let first = evaluate(&rules, &mut f, &[]);
        assert!(matches!(
            first[..],
            [
                Outcome::Run { rule_id: 1, .. },
                Outcome::Run { rule_id: 2, .. }
            ]
        ));
        // B's change (chain [1, 2]) comes back as an event: A matches but has run in this chain.
        let mut f = facts();
        let again = evaluate(&rules, &mut f, &[1, 2]);
        assert!(
            matches!(&again[0], Outcome::Stopped { rule_id: 1, reason } if reason.contains("loop")),
            "{again:?}"
        );
        // A chain as long as the limit stops whatever comes next.
        let mut f = facts();
        let long = evaluate(&rules[..1], &mut f, &[10, 11, 12, 13, 14]);
        assert!(matches!(&long[0], Outcome::Stopped { rule_id: 1, .. }));
    }

    #[test]
    fn a_rule_with_nothing_to_change_is_skipped_quietly() {
        let tag = rule(
            1,
            vec![cond("priority", Op::Equals, json!("normal"))],
            vec![Action::AddTags {
                tags: vec!["billing".into()],
            }],
        );
        let mut f = facts();
        assert!(
            evaluate(std::slice::from_ref(&tag), &mut f, &[]).is_empty(),
            "the tag is already there"
        );
        assert!(
            evaluate(&[tag], &mut f, &[1]).is_empty(),
            "not a loop either"
        );
    }

    #[test]
    fn dry_run_counts_matches() {
        let mut past = Vec::new();
        for i in 0..30 {
            let mut f = facts();
            f.id = i;
            f.priority = Some(if i % 3 == 0 {
                Priority::Urgent
            } else {
                Priority::Low
            });
            past.push(f);
        }
        let c = Conditions {
            all: vec![cond("priority", Op::Equals, json!("urgent"))],
            any: vec![],
        };
        let r = dry_run(&c, &past);
        assert_eq!((r.examined, r.matched), (30, 10));
        assert_eq!(r.sample_ids[..3], [0, 3, 6]);
    }

    proptest! {
        #[test]
        fn evaluating_never_panics(field in "[a-z._]{0,30}", op in 0usize..10, text in ".{0,20}", n in any::<f64>()) {
            let value = if op % 2 == 0 { json!(text) } else { json!([text, n]) };
            let c = Condition { field, op: Op::ALL[op], value };
            let _ = check_condition(&c);
            let _ = c.holds(&facts());
        }
    }
}
