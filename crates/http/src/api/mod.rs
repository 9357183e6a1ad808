//! The JSON API under /api/v1, described by the OpenAPI document at /api/v1/openapi.json.

pub mod access;
pub mod activity;
pub mod automation;
pub mod conversations;
pub mod customers;
pub mod directory;
pub mod email;
pub mod events;
pub mod handoffs;
pub mod macros;
pub mod routing;
pub mod sla;
pub mod telephony;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use citius_domain::paging::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::state::AppState;

/// A page of a list and the cursor for the next page (`null` on the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for List<T> {
    fn from(p: Page<T>) -> Self {
        Self {
            items: p.items,
            next_cursor: p.next.map(|c| c.encode()),
        }
    }
}

/// A complete, bounded collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100 (default 25).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

pub fn routes(max_message_bytes: usize) -> Router<AppState> {
    use conversations as c;
    use customers as cu;
    use directory as d;
    Router::new()
        .route("/auth/login", post(access::login))
        .route("/auth/logout", post(access::logout))
        .route("/me", get(access::me))
        .route("/tokens", get(access::tokens).post(access::create_token))
        .route("/tokens/{id}", axum::routing::delete(access::revoke_token))
        .route("/conversations", get(c::list).post(c::create))
        .route("/conversations/counts", get(c::counts))
        .route("/conversations/bulk", post(c::bulk))
        .route("/views", get(c::views).post(c::create_view))
        .route("/mentions", get(c::mentions))
        .route("/views/{id}", axum::routing::delete(c::delete_view))
        .route(
            "/conversations/{id}",
            get(c::get).patch(c::update).delete(c::delete),
        )
        .route(
            "/conversations/{id}/messages",
            get(c::messages)
                .post(c::add_message)
                .layer(DefaultBodyLimit::max(max_message_bytes)),
        )
        .route("/conversations/{id}/timeline", get(c::timeline))
        .route("/attachments/{id}", get(c::attachment))
        .route("/search", get(c::search))
        .route("/customers", get(cu::list).post(cu::create))
        .route(
            "/customers/{id}",
            get(cu::get).patch(cu::update).delete(cu::delete),
        )
        .route("/customers/{id}/identities", post(cu::add_identity))
        .route("/customers/{id}/split", post(cu::split))
        .route("/customers/{id}/merge", post(cu::merge))
        .route("/customers/merge-suggestions", get(cu::merge_suggestions))
        .route("/customers/{id}/duplicates", get(cu::duplicates))
        .route(
            "/customers/{id}/duplicates/{other_id}/dismiss",
            post(cu::dismiss_duplicate),
        )
        .route("/customers/{id}/notes", get(cu::notes).post(cu::add_note))
        .route(
            "/customers/{id}/notes/{note_id}",
            axum::routing::delete(cu::delete_note),
        )
        .route("/users", get(d::users).post(d::add_user))
        .route(
            "/users/{id}",
            get(d::user).patch(d::update_user).delete(d::remove_user),
        )
        .route("/users/{id}/skills/{skill_id}", put(d::set_user_skill))
        .route("/teams", get(d::teams).post(d::create_team))
        .route(
            "/teams/{id}",
            get(d::team).patch(d::update_team).delete(d::delete_team),
        )
        .route("/skills", get(d::skills).post(d::create_skill))
        .route("/inboxes", get(d::inboxes).post(d::create_inbox))
        .route("/tags", get(d::tags).post(d::create_tag))
        .route("/tags/{id}", axum::routing::delete(d::delete_tag))
        .route("/audit", get(d::audit))
        .route("/jobs", get(d::jobs))
        .route("/jobs/{id}/retry", post(d::retry_job))
        .route("/events", get(events::stream))
        .route(
            "/conversations/{id}/transfers",
            get(handoffs::transfers).post(handoffs::transfer),
        )
        .route(
            "/conversations/{id}/capsule-draft",
            get(handoffs::capsule_draft),
        )
        .route("/transfers/offers", get(handoffs::offers))
        .route("/transfers/{id}", get(handoffs::get_transfer))
        .route("/transfers/{id}/accept", post(handoffs::accept))
        .route("/transfers/{id}/decline", post(handoffs::decline))
        .route("/transfers/{id}/cancel", post(handoffs::cancel))
        .route(
            "/conversations/{id}/follow-ups",
            get(handoffs::follow_ups).post(handoffs::add_follow_up),
        )
        .route("/follow-ups", get(handoffs::my_follow_ups))
        .route("/follow-ups/{id}/done", post(handoffs::complete_follow_up))
        .route("/reports/handoffs", get(handoffs::report))
        .route("/presence", put(routing::set_presence))
        .route("/presence/heartbeat", post(routing::heartbeat))
        .route("/agents", get(routing::agents))
        .route("/users/{id}/schedule", put(routing::set_schedule))
        .route("/routing/policies", get(routing::policies))
        .route(
            "/inboxes/{id}/routing",
            put(routing::set_policy).delete(routing::delete_policy),
        )
        .route("/conversations/{id}/queue", get(routing::queue))
        .route(
            "/conversations/{id}/activity",
            get(activity::others)
                .post(activity::report)
                .delete(activity::leave),
        )
        .route("/calendars", get(sla::calendars).post(sla::create_calendar))
        .route(
            "/calendars/{id}",
            put(sla::update_calendar).delete(sla::delete_calendar),
        )
        .route("/sla/policies", get(sla::policies).post(sla::create_policy))
        .route("/sla/policies/order", put(sla::order_policies))
        .route(
            "/sla/policies/{id}",
            put(sla::update_policy).delete(sla::delete_policy),
        )
        .route("/conversations/{id}/sla", get(sla::conversation))
        .route("/reports/sla", get(sla::summary))
        .route(
            "/automation/rules",
            get(automation::rules).post(automation::create),
        )
        .route("/automation/rules/order", put(automation::order))
        .route(
            "/automation/rules/{id}",
            put(automation::update).delete(automation::delete),
        )
        .route("/automation/dry-run", post(automation::dry_run))
        .route("/automation/runs", get(automation::runs))
        .route("/macros", get(macros::list).post(macros::create))
        .route("/macros/{id}", put(macros::update).delete(macros::delete))
        .route("/conversations/{id}/macros/{macro_id}", post(macros::apply))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/webhooks/{id}",
            get(webhooks::get)
                .put(webhooks::update)
                .delete(webhooks::delete),
        )
        .route("/webhooks/{id}/messages", get(webhooks::messages))
        .route("/webhook-messages/{id}", get(webhooks::message))
        .route("/webhook-messages/{id}/replay", post(webhooks::replay))
        .route("/email/inbound", get(email::inbound))
        .route("/messages/{id}/original", get(email::original))
        .route("/messages/{id}/resend", post(email::resend))
        .route("/imap-mailboxes", get(email::imap_mailboxes))
        .route(
            "/inboxes/{id}/imap",
            get(email::imap_mailbox)
                .put(email::set_imap_mailbox)
                .delete(email::remove_imap_mailbox),
        )
        .route("/inboxes/{id}/imap/poll", post(email::poll_imap_mailbox))
        .route("/provider-accounts", get(telephony::accounts))
        .route(
            "/inboxes/{id}/provider",
            get(telephony::account)
                .put(telephony::set_account)
                .delete(telephony::remove_account),
        )
        .route("/conversations/{id}/calls", get(telephony::calls))
        .route("/chat-widgets", get(telephony::widgets))
        .route(
            "/inboxes/{id}/widget",
            get(telephony::widget).put(telephony::set_widget),
        )
        .route(
            "/inboxes/{id}/widget/rotate-key",
            post(telephony::rotate_widget_key),
        )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Citius API",
        description = "Customer conversations on every channel. Authenticate with `Authorization: Bearer <token>`; every POST accepts an `Idempotency-Key` header."
    ),
    paths(
        access::login,
        access::logout,
        access::me,
        access::tokens,
        access::create_token,
        access::revoke_token,
        conversations::create,
        conversations::delete,
        customers::delete,
        directory::jobs,
        directory::retry_job,
        conversations::list,
        conversations::counts,
        conversations::get,
        conversations::update,
        conversations::add_message,
        conversations::messages,
        conversations::timeline,
        conversations::attachment,
        conversations::search,
        customers::create,
        customers::list,
        customers::get,
        customers::update,
        customers::add_identity,
        customers::split,
        customers::merge,
        customers::notes,
        customers::add_note,
        customers::delete_note,
        directory::users,
        directory::add_user,
        directory::user,
        directory::update_user,
        directory::remove_user,
        directory::set_user_skill,
        directory::teams,
        directory::create_team,
        directory::team,
        directory::update_team,
        directory::delete_team,
        directory::skills,
        directory::create_skill,
        directory::inboxes,
        directory::create_inbox,
        directory::tags,
        directory::create_tag,
        directory::delete_tag,
        directory::audit,
        events::stream,
        handoffs::transfer,
        handoffs::transfers,
        handoffs::capsule_draft,
        handoffs::offers,
        handoffs::get_transfer,
        handoffs::accept,
        handoffs::decline,
        handoffs::cancel,
        handoffs::add_follow_up,
        handoffs::follow_ups,
        handoffs::my_follow_ups,
        handoffs::complete_follow_up,
        handoffs::report,
        routing::set_presence,
        routing::heartbeat,
        routing::agents,
        routing::set_schedule,
        routing::policies,
        routing::set_policy,
        routing::delete_policy,
        routing::queue,
        activity::report,
        activity::others,
        activity::leave,
        sla::calendars,
        sla::create_calendar,
        sla::update_calendar,
        sla::delete_calendar,
        sla::policies,
        sla::create_policy,
        sla::update_policy,
        sla::delete_policy,
        sla::order_policies,
        sla::conversation,
        sla::summary,
        automation::rules,
        automation::create,
        automation::update,
        automation::delete,
        automation::order,
        automation::dry_run,
        automation::runs,
        macros::list,
        macros::create,
        macros::update,
        macros::delete,
        macros::apply,
        webhooks::list,
        webhooks::create,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::messages,
        webhooks::message,
        webhooks::replay,
        email::inbound,
        email::original,
        email::resend,
        email::imap_mailboxes,
        email::imap_mailbox,
        email::set_imap_mailbox,
        email::remove_imap_mailbox,
        email::poll_imap_mailbox,
        telephony::accounts,
        telephony::account,
        telephony::set_account,
        telephony::remove_account,
        telephony::calls,
        crate::hooks::messages,
        crate::hooks::status,
        crate::hooks::voice,
        telephony::widgets,
        customers::duplicates,
        conversations::views,
        conversations::bulk,
        conversations::mentions,
        conversations::create_view,
        conversations::delete_view,
        customers::merge_suggestions,
        customers::dismiss_duplicate,
        telephony::widget,
        telephony::set_widget,
        telephony::rotate_widget_key,
        crate::widget::start,
        crate::widget::messages,
        crate::widget::send,
        crate::widget::typing,
        crate::widget::read,
        crate::widget::identify,
        crate::widget::offline,
        crate::widget::state,
        crate::widget::events,
        crate::widget::file,
        crate::health,
        crate::ready,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
pub struct ApiDoc;
