//! Who is who: workspaces, users and their roles, API tokens, sessions, teams, skills, inboxes.

use citius_domain::conversation::Channel;
use citius_domain::records::{ApiToken, Inbox, Skill, Team, User, Workspace};
use citius_domain::role::Role;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, DbResult, Found, from_ms, now_ms, parse_enum};

fn workspace(r: &AnyRow) -> DbResult<Workspace> {
    Ok(Workspace {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

pub async fn create_workspace(c: &mut Conn, slug: &str, name: &str) -> DbResult<Workspace> {
    let r = sqlx::query(
        "INSERT INTO workspaces (slug, name, created_at) VALUES ($1, $2, $3) RETURNING *",
    )
    .bind(slug)
    .bind(name)
    .bind(now_ms())
    .fetch_one(c)
    .await?;
    workspace(&r)
}

pub async fn workspace_by_slug(c: &mut Conn, slug: &str) -> DbResult<Workspace> {
    let r = sqlx::query("SELECT * FROM workspaces WHERE slug = $1")
        .bind(slug)
        .fetch_optional(c)
        .await?;
    workspace(&r.found()?)
}

pub async fn workspace_by_id(c: &mut Conn, id: i64) -> DbResult<Workspace> {
    let r = sqlx::query("SELECT * FROM workspaces WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    workspace(&r.found()?)
}

/// Workspaces a user belongs to, with the role held in each.
pub async fn workspaces_of_user(c: &mut Conn, user_id: i64) -> DbResult<Vec<(Workspace, Role)>> {
    let rows = sqlx::query(
        "SELECT w.*, m.role FROM workspaces w JOIN memberships m ON m.workspace_id = w.id \
         WHERE m.user_id = $1 ORDER BY w.name",
    )
    .bind(user_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                workspace(r)?,
                parse_enum(Role::parse(&r.try_get::<String, _>("role")?))?,
            ))
        })
        .collect()
}

/// A user account with its password hash, for signing in.
pub struct Account {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
}

pub async fn create_user(
    c: &mut Conn,
    email: &str,
    name: &str,
    password_hash: Option<&str>,
) -> DbResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(now_ms())
    .fetch_one(c)
    .await?;
    Ok(id)
}

pub async fn account_by_email(c: &mut Conn, email: &str) -> DbResult<Account> {
    let r = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(c)
        .await?
        .found()?;
    Ok(Account {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
    })
}

pub async fn set_password_hash(c: &mut Conn, user_id: i64, hash: &str) -> DbResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn add_member(c: &mut Conn, workspace_id: i64, user_id: i64, role: Role) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn set_role(c: &mut Conn, workspace_id: i64, user_id: i64, role: Role) -> DbResult<()> {
    let n =
        sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
            .bind(role.as_str())
            .bind(workspace_id)
            .bind(user_id)
            .execute(c)
            .await?
            .rows_affected();
    if n == 0 {
        return Err(crate::DbError::NotFound);
    }
    Ok(())
}

pub async fn remove_member(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<()> {
    let n = sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut *c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(crate::DbError::NotFound);
    }
    sqlx::query(
        "DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE workspace_id = $2)",
    )
    .bind(user_id)
    .bind(workspace_id)
    .execute(&mut *c)
    .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE workspace_id = $2 AND user_id = $3 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM saved_views WHERE workspace_id = $1 AND user_id = $2 AND shared = 0")
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace_id)
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn count_owners(c: &mut Conn, workspace_id: i64) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
    )
    .bind(workspace_id)
    .fetch_one(c)
    .await?)
}

fn user(r: &AnyRow) -> DbResult<User> {
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: parse_enum(Role::parse(&r.try_get::<String, _>("role")?))?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

const USER_COLUMNS: &str = "SELECT u.id, u.email, u.name, u.created_at, m.role FROM users u \
     JOIN memberships m ON m.user_id = u.id";

pub async fn member(c: &mut Conn, workspace_id: i64, user_id: i64) -> DbResult<User> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{USER_COLUMNS} WHERE m.workspace_id = $1 AND u.id = $2"
    )))
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(c)
    .await?;
    user(&r.found()?)
}

pub async fn members(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<User>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{USER_COLUMNS} WHERE m.workspace_id = $1 ORDER BY u.name, u.id"
    )))
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(user).collect()
}

// ---- API tokens -------------------------------------------------------------------------

fn token(r: &AnyRow) -> DbResult<ApiToken> {
    Ok(ApiToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        created_at: from_ms(r.try_get("created_at")?),
        last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
        revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
    })
}

