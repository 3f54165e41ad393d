//! Running an export: the row, the transaction, the daily limit, progress and the
//! batches of phones it records.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Change};
use crate::platform::error::{Error, Result};
use crate::platform::progress::Progress;
use std::path::Path;
use tokio_postgres::Transaction;
use tokio_postgres::types::Type;

/// Checks the request and records the export as running; returns its id. The work is
/// [`run`]; a caller that waits for it uses [`export`].
pub async fn start(pool: &deadpool_postgres::Pool, request: &ExportRequest) -> Result<i64> {
    request.options.csv.delimiter_sql()?;
    if let Some(limit) = request.filter.limit
        && limit < 1
    {
        return Err(Error::invalid("limit", "must be at least 1"));
    }
    if let (Some(min), Some(max)) = (request.filter.attempts_min, request.filter.attempts_max)
        && min > max
    {
        return Err(Error::invalid("attempts_max", "is below attempts_min"));
    }
    if request.options.vicidial_list_id.is_some() && request.options.format != ExportFormat::Vicidial {
        return Err(Error::invalid("vicidial_list_id", "applies to the vicidial format only"));
    }
    let client = pool.get().await?;
    crate::pool::project::get(&**client, request.tenant, request.project_id).await?;
    // An earlier export whose process died is told apart from a running one before this
    // one starts, so the history never shows a dead one as running.
    fail_abandoned(&**client).await?;
    if let Some(status) = request.options.set_status {
        crate::pool::status::get(&**client, request.tenant, status).await?;
    }
    let options = serde_json::json!({ "filter": request.filter, "options": request.options });
    let row = client
        .query_one(
            "INSERT INTO exports (tenant_id, project_id, format, options, status, file_name, stored_path, expires_at,
                                  created_by, partial_path)
             VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $8, $9) RETURNING id",
            &[
                &request.tenant.0,
                &request.project_id,
                &request.options.format.name(),
                &options,
                &file_name(&request.out),
                &request.stored_path,
                &request.expires_at,
                &request.actor.user_id,
                // Absolute: whoever cleans it up may run elsewhere.
                &std::path::absolute(partial_path(&request.out)).ok().as_deref().and_then(Path::to_str),
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Starts and runs an export, returning when the file is in place.
pub async fn export(pool: &deadpool_postgres::Pool, request: ExportRequest) -> Result<ExportSummary> {
    export_with_progress(pool, request, &Progress::default()).await
}

/// [`export`], counting the rows written in `progress` (of `limit` when one is set).
pub async fn export_with_progress(
    pool: &deadpool_postgres::Pool,
    request: ExportRequest,
    progress: &Progress,
) -> Result<ExportSummary> {
    let export_id = start(pool, &request).await?;
    run_for(pool, export_id, &request, None, progress).await
}

/// Runs the export [`start`] recorded. A failure is recorded on the export (and returned);
/// no file is left behind.
pub async fn run(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
) -> Result<ExportSummary> {
    run_for(pool, export_id, request, None, &Progress::default()).await
}

/// [`run`] as the work of a queued job, marked succeeded in the export's transaction.
pub async fn run_as_job(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
    claim: &crate::platform::job::Claim,
) -> Result<ExportSummary> {
    run_for(pool, export_id, request, Some(claim), &Progress::default()).await
}

async fn run_for(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
    job: Option<&crate::platform::job::Claim>,
    progress: &Progress,
) -> Result<ExportSummary> {
    // The total is known only at the end (counting first would read the numbers
    // twice), unless a limit caps it.
    progress.stage("writing rows", request.filter.limit.map(|l| l.max(0) as u64));
    let ticker = tokio::spawn(report_progress(pool.clone(), request.tenant, export_id, progress.clone()));
    let partial = partial_path(&request.out);
    let result = run_in_transaction(pool, export_id, request, &partial, progress, job).await;
    ticker.abort();
    match result {
        Ok(summary) => {
            tokio::fs::rename(&partial, &request.out)
                .await
                .map_err(|e| Error::io(format!("moving the export to {}", request.out.display()), e))?;
            Ok(summary)
        }
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            let message = match error.kind() {
                crate::ErrorKind::Internal => "the export failed; the server log has the details".to_owned(),
                _ => error.to_string(),
            };
            if let Ok(client) = pool.get().await {
                let _ = client
                    .execute(
                        "UPDATE exports SET status = 'failed', error = $3, rows = 0, bytes = 0, finished_at = now()
                          WHERE tenant_id = $1 AND id = $2",
                        &[&request.tenant.0, &export_id, &message],
                    )
                    .await;
            }
            Err(error)
        }
    }
}

