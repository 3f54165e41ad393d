//! Do-not-call lists by source, with the day each was last loaded. A list older than its
//! limit (31 days for the US national registry) is stale: Today warns, and a list set to
//! block holds back leases of numbers in its country until it is loaded again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DncList {
    pub id: i64,
    pub name: String,
    /// ISO 3166 country it covers; absent: every number.
    pub country: Option<String>,
    pub max_age_days: Option<i32>,
    pub block_when_stale: bool,
    pub loaded_at: Option<DateTime<Utc>>,
    /// Numbers in its last load.
    pub loaded_entries: i64,
    /// Whole days since its last load.
    pub age_days: Option<i64>,
    /// Older than `max_age_days` (or never loaded while it has a limit).
    pub stale: bool,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DncListInput {
    /// The list's name, e.g. `US national registry`; a list of that name is changed.
    pub name: String,
    pub country: Option<String>,
    /// Days after a load the list counts as stale (31 for the US national registry).
    pub max_age_days: Option<i32>,
    /// Hold back leases of numbers in `country` while the list is stale.
    #[serde(default)]
    pub block_when_stale: bool,
}

const SELECT: &str = "SELECT id, name, country::text AS country, max_age_days, block_when_stale, loaded_at,
        loaded_entries, floor(extract(epoch FROM now() - loaded_at) / 86400)::bigint AS age_days,
        (max_age_days IS NOT NULL AND (loaded_at IS NULL OR loaded_at < now() - make_interval(days => max_age_days)))
            AS stale
   FROM dnc_lists";

fn from_row(r: &Row) -> DncList {
    DncList {
        id: r.get("id"),
        name: r.get("name"),
        country: r.get("country"),
        max_age_days: r.get("max_age_days"),
        block_when_stale: r.get("block_when_stale"),
        loaded_at: r.get("loaded_at"),
        loaded_entries: r.get("loaded_entries"),
        age_days: r.get("age_days"),
        stale: r.get("stale"),
    }
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<DncList>> {
    Ok(client
        .query(&format!("{SELECT} WHERE tenant_id = $1 ORDER BY name"), &[&tenant.0])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// Creates the list of that name or changes it; audited.
pub async fn set(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &DncListInput,
) -> Result<DncList> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains('\0') {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    let country = input.country.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_uppercase);
    if let Some(c) = &country
        && !(c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()))
    {
        return Err(Error::invalid("country", format!("'{c}' is not an ISO 3166 country code such as US")));
    }
    if let Some(days) = input.max_age_days
        && !(1..=3650).contains(&days)
    {
        return Err(Error::invalid("max_age_days", format!("{days} must be 1 to 3650")));
    }
    if input.block_when_stale && input.max_age_days.is_none() {
        return Err(Error::invalid("block_when_stale", "a list blocks only when it has a max_age_days"));
    }
    let tx = client.transaction().await?;
    let before = tx
        .query_opt(&format!("{SELECT} WHERE tenant_id = $1 AND name = $2"), &[&tenant.0, &name])
        .await?
        .map(|r| from_row(&r));
    let id: i64 = tx
        .query_one(
            "INSERT INTO dnc_lists (tenant_id, name, country, max_age_days, block_when_stale)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, name) DO UPDATE
                SET country = $3, max_age_days = $4, block_when_stale = $5
             RETURNING id",
            &[&tenant.0, &name, &country, &input.max_age_days, &input.block_when_stale],
        )
        .await
        .map_err(|e| match e.code() {
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => Error::invalid(
                "country",
                format!("'{}' is not a known country", country.clone().unwrap_or_default()),
            ),
            _ => e.into(),
        })?
        .get(0);
    let after = from_row(
        &tx.query_one(&format!("{SELECT} WHERE tenant_id = $1 AND id = $2"), &[&tenant.0, &id]).await?,
    );
    let change = match &before {
        Some(before) => Change::updated("dnc_list.update", "dnc_list", id, before, &after),
        None => Change::created("dnc_list.create", "dnc_list", id, &after),
    };
    audit::record(&tx, tenant, actor, change).await?;
    tx.commit().await?;
    Ok(after)
}

/// The id of the list named `name`, created (with no age limit) when missing.
pub(crate) async fn id_for_load(client: &impl GenericClient, tenant: TenantId, name: &str) -> Result<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains('\0') {
        return Err(Error::invalid("list", "must be 1 to 200 characters"));
    }
    Ok(client
        .query_one(
            "INSERT INTO dnc_lists (tenant_id, name) VALUES ($1, $2)
             ON CONFLICT (tenant_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            &[&tenant.0, &name],
        )
        .await?
        .get(0))
}

/// Records a load of the list: it is fresh again.
pub(crate) async fn loaded(
    client: &impl GenericClient,
    tenant: TenantId,
    id: i64,
    entries: i64,
) -> Result<()> {
    client
        .execute(
            "UPDATE dnc_lists SET loaded_at = now(), loaded_entries = $3 WHERE tenant_id = $1 AND id = $2",
            &[&tenant.0, &id, &entries],
        )
        .await?;
    Ok(())
}

/// What stale blocking lists hold back at `at`: the geos of their countries, and whether
/// one covers every number.
pub async fn blocked(
    client: &impl GenericClient,
    tenant: TenantId,
    at: DateTime<Utc>,
) -> Result<(Vec<i64>, bool)> {
    let row = client
        .query_one(
            "SELECT COALESCE(array_agg(g.id) FILTER (WHERE g.id IS NOT NULL), '{}'), COALESCE(bool_or(l.country IS NULL), false)
               FROM dnc_lists l
               LEFT JOIN geos g ON g.tenant_id = l.tenant_id AND g.country = l.country
              WHERE l.tenant_id = $1 AND l.block_when_stale AND l.max_age_days IS NOT NULL
                AND (l.loaded_at IS NULL OR l.loaded_at < $2::timestamptz - make_interval(days => l.max_age_days))",
            &[&tenant.0, &at],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}
