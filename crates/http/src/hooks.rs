//! Webhooks from SMS, WhatsApp and voice providers, in Twilio's format. They carry no session:
//! each is authenticated by its signature (HMAC-SHA1 with the inbox's auth token over the URL
//! and the form), checked before anything is stored.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use citius_domain::telephony::{CallUpdate, DeliveryReport, Fields, InboundText};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Path;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hooks/twilio/{inbox_id}/messages", post(messages))
        .route("/hooks/twilio/{inbox_id}/status", post(status))
        .route("/hooks/twilio/{inbox_id}/voice", post(voice))
}

/// The empty TwiML answer: taken, nothing more to do.
fn twiml() -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
    )
        .into_response()
}

/// The address providers reach this installation at: the configured public URL, else what the
/// request says (its Host, and the scheme a proxy reports).
pub(crate) fn public_base(s: &AppState, headers: &HeaderMap) -> String {
    if let Some(base) = &s.app.config.public_url {
        return base.trim_end_matches('/').to_string();
    }
    let value = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let scheme = value("x-forwarded-proto").unwrap_or("http");
    let host = value("x-forwarded-host")
        .or(value("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The URL the provider signed.
fn signed_url(s: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{}{path}", public_base(s, headers))
}

/// Reads the form and checks its signature against the inbox's auth token.
async fn verified(
    s: &AppState,
    inbox_id: i64,
    headers: &HeaderMap,
    uri: &Uri,
    body: &Bytes,
) -> ApiResult<Fields> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected an application/x-www-form-urlencoded body",
        ));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let fields = Fields::new(pairs).map_err(citius_app::AppError::from)?;
    let token = s.app.provider_token(inbox_id).await?;
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let url = signed_url(s, headers, uri);
    if given.is_empty() || !fields.verify(&token, &url, given) {
        tracing::warn!(inbox_id, %url, "provider webhook with a wrong or missing signature");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "X-Twilio-Signature does not match this inbox's auth token and URL",
        ));
    }
    Ok(fields)
}

#[utoipa::path(post, path = "/hooks/twilio/{inbox_id}/messages", tag = "provider webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "the provider\'s form fields"),
    description = "An inbound SMS or WhatsApp message (Twilio's format, signed with X-Twilio-Signature). A retried webhook is stored once.",
    responses((status = 200, description = "taken (empty TwiML)", content_type = "text/xml"),
        (status = 403, body = ErrorBody, description = "bad signature"), (status = 404, body = ErrorBody, description = "no provider account for this inbox"),
        (status = 422, body = ErrorBody)))]
pub async fn messages(
    State(s): State<AppState>,
    Path(inbox_id): Path<i64>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let fields = verified(&s, inbox_id, &headers, &uri, &body).await?;
    let text = InboundText::parse(&fields).map_err(citius_app::AppError::from)?;
    s.app.receive_text(inbox_id, text).await?;
    Ok(twiml())
}

#[utoipa::path(post, path = "/hooks/twilio/{inbox_id}/status", tag = "provider webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "the provider\'s form fields"),
    description = "A delivery report for a reply (sent, delivered, read, failed, undelivered).",
    responses((status = 200, description = "taken", content_type = "text/xml"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn status(
    State(s): State<AppState>,
    Path(inbox_id): Path<i64>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let fields = verified(&s, inbox_id, &headers, &uri, &body).await?;
    let report = DeliveryReport::parse(&fields).map_err(citius_app::AppError::from)?;
    s.app.text_delivery_report(inbox_id, report).await?;
    Ok(twiml())
}

#[utoipa::path(post, path = "/hooks/twilio/{inbox_id}/voice", tag = "provider webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "the provider\'s form fields"),
    description = "Call progress (ringing, in-progress, completed, busy, no-answer, ...), <Dial> results (a transfer) and recordings. Use it as the number's status callback and recording callback.",
    responses((status = 200, description = "taken", content_type = "text/xml"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn voice(
    State(s): State<AppState>,
    Path(inbox_id): Path<i64>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let fields = verified(&s, inbox_id, &headers, &uri, &body).await?;
    let update = CallUpdate::parse(&fields).map_err(citius_app::AppError::from)?;
    s.app.call_update(inbox_id, update).await?;
    Ok(twiml())
}
