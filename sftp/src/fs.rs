//! A partner's view of its own root over SFTP. Every path the client names is resolved
//! inside the root: lexically (`..` never climbs above it; absolute paths start at it)
//! and then on disk (no component may be a symbolic link), so nothing outside is read,
//! listed or written. Uploads go to `inbox/` only, under a hidden temporary name, and
//! become visible — and an import — when their handle closes.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use dialpool_engine::delivery::sftp::account::{self, FOLDERS, Login, UploadOutcome};
use dialpool_engine::intake::import::Deliver;
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Temporary upload names start with this; listings hide them.
const UPLOADING: &str = ".uploading-";
/// A completed upload's own name, which its import reads (see `Partner::arrived`).
const QUEUED: &str = ".queued-";
/// Names clients give a file while they upload it and rename afterwards (WinSCP,
/// FileZilla, lftp): such a file is imported when it is renamed, not when it closes.
const PARTIAL_SUFFIXES: [&str; 4] = [".filepart", ".part", ".partial", ".tmp"];
/// Bytes per read reply.
const READ_MAX: u32 = 256 * 1024;

pub(crate) struct Partner {
    pool: deadpool_postgres::Pool,
    login: Login,
    root: PathBuf,
    handles: HashMap<String, Open>,
    next_handle: u64,
}

enum Open {
    Read(tokio::fs::File),
    Upload(Upload),
    Dir { entries: Vec<File>, sent: bool },
}

struct Upload {
    file: tokio::fs::File,
    temporary: PathBuf,
    destination: PathBuf,
    /// Bytes the inbox may still take, counting this file's.
    room: u64,
    written: u64,
    /// A write was refused (quota) or failed: the file is incomplete and is discarded at
    /// close instead of taking its name.
    broken: bool,
}

fn denied(message: &str) -> StatusReply {
    StatusCode::PermissionDenied.with_message(message)
}

fn failure(message: impl Into<String>) -> StatusReply {
    StatusCode::Failure.with_message(message)
}

fn io_error(error: std::io::Error) -> StatusReply {
    match error.kind() {
        std::io::ErrorKind::NotFound => StatusCode::NoSuchFile.with_message("no such file"),
        std::io::ErrorKind::PermissionDenied => denied("permission denied"),
        _ => {
            tracing::warn!(%error, "SFTP file operation");
            failure("the operation failed")
        }
    }
}

fn ok(id: u32) -> Status {
    Status { id, status_code: StatusCode::Ok, error_message: "Ok".into(), language_tag: "en-US".into() }
}

/// The client's path as components below the root; `..` above the root is refused.
pub(crate) fn confine(path: &str) -> Result<Vec<String>, StatusReply> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(denied("that path is outside your folder"));
                }
            }
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
        }
    }
    Ok(parts)
}

