//! Bringing the aggregates up to date: the sources read with `COPY`, aggregated in
//! Polars, and the cells written back, in one transaction.

use super::histogram;
use crate::platform::error::{Error, Result};
use crate::platform::progress::Progress;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use futures_util::{StreamExt, pin_mut};
use polars::prelude::*;
use serde::Serialize;
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::Type;

/// Rows stamped this long before the watermark are read again: a writer's own clock
/// (a lease's time comes from the application server) may trail the database's.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(30);

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefreshSummary {
    pub full: bool,
    /// (project, day) cells recomputed.
    pub cells: i64,
    pub rows_read: i64,
    pub rows_written: i64,
    /// Rows stamped from here on are read by the next refresh.
    pub watermark: DateTime<Utc>,
}

/// What a source row counts as.
mod kind {
    pub const ALLOCATED: i16 = 1;
    pub const EXPORTED: i16 = 2;
    pub const LEASED: i16 = 3;
    pub const CALL: i16 = 4;
}

/// What a call came to: `SUCCESS`, `FAILURE` and `CONTACTED` reached a person.
mod outcome {
    pub const NOT_REACHED: i16 = 0;
    pub const SUCCESS: i16 = 1;
    pub const FAILURE: i16 = 2;
    pub const NO_ANSWER: i16 = 3;
    pub const CONTACTED: i16 = 4;
}

/// Every source row, with its cell's keys and its day in the project's zone. `cells`
/// narrows it to the temp table `touched` (and a time window around it).
///
/// The rows get their local time inside a subquery the planner may not flatten
/// (`OFFSET 0`), and `touched` is joined on all three keys after it. Flattened, the day
/// (which needs the project's zone) could only be tested after a join on tenant and
/// project alone: every row met every touched day of its project, 206M pairs for 570k
/// rows and 603 touched cells (82 s; a full refresh of the same rows took 2 s).
fn source_query(cells: bool) -> String {
    let (window, touched) = if cells {
        (
            "AND {at} >= (SELECT min(day) FROM touched) - 1 AND {at} < (SELECT max(day) FROM touched) + 2",
            "JOIN touched t ON t.tenant_id = s.tenant_id AND t.project_id = s.project_id
                          AND t.day = s.local::date",
        )
    } else {
        ("", "")
    };
    let events = window.replace("{at}", "ne.at");
    let calls = window.replace("{at}", "o.started_at");
    let exports = window.replace("{at}", "x.started_at");
    format!(
        "SELECT s.tenant_id, s.project_id, s.provider_id, s.geo_id, s.local, s.kind, s.outcome, s.hours,
                s.import_id, s.phone, s.attempt
           FROM (
         SELECT r.tenant_id, r.project_id, r.provider_id, COALESCE(r.geo_id, 0) AS geo_id,
                r.at AT TIME ZONE p.time_zone AS local, r.kind, r.outcome, r.hours,
                COALESCE(r.import_id, 0) AS import_id, r.phone, r.attempt
           FROM (
            SELECT ne.tenant_id, ne.project_id, ne.provider_id, ne.geo_id, ne.at,
                   CASE ne.kind WHEN 'allocated' THEN {allocated} ELSE {leased} END::int2 AS kind,
                   0::int2 AS outcome, NULL::float8 AS hours, ne.import_id, ne.phone, NULL::int4 AS attempt
              FROM number_events ne
             WHERE ne.kind IN ('allocated', 'leased') AND ne.project_id IS NOT NULL {events}
            UNION ALL
            SELECT x.tenant_id, x.project_id, n.provider_id, n.geo_id, x.started_at, {exported}::int2, 0::int2, NULL,
                   n.import_id, n.phone, NULL
              FROM exports x
              JOIN export_batches b ON b.tenant_id = x.tenant_id AND b.export_id = x.id
              CROSS JOIN LATERAL unnest(b.phones) AS taken(phone)
              JOIN phone_numbers n ON n.tenant_id = x.tenant_id AND n.phone = taken.phone
             WHERE x.status = 'succeeded' {exports}
            UNION ALL
            SELECT o.tenant_id, o.project_id, o.provider_id, o.geo_id, o.started_at, {call}::int2,
                   CASE WHEN s.category = 'success' THEN {success}
                        WHEN s.category = 'failure' THEN {failure}
                        WHEN o.answered_at IS NULL AND s.category = 'retry' THEN {no_answer}
                        WHEN o.answered_at IS NOT NULL OR s.category IN ('in_work', 'callback', 'dnc') THEN {contacted}
                        ELSE {not_reached} END::int2,
                   -- Never negative: outcomes may trail the allocation by a dialer's clock skew
                   -- (calls::outcome allows 5 minutes), and rows stored before that rule held.
                   CASE WHEN s.category = 'success' THEN greatest(0, extract(epoch FROM o.started_at - o.allocated_at) / 3600) END,
                   o.import_id, o.phone, CASE WHEN s.category = 'success' THEN o.attempt END
              FROM call_outcomes o
              JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
             WHERE o.project_id IS NOT NULL {calls}
           ) r
           JOIN projects p ON p.tenant_id = r.tenant_id AND p.id = r.project_id
         OFFSET 0) s
           {touched}",
        allocated = kind::ALLOCATED,
        leased = kind::LEASED,
        exported = kind::EXPORTED,
        call = kind::CALL,
        success = outcome::SUCCESS,
        failure = outcome::FAILURE,
        no_answer = outcome::NO_ANSWER,
        contacted = outcome::CONTACTED,
        not_reached = outcome::NOT_REACHED,
    )
}

