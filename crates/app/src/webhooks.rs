//! Outbound webhooks: endpoints per workspace, one signed message per subscribed event, sent
//! by the job queue with growing delays over about a day, a delivery log, manual replay, and
//! endpoints turned off after persistent failure. Targets on private, loopback or link-local
//! addresses are refused unless the configuration allows them, checked on every resolved
//! address and again on every redirect.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use citius_domain::paging::{Page, PageRequest};
use citius_domain::records::{
    Conversation, Event, WebhookAttemptInfo, WebhookEndpointInfo, WebhookMessageInfo,
};
use citius_domain::role::Permission;
use citius_domain::webhook::{
    self, Delivery, EndpointInput, TargetPolicy, WebhookPayload, WebhookSecret,
};
use citius_store::webhooks::{self as store, AttemptOutcome, EndpointFields};
use citius_store::{Conn, jobs, now_ms};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::{Actor, App, AppError, AppResult, require};

/// Sends one webhook message (one attempt).
pub const DELIVER: &str = "webhook.deliver";

/// An endpoint as created: the only time its signing secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointInfo,
    /// `whsec_...`: verify the `webhook-signature` header with it (Standard Webhooks).
    pub secret: String,
}

/// A message with the attempts made to deliver it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: WebhookMessageInfo,
    pub attempts: Vec<WebhookAttemptInfo>,
}

impl App {
    fn target_policy(&self) -> TargetPolicy {
        TargetPolicy {
            allow_private: self.config.webhook_allow_private,
            allowed_hosts: Vec::new(),
        }
    }

