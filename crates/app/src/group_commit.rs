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
use citius_store::{Conn, Db, DbError, HeldWrite, notify};
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::conversations::{
    PreparedConversation, insert_conversation, insert_plain_conversations,
    stage_plain_conversations,
};
use crate::{Actor, AppError, AppResult, Hub};

/// Most changes one shared transaction takes: large enough to amortise the flush, small enough
/// that a caller never waits long behind others (and PostgreSQL keeps its subtransactions cached).
const MAX_BATCH: usize = 32;

/// A change as a use case hands it over: statements on the shared connection that yield the
/// caller's answer and the events to announce once committed. It may run more than once (see
/// [`Tries`]), so it keeps its inputs.
pub(crate) type Change<T> =
    Box<dyn for<'c> Fn(&'c mut Conn) -> BoxFuture<'c, AppResult<(T, Vec<Event>)>> + Send>;

/// How often a change lost to another transaction's locks runs again, each time in a later
/// transaction than the one that lost: on PostgreSQL two nodes' batches may lock the same
/// rows in opposite orders, and the database then undoes one of them.
const MAX_TRIES: u8 = 3;

/// The tries a change has had.
#[derive(Default)]
struct Tries(u8);

impl Tries {
    /// Counts a try that lost to contention; whether another one is due.
    fn another(&mut self) -> bool {
        self.0 += 1;
        self.0 < MAX_TRIES
    }
}

/// A queued change with its caller's answer slot, its type erased.
trait Pending: Send {
    fn workspace_id(&self) -> i64;
    /// Runs the change; keeps the caller's answer until the commit decides its fate.
    fn run<'c>(&'c mut self, c: &'c mut Conn) -> BoxFuture<'c, AppResult<Vec<Event>>>;
    /// Answers the caller: its value when `outcome` is `Ok`, else the error.
    fn finish(self: Box<Self>, outcome: AppResult<()>);
    /// After a try that lost to contention: whether the change should run again later.
    fn try_again(&mut self) -> bool;
    /// A plain new conversation, which may share its statements with others in the batch.
    fn as_plain_conversation(&mut self) -> Option<&mut NewConversationChange> {
        None
    }
}

struct Typed<T> {
    workspace_id: i64,
    change: Change<T>,
    value: Option<T>,
    answer: oneshot::Sender<AppResult<T>>,
    tries: Tries,
}

impl<T: Send + 'static> Pending for Typed<T> {
    fn workspace_id(&self) -> i64 {
        self.workspace_id
    }

    fn run<'c>(&'c mut self, c: &'c mut Conn) -> BoxFuture<'c, AppResult<Vec<Event>>> {
        Box::pin(async move {
            let (value, events) = (self.change)(c).await?;
            self.value = Some(value);
            Ok(events)
        })
    }

    fn finish(self: Box<Self>, outcome: AppResult<()>) {
        answer(self.answer, outcome, self.value);
    }

    fn try_again(&mut self) -> bool {
        self.tries.another()
    }
}

/// A new conversation by an agent or an API client: on its own it runs the full intake path; a
/// plain one (see [`PreparedConversation::is_plain`]) shares the statements of its batch.
pub(crate) struct NewConversationChange {
    backend: citius_store::Backend,
    actor: Actor,
    new: PreparedConversation,
    value: Option<citius_domain::records::Conversation>,
    answer: oneshot::Sender<AppResult<citius_domain::records::Conversation>>,
    tries: Tries,
}

impl Pending for NewConversationChange {
    fn workspace_id(&self) -> i64 {
        self.actor.workspace_id
    }

    fn run<'c>(&'c mut self, c: &'c mut Conn) -> BoxFuture<'c, AppResult<Vec<Event>>> {
        Box::pin(async move {
            let ws = self.actor.workspace_id;
            let by = crate::conversations::By::Agent(&self.actor);
            let (conv, _, events) = insert_conversation(c, self.backend, by, ws, &self.new).await?;
            self.value = Some(conv);
            Ok(events)
        })
    }

    fn finish(self: Box<Self>, outcome: AppResult<()>) {
        answer(self.answer, outcome, self.value);
    }

    fn try_again(&mut self) -> bool {
        self.tries.another()
    }

    fn as_plain_conversation(&mut self) -> Option<&mut NewConversationChange> {
        if self.new.is_plain() {
            Some(self)
        } else {
            None
        }
    }
}

