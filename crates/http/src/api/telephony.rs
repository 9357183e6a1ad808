//! Channel settings of inboxes: SMS, WhatsApp and voice provider accounts, conversations' phone
//! calls, and chat inboxes' widgets.

use axum::extract::State;
use axum::http::StatusCode;
use citius_domain::chat::WidgetInput;
use citius_domain::records::{Call, ChatWidget, ProviderAccount};
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

#[utoipa::path(get, path = "/api/v1/chat-widgets", tag = "chat widget",
    responses((status = 200, body = Items<ChatWidget>), (status = 403, body = ErrorBody)))]
pub async fn widgets(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<ChatWidget>>> {
    Ok(Json(Items {
        items: s.app.chat_widgets(&a).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/inboxes/{id}/widget", tag = "chat widget",
    responses((status = 200, body = ChatWidget), (status = 404, body = ErrorBody)))]
pub async fn widget(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChatWidget>> {
    Ok(Json(s.app.chat_widget(&a, id).await?))
}

#[utoipa::path(put, path = "/api/v1/inboxes/{id}/widget", tag = "chat widget", request_body = WidgetInput,
    description = "Sets up a chat inbox's widget; embed it with <script src=\"{base}/widget.js\" data-citius-key=\"{key}\" async></script>.",
    responses((status = 200, body = ChatWidget), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_widget(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<WidgetInput>,
) -> ApiResult<Json<ChatWidget>> {
    Ok(Json(s.app.set_chat_widget(&a, id, input).await?))
}

#[utoipa::path(post, path = "/api/v1/inboxes/{id}/widget/rotate-key", tag = "chat widget",
    responses((status = 200, body = ChatWidget, description = "a new key; the old snippet stops working"), (status = 404, body = ErrorBody)))]
pub async fn rotate_widget_key(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChatWidget>> {
    Ok(Json(s.app.rotate_widget_key(&a, id).await?))
}
