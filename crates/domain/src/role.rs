use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;

/// A user's role in one workspace. Later roles include every right of the earlier ones.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Agent,
    Supervisor,
    Admin,
    Owner,
}

/// What a route or use case needs; mapped to the least role that may do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read conversations, customers, teams, search.
    Read,
    /// Work conversations: reply, note, assign, tag, change status; edit customers.
    Work,
    /// Merge and split customers, see team-wide reports.
    Supervise,
    /// Manage users, roles, teams, skills, inboxes; read the audit log.
    Administer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Agent,
        Role::Supervisor,
        Role::Admin,
        Role::Owner,
    ];

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Invalid::field(
                    "role",
                    "must be one of owner, admin, supervisor, agent, viewer",
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        let least = match permission {
            Permission::Read => Role::Viewer,
            Permission::Work => Role::Agent,
            Permission::Supervise => Role::Supervisor,
            Permission::Administer => Role::Admin,
        };
        self >= least
    }

    /// Whether a user with this role may grant `target` to someone (or take it away).
    /// Only owners make or unmake owners; admins manage everything below them.
    pub fn may_grant(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => target < Role::Admin,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_rights() {
        assert!(Role::Owner.allows(Permission::Administer));
        assert!(Role::Admin.allows(Permission::Administer));
        assert!(!Role::Supervisor.allows(Permission::Administer));
        assert!(Role::Agent.allows(Permission::Work));
        assert!(!Role::Viewer.allows(Permission::Work));
        assert!(Role::Viewer.allows(Permission::Read));
    }

    #[test]
    fn only_owners_grant_owner_or_admin() {
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(!Role::Admin.may_grant(Role::Admin));
        assert!(Role::Admin.may_grant(Role::Agent));
        assert!(!Role::Agent.may_grant(Role::Viewer));
    }

    #[test]
    fn parse_round_trips() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
    }
}
