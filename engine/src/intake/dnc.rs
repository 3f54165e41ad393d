//! The do-not-call list. Numbers on it are never imported, allocated or leased. Lists
//! are loaded from files with the same reader as imports.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures_util::pin_mut;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_postgres::GenericClient;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::intake::import::batch::{self, Batch, GeoDirectory, ReaderContext, RejectReason};
use crate::intake::import::mapping::ColumnMapping;
use crate::intake::import::rejects::RejectsFile;
use crate::intake::import::source::{self, SourceOptions};
use crate::intake::import::{ImportProgress, default_rejects_path, file_name};
use crate::intake::phone::{self, Region, format_e164};
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};

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
    /// The list this file is a load of (`US national registry`): it is fresh again, and
    /// its new entries name it. Created when missing.
    pub list: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
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
    let list_id = match &request.list {
        Some(name) => Some(crate::intake::dnc_list::id_for_load(&tx, request.tenant, name).await?),
        None => None,
    };
    let copy = tx.prepare("COPY dnc_staging (phone) FROM STDIN (FORMAT binary)").await?;
    let insert = tx
        .prepare(
            "WITH added AS (
                 INSERT INTO dnc_numbers (tenant_id, phone, source, reason, added_by, list_id)
                 SELECT $1, phone, $2, $3, $4, $5 FROM dnc_staging
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
        batch_size: crate::intake::import::BATCH_ROWS,
        // The do-not-call list keeps erased numbers too: it is what keeps them uncalled.
        tombstones: None,
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
                    &[&request.tenant.0, &display_name, &request.reason, &request.actor.user_id, &list_id],
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
    if let Some(id) = list_id {
        crate::intake::dnc_list::loaded(&tx, request.tenant, id, summary.added + summary.already_listed)
            .await?;
    }
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

/// One listed number: since when, from where, and who listed it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DncEntry {
    pub phone: String,
    /// A file name, `api`, `call outcome`, `bulk action` …
    pub source: String,
    pub reason: Option<String>,
    pub added_at: DateTime<Utc>,
    /// The e-mail of the user who listed it; absent for the system and for files loaded
    /// from the command line.
    pub added_by: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DncInput {
    /// Any format; `region` reads national ones.
    #[schema(example = "+79161234567")]
    pub phone: String,
    pub region: Option<String>,
    pub reason: Option<String>,
}

const ENTRY_SORTS: &[SortKey] = &[
    SortKey { name: "added_at", column: "d.added_at", sql_type: "timestamptz" },
    SortKey { name: "phone", column: "d.phone", sql_type: "bigint" },
];

/// The list, newest first by default; `phone` narrows to numbers starting with those
/// digits, `source` to one source.
pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    phone_prefix: Option<&str>,
    source: Option<&str>,
    page: &PageRequest,
) -> Result<Page<DncEntry>> {
    let page =
        PageRequest { sort: Some(page.sort.clone().unwrap_or_else(|| "-added_at".into())), ..page.clone() };
    let keyset = Keyset::resolve(&page, ENTRY_SORTS)?;
    let digits: Option<String> = phone_prefix
        .map(|p| p.chars().filter(char::is_ascii_digit).collect())
        .filter(|d: &String| !d.is_empty());
    let sql = format!(
        "SELECT d.phone, d.source, d.reason, d.added_at, u.email AS added_by, {col}::text AS sort_value
           FROM dnc_numbers d LEFT JOIN users u ON u.id = d.added_by
          WHERE d.tenant_id = $1 AND ($5::text IS NULL OR d.source = $5)
            AND ($6::text IS NULL OR d.phone::text LIKE $6 || '%')
            {clause} {order} LIMIT $4",
        col = keyset.key.column,
        clause = keyset.clause("d.phone", 2, 3),
        order = keyset.order_by("d.phone"),
    );
    let (v, id) = keyset.after();
    let rows = client.query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit(), &source, &digits]).await?;
    keyset.page_of(&rows, "phone", |r| Ok(entry_from(r)))
}

/// Lists one number; listing a listed number again changes nothing and says so.
pub async fn add(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &DncInput,
) -> Result<(DncEntry, bool)> {
    let region = input.region.as_deref().map(Region::parse).transpose()?;
    let phone = phone::parse_input("phone", &input.phone, region)?;
    let tx = client.transaction().await?;
    let added =
        tx.execute(include_str!("dnc.add.sql"), &[&tenant.0, &phone, &input.reason, &actor.user_id]).await?
            > 0;
    let entry = entry(&tx, tenant, phone).await?;
    if added {
        audit::record(&tx, tenant, actor, Change::created("dnc.add", "dnc", format_e164(phone), &entry))
            .await?;
    }
    tx.commit().await?;
    Ok((entry, added))
}

/// Takes a number off the list; its status stays what calls made it.
pub async fn remove(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    raw: &str,
) -> Result<()> {
    let phone = phone::parse_input("phone", raw, None)?;
    let tx = client.transaction().await?;
    let before = entry(&tx, tenant, phone).await?;
    tx.execute("DELETE FROM dnc_numbers WHERE tenant_id = $1 AND phone = $2", &[&tenant.0, &phone]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("dnc.remove", "dnc", format_e164(phone), &before))
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn entry(client: &impl GenericClient, tenant: TenantId, phone: i64) -> Result<DncEntry> {
    find(client, tenant, phone)
        .await?
        .ok_or_else(|| Error::NotFound { entity: "DNC entry", key: format_e164(phone) })
}

/// The entry of a number (E.164 digits), if it is listed.
pub async fn find(client: &impl GenericClient, tenant: TenantId, phone: i64) -> Result<Option<DncEntry>> {
    Ok(client
        .query_opt(
            "SELECT d.phone, d.source, d.reason, d.added_at, u.email AS added_by
               FROM dnc_numbers d LEFT JOIN users u ON u.id = d.added_by
              WHERE d.tenant_id = $1 AND d.phone = $2",
            &[&tenant.0, &phone],
        )
        .await?
        .map(|r| entry_from(&r)))
}

fn entry_from(row: &tokio_postgres::Row) -> DncEntry {
    DncEntry {
        phone: format_e164(row.get("phone")),
        source: row.get("source"),
        reason: row.get("reason"),
        added_at: row.get("added_at"),
        added_by: row.get("added_by"),
    }
}
