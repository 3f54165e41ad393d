//! The durable job queue's storage: enqueue, claim, renew, finish, fail, cancel, retry.
//! The worker loop and the handlers live in the `jobs` crate; this module is the table's
//! one owner, so any crate that starts long work enqueues it in its own transaction.
//!
//! A claimed job carries its worker's name and a lock that the worker renews while it
//! works. A worker that dies stops renewing; once the lock expires another worker claims
//! the job again. Work with a transaction of its own marks the job succeeded inside that
//! transaction ([`complete_in`]), which checks the lock is still this worker's: the retry
//! of a job whose first run committed finds it succeeded, and a first run that lost its
//! lock rolls back instead of committing beside the retry.

mod maintenance;
mod typed;

pub use maintenance::{PartitionJob, RetentionJob, delete_finished, ensure_partitions};
pub use typed::{ACTOR, JobArgs, actor_of, read_args};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};

/// The channel workers `LISTEN` on; enqueueing notifies it (delivered at commit).
pub const CHANNEL: &str = "dialpool_jobs";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A provider's file of numbers (`import::import_file`).
    Import,
    /// A project's numbers to a file (`export::run`).
    Export,
    /// The daily allocation of one project, or of all.
    Allocation,
    /// The conversion aggregates, incrementally.
    ConversionRefresh,
    /// A dialer's file of call outcomes.
    OutcomeImport,
    /// Monthly event partitions ahead of time.
    PartitionMaintenance,
    /// New files from a remote SFTP host, each becoming an import job.
    SftpPull,
    /// Exports waiting for a remote SFTP host, sent.
    SftpPush,
    /// Old files and finished records deleted.
    Retention,
}

impl JobKind {
    pub const ALL: [JobKind; 9] = [
        JobKind::Import,
        JobKind::Export,
        JobKind::Allocation,
        JobKind::ConversionRefresh,
        JobKind::OutcomeImport,
        JobKind::PartitionMaintenance,
        JobKind::SftpPull,
        JobKind::SftpPush,
        JobKind::Retention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Export => "export",
            JobKind::Allocation => "allocation",
            JobKind::ConversionRefresh => "conversion_refresh",
            JobKind::OutcomeImport => "outcome_import",
            JobKind::PartitionMaintenance => "partition_maintenance",
            JobKind::SftpPull => "sftp_pull",
            JobKind::SftpPush => "sftp_push",
            JobKind::Retention => "retention",
        }
    }

    /// Work that spans tenants; only the installation's own schedules and platform
    /// administrators start it.
    pub fn is_installation_wide(self) -> bool {
        matches!(self, JobKind::ConversionRefresh | JobKind::PartitionMaintenance | JobKind::Retention)
    }

    pub fn parse(name: &str) -> Result<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names: Vec<&str> = JobKind::ALL.iter().map(|k| k.name()).collect();
            Error::invalid("kind", format!("'{name}' is not one of {}", names.join(", ")))
        })
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// None for the installation's own work, which spans tenants.
    pub tenant: Option<TenantId>,
    pub kind: JobKind,
    pub args: serde_json::Value,
    /// Not before this instant (now when absent).
    pub run_at: Option<DateTime<Utc>>,
    /// At most one job ever holds a key; enqueueing a second is a no-op.
    pub unique_key: Option<String>,
    pub max_attempts: i32,
    pub priority: i16,
    pub schedule_id: Option<i64>,
    pub created_by: Option<i64>,
}

impl NewJob {
    pub fn new(tenant: Option<TenantId>, kind: JobKind, args: serde_json::Value) -> NewJob {
        NewJob {
            tenant,
            kind,
            args,
            run_at: None,
            unique_key: None,
            max_attempts: 5,
            priority: 0,
            schedule_id: None,
            created_by: None,
        }
    }
}

/// Enqueues `job`; returns its id, or None when its unique key is taken. Call it in the
/// transaction of the change that asks for the job: workers hear of it at commit.
pub async fn enqueue(client: &impl GenericClient, job: &NewJob) -> Result<Option<i64>> {
    let id: Option<i64> = client
        .query_opt(
            "INSERT INTO jobs (tenant_id, kind, args, run_at, unique_key, max_attempts, priority, schedule_id, created_by)
             VALUES ($1, $2, $3, COALESCE($4, now()), $5, $6, $7, $8, $9)
             ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
             RETURNING id",
            &[
                &job.tenant.map(|t| t.0),
                &job.kind.name(),
                &job.args,
                &job.run_at,
                &job.unique_key,
                &job.max_attempts.max(1),
                &job.priority,
                &job.schedule_id,
                &job.created_by,
            ],
        )
        .await?
        .map(|row| row.get(0));
    if id.is_some() {
        client.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &job.kind.name()]).await?;
    }
    Ok(id)
}

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    pub tenant: Option<TenantId>,
    pub kind: JobKind,
    pub args: serde_json::Value,
    /// This one included.
    pub attempts: i32,
    pub max_attempts: i32,
    pub worker: String,
}

