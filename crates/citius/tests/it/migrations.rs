//! Migrations run down to nothing and back up again with real data in every table, on both
//! backends, and the API works on the rebuilt schema.

use base64::Engine;
use citius_store::Backend as StoreBackend;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row;

use crate::kit::{OWNER_EMAIL, OWNER_PASSWORD, TestApp, both, id, rfc3339_in};

/// The schema's own tables (not the migration bookkeeping, not SQLite's or FTS5's internals).
async fn tables(t: &TestApp) -> Vec<String> {
    let sql = match t.app.db.backend() {
        StoreBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name <> '_sqlx_migrations' AND name NOT LIKE 'search\\_fts\\_%' ESCAPE '\\' \
             AND name NOT LIKE 'customer\\_fts\\_%' ESCAPE '\\' ORDER BY name"
        }
        StoreBackend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_name <> '_sqlx_migrations' ORDER BY table_name"
        }
    };
    let mut c = t.app.db.read().await.expect("db connection");
    sqlx::query(sql)
        .fetch_all(&mut *c)
        .await
        .expect("list tables")
        .iter()
        .map(|r| r.try_get::<String, _>("name").expect("table name"))
        .collect()
}

/// Everything else the schema may leave behind: indexes, triggers, views, sequences.
async fn leftovers(t: &TestApp) -> Vec<String> {
    let sql = match t.app.db.backend() {
        StoreBackend::Sqlite => {
            "SELECT type || ' ' || name AS name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name <> '_sqlx_migrations' AND (tbl_name IS NULL OR tbl_name <> '_sqlx_migrations')"
        }
        StoreBackend::Postgres => {
            "SELECT CAST(c.relkind AS TEXT) || ' ' || CAST(c.relname AS TEXT) AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() \
             AND c.relname NOT LIKE '\\_sqlx\\_migrations%'"
        }
    };
    let mut c = t.app.db.read().await.expect("db connection");
    sqlx::query(sql)
        .fetch_all(&mut *c)
        .await
        .expect("list schema objects")
        .iter()
        .map(|r| r.try_get::<String, _>("name").expect("name"))
        .collect()
}

async fn row_count(t: &TestApp, table: &str) -> i64 {
    let mut c = t.app.db.read().await.expect("db connection");
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table}"
    )))
    .fetch_one(&mut *c)
    .await
    .unwrap_or_else(|e| panic!("count {table}: {e}"));
    row.try_get::<i64, _>("n").expect("count")
}

