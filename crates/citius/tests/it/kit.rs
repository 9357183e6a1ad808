//! Test kit: a real Citius server on a random port over a fresh database (SQLite or
//! PostgreSQL), with a signed-in owner and helpers to call the JSON API.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use citius_app::{App, AppConfig};
use citius_store::{Db, DbConfig};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

pub const OWNER_EMAIL: &str = "owner@acme.test";
pub const OWNER_PASSWORD: &str = "owner-password-1";
/// Password of every user the tests add.
pub const USER_PASSWORD: &str = "user-password-1";

/// Runs an `async fn name(t: TestApp)` on both backends: generates the tests
/// `name::sqlite` and `name::postgres` (a module and a function may share a name).
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = crate::kit::spawn_app(crate::kit::Backend::Sqlite).await;
                crate::kit::within_limit(super::$name(t)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = crate::kit::spawn_app(crate::kit::Backend::Postgres).await;
                crate::kit::within_limit(super::$name(t)).await;
            }
        }
    };
}
pub(crate) use both;

/// No test may hang the suite: each body gets two minutes.
pub async fn within_limit(body: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(Duration::from_secs(120), body)
        .await
        .is_err()
    {
        panic!("test did not finish within 120 s");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and what the tests need to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub app: App,
    /// The owner's API token in workspace "acme".
    pub token: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What came back: status, headers, raw bytes and the body as JSON (`Null` when empty,
/// a JSON string when the body is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, AppConfig::default()).await
}

pub async fn spawn_app_with(backend: Backend, config: AppConfig) -> TestApp {
    // What the server logs as an error shows beside a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_max_level(tracing::Level::ERROR)
        .try_init();
    let (db_config, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (DbConfig::SqliteDir(dir.path().join("data")), Some(dir))
        }
        Backend::Postgres => (DbConfig::Url(fresh_postgres_database().await), None),
    };
    let db = Db::connect(&db_config, 8)
        .await
        .expect("connect to the test database");
    db.migrate().await.expect("migrate the test database");
    let app = App::new(db, config);
    let (_, token) = app
        .setup("acme", None, OWNER_EMAIL, OWNER_PASSWORD)
        .await
        .expect("set up workspace acme");

    let router = citius_http::router(app.clone(), citius_http::HttpConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let t = TestApp {
        base: format!("http://{addr}"),
        app,
        token,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client"),
        server,
        _dir: dir,
    };
    t.wait_healthy().await;
    t
}

/// Creates an empty database on the PostgreSQL server named by `CITIUS_TEST_POSTGRES_URL` and
/// returns its URL. The tests never skip PostgreSQL: without the variable they fail.
pub async fn fresh_postgres_database() -> String {
    let url = std::env::var("CITIUS_TEST_POSTGRES_URL").unwrap_or_default();
    assert!(
        !url.is_empty(),
        "CITIUS_TEST_POSTGRES_URL is not set. The integration tests run on PostgreSQL too: run them with \
         scripts/test, which starts a throw-away PostgreSQL and sets CITIUS_TEST_POSTGRES_URL \
         (e.g. postgres://postgres@127.0.0.1:PORT/postgres)."
    );
    let name = unique("citius_test_");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to CITIUS_TEST_POSTGRES_URL ({}): {e}",
            citius_store::db::redact_url(&url)
        )
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let _ = conn.close().await;
    with_database(&url, &name)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let base = match head[authority_start..].find('/') {
        Some(i) => &head[..authority_start + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn wait_healthy(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.http.get(self.url("/api/v1/health")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("GET /api/v1/health never answered 200");
    }

    /// A request with an optional bearer token (empty string: none).
    pub fn request(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, self.url(path));
        if !token.is_empty() {
            rb = rb.bearer_auth(token);
        }
        rb
    }

    /// A request on a connection of its own, for bodies the server may refuse before reading
    /// them in full: it may then close the connection, which must not be reused by the others.
    pub fn request_alone(
        &self,
        method: Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let rb = client.request(method, self.url(path));
        if token.is_empty() {
            rb
        } else {
            rb.bearer_auth(token)
        }
    }

    /// Sends and reads the whole response.
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        self.try_send(rb).await.expect("request failed")
    }

    /// Like [`send`](Self::send), but a transport error is returned: a server may answer an
    /// oversized upload early and close the connection while the client is still sending.
    pub async fn try_send(&self, rb: reqwest::RequestBuilder) -> Result<Resp, reqwest::Error> {
        let r = rb.send().await?;
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await?.to_vec();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Resp {
            status,
            headers,
            bytes,
            body,
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self.request(method, path, token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = self.send(rb).await;
        (r.status, r.body)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, token, Some(&body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, token, Some(&body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, token, None).await
    }

    /// GET that must answer 200; returns the body.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let (s, b) = self.get(path, token).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {b}");
        b
    }

    /// POST that must answer 201 Created; returns the body.
    pub async fn post_created(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, b) = self.post(path, token, body).await;
        assert_eq!(s, StatusCode::CREATED, "POST {path}: {b}");
        b
    }

    /// POST that must answer 200 (an action on an existing resource); returns the body.
    pub async fn post_ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, b) = self.post(path, token, body).await;
        assert_eq!(s, StatusCode::OK, "POST {path}: {b}");
        b
    }

    /// PATCH that must answer 200; returns the body.
    pub async fn patch_ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, b) = self.patch(path, token, body).await;
        assert_eq!(s, StatusCode::OK, "PATCH {path}: {b}");
        b
    }

    /// A conversation with a new or known customer; returns the created conversation.
    pub async fn conversation(&self, token: &str, email: &str, subject: &str) -> Value {
        self.post_created(
            "/api/v1/conversations",
            token,
            json!({"customer": {"email": email}, "subject": subject, "body": format!("About {subject}")}),
        )
        .await
    }

    /// The ids of a conversation list (all pages).
    pub async fn conversation_ids(&self, query: &str, token: &str) -> Vec<i64> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if query.is_empty() { "" } else { "&" };
            let path = match &cursor {
                Some(c) => format!("/api/v1/conversations?limit=100{sep}{query}&cursor={c}"),
                None => format!("/api/v1/conversations?limit=100{sep}{query}"),
            };
            let page = self.get_ok(&path, token).await;
            out.extend(ids(&page["items"]));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }

    /// The signed-in user's id.
    pub async fn me(&self, token: &str) -> i64 {
        id(&self.get_ok("/api/v1/me", token).await["user"])
    }

    /// Adds a user with `role` (and a password) as the owner; returns the user.
    pub async fn add_user(&self, role: &str) -> Value {
        let email = format!("{}@acme.test", unique(role));
        self.post_created(
            "/api/v1/users",
            &self.token,
            json!({"email": email, "name": format!("{role} user"), "role": role, "password": USER_PASSWORD}),
        )
        .await
    }

    /// Signs in with email and password; returns the session cookie value and CSRF token.
    pub async fn login(&self, email: &str, password: &str) -> Session {
        let r = self
            .send(
                self.request(Method::POST, "/api/v1/auth/login", "")
                    .json(&json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login as {email}: {}", r.body);
        let cookie = session_cookie(&r.headers).unwrap_or_else(|| {
            panic!(
                "login as {email} set no citius_session cookie: {:?}",
                r.headers
            )
        });
        let csrf = r.body["csrf_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login answered no csrf_token: {}", r.body))
            .to_string();
        Session { cookie, csrf }
    }

    /// A new user with `role` and their own API token, obtained the way a person would:
    /// sign in, then create a token with the web session (CSRF header included).
    pub async fn user_token(&self, role: &str) -> String {
        self.new_user(role).await.token
    }

    pub async fn new_user(&self, role: &str) -> TestUser {
        let user = self.add_user(role).await;
        let email = user["email"].as_str().expect("user email").to_string();
        let session = self.login(&email, USER_PASSWORD).await;
        let r = self
            .send(
                session
                    .apply(self.request(Method::POST, "/api/v1/tokens", ""), true)
                    .json(&json!({"name": "tests"})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "create a token for {email}: {}",
            r.body
        );
        let token = r.body["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {}", r.body))
            .to_string();
        assert!(
            token.starts_with("ctk_"),
            "token {token} lacks the ctk_ prefix"
        );
        TestUser {
            id: id(&user),
            email,
            token,
        }
    }

    /// The id of the workspace a token works in.
    pub async fn workspace_id(&self, token: &str) -> i64 {
        id(&self.get_ok("/api/v1/me", token).await["workspace"])
    }

    /// Puts a job straight into the durable queue; returns its id.
    pub async fn enqueue_job(
        &self,
        workspace_id: i64,
        kind: &str,
        run_at: i64,
        max_attempts: i64,
    ) -> i64 {
        let mut tx = self.app.db.begin().await.expect("begin");
        let job = citius_store::jobs::enqueue(
            &mut tx,
            &citius_store::jobs::NewJob {
                workspace_id: Some(workspace_id),
                kind,
                payload: json!({}),
                run_at,
                max_attempts,
                dedupe_key: None,
            },
        )
        .await
        .expect("enqueue a job")
        .expect("a job without a dedupe key is always enqueued");
        tx.commit().await.expect("commit");
        job
    }

    /// A job of a kind nobody handles, run once so that it is parked as `dead`; returns its id.
    pub async fn dead_job(&self, workspace_id: i64, kind: &str) -> i64 {
        let job = self
            .enqueue_job(workspace_id, kind, citius_store::now_ms(), 1)
            .await;
        self.app.run_due_jobs().await.expect("run jobs");
        assert_eq!(
            self.job(job).await.status,
            "dead",
            "job {job} of unknown kind {kind} is not dead"
        );
        job
    }

    /// Moves the queued jobs of a kind to now, as if their time had come; returns how many.
    pub async fn make_due(&self, kind: &str) -> u64 {
        let mut tx = self.app.db.begin().await.expect("begin");
        let n = sqlx::query("UPDATE jobs SET run_at = $1 WHERE kind = $2 AND status = 'queued'")
            .bind(citius_store::now_ms() - 1)
            .bind(kind)
            .execute(&mut *tx)
            .await
            .expect("make jobs due")
            .rows_affected();
        tx.commit().await.expect("commit");
        n
    }

    /// A job as stored, whatever its workspace.
    pub async fn job(&self, id: i64) -> citius_store::jobs::Job {
        let mut c = self.app.db.read().await.expect("read connection");
        citius_store::jobs::get(&mut c, id)
            .await
            .unwrap_or_else(|e| panic!("job {id}: {e}"))
    }

    /// Another workspace, "globex", with its own owner; returns that owner's token.
    pub async fn second_workspace(&self) -> String {
        let (_, token) = self
            .app
            .setup(
                "globex",
                Some("Globex"),
                "owner@globex.test",
                "globex-password-1",
            )
            .await
            .expect("set up workspace globex");
        token
    }
}

pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// A web session: the `citius_session` cookie and its CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    /// Adds the cookie, and the CSRF header when `with_csrf`.
    pub fn apply(&self, rb: reqwest::RequestBuilder, with_csrf: bool) -> reqwest::RequestBuilder {
        let rb = rb.header("Cookie", format!("citius_session={}", self.cookie));
        if with_csrf {
            rb.header("X-CSRF-Token", &self.csrf)
        } else {
            rb
        }
    }
}

/// The value of the `citius_session` cookie a response sets, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    set_cookie_line(headers, "citius_session")
        .and_then(|line| {
            line.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
}

/// The whole `Set-Cookie` line for cookie `name`.
pub fn set_cookie_line(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.trim_start().starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// `v["id"]` as an integer.
pub fn id(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {v}"))
}

/// The ids of a JSON array of objects.
pub fn ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(id)
        .collect()
}

/// Asserts the API's error shape: `status`, `{"error":{"code":code,"message":"..."}}`.
#[track_caller]
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    want_status: StatusCode,
    code: &str,
    what: &str,
) {
    assert_eq!(
        status, want_status,
        "{what}: want {want_status} {code}, got {status}: {body}"
    );
    assert_eq!(body["error"]["code"], code, "{what}: error code in {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: error without a message: {body}"
    );
}

/// Asserts a 422 `invalid` error naming `field` among its fields.
#[track_caller]
pub fn assert_invalid(status: StatusCode, body: &Value, field: &str, what: &str) {
    assert_error(
        status,
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        what,
    );
    let fields = body["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: 422 without fields: {body}"));
    assert!(
        fields
            .iter()
            .any(|f| f["field"].as_str().is_some_and(|n| n.contains(field))
                && f["message"].as_str().is_some_and(|m| !m.is_empty())),
        "{what}: no field '{field}' with a message in {body}"
    );
}

/// RFC 3339 for now + `offset_ms` (may be negative).
pub fn rfc3339_in(offset_ms: i64) -> String {
    let now = jiff::Timestamp::now().as_millisecond();
    jiff::Timestamp::from_millisecond(now + offset_ms)
        .expect("valid instant")
        .to_string()
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn millis(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_millisecond())
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {v}"))
}

#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5433/postgres", "x"),
        "postgres://postgres@127.0.0.1:5433/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1/db?sslmode=disable", "x"),
        "postgres://u:p@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
}
