//! A worker: claims due jobs (up to its concurrency), runs each while renewing its lock
//! and recording its progress, and records how it ended. It wakes on the queue's
//! `NOTIFY` and polls as well, so a lost notification only delays a job by the poll
//! interval.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dialpool_engine::platform::job::{self, Claim, JobKind, Renewal};
use dialpool_engine::{Error, Result};
use futures_util::StreamExt;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::handlers::{self, JobContext, Progress};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique among running workers: it is the lock's owner.
    pub name: String,
    pub kinds: Vec<JobKind>,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim holds without renewal; a dead worker's jobs wait this long.
    pub lock_for: Duration,
    /// How often to look for due jobs when no notification comes.
    pub poll: Duration,
    /// The first retry's delay; each further one doubles it.
    pub backoff_base: Duration,
    /// Where files named by jobs live and exports are written.
    pub data_dir: PathBuf,
    /// A connection to `LISTEN` on; polling alone without it.
    pub listen: Option<tokio_postgres::Config>,
}

impl WorkerConfig {
    pub fn new(data_dir: PathBuf) -> WorkerConfig {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        WorkerConfig {
            name: format!("{}:{}:{:08x}", host.trim(), std::process::id(), rand_suffix()),
            kinds: JobKind::ALL.to_vec(),
            concurrency: 2,
            lock_for: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            backoff_base: Duration::from_secs(10),
            data_dir,
            listen: None,
        }
    }
}

/// Enough to tell two workers of one process apart.
fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos());
    nanos.unwrap_or_default() ^ (std::process::id().rotate_left(16))
}

pub struct Worker {
    pool: deadpool_postgres::Pool,
    config: Arc<WorkerConfig>,
}

impl Worker {
    pub fn new(pool: deadpool_postgres::Pool, config: WorkerConfig) -> Worker {
        Worker { pool, config: Arc::new(config) }
    }

    /// Runs until `shutdown` resolves. Jobs still running then are stopped (their
    /// transactions roll back) and handed back to the queue at once.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let wake = Arc::new(Notify::new());
        let listener = self.config.listen.clone().map(|config| tokio::spawn(listen(config, wake.clone())));
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut running = JoinSet::new();
        tracing::info!(worker = %self.config.name, "job worker started");
        tokio::pin!(shutdown);
        loop {
            while running.try_join_next().is_some() {}
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            match self.claim().await {
                Ok(Some(claim)) => {
                    let (pool, config) = (self.pool.clone(), self.config.clone());
                    running.spawn(async move {
                        execute(pool, config, claim).await;
                        drop(permit);
                    });
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "claiming a job"),
            }
            drop(permit);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(self.config.poll) => {}
                () = &mut shutdown => break,
            }
        }
        running.abort_all();
        while running.join_next().await.is_some() {}
        if let Some(listener) = listener {
            listener.abort();
        }
        match self.pool.get().await {
            Ok(client) => match job::release_all(&**client, &self.config.name).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "handed running jobs back to the queue"),
                Err(error) => tracing::warn!(%error, "handing running jobs back"),
            },
            Err(error) => tracing::warn!(%error, "handing running jobs back"),
        }
        tracing::info!(worker = %self.config.name, "job worker stopped");
    }

    async fn claim(&self) -> Result<Option<Claim>> {
        let client = self.pool.get().await?;
        job::claim(&**client, &self.config.name, &self.config.kinds, self.config.lock_for).await
    }
}

/// Wakes the worker on each notification of the queue's channel; reconnects after a
/// few seconds when the connection drops.
async fn listen(config: tokio_postgres::Config, wake: Arc<Notify>) {
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                let listening = async {
                    client.batch_execute(&format!("LISTEN {}", job::CHANNEL)).await?;
                    Ok::<_, tokio_postgres::Error>(())
                };
                // The LISTEN is answered through the connection being polled below.
                let (listened, _) = tokio::join!(listening, async {
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(_)) => wake.notify_one(),
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                if let Err(error) = listened {
                    tracing::warn!(%error, "listening for jobs");
                }
            }
            Err(error) => tracing::warn!(%error, "connecting to listen for jobs"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Runs one claimed job to its end, renewing the lock a few times per lock period.
async fn execute(pool: deadpool_postgres::Pool, config: Arc<WorkerConfig>, claim: Claim) {
    let progress = Progress::default();
    let context = JobContext {
        pool: pool.clone(),
        claim: claim.clone(),
        data_dir: config.data_dir.clone(),
        progress: progress.clone(),
    };
    tracing::info!(job = claim.id, kind = claim.kind.name(), attempt = claim.attempts, "job started");
    // Boxed, so it can be dropped (and its transaction rolled back) before the end is
    // recorded.
    let mut work = Box::pin(handlers::run(context));
    // At least every second: the renewal also publishes progress, which people watch.
    let mut renewals = tokio::time::interval((config.lock_for / 3).min(Duration::from_secs(1)));
    renewals.tick().await;
    let ended = loop {
        tokio::select! {
            result = &mut work => break Some(result),
            _ = renewals.tick() => {
                let renewed = match pool.get().await {
                    Ok(client) => job::renew(&**client, &claim, config.lock_for, &progress.snapshot()).await,
                    Err(error) => Err(error.into()),
                };
                match renewed {
                    Ok(Renewal::Continue) => {}
                    Ok(Renewal::Cancel) => {
                        tracing::info!(job = claim.id, "job cancelled");
                        break None;
                    }
                    Ok(Renewal::Lost) => {
                        tracing::warn!(job = claim.id, "another worker holds the job now; stopping");
                        return;
                    }
                    // The lock holds for a while yet; the next renewal tries again.
                    Err(error) => tracing::warn!(job = claim.id, %error, "renewing a job's lock"),
                }
            }
        }
    };
    // Dropping the work (on cancel) rolls its transaction back.
    drop(work);
    let recorded = match pool.get().await {
        Err(error) => Err(Error::from(error)),
        Ok(client) => match ended {
            None => job::mark_cancelled(&**client, &claim).await,
            Some(Ok(result)) => {
                tracing::info!(job = claim.id, "job succeeded");
                job::complete(&**client, &claim, &result).await
            }
            Some(Err(error)) => {
                let message = match error.kind() {
                    dialpool_engine::ErrorKind::Internal => {
                        tracing::error!(job = claim.id, %error, "job failed");
                        "an internal error; the server log has the details".to_owned()
                    }
                    _ => error.to_string(),
                };
                let failed = if job::is_final(&error) {
                    job::fail_for_good(&**client, &claim, &message).await
                } else {
                    job::fail(&**client, &claim, &message, config.backoff_base).await
                };
                failed.map(|state| {
                    tracing::warn!(job = claim.id, error = %message, state = state.name(), "job failed");
                })
            }
        },
    };
    if let Err(error) = recorded {
        tracing::warn!(job = claim.id, %error, "recording how a job ended; its lock will expire and it runs again");
    }
}
