//! Settings → Automation: the rules in run order (add, try on past conversations, turn on or
//! off, reorder, delete) and the execution log.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::automation::{RuleInfo, RuleRun};
use citius_app::sla::OrderInput;
use citius_domain::Invalid;
use citius_domain::automation::{
    Action, Condition, Conditions, DryRunReport, Op, RuleInput, Trigger,
};
use citius_domain::conversation::{Priority, Status};
use citius_domain::paging::PageRequest;

use super::form_value as value;
use super::settings::{fixable, see_other, with_status};
use super::{Nav, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/automation", get(rules).post(create_rule))
        .route(
            "/settings/automation/{id}",
            get(edit_rule).post(update_rule),
        )
        .route("/settings/automation/{id}/toggle", post(toggle_rule))
        .route("/settings/automation/{id}/move", post(move_rule))
        .route("/settings/automation/{id}/delete", post(delete_rule))
}

const ROWS: usize = 3;

const TRIGGERS: [(&str, &str); 6] = [
    ("conversation_created", "A conversation is created"),
    ("message_received", "The customer writes"),
    ("conversation_updated", "A conversation changes"),
    ("sla_warning", "An SLA target is near"),
    ("sla_breached", "An SLA target is missed"),
    ("idle", "A conversation sits unchanged for"),
];

const FIELDS: [(&str, &str); 13] = [
    ("message", "Customer's message"),
    ("subject", "Subject"),
    ("status", "Status"),
    ("priority", "Priority"),
    ("channel", "Channel"),
    ("tags", "Tags"),
    ("customer.email", "Customer email"),
    ("customer.name", "Customer name"),
    ("customer.attributes.tier", "Customer tier"),
    ("business_hours", "Business hours (open or closed)"),
    ("assignee_id", "Assignee (id)"),
    ("team_id", "Team (id)"),
    ("hours_since_created", "Hours since created"),
];

const ACTIONS: [(&str, &str); 10] = [
    ("set_priority", "Set priority to"),
    ("set_status", "Set status to"),
    ("add_tags", "Add tags"),
    ("remove_tags", "Remove tags"),
    ("assign", "Assign to (agent email)"),
    ("set_team", "Move to team (name)"),
    ("add_note", "Add an internal note"),
    ("reply", "Reply with (placeholders allowed)"),
    ("snooze", "Snooze for (hours)"),
    ("send_webhook", "Send to webhook (endpoint URL)"),
];

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "rule-saved" => "Rule saved. It runs on what happens from now on.",
        "rule-toggled" => "Rule turned on or off.",
        "rule-moved" => "Order saved: rules run top to bottom.",
        "rule-deleted" => "Rule deleted. Its past runs stay in the log.",
        _ => return None,
    })
}

/// The rule form as shown: a few condition and action rows.
struct RuleDraft {
    name: String,
    trigger: String,
    /// Hours, for idle rules.
    after_hours: String,
    match_any: bool,
    conditions: Vec<(String, String, String)>,
    actions: Vec<(String, String)>,
    error: Option<String>,
    /// The rule being edited; none when adding one.
    editing: Option<i64>,
}

/// How many rows of a kind a submitted form has (at least the usual few).
fn rows_in(f: &[(String, String)], prefix: &str) -> usize {
    f.iter()
        .filter_map(|(k, _)| k.strip_prefix(prefix)?.parse::<usize>().ok())
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
        .clamp(ROWS, 50)
}

