//! `dialpool provider`, `import` and `dnc import`: numbers and DNC lists coming in.

use clap::Args;
use dialpool_engine::intake::dnc::{self, DncImportRequest};
use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::reentry::ReentryRule;
use dialpool_engine::intake::import::{self, ImportOptions, ImportProgress};
use dialpool_engine::intake::phone::Region;
use dialpool_engine::intake::provider::{self, NewProvider};
use dialpool_engine::platform::audit::Actor;
use std::path::PathBuf;

use super::common::{JsonFlag, SecretArgs, existing_file, import_bar, print};
use crate::connect::{find_tenant, ready_pool};
use dialpool_engine::platform::secret::SecretKey;

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
    /// What a number stored before becomes when this provider sends it again: skip,
    /// refresh:DAYS[:SCOPE] or refresh_if_status:DAYS:CATEGORIES[:SCOPE].
    #[arg(long)]
    pub reentry: Option<String>,
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
    /// What a number stored before becomes (overrides the provider's rule): skip,
    /// refresh:DAYS[:SCOPE] or refresh_if_status:DAYS:CATEGORIES[:SCOPE]; SCOPE is
    /// system, provider or project.
    #[arg(long)]
    pub reentry: Option<String>,
    #[command(flatten)]
    pub options: FileOptions,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, Args)]
pub struct DncImportArgs {
    pub file: PathBuf,
    /// Why these numbers are listed, kept on every entry.
    #[arg(long)]
    pub reason: Option<String>,
    /// The list this file is a load of (e.g. "US national registry"): it counts as fresh
    /// again from now. Created when missing; set its age limit with `dialpool dnc list-set`.
    #[arg(long)]
    pub list: Option<String>,
    #[command(flatten)]
    pub options: FileOptions,
}

impl FileOptions {
    /// The options as every way in reads them (the upload form, SFTP, jobs).
    fn import_options(
        &self,
        on_duplicate: Option<&str>,
        reentry: Option<&str>,
    ) -> anyhow::Result<ImportOptions> {
        Ok(ImportOptions::from_text(
            Some(&self.format),
            self.encoding.clone(),
            self.sheet.clone(),
            self.region.as_deref(),
            self.mapping.as_deref(),
            on_duplicate,
            reentry,
        )?)
    }
}

pub(super) async fn provider_add(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: ProviderAddArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let new = NewProvider {
        code: args.code,
        name: args.name,
        default_region: args.region.as_deref().map(Region::parse).transpose()?,
        column_mapping: args.mapping.as_deref().map(ColumnMapping::parse).transpose()?.unwrap_or_default(),
        reentry: args.reentry.as_deref().map(|r| ReentryRule::parse("reentry", r)).transpose()?,
    };
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let added = provider::add(&mut **client, tenant, &Actor::system("cli"), new).await?;
    print(args.json, &added, || format!("added provider {} ({})", added.code, added.name))
}

pub(super) async fn provider_list(
    config: &tokio_postgres::Config,
    tenant: &str,
    flag: JsonFlag,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
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
                if p.column_mapping.is_empty() { "auto".to_owned() } else { p.column_mapping.to_string() }
            ));
        }
        out
    })
}

pub(super) async fn import(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: ImportArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let options = args.options.import_options(Some(&args.on_duplicate), args.reentry.as_deref())?;
    let mut request =
        options.request(tenant, args.provider, existing_file(&args.file)?, Actor::system("cli"));
    request.rejects_path = args.options.rejects.clone();
    // Only an existing key: an import must not create one (a new key would match no
    // tombstone; then the import is refused, saying which key to configure).
    request.secret = SecretKey::load_existing(&args.secret.data_dir)?;
    let progress = ImportProgress::default();
    let display = import_bar(&progress, args.options.json || args.options.quiet);
    let result = import::import_file(&pool, request, progress).await;
    display.stop().await;
    let summary = result?;
    print(args.options.json, &summary, || {
        let c = &summary.counts;
        let mut out = format!(
            "imported {} (import {}, {}{}) in {:.1}s\n  rows read           {:>10}\n  inserted            {:>10}\n  updated             {:>10}\n  refreshed           {:>10}\n  duplicate in file   {:>10}\n  duplicate existing  {:>10}\n  invalid             {:>10}\n  on DNC list         {:>10}\n  erased              {:>10}",
            summary.file,
            summary.import_id,
            summary.format,
            summary.encoding.map(|e| format!(", {e}")).unwrap_or_default(),
            summary.seconds,
            c.total,
            c.inserted,
            c.updated,
            c.refreshed,
            c.duplicate_in_file,
            c.duplicate_existing,
            c.invalid,
            c.dnc,
            c.erased
        );
        if let Some(path) = &summary.rejects_file {
            out.push_str(&format!("\n  rejects: {path}"));
        }
        out
    })
}

pub(super) async fn dnc_import(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: DncImportArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let options = args.options.import_options(None, None)?;
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
        list: args.list,
    };
    let progress = ImportProgress::default();
    let display = import_bar(&progress, args.options.json || args.options.quiet);
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

#[derive(Debug, Args)]
pub struct DncListSetArgs {
    /// The list's name, e.g. "US national registry".
    pub name: String,
    /// The country it covers (ISO 3166, e.g. US); every number when absent.
    #[arg(long)]
    pub country: Option<String>,
    /// Days after a load the list counts as stale (31 for the US national registry).
    #[arg(long)]
    pub max_age_days: Option<i32>,
    /// Hold back leases of the country's numbers while the list is stale.
    #[arg(long)]
    pub block_when_stale: bool,
    #[arg(long)]
    pub json: bool,
}

fn describe_list(list: &dialpool_engine::intake::dnc_list::DncList) -> String {
    let loaded = list.loaded_at.map_or_else(
        || "never loaded".to_owned(),
        |at| format!("loaded {} ({} entries)", at.format("%Y-%m-%d"), list.loaded_entries),
    );
    let limit = list.max_age_days.map_or_else(String::new, |d| format!(", stale after {d} days"));
    let state = match (list.stale, list.block_when_stale) {
        (true, true) => " — STALE: leases in its country are held back",
        (true, false) => " — STALE: load it again",
        _ => "",
    };
    format!("{} [{}] {loaded}{limit}{state}", list.name, list.country.as_deref().unwrap_or("all"))
}

pub(super) async fn dnc_lists(
    config: &tokio_postgres::Config,
    tenant: &str,
    flag: JsonFlag,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let lists = dialpool_engine::intake::dnc_list::list(&**client, tenant).await?;
    print(flag.json, &lists, || {
        if lists.is_empty() {
            "no do-not-call lists yet (load one with `dialpool dnc import FILE --list NAME`)".to_owned()
        } else {
            lists.iter().map(describe_list).collect::<Vec<_>>().join("\n")
        }
    })
}

pub(super) async fn dnc_list_set(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: DncListSetArgs,
) -> anyhow::Result<()> {
    use dialpool_engine::intake::dnc_list::{self, DncListInput};
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let input = DncListInput {
        name: args.name,
        country: args.country,
        max_age_days: args.max_age_days,
        block_when_stale: args.block_when_stale,
    };
    let list = dnc_list::set(&mut **client, tenant, &Actor::system("cli"), &input).await?;
    print(args.json, &list, || describe_list(&list))
}
