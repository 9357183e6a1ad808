//! The `citius` command: serve, migrate, set up a workspace, load demo data.

mod bench;
mod config;
mod demo;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use citius_app::App;
use citius_store::Db;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// What `serve` prints once it listens, before the address: for people, and for `citius bench`,
/// which learns from it where the server it started listens.
const HTTP_ANNOUNCEMENT: &str = "Citius is running: open http://";
const SMTP_ANNOUNCEMENT: &str = "Receiving mail over SMTP on ";

#[derive(Parser)]
#[command(
    name = "citius",
    version,
    about = "Citius: customer conversations on every channel, in one binary"
)]
struct Cli {
    /// A TOML configuration file (see `citius default-config`).
    #[arg(long, global = true, env = "CITIUS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives: the same options on every command that touches it.
#[derive(Args, Clone, Default)]
struct DataArgs {
    /// Directory for embedded SQLite (default ./citius-data).
    #[arg(long = "data")]
    data: Option<PathBuf>,
    /// A database URL (postgres://... or sqlite://...) instead of --data.
    #[arg(long = "database-url", conflicts_with = "data")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI and API, and run background jobs.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Load demo data first (a workspace with agents, customers and conversations).
        #[arg(long)]
        demo: bool,
        /// Serve HTTP only; leave background jobs to other nodes.
        #[arg(long, conflicts_with = "worker_only")]
        http_only: bool,
        /// Run background jobs only, without HTTP.
        #[arg(long)]
        worker_only: bool,
        /// Receive mail over SMTP on this address, e.g. 0.0.0.0:25 (overrides smtp_listen).
        #[arg(long)]
        smtp_listen: Option<String>,
    },
    /// Manage inboxes (where customers' messages arrive).
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Create a workspace and its owner; prints an API token on the last line.
    Setup {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Display name of the workspace (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
    /// Load demo data into the database (idempotent).
    Demo {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Write a consistent backup of all data to a file (JSON lines; restores on SQLite or PostgreSQL).
    Backup {
        #[command(flatten)]
        data: DataArgs,
        /// The backup file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an empty database (e.g. a new --data directory or PostgreSQL database).
    Restore {
        #[command(flatten)]
        data: DataArgs,
        /// The backup file to read.
        #[arg(long)]
        from: PathBuf,
    },
    /// Measure: generate a realistic workspace at scale, then time API, search and live
    /// scenarios beside raw-insert and no-op HTTP baselines; prints a table and writes JSON.
    Bench {
        #[command(flatten)]
        data: DataArgs,
        /// Conversations in the generated workspace (kept between runs; only the missing are added).
        #[arg(long, default_value_t = 100_000)]
        conversations: i64,
        /// Concurrent event streams for the fan-out scenario.
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Requests per scenario. Enough that a p99 rests on twenty requests, and that eight
        /// clients creating run for seconds (through checkpoints), not a fraction of one.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Where to write the results as JSON.
        #[arg(long, default_value = "bench.json")]
        out: PathBuf,
        /// Run only the scenarios whose names contain this text (e.g. "create", "search");
        /// the raw insert and no-op HTTP limits always run.
        #[arg(long)]
        only: Option<String>,
    },
    /// Print the default configuration file.
    DefaultConfig,
}

#[derive(Subcommand)]
enum InboxCommand {
    /// Create an email inbox: mail to ADDR (over SMTP) lands in this workspace.
    Create {
        #[command(flatten)]
        data: DataArgs,
        /// The workspace's slug.
        #[arg(long)]
        workspace: String,
        /// The address the inbox receives mail for.
        #[arg(long)]
        email: String,
        /// A name for agents (default: the address).
        #[arg(long)]
        name: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<&PathBuf>, data: &DataArgs) -> anyhow::Result<Config> {
    let mut cfg = Config::load(path)?;
    if let Some(d) = &data.data {
        cfg.data_dir = d.clone();
        cfg.database_url.clear();
    }
    if let Some(u) = &data.database_url {
        cfg.database_url = u.clone();
    }
    Ok(cfg)
}

async fn open_db(cfg: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&cfg.db_config(), cfg.max_connections)
        .await
        .with_context(|| format!("cannot open the database ({:?})", cfg.db_config()))?;
    db.migrate().await.context("database migration failed")?;
    Ok(db)
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CITIUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DefaultConfig => {
            print!("{}", config::DEFAULTS);
            Ok(())
        }
        Command::Migrate { data } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            init_logs(&cfg.log_format);
            let db = open_db(&cfg).await?;
            println!("database is at migration {}", db.latest_migration());
            Ok(())
        }
        Command::Setup {
            data,
            workspace,
            email,
            password,
            name,
        } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            let db = open_db(&cfg).await?;
            let app = App::new(db, cfg.app_config());
            let (ws, token) = app
                .setup(&workspace, name.as_deref(), &email, &password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created workspace '{}' with owner {email}", ws.slug);
            println!("API token (shown once):");
            println!("{token}");
            Ok(())
        }
        Command::Inbox {
            command:
                InboxCommand::Create {
                    data,
                    workspace,
                    email,
                    name,
                },
        } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            let app = App::new(open_db(&cfg).await?, cfg.app_config());
            let operator = app
                .operator(&workspace)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let inbox = app
                .create_inbox(
                    &operator,
                    citius_app::directory::InboxInput {
                        name: name.unwrap_or_else(|| email.clone()),
                        channel: citius_domain::conversation::Channel::Email,
                        address: Some(email),
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created inbox {} ({}) receiving mail for {}",
                inbox.id,
                inbox.name,
                inbox.address.unwrap_or_default()
            );
            Ok(())
        }
        Command::Demo { data } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            init_logs(&cfg.log_format);
            let app = App::new(open_db(&cfg).await?, cfg.app_config());
            demo::load(&app).await?;
            println!(
                "demo data loaded: sign in as {} / {}",
                demo::EMAIL,
                demo::PASSWORD
            );
            Ok(())
        }
        Command::Bench {
            data,
            conversations,
            connections,
            requests,
            out,
            only,
        } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            init_logs(&cfg.log_format);
            bench::run(
                cfg,
                bench::Options {
                    conversations,
                    connections,
                    requests,
                    out,
                    only,
                },
            )
            .await
        }
        Command::Backup { data, out } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            let db = open_db(&cfg).await?;
            backup(&db, &out).await
        }
        Command::Restore { data, from } => {
            let cfg = load_config(cli.config.as_ref(), &data)?;
            cfg.validate()?;
            let db = open_db(&cfg).await?;
            restore(&db, &from).await
        }
        Command::Serve {
            data,
            listen,
            demo: with_demo,
            http_only,
            worker_only,
            smtp_listen,
        } => {
            let mut cfg = load_config(cli.config.as_ref(), &data)?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(l) = smtp_listen {
                cfg.smtp_listen = l;
            }
            cfg.validate()?;
            init_logs(&cfg.log_format);
            serve(cfg, with_demo, !worker_only, !http_only).await
        }
    }
}

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{what} {{bar:40}} {{pos}}/{{len}} rows ({{eta}} left)"
    ))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    indicatif::ProgressBar::new(total).with_style(style)
}

