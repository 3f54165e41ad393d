//! The `dialpool` command line: every command calls the same engine function the API
//! calls. Output is for people by default and JSON with `--json`; exit codes say what kind
//! of failure happened (see [`exit_code`]).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use dialpool_engine::ErrorKind;
use dialpool_engine::TenantId;
use dialpool_engine::dialing;
use dialpool_engine::intake::dnc::{self, DncImportRequest};
use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::source::SourceOptions;
use dialpool_engine::intake::import::{self, ImportOptions, ImportProgress, ImportRequest, OnDuplicate};
use dialpool_engine::intake::phone::Region;
use dialpool_engine::intake::provider::{self, NewProvider};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::tenant;
use dialpool_engine::platform::{access, db};
use dialpool_jobs::webhooks::{Sender, SenderConfig};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(name = "dialpool", version, about = "Phone-number distribution engine for call centres")]
pub struct Cli {
    /// PostgreSQL connection URL; the database is created when missing.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = db::DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,

    /// The tenant (company) to act in, by slug.
    #[arg(long, global = true, env = "DIALPOOL_TENANT", default_value = "default")]
    pub tenant: String,

    /// Log format on standard error: text or json.
    #[arg(long, global = true, env = "DIALPOOL_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database if missing and apply pending migrations.
    Migrate(JsonFlag),
    /// Serve the API and the admin UI. Migrates first; on first start creates an administrator.
    Serve(ServeArgs),
    /// Load the demo data set: providers, regional geos and a few thousand numbers.
    Demo(JsonFlag),
    /// Print the OpenAPI document of the HTTP API (what /api/openapi.json serves).
    Openapi,
    /// Manage providers, the vendors numbers come from.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Import a provider's file of numbers (CSV/TSV, XLSX, XLS, VICIdial lead file).
    Import(ImportArgs),
    /// Manage the do-not-call list.
    #[command(subcommand)]
    Dnc(DncCommand),
    /// Call outcomes from dialer files (Asterisk Master.csv, VICIdial calls export, CSV).
    #[command(subcommand)]
    Outcomes(OutcomesCommand),
    /// Export a batch of a project's numbers to a CSV, XLSX, VICIdial or Parquet file; the export
    /// records which numbers it took, and they stay with the project.
    Export(ExportArgs),
    /// Conversion analytics: refresh the aggregates, or print a report.
    #[command(subcommand)]
    Conversion(ConversionCommand),
    /// Manage projects: settings, pool rules, schedules; pause, delete, restore, purge.
    #[command(subcommand)]
    Project(crate::cli_projects::ProjectCommand),
    /// Hand numbers from the pool to projects for a day (or preview it with --dry-run).
    Allocate(crate::cli_projects::AllocateArgs),
    /// How many eligible numbers each project's pool holds and how many days they last.
    Forecast(crate::cli_projects::ForecastArgs),
    /// Where a number is, its history, and why each project can or cannot take it.
    Explain(crate::cli_projects::ExplainArgs),
    /// The job queue: list, run, cancel and retry jobs, or run a worker.
    #[command(subcommand)]
    Jobs(crate::cli_jobs::JobsCommand),
    /// Partner accounts of the SFTP server, and their uploads.
    #[command(subcommand)]
    Sftp(crate::cli_sftp::SftpCommand),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "DIALPOOL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the demo data set before serving (and create the demo administrator).
    #[arg(long)]
    pub demo: bool,
    /// Where uploads and rejects files are kept.
    #[arg(long, env = "DIALPOOL_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Database connections the server keeps; requests beyond it wait for one.
    #[arg(long, env = "DIALPOOL_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// Largest accepted upload, in MiB.
    #[arg(long, env = "DIALPOOL_MAX_UPLOAD_MB", default_value_t = 512)]
    pub max_upload_mb: u64,
    /// Mark the session cookie Secure (set this when TLS ends in a proxy that does not send
    /// X-Forwarded-Proto).
    #[arg(long, env = "DIALPOOL_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Let webhooks reach loopback, private and link-local addresses (a receiver on the
    /// same network). Off by default, so tenant administrators cannot probe the servers
    /// next to Dialpool.
    #[arg(long, env = "DIALPOOL_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Seconds before a failed webhook is tried again the first time; each later wait is
    /// three times longer (up to 6 hours), 8 tries in all.
    #[arg(long, env = "DIALPOOL_WEBHOOKS_RETRY_BASE_S", default_value_t = 60.0)]
    pub webhooks_retry_base_s: f64,
    /// Jobs this server runs at once (0: this server runs none; another runs them).
    #[arg(long, env = "DIALPOOL_JOBS_CONCURRENCY", default_value_t = 2)]
    pub jobs_concurrency: usize,
    /// Seconds a claimed job stays locked without renewal: how long a dead server's job
    /// waits before another takes it.
    #[arg(long, env = "DIALPOOL_JOBS_LOCK_S", default_value_t = 30)]
    pub jobs_lock_s: u64,
    /// Where the partners' SFTP server listens (`off`: no SFTP server).
    #[arg(long, env = "DIALPOOL_SFTP_LISTEN", default_value = "127.0.0.1:2222")]
    pub sftp_listen: String,
    /// Seconds between looks at the schedules (0: this server enqueues none).
    #[arg(long, env = "DIALPOOL_SCHEDULE_TICK_S", default_value_t = 5)]
    pub schedule_tick_s: u64,
    /// Hours an export's file is kept for download before it is deleted.
    #[arg(long, env = "DIALPOOL_EXPORTS_KEEP_HOURS", default_value_t = 72)]
    pub exports_keep_hours: u32,
    /// E-mail of the administrator created on first start.
    #[arg(long, env = "DIALPOOL_ADMIN_EMAIL", default_value = "admin@localhost.localdomain")]
    pub admin_email: String,
    /// Password of that administrator; when unset, a one-time password is printed once.
    #[arg(long, env = "DIALPOOL_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Add a provider.
    Add(ProviderAddArgs),
    /// List providers.
    List(JsonFlag),
}

