use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;

pub const MAX_SUBJECT: usize = 500;
pub const MAX_BODY: usize = 100_000;
pub const MAX_TAG: usize = 50;
pub const MAX_TAGS_PER_CONVERSATION: usize = 30;
pub const MAX_CUSTOM_FIELDS_BYTES: usize = 16 * 1024;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self, Invalid> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Invalid::field($field, concat!("must be one of:", $(" ", $text),+))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Where a conversation happens; replies go back on the same channel.
    Channel, "channel" {
        Email => "email",
        Chat => "chat",
        Sms => "sms",
        Whatsapp => "whatsapp",
        Voice => "voice",
        Api => "api",
    }
);

string_enum!(
    /// Lifecycle of a conversation.
    Status, "status" {
        Open => "open",
        Pending => "pending",
        Snoozed => "snoozed",
        Resolved => "resolved",
        Closed => "closed",
    }
);

string_enum!(
    Priority, "priority" {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
);

string_enum!(
    /// The order of a conversation list, by last activity: the latest first (the inbox's usual
    /// order), or the oldest first (who has waited longest since anything happened).
    Sort, "sort" {
        Latest => "latest",
        Oldest => "oldest",
    }
);

// Written out: `string_enum!` declares the derives, and `#[default]` needs the derive.
#[allow(clippy::derivable_impls)]
impl Default for Sort {
    fn default() -> Self {
        Sort::Latest
    }
}

string_enum!(
    /// Who a message is for: the customer wrote it, an agent sent it, or it is internal.
    MessageKind, "kind" {
        Inbound => "inbound",
        Reply => "reply",
        Note => "note",
    }
);

impl Priority {
    /// Sort weight: higher is more urgent.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Urgent => 3,
        }
    }
}

impl Status {
    /// Moves the conversation to `to`. Snoozing needs a wake-up time in the future; a closed
    /// conversation is final (new customer mail opens a new one).
    pub fn transition(
        self,
        to: Status,
        snooze_until: Option<i64>,
        now_ms: i64,
    ) -> Result<Status, Invalid> {
        if self == Status::Closed && to != Status::Closed {
            return Err(Invalid::field(
                "status",
                "a closed conversation cannot be reopened",
            ));
        }
        match (to, snooze_until) {
            (Status::Snoozed, None) => {
                Err(Invalid::field("snoozed_until", "is required to snooze"))
            }
            (Status::Snoozed, Some(t)) if t <= now_ms => {
                Err(Invalid::field("snoozed_until", "must be in the future"))
            }
            (s, Some(_)) if s != Status::Snoozed => Err(Invalid::field(
                "snoozed_until",
                "is only allowed when snoozing",
            )),
            _ => Ok(to),
        }
    }

    /// What a new message from the customer does to the status.
    pub fn on_customer_message(self) -> Status {
        match self {
            Status::Closed => Status::Closed,
            _ => Status::Open,
        }
    }
}

/// A tag: trimmed, lower-cased, 1..=50 of letters, digits, '-', '_', '.', ':' and '/'.
pub fn parse_tag(raw: &str) -> Result<String, Invalid> {
    let t = raw.trim().to_lowercase();
    let ok = !t.is_empty()
        && t.chars().count() <= MAX_TAG
        && t.chars()
            .all(|c| c.is_alphanumeric() || "-_.:/".contains(c));
    if !ok {
        return Err(Invalid::field(
            "tags",
            format!(
                "'{}' is not a tag: use 1-50 letters, digits, '-', '_', '.', ':' or '/'",
                raw.trim()
            ),
        ));
    }
    Ok(t)
}

pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, Invalid> {
    if raw.len() > MAX_TAGS_PER_CONVERSATION {
        return Err(Invalid::field("tags", "at most 30 tags per conversation"));
    }
    let mut tags: Vec<String> = raw.iter().map(|t| parse_tag(t)).collect::<Result<_, _>>()?;
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// Custom fields: a flat JSON object, bounded in size.
pub fn check_custom_fields(v: &serde_json::Value) -> Result<(), Invalid> {
    crate::customer::check_attributes(v).map_err(|mut e| {
        for f in &mut e.fields {
            f.field = "custom_fields".into();
        }
        e
    })?;
    if v.to_string().len() > MAX_CUSTOM_FIELDS_BYTES {
        return Err(Invalid::field("custom_fields", "must be at most 16 KiB"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_transitions() {
        let now = 1_000;
        assert_eq!(
            Status::Open.transition(Status::Resolved, None, now),
            Ok(Status::Resolved)
        );
        assert!(Status::Open.transition(Status::Snoozed, None, now).is_err());
        assert!(
            Status::Open
                .transition(Status::Snoozed, Some(now - 1), now)
                .is_err()
        );
        assert_eq!(
            Status::Open.transition(Status::Snoozed, Some(now + 1), now),
            Ok(Status::Snoozed)
        );
        assert!(
            Status::Open
                .transition(Status::Open, Some(now + 1), now)
                .is_err()
        );
        assert!(Status::Closed.transition(Status::Open, None, now).is_err());
        assert_eq!(Status::Resolved.on_customer_message(), Status::Open);
        assert_eq!(Status::Closed.on_customer_message(), Status::Closed);
    }

    #[test]
    fn enums_parse() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(*c));
        }
        let err = Channel::parse("fax").unwrap_err();
        assert!(err.to_string().contains("email"), "{err}");
    }

    #[test]
    fn tags_normalise_and_dedupe() {
        let tags = parse_tags(&["Billing".into(), " billing ".into(), "vip".into()]).unwrap();
        assert_eq!(tags, vec!["billing".to_string(), "vip".to_string()]);
        assert!(parse_tag("two words").is_err());
        assert!(parse_tag("").is_err());
        assert!(parse_tag(&"x".repeat(51)).is_err());
    }
}
