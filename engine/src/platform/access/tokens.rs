//! API tokens: a user's secret for dialers and scripts, with its own permissions.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

// API tokens

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub user_id: i64,
    pub user_email: String,
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    pub name: String,
    /// A subset of the creator's own permissions; the token never has more than its user.
    pub permissions: Vec<String>,
    /// When absent, the token lives until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

const TOKEN_SORTS: &[SortKey] = &[
    SortKey { name: "created_at", column: "t.created_at", sql_type: "timestamptz" },
    SortKey { name: "name", column: "t.name", sql_type: "text" },
];

const TOKEN_SELECT: &str =
    "SELECT t.id, t.name, t.user_id, u.email AS user_email, t.permissions, t.expires_at,
        t.revoked_at, t.last_used_at, t.created_at";
const TOKEN_FROM: &str = "FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id";

fn token_from_row(row: &Row) -> ApiToken {
    ApiToken {
        id: row.get("id"),
        name: row.get("name"),
        user_id: row.get("user_id"),
        user_email: row.get("user_email"),
        permissions: row.get("permissions"),
        expires_at: row.get("expires_at"),
        revoked_at: row.get("revoked_at"),
        last_used_at: row.get("last_used_at"),
        created_at: row.get("created_at"),
    }
}

/// `user`: only that user's tokens; everyone's when absent.
pub async fn list_tokens(
    client: &impl GenericClient,
    tenant: TenantId,
    user: Option<i64>,
    page: &PageRequest,
) -> Result<Page<ApiToken>> {
    let keyset = Keyset::resolve(page, TOKEN_SORTS)?;
    let sql = format!(
        "{TOKEN_SELECT}, {col}::text AS sort_value {TOKEN_FROM} WHERE t.tenant_id = $1 AND ($5::bigint IS NULL OR t.user_id = $5)
            {clause} {order} LIMIT $4",
        col = keyset.key.column,
        clause = keyset.clause("t.id", 2, 3),
        order = keyset.order_by("t.id"),
    );
    let (v, id) = keyset.after();
    let rows = client.query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit(), &user]).await?;
    keyset.page_of(&rows, "id", |r| Ok(token_from_row(r)))
}

pub async fn get_token(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<ApiToken> {
    client
        .query_opt(
            &format!("{TOKEN_SELECT} {TOKEN_FROM} WHERE t.tenant_id = $1 AND t.id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .map(|r| token_from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "API token", key: id.to_string() })
}

/// Creates a token for `owner`; returns it with its secret, which is never shown again.
pub async fn create_token(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    owner: &Principal,
    input: &NewApiToken,
) -> Result<(ApiToken, String)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "must be 1 to 100 characters"));
    }
    let permissions = validate_permissions(&input.permissions)?;
    if permissions.is_empty() {
        return Err(Error::invalid("permissions", "a token needs at least one permission"));
    }
    if let Some(p) = permissions.iter().find(|p| !owner.permissions.contains(p)) {
        return Err(Error::invalid("permissions", format!("you do not hold '{p}' yourself")));
    }
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::invalid("expires_at", "is in the past"));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret());
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO api_tokens (tenant_id, user_id, name, token_hash, permissions, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&tenant.0, &owner.user_id, &name, &secret_digest(&secret), &permissions, &input.expires_at],
        )
        .await?
        .get(0);
    let token = get_token(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("api_token.create", "api_token", id, &token)).await?;
    tx.commit().await?;
    Ok((token, secret))
}

pub async fn revoke_token(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<ApiToken> {
    let tx = client.transaction().await?;
    let before = get_token(&tx, tenant, id).await?;
    tx.execute(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id],
    )
    .await?;
    let after = get_token(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("api_token.revoke", "api_token", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}
