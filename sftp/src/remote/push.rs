//! Pushing: what waits in the outbox, uploaded under a temporary name, then renamed.

use super::*;
use dialpool_engine::delivery::sftp::remote::{self as sftp_remote, Endpoint, TransferredFile};
use dialpool_engine::{Error, Result};
use russh_sftp::client::SftpSession;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Files waiting in a push remote's local outbox, oldest name first.
async fn waiting(outbox: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = tokio::fs::read_dir(outbox)
        .await
        .map_err(|e| Error::io(format!("listing {}", outbox.display()), e))?;
    let mut waiting = Vec::new();
    while let Some(entry) =
        entries.next_entry().await.map_err(|e| Error::io(format!("listing {}", outbox.display()), e))?
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().await.is_ok_and(|t| t.is_file());
        // Exports still being written end in .partial.
        if is_file && !name.starts_with('.') && !name.ends_with(".partial") {
            waiting.push(entry.path());
        }
    }
    waiting.sort();
    Ok(waiting)
}

pub(super) async fn push_files(
    pool: &deadpool_postgres::Pool,
    data_dir: &Path,
    endpoint: &Endpoint,
    files: &mut Vec<TransferredFile>,
) -> Result<()> {
    let root = sftp_remote::local_root(data_dir, endpoint.remote.id);
    let (outbox, sent) = (root.join("outbox"), root.join("sent"));
    for dir in [&outbox, &sent] {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let waiting = waiting(&outbox).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let session = open(pool, endpoint).await?;
    let result = async {
        for local in waiting {
            let name = local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let bytes = upload(&session.sftp, endpoint, &local, &name).await?;
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
            let kept = sent.join(format!("{stamp}-{name}"));
            tokio::fs::rename(&local, &kept)
                .await
                .map_err(|e| Error::io(format!("moving {}", local.display()), e))?;
            files.push(TransferredFile { name, bytes, outcome: "sent".into(), job_id: None });
        }
        Ok(())
    }
    .await;
    session.close().await;
    result
}

/// Uploads under a `.partial` name and renames, so the host's own pickup never sees half
/// a file; an older file of the same name is replaced.
async fn upload(sftp: &SftpSession, endpoint: &Endpoint, local: &Path, name: &str) -> Result<i64> {
    let dir = &endpoint.remote.remote_dir;
    let (partial, target) = (remote_path(dir, &format!("{name}.partial")), remote_path(dir, name));
    let mut source = tokio::fs::File::open(local)
        .await
        .map_err(|e| Error::io(format!("opening {}", local.display()), e))?;
    let mut sink =
        sftp.create(partial.clone()).await.map_err(sftp_error(endpoint, format!("creating '{partial}'")))?;
    let mut buffer = vec![0u8; CHUNK];
    let mut bytes = 0i64;
    let writing = |e: std::io::Error| Error::Remote {
        remote: label(endpoint),
        message: format!("writing '{partial}': {e}"),
    };
    loop {
        let read = source
            .read(&mut buffer)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        if read == 0 {
            break;
        }
        sink.write_all(&buffer[..read]).await.map_err(writing)?;
        bytes += read as i64;
    }
    sink.shutdown().await.map_err(writing)?;
    drop(sink);
    if sftp.try_exists(target.clone()).await.unwrap_or(false) {
        sftp.remove_file(target.clone())
            .await
            .map_err(sftp_error(endpoint, format!("replacing '{target}'")))?;
    }
    sftp.rename(partial.clone(), target.clone())
        .await
        .map_err(sftp_error(endpoint, format!("renaming '{partial}' to '{target}'")))?;
    Ok(bytes)
}
