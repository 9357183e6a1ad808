//! Macros in the web UI: applying one from the conversation page, and Settings → Macros to
//! write shared (administrators) and personal ones.

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use citius_app::macros::MacroInfo;
use citius_domain::automation::Action;
use citius_domain::conversation::{Priority, Status};
use citius_domain::macros::{MacroInput, MacroText, VARIABLES};

use super::form_value as value;
use super::settings::{confirmed, fixable, see_other, with_status};
use super::{Nav, check_csrf, csv, error_page, nav, page, text};
use crate::auth::{Caller, WebSession};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/macros", get(list).post(create))
        .route("/settings/macros/{id}/delete", post(delete))
        .route("/conversations/{id}/macro", post(apply))
}

/// The macros an agent can pick on the conversation page, by name.
pub(super) async fn choices(s: &AppState, a: &citius_app::Actor) -> Vec<(i64, String)> {
    s.app
        .macros(a)
        .await
        .map(|l| l.into_iter().map(|m| (m.id, m.input.name)).collect())
        .unwrap_or_default()
}

/// Applies the chosen macro and goes back to the conversation.
async fn apply(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let Ok(macro_id) = value(&f, "macro_id").parse::<i64>() else {
        return see_other(&format!("/conversations/{id}"));
    };
    match s.app.apply_macro(&caller.actor, id, macro_id).await {
        Ok(_) => see_other(&format!("/conversations/{id}?notice=macro-applied")),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

struct Row {
    id: i64,
    name: String,
    personal: bool,
    text_kind: &'static str,
    body: String,
    actions: String,
}

fn row(m: MacroInfo) -> Row {
    let actions = m
        .input
        .actions
        .iter()
        .map(|a| match a {
            Action::SetStatus { status } => {
                text::tf("settings_macros.action_status", &[("status", &status)])
            }
            Action::SetPriority { priority } => text::tf(
                "settings_macros.action_priority",
                &[("priority", &priority)],
            ),
            Action::AddTags { tags } => {
                text::tf("settings_macros.action_tag", &[("tags", &tags.join(", "))])
            }
            Action::RemoveTags { tags } => text::tf(
                "settings_macros.action_untag",
                &[("tags", &tags.join(", "))],
            ),
            Action::Assign { .. } => text::t("settings_macros.action_assign").into(),
            Action::SetTeam { .. } => text::t("settings_macros.action_team").into(),
            Action::AddNote { .. } | Action::Reply { .. } => {
                text::t("settings_macros.action_text").into()
            }
            Action::Snooze { hours } => {
                text::tf("settings_macros.action_snooze", &[("hours", &hours)])
            }
            Action::SendWebhook { .. } => text::t("settings_macros.action_webhook").into(),
        })
        .collect::<Vec<_>>()
        .join(" · ");
    Row {
        id: m.id,
        name: m.input.name,
        personal: m.input.personal,
        text_kind: match m.input.text_kind.unwrap_or(MacroText::Reply) {
            MacroText::Reply => text::t("settings_macros.kind_reply"),
            MacroText::Note => text::t("settings_macros.kind_note"),
        },
        body: m.input.body.unwrap_or_default(),
        actions,
    }
}

#[derive(Default)]
struct Draft {
    name: String,
    personal: bool,
    note: bool,
    body: String,
    status: String,
    priority: String,
    tags: String,
    error: Option<String>,
}

impl Draft {
    fn from_form(f: &[(String, String)]) -> Self {
        Self {
            name: value(f, "name").to_string(),
            personal: !value(f, "personal").is_empty(),
            note: value(f, "text_kind") == "note",
            body: value(f, "body").to_string(),
            status: value(f, "status").to_string(),
            priority: value(f, "priority").to_string(),
            tags: value(f, "tags").to_string(),
            error: None,
        }
    }

    fn input(&self, admin: bool) -> Result<MacroInput, citius_domain::Invalid> {
        let mut actions = Vec::new();
        if !self.status.is_empty() {
            actions.push(Action::SetStatus {
                status: Status::parse(&self.status)?,
            });
        }
        if !self.priority.is_empty() {
            actions.push(Action::SetPriority {
                priority: Priority::parse(&self.priority)?,
            });
        }
        let tags: Vec<String> = self
            .tags
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if !tags.is_empty() {
            actions.push(Action::AddTags { tags });
        }
        Ok(MacroInput {
            name: self.name.clone(),
            // Agents keep personal macros; only administrators share.
            personal: self.personal || !admin,
            body: Some(self.body.clone()).filter(|b| !b.trim().is_empty()),
            text_kind: Some(if self.note {
                MacroText::Note
            } else {
                MacroText::Reply
            }),
            actions,
        })
    }
}

#[derive(Template)]
#[template(path = "settings/macros.html")]
struct MacrosPage {
    nav: Nav,
    sub: &'static str,
    admin: bool,
    rows: Vec<Row>,
    draft: Draft,
    variables: &'static [&'static str],
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    format: Option<String>,
    notice: Option<String>,
}

fn is_admin(caller: &Caller) -> bool {
    caller
        .actor
        .role
        .allows(citius_domain::role::Permission::Administer)
}

async fn view(
    s: &AppState,
    caller: &Caller,
    notice: Option<&'static str>,
    draft: Option<Draft>,
    status: StatusCode,
) -> Response {
    match s.app.macros(&caller.actor).await {
        Ok(list) => with_status(
            page(MacrosPage {
                nav: nav(s, caller, "settings", "").await,
                sub: "macros",
                admin: is_admin(caller),
                rows: list.into_iter().map(row).collect(),
                draft: draft.unwrap_or_default(),
                variables: VARIABLES,
                notice,
                error: None,
            }),
            status,
        ),
        Err(e) => error_page(s, caller, e).await,
    }
}

async fn list(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Query(p): Query<ListParams>,
) -> Response {
    if p.format.as_deref() == Some("csv") {
        return match s.app.macros(&caller.actor).await {
            Ok(l) => csv::download(
                "macros.csv",
                &["name", "personal", "text_kind", "body", "actions"],
                l.into_iter().map(|m| {
                    let r = row(m);
                    vec![
                        r.name,
                        r.personal.to_string(),
                        r.text_kind.to_string(),
                        r.body,
                        r.actions,
                    ]
                }),
            ),
            Err(e) => error_page(&s, &caller, e).await,
        };
    }
    let notice = match p.notice.as_deref() {
        Some("macro-saved") => Some(text::t("settings_macros.saved")),
        Some("macro-deleted") => Some(text::t("settings_macros.deleted")),
        _ => None,
    };
    view(&s, &caller, notice, None, StatusCode::OK).await
}

async fn create(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let mut draft = Draft::from_form(&f);
    let result = match draft.input(is_admin(&caller)) {
        Ok(input) => s.app.save_macro(&caller.actor, None, input).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => see_other("/settings/macros?notice=macro-saved"),
        Err(e) => match fixable(&e) {
            Some((status, message)) => {
                draft.error = Some(message);
                view(&s, &caller, None, Some(draft), status).await
            }
            None => error_page(&s, &caller, e).await,
        },
    }
}

async fn delete(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.delete_macro(&caller.actor, id),
        "/settings/macros?notice=macro-deleted",
    )
    .await
}
