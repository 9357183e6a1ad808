//! SMS, WhatsApp and voice through a provider speaking Twilio's webhook format: checking a
//! webhook's signature, reading its form fields into inbound texts, call progress and delivery
//! reports, and judging the provider's answer to a send. No HTTP or storage here.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::Invalid;
use crate::customer::parse_phone;

/// Longest text taken from one inbound message (a concatenated SMS is at most 1,600).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Form fields in one webhook, and the size of one field.
pub const MAX_FIELDS: usize = 200;
pub const MAX_FIELD_BYTES: usize = 16 * 1024;
/// Media links kept from one message.
pub const MAX_MEDIA: usize = 10;

/// A webhook's form fields in the order they came.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Takes decoded form fields, refusing floods and oversized values.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, Invalid> {
        if pairs.len() > MAX_FIELDS {
            return Err(Invalid::field(
                "form",
                format!("has more than {MAX_FIELDS} fields"),
            ));
        }
        if let Some((k, _)) = pairs
            .iter()
            .find(|(k, v)| k.len() > 256 || v.len() > MAX_FIELD_BYTES)
        {
            return Err(Invalid::field(
                k.chars().take(64).collect::<String>(),
                format!("is longer than {MAX_FIELD_BYTES} bytes"),
            ));
        }
        Ok(Self(pairs))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str) -> Result<&str, Invalid> {
        self.get(key)
            .ok_or_else(|| Invalid::field(key, "is required"))
    }

    /// Twilio's signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL
    /// followed by every field's name and value, sorted by name (then value).
    pub fn signature(&self, auth_token: &str, url: &str) -> String {
        let mut sorted: Vec<&(String, String)> = self.0.iter().collect();
        sorted.sort();
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(url.as_bytes());
        for (k, v) in sorted {
            mac.update(k.as_bytes());
            mac.update(v.as_bytes());
        }
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Whether `given` is the signature of these fields at `url`; compared in constant time.
    pub fn verify(&self, auth_token: &str, url: &str, given: &str) -> bool {
        let expected = self.signature(auth_token, url);
        let (a, b) = (expected.as_bytes(), given.trim().as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// A phone number on SMS or WhatsApp (`whatsapp:+14155550100`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// E.164, e.g. `+14155550100`.
    pub phone: String,
    pub whatsapp: bool,
}

impl Party {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let (whatsapp, number) = match raw.trim().strip_prefix("whatsapp:") {
            Some(rest) => (true, rest),
            None => (false, raw.trim()),
        };
        let phone = parse_phone(number).map_err(|e| Invalid {
            fields: e
                .fields
                .into_iter()
                .map(|mut f| {
                    f.field = field.to_string();
                    f
                })
                .collect(),
        })?;
        Ok(Self { phone, whatsapp })
    }

    /// How the provider writes the address.
    pub fn address(&self) -> String {
        if self.whatsapp {
            format!("whatsapp:{}", self.phone)
        } else {
            self.phone.clone()
        }
    }
}

/// A picture or file sent with a message, left at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub url: String,
    pub content_type: String,
}

/// An SMS or WhatsApp message a customer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundText {
    /// The provider's id for the message; a retried webhook carries the same one.
    pub sid: String,
    pub from: Party,
    pub to: Party,
    pub body: String,
    pub media: Vec<Media>,
    /// The name the sender goes by on WhatsApp, if given.
    pub profile_name: Option<String>,
}

fn sid(f: &Fields, key: &str) -> Result<String, Invalid> {
    let s = f.required(key)?;
    if s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Invalid::field(
            key,
            "must be a provider id of letters and digits",
        ));
    }
    Ok(s.to_string())
}

fn web_link(field: &str, raw: &str) -> Result<String, Invalid> {
    let url = url::Url::parse(raw).map_err(|_| Invalid::field(field, "must be a URL"))?;
    if !matches!(url.scheme(), "https" | "http") || raw.len() > 2_000 {
        return Err(Invalid::field(
            field,
            "must be an http(s) URL of at most 2000 characters",
        ));
    }
    Ok(url.to_string())
}

