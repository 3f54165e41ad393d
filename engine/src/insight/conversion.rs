//! Conversion analytics: per day (in the project's time zone) × project × provider × geo,
//! how many numbers were allocated, exported and leased, and how many calls were dialled,
//! reached a person, succeeded, failed or went unanswered; and the calls of each of those
//! cells split by the hour they started (the weekday × hour heat map).
//!
//! The refresh reads the source rows (allocation and lease events, the exports' batches,
//! the calls) with one binary `COPY`, aggregates them in Polars, and writes the cells back
//! with `COPY`, in one transaction. An incremental refresh recomputes only the cells the
//! rows stamped since the last watermark touch, each from all of its rows, so running it
//! twice, or over an overlap, changes nothing, and it equals a full rebuild.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use futures_util::{StreamExt, pin_mut};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use tokio_postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutStream};
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Transaction};

use crate::platform::TenantId;
use crate::platform::error::{Error, Result};

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
fn source_query(cells: bool) -> String {
    let (window, touched) = if cells {
        (
            "AND {at} >= (SELECT min(day) FROM touched) - 1 AND {at} < (SELECT max(day) FROM touched) + 2",
            "JOIN touched t ON t.tenant_id = r.tenant_id AND t.project_id = r.project_id
                          AND t.day = (r.at AT TIME ZONE p.time_zone)::date",
        )
    } else {
        ("", "")
    };
    let events = window.replace("{at}", "ne.at");
    let calls = window.replace("{at}", "o.started_at");
    let exports = window.replace("{at}", "x.started_at");
    format!(
        "SELECT r.tenant_id, r.project_id, r.provider_id, COALESCE(r.geo_id, 0),
                r.at AT TIME ZONE p.time_zone, r.kind, r.outcome, r.hours
           FROM (
            SELECT ne.tenant_id, ne.project_id, ne.provider_id, ne.geo_id, ne.at,
                   CASE ne.kind WHEN 'allocated' THEN {allocated} ELSE {leased} END::int2 AS kind,
                   0::int2 AS outcome, NULL::float8 AS hours
              FROM number_events ne
             WHERE ne.kind IN ('allocated', 'leased') AND ne.project_id IS NOT NULL {events}
            UNION ALL
            SELECT x.tenant_id, x.project_id, n.provider_id, n.geo_id, x.started_at, {exported}::int2, 0::int2, NULL
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
                   CASE WHEN s.category = 'success' THEN greatest(0, extract(epoch FROM o.started_at - o.allocated_at) / 3600) END
              FROM call_outcomes o
              JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
             WHERE o.project_id IS NOT NULL {calls}
           ) r
           JOIN projects p ON p.tenant_id = r.tenant_id AND p.id = r.project_id
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
const SOURCE_TYPES: &[Type] =
    &[Type::INT8, Type::INT8, Type::INT8, Type::INT8, Type::TIMESTAMP, Type::INT2, Type::INT2, Type::FLOAT8];

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
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.conversion', 0))", &[]).await?;
    tx.batch_execute("SET LOCAL work_mem = '256MB'").await?;
    let state = tx.query_one("SELECT watermark, now() FROM conversion_state", &[]).await?;
    let (watermark, started): (Option<DateTime<Utc>>, DateTime<Utc>) = (state.get(0), state.get(1));
    let full = full || watermark.is_none();
    let clock = std::time::Instant::now();
    let cells = if full {
        tx.batch_execute("DELETE FROM project_conversions; DELETE FROM project_conversion_hours").await?;
        None
    } else {
        Some(touch(&tx, watermark.unwrap_or(started) - OVERLAP).await?)
    };
    let touched_s = clock.elapsed().as_secs_f64();
    let (rows_read, rows_written) = match cells {
        Some(0) => (0, 0),
        _ => {
            let read = std::time::Instant::now();
            let columns = read_sources(&tx, cells.is_some()).await?;
            let rows_read = columns.tenant.len() as i64;
            let read_s = read.elapsed().as_secs_f64();
            let (days, hours) = tokio::task::spawn_blocking(move || aggregate(columns))
                .await
                .map_err(|e| Error::Worker(e.to_string()))??;
            let write = std::time::Instant::now();
            write_hours(&tx, &hours).await?;
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
    tx.batch_execute(
        "ANALYZE touched;
         DELETE FROM project_conversions c USING touched t
          WHERE c.tenant_id = t.tenant_id AND c.project_id = t.project_id AND c.day = t.day;
         DELETE FROM project_conversion_hours c USING touched t
          WHERE c.tenant_id = t.tenant_id AND c.project_id = t.project_id AND c.day = t.day",
    )
    .await?;
    Ok(cells)
}

async fn read_sources(tx: &Transaction<'_>, cells: bool) -> Result<Columns> {
    if cells {
        // The time window comes from the touched cells at run time, so the planner
        // expects a handful of source rows and loops over the cells for each; a window
        // holding a busy day's millions made that minutes. Hash joins stay linear. The
        // cost of the nested loops that remain (one per export batch) is then "disabled"
        // and huge, which would have JIT compile the plan: 0.7 s for a 0.15 s read.
        tx.batch_execute("SET LOCAL enable_nestloop = off; SET LOCAL jit = off").await?;
    }
    let stream = tx.copy_out(&format!("COPY ({}) TO STDOUT (FORMAT binary)", source_query(cells))).await?;
    let rows = BinaryCopyOutStream::new(stream, SOURCE_TYPES);
    pin_mut!(rows);
    let mut c = Columns::default();
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    while let Some(row) = rows.next().await {
        let row = row?;
        let local: NaiveDateTime = row.get(4);
        c.tenant.push(row.get(0));
        c.project.push(row.get(1));
        c.provider.push(row.get(2));
        c.geo.push(row.get(3));
        c.day.push((local.date() - epoch).num_days() as i32);
        c.hour.push(local.hour() as i16);
        c.kind.push(row.get(5));
        c.outcome.push(row.get(6));
        c.hours.push(row.get(7));
    }
    if cells {
        tx.batch_execute("SET LOCAL enable_nestloop TO DEFAULT; SET LOCAL jit TO DEFAULT").await?;
    }
    Ok(c)
}

fn polars_error(error: PolarsError) -> Error {
    Error::Worker(format!("aggregating conversion: {error}"))
}

/// Sums per cell, and the calls' sums per cell and hour. Returns both frames.
fn aggregate(c: Columns) -> Result<(DataFrame, DataFrame)> {
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
        ],
    )
    .map_err(polars_error)?;
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
    Ok((days, hours))
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

/// What the conversion API groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Day,
    Weekday,
    Project,
    Provider,
    Geo,
}

impl Dimension {
    pub fn parse(name: &str) -> Result<Dimension> {
        match name.trim() {
            "day" => Ok(Dimension::Day),
            "weekday" => Ok(Dimension::Weekday),
            "project" => Ok(Dimension::Project),
            "provider" => Ok(Dimension::Provider),
            "geo" => Ok(Dimension::Geo),
            other => Err(Error::invalid(
                "by",
                format!("'{other}' is not one of day, weekday, project, provider, geo"),
            )),
        }
    }

    /// The column grouped by, and the label shown for it.
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Dimension::Day => ("c.day::text", "c.day::text"),
            Dimension::Weekday => ("c.weekday::text", "c.weekday::text"),
            Dimension::Project => ("c.project_id::text", "min(p.name)"),
            Dimension::Provider => ("c.provider_id::text", "min(pr.code)"),
            Dimension::Geo => ("c.geo_id::text", "COALESCE(min(g.code), 'none')"),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConversionQuery {
    /// Comma-separated dimensions to group by: day, weekday, project, provider, geo (none:
    /// one row of totals).
    pub by: Option<String>,
    /// First day, inclusive (the project's own days).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<NaiveDate>,
    pub project_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
}

/// One row of the report: the group's keys and labels, its sums and the rates from them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ConversionRow {
    /// The group's key per dimension (ids as text, days as YYYY-MM-DD, weekdays 1-7).
    pub keys: Vec<String>,
    /// What to show for each key (a project's name, a provider's code ...).
    pub labels: Vec<String>,
    pub allocated: i64,
    pub exported: i64,
    pub leased: i64,
    pub dialed: i64,
    pub contacted: i64,
    pub success: i64,
    pub failure: i64,
    pub no_answer: i64,
    /// success / dialed.
    pub conversion_rate: Option<f64>,
    /// contacted / dialed.
    pub contact_rate: Option<f64>,
    /// dialed / success.
    pub attempts_per_success: Option<f64>,
    /// The mean hours from allocation to a success.
    pub hours_to_success_mean: Option<f64>,
    /// The median of the cells' own medians: exact for one cell, an estimate across cells.
    pub hours_to_success_median: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversionReport {
    pub by: Vec<Dimension>,
    pub rows: Vec<ConversionRow>,
    pub totals: ConversionRow,
    /// When the aggregates were last refreshed.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// The filters of a [`ConversionQuery`] over a table of cells aliased `c`, bound as
/// [`CellFilter::params`].
const CELL_FILTER: &str = "c.tenant_id = $1 AND ($2::bigint[] IS NULL OR c.project_id = ANY($2))
    AND ($3::date IS NULL OR c.day >= $3) AND ($4::date IS NULL OR c.day <= $4)
    AND ($5::bigint IS NULL OR c.project_id = $5) AND ($6::bigint IS NULL OR c.provider_id = $6)
    AND ($7::bigint IS NULL OR c.geo_id = $7)";

/// The values [`CELL_FILTER`] binds, once the query's days are checked.
struct CellFilter<'a> {
    tenant: i64,
    projects: Option<Vec<i64>>,
    query: &'a ConversionQuery,
}

impl<'a> CellFilter<'a> {
    fn new(tenant: TenantId, projects: Option<&[i64]>, query: &'a ConversionQuery) -> Result<Self> {
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from > to
        {
            return Err(Error::invalid("to", "is before from"));
        }
        Ok(CellFilter { tenant: tenant.0, projects: projects.map(<[i64]>::to_vec), query })
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 7] {
        [
            &self.tenant,
            &self.projects,
            &self.query.from,
            &self.query.to,
            &self.query.project_id,
            &self.query.provider_id,
            &self.query.geo_id,
        ]
    }
}

/// Conversion grouped by `query.by`, within the projects `projects` allows (None: all).
pub async fn report(
    client: &impl GenericClient,
    tenant: TenantId,
    projects: Option<&[i64]>,
    query: &ConversionQuery,
) -> Result<ConversionReport> {
    let by: Vec<Dimension> = match query.by.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => list.split(',').map(Dimension::parse).collect::<Result<_>>()?,
    };
    let filter = CellFilter::new(tenant, projects, query)?;
    // The grouping columns come from a fixed list; every value is a parameter.
    let keys: Vec<String> = by.iter().map(|d| d.sql().0.to_owned()).collect();
    let labels: Vec<String> = by.iter().map(|d| d.sql().1.to_owned()).collect();
    let statement = |keys: &[String], labels: &[String]| {
        let array = |items: &[String]| {
            if items.is_empty() {
                "ARRAY[]::text[]".to_owned()
            } else {
                format!("ARRAY[{}]", items.join(", "))
            }
        };
        let grouped = if keys.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {list} ORDER BY {list}", list = keys.join(", "))
        };
        format!(
            "SELECT {keys} AS keys, {labels} AS labels,
                    sum(c.allocated)::bigint, sum(c.exported)::bigint, sum(c.leased)::bigint, sum(c.dialed)::bigint,
                    sum(c.contacted)::bigint, sum(c.success)::bigint, sum(c.failure)::bigint, sum(c.no_answer)::bigint,
                    sum(c.success_hours_sum)::float8,
                    percentile_disc(0.5) WITHIN GROUP (ORDER BY c.success_hours_median)
                        FILTER (WHERE c.success_hours_median IS NOT NULL)
               FROM project_conversions c
               JOIN projects p ON p.tenant_id = c.tenant_id AND p.id = c.project_id
               JOIN providers pr ON pr.tenant_id = c.tenant_id AND pr.id = c.provider_id
               LEFT JOIN geos g ON g.tenant_id = c.tenant_id AND g.id = c.geo_id
              WHERE {CELL_FILTER}
              {grouped}",
            keys = array(keys),
            labels = array(labels),
        )
    };
    let params = filter.params();
    let rows: Vec<ConversionRow> = if by.is_empty() {
        Vec::new()
    } else {
        client.query(&statement(&keys, &labels), &params).await?.iter().map(conversion_row).collect()
    };
    let totals = client.query_one(&statement(&[], &[]), &params).await.map(|r| conversion_row(&r))?;
    let refreshed_at = client.query_one("SELECT refreshed_at FROM conversion_state", &[]).await?.get(0);
    Ok(ConversionReport { by, rows, totals, refreshed_at })
}

