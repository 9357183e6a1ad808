//! SMS, WhatsApp and voice: inboxes' provider accounts and conversations' phone calls.

use axum::extract::State;
use axum::http::StatusCode;
use citius_domain::records::{Call, ProviderAccount};
use citius_domain::telephony::ProviderInput;

use super::Items;
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/provider-accounts", tag = "telephony",
    responses((status = 200, body = Items<ProviderAccount>), (status = 403, body = ErrorBody)))]
pub async fn accounts(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<ProviderAccount>>> {
    Ok(Json(Items {
        items: s.app.provider_accounts(&a).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/inboxes/{id}/provider", tag = "telephony",
    responses((status = 200, body = ProviderAccount), (status = 404, body = ErrorBody)))]
pub async fn account(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ProviderAccount>> {
    Ok(Json(s.app.provider_account(&a, id).await?))
}

#[utoipa::path(put, path = "/api/v1/inboxes/{id}/provider", tag = "telephony", request_body = ProviderInput,
    description = "Connects an SMS, WhatsApp or voice inbox (its address is the phone number) to a Twilio-compatible provider. Point the provider's webhooks at /hooks/twilio/{id}/messages, /status and /voice.",
    responses((status = 200, body = ProviderAccount), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "bad settings, or an inbox of another channel")))]
pub async fn set_account(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<ProviderInput>,
) -> ApiResult<Json<ProviderAccount>> {
    Ok(Json(s.app.set_provider_account(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/inboxes/{id}/provider", tag = "telephony",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_account(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.remove_provider_account(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/calls", tag = "telephony",
    responses((status = 200, body = Items<Call>, description = "the conversation's phone calls, oldest first"),
        (status = 404, body = ErrorBody)))]
pub async fn calls(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<Call>>> {
    Ok(Json(Items {
        items: s.app.calls(&a, id).await?,
    }))
}
