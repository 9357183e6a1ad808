use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use citius_app::conversations::{
    ConversationQuery, InboxCounts, NewConversationInput, NewMessageInput, UpdateConversationInput,
};
use citius_domain::records::{Conversation, Mention, Message, SavedView, SearchHits, TimelineItem};
use citius_domain::views::ViewInput;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Items, List};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", request_body = NewConversationInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key return the first response")),
    responses((status = 201, body = Conversation), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<NewConversationInput>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_conversation(&a, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", params(ConversationQuery),
    responses((status = 200, body = List<Conversation>)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<ConversationQuery>,
) -> ApiResult<Json<List<Conversation>>> {
    Ok(Json(s.app.conversations(&a, &q).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/conversations/counts", tag = "conversations", responses((status = 200, body = InboxCounts)))]
pub async fn counts(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<InboxCounts>> {
    Ok(Json(s.app.conversation_counts(&a).await?))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(s.app.conversation(&a, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations", request_body = UpdateConversationInput,
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<UpdateConversationInput>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(s.app.update_conversation(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "conversations", responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_conversation(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations", request_body = NewMessageInput,
    responses((status = 201, body = Message), (status = 404, body = ErrorBody)))]
pub async fn add_message(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<NewMessageInput>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.add_message(&a, id, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations", responses((status = 200, body = Items<Message>)))]
pub async fn messages(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<Message>>> {
    Ok(Json(Items {
        items: s.app.messages(&a, id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/timeline", tag = "conversations", responses((status = 200, body = Items<TimelineItem>)))]
pub async fn timeline(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<TimelineItem>>> {
    Ok(Json(Items {
        items: s.app.timeline(&a, id).await?,
    }))
}

/// Files are always downloaded, never rendered: customers' HTML or SVG must not run in our origin.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "conversations", responses((status = 200, description = "The file", content_type = "application/octet-stream")))]
pub async fn attachment(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let (meta, data) = s.app.attachment(&a, id).await?;
    Ok(download(&meta, data))
}

/// A stored file as a download that browsers never render: markup and scripts go out as
/// plain bytes, under a name that cannot break the header.
pub(crate) fn download(meta: &citius_domain::records::Attachment, data: Vec<u8>) -> Response {
    let safe_type = match meta.content_type.as_str() {
        t if t.starts_with("text/html")
            || t.contains("svg")
            || t.contains("xml")
            || t.contains("javascript") =>
        {
            "application/octet-stream"
        }
        t => t,
    };
    let name: String = meta
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, safe_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        Body::from(data),
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find (prefixes match): subjects, messages, customer names and identities.
    pub q: String,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery), responses((status = 200, body = SearchHits)))]
pub async fn search(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchHits>> {
    Ok(Json(s.app.search(&a, &q.q).await?))
}

#[utoipa::path(get, path = "/api/v1/views", tag = "conversations",
    responses((status = 200, body = Items<SavedView>, description = "the caller's saved inbox views and the shared ones")))]
pub async fn views(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<SavedView>>> {
    Ok(Json(Items {
        items: s.app.saved_views(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/views", tag = "conversations", request_body = ViewInput,
    description = "Saves an inbox view; list its conversations with GET /api/v1/conversations and the same filters.",
    responses((status = 201, body = SavedView), (status = 403, body = ErrorBody, description = "shared views are for admins"),
        (status = 422, body = ErrorBody)))]
pub async fn create_view(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<ViewInput>,
) -> ApiResult<(StatusCode, Json<SavedView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_view(&a, input).await?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/views/{id}", tag = "conversations",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_view(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_view(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/mentions", tag = "conversations",
    responses((status = 200, body = Items<Mention>, description = "the caller's @mentions in internal notes, newest first; seen once they open the conversation")))]
pub async fn mentions(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<Mention>>> {
    Ok(Json(Items {
        items: s.app.my_mentions(&a).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInput {
    /// Up to 100 conversations.
    pub ids: Vec<i64>,
    /// The change, as for PATCH /api/v1/conversations/{id}.
    pub changes: citius_app::conversations::UpdateConversationInput,
}

#[utoipa::path(post, path = "/api/v1/conversations/bulk", tag = "conversations", request_body = BulkInput,
    description = "Changes several conversations at once; each changes on its own (events, rules, audit), and those that cannot are listed with the reason.",
    responses((status = 200, body = citius_app::conversations::BulkOutcome), (status = 422, body = ErrorBody)))]
pub async fn bulk(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<BulkInput>,
) -> ApiResult<Json<citius_app::conversations::BulkOutcome>> {
    Ok(Json(
        s.app.bulk_update(&a, &input.ids, input.changes).await?,
    ))
}
