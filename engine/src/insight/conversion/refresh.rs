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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RefreshSummary {
    pub full: bool,
    /// (project, day, provider, geo) cells written: every cell after a full refresh, the
    /// cells new rows added to after an incremental one.
    pub cells: i64,
    pub rows_read: i64,
    pub rows_written: i64,
    /// When this refresh looked: rows committed after it are counted by the next one.
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

/// Every source row, with its cell's keys and its day in the project's zone: those
/// `window` counts (see [`visible`]).
fn source_query(window: &Window) -> String {
    let (events, calls, exports) =
        (visible("ne.xact_id", window), visible("o.xact_id", window), visible("x.done_xact_id", window));
    format!(
        "SELECT r.tenant_id, r.project_id, r.provider_id, COALESCE(r.geo_id, 0) AS geo_id,
                r.at AT TIME ZONE p.time_zone AS local, r.kind, r.outcome, r.hours,
                COALESCE(r.import_id, 0) AS import_id, r.phone, r.attempt
           FROM (
            SELECT ne.tenant_id, ne.project_id, ne.provider_id, ne.geo_id, ne.at,
                   CASE ne.kind WHEN 'allocated' THEN {allocated} ELSE {leased} END::int2 AS kind,
                   0::int2 AS outcome, NULL::float8 AS hours, ne.import_id, ne.phone, NULL::int4 AS attempt
              FROM number_events ne
             WHERE ne.kind IN ('allocated', 'leased') AND ne.project_id IS NOT NULL AND {events}
            UNION ALL
            SELECT x.tenant_id, x.project_id, n.provider_id, n.geo_id, x.started_at, {exported}::int2, 0::int2, NULL,
                   n.import_id, n.phone, NULL
              FROM exports x
              JOIN export_batches b ON b.tenant_id = x.tenant_id AND b.export_id = x.id
              CROSS JOIN LATERAL unnest(b.phones) AS taken(phone)
              JOIN phone_numbers n ON n.tenant_id = x.tenant_id AND n.phone = taken.phone
             WHERE x.status = 'succeeded' AND {exports}
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
             WHERE o.project_id IS NOT NULL AND {calls}
           ) r
           JOIN projects p ON p.tenant_id = r.tenant_id AND p.id = r.project_id",
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

/// The rows a refresh counts: those committed in its snapshot (`cur`, in the temp
/// table `conversion_window`) and, when incremental, not in the last refresh's (`prev`).
struct Window {
    /// Transactions below it had ended when `cur` was taken.
    cur_xmin: i64,
    /// `prev`'s; None for a full refresh.
    prev_xmin: Option<i64>,
}

/// Whether the row written by transaction `xact` (a column) counts in `window`.
///
/// Below a snapshot's `xmin` every transaction had ended, so plain bigint comparisons
/// settle nearly every row; only ids in between ask `pg_visible_in_snapshot`. The
/// bounds are written as constants (integers read from the database) so that the
/// planner sees how few rows an incremental read wants and takes the BRIN on the column
/// to the blocks written since the last refresh. A row without an id was stored before
/// ids were kept: only a full refresh counts it. Rows of a transaction that rolled back
/// are not read at all, and rows of one still running at the snapshot are left to the
/// next refresh.
fn visible(xact: &str, window: &Window) -> String {
    let in_current = format!(
        "({xact} < {cur_xmin} OR pg_visible_in_snapshot({xact}::text::xid8, (SELECT cur FROM conversion_window)))",
        cur_xmin = window.cur_xmin
    );
    match window.prev_xmin {
        Some(prev_xmin) => format!(
            "{xact} >= {prev_xmin}
             AND NOT pg_visible_in_snapshot({xact}::text::xid8, (SELECT prev FROM conversion_window))
             AND {in_current}"
        ),
        None => format!("({xact} IS NULL OR {in_current})"),
    }
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

/// Brings the aggregates up to date: rebuilds every cell with `full`, else adds what the
/// rows committed since the last refresh contribute. One refresh runs at a time.
pub async fn refresh(pool: &deadpool_postgres::Pool, full: bool) -> Result<RefreshSummary> {
    refresh_with_progress(pool, full, &Progress::default()).await
}

/// [`refresh`], telling `progress` what it is doing: reading the source rows (counted),
/// aggregating, writing.
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
    // Read committed: each statement from here on sees the last refresh's commit. The
    // snapshot this refresh counts by is taken now, after the lock; the statements that
    // read later see at least what it holds, and count only that.
    tx.batch_execute(
        "CREATE TEMP TABLE conversion_window ON COMMIT DROP AS
         SELECT w.cur, pg_snapshot_xmin(w.cur)::text::bigint AS cur_xmin,
                s.snapshot AS prev, pg_snapshot_xmin(s.snapshot)::text::bigint AS prev_xmin,
                s.watermark IS NOT NULL AS counted, now() AS started
           FROM conversion_state s, (SELECT pg_current_snapshot() AS cur) w",
    )
    .await?;
    let state =
        tx.query_one("SELECT cur_xmin, prev_xmin, counted, started FROM conversion_window", &[]).await?;
    let full = full || !state.get::<_, bool>(2) || state.get::<_, Option<i64>>(1).is_none();
    let window = Window { cur_xmin: state.get(0), prev_xmin: if full { None } else { state.get(1) } };
    let started: DateTime<Utc> = state.get(3);
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
    if full {
        progress.stage("clearing the aggregates", None);
        for table in ["project_conversions", "project_conversion_hours", "provider_outcomes"] {
            tx.execute(&format!("DELETE FROM {table} WHERE $1::date IS NULL OR day >= $1"), &[&kept_before])
                .await?;
        }
    } else {
        // An incremental read is a few recent blocks: JIT would compile a plan that
        // mostly reads.
        tx.batch_execute("SET LOCAL jit = off").await?;
    }
    let read = std::time::Instant::now();
    progress.stage("reading events and calls", None);
    let columns = read_sources(&tx, &window, progress).await?;
    let rows_read = columns.tenant.len() as i64;
    let read_s = read.elapsed().as_secs_f64();
    let (cells, rows_written) = if rows_read == 0 {
        (0, 0)
    } else {
        progress.stage("aggregating", None);
        let keep_from = kept_before.filter(|_| full);
        let aggregates = tokio::task::spawn_blocking(move || {
            let aggregates = aggregate(columns)?;
            match keep_from {
                Some(day) => aggregates.keep_from(day),
                None => Ok(aggregates),
            }
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))??;
        let write = std::time::Instant::now();
        progress.stage("writing", None);
        // A full refresh writes into the emptied tables; an incremental one into temp
        // tables of the same shape, then adds them to the cells (see `merge`).
        let target =
            |table: &'static str| if full { table.to_owned() } else { format!("pg_temp.delta_{table}") };
        if !full {
            for table in ["project_conversions", "project_conversion_hours", "provider_outcomes"] {
                tx.batch_execute(&format!(
                    "CREATE TEMP TABLE delta_{table} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
                ))
                .await?;
            }
        }
        write_hours(&tx, &target("project_conversion_hours"), &aggregates.hours).await?;
        write_providers(&tx, &target("provider_outcomes"), &aggregates.providers).await?;
        let written = write_cells(&tx, &target("project_conversions"), &aggregates).await?;
        if !full {
            merge(&tx).await?;
        }
        // Where a slow refresh spends its time.
        tracing::info!(
            full,
            read_s,
            aggregate_s = (write - read).as_secs_f64() - read_s,
            write_s = write.elapsed().as_secs_f64(),
            rows_read,
            "conversion refresh steps"
        );
        (written, written)
    };
    tx.execute(
        "UPDATE conversion_state SET watermark = $1, snapshot = (SELECT cur FROM conversion_window),
                refreshed_at = now(), full_at = CASE WHEN $2 THEN now() ELSE full_at END",
        &[&started, &full],
    )
    .await?;
    tx.commit().await?;
    tracing::debug!(elapsed_s = clock.elapsed().as_secs_f64(), "conversion refresh");
    Ok(RefreshSummary { full, cells, rows_read, rows_written, watermark: started })
}

/// Adds the temp tables `delta_*` to the aggregates: sums add, histograms add bucket by
/// bucket, and a cell not there yet is inserted as it is.
async fn merge(tx: &Transaction<'_>) -> Result<()> {
    let add = |column: &str| format!("{column} = c.{column} + EXCLUDED.{column}");
    let histogram = |column: &str| {
        format!(
            "{column} = ARRAY(SELECT COALESCE(a, 0) + COALESCE(b, 0)
                                FROM unnest(c.{column}, EXCLUDED.{column}) WITH ORDINALITY AS h(a, b, i) ORDER BY i)"
        )
    };
    let sums = |columns: &[&str]| columns.iter().map(|c| add(c)).collect::<Vec<_>>().join(", ");
    tx.batch_execute(&format!(
        "INSERT INTO project_conversions AS c SELECT * FROM pg_temp.delta_project_conversions
             ON CONFLICT (tenant_id, project_id, day, provider_id, geo_id) DO UPDATE SET {cells}, {cells_hours};
         INSERT INTO project_conversion_hours AS c SELECT * FROM pg_temp.delta_project_conversion_hours
             ON CONFLICT (tenant_id, project_id, day, provider_id, geo_id, hour) DO UPDATE SET {hours};
         INSERT INTO provider_outcomes AS c SELECT * FROM pg_temp.delta_provider_outcomes
             ON CONFLICT (tenant_id, dimension, day, provider_id, key) DO UPDATE SET {providers}, {attempts}, {provider_hours}",
        cells = sums(&[CELL_COUNTS.as_slice(), &["success_hours_sum"]].concat()),
        cells_hours = histogram("success_hours"),
        hours = sums(&["dialed", "contacted", "success"]),
        providers = sums(&["allocated", "dialed", "contacted", "success", "success_hours_sum"]),
        attempts = histogram("success_attempts"),
        provider_hours = histogram("success_hours"),
    ))
    .await?;
    Ok(())
}

async fn read_sources(tx: &Transaction<'_>, window: &Window, progress: &Progress) -> Result<Columns> {
    let stream = tx.copy_out(&format!("COPY ({}) TO STDOUT (FORMAT binary)", source_query(window))).await?;
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
    Ok(c)
}

/// What a refresh writes: the cells (with each cell's hours histogram, by the cell's
/// row in `days`), the calls by hour, and `provider_outcomes`' rows.
struct Aggregates {
    days: DataFrame,
    day_hours: Vec<Vec<i64>>,
    hours: DataFrame,
    providers: Vec<ProviderRow>,
}

impl Aggregates {
    /// Only the cells from `day` on.
    fn keep_from(self, day: NaiveDate) -> Result<Aggregates> {
        let first = (day - epoch()).num_days();
        let keep = |frame: DataFrame| {
            frame
                .lazy()
                .filter(col("day").cast(DataType::Int64).gt_eq(lit(first)))
                .collect()
                .map_err(polars_error)
        };
        let days = int64_column(&self.days, "day")?;
        let day_hours =
            self.day_hours.into_iter().zip(days).filter(|(_, d)| *d >= first).map(|(h, _)| h).collect();
        Ok(Aggregates {
            days: keep(self.days)?,
            day_hours,
            hours: keep(self.hours)?,
            providers: self.providers.into_iter().filter(|p| i64::from(p.day) >= first).collect(),
        })
    }
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
/// the successes' histograms (`successes`: `frame`'s successful calls, filtered once by
/// [`aggregate`]).
fn aggregate_providers(frame: &DataFrame, successes: &DataFrame) -> Result<Vec<ProviderRow>> {
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
        let hours_sum = float64_column(&sums, "hours_sum")?;
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
fn aggregate(c: Columns) -> Result<Aggregates> {
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
    // Only successes have buckets: a few per thousand rows, filtered once for the cells'
    // hours histograms and the provider rows' six histogram group-bys.
    let successes = frame
        .clone()
        .lazy()
        .filter(col("outcome").eq(lit(i32::from(outcome::SUCCESS))))
        .collect()
        .map_err(polars_error)?;
    let providers = aggregate_providers(&frame, &successes)?;
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
        ])
        .sort(["tenant", "project", "day", "provider", "geo"], SortMultipleOptions::default())
        .collect()
        .map_err(polars_error)?;
    let day_hours = cell_histograms(&successes, &days)?;
    Ok(Aggregates { days, day_hours, hours, providers })
}

/// Each cell's successes by hours bucket, in the order of `days`' rows.
fn cell_histograms(successes: &DataFrame, days: &DataFrame) -> Result<Vec<Vec<i64>>> {
    let keys = ["tenant", "project", "day", "provider", "geo"];
    let cell = |frame: &DataFrame| -> Result<Vec<Vec<i64>>> {
        keys.iter().map(|k| int64_column(frame, k)).collect()
    };
    let counts = successes
        .clone()
        .lazy()
        .filter(col("hours_bucket").gt_eq(lit(0)))
        .group_by([
            col("tenant"),
            col("project"),
            col("day"),
            col("provider"),
            col("geo"),
            col("hours_bucket"),
        ])
        .agg([len().cast(DataType::Int64).alias("n")])
        .collect()
        .map_err(polars_error)?;
    let day_keys = cell(days)?;
    let index: std::collections::HashMap<[i64; 5], usize> = (0..days.height())
        .map(|i| ([day_keys[0][i], day_keys[1][i], day_keys[2][i], day_keys[3][i], day_keys[4][i]], i))
        .collect();
    let mut histograms = vec![Vec::new(); days.height()];
    let count_keys = cell(&counts)?;
    let (bucket, n) = (int64_column(&counts, "hours_bucket")?, int64_column(&counts, "n")?);
    for i in 0..counts.height() {
        let key = [count_keys[0][i], count_keys[1][i], count_keys[2][i], count_keys[3][i], count_keys[4][i]];
        if let Some(&row) = index.get(&key) {
            histogram::add_count(&mut histograms[row], bucket[i] as usize, n[i]);
        }
    }
    Ok(histograms)
}

/// The counts of a `project_conversions` cell, in the table's column order.
const CELL_COUNTS: [&str; 8] =
    ["allocated", "exported", "leased", "dialed", "contacted", "success", "failure", "no_answer"];

fn float64_column(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = frame.column(name).map_err(polars_error)?.cast(&DataType::Float64).map_err(polars_error)?;
    Ok(column.f64().map_err(polars_error)?.iter().map(|v| v.unwrap_or(0.0)).collect())
}

fn int64_column(frame: &DataFrame, name: &str) -> Result<Vec<i64>> {
    let column = frame.column(name).map_err(polars_error)?.cast(&DataType::Int64).map_err(polars_error)?;
    Ok(column.i64().map_err(polars_error)?.iter().map(|v| v.unwrap_or(0)).collect())
}

fn date_of(epoch_day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(epoch_day)
}

async fn write_hours(tx: &Transaction<'_>, target: &str, hours: &DataFrame) -> Result<i64> {
    let i64s = |name: &str| int64_column(hours, name);
    let (tenant, project, day, provider, geo) =
        (i64s("tenant")?, i64s("project")?, i64s("day")?, i64s("provider")?, i64s("geo")?);
    let (hour, dialed, contacted, success) =
        (i64s("hour")?, i64s("dialed")?, i64s("contacted")?, i64s("success")?);
    let sink = tx
        .copy_in(
            &format!(
                "COPY {target} (tenant_id, project_id, day, provider_id, geo_id, hour, weekday, dialed, contacted,
                                success) FROM STDIN (FORMAT binary)"
            ),
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

async fn write_providers(tx: &Transaction<'_>, target: &str, rows: &[ProviderRow]) -> Result<()> {
    let sink = tx
        .copy_in(
            &format!(
                "COPY {target} (tenant_id, dimension, day, provider_id, key, allocated, dialed, contacted, success,
                                success_hours_sum, success_attempts, success_hours) FROM STDIN (FORMAT binary)"
            ),
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

async fn write_cells(tx: &Transaction<'_>, target: &str, aggregates: &Aggregates) -> Result<i64> {
    let cells = &aggregates.days;
    let i64s = |name: &str| int64_column(cells, name);
    let (tenant, project, day, provider, geo) =
        (i64s("tenant")?, i64s("project")?, i64s("day")?, i64s("provider")?, i64s("geo")?);
    let measures: Vec<Vec<i64>> = CELL_COUNTS.iter().map(|name| i64s(name)).collect::<Result<_>>()?;
    let hours_sum = float64_column(cells, "hours_sum")?;

    let sink = tx
        .copy_in(&format!(
            "COPY {target} (tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, exported, leased,
                            dialed, contacted, success, failure, no_answer, success_hours_sum, success_hours)
             FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let mut types = vec![Type::INT8, Type::INT8, Type::DATE, Type::INT8, Type::INT8, Type::INT2];
    types.extend([Type::INT8; 8]);
    types.extend([Type::FLOAT8, Type::INT8_ARRAY]);
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    for i in 0..tenant.len() {
        let date = date_of(day[i]);
        let weekday = date.weekday().number_from_monday() as i16;
        let mut row: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&tenant[i], &project[i], &date, &provider[i], &geo[i], &weekday];
        row.extend(measures.iter().map(|m| &m[i] as &(dyn tokio_postgres::types::ToSql + Sync)));
        row.push(&hours_sum[i]);
        row.push(&aggregates.day_hours[i]);
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(tenant.len() as i64)
}
