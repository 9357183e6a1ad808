//! Polling external mailboxes over IMAP: the settings an email inbox needs to read one, and the
//! arithmetic of where to resume and when to try again. The protocol itself lives in the app.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{Invalid, InvalidField, optional_text, required_text};

/// Shortest and longest time between two polls of one mailbox.
pub const MIN_INTERVAL_SECS: i64 = 15;
pub const MAX_INTERVAL_SECS: i64 = 86_400;
pub const DEFAULT_INTERVAL_SECS: i64 = 60;
/// Messages fetched in one poll; the rest wait for the next one, which follows at once.
pub const BATCH: usize = 200;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Implicit TLS (usually port 993), the server's certificate checked against public roots.
    Tls,
    /// No encryption: only for a server on a trusted network.
    Plain,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Plain => "plain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tls" => Some(Security::Tls),
            "plain" => Some(Security::Plain),
            _ => None,
        }
    }
}

/// Settings for reading one mailbox, as an administrator gives them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxInput {
    pub host: String,
    /// Defaults to 993 with TLS and 143 without.
    #[serde(default)]
    pub port: Option<i64>,
    /// `tls` (default) or `plain`.
    #[serde(default)]
    pub security: Option<String>,
    pub username: String,
    /// Required the first time; left out, the stored password is kept.
    #[serde(default)]
    pub password: Option<String>,
    /// Defaults to INBOX.
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub interval_secs: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Checked settings. The password is `None` when the stored one stays.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidMailbox {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub password: Option<String>,
    pub folder: String,
    pub interval_secs: i64,
    pub enabled: bool,
}

