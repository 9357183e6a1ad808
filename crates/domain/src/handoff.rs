//! Handoffs: a conversation passed to another agent or team carries a context capsule, so the
//! receiver starts where the sender stopped and the customer never repeats themselves.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::conversation::string_enum;
use crate::error::{optional_text, required_text};

/// Longest text of one capsule field: a handoff is a summary, not a transcript.
pub const MAX_CAPSULE_TEXT: usize = 2000;
pub const MAX_PROMISES: usize = 10;
/// How long a warm offer waits for an answer when the sender does not say.
pub const DEFAULT_OFFER_SECS: i64 = 120;
pub const MAX_OFFER_SECS: i64 = 24 * 3600;

string_enum!(
    /// Warm: the receiver accepts or declines first. Cold: the conversation moves at once.
    TransferMode, "mode" {
        Warm => "warm",
        Cold => "cold",
    }
);

string_enum!(
    /// Where a transfer stands. Cold transfers are `accepted` as they are made.
    TransferState, "state" {
        Offered => "offered",
        Accepted => "accepted",
        Declined => "declined",
        Expired => "expired",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Who holds a conversation when a warm offer is declined or times out: the sender keeps
    /// it, or it waits unassigned in the queue of the target team (or of its current team).
    Fallback, "fallback" {
        Sender => "sender",
        Queue => "queue",
    }
);

string_enum!(
    /// A follow-up an agent owes: a promise made to the customer, or an update that must be
    /// sent before the conversation may be resolved.
    FollowUpKind, "kind" {
        Promise => "promise",
        UpdateCustomer => "update_customer",
    }
);

/// A promise made to the customer, carried in a capsule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Promise {
    pub text: String,
    /// When it is due, if a time was promised.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<Timestamp>,
}

/// What the receiver needs to carry on: the customer's goal, what was tried, the next step and
/// the promises made. The first two and the next step are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Capsule {
    /// What the customer wants, in their terms.
    pub customer_wants: String,
    /// What has been tried or checked already.
    #[serde(default)]
    pub tried: String,
    /// What the receiver should do next.
    pub next_step: String,
    #[serde(default)]
    pub promises: Vec<Promise>,
    /// Earlier conversations of this customer, for context.
    #[serde(default)]
    pub prior_conversations: u32,
}

impl Capsule {
    /// Validates a capsule as given: trimmed texts within limits, goal and next step present.
    pub fn parse(raw: Capsule) -> Result<Capsule, Invalid> {
        let customer_wants = required_text(
            "capsule.customer_wants",
            &raw.customer_wants,
            MAX_CAPSULE_TEXT,
        )?;
        let next_step = required_text("capsule.next_step", &raw.next_step, MAX_CAPSULE_TEXT)?;
        let tried = optional_text("capsule.tried", &raw.tried, MAX_CAPSULE_TEXT)?;
        if raw.promises.len() > MAX_PROMISES {
            return Err(Invalid::field(
                "capsule.promises",
                format!("at most {MAX_PROMISES} promises"),
            ));
        }
        let promises = raw
            .promises
            .into_iter()
            .map(|p| {
                Ok(Promise {
                    text: required_text("capsule.promises.text", &p.text, 500)?,
                    due_at: p.due_at,
                })
            })
            .collect::<Result<_, Invalid>>()?;
        Ok(Capsule {
            customer_wants,
            tried,
            next_step,
            promises,
            prior_conversations: raw.prior_conversations,
        })
    }
}

/// What a capsule can be prefilled from.
pub struct CapsuleSource<'a> {
    pub subject: &'a str,
    /// The customer's messages, oldest first.
    pub customer_messages: &'a [&'a str],
    /// Agents' replies and notes, oldest first.
    pub agent_messages: &'a [&'a str],
    pub open_promises: Vec<Promise>,
    pub prior_conversations: u32,
}

/// A first draft the sender edits: the customer's latest ask, the agents' latest steps and the
/// promises still open. Short on purpose: the receiver reads it first.
pub fn prefill(src: CapsuleSource<'_>) -> Capsule {
    let wants = src
        .customer_messages
        .last()
        .map(|m| first_sentences(m, 300))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| src.subject.trim().to_string());
    let tried = src
        .agent_messages
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|m| format!("- {}", first_sentences(m, 200)))
        .collect::<Vec<_>>()
        .join("\n");
    Capsule {
        customer_wants: truncate(&wants, MAX_CAPSULE_TEXT),
        tried: truncate(&tried, MAX_CAPSULE_TEXT),
        next_step: String::new(),
        promises: src.open_promises.into_iter().take(MAX_PROMISES).collect(),
        prior_conversations: src.prior_conversations,
    }
}

