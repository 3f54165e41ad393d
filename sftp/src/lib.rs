//! Dialpool over SSH, between the `dialpool` binary and the engine (the only crate that
//! depends on russh): the partners' drop server here, and the client of remote hosts in
//! [`remote`]. Both record what they move through engine functions.
//!
//! The embedded SFTP drop server. Partners sign in with their account's password or
//! public key and see only their own root, `<data dir>/sftp/<account id>/`, holding
//! `inbox/`, `outbox/`, `processed/` and `errors/`. A file uploaded into `inbox/` is
//! written under a hidden temporary name and takes its real name only when its handle
//! closes; then it is hashed and becomes an import job (or, when this account uploaded
//! the same content before, a recorded duplicate). A connection cut mid-upload leaves
//! only the temporary file, which is deleted. No shell, no commands, no forwarding.

mod fs;
pub mod remote;
mod ssh;
mod throttle;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dialpool_engine::{Error, Result};
use russh::keys::{Algorithm, PrivateKey};
use russh::server::Server as _;

pub use throttle::Throttle;

#[derive(Debug, Clone)]
pub struct SftpConfig {
    pub listen: SocketAddr,
    /// Accounts' roots live under `<data_dir>/sftp/`; the host key beside them.
    pub data_dir: PathBuf,
}

pub use dialpool_engine::delivery::sftp::account::root as account_root;

/// The server's host key: generated on first start and kept, so partners' clients keep
/// trusting the server.
pub fn host_key(data_dir: &Path) -> Result<PrivateKey> {
    let path = data_dir.join("sftp_host_ed25519_key");
    let failed = |e: std::io::Error| Error::io(format!("the SFTP host key {}", path.display()), e);
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(failed)?;
        return PrivateKey::from_openssh(text.as_bytes())
            .map_err(|e| failed(std::io::Error::other(e.to_string())));
    }
    std::fs::create_dir_all(data_dir).map_err(failed)?;
    let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .map_err(|e| failed(std::io::Error::other(e.to_string())))?;
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| failed(std::io::Error::other(e.to_string())))?;
    write_private(&path, text.as_bytes()).map_err(failed)?;
    tracing::info!(path = %path.display(), fingerprint = %key.public_key().fingerprint(Default::default()), "generated the SFTP host key");
    Ok(key)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)
}

/// A listening SFTP server.
pub struct Bound {
    listener: tokio::net::TcpListener,
    server: ssh::Server,
    config: Arc<russh::server::Config>,
}

impl Bound {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends (or the task is aborted).
    pub async fn run(mut self) -> Result<()> {
        self.server
            .run_on_socket(self.config, &self.listener)
            .await
            .map_err(|e| Error::io("serving SFTP".to_string(), e))
    }
}

/// Binds the SFTP port with the kept host key.
pub async fn bind(pool: deadpool_postgres::Pool, config: SftpConfig) -> Result<Bound> {
    let key = host_key(&config.data_dir)?;
    let ssh_config = russh::server::Config {
        keys: vec![key],
        // A wrong password costs the client this long, every time.
        auth_rejection_time: Duration::from_secs(1),
        auth_rejection_time_initial: Some(Duration::from_millis(0)),
        max_auth_attempts: 6,
        // What partners sign in with, and nothing else: a client that sees `none` or
        // `keyboard-interactive` offered may wait on them.
        methods: ssh::METHODS.into(),
        inactivity_timeout: Some(Duration::from_secs(600)),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::io(format!("listening for SFTP on {}", config.listen), e))?;
    let server = ssh::Server::new(pool, config.data_dir.clone(), Arc::new(Throttle::default()));
    Ok(Bound { listener, server, config: Arc::new(ssh_config) })
}