fn virtual_path(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

fn is_partial(name: &str) -> bool {
    PARTIAL_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

impl Partner {
    /// The session of `login`, its folders made if missing.
    pub(crate) async fn open(
        pool: deadpool_postgres::Pool,
        data_dir: &Path,
        login: Login,
    ) -> std::io::Result<Partner> {
        let root = crate::account_root(data_dir, login.account_id);
        for folder in FOLDERS {
            tokio::fs::create_dir_all(root.join(folder)).await?;
        }
        remove_abandoned_uploads(&root.join("inbox")).await;
        Ok(Partner { pool, login, root, handles: HashMap::new(), next_handle: 0 })
    }

    /// The real path of a client path, checked to hold no symbolic link. Names starting
    /// with `.` are the server's own (uploads in progress, uploads waiting for their
    /// import): they do not exist for the partner.
    async fn resolve(&self, path: &str) -> Result<(Vec<String>, PathBuf), StatusReply> {
        let parts = confine(path)?;
        if parts.iter().any(|p| p.starts_with('.')) {
            return Err(StatusCode::NoSuchFile.with_message("no such file"));
        }
        let mut real = self.root.clone();
        for part in &parts {
            real.push(part);
            match tokio::fs::symlink_metadata(&real).await {
                Ok(meta) if meta.file_type().is_symlink() => return Err(denied("links are not followed")),
                Ok(_) => {}
                // A missing tail is fine (a file about to be created); nothing below it exists.
                Err(_) => break,
            }
        }
        Ok((parts, real))
    }

    fn handle(&mut self, open: Open) -> String {
        self.next_handle += 1;
        let handle = self.next_handle.to_string();
        self.handles.insert(handle.clone(), open);
        handle
    }

    /// Files in `inbox/` and their bytes, uploads in progress and uploads waiting for
    /// their import included; a file under two names (its own and the import's) counts
    /// once.
    async fn inbox_usage(&self) -> std::io::Result<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let mut entries = tokio::fs::read_dir(self.root.join("inbox")).await?;
        let mut seen = std::collections::HashSet::new();
        let (mut files, mut bytes) = (0, 0);
        while let Some(entry) = entries.next_entry().await? {
            let meta = entry.metadata().await?;
            if meta.is_file() && seen.insert(meta.ino()) {
                files += 1;
                bytes += meta.len();
            }
        }
        Ok((files, bytes))
    }

    async fn start_upload(&mut self, parts: &[String], real: PathBuf) -> Result<Upload, StatusReply> {
        if parts.len() != 2 || parts[0] != "inbox" {
            return Err(denied("files are uploaded into /inbox"));
        }
        check_name(&parts[1])?;
        let (files, bytes) = self.inbox_usage().await.map_err(io_error)?;
        if files >= self.login.quota_files as u64 {
            return Err(failure(format!(
                "quota: /inbox holds {files} files, the most it may (the limit is {})",
                self.login.quota_files
            )));
        }
        let room = (self.login.quota_bytes as u64).saturating_sub(bytes);
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| failure(e.to_string()))?;
        let temporary = self.root.join("inbox").join(format!("{UPLOADING}{}", hex(&random)));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .await
            .map_err(io_error)?;
        Ok(Upload { file, temporary, destination: real, room, written: 0, broken: false })
    }

    /// The upload is complete: it takes its name and, unless it is a client's temporary
    /// name, becomes an import.
    async fn finish_upload(&mut self, mut upload: Upload) -> Result<(), StatusReply> {
        if upload.broken {
            drop(upload.file);
            let _ = tokio::fs::remove_file(&upload.temporary).await;
            return Err(failure("the upload was incomplete and is discarded"));
        }
        let synced = async {
            upload.file.flush().await?;
            upload.file.sync_all().await
        };
        let taken = match synced.await {
            Ok(()) => tokio::fs::rename(&upload.temporary, &upload.destination).await,
            Err(error) => Err(error),
        };
        drop(upload.file);
        if let Err(error) = taken {
            // Nothing half-done stays behind to count against the quota.
            let _ = tokio::fs::remove_file(&upload.temporary).await;
            return Err(io_error(error));
        }
        self.arrived(&upload.destination).await
    }

    /// A file took its final name in `inbox/`: its content gets a name of its own, which
    /// the import reads, so that the partner may upload the same name again, rename or
    /// remove the file at once, and every upload is still imported as it was.
    async fn arrived(&self, path: &Path) -> Result<(), StatusReply> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if is_partial(&name) {
            return Ok(());
        }
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| failure(e.to_string()))?;
        let queued = self.root.join("inbox").join(format!("{QUEUED}{}-{name}", hex(&random)));
        tokio::fs::hard_link(path, &queued).await.map_err(io_error)?;
        let delivery = Deliver {
            processed: self.root.join("processed"),
            errors: self.root.join("errors"),
            outbox: self.root.join("outbox"),
        };
        let recorded = async {
            let mut client =
                self.pool.get().await.map_err(|e| failure(format!("the server is busy: {e}")))?;
            account::record_upload(&mut **client, &self.login, &queued, &name, &delivery).await.map_err(
                |error| {
                    tracing::warn!(%error, "recording an SFTP upload");
                    failure("the upload could not be recorded; upload it again")
                },
            )
        };
        let outcome = match recorded.await {
            Ok(outcome) => outcome,
            Err(reply) => {
                // Not recorded, not imported: nothing of it stays, and the client is told.
                let _ = tokio::fs::remove_file(&queued).await;
                let _ = tokio::fs::remove_file(path).await;
                return Err(reply);
            }
        };
        match outcome {
            UploadOutcome::Queued { job_id } => {
                tracing::info!(account = self.login.account_id, job_id, file = %name, "SFTP upload queued for import");
            }
            UploadOutcome::Duplicate => {
                tracing::info!(account = self.login.account_id, file = %name, "SFTP upload is a duplicate; not imported");
                let _ = tokio::fs::remove_file(&queued).await;
                let note = self.root.join("outbox").join(account::fit_name(&name, ".duplicate.txt"));
                let _ = tokio::fs::write(
                    &note,
                    format!("{name} has the same content as an earlier upload; it was not imported again.\n"),
                )
                .await;
                // Clients confirm an upload with a stat of its name right after closing it
                // (paramiko's put does): the name stays a moment before it goes.
                let (visible, processed) = (path.to_path_buf(), self.root.join("processed"));
                tokio::spawn(async move {
                    tokio::time::sleep(account::SETTLE).await;
                    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
                    let to = processed.join(account::fit_name(&format!("duplicate-{stamp}-"), &name));
                    let _ = tokio::fs::rename(visible, to).await;
                });
            }
        }
        Ok(())
    }
}

