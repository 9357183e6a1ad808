//! The web screens: server-rendered pages that work without JavaScript, enhanced by a small
//! script for live updates and shortcuts. Each list and timeline also renders alone as a partial,
//! which the script fetches when an event arrives.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use citius_app::conversations::{ConversationQuery, NewMessageInput, UpdateConversationInput};
use citius_app::{Actor, AppError};
use citius_domain::conversation::{MessageKind, Priority, Status};
use citius_domain::paging::PageRequest;
use citius_domain::records::{Conversation, Customer, TimelineItem};
use jiff::Timestamp;
use rust_embed::Embed;
use serde::Deserialize;

use crate::auth::{
    Caller, WebSession, clear_session_cookie, client_ip, same_secret, session_cookie,
};
use crate::extract::{Path, Query};
use crate::state::AppState;

mod automation;
mod chat;
mod csv;
mod customers_merge;
mod handoffs;
mod inbox_views;
mod macros;
mod mailboxes;
mod phone;
mod routing;
mod settings;
mod sla;
pub(crate) mod text;
mod webhooks;

#[derive(Embed)]
#[folder = "assets/"]
pub(crate) struct Assets;

pub fn routes(max_message_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/workspace/switch", post(switch_workspace))
        .route("/inbox", get(inbox))
        .route("/inbox/list", get(inbox_list))
        .route("/conversations/{id}", get(conversation))
        .route("/conversations/{id}/timeline", get(timeline_partial))
        .route(
            "/conversations/{id}/messages",
            post(post_message).layer(axum::extract::DefaultBodyLimit::max(max_message_bytes)),
        )
        .route("/messages/{id}/resend", post(resend_email))
        .route("/conversations/{id}/update", post(post_update))
        .route("/mentions", get(mentions_page))
        .route("/customers", get(customers))
        .route("/customers/{id}", get(customer))
        .route("/customers/{id}/notes", post(post_customer_note))
        .route("/search", get(search))
        .route("/assets/{*file}", get(asset))
        .merge(settings::routes())
        .merge(handoffs::routes())
        .merge(routing::routes())
        .merge(sla::routes())
        .merge(automation::routes())
        .merge(webhooks::routes())
        .merge(chat::routes())
        .merge(customers_merge::routes())
        .merge(inbox_views::routes())
        .merge(mailboxes::routes())
        .merge(phone::routes())
        .merge(macros::routes())
}

async fn asset(Path(file): Path<String>) -> Response {
    match Assets::get(&file) {
        Some(f) => {
            let mime = match file.rsplit('.').next() {
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("svg") => "image/svg+xml",
                _ => "application/octet-stream",
            };
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "public, max-age=3600"),
                ],
                f.data,
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A page as HTML, with headers that keep injected content inert.
fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => (
            [
                (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "same-origin"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Html(html),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, text::t("error.render_failed")).into_response()
        }
    }
}

struct Nav {
    csrf: String,
    section: &'static str,
    query: String,
    user_name: String,
    email: String,
    workspace: String,
    /// Every workspace the user belongs to, for the switcher: (slug, name, current).
    workspaces: Vec<(String, String, bool)>,
    /// The user's own presence, for members who work conversations.
    presence: Option<routing::TopPresence>,
}

async fn nav(s: &AppState, caller: &Caller, section: &'static str, query: &str) -> Nav {
    let workspaces: Vec<(String, String, bool)> = s
        .app
        .workspaces_of(&caller.actor)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(w, _)| (w.slug, w.name, w.id == caller.actor.workspace_id))
        .collect();
    let workspace = workspaces
        .iter()
        .find(|w| w.2)
        .map(|w| w.1.clone())
        .unwrap_or_default();
    Nav {
        csrf: csrf_of(caller),
        section,
        query: query.to_string(),
        user_name: caller.actor.name.clone(),
        email: caller.actor.email.clone(),
        workspace,
        workspaces,
        presence: routing::top_presence(s, &caller.actor).await,
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    message: String,
}

/// The form token of a signed-in session (empty for API tokens, which need none).
fn csrf_of(caller: &Caller) -> String {
    caller
        .session
        .as_ref()
        .map(|x| x.csrf_token.clone())
        .unwrap_or_default()
}

/// Shows an error as a page of its own, keeping the navigation.
async fn error_page(s: &AppState, caller: &Caller, e: AppError) -> Response {
    let (status, title) = match &e {
        AppError::NotFound => (StatusCode::NOT_FOUND, text::t("error.not_found")),
        AppError::Forbidden => (StatusCode::FORBIDDEN, text::t("error.not_allowed")),
        AppError::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            text::t("error.check_input"),
        ),
        AppError::Conflict(_) => (StatusCode::CONFLICT, text::t("error.conflict")),
        AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, text::t("error.slow_down")),
        AppError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            text::t("error.unavailable"),
        ),
        AppError::Unauthorized => return Redirect::to("/login").into_response(),
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error on a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                text::t("error.went_wrong"),
            )
        }
    };
    let message = match &e {
        AppError::Internal(_) => text::t("error.went_wrong_logged").to_string(),
        other => sentence(&other.to_string()),
    };
    let mut res = page(ErrorPage {
        nav: nav(s, caller, "", "").await,
        title: title.into(),
        message,
    });
    *res.status_mut() = status;
    res
}

/// A use case's message as a sentence: capital first letter (unless it starts with an email
/// address), full stop at the end.
/// A field of a form read as pairs (forms with repeated or generated names).
fn form_value<'a>(f: &'a [(String, String)], key: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut out = match s.chars().next() {
        Some(c) if !s.split(' ').next().unwrap_or("").contains('@') => {
            c.to_uppercase().chain(s.chars().skip(1)).collect()
        }
        _ => s.to_string(),
    };
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

// ---- Sign in ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    email: String,
}