/// Claims the next due job of `kinds` for `worker`, locked for `lock_for`: a queued or
/// retrying job whose time has come, or a running one whose worker stopped renewing its
/// lock. A job claimed more often than it may be attempted is marked dead instead.
pub async fn claim(
    client: &impl GenericClient,
    worker: &str,
    kinds: &[JobKind],
    lock_for: std::time::Duration,
) -> Result<Option<Claim>> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    loop {
        let row = client
            .query_opt(include_str!("job.claim.sql"), &[&worker, &kinds, &lock_for.as_secs_f64()])
            .await?;
        let Some(row) = row else { return Ok(None) };
        let claim = Claim {
            id: row.get(0),
            tenant: row.get::<_, Option<i64>>(1).map(TenantId),
            kind: JobKind::parse(row.get(2))?,
            args: row.get(3),
            attempts: row.get(4),
            max_attempts: row.get(5),
            worker: worker.to_owned(),
        };
        if claim.attempts <= claim.max_attempts {
            return Ok(Some(claim));
        }
        // Only a worker that died mid-job gets here: every failure it reports counts
        // against the attempts before the job is queued again.
        finish_failed(
            client,
            &claim,
            "the worker running it stopped before it finished, on every attempt",
            None,
        )
        .await?;
    }
}

/// What a running job should do after renewing its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    Continue,
    /// A user asked to cancel it.
    Cancel,
    /// Another worker holds it now (this one was presumed dead); stop without recording.
    Lost,
}

/// Extends the lock and records progress; says whether to go on.
pub async fn renew(
    client: &impl GenericClient,
    claim: &Claim,
    lock_for: std::time::Duration,
    progress: &serde_json::Value,
) -> Result<Renewal> {
    let row = client
        .query_opt(
            "UPDATE jobs SET locked_until = now() + make_interval(secs => $3), progress = $4
              WHERE id = $1 AND locked_by = $2 AND state = 'running'
              RETURNING cancel_requested",
            &[&claim.id, &claim.worker, &lock_for.as_secs_f64(), progress],
        )
        .await?;
    Ok(match row {
        None => Renewal::Lost,
        Some(row) if row.get::<_, bool>(0) => Renewal::Cancel,
        Some(_) => Renewal::Continue,
    })
}

/// Marks the job succeeded inside the transaction of its work, so the two commit
/// together; fails (and the caller's transaction must roll back) when the lock is no
/// longer this worker's.
pub async fn complete_in(
    client: &impl GenericClient,
    claim: &Claim,
    result: &serde_json::Value,
) -> Result<()> {
    if mark_succeeded(client, claim, result).await? == 0 {
        return Err(Error::Refused(format!(
            "job {} is no longer held by {}: another worker took it over or it was cancelled",
            claim.id, claim.worker
        )));
    }
    Ok(())
}

/// Marks the job succeeded unless its work already did (in its own transaction).
pub async fn complete(client: &impl GenericClient, claim: &Claim, result: &serde_json::Value) -> Result<()> {
    mark_succeeded(client, claim, result).await?;
    Ok(())
}

/// Marks the job succeeded if this worker still holds it; returns the rows changed.
async fn mark_succeeded(
    client: &impl GenericClient,
    claim: &Claim,
    result: &serde_json::Value,
) -> Result<u64> {
    Ok(client
        .execute(
            // The progress a renewal recorded trails the end: a finished job's bar is full
            // and its running message ("300000 rows read, 100000 stored") goes; the result
            // says what it did.
            "UPDATE jobs SET state = 'succeeded', result = $3, finished_at = now(), locked_by = NULL,
                    locked_until = NULL,
                    progress = CASE WHEN progress ? 'total' THEN jsonb_set(progress, '{done}', progress->'total')
                                    ELSE progress END - 'message'
              WHERE id = $1 AND locked_by = $2 AND state = 'running'",
            &[&claim.id, &claim.worker, result],
        )
        .await?)
}

/// Records a failed attempt: the job is retried after `backoff` (exponential in its
/// attempts), or is dead once it has had them all. Returns the state it is left in.
pub async fn fail(
    client: &impl GenericClient,
    claim: &Claim,
    error: &str,
    backoff_base: std::time::Duration,
) -> Result<JobState> {
    finish_failed(client, claim, error, Some(backoff_base)).await
}

