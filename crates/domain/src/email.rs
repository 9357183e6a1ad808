//! Email as Citius reads and writes it: what a received message says (sender, thread,
//! text, files, whether a machine sent it), how our own mail is signed so replies find their
//! conversation, and where quoted text starts. Free of IO: the SMTP listener, the IMAP poller
//! and the sender all come through here.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hmac::{Hmac, Mac};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::content::{Body, cut_at_char_boundary};
use crate::customer::parse_email;

/// Largest message accepted (the SMTP SIZE we announce), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
/// Recipients in one SMTP transaction.
pub const MAX_RECIPIENTS: usize = 100;
/// Files kept from one message; the rest are listed in the original only.
pub const MAX_ATTACHMENTS: usize = 50;
/// Message ids followed when threading (In-Reply-To and the newest References).
const MAX_REFERENCES: usize = 50;

/// Why a message cannot be taken in. The text goes back to the sending server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("message is larger than {} bytes", MAX_MESSAGE_BYTES)]
    TooLarge,
    #[error("message is empty")]
    Empty,
    #[error("message cannot be parsed as MIME")]
    Unparseable,
    #[error("message has no usable From address")]
    NoSender,
}

/// A mailbox: an address and perhaps a display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// A file carried by a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFile {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Why a message was sent by a machine rather than a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// Auto-Submitted, X-Autoreply and friends: out-of-office and other auto-replies.
    AutoReply,
    /// Precedence bulk/junk/list or a mailing list's headers.
    Bulk,
}

impl Automatic {
    pub fn as_str(self) -> &'static str {
        match self {
            Automatic::AutoReply => "auto_reply",
            Automatic::Bulk => "bulk",
        }
    }
}

/// A delivery failure report about a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-ID of the message that failed, if the report quotes it.
    pub original_message_id: Option<String>,
    /// The remote server's explanation (Diagnostic-Code or Status), or a summary.
    pub diagnostic: String,
}

/// A received message, read and made safe.
#[derive(Debug, Clone)]
pub struct ParsedMail {
    /// Message-ID without angle brackets; one is made up from the content when missing.
    pub message_id: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    /// Ids this message answers, most specific first (In-Reply-To, then References newest first).
    pub references: Vec<String>,
    pub body: Body,
    /// Where quoted text or a signature starts in `body.text` (characters).
    pub fold_at: Option<usize>,
    pub files: Vec<MailFile>,
    pub automatic: Option<Automatic>,
    pub bounce: Option<Bounce>,
    /// Identifies this message among redeliveries of it (same Message-ID and same body).
    pub dedupe_key: String,
}

impl ParsedMail {
    /// The address replies go to: Reply-To when given, else From.
    pub fn reply_address(&self) -> &str {
        self.reply_to
            .as_ref()
            .map_or(&self.from.address, |m| &m.address)
    }
}

/// Reads a raw RFC 5322 message. Never panics: the parser runs behind a guard, and a panic in
/// it is reported as an unparseable message.
pub fn parse(raw: &[u8]) -> Result<ParsedMail, Refusal> {
    parse_with_envelope(raw, None)
}

/// Like [`parse`], with the sender the transport named (SMTP `MAIL FROM`) to fall back on when
/// the message's own headers name none.
pub fn parse_with_envelope(raw: &[u8], envelope_from: Option<&str>) -> Result<ParsedMail, Refusal> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(Refusal::TooLarge);
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::Empty);
    }
    match catch_unwind(AssertUnwindSafe(|| parse_unguarded(raw, envelope_from))) {
        Ok(r) => r,
        Err(_) => Err(Refusal::Unparseable),
    }
}

