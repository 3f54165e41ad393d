//! The disposition map: what a dialer's word for a call's end (`NO ANSWER`, `SALE`, `B`)
//! means here — the status it sets, and whether it lists the number as do-not-call.
//! Seeded per tenant for Asterisk and VICIdial; administrators edit it.

use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Disposition {
    /// Upper case, as matched (dialers' words are compared in upper case).
    pub disposition: String,
    pub status_id: i16,
    pub status: String,
    pub dnc: bool,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispositionInput {
    #[schema(example = "CALLBK")]
    pub disposition: String,
    pub status_id: i16,
    #[serde(default)]
    pub dnc: bool,
}

const SELECT: &str = "SELECT m.disposition, m.status_id, s.code AS status, m.dnc
   FROM disposition_map m JOIN number_statuses s ON s.tenant_id = m.tenant_id AND s.id = m.status_id";

fn from_row(row: &Row) -> Disposition {
    Disposition {
        disposition: row.get("disposition"),
        status_id: row.get("status_id"),
        status: row.get("status"),
        dnc: row.get("dnc"),
    }
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<Disposition>> {
    Ok(client
        .query(&format!("{SELECT} WHERE m.tenant_id = $1 ORDER BY m.disposition"), &[&tenant.0])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

async fn get(
    client: &impl GenericClient,
    tenant: TenantId,
    disposition: &str,
) -> Result<Option<Disposition>> {
    Ok(client
        .query_opt(
            &format!("{SELECT} WHERE m.tenant_id = $1 AND m.disposition = $2"),
            &[&tenant.0, &disposition],
        )
        .await?
        .map(|r| from_row(&r)))
}

/// Adds a disposition or changes what it means; calls already stored keep their status.
pub async fn set(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &DispositionInput,
) -> Result<Disposition> {
    let key = input.disposition.trim().to_uppercase();
    if key.is_empty() || key.chars().count() > 40 {
        return Err(Error::invalid("disposition", "must be 1 to 40 characters"));
    }
    let tx = client.transaction().await?;
    crate::pool::status::get(&tx, tenant, input.status_id).await?;
    let before = get(&tx, tenant, &key).await?;
    tx.execute(
        "INSERT INTO disposition_map (tenant_id, disposition, status_id, dnc) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, disposition) DO UPDATE SET status_id = excluded.status_id, dnc = excluded.dnc",
        &[&tenant.0, &key, &input.status_id, &input.dnc],
    )
    .await?;
    let after =
        get(&tx, tenant, &key).await?.ok_or_else(|| Error::Worker("the disposition vanished".into()))?;
    let change = match &before {
        Some(before) => Change::updated("disposition.set", "disposition", &key, before, &after),
        None => Change::created("disposition.set", "disposition", &key, &after),
    };
    audit::record(&tx, tenant, actor, change).await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes a disposition; outcomes that name it are refused from then on.
pub async fn delete(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    disposition: &str,
) -> Result<()> {
    let key = disposition.trim().to_uppercase();
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, &key)
        .await?
        .ok_or_else(|| Error::NotFound { entity: "disposition", key: key.clone() })?;
    tx.execute("DELETE FROM disposition_map WHERE tenant_id = $1 AND disposition = $2", &[&tenant.0, &key])
        .await?;
    audit::record(&tx, tenant, actor, Change::deleted("disposition.delete", "disposition", &key, &before))
        .await?;
    tx.commit().await?;
    Ok(())
}
