//! What each kind of job does with its arguments. Work with a transaction of its own
//! marks the job succeeded inside it (`*_as_job`), so a retry after a crash never doubles
//! it; work that is idempotent anyway (conversion refresh, partitions) is marked by the
//! worker afterwards.
//!
//! Each kind's arguments are one type, defined beside the work it asks for and read with
//! [`read_args`] (unknown fields refused): `intake::import::ImportJob`,
//! `dialing::files::OutcomeImportJob`, `delivery::export::ExportJob`,
//! `pool::allocate::AllocationJob`, `insight::conversion::RefreshJob`,
//! `platform::job::PartitionJob`, `delivery::sftp::remote::{PullJob, PushJob}` and
//! `platform::job::RetentionJob`. `docs/jobs.md` lists their fields. Any kind may carry
//! `actor`: who queued it, whose name its changes are audited under (schedules may not
//! set it).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use dialpool_engine::TenantId;
use dialpool_engine::delivery::export::ExportJob;
use dialpool_engine::delivery::sftp::remote::{PullJob, PushJob};
use dialpool_engine::dialing::files::OutcomeImportJob;
use dialpool_engine::insight::conversion::RefreshJob;
use dialpool_engine::intake::import::{Deliver, ImportJob};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::job::{Claim, JobArgs, JobKind, PartitionJob, RetentionJob, read_args};
use dialpool_engine::pool::allocate::AllocationJob;
use dialpool_engine::{Error, Result};
use dialpool_sftp::remote::Way;
use serde_json::{Value, json};

pub use dialpool_engine::platform::job::ACTOR;

/// What a running job last reported: `{"done", "total", "unit", "message"}`.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Value>>);

impl Progress {
    pub fn set(&self, value: Value) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }

    pub fn snapshot(&self) -> Value {
        let value = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if value.is_null() { json!({}) } else { value }
    }
}

pub struct JobContext {
    pub pool: deadpool_postgres::Pool,
    pub claim: Claim,
    pub data_dir: PathBuf,
    pub progress: Progress,
}

impl JobContext {
    fn tenant(&self) -> Result<TenantId> {
        self.claim.tenant.ok_or_else(|| {
            Error::invalid("tenant", format!("a {} job belongs to a tenant", self.claim.kind.name()))
        })
    }

    /// Whether this attempt is the job's last: its attempts are used up, or it failed in
    /// a way no retry mends (the worker then gives up at once).
    fn last_attempt(&self, error: Option<&Error>) -> bool {
        self.claim.attempts >= self.claim.max_attempts
            || error.is_some_and(dialpool_engine::platform::job::is_final)
    }

    /// Who queued the job, when a person did (`actor` in its arguments); else the job.
    /// For a file that arrived by SFTP (a partner's drop or a pull): the file and its
    /// results go where `deliver` says, once this attempt's outcome is known.
    async fn deliver<T: serde::Serialize>(
        &self,
        deliver: Option<&Deliver>,
        path: &Path,
        name: &str,
        summary: &Result<T>,
        rejects_file: Option<String>,
    ) {
        let Some(deliver) = deliver else { return };
        let report = summary.as_ref().map(|s| (serde_json::to_value(s).unwrap_or_default(), rejects_file));
        let last_attempt = self.last_attempt(summary.as_ref().err());
        deliver_upload(deliver, path, name, report, last_attempt, self.claim.id).await;
    }

    fn actor(&self) -> Actor {
        dialpool_engine::platform::job::actor_of(&self.claim)
    }

    fn args<A: JobArgs>(&self) -> Result<A> {
        read_args(&self.claim)
    }

    /// A path from the arguments: as given when absolute, else under the data directory,
    /// which it may not leave.
    fn path(&self, field: &'static str, given: &Path) -> Result<PathBuf> {
        let path = Path::new(given);
        if path.is_absolute() {
            return Ok(path.to_path_buf());
        }
        if path.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(Error::invalid(field, format!("'{}' leaves the data directory", given.display())));
        }
        Ok(self.data_dir.join(path))
    }
}

/// Runs the job's work; its result is stored on the job. The kind picks the type its
/// arguments are read as, and the work.
pub async fn run(context: JobContext) -> Result<Value> {
    let c = &context;
    match c.claim.kind {
        JobKind::Import => import(c, c.args()?).await,
        JobKind::OutcomeImport => outcome_import(c, c.args()?).await,
        JobKind::Export => export(c, c.args()?).await,
        JobKind::Allocation => allocation(c, c.args()?).await,
        JobKind::ConversionRefresh => conversion_refresh(c, c.args()?).await,
        JobKind::PartitionMaintenance => partition_maintenance(c, c.args()?).await,
        JobKind::SftpPull => sftp_transfer(c, c.args::<PullJob>()?.remote_id, Way::Pull).await,
        JobKind::SftpPush => sftp_transfer(c, c.args::<PushJob>()?.remote_id, Way::Push).await,
        JobKind::Retention => retention(c, c.args()?).await,
    }
}

