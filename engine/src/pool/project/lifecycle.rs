//! A project's life after it is saved: paused, deleted, restored or purged, and what
//! becomes of the numbers it holds.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};
use tokio_postgres::GenericClient;

/// Hands numbers back to the shared pool by policy and writes a `released` event for each.
/// Numbers under a live lease are always kept: a dialer is calling them.
async fn release_numbers(
    client: &impl GenericClient,
    tenant: TenantId,
    project: &Project,
    policy: Release,
    reason: &str,
    actor: &Actor,
) -> Result<ReleaseCounts> {
    if policy != Release::None && project.exclusive {
        return Err(Error::Refused(format!(
            "project '{}' is exclusive: its numbers never go back to the pool; use release none",
            project.name
        )));
    }
    let row = client
        .query_one(
            include_str!("lifecycle.release_numbers.sql"),
            &[&tenant.0, &project.id, &release_label(policy), &actor.user_id, &reason],
        )
        .await?;
    Ok(ReleaseCounts { released: row.get("released"), kept: row.get("kept"), events_archived: 0 })
}

fn release_label(policy: Release) -> &'static str {
    match policy {
        Release::None => "none",
        Release::Unworked => "unworked",
        Release::All => "all",
    }
}

/// Pauses or resumes a project; pausing hands numbers back by `release`.
pub async fn set_paused(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    paused: bool,
    release: Release,
) -> Result<ReleaseCounts> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if before.deleted_at.is_some() {
        return Err(Error::Refused(format!("project '{}' is deleted; restore it first", before.name)));
    }
    if !paused && release != Release::None {
        return Err(Error::invalid("release", "only pausing or deleting releases numbers"));
    }
    let status = if paused { "paused" } else { "active" };
    tx.execute(
        "UPDATE projects SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &status],
    )
    .await?;
    let counts = release_numbers(&tx, tenant, &before, release, "paused", actor).await?;
    let after = get(&tx, tenant, id).await?;
    let action = if paused { "project.pause" } else { "project.resume" };
    let mut change = Change::updated(action, "project", id, &before, &after);
    if let Some(serde_json::Value::Object(map)) = change.after.as_mut() {
        map.insert("release".into(), serde_json::to_value(&counts).unwrap_or_default());
    }
    audit::record(&tx, tenant, actor, change).await?;
    tx.commit().await?;
    Ok(counts)
}

/// Soft delete: the project stops allocating and leaves the live list; its numbers stay
/// or go back to the pool by `release`.
pub async fn delete(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    release: Release,
) -> Result<ReleaseCounts> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if before.deleted_at.is_some() {
        return Err(Error::Refused(format!("project '{}' is already deleted", before.name)));
    }
    tx.execute(
        "UPDATE projects SET deleted_from_status = status, status = 'deleted', deleted_at = now(), updated_at = now()
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id],
    )
    .await?;
    let counts = release_numbers(&tx, tenant, &before, release, "deleted", actor).await?;
    let mut change = Change::deleted("project.delete", "project", id, &before);
    change.after = Some(serde_json::json!({ "release": counts }));
    audit::record(&tx, tenant, actor, change).await?;
    tx.commit().await?;
    Ok(counts)
}

/// Brings a deleted project back with the status it had.
pub async fn restore(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<Project> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if before.deleted_at.is_none() {
        return Err(Error::Refused(format!("project '{}' is not deleted", before.name)));
    }
    tx.execute(
        "UPDATE projects SET status = COALESCE(deleted_from_status, 'paused'), deleted_at = NULL,
                deleted_from_status = NULL, updated_at = now()
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id],
    )
    .await
    .map_err(|e| map_unique_violation(e, "projects_name_key", "project", &before.name))?;
    let after = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("project.restore", "project", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Ends a deleted project for good: a non-exclusive project's numbers go back to the
/// pool (keeping their statuses), an exclusive project's stay with it out of everyone's
/// reach, and its events move to the archive. `confirm` must repeat the project's name.
pub async fn purge(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    confirm: &str,
) -> Result<ReleaseCounts> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if before.deleted_at.is_none() {
        return Err(Error::Refused(format!(
            "project '{}' is not deleted; delete it before purging",
            before.name
        )));
    }
    if confirm.trim() != before.name {
        return Err(Error::invalid("confirm", format!("must repeat the project's name, '{}'", before.name)));
    }
    let policy = if before.exclusive { Release::None } else { Release::All };
    let mut counts = release_numbers(&tx, tenant, &before, policy, "purged", actor).await?;
    counts.events_archived = tx
        .query_one(
            "WITH moved AS (DELETE FROM number_events WHERE tenant_id = $1 AND project_id = $2 RETURNING *)
             , archived AS (
                 INSERT INTO number_events_archive (tenant_id, id, at, phone, kind, project_id, provider_id, geo_id,
                                                    status_from, status_to, import_id, call_id, disposition,
                                                    duration_s, actor_user_id, data, archived_at)
                 SELECT tenant_id, id, at, phone, kind, project_id, provider_id, geo_id, status_from, status_to,
                        import_id, call_id, disposition, duration_s, actor_user_id, data, now()
                   FROM moved RETURNING 1)
             SELECT count(*) FROM archived",
            &[&tenant.0, &id],
        )
        .await?
        .get(0);
    tx.execute(
        "UPDATE projects SET purged_at = now(), updated_at = now() WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id],
    )
    .await?;
    let mut change = Change::deleted("project.purge", "project", id, &before);
    change.after = Some(serde_json::json!({ "release": counts }));
    audit::record(&tx, tenant, actor, change).await?;
    tx.commit().await?;
    Ok(counts)
}