pub async fn create_token(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    name: &str,
    token_hash: &str,
    prefix: &str,
) -> DbResult<ApiToken> {
    let r = sqlx::query(
        "INSERT INTO api_tokens (workspace_id, user_id, name, token_hash, prefix, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(name)
    .bind(token_hash)
    .bind(prefix)
    .bind(now_ms())
    .fetch_one(c)
    .await?;
    token(&r)
}

pub async fn tokens_of_user(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
) -> DbResult<Vec<ApiToken>> {
    let rows = sqlx::query(
        "SELECT * FROM api_tokens WHERE workspace_id = $1 AND user_id = $2 ORDER BY id DESC",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(token).collect()
}

pub async fn revoke_token(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    token_id: i64,
) -> DbResult<()> {
    let n = sqlx::query(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND workspace_id = $3 AND user_id = $4",
    )
    .bind(now_ms())
    .bind(token_id)
    .bind(workspace_id)
    .bind(user_id)
    .execute(c)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(crate::DbError::NotFound);
    }
    Ok(())
}

/// Who a credential (token or session) speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub workspace_id: i64,
    pub role: Role,
    pub name: String,
    pub email: String,
}

/// The workspace's first owner: whom the command line acts as.
pub async fn first_owner(c: &mut Conn, workspace_id: i64) -> DbResult<Principal> {
    let r = sqlx::query(
        "SELECT m.user_id, m.workspace_id, m.role, u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.workspace_id = $1 AND m.role = 'owner' ORDER BY m.created_at, m.user_id LIMIT 1",
    )
    .bind(workspace_id)
    .fetch_optional(c)
    .await?;
    principal(&r.found()?)
}

fn principal(r: &AnyRow) -> DbResult<Principal> {
    Ok(Principal {
        user_id: r.try_get("user_id")?,
        workspace_id: r.try_get("workspace_id")?,
        role: parse_enum(Role::parse(&r.try_get::<String, _>("role")?))?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
    })
}

/// Resolves a live token by its hash; also returns when it was last used.
pub async fn principal_by_token(
    c: &mut Conn,
    token_hash: &str,
) -> DbResult<(Principal, Option<i64>)> {
    let r = sqlx::query(
        "SELECT t.id AS token_id, t.user_id, t.workspace_id, t.last_used_at, m.role, u.name, u.email \
         FROM api_tokens t JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id \
         JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(&mut *c)
    .await?
    .found()?;
    Ok((principal(&r)?, r.try_get("last_used_at")?))
}

/// Stamps a token's last use; called rarely enough not to turn reads into writes.
pub async fn touch_token(c: &mut Conn, token_hash: &str) -> DbResult<()> {
    let now = now_ms();
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(token_hash)
    .bind(now - 60_000)
    .execute(c)
    .await?;
    Ok(())
}

// ---- Sessions ---------------------------------------------------------------------------

pub async fn create_session(
    c: &mut Conn,
    token_hash: &str,
    user_id: i64,
    workspace_id: i64,
    csrf_token: &str,
    expires_at_ms: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, workspace_id, csrf_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(workspace_id)
    .bind(csrf_token)
    .bind(now_ms())
    .bind(expires_at_ms)
    .execute(c)
    .await?;
    Ok(())
}

/// Resolves a live session; returns its principal and CSRF token.
pub async fn principal_by_session(c: &mut Conn, token_hash: &str) -> DbResult<(Principal, String)> {
    let r = sqlx::query(
        "SELECT s.user_id, s.workspace_id, s.csrf_token, m.role, u.name, u.email FROM sessions s \
         JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id \
         JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(c)
    .await?
    .found()?;
    Ok((principal(&r)?, r.try_get("csrf_token")?))
}

pub async fn delete_session(c: &mut Conn, token_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn delete_expired_sessions(c: &mut Conn) -> DbResult<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms())
        .execute(c)
        .await?
        .rows_affected())
}

// ---- Teams and skills -------------------------------------------------------------------

pub async fn create_team(c: &mut Conn, workspace_id: i64, name: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO teams (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(workspace_id)
    .bind(name)
    .bind(now_ms())
    .fetch_one(c)
    .await?)
}

pub async fn rename_team(
    c: &mut Conn,
    workspace_id: i64,
    team_id: i64,
    name: &str,
) -> DbResult<()> {
    let n = sqlx::query("UPDATE teams SET name = $1 WHERE id = $2 AND workspace_id = $3")
        .bind(name)
        .bind(team_id)
        .bind(workspace_id)
        .execute(c)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(crate::DbError::NotFound);
    }
    Ok(())
}