async fn import(context: &JobContext, args: ImportJob) -> Result<Value> {
    use dialpool_engine::intake::import::{self, ImportProgress};
    let path = context.path("path", &args.path)?;
    let rejects = args.rejects_path.as_deref().map(|p| context.path("rejects_path", p)).transpose()?;
    let mut request = args.request(context.tenant()?, path, rejects, context.actor());
    request.secret = Some(dialpool_engine::platform::secret::SecretKey::load(&context.data_dir)?);
    let progress = ImportProgress::default();
    let reporter = {
        let (progress, shown) = (progress.clone(), context.progress.clone());
        tokio::spawn(async move {
            loop {
                let (rows_read, rows_merged) = (
                    progress.rows_read.load(Ordering::Relaxed),
                    progress.rows_merged.load(Ordering::Relaxed),
                );
                shown.set(json!({
                    "done": progress.read.bytes_read.load(Ordering::Relaxed),
                    "total": progress.read.bytes_total.load(Ordering::Relaxed),
                    "unit": "bytes",
                    "rows_read": rows_read,
                    "rows_merged": rows_merged,
                    "message": format!("{rows_read} rows read, {rows_merged} stored"),
                }));
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        })
    };
    let path = request.path.clone();
    let name = request.display_name.clone().unwrap_or_else(|| file_name(&path));
    let summary = import::import_file_as_job(&context.pool, request, progress, &context.claim).await;
    reporter.abort();
    if args.remove_file && (summary.is_ok() || context.last_attempt(summary.as_ref().err())) {
        let _ = tokio::fs::remove_file(&path).await;
    }
    let rejects = summary.as_ref().ok().and_then(|s| s.rejects_file.clone());
    context.deliver(args.deliver.as_ref(), &path, &name, &summary, rejects).await;
    Ok(serde_json::to_value(summary?).unwrap_or_default())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// After a partner's upload is imported: the file to `processed/`, the summary (and the
/// rejects) to `outbox/`. After its last failed attempt: the file to `errors/` and the
/// error to `outbox/`. An earlier failure leaves the file for the retry. Result names are
/// cut to fit the file system whatever the file was called. The name the partner sees
/// in `inbox/` (the same file under another name, see the SFTP server) goes too, once it
/// has settled. Trouble here is logged, not failed: the import itself is done.
async fn deliver_upload(
    deliver: &Deliver,
    path: &Path,
    name: &str,
    summary: std::result::Result<(Value, Option<String>), &Error>,
    last_attempt: bool,
    job_id: i64,
) {
    use dialpool_engine::delivery::sftp::account::fit_name;
    // The job's id keeps two files of one name, done in the same second, apart.
    let stamp = format!("{}-{job_id}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    let moved = match summary {
        Ok((summary, rejects_file)) => {
            let report = serde_json::to_vec_pretty(&summary).unwrap_or_default();
            let mut result = tokio::fs::write(
                deliver.outbox.join(fit_name(name, &format!(".{stamp}.summary.json"))),
                report,
            )
            .await;
            if let (Ok(()), Some(rejects)) = (&result, &rejects_file) {
                let to = deliver.outbox.join(fit_name(name, &format!(".{stamp}.rejects.csv")));
                result = tokio::fs::rename(rejects, to).await;
            }
            result.and(Ok(Some(deliver.processed.join(fit_name(&format!("{stamp}-"), name)))))
        }
        Err(error) if last_attempt => tokio::fs::write(
            deliver.outbox.join(fit_name(name, &format!(".{stamp}.error.txt"))),
            format!("{name} was not imported: {error}\n"),
        )
        .await
        .map(|()| Some(deliver.errors.join(fit_name(&format!("{stamp}-"), name)))),
        Err(_) => Ok(None),
    };
    let seen_as = visible_names(path).await;
    let result = match moved {
        Ok(Some(to)) => tokio::fs::rename(path, to).await,
        other => other.map(|_| ()),
    };
    if let Err(error) = result {
        tracing::warn!(file = %path.display(), %error, "delivering an upload's results");
        return;
    }
    // On a task of its own: the job has ended (the import recorded it), and its worker
    // drops the job's work at the next lock renewal.
    if let Some((names, settled_at)) = seen_as {
        tokio::spawn(async move {
            if let Ok(wait) = settled_at.duration_since(std::time::SystemTime::now()) {
                tokio::time::sleep(wait).await;
            }
            for visible in names {
                let _ = tokio::fs::remove_file(visible).await;
            }
        });
    }
}

/// The other names of the file at `path` in its folder (hard links: the name a partner
/// uploaded, or renamed it to), and when the youngest of them has settled.
async fn visible_names(path: &Path) -> Option<(Vec<PathBuf>, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let own = tokio::fs::metadata(path).await.ok()?;
    if own.nlink() < 2 {
        return None;
    }
    let mut entries = tokio::fs::read_dir(path.parent()?).await.ok()?;
    let (mut names, mut latest) = (Vec::new(), std::time::SystemTime::UNIX_EPOCH);
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Ok(meta) = entry.metadata().await else { continue };
        if meta.ino() == own.ino() && meta.dev() == own.dev() && entry.path() != path {
            latest = latest
                .max(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(meta.ctime() as u64));
            names.push(entry.path());
        }
    }
    Some((names, latest + dialpool_engine::delivery::sftp::account::SETTLE))
}

async fn outcome_import(context: &JobContext, args: OutcomeImportJob) -> Result<Value> {
    use dialpool_engine::dialing::files::{self, OutcomeFileRequest};
    let request = OutcomeFileRequest {
        tenant: context.tenant()?,
        scope: dialpool_engine::platform::access::Scope::All,
        path: context.path("path", &args.path)?,
        display_name: args.file_name,
        format: args.options.format,
        time_zone: args.options.time_zone,
        region: args.options.region,
        project_id: args.options.project_id,
        actor: context.actor(),
    };
    context.progress.set(json!({"message": "applying the file"}));
    let (path, name) =
        (request.path.clone(), request.display_name.clone().unwrap_or_else(|| file_name(&request.path)));
    let summary = files::import_as_job(&context.pool, request, &context.claim).await;
    context.deliver(args.deliver.as_ref(), &path, &name, &summary, None).await;
    Ok(serde_json::to_value(summary?).unwrap_or_default())
}

async fn export(context: &JobContext, args: ExportJob) -> Result<Value> {
    use dialpool_engine::delivery::export::{self, ExportRequest};
    // A partner's or a remote's outbox must be the tenant's; the name may not leave it.
    let bare_name = || {
        let name = Path::new(&args.out);
        if name.components().count() != 1
            || !matches!(name.components().next(), Some(std::path::Component::Normal(_)))
        {
            return Err(Error::invalid(
                "out",
                "with sftp_account_id or sftp_remote_id, a file name (no folders)",
            ));
        }
        Ok(name)
    };
    let out = match (args.sftp_account_id, args.sftp_remote_id) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "sftp_remote_id",
                "an export goes to a partner's outbox or a remote, not both",
            ));
        }
        (Some(account), None) => {
            let client = context.pool.get().await?;
            dialpool_engine::delivery::sftp::account::get(&**client, context.tenant()?, account).await?;
            dialpool_engine::delivery::sftp::account::root(&context.data_dir, account)
                .join("outbox")
                .join(bare_name()?)
        }
        (None, Some(remote)) => {
            use dialpool_engine::delivery::sftp::remote::{self, Direction};
            let client = context.pool.get().await?;
            let found = remote::get(&**client, context.tenant()?, remote).await?;
            if found.direction != Direction::PushExports {
                return Err(Error::invalid(
                    "sftp_remote_id",
                    format!("remote {remote} does not push exports"),
                ));
            }
            remote::local_root(&context.data_dir, remote).join("outbox").join(bare_name()?)
        }
        (None, None) => context.path("out", Path::new(&args.out))?,
    };
    if let Some(dir) = out.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let kept = args.export_id.is_some();
    let request = ExportRequest {
        tenant: context.tenant()?,
        project_id: args.project_id,
        filter: args.filter,
        options: args.options,
        out,
        stored_path: kept.then(|| args.out.clone()),
        expires_at: args.keep_until,
        actor: context.actor(),
    };
    let export_id = match args.export_id {
        Some(id) => {
            // Only the tenant's own export of this project.
            let client = context.pool.get().await?;
            let recorded = export::get(&**client, request.tenant, id).await?;
            if recorded.project_id != request.project_id {
                return Err(Error::invalid(
                    "export_id",
                    format!("export {id} is not of project {}", request.project_id),
                ));
            }
            id
        }
        None => export::start(&context.pool, &request).await?,
    };
    context.progress.set(json!({"message": format!("export {export_id}")}));
    let summary = export::run_as_job(&context.pool, export_id, &request, &context.claim).await?;
    if let Some(remote) = args.sftp_remote_id {
        // The export is committed; the push is its own job, retried on its own.
        let client = context.pool.get().await?;
        dialpool_engine::delivery::sftp::remote::enqueue_push(&**client, context.tenant()?, remote).await?;
    }
    Ok(serde_json::to_value(summary).unwrap_or_default())
}

