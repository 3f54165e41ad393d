//! The transfer log and the files pulled: what each run moved, and what must not be
//! pulled again.

use super::*;
use crate::dialing::files::{OutcomeFileOptions, OutcomeImportJob};
use crate::intake::import::{Deliver, ImportJob, ImportOptions};
use crate::platform::TenantId;
use crate::platform::audit::Actor;
use crate::platform::error::Result;
use crate::platform::job::{self, JobArgs, JobKind, NewJob};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

/// A pulled file or a pushed one, in the transfer log.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferredFile {
    pub name: String,
    pub bytes: i64,
    /// `queued` (an import job), `duplicate` (content seen before), `sent`, or why it
    /// was skipped.
    pub outcome: String,
    pub job_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Transfer {
    pub id: i64,
    pub remote_id: i64,
    pub remote_name: String,
    pub job_id: Option<i64>,
    /// `pull` or `push`.
    pub direction: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub files: i32,
    pub bytes: i64,
    pub details: Vec<TransferredFile>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Opens a transfer log row; it is committed on its own, so a transfer that dies shows.
pub async fn start_transfer(
    client: &impl GenericClient,
    tenant: TenantId,
    remote_id: i64,
    job_id: Option<i64>,
    direction: &str,
) -> Result<i64> {
    Ok(client
        .query_one(
            "INSERT INTO sftp_jobs (tenant_id, remote_id, job_id, direction) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&tenant.0, &remote_id, &job_id, &direction],
        )
        .await?
        .get(0))
}

/// Closes a transfer. A failure counts against the remote and alerts: the remote shows
/// it, and subscribers get `sftp.transfer_failed`; a success clears the count.
pub async fn finish_transfer(
    client: &mut impl GenericClient,
    tenant: TenantId,
    transfer_id: i64,
    files: &[TransferredFile],
    error: Option<&str>,
) -> Result<()> {
    let moved: Vec<&TransferredFile> =
        files.iter().filter(|f| matches!(f.outcome.as_str(), "queued" | "duplicate" | "sent")).collect();
    let bytes: i64 = moved.iter().map(|f| f.bytes).sum();
    let details = serde_json::to_value(files).unwrap_or_default();
    let tx = client.transaction().await?;
    let remote_id: i64 = tx
        .query_one(
            "UPDATE sftp_jobs SET status = $3, files = $4, bytes = $5, details = $6, error = $7, finished_at = now()
              WHERE tenant_id = $1 AND id = $2 RETURNING remote_id",
            &[
                &tenant.0,
                &transfer_id,
                &if error.is_some() { "failed" } else { "succeeded" },
                &(moved.len() as i32),
                &bytes,
                &details,
                &error,
            ],
        )
        .await?
        .get(0);
    match error {
        None => {
            tx.execute(
                "UPDATE sftp_remotes SET consecutive_failures = 0, last_success_at = now() WHERE id = $1",
                &[&remote_id],
            )
            .await?;
        }
        Some(error) => {
            let row = tx
                .query_one(
                    "UPDATE sftp_remotes
                        SET consecutive_failures = consecutive_failures + 1, last_error = $2, last_failure_at = now()
                      WHERE id = $1 RETURNING name, host, consecutive_failures",
                    &[&remote_id, &error],
                )
                .await?;
            let (name, host, failures): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
            crate::platform::webhook::enqueue(
                &tx,
                tenant,
                "sftp.transfer_failed",
                &serde_json::json!({
                    "remote_id": remote_id, "remote": name, "host": host, "transfer_id": transfer_id,
                    "error": error, "consecutive_failures": failures,
                }),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The tenant's latest transfers, newest first; of one remote when given.
pub async fn transfers(
    client: &impl GenericClient,
    tenant: TenantId,
    remote_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Transfer>> {
    let rows = client
        .query(
            "SELECT t.id, t.remote_id, r.name, t.job_id, t.direction, t.status, t.files, t.bytes, t.details, t.error,
                    t.started_at, t.finished_at
               FROM sftp_jobs t JOIN sftp_remotes r ON r.id = t.remote_id
              WHERE t.tenant_id = $1 AND ($2::bigint IS NULL OR t.remote_id = $2)
              ORDER BY t.id DESC LIMIT $3",
            &[&tenant.0, &remote_id, &limit.clamp(1, 500)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Transfer {
            id: row.get(0),
            remote_id: row.get(1),
            remote_name: row.get(2),
            job_id: row.get(3),
            direction: row.get(4),
            status: row.get(5),
            files: row.get(6),
            bytes: row.get(7),
            details: serde_json::from_value(row.get(8)).unwrap_or_default(),
            error: row.get(9),
            started_at: row.get(10),
            finished_at: row.get(11),
        })
        .collect())
}

/// A remote file's identity as listed: a file left on the host with the same name, size
/// and modification time was pulled already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub bytes: i64,
    pub mtime: i64,
}

/// Which of the listed files were pulled before (same name, size and time): one query
/// for the whole listing, since a folder of files left on the host is listed every run.
pub async fn pulled_before(
    client: &impl GenericClient,
    remote_id: i64,
    listed: &[RemoteFile],
) -> Result<std::collections::HashSet<(String, i64, i64)>> {
    let names: Vec<&str> = listed.iter().map(|f| f.name.as_str()).collect();
    let rows = client
        .query(
            "SELECT name, bytes, mtime FROM sftp_remote_files WHERE remote_id = $1 AND name = ANY($2)",
            &[&remote_id, &names],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect())
}

/// Records a pulled file (downloaded to `local_path`, hashed): new content becomes an
/// import job (or an outcome import) in the same transaction as its fingerprint; content
/// this remote delivered before is recorded as a duplicate.
pub async fn record_pulled(
    client: &mut impl GenericClient,
    endpoint: &Endpoint,
    file: &RemoteFile,
    sha256: &[u8],
    local_path: &std::path::Path,
    folders: &Deliver,
) -> Result<TransferredFile> {
    let remote = &endpoint.remote;
    let tx = client.transaction().await?;
    let seen: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM sftp_remote_files WHERE remote_id = $1 AND sha256 = $2 AND outcome = 'queued')",
            &[&remote.id, &sha256],
        )
        .await?
        .get(0);
    let job_id = if seen {
        None
    } else {
        let (tenant, deliver) = (Some(endpoint.tenant), Some(folders.clone()));
        let mut new = if remote.direction == Direction::PullNumbers {
            let options = ImportOptions::from_json("import_options", &remote.import_options)?;
            let mut import =
                ImportJob::new(remote.provider_code.clone().unwrap_or_default(), local_path.into(), options);
            import.file_name = Some(file.name.clone());
            import.rejects_path = Some(folders.outbox.join(format!("{}.rejects.csv", file.name)));
            import.deliver = deliver;
            import.job(tenant, None)
        } else {
            let options = OutcomeFileOptions::from_json("import_options", &remote.import_options)?;
            let outcomes = OutcomeImportJob {
                path: local_path.into(),
                file_name: Some(file.name.clone()),
                options,
                deliver,
            };
            outcomes.job(tenant, None)
        };
        new.unique_key = Some(format!("sftp_remote:{}:{}", remote.id, hex(sha256)));
        job::enqueue(&tx, &new).await?
    };
    let outcome = if job_id.is_some() { "queued" } else { "duplicate" };
    tx.execute(
        "INSERT INTO sftp_remote_files (remote_id, name, bytes, mtime, sha256, outcome, job_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (remote_id, name, bytes, mtime) DO NOTHING",
        &[&remote.id, &file.name, &file.bytes, &file.mtime, &sha256, &outcome, &job_id],
    )
    .await?;
    tx.commit().await?;
    Ok(TransferredFile { name: file.name.clone(), bytes: file.bytes, outcome: outcome.into(), job_id })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a remote's files live locally: `inbox/` (pulled, waiting for import),
/// `processed/`, `errors/` and `results/` (import summaries and rejects), or `outbox/`
/// (exports waiting to be pushed) and `sent/`.
pub fn local_root(data_dir: &std::path::Path, remote_id: i64) -> std::path::PathBuf {
    data_dir.join("remotes").join(remote_id.to_string())
}

/// Takes the remote's transfer lock for the transaction `tx`, if no other transfer with
/// it holds it: one transfer per remote at a time, across servers.
pub async fn try_transfer_lock(tx: &impl GenericClient, remote_id: i64) -> Result<bool> {
    Ok(tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('sftp_remote:' || $1::bigint, 0))",
            &[&remote_id],
        )
        .await?
        .get(0))
}

/// Deletes rows of the transfer log that ended more than `days` ago.
pub async fn delete_finished_transfers(client: &impl GenericClient, days: i32) -> Result<u64> {
    Ok(client
        .execute(
            "DELETE FROM sftp_jobs WHERE status <> 'running' AND finished_at < now() - make_interval(days => $1)",
            &[&days.max(1)],
        )
        .await?)
}

/// The `sftp_pull` job: new files from the remote, each queued as an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullJob {
    pub remote_id: i64,
}

impl job::JobArgs for PullJob {
    const KIND: JobKind = JobKind::SftpPull;
}

/// The `sftp_push` job: what waits in the remote's outbox, sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushJob {
    pub remote_id: i64,
}

