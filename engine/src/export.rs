//! Exports: a project's numbers out to a file for a dialer or an analyst. An export is a
//! row in `exports` from the moment it starts (status `running`, with progress), then one
//! transaction: one `COPY … TO STDOUT` of the selection (filters bound through settings)
//! streams into the file's writer, the export's numbers are collected on the way and
//! recorded as sorted batches of phones (what "never exported" and a number's history
//! read), and the export is recorded as succeeded. The file replaces its
//! destination only after commit. Exporting never changes which project holds a number;
//! it changes a number's status only when asked to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::Type;

use crate::audit::{self, Actor, Change};
use crate::error::{Error, Result};
use crate::tenant::TenantId;

/// Which of the project's numbers to export.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFilter {
    pub status: Option<i16>,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    /// Allocated to the project from this instant on.
    pub allocated_from: Option<DateTime<Utc>>,
    /// Allocated before this instant.
    pub allocated_to: Option<DateTime<Utc>>,
    pub attempts_min: Option<i16>,
    pub attempts_max: Option<i16>,
    /// Only numbers no earlier export of this project has taken.
    #[serde(default)]
    pub never_exported: bool,
    /// At most this many rows (in phone order).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// Delimiter and encoding selectable; a header row.
    #[default]
    Csv,
    /// Excel 2007+, written in constant memory; a new sheet every 1,048,575 rows.
    Xlsx,
    /// VICIdial's standard lead-loader layout: 25 tab-separated fields, no header.
    Vicidial,
    /// For analysts: the spreadsheet columns, typed and unescaped, Zstandard-compressed.
    Parquet,
}

impl ExportFormat {
    pub fn parse(name: &str) -> Result<ExportFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            "vicidial" => Ok(ExportFormat::Vicidial),
            "parquet" => Ok(ExportFormat::Parquet),
            other => {
                Err(Error::invalid("format", format!("'{other}' is not csv, xlsx, vicidial or parquet")))
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Vicidial => "vicidial",
            ExportFormat::Parquet => "parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Vicidial => "txt",
            ExportFormat::Parquet => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ExportFormat::Vicidial => "text/tab-separated-values",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    /// For old Excel on Russian Windows; a number's attributes that Windows-1251 cannot
    /// hold make the export fail rather than turn into question marks.
    #[serde(rename = "windows-1251")]
    Windows1251,
}

impl Encoding {
    pub fn parse(name: &str) -> Result<Encoding> {
        match name.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1251" | "cp1251" | "win1251" => Ok(Encoding::Windows1251),
            other => Err(Error::invalid("encoding", format!("'{other}' is not utf-8 or windows-1251"))),
        }
    }

    fn postgres_name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF8",
            Encoding::Windows1251 => "WIN1251",
        }
    }
}

/// CSV layout: the delimiter is one of `,` `;` TAB `|`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    pub delimiter: char,
    pub encoding: Encoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: ',', encoding: Encoding::Utf8 }
    }
}

impl CsvOptions {
    fn delimiter_sql(self) -> Result<&'static str> {
        match self.delimiter {
            ',' => Ok(","),
            ';' => Ok(";"),
            '\t' => Ok("\t"),
            '|' => Ok("|"),
            other => Err(Error::invalid("delimiter", format!("'{other}' is not one of , ; TAB |"))),
        }
    }
}

/// How the file is written, and what the export does to its numbers besides recording them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportOptions {
    #[serde(default)]
    pub format: ExportFormat,
    /// CSV only.
    #[serde(default)]
    pub csv: CsvOptions,
    /// VICIdial only: the list the leads load into (default: the project's id).
    pub vicidial_list_id: Option<i64>,
    /// Move the exported numbers to this status (e.g. an in-work status), with an event each.
    pub set_status: Option<i16>,
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub tenant: TenantId,
    pub project_id: i64,
    pub filter: ExportFilter,
    pub options: ExportOptions,
    /// Where the file goes.
    pub out: PathBuf,
    /// For a file the server keeps for download: its path under the data directory, and
    /// until when it is kept.
    pub stored_path: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub actor: Actor,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportSummary {
    pub export_id: i64,
    pub rows: i64,
    pub bytes: i64,
    pub file: String,
    /// Numbers moved to the requested status (those already in it are not counted).
    pub status_changed: i64,
    /// Numbers the filter matched that were left out because they are on the do-not-call
    /// list (or hold a DNC status).
    pub withheld_dnc: i64,
}

/// An export as its history shows it, with its progress while it runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportRecord {
    pub id: i64,
    pub project_id: i64,
    pub project: String,
    pub format: String,
    /// The filter and options as given.
    pub options: serde_json::Value,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Rows written (so far, while running).
    pub rows: i64,
    /// Rows selected; known once the selection is made.
    pub rows_total: Option<i64>,
    /// Numbers left out of the file because they are do-not-call; known once it succeeded.
    pub withheld_dnc: Option<i64>,
    pub bytes: i64,
    pub file_name: Option<String>,
    pub error: Option<String>,
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Until when the server keeps the file for download.
    pub expires_at: Option<DateTime<Utc>>,
    /// The file can be downloaded now.
    pub downloadable: bool,
}

