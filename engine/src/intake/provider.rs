//! Providers: the vendors numbers are bought from. They exist before their files.

use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::intake::import::mapping::ColumnMapping;
use crate::intake::import::reentry::ReentryRule;
use crate::intake::phone::Region;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Provider {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub default_region: Option<String>,
    /// The saved column mapping, e.g. `phone=3,geo=Region`; empty when headers are recognised.
    #[schema(value_type = String, example = "phone=3,geo=Region")]
    pub column_mapping: ColumnMapping,
    /// What a number stored before becomes when this provider sends it again; absent:
    /// skip (a duplicate).
    pub reentry: Option<ReentryRule>,
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
            reentry: row
                .get::<_, Option<serde_json::Value>>("reentry")
                .map(|v| crate::intake::import::stored_options::<ReentryRule>("reentry", &v))
                .transpose()?,
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
    pub reentry: Option<ReentryRule>,
}

const COLUMNS: &str = "id, code, name, default_region, column_mapping, reentry, created_at";

fn reentry_json(rule: &Option<ReentryRule>) -> Option<serde_json::Value> {
    rule.as_ref().filter(|r| !r.is_skip()).and_then(|r| serde_json::to_value(r).ok())
}

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
                "INSERT INTO providers (tenant_id, code, name, default_region, column_mapping, reentry)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[
                &tenant.0,
                &new.code,
                &name,
                &new.default_region.map(|r| r.code().to_owned()),
                &new.column_mapping.to_json(),
                &reentry_json(&new.reentry),
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

/// A provider as the API creates or replaces it. The mapping is `field=column` pairs,
/// column by 1-based position or header name (fields: phone, phone_code, geo, name).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// Fixed once created; files and SFTP accounts name the provider by it.
    pub code: Option<String>,
    pub name: String,
    pub default_region: Option<String>,
    #[serde(default)]
    pub column_mapping: String,
    /// Look-back window: `{"mode": "refresh", "after_days": 30, "scope": "system"}`;
    /// absent or `skip`: numbers stored before are duplicates.
    #[serde(default)]
    pub reentry: Option<ReentryRule>,
}

impl ProviderInput {
    pub fn into_new(self) -> Result<NewProvider> {
        Ok(NewProvider {
            code: self.code.unwrap_or_default(),
            name: self.name,
            default_region: self
                .default_region
                .as_deref()
                .filter(|r| !r.is_empty())
                .map(Region::parse)
                .transpose()?,
            column_mapping: ColumnMapping::parse(&self.column_mapping)?,
            reentry: self.reentry.map(|r| r.validate("reentry")).transpose()?,
        })
    }
}

const SORTS: &[SortKey] = &[
    SortKey { name: "code", column: "code", sql_type: "text" },
    SortKey { name: "name", column: "name", sql_type: "text" },
    SortKey { name: "created_at", column: "created_at", sql_type: "timestamptz" },
];

/// A page of providers; `only` limits it to those ids (a scoped caller's providers).
pub async fn list_page(
    client: &impl GenericClient,
    tenant: TenantId,
    only: Option<&[i64]>,
    q: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Provider>> {
    let keyset = Keyset::resolve(page, SORTS)?;
    let sql = format!(
        "SELECT {COLUMNS}, {col}::text AS sort_value FROM providers
          WHERE tenant_id = $1 AND ($5::bigint[] IS NULL OR id = ANY($5))
            AND ($6::text IS NULL OR strpos(lower(code || ' ' || name), lower($6)) > 0)
            {clause} {order} LIMIT $4",
        col = keyset.key.column,
        clause = keyset.clause("id", 2, 3),
        order = keyset.order_by("id"),
    );
    let (v, id) = keyset.after();
    let only = only.map(<[i64]>::to_vec);
    let rows = client.query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit(), &only, &q]).await?;
    keyset.page_of(&rows, "id", Provider::from_row)
}

pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Provider> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM providers WHERE tenant_id = $1 AND id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "provider", key: id.to_string() })?;
    Provider::from_row(&row)
}

/// Replaces a provider's name, default region and mapping; the code stays.
pub async fn update(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    input: ProviderInput,
) -> Result<Provider> {
    let code = input.code.clone();
    let new = input.into_new()?;
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if code.is_some_and(|c| !c.is_empty() && c != before.code) {
        return Err(Error::invalid(
            "code",
            "cannot be changed; files and SFTP accounts name the provider by it",
        ));
    }
    let row = tx
        .query_one(
            &format!(
                "UPDATE providers SET name = $3, default_region = $4, column_mapping = $5, reentry = $6,
                        updated_at = now()
                  WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
            ),
            &[
                &tenant.0,
                &id,
                &name,
                &new.default_region.map(|r| r.code().to_owned()),
                &new.column_mapping.to_json(),
                &reentry_json(&new.reentry),
            ],
        )
        .await?;
    let after = Provider::from_row(&row)?;
    audit::record(&tx, tenant, actor, Change::updated("provider.update", "provider", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}
