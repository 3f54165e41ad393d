//! Retention by partition: each tenant says how long number events, the audit log and
//! call outcomes are kept; the daily retention job detaches and drops whole monthly
//! partitions past the window (a `DROP TABLE`, not millions of `DELETE`s), optionally
//! writing each tenant's rows to Parquet in the data directory first.
//!
//! Partitions are shared by the tenants of one database, so a month goes when it is past
//! the window of every tenant: the longest window applies, and a tenant that keeps for
//! ever keeps the month for everyone. Conversion aggregates hold no rows of these logs
//! and are untouched.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Months, NaiveDate, Utc};
use deadpool_postgres::Pool;
use futures_util::{StreamExt, pin_mut};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};

/// The partitioned logs: table, partition key, and the setting that keeps it.
const LOGS: [(&str, &str, &str); 3] = [
    ("number_events", "at", "events_months"),
    ("audit_log", "at", "audit_months"),
    ("call_outcomes", "started_at", "outcomes_months"),
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Months number events are kept (1 to 1200); absent: for ever.
    pub events_months: Option<i32>,
    /// Months the audit log is kept (12 to 1200); absent: for ever.
    pub audit_months: Option<i32>,
    /// Months call outcomes are kept (1 to 1200); absent: for ever.
    pub outcomes_months: Option<i32>,
    /// Days a kept export file stays downloadable (1 to 3650); absent: each export's own.
    pub export_files_days: Option<i32>,
    /// Write this tenant's rows of each dropped partition to Parquet first.
    #[serde(default)]
    pub archive_parquet: bool,
}

impl RetentionSettings {
    fn validate(&self) -> Result<()> {
        let check = |field: &'static str, value: Option<i32>, min: i32, max: i32| match value {
            Some(v) if !(min..=max).contains(&v) => {
                Err(Error::invalid(field, format!("{v} must be {min} to {max}")))
            }
            _ => Ok(()),
        };
        check("events_months", self.events_months, 1, 1200)?;
        check("audit_months", self.audit_months, 12, 1200)?;
        check("outcomes_months", self.outcomes_months, 1, 1200)?;
        check("export_files_days", self.export_files_days, 1, 3650)
    }
}

pub async fn settings(client: &impl GenericClient, tenant: TenantId) -> Result<RetentionSettings> {
    Ok(client
        .query_opt(
            "SELECT events_months, audit_months, outcomes_months, export_files_days, archive_parquet
               FROM tenant_retention WHERE tenant_id = $1",
            &[&tenant.0],
        )
        .await?
        .map(|r| RetentionSettings {
            events_months: r.get(0),
            audit_months: r.get(1),
            outcomes_months: r.get(2),
            export_files_days: r.get(3),
            archive_parquet: r.get(4),
        })
        .unwrap_or_default())
}

/// Replaces the tenant's retention settings; audited.
pub async fn set(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    new: &RetentionSettings,
) -> Result<RetentionSettings> {
    new.validate()?;
    let tx = client.transaction().await?;
    let before = settings(&tx, tenant).await?;
    tx.execute(
        "INSERT INTO tenant_retention (tenant_id, events_months, audit_months, outcomes_months, export_files_days,
                                       archive_parquet)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id) DO UPDATE
            SET events_months = $2, audit_months = $3, outcomes_months = $4, export_files_days = $5,
                archive_parquet = $6, updated_at = now()",
        &[&tenant.0, &new.events_months, &new.audit_months, &new.outcomes_months, &new.export_files_days, &new.archive_parquet],
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated("retention.update", "retention", tenant.0, &before, new),
    )
    .await?;
    tx.commit().await?;
    Ok(new.clone())
}

/// One log as the settings page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LogRetention {
    /// `number_events`, `audit_log` or `call_outcomes`.
    pub table: String,
    /// This tenant's window, in months; absent: for ever.
    pub months: Option<i32>,
    /// The window that applies to the shared partitions (the longest of all tenants');
    /// absent when some tenant keeps for ever.
    pub effective_months: Option<i32>,
    /// Its monthly partitions, oldest first (`2026-11`).
    pub months_held: Vec<String>,
    /// The oldest partition and the day it will be dropped.
    pub next_drop: Option<NextDrop>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NextDrop {
    pub partition: String,
    pub month: NaiveDate,
    pub on: NaiveDate,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DroppedPartition {
    pub table: String,
    pub partition: String,
    pub month: NaiveDate,
    pub rows: i64,
    /// Parquet files written first, relative to the data directory.
    pub archived: Vec<String>,
    pub dropped_at: DateTime<Utc>,
}

impl DroppedPartition {
    /// A partition a dry run would drop.
    fn planned(table: &str, partition: String, month: NaiveDate, rows: i64, at: DateTime<Utc>) -> Self {
        DroppedPartition {
            table: table.to_owned(),
            partition,
            month,
            rows,
            archived: Vec::new(),
            dropped_at: at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetentionOverview {
    pub settings: RetentionSettings,
    pub logs: Vec<LogRetention>,
    /// The last partitions dropped, newest first.
    pub dropped: Vec<DroppedPartition>,
}

/// The window that applies to a log's shared partitions, in months: the longest of every
/// tenant's, or `None` when some tenant keeps it for ever.
async fn effective_months(client: &impl GenericClient, setting: &str) -> Result<Option<i32>> {
    let row = client
        .query_one(
            &format!(
                "SELECT bool_and(r.{setting} IS NOT NULL), max(r.{setting})
                   FROM tenants t LEFT JOIN tenant_retention r ON r.tenant_id = t.id"
            ),
            &[],
        )
        .await?;
    Ok(if row.get::<_, Option<bool>>(0) == Some(true) { row.get(1) } else { None })
}

/// A log's monthly partitions, oldest first, by name (`number_events_2026_11`).
async fn partitions(client: &impl GenericClient, parent: &str) -> Result<Vec<(String, NaiveDate)>> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = to_regclass($1) ORDER BY c.relname",
            &[&parent],
        )
        .await?;
    let prefix = format!("{parent}_");
    Ok(rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            let month =
                NaiveDate::parse_from_str(&format!("{}_01", name.strip_prefix(&prefix)?), "%Y_%m_%d").ok()?;
            Some((name, month))
        })
        .collect())
}

