//! Provider scorecards: what each provider's numbers were worth. Delivery figures come
//! from the imports' receipts (delivered, valid, duplicates, DNC, erased) with the price
//! recorded on them and the returns credited; what the numbers came to comes from the
//! conversion aggregates (allocated, dialed, contacted, successes, hours to success).
//! Nothing reads the numbers themselves, so a scorecard over 50M numbers costs what
//! a few thousand imports and aggregate cells cost.
//!
//! Rows are per provider, or per provider and month, geo, batch (import) or number block
//! (the first digits of the number). Outcomes come from `provider_outcomes`, which the
//! conversion refresh keeps per day and provider by geo, by batch and by block, with
//! histograms of the attempts and hours successes took, so medians hold over any
//! roll-up. Imports are not split by geo or block, so geo and block rows have outcomes
//! but no delivery figures: those fields are absent rather than guessed.

use crate::insight::conversion::histogram;
use crate::platform::TenantId;
use crate::platform::error::{Error, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::GenericClient;

/// What the rows are per, besides the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScorecardBy {
    #[default]
    Provider,
    Month,
    Geo,
    Batch,
    Block,
}

impl ScorecardBy {
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "provider" => Ok(Self::Provider),
            "month" => Ok(Self::Month),
            "geo" => Ok(Self::Geo),
            "batch" => Ok(Self::Batch),
            "block" => Ok(Self::Block),
            other => Err(Error::invalid(
                "by",
                format!("'{other}' is not one of provider, month, geo, batch, block"),
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScorecardQuery {
    /// `provider` (default), `month`, `geo`, `batch` or `block`.
    pub by: Option<String>,
    /// Blocks by their first 1 to 6 digits (default 4, or the prefix's length).
    pub digits: Option<u32>,
    /// Only blocks starting with these digits (`+7 701` or `7701`); with `by=block`.
    pub prefix: Option<String>,
    /// First day, inclusive: imports started and calls' days from here.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    pub to: Option<NaiveDate>,
    pub provider_id: Option<i64>,
    /// `json` (default), `csv` or `xlsx` (the API only).
    pub format: Option<String>,
}

/// One scorecard row. Rates are ratios of the sums, so they roll up exactly.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ScorecardRow {
    pub provider_id: Option<i64>,
    pub provider: String,
    /// The month (`YYYY-MM`), geo id, import id or block digits the row is for; absent
    /// for a provider row.
    pub key: Option<String>,
    /// What to show for the key: the month, the geo's code, the file's name, `+7701`.
    pub label: Option<String>,
    /// Rows in the provider's files, and of those: stored (new, updated or refreshed),
    /// duplicates within the file and of numbers stored before, invalid, on the DNC list,
    /// erased. Absent on geo rows.
    pub delivered: Option<i64>,
    pub valid: Option<i64>,
    pub duplicate_in_file: Option<i64>,
    pub duplicate_existing: Option<i64>,
    pub invalid: Option<i64>,
    pub dnc: Option<i64>,
    pub erased: Option<i64>,
    /// Numbers sent back to the provider, and the credit for them.
    pub returned: Option<i64>,
    /// Allocated to projects, calls made, calls that reached a person, successes.
    pub allocated: Option<i64>,
    pub dialed: Option<i64>,
    pub contacted: Option<i64>,
    pub success: Option<i64>,
    /// valid / delivered
    pub valid_rate: Option<f64>,
    /// contacted / dialed
    pub contact_rate: Option<f64>,
    /// success / allocated: what one number bought turns into.
    pub success_rate: Option<f64>,
    /// success / dialed
    pub conversion: Option<f64>,
    /// dialed / success: calls it takes to get one success.
    pub attempts_per_success: Option<f64>,
    /// Mean hours from a number's allocation to its success call.
    pub hours_to_success: Option<f64>,
    /// The median attempt (the number's calls so far) that made a success: exact up
    /// to 29, 30 meaning 30 or more.
    pub median_attempts: Option<f64>,
    /// The median hours from allocation to success: within half an hour on the first
    /// day, half a day up to 30 days; 720 meaning 30 days or more.
    pub median_hours_to_success: Option<f64>,
    /// What the delivered numbers cost (price per number × rows delivered + batch
    /// prices), the credit for returns, and the net cost per contact and per success.
    pub cost: Option<f64>,
    pub credit: Option<f64>,
    pub cost_per_contact: Option<f64>,
    pub cost_per_success: Option<f64>,
    /// success_rate / the tenant's success rate over the same period: 1.2 is 20% better.
    pub vs_average: Option<f64>,
    /// The change of the success rate from the previous month to the last month of the
    /// period, in percentage points (provider rows).
    pub trend: Option<f64>,
}

/// A provider's month, for the chart.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ScorecardMonth {
    pub provider_id: i64,
    pub month: String,
    pub allocated: i64,
    pub success: i64,
    pub success_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Scorecard {
    pub by: ScorecardBy,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub rows: Vec<ScorecardRow>,
    /// Every provider together: the average the rows are compared with.
    pub tenant: ScorecardRow,
    pub months: Vec<ScorecardMonth>,
}

/// Sums that make a row, in the order the frames hold them.
const DELIVERY: [&str; 10] = [
    "delivered",
    "valid",
    "duplicate_in_file",
    "duplicate_existing",
    "invalid",
    "dnc",
    "erased",
    "cost",
    "returned",
    "credit",
];
const OUTCOMES: [&str; 5] = ["allocated", "dialed", "contacted", "success", "hours_sum"];

fn polars_error(e: PolarsError) -> Error {
    Error::Worker(format!("scorecard: {e}"))
}

/// Sums each column of `values` by `keys`, in Polars.
fn sum_by(keys: Vec<String>, values: Vec<Vec<f64>>, names: &[&str]) -> Result<HashMap<String, Vec<f64>>> {
    let height = keys.len();
    let mut columns = vec![Column::new("key".into(), keys)];
    for (name, v) in names.iter().zip(values) {
        columns.push(Column::new((*name).into(), v));
    }
    let frame = DataFrame::new(height, columns).map_err(polars_error)?;
    let summed = frame
        .lazy()
        .group_by([col("key")])
        .agg(names.iter().map(|n| col(*n).sum()).collect::<Vec<_>>())
        .collect()
        .map_err(polars_error)?;
    let key: Vec<String> = summed
        .column("key")
        .map_err(polars_error)?
        .str()
        .map_err(polars_error)?
        .iter()
        .map(|k| k.unwrap_or_default().to_owned())
        .collect();
    let mut sums: Vec<Vec<f64>> = Vec::new();
    for n in names {
        let c = summed.column(n).map_err(polars_error)?.cast(&DataType::Float64).map_err(polars_error)?;
        sums.push(c.f64().map_err(polars_error)?.iter().map(|v| v.unwrap_or(0.0)).collect());
    }
    Ok(key.into_iter().enumerate().map(|(i, k)| (k, sums.iter().map(|s| s[i]).collect())).collect())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// A row's figures from its sums.
fn row(delivery: Option<&Vec<f64>>, outcomes: Option<&Vec<f64>>) -> ScorecardRow {
    let d = |i: usize| delivery.map(|v| v[i]);
    let o = |i: usize| outcomes.map(|v| v[i]);
    let int = |v: Option<f64>| v.map(|x| x.round() as i64);
    let net = match (d(7), d(9)) {
        (Some(cost), Some(credit)) if cost > 0.0 => Some(cost - credit),
        _ => None,
    };
    ScorecardRow {
        delivered: int(d(0)),
        valid: int(d(1)),
        duplicate_in_file: int(d(2)),
        duplicate_existing: int(d(3)),
        invalid: int(d(4)),
        dnc: int(d(5)),
        erased: int(d(6)),
        returned: int(d(8)),
        allocated: int(o(0)),
        dialed: int(o(1)),
        contacted: int(o(2)),
        success: int(o(3)),
        valid_rate: ratio(d(1), d(0)),
        contact_rate: ratio(o(2), o(1)),
        success_rate: ratio(o(3), o(0)),
        conversion: ratio(o(3), o(1)),
        attempts_per_success: ratio(o(1), o(3)),
        hours_to_success: ratio(o(4), o(3)),
        cost: d(7).filter(|&c| c > 0.0),
        credit: d(9).filter(|_| d(7).is_some_and(|c| c > 0.0)),
        cost_per_contact: ratio(net, o(2)),
        cost_per_success: ratio(net, o(3)),
        ..ScorecardRow::default()
    }
}

pub async fn scorecard(
    client: &impl GenericClient,
    tenant: TenantId,
    query: &ScorecardQuery,
) -> Result<Scorecard> {
    let by = query.by.as_deref().map(ScorecardBy::parse).transpose()?.unwrap_or_default();
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from > to
    {
        return Err(Error::invalid("from", format!("{from} is after {to}")));
    }
    let (digits, prefix) = block_filter(by, query)?;
    // Blocks are stored with six digits and rolled up in the query; other keys as they are.
    let (dimension, divisor): (i16, i64) = match by {
        ScorecardBy::Batch => (2, 1),
        ScorecardBy::Block => (3, 10_i64.pow(histogram::BLOCK_DIGITS - digits)),
        _ => (1, 1),
    };
    let filters: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&tenant.0, &query.from, &query.to, &query.provider_id];
    let (prefix, prefix_divisor) = prefix.unzip();
    let outcome_filters: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
        &tenant.0,
        &query.from,
        &query.to,
        &query.provider_id,
        &dimension,
        &divisor,
        &prefix,
        &prefix_divisor,
    ];
    let providers: HashMap<i64, String> = client
        .query("SELECT id, code FROM providers WHERE tenant_id = $1", &[&tenant.0])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let geos: HashMap<i64, String> = client
        .query("SELECT id, code FROM geos WHERE tenant_id = $1", &[&tenant.0])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // One row per import: its receipt, its price and the returns credited against it.
    let imports = client
        .query(
            "SELECT i.provider_id, i.id, i.file_name, to_char(i.started_at AT TIME ZONE 'UTC', 'YYYY-MM'),
                    i.total::float8, (i.inserted + i.updated + i.refreshed)::float8, i.duplicate_in_file::float8,
                    i.duplicate_existing::float8, i.invalid::float8, i.dnc::float8, i.erased::float8,
                    (COALESCE(i.price_per_number, 0) * i.total + COALESCE(i.price_batch, 0))::float8,
                    COALESCE(r.numbers, 0)::float8, COALESCE(r.credit, 0)::float8
               FROM imports i
               -- Returns summed once per import, not looked up per import.
               LEFT JOIN (SELECT import_id, count(*) AS numbers, sum(credit) AS credit FROM provider_return_numbers
                           WHERE tenant_id = $1 GROUP BY import_id) r ON r.import_id = i.id
              WHERE i.tenant_id = $1 AND i.status = 'succeeded'
                AND ($2::date IS NULL OR i.started_at >= $2::date) AND ($3::date IS NULL OR i.started_at < $3::date + 1)
                AND ($4::bigint IS NULL OR i.provider_id = $4)",
            &filters,
        )
        .await?;
    let (cells, buckets) = read_outcomes(client, &outcome_filters).await?;
    // The tenant's row, the average rows are compared with, is every block, not only
    // the prefix's.
    let unfiltered = match prefix {
        Some(_) => {
            let none: Option<i64> = None;
            let mut all = outcome_filters;
            all[6] = &none;
            Some(read_outcomes(client, &all).await?)
        }
        None => None,
    };
    let (tenant_cells, tenant_buckets) = unfiltered.as_ref().map_or((&cells, &buckets), |(c, b)| (c, b));

    let provider_of = |key: &str| key.split('|').next().and_then(|p| p.parse::<i64>().ok());
    let delivery_key = |r: &tokio_postgres::Row| -> Option<String> {
        let provider: i64 = r.get(0);
        match by {
            ScorecardBy::Provider => Some(provider.to_string()),
            ScorecardBy::Month => Some(format!("{provider}|{}", r.get::<_, String>(3))),
            ScorecardBy::Batch => Some(format!("{provider}|{}", r.get::<_, i64>(1))),
            ScorecardBy::Geo | ScorecardBy::Block => None,
        }
    };
    let outcome_key = |r: &tokio_postgres::Row| -> Option<String> {
        let provider: i64 = r.get(0);
        match by {
            ScorecardBy::Provider => Some(provider.to_string()),
            ScorecardBy::Month => Some(format!("{provider}|{}", r.get::<_, String>(2))),
            ScorecardBy::Geo | ScorecardBy::Batch | ScorecardBy::Block => {
                Some(format!("{provider}|{}", r.get::<_, i64>(1)))
            }
        }
    };
    // Each row's histograms (attempts, hours), and the tenant's.
    let mut histograms: HashMap<String, [Vec<i64>; 2]> = HashMap::new();
    let mut tenant_histograms: [Vec<i64>; 2] = Default::default();
    let bucket_of = |r: &tokio_postgres::Row| {
        (r.get::<_, i16>(3) as usize, r.get::<_, i64>(4) as usize, r.get::<_, i64>(5))
    };
    for r in &buckets {
        if let Some(key) = outcome_key(r) {
            let (which, bucket, count) = bucket_of(r);
            histogram::add_count(&mut histograms.entry(key).or_default()[which], bucket, count);
        }
    }
    for r in tenant_buckets {
        let (which, bucket, count) = bucket_of(r);
        histogram::add_count(&mut tenant_histograms[which], bucket, count);
    }
    let medians = |h: Option<&[Vec<i64>; 2]>| {
        h.map_or((None, None), |[a, h]| (histogram::median_attempts(a), histogram::median_hours(h)))
    };
    let columns = |rows: &[tokio_postgres::Row],
                   first: usize,
                   n: usize,
                   key: &dyn Fn(&tokio_postgres::Row) -> Option<String>| {
        let mut keys = Vec::new();
        let mut values = vec![Vec::new(); n];
        for r in rows {
            if let Some(k) = key(r) {
                keys.push(k);
                for (i, v) in values.iter_mut().enumerate() {
                    v.push(r.get::<_, f64>(first + i));
                }
            }
        }
        (keys, values)
    };
    let (dk, dv) = columns(&imports, 4, DELIVERY.len(), &delivery_key);
    let (ok, ov) = columns(&cells, 3, OUTCOMES.len(), &outcome_key);
    let all = |_: &tokio_postgres::Row| Some(String::new());
    let (tdk, tdv) = columns(&imports, 4, DELIVERY.len(), &all);
    let (tok, tov) = columns(tenant_cells, 3, OUTCOMES.len(), &all);
    // Polars plans on its own threads and must not block the async runtime's.
    let (delivery, outcomes, tenant_delivery, tenant_outcomes) = tokio::task::spawn_blocking(move || {
        Ok::<_, Error>((
            sum_by(dk, dv, &DELIVERY)?,
            sum_by(ok, ov, &OUTCOMES)?,
            sum_by(tdk, tdv, &DELIVERY)?,
            sum_by(tok, tov, &OUTCOMES)?,
        ))
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))??;
    let mut tenant_row = row(
        Some(tenant_delivery.get("").cloned().unwrap_or_else(|| vec![0.0; DELIVERY.len()])).as_ref(),
        Some(tenant_outcomes.get("").cloned().unwrap_or_else(|| vec![0.0; OUTCOMES.len()])).as_ref(),
    );
    tenant_row.provider = "all providers".into();
    (tenant_row.median_attempts, tenant_row.median_hours_to_success) = medians(Some(&tenant_histograms));

    // Months per provider for the chart and the trend.
    let mut months: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    for r in &cells {
        let e = months.entry((r.get(0), r.get(2))).or_default();
        e.0 += r.get::<_, f64>(3) as i64;
        e.1 += r.get::<_, f64>(6) as i64;
    }
    let months: Vec<ScorecardMonth> = months
        .into_iter()
        .map(|((provider_id, month), (allocated, success))| ScorecardMonth {
            provider_id,
            month,
            allocated,
            success,
            success_rate: (allocated > 0).then(|| success as f64 / allocated as f64),
        })
        .collect();

    let files: HashMap<i64, String> = imports.iter().map(|r| (r.get(1), r.get(2))).collect();
    let mut keys: Vec<&String> = delivery.keys().chain(outcomes.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<ScorecardRow> = keys
        .into_iter()
        .map(|key| {
            let mut r = row(delivery.get(key), outcomes.get(key));
            (r.median_attempts, r.median_hours_to_success) = medians(histograms.get(key));
            r.provider_id = provider_of(key);
            r.provider = r.provider_id.and_then(|p| providers.get(&p).cloned()).unwrap_or_default();
            let rest = key.split_once('|').map(|(_, rest)| rest.to_owned());
            r.label = rest.as_deref().map(|rest| match by {
                ScorecardBy::Geo => rest
                    .parse::<i64>()
                    .ok()
                    .and_then(|g| geos.get(&g).cloned())
                    .unwrap_or_else(|| "none".into()),
                ScorecardBy::Batch => match rest.parse::<i64>() {
                    Ok(0) | Err(_) => "unknown".into(),
                    Ok(i) => files.get(&i).cloned().unwrap_or_else(|| format!("import {i}")),
                },
                ScorecardBy::Block => match rest {
                    "0" => "unknown".into(),
                    digits => format!("+{digits}"),
                },
                _ => rest.to_owned(),
            });
            r.key = rest;
            r.vs_average = ratio(r.success_rate, tenant_row.success_rate);
            if by == ScorecardBy::Provider {
                let own: Vec<&ScorecardMonth> = months
                    .iter()
                    .filter(|m| Some(m.provider_id) == r.provider_id && m.allocated > 0)
                    .collect();
                if let [.., before, last] = own.as_slice() {
                    r.trend =
                        Some((last.success_rate.unwrap_or(0.0) - before.success_rate.unwrap_or(0.0)) * 100.0);
                }
            }
            r
        })
        .collect();
    rows.sort_by(|a, b| a.provider.cmp(&b.provider).then_with(|| a.key.cmp(&b.key)));
    Ok(Scorecard { by, from: query.from, to: query.to, rows, tenant: tenant_row, months })
}

/// What the providers' numbers came to, rolled up to provider × key × month in the
/// database (at most a few thousand rows whatever the number of numbers), and the
/// successes' histograms summed bucket by bucket (0 for attempts, 1 for hours).
/// Parameters: tenant, from, to, provider, dimension, key divisor, prefix, its divisor.
async fn read_outcomes(
    client: &impl GenericClient,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync); 8],
) -> Result<(Vec<tokio_postgres::Row>, Vec<tokio_postgres::Row>)> {
    let rows = |lateral: &str| {
        format!(
            "FROM provider_outcomes {lateral}
              WHERE tenant_id = $1 AND dimension = $5 AND ($2::date IS NULL OR day >= $2)
                AND ($3::date IS NULL OR day <= $3) AND ($4::bigint IS NULL OR provider_id = $4)
                AND ($7::bigint IS NULL OR key / $8 = $7)"
        )
    };
    let cells = client
        .query(
            &format!(
                "SELECT provider_id, key / $6, to_char(day, 'YYYY-MM'), sum(allocated)::float8, sum(dialed)::float8,
                        sum(contacted)::float8, sum(success)::float8, sum(success_hours_sum)::float8
                   {}
                  GROUP BY 1, 2, 3",
                rows("")
            ),
            params,
        )
        .await?;
    let buckets = client
        .query(
            &format!(
                "SELECT provider_id, key / $6, to_char(day, 'YYYY-MM'), h.which, h.i - 1, sum(h.v)::int8
                   {}
                  GROUP BY 1, 2, 3, 4, 5",
                // Both histograms from one read of each row.
                rows(
                    "CROSS JOIN LATERAL (
                        SELECT 0::int2, i, v FROM unnest(success_attempts) WITH ORDINALITY AS a(v, i)
                        UNION ALL
                        SELECT 1::int2, i, v FROM unnest(success_hours) WITH ORDINALITY AS b(v, i)
                     ) AS h(which, i, v)"
                )
            ),
            params,
        )
        .await?;
    Ok((cells, buckets))
}

