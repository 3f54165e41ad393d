//! Allocation: the shared pool → projects, for a day. One function serves the CLI, the
//! API, the UI's preview and (later) the scheduled job.
//!
//! A run reads the pool once as counts per cell (provider × geo × status × attempts, and
//! who holds it, DNC, cooling down), plans in memory how many numbers each project's rule
//! takes from each cell ([`plan`]), then picks exactly those with one statement per
//! ordering: per cell the first N numbers by the order the project asked for, dealt out
//! between the cell's takers in turn, into a temp table; one `UPDATE ... FROM` it and one
//! `INSERT` of events write them. A real run locks its tenant's allocation for the
//! transaction (a second run for the same day waits, then finds the quota filled), picks
//! rows `FOR UPDATE SKIP LOCKED` so imports and leases in flight neither block it nor
//! are overwritten, and re-checks `project_id IS NULL` as it writes. A dry run reports
//! the plan from a repeatable-read snapshot, and picks the same numbers only when asked
//! to list them; it writes nothing.

pub mod forecast;
pub mod plan;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::pool::project::{self, ProjectInput};

/// The `allocation` job: the daily allocation of one project, or of every live one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationJob {
    pub project_id: Option<i64>,
}

impl crate::platform::job::JobArgs for AllocationJob {
    const KIND: crate::platform::job::JobKind = crate::platform::job::JobKind::Allocation;
}

/// What to allocate.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The day to allocate for, the same for every project; by default each project's
    /// own today (the date at `at` in its time zone).
    pub date: Option<NaiveDate>,
    /// The moment cool-downs are measured against and, without `date`, today is taken
    /// from; now by default.
    pub at: Option<DateTime<Utc>>,
    /// Only these projects take part (the others do not compete); all live ones if None.
    pub projects: Option<Vec<i64>>,
    pub dry_run: bool,
    /// Return the phone numbers each project gets (for tests and small previews).
    pub include_numbers: bool,
}

/// What a project did (or would do) in a run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectRun {
    pub project_id: i64,
    pub name: String,
    /// The project's day for this run, and its ISO weekday (1 = Monday).
    pub day: NaiveDate,
    pub weekday: i16,
    /// `allocating`, `paused`, `holiday` or `not_scheduled`.
    pub state: String,
    pub daily_quota: i32,
    /// Allocated earlier on the same day.
    pub allocated_before: i64,
    pub allocated: i64,
    /// Numbers of the shared pool this project could take now.
    pub eligible: i64,
    pub rules: Vec<RuleRun>,
    pub skipped: Skipped,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleRun {
    pub source_id: i64,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    pub weight: i32,
    pub allocated: i64,
}

/// Numbers that match a project's rules but that it does not get, by the first reason
/// that holds, in this order.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub held_by_other_project: i64,
    pub dnc: i64,
    /// In a status nobody draws from (success, failure, invalid, in work ...).
    pub status: i64,
    pub max_attempts: i64,
    pub cooling_down: i64,
    /// Eligible, but the project does not run on this day.
    pub outside_schedule: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub dry_run: bool,
    pub at: DateTime<Utc>,
    pub allocated: i64,
    pub projects: Vec<ProjectRun>,
    pub elapsed_ms: u64,
}

/// A project as allocation sees it on its day.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) day: NaiveDate,
    pub(crate) weekday: i16,
    pub(crate) scheduled: bool,
    pub(crate) holiday: bool,
    pub(crate) daily_quota: i32,
    pub(crate) max_attempts: i16,
    pub(crate) priority: i16,
    pub(crate) order: String,
    pub(crate) filled: i64,
    pub(crate) sources: Vec<project::Source>,
}

impl Live {
    pub(crate) fn state(&self) -> &'static str {
        if self.status != "active" {
            "paused"
        } else if self.holiday {
            "holiday"
        } else if !self.scheduled {
            "not_scheduled"
        } else {
            "allocating"
        }
    }
}

