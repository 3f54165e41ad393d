//! A run: locked per tenant, planned, picked and written in one transaction (or only
//! planned, for a dry run), with its summary audited.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::progress::Progress;
use crate::pool::project::{self, ProjectInput};
use chrono::{NaiveDate, Utc};
use std::collections::HashMap;
use tokio_postgres::GenericClient;

/// Runs (or with `dry_run` previews) allocation.
pub async fn run(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    request: &Request,
) -> Result<Report> {
    run_with_progress(client, tenant, actor, request, &Progress::default()).await
}

/// [`run`], telling `progress` what it is doing: counting the pool, then picking (of the
/// numbers planned), then writing.
pub async fn run_with_progress(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    request: &Request,
    progress: &Progress,
) -> Result<Report> {
    crate::platform::db::analyze_numbers_if_stale(&*client).await?;
    let tx = client.transaction().await?;
    if request.dry_run {
        // Counting and picking see one snapshot, so the preview adds up.
        tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").await?;
    }
    let report = run_in(&tx, tenant, actor, request, progress).await?;
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
    let report = run_in(&tx, tenant, actor, request, &Progress::default()).await?;
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
    let report = run_in(&tx, tenant, &Actor::system("preview"), &request, &Progress::default()).await?;
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
    progress: &Progress,
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
        let prefixes = rule_prefixes(&projects);
        progress.stage("counting the pool", None);
        let together = crate::pool::groups::keep_together_ids(client, tenant).await?;
        let stats = pool_stats(client, tenant, at, &prefixes, &together).await?;
        let planned = plan_run(&projects, &catalog, &stats, &prefixes);
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
            // One statement per order picks its numbers: the count moves between orders.
            progress.stage("picking numbers", None);
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
                picked += pick(
                    client,
                    tenant,
                    order,
                    &takes,
                    at,
                    seed,
                    !request.dry_run,
                    picked > 0,
                    &prefixes,
                    &together,
                )
                .await?;
                progress.set_done(picked);
            }
            if !request.dry_run {
                progress.stage("writing", None);
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
