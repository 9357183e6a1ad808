use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse};
use citius_domain::records::{ApiToken, User, Workspace};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Items;
use crate::auth::{Auth, SESSION_COOKIE, clear_session_cookie, client_ip, cookie, session_cookie};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// Slug of the workspace to enter; the first one otherwise.
    pub workspace: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOutput {
    /// Send it as `X-CSRF-Token` on every POST, PATCH, PUT or DELETE made with the session cookie.
    pub csrf_token: String,
    pub workspace: Workspace,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = LoginOutput, description = "Sets the session cookie"), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<LoginInput>,
) -> ApiResult<impl IntoResponse> {
    let ip = client_ip(&headers, Some(peer), s.config.trust_proxy);
    let session = s
        .app
        .login(
            &input.email,
            &input.password,
            input.workspace.as_deref(),
            ip.as_deref(),
        )
        .await?;
    let max_age = (session.expires_at_ms - citius_store::now_ms()) / 1000;
    Ok((
        AppendHeaders([(
            header::SET_COOKIE,
            session_cookie(&session.token, max_age, s.config.secure_cookies),
        )]),
        Json(LoginOutput {
            csrf_token: session.csrf_token,
            workspace: session.workspace,
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(s): State<AppState>,
    Auth(_actor): Auth,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        s.app.logout(&token).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, clear_session_cookie())]),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub workspace: Workspace,
    pub workspaces: Vec<Workspace>,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, body = Me)))]
pub async fn me(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Me>> {
    let user = s.app.user(&a, a.user_id).await?;
    let workspaces: Vec<Workspace> = s
        .app
        .workspaces_of(&a)
        .await?
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    let workspace = workspaces
        .iter()
        .find(|w| w.id == a.workspace_id)
        .cloned()
        .ok_or(citius_app::AppError::NotFound)?;
    Ok(Json(Me {
        user,
        workspace,
        workspaces,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// Shown once; only its hash is stored.
    pub token: String,
    pub api_token: ApiToken,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", responses((status = 200, body = Items<ApiToken>)))]
pub async fn tokens(State(s): State<AppState>, Auth(a): Auth) -> ApiResult<Json<Items<ApiToken>>> {
    Ok(Json(Items {
        items: s.app.tokens(&a).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = TokenInput, responses((status = 201, body = NewToken)))]
pub async fn create_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    Json(input): Json<TokenInput>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let (api_token, token) = s.app.create_token(&a, &input.name).await?;
    Ok((StatusCode::CREATED, Json(NewToken { token, api_token })))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", responses((status = 204)))]
pub async fn revoke_token(
    State(s): State<AppState>,
    Auth(a): Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.app.revoke_token(&a, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
