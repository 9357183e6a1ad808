//! SLAs: the first matching policy applies, clocks pause while pending and resume after,
//! warnings and breaches are recorded once, replies meet the target; calendars are validated.
//! (Business-time arithmetic across DST changes and holidays is tested in the domain.)

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_invalid, both, id, millis};

/// Moves a conversation's running clocks back by `secs`, as if that much time had passed,
/// and makes the SLA timers due.
pub async fn age_clocks(db: &citius_store::Db, conversation_id: i64, secs: i64) {
    let mut tx = db.begin().await.unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT metric, clock FROM sla_clocks WHERE conversation_id = $1")
            .bind(conversation_id)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    for (metric, clock) in rows {
        let mut clock: Value = serde_json::from_str(&clock).unwrap();
        if let Some(since) = clock["running_since"].as_str() {
            let since: jiff::Timestamp = since.parse().unwrap();
            let earlier = since - jiff::SignedDuration::from_secs(secs);
            clock["running_since"] = json!(earlier);
        }
        sqlx::query("UPDATE sla_clocks SET clock = $1, due_at = due_at - $2 WHERE conversation_id = $3 AND metric = $4")
            .bind(clock.to_string())
            .bind(secs * 1000)
            .bind(conversation_id)
            .bind(metric)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE jobs SET run_at = $1 WHERE kind = 'sla.timer' AND status = 'queued'")
        .bind(citius_store::now_ms() - 1)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn clock<'a>(sla: &'a Value, metric: &str) -> &'a Value {
    sla["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} clock in {sla}"))
}

pub fn count_events(timeline: &Value, kind: &str) -> usize {
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "event" && i["kind"] == kind)
        .count()
}

