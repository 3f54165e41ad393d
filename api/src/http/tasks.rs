//! Imports started over HTTP run as background tasks in this process; their live progress
//! is read from here (and streamed over SSE) until the engine's import row records the
//! outcome. They do not survive the process; moving them onto the job queue
//! (`dialpool_engine::job`, as SFTP drops and `dialpool jobs run import` already are) is
//! what makes them do so.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dialpool_engine::import::{ImportProgress, ImportSummary};
use dialpool_engine::tenant::TenantId;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Running,
    Succeeded,
    Failed,
}

/// A running or just-finished import as its progress stream reports it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportTaskView {
    pub task_id: String,
    pub status: TaskStatus,
    pub provider_id: i64,
    pub provider_code: String,
    pub file_name: String,
    pub bytes_total: u64,
    pub bytes_read: u64,
    pub rows_read: u64,
    pub rows_merged: u64,
    pub started_at: DateTime<Utc>,
    /// Set once the import has ended (also when it failed and was recorded).
    pub import_id: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Running,
    Succeeded(Box<ImportSummary>),
    Failed { error: String },
}

pub struct ImportTask {
    pub id: String,
    pub tenant: TenantId,
    pub provider_id: i64,
    pub provider_code: String,
    pub file_name: String,
    pub started_at: DateTime<Utc>,
    pub progress: ImportProgress,
    outcome: watch::Sender<Outcome>,
}

impl ImportTask {
    pub fn view(&self) -> ImportTaskView {
        let outcome = self.outcome.borrow().clone();
        let (status, import_id, error) = match outcome {
            Outcome::Running => (TaskStatus::Running, None, None),
            Outcome::Succeeded(s) => (TaskStatus::Succeeded, Some(s.import_id), None),
            Outcome::Failed { error } => (TaskStatus::Failed, None, Some(error)),
        };
        ImportTaskView {
            task_id: self.id.clone(),
            status,
            provider_id: self.provider_id,
            provider_code: self.provider_code.clone(),
            file_name: self.file_name.clone(),
            bytes_total: self.progress.read.bytes_total.load(Ordering::Relaxed),
            bytes_read: self.progress.read.bytes_read.load(Ordering::Relaxed),
            rows_read: self.progress.rows_read.load(Ordering::Relaxed),
            rows_merged: self.progress.rows_merged.load(Ordering::Relaxed),
            started_at: self.started_at,
            import_id,
            error,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(*self.outcome.borrow(), Outcome::Running)
    }

    /// Wakes when the outcome changes; the subscriber reads the view itself.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Outcome> {
        self.outcome.subscribe()
    }

    pub fn finish(&self, result: &Result<ImportSummary, dialpool_engine::Error>) {
        let outcome = match result {
            Ok(summary) => Outcome::Succeeded(Box::new(summary.clone())),
            Err(error) => Outcome::Failed {
                error: match error.kind() {
                    dialpool_engine::ErrorKind::Internal => {
                        "the import failed; the server log has the details".into()
                    }
                    _ => error.to_string(),
                },
            },
        };
        self.outcome.send_replace(outcome);
    }
}

/// Finished tasks stay visible this long, so a page opened just after the end still
/// shows the outcome from the stream before it switches to the import's record.
const KEEP_FINISHED: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Default)]
pub struct ImportTasks {
    tasks: Mutex<HashMap<String, Arc<ImportTask>>>,
}

impl ImportTasks {
    pub fn start(
        &self,
        tenant: TenantId,
        provider_id: i64,
        provider_code: String,
        file_name: String,
        progress: ImportProgress,
    ) -> Arc<ImportTask> {
        let (outcome, _) = watch::channel(Outcome::Running);
        let task = Arc::new(ImportTask {
            id: dialpool_engine::access::random_secret()[..16].to_owned(),
            tenant,
            provider_id,
            provider_code,
            file_name,
            started_at: Utc::now(),
            progress,
            outcome,
        });
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let cutoff = Utc::now() - KEEP_FINISHED;
        tasks.retain(|_, t| t.is_running() || t.started_at > cutoff);
        tasks.insert(task.id.clone(), task.clone());
        task
    }

    /// A tenant's task, or None (also for another tenant's: its existence is not told).
    pub fn get(&self, tenant: TenantId, id: &str) -> Option<Arc<ImportTask>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).get(id).filter(|t| t.tenant == tenant).cloned()
    }

    pub fn list(&self, tenant: TenantId) -> Vec<Arc<ImportTask>> {
        let mut list: Vec<_> = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|t| t.tenant == tenant)
            .cloned()
            .collect();
        list.sort_by_key(|t| std::cmp::Reverse(t.started_at));
        list
    }

    pub fn running_count(&self) -> usize {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|t| t.is_running()).count()
    }
}
