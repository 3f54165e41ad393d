//! The `dialpool` command line: every command calls the same engine function the API
//! calls. Output is for people by default and JSON with `--json`; exit codes say what kind
//! of failure happened (see [`exit_code`]).

use clap::{Parser, Subcommand};
use dialpool_engine::ErrorKind;
use dialpool_engine::platform::db;

mod admin;
pub(crate) mod common;
mod compliance;
mod exports;
mod groups;
mod jobs;
mod numbers;
mod outcomes;
mod projects;
mod reports;
mod scorecard;
mod sftp;

use crate::connect::{find_tenant, ready_pool};
pub use crate::serve::ServeArgs;
pub use common::JsonFlag;
use exports::ExportArgs;
use numbers::{DncImportArgs, ImportArgs, ProviderAddArgs};
use outcomes::OutcomesImportArgs;
use reports::{ConversionRefreshArgs, ConversionReportArgs};

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
    Project(projects::ProjectCommand),
    /// Hand numbers from the pool to projects for a day (or preview it with --dry-run).
    Allocate(projects::AllocateArgs),
    /// How many eligible numbers each project's pool holds and how many days they last.
    Forecast(projects::ForecastArgs),
    /// Where a number is, its history, and why each project can or cannot take it.
    Explain(projects::ExplainArgs),
    /// Households and related numbers: rules that group numbers by shared attributes.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// The job queue: list, run, cancel and retry jobs, or run a worker.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Partner accounts of the SFTP server, and their uploads.
    #[command(subcommand)]
    Sftp(sftp::SftpCommand),
    /// Erase numbers (GDPR Art. 17): gone with their attributes, events and calls made
    /// anonymous, kept export files withdrawn; a tombstone refuses them in every later import.
    Erase(compliance::EraseArgs),
    /// Tombstones of erased numbers: show one, or lift it when the person asks to be called again.
    #[command(subcommand)]
    Tombstone(compliance::TombstoneCommand),
    /// Subject access (GDPR Art. 15): everything held about a number, as JSON.
    #[command(subcommand)]
    Subject(compliance::SubjectCommand),
    /// How long events, the audit log, call outcomes and export files are kept; drop what is past it.
    #[command(subcommand)]
    Retention(compliance::RetentionCommand),
    /// Compliance reports: leases and calls by the recipient's hour, gates, DNC list ages, erasures.
    #[command(subcommand)]
    Compliance(compliance::ComplianceCommand),
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Add a provider.
    Add(ProviderAddArgs),
    /// List providers.
    List(JsonFlag),
    /// What each provider's numbers were worth: delivery, duplicates, DNC, contact and
    /// success rates, cost per success, against the average, with a trend.
    Scorecard(scorecard::ScorecardArgs),
    /// Record what a batch (an import) cost, per number and/or for the whole file.
    Price(scorecard::PriceArgs),
    /// Show or set which numbers a provider takes back, and for how long after delivery.
    Returns(scorecard::ReturnRulesArgs),
    /// Send the provider its bad numbers back as a file, credited; they leave every pool.
    Return(scorecard::ReturnArgs),
}

#[derive(Debug, Subcommand)]
pub enum DncCommand {
    /// Add the numbers of a file to the do-not-call list.
    Import(DncImportArgs),
    /// The do-not-call lists by source, their age and whether they are stale.
    Lists(JsonFlag),
    /// Create or change a list: its country, age limit, and whether a stale list blocks leases.
    ListSet(numbers::DncListSetArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConversionCommand {
    /// Recompute the aggregates the calls, events and exports since the last refresh
    /// touch (or all of them with --full).
    Refresh(ConversionRefreshArgs),
    /// Conversion grouped by dimensions over a date range, with totals.
    Report(ConversionReportArgs),
}

#[derive(Debug, Subcommand)]
pub enum OutcomesCommand {
    /// Apply a file of call outcomes; calls already stored (by call id) change nothing.
    Import(OutcomesImportArgs),
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
        Command::Migrate(flag) => admin::migrate(&config, &cli.tenant, flag).await,
        Command::Serve(args) => crate::serve::serve(config, &cli.tenant, args).await,
        Command::Project(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            projects::project(&pool, tenant, command).await
        }
        Command::Allocate(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            projects::allocate(&pool, tenant, args).await
        }
        Command::Forecast(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            projects::forecast(&pool, tenant, args).await
        }
        Command::Explain(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            projects::explain(&pool, tenant, args).await
        }
        Command::Jobs(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            jobs::jobs(&pool, &config, tenant, command).await
        }
        Command::Sftp(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            sftp::sftp(&pool, tenant, command).await
        }
        Command::Erase(args) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            compliance::erase(&pool, tenant, args).await
        }
        Command::Tombstone(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            compliance::tombstone(&pool, tenant, command).await
        }
        Command::Subject(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            compliance::subject(&pool, tenant, command).await
        }
        Command::Retention(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            compliance::retention_command(&pool, tenant, command).await
        }
        Command::Groups(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            groups::groups_command(&pool, tenant, command).await
        }
        Command::Compliance(command) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            compliance::compliance_command(&pool, tenant, command).await
        }
        Command::Demo(flag) => admin::demo(&config, &cli.tenant, flag).await,
        Command::Provider(ProviderCommand::Add(args)) => {
            numbers::provider_add(&config, &cli.tenant, args).await
        }
        Command::Provider(ProviderCommand::List(flag)) => {
            numbers::provider_list(&config, &cli.tenant, flag).await
        }
        Command::Provider(ProviderCommand::Scorecard(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            scorecard::scorecard(&pool, tenant, args).await
        }
        Command::Provider(ProviderCommand::Price(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            scorecard::price(&pool, tenant, args).await
        }
        Command::Provider(ProviderCommand::Returns(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            scorecard::return_rules(&pool, tenant, args).await
        }
        Command::Provider(ProviderCommand::Return(args)) => {
            let pool = ready_pool(&config, false).await?;
            let tenant = find_tenant(&pool, &cli.tenant).await?;
            scorecard::create_return(&pool, tenant, args).await
        }
        Command::Import(args) => numbers::import(&config, &cli.tenant, args).await,
        Command::Outcomes(OutcomesCommand::Import(args)) => {
            outcomes::outcomes_import(&config, &cli.tenant, args).await
        }
        Command::Conversion(ConversionCommand::Refresh(args)) => {
            reports::conversion_refresh(&config, &cli.tenant, args).await
        }
        Command::Conversion(ConversionCommand::Report(args)) => {
            reports::conversion_report(&config, &cli.tenant, args).await
        }
        Command::Export(args) => exports::export(&config, &cli.tenant, args).await,
        Command::Dnc(DncCommand::Import(args)) => numbers::dnc_import(&config, &cli.tenant, args).await,
        Command::Dnc(DncCommand::Lists(flag)) => numbers::dnc_lists(&config, &cli.tenant, flag).await,
        Command::Dnc(DncCommand::ListSet(args)) => numbers::dnc_list_set(&config, &cli.tenant, args).await,
    }
}