fn parse_unguarded(raw: &[u8], envelope_from: Option<&str>) -> Result<ParsedMail, Refusal> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(Refusal::Unparseable)?;
    if msg.headers().is_empty() {
        return Err(Refusal::Unparseable);
    }
    let bounce = bounce_report(&msg);
    let from = first_mailbox(msg.from())
        .or_else(|| first_mailbox(msg.sender()))
        .or_else(|| {
            // The return path the transport recorded, then the one it told us.
            let path = msg.return_path().as_text().map(str::to_string);
            path.as_deref()
                .or(envelope_from)
                .and_then(|a| parse_email(a.trim_matches(['<', '>'])).ok())
                .map(|address| Mailbox {
                    address,
                    name: None,
                })
        })
        .or_else(|| {
            // A report from a mail server may come without a usable From.
            bounce.as_ref().map(|_| Mailbox {
                address: "mailer-daemon@invalid.invalid".into(),
                name: Some("Mail Delivery System".into()),
            })
        })
        .ok_or(Refusal::NoSender)?;
    let reply_to = first_mailbox(msg.reply_to());
    let subject = msg
        .subject()
        .map(|s| clean_line(s, crate::conversation::MAX_SUBJECT))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(no subject)".to_string());
    let mut references: Vec<String> = Vec::new();
    for v in [msg.in_reply_to(), msg.references()] {
        let mut ids = id_list(v);
        // References run oldest to newest: the newest are the most specific.
        ids.reverse();
        for id in ids {
            if !references.contains(&id) && references.len() < MAX_REFERENCES {
                references.push(id);
            }
        }
    }
    let text = (!msg.text_body.is_empty())
        .then(|| msg.body_text(0))
        .flatten();
    let html = msg
        .html_body
        .first()
        .and_then(|&i| msg.part(i))
        .and_then(|p| match &p.body {
            PartType::Html(h) => Some(h.as_ref()),
            _ => None,
        });
    let body = Body::from_received(text.as_deref(), html);
    let fold_at = fold_point(&body.text);
    let files = files(&msg);
    let message_id = msg
        .message_id()
        .map(|id| clean_line(id, 500))
        .filter(|id| !id.is_empty());
    let dedupe_key = dedupe_key(raw, message_id.as_deref(), &from.address, &subject);
    let message_id =
        message_id.unwrap_or_else(|| format!("{}@missing-id.invalid", &dedupe_key[..32]));
    Ok(ParsedMail {
        message_id,
        automatic: if bounce.is_some() {
            None
        } else {
            automatic(&msg)
        },
        from,
        reply_to,
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        subject,
        references,
        body,
        fold_at,
        files,
        bounce,
        dedupe_key,
    })
}

fn first_mailbox(a: Option<&Address<'_>>) -> Option<Mailbox> {
    a?.iter().find_map(|addr| {
        let address = parse_email(addr.address()?).ok()?;
        let name = addr
            .name()
            .map(|n| clean_line(n, 200))
            .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&address));
        Some(Mailbox { address, name })
    })
}

/// Every address in a header, groups flattened, invalid ones left out.
fn addresses(a: Option<&Address<'_>>) -> Vec<String> {
    let Some(a) = a else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    for addr in a.iter() {
        if let Some(e) = addr.address().and_then(|s| parse_email(s).ok())
            && !out.contains(&e)
            && out.len() < MAX_RECIPIENTS
        {
            out.push(e);
        }
    }
    out
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    v.as_text_list()
        .map(|l| {
            l.iter()
                .map(|s| clean_line(s, 500))
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// One line of header text: control characters gone, whitespace folded, at most `max` characters.
fn clean_line(s: &str, max: usize) -> String {
    let folded: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect();
    folded.trim_matches(['<', '>']).trim().to_string()
}

fn header_text<'a>(msg: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

fn automatic(msg: &mail_parser::Message<'_>) -> Option<Automatic> {
    let has = |name: &str| header_text(msg, name).is_some();
    if let Some(v) = header_text(msg, "Auto-Submitted")
        && !v.eq_ignore_ascii_case("no")
    {
        return Some(Automatic::AutoReply);
    }
    if has("X-Autoreply") || has("X-Autorespond") || has("X-Autoresponse") {
        return Some(Automatic::AutoReply);
    }
    if let Some(v) = header_text(msg, "Precedence") {
        let v = v.to_ascii_lowercase();
        if v == "auto_reply" {
            return Some(Automatic::AutoReply);
        }
        if matches!(v.as_str(), "bulk" | "junk" | "list") {
            return Some(Automatic::Bulk);
        }
    }
    if has("List-Id") || has("List-Unsubscribe") {
        return Some(Automatic::Bulk);
    }
    None
}

/// Reads a delivery status notification (RFC 3464), the common form of a bounce.
fn bounce_report(msg: &mail_parser::Message<'_>) -> Option<Bounce> {
    let root = msg.root_part();
    let is_report = root.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    if !is_report {
        return None;
    }
    let mut diagnostic = None;
    let mut original = None;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        match (ct.ctype().to_ascii_lowercase().as_str(), sub.as_str()) {
            ("message", "delivery-status") => {
                let text = String::from_utf8_lossy(part.contents());
                let field = |name: &str| {
                    text.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_string())
                    })
                };
                diagnostic = field("Diagnostic-Code").or_else(|| field("Status"));
            }
            ("message", "rfc822") | ("message", "global") => {
                if let Some(m) = part.message() {
                    original = m.message_id().map(|s| clean_line(s, 500));
                }
                if original.is_none() {
                    original = message_id_in_headers(&String::from_utf8_lossy(part.contents()));
                }
            }
            ("text", "rfc822-headers") => {
                original = message_id_in_headers(&String::from_utf8_lossy(part.contents()));
            }
            _ => {}
        }
    }
    Some(Bounce {
        original_message_id: original.filter(|s| !s.is_empty()),
        diagnostic: clean_line(
            diagnostic
                .as_deref()
                .unwrap_or("the receiving server refused the message"),
            500,
        ),
    })
}

