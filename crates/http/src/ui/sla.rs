//! Service-level screens: business hours (calendars) and SLA policies in settings. Forms keep
//! what was typed when refused, with the reason beside them.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::sla::{CalendarInfo, OrderInput, SlaPolicyInfo};
use citius_domain::calendar::{CalendarInput, Holiday, OpeningHours};
use citius_domain::conversation::{Channel, Priority};
use citius_domain::sla::{SlaConditions, SlaPolicyInput, SlaTargets};

use super::form_value as value;
use super::settings::{confirmed, fixable, see_other, with_status};
use super::{Nav, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/hours", get(calendars).post(create_calendar))
        .route("/settings/hours/{id}", get(calendar).post(update_calendar))
        .route("/settings/hours/{id}/delete", post(delete_calendar))
        .route("/settings/sla", get(policies).post(create_policy))
        .route("/settings/sla/{id}", get(policy).post(update_policy))
        .route("/settings/sla/{id}/delete", post(delete_policy))
        .route("/settings/sla/{id}/move", post(move_policy))
}

/// The weekdays: key, name and short name.
fn day_names() -> [(&'static str, &'static str, &'static str); 7] {
    [
        (
            "monday",
            text::t("settings_hours.monday"),
            text::t("settings_hours.mon"),
        ),
        (
            "tuesday",
            text::t("settings_hours.tuesday"),
            text::t("settings_hours.tue"),
        ),
        (
            "wednesday",
            text::t("settings_hours.wednesday"),
            text::t("settings_hours.wed"),
        ),
        (
            "thursday",
            text::t("settings_hours.thursday"),
            text::t("settings_hours.thu"),
        ),
        (
            "friday",
            text::t("settings_hours.friday"),
            text::t("settings_hours.fri"),
        ),
        (
            "saturday",
            text::t("settings_hours.saturday"),
            text::t("settings_hours.sat"),
        ),
        (
            "sunday",
            text::t("settings_hours.sunday"),
            text::t("settings_hours.sun"),
        ),
    ]
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    format: Option<String>,
    notice: Option<String>,
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "calendar-saved" => text::t("settings_hours.saved"),
        "calendar-deleted" => text::t("settings_hours.deleted"),
        "policy-saved" => text::t("settings_sla.saved"),
        "policy-deleted" => text::t("settings_sla.deleted"),
        "policy-moved" => text::t("settings_sla.moved"),
        _ => return None,
    })
}

fn checked(f: &[(String, String)], key: &str) -> bool {
    f.iter().any(|(k, _)| k == key)
}

// ---- Business hours -------------------------------------------------------------------------

/// The calendar form as shown: one opening range per weekday (the API takes several).
struct CalendarDraft {
    name: String,
    time_zone: String,
    /// Per weekday: key, label, open, close.
    days: Vec<(&'static str, &'static str, String, String)>,
    holidays: String,
    error: Option<String>,
}

impl CalendarDraft {
    fn blank() -> Self {
        Self {
            name: String::new(),
            time_zone: "UTC".into(),
            days: day_names()
                .iter()
                .enumerate()
                .map(|(i, (k, l, _))| {
                    let (o, c) = if i < 5 { ("09:00", "17:00") } else { ("", "") };
                    (*k, *l, o.to_string(), c.to_string())
                })
                .collect(),
            holidays: String::new(),
            error: None,
        }
    }

