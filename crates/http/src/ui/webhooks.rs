//! Settings → Webhooks: endpoints (the signing secret shown once), their delivery log with each
//! attempt, sending a message again, turning endpoints off and on, deleting them.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use citius_domain::paging::PageRequest;
use citius_domain::records::WebhookEndpointInfo;
use citius_domain::webhook::{EVENT_TYPES, EndpointInput};

use super::form_value as value;
use super::settings::{confirmed, fixable, see_other, with_status};
use super::{Nav, ago, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/webhooks", get(endpoints).post(create_endpoint))
        .route("/settings/webhooks/{id}", get(endpoint))
        .route("/settings/webhooks/{id}/toggle", post(toggle_endpoint))
        .route("/settings/webhooks/{id}/delete", post(delete_endpoint))
        .route("/settings/webhooks/messages/{id}/replay", post(replay))
}

fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "endpoint-toggled" => text::t("settings_webhooks.toggled"),
        "endpoint-deleted" => text::t("settings_webhooks.deleted"),
        "replayed" => text::t("settings_webhooks.replayed"),
        _ => return None,
    })
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    format: Option<String>,
    notice: Option<String>,
    cursor: Option<String>,
}

struct Draft {
    url: String,
    description: String,
    /// Event type, whether ticked.
    types: Vec<(&'static str, bool)>,
    all: bool,
    error: Option<String>,
}

impl Draft {
    fn blank() -> Self {
        Self {
            url: String::new(),
            description: String::new(),
            types: EVENT_TYPES.iter().map(|t| (*t, false)).collect(),
            all: true,
            error: None,
        }
    }

    fn from_form(f: &[(String, String)]) -> Self {
        let ticked: Vec<&str> = f
            .iter()
            .filter(|(k, _)| k == "event_type")
            .map(|(_, v)| v.as_str())
            .collect();
        Self {
            url: value(f, "url").to_string(),
            description: value(f, "description").to_string(),
            types: EVENT_TYPES
                .iter()
                .map(|t| (*t, ticked.contains(t)))
                .collect(),
            all: ticked.contains(&"*"),
            error: None,
        }
    }

    fn input(&self) -> EndpointInput {
        let event_types = if self.all {
            vec!["*".to_string()]
        } else {
            self.types
                .iter()
                .filter(|(_, on)| *on)
                .map(|(t, _)| t.to_string())
                .collect()
        };
        EndpointInput {
            url: self.url.clone(),
            description: Some(self.description.clone()),
            event_types,
            enabled: Some(true),
        }
    }
}

struct EndpointRow {
    id: i64,
    url: String,
    description: String,
    types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<(String, String)>,
}

fn endpoint_row(e: WebhookEndpointInfo) -> EndpointRow {
    EndpointRow {
        id: e.id,
        types: if e.event_types.iter().any(|t| t == "*") {
            text::t("settings_webhooks.all_events").into()
        } else {
            e.event_types.join(", ")
        },
        url: e.url,
        description: e.description,
        enabled: e.enabled,
        disabled_reason: e.disabled_reason,
        failing_since: e.failing_since.map(|t| (ago(t), t.to_string())),
    }
}

#[derive(Template)]
#[template(path = "settings/webhooks.html")]
struct EndpointsPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<EndpointRow>,
    draft: Draft,
    /// The new endpoint's secret, shown on this one response only.
    created: Option<(String, String)>,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct AttemptRow {
    attempt: i64,
    outcome: String,
    duration_ms: i64,
    time: String,
    time_iso: String,
}

struct MessageRow {
    id: i64,
    event_type: String,
    status: String,
    attempts: i64,
    last: String,
    next: Option<(String, String)>,
    created: String,
    created_iso: String,
    tries: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "settings/webhook.html")]
struct EndpointPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    e: EndpointRow,
    messages: Vec<MessageRow>,
    older: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn endpoints_view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: Option<Draft>,
    created: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    match s.app.webhook_endpoints(&caller.actor).await {
        Ok(list) => with_status(
            page(EndpointsPage {
                nav: nav(s, caller, "settings", "").await,
                sub: "webhooks",
                admin: true,
                rows: list.into_iter().map(endpoint_row).collect(),
                draft: draft.unwrap_or_else(Draft::blank),
                created,
                notice,
                error: None,
            }),
            status,
        ),
        Err(e) => error_page(s, caller, e).await,
    }
}

