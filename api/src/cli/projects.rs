//! `dialpool project`, `allocate`, `forecast` and `explain`: the same engine calls the API
//! makes, for administrators at a terminal and for cron.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use dialpool_engine::TenantId;
use dialpool_engine::insight::explain;
use dialpool_engine::intake::phone::Region;
use dialpool_engine::intake::provider;
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::pool::allocate::{self, Request, forecast};
use dialpool_engine::pool::project::{self, CellSetting, Learning, ProjectInput, Release, Source, Window};

use super::common::{print, stage_bar};
use dialpool_engine::platform::progress::Progress;

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// List projects with today's fill (allocated / quota).
    List(ProjectListArgs),
    /// Show one project's whole configuration.
    Show(ProjectIdArgs),
    /// Create a project from flags or a JSON document (`--file`).
    Create(ProjectSpec),
    /// Replace a project's configuration (every setting, rule and window) with the given one.
    Update(ProjectUpdateArgs),
    /// Pause a project; `--release` hands numbers back to the pool.
    Pause(ProjectReleaseArgs),
    /// Resume a paused project.
    Resume(ProjectIdArgs),
    /// Delete a project (it can be restored); `--release` hands numbers back to the pool.
    Delete(ProjectReleaseArgs),
    /// Bring a deleted project back as it was.
    Restore(ProjectIdArgs),
    /// End a deleted project for good: numbers go back to the pool (exclusive projects keep
    /// them), events move to the archive.
    Purge(ProjectPurgeArgs),
}

