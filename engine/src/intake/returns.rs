//! Returns: numbers that proved bad within a provider's return window go back to it as a
//! batch with the reason per number, in a CSV or XLSX file (kept under the data
//! directory, or dropped in the provider's SFTP outbox), credited at the price recorded
//! on the import that brought them, and taken out of every pool for good.
//!
//! A provider's rules say how many days after delivery a number may still be returned
//! and which statuses qualify (`invalid` by default: numbers a call found disconnected
//! or wrong). Rows the import refused qualify too when the rules name them: a number on
//! the DNC list at delivery (`dnc_at_delivery`), or one this provider had sold before
//! (`duplicate`); imports keep such rows (`import_refusals`) only for providers whose
//! rules ask for them. A number goes back once per delivery (the table of returned
//! numbers is keyed by import and number); one return batch runs at a time per tenant,
//! so two at once cannot both take the same numbers. A number under a live lease waits
//! for the next batch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};

/// What a provider takes back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRules {
    /// Days after delivery (the import) a number may still be returned, 1 to 365.
    pub window_days: i32,
    /// Status codes that qualify, e.g. `invalid`, `wrong_number`.
    #[serde(default = "invalid")]
    pub statuses: Vec<String>,
    /// Rows the import refused that qualify: `dnc_at_delivery`, `duplicate` (a number
    /// this provider had sold before). Imports keep them from when this is set.
    #[serde(default)]
    pub refused: Vec<String>,
}

/// What `refused` may name.
pub const REFUSALS: [&str; 2] = ["dnc_at_delivery", "duplicate"];

fn invalid() -> Vec<String> {
    vec!["invalid".to_owned()]
}

impl ReturnRules {
    pub fn validate(&self) -> Result<()> {
        if !(1..=365).contains(&self.window_days) {
            return Err(Error::invalid("window_days", format!("{} must be 1 to 365 days", self.window_days)));
        }
        if self.statuses.is_empty() && self.refused.is_empty() {
            return Err(Error::invalid("statuses", "name at least one status or refusal that qualifies"));
        }
        if let Some(other) = self.refused.iter().find(|r| !REFUSALS.contains(&r.as_str())) {
            return Err(Error::invalid(
                "refused",
                format!("'{other}' is not one of {}", REFUSALS.join(", ")),
            ));
        }
        Ok(())
    }
}

/// Sets (or with None removes) a provider's return rules; the statuses must exist.
pub async fn set_rules(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    provider_id: i64,
    rules: Option<ReturnRules>,
) -> Result<Option<ReturnRules>> {
    let tx = client.transaction().await?;
    if let Some(r) = &rules {
        r.validate()?;
        let known: Vec<String> = tx
            .query(
                "SELECT code FROM number_statuses WHERE tenant_id = $1 AND code = ANY($2)",
                &[&tenant.0, &r.statuses],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(missing) = r.statuses.iter().find(|s| !known.contains(s)) {
            return Err(Error::invalid("statuses", format!("there is no status '{missing}'")));
        }
    }
    let before = rules_of(&tx, tenant, provider_id).await?;
    let value =
        rules.as_ref().map(serde_json::to_value).transpose().map_err(|e| Error::Worker(e.to_string()))?;
    tx.execute(
        "UPDATE providers SET returns = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &provider_id, &value],
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated("provider.returns", "provider", provider_id, &before, &rules),
    )
    .await?;
    tx.commit().await?;
    Ok(rules)
}

/// A provider's return rules; not found for another tenant's provider.
pub async fn rules_of(
    client: &impl GenericClient,
    tenant: TenantId,
    provider_id: i64,
) -> Result<Option<ReturnRules>> {
    let row = client
        .query_opt(
            "SELECT returns FROM providers WHERE tenant_id = $1 AND id = $2",
            &[&tenant.0, &provider_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "provider", key: provider_id.to_string() })?;
    row.get::<_, Option<serde_json::Value>>(0)
        .map(|v| crate::intake::import::stored_options::<ReturnRules>("returns", &v))
        .transpose()
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    pub provider_id: i64,
    /// `csv` (default) or `xlsx`.
    #[serde(default)]
    pub format: Option<String>,
    /// Drop the file in this partner's SFTP outbox (an account of the same provider).
    #[serde(default)]
    pub sftp_account_id: Option<i64>,
    /// Or push it to this remote SFTP host (one that pushes exports), by a job.
    #[serde(default)]
    pub sftp_remote_id: Option<i64>,
    /// Count what would go back; write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReturnSummary {
    /// None on a dry run or when nothing qualifies.
    pub return_id: Option<i64>,
    pub provider_id: i64,
    pub numbers: i64,
    pub credit: f64,
    /// Numbers per reason (the status code).
    pub by_reason: BTreeMap<String, i64>,
    /// Where the file is: under the data directory, or the outbox path the partner sees.
    pub file: Option<String>,
    pub dry_run: bool,
}

/// A return batch as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderReturn {
    pub id: i64,
    pub provider_id: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub numbers: i64,
    pub credit: f64,
    pub format: String,
    pub file_path: String,
    pub sftp_account_id: Option<i64>,
    pub sftp_remote_id: Option<i64>,
}

pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    provider_id: Option<i64>,
) -> Result<Vec<ProviderReturn>> {
    Ok(client
        .query(
            "SELECT id, provider_id, created_at, numbers, credit::float8, format, file_path, sftp_account_id, sftp_remote_id
               FROM provider_returns WHERE tenant_id = $1 AND ($2::bigint IS NULL OR provider_id = $2)
              ORDER BY id DESC LIMIT 500",
            &[&tenant.0, &provider_id],
        )
        .await?
        .iter()
        .map(|r| ProviderReturn {
            id: r.get(0),
            provider_id: r.get(1),
            created_at: r.get(2),
            numbers: r.get(3),
            credit: r.get(4),
            format: r.get(5),
            file_path: r.get(6),
            sftp_account_id: r.get(7),
            sftp_remote_id: r.get(8),
        })
        .collect())
}

/// The status returned numbers take: category `invalid`, so no pool and no lease takes
/// them again; created for the tenant the first time.
async fn returned_status(client: &impl GenericClient, tenant: TenantId) -> Result<i16> {
    client
        .execute(
            "INSERT INTO number_statuses (tenant_id, id, code, name, category)
             SELECT $1, COALESCE(max(id), 0) + 1, 'returned', 'Returned to provider', 'invalid'
               FROM number_statuses WHERE tenant_id = $1
             ON CONFLICT DO NOTHING",
            &[&tenant.0],
        )
        .await?;
    Ok(client
        .query_one("SELECT id FROM number_statuses WHERE tenant_id = $1 AND code = 'returned'", &[&tenant.0])
        .await?
        .get(0))
}

