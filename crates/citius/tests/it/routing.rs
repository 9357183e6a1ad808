//! Routing over the API: presence and capacity, skills derived from the conversation (language),
//! explained decisions, queue positions, re-queue when an agent leaves, overflow, auto-away.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, TestUser, assert_error, assert_invalid, both, id};

const GERMAN: &str = "Hallo, ich habe eine Frage zu meiner Rechnung. Die Zahlung ist nicht angekommen und ich weiß nicht, was ich tun soll.";
const ENGLISH: &str = "Hello, I have a question about my invoice. The payment did not arrive and I do not know what to do.";

async fn put(t: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    t.call(reqwest::Method::PUT, path, token, Some(&body)).await
}

async fn online(t: &TestApp, u: &TestUser, capacity: Value) {
    let (s, b) = put(
        t,
        "/api/v1/presence",
        &u.token,
        json!({"presence": "online", "capacity": capacity}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["presence"], "online");
}

async fn chat_inbox(t: &TestApp, name: &str) -> i64 {
    let inbox = t
        .post_created(
            "/api/v1/inboxes",
            &t.token,
            json!({"name": name, "channel": "chat"}),
        )
        .await;
    id(&inbox)
}

async fn route_least_loaded(t: &TestApp, inbox: i64) {
    let path = format!("/api/v1/inboxes/{inbox}/routing");
    let (s, b) = put(t, &path, &t.token, json!({"strategy": "least_loaded"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn chat(t: &TestApp, inbox: i64, email: &str, body: &str) -> Value {
    t.post_created(
        "/api/v1/conversations",
        &t.token,
        json!({"customer": {"email": email}, "subject": "Question", "body": body, "channel": "chat", "inbox_id": inbox}),
    )
    .await
}

async fn routing_by_skill_and_capacity(t: TestApp) {
    let tok = t.token.as_str();
    let de = id(&t
        .post_created("/api/v1/skills", tok, json!({"name": "German"}))
        .await);
    let anna = t.new_user("agent").await;
    let ben = t.new_user("agent").await;
    let (s, _) = put(
        &t,
        &format!("/api/v1/users/{}/skills/{de}", anna.id),
        tok,
        json!({"level": 3}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let inbox = chat_inbox(&t, "Website chat").await;
    let policy_path = format!("/api/v1/inboxes/{inbox}/routing");

    // Policies are checked and only admins set them.
    let (s, b) = put(&t, &policy_path, tok, json!({"strategy": "skills", "skill_rules": [{"when": {"field": "language", "equals": "de"}, "skill_id": 987654, "min_level": 2}]})).await;
    assert_invalid(s, &b, "skill_rules", "rule on a skill from nowhere");
    let (s, b) = put(&t, &policy_path, tok, json!({"strategy": "fastest"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = put(
        &t,
        &policy_path,
        &anna.token,
        json!({"strategy": "least_loaded"}),
    )
    .await;
    assert_error(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "forbidden",
        "agent sets a routing policy",
    );
    let (s, b) = put(&t, &policy_path, tok, json!({"strategy": "skills",
        "skill_rules": [{"when": {"field": "language", "equals": "de"}, "skill_id": de, "min_level": 2}]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["strategy"], "skills");
    let (s, b) = put(
        &t,
        "/api/v1/presence",
        &anna.token,
        json!({"presence": "online", "capacity": {"chat": 500}}),
    )
    .await;
    assert_invalid(s, &b, "capacity", "capacity out of range");

    online(&t, &anna, json!({"chat": 1})).await;
    online(&t, &ben, json!({"chat": 3})).await;

    // German needs the German speaker; the decision is explained on the timeline.
    let c1 = chat(&t, inbox, "klaus@example.com", GERMAN).await;
    assert_eq!(
        c1["assignee_id"], anna.id,
        "German goes to the German speaker: {c1}"
    );
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{}/timeline", id(&c1)), tok)
        .await;
    let routed = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "assigned")
        .expect("assigned event");
    assert_eq!(routed["data"]["routing"]["user_id"], anna.id);
    assert!(
        routed["data"]["routing"]["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{routed}"
    );
    assert_eq!(routed["data"]["required_skills"][0]["skill_id"], de);

    // Conversations of an inbox that does not route wait in no queue, however old.
    let unrouted_inbox = chat_inbox(&t, "Sales chat").await;
    let unrouted = chat(&t, unrouted_inbox, "olga@example.com", GERMAN).await;
    assert_eq!(unrouted["assignee_id"], Value::Null, "{unrouted}");

    // Anna is full: the next German chat waits, with a position and an estimate.
    let c2 = chat(&t, inbox, "greta@example.com", GERMAN).await;
    assert_eq!(
        c2["assignee_id"],
        Value::Null,
        "nobody free speaks German: {c2}"
    );
    let q = t
        .get_ok(&format!("/api/v1/conversations/{}/queue", id(&c2)), tok)
        .await;
    assert_eq!(q["position"], 1, "{q}");
    assert_eq!(
        q["waiting"], 1,
        "only the routed inbox's conversation waits: {q}"
    );
    assert!(q["estimated_wait_secs"].is_number(), "{q}");
    let q = t
        .get_ok(
            &format!("/api/v1/conversations/{}/queue", id(&unrouted)),
            tok,
        )
        .await;
    assert_eq!(q["position"], Value::Null, "{q}");

    // English needs no skill: Ben, the least loaded.
    let c3 = chat(&t, inbox, "sam@example.com", ENGLISH).await;
    assert_eq!(c3["assignee_id"], ben.id, "{c3}");

    // Anna leaves: her chat goes back to the queue and nobody else may take it.
    let (s, b) = put(
        &t,
        "/api/v1/presence",
        &anna.token,
        json!({"presence": "offline"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let c1_now = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&c1)), tok)
        .await;
    assert_eq!(c1_now["assignee_id"], Value::Null, "re-queued: {c1_now}");
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{}/timeline", id(&c1)), tok)
        .await;
    assert!(
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "requeued")
    );

    // She comes back with room for two: both German chats are hers, oldest first.
    online(&t, &anna, json!({"chat": 2})).await;
    for c in [&c1, &c2] {
        let now = t
            .get_ok(&format!("/api/v1/conversations/{}", id(c)), tok)
            .await;
        assert_eq!(now["assignee_id"], anna.id, "{now}");
    }
    let agents = t.get_ok("/api/v1/agents", tok).await;
    let a = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user_id"] == anna.id)
        .unwrap();
    assert_eq!(a["load"]["chat"], 2, "{a}");
    assert_eq!(a["capacity"]["chat"], 2, "{a}");

    // Overflow: a conversation waiting too long moves to the overflow team.
    let team = id(&t
        .post_created(
            "/api/v1/teams",
            tok,
            json!({"name": "Overflow", "member_ids": [ben.id]}),
        )
        .await);
    let (s, b) = put(&t, &policy_path, tok, json!({"strategy": "skills", "overflow_team_id": team, "overflow_after_secs": 60,
        "skill_rules": [{"when": {"field": "language", "equals": "de"}, "skill_id": de, "min_level": 2}]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let c4 = chat(&t, inbox, "heidi@example.com", GERMAN).await;
    assert_eq!(c4["assignee_id"], Value::Null);
    age_conversation(&t, id(&c4), 120_000).await;
    t.app.route_waiting().await.expect("route");
    let c4_now = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&c4)), tok)
        .await;
    assert_eq!(c4_now["team_id"], team, "{c4_now}");
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{}/timeline", id(&c4)), tok)
        .await;
    assert!(
        tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "overflowed")
    );

    // An agent silent too long turns away and their chats go back to the queue.
    silence(&t, ben.id, 3_600_000).await;
    t.app.route_waiting().await.expect("route");
    let agents = t.get_ok("/api/v1/agents", tok).await;
    let b = agents["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user_id"] == ben.id)
        .unwrap();
    assert_eq!(b["presence"], "away", "{b}");
    let c3_now = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&c3)), tok)
        .await;
    assert_ne!(c3_now["assignee_id"], ben.id, "{c3_now}");

    // Another workspace sees none of it.
    let other = t.second_workspace().await;
    let (s, _) = put(&t, &policy_path, &other, json!({"strategy": "round_robin"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t
        .get(&format!("/api/v1/conversations/{}/queue", id(&c2)), &other)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(routing_by_skill_and_capacity);

/// Moves a conversation's creation into the past, as if it had waited.
async fn age_conversation(t: &TestApp, id: i64, by_ms: i64) {
    let mut tx = t.app.db.begin().await.expect("begin");
    sqlx::query("UPDATE conversations SET created_at = created_at - $1 WHERE id = $2")
        .bind(by_ms)
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("age");
    tx.commit().await.expect("commit");
}

/// Moves an agent's last sign of life into the past.
async fn silence(t: &TestApp, user_id: i64, by_ms: i64) {
    let mut tx = t.app.db.begin().await.expect("begin");
    sqlx::query("UPDATE agent_presence SET last_seen_at = last_seen_at - $1 WHERE user_id = $2")
        .bind(by_ms)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .expect("silence");
    tx.commit().await.expect("commit");
}

/// A calendar open all day on the given weekdays (0 = Monday), in UTC.
async fn calendar(t: &TestApp, name: &str, days: &[usize]) -> i64 {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let hours: Vec<Value> = days
        .iter()
        .map(|d| json!({"day": DAYS[*d], "open": "00:00", "close": "24:00"}))
        .collect();
    id(&t
        .post_created(
            "/api/v1/calendars",
            &t.token,
            json!({"name": name, "time_zone": "UTC", "hours": hours}),
        )
        .await)
}

async fn working_schedules(t: TestApp) {
    let tok = t.token.as_str();
    let today = usize::try_from(
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .weekday()
            .to_monday_zero_offset(),
    )
    .unwrap();
    let off_today = calendar(&t, "Not today", &[(today + 3) % 7]).await;
    let every_day = calendar(&t, "Every day", &[0, 1, 2, 3, 4, 5, 6]).await;
    let inbox = id(&t
        .post_created(
            "/api/v1/inboxes",
            tok,
            json!({"name": "Chat", "channel": "chat"}),
        )
        .await);
    route_least_loaded(&t, inbox).await;
    let anna = t.new_user("agent").await;
    online(&t, &anna, json!({"chat": 3})).await;

    let schedule = format!("/api/v1/users/{}/schedule", anna.id);
    let (s, b) = put(
        &t,
        &schedule,
        &anna.token,
        json!({"calendar_id": every_day}),
    )
    .await;
    assert_error(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "forbidden",
        "agents do not set schedules",
    );
    let (s, b) = put(&t, &schedule, tok, json!({"calendar_id": 424242})).await;
    assert_invalid(s, &b, "calendar_id", "unknown calendar");
    let (s, b) = put(&t, &schedule, tok, json!({"calendar_id": off_today})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["on_shift"], false, "{b}");
    assert_eq!(
        b["presence"], "online",
        "presence is the agent's; the shift only stops routing"
    );

    // Off shift: online but given nothing.
    let c = chat(&t, inbox, "early@example.com", ENGLISH).await;
    assert_eq!(c["assignee_id"], Value::Null, "{c}");

    // On shift: the waiting chat goes to Anna.
    let (s, b) = put(&t, &schedule, tok, json!({"calendar_id": every_day})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["on_shift"], true, "{b}");
    t.app.route_waiting().await.expect("route");
    let c = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&c)), tok)
        .await;
    assert_eq!(c["assignee_id"], anna.id, "{c}");

    let (s, b) = t
        .delete(&format!("/api/v1/calendars/{every_day}"), tok)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "conflict",
        "a schedule's calendar stays",
    );
    let (s, _) = put(&t, &schedule, tok, json!({"calendar_id": null})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .delete(&format!("/api/v1/calendars/{every_day}"), tok)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

both!(working_schedules);

/// A workspace routing more inboxes than one statement reads still keeps one queue, oldest first.
async fn a_queue_across_many_routed_inboxes(t: TestApp) {
    let tok = t.token.as_str();
    let mut inboxes = Vec::new();
    for n in 0..101 {
        let inbox = chat_inbox(&t, &format!("Chat {n}")).await;
        route_least_loaded(&t, inbox).await;
        inboxes.push(inbox);
    }
    // Nobody is online: both wait. The older is in the last inbox, read by a statement of its
    // own after the newer's.
    let older = chat(&t, inboxes[100], "older@example.com", ENGLISH).await;
    let newer = chat(&t, inboxes[0], "newer@example.com", ENGLISH).await;
    for (c, position) in [(&older, 1), (&newer, 2)] {
        assert_eq!(c["assignee_id"], Value::Null, "{c}");
        let q = t
            .get_ok(&format!("/api/v1/conversations/{}/queue", id(c)), tok)
            .await;
        assert_eq!(q["position"], position, "{q}");
        assert_eq!(q["waiting"], 2, "{q}");
    }
}

both!(a_queue_across_many_routed_inboxes);
