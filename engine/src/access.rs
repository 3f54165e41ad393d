//! Who may do what: permissions, roles, users and their scopes, API tokens, sessions and
//! sign-in with throttling. Passwords are hashed with Argon2id; session and token secrets
//! are stored only as SHA-256 digests.

use std::net::IpAddr;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_postgres::{GenericClient, Row};

use crate::audit::{self, Actor, Change};
use crate::error::{Error, Result, map_unique_violation};
use crate::page::{Keyset, Page, PageRequest, SortKey};
use crate::tenant::TenantId;

/// Every permission a role can hold, with what it allows. Routes name these.
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("numbers.read", "Read numbers, imports and their rejects"),
    ("numbers.write", "Change number statuses, release numbers"),
    ("projects.read", "Read projects and their pools"),
    ("projects.write", "Create and change projects, pools and schedules; allocate"),
    ("imports.create", "Upload and import number files"),
    ("exports.create", "Export number batches"),
    ("conversion.read", "Read conversion analytics"),
    ("dnc.write", "Add to and remove from the do-not-call list"),
    ("calls.work", "Lease numbers, look callers up and post call outcomes (dialers, softphones)"),
    ("users.manage", "Manage users, roles, scopes and everyone's API tokens"),
    ("tokens.create", "Create API tokens for oneself"),
    ("audit.read", "Read and export the audit log"),
    ("settings.manage", "Manage providers, geos and number statuses"),
    ("sftp.manage", "Manage SFTP partners and remotes"),
    ("scope.all", "See every provider and project; without it a user sees only those in their scope"),
];

pub fn is_permission(name: &str) -> bool {
    PERMISSIONS.iter().any(|(p, _)| *p == name)
}

fn validate_permissions(permissions: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(permissions.len());
    for p in permissions {
        if !is_permission(p) {
            return Err(Error::invalid("permissions", format!("'{p}' is not a permission")));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Secrets

/// A fresh random secret, URL-safe, 256 bits.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn secret_digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub const TOKEN_PREFIX: &str = "dp_";

pub fn validate_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if !(10..=256).contains(&length) {
        return Err(Error::invalid("password", "must be 10 to 256 characters"));
    }
    Ok(())
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Worker(format!("password hashing: {e}")))
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))?
}