const RECORD_COLUMNS: &str = "x.id, x.project_id, p.name AS project, x.format, x.options, x.status, x.rows,
    x.rows_total, x.withheld_dnc, x.bytes, x.file_name, x.error, x.created_by, u.display_name AS created_by_name, x.started_at,
    x.finished_at, x.expires_at,
    (x.status = 'succeeded' AND x.stored_path IS NOT NULL AND x.deleted_at IS NULL
     AND COALESCE(x.expires_at > now(), true)) AS downloadable, x.stored_path
   FROM exports x
   JOIN projects p ON p.tenant_id = x.tenant_id AND p.id = x.project_id
   LEFT JOIN users u ON u.tenant_id = x.tenant_id AND u.id = x.created_by";

fn record(row: &tokio_postgres::Row) -> ExportRecord {
    ExportRecord {
        id: row.get("id"),
        project_id: row.get("project_id"),
        project: row.get("project"),
        format: row.get("format"),
        options: row.get("options"),
        status: row.get("status"),
        rows: row.get("rows"),
        rows_total: row.get("rows_total"),
        withheld_dnc: row.get("withheld_dnc"),
        bytes: row.get("bytes"),
        file_name: row.get("file_name"),
        error: row.get("error"),
        created_by: row.get("created_by"),
        created_by_name: row.get("created_by_name"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        expires_at: row.get("expires_at"),
        downloadable: row.get("downloadable"),
    }
}

/// The export history, newest first: one project's, or every project the caller reaches
/// (`projects` None means all).
pub async fn list(
    client: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    projects: Option<&[i64]>,
    project_id: Option<i64>,
    limit: i64,
) -> Result<Vec<ExportRecord>> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS}
                  WHERE x.tenant_id = $1 AND ($2::bigint[] IS NULL OR x.project_id = ANY($2))
                    AND ($3::bigint IS NULL OR x.project_id = $3)
                  ORDER BY x.started_at DESC, x.id DESC LIMIT $4"
            ),
            &[&tenant.0, &projects.map(<[i64]>::to_vec), &project_id, &limit.clamp(1, 1000)],
        )
        .await?;
    Ok(rows.iter().map(record).collect())
}

/// The exports still running, oldest first, in the projects `projects` allows (None: all).
pub async fn running(
    client: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    projects: Option<&[i64]>,
) -> Result<Vec<ExportRecord>> {
    let rows = client
        .query(
            &format!(
                "SELECT {RECORD_COLUMNS}
                  WHERE x.tenant_id = $1 AND x.status = 'running' AND ($2::bigint[] IS NULL OR x.project_id = ANY($2))
                  ORDER BY x.started_at, x.id"
            ),
            &[&tenant.0, &projects.map(<[i64]>::to_vec)],
        )
        .await?;
    Ok(rows.iter().map(record).collect())
}

pub async fn get(
    client: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    id: i64,
) -> Result<ExportRecord> {
    Ok(get_with_file(client, tenant, id).await?.0)
}