async fn allocation(context: &JobContext, args: AllocationJob) -> Result<Value> {
    let request = dialpool_engine::pool::allocate::Request {
        projects: args.project_id.map(|id| vec![id]),
        ..Default::default()
    };
    let mut client = context.pool.get().await?;
    let report = dialpool_engine::pool::allocate::run_as_job(
        &mut **client,
        context.tenant()?,
        &context.actor(),
        &request,
        &context.claim,
    )
    .await?;
    Ok(
        json!({"allocated": report.allocated, "projects": report.projects.len(), "elapsed_ms": report.elapsed_ms}),
    )
}

async fn conversion_refresh(context: &JobContext, args: RefreshJob) -> Result<Value> {
    let summary = dialpool_engine::insight::conversion::refresh(&context.pool, args.full).await?;
    Ok(serde_json::to_value(summary).unwrap_or_default())
}

async fn partition_maintenance(context: &JobContext, args: PartitionJob) -> Result<Value> {
    let client = context.pool.get().await?;
    let created =
        dialpool_engine::platform::job::ensure_partitions(&**client, args.months_ahead.unwrap_or(3)).await?;
    Ok(json!({"created": created}))
}

async fn sftp_transfer(context: &JobContext, remote_id: i64, way: Way) -> Result<Value> {
    let key = dialpool_engine::platform::secret::SecretKey::load(&context.data_dir)?;
    let (tenant, job) = (context.tenant()?, Some(context.claim.id));
    context.progress.set(json!({"message": format!("transferring with remote {remote_id}")}));
    let report =
        dialpool_sftp::remote::transfer(&context.pool, &context.data_dir, &key, tenant, remote_id, job, way)
            .await?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}

