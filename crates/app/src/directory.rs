//! People and structure of a workspace: users and roles, teams, skills, inboxes, the audit log.

use citius_domain::Invalid;
use citius_domain::conversation::Channel;
use citius_domain::customer::parse_email;
use citius_domain::error::{optional_text, required_text};
use citius_domain::paging::{Page, PageRequest};
use citius_domain::records::{AuditEntry, Inbox, Skill, Team, User};
use citius_domain::role::{Permission, Role};
use citius_domain::workspace::check_password;
use citius_store::audit::{self as audit_log, NewEntry};
use citius_store::{Conn, DbError, directory as store};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::conversations::not_found_as;
use crate::{Actor, App, AppError, AppResult, require};

/// Records an admin or security action by `actor` in its workspace.
pub(crate) async fn audit(
    c: &mut Conn,
    actor: &Actor,
    action: &str,
    target_kind: &str,
    target_id: Option<i64>,
    data: serde_json::Value,
) -> AppResult<()> {
    audit_log::record(
        c,
        &NewEntry {
            workspace_id: Some(actor.workspace_id),
            actor_user_id: Some(actor.user_id),
            action,
            target_kind,
            target_id,
            data,
            ip: None,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Initial password; without one the user can only use API tokens until an admin sets one.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserInput {
    pub role: Option<Role>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
    #[serde(default)]
    pub member_ids: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxInput {
    pub name: String,
    pub channel: Channel,
    pub address: Option<String>,
}

impl App {
    pub async fn users(&self, actor: &Actor) -> AppResult<Vec<User>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::members(&mut c, actor.workspace_id).await?)
    }

    pub async fn user(&self, actor: &Actor, id: i64) -> AppResult<User> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::member(&mut c, actor.workspace_id, id).await?)
    }

    /// Adds a person to the workspace, creating their account if it does not exist yet.
    pub async fn add_user(&self, actor: &Actor, input: NewUserInput) -> AppResult<User> {
        require(actor, Permission::Administer)?;
        if !actor.role.may_grant(input.role) {
            return Err(AppError::Forbidden);
        }
        let email = parse_email(&input.email)?;
        let name = required_text("name", &input.name, 200)?;
        let hash = match &input.password {
            Some(p) => {
                check_password(p)?;
                Some(crate::access::hash_password(p).await?)
            }
            None => None,
        };
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let user_id = match store::account_by_email(&mut tx, &email).await {
            Ok(a) => a.id,
            Err(DbError::NotFound) => {
                store::create_user(&mut tx, &email, &name, hash.as_deref()).await?
            }
            Err(e) => return Err(e.into()),
        };
        store::add_member(&mut tx, ws, user_id, input.role)
            .await
            .map_err(|e| match e {
                DbError::Conflict(_) => AppError::Conflict(format!("{email} is already a member")),
                e => e.into(),
            })?;
        audit(
            &mut tx,
            actor,
            "user.added",
            "user",
            Some(user_id),
            json!({"email": email, "role": input.role}),
        )
        .await?;
        let user = store::member(&mut tx, ws, user_id).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes a member's role or password. Roles at or above admin are only granted by owners,
    /// and the last owner cannot step down.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: i64,
        input: UpdateUserInput,
    ) -> AppResult<User> {
        let self_service = id == actor.user_id && input.role.is_none();
        if !self_service {
            require(actor, Permission::Administer)?;
        }
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let current = store::member(&mut tx, ws, id).await?;
        if let Some(role) = input.role.filter(|r| *r != current.role) {
            if !actor.role.may_grant(role) || !actor.role.may_grant(current.role) {
                return Err(AppError::Forbidden);
            }
            if current.role == Role::Owner && store::count_owners(&mut tx, ws).await? <= 1 {
                return Err(AppError::Conflict(
                    "the last owner cannot be demoted".into(),
                ));
            }
            store::set_role(&mut tx, ws, id, role).await?;
            audit(
                &mut tx,
                actor,
                "user.role_changed",
                "user",
                Some(id),
                json!({"from": current.role, "to": role}),
            )
            .await?;
        }
        if let Some(p) = &input.password {
            if !self_service && !actor.role.may_grant(current.role) {
                return Err(AppError::Forbidden);
            }
            check_password(p)?;
            let hash = crate::access::hash_password(p).await?;
            store::set_password_hash(&mut tx, id, &hash).await?;
            audit(
                &mut tx,
                actor,
                "user.password_changed",
                "user",
                Some(id),
                json!({}),
            )
            .await?;
        }
        let user = store::member(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Removes a member from the workspace: their tokens and sessions here stop working.
    pub async fn remove_user(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let current = store::member(&mut tx, ws, id).await?;
        if !actor.role.may_grant(current.role) {
            return Err(AppError::Forbidden);
        }
        if current.role == Role::Owner && store::count_owners(&mut tx, ws).await? <= 1 {
            return Err(AppError::Conflict(
                "the last owner cannot be removed".into(),
            ));
        }
        let events = unassign_all(&mut tx, actor, id).await?;
        store::remove_member(&mut tx, ws, id).await?;
        audit(
            &mut tx,
            actor,
            "user.removed",
            "user",
            Some(id),
            json!({"email": current.email, "role": current.role}),
        )
        .await?;
        self.commit(tx, ws, events).await?;
        Ok(())
    }

    pub async fn teams(&self, actor: &Actor) -> AppResult<Vec<Team>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::teams(&mut c, actor.workspace_id).await?)
    }

    pub async fn team(&self, actor: &Actor, id: i64) -> AppResult<Team> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::team(&mut c, actor.workspace_id, id).await?)
    }

    pub async fn create_team(&self, actor: &Actor, input: TeamInput) -> AppResult<Team> {
        require(actor, Permission::Administer)?;
        let name = required_text("name", &input.name, 100)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let id = store::create_team(&mut tx, ws, &name)
            .await
            .map_err(|e| conflict_as(e, "a team with this name exists"))?;
        if let Some(members) = &input.member_ids {
            store::set_team_members(&mut tx, ws, id, members)
                .await
                .map_err(|e| not_found_as(e, "member_ids"))?;
        }
        audit(
            &mut tx,
            actor,
            "team.created",
            "team",
            Some(id),
            json!({"name": name}),
        )
        .await?;
        let team = store::team(&mut tx, ws, id).await?;
        tx.commit().await?;
        Ok(team)
    }

    pub async fn update_team(&self, actor: &Actor, id: i64, input: TeamInput) -> AppResult<Team> {
        require(actor, Permission::Administer)?;
        let name = required_text("name", &input.name, 100)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let before = store::team(&mut tx, ws, id).await?;
        store::rename_team(&mut tx, ws, id, &name)
            .await
            .map_err(|e| conflict_as(e, "a team with this name exists"))?;
        if let Some(members) = &input.member_ids {
            store::set_team_members(&mut tx, ws, id, members)
                .await
                .map_err(|e| not_found_as(e, "member_ids"))?;
        }
        let team = store::team(&mut tx, ws, id).await?;
        audit(
            &mut tx,
            actor,
            "team.updated",
            "team",
            Some(id),
            json!({
                "from": {"name": before.name, "member_ids": before.member_ids},
                "to": {"name": team.name, "member_ids": team.member_ids},
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(team)
    }

    pub async fn delete_team(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        let team = store::team(&mut tx, actor.workspace_id, id).await?;
        store::delete_team(&mut tx, actor.workspace_id, id).await?;
        audit(
            &mut tx,
            actor,
            "team.deleted",
            "team",
            Some(id),
            json!({"name": team.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn skills(&self, actor: &Actor) -> AppResult<Vec<Skill>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::skills(&mut c, actor.workspace_id).await?)
    }

    pub async fn create_skill(&self, actor: &Actor, name: &str) -> AppResult<Skill> {
        require(actor, Permission::Administer)?;
        let name = required_text("name", name, 100)?;
        let mut tx = self.db.begin().await?;
        let skill = store::create_skill(&mut tx, actor.workspace_id, &name)
            .await
            .map_err(|e| conflict_as(e, "a skill with this name exists"))?;
        audit(
            &mut tx,
            actor,
            "skill.created",
            "skill",
            Some(skill.id),
            json!({"name": name}),
        )
        .await?;
        tx.commit().await?;
        Ok(skill)
    }

    /// Every person's level in every skill they have: (user id, skill id, level).
    pub async fn user_skills(&self, actor: &Actor) -> AppResult<Vec<(i64, i64, i64)>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::user_skills(&mut c, actor.workspace_id).await?)
    }

    /// Sets a user's level in a skill: 1 (basic) to 5 (expert), 0 to remove.
    pub async fn set_user_skill(
        &self,
        actor: &Actor,
        user_id: i64,
        skill_id: i64,
        level: i64,
    ) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        if !(0..=5).contains(&level) {
            return Err(Invalid::field("level", "must be between 0 and 5").into());
        }
        let mut tx = self.db.begin().await?;
        store::set_user_skill(&mut tx, actor.workspace_id, user_id, skill_id, level).await?;
        audit(
            &mut tx,
            actor,
            "user.skill_set",
            "user",
            Some(user_id),
            json!({"skill_id": skill_id, "level": level}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whom the command line acts as in a workspace: its first owner.
    pub async fn operator(&self, workspace_slug: &str) -> AppResult<Actor> {
        let mut c = self.db.read().await?;
        let ws = store::workspace_by_slug(&mut c, workspace_slug)
            .await
            .map_err(|e| match e {
                citius_store::DbError::NotFound => {
                    Invalid::field("workspace", format!("no workspace '{workspace_slug}'")).into()
                }
                e => AppError::from(e),
            })?;
        Ok(store::first_owner(&mut c, ws.id).await?)
    }

    pub async fn inboxes(&self, actor: &Actor) -> AppResult<Vec<Inbox>> {
        require(actor, Permission::Read)?;
        let mut c = self.db.read().await?;
        Ok(store::inboxes(&mut c, actor.workspace_id).await?)
    }

    pub async fn create_inbox(&self, actor: &Actor, input: InboxInput) -> AppResult<Inbox> {
        require(actor, Permission::Administer)?;
        let name = required_text("name", &input.name, 100)?;
        let address = match (&input.address, input.channel) {
            (Some(a), Channel::Email) => Some(parse_email(a)?),
            (Some(a), _) => Some(optional_text("address", a, 320)?),
            (None, _) => None,
        };
        let mut tx = self.db.begin().await?;
        if input.channel == Channel::Email {
            let Some(a) = address.as_deref() else {
                return Err(Invalid::field(
                    "address",
                    "an email inbox needs the address it receives mail for",
                )
                .into());
            };
            if citius_store::email::inbox_for_address(&mut tx, a)
                .await?
                .is_some()
            {
                return Err(Invalid::field(
                    "address",
                    "another inbox already receives mail for this address",
                )
                .into());
            }
        }
        let inbox = store::create_inbox(
            &mut tx,
            actor.workspace_id,
            &name,
            input.channel,
            address.as_deref(),
        )
        .await
        .map_err(|e| conflict_as(e, "an inbox with this name exists"))?;
        audit(
            &mut tx,
            actor,
            "inbox.created",
            "inbox",
            Some(inbox.id),
            json!({"name": name, "channel": input.channel}),
        )
        .await?;
        tx.commit().await?;
        Ok(inbox)
    }

    pub async fn audit_log(&self, actor: &Actor, page: PageRequest) -> AppResult<Page<AuditEntry>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(audit_log::list(&mut c, actor.workspace_id, page).await?)
    }
}

fn conflict_as(e: DbError, message: &str) -> AppError {
    match e {
        DbError::Conflict(_) => AppError::Conflict(message.to_string()),
        e => e.into(),
    }
}

/// A removed member's open work goes back to the queue, each change on its timeline.
async fn unassign_all(
    c: &mut Conn,
    actor: &Actor,
    user_id: i64,
) -> AppResult<Vec<citius_domain::records::Event>> {
    let ids = citius_store::conversations::unassign_user(c, actor.workspace_id, user_id).await?;
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        events.push(
            citius_store::conversations::insert_event(c, actor.workspace_id, id, citius_domain::event::EventKind::Transferred, Some(actor.user_id), &json!({
                "from": {"assignee_id": user_id}, "assignee_id": null, "reason": "member_removed",
            }))
            .await?,
        );
    }
    Ok(events)
}