pub(crate) async fn load_projects(
    client: &impl GenericClient,
    tenant: TenantId,
    date: Option<NaiveDate>,
    at: DateTime<Utc>,
    only: Option<&[i64]>,
) -> Result<Vec<Live>> {
    let rows = client
        .query(
            include_str!("allocate.load_projects.sql"),
            &[&tenant.0, &date, &at, &only.map(<[i64]>::to_vec)],
        )
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get("id")).collect();
    let mut sources = project::sources_of(client, tenant, &ids).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: i64 = r.get("id");
            Live {
                id,
                name: r.get("name"),
                status: r.get("status"),
                day: r.get("day"),
                weekday: r.get("weekday"),
                scheduled: r.get("scheduled"),
                holiday: r.get("holiday"),
                daily_quota: r.get("daily_quota"),
                max_attempts: r.get("max_attempts"),
                priority: r.get("priority"),
                order: r.get("allocation_order"),
                filled: r.get("filled"),
                sources: sources.remove(&id).unwrap_or_default(),
            }
        })
        .collect())
}

/// The tenant's geos and statuses, for matching rules to cells in memory.
pub(crate) struct Catalog {
    /// geo id → (country, is the whole country)
    pub(crate) geos: HashMap<i64, (String, bool)>,
    /// status id → (category, max attempts)
    pub(crate) statuses: HashMap<i16, (String, Option<i16>)>,
}

impl Catalog {
    pub(crate) async fn load(client: &impl GenericClient, tenant: TenantId) -> Result<Catalog> {
        let geos = client
            .query("SELECT id, country::text, region IS NULL FROM geos WHERE tenant_id = $1", &[&tenant.0])
            .await?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        let statuses = client
            .query(
                "SELECT id, category::text, max_attempts FROM number_statuses WHERE tenant_id = $1",
                &[&tenant.0],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        Ok(Catalog { geos, statuses })
    }

    /// A rule's geo matches a number's geo when they are the same, when the rule names a
    /// whole country and the number is in it (or one of its regions), or when the rule
    /// says any.
    fn geo_matches(&self, rule_geo: Option<i64>, number_geo: i64) -> bool {
        match rule_geo {
            None => true,
            Some(g) if g == number_geo => true,
            Some(g) => match (self.geos.get(&g), self.geos.get(&number_geo)) {
                (Some((country, true)), Some((number_country, _))) => country == number_country,
                _ => false,
            },
        }
    }

    pub(crate) fn source_matches(&self, source: &project::Source, provider: i64, geo_key: i64) -> bool {
        source.provider_id.is_none_or(|p| p == provider) && self.geo_matches(source.geo_id, geo_key)
    }

    /// Why a number in this status with these attempts may not go to a project with
    /// this attempt limit, if it may not.
    pub(crate) fn status_bars(&self, status: i16, attempts: i16, project_max: i16) -> Option<Bar> {
        let (category, status_max) = self.statuses.get(&status)?;
        if category != "fresh" && category != "retry" {
            return Some(Bar::Status);
        }
        if attempts >= status_max.map_or(project_max, |m| m.min(project_max)) {
            return Some(Bar::MaxAttempts);
        }
        None
    }
}

pub(crate) enum Bar {
    Status,
    MaxAttempts,
}

/// One group of numbers with the same allocation-relevant facts.
#[derive(Debug, Clone)]
struct Stat {
    provider: i64,
    geo_key: i64,
    status: i16,
    attempts: i16,
    holder: Option<i64>,
    dnc: bool,
    cooling: bool,
    numbers: i64,
}

/// Counts the tenant's numbers by what decides their eligibility: one pass over the table.
async fn pool_stats(client: &impl GenericClient, tenant: TenantId, at: DateTime<Utc>) -> Result<Vec<Stat>> {
    Ok(client
        .query(
            "SELECT n.provider_id, COALESCE(n.geo_id, 0) AS geo_key, n.status, n.attempts, n.project_id,
                    d.phone IS NOT NULL AS dnc, COALESCE(n.next_eligible_at > $2, false) AS cooling,
                    count(*) AS numbers
               FROM phone_numbers n
               LEFT JOIN dnc_numbers d ON d.tenant_id = n.tenant_id AND d.phone = n.phone
              WHERE n.tenant_id = $1
              GROUP BY 1, 2, 3, 4, 5, 6, 7",
            &[&tenant.0, &at],
        )
        .await?
        .iter()
        .map(|r: &Row| Stat {
            provider: r.get(0),
            geo_key: r.get(1),
            status: r.get(2),
            attempts: r.get(3),
            holder: r.get(4),
            dnc: r.get(5),
            cooling: r.get(6),
            numbers: r.get(7),
        })
        .collect())
}

/// A cell of the shared pool: numbers nobody holds, not DNC, not cooling down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Cell {
    provider: i64,
    geo_key: i64,
    status: i16,
    attempts: i16,
}

