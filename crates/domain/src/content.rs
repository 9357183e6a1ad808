//! Message bodies: customers send HTML we must never trust. We keep a sanitised HTML copy
//! for display and a plain-text copy for search, previews and channels without HTML.

use std::sync::LazyLock;

use crate::Invalid;

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    // Links open outside the app and never leak the referrer; images from mail are not loaded
    // by default (tracking pixels), so no <img> survives.
    b.link_rel(Some("noopener noreferrer nofollow"))
        .rm_tags(["img"])
        .url_schemes(["http", "https", "mailto", "tel"].into_iter().collect());
    b
});

/// A message body in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub text: String,
    pub html: String,
}

impl Body {
    /// From plain text: the HTML form escapes everything and keeps line breaks.
    pub fn from_text(raw: &str) -> Result<Self, Invalid> {
        let text = check_body(raw)?;
        let html = escape_html(&text).replace('\n', "<br>");
        Ok(Self { text, html })
    }

    /// From untrusted HTML: sanitised on the way in, with a text version derived from it.
    pub fn from_html(raw: &str) -> Result<Self, Invalid> {
        if raw.len() > crate::conversation::MAX_BODY * 4 {
            return Err(Invalid::field("html", "is too large (at most 400 KB)"));
        }
        let html = sanitize_html(raw);
        let text = html_to_text(&html);
        let text = check_body(&text)?;
        Ok(Self { text, html })
    }
}

/// Marks where a body that was too long was cut; the whole message stays in the original.
pub const TRUNCATED: &str = "\n\n[… cut here: the message is longer; the original keeps all of it]";

impl Body {
    /// From a message someone already sent us (mail, a provider's webhook): nothing may be
    /// refused at this point, so an empty body gets a placeholder and a long one is cut.
    pub fn from_received(text: Option<&str>, html: Option<&str>) -> Self {
        let html = html.map(|h| {
            // ammonia's cost grows with the input: cut huge markup before cleaning it.
            let h = cut_at_char_boundary(h, crate::conversation::MAX_BODY * 4);
            sanitize_html(h)
        });
        let text = match (text, &html) {
            (Some(t), _) if !t.trim().is_empty() => t.replace("\r\n", "\n").replace('\0', ""),
            (_, Some(h)) => html_to_text(h),
            _ => String::new(),
        };
        let mut text = text.trim_end().trim_start_matches(['\n', '\r']).to_string();
        if text.trim().is_empty() {
            text = "(no text)".to_string();
        }
        if text.chars().count() > crate::conversation::MAX_BODY {
            let keep = crate::conversation::MAX_BODY - TRUNCATED.chars().count();
            text = text.chars().take(keep).collect::<String>() + TRUNCATED;
        }
        let html = match html {
            Some(h) if !h.trim().is_empty() => h,
            _ => escape_html(&text).replace('\n', "<br>"),
        };
        Self { text, html }
    }
}

/// At most `max` bytes of `s`, cut where a character starts.
pub fn cut_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn check_body(raw: &str) -> Result<String, Invalid> {
    let text = raw.trim_end().trim_start_matches(['\n', '\r']).to_string();
    if text.trim().is_empty() {
        return Err(Invalid::field("body", "must not be empty"));
    }
    let n = text.chars().count();
    if n > crate::conversation::MAX_BODY {
        return Err(Invalid::field(
            "body",
            format!(
                "must be at most {} characters (got {n})",
                crate::conversation::MAX_BODY
            ),
        ));
    }
    if text.contains('\0') {
        return Err(Invalid::field("body", "must not contain NUL characters"));
    }
    Ok(text)
}

/// Whether a file's stated type looks like a media type (`type/subtype`, maybe with
/// parameters) short enough to store and send back in a header.
pub fn is_media_type(s: &str) -> bool {
    s.len() <= 100
        && s.contains('/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/.+-;= ".contains(c))
}

pub fn sanitize_html(raw: &str) -> String {
    SANITIZER.clean(raw).to_string()
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Plain text from sanitised HTML: block elements become line breaks, entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "blockquote"
        ) && !out.ends_with('\n')
        {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let decoded = decode_entities(&out);
    let mut lines: Vec<&str> = decoded.lines().map(str::trim_end).collect();
    lines.dedup_by(|a, b| a.is_empty() && b.is_empty());
    lines.join("\n").trim().to_string()
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(semi) = after.find(';').filter(|&i| i <= 12) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "#39" | "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scripts_never_survive() {
        let b = Body::from_html(r#"<p onclick="x()">Hi<script>alert(1)</script><img src=x onerror=alert(2)></p><a href="javascript:alert(3)">l</a>"#).unwrap();
        assert!(!b.html.contains("script"));
        assert!(!b.html.contains("onerror"));
        assert!(!b.html.contains("onclick"));
        assert!(!b.html.contains("javascript:"));
        assert_eq!(b.text, "Hi\nl");
    }

    #[test]
    fn text_is_escaped() {
        let b = Body::from_text("<b>hi</b> & bye\nline 2").unwrap();
        assert_eq!(b.html, "&lt;b&gt;hi&lt;/b&gt; &amp; bye<br>line 2");
    }

    #[test]
    fn empty_and_huge_bodies_are_refused() {
        assert!(Body::from_text("   \n").is_err());
        assert!(Body::from_text(&"a".repeat(100_001)).is_err());
        assert!(Body::from_html("<p> </p>").is_err());
    }

    #[test]
    fn entities_decode() {
        assert_eq!(
            html_to_text("a&amp;b &lt;c&gt; &#233; &#xe9; &bogus; &"),
            "a&b <c> é é &bogus; &"
        );
    }

    proptest! {
        #[test]
        fn html_handling_never_panics(s in "\\PC{0,300}") {
            let _ = Body::from_html(&s);
            let _ = html_to_text(&s);
        }
    }
}
