//! Explain a number: where it is, what happened to it, and for each project whether it
//! could be allocated there right now and, if not, every reason why.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use tokio_postgres::GenericClient;

use crate::intake::phone::{self, Region};
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::error::{Error, Result};
use crate::pool::allocate::{Bar, Catalog, load_projects};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explanation {
    /// E.164, e.g. `+79161234567`.
    pub phone: String,
    /// Absent when the number was never imported.
    pub number: Option<NumberState>,
    pub dnc: Option<crate::intake::dnc::DncEntry>,
    /// Newest first, at most 100.
    pub history: Vec<Event>,
    pub projects: Vec<Eligibility>,
    /// Where it rings and when it may be called there today; absent for a number that
    /// is not stored and whose zones its prefix does not tell.
    pub rings_in: Option<RingsIn>,
    /// Its household or other group, with the group's other numbers.
    pub group: Option<crate::pool::groups::NumberGroup>,
}

/// The time zones a number rings in and its calling hours there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RingsIn {
    /// IANA zones; calls must be legal in all of them.
    pub zones: Vec<String>,
    /// `number` (its own prefix), `region` (the region geo its file named), or `geo` (its
    /// geo's zone: stored before zones were derived, or the prefix tells none).
    pub source: String,
    /// The calling-hours rule in force for its geo, local time.
    pub start: String,
    pub end: String,
    /// Today's legal hours in every zone at once, absent when they do not overlap.
    pub legal_from: Option<DateTime<Utc>>,
    pub legal_until: Option<DateTime<Utc>>,
    /// Whether it may be called at the instant explained.
    pub legal_now: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NumberState {
    pub provider_id: i64,
    pub provider: String,
    pub geo_id: Option<i64>,
    pub geo: Option<String>,
    pub project_id: Option<i64>,
    pub project: Option<String>,
    pub status: i16,
    pub status_code: String,
    pub category: String,
    pub attempts: i16,
    pub next_eligible_at: Option<DateTime<Utc>>,
    pub allocated_at: Option<DateTime<Utc>>,
    pub leased_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub project_id: Option<i64>,
    pub status_from: Option<i16>,
    pub status_to: Option<i16>,
    pub disposition: Option<String>,
    pub data: Option<serde_json::Value>,
}