async fn login_page() -> Response {
    page(LoginPage {
        error: None,
        email: String::new(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login_submit(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, text::t("login.cross_site")).into_response();
    }
    let ip = client_ip(&headers, Some(peer), s.config.trust_proxy);
    match s
        .app
        .login(&f.email, &f.password, None, ip.as_deref())
        .await
    {
        Ok(session) => {
            let max_age = (session.expires_at_ms - citius_store::now_ms()) / 1000;
            (
                AppendHeaders([(
                    header::SET_COOKIE,
                    session_cookie(&session.token, max_age, s.config.secure_cookies),
                )]),
                Redirect::to("/inbox"),
            )
                .into_response()
        }
        Err(e) => {
            let (status, message) = match e {
                AppError::RateLimited { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    text::tf(
                        "login.too_many_attempts",
                        &[("minutes", &retry_after_secs.div_ceil(60))],
                    ),
                ),
                AppError::Unauthorized => (
                    StatusCode::UNAUTHORIZED,
                    text::t("login.wrong_password").to_string(),
                ),
                other => {
                    tracing::error!(error = %other, "sign-in failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        text::t("login.unavailable").to_string(),
                    )
                }
            };
            let mut res = page(LoginPage {
                error: Some(message),
                email: f.email,
            });
            *res.status_mut() = status;
            res
        }
    }
}

/// Browsers send Origin on form posts; one from another site is refused. Requests without it
/// (older clients, tools) are judged by the form token where there is a session.
fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return true;
    };
    origin.split_once("://").map(|(_, h)| h) == Some(host)
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    pub(super) csrf: String,
}

/// The refusal for a form without this session's token (forged, or from an ended session).
fn check_csrf(caller: &Caller, sent: &str) -> Result<(), Box<Response>> {
    let expected = caller
        .session
        .as_ref()
        .map(|x| x.csrf_token.as_str())
        .unwrap_or("");
    if expected.is_empty() || !same_secret(sent, expected) {
        return Err(Box::new(
            (StatusCode::FORBIDDEN, text::t("common.form_expired")).into_response(),
        ));
    }
    Ok(())
}