impl RuleDraft {
    /// A stored rule as the form shows it: ids back to agent emails, team names and URLs.
    async fn of(s: &AppState, caller: &Caller, r: &RuleInfo) -> Result<Self, citius_app::AppError> {
        let a = &caller.actor;
        let users = s.app.users(a).await?;
        let teams = s.app.teams(a).await?;
        let endpoints = if a.role.allows(citius_domain::role::Permission::Administer) {
            s.app.webhook_endpoints(a).await?
        } else {
            Vec::new()
        };
        let c = &r.rule.conditions;
        let (list, any) = if c.any.is_empty() {
            (&c.all, false)
        } else {
            (&c.any, true)
        };
        let mut conditions: Vec<(String, String, String)> = list
            .iter()
            .map(|c| {
                let v = match &c.value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(a) => a
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(", "),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                (c.field.clone(), c.op.as_str().to_string(), v)
            })
            .collect();
        let mut actions: Vec<(String, String)> = r
            .rule
            .actions
            .iter()
            .map(|a| match a {
                Action::SetStatus { status } => ("set_status".into(), status.to_string()),
                Action::SetPriority { priority } => ("set_priority".into(), priority.to_string()),
                Action::AddTags { tags } => ("add_tags".into(), tags.join(", ")),
                Action::RemoveTags { tags } => ("remove_tags".into(), tags.join(", ")),
                Action::AddNote { text } => ("add_note".into(), text.clone()),
                Action::Reply { template } => ("reply".into(), template.clone()),
                Action::Snooze { hours } => ("snooze".into(), hours.to_string()),
                Action::Assign { user_id } => (
                    "assign".into(),
                    users
                        .iter()
                        .find(|u| Some(u.id) == *user_id)
                        .map(|u| u.email.clone())
                        .unwrap_or_default(),
                ),
                Action::SetTeam { team_id } => (
                    "set_team".into(),
                    teams
                        .iter()
                        .find(|t| Some(t.id) == *team_id)
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                ),
                Action::SendWebhook { endpoint_id } => (
                    "send_webhook".into(),
                    endpoints
                        .iter()
                        .find(|e| e.id == *endpoint_id)
                        .map(|e| e.url.clone())
                        .unwrap_or_default(),
                ),
            })
            .collect();
        conditions.resize(conditions.len().max(ROWS), Default::default());
        actions.resize(actions.len().max(ROWS), Default::default());
        Ok(Self {
            name: r.rule.name.clone(),
            trigger: r.rule.trigger.as_str().to_string(),
            after_hours: r
                .rule
                .after_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            match_any: any,
            conditions,
            actions,
            error: None,
            editing: Some(r.id),
        })
    }

