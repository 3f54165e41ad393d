//! The installation's own upkeep as jobs: event partitions made ahead of time, and
//! retention, which deletes what has been kept long enough.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::{JobArgs, JobKind};
use crate::platform::error::Result;

/// The `partition_maintenance` job: monthly event partitions ahead of time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionJob {
    /// Months ahead (1–24, default 3).
    pub months_ahead: Option<i32>,
}

impl JobArgs for PartitionJob {
    const KIND: JobKind = JobKind::PartitionMaintenance;
}

/// Creates the monthly partitions missing up to `months_ahead` months from now; returns
/// their names.
pub async fn ensure_partitions(client: &impl GenericClient, months_ahead: i32) -> Result<Vec<String>> {
    Ok(client
        .query("SELECT dialpool_ensure_monthly_partitions($1)", &[&months_ahead.clamp(1, 24)])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// The `retention` job: how long finished things are kept, in days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionJob {
    /// Finished files of partners and remote hosts (30).
    pub files_days: Option<u32>,
    /// Finished jobs (90).
    pub jobs_days: Option<i32>,
    /// Rows of the SFTP transfer log (90).
    pub transfers_days: Option<i32>,
}

impl JobArgs for RetentionJob {
    const KIND: JobKind = JobKind::Retention;
}

/// Deletes jobs that ended (succeeded, dead or cancelled) more than `days` ago.
pub async fn delete_finished(client: &impl GenericClient, days: i32) -> Result<u64> {
    Ok(client
        .execute(
            "DELETE FROM jobs WHERE state IN ('succeeded', 'dead', 'cancelled')
                AND finished_at < now() - make_interval(days => $1)",
            &[&days.max(1)],
        )
        .await?)
}
