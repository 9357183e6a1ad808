use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;

pub const MAX_NAME: usize = 200;
pub const MAX_IDENTITY: usize = 320;
pub const MAX_NOTE: usize = 10_000;
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// How a customer can be recognised on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Email,
    Phone,
    ChatVisitor,
    External,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 4] =
        [Self::Email, Self::Phone, Self::ChatVisitor, Self::External];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::ChatVisitor => "chat_visitor",
            Self::External => "external",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Invalid::field(
                    "kind",
                    "must be one of email, phone, chat_visitor, external",
                )
            })
    }
}

/// A normalised identity: equal identities compare equal as stored, so matching is an index lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

impl Identity {
    pub fn parse(kind: IdentityKind, raw: &str) -> Result<Self, Invalid> {
        let value = match kind {
            IdentityKind::Email => parse_email(raw)?,
            IdentityKind::Phone => parse_phone(raw)?,
            IdentityKind::ChatVisitor | IdentityKind::External => {
                let v = crate::error::required_text(kind.as_str(), raw, MAX_IDENTITY)?;
                if v.chars().any(char::is_whitespace) {
                    return Err(Invalid::field(kind.as_str(), "must not contain spaces"));
                }
                v
            }
        };
        Ok(Self { kind, value })
    }

    pub fn email(raw: &str) -> Result<Self, Invalid> {
        Self::parse(IdentityKind::Email, raw)
    }
}

/// An email address, lower-cased. Deliberately permissive on the local part (real mail is messy)
/// but strict on shape: one '@', a dotted domain, no spaces or angle brackets.
pub fn parse_email(raw: &str) -> Result<String, Invalid> {
    let v = raw.trim().to_lowercase();
    let bad = || Invalid::field("email", "must be an address like ann@example.com");
    if v.is_empty() || v.len() > MAX_IDENTITY {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c);
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || v.chars().any(forbidden)
    {
        return Err(bad());
    }
    Ok(v)
}

/// A phone number in E.164 form: '+' and 7..=15 digits. Spaces, dashes, dots and brackets are dropped.
pub fn parse_phone(raw: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    let bad = || Invalid::field("phone", "must be an international number like +14155550100");
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => match trimmed.strip_prefix("00") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        },
    };
    if !plus {
        return Err(bad());
    }
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad()),
        }
    }
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(bad());
    }
    Ok(format!("+{digits}"))
}

/// Customer attributes: a flat JSON object of scalars, bounded in size.
pub fn check_attributes(v: &serde_json::Value) -> Result<(), Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::field("attributes", "must be a JSON object"))?;
    for (k, val) in obj {
        if k.is_empty() || k.len() > 64 {
            return Err(Invalid::field("attributes", "keys must be 1-64 characters"));
        }
        if val.is_object() || val.is_array() {
            return Err(Invalid::field(
                "attributes",
                format!("'{k}' must be a string, number, boolean or null"),
            ));
        }
    }
    if v.to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(Invalid::field("attributes", "must be at most 16 KiB"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_normalise() {
        assert_eq!(
            parse_email(" Ann@Example.COM "),
            Ok("ann@example.com".into())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@localhost",
            "a b@x.com",
            "<a@x.com>",
            "a@x..com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_normalise() {
        assert_eq!(parse_phone("+1 (415) 555-0100"), Ok("+14155550100".into()));
        assert_eq!(parse_phone("0049 30 1234567"), Ok("+49301234567".into()));
        assert!(parse_phone("4155550100").is_err());
        assert!(parse_phone("+1 415 CALL ME").is_err());
    }

    #[test]
    fn attributes_are_flat() {
        assert!(check_attributes(&serde_json::json!({"plan":"pro","seats":3})).is_ok());
        assert!(check_attributes(&serde_json::json!({"a":{"b":1}})).is_err());
        assert!(check_attributes(&serde_json::json!([1])).is_err());
    }

    proptest! {
        #[test]
        fn identity_parsing_never_panics(kind in 0usize..4, s in "\\PC{0,400}") {
            let _ = Identity::parse(IdentityKind::ALL[kind], &s);
        }

        #[test]
        fn parsed_emails_are_stable(s in "[a-zA-Z0-9._+-]{1,20}@[a-z0-9-]{1,20}\\.[a-z]{2,6}") {
            let once = parse_email(&s).unwrap_or_default();
            prop_assert_eq!(parse_email(&once).unwrap_or_default(), once);
        }
    }
}
