//! Projects: calling campaigns with a pool (which providers and geos they draw from), a
//! weekly schedule in their own time zone, and a daily quota. A project is configured as
//! one document (settings, pool rules, windows, holidays) and saved whole, so what the
//! admin previews is exactly what gets stored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result, map_unique_violation};

pub const ORDERS: &[&str] = &["newest", "oldest", "random"];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The English name of an ISO weekday (1 = Monday), for messages.
pub fn weekday_name(weekday: i16) -> &'static str {
    usize::try_from(weekday - 1).ok().and_then(|i| WEEKDAYS.get(i)).copied().unwrap_or("that day")
}
pub const MAX_DAILY_QUOTA: i32 = 10_000_000;

/// A pool rule: numbers of this provider in this geo; `None` means any. A country-level
/// geo also matches its regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Set by the server; ignored on input.
    #[serde(default)]
    #[schema(read_only)]
    pub id: i64,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    /// The rule's share of the daily quota relative to the project's other rules.
    #[serde(default = "one")]
    pub weight: i32,
}

fn one() -> i32 {
    1
}

/// A calling window on one ISO weekday (1 = Monday), in the project's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub weekday: i16,
    /// `HH:MM`
    #[schema(example = "09:00")]
    pub start: String,
    /// `HH:MM`, later than `start`; `24:00` is the end of the day.
    #[schema(example = "18:00")]
    pub end: String,
}

/// Everything an administrator sets on a project.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: String,
    /// `active` or `paused`; deleting has its own call.
    #[serde(default = "active")]
    pub status: String,
    /// IANA time zone the schedule, holidays and the daily quota are counted in.
    pub time_zone: String,
    pub daily_quota: i32,
    #[serde(default = "five")]
    pub max_attempts: i16,
    /// Higher first when projects compete for the same numbers.
    #[serde(default)]
    pub priority: i16,
    /// An exclusive project keeps every number it is given; otherwise numbers go back to
    /// the pool when the project releases them.
    #[serde(default)]
    pub exclusive: bool,
    /// Which numbers of a rule go first: `newest`, `oldest` or `random`.
    #[serde(default = "newest")]
    pub allocation_order: String,
    /// What happens to a number whose life in the project ends (a final status, or max
    /// attempts): `keep` it parked in the project, or `release` it to the pool (never for
    /// an exclusive project).
    #[serde(default = "keep")]
    pub on_final: String,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub windows: Vec<Window>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

fn active() -> String {
    "active".into()
}
fn five() -> i16 {
    5
}
fn newest() -> String {
    "newest".into()
}
fn keep() -> String {
    "keep".into()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub time_zone: String,
    pub daily_quota: i32,
    pub max_attempts: i16,
    pub priority: i16,
    pub exclusive: bool,
    pub allocation_order: String,
    pub on_final: String,
    pub sources: Vec<Source>,
    pub windows: Vec<Window>,
    pub holidays: Vec<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A project in a list: its settings and how far today's quota is filled (today in the
/// project's own time zone).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectSummary {
    #[serde(flatten)]
    pub project: Project,
    pub today: NaiveDate,
    pub allocated_today: i64,
    /// Numbers the project holds now.
    pub numbers: i64,
    /// Held numbers in a success status.
    pub successes: i64,
    /// Held numbers called since the project got them.
    pub dialed: i64,
    /// successes / dialed, when anything was dialed.
    pub conversion: Option<f64>,
}

/// What to do with the numbers a project holds when it is paused or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Every number stays with the project.
    #[default]
    None,
    /// Numbers never dialled (in a fresh status, not leased) go back to the pool.
    Unworked,
    /// Every number not under a live lease goes back to the pool, keeping its status.
    All,
}

/// Where a project's numbers ended after a pause, delete or purge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleaseCounts {
    pub released: i64,
    pub kept: i64,
    pub events_archived: i64,
}

fn parse_minutes(text: &str, field_end: bool) -> Option<i32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let max_hour = if field_end { 24 } else { 23 };
    if !(0..=max_hour).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Checks a project document; returns the trimmed name. Time zone and the existence of
