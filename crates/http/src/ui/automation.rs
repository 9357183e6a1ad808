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
use super::settings::{confirmed, fixable, see_other, with_status};
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

/// What can start a rule, as (trigger, label).
fn trigger_choices() -> [(&'static str, &'static str); 6] {
    [
        (
            "conversation_created",
            text::t("settings_automation.trigger_conversation_created"),
        ),
        (
            "message_received",
            text::t("settings_automation.trigger_message_received"),
        ),
        (
            "conversation_updated",
            text::t("settings_automation.trigger_conversation_updated"),
        ),
        (
            "sla_warning",
            text::t("settings_automation.trigger_sla_warning"),
        ),
        (
            "sla_breached",
            text::t("settings_automation.trigger_sla_breached"),
        ),
        ("idle", text::t("settings_automation.trigger_idle")),
    ]
}

/// What a condition can look at, as (field, label).
fn field_choices() -> [(&'static str, &'static str); 13] {
    [
        ("message", text::t("settings_automation.field_message")),
        ("subject", text::t("settings_automation.field_subject")),
        ("status", text::t("settings_automation.field_status")),
        ("priority", text::t("settings_automation.field_priority")),
        ("channel", text::t("settings_automation.field_channel")),
        ("tags", text::t("settings_automation.field_tags")),
        (
            "customer.email",
            text::t("settings_automation.field_customer_email"),
        ),
        (
            "customer.name",
            text::t("settings_automation.field_customer_name"),
        ),
        (
            "customer.attributes.tier",
            text::t("settings_automation.field_customer_attributes_tier"),
        ),
        (
            "business_hours",
            text::t("settings_automation.field_business_hours"),
        ),
        (
            "assignee_id",
            text::t("settings_automation.field_assignee_id"),
        ),
        ("team_id", text::t("settings_automation.field_team_id")),
        (
            "hours_since_created",
            text::t("settings_automation.field_hours_since_created"),
        ),
    ]
}

/// What a rule can do, as (action, label).
fn action_choices() -> [(&'static str, &'static str); 10] {
    [
        (
            "set_priority",
            text::t("settings_automation.action_set_priority"),
        ),
        (
            "set_status",
            text::t("settings_automation.action_set_status"),
        ),
        ("add_tags", text::t("settings_automation.action_add_tags")),
        (
            "remove_tags",
            text::t("settings_automation.action_remove_tags"),
        ),
        ("assign", text::t("settings_automation.action_assign")),
        ("set_team", text::t("settings_automation.action_set_team")),
        ("add_note", text::t("settings_automation.action_add_note")),
        ("reply", text::t("settings_automation.action_reply")),
        ("snooze", text::t("settings_automation.action_snooze")),
        (
            "send_webhook",
            text::t("settings_automation.action_send_webhook"),
        ),
    ]
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "rule-saved" => text::t("settings_automation.saved"),
        "rule-toggled" => text::t("settings_automation.toggled"),
        "rule-moved" => text::t("settings_automation.moved"),
        "rule-deleted" => text::t("settings_automation.deleted"),
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
                Invalid::field(
                    format!("conditions.all[{i}].op"),
                    text::t("settings_automation.choose_comparison"),
                )
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
                        .map_err(|_| at(text::t("settings_automation.give_priority")))?,
                },
                "set_status" => Action::SetStatus {
                    status: Status::parse(v)
                        .map_err(|_| at(text::t("settings_automation.give_status")))?,
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
                    hours: v
                        .parse()
                        .map_err(|_| at(text::t("settings_automation.whole_hours")))?,
                },
                "send_webhook" => {
                    let endpoints = s.app.webhook_endpoints(a).await?;
                    let e = endpoints
                        .iter()
                        .find(|e| e.url == v)
                        .ok_or_else(|| at(text::t("settings_automation.no_endpoint")))?;
                    Action::SendWebhook { endpoint_id: e.id }
                }
                "assign" => {
                    let users = s.app.users(a).await?;
                    let user = users
                        .iter()
                        .find(|u| u.email.eq_ignore_ascii_case(v))
                        .ok_or_else(|| at(text::t("settings_automation.no_agent")))?;
                    Action::Assign {
                        user_id: Some(user.id),
                    }
                }
                "set_team" => {
                    let teams = s.app.teams(a).await?;
                    let team = teams
                        .iter()
                        .find(|t| t.name.eq_ignore_ascii_case(v))
                        .ok_or_else(|| at(text::t("settings_automation.no_team_named")))?;
                    Action::SetTeam {
                        team_id: Some(team.id),
                    }
                }
                _ => return Err(at(text::t("settings_automation.choose_action"))),
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
            h => Some(h.parse::<u32>().map_err(|_| {
                Invalid::field("after_hours", text::t("settings_automation.whole_hours"))
            })?),
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
    trigger_choices()
        .iter()
        .find(|(k, _)| *k == t.as_str())
        .map_or("", |(_, l)| l)
}

