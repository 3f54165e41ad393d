//! `dialpool erase`, `dialpool tombstone`, `dialpool subject`: erasure with tombstones
//! and subject access, the same engine calls the API makes.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use dialpool_engine::TenantId;
use dialpool_engine::compliance::erasure::{self, ErasureRequest, LiftInput};
use dialpool_engine::compliance::subject;
use dialpool_engine::intake::phone::{self, Region};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::secret::SecretKey;
use indicatif::{ProgressBar, ProgressStyle};

use super::common::{JsonFlag, SecretArgs, existing_file, print};

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// Numbers to erase (E.164 recommended).
    pub phones: Vec<String>,
    /// A file of numbers: one per line, or a CSV whose first column holds them (a header
    /// line is skipped).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Region for numbers written without a country code, e.g. RU.
    #[arg(long)]
    pub region: Option<String>,
    /// Why; a later import's rejects file reads "erased on DATE <reason>".
    #[arg(long, default_value = erasure::DEFAULT_REASON)]
    pub reason: String,
    /// When the subject asked (RFC 3339); now by default.
    #[arg(long)]
    pub requested_at: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum TombstoneCommand {
    /// Whether a number was erased, when and why.
    Show(TombstoneShowArgs),
    /// Let an erased number come back: the person asked to be contacted again.
    Lift(TombstoneLiftArgs),
}

#[derive(Debug, Args)]
pub struct TombstoneShowArgs {
    pub phone: String,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct TombstoneLiftArgs {
    pub phone: String,
    /// Why the number may come back.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum SubjectCommand {
    /// Everything held about a number, as JSON (GDPR Art. 15).
    Export(SubjectExportArgs),
}

#[derive(Debug, Args)]
pub struct SubjectExportArgs {
    pub phone: String,
    /// Region for a number written without a country code.
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub secret: SecretArgs,
}

fn region(text: Option<&str>) -> anyhow::Result<Option<Region>> {
    Ok(text.filter(|r| !r.is_empty()).map(Region::parse).transpose()?)
}

/// The numbers of the arguments and the file; any that does not read is named with its
/// line, and nothing is erased.
fn numbers(args: &EraseArgs, region: Option<Region>) -> anyhow::Result<Vec<i64>> {
    let mut phones = Vec::new();
    let mut bad = Vec::new();
    for raw in &args.phones {
        match phone::parse_input("phones", raw, region) {
            Ok(p) => phones.push(p),
            Err(_) => bad.push(format!("argument '{raw}'")),
        }
    }
    if let Some(path) = &args.file {
        let file = std::fs::File::open(existing_file(path)?)?;
        for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| {
                dialpool_engine::Error::invalid("file", format!("line {}: not UTF-8 text ({e})", index + 1))
            })?;
            let cell = line.split([',', ';', '\t']).next().unwrap_or("").trim().trim_matches('"');
            if cell.is_empty() {
                continue;
            }
            match phone::parse_input("phones", cell, region) {
                Ok(p) => phones.push(p),
                // A header is a first line that holds no number.
                Err(_) if index == 0 => {}
                Err(_) => bad.push(format!("line {} '{cell}'", index + 1)),
            }
        }
    }
    if !bad.is_empty() {
        let shown: Vec<&str> = bad.iter().take(5).map(String::as_str).collect();
        return Err(dialpool_engine::Error::invalid(
            "phones",
            format!(
                "{} value(s) are not phone numbers ({}{}); nothing was erased",
                bad.len(),
                shown.join(", "),
                if bad.len() > 5 { ", …" } else { "" }
            ),
        )
        .into());
    }
    if phones.is_empty() {
        return Err(
            dialpool_engine::Error::invalid("phones", "give numbers or --file; nothing was erased").into()
        );
    }
    Ok(phones)
}