/// providers and geos are checked against the database by [`save`].
fn validate(input: &ProjectInput) -> Result<String> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    if !matches!(input.status.as_str(), "active" | "paused") {
        return Err(Error::invalid(
            "status",
            "must be active or paused (delete a project with its own call)",
        ));
    }
    if !(0..=MAX_DAILY_QUOTA).contains(&input.daily_quota) {
        return Err(Error::invalid("daily_quota", format!("must be between 0 and {MAX_DAILY_QUOTA}")));
    }
    if !(1..=100).contains(&input.max_attempts) {
        return Err(Error::invalid("max_attempts", "must be between 1 and 100"));
    }
    if !["keep", "release"].contains(&input.on_final.as_str()) {
        return Err(Error::invalid("on_final", format!("'{}' is not keep or release", input.on_final)));
    }
    if input.on_final == "release" && input.exclusive {
        return Err(Error::invalid(
            "on_final",
            "an exclusive project keeps its numbers; it cannot release them",
        ));
    }
    if !ORDERS.contains(&input.allocation_order.as_str()) {
        return Err(Error::invalid("allocation_order", format!("must be one of {}", ORDERS.join(", "))));
    }
    for (i, source) in input.sources.iter().enumerate() {
        if source.weight < 1 || source.weight > 1000 {
            return Err(Error::invalid(
                "sources",
                format!(
                    "rule {}: weight {} must be between 1 and 1000 (remove a rule rather than weigh it 0)",
                    i + 1,
                    source.weight
                ),
            ));
        }
        if input.sources[..i].iter().any(|s| s.provider_id == source.provider_id && s.geo_id == source.geo_id)
        {
            return Err(Error::invalid(
                "sources",
                format!("rule {} repeats an earlier provider and geo", i + 1),
            ));
        }
    }
    let mut by_day: Vec<(i16, i32, i32)> = Vec::new();
    for window in &input.windows {
        if !(1..=7).contains(&window.weekday) {
            return Err(Error::invalid(
                "windows",
                format!("weekday {} must be 1 (Monday) to 7 (Sunday)", window.weekday),
            ));
        }
        let day = weekday_name(window.weekday);
        let start = parse_minutes(&window.start, false).ok_or_else(|| {
            Error::invalid("windows", format!("{day}: start '{}' is not a time HH:MM", window.start))
        })?;
        let end = parse_minutes(&window.end, true).ok_or_else(|| {
            Error::invalid("windows", format!("{day}: end '{}' is not a time HH:MM", window.end))
        })?;
        if end <= start {
            return Err(Error::invalid(
                "windows",
                format!("{day}: window {}–{} ends before it starts", window.start, window.end),
            ));
        }
        by_day.push((window.weekday, start, end));
    }
    by_day.sort();
    for pair in by_day.windows(2) {
        let ((day, s1, e1), (day2, s2, e2)) = (pair[0], pair[1]);
        if day == day2 && s2 < e1 {
            let hm = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
            return Err(Error::invalid(
                "windows",
                format!("{}: window {}–{} overlaps {}–{}", weekday_name(day), hm(s1), hm(e1), hm(s2), hm(e2)),
            ));
        }
    }
    let mut holidays = input.holidays.clone();
    holidays.sort();
    if holidays.windows(2).any(|d| d[0] == d[1]) {
        return Err(Error::invalid("holidays", "a date is listed twice"));
    }
    Ok(name.to_owned())
}

const COLUMNS: &str = "p.id, p.name, p.status, p.time_zone, p.daily_quota, p.max_attempts, p.priority,
        p.exclusive, p.allocation_order, p.on_final, p.created_at, p.updated_at, p.deleted_at";

