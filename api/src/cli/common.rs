//! What every command shares: the `--json` flag, printing for people or as JSON, the
//! progress display, and checking a file argument.

use clap::Args;
use dialpool_engine::intake::import::ImportProgress;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where the installation's secret key is kept (it seals remote credentials and keys
/// the tombstones of erased numbers), unless DIALPOOL_SECRET_KEY gives it.
#[derive(Debug, Args)]
pub struct SecretArgs {
    #[arg(long, env = "DIALPOOL_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

pub(crate) fn existing_file(path: &std::path::Path) -> anyhow::Result<PathBuf> {
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

/// A progress bar on a terminal; a line every few seconds elsewhere (logs, CI).
pub(crate) struct ProgressDisplay {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressDisplay {
    pub(crate) fn start(progress: &ImportProgress, silent: bool) -> Self {
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
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
