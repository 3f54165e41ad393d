//! `dialpool outcomes import`: a dialer's file of call outcomes.

use clap::Args;
use dialpool_engine::dialing;
use dialpool_engine::intake::phone::Region;
use dialpool_engine::platform::audit::Actor;
use std::path::PathBuf;

use super::common::{existing_file, print, stage_bar};
use crate::connect::{find_tenant, ready_pool};
use dialpool_engine::platform::progress::Progress;

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

pub(super) async fn outcomes_import(
    config: &tokio_postgres::Config,
    tenant: &str,
    args: OutcomesImportArgs,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, false).await?;
    let tenant = find_tenant(&pool, tenant).await?;
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
    let progress = Progress::default();
    let bar = stage_bar(&progress, "calls", args.json);
    let summary = dialing::files::import_with_progress(&pool, request, &progress).await;
    bar.stop().await;
    let summary = summary?;
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