async fn backup(db: &Db, out: &PathBuf) -> anyhow::Result<()> {
    let total: i64 = citius_store::backup::counts(db)
        .await?
        .iter()
        .map(|(_, n)| n)
        .sum();
    let bar = progress_bar(total.max(0) as u64, "backing up");
    // Write beside the target and rename at the end: a crash never leaves half a backup under its name.
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let rows = citius_store::backup::export(db, &mut writer, || bar.inc(1)).await?;
    let file = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    bar.finish_and_clear();
    println!("backed up {rows} rows to {}", out.display());
    Ok(())
}

async fn restore(db: &Db, from: &PathBuf) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let lines = std::io::BufReader::new(&file).lines_count();
    let bar = progress_bar(lines.saturating_sub(1), "restoring");
    let file =
        std::fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    let rows =
        citius_store::backup::import(db, std::io::BufReader::new(file), || bar.inc(1)).await?;
    bar.finish_and_clear();
    println!(
        "restored {rows} rows from {}; updating statistics…",
        from.display()
    );
    let mut c = db.read().await?;
    citius_store::bulk::settle(&mut c, db.backend())
        .await
        .context("VACUUM and ANALYZE after restoring")?;
    Ok(())
}

/// Counts lines cheaply, for a progress bar's length.
trait LinesCount {
    fn lines_count(self) -> u64;
}