struct Planned {
    runs: Vec<ProjectRun>,
    /// (project index, source id, cell, n)
    takes: Vec<(usize, i64, Cell, i64)>,
}

fn plan_run(projects: &[Live], catalog: &Catalog, stats: &[Stat]) -> Planned {
    let mut cells: Vec<Cell> = Vec::new();
    let mut capacity: Vec<i64> = Vec::new();
    for s in stats.iter().filter(|s| s.holder.is_none() && !s.dnc && !s.cooling) {
        cells.push(Cell { provider: s.provider, geo_key: s.geo_key, status: s.status, attempts: s.attempts });
        capacity.push(s.numbers);
    }
    let mut runs = Vec::with_capacity(projects.len());
    let mut claimants = Vec::new();
    let mut claimant_project = Vec::new();
    for (index, p) in projects.iter().enumerate() {
        let mut skipped = Skipped::default();
        let mut eligible = 0;
        for s in stats {
            if !p.sources.iter().any(|src| catalog.source_matches(src, s.provider, s.geo_key)) {
                continue;
            }
            match s.holder {
                Some(holder) if holder == p.id => continue,
                Some(_) => skipped.held_by_other_project += s.numbers,
                None if s.dnc => skipped.dnc += s.numbers,
                None => match catalog.status_bars(s.status, s.attempts, p.max_attempts) {
                    Some(Bar::Status) => skipped.status += s.numbers,
                    Some(Bar::MaxAttempts) => skipped.max_attempts += s.numbers,
                    None if s.cooling => skipped.cooling_down += s.numbers,
                    None => eligible += s.numbers,
                },
            }
        }
        let state = p.state();
        if state != "allocating" {
            skipped.outside_schedule = eligible;
        }
        let remaining = (p.daily_quota as i64 - p.filled).max(0);
        if state == "allocating" && remaining > 0 && !p.sources.is_empty() {
            let rules = p
                .sources
                .iter()
                .map(|src| plan::RuleClaim {
                    weight: src.weight as i64,
                    cells: (0..cells.len())
                        .filter(|&c| {
                            let cell = cells[c];
                            catalog.source_matches(src, cell.provider, cell.geo_key)
                                && catalog.status_bars(cell.status, cell.attempts, p.max_attempts).is_none()
                        })
                        .collect(),
                })
                .collect();
            claimants.push(plan::Claimant { priority: p.priority, remaining, rules });
            claimant_project.push(index);
        }
        runs.push(ProjectRun {
            project_id: p.id,
            name: p.name.clone(),
            day: p.day,
            weekday: p.weekday,
            state: state.to_owned(),
            daily_quota: p.daily_quota,
            allocated_before: p.filled,
            allocated: 0,
            eligible,
            rules: p
                .sources
                .iter()
                .map(|s| RuleRun {
                    source_id: s.id,
                    provider_id: s.provider_id,
                    geo_id: s.geo_id,
                    weight: s.weight,
                    allocated: 0,
                })
                .collect(),
            skipped,
            numbers: None,
        });
    }
    let takes = plan::plan(&claimants, &capacity)
        .into_iter()
        .map(|t| {
            let project = claimant_project[t.claimant];
            (project, projects[project].sources[t.rule].id, cells[t.cell], t.n)
        })
        .collect();
    Planned { runs, takes }
}

