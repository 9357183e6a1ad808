//! Macros: canned replies or notes with placeholders, applying several changes at once.
//!
//! Placeholders are `{{ customer.first_name }}`, optionally with a fallback:
//! `{{ customer.first_name | default: "there" }}`. There is nothing else (no loops, no code),
//! so a template cannot run away; unknown names are refused when the macro is saved.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::automation::Action;
use crate::conversation::string_enum;
use crate::error::{optional_text, required_text};
use crate::{Invalid, InvalidField};

pub const MAX_NAME: usize = 100;
pub const MAX_BODY: usize = 10_000;
pub const MAX_ACTIONS: usize = 10;
/// Placeholders in one template.
const MAX_PLACEHOLDERS: usize = 100;

/// The names a template may use.
pub const VARIABLES: &[&str] = &[
    "customer.name",
    "customer.first_name",
    "customer.email",
    "agent.name",
    "agent.first_name",
    "conversation.id",
    "conversation.subject",
    "workspace.name",
];

string_enum!(
    /// Whether the macro's text goes to the customer or stays internal.
    MacroText, "text_kind" {
        Reply => "reply",
        Note => "note",
    }
);

/// A macro as written; stored as given once valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroInput {
    pub name: String,
    /// Personal macros are seen and used by their owner only.
    #[serde(default)]
    pub personal: bool,
    /// The reply or note to add, with placeholders; none to only change fields.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub text_kind: Option<MacroText>,
    /// Changes made at the same time (status, priority, tags, assignee, team).
    #[serde(default)]
    pub actions: Vec<Action>,
}

impl MacroInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut errors: Vec<InvalidField> = Vec::new();
        if let Err(e) = required_text("name", &self.name, MAX_NAME) {
            errors.extend(e.fields);
        }
        if let Some(body) = &self.body {
            match optional_text("body", body, MAX_BODY) {
                Err(e) => errors.extend(e.fields),
                Ok(_) => {
                    if let Err(m) = parse(body) {
                        errors.push(InvalidField {
                            field: "body".into(),
                            message: m,
                        });
                    }
                }
            }
        }
        let has_body = self.body.as_deref().is_some_and(|b| !b.trim().is_empty());
        if !has_body && self.actions.is_empty() {
            errors.push(InvalidField {
                field: "body".into(),
                message: "give a text, an action, or both".into(),
            });
        }
        if self.actions.len() > MAX_ACTIONS {
            errors.push(InvalidField {
                field: "actions".into(),
                message: format!("at most {MAX_ACTIONS} actions"),
            });
        }
        for (i, a) in self.actions.iter().enumerate() {
            if matches!(a, Action::SendWebhook { .. }) {
                errors.push(InvalidField {
                    field: format!("actions[{i}]"),
                    message: "macros do not send webhooks; rules do".into(),
                });
            }
            if matches!(a, Action::AddNote { .. } | Action::Reply { .. }) {
                errors.push(InvalidField {
                    field: format!("actions[{i}]"),
                    message: "a macro's reply or note is its text (text_kind)".into(),
                });
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid { fields: errors })
        }
    }
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var { name: &'a str, fallback: &'a str },
}

fn parse(src: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut placeholders = 0;
    while let Some(start) = rest.find("{{") {
        out.push(Piece::Text(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a {{ is not closed with }}".to_string())?;
        let inner = after[..end].trim();
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => {
                let f = f.trim();
                let quoted = f
                    .strip_prefix("default:")
                    .map(str::trim)
                    .and_then(|q| q.strip_prefix('"'))
                    .and_then(|q| q.strip_suffix('"'))
                    .ok_or_else(|| {
                        format!("after | write default: \"text\" (in {{{{ {inner} }}}})")
                    })?;
                (n.trim(), quoted)
            }
            None => (inner, ""),
        };
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{{ {name} }}}}; known: {}",
                VARIABLES.join(", ")
            ));
        }
        placeholders += 1;
        if placeholders > MAX_PLACEHOLDERS {
            return Err(format!("at most {MAX_PLACEHOLDERS} placeholders"));
        }
        out.push(Piece::Var { name, fallback });
        rest = &after[end + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks a template's placeholders without filling them.
pub fn check_template(src: &str) -> Result<(), Invalid> {
    parse(src)
        .map(|_| ())
        .map_err(|m| Invalid::field("body", m))
}

/// What placeholders stand for, when a macro is applied.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub customer_name: String,
    pub customer_email: String,
    pub agent_name: String,
    pub conversation_id: i64,
    pub conversation_subject: String,
    pub workspace_name: String,
}

