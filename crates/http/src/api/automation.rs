//! Automation rules, their execution log and dry runs.

use axum::extract::State;
use axum::http::StatusCode;
use citius_app::automation::{DryRunInput, RuleInfo, RuleRun};
use citius_app::sla::OrderInput;
use citius_domain::automation::{DryRunReport, RuleInput};
use citius_domain::paging::PageRequest;
use serde::Deserialize;

use super::{Items, List};
use crate::auth::Auth;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/automation/rules", tag = "automation",
    responses((status = 200, body = Items<RuleInfo>, description = "in the order they run")))]
pub async fn rules(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<RuleInfo>>> {
    Ok(Json(Items {
        items: s.app.rules(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/automation/rules", tag = "automation", request_body = RuleInput,
    responses((status = 201, body = RuleInfo, description = "added last in the run order"), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<RuleInput>,
) -> ApiResult<(StatusCode, Json<RuleInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.save_rule(&a, None, input).await?),
    ))
}

#[utoipa::path(put, path = "/api/v1/automation/rules/{id}", tag = "automation", request_body = RuleInput,
    responses((status = 200, body = RuleInfo), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
    Json(input): Json<RuleInput>,
) -> ApiResult<Json<RuleInfo>> {
    Ok(Json(s.app.save_rule(&a, Some(id), input).await?))
}

#[utoipa::path(delete, path = "/api/v1/automation/rules/{id}", tag = "automation",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.delete_rule(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/automation/rules/order", tag = "automation", request_body = OrderInput,
    responses((status = 200, body = Items<RuleInfo>)))]
pub async fn order(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<OrderInput>,
) -> ApiResult<Json<Items<RuleInfo>>> {
    Ok(Json(Items {
        items: s.app.order_rules(&a, input).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/automation/dry-run", tag = "automation", request_body = DryRunInput,
    responses((status = 200, body = DryRunReport, description = "how the rule would have matched recent conversations; nothing changes"),
        (status = 422, body = ErrorBody)))]
pub async fn dry_run(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<DryRunInput>,
) -> ApiResult<Json<DryRunReport>> {
    Ok(Json(s.app.dry_run_rule(&a, input).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Only the runs of this rule.
    pub rule_id: Option<i64>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/automation/runs", tag = "automation", params(RunQuery),
    responses((status = 200, body = List<RuleRun>, description = "the execution log, newest first")))]
pub async fn runs(
    State(s): State<AppState>,
    Auth(a): Auth,
    Query(q): Query<RunQuery>,
) -> ApiResult<Json<List<RuleRun>>> {
    let page =
        PageRequest::parse(q.limit, q.cursor.as_deref()).map_err(citius_app::AppError::from)?;
    Ok(Json(s.app.rule_runs(&a, q.rule_id, page).await?.into()))
}
