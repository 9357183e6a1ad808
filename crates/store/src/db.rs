use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::{Conn, DbError, DbResult};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the data lives.
#[derive(Clone)]
pub enum DbConfig {
    /// Embedded SQLite in this directory (created if missing).
    SqliteDir(PathBuf),
    /// A database URL: `postgres://...` or `sqlite://path`.
    Url(String),
}

impl std::fmt::Debug for DbConfig {
    // URLs can carry passwords: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbConfig::SqliteDir(p) => write!(f, "SqliteDir({})", p.display()),
            DbConfig::Url(u) => write!(f, "Url({})", redact_url(u)),
        }
    }
}

/// A URL with any password replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => {
                    format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The database: a pool for reads and one for writes. On SQLite the write pool has a single
/// connection, so writers queue in the pool instead of failing with SQLITE_BUSY; on PostgreSQL
/// both are the same pool.
#[derive(Clone)]
pub struct Db {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    /// Kept for listener connections on PostgreSQL.
    postgres_url: Option<Arc<str>>,
    word_stats: crate::search::WordStats,
    /// Callers waiting for a connection of the write pool: a writer holding one lets it go.
    write_waiters: Arc<AtomicUsize>,
}

/// Counts a caller as waiting for a write connection until dropped (one that finds none idle:
/// the count need not be exact, only above zero while someone is kept waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Db {
    pub async fn connect(config: &DbConfig, max_connections: u32) -> DbResult<Self> {
        sqlx::any::install_default_drivers();
        let url = match config {
            DbConfig::SqliteDir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DbError::Corrupt(format!(
                        "cannot create data directory {}: {e}",
                        dir.display()
                    ))
                })?;
                format!("sqlite://{}?mode=rwc", dir.join("citius.db").display())
            }
            DbConfig::Url(u) => u.clone(),
        };
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(DbError::Corrupt(format!(
                "unsupported database URL {}: use postgres://... or sqlite://...",
                redact_url(&url)
            )));
        };
        // Statement text is not logged: bulk statements are huge, and values may be personal data.
        // Slow requests show up in the request log and metrics instead.
        let options = AnyConnectOptions::from_str(&url)
            .map_err(DbError::Sql)?
            .log_statements(log::LevelFilter::Off)
            .log_slow_statements(log::LevelFilter::Off, Duration::from_secs(1));
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(30))
                // A connection in steady use has just proved itself; checking each one on every
                // acquire costs a round trip per request. One that sat idle may have been closed
                // by the server or a proxy meanwhile, so that one is checked.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= IDLE_BEFORE_CHECK {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // WAL lets readers run beside the writer; synchronous=FULL makes every
                            // commit durable before we acknowledge it. Savepoint journals and
                            // sort scratch stay in memory: as files they cost an open, writes and
                            // an unlink per savepoint, and the group commit takes one per change.
                            // Most checkpoint work runs beside the writer (see
                            // `checkpoint_beside_writer`).
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                                 PRAGMA temp_store = MEMORY;",
                            )
                            .await?;
                        } else {
                            // PostgreSQL compiles a plan whose estimated cost passes a threshold
                            // to machine code, anew on every execution: a prefix search estimated
                            // at thousands of matches spent 25 ms compiling to find none in 0.5.
                            // Our queries are short; none gains from it.
                            conn.execute("SET jit = off").await?;
                        }
                        Ok(())
                    })
                })
        };
        let (read, write) = match backend {
            Backend::Sqlite => {
                let write = pool(1)
                    .connect_with(options.clone())
                    .await
                    .map_err(DbError::Sql)?;
                let read = pool(max_connections.max(2))
                    .connect_with(options)
                    .await
                    .map_err(DbError::Sql)?;
                tokio::spawn(checkpoint_beside_writer(read.clone()));
                (read, write)
            }
            Backend::Postgres => {
                let p = pool(max_connections.max(2))
                    .connect_with(options)
                    .await
                    .map_err(DbError::Sql)?;
                (p.clone(), p)
            }
        };
        let postgres_url = (backend == Backend::Postgres).then(|| Arc::from(url.as_str()));
        Ok(Self {
            read,
            write,
            backend,
            postgres_url,
            word_stats: Default::default(),
            write_waiters: Default::default(),
        })
    }

    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What this node last read of PostgreSQL's word statistics, for search.
    pub fn word_stats(&self) -> &crate::search::WordStats {
        &self.word_stats
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every pending migration. Safe to run from several nodes at once (the migrator locks).
    pub async fn migrate(&self) -> DbResult<()> {
        self.migrator().run(&self.write).await?;
        if self.backend == Backend::Sqlite {
            // Databases analysed by earlier versions still hold samples.
            let mut c = self.write.acquire().await?;
            forget_samples(&mut c).await?;
        }
        Ok(())
    }

    /// Reverts migrations down to `target` (0 = empty database).
    pub async fn migrate_down(&self, target: i64) -> DbResult<()> {
        self.migrator().undo(&self.write, target).await?;
        Ok(())
    }

    /// Number of the newest migration embedded in this binary.
    pub fn latest_migration(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// A connection for reading.
    pub async fn read(&self) -> DbResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        // On PostgreSQL reads and writes share the pool.
        let _waiting = (self.backend == Backend::Postgres && self.read.num_idle() == 0)
            .then(|| Waiting::new(&self.write_waiters));
        Ok(self.read.acquire().await?)
    }

    /// A write transaction: everything a use case changes commits together or not at all.
    pub async fn begin(&self) -> DbResult<sqlx::Transaction<'static, sqlx::Any>> {
        let _waiting = (self.write.num_idle() == 0).then(|| Waiting::new(&self.write_waiters));
        Ok(self.write.begin().await?)
    }

    /// A writer's hold on a write connection, kept between its transactions (see [`HeldWrite`]).
    pub fn held_write(&self) -> HeldWrite {
        HeldWrite {
            pool: self.write.clone(),
            conn: None,
            others: self.write_waiters.clone(),
        }
    }

    /// Whether PostgreSQL's autovacuum is off. Then nothing keeps the planner's statistics, the
    /// visibility maps and the search indexes' pending lists in shape as tables grow.
    pub async fn autovacuum_off(&self) -> DbResult<bool> {
        if self.backend != Backend::Postgres {
            return Ok(false);
        }
        let on: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
            .fetch_one(&self.read)
            .await?;
        Ok(on == "off")
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// A write connection that a busy writer keeps from one transaction to the next. Handing it
/// back to the pool and taking it again costs two health checks, round trips that the whole of
/// the next group waits for; a writer that has more to do keeps it instead, and lets it go
/// whenever it would wait, and whenever someone else waits for one, so others get their turn
/// (the pool serves waiters in order).
pub struct HeldWrite {
    pool: AnyPool,
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    others: Arc<AtomicUsize>,
}

impl HeldWrite {
    /// Starts a transaction on the held connection, taking one from the pool first if needed.
    /// After any failure the writer lets the connection go: its state is unknown.
    pub async fn begin(&mut self) -> DbResult<crate::HeldTx<'_>> {
        Ok(sqlx::Connection::begin(self.conn().await?).await?)
    }

    /// The held connection outside any transaction (each statement commits as it ends), taken
    /// from the pool first if needed.
    pub async fn conn(&mut self) -> DbResult<&mut Conn> {
        if self.others.load(Ordering::SeqCst) > 0 {
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            none => none.insert(self.pool.acquire().await?),
        };
        Ok(&mut **conn)
    }

    /// Gives the connection back to the pool (after a failure, or before waiting for work).
    pub fn let_go(&mut self) {
        self.conn = None;
    }
}