fn first_name(full: &str) -> &str {
    full.split_whitespace().next().unwrap_or("")
}

impl Values {
    fn get(&self, name: &str) -> String {
        match name {
            "customer.name" => self.customer_name.clone(),
            "customer.first_name" => first_name(&self.customer_name).to_string(),
            "customer.email" => self.customer_email.clone(),
            "agent.name" => self.agent_name.clone(),
            "agent.first_name" => first_name(&self.agent_name).to_string(),
            "conversation.id" => self.conversation_id.to_string(),
            "conversation.subject" => self.conversation_subject.clone(),
            "workspace.name" => self.workspace_name.clone(),
            _ => String::new(),
        }
    }
}

/// Fills a template's placeholders; empty values take the fallback.
pub fn render(src: &str, values: &Values) -> Result<String, Invalid> {
    let pieces = parse(src).map_err(|m| Invalid::field("body", m))?;
    let mut out = String::with_capacity(src.len() + 64);
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var { name, fallback } => {
                let v = values.get(name);
                out.push_str(if v.trim().is_empty() { fallback } else { &v });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn values() -> Values {
        Values {
            customer_name: "Ada Lovelace".into(),
            customer_email: "ada@example.com".into(),
            agent_name: "Maya Lopez".into(),
            conversation_id: 42,
            conversation_subject: "Refund".into(),
            workspace_name: "Acme".into(),
        }
    }

    #[test]
    fn placeholders_and_fallbacks() {
        let t = "Hi {{customer.first_name}}, about #{{ conversation.id }} ({{conversation.subject}}): {{ agent.first_name }} from {{workspace.name}}";
        assert_eq!(
            render(t, &values()).unwrap(),
            "Hi Ada, about #42 (Refund): Maya from Acme"
        );
        let nameless = Values {
            customer_name: String::new(),
            ..values()
        };
        assert_eq!(
            render(
                "Hi {{ customer.first_name | default: \"there\" }}!",
                &nameless
            )
            .unwrap(),
            "Hi there!"
        );
        assert_eq!(
            render("no placeholders", &values()).unwrap(),
            "no placeholders"
        );
    }

    #[test]
    fn bad_templates_say_why() {
        for (t, why) in [
            ("Hi {{ customer.password }}", "unknown placeholder"),
            ("Hi {{ customer.name", "not closed"),
            ("Hi {{ customer.name | upper }}", "default:"),
        ] {
            let err = render(t, &values()).unwrap_err();
            assert!(err.fields[0].message.contains(why), "{t}: {err}");
        }
        let many = "{{ agent.name }}".repeat(MAX_PLACEHOLDERS + 1);
        assert!(render(&many, &values()).is_err());
    }

    #[test]
    fn macros_are_checked() {
        let ok = MacroInput {
            name: "Refund done".into(),
            personal: false,
            body: Some("Done, {{ customer.first_name }}.".into()),
            text_kind: None,
            actions: vec![],
        };
        assert!(ok.validate().is_ok());
        let empty = MacroInput {
            body: None,
            ..ok.clone()
        };
        assert_eq!(empty.validate().unwrap_err().fields[0].field, "body");
        let note = MacroInput {
            actions: vec![Action::AddNote { text: "x".into() }],
            ..ok
        };
        assert_eq!(note.validate().unwrap_err().fields[0].field, "actions[0]");
    }

    proptest! {
        #[test]
        fn rendering_never_panics_and_text_passes_through(s in ".{0,200}") {
            if let Ok(out) = render(&s, &values())
                && !s.contains("{{")
            {
                prop_assert_eq!(out, s);
            }
        }
    }
}