/// One cell of the weekday × hour heat map: the calls that started in that hour of that
/// weekday, in each project's zone.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct HourCell {
    /// ISO weekday: 1 is Monday, 7 Sunday.
    pub weekday: i16,
    /// 0–23.
    pub hour: i16,
    pub dialed: i64,
    pub contacted: i64,
    pub success: i64,
    /// success / dialed.
    pub conversion_rate: Option<f64>,
    /// contacted / dialed.
    pub contact_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HourReport {
    /// Only the weekday × hour cells that had calls, by weekday then hour.
    pub cells: Vec<HourCell>,
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// Calls by weekday × hour, with the filters of `query` (which must not group: the
/// grouping is the heat map's), within the projects `projects` allows (None: all).
pub async fn hours(
    client: &impl GenericClient,
    tenant: TenantId,
    projects: Option<&[i64]>,
    query: &ConversionQuery,
) -> Result<HourReport> {
    if query.by.as_deref().is_some_and(|by| !by.is_empty()) {
        return Err(Error::invalid("by", "the hour report is always by weekday and hour"));
    }
    let filter = CellFilter::new(tenant, projects, query)?;
    let rows = client
        .query(
            &format!(
                "SELECT weekday, hour, sum(dialed)::bigint, sum(contacted)::bigint, sum(success)::bigint
                   FROM project_conversion_hours c
                  WHERE {CELL_FILTER}
                  GROUP BY weekday, hour ORDER BY weekday, hour"
            ),
            &filter.params(),
        )
        .await?;
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    let cells = rows
        .iter()
        .map(|row| {
            let (dialed, contacted, success): (i64, i64, i64) = (row.get(2), row.get(3), row.get(4));
            HourCell {
                weekday: row.get(0),
                hour: row.get(1),
                dialed,
                contacted,
                success,
                conversion_rate: ratio(success, dialed),
                contact_rate: ratio(contacted, dialed),
            }
        })
        .collect();
    let refreshed_at = client.query_one("SELECT refreshed_at FROM conversion_state", &[]).await?.get(0);
    Ok(HourReport { cells, refreshed_at })
}

fn conversion_row(row: &tokio_postgres::Row) -> ConversionRow {
    let sum = |i: usize| row.get::<_, Option<i64>>(i).unwrap_or(0);
    let (dialed, contacted, success) = (sum(5), sum(6), sum(7));
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    let hours_sum: Option<f64> = row.get(10);
    ConversionRow {
        keys: row.get(0),
        labels: row.get(1),
        allocated: sum(2),
        exported: sum(3),
        leased: sum(4),
        dialed,
        contacted,
        success,
        failure: sum(8),
        no_answer: sum(9),
        conversion_rate: ratio(success, dialed),
        contact_rate: ratio(contacted, dialed),
        attempts_per_success: ratio(dialed, success),
        hours_to_success_mean: hours_sum.filter(|_| success > 0).map(|h| h / success as f64),
        hours_to_success_median: row.get(11),
    }
}

const REPORT_MEASURES: [&str; 13] = [
    "allocated",
    "exported",
    "leased",
    "dialed",
    "contacted",
    "success",
    "failure",
    "no_answer",
    "conversion_rate",
    "contact_rate",
    "attempts_per_success",
    "hours_to_success_mean",
    "hours_to_success_median",
];

fn report_header(report: &ConversionReport) -> Vec<String> {
    let names = report.by.iter().map(|d| {
        serde_json::to_value(d).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    });
    names.chain(REPORT_MEASURES.iter().map(|m| (*m).to_owned())).collect()
}

/// The report's rows then a "total" row, each as its labels and measures.
fn report_lines(report: &ConversionReport) -> Vec<(Vec<String>, Vec<Option<f64>>)> {
    let measures = |r: &ConversionRow| {
        vec![
            Some(r.allocated as f64),
            Some(r.exported as f64),
            Some(r.leased as f64),
            Some(r.dialed as f64),
            Some(r.contacted as f64),
            Some(r.success as f64),
            Some(r.failure as f64),
            Some(r.no_answer as f64),
            r.conversion_rate,
            r.contact_rate,
            r.attempts_per_success,
            r.hours_to_success_mean,
            r.hours_to_success_median,
        ]
    };
    let mut lines: Vec<_> = report.rows.iter().map(|r| (r.labels.clone(), measures(r))).collect();
    let mut total = vec![String::new(); report.by.len()];
    if let Some(first) = total.first_mut() {
        "total".clone_into(first);
    }
    lines.push((total, measures(&report.totals)));
    lines
}

/// The report as CSV, labels escaped against formula injection.
pub fn report_csv(report: &ConversionReport) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| Error::Worker(format!("writing the conversion CSV: {e}"));
    writer.write_record(report_header(report)).map_err(failed)?;
    for (labels, measures) in report_lines(report) {
        let mut record: Vec<String> =
            labels.iter().map(|l| crate::platform::cells::escape_formula(l).into_owned()).collect();
        record.extend(measures.iter().map(|m| m.map(|v| v.to_string()).unwrap_or_default()));
        writer.write_record(&record).map_err(failed)?;
    }
    writer.into_inner().map_err(|e| Error::Worker(format!("writing the conversion CSV: {e}")))
}

