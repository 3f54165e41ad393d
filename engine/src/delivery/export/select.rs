//! Which numbers leave: the selection's SQL, bound through settings, and the DNC numbers
//! it withholds.

use super::*;
use crate::platform::error::Result;
use tokio_postgres::Transaction;
use tokio_postgres::types::Type;

/// A text cell as a spreadsheet must not run it: one starting with `=`, `+`, `-`, `@`,
/// TAB or CR gets a leading apostrophe (OWASP's advice for CSV injection). CSV and XLSX
/// read the same escaped columns.
macro_rules! escape {
    ($column:literal) => {
        concat!(
            "CASE WHEN left(",
            $column,
            ", 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ",
            $column,
            " ELSE ",
            $column,
            " END"
        )
    };
}

/// The filter's values, read once from the settings [`bind_filter`] made, with their types.
pub(super) const FILTER_VALUES: &str = include_str!("select.filter_values.sql");

/// The export's numbers, in phone order: joins and the filters in use. COPY takes no
/// parameters, so the filter's values are bound as parameters of `set_config` (see
/// [`bind_filter`]) and read back once, typed, in [`FILTER_VALUES`]; the statement text
/// never holds a value. Only the filters in use are written: `(value IS NULL OR …)` for
/// every filter made the planner expect a few rows and walk the phone index instead of
/// sorting the project's numbers.
pub(super) fn selected_numbers(filter: &ExportFilter) -> String {
    let mut sql = String::from(
        " FROM phone_numbers n
          JOIN providers pr ON pr.tenant_id = n.tenant_id AND pr.id = n.provider_id
          JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
          LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
         WHERE n.tenant_id = (SELECT tenant FROM p) AND n.project_id = (SELECT project FROM p)",
    );
    sql.push_str(&filter_conditions(filter));
    // A do-not-call number never leaves, whatever the filter: listed after allocation,
    // or given a DNC status by hand. [`withheld_dnc`] counts what this kept back.
    sql.push_str(" AND s.category <> 'dnc' AND NOT EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = n.tenant_id AND d.phone = n.phone)");
    sql.push_str(" ORDER BY n.phone");
    if filter.limit.is_some() {
        sql.push_str(" LIMIT (SELECT row_limit FROM p)");
    }
    sql
}

/// How many numbers the filter matched that the do-not-call gate of
/// [`selected_numbers`] withheld (the limit aside: they are not in the file either way).
pub(super) async fn withheld_dnc(tx: &Transaction<'_>, filter: &ExportFilter) -> Result<i64> {
    let sql = format!(
        "{FILTER_VALUES} SELECT count(*) FROM phone_numbers n
           JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
          WHERE n.tenant_id = (SELECT tenant FROM p) AND n.project_id = (SELECT project FROM p) {}
            AND (s.category = 'dnc' OR EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = n.tenant_id AND d.phone = n.phone))",
        filter_conditions(filter)
    );
    Ok(tx.query_one(&sql, &[]).await?.get(0))
}

/// The filters in use, as `AND …` conditions on `n` (see [`selected_numbers`]).
fn filter_conditions(filter: &ExportFilter) -> String {
    let conditions = [
        (filter.status.is_some(), " AND n.status = (SELECT status FROM p)"),
        (filter.provider_id.is_some(), " AND n.provider_id = (SELECT provider FROM p)"),
        (filter.geo_id.is_some(), " AND n.geo_id = (SELECT geo FROM p)"),
        (filter.allocated_from.is_some(), " AND n.allocated_at >= (SELECT allocated_from FROM p)"),
        (filter.allocated_to.is_some(), " AND n.allocated_at < (SELECT allocated_to FROM p)"),
        (filter.attempts_min.is_some(), " AND n.attempts >= (SELECT attempts_min FROM p)"),
        (filter.attempts_max.is_some(), " AND n.attempts <= (SELECT attempts_max FROM p)"),
        (
            filter.never_exported,
            " AND NOT EXISTS (
                SELECT FROM (SELECT unnest(b.phones) AS phone FROM export_batches b
                              WHERE b.tenant_id = (SELECT tenant FROM p) AND b.project_id = (SELECT project FROM p)) taken
                 WHERE taken.phone = n.phone)",
        ),
    ];
    conditions.into_iter().filter(|(in_use, _)| *in_use).map(|(_, condition)| condition).collect()
}

/// The spreadsheet columns (CSV and XLSX). The phone is E.164 digits without the plus,
/// which a spreadsheet would read as a formula; every text that came from a provider's
/// file is escaped.
pub(super) const SHEET_COLUMNS: &str = concat!(
    "SELECT n.phone AS phone, pr.code AS provider, g.code AS geo, s.code AS status, n.attempts,
            n.allocated_at, ",
    escape!("(n.attributes->>'name')"),
    " AS name, ",
    escape!("n.attributes::text"),
    " AS attributes"
);
/// [`SHEET_COLUMNS`] as they are: Parquet is read by code, not by a spreadsheet.
pub(super) const RAW_COLUMNS: &str =
    "SELECT n.phone AS phone, pr.code AS provider, g.code AS geo, s.code AS status, n.attempts,
            n.allocated_at, n.attributes->>'name' AS name, n.attributes::text AS attributes";
pub(super) const SHEET_HEADER: [&str; 8] =
    ["phone", "provider", "geo", "status", "attempts", "allocated_at", "name", "attributes"];
pub(super) const SHEET_TYPES: &[Type] =
    &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::INT2, Type::TIMESTAMPTZ, Type::TEXT, Type::TEXT];

pub(super) const VICIDIAL_COLUMNS: &str = "SELECT n.phone, pr.code, g.country::text, g.region, n.attributes";
pub(super) const VICIDIAL_TYPES: &[Type] = &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::JSONB];

/// Rows a batch of the export's membership holds.
pub(super) const BATCH_PHONES: usize = 10_000;
