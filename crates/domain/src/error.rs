use serde::Serialize;

/// One rejected input field, with a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

/// Input that does not make a valid domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct Invalid {
    pub fields: Vec<InvalidField>,
}

impl Invalid {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            fields: vec![InvalidField {
                field: field.into(),
                message: message.into(),
            }],
        }
    }

    fn summary(&self) -> String {
        self.fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Checks a required free-text field: trimmed, not empty, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Invalid::field(field, "must not be empty"));
    }
    optional_text(field, trimmed, max)
}

/// Checks an optional free-text field's length; returns the trimmed value.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(Invalid::field(
            field,
            format!("must be at most {max} characters (got {chars})"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Invalid::field(field, "must not contain control characters"));
    }
    Ok(trimmed.to_string())
}
