//! Random secrets, their digests, and passwords: the policy and Argon2id hashing.

use crate::platform::error::{Error, Result};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

// Secrets

/// A fresh random secret, URL-safe, 256 bits.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn secret_digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub const TOKEN_PREFIX: &str = "dp_";

pub fn validate_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if !(10..=256).contains(&length) {
        return Err(Error::invalid("password", "must be 10 to 256 characters"));
    }
    Ok(())
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Worker(format!("password hashing: {e}")))
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))?
}

pub(crate) async fn verify_password(password: &str, hash: Option<String>) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        // An unknown account still pays for one verification, so timing does not tell
        // which addresses have accounts.
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default().hash_password(random_secret().as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}
