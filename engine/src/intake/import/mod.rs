//! Importing a provider's file of numbers: stream and normalise it on a reader thread,
//! binary-COPY each batch into a temporary staging table and merge it with one set-based
//! statement, all in one transaction. Killed half-way, an import leaves nothing behind.

pub mod batch;
pub mod history;
pub mod layout;
pub mod mapping;
mod options;

pub use options::{Deliver, ImportJob, ImportOptions};
pub mod rejects;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures_util::pin_mut;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{GenericClient, Statement, Transaction};

use self::batch::{Batch, GeoDirectory, ReaderContext, RejectReason};
use self::mapping::ColumnMapping;
use self::rejects::RejectsFile;
use self::source::{ReadCounters, SourceOptions};
use crate::intake::phone::{Region, zones};
use crate::intake::provider::{self, Provider};
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Location, Result};

/// Rows per batch: big enough that per-statement costs vanish and each partition's
/// index takes a run of sorted keys, small enough that the reader's head start before
/// the first merge is short and memory stays flat (~185 MB peak at 100k; 50k was 25%
/// slower, 200k no faster and 20% more memory; see docs/benchmarks.md).
pub const BATCH_ROWS: usize = 100_000;

const MERGE_SQL: &str = include_str!("merge.sql");
/// Skip: a conflict with a row of this import's earlier batches is touched so that it
/// comes back as an in-file duplicate; one with a row stored before is left alone.
const ON_CONFLICT_SKIP: &str = "ON CONFLICT (tenant_id, phone) DO UPDATE
        SET updated_at = clock_timestamp()
        WHERE p.last_import_id = $3";
/// Update: `$4` is whether the file has a geo column, so an update may change the geo.
const ON_CONFLICT_UPDATE: &str = "ON CONFLICT (tenant_id, phone) DO UPDATE
        SET attributes = p.attributes || EXCLUDED.attributes,
            geo_id = CASE WHEN $4 THEN EXCLUDED.geo_id ELSE p.geo_id END,
            zone_set = CASE WHEN $4 THEN EXCLUDED.zone_set ELSE COALESCE(p.zone_set, EXCLUDED.zone_set) END,
            last_import_id = EXCLUDED.last_import_id,
            updated_at = clock_timestamp()
        WHERE p.last_import_id <> $3";

/// What to do with a number that is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDuplicate {
    /// Leave the stored number as it is; the row is counted as a duplicate.
    #[default]
    Skip,
    /// Refresh the stored number's attributes (and geo, when the file has a geo column);
    /// never its project, status or history.
    Update,
}

impl<'de> Deserialize<'de> for OnDuplicate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        OnDuplicate::parse(&value).map_err(serde::de::Error::custom)
    }
}

impl OnDuplicate {
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "skip" => Ok(OnDuplicate::Skip),
            "update" => Ok(OnDuplicate::Update),
            other => Err(Error::invalid("on-duplicate", format!("'{other}' is not skip or update"))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            OnDuplicate::Skip => "skip",
            OnDuplicate::Update => "update",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub tenant: TenantId,
    pub provider_code: String,
    pub path: PathBuf,
    /// The name the user knows the file by (an upload's original name); the path's file
    /// name when absent.
    pub display_name: Option<String>,
    pub source: SourceOptions,
    pub region: Option<Region>,
    /// Overrides the provider's saved mapping when not empty.
    pub mapping: ColumnMapping,
    pub on_duplicate: OnDuplicate,
    /// Where the rejects file goes; `FILE.rejects.csv` beside the file when absent.
    pub rejects_path: Option<PathBuf>,
    pub actor: Actor,
    /// Rows per batch; [`BATCH_ROWS`] when absent. Tests make it small to cross batch
    /// boundaries with small files.
    pub batch_rows: Option<usize>,
}

/// Live counters of a running import, for a progress bar or a progress event stream.
#[derive(Debug, Clone, Default)]
pub struct ImportProgress {
    pub read: Arc<ReadCounters>,
    pub rows_read: Arc<AtomicU64>,
    pub rows_merged: Arc<AtomicU64>,
}

/// What an import did. The counts reconcile:
/// `total = inserted + updated + duplicate_in_file + duplicate_existing + invalid + dnc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: i64,
    pub inserted: i64,
    pub updated: i64,
    pub duplicate_in_file: i64,
    pub duplicate_existing: i64,
    pub invalid: i64,
    pub dnc: i64,
}

