//! Macros: a shared macro fills its placeholders, replies and changes fields in one step (and
//! the reply is the update the customer was owed); personal macros stay their owner's; shared
//! ones are for administrators; bad placeholders are refused when saved.

use reqwest::StatusCode;
use serde_json::json;

use crate::kit::{TestApp, assert_error, assert_invalid, both, id};

async fn shared_and_personal_macros(t: TestApp) {
    let tok = t.token.as_str();
    let refund = t
        .post_created(
            "/api/v1/macros",
            tok,
            json!({"name": "Refund sent", "body": "Hi {{ customer.first_name | default: \"there\" }}, refund for #{{ conversation.id }} is on its way. {{ agent.first_name }}",
                   "actions": [{"type": "set_status", "status": "resolved"}, {"type": "add_tags", "tags": ["refund"]}]}),
        )
        .await;
    let conv = t
        .post_created(
            "/api/v1/conversations",
            tok,
            json!({"customer": {"email": "ada@example.com", "name": "Ada Lovelace"}, "subject": "Refund", "body": "Where is my money?"}),
        )
        .await;
    let cid = id(&conv);
    // An update is owed: without the macro's reply, resolving would be refused.
    t.post_created(
        &format!("/api/v1/conversations/{cid}/follow-ups"),
        tok,
        json!({"kind": "update_customer", "text": "Confirm the refund"}),
    )
    .await;

    let applied = t
        .post_ok(
            &format!("/api/v1/conversations/{cid}/macros/{}", id(&refund)),
            tok,
            json!({}),
        )
        .await;
    assert_eq!(applied["status"], "resolved", "{applied}");
    assert_eq!(applied["tags"], json!(["refund"]));
    let messages = t
        .get_ok(&format!("/api/v1/conversations/{cid}/messages"), tok)
        .await;
    let last = messages["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "reply");
    assert_eq!(
        last["body_text"],
        format!("Hi Ada, refund for #{cid} is on its way. owner"),
        "{last}"
    );

    // Personal macros: the owner's only. Shared ones: administrators only.
    let agent = t.new_user("agent").await;
    let (status, body) = t
        .post(
            "/api/v1/macros",
            &agent.token,
            json!({"name": "Team note", "body": "x"}),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "an agent shares a macro",
    );
    let mine = t
        .post_created(
            "/api/v1/macros",
            &agent.token,
            json!({"name": "My hello", "personal": true, "body": "Hello!", "text_kind": "note"}),
        )
        .await;
    let theirs = t.get_ok("/api/v1/macros", &agent.token).await;
    assert_eq!(
        theirs["items"].as_array().unwrap().len(),
        2,
        "shared plus own: {theirs}"
    );
    let owners = t.get_ok("/api/v1/macros", tok).await;
    assert_eq!(
        owners["items"].as_array().unwrap().len(),
        1,
        "not someone else's personal macro: {owners}"
    );
    let (status, _) = t
        .post(
            &format!("/api/v1/conversations/{cid}/macros/{}", id(&mine)),
            tok,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t
        .delete(&format!("/api/v1/macros/{}", id(&refund)), &agent.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = t
        .post(
            "/api/v1/macros",
            tok,
            json!({"name": "Leaky", "body": "Your password is {{ customer.password }}"}),
        )
        .await;
    assert_invalid(status, &body, "body", "unknown placeholder");
}

both!(shared_and_personal_macros);