/// How a comparison reads in a condition.
fn op_label(op: Op) -> &'static str {
    match op {
        Op::Equals => text::t("settings_automation.op_equals"),
        Op::NotEquals => text::t("settings_automation.op_not_equals"),
        Op::In => text::t("settings_automation.op_in"),
        Op::NotIn => text::t("settings_automation.op_not_in"),
        Op::Contains => text::t("settings_automation.op_contains"),
        Op::NotContains => text::t("settings_automation.op_not_contains"),
        Op::Gt => text::t("settings_automation.op_gt"),
        Op::Lt => text::t("settings_automation.op_lt"),
        Op::IsSet => text::t("settings_automation.op_is_set"),
        Op::IsNotSet => text::t("settings_automation.op_is_not_set"),
    }
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
        Action::SetStatus { status } => {
            text::tf("settings_automation.does_status", &[("status", &status)])
        }
        Action::SetPriority { priority } => text::tf(
            "settings_automation.does_priority",
            &[("priority", &priority)],
        ),
        Action::Assign { user_id: Some(u) } => {
            text::tf("settings_automation.does_assign", &[("id", &u)])
        }
        Action::Assign { user_id: None } => text::t("settings_automation.does_unassign").into(),
        Action::SetTeam { team_id: Some(t) } => {
            text::tf("settings_automation.does_team", &[("id", &t)])
        }
        Action::SetTeam { team_id: None } => text::t("settings_automation.does_no_team").into(),
        Action::AddTags { tags } => text::tf(
            "settings_automation.does_tag",
            &[("tags", &tags.join(", "))],
        ),
        Action::RemoveTags { tags } => text::tf(
            "settings_automation.does_untag",
            &[("tags", &tags.join(", "))],
        ),
        Action::AddNote { .. } => text::t("settings_automation.does_note").into(),
        Action::Reply { .. } => text::t("settings_automation.does_reply").into(),
        Action::Snooze { hours } => {
            text::tf("settings_automation.does_snooze", &[("hours", &hours)])
        }
        Action::SendWebhook { endpoint_id } => {
            text::tf("settings_automation.does_webhook", &[("id", &endpoint_id)])
        }
    }
}

fn rule_row(r: &RuleInfo, i: usize, n: usize) -> RuleRow {
    let c = &r.rule.conditions;
    let (list, joiner) = if c.any.is_empty() {
        (&c.all, format!(" {} ", text::t("common.and")))
    } else {
        (&c.any, format!(" {} ", text::t("common.or")))
    };
    let conditions = list
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c.field,
                op_label(c.op),
                describe_value(&c.value)
            )
            .trim()
            .to_string()
        })
        .collect::<Vec<_>>()
        .join(&joiner);
    RuleRow {
        id: r.id,
        name: r.rule.name.clone(),
        enabled: r.rule.enabled.unwrap_or(true),
        when: match r.rule.after_hours {
            Some(h) => text::tf(
                "settings_automation.when_after",
                &[("trigger", &trigger_label(r.rule.trigger)), ("hours", &h)],
            ),
            None => trigger_label(r.rule.trigger).to_string(),
        },
        conditions: if conditions.is_empty() {
            text::t("settings_automation.always").into()
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
    ops: Vec<(&'static str, &'static str)>,
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
        triggers: trigger_choices().to_vec(),
        fields: field_choices().to_vec(),
        ops: Op::ALL.iter().map(|o| (o.as_str(), op_label(*o))).collect(),
        kinds: action_choices().to_vec(),
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
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.delete_rule(&caller.actor, id),
        "/settings/automation?notice=rule-deleted",
    )
    .await
}
