//! Business calendars, SLA policies and where a conversation's SLA stands.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::sla::{CalendarInfo, ConversationSla, OrderInput, SlaPolicyInfo, SlaSummary};
use citius_domain::calendar::CalendarInput;
use citius_domain::sla::SlaPolicyInput;

use super::Items;
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/calendars", tag = "sla",
    responses((status = 200, body = Items<CalendarInfo>)))]
pub async fn calendars(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<CalendarInfo>>> {
    Ok(Json(Items {
        items: s.app.calendars(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/calendars", tag = "sla", request_body = CalendarInput,
    responses((status = 201, body = CalendarInfo), (status = 422, body = ErrorBody)))]
pub async fn create_calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<CalendarInput>,
) -> ApiResult<(StatusCode, Json<CalendarInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.save_calendar(&a, None, input).await?),
    ))
}

#[utoipa::path(put, path = "/api/v1/calendars/{id}", tag = "sla", request_body = CalendarInput,
    responses((status = 200, body = CalendarInfo), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<CalendarInput>,
) -> ApiResult<Json<CalendarInfo>> {
    Ok(Json(s.app.save_calendar(&a, Some(id), input).await?))
}

#[utoipa::path(delete, path = "/api/v1/calendars/{id}", tag = "sla",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "an SLA policy uses it")))]
pub async fn delete_calendar(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_calendar(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/sla/policies", tag = "sla",
    responses((status = 200, body = Items<SlaPolicyInfo>, description = "in the order they are tried")))]
pub async fn policies(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<SlaPolicyInfo>>> {
    Ok(Json(Items {
        items: s.app.sla_policies(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/sla/policies", tag = "sla", request_body = SlaPolicyInput,
    responses((status = 201, body = SlaPolicyInfo, description = "added last; applies to conversations created from now on"), (status = 422, body = ErrorBody)))]
pub async fn create_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<SlaPolicyInput>,
) -> ApiResult<(StatusCode, Json<SlaPolicyInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.save_sla_policy(&a, None, input).await?),
    ))
}

#[utoipa::path(put, path = "/api/v1/sla/policies/{id}", tag = "sla", request_body = SlaPolicyInput,
    responses((status = 200, body = SlaPolicyInfo), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<SlaPolicyInput>,
) -> ApiResult<Json<SlaPolicyInfo>> {
    Ok(Json(s.app.save_sla_policy(&a, Some(id), input).await?))
}

#[utoipa::path(delete, path = "/api/v1/sla/policies/{id}", tag = "sla",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_sla_policy(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/sla/policies/order", tag = "sla", request_body = OrderInput,
    responses((status = 200, body = Items<SlaPolicyInfo>)))]
pub async fn order_policies(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<OrderInput>,
) -> ApiResult<Json<Items<SlaPolicyInfo>>> {
    Ok(Json(Items {
        items: s.app.order_sla_policies(&a, input).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/sla", tag = "sla",
    responses((status = 200, body = ConversationSla), (status = 404, body = ErrorBody)))]
pub async fn conversation(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConversationSla>> {
    Ok(Json(s.app.conversation_sla(&a, id).await?))
}

#[utoipa::path(get, path = "/api/v1/reports/sla", tag = "sla",
    responses((status = 200, body = SlaSummary)))]
pub async fn summary(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<SlaSummary>> {
    Ok(Json(s.app.sla_summary(&a).await?))
}
