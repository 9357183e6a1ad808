//! Outbound webhooks as the Standard Webhooks scheme defines them: a `whsec_` secret per
//! endpoint, `webhook-id` / `webhook-timestamp` / `webhook-signature` headers carrying an
//! HMAC-SHA256 of `"{id}.{timestamp}.{body}"`, retries with growing delays over about a day,
//! and endpoints turned off after failing for days.
//!
//! Targets are checked twice against [`TargetPolicy`]: the URL before it is stored or called
//! ([`check_url`]: scheme, port, names such as `localhost`, literal addresses), and every
//! address a name resolves to, on every connection and every redirect ([`check_address`]).
//! The caller does the resolving; a target passes only if the address it connects to passes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::{Host, Url};
use utoipa::ToSchema;

use crate::Invalid;
use crate::error::optional_text;
use crate::event::EventKind;

pub const MAX_URL: usize = 2000;
pub const MAX_DESCRIPTION: usize = 200;
pub const MAX_EVENT_TYPES: usize = 30;
/// Largest payload sent; bigger events are cut down to their ids by the caller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Timestamps further than this from the receiver's clock fail verification.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Event types an endpoint can subscribe to; `*` means all of them.
pub const EVENT_TYPES: &[&str] = &[
    "conversation.created",
    "conversation.updated",
    "conversation.assigned",
    "conversation.status_changed",
    "message.created",
    "transfer.offered",
    "transfer.answered",
    "follow_up.due",
    "sla.warning",
    "sla.breached",
    "email.failed",
    "text.failed",
    "call.updated",
];

/// The webhook event type of a conversation event, if it is sent at all.
pub fn event_type_of(kind: EventKind) -> Option<&'static str> {
    use EventKind as K;
    Some(match kind {
        K::Created => "conversation.created",
        K::MessageAdded => "message.created",
        K::Assigned | K::Transferred => "conversation.assigned",
        K::StatusChanged => "conversation.status_changed",
        K::PriorityChanged
        | K::Tagged
        | K::Untagged
        | K::SubjectChanged
        | K::FieldsChanged
        | K::CustomerMerged => "conversation.updated",
        K::TransferOffered => "transfer.offered",
        K::TransferDeclined | K::TransferExpired | K::TransferCancelled => "transfer.answered",
        K::FollowUpDue => "follow_up.due",
        K::SlaWarning => "sla.warning",
        K::SlaBreached => "sla.breached",
        K::EmailFailed => "email.failed",
        K::TextFailed => "text.failed",
        K::CallUpdated => "call.updated",
        K::EmailSent
        | K::Mentioned
        | K::Queued
        | K::Requeued
        | K::Overflowed
        | K::FollowUpAdded
        | K::FollowUpDone
        | K::SlaApplied
        | K::RuleStopped => return None,
    })
}

/// Whether an endpoint subscribed to `types` wants `event_type`.
pub fn subscribes(types: &[String], event_type: &str) -> bool {
    types.iter().any(|t| t == "*" || t == event_type)
}

/// Where webhooks may go. Private targets are for installations whose receivers live on the
/// internal network; `allowed_hosts` lets named hosts through whatever they resolve to.
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allow_private: bool,
    pub allowed_hosts: Vec<String>,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An address is refused unless it is publicly routable (or private targets are allowed).
pub fn check_address(ip: IpAddr, policy: &TargetPolicy) -> Result<(), Refused> {
    if policy.allow_private {
        return Ok(());
    }
    match non_public(ip) {
        Some(what) => Err(Refused(format!("{ip} is a {what} address"))),
        None => Ok(()),
    }
}

/// What kind of non-public address `ip` is, if it is one.
fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            // Addresses that embed an IPv4 one are judged by it: mapped (::ffff:a.b.c.d),
            // compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4).or(Some("IPv4-mapped"));
            }
            if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return Some("IPv4-compatible");
            }
            if s[0] == 0x64 && s[1] == 0xff9b {
                let o = v6.octets();
                let v4 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
                return non_public_v4(v4).or(None);
            }
            non_public_v6(v6)
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, _, _] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("broadcast, multicast or reserved")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        Some("documentation or benchmarking")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("protocol assignment")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("documentation")
    } else {
        None
    }
}