/// Builds a return batch for one provider by its rules.
pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    data_dir: &Path,
    request: &ReturnRequest,
) -> Result<ReturnSummary> {
    let format = request.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "xlsx") {
        return Err(Error::invalid("format", format!("'{format}' is not csv or xlsx")));
    }
    let tx = client.transaction().await?;
    let rules = rules_of(&tx, tenant, request.provider_id).await?.ok_or_else(|| {
        Error::Refused(format!(
            "provider {} takes no returns; set its return rules (window and statuses) first",
            request.provider_id
        ))
    })?;
    let outbox = match (request.sftp_account_id, request.sftp_remote_id) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "sftp_remote_id",
                "a return goes to a partner's outbox or a remote, not both",
            ));
        }
        (None, Some(remote)) => {
            use crate::delivery::sftp::remote::{self, Direction};
            if remote::get(&tx, tenant, remote).await?.direction != Direction::PushExports {
                return Err(Error::invalid("sftp_remote_id", format!("remote {remote} does not push files")));
            }
            Some(remote::local_root(data_dir, remote).join("outbox"))
        }
        (Some(account), None) => {
            let found = crate::delivery::sftp::account::get(&tx, tenant, account).await?;
            if found.provider_id != request.provider_id {
                return Err(Error::invalid(
                    "sftp_account_id",
                    format!(
                        "account {account} belongs to provider {}, not {}",
                        found.provider_id, request.provider_id
                    ),
                ));
            }
            Some(crate::delivery::sftp::account::root(data_dir, account).join("outbox"))
        }
        (None, None) => None,
    };
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.returns', $1))", &[&tenant.0])
        .await?;
    // Stored numbers in a qualifying status, then rows the imports refused; the last
    // column says which (only stored numbers change status).
    let rows = tx
        .query(
            "SELECT n.phone, n.import_id, s.code, COALESCE(i.price_per_number, 0)::float8, i.file_name, i.started_at,
                    true AS stored
               FROM phone_numbers n
               JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
               JOIN imports i ON i.tenant_id = n.tenant_id AND i.id = n.import_id
              WHERE n.tenant_id = $1 AND n.provider_id = $2 AND s.code = ANY($3)
                AND i.started_at >= now() - make_interval(days => $4)
                AND (n.leased_until IS NULL OR n.leased_until <= now())
                AND NOT EXISTS (SELECT FROM provider_return_numbers r
                                 WHERE r.tenant_id = n.tenant_id AND r.import_id = n.import_id AND r.phone = n.phone)
             UNION ALL
             SELECT f.phone, f.import_id, f.reason, COALESCE(i.price_per_number, 0)::float8, i.file_name, i.started_at,
                    false
               FROM import_refusals f
               JOIN imports i ON i.tenant_id = f.tenant_id AND i.id = f.import_id
              WHERE f.tenant_id = $1 AND i.provider_id = $2 AND f.reason = ANY($5) AND i.status = 'succeeded'
                AND i.started_at >= now() - make_interval(days => $4)
                AND NOT EXISTS (SELECT FROM provider_return_numbers r
                                 WHERE r.tenant_id = f.tenant_id AND r.import_id = f.import_id AND r.phone = f.phone)
              ORDER BY 1, 2",
            &[&tenant.0, &request.provider_id, &rules.statuses, &rules.window_days, &rules.refused],
        )
        .await?;
    let mut by_reason: BTreeMap<String, i64> = BTreeMap::new();
    let mut credit = 0.0;
    for r in &rows {
        *by_reason.entry(r.get(2)).or_default() += 1;
        credit += r.get::<_, f64>(3);
    }
    let mut summary = ReturnSummary {
        return_id: None,
        provider_id: request.provider_id,
        numbers: rows.len() as i64,
        credit,
        by_reason,
        file: None,
        dry_run: request.dry_run,
    };
    if request.dry_run || rows.is_empty() {
        return Ok(summary);
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO provider_returns (tenant_id, provider_id, created_by, numbers, credit, format, file_path,
                                           sftp_account_id, sftp_remote_id)
             VALUES ($1, $2, $3, $4, $5::float8::numeric, $6, '', $7, $8) RETURNING id",
            &[
                &tenant.0,
                &request.provider_id,
                &actor.user_id,
                &summary.numbers,
                &credit,
                &format,
                &request.sftp_account_id,
                &request.sftp_remote_id,
            ],
        )
        .await?
        .get(0);
    let phones: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let stored_phones: Vec<i64> = rows.iter().filter(|r| r.get::<_, bool>(6)).map(|r| r.get(0)).collect();
    let imports: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
    let reasons: Vec<String> = rows.iter().map(|r| r.get(2)).collect();
    let credits: Vec<f64> = rows.iter().map(|r| r.get(3)).collect();
    tx.execute(
        "INSERT INTO provider_return_numbers (tenant_id, phone, return_id, import_id, reason, credit)
         SELECT $1, u.phone, $2, u.import_id, u.reason, u.credit::numeric
           FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::float8[]) AS u(phone, import_id, reason, credit)",
        &[&tenant.0, &id, &phones, &imports, &reasons, &credits],
    )
    .await?;
    let status = returned_status(&tx, tenant).await?;
    tx.execute(
        "WITH moved AS (
            UPDATE phone_numbers n SET status = $3, next_eligible_at = NULL, updated_at = now()
              FROM unnest($2::bigint[]) AS u(phone)
             WHERE n.tenant_id = $1 AND n.phone = u.phone
            RETURNING n.phone, n.project_id, n.provider_id, n.geo_id
         )
         INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_to, actor_user_id, data)
         SELECT $1, phone, 'status_changed', project_id, provider_id, geo_id, $3, $4, jsonb_build_object('return', $5::bigint)
           FROM moved",
        &[&tenant.0, &stored_phones, &status, &actor.user_id, &id],
    )
    .await?;

    let name = format!("return-{id}.{format}");
    let (path, shown): (PathBuf, String) = match &outbox {
        Some(dir) => (dir.join(&name), format!("outbox/{name}")),
        None => {
            let relative = format!("returns/{}/{name}", tenant.0);
            (data_dir.join(&relative), relative)
        }
    };
    let mut table =
        vec![["phone", "reason", "import_id", "file", "delivered_at", "credit"].map(str::to_owned).to_vec()];
    for r in &rows {
        table.push(vec![
            r.get::<_, i64>(0).to_string(),
            r.get(2),
            r.get::<_, i64>(1).to_string(),
            r.get(4),
            r.get::<_, chrono::DateTime<chrono::Utc>>(5).to_rfc3339(),
            format!("{:.6}", r.get::<_, f64>(3)),
        ]);
    }
    let bytes = match format {
        "xlsx" => crate::platform::cells::tables_to_xlsx(&[("return", table)])?,
        _ => crate::platform::cells::tables_to_csv(&[("return", table)])?,
    };
    // Written beside and renamed, so a partner never reads half a file; removed again
    // when the batch does not commit.
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let partial = path.with_extension(format!("{format}.partial"));
    std::fs::write(&partial, &bytes).map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
    std::fs::rename(&partial, &path).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    let stored = path.to_string_lossy().into_owned();
    let finish = async {
        tx.execute(
            "UPDATE provider_returns SET file_path = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.0, &id, &stored],
        )
        .await?;
        summary.return_id = Some(id);
        summary.file = Some(shown);
        // The push goes with the batch: both commit or neither.
        if let Some(remote) = request.sftp_remote_id {
            crate::delivery::sftp::remote::enqueue_push(&tx, tenant, remote).await?;
        }
        audit::record(
            &tx,
            tenant,
            actor,
            Change::created("provider.return", "provider_return", id, &summary),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, Error>(())
    };
    if let Err(e) = finish.await {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(summary)
}
