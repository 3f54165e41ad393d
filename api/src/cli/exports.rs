//! `dialpool export`: a project's numbers to a file.

use clap::Args;
use dialpool_engine::intake::provider::{self};
use dialpool_engine::platform::audit::Actor;
use std::path::PathBuf;

use super::common::{print, stage_bar};
use crate::connect::{find_tenant, ready_pool};
use dialpool_engine::platform::progress::Progress;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The project whose numbers to export (its id).
    #[arg(long)]
    pub project: i64,
    /// Only numbers in this status (its code, e.g. `new`).
    #[arg(long)]
    pub status: Option<String>,
    /// Only numbers of this provider (its code).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only numbers of this geo (its code, e.g. `RU-MOW`).
    #[arg(long)]
    pub geo: Option<String>,
    /// Allocated to the project on or after this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub allocated_from: Option<chrono::NaiveDate>,
    /// Allocated before this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub allocated_to: Option<chrono::NaiveDate>,
    #[arg(long)]
    pub attempts_min: Option<i16>,
    #[arg(long)]
    pub attempts_max: Option<i16>,
    /// Only numbers no earlier export of this project has taken.
    #[arg(long)]
    pub never_exported: bool,
    /// At most this many rows (in phone order).
    #[arg(long)]
    pub limit: Option<i64>,
    /// csv, xlsx (a sheet per 1,048,575 rows), vicidial (the lead loader's standard
    /// tab-separated layout) or parquet (typed columns for analysts).
    #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx", "vicidial", "parquet"])]
    pub format: String,
    /// VICIdial's list id for the leads (default: the project's id).
    #[arg(long)]
    pub vicidial_list_id: Option<i64>,
    /// Move the exported numbers to this status (its code, e.g. `in_work`).
    #[arg(long)]
    pub set_status: Option<String>,
    /// The CSV delimiter: , ; | or tab.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// utf-8 or windows-1251 (old Excel on Russian Windows).
    #[arg(long, default_value = "utf-8")]
    pub encoding: String,
    /// Where to write the file (replaced only when the export succeeds).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn export(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: ExportArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let statuses = dialpool_engine::pool::status::list(&**client, tenant).await?;
    let status_id =
        |code: &Option<String>| -> Result<Option<i16>, dialpool_engine::Error> {
            code.as_ref()
                .map(|code| {
                    statuses.iter().find(|s| &s.code == code).map(|s| s.id).ok_or_else(|| {
                        dialpool_engine::Error::NotFound { entity: "status", key: code.clone() }
                    })
                })
                .transpose()
        };
    let status = status_id(&args.status)?;
    let set_status = status_id(&args.set_status)?;
    let provider_id = match &args.provider {
        None => None,
        Some(code) => Some(provider::find_by_code(&**client, tenant, code).await?.id),
    };
    let geo_id = match &args.geo {
        None => None,
        Some(code) => Some(dialpool_engine::intake::geo::id_by_code(&**client, tenant, code).await?),
    };
    drop(client);
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    let delimiter = match args.delimiter.as_str() {
        "tab" | "\\t" => '\t',
        other if other.chars().count() == 1 => other.chars().next().unwrap_or(','),
        other => {
            return Err(dialpool_engine::Error::invalid(
                "delimiter",
                format!("'{other}' is not one character"),
            )
            .into());
        }
    };
    let request = dialpool_engine::delivery::export::ExportRequest {
        tenant,
        project_id: args.project,
        filter: dialpool_engine::delivery::export::ExportFilter {
            status,
            provider_id,
            geo_id,
            allocated_from: day(args.allocated_from),
            allocated_to: day(args.allocated_to),
            attempts_min: args.attempts_min,
            attempts_max: args.attempts_max,
            never_exported: args.never_exported,
            limit: args.limit,
        },
        options: dialpool_engine::delivery::export::ExportOptions {
            format: dialpool_engine::delivery::export::ExportFormat::parse(&args.format)?,
            csv: dialpool_engine::delivery::export::CsvOptions {
                delimiter,
                encoding: dialpool_engine::delivery::export::Encoding::parse(&args.encoding)?,
            },
            vicidial_list_id: args.vicidial_list_id,
            set_status,
        },
        out: args.out.clone(),
        stored_path: None,
        expires_at: None,
        actor: Actor::system("cli"),
    };
    let progress = Progress::default();
    let bar = stage_bar(&progress, "rows", args.json);
    let summary = dialpool_engine::delivery::export::export_with_progress(&pool, request, &progress).await;
    bar.stop().await;
    let summary = summary?;
    print(args.json, &summary, || {
        format!(
            "export {}: {} numbers, {} bytes to {}",
            summary.export_id,
            summary.rows,
            summary.bytes,
            args.out.display()
        )
    })
}
