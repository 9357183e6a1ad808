//! The live-chat widget: the loader script a website embeds, the chat page it frames, and the
//! visitor API under `/widget/v1`. That API is apart from the agent API: a visitor token (not a
//! session or API token) reaches only its own conversation; any site may call it (CORS) but a
//! widget limited to some sites refuses pages from others; every caller is rate-limited.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use citius_app::AppError;
use citius_app::chat::{VisitorMessage, VisitorSession, VisitorState};
use citius_domain::chat::{MAX_VISITOR_FILE, OfflineMessage, VisitorDetails, origin_allowed};
use citius_domain::records::ChatWidget;
use citius_store::chat::Visitor;
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::ui::text;

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/sessions", post(start))
        .route("/messages", get(messages).post(send))
        .route("/typing", post(typing))
        .route("/read", post(read))
        .route("/identify", post(identify))
        .route("/offline", post(offline))
        .route("/state", get(state))
        .route("/events", get(events))
        .route("/files/{id}", get(file))
        .layer(middleware::from_fn(cors))
        // Files come as multipart: allow a little over the file limit.
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_VISITOR_FILE + 64 * 1024,
        ));
    Router::new()
        .route("/widget.js", get(loader))
        .route("/widget/frame", get(frame))
        .nest("/widget/v1", api)
}

// ---- Rate limits -----------------------------------------------------------------------------

/// Requests allowed per key in a minute, counted per node (a cluster allows nodes x limit).
pub struct Limiter {
    hits: Mutex<HashMap<String, (Instant, u32)>>,
    last_sweep: Mutex<Instant>,
    /// Event streams open per visitor.
    streams: Mutex<HashMap<i64, usize>>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            hits: Mutex::default(),
            last_sweep: Mutex::new(Instant::now()),
            streams: Mutex::default(),
        }
    }
}

impl Limiter {
    fn check(&self, key: String, per_minute: u32) -> ApiResult<()> {
        let now = Instant::now();
        let mut map = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        // Forget finished minutes now and then, not on every request.
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > 10_000 && now.duration_since(*last) > Duration::from_secs(10) {
                map.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
                *last = now;
            }
        }
        let entry = map.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > per_minute {
            let wait = 60u64
                .saturating_sub(now.duration_since(entry.0).as_secs())
                .max(1);
            return Err(AppError::RateLimited {
                retry_after_secs: wait,
            }
            .into());
        }
        Ok(())
    }

    /// Counts an open event stream of a visitor; refused beyond a few (tabs of one browser).
    fn open_stream(self: &std::sync::Arc<Self>, visitor: i64) -> ApiResult<StreamSlot> {
        let mut map = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(visitor).or_insert(0);
        if *n >= STREAMS_PER_VISITOR {
            return Err(AppError::RateLimited {
                retry_after_secs: 5,
            }
            .into());
        }
        *n += 1;
        Ok(StreamSlot {
            limiter: self.clone(),
            visitor,
        })
    }
}

/// An open event stream; when it closes its place is free again.
struct StreamSlot {
    limiter: std::sync::Arc<Limiter>,
    visitor: i64,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut map = self
            .limiter
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.visitor) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.visitor);
            }
        }
    }
}

/// Event streams one visitor may hold open at once.
const STREAMS_PER_VISITOR: usize = 4;
/// Reads a visitor may make per minute (messages, state, files).
const VISITOR_READS: u32 = 240;

/// Writes a visitor may make per minute (messages, typing and read reports together).
const VISITOR_WRITES: u32 = 120;
/// Messages a visitor may send per minute.
const VISITOR_MESSAGES: u32 = 20;
/// New visitors and offline messages per client address per minute.
const PER_ADDRESS: u32 = 30;

fn address_of(s: &AppState, headers: &HeaderMap, peer: Option<std::net::SocketAddr>) -> String {
    crate::auth::client_ip(headers, peer, s.config.trust_proxy).unwrap_or_else(|| "?".into())
}

// ---- CORS and origins ------------------------------------------------------------------------

