//! Users, their role, locale and the providers and projects they are scoped to.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

// Users and scopes

/// The providers and projects a scoped user may see. Ignored for roles with `scope.all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scopes {
    #[serde(default)]
    pub providers: Vec<i64>,
    #[serde(default)]
    pub projects: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role_id: i64,
    pub role: String,
    pub locale: String,
    pub is_platform_admin: bool,
    pub password_must_change: bool,
    pub disabled: bool,
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
}

// Its Debug hides the password (see the impl below).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    /// At least 10 characters. The user is asked to change it at first sign-in.
    pub password: String,
    pub role_id: i64,
    #[serde(default = "default_locale")]
    pub locale: String,
    #[serde(default)]
    pub scopes: Scopes,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("role_id", &self.role_id)
            .field("password", &"…")
            .finish_non_exhaustive()
    }
}

fn default_locale() -> String {
    "en".to_owned()
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role_id: Option<i64>,
    pub locale: Option<String>,
    pub disabled: Option<bool>,
    /// Sets a new password the user must change at next sign-in.
    pub password: Option<String>,
    pub scopes: Option<Scopes>,
}

const USER_SORTS: &[SortKey] = &[
    SortKey { name: "email", column: "lower(u.email)", sql_type: "text" },
    SortKey { name: "name", column: "u.display_name", sql_type: "text" },
    SortKey { name: "created_at", column: "u.created_at", sql_type: "timestamptz" },
];

const USER_SELECT: &str = "SELECT u.id, u.email, u.display_name, u.role_id, r.name AS role, u.locale,
        u.is_platform_admin, u.password_must_change, u.disabled_at IS NOT NULL AS disabled, u.created_at,
        COALESCE((SELECT array_agg(s.provider_id ORDER BY s.provider_id) FROM user_scopes s
                   WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id AND s.provider_id IS NOT NULL), '{}') AS scope_providers,
        COALESCE((SELECT array_agg(s.project_id ORDER BY s.project_id) FROM user_scopes s
                   WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id AND s.project_id IS NOT NULL), '{}') AS scope_projects";
const USER_FROM: &str = "FROM users u JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id";

fn user_from_row(row: &Row) -> User {
    User {
        id: row.get("id"),
        email: row.get("email"),
        display_name: row.get("display_name"),
        role_id: row.get("role_id"),
        role: row.get("role"),
        locale: row.get("locale"),
        is_platform_admin: row.get("is_platform_admin"),
        password_must_change: row.get("password_must_change"),
        disabled: row.get("disabled"),
        scopes: Scopes { providers: row.get("scope_providers"), projects: row.get("scope_projects") },
        created_at: row.get("created_at"),
    }
}

/// `q` matches e-mail or name, case-insensitively.
pub async fn list_users(
    client: &impl GenericClient,
    tenant: TenantId,
    q: Option<&str>,
    page: &PageRequest,
) -> Result<Page<User>> {
    let keyset = Keyset::resolve(page, USER_SORTS)?;
    let sql = format!(
        "{USER_SELECT}, {col}::text AS sort_value {USER_FROM} WHERE u.tenant_id = $1
            AND ($5::text IS NULL OR strpos(lower(u.email || ' ' || u.display_name), lower($5)) > 0)
            {clause} {order} LIMIT $4",
        col = keyset.key.column,
        clause = keyset.clause("u.id", 2, 3),
        order = keyset.order_by("u.id"),
    );
    let (v, id) = keyset.after();
    let rows = client.query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit(), &q]).await?;
    keyset.page_of(&rows, "id", |r| Ok(user_from_row(r)))
}

pub async fn get_user(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<User> {
    client
        .query_opt(
            &format!("{USER_SELECT} {USER_FROM} WHERE u.tenant_id = $1 AND u.id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .map(|r| user_from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "user", key: id.to_string() })
}

pub(super) fn validate_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace)
        && email.matches('@').count() == 1;
    if valid {
        Ok(email.to_owned())
    } else {
        Err(Error::invalid("email", format!("'{email}' is not an e-mail address")))
    }
}

fn validate_locale(locale: &str) -> Result<()> {
    if matches!(locale, "en" | "ru") { Ok(()) } else { Err(Error::invalid("locale", "must be en or ru")) }
}

async fn ensure_role(tx: &impl GenericClient, tenant: TenantId, role_id: i64) -> Result<()> {
    let found =
        tx.query_opt("SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &role_id]).await?;
    found.map(|_| ()).ok_or_else(|| Error::invalid("role_id", format!("there is no role {role_id}")))
}

async fn write_scopes(
    tx: &impl GenericClient,
    tenant: TenantId,
    user_id: i64,
    scopes: &Scopes,
) -> Result<()> {
    tx.execute("DELETE FROM user_scopes WHERE tenant_id = $1 AND user_id = $2", &[&tenant.0, &user_id])
        .await?;
    let known: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM providers WHERE tenant_id = $1 AND id = ANY($2))
                  + (SELECT count(*) FROM projects WHERE tenant_id = $1 AND id = ANY($3))",
            &[&tenant.0, &scopes.providers, &scopes.projects],
        )
        .await?
        .get(0);
    let mut providers = scopes.providers.clone();
    providers.sort_unstable();
    providers.dedup();
    let mut projects = scopes.projects.clone();
    projects.sort_unstable();
    projects.dedup();
    if known != (providers.len() + projects.len()) as i64 {
        return Err(Error::invalid("scopes", "names a provider or project that does not exist"));
    }
    tx.execute(
        "INSERT INTO user_scopes (tenant_id, user_id, provider_id)
         SELECT $1, $2, unnest($3::bigint[])",
        &[&tenant.0, &user_id, &providers],
    )
    .await?;
    tx.execute(
        "INSERT INTO user_scopes (tenant_id, user_id, project_id)
         SELECT $1, $2, unnest($3::bigint[])",
        &[&tenant.0, &user_id, &projects],
    )
    .await?;
    Ok(())
}