    fn of(c: &CalendarInput) -> Self {
        let range = |day: &str| {
            c.hours
                .iter()
                .find(|h| h.day == day)
                .map(|h| (h.open.clone(), h.close.clone()))
                .unwrap_or_default()
        };
        Self {
            name: c.name.clone(),
            time_zone: c.time_zone.clone(),
            days: day_names()
                .iter()
                .map(|(k, l, _)| {
                    let (o, cl) = range(k);
                    (*k, *l, o, cl)
                })
                .collect(),
            holidays: c
                .holidays
                .iter()
                .map(|h| format!("{} {}", h.date, h.name).trim().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            error: None,
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        Self {
            name: value(f, "name").to_string(),
            time_zone: value(f, "time_zone").to_string(),
            days: day_names()
                .iter()
                .map(|(k, l, _)| {
                    (
                        *k,
                        *l,
                        value(f, &format!("open_{k}")).trim().to_string(),
                        value(f, &format!("close_{k}")).trim().to_string(),
                    )
                })
                .collect(),
            holidays: value(f, "holidays").to_string(),
            error: None,
        }
    }

    fn input(&self) -> CalendarInput {
        CalendarInput {
            name: self.name.clone(),
            time_zone: self.time_zone.trim().to_string(),
            hours: self
                .days
                .iter()
                .filter(|(_, _, o, c)| !o.is_empty() || !c.is_empty())
                .map(|(k, _, o, c)| OpeningHours {
                    day: k.to_string(),
                    open: o.clone(),
                    close: c.clone(),
                })
                .collect(),
            holidays: self
                .holidays
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (date, name) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
                    Holiday {
                        date: date.to_string(),
                        name: name.trim().to_string(),
                    }
                })
                .collect(),
        }
    }
}

struct CalendarRow {
    id: i64,
    name: String,
    time_zone: String,
    week: String,
    holidays: usize,
}

fn week_summary(c: &CalendarInput) -> String {
    let parts: Vec<String> = day_names()
        .iter()
        .filter_map(|(k, _, short)| {
            let ranges: Vec<String> = c
                .hours
                .iter()
                .filter(|h| h.day == *k)
                .map(|h| format!("{}–{}", h.open, h.close))
                .collect();
            (!ranges.is_empty()).then(|| format!("{short} {}", ranges.join(", ")))
        })
        .collect();
    parts.join(" · ")
}

#[derive(Template)]
#[template(path = "settings/hours.html")]
struct CalendarsPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<CalendarRow>,
    draft: CalendarDraft,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/hours_edit.html")]
struct CalendarPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    id: i64,
    draft: CalendarDraft,
}

fn is_admin(caller: &Caller) -> bool {
    caller
        .actor
        .role
        .allows(citius_domain::role::Permission::Administer)
}

async fn calendars_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: Option<CalendarDraft>,
    status: StatusCode,
) -> Response {
    let list = match s.app.calendars(&caller.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(s, caller, e).await,
    };
    let res = page(CalendarsPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "hours",
        admin: is_admin(caller),
        rows: list
            .into_iter()
            .map(|c| CalendarRow {
                id: c.id,
                week: week_summary(&c.calendar),
                holidays: c.calendar.holidays.len(),
                name: c.calendar.name,
                time_zone: c.calendar.time_zone,
            })
            .collect(),
        draft: draft.unwrap_or_else(CalendarDraft::blank),
        notice,
        error: None,
    });
    with_status(res, status)
}