impl job::JobArgs for PushJob {
    const KIND: JobKind = JobKind::SftpPush;
}

/// The job that runs a transfer with the remote now, in its direction.
pub fn transfer_job(tenant: TenantId, remote_id: i64, direction: Direction, actor: Option<&Actor>) -> NewJob {
    use job::JobArgs;
    match direction {
        Direction::PushExports => PushJob { remote_id }.job(Some(tenant), actor),
        Direction::PullNumbers | Direction::PullOutcomes => PullJob { remote_id }.job(Some(tenant), actor),
    }
}

/// Queues a push of what waits in the remote's outbox (after an export lands there).
pub async fn enqueue_push(
    client: &impl GenericClient,
    tenant: TenantId,
    remote_id: i64,
) -> Result<Option<i64>> {
    job::enqueue(client, &transfer_job(tenant, remote_id, Direction::PushExports, None)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_never_shows_its_credentials_in_debug_output() {
        let input: SftpRemoteInput = serde_json::from_value(serde_json::json!({
            "name": "n", "host": "h", "username": "u", "password": "pw-secret-1",
            "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-secret-2", "direction": "push_exports"
        }))
        .unwrap();
        let shown = format!("{input:?}");
        assert!(!shown.contains("pw-secret-1") && !shown.contains("key-secret-2"), "{shown}");
        assert!(shown.contains("host"), "{shown}");
    }

    #[test]
    fn fingerprints_match_openssh() {
        // `ssh-keygen -lf` printed this fingerprint for this key.
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOU+JSJdP9bvMQDu3sB3SxRJWViZ7qscF0d1NpBcXFTu root@vm";
        assert_eq!(fingerprint(line).unwrap(), "SHA256:DV78QYol/3la7iBTmzSeUcuusdM0PBzeFK/0UVkyrnY");
        assert_eq!(fingerprint("ssh-ed25519 not-base64!"), None);
        assert_eq!(fingerprint("garbage"), None);
    }
}