async fn logout(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    if let Some(session) = &caller.session
        && let Err(e) = s.app.logout(&session.token).await
    {
        return error_page(&s, &caller, e).await;
    }
    (
        AppendHeaders([(header::SET_COOKIE, clear_session_cookie())]),
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct SwitchForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    slug: String,
}

/// Moves the signed-in user to another of their workspaces: a new session there, and this one
/// ends.
async fn switch_workspace(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<SwitchForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let Some(session) = &caller.session else {
        return Redirect::to("/login").into_response();
    };
    match s
        .app
        .switch_workspace(&caller.actor, &session.token, &f.slug)
        .await
    {
        Ok(new) => {
            let max_age = (new.expires_at_ms - citius_store::now_ms()) / 1000;
            (
                AppendHeaders([(
                    header::SET_COOKIE,
                    session_cookie(&new.token, max_age, s.config.secure_cookies),
                )]),
                Redirect::to("/inbox"),
            )
                .into_response()
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

// ---- Inbox --------------------------------------------------------------------------------

struct RowView {
    id: i64,
    subject: String,
    customer: String,
    channel: String,
    status: String,
    priority: String,
    tags: Vec<String>,
    assignee: String,
    updated: String,
    updated_iso: String,
}

/// "5 min ago" reads faster than a date for anything recent.
fn ago(t: Timestamp) -> String {
    let secs = (Timestamp::now().as_second() - t.as_second()).max(0);
    match secs {
        0..=59 => text::t("common.just_now").into(),
        60..=3599 => text::tf("common.minutes_ago", &[("n", &(secs / 60))]),
        3600..=86_399 => text::tf("common.hours_ago", &[("n", &(secs / 3600))]),
        86_400..=604_799 => text::tf("common.days_ago", &[("n", &(secs / 86_400))]),
        _ => t.strftime("%Y-%m-%d").to_string(),
    }
}

fn row(c: &Conversation, names: &HashMap<i64, String>) -> RowView {
    RowView {
        id: c.id,
        subject: c.subject.clone(),
        customer: c.customer_name.clone(),
        channel: c.channel.to_string(),
        status: c.status.to_string(),
        priority: c.priority.to_string(),
        tags: c.tags.clone(),
        assignee: c
            .assignee_id
            .and_then(|a| names.get(&a).cloned())
            .unwrap_or_else(|| text::t("inbox.unassigned").into()),
        updated: ago(c.updated_at),
        updated_iso: c.updated_at.to_string(),
    }
}

async fn user_names(s: &AppState, actor: &Actor) -> HashMap<i64, String> {
    s.app
        .users(actor)
        .await
        .map(|u| u.into_iter().map(|u| (u.id, u.name)).collect())
        .unwrap_or_default()
}

struct ViewLink {
    key: &'static str,
    label: &'static str,
    /// "12", or "999+" past the counting cap.
    count: Option<String>,
    current: bool,
}

#[derive(Deserialize, Default)]
struct InboxParams {
    view: Option<String>,
    /// A saved view's id.
    saved: Option<i64>,
    cursor: Option<String>,
    // Filters of a custom view; empty means "any".
    status: Option<String>,
    assignee: Option<String>,
    team_id: Option<String>,
    tag: Option<String>,
    channel: Option<String>,
    inbox_id: Option<String>,
    /// `latest` or `oldest` activity first; applies to any view.
    sort: Option<String>,
}

impl InboxParams {
    /// The custom filters given, if any (numbers that do not parse are a clear error).
    fn filters(&self) -> Result<citius_domain::views::ViewFilters, AppError> {
        let number = |field: &str, v: &Option<String>| -> Result<Option<i64>, AppError> {
            match v.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(n) => n.parse().map(Some).map_err(|_| {
                    citius_domain::Invalid::field(
                        field.to_string(),
                        text::t("common.must_be_a_number"),
                    )
                    .into()
                }),
            }
        };
        Ok(citius_domain::views::ViewFilters {
            status: self.status.clone(),
            assignee: self.assignee.clone(),
            team_id: number("team_id", &self.team_id)?,
            tag: self.tag.clone(),
            channel: self.channel.clone(),
            inbox_id: number("inbox_id", &self.inbox_id)?,
            // Sorting alone does not make a custom view; `shown` adds it to one.
            sort: None,
        }
        .tidy())
    }

    fn sort(&self) -> Option<String> {
        self.sort
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }
}

/// The inbox's views: which conversations each shows.
fn view_query(view: &str) -> (ConversationQuery, &'static str) {
    let q = |status: &str, assignee: Option<&str>| ConversationQuery {
        status: Some(status.into()),
        assignee: assignee.map(str::to_string),
        ..Default::default()
    };
    match view {
        "unassigned" => (q("open,pending", Some("none")), text::t("inbox.unassigned")),
        "all" => (q("open,pending", None), text::t("inbox.view_all")),
        "snoozed" => (q("snoozed", None), text::t("inbox.view_snoozed")),
        "resolved" => (q("resolved,closed", None), text::t("inbox.view_resolved")),
        _ => (q("open,pending", Some("me")), text::t("inbox.view_mine")),
    }
}

/// What the inbox shows: a preset view, a saved one, or filters picked just now.
struct Shown {
    /// `mine`, `unassigned`, ..., `saved` or `custom`.
    view: String,
    title: String,
    /// The query string that shows it again (for paging and live updates).
    query: String,
    filters: citius_domain::views::ViewFilters,
    saved: Option<citius_domain::records::SavedView>,
}

fn filter_query(f: &citius_domain::views::ViewFilters) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("view", "custom");
    for (k, v) in [
        ("status", f.status.clone()),
        ("assignee", f.assignee.clone()),
        ("team_id", f.team_id.map(|t| t.to_string())),
        ("tag", f.tag.clone()),
        ("channel", f.channel.clone()),
        ("inbox_id", f.inbox_id.map(|t| t.to_string())),
        ("sort", f.sort.clone()),
    ] {
        if let Some(v) = v {
            q.append_pair(k, &v);
        }
    }
    q.finish()
}

async fn shown(
    s: &AppState,
    actor: &Actor,
    p: &InboxParams,
) -> Result<(Shown, ConversationQuery), AppError> {
    let sort = p.sort();
    let with_sort = |query: String| match &sort {
        Some(v) => format!(
            "{query}&sort={}",
            url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
        ),
        None => query,
    };
    if let Some(id) = p.saved {
        let v = s.app.saved_view(actor, id).await?;
        let mut q = ConversationQuery::from(&v.filters);
        if sort.is_some() {
            q.sort = sort.clone();
        }
        return Ok((
            Shown {
                view: "saved".into(),
                title: v.name.clone(),
                query: with_sort(format!("saved={id}")),
                filters: v.filters.clone(),
                saved: Some(v),
            },
            q,
        ));
    }
    let mut filters = p.filters()?;
    if p.view.as_deref() == Some("custom") || !filters.is_empty() {
        filters.sort = sort;
        return Ok((
            Shown {
                view: "custom".into(),
                title: text::t("inbox.view_filtered").into(),
                query: filter_query(&filters),
                filters: filters.clone(),
                saved: None,
            },
            ConversationQuery::from(&filters),
        ));
    }
    // Only the preset names: the name goes back into links and forms as it is.
    let view = match p.view.as_deref() {
        Some(v @ ("unassigned" | "all" | "snoozed" | "resolved")) => v.to_string(),
        _ => "mine".to_string(),
    };
    let (mut q, title) = view_query(&view);
    q.sort = sort.clone();
    Ok((
        Shown {
            query: with_sort(format!("view={view}")),
            view,
            title: title.into(),
            filters: citius_domain::views::ViewFilters::default(),
            saved: None,
        },
        q,
    ))
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    nav: Nav,
    views: Vec<ViewLink>,
    view: String,
    view_title: String,
    /// The query string of what is shown, for live updates.
    live_query: String,
    unseen_mentions: i64,
    /// Saved views: id, name, whether it is the one shown.
    saved_views: Vec<(i64, String, bool)>,
    saved_id: Option<i64>,
    can_delete_view: bool,
    can_share: bool,
    filters: citius_domain::views::ViewFilters,
    choices: inbox_views::FilterChoices,
    /// The order shown (`latest` or `oldest`), and the query without it for the sort form.
    sort: String,
    keep: Vec<(String, String)>,
    rows: Vec<RowView>,
    next_link: Option<String>,
    next_label: &'static str,
    strip: handoffs::InboxStrip,
}

#[derive(Template)]
#[template(path = "inbox_list.html")]
struct InboxList {
    rows: Vec<RowView>,
    next_link: Option<String>,
    next_label: &'static str,
}

/// A page of the inbox list, as both the full page and the live partial show it.
struct Listed {
    shown: Shown,
    rows: Vec<RowView>,
    next_link: Option<String>,
    next_label: &'static str,
    /// `latest` or `oldest`.
    sort: &'static str,
}

async fn inbox_rows(
    s: &AppState,
    actor: &Actor,
    p: &InboxParams,
    names: &HashMap<i64, String>,
) -> Result<Listed, AppError> {
    let (shown, mut q) = shown(s, actor, p).await?;
    q.cursor = p.cursor.clone();
    let page = s.app.conversations(actor, &q).await?;
    // The query was checked just now, so the sort is one the list knows.
    let sort = q
        .sort
        .as_deref()
        .and_then(|v| citius_domain::conversation::Sort::parse(v).ok())
        .unwrap_or_default();
    let rows = page.items.iter().map(|c| row(c, names)).collect();
    let next_link = page
        .next
        .map(|c| format!("/inbox?{}&cursor={}", shown.query, c.encode()));
    Ok(Listed {
        shown,
        rows,
        next_link,
        next_label: match sort {
            citius_domain::conversation::Sort::Latest => text::t("inbox.older_conversations"),
            citius_domain::conversation::Sort::Oldest => text::t("inbox.newer_conversations"),
        },
        sort: sort.as_str(),
    })
}

/// The query of what is shown, less its order: the sort form sends it back with a new one.
fn without_sort(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "sort")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn inbox(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<InboxParams>,
) -> Response {
    let actor = &caller.actor;
    let names = user_names(&s, actor).await;
    let Listed {
        shown,
        rows,
        next_link,
        next_label,
        sort,
    } = match inbox_rows(&s, actor, &p, &names).await {
        Ok(x) => x,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let view = shown.view.clone();
    let strip = handoffs::inbox_strip(&s, actor, &names).await;
    let counts = s.app.inbox_counts(actor).await.ok();
    let count = |f: fn(&citius_app::conversations::InboxCounts) -> i64| {
        counts.as_ref().map(f).map(|n| {
            if n >= citius_store::conversations::COUNT_CAP {
                format!("{}+", citius_store::conversations::COUNT_CAP - 1)
            } else {
                n.to_string()
            }
        })
    };
    let views = vec![
        ViewLink {
            key: "mine",
            label: text::t("inbox.view_mine"),
            count: count(|c| c.mine_open),
            current: view == "mine",
        },
        ViewLink {
            key: "unassigned",
            label: text::t("inbox.unassigned"),
            count: count(|c| c.unassigned_open),
            current: view == "unassigned",
        },
        ViewLink {
            key: "all",
            label: text::t("inbox.view_all"),
            count: count(|c| c.open),
            current: view == "all",
        },
        ViewLink {
            key: "snoozed",
            label: text::t("inbox.view_snoozed"),
            count: count(|c| c.snoozed),
            current: view == "snoozed",
        },
        ViewLink {
            key: "resolved",
            label: text::t("inbox.view_resolved"),
            count: None,
            current: view == "resolved",
        },
    ];
    let saved_views = s.app.saved_views(actor).await.unwrap_or_default();
    let unseen_mentions = s.app.unseen_mentions(actor).await.unwrap_or(0);
    let choices = inbox_views::FilterChoices::load(&s, actor, &names).await;
    page(InboxPage {
        nav: nav(&s, &caller, "inbox", "").await,
        views,
        view,
        view_title: shown.title.clone(),
        live_query: shown.query.clone(),
        unseen_mentions,
        saved_views: saved_views
            .into_iter()
            .map(|v| {
                (
                    v.id,
                    v.name,
                    shown.saved.as_ref().is_some_and(|c| c.id == v.id),
                )
            })
            .collect(),
        can_delete_view: shown.saved.as_ref().is_some_and(|v| {
            v.owner_id == actor.user_id
                || citius_app::require(actor, citius_domain::role::Permission::Administer).is_ok()
        }),
        saved_id: shown.saved.as_ref().map(|v| v.id),
        can_share: citius_app::require(actor, citius_domain::role::Permission::Administer).is_ok(),
        keep: without_sort(&shown.query),
        sort: sort.to_string(),
        filters: shown.filters,
        choices,
        rows,
        next_link,
        next_label,
        strip,
    })
}

async fn inbox_list(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<InboxParams>,
) -> Response {
    let names = user_names(&s, &caller.actor).await;
    match inbox_rows(&s, &caller.actor, &p, &names).await {
        Ok(l) => page(InboxList {
            rows: l.rows,
            next_link: l.next_link,
            next_label: l.next_label,
        }),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

// ---- Conversation -------------------------------------------------------------------------

/// How a message travelled by email, as the timeline shows it.
struct EmailLine {
    message_id: i64,
    from: String,
    to: String,
    /// `received`, `queued`, `sent`, `failed` or `bounced`.
    state: String,
    error: Option<String>,
    has_original: bool,
}

/// A mail's own words and the quoted text or signature after them, when there is a fold.
fn folded(m: &citius_domain::records::Message) -> Option<(String, String)> {
    let at = usize::try_from(m.email.as_ref()?.fold_at?).ok()?;
    let split = m.body_text.char_indices().nth(at).map(|(b, _)| b)?;
    let (own, rest) = m.body_text.split_at(split);
    Some((own.trim_end().to_string(), rest.to_string()))
}

fn email_line(m: &citius_domain::records::Message) -> Option<EmailLine> {
    let e = m.email.as_ref()?;
    Some(EmailLine {
        message_id: m.id,
        from: e.from.clone(),
        to: e.to.join(", "),
        state: e.delivery_state.clone(),
        error: e.delivery_error.clone(),
        has_original: e.has_original,
    })
}

/// How an SMS or WhatsApp message travelled, for the timeline.
struct TextLine {
    channel: &'static str,
    address: String,
    state: String,
    error: Option<String>,
}

fn text_line(m: &citius_domain::records::Message) -> Option<TextLine> {
    let t = m.text.as_ref()?;
    let (channel, address) = match t.customer_address.strip_prefix("whatsapp:") {
        Some(number) => (text::t("common.whatsapp"), number.to_string()),
        None => (text::t("common.sms"), t.customer_address.clone()),
    };
    Some(TextLine {
        channel,
        address,
        state: t.delivery_state.clone(),
        error: t.delivery_error.clone(),
    })
}

enum TimelineView {
    Message {
        id: i64,
        kind: String,
        author: String,
        time: String,
        time_iso: String,
        html: String,
        attachments: Vec<(i64, String)>,
        email: Option<EmailLine>,
        text: Option<TextLine>,
        fold: Option<(String, String)>,
    },
    Event {
        text: String,
        /// A call recording to listen to, at the provider.
        link: Option<String>,
        time: String,
        time_iso: String,
    },
    /// A `transferred` event: the capsule the receiver got, as a card.
    Handoff {
        h: handoffs::HandoffEntry,
        time: String,
        time_iso: String,
    },
}

fn describe_event(e: &citius_domain::records::Event, names: &HashMap<i64, String>) -> String {
    use citius_domain::event::EventKind as K;
    let rule = e.data.pointer("/rule/rule_name").and_then(|v| v.as_str());
    let who = e
        .actor_user_id
        .and_then(|id| names.get(&id).cloned())
        .or_else(|| rule.map(|r| text::tf("events.rule", &[("rule", &r)])))
        .unwrap_or_else(|| "Citius".into());
    let name_of = |v: &serde_json::Value| v.as_i64().and_then(|id| names.get(&id).cloned());
    let d = &e.data;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match e.kind {
        K::Created => text::tf("events.created", &[("who", &who)]),
        K::MessageAdded => String::new(),
        K::Assigned if d.pointer("/routing/summary").is_some_and(|v| v.is_string()) => {
            let to =
                name_of(&d["assignee_id"]).unwrap_or_else(|| text::t("events.an_agent").into());
            let why = d.pointer("/routing/summary").and_then(|v| v.as_str());
            text::tf(
                "events.routed",
                &[("to", &to), ("why", &why.unwrap_or_default())],
            )
        }
        K::Assigned | K::Transferred => {
            let to = name_of(&d["assignee_id"]).unwrap_or_else(|| text::t("events.nobody").into());
            if e.kind == K::Transferred {
                text::tf("events.transferred", &[("who", &who), ("to", &to)])
            } else {
                text::tf("events.assigned", &[("who", &who), ("to", &to)])
            }
        }
        K::StatusChanged => text::tf(
            "events.status_changed",
            &[("who", &who), ("from", &s("from")), ("to", &s("to"))],
        ),
        K::PriorityChanged => text::tf(
            "events.priority_changed",
            &[("who", &who), ("from", &s("from")), ("to", &s("to"))],
        ),
        K::Tagged => text::tf(
            "events.tagged",
            &[("who", &who), ("tags", &join(&d["tags"]))],
        ),
        K::Untagged => text::tf(
            "events.untagged",
            &[("who", &who), ("tags", &join(&d["tags"]))],
        ),
        K::SubjectChanged => text::tf("events.subject_changed", &[("who", &who)]),
        K::FieldsChanged => text::tf("events.fields_changed", &[("who", &who)]),
        K::CustomerMerged => text::tf("events.customer_merged", &[("who", &who)]),
        K::Queued => text::tf("events.queued", &[("reason", &s("reason"))]),
        K::Requeued => text::tf("events.requeued", &[("reason", &s("reason"))]),
        K::Overflowed => {
            let to = d["team_id"]
                .as_i64()
                .map(|t| text::tf("events.team_n", &[("id", &t)]))
                .unwrap_or_default();
            text::tf("events.overflowed", &[("to", &to)])
        }
        K::TransferOffered => {
            let to = name_of(&d["to_user_id"]).unwrap_or_else(|| text::t("events.a_team").into());
            text::tf("events.transfer_offered", &[("who", &who), ("to", &to)])
        }
        K::TransferDeclined => {
            let why = s("reason");
            if why.is_empty() {
                text::tf("events.transfer_declined", &[("who", &who)])
            } else {
                text::tf(
                    "events.transfer_declined_why",
                    &[("who", &who), ("reason", &why)],
                )
            }
        }
        K::TransferExpired => text::t("events.transfer_expired").to_string(),
        K::TransferCancelled => text::tf("events.transfer_cancelled", &[("who", &who)]),
        K::FollowUpAdded => text::tf(
            "events.follow_up_added",
            &[("who", &who), ("text", &s("text"))],
        ),
        K::FollowUpDone => text::tf(
            "events.follow_up_done",
            &[("who", &who), ("text", &s("text"))],
        ),
        K::FollowUpDue => text::tf("events.follow_up_due", &[("text", &s("text"))]),
        K::SlaApplied => text::tf("events.sla_applied", &[("policy", &s("policy_name"))]),
        K::SlaWarning => text::tf(
            "events.sla_warning",
            &[
                ("metric", &metric_label(&s("metric"))),
                ("policy", &s("policy_name")),
            ],
        ),
        K::SlaBreached => text::tf(
            "events.sla_breached",
            &[
                ("metric", &metric_label(&s("metric"))),
                ("policy", &s("policy_name")),
            ],
        ),
        K::RuleStopped => text::tf("events.rule_stopped", &[("reason", &s("reason"))]),
        K::EmailSent => text::tf("events.email_sent", &[("to", &s("to"))]),
        K::EmailFailed => text::tf(
            "events.email_failed",
            &[("to", &s("to")), ("error", &s("error"))],
        ),
        K::TextFailed => text::tf(
            "events.text_failed",
            &[("to", &s("to")), ("error", &s("error"))],
        ),
        K::CallUpdated => describe_call(d),
        K::Mentioned => {
            let whom =
                name_of(&d["user_id"]).unwrap_or_else(|| text::t("events.a_colleague").into());
            text::tf("events.mentioned", &[("who", &who), ("whom", &whom)])
        }
    }
}

/// A call event in words: what changed, with the duration as m:ss.
fn describe_call(d: &serde_json::Value) -> String {
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let minutes = |k: &str| {
        d.get(k)
            .and_then(|v| v.as_i64())
            .map(|secs| format!("{}:{:02}", secs / 60, secs % 60))
    };
    if s("change") == "recording" {
        return match minutes("recording_secs") {
            Some(m) => text::tf("events.call_recording_length", &[("length", &m)]),
            None => text::t("events.call_recording").into(),
        };
    }
    match s("phase").as_str() {
        "ringing" if d["outbound"].as_bool() == Some(true) => {
            text::tf("events.calling", &[("number", &s("customer_number"))])
        }
        "ringing" => text::tf("events.incoming_call", &[("number", &s("customer_number"))]),
        "answered" => text::t("events.call_answered").into(),
        "transferred" => match s("transferred_to").as_str() {
            "" => text::t("events.call_transferred").into(),
            to => text::tf("events.call_transferred_to", &[("to", &to)]),
        },
        "completed" => match minutes("duration_secs") {
            Some(m) => text::tf("events.call_ended_after", &[("length", &m)]),
            None => text::t("events.call_ended").into(),
        },
        "missed" => text::tf("events.call_missed", &[("status", &s("provider_status"))]),
        other => text::tf("events.call_other", &[("phase", &other)]),
    }
}

/// The recording a call event points to, if it is a recording event.
fn recording_link(e: &citius_domain::records::Event) -> Option<String> {
    (e.kind == citius_domain::event::EventKind::CallUpdated
        && e.data["change"].as_str() == Some("recording"))
    .then(|| e.data["recording_url"].as_str().map(str::to_string))
    .flatten()
    .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
}

/// How people name an SLA metric.
pub(crate) fn metric_label(metric: &str) -> &'static str {
    match metric {
        "first_response" => text::t("sla.first_response"),
        "next_response" => text::t("sla.next_response"),
        "resolution" => text::t("sla.resolution"),
        _ => text::t("sla.sla"),
    }
}

fn join(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn timeline_view(
    items: Vec<TimelineItem>,
    names: &HashMap<i64, String>,
    customer: &str,
) -> Vec<TimelineView> {
    items
        .into_iter()
        .filter_map(|i| match i {
            TimelineItem::Message(m) => Some(TimelineView::Message {
                id: m.id,
                email: email_line(&m),
                text: text_line(&m),
                fold: folded(&m),
                kind: m.kind.to_string(),
                author: match m.kind {
                    MessageKind::Inbound => customer.to_string(),
                    _ => m
                        .author_user_id
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_else(|| text::t("conversation.agent").into()),
                },
                time: ago(m.created_at),
                time_iso: m.created_at.to_string(),
                html: m.body_html,
                attachments: m
                    .attachments
                    .into_iter()
                    .map(|a| (a.id, a.filename))
                    .collect(),
            }),
            TimelineItem::Event(e) => {
                if let Some(h) = handoffs::timeline_entry(&e, names) {
                    return Some(TimelineView::Handoff {
                        h,
                        time: ago(e.created_at),
                        time_iso: e.created_at.to_string(),
                    });
                }
                let text = describe_event(&e, names);
                (!text.is_empty()).then(|| TimelineView::Event {
                    text,
                    link: recording_link(&e),
                    time: ago(e.created_at),
                    time_iso: e.created_at.to_string(),
                })
            }
        })
        .collect()
}

struct CustomerView {
    id: i64,
    name: String,
    identities: Vec<(String, String)>,
    /// Each identity: its kind in words, as the API names it, and its value (for splitting).
    raw_identities: Vec<(String, String, String)>,
    attributes: Vec<(String, String)>,
}

fn customer_view(c: &Customer) -> CustomerView {
    CustomerView {
        id: c.id,
        name: c.name.clone(),
        identities: c
            .identities
            .iter()
            .map(|i| (i.kind.as_str().replace('_', " "), i.value.clone()))
            .collect(),
        raw_identities: c
            .identities
            .iter()
            .map(|i| {
                (
                    i.kind.as_str().replace('_', " "),
                    i.kind.as_str().to_string(),
                    i.value.clone(),
                )
            })
            .collect(),
        attributes: c
            .attributes
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    nav: Nav,
    c: RowView,
    items: Vec<TimelineView>,
    statuses: Vec<String>,
    priorities: Vec<String>,
    users: Vec<(i64, String, bool)>,
    /// The signed-in user's id, so "assign to me" (the `a` key) finds their option.
    me: i64,
    teams: Vec<(i64, String, bool)>,
    cu: CustomerView,
    others: Vec<(i64, String, String)>,
    h: handoffs::Panel,
    /// Where the conversation waits in its inbox's queue, when it does.
    queue: Option<String>,
    /// The SLA policy's name and its clocks, when one applies.
    sla: Option<(String, Vec<sla::ClockLine>)>,
    /// Macros the agent can apply here.
    macros: Vec<(i64, String)>,
    notice: Option<&'static str>,
    error: Option<String>,
    update_error: Option<String>,
    /// The form token, also for the forms inside the timeline.
    csrf: String,
}

/// What a form post adds when it shows the conversation again: a notice of what worked, an
/// error beside the form that did not, and what was typed into it.
#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    error: Option<String>,
    update_error: Option<String>,
    transfer: Option<handoffs::TransferDraft>,
    follow_up: Option<handoffs::FollowUpDraft>,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePartial {
    items: Vec<TimelineView>,
    csrf: String,
}

#[derive(Deserialize, Default)]
struct NoticeParams {
    notice: Option<String>,
}

async fn conversation(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Query(p): Query<NoticeParams>,
) -> Response {
    let extras = Extras {
        notice: handoffs::notice(p.notice.as_deref()),
        ..Extras::default()
    };
    conversation_page(&s, &caller, id, extras, StatusCode::OK).await
}

async fn conversation_page(
    s: &AppState,
    caller: &Caller,
    id: i64,
    extras: Extras,
    status: StatusCode,
) -> Response {
    let a = &caller.actor;
    let Extras {
        notice,
        error,
        update_error,
        transfer,
        follow_up,
    } = extras;
    let loaded = async {
        let conv = s.app.conversation(a, id).await?;
        let items = s.app.timeline(a, id).await?;
        let users = s.app.users(a).await?;
        let teams = s.app.teams(a).await?;
        let customer = s.app.customer(a, conv.customer_id).await?;
        let others = s
            .app
            .conversations(
                a,
                &ConversationQuery {
                    customer_id: Some(conv.customer_id),
                    limit: Some(10),
                    ..Default::default()
                },
            )
            .await?;
        let h = handoffs::panel(s, a, &conv, &users, &teams, transfer, follow_up).await?;
        Ok::<_, AppError>((conv, items, users, teams, customer, others, h))
    }
    .await;
    let (conv, items, users, teams, customer, others, h) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(s, caller, e).await,
    };
    let names: HashMap<i64, String> = users.iter().map(|u| (u.id, u.name.clone())).collect();
    let queue = routing::queue_line(s, a, &conv).await;
    let sla = sla::clock_lines(s, a, conv.id).await;
    let macros = macros::choices(s, a).await;
    let nav = nav(s, caller, "inbox", "").await;
    let mut res = page(ConversationPage {
        sla,
        macros,
        csrf: nav.csrf.clone(),
        nav,
        items: timeline_view(items, &names, &conv.customer_name),
        statuses: Status::ALL.iter().map(|s| s.to_string()).collect(),
        priorities: Priority::ALL.iter().map(|p| p.to_string()).collect(),
        users: users
            .iter()
            .map(|u| (u.id, u.name.clone(), Some(u.id) == conv.assignee_id))
            .collect(),
        me: caller.actor.user_id,
        teams: teams
            .iter()
            .map(|t| (t.id, t.name.clone(), Some(t.id) == conv.team_id))
            .collect(),
        cu: customer_view(&customer),
        others: others
            .items
            .iter()
            .filter(|o| o.id != conv.id)
            .map(|o| (o.id, o.subject.clone(), o.status.to_string()))
            .collect(),
        c: row(&conv, &names),
        h,
        queue,
        notice,
        error,
        update_error,
    });
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

async fn timeline_partial(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
) -> Response {
    let a = &caller.actor;
    let loaded = async {
        let conv = s.app.conversation(a, id).await?;
        let items = s.app.timeline(a, id).await?;
        Ok::<_, AppError>((conv, items))
    }
    .await;
    match loaded {
        Ok((conv, items)) => {
            let names = user_names(&s, a).await;
            page(TimelinePartial {
                items: timeline_view(items, &names, &conv.customer_name),
                csrf: csrf_of(&caller),
            })
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

/// The composer's form: the text, reply or note, and any files (sent as multipart).
#[derive(Default)]
struct MessageForm {
    csrf: String,
    body: String,
    kind: Option<String>,
    files: Vec<citius_app::conversations::AttachmentInput>,
}

async fn read_message_form(mut form: axum::extract::Multipart) -> Result<MessageForm, AppError> {
    use base64::Engine;
    let bad = |e: axum::extract::multipart::MultipartError| {
        AppError::from(citius_domain::Invalid::field("files", e.body_text()))
    };
    let mut f = MessageForm::default();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "_csrf" => f.csrf = field.text().await.map_err(bad)?,
            "body" => f.body = field.text().await.map_err(bad)?,
            "kind" => f.kind = Some(field.text().await.map_err(bad)?),
            "files" => {
                let filename = field.file_name().unwrap_or("").to_string();
                let content_type = field.content_type().map(str::to_string);
                let data = field.bytes().await.map_err(bad)?;
                // A file input left empty still sends one nameless, empty part.
                if filename.is_empty() && data.is_empty() {
                    continue;
                }
                f.files.push(citius_app::conversations::AttachmentInput {
                    filename,
                    content_type,
                    data_base64: base64::engine::general_purpose::STANDARD.encode(&data),
                });
            }
            _ => {}
        }
    }
    Ok(f)
}

async fn post_message(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    form: axum::extract::Multipart,
) -> Response {
    let f = match read_message_form(form).await {
        Ok(f) => f,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let kind = match f.kind.as_deref() {
        Some("note") => MessageKind::Note,
        _ => MessageKind::Reply,
    };
    match s
        .app
        .add_message(
            &caller.actor,
            id,
            NewMessageInput {
                body: Some(f.body),
                html: None,
                kind: Some(kind),
                attachments: f.files,
            },
        )
        .await
    {
        Ok(_) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// Sends a failed or bounced email reply again, then shows its conversation.
async fn resend_email(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let a = &caller.actor;
    let result = async {
        let conversation = s.app.message(a, id).await?.conversation_id;
        s.app.resend_email(a, id).await?;
        Ok::<_, AppError>(conversation)
    }
    .await;
    match result {
        Ok(c) => Redirect::to(&format!("/conversations/{c}?notice=email-queued")).into_response(),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Deserialize)]
struct UpdateForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: Option<String>,
    priority: Option<String>,
    assignee_id: Option<String>,
    team_id: Option<String>,
    add_tag: Option<String>,
    snoozed_until: Option<String>,
}

fn optional_id(v: Option<&str>) -> Result<Option<Option<i64>>, AppError> {
    match v {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(x) => x.parse().map(|id| Some(Some(id))).map_err(|_| {
            citius_domain::Invalid::field("id", text::t("common.is_not_a_number")).into()
        }),
    }
}

async fn post_update(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<UpdateForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    let result = async {
        let current = s.app.conversation(&caller.actor, id).await?;
        let status = f.status.as_deref().map(Status::parse).transpose()?;
        // The form always sends every field: only what differs is a change.
        let snooze = match (status, f.snoozed_until.as_deref().filter(|v| !v.is_empty())) {
            (Some(Status::Snoozed), Some(local)) => Some(format!("{local}:00Z")),
            (Some(Status::Snoozed), None) if current.status != Status::Snoozed => {
                Some((Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string())
            }
            _ => None,
        };
        let status = status.filter(|s| *s != current.status || snooze.is_some());
        let input = UpdateConversationInput {
            status,
            snoozed_until: snooze.filter(|_| status == Some(Status::Snoozed)),
            priority: f.priority.as_deref().map(Priority::parse).transpose()?,
            assignee_id: optional_id(f.assignee_id.as_deref())?,
            team_id: optional_id(f.team_id.as_deref())?,
            add_tags: f.add_tag.filter(|t| !t.trim().is_empty()).map(|t| vec![t]),
            ..Default::default()
        };
        s.app.update_conversation(&caller.actor, id, input).await
    }
    .await;
    // A refusal the person can act on (an update is owed, a bad value) is shown beside the
    // form rather than on a page of its own.
    let (status, message) = match result {
        Ok(_) => return Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err(AppError::Conflict(m)) => (StatusCode::CONFLICT, sentence(&m)),
        Err(AppError::Invalid(i)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            i.fields
                .iter()
                .map(|f| sentence(&format!("{} {}", f.field.replace('_', " "), f.message)))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let extras = Extras {
        update_error: Some(message),
        ..Extras::default()
    };
    conversation_page(&s, &caller, id, extras, status).await
}

// ---- Customers and search ----------------------------------------------------------------

struct CustomerRow {
    id: i64,
    name: String,
    identities: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "mentions.html")]
struct MentionsPage {
    nav: Nav,
    /// Conversation, subject, excerpt, by whom, when, seen.
    rows: Vec<(i64, String, String, String, String, bool)>,
}

/// Where the caller was @mentioned, newest first, unseen ones marked.
async fn mentions_page(State(s): State<AppState>, WebSession(caller): WebSession) -> Response {
    let a = &caller.actor;
    match s.app.my_mentions(a).await {
        Ok(list) => {
            let names = user_names(&s, a).await;
            page(MentionsPage {
                nav: nav(&s, &caller, "inbox", "").await,
                rows: list
                    .into_iter()
                    .map(|m| {
                        (
                            m.conversation_id,
                            m.subject,
                            m.excerpt,
                            m.by_user_id
                                .and_then(|u| names.get(&u).cloned())
                                .unwrap_or_default(),
                            ago(m.created_at),
                            m.seen_at.is_some(),
                        )
                    })
                    .collect(),
            })
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    nav: Nav,
    rows: Vec<CustomerRow>,
    next_link: Option<String>,
    suggestions: Vec<customers_merge::DuplicateView>,
}

#[derive(Deserialize)]
struct CursorParam {
    cursor: Option<String>,
}

async fn customers(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<CursorParam>,
) -> Response {
    let result = async {
        let page_req = PageRequest::parse(Some(50), p.cursor.as_deref())?;
        s.app.customers(&caller.actor, page_req).await
    }
    .await;
    match result {
        Ok(list) => {
            let rows = list
                .items
                .iter()
                .map(|c| CustomerRow {
                    id: c.id,
                    name: c.name.clone(),
                    identities: c
                        .identities
                        .iter()
                        .map(|i| i.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    updated: ago(c.updated_at),
                })
                .collect();
            let next_link = list
                .next
                .map(|c| format!("/customers?cursor={}", c.encode()));
            let suggestions = s
                .app
                .merge_suggestions(&caller.actor)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(customers_merge::DuplicateView::from)
                .collect();
            page(CustomersPage {
                nav: nav(&s, &caller, "customers", "").await,
                rows,
                next_link,
                suggestions,
            })
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    nav: Nav,
    cu: CustomerView,
    rows: Vec<RowView>,
    notes: Vec<(String, String)>,
    duplicates: Vec<customers_merge::DuplicateView>,
    can_merge: bool,
    notice: Option<&'static str>,
}

async fn customer(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Query(q): Query<customers_merge::NoticeParam>,
) -> Response {
    let a = &caller.actor;
    let loaded = async {
        let c = s.app.customer(a, id).await?;
        let convs = s
            .app
            .conversations(
                a,
                &ConversationQuery {
                    customer_id: Some(id),
                    limit: Some(100),
                    ..Default::default()
                },
            )
            .await?;
        let notes = s.app.customer_notes(a, id).await?;
        let duplicates = s.app.duplicates_of(a, id).await?;
        Ok::<_, AppError>((c, convs, notes, duplicates))
    }
    .await;
    match loaded {
        Ok((c, convs, notes, duplicates)) => {
            let names = user_names(&s, a).await;
            page(CustomerPage {
                nav: nav(&s, &caller, "customers", "").await,
                cu: customer_view(&c),
                rows: convs.items.iter().map(|c| row(c, &names)).collect(),
                notes: notes
                    .iter()
                    .map(|n| {
                        let by = n
                            .author_user_id
                            .and_then(|u| names.get(&u).cloned())
                            .unwrap_or_default();
                        (n.body.clone(), format!("{by} · {}", ago(n.created_at)))
                    })
                    .collect(),
                duplicates: duplicates
                    .into_iter()
                    .map(customers_merge::DuplicateView::from)
                    .collect(),
                can_merge: citius_app::require(a, citius_domain::role::Permission::Supervise)
                    .is_ok(),
                notice: customers_merge::notice(q.notice.as_deref()),
            })
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    body: String,
}

async fn post_customer_note(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> Response {
    if let Err(r) = check_csrf(&caller, &f.csrf) {
        return *r;
    }
    match s.app.add_customer_note(&caller.actor, id, &f.body).await {
        Ok(_) => Redirect::to(&format!("/customers/{id}")).into_response(),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    nav: Nav,
    rows: Vec<RowView>,
    customers: Vec<(i64, String, String)>,
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
}

async fn search(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<SearchParams>,
) -> Response {
    let q = p.q.unwrap_or_default();
    match s.app.search(&caller.actor, &q).await {
        Ok(hits) => {
            let names = user_names(&s, &caller.actor).await;
            page(SearchPage {
                nav: nav(&s, &caller, "", &q).await,
                rows: hits.conversations.iter().map(|c| row(c, &names)).collect(),
                customers: hits
                    .customers
                    .iter()
                    .map(|c| {
                        (
                            c.id,
                            c.name.clone(),
                            c.identities
                                .iter()
                                .map(|i| i.value.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        )
                    })
                    .collect(),
            })
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}