/// The row's time comes as the project's wall-clock time: the day and the hour are read
/// from it here, since converting to a zone is most of what the query costs per row
/// (converting once instead of twice took a 10M-row read from 8.3 to 6.2 s).
const SOURCE_TYPES: &[Type] = &[
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TIMESTAMP,
    Type::INT2,
    Type::INT2,
    Type::FLOAT8,
    Type::INT8,
    Type::INT8,
    Type::INT4,
];

/// The source rows as columns, the way Polars takes them.
#[derive(Default)]
struct Columns {
    tenant: Vec<i64>,
    project: Vec<i64>,
    provider: Vec<i64>,
    geo: Vec<i64>,
    day: Vec<i32>,
    hour: Vec<i16>,
    kind: Vec<i16>,
    outcome: Vec<i16>,
    hours: Vec<Option<f64>>,
    import: Vec<i64>,
    /// The number's first six digits (see `histogram::block_of`).
    block: Vec<i64>,
    /// A success's bucket in the attempts and in the hours histograms, else -1.
    attempt_bucket: Vec<i16>,
    hours_bucket: Vec<i16>,
}

/// The `conversion_refresh` job: the aggregates brought up to date, incrementally unless
/// `full`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshJob {
    #[serde(default)]
    pub full: bool,
}

impl crate::platform::job::JobArgs for RefreshJob {
    const KIND: crate::platform::job::JobKind = crate::platform::job::JobKind::ConversionRefresh;
}

/// Recomputes the aggregates: every cell with `full`, else the cells rows stamped since the
/// watermark touch. One refresh runs at a time.
pub async fn refresh(pool: &deadpool_postgres::Pool, full: bool) -> Result<RefreshSummary> {
    refresh_with_progress(pool, full, &Progress::default()).await
}