    fn blank() -> Self {
        Self {
            name: String::new(),
            trigger: "message_received".into(),
            after_hours: String::new(),
            match_any: false,
            conditions: vec![Default::default(); ROWS],
            actions: vec![Default::default(); ROWS],
            error: None,
            editing: None,
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        Self {
            name: value(f, "name").to_string(),
            trigger: value(f, "trigger").to_string(),
            after_hours: value(f, "after_hours").trim().to_string(),
            match_any: value(f, "match") == "any",
            conditions: (0..rows_in(f, "cond_field_"))
                .map(|i| {
                    (
                        value(f, &format!("cond_field_{i}")).to_string(),
                        value(f, &format!("cond_op_{i}")).to_string(),
                        value(f, &format!("cond_value_{i}")).to_string(),
                    )
                })
                .collect(),
            actions: (0..rows_in(f, "act_type_"))
                .map(|i| {
                    (
                        value(f, &format!("act_type_{i}")).to_string(),
                        value(f, &format!("act_value_{i}")).to_string(),
                    )
                })
                .collect(),
            error: None,
            editing: None,
        }
    }

    /// The rule the form describes; agent emails and team names become ids.
    async fn input(
        &self,
        s: &AppState,
        caller: &Caller,
    ) -> Result<RuleInput, citius_app::AppError> {
        let a = &caller.actor;
        let trigger = Trigger::parse(&self.trigger)?;
        let mut conditions = Vec::new();
        for (i, (field, op, v)) in self.conditions.iter().enumerate() {
            if field.is_empty() {
                continue;
            }
            let op = Op::parse(op).map_err(|_| {
                Invalid::field(format!("conditions.all[{i}].op"), "choose a comparison")
            })?;
            let v = v.trim();
            let value = match op {
                Op::In | Op::NotIn => serde_json::Value::from(
                    v.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>(),
                ),
                Op::IsSet | Op::IsNotSet => serde_json::Value::Null,
                _ => match v.parse::<f64>() {
                    Ok(n)
                        if matches!(
                            field.as_str(),
                            "assignee_id" | "team_id" | "hours_since_created"
                        ) =>
                    {
                        serde_json::json!(n)
                    }
                    _ => serde_json::Value::from(v),
                },
            };
            conditions.push(Condition {
                field: field.clone(),
                op,
                value,
            });
        }
        let mut actions = Vec::new();
        for (i, (kind, v)) in self.actions.iter().enumerate() {
            let v = v.trim();
            let at =
                |m: &str| citius_app::AppError::from(Invalid::field(format!("actions[{i}]"), m));
            let tags = || {
                v.split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
            };
            actions.push(match kind.as_str() {
                "" => continue,
                "set_priority" => Action::SetPriority {
                    priority: Priority::parse(v)
                        .map_err(|_| at("give low, normal, high or urgent"))?,
                },
                "set_status" => Action::SetStatus {
                    status: Status::parse(v)
                        .map_err(|_| at("give open, pending, resolved or closed"))?,
                },
                "add_tags" => Action::AddTags { tags: tags() },
                "remove_tags" => Action::RemoveTags { tags: tags() },
                "add_note" => Action::AddNote {
                    text: v.to_string(),
                },
                "reply" => Action::Reply {
                    template: v.to_string(),
                },
                "snooze" => Action::Snooze {
                    hours: v.parse().map_err(|_| at("give a whole number of hours"))?,
                },
                "send_webhook" => {
                    let endpoints = s.app.webhook_endpoints(a).await?;
                    let e = endpoints
                        .iter()
                        .find(|e| e.url == v)
                        .ok_or_else(|| at("no webhook endpoint has this URL"))?;
                    Action::SendWebhook { endpoint_id: e.id }
                }
                "assign" => {
                    let users = s.app.users(a).await?;
                    let user = users
                        .iter()
                        .find(|u| u.email.eq_ignore_ascii_case(v))
                        .ok_or_else(|| at("no agent has this email"))?;
                    Action::Assign {
                        user_id: Some(user.id),
                    }
                }
                "set_team" => {
                    let teams = s.app.teams(a).await?;
                    let team = teams
                        .iter()
                        .find(|t| t.name.eq_ignore_ascii_case(v))
                        .ok_or_else(|| at("no team has this name"))?;
                    Action::SetTeam {
                        team_id: Some(team.id),
                    }
                }
                _ => return Err(at("choose an action")),
            });
        }
        let conditions = if self.match_any {
            Conditions {
                all: vec![],
                any: conditions,
            }
        } else {
            Conditions {
                all: conditions,
                any: vec![],
            }
        };
        let after_hours = match self.after_hours.as_str() {
            "" => None,
            h => Some(
                h.parse::<u32>()
                    .map_err(|_| Invalid::field("after_hours", "give a whole number of hours"))?,
            ),
        };
        Ok(RuleInput {
            name: self.name.clone(),
            enabled: Some(true),
            trigger,
            after_hours,
            conditions,
            actions,
        })
    }
}

struct RuleRow {
    id: i64,
    name: String,
    enabled: bool,
    when: String,
    conditions: String,
    actions: String,
    first: bool,
    last: bool,
}

fn trigger_label(t: Trigger) -> &'static str {
    TRIGGERS
        .iter()
        .find(|(k, _)| *k == t.as_str())
        .map_or("", |(_, l)| l)
}

fn describe_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("\u{201c}{s}\u{201d}"),
        serde_json::Value::Array(a) => a.iter().map(describe_value).collect::<Vec<_>>().join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn describe_action(a: &Action) -> String {
    match a {
        Action::SetStatus { status } => format!("status {status}"),
        Action::SetPriority { priority } => format!("priority {priority}"),
        Action::Assign { user_id: Some(u) } => format!("assign to agent {u}"),
        Action::Assign { user_id: None } => "unassign".into(),
        Action::SetTeam { team_id: Some(t) } => format!("team {t}"),
        Action::SetTeam { team_id: None } => "no team".into(),
        Action::AddTags { tags } => format!("tag {}", tags.join(", ")),
        Action::RemoveTags { tags } => format!("untag {}", tags.join(", ")),
        Action::AddNote { .. } => "add a note".into(),
        Action::Reply { .. } => "reply".into(),
        Action::Snooze { hours } => format!("snooze {hours} h"),
        Action::SendWebhook { endpoint_id } => format!("webhook {endpoint_id}"),
    }
}

