//! Number statuses: configurable per tenant, each in a category the engine acts on
//! (fresh, in_work, retry, callback, success, failure, invalid, dnc). Retry and callback
//! statuses carry a cool-down and a maximum number of attempts.

use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};

pub const CATEGORIES: &[&str] =
    &["fresh", "in_work", "retry", "callback", "success", "failure", "invalid", "dnc"];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub id: i16,
    pub code: String,
    pub name: String,
    pub category: String,
    /// Seconds a number waits in this status before it may be dialled again.
    pub cooldown_s: Option<i64>,
    pub max_attempts: Option<i16>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// Lower-case letters, digits and `_`, starting with a letter. Fixed once created.
    pub code: Option<String>,
    pub name: String,
    pub category: String,
    pub cooldown_s: Option<i64>,
    pub max_attempts: Option<i16>,
}

const SELECT: &str = "SELECT id, code, name, category::text AS category,
        extract(epoch FROM cooldown)::bigint AS cooldown_s, max_attempts FROM number_statuses";

fn from_row(row: &Row) -> Status {
    Status {
        id: row.get("id"),
        code: row.get("code"),
        name: row.get("name"),
        category: row.get("category"),
        cooldown_s: row.get("cooldown_s"),
        max_attempts: row.get("max_attempts"),
    }
}

/// A tenant has a handful of statuses; the list is whole, ordered by id.
pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<Status>> {
    Ok(client
        .query(&format!("{SELECT} WHERE tenant_id = $1 ORDER BY id"), &[&tenant.0])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i16) -> Result<Status> {
    client
        .query_opt(&format!("{SELECT} WHERE tenant_id = $1 AND id = $2"), &[&tenant.0, &id])
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "status", key: id.to_string() })
}

fn validate(input: &StatusInput) -> Result<String> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "must be 1 to 100 characters"));
    }
    if !CATEGORIES.contains(&input.category.as_str()) {
        return Err(Error::invalid("category", format!("must be one of {}", CATEGORIES.join(", "))));
    }
    let waits = matches!(input.category.as_str(), "retry" | "callback");
    match (waits, input.cooldown_s) {
        (true, None) => {
            return Err(Error::invalid("cooldown_s", "a retry or callback status needs a cool-down"));
        }
        (false, Some(_)) => {
            return Err(Error::invalid("cooldown_s", "only retry and callback statuses have a cool-down"));
        }
        (_, Some(s)) if !(0..=366 * 86_400).contains(&s) => {
            return Err(Error::invalid("cooldown_s", "must be between 0 and a year"));
        }
        _ => {}
    }
    if input.max_attempts.is_some_and(|m| m < 1) {
        return Err(Error::invalid("max_attempts", "must be at least 1"));
    }
    Ok(name.to_owned())
}

pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &StatusInput,
) -> Result<Status> {
    let name = validate(input)?;
    let code = input.code.clone().unwrap_or_default();
    let valid_code = code.len() <= 41
        && code.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_code {
        return Err(Error::invalid(
            "code",
            "must be lower-case letters, digits and _, starting with a letter",
        ));
    }
    let tx = client.transaction().await?;
    // Ids are small and dense; one tenant's statuses are created by one admin at a time,
    // and the lock makes two at once wait rather than collide.
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.status', $1))", &[&tenant.0]).await?;
    let id: i16 = tx
        .query_one(
            "INSERT INTO number_statuses (tenant_id, id, code, name, category, cooldown, max_attempts)
             SELECT $1, COALESCE(max(id), 0) + 1, $2, $3, $4::text::status_category, make_interval(secs => $5::bigint), $6
               FROM number_statuses WHERE tenant_id = $1
             RETURNING id",
            &[&tenant.0, &code, &name, &input.category, &input.cooldown_s, &input.max_attempts],
        )
        .await
        .map_err(|e| map_unique_violation(e, "number_statuses_tenant_id_code_key", "status", &code))?
        .get(0);
    let status = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("status.create", "status", id, &status)).await?;
    tx.commit().await?;
    Ok(status)
}

pub async fn update(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i16,
    input: &StatusInput,
) -> Result<Status> {
    let name = validate(input)?;
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if input.code.as_ref().is_some_and(|c| *c != before.code) {
        return Err(Error::invalid(
            "code",
            "cannot be changed; files and integrations name the status by it",
        ));
    }
    if id == 0 && input.category != "fresh" {
        return Err(Error::invalid("category", "the status new numbers get must stay fresh"));
    }
    tx.execute(
        "UPDATE number_statuses SET name = $3, category = $4::text::status_category,
                cooldown = make_interval(secs => $5::bigint), max_attempts = $6
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &name, &input.category, &input.cooldown_s, &input.max_attempts],
    )
    .await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("status.update", "status", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete(client: &mut impl GenericClient, tenant: TenantId, actor: &Actor, id: i16) -> Result<()> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if id == 0 {
        return Err(Error::Refused("the status new numbers get cannot be deleted".into()));
    }
    let used: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT FROM phone_numbers WHERE tenant_id = $1 AND status = $2)",
            &[&tenant.0, &id],
        )
        .await?
        .get(0);
    if used {
        return Err(Error::Refused(format!("numbers are in status '{}'; move them first", before.code)));
    }
    tx.execute("DELETE FROM number_statuses WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("status.delete", "status", id, &before)).await?;
    tx.commit().await?;
    Ok(())
}
