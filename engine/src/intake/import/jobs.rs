//! Import jobs as the API follows them: a tenant's waiting, running and just-finished
//! import jobs, with the provider their file is imported as. What they mean to a caller
//! (a task with progress) is the API's to say.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::error::Result;

/// An import job: its state and the JSON its worker reports.
#[derive(Debug, Clone)]
pub struct ImportJobRow {
    pub id: i64,
    pub state: String,
    pub args: serde_json::Value,
    pub progress: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub errors: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub provider_id: i64,
}

const COLUMNS: &str =
    "j.id, j.state::text AS state, j.args, j.progress, j.result, j.errors, j.created_at, p.id AS provider_id
    FROM jobs j
    JOIN providers p ON p.tenant_id = j.tenant_id AND p.code = j.args->>'provider'";

fn row(row: &tokio_postgres::Row) -> ImportJobRow {
    ImportJobRow {
        id: row.get("id"),
        state: row.get("state"),
        args: row.get("args"),
        progress: row.get("progress"),
        result: row.get("result"),
        errors: row.get("errors"),
        created_at: row.get("created_at"),
        provider_id: row.get("provider_id"),
    }
}

/// The tenant's import job `id`; None for another tenant's.
pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Option<ImportJobRow>> {
    Ok(client
        .query_opt(
            &format!("SELECT {COLUMNS} WHERE j.kind = 'import' AND j.tenant_id = $1 AND j.id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .as_ref()
        .map(row))
}

/// The tenant's import jobs waiting or running, and those finished in the last
/// `finished_within_s` seconds; newest first, at most 200.
pub async fn recent(
    client: &impl GenericClient,
    tenant: TenantId,
    finished_within_s: f64,
) -> Result<Vec<ImportJobRow>> {
    Ok(client
        .query(
            &format!(
                "SELECT {COLUMNS}
                  WHERE j.kind = 'import' AND j.tenant_id = $1
                    AND (j.state IN ('queued', 'running', 'retrying')
                         OR j.finished_at > now() - make_interval(secs => $2))
                  ORDER BY j.id DESC LIMIT 200"
            ),
            &[&tenant.0, &finished_within_s],
        )
        .await?
        .iter()
        .map(row)
        .collect())
}

/// Import jobs running now, on every server.
pub async fn running_count(client: &impl GenericClient) -> Result<i64> {
    Ok(client
        .query_one("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'running'", &[])
        .await?
        .get(0))
}
