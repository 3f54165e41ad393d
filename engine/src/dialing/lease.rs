//! Leases: a dialer takes the next numbers of a project to call. A leased number is its
//! alone until an outcome or the lease's expiry gives it back; concurrent dialers skip
//! each other's rows (`FOR UPDATE SKIP LOCKED`) and never get the same number.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::hours;
use crate::intake::phone::format_e164;
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};

pub const MAX_COUNT: i64 = 500;
pub const DEFAULT_LEASE_S: i64 = 300;
pub const MAX_LEASE_S: i64 = 4 * 3600;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// How many numbers, 1 to 500 (default 1).
    #[serde(default = "one")]
    pub count: i64,
    /// How long the dialer holds them before they return, 10 s to 4 h (default 300).
    #[serde(default = "default_lease")]
    pub lease_s: i64,
}

fn one() -> i64 {
    1
}

fn default_lease() -> i64 {
    DEFAULT_LEASE_S
}

impl Default for LeaseRequest {
    fn default() -> Self {
        LeaseRequest { count: 1, lease_s: DEFAULT_LEASE_S }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeasedNumber {
    pub phone: String,
    pub provider_id: i64,
    pub geo_id: Option<i64>,
    pub status: String,
    pub attempts: i16,
    pub attributes: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Lease {
    pub project_id: i64,
    pub leased_until: DateTime<Utc>,
    pub numbers: Vec<LeasedNumber>,
    /// Why fewer numbers than asked came back: `paused`, `holiday`, `outside_schedule`,
    /// `outside_calling_hours` (numbers wait, but it is not a legal hour where they ring),
    /// `daily_cap` (numbers wait, but each was called as often as 24 hours allow),
    /// `dnc_list_stale` (a blocking do-not-call list of their country is past its age) or
    /// `empty` (no number waits).
    pub short_reason: Option<String>,
}

/// The project's state at `$3` (`in_window` and `holiday` in its zone) and the version
/// of the calling rules. It also returns the project's expired leases to it, before the
/// lease statement runs in the same transaction, so a number whose lease ran out can be
/// handed out by this lease.
const PROJECT: &str = include_str!("lease.project.sql");

/// Leases up to `request.count` numbers of `project_id` at `at`: one short transaction
/// of two statements, each prepared once per connection.
///
/// The statements run with generic plans (`SET LOCAL plan_cache_mode`): with the lease
/// time and count as parameters, PostgreSQL's estimates make a custom plan look cheaper,
/// so it would plan every lease again (16 partitions: ~15 ms under load), though the
/// generic plan is the same index range. Measured in benches/leases.sh.
#[allow(clippy::too_many_arguments)] // Each is a separate fact of the request.
pub async fn lease(
    client: &mut deadpool_postgres::ClientWrapper,
    gates: &hours::GateCache,
    tenant: TenantId,
    scope: &Scope,
    actor: &Actor,
    project_id: i64,
    request: &LeaseRequest,
    at: DateTime<Utc>,
) -> Result<Lease> {
    if !(1..=MAX_COUNT).contains(&request.count) {
        return Err(Error::invalid("count", format!("must be 1 to {MAX_COUNT}")));
    }
    if !(10..=MAX_LEASE_S).contains(&request.lease_s) {
        return Err(Error::invalid("lease_s", format!("must be 10 to {MAX_LEASE_S} seconds")));
    }
    if scope.project_filter().is_some_and(|ids| !ids.contains(&project_id)) {
        return Err(Error::NotFound { entity: "project", key: project_id.to_string() });
    }
    let leased_until = at + Duration::seconds(request.lease_s);
    let tx = client.transaction().await?;
    let statement = tx.prepare_cached(PROJECT).await?;
    // Sent together: the SET is applied before the next statement is bound.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&tenant.0, &project_id, &at];
    let (_, project) = tokio::try_join!(
        tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan"),
        tx.query_opt(&statement, &params),
    )?;
    let project =
        project.ok_or_else(|| Error::NotFound { entity: "project", key: project_id.to_string() })?;
    let closed = if project.get::<_, String>("status") != "active" {
        Some("paused")
    } else if project.get("holiday") {
        Some("holiday")
    } else if !project.get::<_, bool>("in_window") {
        Some("outside_schedule")
    } else {
        None
    };
    if let Some(reason) = closed {
        // The expired leases it returned stay returned.
        tx.commit().await?;
        return Ok(Lease {
            project_id,
            leased_until,
            numbers: Vec::new(),
            short_reason: Some(reason.to_owned()),
        });
    }
    let zone: String = project.get("time_zone");
    let gate = gates.get(&tx, tenant, &zone, at, project.get("rules_version")).await?;
    // A stale do-not-call list that blocks holds back its country's numbers (or all).
    let stale_geos = &gate.stale_geos;
    if gate.stale_all {
        tx.commit().await?;
        return Ok(Lease {
            project_id,
            leased_until,
            numbers: Vec::new(),
            short_reason: Some("dnc_list_stale".into()),
        });
    }
    let max_attempts: i16 = project.get("max_attempts");
    // Due retries and call-backs first (by due time), then fresh numbers; each branch is
    // a range of the lease index. The eligibility tests that follow are cheap per row.
    let waiting = WAITING;
    let hours_open = hours::open_condition(6);
    let under_cap = UNDER_CAP;
    let fresh_lists = "NOT (COALESCE(n.geo_id, 0) = ANY($17::bigint[]))";
    let eligible = format!("{waiting} AND {hours_open} AND {under_cap} AND {fresh_lists}");
    // The count is written into the statement as a constant (it is a checked integer,
    // 1 to 500): under the generic plan a `LIMIT $4` is estimated at a tenth of the rows,
    // so the planner sorted every due number of the project for each lease (19k due
    // numbers: 50 ms a lease, 400-700 ms at c=16; benches/scale.sh). With a constant it
    // walks the lease index in due order and stops at the count. A connection prepares one
    // statement per count a dialer asks for.
    let statement = tx
        // The eligibility condition is assembled above (calling hours, cap); the rest is
        // the statement as written in lease.take.sql.
        .prepare_cached(
            &include_str!("lease.take.sql")
                .replace("{eligible}", &eligible)
                .replace("{count}", &request.count.to_string()),
        )
        .await?;
    let [g0, g1, g2, g3, g4, g5] = gate.params();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 17] = [
        &tenant.0,
        &project_id,
        &at,
        &request.count,
        &max_attempts,
        g0,
        g1,
        g2,
        g3,
        g4,
        g5,
        &gate.cap_geos,
        &gate.caps,
        &leased_until,
        &actor.user_id,
        &actor.token_id,
        stale_geos,
    ];
    let rows = tx.query(&statement, &params).await?;
    let numbers: Vec<LeasedNumber> = rows
        .iter()
        .map(|r| LeasedNumber {
            phone: format_e164(r.get("phone")),
            provider_id: r.get("provider_id"),
            geo_id: r.get("geo_id"),
            status: r.get("status"),
            attempts: r.get("attempts"),
            attributes: r.get("attributes"),
        })
        .collect();
    // Fewer than asked: say what holds the rest back, from a sample of the numbers still
    // waiting (the leased ones are no longer waiting). Only a short lease pays for this.
    let short_reason = if numbers.len() as i64 >= request.count {
        None
    } else {
        let statement = tx
            .prepare_cached(&format!(
                "SELECT count(*) FILTER (WHERE NOT hours_open) AS closed,
                        count(*) FILTER (WHERE hours_open AND NOT under_cap) AS capped
                   FROM (SELECT {hours_open} AS hours_open, {under_cap} AS under_cap
                           FROM phone_numbers n
                          WHERE {waiting} AND (n.next_eligible_at IS NULL OR n.next_eligible_at <= $3)
                          LIMIT greatest($4::int8, 1000)) x"
            ))
            .await?;
        let row = tx.query_one(&statement, &params[..13]).await?;
        let (closed, capped): (i64, i64) = (row.get("closed"), row.get("capped"));
        let held_by_lists = !stale_geos.is_empty()
            && tx
                .query_one(
                    &format!(
                        "SELECT $3::timestamptz IS NOT NULL AND $4::int8 IS NOT NULL
                                AND EXISTS (SELECT FROM phone_numbers n WHERE {waiting} AND n.geo_id = ANY($6))"
                    ),
                    &[&tenant.0, &project_id, &at, &request.count, &max_attempts, stale_geos],
                )
                .await?
                .get::<_, bool>(0);
        Some(
            if held_by_lists && closed == 0 && capped == 0 {
                "dnc_list_stale"
            } else if closed > 0 {
                "outside_calling_hours"
            } else if capped > 0 {
                "daily_cap"
            } else {
                "empty"
            }
            .to_owned(),
        )
    };
    tx.commit().await?;
    Ok(Lease { project_id, leased_until, numbers, short_reason })
}

/// A project's numbers that wait for a lease: `$1` tenant, `$2` project, `$5` max attempts.
const WAITING: &str = "n.tenant_id = $1 AND n.project_id = $2 AND n.leased_until IS NULL
            AND n.attempts < $5
            AND n.status IN (SELECT id FROM number_statuses
                              WHERE tenant_id = $1 AND category IN ('fresh', 'retry', 'callback'))
            AND NOT EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = $1 AND d.phone = n.phone)";

/// Under its geo's cap of calls in 24 hours at `$3`: `$12` capped geos, `$13` their caps.
const UNDER_CAP: &str = "NOT EXISTS (
                SELECT FROM unnest($12::bigint[], $13::int2[]) c(geo, cap)
                 WHERE c.geo = COALESCE(n.geo_id, 0)
                   AND (SELECT count(*) FROM call_outcomes o
                         WHERE o.tenant_id = $1 AND o.phone = n.phone
                           AND o.started_at > $3::timestamptz - interval '24 hours') >= c.cap)";