/// An export and where the server keeps its file, relative to its data directory (None
/// for a CLI export written elsewhere).
pub async fn get_with_file(
    client: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    id: i64,
) -> Result<(ExportRecord, Option<String>)> {
    client
        .query_opt(
            &format!("SELECT {RECORD_COLUMNS} WHERE x.tenant_id = $1 AND x.id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .map(|row| (record(&row), row.get("stored_path")))
        .ok_or_else(|| Error::NotFound { entity: "export", key: id.to_string() })
}

/// The kept file of a downloadable export, or why there is none.
pub fn kept_file(export: &ExportRecord, stored_path: Option<String>) -> Result<String> {
    let id = export.id;
    match stored_path {
        Some(path) if export.downloadable => Ok(path),
        _ => Err(Error::Refused(match export.status.as_str() {
            "running" => format!("export {id} is still running"),
            "failed" => format!("export {id} failed; it has no file"),
            _ => format!("export {id}'s file is no longer kept (it expired or was written elsewhere)"),
        })),
    }
}

/// The lock a running export holds, for export `$1`.
const RUN_LOCK: &str = "hashtextextended('dialpool.export.run', 0) # $1::bigint";

/// Where an export is written until it is complete.
fn partial_path(out: &Path) -> PathBuf {
    out.with_extension("partial")
}

/// Marks failed the exports still `running` whose writer is gone (a process killed, a
/// machine lost): no transaction holds their run lock, and no queued or running job
/// will write them. Their partial files are removed. Returns how many there were.
pub async fn fail_abandoned(client: &impl tokio_postgres::GenericClient) -> Result<u64> {
    let abandoned = client
        .query(
            &format!(
                "WITH candidates AS MATERIALIZED (
                    SELECT e.tenant_id, e.id FROM exports e
                     WHERE e.status = 'running'
                       -- Between its row and its run lock an export takes milliseconds.
                       AND e.started_at < now() - interval '10 seconds'
                       AND NOT EXISTS (SELECT FROM jobs j
                                        WHERE j.kind = 'export' AND j.tenant_id = e.tenant_id
                                          AND j.args->>'export_id' = e.id::text
                                          AND j.state IN ('queued', 'running', 'retrying'))
                 ), free AS MATERIALIZED (
                    SELECT c.tenant_id, c.id FROM candidates c
                     WHERE pg_try_advisory_xact_lock({})
                 )
                 UPDATE exports e
                    SET status = 'failed', rows = 0, bytes = 0, finished_at = now(),
                        error = 'the export stopped before it finished: the process writing it ended'
                   FROM free f
                  WHERE e.tenant_id = f.tenant_id AND e.id = f.id AND e.status = 'running'
              RETURNING e.partial_path",
                RUN_LOCK.replace("$1", "c.id")
            ),
            &[],
        )
        .await?;
    for row in &abandoned {
        if let Some(partial) = row.get::<_, Option<&str>>(0) {
            match tokio::fs::remove_file(partial).await {
                Ok(()) => tracing::info!(file = partial, "removed an abandoned export's partial file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(file = partial, %error, "removing an abandoned export's partial file")
                }
            }
        }
    }
    Ok(abandoned.len() as u64)
}

/// Deletes the kept files whose time is up (under `data_dir`) and records it; returns how
/// many went. The history keeps the export.
pub async fn delete_expired(client: &impl tokio_postgres::GenericClient, data_dir: &Path) -> Result<u64> {
    let due = client
        .query(
            "SELECT tenant_id, id, stored_path FROM exports
              WHERE stored_path IS NOT NULL AND deleted_at IS NULL AND expires_at <= now()",
            &[],
        )
        .await?;
    let mut deleted = 0;
    for row in &due {
        let (tenant, id, path): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
        match tokio::fs::remove_file(data_dir.join(&path)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("deleting the expired export file {path}"), e)),
        }
        client
            .execute(
                "UPDATE exports SET deleted_at = now() WHERE tenant_id = $1 AND id = $2",
                &[&tenant, &id],
            )
            .await?;
        deleted += 1;
    }
    Ok(deleted)
}

/// A text cell as a spreadsheet must not run it: one starting with `=`, `+`, `-`, `@`,
/// TAB or CR gets a leading apostrophe (OWASP's advice for CSV injection). CSV and XLSX
/// read the same escaped columns.
macro_rules! escape {
    ($column:literal) => {
        concat!(
            "CASE WHEN left(",
            $column,
            ", 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ",
            $column,
            " ELSE ",
            $column,
            " END"
        )
    };
}

/// The filter's values, read once from the settings [`bind_filter`] made, with their types.
const FILTER_VALUES: &str = "WITH p AS MATERIALIZED (
    SELECT current_setting('dialpool.export_tenant')::bigint AS tenant,
           current_setting('dialpool.export_project')::bigint AS project,
           NULLIF(current_setting('dialpool.export_status'), '')::smallint AS status,
           NULLIF(current_setting('dialpool.export_provider'), '')::bigint AS provider,
           NULLIF(current_setting('dialpool.export_geo'), '')::bigint AS geo,
           NULLIF(current_setting('dialpool.export_allocated_from'), '')::timestamptz AS allocated_from,
           NULLIF(current_setting('dialpool.export_allocated_to'), '')::timestamptz AS allocated_to,
           NULLIF(current_setting('dialpool.export_attempts_min'), '')::smallint AS attempts_min,
           NULLIF(current_setting('dialpool.export_attempts_max'), '')::smallint AS attempts_max,
           NULLIF(current_setting('dialpool.export_limit'), '')::bigint AS row_limit
 )";

/// The export's numbers, in phone order: joins and the filters in use. COPY takes no
/// parameters, so the filter's values are bound as parameters of `set_config` (see
/// [`bind_filter`]) and read back once, typed, in [`FILTER_VALUES`]; the statement text
/// never holds a value. Only the filters in use are written: `(value IS NULL OR …)` for
/// every filter made the planner expect a few rows and walk the phone index instead of
/// sorting the project's numbers.
fn selected_numbers(filter: &ExportFilter) -> String {
    let mut sql = String::from(
        " FROM phone_numbers n
          JOIN providers pr ON pr.tenant_id = n.tenant_id AND pr.id = n.provider_id
          JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
          LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
         WHERE n.tenant_id = (SELECT tenant FROM p) AND n.project_id = (SELECT project FROM p)",
    );
    sql.push_str(&filter_conditions(filter));
    // A do-not-call number never leaves, whatever the filter: listed after allocation,
    // or given a DNC status by hand. [`withheld_dnc`] counts what this kept back.
    sql.push_str(" AND s.category <> 'dnc' AND NOT EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = n.tenant_id AND d.phone = n.phone)");
    sql.push_str(" ORDER BY n.phone");
    if filter.limit.is_some() {
        sql.push_str(" LIMIT (SELECT row_limit FROM p)");
    }
    sql
}

