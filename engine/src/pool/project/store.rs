//! Reading projects and saving the document whole, with its pool rules, windows and
//! holidays.

use super::*;
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};
use chrono::NaiveDate;
use tokio_postgres::{GenericClient, Row};

const COLUMNS: &str = "p.id, p.name, p.status, p.time_zone, p.daily_quota, p.max_attempts, p.priority,
        p.exclusive, p.allocation_order, p.on_final, p.learning, p.created_at, p.updated_at, p.deleted_at";

/// The pool rules of these projects, by project, in the order they were added.
pub(crate) async fn sources_of(
    client: &impl GenericClient,
    tenant: TenantId,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<Source>>> {
    let mut by_project: std::collections::HashMap<i64, Vec<Source>> = Default::default();
    for s in client
        .query(
            "SELECT project_id, id, provider_id, geo_id, weight, prefix FROM project_sources
              WHERE tenant_id = $1 AND project_id = ANY($2) ORDER BY id",
            &[&tenant.0, &ids],
        )
        .await?
    {
        by_project.entry(s.get("project_id")).or_default().push(Source {
            id: s.get("id"),
            provider_id: s.get("provider_id"),
            geo_id: s.get("geo_id"),
            weight: s.get("weight"),
            prefix: s.get("prefix"),
        });
    }
    Ok(by_project)
}

async fn load(client: &impl GenericClient, tenant: TenantId, rows: Vec<Row>) -> Result<Vec<Project>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let mut sources = sources_of(client, tenant, &ids).await?;
    let windows = client
        .query(
            "SELECT project_id, weekday, to_char(starts_at, 'HH24:MI') AS start, to_char(ends_at, 'HH24:MI') AS end_
               FROM project_schedules WHERE tenant_id = $1 AND project_id = ANY($2) ORDER BY weekday, starts_at",
            &[&tenant.0, &ids],
        )
        .await?;
    let holidays = client
        .query(
            "SELECT project_id, day FROM project_holidays WHERE tenant_id = $1 AND project_id = ANY($2) ORDER BY day",
            &[&tenant.0, &ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let id: i64 = row.get("id");
            Project {
                id,
                name: row.get("name"),
                status: row.get("status"),
                time_zone: row.get("time_zone"),
                daily_quota: row.get("daily_quota"),
                max_attempts: row.get("max_attempts"),
                priority: row.get("priority"),
                exclusive: row.get("exclusive"),
                allocation_order: row.get("allocation_order"),
                on_final: row.get("on_final"),
                learning: row
                    .get::<_, Option<serde_json::Value>>("learning")
                    .and_then(|v| serde_json::from_value(v).ok()),
                sources: sources.remove(&id).unwrap_or_default(),
                windows: windows
                    .iter()
                    .filter(|w| w.get::<_, i64>("project_id") == id)
                    .map(|w| Window { weekday: w.get("weekday"), start: w.get("start"), end: w.get("end_") })
                    .collect(),
                holidays: holidays
                    .iter()
                    .filter(|h| h.get::<_, i64>("project_id") == id)
                    .map(|h| h.get("day"))
                    .collect(),
                created_at: row.get("created_at"),
                updated_at: row.get("updated_at"),
                deleted_at: row.get("deleted_at"),
            }
        })
        .collect())
}

/// A project, deleted or not (purged ones are gone for readers).
pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Project> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM projects p WHERE p.tenant_id = $1 AND p.id = $2 AND p.purged_at IS NULL"),
            &[&tenant.0, &id],
        )
        .await?;
    load(client, tenant, rows)
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound { entity: "project", key: id.to_string() })
}

