//! Dialers and softphones: leases ([`lease`]), calling hours ([`hours`]), call outcomes
//! ([`outcome`], from the API and from CDR files in [`files`]) and the screen pop.

pub mod dispositions;
pub mod files;
pub mod hours;
pub mod lease;
pub mod outcome;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::intake::phone::{self, Region, format_e164};
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::error::{Error, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PastCall {
    pub call_id: String,
    pub disposition: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub duration_s: Option<i32>,
    pub agent: Option<String>,
    pub notes: Option<String>,
}

/// What an agent's screen shows when a number rings or is dialled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScreenPop {
    pub phone: String,
    pub project_id: Option<i64>,
    pub project: Option<String>,
    pub provider: String,
    pub geo: Option<String>,
    pub status: String,
    pub status_category: String,
    pub attempts: i16,
    pub leased_until: Option<DateTime<Utc>>,
    pub dnc: bool,
    pub attributes: serde_json::Value,
    /// The latest calls first, at most ten.
    pub last_calls: Vec<PastCall>,
}

/// Looks a number up by any format (`region` reads national ones).
pub async fn screen_pop(
    client: &impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    raw: &str,
    region: Option<Region>,
) -> Result<ScreenPop> {
    let phone = phone::parse_input("phone", raw, region)?;
    let not_found = || Error::NotFound { entity: "number", key: format_e164(phone) };
    let row = client
        .query_opt(
            include_str!("dialing.screen_pop.sql"),
            &[
                &tenant.0,
                &phone,
                &scope.project_filter().map(<[i64]>::to_vec),
                &scope.provider_filter().map(<[i64]>::to_vec),
            ],
        )
        .await?
        .ok_or_else(not_found)?;
    let last_calls = client
        .query(
            "SELECT o.call_id, o.disposition, s.code AS status, o.started_at, o.duration_s, o.agent, o.notes
               FROM call_outcomes o JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
              WHERE o.tenant_id = $1 AND o.phone = $2 ORDER BY o.started_at DESC LIMIT 10",
            &[&tenant.0, &phone],
        )
        .await?
        .iter()
        .map(|r| PastCall {
            call_id: r.get("call_id"),
            disposition: r.get("disposition"),
            status: r.get("status"),
            started_at: r.get("started_at"),
            duration_s: r.get("duration_s"),
            agent: r.get("agent"),
            notes: r.get("notes"),
        })
        .collect();
    Ok(ScreenPop {
        phone: format_e164(phone),
        project_id: row.get("project_id"),
        project: row.get("project"),
        provider: row.get("provider"),
        geo: row.get("geo"),
        status: row.get("status"),
        status_category: row.get("category"),
        attempts: row.get("attempts"),
        leased_until: row.get("leased_until"),
        dnc: row.get("dnc"),
        attributes: row.get("attributes"),
        last_calls,
    })
}
