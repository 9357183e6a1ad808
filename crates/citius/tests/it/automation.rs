//! Automation rules over the API: a chain (a customer's words raise the priority, the raised
//! priority tags the conversation) runs in order; a loop between two rules is stopped and
//! logged; a dry run reports matches on past conversations without changing them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, assert_invalid, both, id};

fn events(timeline: &Value, kind: &str) -> Vec<Value> {
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "event" && i["kind"] == kind)
        .cloned()
        .collect()
}

async fn chains_loops_and_dry_runs(t: TestApp) {
    let tok = t.token.as_str();
    let refund = t
        .post_created(
            "/api/v1/automation/rules",
            tok,
            json!({"name": "Refunds are urgent", "trigger": "message_received",
                   "conditions": {"all": [{"field": "message", "op": "contains", "value": "refund"}]},
                   "actions": [{"type": "set_priority", "priority": "urgent"},
                               {"type": "add_note", "text": "Refund asked: handled first."}]}),
        )
        .await;
    t.post_created(
        "/api/v1/automation/rules",
        tok,
        json!({"name": "Tag urgent", "trigger": "conversation_updated",
               "conditions": {"all": [{"field": "priority", "op": "equals", "value": "urgent"}]},
               "actions": [{"type": "add_tags", "tags": ["escalated"]}]}),
    )
    .await;

    let conv = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "ref@example.com"}, "subject": "Order 9", "body": "I want a REFUND please"}),
        )
        .await;
    let cid = id(&conv);
    t.app.run_due_jobs().await.unwrap();
    let c = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(c["priority"], "urgent", "{c}");
    assert_eq!(
        c["tags"],
        json!(["escalated"]),
        "the second rule saw the first one's change: {c}"
    );
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
        .await;
    let raised = &events(&tl, "priority_changed")[0];
    assert_eq!(
        raised["data"]["rule"]["rule_name"], "Refunds are urgent",
        "{raised}"
    );
    assert!(
        tl.to_string().contains("Refund asked: handled first."),
        "the note is on the timeline"
    );
    assert!(
        events(&tl, "rule_stopped").is_empty(),
        "a finished chain is not a loop: {tl}"
    );

    // A conversation without the word is left alone.
    let calm = t.conversation(tok, "calm@example.com", "Thanks!").await;
    t.app.run_due_jobs().await.unwrap();
    let c = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&calm)), tok)
        .await;
    assert_eq!(c["priority"], "normal");

    // Two rules that undo each other: stopped, logged, and the server settles.
    for (name, from, to) in [("Park", "open", "pending"), ("Unpark", "pending", "open")] {
        t.post_created(
            "/api/v1/automation/rules",
            tok,
            json!({"name": name, "trigger": "conversation_updated",
                   "conditions": {"all": [{"field": "tags", "op": "contains", "value": "pingpong"},
                                          {"field": "status", "op": "equals", "value": from}]},
                   "actions": [{"type": "set_status", "status": to}]}),
        )
        .await;
    }
    let pp = t.conversation(tok, "pp@example.com", "Ping pong").await;
    t.app.run_due_jobs().await.unwrap();
    t.patch_ok(
        &format!("/api/v1/conversations/{}", id(&pp)),
        tok,
        json!({"add_tags": ["pingpong"]}),
    )
    .await;
    for _ in 0..5 {
        t.app.run_due_jobs().await.unwrap();
    }
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{}/timeline", id(&pp)), tok)
        .await;
    let stops = events(&tl, "rule_stopped");
    assert!(!stops.is_empty(), "the loop must be stopped: {tl}");
    assert!(
        stops[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("loop"),
        "{}",
        stops[0]
    );
    let flips = events(&tl, "status_changed").len();
    assert!(flips <= 4, "the loop ran {flips} times before stopping");
    let log = t.get_ok("/api/v1/automation/runs?limit=100", tok).await;
    let outcomes: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"stopped") && outcomes.contains(&"applied"),
        "{log}"
    );
    let mine = t
        .get_ok(
            &format!("/api/v1/automation/runs?rule_id={}", id(&refund)),
            tok,
        )
        .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");

    // A dry run on the past: which conversations an "urgent" rule would have caught.
    let (status, report) = t
        .post(
            "/api/v1/automation/dry-run",
            tok,
            json!({"rule": {"name": "Urgent ones", "trigger": "conversation_updated",
                   "conditions": {"all": [{"field": "priority", "op": "equals", "value": "urgent"}]},
                   "actions": [{"type": "add_tags", "tags": ["x"]}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["examined"], 3, "{report}");
    assert_eq!(report["matched"], 1, "{report}");
    assert_eq!(report["sample_ids"], json!([cid]));
    let c = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(c["tags"], json!(["escalated"]), "a dry run changes nothing");

    // An automatic reply with placeholders, and a snooze.
    t.post_created(
        "/api/v1/automation/rules",
        tok,
        json!({"name": "Away notice", "trigger": "conversation_created",
               "conditions": {"all": [{"field": "subject", "op": "contains", "value": "holiday"}]},
               "actions": [{"type": "reply", "template": "Hi {{ customer.first_name | default: \"there\" }}, we answer on Monday. {{ workspace.name }}"},
                           {"type": "snooze", "hours": 48}]}),
    )
    .await;
    let away = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "grace@example.com", "name": "Grace Hopper"}, "subject": "Question over the holiday", "body": "Hello?"}),
        )
        .await;
    t.app.run_due_jobs().await.unwrap();
    let c = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&away)), tok)
        .await;
    assert_eq!(c["status"], "snoozed", "{c}");
    let messages = t
        .get_ok(
            &format!("/api/v1/conversations/{}/messages", id(&away)),
            tok,
        )
        .await;
    let reply = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "reply")
        .cloned()
        .unwrap_or_default();
    assert!(
        reply["body_text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Hi Grace, we answer on Monday."),
        "{messages}"
    );
    let (status, body) = t
        .post(
            "/api/v1/automation/rules",
            tok,
            json!({"name": "Leaky reply", "trigger": "conversation_created",
                   "actions": [{"type": "reply", "template": "{{ customer.password }}"}, {"type": "snooze", "hours": 0}]}),
        )
        .await;
    assert_invalid(status, &body, "actions[0].template", "unknown placeholder");
    assert_invalid(status, &body, "actions[1]", "zero hours");

    // Pending for three days: a nudge, once per quiet stretch.
    t.post_created(
        "/api/v1/automation/rules",
        tok,
        json!({"name": "Nudge", "trigger": "idle", "after_hours": 72,
               "conditions": {"all": [{"field": "status", "op": "equals", "value": "pending"}]},
               "actions": [{"type": "reply", "template": "Just checking in, {{ customer.first_name | default: \"there\" }}."},
                           {"type": "add_tags", "tags": ["nudged"]}]}),
    )
    .await;
    let quiet = t
        .conversation(tok, "quiet@example.com", "Waiting on the customer")
        .await;
    let qid = id(&quiet);
    t.patch_ok(
        &format!("/api/v1/conversations/{qid}"),
        tok,
        json!({"status": "pending"}),
    )
    .await;
    t.app.run_due_jobs().await.unwrap();
    assert_eq!(
        t.app.run_idle_rules().await.unwrap(),
        0,
        "not quiet long enough yet"
    );
    let age = |c: i64| {
        let db = t.app.db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            sqlx::query("UPDATE conversations SET updated_at = updated_at - $1 WHERE id = $2")
                .bind(73 * 3_600_000_i64)
                .bind(c)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    age(qid).await;
    assert_eq!(t.app.run_idle_rules().await.unwrap(), 1);
    let c = t.get_ok(&format!("/api/v1/conversations/{qid}"), tok).await;
    assert_eq!(c["tags"], json!(["nudged"]), "{c}");
    age(qid).await;
    assert_eq!(
        t.app.run_idle_rules().await.unwrap(),
        0,
        "once per quiet stretch"
    );
    let (status, body) = t
        .post("/api/v1/automation/rules", tok, json!({"name": "No wait", "trigger": "idle", "actions": [{"type": "add_tags", "tags": ["x"]}]}))
        .await;
    assert_invalid(status, &body, "after_hours", "idle without hours");

    // After hours (the workspace's calendar is closed today), new conversations are tagged and
    // sent to a webhook endpoint, whatever it subscribes to.
    let today = usize::try_from(
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .weekday()
            .to_monday_zero_offset(),
    )
    .unwrap();
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    t.post_created(
        "/api/v1/calendars",
        tok,
        json!({"name": "Office", "time_zone": "UTC", "hours": [{"day": days[(today + 3) % 7], "open": "00:00", "close": "24:00"}]}),
    )
    .await;
    let endpoint = t
        .post_created("/api/v1/webhooks", tok, json!({"url": "https://hooks.example.invalid/after-hours", "event_types": ["sla.breached"]}))
        .await;
    let (status, body) = t
        .post(
            "/api/v1/automation/rules",
            tok,
            json!({"name": "Ghost hook", "trigger": "conversation_created", "actions": [{"type": "send_webhook", "endpoint_id": 987654}]}),
        )
        .await;
    assert_invalid(status, &body, "actions[0].endpoint_id", "unknown endpoint");
    t.post_created(
        "/api/v1/automation/rules",
        tok,
        json!({"name": "After hours", "trigger": "conversation_created",
               "conditions": {"all": [{"field": "business_hours", "op": "equals", "value": "closed"}]},
               "actions": [{"type": "add_tags", "tags": ["after-hours"]}, {"type": "send_webhook", "endpoint_id": id(&endpoint)}]}),
    )
    .await;
    let late = t
        .conversation(tok, "owl@example.com", "Late question")
        .await;
    t.app.run_due_jobs().await.unwrap();
    let c = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&late)), tok)
        .await;
    assert!(
        c["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("after-hours")),
        "{c}"
    );
    let sent = t
        .get_ok(&format!("/api/v1/webhooks/{}/messages", id(&endpoint)), tok)
        .await;
    let types: Vec<&str> = sent["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["rule.triggered"], "{sent}");
    assert_eq!(
        sent["items"][0]["payload"]["data"]["conversation"]["id"],
        late["id"]
    );

    // Bad rules name the part to fix; agents cannot write rules.
    let (status, body) = t
        .post(
            "/api/v1/automation/rules",
            tok,
            json!({"name": "Bad", "trigger": "conversation_created",
                   "conditions": {"all": [{"field": "subject", "op": "gt", "value": 3}]},
                   "actions": [{"type": "add_tags", "tags": ["x"]}]}),
        )
        .await;
    assert_invalid(status, &body, "conditions.all[0].op", "gt on text");
    let agent = t.user_token("agent").await;
    let (status, body) = t
        .post(
            "/api/v1/automation/rules",
            &agent,
            json!({"name": "Mine", "trigger": "conversation_created", "actions": [{"type": "add_tags", "tags": ["x"]}]}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "agent writes a rule",
    );
}

both!(chains_loops_and_dry_runs);