async fn report_progress(
    pool: deadpool_postgres::Pool,
    tenant: TenantId,
    export_id: i64,
    progress: Progress,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.tick().await;
    loop {
        every.tick().await;
        let Ok(client) = pool.get().await else { continue };
        let written = progress.snapshot().done as i64;
        if let Err(error) = client
            .execute(
                "UPDATE exports SET rows = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'running'",
                &[&tenant.0, &export_id, &written],
            )
            .await
        {
            tracing::warn!(export_id, %error, "recording export progress");
        }
    }
}

async fn run_in_transaction(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
    partial: &Path,
    progress: &Progress,
    job: Option<&crate::platform::job::Claim>,
) -> Result<ExportSummary> {
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    let tx = client.transaction().await?;
    // Held while this process writes the export: a process that died holds it no more,
    // which is how [`fail_abandoned`] knows.
    tx.execute(&format!("SELECT pg_advisory_xact_lock({RUN_LOCK})"), &[&export_id]).await?;
    // Two exports of one project at once would both take the same "never exported"
    // numbers; the second waits, and its selection (a later statement, a later snapshot)
    // sees the first one's batches.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('dialpool.export', $1) # $2)",
        &[&request.tenant.0, &request.project_id],
    )
    .await?;
    bind_filter(&tx, request).await?;
    // One statement reads the numbers (one snapshot) and the file is written from it; the
    // phones it held are collected on the way, so the numbers are read once.
    let mut phones = Vec::new();
    let numbers = selected_numbers(&request.filter);
    let bytes = match request.options.format {
        ExportFormat::Csv => {
            let query = format!("{FILTER_VALUES} {SHEET_COLUMNS} {numbers}");
            write_csv(&tx, &query, request.options.csv, partial, progress, &mut phones).await?
        }
        ExportFormat::Xlsx => {
            let query = format!("{FILTER_VALUES} {SHEET_COLUMNS} {numbers}");
            write_sheet_rows(&tx, &query, partial, progress, &mut phones, |path, rows| {
                xlsx::write(path, rows, xlsx::SHEET_ROWS)
            })
            .await?
        }
        ExportFormat::Vicidial => {
            let query = format!("{FILTER_VALUES} {VICIDIAL_COLUMNS} {numbers}");
            let list_id = request.options.vicidial_list_id.unwrap_or(request.project_id);
            write_vicidial(&tx, &query, list_id, partial, progress, &mut phones).await?
        }
        ExportFormat::Parquet => {
            let query = format!("{FILTER_VALUES} {RAW_COLUMNS} {numbers}");
            write_sheet_rows(&tx, &query, partial, progress, &mut phones, |path, rows| {
                parquet::write(path, rows, parquet::ROW_GROUP_ROWS)
            })
            .await?
        }
    };
    let rows = phones.len() as i64;
    check_daily_limit(&tx, request.tenant, rows).await?;
    record_batches(&tx, request, export_id, &phones).await?;
    let status_changed = match request.options.set_status {
        Some(status) => {
            tx.execute(
                "CREATE TEMP TABLE bulk_selection ON COMMIT DROP AS SELECT unnest($1::bigint[]) AS phone",
                &[&phones],
            )
            .await?;
            tx.batch_execute("ANALYZE bulk_selection").await?;
            crate::pool::number::set_status_of_selection(
                &tx,
                request.tenant,
                &request.actor,
                status,
                "export",
            )
            .await? as i64
        }
        None => 0,
    };
    let withheld_dnc = withheld_dnc(&tx, &request.filter).await?;
    let summary =
        ExportSummary { export_id, rows, bytes, file: file_name(&request.out), status_changed, withheld_dnc };
    tx.execute(
        // The transaction that made it count: the conversion refresh counts its rows once,
        // in the first refresh whose snapshot sees this commit.
        "UPDATE exports SET status = 'succeeded', rows = $3, rows_total = $3, bytes = $4, withheld_dnc = $5,
                            finished_at = now(), done_xact_id = pg_current_xact_id()::text::bigint
          WHERE tenant_id = $1 AND id = $2",
        &[&request.tenant.0, &export_id, &rows, &bytes, &withheld_dnc],
    )
    .await?;
    crate::platform::webhook::enqueue(
        &tx,
        request.tenant,
        "export.finished",
        &serde_json::to_value(&summary).unwrap_or_default(),
    )
    .await?;
    audit::record(
        &tx,
        request.tenant,
        &request.actor,
        Change::created("export.create", "export", export_id, &summary),
    )
    .await?;
    if let Some(claim) = job {
        crate::platform::job::complete_in(&tx, claim, &serde_json::to_value(&summary).unwrap_or_default())
            .await?;
    }
    tx.commit().await?;
    Ok(summary)
}