impl InboundText {
    pub fn parse(f: &Fields) -> Result<Self, Invalid> {
        let sid = sid(f, "MessageSid").or_else(|_| sid(f, "SmsSid"))?;
        let from = Party::parse("From", f.required("From")?)?;
        let to = Party::parse("To", f.required("To")?)?;
        let body: String = f.get("Body").unwrap_or("").chars().collect();
        if body.chars().count() > MAX_TEXT_CHARS {
            return Err(Invalid::field(
                "Body",
                format!("is longer than {MAX_TEXT_CHARS} characters"),
            ));
        }
        let count: usize = f
            .get("NumMedia")
            .map(|n| {
                n.parse()
                    .map_err(|_| Invalid::field("NumMedia", "must be a number"))
            })
            .transpose()?
            .unwrap_or(0);
        let mut media = Vec::new();
        for i in 0..count.min(MAX_MEDIA) {
            if let Some(url) = f.get(&format!("MediaUrl{i}")) {
                media.push(Media {
                    url: web_link(&format!("MediaUrl{i}"), url)?,
                    content_type: f
                        .get(&format!("MediaContentType{i}"))
                        .unwrap_or("application/octet-stream")
                        .chars()
                        .take(100)
                        .collect(),
                });
            }
        }
        if body.trim().is_empty() && media.is_empty() {
            return Err(Invalid::field("Body", "is empty and nothing is attached"));
        }
        Ok(Self {
            sid,
            from,
            to,
            body,
            media,
            profile_name: f.get("ProfileName").map(|n| n.chars().take(200).collect()),
        })
    }

    /// The text as it shows on the timeline: the message, then a line per attachment.
    pub fn timeline_text(&self) -> String {
        let mut text = self.body.trim().to_string();
        for m in &self.media {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!("[{}] {}", m.content_type, m.url));
        }
        text
    }
}

/// Where a call stands. Later phases win over earlier ones: providers may report out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallPhase {
    Ringing,
    Answered,
    Transferred,
    Completed,
    /// Never answered: busy, no answer, failed or cancelled.
    Missed,
}

impl CallPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            CallPhase::Ringing => "ringing",
            CallPhase::Answered => "answered",
            CallPhase::Transferred => "transferred",
            CallPhase::Completed => "completed",
            CallPhase::Missed => "missed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ringing" => CallPhase::Ringing,
            "answered" => CallPhase::Answered,
            "transferred" => CallPhase::Transferred,
            "completed" => CallPhase::Completed,
            "missed" => CallPhase::Missed,
            _ => return None,
        })
    }

    /// Whether the call is over.
    pub fn ended(self) -> bool {
        matches!(self, CallPhase::Completed | CallPhase::Missed)
    }

    /// Whether a call at `self` moves on when `next` is reported.
    pub fn moves_to(self, next: CallPhase) -> bool {
        next > self && !self.ended()
    }
}

/// Numbers providers put in place of a withheld caller ID ("anonymous", "restricted",
/// "blocked", "unavailable"): they are nobody's, so every such call stands alone.
const WITHHELD: &[&str] = &[
    "+266696687",
    "+7378742833",
    "+2562533",
    "+8656696",
    "+86282452253",
];

/// The other party of a call, or `None` when they withheld their number.
fn caller(field: &str, raw: &str) -> Result<Option<Party>, Invalid> {
    let word = raw.trim().to_ascii_lowercase();
    if matches!(
        word.as_str(),
        "anonymous" | "restricted" | "blocked" | "unavailable" | "unknown" | "private"
    ) {
        return Ok(None);
    }
    let party = Party::parse(field, raw)?;
    Ok((!WITHHELD.contains(&party.phone.as_str())).then_some(party))
}