/// How many numbers the filter matched that the do-not-call gate of
/// [`selected_numbers`] withheld (the limit aside: they are not in the file either way).
async fn withheld_dnc(tx: &Transaction<'_>, filter: &ExportFilter) -> Result<i64> {
    let sql = format!(
        "{FILTER_VALUES} SELECT count(*) FROM phone_numbers n
           JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
          WHERE n.tenant_id = (SELECT tenant FROM p) AND n.project_id = (SELECT project FROM p) {}
            AND (s.category = 'dnc' OR EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = n.tenant_id AND d.phone = n.phone))",
        filter_conditions(filter)
    );
    Ok(tx.query_one(&sql, &[]).await?.get(0))
}

/// The filters in use, as `AND …` conditions on `n` (see [`selected_numbers`]).
fn filter_conditions(filter: &ExportFilter) -> String {
    let conditions = [
        (filter.status.is_some(), " AND n.status = (SELECT status FROM p)"),
        (filter.provider_id.is_some(), " AND n.provider_id = (SELECT provider FROM p)"),
        (filter.geo_id.is_some(), " AND n.geo_id = (SELECT geo FROM p)"),
        (filter.allocated_from.is_some(), " AND n.allocated_at >= (SELECT allocated_from FROM p)"),
        (filter.allocated_to.is_some(), " AND n.allocated_at < (SELECT allocated_to FROM p)"),
        (filter.attempts_min.is_some(), " AND n.attempts >= (SELECT attempts_min FROM p)"),
        (filter.attempts_max.is_some(), " AND n.attempts <= (SELECT attempts_max FROM p)"),
        (
            filter.never_exported,
            " AND NOT EXISTS (
                SELECT FROM (SELECT unnest(b.phones) AS phone FROM export_batches b
                              WHERE b.tenant_id = (SELECT tenant FROM p) AND b.project_id = (SELECT project FROM p)) taken
                 WHERE taken.phone = n.phone)",
        ),
    ];
    conditions.into_iter().filter(|(in_use, _)| *in_use).map(|(_, condition)| condition).collect()
}

/// The spreadsheet columns (CSV and XLSX). The phone is E.164 digits without the plus,
/// which a spreadsheet would read as a formula; every text that came from a provider's
/// file is escaped.
const SHEET_COLUMNS: &str = concat!(
    "SELECT n.phone AS phone, pr.code AS provider, g.code AS geo, s.code AS status, n.attempts,
            n.allocated_at, ",
    escape!("(n.attributes->>'name')"),
    " AS name, ",
    escape!("n.attributes::text"),
    " AS attributes"
);
/// [`SHEET_COLUMNS`] as they are: Parquet is read by code, not by a spreadsheet.
const RAW_COLUMNS: &str =
    "SELECT n.phone AS phone, pr.code AS provider, g.code AS geo, s.code AS status, n.attempts,
            n.allocated_at, n.attributes->>'name' AS name, n.attributes::text AS attributes";
const SHEET_HEADER: [&str; 8] =
    ["phone", "provider", "geo", "status", "attempts", "allocated_at", "name", "attributes"];
const SHEET_TYPES: &[Type] =
    &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::INT2, Type::TIMESTAMPTZ, Type::TEXT, Type::TEXT];

const VICIDIAL_COLUMNS: &str = "SELECT n.phone, pr.code, g.country::text, g.region, n.attributes";
const VICIDIAL_TYPES: &[Type] = &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::JSONB];

/// Rows a batch of the export's membership holds.
const BATCH_PHONES: usize = 10_000;

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
    crate::project::get(&**client, request.tenant, request.project_id).await?;
    // An earlier export whose process died is told apart from a running one before this
    // one starts, so the history never shows a dead one as running.
    fail_abandoned(&**client).await?;
    if let Some(status) = request.options.set_status {
        crate::status::get(&**client, request.tenant, status).await?;
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
    let export_id = start(pool, &request).await?;
    run(pool, export_id, &request).await
}

/// Runs the export [`start`] recorded. A failure is recorded on the export (and returned);
/// no file is left behind.
pub async fn run(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
) -> Result<ExportSummary> {
    run_for(pool, export_id, request, None).await
}

/// [`run`] as the work of a queued job, marked succeeded in the export's transaction.
pub async fn run_as_job(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
    claim: &crate::job::Claim,
) -> Result<ExportSummary> {
    run_for(pool, export_id, request, Some(claim)).await
}

