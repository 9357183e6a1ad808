//! The routing screens: everyone's presence and load (the agents page, and one's own status in
//! the top bar), and the settings that decide which agents get each inbox's conversations. The
//! conversation page shows where a waiting conversation stands in the queue.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::routing::{
    AgentStatus, PresenceInput, QueueInfo, RoutingPolicy, RoutingPolicyInput, ScheduleInput,
};
use citius_app::{Actor, AppError, require};
use citius_domain::Invalid;
use citius_domain::conversation::{Channel, Status};
use citius_domain::records::Conversation;
use citius_domain::role::Permission;
use citius_domain::routing::{
    Condition, MAX_CAPACITY, MAX_SKILL_RULES, Presence, SkillRule, Strategy,
};
use jiff::Timestamp;
use serde::Deserialize;

use super::form_value as field;
use super::settings::{confirmed, see_other};
use super::{Nav, ago, check_csrf, csv, error_page, nav, page, sentence, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/presence", post(set_presence))
        .route("/agents", get(agents))
        .route("/agents/me", post(save_mine))
        .route("/agents/{id}/schedule", post(save_schedule))
        .route("/settings/routing", get(policies))
        .route(
            "/settings/routing/{inbox_id}",
            get(policy).post(save_policy),
        )
        .route(
            "/settings/routing/{inbox_id}/stop",
            get(stop_confirm).post(stop),
        )
}

// ---- Shared ---------------------------------------------------------------------------------

fn presence_label(p: Presence) -> &'static str {
    match p {
        Presence::Online => text::t("presence.online"),
        Presence::Away => text::t("presence.away"),
        Presence::Busy => text::t("presence.busy"),
        Presence::Offline => text::t("presence.offline"),
    }
}

fn presence_about(p: Presence) -> &'static str {
    match p {
        Presence::Online => text::t("presence.online_about"),
        Presence::Away => text::t("presence.away_about"),
        Presence::Busy => text::t("presence.busy_about"),
        Presence::Offline => text::t("presence.offline_about"),
    }
}

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Chat => text::t("common.chat"),
        Channel::Email => text::t("common.email"),
        Channel::Sms => text::t("common.sms"),
        Channel::Whatsapp => text::t("common.whatsapp"),
        Channel::Voice => text::t("common.voice"),
        Channel::Api => text::t("common.api"),
    }
}

/// Channels in the order the screens list them: live ones first.
const CHANNELS: [Channel; 6] = [
    Channel::Chat,
    Channel::Email,
    Channel::Sms,
    Channel::Whatsapp,
    Channel::Voice,
    Channel::Api,
];

fn strategy_label(s: Strategy) -> &'static str {
    match s {
        Strategy::LeastLoaded => text::t("settings_routing.strategy_least_loaded"),
        Strategy::RoundRobin => text::t("settings_routing.strategy_round_robin"),
        Strategy::Skills => text::t("settings_routing.strategy_skills"),
    }
}

fn strategy_about(s: Strategy) -> &'static str {
    match s {
        Strategy::LeastLoaded => text::t("settings_routing.about_least_loaded"),
        Strategy::RoundRobin => text::t("settings_routing.about_round_robin"),
        Strategy::Skills => text::t("settings_routing.about_skills"),
    }
}

const STRATEGIES: [Strategy; 3] = [
    Strategy::LeastLoaded,
    Strategy::RoundRobin,
    Strategy::Skills,
];

/// Languages the detector knows, as offered in the rule hint: (code, name).
fn languages() -> [(&'static str, &'static str); 7] {
    [
        ("en", text::t("settings_routing.language_en")),
        ("es", text::t("settings_routing.language_es")),
        ("fr", text::t("settings_routing.language_fr")),
        ("de", text::t("settings_routing.language_de")),
        ("pt", text::t("settings_routing.language_pt")),
        ("it", text::t("settings_routing.language_it")),
        ("nl", text::t("settings_routing.language_nl")),
    ]
}

fn language_name(code: &str) -> Option<&'static str> {
    languages()
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| *n)
}

/// After a change the browser is sent back with a short key; only these texts can be shown.
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "routing-saved" => text::t("settings_routing.saved"),
        "routing-stopped" => text::t("settings_routing.stopped"),
        "status-saved" => text::t("agents.status_saved"),
        "schedule-saved" => text::t("agents.schedule_saved"),
        _ => return None,
    })
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

/// A wait or delay for people: seconds, minutes or hours, whichever reads whole.
fn duration_words(secs: i64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => text::tf("common.duration_hours", &[("n", &(s / 3600))]),
        s if s % 60 == 0 => text::tf("common.duration_minutes", &[("n", &(s / 60))]),
        s => text::tf("common.duration_seconds", &[("n", &s)]),
    }
}

/// Seconds as the minutes the form shows: whole when possible, else up to two decimals.
fn minutes_value(secs: i64) -> String {
    if secs % 60 == 0 {
        return (secs / 60).to_string();
    }
    let text = format!("{:.2}", secs as f64 / 60.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

// ---- Top bar --------------------------------------------------------------------------------

/// The signed-in member's presence in the top bar, and the choices to change it.
pub(super) struct TopPresence {
    pub now: Presence,
}

pub(super) struct PresenceChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub about: &'static str,
    pub current: bool,
}

impl TopPresence {
    pub fn value(&self) -> &'static str {
        self.now.as_str()
    }

    pub fn label(&self) -> &'static str {
        presence_label(self.now)
    }

    pub fn online(&self) -> bool {
        self.now == Presence::Online
    }

    pub fn choices(&self) -> Vec<PresenceChoice> {
        Presence::ALL
            .iter()
            .map(|p| PresenceChoice {
                value: p.as_str(),
                label: presence_label(*p),
                about: presence_about(*p),
                current: *p == self.now,
            })
            .collect()
    }
}

/// Only members who work conversations have a presence; one read by key when they do.
pub(super) async fn top_presence(s: &AppState, actor: &Actor) -> Option<TopPresence> {
    if !actor.role.allows(Permission::Work) {
        return None;
    }
    s.app
        .my_presence(actor)
        .await
        .ok()
        .map(|now| TopPresence { now })
}

#[derive(Deserialize)]
struct PresenceForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    presence: String,
    #[serde(default)]
    back: String,
}

/// A same-site path to go back to, or nothing: an absolute address, one starting with `//` or
/// a backslash (which browsers read as another host), or anything not plain ASCII is refused.
fn safe_path(v: &str) -> Option<&str> {
    let ok = v.starts_with('/')
        && !v.starts_with("//")
        && v.len() <= 2000
        && v.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    ok.then_some(v)
}