/// Replaces a team's members. Every user must belong to the workspace.
pub async fn set_team_members(
    c: &mut Conn,
    workspace_id: i64,
    team_id: i64,
    user_ids: &[i64],
) -> DbResult<()> {
    team(c, workspace_id, team_id).await?;
    for &uid in user_ids {
        member(c, workspace_id, uid).await?;
    }
    sqlx::query("DELETE FROM team_members WHERE team_id = $1")
        .bind(team_id)
        .execute(&mut *c)
        .await?;
    for &uid in user_ids {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(team_id)
        .bind(uid)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub async fn delete_team(c: &mut Conn, workspace_id: i64, team_id: i64) -> DbResult<()> {
    team(c, workspace_id, team_id).await?;
    sqlx::query("UPDATE conversations SET team_id = NULL WHERE team_id = $1")
        .bind(team_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM team_members WHERE team_id = $1")
        .bind(team_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM teams WHERE id = $1")
        .bind(team_id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn team(c: &mut Conn, workspace_id: i64, team_id: i64) -> DbResult<Team> {
    teams(c, workspace_id)
        .await?
        .into_iter()
        .find(|t| t.id == team_id)
        .found()
}

pub async fn teams(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<Team>> {
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.created_at, tm.user_id FROM teams t LEFT JOIN team_members tm ON tm.team_id = t.id \
         WHERE t.workspace_id = $1 ORDER BY t.name, t.id, tm.user_id",
    )
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    let mut out: Vec<Team> = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let member: Option<i64> = r.try_get("user_id")?;
        if out.last().map(|t| t.id) != Some(id) {
            out.push(Team {
                id,
                name: r.try_get("name")?,
                member_ids: Vec::new(),
                created_at: from_ms(r.try_get("created_at")?),
            });
        }
        if let (Some(t), Some(m)) = (out.last_mut(), member) {
            t.member_ids.push(m);
        }
    }
    Ok(out)
}

pub async fn create_skill(c: &mut Conn, workspace_id: i64, name: &str) -> DbResult<Skill> {
    let id =
        sqlx::query_scalar("INSERT INTO skills (workspace_id, name) VALUES ($1, $2) RETURNING id")
            .bind(workspace_id)
            .bind(name)
            .fetch_one(c)
            .await?;
    Ok(Skill {
        id,
        name: name.to_string(),
    })
}

pub async fn skills(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<Skill>> {
    let rows = sqlx::query("SELECT id, name FROM skills WHERE workspace_id = $1 ORDER BY name")
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Skill {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

/// Sets a user's level (1-5) in a skill; level 0 removes it.
pub async fn set_user_skill(
    c: &mut Conn,
    workspace_id: i64,
    user_id: i64,
    skill_id: i64,
    level: i64,
) -> DbResult<()> {
    member(c, workspace_id, user_id).await?;
    sqlx::query("SELECT id FROM skills WHERE id = $1 AND workspace_id = $2")
        .bind(skill_id)
        .bind(workspace_id)
        .fetch_optional(&mut *c)
        .await?
        .found()?;
    sqlx::query("DELETE FROM user_skills WHERE user_id = $1 AND skill_id = $2")
        .bind(user_id)
        .bind(skill_id)
        .execute(&mut *c)
        .await?;
    if level > 0 {
        sqlx::query("INSERT INTO user_skills (user_id, skill_id, level) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(skill_id)
            .bind(level)
            .execute(c)
            .await?;
    }
    Ok(())
}

/// Every (user, skill, level) of a workspace.
pub async fn user_skills(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<(i64, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT us.user_id, us.skill_id, us.level FROM user_skills us JOIN skills s ON s.id = us.skill_id \
         WHERE s.workspace_id = $1 ORDER BY us.user_id, us.skill_id",
    )
    .bind(workspace_id)
    .fetch_all(c)
    .await?)
}

// ---- Inboxes ----------------------------------------------------------------------------

pub(crate) fn inbox_row(r: &AnyRow) -> DbResult<Inbox> {
    Ok(Inbox {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        channel: parse_enum(Channel::parse(&r.try_get::<String, _>("channel")?))?,
        address: r.try_get("address")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

pub async fn create_inbox(
    c: &mut Conn,
    workspace_id: i64,
    name: &str,
    channel: Channel,
    address: Option<&str>,
) -> DbResult<Inbox> {
    let r = sqlx::query(
        "INSERT INTO inboxes (workspace_id, name, channel, address, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *",
    )
    .bind(workspace_id)
    .bind(name)
    .bind(channel.as_str())
    .bind(address)
    .bind(now_ms())
    .fetch_one(c)
    .await?;
    inbox_row(&r)
}

pub async fn inbox_by_id(c: &mut Conn, workspace_id: i64, id: i64) -> DbResult<Inbox> {
    let r = sqlx::query("SELECT * FROM inboxes WHERE id = $1 AND workspace_id = $2")
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(c)
        .await?;
    inbox_row(&r.found()?)
}

pub async fn inboxes(c: &mut Conn, workspace_id: i64) -> DbResult<Vec<Inbox>> {
    let rows = sqlx::query("SELECT * FROM inboxes WHERE workspace_id = $1 ORDER BY name")
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
    rows.iter().map(inbox_row).collect()
}