impl Event {
    /// From a row of (at, kind, project_id, status_from, status_to, disposition, data).
    pub(crate) fn from_row(r: &tokio_postgres::Row) -> Event {
        Event {
            at: r.get(0),
            kind: r.get(1),
            project_id: r.get(2),
            status_from: r.get(3),
            status_to: r.get(4),
            disposition: r.get(5),
            data: r.get(6),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Eligibility {
    pub project_id: i64,
    pub name: String,
    /// The project's today (in its time zone).
    pub day: NaiveDate,
    pub eligible: bool,
    /// Why not, every reason that holds; empty when eligible.
    pub reasons: Vec<String>,
    /// The same reasons with a stable code and the values they name, for programs and for
    /// saying them in another language.
    pub why: Vec<Reason>,
}

/// One reason a project would not take a number.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reason {
    /// `paused`, `holiday`, `not_scheduled`, `quota_filled`, `not_in_pool`, `no_rule`,
    /// `already_held`, `held_by_other`, `dnc`, `status_bars`, `max_attempts` or
    /// `cooling_down`.
    pub code: &'static str,
    /// What the reason names: `day`, `weekday` (1 = Monday), `filled`, `quota`,
    /// `provider`, `geo`, `project`, `status`, `category`, `attempts`, `limit`,
    /// `status_limit`, `until`.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
}

/// Reads `raw` in any format (`region` for national formats) and explains it.
pub async fn explain(
    client: &impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    raw: &str,
    region: Option<Region>,
    at: Option<DateTime<Utc>>,
) -> Result<Explanation> {
    let at = at.unwrap_or_else(Utc::now);
    let e164 = phone::parse_input("phone", raw, region)?;
    let row = client.query_opt(include_str!("explain.explain.1.sql"), &[&tenant.0, &e164]).await?;
    let number = row.map(|r| NumberState {
        provider_id: r.get("provider_id"),
        provider: r.get("provider"),
        geo_id: r.get("geo_id"),
        geo: r.get("geo"),
        project_id: r.get("project_id"),
        project: r.get("project"),
        status: r.get("status"),
        status_code: r.get("status_code"),
        category: r.get("category"),
        attempts: r.get("attempts"),
        next_eligible_at: r.get("next_eligible_at"),
        allocated_at: r.get("allocated_at"),
        leased_until: r.get("leased_until"),
        created_at: r.get("created_at"),
    });
    // A manager sees only numbers of the providers in reach, as in every number list.
    if let Some(n) = &number
        && !scope.allows_provider(n.provider_id)
    {
        return Err(Error::NotFound { entity: "number", key: phone::format_e164(e164) });
    }
    let dnc = crate::intake::dnc::find(client, tenant, e164).await?;
    let history = client
        .query(include_str!("explain.explain.2.sql"), &[&tenant.0, &e164])
        .await?
        .iter()
        .map(Event::from_row)
        .filter(|e| {
            e.project_id.is_none_or(|p| scope.project_filter().is_none_or(|allowed| allowed.contains(&p)))
        })
        .collect();
    let catalog = Catalog::load(client, tenant).await?;
    let projects = load_projects(client, tenant, None, at, scope.project_filter()).await?;
    let mut verdicts = Vec::with_capacity(projects.len());
    for p in &projects {
        let mut why = Vec::new();
        // Each reason once: its code and values, and its English sentence.
        let mut reasons = Vec::new();
        let mut say = |code: &'static str, values: serde_json::Value, text: String| {
            why.push(Reason { code, values });
            reasons.push(text);
        };
        match p.state() {
            "paused" => say("paused", json!({}), "the project is paused".to_owned()),
            "holiday" => {
                say("holiday", json!({ "day": p.day }), format!("{} is a holiday for the project", p.day))
            }
            "not_scheduled" => say(
                "not_scheduled",
                json!({ "weekday": p.weekday }),
                format!("the project does not run on {}", crate::pool::project::weekday_name(p.weekday)),
            ),
            _ => {}
        }
        if p.filled >= p.daily_quota as i64 {
            say(
                "quota_filled",
                json!({ "filled": p.filled, "quota": p.daily_quota }),
                format!("today's quota is filled ({} of {})", p.filled, p.daily_quota),
            );
        }
        match &number {
            None => {
                say("not_in_pool", json!({}), "the number is not in the pool (never imported)".to_owned())
            }
            Some(n) => {
                let geo_key = n.geo_id.unwrap_or(0);
                if !p
                    .sources
                    .iter()
                    .any(|s| catalog.source_matches(s, n.provider_id, geo_key, &e164.to_string()))
                {
                    say(
                        "no_rule",
                        json!({ "provider": n.provider, "geo": n.geo }),
                        format!(
                            "no pool rule takes provider {} in geo {}",
                            n.provider,
                            n.geo.as_deref().unwrap_or("(none)")
                        ),
                    );
                }
                match (n.project_id, &n.project) {
                    (Some(id), _) if id == p.id => {
                        say("already_held", json!({}), "the project already holds it".to_owned())
                    }
                    (Some(_), name) => say(
                        "held_by_other",
                        json!({ "project": name }),
                        format!("held by project '{}'", name.as_deref().unwrap_or("?")),
                    ),
                    _ => {}
                }
                if dnc.is_some() {
                    say("dnc", json!({}), "it is on the do-not-call list".to_owned());
                }
                match catalog.status_bars(n.status, n.attempts, p.max_attempts) {
                    Some(Bar::Status) => say(
                        "status_bars",
                        json!({ "status": n.status_code, "category": n.category }),
                        format!("its status '{}' ({}) is not drawn from", n.status_code, n.category),
                    ),
                    Some(Bar::MaxAttempts) => {
                        let status_limit = catalog.statuses.get(&n.status).and_then(|s| s.1);
                        say(
                            "max_attempts",
                            json!({ "attempts": n.attempts, "limit": p.max_attempts, "status": n.status_code, "status_limit": status_limit }),
                            format!(
                                "{} attempts reached the limit ({} for the project{})",
                                n.attempts,
                                p.max_attempts,
                                status_limit
                                    .map(|m| format!(", {m} for status '{}'", n.status_code))
                                    .unwrap_or_default()
                            ),
                        );
                    }
                    None => {}
                }
                if let Some(until) = n.next_eligible_at.filter(|t| *t > at) {
                    say(
                        "cooling_down",
                        json!({ "until": until }),
                        format!("it is cooling down until {}", until.to_rfc3339()),
                    );
                }
            }
        }
        verdicts.push(Eligibility {
            project_id: p.id,
            name: p.name.clone(),
            day: p.day,
            eligible: reasons.is_empty(),
            reasons,
            why,
        });
    }
    let rings_in = rings_in(client, tenant, e164, region, at).await?;
    let group = crate::pool::groups::of_number(client, tenant, e164).await?;
    Ok(Explanation {
        phone: phone::format_e164(e164),
        number,
        dnc,
        history,
        projects: verdicts,
        rings_in,
        group,
    })
}

async fn rings_in(
    client: &impl GenericClient,
    tenant: TenantId,
    e164: i64,
    region: Option<Region>,
    at: DateTime<Utc>,
) -> Result<Option<RingsIn>> {
    let stored = client
        .query_opt(
            "SELECT n.geo_id, z.zones, g.time_zone, g.region IS NOT NULL AND z.zones = ARRAY[g.time_zone] AS from_region
               FROM phone_numbers n
               LEFT JOIN phone_zone_sets z ON z.id = n.zone_set
               LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
              WHERE n.tenant_id = $1 AND n.phone = $2",
            &[&tenant.0, &e164],
        )
        .await?;
    let (geo, zones, source) = match stored {
        Some(row) => {
            match (row.get::<_, Option<Vec<String>>>("zones"), row.get::<_, Option<String>>("time_zone")) {
                (Some(zones), _) => {
                    let source = if row.get::<_, Option<bool>>("from_region") == Some(true) {
                        "region"
                    } else {
                        "number"
                    };
                    (row.get("geo_id"), zones, source)
                }
                (None, Some(zone)) => (row.get("geo_id"), vec![zone], "geo"),
                (None, None) => return Ok(None),
            }
        }
        None => {
            let own = phone::normalise(&phone::format_e164(e164), region).ok().and_then(|n| n.zones);
            match own {
                Some(set) => (None, set.zones().map(str::to_owned).collect(), "number"),
                None => return Ok(None),
            }
        }
    };
    let (start, end) = crate::dialing::hours::rule_of(client, tenant, geo).await?;
    let (window, legal_now) = crate::dialing::hours::legal_hours(&zones, &start, &end, at);
    Ok(Some(RingsIn {
        zones,
        source: source.to_owned(),
        start,
        end,
        legal_from: window.map(|w| w.0),
        legal_until: window.map(|w| w.1),
        legal_now,
    }))
}
