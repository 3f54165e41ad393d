//! The append-only audit log: who changed what, with the state before and after.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::error::Result;

/// Who is acting. The CLI acts as `Actor::system("cli")`; the API passes the user; a job
/// queued by a user carries them (`actor` in its arguments) so its changes are theirs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub token_id: Option<i64>,
    pub label: String,
    pub request_id: Option<String>,
    pub address: Option<IpAddr>,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Actor { label: label.to_owned(), ..Actor::default() }
    }
}

#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Change<'static> {
    /// `action` is `entity.create` etc.; actions are a small fixed set the log filters by.
    pub fn created(
        action: &'static str,
        entity: &'static str,
        id: impl ToString,
        after: &impl Serialize,
    ) -> Self {
        Change { action, entity, entity_id: id.to_string(), before: None, after: json(after) }
    }

    pub fn updated(
        action: &'static str,
        entity: &'static str,
        id: impl ToString,
        before: &impl Serialize,
        after: &impl Serialize,
    ) -> Self {
        Change { action, entity, entity_id: id.to_string(), before: json(before), after: json(after) }
    }

    pub fn deleted(
        action: &'static str,
        entity: &'static str,
        id: impl ToString,
        before: &impl Serialize,
    ) -> Self {
        Change { action, entity, entity_id: id.to_string(), before: json(before), after: None }
    }
}

fn json(value: &impl Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
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
                                    action, entity, entity_id, before, after, request_id, address)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
                &actor.address,
            ],
        )
        .await?;
    Ok(())
}

/// One entry of the audit log as readers see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_user_id: Option<i64>,
    pub actor_email: Option<String>,
    pub actor_token_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub actor_user_id: Option<i64>,
    /// Exact action (`user.create`) or a prefix ending in a dot (`user.`).
    pub action: Option<String>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
}

const SORTS: &[crate::platform::page::SortKey] =
    &[crate::platform::page::SortKey { name: "at", column: "a.at", sql_type: "timestamptz" }];

/// Newest first unless the request sorts by `at`.
pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    filter: &Filter,
    page: &crate::platform::page::PageRequest,
) -> Result<crate::platform::page::Page<Entry>> {
    let mut page = page.clone();
    page.sort.get_or_insert_with(|| "-at".to_owned());
    let keyset = crate::platform::page::Keyset::resolve(&page, SORTS)?;
    let sql = format!(
        "SELECT a.id, a.at, a.actor_user_id, u.email AS actor_email, a.actor_token_id, a.actor_label, a.action,
                a.entity, a.entity_id, a.before, a.after, a.request_id, host(a.address) AS address,
                a.at::text AS sort_value
           FROM audit_log a LEFT JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.actor_user_id
          WHERE a.tenant_id = $1
            AND ($5::timestamptz IS NULL OR a.at >= $5) AND ($6::timestamptz IS NULL OR a.at < $6)
            AND ($7::bigint IS NULL OR a.actor_user_id = $7)
            AND ($8::text IS NULL OR a.action = $8 OR (right($8, 1) = '.' AND starts_with(a.action, $8)))
            AND ($9::text IS NULL OR a.entity = $9) AND ($10::text IS NULL OR a.entity_id = $10)
            {clause} {order} LIMIT $4",
        clause = keyset.clause("a.id", 2, 3),
        order = keyset.order_by("a.id"),
    );
    let (v, id) = keyset.after();
    let rows = client
        .query(
            &sql,
            &[
                &tenant.0,
                &v,
                &id,
                &keyset.fetch_limit(),
                &filter.from,
                &filter.to,
                &filter.actor_user_id,
                &filter.action,
                &filter.entity,
                &filter.entity_id,
            ],
        )
        .await?;
    keyset.page_of(&rows, "id", |r| {
        Ok(Entry {
            id: r.get("id"),
            at: r.get("at"),
            actor_user_id: r.get("actor_user_id"),
            actor_email: r.get("actor_email"),
            actor_token_id: r.get("actor_token_id"),
            actor_label: r.get("actor_label"),
            action: r.get("action"),
            entity: r.get("entity"),
            entity_id: r.get("entity_id"),
            before: r.get("before"),
            after: r.get("after"),
            request_id: r.get("request_id"),
            address: r.get("address"),
        })
    })
}
