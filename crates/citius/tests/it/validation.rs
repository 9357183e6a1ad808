//! Bad input is refused with the error shape, names the field at fault, and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, assert_invalid, both, id};

fn new_conversation() -> Value {
    json!({"customer": {"email": "val@example.com", "name": "Val"}, "subject": "Valid", "body": "Valid body"})
}

/// `new_conversation()` with `key` set to `value`, or removed when `value` is null.
fn with(key: &str, value: Value) -> Value {
    let mut b = new_conversation();
    if value.is_null() {
        b.as_object_mut().expect("object").remove(key);
    } else {
        b[key] = value;
    }
    b
}

/// Asserts a refused unknown field: a 4xx with the error shape, code `invalid` or
/// `bad_request`, and a message naming the field.
#[track_caller]
fn assert_unknown_field(status: StatusCode, body: &Value, field: &str, what: &str) {
    assert!(
        status.is_client_error(),
        "{what}: want 4xx, got {status}: {body}"
    );
    let code = body["error"]["code"].as_str().unwrap_or("");
    assert!(
        code == "invalid" || code == "bad_request",
        "{what}: code {code:?} in {body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(field),
        "{what}: the message should name {field}: {body}"
    );
}

async fn counts(t: &TestApp) -> (usize, usize, usize) {
    let conversations = t.conversation_ids("", &t.token).await.len();
    let customers = t.get_ok("/api/v1/customers?limit=100", &t.token).await["items"]
        .as_array()
        .map_or(0, Vec::len);
    let users = t.get_ok("/api/v1/users", &t.token).await["items"]
        .as_array()
        .map_or(0, Vec::len);
    (conversations, customers, users)
}

