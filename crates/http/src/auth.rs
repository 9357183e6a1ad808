//! Who is calling. API clients send `Authorization: Bearer <token>`; the web UI uses a session
//! cookie. A cookie alone must never authorise a change: unsafe requests made with a cookie must
//! echo the session's CSRF token (header `X-CSRF-Token` for the API, a form field for the UI).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use citius_app::{Actor, App, AppError};

use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "citius_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A resolved caller, cached in request extensions so middleware and handlers resolve it once.
#[derive(Clone)]
pub struct Caller {
    pub actor: Actor,
    /// Set for cookie sessions: the token forms and unsafe API calls must echo.
    pub session: Option<SessionInfo>,
}

#[derive(Clone)]
pub struct SessionInfo {
    pub token: String,
    pub csrf_token: String,
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Resolves the caller from a bearer token or a session cookie; `None` if neither is present.
pub async fn resolve(app: &App, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| ApiError::unauthorized())?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or_else(ApiError::unauthorized)?
            .trim();
        let actor = app.actor_from_token(token).await.map_err(|e| match e {
            AppError::Unauthorized => ApiError::unauthorized(),
            e => e.into(),
        })?;
        return Ok(Some(Caller {
            actor,
            session: None,
        }));
    }
    if let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| t.len() == 64) {
        return match app.actor_from_session(&token).await {
            Ok((actor, csrf_token)) => Ok(Some(Caller {
                actor,
                session: Some(SessionInfo { token, csrf_token }),
            })),
            Err(AppError::Unauthorized) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    Ok(None)
}

pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Constant-time comparison for secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// An authenticated API caller. Cookie sessions must carry the CSRF header on unsafe methods.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = match parts.extensions.get::<Caller>() {
            Some(c) => c.clone(),
            None => {
                let c = resolve(&state.app, &parts.headers)
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
                parts.extensions.insert(c.clone());
                c
            }
        };
        if let Some(session) = &caller.session
            && is_unsafe(&parts.method)
        {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &session.csrf_token) {
                return Err(ApiError::forbidden(
                    "missing or wrong X-CSRF-Token header for a cookie session",
                ));
            }
        }
        Ok(Auth(caller.actor))
    }
}

/// A signed-in web user (UI pages): redirects to the login page when absent.
pub struct WebSession(pub Caller);

impl FromRequestParts<AppState> for WebSession {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::{IntoResponse, Redirect};
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.app.actor_from_session(&token).await {
            Ok((actor, csrf_token)) => Ok(WebSession(Caller {
                actor,
                session: Some(SessionInfo { token, csrf_token }),
            })),
            Err(AppError::Unauthorized) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure when configured (behind HTTPS).
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The client address for rate limits and audit: the socket peer, or the first
/// `X-Forwarded-For` hop when the operator says a proxy sits in front.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    trust_proxy: bool,
) -> Option<String> {
    if trust_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return Some(ip.trim().to_string());
    }
    peer.map(|p| p.ip().to_string())
}