fn first_of_month(now: DateTime<Utc>) -> NaiveDate {
    let day = now.date_naive();
    NaiveDate::from_ymd_opt(chrono::Datelike::year(&day), chrono::Datelike::month(&day), 1)
        .expect("a month's first day")
}

/// The first day a partition of `month` is wholly past a window of `months`.
fn drop_day(month: NaiveDate, months: i32) -> NaiveDate {
    month + Months::new(1 + months as u32)
}

pub async fn overview(client: &impl GenericClient, tenant: TenantId) -> Result<RetentionOverview> {
    let settings = settings(client, tenant).await?;
    let mut logs = Vec::new();
    for (parent, _, setting) in LOGS {
        let effective = effective_months(client, setting).await?;
        let held = partitions(client, parent).await?;
        let months = match setting {
            "events_months" => settings.events_months,
            "audit_months" => settings.audit_months,
            _ => settings.outcomes_months,
        };
        logs.push(LogRetention {
            table: parent.to_owned(),
            months,
            effective_months: effective,
            months_held: held.iter().map(|(_, m)| m.format("%Y-%m").to_string()).collect(),
            next_drop: effective.and_then(|e| {
                held.first().map(|(name, month)| NextDrop {
                    partition: name.clone(),
                    month: *month,
                    on: drop_day(*month, e),
                })
            }),
        });
    }
    let dropped = client
        .query(
            "SELECT parent, partition, month, rows, archived, dropped_at FROM retention_drops ORDER BY id DESC LIMIT 20",
            &[],
        )
        .await?
        .iter()
        .map(|r| DroppedPartition {
            table: r.get(0),
            partition: r.get(1),
            month: r.get(2),
            rows: r.get(3),
            archived: r.get(4),
            dropped_at: r.get(5),
        })
        .collect();
    Ok(RetentionOverview { settings, logs, dropped })
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RetentionRun {
    /// Partitions dropped (or, with `dry_run`, that would be).
    pub dropped: Vec<DroppedPartition>,
    /// Kept export files whose tenant's keep time shortened their expiry.
    pub exports_shortened: u64,
}

/// Drops every monthly partition past the window that applies; rows of such months still
/// in a default partition (written before their month's partition existed) are first
/// moved into one. `now` is injectable for tests.
#[tracing::instrument(skip_all, err)]
pub async fn run(
    pool: &Pool,
    data_dir: &Path,
    dry_run: bool,
    now: Option<DateTime<Utc>>,
) -> Result<RetentionRun> {
    let now = now.unwrap_or_else(Utc::now);
    let this_month = first_of_month(now);
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    let mut report = RetentionRun::default();
    for (parent, column, setting) in LOGS {
        let Some(months) = effective_months(&*client, setting).await? else { continue };
        let cutoff = this_month - Months::new(months as u32);
        // Months that never had a partition: give them one, so they go whole (a dry run
        // only counts them).
        let legacy = client
            .query(
                &format!(
                    "SELECT date_trunc('month', {column} AT TIME ZONE 'UTC')::date, count(*)
                       FROM {parent}_default WHERE {column} < $1::date::timestamp AT TIME ZONE 'UTC' GROUP BY 1"
                ),
                &[&cutoff],
            )
            .await?;
        for row in legacy {
            let (month, rows): (NaiveDate, i64) = (row.get(0), row.get(1));
            if dry_run {
                let partition = format!("{parent}_{}", month.format("%Y_%m"));
                report.dropped.push(DroppedPartition::planned(parent, partition, month, rows, now));
            } else {
                client
                    .query_one("SELECT dialpool_month_partition($1, $2, $3)", &[&parent, &column, &month])
                    .await?;
            }
        }
        for (partition, month) in partitions(&*client, parent).await? {
            if drop_day(month, months) > now.date_naive() {
                continue;
            }
            let rows: i64 =
                client.query_one(&format!("SELECT count(*) FROM \"{partition}\""), &[]).await?.get(0);
            if dry_run {
                report.dropped.push(DroppedPartition::planned(parent, partition, month, rows, now));
                continue;
            }
            let archived = archive(&*client, data_dir, parent, &partition).await?;
            let tx = client.transaction().await?;
            tx.batch_execute(&format!(
                "ALTER TABLE {parent} DETACH PARTITION \"{partition}\"; DROP TABLE \"{partition}\""
            ))
            .await?;
            let dropped_at: DateTime<Utc> = tx
                .query_one(
                    "INSERT INTO retention_drops (parent, partition, month, rows, archived)
                     VALUES ($1, $2, $3, $4, $5) RETURNING dropped_at",
                    &[&parent, &partition, &month, &rows, &archived],
                )
                .await?
                .get(0);
            let record =
                DroppedPartition { table: parent.to_owned(), partition, month, rows, archived, dropped_at };
            // Every tenant sees in its own audit log that a month of the log went.
            let tenants: Vec<i64> =
                tx.query("SELECT id FROM tenants", &[]).await?.iter().map(|r| r.get(0)).collect();
            for tenant in tenants {
                audit::record(
                    &tx,
                    TenantId(tenant),
                    &Actor::system("job:retention"),
                    Change::deleted("retention.drop", "partition", &record.partition, &record),
                )
                .await?;
            }
            tx.commit().await?;
            tracing::info!(partition = %record.partition, rows = record.rows, "retention dropped a partition");
            report.dropped.push(record);
        }
    }
    if !dry_run {
        report.exports_shortened = client
            .execute(
                "UPDATE exports x SET expires_at = x.started_at + make_interval(days => r.export_files_days)
                   FROM tenant_retention r
                  WHERE r.tenant_id = x.tenant_id AND r.export_files_days IS NOT NULL
                    AND x.stored_path IS NOT NULL AND x.deleted_at IS NULL
                    AND (x.expires_at IS NULL OR x.expires_at > x.started_at + make_interval(days => r.export_files_days))",
                &[],
            )
            .await?;
        crate::delivery::export::delete_expired(&*client, data_dir).await?;
    }
    Ok(report)
}

/// Writes each archiving tenant's rows of `partition` to
/// `<data_dir>/archive/<tenant>/<partition>.parquet`, every column as text; returns the
/// paths written, relative to the data directory.
async fn archive(
    client: &impl GenericClient,
    data_dir: &Path,
    parent: &str,
    partition: &str,
) -> Result<Vec<String>> {
    let tenants: Vec<i64> = client
        .query("SELECT tenant_id FROM tenant_retention WHERE archive_parquet ORDER BY tenant_id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = client
        .query(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum",
            &[&parent],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let select = columns.iter().map(|c| format!("\"{c}\"::text")).collect::<Vec<_>>().join(", ");
    let mut written = Vec::new();
    for tenant in tenants {
        let relative = PathBuf::from("archive").join(tenant.to_string()).join(format!("{partition}.parquet"));
        let stream = client
            .query_raw(&format!("SELECT {select} FROM \"{partition}\" WHERE tenant_id = $1"), &[&tenant])
            .await?;
        pin_mut!(stream);
        let mut values: Vec<Vec<Option<String>>> = vec![Vec::new(); columns.len()];
        let mut count = 0usize;
        while let Some(row) = stream.next().await {
            let row = row?;
            for (i, column) in values.iter_mut().enumerate() {
                column.push(row.get(i));
            }
            count += 1;
        }
        if count == 0 {
            continue;
        }
        let path = data_dir.join(&relative);
        let columns = columns.clone();
        tokio::task::spawn_blocking(move || write_parquet(&path, &columns, values, count))
            .await
            .map_err(|e| Error::Worker(e.to_string()))??;
        written.push(relative.display().to_string());
    }
    Ok(written)
}

fn write_parquet(
    path: &Path,
    names: &[String],
    values: Vec<Vec<Option<String>>>,
    height: usize,
) -> Result<()> {
    use polars::prelude::*;
    let failed = |e: PolarsError| Error::io(format!("writing {}", path.display()), std::io::Error::other(e));
    let io = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
    std::fs::create_dir_all(path.parent().expect("archive files live in a folder")).map_err(io)?;
    let columns: Vec<Column> =
        names.iter().zip(values).map(|(name, column)| Column::new(name.as_str().into(), column)).collect();
    let mut frame = DataFrame::new(height, columns).map_err(failed)?;
    // Written whole under a temporary name first, so a crash leaves no half file.
    let partial = path.with_extension("parquet.partial");
    let file = std::fs::File::create(&partial).map_err(io)?;
    ParquetWriter::new(std::io::BufWriter::new(file))
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut frame)
        .map_err(failed)?;
    std::fs::rename(&partial, path).map_err(io)
}
