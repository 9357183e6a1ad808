//! Working conversations end to end: create, reply, move, filter, page; customers found by
//! identity; sanitised HTML; idempotent retries.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, both, id, ids, millis, rfc3339_in};

/// `body["items"]` as an array.
fn items(body: &Value) -> &Vec<Value> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items array in {body}"))
}

async fn lifecycle(t: TestApp) {
    let tok = t.token.as_str();
    let me = t.me(tok).await;

    // Create.
    let c = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "ann@example.com", "name": "Ann"}, "subject": "Cannot log in", "body": "Help me please", "channel": "email"}),
        )
        .await;
    let cid = id(&c);
    let ann = c["customer_id"].as_i64().expect("customer_id");
    assert_eq!(c["customer_name"], "Ann");
    assert_eq!(c["channel"], "email");
    assert_eq!(c["status"], "open");
    assert_eq!(c["priority"], "normal");
    assert_eq!(c["assignee_id"], Value::Null);
    assert_eq!(c["team_id"], Value::Null);
    assert_eq!(c["subject"], "Cannot log in");
    assert_eq!(c["tags"], json!([]));
    assert_eq!(c["custom_fields"], json!({}));
    assert_eq!(c["message_count"], 1);
    assert!(millis(&c["created_at"]) <= millis(&c["updated_at"]), "{c}");

    // Read it back: the same record.
    let got = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(got, c, "GET returns what POST created");

    // A reply to the customer and an internal note.
    let msgs = format!("/api/v1/conversations/{cid}/messages");
    let reply = t
        .post_created(&msgs, tok, json!({"body": "We are on it", "kind": "reply"}))
        .await;
    assert_eq!(reply["kind"], "reply");
    assert_eq!(reply["conversation_id"], cid);
    assert_eq!(reply["author_user_id"], me);
    assert_eq!(reply["body_text"], "We are on it");
    assert_eq!(reply["body_html"], "We are on it");
    assert_eq!(reply["attachments"], json!([]));
    let note = t
        .post_created(
            &msgs,
            tok,
            json!({"body": "Customer is on the <b>old</b> plan", "kind": "note"}),
        )
        .await;
    assert_eq!(note["kind"], "note");
    // Plain text is escaped, never interpreted as HTML.
    assert_eq!(
        note["body_html"],
        "Customer is on the &lt;b&gt;old&lt;/b&gt; plan"
    );

    let listed = t.get_ok(&msgs, tok).await;
    let kinds: Vec<&str> = items(&listed)
        .iter()
        .map(|m| m["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kinds,
        ["inbound", "reply", "note"],
        "messages in order: {listed}"
    );
    assert_eq!(items(&listed)[0]["body_text"], "Help me please");
    assert_eq!(items(&listed)[0]["author_customer_id"], ann);
    assert_eq!(
        t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await["message_count"],
        3
    );

    // Move it: assign, tag, change status (one change per request, so the event order is known).
    let conv_path = format!("/api/v1/conversations/{cid}");
    let c = t
        .patch_ok(&conv_path, tok, json!({"assignee_id": me}))
        .await;
    assert_eq!(c["assignee_id"], me);
    let c = t
        .patch_ok(&conv_path, tok, json!({"add_tags": ["Billing", "vip"]}))
        .await;
    assert_eq!(
        c["tags"],
        json!(["billing", "vip"]),
        "tags are normalised and sorted"
    );
    let c = t
        .patch_ok(
            &conv_path,
            tok,
            json!({"status": "pending", "priority": "high"}),
        )
        .await;
    assert_eq!(c["status"], "pending");
    assert_eq!(c["priority"], "high");
    assert_eq!(c["assignee_id"], me, "untouched fields stay");

    // The timeline: every message and event, in the order they happened.
    let timeline = t
        .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
        .await;
    let tl = items(&timeline);
    let times: Vec<i64> = tl.iter().map(|i| millis(&i["created_at"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timeline out of order: {timeline}"
    );
    let message_ids: Vec<i64> = tl
        .iter()
        .filter(|i| i["type"] == "message")
        .map(id)
        .collect();
    assert_eq!(
        message_ids,
        ids(&listed["items"]),
        "timeline messages: {timeline}"
    );
    let event_kinds: Vec<&str> = tl
        .iter()
        .filter(|i| i["type"] == "event")
        .map(|i| i["kind"].as_str().unwrap_or("?"))
        .collect();
    for kind in [
        "created",
        "message_added",
        "assigned",
        "tagged",
        "status_changed",
        "priority_changed",
    ] {
        assert!(
            event_kinds.contains(&kind),
            "no {kind} event in {event_kinds:?}"
        );
    }
    let core: Vec<&str> = event_kinds
        .iter()
        .copied()
        .filter(|k| *k != "priority_changed")
        .collect();
    assert_eq!(
        core,
        [
            "created",
            "message_added",
            "message_added",
            "message_added",
            "assigned",
            "tagged",
            "status_changed"
        ]
    );
    assert!(
        tl.iter()
            .all(|i| i["type"] == "message" || i["type"] == "event"),
        "{timeline}"
    );

    let status_event = tl
        .iter()
        .find(|i| i["kind"] == "status_changed")
        .expect("status event");
    assert_eq!(status_event["data"]["from"], "open");
    assert_eq!(status_event["data"]["to"], "pending");
    assert_eq!(status_event["actor_user_id"], me);

    // More conversations for the filters: made after `mark`.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mark = rfc3339_in(0);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let bob = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "bob@example.com", "name": "Bob"}, "subject": "Chat question", "body": "Hi", "channel": "chat"}),
        )
        .await;
    let ann2 = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "ann@example.com"}, "subject": "Invoice copy", "body": "Please resend", "channel": "sms"}),
        )
        .await;
    let (bob, ann2) = (id(&bob), id(&ann2));

    // Most recently updated first.
    assert_eq!(t.conversation_ids("", tok).await, [ann2, bob, cid]);
    assert_eq!(
        t.conversation_ids("status=open,pending", tok).await,
        [ann2, bob, cid]
    );
    assert_eq!(t.conversation_ids("status=pending", tok).await, [cid]);
    assert_eq!(t.conversation_ids("status=open", tok).await, [ann2, bob]);
    assert_eq!(
        t.conversation_ids("status=resolved", tok).await,
        Vec::<i64>::new()
    );
    assert_eq!(t.conversation_ids("assignee=me", tok).await, [cid]);
    assert_eq!(
        t.conversation_ids(&format!("assignee={me}"), tok).await,
        [cid]
    );
    assert_eq!(t.conversation_ids("assignee=none", tok).await, [ann2, bob]);
    assert_eq!(t.conversation_ids("tag=billing", tok).await, [cid]);
    assert_eq!(
        t.conversation_ids("tag=nothing-here", tok).await,
        Vec::<i64>::new()
    );
    assert_eq!(t.conversation_ids("channel=chat", tok).await, [bob]);
    assert_eq!(
        t.conversation_ids(&format!("customer_id={ann}"), tok).await,
        [ann2, cid]
    );
    assert_eq!(
        t.conversation_ids(&format!("created_after={mark}"), tok)
            .await,
        [ann2, bob]
    );
    assert_eq!(
        t.conversation_ids(&format!("created_before={mark}"), tok)
            .await,
        [cid]
    );
    assert_eq!(
        t.conversation_ids(
            &format!("created_after={mark}&channel=sms&customer_id={ann}"),
            tok
        )
        .await,
        [ann2]
    );

    // A new message moves a conversation to the top.
    tokio::time::sleep(Duration::from_millis(10)).await;
    t.post_created(&msgs, tok, json!({"body": "Any news?", "kind": "inbound"}))
        .await;
    assert_eq!(t.conversation_ids("", tok).await, [cid, ann2, bob]);
    // A customer writing reopens a pending conversation.
    assert_eq!(t.get_ok(&conv_path, tok).await["status"], "open");
    assert_eq!(
        t.conversation_ids(&format!("updated_after={mark}&status=open"), tok)
            .await,
        [cid, ann2, bob]
    );

    // Unassign with null.
    let c = t
        .patch_ok(
            &conv_path,
            tok,
            json!({"assignee_id": null, "remove_tags": ["vip"]}),
        )
        .await;
    assert_eq!(c["assignee_id"], Value::Null);
    assert_eq!(c["tags"], json!(["billing"]));
    assert_eq!(
        t.conversation_ids("assignee=me", tok).await,
        Vec::<i64>::new()
    );

    // Paging: 7 conversations, 3 a page, each exactly once, newest first.
    let mut made = Vec::new();
    for n in 0..7 {
        let c = t
            .post_created(
                "/api/v1/conversations",
                tok,
                json!({"customer": {"phone": format!("+1415555010{n}")}, "subject": format!("Paging {n}"), "body": "x", "channel": "whatsapp"}),
            )
            .await;
        made.push(id(&c));
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/conversations?channel=whatsapp&limit=3&cursor={c}"),
            None => "/api/v1/conversations?channel=whatsapp&limit=3".to_string(),
        };
        let page = t.get_ok(&path, tok).await;
        let page_ids = ids(&page["items"]);
        pages.push(page_ids.len());
        seen.extend(page_ids);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert!(
                    page["next_cursor"].is_null(),
                    "next_cursor must be null on the last page: {page}"
                );
                break;
            }
        }
        assert!(pages.len() < 10, "paging does not end");
    }
    assert_eq!(pages, [3, 3, 1], "page sizes");
    assert_eq!(seen, made, "every conversation exactly once, newest first");
    // A page that holds exactly what is left says there is nothing more.
    let exact = t
        .get_ok("/api/v1/conversations?channel=whatsapp&limit=7", tok)
        .await;
    assert_eq!(ids(&exact["items"]), made);
    assert!(
        exact["next_cursor"].is_null(),
        "no next page when everything fit: {exact}"
    );

    // Oldest activity first pages the same way from the other end (ties broken by id).
    let mut oldest = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let path = match &cursor {
            Some(c) => {
                format!("/api/v1/conversations?channel=whatsapp&sort=oldest&limit=3&cursor={c}")
            }
            None => "/api/v1/conversations?channel=whatsapp&sort=oldest&limit=3".to_string(),
        };
        let page = t.get_ok(&path, tok).await;
        oldest.extend(ids(&page["items"]));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected = made.clone();
    expected.reverse();
    assert_eq!(
        oldest, expected,
        "every conversation exactly once, oldest first"
    );
    let (s, b) = t.get("/api/v1/conversations?sort=sideways", tok).await;
    crate::kit::assert_invalid(s, &b, "sort", "sort=sideways");

    // A filter on an invalid value is refused, not ignored.
    let (s, b) = t.get("/api/v1/conversations?assignee=someone", tok).await;
    crate::kit::assert_invalid(s, &b, "assignee", "assignee=someone");
    let (s, b) = t
        .get("/api/v1/conversations?cursor=not-a-cursor", tok)
        .await;
    crate::kit::assert_invalid(s, &b, "cursor", "a forged cursor");
    let (s, b) = t
        .get("/api/v1/conversations?created_after=yesterday", tok)
        .await;
    crate::kit::assert_invalid(s, &b, "created_after", "created_after=yesterday");
    let (s, b) = t.get("/api/v1/conversations/999999999", tok).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "GET a missing conversation",
    );
}
both!(lifecycle);