/// [`refresh`], telling `progress` what it is doing: finding what changed, reading the
/// source rows (counted), aggregating, writing.
pub async fn refresh_with_progress(
    pool: &deadpool_postgres::Pool,
    full: bool,
    progress: &Progress,
) -> Result<RefreshSummary> {
    progress.stage("waiting for another refresh", None);
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.conversion', 0))", &[]).await?;
    tx.batch_execute("SET LOCAL work_mem = '256MB'").await?;
    let state = tx.query_one("SELECT watermark, now() FROM conversion_state", &[]).await?;
    let (watermark, started): (Option<DateTime<Utc>>, DateTime<Utc>) = (state.get(0), state.get(1));
    let full = full || watermark.is_none();
    let clock = std::time::Instant::now();
    // Months whose events and calls retention dropped cannot be recomputed: a full
    // refresh keeps their cells (and a day's margin for time zones) as they are.
    let kept_before: Option<NaiveDate> = tx
        .query_one(
            "SELECT (max(month) + interval '1 month' + interval '1 day')::date FROM retention_drops
              WHERE parent IN ('number_events', 'call_outcomes')",
            &[],
        )
        .await?
        .get(0);
    progress.stage("finding what changed", None);
    let cells = if full {
        tx.execute("DELETE FROM project_conversions WHERE $1::date IS NULL OR day >= $1", &[&kept_before])
            .await?;
        tx.execute(
            "DELETE FROM project_conversion_hours WHERE $1::date IS NULL OR day >= $1",
            &[&kept_before],
        )
        .await?;
        tx.execute("DELETE FROM provider_outcomes WHERE $1::date IS NULL OR day >= $1", &[&kept_before])
            .await?;
        None
    } else {
        Some(touch(&tx, watermark.unwrap_or(started) - OVERLAP).await?)
    };
    let touched_s = clock.elapsed().as_secs_f64();
    let (rows_read, rows_written) = match cells {
        Some(0) => (0, 0),
        _ => {
            let read = std::time::Instant::now();
            progress.stage("reading events and calls", None);
            let columns = read_sources(&tx, cells.is_some(), progress).await?;
            progress.stage("aggregating", None);
            let rows_read = columns.tenant.len() as i64;
            let read_s = read.elapsed().as_secs_f64();
            let keep_from = kept_before.filter(|_| cells.is_none());
            let (days, hours, providers) = tokio::task::spawn_blocking(move || {
                let (days, hours, providers) = aggregate(columns)?;
                match keep_from {
                    Some(day) => Ok::<_, Error>((from_day(days, day)?, from_day(hours, day)?, {
                        let first = (day - epoch()).num_days() as i32;
                        providers.into_iter().filter(|p| p.day >= first).collect()
                    })),
                    None => Ok((days, hours, providers)),
                }
            })
            .await
            .map_err(|e| Error::Worker(e.to_string()))??;
            let write = std::time::Instant::now();
            progress.stage("writing", None);
            write_hours(&tx, &hours).await?;
            write_providers(&tx, &providers).await?;
            let written = write_cells(&tx, &days).await?;
            // Where a slow refresh spends its time.
            tracing::info!(
                touched_s,
                read_s,
                aggregate_s = (write - read).as_secs_f64() - read_s,
                write_s = write.elapsed().as_secs_f64(),
                rows_read,
                "conversion refresh steps"
            );
            (rows_read, written)
        }
    };
    // A transaction still running started before its rows' stamps; the next refresh must
    // read from there.
    let next: DateTime<Utc> = tx
        .query_one(
            "SELECT least($1::timestamptz, (SELECT min(xact_start) FROM pg_stat_activity
                                          WHERE pid <> pg_backend_pid() AND backend_xid IS NOT NULL))",
            &[&started],
        )
        .await?
        .get(0);
    tx.execute(
        "UPDATE conversion_state SET watermark = $1, refreshed_at = now(),
                full_at = CASE WHEN $2 THEN now() ELSE full_at END",
        &[&next, &full],
    )
    .await?;
    tx.commit().await?;
    let cells = match cells {
        Some(cells) => cells,
        None => rows_written,
    };
    Ok(RefreshSummary { full, cells, rows_read, rows_written, watermark: next })
}

