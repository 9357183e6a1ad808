//! Collision detection: who else is looking at or answering a conversation right now, so two
//! agents do not reply to the same customer at once.

use crate::Invalid;
use crate::conversation::string_enum;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum!(
    /// What an agent is doing in a conversation.
    Activity, "activity" {
        Viewing => "viewing",
        Typing => "typing",
    }
);

impl Activity {
    /// How long a report holds without being renewed: screens renew viewing every few seconds
    /// and typing on every burst of keys, so a closed tab fades quickly.
    pub fn ttl_ms(self) -> i64 {
        match self {
            Activity::Viewing => 30_000,
            Activity::Typing => 8_000,
        }
    }
}