/// Keeps what is worth keeping: finished files (partners' processed, errors and outbox;
/// remotes' processed, errors, results and sent) older than `files_days` are deleted,
/// finished jobs and transfer log rows older than theirs, and export files past their
/// keep time, and monthly partitions past every tenant's retention window. What dedupes
/// imports (upload and pulled-file fingerprints) is kept.
async fn retention(context: &JobContext, args: RetentionJob) -> Result<Value> {
    let files_days = args.files_days.unwrap_or(30).max(1);
    let cutoff =
        std::time::SystemTime::now() - std::time::Duration::from_secs(u64::from(files_days) * 86_400);
    let data_dir = context.data_dir.clone();
    let files_deleted = tokio::task::spawn_blocking(move || {
        let mut deleted = 0u64;
        for (tree, folders) in [
            ("sftp", &["processed", "errors", "outbox"][..]),
            ("remotes", &["processed", "errors", "results", "sent"][..]),
        ] {
            let Ok(roots) = std::fs::read_dir(data_dir.join(tree)) else { continue };
            for root in roots.flatten() {
                for folder in folders {
                    let Ok(files) = std::fs::read_dir(root.path().join(folder)) else { continue };
                    for file in files.flatten() {
                        let old = file
                            .metadata()
                            .ok()
                            .filter(|m| m.is_file())
                            .and_then(|m| m.modified().ok())
                            .is_some_and(|modified| modified < cutoff);
                        if old && std::fs::remove_file(file.path()).is_ok() {
                            deleted += 1;
                        }
                    }
                }
            }
        }
        deleted
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))?;
    let client = context.pool.get().await?;
    let jobs_deleted =
        dialpool_engine::platform::job::delete_finished(&**client, args.jobs_days.unwrap_or(90)).await?;
    // Exports: those whose process died are marked failed (their partial files go), and
    // files past their keep time are deleted.
    let exports_failed = dialpool_engine::delivery::export::fail_abandoned(&**client).await?;
    let exports_expired =
        dialpool_engine::delivery::export::delete_expired(&**client, &context.data_dir).await?;
    let transfers_deleted = dialpool_engine::delivery::sftp::remote::delete_finished_transfers(
        &**client,
        args.transfers_days.unwrap_or(90),
    )
    .await?;
    let undo_deleted = dialpool_engine::pool::number::delete_expired_undo(&**client).await?;
    drop(client);
    // Tenants' retention windows: whole monthly partitions of events, the audit log and
    // call outcomes go, and export files past a tenant's keep time.
    // Dropping a partition needs the tables' owner: a server running as the application
    // role says so in the job's result (and the log) instead of failing the clean-up above.
    let run =
        dialpool_engine::compliance::retention::run(&context.pool, &context.data_dir, false, None).await;
    let partitions = match run {
        Ok(run) => json!({"dropped": run.dropped, "exports_shortened": run.exports_shortened}),
        Err(error) => {
            tracing::warn!(%error, "retention could not drop partitions; run `dialpool retention run` as the owner");
            json!({"error": error.to_string()})
        }
    };
    Ok(
        json!({"files_deleted": files_deleted, "jobs_deleted": jobs_deleted, "transfers_deleted": transfers_deleted,
               "exports_failed": exports_failed, "exports_expired": exports_expired, "undo_deleted": undo_deleted,
               "partitions": partitions}),
    )
}