impl Counts {
    fn add_reject(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::Invalid => self.invalid += 1,
            RejectReason::DuplicateInFile => self.duplicate_in_file += 1,
            RejectReason::DuplicateExisting => self.duplicate_existing += 1,
            RejectReason::Dnc => self.dnc += 1,
        }
    }

    pub fn reconciles(&self) -> bool {
        self.total
            == self.inserted
                + self.updated
                + self.duplicate_in_file
                + self.duplicate_existing
                + self.invalid
                + self.dnc
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub import_id: i64,
    pub file: String,
    pub provider: String,
    pub format: &'static str,
    pub encoding: Option<&'static str>,
    pub on_duplicate: OnDuplicate,
    #[serde(flatten)]
    pub counts: Counts,
    pub rejects_file: Option<String>,
    pub seconds: f64,
}

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
             dnc        boolean NOT NULL DEFAULT false
         ) ON COMMIT DROP",
    )
    .await?;
    let statements = Statements::prepare(&tx, request.on_duplicate).await?;
    let tenant_has_dnc: bool = tx
        .query_one("SELECT EXISTS (SELECT 1 FROM dnc_numbers WHERE tenant_id = $1)", &[&tenant.0])
        .await?
        .get(0);

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
    };
    let reader_detected = detected.clone();
    let reader = tokio::task::spawn_blocking(move || batch::read_file(context, reader_detected, sender));

    let rejects_path = request.rejects_path.clone().unwrap_or_else(|| default_rejects_path(&request.path));
    let mut rejects = RejectsFile::new(rejects_path, display_name);
    let mut counts = Counts::default();
    let merge_params = MergeParams { tenant, provider_id: provider.id, import_id, tenant_has_dnc };
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

struct Statements {
    copy: Statement,
    mark_dnc: Statement,
    merge: Statement,
    on_duplicate: OnDuplicate,
}

impl Statements {
    async fn prepare(tx: &Transaction<'_>, on_duplicate: OnDuplicate) -> Result<Self> {
        let (on_conflict, update_params, not_returned_reason, returned_rewrite_is_reject) = match on_duplicate
        {
            OnDuplicate::Skip => (ON_CONFLICT_SKIP, "", "'duplicate_existing'", "true"),
            OnDuplicate::Update => {
                (ON_CONFLICT_UPDATE, ", $4 whether the file has a geo column", "'duplicate_in_file'", "false")
            }
        };
        let merge = MERGE_SQL
            .replace("{on_conflict}", on_conflict)
            .replace("{update_params}", update_params)
            .replace("{not_returned_reason}", not_returned_reason)
            .replace("{returned_rewrite_is_reject}", returned_rewrite_is_reject);
        Ok(Statements {
            copy: tx
                .prepare("COPY import_staging (ord, phone, geo_id, zone_set, attributes) FROM STDIN (FORMAT binary)")
                .await?,
            mark_dnc: tx
                .prepare(
                    "UPDATE import_staging s SET dnc = true FROM dnc_numbers d
                     WHERE d.tenant_id = $1 AND d.phone = s.phone",
                )
                .await?,
            merge: tx.prepare(&merge).await?,
            on_duplicate,
        })
    }
}

struct MergeParams {
    tenant: TenantId,
    provider_id: i64,
    import_id: i64,
    tenant_has_dnc: bool,
}

/// A JSON object's text sent as `jsonb` in binary COPY without building a `Value`.
#[derive(Debug)]
struct RawJsonb<'a>(&'a [u8]);

impl ToSql for RawJsonb<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // jsonb's binary format: a version byte, then the text.
        out.put_u8(1);
        out.put_slice(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

async fn merge_batch(
    tx: &Transaction<'_>,
    statements: &Statements,
    params: &MergeParams,
    batch: &Batch,
    counts: &mut Counts,
    rejects: &mut RejectsFile,
) -> Result<()> {
    counts.total += batch.rows as i64;
    let mut batch_rejects: Vec<(u64, &str, RejectReason, &str)> =
        batch.rejects.iter().map(|r| (r.row, r.raw.as_str(), r.reason, r.detail.as_str())).collect();
    if !batch.staged.is_empty() {
        stage_and_merge(tx, statements, params, batch, counts, &mut batch_rejects).await?;
    }
    // The rejects file reads in file order within each batch.
    batch_rejects.sort_unstable_by_key(|r| r.0);
    for (row, raw, reason, detail) in batch_rejects {
        counts.add_reject(reason);
        rejects.write(row, raw, reason, detail)?;
    }
    counts.inserted = counts.total
        - counts.updated
        - counts.duplicate_in_file
        - counts.duplicate_existing
        - counts.invalid
        - counts.dnc;
    Ok(())
}

async fn stage_and_merge<'b>(
    tx: &Transaction<'_>,
    statements: &Statements,
    params: &MergeParams,
    batch: &'b Batch,
    counts: &mut Counts,
    batch_rejects: &mut Vec<(u64, &'b str, RejectReason, &'b str)>,
) -> Result<()> {
    tx.batch_execute("TRUNCATE import_staging").await?;
    zones::record(tx, &batch.zone_sets).await?;
    let sink = tx.copy_in(&statements.copy).await?;
    let writer =
        BinaryCopyInWriter::new(sink, &[Type::INT4, Type::INT8, Type::INT8, Type::INT4, Type::JSONB]);
    pin_mut!(writer);
    for (ord, staged) in batch.staged.iter().enumerate() {
        let ord = ord as i32;
        let zone_set = staged.zones.map(|z| z.id);
        writer
            .as_mut()
            .write(&[&ord, &staged.phone, &staged.geo_id, &zone_set, &RawJsonb(&staged.attributes)])
            .await?;
    }
    writer.finish().await?;
    if params.tenant_has_dnc {
        tx.execute(&statements.mark_dnc, &[&params.tenant.0]).await?;
    }
    let rows = match statements.on_duplicate {
        OnDuplicate::Skip => {
            tx.query(&statements.merge, &[&params.tenant.0, &params.provider_id, &params.import_id]).await?
        }
        OnDuplicate::Update => {
            let params: [&(dyn ToSql + Sync); 4] =
                [&params.tenant.0, &params.provider_id, &params.import_id, &batch.has_geo_column];
            tx.query(&statements.merge, &params).await?
        }
    };
    for row in rows {
        match row.get::<_, Option<i32>>(0) {
            Some(ord) => {
                let reason: &str = row.get(1);
                let reason = RejectReason::parse(reason)
                    .ok_or_else(|| Error::Worker(format!("merge returned an unknown reason '{reason}'")))?;
                let staged = batch.staged.get(ord as usize).ok_or_else(|| {
                    Error::Worker(format!("merge returned row {ord} of {}", batch.staged.len()))
                })?;
                batch_rejects.push((staged.row, &staged.raw, reason, reason.describe()));
            }
            None => counts.updated += row.get::<_, i64>(2),
        }
    }
    Ok(())
}

