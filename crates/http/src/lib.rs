//! Citius over HTTP: the JSON API (/api/v1), the web screens, live event streams, health and
//! metrics. Handlers translate between HTTP and use cases; rules live in citius-app.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod hooks;
mod idempotency;
pub mod state;
mod ui;
pub mod widget;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use citius_app::App;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

pub use state::AppState;

use crate::extract::Json;

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body for API calls, in bytes.
    pub max_body_bytes: usize,
    /// Largest body for posting a message with attachments.
    pub max_message_bytes: usize,
    /// Mark cookies Secure (serve behind HTTPS).
    pub secure_cookies: bool,
    /// Take the client address from X-Forwarded-For (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// Longest time a request may take before it is answered with 503 (streams excepted).
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_message_bytes: 25 * 1024 * 1024,
            secure_cookies: false,
            trust_proxy: false,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The whole HTTP surface.
pub fn router(app: App, config: HttpConfig) -> Router {
    router_with(app, config, None, Arc::new(AtomicBool::new(true)))
}

/// Like [`router`], with a metrics handle for /metrics and a readiness flag the server flips.
pub fn router_with(
    app: App,
    config: HttpConfig,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ready_flag: Arc<AtomicBool>,
) -> Router {
    let state = AppState {
        widget_limits: std::sync::Arc::default(),
        app,
        config: Arc::new(config.clone()),
        metrics,
        ready: ready_flag,
    };
    let request_id = HeaderName::from_static("x-request-id");
    let api = api::routes(config.max_message_bytes)
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .fallback(api_not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ));
    Router::new()
        .nest("/api/v1", api)
        .merge(ui::routes(config.max_message_bytes))
        .merge(hooks::routes())
        .merge(widget::routes())
        .route("/metrics", get(metrics_endpoint))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            error::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; it has been logged").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Alive and ready to serve (the database answers).
#[utoipa::path(get, path = "/api/v1/health", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(s): State<AppState>) -> Response {
    ready(State(s)).await
}

/// Ready for traffic: migrations done, database reachable, not shutting down.
#[utoipa::path(get, path = "/api/v1/ready", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(State(s): State<AppState>) -> Response {
    if !s.ready.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "shutting_down",
            }),
        )
            .into_response();
    }
    match s.app.db.ping().await {
        Ok(()) => Json(Health { status: "ok" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "database_unreachable",
                }),
            )
                .into_response()
        }
    }
}

async fn openapi() -> impl IntoResponse {
    axum::Json(api::ApiDoc::openapi())
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route")
}

async fn metrics_endpoint(State(s): State<AppState>) -> Response {
    match &s.metrics {
        Some(h) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4",
            )],
            h.render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    res
}
