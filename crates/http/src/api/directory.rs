use axum::extract::State;
use axum::http::StatusCode;
use citius_app::directory::{InboxInput, NewUserInput, TeamInput, UpdateUserInput};
use citius_domain::paging::PageRequest;
use citius_domain::records::{AuditEntry, Inbox, Skill, Tag, Team, User};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Items, List, PageQuery};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Items<User>)))]
pub async fn users(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<User>>> {
    Ok(Json(Items {
        items: s.app.users(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserInput, responses((status = 201, body = User), (status = 403, body = ErrorBody)))]
pub async fn add_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<NewUserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(s.app.add_user(&a, input).await?)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", responses((status = 200, body = User)))]
pub async fn user(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.app.user(&a, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUserInput, responses((status = 200, body = User)))]
pub async fn update_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<UpdateUserInput>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.app.update_user(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", responses((status = 204)))]
pub async fn remove_user(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.remove_user(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillLevel {
    /// 1 (basic) to 5 (expert); 0 removes the skill.
    pub level: i64,
}

#[utoipa::path(put, path = "/api/v1/users/{id}/skills/{skill_id}", tag = "users", request_body = SkillLevel, responses((status = 204)))]
pub async fn set_user_skill(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path((id, skill_id)): Path<(i64, i64)>,
    Json(input): Json<SkillLevel>,
) -> ApiResult<StatusCode> {
    s.app.set_user_skill(&a, id, skill_id, input.level).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", responses((status = 200, body = Items<Team>)))]
pub async fn teams(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<Team>>> {
    Ok(Json(Items {
        items: s.app.teams(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamInput, responses((status = 201, body = Team)))]
pub async fn create_team(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<TeamInput>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_team(&a, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams", responses((status = 200, body = Team)))]
pub async fn team(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Team>> {
    Ok(Json(s.app.team(&a, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams", request_body = TeamInput, responses((status = 200, body = Team)))]
pub async fn update_team(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<TeamInput>,
) -> ApiResult<Json<Team>> {
    Ok(Json(s.app.update_team(&a, id, input).await?))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams", responses((status = 204)))]
pub async fn delete_team(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_team(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameInput {
    pub name: String,
}

#[utoipa::path(get, path = "/api/v1/skills", tag = "teams", responses((status = 200, body = Items<Skill>)))]
pub async fn skills(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<Skill>>> {
    Ok(Json(Items {
        items: s.app.skills(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/skills", tag = "teams", request_body = NameInput, responses((status = 201, body = Skill)))]
pub async fn create_skill(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<NameInput>,
) -> ApiResult<(StatusCode, Json<Skill>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_skill(&a, &input.name).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/inboxes", tag = "inboxes", responses((status = 200, body = Items<Inbox>)))]
pub async fn inboxes(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<Inbox>>> {
    Ok(Json(Items {
        items: s.app.inboxes(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/inboxes", tag = "inboxes", request_body = InboxInput, responses((status = 201, body = Inbox)))]
pub async fn create_inbox(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<InboxInput>,
) -> ApiResult<(StatusCode, Json<Inbox>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_inbox(&a, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", responses((status = 200, body = Items<Tag>)))]
pub async fn tags(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<Tag>>> {
    Ok(Json(Items {
        items: s.app.tags(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/tags", tag = "tags", request_body = NameInput, responses((status = 201, body = Tag)))]
pub async fn create_tag(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<NameInput>,
) -> ApiResult<(StatusCode, Json<Tag>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_tag(&a, &input.name).await?),
    ))
}

#[utoipa::path(delete, path = "/api/v1/tags/{id}", tag = "tags", responses((status = 204)))]
pub async fn delete_tag(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_tag(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageQuery), responses((status = 200, body = List<AuditEntry>)))]
pub async fn audit(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<List<AuditEntry>>> {
    let page =
        PageRequest::parse(q.limit, q.cursor.as_deref()).map_err(citius_app::AppError::from)?;
    Ok(Json(s.app.audit_log(&a, page).await?.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// queued, running, done or dead.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "operations", params(JobQuery), responses((status = 200, body = List<citius_domain::records::JobInfo>)))]
pub async fn jobs(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<JobQuery>,
) -> ApiResult<Json<List<citius_domain::records::JobInfo>>> {
    let page =
        PageRequest::parse(q.limit, q.cursor.as_deref()).map_err(citius_app::AppError::from)?;
    Ok(Json(
        s.app.jobs(&a, q.status.as_deref(), page).await?.into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "operations", responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn retry_job(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.retry_job(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