pub(super) async fn erase(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: EraseArgs,
) -> anyhow::Result<()> {
    let phones = numbers(&args, region(args.region.as_deref())?)?;
    let key = SecretKey::load(&args.secret.data_dir)?;
    let total = phones.len() as u64;
    let done = Arc::new(AtomicU64::new(0));
    let bar = if !args.json.json && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} numbers erased",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let ticker = bar.clone().map(|bar| {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                bar.set_position(done.load(Ordering::Relaxed));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    });
    let request = ErasureRequest {
        tenant,
        phones,
        reason: args.reason.clone(),
        requested_at: args.requested_at,
        actor: Actor::system("cli"),
    };
    let result = erasure::erase(pool, &args.secret.data_dir, &key, request, Some(&done)).await;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    print(args.json.json, &summary, || {
        format!(
            "erased {} of {} number(s) (request {}; the rest were not stored); {} export file(s) withdrawn; \
             tombstones refuse them in every later import",
            summary.found, summary.numbers, summary.request, summary.exports_withdrawn
        )
    })
}

pub(super) async fn tombstone(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: TombstoneCommand,
) -> anyhow::Result<()> {
    match command {
        TombstoneCommand::Show(args) => {
            let key = SecretKey::load(&args.secret.data_dir)?;
            let e164 = phone::parse_input("phone", &args.phone, None)?;
            let client = pool.get().await?;
            let state = erasure::tombstone(&**client, tenant, &key, e164).await?.ok_or_else(|| {
                dialpool_engine::Error::NotFound { entity: "tombstone", key: phone::format_e164(e164) }
            })?;
            print(args.json.json, &state, || match (&state.lifted_at, &state.lift_reason) {
                (Some(at), reason) => format!(
                    "erased on {} {}; lifted on {} ({})",
                    state.erased_at.format("%Y-%m-%d"),
                    state.reason,
                    at.format("%Y-%m-%d"),
                    reason.as_deref().unwrap_or("")
                ),
                (None, _) => format!("erased on {} {}", state.erased_at.format("%Y-%m-%d"), state.reason),
            })
        }
        TombstoneCommand::Lift(args) => {
            let key = SecretKey::load(&args.secret.data_dir)?;
            let mut client = pool.get().await?;
            let input = LiftInput { phone: args.phone.clone(), reason: args.reason.clone() };
            let state = erasure::lift(&mut **client, tenant, &key, &input, &Actor::system("cli")).await?;
            print(args.json.json, &state, || {
                format!(
                    "lifted: {} may be imported again (erased on {})",
                    args.phone,
                    state.erased_at.format("%Y-%m-%d")
                )
            })
        }
    }
}

