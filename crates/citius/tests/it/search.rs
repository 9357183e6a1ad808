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

/// Newest matches first, whichever way the index is read: a rare word (every match, sorted), a
/// common word among the newest documents (read in id order), and a word common only long ago
/// (the index, sorted). Documents go in directly, with ids far enough apart to steer each path.
async fn search_orders_newest_first_on_every_path(t: TestApp) {
    use citius_store::search::{self, DocKind};
    let ws = t.workspace_id(&t.token).await;
    let backend = t.app.db.backend();
    let mut docs = Vec::new();
    let mut text = |kind: DocKind, ref_id: i64, conv: Option<i64>, body: &str| {
        docs.push((kind, ref_id, conv, body.to_string()));
    };
    for (i, m) in [10, 20, 30].into_iter().enumerate() {
        text(
            DocKind::Message,
            m,
            Some(1_000 + i as i64),
            "a quokka sighting",
        );
        text(DocKind::Customer, m, None, "Quokka Person");
    }
    for i in 0..120 {
        text(
            DocKind::Message,
            190_000 + i,
            Some(5_000 + i),
            "wombat news",
        );
        text(DocKind::Customer, 90_000 + i, None, "Wombat Person");
    }
    for i in 0..60 {
        text(DocKind::Message, 100 + i, Some(7_000 + i), "numbat of old");
        text(DocKind::Customer, 100 + i, None, "Numbat Person");
    }
    // The newest of each kind matches nothing asked for.
    text(DocKind::Message, 200_000, Some(9_000), "unrelated");
    text(DocKind::Customer, 100_100, None, "Unrelated Person");
    let mut tx = t.app.db.begin().await.expect("transaction");
    citius_store::bulk::insert_search_docs(&mut tx, backend, ws, &docs)
        .await
        .expect("documents");
    // Statistics as a database in use has them: on PostgreSQL they tell a common word from a
    // rare one, and so choose the path.
    citius_store::bulk::analyze(&mut tx, backend)
        .await
        .expect("analyze");
    tx.commit().await.expect("commit");

    let newest = |from: i64, n: i64| (0..n).map(|i| from - i).collect::<Vec<i64>>();
    let mut c = t.app.db.read().await.expect("connection");
    let quokka = search::query(&mut c, &t.app.db, ws, "quokka", 25)
        .await
        .expect("search");
    assert_eq!(quokka.conversation_ids, [1_002, 1_001, 1_000]);
    assert_eq!(quokka.customer_ids, [30, 20, 10]);
    let wombat = search::query(&mut c, &t.app.db, ws, "wombat", 25)
        .await
        .expect("search");
    assert_eq!(wombat.conversation_ids, newest(5_119, 25));
    assert_eq!(wombat.customer_ids, newest(90_119, 25));
    let numbat = search::query(&mut c, &t.app.db, ws, "numbat", 25)
        .await
        .expect("search");
    assert_eq!(numbat.conversation_ids, newest(7_059, 25));
    assert_eq!(numbat.customer_ids, newest(159, 25));
    // Prefixes take the same paths.
    let prefixed = search::query(&mut c, &t.app.db, ws, "numba", 25)
        .await
        .expect("search");
    assert_eq!(prefixed.conversation_ids, newest(7_059, 25));
    assert_eq!(prefixed.customer_ids, newest(159, 25));
}
both!(search_orders_newest_first_on_every_path);