/// The block digits to roll up to and the prefix to keep, checked.
fn block_filter(by: ScorecardBy, query: &ScorecardQuery) -> Result<(u32, Option<(i64, i64)>)> {
    let prefix: Option<String> = query
        .prefix
        .as_deref()
        .map(|p| p.chars().filter(|c| !matches!(c, ' ' | '+' | '-')).collect())
        .filter(|p: &String| !p.is_empty());
    if by != ScorecardBy::Block && (prefix.is_some() || query.digits.is_some()) {
        return Err(Error::invalid(
            if prefix.is_some() { "prefix" } else { "digits" },
            "blocks are chosen with by=block",
        ));
    }
    if let Some(p) = &prefix
        && (!p.bytes().all(|b| b.is_ascii_digit()) || p.len() > histogram::BLOCK_DIGITS as usize)
    {
        return Err(Error::invalid(
            "prefix",
            format!("'{p}' is not 1 to {} digits of a number", histogram::BLOCK_DIGITS),
        ));
    }
    let digits = query.digits.unwrap_or(prefix.as_ref().map_or(4, |p| (p.len() as u32).max(4)));
    if !(1..=histogram::BLOCK_DIGITS).contains(&digits) {
        return Err(Error::invalid("digits", format!("{digits} is not 1 to {}", histogram::BLOCK_DIGITS)));
    }
    let Some(p) = prefix else { return Ok((digits, None)) };
    if p.len() as u32 > digits {
        return Err(Error::invalid(
            "prefix",
            format!("'{p}' is longer than the {digits} digits blocks are shown by"),
        ));
    }
    // The query compares the prefix with the stored block divided down to its length.
    let value = p.parse::<i64>().map_err(|e| Error::invalid("prefix", e.to_string()))?;
    Ok((digits, Some((value, 10_i64.pow(histogram::BLOCK_DIGITS - p.len() as u32)))))
}

