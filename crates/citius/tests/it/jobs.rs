//! Background work through the durable job queue: a snoozed conversation wakes up on time;
//! failed jobs are retried later, parked as dead after their last attempt, listed for admins
//! and retried by hand.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, assert_invalid, both, id, ids, millis, rfc3339_in};

async fn snooze_wakes_up(t: TestApp) {
    let tok = t.token.as_str();
    let conv = t
        .conversation(tok, "sleepy@example.com", "Later please")
        .await;
    let cid = id(&conv);
    let path = format!("/api/v1/conversations/{cid}");

    // A wake-up time is required and must lie ahead.
    let (s, b) = t
        .patch(
            &path,
            tok,
            json!({"status": "snoozed", "snoozed_until": rfc3339_in(-60_000)}),
        )
        .await;
    assert_invalid(s, &b, "snoozed_until", "snooze into the past");
    let (s, b) = t
        .patch(
            &path,
            tok,
            json!({"status": "snoozed", "snoozed_until": "next tuesday"}),
        )
        .await;
    assert_invalid(s, &b, "snoozed_until", "snooze until a non-time");
    let (s, b) = t
        .patch(
            &path,
            tok,
            json!({"status": "open", "snoozed_until": rfc3339_in(60_000)}),
        )
        .await;
    assert_invalid(s, &b, "snoozed_until", "snoozed_until without snoozing");

    let until = rfc3339_in(1500);
    let c = t
        .patch_ok(
            &path,
            tok,
            json!({"status": "snoozed", "snoozed_until": until}),
        )
        .await;
    assert_eq!(c["status"], "snoozed");
    assert_eq!(
        millis(&c["snoozed_until"]),
        millis(&Value::String(until.clone()))
    );
    assert_eq!(t.conversation_ids("status=snoozed", tok).await, [cid]);

    // Not due yet: running the queue changes nothing.
    t.app.run_due_jobs().await.expect("run jobs");
    assert_eq!(
        t.get_ok(&path, tok).await["status"],
        "snoozed",
        "woke up too early"
    );

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
    t.patch_ok(
        &other_path,
        tok,
        json!({"status": "snoozed", "snoozed_until": rfc3339_in(800)}),
    )
    .await;
    t.patch_ok(&other_path, tok, json!({"status": "resolved"}))
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    t.app.run_due_jobs().await.expect("run jobs");
    assert_eq!(
        t.get_ok(&other_path, tok).await["status"],
        "resolved",
        "a stale wake-up reopened a resolved conversation"
    );
}
both!(snooze_wakes_up);

/// The jobs listed with `query` (one page), as the owner sees them.
async fn listed(t: &TestApp, query: &str, token: &str) -> Value {
    let body = t.get_ok(&format!("/api/v1/jobs{query}"), token).await;
    assert!(
        body["items"].is_array(),
        "GET /api/v1/jobs{query} without items: {body}"
    );
    assert!(
        body.get("next_cursor").is_some(),
        "GET /api/v1/jobs{query} without next_cursor: {body}"
    );
    body
}