/// The projects in the caller's scope: live ones, or with `deleted` the deleted ones not
/// yet purged. A tenant has tens of projects, not millions, so the list is whole.
pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    deleted: bool,
) -> Result<Vec<ProjectSummary>> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS}, (now() AT TIME ZONE p.time_zone)::date AS today,
                        COALESCE(f.allocated, 0)::bigint AS allocated_today
                   FROM projects p
                   LEFT JOIN project_fills f ON f.tenant_id = p.tenant_id AND f.project_id = p.id
                                            AND f.day = (now() AT TIME ZONE p.time_zone)::date
                  WHERE p.tenant_id = $1 AND p.purged_at IS NULL AND (p.deleted_at IS NOT NULL) = $2
                    AND ($3::bigint[] IS NULL OR p.id = ANY($3))
                  ORDER BY lower(p.name), p.id"
            ),
            &[&tenant.0, &deleted, &scope.project_filter().map(<[i64]>::to_vec)],
        )
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    // The held-number index answers these per project without reading the pool.
    let held = client
        .query(
            "SELECT n.project_id, count(*) AS numbers,
                    count(*) FILTER (WHERE s.category = 'success') AS successes,
                    count(*) FILTER (WHERE n.last_called_at >= n.allocated_at) AS dialed
               FROM phone_numbers n
               JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
              WHERE n.tenant_id = $1 AND n.project_id = ANY($2)
              GROUP BY n.project_id",
            &[&tenant.0, &ids],
        )
        .await?;
    let extra: Vec<(NaiveDate, i64)> =
        rows.iter().map(|r| (r.get("today"), r.get("allocated_today"))).collect();
    let projects = load(client, tenant, rows).await?;
    Ok(projects
        .into_iter()
        .zip(extra)
        .map(|(project, (today, allocated_today))| {
            let (numbers, successes, dialed) = held
                .iter()
                .find(|r| r.get::<_, i64>("project_id") == project.id)
                .map(|r| (r.get("numbers"), r.get("successes"), r.get("dialed")))
                .unwrap_or((0, 0, 0));
            ProjectSummary {
                project,
                today,
                allocated_today,
                numbers,
                successes,
                dialed,
                conversion: (dialed > 0).then(|| successes as f64 / dialed as f64),
            }
        })
        .collect())
}

