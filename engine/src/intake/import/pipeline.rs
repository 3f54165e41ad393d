//! An import's run: the file read on a thread of its own, its rows normalised into
//! batches, each batch merged as it comes, and the outcome recorded.

use self::batch::{Batch, GeoDirectory, ReaderContext};
use self::mapping::ColumnMapping;
use self::rejects::RejectsFile;
use super::*;
use crate::intake::phone::Region;
use crate::intake::provider::{self, Provider};
use crate::platform::TenantId;
use crate::platform::error::{Error, Location, Result};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_postgres::GenericClient;

/// Imports one file. All of it lands or none of it does; on failure a `failed` import
/// row records the error (when the provider was found) and nothing else is stored.
#[tracing::instrument(skip_all, err, fields(file = %request.path.display(), provider = %request.provider_code))]
pub async fn import_file(
    pool: &Pool,
    request: ImportRequest,
    progress: ImportProgress,
) -> Result<ImportSummary> {
    import_file_for(pool, request, progress, None).await
}

/// [`import_file`] as the work of a queued job: the job is marked succeeded in the
/// import's own transaction, so a retry after a crash finds it done instead of importing
/// the file again.
pub async fn import_file_as_job(
    pool: &Pool,
    request: ImportRequest,
    progress: ImportProgress,
    claim: &crate::platform::job::Claim,
) -> Result<ImportSummary> {
    import_file_for(pool, request, progress, Some(claim)).await
}

async fn import_file_for(
    pool: &Pool,
    request: ImportRequest,
    progress: ImportProgress,
    job: Option<&crate::platform::job::Claim>,
) -> Result<ImportSummary> {
    let started_at = Utc::now();
    let mut client = pool.get().await?;
    let provider = provider::find_by_code(&**client, request.tenant, &request.provider_code).await?;
    let display_name = request.display_name.clone().unwrap_or_else(|| file_name(&request.path));
    match run(&mut client, &request, &provider, &display_name, started_at, progress, job).await {
        Ok(summary) => {
            tracing::info!(
                import_id = summary.import_id,
                total = summary.counts.total,
                inserted = summary.counts.inserted,
                "import finished"
            );
            Ok(summary)
        }
        Err(error) => {
            if let Err(record_error) =
                record_failure(&**client, &request, &provider, &display_name, started_at, &error).await
            {
                tracing::warn!(error = %record_error, "could not record the failed import");
            }
            Err(error)
        }
    }
}

/// The name a user knows a file by when no display name was given.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

pub fn default_rejects_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".rejects.csv");
    path.with_file_name(name)
}

