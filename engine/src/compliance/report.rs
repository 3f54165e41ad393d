//! The compliance report of one project for a period, for a regulator or an auditor:
//! leases and calls by the recipient's local hour, calls per number in any 24 hours,
//! what each gate holds back, the do-not-call lists' ages, erasures and how fast they
//! were done, and every call made outside the recipient's legal hours. As JSON, CSV
//! (one table, a section per block) or XLSX (a sheet per block).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;

use crate::dialing::hours::GateCache;
use crate::dialing::lease::{self, WithheldNow};
use crate::intake::dnc_list::{self, DncList};
use crate::platform::TenantId;
use crate::platform::cells::escape_formula;
use crate::platform::error::{Error, Result};

/// Flagged calls listed in full; the count is always whole.
const FLAGGED_SHOWN: usize = 1000;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComplianceReport {
    pub project_id: i64,
    pub project: String,
    pub time_zone: String,
    /// The period, both days included, in the project's zone.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub generated_at: DateTime<Utc>,
    /// Leases handed out, by the hour (0–23) it was where the number rings.
    pub leases_by_local_hour: Vec<i64>,
    /// Calls, by the hour it was where the number rings.
    pub calls_by_local_hour: Vec<i64>,
    pub calls_per_number: CallsPerNumber,
    pub withheld: Withheld,
    pub dnc_lists: Vec<DncList>,
    pub erasures: Erasures,
    /// Calls that started outside the recipient's legal hours.
    pub calls_outside_hours: i64,
    /// The first 1,000 of them.
    pub flagged_calls: Vec<FlaggedCall>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct CallsPerNumber {
    /// Numbers called in the period (erased numbers are not told apart).
    pub numbers: i64,
    /// The most calls one number had in any 24 hours.
    pub most_in_24h: i64,
    /// How many numbers had at most 1, 2, 3 … calls in any 24 hours: `{"1": 120, "2": 4}`.
    pub by_most_in_24h: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Withheld {
    /// Imported rows refused in the period because they were on the do-not-call list
    /// (all of the tenant's imports: a file is not a project's).
    pub imports_dnc: i64,
    /// Imported rows refused in the period because the number was erased.
    pub imports_erased: i64,
    /// The project's numbers on the do-not-call list now.
    pub project_dnc_now: i64,
    /// What the lease gates hold back of the project's due numbers now.
    pub now: WithheldNow,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Erasures {
    /// Erasure requests finished in the period.
    pub requests: i64,
    pub numbers: i64,
    /// Of them, numbers that were stored.
    pub found: i64,
    /// From the subject's request to done, in hours.
    pub average_hours: Option<f64>,
    pub slowest_hours: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlaggedCall {
    pub call_id: String,
    pub started_at: DateTime<Utc>,
    /// E.164; absent when the number was erased since.
    pub phone: Option<String>,
    /// The zone where the call was outside the legal hours.
    pub zone: String,
    /// The legal window there, local time.
    pub allowed_from: String,
    pub allowed_until: String,
    pub local_time: String,
}

pub async fn report(
    pool: &Pool,
    gates: &GateCache,
    tenant: TenantId,
    project_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ComplianceReport> {
    if to < from {
        return Err(Error::invalid("to", format!("{to} is before {from}")));
    }
    if (to - from).num_days() > 366 {
        return Err(Error::invalid("to", "a report covers at most 366 days"));
    }
    let mut client = pool.get().await?;
    let project = client
        .query_opt(
            "SELECT name, time_zone, ($3::date::timestamp AT TIME ZONE time_zone),
                    (($4::date + 1)::timestamp AT TIME ZONE time_zone)
               FROM projects WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tenant.0, &project_id, &from, &to],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "project", key: project_id.to_string() })?;
    let (name, zone, start, until): (String, String, DateTime<Utc>, DateTime<Utc>) =
        (project.get(0), project.get(1), project.get(2), project.get(3));
    let period: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&tenant.0, &project_id, &start, &until];

    let mut leases_by_local_hour = vec![0i64; 24];
    for row in client
        .query(
            "SELECT extract(hour FROM e.at AT TIME ZONE COALESCE(zs.zones[1], g.time_zone, p.time_zone))::int, count(*)
               FROM number_events e
               JOIN projects p ON p.tenant_id = e.tenant_id AND p.id = e.project_id
               LEFT JOIN phone_numbers n ON n.tenant_id = e.tenant_id AND n.phone = e.phone AND e.phone <> 0
               LEFT JOIN phone_zone_sets zs ON zs.id = n.zone_set
               LEFT JOIN geos g ON g.tenant_id = e.tenant_id AND g.id = e.geo_id
              WHERE e.tenant_id = $1 AND e.project_id = $2 AND e.kind = 'leased' AND e.at >= $3 AND e.at < $4
              GROUP BY 1",
            &period,
        )
        .await?
    {
        let hour: i32 = row.get(0);
        leases_by_local_hour[hour.clamp(0, 23) as usize] = row.get(1);
    }

    let mut calls_by_local_hour = vec![0i64; 24];
    let mut most: BTreeMap<i64, i64> = BTreeMap::new();
    let mut flagged_calls = Vec::new();
    let mut calls_outside_hours = 0;
    for row in client.query(include_str!("report.sql"), &period).await? {
        let hour: i32 = row.get("local_hour");
        calls_by_local_hour[hour.clamp(0, 23) as usize] += 1;
        let phone: i64 = row.get("phone");
        if phone != 0 {
            let in_24h: i64 = row.get("calls_in_24h");
            let entry = most.entry(phone).or_default();
            *entry = (*entry).max(in_24h);
        }
        if let Some(zone) = row.get::<_, Option<String>>("outside_in") {
            calls_outside_hours += 1;
            if flagged_calls.len() < FLAGGED_SHOWN {
                let started_at: DateTime<Utc> = row.get("started_at");
                let local =
                    started_at.with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC));
                flagged_calls.push(FlaggedCall {
                    call_id: row.get("call_id"),
                    started_at,
                    phone: (phone != 0).then(|| crate::intake::phone::format_e164(phone)),
                    zone,
                    allowed_from: row.get("allowed_from"),
                    allowed_until: row.get("allowed_until"),
                    local_time: local.format("%Y-%m-%d %H:%M").to_string(),
                });
            }
        }
    }
    let mut by_most_in_24h = BTreeMap::new();
    for calls in most.values() {
        *by_most_in_24h.entry(format!("{calls}")).or_insert(0) += 1;
    }
    let calls_per_number = CallsPerNumber {
        numbers: most.len() as i64,
        most_in_24h: most.values().copied().max().unwrap_or(0),
        by_most_in_24h,
    };

    let imports = client
        .query_one(
            "SELECT COALESCE(sum(dnc), 0)::bigint, COALESCE(sum(erased), 0)::bigint FROM imports
              WHERE tenant_id = $1 AND status = 'succeeded' AND finished_at >= $2 AND finished_at < $3",
            &[&tenant.0, &start, &until],
        )
        .await?;
    let project_dnc_now: i64 = client
        .query_one(
            "SELECT count(*) FROM phone_numbers n
              WHERE n.tenant_id = $1 AND n.project_id = $2
                AND EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = $1 AND d.phone = n.phone)",
            &[&tenant.0, &project_id],
        )
        .await?
        .get(0);
    let now = lease::withheld_now(&mut client, gates, tenant, project_id, Utc::now()).await?;
    let withheld =
        Withheld { imports_dnc: imports.get(0), imports_erased: imports.get(1), project_dnc_now, now };

    let erasure = client
        .query_one(
            "SELECT count(*), COALESCE(sum(numbers), 0)::bigint, COALESCE(sum(found), 0)::bigint,
                    avg(hours)::float8, max(hours)::float8
               FROM (SELECT sum(numbers) AS numbers, sum(found) AS found,
                            extract(epoch FROM max(finished_at) - min(requested_at)) / 3600 AS hours
                       FROM erasures WHERE tenant_id = $1 AND finished_at >= $2 AND finished_at < $3
                      GROUP BY request_key) r",
            &[&tenant.0, &start, &until],
        )
        .await?;
    let erasures = Erasures {
        requests: erasure.get(0),
        numbers: erasure.get(1),
        found: erasure.get(2),
        average_hours: erasure.get::<_, Option<f64>>(3),
        slowest_hours: erasure.get::<_, Option<f64>>(4),
    };
    Ok(ComplianceReport {
        project_id,
        project: name,
        time_zone: zone,
        from,
        to,
        generated_at: Utc::now(),
        leases_by_local_hour,
        calls_by_local_hour,
        calls_per_number,
        withheld,
        dnc_lists: dnc_list::list(&**client, tenant).await?,
        erasures,
        calls_outside_hours,
        flagged_calls,
    })
}