/// The ORDER BY of one allocation order, inside a cell and when numbering the picks.
/// `random` is a hash of the phone seeded by the day, so a dry run and the real run of
/// the same day pick the same numbers.
fn order_sql(order: &str) -> (&'static str, &'static str) {
    match order {
        "oldest" => ("n.created_at, n.phone DESC", "p.created_at, p.phone DESC"),
        "random" => ("hashint8extended(n.phone, $9), n.phone", "hashint8extended(p.phone, $9), p.phone"),
        _ => ("n.created_at DESC, n.phone", "p.created_at DESC, p.phone"),
    }
}

/// The numbers a round picks, before (real run) they are written. A temp table with
/// statistics lets the write join it like any table (a hash join over the partitions)
/// instead of carrying a million rows through one statement's CTEs; it is also what a
/// later order of the same round checks so no number is picked twice.
const PICKS_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS dialpool_picks (
        phone bigint PRIMARY KEY, project_id bigint NOT NULL, source_id bigint NOT NULL,
        provider_id bigint NOT NULL, geo_id bigint, status smallint NOT NULL
    ) ON COMMIT DROP";

/// Picks the planned numbers of one allocation order into `dialpool_picks`. In a real run
/// the picked rows are locked (`FOR UPDATE SKIP LOCKED`) until the transaction ends, so
/// nothing else changes them before they are written. Returns how many were picked.
#[allow(clippy::too_many_arguments)]
async fn pick(
    client: &impl GenericClient,
    tenant: TenantId,
    order: &str,
    takes: &[(i64, i64, Cell, i64)],
    at: DateTime<Utc>,
    seed: i64,
    lock: bool,
    earlier_picks: bool,
) -> Result<u64> {
    let mut cell_index: HashMap<Cell, i32> = HashMap::new();
    let mut wants: Vec<(Cell, i64)> = Vec::new();
    for &(_, _, cell, n) in takes {
        let i = *cell_index.entry(cell).or_insert_with(|| {
            wants.push((cell, 0));
            (wants.len() - 1) as i32
        });
        wants[i as usize].1 += n;
    }
    let w_cell: Vec<i32> = (0..wants.len() as i32).collect();
    let w_provider: Vec<i64> = wants.iter().map(|w| w.0.provider).collect();
    let w_geo: Vec<i64> = wants.iter().map(|w| w.0.geo_key).collect();
    let w_status: Vec<i16> = wants.iter().map(|w| w.0.status).collect();
    let w_attempts: Vec<i16> = wants.iter().map(|w| w.0.attempts).collect();
    let w_n: Vec<i64> = wants.iter().map(|w| w.1).collect();
    let t_cell: Vec<i32> = takes.iter().map(|t| cell_index[&t.2]).collect();
    let t_project: Vec<i64> = takes.iter().map(|t| t.0).collect();
    let t_source: Vec<i64> = takes.iter().map(|t| t.1).collect();
    let t_n: Vec<i64> = takes.iter().map(|t| t.3).collect();
    let (inner, outer) = order_sql(order);
    let lock = if lock { "FOR UPDATE OF n SKIP LOCKED" } else { "" };
    // Orders of one round draw on the same cells; a later one must not pick what an
    // earlier one did (a real run writes them only at the end of the round).
    let not_taken = if earlier_picks {
        "AND NOT EXISTS (SELECT FROM pg_temp.dialpool_picks x WHERE x.phone = n.phone)"
    } else {
        ""
    };
    // Numbers of a cell are dealt to its takers in turn, in proportion to what each
    // takes, so no taker gets only the tail of the cell.
    let sql = format!(
        "WITH want AS (
            SELECT * FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::int2[], $6::int2[], $7::bigint[])
                AS w(cell, provider_id, geo_key, status, attempts, n)
             -- The seed is only read by the random order; typing it here keeps one
             -- parameter list for all three.
             WHERE $9::bigint IS NOT NULL
         ), takers AS (
            SELECT * FROM unnest($10::int[], $11::bigint[], $12::bigint[], $13::bigint[])
                AS t(cell, project_id, source_id, n)
         ), slots AS (
            SELECT t.cell, t.project_id, t.source_id,
                   row_number() OVER (PARTITION BY t.cell ORDER BY (k - 0.5) / t.n, t.project_id, t.source_id) AS rn
              FROM takers t CROSS JOIN LATERAL generate_series(1, t.n) k
         ), picked AS (
            SELECT w.cell, w.provider_id, w.geo_key, w.status, p.phone,
                   row_number() OVER (PARTITION BY w.cell ORDER BY {outer}) AS rn
              FROM want w CROSS JOIN LATERAL (
                SELECT n.phone, n.created_at FROM phone_numbers n
                 WHERE n.tenant_id = $1 AND n.project_id IS NULL AND n.provider_id = w.provider_id
                   AND COALESCE(n.geo_id, 0) = w.geo_key AND n.status = w.status AND n.attempts = w.attempts
                   AND (n.next_eligible_at IS NULL OR n.next_eligible_at <= $8)
                   AND NOT EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = $1 AND d.phone = n.phone)
                   {not_taken}
                 ORDER BY {inner} LIMIT w.n {lock}) p
         )
         INSERT INTO pg_temp.dialpool_picks (phone, project_id, source_id, provider_id, geo_id, status)
         SELECT p.phone, s.project_id, s.source_id, p.provider_id, NULLIF(p.geo_key, 0), p.status
           FROM picked p JOIN slots s USING (cell, rn)"
    );
    Ok(client
        .execute(
            &sql,
            &[
                &tenant.0,
                &w_cell,
                &w_provider,
                &w_geo,
                &w_status,
                &w_attempts,
                &w_n,
                &at,
                &seed,
                &t_cell,
                &t_project,
                &t_source,
                &t_n,
            ],
        )
        .await?)
}