async fn endpoints(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.format.as_deref() == Some("csv") {
        return match s.app.webhook_endpoints(&caller.actor).await {
            Ok(list) => csv::download(
                "webhooks.csv",
                &[
                    "url",
                    "description",
                    "event_types",
                    "enabled",
                    "disabled_reason",
                    "failing_since",
                ],
                list.into_iter().map(|e| {
                    vec![
                        e.url,
                        e.description,
                        e.event_types.join(" "),
                        e.enabled.to_string(),
                        e.disabled_reason.unwrap_or_default(),
                        e.failing_since.map(|t| t.to_string()).unwrap_or_default(),
                    ]
                }),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    endpoints_view(
        &s,
        &caller,
        notice(p.notice.as_deref()),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// Adds an endpoint and shows its secret on this response only (it must not travel in an
/// address, as a redirect would need).
async fn create_endpoint(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let mut draft = Draft::from_form(&f);
    match s
        .app
        .create_webhook_endpoint(&caller.actor, draft.input())
        .await
    {
        Ok(created) => {
            let shown = Some((created.endpoint.url.clone(), created.secret));
            endpoints_view(&s, &caller, None, None, shown, StatusCode::CREATED).await
        }
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                draft.error = Some(message);
                endpoints_view(&s, &caller, None, Some(draft), None, status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn endpoint(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
) -> Response {
    let a = &caller.actor;
    let page_req = match PageRequest::parse(Some(25), p.cursor.as_deref()) {
        Ok(r) => r,
        Err(e) => return error_page(&s, &caller, e.into()).await,
    };
    let loaded = async {
        let e = s.app.webhook_endpoint(a, id).await?;
        let list = s.app.webhook_log(a, id, page_req).await?;
        let mut messages = Vec::with_capacity(list.items.len());
        for detail in list.items {
            let m = detail.message;
            messages.push(MessageRow {
                id: m.id,
                event_type: m.event_type,
                status: m.status,
                attempts: m.attempts,
                last: match (m.last_status_code, m.last_error) {
                    (Some(code), _) => {
                        text::tf("settings_webhooks.http_status", &[("code", &code)])
                    }
                    (None, Some(e)) => e,
                    (None, None) => String::new(),
                },
                next: m
                    .next_attempt_at
                    .filter(|_| m.attempts > 0)
                    .map(|t| (t.strftime("%Y-%m-%d %H:%M UTC").to_string(), t.to_string())),
                created: ago(m.created_at),
                created_iso: m.created_at.to_string(),
                tries: detail
                    .attempts
                    .into_iter()
                    .map(|t| AttemptRow {
                        attempt: t.attempt,
                        outcome: match (t.status_code, t.error) {
                            (Some(code), _) => {
                                text::tf("settings_webhooks.http_status", &[("code", &code)])
                            }
                            (None, Some(e)) => e,
                            (None, None) => text::t("settings_webhooks.no_answer").into(),
                        },
                        duration_ms: t.duration_ms,
                        time: ago(t.created_at),
                        time_iso: t.created_at.to_string(),
                    })
                    .collect(),
            });
        }
        Ok::<_, citius_app::AppError>((e, messages, list.next.map(|c| c.encode())))
    }
    .await;
    match loaded {
        // One page of the log, as on screen.
        Ok((_, messages, _)) if p.format.as_deref() == Some("csv") => csv::download(
            "webhook-deliveries.csv",
            &[
                "message_id",
                "event_type",
                "status",
                "attempts",
                "last",
                "created",
            ],
            messages.into_iter().map(|m| {
                vec![
                    m.id.to_string(),
                    m.event_type,
                    m.status,
                    m.attempts.to_string(),
                    m.last,
                    m.created_iso,
                ]
            }),
        ),
        Ok((e, messages, older)) => page(EndpointPage {
            nav: nav(&s, &caller, "settings", "").await,
            sub: "webhooks",
            admin: true,
            e: endpoint_row(e),
            messages,
            older,
            notice: notice(p.notice.as_deref()),
            error: None,
        }),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn toggle_endpoint(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let result = async {
        let e = s.app.webhook_endpoint(&caller.actor, id).await?;
        let input = EndpointInput {
            url: e.url,
            description: Some(e.description),
            event_types: e.event_types,
            enabled: Some(!e.enabled),
        };
        s.app
            .update_webhook_endpoint(&caller.actor, id, input)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/settings/webhooks/{id}?notice=endpoint-toggled")),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn delete_endpoint(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.delete_webhook_endpoint(&caller.actor, id),
        "/settings/webhooks?notice=endpoint-deleted",
    )
    .await
}

async fn replay(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let result = async {
        let m = s.app.webhook_message(&caller.actor, id).await?;
        s.app.replay_webhook_message(&caller.actor, id).await?;
        Ok::<_, citius_app::AppError>(m.message.endpoint_id)
    }
    .await;
    match result {
        Ok(endpoint) => see_other(&format!("/settings/webhooks/{endpoint}?notice=replayed")),
        Err(e) => error_page(&s, &caller, e).await,
    }
}
