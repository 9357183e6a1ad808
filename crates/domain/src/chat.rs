//! The live-chat widget: its settings (greeting, colour, the sites allowed to embed it, where
//! offline messages go), the visitor's own details, and which web origins may talk to it.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{Invalid, InvalidField, optional_text};

/// Sites one widget may be embedded on.
pub const MAX_ORIGINS: usize = 20;
/// Longest chat message a visitor may send, in characters.
pub const MAX_VISITOR_TEXT: usize = 5_000;
/// Largest file a visitor may upload.
pub const MAX_VISITOR_FILE: usize = 10 * 1024 * 1024;
/// How long "typing" lasts without a new keystroke report.
pub const TYPING_MS: i64 = 6_000;

/// Widget settings as an administrator gives them.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetInput {
    /// The first words visitors see.
    #[serde(default)]
    pub greeting: Option<String>,
    /// `#rrggbb` for the launcher and the visitor's bubbles.
    #[serde(default)]
    pub color: Option<String>,
    /// Sites allowed to embed the widget, like `https://www.example.com`; empty: any site.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// The email inbox offline messages go to (replies then go by email); none: the first
    /// email inbox with an address.
    #[serde(default)]
    pub offline_inbox_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidWidget {
    pub greeting: String,
    pub color: String,
    pub allowed_origins: Vec<String>,
    pub offline_inbox_id: Option<i64>,
}

pub const DEFAULT_GREETING: &str = "Hi! How can we help?";
pub const DEFAULT_COLOR: &str = "#1d5fbf";

impl WidgetInput {
    pub fn validate(&self) -> Result<ValidWidget, Invalid> {
        let mut errors: Vec<InvalidField> = Vec::new();
        let greeting = match optional_text("greeting", self.greeting.as_deref().unwrap_or(""), 500)
        {
            Ok(g) if g.is_empty() => DEFAULT_GREETING.to_string(),
            Ok(g) => g,
            Err(e) => {
                errors.extend(e.fields);
                String::new()
            }
        };
        let color = self
            .color
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(DEFAULT_COLOR)
            .to_ascii_lowercase();
        if !(color.len() == 7
            && color.starts_with('#')
            && color[1..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            errors.push(InvalidField {
                field: "color".into(),
                message: "must be a colour like #1d5fbf".into(),
            });
        }
        let mut origins = Vec::new();
        let given = self.allowed_origins.clone().unwrap_or_default();
        if given.len() > MAX_ORIGINS {
            errors.push(InvalidField {
                field: "allowed_origins".into(),
                message: format!("must list at most {MAX_ORIGINS} sites"),
            });
        }
        for raw in given.iter().take(MAX_ORIGINS) {
            match origin_of(raw) {
                Some(o) => {
                    if !origins.contains(&o) {
                        origins.push(o);
                    }
                }
                None if raw.trim().is_empty() => {}
                None => errors.push(InvalidField {
                    field: "allowed_origins".into(),
                    message: format!(
                        "'{}' is not a site address like https://www.example.com",
                        raw.chars().take(80).collect::<String>()
                    ),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(Invalid { fields: errors });
        }
        Ok(ValidWidget {
            greeting,
            color,
            allowed_origins: origins,
            offline_inbox_id: self.offline_inbox_id,
        })
    }
}

/// The origin (`scheme://host[:port]`) of a site address, lower-cased, if it is one.
pub fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    if !(url.path() == "/" || url.path().is_empty()) || url.query().is_some() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Whether a page at `origin` may use the widget. No list means any site; a request without
/// an Origin (not from a browser page) is judged by its token alone.
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    match origin {
        None => true,
        Some(o) => allowed.is_empty() || allowed.iter().any(|a| a.eq_ignore_ascii_case(o)),
    }
}

/// What a visitor tells about themselves.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorDetails {
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
}

/// A message left while nobody is online: it becomes an email conversation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineMessage {
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_origins() {
        let w = WidgetInput::default().validate().unwrap();
        assert_eq!(
            (w.greeting.as_str(), w.color.as_str()),
            (DEFAULT_GREETING, DEFAULT_COLOR)
        );
        let w = WidgetInput {
            allowed_origins: Some(vec![
                "https://WWW.Example.com/".into(),
                "https://www.example.com".into(),
                "http://localhost:3000".into(),
                " ".into(),
            ]),
            ..WidgetInput::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            w.allowed_origins,
            ["https://www.example.com", "http://localhost:3000"]
        );
        assert!(origin_allowed(
            &w.allowed_origins,
            Some("https://www.example.com")
        ));
        assert!(!origin_allowed(
            &w.allowed_origins,
            Some("https://evil.example")
        ));
        assert!(origin_allowed(&[], Some("https://anything.example")));
        assert!(origin_allowed(&w.allowed_origins, None));
    }

    #[test]
    fn bad_settings_are_named() {
        let e = WidgetInput {
            greeting: Some("x".repeat(501)),
            color: Some("blue".into()),
            allowed_origins: Some(vec![
                "javascript:alert(1)".into(),
                "https://a.example/path".into(),
            ]),
            offline_inbox_id: None,
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"greeting") && fields.contains(&"color"));
        assert_eq!(
            fields.iter().filter(|f| **f == "allowed_origins").count(),
            2
        );
    }
}
