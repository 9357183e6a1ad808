//! Handoffs: warm and cold transfers with a required capsule, fallbacks on decline and timeout,
//! follow-ups that gate resolving, and the handoff report.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, assert_invalid, both, id, rfc3339_in};

fn capsule() -> Value {
    json!({
        "customer_wants": "A refund for order 7, which never arrived",
        "tried": "Checked tracking: lost in transit",
        "next_step": "Approve the refund in billing",
        "promises": [{"text": "Refund confirmed by Friday"}]
    })
}

fn event_kinds(timeline: &Value) -> Vec<String> {
    timeline["items"]
        .as_array()
        .expect("timeline items")
        .iter()
        .filter(|i| i["type"] == "event")
        .map(|i| i["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn warm_and_cold_transfers(t: TestApp) {
    let tok = t.token.as_str();
    let me = t.me(tok).await;
    let bea = t.new_user("agent").await;
    let carl = t.new_user("agent").await;
    let team = t
        .post_created(
            "/api/v1/teams",
            tok,
            json!({"name": "Billing", "member_ids": [bea.id]}),
        )
        .await;
    let team_id = id(&team);
    let conv = t
        .conversation(tok, "ann@example.com", "Parcel never came")
        .await;
    let cid = id(&conv);
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        tok,
        json!({"assignee_id": me}),
    )
    .await;
    let path = format!("/api/v1/conversations/{cid}/transfers");

    // A capsule is required, and must say what the customer wants and what comes next.
    let (s, b) = t.post(&path, tok, json!({"to_user_id": bea.id})).await;
    assert_invalid(s, &b, "capsule", "transfer without a capsule");
    let mut thin = capsule();
    thin["next_step"] = json!(" ");
    let (s, b) = t
        .post(&path, tok, json!({"to_user_id": bea.id, "capsule": thin}))
        .await;
    assert_invalid(s, &b, "capsule.next_step", "capsule without a next step");
    let (s, b) = t
        .post(&path, tok, json!({"to_user_id": me, "capsule": capsule()}))
        .await;
    assert_invalid(s, &b, "to_user_id", "transfer to the current holder");

    // The draft comes from the timeline.
    let draft = t
        .get_ok(&format!("/api/v1/conversations/{cid}/capsule-draft"), tok)
        .await;
    assert!(
        draft["customer_wants"]
            .as_str()
            .is_some_and(|w| !w.is_empty()),
        "{draft}"
    );

    // Warm offer, declined: the sender keeps the conversation.
    let offer = t
        .post_created(
            &path,
            tok,
            json!({"to_user_id": bea.id, "capsule": capsule(), "message_to_customer": "Bea from billing takes over; no need to repeat anything."}),
        )
        .await;
    assert_eq!(offer["state"], "offered");
    assert_eq!(offer["mode"], "warm");
    assert!(offer["expires_at"].is_string(), "{offer}");
    let oid = id(&offer);
    let (s, b) = t
        .post(
            &path,
            tok,
            json!({"to_user_id": carl.id, "capsule": capsule()}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "conflict", "second open offer");
    let offers = t.get_ok("/api/v1/transfers/offers", &bea.token).await;
    let mine = &offers["items"][0];
    assert_eq!(id(mine), oid);
    assert_eq!(
        mine["capsule"]["customer_wants"], "A refund for order 7, which never arrived",
        "the receiver sees the capsule first"
    );
    let (s, b) = t
        .post(
            &format!("/api/v1/transfers/{oid}/accept"),
            &carl.token,
            json!({}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::FORBIDDEN,
        "forbidden",
        "someone else accepts",
    );
    let declined = t
        .post_ok(
            &format!("/api/v1/transfers/{oid}/decline"),
            &bea.token,
            json!({"reason": "Not my queue"}),
        )
        .await;
    assert_eq!(declined["state"], "declined");
    assert_eq!(declined["decline_reason"], "Not my queue");
    let c = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(c["assignee_id"], me, "fallback sender: the sender keeps it");

    // Warm offer to the team, unanswered: on timeout it waits in the team's queue.
    let offer = t
        .post_created(
            &path,
            tok,
            json!({"to_team_id": team_id, "capsule": capsule(), "fallback": "queue", "timeout_secs": 30}),
        )
        .await;
    let oid2 = id(&offer);
    // Both offers' deadlines come: the declined one's timer finds nothing left to do.
    assert_eq!(t.make_due("transfer.timeout").await, 2);
    t.app.run_due_jobs().await.expect("run jobs");
    let expired = t.get_ok(&format!("/api/v1/transfers/{oid2}"), tok).await;
    assert_eq!(expired["state"], "expired");
    let c = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(c["assignee_id"], Value::Null, "fallback queue: unassigned");
    assert_eq!(c["team_id"], team_id, "fallback queue: in the team's queue");
    // The timeout ran once: running jobs again changes nothing.
    t.app.run_due_jobs().await.expect("run jobs");
    assert_eq!(
        t.get_ok(&format!("/api/v1/transfers/{oid2}"), tok).await["state"],
        "expired"
    );

    // Warm offer accepted by a team member: theirs, capsule on the timeline, customer told.
    let offer = t
        .post_created(
            &path,
            tok,
            json!({"to_team_id": team_id, "capsule": capsule(), "message_to_customer": "Bea here: I have the full story."}),
        )
        .await;
    let oid3 = id(&offer);
    let accepted = t
        .post_ok(
            &format!("/api/v1/transfers/{oid3}/accept"),
            &bea.token,
            json!({}),
        )
        .await;
    assert_eq!(accepted["state"], "accepted");
    assert_eq!(accepted["decided_by"], bea.id);
    let (s, _) = t
        .post(
            &format!("/api/v1/transfers/{oid3}/accept"),
            &bea.token,
            json!({}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an answered offer takes no answer"
    );
    let c = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(c["assignee_id"], bea.id);
    let timeline = t
        .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), &bea.token)
        .await;
    let kinds = event_kinds(&timeline);
    for k in [
        "transfer_offered",
        "transfer_declined",
        "transfer_expired",
        "transferred",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let handed = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|i| i["kind"] == "transferred")
        .expect("transferred event");
    assert_eq!(
        handed["data"]["capsule"]["next_step"],
        "Approve the refund in billing"
    );
    assert!(
        timeline["items"].as_array().unwrap().iter().any(|i| i["type"] == "message"
            && i["body_text"] == "Bea here: I have the full story."),
        "the customer was told who takes over"
    );

    // Cold transfer to the team: moves at once.
    let cold = t
        .post_created(
            &path,
            &bea.token,
            json!({"to_team_id": team_id, "mode": "cold", "capsule": capsule()}),
        )
        .await;
    assert_eq!(cold["state"], "accepted");
    let c = t.get_ok(&format!("/api/v1/conversations/{cid}"), tok).await;
    assert_eq!(c["assignee_id"], Value::Null);
    let all = t.get_ok(&path, tok).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);

    let report = t.get_ok("/api/v1/reports/handoffs?days=7", tok).await;
    assert_eq!(report["transfers"], 4, "{report}");
    assert_eq!(report["conversations_transferred"], 1, "{report}");
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["declined"], 1, "{report}");
    assert_eq!(report["expired"], 1, "{report}");
    assert_eq!(report["waiting"], 0, "{report}");
    assert!(report["mean_secs_to_accept"].is_number(), "{report}");
    let (s, b) = t.get("/api/v1/reports/handoffs?days=0", tok).await;
    assert_invalid(s, &b, "days", "report over zero days");

    // Another workspace sees none of it.
    let other = t.second_workspace().await;
    let (s, _) = t.get(&format!("/api/v1/transfers/{oid}"), &other).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t
        .post(
            &format!("/api/v1/transfers/{oid3}/cancel"),
            &other,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(warm_and_cold_transfers);

async fn follow_ups_gate_resolving(t: TestApp) {
    let tok = t.token.as_str();
    let conv = t
        .conversation(tok, "dan@example.com", "Where is my invoice")
        .await;
    let cid = id(&conv);
    let path = format!("/api/v1/conversations/{cid}/follow-ups");
    let (s, b) = t
        .post(&path, tok, json!({"kind": "promise", "text": " "}))
        .await;
    assert_invalid(s, &b, "text", "empty follow-up");
    let (s, b) = t
        .post(
            &path,
            tok,
            json!({"kind": "promise", "text": "x", "due_at": "friday"}),
        )
        .await;
    assert_invalid(s, &b, "due_at", "unparseable due time");

    let owed = t
        .post_created(
            &path,
            tok,
            json!({"kind": "update_customer", "text": "Tell Dan the invoice was resent"}),
        )
        .await;
    let promise = t
        .post_created(
            &path,
            tok,
            json!({"kind": "promise", "text": "Call back tomorrow", "due_at": rfc3339_in(3_600_000)}),
        )
        .await;
    assert_eq!(promise["overdue"], false);

    // Resolving waits for the update the customer is owed.
    let (s, b) = t
        .patch(
            &format!("/api/v1/conversations/{cid}"),
            tok,
            json!({"status": "resolved"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "conflict",
        "resolve with an update owed",
    );

    // The promise's time comes: an overdue alert on the timeline, once.
    assert_eq!(t.make_due("follow_up.due").await, 1);
    t.app.run_due_jobs().await.expect("run jobs");
    t.app.run_due_jobs().await.expect("run jobs");
    let timeline = t
        .get_ok(&format!("/api/v1/conversations/{cid}/timeline"), tok)
        .await;
    let due = event_kinds(&timeline)
        .iter()
        .filter(|k| *k == "follow_up_due")
        .count();
    assert_eq!(due, 1, "one overdue alert");

    // A reply is the update: it completes the task, and resolving goes through.
    t.post_created(
        &format!("/api/v1/conversations/{cid}/messages"),
        tok,
        json!({"body": "Dan, the invoice is on its way again.", "kind": "reply"}),
    )
    .await;
    let list = t.get_ok(&path, tok).await;
    let owed_now = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == owed["id"])
        .expect("owed follow-up");
    assert!(owed_now["done_at"].is_string(), "{owed_now}");
    let mine = t.get_ok("/api/v1/follow-ups", tok).await;
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == promise["id"]),
        "the open promise is on my list: {mine}"
    );
    let done = t
        .post_ok(
            &format!("/api/v1/follow-ups/{}/done", id(&promise)),
            tok,
            json!({}),
        )
        .await;
    assert!(done["done_at"].is_string());
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        tok,
        json!({"status": "resolved"}),
    )
    .await;
}
both!(follow_ups_gate_resolving);

