//! Deleting a conversation and erasing a customer: everything that hangs off them goes (messages,
//! timeline, attachments, search), nothing else does; admins only, audited, within one workspace.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, both, id, ids, rfc3339_in};

/// Conversation and customer ids a search finds.
async fn hits(t: &TestApp, q: &str, token: &str) -> (Vec<i64>, Vec<i64>) {
    let body = t.get_ok(&format!("/api/v1/search?q={q}"), token).await;
    (ids(&body["conversations"]), ids(&body["customers"]))
}

/// Adds a message with one small attachment; returns the message.
async fn message_with_file(t: &TestApp, token: &str, conversation: i64, body: &str) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(format!("file of {body}"));
    t.post_created(
        &format!("/api/v1/conversations/{conversation}/messages"),
        token,
        json!({"body": body, "kind": "inbound", "attachments": [{"filename": "notes.txt", "content_type": "text/plain", "data_base64": data}]}),
    )
    .await
}

/// Every way to reach a conversation and what hangs off it must answer 404 `not_found`.
async fn assert_conversation_gone(
    t: &TestApp,
    token: &str,
    conversation: i64,
    attachments: &[i64],
) {
    let path = format!("/api/v1/conversations/{conversation}");
    let mut wrong = Vec::new();
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, path.clone(), None),
        (Method::GET, format!("{path}/messages"), None),
        (Method::GET, format!("{path}/timeline"), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"status": "resolved"})),
        ),
        (
            Method::POST,
            format!("{path}/messages"),
            Some(json!({"body": "anyone there?", "kind": "reply"})),
        ),
        (Method::DELETE, path.clone(), None),
    ];
    let downloads = attachments
        .iter()
        .map(|a| (Method::GET, format!("/api/v1/attachments/{a}"), None));
    for (method, p, body) in requests.into_iter().chain(downloads) {
        let (s, b) = t.call(method.clone(), &p, token, body.as_ref()).await;
        if s != StatusCode::NOT_FOUND || b["error"]["code"] != "not_found" {
            wrong.push(format!("{method} {p} -> {s} {b}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "deleted conversation {conversation} is still reachable:\n{}",
        wrong.join("\n")
    );
}

/// Looks under the API: rows still stored for deleted conversations, erased customers and their
/// attachments (message rows, events, tags, identities, notes, search documents). Each leftover
/// is reported as the query that found it and its count.
async fn leftovers(
    t: &TestApp,
    conversations: &[i64],
    customers: &[i64],
    attachments: &[i64],
) -> Vec<String> {
    let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let (search, doc_id) = match t.app.db.backend() {
        citius_store::Backend::Sqlite => ("search_fts", "rowid"),
        citius_store::Backend::Postgres => ("search_documents", "id"),
    };
    let mut queries = Vec::new();
    if !conversations.is_empty() {
        let l = list(conversations);
        queries.push(format!(
            "SELECT COUNT(*) FROM conversations WHERE id IN ({l})"
        ));
        for table in ["messages", "events", "conversation_tags", search] {
            queries.push(format!(
                "SELECT COUNT(*) FROM {table} WHERE conversation_id IN ({l})"
            ));
        }
        queries.push(format!(
            "SELECT COUNT(*) FROM {search} WHERE {doc_id} IN ({})",
            list(&conversations.iter().map(|c| c * 4).collect::<Vec<_>>())
        ));
    }
    if !customers.is_empty() {
        let l = list(customers);
        queries.push(format!(
            "SELECT COUNT(*) FROM customers WHERE id IN ({l}) OR merged_into_id IN ({l})"
        ));
        for table in ["customer_identities", "customer_notes", "conversations"] {
            queries.push(format!(
                "SELECT COUNT(*) FROM {table} WHERE customer_id IN ({l})"
            ));
        }
        queries.push(format!(
            "SELECT COUNT(*) FROM messages WHERE author_customer_id IN ({l})"
        ));
        // Customers' documents are keyed by the customer's id.
        let customer_docs = match t.app.db.backend() {
            citius_store::Backend::Sqlite => "customer_fts WHERE rowid",
            citius_store::Backend::Postgres => "customer_search_documents WHERE id",
        };
        queries.push(format!("SELECT COUNT(*) FROM {customer_docs} IN ({l})"));
    }
    if !attachments.is_empty() {
        queries.push(format!(
            "SELECT COUNT(*) FROM attachments WHERE id IN ({})",
            list(attachments)
        ));
    }
    let mut c = t.app.db.read().await.expect("read connection");
    let mut found = Vec::new();
    for sql in queries {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&mut *c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        if n != 0 {
            found.push(format!("{sql} -> {n}"));
        }
    }
    found
}

/// How many of these attachment contents are still stored.
async fn blobs(t: &TestApp, sha256: &[&str]) -> i64 {
    assert!(
        sha256
            .iter()
            .all(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())),
        "not SHA-256 digests: {sha256:?}"
    );
    let l = sha256
        .iter()
        .map(|h| format!("'{h}'"))
        .collect::<Vec<_>>()
        .join(",");
    let mut c = t.app.db.read().await.expect("read connection");
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM blobs WHERE sha256 IN ({l})"
    )))
    .fetch_one(&mut *c)
    .await
    .expect("count blobs")
}

