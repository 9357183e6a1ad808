//! Presence, routing policies and queue positions.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::routing::{
    AgentStatus, PresenceInput, QueueInfo, RoutingPolicy, RoutingPolicyInput, ScheduleInput,
};

use super::Items;
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[utoipa::path(put, path = "/api/v1/presence", tag = "routing", request_body = PresenceInput,
    responses((status = 200, body = AgentStatus, description = "the caller's presence; going away or offline puts their routed conversations back in the queue"),
        (status = 422, body = ErrorBody)))]
pub async fn set_presence(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<PresenceInput>,
) -> ApiResult<Json<AgentStatus>> {
    Ok(Json(s.app.set_presence(&a, input).await?))
}

#[utoipa::path(post, path = "/api/v1/presence/heartbeat", tag = "routing",
    responses((status = 204, description = "the caller is still at the screen")))]
pub async fn heartbeat(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<StatusCode> {
    s.app.presence_heartbeat(&a).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/agents", tag = "routing",
    responses((status = 200, body = Items<AgentStatus>)))]
pub async fn agents(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<AgentStatus>>> {
    Ok(Json(Items {
        items: s.app.agents(&a).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/routing/policies", tag = "routing",
    responses((status = 200, body = Items<RoutingPolicy>)))]
pub async fn policies(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<RoutingPolicy>>> {
    Ok(Json(Items {
        items: s.app.routing_policies(&a).await?,
    }))
}

#[utoipa::path(put, path = "/api/v1/inboxes/{id}/routing", tag = "routing", request_body = RoutingPolicyInput,
    responses((status = 200, body = RoutingPolicy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<RoutingPolicyInput>,
) -> ApiResult<Json<RoutingPolicy>> {
    Ok(Json(s.app.set_routing_policy(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/inboxes/{id}/routing", tag = "routing",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_policy(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_routing_policy(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/queue", tag = "routing",
    responses((status = 200, body = QueueInfo, description = "position among waiting conversations and an estimated wait")))]
pub async fn queue(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<QueueInfo>> {
    Ok(Json(s.app.queue_info(&a, id).await?))
}

#[utoipa::path(put, path = "/api/v1/users/{id}/schedule", tag = "routing", request_body = ScheduleInput,
    responses((status = 200, body = AgentStatus, description = "outside the calendar's hours the agent gets no routed work"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_schedule(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<ScheduleInput>,
) -> ApiResult<Json<AgentStatus>> {
    Ok(Json(s.app.set_schedule(&a, id, input).await?))
}
