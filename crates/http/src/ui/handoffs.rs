//! The handoff screens: passing a conversation on with a context capsule (a warm offer the
//! receiver accepts, or a cold move), the receiver's answer, and the follow-ups agents owe
//! customers. The conversation page shows the capsule first; the inbox shows offers waiting.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::handoffs::{DeclineInput, FollowUpInput, TransferInput};
use citius_app::{Actor, AppError};
use citius_domain::Invalid;
use citius_domain::event::EventKind;
use citius_domain::handoff::{
    Capsule, Fallback, FollowUpKind, MAX_PROMISES, Promise, TransferMode, TransferState,
};
use citius_domain::records::{Conversation, Event, FollowUp, Team, Transfer, User};
use citius_domain::role::{Permission, Role};
use jiff::Timestamp;
use serde::Deserialize;

use super::settings::see_other;
use super::{
    CsrfOnly, Extras, Nav, ago, check_csrf, conversation_page, error_page, nav, page, sentence,
    text,
};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/transfer", post(transfer))
        .route("/conversations/{id}/follow-ups", post(add_follow_up))
        .route("/transfers/{id}/accept", post(accept))
        .route("/transfers/{id}/decline", post(decline))
        .route("/transfers/{id}/cancel", post(cancel))
        .route("/follow-ups", get(my_follow_ups))
        .route("/follow-ups/{id}/done", post(follow_up_done))
}

/// After a change the browser is sent back with a short key; only these texts can be shown, so
/// the address cannot put words on the page.
pub(super) fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "transfer-offered" => text::t("handoff.offered_notice"),
        "transferred" => text::t("handoff.transferred_notice"),
        "transfer-accepted" => text::t("handoff.accepted_notice"),
        "transfer-declined" => text::t("handoff.declined_notice"),
        "transfer-withdrawn" => text::t("handoff.withdrawn_notice"),
        "follow-up-added" => text::t("follow_ups.added"),
        "follow-up-done" => text::t("follow_ups.marked_done"),
        "macro-applied" => text::t("conversation.macro_applied"),
        "email-queued" => text::t("conversation.email_queued"),
        _ => return None,
    })
}

/// A due time for people: absolute and in UTC, like the rest of the screens' times.
fn due_text(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time for a `datetime-local` field, which the forms read as UTC.
fn local_value(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M").to_string()
}

/// A `datetime-local` value (read as UTC) as an instant.
fn parse_local(field: &str, v: &str) -> Result<Option<Timestamp>, Invalid> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| Some(z.timestamp()))
        .ok_or_else(|| Invalid::field(field, text::t("common.must_be_a_date")))
}

fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// What the customer is told when someone takes over, for the receiver called `who`.
fn suggestion(who: &str) -> String {
    text::tf("handoff.suggestion", &[("who", &who)])
}

/// Who takes over when nobody in particular is picked, for the message to the customer.
fn a_colleague() -> &'static str {
    text::t("handoff.a_colleague")
}

fn team_who(name: &str) -> String {
    text::tf("handoff.team_who", &[("name", &name)])
}

// ---- Capsule ------------------------------------------------------------------------------

pub(super) struct PromiseView {
    pub text: String,
    pub due: Option<String>,
    pub due_iso: String,
    pub overdue: bool,
}

pub(super) struct CapsuleView {
    pub customer_wants: String,
    pub tried: String,
    pub next_step: String,
    pub promises: Vec<PromiseView>,
    pub prior: u32,
}

fn capsule_view(c: &Capsule) -> CapsuleView {
    let now = Timestamp::now();
    CapsuleView {
        customer_wants: c.customer_wants.clone(),
        tried: c.tried.clone(),
        next_step: c.next_step.clone(),
        promises: c
            .promises
            .iter()
            .map(|p| PromiseView {
                text: p.text.clone(),
                due: p.due_at.map(due_text),
                due_iso: p.due_at.map(|d| d.to_string()).unwrap_or_default(),
                overdue: p.due_at.is_some_and(|d| d < now),
            })
            .collect(),
        prior: c.prior_conversations,
    }
}

