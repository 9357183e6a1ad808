//! Several `citius serve` processes on one PostgreSQL: events reach agents on every node, jobs
//! run once, and a node killed mid-write loses nothing it acknowledged.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use crate::kit;

struct Node {
    child: Child,
    base: String,
}

impl Node {
    async fn start(url: &str) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_citius"));
        for (k, _) in std::env::vars() {
            if k.starts_with("CITIUS_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .args([
                "serve",
                "--database-url",
                url,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("CITIUS_WORKER_POLL_MS", "200")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn citius serve");
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(reqwest::get(format!("{}/api/v1/health", node.base)).await, Ok(r) if r.status() == 200)
        {
            assert!(Instant::now() < deadline, "node did not become healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node
    }

    fn kill_hard(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no graceful anything.
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// A fresh database with workspace "acme"; returns its URL and the owner's token.
async fn cluster_database() -> (String, String) {
    let url = kit::fresh_postgres_database().await;
    let out = Command::new(env!("CARGO_BIN_EXE_citius"))
        .args([
            "setup",
            "--database-url",
            &url,
            "--workspace",
            "acme",
            "--email",
            "owner@acme.test",
            "--password",
            "owner-password-1",
        ])
        .output()
        .expect("citius setup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string();
    (url, token)
}

async fn post(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: Value,
) -> reqwest::Result<(u16, Value)> {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Reads an event stream until `needle` appears in it, or fails after `within`.
async fn stream_until(
    base: String,
    token: String,
    needle: String,
    within: Duration,
    ready: tokio::sync::oneshot::Sender<()>,
) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/events"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("open stream");
    assert_eq!(r.status(), 200);
    let _ = ready.send(());
    let mut body = r.bytes_stream();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while !seen.contains(&needle) {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => panic!("'{needle}' did not arrive within {within:?}; got: {seen}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_nodes_and_jobs_run_once() {
    kit::within_limit(async {
        let (url, token) = cluster_database().await;
        let a = Node::start(&url).await;
        let b = Node::start(&url).await;
        let client = reqwest::Client::new();

        // A conversation created on A reaches a stream on B, and a reply on B reaches A.
        let subject = kit::unique("cross-node ");
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let watch_b = tokio::spawn(stream_until(b.base.clone(), token.clone(), "\"kind\":\"created\"".into(), Duration::from_secs(10), ready_tx));
        ready_rx.await.unwrap();
        let (s, conv) = post(&client, format!("{}/api/v1/conversations", a.base), &token, json!({"customer": {"email": "x@example.com"}, "subject": subject, "body": "hi"})).await.unwrap();
        assert_eq!(s, 201, "{conv}");
        let cid = conv["id"].as_i64().unwrap();
        let seen = watch_b.await.unwrap();
        assert!(seen.contains(&format!("\"conversation_id\":{cid}")), "{seen}");

        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let watch_a = tokio::spawn(stream_until(a.base.clone(), token.clone(), "\"kind\":\"message_added\"".into(), Duration::from_secs(10), ready_tx));
        ready_rx.await.unwrap();
        let (s, _) = post(&client, format!("{}/api/v1/conversations/{cid}/messages", b.base), &token, json!({"body": "from B", "kind": "reply"})).await.unwrap();
        assert_eq!(s, 201);
        watch_a.await.unwrap();

        // Snooze wake-ups are jobs: with two workers polling, each runs exactly once.
        let mut ids = Vec::new();
        let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2)).to_string();
        for n in 0..12 {
            let (s, c) = post(&client, format!("{}/api/v1/conversations", if n % 2 == 0 { &a.base } else { &b.base }), &token,
                json!({"customer": {"email": format!("snooze{n}@example.com")}, "subject": format!("Snooze {n}"), "body": "later"})).await.unwrap();
            assert_eq!(s, 201);
            let id = c["id"].as_i64().unwrap();
            let r = client.patch(format!("{}/api/v1/conversations/{id}", a.base)).bearer_auth(&token)
                .json(&json!({"status": "snoozed", "snoozed_until": until})).send().await.unwrap();
            assert_eq!(r.status(), 200);
            ids.push(id);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for id in &ids {
            loop {
                let c: Value = client.get(format!("{}/api/v1/conversations/{id}", b.base)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
                if c["status"] == "open" {
                    break;
                }
                assert!(Instant::now() < deadline, "conversation {id} was not woken up: {c}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Give a duplicate run a chance to show up before counting.
        tokio::time::sleep(Duration::from_millis(600)).await;
        for id in &ids {
            let tl: Value = client.get(format!("{}/api/v1/conversations/{id}/timeline", a.base)).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
            let wakeups = tl["items"].as_array().unwrap().iter().filter(|i| i["data"]["reason"] == "snooze_ended").count();
            assert_eq!(wakeups, 1, "conversation {id} woke up {wakeups} times: {tl}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_loses_nothing_acknowledged() {
    kit::within_limit(async {
        let (url, token) = cluster_database().await;
        let mut a = Node::start(&url).await;
        let b = Node::start(&url).await;

        // A client writes to A as fast as it can; A is killed with SIGKILL in the middle.
        let base = a.base.clone();
        let tok = token.clone();
        let writer = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            for n in 0..100_000 {
                let body = json!({"customer": {"email": format!("k{n}@example.com")}, "subject": format!("Kill test {n}"), "body": "x"});
                match post(&client, format!("{base}/api/v1/conversations"), &tok, body).await {
                    Ok((201, c)) => acknowledged.push(c["id"].as_i64().unwrap()),
                    Ok((s, c)) => panic!("unexpected {s}: {c}"),
                    Err(_) => break, // the node is gone
                }
            }
            acknowledged
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        a.kill_hard();
        let acknowledged = writer.await.unwrap();
        assert!(acknowledged.len() > 5, "the writer should have had time to write: {}", acknowledged.len());

        // Node B serves everything A acknowledged, each once.
        let client = reqwest::Client::new();
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/api/v1/conversations?limit=100", b.base);
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = client.get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
            listed.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let mut unique = listed.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), listed.len(), "no conversation may be listed twice");
        let missing: Vec<_> = acknowledged.iter().filter(|id| !listed.contains(id)).collect();
        assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
        // At most the one request in flight at the kill may have committed unacknowledged.
        assert!(listed.len() <= acknowledged.len() + 1, "{} listed, {} acknowledged", listed.len(), acknowledged.len());

        let (s, _) = post(&client, format!("{}/api/v1/conversations", b.base), &token, json!({"customer": {"email": "after@example.com"}, "subject": "After", "body": "still here"})).await.unwrap();
        assert_eq!(s, 201, "the surviving node keeps serving");
    })
    .await;
}

/// SLA timers with two workers polling one database: every warning and breach is recorded
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_timers_fire_once_on_two_nodes() {
    kit::within_limit(async {
        let (url, token) = cluster_database().await;
        let a = Node::start(&url).await;
        let b = Node::start(&url).await;
        let db = citius_store::Db::connect(&citius_store::DbConfig::Url(url.clone()), 2).await.unwrap();
        let client = reqwest::Client::new();
        let (s, p) = post(&client, format!("{}/api/v1/sla/policies", a.base), &token,
            json!({"name": "Fast", "targets": {"first_response_secs": 600}, "warn_before_secs": 300})).await.unwrap();
        assert_eq!(s, 201, "{p}");
        let mut ids = Vec::new();
        for n in 0..8 {
            let base = if n % 2 == 0 { &a.base } else { &b.base };
            let (s, c) = post(&client, format!("{base}/api/v1/conversations"), &token,
                json!({"customer": {"email": format!("sla{n}@example.com")}, "subject": format!("SLA {n}"), "body": "help"})).await.unwrap();
            assert_eq!(s, 201, "{c}");
            ids.push(c["id"].as_i64().unwrap());
        }
        let get = |path: String| {
            let client = client.clone();
            let token = token.clone();
            async move { client.get(path).bearer_auth(&token).send().await.unwrap().json::<Value>().await.unwrap() }
        };
        // The clocks start on whichever node drains the outbox.
        let deadline = Instant::now() + Duration::from_secs(20);
        for id in &ids {
            while get(format!("{}/api/v1/conversations/{id}/sla", b.base)).await["policy_name"] != "Fast" {
                assert!(Instant::now() < deadline, "no SLA on conversation {id}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // Eleven minutes pass: both the warning and the breach are due on both nodes.
        for id in &ids {
            crate::sla::age_clocks(&db, *id, 660).await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for id in &ids {
            loop {
                let tl = get(format!("{}/api/v1/conversations/{id}/timeline", a.base)).await;
                if crate::sla::count_events(&tl, "sla_breached") > 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "conversation {id} never breached: {tl}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Make every timer due again and give both nodes time to run them twice.
        for id in &ids {
            crate::sla::age_clocks(&db, *id, 0).await;
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        for id in &ids {
            let tl = get(format!("{}/api/v1/conversations/{id}/timeline", b.base)).await;
            assert_eq!(crate::sla::count_events(&tl, "sla_breached"), 1, "conversation {id}: {tl}");
            assert_eq!(crate::sla::count_events(&tl, "sla_warning"), 1, "conversation {id}: {tl}");
        }
        db.close().await;
    })
    .await;
}
