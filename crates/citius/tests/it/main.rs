//! Integration tests: each test starts a real server over a fresh database and talks to it over
//! HTTP, once on SQLite and once on PostgreSQL (`<test>::sqlite`, `<test>::postgres`).
//!
//! PostgreSQL comes from `CITIUS_TEST_POSTGRES_URL`; `scripts/test` provides one.

// Test code: a failed expectation is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

mod attachments;
mod auth;
mod automation;
mod chat;
mod cli;
mod conversations;
mod customers;
mod deletion;
mod email;
mod events;
mod handoffs;
mod imap;
mod isolation;
mod jobs;
mod macros;
mod migrations;
mod nodes;
mod roles;
mod routing;
mod search;
mod sla;
mod telephony;
mod validation;
mod webhooks;