async fn run_for(
    pool: &deadpool_postgres::Pool,
    export_id: i64,
    request: &ExportRequest,
    job: Option<&crate::job::Claim>,
) -> Result<ExportSummary> {
    let progress = Progress::default();
    let ticker = tokio::spawn(report_progress(pool.clone(), request.tenant, export_id, progress.clone()));
    let partial = partial_path(&request.out);
    let result = run_in_transaction(pool, export_id, request, &partial, &progress, job).await;
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

/// Rows written so far, shared with the ticker that records them. The total is known
/// only at the end: counting first would read the numbers twice.
#[derive(Debug, Clone, Default)]
struct Progress {
    written: Arc<AtomicI64>,
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
        let written = progress.written.load(Ordering::Relaxed);
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
    job: Option<&crate::job::Claim>,
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
            crate::number::set_status_of_selection(&tx, request.tenant, &request.actor, status, "export")
                .await? as i64
        }
        None => 0,
    };
    let withheld_dnc = withheld_dnc(&tx, &request.filter).await?;
    let summary =
        ExportSummary { export_id, rows, bytes, file: file_name(&request.out), status_changed, withheld_dnc };
    tx.execute(
        "UPDATE exports SET status = 'succeeded', rows = $3, rows_total = $3, bytes = $4, withheld_dnc = $5,
                            finished_at = now()
          WHERE tenant_id = $1 AND id = $2",
        &[&request.tenant.0, &export_id, &rows, &bytes, &withheld_dnc],
    )
    .await?;
    crate::webhook::enqueue(
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
        crate::job::complete_in(&tx, claim, &serde_json::to_value(&summary).unwrap_or_default()).await?;
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

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("writing {}", path.display()), e)
}

async fn write_csv(
    tx: &Transaction<'_>,
    query: &str,
    csv: CsvOptions,
    partial: &Path,
    progress: &Progress,
    phones: &mut Vec<i64>,
) -> Result<i64> {
    let delimiter = csv.delimiter_sql()?;
    let copy = format!(
        "COPY ({query}) TO STDOUT (FORMAT csv, HEADER, DELIMITER '{delimiter}', ENCODING '{}')",
        csv.encoding.postgres_name()
    );
    // COPY sends a message per row; unbuffered, each would be a write of its own.
    let mut file = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(partial).await.map_err(write_error(partial))?,
    );
    let stream = tx.copy_out(&copy).await?;
    futures_util::pin_mut!(stream);
    let mut bytes = 0i64;
    let mut header = true;
    while let Some(message) = stream.next().await {
        let message = message?;
        bytes += message.len() as i64;
        if !std::mem::take(&mut header) {
            phones.push(leading_phone(&message, delimiter.as_bytes()[0])?);
            progress.written.fetch_add(1, Ordering::Relaxed);
        }
        file.write_all(&message).await.map_err(write_error(partial))?;
    }
    file.flush().await.map_err(write_error(partial))?;
    Ok(bytes)
}

/// The phone a CSV row starts with: digits up to the delimiter (a phone is never quoted).
/// PostgreSQL sends each row of a `COPY … TO STDOUT` as one message.
fn leading_phone(row: &[u8], delimiter: u8) -> Result<i64> {
    let end = row.iter().position(|b| *b == delimiter).unwrap_or(row.len());
    std::str::from_utf8(&row[..end]).ok().and_then(|digits| digits.parse().ok()).ok_or_else(|| {
        Error::Worker(format!(
            "a COPY row did not start with a phone: {:?}",
            String::from_utf8_lossy(&row[..end.min(40)])
        ))
    })
}

/// Rows go from the binary `COPY` to a writer thread in chunks, so the file's CPU work
/// runs beside the database's.
const ROWS_PER_CHUNK: usize = 2_000;

/// Chunks of rows on their way to a file writer's thread.
type Chunks<T> = tokio::sync::mpsc::Receiver<Vec<T>>;

/// Streams `query` as binary `COPY`, decodes each row with `decode` and hands chunks of
/// them to `writer` on a blocking thread.
async fn stream_rows<T, W>(
    tx: &Transaction<'_>,
    query: &str,
    types: &'static [Type],
    progress: &Progress,
    phones: &mut Vec<i64>,
    decode: fn(BinaryCopyOutRow) -> T,
    writer: W,
) -> Result<()>
where
    T: Send + 'static,
    W: FnOnce(Chunks<T>) -> Result<()> + Send + 'static,
{
    let (send, receive) = tokio::sync::mpsc::channel::<Vec<T>>(4);
    let worker = tokio::task::spawn_blocking(move || writer(receive));
    let stream = tx.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)")).await?;
    let rows = BinaryCopyOutStream::new(stream, types);
    futures_util::pin_mut!(rows);
    let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
    loop {
        let row = rows.next().await.transpose()?;
        let end = row.is_none();
        // Every query starts with the phone.
        phones.extend(row.as_ref().map(|r| r.get::<i64>(0)));
        chunk.extend(row.map(decode));
        if chunk.len() == ROWS_PER_CHUNK || (end && !chunk.is_empty()) {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(ROWS_PER_CHUNK));
            progress.written.fetch_add(full.len() as i64, Ordering::Relaxed);
            // A writer that stopped has its error waiting below.
            if send.send(full).await.is_err() {
                break;
            }
        }
        if end {
            break;
        }
    }
    drop(send);
    worker.await.map_err(|e| Error::Worker(e.to_string()))?
}

/// Writes the spreadsheet columns' rows (XLSX, Parquet) to `partial` with `write`.
async fn write_sheet_rows(
    tx: &Transaction<'_>,
    query: &str,
    partial: &Path,
    progress: &Progress,
    phones: &mut Vec<i64>,
    write: fn(&Path, Chunks<xlsx::SheetRow>) -> Result<()>,
) -> Result<i64> {
    let path = partial.to_path_buf();
    stream_rows(tx, query, SHEET_TYPES, progress, phones, xlsx::SheetRow::decode, move |rows| {
        write(&path, rows)
    })
    .await?;
    file_size(partial).await
}

