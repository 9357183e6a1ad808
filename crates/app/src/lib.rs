//! Citius use cases. Each public method checks the actor's role, validates input into domain
//! values, changes the store in one transaction (data, events, search, jobs together) and then
//! tells live listeners. Nothing here knows about HTTP.

pub mod access;
pub mod activity;
pub mod automation;
pub mod chat;
pub mod conversations;
pub mod customers;
pub mod directory;
pub mod email;
pub mod error;
mod group_commit;
pub mod handoffs;
pub mod hub;
pub mod imap;
pub mod macros;
mod outbox;
pub mod routing;
pub mod sla;
pub mod smtp;
pub mod telephony;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;

use citius_domain::role::Permission;
use citius_store::Db;
pub use citius_store::directory::Principal as Actor;

pub use error::{AppError, AppResult};
pub use group_commit::GroupCommit;
pub use hub::{Hub, LiveEvent};

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How long a web session lasts.
    pub session_ttl_hours: i64,
    /// Failed sign-ins allowed per email and per client address in `login_window_secs`.
    pub login_attempts: u32,
    pub login_window_secs: u64,
    /// Largest attachment accepted, in bytes.
    pub max_attachment_bytes: usize,
    /// Online agents whose screen has been silent this long turn away.
    pub auto_away_secs: u64,
    /// Outbound webhooks may reach private, loopback and link-local addresses.
    pub webhook_allow_private: bool,
    /// IMAP mailboxes may be read from private, loopback and link-local addresses.
    pub imap_allow_private: bool,
    /// The address providers and customers reach this installation at, e.g.
    /// `https://support.example.com` (webhook signatures and status callbacks use it).
    pub public_url: Option<String>,
    /// Where outgoing mail goes, e.g. `smtp://user:pass@mail.example.com:587?tls=required`.
    pub smtp_relay: Option<String>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 14,
            login_attempts: 10,
            login_window_secs: 900,
            max_attachment_bytes: 10 * 1024 * 1024,
            auto_away_secs: 600,
            webhook_allow_private: false,
            imap_allow_private: false,
            public_url: None,
            smtp_relay: None,
        }
    }
}

/// The application: storage, live event fan-out and settings. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub hub: Hub,
    pub config: Arc<AppConfig>,
    /// Names this process among the nodes sharing a database.
    pub node_id: Arc<str>,
    login_limiter: Arc<access::LoginLimiter>,
    /// Started on first use, inside the runtime that serves the writes.
    writes: Arc<std::sync::OnceLock<GroupCommit>>,
    /// The key that signs reply tokens in outgoing mail, read once from the database.
    mail_key: Arc<tokio::sync::OnceCell<Arc<[u8]>>>,
    /// The connection pool to the mail relay, made on first use.
    relay: Arc<
        std::sync::OnceLock<Result<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>, String>>,
    >,
    /// Whether each workspace has an agent online, as last read: every open chat widget asks.
    online: Arc<std::sync::Mutex<std::collections::HashMap<i64, (std::time::Instant, bool)>>>,
}

impl App {
    pub fn new(db: Db, config: AppConfig) -> Self {
        let limiter = access::LoginLimiter::new(
            config.login_attempts,
            std::time::Duration::from_secs(config.login_window_secs),
        );
        let node_id: Arc<str> = Arc::from(format!("{:016x}", rand::random::<u64>()));
        Self {
            db,
            hub: Hub::new(),
            config: Arc::new(config),
            node_id,
            login_limiter: Arc::new(limiter),
            writes: Arc::default(),
            mail_key: Arc::default(),
            relay: Arc::default(),
            online: Arc::default(),
        }
    }

    /// The group-commit queue for the frequent writes (new conversations, messages, updates).
    pub(crate) fn writes(&self) -> &GroupCommit {
        self.writes.get_or_init(|| {
            GroupCommit::start(self.db.clone(), self.hub.clone(), self.node_id.clone())
        })
    }

    /// Commits a change and tells listeners about its events: this node's at once, other nodes
    /// through a notice that PostgreSQL sends only if the commit succeeds.
    pub(crate) async fn commit(
        &self,
        mut tx: citius_store::Tx,
        workspace_id: i64,
        events: Vec<citius_domain::records::Event>,
    ) -> AppResult<()> {
        if !events.is_empty() {
            let notice = citius_store::notify::Notice::of_events(
                &self.node_id,
                workspace_id,
                events.iter().map(|e| e.id),
            );
            citius_store::notify::announce(&mut tx, self.db.backend(), &notice).await?;
        }
        tx.commit().await?;
        self.hub.publish(workspace_id, events);
        Ok(())
    }
}

/// Refuses an actor whose role lacks `p`.
pub fn require(actor: &Actor, p: Permission) -> AppResult<()> {
    if actor.role.allows(p) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}
