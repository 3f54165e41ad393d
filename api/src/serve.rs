//! `dialpool serve`: HTTP, the SFTP server and the background workers in one process.

use anyhow::Context;
use clap::Args;
use dialpool_engine::platform::access;
use dialpool_jobs::webhooks::{Sender, SenderConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::connect::{find_tenant, sized_pool};
use crate::demo::{DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, load_demo};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "DIALPOOL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the demo data set before serving (and create the demo administrator).
    #[arg(long)]
    pub demo: bool,
    /// Where uploads and rejects files are kept.
    #[arg(long, env = "DIALPOOL_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Database connections the server keeps; requests beyond it wait for one.
    #[arg(long, env = "DIALPOOL_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// Largest accepted upload, in MiB.
    #[arg(long, env = "DIALPOOL_MAX_UPLOAD_MB", default_value_t = 512)]
    pub max_upload_mb: u64,
    /// Mark the session cookie Secure (set this when TLS ends in a proxy that does not send
    /// X-Forwarded-Proto).
    #[arg(long, env = "DIALPOOL_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Let webhooks reach loopback, private and link-local addresses (a receiver on the
    /// same network). Off by default, so tenant administrators cannot probe the servers
    /// next to Dialpool.
    #[arg(long, env = "DIALPOOL_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Seconds before a failed webhook is tried again the first time; each later wait is
    /// three times longer (up to 6 hours), 8 tries in all.
    #[arg(long, env = "DIALPOOL_WEBHOOKS_RETRY_BASE_S", default_value_t = 60.0)]
    pub webhooks_retry_base_s: f64,
    /// Jobs this server runs at once (0: this server runs none; another runs them).
    #[arg(long, env = "DIALPOOL_JOBS_CONCURRENCY", default_value_t = 2)]
    pub jobs_concurrency: usize,
    /// Seconds a claimed job stays locked without renewal: how long a dead server's job
    /// waits before another takes it.
    #[arg(long, env = "DIALPOOL_JOBS_LOCK_S", default_value_t = 30)]
    pub jobs_lock_s: u64,
    /// Where the partners' SFTP server listens (`off`: no SFTP server).
    #[arg(long, env = "DIALPOOL_SFTP_LISTEN", default_value = "127.0.0.1:2222")]
    pub sftp_listen: String,
    /// Seconds between looks at the schedules (0: this server enqueues none).
    #[arg(long, env = "DIALPOOL_SCHEDULE_TICK_S", default_value_t = 5)]
    pub schedule_tick_s: u64,
    /// Hours an export's file is kept for download before it is deleted.
    #[arg(long, env = "DIALPOOL_EXPORTS_KEEP_HOURS", default_value_t = 72)]
    pub exports_keep_hours: u32,
    /// E-mail of the administrator created on first start.
    #[arg(long, env = "DIALPOOL_ADMIN_EMAIL", default_value = "admin@localhost.localdomain")]
    pub admin_email: String,
    /// Password of that administrator; when unset, a one-time password is printed once.
    #[arg(long, env = "DIALPOOL_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

pub async fn serve(config: tokio_postgres::Config, tenant: &str, args: ServeArgs) -> anyhow::Result<()> {
    let pool = sized_pool(&config, true, args.db_pool_size).await?;
    let (admin_email, admin_password) = if args.demo {
        (DEMO_ADMIN_EMAIL.to_owned(), Some(DEMO_ADMIN_PASSWORD.to_owned()))
    } else {
        (args.admin_email.clone(), args.admin_password.clone())
    };
    {
        let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
        match access::ensure_first_admin(&mut **client, &admin_email, admin_password.as_deref()).await? {
            Some((email, Some(password))) => eprintln!(
                "created the administrator {email} with the one-time password {password} (it must be changed at first sign-in; it is not shown again)"
            ),
            Some((email, None)) => eprintln!("created the administrator {email}"),
            None => {}
        }
    }
    if args.demo {
        let tenant = find_tenant(&pool, tenant).await?;
        let summaries = load_demo(&pool, tenant).await?;
        tracing::info!(
            inserted = summaries.iter().map(|s| s.counts.inserted).sum::<i64>(),
            "demo data loaded"
        );
        eprintln!("demo: sign in as {DEMO_ADMIN_EMAIL} with the password {DEMO_ADMIN_PASSWORD}");
    }
    let http_config = crate::http::HttpConfig {
        data_dir: args.data_dir.clone(),
        max_upload_bytes: args.max_upload_mb.saturating_mul(1024 * 1024),
        secure_cookies: args.secure_cookies,
        exports_keep: chrono::Duration::hours(i64::from(args.exports_keep_hours)),
    };
    // The defaults exist before the first request, so they can be listed and edited at once.
    {
        let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
        dialpool_engine::platform::schedule::ensure_defaults(&**client).await?;
    }
    // One token stops everything: SIGINT or SIGTERM cancels it, and each part below ends
    // its own way on it (HTTP finishes the requests in flight, the worker hands running
    // jobs back to the queue, the webhook sender records its sends in flight).
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    if args.jobs_concurrency > 0 {
        let mut worker = dialpool_jobs::WorkerConfig::new(args.data_dir.clone());
        worker.concurrency = args.jobs_concurrency;
        worker.lock_for = Duration::from_secs(args.jobs_lock_s.max(3));
        worker.listen = Some(config.clone());
        tasks.spawn(dialpool_jobs::Worker::new(pool.clone(), worker).run(stop.clone().cancelled_owned()));
    }
    if args.schedule_tick_s > 0 {
        let every = Duration::from_secs(args.schedule_tick_s);
        tasks.spawn(dialpool_jobs::ticker::run(pool.clone(), every, stop.clone().cancelled_owned()));
    }
    let sender_config = SenderConfig {
        allow_private: args.webhooks_allow_private,
        retry_base: Duration::try_from_secs_f64(args.webhooks_retry_base_s)
            .context("--webhooks-retry-base-s must be a positive number of seconds")?,
        ..SenderConfig::default()
    };
    tasks.spawn(Sender::new(pool.clone(), sender_config)?.run(stop.clone().cancelled_owned()));
    if args.sftp_listen != "off" {
        let address = &args.sftp_listen;
        let listen: SocketAddr = address.parse().map_err(|_| {
            dialpool_engine::Error::invalid(
                "sftp-listen",
                format!("'{address}' is not an address:port or off"),
            )
        })?;
        let bound = dialpool_sftp::bind(
            pool.clone(),
            dialpool_sftp::SftpConfig { listen, data_dir: args.data_dir.clone() },
        )
        .await?;
        let address = bound.local_addr()?;
        tracing::info!(%address, "SFTP server listening");
        eprintln!("dialpool SFTP for partners on {address}");
        let stopping = stop.clone();
        tasks.spawn(async move {
            // Stops accepting; an upload in flight is recorded by its own session task.
            tokio::select! {
                served = bound.run() => if let Err(error) = served {
                    tracing::error!(%error, "the SFTP server stopped");
                },
                () = stopping.cancelled() => {}
            }
        });
    }
    let app = crate::http::router(crate::http::AppState::new(pool, http_config))
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    eprintln!("dialpool is serving on http://{}", listener.local_addr()?);
    tokio::spawn(cancel_on_signal(stop.clone()));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await
        .context("serving HTTP");
    // HTTP may also end on its own (an error); the rest stops with it.
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped");
    served
}

/// Cancels `stop` at SIGINT (Ctrl-C) or SIGTERM (what `kill`, systemd and container
/// runtimes send to stop a service).
async fn cancel_on_signal(stop: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
    }
    stop.cancel();
}
