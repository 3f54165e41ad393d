//! `dialpool provider scorecard | price | returns | return`: what providers' numbers are
//! worth, what they cost, and sending the bad ones back.

use std::path::PathBuf;

use clap::Args;
use dialpool_engine::TenantId;
use dialpool_engine::insight::scorecard::{self, ScorecardQuery};
use dialpool_engine::intake::import::history::{self, Price};
use dialpool_engine::intake::provider;
use dialpool_engine::intake::returns::{self, ReturnRequest, ReturnRules};
use dialpool_engine::platform::audit::Actor;

use super::common::print;

#[derive(Debug, Args)]
pub struct ScorecardArgs {
    /// Rows per `provider`, or per provider and `month`, `geo`, `batch` or number `block`.
    #[arg(long, default_value = "provider", value_parser = ["provider", "month", "geo", "batch", "block"])]
    pub by: String,
    /// With `--by block`: blocks by their first 1 to 6 digits (default 4).
    #[arg(long)]
    pub digits: Option<u32>,
    /// With `--by block`: only blocks starting with these digits, e.g. `+7701`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Only this provider (its code).
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// Write the rows as CSV or XLSX (by the extension) instead of printing them.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PriceArgs {
    /// The import (batch) id, as `import` printed it.
    pub import_id: i64,
    /// Price per row delivered.
    #[arg(long)]
    pub per_number: Option<f64>,
    /// Price of the whole batch.
    #[arg(long)]
    pub batch: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReturnRulesArgs {
    /// The provider's code.
    pub provider: String,
    /// Days after delivery a number may be returned; with --statuses sets the rules.
    #[arg(long)]
    pub window_days: Option<i32>,
    /// Status codes that qualify, comma-separated, e.g. `invalid,wrong_number`
    /// (default `invalid` unless only --refused is given).
    #[arg(long, value_delimiter = ',', requires = "window_days")]
    pub statuses: Vec<String>,
    /// Rows the import refused that qualify too: `dnc_at_delivery`, `duplicate` (a number
    /// this provider sold before), comma-separated.
    #[arg(long, value_delimiter = ',', requires = "window_days")]
    pub refused: Vec<String>,
    /// The provider takes no returns any more.
    #[arg(long, conflicts_with_all = ["window_days", "statuses", "refused"])]
    pub clear: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReturnArgs {
    /// The provider's code.
    pub provider: String,
    /// `csv` or `xlsx`.
    #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx"])]
    pub format: String,
    /// Drop the file in this partner account's SFTP outbox (an account of the provider).
    #[arg(long, conflicts_with = "sftp_remote")]
    pub sftp_account: Option<i64>,
    /// Push the file to this remote SFTP host (one added with --direction push_exports).
    #[arg(long)]
    pub sftp_remote: Option<i64>,
    /// Count what would go back; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, env = "DIALPOOL_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_else(|| "—".into())
}
fn num(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
}
fn money(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())
}

pub async fn scorecard(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: ScorecardArgs,
) -> anyhow::Result<()> {
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let provider_id = match &args.provider {
        Some(code) => Some(provider::find_by_code(&**client, tenant, code).await?.id),
        None => None,
    };
    let query = ScorecardQuery {
        by: Some(args.by.clone()),
        digits: args.digits,
        prefix: args.prefix.clone(),
        from: args.from,
        to: args.to,
        provider_id,
        format: None,
    };
    let card = scorecard::scorecard(&**client, tenant, &query).await?;
    if let Some(out) = &args.output {
        let bytes = match out.extension().and_then(|e| e.to_str()) {
            Some("xlsx") => scorecard::to_xlsx(&card)?,
            Some("csv") => scorecard::to_csv(&card)?,
            _ => anyhow::bail!("{}: name the file .csv or .xlsx", out.display()),
        };
        std::fs::write(out, bytes).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
        return print(args.json, &serde_json::json!({"file": out, "rows": card.rows.len()}), || {
            format!("wrote {} rows to {}", card.rows.len(), out.display())
        });
    }
    print(args.json, &card, || {
        let mut out = format!(
            "{:<14} {:<12} {:>9} {:>8} {:>6} {:>6} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7} {:>9} {:>9} {:>7}",
            "PROVIDER",
            "",
            "DELIVERED",
            "VALID%",
            "DUP",
            "DNC",
            "RETURNED",
            "ALLOCATED",
            "CONTACT%",
            "SUCCESS%",
            "MED ATT",
            "MED H",
            "COST/SUCC",
            "VS AVG",
            "TREND"
        );
        for r in card.rows.iter().chain(std::iter::once(&card.tenant)) {
            out.push_str(&format!(
                "\n{:<14} {:<12} {:>9} {:>8} {:>6} {:>6} {:>8} {:>9} {:>8} {:>8} {:>7} {:>7} {:>9} {:>9} {:>7}",
                r.provider,
                r.label.clone().unwrap_or_default(),
                num(r.delivered),
                pct(r.valid_rate),
                num(r.duplicate_in_file.zip(r.duplicate_existing).map(|(a, b)| a + b)),
                num(r.dnc),
                num(r.returned),
                num(r.allocated),
                pct(r.contact_rate),
                pct(r.success_rate),
                r.median_attempts.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
                r.median_hours_to_success.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
                money(r.cost_per_success),
                r.vs_average.map(|v| format!("{v:.2}×")).unwrap_or_else(|| "—".into()),
                r.trend.map(|v| format!("{v:+.2}pp")).unwrap_or_else(|| "—".into()),
            ));
        }
        out
    })
}

pub async fn price(pool: &deadpool_postgres::Pool, tenant: TenantId, args: PriceArgs) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let price = Price { price_per_number: args.per_number, price_batch: args.batch };
    let record =
        history::set_price(&mut **client, tenant, &Actor::system("cli"), None, args.import_id, price).await?;
    print(args.json, &record, || {
        format!(
            "import {} ({}, {} rows): {} per number, {} for the batch",
            record.id,
            record.file_name,
            record.total,
            money(record.price_per_number),
            money(record.price_batch)
        )
    })
}