#[derive(Debug, Args)]
pub struct ProviderAddArgs {
    /// Short unique code, e.g. `leadco`.
    pub code: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Default region (ISO 3166 code, e.g. RU) for numbers written without a country code.
    #[arg(long)]
    pub region: Option<String>,
    /// Saved column mapping for this provider's files, e.g. `phone=3,geo=Region`.
    #[arg(long = "map")]
    pub mapping: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FileOptions {
    /// Default region (ISO 3166 code) for numbers without a country code; overrides the provider's.
    #[arg(long)]
    pub region: Option<String>,
    /// auto, csv, xlsx, xls or vicidial.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Text encoding when it cannot be detected: utf-8, utf-16le, utf-16be, windows-1251 ...
    #[arg(long)]
    pub encoding: Option<String>,
    /// Sheet name or 1-based position in a workbook (default: the first sheet).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Which column is which, e.g. `phone=3,geo=5` (1-based) or `phone=Contact`.
    #[arg(long = "map")]
    pub mapping: Option<String>,
    /// Where to write the rejects CSV (default: FILE.rejects.csv).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// Code of the provider the numbers come from.
    #[arg(long)]
    pub provider: String,
    /// What to do with numbers already stored: skip, or update their attributes.
    #[arg(long, default_value = "skip")]
    pub on_duplicate: String,
    #[command(flatten)]
    pub options: FileOptions,
}

#[derive(Debug, Subcommand)]
pub enum DncCommand {
    /// Add the numbers of a file to the do-not-call list.
    Import(DncImportArgs),
}

#[derive(Debug, Args)]
pub struct DncImportArgs {
    pub file: PathBuf,
    /// Why these numbers are listed, kept on every entry.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub options: FileOptions,
}

#[derive(Debug, Subcommand)]
pub enum ConversionCommand {
    /// Recompute the aggregates the calls, events and exports since the last refresh
    /// touch (or all of them with --full).
    Refresh(ConversionRefreshArgs),
    /// Conversion grouped by dimensions over a date range, with totals.
    Report(ConversionReportArgs),
}

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

#[derive(Debug, Subcommand)]
pub enum OutcomesCommand {
    /// Apply a file of call outcomes; calls already stored (by call id) change nothing.
    Import(OutcomesImportArgs),
}

#[derive(Debug, Args)]
pub struct OutcomesImportArgs {
    pub file: PathBuf,
    /// asterisk (cdr-csv Master.csv, 16/17/18 columns), vicidial (the calls export,
    /// tab- or |-separated with a header) or csv (header: phone, call_id, disposition,
    /// at[, project_id, ended_at, duration_s, agent, notes]).
    #[arg(long, default_value = "asterisk")]
    pub format: String,
    /// IANA zone of times written without one (Asterisk writes local time unless
    /// usegmtime=yes); UTC by default.
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Region (ISO 3166) for numbers written without a country code.
    #[arg(long)]
    pub region: Option<String>,
    /// The project every call in the file belongs to; by default each number's holder.
    #[arg(long)]
    pub project: Option<i64>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

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

/// Exit codes: 0 success, 1 internal failure, 2 usage, 3 not found, 4 conflict,
/// 65 bad input data, 69 database or remote host unavailable.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    match error.downcast_ref::<dialpool_engine::Error>().map(dialpool_engine::Error::kind) {
        Some(ErrorKind::InvalidInput) => 65,
        Some(ErrorKind::NotFound) => 3,
        Some(ErrorKind::Conflict) => 4,
        Some(ErrorKind::Unavailable | ErrorKind::Upstream) => 69,
        Some(ErrorKind::Internal) | None => 1,
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = db::parse_url(&cli.database_url)?;
    match cli.command {
        Command::Openapi => {
            print!("{}", crate::http::openapi_json());
            Ok(())
        }
        Command::Migrate(flag) => {
            let created = db::ensure_database(&config).await?;
            let (mut client, connection) =
                config.connect(tokio_postgres::NoTls).await.map_err(dialpool_engine::Error::from)?;
            let connection = tokio::spawn(connection);
            let report = dialpool_engine::migrate(&mut client).await?;
            drop(client);
            let _ = connection.await;
            print(
                flag.json,
                &serde_json::json!({ "database_created": created, "applied": report.applied, "already_applied": report.already_applied }),
                || {
                    if report.applied.is_empty() {
                        format!(
                            "database is up to date ({} migrations applied before)",
                            report.already_applied
                        )
                    } else {
                        format!(
                            "applied {} migration(s): {}",
                            report.applied.len(),
                            report.applied.join(", ")
                        )
                    }
                },
            )
        }
        Command::Serve(args) => serve(config, &cli.tenant, args).await,
        Command::Project(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            crate::cli_projects::project(&pool, tenant, command).await
        }
        Command::Allocate(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            crate::cli_projects::allocate(&pool, tenant, args).await
        }
        Command::Forecast(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            crate::cli_projects::forecast(&pool, tenant, args).await
        }
        Command::Explain(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            crate::cli_projects::explain(&pool, tenant, args).await
        }
        Command::Jobs(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            crate::cli_jobs::jobs(&pool, &config, tenant, command).await
        }
        Command::Sftp(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            crate::cli_sftp::sftp(&pool, tenant, command).await
        }
        Command::Demo(flag) => {
            let pool = ready_pool(&config, true).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let summaries = load_demo(&pool, tenant).await?;
            print(flag.json, &summaries, || {
                let lines: Vec<String> = summaries
                    .iter()
                    .map(|s| {
                        format!(
                            "  {:<8} {:>5} new, {:>5} already stored",
                            s.provider,
                            s.counts.inserted,
                            s.counts.total - s.counts.inserted
                        )
                    })
                    .collect();
                format!("demo data loaded:\n{}", lines.join("\n"))
            })
        }
        Command::Provider(ProviderCommand::Add(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let new = NewProvider {
                code: args.code,
                name: args.name,
                default_region: args.region.as_deref().map(Region::parse).transpose()?,
                column_mapping: args
                    .mapping
                    .as_deref()
                    .map(ColumnMapping::parse)
                    .transpose()?
                    .unwrap_or_default(),
            };
            let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let added = provider::add(&mut **client, tenant, &Actor::system("cli"), new).await?;
            print(args.json, &added, || format!("added provider {} ({})", added.code, added.name))
        }
        Command::Provider(ProviderCommand::List(flag)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let providers = provider::list(&**client, tenant).await?;
            print(flag.json, &providers, || {
                let mut out = format!("{:<20} {:<30} {:<7} {}", "CODE", "NAME", "REGION", "MAPPING");
                for p in &providers {
                    out.push_str(&format!(
                        "\n{:<20} {:<30} {:<7} {}",
                        p.code,
                        p.name,
                        p.default_region.as_deref().unwrap_or("-"),
                        if p.column_mapping.is_empty() {
                            "auto".to_owned()
                        } else {
                            p.column_mapping.to_string()
                        }
                    ));
                }
                out
            })
        }
        Command::Import(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let options = args.options.import_options(Some(&args.on_duplicate))?;
            let mut request =
                options.request(tenant, args.provider, existing_file(&args.file)?, Actor::system("cli"));
            request.rejects_path = args.options.rejects.clone();
            let progress = ImportProgress::default();
            let display = ProgressDisplay::start(&progress, args.options.json || args.options.quiet);
            let result = import::import_file(&pool, request, progress).await;
            display.stop().await;
            let summary = result?;
            print(args.options.json, &summary, || {
                let c = &summary.counts;
                let mut out = format!(
                    "imported {} (import {}, {}{}) in {:.1}s\n  rows read           {:>10}\n  inserted            {:>10}\n  updated             {:>10}\n  duplicate in file   {:>10}\n  duplicate existing  {:>10}\n  invalid             {:>10}\n  on DNC list         {:>10}",
                    summary.file,
                    summary.import_id,
                    summary.format,
                    summary.encoding.map(|e| format!(", {e}")).unwrap_or_default(),
                    summary.seconds,
                    c.total,
                    c.inserted,
                    c.updated,
                    c.duplicate_in_file,
                    c.duplicate_existing,
                    c.invalid,
                    c.dnc
                );
                if let Some(path) = &summary.rejects_file {
                    out.push_str(&format!("\n  rejects: {path}"));
                }
                out
            })
        }
        Command::Outcomes(OutcomesCommand::Import(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let request = dialing::files::OutcomeFileRequest {
                tenant,
                scope: dialpool_engine::platform::access::Scope::All,
                display_name: None,
                path: existing_file(&args.file)?,
                format: dialing::files::Format::parse(&args.format)?,
                time_zone: args.time_zone.clone(),
                region: args.region.as_deref().map(Region::parse).transpose()?,
                project_id: args.project,
                actor: Actor::system("cli"),
            };
            let summary = dialing::files::import(&pool, request).await?;
            print(args.json, &summary, || {
                let s = &summary.applied;
                let mut out = format!(
                    "outcomes from {}: {} applied, {} already stored, {} rejected (of {} rows); {} numbers released, {} added to DNC",
                    summary.file, s.applied, s.duplicates, s.rejected, s.received, s.released, s.dnc_added
                );
                for r in &s.rejections {
                    out.push_str(&format!("\n  row {}: {}", r.line, r.reason));
                }
                out
            })
        }
        Command::Conversion(ConversionCommand::Refresh(args)) => {
            let pool = ready_pool(&config, false).await?;
            let summary = dialpool_engine::insight::conversion::refresh(&pool, args.full).await?;
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
        Command::Conversion(ConversionCommand::Report(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let query = dialpool_engine::insight::conversion::ConversionQuery {
                by: args.by.clone(),
                from: args.from,
                to: args.to,
                project_id: args.project,
                ..Default::default()
            };
            let report =
                dialpool_engine::insight::conversion::report(&**client, tenant, None, &query).await?;
            print(args.json, &report, || {
                let rate =
                    |r: Option<f64>| r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "-".into());
                let mut lines = vec![format!(
                    "{:<32} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
                    "group", "allocated", "dialed", "contacted", "success", "conv.", "contact"
                )];
                for row in report.rows.iter().chain(std::iter::once(&report.totals)) {
                    let label =
                        if row.labels.is_empty() { "total".to_owned() } else { row.labels.join(" / ") };
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
        Command::Export(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
            let statuses = dialpool_engine::pool::status::list(&**client, tenant).await?;
            let status_id = |code: &Option<String>| -> Result<Option<i16>, dialpool_engine::Error> {
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
                Some(code) => Some(
                    client
                        .query_opt(
                            "SELECT id FROM geos WHERE tenant_id = $1 AND code = $2",
                            &[&tenant.0, code],
                        )
                        .await
                        .map_err(dialpool_engine::Error::from)?
                        .ok_or_else(|| dialpool_engine::Error::NotFound { entity: "geo", key: code.clone() })?
                        .get::<_, i64>(0),
                ),
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
            let summary = dialpool_engine::delivery::export::export(&pool, request).await?;
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
        Command::Dnc(DncCommand::Import(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            let options = args.options.import_options(None)?;
            let request = DncImportRequest {
                tenant,
                path: existing_file(&args.file)?,
                display_name: None,
                source: options.source(),
                region: options.region,
                mapping: options.mapping,
                reason: args.reason,
                rejects_path: args.options.rejects.clone(),
                actor: Actor::system("cli"),
            };
            let progress = ImportProgress::default();
            let display = ProgressDisplay::start(&progress, args.options.json || args.options.quiet);
            let result = dnc::import_file(&pool, request, progress).await;
            display.stop().await;
            let summary = result?;
            print(args.options.json, &summary, || {
                format!(
                    "DNC list: {} added, {} already listed, {} duplicate in file, {} invalid (of {} rows){}",
                    summary.added,
                    summary.already_listed,
                    summary.duplicate_in_file,
                    summary.invalid,
                    summary.total,
                    summary.rejects_file.as_ref().map(|p| format!("; rejects: {p}")).unwrap_or_default()
                )
            })
        }
    }
}

impl FileOptions {
    /// The options as every way in reads them (the upload form, SFTP, jobs).
    fn import_options(&self, on_duplicate: Option<&str>) -> anyhow::Result<ImportOptions> {
        Ok(ImportOptions::from_text(
            Some(&self.format),
            self.encoding.clone(),
            self.sheet.clone(),
            self.region.as_deref(),
            self.mapping.as_deref(),
            on_duplicate,
        )?)
    }
}

fn existing_file(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    if !path.is_file() {
        return Err(dialpool_engine::Error::invalid(
            "file",
            format!("{} does not exist or is not a file", path.display()),
        )
        .into());
    }
    Ok(path.to_owned())
}

pub(crate) fn print<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", human());
    }
    Ok(())
}

/// A pool on a database whose schema is current. `migrate` creates and migrates it
/// (serve, demo); otherwise a missing schema is an error that says what to run.
async fn ready_pool(
    config: &tokio_postgres::Config,
    migrate: bool,
) -> anyhow::Result<deadpool_postgres::Pool> {
    sized_pool(config, migrate, 4).await
}

async fn sized_pool(
    config: &tokio_postgres::Config,
    migrate: bool,
    pool_size: usize,
) -> anyhow::Result<deadpool_postgres::Pool> {
    db::ensure_database(config).await?;
    let pool = db::pool(config.clone(), pool_size)?;
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    if migrate {
        dialpool_engine::migrate(&mut client).await?;
    } else if !db::migrations_current(&client).await? {
        return Err(dialpool_engine::Error::invalid(
            "database",
            "its schema is missing or out of date: run `dialpool migrate`",
        )
        .into());
    }
    Ok(pool)
}

async fn find_tenant(pool: &deadpool_postgres::Pool, slug: &str) -> anyhow::Result<TenantId> {
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    Ok(tenant::find_by_slug(&**client, slug).await?)
}

/// The demo's administrator; only `serve --demo` creates it, on a database with no users.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.dialpool.test";
pub const DEMO_ADMIN_PASSWORD: &str = "demo-password-1";

/// (provider code, name, default region, file name, contents)
const DEMO_FILES: [(&str, &str, &str, &str, &str); 3] = [
    ("demo", "Demo Leads", "RU", "demo-numbers.csv", include_str!("../../fixtures/demo/numbers.csv")),
    ("leadco", "LeadCo", "RU", "leadco.csv", include_str!("../../fixtures/demo/leadco.csv")),
    ("callpro", "CallPro", "KZ", "callpro.csv", include_str!("../../fixtures/demo/callpro.csv")),
];

/// Regional geos the demo files name (the countries are seeded with every tenant).
const DEMO_GEOS: [(&str, &str, &str, &str); 3] = [
    ("RU", "MOW", "Moscow", "Europe/Moscow"),
    ("RU", "SPE", "Saint Petersburg", "Europe/Moscow"),
    ("RU", "NVS", "Novosibirsk", "Asia/Novosibirsk"),
];

async fn load_demo(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
) -> anyhow::Result<Vec<import::ImportSummary>> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let actor = Actor::system("demo");
    let ignore_existing = |result: Result<(), dialpool_engine::Error>| match result {
        Err(e) if e.kind() != ErrorKind::Conflict => Err(e),
        _ => Ok(()),
    };
    for (country, region, name, zone) in DEMO_GEOS {
        let geo = dialpool_engine::intake::geo::NewGeo {
            country: country.into(),
            region: Some(region.into()),
            name: name.into(),
            time_zone: zone.into(),
        };
        ignore_existing(
            dialpool_engine::intake::geo::create(&mut **client, tenant, &actor, &geo).await.map(|_| ()),
        )?;
    }
    let dir = std::env::temp_dir().join(format!("dialpool-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating a temporary directory for the demo files")?;
    let mut summaries = Vec::new();
    for (code, name, region, file, contents) in DEMO_FILES {
        let new = NewProvider {
            code: code.into(),
            name: name.into(),
            default_region: Some(Region::parse(region)?),
            column_mapping: ColumnMapping::default(),
        };
        ignore_existing(provider::add(&mut **client, tenant, &actor, new).await.map(|_| ()))?;
        let path = dir.join(file);
        std::fs::write(&path, contents).context("writing a demo file")?;
        let request = ImportRequest {
            tenant,
            provider_code: code.into(),
            path: path.clone(),
            display_name: Some(file.into()),
            source: SourceOptions::default(),
            region: None,
            mapping: ColumnMapping::default(),
            on_duplicate: OnDuplicate::Update,
            rejects_path: Some(dir.join(format!("{file}.rejects.csv"))),
            actor: actor.clone(),
            batch_rows: None,
        };
        let summary = import::import_file(pool, request, ImportProgress::default()).await;
        match summary {
            Ok(summary) => summaries.push(summary),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summaries)
}

async fn serve(config: tokio_postgres::Config, tenant: &str, args: ServeArgs) -> anyhow::Result<()> {
    let pool = sized_pool(&config, true, args.db_pool_size).await?;
    let (admin_email, admin_password) = if args.demo {
        (DEMO_ADMIN_EMAIL.to_owned(), Some(DEMO_ADMIN_PASSWORD.to_owned()))
    } else {
        (args.admin_email.clone(), args.admin_password.clone())
    };
    {
        let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
        match access::ensure_first_admin(&mut **client, &admin_email, admin_password.as_deref()).await? {
            Some((email, Some(password))) => eprintln!(
                "created the administrator {email} with the one-time password {password} (it must be changed at first sign-in; it is not shown again)"
            ),
            Some((email, None)) => eprintln!("created the administrator {email}"),
            None => {}
        }
    }
    if args.demo {
        let tenant = find_tenant(&pool, tenant).await?;
        let summaries = load_demo(&pool, tenant).await?;
        tracing::info!(
            inserted = summaries.iter().map(|s| s.counts.inserted).sum::<i64>(),
            "demo data loaded"
        );
        eprintln!("demo: sign in as {DEMO_ADMIN_EMAIL} with the password {DEMO_ADMIN_PASSWORD}");
    }
    let http_config = crate::http::HttpConfig {
        data_dir: args.data_dir.clone(),
        max_upload_bytes: args.max_upload_mb.saturating_mul(1024 * 1024),
        secure_cookies: args.secure_cookies,
        exports_keep: chrono::Duration::hours(i64::from(args.exports_keep_hours)),
    };
    // The defaults exist before the first request, so they can be listed and edited at once.
    {
        let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
        dialpool_engine::platform::schedule::ensure_defaults(&**client).await?;
    }
    let (stop_jobs, jobs_stopping) = tokio::sync::watch::channel(false);
    let stopped = |mut signal: tokio::sync::watch::Receiver<bool>| async move {
        let _ = signal.wait_for(|stop| *stop).await;
    };
    let worker_task = (args.jobs_concurrency > 0).then(|| {
        let mut worker = dialpool_jobs::WorkerConfig::new(args.data_dir.clone());
        worker.concurrency = args.jobs_concurrency;
        worker.lock_for = Duration::from_secs(args.jobs_lock_s.max(3));
        worker.listen = Some(config.clone());
        tokio::spawn(dialpool_jobs::Worker::new(pool.clone(), worker).run(stopped(jobs_stopping.clone())))
    });
    let ticker_task = (args.schedule_tick_s > 0).then(|| {
        let every = Duration::from_secs(args.schedule_tick_s);
        tokio::spawn(dialpool_jobs::ticker::run(pool.clone(), every, stopped(jobs_stopping.clone())))
    });
    let sender_config = SenderConfig {
        allow_private: args.webhooks_allow_private,
        retry_base: Duration::try_from_secs_f64(args.webhooks_retry_base_s)
            .context("--webhooks-retry-base-s must be a positive number of seconds")?,
        ..SenderConfig::default()
    };
    let sender = Sender::new(pool.clone(), sender_config)?;
    let (stop_sender, sender_stopped) = tokio::sync::oneshot::channel::<()>();
    let sender_task = tokio::spawn(sender.run(async {
        let _ = sender_stopped.await;
    }));
    let sftp_task = match args.sftp_listen.as_str() {
        "off" => None,
        address => {
            let listen: SocketAddr = address.parse().map_err(|_| {
                dialpool_engine::Error::invalid(
                    "sftp-listen",
                    format!("'{address}' is not an address:port or off"),
                )
            })?;
            let bound = dialpool_sftp::bind(
                pool.clone(),
                dialpool_sftp::SftpConfig { listen, data_dir: args.data_dir.clone() },
            )
            .await?;
            let address = bound.local_addr()?;
            tracing::info!(%address, "SFTP server listening");
            eprintln!("dialpool SFTP for partners on {address}");
            Some(tokio::spawn(async move {
                if let Err(error) = bound.run().await {
                    tracing::error!(%error, "the SFTP server stopped");
                }
            }))
        }
    };
    let app = crate::http::router(crate::http::AppState::new(pool, http_config))
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    eprintln!("dialpool is serving on http://{}", listener.local_addr()?);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving HTTP");
    // A send in flight finishes and is recorded; what is still due waits in the table.
    let _ = stop_sender.send(());
    let _ = sender_task.await;
    if let Some(task) = sftp_task {
        task.abort();
    }
    // Running jobs stop and go back to the queue for another server (or the next start).
    let _ = stop_jobs.send(true);
    for task in [worker_task, ticker_task].into_iter().flatten() {
        let _ = task.await;
    }
    served
}

/// A progress bar on a terminal; a line every few seconds elsewhere (logs, CI).
struct ProgressDisplay {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressDisplay {
    fn start(progress: &ImportProgress, silent: bool) -> Self {
        if silent {
            return ProgressDisplay { stop: None, task: None };
        }
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let progress = progress.clone();
        let terminal = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let bar = if terminal { ProgressBar::new(0) } else { ProgressBar::hidden() };
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut last_line = Instant::now();
            loop {
                let total = progress.read.bytes_total.load(Ordering::Relaxed);
                let read = progress.read.bytes_read.load(Ordering::Relaxed);
                let rows = progress.rows_read.load(Ordering::Relaxed);
                let merged = progress.rows_merged.load(Ordering::Relaxed);
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                let message = format!("{rows} rows read, {merged} stored, {rate:.0} rows/s");
                if terminal {
                    bar.set_length(total.max(read));
                    bar.set_position(read.min(total.max(read)));
                    bar.set_message(message);
                } else if last_line.elapsed() >= Duration::from_secs(5) {
                    eprintln!("import: {message}");
                    last_line = Instant::now();
                }
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            bar.finish_and_clear();
        });
        ProgressDisplay { stop: Some(stop), task: Some(task) }
    }

    /// Clears the bar before the summary is printed.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
