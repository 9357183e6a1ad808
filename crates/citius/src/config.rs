//! Settings: embedded defaults, then an optional file, then `CITIUS_*` environment variables,
//! then command-line flags. Checked once at start so mistakes are reported before serving.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Deserialize;

pub const DEFAULTS: &str = r#"# Citius configuration. Every key can also be set as an environment variable:
# CITIUS_LISTEN, CITIUS_DATA_DIR, CITIUS_DATABASE_URL, CITIUS_LOG_FORMAT, ...

# Address the web UI and API listen on.
listen = "127.0.0.1:8080"
# Embedded SQLite lives here unless database_url is set.
data_dir = "./citius-data"
# postgres://user:password@host/db to run on PostgreSQL (several nodes can share it).
database_url = ""
# Connections per pool.
max_connections = 16
# "text" for people, "json" for log collectors.
log_format = "text"
# Mark cookies Secure: set when serving behind HTTPS.
secure_cookies = false
# Take client addresses from X-Forwarded-For: only behind a proxy you control.
trust_proxy = false
# The address customers and providers reach this installation at, e.g. "https://support.example.com".
# SMS/WhatsApp/voice webhook signatures are checked against it and delivery reports are asked for
# there. Empty: taken from each request's Host header.
public_url = ""
# Web session lifetime.
session_ttl_hours = 336
# Failed sign-ins allowed per email and per address within login_window_secs.
login_attempts = 10
login_window_secs = 900
# Largest request body (API), and largest message with attachments, in bytes.
max_body_bytes = 1048576
max_message_bytes = 26214400
max_attachment_bytes = 10485760
# How often the worker looks for due jobs and routes waiting conversations, in milliseconds.
worker_poll_ms = 1000
# Online agents whose screen has been silent this long turn away (their chats go back to the queue).
auto_away_secs = 600
# Let outbound webhooks reach private, loopback and link-local addresses (refused by default
# so a webhook cannot probe the internal network).
webhook_allow_private = false
# Let email inboxes read IMAP mailboxes on private, loopback and link-local addresses (e.g. a
# mail server on the internal network); refused by default for the same reason.
imap_allow_private = false
# Receive customers' mail over SMTP on this address (e.g. "0.0.0.0:25"); empty: no listener.
smtp_listen = ""
# The name the SMTP listener gives itself in its greeting and Received headers.
smtp_hostname = "localhost"
# Where agents' email replies are sent from, e.g. "smtp://user:password@mail.example.com:587?tls=required"
# (smtps:// for TLS from the start). Empty: replies wait in the queue until one is set.
smtp_relay = ""
"#;

/// Every setting's key, as in the file; `CITIUS_<KEY>` in the environment.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "max_connections",
    "log_format",
    "secure_cookies",
    "trust_proxy",
    "session_ttl_hours",
    "login_attempts",
    "login_window_secs",
    "max_body_bytes",
    "max_message_bytes",
    "max_attachment_bytes",
    "worker_poll_ms",
    "auto_away_secs",
    "webhook_allow_private",
    "public_url",
    "imap_allow_private",
    "smtp_listen",
    "smtp_hostname",
    "smtp_relay",
];

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub max_connections: u32,
    pub log_format: String,
    pub secure_cookies: bool,
    pub trust_proxy: bool,
    pub session_ttl_hours: i64,
    pub login_attempts: u32,
    pub login_window_secs: u64,
    pub max_body_bytes: usize,
    pub max_message_bytes: usize,
    pub max_attachment_bytes: usize,
    pub worker_poll_ms: u64,
    pub auto_away_secs: u64,
    pub webhook_allow_private: bool,
    pub imap_allow_private: bool,
    pub public_url: String,
    pub smtp_listen: String,
    pub smtp_hostname: String,
    pub smtp_relay: String,
}

