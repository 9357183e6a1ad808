use axum::extract::State;
use axum::http::StatusCode;
use citius_app::conversations::CustomerRef;
use citius_app::customers::{IdentityInput, MergeSuggestion, UpdateCustomerInput};
use citius_domain::paging::PageRequest;
use citius_domain::records::{Customer, CustomerNote};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Items, List, PageQuery};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = CustomerRef, responses((status = 201, body = Customer), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<CustomerRef>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_customer(&a, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(PageQuery), responses((status = 200, body = List<Customer>)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<List<Customer>>> {
    let page =
        PageRequest::parse(q.limit, q.cursor.as_deref()).map_err(citius_app::AppError::from)?;
    Ok(Json(s.app.customers(&a, page).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", responses((status = 200, body = Customer), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(s.app.customer(&a, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", request_body = UpdateCustomerInput, responses((status = 200, body = Customer)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<UpdateCustomerInput>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(s.app.update_customer(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "customers", responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_customer(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/identities", tag = "customers", request_body = IdentityInput, responses((status = 200, body = Customer), (status = 409, body = ErrorBody)))]
pub async fn add_identity(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<IdentityInput>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(s.app.add_identity(&a, id, input).await?))
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/split", tag = "customers", request_body = IdentityInput, responses((status = 201, body = Customer)))]
pub async fn split(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<IdentityInput>,
) -> ApiResult<(StatusCode, Json<Customer>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.split_identity(&a, id, input).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The customer merged away; its history moves to the customer in the path.
    pub source_id: i64,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", tag = "customers", request_body = MergeInput, responses((status = 200, body = Customer)))]
pub async fn merge(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<MergeInput>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(s.app.merge_customers(&a, id, input.source_id).await?))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/duplicates", tag = "customers",
    responses((status = 200, body = Items<MergeSuggestion>, description = "customers who may be the same person: one claims the other's identity, or the same full name"),
        (status = 404, body = ErrorBody)))]
pub async fn duplicates(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<MergeSuggestion>>> {
    Ok(Json(Items {
        items: s.app.duplicates_of(&a, id).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/customers/merge-suggestions", tag = "customers",
    responses((status = 200, body = Items<MergeSuggestion>, description = "identities claimed by one customer and held by another, newest first")))]
pub async fn merge_suggestions(
    State(s): State<AppState>,
    Auth(a): Auth,
) -> ApiResult<Json<Items<MergeSuggestion>>> {
    Ok(Json(Items {
        items: s.app.merge_suggestions(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/duplicates/{other_id}/dismiss", tag = "customers",
    responses((status = 204, description = "the two are different people; not suggested again"), (status = 404, body = ErrorBody)))]
pub async fn dismiss_duplicate(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((id, other)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    s.app.dismiss_duplicate(&a, id, other).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub body: String,
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/notes", tag = "customers", responses((status = 200, body = Items<CustomerNote>)))]
pub async fn notes(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Items<CustomerNote>>> {
    Ok(Json(Items {
        items: s.app.customer_notes(&a, id).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/notes", tag = "customers", request_body = NoteInput, responses((status = 201, body = CustomerNote)))]
pub async fn add_note(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<NoteInput>,
) -> ApiResult<(StatusCode, Json<CustomerNote>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.add_customer_note(&a, id, &input.body).await?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/customers/{id}/notes/{note_id}", tag = "customers", responses((status = 204)))]
pub async fn delete_note(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((id, note_id)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    s.app.delete_customer_note(&a, id, note_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