/// The path of a same-origin Referer, as a fallback when the page script did not say where
/// the form was.
fn referer_path(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let (h, path) = rest.split_at(rest.find('/')?);
    if h != host {
        return None;
    }
    let path = path.split('#').next().unwrap_or(path);
    safe_path(path).map(str::to_string)
}

/// Where to land after changing one's presence: the page one was on, without the notice of
/// an earlier change. Pages shown after a form was sent carry that form's address, which only
/// answers posts; those lead to the page the form belongs to instead.
fn landing(path: &str) -> String {
    let Some(path) = safe_path(path) else {
        return "/inbox".into();
    };
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("notice="))
        .collect();
    let path = &if query.is_empty() {
        bare.to_string()
    } else {
        format!("{bare}?{}", query.join("&"))
    };
    let segments: Vec<&str> = bare.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["conversations" | "customers", id, _, ..] => format!("/{}/{id}", segments[0]),
        ["transfers", ..] | ["follow-ups", _, ..] | ["workspace", ..] => "/inbox".into(),
        ["logout" | "presence"] => "/inbox".into(),
        ["agents", _, ..] => "/agents".into(),
        ["settings", "teams" | "routing", _] => path.into(),
        ["settings", _, _, "delete" | "remove" | "stop"] => path.into(),
        ["settings", section, _, ..] => format!("/settings/{section}"),
        _ => path.into(),
    }
}