/// Lets pages on any site call the visitor API with a bearer token (never cookies), and
/// answers preflights.
async fn cors(req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut res = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if let Some(o) = origin {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// Refuses pages on sites the widget is not allowed on. The chat page itself (our origin) is
/// always allowed: the browser already kept it off other sites (frame-ancestors).
fn check_origin(s: &AppState, headers: &HeaderMap, widget: &ChatWidget) -> ApiResult<()> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let own = crate::hooks::public_base(s, headers);
    if origin.is_some_and(|o| o.eq_ignore_ascii_case(&own))
        || origin_allowed(&widget.allowed_origins, origin)
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "this chat widget is not allowed on this site",
    ))
}

// ---- Visitor authentication ------------------------------------------------------------------

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

async fn visitor(s: &AppState, headers: &HeaderMap, token: Option<&str>) -> ApiResult<Visitor> {
    let token = bearer(headers).or(token).ok_or(AppError::Unauthorized)?;
    let (v, widget) = s.app.visitor(token).await?;
    check_origin(s, headers, &widget)?;
    Ok(v)
}

// ---- Handlers --------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInput {
    /// The widget's public key, from the snippet.
    pub key: String,
    /// A token this browser was given before, to resume its conversation.
    #[serde(default)]
    pub token: Option<String>,
}

#[utoipa::path(post, path = "/widget/v1/sessions", tag = "chat widget", request_body = StartInput,
    responses((status = 200, body = VisitorSession), (status = 403, body = ErrorBody, description = "the widget is not allowed on this site"),
        (status = 404, body = ErrorBody, description = "no widget with this key"), (status = 429, body = ErrorBody)))]
