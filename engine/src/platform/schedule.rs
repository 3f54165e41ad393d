//! Cron schedules stored in the database. A schedule only enqueues: at each fire time one
//! job of its kind, keyed `schedule:<id>:<fire time>`, so however many `dialpool serve`
//! processes tick, the key lets one insert through. Every tick reads the table, so an
//! edit takes effect without a restart. After downtime only the latest missed fire time
//! is enqueued, once.
//!
//! The defaults are kept by the system: conversion refresh every 5 minutes and partition
//! maintenance daily (the installation's own, no tenant), and each live project's
//! allocation at midnight in its time zone.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Year};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::job::{self, JobKind, JobScope, NewJob};

/// Parses a cron expression: five fields (minute hour day-of-month month day-of-week) or
/// six with seconds first.
pub fn parse_cron(expression: &str) -> Result<Cron> {
    CronParser::builder()
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| Error::invalid("cron", format!("'{expression}': {e}")))
}

pub fn parse_zone(name: &str) -> Result<chrono_tz::Tz> {
    chrono_tz::Tz::from_str(name)
        .map_err(|_| Error::invalid("time_zone", format!("'{name}' is not an IANA time zone")))
}

/// The latest fire time at or before `now`.
///
/// Fire times are whole seconds: croner keeps the sub-second part of the instant it is
/// asked from, and a fire time is the unique key that lets one tick of one server enqueue
/// it, so two ticks a second apart must name the same fire time.
pub fn last_fire(cron: &Cron, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_previous_occurrence(&whole_second(now).with_timezone(&zone), true)
        .ok()
        .map(|t| whole_second(t.with_timezone(&Utc)))
}

/// The first fire time after `now`, in whole seconds as [`last_fire`].
pub fn next_fire(cron: &Cron, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&whole_second(now).with_timezone(&zone), false)
        .ok()
        .map(|t| whole_second(t.with_timezone(&Utc)))
}

fn whole_second(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    pub id: i64,
    /// None for the installation's own schedules.
    pub tenant_id: Option<i64>,
    pub name: String,
    pub cron: String,
    pub time_zone: String,
    pub kind: JobKind,
    pub args: serde_json::Value,
    pub enabled: bool,
    /// Set on the defaults the system keeps.
    pub system_key: Option<String>,
    pub last_fire_at: Option<DateTime<Utc>>,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A schedule as a user writes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub name: String,
    pub cron: String,
    /// IANA zone the cron expression's wall clock is in (default UTC).
    #[serde(default = "utc")]
    pub time_zone: String,
    pub kind: JobKind,
    #[serde(default = "empty_object")]
    pub args: serde_json::Value,
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn utc() -> String {
    "UTC".into()
}
fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}
fn enabled() -> bool {
    true
}

const COLUMNS: &str =
    "id, tenant_id, name, cron, time_zone, kind, args, enabled, system_key, last_fire_at, updated_at";

fn schedule(row: &tokio_postgres::Row, now: DateTime<Utc>) -> Result<Schedule> {
    let cron: String = row.get("cron");
    let time_zone: String = row.get("time_zone");
    let enabled: bool = row.get("enabled");
    let next_fire_at = match (enabled, parse_cron(&cron), parse_zone(&time_zone)) {
        (true, Ok(cron), Ok(zone)) => next_fire(&cron, zone, now),
        _ => None,
    };
    Ok(Schedule {
        id: row.get("id"),
        tenant_id: row.get("tenant_id"),
        name: row.get("name"),
        cron,
        time_zone,
        kind: JobKind::parse(row.get("kind"))?,
        args: row.get("args"),
        enabled,
        system_key: row.get("system_key"),
        last_fire_at: row.get("last_fire_at"),
        next_fire_at,
        updated_at: row.get("updated_at"),
    })
}

/// The schedules a caller sees: its tenant's, and the installation's own for a platform
/// administrator.
pub async fn list(client: &impl GenericClient, scope: JobScope) -> Result<Vec<Schedule>> {
    let now = Utc::now();
    client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM schedules WHERE tenant_id = $1 OR ($2 AND tenant_id IS NULL)
                  ORDER BY tenant_id NULLS FIRST, lower(name)"
            ),
            &[&scope.tenant.0, &scope.system],
        )
        .await?
        .iter()
        .map(|row| schedule(row, now))
        .collect()
}

