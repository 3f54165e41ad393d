//! The projects and the pool as a run sees them: each live project's day, quota and
//! rules, the tenant's geos and statuses, and the pool counted by cell.

use super::learn::{DayCount, LOOKBACK_HALF_LIVES, Learning};
use crate::platform::TenantId;
use crate::platform::error::Result;
use crate::pool::project::{self};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use tokio_postgres::{GenericClient, Row};

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
    /// Learned weights instead of the rules' fixed ones, and the days they learn from.
    pub(crate) learning: Option<Learning>,
    pub(crate) history: Vec<DayCount>,
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
    let mut learning: HashMap<i64, Learning> = HashMap::new();
    for r in &rows {
        if let Some(doc) = r.get::<_, Option<serde_json::Value>>("learning") {
            learning
                .insert(r.get("id"), crate::intake::import::stored_options::<Learning>("learning", &doc)?);
        }
    }
    let mut history = learning_history(client, tenant, &rows, &learning).await?;
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
                learning: learning.remove(&id),
                history: history.remove(&id).unwrap_or_default(),
            }
        })
        .collect())
}

/// The days learning projects learn from: their cells' allocations and successes from
/// the conversion aggregates, as far back as the half-life makes worth reading.
async fn learning_history(
    client: &impl GenericClient,
    tenant: TenantId,
    rows: &[Row],
    learning: &HashMap<i64, Learning>,
) -> Result<HashMap<i64, Vec<DayCount>>> {
    let mut out: HashMap<i64, Vec<DayCount>> = HashMap::new();
    let (mut ids, mut since): (Vec<i64>, Vec<NaiveDate>) = (Vec::new(), Vec::new());
    for r in rows {
        let id: i64 = r.get("id");
        if let Some(l) = learning.get(&id) {
            let day: NaiveDate = r.get("day");
            ids.push(id);
            since.push(day - chrono::Days::new((l.half_life_days * LOOKBACK_HALF_LIVES).ceil() as u64));
        }
    }
    if ids.is_empty() {
        return Ok(out);
    }
    for r in client
        .query(
            "SELECT c.project_id, c.provider_id, c.geo_id, c.day, c.allocated, c.success
               FROM unnest($2::bigint[], $3::date[]) AS w(project_id, since)
               JOIN project_conversions c ON c.tenant_id = $1 AND c.project_id = w.project_id AND c.day >= w.since",
            &[&tenant.0, &ids, &since],
        )
        .await?
    {
        out.entry(r.get(0)).or_default().push(DayCount {
            provider: r.get(1),
            geo_key: r.get(2),
            day: r.get(3),
            allocated: r.get(4),
            success: r.get(5),
        });
    }
    Ok(out)
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

    /// `digits` is the number's E.164 digits, or for a cell of the pool the longest rule
    /// prefix its numbers start with: a rule's prefix is a prefix of either exactly when
    /// it is a prefix of the number.
    pub(crate) fn source_matches(
        &self,
        source: &project::Source,
        provider: i64,
        geo_key: i64,
        digits: &str,
    ) -> bool {
        source.provider_id.is_none_or(|p| p == provider)
            && self.geo_matches(source.geo_id, geo_key)
            && source.prefix.as_deref().is_none_or(|p| digits.starts_with(p))
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
pub(super) struct Stat {
    pub(super) provider: i64,
    pub(super) geo_key: i64,
    /// The longest of the run's rule prefixes these numbers start with ("" for none).
    pub(super) prefix: String,
    /// Free numbers whose group is already in this project, which alone may take them.
    pub(super) reserved: Option<i64>,
    pub(super) status: i16,
    pub(super) attempts: i16,
    pub(super) holder: Option<i64>,
    pub(super) dnc: bool,
    pub(super) cooling: bool,
    pub(super) numbers: i64,
}

/// The longest of the run's rule prefixes (the text array parameter `$param`, `count`
/// of them, longest first) that a number's digits start with, or ''. Counting and
/// picking use the same expression, so a cell is the same set of numbers for both. A
/// chain of `starts_with` costs a fraction of a subquery over the array per row (5M
/// numbers, two prefixes: 2.4 s against 6.0 s for the whole count), and with no block
/// rules the column is a constant.
pub(super) fn prefix_key_sql(param: usize, count: usize) -> String {
    if count == 0 {
        return "''::text".to_owned();
    }
    let arms: String = (1..=count)
        .map(|i| {
            format!("WHEN starts_with(n.phone::text, (${param}::text[])[{i}]) THEN (${param}::text[])[{i}] ")
        })
        .collect();
    format!("CASE {arms}ELSE '' END")
}

/// The distinct prefixes of these projects' rules, longest first (the order
/// [`prefix_key_sql`] tries them in).
pub(crate) fn rule_prefixes(projects: &[Live]) -> Vec<String> {
    let mut out: Vec<String> =
        projects.iter().flat_map(|p| p.sources.iter().filter_map(|s| s.prefix.clone())).collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// Counts the tenant's numbers by what decides their eligibility: one pass over the table.
pub(super) async fn pool_stats(
    client: &impl GenericClient,
    tenant: TenantId,
    at: DateTime<Utc>,
    prefixes: &[String],
    together: &[i64],
) -> Result<Vec<Stat>> {
    Ok(client
        .query(
            &format!(
                // Block and household columns are constants (and not grouped by) unless
                // the run has block rules or the tenant keeps groups together.
                "SELECT n.provider_id, COALESCE(n.geo_id, 0) AS geo_key, n.status, n.attempts, n.project_id,
                        d.phone IS NOT NULL AS dnc, COALESCE(n.next_eligible_at > $2, false) AS cooling,
                        {prefix} AS prefix_key, {reserved} AS reserved, count(*) AS numbers
                   FROM phone_numbers n
                   LEFT JOIN dnc_numbers d ON d.tenant_id = n.tenant_id AND d.phone = n.phone
                  WHERE n.tenant_id = $1 AND $3::text[] IS NOT NULL AND $4::bigint[] IS NOT NULL
                  GROUP BY 1, 2, 3, 4, 5, 6, 7{by_prefix}{by_reserved}",
                prefix = prefix_key_sql(3, prefixes.len()),
                // The same per-row expression the pick filters by. Measured on 5M numbers
                // (none grouped): the count takes 2.5 s instead of 1.3 s once a rule keeps
                // groups together, as its subquery keeps the scan off parallel workers; a
                // join to the groups' projects instead was slower still (2.9 s).
                reserved = crate::pool::groups::reserved_sql(4, !together.is_empty()),
                by_prefix = if prefixes.is_empty() { "" } else { ", 8" },
                by_reserved = if together.is_empty() { "" } else { ", 9" },
            ),
            &[&tenant.0, &at, &prefixes, &together],
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
            prefix: r.get(7),
            reserved: r.get(8),
            numbers: r.get(9),
        })
        .collect())
}