/// The changes of a group of plain new conversations of one workspace, with its backend and
/// workspace.
fn plain_changes(
    group: &mut [Box<dyn Pending>],
) -> AppResult<(Vec<&mut NewConversationChange>, citius_store::Backend, i64)> {
    let size = group.len();
    let changes: Vec<&mut NewConversationChange> = group
        .iter_mut()
        .filter_map(|p| p.as_plain_conversation())
        .collect();
    let (Some(first), true) = (changes.first(), changes.len() == size) else {
        return Err(AppError::Internal(DbError::Corrupt(
            "a group of new conversations held something else".into(),
        )));
    };
    let (backend, ws) = (first.backend, first.actor.workspace_id);
    Ok((changes, backend, ws))
}

/// Keeps each change's stored conversation as its answer; returns the events in order.
fn keep_answers(
    changes: &mut [&mut NewConversationChange],
    stored: Vec<(citius_domain::records::Conversation, Vec<Event>)>,
) -> Vec<Vec<Event>> {
    let mut events = Vec::with_capacity(stored.len());
    for (change, (conv, evs)) in changes.iter_mut().zip(stored) {
        change.value = Some(conv);
        events.push(evs);
    }
    events
}

/// Stores a group of plain new conversations of one workspace with shared statements; keeps
/// each one's answer. The events come back in the group's order.
async fn run_plain_group(
    c: &mut Conn,
    group: &mut [Box<dyn Pending>],
) -> AppResult<Vec<Vec<Event>>> {
    let (mut changes, backend, ws) = plain_changes(group)?;
    let stored = {
        let items: Vec<(&Actor, &PreparedConversation)> =
            changes.iter().map(|ch| (&ch.actor, &ch.new)).collect();
        insert_plain_conversations(c, backend, ws, &items).await?
    };
    Ok(keep_answers(&mut changes, stored))
}

/// What became of a group of new conversations offered to commit as one statement.
enum OneStatement {
    /// Durable; the events in the group's order.
    Committed(Vec<Vec<Event>>),
    /// A known customer gains an identity: the group needs a transaction. Nothing was written.
    NeedsTransaction,
    /// Nothing was written; each change is still to run.
    Refused(AppError),
    /// The connection failed while the statement ran: it may have committed.
    Unknown(AppError),
}

/// Commits a group of plain new conversations as one statement, outside any transaction (on
/// PostgreSQL). The customers' lookup and the ids' reservation (one statement) need none: the
/// lookup reads what is committed, as it would inside one at PostgreSQL's isolation level, and
/// the ids are drawn from sequences either way. The script, with the notice to other nodes,
/// then commits on its own, durably before it answers. Two round trips where a transaction
/// takes six, and the whole group waits for each of them.
async fn commit_plain_group(
    c: &mut Conn,
    node: &str,
    group: &mut [Box<dyn Pending>],
) -> OneStatement {
    let (mut changes, backend, ws) = match plain_changes(group) {
        Ok(found) => found,
        Err(e) => return OneStatement::Refused(e),
    };
    let items: Vec<(&Actor, &PreparedConversation)> =
        changes.iter().map(|ch| (&ch.actor, &ch.new)).collect();
    // Nothing is written before the script: any failure so far leaves nothing behind.
    let mut staged = match stage_plain_conversations(c, backend, ws, &items).await {
        Ok(staged) => staged,
        Err(e) => return OneStatement::Refused(e),
    };
    if !staged.is_one_statement() {
        return OneStatement::NeedsTransaction;
    }
    let notice = notify::Notice::of_events(node, ws, staged.events().map(|e| e.id));
    staged.announce(&notice);
    let stored = staged.store(c).await;
    drop(items);
    match stored {
        Ok(stored) => OneStatement::Committed(keep_answers(&mut changes, stored)),
        Err(e) if e.took_no_effect() => OneStatement::Refused(e),
        Err(e) => OneStatement::Unknown(e),
    }
}

/// Answers a caller: its value when the commit succeeded, else the error.
fn answer<T>(to: oneshot::Sender<AppResult<T>>, outcome: AppResult<()>, value: Option<T>) {
    let answer = match (outcome, value) {
        (Ok(()), Some(v)) => Ok(v),
        (Ok(()), None) => Err(AppError::Internal(DbError::Corrupt(
            "a committed change gave no answer".into(),
        ))),
        (Err(e), _) => Err(e),
    };
    // The caller may have gone (a closed connection); the change stands all the same.
    let _ = to.send(answer);
}

/// The queue in front of the writer. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::UnboundedSender<Box<dyn Pending>>,
}

