//! Tenants as the engine sees them: every call names one.

use tokio_postgres::GenericClient;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TenantId(pub i64);

/// Finds an enabled tenant by its slug.
pub async fn find_by_slug(client: &impl GenericClient, slug: &str) -> Result<TenantId> {
    client
        .query_opt("SELECT id FROM tenants WHERE slug = $1 AND disabled_at IS NULL", &[&slug])
        .await?
        .map(|row| TenantId(row.get(0)))
        .ok_or_else(|| Error::NotFound { entity: "tenant", key: slug.to_owned() })
}