/// Binds the filter for [`selected_numbers!`] to this transaction.
async fn bind_filter(tx: &Transaction<'_>, request: &ExportRequest) -> Result<()> {
    fn text(value: Option<impl ToString>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }
    let f = &request.filter;
    let settings: [(&str, String); 10] = [
        ("dialpool.export_tenant", request.tenant.0.to_string()),
        ("dialpool.export_project", request.project_id.to_string()),
        ("dialpool.export_status", text(f.status)),
        ("dialpool.export_provider", text(f.provider_id)),
        ("dialpool.export_geo", text(f.geo_id)),
        ("dialpool.export_allocated_from", text(f.allocated_from.map(|t| t.to_rfc3339()))),
        ("dialpool.export_allocated_to", text(f.allocated_to.map(|t| t.to_rfc3339()))),
        ("dialpool.export_attempts_min", text(f.attempts_min)),
        ("dialpool.export_attempts_max", text(f.attempts_max)),
        ("dialpool.export_limit", text(f.limit)),
    ];
    let names: Vec<&str> = settings.iter().map(|(name, _)| *name).collect();
    let values: Vec<&str> = settings.iter().map(|(_, value)| value.as_str()).collect();
    tx.execute(
        "SELECT set_config(name, value, true) FROM unnest($1::text[], $2::text[]) AS s(name, value)",
        &[&names, &values],
    )
    .await?;
    // A million-row never-exported anti-join hashes in memory.
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    Ok(())
}

/// Records the export's phones (sorted, as the query returned them) in batches.
async fn record_batches(
    tx: &Transaction<'_>,
    request: &ExportRequest,
    export_id: i64,
    phones: &[i64],
) -> Result<()> {
    let sink = tx
        .copy_in("COPY export_batches (tenant_id, export_id, seq, project_id, first_phone, last_phone, phones) FROM STDIN (FORMAT binary)")
        .await?;
    let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(
        sink,
        &[Type::INT8, Type::INT8, Type::INT4, Type::INT8, Type::INT8, Type::INT8, Type::INT8_ARRAY],
    );
    futures_util::pin_mut!(writer);
    for (seq, batch) in phones.chunks(BATCH_PHONES).enumerate() {
        let (first, last) = (batch[0], batch[batch.len() - 1]);
        writer
            .as_mut()
            .write(&[
                &request.tenant.0,
                &export_id,
                &(seq as i32),
                &request.project_id,
                &first,
                &last,
                &batch,
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

async fn check_daily_limit(tx: &Transaction<'_>, tenant: TenantId, rows: i64) -> Result<()> {
    let limit: Option<i64> =
        tx.query_one("SELECT max_export_rows_per_day FROM tenants WHERE id = $1", &[&tenant.0]).await?.get(0);
    let Some(limit) = limit else { return Ok(()) };
    let today: i64 = tx
        .query_one(
            "SELECT COALESCE(sum(rows), 0)::bigint FROM exports
              WHERE tenant_id = $1 AND status = 'succeeded' AND started_at >= date_trunc('day', now())",
            &[&tenant.0],
        )
        .await?
        .get(0);
    if today + rows > limit {
        return Err(Error::LimitReached(format!(
            "the tenant may export {limit} rows a day; {today} are exported today and this export has {rows}; nothing was exported"
        )));
    }
    Ok(())
}
