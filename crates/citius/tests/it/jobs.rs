//! Background work through the durable job queue: a snoozed conversation wakes up on time.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kit::{TestApp, assert_invalid, both, id, millis, rfc3339_in};

async fn snooze_wakes_up(t: TestApp) {
    let tok = t.token.as_str();
    let conv = t.conversation(tok, "sleepy@example.com", "Later please").await;
    let cid = id(&conv);
    let path = format!("/api/v1/conversations/{cid}");

    // A wake-up time is required and must lie ahead.
    let (s, b) = t.patch(&path, tok, json!({"status": "snoozed", "snoozed_until": rfc3339_in(-60_000)})).await;
    assert_invalid(s, &b, "snoozed_until", "snooze into the past");
    let (s, b) = t.patch(&path, tok, json!({"status": "snoozed", "snoozed_until": "next tuesday"})).await;
    assert_invalid(s, &b, "snoozed_until", "snooze until a non-time");
    let (s, b) = t.patch(&path, tok, json!({"status": "open", "snoozed_until": rfc3339_in(60_000)})).await;
    assert_invalid(s, &b, "snoozed_until", "snoozed_until without snoozing");

    let until = rfc3339_in(1500);
    let c = t.patch_ok(&path, tok, json!({"status": "snoozed", "snoozed_until": until})).await;
    assert_eq!(c["status"], "snoozed");
    assert_eq!(millis(&c["snoozed_until"]), millis(&Value::String(until.clone())));
    assert_eq!(t.conversation_ids("status=snoozed", tok).await, [cid]);

    // Not due yet: running the queue changes nothing.
    t.app.run_due_jobs().await.expect("run jobs");
    assert_eq!(t.get_ok(&path, tok).await["status"], "snoozed", "woke up too early");

    // Once due, the job reopens it and says so on the timeline.
    let wait = millis(&Value::String(until)) - jiff::Timestamp::now().as_millisecond() + 100;
    tokio::time::sleep(Duration::from_millis(wait.max(0).unsigned_abs())).await;
    let ran = t.app.run_due_jobs().await.expect("run jobs");
    assert!(ran >= 1, "no job ran");
    let c = t.get_ok(&path, tok).await;
    assert_eq!(c["status"], "open", "{c}");
    assert_eq!(c["snoozed_until"], Value::Null, "{c}");
    let timeline = t.get_ok(&format!("{path}/timeline"), tok).await;
    let changes: Vec<&Value> = timeline["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["type"] == "event" && i["kind"] == "status_changed")
        .collect();
    assert_eq!(changes.len(), 2, "snoozed, then woken: {timeline}");
    assert_eq!(changes[0]["data"]["to"], "snoozed");
    assert_eq!(changes[1]["data"]["from"], "snoozed");
    assert_eq!(changes[1]["data"]["to"], "open");

    // Running the queue again is harmless: the job does not run twice.
    assert_eq!(t.app.run_due_jobs().await.expect("run jobs"), 0);
    let timeline2 = t.get_ok(&format!("{path}/timeline"), tok).await;
    assert_eq!(timeline2, timeline);

    // A conversation reopened by hand before its time is not touched by the wake-up.
    let other = t.conversation(tok, "early@example.com", "Early bird").await;
    let other_path = format!("/api/v1/conversations/{}", id(&other));
    t.patch_ok(&other_path, tok, json!({"status": "snoozed", "snoozed_until": rfc3339_in(800)})).await;
    t.patch_ok(&other_path, tok, json!({"status": "resolved"})).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    t.app.run_due_jobs().await.expect("run jobs");
    assert_eq!(t.get_ok(&other_path, tok).await["status"], "resolved", "a stale wake-up reopened a resolved conversation");
}
both!(snooze_wakes_up);