#[derive(Debug, Args)]
pub struct ProjectListArgs {
    /// List deleted (not yet purged) projects instead.
    #[arg(long)]
    pub deleted: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectIdArgs {
    pub id: i64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectReleaseArgs {
    pub id: i64,
    /// none (keep every number), unworked (never-dialled numbers go back), all.
    #[arg(long, default_value = "none", value_parser = ["none", "unworked", "all"])]
    pub release: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectPurgeArgs {
    pub id: i64,
    /// The project's name, repeated to confirm.
    #[arg(long)]
    pub confirm: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProjectUpdateArgs {
    pub id: i64,
    #[command(flatten)]
    pub spec: ProjectSpec,
}

#[derive(Debug, Args)]
pub struct ProjectSpec {
    /// A JSON project document (as the API takes); the other flags are then not used.
    #[arg(long, conflicts_with_all = ["name", "time_zone", "quota", "sources", "windows"])]
    pub file: Option<PathBuf>,
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// IANA time zone, e.g. Europe/Moscow.
    #[arg(long, required_unless_present = "file")]
    pub time_zone: Option<String>,
    /// Numbers per day.
    #[arg(long, required_unless_present = "file")]
    pub quota: Option<i32>,
    #[arg(long, default_value_t = 5)]
    pub max_attempts: i16,
    /// Higher wins when projects compete for numbers.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i16,
    /// Numbers the project is given never go back to the pool.
    #[arg(long)]
    pub exclusive: bool,
    /// Which numbers go first: newest, oldest or random.
    #[arg(long, default_value = "newest", value_parser = ["newest", "oldest", "random"])]
    pub order: String,
    /// A number whose life in the project ends (final status, max attempts): keep it
    /// parked in the project, or release it to the pool.
    #[arg(long, default_value = "keep", value_parser = ["keep", "release"])]
    pub on_final: String,
    /// Create it paused.
    #[arg(long)]
    pub paused: bool,
    /// A pool rule `PROVIDER[:GEO][@PREFIX][=WEIGHT]`; `any` for either, e.g. `leadco:RU-MOW=2`,
    /// `any:KZ`, `any:KZ@7701` (only numbers of the block +7 701).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Calling windows `DAYS=HH:MM-HH:MM[,HH:MM-HH:MM]`; DAYS is `mon`, `mon-fri` or `daily`.
    #[arg(long = "window")]
    pub windows: Vec<String>,
    /// A date the project is off, YYYY-MM-DD.
    #[arg(long = "holiday")]
    pub holidays: Vec<chrono::NaiveDate>,
    /// Learned weights: each provider × geo cell's share follows its successes per
    /// allocated number (the rules' weights are then not used).
    #[arg(long)]
    pub learned: bool,
    /// With --learned: the part of the quota spread evenly over every cell (0 to 0.5).
    #[arg(long, requires = "learned", default_value_t = 0.1)]
    pub floor: f64,
    /// With --learned: a day this many days old counts half (1 to 365).
    #[arg(long, requires = "learned", default_value_t = 14.0)]
    pub half_life: f64,
    /// With --learned: a fixed share for a cell, `PROVIDER[:GEO]=SHARE`, e.g. `leadco:KZ=0.2`.
    #[arg(long = "pin", requires = "learned")]
    pub pins: Vec<String>,
    /// With --learned: a ceiling for a cell, `PROVIDER[:GEO]=SHARE`.
    #[arg(long = "cap", requires = "learned")]
    pub caps: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AllocateArgs {
    /// The day to allocate for (every project); default: each project's today in its time zone.
    #[arg(long)]
    pub date: Option<chrono::NaiveDate>,
    /// Only this project (repeatable); the others do not compete.
    #[arg(long = "project")]
    pub projects: Vec<i64>,
    /// Show what would be allocated and why numbers are skipped; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    #[arg(long = "project")]
    pub projects: Vec<i64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The number in any format (+7 916 123-45-67, 89161234567 with --region RU ...).
    pub phone: String,
    /// Region for numbers written without a country code.
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub json: bool,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_number(name: &str) -> anyhow::Result<i16> {
    DAYS.iter()
        .position(|d| *d == name.to_ascii_lowercase())
        .map(|i| i as i16 + 1)
        .with_context(|| format!("'{name}' is not a weekday (mon, tue, wed, thu, fri, sat, sun)"))
}

/// `mon-fri=09:00-13:00,14:00-18:00` → one window per day and time range.
fn parse_windows(spec: &str) -> anyhow::Result<Vec<Window>> {
    let (days, times) =
        spec.split_once('=').with_context(|| format!("window '{spec}': expected DAYS=HH:MM-HH:MM"))?;
    let days: Vec<i16> = match days {
        "daily" => (1..=7).collect(),
        range => match range.split_once('-') {
            Some((from, to)) => (day_number(from)?..=day_number(to)?).collect(),
            None => vec![day_number(range)?],
        },
    };
    let mut windows = Vec::new();
    for range in times.split(',') {
        let (start, end) = range
            .split_once('-')
            .with_context(|| format!("window '{spec}': '{range}' is not HH:MM-HH:MM"))?;
        for &weekday in &days {
            windows.push(Window { weekday, start: start.trim().into(), end: end.trim().into() });
        }
    }
    Ok(windows)
}

async fn parse_source(
    client: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    spec: &str,
) -> anyhow::Result<Source> {
    let (rest, weight) = match spec.rsplit_once('=') {
        Some((rest, w)) => (
            rest,
            w.parse::<i32>().with_context(|| format!("source '{spec}': weight '{w}' is not a number"))?,
        ),
        None => (spec, 1),
    };
    let (rest, prefix) = match rest.split_once('@') {
        Some((rest, prefix)) => (rest, Some(project::normalise_prefix("source", prefix)?)),
        None => (rest, None),
    };
    let (provider_code, geo_code) = rest.split_once(':').unwrap_or((rest, "any"));
    let provider_id = match provider_code {
        "any" => None,
        code => Some(provider::find_by_code(client, tenant, code).await?.id),
    };
    let geo_id = match geo_code {
        "any" => None,
        code => Some(
            dialpool_engine::intake::geo::id_by_code(client, tenant, code)
                .await
                .with_context(|| format!("source '{spec}': geo '{code}' does not exist"))?,
        ),
    };
    Ok(Source { id: 0, provider_id, geo_id, weight, prefix })
}

async fn document(
    client: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    spec: &ProjectSpec,
) -> anyhow::Result<ProjectInput> {
    if let Some(path) = &spec.file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a project document", path.display()));
    }
    let mut sources = Vec::new();
    for s in &spec.sources {
        sources.push(parse_source(client, tenant, s).await?);
    }
    let mut windows = Vec::new();
    for w in &spec.windows {
        windows.extend(parse_windows(w)?);
    }
    let learning = if spec.learned {
        let mut cells = Vec::new();
        for (text, pin) in spec.pins.iter().map(|p| (p, true)).chain(spec.caps.iter().map(|c| (c, false))) {
            let (cell, share) =
                text.rsplit_once('=').with_context(|| format!("'{text}' is not PROVIDER[:GEO]=SHARE"))?;
            let share: f64 =
                share.parse().with_context(|| format!("'{text}': '{share}' is not a share like 0.2"))?;
            let (provider_code, geo_code) = cell.split_once(':').unwrap_or((cell, "none"));
            let provider_id = provider::find_by_code(client, tenant, provider_code).await?.id;
            let geo_id = match geo_code {
                "none" => None,
                code => Some(
                    dialpool_engine::intake::geo::id_by_code(client, tenant, code)
                        .await
                        .with_context(|| format!("'{text}': geo '{code}' does not exist"))?,
                ),
            };
            cells.push(CellSetting {
                provider_id,
                geo_id,
                pin: pin.then_some(share),
                cap: (!pin).then_some(share),
            });
        }
        Some(Learning { floor: spec.floor, half_life_days: spec.half_life, cells })
    } else {
        None
    };
    Ok(ProjectInput {
        name: spec.name.clone().unwrap_or_default(),
        status: if spec.paused { "paused" } else { "active" }.into(),
        time_zone: spec.time_zone.clone().unwrap_or_default(),
        daily_quota: spec.quota.unwrap_or_default(),
        max_attempts: spec.max_attempts,
        priority: spec.priority,
        exclusive: spec.exclusive,
        allocation_order: spec.order.clone(),
        on_final: spec.on_final.clone(),
        sources,
        windows,
        holidays: spec.holidays.clone(),
        learning,
    })
}

fn release(text: &str) -> Release {
    match text {
        "unworked" => Release::Unworked,
        "all" => Release::All,
        _ => Release::None,
    }
}

fn describe(p: &project::Project) -> String {
    let windows: Vec<String> = p
        .windows
        .iter()
        .map(|w| format!("{} {}-{}", DAYS[(w.weekday - 1) as usize], w.start, w.end))
        .collect();
    let sources: Vec<String> = p
        .sources
        .iter()
        .map(|s| {
            format!(
                "provider {} × geo {}{} (weight {})",
                s.provider_id.map_or("any".into(), |v| v.to_string()),
                s.geo_id.map_or("any".into(), |v| v.to_string()),
                s.prefix.as_ref().map(|p| format!(" × block +{p}")).unwrap_or_default(),
                s.weight
            )
        })
        .collect();
    format!(
        "project {} '{}' ({}), {} a day in {}, priority {}, max attempts {}, {} first{}\n  rules: {}\n  windows: {}",
        p.id,
        p.name,
        p.status,
        p.daily_quota,
        p.time_zone,
        p.priority,
        p.max_attempts,
        p.allocation_order,
        if p.exclusive { ", exclusive".to_owned() } else { format!(", finished numbers: {}", p.on_final) },
        match (&p.learning, sources.is_empty()) {
            (_, true) => "none".into(),
            (None, false) => sources.join("; "),
            (Some(l), false) => format!(
                "{} — learned weights (floor {}, half-life {} days, {} pinned or capped cells)",
                sources.join("; "),
                l.floor,
                l.half_life_days,
                l.cells.len()
            ),
        },
        if windows.is_empty() { "none".into() } else { windows.join(", ") },
    )
}

fn counts(what: &str, c: &project::ReleaseCounts) -> String {
    format!(
        "{what}: {} numbers back to the pool, {} kept by the project, {} events archived",
        c.released, c.kept, c.events_archived
    )
}

pub async fn project(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    command: ProjectCommand,
) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let actor = Actor::system("cli");
    match command {
        ProjectCommand::List(args) => {
            let list = project::list(&**client, tenant, &Scope::All, args.deleted).await?;
            print(args.json, &list, || {
                let mut out = format!(
                    "{:>5}  {:<30} {:<8} {:>15} {:>9} {:>10}",
                    "ID", "NAME", "STATUS", "TODAY", "NUMBERS", "CONVERSION"
                );
                for p in &list {
                    out.push_str(&format!(
                        "\n{:>5}  {:<30} {:<8} {:>15} {:>9} {:>10}",
                        p.project.id,
                        p.project.name,
                        p.project.status,
                        format!("{}/{}", p.allocated_today, p.project.daily_quota),
                        p.numbers,
                        p.conversion.map_or("-".into(), |c| format!("{:.1}%", c * 100.0)),
                    ));
                }
                out
            })
        }
        ProjectCommand::Show(args) => {
            let p = project::get(&**client, tenant, args.id).await?;
            print(args.json, &p, || describe(&p))
        }
        ProjectCommand::Create(spec) => {
            let doc = document(&**client, tenant, &spec).await?;
            let p = project::create(&mut **client, tenant, &actor, &doc).await?;
            print(spec.json, &p, || format!("created {}", describe(&p)))
        }
        ProjectCommand::Update(args) => {
            let doc = document(&**client, tenant, &args.spec).await?;
            let p = project::update(&mut **client, tenant, &actor, args.id, &doc).await?;
            print(args.spec.json, &p, || format!("updated {}", describe(&p)))
        }
        ProjectCommand::Pause(args) => {
            let c = project::set_paused(&mut **client, tenant, &actor, args.id, true, release(&args.release))
                .await?;
            print(args.json, &c, || counts("paused", &c))
        }
        ProjectCommand::Resume(args) => {
            let c = project::set_paused(&mut **client, tenant, &actor, args.id, false, Release::None).await?;
            print(args.json, &c, || "resumed".into())
        }
        ProjectCommand::Delete(args) => {
            let c = project::delete(&mut **client, tenant, &actor, args.id, release(&args.release)).await?;
            print(args.json, &c, || counts("deleted", &c))
        }
        ProjectCommand::Restore(args) => {
            let p = project::restore(&mut **client, tenant, &actor, args.id).await?;
            print(args.json, &p, || format!("restored {}", describe(&p)))
        }
        ProjectCommand::Purge(args) => {
            let c = project::purge(&mut **client, tenant, &actor, args.id, &args.confirm).await?;
            print(args.json, &c, || counts("purged", &c))
        }
    }
}

pub async fn allocate(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: AllocateArgs,
) -> anyhow::Result<()> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let request = Request {
        date: args.date,
        projects: (!args.projects.is_empty()).then_some(args.projects),
        dry_run: args.dry_run,
        ..Request::default()
    };
    let progress = Progress::default();
    let bar = stage_bar(&progress, "numbers", args.json);
    let report =
        allocate::run_with_progress(&mut **client, tenant, &Actor::system("cli"), &request, &progress).await;
    bar.stop().await;
    let report = report?;
    print(args.json, &report, || {
        let verb = if report.dry_run { "would allocate" } else { "allocated" };
        let mut out = format!("{verb} {} numbers in {} ms", report.allocated, report.elapsed_ms);
        for p in &report.projects {
            out.push_str(&format!(
                "\n  {:<30} {} {:<13} {:>7} (+{} earlier of {} a day), {} eligible in the pool",
                p.name, p.day, p.state, p.allocated, p.allocated_before, p.daily_quota, p.eligible
            ));
            let s = &p.skipped;
            let reasons: Vec<String> = [
                ("held by another project", s.held_by_other_project),
                ("DNC", s.dnc),
                ("status", s.status),
                ("max attempts", s.max_attempts),
                ("cooling down", s.cooling_down),
                ("outside schedule", s.outside_schedule),
            ]
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
            if !reasons.is_empty() {
                out.push_str(&format!("\n      skipped: {}", reasons.join(", ")));
            }
            if !p.learned.is_empty() {
                out.push_str(&format!(
                    "\n      learned weights: {:<10} {:<6} {:>7} {:>10} {:>8} {:>17} {:>7} {:>6}  why",
                    "provider", "geo", "share", "allocated", "success", "rate (90%)", "P(best)", ""
                ));
                for w in &p.learned {
                    out.push_str(&format!(
                        "\n      {:>16} {:<10} {:<6} {:>6.1}% {:>10} {:>8} {:>5.2}% ({:.2}–{:.2}) {:>6.1}%  {}",
                        "",
                        w.provider_id,
                        w.geo_id.map_or("none".into(), |g| g.to_string()),
                        w.share * 100.0,
                        w.allocated,
                        w.success,
                        w.mean * 100.0,
                        w.low * 100.0,
                        w.high * 100.0,
                        w.p_best * 100.0,
                        serde_json::to_value(w.reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
                    ));
                }
            }
        }
        out
    })
}

pub async fn forecast(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: ForecastArgs,
) -> anyhow::Result<()> {
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let only = (!args.projects.is_empty()).then_some(args.projects);
    let list = forecast::forecast(&**client, tenant, only.as_deref(), None).await?;
    print(args.json, &list, || {
        let mut out = format!("{:<30} {:>10} {:>10} {:>10}", "PROJECT", "ELIGIBLE", "PER DAY", "DAYS LEFT");
        for f in &list {
            out.push_str(&format!(
                "\n{:<30} {:>10} {:>10.0} {:>10}",
                f.name,
                f.eligible,
                f.rate_per_day,
                f.days_left.map_or("-".into(), |d| format!("{d:.1}"))
            ));
        }
        out
    })
}

pub async fn explain(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
    args: ExplainArgs,
) -> anyhow::Result<()> {
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let region = args.region.as_deref().map(Region::parse).transpose()?;
    let e = explain::explain(&**client, tenant, &Scope::All, &args.phone, region, None).await?;
    print(args.json, &e, || {
        let mut out = match &e.number {
            None => format!("{}: not in the pool (never imported)", e.phone),
            Some(n) => format!(
                "{}: provider {}, geo {}, {}, status {} ({}), {} attempts",
                e.phone,
                n.provider,
                n.geo.as_deref().unwrap_or("-"),
                n.project
                    .as_deref()
                    .map_or("in the shared pool".into(), |p| format!("held by project '{p}'")),
                n.status_code,
                n.category,
                n.attempts
            ),
        };
        if let Some(d) = &e.dnc {
            out.push_str(&format!(
                "\n  on the DNC list since {} ({})",
                d.added_at.format("%Y-%m-%d"),
                d.source
            ));
        }
        for p in &e.projects {
            if p.eligible {
                out.push_str(&format!("\n  {}: eligible", p.name));
            } else {
                out.push_str(&format!("\n  {}: not eligible: {}", p.name, p.reasons.join("; ")));
            }
        }
        for ev in e.history.iter().take(10) {
            out.push_str(&format!("\n  {} {}", ev.at.format("%Y-%m-%d %H:%M"), ev.kind));
        }
        out
    })
}