/// The leading sentences of a text, at most `max` characters, on one line; quoted earlier mail
/// (lines starting with '>') is left out.
fn first_sentences(text: &str, max: usize) -> String {
    let flat = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('>') && !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::new();
    for sentence in flat.split_inclusive(['.', '!', '?']) {
        if !out.is_empty() && out.chars().count() + sentence.chars().count() > max {
            break;
        }
        out.push_str(sentence);
    }
    truncate(out.trim(), max)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// What the receiver of a warm offer may do, and what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferAnswer {
    Accept,
    Decline,
    Expire,
    Cancel,
}

/// The state after an answer; only an open offer can be answered.
pub fn answer_offer(state: TransferState, answer: OfferAnswer) -> Result<TransferState, Invalid> {
    if state != TransferState::Offered {
        return Err(Invalid::field(
            "transfer",
            format!("is already {}", state.as_str()),
        ));
    }
    Ok(match answer {
        OfferAnswer::Accept => TransferState::Accepted,
        OfferAnswer::Decline => TransferState::Declined,
        OfferAnswer::Expire => TransferState::Expired,
        OfferAnswer::Cancel => TransferState::Cancelled,
    })
}

/// Seconds a warm offer stays open: the sender's choice within limits, or the default.
pub fn offer_secs(requested: Option<i64>) -> Result<i64, Invalid> {
    match requested {
        None => Ok(DEFAULT_OFFER_SECS),
        Some(s) if (10..=MAX_OFFER_SECS).contains(&s) => Ok(s),
        Some(_) => Err(Invalid::field(
            "timeout_secs",
            format!("must be between 10 and {MAX_OFFER_SECS}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capsule(wants: &str, next: &str) -> Capsule {
        Capsule {
            customer_wants: wants.into(),
            tried: String::new(),
            next_step: next.into(),
            promises: vec![],
            prior_conversations: 0,
        }
    }

    #[test]
    fn a_capsule_needs_the_goal_and_the_next_step() {
        assert!(Capsule::parse(capsule("Refund of order 7", "Approve refund")).is_ok());
        let e = Capsule::parse(capsule("  ", "Approve")).unwrap_err();
        assert!(e.to_string().contains("customer_wants"), "{e}");
        let e = Capsule::parse(capsule("Refund", "")).unwrap_err();
        assert!(e.to_string().contains("next_step"), "{e}");
        let e = Capsule::parse(capsule(&"x".repeat(MAX_CAPSULE_TEXT + 1), "y")).unwrap_err();
        assert!(e.to_string().contains("customer_wants"), "{e}");
        let mut many = capsule("a", "b");
        many.promises = (0..=MAX_PROMISES)
            .map(|i| Promise {
                text: format!("p{i}"),
                due_at: None,
            })
            .collect();
        assert!(Capsule::parse(many).is_err());
    }

    #[test]
    fn prefill_takes_the_latest_ask_and_steps_and_skips_quotes() {
        let c = prefill(CapsuleSource {
            subject: "Order 7",
            customer_messages: &[
                "Hi.",
                "My parcel never came. I want a refund please.\n> earlier quoted mail",
            ],
            agent_messages: &["Checked tracking: lost in transit.", "Asked the carrier."],
            open_promises: vec![Promise {
                text: "Update by Friday".into(),
                due_at: None,
            }],
            prior_conversations: 2,
        });
        assert_eq!(
            c.customer_wants,
            "My parcel never came. I want a refund please."
        );
        assert_eq!(
            c.tried,
            "- Checked tracking: lost in transit.\n- Asked the carrier."
        );
        assert_eq!(c.next_step, "");
        assert_eq!(c.promises.len(), 1);
        assert_eq!(c.prior_conversations, 2);
        let empty = prefill(CapsuleSource {
            subject: " Printer jam ",
            customer_messages: &[],
            agent_messages: &[],
            open_promises: vec![],
            prior_conversations: 0,
        });
        assert_eq!(empty.customer_wants, "Printer jam");
    }

    #[test]
    fn only_open_offers_take_answers() {
        assert_eq!(
            answer_offer(TransferState::Offered, OfferAnswer::Decline).unwrap(),
            TransferState::Declined
        );
        assert!(answer_offer(TransferState::Accepted, OfferAnswer::Expire).is_err());
        assert!(answer_offer(TransferState::Expired, OfferAnswer::Accept).is_err());
        assert_eq!(offer_secs(None).unwrap(), DEFAULT_OFFER_SECS);
        assert!(offer_secs(Some(5)).is_err());
        assert!(offer_secs(Some(MAX_OFFER_SECS + 1)).is_err());
    }
}