pub async fn get(client: &impl GenericClient, scope: JobScope, id: i64) -> Result<Schedule> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM schedules WHERE id = $1 AND (tenant_id = $2 OR ($3 AND tenant_id IS NULL))"),
            &[&id, &scope.tenant.0, &scope.system],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "schedule", key: id.to_string() })?;
    schedule(&row, Utc::now())
}

fn check(input: &ScheduleInput) -> Result<()> {
    if input.name.trim().is_empty() {
        return Err(Error::invalid("name", "is empty"));
    }
    parse_cron(&input.cron)?;
    parse_zone(&input.time_zone)?;
    if !input.args.is_object() {
        return Err(Error::invalid("args", "must be a JSON object"));
    }
    // A scheduled job acts as the schedule; naming someone else would forge the audit log.
    if input.args.get("actor").is_some() {
        return Err(Error::invalid("args", "'actor' is not for schedules: a scheduled job acts as itself"));
    }
    Ok(())
}

/// A tenant's schedule may not run work that spans every tenant.
fn refuse_installation_wide(tenant: Option<TenantId>, kind: JobKind) -> Result<()> {
    if tenant.is_some() && kind.is_installation_wide() {
        return Err(Error::invalid(
            "kind",
            format!("{} is the installation's own work; its default schedule runs it", kind.name()),
        ));
    }
    Ok(())
}

/// Creates a schedule of the caller's tenant.
pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &ScheduleInput,
) -> Result<Schedule> {
    check(input)?;
    refuse_installation_wide(Some(tenant), input.kind)?;
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_opt(
            "INSERT INTO schedules (tenant_id, name, cron, time_zone, kind, args, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (COALESCE(tenant_id, 0), lower(name)) DO NOTHING RETURNING id",
            &[
                &tenant.0,
                &input.name.trim(),
                &input.cron.trim(),
                &input.time_zone,
                &input.kind.name(),
                &input.args,
                &input.enabled,
            ],
        )
        .await?
        .ok_or_else(|| Error::AlreadyExists { entity: "schedule", key: input.name.trim().to_owned() })?
        .get(0);
    let created = get(&tx, JobScope { tenant, system: false }, id).await?;
    audit::record(&tx, tenant, actor, Change::created("schedule.create", "schedule", id, &created)).await?;
    tx.commit().await?;
    Ok(created)
}