/// A timeline tells the story in the order it happened, even when several things happen within
/// the same millisecond: the conversation is created before its first message is written, and
/// each message comes before the event announcing it.
async fn timeline_order(t: TestApp) {
    let tok = t.token.as_str();
    for n in 0..5 {
        let c = t
            .conversation(tok, &format!("order{n}@example.com"), &format!("Order {n}"))
            .await;
        let cid = id(&c);
        t.post_created(
            &format!("/api/v1/conversations/{cid}/messages"),
            tok,
            json!({"body": "Reply", "kind": "reply"}),
        )
        .await;
        let timeline = t
            .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
            .await;
        let tl = items(&timeline);
        assert!(
            tl[0]["type"] == "event" && tl[0]["kind"] == "created",
            "the timeline must start with `created`: {timeline}"
        );
        for m in tl.iter().filter(|i| i["type"] == "message") {
            let msg_pos = tl
                .iter()
                .position(|i| i["type"] == "message" && i["id"] == m["id"]);
            let ev_pos = tl.iter().position(|i| {
                i["type"] == "event"
                    && i["kind"] == "message_added"
                    && i["data"]["message_id"] == m["id"]
            });
            assert!(
                msg_pos.is_some() && ev_pos.is_some() && msg_pos < ev_pos,
                "message {} and its message_added event out of order: {timeline}",
                m["id"]
            );
        }
    }
}
both!(timeline_order);