    pub async fn webhook_endpoints(&self, actor: &Actor) -> AppResult<Vec<WebhookEndpointInfo>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(store::endpoints(&mut c, actor.workspace_id)
            .await?
            .into_iter()
            .map(|e| e.info)
            .collect())
    }

    pub async fn webhook_endpoint(&self, actor: &Actor, id: i64) -> AppResult<WebhookEndpointInfo> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        Ok(store::get_endpoint(&mut c, actor.workspace_id, id)
            .await?
            .info)
    }

    /// Adds an endpoint with a new signing secret. Audited.
    pub async fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        input: EndpointInput,
    ) -> AppResult<CreatedEndpoint> {
        require(actor, Permission::Administer)?;
        let valid = input.validate(&self.target_policy())?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = WebhookSecret::from_bytes(&bytes);
        let mut tx = self.db.begin().await?;
        let fields = EndpointFields {
            url: valid.url.as_str(),
            description: &valid.description,
            event_types: &valid.event_types,
            enabled: valid.enabled,
        };
        let id =
            store::create_endpoint(&mut tx, actor.workspace_id, &fields, secret.expose()).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "webhook.created",
            "webhook_endpoint",
            Some(id),
            json!({"url": valid.url.as_str(), "event_types": valid.event_types}),
        )
        .await?;
        let endpoint = store::get_endpoint(&mut tx, actor.workspace_id, id)
            .await?
            .info;
        tx.commit().await?;
        Ok(CreatedEndpoint {
            endpoint,
            secret: secret.expose().to_string(),
        })
    }

    /// Changes an endpoint; enabling it again clears why it was turned off. Audited.
    pub async fn update_webhook_endpoint(
        &self,
        actor: &Actor,
        id: i64,
        input: EndpointInput,
    ) -> AppResult<WebhookEndpointInfo> {
        require(actor, Permission::Administer)?;
        let valid = input.validate(&self.target_policy())?;
        let mut tx = self.db.begin().await?;
        let fields = EndpointFields {
            url: valid.url.as_str(),
            description: &valid.description,
            event_types: &valid.event_types,
            enabled: valid.enabled,
        };
        store::update_endpoint(&mut tx, actor.workspace_id, id, &fields).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "webhook.updated",
            "webhook_endpoint",
            Some(id),
            json!({"url": valid.url.as_str(), "enabled": valid.enabled}),
        )
        .await?;
        let endpoint = store::get_endpoint(&mut tx, actor.workspace_id, id)
            .await?
            .info;
        tx.commit().await?;
        Ok(endpoint)
    }

    /// Deletes an endpoint and its delivery log. Audited.
    pub async fn delete_webhook_endpoint(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        store::delete_endpoint(&mut tx, actor.workspace_id, id).await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "webhook.deleted",
            "webhook_endpoint",
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The delivery log of an endpoint, newest first.
    pub async fn webhook_messages(
        &self,
        actor: &Actor,
        endpoint_id: i64,
        page: PageRequest,
    ) -> AppResult<Page<WebhookMessageInfo>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        store::get_endpoint(&mut c, actor.workspace_id, endpoint_id).await?;
        Ok(store::messages(&mut c, actor.workspace_id, endpoint_id, page).await?)
    }

    /// The delivery log of an endpoint with every attempt, newest message first.
    pub async fn webhook_log(
        &self,
        actor: &Actor,
        endpoint_id: i64,
        page: PageRequest,
    ) -> AppResult<Page<MessageDetail>> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        store::get_endpoint(&mut c, actor.workspace_id, endpoint_id).await?;
        let messages = store::messages(&mut c, actor.workspace_id, endpoint_id, page).await?;
        let ids: Vec<i64> = messages.items.iter().map(|m| m.id).collect();
        let mut attempts = store::attempts_of(&mut c, &ids).await?;
        Ok(messages.map(|message| {
            let (mine, rest): (Vec<_>, Vec<_>) =
                attempts.drain(..).partition(|(id, _)| *id == message.id);
            attempts = rest;
            MessageDetail {
                message,
                attempts: mine.into_iter().map(|(_, a)| a).collect(),
            }
        }))
    }

    pub async fn webhook_message(&self, actor: &Actor, id: i64) -> AppResult<MessageDetail> {
        require(actor, Permission::Administer)?;
        let mut c = self.db.read().await?;
        let message = store::get_message(&mut c, actor.workspace_id, id).await?;
        let attempts = store::attempts(&mut c, id).await?;
        Ok(MessageDetail { message, attempts })
    }

    /// Sends a message again now, with the same `webhook-id`. Audited.
    pub async fn replay_webhook_message(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require(actor, Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        let message = store::get_message(&mut tx, actor.workspace_id, id).await?;
        let endpoint =
            store::get_endpoint(&mut tx, actor.workspace_id, message.endpoint_id).await?;
        if !endpoint.info.enabled {
            return Err(AppError::Conflict(
                "the endpoint is disabled: enable it first".into(),
            ));
        }
        store::requeue(&mut tx, actor.workspace_id, id).await?;
        enqueue_delivery(
            &mut tx,
            actor.workspace_id,
            id,
            now_ms(),
            &format!("replay:{}", now_ms()),
        )
        .await?;
        crate::directory::audit(
            &mut tx,
            actor,
            "webhook.replayed",
            "webhook_message",
            Some(id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes one message per enabled endpoint subscribed to the event, with its delivery job,
    /// in the caller's transaction.
    pub(crate) async fn fan_out_webhooks(
        &self,
        tx: &mut Conn,
        endpoints: &[store::Endpoint],
        workspace_id: i64,
        event: &Event,
        conversation: &Conversation,
    ) -> AppResult<()> {
        let Some(event_type) = webhook::event_type_of(event.kind) else {
            return Ok(());
        };
        let targets: Vec<&store::Endpoint> = endpoints
            .iter()
            .filter(|e| e.info.enabled && webhook::subscribes(&e.info.event_types, event_type))
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let payload = WebhookPayload::new(
            event_type,
            event.created_at,
            json!({
                "event_id": event.id,
                "kind": event.kind,
                "actor_user_id": event.actor_user_id,
                "details": event.data,
                "conversation": conversation,
            }),
        );
        let body = payload.to_body()?;
        for e in targets {
            let msg_id = format!("msg_{}_{}", event.id, e.info.id);
            let id = store::insert_message(tx, workspace_id, e.info.id, &msg_id, event_type, &body)
                .await?;
            enqueue_delivery(tx, workspace_id, id, now_ms(), "first").await?;
        }
        Ok(())
    }

    /// Sends one message to one endpoint whatever it subscribes to (a rule's action), in the
    /// caller's transaction.
    pub(crate) async fn send_to_endpoint(
        &self,
        tx: &mut Conn,
        workspace_id: i64,
        endpoint_id: i64,
        event_type: &str,
        data: serde_json::Value,
    ) -> AppResult<()> {
        let endpoint = store::get_endpoint(tx, workspace_id, endpoint_id)
            .await
            .map_err(|e| crate::conversations::not_found_as(e, "endpoint_id"))?;
        if !endpoint.info.enabled {
            return Err(AppError::Conflict(
                "the webhook endpoint is turned off".into(),
            ));
        }
        let body = WebhookPayload::new(event_type, jiff::Timestamp::now(), data).to_body()?;
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let msg_id = format!("msg_{}", hex::encode(nonce));
        let id = store::insert_message(tx, workspace_id, endpoint_id, &msg_id, event_type, &body)
            .await?;
        enqueue_delivery(tx, workspace_id, id, now_ms(), "first").await
    }

    /// One delivery attempt. Failures are recorded and retried later by a new job, so the job
    /// itself only fails when the database does.
    pub(crate) async fn deliver_webhook(&self, job: &jobs::Job) -> AppResult<()> {
        let Some(message_id) = job.payload.get("message_id").and_then(|v| v.as_i64()) else {
            return Ok(());
        };
        let mut c = self.db.read().await?;
        let (message, body) = match store::message_to_send(&mut c, message_id).await {
            Ok(m) => m,
            Err(citius_store::DbError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let ws = job.workspace_id.unwrap_or_default();
        let endpoint = match store::get_endpoint(&mut c, ws, message.endpoint_id).await {
            Ok(e) => e,
            Err(citius_store::DbError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        drop(c);
        if message.status != "pending" || !endpoint.info.enabled {
            return Ok(());
        }
        let attempt = message.attempts + 1;
        let started = Instant::now();
        let result = self.post_webhook(&endpoint, &message.msg_id, &body).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = now_ms();
        let (status_code, error) = match &result {
            Ok(code) => (Some(i64::from(*code)), None),
            Err(e) => (None, Some(e.as_str())),
        };
        let delivery = Delivery::judge(status_code.and_then(|c| u16::try_from(c).ok()));
        let outcome = AttemptOutcome {
            status_code,
            error,
            duration_ms,
        };
        let mut tx = self.db.begin().await?;
        match delivery {
            Delivery::Delivered => {
                store::record_attempt(&mut tx, message_id, attempt, &outcome, "delivered", None)
                    .await?;
                store::set_failing(&mut tx, endpoint.info.id, None).await?;
            }
            Delivery::Gone => {
                store::record_attempt(&mut tx, message_id, attempt, &outcome, "failed", None)
                    .await?;
                store::disable(&mut tx, endpoint.info.id, "the endpoint answered 410 Gone").await?;
            }
            Delivery::Retry => {
                let jitter = rand::rng().next_u32();
                match webhook::next_attempt_delay(attempt, jitter) {
                    Some(delay) => {
                        let at = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                        store::record_attempt(
                            &mut tx,
                            message_id,
                            attempt,
                            &outcome,
                            "pending",
                            Some(at),
                        )
                        .await?;
                        enqueue_delivery(&mut tx, ws, message_id, at, &format!("after{attempt}"))
                            .await?;
                    }
                    None => {
                        store::record_attempt(
                            &mut tx, message_id, attempt, &outcome, "failed", None,
                        )
                        .await?;
                    }
                }
                store::set_failing(&mut tx, endpoint.info.id, Some(now)).await?;
                let since = endpoint
                    .info
                    .failing_since
                    .map_or(now, |t| t.as_millisecond());
                if let Some(reason) = webhook::should_disable(since, now) {
                    store::disable(&mut tx, endpoint.info.id, &reason).await?;
                }
            }
        }
        tx.commit().await?;
        if delivery != Delivery::Delivered {
            tracing::info!(message_id, attempt, endpoint_id = endpoint.info.id, status = ?status_code, error = ?error, "webhook delivery failed");
        }
        Ok(())
    }

    /// Posts a signed message; the HTTP status, or why there was none.
    async fn post_webhook(
        &self,
        endpoint: &store::Endpoint,
        msg_id: &str,
        body: &str,
    ) -> Result<u16, String> {
        let policy = self.target_policy();
        let url = webhook::check_url(&endpoint.info.url, &policy).map_err(|e| e.to_string())?;
        let secret = WebhookSecret::parse(&endpoint.secret).map_err(|e| e.to_string())?;
        let timestamp = jiff::Timestamp::now().as_second();
        let signature = webhook::sign(&secret, msg_id, timestamp, body.as_bytes());
        let response = guarded_client(policy)
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

async fn enqueue_delivery(
    c: &mut Conn,
    workspace_id: i64,
    message_id: i64,
    run_at: i64,
    key: &str,
) -> AppResult<()> {
    jobs::enqueue(
        c,
        &jobs::NewJob {
            workspace_id: Some(workspace_id),
            kind: DELIVER,
            payload: json!({"message_id": message_id}),
            run_at,
            max_attempts: 5,
            dedupe_key: Some(format!("webhook:{message_id}:{key}")),
        },
    )
    .await?;
    Ok(())
}

/// The error chain of a failed request, without the URL (it may carry a token).
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else if e.is_redirect() {
        "redirect refused".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// An HTTP client that resolves names itself and refuses refused addresses, and checks every
/// redirect target the same way; bodies and waits are bounded.
pub(crate) fn guarded_client(policy: TargetPolicy) -> reqwest::Client {
    let policy = Arc::new(policy);
    let redirect_policy = policy.clone();
    let builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        // A proxy would connect for us and bypass the address checks.
        .no_proxy()
        .user_agent(concat!("Citius-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver(policy)))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("too many redirects");
            }
            match webhook::check_url(attempt.url().as_str(), &redirect_policy) {
                Ok(_) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        }));
    builder.build().unwrap_or_default()
}

struct GuardedResolver(Arc<TargetPolicy>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| webhook::check_address(a.ip(), &policy).is_ok())
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves only to refused addresses (private, loopback or link-local)"
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}
