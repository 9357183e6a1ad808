//! `GET /api/v1/events`: the workspace's events as Server-Sent Events. Each event's id is its
//! log id, so a client that reconnects with `Last-Event-ID` gets what it missed from the log.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

const CATCH_UP_BATCH: i64 = 500;

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream")))]
pub async fn stream(State(s): State<AppState>, Auth(a): Auth, headers: HeaderMap) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let last: Option<i64> = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    // Subscribe before catching up, so nothing committed in between is missed; ids dedupe.
    let mut rx = s.app.hub.subscribe();
    let app = s.app.clone();
    let ws = a.workspace_id;
    let stream = async_stream::stream! {
        let mut sent = last.unwrap_or(i64::MAX);
        if sent != i64::MAX {
            loop {
                let batch = match app.events_since(&a, sent, CATCH_UP_BATCH).await {
                    Ok(b) => b,
                    Err(e) => { tracing::warn!(error = %e, "event catch-up failed"); break; }
                };
                let n = batch.len();
                for e in batch {
                    sent = e.id;
                    yield Ok(to_sse(&e));
                }
                if (n as i64) < CATCH_UP_BATCH { break; }
            }
        }
        loop {
            match rx.recv().await {
                Ok(live) if live.workspace_id == ws => {
                    if sent != i64::MAX && live.event.id <= sent { continue; }
                    sent = live.event.id;
                    yield Ok(to_sse(&live.event));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Fell behind the in-memory buffer: read the gap from the log.
                    if let Ok(batch) = app.events_since(&a, if sent == i64::MAX { 0 } else { sent }, CATCH_UP_BATCH).await {
                        for e in batch { sent = e.id; yield Ok(to_sse(&e)); }
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_sse(e: &citius_domain::records::Event) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind.as_str())
        .data(serde_json::to_string(e).unwrap_or_else(|_| "{}".into()))
}