fn message_id_in_headers(headers: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("Message-ID")
            .then(|| clean_line(v, 500))
    })
}

fn files(msg: &mail_parser::Message<'_>) -> Vec<MailFile> {
    let mut out = Vec::new();
    for (n, part) in msg.attachments().enumerate() {
        if out.len() >= MAX_ATTACHMENTS {
            break;
        }
        let data = part.contents();
        if data.is_empty() {
            continue;
        }
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(s) => format!("{}/{}", ct.ctype(), s),
                None => ct.ctype().to_string(),
            })
            .map(|t| t.to_ascii_lowercase())
            .filter(|t| t.len() <= 100 && t.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or_else(|| match &part.body {
                PartType::Message(_) => "message/rfc822".to_string(),
                PartType::Text(_) => "text/plain".to_string(),
                _ => "application/octet-stream".to_string(),
            });
        let filename = part
            .attachment_name()
            .map(safe_filename)
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| default_filename(n + 1, &content_type));
        out.push(MailFile {
            filename,
            content_type,
            data: data.to_vec(),
        });
    }
    out
}

/// A file name a browser and a file system both accept: no paths, no control characters.
pub fn safe_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !"<>:\"|?*".contains(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.');
    cut_at_char_boundary(cleaned, 200).to_string()
}

fn default_filename(n: usize, content_type: &str) -> String {
    let ext = match content_type {
        "message/rfc822" => "eml",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        _ => "bin",
    };
    format!("attachment-{n}.{ext}")
}

