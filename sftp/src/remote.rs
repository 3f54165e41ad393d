//! Dialpool as an SFTP client of remote hosts: pulling providers' number files or
//! dialers' outcome files, pushing exports, and testing a connection.
//!
//! A host is trusted only by the key an administrator confirmed. Before one is
//! confirmed, and whenever the host offers another, the connection stops at the key
//! exchange, so no password or key signature ever reaches an unconfirmed host; the key
//! it offered is recorded for the administrator to compare.
//!
//! A pull downloads each new file that matches the remote's pattern to a hidden local
//! name while hashing it, checks the remote file did not change meanwhile, and then in
//! one transaction records its fingerprint and queues its import. Only after that commit
//! is the remote file deleted or moved, so a crash in between leaves the file to be
//! recognised (fingerprint) and tidied on the next pull, never imported twice.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dialpool_engine::TenantId;
use dialpool_engine::delivery::sftp::remote::{
    self as sftp_remote, AfterPull, ConnectionTest, Direction, Endpoint, RemoteFile, TransferredFile,
};
use dialpool_engine::intake::import::Deliver;
use dialpool_engine::platform::secret::SecretKey;
use dialpool_engine::{Error, Result};
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A host silent this long mid-transfer is given up on (the job retries later).
const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(120);
const CHUNK: usize = 256 * 1024;

/// Accepts only the confirmed host key, and remembers what the host offered.
struct Verifier {
    confirmed: Option<PublicKey>,
    offered: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(&mut self, offered: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        *self.offered.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.clone());
        Ok(self.confirmed.as_ref().is_some_and(|confirmed| confirmed.key_data() == key.key_data()))
    }
}

/// Where opening a session stopped.
#[derive(Debug)]
enum OpenError {
    Connect(String),
    /// No key confirmed yet, or another key offered (with the fingerprints).
    HostKey {
        offered: Option<String>,
        confirmed: Option<String>,
    },
    SignIn(String),
    Sftp(String),
}

impl OpenError {
    fn stage(&self) -> &'static str {
        match self {
            OpenError::Connect(_) => "connect",
            OpenError::HostKey { .. } => "host_key",
            OpenError::SignIn(_) => "sign_in",
            OpenError::Sftp(_) => "sftp",
        }
    }

    fn message(&self, remote_id: i64) -> String {
        match self {
            OpenError::Connect(message) | OpenError::SignIn(message) | OpenError::Sftp(message) => {
                message.clone()
            }
            OpenError::HostKey { offered, confirmed: None } => format!(
                "the host's key {} is not confirmed yet; compare it with the host's administrator, then confirm it \
                 (dialpool sftp remote trust {remote_id} {0})",
                offered.as_deref().unwrap_or("(none offered)")
            ),
            OpenError::HostKey { offered, confirmed: Some(confirmed) } => format!(
                "host key mismatch: the host offered {} but {confirmed} is confirmed; refusing to connect (a changed \
                 key can mean someone is in between; confirm the new key only if the host's administrator says it \
                 changed)",
                offered.as_deref().unwrap_or("(none)")
            ),
        }
    }
}

struct Session {
    sftp: SftpSession,
    handle: client::Handle<Verifier>,
}

impl Session {
    async fn close(self) {
        let _ = self.sftp.close().await;
        let _ = self.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }
}

fn label(endpoint: &Endpoint) -> String {
    let remote = &endpoint.remote;
    format!("{}@{}:{}", remote.username, remote.host, remote.port)
}

async fn open_session(pool: &deadpool_postgres::Pool, endpoint: &Endpoint) -> Result<Session, OpenError> {
    let remote = &endpoint.remote;
    let confirmed = match &endpoint.host_key {
        Some(line) => Some(
            PublicKey::from_openssh(line)
                .map_err(|e| OpenError::Connect(format!("the confirmed host key is unreadable: {e}")))?,
        ),
        None => None,
    };
    let offered = Arc::new(Mutex::new(None));
    let verifier = Verifier { confirmed, offered: offered.clone() };
    let config =
        Arc::new(client::Config { inactivity_timeout: Some(INACTIVITY_TIMEOUT), ..Default::default() });
    let address = (remote.host.clone(), remote.port as u16);
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, client::connect(config, address, verifier)).await;
    let mut handle = match connected {
        Err(_) => {
            return Err(OpenError::Connect(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())));
        }
        Ok(Ok(handle)) => handle,
        Ok(Err(error)) => {
            let offered = offered.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return Err(match (error, offered) {
                (russh::Error::UnknownKey, Some(key)) => {
                    let line = key.to_openssh().unwrap_or_default();
                    if let Ok(client) = pool.get().await
                        && let Err(error) =
                            sftp_remote::record_offered_host_key(&**client, remote.id, &line).await
                    {
                        tracing::warn!(remote = remote.id, %error, "recording the offered host key");
                    }
                    OpenError::HostKey {
                        offered: sftp_remote::fingerprint(&line),
                        confirmed: remote.host_key_fingerprint.clone(),
                    }
                }
                (error, _) => OpenError::Connect(format!("cannot connect: {error}")),
            });
        }
    };
    let mut signed_in = false;
    let mut refusals = Vec::new();
    if let Some(pem) = &endpoint.private_key {
        let key = russh::keys::decode_secret_key(pem, None)
            .map_err(|e| OpenError::SignIn(format!("the stored private key is unreadable: {e}")))?;
        let hash = handle.best_supported_rsa_hash().await.ok().flatten().flatten();
        let result = handle
            .authenticate_publickey(&remote.username, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| OpenError::SignIn(format!("signing in with the key: {e}")))?;
        signed_in = result.success();
        refusals.push("key");
    }
    if !signed_in && let Some(password) = &endpoint.password {
        let result = handle
            .authenticate_password(&remote.username, password)
            .await
            .map_err(|e| OpenError::SignIn(format!("signing in with the password: {e}")))?;
        signed_in = result.success();
        refusals.push("password");
    }
    if !signed_in {
        return Err(OpenError::SignIn(format!(
            "the host refused {} as user '{}'",
            refusals.join(" and "),
            remote.username
        )));
    }
    let sftp_failed = |e: &dyn std::fmt::Display| OpenError::Sftp(format!("starting SFTP: {e}"));
    let channel = handle.channel_open_session().await.map_err(|e| sftp_failed(&e))?;
    channel.request_subsystem(true, "sftp").await.map_err(|e| sftp_failed(&e))?;
    let sftp = SftpSession::new(channel.into_stream()).await.map_err(|e| sftp_failed(&e))?;
    Ok(Session { sftp, handle })
}

