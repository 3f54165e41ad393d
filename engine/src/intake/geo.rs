//! Geos: a country, optionally a region of it, with the IANA time zone calling hours and
//! schedules are read in. Every tenant starts with one geo per country.

use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Geo {
    pub id: i64,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The region's code inside the country (e.g. `MOW`), absent for the whole country.
    pub region: Option<String>,
    /// `RU` or `RU-MOW`: what import files and filters name a geo by.
    pub code: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Moscow`.
    pub time_zone: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGeo {
    pub country: String,
    pub region: Option<String>,
    pub name: String,
    pub time_zone: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoUpdate {
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

const SORTS: &[SortKey] = &[
    SortKey { name: "code", column: "g.code", sql_type: "text" },
    SortKey { name: "name", column: "g.name", sql_type: "text" },
];

const SELECT: &str = "SELECT g.id, g.country::text AS country, g.region, g.code, g.name, g.time_zone";

fn from_row(row: &Row) -> Geo {
    Geo {
        id: row.get("id"),
        country: row.get("country"),
        region: row.get("region"),
        code: row.get("code"),
        name: row.get("name"),
        time_zone: row.get("time_zone"),
    }
}

pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    q: Option<&str>,
    country: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Geo>> {
    let keyset = Keyset::resolve(page, SORTS)?;
    let sql = format!(
        "{SELECT}, {col}::text AS sort_value FROM geos g WHERE g.tenant_id = $1
            AND ($5::text IS NULL OR strpos(lower(g.code || ' ' || g.name), lower($5)) > 0)
            AND ($6::text IS NULL OR g.country = upper($6))
            {clause} {order} LIMIT $4",
        col = keyset.key.column,
        clause = keyset.clause("g.id", 2, 3),
        order = keyset.order_by("g.id"),
    );
    let (v, id) = keyset.after();
    let rows = client.query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit(), &q, &country]).await?;
    keyset.page_of(&rows, "id", |r| Ok(from_row(r)))
}

/// The id of the tenant's geo with this code (`RU`, `RU-MOW`; any case).
pub async fn id_by_code(client: &impl GenericClient, tenant: TenantId, code: &str) -> Result<i64> {
    client
        .query_opt("SELECT id FROM geos WHERE tenant_id = $1 AND code = upper($2)", &[&tenant.0, &code])
        .await?
        .map(|row| row.get(0))
        .ok_or_else(|| Error::NotFound { entity: "geo", key: code.to_owned() })
}

pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Geo> {
    client
        .query_opt(&format!("{SELECT} FROM geos g WHERE g.tenant_id = $1 AND g.id = $2"), &[&tenant.0, &id])
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "geo", key: id.to_string() })
}

pub async fn validate_time_zone(client: &impl GenericClient, zone: &str) -> Result<()> {
    let known: bool = client
        .query_one("SELECT EXISTS (SELECT FROM pg_timezone_names WHERE name = $1)", &[&zone])
        .await?
        .get(0);
    if known {
        Ok(())
    } else {
        Err(Error::invalid("time_zone", format!("'{zone}' is not an IANA time zone")))
    }
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &NewGeo,
) -> Result<Geo> {
    let country = input.country.trim().to_uppercase();
    let known: bool =
        client.query_one("SELECT EXISTS (SELECT FROM countries WHERE code = $1)", &[&country]).await?.get(0);
    if !known {
        return Err(Error::invalid("country", format!("'{country}' is not an ISO 3166 country code")));
    }
    let region = input.region.as_deref().map(|r| r.trim().to_uppercase()).filter(|r| !r.is_empty());
    if let Some(region) = &region
        && !(region.len() <= 10 && region.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(Error::invalid("region", "must be 1 to 10 letters or digits, e.g. MOW"));
    }
    let name = validate_name(&input.name)?;
    validate_time_zone(&*client, &input.time_zone).await?;
    let code = match &region {
        Some(r) => format!("{country}-{r}"),
        None => country.clone(),
    };
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO geos (tenant_id, country, region, name, time_zone) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&tenant.0, &country, &region, &name, &input.time_zone],
        )
        .await
        .map_err(|e| map_unique_violation(e, "geos_tenant_id_code_key", "geo", &code))?
        .get(0);
    let geo = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("geo.create", "geo", id, &geo)).await?;
    tx.commit().await?;
    Ok(geo)
}

pub async fn update(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    input: &GeoUpdate,
) -> Result<Geo> {
    let name = input.name.as_deref().map(validate_name).transpose()?;
    if let Some(zone) = &input.time_zone {
        validate_time_zone(&*client, zone).await?;
    }
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    tx.execute(
        "UPDATE geos SET name = COALESCE($3, name), time_zone = COALESCE($4, time_zone) WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &name, &input.time_zone],
    )
    .await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("geo.update", "geo", id, &before, &after)).await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete(client: &mut impl GenericClient, tenant: TenantId, actor: &Actor, id: i64) -> Result<()> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    let used: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT FROM phone_numbers WHERE tenant_id = $1 AND geo_id = $2)
                 OR EXISTS (SELECT FROM project_sources WHERE tenant_id = $1 AND geo_id = $2)",
            &[&tenant.0, &id],
        )
        .await?
        .get(0);
    if used {
        return Err(Error::Refused(format!(
            "geo {} is used by numbers or pool rules and cannot be deleted",
            before.code
        )));
    }
    tx.execute("DELETE FROM geos WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("geo.delete", "geo", id, &before)).await?;
    tx.commit().await?;
    Ok(())
}