impl std::fmt::Debug for Config {
    // The database URL may hold a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &citius_store::db::redact_url(&self.database_url),
            )
            .field("max_connections", &self.max_connections)
            .field("log_format", &self.log_format)
            .field("smtp_listen", &self.smtp_listen)
            .field(
                "smtp_relay",
                &citius_store::db::redact_url(&self.smtp_relay),
            )
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn load(file: Option<&PathBuf>) -> anyhow::Result<Self> {
        let mut b = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            b = b.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        // Only settings are read from the environment: other CITIUS_* variables (CITIUS_LOG,
        // CITIUS_CONFIG, ...) belong to other parts and must not be mistaken for typos.
        let env: std::collections::HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| {
                k.strip_prefix("CITIUS_")
                    .is_some_and(|rest| KEYS.contains(&rest.to_ascii_lowercase().as_str()))
            })
            .collect();
        b = b.add_source(
            config::Environment::with_prefix("CITIUS")
                .try_parsing(true)
                .source(Some(env)),
        );
        let cfg: Config = b
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        Ok(cfg)
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listen.parse().with_context(|| {
            format!(
                "listen = {:?} is not an address like 127.0.0.1:8080",
                self.listen
            )
        })
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!(
                "log_format must be \"text\" or \"json\", not {:?}",
                self.log_format
            );
        }
        if self.max_connections == 0 {
            bail!("max_connections must be at least 1");
        }
        if !self.database_url.is_empty()
            && !self.database_url.starts_with("postgres")
            && !self.database_url.starts_with("sqlite:")
        {
            bail!(
                "database_url must start with postgres:// or sqlite: ({})",
                citius_store::db::redact_url(&self.database_url)
            );
        }
        self.smtp_listen_addr()?;
        if !self.public_url.is_empty() {
            let ok = url::Url::parse(&self.public_url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
            });
            if !ok {
                bail!(
                    "public_url must be the installation's address like https://support.example.com, not {:?}",
                    self.public_url
                );
            }
        }
        if !self.smtp_relay.is_empty() {
            let ok = url::Url::parse(&self.smtp_relay)
                .is_ok_and(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some());
            if !ok {
                bail!(
                    "smtp_relay must be a URL like smtp://user:password@mail.example.com:587?tls=required ({})",
                    citius_store::db::redact_url(&self.smtp_relay)
                );
            }
        }
        if self.smtp_hostname.is_empty()
            || !self
                .smtp_hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        {
            bail!(
                "smtp_hostname must be a host name like mail.example.com, not {:?}",
                self.smtp_hostname
            );
        }
        Ok(())
    }

    pub fn smtp_listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        if self.smtp_listen.is_empty() {
            return Ok(None);
        }
        self.smtp_listen.parse().map(Some).with_context(|| {
            format!(
                "smtp_listen = {:?} is not an address like 0.0.0.0:25",
                self.smtp_listen
            )
        })
    }

    pub fn db_config(&self) -> citius_store::DbConfig {
        if self.database_url.is_empty() {
            citius_store::DbConfig::SqliteDir(self.data_dir.clone())
        } else {
            citius_store::DbConfig::Url(self.database_url.clone())
        }
    }

    pub fn app_config(&self) -> citius_app::AppConfig {
        citius_app::AppConfig {
            session_ttl_hours: self.session_ttl_hours,
            login_attempts: self.login_attempts,
            login_window_secs: self.login_window_secs,
            max_attachment_bytes: self.max_attachment_bytes,
            auto_away_secs: self.auto_away_secs,
            webhook_allow_private: self.webhook_allow_private,
            imap_allow_private: self.imap_allow_private,
            public_url: Some(self.public_url.trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            smtp_relay: Some(self.smtp_relay.clone()).filter(|r| !r.is_empty()),
        }
    }

    pub fn http_config(&self) -> citius_http::HttpConfig {
        citius_http::HttpConfig {
            max_body_bytes: self.max_body_bytes,
            max_message_bytes: self.max_message_bytes,
            secure_cookies: self.secure_cookies,
            trust_proxy: self.trust_proxy,
            ..citius_http::HttpConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::load(None).unwrap();
        c.validate().unwrap();
        assert!(matches!(
            c.db_config(),
            citius_store::DbConfig::SqliteDir(_)
        ));
    }

    #[test]
    fn debug_hides_passwords() {
        let mut c = Config::load(None).unwrap();
        c.database_url = "postgres://u:secret@db/x".into();
        assert!(!format!("{c:?}").contains("secret"));
    }
}
