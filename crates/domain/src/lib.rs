//! The Citius domain: the vocabulary every channel, store and screen shares.
//! Nothing here performs IO; values exist only once parsed.

pub mod activity;
pub mod automation;
pub mod calendar;
pub mod chat;
pub mod content;
pub mod conversation;
pub mod customer;
pub mod email;
pub mod error;
pub mod event;
pub mod handoff;
pub mod imap;
pub mod language;
pub mod macros;
pub mod mention;
pub mod paging;
pub mod records;
pub mod role;
pub mod routing;
pub mod sla;
pub mod smtp;
pub mod telephony;
pub mod views;
pub mod webhook;
pub mod workspace;

pub use error::{Invalid, InvalidField};
