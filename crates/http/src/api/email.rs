//! Email: what arrived in the workspace's inboxes, originals of messages, sending again.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use citius_domain::paging::PageRequest;
use citius_domain::records::InboundMail;

use super::{List, PageQuery};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/email/inbound", tag = "email", params(PageQuery),
    responses((status = 200, body = List<InboundMail>, description = "received mail, newest first, with what became of each"),
        (status = 403, body = ErrorBody)))]
pub async fn inbound(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<List<InboundMail>>> {
    let page =
        PageRequest::parse(q.limit, q.cursor.as_deref()).map_err(citius_app::AppError::from)?;
    Ok(axum::Json(s.app.inbound_mail(&a, page).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/messages/{id}/original", tag = "email",
    responses((status = 200, description = "the message as received or sent, byte for byte", content_type = "message/rfc822"),
        (status = 404, body = ErrorBody, description = "no such message, or it did not travel by email")))]
pub async fn original(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let raw = s.app.email_original(&a, id).await?;
    Ok((
        [
            // Downloaded, never rendered: the original is the customer's unfiltered markup.
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"message-{id}.eml\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        Body::from(raw),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/resend", tag = "email",
    responses((status = 202, description = "queued to be sent again with the same Message-ID"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the message is not failed or bounced")))]
pub async fn resend(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.resend_email(&a, id).await?;
    Ok(StatusCode::ACCEPTED)
}
