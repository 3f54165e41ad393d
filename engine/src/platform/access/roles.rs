//! Roles: named sets of permissions; the built-in ones cannot be changed.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

// Roles

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    /// Built-in roles (admin, manager, viewer, analyst) cannot be changed or deleted.
    pub built_in: bool,
    pub users: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub permissions: Vec<String>,
}

const ROLE_SORTS: &[SortKey] = &[
    SortKey { name: "name", column: "r.name", sql_type: "text" },
    SortKey { name: "created_at", column: "r.created_at", sql_type: "timestamptz" },
];

fn role_from_row(row: &Row) -> Role {
    Role {
        id: row.get("id"),
        name: row.get("name"),
        description: row.get("description"),
        permissions: row.get("permissions"),
        built_in: row.get("built_in"),
        users: row.get("users"),
    }
}

const ROLE_SELECT: &str = "SELECT r.id, r.name, r.description, r.permissions, r.built_in,
        (SELECT count(*) FROM users u WHERE u.tenant_id = r.tenant_id AND u.role_id = r.id) AS users";

pub async fn list_roles(
    client: &impl GenericClient,
    tenant: TenantId,
    page: &PageRequest,
) -> Result<Page<Role>> {
    let keyset = Keyset::resolve(page, ROLE_SORTS)?;
    let sql = format!(
        "{ROLE_SELECT}, {col}::text AS sort_value FROM roles r WHERE r.tenant_id = $1 {clause} {order} LIMIT $4",
        col = keyset.key.column,
        clause = keyset.clause("r.id", 2, 3),
        order = keyset.order_by("r.id"),
    );
    let (v, id) = keyset.after();
    let rows = client.query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit()]).await?;
    keyset.page_of(&rows, "id", |r| Ok(role_from_row(r)))
}

pub async fn get_role(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Role> {
    client
        .query_opt(
            &format!("{ROLE_SELECT} FROM roles r WHERE r.tenant_id = $1 AND r.id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .map(|r| role_from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "role", key: id.to_string() })
}

fn validate_role(input: &RoleInput) -> Result<(String, Vec<String>)> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "must be 1 to 100 characters"));
    }
    Ok((name, validate_permissions(&input.permissions)?))
}

pub async fn create_role(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &RoleInput,
) -> Result<Role> {
    let (name, permissions) = validate_role(input)?;
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO roles (tenant_id, name, description, permissions) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&tenant.0, &name, &input.description, &permissions],
        )
        .await
        .map_err(|e| map_unique_violation(e, "roles_tenant_id_name_key", "role", &name))?
        .get(0);
    let role = get_role(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("role.create", "role", id, &role)).await?;
    tx.commit().await?;
    Ok(role)
}

pub async fn update_role(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    input: &RoleInput,
) -> Result<Role> {
    let (name, permissions) = validate_role(input)?;
    let tx = client.transaction().await?;
    let before = get_role(&tx, tenant, id).await?;
    if before.built_in {
        return Err(Error::Refused(format!("the built-in role '{}' cannot be changed", before.name)));
    }
    tx.execute(
        "UPDATE roles SET name = $3, description = $4, permissions = $5 WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &name, &input.description, &permissions],
    )
    .await
    .map_err(|e| map_unique_violation(e, "roles_tenant_id_name_key", "role", &name))?;
    let after = get_role(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("role.update", "role", id, &before, &after)).await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_role(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<()> {
    let tx = client.transaction().await?;
    let before = get_role(&tx, tenant, id).await?;
    if before.built_in {
        return Err(Error::Refused(format!("the built-in role '{}' cannot be deleted", before.name)));
    }
    if before.users > 0 {
        return Err(Error::Refused(format!(
            "the role '{}' is held by {} user(s); give them another role first",
            before.name, before.users
        )));
    }
    tx.execute("DELETE FROM roles WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("role.delete", "role", id, &before)).await?;
    tx.commit().await?;
    Ok(())
}
