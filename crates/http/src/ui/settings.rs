//! The settings screens: members and roles, teams, skills, inboxes, the signed-in user's API
//! tokens, the audit log and background jobs. Admin actions are only offered to admins and
//! owners; the use cases refuse everyone else anyway. Every table downloads as CSV with
//! `?format=csv` on its own address.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use citius_app::directory::{InboxInput, NewUserInput, TeamInput, UpdateUserInput};
use citius_app::{Actor, AppError, require};
use citius_domain::Invalid;
use citius_domain::conversation::Channel;
use citius_domain::paging::PageRequest;
use citius_domain::records::{AuditEntry, JobInfo, User};
use citius_domain::role::{Permission, Role};
use jiff::Timestamp;
use serde::Deserialize;

use super::{CsrfOnly, Nav, ago, check_csrf, csv, error_page, nav, page, sentence, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(index))
        .route("/settings/users", get(users).post(add_user))
        .route("/settings/users/{id}/role", post(change_role))
        .route(
            "/settings/users/{id}/remove",
            get(remove_user_confirm).post(remove_user),
        )
        .route("/settings/teams", get(teams).post(create_team))
        .route("/settings/teams/{id}", get(team).post(update_team))
        .route(
            "/settings/teams/{id}/delete",
            get(delete_team_confirm).post(delete_team),
        )
        .route("/settings/skills", get(skills).post(create_skill))
        .route("/settings/skills/users/{id}", post(set_levels))
        .route("/settings/inboxes", get(inboxes).post(create_inbox))
        .route("/settings/tokens", get(tokens).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke_token))
        .route("/settings/audit", get(audit))
        .route("/settings/mail", get(received_mail))
        .route("/settings/jobs", get(jobs))
        .route("/settings/jobs/{id}/retry", post(retry_job))
}

// ---- Shared ---------------------------------------------------------------------------------

fn is_admin(a: &Actor) -> bool {
    a.role.allows(Permission::Administer)
}

fn role_label(r: Role) -> &'static str {
    match r {
        Role::Viewer => text::t("settings_users.role_viewer"),
        Role::Agent => text::t("settings_users.role_agent"),
        Role::Supervisor => text::t("settings_users.role_supervisor"),
        Role::Admin => text::t("settings_users.role_admin"),
        Role::Owner => text::t("settings_users.role_owner"),
    }
}

/// The roles `a` may give, as (value, label).
fn grantable(a: &Actor) -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .into_iter()
        .filter(|r| a.role.may_grant(*r))
        .map(|r| (r.as_str(), role_label(r)))
        .collect()
}

/// Query of a settings list: `format=csv` downloads it; `notice` names what just succeeded.
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

/// After a change the browser is sent back to the list with a short key; only these texts can
/// be shown, so the address cannot put words on the page.
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "user-added" => text::t("settings_users.added"),
        "role-saved" => text::t("settings_users.role_saved"),
        "user-removed" => text::t("settings_users.removed"),
        "team-created" => text::t("settings_teams.created"),
        "team-saved" => text::t("settings_teams.saved"),
        "team-deleted" => text::t("settings_teams.deleted"),
        "skill-created" => text::t("settings_skills.created"),
        "levels-saved" => text::t("settings_skills.levels_saved"),
        "levels-unchanged" => text::t("settings_skills.levels_unchanged"),
        "inbox-created" => text::t("settings_inboxes.created"),
        "token-revoked" => text::t("settings_tokens.revoked_notice"),
        "job-retried" => text::t("settings_jobs.retried"),
        _ => return None,
    })
}

/// Errors the person can fix in the form they sent, as the message to show beside it.
/// Anything else (not allowed, gone, broken) is shown as an error page instead.
pub(super) fn fixable(e: &AppError) -> Option<(StatusCode, String)> {
    match e {
        AppError::Invalid(i) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            i.fields
                .iter()
                .map(|f| sentence(&format!("{} {}", field_label(&f.field), f.message)))
                .collect::<Vec<_>>()
                .join(" "),
        )),
        AppError::Conflict(m) => Some((StatusCode::CONFLICT, sentence(m))),
        _ => None,
    }
}

/// How a rejected field is named to a person.
fn field_label(field: &str) -> String {
    match field {
        "member_ids" => text::t("settings_teams.member_field").into(),
        other => other.replace('_', " "),
    }
}

pub(super) fn with_status(mut res: Response, status: StatusCode) -> Response {
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A form that only confirms an action (delete, revoke, retry…): checks the session's form
/// token, runs the action, and sends the person on to `to`, or shows why it was refused.
pub(super) async fn confirmed<Fut>(
    s: &AppState,
    caller: &Caller,
    csrf: &str,
    action: impl FnOnce() -> Fut,
    to: &str,
) -> Response
where
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    if let Err(r) = check_csrf(caller, csrf) {
        return *r;
    }
    match action().await {
        Ok(()) => see_other(to),
        Err(e) => error_page(s, caller, e).await,
    }
}

