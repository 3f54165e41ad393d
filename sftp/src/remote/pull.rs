//! Pulling: new files that match the pattern, downloaded while hashed, recorded and
//! queued in one transaction, then tidied on the host.

use super::*;
use dialpool_engine::delivery::sftp::remote::{
    self as sftp_remote, AfterPull, Endpoint, RemoteFile, TransferredFile,
};
use dialpool_engine::intake::import::Deliver;
use dialpool_engine::{Error, Result};
use russh_sftp::client::SftpSession;
use sha2::Digest;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(super) fn sftp_error(
    endpoint: &Endpoint,
    doing: String,
) -> impl FnOnce(russh_sftp::client::error::Error) -> Error {
    let remote = label(endpoint);
    move |e| Error::Remote { remote, message: format!("{doing}: {e}") }
}

pub(super) async fn pull_files(
    pool: &deadpool_postgres::Pool,
    data_dir: &Path,
    endpoint: &Endpoint,
    files: &mut Vec<TransferredFile>,
) -> Result<()> {
    let remote = &endpoint.remote;
    let root = sftp_remote::local_root(data_dir, remote.id);
    let folders = Deliver {
        processed: root.join("processed"),
        errors: root.join("errors"),
        outbox: root.join("results"),
    };
    for dir in ["inbox", "processed", "errors", "results"] {
        let dir = root.join(dir);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let session = open(pool, endpoint).await?;
    let result = async {
        let listed = list_matching(&session.sftp, endpoint).await?;
        let pulled_before = {
            let client = pool.get().await?;
            sftp_remote::pulled_before(&**client, remote.id, &listed).await?
        };
        let mut failures = Vec::new();
        for file in listed {
            if pulled_before.contains(&(file.name.clone(), file.bytes, file.mtime)) {
                // Left by choice, or its delete/move failed after the import was queued.
                if remote.after_pull != AfterPull::Leave {
                    tidy(&session.sftp, endpoint, &file.name).await?;
                    files.push(TransferredFile {
                        name: file.name,
                        bytes: file.bytes,
                        outcome: format!("pulled before; {} now", remote.after_pull.name()),
                        job_id: None,
                    });
                }
                continue;
            }
            match pull_one(pool, &session.sftp, endpoint, &root, &folders, &file).await {
                Ok(pulled) => {
                    let queued = pulled.outcome != "changed while pulled";
                    files.push(pulled);
                    if queued {
                        tidy(&session.sftp, endpoint, &file.name).await?;
                    }
                }
                Err(error @ Error::Remote { .. }) => {
                    files.push(TransferredFile {
                        name: file.name.clone(),
                        bytes: file.bytes,
                        outcome: format!("failed: {error}"),
                        job_id: None,
                    });
                    failures.push(error.to_string());
                }
                Err(error) => return Err(error),
            }
        }
        match failures.first() {
            None => Ok(()),
            Some(first) => Err(Error::Remote {
                remote: label(endpoint),
                message: format!("{} file(s) could not be pulled; the first: {first}", failures.len()),
            }),
        }
    }
    .await;
    session.close().await;
    result
}

async fn pull_one(
    pool: &deadpool_postgres::Pool,
    sftp: &SftpSession,
    endpoint: &Endpoint,
    root: &Path,
    folders: &Deliver,
    file: &RemoteFile,
) -> Result<TransferredFile> {
    let path = remote_path(&endpoint.remote.remote_dir, &file.name);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
    let partial = root.join("inbox").join(format!(".{stamp}-{}.partial", file.name));
    let local = root.join("inbox").join(format!("{stamp}-{}", file.name));
    let downloaded = download(sftp, endpoint, &path, &partial).await;
    let sha256 = match downloaded {
        Ok(sha256) => sha256,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
    };
    // A file still being written on the host shows another size or time now; it is
    // pulled whole on a later run.
    let after =
        sftp.metadata(path.clone()).await.map_err(sftp_error(endpoint, format!("checking '{path}'")))?;
    if after.size.unwrap_or(0) as i64 != file.bytes || i64::from(after.mtime.unwrap_or(0)) != file.mtime {
        let _ = tokio::fs::remove_file(&partial).await;
        return Ok(TransferredFile {
            name: file.name.clone(),
            bytes: file.bytes,
            outcome: "changed while pulled".into(),
            job_id: None,
        });
    }
    tokio::fs::rename(&partial, &local)
        .await
        .map_err(|e| Error::io(format!("renaming {}", partial.display()), e))?;
    let mut client = pool.get().await?;
    let recorded = sftp_remote::record_pulled(&mut **client, endpoint, file, &sha256, &local, folders).await;
    if recorded.as_ref().is_ok_and(|pulled| pulled.outcome == "duplicate") || recorded.is_err() {
        let _ = tokio::fs::remove_file(&local).await;
    }
    recorded
}

async fn download(sftp: &SftpSession, endpoint: &Endpoint, path: &str, to: &Path) -> Result<Vec<u8>> {
    let mut source =
        sftp.open(path.to_owned()).await.map_err(sftp_error(endpoint, format!("opening '{path}'")))?;
    let mut target =
        tokio::fs::File::create(to).await.map_err(|e| Error::io(format!("creating {}", to.display()), e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let read = source.read(&mut buffer).await.map_err(|e| Error::Remote {
            remote: label(endpoint),
            message: format!("reading '{path}': {e}"),
        })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        target
            .write_all(&buffer[..read])
            .await
            .map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
    }
    target.sync_all().await.map_err(|e| Error::io(format!("writing {}", to.display()), e))?;
    Ok(hasher.finalize().to_vec())
}

/// After a pull: delete or move the remote file, as the remote says.
async fn tidy(sftp: &SftpSession, endpoint: &Endpoint, name: &str) -> Result<()> {
    let remote = &endpoint.remote;
    let path = remote_path(&remote.remote_dir, name);
    match (remote.after_pull, &remote.move_to) {
        (AfterPull::Delete, _) => {
            sftp.remove_file(path.clone()).await.map_err(sftp_error(endpoint, format!("deleting '{path}'")))
        }
        (AfterPull::Move, Some(folder)) => {
            let folder = if folder.starts_with('/') {
                folder.clone()
            } else {
                remote_path(&remote.remote_dir, folder)
            };
            let mut to = remote_path(&folder, name);
            // A provider that drops the same name every day: the older file stays, the
            // newer one is kept beside it with the time it was moved.
            if sftp.try_exists(to.clone()).await.unwrap_or(false) {
                to = remote_path(
                    &folder,
                    &format!("{name}.{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")),
                );
            }
            sftp.rename(path.clone(), to.clone())
                .await
                .map_err(sftp_error(endpoint, format!("moving '{path}' to '{to}'")))
        }
        _ => Ok(()),
    }
}
