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
            let _ = self.tx.send(Arc::new(LiveEvent { workspace_id, event }));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }
}