/// Uses every feature once, so every table holds rows.
async fn fill(t: &TestApp) {
    let owner = t.token.as_str();
    let agent = t.new_user("agent").await; // users, memberships, sessions, api_tokens
    let calendar = t
        .post_created(
            "/api/v1/calendars",
            owner,
            json!({"name": "Office", "time_zone": "Europe/Berlin",
                   "hours": [{"day": "monday", "open": "09:00", "close": "17:00"}]}),
        )
        .await;
    t.post_created(
        "/api/v1/sla/policies",
        owner,
        json!({"name": "Standard", "calendar_id": id(&calendar),
               "targets": {"first_response_secs": 3600, "resolution_secs": 86400}}),
    )
    .await;
    t.post_created(
        "/api/v1/macros",
        owner,
        json!({"name": "Thanks", "body": "Thanks {{ customer.first_name }}!"}),
    )
    .await;
    t.post_created(
        "/api/v1/automation/rules",
        owner,
        json!({"name": "Tag new", "trigger": "conversation_created",
               "actions": [{"type": "add_tags", "tags": ["new"]}]}),
    )
    .await;
    let team = t
        .post_created(
            "/api/v1/teams",
            owner,
            json!({"name": "Support", "member_ids": [agent.id]}),
        )
        .await;
    let skill = t
        .post_created("/api/v1/skills", owner, json!({"name": "German"}))
        .await;
    let (s, b) = t
        .put(
            &format!("/api/v1/users/{}/skills/{}", agent.id, id(&skill)),
            owner,
            json!({"level": 3}),
        )
        .await;
    assert!(s.is_success(), "set skill: {s} {b}");
    let inbox = t
        .post_created(
            "/api/v1/inboxes",
            owner,
            json!({"name": "Mail", "channel": "email", "address": "help@acme.test"}),
        )
        .await;
    let conv = t
        .send(
            t.request(Method::POST, "/api/v1/conversations", owner)
                .header("Idempotency-Key", "fill-1")
                .json(&json!({
                    "customer": {"email": "full@example.com", "phone": "+14155550123", "name": "Full"},
                    "subject": "Everything", "body": "Lots", "channel": "email", "inbox_id": id(&inbox),
                    "tags": ["complete"], "team_id": id(&team), "assignee_id": agent.id,
                    "custom_fields": {"order": "A-1"}
                })),
        )
        .await;
    assert_eq!(conv.status, StatusCode::CREATED, "{}", conv.body);
    let cid = id(&conv.body);
    let customer = conv.body["customer_id"].as_i64().expect("customer id");
    let data = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 fake");
    t.post_created(
        &format!("/api/v1/conversations/{cid}/messages"),
        owner,
        json!({"body": "Invoice", "kind": "reply", "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf", "data_base64": data}]}),
    )
    .await;
    t.post_created(
        &format!("/api/v1/customers/{customer}/notes"),
        owner,
        json!({"body": "Good customer"}),
    )
    .await;
    // Routing, presence, transfers and follow-ups.
    let (s, b) = t
        .put(
            &format!("/api/v1/inboxes/{}/routing", id(&inbox)),
            owner,
            json!({"strategy": "skills", "team_id": id(&team),
                   "skill_rules": [{"when": {"field": "language", "equals": "de"}, "skill_id": id(&skill), "min_level": 2}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "routing policy: {b}");
    let (s, b) = t
        .put(
            "/api/v1/presence",
            &agent.token,
            json!({"presence": "busy"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "presence: {b}");
    let (s, b) = t
        .put(
            &format!("/api/v1/users/{}/schedule", agent.id),
            owner,
            json!({"calendar_id": id(&calendar)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "schedule: {b}");
    t.post_created(
        &format!("/api/v1/conversations/{cid}/transfers"),
        &agent.token,
        json!({"to_team_id": id(&team), "mode": "cold",
               "capsule": {"customer_wants": "Everything", "next_step": "Reply"}}),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/conversations/{cid}/activity"),
            owner,
            json!({"activity": "viewing"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "activity: {b}");
    // A webhook endpoint whose host never resolves (.invalid): the events so far become
    // messages with one failed attempt each; later events wait in the outbox.
    t.post_created(
        "/api/v1/webhooks",
        owner,
        json!({"url": "https://hooks.example.invalid/in", "event_types": ["*"]}),
    )
    .await;
    t.app.run_due_jobs().await.expect("run jobs");
    t.post_created(
        &format!("/api/v1/conversations/{cid}/follow-ups"),
        owner,
        json!({"kind": "promise", "text": "Call back", "due_at": rfc3339_in(86_400_000)}),
    )
    .await;
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        owner,
        json!({"status": "snoozed", "snoozed_until": rfc3339_in(3_600_000)}),
    )
    .await;
    // A merged customer references another row of its own table.
    let dup = t
        .conversation(owner, "full.dup@example.com", "Duplicate")
        .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/customers/{customer}/merge"),
            owner,
            json!({"source_id": dup["customer_id"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "merge: {b}");
    t.post_created("/api/v1/tags", owner, json!({"name": "unused"}))
        .await;
    // Mail received over SMTP (or IMAP) into the email inbox.
    let target = t.app.mail_target("help@acme.test").await.unwrap().unwrap();
    t.app
        .receive_mail(
            &[target],
            b"From: mail@customer.test\r\nSubject: By mail\r\nMessage-ID: <m1@customer.test>\r\n\r\nHello\r\n".to_vec(),
            citius_app::email::MailSource::Smtp,
            None,
        )
        .await
        .unwrap();
    // The inbox also reads an IMAP mailbox.
    let (s, b) = t
        .put(
            &format!("/api/v1/inboxes/{}/imap", id(&inbox)),
            owner,
            json!({"host": "imap.acme.test", "username": "help", "password": "pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "imap: {b}");
    // A phone inbox with its provider account, a text and a call.
    let phone = t
        .post_created(
            "/api/v1/inboxes",
            owner,
            json!({"name": "Phone", "channel": "voice", "address": "+14155550197"}),
        )
        .await;
    let sms = t
        .post_created(
            "/api/v1/inboxes",
            owner,
            json!({"name": "SMS", "channel": "sms", "address": "+14155550199"}),
        )
        .await;
    for inbox in [&phone, &sms] {
        let (s, b) = t
            .put(
                &format!("/api/v1/inboxes/{}/provider", id(inbox)),
                owner,
                json!({"account_sid": "AC1", "auth_token": "tok"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "provider: {b}");
    }
    let fields = |pairs: &[(&str, &str)]| {
        citius_domain::telephony::Fields::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    };
    let text = citius_domain::telephony::InboundText::parse(&fields(&[
        ("MessageSid", "SM1"),
        ("From", "+14155550100"),
        ("To", "+14155550199"),
        ("Body", "Hi"),
    ]))
    .unwrap();
    t.app.receive_text(id(&sms), text).await.unwrap();
    let call = citius_domain::telephony::CallUpdate::parse(&fields(&[
        ("CallSid", "CA1"),
        ("From", "+14155550100"),
        ("To", "+14155550197"),
        ("CallStatus", "ringing"),
    ]))
    .unwrap();
    t.app.call_update(id(&phone), call).await.unwrap();
    // A chat widget with a visitor who wrote.
    let chat = t
        .post_created(
            "/api/v1/inboxes",
            owner,
            json!({"name": "Chat", "channel": "chat"}),
        )
        .await;
    let widget = t
        .put(
            &format!("/api/v1/inboxes/{}/widget", id(&chat)),
            owner,
            json!({}),
        )
        .await
        .1;
    let session = t
        .app
        .start_visitor(widget["key"].as_str().unwrap(), None)
        .await
        .unwrap();
    let (visitor, _) = t.app.visitor(&session.token).await.unwrap();
    t.app.visitor_send(&visitor, "Hello", None).await.unwrap();
    // The visitor claims an email another customer holds; a pair is marked as different people.
    t.app
        .visitor_identify(
            &visitor,
            citius_domain::chat::VisitorDetails {
                name: None,
                email: "full@example.com".into(),
            },
        )
        .await
        .unwrap();
    let suggestions = t.get_ok("/api/v1/customers/merge-suggestions", owner).await;
    let pair = &suggestions["items"][0];
    let (s, b) = t
        .post(
            &format!(
                "/api/v1/customers/{}/duplicates/{}/dismiss",
                pair["customer_id"], pair["other_id"]
            ),
            owner,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "dismiss: {b}");
    t.post_created(
        "/api/v1/views",
        owner,
        json!({"name": "Chats", "filters": {"channel": "chat"}}),
    )
    .await;
    // A note mentioning a colleague.
    let colleague = t.new_user("agent").await;
    let handle = colleague.email.split('@').next().unwrap().to_string();
    t.post_created(
        &format!("/api/v1/conversations/{cid}/messages"),
        owner,
        json!({"body": format!("@{handle} look"), "kind": "note"}),
    )
    .await;
}

async fn migrations_round_trip(t: TestApp) {
    fill(&t).await;
    let before = tables(&t).await;
    assert!(
        before.len() >= 20,
        "expected the full schema, found {before:?}"
    );
    let mut empty = Vec::new();
    for table in &before {
        if row_count(&t, table).await == 0 {
            empty.push(table.clone());
        }
    }
    assert!(
        empty.is_empty(),
        "the fixture left tables empty, so the round trip would not be tested with data: {empty:?}"
    );

    // All the way down: nothing of the schema is left.
    t.app
        .db
        .migrate_down(0)
        .await
        .expect("migrate down to 0 with data in every table");
    assert_eq!(
        tables(&t).await,
        Vec::<String>::new(),
        "tables left after migrating down"
    );
    assert_eq!(
        leftovers(&t).await,
        Vec::<String>::new(),
        "schema objects left after migrating down"
    );

    // And up again: the same tables, empty, and a working API.
    t.app.db.migrate().await.expect("migrate up again");
    assert_eq!(tables(&t).await, before, "the rebuilt schema differs");
    for table in &before {
        assert_eq!(
            row_count(&t, table).await,
            0,
            "{table} is not empty after rebuilding"
        );
    }
    let (s, _) = t.get("/api/v1/me", &t.token).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the old token died with the data"
    );
    assert_eq!(t.get("/api/v1/health", "").await.0, StatusCode::OK);

    let (_, token) = t
        .app
        .setup("acme", None, OWNER_EMAIL, OWNER_PASSWORD)
        .await
        .expect("set up again");
    let c = t
        .conversation(&token, "again@example.com", "Second life")
        .await;
    let got = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&c)), &token)
        .await;
    assert_eq!(got["subject"], "Second life");
    let hits = t.get_ok("/api/v1/search?q=second", &token).await;
    assert_eq!(
        hits["conversations"][0]["id"],
        id(&c),
        "search works on the rebuilt schema: {hits}"
    );
    t.login(OWNER_EMAIL, OWNER_PASSWORD).await;
}
both!(migrations_round_trip);