pub async fn create_user(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &NewUser,
) -> Result<User> {
    let email = validate_email(&input.email)?;
    validate_password(&input.password)?;
    validate_locale(&input.locale)?;
    let hash = hash_password(&input.password).await?;
    let tx = client.transaction().await?;
    ensure_role(&tx, tenant, input.role_id).await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO users (tenant_id, email, display_name, password_hash, role_id, locale, password_must_change)
             VALUES ($1, $2, $3, $4, $5, $6, true) RETURNING id",
            &[&tenant.0, &email, &input.display_name.trim(), &hash, &input.role_id, &input.locale],
        )
        .await
        .map_err(|e| map_unique_violation(e, "users_email_key", "user", &email))?
        .get(0);
    write_scopes(&tx, tenant, id, &input.scopes).await?;
    let user = get_user(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("user.create", "user", id, &user)).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn update_user(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    update: &UserUpdate,
) -> Result<User> {
    if let Some(locale) = &update.locale {
        validate_locale(locale)?;
    }
    let hash = match &update.password {
        Some(password) => {
            validate_password(password)?;
            Some(hash_password(password).await?)
        }
        None => None,
    };
    let tx = client.transaction().await?;
    let before = get_user(&tx, tenant, id).await?;
    if let Some(role_id) = update.role_id {
        ensure_role(&tx, tenant, role_id).await?;
    }
    if actor.user_id == Some(id)
        && (update.disabled == Some(true) || update.role_id.is_some_and(|r| r != before.role_id))
    {
        return Err(Error::Refused("you cannot disable yourself or change your own role".into()));
    }
    tx.execute(
        "UPDATE users SET display_name = COALESCE($3, display_name), role_id = COALESCE($4, role_id),
                locale = COALESCE($5, locale),
                disabled_at = CASE WHEN $6::boolean IS NULL THEN disabled_at
                                   WHEN $6 THEN COALESCE(disabled_at, now()) ELSE NULL END,
                password_hash = COALESCE($7, password_hash),
                password_must_change = password_must_change OR $7::text IS NOT NULL,
                updated_at = now()
          WHERE tenant_id = $1 AND id = $2",
        &[
            &tenant.0,
            &id,
            &update.display_name.as_deref().map(str::trim),
            &update.role_id,
            &update.locale,
            &update.disabled,
            &hash,
        ],
    )
    .await?;
    if let Some(scopes) = &update.scopes {
        write_scopes(&tx, tenant, id, scopes).await?;
    }
    if update.disabled == Some(true) || hash.is_some() {
        // Signing a user out everywhere is what disabling or resetting a password is for.
        tx.execute("DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2", &[&tenant.0, &id]).await?;
    }
    let after = get_user(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("user.update", "user", id, &before, &after)).await?;
    tx.commit().await?;
    Ok(after)
}

/// A user changes their own password, proving they know the current one.
pub async fn change_own_password(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    user_id: i64,
    current: &str,
    new: &str,
) -> Result<()> {
    validate_password(new)?;
    if current == new {
        return Err(Error::invalid("new_password", "must differ from the current one"));
    }
    let stored: Option<String> = client
        .query_opt("SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &user_id])
        .await?
        .and_then(|r| r.get(0));
    if !verify_password(current, stored).await {
        return Err(Error::invalid("current_password", "is not your current password"));
    }
    let hash = hash_password(new).await?;
    let tx = client.transaction().await?;
    tx.execute(
        "UPDATE users SET password_hash = $3, password_must_change = false, updated_at = now()
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &user_id, &hash],
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change {
            action: "user.password_change",
            entity: "user",
            entity_id: user_id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