pub(super) async fn subject(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: SubjectCommand,
) -> anyhow::Result<()> {
    match command {
        SubjectCommand::Export(args) => {
            let key = SecretKey::load(&args.secret.data_dir)?;
            let client = pool.get().await?;
            let report = subject::report(
                &**client,
                tenant,
                &key,
                &args.phone,
                region(args.region.as_deref())?,
                &Actor::system("cli"),
            )
            .await?;
            // The report is JSON whatever the terminal: it is what the subject receives.
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// The tenant's windows, each log's monthly partitions and the next drop.
    Show(JsonFlag),
    /// Change windows; flags not given stay as they are, 0 keeps for ever.
    Set(RetentionSetArgs),
    /// Drop the monthly partitions past every tenant's window now (the daily retention job does this).
    Run(RetentionRunArgs),
}

#[derive(Debug, Args)]
pub struct RetentionSetArgs {
    /// Months number events are kept.
    #[arg(long)]
    pub events_months: Option<i32>,
    /// Months the audit log is kept (12 at least).
    #[arg(long)]
    pub audit_months: Option<i32>,
    /// Months call outcomes are kept.
    #[arg(long)]
    pub outcomes_months: Option<i32>,
    /// Days a kept export file stays downloadable.
    #[arg(long)]
    pub export_files_days: Option<i32>,
    /// Write this tenant's rows of each dropped partition to Parquet first.
    #[arg(long)]
    pub archive_parquet: Option<bool>,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct RetentionRunArgs {
    /// Say what would be dropped; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub secret: SecretArgs,
    #[command(flatten)]
    pub json: JsonFlag,
}

fn window(months: Option<i32>) -> String {
    months.map_or_else(|| "for ever".to_owned(), |m| format!("{m} months"))
}

pub(super) async fn retention_command(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: RetentionCommand,
) -> anyhow::Result<()> {
    use dialpool_engine::compliance::retention;
    match command {
        RetentionCommand::Show(flag) => {
            let client = pool.get().await?;
            let overview = retention::overview(&**client, tenant).await?;
            print(flag.json, &overview, || {
                let mut out = String::new();
                for log in &overview.logs {
                    let next = log.next_drop.as_ref().map_or_else(
                        || "nothing to drop".to_owned(),
                        |d| format!("next drop {} on {}", d.partition, d.on),
                    );
                    out.push_str(&format!(
                        "{:<14} kept {:<10} (applies: {:<10}) {} month(s) held; {next}\n",
                        log.table,
                        window(log.months),
                        window(log.effective_months),
                        log.months_held.len()
                    ));
                }
                out.trim_end().to_owned()
            })
        }
        RetentionCommand::Set(args) => {
            let mut client = pool.get().await?;
            let mut settings = retention::settings(&**client, tenant).await?;
            let or_clear = |value: Option<i32>, current: Option<i32>| match value {
                Some(0) => None,
                Some(v) => Some(v),
                None => current,
            };
            settings.events_months = or_clear(args.events_months, settings.events_months);
            settings.audit_months = or_clear(args.audit_months, settings.audit_months);
            settings.outcomes_months = or_clear(args.outcomes_months, settings.outcomes_months);
            settings.export_files_days = or_clear(args.export_files_days, settings.export_files_days);
            settings.archive_parquet = args.archive_parquet.unwrap_or(settings.archive_parquet);
            let saved = retention::set(&mut **client, tenant, &Actor::system("cli"), &settings).await?;
            print(args.json.json, &saved, || {
                format!(
                    "events {}, audit log {}, call outcomes {}, export files {}{}",
                    window(saved.events_months),
                    window(saved.audit_months),
                    window(saved.outcomes_months),
                    saved
                        .export_files_days
                        .map_or_else(|| "as each export says".to_owned(), |d| format!("{d} days")),
                    if saved.archive_parquet { "; dropped months archived to Parquet" } else { "" }
                )
            })
        }
        RetentionCommand::Run(args) => {
            let run = retention::run(pool, &args.secret.data_dir, args.dry_run, None).await?;
            print(args.json.json, &run, || {
                if run.dropped.is_empty() {
                    return "nothing is past its retention window".to_owned();
                }
                let verb = if args.dry_run { "would drop" } else { "dropped" };
                run.dropped
                    .iter()
                    .map(|d| {
                        format!(
                            "{verb} {} ({} rows){}",
                            d.partition,
                            d.rows,
                            if d.archived.is_empty() {
                                String::new()
                            } else {
                                format!(", archived to {}", d.archived.join(", "))
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// A project's compliance report for a period (JSON, CSV or XLSX).
    Report(ComplianceReportArgs),
}

#[derive(Debug, Args)]
pub struct ComplianceReportArgs {
    /// The project's id.
    #[arg(long)]
    pub project: i64,
    /// First day (YYYY-MM-DD, the project's zone).
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last day, included.
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// json (default, to standard output), csv or xlsx.
    #[arg(long, default_value = "json", value_parser = ["json", "csv", "xlsx"])]
    pub format: String,
    /// Write the report to this file instead of standard output (needed for xlsx).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub(super) async fn compliance_command(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: ComplianceCommand,
) -> anyhow::Result<()> {
    use dialpool_engine::compliance::report;
    let ComplianceCommand::Report(args) = command;
    let gates = dialpool_engine::dialing::hours::GateCache::default();
    let built = report::report(pool, &gates, tenant, args.project, args.from, args.to).await?;
    let bytes = match args.format.as_str() {
        "csv" => report::to_csv(&built)?,
        "xlsx" => report::to_xlsx(&built)?,
        _ => serde_json::to_vec_pretty(&built)?,
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .map_err(|e| dialpool_engine::Error::io(format!("writing {}", path.display()), e))?;
            eprintln!(
                "wrote {} ({} calls outside legal hours, {} erasure requests)",
                path.display(),
                built.calls_outside_hours,
                built.erasures.requests
            );
        }
        None if args.format == "xlsx" => {
            return Err(dialpool_engine::Error::invalid("out", "an xlsx report needs --out FILE").into());
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
            if args.format == "json" {
                println!();
            }
        }
    }
    Ok(())
}
