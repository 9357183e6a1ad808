//! Settings → Mailboxes: the external IMAP mailboxes email inboxes read, how reading each one
//! goes (last poll, last error, messages taken), and their settings. The password is write-only.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::AppError;
use citius_domain::conversation::Channel;
use citius_domain::imap::MailboxInput;
use citius_domain::records::{ImapMailbox, Inbox};

use super::form_value as value;
use super::settings::{confirmed, fixable, see_other, with_status};
use super::{CsrfOnly, Nav, ago, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/mailboxes", get(list))
        .route("/settings/mailboxes/{inbox_id}", get(edit).post(save))
        .route("/settings/mailboxes/{inbox_id}/poll", post(poll_now))
        .route("/settings/mailboxes/{inbox_id}/remove", post(remove))
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "saved" => text::t("settings_mailboxes.saved"),
        "polling" => text::t("settings_mailboxes.polling"),
        "removed" => text::t("settings_mailboxes.removed"),
        _ => return None,
    })
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    format: Option<String>,
    notice: Option<String>,
}

/// How reading a mailbox goes, in words.
struct Reading {
    polled: Option<(String, String)>,
    error: Option<String>,
    failures: i64,
    fetched: i64,
    enabled: bool,
}

fn state_of(m: &ImapMailbox) -> Reading {
    Reading {
        polled: m.last_polled_at.map(|t| (ago(t), t.to_string())),
        error: m.last_error.clone(),
        failures: m.failures,
        fetched: m.fetched,
        enabled: m.enabled,
    }
}

struct Row {
    inbox_id: i64,
    inbox: String,
    address: String,
    mailbox: Option<(String, Reading)>,
}

#[derive(Template)]
#[template(path = "settings/mailboxes.html")]
struct ListPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// The form as typed; the password field always starts empty.
struct Draft {
    host: String,
    port: String,
    security: String,
    username: String,
    folder: String,
    interval_secs: String,
    enabled: bool,
    error: Option<String>,
}

impl Draft {
    fn of(m: Option<&ImapMailbox>) -> Self {
        match m {
            Some(m) => Self {
                host: m.host.clone(),
                port: m.port.to_string(),
                security: m.security.clone(),
                username: m.username.clone(),
                folder: m.folder.clone(),
                interval_secs: m.interval_secs.to_string(),
                enabled: m.enabled,
                error: None,
            },
            None => Self {
                host: String::new(),
                port: String::new(),
                security: "tls".into(),
                username: String::new(),
                folder: "INBOX".into(),
                interval_secs: citius_domain::imap::DEFAULT_INTERVAL_SECS.to_string(),
                enabled: true,
                error: None,
            },
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        Self {
            host: value(f, "host").trim().to_string(),
            port: value(f, "port").trim().to_string(),
            security: value(f, "security").to_string(),
            username: value(f, "username").trim().to_string(),
            folder: value(f, "folder").to_string(),
            interval_secs: value(f, "interval_secs").trim().to_string(),
            enabled: value(f, "enabled") == "on",
            error: None,
        }
    }

    /// The API input; a number that does not parse is reported on its field.
    fn input(&self, password: &str) -> Result<MailboxInput, AppError> {
        let number = |field: &str, v: &str| -> Result<Option<i64>, AppError> {
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| {
                citius_domain::Invalid::field(
                    field.to_string(),
                    text::t("common.must_be_a_whole_number"),
                )
                .into()
            })
        };
        Ok(MailboxInput {
            host: self.host.clone(),
            port: number("port", &self.port)?,
            security: Some(self.security.clone()),
            username: self.username.clone(),
            password: (!password.is_empty()).then(|| password.to_string()),
            folder: Some(self.folder.clone()),
            interval_secs: number("interval_secs", &self.interval_secs)?,
            enabled: Some(self.enabled),
        })
    }
}

#[derive(Template)]
#[template(path = "settings/mailbox.html")]
struct EditPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    inbox_id: i64,
    inbox: String,
    address: String,
    state: Option<Reading>,
    d: Draft,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn email_inboxes(s: &AppState, caller: &Caller) -> Result<Vec<Inbox>, AppError> {
    Ok(s.app
        .inboxes(&caller.actor)
        .await?
        .into_iter()
        .filter(|i| i.channel == Channel::Email)
        .collect())
}