/// The report as an XLSX workbook: labels as text cells, measures as numbers.
pub fn report_xlsx(report: &ConversionReport) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let failed =
        |e: rust_xlsxwriter::XlsxError| Error::Worker(format!("writing the conversion workbook: {e}"));
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Conversion").map_err(failed)?;
    let bold = Format::new().set_bold();
    let share = Format::new().set_num_format("0.0%");
    for (col, title) in report_header(report).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, title, &bold).map_err(failed)?;
    }
    let dimensions = report.by.len();
    for (i, (labels, measures)) in report_lines(report).into_iter().enumerate() {
        let row = i as u32 + 1;
        for (col, label) in labels.iter().enumerate() {
            sheet
                .write_string(row, col as u16, crate::platform::cells::escape_formula(label))
                .map_err(failed)?;
        }
        for (j, value) in measures.iter().enumerate() {
            let col = (dimensions + j) as u16;
            match value {
                Some(v) if REPORT_MEASURES[j].ends_with("_rate") => {
                    sheet.write_number_with_format(row, col, *v, &share).map_err(failed)?;
                }
                Some(v) => {
                    sheet.write_number(row, col, *v).map_err(failed)?;
                }
                None => {}
            }
        }
    }
    workbook.save_to_buffer().map_err(failed)
}
