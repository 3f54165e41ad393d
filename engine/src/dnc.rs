//! The do-not-call list. Numbers on it are never imported (and, in later issues, never
//! allocated or leased). Lists are loaded from files with the same reader as imports.

use std::path::PathBuf;
use std::sync::Arc;

use deadpool_postgres::Pool;
use futures_util::pin_mut;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::audit::{self, Actor, Change};
use crate::error::{Error, Result};
use crate::import::batch::{self, Batch, GeoDirectory, ReaderContext, RejectReason};
use crate::import::mapping::ColumnMapping;
use crate::import::rejects::RejectsFile;
use crate::import::source::{self, SourceOptions};
use crate::import::{ImportProgress, default_rejects_path, file_name};
use crate::phone::Region;
use crate::tenant::TenantId;

#[derive(Debug, Clone)]
pub struct DncImportRequest {
    pub tenant: TenantId,
    pub path: PathBuf,
    pub display_name: Option<String>,
    pub source: SourceOptions,
    pub region: Option<Region>,
    pub mapping: ColumnMapping,
    /// Why these numbers are listed, kept on each entry (`regulator list 2026-11`).
    pub reason: Option<String>,
    pub rejects_path: Option<PathBuf>,
    pub actor: Actor,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DncSummary {
    pub file: String,
    pub total: i64,
    pub added: i64,
    pub already_listed: i64,
    pub duplicate_in_file: i64,
    pub invalid: i64,
    pub rejects_file: Option<String>,
}

#[tracing::instrument(skip_all, err, fields(file = %request.path.display()))]
pub async fn import_file(
    pool: &Pool,
    request: DncImportRequest,
    progress: ImportProgress,
) -> Result<DncSummary> {
    let display_name = request.display_name.clone().unwrap_or_else(|| file_name(&request.path));
    let detected = source::detect_off_thread(&request.path, &display_name, &request.source).await?;
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    let tx = client.transaction().await?;
    tx.batch_execute("CREATE TEMP TABLE dnc_staging (phone bigint NOT NULL) ON COMMIT DROP").await?;
    let copy = tx.prepare("COPY dnc_staging (phone) FROM STDIN (FORMAT binary)").await?;
    let insert = tx
        .prepare(
            "WITH added AS (
                 INSERT INTO dnc_numbers (tenant_id, phone, source, reason, added_by)
                 SELECT $1, phone, $2, $3, $4 FROM dnc_staging
                 ON CONFLICT (tenant_id, phone) DO NOTHING
                 RETURNING 1
             )
             SELECT count(*) FROM added",
        )
        .await?;

    let (sender, mut receiver) = mpsc::channel::<Batch>(2);
    let context = ReaderContext {
        path: request.path.clone(),
        display_name: display_name.clone(),
        source: request.source.clone(),
        mapping: request.mapping.clone(),
        region: request.region,
        geos: Arc::new(GeoDirectory::default()),
        counters: progress.read.clone(),
        rows_read: progress.rows_read.clone(),
        batch_size: crate::import::BATCH_ROWS,
    };
    let reader = tokio::task::spawn_blocking(move || batch::read_file(context, detected, sender));
    let mut rejects = RejectsFile::new(
        request.rejects_path.clone().unwrap_or_else(|| default_rejects_path(&request.path)),
        &display_name,
    );
    let mut summary = DncSummary { file: display_name.clone(), ..DncSummary::default() };
    let merged = async {
        while let Some(batch) = receiver.recv().await {
            summary.total += batch.rows as i64;
            for reject in &batch.rejects {
                match reject.reason {
                    RejectReason::DuplicateInFile => summary.duplicate_in_file += 1,
                    _ => summary.invalid += 1,
                }
                rejects.write(reject.row, &reject.raw, reject.reason, &reject.detail)?;
            }
            if batch.staged.is_empty() {
                continue;
            }
            tx.batch_execute("TRUNCATE dnc_staging").await?;
            let writer = BinaryCopyInWriter::new(tx.copy_in(&copy).await?, &[Type::INT8]);
            pin_mut!(writer);
            for staged in &batch.staged {
                writer.as_mut().write(&[&staged.phone]).await?;
            }
            writer.finish().await?;
            let added: i64 = tx
                .query_one(
                    &insert,
                    &[&request.tenant.0, &display_name, &request.reason, &request.actor.user_id],
                )
                .await?
                .get(0);
            summary.added += added;
            progress.rows_merged.fetch_add(batch.rows, std::sync::atomic::Ordering::Relaxed);
        }
        Ok::<_, Error>(())
    }
    .await;
    drop(receiver);
    let read = reader.await.map_err(|e| Error::Worker(e.to_string()))?;
    merged?;
    read?;
    // A number repeated far apart in one file (in different batches) counts as already
    // listed the second time; either way it is listed once.
    summary.already_listed = summary.total - summary.added - summary.duplicate_in_file - summary.invalid;
    let rejects_file = rejects.finish()?;
    summary.rejects_file = rejects_file.map(|p| p.display().to_string());
    audit::record(
        &tx,
        request.tenant,
        &request.actor,
        Change {
            action: "dnc.import",
            entity: "dnc_list",
            entity_id: display_name,
            before: None,
            after: Some(serde_json::to_value(&summary).unwrap_or_default()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}
