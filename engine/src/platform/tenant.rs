//! Tenants as the engine sees them: every call names one.

use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::error::{Error, Result};

/// Finds an enabled tenant by its slug.
pub async fn find_by_slug(client: &impl GenericClient, slug: &str) -> Result<TenantId> {
    client
        .query_opt("SELECT id FROM tenants WHERE slug = $1 AND disabled_at IS NULL", &[&slug])
        .await?
        .map(|row| TenantId(row.get(0)))
        .ok_or_else(|| Error::NotFound { entity: "tenant", key: slug.to_owned() })
}

/// A company using the installation, with its limits.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Numbers the tenant may hold; unlimited when absent.
    pub max_numbers: Option<i64>,
    /// Rows the tenant may export per day; unlimited when absent.
    pub max_export_rows_per_day: Option<i64>,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lower-case letters, digits and `-`.
    pub slug: String,
    pub name: String,
    pub max_numbers: Option<i64>,
    pub max_export_rows_per_day: Option<i64>,
    /// The tenant's first administrator.
    pub admin_email: String,
    pub admin_password: String,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    pub name: Option<String>,
    /// `null` lifts the limit; absent leaves it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_numbers: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub max_export_rows_per_day: Option<Option<i64>>,
    pub disabled: Option<bool>,
}

/// Tells a JSON `null` (clear) from an absent field (keep).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        Option::<i64>::deserialize(d).map(Some)
    }
}

const SELECT: &str =
    "SELECT id, slug, name, max_numbers, max_export_rows_per_day, disabled_at IS NOT NULL AS disabled,
        created_at FROM tenants";

fn from_row(r: &tokio_postgres::Row) -> Tenant {
    Tenant {
        id: r.get("id"),
        slug: r.get("slug"),
        name: r.get("name"),
        max_numbers: r.get("max_numbers"),
        max_export_rows_per_day: r.get("max_export_rows_per_day"),
        disabled: r.get("disabled"),
        created_at: r.get("created_at"),
    }
}

/// All tenants: a platform has tens or hundreds, listed whole.
pub async fn list(client: &impl GenericClient) -> Result<Vec<Tenant>> {
    Ok(client.query(&format!("{SELECT} ORDER BY slug"), &[]).await?.iter().map(from_row).collect())
}

pub async fn get(client: &impl GenericClient, id: i64) -> Result<Tenant> {
    client
        .query_opt(&format!("{SELECT} WHERE id = $1"), &[&id])
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "tenant", key: id.to_string() })
}

fn validate_limits(max_numbers: Option<i64>, max_export: Option<i64>) -> Result<()> {
    if max_numbers.is_some_and(|m| m < 0) {
        return Err(Error::invalid("max_numbers", "must not be negative"));
    }
    if max_export.is_some_and(|m| m < 0) {
        return Err(Error::invalid("max_export_rows_per_day", "must not be negative"));
    }
    Ok(())
}

/// Creates a tenant (seeded with geos, statuses and roles) and its first administrator.
/// The platform's audit entry goes to the acting tenant; the new tenant's log starts with
/// its administrator's creation.
pub async fn create(
    client: &mut impl GenericClient,
    acting_tenant: TenantId,
    actor: &crate::platform::audit::Actor,
    input: &NewTenant,
) -> Result<Tenant> {
    use crate::platform::audit::{self, Change};
    let slug = input.slug.trim().to_owned();
    let valid_slug = !slug.is_empty()
        && slug.len() <= 63
        && slug.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_slug {
        return Err(Error::invalid("slug", "must be 1 to 63 of a-z 0-9 -, starting with a letter or digit"));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    validate_limits(input.max_numbers, input.max_export_rows_per_day)?;
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO tenants (slug, name, max_numbers, max_export_rows_per_day) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&slug, &name, &input.max_numbers, &input.max_export_rows_per_day],
        )
        .await
        .map_err(|e| crate::platform::error::map_unique_violation(e, "tenants_slug_key", "tenant", &slug))?
        .get(0);
    let tenant = get(&tx, id).await?;
    let admin_role: i64 = tx
        .query_one("SELECT id FROM roles WHERE tenant_id = $1 AND name = 'admin' AND built_in", &[&id])
        .await?
        .get(0);
    let mut tx = tx;
    let admin = crate::platform::access::NewUser {
        email: input.admin_email.clone(),
        display_name: "Administrator".into(),
        password: input.admin_password.clone(),
        role_id: admin_role,
        locale: "en".into(),
        scopes: Default::default(),
    };
    crate::platform::access::create_user(&mut tx, TenantId(id), actor, &admin).await?;
    audit::record(&tx, acting_tenant, actor, Change::created("tenant.create", "tenant", id, &tenant)).await?;
    tx.commit().await?;
    Ok(tenant)
}

pub async fn update(
    client: &mut impl GenericClient,
    acting_tenant: TenantId,
    actor: &crate::platform::audit::Actor,
    id: i64,
    input: &TenantUpdate,
) -> Result<Tenant> {
    use crate::platform::audit::{self, Change};
    validate_limits(input.max_numbers.flatten(), input.max_export_rows_per_day.flatten())?;
    if id == acting_tenant.0 && input.disabled == Some(true) {
        return Err(Error::Refused("a platform administrator cannot disable their own tenant".into()));
    }
    let tx = client.transaction().await?;
    let before = get(&tx, id).await?;
    tx.execute(
        "UPDATE tenants SET name = COALESCE($2, name),
                max_numbers = CASE WHEN $3 THEN $4 ELSE max_numbers END,
                max_export_rows_per_day = CASE WHEN $5 THEN $6 ELSE max_export_rows_per_day END,
                disabled_at = CASE WHEN $7::boolean IS NULL THEN disabled_at
                                   WHEN $7 THEN COALESCE(disabled_at, now()) ELSE NULL END
          WHERE id = $1",
        &[
            &id,
            &input.name.as_deref().map(str::trim),
            &input.max_numbers.is_some(),
            &input.max_numbers.flatten(),
            &input.max_export_rows_per_day.is_some(),
            &input.max_export_rows_per_day.flatten(),
            &input.disabled,
        ],
    )
    .await?;
    let after = get(&tx, id).await?;
    audit::record(&tx, acting_tenant, actor, Change::updated("tenant.update", "tenant", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}
