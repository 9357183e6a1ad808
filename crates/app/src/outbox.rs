//! Reactions to committed events: SLA clocks, automation rules and webhooks. One node at a
//! time drains the outbox (it holds the `outbox` lease), in event order, a batch per
//! transaction with a savepoint per event: an event whose handling fails for a reason other
//! than the database is logged and skipped alone; a database failure retries the whole batch.

use std::collections::HashMap;

use citius_domain::records::Event;
use citius_store::db::{release_savepoint, rollback_to_savepoint, savepoint};
use citius_store::notify::{self, Notice};
use citius_store::outbox::{self, Pending};
use citius_store::{Conn, DbError, conversations, webhooks};

use crate::{App, AppError, AppResult};

const LEASE: &str = "outbox";
const LEASE_MS: i64 = 30_000;
const BATCH: i64 = 200;

/// What reacting needs of a workspace, loaded once per batch.
pub(crate) struct WorkspaceSetup {
    pub endpoints: Vec<webhooks::Endpoint>,
    pub sla: crate::sla::SlaSetup,
}

impl App {
    /// Handles waiting events until none is left, or until another node turns out to hold the
    /// lease; returns how many were handled.
    pub async fn drain_outbox(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            let mut tx = self.db.begin().await?;
            if !outbox::take_lease(&mut tx, LEASE, &self.node_id, LEASE_MS).await? {
                return Ok(total);
            }
            let batch = outbox::oldest(&mut tx, BATCH).await?;
            if batch.is_empty() {
                tx.commit().await?;
                return Ok(total);
            }
            let mut setups: HashMap<i64, WorkspaceSetup> = HashMap::new();
            let mut produced: HashMap<i64, Vec<Event>> = HashMap::new();
            for p in &batch {
                let setup = match setups.entry(p.workspace_id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(self.workspace_setup(&mut tx, p.workspace_id).await?)
                    }
                };
                savepoint(&mut tx).await?;
                match self.react(&mut tx, &*setup, p).await {
                    Ok(events) => {
                        release_savepoint(&mut tx).await?;
                        produced.entry(p.workspace_id).or_default().extend(events);
                    }
                    Err(AppError::Internal(e)) if !matches!(e, DbError::Corrupt(_)) => {
                        return Err(AppError::Internal(e));
                    }
                    Err(e) => {
                        rollback_to_savepoint(&mut tx).await?;
                        tracing::warn!(event_id = p.event.id, error = %e, "reacting to an event failed; skipped");
                    }
                }
                outbox::done(&mut tx, p.event.id).await?;
            }
            for (ws, events) in &produced {
                if !events.is_empty() {
                    let notice = Notice::of_events(&self.node_id, *ws, events.iter().map(|e| e.id));
                    notify::announce(&mut tx, self.db.backend(), &notice).await?;
                }
            }
            tx.commit().await?;
            for (ws, events) in produced {
                self.hub.publish(ws, events);
            }
            total += batch.len();
        }
    }

    async fn workspace_setup(&self, c: &mut Conn, workspace_id: i64) -> AppResult<WorkspaceSetup> {
        Ok(WorkspaceSetup {
            endpoints: webhooks::endpoints(c, workspace_id).await?,
            sla: crate::sla::SlaSetup::load(c, workspace_id).await?,
        })
    }

    /// Everything one event sets off; returns the events that reacting added.
    async fn react(
        &self,
        tx: &mut Conn,
        setup: &WorkspaceSetup,
        p: &Pending,
    ) -> AppResult<Vec<Event>> {
        let ws = p.workspace_id;
        let conv = match conversations::get(tx, ws, p.event.conversation_id).await {
            Ok(c) => c,
            Err(DbError::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut produced = self
            .run_sla_clocks(tx, &setup.sla, ws, &conv, &p.event)
            .await?;
        produced.extend(self.run_rules(tx, ws, &conv, &p.event).await?);
        self.fan_out_webhooks(tx, &setup.endpoints, ws, &p.event, &conv)
            .await?;
        Ok(produced)
    }
}
