use crate::Invalid;

/// A workspace's URL-safe short name: 2..=40 of a-z, 0-9 and '-', not starting or ending with '-'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim().to_ascii_lowercase();
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !(2..=40).contains(&s.len()) || !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err(Invalid::field(
                "workspace",
                "slug must be 2-40 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password good enough to protect a help desk: 10..=256 characters.
pub fn check_password(p: &str) -> Result<(), Invalid> {
    let n = p.chars().count();
    if n < 10 {
        return Err(Invalid::field("password", "must be at least 10 characters"));
    }
    if n > 256 {
        return Err(Invalid::field("password", "must be at most 256 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(Slug::parse(" Acme-2 ").map(|s| s.0), Ok("acme-2".into()));
        assert!(Slug::parse("a").is_err());
        assert!(Slug::parse("-acme").is_err());
        assert!(Slug::parse("ac me").is_err());
        assert!(Slug::parse("acmé").is_err());
    }

    #[test]
    fn passwords() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough password").is_ok());
    }
}
