//! Customers: one person across identities; merging duplicates and splitting wrong matches;
//! notes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::kit::{TestApp, assert_error, assert_invalid, both, id, ids};

fn emails(customer: &Value) -> Vec<String> {
    let mut out: Vec<String> = customer["identities"]
        .as_array()
        .unwrap_or_else(|| panic!("no identities in {customer}"))
        .iter()
        .filter(|i| i["kind"] == "email")
        .map(|i| i["value"].as_str().unwrap_or("?").to_string())
        .collect();
    out.sort();
    out
}

async fn merge_and_split(t: TestApp) {
    let owner = t.token.as_str();
    let supervisor = t.user_token("supervisor").await;
    let agent = t.user_token("agent").await;

    let c1 = t.conversation(owner, "ann@example.com", "From work").await;
    let target = c1["customer_id"].as_i64().expect("customer id");
    let c2 = t
        .conversation(owner, "ann.private@example.net", "From home")
        .await;
    let c3 = t
        .conversation(owner, "ann.private@example.net", "From home again")
        .await;
    let source = c2["customer_id"].as_i64().expect("customer id");
    assert_ne!(source, target);
    assert_eq!(c3["customer_id"], source);
    let note = t
        .post_created(
            &format!("/api/v1/customers/{source}/notes"),
            owner,
            json!({"body": "Home address changed"}),
        )
        .await;

    // Agents may not merge; a customer cannot absorb itself.
    let merge_path = format!("/api/v1/customers/{target}/merge");
    let (s, b) = t
        .post(&merge_path, &agent, json!({"source_id": source}))
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden", "agent merges");
    let (s, b) = t
        .post(&merge_path, &supervisor, json!({"source_id": target}))
        .await;
    assert_invalid(s, &b, "source_id", "merge into itself");
    let (s, b) = t
        .post(&merge_path, &supervisor, json!({"source_id": 999_999_999}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "merge a missing customer",
    );

    let (s, merged) = t
        .post(&merge_path, &supervisor, json!({"source_id": source}))
        .await;
    assert_eq!(s, StatusCode::OK, "{merged}");
    assert_eq!(id(&merged), target);
    assert_eq!(
        emails(&merged),
        ["ann.private@example.net", "ann@example.com"],
        "the target holds both identities: {merged}"
    );
    assert_eq!(merged["merged_into_id"], Value::Null);

    // The source's conversations now belong to the target, with a timeline entry.
    for c in [&c2, &c3] {
        let now = t
            .get_ok(&format!("/api/v1/conversations/{}", id(c)), owner)
            .await;
        assert_eq!(now["customer_id"], target, "conversation moved: {now}");
        let timeline = t
            .get_ok(&format!("/api/v1/conversations/{}/timeline", id(c)), owner)
            .await;
        let ev = timeline["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["kind"] == "customer_merged")
            .unwrap_or_else(|| panic!("no customer_merged event: {timeline}"))
            .clone();
        assert_eq!(ev["data"]["from_customer_id"], source);
        assert_eq!(ev["data"]["to_customer_id"], target);
    }
    let mut all = t
        .conversation_ids(&format!("customer_id={target}"), owner)
        .await;
    all.sort_unstable();
    let mut want = vec![id(&c1), id(&c2), id(&c3)];
    want.sort_unstable();
    assert_eq!(all, want);
    assert_eq!(
        t.conversation_ids(&format!("customer_id={source}"), owner)
            .await,
        Vec::<i64>::new()
    );

    // Notes follow too.
    let notes = t
        .get_ok(&format!("/api/v1/customers/{target}/notes"), owner)
        .await;
    assert_eq!(
        ids(&notes["items"]),
        [id(&note)],
        "the source's note moved: {notes}"
    );

    // The source stays, marked as merged, without identities of its own.
    let src = t
        .get_ok(&format!("/api/v1/customers/{source}"), owner)
        .await;
    assert_eq!(src["merged_into_id"], target, "{src}");
    assert_eq!(emails(&src), Vec::<String>::new(), "{src}");
    // New mail from the source's address reaches the target.
    let c4 = t
        .conversation(owner, "ann.private@example.net", "Later")
        .await;
    assert_eq!(c4["customer_id"], target);
    // A merged customer cannot be merged again.
    let (s, b) = t
        .post(&merge_path, &supervisor, json!({"source_id": source}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "conflict",
        "merge an already merged customer",
    );

    // Audited.
    let audit = t.get_ok("/api/v1/audit?limit=100", owner).await;
    let entry = audit["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .find(|e| e["action"] == "customer.merged")
        .unwrap_or_else(|| panic!("no customer.merged in {audit}"))
        .clone();
    assert_eq!(entry["target_id"], target);
    assert_eq!(entry["data"]["source_id"], source);

    // Split the private address off again: a new customer holding it.
    let split_path = format!("/api/v1/customers/{target}/split");
    let (s, b) = t
        .post(
            &split_path,
            &agent,
            json!({"kind": "email", "value": "ann.private@example.net"}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden", "agent splits");
    let (s, b) = t
        .post(
            &split_path,
            &supervisor,
            json!({"kind": "email", "value": "not-held@example.com"}),
        )
        .await;
    assert!(
        s == StatusCode::NOT_FOUND || s == StatusCode::UNPROCESSABLE_ENTITY,
        "split an identity the customer lacks: {s} {b}"
    );
    let (s, new) = t
        .post(
            &split_path,
            &supervisor,
            json!({"kind": "email", "value": "Ann.Private@example.net"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{new}");
    let new_id = id(&new);
    assert_ne!(new_id, target);
    assert_eq!(emails(&new), ["ann.private@example.net"]);
    assert_eq!(
        emails(
            &t.get_ok(&format!("/api/v1/customers/{target}"), owner)
                .await
        ),
        ["ann@example.com"]
    );
    let c5 = t
        .conversation(owner, "ann.private@example.net", "After the split")
        .await;
    assert_eq!(
        c5["customer_id"], new_id,
        "the split identity now leads to the new customer"
    );
    let actions: Vec<Value> = t.get_ok("/api/v1/audit?limit=100", owner).await["items"]
        .as_array()
        .expect("items")
        .clone();
    assert!(
        actions.iter().any(|e| e["action"] == "customer.split"),
        "no customer.split in the audit log"
    );
}
both!(merge_and_split);

async fn customer_records(t: TestApp) {
    let tok = t.token.as_str();
    let c = t
        .post_created("/api/v1/customers", tok, json!({"email": "Dora@Example.com", "name": "Dora", "attributes": {"plan": "pro", "seats": 3}}))
        .await;
    let cid = id(&c);
    assert_eq!(c["name"], "Dora");
    assert_eq!(c["attributes"], json!({"plan": "pro", "seats": 3}));
    assert_eq!(
        c["identities"],
        json!([{"kind": "email", "value": "dora@example.com"}])
    );
    assert_eq!(t.get_ok(&format!("/api/v1/customers/{cid}"), tok).await, c);
    let listed = t.get_ok("/api/v1/customers", tok).await;
    assert!(ids(&listed["items"]).contains(&cid), "{listed}");
    assert!(
        listed.get("next_cursor").is_some(),
        "lists carry next_cursor: {listed}"
    );

    // Update name and attributes.
    let u = t
        .patch_ok(
            &format!("/api/v1/customers/{cid}"),
            tok,
            json!({"name": "Dora D.", "attributes": {"plan": "team"}}),
        )
        .await;
    assert_eq!(u["name"], "Dora D.");
    assert_eq!(u["attributes"], json!({"plan": "team"}));
    let (s, b) = t
        .patch(
            &format!("/api/v1/customers/{cid}"),
            tok,
            json!({"attributes": {"deep": {"x": 1}}}),
        )
        .await;
    assert_invalid(s, &b, "attributes", "nested attributes");

    // Identities: add one; one held by another customer is a conflict.
    let (s, with_phone) = t
        .post(
            &format!("/api/v1/customers/{cid}/identities"),
            tok,
            json!({"kind": "phone", "value": "+44 20 7946 0958"}),
        )
        .await;
    assert!(s.is_success(), "{s} {with_phone}");
    assert!(
        with_phone["identities"]
            .as_array()
            .expect("identities")
            .iter()
            .any(|i| i["kind"] == "phone" && i["value"] == "+442079460958"),
        "{with_phone}"
    );
    let other = t
        .post_created(
            "/api/v1/customers",
            tok,
            json!({"email": "eve@example.com"}),
        )
        .await;
    let (s, b) = t
        .post(
            &format!("/api/v1/customers/{}/identities", id(&other)),
            tok,
            json!({"kind": "email", "value": "dora@example.com"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "conflict",
        "identity held by another customer",
    );
    let (s, b) = t
        .post(
            &format!("/api/v1/customers/{cid}/identities"),
            tok,
            json!({"kind": "phone", "value": "call me"}),
        )
        .await;
    assert_invalid(s, &b, "phone", "bad phone identity");

    // Notes: add, list newest first, delete.
    let notes = format!("/api/v1/customers/{cid}/notes");
    let n1 = t
        .post_created(&notes, tok, json!({"body": "Prefers email"}))
        .await;
    let n2 = t
        .post_created(&notes, tok, json!({"body": "Renewal in March"}))
        .await;
    assert_eq!(n1["customer_id"], cid);
    assert_eq!(n1["body"], "Prefers email");
    assert_eq!(n1["author_user_id"], t.me(tok).await);
    let listed = t.get_ok(&notes, tok).await;
    assert_eq!(ids(&listed["items"]), [id(&n2), id(&n1)]);
    let (s, b) = t.post(&notes, tok, json!({"body": ""})).await;
    assert_invalid(s, &b, "body", "empty note");
    let (s, b) = t.delete(&format!("{notes}/{}", id(&n1)), tok).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(ids(&t.get_ok(&notes, tok).await["items"]), [id(&n2)]);
    let (s, b) = t.delete(&format!("{notes}/{}", id(&n1)), tok).await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "delete a deleted note",
    );
    // A note is deleted only through its own customer.
    let (s, b) = t
        .delete(
            &format!("/api/v1/customers/{}/notes/{}", id(&other), id(&n2)),
            tok,
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "delete a note through another customer",
    );
    assert_eq!(ids(&t.get_ok(&notes, tok).await["items"]), [id(&n2)]);
}
both!(customer_records);
