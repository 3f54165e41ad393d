//! Imports started over HTTP are import jobs on the durable queue (`dialpool_engine::platform::job`),
//! like SFTP drops and `dialpool jobs run import`: any server's worker runs them, and a
//! server that dies mid-import leaves the job to another. An import "task" as the API
//! shows it is that job: its id, the progress its worker reports, its outcome.

use chrono::{DateTime, Utc};
use dialpool_engine::TenantId;
use dialpool_engine::intake::import::jobs::{self, ImportJobRow};
use dialpool_engine::{Error, Result};
use serde::Serialize;
use tokio_postgres::GenericClient;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Running,
    Succeeded,
    Failed,
}

/// A running or just-finished import as its progress stream reports it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportTaskView {
    /// The import job's id.
    pub task_id: String,
    pub status: TaskStatus,
    pub provider_id: i64,
    pub provider_code: String,
    pub file_name: String,
    pub bytes_total: u64,
    pub bytes_read: u64,
    pub rows_read: u64,
    pub rows_merged: u64,
    pub started_at: DateTime<Utc>,
    /// Set once the import has succeeded.
    pub import_id: Option<i64>,
    pub error: Option<String>,
}

impl ImportTaskView {
    pub fn is_running(&self) -> bool {
        self.status == TaskStatus::Running
    }
}

/// Finished imports stay in the list this long, so a page opened just after the end
/// still shows the outcome before it switches to the import's record.
const KEEP_FINISHED_SECONDS: f64 = 600.0;

fn view(job: ImportJobRow) -> ImportTaskView {
    let ImportJobRow { id, state, args, progress, result, errors, created_at, provider_id } = job;
    let state = state.as_str();
    // A finished import's figures are its summary's; its progress trails by a renewal.
    let summary = result.as_ref().filter(|_| state == "succeeded");
    let count = |key: &str| progress.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let summed = |keys: &[&str]| -> Option<u64> {
        let summary = summary?;
        Some(keys.iter().filter_map(|k| summary.get(*k).and_then(serde_json::Value::as_u64)).sum())
    };
    let status = match state {
        "succeeded" => TaskStatus::Succeeded,
        "dead" | "cancelled" => TaskStatus::Failed,
        _ => TaskStatus::Running,
    };
    let error = match (status, state) {
        (TaskStatus::Failed, "cancelled") => Some("cancelled".to_owned()),
        (TaskStatus::Failed, _) => errors
            .as_array()
            .and_then(|e| e.last())
            .and_then(|e| e.get("error"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let text = |value: &serde_json::Value, key: &str| {
        value.get(key).and_then(|v| v.as_str()).unwrap_or("").to_owned()
    };
    ImportTaskView {
        task_id: id.to_string(),
        status,
        provider_id,
        provider_code: text(&args, "provider"),
        file_name: text(&args, "file_name"),
        bytes_total: count("total"),
        bytes_read: if summary.is_some() { count("total") } else { count("done") },
        rows_read: summed(&["total"]).unwrap_or_else(|| count("rows_read")),
        rows_merged: summed(&["inserted", "updated", "duplicate_existing"])
            .unwrap_or_else(|| count("rows_merged")),
        started_at: created_at,
        import_id: result.as_ref().and_then(|r| r.get("import_id")).and_then(serde_json::Value::as_i64),
        error,
    }
}

/// A tenant's import task; None for another tenant's (its existence is not told).
pub async fn get(client: &impl GenericClient, tenant: TenantId, id: &str) -> Result<Option<ImportTaskView>> {
    let Ok(id) = id.parse::<i64>() else { return Ok(None) };
    Ok(jobs::get(client, tenant, id).await?.map(view))
}

/// A tenant's imports waiting or running, and those finished in the last minutes; newest
/// first.
pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<ImportTaskView>> {
    Ok(jobs::recent(client, tenant, KEEP_FINISHED_SECONDS).await?.into_iter().map(view).collect())
}

/// Queues an HTTP upload's import. The job owns the uploaded file from here and removes
/// it once the import has its outcome.
pub async fn enqueue(
    client: &impl GenericClient,
    tenant: TenantId,
    actor: &dialpool_engine::platform::audit::Actor,
    job: &dialpool_engine::intake::import::ImportJob,
) -> Result<i64> {
    use dialpool_engine::platform::job::JobArgs;
    let mut new = job.job(Some(tenant), Some(actor));
    new.created_by = actor.user_id;
    // People wait on these in the browser: ahead of scheduled and partners' imports.
    new.priority = 10;
    dialpool_engine::platform::job::enqueue(client, &new)
        .await?
        .ok_or_else(|| Error::Refused("the import was not queued".into()))
}
