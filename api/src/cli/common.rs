//! What every command shares: the `--json` flag, printing for people or as JSON, the
//! progress display, and checking a file argument.

use clap::Args;
use dialpool_engine::intake::import::ImportProgress;
use dialpool_engine::platform::progress::Progress;
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

/// A task redrawing a progress bar every 100 ms until it is stopped. Stopping clears the
/// bar, so the summary (or the error) is printed on a clean line.
pub(crate) struct BarTask {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl BarTask {
    fn none() -> Self {
        BarTask { stop: None, task: None }
    }

    fn spawn(bar: ProgressBar, mut draw: impl FnMut(&ProgressBar) + Send + 'static) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                draw(&bar);
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            bar.finish_and_clear();
        });
        BarTask { stop: Some(stop), task: Some(task) }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A progress bar for work that reports a [`Progress`] (export, outcome files,
/// allocation, conversion refresh): the stage, and how far it is, of how much when the
/// work knows. Only on a terminal, never with `--json`: piped or redirected, the command
/// prints its summary alone. `unit` names what is counted ("rows", "numbers").
pub(crate) fn stage_bar(progress: &Progress, unit: &'static str, json: bool) -> BarTask {
    if json || !std::io::stderr().is_terminal() {
        return BarTask::none();
    }
    let style = |template: String| {
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner())
    };
    // Of a known total; counting with no total; a stage that counts nothing (one long
    // statement), where a count or an ETA would only mislead.
    let counted = style(format!(
        "{{spinner}} [{{elapsed_precise}}] {{msg}} {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ETA {{eta}}"
    ));
    let open = style(format!("{{spinner}} [{{elapsed_precise}}] {{msg}}: {{human_pos}} {unit}"));
    let plain = style("{spinner} [{elapsed_precise}] {msg}".to_owned());
    let progress = progress.clone();
    // What the bar is styled for: none yet, then (a total, counting).
    let mut styled: Option<(Option<u64>, bool)> = None;
    BarTask::spawn(ProgressBar::new(0), move |bar| {
        let now = progress.snapshot();
        let shape = (now.total, now.done > 0);
        if styled != Some(shape) {
            bar.set_style(match shape {
                (Some(_), _) => counted.clone(),
                (None, true) => open.clone(),
                (None, false) => plain.clone(),
            });
            bar.set_length(now.total.unwrap_or(0));
            styled = Some(shape);
        }
        bar.set_message(now.stage);
        bar.set_position(now.done);
        bar.tick();
    })
}

/// An import's progress bar on a terminal; a line every few seconds elsewhere (logs, CI).
pub(crate) fn import_bar(progress: &ImportProgress, silent: bool) -> BarTask {
    if silent {
        return BarTask::none();
    }
    let progress = progress.clone();
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let bar = if terminal { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut last_line = Instant::now();
    BarTask::spawn(bar, move |bar| {
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
    })
}