async fn policies_clocks_and_breaches(t: TestApp) {
    let tok = t.token.as_str();
    let calendar = t
        .post_created(
            "/api/v1/calendars",
            tok,
            json!({"name": "Berlin office", "time_zone": "Europe/Berlin",
                   "hours": [{"day": "monday", "open": "09:00", "close": "17:00"}],
                   "holidays": [{"date": "2026-12-25", "name": "Christmas"}]}),
        )
        .await;
    let urgent = t
        .post_created(
            "/api/v1/sla/policies",
            tok,
            json!({"name": "Urgent", "conditions": {"priorities": ["urgent"]},
                   "targets": {"first_response_secs": 3600, "resolution_secs": 28800},
                   "warn_before_secs": 600}),
        )
        .await;
    let office = t
        .post_created(
            "/api/v1/sla/policies",
            tok,
            json!({"name": "Office hours", "calendar_id": id(&calendar),
                   "targets": {"first_response_secs": 14400}}),
        )
        .await;
    assert_eq!(urgent["position"], 1);
    assert_eq!(office["position"], 2);

    let conv = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "sla@example.com"}, "subject": "Down!", "body": "Nothing works", "priority": "urgent"}),
        )
        .await;
    let cid = id(&conv);
    t.app.run_due_jobs().await.unwrap();
    let sla = t
        .get_ok(&format!("/api/v1/conversations/{cid}/sla"), tok)
        .await;
    assert_eq!(sla["policy_name"], "Urgent", "{sla}");
    let first = clock(&sla, "first_response");
    assert_eq!(first["state"], "running");
    let created = millis(&conv["created_at"]);
    let due = millis(&first["due_at"]);
    assert!(
        (due - created - 3_600_000).abs() < 5_000,
        "due an hour after creation: {sla}"
    );
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
        .await;
    assert_eq!(count_events(&tl, "sla_applied"), 1, "{tl}");

    // Pending pauses the clocks; back to open resumes them later.
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        tok,
        json!({"status": "pending"}),
    )
    .await;
    t.app.run_due_jobs().await.unwrap();
    let sla = t
        .get_ok(&format!("/api/v1/conversations/{cid}/sla"), tok)
        .await;
    assert_eq!(clock(&sla, "first_response")["state"], "paused", "{sla}");
    assert!(clock(&sla, "first_response")["due_at"].is_null());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        tok,
        json!({"status": "open"}),
    )
    .await;
    t.app.run_due_jobs().await.unwrap();
    let sla = t
        .get_ok(&format!("/api/v1/conversations/{cid}/sla"), tok)
        .await;
    let resumed = millis(&clock(&sla, "first_response")["due_at"]);
    assert!(
        resumed >= due + 1_000,
        "the paused second moves the target: {due} -> {resumed}"
    );

    // An hour and a half later: one warning and one breach, however often the timers run.
    crate::sla::age_clocks(&t.app.db, cid, 5400).await;
    t.app.run_due_jobs().await.unwrap();
    crate::sla::age_clocks(&t.app.db, cid, 0).await;
    t.app.run_due_jobs().await.unwrap();
    let sla = t
        .get_ok(&format!("/api/v1/conversations/{cid}/sla"), tok)
        .await;
    let first = clock(&sla, "first_response");
    assert_eq!(first["state"], "overdue", "{sla}");
    assert!(
        first["breached_at"].is_string() && first["warned_at"].is_string(),
        "{sla}"
    );
    let tl = t
        .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
        .await;
    assert_eq!(count_events(&tl, "sla_warning"), 1, "{tl}");
    assert_eq!(count_events(&tl, "sla_breached"), 1, "{tl}");
    let summary = t.get_ok("/api/v1/reports/sla", tok).await;
    assert!(summary["overdue"].as_i64().unwrap() >= 1, "{summary}");
    assert!(
        summary["breached_last_day"].as_i64().unwrap() >= 1,
        "{summary}"
    );

    // The late reply meets the first response, late.
    t.post_created(
        &format!("/api/v1/conversations/{cid}/messages"),
        tok,
        json!({"body": "Sorry, on it", "kind": "reply"}),
    )
    .await;
    t.app.run_due_jobs().await.unwrap();
    let sla = t
        .get_ok(&format!("/api/v1/conversations/{cid}/sla"), tok)
        .await;
    let first = clock(&sla, "first_response");
    assert_eq!(first["state"], "met", "{sla}");
    assert_eq!(first["late"], true, "{sla}");
    assert_eq!(clock(&sla, "resolution")["state"], "running");

    // A normal conversation falls through to the office-hours policy.
    let normal = t.conversation(tok, "calm@example.com", "A question").await;
    t.app.run_due_jobs().await.unwrap();
    let sla = t
        .get_ok(&format!("/api/v1/conversations/{}/sla", id(&normal)), tok)
        .await;
    assert_eq!(sla["policy_name"], "Office hours");
    assert!(
        sla["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["metric"] != "resolution")
    );

    // Reordering puts the office policy first: it catches everything created afterwards.
    let listed = t
        .put(
            "/api/v1/sla/policies/order",
            tok,
            json!({"ids": [id(&office), id(&urgent)]}),
        )
        .await;
    assert_eq!(listed.0, StatusCode::OK, "{}", listed.1);
    assert_eq!(listed.1["items"][0]["name"], "Office hours");
    let (status, body) = t
        .delete(&format!("/api/v1/calendars/{}", id(&calendar)), tok)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a calendar in use stays: {body}"
    );
}

async fn settings_are_validated_and_guarded(t: TestApp) {
    let tok = t.token.as_str();
    let (status, body) = t
        .post(
            "/api/v1/calendars",
            tok,
            json!({"name": "Bad", "time_zone": "Mars/Olympus", "hours": [{"day": "monday", "open": "17:00", "close": "09:00"}]}),
        )
        .await;
    assert_invalid(status, &body, "time_zone", "unknown zone");
    assert_invalid(status, &body, "hours[0].close", "closing before opening");
    let (status, body) = t
        .post(
            "/api/v1/sla/policies",
            tok,
            json!({"name": "Empty", "targets": {}}),
        )
        .await;
    assert_invalid(status, &body, "targets", "no target");
    let (status, body) = t
        .post(
            "/api/v1/sla/policies",
            tok,
            json!({"name": "Ghost", "calendar_id": 999999, "targets": {"first_response_secs": 600}}),
        )
        .await;
    assert_invalid(status, &body, "calendar_id", "unknown calendar");
    let agent = t.user_token("agent").await;
    let (status, _) = t
        .post(
            "/api/v1/sla/policies",
            &agent,
            json!({"name": "Mine", "targets": {"first_response_secs": 600}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = t.get("/api/v1/sla/policies", &agent).await;
    assert_eq!(status, StatusCode::OK, "agents may read the policies");
}

both!(policies_clocks_and_breaches);
both!(settings_are_validated_and_guarded);
