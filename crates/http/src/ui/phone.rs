//! Settings → SMS, WhatsApp & voice: which phone inboxes are connected to a provider, the
//! webhook addresses to give the provider, and each inbox's account (the token is write-only).

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::AppError;
use citius_domain::conversation::Channel;
use citius_domain::records::{Inbox, ProviderAccount};
use citius_domain::telephony::{DEFAULT_API_BASE, ProviderInput};

use super::form_value as value;
use super::settings::{confirmed, fixable, see_other, with_status};
use super::{Nav, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/phone", get(list))
        .route("/settings/phone/{inbox_id}", get(edit).post(save))
        .route("/settings/phone/{inbox_id}/remove", post(remove))
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "saved" => text::t("settings_phone.saved"),
        "removed" => text::t("settings_phone.removed"),
        _ => return None,
    })
}

#[derive(serde::Deserialize, Default)]
struct Params {
    format: Option<String>,
    notice: Option<String>,
}

fn is_phone(i: &Inbox) -> bool {
    matches!(i.channel, Channel::Sms | Channel::Whatsapp | Channel::Voice)
}

fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Whatsapp => text::t("common.whatsapp"),
        Channel::Voice => text::t("common.voice"),
        _ => text::t("common.sms"),
    }
}

/// The webhooks to set at the provider for an inbox: (what, URL).
fn hook_urls(base: &str, inbox: &Inbox) -> Vec<(&'static str, String)> {
    let at = |what: &str| format!("{base}/hooks/twilio/{}/{what}", inbox.id);
    match inbox.channel {
        Channel::Voice => vec![(text::t("settings_phone.hook_voice"), at("voice"))],
        _ => vec![
            (text::t("settings_phone.hook_messages"), at("messages")),
            (text::t("settings_phone.hook_status"), at("status")),
        ],
    }
}

struct Row {
    inbox_id: i64,
    inbox: String,
    channel: &'static str,
    number: String,
    account: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/phone.html")]
struct ListPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct Draft {
    account_sid: String,
    api_base: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings/phone_inbox.html")]
struct EditPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    inbox_id: i64,
    inbox: String,
    channel: &'static str,
    number: String,
    connected: bool,
    hooks: Vec<(&'static str, String)>,
    d: Draft,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn phone_inboxes(
    s: &AppState,
    caller: &Caller,
) -> Result<(Vec<Inbox>, Vec<ProviderAccount>), AppError> {
    let inboxes = s
        .app
        .inboxes(&caller.actor)
        .await?
        .into_iter()
        .filter(is_phone)
        .collect();
    Ok((inboxes, s.app.provider_accounts(&caller.actor).await?))
}

async fn list(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<Params>,
) -> Response {
    let (inboxes, accounts) = match phone_inboxes(&s, &caller).await {
        Ok(v) => v,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    let account_of = |id: i64| accounts.iter().find(|a| a.inbox_id == id);
    if p.format.as_deref() == Some("csv") {
        return csv::download(
            "phone-inboxes.csv",
            &["inbox", "channel", "number", "account_sid", "api_base"],
            inboxes.iter().map(|i| {
                let a = account_of(i.id);
                vec![
                    i.name.clone(),
                    channel_label(i.channel).to_string(),
                    i.address.clone().unwrap_or_default(),
                    a.map(|a| a.account_sid.clone()).unwrap_or_default(),
                    a.map(|a| a.api_base.clone()).unwrap_or_default(),
                ]
            }),
        );
    }
    let rows = inboxes
        .iter()
        .map(|i| Row {
            inbox_id: i.id,
            inbox: i.name.clone(),
            channel: channel_label(i.channel),
            number: i.address.clone().unwrap_or_default(),
            account: account_of(i.id).map(|a| a.account_sid.clone()),
        })
        .collect();
    page(ListPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "phone",
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
    let (inboxes, accounts) = match phone_inboxes(s, caller).await {
        Ok(v) => v,
        Err(e) => return error_page(s, caller, e).await,
    };
    let Some(inbox) = inboxes.into_iter().find(|i| i.id == inbox_id) else {
        return error_page(s, caller, AppError::NotFound).await;
    };
    let account = accounts.into_iter().find(|a| a.inbox_id == inbox_id);
    let base = crate::hooks::public_base(s, headers);
    with_status(
        page(EditPage {
            nav: nav(s, caller, "settings", "").await,
            sub: "phone",
            admin: true,
            inbox_id,
            hooks: hook_urls(&base, &inbox),
            inbox: inbox.name,
            channel: channel_label(inbox.channel),
            number: inbox.address.unwrap_or_default(),
            connected: account.is_some(),
            d: draft.unwrap_or_else(|| Draft {
                account_sid: account
                    .as_ref()
                    .map(|a| a.account_sid.clone())
                    .unwrap_or_default(),
                api_base: account
                    .map(|a| a.api_base)
                    .unwrap_or_else(|| DEFAULT_API_BASE.to_string()),
                error: None,
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
    let token = value(&f, "auth_token");
    let input = ProviderInput {
        account_sid: value(&f, "account_sid").to_string(),
        auth_token: (!token.is_empty()).then(|| token.to_string()),
        api_base: Some(value(&f, "api_base").to_string()),
    };
    match s
        .app
        .set_provider_account(&caller.actor, inbox_id, input)
        .await
    {
        Ok(_) => see_other(&format!("/settings/phone/{inbox_id}?notice=saved")),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                let draft = Draft {
                    account_sid: value(&f, "account_sid").to_string(),
                    api_base: value(&f, "api_base").to_string(),
                    error: Some(message),
                };
                edit_view(&s, &caller, &headers, inbox_id, Some(draft), None, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn remove(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.remove_provider_account(&caller.actor, inbox_id),
        "/settings/phone?notice=removed",
    )
    .await
}