/// What a voice webhook says about a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUpdate {
    pub sid: String,
    /// The customer's number (none when they withheld it) and ours.
    pub customer: Option<Party>,
    pub ours: Party,
    pub outbound: bool,
    pub phase: Option<CallPhase>,
    /// The provider's own word for the state, e.g. `no-answer`.
    pub provider_status: String,
    pub duration_secs: Option<i64>,
    pub recording_url: Option<String>,
    pub recording_secs: Option<i64>,
    /// Where a transferred call went, if the provider says.
    pub transferred_to: Option<String>,
}

impl CallUpdate {
    pub fn parse(f: &Fields) -> Result<Self, Invalid> {
        let sid = sid(f, "CallSid")?;
        let outbound = f
            .get("Direction")
            .is_some_and(|d| d.starts_with("outbound"));
        let (theirs, mine) = if outbound {
            ("To", "From")
        } else {
            ("From", "To")
        };
        let customer = caller(theirs, f.required(theirs)?)?;
        let ours = Party::parse(mine, f.required(mine)?)?;
        let number = |key: &str| -> Result<Option<i64>, Invalid> {
            f.get(key)
                .map(|v| {
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| (0..=31 * 86_400).contains(n))
                        .ok_or_else(|| Invalid::field(key, "must be a number of seconds"))
                })
                .transpose()
        };
        let status = f.get("CallStatus").unwrap_or("");
        // A <Dial> callback reports the leg the call was passed on to.
        let dialled = f.get("DialCallSid").is_some();
        let phase = if dialled
            && matches!(
                f.get("DialCallStatus"),
                Some("answered" | "completed" | "in-progress")
            ) {
            Some(CallPhase::Transferred)
        } else {
            match status {
                "queued" | "initiated" | "ringing" => Some(CallPhase::Ringing),
                "in-progress" | "answered" => Some(CallPhase::Answered),
                "completed" => Some(CallPhase::Completed),
                "busy" | "no-answer" | "failed" | "canceled" => Some(CallPhase::Missed),
                "" => None,
                other => {
                    return Err(Invalid::field(
                        "CallStatus",
                        format!(
                            "'{}' is not a call status",
                            other.chars().take(40).collect::<String>()
                        ),
                    ));
                }
            }
        };
        let recording_url = f
            .get("RecordingUrl")
            .map(|u| web_link("RecordingUrl", u))
            .transpose()?;
        if phase.is_none() && recording_url.is_none() {
            return Err(Invalid::field(
                "CallStatus",
                "is required unless a recording is reported",
            ));
        }
        Ok(Self {
            sid,
            customer,
            ours,
            outbound,
            phase,
            provider_status: status.chars().take(40).collect(),
            duration_secs: number("CallDuration")?.or(number("DialCallDuration")?),
            recording_url,
            recording_secs: number("RecordingDuration")?,
            transferred_to: f
                .get("DialCallTo")
                .or(f.get("ForwardedTo"))
                .map(|t| t.chars().take(64).collect()),
        })
    }
}

/// A delivery report for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sid: String,
    /// `sent`, `delivered`, `read`, `failed` or `undelivered` (others are ignored).
    pub status: String,
    pub error: Option<String>,
}

impl DeliveryReport {
    pub fn parse(f: &Fields) -> Result<Self, Invalid> {
        let sid = sid(f, "MessageSid").or_else(|_| sid(f, "SmsSid"))?;
        let status = f
            .get("MessageStatus")
            .or(f.get("SmsStatus"))
            .ok_or_else(|| Invalid::field("MessageStatus", "is required"))?
            .to_string();
        let error = match (f.get("ErrorCode"), f.get("ErrorMessage")) {
            (None, None) => None,
            (code, message) => Some(
                format!(
                    "{}{}",
                    code.map(|c| format!("error {c}")).unwrap_or_default(),
                    message.map(|m| format!(": {m}")).unwrap_or_default()
                )
                .chars()
                .take(500)
                .collect(),
            ),
        };
        Ok(Self { sid, status, error })
    }