impl GroupCommit {
    /// Starts this node's writer task. One writer gathers the largest groups, so each
    /// statement's fixed cost is shared by the most changes (SQLite has one write connection
    /// anyway; on PostgreSQL four writers made groups of one or two and measured a quarter
    /// slower at eight clients). Several nodes still write side by side.
    pub fn start(db: Db, hub: Hub, node_id: Arc<str>) -> Self {
        let (queue, mut rx) = mpsc::unbounded_channel::<Box<dyn Pending>>();
        tokio::spawn(async move {
            let mut held = db.held_write();
            loop {
                let first = match rx.try_recv() {
                    Ok(p) => p,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // The connection goes back to the pool whenever the writer would wait.
                        held.let_go();
                        let Some(first) = rx.recv().await else {
                            return;
                        };
                        first
                    }
                };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                // Changes that lost to another node's locks go again, in a transaction of
                // their own, once this one has let go of its locks.
                while !batch.is_empty() {
                    let mut again = Vec::new();
                    if !commit_batch(&db, &mut held, &hub, &node_id, batch, &mut again).await {
                        held.let_go();
                    }
                    batch = again;
                }
            }
        });
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
            change,
            value: None,
            answer,
            tries: Tries::default(),
        });
        self.queue
            .send(pending)
            .map_err(|_| unavailable("the writer has stopped"))?;
        answered
            .await
            .map_err(|_| unavailable("the writer stopped before answering"))?
    }
}

impl GroupCommit {
    /// Stores a new conversation in the next shared transaction; answers once it is durable.
    pub(crate) async fn create_conversation(
        &self,
        backend: citius_store::Backend,
        actor: Actor,
        new: PreparedConversation,
    ) -> AppResult<citius_domain::records::Conversation> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Box::new(NewConversationChange {
                backend,
                actor,
                new,
                value: None,
                answer,
                tries: Tries::default(),
            }))
            .map_err(|_| unavailable("the writer has stopped"))?;
        answered
            .await
            .map_err(|_| unavailable("the writer stopped before answering"))?
    }
}

fn unavailable(why: &str) -> AppError {
    AppError::Internal(DbError::Unavailable(why.to_string()))
}

/// What one savepoint covers: a change, or plain new conversations of one workspace stored
/// together.
enum Unit {
    One(Box<dyn Pending>),
    Plain(Vec<Box<dyn Pending>>),
}

impl Unit {
    fn into_changes(self) -> Vec<Box<dyn Pending>> {
        match self {
            Unit::One(p) => vec![p],
            Unit::Plain(group) => group,
        }
    }
}

/// The batch as savepoint units: plain new conversations grouped by workspace (even one alone:
/// the group's path writes its events in the same script and needs no read-back), everything
/// else one by one, in the order queued.
fn units(batch: Vec<Box<dyn Pending>>) -> std::collections::VecDeque<Unit> {
    let mut plain: BTreeMap<i64, Vec<Box<dyn Pending>>> = BTreeMap::new();
    let mut out = std::collections::VecDeque::with_capacity(batch.len());
    for mut p in batch {
        if p.as_plain_conversation().is_some() {
            plain.entry(p.workspace_id()).or_default().push(p);
        } else {
            out.push_back(Unit::One(p));
        }
    }
    out.extend(plain.into_values().map(Unit::Plain));
    out
}

/// Changes run in a transaction that has not committed yet, with the events each made.
type Staged = Vec<(Box<dyn Pending>, Vec<Event>)>;