/// Records a failure no retry can mend: the job is dead at once.
pub async fn fail_for_good(client: &impl GenericClient, claim: &Claim, error: &str) -> Result<JobState> {
    finish_failed(client, claim, error, None).await
}

/// Whether a job that failed so should not be tried again: its input is wrong (a bad file,
/// an invalid argument) and would be just as wrong the next time.
pub fn is_final(error: &Error) -> bool {
    error.kind() == crate::platform::error::ErrorKind::InvalidInput
}

async fn finish_failed(
    client: &impl GenericClient,
    claim: &Claim,
    error: &str,
    backoff_base: Option<std::time::Duration>,
) -> Result<JobState> {
    let retry = backoff_base.filter(|_| claim.attempts < claim.max_attempts);
    // 1, 2, 4, 8 … times the base, at most an hour, with up to a quarter more at random
    // so jobs that failed together do not all come back together.
    let delay_s = retry.map(|base| {
        let exponential = base.as_secs_f64() * 2f64.powi(claim.attempts.saturating_sub(1).min(20));
        exponential.min(3600.0)
    });
    let row = client
        .query_opt(
            "UPDATE jobs
                SET state = CASE WHEN $4::float8 IS NULL THEN 'dead' ELSE 'retrying' END,
                    run_at = CASE WHEN $4::float8 IS NULL THEN run_at
                                  ELSE now() + make_interval(secs => $4 * (1 + random() / 4)) END,
                    finished_at = CASE WHEN $4::float8 IS NULL THEN now() END,
                    locked_by = NULL, locked_until = NULL,
                    errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', now(), 'error', $3::text))
              WHERE id = $1 AND locked_by = $2 AND state = 'running'
              RETURNING state",
            &[&claim.id, &claim.worker, &error, &delay_s],
        )
        .await?;
    match row {
        Some(row) => {
            let state = JobState::parse(row.get(0))?;
            if state == JobState::Dead {
                given_up(client, claim.id, error).await?;
            }
            Ok(state)
        }
        // Taken over or cancelled meanwhile: whoever holds it records its end.
        None => Ok(JobState::Running),
    }
}

/// Hands a stopping worker's running jobs back to the queue at once, their attempt not
/// counted, instead of leaving them until their locks expire.
pub async fn release_all(client: &impl GenericClient, worker: &str) -> Result<u64> {
    Ok(client
        .execute(
            "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(),
                    locked_by = NULL, locked_until = NULL
              WHERE locked_by = $1 AND state = 'running'",
            &[&worker],
        )
        .await?)
}

/// Records that the worker stopped the job because a user cancelled it.
pub async fn mark_cancelled(client: &impl GenericClient, claim: &Claim) -> Result<()> {
    let cancelled = client
        .execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = now(), locked_by = NULL, locked_until = NULL
              WHERE id = $1 AND locked_by = $2 AND state = 'running'",
            &[&claim.id, &claim.worker],
        )
        .await?;
    if cancelled == 1 {
        given_up(client, claim.id, "cancelled").await?;
    }
    Ok(())
}

/// A job that will not run again (dead or cancelled) ends the record it was started for:
/// an export started over HTTP is marked failed, so no one waits on it for ever.
async fn given_up(client: &impl GenericClient, id: i64, reason: &str) -> Result<()> {
    client
        .execute(
            "UPDATE exports e SET status = 'failed', error = $2, rows = 0, bytes = 0, finished_at = now()
               FROM jobs j
              WHERE j.id = $1 AND j.kind = 'export' AND e.tenant_id = j.tenant_id
                AND e.id = (j.args->>'export_id')::bigint AND e.status = 'running'",
            &[&id, &reason],
        )
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Retrying,
    Succeeded,
    Dead,
    Cancelled,
}

impl JobState {
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Result<JobState> {
        Ok(match name {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "retrying" => JobState::Retrying,
            "succeeded" => JobState::Succeeded,
            "dead" => JobState::Dead,
            "cancelled" => JobState::Cancelled,
            other => return Err(Error::invalid("state", format!("'{other}' is not a job state"))),
        })
    }
}

/// A job as the jobs page and `dialpool jobs list` show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub id: i64,
    /// None for the installation's own work.
    pub tenant_id: Option<i64>,
    pub kind: JobKind,
    pub args: serde_json::Value,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    /// {"done", "total", "unit", "message"} as the worker last reported.
    pub progress: serde_json::Value,
    pub result: Option<serde_json::Value>,
    /// One per failed attempt: {"attempt", "at", "error"}.
    pub errors: serde_json::Value,
    pub cancel_requested: bool,
    pub locked_by: Option<String>,
    pub schedule_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RECORD_COLUMNS: &str =
    "id, tenant_id, kind, args, state, attempts, max_attempts, run_at, progress, result, errors,
    cancel_requested, locked_by, schedule_id, created_by, created_at, started_at, finished_at";

