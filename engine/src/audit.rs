//! The append-only audit log: who changed what, with the state before and after.

use tokio_postgres::GenericClient;

use crate::error::Result;
use crate::tenant::TenantId;

/// Who is acting. The CLI acts as `Actor::system("cli")`; the API will pass the user.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub label: String,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Actor { label: label.to_owned(), ..Actor::default() }
    }
}

pub struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records a change in the caller's transaction, so the entry exists exactly when the
/// change does.
pub async fn record(
    client: &impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    change: Change<'_>,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO audit_log (tenant_id, actor_user_id, actor_token_id, actor_label,
                                    action, entity, entity_id, before, after, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &tenant.0,
                &actor.user_id,
                &actor.token_id,
                &actor.label,
                &change.action,
                &change.entity,
                &change.entity_id,
                &change.before,
                &change.after,
                &actor.request_id,
            ],
        )
        .await?;
    Ok(())
}