pub(crate) async fn verify_password(password: &str, hash: Option<String>) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        // An unknown account still pays for one verification, so timing does not tell
        // which addresses have accounts.
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default().hash_password(random_secret().as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
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

fn validate_email(email: &str) -> Result<String> {
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

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
// Principals: who a request is

/// Which providers and projects a caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    All,
    Limited { providers: Vec<i64>, projects: Vec<i64> },
}

impl Scope {
    pub fn allows_provider(&self, provider_id: i64) -> bool {
        match self {
            Scope::All => true,
            Scope::Limited { providers, .. } => providers.contains(&provider_id),
        }
    }

    /// The provider ids to filter by, or None for no filter.
    pub fn provider_filter(&self) -> Option<&[i64]> {
        match self {
            Scope::All => None,
            Scope::Limited { providers, .. } => Some(providers),
        }
    }

    pub fn project_filter(&self) -> Option<&[i64]> {
        match self {
            Scope::All => None,
            Scope::Limited { projects, .. } => Some(projects),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Credential {
    Session { csrf_token: String },
    Token { token_id: i64 },
}

/// An authenticated caller: a user, through a session or one of their tokens.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    pub tenant_slug: String,
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub locale: String,
    pub role: String,
    /// The role's permissions, narrowed to the token's when the caller uses a token.
    pub permissions: Vec<String>,
    pub scope: Scope,
    pub is_platform_admin: bool,
    pub password_must_change: bool,
    pub credential: Credential,
}

impl Principal {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

const PRINCIPAL_SELECT: &str = "u.tenant_id, t.slug AS tenant_slug, u.id AS user_id, u.email, u.display_name, u.locale,
        r.name AS role, r.permissions, u.is_platform_admin, u.password_must_change,
        COALESCE((SELECT array_agg(s.provider_id) FROM user_scopes s
                   WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id AND s.provider_id IS NOT NULL), '{}') AS scope_providers,
        COALESCE((SELECT array_agg(s.project_id) FROM user_scopes s
                   WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id AND s.project_id IS NOT NULL), '{}') AS scope_projects";

fn principal_from_row(row: &Row, permissions: Vec<String>, credential: Credential) -> Principal {
    let scope = if permissions.iter().any(|p| p == "scope.all") {
        Scope::All
    } else {
        Scope::Limited { providers: row.get("scope_providers"), projects: row.get("scope_projects") }
    };
    Principal {
        tenant: TenantId(row.get("tenant_id")),
        tenant_slug: row.get("tenant_slug"),
        user_id: row.get("user_id"),
        email: row.get("email"),
        display_name: row.get("display_name"),
        locale: row.get("locale"),
        role: row.get("role"),
        permissions,
        scope,
        is_platform_admin: row.get("is_platform_admin"),
        password_must_change: row.get("password_must_change"),
        credential,
    }
}

/// How long a browser session lives without use, and at most.
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::hours(12);
pub const SESSION_MAX: chrono::Duration = chrono::Duration::days(7);

/// The caller behind a session cookie, or None when it is unknown, expired, or its user
/// or tenant is disabled. Extends an idle session at most once a minute.
pub async fn authenticate_session(client: &impl GenericClient, secret: &str) -> Result<Option<Principal>> {
    let digest = secret_digest(secret);
    let row = client
        .query_opt(
            &format!(
                "SELECT {PRINCIPAL_SELECT}, s.csrf_token, s.last_seen_at < now() - interval '1 minute' AS stale
                   FROM sessions s
                   JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.disabled_at IS NULL
                   JOIN tenants t ON t.id = u.tenant_id AND t.disabled_at IS NULL
                   JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id
                  WHERE s.token_hash = $1 AND s.expires_at > now()"
            ),
            &[&digest],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.get::<_, bool>("stale") {
        client
            .execute(
                "UPDATE sessions SET last_seen_at = now(),
                        expires_at = LEAST(created_at + $2::text::interval, now() + $3::text::interval)
                  WHERE token_hash = $1",
                &[&digest, &interval(SESSION_MAX), &interval(SESSION_IDLE)],
            )
            .await?;
    }
    let permissions: Vec<String> = row.get("permissions");
    Ok(Some(principal_from_row(&row, permissions, Credential::Session { csrf_token: row.get("csrf_token") })))
}

/// The caller behind a bearer token, or None when it is unknown, expired or revoked.
/// Every dialer request authenticates, so the statement is prepared once per connection.
pub async fn authenticate_token(
    client: &deadpool_postgres::ClientWrapper,
    secret: &str,
) -> Result<Option<Principal>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let digest = secret_digest(secret);
    let statement = client
        .prepare_cached(
            &format!(
                "SELECT {PRINCIPAL_SELECT}, k.id AS token_id, k.permissions AS token_permissions,
                        k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale
                   FROM api_tokens k
                   JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id AND u.disabled_at IS NULL
                   JOIN tenants t ON t.id = u.tenant_id AND t.disabled_at IS NULL
                   JOIN roles r ON r.tenant_id = u.tenant_id AND r.id = u.role_id
                  WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
            ),
        )
        .await?;
    let row = client.query_opt(&statement, &[&digest]).await?;
    let Some(row) = row else { return Ok(None) };
    let token_id: i64 = row.get("token_id");
    if row.get::<_, bool>("stale") {
        client
            .execute("UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1", &[&digest])
            .await?;
    }
    let role_permissions: Vec<String> = row.get("permissions");
    let token_permissions: Vec<String> = row.get("token_permissions");
    // A token never outgrows its user: demoting the user narrows the token at once.
    let permissions = token_permissions.into_iter().filter(|p| role_permissions.contains(p)).collect();
    Ok(Some(principal_from_row(&row, permissions, Credential::Token { token_id })))
}

fn interval(duration: chrono::Duration) -> String {
    format!("{} seconds", duration.num_seconds())
}

// ---------------------------------------------------------------------------------------
// Signing in

/// Failures allowed per account or address before sign-in is locked for a while.
pub const FREE_FAILURES: i32 = 5;

#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the cookie secret (shown to the browser only) and the CSRF token.
    Ok { session_secret: String, csrf_token: String, principal: Box<Principal> },
    /// Wrong e-mail or password; which one is not said.
    Rejected,
    /// Too many failures; try again after this many seconds.
    Throttled { retry_after_s: i64 },
}

fn throttle_keys(email: &str, address: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("account:{}", email.trim().to_lowercase())];
    if let Some(address) = address {
        keys.push(format!("address:{address}"));
    }
    keys
}

pub async fn sign_in(
    client: &impl GenericClient,
    email: &str,
    password: &str,
    address: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<SignIn> {
    let keys = throttle_keys(email, address);
    let locked: Option<f64> = client
        .query_one(
            "SELECT max(extract(epoch FROM locked_until - now()))::float8 FROM login_failures
              WHERE key = ANY($1) AND locked_until > now()",
            &[&keys],
        )
        .await?
        .get(0);
    if let Some(seconds) = locked {
        return Ok(SignIn::Throttled { retry_after_s: seconds.ceil().max(1.0) as i64 });
    }
    let user = client
        .query_opt(
            "SELECT u.tenant_id, u.id, u.password_hash FROM users u JOIN tenants t ON t.id = u.tenant_id
              WHERE lower(u.email) = lower($1) AND u.disabled_at IS NULL AND t.disabled_at IS NULL",
            &[&email.trim()],
        )
        .await?;
    let hash = user.as_ref().and_then(|u| u.get::<_, Option<String>>("password_hash"));
    let verified = verify_password(password, hash).await && user.is_some();
    let Some(user) = user.filter(|_| verified) else {
        // Lock for 30 s after FREE_FAILURES, doubling with every further failure, up to an
        // hour; a quiet hour forgets the count.
        client
            .execute(
                "INSERT INTO login_failures AS f (key, failures) SELECT unnest($1::text[]), 1
                 ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN f.first_failed_at < now() - interval '1 hour' THEN 1 ELSE f.failures + 1 END,
                    first_failed_at = CASE WHEN f.first_failed_at < now() - interval '1 hour' THEN now() ELSE f.first_failed_at END,
                    locked_until = CASE WHEN f.first_failed_at >= now() - interval '1 hour' AND f.failures + 1 >= $2
                        THEN now() + LEAST(interval '1 hour', interval '30 seconds' * power(2, f.failures + 1 - $2))
                        ELSE NULL END",
                &[&keys, &FREE_FAILURES],
            )
            .await?;
        return Ok(SignIn::Rejected);
    };
    client.execute("DELETE FROM login_failures WHERE key = ANY($1)", &[&keys]).await?;
    let tenant = TenantId(user.get("tenant_id"));
    let user_id: i64 = user.get("id");
    let session_secret = random_secret();
    let csrf_token = random_secret();
    client
        .execute(
            "INSERT INTO sessions (token_hash, tenant_id, user_id, csrf_token, address, user_agent, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + $7::text::interval)",
            &[
                &secret_digest(&session_secret),
                &tenant.0,
                &user_id,
                &csrf_token,
                &address,
                &user_agent.map(|a| a.chars().take(300).collect::<String>()),
                &interval(SESSION_IDLE),
            ],
        )
        .await?;
    let principal = authenticate_session(client, &session_secret)
        .await?
        .ok_or_else(|| Error::Worker("a new session could not be read back".into()))?;
    Ok(SignIn::Ok { session_secret, csrf_token, principal: Box::new(principal) })
}

pub async fn sign_out(client: &impl GenericClient, secret: &str) -> Result<()> {
    client.execute("DELETE FROM sessions WHERE token_hash = $1", &[&secret_digest(secret)]).await?;
    Ok(())
}

/// First start: when the installation has no user yet, creates an administrator in the
/// default tenant. Returns the password when it was generated (to be shown once).
pub async fn ensure_first_admin(
    client: &mut impl GenericClient,
    email: &str,
    password: Option<&str>,
) -> Result<Option<(String, Option<String>)>> {
    let any: bool = client.query_one("SELECT EXISTS (SELECT FROM users)", &[]).await?.get(0);
    if any {
        return Ok(None);
    }
    let email = validate_email(email)?;
    let (password, generated) = match password {
        Some(p) => {
            validate_password(p)?;
            (p.to_owned(), None)
        }
        None => {
            let p = random_secret()[..20].to_owned();
            (p.clone(), Some(p))
        }
    };
    let hash = hash_password(&password).await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO users (tenant_id, email, display_name, password_hash, role_id, is_platform_admin, password_must_change)
             SELECT t.id, $1, 'Administrator', $2, r.id, true, $3
               FROM tenants t JOIN roles r ON r.tenant_id = t.id AND r.name = 'admin' AND r.built_in
              WHERE t.slug = 'default'
             RETURNING tenant_id, id",
            &[&email, &hash, &generated.is_some()],
        )
        .await?;
    let tenant = TenantId(row.get(0));
    let id: i64 = row.get(1);
    audit::record(
        &tx,
        tenant,
        &Actor::system("first-start"),
        Change {
            action: "user.create",
            entity: "user",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "email": email, "role": "admin", "platform_admin": true })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some((email, generated)))
}