impl<R: std::io::BufRead> LinesCount for R {
    fn lines_count(mut self) -> u64 {
        let mut n = 0;
        let mut buf = Vec::new();
        while matches!(self.read_until(b'\n', &mut buf), Ok(k) if k > 0) {
            n += 1;
            buf.clear();
        }
        n
    }
}

async fn serve(cfg: Config, with_demo: bool, http: bool, worker: bool) -> anyhow::Result<()> {
    let addr = cfg.listen_addr()?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let db = open_db(&cfg).await?;
    // A warning, never a reason not to start.
    if let Ok(true) = db.autovacuum_off().await {
        tracing::warn!(
            "PostgreSQL's autovacuum is off: lists, counts and search slow down as tables grow; \
             turn it on, or run VACUUM (ANALYZE) regularly"
        );
    }
    let app = App::new(db.clone(), cfg.app_config());
    if with_demo {
        demo::load(&app).await?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ready = Arc::new(AtomicBool::new(true));
    let worker_task = worker.then(|| {
        let app = app.clone();
        let rx = stop_rx.clone();
        let poll = Duration::from_millis(cfg.worker_poll_ms.max(50));
        tokio::spawn(async move { app.run_worker(poll, rx).await })
    });
    let imap_task = worker.then(|| {
        let (app, rx) = (app.clone(), stop_rx.clone());
        tokio::spawn(async move { app.run_imap_poller(Duration::from_secs(5), rx).await })
    });
    let smtp_task = match cfg.smtp_listen_addr()? {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen for SMTP on {addr}"))?;
            let local = listener.local_addr()?;
            tracing::info!(%local, "receiving mail over SMTP");
            println!("{SMTP_ANNOUNCEMENT}{local}");
            let (app, rx, host) = (app.clone(), stop_rx.clone(), cfg.smtp_hostname.clone());
            Some(tokio::spawn(async move {
                citius_app::smtp::serve(app, listener, host, rx).await
            }))
        }
        None => None,
    };
    let relay_task = http.then(|| {
        let app = app.clone();
        let rx = stop_rx.clone();
        tokio::spawn(async move { app.relay_remote_events(rx).await })
    });
    if http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let router =
            citius_http::router_with(app.clone(), cfg.http_config(), Some(metrics), ready.clone());
        tracing::info!(%local, backend = ?db.backend(), "citius is serving");
        println!("{HTTP_ANNOUNCEMENT}{local}/");
        if with_demo {
            println!(
                "Sign in as {} with password {}",
                demo::EMAIL,
                demo::PASSWORD
            );
        }
        let mut rx = stop_rx.clone();
        let shutdown = async move {
            let _ = rx.changed().await;
        };
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown);
        let server_task = tokio::spawn(async move { server.await });
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        ready.store(false, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        match tokio::time::timeout(Duration::from_secs(20), server_task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
            _ => tracing::warn!("requests still running after 20 s; stopping anyway"),
        }
    } else {
        println!("Citius worker is running");
        wait_for_signal().await;
        let _ = stop_tx.send(true);
    }
    for t in [worker_task, imap_task, relay_task, smtp_task]
        .into_iter()
        .flatten()
    {
        let _ = tokio::time::timeout(Duration::from_secs(20), t).await;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
