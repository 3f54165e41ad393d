//! The end of an import: its counts, statistics and webhook on success, its failure
//! recorded otherwise.

use super::*;
use crate::intake::provider::Provider;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Transaction};

pub(super) async fn finish_import(
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
                rejects_path = $11, erased = $12, refreshed = $13, finished_at = now()
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
            &c.erased,
            &c.refreshed,
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

pub(super) async fn record_failure(
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