/// Lists in the temp table `touched` the (project, day) cells of rows stamped from `since`
/// and deletes their aggregates; returns how many.
async fn touch(tx: &Transaction<'_>, since: DateTime<Utc>) -> Result<i64> {
    tx.execute(
        "CREATE TEMP TABLE touched ON COMMIT DROP AS
         SELECT DISTINCT t.tenant_id, t.project_id, (t.at AT TIME ZONE p.time_zone)::date AS day
           FROM (SELECT tenant_id, project_id, at FROM number_events
                  WHERE at >= $1 AND kind IN ('allocated', 'leased') AND project_id IS NOT NULL
                 UNION ALL
                 SELECT tenant_id, project_id, started_at FROM call_outcomes
                  WHERE received_at >= $1 AND project_id IS NOT NULL
                 UNION ALL
                 SELECT tenant_id, project_id, started_at FROM exports
                  WHERE finished_at >= $1 AND status = 'succeeded') t
           JOIN projects p ON p.tenant_id = t.tenant_id AND p.id = t.project_id",
        &[&since],
    )
    .await?;
    let cells = tx.query_one("SELECT count(*) FROM touched", &[]).await?.get(0);
    // provider_outcomes sums a day over every project of the tenant: each touched day is
    // recomputed for all of them (a project without rows that day costs nothing).
    tx.batch_execute(
        "INSERT INTO touched
         SELECT DISTINCT t.tenant_id, p.id, t.day FROM touched t JOIN projects p ON p.tenant_id = t.tenant_id
         EXCEPT SELECT tenant_id, project_id, day FROM touched;
         CREATE INDEX ON touched (tenant_id, project_id, day);
         ANALYZE touched;
         DELETE FROM provider_outcomes c USING (SELECT DISTINCT tenant_id, day FROM touched) t
          WHERE c.tenant_id = t.tenant_id AND c.day = t.day;
         DELETE FROM project_conversions c USING touched t
          WHERE c.tenant_id = t.tenant_id AND c.project_id = t.project_id AND c.day = t.day;
         DELETE FROM project_conversion_hours c USING touched t
          WHERE c.tenant_id = t.tenant_id AND c.project_id = t.project_id AND c.day = t.day",
    )
    .await?;
    Ok(cells)
}

async fn read_sources(tx: &Transaction<'_>, cells: bool, progress: &Progress) -> Result<Columns> {
    if cells {
        // The time window comes from the touched cells at run time, so the planner
        // expects a handful of rows; the join to `touched` is on all its keys (see
        // `source_query`) and by its index, so a misestimate stays linear. Nested loops
        // stay allowed: an export's numbers are found by key, not by hashing the whole
        // store (a 50M-row scan). JIT would compile a plan that mostly reads: off.
        tx.batch_execute("SET LOCAL jit = off").await?;
    }
    let stream = tx.copy_out(&format!("COPY ({}) TO STDOUT (FORMAT binary)", source_query(cells))).await?;
    let rows = BinaryCopyOutStream::new(stream, SOURCE_TYPES);
    pin_mut!(rows);
    let mut c = Columns::default();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    while let Some(row) = rows.next().await {
        let row = row?;
        // Per 64k rows: the counter is shared with the thread drawing the bar.
        if c.tenant.len() % 65_536 == 0 {
            progress.set_done(c.tenant.len() as u64);
        }
        let local: NaiveDateTime = row.get(4);
        c.tenant.push(row.get(0));
        c.project.push(row.get(1));
        c.provider.push(row.get(2));
        c.geo.push(row.get(3));
        c.day.push((local.date() - epoch).num_days() as i32);
        c.hour.push(local.hour() as i16);
        c.kind.push(row.get(5));
        c.outcome.push(row.get(6));
        let hours: Option<f64> = row.get(7);
        c.hours.push(hours);
        c.import.push(row.get(8));
        c.block.push(histogram::block_of(row.get(9)));
        let attempt: Option<i32> = row.get(10);
        c.attempt_bucket.push(attempt.map_or(-1, histogram::attempt_bucket));
        // Only successes have hours (and an attempt).
        c.hours_bucket.push(hours.map_or(-1, histogram::hours_bucket));
    }
    if cells {
        tx.batch_execute("SET LOCAL jit TO DEFAULT").await?;
    }
    Ok(c)
}

/// The cells of `frame` from `day` on.
fn from_day(frame: DataFrame, day: NaiveDate) -> Result<DataFrame> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let first = (day - epoch).num_days();
    frame.lazy().filter(col("day").cast(DataType::Int64).gt_eq(lit(first))).collect().map_err(polars_error)
}

