//! Signing in and proving who you are: argon2 passwords, hashed API tokens, web sessions with
//! CSRF tokens, and a limit on failed sign-ins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use citius_domain::customer::parse_email;
use citius_domain::records::{ApiToken, Workspace};
use citius_domain::role::Role;
use citius_domain::workspace::{Slug, check_password};
use citius_domain::{Invalid, error::required_text};
use citius_store::audit::{self, NewEntry};
use citius_store::{DbError, directory, now_ms};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Actor, App, AppError, AppResult};

pub const TOKEN_PREFIX: &str = "ctk_";

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Secrets are stored only as SHA-256: they are long and random, so a slow hash adds nothing.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub async fn hash_password(password: &str) -> AppResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|_| AppError::Invalid(Invalid::field("password", "cannot be hashed")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AppError::Invalid(Invalid::field("password", "cannot be hashed")))
    })
    .await
    .map_err(|_| AppError::Invalid(Invalid::field("password", "cannot be hashed")))?
}

async fn verify_password(password: &str, hash: Option<String>) -> bool {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        // Without a stored hash we still spend the same time, so timing does not reveal accounts.
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A real hash of a random password, made once, to verify against when an account has none.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>());
        salt.ok()
            .and_then(|s| {
                Argon2::default()
                    .hash_password(random_hex(16).as_bytes(), &s)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    })
}