/// Identifies a message among redeliveries: its Message-ID and the bytes after its header
/// (servers on the way add headers, never change the body). Without a Message-ID the sender
/// and subject stand in for it.
fn dedupe_key(raw: &[u8], message_id: Option<&str>, from: &str, subject: &str) -> String {
    let body_start = find(raw, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| find(raw, b"\n\n").map(|i| i + 2))
        .unwrap_or(raw.len());
    let mut h = Sha256::new();
    match message_id {
        Some(id) => h.update(format!("id:{id}\n")),
        None => h.update(format!("from:{from}\nsubject:{subject}\n")),
    }
    // Line endings differ by transport (SMTP CRLF, IMAP, files), and clients end the data
    // with or without an extra line break: neither is content.
    let mut body = &raw[body_start..];
    while let [rest @ .., b'\r' | b'\n' | b' ' | b'\t'] = body {
        body = rest;
    }
    for b in body {
        if *b != b'\r' {
            h.update([*b]);
        }
    }
    hex::encode(h.finalize())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---- Quoted text -----------------------------------------------------------------------

/// Where the part of a reply that repeats earlier mail (or the sender's signature) starts, in
/// characters, if something of the sender's own words comes before it.
pub fn fold_point(text: &str) -> Option<usize> {
    let mut offset = 0; // characters before the current line
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim_end_matches('\r');
        let t = l.trim();
        let next_quoted = lines
            .get(i + 1)
            .is_some_and(|n| n.trim_start().starts_with('>'))
            || lines.get(i + 1).is_some_and(|n| n.trim().is_empty())
                && lines
                    .get(i + 2)
                    .is_some_and(|n| n.trim_start().starts_with('>'));
        let starts_fold = l == "-- "
            || l == "--"
            || t.starts_with('>') && i > 0
            || is_attribution(t) && (next_quoted || t.ends_with(':'))
            || is_original_marker(t)
            || is_outlook_header(&lines, i);
        if starts_fold {
            let before = &text[..text
                .char_indices()
                .nth(offset)
                .map_or(text.len(), |(b, _)| b)];
            if before.trim().is_empty() {
                return None;
            }
            return Some(offset);
        }
        offset += line.chars().count() + 1;
    }
    None
}

/// "On Mon, 3 Jun 2024 at 10:00, Ann <ann@example.com> wrote:" and its usual translations.
fn is_attribution(t: &str) -> bool {
    let lower = t.to_lowercase();
    let ends = [
        "wrote:",
        "writes:",
        "schrieb:",
        "a écrit :",
        "a écrit:",
        "escribió:",
        "scrisse:",
        "schreef:",
        "skrev:",
        "napisał:",
        "escreveu:",
    ];
    ends.iter().any(|e| lower.ends_with(e)) && lower.chars().count() < 300
}

fn is_original_marker(t: &str) -> bool {
    let lower = t.to_lowercase();
    (lower.starts_with("-----")
        && (lower.contains("original message")
            || lower.contains("ursprüngliche nachricht")
            || lower.contains("forwarded message")))
        || (t.len() >= 20 && t.chars().all(|c| c == '_'))
}

/// Outlook quotes with a header block: "From: …" followed by "Sent: …" or "Date: …".
fn is_outlook_header(lines: &[&str], i: usize) -> bool {
    let t = lines[i].trim();
    let next = lines.get(i + 1).map_or("", |l| l.trim());
    (t.starts_with("From:") || t.starts_with("Von:") || t.starts_with("De :"))
        && (next.starts_with("Sent:")
            || next.starts_with("Date:")
            || next.starts_with("Gesendet:")
            || next.starts_with("Envoyé :"))
        && i > 0
}

// ---- Reply tokens ----------------------------------------------------------------------

/// The conversation a signed token in our outgoing mail names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyToken {
    pub workspace_id: i64,
    pub conversation_id: i64,
}

const TOKEN_MAC_BYTES: usize = 10;

impl ReplyToken {
    /// `c<conversation>w<workspace>-<mac>`: lower case, so it survives mail systems that change
    /// the case of addresses.
    pub fn sign(self, key: &[u8]) -> String {
        format!(
            "c{}w{}-{}",
            self.conversation_id,
            self.workspace_id,
            hex::encode(self.mac(key))
        )
    }

    fn mac(self, key: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        m.update(format!("reply-token:{}:{}", self.workspace_id, self.conversation_id).as_bytes());
        m.finalize().into_bytes()[..TOKEN_MAC_BYTES].to_vec()
    }

    /// The token in `s` (a Message-ID's or an address's local part), if its signature is ours.
    pub fn verify(s: &str, key: &[u8]) -> Option<ReplyToken> {
        let s = s.to_ascii_lowercase();
        let rest = s.strip_prefix('c')?;
        let (conv, rest) = rest.split_once('w')?;
        let (ws, mac) = rest.split_once('-')?;
        let mac = mac.get(..TOKEN_MAC_BYTES * 2)?;
        let token = ReplyToken {
            conversation_id: conv.parse().ok()?,
            workspace_id: ws.parse().ok()?,
        };
        let mac = hex::decode(mac).ok()?;
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        m.update(
            format!(
                "reply-token:{}:{}",
                token.workspace_id, token.conversation_id
            )
            .as_bytes(),
        );
        m.verify_truncated_left(&mac).ok()?;
        Some(token)
    }