async fn run(
    client: &mut tokio_postgres::Client,
    request: &ImportRequest,
    provider: &Provider,
    display_name: &str,
    started_at: DateTime<Utc>,
    progress: ImportProgress,
    job: Option<&crate::platform::job::Claim>,
) -> Result<ImportSummary> {
    let clock = Instant::now();
    let tenant = request.tenant;
    let region = request.region.or_else(|| provider.region());
    let mapping =
        if request.mapping.is_empty() { &provider.column_mapping } else { &request.mapping }.clone();
    let geos = Arc::new(load_geos(&*client, tenant).await?);

    let detected = source::detect_off_thread(&request.path, display_name, &request.source).await?;

    let tx = client.transaction().await?;
    // One import per tenant at a time: two imports of overlapping files would otherwise
    // wait on each other's rows and could deadlock.
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.import', $1))", &[&tenant.0]).await?;
    let import_id: i64 = tx
        .query_one(
            "INSERT INTO imports (tenant_id, provider_id, file_name, file_size, format, encoding,
                                  on_duplicate, options, status, created_by, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $10) RETURNING id",
            &[
                &tenant.0,
                &provider.id,
                &display_name,
                &(std::fs::metadata(&request.path).map(|m| m.len()).unwrap_or(0) as i64),
                &detected.format.name(),
                &detected.encoding.map(|e| e.name()),
                &request.on_duplicate.name(),
                &options_json(request, &mapping, region),
                &request.actor.user_id,
                &started_at,
            ],
        )
        .await?
        .get(0);
    // Room to sort a batch in memory rather than spill it to disk.
    tx.batch_execute("SET LOCAL work_mem = '64MB'").await?;
    tx.batch_execute(
        "CREATE TEMP TABLE import_staging (
             ord        integer NOT NULL,
             phone      bigint NOT NULL,
             geo_id     bigint,
             zone_set   integer,
             attributes jsonb NOT NULL,
             dnc        boolean NOT NULL DEFAULT false,
             refreshed  boolean NOT NULL DEFAULT false
         ) ON COMMIT DROP",
    )
    .await?;
    let reentry = request.reentry.clone().or_else(|| provider.reentry.clone()).unwrap_or_default();
    let statements = Statements::prepare(&tx, request.on_duplicate, &reentry).await?;
    let groups =
        Some(crate::pool::groups::rule_arrays(&tx, tenant).await?).filter(|(ids, _)| !ids.is_empty());
    let tenant_has_dnc: bool = tx
        .query_one("SELECT EXISTS (SELECT 1 FROM dnc_numbers WHERE tenant_id = $1)", &[&tenant.0])
        .await?
        .get(0);
    // Erasures take the same per-tenant lock, so the tombstones cannot change under us.
    let tombstones = crate::intake::tombstone::load_filter(&tx, tenant, request.secret.as_ref()).await?;

    let (sender, mut receiver) = mpsc::channel::<Batch>(2);
    let context = ReaderContext {
        path: request.path.clone(),
        display_name: display_name.to_owned(),
        source: request.source.clone(),
        mapping,
        region,
        geos,
        counters: progress.read.clone(),
        rows_read: progress.rows_read.clone(),
        batch_size: request.batch_rows.unwrap_or(BATCH_ROWS).max(1),
        tombstones,
    };
    let reader_detected = detected.clone();
    let reader = tokio::task::spawn_blocking(move || batch::read_file(context, reader_detected, sender));

    let rejects_path = request.rejects_path.clone().unwrap_or_else(|| default_rejects_path(&request.path));
    let mut rejects = RejectsFile::new(rejects_path, display_name);
    let mut counts = Counts::default();
    // Refused rows are kept only when the provider's return rules can send them back.
    let refusals = crate::intake::returns::rules_of(&tx, tenant, provider.id)
        .await?
        .map(|rules| rules.refused)
        .unwrap_or_default();
    let merge_params = MergeParams {
        tenant,
        provider_id: provider.id,
        import_id,
        tenant_has_dnc,
        groups,
        reentry: reentry.clone(),
        refusals,
    };
    // Where the time goes: waiting for the reader means parsing is the bottleneck,
    // merging means the database is.
    let (mut waiting, mut merging) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let merged = async {
        loop {
            let wait = Instant::now();
            let Some(batch) = receiver.recv().await else { break };
            let merge = Instant::now();
            waiting += merge - wait;
            merge_batch(&tx, &statements, &merge_params, &batch, &mut counts, &mut rejects).await?;
            merging += merge.elapsed();
            progress.rows_merged.fetch_add(batch.rows, Ordering::Relaxed);
        }
        Ok::<_, Error>(())
    }
    .await;
    tracing::info!(
        waiting_for_reader_s = waiting.as_secs_f64(),
        merging_s = merging.as_secs_f64(),
        "import batches done"
    );
    // Dropping the receiver first stops a reader that is still sending.
    drop(receiver);
    let read = reader.await.map_err(|e| Error::Worker(e.to_string()))?;
    let outcome = match (merged, read) {
        (Err(merge_error), _) => {
            rejects.discard();
            return Err(merge_error);
        }
        (Ok(()), Err(read_error)) => {
            rejects.discard();
            return Err(read_error);
        }
        (Ok(()), Ok(outcome)) => outcome,
    };
    if !counts.reconciles() {
        rejects.discard();
        return Err(Error::Worker(format!("the import's counts do not add up: {counts:?}")));
    }
    // A file in which not one row holds a phone number is not a list of numbers: the
    // wrong column, the wrong region, or not a number file at all. Saying "succeeded,
    // 0 stored" would hide it (and its rejects file could be millions of rows).
    if counts.total > 0 && counts.invalid == counts.total {
        rejects.discard();
        let region = region.map_or_else(|| "no default region".to_owned(), |r| format!("region {r}"));
        return Err(Error::bad_file(
            Location { file: display_name.to_owned(), ..Location::default() },
            format!(
                "none of its {} rows holds a valid phone number (read with {region}); nothing was imported",
                counts.total
            ),
        ));
    }
    if let Err(e) = check_tenant_limit(&tx, tenant).await {
        rejects.discard();
        return Err(e);
    }

    let rejects_file = rejects.finish()?;
    let summary = ImportSummary {
        import_id,
        file: display_name.to_owned(),
        provider: provider.code.clone(),
        format: outcome.detected.format.name(),
        encoding: outcome.detected.encoding.map(|e| e.name()),
        on_duplicate: request.on_duplicate,
        reentry: reentry.describe(),
        counts,
        rejects_file: rejects_file.as_ref().map(|p| p.display().to_string()),
        seconds: clock.elapsed().as_secs_f64(),
    };
    let mut finished = finish_import(&tx, tenant, import_id, &outcome.sha256, &summary, &request.actor).await;
    if let (Ok(()), Some(claim)) = (&finished, job) {
        finished = crate::platform::job::complete_in(
            &tx,
            claim,
            &serde_json::to_value(&summary).unwrap_or_default(),
        )
        .await;
    }
    let committed = match finished {
        Ok(()) => tx.commit().await.map_err(Error::from),
        Err(e) => {
            drop(tx);
            Err(e)
        }
    };
    if let Err(e) = committed {
        if let Some(path) = rejects_file {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    // The numbers are stored; statistics that say so are the next step's to need. A
    // failure here costs a plan, not the import.
    let written = (summary.counts.inserted + summary.counts.updated).max(0) as u64;
    if let Err(error) = crate::platform::db::refresh_number_statistics(&*client, written).await {
        tracing::warn!(%error, "analyzing phone_numbers after an import");
    }
    Ok(summary)
}

fn options_json(
    request: &ImportRequest,
    mapping: &ColumnMapping,
    region: Option<Region>,
) -> serde_json::Value {
    serde_json::json!({
        "mapping": mapping.to_string(),
        "region": region.map(|r| r.to_string()),
        "format": request.source.format.map(|f| f.name()),
        "encoding": request.source.encoding,
        "sheet": request.source.sheet,
        "reentry": request.reentry,
    })
}

async fn load_geos(client: &impl GenericClient, tenant: TenantId) -> Result<GeoDirectory> {
    let mut geos = GeoDirectory::default();
    for row in client
        .query(
            "SELECT id, code, country::text, region, name, time_zone FROM geos WHERE tenant_id = $1",
            &[&tenant.0],
        )
        .await?
    {
        geos.insert(
            row.get(0),
            row.get(1),
            row.get(2),
            row.get::<_, Option<&str>>(3),
            row.get(4),
            row.get(5),
        );
    }
    Ok(geos)
}
