//! The live-chat widget's visitor API: its own tokens, origins and rate limits; messages both
//! ways with typing and read state; files; identifying; offline messages; the live stream.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{TestApp, both, id};

const SHOP: &str = "https://shop.example";

/// A call to the visitor API from a page on `origin`.
async fn widget(
    t: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    origin: &str,
    body: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut rb = t
        .http
        .request(method, t.url(&format!("/widget/v1{path}")))
        .header("origin", origin);
    if !token.is_empty() {
        rb = rb.bearer_auth(token);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

async fn session(t: &TestApp, key: &str) -> (String, Value) {
    let (status, body, _) = widget(
        t,
        Method::POST,
        "/sessions",
        "",
        SHOP,
        Some(json!({"key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["token"].as_str().unwrap().to_string(), body)
}

async fn say(t: &TestApp, token: &str, text: &str) -> Value {
    let (status, body, _) = widget(
        t,
        Method::POST,
        "/messages",
        token,
        SHOP,
        Some(json!({"body": text})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn visitor_messages(t: &TestApp, token: &str) -> Vec<Value> {
    let (status, body, _) = widget(t, Method::GET, "/messages", token, SHOP, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn chat_widget(t: TestApp) {
    let tok = t.token.as_str();
    let inbox = id(&t
        .post_created(
            "/api/v1/inboxes",
            tok,
            json!({"name": "Website chat", "channel": "chat"}),
        )
        .await);
    let email_inbox = id(&t
        .post_created(
            "/api/v1/inboxes",
            tok,
            json!({"name": "Mail", "channel": "email", "address": "help@acme.test"}),
        )
        .await);
    let path = format!("/api/v1/inboxes/{inbox}/widget");
    let (status, body) = t
        .put(&path, tok, json!({"color": "red", "allowed_origins": ["javascript:alert(1)"], "offline_inbox_id": inbox}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let w = t
        .put(
            &path,
            tok,
            json!({"greeting": "Hello from Acme", "allowed_origins": [SHOP], "offline_inbox_id": email_inbox}),
        )
        .await
        .1;
    let key = w["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("wk_"), "{w}");

    // Sessions: only from allowed sites, only with a real key; CORS answers any preflight.
    let (status, _, _) = widget(
        &t,
        Method::POST,
        "/sessions",
        "",
        "https://evil.example",
        Some(json!({"key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = widget(
        &t,
        Method::POST,
        "/sessions",
        "",
        SHOP,
        Some(json!({"key": "wk_nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, headers) = widget(&t, Method::OPTIONS, "/messages", "", SHOP, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers["access-control-allow-origin"], SHOP);
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let (ana, start) = session(&t, &key).await;
    assert_eq!(start["greeting"], "Hello from Acme");
    assert_eq!(start["conversation_id"], Value::Null);

    // The visitor token and the agent token each open only their own door.
    assert_eq!(
        widget(&t, Method::GET, "/messages", tok, SHOP, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        widget(&t, Method::GET, "/messages", "", SHOP, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(t.get("/api/v1/me", &ana).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        widget(
            &t,
            Method::GET,
            "/messages",
            &ana,
            "https://evil.example",
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // The first message opens a chat conversation for agents.
    let first = say(&t, &ana, "Hi, is the blue sofa in stock?").await;
    assert_eq!(first["from"], "visitor");
    let convs = t
        .get_ok("/api/v1/conversations?channel=chat&limit=10", tok)
        .await["items"]
        .clone();
    assert_eq!(convs.as_array().unwrap().len(), 1);
    let conv = id(&convs[0]);
    assert_eq!(convs[0]["inbox_id"].as_i64(), Some(inbox));
    let customer = t
        .get_ok(
            &format!("/api/v1/customers/{}", convs[0]["customer_id"]),
            tok,
        )
        .await;
    assert!(
        customer["name"].as_str().unwrap().starts_with("Visitor "),
        "{customer}"
    );

    // A file from the visitor: kept on the message, downloadable by that visitor only.
    let form = reqwest::multipart::Form::new()
        .text("body", "Here is a photo")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"\x89PNG fake".to_vec())
                .file_name("sofa.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let r = t
        .http
        .post(t.url("/widget/v1/messages"))
        .bearer_auth(&ana)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let with_file: Value = r.json().await.unwrap();
    let file_id = with_file["files"][0]["id"].as_i64().unwrap();
    let r = t
        .http
        .get(t.url(&format!("/widget/v1/files/{file_id}?token={ana}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let (bo, _) = session(&t, &key).await;
    assert_eq!(
        t.http
            .get(t.url(&format!("/widget/v1/files/{file_id}?token={bo}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND,
        "another visitor cannot fetch it"
    );

    // Typing and reading, both ways.
    let (status, _, _) = widget(
        &t,
        Method::POST,
        "/typing",
        &ana,
        SHOP,
        Some(json!({"typing": true})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let activity = format!("/api/v1/conversations/{conv}/activity");
    let seen = t
        .post_ok(&activity, tok, json!({"activity": "typing"}))
        .await;
    assert_eq!(seen["customer"]["typing"], true, "{seen}");
    let (_, st, _) = widget(&t, Method::GET, "/state", &ana, SHOP, None).await;
    assert_eq!(st["agent_typing"], true, "{st}");
    assert!(st["seen_up_to"].as_i64().unwrap() >= id(&with_file), "{st}");

    // The agent's reply reaches the visitor with the agent's name; internal notes never do.
    let msgs = format!("/api/v1/conversations/{conv}/messages");
    let reply = t
        .post_created(
            &msgs,
            tok,
            json!({"body": "Yes, two left!", "kind": "reply"}),
        )
        .await;
    t.post_created(
        &msgs,
        tok,
        json!({"body": "secret margin note", "kind": "note"}),
    )
    .await;

    // Nor the files on internal notes, whatever id a visitor tries.
    let secret = t
        .post_created(
            &msgs,
            tok,
            json!({"body": "internal file", "kind": "note",
                   "attachments": [{"filename": "margins.csv", "content_type": "text/csv", "data_base64": "YSxi"}]}),
        )
        .await;
    let secret_file = secret["attachments"][0]["id"].as_i64().unwrap();
    let r = t
        .http
        .get(t.url(&format!("/widget/v1/files/{secret_file}?token={ana}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "a note's file stays internal"
    );
    let seen_by_visitor = visitor_messages(&t, &ana).await;
    let texts: Vec<&str> = seen_by_visitor
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Hi, is the blue sofa in stock?",
            "Here is a photo",
            "Yes, two left!"
        ]
    );
    assert_eq!(seen_by_visitor[2]["from"], "agent");
    assert!(seen_by_visitor[2]["author"].is_string());
    assert!(
        visitor_messages(&t, &bo).await.is_empty(),
        "visitors see only their own chat"
    );
    widget(
        &t,
        Method::POST,
        "/read",
        &ana,
        SHOP,
        Some(json!({"up_to": id(&reply)})),
    )
    .await;
    let seen = t
        .post_ok(&activity, tok, json!({"activity": "viewing"}))
        .await;
    assert_eq!(seen["customer"]["read_up_to"].as_i64(), Some(id(&reply)));

    // The live stream tells the visitor when something new arrives.
    let stream = t
        .http
        .get(t.url(&format!("/widget/v1/events?token={ana}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut chunks = stream.bytes_stream();
    t.post_created(
        &msgs,
        tok,
        json!({"body": "Shall I reserve one?", "kind": "reply"}),
    )
    .await;
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        while let Some(Ok(c)) = chunks.next().await {
            seen.push_str(&String::from_utf8_lossy(&c));
            if seen.contains("event: message") {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("an event within 10 s");
    assert!(got.contains("event: message"), "{got}");

    // Giving an email identifies the visitor; an email someone else holds is only a claim.
    let (status, _, _) = widget(
        &t,
        Method::POST,
        "/identify",
        &ana,
        SHOP,
        Some(json!({"email": "ana@customer.test", "name": "Ana Lima"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let customer = t
        .get_ok(
            &format!("/api/v1/customers/{}", convs[0]["customer_id"]),
            tok,
        )
        .await;
    assert_eq!(customer["name"], "Ana Lima");
    assert!(customer.to_string().contains("ana@customer.test"));
    let (status, _, _) = widget(
        &t,
        Method::POST,
        "/identify",
        &bo,
        SHOP,
        Some(json!({"email": "ana@customer.test"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    say(&t, &bo, "I am someone else").await;
    let bo_conv = t
        .get_ok("/api/v1/conversations?channel=chat&limit=10", tok)
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| id(c) != conv)
        .cloned()
        .unwrap();
    assert_ne!(
        bo_conv["customer_id"], convs[0]["customer_id"],
        "no merge on a visitor's word"
    );
    // The claim is a merge suggestion for agents, on the list and on both customers.
    let (ana_id, bo_id) = (
        convs[0]["customer_id"].as_i64().unwrap(),
        bo_conv["customer_id"].as_i64().unwrap(),
    );
    let suggested = t.get_ok("/api/v1/customers/merge-suggestions", tok).await["items"].clone();
    assert_eq!(suggested.as_array().unwrap().len(), 1, "{suggested}");
    assert_eq!(
        (
            suggested[0]["customer_id"].as_i64(),
            suggested[0]["other_id"].as_i64()
        ),
        (Some(bo_id), Some(ana_id))
    );
    assert_eq!(suggested[0]["reason"], "claimed_identity");
    let dups = t
        .get_ok(&format!("/api/v1/customers/{ana_id}/duplicates"), tok)
        .await["items"]
        .clone();
    assert_eq!(dups[0]["other_id"].as_i64(), Some(bo_id), "{dups}");
    // Someone else with the same full name is suggested too; "not the same person" is remembered.
    let namesake = id(&t
        .post_created(
            "/api/v1/customers",
            tok,
            json!({"name": "ana lima", "email": "other-ana@customer.test"}),
        )
        .await);
    let dups = t
        .get_ok(&format!("/api/v1/customers/{ana_id}/duplicates"), tok)
        .await["items"]
        .clone();
    assert!(
        dups.as_array()
            .unwrap()
            .iter()
            .any(|d| d["other_id"] == namesake && d["reason"] == "same_name"),
        "{dups}"
    );
    let (status, _) = t
        .post(
            &format!("/api/v1/customers/{ana_id}/duplicates/{namesake}/dismiss"),
            tok,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let dups = t
        .get_ok(&format!("/api/v1/customers/{ana_id}/duplicates"), tok)
        .await["items"]
        .clone();
    assert!(
        dups.as_array()
            .unwrap()
            .iter()
            .all(|d| d["other_id"] != namesake),
        "{dups}"
    );
    let agent = t.user_token("agent").await;
    let (status, _) = t
        .post(
            &format!("/api/v1/customers/{ana_id}/duplicates/{bo_id}/dismiss"),
            &agent,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "agents cannot decide who is who"
    );
    // Merging settles it: the suggestion goes.
    let (status, body) = t
        .post(
            &format!("/api/v1/customers/{ana_id}/merge"),
            tok,
            json!({"source_id": bo_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let suggested = t.get_ok("/api/v1/customers/merge-suggestions", tok).await["items"].clone();
    assert!(suggested.as_array().unwrap().is_empty(), "{suggested}");
    let (status, body, _) = widget(
        &t,
        Method::POST,
        "/identify",
        &bo,
        SHOP,
        Some(json!({"email": "not an email"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Coming back: the same browser resumes its conversation.
    let (status, again, _) = widget(
        &t,
        Method::POST,
        "/sessions",
        "",
        SHOP,
        Some(json!({"key": key, "token": ana})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["token"].as_str(), again["conversation_id"].as_i64()),
        (Some(ana.as_str()), Some(conv))
    );

    // Nobody online: an offline message becomes an email conversation in the email inbox.
    let (status, body, _) = widget(
        &t,
        Method::POST,
        "/offline",
        "",
        SHOP,
        Some(json!({"key": key, "name": "Cy", "email": "cy@customer.test", "body": "Call me back about delivery"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let offline = t
        .get_ok(
            &format!("/api/v1/conversations/{}", body["conversation_id"]),
            tok,
        )
        .await;
    assert_eq!(
        (offline["channel"].as_str(), offline["inbox_id"].as_i64()),
        (Some("email"), Some(email_inbox))
    );

    // Floods are refused with a clear answer.
    let mut limited = None;
    for n in 0..30 {
        let (status, _, headers) = widget(
            &t,
            Method::POST,
            "/messages",
            &bo,
            SHOP,
            Some(json!({"body": format!("spam {n}")})),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(headers);
            break;
        }
    }
    let headers = limited.expect("a visitor sending 30 messages a minute is slowed down");
    assert!(headers.contains_key("retry-after"));

    // A new key stops the old snippet.
    let rotated = t
        .post_ok(&format!("{path}/rotate-key"), tok, json!({}))
        .await;
    assert_ne!(rotated["key"], key.as_str());
    let (status, _, _) = widget(
        &t,
        Method::POST,
        "/sessions",
        "",
        SHOP,
        Some(json!({"key": key})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
both!(chat_widget);
