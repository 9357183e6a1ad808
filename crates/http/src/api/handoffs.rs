//! Transfers with context capsules, follow-ups and the handoff report.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::handoffs::{DeclineInput, FollowUpInput, TransferInput};
use citius_domain::handoff::Capsule;
use citius_domain::records::{FollowUp, HandoffReport, Transfer};
use serde::Deserialize;
use utoipa::IntoParams;

use super::Items;
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/conversations/{id}/transfers", tag = "handoffs", request_body = TransferInput,
    responses((status = 201, body = Transfer), (status = 409, body = ErrorBody, description = "an offer is already waiting"),
        (status = 422, body = ErrorBody, description = "no capsule, or no receiver")))]
pub async fn transfer(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<TransferInput>,
) -> ApiResult<(StatusCode, Json<Transfer>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.transfer(&a, id, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/transfers", tag = "handoffs",
    responses((status = 200, body = Items<Transfer>), (status = 404, body = ErrorBody)))]
pub async fn transfers(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<Transfer>>> {
    Ok(Json(Items {
        items: s.app.transfers(&a, id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/capsule-draft", tag = "handoffs",
    responses((status = 200, body = Capsule, description = "a first draft from the timeline, to edit before transferring")))]
pub async fn capsule_draft(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Capsule>> {
    Ok(Json(s.app.capsule_draft(&a, id).await?))
}

#[utoipa::path(get, path = "/api/v1/transfers/offers", tag = "handoffs",
    responses((status = 200, body = Items<Transfer>, description = "warm offers waiting for the caller's answer")))]
pub async fn offers(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<Transfer>>> {
    Ok(Json(Items {
        items: s.app.my_offers(&a).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/transfers/{id}", tag = "handoffs",
    responses((status = 200, body = Transfer), (status = 404, body = ErrorBody)))]
pub async fn get_transfer(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Transfer>> {
    Ok(Json(s.app.transfer_by_id(&a, id).await?))
}

#[utoipa::path(post, path = "/api/v1/transfers/{id}/accept", tag = "handoffs",
    responses((status = 200, body = Transfer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn accept(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Transfer>> {
    Ok(Json(s.app.accept_transfer(&a, id).await?))
}

#[utoipa::path(post, path = "/api/v1/transfers/{id}/decline", tag = "handoffs", request_body = DeclineInput,
    responses((status = 200, body = Transfer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn decline(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<DeclineInput>,
) -> ApiResult<Json<Transfer>> {
    Ok(Json(s.app.decline_transfer(&a, id, input).await?))
}

#[utoipa::path(post, path = "/api/v1/transfers/{id}/cancel", tag = "handoffs",
    responses((status = 200, body = Transfer), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Transfer>> {
    Ok(Json(s.app.cancel_transfer(&a, id).await?))
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/follow-ups", tag = "handoffs", request_body = FollowUpInput,
    responses((status = 201, body = FollowUp), (status = 422, body = ErrorBody)))]
pub async fn add_follow_up(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<FollowUpInput>,
) -> ApiResult<(StatusCode, Json<FollowUp>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.add_follow_up(&a, id, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/follow-ups", tag = "handoffs",
    responses((status = 200, body = Items<FollowUp>)))]
pub async fn follow_ups(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<FollowUp>>> {
    Ok(Json(Items {
        items: s.app.follow_ups(&a, id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/follow-ups", tag = "handoffs",
    responses((status = 200, body = Items<FollowUp>, description = "open follow-ups of the caller's conversations, soonest due first")))]
pub async fn my_follow_ups(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<FollowUp>>> {
    Ok(Json(Items {
        items: s.app.my_follow_ups(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/follow-ups/{id}/done", tag = "handoffs",
    responses((status = 200, body = FollowUp), (status = 404, body = ErrorBody)))]
pub async fn complete_follow_up(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<FollowUp>> {
    Ok(Json(s.app.complete_follow_up(&a, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// Days back from now, 1 to 366 (default 30).
    pub days: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/reports/handoffs", tag = "handoffs", params(ReportQuery),
    responses((status = 200, body = HandoffReport)))]
pub async fn report(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<HandoffReport>> {
    Ok(Json(s.app.handoff_report(&a, q.days).await?))
}
