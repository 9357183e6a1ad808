//! SMS, WhatsApp and voice through a provider in Twilio's format: signed webhooks in, replies
//! out through a fake provider's REST API (a real HTTP server started by the test).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use citius_app::AppConfig;
use citius_domain::telephony::Fields;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{self, Backend, TestApp, id};

const SID: &str = "AC0123456789";
const TOKEN: &str = "provider-auth-token-1";
const INVALID_NUMBER: &str = "+14155550666";

/// What the fake provider was asked to send.
#[derive(Debug, Clone)]
struct Sent {
    auth: String,
    form: Vec<(String, String)>,
}

impl Sent {
    fn get(&self, key: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

#[derive(Clone, Default)]
struct Provider {
    sent: Arc<Mutex<Vec<Sent>>>,
    /// Bodies that get one "503" before they are taken.
    flaky_seen: Arc<Mutex<Vec<String>>>,
}

async fn provider_send(
    State(p): State<Provider>,
    headers: HeaderMap,
    body: String,
) -> (AxumStatus, String) {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let sent = Sent {
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        form,
    };
    if sent.get("To").ends_with(INVALID_NUMBER) {
        return (
            AxumStatus::BAD_REQUEST,
            json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                .to_string(),
        );
    }
    let text = sent.get("Body").to_string();
    if text.contains("flaky") {
        let mut seen = p.flaky_seen.lock().unwrap();
        if !seen.contains(&text) {
            seen.push(text);
            return (AxumStatus::SERVICE_UNAVAILABLE, "try later".into());
        }
    }
    let mut all = p.sent.lock().unwrap();
    all.push(sent);
    (
        AxumStatus::CREATED,
        json!({"sid": format!("SMout{}", all.len()), "status": "queued"}).to_string(),
    )
}

async fn start_provider() -> (Provider, String) {
    let p = Provider::default();
    let app = Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(provider_send),
        )
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (p, format!("http://{addr}"))
}

/// Posts a provider webhook signed the way the provider signs it (or with `token` when testing
/// a forgery); the status and body text.
async fn hook(
    t: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    token: Option<&str>,
) -> (StatusCode, String) {
    let pairs: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let url = t.url(path);
    let mut rb = t
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish(),
        );
    if let Some(tok) = token {
        rb = rb.header(
            "x-twilio-signature",
            Fields::new(pairs.clone()).unwrap().signature(tok, &url),
        );
    }
    let r = rb.send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

async fn inbox(t: &TestApp, name: &str, channel: &str, number: &str) -> i64 {
    id(&t
        .post_created(
            "/api/v1/inboxes",
            &t.token,
            json!({"name": name, "channel": channel, "address": number}),
        )
        .await)
}

async fn messages(t: &TestApp, conv: i64) -> Vec<Value> {
    t.get_ok(&format!("/api/v1/conversations/{conv}/messages"), &t.token)
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn conversations(t: &TestApp, channel: &str) -> Vec<Value> {
    t.get_ok(
        &format!("/api/v1/conversations?channel={channel}&limit=100"),
        &t.token,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn send_due(t: &TestApp) {
    t.make_due("text.send").await;
    t.app.run_due_jobs().await.expect("run jobs");
}

async fn reply(t: &TestApp, conv: i64, body: &str) -> i64 {
    id(&t
        .post_created(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.token,
            json!({"body": body, "kind": "reply"}),
        )
        .await)
}

async fn text_state(t: &TestApp, conv: i64, message: i64) -> Value {
    messages(t, conv)
        .await
        .into_iter()
        .find(|m| m["id"] == message)
        .unwrap()["text"]
        .clone()
}

async fn texts_and_calls(t: TestApp, provider: Provider, api_base: String) {
    let sms = inbox(&t, "SMS", "sms", "+14155550199").await;
    let whatsapp = inbox(&t, "WhatsApp", "whatsapp", "+14155550198").await;
    let voice = inbox(&t, "Phone", "voice", "+14155550197").await;
    let chat = id(&t
        .post_created(
            "/api/v1/inboxes",
            &t.token,
            json!({"name": "Chat", "channel": "chat"}),
        )
        .await);

    // Provider accounts: checked, the token never shown, only for phone channels.
    let (status, body) = t
        .put(
            &format!("/api/v1/inboxes/{sms}/provider"),
            &t.token,
            json!({"account_sid": "not valid!", "api_base": "ftp://x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for f in ["account_sid", "auth_token", "api_base"] {
        assert!(body.to_string().contains(f), "{f} not named: {body}");
    }
    let (status, _) = t
        .put(
            &format!("/api/v1/inboxes/{chat}/provider"),
            &t.token,
            json!({"account_sid": SID, "auth_token": TOKEN}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for i in [sms, whatsapp, voice] {
        let (status, body) = t
            .put(
                &format!("/api/v1/inboxes/{i}/provider"),
                &t.token,
                json!({"account_sid": SID, "auth_token": TOKEN, "api_base": api_base}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body.to_string().contains(TOKEN));
    }
    let audit = t
        .get_ok("/api/v1/audit?limit=50", &t.token)
        .await
        .to_string();
    assert!(audit.contains("inbox.provider_set") && !audit.contains(TOKEN));

    // Inbound SMS: unsigned, forged and unknown-inbox webhooks are refused before anything.
    let path = format!("/hooks/twilio/{sms}/messages");
    let first = [
        ("MessageSid", "SMin1"),
        ("AccountSid", SID),
        ("From", "+14155550100"),
        ("To", "+14155550199"),
        ("Body", "My parcel never arrived"),
        ("NumMedia", "0"),
    ];
    assert_eq!(hook(&t, &path, &first, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        hook(&t, &path, &first, Some("guess")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        hook(&t, "/hooks/twilio/999999/messages", &first, Some(TOKEN))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(conversations(&t, "sms").await.is_empty(), "nothing stored");
    let (status, body) = hook(&t, &path, &first, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<Response>"), "{body}");
    // The provider retries: stored once.
    assert_eq!(hook(&t, &path, &first, Some(TOKEN)).await.0, StatusCode::OK);
    let convs = conversations(&t, "sms").await;
    assert_eq!(convs.len(), 1);
    let sms_conv = id(&convs[0]);
    let customer = convs[0]["customer_id"].as_i64().unwrap();
    let (status, _) = hook(
        &t,
        &path,
        &[
            ("MessageSid", "SMin2"),
            ("From", "+14155550100"),
            ("To", "+14155550199"),
            ("Body", "Order 1234"),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://media.example.test/photo1"),
            ("MediaContentType0", "image/jpeg"),
        ],
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let msgs = messages(&t, sms_conv).await;
    assert_eq!(msgs.len(), 2, "the follow-up joins the open conversation");
    assert_eq!(msgs[0]["text"]["customer_address"], "+14155550100");
    assert!(
        msgs[1]["body_text"]
            .as_str()
            .unwrap()
            .contains("[image/jpeg] https://media.example.test/photo1")
    );
    let (status, body) = hook(
        &t,
        &path,
        &[
            ("MessageSid", "SMin3"),
            ("From", "not a number"),
            ("To", "+14155550199"),
            ("Body", "x"),
        ],
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("From"), "{body}");

    // The agent's reply leaves through the provider's API, from the inbox's number.
    let r1 = reply(&t, sms_conv, "Sorry! Sending a new one today.").await;
    assert_eq!(
        text_state(&t, sms_conv, r1).await["delivery_state"],
        "queued"
    );
    send_due(&t).await;
    let sent = provider.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].get("To"), sent[0].get("From"), sent[0].get("Body")),
        (
            "+14155550100",
            "+14155550199",
            "Sorry! Sending a new one today."
        )
    );
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    assert_eq!(sent[0].auth, basic);
    let state = text_state(&t, sms_conv, r1).await;
    assert_eq!(
        (state["delivery_state"].as_str(), state["sid"].as_str()),
        (Some("sent"), Some("SMout1"))
    );

    // Delivery reports move it forward, never back.
    let status_path = format!("/hooks/twilio/{sms}/status");
    for s in ["delivered", "sent"] {
        let (code, _) = hook(
            &t,
            &status_path,
            &[("MessageSid", "SMout1"), ("MessageStatus", s)],
            Some(TOKEN),
        )
        .await;
        assert_eq!(code, StatusCode::OK);
    }
    assert_eq!(
        text_state(&t, sms_conv, r1).await["delivery_state"],
        "delivered"
    );

    // Provider trouble is retried; a refusal fails the reply at once, visibly.
    let r2 = reply(&t, sms_conv, "A flaky moment").await;
    send_due(&t).await;
    let state = text_state(&t, sms_conv, r2).await;
    assert_eq!(state["delivery_state"], "queued", "{state}");
    assert!(state["delivery_error"].as_str().unwrap().contains("503"));
    send_due(&t).await;
    assert_eq!(text_state(&t, sms_conv, r2).await["delivery_state"], "sent");

    hook(
        &t,
        &path,
        &[
            ("MessageSid", "SMin9"),
            ("From", INVALID_NUMBER),
            ("To", "+14155550199"),
            ("Body", "hi"),
        ],
        Some(TOKEN),
    )
    .await;
    let bad_conv = conversations(&t, "sms")
        .await
        .into_iter()
        .map(|c| id(&c))
        .find(|c| *c != sms_conv)
        .unwrap();
    let r3 = reply(&t, bad_conv, "Hello").await;
    send_due(&t).await;
    let state = text_state(&t, bad_conv, r3).await;
    assert_eq!(state["delivery_state"], "failed");
    assert!(
        state["delivery_error"].as_str().unwrap().contains("21211"),
        "{state}"
    );
    let events = t
        .get_ok(
            &format!("/api/v1/conversations/{bad_conv}/timeline"),
            &t.token,
        )
        .await
        .to_string();
    assert!(events.contains("text_failed"), "{events}");

    // WhatsApp: the same person (same phone number), replies go back on WhatsApp.
    let wa_path = format!("/hooks/twilio/{whatsapp}/messages");
    let (status, body) = hook(
        &t,
        &wa_path,
        &[
            ("MessageSid", "SMwa1"),
            ("From", "+14155550100"),
            ("To", "+14155550198"),
            ("Body", "hi"),
        ],
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an SMS address in a WhatsApp inbox: {body}"
    );
    let (status, _) = hook(
        &t,
        &wa_path,
        &[
            ("MessageSid", "SMwa2"),
            ("From", "whatsapp:+14155550100"),
            ("To", "whatsapp:+14155550198"),
            ("Body", "Writing here instead"),
            ("ProfileName", "Ana"),
        ],
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let wa = conversations(&t, "whatsapp").await;
    assert_eq!(wa.len(), 1);
    assert_eq!(
        wa[0]["customer_id"].as_i64(),
        Some(customer),
        "one customer across channels"
    );
    reply(&t, id(&wa[0]), "Got it").await;
    send_due(&t).await;
    let last = provider.sent.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.get("To"), last.get("From")),
        ("whatsapp:+14155550100", "whatsapp:+14155550198")
    );

    // A phone call: ringing, answered, passed on, completed, then its recording; repeats and
    // late reports change nothing.
    let call_path = format!("/hooks/twilio/{voice}/voice");
    let call = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("CallSid", "CA100"),
            ("AccountSid", SID),
            ("From", "+14155550100"),
            ("To", "+14155550197"),
            ("Direction", "inbound"),
        ];
        form.extend_from_slice(extra);
        form
    };
    for step in [
        call(&[("CallStatus", "ringing")]),
        call(&[("CallStatus", "in-progress")]),
        call(&[
            ("CallStatus", "in-progress"),
            ("DialCallSid", "CA101"),
            ("DialCallStatus", "answered"),
            ("DialCallTo", "+14155550111"),
        ]),
        call(&[("CallStatus", "completed"), ("CallDuration", "192")]),
        call(&[("CallStatus", "completed"), ("CallDuration", "192")]),
        call(&[("CallStatus", "ringing")]),
        call(&[
            ("RecordingSid", "RE1"),
            ("RecordingUrl", "https://api.example.test/Recordings/RE1"),
            ("RecordingDuration", "180"),
            ("RecordingStatus", "completed"),
        ]),
    ] {
        let (status, body) = hook(&t, &call_path, &step, Some(TOKEN)).await;
        assert_eq!(status, StatusCode::OK, "{step:?}: {body}");
    }
    let calls_convs = conversations(&t, "voice").await;
    assert_eq!(calls_convs.len(), 1);
    assert_eq!(calls_convs[0]["customer_id"].as_i64(), Some(customer));
    let voice_conv = id(&calls_convs[0]);
    let calls = t
        .get_ok(
            &format!("/api/v1/conversations/{voice_conv}/calls"),
            &t.token,
        )
        .await["items"]
        .clone();
    assert_eq!(calls.as_array().unwrap().len(), 1);
    let c = &calls[0];
    assert_eq!(c["phase"], "completed");
    assert_eq!(c["duration_secs"], 192);
    assert_eq!(c["transferred_to"], "+14155550111");
    assert_eq!(
        c["recording_url"],
        "https://api.example.test/Recordings/RE1"
    );
    assert!(c["answered_at"].is_string() && c["ended_at"].is_string());
    let events = t
        .get_ok(
            &format!("/api/v1/conversations/{voice_conv}/timeline"),
            &t.token,
        )
        .await["items"]
        .clone();
    let phases: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "event" && e["kind"] == "call_updated")
        .map(|e| {
            format!(
                "{}:{}",
                e["data"]["change"].as_str().unwrap(),
                e["data"]["phase"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            "phase:ringing",
            "phase:answered",
            "phase:transferred",
            "phase:completed",
            "recording:completed"
        ]
    );

    // Removing the account stops its webhooks.
    let (status, _) = t
        .delete(&format!("/api/v1/inboxes/{sms}/provider"), &t.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        hook(&t, &path, &first, Some(TOKEN)).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn with_provider(backend: Backend) {
    let (provider, base) = start_provider().await;
    let config = AppConfig {
        webhook_allow_private: true,
        ..AppConfig::default()
    };
    let t = kit::spawn_app_with(backend, config).await;
    kit::within_limit(texts_and_calls(t, provider, base)).await;
}

mod texts_and_calls {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::with_provider(crate::kit::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::with_provider(crate::kit::Backend::Postgres).await;
    }
}