async fn dead_jobs_are_listed_and_retried(t: TestApp) {
    let owner = t.token.as_str();
    let ws = t.workspace_id(owner).await;
    let admin = t.new_user("admin").await;
    let supervisor = t.user_token("supervisor").await;
    let agent = t.user_token("agent").await;
    assert_eq!(
        listed(&t, "", owner).await["items"],
        json!([]),
        "a new workspace has no jobs"
    );

    // Queued, not run yet.
    let before = citius_store::now_ms();
    let job = t.enqueue_job(ws, "test.unknown", before, 1).await;
    let queued = listed(&t, "?status=queued", owner).await;
    assert_eq!(ids(&queued["items"]), [job], "{queued}");
    let j = &queued["items"][0];
    assert_eq!(j["kind"], "test.unknown");
    assert_eq!(j["status"], "queued");
    assert_eq!(j["attempts"], 0);
    assert_eq!(j["max_attempts"], 1);
    assert_eq!(j["last_error"], Value::Null);
    assert_eq!(millis(&j["run_at"]), before);
    assert!(millis(&j["created_at"]) >= before, "{j}");

    // Its only attempt fails: parked as dead, with the reason.
    assert_eq!(t.app.run_due_jobs().await.expect("run jobs"), 1);
    let dead = listed(&t, "?status=dead", owner).await;
    assert_eq!(ids(&dead["items"]), [job], "{dead}");
    let j = dead["items"][0].clone();
    assert_eq!(j["status"], "dead");
    assert_eq!(j["attempts"], 1);
    assert_eq!(j["max_attempts"], 1);
    let error = j["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("dead job without last_error: {j}"));
    assert!(
        error.contains("unknown") && error.contains("test.unknown"),
        "last_error names the unknown kind: {error}"
    );
    for status in ["queued", "running", "done"] {
        assert_eq!(
            listed(&t, &format!("?status={status}"), owner).await["items"],
            json!([]),
            "jobs with status {status}"
        );
    }
    assert_eq!(
        listed(&t, "", owner).await["items"],
        json!([j]),
        "unfiltered list"
    );
    // A dead job stays dead: running the queue again leaves it alone.
    assert_eq!(t.app.run_due_jobs().await.expect("run jobs"), 0);

    // Only admins and owners see or retry jobs; a bad status is refused.
    let retry = format!("/api/v1/jobs/{job}/retry");
    for (role, token) in [
        ("agent", agent.as_str()),
        ("supervisor", supervisor.as_str()),
    ] {
        let (s, b) = t.get("/api/v1/jobs?status=dead", token).await;
        assert_error(
            s,
            &b,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("{role} lists jobs"),
        );
        let (s, b) = t.post(&retry, token, json!({})).await;
        assert_error(
            s,
            &b,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("{role} retries a job"),
        );
    }
    assert_eq!(
        t.job(job).await.status,
        "dead",
        "a refused retry re-queued the job"
    );
    for bad in ["bogus", "failed"] {
        let (s, b) = t.get(&format!("/api/v1/jobs?status={bad}"), owner).await;
        assert_invalid(s, &b, "status", &format!("jobs with status {bad:?}"));
    }
    let (s, b) = t.get("/api/v1/jobs?limit=0", owner).await;
    assert_invalid(s, &b, "limit", "jobs with limit 0");

    // Only dead jobs of the workspace can be retried.
    let later = t
        .enqueue_job(ws, "test.later", citius_store::now_ms() + 3_600_000, 3)
        .await;
    let (s, b) = t
        .post(&format!("/api/v1/jobs/{later}/retry"), owner, json!({}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "retry a queued job",
    );
    let (s, b) = t
        .post("/api/v1/jobs/999999999/retry", owner, json!({}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "retry a missing job",
    );
    let other = t.second_workspace().await;
    let other_ws = t.workspace_id(&other).await;
    assert_ne!(other_ws, ws);
    let (s, b) = t.post(&retry, &other, json!({})).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "retry another workspace's job",
    );
    assert_eq!(
        listed(&t, "", &other).await["items"],
        json!([]),
        "another workspace lists A's jobs"
    );
    let other_dead = t.dead_job(other_ws, "test.globex").await;
    let (s, b) = t
        .post(
            &format!("/api/v1/jobs/{other_dead}/retry"),
            owner,
            json!({}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "A retries B's dead job",
    );
    assert_eq!(t.job(other_dead).await.status, "dead");
    assert_eq!(ids(&listed(&t, "", &other).await["items"]), [other_dead]);
    assert_eq!(t.job(job).await.status, "dead");

    // An admin retries it: queued again to run now, with one more attempt allowed.
    let before_retry = citius_store::now_ms();
    let (s, b) = t.post(&retry, &admin.token, json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "retry a dead job: {b}");
    assert_eq!(b, Value::Null, "204 has no body");
    let queued = listed(&t, "?status=queued", owner).await;
    assert_eq!(
        ids(&queued["items"]),
        [later, job],
        "newest first: {queued}"
    );
    let j = &queued["items"][1];
    assert_eq!(j["status"], "queued");
    assert_eq!(j["attempts"], 1);
    assert_eq!(j["max_attempts"], 2);
    let run_at = millis(&j["run_at"]);
    assert!(
        run_at >= before_retry && run_at <= citius_store::now_ms(),
        "a retried job runs now: {j}"
    );
    assert_eq!(listed(&t, "?status=dead", owner).await["items"], json!([]));
    // Retrying twice is not possible: it is no longer dead.
    let (s, b) = t.post(&retry, owner, json!({})).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "retry a re-queued job",
    );

    // Audited.
    let audit = t.get_ok("/api/v1/audit?limit=100", owner).await;
    let entries: Vec<&Value> = audit["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .filter(|e| e["action"] == "job.retried")
        .collect();
    assert_eq!(entries.len(), 1, "one job.retried entry: {audit}");
    assert_eq!(entries[0]["target_kind"], "job");
    assert_eq!(entries[0]["target_id"], job);
    assert_eq!(entries[0]["actor_user_id"], admin.id);

    // It fails again and is dead again, after its second attempt.
    assert_eq!(
        t.app.run_due_jobs().await.expect("run jobs"),
        1,
        "only the retried job is due"
    );
    let dead = listed(&t, "?status=dead", owner).await;
    assert_eq!(ids(&dead["items"]), [job], "{dead}");
    assert_eq!(dead["items"][0]["attempts"], 2);
    assert_eq!(dead["items"][0]["max_attempts"], 2);
    assert!(
        dead["items"][0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("test.unknown")),
        "{dead}"
    );
    let stored = t.job(later).await;
    assert_eq!(
        (stored.status.as_str(), stored.attempts),
        ("queued", 0),
        "the job not yet due did not run"
    );

    // Pages: newest first, one at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("?limit=1&cursor={c}"),
            None => "?limit=1".to_string(),
        };
        let page = listed(&t, &path, owner).await;
        let got = ids(&page["items"]);
        assert!(got.len() <= 1, "limit=1 answered {page}");
        seen.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(seen.len() <= 2, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, [later, job]);
}
both!(dead_jobs_are_listed_and_retried);

async fn failed_jobs_back_off(t: TestApp) {
    let owner = t.token.as_str();
    let ws = t.workspace_id(owner).await;

    // A job with attempts to spare goes back to the queue, due later (10 s after the first
    // failure), and is not run again right away.
    let job = t
        .enqueue_job(ws, "test.flaky", citius_store::now_ms(), 3)
        .await;
    let before = citius_store::now_ms();
    assert_eq!(t.app.run_due_jobs().await.expect("run jobs"), 1);
    let after = citius_store::now_ms();
    let queued = listed(&t, "?status=queued", owner).await;
    assert_eq!(ids(&queued["items"]), [job], "{queued}");
    let j = queued["items"][0].clone();
    assert_eq!(j["attempts"], 1);
    assert_eq!(j["max_attempts"], 3);
    assert!(
        j["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("test.flaky")),
        "the failure is recorded: {j}"
    );
    let run_at = millis(&j["run_at"]);
    assert!(
        run_at >= before + 10_000 && run_at <= after + 10_000,
        "retried 10 s after the failure: run_at {run_at}, failed within [{before}, {after}]"
    );
    assert_eq!(listed(&t, "?status=dead", owner).await["items"], json!([]));

    assert_eq!(
        t.app.run_due_jobs().await.expect("run jobs"),
        0,
        "a backed-off job ran again at once"
    );
    assert_eq!(
        listed(&t, "?status=queued", owner).await["items"],
        json!([j]),
        "the job changed without running"
    );
    // It is not dead, so it cannot be retried by hand.
    let (s, b) = t
        .post(&format!("/api/v1/jobs/{job}/retry"), owner, json!({}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "retry a job waiting for its next attempt",
    );

    // A job being worked on is listed as running, and cannot be retried either.
    let busy = t
        .enqueue_job(ws, "test.busy", citius_store::now_ms(), 1)
        .await;
    let mut tx = t.app.db.begin().await.expect("begin");
    let claimed = citius_store::jobs::claim(&mut tx, t.app.db.backend(), 10, 60_000)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    assert_eq!(
        claimed.iter().map(|c| c.id).collect::<Vec<_>>(),
        [busy],
        "only the new job is due"
    );
    let running = listed(&t, "?status=running", owner).await;
    assert_eq!(ids(&running["items"]), [busy], "{running}");
    assert_eq!(running["items"][0]["attempts"], 1);
    let (s, b) = t
        .post(&format!("/api/v1/jobs/{busy}/retry"), owner, json!({}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "retry a running job",
    );
    // Its lease holds: the queue does not run it a second time meanwhile.
    assert_eq!(t.app.run_due_jobs().await.expect("run jobs"), 0);
    assert_eq!(ids(&listed(&t, "", owner).await["items"]), [busy, job]);
}
both!(failed_jobs_back_off);