pub async fn start(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<StartInput>,
) -> ApiResult<Json<VisitorSession>> {
    let (_, widget) = s.app.widget_by_key(&input.key).await?;
    check_origin(&s, &headers, &widget)?;
    // Only a browser resuming its own visitor skips the limit on new visitors.
    let resumes = match input.token.as_deref() {
        Some(t) => matches!(s.app.visitor(t).await, Ok((v, _)) if v.inbox_id == widget.inbox_id),
        None => false,
    };
    if !resumes {
        s.widget_limits.check(
            format!("start:{}", address_of(&s, &headers, Some(peer))),
            PER_ADDRESS,
        )?;
    }
    Ok(Json(
        s.app
            .start_visitor(&input.key, input.token.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AfterQuery {
    /// Only messages after this id.
    #[serde(default)]
    pub after: Option<i64>,
    /// The visitor token, for clients that cannot send headers (EventSource).
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct VisitorMessages {
    pub items: Vec<VisitorMessage>,
}

#[utoipa::path(get, path = "/widget/v1/messages", tag = "chat widget", params(AfterQuery),
    responses((status = 200, body = VisitorMessages, description = "the visitor's conversation, oldest first, without internal notes"),
        (status = 401, body = ErrorBody)))]
pub async fn messages(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AfterQuery>,
) -> ApiResult<Json<VisitorMessages>> {
    let v = visitor(&s, &headers, q.token.as_deref()).await?;
    s.widget_limits
        .check(format!("r:{}", v.id), VISITOR_READS)?;
    Ok(Json(VisitorMessages {
        items: s.app.visitor_messages(&v, q.after.unwrap_or(0)).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    pub body: String,
}

#[utoipa::path(post, path = "/widget/v1/messages", tag = "chat widget",
    request_body(content = SendInput, description = "JSON {body}, or multipart with `body` and one `file`"),
    responses((status = 201, body = VisitorMessage), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn send(
    State(s): State<AppState>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let v = visitor(&s, &headers, None).await?;
    s.widget_limits
        .check(format!("msg:{}", v.id), VISITOR_MESSAGES)?;
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let (text, file) = if multipart {
        let mut form = <Multipart as axum::extract::FromRequest<()>>::from_request(req, &())
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let (mut text, mut file) = (String::new(), None);
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?
        {
            match field.name() {
                Some("body") => {
                    text = field
                        .text()
                        .await
                        .map_err(|e| ApiError::bad_request(e.body_text()))?
                }
                Some("file") if file.is_none() => {
                    let name = field.file_name().unwrap_or("file").to_string();
                    let content_type = field
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_string();
                    let data = field
                        .bytes()
                        .await
                        .map_err(|e| ApiError::bad_request(e.body_text()))?;
                    file = Some((name, content_type, data.to_vec()));
                }
                _ => {}
            }
        }
        (text, file)
    } else {
        let Json(input) =
            <Json<SendInput> as axum::extract::FromRequest<()>>::from_request(req, &()).await?;
        (input.body, None)
    };
    let m = s.app.visitor_send(&v, &text, file).await?;
    Ok((StatusCode::CREATED, Json(m)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingInput {
    pub typing: bool,
}

#[utoipa::path(post, path = "/widget/v1/typing", tag = "chat widget", request_body = TypingInput,
    responses((status = 204, description = "agents see the visitor typing for a few seconds"), (status = 401, body = ErrorBody)))]
pub async fn typing(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<TypingInput>,
) -> ApiResult<StatusCode> {
    let v = visitor(&s, &headers, None).await?;
    s.widget_limits
        .check(format!("w:{}", v.id), VISITOR_WRITES)?;
    s.app.visitor_typing(&v, input.typing).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// The newest message the visitor has seen.
    pub up_to: i64,
}

#[utoipa::path(post, path = "/widget/v1/read", tag = "chat widget", request_body = ReadInput,
    responses((status = 204, description = "agents see their messages as seen"), (status = 401, body = ErrorBody)))]
pub async fn read(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<ReadInput>,
) -> ApiResult<StatusCode> {
    let v = visitor(&s, &headers, None).await?;
    s.widget_limits
        .check(format!("w:{}", v.id), VISITOR_WRITES)?;
    s.app.visitor_read(&v, input.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/widget/v1/identify", tag = "chat widget", request_body = VisitorDetails,
    responses((status = 204, description = "the visitor's email and name are on their customer"), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn identify(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<VisitorDetails>,
) -> ApiResult<StatusCode> {
    let v = visitor(&s, &headers, None).await?;
    s.widget_limits
        .check(format!("w:{}", v.id), VISITOR_WRITES)?;
    s.app.visitor_identify(&v, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineInput {
    pub key: String,
    #[serde(flatten)]
    pub message: OfflineMessage,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct OfflineReceipt {
    pub conversation_id: i64,
}

#[utoipa::path(post, path = "/widget/v1/offline", tag = "chat widget", request_body = OfflineInput,
    responses((status = 201, body = OfflineReceipt, description = "an email conversation; replies go to the email given"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn offline(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Json(input): Json<OfflineInput>,
) -> ApiResult<Response> {
    let (_, widget) = s.app.widget_by_key(&input.key).await?;
    check_origin(&s, &headers, &widget)?;
    s.widget_limits.check(
        format!("offline:{}", address_of(&s, &headers, Some(peer))),
        PER_ADDRESS,
    )?;
    let id = s.app.visitor_offline(&input.key, input.message).await?;
    Ok((
        StatusCode::CREATED,
        Json(OfflineReceipt {
            conversation_id: id,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/widget/v1/state", tag = "chat widget", params(AfterQuery),
    responses((status = 200, body = VisitorState), (status = 401, body = ErrorBody)))]
pub async fn state(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AfterQuery>,
) -> ApiResult<Json<VisitorState>> {
    let v = visitor(&s, &headers, q.token.as_deref()).await?;
    s.widget_limits
        .check(format!("r:{}", v.id), VISITOR_READS)?;
    Ok(Json(s.app.visitor_state(&v).await?))
}

#[utoipa::path(get, path = "/widget/v1/events", tag = "chat widget", params(AfterQuery),
    responses((status = 200, content_type = "text/event-stream",
        description = "`message` when the conversation has something new (fetch /messages?after=), `state` when agents start or stop typing, see the visitor's messages, or come online"),
        (status = 401, body = ErrorBody)))]
pub async fn events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AfterQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let first = visitor(&s, &headers, q.token.as_deref()).await?;
    let slot = s.widget_limits.open_stream(first.id)?;
    let token = bearer(&headers)
        .or(q.token.as_deref())
        .unwrap_or("")
        .to_string();
    let mut rx = s.app.hub.subscribe();
    let app = s.app.clone();
    let stream = async_stream::stream! {
        let _slot = slot;
        // Until the visitor writes there is no conversation to watch: look rarely (the page
        // reconnects after its first message); then watch closely for typing and "seen".
        let mut conversation = first.conversation_id;
        let mut last_state = String::new();
        let mut next_look = tokio::time::Instant::now();
        loop {
            let every = if conversation.is_some() { Duration::from_secs(2) } else { Duration::from_secs(10) };
            tokio::select! {
                got = rx.recv() => match got {
                    Ok(live) if live.workspace_id == first.workspace_id
                        && Some(live.event.conversation_id) == conversation => {
                        yield Ok(SseEvent::default().event("message").data(live.event.id.to_string()));
                    }
                    Ok(_) => {}
                    // Missed some: tell the page to look, it fetches what is new.
                    Err(RecvError::Lagged(_)) => yield Ok(SseEvent::default().event("message").data("0")),
                    Err(RecvError::Closed) => break,
                },
                _ = tokio::time::sleep_until(next_look) => {
                    next_look = tokio::time::Instant::now() + every;
                    let Ok((v, _)) = app.visitor(&token).await else { break };
                    if v.conversation_id != conversation {
                        conversation = v.conversation_id;
                        yield Ok(SseEvent::default().event("message").data("0"));
                    }
                    if let Ok(st) = app.visitor_state(&v).await {
                        let text = serde_json::to_string(&st).unwrap_or_default();
                        if text != last_state {
                            last_state = text.clone();
                            yield Ok(SseEvent::default().event("state").data(text));
                        }
                    }
                }
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[utoipa::path(get, path = "/widget/v1/files/{id}", tag = "chat widget", params(AfterQuery),
    responses((status = 200, description = "a file of the visitor's conversation, as a download"), (status = 404, body = ErrorBody)))]
pub async fn file(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<AfterQuery>,
) -> ApiResult<Response> {
    let v = visitor(&s, &headers, q.token.as_deref()).await?;
    s.widget_limits
        .check(format!("r:{}", v.id), VISITOR_READS)?;
    let (a, data) = s.app.visitor_file(&v, id).await?;
    Ok(crate::api::conversations::download(&a, data))
}

// ---- The loader and the chat page ------------------------------------------------------------

/// The script a website embeds: it adds the launcher button and the chat frame. Its words come
/// from the catalogue, filled in where the script marks them (the page it runs on is not ours,
/// so there is no page block to read them from).
async fn loader() -> Response {
    static SCRIPT: std::sync::LazyLock<Option<String>> = std::sync::LazyLock::new(|| {
        let f = crate::ui::Assets::get("widget.js")?;
        let source = String::from_utf8_lossy(&f.data).into_owned();
        Some(source.replacen("/*citius-text*/{}", text::widget_script_texts(), 1))
    });
    match SCRIPT.as_deref() {
        Some(script) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            script,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Template)]
#[template(path = "widget_frame.html")]
struct FramePage {
    key: String,
}

#[derive(Deserialize)]
struct FrameQuery {
    key: String,
}

/// The chat itself, framed by the loader on the customer's site. Only the sites the widget
/// allows may frame it.
async fn frame(State(s): State<AppState>, Query(q): Query<FrameQuery>) -> ApiResult<Response> {
    let (_, widget) = s.app.widget_by_key(&q.key).await?;
    let ancestors = if widget.allowed_origins.is_empty() {
        "*".to_string()
    } else {
        widget.allowed_origins.join(" ")
    };
    let html = FramePage { key: widget.key }
        .render()
        .map_err(|e| ApiError::from(AppError::Unavailable(e.to_string())))?;
    let csp = format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors {ancestors}; form-action 'self'"
    );
    let mut res = Response::new(Body::from(html));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}