    /// The delivery state this report moves a message to, if any.
    pub fn state(&self) -> Option<&'static str> {
        Some(match self.status.as_str() {
            "sent" => "sent",
            "delivered" => "delivered",
            "read" => "read",
            "failed" | "undelivered" => "failed",
            _ => return None,
        })
    }
}

/// Whether a delivery state may replace another: reports arrive out of order, and a message
/// read is not un-read by a late "sent".
pub fn delivery_advances(current: &str, next: &str) -> bool {
    fn rank(s: &str) -> u8 {
        match s {
            "queued" => 0,
            "sent" => 1,
            "delivered" => 2,
            "read" => 3,
            "failed" => 4,
            _ => 0,
        }
    }
    current != "failed" && current != "read" && rank(next) > rank(current)
}

/// What the provider's answer to a send means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted {
        sid: String,
    },
    /// Worth trying again later (rate limit, provider trouble).
    Retry(String),
    /// The provider will never take it (bad number, unknown account).
    Refused(String),
}

/// Judges the provider's answer to `POST .../Messages.json`.
pub fn judge_send(status: u16, body: &str) -> SendOutcome {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let message = || {
        let m = json["message"].as_str().unwrap_or(body);
        let code = json["code"]
            .as_i64()
            .map(|c| format!(" (code {c})"))
            .unwrap_or_default();
        format!(
            "{status}: {}{code}",
            m.chars().take(300).collect::<String>()
        )
    };
    match status {
        200..=299 => match json["sid"].as_str() {
            Some(sid) if !sid.is_empty() && sid.len() <= 64 => SendOutcome::Accepted {
                sid: sid.to_string(),
            },
            _ => SendOutcome::Retry(format!("{status}: the answer carried no message id")),
        },
        408 | 429 | 500..=599 => SendOutcome::Retry(message()),
        _ => SendOutcome::Refused(message()),
    }
}

/// Where the provider's API lives unless an inbox says otherwise.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// The provider account of an SMS, WhatsApp or voice inbox, as an administrator gives it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub account_sid: String,
    /// Required the first time; left out, the stored token is kept.
    #[serde(default)]
    pub auth_token: Option<String>,
    /// The provider's API address; defaults to Twilio's.
    #[serde(default)]
    pub api_base: Option<String>,
}

/// Checked provider settings; the token is `None` when the stored one stays.
#[derive(Clone)]
pub struct ValidProvider {
    pub account_sid: String,
    pub auth_token: Option<String>,
    pub api_base: url::Url,
}

impl std::fmt::Debug for ValidProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidProvider")
            .field("account_sid", &self.account_sid)
            .field("api_base", &self.api_base.as_str())
            .finish_non_exhaustive()
    }
}

impl ProviderInput {
    /// Checks the settings; `has_token` says whether a token is stored already, `policy` where
    /// the API may be.
    pub fn validate(
        &self,
        has_token: bool,
        policy: &crate::webhook::TargetPolicy,
    ) -> Result<ValidProvider, Invalid> {
        let mut errors = Vec::new();
        let sid = self.account_sid.trim();
        if sid.is_empty() || sid.len() > 64 || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
            errors.push(crate::InvalidField {
                field: "account_sid".into(),
                message: "must be 1 to 64 letters and digits".into(),
            });
        }
        let token = match self.auth_token.as_deref().map(str::trim) {
            Some(t) if t.is_empty() || t.len() > 256 || t.chars().any(|c| c.is_control()) => {
                errors.push(crate::InvalidField {
                    field: "auth_token".into(),
                    message: "must be 1 to 256 characters".into(),
                });
                None
            }
            Some(t) => Some(t.to_string()),
            None if !has_token => {
                errors.push(crate::InvalidField {
                    field: "auth_token".into(),
                    message: "is required".into(),
                });
                None
            }
            None => None,
        };
        let raw = self
            .api_base
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or(DEFAULT_API_BASE);
        let api_base = match crate::webhook::check_url(raw, policy) {
            Ok(u) if raw.len() <= 500 => Some(u),
            Ok(_) => {
                errors.push(crate::InvalidField {
                    field: "api_base".into(),
                    message: "must be at most 500 characters".into(),
                });
                None
            }
            Err(e) => {
                errors.push(crate::InvalidField {
                    field: "api_base".into(),
                    message: e.0,
                });
                None
            }
        };
        match api_base {
            Some(api_base) if errors.is_empty() => Ok(ValidProvider {
                account_sid: sid.to_string(),
                auth_token: token,
                api_base,
            }),
            _ => Err(Invalid { fields: errors }),
        }
    }
}