async fn write_vicidial(
    tx: &Transaction<'_>,
    query: &str,
    list_id: i64,
    partial: &Path,
    progress: &Progress,
    phones: &mut Vec<i64>,
) -> Result<i64> {
    let path = partial.to_path_buf();
    stream_rows(
        tx,
        query,
        VICIDIAL_TYPES,
        progress,
        phones,
        |row| row,
        move |rows| vicidial::write(&path, list_id, rows),
    )
    .await?;
    file_size(partial).await
}

async fn file_size(path: &Path) -> Result<i64> {
    Ok(tokio::fs::metadata(path).await.map_err(write_error(path))?.len() as i64)
}

mod parquet {
    use std::path::Path;

    use polars::prelude::*;

    use super::xlsx::SheetRow;
    use super::{Chunks, SHEET_HEADER};
    use crate::error::{Error, Result};

    /// Rows per row group: large enough for good compression and column statistics,
    /// small enough that the writer holds a few tens of megabytes.
    pub(super) const ROW_GROUP_ROWS: usize = 131_072;

    /// Writes the rows to `path`, one row group every `group_rows` rows.
    pub(super) fn write(path: &Path, mut rows: Chunks<SheetRow>, group_rows: usize) -> Result<()> {
        let failed =
            |e: PolarsError| Error::io(format!("writing {}", path.display()), std::io::Error::other(e));
        let file =
            std::fs::File::create(path).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        let mut writer = ParquetWriter::new(std::io::BufWriter::with_capacity(1 << 20, file))
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&schema())
            .map_err(failed)?;
        let mut group = Vec::with_capacity(group_rows);
        let mut wrote_any = false;
        loop {
            let chunk = rows.blocking_recv();
            let end = chunk.is_none();
            group.extend(chunk.into_iter().flatten());
            // An empty export still gets one (empty) row group, so readers see the schema.
            if group.len() >= group_rows || (end && (!group.is_empty() || !wrote_any)) {
                writer.write_batch(&frame(std::mem::take(&mut group)).map_err(failed)?).map_err(failed)?;
                wrote_any = true;
            }
            if end {
                break;
            }
        }
        writer.finish().map_err(failed)?;
        Ok(())
    }

    fn schema() -> Schema {
        let types = [
            DataType::Int64,
            DataType::String,
            DataType::String,
            DataType::String,
            DataType::Int16,
            DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            DataType::String,
            DataType::String,
        ];
        SHEET_HEADER.iter().zip(types).map(|(name, dtype)| Field::new((*name).into(), dtype)).collect()
    }

    fn frame(rows: Vec<SheetRow>) -> PolarsResult<DataFrame> {
        let height = rows.len();
        let mut phone = Vec::with_capacity(height);
        let mut provider = Vec::with_capacity(height);
        let mut geo = Vec::with_capacity(height);
        let mut status = Vec::with_capacity(height);
        let mut attempts = Vec::with_capacity(height);
        let mut allocated_at = Vec::with_capacity(height);
        let mut name = Vec::with_capacity(height);
        let mut attributes = Vec::with_capacity(height);
        for row in rows {
            phone.push(row.phone);
            provider.push(row.provider);
            geo.push(row.geo);
            status.push(row.status);
            attempts.push(row.attempts);
            allocated_at.push(row.allocated_at.map(|at| at.timestamp_micros()));
            name.push(row.name);
            attributes.push(row.attributes);
        }
        let [h0, h1, h2, h3, h4, h5, h6, h7] = SHEET_HEADER;
        DataFrame::new(
            height,
            vec![
                Column::new(h0.into(), phone),
                Column::new(h1.into(), provider),
                Column::new(h2.into(), geo),
                Column::new(h3.into(), status),
                Column::new(h4.into(), attempts),
                Column::new(h5.into(), allocated_at)
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))?,
                Column::new(h6.into(), name),
                Column::new(h7.into(), attributes),
            ],
        )
    }
}

mod xlsx {
    use std::path::Path;