/// How long a pooled connection may sit idle before it is checked again on its next use.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(1);

/// How often committed pages move from SQLite's WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Moves committed pages from SQLite's WAL into the database file from a reading connection,
/// until the pool closes. SQLite checkpoints inside the commit that takes the WAL past 1,000
/// pages: that commit copies and flushes megabytes, and every change it carries (a whole group
/// commit) waits tens of milliseconds with it. A passive checkpoint takes no lock the writer
/// needs, so done often beside it, the commit's own checkpoint finds little left to copy. That
/// commit still runs it: only the writer can start the WAL again from its beginning, which
/// keeps the file from growing (a growing file makes every flush slower).
async fn checkpoint_beside_writer(read: AnyPool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Said once when checkpoints start failing, not ten times a second.
    let mut failing = false;
    loop {
        tick.tick().await;
        if read.is_closed() {
            return;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await
        {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints work again");
            }
            Ok(_) => {}
            Err(_) if read.is_closed() => return,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "WAL checkpoint failed; the commit that fills the WAL checkpoints instead");
            }
            Err(_) => {}
        }
    }
}

/// Keeps the query planner's statistics fresh as tables grow (SQLite analyses only what changed
/// enough; PostgreSQL's autovacuum does this on its own).
pub async fn optimize(c: &mut crate::Conn, backend: Backend) -> DbResult<()> {
    if backend == Backend::Sqlite {
        sqlx::query("PRAGMA optimize").execute(&mut *c).await?;
        forget_samples(c).await?;
    }
    Ok(())
}

/// Drops the value samples SQLite's ANALYZE keeps (`sqlite_stat4`), keeping the per-index
/// averages (`sqlite_stat1`). With samples, every statement whose plan might depend on a bound
/// value is compiled again each time it runs with new values: a tenth of the writer's time went
/// to that, and every list query paid it too. The averages pick the same indexes for the
/// queries here.
pub async fn forget_samples(c: &mut crate::Conn) -> DbResult<()> {
    let sampled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat4'",
    )
    .fetch_one(&mut *c)
    .await?;
    if sampled > 0 {
        // Reading the statistics again makes this connection forget the samples too.
        sqlx::raw_sql("DELETE FROM sqlite_stat4; ANALYZE sqlite_schema")
            .execute(c)
            .await?;
    }
    Ok(())
}

/// Savepoints let one change inside a shared transaction fail alone (see group commit).
pub async fn savepoint(c: &mut crate::Conn) -> DbResult<()> {
    sqlx::query("SAVEPOINT change").execute(c).await?;
    Ok(())
}

/// Keeps what the change since [`savepoint`] did.
pub async fn release_savepoint(c: &mut crate::Conn) -> DbResult<()> {
    sqlx::query("RELEASE SAVEPOINT change").execute(c).await?;
    Ok(())
}

/// Keeps what the change since [`savepoint`] did and opens the next one, in one round trip.
pub async fn release_and_savepoint(c: &mut crate::Conn) -> DbResult<()> {
    sqlx::raw_sql("RELEASE SAVEPOINT change; SAVEPOINT change")
        .execute(c)
        .await?;
    Ok(())
}

/// Undoes what the change since [`savepoint`] did; the transaction goes on.
pub async fn rollback_to_savepoint(c: &mut crate::Conn) -> DbResult<()> {
    sqlx::query("ROLLBACK TO SAVEPOINT change")
        .execute(&mut *c)
        .await?;
    sqlx::query("RELEASE SAVEPOINT change").execute(c).await?;
    Ok(())
}