/// What each gate holds back of a project's due numbers at one instant.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct WithheldNow {
    /// Numbers due for a lease (fresh, or their retry or call-back due).
    pub due: i64,
    /// Of them, outside their calling hours where they ring.
    pub outside_calling_hours: i64,
    /// Within hours, but called as often as 24 hours allow.
    pub at_daily_cap: i64,
    /// Held back by a stale do-not-call list of their country.
    pub dnc_list_stale: i64,
}

/// How many of the project's due numbers each lease gate holds back at `at`, measured
/// with the lease's own conditions.
pub async fn withheld_now(
    client: &mut deadpool_postgres::Client,
    gates: &hours::GateCache,
    tenant: TenantId,
    project_id: i64,
    at: DateTime<Utc>,
) -> Result<WithheldNow> {
    let tx = client.transaction().await?;
    let project = tx
        .query_opt(
            "SELECT time_zone, max_attempts, (SELECT version FROM calling_rules_version)
               FROM projects WHERE tenant_id = $1 AND id = $2",
            &[&tenant.0, &project_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "project", key: project_id.to_string() })?;
    let (zone, max_attempts, version): (String, i16, i64) = (project.get(0), project.get(1), project.get(2));
    let gate = gates.get(&tx, tenant, &zone, at, version).await?;
    let hours_open = hours::open_condition(6);
    // `$4` (a lease's count) is not used here; it keeps the gate's placeholders in place.
    let sql = format!(
        "SELECT count(*) AS due,
                count(*) FILTER (WHERE NOT hours_open) AS closed,
                count(*) FILTER (WHERE hours_open AND NOT under_cap) AS capped,
                count(*) FILTER (WHERE stale) AS stale
           FROM (SELECT {hours_open} AS hours_open, {UNDER_CAP} AS under_cap,
                        ($15 OR COALESCE(n.geo_id, 0) = ANY($14::bigint[])) AS stale
                   FROM phone_numbers n
                  WHERE $4::int8 IS NULL AND {WAITING} AND (n.next_eligible_at IS NULL OR n.next_eligible_at <= $3)) x"
    );
    let [g0, g1, g2, g3, g4, g5] = gate.params();
    let none: Option<i64> = None;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 15] = [
        &tenant.0,
        &project_id,
        &at,
        &none,
        &max_attempts,
        g0,
        g1,
        g2,
        g3,
        g4,
        g5,
        &gate.cap_geos,
        &gate.caps,
        &gate.stale_geos,
        &gate.stale_all,
    ];
    let row = tx.query_one(&sql, &params).await?;
    tx.commit().await?;
    Ok(WithheldNow {
        due: row.get("due"),
        outside_calling_hours: row.get("closed"),
        at_daily_cap: row.get("capped"),
        dnc_list_stale: row.get("stale"),
    })
}

/// Gives leased numbers back before their lease ends (a dialer shutting down).
/// Returns how many were returned.
pub async fn release(
    client: &impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    project_id: i64,
    phones: &[i64],
) -> Result<u64> {
    let not_found = || Error::NotFound { entity: "project", key: project_id.to_string() };
    if scope.project_filter().is_some_and(|ids| !ids.contains(&project_id)) {
        return Err(not_found());
    }
    // Another tenant's project, or none: the same answer as for every route taking an id.
    client
        .query_opt(
            "SELECT 1 FROM projects WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tenant.0, &project_id],
        )
        .await?
        .ok_or_else(not_found)?;
    Ok(client
        .execute(
            "UPDATE phone_numbers SET leased_until = NULL, updated_at = now()
              WHERE tenant_id = $1 AND project_id = $2 AND phone = ANY($3) AND leased_until IS NOT NULL",
            &[&tenant.0, &project_id, &phones],
        )
        .await?)
}
