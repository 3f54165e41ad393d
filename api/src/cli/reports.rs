//! `dialpool conversion refresh|report`.

use clap::Args;

use super::common::{print, stage_bar};
use crate::connect::{find_tenant, ready_pool};
use dialpool_engine::platform::progress::Progress;

#[derive(Debug, Args)]
pub struct ConversionRefreshArgs {
    /// Rebuild every cell from all the rows.
    #[arg(long)]
    pub full: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConversionReportArgs {
    /// Comma-separated: day, weekday, project, provider, geo (none: totals only).
    #[arg(long)]
    pub by: Option<String>,
    /// First day (YYYY-MM-DD, the project's own days), inclusive.
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// Last day, inclusive.
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// Only this project (its id).
    #[arg(long)]
    pub project: Option<i64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn conversion_refresh(
    config: &tokio_postgres::Config,
    _tenant: &str,
    args: ConversionRefreshArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let progress = Progress::default();
    let bar = stage_bar(&progress, "rows", args.json);
    let summary =
        dialpool_engine::insight::conversion::refresh_with_progress(&pool, args.full, &progress).await;
    bar.stop().await;
    let summary = summary?;
    print(args.json, &summary, || {
        format!(
            "conversion {}: {} cells recomputed from {} rows, {} written; next from {}",
            if summary.full { "rebuilt" } else { "refreshed" },
            summary.cells,
            summary.rows_read,
            summary.rows_written,
            summary.watermark.to_rfc3339()
        )
    })
}

pub(super) async fn conversion_report(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: ConversionReportArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let query = dialpool_engine::insight::conversion::ConversionQuery {
        by: args.by.clone(),
        from: args.from,
        to: args.to,
        project_id: args.project,
        ..Default::default()
    };
    let report = dialpool_engine::insight::conversion::report(&**client, tenant, None, &query).await?;
    print(args.json, &report, || {
        let rate = |r: Option<f64>| r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into());
        let mut lines = vec![format!(
            "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
            "group", "allocated", "dialed", "contacted", "success", "conv.", "contact"
        )];
        for row in report.rows.iter().chain(std::iter::once(&report.totals)) {
            let label = if row.labels.is_empty() { "total".to_owned() } else { row.labels.join(" / ") };
            lines.push(format!(
                "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
                label,
                row.allocated,
                row.dialed,
                row.contacted,
                row.success,
                rate(row.conversion_rate),
                rate(row.contact_rate)
            ));
        }
        lines.join("\n")
    })
}
