//! The home page's figures: each project's today (in its own time zone) so far —
//! numbers allocated and leased, calls, people reached, successes, against its daily
//! quota — and the work running now. Counted live from the events and the calls, not from
//! the conversion aggregates, which trail by up to a refresh interval; today's rows are a
//! small recent slice that the time-ordered (BRIN) indexes find without reading the rest.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::delivery::export::{self, ExportRecord};
use crate::platform::TenantId;
use crate::platform::error::Result;

#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct TodayCounts {
    pub allocated: i64,
    pub leased: i64,
    pub dialed: i64,
    /// Calls a person answered (as conversion counts them).
    pub contacted: i64,
    pub success: i64,
    /// success / dialed.
    pub conversion_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectToday {
    pub project_id: i64,
    pub name: String,
    /// `active` or `paused`.
    pub status: String,
    /// Today in the project's zone.
    pub day: NaiveDate,
    pub time_zone: String,
    /// Numbers a day the allocation hands the project (0: none).
    pub daily_quota: i32,
    #[serde(flatten)]
    pub counts: TodayCounts,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    /// When these figures were read.
    pub at: DateTime<Utc>,
    pub projects: Vec<ProjectToday>,
    pub totals: TodayCounts,
    pub running_exports: Vec<ExportRecord>,
    /// When the conversion aggregates were last refreshed.
    pub conversion_refreshed_at: Option<DateTime<Utc>>,
    /// Do-not-call lists past their age: load them again (a blocking one holds back its
    /// country's leases meanwhile).
    pub stale_dnc_lists: Vec<crate::intake::dnc_list::DncList>,
}

/// Today's figures for the projects `projects` allows (None: all), by name.
pub async fn today(
    client: &impl GenericClient,
    tenant: TenantId,
    projects: Option<&[i64]>,
) -> Result<Dashboard> {
    let scope = projects.map(<[i64]>::to_vec);
    // Each project's day starts at its own midnight; the earliest of those bounds the
    // scans, then each row is held to its project's.
    let rows = client
        .query(
            "WITH p AS (
                SELECT id, name, status, time_zone, daily_quota, (now() AT TIME ZONE time_zone)::date AS day
                  FROM projects
                 WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::bigint[] IS NULL OR id = ANY($2))
             )
             SELECT id, name, status, time_zone, daily_quota, day, (day::timestamp AT TIME ZONE time_zone) AS day_start, now()
               FROM p ORDER BY lower(name), id",
            &[&tenant.0, &scope],
        )
        .await?;
    let now: DateTime<Utc> = match rows.first() {
        Some(row) => row.get(7),
        None => client.query_one("SELECT now()", &[]).await?.get(0),
    };
    let since: Option<DateTime<Utc>> = rows.iter().map(|r| r.get::<_, DateTime<Utc>>(6)).min();
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let starts: Vec<DateTime<Utc>> = rows.iter().map(|r| r.get(6)).collect();
    let tallies = match since {
        None => Vec::new(),
        Some(since) => {
            client.query(include_str!("dashboard.today.sql"), &[&tenant.0, &ids, &starts, &since]).await?
        }
    };
    let counts_of = |id: i64| {
        tallies
            .iter()
            .find(|c| c.get::<_, i64>(0) == id)
            .map(|c| counts(c.get(1), c.get(2), c.get(3), c.get(4), c.get(5)))
            .unwrap_or_default()
    };
    let projects: Vec<ProjectToday> = rows
        .iter()
        .map(|row| ProjectToday {
            project_id: row.get(0),
            name: row.get(1),
            status: row.get(2),
            time_zone: row.get(3),
            daily_quota: row.get(4),
            day: row.get(5),
            counts: counts_of(row.get(0)),
        })
        .collect();
    let sum = |f: fn(&TodayCounts) -> i64| projects.iter().map(|p| f(&p.counts)).sum::<i64>();
    let totals = counts(
        sum(|c| c.allocated),
        sum(|c| c.leased),
        sum(|c| c.dialed),
        sum(|c| c.contacted),
        sum(|c| c.success),
    );
    let running_exports = export::running(client, tenant, scope.as_deref()).await?;
    let conversion_refreshed_at =
        client.query_one("SELECT refreshed_at FROM conversion_state", &[]).await?.get(0);
    let stale_dnc_lists =
        crate::intake::dnc_list::list(client, tenant).await?.into_iter().filter(|l| l.stale).collect();
    Ok(Dashboard { at: now, projects, totals, running_exports, conversion_refreshed_at, stale_dnc_lists })
}

fn counts(allocated: i64, leased: i64, dialed: i64, contacted: i64, success: i64) -> TodayCounts {
    TodayCounts {
        allocated,
        leased,
        dialed,
        contacted,
        success,
        conversion_rate: (dialed > 0).then(|| success as f64 / dialed as f64),
    }
}