/// Counts failed sign-ins per key (email, client address) in a sliding window. Per node: a
/// cluster allows at most nodes x limit attempts, which still stops guessing.
pub struct LoginLimiter {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait if any key is over its limit.
    fn blocked(&self, keys: &[String]) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut wait = None;
        for k in keys {
            if let Some(list) = map.get_mut(k) {
                list.retain(|t| now.duration_since(*t) < self.window);
                if list.len() >= self.limit as usize {
                    let oldest = list.first().copied().unwrap_or(now);
                    let secs = self
                        .window
                        .saturating_sub(now.duration_since(oldest))
                        .as_secs()
                        .max(1);
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        if map.len() > 100_000 {
            map.retain(|_, v| {
                v.last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        wait
    }

    fn fail(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            map.entry(k.clone()).or_default().push(Instant::now());
        }
    }

    fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// A new web session: the cookie value and the CSRF token forms must echo.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub workspace: Workspace,
    pub expires_at_ms: i64,
}

impl App {
    /// Creates a workspace and its owner (or adds an existing user as owner) and returns a new API
    /// token for them: the non-interactive first-run set-up.
    pub async fn setup(
        &self,
        slug: &str,
        workspace_name: Option<&str>,
        email: &str,
        password: &str,
    ) -> AppResult<(Workspace, String)> {
        let slug = Slug::parse(slug)?;
        let email = parse_email(email)?;
        check_password(password)?;
        let name = workspace_name.map_or_else(
            || Ok(slug.as_str().to_string()),
            |n| required_text("name", n, 100),
        )?;
        let hash = hash_password(password).await?;
        let mut tx = self.db.begin().await?;
        let ws = directory::create_workspace(&mut tx, slug.as_str(), &name)
            .await
            .map_err(|e| match e {
                DbError::Conflict(_) => {
                    AppError::Conflict(format!("workspace '{}' already exists", slug.as_str()))
                }
                e => e.into(),
            })?;
        let user_id = match directory::account_by_email(&mut tx, &email).await {
            Ok(a) => {
                directory::set_password_hash(&mut tx, a.id, &hash).await?;
                a.id
            }
            Err(DbError::NotFound) => {
                let display = email.split('@').next().unwrap_or("Owner").to_string();
                directory::create_user(&mut tx, &email, &display, Some(&hash)).await?
            }
            Err(e) => return Err(e.into()),
        };
        directory::add_member(&mut tx, ws.id, user_id, Role::Owner).await?;
        let (token, secret) = new_token(&mut tx, ws.id, user_id, "setup").await?;
        audit::record(
            &mut tx,
            &NewEntry {
                workspace_id: Some(ws.id),
                actor_user_id: Some(user_id),
                action: "workspace.created",
                target_kind: "workspace",
                target_id: Some(ws.id),
                data: serde_json::json!({"slug": ws.slug, "owner": email, "token_id": token.id}),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((ws, secret))
    }

    /// Signs in with email and password into a workspace (the first one the user belongs to when
    /// none is named). Failed attempts are limited per email and per client address.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        workspace: Option<&str>,
        ip: Option<&str>,
    ) -> AppResult<NewSession> {
        let email_key = format!("email:{}", email.trim().to_lowercase());
        let mut keys = vec![email_key.clone()];
        if let Some(ip) = ip {
            keys.push(format!("ip:{ip}"));
        }
        if let Some(retry_after_secs) = self.login_limiter.blocked(&keys) {
            return Err(AppError::RateLimited { retry_after_secs });
        }
        let mut c = self.db.read().await?;
        let account = match parse_email(email) {
            Ok(e) => match directory::account_by_email(&mut c, &e).await {
                Ok(a) => Some(a),
                Err(DbError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => None,
        };
        let ok = verify_password(
            password,
            account.as_ref().and_then(|a| a.password_hash.clone()),
        )
        .await;
        let Some(account) = account.filter(|_| ok) else {
            self.login_limiter.fail(&keys);
            return Err(AppError::Unauthorized);
        };
        let memberships = directory::workspaces_of_user(&mut c, account.id).await?;
        drop(c);
        let chosen = match workspace {
            Some(slug) => memberships.into_iter().find(|(w, _)| w.slug == slug),
            None => memberships.into_iter().next(),
        };
        let Some((ws, _)) = chosen else {
            self.login_limiter.fail(&keys);
            return Err(AppError::Unauthorized);
        };
        self.login_limiter.clear(&email_key);
        let session = self.start_session(account.id, ws, ip).await?;
        Ok(session)
    }

    async fn start_session(
        &self,
        user_id: i64,
        ws: Workspace,
        ip: Option<&str>,
    ) -> AppResult<NewSession> {
        let token = random_hex(32);
        let csrf_token = random_hex(24);
        let expires_at_ms = now_ms() + self.config.session_ttl_hours * 3_600_000;
        let mut tx = self.db.begin().await?;
        directory::create_session(
            &mut tx,
            &hash_secret(&token),
            user_id,
            ws.id,
            &csrf_token,
            expires_at_ms,
        )
        .await?;
        audit::record(
            &mut tx,
            &NewEntry {
                workspace_id: Some(ws.id),
                actor_user_id: Some(user_id),
                action: "user.login",
                target_kind: "user",
                target_id: Some(user_id),
                data: serde_json::json!({}),
                ip,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(NewSession {
            token,
            csrf_token,
            workspace: ws,
            expires_at_ms,
        })
    }

    /// Moves a signed-in user to another of their workspaces: a new session there.
    pub async fn switch_workspace(
        &self,
        actor: &Actor,
        session_token: &str,
        slug: &str,
    ) -> AppResult<NewSession> {
        let mut c = self.db.read().await?;
        let (ws, _) = directory::workspaces_of_user(&mut c, actor.user_id)
            .await?
            .into_iter()
            .find(|(w, _)| w.slug == slug)
            .ok_or(AppError::NotFound)?;
        drop(c);
        self.logout(session_token).await?;
        self.start_session(actor.user_id, ws, None).await
    }

    pub async fn logout(&self, session_token: &str) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        directory::delete_session(&mut tx, &hash_secret(session_token)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The actor behind a web session cookie, with the session's CSRF token.
    pub async fn actor_from_session(&self, session_token: &str) -> AppResult<(Actor, String)> {
        let mut c = self.db.read().await?;
        directory::principal_by_session(&mut c, &hash_secret(session_token))
            .await
            .map_err(|e| match e {
                DbError::NotFound => AppError::Unauthorized,
                e => e.into(),
            })
    }

    /// The actor behind an API token.
    pub async fn actor_from_token(&self, token: &str) -> AppResult<Actor> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(AppError::Unauthorized);
        }
        let hash = hash_secret(token);
        let mut c = self.db.read().await?;
        let (actor, last_used) =
            directory::principal_by_token(&mut c, &hash)
                .await
                .map_err(|e| match e {
                    DbError::NotFound => AppError::Unauthorized,
                    e => e.into(),
                })?;
        drop(c);
        // Bookkeeping only, at most once a minute so reads stay reads; a failure here must not
        // refuse a valid token.
        let stale = last_used.is_none_or(|t| t < now_ms() - 60_000);
        if !stale {
            return Ok(actor);
        }
        if let Ok(mut tx) = self.db.begin().await
            && directory::touch_token(&mut tx, &hash).await.is_ok()
        {
            let _ = tx.commit().await;
        }
        Ok(actor)
    }

    pub async fn create_token(&self, actor: &Actor, name: &str) -> AppResult<(ApiToken, String)> {
        let name = required_text("name", name, 100)?;
        let mut tx = self.db.begin().await?;
        let (token, secret) = new_token(&mut tx, actor.workspace_id, actor.user_id, &name).await?;
        audit::record(
            &mut tx,
            &NewEntry {
                workspace_id: Some(actor.workspace_id),
                actor_user_id: Some(actor.user_id),
                action: "token.created",
                target_kind: "api_token",
                target_id: Some(token.id),
                data: serde_json::json!({"name": name, "prefix": token.prefix}),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok((token, secret))
    }

    pub async fn tokens(&self, actor: &Actor) -> AppResult<Vec<ApiToken>> {
        let mut c = self.db.read().await?;
        Ok(directory::tokens_of_user(&mut c, actor.workspace_id, actor.user_id).await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, token_id: i64) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        directory::revoke_token(&mut tx, actor.workspace_id, actor.user_id, token_id).await?;
        audit::record(
            &mut tx,
            &NewEntry {
                workspace_id: Some(actor.workspace_id),
                actor_user_id: Some(actor.user_id),
                action: "token.revoked",
                target_kind: "api_token",
                target_id: Some(token_id),
                data: serde_json::json!({}),
                ip: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The workspaces a user can switch to.
    pub async fn workspaces_of(&self, actor: &Actor) -> AppResult<Vec<(Workspace, Role)>> {
        let mut c = self.db.read().await?;
        Ok(directory::workspaces_of_user(&mut c, actor.user_id).await?)
    }
}

async fn new_token(
    c: &mut citius_store::Conn,
    workspace_id: i64,
    user_id: i64,
    name: &str,
) -> AppResult<(ApiToken, String)> {
    let secret = format!("{TOKEN_PREFIX}{}", random_hex(24));
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let token = directory::create_token(
        c,
        workspace_id,
        user_id,
        name,
        &hash_secret(&secret),
        &prefix,
    )
    .await?;
    Ok((token, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_limit_and_clears_on_success() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let keys = vec!["email:a".to_string()];
        assert!(l.blocked(&keys).is_none());
        l.fail(&keys);
        l.fail(&keys);
        assert!(l.blocked(&keys).is_some());
        l.clear("email:a");
        assert!(l.blocked(&keys).is_none());
    }

    #[tokio::test]
    async fn passwords_verify() {
        let h = hash_password("correct horse battery").await.unwrap();
        assert!(verify_password("correct horse battery", Some(h.clone())).await);
        assert!(!verify_password("wrong", Some(h)).await);
        assert!(!verify_password("anything", None).await);
    }
}