/// The audit entries with `action`.
async fn audit_entries(t: &TestApp, action: &str) -> Vec<Value> {
    let audit = t.get_ok("/api/v1/audit?limit=100", &t.token).await;
    audit["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no audit items: {audit}"))
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

async fn delete_conversation(t: TestApp) {
    let owner = t.token.as_str();
    let admin = t.new_user("admin").await;
    let supervisor = t.user_token("supervisor").await;
    let agent = t.user_token("agent").await;

    let doomed = t
        .post_created(
            "/api/v1/conversations",
            owner,
            json!({"customer": {"email": "keeper@example.com", "name": "Keeper Person"}, "subject": "Quasarwidget refund", "body": "It broke", "tags": ["refunds"]}),
        )
        .await;
    let cid = id(&doomed);
    let customer = doomed["customer_id"].as_i64().expect("customer id");
    let m = message_with_file(&t, owner, cid, "The flamingotrack is scratched").await;
    let attachment = id(&m["attachments"][0]);
    let attachment_sha = m["attachments"][0]["sha256"]
        .as_str()
        .expect("sha256")
        .to_string();
    t.post_created(
        &format!("/api/v1/conversations/{cid}/messages"),
        owner,
        json!({"body": "Internal: refund approved", "kind": "note"}),
    )
    .await;
    // The same customer's other conversation stays.
    let kept = t
        .conversation(owner, "keeper@example.com", "Quasarwidget manual")
        .await;
    let kept_id = id(&kept);
    assert_eq!(kept["customer_id"], customer);
    let kept_message = message_with_file(&t, owner, kept_id, "Manual flamingotrack page").await;
    let kept_file = id(&kept_message["attachments"][0]);
    let kept_sha = kept_message["attachments"][0]["sha256"]
        .as_str()
        .expect("sha256")
        .to_string();
    let snapshot = t
        .get_ok(&format!("/api/v1/conversations/{cid}"), owner)
        .await;
    let mut both_ids = vec![cid, kept_id];
    both_ids.sort_unstable();
    let mut found = hits(&t, "quasarwidget", owner).await.0;
    found.sort_unstable();
    assert_eq!(found, both_ids, "both found before the deletion");

    // Agents and supervisors may not delete; another workspace cannot even see it.
    let path = format!("/api/v1/conversations/{cid}");
    for (role, token) in [
        ("agent", agent.as_str()),
        ("supervisor", supervisor.as_str()),
    ] {
        let (s, b) = t.delete(&path, token).await;
        assert_error(
            s,
            &b,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("{role} deletes a conversation"),
        );
    }
    let other = t.second_workspace().await;
    let (s, b) = t.delete(&path, &other).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "another workspace's owner deletes a conversation",
    );
    let (s, b) = t.delete("/api/v1/conversations/999999999", owner).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "delete a missing conversation",
    );
    assert_eq!(
        t.get_ok(&path, owner).await,
        snapshot,
        "refused deletions changed the conversation"
    );
    assert_eq!(
        t.get_ok(&format!("{path}/messages"), owner).await["items"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        t.send(t.request(
            Method::GET,
            &format!("/api/v1/attachments/{attachment}"),
            owner
        ))
        .await
        .status,
        StatusCode::OK
    );
    assert!(
        audit_entries(&t, "conversation.deleted").await.is_empty(),
        "a refused deletion was audited"
    );

    // An admin deletes it.
    let (s, b) = t.delete(&path, &admin.token).await;
    assert_eq!(
        s,
        StatusCode::NO_CONTENT,
        "admin deletes a conversation: {b}"
    );
    assert_eq!(b, Value::Null, "204 has no body");
    assert_conversation_gone(&t, owner, cid, &[attachment]).await;
    let left = leftovers(&t, &[cid], &[], &[attachment]).await;
    assert!(
        left.is_empty(),
        "the deleted conversation left rows behind:\n{}",
        left.join("\n")
    );
    // Its file's contents go at the next tidy-up; the other conversation's stay.
    t.app.tidy().await.expect("tidy");
    assert_eq!(
        blobs(&t, &[&attachment_sha]).await,
        0,
        "the deleted conversation's file is still stored"
    );
    assert_eq!(
        blobs(&t, &[&kept_sha]).await,
        1,
        "tidying lost a file still in use"
    );

    // Lists and search no longer find it, by its subject or by a word of a message.
    assert_eq!(t.conversation_ids("", owner).await, [kept_id]);
    assert_eq!(
        t.conversation_ids(&format!("customer_id={customer}"), owner)
            .await,
        [kept_id]
    );
    assert_eq!(
        t.conversation_ids("tag=refunds", owner).await,
        Vec::<i64>::new()
    );
    assert_eq!(hits(&t, "quasarwidget", owner).await.0, [kept_id]);
    assert_eq!(
        hits(&t, "quasarwidget%20refund", owner).await.0,
        Vec::<i64>::new()
    );
    assert_eq!(hits(&t, "scratched", owner).await.0, Vec::<i64>::new());
    assert_eq!(hits(&t, "flamingotrack", owner).await.0, [kept_id]);
    assert_eq!(hits(&t, "approved", owner).await.0, Vec::<i64>::new());

    // The customer and their other conversation remain, whole.
    let cust = t
        .get_ok(&format!("/api/v1/customers/{customer}"), owner)
        .await;
    assert_eq!(cust["name"], "Keeper Person");
    assert_eq!(
        cust["identities"],
        json!([{"kind": "email", "value": "keeper@example.com"}])
    );
    assert_eq!(hits(&t, "keeper", owner).await.1, [customer]);
    let k = t
        .get_ok(&format!("/api/v1/conversations/{kept_id}"), owner)
        .await;
    assert_eq!(k["message_count"], 2, "{k}");
    assert_eq!(
        t.send(t.request(
            Method::GET,
            &format!("/api/v1/attachments/{kept_file}"),
            owner
        ))
        .await
        .bytes,
        b"file of Manual flamingotrack page"
    );
    assert_eq!(
        t.conversation(owner, "keeper@example.com", "Still here")
            .await["customer_id"],
        customer
    );

    // Audited once, by the admin, with what was deleted.
    let entries = audit_entries(&t, "conversation.deleted").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["target_kind"], "conversation");
    assert_eq!(e["target_id"], cid);
    assert_eq!(e["actor_user_id"], admin.id);
    assert_eq!(e["data"]["customer_id"], customer);
    assert_eq!(e["data"]["messages"], 3);

    // A snoozed conversation that is deleted: its wake-up finds nothing to do and does not fail.
    let sleepy = t
        .conversation(owner, "sleepy@example.com", "Snoozed then deleted")
        .await;
    let sleepy_path = format!("/api/v1/conversations/{}", id(&sleepy));
    t.patch_ok(
        &sleepy_path,
        owner,
        json!({"status": "snoozed", "snoozed_until": rfc3339_in(600)}),
    )
    .await;
    let (s, b) = t.delete(&sleepy_path, owner).await;
    assert_eq!(
        s,
        StatusCode::NO_CONTENT,
        "owner deletes a snoozed conversation: {b}"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    t.app.run_due_jobs().await.expect("run jobs");
    let jobs = t.get_ok("/api/v1/jobs", owner).await;
    let unfinished: Vec<&Value> = jobs["items"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["status"] != "done")
        .collect();
    assert!(
        unfinished.is_empty(),
        "the wake-up of a deleted conversation did not finish cleanly: {jobs}"
    );
    assert_conversation_gone(&t, owner, id(&sleepy), &[]).await;
    let left = leftovers(&t, &[id(&sleepy)], &[], &[]).await;
    assert!(
        left.is_empty(),
        "the deleted snoozed conversation left rows behind:\n{}",
        left.join("\n")
    );
}
both!(delete_conversation);

