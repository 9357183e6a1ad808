//! Saved inbox views: the filter form's choices, saving the filters shown as a view, and
//! deleting a view.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::post;
use citius_app::Actor;
use citius_domain::conversation::Channel;
use citius_domain::views::{ViewFilters, ViewInput};

use super::form_value as value;
use super::settings::{confirmed, see_other};
use super::{check_csrf, error_page, text};
use crate::auth::WebSession;
use crate::extract::Path;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox/views", post(save))
        .route("/inbox/views/{id}/delete", post(delete))
        .route("/inbox/bulk", post(bulk))
}

/// What the filter form offers: (value, label) pairs.
pub(super) struct FilterChoices {
    pub statuses: Vec<(&'static str, &'static str)>,
    pub assignees: Vec<(String, String)>,
    pub teams: Vec<(String, String)>,
    /// The caller's own teams (id, name): each has a view of its waiting conversations.
    pub my_teams: Vec<(i64, String)>,
    pub channels: Vec<(&'static str, &'static str)>,
    pub inboxes: Vec<(String, String)>,
}

impl FilterChoices {
    pub async fn load(s: &AppState, actor: &Actor, names: &HashMap<i64, String>) -> Self {
        let mut assignees = vec![
            ("me".to_string(), text::t("inbox.assignee_me").to_string()),
            (
                "none".to_string(),
                text::t("inbox.assignee_nobody").to_string(),
            ),
        ];
        let mut people: Vec<(&i64, &String)> = names.iter().collect();
        people.sort_by_key(|p| p.1.to_lowercase());
        assignees.extend(
            people
                .into_iter()
                .map(|(id, n)| (id.to_string(), n.clone())),
        );
        let teams = s.app.teams(actor).await.unwrap_or_default();
        Self {
            my_teams: teams
                .iter()
                .filter(|t| t.member_ids.contains(&actor.user_id))
                .map(|t| (t.id, t.name.clone()))
                .collect(),
            statuses: vec![
                ("open,pending", text::t("inbox.status_open_or_pending")),
                ("open", text::t("inbox.status_open")),
                ("pending", text::t("inbox.status_pending")),
                ("snoozed", text::t("inbox.status_snoozed")),
                (
                    "resolved,closed",
                    text::t("inbox.status_resolved_or_closed"),
                ),
            ],
            assignees,
            teams: teams
                .into_iter()
                .map(|t| (t.id.to_string(), t.name))
                .collect(),
            channels: Channel::ALL
                .iter()
                .map(|c| (c.as_str(), c.as_str()))
                .collect(),
            inboxes: s
                .app
                .inboxes(actor)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|i| (i.id.to_string(), i.name))
                .collect(),
        }
    }
}

/// Whether a filter's current value is `v` (for `selected`).
pub(super) fn picked(current: &Option<String>, v: &str) -> bool {
    current.as_deref() == Some(v)
}

pub(super) fn picked_id(current: &Option<i64>, v: &str) -> bool {
    current.map(|c| c.to_string()).as_deref() == Some(v)
}

/// Whether the filters shown are exactly "my team's waiting conversations" for `team`.
/// The order shown does not matter.
pub(super) fn is_team_view(f: &ViewFilters, team: &i64) -> bool {
    ViewFilters {
        sort: None,
        ..f.clone()
    } == ViewFilters {
        status: Some("open,pending".into()),
        team_id: Some(*team),
        ..ViewFilters::default()
    }
}

async fn save(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let text = |k: &str| Some(value(&f, k).to_string());
    let filters = ViewFilters {
        status: text("status"),
        assignee: text("assignee"),
        team_id: value(&f, "team_id").parse().ok(),
        tag: text("tag"),
        channel: text("channel"),
        inbox_id: value(&f, "inbox_id").parse().ok(),
        sort: text("sort"),
    };
    let input = ViewInput {
        name: value(&f, "name").to_string(),
        filters,
        shared: value(&f, "shared") == "on",
    };
    match s.app.create_view(&caller.actor, input).await {
        Ok(v) => see_other(&format!("/inbox?saved={}", v.id)),
        Err(e) => error_page(&s, &caller, e).await,
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
        || s.app.delete_view(&caller.actor, id),
        "/inbox",
    )
    .await
}

/// Applies one action to the conversations ticked in the list, then shows the same list.
async fn bulk(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    use citius_app::conversations::UpdateConversationInput;
    use citius_domain::conversation::Status;
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let ids: Vec<i64> = f
        .iter()
        .filter(|(k, _)| k == "ids")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let status = |st: Status| UpdateConversationInput {
        status: Some(st),
        ..Default::default()
    };
    let change = match value(&f, "action") {
        "assign_me" => UpdateConversationInput {
            assignee_id: Some(Some(caller.actor.user_id)),
            ..Default::default()
        },
        "unassign" => UpdateConversationInput {
            assignee_id: Some(None),
            ..Default::default()
        },
        "resolve" => status(Status::Resolved),
        "close" => status(Status::Closed),
        "reopen" => status(Status::Open),
        "tag" => UpdateConversationInput {
            add_tags: Some(vec![value(&f, "tag").to_string()]),
            ..Default::default()
        },
        _ => {
            let e = citius_domain::Invalid::field("action", text::t("inbox.pick_an_action"));
            return error_page(&s, &caller, e.into()).await;
        }
    };
    // Back to the list the agent was looking at (only our own inbox addresses).
    let back = value(&f, "back");
    let back = if back.starts_with("/inbox") && !back.starts_with("//") {
        back.to_string()
    } else {
        "/inbox".to_string()
    };
    match s.app.bulk_update(&caller.actor, &ids, change).await {
        Ok(_) => see_other(&back),
        Err(e) => error_page(&s, &caller, e).await,
    }
}