fn rule_row(r: &RuleInfo, i: usize, n: usize) -> RuleRow {
    let c = &r.rule.conditions;
    let (list, joiner) = if c.any.is_empty() {
        (&c.all, " and ")
    } else {
        (&c.any, " or ")
    };
    let conditions = list
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c.field,
                c.op.as_str().replace('_', " "),
                describe_value(&c.value)
            )
            .trim()
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(joiner);
    RuleRow {
        id: r.id,
        name: r.rule.name.clone(),
        enabled: r.rule.enabled.unwrap_or(true),
        when: match r.rule.after_hours {
            Some(h) => format!("{} {h} h", trigger_label(r.rule.trigger)),
            None => trigger_label(r.rule.trigger).to_string(),
        },
        conditions: if conditions.is_empty() {
            "always".into()
        } else {
            conditions
        },
        actions: r
            .rule
            .actions
            .iter()
            .map(describe_action)
            .collect::<Vec<_>>()
            .join(" · "),
        first: i == 0,
        last: i + 1 == n,
    }
}

struct RunRow {
    time: String,
    time_iso: String,
    rule: String,
    conversation_id: Option<i64>,
    outcome: String,
    detail: String,
}

fn run_row(r: RuleRun) -> RunRow {
    let detail = r
        .detail
        .get("reason")
        .or_else(|| r.detail.get("error"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            r.detail
                .get("actions")
                .and_then(|a| serde_json::from_value::<Vec<Action>>(a.clone()).ok())
                .map(|a| {
                    a.iter()
                        .map(describe_action)
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
        })
        .unwrap_or_default();
    RunRow {
        time: super::ago(r.created_at),
        time_iso: r.created_at.to_string(),
        rule: r.rule_name,
        conversation_id: r.conversation_id,
        outcome: r.outcome,
        detail,
    }
}

#[derive(Template)]
#[template(path = "settings/automation.html")]
struct RulesPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<RuleRow>,
    runs: Vec<RunRow>,
    draft: RuleDraft,
    report: Option<DryRunReport>,
    triggers: Vec<(&'static str, &'static str)>,
    fields: Vec<(&'static str, &'static str)>,
    ops: Vec<&'static str>,
    kinds: Vec<(&'static str, &'static str)>,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    format: Option<String>,
    notice: Option<String>,
}

async fn rules_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: Option<RuleDraft>,
    report: Option<DryRunReport>,
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    let first_page = PageRequest {
        limit: 20,
        after: None,
    };
    let (list, runs) = match (
        s.app.rules(a).await,
        s.app.rule_runs(a, None, first_page).await,
    ) {
        (Ok(l), Ok(r)) => (l, r),
        (Err(e), _) | (_, Err(e)) => return error_page(s, caller, e).await,
    };
    let n = list.len();
    let res = page(RulesPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "automation",
        admin: a.role.allows(citius_domain::role::Permission::Administer),
        rows: list
            .iter()
            .enumerate()
            .map(|(i, r)| rule_row(r, i, n))
            .collect(),
        runs: runs.items.into_iter().map(run_row).collect(),
        draft: draft.unwrap_or_else(RuleDraft::blank),
        report,
        triggers: TRIGGERS.to_vec(),
        fields: FIELDS.to_vec(),
        ops: Op::ALL.iter().map(|o| o.as_str()).collect(),
        kinds: ACTIONS.to_vec(),
        notice,
        error: None,
    });
    with_status(res, status)
}