/// The card a `transferred` event shows on the timeline: who passed it to whom, and the capsule.
pub(super) struct HandoffEntry {
    pub from: String,
    pub to: String,
    pub cold: bool,
    pub cap: CapsuleView,
}

pub(super) fn timeline_entry(e: &Event, names: &HashMap<i64, String>) -> Option<HandoffEntry> {
    if e.kind != EventKind::Transferred {
        return None;
    }
    let cap: Capsule = serde_json::from_value(e.data.get("capsule")?.clone()).ok()?;
    let name_of = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_i64())
            .and_then(|id| names.get(&id).cloned())
    };
    Some(HandoffEntry {
        from: name_of(e.data.get("from_user_id"))
            .or_else(|| name_of(e.data.pointer("/from/assignee_id")))
            .unwrap_or_else(|| "Citius".into()),
        to: name_of(e.data.get("assignee_id"))
            .unwrap_or_else(|| text::t("handoff.the_team_queue").into()),
        cold: e.data.get("mode").and_then(|m| m.as_str()) == Some("cold"),
        cap: capsule_view(&cap),
    })
}

// ---- Conversation page: the handoff card, the transfer form and follow-ups -----------------

/// The handoff on top of a conversation: an offer waiting for an answer, or the latest one
/// accepted.
pub(super) struct HandoffCard {
    pub transfer_id: i64,
    pub offered: bool,
    pub from: String,
    pub to: String,
    pub cold: bool,
    pub when: String,
    pub when_iso: String,
    pub expires: String,
    pub expires_iso: String,
    pub message: Option<String>,
    pub cap: CapsuleView,
    /// The viewer is the receiver (or in the receiving team): Accept and Decline.
    pub can_answer: bool,
    /// The viewer sent it (or administers the workspace): Withdraw.
    pub can_withdraw: bool,
}

pub(super) struct FollowUpView {
    pub id: i64,
    pub kind: &'static str,
    pub text: String,
    pub due: Option<String>,
    pub due_iso: String,
    pub overdue: bool,
    pub done: bool,
    /// Where the follow-up belongs (on the list of one's own follow-ups).
    pub conversation_id: i64,
    pub subject: String,
}

fn kind_label(k: FollowUpKind) -> &'static str {
    match k {
        FollowUpKind::Promise => text::t("follow_ups.kind_promise"),
        FollowUpKind::UpdateCustomer => text::t("follow_ups.kind_update"),
    }
}

fn follow_up_view(f: FollowUp, subject: String) -> FollowUpView {
    FollowUpView {
        id: f.id,
        kind: kind_label(f.kind),
        text: f.text,
        due: f.due_at.map(due_text),
        due_iso: f.due_at.map(|d| d.to_string()).unwrap_or_default(),
        overdue: f.overdue,
        done: f.done_at.is_some(),
        conversation_id: f.conversation_id,
        subject,
    }
}

/// Someone to pick in the transfer form.
pub(super) struct Choice {
    pub id: i64,
    pub name: String,
    /// How the customer message names them.
    pub who: String,
    pub selected: bool,
}

pub(super) struct PromiseRow {
    pub text: String,
    pub due: String,
}