async fn calendars(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.format.as_deref() == Some("csv") {
        return match s.app.calendars(&caller.actor).await {
            Ok(list) => csv::download(
                "business-hours.csv",
                &["name", "time_zone", "hours", "holidays"],
                list.into_iter().map(|c: CalendarInfo| {
                    vec![
                        c.calendar.name.clone(),
                        c.calendar.time_zone.clone(),
                        week_summary(&c.calendar),
                        c.calendar
                            .holidays
                            .iter()
                            .map(|h| h.date.clone())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                }),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    calendars_view(
        &s,
        &caller,
        notice(p.notice.as_deref()),
        None,
        StatusCode::OK,
    )
    .await
}

async fn save_calendar_form(
    s: &AppState,
    caller: &Caller,
    id: Option<i64>,
    f: &[(String, String)],
) -> Response {
    if let Err(r) = check_csrf(caller, value(f, "_csrf")) {
        return *r;
    }
    let mut draft = CalendarDraft::from_form(f);
    match s.app.save_calendar(&caller.actor, id, draft.input()).await {
        Ok(_) => see_other("/settings/hours?notice=calendar-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                draft.error = Some(message);
                match id {
                    None => calendars_view(s, caller, None, Some(draft), status).await,
                    Some(id) => with_status(
                        page(CalendarPage {
                            nav: nav(s, caller, "settings", "").await,
                            sub: "hours",
                            admin: is_admin(caller),
                            id,
                            draft,
                        }),
                        status,
                    ),
                }
            }
            None => error_page(s, caller, e).await,
        },
    }
}

async fn create_calendar(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_calendar_form(&s, &caller, None, &f).await
}

async fn update_calendar(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_calendar_form(&s, &caller, Some(id), &f).await
}

async fn calendar(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    match s.app.calendars(&caller.actor).await {
        Ok(list) => match list.into_iter().find(|c| c.id == id) {
            Some(c) => page(CalendarPage {
                nav: nav(&s, &caller, "settings", "").await,
                sub: "hours",
                admin: is_admin(&caller),
                id,
                draft: CalendarDraft::of(&c.calendar),
            }),
            None => error_page(&s, &caller, citius_app::AppError::NotFound).await,
        },
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn delete_calendar(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.delete_calendar(&caller.actor, id),
        "/settings/hours?notice=calendar-deleted",
    )
    .await
}

// ---- SLA policies ---------------------------------------------------------------------------

/// The priorities a policy can cover, with their names.
fn priority_choices() -> [(Priority, &'static str); 4] {
    [
        (Priority::Urgent, text::t("common.priority_urgent")),
        (Priority::High, text::t("common.priority_high")),
        (Priority::Normal, text::t("common.priority_normal")),
        (Priority::Low, text::t("common.priority_low")),
    ]
}

/// The channels a policy can cover, with their names.
fn channel_choices() -> [(Channel, &'static str); 6] {
    [
        (Channel::Email, text::t("common.email")),
        (Channel::Chat, text::t("common.chat")),
        (Channel::Sms, text::t("common.sms")),
        (Channel::Whatsapp, text::t("common.whatsapp")),
        (Channel::Voice, text::t("common.voice")),
        (Channel::Api, text::t("common.api")),
    ]
}

/// The policy form as shown; targets in minutes.
struct PolicyDraft {
    name: String,
    enabled: bool,
    priorities: Vec<(&'static str, &'static str, bool)>,
    channels: Vec<(&'static str, &'static str, bool)>,
    tiers: String,
    first_response: String,
    next_response: String,
    resolution: String,
    calendar_id: Option<i64>,
    pause_when_pending: bool,
    warn_before: String,
    error: Option<String>,
}

fn minutes_text(secs: Option<i64>) -> String {
    secs.map(|s| (s / 60).to_string()).unwrap_or_default()
}

impl PolicyDraft {
    fn blank() -> Self {
        Self::of(&SlaPolicyInput {
            name: String::new(),
            enabled: Some(true),
            conditions: SlaConditions::default(),
            targets: SlaTargets {
                first_response_secs: Some(3600),
                next_response_secs: None,
                resolution_secs: Some(24 * 3600),
            },
            calendar_id: None,
            pause_when_pending: Some(true),
            warn_before_secs: Some(15 * 60),
        })
    }

    fn of(p: &SlaPolicyInput) -> Self {
        Self {
            name: p.name.clone(),
            enabled: p.enabled.unwrap_or(true),
            priorities: priority_choices()
                .iter()
                .map(|(v, l)| (v.as_str(), *l, p.conditions.priorities.contains(v)))
                .collect(),
            channels: channel_choices()
                .iter()
                .map(|(v, l)| (v.as_str(), *l, p.conditions.channels.contains(v)))
                .collect(),
            tiers: p.conditions.tiers.join(", "),
            first_response: minutes_text(p.targets.first_response_secs),
            next_response: minutes_text(p.targets.next_response_secs),
            resolution: minutes_text(p.targets.resolution_secs),
            calendar_id: p.calendar_id,
            pause_when_pending: p.pause_when_pending.unwrap_or(true),
            warn_before: minutes_text(p.warn_before_secs),
            error: None,
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        Self {
            name: value(f, "name").to_string(),
            enabled: checked(f, "enabled"),
            priorities: priority_choices()
                .iter()
                .map(|(v, l)| {
                    (
                        v.as_str(),
                        *l,
                        checked(f, &format!("priority_{}", v.as_str())),
                    )
                })
                .collect(),
            channels: channel_choices()
                .iter()
                .map(|(v, l)| {
                    (
                        v.as_str(),
                        *l,
                        checked(f, &format!("channel_{}", v.as_str())),
                    )
                })
                .collect(),
            tiers: value(f, "tiers").to_string(),
            first_response: value(f, "first_response").trim().to_string(),
            next_response: value(f, "next_response").trim().to_string(),
            resolution: value(f, "resolution").trim().to_string(),
            calendar_id: value(f, "calendar_id").parse().ok(),
            pause_when_pending: checked(f, "pause_when_pending"),
            warn_before: value(f, "warn_before").trim().to_string(),
            error: None,
        }
    }

    fn input(&self) -> Result<SlaPolicyInput, citius_domain::Invalid> {
        let minutes = |field: &str, v: &str| -> Result<Option<i64>, citius_domain::Invalid> {
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<i64>()
                .ok()
                .and_then(|m| m.checked_mul(60))
                .map(Some)
                .ok_or_else(|| {
                    citius_domain::Invalid::field(field, text::t("settings_sla.whole_minutes"))
                })
        };
        Ok(SlaPolicyInput {
            name: self.name.clone(),
            enabled: Some(self.enabled),
            conditions: SlaConditions {
                priorities: priority_choices()
                    .iter()
                    .zip(&self.priorities)
                    .filter(|(_, (_, _, on))| *on)
                    .map(|((v, _), _)| *v)
                    .collect(),
                channels: channel_choices()
                    .iter()
                    .zip(&self.channels)
                    .filter(|(_, (_, _, on))| *on)
                    .map(|((v, _), _)| *v)
                    .collect(),
                inbox_ids: Vec::new(),
                tiers: self
                    .tiers
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
            targets: SlaTargets {
                first_response_secs: minutes("targets.first_response_secs", &self.first_response)?,
                next_response_secs: minutes("targets.next_response_secs", &self.next_response)?,
                resolution_secs: minutes("targets.resolution_secs", &self.resolution)?,
            },
            calendar_id: self.calendar_id,
            pause_when_pending: Some(self.pause_when_pending),
            warn_before_secs: minutes("warn_before_secs", &self.warn_before)?,
        })
    }

    fn on_calendar(&self, id: &i64) -> bool {
        self.calendar_id == Some(*id)
    }
}

struct PolicyRow {
    id: i64,
    name: String,
    enabled: bool,
    covers: String,
    targets: String,
    hours: String,
    first: bool,
    last: bool,
}

fn duration_words(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => text::tf("common.duration_days", &[("n", &(s / 86_400))]),
        s if s % 3600 == 0 => text::tf("common.duration_hours", &[("n", &(s / 3600))]),
        s => text::tf("common.duration_minutes", &[("n", &(s / 60))]),
    }
}

fn policy_row(p: &SlaPolicyInfo, calendars: &[(i64, String)], i: usize, n: usize) -> PolicyRow {
    let c = &p.policy.conditions;
    let or = format!(" {} ", text::t("common.or"));
    let mut covers = Vec::new();
    if !c.priorities.is_empty() {
        let list = c
            .priorities
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(&or);
        covers.push(text::tf("settings_sla.covers_priority", &[("list", &list)]));
    }
    if !c.channels.is_empty() {
        let list = c
            .channels
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(&or);
        covers.push(text::tf("settings_sla.covers_channel", &[("list", &list)]));
    }
    if !c.tiers.is_empty() {
        covers.push(text::tf(
            "settings_sla.covers_tier",
            &[("list", &c.tiers.join(&or))],
        ));
    }
    let t = &p.policy.targets;
    let targets: Vec<String> = [
        (text::t("sla.first_response"), t.first_response_secs),
        (text::t("sla.next_response"), t.next_response_secs),
        (text::t("sla.resolution"), t.resolution_secs),
    ]
    .iter()
    .filter_map(|(l, v)| v.map(|v| format!("{l} {}", duration_words(v))))
    .collect();
    PolicyRow {
        id: p.id,
        name: p.policy.name.clone(),
        enabled: p.policy.enabled.unwrap_or(true),
        covers: if covers.is_empty() {
            text::t("settings_sla.every_conversation").into()
        } else {
            covers.join(", ")
        },
        targets: targets.join(" · "),
        hours: p
            .policy
            .calendar_id
            .and_then(|id| calendars.iter().find(|(c, _)| *c == id))
            .map_or_else(
                || text::t("settings_sla.every_hour").to_string(),
                |(_, n)| n.clone(),
            ),
        first: i == 0,
        last: i + 1 == n,
    }
}

#[derive(Template)]
#[template(path = "settings/sla.html")]
struct PoliciesPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<PolicyRow>,
    calendars: Vec<(i64, String)>,
    draft: PolicyDraft,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/sla_edit.html")]
struct PolicyPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    id: i64,
    calendars: Vec<(i64, String)>,
    draft: PolicyDraft,
}

async fn calendar_names(
    s: &AppState,
    caller: &Caller,
) -> Result<Vec<(i64, String)>, citius_app::AppError> {
    Ok(s.app
        .calendars(&caller.actor)
        .await?
        .into_iter()
        .map(|c| (c.id, c.calendar.name))
        .collect())
}

async fn policies_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: Option<PolicyDraft>,
    status: StatusCode,
) -> Response {
    let (list, calendars) = match (
        s.app.sla_policies(&caller.actor).await,
        calendar_names(s, caller).await,
    ) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => return error_page(s, caller, e).await,
    };
    let n = list.len();
    let res = page(PoliciesPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "sla",
        admin: is_admin(caller),
        rows: list
            .iter()
            .enumerate()
            .map(|(i, p)| policy_row(p, &calendars, i, n))
            .collect(),
        calendars,
        draft: draft.unwrap_or_else(PolicyDraft::blank),
        notice,
        error: None,
    });
    with_status(res, status)
}

async fn policies(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.format.as_deref() == Some("csv") {
        let (list, calendars) = match (
            s.app.sla_policies(&caller.actor).await,
            calendar_names(&s, &caller).await,
        ) {
            (Ok(l), Ok(c)) => (l, c),
            (Err(e), _) | (_, Err(e)) => return error_page(&s, &caller, e).await,
        };
        let n = list.len();
        return csv::download(
            "sla-policies.csv",
            &[
                "position",
                "name",
                "enabled",
                "covers",
                "targets",
                "business_hours",
            ],
            list.iter().enumerate().map(|(i, p)| {
                let r = policy_row(p, &calendars, i, n);
                vec![
                    (i + 1).to_string(),
                    r.name,
                    r.enabled.to_string(),
                    r.covers,
                    r.targets,
                    r.hours,
                ]
            }),
        );
    }
    policies_view(
        &s,
        &caller,
        notice(p.notice.as_deref()),
        None,
        StatusCode::OK,
    )
    .await
}

async fn save_policy_form(
    s: &AppState,
    caller: &Caller,
    id: Option<i64>,
    f: &[(String, String)],
) -> Response {
    if let Err(r) = check_csrf(caller, value(f, "_csrf")) {
        return *r;
    }
    let mut draft = PolicyDraft::from_form(f);
    let result = match draft.input() {
        Ok(input) => s.app.save_sla_policy(&caller.actor, id, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => see_other("/settings/sla?notice=policy-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                draft.error = Some(message);
                match id {
                    None => policies_view(s, caller, None, Some(draft), status).await,
                    Some(id) => {
                        let calendars = calendar_names(s, caller).await.unwrap_or_default();
                        with_status(
                            page(PolicyPage {
                                nav: nav(s, caller, "settings", "").await,
                                sub: "sla",
                                admin: is_admin(caller),
                                id,
                                calendars,
                                draft,
                            }),
                            status,
                        )
                    }
                }
            }
            None => error_page(s, caller, e).await,
        },
    }
}

async fn create_policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_policy_form(&s, &caller, None, &f).await
}

async fn update_policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    save_policy_form(&s, &caller, Some(id), &f).await
}

async fn policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    let (list, calendars) = match (
        s.app.sla_policies(&caller.actor).await,
        calendar_names(&s, &caller).await,
    ) {
        (Ok(l), Ok(c)) => (l, c),
        (Err(e), _) | (_, Err(e)) => return error_page(&s, &caller, e).await,
    };
    match list.into_iter().find(|p| p.id == id) {
        Some(p) => page(PolicyPage {
            nav: nav(&s, &caller, "settings", "").await,
            sub: "sla",
            admin: is_admin(&caller),
            id,
            calendars,
            draft: PolicyDraft::of(&p.policy),
        }),
        None => error_page(&s, &caller, citius_app::AppError::NotFound).await,
    }
}