async fn rules(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.format.as_deref() == Some("csv") {
        let page = PageRequest {
            limit: 100,
            after: None,
        };
        return match s.app.rule_runs(&caller.actor, None, page).await {
            Ok(runs) => csv::download(
                "automation-runs.csv",
                &["time", "rule", "conversation_id", "outcome", "detail"],
                runs.items.into_iter().map(|r| {
                    let time = r.created_at.to_string();
                    let row = run_row(r);
                    vec![
                        time,
                        row.rule,
                        row.conversation_id
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        row.outcome,
                        row.detail,
                    ]
                }),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    rules_view(
        &s,
        &caller,
        notice(p.notice.as_deref()),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// Saves the rule (a new one, or `id`), or with `dry_run` tries it on recent conversations
/// and shows how it did; the form stays as sent.
async fn save_form(
    s: &AppState,
    caller: &Caller,
    id: Option<i64>,
    f: &[(String, String)],
) -> Response {
    if let Err(r) = check_csrf(caller, value(f, "_csrf")) {
        return *r;
    }
    let mut draft = RuleDraft::from_form(f);
    draft.editing = id;
    let dry = !value(f, "dry_run").is_empty();
    let result = match draft.input(s, caller).await {
        Ok(rule) if dry => s
            .app
            .dry_run_rule(
                &caller.actor,
                citius_app::automation::DryRunInput {
                    rule,
                    limit: Some(500),
                },
            )
            .await
            .map(Some),
        Ok(mut rule) => {
            // Editing keeps the rule on or off as it was.
            let kept = match id {
                Some(id) => find(s, caller, id).await.map(|(_, old)| old.rule.enabled),
                None => Ok(Some(true)),
            };
            match kept {
                Ok(enabled) => {
                    rule.enabled = enabled;
                    s.app.save_rule(&caller.actor, id, rule).await.map(|_| None)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(report)) => {
            rules_view(s, caller, None, Some(draft), Some(report), StatusCode::OK).await
        }
        Ok(None) => see_other("/settings/automation?notice=rule-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                draft.error = Some(message);
                rules_view(s, caller, None, Some(draft), None, status).await
            }
            None => error_page(s, caller, e).await,
        },
    }
}

async fn create_rule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_form(&s, &caller, None, &f).await
}

async fn update_rule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_form(&s, &caller, Some(id), &f).await
}

/// The rules page with the form holding one rule to change.
async fn edit_rule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    let draft = match find(&s, &caller, id).await {
        Ok((_, r)) => RuleDraft::of(&s, &caller, &r).await,
        Err(e) => Err(e),
    };
    match draft {
        Ok(d) => rules_view(&s, &caller, None, Some(d), None, StatusCode::OK).await,
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn find(
    s: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(Vec<RuleInfo>, RuleInfo), citius_app::AppError> {
    let list = s.app.rules(&caller.actor).await?;
    let found = list
        .iter()
        .find(|r| r.id == id)
        .cloned()
        .ok_or(citius_app::AppError::NotFound)?;
    Ok((list, found))
}

async fn toggle_rule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let result = async {
        let (_, mut r) = find(&s, &caller, id).await?;
        r.rule.enabled = Some(!r.rule.enabled.unwrap_or(true));
        s.app.save_rule(&caller.actor, Some(id), r.rule).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/automation?notice=rule-toggled"),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn move_rule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let result = async {
        let (list, _) = find(&s, &caller, id).await?;
        let mut ids: Vec<i64> = list.iter().map(|r| r.id).collect();
        if let Some(i) = ids.iter().position(|x| *x == id) {
            match value(&f, "direction") {
                "up" if i > 0 => ids.swap(i, i - 1),
                "down" if i + 1 < ids.len() => ids.swap(i, i + 1),
                _ => {}
            }
        }
        s.app.order_rules(&caller.actor, OrderInput { ids }).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/automation?notice=rule-moved"),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn delete_rule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    match s.app.delete_rule(&caller.actor, id).await {
        Ok(()) => see_other("/settings/automation?notice=rule-deleted"),
        Err(e) => error_page(&s, &caller, e).await,
    }
}