/// Replaces a schedule. A default the system keeps may change its expression, zone and
/// whether it is enabled; its kind and arguments are the system's.
pub async fn update(
    client: &mut impl GenericClient,
    scope: JobScope,
    actor: &Actor,
    id: i64,
    input: &ScheduleInput,
) -> Result<Schedule> {
    check(input)?;
    let tx = client.transaction().await?;
    let before = get(&tx, scope, id).await?;
    refuse_installation_wide(before.tenant_id.map(TenantId), input.kind)?;
    if before.system_key.is_some() && (input.kind != before.kind || input.args != before.args) {
        return Err(Error::invalid(
            "kind",
            "a default schedule keeps its kind and arguments; change its cron, zone or enabled",
        ));
    }
    let renamed = tx
        .execute(
            "UPDATE schedules SET name = $2, cron = $3, time_zone = $4, kind = $5, args = $6, enabled = $7,
                    updated_at = now()
              WHERE id = $1",
            &[
                &id,
                &input.name.trim(),
                &input.cron.trim(),
                &input.time_zone,
                &input.kind.name(),
                &input.args,
                &input.enabled,
            ],
        )
        .await;
    if let Err(error) = renamed {
        if crate::platform::error::is_unique_violation(&error, "schedules_name_key") {
            return Err(Error::AlreadyExists { entity: "schedule", key: input.name.trim().to_owned() });
        }
        return Err(error.into());
    }
    let after = get(&tx, scope, id).await?;
    audit::record(
        &tx,
        scope.tenant,
        actor,
        Change::updated("schedule.update", "schedule", id, &before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a user's schedule; a default is disabled instead (it would come back).
pub async fn delete(client: &mut impl GenericClient, scope: JobScope, actor: &Actor, id: i64) -> Result<()> {
    let tx = client.transaction().await?;
    let before = get(&tx, scope, id).await?;
    if before.system_key.is_some() {
        return Err(Error::Refused(format!(
            "'{}' is a default schedule; disable it instead of deleting it",
            before.name
        )));
    }
    tx.execute("DELETE FROM schedules WHERE id = $1", &[&id]).await?;
    audit::record(&tx, scope.tenant, actor, Change::deleted("schedule.delete", "schedule", id, &before))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Keeps the default schedules: the installation's conversion refresh, partition
/// maintenance and retention, and one allocation per live project at midnight in its zone (following
/// renames and zone changes; gone with the project).
pub async fn ensure_defaults(client: &impl GenericClient) -> Result<()> {
    client.batch_execute(include_str!("schedule.ensure_defaults.sql")).await?;
    Ok(())
}

/// Enqueues the due fire time of every enabled schedule: the latest at or before `now`
/// that is later than both its last fire and its last edit. Returns the jobs enqueued
/// by this call (a fire time another process enqueued first is not counted).
pub async fn enqueue_due(client: &impl GenericClient, now: DateTime<Utc>) -> Result<u32> {
    let rows = client
        .query(
            "SELECT id, tenant_id, name, cron, time_zone, kind, args, greatest(last_fire_at, updated_at) AS since
               FROM schedules WHERE enabled",
            &[],
        )
        .await?;
    let mut enqueued = 0;
    for row in rows {
        let id: i64 = row.get("id");
        let (cron, zone) = match (parse_cron(row.get("cron")), parse_zone(row.get("time_zone"))) {
            (Ok(cron), Ok(zone)) => (cron, zone),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(schedule = id, %error, "a stored schedule does not parse; skipped");
                continue;
            }
        };
        let since: DateTime<Utc> = row.get("since");
        let Some(fire) = last_fire(&cron, zone, now).filter(|fire| *fire > since) else { continue };
        let mut job = NewJob::new(
            row.get::<_, Option<i64>>("tenant_id").map(TenantId),
            JobKind::parse(row.get("kind"))?,
            row.get("args"),
        );
        job.unique_key = Some(format!("schedule:{id}:{}", fire.to_rfc3339()));
        job.run_at = Some(fire);
        job.schedule_id = Some(id);
        if job::enqueue(client, &job).await?.is_some() {
            enqueued += 1;
        }
        client
            .execute(
                "UPDATE schedules SET last_fire_at = greatest(last_fire_at, $2) WHERE id = $1",
                &[&id, &fire],
            )
            .await?;
    }
    Ok(enqueued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_fields_parse_and_a_bad_expression_names_the_field() {
        assert!(parse_cron("*/5 * * * *").is_ok());
        assert!(parse_cron("*/10 * * * * *").is_ok());
        let error = parse_cron("61 * * * *").unwrap_err().to_string();
        assert!(error.starts_with("invalid cron: '61 * * * *'"), "{error}");
        assert!(parse_zone("Mars/Olympus").unwrap_err().to_string().contains("time_zone"));
    }

    #[test]
    fn fire_times_follow_the_zones_wall_clock() {
        let cron = parse_cron("0 0 * * *").unwrap();
        let moscow = parse_zone("Europe/Moscow").unwrap();
        let now: DateTime<Utc> = "2026-11-21T10:00:00Z".parse().unwrap();
        // Midnight in Moscow is 21:00 UTC the evening before.
        assert_eq!(last_fire(&cron, moscow, now).unwrap().to_rfc3339(), "2026-11-20T21:00:00+00:00");
        assert_eq!(next_fire(&cron, moscow, now).unwrap().to_rfc3339(), "2026-11-21T21:00:00+00:00");
    }

    #[test]
    fn a_fire_time_is_the_same_whole_second_whenever_it_is_asked_for() {
        let cron = parse_cron("40 1 * * *").unwrap();
        let utc = parse_zone("UTC").unwrap();
        let fire: DateTime<Utc> = "2026-11-21T01:40:00Z".parse().unwrap();
        for late_ms in [0, 1, 300, 999, 1_700, 4_900, 59_999] {
            let now = fire + chrono::Duration::milliseconds(late_ms) + chrono::Duration::nanoseconds(123);
            assert_eq!(last_fire(&cron, utc, now), Some(fire), "asked {late_ms} ms late");
        }
        let before = fire - chrono::Duration::nanoseconds(1);
        assert_eq!(next_fire(&cron, utc, before), Some(fire));
    }
}