/// Checks a target URL before any connection: http(s) only, no credentials, no `localhost`
/// names, and literal addresses must pass [`check_address`].
pub fn check_url(raw: &str, policy: &TargetPolicy) -> Result<Url, Refused> {
    let url = Url::parse(raw.trim()).map_err(|e| Refused(format!("is not a valid URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused("must be an http or https URL".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused(
            "must not carry a user name or password; put secrets in a header or the path".into(),
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| Refused("must name a host".into()))?;
    match host {
        // The url crate reads every IPv4 spelling ("2130706433", "0x7f.1") as an address.
        Host::Ipv4(ip) => check_address(IpAddr::V4(ip), policy)?,
        Host::Ipv6(ip) => check_address(IpAddr::V6(ip), policy)?,
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let allowed = policy
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&name));
            let local = name == "localhost"
                || name.ends_with(".localhost")
                || name.ends_with(".local")
                || name.ends_with(".internal")
                || !name.contains('.');
            if local && !allowed && !policy.allow_private {
                return Err(Refused(format!("{name} is a local name")));
            }
        }
    }
    Ok(url)
}

/// An endpoint as an administrator describes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Where to POST events: an https URL on a public address.
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to send; `["*"]` for all.
    pub event_types: Vec<String>,
    /// Defaults to on.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A checked endpoint.
#[derive(Debug, Clone)]
pub struct ValidEndpoint {
    pub url: Url,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

impl EndpointInput {
    pub fn validate(&self, policy: &TargetPolicy) -> Result<ValidEndpoint, Invalid> {
        let mut errors = Vec::new();
        let url = if self.url.chars().count() > MAX_URL {
            errors.push(crate::InvalidField {
                field: "url".into(),
                message: format!("must be at most {MAX_URL} characters"),
            });
            None
        } else {
            match check_url(&self.url, policy) {
                Ok(u) => Some(u),
                Err(e) => {
                    errors.push(crate::InvalidField {
                        field: "url".into(),
                        message: e.0,
                    });
                    None
                }
            }
        };
        let description = match optional_text(
            "description",
            self.description.as_deref().unwrap_or_default(),
            MAX_DESCRIPTION,
        ) {
            Ok(d) => d,
            Err(e) => {
                errors.extend(e.fields);
                String::new()
            }
        };
        let mut types: Vec<String> = Vec::new();
        if self.event_types.is_empty() {
            errors.push(crate::InvalidField {
                field: "event_types".into(),
                message: "choose at least one event type, or \"*\" for all".into(),
            });
        } else if self.event_types.len() > MAX_EVENT_TYPES {
            errors.push(crate::InvalidField {
                field: "event_types".into(),
                message: format!("at most {MAX_EVENT_TYPES} event types"),
            });
        }
        for (i, t) in self.event_types.iter().enumerate().take(MAX_EVENT_TYPES) {
            let t = t.trim();
            if t != "*" && !EVENT_TYPES.contains(&t) {
                errors.push(crate::InvalidField {
                    field: format!("event_types[{i}]"),
                    message: format!(
                        "unknown event type {t:?}; known: *, {}",
                        EVENT_TYPES.join(", ")
                    ),
                });
            } else if !types.iter().any(|k| k == t) {
                types.push(t.to_string());
            }
        }
        match url {
            Some(url) if errors.is_empty() => Ok(ValidEndpoint {
                url,
                description,
                event_types: types,
                enabled: self.enabled.unwrap_or(true),
            }),
            _ => Err(Invalid { fields: errors }),
        }
    }
}

/// An endpoint's signing secret, `whsec_` and the base64 of its key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    const PREFIX: &'static str = "whsec_";

    /// A secret from random bytes the caller drew (24 to 64 of them).
    pub fn from_bytes(key: &[u8]) -> Self {
        Self {
            text: format!("{}{}", Self::PREFIX, B64.encode(key)),
            key: key.to_vec(),
        }
    }

    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let encoded = text
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| Invalid::field("secret", "must start with whsec_"))?;
        let key = B64
            .decode(encoded)
            .map_err(|_| Invalid::field("secret", "is not valid base64 after whsec_"))?;
        if !(24..=64).contains(&key.len()) {
            return Err(Invalid::field("secret", "must hold 24 to 64 bytes"));
        }
        Ok(Self {
            text: text.to_string(),
            key,
        })
    }

    /// The `whsec_...` text, for storing and for showing once to the administrator.
    pub fn expose(&self) -> &str {
        &self.text
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; the fallback (a zero key) is never used.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", B64.encode(tag))
}