pub async fn return_rules(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: ReturnRulesArgs,
) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let provider = provider::find_by_code(&**client, tenant, &args.provider).await?;
    let rules = if args.clear {
        returns::set_rules(&mut **client, tenant, &Actor::system("cli"), provider.id, None).await?
    } else if let Some(window_days) = args.window_days {
        let statuses = if args.statuses.is_empty() && args.refused.is_empty() {
            vec!["invalid".to_owned()]
        } else {
            args.statuses.clone()
        };
        let rules = ReturnRules { window_days, statuses, refused: args.refused.clone() };
        returns::set_rules(&mut **client, tenant, &Actor::system("cli"), provider.id, Some(rules)).await?
    } else {
        returns::rules_of(&**client, tenant, provider.id).await?
    };
    print(args.json, &rules, || match &rules {
        None => format!("{} takes no returns", provider.code),
        Some(r) => {
            let mut what = Vec::new();
            if !r.statuses.is_empty() {
                what.push(format!("in status {}", r.statuses.join(", ")));
            }
            if !r.refused.is_empty() {
                what.push(format!("refused at delivery as {}", r.refused.join(", ")));
            }
            format!(
                "{} takes back numbers within {} days of delivery {}",
                provider.code,
                r.window_days,
                what.join(" or ")
            )
        }
    })
}

pub async fn create_return(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: ReturnArgs,
) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let provider = provider::find_by_code(&**client, tenant, &args.provider).await?;
    let request = ReturnRequest {
        provider_id: provider.id,
        format: Some(args.format.clone()),
        sftp_account_id: args.sftp_account,
        sftp_remote_id: args.sftp_remote,
        dry_run: args.dry_run,
    };
    let summary =
        returns::create(&mut **client, tenant, &Actor::system("cli"), &args.data_dir, &request).await?;
    print(args.json, &summary, || {
        let reasons: Vec<String> = summary.by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let verb = if summary.dry_run { "would return" } else { "returned" };
        let mut out = format!(
            "{verb} {} numbers to {} ({}), credit {:.2}",
            summary.numbers,
            provider.code,
            if reasons.is_empty() { "none qualify".into() } else { reasons.join(", ") },
            summary.credit
        );
        if let (Some(id), Some(file)) = (summary.return_id, &summary.file) {
            out.push_str(&format!("\nreturn {id}: {file}"));
        }
        out
    })
}