/// The pool rules of these projects, by project, in the order they were added.
pub(crate) async fn sources_of(
    client: &impl GenericClient,
    tenant: TenantId,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<Source>>> {
    let mut by_project: std::collections::HashMap<i64, Vec<Source>> = Default::default();
    for s in client
        .query(
            "SELECT project_id, id, provider_id, geo_id, weight FROM project_sources
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
    client
        .execute(
            "DELETE FROM project_sources s WHERE s.tenant_id = $1 AND s.project_id = $2
                AND NOT EXISTS (SELECT FROM unnest($3::bigint[], $4::bigint[]) AS i(provider_id, geo_id)
                                 WHERE i.provider_id IS NOT DISTINCT FROM s.provider_id
                                   AND i.geo_id IS NOT DISTINCT FROM s.geo_id)",
            &[&tenant.0, &id, &providers, &geos],
        )
        .await?;
    client
        .execute(
            "INSERT INTO project_sources (tenant_id, project_id, provider_id, geo_id, weight)
             SELECT $1, $2, i.provider_id, i.geo_id, i.weight
               FROM unnest($3::bigint[], $4::bigint[], $5::int[]) WITH ORDINALITY AS i(provider_id, geo_id, weight, n)
              ORDER BY i.n
             ON CONFLICT (tenant_id, project_id, COALESCE(provider_id, 0), COALESCE(geo_id, 0))
             DO UPDATE SET weight = excluded.weight",
            &[&tenant.0, &id, &providers, &geos, &weights],
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
    let values: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
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
    ];
    let saved = match id {
        None => client
            .query_one(
                "INSERT INTO projects (tenant_id, name, status, time_zone, daily_quota, max_attempts, priority,
                                       exclusive, allocation_order, on_final)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
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
                            on_final = $10, updated_at = now()
                      WHERE tenant_id = $1 AND id = $11 AND deleted_at IS NULL RETURNING id",
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
            "WITH released AS (
                UPDATE phone_numbers n SET project_id = NULL, allocated_at = NULL, leased_until = NULL, updated_at = now()
                  FROM number_statuses s
                 WHERE n.tenant_id = $1 AND n.project_id = $2 AND s.tenant_id = n.tenant_id AND s.id = n.status
                   AND $3::text <> 'none'
                   AND (n.leased_until IS NULL OR n.leased_until <= now())
                   AND ($3::text = 'all' OR (s.category = 'fresh' AND n.attempts = 0))
                RETURNING n.phone, n.provider_id, n.geo_id, n.status
             ), events AS (
                INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                                           status_to, actor_user_id, data)
                SELECT $1, phone, 'released', $2, provider_id, geo_id, status, status, $4,
                       jsonb_build_object('reason', $5::text)
                  FROM released
             )
             SELECT (SELECT count(*) FROM released) AS released,
                    (SELECT count(*) FROM phone_numbers WHERE tenant_id = $1 AND project_id = $2)
                      - (SELECT count(*) FROM released) AS kept",
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
             , archived AS (INSERT INTO number_events_archive SELECT moved.*, now() FROM moved RETURNING 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProjectInput {
        ProjectInput {
            name: "Sales".into(),
            status: "active".into(),
            time_zone: "Europe/Moscow".into(),
            daily_quota: 100,
            max_attempts: 5,
            priority: 0,
            exclusive: false,
            allocation_order: "newest".into(),
            on_final: "keep".into(),
            sources: vec![Source { id: 0, provider_id: Some(1), geo_id: None, weight: 1 }],
            windows: vec![
                Window { weekday: 1, start: "09:00".into(), end: "13:00".into() },
                Window { weekday: 1, start: "14:00".into(), end: "24:00".into() },
            ],
            holidays: vec![],
        }
    }

    #[test]
    fn a_valid_document_passes() {
        assert_eq!(validate(&input()).unwrap(), "Sales");
    }

    #[test]
    fn overlapping_windows_name_the_day_and_both_windows() {
        let mut bad = input();
        bad.windows.push(Window { weekday: 1, start: "12:30".into(), end: "15:00".into() });
        let message = validate(&bad).unwrap_err().to_string();
        assert!(message.contains("Monday") && message.contains("12:30–15:00"), "{message}");
    }

    #[test]
    fn a_zero_weight_and_bad_times_are_refused() {
        let mut bad = input();
        bad.sources[0].weight = 0;
        assert!(validate(&bad).unwrap_err().to_string().contains("weight 0"));
        let mut bad = input();
        bad.windows[0].end = "25:00".into();
        assert!(validate(&bad).unwrap_err().to_string().contains("not a time"));
        let mut bad = input();
        bad.windows[0].end = "08:00".into();
        assert!(validate(&bad).unwrap_err().to_string().contains("ends before it starts"));
    }
}