impl std::fmt::Debug for ValidMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidMailbox")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl MailboxInput {
    /// Checks the settings; `has_password` says whether a password is stored already.
    pub fn validate(&self, has_password: bool) -> Result<ValidMailbox, Invalid> {
        let mut errors: Vec<InvalidField> = Vec::new();
        let mut take = |r: Result<String, Invalid>| match r {
            Ok(v) => v,
            Err(e) => {
                errors.extend(e.fields);
                String::new()
            }
        };
        let host = take(required_text("host", &self.host, 253));
        let username = take(required_text("username", &self.username, 320));
        let folder = take(optional_text(
            "folder",
            self.folder.as_deref().unwrap_or(""),
            200,
        ));
        let folder = if folder.is_empty() {
            "INBOX".to_string()
        } else {
            folder
        };
        let mut fail = |field: &str, message: String| {
            errors.push(InvalidField {
                field: field.into(),
                message,
            })
        };
        if !host.is_empty()
            && !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            fail("host", "must be a host name or an IP address".into());
        }
        // IMAP quoted strings cannot carry line breaks or NUL.
        if folder.chars().any(|c| c.is_control()) {
            fail("folder", "must not contain control characters".into());
        }
        if username.chars().any(|c| c.is_control()) {
            fail("username", "must not contain control characters".into());
        }
        let security =
            Security::parse(self.security.as_deref().unwrap_or("tls")).unwrap_or_else(|| {
                fail("security", "must be tls or plain".into());
                Security::Tls
            });
        let port = match self.port {
            None => Some(if security == Security::Tls { 993 } else { 143 }),
            Some(p) => u16::try_from(p).ok().filter(|p| *p > 0),
        };
        if port.is_none() {
            fail("port", "must be between 1 and 65535".into());
        }
        let interval_secs = self.interval_secs.unwrap_or(DEFAULT_INTERVAL_SECS);
        if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&interval_secs) {
            fail(
                "interval_secs",
                format!("must be between {MIN_INTERVAL_SECS} and {MAX_INTERVAL_SECS} seconds"),
            );
        }
        let password = match self.password.as_deref() {
            Some(p) if p.is_empty() || p.len() > 1024 || p.chars().any(|c| c.is_control()) => {
                fail(
                    "password",
                    "must be 1 to 1024 characters, without line breaks".into(),
                );
                None
            }
            Some(p) => Some(p.to_string()),
            None if !has_password => {
                fail("password", "is required".into());
                None
            }
            None => None,
        };
        if !errors.is_empty() {
            return Err(Invalid { fields: errors });
        }
        Ok(ValidMailbox {
            host,
            port: port.unwrap_or(993),
            security,
            username,
            password,
            folder,
            interval_secs,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

/// The highest UID already read, given what was stored and what the server says now. A folder
/// whose UIDVALIDITY changed was rebuilt: its UIDs mean nothing any more, so reading starts over
/// (redelivered mail is recognised and stored once).
pub fn resume_after(stored_validity: Option<u32>, last_uid: u32, server_validity: u32) -> u32 {
    match stored_validity {
        Some(v) if v == server_validity => last_uid,
        _ => 0,
    }
}

/// The UIDs to fetch this time, oldest first. `UID SEARCH UID n:*` always answers the highest
/// UID even when it is below `n`, so anything at or below `after` is dropped here.
pub fn to_fetch(found: impl IntoIterator<Item = u32>, after: u32) -> Vec<u32> {
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after).collect();
    uids.sort_unstable();
    uids.dedup();
    uids.truncate(BATCH);
    uids
}

/// Seconds until the next try after `failures` polls in a row failed: the interval, doubling
/// with each failure up to an hour, so a broken mailbox is neither hammered nor forgotten.
pub fn next_poll_in(interval_secs: i64, failures: i64) -> i64 {
    if failures <= 0 {
        return interval_secs;
    }
    let doubled = interval_secs.saturating_mul(1_i64 << failures.clamp(0, 12));
    doubled.min(3_600).max(interval_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> MailboxInput {
        MailboxInput {
            host: "imap.example.com".into(),
            port: None,
            security: None,
            username: "support@example.com".into(),
            password: Some("secret".into()),
            folder: None,
            interval_secs: None,
            enabled: None,
        }
    }

    #[test]
    fn defaults_are_tls_993_inbox_every_minute() {
        let v = input().validate(false).unwrap();
        assert_eq!(
            (v.port, v.security, v.folder.as_str(), v.interval_secs),
            (993, Security::Tls, "INBOX", 60)
        );
        let plain = MailboxInput {
            security: Some("plain".into()),
            ..input()
        };
        assert_eq!(plain.validate(false).unwrap().port, 143);
        assert!(!format!("{v:?}").contains("secret"));
    }

    #[test]
    fn bad_settings_name_every_field() {
        let bad = MailboxInput {
            host: "imap example;com".into(),
            port: Some(70_000),
            security: Some("starttls".into()),
            username: " ".into(),
            password: None,
            folder: Some("IN\r\nBOX".into()),
            interval_secs: Some(1),
            enabled: None,
        };
        let e = bad.validate(false).unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "host",
            "port",
            "security",
            "username",
            "password",
            "folder",
            "interval_secs",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn stored_password_may_stay() {
        let keep = MailboxInput {
            password: None,
            ..input()
        };
        assert_eq!(keep.validate(true).unwrap().password, None);
        assert!(keep.validate(false).is_err());
    }

    #[test]
    fn a_new_uid_validity_starts_over() {
        assert_eq!(resume_after(Some(7), 41, 7), 41);
        assert_eq!(resume_after(Some(7), 41, 8), 0);
        assert_eq!(resume_after(None, 41, 8), 0);
    }

    #[test]
    fn the_highest_uid_echoed_back_is_not_fetched_again() {
        assert_eq!(to_fetch([41], 41), Vec::<u32>::new());
        assert_eq!(to_fetch([45, 42, 43, 42], 41), vec![42, 43, 45]);
        assert_eq!(to_fetch(1..=1000, 0).len(), BATCH);
    }

    #[test]
    fn failures_back_off_up_to_an_hour() {
        assert_eq!(next_poll_in(60, 0), 60);
        assert_eq!(next_poll_in(60, 1), 120);
        assert_eq!(next_poll_in(60, 3), 480);
        assert_eq!(next_poll_in(60, 50), 3_600);
        assert_eq!(next_poll_in(86_400, 2), 86_400);
    }
}