async fn bad_input_is_refused(t: TestApp) {
    let tok = t.token.as_str();
    let existing = t.conversation(tok, "first@example.com", "Existing").await;
    let cid = id(&existing);
    let before = counts(&t).await;
    let post = |body: Value| t.post("/api/v1/conversations", tok, body);

    // Field rules from the domain: 422 `invalid` naming the field.
    let (s, b) = post(with("subject", json!(""))).await;
    assert_invalid(s, &b, "subject", "empty subject");
    let (s, b) = post(with("subject", json!("   "))).await;
    assert_invalid(s, &b, "subject", "blank subject");
    let (s, b) = post(with("subject", json!("x".repeat(501)))).await;
    assert_invalid(s, &b, "subject", "subject over 500 characters");
    let (s, b) = post(with("body", json!("y".repeat(100_001)))).await;
    assert_invalid(s, &b, "body", "body over 100k characters");
    let (s, b) = post(with("body", json!(" \n "))).await;
    assert_invalid(s, &b, "body", "blank body");
    let (s, b) = post(with(
        "customer",
        json!({"email": "not-an-email", "name": "X"}),
    ))
    .await;
    assert_invalid(s, &b, "email", "bad email");
    let (s, b) = post(with("customer", json!({"phone": "12345"}))).await;
    assert_invalid(s, &b, "phone", "bad phone");
    let (s, b) = post(with("customer", json!({"name": "Nobody"}))).await;
    assert_invalid(s, &b, "customer", "customer without any identity");
    let (s, b) = post(with("tags", json!(["two words"]))).await;
    assert_invalid(s, &b, "tags", "bad tag");
    let (s, b) = post(with("custom_fields", json!({"nested": {"no": 1}}))).await;
    assert_invalid(s, &b, "custom_fields", "nested custom field");
    let (s, b) = post(with("assignee_id", json!(999_999_999))).await;
    assert_invalid(s, &b, "assignee_id", "unknown assignee");
    let (s, b) = post(with("inbox_id", json!(999_999_999))).await;
    assert_invalid(s, &b, "inbox_id", "unknown inbox");

    // Values outside an enum, wrong types, missing fields: 4xx with the error shape.
    for (what, body) in [
        ("unknown channel", with("channel", json!("fax"))),
        ("unknown priority", with("priority", json!("whenever"))),
        ("subject as a number", with("subject", json!(42))),
        ("no subject", with("subject", Value::Null)),
    ] {
        let (s, b) = post(body).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{what}: {s} {b}"
        );
        let code = b["error"]["code"].as_str().unwrap_or("");
        assert!(code == "invalid" || code == "bad_request", "{what}: {b}");
    }

    // Fields the API does not know are refused, never silently dropped (mass assignment).
    let (s, b) = post(with("workspace_id", json!(2))).await;
    assert_unknown_field(s, &b, "workspace_id", "workspace_id in POST /conversations");
    let (s, b) = post(with("role", json!("owner"))).await;
    assert_unknown_field(s, &b, "role", "role in POST /conversations");
    let (s, b) = t
        .post(
            "/api/v1/users",
            tok,
            json!({"email": "x@acme.test", "name": "X", "role": "agent", "password": "long-password-1", "workspace_id": 2}),
        )
        .await;
    assert_unknown_field(s, &b, "workspace_id", "workspace_id in POST /users");
    let (s, b) = t
        .post("/api/v1/users", tok, json!({"email": "x@acme.test", "name": "X", "role": "agent", "password": "long-password-1", "is_owner": true}))
        .await;
    assert_unknown_field(s, &b, "is_owner", "is_owner in POST /users");
    let (s, b) = t
        .post(
            "/api/v1/users",
            tok,
            json!({"email": "x@acme.test", "name": "X", "role": "root"}),
        )
        .await;
    assert!(
        s.is_client_error() && b["error"]["code"].is_string(),
        "unknown role: {s} {b}"
    );
    let (s, b) = t
        .post(
            "/api/v1/users",
            tok,
            json!({"email": "x@acme.test", "name": "X", "role": "agent", "password": "short"}),
        )
        .await;
    assert_invalid(s, &b, "password", "short password");
    let (s, b) = t
        .patch(
            &format!("/api/v1/conversations/{cid}"),
            tok,
            json!({"customer_id": 1}),
        )
        .await;
    assert_unknown_field(
        s,
        &b,
        "customer_id",
        "customer_id in PATCH /conversations/{id}",
    );

    // PATCH rules.
    let path = format!("/api/v1/conversations/{cid}");
    let (s, b) = t.patch(&path, tok, json!({"status": "bogus"})).await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
        "unknown status: {s} {b}"
    );
    assert!(
        b["error"]["code"] == "invalid" || b["error"]["code"] == "bad_request",
        "unknown status: {b}"
    );
    let (s, b) = t.patch(&path, tok, json!({"status": "snoozed"})).await;
    assert_invalid(s, &b, "snoozed_until", "snoozing without a time");
    let (s, b) = t.patch(&path, tok, json!({"subject": ""})).await;
    assert_invalid(s, &b, "subject", "PATCH empty subject");

    // Query strings.
    for q in ["limit=0", "limit=101"] {
        let (s, b) = t.get(&format!("/api/v1/conversations?{q}"), tok).await;
        assert_invalid(s, &b, "limit", q);
        let (s, b) = t.get(&format!("/api/v1/customers?{q}"), tok).await;
        assert_invalid(s, &b, "limit", &format!("customers {q}"));
    }
    let (s, b) = t.get("/api/v1/conversations?status=bogus", tok).await;
    assert_invalid(s, &b, "status", "status=bogus");
    let (s, b) = t.get("/api/v1/conversations?limit=abc", tok).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_request", "limit=abc");
    assert_eq!(
        t.get("/api/v1/conversations?limit=100", tok).await.0,
        StatusCode::OK,
        "limit=100 is allowed"
    );
    assert_eq!(
        t.get("/api/v1/conversations?limit=1", tok).await.0,
        StatusCode::OK,
        "limit=1 is allowed"
    );
    let (s, b) = t.get("/api/v1/conversations/not-a-number", tok).await;
    assert!(
        s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND,
        "non-numeric id: {s} {b}"
    );
    assert!(b["error"]["code"].is_string(), "non-numeric id: {b}");

    // Bodies that are not JSON, not declared as JSON, or too large.
    let raw = |ct: &'static str, body: Vec<u8>| {
        t.send(
            t.request_alone(Method::POST, "/api/v1/conversations", tok)
                .header("Content-Type", ct)
                .body(body),
        )
    };
    let r = raw(
        "application/json",
        br#"{"customer": {"email": "a@b.co"}, "subject": "#.to_vec(),
    )
    .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "truncated JSON",
    );
    let r = raw("application/json", b"not json at all".to_vec()).await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "not JSON",
    );
    let r = raw(
        "text/plain",
        serde_json::to_vec(&new_conversation()).expect("json"),
    )
    .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "text/plain body",
    );
    let r = t
        .send(
            t.request(Method::POST, "/api/v1/conversations", tok)
                .body(serde_json::to_vec(&new_conversation()).expect("json")),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "body without Content-Type",
    );
    let huge = with("body", json!("z".repeat(1024 * 1024 + 10)));
    let r = raw("application/json", serde_json::to_vec(&huge).expect("json")).await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "body over 1 MiB",
    );
    let huge_patch = json!({"subject": "s".repeat(1024 * 1024 + 10)});
    let r = t
        .send(t.request_alone(Method::PATCH, &path, tok).json(&huge_patch))
        .await;
    let (s, b) = (r.status, r.body);
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "PATCH body over 1 MiB",
    );

    // Unknown API routes answer the JSON error shape too.
    let (s, b) = t.get("/api/v1/no-such-thing", tok).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", "unknown route");

    // None of the refused requests changed anything.
    assert_eq!(
        counts(&t).await,
        before,
        "(conversations, customers, users) after refused requests"
    );
    let after = t.get_ok(&path, tok).await;
    assert_eq!(after["subject"], "Existing");
    assert_eq!(after["status"], "open");
    assert_eq!(after["message_count"], 1);
}
both!(bad_input_is_refused);