fn polars_error(error: PolarsError) -> Error {
    Error::Worker(format!("aggregating conversion: {error}"))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// One row of `provider_outcomes`.
struct ProviderRow {
    tenant: i64,
    dimension: i16,
    day: i32,
    provider: i64,
    key: i64,
    sums: [i64; 4],
    hours_sum: f64,
    attempts: Vec<i64>,
    hours: Vec<i64>,
}

/// The dimensions of `provider_outcomes`, by the column that holds each key.
const PROVIDER_DIMENSIONS: [(i16, &str); 3] = [(1, "geo"), (2, "import"), (3, "block")];

/// `provider_outcomes`: per tenant, day, provider and one key at a time, the sums and
/// the successes' histograms.
fn aggregate_providers(frame: &DataFrame) -> Result<Vec<ProviderRow>> {
    let call = col("kind").eq(lit(i32::from(kind::CALL)));
    let reached = col("outcome")
        .eq(lit(i32::from(outcome::SUCCESS)))
        .or(col("outcome").eq(lit(i32::from(outcome::FAILURE))))
        .or(col("outcome").eq(lit(i32::from(outcome::CONTACTED))));
    let count = |column: &str, value: i16| col(column).eq(lit(i32::from(value))).cast(DataType::Int64).sum();
    let group = || [col("tenant"), col("day"), col("provider"), col("key")];
    // Leases and exports do not count here.
    let counted = frame
        .clone()
        .lazy()
        .filter(col("kind").eq(lit(i32::from(kind::ALLOCATED))).or(call.clone()))
        .collect()
        .map_err(polars_error)?;
    // Only successes have buckets: a few per thousand rows, filtered once for the six
    // histogram group-bys below.
    let successes = counted
        .clone()
        .lazy()
        .filter(col("outcome").eq(lit(i32::from(outcome::SUCCESS))))
        .collect()
        .map_err(polars_error)?;
    let mut rows = Vec::new();
    for (dimension, column) in PROVIDER_DIMENSIONS {
        let key_column = || col(column).cast(DataType::Int64).alias("key");
        let keyed = counted.clone().lazy().with_column(key_column());
        let sums = keyed
            .clone()
            .group_by(group())
            .agg([
                count("kind", kind::ALLOCATED).alias("allocated"),
                call.clone().cast(DataType::Int64).sum().alias("dialed"),
                reached.clone().and(call.clone()).cast(DataType::Int64).sum().alias("contacted"),
                count("outcome", outcome::SUCCESS).alias("success"),
                col("hours").sum().alias("hours_sum"),
            ])
            .collect()
            .map_err(polars_error)?;
        let (tenant, day, provider, key) = (
            int64_column(&sums, "tenant")?,
            int64_column(&sums, "day")?,
            int64_column(&sums, "provider")?,
            int64_column(&sums, "key")?,
        );
        let measures: Vec<Vec<i64>> = ["allocated", "dialed", "contacted", "success"]
            .iter()
            .map(|name| int64_column(&sums, name))
            .collect::<Result<_>>()?;
        let hours_sum = sums
            .column("hours_sum")
            .map_err(polars_error)?
            .cast(&DataType::Float64)
            .map_err(polars_error)?
            .f64()
            .map_err(polars_error)?
            .iter()
            .map(|v| v.unwrap_or(0.0))
            .collect::<Vec<_>>();
        let mut index = std::collections::HashMap::with_capacity(tenant.len());
        for i in 0..tenant.len() {
            index.insert((tenant[i], day[i], provider[i], key[i]), rows.len());
            rows.push(ProviderRow {
                tenant: tenant[i],
                dimension,
                day: day[i] as i32,
                provider: provider[i],
                key: key[i],
                sums: [measures[0][i], measures[1][i], measures[2][i], measures[3][i]],
                hours_sum: hours_sum[i],
                attempts: Vec::new(),
                hours: Vec::new(),
            });
        }
        for bucket in ["attempt_bucket", "hours_bucket"] {
            let counts = successes
                .clone()
                .lazy()
                .with_column(key_column())
                .filter(col(bucket).gt_eq(lit(0)))
                .group_by([col("tenant"), col("day"), col("provider"), col("key"), col(bucket)])
                .agg([len().cast(DataType::Int64).alias("n")])
                .collect()
                .map_err(polars_error)?;
            let [tenant, day, provider, key, at_bucket, n] =
                ["tenant", "day", "provider", "key", bucket, "n"].map(|name| int64_column(&counts, name));
            let (tenant, day, provider, key, at_bucket, n) = (tenant?, day?, provider?, key?, at_bucket?, n?);
            for (i, count) in n.into_iter().enumerate() {
                let Some(&row) = index.get(&(tenant[i], day[i], provider[i], key[i])) else { continue };
                let histogram =
                    if bucket == "attempt_bucket" { &mut rows[row].attempts } else { &mut rows[row].hours };
                histogram::add_count(histogram, at_bucket[i] as usize, count);
            }
        }
    }
    Ok(rows)
}

/// Sums per cell, the calls' sums per cell and hour, and `provider_outcomes`' rows.
fn aggregate(c: Columns) -> Result<(DataFrame, DataFrame, Vec<ProviderRow>)> {
    let height = c.tenant.len();
    let frame = DataFrame::new(
        height,
        vec![
            Column::new("tenant".into(), c.tenant),
            Column::new("project".into(), c.project),
            Column::new("provider".into(), c.provider),
            Column::new("geo".into(), c.geo),
            Column::new("day".into(), c.day),
            Column::new("hour".into(), c.hour),
            // Comparisons with i32 literals below.
            Column::new("kind".into(), c.kind.into_iter().map(i32::from).collect::<Vec<_>>()),
            Column::new("outcome".into(), c.outcome.into_iter().map(i32::from).collect::<Vec<_>>()),
            Column::new("hours".into(), c.hours),
            Column::new("import".into(), c.import),
            Column::new("block".into(), c.block),
            Column::new(
                "attempt_bucket".into(),
                c.attempt_bucket.into_iter().map(i32::from).collect::<Vec<_>>(),
            ),
            Column::new("hours_bucket".into(), c.hours_bucket.into_iter().map(i32::from).collect::<Vec<_>>()),
        ],
    )
    .map_err(polars_error)?;
    let providers = aggregate_providers(&frame)?;
    let count = |column: &str, value: i16| col(column).eq(lit(i32::from(value))).cast(DataType::Int64).sum();
    let reached = col("outcome")
        .eq(lit(i32::from(outcome::SUCCESS)))
        .or(col("outcome").eq(lit(i32::from(outcome::FAILURE))))
        .or(col("outcome").eq(lit(i32::from(outcome::CONTACTED))));
    let call = col("kind").eq(lit(i32::from(kind::CALL)));
    let hours = frame
        .clone()
        .lazy()
        .filter(call.clone())
        .group_by([col("tenant"), col("project"), col("day"), col("provider"), col("geo"), col("hour")])
        .agg([
            len().cast(DataType::Int64).alias("dialed"),
            reached.clone().cast(DataType::Int64).sum().alias("contacted"),
            count("outcome", outcome::SUCCESS).alias("success"),
        ])
        .collect()
        .map_err(polars_error)?;
    let days = frame
        .lazy()
        .group_by([col("tenant"), col("project"), col("day"), col("provider"), col("geo")])
        .agg([
            count("kind", kind::ALLOCATED).alias("allocated"),
            count("kind", kind::EXPORTED).alias("exported"),
            count("kind", kind::LEASED).alias("leased"),
            count("kind", kind::CALL).alias("dialed"),
            reached.and(call).cast(DataType::Int64).sum().alias("contacted"),
            count("outcome", outcome::SUCCESS).alias("success"),
            count("outcome", outcome::FAILURE).alias("failure"),
            count("outcome", outcome::NO_ANSWER).alias("no_answer"),
            col("hours").sum().alias("hours_sum"),
            col("hours").median().alias("hours_median"),
        ])
        .sort(["tenant", "project", "day", "provider", "geo"], SortMultipleOptions::default())
        .collect()
        .map_err(polars_error)?;
    Ok((days, hours, providers))
}

fn int64_column(frame: &DataFrame, name: &str) -> Result<Vec<i64>> {
    let column = frame.column(name).map_err(polars_error)?.cast(&DataType::Int64).map_err(polars_error)?;
    Ok(column.i64().map_err(polars_error)?.iter().map(|v| v.unwrap_or(0)).collect())
}

fn date_of(epoch_day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(epoch_day)
}

async fn write_hours(tx: &Transaction<'_>, hours: &DataFrame) -> Result<i64> {
    let i64s = |name: &str| int64_column(hours, name);
    let (tenant, project, day, provider, geo) =
        (i64s("tenant")?, i64s("project")?, i64s("day")?, i64s("provider")?, i64s("geo")?);
    let (hour, dialed, contacted, success) =
        (i64s("hour")?, i64s("dialed")?, i64s("contacted")?, i64s("success")?);
    let sink = tx
        .copy_in(
            "COPY project_conversion_hours (tenant_id, project_id, day, provider_id, geo_id, hour, weekday, dialed,
                                            contacted, success) FROM STDIN (FORMAT binary)",
        )
        .await?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::DATE,
        Type::INT8,
        Type::INT8,
        Type::INT2,
        Type::INT2,
        Type::INT8,
        Type::INT8,
        Type::INT8,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for i in 0..tenant.len() {
        let date = date_of(day[i]);
        let weekday = date.weekday().number_from_monday() as i16;
        let hour = hour[i] as i16;
        writer
            .as_mut()
            .write(&[
                &tenant[i],
                &project[i],
                &date,
                &provider[i],
                &geo[i],
                &hour,
                &weekday,
                &dialed[i],
                &contacted[i],
                &success[i],
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(tenant.len() as i64)
}

async fn write_providers(tx: &Transaction<'_>, rows: &[ProviderRow]) -> Result<()> {
    let sink = tx
        .copy_in(
            "COPY provider_outcomes (tenant_id, dimension, day, provider_id, key, allocated, dialed, contacted,
                                     success, success_hours_sum, success_attempts, success_hours)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut types = vec![Type::INT8, Type::INT2, Type::DATE, Type::INT8, Type::INT8];
    types.extend([Type::INT8; 4]);
    types.extend([Type::FLOAT8, Type::INT8_ARRAY, Type::INT8_ARRAY]);
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for r in rows {
        let date = date_of(i64::from(r.day));
        writer
            .as_mut()
            .write(&[
                &r.tenant,
                &r.dimension,
                &date,
                &r.provider,
                &r.key,
                &r.sums[0],
                &r.sums[1],
                &r.sums[2],
                &r.sums[3],
                &r.hours_sum,
                &r.attempts,
                &r.hours,
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

async fn write_cells(tx: &Transaction<'_>, cells: &DataFrame) -> Result<i64> {
    let i64s = |name: &str| int64_column(cells, name);
    let f64s = |name: &str| -> Result<Vec<Option<f64>>> {
        let column =
            cells.column(name).map_err(polars_error)?.cast(&DataType::Float64).map_err(polars_error)?;
        Ok(column.f64().map_err(polars_error)?.iter().collect())
    };
    let (tenant, project, day, provider, geo) =
        (i64s("tenant")?, i64s("project")?, i64s("day")?, i64s("provider")?, i64s("geo")?);
    let measures: Vec<Vec<i64>> =
        ["allocated", "exported", "leased", "dialed", "contacted", "success", "failure", "no_answer"]
            .iter()
            .map(|name| i64s(name))
            .collect::<Result<_>>()?;
    let (hours_sum, hours_median) = (f64s("hours_sum")?, f64s("hours_median")?);

    let sink = tx
        .copy_in(
            "COPY project_conversions (tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, exported,
                                       leased, dialed, contacted, success, failure, no_answer, success_hours_sum,
                                       success_hours_median) FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut types = vec![Type::INT8, Type::INT8, Type::DATE, Type::INT8, Type::INT8, Type::INT2];
    types.extend([Type::INT8; 8]);
    types.extend([Type::FLOAT8, Type::FLOAT8]);
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for i in 0..tenant.len() {
        let date = date_of(day[i]);
        let weekday = date.weekday().number_from_monday() as i16;
        let sum = hours_sum[i].unwrap_or(0.0);
        let mut row: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&tenant[i], &project[i], &date, &provider[i], &geo[i], &weekday];
        row.extend(measures.iter().map(|m| &m[i] as &(dyn tokio_postgres::types::ToSql + Sync)));
        row.push(&sum);
        row.push(&hours_median[i]);
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(tenant.len() as i64)
}