fn record(row: &tokio_postgres::Row) -> Result<JobRecord> {
    Ok(JobRecord {
        id: row.get("id"),
        tenant_id: row.get("tenant_id"),
        kind: JobKind::parse(row.get("kind"))?,
        args: row.get("args"),
        state: JobState::parse(row.get("state"))?,
        attempts: row.get("attempts"),
        max_attempts: row.get("max_attempts"),
        run_at: row.get("run_at"),
        progress: row.get("progress"),
        result: row.get("result"),
        errors: row.get("errors"),
        cancel_requested: row.get("cancel_requested"),
        locked_by: row.get("locked_by"),
        schedule_id: row.get("schedule_id"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
    })
}

/// Whose jobs a caller sees: its tenant's, and the installation's own when it is a
/// platform administrator.
#[derive(Debug, Clone, Copy)]
pub struct JobScope {
    pub tenant: TenantId,
    pub system: bool,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<JobKind>,
    /// Jobs with a smaller id than this (the next page).
    pub before_id: Option<i64>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// The tenant's jobs, newest first.
pub async fn list(
    client: &impl GenericClient,
    scope: JobScope,
    filter: &JobFilter,
) -> Result<Vec<JobRecord>> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM jobs
                  WHERE (tenant_id = $1 OR ($6 AND tenant_id IS NULL))
                    AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR kind = $3)
                    AND ($4::bigint IS NULL OR id < $4)
                  ORDER BY id DESC LIMIT $5"
            ),
            &[
                &scope.tenant.0,
                &filter.state.map(JobState::name),
                &filter.kind.map(JobKind::name),
                &filter.before_id,
                &filter.limit.unwrap_or(50).clamp(1, 500),
                &scope.system,
            ],
        )
        .await?;
    rows.iter().map(record).collect()
}

pub async fn get(client: &impl GenericClient, scope: JobScope, id: i64) -> Result<JobRecord> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM jobs WHERE id = $2 AND (tenant_id = $1 OR ($3 AND tenant_id IS NULL))"
            ),
            &[&scope.tenant.0, &id, &scope.system],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "job", key: id.to_string() })?;
    record(&row)
}

/// Cancels a job: at once when it waits, at the worker's next lock renewal (a few
/// seconds) when it runs. A finished job cannot be cancelled.
pub async fn cancel(
    client: &mut impl GenericClient,
    scope: JobScope,
    actor: &Actor,
    id: i64,
) -> Result<JobRecord> {
    let tx = client.transaction().await?;
    let before = get(&tx, scope, id).await?;
    let row = tx
        .query_opt(
            "UPDATE jobs
                SET state = CASE WHEN state IN ('queued', 'retrying') THEN 'cancelled' ELSE state END,
                    finished_at = CASE WHEN state IN ('queued', 'retrying') THEN now() ELSE finished_at END,
                    cancel_requested = (state = 'running')
              WHERE id = $1 AND state IN ('queued', 'retrying', 'running')
              RETURNING id",
            &[&id],
        )
        .await?;
    if row.is_none() {
        return Err(Error::Refused(format!(
            "job {id} has ended ({}); there is nothing to cancel",
            before.state.name()
        )));
    }
    let job = get(&tx, scope, id).await?;
    if job.state == JobState::Cancelled {
        given_up(&tx, id, "cancelled").await?;
    }
    audit::record(&tx, scope.tenant, actor, Change::updated("job.cancel", "job", id, &before, &job)).await?;
    tx.commit().await?;
    Ok(job)
}

/// Queues a dead or cancelled job again, with its attempts reset; its errors are kept.
pub async fn retry(
    client: &mut impl GenericClient,
    scope: JobScope,
    actor: &Actor,
    id: i64,
) -> Result<JobRecord> {
    let tx = client.transaction().await?;
    let before = get(&tx, scope, id).await?;
    let row = tx
        .query_opt(
            "UPDATE jobs SET state = 'queued', run_at = now(), attempts = 0, finished_at = NULL,
                    cancel_requested = false
              WHERE id = $1 AND state IN ('dead', 'cancelled')
              RETURNING kind",
            &[&id],
        )
        .await?;
    let Some(row) = row else {
        return Err(Error::Refused(format!(
            "job {id} is {}; only a dead or cancelled job is retried",
            before.state.name()
        )));
    };
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &row.get::<_, String>(0)]).await?;
    let job = get(&tx, scope, id).await?;
    audit::record(&tx, scope.tenant, actor, Change::updated("job.retry", "job", id, &before, &job)).await?;
    tx.commit().await?;
    Ok(job)
}