/// The transfer form as typed, with what was wrong with it.
pub(super) struct TransferDraft {
    pub to_user_id: Option<i64>,
    pub to_team_id: Option<i64>,
    pub mode: String,
    pub fallback: String,
    pub timeout: String,
    pub customer_wants: String,
    pub tried: String,
    pub next_step: String,
    pub promises: Vec<PromiseRow>,
    /// None: not typed yet, so the suggestion is offered.
    pub message: Option<String>,
    pub prior: u32,
    /// (form field, message); `form` for the form as a whole.
    pub errors: Vec<(&'static str, String)>,
}

impl TransferDraft {
    fn from_capsule(c: Capsule) -> Self {
        TransferDraft {
            to_user_id: None,
            to_team_id: None,
            mode: "warm".into(),
            fallback: "sender".into(),
            timeout: String::new(),
            customer_wants: c.customer_wants,
            tried: c.tried,
            next_step: c.next_step,
            promises: c
                .promises
                .into_iter()
                .map(|p| PromiseRow {
                    text: p.text,
                    due: p.due_at.map(local_value).unwrap_or_default(),
                })
                .collect(),
            message: None,
            prior: c.prior_conversations,
            errors: Vec::new(),
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        let texts = all(f, "promise_text");
        let dues = all(f, "promise_due");
        let promises = texts
            .iter()
            .enumerate()
            .map(|(i, t)| PromiseRow {
                text: (*t).to_string(),
                due: dues.get(i).copied().unwrap_or("").to_string(),
            })
            .filter(|p| !p.text.trim().is_empty() || !p.due.trim().is_empty())
            .collect();
        TransferDraft {
            to_user_id: field(f, "to_user_id").parse().ok(),
            to_team_id: field(f, "to_team_id").parse().ok(),
            mode: field(f, "mode").to_string(),
            fallback: field(f, "fallback").to_string(),
            timeout: field(f, "timeout_secs").to_string(),
            customer_wants: field(f, "customer_wants").to_string(),
            tried: field(f, "tried").to_string(),
            next_step: field(f, "next_step").to_string(),
            promises,
            message: Some(field(f, "message_to_customer").to_string()),
            prior: field(f, "prior_conversations").parse().unwrap_or(0),
            errors: Vec::new(),
        }
    }

    /// The request the form makes; a field the form itself cannot read is an error here.
    fn input(&self, f: &[(String, String)]) -> Result<TransferInput, Invalid> {
        let id = |key: &str| -> Result<Option<i64>, Invalid> {
            match field(f, key).trim() {
                "" => Ok(None),
                v => v
                    .parse()
                    .map(Some)
                    .map_err(|_| Invalid::field(key, text::t("common.not_a_valid_choice"))),
            }
        };
        let timeout_secs = match self.timeout.trim() {
            "" => None,
            v => Some(v.parse().map_err(|_| {
                Invalid::field("timeout_secs", text::t("common.not_a_valid_choice"))
            })?),
        };
        let mut promises = Vec::new();
        for p in &self.promises {
            if p.text.trim().is_empty() {
                return Err(Invalid::field(
                    "capsule.promises.text",
                    text::t("handoff.promise_needs_text"),
                ));
            }
            promises.push(Promise {
                text: p.text.clone(),
                due_at: parse_local("promise_due", &p.due)?,
            });
        }
        Ok(TransferInput {
            to_user_id: id("to_user_id")?,
            to_team_id: id("to_team_id")?,
            mode: Some(match self.mode.as_str() {
                "" => TransferMode::Warm,
                m => TransferMode::parse(m)?,
            }),
            capsule: Some(Capsule {
                customer_wants: self.customer_wants.clone(),
                tried: self.tried.clone(),
                next_step: self.next_step.clone(),
                promises,
                prior_conversations: self.prior,
            }),
            message_to_customer: self.message.clone(),
            fallback: Some(match self.fallback.as_str() {
                "" => Fallback::Sender,
                v => Fallback::parse(v)?,
            }),
            timeout_secs,
        })
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(k, _)| *k == field)
            .map(|(_, m)| m.as_str())
    }

    /// The first field to fix, to put the cursor there.
    pub fn first_error(&self) -> &str {
        self.errors.first().map_or("", |(k, _)| k)
    }