async fn same_customer_by_identity(t: TestApp) {
    let tok = t.token.as_str();
    let a = t.conversation(tok, "Ann@Example.com", "First").await;
    let b = t.conversation(tok, "ann@example.COM", "Second").await;
    assert_eq!(
        a["customer_id"], b["customer_id"],
        "emails match whatever their case"
    );
    let customer = a["customer_id"].as_i64().expect("customer id");

    // Phone numbers match in any common notation.
    let p1 = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"phone": "+1 (415) 555-0199"}, "subject": "Call", "body": "x"}),
        )
        .await;
    let p2 = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"phone": "+14155550199"}, "subject": "Call again", "body": "x"}),
        )
        .await;
    assert_eq!(p1["customer_id"], p2["customer_id"]);
    assert_ne!(p1["customer_id"], a["customer_id"]);

    // A known identity plus a new one: same customer, who now also has the new one.
    let c = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "ann@example.com", "phone": "+4930123456"}, "subject": "Third", "body": "x"}),
        )
        .await;
    assert_eq!(c["customer_id"], customer);
    let cust = t
        .get_ok(&format!("/api/v1/customers/{customer}"), tok)
        .await;
    let mut identities: Vec<(String, String)> = cust["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap_or("?").to_string(),
                i["value"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    identities.sort();
    assert_eq!(
        identities,
        [
            ("email".to_string(), "ann@example.com".to_string()),
            ("phone".to_string(), "+4930123456".to_string())
        ],
        "one normalised email, plus the phone: {cust}"
    );
    assert_eq!(
        t.conversation_ids(&format!("customer_id={customer}"), tok)
            .await
            .len(),
        3
    );

    // Creating a customer with an identity someone holds is a conflict, not a duplicate.
    let (s, body) = t
        .post(
            "/api/v1/customers",
            tok,
            json!({"email": "ANN@example.com", "name": "Other Ann"}),
        )
        .await;
    assert_error(
        s,
        &body,
        StatusCode::CONFLICT,
        "conflict",
        "customer with a taken email",
    );
    let new = t
        .post_created(
            "/api/v1/customers",
            tok,
            json!({"email": "carla@example.com", "name": "Carla"}),
        )
        .await;
    let c = t.conversation(tok, "carla@example.com", "Hello").await;
    assert_eq!(c["customer_id"], id(&new));
    assert_eq!(c["customer_name"], "Carla");
}
both!(same_customer_by_identity);

async fn html_is_sanitised(t: TestApp) {
    let tok = t.token.as_str();
    let evil = r#"<p onclick="steal()">Hello <b>there</b><script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">click</a> <a href="https://example.com">site</a></p>"#;
    let c = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "eve@example.com"}, "subject": "Hi", "html": evil}),
        )
        .await;
    let cid = id(&c);
    let m = t
        .post_created(
            &format!("/api/v1/conversations/{cid}/messages"),
            tok,
            json!({"html": evil, "kind": "inbound"}),
        )
        .await;

    let listed = t
        .get_ok(&format!("/api/v1/conversations/{cid}/messages"), tok)
        .await;
    let all = items(&listed);
    assert_eq!(all.len(), 2);
    for msg in all.iter().chain([&m]) {
        let html = msg["body_html"].as_str().expect("body_html").to_lowercase();
        for bad in [
            "<script",
            "alert(1)",
            "onerror",
            "onclick",
            "javascript:",
            "<img",
        ] {
            assert!(!html.contains(bad), "body_html keeps {bad:?}: {html}");
        }
        assert!(
            html.contains("<b>there</b>"),
            "harmless markup stays: {html}"
        );
        assert!(
            html.contains(r#"href="https://example.com""#),
            "safe links stay: {html}"
        );
        assert!(html.contains("noopener"), "links get rel=noopener: {html}");
        let text = msg["body_text"].as_str().expect("body_text");
        assert!(text.contains("Hello there"), "text version: {text}");
        assert!(!text.contains("alert"), "script text is not kept: {text}");
    }
}
both!(html_is_sanitised);

