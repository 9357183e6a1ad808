//! Macros: canned replies or notes with placeholders, and the changes they make.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::macros::MacroInfo;
use citius_domain::macros::MacroInput;
use citius_domain::records::Conversation;

use super::Items;
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/macros", tag = "macros",
    responses((status = 200, body = Items<MacroInfo>, description = "shared macros and the caller's personal ones")))]
pub async fn list(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<MacroInfo>>> {
    Ok(Json(Items {
        items: s.app.macros(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/macros", tag = "macros", request_body = MacroInput,
    responses((status = 201, body = MacroInfo), (status = 403, body = ErrorBody, description = "shared macros are for administrators"), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<MacroInput>,
) -> ApiResult<(StatusCode, Json<MacroInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.save_macro(&a, None, input).await?),
    ))
}

#[utoipa::path(put, path = "/api/v1/macros/{id}", tag = "macros", request_body = MacroInput,
    responses((status = 200, body = MacroInfo), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<MacroInput>,
) -> ApiResult<Json<MacroInfo>> {
    Ok(Json(s.app.save_macro(&a, Some(id), input).await?))
}

#[utoipa::path(delete, path = "/api/v1/macros/{id}", tag = "macros",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_macro(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/macros/{macro_id}", tag = "macros",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = Conversation, description = "applied: its changes and its text, in one step"), (status = 404, body = ErrorBody)))]
pub async fn apply(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((id, macro_id)): Path<(i64, i64)>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(s.app.apply_macro(&a, id, macro_id).await?))
}