    /// The promises as typed, and always one more empty row to add one.
    pub fn rows(&self) -> Vec<PromiseRow> {
        let mut rows: Vec<PromiseRow> = self
            .promises
            .iter()
            .map(|p| PromiseRow {
                text: p.text.clone(),
                due: p.due.clone(),
            })
            .collect();
        if rows.len() < MAX_PROMISES {
            rows.push(PromiseRow {
                text: String::new(),
                due: String::new(),
            });
        }
        rows
    }
}

/// The form field a use case's error belongs to, and how that field is named to a person.
fn field_of(field: &str) -> (&'static str, &'static str) {
    match field {
        "to_user_id" => ("to_user_id", text::t("handoff.field_agent")),
        "to_team_id" => ("to_team_id", text::t("handoff.field_team")),
        "mode" => ("mode", text::t("handoff.field_mode")),
        "fallback" => ("fallback", text::t("handoff.field_fallback")),
        "timeout_secs" => ("timeout", text::t("handoff.field_timeout")),
        "capsule.customer_wants" => ("customer_wants", text::t("handoff.field_customer_wants")),
        "capsule.tried" => ("tried", text::t("handoff.field_tried")),
        "capsule.next_step" => ("next_step", text::t("handoff.field_next_step")),
        "capsule.promises" | "capsule.promises.text" | "promise_due" => {
            ("promises", text::t("handoff.field_promise"))
        }
        "message_to_customer" => ("message", text::t("handoff.field_message")),
        "transfer" => ("form", text::t("handoff.field_transfer")),
        _ => ("form", ""),
    }
}

fn field_errors(i: &Invalid) -> Vec<(&'static str, String)> {
    i.fields
        .iter()
        .map(|f| {
            let (key, label) = field_of(&f.field);
            // Some messages are whole instructions ("give an agent, a team or both").
            let text = if label.is_empty() || f.message.starts_with("give ") {
                sentence(&f.message)
            } else {
                sentence(&format!("{label} {}", f.message))
            };
            (key, text)
        })
        .collect()
}

pub(super) struct TransferForm {
    pub d: TransferDraft,
    pub users: Vec<Choice>,
    pub teams: Vec<Choice>,
    pub timeouts: Vec<(&'static str, &'static str, bool)>,
    pub message: String,
    /// The message is still a suggestion, so picking someone else may rewrite it.
    pub auto_message: bool,
    /// The suggestion with `{who}` for the receiver's name, for the page script.
    pub suggest: String,
    pub default_who: &'static str,
}

/// How long a warm offer may wait, as (seconds, label); empty is the default.
fn timeout_choices() -> [(&'static str, &'static str); 6] {
    [
        ("60", text::t("handoff.wait_1_minute")),
        ("", text::t("handoff.wait_2_minutes")),
        ("300", text::t("handoff.wait_5_minutes")),
        ("900", text::t("handoff.wait_15_minutes")),
        ("3600", text::t("handoff.wait_1_hour")),
        ("14400", text::t("handoff.wait_4_hours")),
    ]
}

fn transfer_form(
    d: TransferDraft,
    users: &[User],
    teams: &[Team],
    conv: &Conversation,
) -> TransferForm {
    let users: Vec<Choice> = users
        .iter()
        .filter(|u| u.role != Role::Viewer && Some(u.id) != conv.assignee_id)
        .map(|u| Choice {
            id: u.id,
            name: u.name.clone(),
            who: first_name(&u.name).to_string(),
            selected: d.to_user_id == Some(u.id),
        })
        .collect();
    let teams: Vec<Choice> = teams
        .iter()
        .map(|t| Choice {
            id: t.id,
            name: t.name.clone(),
            who: team_who(&t.name),
            selected: d.to_team_id == Some(t.id),
        })
        .collect();
    let who = users
        .iter()
        .find(|u| u.selected)
        .or_else(|| teams.iter().find(|t| t.selected))
        .map_or(a_colleague(), |c| c.who.as_str());
    let (message, auto_message) = match &d.message {
        None => (suggestion(who), true),
        Some(m) => {
            let auto = *m == suggestion(a_colleague())
                || users.iter().chain(&teams).any(|c| *m == suggestion(&c.who));
            (m.clone(), auto)
        }
    };
    let timeouts = timeout_choices()
        .iter()
        .map(|(v, l)| (*v, *l, *v == d.timeout.trim()))
        .collect();
    TransferForm {
        d,
        users,
        teams,
        timeouts,
        message,
        auto_message,
        suggest: suggestion("{who}"),
        default_who: a_colleague(),
    }
}

/// The add-a-follow-up form as typed.
#[derive(Default)]
pub(super) struct FollowUpDraft {
    pub kind: String,
    pub text: String,
    pub due: String,
    pub error: Option<String>,
}

pub(super) struct Panel {
    pub card: Option<HandoffCard>,
    pub follow_ups: Vec<FollowUpView>,
    pub transfer: Option<TransferForm>,
    /// An offer waits for an answer, so no other transfer can start.
    pub waiting: bool,
    pub can_work: bool,
    pub fu: FollowUpDraft,
}

impl Panel {
    pub fn transfer_open(&self) -> bool {
        self.transfer
            .as_ref()
            .is_some_and(|t| !t.d.errors.is_empty())
    }
}

/// The receiver of a transfer, for people: the agent, the team, or both.
fn receiver(t: &Transfer, names: &HashMap<i64, String>, teams: &[Team]) -> String {
    let user = t.to_user_id.and_then(|u| names.get(&u).cloned());
    let team = t
        .to_team_id
        .and_then(|id| teams.iter().find(|x| x.id == id))
        .map(|x| text::tf("handoff.the_team", &[("name", &x.name)]));
    match (user, team) {
        (Some(u), Some(t)) => format!("{u} ({t})"),
        (Some(u), None) => u,
        (None, Some(t)) => t,
        (None, None) => text::t("handoff.someone").into(),
    }
}

/// Whether `a` is the one an offer waits for: the agent named, or any member of the team named
/// when no agent is.
fn addressed_to(t: &Transfer, a: &Actor, teams: &[Team]) -> bool {
    match t.to_user_id {
        Some(u) => u == a.user_id,
        None => t.to_team_id.is_some_and(|id| {
            teams
                .iter()
                .any(|x| x.id == id && x.member_ids.contains(&a.user_id))
        }),
    }
}

pub(super) async fn panel(
    s: &AppState,
    a: &Actor,
    conv: &Conversation,
    users: &[User],
    teams: &[Team],
    draft: Option<TransferDraft>,
    fu: Option<FollowUpDraft>,
) -> Result<Panel, AppError> {
    let names: HashMap<i64, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let transfers = s.app.transfers(a, conv.id).await?;
    let follow_ups = s.app.follow_ups(a, conv.id).await?;
    let open = transfers
        .iter()
        .filter(|t| t.state == TransferState::Offered)
        .max_by_key(|t| t.id);
    let shown = open.or_else(|| {
        transfers
            .iter()
            .filter(|t| t.state == TransferState::Accepted)
            .max_by_key(|t| t.id)
    });
    let can_work = a.role.allows(Permission::Work);
    let card = shown.map(|t| {
        let offered = t.state == TransferState::Offered;
        HandoffCard {
            transfer_id: t.id,
            offered,
            from: t
                .from_user_id
                .and_then(|u| names.get(&u).cloned())
                .unwrap_or_else(|| "Citius".into()),
            to: receiver(t, &names, teams),
            cold: t.mode == TransferMode::Cold,
            when: ago(t.decided_at.filter(|_| !offered).unwrap_or(t.created_at)),
            when_iso: t.created_at.to_string(),
            expires: t.expires_at.map(due_text).unwrap_or_default(),
            expires_iso: t.expires_at.map(|e| e.to_string()).unwrap_or_default(),
            message: t.message_to_customer.clone(),
            cap: capsule_view(&t.capsule),
            can_answer: offered && can_work && addressed_to(t, a, teams),
            can_withdraw: offered
                && (t.from_user_id == Some(a.user_id) || a.role.allows(Permission::Administer)),
        }
    });
    let transfer = match (can_work, open, draft) {
        (false, _, _) => None,
        (true, _, Some(d)) => Some(transfer_form(d, users, teams, conv)),
        (true, Some(_), None) => None,
        (true, None, None) => {
            let draft = TransferDraft::from_capsule(s.app.capsule_draft(a, conv.id).await?);
            Some(transfer_form(draft, users, teams, conv))
        }
    };
    Ok(Panel {
        card,
        follow_ups: follow_ups
            .into_iter()
            .map(|f| follow_up_view(f, String::new()))
            .collect(),
        transfer,
        waiting: open.is_some(),
        can_work,
        fu: fu.unwrap_or_else(|| FollowUpDraft {
            kind: "promise".into(),
            ..FollowUpDraft::default()
        }),
    })
}

// ---- Form posts ---------------------------------------------------------------------------

fn field<'a>(f: &'a [(String, String)], key: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

fn all<'a>(f: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

async fn transfer(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, field(&f, "_csrf")) {
        return *r;
    }
    let mut draft = TransferDraft::from_form(&f);
    let result = match draft.input(&f) {
        Ok(input) => s.app.transfer(&caller.actor, id, input).await,
        Err(e) => Err(e.into()),
    };
    let status = match result {
        Ok(t) if t.state == TransferState::Offered => {
            return see_other(&format!(
                "/conversations/{id}?notice=transfer-offered#handoff"
            ));
        }
        Ok(_) => return see_other(&format!("/conversations/{id}?notice=transferred")),
        Err(AppError::Invalid(i)) => {
            draft.errors = field_errors(&i);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AppError::Conflict(m)) => {
            draft.errors = vec![("form", sentence(&m))];
            StatusCode::CONFLICT
        }
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let extras = Extras {
        transfer: Some(draft),
        ..Extras::default()
    };
    conversation_page(&s, &caller, id, extras, status).await
}

/// Shows why answering an offer did not work on the conversation itself, when the person can
/// do something about it (it was answered already, or it expired).
async fn answer_failed(
    s: &AppState,
    caller: &Caller,
    conversation_id: i64,
    e: AppError,
) -> Response {
    let (status, message) = match &e {
        AppError::Conflict(m) => (StatusCode::CONFLICT, sentence(m)),
        AppError::Invalid(i) => (
            StatusCode::CONFLICT,
            field_errors(i)
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => return error_page(s, caller, e).await,
    };
    let extras = Extras {
        error: Some(message),
        ..Extras::default()
    };
    conversation_page(s, caller, conversation_id, extras, status).await
}

async fn accept(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let a = &caller.actor;
    let t = match s.app.transfer_by_id(a, id).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    match s.app.accept_transfer(a, id).await {
        Ok(t) => see_other(&format!(
            "/conversations/{}?notice=transfer-accepted",
            t.conversation_id
        )),
        Err(e) => answer_failed(&s, &caller, t.conversation_id, e).await,
    }
}

#[derive(Deserialize)]
struct DeclineForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn decline(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<DeclineForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let a = &caller.actor;
    let t = match s.app.transfer_by_id(a, id).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let input = DeclineInput {
        reason: Some(f.reason),
    };
    match s.app.decline_transfer(a, id, input).await {
        Ok(t) => see_other(&format!(
            "/conversations/{}?notice=transfer-declined",
            t.conversation_id
        )),
        Err(e) => answer_failed(&s, &caller, t.conversation_id, e).await,
    }
}

async fn cancel(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let a = &caller.actor;
    let t = match s.app.transfer_by_id(a, id).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    match s.app.cancel_transfer(a, id).await {
        Ok(t) => see_other(&format!(
            "/conversations/{}?notice=transfer-withdrawn",
            t.conversation_id
        )),
        Err(e) => answer_failed(&s, &caller, t.conversation_id, e).await,
    }
}

#[derive(Deserialize)]
struct FollowUpForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    due: String,
}

async fn add_follow_up(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<FollowUpForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let result = async {
        let input = FollowUpInput {
            kind: FollowUpKind::parse(&f.kind)?,
            text: f.text.clone(),
            due_at: parse_local("due", &f.due)?.map(|t| t.to_string()),
        };
        s.app.add_follow_up(&caller.actor, id, input).await
    }
    .await;
    let message = match result {
        Ok(_) => return see_other(&format!("/conversations/{id}?notice=follow-up-added")),
        Err(AppError::Invalid(i)) => i
            .fields
            .iter()
            .map(|x| {
                let label = match x.field.as_str() {
                    "text" => text::t("follow_ups.what_is_owed"),
                    "due" | "due_at" => text::t("follow_ups.field_due"),
                    _ => text::t("follow_ups.field_kind"),
                };
                sentence(&format!("{label} {}", x.message))
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let extras = Extras {
        follow_up: Some(FollowUpDraft {
            kind: f.kind,
            text: f.text,
            due: f.due,
            error: Some(message),
        }),
        ..Extras::default()
    };
    conversation_page(&s, &caller, id, extras, StatusCode::UNPROCESSABLE_ENTITY).await
}

#[derive(Deserialize)]
struct DoneForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    /// `list`: back to one's own follow-ups rather than the conversation.
    #[serde(default)]
    back: String,
}

async fn follow_up_done(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<DoneForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    match s.app.complete_follow_up(&caller.actor, id).await {
        Ok(_) if f.back == "list" => see_other("/follow-ups?notice=follow-up-done"),
        Ok(done) => see_other(&format!(
            "/conversations/{}?notice=follow-up-done",
            done.conversation_id
        )),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

// ---- Inbox strip and one's own follow-ups ------------------------------------------------

pub(super) struct OfferRow {
    pub id: i64,
    pub conversation_id: i64,
    pub subject: String,
    pub from: String,
    /// Offered to a team of the agent rather than to them by name.
    pub to_team: bool,
    pub when: String,
    pub when_iso: String,
}

/// What the inbox shows above the list: offers waiting for the agent and how many of their
/// follow-ups are overdue. Best effort: the inbox works without it.
#[derive(Default)]
pub(super) struct InboxStrip {
    pub offers: Vec<OfferRow>,
    pub overdue: usize,
}

pub(super) async fn inbox_strip(
    s: &AppState,
    a: &Actor,
    names: &HashMap<i64, String>,
) -> InboxStrip {
    let offers = s.app.my_offers(a).await.unwrap_or_default();
    let subjects = if offers.is_empty() {
        HashMap::new()
    } else {
        let ids: Vec<i64> = offers.iter().map(|t| t.conversation_id).collect();
        s.app.subjects_of(a, &ids).await.unwrap_or_default()
    };
    let overdue = s
        .app
        .my_follow_ups(a)
        .await
        .map(|l| l.iter().filter(|f| f.overdue).count())
        .unwrap_or(0);
    InboxStrip {
        offers: offers
            .into_iter()
            .map(|t| OfferRow {
                id: t.id,
                conversation_id: t.conversation_id,
                subject: subjects
                    .get(&t.conversation_id)
                    .cloned()
                    .unwrap_or_else(|| {
                        text::tf("common.conversation_n", &[("id", &t.conversation_id)])
                    }),
                from: t
                    .from_user_id
                    .and_then(|u| names.get(&u).cloned())
                    .unwrap_or_else(|| "Citius".into()),
                to_team: t.to_user_id.is_none() && t.to_team_id.is_some(),
                when: ago(t.created_at),
                when_iso: t.created_at.to_string(),
            })
            .collect(),
        overdue,
    }
}

#[derive(Template)]
#[template(path = "follow_ups.html")]
struct FollowUpsPage {
    nav: Nav,
    rows: Vec<FollowUpView>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct NoticeParams {
    notice: Option<String>,
}

async fn my_follow_ups(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<NoticeParams>,
) -> Response {
    let a = &caller.actor;
    let loaded = async {
        let list = s.app.my_follow_ups(a).await?;
        let ids: Vec<i64> = list.iter().map(|f| f.conversation_id).collect();
        let subjects = s.app.subjects_of(a, &ids).await?;
        Ok::<_, AppError>((list, subjects))
    }
    .await;
    match loaded {
        Ok((list, subjects)) => page(FollowUpsPage {
            nav: nav(&s, &caller, "inbox", "").await,
            rows: list
                .into_iter()
                .map(|f| {
                    let subject = subjects
                        .get(&f.conversation_id)
                        .cloned()
                        .unwrap_or_else(|| {
                            text::tf("common.conversation_n", &[("id", &f.conversation_id)])
                        });
                    follow_up_view(f, subject)
                })
                .collect(),
            notice: notice(p.notice.as_deref()),
        }),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn a_typed_form_becomes_a_transfer_and_keeps_every_field() {
        let f = form(&[
            ("_csrf", "t"),
            ("to_user_id", "4"),
            ("to_team_id", ""),
            ("mode", "warm"),
            ("fallback", "queue"),
            ("timeout_secs", "300"),
            ("customer_wants", "A refund"),
            ("tried", "Checked the card"),
            ("next_step", ""),
            ("promise_text", "Call back"),
            ("promise_due", "2030-01-02T09:30"),
            ("promise_text", ""),
            ("promise_due", ""),
            ("message_to_customer", "Maya takes over."),
            ("prior_conversations", "2"),
        ]);
        let d = TransferDraft::from_form(&f);
        assert_eq!(d.promises.len(), 1, "empty rows are dropped");
        assert_eq!(d.rows().len(), 2, "one empty row to add another");
        let input = d.input(&f).expect("the form reads");
        assert_eq!(input.to_user_id, Some(4));
        assert_eq!(input.to_team_id, None);
        assert_eq!(input.fallback, Some(Fallback::Queue));
        assert_eq!(input.timeout_secs, Some(300));
        let cap = input.capsule.expect("a capsule");
        assert_eq!(cap.next_step, "");
        assert_eq!(cap.prior_conversations, 2);
        assert_eq!(
            cap.promises[0].due_at.map(|t| t.to_string()).as_deref(),
            Some("2030-01-02T09:30:00Z")
        );
    }

    #[test]
    fn a_due_time_without_a_promise_is_refused() {
        let f = form(&[("promise_text", " "), ("promise_due", "2030-01-02T09:30")]);
        let d = TransferDraft::from_form(&f);
        let e = d.input(&f).err().map(|e| field_errors(&e));
        assert_eq!(
            e,
            Some(vec![(
                "promises",
                "A promise needs a text when it has a due time.".to_string()
            )])
        );
    }

    #[test]
    fn errors_are_named_for_people_and_placed_at_their_field() {
        let e = Invalid::field("capsule.next_step", "must not be empty");
        assert_eq!(
            field_errors(&e),
            vec![("next_step", "Next step must not be empty.".to_string())]
        );
        let e = Invalid::field("to_user_id", "give an agent, a team or both");
        assert_eq!(
            field_errors(&e),
            vec![("to_user_id", "Give an agent, a team or both.".to_string())]
        );
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert!(notice(Some("transfer-offered")).is_some());
        assert_eq!(notice(Some("<img src=x>")), None);
        assert_eq!(notice(None), None);
    }

    #[test]
    fn local_times_read_as_utc() {
        assert_eq!(parse_local("due", " "), Ok(None));
        assert!(parse_local("due", "tomorrow").is_err());
        let t = parse_local("due", "2030-05-06T07:08").ok().flatten();
        assert_eq!(t.map(local_value).as_deref(), Some("2030-05-06T07:08"));
    }
}