async fn list(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    let found = async {
        let inboxes = email_inboxes(&s, &caller).await?;
        let mailboxes = s.app.imap_mailboxes(&caller.actor).await?;
        Ok::<_, AppError>((inboxes, mailboxes))
    }
    .await;
    let (inboxes, mailboxes) = match found {
        Ok(v) => v,
        Err(e) => return error_page(&s, &caller, e).await,
    };
    if p.format.as_deref() == Some("csv") {
        return csv::download(
            "mailboxes.csv",
            &[
                "inbox",
                "host",
                "port",
                "security",
                "username",
                "folder",
                "enabled",
                "fetched",
                "last_polled_at",
                "last_error",
            ],
            mailboxes.into_iter().map(|m| {
                let inbox = inboxes
                    .iter()
                    .find(|i| i.id == m.inbox_id)
                    .map(|i| i.name.clone())
                    .unwrap_or_default();
                vec![
                    inbox,
                    m.host,
                    m.port.to_string(),
                    m.security,
                    m.username,
                    m.folder,
                    m.enabled.to_string(),
                    m.fetched.to_string(),
                    m.last_polled_at.map(|t| t.to_string()).unwrap_or_default(),
                    m.last_error.unwrap_or_default(),
                ]
            }),
        );
    }
    let rows = inboxes
        .into_iter()
        .map(|i| Row {
            mailbox: mailboxes.iter().find(|m| m.inbox_id == i.id).map(|m| {
                (
                    format!("{}@{}/{}", m.username, m.host, m.folder),
                    state_of(m),
                )
            }),
            inbox_id: i.id,
            inbox: i.name,
            address: i.address.unwrap_or_default(),
        })
        .collect();
    page(ListPage {
        nav: nav(&s, &caller, "settings", "").await,
        sub: "mailboxes",
        admin: true,
        rows,
        notice: notice(p.notice.as_deref()),
        error: None,
    })
}

async fn edit_view(
    s: &AppState,
    caller: &Caller,
    inbox_id: i64,
    draft: Option<Draft>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Response {
    let found = async {
        let inbox = email_inboxes(s, caller)
            .await?
            .into_iter()
            .find(|i| i.id == inbox_id)
            .ok_or(AppError::NotFound)?;
        let mailbox = match s.app.imap_mailbox(&caller.actor, inbox_id).await {
            Ok(m) => Some(m),
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        };
        Ok((inbox, mailbox))
    }
    .await;
    match found {
        Ok((inbox, mailbox)) => with_status(
            page(EditPage {
                nav: nav(s, caller, "settings", "").await,
                sub: "mailboxes",
                admin: true,
                inbox_id,
                inbox: inbox.name,
                address: inbox.address.unwrap_or_default(),
                state: mailbox.as_ref().map(state_of),
                d: draft.unwrap_or_else(|| Draft::of(mailbox.as_ref())),
                notice,
                error: None,
            }),
            status,
        ),
        Err(e) => error_page(s, caller, e).await,
    }
}

async fn edit(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Query(p): Query<ListParams>,
) -> Response {
    edit_view(
        &s,
        &caller,
        inbox_id,
        None,
        notice(p.notice.as_deref()),
        StatusCode::OK,
    )
    .await
}

async fn save(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let mut draft = Draft::from_form(&f);
    let result = match draft.input(value(&f, "password")) {
        Ok(input) => s.app.set_imap_mailbox(&caller.actor, inbox_id, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other(&format!("/settings/mailboxes/{inbox_id}?notice=saved")),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                draft.error = Some(message);
                edit_view(&s, &caller, inbox_id, Some(draft), None, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn poll_now(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    confirmed(
        &s,
        &caller,
        &f.csrf,
        || s.app.poll_imap_now(&caller.actor, inbox_id),
        &format!("/settings/mailboxes/{inbox_id}?notice=polling"),
    )
    .await
}

async fn remove(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(inbox_id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    confirmed(
        &s,
        &caller,
        &f.csrf,
        || s.app.remove_imap_mailbox(&caller.actor, inbox_id),
        "/settings/mailboxes?notice=removed",
    )
    .await
}
