//! Reading external mailboxes over IMAP. Each email inbox may name one mailbox; due mailboxes
//! are leased (one node polls a mailbox at a time) and read in parallel. New messages, found by
//! UID, go through the same intake as SMTP mail; the UID is recorded only once the message is
//! stored, so a crash reads it again and the redelivery is recognised.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Client;
use citius_domain::Invalid;
use citius_domain::conversation::Channel;
use citius_domain::email::MAX_MESSAGE_BYTES;
use citius_domain::imap::{self as rules, MailboxInput, Security};
use citius_domain::records::ImapMailbox;
use citius_domain::role::Permission;
use citius_domain::webhook::{TargetPolicy, check_address};
use citius_store::email::{self as email_store, NewInbound};
use citius_store::imap::{self as store, Account};
use citius_store::{directory, now_ms};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::rustls;

use crate::email::{MailError, MailSource, MailTarget};
use crate::{Actor, App, AppError, AppResult, require};

/// Mailboxes read at the same time by one node.
const PARALLEL: i64 = 8;
/// How long a node holds a mailbox; a poll that takes longer is cut off before it ends.
const LEASE_MS: i64 = 10 * 60_000;
const POLL_TIMEOUT: Duration = Duration::from_secs(8 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte stream to an IMAP server, with or without TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

impl App {
    /// The IMAP mailboxes of the workspace's inboxes.
    pub async fn imap_mailboxes(&self, actor: &Actor) -> AppResult<Vec<ImapMailbox>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(store::list(&mut c, actor.workspace_id).await?)
    }

    pub async fn imap_mailbox(&self, actor: &Actor, inbox_id: i64) -> AppResult<ImapMailbox> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        directory::inbox_by_id(&mut c, actor.workspace_id, inbox_id).await?;
        store::get(&mut c, actor.workspace_id, inbox_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Sets the mailbox an email inbox reads; it is polled at once. Audited (never the password).
    pub async fn set_imap_mailbox(
        &self,
        actor: &Actor,
        inbox_id: i64,
        input: MailboxInput,
    ) -> AppResult<ImapMailbox> {
        require(actor, Permission::Administer)?;
        let ws = actor.workspace_id;
        let mut tx = self.db.begin().await?;
        let inbox = directory::inbox_by_id(&mut tx, ws, inbox_id).await?;
        if inbox.channel != Channel::Email {
            return Err(Invalid::field("inbox", "only an email inbox can read a mailbox").into());
        }
        let valid = input.validate(store::exists(&mut tx, ws, inbox_id).await?)?;
        store::put(&mut tx, ws, inbox_id, &valid).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "inbox.imap_set",
            "inbox",
            Some(inbox_id),
            json!({"host": valid.host, "port": valid.port, "username": valid.username,
                   "folder": valid.folder, "enabled": valid.enabled,
                   "password_changed": valid.password.is_some()}),
        )
        .await?;
        let view = store::get(&mut tx, ws, inbox_id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(view)
    }

    /// Stops reading the inbox's mailbox. What was taken stays. Audited.
    pub async fn remove_imap_mailbox(&self, actor: &Actor, inbox_id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        if !store::delete(&mut tx, actor.workspace_id, inbox_id).await? {
            return Err(AppError::NotFound);
        }
        crate::directory::audit(
            &mut tx,
            actor,
            "inbox.imap_removed",
            "inbox",
            Some(inbox_id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks for the mailbox to be read now rather than at its next turn.
    pub async fn poll_imap_now(&self, actor: &Actor, inbox_id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        if !store::poll_soon(&mut tx, actor.workspace_id, inbox_id).await? {
            return Err(AppError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reads every due mailbox once, up to [`PARALLEL`] at a time; returns how many were read.
    /// Tests call this to poll deterministically; [`App::run_imap_poller`] keeps polling.
    pub async fn poll_due_mailboxes(&self) -> AppResult<usize> {
        let due = self.claim_mailboxes(PARALLEL).await?;
        let n = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(None, |account| self.poll_one(account))
            .await;
        Ok(n)
    }

    async fn claim_mailboxes(&self, limit: i64) -> AppResult<Vec<Account>> {
        let mut tx = self.db.begin().await?;
        let due = store::claim_due(&mut tx, self.db.backend(), limit, LEASE_MS).await?;
        tx.commit().await?;
        Ok(due)
    }

    async fn poll_one(&self, account: Account) {
        let outcome = tokio::time::timeout(POLL_TIMEOUT, self.poll_mailbox(&account))
            .await
            .unwrap_or_else(|_| Err("the poll took too long and was cut off".into()));
        if let Err(e) = self.end_poll(&account, outcome).await {
            tracing::error!(inbox_id = account.inbox_id, error = %e, "recording an IMAP poll failed");
        }
    }

    async fn end_poll(&self, a: &Account, outcome: Result<Poll, String>) -> AppResult<()> {
        let (error, next_in_secs) = match &outcome {
            Ok(Poll { more: true, .. }) => (None, 0),
            Ok(_) => (None, a.interval_secs),
            Err(e) => (
                Some(e.as_str()),
                rules::next_poll_in(a.interval_secs, a.failures + 1),
            ),
        };
        match &outcome {
            Ok(p) if p.taken > 0 => tracing::info!(
                inbox_id = a.inbox_id,
                taken = p.taken,
                "read mail over IMAP"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(inbox_id = a.inbox_id, host = %a.host, error = %e, "IMAP poll failed")
            }
        }
        let mut tx = self.db.begin().await?;
        store::finish(&mut tx, a, error, now_ms() + next_in_secs * 1000).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Polls due mailboxes until `shutdown` turns true: up to [`PARALLEL`] at once, a free
    /// place taken by the next due mailbox at once (a slow server holds up only itself).
    pub async fn run_imap_poller(&self, tick: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut running = tokio::task::JoinSet::new();
        loop {
            let free = PARALLEL - running.len() as i64;
            if free > 0 {
                match self.claim_mailboxes(free).await {
                    Ok(due) => {
                        for account in due {
                            let app = self.clone();
                            running.spawn(async move { app.poll_one(account).await });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "claiming IMAP mailboxes failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                // Progress is saved message by message; a cut poll's lease runs out and another
                // node (or the next start) carries on.
                running.shutdown().await;
                return;
            }
        }
    }

    /// Reads one mailbox: everything after the last UID taken, oldest first, one batch.
    async fn poll_mailbox(&self, a: &Account) -> Result<Poll, String> {
        let inbox = {
            let mut c = self.db.read().await.map_err(|e| e.to_string())?;
            directory::inbox_by_id(&mut c, a.workspace_id, a.inbox_id)
                .await
                .map_err(|e| e.to_string())?
        };
        let target = MailTarget {
            workspace_id: a.workspace_id,
            inbox,
            tag: None,
        };
        let policy = TargetPolicy {
            allow_private: self.config.imap_allow_private,
            allowed_hosts: Vec::new(),
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect(a, &policy))
            .await
            .map_err(|_| format!("no answer from {}:{} in time", a.host, a.port))??;
        let mut client = Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|e| format!("reading the greeting: {e}"))?
            .ok_or("the server closed the connection before greeting")?;
        let mut session = client
            .login(&a.username, &a.password)
            .await
            .map_err(|(e, _)| format!("login refused: {e}"))?;
        let folder = session
            .select(&a.folder)
            .await
            .map_err(|e| format!("cannot open folder '{}': {e}", a.folder))?;
        let validity = folder
            .uid_validity
            .ok_or("the server gave no UIDVALIDITY for the folder")?;
        let after = rules::resume_after(
            a.uid_validity.and_then(|v| u32::try_from(v).ok()),
            u32::try_from(a.last_uid).unwrap_or(0),
            validity,
        );
        let uids = if folder.exists == 0 {
            Vec::new()
        } else {
            let found = session
                .uid_search(format!("UID {}:*", after.saturating_add(1)))
                .await
                .map_err(|e| format!("searching the folder: {e}"))?;
            rules::to_fetch(found, after)
        };
        let sizes = sizes_of(&mut session, &uids).await?;
        let mut poll = Poll {
            taken: 0,
            more: uids.len() == rules::BATCH,
        };
        for uid in uids {
            // A size the server does not tell is treated as too large: never download blind.
            let size = sizes.get(&uid).copied().map_or(usize::MAX, |s| s as usize);
            if size > MAX_MESSAGE_BYTES {
                let (size, reason) = match sizes.get(&uid) {
                    Some(s) => (
                        i64::from(*s),
                        format!("larger than the {} MiB limit", MAX_MESSAGE_BYTES >> 20),
                    ),
                    None => (0, "the server did not tell its size".to_string()),
                };
                self.record_refused(&target, &[], size, &reason, uid)
                    .await
                    .map_err(|e| e.to_string())?;
            } else {
                let raw = fetch_one(&mut session, uid).await?;
                match self
                    .receive_mail(
                        std::slice::from_ref(&target),
                        raw.clone(),
                        MailSource::Imap,
                        None,
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(MailError::Refused(why)) => {
                        self.record_refused(&target, &raw, raw.len() as i64, &why.to_string(), uid)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Err(MailError::Failed(e)) => return Err(format!("storing UID {uid}: {e}")),
                }
            }
            let mut tx = self.db.begin().await.map_err(|e| e.to_string())?;
            let held = store::advance(&mut tx, a, i64::from(validity), i64::from(uid), 1)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            if !held {
                // The settings changed or another node took over: stop here, nothing is lost.
                poll.more = false;
                break;
            }
            poll.taken += 1;
            // Shows the mail as read in the customer-facing mailbox; nothing depends on it.
            if let Ok(updates) = session.uid_store(uid.to_string(), "+FLAGS (\\Seen)").await {
                let _ = updates.collect::<Vec<_>>().await;
            }
        }
        let _ = session.logout().await;
        Ok(poll)
    }

    /// Keeps a note of a mail that could not be taken, so an administrator sees why.
    async fn record_refused(
        &self,
        target: &MailTarget,
        raw: &[u8],
        size: i64,
        reason: &str,
        uid: u32,
    ) -> AppResult<()> {
        let key = format!(
            "imap-refused:{}:{uid}:{}",
            target.inbox.id,
            hex::encode(Sha256::digest(raw))
        );
        let mut tx = self.db.begin().await?;
        if email_store::already_received(&mut tx, target.inbox.id, &key)
            .await?
            .is_none()
        {
            email_store::record_inbound(
                &mut tx,
                &NewInbound {
                    workspace_id: target.workspace_id,
                    inbox_id: target.inbox.id,
                    dedupe_key: &key,
                    source: MailSource::Imap.as_str(),
                    envelope_from: None,
                    outcome: "rejected",
                    reason: Some(reason),
                    conversation_id: None,
                    message_id: None,
                    raw_sha256: None,
                    size,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// What one poll did.
struct Poll {
    taken: i64,
    /// A full batch was read: more may be waiting, so poll again at once.
    more: bool,
}

/// Opens the connection, refusing addresses the policy keeps out (a mailbox setting must not
/// become a way to probe the internal network).
async fn connect(a: &Account, policy: &TargetPolicy) -> Result<Box<dyn Io>, String> {
    let port = u16::try_from(a.port).map_err(|_| format!("bad port {}", a.port))?;
    let host = a.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} resolves to no address");
    let mut tcp = None;
    for addr in addrs {
        if let Err(why) = check_address(addr.ip(), policy) {
            last = format!("{host}: {why} (set imap_allow_private to allow it)");
            continue;
        }
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let tcp = tcp.ok_or(last)?;
    tcp.set_nodelay(true).ok();
    match Security::parse(&a.security) {
        Some(Security::Plain) => Ok(Box::new(tcp)),
        _ => {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| format!("bad server name {host}: {e}"))?;
            let tls = tls_connector()?
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host} failed: {e}"))?;
            Ok(Box::new(tls))
        }
    }
}

/// Checks servers against the public web roots built into the binary (no system store needed).
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(tokio_rustls::TlsConnector::from(config.clone()));
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS is not available: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let config = CONFIG.get_or_init(|| Arc::new(config));
    Ok(tokio_rustls::TlsConnector::from(config.clone()))
}

type Session = async_imap::Session<Box<dyn Io>>;

/// Sizes of the messages about to be fetched, so one too large is never downloaded.
async fn sizes_of(session: &mut Session, uids: &[u32]) -> Result<HashMap<u32, u32>, String> {
    if uids.is_empty() {
        return Ok(HashMap::new());
    }
    let set = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let fetches: Vec<_> = session
        .uid_fetch(set, "(UID RFC822.SIZE)")
        .await
        .map_err(|e| format!("reading message sizes: {e}"))?
        .try_collect()
        .await
        .map_err(|e| format!("reading message sizes: {e}"))?;
    Ok(fetches
        .iter()
        .filter_map(|f| Some((f.uid?, f.size?)))
        .collect())
}

/// One message, byte for byte, without marking it read.
async fn fetch_one(session: &mut Session, uid: u32) -> Result<Vec<u8>, String> {
    let fetches: Vec<_> = session
        .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
        .await
        .map_err(|e| format!("fetching UID {uid}: {e}"))?
        .try_collect()
        .await
        .map_err(|e| format!("fetching UID {uid}: {e}"))?;
    fetches
        .iter()
        .find(|f| f.uid == Some(uid))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("the server sent no body for UID {uid}"))
}