/// The report's blocks as (sheet, rows); the first row of each is its header. Every cell
/// that can hold text from outside (list names, call ids) is escaped against formulas.
fn tables(report: &ComplianceReport) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let text = |s: &str| escape_formula(s).into_owned();
    let hours = |counts: &[i64]| {
        let mut rows = vec![vec!["local_hour".to_owned(), "count".to_owned()]];
        rows.extend(counts.iter().enumerate().map(|(h, c)| vec![format!("{h:02}"), c.to_string()]));
        rows
    };
    let mut per_number = vec![vec!["most_calls_in_24h".to_owned(), "numbers".to_owned()]];
    per_number
        .extend(report.calls_per_number.by_most_in_24h.iter().map(|(k, v)| vec![k.clone(), v.to_string()]));
    let w = &report.withheld;
    let withheld = vec![
        vec!["gate".to_owned(), "numbers".to_owned()],
        vec!["imports refused: do-not-call".to_owned(), w.imports_dnc.to_string()],
        vec!["imports refused: erased".to_owned(), w.imports_erased.to_string()],
        vec!["project numbers on do-not-call now".to_owned(), w.project_dnc_now.to_string()],
        vec!["due now".to_owned(), w.now.due.to_string()],
        vec!["due now, outside calling hours".to_owned(), w.now.outside_calling_hours.to_string()],
        vec!["due now, at the 24-hour cap".to_owned(), w.now.at_daily_cap.to_string()],
        vec!["due now, held by a stale do-not-call list".to_owned(), w.now.dnc_list_stale.to_string()],
    ];
    let mut lists = vec![
        vec!["list", "country", "loaded_at", "entries", "age_days", "max_age_days", "stale", "blocks"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    ];
    lists.extend(report.dnc_lists.iter().map(|l| {
        vec![
            text(&l.name),
            l.country.clone().unwrap_or_default(),
            l.loaded_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            l.loaded_entries.to_string(),
            l.age_days.map(|d| d.to_string()).unwrap_or_default(),
            l.max_age_days.map(|d| d.to_string()).unwrap_or_default(),
            l.stale.to_string(),
            l.block_when_stale.to_string(),
        ]
    }));
    let e = &report.erasures;
    let hours_text = |h: Option<f64>| h.map(|h| format!("{h:.1}")).unwrap_or_default();
    let erasures = vec![
        vec![
            "requests".to_owned(),
            "numbers".to_owned(),
            "found".to_owned(),
            "average_hours".to_owned(),
            "slowest_hours".to_owned(),
        ],
        vec![
            e.requests.to_string(),
            e.numbers.to_string(),
            e.found.to_string(),
            hours_text(e.average_hours),
            hours_text(e.slowest_hours),
        ],
    ];
    let mut flagged = vec![
        vec!["call_id", "started_at", "phone", "zone", "local_time", "allowed_from", "allowed_until"]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    ];
    flagged.extend(report.flagged_calls.iter().map(|c| {
        vec![
            text(&c.call_id),
            c.started_at.to_rfc3339(),
            c.phone.clone().map(|p| format!("'{p}")).unwrap_or_default(),
            c.zone.clone(),
            c.local_time.clone(),
            c.allowed_from.clone(),
            c.allowed_until.clone(),
        ]
    }));
    vec![
        ("leases_by_local_hour", hours(&report.leases_by_local_hour)),
        ("calls_by_local_hour", hours(&report.calls_by_local_hour)),
        ("calls_per_number", per_number),
        ("withheld", withheld),
        ("dnc_lists", lists),
        ("erasures", erasures),
        ("calls_outside_hours", flagged),
    ]
}

/// The report as CSV: one table, its first column naming the block.
pub fn to_csv(report: &ComplianceReport) -> Result<Vec<u8>> {
    let heading = vec![vec![
        format!("project {} ({})", escape_formula(&report.project), report.project_id),
        format!("{} to {}", report.from, report.to),
    ]];
    let mut blocks = vec![("section", heading)];
    blocks.extend(tables(report));
    crate::platform::cells::tables_to_csv(&blocks)
}

/// The report as an XLSX workbook, a sheet per block, every cell text or number.
pub fn to_xlsx(report: &ComplianceReport) -> Result<Vec<u8>> {
    crate::platform::cells::tables_to_xlsx(&tables(report))
}