/// The header and cells of the scorecard as a table, for CSV and XLSX.
pub fn table(card: &Scorecard) -> Vec<Vec<String>> {
    let text = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rate = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    let money = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let mut out = vec![
        [
            "provider",
            "key",
            "label",
            "delivered",
            "valid",
            "duplicate_in_file",
            "duplicate_existing",
            "invalid",
            "dnc",
            "erased",
            "returned",
            "allocated",
            "dialed",
            "contacted",
            "success",
            "valid_rate",
            "contact_rate",
            "success_rate",
            "conversion",
            "attempts_per_success",
            "hours_to_success",
            "median_attempts",
            "median_hours_to_success",
            "cost",
            "credit",
            "cost_per_contact",
            "cost_per_success",
            "vs_average",
            "trend_pp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ];
    for r in card.rows.iter().chain(std::iter::once(&card.tenant)) {
        out.push(vec![
            r.provider.clone(),
            r.key.clone().unwrap_or_default(),
            r.label.clone().unwrap_or_default(),
            text(r.delivered),
            text(r.valid),
            text(r.duplicate_in_file),
            text(r.duplicate_existing),
            text(r.invalid),
            text(r.dnc),
            text(r.erased),
            text(r.returned),
            text(r.allocated),
            text(r.dialed),
            text(r.contacted),
            text(r.success),
            rate(r.valid_rate),
            rate(r.contact_rate),
            rate(r.success_rate),
            rate(r.conversion),
            rate(r.attempts_per_success),
            rate(r.hours_to_success),
            rate(r.median_attempts),
            rate(r.median_hours_to_success),
            money(r.cost),
            money(r.credit),
            money(r.cost_per_contact),
            money(r.cost_per_success),
            rate(r.vs_average),
            rate(r.trend),
        ]);
    }
    out
}

pub fn to_csv(card: &Scorecard) -> Result<Vec<u8>> {
    crate::platform::cells::tables_to_csv(&[("scorecard", table(card))])
}

pub fn to_xlsx(card: &Scorecard) -> Result<Vec<u8>> {
    let months: Vec<Vec<String>> = std::iter::once(
        ["provider_id", "month", "allocated", "success", "success_rate"].map(str::to_owned).to_vec(),
    )
    .chain(card.months.iter().map(|m| {
        vec![
            m.provider_id.to_string(),
            m.month.clone(),
            m.allocated.to_string(),
            m.success.to_string(),
            m.success_rate.map(|r| format!("{r:.6}")).unwrap_or_default(),
        ]
    }))
    .collect();
    crate::platform::cells::tables_to_xlsx(&[("scorecard", table(card)), ("months", months)])
}
