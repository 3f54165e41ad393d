//! From plan to numbers: the plan for the run's projects, and the statements that pick
//! exactly the planned numbers, per cell and ordering, into a temp table.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio_postgres::GenericClient;

/// A cell of the shared pool: numbers nobody holds, not DNC, not cooling down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Cell {
    pub(super) provider: i64,
    pub(super) geo_key: i64,
    pub(super) status: i16,
    pub(super) attempts: i16,
    /// The longest rule prefix its numbers start with: 0 for none, else 1 + its index in
    /// the run's prefixes (so a cell stays `Copy`).
    pub(super) prefix: u16,
    /// The project its numbers' groups are in (0: none), which alone may take them.
    pub(super) reserved: i64,
}

/// The prefix a cell's numbers start with, as text.
pub(super) fn prefix_of(prefixes: &[String], cell: Cell) -> &str {
    match cell.prefix {
        0 => "",
        i => prefixes.get(i as usize - 1).map_or("", String::as_str),
    }
}

pub(super) struct Planned {
    pub(super) runs: Vec<ProjectRun>,
    /// (project index, source id, cell, n)
    pub(super) takes: Vec<(usize, i64, Cell, i64)>,
}

pub(super) fn plan_run(projects: &[Live], catalog: &Catalog, stats: &[Stat], prefixes: &[String]) -> Planned {
    let mut cells: Vec<Cell> = Vec::new();
    let mut capacity: Vec<i64> = Vec::new();
    for s in stats.iter().filter(|s| s.holder.is_none() && !s.dnc && !s.cooling) {
        let prefix = prefixes.iter().position(|p| *p == s.prefix).map_or(0, |i| i as u16 + 1);
        cells.push(Cell {
            provider: s.provider,
            geo_key: s.geo_key,
            status: s.status,
            attempts: s.attempts,
            prefix,
            reserved: s.reserved.unwrap_or(0),
        });
        capacity.push(s.numbers);
    }
    let mut runs = Vec::with_capacity(projects.len());
    let mut claimants = Vec::new();
    // Per claimant: its project, and the project's rule behind each of its claims.
    let mut claimant_project: Vec<(usize, Vec<usize>)> = Vec::new();
    for (index, p) in projects.iter().enumerate() {
        let mut skipped = Skipped::default();
        let mut eligible = 0;
        for s in stats {
            if !p.sources.iter().any(|src| catalog.source_matches(src, s.provider, s.geo_key, &s.prefix)) {
                continue;
            }
            // A free number reserved for this project (its group is here) is like any free
            // one; reserved for another, it is as good as held there.
            let holder = s.holder.or(s.reserved.filter(|&r| r != p.id));
            match holder {
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
        let mut learned = Vec::new();
        if state == "allocating" && remaining > 0 && !p.sources.is_empty() {
            // The cells each rule may draw from (the pool's free numbers it matches, in a
            // status the project may take).
            let rule_cells: Vec<Vec<usize>> = p
                .sources
                .iter()
                .map(|src| {
                    (0..cells.len())
                        .filter(|&c| {
                            let cell = cells[c];
                            (cell.reserved == 0 || cell.reserved == p.id)
                                && catalog.source_matches(
                                    src,
                                    cell.provider,
                                    cell.geo_key,
                                    prefix_of(prefixes, cell),
                                )
                                && catalog.status_bars(cell.status, cell.attempts, p.max_attempts).is_none()
                        })
                        .collect()
                })
                .collect();
            let (rules, sources) = match &p.learning {
                None => (
                    p.sources
                        .iter()
                        .zip(rule_cells)
                        .map(|(src, cells)| plan::RuleClaim { weight: src.weight as i64, cells })
                        .collect(),
                    (0..p.sources.len()).collect(),
                ),
                Some(settings) => {
                    // One claim per provider × geo, weighed by what it has converted to,
                    // holding every cell any rule matches there (rules with different
                    // blocks may each match part of it); its numbers are credited to the
                    // first rule that matched it.
                    let mut groups: Vec<((i64, i64), usize, Vec<usize>)> = Vec::new();
                    for (rule, matched) in rule_cells.iter().enumerate() {
                        for &c in matched {
                            let key = (cells[c].provider, cells[c].geo_key);
                            match groups.iter_mut().find(|g| g.0 == key) {
                                Some(g) if !g.2.contains(&c) => g.2.push(c),
                                Some(_) => {}
                                None => groups.push((key, rule, vec![c])),
                            }
                        }
                    }
                    groups.sort_by_key(|g| g.0);
                    let keys: Vec<(i64, i64)> = groups.iter().map(|g| g.0).collect();
                    let held: Vec<i64> =
                        groups.iter().map(|g| g.2.iter().map(|&c| capacity[c]).sum()).collect();
                    learned = learn::weights(
                        settings,
                        &keys,
                        &held,
                        remaining,
                        &p.history,
                        p.day,
                        learn::seed(p.id, p.day),
                    );
                    let rules = groups
                        .iter()
                        .zip(&learned)
                        .map(|(g, w)| plan::RuleClaim {
                            weight: learn::planner_weight(w.share),
                            cells: g.2.clone(),
                        })
                        .collect();
                    (rules, groups.iter().map(|g| g.1).collect())
                }
            };
            claimants.push(plan::Claimant { priority: p.priority, remaining, rules });
            claimant_project.push((index, sources));
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
            learned,
        });
    }
    let takes = plan::plan(&claimants, &capacity)
        .into_iter()
        .map(|t| {
            let (project, sources) = &claimant_project[t.claimant];
            (*project, projects[*project].sources[sources[t.rule]].id, cells[t.cell], t.n)
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
pub(super) const PICKS_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS dialpool_picks (
        phone bigint PRIMARY KEY, project_id bigint NOT NULL, source_id bigint NOT NULL,
        provider_id bigint NOT NULL, geo_id bigint, status smallint NOT NULL, import_id bigint NOT NULL
    ) ON COMMIT DROP";

/// Picks the planned numbers of one allocation order into `dialpool_picks`. In a real run
/// the picked rows are locked (`FOR UPDATE SKIP LOCKED`) until the transaction ends, so
/// nothing else changes them before they are written. Returns how many were picked.
#[allow(clippy::too_many_arguments)]
pub(super) async fn pick(
    client: &impl GenericClient,
    tenant: TenantId,
    order: &str,
    takes: &[(i64, i64, Cell, i64)],
    at: DateTime<Utc>,
    seed: i64,
    lock: bool,
    earlier_picks: bool,
    prefixes: &[String],
    together: &[i64],
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
    let w_prefix: Vec<&str> = wants.iter().map(|w| prefix_of(prefixes, w.0)).collect();
    let w_reserved: Vec<i64> = wants.iter().map(|w| w.0.reserved).collect();
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
    // takes, so no taker gets only the tail of the cell. The slots are materialized so
    // that their rank is a column the join can hash or merge on: inlined, the planner
    // could keep it as a window expression and merge on the cell alone, filtering the
    // rank pair by pair, which is quadratic in a cell's size (a 20,000-number cell took
    // 19 s, a million did not finish in 11 minutes).
    let sql = format!(
        "WITH want AS (
            SELECT * FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::int2[], $6::int2[], $7::bigint[], $15::text[],
                                 $17::bigint[])
                AS w(cell, provider_id, geo_key, status, attempts, n, prefix, reserved)
             -- The seed is only read by the random order, the prefixes and the groups
             -- only when blocks or households are in play; typing them here keeps one
             -- parameter list for all.
             WHERE $9::bigint IS NOT NULL AND $14::text[] IS NOT NULL AND $16::bigint[] IS NOT NULL
         ), takers AS (
            SELECT * FROM unnest($10::int[], $11::bigint[], $12::bigint[], $13::bigint[])
                AS t(cell, project_id, source_id, n)
         ), slots AS MATERIALIZED (
            SELECT t.cell, t.project_id, t.source_id,
                   row_number() OVER (PARTITION BY t.cell ORDER BY (k - 0.5) / t.n, t.project_id, t.source_id) AS rn
              FROM takers t CROSS JOIN LATERAL generate_series(1, t.n) k
         ), picked AS (
            SELECT w.cell, w.provider_id, w.geo_key, w.status, p.phone, p.import_id,
                   row_number() OVER (PARTITION BY w.cell ORDER BY {outer}) AS rn
              FROM want w CROSS JOIN LATERAL (
                SELECT n.phone, n.created_at, n.import_id FROM phone_numbers n
                 WHERE n.tenant_id = $1 AND n.project_id IS NULL AND n.provider_id = w.provider_id
                   AND COALESCE(n.geo_id, 0) = w.geo_key AND n.status = w.status AND n.attempts = w.attempts
                   AND (n.next_eligible_at IS NULL OR n.next_eligible_at <= $8)
                   AND NOT EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = $1 AND d.phone = n.phone)
                   {by_prefix}
                   {by_reserved}
                   {not_taken}
                 ORDER BY {inner} LIMIT w.n {lock}) p
         )
         INSERT INTO pg_temp.dialpool_picks (phone, project_id, source_id, provider_id, geo_id, status, import_id)
         SELECT p.phone, s.project_id, s.source_id, p.provider_id, NULLIF(p.geo_key, 0), p.status, p.import_id
           FROM picked p JOIN slots s USING (cell, rn)",
        by_prefix = if prefixes.is_empty() {
            String::new()
        } else {
            format!("AND {} = w.prefix", prefix_key_sql(14, prefixes.len()))
        },
        by_reserved = if together.is_empty() {
            String::new()
        } else {
            format!("AND COALESCE({}, 0) = w.reserved", crate::pool::groups::reserved_sql(16, true))
        },
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
                &prefixes,
                &w_prefix,
                &together,
                &w_reserved,
            ],
        )
        .await?)
}

/// Writes a real run's `picked` picks: the numbers move to their projects (re-checking
/// that no project holds them) and each gets an `allocated` event. Returns how many moved.
pub(super) async fn write_picks(
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
                                        status_from, status_to, actor_user_id, data, import_id)
             SELECT $1, $2, phone, 'allocated', project_id, provider_id, geo_id, status, status, $3,
                    jsonb_build_object('source', source_id), import_id
               FROM pg_temp.dialpool_picks",
            &[&tenant.0, &at, &actor.user_id],
        )
        .await?;
    Ok(moved)
}