async fn delete_policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.delete_sla_policy(&caller.actor, id),
        "/settings/sla?notice=policy-deleted",
    )
    .await
}

/// Moves a policy one place up or down in the order they are tried.
async fn move_policy(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let list = match s.app.sla_policies(&caller.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let mut ids: Vec<i64> = list.iter().map(|p| p.id).collect();
    if let Some(i) = ids.iter().position(|x| *x == id) {
        match value(&f, "direction") {
            "up" if i > 0 => ids.swap(i, i - 1),
            "down" if i + 1 < ids.len() => ids.swap(i, i + 1),
            _ => {}
        }
    }
    match s
        .app
        .order_sla_policies(&caller.actor, OrderInput { ids })
        .await
    {
        Ok(_) => see_other("/settings/sla?notice=policy-moved"),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

// ---- Conversation page: where the SLA stands -----------------------------------------------

/// One clock as the conversation page shows it.
pub(super) struct ClockLine {
    pub label: &'static str,
    /// ok, soon, overdue, paused or met (a CSS class too).
    pub state: &'static str,
    pub text: String,
    pub due_iso: Option<String>,
}

/// The SLA panel: the policy's name and one line per clock; nothing without a policy.
pub(super) async fn clock_lines(
    s: &AppState,
    a: &citius_app::Actor,
    conversation_id: i64,
) -> Option<(String, Vec<ClockLine>)> {
    use citius_domain::sla::ClockState;
    let sla = s.app.conversation_sla(a, conversation_id).await.ok()?;
    let name = sla.policy_name?;
    let words = |secs: i64| {
        let m = (secs.max(0) + 59) / 60;
        if m < 90 {
            text::tf("common.duration_minutes", &[("n", &m)])
        } else if m < 48 * 60 {
            text::tf(
                "common.duration_hours_minutes",
                &[("h", &(m / 60)), ("m", &(m % 60))],
            )
        } else {
            text::tf("common.duration_days", &[("n", &(m / 1440))])
        }
    };
    let lines = sla
        .clocks
        .iter()
        .map(|c| {
            let (state, text) = match c.state {
                ClockState::Running { left_secs } => {
                    ("ok", text::tf("sla.due_in", &[("time", &words(left_secs))]))
                }
                ClockState::DueSoon { left_secs } => (
                    "soon",
                    text::tf("sla.due_in", &[("time", &words(left_secs))]),
                ),
                ClockState::Overdue { over_secs } => (
                    "overdue",
                    text::tf("sla.overdue_by", &[("time", &words(over_secs))]),
                ),
                ClockState::Paused { left_secs } => (
                    "paused",
                    text::tf("sla.paused_left", &[("time", &words(left_secs))]),
                ),
                ClockState::Met { late: false } => ("met", text::t("sla.met").to_string()),
                ClockState::Met { late: true } => ("overdue", text::t("sla.met_late").to_string()),
            };
            ClockLine {
                label: super::metric_label(c.metric.as_str()),
                state,
                text,
                due_iso: c.due_at.map(|t| t.to_string()),
            }
        })
        .collect();
    Some((name, lines))
}
