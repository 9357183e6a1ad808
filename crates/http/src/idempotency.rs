//! `Idempotency-Key` on POST: the first response is stored and replayed for retries with the
//! same key and body; the same key with another body is refused. Keys are per user and workspace.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use citius_store::idempotency::{self, Claim};
use sha2::{Digest, Sha256};

use crate::auth::{Caller, resolve};
use crate::error::{ApiError, too_large};
use crate::state::AppState;

const HEADER: &str = "idempotency-key";
/// Responses larger than this are not kept; a retry then runs again.
const MAX_STORED_RESPONSE: usize = 1024 * 1024;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match run(state, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = match req.headers().get(HEADER) {
        Some(k) if req.method() == Method::POST => k
            .to_str()
            .map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII"))?
            .to_string(),
        _ => return Ok(next.run(req).await),
    };
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1-255 characters",
        ));
    }
    let Some(caller) = resolve(&state.app, req.headers()).await? else {
        return Err(ApiError::unauthorized());
    };
    let (mut parts, body) = req.into_parts();
    // The wrapped route enforces its own limit when it reads the body again; here only the
    // largest any route accepts applies.
    let limit = state
        .config
        .max_body_bytes
        .max(state.config.max_message_bytes);
    let bytes = to_bytes(body, limit).await.map_err(|_| too_large())?;
    let hash = hex::encode(
        Sha256::new()
            .chain_update(parts.uri.path().as_bytes())
            .chain_update(b"\n")
            .chain_update(&bytes)
            .finalize(),
    );
    let (ws, user) = (caller.actor.workspace_id, caller.actor.user_id);
    let db = &state.app.db;
    let mut tx = db
        .begin()
        .await
        .map_err(|e| ApiError::from(citius_app::AppError::from(e)))?;
    let claim = idempotency::claim(&mut tx, ws, user, &key, &hash)
        .await
        .map_err(|e| ApiError::from(citius_app::AppError::from(e)))?;
    tx.commit()
        .await
        .map_err(|e| ApiError::from(citius_app::AppError::from(e)))?;
    match claim {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut res = (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            res.headers_mut().insert(
                "idempotent-replayed",
                axum::http::HeaderValue::from_static("true"),
            );
            return Ok(res);
        }
        Claim::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_mismatch",
                "this Idempotency-Key was used with a different request",
            ));
        }
        Claim::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running",
            ));
        }
        Claim::New => {}
    }
    parts.extensions.insert::<Caller>(caller);
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (res_parts, res_body) = res.into_parts();
    let status = res_parts.status;
    let out = to_bytes(res_body, MAX_STORED_RESPONSE).await;
    let mut tx = db
        .begin()
        .await
        .map_err(|e| ApiError::from(citius_app::AppError::from(e)))?;
    let stored = match &out {
        // Client errors are answers too (a retry would get the same); server errors are not.
        Ok(b) if !status.is_server_error() => {
            idempotency::finish(
                &mut tx,
                ws,
                user,
                &key,
                status.as_u16(),
                &String::from_utf8_lossy(b),
            )
            .await
        }
        _ => idempotency::release(&mut tx, ws, user, &key).await,
    };
    if let Err(e) = stored.map_err(citius_app::AppError::from) {
        tracing::error!(error = %e, "could not store idempotent response");
    }
    let _ = tx.commit().await;
    match out {
        Ok(b) => Ok(Response::from_parts(res_parts, Body::from(b))),
        Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "response too large to keep for idempotent replay",
        )),
    }
}
