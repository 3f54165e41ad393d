//! The installation's secret key, and sealing with it: credentials Dialpool must use in
//! the clear later (a remote SFTP host's password or private key) are stored sealed with
//! AES-256-GCM, so a copy of the database alone opens nothing.
//!
//! The key comes from configuration: `DIALPOOL_SECRET_KEY` (32 bytes, base64), else the
//! file `<data dir>/secret.key`, generated on first use. Every process that opens sealed
//! values (the API and the workers) must see the same key.

use std::path::Path;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use sha2::Digest;

use crate::platform::error::{Error, Result};

/// Sealed values start with this, then the key's id, the nonce and the ciphertext.
const VERSION: &[u8; 3] = b"dp1";
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;

pub const ENV: &str = "DIALPOOL_SECRET_KEY";

#[derive(Clone)]
pub struct SecretKey {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", hex(&self.id()))
    }
}

impl SecretKey {
    /// The configured key: the environment's, else the data directory's (created when
    /// missing, readable by its owner only).
    pub fn load(data_dir: &Path) -> Result<SecretKey> {
        SecretKey::load_with(std::env::var(ENV).ok(), data_dir)
    }

    /// The configured key if there is one; never generates a key (for a process that only
    /// needs one when the database says so, like a command-line import).
    pub fn load_existing(data_dir: &Path) -> Result<Option<SecretKey>> {
        let configured = std::env::var(ENV).ok();
        if configured.is_none() && !data_dir.join("secret.key").exists() {
            return Ok(None);
        }
        SecretKey::load_with(configured, data_dir).map(Some)
    }

    fn load_with(configured: Option<String>, data_dir: &Path) -> Result<SecretKey> {
        if let Some(text) = configured {
            return SecretKey::from_base64(&text)
                .map_err(|message| Error::invalid("DIALPOOL_SECRET_KEY", message));
        }
        let path = data_dir.join("secret.key");
        let failed = |e: std::io::Error| Error::io(format!("the secret key {}", path.display()), e);
        match std::fs::read_to_string(&path) {
            Ok(text) => SecretKey::from_base64(&text)
                .map_err(|message| failed(std::io::Error::new(std::io::ErrorKind::InvalidData, message))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| failed(std::io::Error::other(e.to_string())))?;
                std::fs::create_dir_all(data_dir).map_err(failed)?;
                let text = base64::engine::general_purpose::STANDARD.encode(key);
                match write_new_private(&path, text.as_bytes()) {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "generated the secret key for sealed credentials");
                        Ok(SecretKey { key })
                    }
                    // Another process created it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                        SecretKey::load_with(None, data_dir)
                    }
                    Err(error) => Err(failed(error)),
                }
            }
            Err(error) => Err(failed(error)),
        }
    }

    pub fn from_base64(text: &str) -> std::result::Result<SecretKey, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("is not base64: {e}"))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("is {} bytes; it must be 32", b.len()))?;
        Ok(SecretKey { key })
    }

    /// A key for one purpose (`"tombstone"`), derived from this one, so that no two
    /// uses share key material.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut digest = sha2::Sha256::new();
        digest.update(b"dialpool derived key\0");
        digest.update(purpose.as_bytes());
        digest.update(b"\0");
        digest.update(self.key);
        digest.finalize().into()
    }

    /// Names the key without revealing it, so a value sealed with another key is told
    /// apart from a damaged one.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        let digest = sha2::Sha256::digest(self.key);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }

    /// Seals `plain`; `context` (what the value is, e.g. "sftp_remote.password") must be
    /// given again to open it, so a sealed value cannot be moved to another field.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.key).map_err(|e| Error::Worker(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::Worker(e.to_string()))?;
        let sealed = cipher
            .encrypt(&nonce.into(), Payload { msg: plain, aad: context.as_bytes() })
            .map_err(|_| Error::Worker("sealing failed".into()))?;
        let mut out = Vec::with_capacity(VERSION.len() + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(VERSION);
        out.extend_from_slice(&self.id());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let header = VERSION.len() + KEY_ID_LEN + NONCE_LEN;
        if sealed.len() < header || &sealed[..VERSION.len()] != VERSION {
            return Err(Error::Refused(format!("the stored {context} is not a sealed value")));
        }
        let key_id = &sealed[VERSION.len()..VERSION.len() + KEY_ID_LEN];
        if key_id != self.id() {
            return Err(Error::Refused(format!(
                "the stored {context} was sealed with another secret key (id {}; this installation's is {}); \
                 configure that key or enter the {context} again",
                hex(key_id),
                hex(&self.id())
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(&self.key).map_err(|e| Error::Worker(e.to_string()))?;
        let nonce: [u8; NONCE_LEN] = sealed[VERSION.len() + KEY_ID_LEN..header]
            .try_into()
            .map_err(|_| Error::Worker("nonce".into()))?;
        cipher
            .decrypt(&nonce.into(), Payload { msg: &sealed[header..], aad: context.as_bytes() })
            .map_err(|_| Error::Refused(format!("the stored {context} is damaged and cannot be opened")))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_new_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key =
            SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap();
        let other =
            SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([8u8; 32])).unwrap();
        let sealed = key.seal("sftp_remote.password", b"hunter2-hunter2").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"), "the clear text must not appear");
        assert_eq!(key.open("sftp_remote.password", &sealed).unwrap(), b"hunter2-hunter2");
        assert_ne!(
            key.seal("sftp_remote.password", b"hunter2-hunter2").unwrap(),
            sealed,
            "fresh nonce each time"
        );
        let moved = key.open("sftp_remote.private_key", &sealed).unwrap_err().to_string();
        assert!(moved.contains("damaged"), "{moved}");
        let wrong = other.open("sftp_remote.password", &sealed).unwrap_err().to_string();
        assert!(wrong.contains("another secret key"), "{wrong}");
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open("sftp_remote.password", &flipped).is_err());
        assert!(SecretKey::from_base64("c2hvcnQ=").unwrap_err().contains("32"));
    }

    #[test]
    fn the_data_directory_key_is_generated_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("dialpool-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = SecretKey::load_with(None, &dir).unwrap();
        let second = SecretKey::load_with(None, &dir).unwrap();
        assert_eq!(first.key, second.key);
        let configured =
            SecretKey::load_with(Some(base64::engine::general_purpose::STANDARD.encode([9u8; 32])), &dir);
        assert_eq!(configured.unwrap().key, [9u8; 32], "the configured key wins over the file");
        let mode = std::fs::metadata(dir.join("secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