/// Runs and commits `batch`; what lost to contention and should go again is put in `again`.
/// False when the connection may be unfit for another transaction.
async fn commit_batch(
    db: &Db,
    write: &mut HeldWrite,
    hub: &Hub,
    node: &str,
    batch: Vec<Box<dyn Pending>>,
    again: &mut Vec<Box<dyn Pending>>,
) -> bool {
    let mut queue = units(batch);
    // A batch that is one group of new conversations needs no savepoint: should the group
    // fail, the transaction is rolled back and its members go again one by one.
    if let [Unit::Plain(_)] = queue.make_contiguous()
        && let Some(Unit::Plain(group)) = queue.pop_front()
    {
        match group_alone(db, write, node, group).await {
            GroupAlone::Staged(tx, staged) => {
                return commit_staged(db, hub, node, tx, staged).await;
            }
            GroupAlone::Committed(staged) => {
                deliver(hub, staged);
                return true;
            }
            GroupAlone::Failed(group) => queue.extend(group.into_iter().map(Unit::One)),
            GroupAlone::Unbegun(group, why) => {
                go_again_or_fail(group, &why, again);
                return false;
            }
            GroupAlone::Answered => return false,
        }
    }
    let mut staged: Staged = Vec::new();
    let mut tx = match write.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            let changes = queue.into_iter().flat_map(Unit::into_changes).collect();
            go_again_or_fail(changes, &e.to_string(), again);
            return false;
        }
    };
    // A lone change on SQLite needs no savepoint: its failure may undo the whole transaction.
    // PostgreSQL keeps it: a statement that failed inside a change which then went on would leave
    // the transaction aborted, and COMMIT on an aborted transaction rolls back without an error;
    // the RELEASE is what reports it. A group of new conversations among other changes falls
    // back to one by one, so it has its savepoint.
    let guarded = queue.len() > 1
        || db.backend() == citius_store::Backend::Postgres
        || queue.iter().any(|u| matches!(u, Unit::Plain(_)));
    // Whether the previous change's savepoint is still open (released together with opening
    // the next, to save a round trip per change).
    let mut held = false;
    while let Some(unit) = queue.pop_front() {
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
                give_up(unit.into_changes(), &why);
                give_up(staged.into_iter().map(|(p, _)| p), &why);
                return false;
            }
            held = true;
        }
        let mut p = match unit {
            Unit::One(p) => p,
            Unit::Plain(mut group) => {
                match run_plain_group(&mut tx, &mut group).await {
                    Ok(events) => staged.extend(group.into_iter().zip(events)),
                    Err(e) => {
                        stored_one_by_one(&e);
                        held = false;
                        if let Err(e) = rollback_to_savepoint(&mut tx).await {
                            let why = e.to_string();
                            give_up(group, &why);
                            give_up(staged.into_iter().map(|(p, _)| p), &why);
                            return false;
                        }
                        for p in group.into_iter().rev() {
                            queue.push_front(Unit::One(p));
                        }
                    }
                }
                continue;
            }
        };
        match p.run(&mut tx).await {
            Ok(events) => staged.push((p, events)),
            Err(e) if !guarded => {
                let undone = tx.rollback().await;
                p.finish(Err(e));
                return undone.is_ok();
            }
            Err(e) => {
                let undone = rollback_to_savepoint(&mut tx).await;
                held = false;
                if undone.is_ok() && e.lost_to_contention() && p.try_again() {
                    again.push(p);
                    continue;
                }
                p.finish(Err(e));
                if let Err(e) = undone {
                    let why = e.to_string();
                    give_up(staged.into_iter().map(|(p, _)| p), &why);
                    return false;
                }
            }
        }
    }
    if held && let Err(e) = release_savepoint(&mut tx).await {
        let why = e.to_string();
        give_up(staged.into_iter().map(|(p, _)| p), &why);
        return false;
    }
    commit_staged(db, hub, node, tx, staged).await
}

enum GroupAlone<'c> {
    Staged(citius_store::HeldTx<'c>, Staged),
    /// Committed as one statement; not yet answered.
    Committed(Staged),
    /// Rolled back; each change is still to run.
    Failed(Vec<Box<dyn Pending>>),
    /// No transaction could be started (why); nothing ran.
    Unbegun(Vec<Box<dyn Pending>>, String),
    /// The database could not be reached; every caller has its answer.
    Answered,
}

/// Runs a group of new conversations as the whole of a transaction, or on PostgreSQL, where it
/// can, as one statement (see [`commit_plain_group`]).
async fn group_alone<'w>(
    db: &Db,
    write: &'w mut HeldWrite,
    node: &str,
    mut group: Vec<Box<dyn Pending>>,
) -> GroupAlone<'w> {
    if db.backend() == citius_store::Backend::Postgres {
        let c = match write.conn().await {
            Ok(c) => c,
            Err(e) => return GroupAlone::Unbegun(group, e.to_string()),
        };
        match commit_plain_group(c, node, &mut group).await {
            OneStatement::Committed(events) => {
                return GroupAlone::Committed(group.into_iter().zip(events).collect());
            }
            OneStatement::NeedsTransaction => {}
            OneStatement::Refused(e) => {
                stored_one_by_one(&e);
                return GroupAlone::Failed(group);
            }
            OneStatement::Unknown(e) => {
                let why = e.to_string();
                tracing::error!(error = %why, changes = group.len(), "group commit failed");
                give_up(group, &why);
                return GroupAlone::Answered;
            }
        }
    }
    let mut tx = match write.begin().await {
        Ok(tx) => tx,
        Err(e) => return GroupAlone::Unbegun(group, e.to_string()),
    };
    match run_plain_group(&mut tx, &mut group).await {
        Ok(events) => GroupAlone::Staged(tx, group.into_iter().zip(events).collect()),
        Err(e) => {
            stored_one_by_one(&e);
            if let Err(e) = tx.rollback().await {
                let why = e.to_string();
                give_up(group, &why);
                return GroupAlone::Answered;
            }
            GroupAlone::Failed(group)
        }
    }
}