    /// A Message-ID for an outgoing message that carries this token.
    pub fn message_id(self, key: &[u8], unique: &str, domain: &str) -> String {
        format!("{}.{unique}@{domain}", self.sign(key))
    }

    /// The address replies should go to: the inbox address with the token after a '+'.
    pub fn reply_address(self, key: &[u8], inbox_address: &str) -> String {
        match inbox_address.split_once('@') {
            Some((local, domain)) => format!("{local}+{}@{domain}", self.sign(key)),
            None => inbox_address.to_string(),
        }
    }

    /// The first valid token among Message-IDs a reply refers to.
    pub fn in_references<'a>(ids: impl IntoIterator<Item = &'a str>, key: &[u8]) -> Option<Self> {
        ids.into_iter().find_map(|id| {
            let local = id.split('@').next()?;
            let first = local.split('.').next()?;
            Self::verify(first, key)
        })
    }
}

/// An inbox address and what follows a '+' in it: `support+c12w3-…@acme.test` is
/// `("support@acme.test", Some("c12w3-…"))`.
pub fn split_plus_address(address: &str) -> (String, Option<String>) {
    let a = address.trim().trim_matches(['<', '>']).to_ascii_lowercase();
    match a.split_once('@') {
        Some((local, domain)) => match local.split_once('+') {
            Some((base, tag)) => (format!("{base}@{domain}"), Some(tag.to_string())),
            None => (a.clone(), None),
        },
        None => (a.clone(), None),
    }
}

