//! Proving who you are: bearer tokens, web sessions with CSRF protection, sign-in limits.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::kit::{
    OWNER_EMAIL, OWNER_PASSWORD, Session, TestApp, assert_error, both, id, set_cookie_line,
};

async fn audit_actions(t: &TestApp) -> Vec<String> {
    let audit = t.get_ok("/api/v1/audit?limit=100", &t.token).await;
    audit["items"]
        .as_array()
        .unwrap_or_else(|| panic!("audit items: {audit}"))
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("?").to_string())
        .collect()
}

async fn authentication(t: TestApp) {
    // Without credentials, or with bad ones: 401 and the error shape.
    let overlong = format!("Bearer ctk_{}", "a".repeat(5000));
    for (what, header) in [
        ("no credentials", None),
        ("garbage bearer", Some("Bearer garbage")),
        (
            "unknown ctk_ token",
            Some("Bearer ctk_0123456789abcdef0123456789abcdef0123456789abcdef"),
        ),
        ("empty bearer", Some("Bearer ")),
        (
            "basic auth",
            Some("Basic b3duZXJAYWNtZS50ZXN0Om93bmVyLXBhc3N3b3JkLTE="),
        ),
        ("overlong token", Some(overlong.as_str())),
    ] {
        let mut rb = t.request(Method::GET, "/api/v1/me", "");
        if let Some(h) = header {
            rb = rb.header("Authorization", h);
        }
        let r = t.send(rb).await;
        assert_error(
            r.status,
            &r.body,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            what,
        );
    }
    let (s, b) = t
        .post(
            "/api/v1/conversations",
            "",
            json!({"customer": {"email": "a@example.com"}, "subject": "s", "body": "b"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "POST without credentials",
    );

    // The owner's token works.
    let me = t.get_ok("/api/v1/me", &t.token).await;
    assert_eq!(me["user"]["email"], OWNER_EMAIL);
    assert_eq!(me["user"]["role"], "owner");
    assert_eq!(me["workspace"]["slug"], "acme");
    assert!(
        me["user"].get("password_hash").is_none(),
        "no secrets in /me: {me}"
    );

    // Sign in: a session cookie (HttpOnly) and a CSRF token.
    let r = t
        .send(
            t.request(Method::POST, "/api/v1/auth/login", "")
                .json(&json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["workspace"]["slug"], "acme");
    let csrf = r.body["csrf_token"]
        .as_str()
        .expect("csrf_token")
        .to_string();
    assert!(csrf.len() >= 16, "CSRF token too short: {csrf}");
    let line = set_cookie_line(&r.headers, "citius_session").expect("Set-Cookie citius_session");
    let lower = line.to_lowercase();
    assert!(
        lower.contains("httponly"),
        "session cookie must be HttpOnly: {line}"
    );
    assert!(
        lower.contains("samesite"),
        "session cookie must set SameSite: {line}"
    );
    assert!(lower.contains("path=/"), "session cookie path: {line}");
    let session = Session {
        cookie: crate::kit::session_cookie(&r.headers).expect("cookie value"),
        csrf: csrf.clone(),
    };
    assert!(!line.contains(&t.token), "the cookie is not the API token");

    // Reads need only the cookie.
    let me = t
        .send(session.apply(t.request(Method::GET, "/api/v1/me", ""), false))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["user"]["email"], OWNER_EMAIL);

    // Writes with the cookie need the CSRF header, and the right one.
    let new =
        json!({"customer": {"email": "csrf@example.com"}, "subject": "Via the web", "body": "x"});
    let before = t.conversation_ids("", &t.token).await.len();
    let r = t
        .send(
            session
                .apply(t.request(Method::POST, "/api/v1/conversations", ""), false)
                .json(&new),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "cookie POST without CSRF header",
    );
    let r = t
        .send(
            session
                .apply(t.request(Method::POST, "/api/v1/conversations", ""), false)
                .header("X-CSRF-Token", "wrong-token")
                .json(&new),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "cookie POST with a wrong CSRF token",
    );
    assert_eq!(
        t.conversation_ids("", &t.token).await.len(),
        before,
        "refused cookie writes created nothing"
    );
    let r = t
        .send(
            session
                .apply(t.request(Method::POST, "/api/v1/conversations", ""), true)
                .json(&new),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "cookie POST with CSRF header: {}",
        r.body
    );
    let cid = id(&r.body);
    let path = format!("/api/v1/conversations/{cid}");
    let r = t
        .send(
            session
                .apply(t.request(Method::PATCH, &path, ""), false)
                .json(&json!({"status": "resolved"})),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "cookie PATCH without CSRF header",
    );
    let r = t
        .send(
            session
                .apply(t.request(Method::PATCH, &path, ""), true)
                .json(&json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // PUT is a write too.
    let skill = t
        .post_created("/api/v1/skills", &t.token, json!({"name": "French"}))
        .await;
    let owner_id = t.me(&t.token).await;
    let skill_path = format!("/api/v1/users/{owner_id}/skills/{}", id(&skill));
    let r = t
        .send(
            session
                .apply(t.request(Method::PUT, &skill_path, ""), false)
                .json(&json!({"level": 2})),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "cookie PUT without CSRF header",
    );
    let r = t
        .send(
            session
                .apply(t.request(Method::PUT, &skill_path, ""), true)
                .json(&json!({"level": 2})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NO_CONTENT,
        "cookie PUT with CSRF header: {}",
        r.body
    );

    // Tokens: create one with the session, list it, revoke it (cookie DELETE needs CSRF too).
    let r = t
        .send(
            session
                .apply(t.request(Method::POST, "/api/v1/tokens", ""), true)
                .json(&json!({"name": "laptop"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let token = r.body["token"].as_str().expect("token").to_string();
    let token_id = id(&r.body["api_token"]);
    assert!(token.starts_with("ctk_"), "{token}");
    assert_eq!(r.body["api_token"]["name"], "laptop");
    assert!(
        token.starts_with(r.body["api_token"]["prefix"].as_str().expect("prefix")),
        "prefix identifies the token: {}",
        r.body
    );
    assert_eq!(
        t.get_ok("/api/v1/me", &token).await["user"]["email"],
        OWNER_EMAIL
    );
    let listed = t.get_ok("/api/v1/tokens", &token).await;
    let mine = listed["items"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|x| id(x) == token_id)
        .cloned()
        .expect("token listed");
    assert_eq!(mine["revoked_at"], Value::Null);
    assert!(
        !listed.to_string().contains(&token),
        "the token secret is never listed"
    );

    let r = t
        .send(session.apply(
            t.request(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), ""),
            false,
        ))
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "cookie DELETE without CSRF header",
    );
    assert_eq!(
        t.get("/api/v1/me", &token).await.0,
        StatusCode::OK,
        "a refused revoke leaves the token working"
    );
    let r = t
        .send(session.apply(
            t.request(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), ""),
            true,
        ))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let (s, b) = t.get("/api/v1/me", &token).await;
    assert_error(
        s,
        &b,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "revoked token",
    );
    let listed = t.get_ok("/api/v1/tokens", &t.token).await;
    let revoked = listed["items"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|x| id(x) == token_id)
        .cloned()
        .expect("revoked token still listed");
    assert!(
        revoked["revoked_at"].is_string(),
        "revoked_at is set: {revoked}"
    );

    // A bearer request needs no CSRF token (no ambient credentials to abuse).
    let (s, b) = t.patch(&path, &t.token, json!({"priority": "low"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Wrong passwords and unknown accounts: 401, no cookie.
    for (email, password) in [
        (OWNER_EMAIL, "wrong-password-1"),
        ("nobody@acme.test", OWNER_PASSWORD),
    ] {
        let r = t
            .send(
                t.request(Method::POST, "/api/v1/auth/login", "")
                    .json(&json!({"email": email, "password": password})),
            )
            .await;
        assert_error(
            r.status,
            &r.body,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &format!("login {email}"),
        );
        assert!(
            crate::kit::session_cookie(&r.headers).is_none(),
            "failed login set a session cookie"
        );
    }
    // Signing in to a workspace one is not a member of fails the same way.
    let globex = t.second_workspace().await;
    let to_globex =
        json!({"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "workspace": "globex"});
    let r = t
        .send(
            t.request(Method::POST, "/api/v1/auth/login", "")
                .json(&to_globex),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "login to a foreign workspace",
    );

    // Once a member there too, one picks the workspace when signing in, with the role held there.
    t.post_created(
        "/api/v1/users",
        &globex,
        json!({"email": OWNER_EMAIL, "name": "Acme owner", "role": "agent"}),
    )
    .await;
    let r = t
        .send(
            t.request(Method::POST, "/api/v1/auth/login", "")
                .json(&to_globex),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["workspace"]["slug"], "globex");
    let in_globex = Session {
        cookie: crate::kit::session_cookie(&r.headers).expect("cookie"),
        csrf: r.body["csrf_token"].as_str().expect("csrf").to_string(),
    };
    let me = t
        .send(in_globex.apply(t.request(Method::GET, "/api/v1/me", ""), false))
        .await;
    assert_eq!(me.body["workspace"]["slug"], "globex", "{}", me.body);
    assert_eq!(me.body["user"]["role"], "agent", "{}", me.body);
    let listed = t
        .send(in_globex.apply(t.request(Method::GET, "/api/v1/conversations", ""), false))
        .await;
    assert_eq!(
        listed.body["items"],
        json!([]),
        "acme's conversations seen from globex: {}",
        listed.body
    );
    let r = t
        .send(
            in_globex
                .apply(t.request(Method::POST, "/api/v1/users", ""), true)
                .json(&json!({"email": "z@globex.test", "name": "Z", "role": "viewer"})),
        )
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "an agent in globex adds users",
    );

    // Password hashes never leave the server.
    for path in ["/api/v1/users", "/api/v1/me", "/api/v1/audit?limit=100"] {
        let text = t.get_ok(path, &t.token).await.to_string();
        assert!(
            !text.contains("argon2") && !text.contains("password_hash"),
            "GET {path} shows password data: {text}"
        );
    }

    // Logging out ends the session.
    let r = t
        .send(session.apply(t.request(Method::POST, "/api/v1/auth/logout", ""), true))
        .await;
    assert!(r.status.is_success(), "logout: {} {}", r.status, r.body);
    let r = t
        .send(session.apply(t.request(Method::GET, "/api/v1/me", ""), false))
        .await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "cookie after logout",
    );

    // All of it is in the audit log.
    let actions = audit_actions(&t).await;
    for action in [
        "workspace.created",
        "user.login",
        "token.created",
        "token.revoked",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "no {action} in audit log: {actions:?}"
        );
    }
}
both!(authentication);

async fn sign_in_is_rate_limited(t: TestApp) {
    let user = t.add_user("agent").await;
    let email = user["email"].as_str().expect("email").to_string();
    let login = |password: &str| {
        let body = json!({"email": email, "password": password});
        t.send(
            t.request(Method::POST, "/api/v1/auth/login", "")
                .json(&body),
        )
    };
    for n in 1..=10 {
        let r = login("not-the-password").await;
        assert_error(
            r.status,
            &r.body,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &format!("failed sign-in #{n}"),
        );
    }
    // Blocked now, even with the right password: guessing cannot continue.
    let r = login(crate::kit::USER_PASSWORD).await;
    assert_error(
        r.status,
        &r.body,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "11th attempt",
    );
    let retry: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("429 without a Retry-After: {:?}", r.headers));
    assert!(retry >= 1, "Retry-After {retry}");
    assert!(
        crate::kit::session_cookie(&r.headers).is_none(),
        "a blocked sign-in set a cookie"
    );
    // API tokens keep working.
    assert_eq!(t.get("/api/v1/me", &t.token).await.0, StatusCode::OK);
}
both!(sign_in_is_rate_limited);
