//! Calling hours: when a number may be called, in its own local time (its geo's time
//! zone). The most specific rule wins: the number's region, then its country, then the
//! tenant's default; with none, 08:00–21:00. A rule may also cap calls to one number in
//! any 24 hours.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};

pub const DEFAULT_START: &str = "08:00";
pub const DEFAULT_END: &str = "21:00";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallingHours {
    pub id: i64,
    /// The region or country the rule is for; absent for the tenant's default.
    pub geo_id: Option<i64>,
    pub geo_code: Option<String>,
    /// `HH:MM` local time; calls may start from `start` until before `end`.
    pub start: String,
    pub end: String,
    pub max_calls_24h: Option<i16>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallingHoursInput {
    /// A country or region geo; absent (or null) sets the tenant's default.
    pub geo_id: Option<i64>,
    #[schema(example = "08:00")]
    pub start: String,
    /// `24:00` is the end of the day.
    #[schema(example = "20:00")]
    pub end: String,
    pub max_calls_24h: Option<i16>,
}

fn from_row(row: &Row) -> CallingHours {
    let time = |t: NaiveTime| t.format("%H:%M").to_string();
    let end: NaiveTime = row.get("end_local");
    CallingHours {
        id: row.get("id"),
        geo_id: row.get("geo_id"),
        geo_code: row.get("geo_code"),
        start: time(row.get("start_local")),
        // PostgreSQL keeps 24:00 as its own value; chrono reads it as midnight.
        end: if row.get::<_, bool>("ends_at_midnight") { "24:00".into() } else { time(end) },
        max_calls_24h: row.get("max_calls_24h"),
    }
}

const SELECT: &str = "SELECT h.id, h.geo_id, g.code AS geo_code, h.start_local, h.end_local,
        h.end_local = '24:00'::time AS ends_at_midnight, h.max_calls_24h
   FROM calling_hours h LEFT JOIN geos g ON g.tenant_id = h.tenant_id AND g.id = h.geo_id";

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<CallingHours>> {
    Ok(client
        .query(
            &format!("{SELECT} WHERE h.tenant_id = $1 ORDER BY h.geo_id NULLS FIRST, g.code"),
            &[&tenant.0],
        )
        .await?
        .iter()
        .map(from_row)
        .collect())
}

fn parse_time(field: &'static str, value: &str) -> Result<String> {
    let ok = value == "24:00" || NaiveTime::parse_from_str(value, "%H:%M").is_ok();
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(field, format!("'{value}' is not a time HH:MM")))
    }
}

