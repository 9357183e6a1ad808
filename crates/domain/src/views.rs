//! Saved inbox views: a name and the filters that pick the conversations.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Invalid, InvalidField, required_text};

/// Views one person may keep (their own and the shared ones they made).
pub const MAX_VIEWS: i64 = 50;

/// Which conversations a view shows; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewFilters {
    /// Comma-separated statuses, e.g. `open,pending`; empty: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A user id, `me` (whoever looks) or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_id: Option<i64>,
    /// `latest` (default) or `oldest` activity first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
}

impl ViewFilters {
    /// Empty strings mean "not set".
    pub fn tidy(self) -> Self {
        let keep = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Self {
            status: keep(self.status),
            assignee: keep(self.assignee),
            team_id: self.team_id,
            tag: keep(self.tag),
            channel: keep(self.channel),
            inbox_id: self.inbox_id,
            sort: keep(self.sort),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewInput {
    pub name: String,
    pub filters: ViewFilters,
    /// Everyone in the workspace sees it (admins only).
    #[serde(default)]
    pub shared: bool,
}

impl ViewInput {
    /// The name checked and the filters tidied; whether the filters make sense is for the
    /// conversation query to say.
    pub fn validate(self) -> Result<(String, ViewFilters, bool), Invalid> {
        let name = required_text("name", &self.name, 60)?;
        let filters = self.filters.tidy();
        if filters.is_empty() {
            return Err(Invalid {
                fields: vec![InvalidField {
                    field: "filters".into(),
                    message: "pick at least one filter".into(),
                }],
            });
        }
        Ok((name, filters, self.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filters_and_names_are_refused() {
        let none = ViewInput {
            name: "x".into(),
            filters: ViewFilters {
                status: Some(" ".into()),
                ..ViewFilters::default()
            },
            shared: false,
        };
        assert_eq!(none.validate().unwrap_err().fields[0].field, "filters");
        let unnamed = ViewInput {
            name: "  ".into(),
            filters: ViewFilters {
                tag: Some("vip".into()),
                ..ViewFilters::default()
            },
            shared: false,
        };
        assert_eq!(unnamed.validate().unwrap_err().fields[0].field, "name");
    }
}