/// Changes whose transaction could not start: nothing of them ran, so each goes again (on a
/// fresh connection: a kept one may have died with a database restart) while it has tries left.
fn go_again_or_fail(changes: Vec<Box<dyn Pending>>, why: &str, again: &mut Vec<Box<dyn Pending>>) {
    for mut p in changes {
        if p.try_again() {
            again.push(p);
        } else {
            p.finish(Err(unavailable(why)));
        }
    }
}

/// Whatever made a group fail (two naming one customer, a bad row), each change goes again
/// alone, so only the one at fault fails.
fn stored_one_by_one(e: &AppError) {
    if matches!(e, AppError::Conflict(_)) {
        tracing::debug!(error = %e, "new conversations stored one by one");
    } else {
        tracing::warn!(error = %e, "new conversations could not share statements; stored one by one");
    }
}

/// Announces the staged changes' events to other nodes, commits, and answers every caller.
/// False when the connection may be unfit for another transaction.
async fn commit_staged(
    db: &Db,
    hub: &Hub,
    node: &str,
    mut tx: citius_store::HeldTx<'_>,
    staged: Staged,
) -> bool {
    if staged.is_empty() {
        return tx.rollback().await.is_ok();
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
        let notice = notify::Notice::of_events(node, workspace_id, ids);
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
            deliver(hub, staged);
            true
        }
        Err(why) => {
            tracing::error!(error = %why, changes = staged.len(), "group commit failed");
            give_up(staged.into_iter().map(|(p, _)| p), &why);
            false
        }
    }
}

/// Answers each of `changes` with the failure `why`.
fn give_up(changes: impl IntoIterator<Item = Box<dyn Pending>>, why: &str) {
    for p in changes {
        p.finish(Err(unavailable(why)));
    }
}

