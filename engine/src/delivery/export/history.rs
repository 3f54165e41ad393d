//! Exports as recorded: listing them, their files, and cleaning up after dead and
//! expired ones.

use crate::platform::TenantId;
use crate::platform::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

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
    /// Why a kept file was withdrawn before it expired: `erasure` (it held a number
    /// erased since).
    pub withdrawn_reason: Option<String>,
}

const RECORD_COLUMNS: &str = "x.id, x.project_id, p.name AS project, x.format, x.options, x.status, x.rows,
    x.rows_total, x.withheld_dnc, x.bytes, x.file_name, x.error, x.created_by, u.display_name AS created_by_name, x.started_at,
    x.finished_at, x.expires_at,
    (x.status = 'succeeded' AND x.stored_path IS NOT NULL AND x.deleted_at IS NULL
     AND COALESCE(x.expires_at > now(), true)) AS downloadable, x.stored_path, x.withdrawn_reason
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
        withdrawn_reason: row.get("withdrawn_reason"),
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
            _ if export.withdrawn_reason.as_deref() == Some("erasure") => {
                format!("export {id}'s file was withdrawn: it held a number erased since; export again")
            }
            _ => format!("export {id}'s file is no longer kept (it expired or was written elsewhere)"),
        })),
    }
}

/// The lock a running export holds, for export `$1`.
pub(super) const RUN_LOCK: &str = "hashtextextended('dialpool.export.run', 0) # $1::bigint";

/// Where an export is written until it is complete.
pub(super) fn partial_path(out: &Path) -> PathBuf {
    out.with_extension("partial")
}

/// Marks failed the exports still `running` whose writer is gone (a process killed, a
/// machine lost): no transaction holds their run lock, and no queued or running job
/// will write them. Their partial files are removed. Returns how many there were.
pub async fn fail_abandoned(client: &impl tokio_postgres::GenericClient) -> Result<u64> {
    let abandoned = client
        .query(
            &include_str!("history.fail_abandoned.sql")
                .replace("{run_lock}", &RUN_LOCK.replace("$1", "c.id")),
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