async fn check_references(client: &impl GenericClient, tenant: TenantId, input: &ProjectInput) -> Result<()> {
    crate::intake::geo::validate_time_zone(client, &input.time_zone).await?;
    for (i, source) in input.sources.iter().enumerate() {
        if let Some(provider) = source.provider_id {
            let known: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT FROM providers WHERE tenant_id = $1 AND id = $2)",
                    &[&tenant.0, &provider],
                )
                .await?
                .get(0);
            if !known {
                return Err(Error::invalid(
                    "sources",
                    format!("rule {}: provider {provider} does not exist", i + 1),
                ));
            }
        }
        if let Some(geo) = source.geo_id {
            let known: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT FROM geos WHERE tenant_id = $1 AND id = $2)",
                    &[&tenant.0, &geo],
                )
                .await?
                .get(0);
            if !known {
                return Err(Error::invalid("sources", format!("rule {}: geo {geo} does not exist", i + 1)));
            }
        }
    }
    // A pin or cap on a provider or geo that is not there would silently never apply.
    for (i, cell) in input.learning.iter().flat_map(|l| l.cells.iter()).enumerate() {
        let known: bool = client
            .query_one(
                "SELECT EXISTS (SELECT FROM providers WHERE tenant_id = $1 AND id = $2)
                    AND ($3::bigint IS NULL OR EXISTS (SELECT FROM geos WHERE tenant_id = $1 AND id = $3))",
                &[&tenant.0, &cell.provider_id, &cell.geo_id],
            )
            .await?
            .get(0);
        if !known {
            return Err(Error::invalid(
                "learning",
                format!(
                    "cell {}: provider {} or geo {} does not exist",
                    i + 1,
                    cell.provider_id,
                    cell.geo_id.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(())
}

/// Replaces a project's rules, windows and holidays with the document's. Rules that did
/// not change keep their ids, so allocation events keep pointing at them.
async fn write_children(
    client: &impl GenericClient,
    tenant: TenantId,
    id: i64,
    input: &ProjectInput,
) -> Result<()> {
    let providers: Vec<Option<i64>> = input.sources.iter().map(|s| s.provider_id).collect();
    let geos: Vec<Option<i64>> = input.sources.iter().map(|s| s.geo_id).collect();
    let weights: Vec<i32> = input.sources.iter().map(|s| s.weight).collect();
    let prefixes: Vec<Option<String>> = input.sources.iter().map(|s| s.prefix.clone()).collect();
    client
        .execute(
            "DELETE FROM project_sources s WHERE s.tenant_id = $1 AND s.project_id = $2
                AND NOT EXISTS (SELECT FROM unnest($3::bigint[], $4::bigint[], $5::text[]) AS i(provider_id, geo_id, prefix)
                                 WHERE i.provider_id IS NOT DISTINCT FROM s.provider_id
                                   AND i.geo_id IS NOT DISTINCT FROM s.geo_id
                                   AND i.prefix IS NOT DISTINCT FROM s.prefix)",
            &[&tenant.0, &id, &providers, &geos, &prefixes],
        )
        .await?;
    client
        .execute(
            "INSERT INTO project_sources (tenant_id, project_id, provider_id, geo_id, weight, prefix)
             SELECT $1, $2, i.provider_id, i.geo_id, i.weight, i.prefix
               FROM unnest($3::bigint[], $4::bigint[], $5::int[], $6::text[]) WITH ORDINALITY AS i(provider_id, geo_id, weight, prefix, n)
              ORDER BY i.n
             ON CONFLICT (tenant_id, project_id, COALESCE(provider_id, 0), COALESCE(geo_id, 0), COALESCE(prefix, ''))
             DO UPDATE SET weight = excluded.weight",
            &[&tenant.0, &id, &providers, &geos, &weights, &prefixes],
        )
        .await?;
    let weekdays: Vec<i16> = input.windows.iter().map(|w| w.weekday).collect();
    let starts: Vec<&str> = input.windows.iter().map(|w| w.start.as_str()).collect();
    let ends: Vec<&str> = input.windows.iter().map(|w| w.end.as_str()).collect();
    client
        .execute("DELETE FROM project_schedules WHERE tenant_id = $1 AND project_id = $2", &[&tenant.0, &id])
        .await?;
    client
        .execute(
            "INSERT INTO project_schedules (tenant_id, project_id, weekday, starts_at, ends_at)
             SELECT $1, $2, w.weekday, w.starts::time, w.ends::time
               FROM unnest($3::int2[], $4::text[], $5::text[]) AS w(weekday, starts, ends)",
            &[&tenant.0, &id, &weekdays, &starts, &ends],
        )
        .await?;
    client
        .execute("DELETE FROM project_holidays WHERE tenant_id = $1 AND project_id = $2", &[&tenant.0, &id])
        .await?;
    client
        .execute(
            "INSERT INTO project_holidays (tenant_id, project_id, day) SELECT $1, $2, unnest($3::date[])",
            &[&tenant.0, &id, &input.holidays],
        )
        .await?;
    Ok(())
}

/// Saves a project document inside the caller's transaction: creates it when `id` is
/// None. Used directly by the allocation preview, which rolls back afterwards.
pub async fn save(
    client: &impl GenericClient,
    tenant: TenantId,
    id: Option<i64>,
    input: &ProjectInput,
) -> Result<i64> {
    let name = validate(input)?;
    check_references(client, tenant, input).await?;
    let learning = input
        .learning
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| Error::invalid("learning", e.to_string()))?;
    let values: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
        &tenant.0,
        &name,
        &input.status,
        &input.time_zone,
        &input.daily_quota,
        &input.max_attempts,
        &input.priority,
        &input.exclusive,
        &input.allocation_order,
        &input.on_final,
        &learning,
    ];
    let saved = match id {
        None => client
            .query_one(
                "INSERT INTO projects (tenant_id, name, status, time_zone, daily_quota, max_attempts, priority,
                                       exclusive, allocation_order, on_final, learning)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &values,
            )
            .await
            .map(|r| r.get::<_, i64>(0)),
        Some(id) => {
            let mut params = values.to_vec();
            params.push(&id);
            client
                .query_opt(
                    "UPDATE projects SET name = $2, status = $3, time_zone = $4, daily_quota = $5,
                            max_attempts = $6, priority = $7, exclusive = $8, allocation_order = $9,
                            on_final = $10, learning = $11, updated_at = now()
                      WHERE tenant_id = $1 AND id = $12 AND deleted_at IS NULL RETURNING id",
                    &params,
                )
                .await
                .map(|r| r.map(|r| r.get::<_, i64>(0)).unwrap_or(0))
        }
    }
    .map_err(|e| map_unique_violation(e, "projects_name_key", "project", &name))?;
    if saved == 0 {
        return Err(Error::NotFound { entity: "project", key: id.unwrap_or_default().to_string() });
    }
    write_children(client, tenant, saved, input).await?;
    Ok(saved)
}

pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &ProjectInput,
) -> Result<Project> {
    let tx = client.transaction().await?;
    let id = save(&tx, tenant, None, input).await?;
    let project = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("project.create", "project", id, &project)).await?;
    tx.commit().await?;
    Ok(project)
}

/// Saves the whole document. Pausing through an update keeps every number with the
/// project; [`pause`] releases them by policy.
pub async fn update(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    input: &ProjectInput,
) -> Result<Project> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    if before.deleted_at.is_some() {
        return Err(Error::Refused(format!("project '{}' is deleted; restore it first", before.name)));
    }
    save(&tx, tenant, Some(id), input).await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("project.update", "project", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}
