//! Background work: runs due jobs from the durable queue and keeps tables tidy.

use std::time::Duration;

use citius_domain::conversation::Status;
use citius_domain::event::EventKind;
use citius_store::conversations::{self, Changes};
use citius_store::{directory, idempotency, jobs, now_ms};
use serde_json::json;
use tokio::sync::watch;

use crate::{App, AppResult};

/// Wakes a snoozed conversation when its time comes.
pub const UNSNOOZE: &str = "conversation.unsnooze";

const LEASE_MS: i64 = 5 * 60_000;
const BATCH: i64 = 20;

impl App {
    /// Background jobs of the workspace, e.g. the dead ones an operator should look at.
    pub async fn jobs(
        &self,
        actor: &crate::Actor,
        status: Option<&str>,
        page: citius_domain::paging::PageRequest,
    ) -> AppResult<citius_domain::paging::Page<citius_domain::records::JobInfo>> {
        crate::require(actor, citius_domain::role::Permission::Administer)?;
        if let Some(s) = status
            && !matches!(s, "queued" | "running" | "done" | "dead")
        {
            return Err(citius_domain::Invalid::field(
                "status",
                "must be one of queued, running, done, dead",
            )
            .into());
        }
        let mut c = self.db.read().await?;
        Ok(jobs::list(&mut c, actor.workspace_id, status, page).await?)
    }

    /// Runs a dead job again. Audited.
    pub async fn retry_job(&self, actor: &crate::Actor, id: i64) -> AppResult<()> {
        crate::require(actor, citius_domain::role::Permission::Administer)?;
        let mut tx = self.db.begin().await?;
        if !jobs::retry_dead(&mut tx, actor.workspace_id, id).await? {
            return Err(crate::AppError::NotFound);
        }
        crate::directory::audit(&mut tx, actor, "job.retried", "job", Some(id), json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reacts to new events and runs due jobs until neither is left; returns how many jobs
    /// ran. Tests call this to drive work deterministically; the worker loop calls it on
    /// every tick.
    pub async fn run_due_jobs(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            self.drain_outbox().await?;
            let mut tx = self.db.begin().await?;
            let batch = jobs::claim(&mut tx, self.db.backend(), BATCH, LEASE_MS).await?;
            tx.commit().await?;
            if batch.is_empty() {
                return Ok(total);
            }
            total += batch.len();
            for job in batch {
                let outcome = self.run_job(&job).await;
                let mut tx = self.db.begin().await?;
                match outcome {
                    Ok(()) => {
                        jobs::complete(&mut tx, job.id, job.attempts).await?;
                    }
                    Err(e) => {
                        tracing::warn!(job_id = job.id, kind = %job.kind, attempt = job.attempts, error = %e, "job failed");
                        jobs::fail(&mut tx, &job, &e).await?;
                    }
                }
                tx.commit().await?;
            }
        }
    }

    async fn run_job(&self, job: &jobs::Job) -> Result<(), String> {
        match job.kind.as_str() {
            UNSNOOZE => self.unsnooze(job).await.map_err(|e| e.to_string()),
            crate::handoffs::OFFER_TIMEOUT => {
                self.expire_offer(job).await.map_err(|e| e.to_string())
            }
            crate::handoffs::FOLLOW_UP_DUE => {
                self.follow_up_due(job).await.map_err(|e| e.to_string())
            }
            crate::sla::TIMER => self.sla_timer(job).await.map_err(|e| e.to_string()),
            crate::webhooks::DELIVER => self.deliver_webhook(job).await.map_err(|e| e.to_string()),
            crate::email::SEND => self.send_email(job).await.map_err(|e| e.to_string()),
            crate::telephony::SEND => self.send_text(job).await.map_err(|e| e.to_string()),
            other => Err(format!("unknown job kind '{other}'")),
        }
    }

    /// Reopens the conversation if it is still snoozed until (or before) the job's time.
    /// Idempotent: a second run finds it open and does nothing.
    async fn unsnooze(&self, job: &jobs::Job) -> AppResult<()> {
        let (Some(ws), Some(id)) = (
            job.workspace_id,
            job.payload.get("conversation_id").and_then(|v| v.as_i64()),
        ) else {
            return Ok(());
        };
        let mut tx = self.db.begin().await?;
        let conv = match conversations::get(&mut tx, ws, id).await {
            Ok(c) => c,
            Err(citius_store::DbError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let due = conv
            .snoozed_until
            .is_some_and(|t| t.as_millisecond() <= now_ms());
        if conv.status != Status::Snoozed || !due {
            return Ok(());
        }
        conversations::apply(
            &mut tx,
            ws,
            id,
            &Changes {
                status: Some(Status::Open),
                snoozed_until: Some(None),
                ..Changes::default()
            },
        )
        .await?;
        let event = conversations::insert_event(
            &mut tx,
            ws,
            id,
            EventKind::StatusChanged,
            None,
            &json!({"from": "snoozed", "to": "open", "reason": "snooze_ended"}),
        )
        .await?;
        self.commit(tx, ws, vec![event]).await?;
        Ok(())
    }

    /// Forgets what is no longer needed: expired sessions, day-old idempotency keys, week-old
    /// finished jobs, chat visitors who never wrote.
    pub async fn tidy(&self) -> AppResult<()> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        directory::delete_expired_sessions(&mut tx).await?;
        idempotency::purge(&mut tx, now - 24 * 3_600_000).await?;
        jobs::purge_done(&mut tx, now - 7 * 24 * 3_600_000).await?;
        conversations::purge_orphan_blobs(&mut tx).await?;
        citius_store::activity::purge(&mut tx, now).await?;
        // Browsers that opened the chat a month ago and never wrote.
        citius_store::chat::purge_idle(&mut tx, now - 30 * 24 * 3_600_000).await?;
        citius_store::db::optimize(&mut tx, self.db.backend()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The worker loop: polls for due jobs every `poll` until `shutdown` turns true.
    pub async fn run_worker(&self, poll: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut last_tidy = std::time::Instant::now() - Duration::from_secs(3600);
        loop {
            if let Err(e) = self.run_due_jobs().await {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "job runner failed");
            }
            if let Err(e) = self.run_idle_rules().await {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "idle rules failed");
            }
            if let Err(e) = self.route_waiting().await {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "routing failed");
            }
            if last_tidy.elapsed() > Duration::from_secs(600) {
                if let Err(e) = self.tidy().await {
                    tracing::error!(error = %e, "tidy failed");
                }
                last_tidy = std::time::Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