/// Writes a real run's `picked` picks: the numbers move to their projects (re-checking
/// that no project holds them) and each gets an `allocated` event. Returns how many moved.
async fn write_picks(
    client: &impl GenericClient,
    tenant: TenantId,
    at: DateTime<Utc>,
    actor: &Actor,
    picked: u64,
) -> Result<u64> {
    client.batch_execute("ANALYZE pg_temp.dialpool_picks").await?;
    let moved = client
        .execute(
            "UPDATE phone_numbers n SET project_id = a.project_id, allocated_at = $2, updated_at = now()
               FROM pg_temp.dialpool_picks a
              WHERE n.tenant_id = $1 AND n.phone = a.phone AND n.project_id IS NULL",
            &[&tenant.0, &at],
        )
        .await?;
    // The picks were locked when picked, so every one of them moved; a shortfall would
    // mean the lock did not hold, and events must not claim what did not happen.
    if moved != picked {
        return Err(Error::Refused(format!(
            "allocation picked {picked} numbers but could move only {moved}; nothing was written, run it again"
        )));
    }
    client
        .execute(
            "INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id,
                                        status_from, status_to, actor_user_id, data)
             SELECT $1, $2, phone, 'allocated', project_id, provider_id, geo_id, status, status, $3,
                    jsonb_build_object('source', source_id)
               FROM pg_temp.dialpool_picks",
            &[&tenant.0, &at, &actor.user_id],
        )
        .await?;
    Ok(moved)
}