async fn open(pool: &deadpool_postgres::Pool, endpoint: &Endpoint) -> Result<Session> {
    open_session(pool, endpoint).await.map_err(|error| Error::Remote {
        remote: label(endpoint),
        message: error.message(endpoint.remote.id),
    })
}

fn remote_path(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_owned()
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// Signs in, lists the remote folder and counts the files the pattern matches. Stops at
/// the host key when it is not the confirmed one, and says which key was offered.
pub async fn test(
    pool: &deadpool_postgres::Pool,
    key: &SecretKey,
    tenant: TenantId,
    id: i64,
) -> Result<ConnectionTest> {
    let endpoint = {
        let client = pool.get().await?;
        sftp_remote::endpoint(&**client, key, tenant, id).await?
    };
    let mut report = ConnectionTest {
        ok: false,
        stage: "connect".into(),
        message: String::new(),
        host_key_fingerprint: endpoint.remote.host_key_fingerprint.clone(),
        offered_host_key_fingerprint: None,
        matching_files: None,
    };
    let session = match open_session(pool, &endpoint).await {
        Ok(session) => session,
        Err(error) => {
            report.stage = error.stage().into();
            report.message = error.message(id);
            if let OpenError::HostKey { offered, .. } = error {
                report.offered_host_key_fingerprint = offered;
            }
            return Ok(report);
        }
    };
    report.stage = "directory".into();
    let listed = list_matching(&session.sftp, &endpoint).await;
    session.close().await;
    match listed {
        Ok(files) => {
            report.ok = true;
            report.stage = "ok".into();
            report.matching_files = Some(files.len() as i64);
            report.message = format!(
                "signed in to {}; '{}' holds {} file(s) matching '{}'",
                label(&endpoint),
                endpoint.remote.remote_dir,
                files.len(),
                endpoint.remote.file_pattern
            );
        }
        Err(error) => report.message = error.to_string(),
    }
    Ok(report)
}

async fn list_matching(sftp: &SftpSession, endpoint: &Endpoint) -> Result<Vec<RemoteFile>> {
    let remote = &endpoint.remote;
    let pattern = glob::Pattern::new(&remote.file_pattern)
        .map_err(|e| Error::invalid("file_pattern", format!("'{}': {e}", remote.file_pattern)))?;
    let entries = sftp.read_dir(remote.remote_dir.clone()).await.map_err(|e| Error::Remote {
        remote: label(endpoint),
        message: format!("listing '{}': {e}", remote.remote_dir),
    })?;
    let mut files: Vec<RemoteFile> = entries
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let metadata = entry.metadata();
            RemoteFile {
                name: entry.file_name(),
                bytes: metadata.size.unwrap_or(0) as i64,
                mtime: i64::from(metadata.mtime.unwrap_or(0)),
            }
        })
        .filter(|file| is_pullable_name(&file.name))
        .filter(|file| pattern.matches(&file.name))
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Whether a listed name is a file to pull: a plain name (a hostile host could list
/// `../x` or `a/b`, and the name becomes part of a local path), not hidden, not an
/// upload still under way.
fn is_pullable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
        && !name.starts_with('.')
        && !name.ends_with(".partial")
}

/// Holds the remote's transfer lock (a transaction-scoped advisory lock, released if
/// this process dies) so two workers never pull the same host at once.
async fn with_transfer_lock<T>(
    pool: &deadpool_postgres::Pool,
    remote_id: i64,
    work: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('sftp_remote:' || $1::bigint, 0))",
            &[&remote_id],
        )
        .await?
        .get(0);
    if !locked {
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

fn sftp_error(endpoint: &Endpoint, doing: String) -> impl FnOnce(russh_sftp::client::error::Error) -> Error {
    let remote = label(endpoint);
    move |e| Error::Remote { remote, message: format!("{doing}: {e}") }
}

async fn pull_files(
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

async fn push_files(
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

#[cfg(test)]
mod tests {
    use super::is_pullable_name;

    #[test]
    fn only_plain_finished_names_are_pulled() {
        for name in ["leads.csv", "leads 2026-11-21.xlsx", "номера.csv"] {
            assert!(is_pullable_name(name), "{name}");
        }
        for name in
            ["", "../x.csv", "a/b.csv", "..\\x.csv", ".hidden.csv", "big.csv.partial", "x\n.csv", "..", "."]
        {
            assert!(!is_pullable_name(name), "{name:?}");
        }
    }
}
