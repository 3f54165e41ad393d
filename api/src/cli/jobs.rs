//! `dialpool jobs`: the queue from a terminal — list, run (enqueue, optionally wait),
//! cancel, retry — and `jobs work`, a worker process without the HTTP server.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use dialpool_engine::TenantId;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::job::{self, JobFilter, JobKind, JobRecord, JobScope, JobState, NewJob};
use dialpool_jobs::{Worker, WorkerConfig};

use super::common::print;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The tenant's jobs (and the installation's own), newest first.
    List(JobsListArgs),
    /// Enqueue a job now; with --wait, wait for it and exit non-zero unless it succeeds.
    Run(JobsRunArgs),
    /// Cancel a waiting job, or ask a running one to stop.
    Cancel(JobIdArgs),
    /// Queue a dead or cancelled job again.
    Retry(JobIdArgs),
    /// Run a worker in this process until interrupted (Ctrl-C hands its jobs back).
    Work(JobsWorkArgs),
}

#[derive(Debug, Args)]
pub struct JobsListArgs {
    /// queued, running, retrying, succeeded, dead or cancelled.
    #[arg(long)]
    pub state: Option<String>,
    /// import, export, allocation, conversion_refresh, outcome_import, partition_maintenance,
    /// sftp_pull, sftp_push, retention.
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JobsRunArgs {
    /// import, export, allocation, conversion_refresh, outcome_import, partition_maintenance,
    /// sftp_pull, sftp_push, retention.
    pub kind: String,
    /// The job's arguments as a JSON object (see docs/jobs.md for each kind's).
    #[arg(long, default_value = "{}")]
    pub args: String,
    /// Attempts before the job is dead.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: i32,
    /// Wait until the job has ended and print it.
    #[arg(long)]
    pub wait: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JobIdArgs {
    pub id: i64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JobsWorkArgs {
    /// Jobs run at once.
    #[arg(long, env = "DIALPOOL_JOBS_CONCURRENCY", default_value_t = 2)]
    pub concurrency: usize,
    /// Seconds a claimed job stays locked without renewal: how long a dead worker's job
    /// waits before another worker takes it.
    #[arg(long, env = "DIALPOOL_JOBS_LOCK_S", default_value_t = 30)]
    pub lock_s: u64,
    /// Where relative file paths in job arguments point.
    #[arg(long, env = "DIALPOOL_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

/// The CLI acts for the tenant and, like a platform administrator, sees the
/// installation's own jobs.
fn scope(tenant: TenantId) -> JobScope {
    JobScope { tenant, system: true }
}

fn line(job: &JobRecord) -> String {
    let error = job.errors.as_array().and_then(|e| e.last()).and_then(|e| e["error"].as_str()).unwrap_or("");
    format!(
        "{:>6}  {:<22} {:<10} attempt {}/{}  {}{}",
        job.id,
        job.kind.name(),
        job.state.name(),
        job.attempts,
        job.max_attempts,
        job.created_at.format("%Y-%m-%d %H:%M:%S"),
        if error.is_empty() { String::new() } else { format!("  last error: {error}") }
    )
}

pub async fn jobs(
    pool: &deadpool_postgres::Pool,
    config: &tokio_postgres::Config,
    tenant: TenantId,
    command: JobsCommand,
) -> anyhow::Result<()> {
    match command {
        JobsCommand::List(args) => {
            let filter = JobFilter {
                state: args.state.as_deref().map(JobState::parse).transpose()?,
                kind: args.kind.as_deref().map(JobKind::parse).transpose()?,
                before_id: None,
                limit: Some(args.limit),
            };
            let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let jobs = job::list(&**client, scope(tenant), &filter).await?;
            print(args.json, &jobs, || jobs.iter().map(line).collect::<Vec<_>>().join("\n"))
        }
        JobsCommand::Run(args) => {
            let kind = JobKind::parse(&args.kind)?;
            let arguments: serde_json::Value = serde_json::from_str(&args.args)
                .map_err(|e| dialpool_engine::Error::invalid("args", format!("not JSON: {e}")))?;
            if !arguments.is_object() {
                return Err(dialpool_engine::Error::invalid("args", "must be a JSON object").into());
            }
            // The installation's own kinds span tenants.
            let owner = match kind {
                JobKind::ConversionRefresh | JobKind::PartitionMaintenance | JobKind::Retention => None,
                _ => Some(tenant),
            };
            let mut new = NewJob::new(owner, kind, arguments);
            new.max_attempts = args.max_attempts;
            let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let id = job::enqueue(&**client, &new).await?.unwrap_or_default();
            if !args.wait {
                let queued = job::get(&**client, scope(tenant), id).await?;
                return print(args.json, &queued, || format!("queued job {id} ({})", kind.name()));
            }
            let ended = loop {
                let current = job::get(&**client, scope(tenant), id).await?;
                if matches!(current.state, JobState::Succeeded | JobState::Dead | JobState::Cancelled) {
                    break current;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            };
            print(args.json, &ended, || line(&ended))?;
            if ended.state != JobState::Succeeded {
                anyhow::bail!("job {id} ended {}", ended.state.name());
            }
            Ok(())
        }
        JobsCommand::Cancel(args) => {
            let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let job = job::cancel(&mut **client, scope(tenant), &Actor::system("cli"), args.id).await?;
            print(args.json, &job, || line(&job))
        }
        JobsCommand::Retry(args) => {
            let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let job = job::retry(&mut **client, scope(tenant), &Actor::system("cli"), args.id).await?;
            print(args.json, &job, || line(&job))
        }
        JobsCommand::Work(args) => {
            let mut worker = WorkerConfig::new(args.data_dir);
            worker.concurrency = args.concurrency;
            worker.lock_for = Duration::from_secs(args.lock_s.max(3));
            worker.listen = Some(config.clone());
            eprintln!("dialpool job worker {} is running (Ctrl-C stops it)", worker.name);
            Worker::new(pool.clone(), worker)
                .run(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await;
            Ok(())
        }
    }
}
