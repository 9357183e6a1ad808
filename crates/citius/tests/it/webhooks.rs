//! Outbound webhooks: a receiver that fails three times then succeeds gets the event once
//! successfully, signed so a standard library verifies it; private targets are refused unless
//! allowed; the delivery log and replay work; an endpoint answering 410 is turned off.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use citius_app::AppConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{self, Backend, TestApp, assert_invalid, id};

/// A receiver on 127.0.0.1 answering with the given statuses in turn (the last one repeats),
/// keeping each request's headers and body.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Request>>>,
}

/// What the receiver got: headers and body.
type Request = (HeaderMap, Vec<u8>);

impl Receiver {
    async fn start(statuses: Vec<u16>) -> (Receiver, String) {
        let r = Receiver::default();
        let seen = r.seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                let statuses = statuses.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    seen.push((headers, body.to_vec()));
                    let i = (seen.len() - 1).min(statuses.len() - 1);
                    AxumStatus::from_u16(statuses[i]).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (r, url)
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// Lets the server work: reacts to events and runs delivery jobs, with retries made due now.
async fn deliver(t: &TestApp) {
    for _ in 0..3 {
        t.make_due("webhook.deliver").await;
        t.app.run_due_jobs().await.expect("run jobs");
    }
}

fn allow_private() -> AppConfig {
    AppConfig {
        webhook_allow_private: true,
        ..AppConfig::default()
    }
}

async fn fails_three_times_then_succeeds(t: TestApp) {
    let tok = t.token.as_str();
    let (receiver, url) = Receiver::start(vec![500, 503, 500, 200]).await;
    let created = t
        .post_created(
            "/api/v1/webhooks",
            tok,
            json!({"url": url, "description": "CRM sync", "event_types": ["conversation.created"]}),
        )
        .await;
    let endpoint = id(&created);
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    let listed = t.get_ok("/api/v1/webhooks", tok).await;
    assert!(
        listed.to_string().find("whsec_").is_none(),
        "the secret is shown only when created: {listed}"
    );

    let conv = t
        .conversation(tok, "ada@example.com", "Where is my parcel?")
        .await;
    for _ in 0..4 {
        deliver(&t).await;
    }
    assert_eq!(
        receiver.count(),
        4,
        "three failures, then one success, then nothing more"
    );
    let seen = receiver.seen.lock().unwrap().clone();
    let ids: Vec<String> = seen
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "retries keep the id: {ids:?}"
    );

    // The standard library verifies what the receiver got.
    let wh = standardwebhooks::Webhook::new(&secret).expect("secret parses");
    let (headers, body) = &seen[3];
    wh.verify(body, headers).expect("signature verifies");
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert!(
        wh.verify(&tampered, headers).is_err(),
        "a changed body must not verify"
    );

    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["type"], "conversation.created");
    assert_eq!(payload["data"]["conversation"]["id"], conv["id"]);

    let log = t
        .get_ok(&format!("/api/v1/webhooks/{endpoint}/messages"), tok)
        .await;
    let messages = log["items"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{log}");
    assert_eq!(messages[0]["status"], "delivered");
    assert_eq!(messages[0]["attempts"], 4);
    let detail = t
        .get_ok(
            &format!("/api/v1/webhook-messages/{}", id(&messages[0])),
            tok,
        )
        .await;
    let codes: Vec<i64> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![500, 503, 500, 200]);

    // A manual replay sends the same message again, with the same id.
    let (status, _) = t
        .post(
            &format!("/api/v1/webhook-messages/{}/replay", id(&messages[0])),
            tok,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    deliver(&t).await;
    assert_eq!(receiver.count(), 5);
    let replayed_id = receiver.seen.lock().unwrap()[4].0["webhook-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(replayed_id, ids[0]);

    // Other event types are not sent to an endpoint that did not ask for them.
    t.patch_ok(
        &format!("/api/v1/conversations/{}", id(&conv)),
        tok,
        json!({"priority": "high"}),
    )
    .await;
    deliver(&t).await;
    assert_eq!(receiver.count(), 5);
}

async fn gone_turns_the_endpoint_off(t: TestApp) {
    let tok = t.token.as_str();
    let (receiver, url) = Receiver::start(vec![410]).await;
    let created = t
        .post_created(
            "/api/v1/webhooks",
            tok,
            json!({"url": url, "event_types": ["*"]}),
        )
        .await;
    t.conversation(tok, "bo@example.com", "Hello").await;
    deliver(&t).await;
    assert_eq!(receiver.count(), 1);
    let endpoint = t
        .get_ok(&format!("/api/v1/webhooks/{}", id(&created)), tok)
        .await;
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    t.conversation(tok, "cy@example.com", "Hello again").await;
    deliver(&t).await;
    assert_eq!(receiver.count(), 1, "a disabled endpoint gets nothing");
}

/// With the default configuration, private, loopback and link-local targets are refused.
async fn private_targets_are_refused(t: TestApp) {
    let tok = t.token.as_str();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
    ] {
        let (status, body) = t
            .post(
                "/api/v1/webhooks",
                tok,
                json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        assert_invalid(status, &body, "url", url);
    }
    let (status, body) = t
        .post(
            "/api/v1/webhooks",
            tok,
            json!({"url": "https://hooks.example.com/x", "event_types": ["no.such.event"]}),
        )
        .await;
    assert_invalid(status, &body, "event_types", "unknown event type");
    // Agents cannot manage webhooks.
    let agent = t.user_token("agent").await;
    let (status, _) = t.get("/api/v1/webhooks", &agent).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

macro_rules! with_config {
    ($name:ident, $config:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = kit::spawn_app_with(Backend::Sqlite, $config).await;
                kit::within_limit(super::$name(t)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = kit::spawn_app_with(Backend::Postgres, $config).await;
                kit::within_limit(super::$name(t)).await;
            }
        }
    };
}

with_config!(fails_three_times_then_succeeds, allow_private());
with_config!(gone_turns_the_endpoint_off, allow_private());
with_config!(private_targets_are_refused, AppConfig::default());
