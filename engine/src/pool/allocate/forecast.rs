//! How long each project's pool lasts: the numbers it could take now, against its recent
//! daily rate.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{Catalog, load_projects, plan_run, pool_stats, rule_prefixes};
use crate::platform::TenantId;
use crate::platform::error::Result;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub project_id: i64,
    pub name: String,
    pub status: String,
    pub daily_quota: i32,
    /// Numbers of the shared pool the project could take now. Projects with overlapping
    /// pools count the same numbers; each count is what that project alone could reach.
    pub eligible: i64,
    /// Allocated over the last 7 days (the project's days).
    pub allocated_last_7_days: i64,
    /// The recent daily rate, or the quota times the scheduled share of the week for a
    /// project without history.
    pub rate_per_day: f64,
    /// `eligible / rate_per_day`; absent when the rate is 0.
    pub days_left: Option<f64>,
}

pub async fn forecast(
    client: &impl GenericClient,
    tenant: TenantId,
    only: Option<&[i64]>,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<Forecast>> {
    let at = at.unwrap_or_else(Utc::now);
    let catalog = Catalog::load(client, tenant).await?;
    let projects = load_projects(client, tenant, None, at, only).await?;
    let prefixes = rule_prefixes(&projects);
    let together = crate::pool::groups::keep_together_ids(client, tenant).await?;
    let stats = pool_stats(client, tenant, at, &prefixes, &together).await?;
    let planned = plan_run(&projects, &catalog, &stats, &prefixes);
    let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let history = client
        .query(
            "SELECT p.id, COALESCE(sum(f.allocated), 0)::bigint AS allocated,
                    (SELECT count(DISTINCT weekday) FROM project_schedules s
                      WHERE s.tenant_id = p.tenant_id AND s.project_id = p.id)::int AS days_per_week
               FROM projects p
               LEFT JOIN project_fills f ON f.tenant_id = p.tenant_id AND f.project_id = p.id
                     AND f.day > ($3::timestamptz AT TIME ZONE p.time_zone)::date - 7
              WHERE p.tenant_id = $1 AND p.id = ANY($2)
              GROUP BY p.tenant_id, p.id",
            &[&tenant.0, &ids, &at],
        )
        .await?;
    Ok(projects
        .iter()
        .zip(planned.runs)
        .map(|(p, run)| {
            let row = history.iter().find(|r| r.get::<_, i64>(0) == p.id);
            let allocated: i64 = row.map(|r| r.get(1)).unwrap_or(0);
            let days_per_week: i32 = row.map(|r| r.get(2)).unwrap_or(0);
            let rate = if allocated > 0 {
                allocated as f64 / 7.0
            } else if p.status == "active" {
                p.daily_quota as f64 * days_per_week as f64 / 7.0
            } else {
                0.0
            };
            Forecast {
                project_id: p.id,
                name: p.name.clone(),
                status: p.status.clone(),
                daily_quota: p.daily_quota,
                eligible: run.eligible,
                allocated_last_7_days: allocated,
                rate_per_day: rate,
                days_left: (rate > 0.0).then(|| run.eligible as f64 / rate),
            }
        })
        .collect())
}
