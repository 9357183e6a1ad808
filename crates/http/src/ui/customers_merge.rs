//! One customer across channels, by hand: merging a duplicate in, splitting an identity off into
//! its own customer, and saying two suggested customers are different people. All audited.

use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::post;
use citius_app::customers::{IdentityInput, MergeSuggestion};
use citius_domain::customer::IdentityKind;

use super::form_value as value;
use super::settings::{confirmed, see_other};
use super::{check_csrf, error_page, text};
use crate::auth::WebSession;
use crate::extract::Path;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/merge", post(merge))
        .route("/customers/{id}/split", post(split))
        .route("/customers/{id}/duplicates/{other}/dismiss", post(dismiss))
}

#[derive(serde::Deserialize, Default)]
pub(super) struct NoticeParam {
    pub notice: Option<String>,
}

pub(super) fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "merged" => text::t("customers.merged"),
        "split" => text::t("customers.split"),
        "dismissed" => text::t("customers.dismissed"),
        _ => return None,
    })
}

/// A suggested duplicate, in words.
pub(super) struct DuplicateView {
    pub customer_id: i64,
    pub customer_name: String,
    pub other_id: i64,
    pub other_name: String,
    pub why: String,
}

impl From<MergeSuggestion> for DuplicateView {
    fn from(m: MergeSuggestion) -> Self {
        let why = match m.reason.as_str() {
            "claimed_identity" => text::tf("customers.why_claimed", &[("identity", &m.detail)]),
            _ => text::tf("customers.why_same_name", &[("detail", &m.detail)]),
        };
        Self {
            customer_id: m.customer_id,
            customer_name: m.customer_name,
            other_id: m.other_id,
            other_name: m.other_name,
            why,
        }
    }
}

async fn merge(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let source = match value(&f, "source_id").trim().parse::<i64>() {
        Ok(v) => v,
        Err(_) => {
            let e =
                citius_domain::Invalid::field("source_id", text::t("customers.must_be_a_number"));
            return error_page(&s, &caller, e.into()).await;
        }
    };
    match s.app.merge_customers(&caller.actor, id, source).await {
        Ok(_) => see_other(&format!("/customers/{id}?notice=merged")),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn split(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path(id): Path<i64>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_csrf(&caller, value(&f, "_csrf")) {
        return *r;
    }
    let kind = match IdentityKind::parse(value(&f, "kind")) {
        Ok(k) => k,
        Err(e) => return error_page(&s, &caller, e.into()).await,
    };
    let input = IdentityInput {
        kind,
        value: value(&f, "value").to_string(),
    };
    match s.app.split_identity(&caller.actor, id, input).await {
        Ok(new) => see_other(&format!("/customers/{}?notice=split", new.id)),
        Err(e) => error_page(&s, &caller, e).await,
    }
}

async fn dismiss(
    State(s): State<AppState>,
    WebSession(caller): WebSession,
    Path((id, other)): Path<(i64, i64)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    confirmed(
        &s,
        &caller,
        value(&f, "_csrf"),
        || s.app.dismiss_duplicate(&caller.actor, id, other),
        &format!("/customers/{id}?notice=dismissed"),
    )
    .await
}
