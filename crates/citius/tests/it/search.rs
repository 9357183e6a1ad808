//! Search: word prefixes in subjects, message bodies and customers, within one workspace only.

use serde_json::{Value, json};

use crate::kit::{TestApp, both, id, ids};

async fn hits(t: &TestApp, q: &str, token: &str) -> (Vec<i64>, Vec<i64>) {
    let body = t.get_ok(&format!("/api/v1/search?q={q}"), token).await;
    let list = |key: &str| -> Vec<i64> {
        let v: &Value = &body[key];
        assert!(v.is_array(), "search answer without {key}: {body}");
        ids(v)
    };
    (list("conversations"), list("customers"))
}

async fn search_finds_within_workspace(t: TestApp) {
    let a = t.token.as_str();
    let plain = t
        .conversation(a, "plain@example.com", "Shipping question")
        .await;
    let target = t
        .post_created(
            "/api/v1/conversations",
            a,
            json!({"customer": {"email": "parcel-fan@shopmail.test", "name": "Quintessa Marlowe"}, "subject": "Order status", "body": "Where is my parcel?"}),
        )
        .await;
    let cid = id(&target);
    let customer = target["customer_id"].as_i64().expect("customer id");
    // The distinctive word arrives in a later message, not in the subject.
    t.post_created(
        &format!("/api/v1/conversations/{cid}/messages"),
        a,
        json!({"body": "The zebraphone arrived broken.", "kind": "inbound"}),
    )
    .await;

    // Workspace B has look-alike data; it must never show up in A (nor A's in B).
    let b = t.second_workspace().await;
    let b_conv = t
        .post_created(
            "/api/v1/conversations",
            &b,
            json!({"customer": {"email": "quintessa@globex.test", "name": "Quintessa Other"}, "subject": "zebraphone order", "body": "zebraphone"}),
        )
        .await;
    let b_cid = id(&b_conv);
    let b_customer = b_conv["customer_id"].as_i64().expect("customer id");

    // A word of a message body, whole or as a prefix, in any case.
    for q in ["zebraphone", "zebra", "ZEBRAPH", "broken%20zebra"] {
        let (convs, _) = hits(&t, q, a).await;
        assert_eq!(convs, [cid], "search {q:?} in A");
    }
    // Subjects and a customer's name or email.
    assert_eq!(hits(&t, "shipping", a).await.0, [id(&plain)]);
    for q in ["quintessa", "quint", "marlowe", "quintessa%20marl"] {
        let (_, customers) = hits(&t, q, a).await;
        assert_eq!(customers, [customer], "search {q:?} for the customer in A");
    }
    // By email address, whole or by its domain.
    for q in ["parcel-fan%40shopmail.test", "shopmail", "parcel-fan"] {
        let (_, customers) = hits(&t, q, a).await;
        assert_eq!(
            customers,
            [customer],
            "search {q:?} for the customer's email in A"
        );
    }
    // Every word must match.
    assert_eq!(hits(&t, "zebraphone%20shipping", a).await, (vec![], vec![]));
    // Nothing, and query syntax, find nothing without errors.
    assert_eq!(hits(&t, "nonexistentword", a).await, (vec![], vec![]));
    assert_eq!(
        hits(&t, "%22*%3A%26%7C!()", a).await,
        (vec![], vec![]),
        "query syntax is not interpreted"
    );

    // B sees only its own.
    assert_eq!(hits(&t, "zebraphone", &b).await, (vec![b_cid], vec![]));
    assert_eq!(hits(&t, "quintessa", &b).await.1, [b_customer]);
    assert_eq!(hits(&t, "marlowe", &b).await, (vec![], vec![]));

    // Renaming a customer re-indexes them.
    t.patch_ok(
        &format!("/api/v1/customers/{customer}"),
        a,
        json!({"name": "Quintessa Featherstone"}),
    )
    .await;
    assert_eq!(hits(&t, "featherst", a).await.1, [customer]);
    assert_eq!(hits(&t, "marlowe", a).await.1, Vec::<i64>::new());
    // A changed subject too.
    t.patch_ok(
        &format!("/api/v1/conversations/{cid}"),
        a,
        json!({"subject": "Xylophonic delivery"}),
    )
    .await;
    assert_eq!(hits(&t, "xylophonic", a).await.0, [cid]);
}
both!(search_finds_within_workspace);
