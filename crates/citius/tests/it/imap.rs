//! Email inboxes reading a mailbox on a real IMAP server (Dovecot, started per test on a free
//! port with its own configuration and maildir).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use citius_app::AppConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::email::free_port;
use crate::kit::{self, Backend, TestApp, id};

const DOVECOT: &str = "/usr/sbin/dovecot";
const USER: &str = "help@acme.test";
const PASSWORD: &str = "mailbox-secret-1";

/// A private Dovecot serving one IMAP account with a plain-text password.
pub struct Dovecot {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Dovecot {
    pub async fn start() -> Dovecot {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} is missing: install Debian's dovecot-imapd (scripts/test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        // Dovecot's processes drop to unprivileged users: let them in.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::create_dir(dir.path().join("home")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join("home"),
                std::fs::Permissions::from_mode(0o777),
            )
            .unwrap();
        }
        std::fs::write(
            dir.path().join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}\n"),
        )
        .unwrap();
        let port = free_port();
        let (uid, gid) = current_ids();
        let config = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"#
        );
        std::fs::write(dir.path().join("dovecot.conf"), config).unwrap();
        let mut child = Command::new(DOVECOT)
            .args(["-F", "-c"])
            .arg(dir.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start dovecot");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Dovecot { child, port, dir };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.path().join("dovecot.log")).unwrap_or_default();
        panic!("dovecot did not start:\n{log}");
    }

    /// Runs Python's imaplib against the server as the account; returns what the script printed.
    fn imaplib(&self, script: &str, args: &[&str]) -> String {
        let prelude = format!(
            "import imaplib, sys\nm = imaplib.IMAP4('127.0.0.1', {})\nm.login({USER:?}, {PASSWORD:?})\n",
            self.port
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .args(args)
            .output()
            .expect("python3 for imaplib");
        assert!(
            out.status.success(),
            "imaplib failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Puts a message into the INBOX the way a mail server delivering it would.
    pub fn deliver(&self, raw: &str) {
        let path = self.dir.path().join(format!("m{}.eml", kit::unique("")));
        std::fs::write(&path, raw.replace('\n', "\r\n")).unwrap();
        let answer = self.imaplib(
            "print(m.append('INBOX', None, None, open(sys.argv[1], 'rb').read())[0])",
            &[&path.display().to_string()],
        );
        assert_eq!(answer, "OK", "APPEND failed");
    }

    /// How many messages in the INBOX are not marked read.
    pub fn unseen(&self) -> usize {
        self.imaplib(
            "m.select('INBOX')\nprint(len(m.search(None, 'UNSEEN')[1][0].split()))",
            &[],
        )
        .parse()
        .unwrap()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Who Dovecot reads and writes mail as: this user, or `nobody` when running as root (Dovecot
/// never touches mail as root).
fn current_ids() -> (String, String) {
    let id = |flag: &str| -> String {
        let out = Command::new("id").arg(flag).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    if id("-u") == "0" {
        ("nobody".into(), "nogroup".into())
    } else {
        (id("-u"), id("-g"))
    }
}

fn mail(from: &str, id: &str, extra: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\nTo: Help <{USER}>\nSubject: {subject}\nMessage-ID: <{id}>\n{extra}Date: Sun, 6 Dec 2026 08:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
}

async fn mailbox(t: &TestApp, inbox: i64) -> Value {
    t.get_ok(&format!("/api/v1/inboxes/{inbox}/imap"), &t.token)
        .await
}

async fn email_conversations(t: &TestApp) -> Vec<Value> {
    t.get_ok("/api/v1/conversations?channel=email&limit=100", &t.token)
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn reads_a_mailbox(t: TestApp, server: Dovecot) {
    let inbox = id(&t
        .post_created(
            "/api/v1/inboxes",
            &t.token,
            json!({"name": "Help", "channel": "email", "address": USER}),
        )
        .await);
    let path = format!("/api/v1/inboxes/{inbox}/imap");

    // Bad settings are refused field by field; a chat inbox cannot read mail.
    let (status, body) = t
        .put(
            &path,
            &t.token,
            json!({"host": "bad host;", "port": 0, "security": "ssl", "username": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let text = body.to_string();
    for f in ["host", "port", "security", "username", "password"] {
        assert!(text.contains(f), "{f} not named in {text}");
    }
    let chat = id(&t
        .post_created(
            "/api/v1/inboxes",
            &t.token,
            json!({"name": "Chat", "channel": "chat"}),
        )
        .await);
    let (status, _) = t
        .put(
            &format!("/api/v1/inboxes/{chat}/imap"),
            &t.token,
            json!({"host": "127.0.0.1", "username": "x", "password": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let agent = t.user_token("agent").await;
    let (status, _) = t.get(&path, &agent).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "agents do not see mailbox settings"
    );

    // Four messages wait: a question, the customer's follow-up, a mail without a usable
    // sender, and the question again (the mailbox holds a second copy).
    let question = mail(
        "Ana Lima <ana@customer.test>",
        "q-1@customer.test",
        "",
        "Invoice missing",
        "Where is my invoice?",
    );
    server.deliver(&question);
    server.deliver(&mail(
        "Ana Lima <ana@customer.test>",
        "q-2@customer.test",
        "In-Reply-To: <q-1@customer.test>\nReferences: <q-1@customer.test>\n",
        "Re: Invoice missing",
        "Any news?",
    ));
    server.deliver("Subject: no sender\nMessage-ID: <nobody@x.test>\n\nhello\n");
    server.deliver(&question);
    assert_eq!(server.unseen(), 4);

    let saved = t
        .put(
            &path,
            &t.token,
            json!({"host": "127.0.0.1", "port": server.port, "security": "plain",
                   "username": USER, "password": PASSWORD, "interval_secs": 60}),
        )
        .await;
    assert_eq!(saved.0, StatusCode::OK, "{}", saved.1);
    assert!(
        !saved.1.to_string().contains(PASSWORD),
        "the password is never shown"
    );
    assert_eq!(saved.1["folder"], "INBOX");

    assert_eq!(t.app.poll_due_mailboxes().await.unwrap(), 1);
    let m = mailbox(&t, inbox).await;
    assert_eq!(m["last_error"], Value::Null, "{m}");
    assert_eq!(
        (m["last_uid"].as_i64(), m["fetched"].as_i64()),
        (Some(4), Some(4))
    );
    let convs = email_conversations(&t).await;
    assert_eq!(
        convs.len(),
        1,
        "question and follow-up make one conversation: {convs:?}"
    );
    let conv = id(&convs[0]);
    let msgs = t
        .get_ok(&format!("/api/v1/conversations/{conv}/messages"), &t.token)
        .await["items"]
        .as_array()
        .unwrap()
        .clone();
    let texts: Vec<&str> = msgs
        .iter()
        .filter_map(|m| m["body_text"].as_str())
        .collect();
    assert_eq!(msgs.len(), 2, "{texts:?}");
    assert!(texts[0].contains("Where is my invoice?") && texts[1].contains("Any news?"));
    assert_eq!(server.unseen(), 0, "taken messages are marked read");

    let log = t.get_ok("/api/v1/email/inbound?limit=20", &t.token).await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert!(log.iter().all(|r| r["source"] == "imap"), "{log:?}");
    let outcomes: Vec<&str> = log.iter().filter_map(|r| r["outcome"].as_str()).collect();
    assert_eq!(
        outcomes.len(),
        3,
        "the second copy is a redelivery: {outcomes:?}"
    );
    assert!(outcomes.contains(&"created") && outcomes.contains(&"appended"));
    let refused = log.iter().find(|r| r["outcome"] == "rejected").unwrap();
    assert!(
        refused["reason"].as_str().unwrap().contains("From"),
        "{refused}"
    );

    // Not due again until its interval passes; "check now" makes it due, and only one of two
    // pollers racing for it gets it.
    assert_eq!(t.app.poll_due_mailboxes().await.unwrap(), 0);
    server.deliver(&mail(
        "Bo <bo@customer.test>",
        "b-1@customer.test",
        "",
        "Login broken",
        "I cannot log in.",
    ));
    let (status, _) = t.post(&format!("{path}/poll"), &t.token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (a, b) = tokio::join!(t.app.poll_due_mailboxes(), t.app.poll_due_mailboxes());
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one poller reads the mailbox");
    assert_eq!(email_conversations(&t).await.len(), 2);
    assert_eq!(mailbox(&t, inbox).await["last_uid"], 5);

    // Pointing the inbox elsewhere starts reading over (here: the same folder by another
    // name); everything is recognised as already taken.
    let (status, body) = t
        .put(
            &path,
            &t.token,
            json!({"host": "127.0.0.1", "port": server.port, "security": "plain",
                   "username": USER, "folder": "inbox"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the stored password stays: {body}");
    assert_eq!(body["last_uid"], 0);
    assert_eq!(t.app.poll_due_mailboxes().await.unwrap(), 1);
    let m = mailbox(&t, inbox).await;
    assert_eq!(
        (m["last_uid"].as_i64(), m["last_error"].clone()),
        (Some(5), Value::Null)
    );
    assert_eq!(email_conversations(&t).await.len(), 2, "nothing twice");

    // A wrong password shows as the mailbox's error, and later polls back off.
    t.put(
        &path,
        &t.token,
        json!({"host": "127.0.0.1", "port": server.port, "security": "plain",
               "username": USER, "password": "wrong", "folder": "inbox"}),
    )
    .await;
    assert_eq!(t.app.poll_due_mailboxes().await.unwrap(), 1);
    let m = mailbox(&t, inbox).await;
    assert!(
        m["last_error"].as_str().unwrap().contains("login refused"),
        "{m}"
    );
    assert_eq!(m["failures"], 1);
    let listed = t.get_ok("/api/v1/imap-mailboxes", &t.token).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("wrong"));

    // The settings changes are audited, never with the password.
    let audit = t
        .get_ok("/api/v1/audit?limit=50", &t.token)
        .await
        .to_string();
    assert!(audit.contains("inbox.imap_set"));
    assert!(!audit.contains(PASSWORD) && !audit.contains("\"wrong\""));

    let (status, _) = t.delete(&path, &t.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.get(&path, &t.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(email_conversations(&t).await.len(), 2, "taken mail stays");
}

async fn with_dovecot(backend: Backend) {
    let server = Dovecot::start().await;
    let config = AppConfig {
        imap_allow_private: true,
        ..AppConfig::default()
    };
    let t = kit::spawn_app_with(backend, config).await;
    kit::within_limit(reads_a_mailbox(t, server)).await;
}

mod reads_a_mailbox {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::with_dovecot(crate::kit::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::with_dovecot(crate::kit::Backend::Postgres).await;
    }
}

/// By default a mailbox on a loopback or private address is refused before any connection.
async fn private_servers_are_refused(t: TestApp) {
    let inbox = id(&t
        .post_created(
            "/api/v1/inboxes",
            &t.token,
            json!({"name": "Help", "channel": "email", "address": "help@acme.test"}),
        )
        .await);
    let (status, body) = t
        .put(
            &format!("/api/v1/inboxes/{inbox}/imap"),
            &t.token,
            json!({"host": "127.0.0.1", "port": free_port(), "security": "plain",
                   "username": "u", "password": "p"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.app.poll_due_mailboxes().await.unwrap(), 1);
    let m = mailbox(&t, inbox).await;
    let error = m["last_error"].as_str().unwrap();
    assert!(
        error.contains("loopback") && error.contains("imap_allow_private"),
        "{error}"
    );
}
kit::both!(private_servers_are_refused);