async fn set_presence(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    headers: HeaderMap,
    Form(f): Form<PresenceForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let result = async {
        let input = PresenceInput {
            presence: Presence::parse(&f.presence)?,
            capacity: None,
        };
        s.app.set_presence(&caller.actor, input).await
    }
    .await;
    match result {
        Ok(_) => {
            let back = match safe_path(&f.back) {
                Some(p) => p.to_string(),
                None => referer_path(&headers).unwrap_or_default(),
            };
            see_other(&landing(&back))
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

// ---- Agents ---------------------------------------------------------------------------------

struct LoadCell {
    label: &'static str,
    load: u32,
    capacity: u32,
    full: bool,
}

struct AgentRow {
    user_id: i64,
    name: String,
    /// Within working hours (always, without a schedule).
    on_shift: bool,
    schedule_calendar_id: Option<i64>,
    you: bool,
    presence: &'static str,
    presence_label: &'static str,
    cells: Vec<LoadCell>,
    last_seen: Option<(String, String)>,
}

impl AgentRow {
    fn scheduled(&self, calendar_id: &i64) -> bool {
        self.schedule_calendar_id == Some(*calendar_id)
    }
}

struct CapacityField {
    channel: &'static str,
    label: &'static str,
    value: String,
    error: Option<String>,
}

/// The form for one's own status and capacity: as stored, or as sent with what was wrong.
struct MineDraft {
    presence: String,
    fields: Vec<CapacityField>,
    error: Option<String>,
}

impl MineDraft {
    fn of(a: &AgentStatus) -> Self {
        MineDraft {
            presence: a.presence.as_str().into(),
            fields: CHANNELS
                .iter()
                .map(|c| CapacityField {
                    channel: c.as_str(),
                    label: channel_label(*c),
                    value: a.capacity.of(*c).to_string(),
                    error: None,
                })
                .collect(),
            error: None,
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        MineDraft {
            presence: field(f, "presence").to_string(),
            fields: CHANNELS
                .iter()
                .map(|c| CapacityField {
                    channel: c.as_str(),
                    label: channel_label(*c),
                    value: field(f, &format!("cap_{}", c.as_str())).trim().to_string(),
                    error: None,
                })
                .collect(),
            error: None,
        }
    }

    /// The request the form makes. Every channel is checked, so all mistakes show at once.
    fn input(&self) -> Result<PresenceInput, Invalid> {
        let mut problems = Vec::new();
        let presence = Presence::parse(&self.presence).map_err(|e| problems.extend(e.fields));
        let mut capacity = serde_json::Map::new();
        for f in &self.fields {
            match f.value.parse::<u32>() {
                Ok(n) => {
                    capacity.insert(f.channel.to_string(), n.into());
                }
                Err(_) => problems.push(citius_domain::InvalidField {
                    field: format!("capacity.{}", f.channel),
                    message: text::tf("agents.capacity_range", &[("max", &MAX_CAPACITY)]),
                }),
            }
        }
        match presence {
            Ok(presence) if problems.is_empty() => Ok(PresenceInput {
                presence,
                capacity: Some(capacity.into()),
            }),
            _ => Err(Invalid { fields: problems }),
        }
    }

    /// The channel whose field to fix first, to put the cursor there.
    pub fn focus(&self) -> &str {
        self.fields
            .iter()
            .find(|f| f.error.is_some())
            .map_or("", |f| f.channel)
    }

    /// Places a refusal beside the fields it is about.
    fn refused(&mut self, i: &Invalid) {
        let mut general = Vec::new();
        for p in &i.fields {
            let channel = p.field.strip_prefix("capacity.");
            match self.fields.iter_mut().find(|f| Some(f.channel) == channel) {
                Some(f) => {
                    f.error = Some(sentence(&text::tf(
                        "agents.capacity_error",
                        &[("channel", &f.label), ("message", &p.message)],
                    )))
                }
                None if p.field == "presence" => general.push(sentence(&text::tf(
                    "agents.status_error",
                    &[("message", &p.message)],
                ))),
                None => general.push(sentence(&p.message)),
            }
        }
        self.error = Some(if general.is_empty() {
            text::t("agents.nothing_saved").into()
        } else {
            general.join(" ")
        });
    }
}

#[derive(Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    nav: Nav,
    rows: Vec<AgentRow>,
    online: usize,
    mine: Option<MineDraft>,
    presences: Vec<(&'static str, &'static str)>,
    channels: Vec<&'static str>,
    max_capacity: u32,
    notice: Option<&'static str>,
    /// Administrators set working hours, from these calendars.
    admin: bool,
    calendars: Vec<(i64, String)>,
}

impl AgentsPage {
    fn calendar_name(&self, id: &i64) -> &str {
        self.calendars
            .iter()
            .find(|(c, _)| c == id)
            .map_or(text::t("agents.deleted_calendar"), |(_, n)| n.as_str())
    }
}

fn agent_row(a: AgentStatus, me: i64) -> AgentRow {
    AgentRow {
        user_id: a.user_id,
        on_shift: a.on_shift,
        schedule_calendar_id: a.schedule_calendar_id,
        you: a.user_id == me,
        presence: a.presence.as_str(),
        presence_label: presence_label(a.presence),
        cells: CHANNELS
            .iter()
            .map(|c| {
                let load = a.load.get(c.as_str()).copied().unwrap_or(0);
                let capacity = a.capacity.of(*c);
                LoadCell {
                    label: channel_label(*c),
                    load,
                    capacity,
                    full: load >= capacity,
                }
            })
            .collect(),
        last_seen: a.last_seen_at.map(|t| (ago(t), t.to_string())),
        name: a.name,
    }
}

async fn agents_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: Option<MineDraft>,
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    let list = match s.app.agents(a).await {
        Ok(l) => l,
        Err(e) => return error_page(s, caller, e).await,
    };
    let works = a.role.allows(Permission::Work);
    let mine = match draft {
        Some(d) => Some(d),
        None if works => list
            .iter()
            .find(|x| x.user_id == a.user_id)
            .map(MineDraft::of),
        None => None,
    };
    let calendars = match s.app.calendars(a).await {
        Ok(l) => l.into_iter().map(|c| (c.id, c.calendar.name)).collect(),
        Err(e) => return error_page(s, caller, e).await,
    };
    let res = page(AgentsPage {
        admin: a.role.allows(Permission::Administer),
        calendars,
        nav: nav(s, caller, "agents", "").await,
        online: list
            .iter()
            .filter(|x| x.presence == Presence::Online)
            .count(),
        rows: list.into_iter().map(|x| agent_row(x, a.user_id)).collect(),
        mine,
        presences: Presence::ALL
            .iter()
            .map(|p| (p.as_str(), presence_label(*p)))
            .collect(),
        channels: CHANNELS.iter().map(|c| channel_label(*c)).collect(),
        max_capacity: MAX_CAPACITY,
        notice,
    });
    with_status(res, status)
}

#[derive(Deserialize, Default)]
struct ListParams {
    format: Option<String>,
    notice: Option<String>,
}

impl ListParams {
    fn csv(&self) -> bool {
        self.format.as_deref() == Some("csv")
    }
}

fn agents_csv(list: Vec<AgentStatus>) -> Response {
    let mut header = vec!["name", "presence"];
    for c in CHANNELS {
        header.push(match c {
            Channel::Chat => "chat_open",
            Channel::Email => "email_open",
            Channel::Sms => "sms_open",
            Channel::Whatsapp => "whatsapp_open",
            Channel::Voice => "voice_open",
            Channel::Api => "api_open",
        });
        header.push(match c {
            Channel::Chat => "chat_capacity",
            Channel::Email => "email_capacity",
            Channel::Sms => "sms_capacity",
            Channel::Whatsapp => "whatsapp_capacity",
            Channel::Voice => "voice_capacity",
            Channel::Api => "api_capacity",
        });
    }
    header.push("last_seen");
    header.push("on_shift");
    let iso = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
    csv::download(
        "agents.csv",
        &header,
        list.into_iter().map(|a| {
            let mut row = vec![a.name.clone(), a.presence.as_str().to_string()];
            for c in CHANNELS {
                row.push(a.load.get(c.as_str()).copied().unwrap_or(0).to_string());
                row.push(a.capacity.of(c).to_string());
            }
            row.push(iso(a.last_seen_at));
            row.push(a.on_shift.to_string());
            row
        }),
    )
}

async fn agents(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.csv() {
        return match s.app.agents(&caller.actor).await {
            Ok(list) => agents_csv(list),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let n = notice(p.notice.as_deref());
    agents_view(&s, &caller, n, None, StatusCode::OK).await
}

/// Saves the caller's own status and capacity (the use case sets only the caller's).
async fn save_mine(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, field(&f, "_csrf")) {
        return *r;
    }
    let mut draft = MineDraft::from_form(&f);
    let result = async {
        require(&caller.actor, Permission::Work)?;
        let input = draft.input()?;
        s.app.set_presence(&caller.actor, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/agents?notice=status-saved"),
        Err(AppError::Invalid(i)) => {
            draft.refused(&i);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            agents_view(&s, &caller, None, Some(draft), status).await
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

/// Sets an agent's working hours (administrators only; the use case checks).
async fn save_schedule(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(user_id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, field(&f, "_csrf")) {
        return *r;
    }
    let calendar_id = match field(&f, "calendar_id") {
        "" => None,
        v => match v.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let e = Invalid::field("calendar_id", text::t("agents.choose_calendar"));
                return error_page(&s, &caller, e.into()).await;
            }
        },
    };
    match s
        .app
        .set_schedule(&caller.actor, user_id, ScheduleInput { calendar_id })
        .await
    {
        Ok(_) => see_other("/agents?notice=schedule-saved"),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

// ---- Conversation page: the queue ----------------------------------------------------------

/// "Waiting in queue: position 2 of 5, about 4 min" for a conversation waiting in a routed
/// inbox; nothing otherwise.
fn queue_words(q: &QueueInfo) -> Option<String> {
    let position = q.position?;
    let head = text::tf(
        "conversation.queue_position",
        &[("position", &position), ("total", &q.waiting)],
    );
    Some(match q.estimated_wait_secs {
        _ if q.agents_online == 0 => text::tf("conversation.queue_no_agent", &[("head", &head)]),
        Some(0) => text::tf("conversation.queue_under_a_minute", &[("head", &head)]),
        Some(secs) if secs < 90 * 60 => text::tf(
            "conversation.queue_minutes",
            &[("head", &head), ("n", &secs.div_ceil(60))],
        ),
        Some(secs) => text::tf(
            "conversation.queue_hours",
            &[("head", &head), ("n", &((secs + 1800) / 3600))],
        ),
        None => format!("{head}."),
    })
}

/// The queue line of a conversation, asked only when it may be waiting: open, unassigned and
/// in an inbox.
pub(super) async fn queue_line(s: &AppState, actor: &Actor, c: &Conversation) -> Option<String> {
    if c.assignee_id.is_some() || c.inbox_id.is_none() || c.status != Status::Open {
        return None;
    }
    match s.app.queue_info(actor, c.id).await {
        Ok(q) => queue_words(&q),
        Err(e) => {
            tracing::warn!(error = %e, "queue position unavailable");
            None
        }
    }
}

// ---- Settings: routing ----------------------------------------------------------------------

fn condition_words(c: &Condition) -> String {
    match c {
        Condition::Language(code) => match language_name(code) {
            Some(name) => text::tf(
                "settings_routing.when_language_named",
                &[("code", &code), ("name", &name)],
            ),
            None => text::tf("settings_routing.when_language", &[("code", &code)]),
        },
        Condition::Tag(t) => text::tf("settings_routing.when_tag", &[("tag", &t)]),
        Condition::Tier(t) => text::tf("settings_routing.when_tier", &[("tier", &t)]),
        Condition::Channel(c) => {
            text::tf("settings_routing.when_channel", &[("channel", &c.as_str())])
        }
    }
}

/// A rule in words, e.g. "Needs German (level 2+) when the language is de (German)".
fn rule_words(r: &SkillRule, skills: &HashMap<i64, String>) -> String {
    let skill = skills
        .get(&r.skill_id)
        .cloned()
        .unwrap_or_else(|| text::tf("settings_routing.skill_n", &[("id", &r.skill_id)]));
    text::tf(
        "settings_routing.rule_words",
        &[
            ("skill", &skill),
            ("level", &r.min_level),
            ("condition", &condition_words(&r.when)),
        ],
    )
}

fn team_name(id: i64, teams: &HashMap<i64, String>) -> String {
    teams
        .get(&id)
        .cloned()
        .unwrap_or_else(|| text::tf("settings_routing.team_n", &[("id", &id)]))
}

fn overflow_words(p: &RoutingPolicy, teams: &HashMap<i64, String>) -> Option<String> {
    let (team, after) = (p.overflow_team_id?, p.overflow_after_secs?);
    Some(text::tf(
        "settings_routing.overflow_words",
        &[
            ("team", &team_name(team, teams)),
            ("time", &duration_words(after)),
        ],
    ))
}

struct PolicyRow {
    inbox_id: i64,
    inbox: String,
    channel: &'static str,
    /// Strategy label; `None` when the inbox does not route.
    strategy: Option<&'static str>,
    team: String,
    rules: Vec<String>,
    overflow: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/routing.html")]
struct PoliciesPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<PolicyRow>,
    routed: usize,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// What every routing screen reads, by id.
struct Directory {
    inboxes: Vec<citius_domain::records::Inbox>,
    policies: HashMap<i64, RoutingPolicy>,
    teams: Vec<(i64, String)>,
    skills: Vec<(i64, String)>,
}

impl Directory {
    fn team_names(&self) -> HashMap<i64, String> {
        self.teams.iter().cloned().collect()
    }

    fn skill_names(&self) -> HashMap<i64, String> {
        self.skills.iter().cloned().collect()
    }
}

async fn directory(s: &AppState, a: &Actor) -> Result<Directory, AppError> {
    require(a, Permission::Administer)?;
    Ok(Directory {
        inboxes: s.app.inboxes(a).await?,
        policies: s
            .app
            .routing_policies(a)
            .await?
            .into_iter()
            .map(|p| (p.inbox_id, p))
            .collect(),
        teams: s
            .app
            .teams(a)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect(),
        skills: s
            .app
            .skills(a)
            .await?
            .into_iter()
            .map(|k| (k.id, k.name))
            .collect(),
    })
}

fn policy_rows(d: &Directory) -> Vec<PolicyRow> {
    let (teams, skills) = (d.team_names(), d.skill_names());
    d.inboxes
        .iter()
        .map(|i| {
            let p = d.policies.get(&i.id);
            PolicyRow {
                inbox_id: i.id,
                inbox: i.name.clone(),
                channel: i.channel.as_str(),
                strategy: p.map(|p| strategy_label(p.strategy)),
                team: p.and_then(|p| p.team_id).map_or_else(
                    || text::t("settings_routing.any_agent").into(),
                    |t| team_name(t, &teams),
                ),
                rules: p
                    .map(|p| {
                        p.skill_rules
                            .iter()
                            .map(|r| rule_words(r, &skills))
                            .collect()
                    })
                    .unwrap_or_default(),
                overflow: p.and_then(|p| overflow_words(p, &teams)),
            }
        })
        .collect()
}

fn policies_csv(d: &Directory) -> Response {
    let (teams, skills) = (d.team_names(), d.skill_names());
    csv::download(
        "routing.csv",
        &[
            "inbox",
            "channel",
            "strategy",
            "team",
            "skill_rules",
            "overflow_team",
            "overflow_after_secs",
        ],
        d.inboxes.iter().map(|i| {
            let p = d.policies.get(&i.id);
            vec![
                i.name.clone(),
                i.channel.as_str().to_string(),
                p.map(|p| p.strategy.as_str().to_string())
                    .unwrap_or_default(),
                p.and_then(|p| p.team_id)
                    .map(|t| team_name(t, &teams))
                    .unwrap_or_default(),
                p.map(|p| {
                    p.skill_rules
                        .iter()
                        .map(|r| rule_words(r, &skills))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
                p.and_then(|p| p.overflow_team_id)
                    .map(|t| team_name(t, &teams))
                    .unwrap_or_default(),
                p.and_then(|p| p.overflow_after_secs)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ]
        }),
    )
}

async fn policies(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    let d = match directory(&s, &caller.actor).await {
        Ok(d) => d,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    if p.csv() {
        return policies_csv(&d);
    }
    page(PoliciesPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "routing",
        admin: true,
        routed: d.policies.len(),
        rows: policy_rows(&d),
        notice: notice(p.notice.as_deref()),
        error: None,
    })
}

/// One skill rule as typed.
#[derive(Debug, Clone, PartialEq)]
struct RuleDraft {
    field: String,
    equals: String,
    skill: String,
    level: String,
}

impl RuleDraft {
    fn blank() -> Self {
        RuleDraft {
            field: "language".into(),
            equals: String::new(),
            skill: String::new(),
            level: "1".into(),
        }
    }

    fn of(r: &SkillRule) -> Self {
        let (field, equals) = match &r.when {
            Condition::Language(v) => ("language", v.clone()),
            Condition::Tag(v) => ("tag", v.clone()),
            Condition::Tier(v) => ("tier", v.clone()),
            Condition::Channel(c) => ("channel", c.as_str().to_string()),
        };
        RuleDraft {
            field: field.into(),
            equals,
            skill: r.skill_id.to_string(),
            level: r.min_level.to_string(),
        }
    }
}

/// The policy form as typed, with what was wrong with it. Errors are keyed by the form part
/// they belong to: `strategy`, `team`, `overflow_team`, `overflow_after`, `rules`, `form`, or
/// `rule-N-PART` for a part of rule N (counted from 1).
#[derive(Debug, Clone, PartialEq)]
struct PolicyDraft {
    strategy: String,
    team: String,
    overflow_team: String,
    overflow_after: String,
    rules: Vec<RuleDraft>,
    errors: Vec<(String, String)>,
}

/// What a skill rule can look at, as (field, label).
fn rule_field_choices() -> [(&'static str, &'static str); 4] {
    [
        ("language", text::t("settings_routing.rule_field_language")),
        ("tag", text::t("settings_routing.rule_field_tag")),
        ("tier", text::t("settings_routing.rule_field_tier")),
        ("channel", text::t("common.channel")),
    ]
}

impl PolicyDraft {
    fn of(p: Option<&RoutingPolicy>) -> Self {
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        match p {
            None => PolicyDraft {
                strategy: Strategy::LeastLoaded.as_str().into(),
                team: String::new(),
                overflow_team: String::new(),
                overflow_after: String::new(),
                rules: Vec::new(),
                errors: Vec::new(),
            },
            Some(p) => PolicyDraft {
                strategy: p.strategy.as_str().into(),
                team: id(p.team_id),
                overflow_team: id(p.overflow_team_id),
                overflow_after: p.overflow_after_secs.map(minutes_value).unwrap_or_default(),
                rules: p.skill_rules.iter().map(RuleDraft::of).collect(),
                errors: Vec::new(),
            },
        }
    }

    /// Reads the form. Rules come as `rule_N_field`, `rule_N_equals`, `rule_N_skill`,
    /// `rule_N_level` and `rule_N_remove`, in order of N; rows left empty or ticked for removal
    /// are dropped, so rule numbers match what the use case counts.
    fn from_form(f: &[(String, String)]) -> Self {
        let mut rows: BTreeMap<u32, (RuleDraft, bool)> = BTreeMap::new();
        for (k, v) in f {
            let Some((n, part)) = k
                .strip_prefix("rule_")
                .and_then(|rest| rest.split_once('_'))
                .and_then(|(n, part)| n.parse::<u32>().ok().map(|n| (n, part)))
            else {
                continue;
            };
            let (row, remove) = rows.entry(n).or_insert_with(|| {
                (
                    RuleDraft {
                        field: String::new(),
                        equals: String::new(),
                        skill: String::new(),
                        level: String::new(),
                    },
                    false,
                )
            });
            match part {
                "field" => row.field = v.clone(),
                "equals" => row.equals = v.clone(),
                "skill" => row.skill = v.clone(),
                "level" => row.level = v.clone(),
                "remove" => *remove = !v.is_empty(),
                _ => {}
            }
        }
        PolicyDraft {
            strategy: field(f, "strategy").to_string(),
            team: field(f, "team_id").to_string(),
            overflow_team: field(f, "overflow_team_id").to_string(),
            overflow_after: field(f, "overflow_after_mins").trim().to_string(),
            rules: rows
                .into_values()
                .filter(|(r, remove)| {
                    let empty = r.equals.trim().is_empty() && r.skill.trim().is_empty();
                    !remove && !empty
                })
                .map(|(r, _)| r)
                .collect(),
            errors: Vec::new(),
        }
    }

    /// The request the form makes. What the form itself can tell is wrong is reported with the
    /// use case's field names, so one mapping places every refusal.
    fn input(&self) -> Result<RoutingPolicyInput, Invalid> {
        let mut problems = Vec::new();
        let mut fail = |field: String, message: &str| {
            problems.push(citius_domain::InvalidField {
                field,
                message: message.to_string(),
            })
        };
        let strategy = match Strategy::parse(&self.strategy) {
            Ok(s) => Some(s),
            Err(_) => {
                fail("strategy".into(), text::t("common.not_a_valid_choice"));
                None
            }
        };
        let mut id = |key: &str, v: &str| match v.trim() {
            "" => None,
            v => v.parse::<i64>().ok().or_else(|| {
                fail(key.into(), text::t("common.not_a_valid_choice"));
                None
            }),
        };
        let team_id = id("team_id", &self.team);
        let overflow_team_id = id("overflow_team_id", &self.overflow_team);
        let overflow_after_secs = match self.overflow_after.as_str() {
            "" => None,
            v => match v.parse::<f64>() {
                Ok(m) if m.is_finite() && m > 0.0 && m <= 1e6 => Some((m * 60.0).round() as i64),
                _ => {
                    fail(
                        "overflow_after_secs".into(),
                        text::t("settings_routing.minutes_number"),
                    );
                    None
                }
            },
        };
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, r) in self.rules.iter().enumerate() {
            let at = |part: &str| format!("skill_rules[{i}].{part}");
            let equals = r.equals.trim();
            let when = match r.field.as_str() {
                "channel" => match Channel::parse(&equals.to_lowercase()) {
                    Ok(c) => Some(serde_json::json!({"field": "channel", "equals": c.as_str()})),
                    Err(_) if equals.is_empty() => {
                        fail(at("when.equals"), text::t("common.must_not_be_empty"));
                        None
                    }
                    Err(_) => {
                        fail(
                            at("when.equals"),
                            text::t("settings_routing.must_be_channel"),
                        );
                        None
                    }
                },
                f @ ("language" | "tag" | "tier") => {
                    Some(serde_json::json!({"field": f, "equals": equals}))
                }
                _ => {
                    fail(at("when.field"), text::t("settings_routing.must_be_field"));
                    None
                }
            };
            let skill = match r.skill.trim().parse::<i64>() {
                Ok(s) => Some(s),
                Err(_) => {
                    fail(at("skill_id"), text::t("settings_routing.must_be_picked"));
                    None
                }
            };
            let level = match r.level.trim().parse::<u8>() {
                Ok(l) => Some(l),
                Err(_) => {
                    fail(at("min_level"), text::t("settings_routing.level_range"));
                    None
                }
            };
            if let (Some(when), Some(skill), Some(level)) = (when, skill, level) {
                rules
                    .push(serde_json::json!({"when": when, "skill_id": skill, "min_level": level}));
            }
        }
        match strategy {
            Some(strategy) if problems.is_empty() => Ok(RoutingPolicyInput {
                strategy,
                team_id,
                skill_rules: Some(rules.into()),
                overflow_team_id,
                overflow_after_secs,
            }),
            _ => Err(Invalid { fields: problems }),
        }
    }

    /// Places a refusal beside the parts it is about, worded for people.
    fn refused(&mut self, i: &Invalid) {
        for p in &i.fields {
            let (key, text) = self.place(&p.field, &p.message);
            if !self.errors.iter().any(|(k, _)| *k == key) {
                self.errors.push((key, text));
            }
        }
    }

    fn place(&self, field: &str, message: &str) -> (String, String) {
        let say =
            |key: &str, label: &str| (key.to_string(), sentence(&format!("{label} {message}")));
        if let Some(rest) = field.strip_prefix("skill_rules[") {
            let (n, part) = rest.split_once(']').unwrap_or((rest, ""));
            let n = n.parse::<usize>().map_or(1, |n| n + 1);
            let part = part.trim_start_matches('.');
            return match part {
                "when.equals" => say(
                    &format!("rule-{n}-equals"),
                    &text::tf("settings_routing.rule_value", &[("n", &n)]),
                ),
                "when.field" => say(
                    &format!("rule-{n}-field"),
                    &text::tf("settings_routing.rule_condition", &[("n", &n)]),
                ),
                "skill_id" => say(
                    &format!("rule-{n}-skill"),
                    &text::tf("settings_routing.rule_skill", &[("n", &n)]),
                ),
                "min_level" => say(
                    &format!("rule-{n}-level"),
                    &text::tf("settings_routing.rule_level", &[("n", &n)]),
                ),
                _ => (
                    format!("rule-{n}"),
                    text::tf("settings_routing.rule_incomplete", &[("n", &n)]),
                ),
            };
        }
        match field {
            "strategy" => say("strategy", text::t("settings_routing.field_strategy")),
            "team_id" => say("team", text::t("settings_routing.field_team")),
            "overflow_team_id" if message.starts_with("give ") => (
                "overflow_team".into(),
                text::t("settings_routing.overflow_both").into(),
            ),
            "overflow_team_id" => say(
                "overflow_team",
                text::t("settings_routing.field_overflow_team"),
            ),
            "overflow_after_secs" if message.starts_with("must be between") => (
                "overflow_after".into(),
                text::t("settings_routing.overflow_range").into(),
            ),
            "overflow_after_secs" => say(
                "overflow_after",
                text::t("settings_routing.field_overflow_after"),
            ),
            "skill_rules" => {
                // "skill 7 does not exist in this workspace": name the rule that asks for it.
                let missing = message
                    .strip_prefix("skill ")
                    .and_then(|m| m.split_once(' '))
                    .map(|(id, _)| id);
                match missing.and_then(|id| self.rules.iter().position(|r| r.skill.trim() == id)) {
                    Some(i) => (
                        format!("rule-{}-skill", i + 1),
                        text::tf("settings_routing.rule_skill_gone", &[("n", &(i + 1))]),
                    ),
                    None => say("rules", text::t("settings_routing.field_rules")),
                }
            }
            _ => ("form".into(), sentence(message)),
        }
    }

    pub fn error(&self, key: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    /// Whether rule `n`'s `part` was refused.
    pub fn rule_bad(&self, n: &usize, part: &str) -> bool {
        let key = format!("rule-{n}-{part}");
        self.errors.iter().any(|(k, _)| *k == key)
    }

    /// What is wrong with rule `n`, if anything.
    pub fn rule_error(&self, n: &usize) -> Option<&str> {
        let (whole, prefix) = (format!("rule-{n}"), format!("rule-{n}-"));
        self.errors
            .iter()
            .find(|(k, _)| *k == whole || k.starts_with(&prefix))
            .map(|(_, m)| m.as_str())
    }

    /// The first part to fix, to put the cursor there.
    pub fn first_error(&self) -> &str {
        self.errors.first().map_or("", |(k, _)| k.as_str())
    }

    /// Rule `n`'s part is where the cursor goes.
    pub fn focus_rule(&self, n: &usize, part: &str) -> bool {
        self.first_error() == format!("rule-{n}-{part}")
            || (part == "equals" && self.first_error() == format!("rule-{n}"))
    }

    /// The rules as typed, and always one more empty row to add one.
    pub fn rows(&self) -> Vec<RuleDraft> {
        let mut rows = self.rules.clone();
        if rows.len() < MAX_SKILL_RULES {
            rows.push(RuleDraft::blank());
        }
        rows
    }
}

#[derive(Template)]
#[template(path = "settings/routing_policy.html")]
struct PolicyPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    inbox_id: i64,
    inbox: String,
    channel: &'static str,
    routed: bool,
    d: PolicyDraft,
    strategies: Vec<(&'static str, &'static str, &'static str)>,
    teams: Vec<(String, String)>,
    skills: Vec<(String, String)>,
    fields: Vec<(&'static str, &'static str)>,
    levels: Vec<(&'static str, &'static str)>,
    languages: String,
    max_rules: usize,
}

/// The levels a rule can ask for, as (level, label).
fn level_choices() -> [(&'static str, &'static str); 5] {
    [
        ("1", text::t("settings_skills.level_1")),
        ("2", "2"),
        ("3", "3"),
        ("4", "4"),
        ("5", text::t("settings_skills.level_5")),
    ]
}

async fn policy_view(
    s: &AppState,
    caller: &Caller,
    inbox_id: i64,
    draft: Option<PolicyDraft>,
    status: StatusCode,
) -> Response {
    let d = match directory(s, &caller.actor).await {
        Ok(d) => d,
        Err(e) => return error_page(s, caller, e).await,
    };
    let Some(inbox) = d.inboxes.iter().find(|i| i.id == inbox_id) else {
        return error_page(s, caller, AppError::NotFound).await;
    };
    let stored = d.policies.get(&inbox_id);
    let res = page(PolicyPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "routing",
        admin: true,
        inbox_id,
        inbox: inbox.name.clone(),
        channel: inbox.channel.as_str(),
        routed: stored.is_some(),
        d: draft.unwrap_or_else(|| PolicyDraft::of(stored)),
        strategies: STRATEGIES
            .iter()
            .map(|s| (s.as_str(), strategy_label(*s), strategy_about(*s)))
            .collect(),
        teams: d
            .teams
            .iter()
            .map(|(id, n)| (id.to_string(), n.clone()))
            .collect(),
        skills: d
            .skills
            .iter()
            .map(|(id, n)| (id.to_string(), n.clone()))
            .collect(),
        fields: rule_field_choices().to_vec(),
        levels: level_choices().to_vec(),
        languages: languages()
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        max_rules: MAX_SKILL_RULES,
    });
    with_status(res, status)
}

async fn policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
) -> Response {
    policy_view(&s, &caller, inbox_id, None, StatusCode::OK).await
}

async fn save_policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, field(&f, "_csrf")) {
        return *r;
    }
    let mut draft = PolicyDraft::from_form(&f);
    let result = async {
        require(&caller.actor, Permission::Administer)?;
        let input = draft.input()?;
        s.app
            .set_routing_policy(&caller.actor, inbox_id, input)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/routing?notice=routing-saved"),
        Err(AppError::Invalid(i)) => {
            draft.refused(&i);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            policy_view(&s, &caller, inbox_id, Some(draft), status).await
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Template)]
#[template(path = "settings/confirm.html")]
struct ConfirmPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    title: String,
    question: String,
    detail: &'static str,
    action: String,
    button: String,
    cancel: String,
}

async fn stop_confirm(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
) -> Response {
    let d = match directory(&s, &caller.actor).await {
        Ok(d) => d,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let Some(inbox) = d.inboxes.iter().find(|i| i.id == inbox_id) else {
        return error_page(&s, &caller, AppError::NotFound).await;
    };
    page(ConfirmPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "routing",
        admin: true,
        title: text::tf("settings_routing.stop_title", &[("inbox", &inbox.name)]),
        question: text::tf("settings_routing.stop_question", &[("inbox", &inbox.name)]),
        detail: text::t("settings_routing.stop_detail"),
        action: format!("/settings/routing/{inbox_id}/stop"),
        button: text::t("settings_routing.stop_button").into(),
        cancel: format!("/settings/routing/{inbox_id}"),
    })
}

async fn stop(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<super::CsrfOnly>,
) -> Response {
    confirmed(
        &s,
        &caller,
        &f.csrf,
        || s.app.delete_routing_policy(&caller.actor, inbox_id),
        "/settings/routing?notice=routing-stopped",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use citius_domain::routing::Capacity;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_same_site_paths_are_returned_to() {
        assert_eq!(safe_path("/inbox?view=all"), Some("/inbox?view=all"));
        assert_eq!(safe_path("//evil.example/x"), None);
        assert_eq!(safe_path("/\\evil.example"), None);
        assert_eq!(safe_path("https://evil.example/"), None);
        assert_eq!(safe_path("/inbox\r\nSet-Cookie: x=1"), None);
        assert_eq!(safe_path(""), None);
        assert_eq!(landing("https://evil.example/"), "/inbox");
        assert_eq!(landing(""), "/inbox");
    }

    #[test]
    fn pages_shown_after_a_post_lead_to_their_own_page() {
        assert_eq!(landing("/conversations/7"), "/conversations/7");
        assert_eq!(landing("/conversations/7/update"), "/conversations/7");
        assert_eq!(landing("/customers/3/notes"), "/customers/3");
        assert_eq!(landing("/settings/users/4/role"), "/settings/users");
        assert_eq!(landing("/settings/skills/users/4"), "/settings/skills");
        assert_eq!(landing("/settings/routing/2"), "/settings/routing/2");
        assert_eq!(
            landing("/settings/teams/2/delete"),
            "/settings/teams/2/delete"
        );
        assert_eq!(
            landing("/settings/users?notice=user-added"),
            "/settings/users"
        );
        assert_eq!(
            landing("/inbox?view=all&notice=x&cursor=abc"),
            "/inbox?view=all&cursor=abc"
        );
        assert_eq!(landing("/agents/me"), "/agents");
        assert_eq!(landing("/transfers/5/accept"), "/inbox");
        assert_eq!(landing("/presence"), "/inbox");
        assert_eq!(landing("/follow-ups"), "/follow-ups");
    }

    #[test]
    fn the_referer_counts_only_from_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "desk.example:8080".parse().unwrap());
        h.insert(
            header::REFERER,
            "http://desk.example:8080/agents?x=1#top".parse().unwrap(),
        );
        assert_eq!(referer_path(&h).as_deref(), Some("/agents?x=1"));
        h.insert(
            header::REFERER,
            "http://evil.example/agents".parse().unwrap(),
        );
        assert_eq!(referer_path(&h), None);
    }

    #[test]
    fn a_typed_policy_becomes_the_request() {
        let f = form(&[
            ("_csrf", "t"),
            ("strategy", "skills"),
            ("team_id", "3"),
            ("overflow_team_id", "4"),
            ("overflow_after_mins", "1.5"),
            ("rule_1_field", "language"),
            ("rule_1_equals", " de "),
            ("rule_1_skill", "7"),
            ("rule_1_level", "2"),
            // Ticked for removal: dropped.
            ("rule_2_field", "tag"),
            ("rule_2_equals", "vip"),
            ("rule_2_skill", "8"),
            ("rule_2_level", "3"),
            ("rule_2_remove", "1"),
            ("rule_3_field", "channel"),
            ("rule_3_equals", "Chat"),
            ("rule_3_skill", "9"),
            ("rule_3_level", "1"),
            // The empty row the form always offers: dropped.
            ("rule_4_field", "language"),
            ("rule_4_equals", ""),
            ("rule_4_skill", ""),
            ("rule_4_level", "1"),
        ]);
        let d = PolicyDraft::from_form(&f);
        assert_eq!(d.rules.len(), 2);
        let input = d.input().unwrap();
        assert_eq!(input.strategy, Strategy::Skills);
        assert_eq!(input.team_id, Some(3));
        assert_eq!(input.overflow_team_id, Some(4));
        assert_eq!(input.overflow_after_secs, Some(90));
        assert_eq!(
            input.skill_rules.unwrap(),
            serde_json::json!([
                {"when": {"field": "language", "equals": "de"}, "skill_id": 7, "min_level": 2},
                {"when": {"field": "channel", "equals": "chat"}, "skill_id": 9, "min_level": 1},
            ])
        );
        // What is sent parses as the use case reads it.
        let rules =
            citius_domain::routing::parse_skill_rules(&d.input().unwrap().skill_rules.unwrap())
                .unwrap();
        assert_eq!(rules[1].when, Condition::Channel(Channel::Chat));
    }

    #[test]
    fn rule_numbers_follow_the_form_order_not_the_field_order() {
        let f = form(&[
            ("rule_10_equals", "es"),
            ("rule_10_skill", "2"),
            ("rule_10_level", "1"),
            ("rule_10_field", "language"),
            ("rule_9_field", "tier"),
            ("rule_9_equals", "gold"),
            ("rule_9_skill", "1"),
            ("rule_9_level", "4"),
            ("strategy", "least_loaded"),
        ]);
        let d = PolicyDraft::from_form(&f);
        assert_eq!(d.rules[0].equals, "gold");
        assert_eq!(d.rules[1].equals, "es");
        assert_eq!(d.input().unwrap().team_id, None);
    }

    #[test]
    fn form_mistakes_are_placed_at_their_rule() {
        let f = form(&[
            ("strategy", "least_loaded"),
            ("overflow_after_mins", "soon"),
            ("rule_1_field", "channel"),
            ("rule_1_equals", "pigeon"),
            ("rule_1_skill", "1"),
            ("rule_1_level", "1"),
            ("rule_2_field", "tag"),
            ("rule_2_equals", "vip"),
            ("rule_2_skill", ""),
            ("rule_2_level", "2"),
        ]);
        let mut d = PolicyDraft::from_form(&f);
        let e = d.input().unwrap_err();
        d.refused(&e);
        assert_eq!(
            d.error("overflow_after"),
            Some("Overflow after must be a number of minutes.")
        );
        assert!(d.rule_bad(&1, "equals"));
        assert_eq!(
            d.rule_error(&1),
            Some("Rule 1: the value must be a channel: chat, email, sms, whatsapp, voice or api.")
        );
        assert_eq!(d.rule_error(&2), Some("Rule 2: a skill must be picked."));
        assert!(!d.rule_bad(&2, "equals"));
        assert_eq!(d.first_error(), "overflow_after");
        // What was typed stays, with one empty row to add another rule.
        assert_eq!(d.rules[0].equals, "pigeon");
        assert_eq!(d.rows().len(), 3);
    }

    #[test]
    fn use_case_refusals_are_worded_for_people() {
        let mut d = PolicyDraft::from_form(&form(&[
            ("strategy", "least_loaded"),
            ("rule_1_field", "language"),
            ("rule_1_equals", "de"),
            ("rule_1_skill", "7"),
            ("rule_1_level", "2"),
        ]));
        let refusal = Invalid {
            fields: vec![
                citius_domain::InvalidField {
                    field: "overflow_team_id".into(),
                    message: "give both the overflow team and overflow_after_secs, or neither"
                        .into(),
                },
                citius_domain::InvalidField {
                    field: "skill_rules".into(),
                    message: "skill 7 does not exist in this workspace".into(),
                },
                citius_domain::InvalidField {
                    field: "team_id".into(),
                    message: "does not exist in this workspace".into(),
                },
            ],
        };
        d.refused(&refusal);
        assert_eq!(
            d.error("overflow_team"),
            Some(
                "Give both an overflow team and the minutes to wait before moving there, or neither."
            )
        );
        assert_eq!(
            d.rule_error(&1),
            Some("Rule 1: this skill no longer exists; pick another.")
        );
        assert_eq!(
            d.error("team"),
            Some("This team does not exist in this workspace.")
        );
        d.refused(&Invalid::field(
            "overflow_after_secs",
            "must be between 10 and 604800",
        ));
        assert!(d.error("overflow_after").unwrap().contains("10080 minutes"));
    }

    #[test]
    fn a_stored_policy_fills_the_form() {
        let p = RoutingPolicy {
            inbox_id: 1,
            strategy: Strategy::RoundRobin,
            team_id: Some(2),
            skill_rules: vec![SkillRule {
                when: Condition::Tier("gold".into()),
                skill_id: 5,
                min_level: 3,
            }],
            overflow_team_id: Some(3),
            overflow_after_secs: Some(900),
            updated_at: Timestamp::UNIX_EPOCH,
        };
        let d = PolicyDraft::of(Some(&p));
        assert_eq!(d.strategy, "round_robin");
        assert_eq!((d.team.as_str(), d.overflow_team.as_str()), ("2", "3"));
        assert_eq!(d.overflow_after, "15");
        assert_eq!(d.rules[0].field, "tier");
        assert_eq!(d.rules[0].level, "3");
        let again = PolicyDraft::from_form(&form(&[
            ("strategy", &d.strategy),
            ("team_id", &d.team),
            ("overflow_team_id", &d.overflow_team),
            ("overflow_after_mins", &d.overflow_after),
            ("rule_1_field", "tier"),
            ("rule_1_equals", "gold"),
            ("rule_1_skill", "5"),
            ("rule_1_level", "3"),
        ]));
        assert_eq!(again, d);
        assert_eq!(again.input().unwrap().overflow_after_secs, Some(900));
    }

    #[test]
    fn policies_read_in_words() {
        let skills = HashMap::from([(5, "German".to_string())]);
        let rule = |when| SkillRule {
            when,
            skill_id: 5,
            min_level: 2,
        };
        assert_eq!(
            rule_words(&rule(Condition::Language("de".into())), &skills),
            "Needs German (level 2+) when the language is de (German)"
        );
        assert_eq!(
            rule_words(&rule(Condition::Channel(Channel::Voice)), &HashMap::new()),
            "Needs skill #5 (level 2+) when the channel is voice"
        );
        assert_eq!(duration_words(900), "15 min");
        assert_eq!(duration_words(7200), "2 h");
        assert_eq!(duration_words(90), "90 s");
        assert_eq!(minutes_value(90), "1.5");
        assert_eq!(minutes_value(10), "0.17");
    }

    #[test]
    fn own_capacity_is_read_per_channel() {
        let mut f = form(&[("presence", "online"), ("cap_chat", " 4 ")]);
        for c in ["email", "sms", "whatsapp", "voice", "api"] {
            f.push((format!("cap_{c}"), "2".into()));
        }
        let input = MineDraft::from_form(&f).input().unwrap();
        assert_eq!(input.presence, Presence::Online);
        let capacity = Capacity::parse(&input.capacity.unwrap()).unwrap();
        assert_eq!((capacity.chat, capacity.voice), (4, 2));

        let mut bad = MineDraft::from_form(&form(&[("presence", "online"), ("cap_chat", "x")]));
        let e = bad.input().unwrap_err();
        bad.refused(&e);
        assert_eq!(
            bad.fields[0].error.as_deref(),
            Some("Chat capacity must be a whole number from 0 to 100.")
        );
        assert_eq!(bad.fields[0].value, "x");
        assert!(bad.error.is_some());
    }

    #[test]
    fn the_queue_line_reads_well() {
        let q = |position, waiting, online, wait| QueueInfo {
            position,
            waiting,
            agents_online: online,
            estimated_wait_secs: wait,
        };
        assert_eq!(queue_words(&q(None, 3, 1, None)), None);
        assert_eq!(
            queue_words(&q(Some(2), 3, 2, Some(300))).as_deref(),
            Some("Waiting in queue: position 2 of 3, about 5 min.")
        );
        assert_eq!(
            queue_words(&q(Some(1), 1, 1, Some(0))).as_deref(),
            Some("Waiting in queue: position 1 of 1, less than a minute.")
        );
        assert_eq!(
            queue_words(&q(Some(1), 4, 0, Some(86_400))).as_deref(),
            Some("Waiting in queue: position 1 of 4. No agent is online right now.")
        );
        assert_eq!(
            queue_words(&q(Some(9), 9, 1, Some(7200))).as_deref(),
            Some("Waiting in queue: position 9 of 9, about 2 h.")
        );
    }

    #[test]
    fn a_routed_assignment_says_why() {
        use citius_domain::event::EventKind;
        use citius_domain::records::Event;
        let names = HashMap::from([(4, "Maya Lopez".to_string()), (1, "Owner".to_string())]);
        let event = |actor, data| Event {
            id: 1,
            conversation_id: 9,
            kind: EventKind::Assigned,
            actor_user_id: actor,
            data,
            created_at: Timestamp::UNIX_EPOCH,
        };
        let routed = event(
            None,
            serde_json::json!({"assignee_id": 4, "routing": {
                "summary": "least loaded of 4 eligible agents (1 of 3 chats)"}}),
        );
        assert_eq!(
            super::super::describe_event(&routed, &names),
            "Routed to Maya Lopez: least loaded of 4 eligible agents (1 of 3 chats)"
        );
        let by_hand = event(Some(1), serde_json::json!({"assignee_id": 4}));
        assert_eq!(
            super::super::describe_event(&by_hand, &names),
            "Owner assigned to Maya Lopez"
        );
    }
}
