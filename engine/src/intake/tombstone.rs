//! Tombstones: what is left of an erased number. A tombstone is the number's HMAC-SHA256
//! under a key derived from the installation's secret key, so the database alone cannot
//! tell which numbers were erased, while every way a number comes in (a file, an SFTP
//! drop, a remote pull, an upload) can still recognise one and refuse it.
//!
//! An import loads the first 8 bytes of every live tombstone into a set (16 bytes per
//! tombstone in memory; a million tombstones is 16 MB), hashes each number it reads
//! against it on the reader's thread, and confirms the rare hits against the full hashes
//! in the database before refusing a row.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rustc_hash::FxHashSet;
use sha2::Sha256;
use tokio_postgres::GenericClient;

use crate::platform::TenantId;
use crate::platform::error::{Error, Result};
use crate::platform::secret::{SecretKey, hex};

type HmacSha256 = Hmac<Sha256>;

/// Hashes numbers for tombstones.
#[derive(Clone)]
pub struct TombstoneKey {
    mac: HmacSha256,
    key_id: [u8; 4],
}

impl std::fmt::Debug for TombstoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TombstoneKey({})", hex(&self.key_id))
    }
}

impl TombstoneKey {
    pub fn new(secret: &SecretKey) -> TombstoneKey {
        let mac = HmacSha256::new_from_slice(&secret.derive("tombstone")).expect("HMAC takes any key length");
        TombstoneKey { mac, key_id: secret.id() }
    }

    /// The tombstone hash of an E.164 number (its digits as a decimal string, so the
    /// hash does not depend on how the number is stored).
    pub fn hash(&self, e164: i64) -> [u8; 32] {
        let mut mac = self.mac.clone();
        let mut digits = itoa_buffer(e164);
        mac.update(digits.as_bytes_mut());
        mac.finalize().into_bytes().into()
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }
}

/// The number's decimal digits without allocating.
struct Digits {
    buffer: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buffer[self.start..]
    }
}

fn itoa_buffer(mut value: i64) -> Digits {
    let mut buffer = [0u8; 20];
    let mut start = buffer.len();
    if value == 0 {
        start -= 1;
        buffer[start] = b'0';
    }
    while value > 0 {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    Digits { buffer, start }
}

fn prefix(hash: &[u8; 32]) -> u64 {
    u64::from_le_bytes(hash[..8].try_into().expect("8 bytes"))
}

/// The live tombstones of a tenant, for the reader to test numbers against.
#[derive(Debug)]
pub struct TombstoneFilter {
    key: TombstoneKey,
    prefixes: FxHashSet<u64>,
}

impl TombstoneFilter {
    /// The number's hash when it may be tombstoned (to be confirmed), else `None`.
    pub fn candidate(&self, e164: i64) -> Option<[u8; 32]> {
        let hash = self.key.hash(e164);
        self.prefixes.contains(&prefix(&hash)).then_some(hash)
    }
}

/// The tenant's live tombstones as a filter, or `None` when it has none (then nothing is
/// hashed). Refuses when there are tombstones and no key, or they were made with another
/// key: either way every erased number would come back unnoticed.
pub async fn load_filter(
    client: &impl GenericClient,
    tenant: TenantId,
    secret: Option<&SecretKey>,
) -> Result<Option<Arc<TombstoneFilter>>> {
    let any: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM erasure_tombstones WHERE tenant_id = $1 AND lifted_at IS NULL)",
            &[&tenant.0],
        )
        .await?
        .get(0);
    if !any {
        return Ok(None);
    }
    let Some(secret) = secret else {
        return Err(Error::Refused(
            "this tenant has erased numbers and this import was started without the installation's secret key, \
             so it could not recognise them; nothing was imported (run it where DIALPOOL_SECRET_KEY or the data \
             directory's secret.key is configured)"
                .into(),
        ));
    };
    let key = TombstoneKey::new(secret);
    let foreign = client
        .query_opt(
            "SELECT key_id FROM erasure_tombstones WHERE tenant_id = $1 AND lifted_at IS NULL AND key_id <> $2 LIMIT 1",
            &[&tenant.0, &key.key_id().as_slice()],
        )
        .await?;
    if let Some(row) = foreign {
        let other: Vec<u8> = row.get(0);
        return Err(Error::Refused(format!(
            "the erased numbers were recorded with secret key {} and this process has key {}; with another key \
             it cannot recognise them, so nothing was imported (configure the key the erasures were made with)",
            hex(&other),
            hex(&key.key_id())
        )));
    }
    let rows = client
        .query(
            "SELECT substring(hash FROM 1 FOR 8) FROM erasure_tombstones WHERE tenant_id = $1 AND lifted_at IS NULL",
            &[&tenant.0],
        )
        .await?;
    let mut prefixes = FxHashSet::with_capacity_and_hasher(rows.len(), Default::default());
    for row in rows {
        let bytes: &[u8] = row.get(0);
        prefixes.insert(u64::from_le_bytes(
            bytes.try_into().map_err(|_| Error::Worker("tombstone prefix".into()))?,
        ));
    }
    Ok(Some(Arc::new(TombstoneFilter { key, prefixes })))
}

/// A live tombstone: when the number was erased, and why.
#[derive(Debug, Clone)]
pub struct Tombstone {
    pub erased_at: DateTime<Utc>,
    pub reason: String,
}

impl Tombstone {
    /// What the rejects file says: "erased on 2026-12-01 at the subject's request".
    pub fn describe(&self) -> String {
        format!("erased on {} {}", self.erased_at.format("%Y-%m-%d"), self.reason)
    }
}

/// Which of `hashes` are live tombstones.
pub async fn confirm(
    client: &impl GenericClient,
    tenant: TenantId,
    hashes: &[[u8; 32]],
) -> Result<HashMap<[u8; 32], Tombstone>> {
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<&[u8]> = hashes.iter().map(|h| h.as_slice()).collect();
    let rows = client
        .query(
            "SELECT hash, erased_at, reason FROM erasure_tombstones
              WHERE tenant_id = $1 AND hash = ANY($2) AND lifted_at IS NULL",
            &[&tenant.0, &keys],
        )
        .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let hash: &[u8] = row.get(0);
        let hash: [u8; 32] = hash.try_into().map_err(|_| Error::Worker("tombstone hash".into()))?;
        found.insert(hash, Tombstone { erased_at: row.get(1), reason: row.get(2) });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_tombstone_hash_depends_on_the_number_and_the_key_and_never_holds_the_number() {
        let a = TombstoneKey::new(&key(1));
        let b = TombstoneKey::new(&key(2));
        let h = a.hash(79_161_234_567);
        assert_eq!(h, a.hash(79_161_234_567));
        assert_ne!(h, a.hash(79_161_234_568));
        assert_ne!(h, b.hash(79_161_234_567));
        let digits = b"79161234567";
        assert!(!h.windows(digits.len()).any(|w| w == digits));
        assert_eq!(itoa_buffer(0).as_bytes_mut(), b"0");
        assert_eq!(itoa_buffer(999_999_999_999_999).as_bytes_mut(), b"999999999999999");
    }
}
