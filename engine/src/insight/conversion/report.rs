//! Reading the aggregates: the report by any dimensions, the weekday × hour heat map,
//! and the report as CSV or XLSX.

use super::histogram;
use crate::platform::TenantId;
use crate::platform::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

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
    /// The median hours from allocation to a success, read from the group's histogram:
    /// within half an hour on the first day, within half a day up to 30 days; 720 past that.
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
    let array = |items: &[String]| {
        if items.is_empty() { "ARRAY[]::text[]".to_owned() } else { format!("ARRAY[{}]", items.join(", ")) }
    };
    let statement = |keys: &[String], labels: &[String]| {
        let grouped = if keys.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {list} ORDER BY {list}", list = keys.join(", "))
        };
        format!(
            "SELECT {keys} AS keys, {labels} AS labels,
                    sum(c.allocated)::bigint, sum(c.exported)::bigint, sum(c.leased)::bigint, sum(c.dialed)::bigint,
                    sum(c.contacted)::bigint, sum(c.success)::bigint, sum(c.failure)::bigint, sum(c.no_answer)::bigint,
                    sum(c.success_hours_sum)::float8
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
    // The median hours to a success, from the group's summed histogram: cells' histograms
    // add up, their medians would not.
    let histograms = |keys: &[String]| {
        let grouped = if keys.is_empty() { String::new() } else { format!("{}, ", keys.join(", ")) };
        format!(
            "SELECT {keys}, h.i::int4, sum(h.n)::bigint
               FROM project_conversions c
              CROSS JOIN LATERAL unnest(c.success_hours) WITH ORDINALITY AS h(n, i)
              WHERE {CELL_FILTER} AND c.success > 0
              GROUP BY {grouped}h.i",
            keys = array(keys),
        )
    };
    let params = filter.params();
    let medians = |sql: String| async move {
        let mut by_keys: std::collections::HashMap<Vec<String>, Vec<i64>> = std::collections::HashMap::new();
        for r in client.query(&sql, &params).await? {
            let bucket: i32 = r.get(1);
            histogram::add_count(
                by_keys.entry(r.get(0)).or_default(),
                (bucket - 1).max(0) as usize,
                r.get(2),
            );
        }
        Ok::<_, Error>(by_keys)
    };
    let with_median = |mut row: ConversionRow, medians: &std::collections::HashMap<Vec<String>, Vec<i64>>| {
        row.hours_to_success_median = medians.get(&row.keys).and_then(|h| histogram::median_hours(h));
        row
    };
    let rows: Vec<ConversionRow> = if by.is_empty() {
        Vec::new()
    } else {
        let medians = medians(histograms(&keys)).await?;
        client
            .query(&statement(&keys, &labels), &params)
            .await?
            .iter()
            .map(|r| with_median(conversion_row(r), &medians))
            .collect()
    };
    let total_median = medians(histograms(&[])).await?;
    let totals = client
        .query_one(&statement(&[], &[]), &params)
        .await
        .map(|r| with_median(conversion_row(&r), &total_median))?;
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
        hours_to_success_median: None,
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