/// Runs (or with `dry_run` previews) allocation.
pub async fn run(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    request: &Request,
) -> Result<Report> {
    crate::platform::db::analyze_numbers_if_stale(&*client).await?;
    let tx = client.transaction().await?;
    if request.dry_run {
        // Counting and picking see one snapshot, so the preview adds up.
        tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").await?;
    }
    let report = run_in(&tx, tenant, actor, request).await?;
    let action = if request.dry_run { "allocation.dry_run" } else { "allocation.run" };
    if request.dry_run {
        tx.rollback().await?;
        // A dry run changes nothing, but who looked at what the pool would give is
        // worth keeping; it is recorded on its own.
        audit::record(&*client, tenant, actor, summary_change(action, request, &report)).await?;
    } else {
        audit::record(&tx, tenant, actor, summary_change(action, request, &report)).await?;
        tx.commit().await?;
        crate::platform::db::refresh_number_statistics(&*client, allocated_rows(&report)).await?;
    }
    Ok(report)
}

/// How many numbers a run moved into projects.
fn allocated_rows(report: &Report) -> u64 {
    report.allocated.max(0) as u64
}

/// Runs allocation as the work of a queued job, marked succeeded in its transaction.
pub async fn run_as_job(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    request: &Request,
    claim: &crate::platform::job::Claim,
) -> Result<Report> {
    crate::platform::db::analyze_numbers_if_stale(&*client).await?;
    let tx = client.transaction().await?;
    let report = run_in(&tx, tenant, actor, request).await?;
    audit::record(&tx, tenant, actor, summary_change("allocation.run", request, &report)).await?;
    crate::platform::job::complete_in(&tx, claim, &serde_json::to_value(&report).unwrap_or_default()).await?;
    tx.commit().await?;
    if let Err(error) =
        crate::platform::db::refresh_number_statistics(&*client, allocated_rows(&report)).await
    {
        tracing::warn!(%error, "analyzing phone_numbers after an allocation");
    }
    Ok(report)
}

/// Dry-runs allocation as if `input` were saved (as project `id`, or as a new project):
/// the admin's preview before saving. Nothing is stored.
pub async fn preview(
    client: &mut impl GenericClient,
    tenant: TenantId,
    id: Option<i64>,
    input: &ProjectInput,
    date: Option<NaiveDate>,
) -> Result<(Report, i64)> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").await?;
    let saved = project::save(&tx, tenant, id, input).await?;
    let request = Request { date, dry_run: true, ..Request::default() };
    let report = run_in(&tx, tenant, &Actor::system("preview"), &request).await?;
    tx.rollback().await?;
    Ok((report, saved))
}

