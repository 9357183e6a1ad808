//! Live events over Server-Sent Events: delivered promptly, only to the right workspace, and
//! caught up after a reconnect with `Last-Event-ID`.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, both, id};

/// One SSE event: its `id:`, `event:` and the JSON of its `data:`.
#[derive(Debug, Clone)]
struct Frame {
    id: Option<String>,
    event: Option<String>,
    data: Value,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

struct EventStream {
    body: ByteStream,
    buf: String,
}

impl EventStream {
    async fn open(t: &TestApp, token: &str, last_event_id: Option<i64>) -> EventStream {
        // Its own client: the suite's client has an overall timeout, a stream must not.
        let client = reqwest::Client::new();
        let mut rb = client.get(t.url("/api/v1/events")).bearer_auth(token);
        if let Some(last) = last_event_id {
            rb = rb.header("Last-Event-ID", last.to_string());
        }
        let r = rb.send().await.expect("open the event stream");
        assert_eq!(r.status(), StatusCode::OK, "GET /api/v1/events");
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        EventStream {
            body: Box::pin(r.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event carrying data, or `None` if none comes within `within`.
    async fn next(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(frame) = parse(&block) {
                    return Some(frame);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            let chunk = chunk.expect("read the event stream");
            self.buf
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// Reads events until one matches, failing after `within`; returns everything read.
    async fn until(
        &mut self,
        within: Duration,
        what: &str,
        done: impl Fn(&Frame) -> bool,
    ) -> Vec<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(f) = self.next(left).await else {
                panic!("no {what} within {within:?}; got {got:#?}");
            };
            let stop = done(&f);
            got.push(f);
            if stop {
                return got;
            }
        }
    }
}

fn parse(block: &str) -> Option<Frame> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_string()),
            "event" => event = Some(value.to_string()),
            "data" => data.push(value.to_string()),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let text = data.join("\n");
    let data = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {text}"));
    Some(Frame { id, event, data })
}

/// Checks the frame's own consistency: `id:` is the event id, `event:` (if any) its kind.
#[track_caller]
fn check(f: &Frame) -> i64 {
    let eid = f.data["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("event without id: {f:?}"));
    assert_eq!(
        f.id.as_deref(),
        Some(eid.to_string().as_str()),
        "SSE id must be the event id: {f:?}"
    );
    if let Some(e) = &f.event {
        assert_eq!(f.data["kind"].as_str(), Some(e.as_str()), "{f:?}");
    }
    assert!(f.data["conversation_id"].is_i64(), "{f:?}");
    assert!(f.data["kind"].is_string(), "{f:?}");
    eid
}

fn kinds(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f.data["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

async fn live_events(t: TestApp) {
    let a = t.token.as_str();
    let (s, b) = t.get("/api/v1/events", "").await;
    assert_error(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "events without credentials",
    );

    let viewer = t.user_token("viewer").await;
    let mut live = EventStream::open(&t, &viewer, None).await;

    // Another workspace is busy first: none of it may reach A's stream.
    let globex = t.second_workspace().await;
    let b_conv = t
        .conversation(&globex, "x@globex.test", "Globex only")
        .await;

    let conv = t.conversation(a, "live@example.com", "Live").await;
    let cid = id(&conv);
    let msgs = format!("/api/v1/conversations/{cid}/messages");
    let msg = t
        .post_created(&msgs, a, json!({"body": "On it", "kind": "reply"}))
        .await;
    let mid = id(&msg);

    let got = live
        .until(Duration::from_secs(5), "message_added for the reply", |f| {
            f.data["kind"] == "message_added" && f.data["data"]["message_id"] == mid
        })
        .await;
    let ids: Vec<i64> = got.iter().map(check).collect();
    assert!(
        got.iter().all(|f| f.data["conversation_id"] == cid),
        "only A's conversation: {got:#?} (B's was {})",
        id(&b_conv)
    );
    assert_eq!(
        kinds(&got),
        ["created", "message_added", "message_added"],
        "{got:#?}"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let first = ids[0];
    let last_seen = ids[ids.len() - 1];
    drop(live);

    // While nobody listens: a status change and a note.
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        a,
        json!({"status": "pending"}),
    )
    .await;
    let note = t
        .post_created(&msgs, a, json!({"body": "internal", "kind": "note"}))
        .await;
    t.conversation(&globex, "y@globex.test", "More Globex")
        .await;

    // Reconnect after the first event: everything after it, in order, exactly once.
    let mut again = EventStream::open(&t, &viewer, Some(first)).await;
    let caught = again
        .until(Duration::from_secs(5), "the note's message_added", |f| {
            f.data["data"]["message_id"] == id(&note)
        })
        .await;
    let caught_ids: Vec<i64> = caught.iter().map(check).collect();
    assert_eq!(
        kinds(&caught),
        [
            "message_added",
            "message_added",
            "status_changed",
            "message_added"
        ],
        "{caught:#?}"
    );
    assert!(
        caught_ids.iter().all(|i| *i > first),
        "catch-up starts after Last-Event-ID {first}: {caught_ids:?}"
    );
    assert!(caught_ids.windows(2).all(|w| w[0] < w[1]), "{caught_ids:?}");
    assert_eq!(
        caught_ids[1], last_seen,
        "the reply's event comes again after an earlier Last-Event-ID"
    );
    assert!(
        caught.iter().all(|f| f.data["conversation_id"] == cid),
        "{caught:#?}"
    );

    // And then live again, without duplicates.
    let later = t
        .post_created(&msgs, a, json!({"body": "Done", "kind": "reply"}))
        .await;
    let rest = again
        .until(
            Duration::from_secs(5),
            "the live message_added after catch-up",
            |f| f.data["data"]["message_id"] == id(&later),
        )
        .await;
    let rest_ids: Vec<i64> = rest.iter().map(check).collect();
    assert_eq!(kinds(&rest), ["message_added"], "{rest:#?}");
    assert!(rest_ids[0] > caught_ids[caught_ids.len() - 1]);
}
both!(live_events);