/// Time for tables: absolute and in UTC, so rows compare at a glance and across time zones.
fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A form with repeated fields (several members) or fields named after ids (skill levels).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    fn ids(&self, key: &str) -> Result<Vec<i64>, Invalid> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| {
                v.parse()
                    .map_err(|_| Invalid::field(key, text::t("common.not_a_valid_choice")))
            })
            .collect()
    }
}

/// A person to tick in a team form.
struct Choice {
    id: i64,
    name: String,
    checked: bool,
}

fn choices(users: &[User], checked: &[i64]) -> Vec<Choice> {
    users
        .iter()
        .map(|u| Choice {
            id: u.id,
            name: u.name.clone(),
            checked: checked.contains(&u.id),
        })
        .collect()
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
    cancel: &'static str,
}

// ---- Index ----------------------------------------------------------------------------------

struct Section {
    href: &'static str,
    title: &'static str,
    about: &'static str,
    /// Shown when the role limits what the section offers.
    note: Option<&'static str>,
    /// False when the role may not open the section at all.
    open: bool,
}

#[derive(Template)]
#[template(path = "settings/index.html")]
struct IndexPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    sections: Vec<Section>,
}

async fn index(State(s): State<AppState>, WebSession(caller): WebSession) -> Response {
    let admin = is_admin(&caller.actor);
    let view_only = (!admin).then_some(text::t("settings.view_only"));
    let admin_only = (!admin).then_some(text::t("settings.only_admins_and_owners_can"));
    let sections = vec![
        Section {
            href: "/settings/users",
            title: text::t("settings.users"),
            about: text::t("settings.about_users"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/teams",
            title: text::t("settings.teams"),
            about: text::t("settings.about_teams"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/skills",
            title: text::t("settings.skills"),
            about: text::t("settings.about_skills"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/inboxes",
            title: text::t("settings.inboxes"),
            about: text::t("settings.about_inboxes"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/hours",
            title: text::t("settings.business_hours"),
            about: text::t("settings.about_business_hours"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/sla",
            title: text::t("settings.sla_policies"),
            about: text::t("settings.about_sla_policies"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/automation",
            title: text::t("settings.automation"),
            about: text::t("settings.about_automation"),
            note: view_only,
            open: true,
        },
        Section {
            href: "/settings/macros",
            title: text::t("settings.macros"),
            about: text::t("settings.about_macros"),
            note: None,
            open: true,
        },
        Section {
            href: "/settings/webhooks",
            title: text::t("settings.webhooks"),
            about: text::t("settings.about_webhooks"),
            note: admin_only,
            open: admin,
        },
        Section {
            href: "/settings/tokens",
            title: text::t("settings.api_tokens"),
            about: text::t("settings.about_api_tokens"),
            note: None,
            open: true,
        },
        Section {
            href: "/settings/audit",
            title: text::t("settings.audit_log"),
            about: text::t("settings.about_audit_log"),
            note: admin_only,
            open: admin,
        },
        Section {
            href: "/settings/mail",
            title: text::t("common.received_mail"),
            about: text::t("settings.about_received_mail"),
            note: admin_only,
            open: admin,
        },
        Section {
            href: "/settings/jobs",
            title: text::t("settings.background_jobs"),
            about: text::t("settings.about_background_jobs"),
            note: admin_only,
            open: admin,
        },
    ];
    page(IndexPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "index",
        admin,
        sections,
    })
}

// ---- Users ----------------------------------------------------------------------------------

struct MemberRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    role_label: &'static str,
    you: bool,
    /// The viewer may change this member's role and remove them.
    manageable: bool,
}

/// What the add-user form shows: empty, or what was sent with the reason it was refused.
#[derive(Default)]
struct UserDraft {
    email: String,
    name: String,
    role: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<MemberRow>,
    roles: Vec<(&'static str, &'static str)>,
    draft: UserDraft,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn users_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    error: Option<String>,
    draft: UserDraft,
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    match s.app.users(a).await {
        Ok(list) => {
            let admin = is_admin(a);
            let rows = list
                .into_iter()
                .map(|u| MemberRow {
                    manageable: admin && a.role.may_grant(u.role),
                    you: u.id == a.user_id,
                    role: u.role.as_str(),
                    role_label: role_label(u.role),
                    id: u.id,
                    name: u.name,
                    email: u.email,
                })
                .collect();
            let res = page(UsersPage {
                nav: nav(s, caller, "settings", "").await,
                sub: "users",
                admin,
                rows,
                roles: grantable(a),
                draft,
                notice,
                error,
            });
            with_status(res, status)
        }
        Err(e) => error_page(s, caller, e).await,
    }
}

fn new_user_draft() -> UserDraft {
    UserDraft {
        role: "agent".into(),
        ..UserDraft::default()
    }
}

async fn users(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.csv() {
        return match s.app.users(&caller.actor).await {
            Ok(list) => csv::download(
                "users.csv",
                &["name", "email", "role"],
                list.into_iter()
                    .map(|u| vec![u.name, u.email, u.role.as_str().to_string()]),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let n = notice(p.notice.as_deref());
    users_view(&s, &caller, n, None, new_user_draft(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

async fn add_user(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<NewUserForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let result = async {
        require(&caller.actor, Permission::Administer)?;
        let input = NewUserInput {
            email: f.email.clone(),
            name: f.name.clone(),
            role: Role::parse(&f.role)?,
            password: (!f.password.is_empty()).then(|| f.password.clone()),
        };
        s.app.add_user(&caller.actor, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/users?notice=user-added"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = UserDraft {
                    email: f.email,
                    name: f.name,
                    role: f.role,
                    error: Some(message),
                };
                users_view(&s, &caller, None, None, draft, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

async fn change_role(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<RoleForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let result = async {
        let input = UpdateUserInput {
            role: Some(Role::parse(&f.role)?),
            password: None,
        };
        s.app.update_user(&caller.actor, id, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/users?notice=role-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let d = new_user_draft();
                users_view(&s, &caller, None, Some(message), d, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn remove_user_confirm(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    let a = &caller.actor;
    let found = async {
        require(a, Permission::Administer)?;
        s.app.user(a, id).await
    }
    .await;
    match found {
        Ok(u) => page(ConfirmPage {
            nav: nav(&s, &caller, "settings", "").await,
            sub: "users",
            admin: true,
            title: text::tf("settings_users.remove_name", &[("name", &u.name)]),
            question: text::tf(
                "settings_users.remove_question",
                &[("name", &u.name), ("email", &u.email)],
            ),
            detail: text::t("settings_users.remove_detail"),
            action: format!("/settings/users/{id}/remove"),
            button: text::tf("settings_users.remove_name", &[("name", &u.name)]),
            cancel: "/settings/users",
        }),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn remove_user(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    match s.app.remove_user(&caller.actor, id).await {
        Ok(()) => see_other("/settings/users?notice=user-removed"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let d = new_user_draft();
                users_view(&s, &caller, None, Some(message), d, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

// ---- Teams ----------------------------------------------------------------------------------

struct TeamRow {
    id: i64,
    name: String,
    members: String,
    count: usize,
}

#[derive(Template)]
#[template(path = "settings/teams.html")]
struct TeamsPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<TeamRow>,
    people: Vec<Choice>,
    draft_name: String,
    form_error: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn member_names(ids: &[i64], names: &HashMap<i64, String>) -> Vec<String> {
    let mut list: Vec<String> = ids.iter().filter_map(|i| names.get(i).cloned()).collect();
    list.sort_by_key(|n| n.to_lowercase());
    list
}

async fn teams_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: (String, Vec<i64>, Option<String>),
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    let loaded = async { Ok::<_, AppError>((s.app.teams(a).await?, s.app.users(a).await?)) }.await;
    let (teams, users) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(s, caller, e).await,
    };
    let names: HashMap<i64, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let rows = teams
        .into_iter()
        .map(|t| TeamRow {
            id: t.id,
            members: member_names(&t.member_ids, &names).join(", "),
            count: t.member_ids.len(),
            name: t.name,
        })
        .collect();
    let (draft_name, checked, form_error) = draft;
    let res = page(TeamsPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "teams",
        admin: is_admin(a),
        rows,
        people: choices(&users, &checked),
        draft_name,
        form_error,
        notice,
        error: None,
    });
    with_status(res, status)
}

async fn teams(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.csv() {
        let a = &caller.actor;
        let loaded =
            async { Ok::<_, AppError>((s.app.teams(a).await?, s.app.users(a).await?)) }.await;
        return match loaded {
            Ok((teams, users)) => {
                let names: HashMap<i64, String> =
                    users.into_iter().map(|u| (u.id, u.name)).collect();
                csv::download(
                    "teams.csv",
                    &["name", "members"],
                    teams
                        .into_iter()
                        .map(|t| vec![t.name, member_names(&t.member_ids, &names).join("; ")]),
                )
            }
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let n = notice(p.notice.as_deref());
    teams_view(&s, &caller, n, Default::default(), StatusCode::OK).await
}

async fn create_team(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(pairs);
    if let Err(r) = check_csrf(&caller, f.get("_csrf")) {
        return *r;
    }
    let members = f.ids("member_ids");
    let result = async {
        require(&caller.actor, Permission::Administer)?;
        let input = TeamInput {
            name: f.get("name").to_string(),
            member_ids: Some(members.clone()?),
        };
        s.app.create_team(&caller.actor, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/teams?notice=team-created"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = (
                    f.get("name").to_string(),
                    members.unwrap_or_default(),
                    Some(message),
                );
                teams_view(&s, &caller, None, draft, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

#[derive(Template)]
#[template(path = "settings/team.html")]
struct TeamPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    id: i64,
    title: String,
    name: String,
    people: Vec<Choice>,
    error: Option<String>,
}

/// The edit form of a team: as stored, or as sent with the reason it was refused.
async fn team_view(
    s: &AppState,
    caller: &Caller,
    id: i64,
    draft: Option<(String, Vec<i64>, String)>,
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    let loaded = async {
        require(a, Permission::Administer)?;
        Ok::<_, AppError>((s.app.team(a, id).await?, s.app.users(a).await?))
    }
    .await;
    let (team, users) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(s, caller, e).await,
    };
    let (name, checked, error) = match draft {
        Some((n, c, e)) => (n, c, Some(e)),
        None => (team.name.clone(), team.member_ids.clone(), None),
    };
    let res = page(TeamPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "teams",
        admin: true,
        id,
        title: team.name,
        name,
        people: choices(&users, &checked),
        error,
    });
    with_status(res, status)
}

async fn team(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    team_view(&s, &caller, id, None, StatusCode::OK).await
}

async fn update_team(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(pairs);
    if let Err(r) = check_csrf(&caller, f.get("_csrf")) {
        return *r;
    }
    let members = f.ids("member_ids");
    let result = async {
        let input = TeamInput {
            name: f.get("name").to_string(),
            member_ids: Some(members.clone()?),
        };
        s.app.update_team(&caller.actor, id, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/teams?notice=team-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = (
                    f.get("name").to_string(),
                    members.unwrap_or_default(),
                    message,
                );
                team_view(&s, &caller, id, Some(draft), status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn delete_team_confirm(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    let a = &caller.actor;
    let found = async {
        require(a, Permission::Administer)?;
        s.app.team(a, id).await
    }
    .await;
    match found {
        Ok(t) => page(ConfirmPage {
            nav: nav(&s, &caller, "settings", "").await,
            sub: "teams",
            admin: true,
            title: text::tf("settings_teams.delete_name", &[("name", &t.name)]),
            question: text::tf("settings_teams.delete_question", &[("name", &t.name)]),
            detail: text::t("settings_teams.delete_detail"),
            action: format!("/settings/teams/{id}/delete"),
            button: text::tf("settings_teams.delete_name", &[("name", &t.name)]),
            cancel: "/settings/teams",
        }),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn delete_team(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    confirmed(
        &s,
        &caller,
        &f.csrf,
        || s.app.delete_team(&caller.actor, id),
        "/settings/teams?notice=team-deleted",
    )
    .await
}

// ---- Skills ---------------------------------------------------------------------------------

struct SkillCell {
    skill_id: i64,
    skill: String,
    /// The stored level when known; unknown levels show as "unchanged".
    level: Option<i64>,
}

struct SkillPerson {
    id: i64,
    name: String,
    cells: Vec<SkillCell>,
}

#[derive(Template)]
#[template(path = "settings/skills.html")]
struct SkillsPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    skills: Vec<(i64, String)>,
    people: Vec<SkillPerson>,
    levels: Vec<(i64, &'static str)>,
    draft_name: String,
    form_error: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// The levels a skill cell offers, as (level, label).
fn skill_levels() -> Vec<(i64, &'static str)> {
    vec![
        (0, text::t("settings_skills.level_0")),
        (1, text::t("settings_skills.level_1")),
        (2, "2"),
        (3, "3"),
        (4, "4"),
        (5, text::t("settings_skills.level_5")),
    ]
}

async fn skills_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    error: Option<String>,
    draft: (String, Option<String>),
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    let loaded = async {
        Ok::<_, AppError>((
            s.app.skills(a).await?,
            s.app.users(a).await?,
            s.app.user_skills(a).await?,
        ))
    }
    .await;
    let (skills, users, levels) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(s, caller, e).await,
    };
    let admin = is_admin(a);
    let people = if admin {
        users
            .into_iter()
            .map(|u| SkillPerson {
                id: u.id,
                name: u.name,
                cells: skills
                    .iter()
                    .map(|k| SkillCell {
                        skill_id: k.id,
                        skill: k.name.clone(),
                        level: Some(
                            levels
                                .iter()
                                .find(|(uid, sid, _)| *uid == u.id && *sid == k.id)
                                .map_or(0, |l| l.2),
                        ),
                    })
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let res = page(SkillsPage {
        nav: nav(s, caller, "settings", "").await,
        sub: "skills",
        admin,
        skills: skills.into_iter().map(|k| (k.id, k.name)).collect(),
        people,
        levels: skill_levels(),
        draft_name: draft.0,
        form_error: draft.1,
        notice,
        error,
    });
    with_status(res, status)
}

async fn skills(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.csv() {
        return match s.app.skills(&caller.actor).await {
            Ok(list) => csv::download(
                "skills.csv",
                &["name"],
                list.into_iter().map(|k| vec![k.name]),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let n = notice(p.notice.as_deref());
    skills_view(&s, &caller, n, None, Default::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create_skill(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<NameForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    match s.app.create_skill(&caller.actor, &f.name).await {
        Ok(_) => see_other("/settings/skills?notice=skill-created"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = (f.name, Some(message));
                skills_view(&s, &caller, None, None, draft, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

/// Saves the levels picked for one person; cells left at "unchanged" are not touched. Every
/// value is checked before any is saved.
async fn set_levels(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(user_id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(pairs);
    if let Err(r) = check_csrf(&caller, f.get("_csrf")) {
        return *r;
    }
    let a = &caller.actor;
    let result = async {
        require(a, Permission::Administer)?;
        let mut picked = Vec::new();
        for (k, v) in &f.0 {
            let Some(skill) = k.strip_prefix("skill_") else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            let skill_id: i64 = skill
                .parse()
                .map_err(|_| Invalid::field("skill", text::t("common.is_not_a_number")))?;
            let level: i64 = v
                .parse()
                .map_err(|_| Invalid::field("level", text::t("settings_skills.level_range")))?;
            if !(0..=5).contains(&level) {
                return Err(Invalid::field("level", text::t("settings_skills.level_range")).into());
            }
            picked.push((skill_id, level));
        }
        for (skill_id, level) in &picked {
            s.app.set_user_skill(a, user_id, *skill_id, *level).await?;
        }
        Ok::<_, AppError>(picked.len())
    }
    .await;
    match result {
        Ok(0) => see_other("/settings/skills?notice=levels-unchanged"),
        Ok(_) => see_other("/settings/skills?notice=levels-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = Default::default();
                skills_view(&s, &caller, None, Some(message), draft, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

// ---- Inboxes --------------------------------------------------------------------------------

struct InboxRow {
    name: String,
    channel: &'static str,
    address: String,
}

#[derive(Default)]
struct InboxDraft {
    name: String,
    channel: String,
    address: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/inboxes.html")]
struct InboxesPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<InboxRow>,
    channels: Vec<&'static str>,
    draft: InboxDraft,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn inboxes_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: InboxDraft,
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    match s.app.inboxes(a).await {
        Ok(list) => {
            let res = page(InboxesPage {
                nav: nav(s, caller, "settings", "").await,
                sub: "inboxes",
                admin: is_admin(a),
                rows: list
                    .into_iter()
                    .map(|i| InboxRow {
                        name: i.name,
                        channel: i.channel.as_str(),
                        address: i.address.unwrap_or_default(),
                    })
                    .collect(),
                channels: Channel::ALL.iter().map(|c| c.as_str()).collect(),
                draft,
                notice,
                error: None,
            });
            with_status(res, status)
        }
        Err(e) => error_page(s, caller, e).await,
    }
}

async fn inboxes(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.csv() {
        return match s.app.inboxes(&caller.actor).await {
            Ok(list) => csv::download(
                "inboxes.csv",
                &["name", "channel", "address"],
                list.into_iter().map(|i| {
                    vec![
                        i.name,
                        i.channel.as_str().to_string(),
                        i.address.unwrap_or_default(),
                    ]
                }),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let draft = InboxDraft {
        channel: "email".into(),
        ..InboxDraft::default()
    };
    let n = notice(p.notice.as_deref());
    inboxes_view(&s, &caller, n, draft, StatusCode::OK).await
}

#[derive(Deserialize)]
struct InboxForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    address: String,
}

async fn create_inbox(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<InboxForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let result = async {
        require(&caller.actor, Permission::Administer)?;
        let address = f.address.trim();
        let input = InboxInput {
            name: f.name.clone(),
            channel: Channel::parse(&f.channel)?,
            address: (!address.is_empty()).then(|| address.to_string()),
        };
        s.app.create_inbox(&caller.actor, input).await
    }
    .await;
    match result {
        Ok(_) => see_other("/settings/inboxes?notice=inbox-created"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = InboxDraft {
                    name: f.name,
                    channel: f.channel,
                    address: f.address,
                    error: Some(message),
                };
                inboxes_view(&s, &caller, None, draft, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

// ---- API tokens -----------------------------------------------------------------------------

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    created: String,
    created_iso: String,
    last_used: Option<(String, String)>,
    revoked: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "settings/tokens.html")]
struct TokensPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<TokenRow>,
    draft_name: String,
    form_error: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/token_created.html")]
struct TokenCreatedPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    name: String,
    secret: String,
}

async fn tokens_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: (String, Option<String>),
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    match s.app.tokens(a).await {
        Ok(list) => {
            let res = page(TokensPage {
                nav: nav(s, caller, "settings", "").await,
                sub: "tokens",
                admin: is_admin(a),
                rows: list
                    .into_iter()
                    .map(|t| TokenRow {
                        id: t.id,
                        name: t.name,
                        prefix: t.prefix,
                        created: when(t.created_at),
                        created_iso: t.created_at.to_string(),
                        last_used: t.last_used_at.map(|u| (ago(u), u.to_string())),
                        revoked: t.revoked_at.map(|r| (when(r), r.to_string())),
                    })
                    .collect(),
                draft_name: draft.0,
                form_error: draft.1,
                notice,
                error: None,
            });
            with_status(res, status)
        }
        Err(e) => error_page(s, caller, e).await,
    }
}

async fn tokens(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.csv() {
        let iso = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        return match s.app.tokens(&caller.actor).await {
            Ok(list) => csv::download(
                "api-tokens.csv",
                &["name", "prefix", "created", "last_used", "revoked"],
                list.into_iter().map(|t| {
                    vec![
                        t.name,
                        t.prefix,
                        t.created_at.to_string(),
                        iso(t.last_used_at),
                        iso(t.revoked_at),
                    ]
                }),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let n = notice(p.notice.as_deref());
    tokens_view(&s, &caller, n, Default::default(), StatusCode::OK).await
}

/// Creates a token and shows its secret on this one response: it is never stored, so it cannot
/// be shown again (and it must not travel in an address, as a redirect would need).
async fn create_token(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<NameForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    match s.app.create_token(&caller.actor, &f.name).await {
        Ok((token, secret)) => page(TokenCreatedPage {
            nav: nav(&s, &caller, "settings", "").await,
            sub: "tokens",
            admin: is_admin(&caller.actor),
            name: token.name,
            secret,
        }),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                tokens_view(&s, &caller, None, (f.name, Some(message)), status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn revoke_token(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    confirmed(
        &s,
        &caller,
        &f.csrf,
        || s.app.revoke_token(&caller.actor, id),
        "/settings/tokens?notice=token-revoked",
    )
    .await
}

// ---- Audit log ------------------------------------------------------------------------------

struct AuditRow {
    time: String,
    time_iso: String,
    actor: String,
    action: String,
    target: String,
    details: String,
    details_full: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "settings/audit.html")]
struct AuditPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<AuditRow>,
    next_link: Option<String>,
    paged: bool,
}

#[derive(Deserialize, Default)]
struct AuditParams {
    cursor: Option<String>,
    format: Option<String>,
}

fn actor_name(id: Option<i64>, names: &HashMap<i64, String>) -> String {
    match id {
        None => "Citius".into(),
        Some(i) => names
            .get(&i)
            .cloned()
            .unwrap_or_else(|| text::tf("settings_audit.former_member", &[("id", &i)])),
    }
}

/// What an entry is about: a member by name (a former one by the email the entry recorded),
/// anything else by kind and number.
fn target_text(e: &AuditEntry, names: &HashMap<i64, String>) -> String {
    let email = e.data.get("email").and_then(|v| v.as_str());
    match (e.target_kind.as_str(), e.target_id) {
        ("user", Some(id)) if names.contains_key(&id) => text::tf(
            "settings_audit.target_user",
            &[("name", &names.get(&id).map_or("", String::as_str))],
        ),
        ("user", Some(_)) if email.is_some() => text::tf(
            "settings_audit.target_user",
            &[("name", &email.unwrap_or_default())],
        ),
        (kind, Some(id)) => format!("{} #{id}", kind.replace('_', " ")),
        (kind, None) => kind.replace('_', " "),
    }
}

/// The entry's data as compact JSON; nothing for an empty object.
fn details(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(o) if o.is_empty() => String::new(),
        other => other.to_string(),
    }
}

async fn audit(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<AuditParams>,
) -> Response {
    let a = caller.actor.clone();
    let csv_export = p.format.as_deref() == Some("csv");
    let first = async {
        let limit = if csv_export { 100 } else { 50 };
        let req = PageRequest::parse(Some(limit), p.cursor.as_deref())?;
        let entries = s.app.audit_log(&a, req).await?;
        Ok::<_, AppError>((entries, s.app.users(&a).await?))
    }
    .await;
    let (entries, users) = match first {
        Ok(x) => x,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let names: HashMap<i64, String> = users.into_iter().map(|u| (u.id, u.name)).collect();
    if csv_export {
        let app = s.app.clone();
        return csv::paged(
            "audit-log.csv",
            &[
                "time",
                "actor",
                "action",
                "target_kind",
                "target_id",
                "details",
                "ip",
            ],
            entries,
            move |cursor| {
                let (app, a) = (app.clone(), a.clone());
                Box::pin(async move {
                    let req = PageRequest {
                        limit: 100,
                        after: Some(cursor),
                    };
                    app.audit_log(&a, req).await
                })
            },
            move |e| {
                vec![
                    e.created_at.to_string(),
                    actor_name(e.actor_user_id, &names),
                    e.action.clone(),
                    e.target_kind.clone(),
                    e.target_id.map(|i| i.to_string()).unwrap_or_default(),
                    details(&e.data),
                    e.ip.clone().unwrap_or_default(),
                ]
            },
        );
    }
    let rows = entries
        .items
        .iter()
        .map(|e| {
            let full = details(&e.data);
            AuditRow {
                time: when(e.created_at),
                time_iso: e.created_at.to_string(),
                actor: actor_name(e.actor_user_id, &names),
                action: e.action.clone(),
                target: target_text(e, &names),
                details: shorten(&full, 80),
                details_full: full,
                ip: e.ip.clone().unwrap_or_default(),
            }
        })
        .collect();
    page(AuditPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "audit",
        admin: true,
        rows,
        next_link: entries
            .next
            .map(|c| format!("/settings/audit?cursor={}", c.encode())),
        paged: p.cursor.is_some(),
    })
}

// ---- Background jobs ------------------------------------------------------------------------

struct JobRow {
    id: i64,
    kind: String,
    status: String,
    attempts: String,
    run_at: String,
    run_at_iso: String,
    created: String,
    created_iso: String,
    last_error: String,
    last_error_full: String,
    dead: bool,
}

#[derive(Template)]
#[template(path = "settings/jobs.html")]
struct JobsPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<JobRow>,
    next_link: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct JobsParams {
    status: Option<String>,
    cursor: Option<String>,
    format: Option<String>,
    notice: Option<String>,
}

/// The job filters, as (status, label).
fn job_statuses() -> [(&'static str, &'static str); 5] {
    [
        ("dead", text::t("settings_jobs.status_dead")),
        ("queued", text::t("settings_jobs.status_queued")),
        ("running", text::t("settings_jobs.status_running")),
        ("done", text::t("settings_jobs.status_done")),
        ("all", text::t("settings_jobs.status_all")),
    ]
}

async fn jobs(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<JobsParams>,
) -> Response {
    let a = caller.actor.clone();
    // Only known filters reach the page and its links; the use case checks them again.
    let status = match p.status.as_deref().filter(|v| !v.is_empty()) {
        None => "dead".to_string(),
        Some(v) if job_statuses().iter().any(|(k, _)| *k == v) => v.to_string(),
        Some(_) => {
            let e = Invalid::field("status", text::t("settings_jobs.status_invalid"));
            return error_page(&s, &caller, e.into()).await;
        }
    };
    let filter = (status != "all").then(|| status.clone());
    let csv_export = p.format.as_deref() == Some("csv");
    let first = async {
        let limit = if csv_export { 100 } else { 50 };
        let req = PageRequest::parse(Some(limit), p.cursor.as_deref())?;
        s.app.jobs(&a, filter.as_deref(), req).await
    }
    .await;
    let list = match first {
        Ok(x) => x,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    if csv_export {
        let app = s.app.clone();
        return csv::paged(
            "jobs.csv",
            &[
                "id",
                "kind",
                "status",
                "attempts",
                "max_attempts",
                "run_at",
                "created",
                "last_error",
            ],
            list,
            move |cursor| {
                let (app, a, filter) = (app.clone(), a.clone(), filter.clone());
                Box::pin(async move {
                    let req = PageRequest {
                        limit: 100,
                        after: Some(cursor),
                    };
                    app.jobs(&a, filter.as_deref(), req).await
                })
            },
            |j: &JobInfo| {
                vec![
                    j.id.to_string(),
                    j.kind.clone(),
                    j.status.clone(),
                    j.attempts.to_string(),
                    j.max_attempts.to_string(),
                    j.run_at.to_string(),
                    j.created_at.to_string(),
                    j.last_error.clone().unwrap_or_default(),
                ]
            },
        );
    }
    let rows = list
        .items
        .into_iter()
        .map(|j| {
            let err = j.last_error.unwrap_or_default();
            JobRow {
                id: j.id,
                attempts: text::tf(
                    "settings_jobs.attempts_of",
                    &[("attempts", &j.attempts), ("max", &j.max_attempts)],
                ),
                run_at: when(j.run_at),
                run_at_iso: j.run_at.to_string(),
                created: when(j.created_at),
                created_iso: j.created_at.to_string(),
                last_error: shorten(&err, 120),
                last_error_full: err,
                dead: j.status == "dead",
                kind: j.kind,
                status: j.status,
            }
        })
        .collect();
    page(JobsPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "jobs",
        admin: true,
        next_link: list
            .next
            .map(|c| format!("/settings/jobs?status={status}&cursor={}", c.encode())),
        status,
        statuses: job_statuses().to_vec(),
        rows,
        notice: notice(p.notice.as_deref()),
    })
}

async fn retry_job(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    confirmed(
        &s,
        &caller,
        &f.csrf,
        || s.app.retry_job(&caller.actor, id),
        "/settings/jobs?status=dead&notice=job-retried",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            sentence("a team with this name exists"),
            "A team with this name exists."
        );
        assert_eq!(
            sentence("ann@example.com is already a member"),
            "ann@example.com is already a member."
        );
        assert_eq!(sentence("Done."), "Done.");
    }

    #[test]
    fn invalid_input_is_fixable_and_names_the_field() {
        let e: AppError = Invalid::field("password", "must be at least 10 characters").into();
        let (status, text) = fixable(&e).unwrap_or((StatusCode::OK, String::new()));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(text, "Password must be at least 10 characters.");
        assert!(fixable(&AppError::Forbidden).is_none());
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert_eq!(notice(Some("user-added")), Some("User added."));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }

    #[test]
    fn long_text_is_shortened() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
    }

    #[test]
    fn repeated_fields_are_collected() {
        let f = Fields(vec![
            ("name".into(), "Billing".into()),
            ("member_ids".into(), "3".into()),
            ("member_ids".into(), "5".into()),
        ]);
        assert_eq!(f.get("name"), "Billing");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.ids("member_ids"), Ok(vec![3, 5]));
        let bad = Fields(vec![("member_ids".into(), "x".into())]);
        assert!(bad.ids("member_ids").is_err());
    }
}

// ---- Received mail --------------------------------------------------------------------------

struct MailRow {
    time: String,
    time_iso: String,
    inbox: String,
    from: String,
    outcome: &'static str,
    reason: String,
    conversation_id: Option<i64>,
    size: String,
}

#[derive(Template)]
#[template(path = "settings/mail.html")]
struct MailPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<MailRow>,
    next_link: Option<String>,
    paged: bool,
}

/// What became of a mail, as people say it.
fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "created" => "New conversation",
        "appended" => "Added to a conversation",
        "auto_reply" => "Automatic reply, recorded",
        "bounce" => "Delivery report",
        "ignored" => "Ignored",
        _ => "Refused",
    }
}

/// Mail that reached the workspace's inboxes, newest first, and what became of each.
async fn received_mail(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<AuditParams>,
) -> Response {
    let a = caller.actor.clone();
    let csv_export = p.format.as_deref() == Some("csv");
    let first = async {
        let limit = if csv_export { 100 } else { 50 };
        let req = PageRequest::parse(Some(limit), p.cursor.as_deref())?;
        let mail = s.app.inbound_mail(&a, req).await?;
        Ok::<_, AppError>((mail, s.app.inboxes(&a).await?))
    }
    .await;
    let (mail, inboxes) = match first {
        Ok(x) => x,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let inbox_names: HashMap<i64, String> = inboxes.into_iter().map(|i| (i.id, i.name)).collect();
    if csv_export {
        let app = s.app.clone();
        return csv::paged(
            "received-mail.csv",
            &[
                "time",
                "inbox",
                "source",
                "envelope_from",
                "outcome",
                "reason",
                "conversation_id",
                "size",
            ],
            mail,
            move |cursor| {
                let (app, a) = (app.clone(), a.clone());
                Box::pin(async move {
                    let req = PageRequest {
                        limit: 100,
                        after: Some(cursor),
                    };
                    app.inbound_mail(&a, req).await
                })
            },
            move |m| {
                vec![
                    m.received_at.to_string(),
                    inbox_names.get(&m.inbox_id).cloned().unwrap_or_default(),
                    m.source.clone(),
                    m.envelope_from.clone().unwrap_or_default(),
                    m.outcome.clone(),
                    m.reason.clone().unwrap_or_default(),
                    m.conversation_id.map(|i| i.to_string()).unwrap_or_default(),
                    m.size.to_string(),
                ]
            },
        );
    }
    let rows = mail
        .items
        .iter()
        .map(|m| MailRow {
            time: when(m.received_at),
            time_iso: m.received_at.to_string(),
            inbox: inbox_names.get(&m.inbox_id).cloned().unwrap_or_default(),
            from: m.envelope_from.clone().unwrap_or_else(|| "(none)".into()),
            outcome: outcome_label(&m.outcome),
            reason: m.reason.clone().unwrap_or_default(),
            conversation_id: m.conversation_id,
            size: format!("{:.1} KB", m.size as f64 / 1024.0),
        })
        .collect();
    page(MailPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "mail",
        admin: true,
        rows,
        next_link: mail
            .next
            .map(|c| format!("/settings/mail?cursor={}", c.encode())),
        paged: p.cursor.is_some(),
    })
}