async fn idempotent_retries(t: TestApp) {
    let tok = t.token.as_str();
    let body = json!({"customer": {"email": "retry@example.com"}, "subject": "Retried", "body": "Once please"});
    let send = |key: &str, body: &Value| {
        let rb = t
            .request(Method::POST, "/api/v1/conversations", tok)
            .header("Idempotency-Key", key)
            .json(body);
        t.send(rb)
    };

    let first = send("key-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = send("key-1", &body).await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "a retry answers like the first time: {}",
        again.body
    );
    assert_eq!(again.body, first.body, "a retry answers the same body");
    assert_eq!(
        t.conversation_ids("", tok).await,
        [id(&first.body)],
        "only one conversation exists"
    );

    let mut other = body.clone();
    other["subject"] = json!("Something else");
    let mismatch = send("key-1", &other).await;
    assert_error(
        mismatch.status,
        &mismatch.body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_mismatch",
        "same key, other body",
    );
    assert_eq!(
        t.conversation_ids("", tok).await.len(),
        1,
        "a mismatch creates nothing"
    );

    // Another key is another request.
    let second = send("key-2", &body).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_ne!(id(&second.body), id(&first.body));

    // Keys are per user: another user's request with the same key is not a replay.
    let agent = t.user_token("agent").await;
    let rb = t
        .request(Method::POST, "/api/v1/conversations", &agent)
        .header("Idempotency-Key", "key-1")
        .json(&body);
    let theirs = t.send(rb).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    assert_ne!(
        id(&theirs.body),
        id(&first.body),
        "another user's key does not replay mine"
    );

    // Replays work for messages too: one message, not two.
    let cid = id(&first.body);
    let path = format!("/api/v1/conversations/{cid}/messages");
    let msg = json!({"body": "Only once", "kind": "reply"});
    let a = t
        .send(
            t.request(Method::POST, &path, tok)
                .header("Idempotency-Key", "msg-1")
                .json(&msg),
        )
        .await;
    let b = t
        .send(
            t.request(Method::POST, &path, tok)
                .header("Idempotency-Key", "msg-1")
                .json(&msg),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!((b.status, &b.body), (a.status, &a.body));
    assert_eq!(
        items(&t.get_ok(&path, tok).await).len(),
        2,
        "first message plus one reply"
    );

    // A keyed message may be as large as any message (attachments make them larger than other
    // requests): the key must not shrink what is accepted.
    use base64::Engine;
    let file = base64::engine::general_purpose::STANDARD.encode(vec![42u8; 2 * 1024 * 1024]);
    let big =
        json!({"body": "Big file", "attachments": [{"filename": "big.bin", "data_base64": file}]});
    let plain = t.send(t.request(Method::POST, &path, tok).json(&big)).await;
    assert_eq!(
        plain.status,
        StatusCode::CREATED,
        "2 MiB attachment without a key: {}",
        plain.body
    );
    let keyed = t
        .send(
            t.request_alone(Method::POST, &path, tok)
                .header("Idempotency-Key", "big-1")
                .json(&big),
        )
        .await;
    assert_eq!(
        keyed.status,
        StatusCode::CREATED,
        "2 MiB attachment with an Idempotency-Key: {}",
        keyed.body
    );
    let replay = t
        .send(
            t.request(Method::POST, &path, tok)
                .header("Idempotency-Key", "big-1")
                .json(&big),
        )
        .await;
    assert_eq!(
        (replay.status, &replay.body),
        (keyed.status, &keyed.body),
        "replay of a large keyed message"
    );
    assert_eq!(items(&t.get_ok(&path, tok).await).len(), 4);
}
both!(idempotent_retries);

/// Concurrent creates and replies share commits; a change that fails (here: an assignee from
/// nowhere) is refused alone, and every acknowledged change is there afterwards.
async fn concurrent_writes_fail_alone(t: TestApp) {
    let tok = t.token.clone();
    let tok = tok.as_str();
    let first = t.conversation(tok, "busy@example.com", "Shared").await;
    let first_id = id(&first);
    let t = std::sync::Arc::new(t);
    let mut calls = Vec::new();
    for i in 0..48 {
        let t = t.clone();
        calls.push(tokio::spawn(async move {
            let tok = t.token.as_str();
            if i % 3 == 2 {
                let path = format!("/api/v1/conversations/{first_id}/messages");
                return (i, t.post(&path, tok, json!({"body": format!("reply {i}")})).await);
            }
            let mut body = json!({"customer": {"email": format!("c{i}@example.com")}, "subject": format!("Burst {i}"), "body": "hello"});
            if i % 4 == 0 {
                body["assignee_id"] = json!(987_654_321);
            }
            (i, t.post("/api/v1/conversations", tok, body).await)
        }));
    }
    let mut created = Vec::new();
    for call in calls {
        let (i, (status, body)) = call.await.expect("request task");
        if i % 3 == 2 {
            assert_eq!(status, StatusCode::CREATED, "reply {i}: {body}");
        } else if i % 4 == 0 {
            crate::kit::assert_invalid(status, &body, "assignee_id", "unknown assignee");
        } else {
            assert_eq!(status, StatusCode::CREATED, "create {i}: {body}");
            created.push((i, id(&body)));
        }
    }
    assert_eq!(created.len(), 24);
    for (i, cid) in created {
        let got = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
        assert_eq!(got["subject"], format!("Burst {i}"));
        assert_eq!(got["message_count"], 1, "{got}");
    }
    let replies = t
        .get_ok(&format!("/api/v1/conversations/{first_id}/messages"), tok)
        .await;
    assert_eq!(
        items(&replies).len(),
        17,
        "the first message and 16 replies"
    );
}
both!(concurrent_writes_fail_alone);

/// Plain creates that arrive together are written together (ids chosen beforehand, one round
/// trip for every table): each answer is the conversation as stored, with its message, its
/// events and its search documents; a known customer is found and gains new identities, and
/// creates naming one new customer end up with one customer.
async fn concurrent_plain_creates_answer_as_stored(t: TestApp) {
    let tok = t.token.clone();
    let known = t.conversation(&tok, "known@example.com", "Before").await;
    let t = std::sync::Arc::new(t);
    let mut calls = Vec::new();
    for i in 0..32 {
        let t = t.clone();
        calls.push(tokio::spawn(async move {
            let customer = match i {
                0..20 => json!({"email": format!("n{i}@example.com"), "name": format!("New {i}")}),
                20..26 => json!({"email": "known@example.com", "phone": format!("+4930555{i:04}")}),
                _ => json!({"email": "twin@example.com"}),
            };
            let body = json!({"customer": customer, "subject": format!("Flurry {i}"), "body": format!("about zeb{i}ra")});
            (i, t.post("/api/v1/conversations", &t.token, body).await)
        }));
    }
    let mut answers = Vec::new();
    for call in calls {
        let (i, (status, body)) = call.await.expect("request task");
        assert_eq!(status, StatusCode::CREATED, "create {i}: {body}");
        answers.push((i, body));
    }
    let tok = tok.as_str();
    let mut conversation_ids = std::collections::HashSet::new();
    let mut twins = std::collections::HashSet::new();
    for (i, answer) in &answers {
        let cid = id(answer);
        assert!(
            conversation_ids.insert(cid),
            "conversation {cid} answered twice"
        );
        let stored = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
        assert_eq!(&stored, answer, "create {i}: the answer is what was stored");
        assert_eq!(stored["message_count"], 1);
        match i {
            0..20 => assert_eq!(stored["customer_name"], format!("New {i}")),
            20..26 => assert_eq!(stored["customer_id"], known["customer_id"]),
            _ => {
                twins.insert(stored["customer_id"].as_i64().expect("customer id"));
            }
        }
        let timeline = t
            .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
            .await;
        let kinds: Vec<&str> = items(&timeline)
            .iter()
            .map(|e| {
                e["kind"]
                    .as_str()
                    .unwrap_or(e["type"].as_str().unwrap_or("?"))
            })
            .collect();
        assert!(
            kinds.contains(&"created") && kinds.contains(&"message_added"),
            "create {i}: {timeline}"
        );
        let found = t.get_ok(&format!("/api/v1/search?q=zeb{i}ra"), tok).await;
        assert_eq!(ids(&found["conversations"]), [cid], "search for create {i}");
    }
    assert_eq!(twins.len(), 1, "one customer for one new address");
    let found = t.get_ok("/api/v1/search?q=n7", tok).await;
    assert_eq!(
        ids(&found["customers"]),
        [answers[7].1["customer_id"].as_i64().expect("customer id")],
        "a new customer is found by their address"
    );
    let customer = t
        .get_ok(&format!("/api/v1/customers/{}", known["customer_id"]), tok)
        .await;
    let phones = customer["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .filter(|i| i["kind"] == "phone")
        .count();
    assert_eq!(
        phones, 6,
        "the known customer gains every new phone: {customer}"
    );
    // Each gain was indexed with the others, though each create saw only its own.
    for i in 20..26 {
        let found = t
            .get_ok(&format!("/api/v1/search?q=4930555{i:04}"), tok)
            .await;
        assert_eq!(
            ids(&found["customers"]),
            [known["customer_id"].as_i64().expect("customer id")],
            "a known customer is found by phone {i}, gained on the way"
        );
    }
}
both!(concurrent_plain_creates_answer_as_stored);

/// Saved views: kept per person (or shared by an admin), checked when saved, listing what
/// the same filters list.
async fn saved_views(t: TestApp) {
    let tok = t.token.as_str();
    t.conversation(tok, "vip@example.com", "VIP question").await;
    let tagged = t.conversation(tok, "other@example.com", "Tagged one").await;
    t.patch_ok(
        &format!("/api/v1/conversations/{}", id(&tagged)),
        tok,
        json!({"add_tags": ["vip"]}),
    )
    .await;
    let (status, body) = t
        .post(
            "/api/v1/views",
            tok,
            json!({"name": "Nothing", "filters": {}}),
        )
        .await;
    crate::kit::assert_invalid(status, &body, "filters", "at least one");
    let (status, body) = t
        .post(
            "/api/v1/views",
            tok,
            json!({"name": "Bad", "filters": {"status": "sleeping"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = t
        .post(
            "/api/v1/views",
            tok,
            json!({"name": "Bad order", "filters": {"status": "open", "sort": "random"}}),
        )
        .await;
    crate::kit::assert_invalid(status, &body, "sort", "a view sorted in no known order");
    let waiting = t
        .post_created(
            "/api/v1/views",
            tok,
            json!({"name": "Waiting longest", "filters": {"status": "open", "sort": "oldest"}}),
        )
        .await;
    assert_eq!(waiting["filters"]["sort"], "oldest");
    let vip = t
        .post_created(
            "/api/v1/views",
            tok,
            json!({"name": "VIP", "filters": {"tag": "vip", "status": "open"}}),
        )
        .await;
    let listed = t.conversation_ids("tag=vip&status=open", tok).await;
    assert_eq!(listed, vec![id(&tagged)]);
    assert_eq!(vip["filters"], json!({"tag": "vip", "status": "open"}));

    // Another agent sees shared views only; only admins share.
    let agent = t.user_token("agent").await;
    let (status, _) = t
        .post(
            "/api/v1/views",
            &agent,
            json!({"name": "Everyone", "filters": {"channel": "chat"}, "shared": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    t.post_created(
        "/api/v1/views",
        tok,
        json!({"name": "Chats", "filters": {"channel": "chat"}, "shared": true}),
    )
    .await;
    let theirs = t.get_ok("/api/v1/views", &agent).await["items"].clone();
    let names: Vec<&str> = theirs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(names, ["Chats"]);
    let (status, _) = t
        .delete(&format!("/api/v1/views/{}", id(&vip)), &agent)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a private view is nobody else's"
    );
    let (status, _) = t.delete(&format!("/api/v1/views/{}", id(&vip)), tok).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
both!(saved_views);

/// An @mention in a note calls a colleague in: listed for them, an event on the timeline, seen
/// once they open the conversation. Replies and unknown handles mention nobody.
async fn mentions(t: TestApp) {
    let tok = t.token.as_str();
    let colleague = t.new_user("agent").await;
    let handle = colleague.email.split('@').next().unwrap().to_string();
    let conv = id(&t.conversation(tok, "m@example.com", "Refund").await);
    let msgs = format!("/api/v1/conversations/{conv}/messages");
    t.post_created(
        &msgs,
        tok,
        json!({"body": format!("@{handle} see this"), "kind": "reply"}),
    )
    .await;
    t.post_created(
        &msgs,
        tok,
        json!({"body": "@nobody-here ping", "kind": "note"}),
    )
    .await;
    assert!(
        t.get_ok("/api/v1/mentions", &colleague.token).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let note = t
        .post_created(
            &msgs,
            tok,
            json!({"body": format!("@{handle} can you check the refund?"), "kind": "note"}),
        )
        .await;
    let mine = t.get_ok("/api/v1/mentions", &colleague.token).await["items"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["message_id"], note["id"]);
    assert_eq!(mine[0]["conversation_id"].as_i64(), Some(conv));
    assert_eq!(mine[0]["seen_at"], Value::Null);
    let timeline = t
        .get_ok(&format!("/api/v1/conversations/{conv}/timeline"), tok)
        .await
        .to_string();
    assert!(timeline.contains("\"mentioned\""), "{timeline}");
    t.post_ok(
        &format!("/api/v1/conversations/{conv}/activity"),
        &colleague.token,
        json!({"activity": "viewing"}),
    )
    .await;
    let mine = t.get_ok("/api/v1/mentions", &colleague.token).await["items"].clone();
    assert!(mine[0]["seen_at"].is_string(), "{mine}");
}
both!(mentions);

/// The inbox counts: open (all, mine, nobody's), snoozed, and every status through the API.
async fn inbox_counts(t: TestApp) {
    let tok = t.token.as_str();
    let me = t.me(tok).await;
    let path = |c: &Value| format!("/api/v1/conversations/{}", id(c));
    let mine = t.conversation(tok, "a@example.com", "Mine").await;
    t.patch_ok(&path(&mine), tok, json!({"assignee_id": me}))
        .await;
    t.conversation(tok, "b@example.com", "Nobody's").await;
    let snoozed = t.conversation(tok, "c@example.com", "Later").await;
    t.patch_ok(
        &path(&snoozed),
        tok,
        json!({"status": "snoozed", "snoozed_until": crate::kit::rfc3339_in(600_000)}),
    )
    .await;
    let done = t.conversation(tok, "d@example.com", "Done").await;
    t.patch_ok(&path(&done), tok, json!({"status": "resolved"}))
        .await;
    // Pending still waits on the team: counted as the views show it.
    let waiting = t.conversation(tok, "e@example.com", "Waiting").await;
    t.patch_ok(&path(&waiting), tok, json!({"status": "pending"}))
        .await;
    let counts = t.get_ok("/api/v1/conversations/counts", tok).await;
    assert_eq!(
        (
            counts["open"].as_i64(),
            counts["mine_open"].as_i64(),
            counts["unassigned_open"].as_i64(),
            counts["snoozed"].as_i64()
        ),
        (Some(3), Some(1), Some(2), Some(1)),
        "{counts}"
    );
    let by_status = counts["by_status"].to_string();
    assert!(by_status.contains("[\"resolved\",1]"), "{by_status}");
}
both!(inbox_counts);

/// One change to several conversations: each changes with its own event; unknown ones are listed;
/// an invalid change is refused as a whole; at most 100 at once.
async fn bulk_changes(t: TestApp) {
    let tok = t.token.as_str();
    let me = t.me(tok).await;
    let a = id(&t.conversation(tok, "a@example.com", "A").await);
    let b = id(&t.conversation(tok, "b@example.com", "B").await);
    let out = t
        .post_ok(
            "/api/v1/conversations/bulk",
            tok,
            json!({"ids": [a, b, 999_999, a], "changes": {"assignee_id": me, "add_tags": ["batch"]}}),
        )
        .await;
    assert_eq!(out["updated"], json!([a, b]), "{out}");
    assert_eq!(out["failed"][0][0], 999_999);
    for c in [a, b] {
        let conv = t.get_ok(&format!("/api/v1/conversations/{c}"), tok).await;
        assert_eq!(conv["assignee_id"], me);
        assert_eq!(conv["tags"], json!(["batch"]));
        let timeline = t
            .get_ok(&format!("/api/v1/conversations/{c}/timeline"), tok)
            .await
            .to_string();
        assert!(timeline.contains("\"assigned\""), "each gets its own event");
    }
    let (status, body) = t
        .post(
            "/api/v1/conversations/bulk",
            tok,
            json!({"ids": [a, b], "changes": {"status": "snoozed"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let many: Vec<i64> = (1..=101).collect();
    let (status, body) = t
        .post(
            "/api/v1/conversations/bulk",
            tok,
            json!({"ids": many, "changes": {"status": "resolved"}}),
        )
        .await;
    crate::kit::assert_invalid(status, &body, "ids", "1 to 100");
    let viewer = t.user_token("viewer").await;
    let (status, _) = t
        .post(
            "/api/v1/conversations/bulk",
            &viewer,
            json!({"ids": [a], "changes": {"status": "resolved"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
both!(bulk_changes);

/// A tag filter pages newest first over the tag's own entries, which follow their
/// conversation's last activity: a new message, a change or a tag added later moves the
/// conversation to the top of the tag's list. A tag no conversation has gives an empty list.
async fn tag_filters(t: TestApp) {
    let tok = t.token.as_str();
    let create = |subject: &str, tags: Value| {
        t.post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "tess@example.com"}, "subject": subject, "body": "Hello", "tags": tags}),
        )
    };
    let first = id(&create("First", json!(["common", "rare"])).await);
    // Older conversations with the common tag, written directly: through the API this would
    // take long. Each is a copy of the first, n milliseconds older, and they span pages.
    const OLDER: i64 = 250;
    let mut tx = t.app.db.begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $2) \
         INSERT INTO conversations (workspace_id, customer_id, channel, inbox_id, priority, subject, \
         custom_fields, status, message_count, created_at, updated_at) \
         SELECT workspace_id, customer_id, channel, inbox_id, priority, subject, custom_fields, \
         status, message_count, created_at - s.n, updated_at - s.n FROM conversations, s WHERE id = $1",
    )
    .bind(first)
    .bind(OLDER)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO conversation_tags (conversation_id, tag_id, conversation_updated_at) \
         SELECT c.id, t.id, c.updated_at FROM conversations c, tags t WHERE c.id > $1 AND t.name = 'common'",
    )
    .bind(first)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let newest = id(&create("Newest", json!(["common"])).await);
    create("Untagged", json!([])).await;

    let by_activity = |tag: &'static str| {
        let app = t.app.clone();
        async move {
            let mut c = app.db.read().await.unwrap();
            sqlx::query_scalar::<_, i64>(
                "SELECT c.id FROM conversations c JOIN conversation_tags ct ON ct.conversation_id = c.id \
                 JOIN tags t ON t.id = ct.tag_id WHERE t.name = $1 ORDER BY c.updated_at DESC, c.id DESC",
            )
            .bind(tag)
            .fetch_all(&mut *c)
            .await
            .unwrap()
        }
    };
    let common = t.conversation_ids("tag=common", tok).await;
    assert_eq!(
        common.len() as i64,
        OLDER + 2,
        "every tagged conversation once"
    );
    assert_eq!(common[..2], [newest, first], "newest activity first");
    assert_eq!(
        common,
        by_activity("common").await,
        "pages follow last activity, none twice"
    );
    let oldest = *common.last().unwrap();
    assert_eq!(
        t.conversation_ids("tag=common&sort=oldest", tok).await[0],
        oldest
    );

    // A reply to the oldest moves it to the top; so does tagging one after its last activity.
    t.post_created(
        &format!("/api/v1/conversations/{oldest}/messages"),
        tok,
        json!({"body": "Any news?"}),
    )
    .await;
    let untagged_before = common[100];
    t.patch_ok(
        &format!("/api/v1/conversations/{untagged_before}"),
        tok,
        json!({"remove_tags": ["common"]}),
    )
    .await;
    let retagged = t
        .patch_ok(
            &format!("/api/v1/conversations/{untagged_before}"),
            tok,
            json!({"add_tags": ["common"], "priority": "high"}),
        )
        .await;
    assert_eq!(retagged["tags"], json!(["common"]));
    let common = t.conversation_ids("tag=common", tok).await;
    assert_eq!(
        common[..2],
        [untagged_before, oldest],
        "latest activity first"
    );
    assert_eq!(common, by_activity("common").await);
    assert_eq!(
        t.conversation_ids("tag=common&status=resolved", tok).await,
        Vec::<i64>::new()
    );
    // Beside a customer (or agent, team, inbox) filter, that filter's conversations are walked
    // and the tag checked on each: the same list.
    let customer = t
        .get_ok(&format!("/api/v1/conversations/{first}"), tok)
        .await["customer_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        t.conversation_ids(&format!("tag=common&customer_id={customer}"), tok)
            .await,
        common
    );
    assert_eq!(
        t.conversation_ids(&format!("tag=rare&customer_id={customer}"), tok)
            .await,
        [first]
    );

    assert_eq!(t.conversation_ids("tag=rare", tok).await, [first]);
    assert_eq!(
        t.conversation_ids("tag=rare&status=open", tok).await,
        [first]
    );
    assert_eq!(
        t.conversation_ids("tag=rare&status=resolved", tok).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        t.conversation_ids("tag=nobody", tok).await,
        Vec::<i64>::new()
    );
}
both!(tag_filters);