/// How long an upload may go without a write before its temporary file is taken for
/// abandoned: longer than the server's inactivity timeout, after which no session that
/// could still write it is alive.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Removes the temporary files of uploads whose server died mid-way (a `kill -9`, a lost
/// machine): nothing else would, and they count against the quota.
async fn remove_abandoned_uploads(inbox: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(inbox).await else { return };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(UPLOADING) {
            continue;
        }
        let stale = entry
            .metadata()
            .await
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ABANDONED_AFTER));
        if stale && tokio::fs::remove_file(entry.path()).await.is_ok() {
            tracing::info!(file = %entry.path().display(), "removed an upload abandoned by a server that stopped");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A name an upload may take: printable, not hidden, short enough that every name made
/// from it fits the file system.
fn check_name(name: &str) -> Result<(), StatusReply> {
    if name.starts_with('.') {
        return Err(denied("names starting with '.' are not accepted"));
    }
    if name.chars().any(char::is_control) {
        return Err(StatusCode::BadMessage.with_message("a file name may not hold control characters"));
    }
    if name.len() > account::MAX_NAME_BYTES {
        return Err(StatusCode::BadMessage.with_message(format!(
            "the name is {} bytes long; at most {} are accepted",
            name.len(),
            account::MAX_NAME_BYTES
        )));
    }
    Ok(())
}

impl Drop for Partner {
    /// A connection cut mid-upload: the temporary files go; nothing is imported.
    fn drop(&mut self) {
        for open in self.handles.values() {
            if let Open::Upload(upload) = open {
                let _ = std::fs::remove_file(&upload.temporary);
                tracing::info!(account = self.login.account_id, file = %upload.destination.display(), "SFTP upload left unfinished; discarded");
            }
        }
    }
}

async fn attributes(path: &Path) -> Result<FileAttributes, StatusReply> {
    let meta = tokio::fs::symlink_metadata(path).await.map_err(io_error)?;
    Ok(FileAttributes::from(&meta))
}

impl russh_sftp::server::Handler for Partner {
    type Error = StatusReply;

    fn unimplemented(&self) -> StatusReply {
        StatusCode::OpUnsupported.with_message("not supported")
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, StatusReply> {
        Ok(Version::new())
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, StatusReply> {
        let parts = confine(&path)?;
        Ok(Name { id, files: vec![File::dummy(virtual_path(&parts))] })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, StatusReply> {
        let (_, real) = self.resolve(&path).await?;
        Ok(Attrs { id, attrs: attributes(&real).await? })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, StatusReply> {
        self.stat(id, path).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, StatusReply> {
        let meta = match self.handles.get(&handle) {
            Some(Open::Read(file)) => file.metadata().await.map_err(io_error)?,
            Some(Open::Upload(upload)) => upload.file.metadata().await.map_err(io_error)?,
            _ => return Err(StatusCode::Failure.with_message("not a file handle")),
        };
        Ok(Attrs { id, attrs: FileAttributes::from(&meta) })
    }

    async fn setstat(
        &mut self,
        id: u32,
        _path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, StatusReply> {
        // Clients set times and modes after an upload; the server keeps its own.
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        _handle: String,
        _attrs: FileAttributes,
    ) -> Result<Status, StatusReply> {
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, StatusReply> {
        let (_, real) = self.resolve(&path).await?;
        let mut read = tokio::fs::read_dir(&real).await.map_err(io_error)?;
        let mut entries = Vec::new();
        while let Some(entry) = read.next_entry().await.map_err(io_error)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().await.map_err(io_error)?;
            if meta.file_type().is_symlink() {
                continue;
            }
            entries.push(File::new(name, FileAttributes::from(&meta)));
        }
        Ok(Handle { id, handle: self.handle(Open::Dir { entries, sent: false }) })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, StatusReply> {
        match self.handles.get_mut(&handle) {
            Some(Open::Dir { entries, sent }) if !*sent => {
                *sent = true;
                Ok(Name { id, files: std::mem::take(entries) })
            }
            Some(Open::Dir { .. }) => Err(StatusCode::Eof.into()),
            _ => Err(StatusCode::Failure.with_message("not a directory handle")),
        }
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        flags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, StatusReply> {
        let (parts, real) = self.resolve(&filename).await?;
        let writes =
            flags.intersects(OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREATE | OpenFlags::TRUNCATE);
        let open = if writes {
            Open::Upload(self.start_upload(&parts, real).await?)
        } else {
            Open::Read(tokio::fs::File::open(&real).await.map_err(io_error)?)
        };
        Ok(Handle { id, handle: self.handle(open) })
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> Result<Data, StatusReply> {
        let Some(Open::Read(file)) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure.with_message("not open for reading"));
        };
        file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io_error)?;
        let mut data = vec![0u8; len.min(READ_MAX) as usize];
        let read = file.read(&mut data).await.map_err(io_error)?;
        if read == 0 {
            return Err(StatusCode::Eof.into());
        }
        data.truncate(read);
        Ok(Data { id, data })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, StatusReply> {
        let Some(Open::Upload(upload)) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure.with_message("not open for writing"));
        };
        let end = offset + data.len() as u64;
        if end > upload.room {
            upload.broken = true;
            return Err(failure(format!(
                "quota: /inbox may hold {} more bytes; this file would need {end}",
                upload.room
            )));
        }
        let written = async {
            upload.file.seek(std::io::SeekFrom::Start(offset)).await?;
            upload.file.write_all(&data).await
        };
        if let Err(error) = written.await {
            upload.broken = true;
            return Err(io_error(error));
        }
        upload.written = upload.written.max(end);
        Ok(ok(id))
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, StatusReply> {
        match self.handles.remove(&handle) {
            Some(Open::Upload(upload)) => self.finish_upload(upload).await?,
            Some(_) => {}
            None => return Err(StatusCode::Failure.with_message("no such handle")),
        }
        Ok(ok(id))
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, StatusReply> {
        let (parts, real) = self.resolve(&filename).await?;
        if parts.len() != 2 || !["inbox", "outbox"].contains(&parts[0].as_str()) {
            return Err(denied("only files in /inbox and /outbox can be removed"));
        }
        tokio::fs::remove_file(&real).await.map_err(io_error)?;
        Ok(ok(id))
    }

    async fn rename(&mut self, id: u32, from: String, to: String) -> Result<Status, StatusReply> {
        let (from_parts, from_real) = self.resolve(&from).await?;
        let (to_parts, to_real) = self.resolve(&to).await?;
        let in_inbox =
            |parts: &[String]| parts.len() == 2 && parts[0] == "inbox" && !parts[1].starts_with('.');
        if !in_inbox(&from_parts) || !in_inbox(&to_parts) {
            return Err(denied("files can be renamed within /inbox only"));
        }
        check_name(&to_parts[1])?;
        tokio::fs::rename(&from_real, &to_real).await.map_err(io_error)?;
        // A client that uploads under a temporary name renames it when it is done.
        if is_partial(&from_parts[1]) {
            self.arrived(&to_real).await?;
        }
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        _id: u32,
        _path: String,
        _attrs: FileAttributes,
    ) -> Result<Status, StatusReply> {
        Err(denied("folders cannot be made"))
    }

    async fn rmdir(&mut self, _id: u32, _path: String) -> Result<Status, StatusReply> {
        Err(denied("folders cannot be removed"))
    }

    async fn symlink(
        &mut self,
        _id: u32,
        _linkpath: String,
        _targetpath: String,
    ) -> Result<Status, StatusReply> {
        Err(denied("links cannot be made"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        assert_eq!(confine("/inbox/a.csv").unwrap(), ["inbox", "a.csv"]);
        assert_eq!(confine("inbox/../outbox/./b").unwrap(), ["outbox", "b"]);
        assert_eq!(confine("/").unwrap(), Vec::<String>::new());
        assert!(confine("..").is_err());
        assert!(confine("/inbox/../../etc/passwd").is_err());
        assert_eq!(virtual_path(&confine("/../").unwrap_or_default()), "/");
    }
}