    use chrono::{DateTime, Utc};
    use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook, Worksheet, XlsxError};
    use tokio_postgres::binary_copy::BinaryCopyOutRow;

    use super::{Chunks, SHEET_HEADER};
    use crate::error::{Error, Result};

    /// Excel's rows per sheet, the header included.
    pub(super) const SHEET_ROWS: u32 = 1_048_576;

    /// One row of [`super::SHEET_COLUMNS`].
    #[derive(Debug, Clone, Default)]
    pub(super) struct SheetRow {
        pub phone: i64,
        pub provider: String,
        pub geo: Option<String>,
        pub status: String,
        pub attempts: i16,
        pub allocated_at: Option<DateTime<Utc>>,
        pub name: Option<String>,
        pub attributes: Option<String>,
    }

    impl SheetRow {
        pub(super) fn decode(row: BinaryCopyOutRow) -> SheetRow {
            SheetRow {
                phone: row.get(0),
                provider: row.get(1),
                geo: row.get(2),
                status: row.get(3),
                attempts: row.get(4),
                allocated_at: row.get(5),
                name: row.get(6),
                attributes: row.get(7),
            }
        }
    }

    /// Writes the rows to `path`, a new sheet (with the header) every `sheet_rows` rows.
    pub(super) fn write(path: &Path, mut rows: Chunks<SheetRow>, sheet_rows: u32) -> Result<()> {
        let failed =
            |e: XlsxError| Error::io(format!("writing {}", path.display()), std::io::Error::other(e));
        let mut workbook = Workbook::new();
        if let Some(dir) = path.parent() {
            // Constant-memory sheets spool to temp files; next to the output they are on
            // the disk that must hold the file anyway.
            workbook.set_tempdir(dir).map_err(failed)?;
        }
        let header =
            Format::new().set_bold().set_background_color("#DDE4EE").set_border_bottom(FormatBorder::Thin);
        let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let start_sheet = |sheet: &mut Worksheet, number: u32| -> Result<(), XlsxError> {
            sheet.set_name(if number == 1 { "Numbers".to_owned() } else { format!("Numbers {number}") })?;
            for (col, title) in SHEET_HEADER.iter().enumerate() {
                sheet.write_string_with_format(0, col as u16, *title, &header)?;
            }
            sheet.set_column_width(0, 16)?;
            sheet.set_column_width(5, 20)?;
            sheet.set_freeze_panes(1, 0)?;
            Ok(())
        };
        let mut sheets = 0;
        let mut row_in_sheet = sheet_rows;
        let mut sheet: Option<&mut Worksheet> = None;
        while let Some(chunk) = rows.blocking_recv() {
            for row in chunk {
                if row_in_sheet == sheet_rows {
                    sheets += 1;
                    let next = workbook.add_worksheet_with_constant_memory().map_err(failed)?;
                    start_sheet(next, sheets).map_err(failed)?;
                    sheet = Some(next);
                    row_in_sheet = 1;
                }
                let Some(sheet) = sheet.as_mut() else { unreachable!("a sheet was added above") };
                let r = row_in_sheet;
                // The phone as text: a number cell would show 7.9E+10.
                sheet.write_string(r, 0, row.phone.to_string()).map_err(failed)?;
                sheet.write_string(r, 1, row.provider).map_err(failed)?;
                if let Some(geo) = row.geo {
                    sheet.write_string(r, 2, geo).map_err(failed)?;
                }
                sheet.write_string(r, 3, row.status).map_err(failed)?;
                sheet.write_number(r, 4, row.attempts).map_err(failed)?;
                if let Some(at) = row.allocated_at {
                    let at = ExcelDateTime::from_timestamp(at.timestamp()).map_err(failed)?;
                    sheet.write_datetime_with_format(r, 5, &at, &when).map_err(failed)?;
                }
                if let Some(name) = row.name {
                    sheet.write_string(r, 6, name).map_err(failed)?;
                }
                if let Some(attributes) = row.attributes {
                    sheet.write_string(r, 7, attributes).map_err(failed)?;
                }
                row_in_sheet += 1;
            }
        }
        if sheets == 0 {
            start_sheet(workbook.add_worksheet(), 1).map_err(failed)?;
        }
        workbook.save(path).map_err(failed)
    }

    #[cfg(test)]
    mod tests {
        use calamine::{Data, Reader, Xlsx};

        use super::*;

        #[test]
        fn sheets_split_and_each_has_the_header() {
            let dir = std::env::temp_dir().join(format!("dialpool-xlsx-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("split.xlsx");
            let (send, receive) = tokio::sync::mpsc::channel(4);
            let rows: Vec<SheetRow> = (0..7)
                .map(|i| SheetRow {
                    phone: 79160000000 + i,
                    provider: "p".into(),
                    status: "new".into(),
                    ..SheetRow::default()
                })
                .collect();
            send.blocking_send(rows).unwrap();
            drop(send);
            write(&path, receive, 3).unwrap();
            let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
            assert_eq!(book.sheet_names(), ["Numbers", "Numbers 2", "Numbers 3", "Numbers 4"]);
            let mut phones = Vec::new();
            for name in book.sheet_names() {
                let range = book.worksheet_range(&name).unwrap();
                let mut rows = range.rows();
                assert_eq!(rows.next().unwrap()[0], Data::String("phone".into()));
                phones.extend(rows.map(|r| r[0].to_string()));
            }
            assert_eq!(phones.len(), 7);
            assert_eq!(phones[6], "79160000006");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// VICIdial's standard lead-loader layout (`admin_listloader`): vendor_lead_code,
/// source_id, list_id, phone_code, phone_number, title, first_name, middle_initial,
/// last_name, address1, address2, address3, city, state, province, postal_code,
/// country_code, gender, date_of_birth, alt_phone, email, security_phrase, comments, rank,
/// owner — tab-separated, no header. The loader strips quotes and splits on the
/// delimiter, so those characters are blanked out of every value.
mod vicidial {
    use std::collections::HashSet;
    use std::io::Write;
    use std::path::Path;

    use crate::error::{Error, Result};

    const FIELDS: usize = 25;

    /// The lead fields taken from attributes: position in the layout, other attribute
    /// names that mean the same, and the width of VICIdial's `vicidial_list` column.
    const LEAD_FIELDS: &[(usize, &[&str], usize)] = &[
        (5, &[], 4),
        (6, &[], 30),
        (7, &[], 1),
        (8, &[], 30),
        (9, &["address"], 100),
        (10, &[], 100),
        (11, &[], 100),
        (12, &[], 50),
        (13, &[], 2),
        (14, &[], 50),
        (15, &["zip"], 10),
        (16, &[], 3),
        (17, &[], 1),
        (18, &["birth_date"], 10),
        (19, &[], 12),
        (20, &[], 70),
        (21, &[], 100),
        (22, &["note", "notes"], 255),
    ];

    /// Country calling codes are prefix-free, so the first 1–3 digits that are one split
    /// an E.164 number into VICIdial's phone_code and phone_number.
    fn calling_codes() -> HashSet<u16> {
        rlibphonenumber::PHONE_NUMBER_UTIL
            .get_supported_calling_codes()
            .filter_map(|c| u16::try_from(c).ok())
            .collect()
    }

    fn split(e164: i64, codes: &HashSet<u16>) -> (String, String) {
        let digits = e164.to_string();
        for len in 1..=3.min(digits.len() - 1) {
            if let Ok(code) = digits[..len].parse::<u16>()
                && codes.contains(&code)
            {
                return (digits[..len].to_owned(), digits[len..].to_owned());
            }
        }
        (String::new(), digits)
    }

    fn clean(value: &str, width: usize) -> String {
        value
            .chars()
            .map(|c| if matches!(c, '\t' | '\r' | '\n' | '|' | '\'' | '"') { ' ' } else { c })
            .take(width)
            .collect::<String>()
            .trim()
            .to_owned()
    }

    fn attribute<'a>(attributes: &'a serde_json::Value, keys: &[&str]) -> &'a str {
        keys.iter().find_map(|k| attributes.get(*k).and_then(|v| v.as_str())).unwrap_or("")
    }

    pub(super) fn write(
        path: &Path,
        list_id: i64,
        mut rows: super::Chunks<tokio_postgres::binary_copy::BinaryCopyOutRow>,
    ) -> Result<()> {
        let failed = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
        let mut out =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(failed)?);
        let codes = calling_codes();
        let list_id = list_id.to_string();
        let empty = serde_json::Value::Null;
        let mut fields: Vec<String> = vec![String::new(); FIELDS];
        while let Some(chunk) = rows.blocking_recv() {
            for row in chunk {
                let phone: i64 = row.get(0);
                let attributes: Option<serde_json::Value> = row.get(4);
                let attributes = attributes.as_ref().unwrap_or(&empty);
                let (phone_code, national) = split(phone, &codes);
                let name = attribute(attributes, &["name", "full_name"]);
                let (first, last) = name.trim().split_once(' ').unwrap_or((name.trim(), ""));
                fields.iter_mut().for_each(String::clear);
                fields[0] = phone.to_string();
                fields[1] = clean(row.get::<&str>(1), 50);
                fields[2].clone_from(&list_id);
                fields[3] = phone_code;
                fields[4] = national;
                // Every lead field a VICIdial file brought comes back under its own
                // name (an import keeps them as attributes); the common other names and
                // the number's geo fill in where it brought none.
                for &(index, aliases, width) in LEAD_FIELDS {
                    let name = crate::import::layout::VICIDIAL_FIELDS[index];
                    let value = match attribute(attributes, &[name]) {
                        "" => attribute(attributes, aliases),
                        value => value,
                    };
                    fields[index] = clean(value, width);
                }
                if fields[6].is_empty() && fields[8].is_empty() {
                    fields[6] = clean(first, 30);
                    fields[8] = clean(last, 30);
                }
                if fields[13].is_empty() {
                    fields[13] = clean(row.get::<Option<&str>>(3).unwrap_or(""), 2);
                }
                if fields[16].is_empty() {
                    fields[16] = row.get::<Option<&str>>(2).unwrap_or("").to_owned();
                }
                out.write_all(fields.join("\t").as_bytes()).map_err(failed)?;
                out.write_all(b"\r\n").map_err(failed)?;
            }
        }
        out.flush().map_err(failed)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn numbers_split_at_their_calling_code() {
            let codes = calling_codes();
            assert_eq!(split(79161234567, &codes), ("7".into(), "9161234567".into()));
            assert_eq!(split(14155550100, &codes), ("1".into(), "4155550100".into()));
            assert_eq!(split(998901234567, &codes), ("998".into(), "901234567".into()));
            assert_eq!(split(442071234567, &codes), ("44".into(), "2071234567".into()));
        }

        #[test]
        fn values_lose_what_the_loader_would_split_or_strip() {
            assert_eq!(clean("O'Brien\t|x\"", 30), "O Brien  x");
            assert_eq!(clean("Анна Петрова", 4), "Анна");
        }
    }
}