/// Sets the rule for a geo (or the default), replacing the one it had.
pub async fn set(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &CallingHoursInput,
) -> Result<CallingHours> {
    let start = parse_time("start", &input.start)?;
    let end = parse_time("end", &input.end)?;
    if start == "24:00" || (end != "24:00" && end <= start) {
        return Err(Error::invalid("end", format!("the window {start}–{end} ends before it starts")));
    }
    if let Some(max) = input.max_calls_24h
        && max < 1
    {
        return Err(Error::invalid("max_calls_24h", "must be at least 1 (leave it out for no cap)"));
    }
    let tx = client.transaction().await?;
    if let Some(geo) = input.geo_id {
        crate::intake::geo::get(&tx, tenant, geo).await?;
    }
    let before = tx
        .query_opt(
            &format!("{SELECT} WHERE h.tenant_id = $1 AND h.geo_id IS NOT DISTINCT FROM $2"),
            &[&tenant.0, &input.geo_id],
        )
        .await?
        .map(|r| from_row(&r));
    let id: i64 = tx
        .query_one(
            "INSERT INTO calling_hours (tenant_id, geo_id, start_local, end_local, max_calls_24h)
             VALUES ($1, $2, $3::text::time, $4::text::time, $5)
             ON CONFLICT (tenant_id, COALESCE(geo_id, 0)) DO UPDATE
                SET start_local = excluded.start_local, end_local = excluded.end_local,
                    max_calls_24h = excluded.max_calls_24h
             RETURNING id",
            &[&tenant.0, &input.geo_id, &start, &end, &input.max_calls_24h],
        )
        .await?
        .get(0);
    let after = from_row(
        &tx.query_one(&format!("{SELECT} WHERE h.tenant_id = $1 AND h.id = $2"), &[&tenant.0, &id]).await?,
    );
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated("calling_hours.set", "calling_hours", id, &before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete(client: &mut impl GenericClient, tenant: TenantId, actor: &Actor, id: i64) -> Result<()> {
    let tx = client.transaction().await?;
    let before = tx
        .query_opt(&format!("{SELECT} WHERE h.tenant_id = $1 AND h.id = $2"), &[&tenant.0, &id])
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "calling hours", key: id.to_string() })?;
    tx.execute("DELETE FROM calling_hours WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("calling_hours.delete", "calling_hours", id, &before))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The rule in force for a number of `geo` (its own, its country's, the tenant default,
/// 08:00–21:00), as `HH:MM` local times.
pub async fn rule_of(
    client: &impl GenericClient,
    tenant: TenantId,
    geo: Option<i64>,
) -> Result<(String, String)> {
    let row = client
        .query_one(
            "SELECT to_char(COALESCE(r.start_local, '08:00'), 'HH24:MI'),
                    CASE WHEN r.end_local = '24:00' THEN '24:00' ELSE to_char(COALESCE(r.end_local, '21:00'), 'HH24:MI') END
               FROM (SELECT (SELECT h FROM calling_hours h WHERE h.tenant_id = $1 AND h.geo_id = $2) AS own,
                            (SELECT h FROM calling_hours h JOIN geos g ON g.tenant_id = h.tenant_id AND g.id = $2
                               JOIN geos c ON c.tenant_id = h.tenant_id AND c.id = h.geo_id
                              WHERE h.tenant_id = $1 AND c.country = g.country AND c.region IS NULL) AS ctry,
                            (SELECT h FROM calling_hours h WHERE h.tenant_id = $1 AND h.geo_id IS NULL) AS def) x,
                    LATERAL (SELECT (COALESCE(x.own, x.ctry, x.def)).start_local, (COALESCE(x.own, x.ctry, x.def)).end_local) r",
            &[&tenant.0, &geo],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// From when until when.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// Today's hours (today in the first zone) when a number ringing in all of `zones` may
/// be called under a `start`–`end` rule: from the latest opening to the earliest close,
/// or `None` when they do not overlap; and whether `at` is inside them in every zone.
pub fn legal_hours(zones: &[String], start: &str, end: &str, at: DateTime<Utc>) -> (Option<Span>, bool) {
    use chrono::TimeZone;
    let parse = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").ok();
    let tzs: Vec<chrono_tz::Tz> = zones.iter().filter_map(|z| z.parse().ok()).collect();
    let (Some(first), Some(open)) = (tzs.first(), parse(start)) else { return (None, false) };
    let close = parse(end);
    let day = at.with_timezone(first).date_naive();
    let mut from = None::<DateTime<Utc>>;
    let mut until = None::<DateTime<Utc>>;
    let mut now_open = true;
    for tz in &tzs {
        let local = |date: chrono::NaiveDate, time: NaiveTime| {
            tz.from_local_datetime(&date.and_time(time)).earliest().map(|t| t.with_timezone(&Utc))
        };
        let opens = local(day, open);
        // 24:00 is the next midnight.
        let closes = match close {
            Some(close) => local(day, close),
            None => day.succ_opt().and_then(|d| local(d, NaiveTime::MIN)),
        };
        from = from.max(opens);
        until = match (until, closes) {
            (Some(u), Some(c)) => Some(u.min(c)),
            (None, c) => c,
            (u, None) => u,
        };
        let t = at.with_timezone(tz).time();
        now_open &= t >= open && close.is_none_or(|c| t < c);
    }
    let window = from.zip(until).filter(|(f, u)| f < u);
    (window, now_open)
}

/// Which numbers may be called at one instant.
///
/// A number whose zones are known (`zone_set`) is open when its geo's rule holds in every
/// zone of its set: the rules in force are numbered (`rule_geos`/`rule_of_geo` name the
/// geos whose rule is not the default one, `default_rule`), and `open_keys` holds
/// `rule * 2^31 + set` for each rule and set open now. A number stored before zones were
/// known is judged in its geo's zone (`open_geos`, `no_geo_open`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gate {
    /// Geos whose local time is inside their calling hours.
    pub open_geos: Vec<i64>,
    /// Numbers without a geo are judged in the project's time zone by the default rule.
    pub no_geo_open: bool,
    /// 24-hour call caps by geo (0 for numbers without a geo).
    pub cap_geos: Vec<i64>,
    pub caps: Vec<i16>,
    pub rule_geos: Vec<i64>,
    pub rule_of_geo: Vec<i32>,
    pub default_rule: i32,
    pub open_keys: Vec<i64>,
    /// Geos a stale blocking do-not-call list holds back, and whether one holds back every
    /// number. Cached with the rest for the minute: a list set or loaded bumps the rules
    /// version, and staleness itself moves by days.
    pub stale_geos: Vec<i64>,
    pub stale_all: bool,
}

impl Gate {
    /// Whether no number at all may be called now.
    pub fn all_closed(&self) -> bool {
        self.open_geos.is_empty() && !self.no_geo_open && self.open_keys.is_empty()
    }
}

/// The SQL condition a number `n` passes when the gate in parameters `$p`, `$p+1` … (in
/// the order of [`Gate::params`]) lets it be called.
pub(crate) fn open_condition(p: usize) -> String {
    format!(
        "(CASE WHEN n.zone_set IS NULL THEN n.geo_id = ANY(${p}) OR (n.geo_id IS NULL AND ${p1})
               ELSE (COALESCE((${p2}::int4[])[array_position(${p3}::int8[], n.geo_id)], ${p4})::int8 * 2147483648
                     + n.zone_set) = ANY(${p5}) END)",
        p1 = p + 1,
        p2 = p + 3,
        p3 = p + 2,
        p4 = p + 4,
        p5 = p + 5,
    )
}

impl Gate {
    /// The values [`open_condition`] reads, in its order.
    pub(crate) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 6] {
        [
            &self.open_geos,
            &self.no_geo_open,
            &self.rule_geos,
            &self.rule_of_geo,
            &self.default_rule,
            &self.open_keys,
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GateKey {
    tenant: i64,
    zone: String,
    minute: i64,
    rules_version: i64,
}

/// Gates by tenant, project zone and minute. Rules are whole minutes and zone offsets
/// whole quarter hours, so a gate holds for the whole UTC minute it was made in; the
/// rules' version (bumped in the database when calling hours or geos change) keeps a
/// gate from outliving a change, also one made by another process.
#[derive(Debug, Default)]
pub struct GateCache {
    entries: std::sync::Mutex<std::collections::HashMap<GateKey, Gate>>,
}

impl GateCache {
    /// The gate for `zone` at `at`, computed in `client` on a miss.
    pub(crate) async fn get(
        &self,
        client: &deadpool_postgres::Transaction<'_>,
        tenant: TenantId,
        zone: &str,
        at: DateTime<Utc>,
        rules_version: i64,
    ) -> Result<Gate> {
        let key = GateKey {
            tenant: tenant.0,
            zone: zone.to_owned(),
            minute: at.timestamp().div_euclid(60),
            rules_version,
        };
        if let Some(gate) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(gate.clone());
        }
        let gate = compute(client, tenant, zone, at).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Old minutes are never asked for again; drop them rather than let the map grow.
        entries.retain(|k, _| k.minute >= key.minute - 1);
        entries.insert(key, gate.clone());
        Ok(gate)
    }
}

/// The gate for a project in `zone` at `at`.
pub(crate) async fn compute(
    client: &deadpool_postgres::Transaction<'_>,
    tenant: TenantId,
    zone: &str,
    at: DateTime<Utc>,
) -> Result<Gate> {
    let statement = client.prepare_cached(GATE).await?;
    let row = client.query_one(&statement, &[&tenant.0, &zone, &at]).await?;
    let (stale_geos, stale_all) = crate::intake::dnc_list::blocked(&**client, tenant, at).await?;
    Ok(Gate {
        stale_geos,
        stale_all,
        open_geos: row.get("open_geos"),
        no_geo_open: row.get("no_geo_open"),
        cap_geos: row.get("cap_geos"),
        caps: row.get("caps"),
        rule_geos: row.get("rule_geos"),
        rule_of_geo: row.get("rule_of_geo"),
        default_rule: row.get("default_rule"),
        open_keys: row.get("open_keys"),
    })
}

/// The calling-hours gate at `$3::timestamptz` for a project whose zone is `$2`: every
/// geo's rule (its own, its country's, the tenant default, 08:00–21:00), and which sets
/// of zones each rule holds in now, in one pass.
const GATE: &str = include_str!("hours.gate.sql");
