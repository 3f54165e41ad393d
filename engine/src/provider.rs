//! Providers: the vendors numbers are bought from. They exist before their files.

use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

use crate::audit::{self, Actor, Change};
use crate::error::{Error, Result, map_unique_violation};
use crate::import::mapping::ColumnMapping;
use crate::phone::Region;
use crate::tenant::TenantId;

#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub default_region: Option<String>,
    /// The saved column mapping, e.g. `phone=3,geo=Region`; empty when headers are recognised.
    pub column_mapping: ColumnMapping,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Provider {
    fn from_row(row: &Row) -> Result<Self> {
        Ok(Provider {
            id: row.get("id"),
            code: row.get("code"),
            name: row.get("name"),
            default_region: row.get::<_, Option<String>>("default_region"),
            column_mapping: ColumnMapping::from_json(&row.get::<_, serde_json::Value>("column_mapping"))?,
            created_at: row.get("created_at"),
        })
    }

    pub fn region(&self) -> Option<Region> {
        self.default_region.as_deref().and_then(|r| Region::parse(r).ok())
    }
}

#[derive(Debug, Clone)]
pub struct NewProvider {
    pub code: String,
    pub name: String,
    pub default_region: Option<Region>,
    pub column_mapping: ColumnMapping,
}

const COLUMNS: &str = "id, code, name, default_region, column_mapping, created_at";

pub async fn add(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    new: NewProvider,
) -> Result<Provider> {
    validate_code(&new.code)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO providers (tenant_id, code, name, default_region, column_mapping)
                 VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
            ),
            &[
                &tenant.0,
                &new.code,
                &name,
                &new.default_region.map(|r| r.code().to_owned()),
                &new.column_mapping.to_json(),
            ],
        )
        .await
        .map_err(|e| map_unique_violation(e, "providers_tenant_id_code_key", "provider", &new.code))?;
    let provider = Provider::from_row(&row)?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change {
            action: "provider.create",
            entity: "provider",
            entity_id: provider.id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&provider).unwrap_or_default()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(provider)
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<Provider>> {
    client
        .query(&format!("SELECT {COLUMNS} FROM providers WHERE tenant_id = $1 ORDER BY code"), &[&tenant.0])
        .await?
        .iter()
        .map(Provider::from_row)
        .collect()
}

pub async fn find_by_code(client: &impl GenericClient, tenant: TenantId, code: &str) -> Result<Provider> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM providers WHERE tenant_id = $1 AND code = $2"),
            &[&tenant.0, &code],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "provider", key: code.to_owned() })?;
    Provider::from_row(&row)
}

fn validate_code(code: &str) -> Result<()> {
    let mut chars = code.chars();
    let valid = code.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "code",
            format!("'{code}' must be 1 to 64 of A-Z a-z 0-9 _ . - and start with a letter or digit"),
        ))
    }
}
