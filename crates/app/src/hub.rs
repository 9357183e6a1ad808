//! Live events: after a change commits, its events go to every listener of the workspace.
//! Listeners that fall behind catch up from the event log, which stays the source of truth.

use std::sync::Arc;

use citius_domain::records::Event;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub workspace_id: i64,
    pub event: Event,
}

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self { tx }
    }

    pub fn publish(&self, workspace_id: i64, events: impl IntoIterator<Item = Event>) {
        for event in events {
            // No listener is fine: the event is in the log.
            let _ = self.tx.send(Arc::new(LiveEvent {
                workspace_id,
                event,
            }));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }
}

impl crate::App {
    /// Relays events committed by other nodes to this node's listeners (PostgreSQL only). After
    /// losing the listening connection it re-reads the log from the last event it saw, so a
    /// reconnect loses nothing (listeners may then see an event twice; ids tell them apart).
    pub async fn relay_remote_events(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        use citius_store::conversations as store;
        use citius_store::notify::{self, Notice, NoticeIds};
        if self.db.backend() != citius_store::Backend::Postgres {
            return;
        }
        let mut last_seen = match self.db.read().await {
            Ok(mut c) => store::latest_event_id(&mut c).await.unwrap_or(0),
            Err(_) => 0,
        };
        loop {
            let mut listener = match notify::listen(&self.db).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other nodes' events; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            };
            // Whatever committed while we were not listening.
            if let Ok(mut c) = self.db.read().await
                && let Ok(missed) = store::all_events_since(&mut c, last_seen, 10_000).await
            {
                for (ws, e) in missed {
                    last_seen = last_seen.max(e.id);
                    self.hub.publish(ws, [e]);
                }
            }
            loop {
                let next = tokio::select! {
                    n = listener.try_recv() => n,
                    _ = shutdown.changed() => return,
                };
                let payload = match next {
                    Ok(Some(n)) => n.payload().to_string(),
                    // The connection dropped: listen again and catch up.
                    Ok(None) | Err(_) => break,
                };
                let Some(notice) = Notice::decode(&payload) else {
                    continue;
                };
                if *notice.node == *self.node_id {
                    if let NoticeIds::List(ids) = &notice.ids {
                        last_seen = last_seen.max(ids.iter().copied().max().unwrap_or(0));
                    }
                    continue;
                }
                let Ok(mut c) = self.db.read().await else {
                    continue;
                };
                let events = match &notice.ids {
                    NoticeIds::List(ids) => {
                        store::events_by_ids(&mut c, notice.workspace_id, ids).await
                    }
                    NoticeIds::Range(a, b) => {
                        store::events_between(&mut c, notice.workspace_id, *a, *b).await
                    }
                };
                match events {
                    Ok(events) => {
                        last_seen = last_seen.max(events.iter().map(|e| e.id).max().unwrap_or(0));
                        self.hub.publish(notice.workspace_id, events);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read announced events"),
                }
            }
        }
    }
}
