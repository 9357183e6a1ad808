//! Citius use cases. Each public method checks the actor's role, validates input into domain
//! values, changes the store in one transaction (data, events, search, jobs together) and then
//! tells live listeners. Nothing here knows about HTTP.

pub mod access;
pub mod conversations;
pub mod customers;
pub mod directory;
pub mod error;
pub mod hub;
pub mod worker;

use std::sync::Arc;

use citius_domain::role::Permission;
use citius_store::Db;
pub use citius_store::directory::Principal as Actor;

pub use error::{AppError, AppResult};
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
}

impl Default for AppConfig {
    fn default() -> Self {
        Self { session_ttl_hours: 24 * 14, login_attempts: 10, login_window_secs: 900, max_attachment_bytes: 10 * 1024 * 1024 }
    }
}

/// The application: storage, live event fan-out and settings. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub hub: Hub,
    pub config: Arc<AppConfig>,
    login_limiter: Arc<access::LoginLimiter>,
}

impl App {
    pub fn new(db: Db, config: AppConfig) -> Self {
        let limiter = access::LoginLimiter::new(config.login_attempts, std::time::Duration::from_secs(config.login_window_secs));
        Self { db, hub: Hub::new(), config: Arc::new(config), login_limiter: Arc::new(limiter) }
    }
}

/// Refuses an actor whose role lacks `p`.
pub fn require(actor: &Actor, p: Permission) -> AppResult<()> {
    if actor.role.allows(p) { Ok(()) } else { Err(AppError::Forbidden) }
}
