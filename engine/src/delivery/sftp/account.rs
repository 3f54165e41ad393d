//! Partner SFTP accounts and their uploads: who may sign in to the embedded SFTP server
//! (password or public key), which provider their files import as, their quotas; and the
//! record of every completed upload, which turns new content into an import job and
//! notes a repeat as a duplicate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio_postgres::GenericClient;

use crate::intake::import::{Deliver, ImportJob, ImportOptions};
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::job::{self, JobArgs};

/// The folders every account's root holds.
pub const FOLDERS: [&str; 4] = ["inbox", "outbox", "processed", "errors"];

/// Where an account's files live under the server's data directory.
pub fn root(data_dir: &std::path::Path, account_id: i64) -> std::path::PathBuf {
    data_dir.join("sftp").join(account_id.to_string())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SftpAccount {
    pub id: i64,
    pub tenant_id: i64,
    pub provider_id: i64,
    pub provider_code: String,
    pub username: String,
    pub has_password: bool,
    pub public_keys: Vec<String>,
    pub quota_bytes: i64,
    pub quota_files: i32,
    pub import_options: serde_json::Value,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub last_upload_at: Option<DateTime<Utc>>,
}

// Its Debug hides the password (see the impl below).
/// An account as an administrator writes it.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SftpAccountInput {
    pub username: String,
    pub provider_code: String,
    /// Set or replace the password (at least 10 characters); absent keeps it.
    pub password: Option<String>,
    /// OpenSSH public key lines; they replace the account's keys.
    #[serde(default)]
    pub public_keys: Vec<String>,
    pub quota_mb: Option<i64>,
    pub quota_files: Option<i32>,
    /// `region`, `format`, `encoding`, `on_duplicate`, `mapping` for its imports.
    #[serde(default = "empty_object")]
    pub import_options: serde_json::Value,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl std::fmt::Debug for SftpAccountInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpAccountInput")
            .field("username", &self.username)
            .field("provider_code", &self.provider_code)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("public_keys", &self.public_keys.len())
            .finish_non_exhaustive()
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}
fn yes() -> bool {
    true
}

const COLUMNS: &str = "a.id, a.tenant_id, a.provider_id, p.code AS provider_code, a.username,
    a.password_hash IS NOT NULL AS has_password, a.public_keys, a.quota_bytes, a.quota_files, a.import_options,
    a.enabled, a.created_at, a.last_login_at, a.last_upload_at
    FROM sftp_accounts a JOIN providers p ON p.tenant_id = a.tenant_id AND p.id = a.provider_id";