/// Checks a received webhook as a receiver would: the timestamp within tolerance of `now`
/// and one of the space-separated `v1,` signatures matching, compared in constant time.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), Refused> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refused("webhook-timestamp is not a number".into()))?;
    if (now.as_second() - ts).abs() > TOLERANCE_SECS {
        return Err(Refused("webhook-timestamp is too far from now".into()));
    }
    for sig in signatures.split_whitespace() {
        let Some(encoded) = sig.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = B64.decode(encoded) else {
            continue;
        };
        if secret.mac(msg_id, ts, body).verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(Refused("no signature matches".into()))
}

/// The envelope every webhook body has.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookPayload {
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: String,
    pub data: serde_json::Value,
}

impl WebhookPayload {
    pub fn new(event_type: &str, at: Timestamp, data: serde_json::Value) -> Self {
        Self {
            event_type: event_type.to_string(),
            timestamp: at.to_string(),
            data,
        }
    }

    /// The JSON body, at most [`MAX_BODY_BYTES`].
    pub fn to_body(&self) -> Result<String, Invalid> {
        let body = serde_json::to_string(self)
            .map_err(|e| Invalid::field("payload", format!("cannot be encoded: {e}")))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(Invalid::field(
                "payload",
                format!("is {} bytes, more than {MAX_BODY_BYTES}", body.len()),
            ));
        }
        Ok(body)
    }
}

/// Delays before attempts 2, 3, ...: the Standard Webhooks schedule, about 27 hours in all.
const RETRY_DELAYS_SECS: &[u64] = &[5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// How long to wait after failed attempt `attempt` (1-based) before the next one, with up to
/// 10 % jitter from `jitter` (any random number) so failed endpoints are not hit in waves;
/// `None` when it was the last attempt.
pub fn next_attempt_delay(attempt: i64, jitter: u32) -> Option<Duration> {
    let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
    let base = *RETRY_DELAYS_SECS.get(index)?;
    let spread = base * 1000 / 10;
    let extra = if spread == 0 {
        0
    } else {
        u64::from(jitter) % spread
    };
    Some(Duration::from_millis(base * 1000 + extra))
}

/// The most attempts one message gets.
pub fn max_attempts() -> i64 {
    i64::try_from(RETRY_DELAYS_SECS.len()).unwrap_or(i64::MAX) + 1
}

/// What an HTTP answer means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx: done.
    Delivered,
    /// 410 Gone: the receiver says the endpoint no longer exists; turn it off.
    Gone,
    /// Anything else, or no answer at all: try again later.
    Retry,
}

impl Delivery {
    pub fn judge(status: Option<u16>) -> Self {
        match status {
            Some(s) if (200..300).contains(&s) => Delivery::Delivered,
            Some(410) => Delivery::Gone,
            _ => Delivery::Retry,
        }
    }
}

/// An endpoint whose every delivery has failed for this long is turned off.
pub const DISABLE_AFTER_MS: i64 = 5 * 24 * 3_600_000;