async fn delete_customer(t: TestApp) {
    let owner = t.token.as_str();
    let admin = t.new_user("admin").await;
    let supervisor = t.user_token("supervisor").await;
    let agent = t.user_token("agent").await;

    // The customer to erase, with a conversation, a file and a note.
    let t1 = t
        .post_created(
            "/api/v1/conversations",
            owner,
            json!({"customer": {"email": "ursula@erase.test", "name": "Ursula Vantablack"}, "subject": "Gondolier booking", "body": "Please book"}),
        )
        .await;
    let target = t1["customer_id"].as_i64().expect("customer id");
    let m1 = message_with_file(&t, owner, id(&t1), "My marzipanic itinerary").await;
    let f1 = id(&m1["attachments"][0]);
    t.post_created(
        &format!("/api/v1/customers/{target}/notes"),
        owner,
        json!({"body": "Wants everything erased"}),
    )
    .await;

    // Two more of her identities, merged into her: a chain (x into s, then s into the target).
    let s1 = t
        .conversation(owner, "u.v@private.test", "Periwinkle question")
        .await;
    let s2 = t
        .conversation(owner, "u.v@private.test", "Periwinkle followup")
        .await;
    let source = s1["customer_id"].as_i64().expect("customer id");
    let m2 = message_with_file(&t, owner, id(&s2), "Scan of the periwinkle form").await;
    let f2 = id(&m2["attachments"][0]);
    let x1 = t
        .conversation(owner, "ursula.old@oldmail.test", "Tangerinequest")
        .await;
    let old = x1["customer_id"].as_i64().expect("customer id");
    t.post_created(
        &format!("/api/v1/customers/{old}/notes"),
        owner,
        json!({"body": "Old account"}),
    )
    .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/customers/{source}/merge"),
            owner,
            json!({"source_id": old}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "merge old into source: {b}");
    let (s, b) = t
        .post(
            &format!("/api/v1/customers/{target}/merge"),
            owner,
            json!({"source_id": source}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "merge source into target: {b}");
    let mut hers = vec![id(&t1), id(&s1), id(&s2), id(&x1)];
    hers.sort_unstable();
    let mut listed = t
        .conversation_ids(&format!("customer_id={target}"), owner)
        .await;
    listed.sort_unstable();
    assert_eq!(listed, hers, "all her conversations are the target's");

    // Someone else, with a look-alike subject, who must stay whole.
    let o1 = t
        .post_created(
            "/api/v1/conversations",
            owner,
            json!({"customer": {"email": "oscar@keep.test", "name": "Oscar Keep"}, "subject": "Gondolier question", "body": "Is the gondolier free?"}),
        )
        .await;
    let other_customer = o1["customer_id"].as_i64().expect("customer id");
    let mo = message_with_file(&t, owner, id(&o1), "Oscar's marzipanic list").await;
    let fo = id(&mo["attachments"][0]);
    let other_note = t
        .post_created(
            &format!("/api/v1/customers/{other_customer}/notes"),
            owner,
            json!({"body": "Keep me"}),
        )
        .await;
    let other_before = t
        .get_ok(&format!("/api/v1/customers/{other_customer}"), owner)
        .await;
    let o1_before = t
        .get_ok(&format!("/api/v1/conversations/{}", id(&o1)), owner)
        .await;
    let o1_timeline = t
        .get_ok(
            &format!("/api/v1/conversations/{}/timeline", id(&o1)),
            owner,
        )
        .await;

    // Refused: agents, supervisors, another workspace, a missing customer. Nothing changes.
    let path = format!("/api/v1/customers/{target}");
    for (role, token) in [
        ("agent", agent.as_str()),
        ("supervisor", supervisor.as_str()),
    ] {
        let (s, b) = t.delete(&path, token).await;
        assert_error(
            s,
            &b,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("{role} erases a customer"),
        );
    }
    let globex = t.second_workspace().await;
    let (s, b) = t.delete(&path, &globex).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "another workspace's owner erases a customer",
    );
    let (s, b) = t.delete("/api/v1/customers/999999999", owner).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "erase a missing customer",
    );
    let mut still = t
        .conversation_ids(&format!("customer_id={target}"), owner)
        .await;
    still.sort_unstable();
    assert_eq!(still, hers, "refused erasures deleted conversations");
    assert_eq!(t.get_ok(&path, owner).await["name"], "Ursula Vantablack");
    assert_eq!(hits(&t, "vantablack", owner).await.1, [target]);
    assert!(
        audit_entries(&t, "customer.deleted").await.is_empty(),
        "a refused erasure was audited"
    );

    // An admin erases her.
    let (s, b) = t.delete(&path, &admin.token).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "admin erases a customer: {b}");
    assert_eq!(b, Value::Null, "204 has no body");

    // She is gone, with the customers merged into her and every conversation of theirs.
    for c in [target, source, old] {
        for p in [
            format!("/api/v1/customers/{c}"),
            format!("/api/v1/customers/{c}/notes"),
        ] {
            let (s, b) = t.get(&p, owner).await;
            assert_error(
                s,
                &b,
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("GET {p} after the erasure"),
            );
        }
    }
    let (s, b) = t.patch(&path, owner, json!({"name": "Back again"})).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "update an erased customer",
    );
    let (s, b) = t.delete(&path, owner).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "erase an erased customer",
    );
    assert_conversation_gone(&t, owner, id(&t1), &[f1]).await;
    assert_conversation_gone(&t, owner, id(&s1), &[]).await;
    assert_conversation_gone(&t, owner, id(&s2), &[f2]).await;
    assert_conversation_gone(&t, owner, id(&x1), &[]).await;
    assert_eq!(t.conversation_ids("", owner).await, [id(&o1)]);
    let left = leftovers(&t, &hers, &[target, source, old], &[f1, f2]).await;
    assert!(
        left.is_empty(),
        "the erased customer left rows behind:\n{}",
        left.join("\n")
    );
    t.app.tidy().await.expect("tidy");
    let sha = |m: &Value| {
        m["attachments"][0]["sha256"]
            .as_str()
            .expect("sha256")
            .to_string()
    };
    assert_eq!(
        blobs(&t, &[&sha(&m1), &sha(&m2)]).await,
        0,
        "the erased customer's files are still stored"
    );
    assert_eq!(
        blobs(&t, &[&sha(&mo)]).await,
        1,
        "tidying lost the other customer's file"
    );
    assert_eq!(
        t.conversation_ids(&format!("customer_id={target}"), owner)
            .await,
        Vec::<i64>::new()
    );
    let customers = t.get_ok("/api/v1/customers?limit=100", owner).await;
    assert_eq!(ids(&customers["items"]), [other_customer], "{customers}");

    // Search finds neither her nor her conversations: by name, address, subject or message.
    for q in [
        "ursula",
        "vantablack",
        "erase.test",
        "private.test",
        "oldmail",
        "periwinkle",
        "tangerinequest",
        "itinerary",
        "scan",
    ] {
        assert_eq!(
            hits(&t, q, owner).await,
            (vec![], vec![]),
            "search {q:?} after the erasure"
        );
    }
    assert_eq!(hits(&t, "gondolier", owner).await, (vec![id(&o1)], vec![]));
    assert_eq!(hits(&t, "marzipanic", owner).await, (vec![id(&o1)], vec![]));
    assert_eq!(hits(&t, "oscar", owner).await.1, [other_customer]);

    // The other customer is untouched.
    assert_eq!(
        t.get_ok(&format!("/api/v1/customers/{other_customer}"), owner)
            .await,
        other_before
    );
    assert_eq!(
        t.get_ok(&format!("/api/v1/conversations/{}", id(&o1)), owner)
            .await,
        o1_before
    );
    assert_eq!(
        t.get_ok(
            &format!("/api/v1/conversations/{}/timeline", id(&o1)),
            owner
        )
        .await,
        o1_timeline
    );
    assert_eq!(
        ids(&t
            .get_ok(&format!("/api/v1/customers/{other_customer}/notes"), owner)
            .await["items"]),
        [id(&other_note)]
    );
    assert_eq!(
        t.send(t.request(Method::GET, &format!("/api/v1/attachments/{fo}"), owner))
            .await
            .bytes,
        b"file of Oscar's marzipanic list"
    );

    // Her addresses are free again: new mail from them makes a new customer.
    for email in [
        "ursula@erase.test",
        "u.v@private.test",
        "ursula.old@oldmail.test",
    ] {
        let c = t.conversation(owner, email, "Hello again").await;
        let new_customer = c["customer_id"].as_i64().expect("customer id");
        assert!(
            ![target, source, old, other_customer].contains(&new_customer),
            "{email} led to customer {new_customer}"
        );
        assert_eq!(
            t.get_ok(&format!("/api/v1/customers/{new_customer}"), owner)
                .await["identities"],
            json!([{"kind": "email", "value": email}])
        );
    }

    // Audited once, by the admin, naming the conversations that went with her.
    let entries = audit_entries(&t, "customer.deleted").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["target_kind"], "customer");
    assert_eq!(e["target_id"], target);
    assert_eq!(e["actor_user_id"], admin.id);
    let mut deleted = ids_of(&e["data"]["conversations_deleted"]);
    deleted.sort_unstable();
    assert_eq!(deleted, hers, "{e}");

    // A customer without conversations can be erased too.
    let lonely = t
        .post_created(
            "/api/v1/customers",
            owner,
            json!({"email": "lonely@example.com", "name": "Lonely"}),
        )
        .await;
    let (s, b) = t
        .delete(&format!("/api/v1/customers/{}", id(&lonely)), owner)
        .await;
    assert_eq!(
        s,
        StatusCode::NO_CONTENT,
        "erase a customer without conversations: {b}"
    );
    let (s, b) = t
        .get(&format!("/api/v1/customers/{}", id(&lonely)), owner)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "GET an erased customer without conversations",
    );
    assert_eq!(hits(&t, "lonely", owner).await, (vec![], vec![]));
}
both!(delete_customer);

/// A JSON array of integers.
fn ids_of(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_i64().unwrap_or_else(|| panic!("not an integer: {x}")))
        .collect()
}