fn summary_change(action: &'static str, request: &Request, report: &Report) -> Change<'static> {
    let projects: Vec<serde_json::Value> = report
        .projects
        .iter()
        .map(|p| serde_json::json!({ "project_id": p.project_id, "day": p.day, "state": p.state, "allocated": p.allocated }))
        .collect();
    Change {
        action,
        entity: "allocation",
        entity_id: request.date.map(|d| d.to_string()).unwrap_or_else(|| "today".into()),
        before: None,
        after: Some(serde_json::json!({ "allocated": report.allocated, "projects": projects })),
    }
}

async fn run_in(
    client: &impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    request: &Request,
) -> Result<Report> {
    let started = std::time::Instant::now();
    let at = request.at.unwrap_or_else(Utc::now);
    client.batch_execute(PICKS_TABLE).await?;
    if !request.dry_run {
        // One run per tenant at a time: the second waits, then sees the first's fills.
        client
            .execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.allocate', $1))", &[&tenant.0])
            .await?;
    }
    // A dry run's counts are the plan's; it picks the very numbers only when asked to
    // list them, which is what keeps a preview over millions of numbers quick.
    let picks_numbers = !request.dry_run || request.include_numbers;
    let catalog = Catalog::load(client, tenant).await?;
    let mut runs: Vec<ProjectRun> = Vec::new();
    let mut numbers: HashMap<i64, Vec<String>> = HashMap::new();
    // A real run can come up short when rows it planned on were locked by an import or
    // taken meanwhile; it plans again from what is left, a few times at most.
    for round in 0..3 {
        let projects = load_projects(client, tenant, request.date, at, request.projects.as_deref()).await?;
        // Naming a project that is not there (or deleted) is a mistake worth saying; a
        // manager's scope listing a deleted project (forecast, explain) is not.
        if let Some(missing) =
            request.projects.iter().flatten().find(|id| !projects.iter().any(|p| p.id == **id))
        {
            return Err(Error::NotFound { entity: "project", key: missing.to_string() });
        }
        let stats = pool_stats(client, tenant, at).await?;
        let planned = plan_run(&projects, &catalog, &stats);
        if round == 0 {
            runs = planned.runs.clone();
        }
        let planned_total: i64 = planned.takes.iter().map(|t| t.3).sum();
        if planned_total == 0 {
            break;
        }
        // (project id, source id, numbers) taken this round.
        let mut taken: Vec<(i64, i64, i64)> = Vec::new();
        if picks_numbers {
            let mut picked = 0;
            for order in project::ORDERS {
                let takes: Vec<(i64, i64, Cell, i64)> = planned
                    .takes
                    .iter()
                    .filter(|t| projects[t.0].order == *order)
                    .map(|&(p, source, cell, n)| (projects[p].id, source, cell, n))
                    .collect();
                if takes.is_empty() {
                    continue;
                }
                let seed = projects[planned.takes[0].0].day.to_epoch_days() as i64;
                picked += pick(client, tenant, order, &takes, at, seed, !request.dry_run, picked > 0).await?;
            }
            if !request.dry_run {
                write_picks(client, tenant, at, actor, picked).await?;
            }
            for row in client
                .query(
                    "SELECT project_id, source_id, count(*) FROM pg_temp.dialpool_picks GROUP BY 1, 2",
                    &[],
                )
                .await?
            {
                taken.push((row.get(0), row.get(1), row.get(2)));
            }
            if request.include_numbers {
                for row in client.query("SELECT project_id, phone FROM pg_temp.dialpool_picks", &[]).await? {
                    numbers
                        .entry(row.get(0))
                        .or_default()
                        .push(crate::intake::phone::format_e164(row.get(1)));
                }
            }
            client.batch_execute("TRUNCATE pg_temp.dialpool_picks").await?;
        } else {
            taken.extend(planned.takes.iter().map(|&(p, source, _, n)| (projects[p].id, source, n)));
        }
        let mut fills: HashMap<i64, i64> = HashMap::new();
        for &(project_id, source_id, n) in &taken {
            *fills.entry(project_id).or_default() += n;
            if let Some(run) = runs.iter_mut().find(|r| r.project_id == project_id) {
                run.allocated += n;
                if let Some(rule) = run.rules.iter_mut().find(|r| r.source_id == source_id) {
                    rule.allocated += n;
                }
            }
        }
        if request.dry_run {
            break;
        }
        let taken_total: i64 = fills.values().sum();
        let ids: Vec<i64> = fills.keys().copied().collect();
        let days: Vec<NaiveDate> = ids
            .iter()
            .map(|id| projects.iter().find(|p| p.id == *id).map(|p| p.day).unwrap_or_default())
            .collect();
        let counts: Vec<i32> = ids.iter().map(|id| fills[id] as i32).collect();
        client
            .execute(
                "INSERT INTO project_fills (tenant_id, project_id, day, allocated)
                 SELECT $1, * FROM unnest($2::bigint[], $3::date[], $4::int[])
                 ON CONFLICT (tenant_id, project_id, day) DO UPDATE SET allocated = project_fills.allocated + excluded.allocated",
                &[&tenant.0, &ids, &days, &counts],
            )
            .await?;
        if taken_total >= planned_total {
            break;
        }
        tracing::info!(round, planned_total, taken_total, "allocation came up short; planning again");
    }
    if request.include_numbers {
        for run in &mut runs {
            let mut list = numbers.remove(&run.project_id).unwrap_or_default();
            list.sort();
            run.numbers = Some(list);
        }
    }
    Ok(Report {
        dry_run: request.dry_run,
        at,
        allocated: runs.iter().map(|r| r.allocated).sum(),
        projects: runs,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}
