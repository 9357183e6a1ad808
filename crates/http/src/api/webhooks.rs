//! Outbound webhook endpoints, their delivery log and manual replay.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::webhooks::{CreatedEndpoint, MessageDetail};
use citius_domain::paging::PageRequest;
use citius_domain::records::{WebhookEndpointInfo, WebhookMessageInfo};
use citius_domain::webhook::EndpointInput;

use super::{Items, List, PageQuery};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Items<WebhookEndpointInfo>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<WebhookEndpointInfo>>> {
    Ok(Json(Items {
        items: s.app.webhook_endpoints(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = EndpointInput,
    responses((status = 201, body = CreatedEndpoint, description = "created; the signing secret is shown only now"),
        (status = 422, body = ErrorBody, description = "bad URL, a refused (private) target or an unknown event type")))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<EndpointInput>,
) -> ApiResult<(StatusCode, Json<CreatedEndpoint>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_webhook_endpoint(&a, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 200, body = WebhookEndpointInfo), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<WebhookEndpointInfo>> {
    Ok(Json(s.app.webhook_endpoint(&a, id).await?))
}

#[utoipa::path(put, path = "/api/v1/webhooks/{id}", tag = "webhooks", request_body = EndpointInput,
    responses((status = 200, body = WebhookEndpointInfo), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<EndpointInput>,
) -> ApiResult<Json<WebhookEndpointInfo>> {
    Ok(Json(s.app.update_webhook_endpoint(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    responses((status = 204, description = "deleted with its delivery log"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_webhook_endpoint(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/messages", tag = "webhooks", params(PageQuery),
    responses((status = 200, body = List<WebhookMessageInfo>), (status = 404, body = ErrorBody)))]
pub async fn messages(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<List<WebhookMessageInfo>>> {
    let page =
        PageRequest::parse(q.limit, q.cursor.as_deref()).map_err(citius_app::AppError::from)?;
    Ok(Json(s.app.webhook_messages(&a, id, page).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/webhook-messages/{id}", tag = "webhooks",
    responses((status = 200, body = MessageDetail), (status = 404, body = ErrorBody)))]
pub async fn message(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<MessageDetail>> {
    Ok(Json(s.app.webhook_message(&a, id).await?))
}

#[utoipa::path(post, path = "/api/v1/webhook-messages/{id}/replay", tag = "webhooks",
    responses((status = 202, description = "queued to be sent again with the same webhook-id"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the endpoint is disabled")))]
pub async fn replay(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.replay_webhook_message(&a, id).await?;
    Ok(StatusCode::ACCEPTED)
}
