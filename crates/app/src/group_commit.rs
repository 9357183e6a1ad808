//! Group commit: concurrent write use cases share one transaction and so one durable flush.
//!
//! A commit costs a disk flush (SQLite's WAL fsync, PostgreSQL's WAL flush); under load that
//! flush, not the statements, caps how many changes per second a node can acknowledge. Writers
//! here take whatever changes are waiting, run each inside its own savepoint (one failing undoes
//! only itself), commit once, and only then answer every caller and tell live listeners. A caller
//! is acknowledged only after the commit that holds its change is durable.

use std::collections::BTreeMap;
use std::sync::Arc;

use citius_domain::records::Event;
use citius_store::db::{
    release_and_savepoint, release_savepoint, rollback_to_savepoint, savepoint,
};
use citius_store::{Conn, Db, DbError, notify};
use futures::future::BoxFuture;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::{AppError, AppResult, Hub};

/// Most changes one shared transaction takes: large enough to amortise the flush, small enough
/// that a caller never waits long behind others (and PostgreSQL keeps its subtransactions cached).
const MAX_BATCH: usize = 32;

/// A change as a use case hands it over: statements on the shared connection that yield the
/// caller's answer and the events to announce once committed.
pub(crate) type Change<T> =
    Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, AppResult<(T, Vec<Event>)>> + Send>;

/// A queued change with its caller's answer slot, its type erased.
trait Pending: Send {
    fn workspace_id(&self) -> i64;
    /// Runs the change; keeps the caller's answer until the commit decides its fate.
    fn run<'c>(&'c mut self, c: &'c mut Conn) -> BoxFuture<'c, AppResult<Vec<Event>>>;
    /// Answers the caller: its value when `outcome` is `Ok`, else the error.
    fn finish(self: Box<Self>, outcome: AppResult<()>);
}

struct Typed<T> {
    workspace_id: i64,
    change: Option<Change<T>>,
    value: Option<T>,
    answer: oneshot::Sender<AppResult<T>>,
}

impl<T: Send + 'static> Pending for Typed<T> {
    fn workspace_id(&self) -> i64 {
        self.workspace_id
    }

    fn run<'c>(&'c mut self, c: &'c mut Conn) -> BoxFuture<'c, AppResult<Vec<Event>>> {
        Box::pin(async move {
            let change = self
                .change
                .take()
                .ok_or_else(|| AppError::Internal(DbError::Corrupt("change ran twice".into())))?;
            let (value, events) = change(c).await?;
            self.value = Some(value);
            Ok(events)
        })
    }

    fn finish(self: Box<Self>, outcome: AppResult<()>) {
        let answer = match (outcome, self.value) {
            (Ok(()), Some(v)) => Ok(v),
            (Ok(()), None) => Err(AppError::Internal(DbError::Corrupt(
                "a committed change gave no answer".into(),
            ))),
            (Err(e), _) => Err(e),
        };
        // The caller may have gone (a closed connection); the change stands all the same.
        let _ = self.answer.send(answer);
    }
}

/// The queue in front of the writers. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Box<dyn Pending>>,
}

impl GroupCommit {
    /// Starts `writers` writer tasks (one per write connection worth using: SQLite has one).
    pub fn start(db: Db, hub: Hub, node_id: Arc<str>, writers: usize) -> Self {
        let (queue, rx) = mpsc::unbounded_channel::<Box<dyn Pending>>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let (db, hub, node, rx) = (db.clone(), hub.clone(), node_id.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else {
                            return;
                        };
                        let mut batch = vec![first];
                        while batch.len() < MAX_BATCH {
                            match rx.try_recv() {
                                Ok(p) => batch.push(p),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    commit_batch(&db, &hub, &node, batch).await;
                }
            });
        }
        Self { queue }
    }

    /// Runs `change` in the next shared transaction; answers once that transaction is durable.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        workspace_id: i64,
        change: Change<T>,
    ) -> AppResult<T> {
        let (answer, answered) = oneshot::channel();
        let pending = Box::new(Typed {
            workspace_id,
            change: Some(change),
            value: None,
            answer,
        });
        self.queue
            .send(pending)
            .map_err(|_| unavailable("the writer has stopped"))?;
        answered
            .await
            .map_err(|_| unavailable("the writer stopped before answering"))?
    }
}