/// The address of the provider's "send a message" endpoint.
pub fn messages_endpoint(api_base: &str, account_sid: &str) -> String {
    format!(
        "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
        api_base.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn signature_matches_twilios_documented_example() {
        // The worked example of Twilio's "Webhooks security" documentation, in both the
        // numbers it has been published with.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let example = |caller: &str| {
            fields(&[
                ("CallSid", "CA1234567890ABCDE"),
                ("Caller", caller),
                ("Digits", "1234"),
                ("From", caller),
                ("To", "+18005551212"),
            ])
        };
        let f = example("+14158675310");
        assert_eq!(f.signature("12345", url), "GvWf1cFY/Q7PnoempGyD5oXAezc=");
        assert_eq!(
            example("+12349013030").signature("12345", url),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(f.verify("12345", url, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!f.verify(
            "12345",
            "https://mycompany.com/myapp.php",
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        ));
        assert!(!f.verify("other", url, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    }

    #[test]
    fn reads_sms_and_whatsapp_with_media() {
        let f = fields(&[
            ("MessageSid", "SM123"),
            ("From", "whatsapp:+14155550100"),
            ("To", "whatsapp:+14155550199"),
            ("Body", "Photo of the damage"),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://media.example.com/m/1"),
            ("MediaContentType0", "image/jpeg"),
            ("ProfileName", "Ana"),
        ]);
        let t = InboundText::parse(&f).unwrap();
        assert!(t.from.whatsapp);
        assert_eq!(t.from.phone, "+14155550100");
        assert_eq!(t.from.address(), "whatsapp:+14155550100");
        assert_eq!(t.media.len(), 1);
        assert!(
            t.timeline_text()
                .ends_with("[image/jpeg] https://media.example.com/m/1")
        );
        let bad = fields(&[
            ("MessageSid", "SM1"),
            ("From", "12"),
            ("To", "+14155550199"),
            ("Body", "x"),
        ]);
        assert_eq!(
            InboundText::parse(&bad).unwrap_err().fields[0].field,
            "From"
        );
        let empty = fields(&[
            ("MessageSid", "SM1"),
            ("From", "+14155550100"),
            ("To", "+14155550199"),
        ]);
        assert!(InboundText::parse(&empty).is_err());
    }

    #[test]
    fn call_progress_only_moves_forward() {
        let base = [
            ("CallSid", "CA1"),
            ("From", "+14155550100"),
            ("To", "+14155550199"),
            ("Direction", "inbound"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            CallUpdate::parse(&fields(&v)).unwrap()
        };
        assert_eq!(
            with(&[("CallStatus", "ringing")]).phase,
            Some(CallPhase::Ringing)
        );
        assert_eq!(
            with(&[("CallStatus", "in-progress")]).phase,
            Some(CallPhase::Answered)
        );
        let done = with(&[("CallStatus", "completed"), ("CallDuration", "192")]);
        assert_eq!(
            (done.phase, done.duration_secs),
            (Some(CallPhase::Completed), Some(192))
        );
        assert_eq!(
            with(&[("CallStatus", "no-answer")]).phase,
            Some(CallPhase::Missed)
        );
        let passed = with(&[
            ("CallStatus", "in-progress"),
            ("DialCallSid", "CA2"),
            ("DialCallStatus", "answered"),
        ]);
        assert_eq!(passed.phase, Some(CallPhase::Transferred));
        let rec = with(&[
            ("RecordingUrl", "https://api.example.com/Recordings/RE1"),
            ("RecordingDuration", "180"),
        ]);
        assert_eq!((rec.phase, rec.recording_secs), (None, Some(180)));
        assert!(CallPhase::Ringing.moves_to(CallPhase::Answered));
        assert!(!CallPhase::Completed.moves_to(CallPhase::Missed));
        assert!(!CallPhase::Answered.moves_to(CallPhase::Ringing));
        let out = CallUpdate::parse(&fields(&[
            ("CallSid", "CA3"),
            ("From", "+14155550199"),
            ("To", "+14155550100"),
            ("Direction", "outbound-api"),
            ("CallStatus", "ringing"),
        ]))
        .unwrap();
        assert_eq!(out.customer.unwrap().phone, "+14155550100");
        for hidden in ["anonymous", "Restricted", "+266696687"] {
            let c = CallUpdate::parse(&fields(&[
                ("CallSid", "CA4"),
                ("From", hidden),
                ("To", "+14155550199"),
                ("CallStatus", "ringing"),
            ]))
            .unwrap();
            assert_eq!(c.customer, None, "{hidden}");
        }
    }

    #[test]
    fn provider_answers_are_judged() {
        assert_eq!(
            judge_send(201, r#"{"sid":"SM9","status":"queued"}"#),
            SendOutcome::Accepted { sid: "SM9".into() }
        );
        assert!(matches!(
            judge_send(429, "slow down"),
            SendOutcome::Retry(_)
        ));
        assert!(matches!(judge_send(503, ""), SendOutcome::Retry(_)));
        match judge_send(
            400,
            r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#,
        ) {
            SendOutcome::Refused(m) => assert!(m.contains("21211") && m.contains("Invalid"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(delivery_advances("queued", "delivered"));
        assert!(!delivery_advances("delivered", "sent"));
        assert!(!delivery_advances("failed", "delivered"));
    }

    #[test]
    fn floods_and_huge_fields_are_refused() {
        let many = (0..=MAX_FIELDS)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(Fields::new(many).is_err());
        assert!(Fields::new(vec![("Body".into(), "x".repeat(MAX_FIELD_BYTES + 1))]).is_err());
    }

    proptest! {
        // Whatever a webhook carries, reading it never panics and a reading that succeeds
        // keeps to the limits.
        #[test]
        fn parsers_never_panic(pairs in proptest::collection::vec(
            (prop_oneof![
                Just("MessageSid".to_string()), Just("CallSid".to_string()), Just("From".to_string()),
                Just("To".to_string()), Just("Body".to_string()), Just("NumMedia".to_string()),
                Just("MediaUrl0".to_string()), Just("CallStatus".to_string()), Just("CallDuration".to_string()),
                Just("DialCallSid".to_string()), Just("DialCallStatus".to_string()), Just("RecordingUrl".to_string()),
                Just("MessageStatus".to_string()), Just("ErrorCode".to_string()), "[A-Za-z]{1,12}",
            ], prop_oneof![
                "\\PC{0,40}".prop_map(|s| s), Just("+14155550100".to_string()), Just("whatsapp:+14155550100".to_string()),
                Just("SM123".to_string()), Just("completed".to_string()), Just("3".to_string()),
                Just("https://x.test/a".to_string()), Just("-1".to_string()), Just("99999999999".to_string()),
            ]), 0..12)) {
            let f = Fields::new(pairs).unwrap();
            if let Ok(t) = InboundText::parse(&f) {
                prop_assert!(t.body.chars().count() <= MAX_TEXT_CHARS);
                prop_assert!(t.media.len() <= MAX_MEDIA);
                prop_assert!(t.from.phone.starts_with('+'));
            }
            if let Ok(c) = CallUpdate::parse(&f) {
                prop_assert!(c.phase.is_some() || c.recording_url.is_some());
                prop_assert!(c.duration_secs.is_none_or(|d| d >= 0));
            }
            let _ = DeliveryReport::parse(&f);
            let _ = f.signature("token", "https://x.test/hook");
        }
    }
}
