//! A transfer with a remote host, in its direction, one at a time per remote, logged.

use super::*;
use dialpool_engine::TenantId;
use dialpool_engine::delivery::sftp::remote::{self as sftp_remote, Direction, TransferredFile};
use dialpool_engine::platform::secret::SecretKey;
use dialpool_engine::{Error, Result};
use std::path::Path;

/// Holds the remote's transfer lock (a transaction-scoped advisory lock, released if
/// this process dies) so two workers never pull the same host at once.
async fn with_transfer_lock<T>(
    pool: &deadpool_postgres::Pool,
    remote_id: i64,
    work: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    if !sftp_remote::try_transfer_lock(&*tx, remote_id).await? {
        return Ok(None);
    }
    let result = work.await;
    tx.rollback().await?;
    result.map(Some)
}

/// What a pull or push did, as its job's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferReport {
    pub transfer_id: Option<i64>,
    pub files: Vec<TransferredFile>,
    /// Set when another transfer of the remote was running, so this one did nothing.
    pub skipped: Option<String>,
}

/// Which way a transfer goes; it must be the remote's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// A `pull_numbers` or `pull_outcomes` remote's new files, each becoming a job.
    Pull,
    /// The exports waiting in a `push_exports` remote's local outbox.
    Push,
}

impl Way {
    pub fn of(direction: Direction) -> Way {
        if direction == Direction::PushExports { Way::Push } else { Way::Pull }
    }

    fn name(self) -> &'static str {
        match self {
            Way::Pull => "pull",
            Way::Push => "push",
        }
    }
}

/// Pulls from or pushes to a remote, logging the transfer; one transfer per remote at
/// a time (a second meanwhile does nothing and says so).
pub async fn transfer(
    pool: &deadpool_postgres::Pool,
    data_dir: &Path,
    key: &SecretKey,
    tenant: TenantId,
    remote_id: i64,
    job_id: Option<i64>,
    way: Way,
) -> Result<TransferReport> {
    let endpoint = {
        let client = pool.get().await?;
        sftp_remote::endpoint(&**client, key, tenant, remote_id).await?
    };
    if Way::of(endpoint.remote.direction) != way {
        return Err(Error::invalid(
            "remote_id",
            format!(
                "remote {remote_id} is a {} remote; it cannot {}",
                endpoint.remote.direction.name(),
                way.name()
            ),
        ));
    }
    if !endpoint.remote.enabled {
        return Err(Error::Refused(format!("remote {remote_id} is disabled")));
    }
    let work = async {
        let transfer_id = {
            let client = pool.get().await?;
            sftp_remote::start_transfer(&**client, tenant, remote_id, job_id, way.name()).await?
        };
        let mut files = Vec::new();
        let result = match way {
            Way::Push => push_files(pool, data_dir, &endpoint, &mut files).await,
            Way::Pull => pull_files(pool, data_dir, &endpoint, &mut files).await,
        };
        let error = result.as_ref().err().map(ToString::to_string);
        let mut client = pool.get().await?;
        sftp_remote::finish_transfer(&mut **client, tenant, transfer_id, &files, error.as_deref()).await?;
        result.map(|()| TransferReport { transfer_id: Some(transfer_id), files, skipped: None })
    };
    Ok(with_transfer_lock(pool, remote_id, work).await?.unwrap_or_else(|| TransferReport {
        transfer_id: None,
        files: Vec::new(),
        skipped: Some(format!("another transfer of remote {remote_id} is running")),
    }))
}