fn account(row: &tokio_postgres::Row) -> SftpAccount {
    SftpAccount {
        id: row.get("id"),
        tenant_id: row.get("tenant_id"),
        provider_id: row.get("provider_id"),
        provider_code: row.get("provider_code"),
        username: row.get("username"),
        has_password: row.get("has_password"),
        public_keys: row.get("public_keys"),
        quota_bytes: row.get("quota_bytes"),
        quota_files: row.get("quota_files"),
        import_options: row.get("import_options"),
        enabled: row.get("enabled"),
        created_at: row.get("created_at"),
        last_login_at: row.get("last_login_at"),
        last_upload_at: row.get("last_upload_at"),
    }
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<SftpAccount>> {
    let rows = client
        .query(&format!("SELECT {COLUMNS} WHERE a.tenant_id = $1 ORDER BY a.username"), &[&tenant.0])
        .await?;
    Ok(rows.iter().map(account).collect())
}

pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<SftpAccount> {
    client
        .query_opt(&format!("SELECT {COLUMNS} WHERE a.tenant_id = $1 AND a.id = $2"), &[&tenant.0, &id])
        .await?
        .map(|row| account(&row))
        .ok_or_else(|| Error::NotFound { entity: "sftp account", key: id.to_string() })
}

fn check_keys(keys: &[String]) -> Result<()> {
    for (i, key) in keys.iter().enumerate() {
        let fields: Vec<&str> = key.split_whitespace().collect();
        let decodes = fields.len() >= 2
            && fields[0].starts_with("ssh-") | fields[0].starts_with("ecdsa-")
            && base64::Engine::decode(&base64::engine::general_purpose::STANDARD, fields[1]).is_ok();
        if !decodes {
            return Err(Error::invalid(
                "public_keys",
                format!("key {} is not an OpenSSH public key line (\"ssh-ed25519 AAAA… comment\")", i + 1),
            ));
        }
    }
    Ok(())
}

/// Creates an account. Its password is hashed here; the clear text is never stored.
pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &SftpAccountInput,
) -> Result<SftpAccount> {
    check_keys(&input.public_keys)?;
    // Checked now, by the type the import job reads, so a misspelt option is the
    // administrator's to fix, not a partner's upload's to fail on.
    ImportOptions::from_json("import_options", &input.import_options)?;
    if input.password.is_none() && input.public_keys.is_empty() {
        return Err(Error::invalid("password", "an account needs a password or a public key"));
    }
    let hash = match &input.password {
        Some(password) => {
            crate::platform::access::validate_password(password)?;
            Some(crate::platform::access::hash_password(password).await?)
        }
        None => None,
    };
    let tx = client.transaction().await?;
    let provider = crate::intake::provider::find_by_code(&tx, tenant, &input.provider_code).await?;
    let inserted = tx
        .query_one(
            "INSERT INTO sftp_accounts (tenant_id, provider_id, username, password_hash, public_keys, quota_bytes,
                                        quota_files, import_options, enabled)
             VALUES ($1, $2, $3, $4, $5, COALESCE($6::bigint * 1048576, 10737418240), COALESCE($7::int4, 1000), $8, $9)
             RETURNING id",
            &[
                &tenant.0,
                &provider.id,
                &input.username,
                &hash,
                &input.public_keys,
                &input.quota_mb,
                &input.quota_files,
                &input.import_options,
                &input.enabled,
            ],
        )
        .await;
    let id: i64 = match inserted {
        Ok(row) => row.get(0),
        Err(error) if crate::platform::error::is_unique_violation(&error, "sftp_accounts_username_key") => {
            return Err(Error::AlreadyExists { entity: "sftp account", key: input.username.clone() });
        }
        Err(error) if crate::platform::error::is_check_violation(&error) => {
            return Err(Error::invalid(
                "username",
                "2 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let created = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("sftp_account.create", "sftp_account", id, &created))
        .await?;
    tx.commit().await?;
    Ok(created)
}

/// What the SFTP server needs to authenticate a login.
#[derive(Debug, Clone)]
pub struct Login {
    pub account_id: i64,
    pub tenant: TenantId,
    pub provider_code: String,
    pub password_hash: Option<String>,
    pub public_keys: Vec<String>,
    pub quota_bytes: i64,
    pub quota_files: i32,
    pub import_options: serde_json::Value,
}

/// The enabled account of this username, if any.
pub async fn login(client: &impl GenericClient, username: &str) -> Result<Option<Login>> {
    let row = client
        .query_opt(
            "SELECT a.id, a.tenant_id, p.code, a.password_hash, a.public_keys, a.quota_bytes, a.quota_files,
                    a.import_options
               FROM sftp_accounts a JOIN providers p ON p.tenant_id = a.tenant_id AND p.id = a.provider_id
              WHERE a.username = $1 AND a.enabled",
            &[&username],
        )
        .await?;
    Ok(row.map(|row| Login {
        account_id: row.get(0),
        tenant: TenantId(row.get(1)),
        provider_code: row.get(2),
        password_hash: row.get(3),
        public_keys: row.get(4),
        quota_bytes: row.get(5),
        quota_files: row.get(6),
        import_options: row.get(7),
    }))
}

pub async fn record_login(client: &impl GenericClient, account_id: i64) -> Result<()> {
    client.execute("UPDATE sftp_accounts SET last_login_at = now() WHERE id = $1", &[&account_id]).await?;
    Ok(())
}

/// Checks a password against an account's hash (argon2, off the async threads).
pub async fn verify_password(login: &Login, password: &str) -> bool {
    crate::platform::access::verify_password(password, login.password_hash.clone()).await
}

/// What became of a completed upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum UploadOutcome {
    /// Imported by this job.
    Queued { job_id: i64 },
    /// The same content was uploaded before (by this account); not imported again.
    Duplicate,
}

/// Records a completed upload at `path` (inside the account's `inbox/`): new content
/// becomes an import job, in the same transaction; content this account uploaded before
/// is recorded as a duplicate.
pub async fn record_upload(
    client: &mut impl GenericClient,
    login: &Login,
    path: &std::path::Path,
    file_name: &str,
    delivery: &Deliver,
) -> Result<UploadOutcome> {
    let owned = path.to_path_buf();
    let (bytes, sha256) = tokio::task::spawn_blocking(move || -> std::io::Result<(i64, Vec<u8>)> {
        use std::io::Read;
        let mut file = std::fs::File::open(&owned)?;
        let mut hasher = sha2::Sha256::new();
        let (mut bytes, mut buffer) = (0i64, vec![0u8; 1 << 20]);
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            bytes += read as i64;
        }
        Ok((bytes, hasher.finalize().to_vec()))
    })
    .await
    .map_err(|e| Error::Worker(e.to_string()))?
    .map_err(|e| Error::io(format!("reading the upload {}", path.display()), e))?;
    let tx = client.transaction().await?;
    tx.execute("UPDATE sftp_accounts SET last_upload_at = now() WHERE id = $1", &[&login.account_id]).await?;
    // Content counts as seen only while its import may still succeed or did: an upload
    // whose import failed for good gives way (its outcome becomes `failed`), so the
    // partner's corrected retry, or the same file after a fix on our side, is imported.
    tx.execute(
        "UPDATE sftp_uploads u SET outcome = 'failed'
           FROM jobs j
          WHERE u.account_id = $1 AND u.sha256 = $2 AND u.outcome = 'queued'
            AND j.id = u.job_id AND j.state IN ('dead', 'cancelled')",
        &[&login.account_id, &sha256],
    )
    .await?;
    // The partial unique index on queued content decides between two uploads of the same
    // content at once: the second finds the first's row and is a duplicate.
    let upload: Option<i64> = tx
        .query_opt(
            "INSERT INTO sftp_uploads (tenant_id, account_id, file_name, bytes, sha256, outcome)
             VALUES ($1, $2, $3, $4, $5, 'queued')
             ON CONFLICT (account_id, sha256) WHERE outcome = 'queued' DO NOTHING
             RETURNING id",
            &[&login.tenant.0, &login.account_id, &file_name, &bytes, &sha256],
        )
        .await?
        .map(|r| r.get(0));
    let outcome = match upload {
        None => {
            tx.execute(
                "INSERT INTO sftp_uploads (tenant_id, account_id, file_name, bytes, sha256, outcome)
                 VALUES ($1, $2, $3, $4, $5, 'duplicate')",
                &[&login.tenant.0, &login.account_id, &file_name, &bytes, &sha256],
            )
            .await?;
            UploadOutcome::Duplicate
        }
        Some(upload) => {
            let options = ImportOptions::from_json("import_options", &login.import_options)?;
            let mut import = ImportJob::new(login.provider_code.clone(), path.into(), options);
            import.file_name = Some(file_name.to_owned());
            // Rejects go straight to where the partner reads results.
            import.rejects_path = Some(
                std::path::Path::new(&delivery.outbox)
                    .join(fit_name(&format!("{file_name}.{upload}"), ".rejects.csv")),
            );
            import.deliver = Some(delivery.clone());
            let mut new = import.job(Some(login.tenant), None);
            new.unique_key = Some(format!("sftp-upload:{upload}"));
            let job_id = job::enqueue(&tx, &new)
                .await?
                .ok_or_else(|| Error::Worker(format!("upload {upload} already has an import job")))?;
            tx.execute("UPDATE sftp_uploads SET job_id = $2 WHERE id = $1", &[&upload, &job_id]).await?;
            UploadOutcome::Queued { job_id }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// How long a partner's uploaded file keeps its name in `inbox/` at least: clients
/// confirm an upload with a stat of the name right after closing it (paramiko's `put`
/// does), so it must not vanish under them the moment its import is done.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// The longest name a file keeps in a partner's folders; longer names are refused when
/// the upload opens, so that every name made from it (`.queued-…-NAME`,
/// `NAME.20261207T101500-123.summary.json`, …) still fits the 255 bytes a file name may
/// have.
pub const MAX_NAME_BYTES: usize = 230;

/// `name` followed by `suffix`, with `name` cut (at a character boundary, keeping its
/// extension where it can) so that the whole fits in 255 bytes: names that came from a
/// remote host, or stamps, may be long.
pub fn fit_name(name: &str, suffix: &str) -> String {
    const MAX: usize = 255;
    if name.len() + suffix.len() <= MAX {
        return format!("{name}{suffix}");
    }
    let room = MAX.saturating_sub(suffix.len());
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if name.len() - dot <= 10 && dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    let keep = room.saturating_sub(extension.len() + 1);
    let mut cut = keep.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{extension}{suffix}", &stem[..cut])
}

/// A completed upload, as the partners page lists it.
#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn a_long_name_is_cut_to_fit_and_keeps_its_extension() {
        assert_eq!(fit_name("a.csv", ".summary.json"), "a.csv.summary.json");
        let long = format!("{}.csv", "я".repeat(120));
        let fitted = fit_name(&long, ".20261207T101500-123.summary.json");
        assert!(fitted.len() <= 255, "{}", fitted.len());
        assert!(fitted.ends_with("~.csv.20261207T101500-123.summary.json"), "{fitted}");
        assert!(fitted.starts_with('я'));
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SftpUpload {
    pub id: i64,
    pub account_id: i64,
    pub username: String,
    pub file_name: String,
    pub bytes: i64,
    /// `queued` (an import job), `duplicate` (the same content came before) or `failed`
    /// (its import failed for good; the same content may be uploaded again).
    pub outcome: String,
    pub job_id: Option<i64>,
    /// The import job's state, when there is one.
    pub job_state: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// The tenant's latest uploads, newest first.
pub async fn uploads(client: &impl GenericClient, tenant: TenantId, limit: i64) -> Result<Vec<SftpUpload>> {
    let rows = client
        .query(
            "SELECT u.id, u.account_id, a.username, u.file_name, u.bytes, u.outcome, u.job_id, j.state, u.received_at
               FROM sftp_uploads u
               JOIN sftp_accounts a ON a.id = u.account_id
               LEFT JOIN jobs j ON j.id = u.job_id
              WHERE u.tenant_id = $1
              ORDER BY u.id DESC LIMIT $2",
            &[&tenant.0, &limit.clamp(1, 500)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| SftpUpload {
            id: row.get(0),
            account_id: row.get(1),
            username: row.get(2),
            file_name: row.get(3),
            bytes: row.get(4),
            outcome: row.get(5),
            job_id: row.get(6),
            job_state: row.get(7),
            received_at: row.get(8),
        })
        .collect())
}
