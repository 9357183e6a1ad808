//! Email: what arrived in the workspace's inboxes, originals of messages, sending again.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use citius_domain::imap::MailboxInput;
use citius_domain::paging::PageRequest;
use citius_domain::records::{ImapMailbox, InboundMail};

use super::{Items, List, PageQuery};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
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

#[utoipa::path(get, path = "/api/v1/imap-mailboxes", tag = "email",
    responses((status = 200, body = Items<ImapMailbox>, description = "the IMAP mailboxes the workspace's inboxes read, and how reading each goes"),
        (status = 403, body = ErrorBody)))]
pub async fn imap_mailboxes(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<ImapMailbox>>> {
    Ok(Json(Items {
        items: s.app.imap_mailboxes(&a).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/inboxes/{id}/imap", tag = "email",
    responses((status = 200, body = ImapMailbox), (status = 404, body = ErrorBody, description = "no such inbox, or it reads no mailbox")))]
pub async fn imap_mailbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<ImapMailbox>> {
    Ok(Json(s.app.imap_mailbox(&a, id).await?))
}

#[utoipa::path(put, path = "/api/v1/inboxes/{id}/imap", tag = "email", request_body = MailboxInput,
    responses((status = 200, body = ImapMailbox, description = "saved; the mailbox is read at once"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "bad settings, or not an email inbox")))]
pub async fn set_imap_mailbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<MailboxInput>,
) -> ApiResult<Json<ImapMailbox>> {
    Ok(Json(s.app.set_imap_mailbox(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/inboxes/{id}/imap", tag = "email",
    responses((status = 204, description = "the inbox no longer reads the mailbox; mail taken stays"), (status = 404, body = ErrorBody)))]
pub async fn remove_imap_mailbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.remove_imap_mailbox(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/inboxes/{id}/imap/poll", tag = "email",
    responses((status = 202, description = "the mailbox is read within seconds"), (status = 404, body = ErrorBody)))]
pub async fn poll_imap_mailbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.poll_imap_now(&a, id).await?;
    Ok(StatusCode::ACCEPTED)
}