/// "Re: " once, however the customer's mail client wrote its own.
pub fn reply_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let stripped = ["re:", "aw:", "sv:", "fw:", "fwd:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| s[p.len()..].trim_start());
        match stripped {
            Some(rest) => s = rest,
            None => break,
        }
    }
    format!("Re: {s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    #[test]
    fn plain_message() {
        let m = parse(&mail(
            "From: Ann Lee <Ann@Example.com>\r\nTo: support@acme.test\r\nSubject: Broken\r\nMessage-ID: <abc@example.com>",
            "It does not start.\r\n",
        ))
        .unwrap();
        assert_eq!(m.from.address, "ann@example.com");
        assert_eq!(m.from.name.as_deref(), Some("Ann Lee"));
        assert_eq!(m.to, vec!["support@acme.test"]);
        assert_eq!(m.subject, "Broken");
        assert_eq!(m.message_id, "abc@example.com");
        assert_eq!(m.body.text, "It does not start.");
        assert!(m.automatic.is_none() && m.bounce.is_none());
    }

    #[test]
    fn html_is_sanitised_and_text_kept() {
        let m = parse(&mail(
            "From: a@example.com\r\nSubject: x\r\nContent-Type: multipart/alternative; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nHello plain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p onclick=\"x()\">Hello <script>alert(1)</script><b>html</b></p>\r\n--b--\r\n",
        ))
        .unwrap();
        assert_eq!(m.body.text, "Hello plain");
        assert!(m.body.html.contains("<b>html</b>"));
        assert!(!m.body.html.contains("script") && !m.body.html.contains("onclick"));
    }

    #[test]
    fn charsets_and_encoded_words() {
        let m = parse(&mail(
            "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.de>\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable",
            "Sch=F6ne Gr=FC=DFe\r\n",
        ))
        .unwrap();
        assert_eq!(m.from.name.as_deref(), Some("Jörg"));
        assert_eq!(m.subject, "Grüße");
        assert_eq!(m.body.text, "Schöne Grüße");
    }

    #[test]
    fn group_addresses_are_flattened() {
        let m = parse(&mail(
            "From: a@example.com\r\nTo: Team: b@example.com, c@example.com;, d@example.com\r\nSubject: x",
            "hi",
        ))
        .unwrap();
        assert_eq!(
            m.to,
            vec!["b@example.com", "c@example.com", "d@example.com"]
        );
    }

    #[test]
    fn attachments_and_attached_messages() {
        let m = parse(&mail(
            "From: a@example.com\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n\
             --b\r\nContent-Type: application/pdf; name=\"../../etc/report.pdf\"\r\nContent-Disposition: attachment; filename=\"../../etc/report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
             --b\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@example.com\r\nSubject: inner\r\n\r\ninner body\r\n\
             --b--\r\n",
        ))
        .unwrap();
        assert_eq!(m.body.text, "See attached");
        assert_eq!(
            m.files.len(),
            2,
            "{:?}",
            m.files.iter().map(|f| &f.filename).collect::<Vec<_>>()
        );
        assert_eq!(m.files[0].filename, "report.pdf");
        assert_eq!(m.files[0].content_type, "application/pdf");
        assert_eq!(m.files[0].data, b"%PDF-1.4\n");
        assert_eq!(m.files[1].content_type, "message/rfc822");
        assert!(m.files[1].filename.ends_with(".eml"));
    }

    #[test]
    fn missing_headers_and_garbage() {
        assert_eq!(parse(b"").unwrap_err(), Refusal::Empty);
        assert_eq!(
            parse(b"Subject: x\r\n\r\nno sender").unwrap_err(),
            Refusal::NoSender
        );
        let m = parse(b"From: a@example.com\r\n\r\n").unwrap();
        assert_eq!(m.subject, "(no subject)");
        assert_eq!(m.body.text, "(no text)");
        assert!(m.message_id.ends_with("@missing-id.invalid"));
        assert!(parse(&vec![b'x'; MAX_MESSAGE_BYTES + 1]).is_err());
    }

    #[test]
    fn the_envelope_names_a_sender_the_headers_do_not() {
        let raw = b"Subject: x\r\nReturn-Path: <bounce@example.com>\r\n\r\nhi";
        assert_eq!(parse(raw).unwrap().from.address, "bounce@example.com");
        let raw = b"Subject: x\r\n\r\nhi";
        assert_eq!(
            parse_with_envelope(raw, Some("Env@Example.com"))
                .unwrap()
                .from
                .address,
            "env@example.com"
        );
    }

    #[test]
    fn machines_are_recognised() {
        let auto = |h: &str| {
            parse(&mail(
                &format!("From: a@example.com\r\nSubject: x\r\n{h}"),
                "away",
            ))
            .unwrap()
            .automatic
        };
        assert_eq!(
            auto("Auto-Submitted: auto-replied"),
            Some(Automatic::AutoReply)
        );
        assert_eq!(auto("Auto-Submitted: no"), None);
        assert_eq!(auto("X-Autoreply: yes"), Some(Automatic::AutoReply));
        assert_eq!(auto("Precedence: bulk"), Some(Automatic::Bulk));
        assert_eq!(auto("List-Id: <news.example.com>"), Some(Automatic::Bulk));
        assert_eq!(auto("X-Mailer: x"), None);
    }

    #[test]
    fn bounces_name_the_failed_message() {
        let m = parse(&mail(
            "From: MAILER-DAEMON@mx.example.com\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b",
            "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
             --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\
             --b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@acme.test\r\nMessage-ID: <c1w1-00.x@acme.test>\r\nSubject: Re: help\r\n\
             --b--\r\n",
        ))
        .unwrap();
        let b = m.bounce.unwrap();
        assert_eq!(
            b.original_message_id.as_deref(),
            Some("c1w1-00.x@acme.test")
        );
        assert_eq!(b.diagnostic, "smtp; 550 5.1.1 User unknown");
    }

    #[test]
    fn threading_ids_most_specific_first() {
        let m = parse(&mail(
            "From: a@example.com\r\nSubject: Re: x\r\nIn-Reply-To: <c@x>\r\nReferences: <a@x> <b@x> <c@x>",
            "ok",
        ))
        .unwrap();
        assert_eq!(m.references, vec!["c@x", "b@x", "a@x"]);
    }

    #[test]
    fn redeliveries_share_a_key() {
        let a = mail(
            "Received: from one\r\nFrom: a@example.com\r\nMessage-ID: <1@x>\r\nSubject: s",
            "body\r\n",
        );
        let b = mail(
            "Received: from two\r\nReceived: from one\r\nFrom: a@example.com\r\nMessage-ID: <1@x>\r\nSubject: s",
            "body\n\r\n",
        );
        let c = mail(
            "From: a@example.com\r\nMessage-ID: <1@x>\r\nSubject: s",
            "other body\r\n",
        );
        let (a, b, c) = (parse(&a).unwrap(), parse(&b).unwrap(), parse(&c).unwrap());
        assert_eq!(a.dedupe_key, b.dedupe_key);
        assert_ne!(a.dedupe_key, c.dedupe_key);
    }

    #[test]
    fn quoted_text_and_signatures_fold() {
        let t = "Thanks, that worked.\n\nOn Mon, 3 Jun 2024, Support <s@acme.test> wrote:\n> Try again\n> please";
        assert_eq!(
            fold_point(t),
            Some("Thanks, that worked.\n\n".chars().count())
        );
        let t = "Yes please.\n-- \nAnn Lee\nACME";
        assert_eq!(fold_point(t), Some("Yes please.\n".len()));
        let t = "Fine.\n\n-----Original Message-----\nFrom: x";
        assert_eq!(fold_point(t), Some("Fine.\n\n".len()));
        let t = "Ok\n\nFrom: Support <s@acme.test>\nSent: Monday\nTo: Ann";
        assert_eq!(fold_point(t), Some("Ok\n\n".len()));
        // Nothing of the sender's own before the quote: nothing to fold away.
        assert_eq!(fold_point("> only a quote"), None);
        assert_eq!(fold_point("No quote here, I wrote: nothing"), None);
        assert_eq!(
            fold_point("Grüße — äöü\n> zitat"),
            Some("Grüße — äöü\n".chars().count())
        );
    }

    #[test]
    fn reply_tokens_verify_and_refuse_forgeries() {
        let t = ReplyToken {
            workspace_id: 3,
            conversation_id: 42,
        };
        let id = t.message_id(KEY, "9f8e", "acme.test");
        assert_eq!(ReplyToken::in_references([id.as_str()], KEY), Some(t));
        assert_eq!(
            ReplyToken::verify(&t.sign(KEY).to_uppercase(), KEY),
            Some(t)
        );
        // Someone else's conversation number with our token's signature: refused.
        let forged = id.replacen("c42w3", "c43w3", 1);
        assert_eq!(ReplyToken::in_references([forged.as_str()], KEY), None);
        assert_eq!(
            ReplyToken::in_references([id.as_str()], b"another key"),
            None
        );
        assert_eq!(ReplyToken::verify("c42w3-zz", KEY), None);
        let addr = t.reply_address(KEY, "support@acme.test");
        let (base, tag) = split_plus_address(&addr);
        assert_eq!(base, "support@acme.test");
        assert_eq!(ReplyToken::verify(&tag.unwrap(), KEY), Some(t));
    }

    #[test]
    fn reply_subjects() {
        assert_eq!(reply_subject("Help"), "Re: Help");
        assert_eq!(reply_subject("RE: Re: AW: Help"), "Re: Help");
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(safe_filename("C:\\Users\\x\\..\\evil.exe"), "evil.exe");
        assert_eq!(safe_filename("../.htaccess"), "htaccess");
        assert_eq!(safe_filename("a\u{0}b<>.txt"), "ab.txt");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn parsing_never_panics(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let _ = parse(&raw);
        }

        #[test]
        fn parsing_mime_shaped_input_never_panics(
            headers in "((From|To|Cc|Subject|Content-Type|Content-Transfer-Encoding|Message-ID|References): [ -~]{0,60}\r\n){0,8}",
            body in "[ -~\r\n]{0,400}",
        ) {
            let raw = format!("{headers}\r\n{body}");
            let _ = parse(raw.as_bytes());
        }

        #[test]
        fn folding_never_panics(t in "\\PC{0,200}(\n> \\PC{0,20}){0,3}") {
            if let Some(at) = fold_point(&t) {
                proptest::prop_assert!(at <= t.chars().count());
            }
        }
    }
}
