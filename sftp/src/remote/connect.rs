//! Signing in to a remote host: the host key checked against the confirmed one before
//! any credential is sent, and the connection test.

use dialpool_engine::TenantId;
use dialpool_engine::delivery::sftp::remote::{self as sftp_remote, ConnectionTest, Endpoint, RemoteFile};
use dialpool_engine::platform::secret::SecretKey;
use dialpool_engine::{Error, Result};
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A host silent this long mid-transfer is given up on (the job retries later).
const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(120);
pub(super) const CHUNK: usize = 256 * 1024;

/// Accepts only the confirmed host key, and remembers what the host offered.
pub(super) struct Verifier {
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

pub(super) struct Session {
    pub(super) sftp: SftpSession,
    pub(super) handle: client::Handle<Verifier>,
}

impl Session {
    pub(super) async fn close(self) {
        let _ = self.sftp.close().await;
        let _ = self.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }
}

pub(super) fn label(endpoint: &Endpoint) -> String {
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

pub(super) async fn open(pool: &deadpool_postgres::Pool, endpoint: &Endpoint) -> Result<Session> {
    open_session(pool, endpoint).await.map_err(|error| Error::Remote {
        remote: label(endpoint),
        message: error.message(endpoint.remote.id),
    })
}

pub(super) fn remote_path(dir: &str, name: &str) -> String {
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

pub(super) async fn list_matching(sftp: &SftpSession, endpoint: &Endpoint) -> Result<Vec<RemoteFile>> {
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
pub(super) fn is_pullable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
        && !name.starts_with('.')
        && !name.ends_with(".partial")
}
