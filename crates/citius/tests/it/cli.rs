//! The `citius` command as operators use it: set-up prints a token, serve answers and stops
//! gracefully on SIGTERM, backups restore on either backend, bad configuration stops the start
//! with a clear message.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kit::{self, Backend};

fn citius() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_citius"));
    // The developer's own settings must not leak into these runs.
    for (k, _) in std::env::vars() {
        if k.starts_with("CITIUS_") {
            c.env_remove(k);
        }
    }
    c
}

/// `--data DIR` for SQLite, `--database-url URL` (a fresh database) for PostgreSQL.
async fn data_args(backend: Backend, dir: &std::path::Path, name: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => vec!["--data".into(), dir.join(name).display().to_string()],
        Backend::Postgres => vec![
            "--database-url".into(),
            kit::fresh_postgres_database().await,
        ],
    }
}

fn run_ok(args: &[String]) -> String {
    let out = citius().args(args).output().expect("run citius");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "citius {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(data: &[String]) -> Server {
        Self::start_with(data, &[]).await
    }

    async fn start_with(data: &[String], extra: &[String]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut args = vec![
            "serve".to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        args.extend_from_slice(data);
        args.extend_from_slice(extra);
        let child = citius()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn citius serve");
        let s = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/api/v1/health", s.base)).await
                && r.status() == 200
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "citius serve did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, and the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "citius did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn setup_serve_backup_restore(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = data_args(backend, dir.path(), "one").await;

    let mut args = vec![
        "setup".to_string(),
        "--workspace".into(),
        "northwind".into(),
        "--email".into(),
        "ops@northwind.test".into(),
        "--password".into(),
        "northwind-pass-1".into(),
    ];
    args.extend_from_slice(&data);
    let out = run_ok(&args);
    let token = out.lines().last().unwrap_or("").trim().to_string();
    assert!(
        token.starts_with("ctk_"),
        "the last line of setup must be the token alone: {out:?}"
    );

    let server = Server::start(&data).await;
    let (status, me) = call(
        reqwest::Method::GET,
        format!("{}/api/v1/me", server.base),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["workspace"]["slug"], "northwind");
    let (status, conv) = call(
        reqwest::Method::POST,
        format!("{}/api/v1/conversations", server.base),
        &token,
        Some(json!({"customer": {"email": "ann@example.com", "name": "Ann"}, "subject": "Backup me", "body": "Keep this safe"})),
    )
    .await;
    assert_eq!(status, 201, "{conv}");
    let conv_id = conv["id"].as_i64().unwrap();
    let status = server.stop();
    assert!(
        status.success(),
        "SIGTERM must stop citius cleanly, got {status}"
    );

    let file = dir.path().join("backup.jsonl");
    let mut args = vec![
        "backup".to_string(),
        "--out".into(),
        file.display().to_string(),
    ];
    args.extend_from_slice(&data);
    let out = run_ok(&args);
    assert!(out.contains("backed up"), "{out}");
    assert!(
        !dir.path().join("backup.partial").exists(),
        "no partial file may be left behind"
    );

    // Restore on the same kind of backend and on the other one.
    for target in [
        backend,
        if backend == Backend::Sqlite {
            Backend::Postgres
        } else {
            Backend::Sqlite
        },
    ] {
        let restored = data_args(target, dir.path(), &format!("restored-{target:?}")).await;
        let mut args = vec![
            "restore".to_string(),
            "--from".into(),
            file.display().to_string(),
        ];
        args.extend_from_slice(&restored);
        run_ok(&args);
        // A second restore into the same database is refused and changes nothing.
        let again = citius().args(&args).output().unwrap();
        assert!(
            !again.status.success(),
            "restoring into a database with data must fail"
        );
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("empty"),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );

        let server = Server::start(&restored).await;
        let (status, got) = call(
            reqwest::Method::GET,
            format!("{}/api/v1/conversations/{conv_id}", server.base),
            &token,
            None,
        )
        .await;
        assert_eq!(status, 200, "restored on {target:?}: {got}");
        assert_eq!(got["subject"], "Backup me");
        // Search is rebuilt, and new rows do not collide with restored ids.
        let (status, hits) = call(
            reqwest::Method::GET,
            format!("{}/api/v1/search?q=safe", server.base),
            &token,
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            hits["conversations"][0]["id"], conv_id,
            "search after restore on {target:?}: {hits}"
        );
        let (status, second) = call(
            reqwest::Method::POST,
            format!("{}/api/v1/conversations", server.base),
            &token,
            Some(json!({"customer": {"email": "bo@example.com"}, "subject": "After restore", "body": "New"})),
        )
        .await;
        assert_eq!(
            status, 201,
            "creating after restore on {target:?}: {second}"
        );
        assert!(second["id"].as_i64().unwrap() > conv_id);
        server.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_serve_backup_restore_sqlite() {
    kit::within_limit(setup_serve_backup_restore(Backend::Sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_serve_backup_restore_postgres() {
    kit::within_limit(setup_serve_backup_restore(Backend::Postgres)).await;
}

#[test]
fn bad_configuration_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d").display().to_string();
    // (environment, arguments, what the message must say)
    type Case<'a> = (Vec<(&'a str, String)>, Vec<String>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("CITIUS_LISTEN", "not-an-address".into())],
            vec!["migrate".into(), "--data".into(), data.clone()],
            "listen",
        ),
        (
            vec![("CITIUS_LOG_FORMAT", "xml".into())],
            vec!["migrate".into(), "--data".into(), data.clone()],
            "log_format",
        ),
        (
            vec![],
            vec![
                "--config".into(),
                dir.path().join("missing.toml").display().to_string(),
                "migrate".into(),
            ],
            "does not exist",
        ),
        (
            vec![],
            vec![
                "migrate".into(),
                "--database-url".into(),
                "mysql://x@y/z".into(),
            ],
            "postgres://",
        ),
    ];
    for (env, args, expected) in cases {
        let mut cmd = citius();
        cmd.args(&args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} {env:?} must fail");
        assert!(
            stderr.contains(expected),
            "{args:?} {env:?}: expected '{expected}' in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A typo in the file is named.
    let file = dir.path().join("citius.toml");
    std::fs::write(&file, "listn = \"127.0.0.1:1\"\n").unwrap();
    let out = citius()
        .args([
            "--config",
            &file.display().to_string(),
            "migrate",
            "--data",
            &data,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listn"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn default_config_is_a_valid_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("citius.toml");
    let out = citius().arg("default-config").output().unwrap();
    assert!(out.status.success());
    std::fs::write(&file, &out.stdout).unwrap();
    let data = dir.path().join("d").display().to_string();
    let out = citius()
        .args([
            "--config",
            &file.display().to_string(),
            "migrate",
            "--data",
            &data,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kill -9` of the server while a client sends mail in a loop: every message answered 250 is
/// stored, exactly once, and the inbox was made with `citius inbox create`.
async fn acknowledged_mail_survives_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = data_args(backend, dir.path(), "data").await;
    let mut setup = vec![
        "setup".to_string(),
        "--workspace".into(),
        "acme".into(),
        "--email".into(),
        "owner@acme.test".into(),
        "--password".into(),
        "owner-password-1".into(),
    ];
    setup.extend_from_slice(&data);
    run_ok(&setup);
    let mut create = vec![
        "inbox".to_string(),
        "create".into(),
        "--workspace".into(),
        "acme".into(),
        "--email".into(),
        "help@acme.test".into(),
    ];
    create.extend_from_slice(&data);
    let said = run_ok(&create);
    assert!(said.contains("receiving mail for help@acme.test"), "{said}");

    let smtp = crate::email::free_port();
    let server = Server::start_with(
        &data,
        &["--smtp-listen".into(), format!("127.0.0.1:{smtp}")],
    )
    .await;
    let sender = tokio::spawn(async move {
        let mut acked = Vec::new();
        for i in 0..100_000 {
            let raw = format!(
                "From: loop@customer.test\r\nTo: help@acme.test\r\nSubject: loop {i}\r\nMessage-ID: <k{i}@customer.test>\r\n\r\nmessage {i}\r\n"
            );
            match crate::email::send_raw(smtp, "loop@customer.test", &["help@acme.test"], &raw)
                .await
            {
                Ok(code) if code == "250" => acked.push(i),
                Ok(code) => panic!("unexpected answer {code}"),
                Err(_) => break,
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut server = server;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    let acked = sender.await.unwrap();
    assert!(
        acked.len() >= 5,
        "only {} messages were sent before the kill",
        acked.len()
    );

    let db_config = match backend {
        Backend::Sqlite => citius_store::DbConfig::SqliteDir(dir.path().join("data")),
        Backend::Postgres => citius_store::DbConfig::Url(data[1].clone()),
    };
    let db = citius_store::Db::connect(&db_config, 2).await.unwrap();
    let mut c = db.read().await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT rfc_message_id FROM email_messages")
        .fetch_all(&mut *c)
        .await
        .unwrap();
    for i in &acked {
        let id = format!("k{i}@customer.test");
        assert_eq!(
            rows.iter().filter(|r| **r == id).count(),
            1,
            "message {i} was answered 250 but is stored {} times",
            rows.iter().filter(|r| **r == id).count()
        );
    }
    // Nothing is stored twice, and at most the one message in flight at the kill beyond those acknowledged.
    let mut unique = rows.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), rows.len());
    assert!(
        rows.len() <= acked.len() + 1,
        "{} stored, {} acknowledged",
        rows.len(),
        acked.len()
    );
    println!(
        "kill -9: {} messages acknowledged, {} stored",
        acked.len(),
        rows.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_mail_survives_kill_9_sqlite() {
    kit::within_limit(acknowledged_mail_survives_kill_9(Backend::Sqlite)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_mail_survives_kill_9_postgres() {
    kit::within_limit(acknowledged_mail_survives_kill_9(Backend::Postgres)).await;
}