fn unavailable(why: &str) -> AppError {
    AppError::Internal(DbError::Unavailable(why.to_string()))
}

async fn commit_batch(db: &Db, hub: &Hub, node: &str, batch: Vec<Box<dyn Pending>>) {
    let mut tx = match db.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            let why = e.to_string();
            for p in batch {
                p.finish(Err(unavailable(&why)));
            }
            return;
        }
    };
    let mut staged: Vec<(Box<dyn Pending>, Vec<Event>)> = Vec::with_capacity(batch.len());
    // A lone change on SQLite needs no savepoint: its failure may undo the whole transaction.
    // PostgreSQL keeps it: a statement that failed inside a change which then went on would leave
    // the transaction aborted, and COMMIT on an aborted transaction rolls back without an error;
    // the RELEASE is what reports it.
    let guarded = batch.len() > 1 || db.backend() == citius_store::Backend::Postgres;
    // Whether the previous change's savepoint is still open (released together with opening
    // the next, to save a round trip per change).
    let mut held = false;
    for mut p in batch {
        if guarded {
            // A savepoint per change: an error undoes that change alone, the batch goes on.
            let opened = if held {
                release_and_savepoint(&mut tx).await
            } else {
                savepoint(&mut tx).await
            };
            if let Err(e) = opened {
                // The transaction is in an unknown state: give up on all of it.
                let why = e.to_string();
                p.finish(Err(unavailable(&why)));
                for (p, _) in staged {
                    p.finish(Err(unavailable(&why)));
                }
                return;
            }
            held = true;
        }
        match p.run(&mut tx).await {
            Ok(events) => staged.push((p, events)),
            Err(e) if !guarded => {
                let _ = tx.rollback().await;
                p.finish(Err(e));
                return;
            }
            Err(e) => {
                let undone = rollback_to_savepoint(&mut tx).await;
                held = false;
                p.finish(Err(e));
                if let Err(e) = undone {
                    let why = e.to_string();
                    for (p, _) in staged {
                        p.finish(Err(unavailable(&why)));
                    }
                    return;
                }
            }
        }
    }
    if held && let Err(e) = release_savepoint(&mut tx).await {
        let why = e.to_string();
        for (p, _) in staged {
            p.finish(Err(unavailable(&why)));
        }
        return;
    }
    if staged.is_empty() {
        let _ = tx.rollback().await;
        return;
    }
    // Other nodes hear of the events only if (and when) the batch commits.
    let mut by_workspace: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (p, events) in &staged {
        by_workspace
            .entry(p.workspace_id())
            .or_default()
            .extend(events.iter().map(|e| e.id));
    }
    let mut announced = Ok(());
    for (workspace_id, ids) in by_workspace {
        if ids.is_empty() {
            continue;
        }
        let notice = notify::Notice {
            node: node.to_string(),
            workspace_id,
            ids: notify::NoticeIds::List(ids),
        };
        announced = notify::announce(&mut tx, db.backend(), &notice).await;
        if announced.is_err() {
            break;
        }
    }
    let committed = match announced {
        Ok(()) => tx.commit().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match committed {
        Ok(()) => {
            for (p, events) in staged {
                hub.publish(p.workspace_id(), events);
                p.finish(Ok(()));
            }
        }
        Err(why) => {
            tracing::error!(error = %why, changes = staged.len(), "group commit failed");
            for (p, _) in staged {
                p.finish(Err(unavailable(&why)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citius_store::{DbConfig, directory};

    fn change<T: Send + 'static>(
        f: impl for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, AppResult<(T, Vec<Event>)>>
        + Send
        + 'static,
    ) -> Change<T> {
        Box::new(f)
    }

    /// A fresh SQLite database and one writer in front of it.
    async fn writer() -> (std::path::PathBuf, Db, GroupCommit) {
        let dir = std::env::temp_dir().join(format!("citius-gc-{:x}", rand::random::<u64>()));
        let db = Db::connect(&DbConfig::SqliteDir(dir.clone()), 2)
            .await
            .expect("db");
        db.migrate().await.expect("migrate");
        let gc = GroupCommit::start(db.clone(), Hub::new(), Arc::from("test"), 1);
        (dir, db, gc)
    }

    async fn done(dir: std::path::PathBuf, db: Db) {
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Four changes queued before the writer runs share one transaction; the two that fail
    /// (one after writing, one on a unique key) leave no trace and do not undo the others.
    #[tokio::test]
    async fn a_failing_change_is_undone_alone() {
        let (dir, db, gc) = writer().await;

        let (a, b, dup, d) = tokio::join!(
            gc.write(
                0,
                change(|c| Box::pin(async move {
                    directory::create_workspace(c, "a", "A").await?;
                    Err::<((), Vec<Event>), _>(AppError::Conflict("changed my mind".into()))
                }))
            ),
            gc.write(
                0,
                change(|c| Box::pin(async move {
                    let w = directory::create_workspace(c, "b", "B").await?;
                    Ok((w.id, vec![]))
                }))
            ),
            gc.write(
                0,
                change(|c| Box::pin(async move {
                    let w = directory::create_workspace(c, "b", "Again").await?;
                    Ok((w.id, vec![]))
                }))
            ),
            gc.write(
                0,
                change(|c| Box::pin(async move {
                    let w = directory::create_workspace(c, "d", "D").await?;
                    Ok((w.id, vec![]))
                }))
            ),
        );
        assert!(matches!(a, Err(AppError::Conflict(_))), "{a:?}");
        assert!(matches!(dup, Err(AppError::Conflict(_))), "{dup:?}");
        let (b, d) = (b.expect("b"), d.expect("d"));

        let mut c = db.read().await.expect("read");
        assert!(matches!(
            directory::workspace_by_slug(&mut c, "a").await,
            Err(DbError::NotFound)
        ));
        let wb = directory::workspace_by_slug(&mut c, "b").await.expect("b");
        assert_eq!((wb.id, wb.name.as_str()), (b, "B"));
        assert_eq!(
            directory::workspace_by_slug(&mut c, "d")
                .await
                .expect("d")
                .id,
            d
        );
        drop(c);
        done(dir, db).await;
    }

    /// A change alone in its transaction runs without a savepoint: when it fails after writing,
    /// nothing of it stays, and the writer goes on with the next change.
    #[tokio::test]
    async fn a_lone_failing_change_leaves_nothing() {
        let (dir, db, gc) = writer().await;

        let failed = gc
            .write(
                0,
                change(|c| {
                    Box::pin(async move {
                        directory::create_workspace(c, "a", "A").await?;
                        Err::<((), Vec<Event>), _>(AppError::Conflict("changed my mind".into()))
                    })
                }),
            )
            .await;
        assert!(matches!(failed, Err(AppError::Conflict(_))), "{failed:?}");
        let kept = gc
            .write(
                0,
                change(|c| {
                    Box::pin(async move {
                        let w = directory::create_workspace(c, "a", "Again").await?;
                        Ok((w.id, vec![]))
                    })
                }),
            )
            .await
            .expect("the next change commits");

        let mut c = db.read().await.expect("read");
        let w = directory::workspace_by_slug(&mut c, "a").await.expect("a");
        assert_eq!((w.id, w.name.as_str()), (kept, "Again"));
        drop(c);
        done(dir, db).await;
    }
}
