//! Workspaces are sealed from each other: another workspace's ids behave exactly like ids that
//! do not exist (404), whatever the route or method, and nothing changes.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{TestApp, both, id, ids};

async fn workspaces_are_isolated(t: TestApp) {
    let a = t.token.as_str();

    // Workspace A ("acme"): one of everything.
    let conv = t
        .post_created(
            "/api/v1/conversations",
            a,
            json!({"customer": {"email": "secret@acme-customer.test", "name": "Secret Customer"}, "subject": "Confidential", "body": "Top secret", "tags": ["private"]}),
        )
        .await;
    let conv_id = id(&conv);
    let cust_id = conv["customer_id"].as_i64().expect("customer id");
    let data = base64::engine::general_purpose::STANDARD.encode(b"secret bytes");
    let msg = t
        .post_created(
            &format!("/api/v1/conversations/{conv_id}/messages"),
            a,
            json!({"body": "See attached", "attachments": [{"filename": "secret.txt", "content_type": "text/plain", "data_base64": data}]}),
        )
        .await;
    let attachment_id = id(&msg["attachments"][0]);
    let agent = t.new_user("agent").await;
    let team = t
        .post_created(
            "/api/v1/teams",
            a,
            json!({"name": "Secret team", "member_ids": [agent.id]}),
        )
        .await;
    let team_id = id(&team);
    let tag_id = id(&t
        .post_created("/api/v1/tags", a, json!({"name": "acme-only"}))
        .await);
    let skill_id = id(&t
        .post_created("/api/v1/skills", a, json!({"name": "Acme skill"}))
        .await);
    let inbox = t
        .post_created(
            "/api/v1/inboxes",
            a,
            json!({"name": "Acme support", "channel": "email", "address": "support@acme.test"}),
        )
        .await;
    let inbox_id = id(&inbox);
    let token = t
        .post_created("/api/v1/tokens", a, json!({"name": "acme integration"}))
        .await;
    let token_id = id(&token["api_token"]);
    let acme_token = token["token"].as_str().expect("token").to_string();
    let note_id = id(&t
        .post_created(
            &format!("/api/v1/customers/{cust_id}/notes"),
            a,
            json!({"body": "VIP, be nice"}),
        )
        .await);
    let user_id = agent.id;
    let owner_id = t.me(a).await;
    t.patch_ok(
        &format!("/api/v1/conversations/{conv_id}"),
        a,
        json!({"assignee_id": user_id, "team_id": team_id}),
    )
    .await;
    let snapshot = t
        .get_ok(&format!("/api/v1/conversations/{conv_id}"), a)
        .await;
    let dead_job = t
        .dead_job(t.workspace_id(a).await, "acme-only.report")
        .await;

    // Workspace B ("globex") with its own data, to aim at A's ids from B's resources.
    let b = t.second_workspace().await;
    let b = b.as_str();
    let b_conv = t
        .conversation(b, "someone@globex-customer.test", "Globex business")
        .await;
    let b_cust = b_conv["customer_id"].as_i64().expect("customer id");
    let b_user = t.me(b).await;
    let b_skill = id(&t
        .post_created("/api/v1/skills", b, json!({"name": "Globex skill"}))
        .await);

    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/v1/conversations/{conv_id}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{conv_id}"),
            Some(json!({"status": "resolved"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{conv_id}"),
            Some(json!({"assignee_id": null})),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{conv_id}/messages"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conv_id}/messages"),
            Some(json!({"body": "hi", "kind": "reply"})),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conv_id}/messages"),
            Some(json!({"body": "hi", "kind": "note"})),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{conv_id}/timeline"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/attachments/{attachment_id}"),
            None,
        ),
        (Method::GET, format!("/api/v1/customers/{cust_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/customers/{cust_id}"),
            Some(json!({"name": "Hacked"})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{cust_id}/identities"),
            Some(json!({"kind": "email", "value": "attacker@evil.test"})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{cust_id}/split"),
            Some(json!({"kind": "email", "value": "secret@acme-customer.test"})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{cust_id}/merge"),
            Some(json!({"source_id": b_cust})),
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{b_cust}/merge"),
            Some(json!({"source_id": cust_id})),
        ),
        (
            Method::GET,
            format!("/api/v1/customers/{cust_id}/notes"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/customers/{cust_id}/notes"),
            Some(json!({"body": "planted"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/customers/{cust_id}/notes/{note_id}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/customers/{b_cust}/notes/{note_id}"),
            None,
        ),
        (Method::GET, format!("/api/v1/users/{user_id}"), None),
        (Method::GET, format!("/api/v1/users/{owner_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{user_id}"),
            Some(json!({"role": "viewer"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user_id}"),
            Some(json!({"password": "taken-over-password"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{owner_id}"),
            Some(json!({"role": "viewer"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{user_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/users/{user_id}/skills/{skill_id}"),
            Some(json!({"level": 3})),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{b_user}/skills/{skill_id}"),
            Some(json!({"level": 3})),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{user_id}/skills/{b_skill}"),
            Some(json!({"level": 3})),
        ),
        (Method::GET, format!("/api/v1/teams/{team_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/teams/{team_id}"),
            Some(json!({"name": "Renamed"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/teams/{team_id}"),
            Some(json!({"name": "Renamed", "member_ids": [b_user]})),
        ),
        (Method::DELETE, format!("/api/v1/teams/{team_id}"), None),
        (Method::DELETE, format!("/api/v1/tags/{tag_id}"), None),
        (Method::DELETE, format!("/api/v1/tokens/{token_id}"), None),
        (Method::POST, format!("/api/v1/jobs/{dead_job}/retry"), None),
        (
            Method::DELETE,
            format!("/api/v1/conversations/{conv_id}"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/customers/{cust_id}"), None),
    ];
    let mut leaks = Vec::new();
    for (method, path, body) in &cases {
        let (status, resp) = t.call(method.clone(), path, b, body.as_ref()).await;
        if status != StatusCode::NOT_FOUND || resp["error"]["code"] != "not_found" {
            leaks.push(format!("{method} {path} -> {status} {resp}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {} cross-workspace requests did not answer 404 not_found:\n{}",
        leaks.len(),
        cases.len(),
        leaks.join("\n")
    );

    // A's ids given as references in B's own requests are unknown there too (never accepted).
    let refs: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json!({"customer": {"email": "x@globex.test"}, "subject": "s", "body": "b", "assignee_id": user_id}),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json!({"customer": {"email": "x@globex.test"}, "subject": "s", "body": "b", "team_id": team_id}),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            json!({"customer": {"email": "x@globex.test"}, "subject": "s", "body": "b", "inbox_id": inbox_id}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{}", id(&b_conv)),
            json!({"assignee_id": user_id}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{}", id(&b_conv)),
            json!({"team_id": team_id}),
        ),
        (
            Method::POST,
            "/api/v1/teams".into(),
            json!({"name": "Globex team", "member_ids": [user_id]}),
        ),
    ];
    let mut accepted = Vec::new();
    for (method, path, body) in &refs {
        let (status, resp) = t.call(method.clone(), path, b, Some(body)).await;
        let refused = matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
        ) && resp["error"]["code"].is_string();
        if !refused {
            accepted.push(format!("{method} {path} {body} -> {status} {resp}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "B's requests referencing A's ids were not refused:\n{}",
        accepted.join("\n")
    );

    // Lists and search in B never show A's data, even when filtered by A's ids.
    for q in [
        format!("customer_id={cust_id}"),
        format!("assignee={user_id}"),
        format!("team_id={team_id}"),
        format!("inbox_id={inbox_id}"),
        "tag=private".to_string(),
    ] {
        let found = t.conversation_ids(&q, b).await;
        assert!(found.is_empty(), "B's list with {q} shows {found:?}");
    }
    let all_b = t.conversation_ids("", b).await;
    assert!(!all_b.contains(&conv_id), "B lists A's conversation");
    let lists = [
        "/api/v1/customers?limit=100",
        "/api/v1/users",
        "/api/v1/teams",
        "/api/v1/tags",
        "/api/v1/skills",
        "/api/v1/inboxes",
        "/api/v1/tokens",
        "/api/v1/audit",
        "/api/v1/jobs",
    ];
    for path in lists {
        let body = t.get_ok(path, b).await;
        let text = body.to_string();
        for secret in [
            "Secret",
            "secret@acme",
            "acme-only",
            "Acme skill",
            "Acme support",
            "acme integration",
            &agent.email,
        ] {
            assert!(
                !text.contains(secret),
                "GET {path} in B shows {secret:?}: {body}"
            );
        }
    }
    assert_eq!(
        t.get_ok("/api/v1/jobs", b).await["items"],
        json!([]),
        "B lists A's jobs"
    );
    let hits = t.get_ok("/api/v1/search?q=secret", b).await;
    assert_eq!(hits["conversations"], json!([]), "{hits}");
    assert_eq!(hits["customers"], json!([]), "{hits}");

    // Nothing in A changed, and A's credentials still work.
    let now = t
        .get_ok(&format!("/api/v1/conversations/{conv_id}"), a)
        .await;
    assert_eq!(now, snapshot, "A's conversation changed");
    let messages = t
        .get_ok(&format!("/api/v1/conversations/{conv_id}/messages"), a)
        .await;
    assert_eq!(messages["items"].as_array().map(Vec::len), Some(2));
    let cust = t.get_ok(&format!("/api/v1/customers/{cust_id}"), a).await;
    assert_eq!(cust["name"], "Secret Customer");
    assert_eq!(
        cust["identities"],
        json!([{"kind": "email", "value": "secret@acme-customer.test"}])
    );
    assert_eq!(cust["merged_into_id"], Value::Null);
    let notes = t
        .get_ok(&format!("/api/v1/customers/{cust_id}/notes"), a)
        .await;
    assert_eq!(ids(&notes["items"]), [note_id]);
    let team = t.get_ok(&format!("/api/v1/teams/{team_id}"), a).await;
    assert_eq!(team["name"], "Secret team");
    assert_eq!(team["member_ids"], json!([user_id]));
    let user = t.get_ok(&format!("/api/v1/users/{user_id}"), a).await;
    assert_eq!(user["role"], "agent");
    assert_eq!(
        t.get_ok(&format!("/api/v1/users/{owner_id}"), a).await["role"],
        "owner"
    );
    let tags = t.get_ok("/api/v1/tags", a).await;
    assert!(
        ids(&tags["items"]).contains(&tag_id),
        "A's tag is gone: {tags}"
    );
    assert_eq!(
        t.get("/api/v1/me", &acme_token).await.0,
        StatusCode::OK,
        "A's token was revoked from B"
    );
    assert_eq!(
        t.get("/api/v1/me", &agent.token).await.0,
        StatusCode::OK,
        "A's agent lost access"
    );
    let file = t
        .send(t.request(
            Method::GET,
            &format!("/api/v1/attachments/{attachment_id}"),
            a,
        ))
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.bytes, b"secret bytes");
    let job = t.job(dead_job).await;
    assert_eq!(
        (job.status.as_str(), job.attempts, job.max_attempts),
        ("dead", 1, 1),
        "A's dead job was retried from B"
    );
    // The agent's password was not changed from B.
    t.login(&agent.email, crate::kit::USER_PASSWORD).await;
}
both!(workspaces_are_isolated);