async fn check_tenant_limit(tx: &Transaction<'_>, tenant: TenantId) -> Result<()> {
    let limit: Option<i64> =
        tx.query_one("SELECT max_numbers FROM tenants WHERE id = $1", &[&tenant.0]).await?.get(0);
    if let Some(limit) = limit {
        let stored: i64 = tx
            .query_one("SELECT count(*) FROM phone_numbers WHERE tenant_id = $1", &[&tenant.0])
            .await?
            .get(0);
        if stored > limit {
            return Err(Error::LimitReached(format!(
                "the tenant may hold {limit} numbers and this import would bring it to {stored}; nothing was imported"
            )));
        }
    }
    Ok(())
}

async fn finish_import(
    tx: &Transaction<'_>,
    tenant: TenantId,
    import_id: i64,
    sha256: &[u8; 32],
    summary: &ImportSummary,
    actor: &Actor,
) -> Result<()> {
    let c = &summary.counts;
    tx.execute(
        "UPDATE imports SET status = 'succeeded', file_sha256 = $3, total = $4, inserted = $5, updated = $6,
                duplicate_in_file = $7, duplicate_existing = $8, invalid = $9, dnc = $10,
                rejects_path = $11, finished_at = now()
         WHERE tenant_id = $1 AND id = $2",
        &[
            &tenant.0,
            &import_id,
            &sha256.as_slice(),
            &c.total,
            &c.inserted,
            &c.updated,
            &c.duplicate_in_file,
            &c.duplicate_existing,
            &c.invalid,
            &c.dnc,
            &summary.rejects_file,
        ],
    )
    .await?;
    crate::platform::webhook::enqueue(
        tx,
        tenant,
        "import.finished",
        &serde_json::json!({
            "import_id": import_id, "status": "succeeded", "file": summary.file, "provider": summary.provider,
            "counts": c, "seconds": summary.seconds,
        }),
    )
    .await?;
    audit::record(
        tx,
        tenant,
        actor,
        Change {
            action: "import.create",
            entity: "import",
            entity_id: import_id.to_string(),
            before: None,
            after: Some(serde_json::to_value(summary).unwrap_or_default()),
        },
    )
    .await
}

async fn record_failure(
    client: &impl GenericClient,
    request: &ImportRequest,
    provider: &Provider,
    display_name: &str,
    started_at: DateTime<Utc>,
    error: &Error,
) -> Result<()> {
    let import_id: i64 = client
        .query_one(
            "INSERT INTO imports (tenant_id, provider_id, file_name, file_size, format,
                                  on_duplicate, status, error, created_by, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'failed', $7, $8, $9) RETURNING id",
            &[
                &request.tenant.0,
                &provider.id,
                &display_name,
                &(std::fs::metadata(&request.path).map(|m| m.len()).unwrap_or(0) as i64),
                &request.source.format.map_or("auto", |f| f.name()),
                &request.on_duplicate.name(),
                &error.to_string(),
                &request.actor.user_id,
                &started_at,
            ],
        )
        .await?
        .get(0);
    crate::platform::webhook::enqueue(
        client,
        request.tenant,
        "import.finished",
        &serde_json::json!({
            "import_id": import_id, "status": "failed", "file": display_name, "provider": provider.code,
            "error": error.to_string(),
        }),
    )
    .await?;
    Ok(())
}
