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
pub async fn stream(
    State(s): State<AppState>,
    Auth(a): Auth,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let last: Option<i64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    // Subscribe before catching up, so nothing committed in between is missed; ids dedupe.
    let mut rx = s.app.hub.subscribe();
    let app = s.app.clone();
    let ws = a.workspace_id;
    let stream = async_stream::stream! {
        // Ids already sent: catch-up and live delivery overlap, and with several writers events
        // can arrive out of id order, so "newer than the last id" would drop some.
        let mut seen = RecentIds::default();
        let mut cursor = last.unwrap_or(0);
        if last.is_some() {
            loop {
                let batch = match app.events_since(&a, cursor, CATCH_UP_BATCH).await {
                    Ok(b) => b,
                    Err(e) => { tracing::warn!(error = %e, "event catch-up failed"); break; }
                };
                let n = batch.len();
                for e in batch {
                    cursor = cursor.max(e.id);
                    if seen.insert(e.id) { yield Ok(to_sse(&e)); }
                }
                if (n as i64) < CATCH_UP_BATCH { break; }
            }
        }
        loop {
            match rx.recv().await {
                Ok(live) if live.workspace_id == ws => {
                    cursor = cursor.max(live.event.id);
                    if seen.insert(live.event.id) { yield Ok(to_sse(&live.event)); }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // Fell behind the in-memory buffer: read the gap from the log.
                    if let Ok(batch) = app.events_since(&a, cursor.saturating_sub(1000), CATCH_UP_BATCH).await {
                        for e in batch {
                            cursor = cursor.max(e.id);
                            if seen.insert(e.id) { yield Ok(to_sse(&e)); }
                        }
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

/// The last few thousand ids sent on a stream.
#[derive(Default)]
struct RecentIds {
    set: std::collections::HashSet<i64>,
    order: std::collections::VecDeque<i64>,
}

impl RecentIds {
    const KEEP: usize = 4096;

    /// True if the id is new (and remembers it).
    fn insert(&mut self, id: i64) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}
