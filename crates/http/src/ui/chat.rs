//! Settings → Chat widget: each chat inbox's widget, the snippet to paste into a website, its
//! greeting, colour, allowed sites and offline inbox, a fresh key, and a page to try it on.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::AppError;
use citius_domain::chat::{DEFAULT_COLOR, DEFAULT_GREETING, WidgetInput};
use citius_domain::conversation::Channel;
use citius_domain::records::{ChatWidget, Inbox};

use super::form_value as value;
use super::settings::{fixable, see_other, with_status};
use super::{Nav, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/chat", get(list))
        .route("/settings/chat/{inbox_id}", get(edit).post(save))
        .route("/settings/chat/{inbox_id}/rotate", post(rotate))
        .route("/settings/chat/{inbox_id}/try", get(try_it))
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "saved" => text::t("settings_chat.saved"),
        "rotated" => text::t("settings_chat.rotated"),
        _ => return None,
    })
}

#[derive(serde::Deserialize, Default)]
struct Params {
    format: Option<String>,
    notice: Option<String>,
}

struct Row {
    inbox_id: i64,
    inbox: String,
    sites: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/chat.html")]
struct ListPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct Draft {
    greeting: String,
    color: String,
    origins: String,
    offline_inbox_id: Option<i64>,
    error: Option<String>,
}

impl Draft {
    fn offline_is(&self, id: &i64) -> bool {
        self.offline_inbox_id == Some(*id)
    }
}

#[derive(Template)]
#[template(path = "settings/chat_widget.html")]
struct EditPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    inbox_id: i64,
    inbox: String,
    snippet: Option<String>,
    email_inboxes: Vec<(i64, String)>,
    d: Draft,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/chat_try.html")]
struct TryPage {
    inbox: String,
    base: String,
    key: String,
}

fn snippet(base: &str, key: &str) -> String {
    format!("<script src=\"{base}/widget.js\" data-citius-key=\"{key}\" async></script>")
}

async fn chat_setup(
    s: &AppState,
    caller: &Caller,
) -> Result<(Vec<Inbox>, Vec<ChatWidget>), AppError> {
    Ok((
        s.app.inboxes(&caller.actor).await?,
        s.app.chat_widgets(&caller.actor).await?,
    ))
}

async fn list(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<Params>,
) -> Response {
    let (inboxes, widgets) = match chat_setup(&s, &caller).await {
        Ok(v) => v,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let chats: Vec<&Inbox> = inboxes
        .iter()
        .filter(|i| i.channel == Channel::Chat)
        .collect();
    let widget_of = |id: i64| widgets.iter().find(|w| w.inbox_id == id);
    let sites = |w: &ChatWidget| {
        if w.allowed_origins.is_empty() {
            text::t("settings_chat.any_site").to_string()
        } else {
            w.allowed_origins.join(", ")
        }
    };
    if p.format.as_deref() == Some("csv") {
        return csv::download(
            "chat-widgets.csv",
            &["inbox", "key", "allowed_sites", "greeting"],
            chats.iter().filter_map(|i| {
                let w = widget_of(i.id)?;
                Some(vec![
                    i.name.clone(),
                    w.key.clone(),
                    sites(w),
                    w.greeting.clone(),
                ])
            }),
        );
    }
    let rows = chats
        .iter()
        .map(|i| Row {
            inbox_id: i.id,
            inbox: i.name.clone(),
            sites: widget_of(i.id).map(sites),
        })
        .collect();
    page(ListPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "chat",
        admin: true,
        rows,
        notice: notice(p.notice.as_deref()),
        error: None,
    })
}

async fn edit_view(
    s: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    inbox_id: i64,
    draft: Option<Draft>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let (inboxes, widgets) = match chat_setup(s, caller).await {
        Ok(v) => v,
        Err(e) => return error_page(s, caller, e).await,
    };
    let Some(inbox) = inboxes
        .iter()
        .find(|i| i.id == inbox_id && i.channel == Channel::Chat)
    else {
        return error_page(s, caller, AppError::NotFound).await;
    };
    let widget = widgets.into_iter().find(|w| w.inbox_id == inbox_id);
    let base = crate::hooks::public_base(s, headers);
    with_status(
        page(EditPage {
            nav: nav(s, caller, "settings", "").await,
            sub: "chat",
            admin: true,
            inbox_id,
            inbox: inbox.name.clone(),
            snippet: widget.as_ref().map(|w| snippet(&base, &w.key)),
            email_inboxes: inboxes
                .iter()
                .filter(|i| i.channel == Channel::Email && i.address.is_some())
                .map(|i| (i.id, i.name.clone()))
                .collect(),
            d: draft.unwrap_or_else(|| match widget {
                Some(w) => Draft {
                    greeting: w.greeting,
                    color: w.color,
                    origins: w.allowed_origins.join("\n"),
                    offline_inbox_id: w.offline_inbox_id,
                    error: None,
                },
                None => Draft {
                    greeting: DEFAULT_GREETING.into(),
                    color: DEFAULT_COLOR.into(),
                    origins: String::new(),
                    offline_inbox_id: None,
                    error: None,
                },
            }),
            notice,
            error: None,
        }),
        status,
    )
}

async fn edit(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    headers: HeaderMap,
    Path(inbox_id): Path<i64>,
    Query(p): Query<Params>,
) -> Response {
    let n = notice(p.notice.as_deref());
    edit_view(&s, &caller, &headers, inbox_id, None, n, StatusCode::OK).await
}

async fn save(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    headers: HeaderMap,
    Path(inbox_id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let draft = Draft {
        greeting: value(&f, "greeting").to_string(),
        color: value(&f, "color").to_string(),
        origins: value(&f, "allowed_origins").to_string(),
        offline_inbox_id: value(&f, "offline_inbox_id").parse().ok(),
        error: None,
    };
    let input = WidgetInput {
        greeting: Some(draft.greeting.clone()),
        color: Some(draft.color.clone()),
        allowed_origins: Some(
            draft
                .origins
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        offline_inbox_id: draft.offline_inbox_id,
    };
    match s.app.set_chat_widget(&caller.actor, inbox_id, input).await {
        Ok(_) => see_other(&format!("/settings/chat/{inbox_id}?notice=saved")),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = Draft {
                    error: Some(message),
                    ..draft
                };
                edit_view(&s, &caller, &headers, inbox_id, Some(draft), None, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn rotate(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    match s.app.rotate_widget_key(&caller.actor, inbox_id).await {
        Ok(_) => see_other(&format!("/settings/chat/{inbox_id}?notice=rotated")),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

/// A plain page with the snippet on it, to try the widget as a visitor would.
async fn try_it(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    headers: HeaderMap,
    Path(inbox_id): Path<i64>,
) -> Response {
    match s.app.chat_widget(&caller.actor, inbox_id).await {
        Ok(w) => {
            let inbox = s
                .app
                .inboxes(&caller.actor)
                .await
                .ok()
                .and_then(|l| l.into_iter().find(|i| i.id == inbox_id))
                .map(|i| i.name)
                .unwrap_or_default();
            page(TryPage {
                inbox,
                base: crate::hooks::public_base(&s, &headers),
                key: w.key,
            })
        }
        Err(e) => error_page(&s, &caller, e).await,
    }
}
