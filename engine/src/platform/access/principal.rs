//! Who a request is: the user behind a session cookie or a bearer token, with their
//! permissions and scope.

use super::*;
use crate::platform::TenantId;
use crate::platform::error::Result;
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

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

pub(super) fn interval(duration: chrono::Duration) -> String {
    format!("{} seconds", duration.num_seconds())
}