/// Tells this node's listeners of committed changes' events and answers their callers.
fn deliver(hub: &Hub, committed: Staged) {
    for (p, events) in committed {
        hub.publish(p.workspace_id(), events);
        p.finish(Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use citius_store::{DbConfig, customers, directory};
    use serde_json::json;

    fn change<T: Send + 'static>(
        f: impl for<'c> Fn(&'c mut Conn) -> BoxFuture<'c, AppResult<(T, Vec<Event>)>> + Send + 'static,
    ) -> Change<T> {
        Box::new(f)
    }

    /// A fresh database on the PostgreSQL server the test command provides, migrated.
    async fn postgres() -> Db {
        use sqlx::Connection;
        let url = std::env::var("CITIUS_TEST_POSTGRES_URL")
            .expect("CITIUS_TEST_POSTGRES_URL: scripts/test provides a PostgreSQL server");
        let name = format!("citius_gc_{:x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&url)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let (base, _) = url.rsplit_once('/').expect("a database URL");
        let db = Db::connect(&DbConfig::Url(format!("{base}/{name}")), 4)
            .await
            .expect("connect to the new database");
        db.migrate().await.expect("migrate");
        db
    }

    /// Two nodes' transactions lock two customers in opposite orders, and PostgreSQL undoes
    /// one of them: that change runs again once the other has committed, and both callers
    /// are answered with success.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_lost_to_a_deadlock_runs_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::sync::Notify;

        let db = postgres().await;
        let (ws, p, q) = {
            let mut tx = db.begin().await.expect("transaction");
            let ws = directory::create_workspace(&mut tx, "w", "W")
                .await
                .expect("ws");
            let p = customers::create(&mut tx, ws.id, "P", &json!({})).await;
            let q = customers::create(&mut tx, ws.id, "Q", &json!({})).await;
            tx.commit().await.expect("commit");
            (ws.id, p.expect("p"), q.expect("q"))
        };
        // Two nodes, each with its writer, on one database.
        let (node_one, node_two) = (
            GroupCommit::start(db.clone(), Hub::new(), Arc::from("one")),
            GroupCommit::start(db.clone(), Hub::new(), Arc::from("two")),
        );
        let runs = Arc::new(AtomicUsize::new(0));
        let (one_holds, two_holds) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        // Renames `a`, then `b`. On its first run it says it holds `a`, and waits for a word
        // before going on, if given one.
        let crossing = |a: i64, b: i64, holds: Arc<Notify>, wait: Option<Arc<Notify>>| {
            let runs = runs.clone();
            change(move |c| {
                let (runs, holds, wait) = (runs.clone(), holds.clone(), wait.clone());
                Box::pin(async move {
                    let first = runs.fetch_add(1, Ordering::SeqCst) < 2;
                    customers::update(&mut *c, ws, a, Some("renamed"), None).await?;
                    if first {
                        holds.notify_one();
                        if let Some(w) = wait {
                            w.notified().await;
                        }
                    }
                    customers::update(&mut *c, ws, b, Some("renamed"), None).await?;
                    Ok(((), Vec::new()))
                })
            })
        };
        let (g, change) = (
            node_one,
            crossing(p, q, one_holds.clone(), Some(two_holds.clone())),
        );
        let one = tokio::spawn(async move { g.write(ws, change).await });
        // The second goes in on the other node once the first is inside its change.
        one_holds.notified().await;
        let (g, change) = (node_two, crossing(q, p, two_holds.clone(), None));
        let two = tokio::spawn(async move { g.write(ws, change).await });
        let (one, two) = (one.await.expect("task"), two.await.expect("task"));
        assert!(one.is_ok() && two.is_ok(), "{one:?} {two:?}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "the one undone ran once more"
        );
        db.close().await;
    }

    /// A fresh SQLite database and one writer in front of it.
    async fn writer() -> (std::path::PathBuf, Db, GroupCommit) {
        let dir = std::env::temp_dir().join(format!("citius-gc-{:x}", rand::random::<u64>()));
        let db = Db::connect(&DbConfig::SqliteDir(dir.clone()), 2)
            .await
            .expect("db");
        db.migrate().await.expect("migrate");
        let gc = GroupCommit::start(db.clone(), Hub::new(), Arc::from("test"));
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

    /// While the writer is kept busy, a change made outside it (a direct transaction on the
    /// single SQLite write connection) still gets its turn within a batch or two.
    #[tokio::test]
    async fn a_busy_writer_lets_others_write() {
        let (dir, db, gc) = writer().await;
        let gc = Arc::new(gc);
        let busy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut feeders = Vec::new();
        // Twice as many feeders as a batch holds: while one batch runs, the next is queued.
        for _ in 0..2 * MAX_BATCH {
            let (gc, busy) = (gc.clone(), busy.clone());
            feeders.push(tokio::spawn(async move {
                while busy.load(std::sync::atomic::Ordering::SeqCst) {
                    gc.write(
                        0,
                        change(|_| {
                            Box::pin(async move {
                                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                                Ok(((), vec![]))
                            })
                        }),
                    )
                    .await
                    .expect("a busy change commits");
                }
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let direct = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut tx = db.begin().await?;
            directory::create_workspace(&mut tx, "beside", "Beside").await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        })
        .await;
        busy.store(false, std::sync::atomic::Ordering::SeqCst);
        for f in feeders {
            f.await.expect("feeder");
        }
        direct
            .expect("the direct transaction waited behind the busy writer")
            .expect("the direct transaction commits");
        done(dir, db).await;
    }

    /// An agent in a new workspace of the test database.
    async fn agent(db: &Db, slug: &str) -> Actor {
        let mut tx = db.begin().await.expect("tx");
        let w = directory::create_workspace(&mut tx, slug, slug)
            .await
            .expect("workspace");
        let email = format!("agent@{slug}.test");
        let user = directory::create_user(&mut tx, &email, "Agent", None)
            .await
            .expect("user");
        directory::add_member(&mut tx, w.id, user, citius_domain::role::Role::Agent)
            .await
            .expect("member");
        tx.commit().await.expect("commit");
        Actor {
            user_id: user,
            workspace_id: w.id,
            role: citius_domain::role::Role::Agent,
            name: "Agent".into(),
            email,
        }
    }

    fn plain(email: &str, name: &str, subject: &str) -> PreparedConversation {
        use citius_domain::customer::{Identity, IdentityKind};
        PreparedConversation {
            identities: vec![Identity::parse(IdentityKind::Email, email).expect("email")],
            customer_name: Some(name.into()),
            attributes: None,
            subject: subject.into(),
            body: citius_domain::content::Body::from_text("first words").expect("body"),
            files: Vec::new(),
            tags: Vec::new(),
            custom_fields: serde_json::json!({}),
            kind: citius_domain::conversation::MessageKind::Inbound,
            channel: citius_domain::conversation::Channel::Api,
            priority: citius_domain::conversation::Priority::Normal,
            inbox_id: None,
            assignee_id: None,
            team_id: None,
        }
    }

    /// New conversations stored together come out as they would one by one: a known customer
    /// is found and gains the new identity, new customers are made and indexed, every
    /// conversation has its message, its events and its search documents. Two naming the same
    /// customer are refused together, for the writer to store them one by one.
    #[tokio::test]
    async fn plain_new_conversations_share_their_statements() {
        use citius_domain::customer::{Identity, IdentityKind};
        use citius_store::{Backend, customers, search};
        let (dir, db, gc) = writer().await;
        let actor = agent(&db, "acme").await;
        let ws = actor.workspace_id;
        let known = gc
            .create_conversation(
                Backend::Sqlite,
                actor.clone(),
                plain("known@x.test", "Known", "Before"),
            )
            .await
            .expect("first conversation");

        let mut returning = plain("known@x.test", "Ignored", "Again");
        let phone = Identity::parse(IdentityKind::Phone, "+44 20 7946 0000").expect("phone");
        returning.identities.push(phone.clone());
        let group = [
            plain("ada@x.test", "Ada Quillfeather", "Printer jammed"),
            returning,
            plain("bo@x.test", "Bo Pennywhistle", "Parcel late"),
        ];
        let items: Vec<(&Actor, &PreparedConversation)> =
            group.iter().map(|n| (&actor, n)).collect();
        let mut tx = db.begin().await.expect("tx");
        let stored = insert_plain_conversations(&mut tx, Backend::Sqlite, ws, &items)
            .await
            .expect("stored together");
        tx.commit().await.expect("commit");

        assert_eq!(stored.len(), 3);
        let subjects: Vec<&str> = stored.iter().map(|(c, _)| c.subject.as_str()).collect();
        assert_eq!(subjects, ["Printer jammed", "Again", "Parcel late"]);
        assert_eq!(
            stored[1].0.customer_id, known.customer_id,
            "the known customer is found"
        );
        assert_ne!(stored[0].0.customer_id, stored[2].0.customer_id);
        assert_eq!(stored[0].0.customer_name, "Ada Quillfeather");
        assert_eq!(
            stored[1].0.customer_name, "Known",
            "a known customer keeps the name on record"
        );
        for (conv, events) in &stored {
            assert_eq!(conv.message_count, 1);
            let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
            assert_eq!(
                kinds,
                ["created", "message_added"],
                "events of {}",
                conv.subject
            );
            assert!(events.iter().all(|e| e.conversation_id == conv.id));
        }
        let mut c = db.read().await.expect("read");
        let holder = customers::find_by_identity(&mut c, ws, &phone)
            .await
            .expect("lookup");
        assert_eq!(
            holder,
            Some(known.customer_id),
            "the new phone joins the known customer"
        );
        let found = search::query(&mut c, &db, ws, "quillfeather", 10)
            .await
            .expect("search");
        assert_eq!(found.customer_ids, [stored[0].0.customer_id]);
        let found = search::query(&mut c, &db, ws, "parcel", 10)
            .await
            .expect("search");
        assert_eq!(found.conversation_ids, [stored[2].0.id]);
        drop(c);

        let twins = [
            plain("twin@x.test", "Twin", "One"),
            plain("twin@x.test", "Twin", "Two"),
        ];
        let items: Vec<(&Actor, &PreparedConversation)> =
            twins.iter().map(|n| (&actor, n)).collect();
        let mut tx = db.begin().await.expect("tx");
        let refused = insert_plain_conversations(&mut tx, Backend::Sqlite, ws, &items).await;
        assert!(matches!(refused, Err(AppError::Conflict(_))), "{refused:?}");
        drop(tx);
        done(dir, db).await;
    }

    /// Through the writer: plain new conversations queued together share a savepoint, and two
    /// for one new customer fall back to one by one and both succeed, with one customer.
    #[tokio::test]
    async fn a_batch_of_new_conversations_survives_a_shared_customer() {
        use citius_store::Backend;
        let (dir, db, gc) = writer().await;
        let actor = agent(&db, "acme").await;
        let other = agent(&db, "globex").await;
        let create = |who: &Actor, email: &str, subject: &str| {
            gc.create_conversation(Backend::Sqlite, who.clone(), plain(email, "Twin", subject))
        };
        let (one, two, three, elsewhere) = tokio::join!(
            create(&actor, "twin@x.test", "One"),
            create(&actor, "twin@x.test", "Two"),
            create(&actor, "solo@x.test", "Three"),
            create(&other, "twin@x.test", "Four"),
        );
        let (one, two, three, elsewhere) = (
            one.expect("one"),
            two.expect("two"),
            three.expect("three"),
            elsewhere.expect("elsewhere"),
        );
        assert_eq!(
            one.customer_id, two.customer_id,
            "one customer for one address"
        );
        assert_ne!(one.customer_id, three.customer_id);
        assert_ne!(
            one.customer_id, elsewhere.customer_id,
            "workspaces keep their own customers"
        );
        done(dir, db).await;
    }

    /// A batch that is one group of new conversations runs without a savepoint. It commits
    /// as a whole; when it fails, the transaction is rolled back and every member goes again
    /// alone, so nothing of the failed attempt stays and each conversation is stored once.
    #[tokio::test]
    async fn a_lone_group_commits_whole_or_goes_again_one_by_one() {
        use citius_store::{Backend, search};
        let (dir, db, gc) = writer().await;
        let actor = agent(&db, "acme").await;
        let ws = actor.workspace_id;
        let create = |email: &str, subject: &str| {
            gc.create_conversation(
                Backend::Sqlite,
                actor.clone(),
                plain(email, subject, subject),
            )
        };
        let (a, b) = tokio::join!(create("a@x.test", "Alpha"), create("b@x.test", "Beta"));
        let (a, b) = (a.expect("alpha"), b.expect("beta"));
        assert_ne!(a.customer_id, b.customer_id);

        let (one, two, three) = tokio::join!(
            create("twin@x.test", "Gamma"),
            create("twin@x.test", "Delta"),
            create("c@x.test", "Epsilon"),
        );
        let (one, two, three) = (one.expect("one"), two.expect("two"), three.expect("three"));
        assert_eq!(
            one.customer_id, two.customer_id,
            "one customer for one address"
        );
        assert_ne!(one.customer_id, three.customer_id);

        let mut c = db.read().await.expect("read");
        for answered in [&a, &b, &one, &two, &three] {
            let stored = citius_store::conversations::get(&mut c, ws, answered.id)
                .await
                .expect("stored");
            assert_eq!(
                serde_json::to_value(&stored).expect("json"),
                serde_json::to_value(answered).expect("json"),
                "the answer is what was stored"
            );
        }
        let twins = search::query(&mut c, &db, ws, "twin", 10)
            .await
            .expect("search");
        assert_eq!(
            twins.customer_ids,
            [one.customer_id],
            "one customer holds the address"
        );
        for (word, id) in [("gamma", one.id), ("epsilon", three.id)] {
            let found = search::query(&mut c, &db, ws, word, 10)
                .await
                .expect("search");
            assert_eq!(found.conversation_ids, [id], "{word} is indexed once");
        }
        drop(c);
        done(dir, db).await;
    }

    /// Plain new conversations are grouped by workspace, even one alone (the group's path
    /// writes less: no read-back, its events in the same script); anything else stays a change
    /// of its own.
    #[test]
    fn units_group_plain_new_conversations_by_workspace() {
        let actor = |ws: i64| Actor {
            user_id: 1,
            workspace_id: ws,
            role: citius_domain::role::Role::Agent,
            name: "A".into(),
            email: "a@x.test".into(),
        };
        let change = |ws: i64, new: PreparedConversation| -> Box<dyn Pending> {
            Box::new(NewConversationChange {
                backend: citius_store::Backend::Sqlite,
                actor: actor(ws),
                new,
                value: None,
                answer: oneshot::channel().0,
                tries: Tries::default(),
            })
        };
        let mut tagged = plain("t@x.test", "T", "Tagged");
        tagged.tags.push("vip".into());
        let other: Box<dyn Pending> = Box::new(Typed::<()> {
            workspace_id: 1,
            change: Box::new(|_| Box::pin(async { Ok(((), Vec::new())) })),
            value: None,
            answer: oneshot::channel().0,
            tries: Tries::default(),
        });
        let batch = vec![
            change(1, plain("a@x.test", "A", "A")),
            other,
            change(2, plain("b@x.test", "B", "B")),
            change(1, tagged),
            change(1, plain("c@x.test", "C", "C")),
        ];
        let shapes: Vec<(&str, usize)> = units(batch)
            .iter()
            .map(|u| match u {
                Unit::One(p) => ("one", p.workspace_id() as usize),
                Unit::Plain(g) => ("plain", g.len()),
            })
            .collect();
        assert_eq!(shapes, [("one", 1), ("one", 1), ("plain", 2), ("plain", 1)]);
    }
}