/// Collision detection: who else is viewing or typing, fading when they leave or go quiet.
async fn who_else_is_here(t: TestApp) {
    let tok = t.token.as_str();
    let bea = t.new_user("agent").await;
    let conv = t.conversation(tok, "eve@example.com", "Two agents").await;
    let path = format!("/api/v1/conversations/{}/activity", id(&conv));

    let alone = t.post_ok(&path, tok, json!({"activity": "viewing"})).await;
    assert_eq!(alone["others"], json!([]), "nobody else yet");
    let seen = t
        .post_ok(&path, &bea.token, json!({"activity": "typing"}))
        .await;
    assert_eq!(seen["others"][0]["activity"], "viewing", "{seen}");
    let mine = t.get_ok(&path, tok).await;
    assert_eq!(mine["others"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["others"][0]["user_id"], bea.id);
    assert_eq!(mine["others"][0]["activity"], "typing");
    assert_eq!(mine["others"][0]["name"], "agent user");

    let (s, b) = t.post(&path, tok, json!({"activity": "dancing"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // Bea leaves: gone at once.
    let (s, _) = t
        .call(reqwest::Method::DELETE, &path, &bea.token, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.get_ok(&path, tok).await["others"], json!([]));

    // Bea comes back and goes quiet: her report expires.
    t.post_ok(&path, &bea.token, json!({"activity": "viewing"}))
        .await;
    let mut tx = t.app.db.begin().await.expect("begin");
    sqlx::query("UPDATE conversation_activity SET expires_at = $1 WHERE user_id = $2")
        .bind(citius_store::now_ms() - 1)
        .bind(bea.id)
        .execute(&mut *tx)
        .await
        .expect("expire");
    tx.commit().await.expect("commit");
    assert_eq!(t.get_ok(&path, tok).await["others"], json!([]));

    let other = t.second_workspace().await;
    let (s, _) = t.post(&path, &other, json!({"activity": "viewing"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
both!(who_else_is_here);