/// Why to turn an endpoint off, when it has been failing since `failing_since_ms`.
pub fn should_disable(failing_since_ms: i64, now_ms: i64) -> Option<String> {
    (now_ms - failing_since_ms >= DISABLE_AFTER_MS)
        .then(|| "every delivery failed for 5 days".to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn strict() -> TargetPolicy {
        TargetPolicy::default()
    }

    /// The test vector published with the Standard Webhooks libraries.
    #[test]
    fn signs_like_the_reference_libraries() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verification_rejects_tampering_wrong_keys_and_stale_times() {
        let secret = WebhookSecret::from_bytes(&[7u8; 32]);
        let other = WebhookSecret::from_bytes(&[8u8; 32]);
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let ts = now.as_second();
        let sig = sign(&secret, "msg_1", ts, b"{}");
        let both = format!("v1,AAAA {sig}");
        assert!(verify(&secret, "msg_1", &ts.to_string(), &both, b"{}", now).is_ok());
        assert!(verify(&secret, "msg_1", &ts.to_string(), &sig, b"{ }", now).is_err());
        assert!(verify(&secret, "msg_2", &ts.to_string(), &sig, b"{}", now).is_err());
        assert!(verify(&other, "msg_1", &ts.to_string(), &sig, b"{}", now).is_err());
        let late = Timestamp::from_second(ts + TOLERANCE_SECS + 1).unwrap();
        assert!(verify(&secret, "msg_1", &ts.to_string(), &sig, b"{}", late).is_err());
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let s = WebhookSecret::from_bytes(&[1u8; 32]);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(s.expose()).unwrap(), s);
        assert_eq!(format!("{s:?}"), "WebhookSecret(..)");
        assert!(WebhookSecret::parse("sk_123").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        assert!(WebhookSecret::parse("whsec_AAAA").is_err(), "too short");
    }

    #[test]
    fn retries_span_about_a_day_then_stop() {
        let total: u64 = (1..)
            .map_while(|a| next_attempt_delay(a, 0))
            .map(|d| d.as_secs())
            .sum();
        assert!((24 * 3600..30 * 3600).contains(&total), "{total} s");
        assert_eq!(next_attempt_delay(1, 0), Some(Duration::from_secs(5)));
        assert!(next_attempt_delay(1, u32::MAX).unwrap() < Duration::from_millis(5500));
        assert_eq!(next_attempt_delay(max_attempts(), 0), None);
        assert_eq!(next_attempt_delay(0, 0), None);
        assert_eq!(next_attempt_delay(-3, 0), None);
    }

    #[test]
    fn outcomes() {
        assert_eq!(Delivery::judge(Some(204)), Delivery::Delivered);
        assert_eq!(Delivery::judge(Some(410)), Delivery::Gone);
        for s in [Some(301), Some(400), Some(429), Some(500), None] {
            assert_eq!(Delivery::judge(s), Delivery::Retry);
        }
        assert!(should_disable(0, DISABLE_AFTER_MS - 1).is_none());
        assert!(should_disable(0, DISABLE_AFTER_MS).is_some());
    }

    #[test]
    fn refuses_every_non_public_range() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(
                check_address(ip, &strict()).is_err(),
                "{ip} must be refused"
            );
            assert!(
                check_address(
                    ip,
                    &TargetPolicy {
                        allow_private: true,
                        ..strict()
                    }
                )
                .is_ok()
            );
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:2800:220:1::1",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(check_address(ip, &strict()).is_ok(), "{ip} must pass");
        }
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "http://user:pw@example.com/",
            "http://localhost:8080/x",
            "http://api.localhost/x",
            "http://printer.local/x",
            "http://intranet/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "http://017700000001/x",
            "http://[::ffff:7f00:1]/x",
            "http://169.254.169.254/latest/meta-data",
            "not a url",
        ] {
            assert!(check_url(bad, &strict()).is_err(), "{bad} must be refused");
        }
        assert!(check_url("https://hooks.example.com/in?token=1", &strict()).is_ok());
        let named = TargetPolicy {
            allowed_hosts: vec!["intranet".into()],
            ..strict()
        };
        assert!(check_url("http://intranet/x", &named).is_ok());
    }

    #[test]
    fn endpoint_input_names_each_bad_field() {
        let input = EndpointInput {
            url: "http://10.0.0.1/".into(),
            description: Some("x".repeat(MAX_DESCRIPTION + 1)),
            event_types: vec!["conversation.created".into(), "nope".into()],
            enabled: None,
        };
        let err = input.validate(&strict()).unwrap_err();
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["url", "description", "event_types[1]"]);
        let ok = EndpointInput {
            url: "https://example.com/hook".into(),
            description: None,
            event_types: vec!["*".into(), "*".into()],
            enabled: None,
        }
        .validate(&strict())
        .unwrap();
        assert_eq!(ok.event_types, vec!["*"]);
        assert!(ok.enabled);
    }

    #[test]
    fn every_event_type_named_is_known() {
        for k in EventKind::ALL {
            if let Some(t) = event_type_of(*k) {
                assert!(EVENT_TYPES.contains(&t), "{t}");
            }
        }
        assert!(subscribes(&["*".into()], "sla.breached"));
        assert!(!subscribes(&["sla.warning".into()], "sla.breached"));
    }
}
