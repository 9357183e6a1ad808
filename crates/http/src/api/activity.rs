//! Who is viewing or typing in a conversation.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::activity::{ActivityInput, Collision};

use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/conversations/{id}/activity", tag = "conversations", request_body = ActivityInput,
    responses((status = 200, body = Collision, description = "recorded; who else is viewing or typing"), (status = 404, body = ErrorBody)))]
pub async fn report(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<ActivityInput>,
) -> ApiResult<Json<Collision>> {
    Ok(Json(s.app.report_activity(&a, id, input).await?))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/activity", tag = "conversations",
    responses((status = 200, body = Collision), (status = 404, body = ErrorBody)))]
pub async fn others(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Collision>> {
    Ok(Json(s.app.collision(&a, id).await?))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}/activity", tag = "conversations",
    responses((status = 204, description = "the caller left the conversation")))]
pub async fn leave(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.leave_conversation(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
