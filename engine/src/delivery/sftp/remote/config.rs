//! A remote as configured: its direction, folders, sealed credentials and schedule.

use crate::dialing::files::OutcomeFileOptions;
use crate::intake::import::ImportOptions;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::job::JobKind;
use crate::platform::secret::SecretKey;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio_postgres::GenericClient;

pub(super) const PASSWORD: &str = "sftp_remote.password";
pub(super) const PRIVATE_KEY: &str = "sftp_remote.private_key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Providers' files of numbers, imported as the remote's provider.
    PullNumbers,
    /// Dialers' files of call outcomes.
    PullOutcomes,
    /// Exports delivered to the host.
    PushExports,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::PullNumbers => "pull_numbers",
            Direction::PullOutcomes => "pull_outcomes",
            Direction::PushExports => "push_exports",
        }
    }

    fn parse(name: &str) -> Direction {
        match name {
            "pull_numbers" => Direction::PullNumbers,
            "pull_outcomes" => Direction::PullOutcomes,
            _ => Direction::PushExports,
        }
    }

    pub fn job_kind(self) -> JobKind {
        match self {
            Direction::PushExports => JobKind::SftpPush,
            Direction::PullNumbers | Direction::PullOutcomes => JobKind::SftpPull,
        }
    }
}

/// What becomes of a remote file once pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterPull {
    Delete,
    /// Renamed into `move_to` on the host.
    Move,
    /// Left where it is; its fingerprint keeps it from being pulled again.
    Leave,
}

impl AfterPull {
    pub fn name(self) -> &'static str {
        match self {
            AfterPull::Delete => "delete",
            AfterPull::Move => "move",
            AfterPull::Leave => "leave",
        }
    }

    fn parse(name: &str) -> AfterPull {
        match name {
            "delete" => AfterPull::Delete,
            "move" => AfterPull::Move,
            _ => AfterPull::Leave,
        }
    }
}

/// A remote as administrators see it: never a credential, only whether one is set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SftpRemote {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i32,
    pub username: String,
    pub has_password: bool,
    pub has_private_key: bool,
    /// The confirmed host key's fingerprint (`SHA256:…`); transfers refuse until set.
    pub host_key_fingerprint: Option<String>,
    /// The key the host offered at the last attempt, when it is not the confirmed one.
    pub offered_host_key_fingerprint: Option<String>,
    pub direction: Direction,
    pub remote_dir: String,
    pub file_pattern: String,
    pub after_pull: AfterPull,
    pub move_to: Option<String>,
    pub provider_code: Option<String>,
    pub import_options: serde_json::Value,
    pub enabled: bool,
    pub schedule_id: Option<i64>,
    pub cron: Option<String>,
    pub time_zone: Option<String>,
    /// Failed transfers since the last one that succeeded; above zero the remote alerts.
    pub consecutive_failures: i32,
    pub last_error: Option<String>,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Its Debug hides the credentials (see the impl below).
/// A remote as an administrator writes it.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SftpRemoteInput {
    pub name: String,
    pub host: String,
    #[serde(default = "ssh_port")]
    pub port: i32,
    pub username: String,
    /// Set or replace the password; absent keeps the stored one.
    pub password: Option<String>,
    /// An OpenSSH private key (PEM text, unencrypted); absent keeps the stored one.
    pub private_key: Option<String>,
    pub direction: Direction,
    #[serde(default = "dot")]
    pub remote_dir: String,
    #[serde(default = "star")]
    pub file_pattern: String,
    #[serde(default = "leave")]
    pub after_pull: AfterPull,
    pub move_to: Option<String>,
    /// Required for `pull_numbers`: the provider its files import as.
    pub provider_code: Option<String>,
    /// For pulled files: `region`, `format`, `encoding`, `on_duplicate`, `mapping`,
    /// `sheet` (numbers) or `format`, `time_zone`, `region`, `project_id` (outcomes).
    #[serde(default = "empty_object")]
    pub import_options: serde_json::Value,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// When it transfers (cron, five fields); every 15 minutes by default.
    #[serde(default = "every_quarter_hour")]
    pub cron: String,
    #[serde(default = "utc")]
    pub time_zone: String,
}

impl std::fmt::Debug for SftpRemoteInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpRemoteInput")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("private_key", &self.private_key.as_ref().map(|_| "…"))
            .field("direction", &self.direction)
            .field("remote_dir", &self.remote_dir)
            .finish_non_exhaustive()
    }
}

fn ssh_port() -> i32 {
    22
}
fn dot() -> String {
    ".".into()
}
fn star() -> String {
    "*".into()
}
fn leave() -> AfterPull {
    AfterPull::Leave
}
fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}
fn yes() -> bool {
    true
}
fn every_quarter_hour() -> String {
    "*/15 * * * *".into()
}
fn utc() -> String {
    "UTC".into()
}

/// `SHA256:…` as OpenSSH prints it, from a public key line ("ssh-ed25519 AAAA… comment").
pub fn fingerprint(public_key_line: &str) -> Option<String> {
    let blob = public_key_line.split_whitespace().nth(1)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(blob).ok()?;
    let digest = sha2::Sha256::digest(&bytes);
    Some(format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)))
}

fn schedule_key(id: i64) -> String {
    format!("sftp_remote:{id}")
}

const COLUMNS: &str = "r.id, r.name, r.host, r.port, r.username, r.password_sealed IS NOT NULL AS has_password,
    r.private_key_sealed IS NOT NULL AS has_private_key, r.host_key, r.offered_host_key, r.direction, r.remote_dir,
    r.file_pattern, r.after_pull, r.move_to, p.code AS provider_code, r.import_options, r.enabled,
    s.id AS schedule_id, s.cron, s.time_zone, r.consecutive_failures, r.last_error, r.last_failure_at,
    r.last_success_at, r.created_at, r.updated_at
    FROM sftp_remotes r
    LEFT JOIN providers p ON p.tenant_id = r.tenant_id AND p.id = r.provider_id
    LEFT JOIN schedules s ON s.system_key = 'sftp_remote:' || r.id";

fn remote(row: &tokio_postgres::Row) -> SftpRemote {
    let host_key: Option<String> = row.get("host_key");
    let offered: Option<String> = row.get("offered_host_key");
    let offered_other =
        offered.filter(|offered| host_key.as_deref().and_then(fingerprint) != fingerprint(offered));
    SftpRemote {
        id: row.get("id"),
        name: row.get("name"),
        host: row.get("host"),
        port: row.get("port"),
        username: row.get("username"),
        has_password: row.get("has_password"),
        has_private_key: row.get("has_private_key"),
        host_key_fingerprint: host_key.as_deref().and_then(fingerprint),
        offered_host_key_fingerprint: offered_other.as_deref().and_then(fingerprint),
        direction: Direction::parse(row.get("direction")),
        remote_dir: row.get("remote_dir"),
        file_pattern: row.get("file_pattern"),
        after_pull: AfterPull::parse(row.get("after_pull")),
        move_to: row.get("move_to"),
        provider_code: row.get("provider_code"),
        import_options: row.get("import_options"),
        enabled: row.get("enabled"),
        schedule_id: row.get("schedule_id"),
        cron: row.get("cron"),
        time_zone: row.get("time_zone"),
        consecutive_failures: row.get("consecutive_failures"),
        last_error: row.get("last_error"),
        last_failure_at: row.get("last_failure_at"),
        last_success_at: row.get("last_success_at"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<SftpRemote>> {
    let rows = client
        .query(&format!("SELECT {COLUMNS} WHERE r.tenant_id = $1 ORDER BY lower(r.name)"), &[&tenant.0])
        .await?;
    Ok(rows.iter().map(remote).collect())
}

pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<SftpRemote> {
    client
        .query_opt(&format!("SELECT {COLUMNS} WHERE r.tenant_id = $1 AND r.id = $2"), &[&tenant.0, &id])
        .await?
        .map(|row| remote(&row))
        .ok_or_else(|| Error::NotFound { entity: "sftp remote", key: id.to_string() })
}

fn check(input: &SftpRemoteInput) -> Result<()> {
    if input.name.trim().is_empty() {
        return Err(Error::invalid("name", "is empty"));
    }
    if input.host.is_empty() || !input.host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)) {
        return Err(Error::invalid("host", format!("'{}' is not a host name or address", input.host)));
    }
    if !(1..=65535).contains(&input.port) {
        return Err(Error::invalid("port", format!("{} is not a TCP port", input.port)));
    }
    if input.username.trim().is_empty() {
        return Err(Error::invalid("username", "is empty"));
    }
    if let Some(key) = &input.private_key
        && !key.contains("PRIVATE KEY")
        && !key.trim_start().starts_with("PuTTY-User-Key-File-")
    {
        return Err(Error::invalid(
            "private_key",
            "is not a private key (\"-----BEGIN OPENSSH PRIVATE KEY-----\" or a PuTTY .ppk)",
        ));
    }
    if input.file_pattern.is_empty() || input.file_pattern.contains('/') {
        return Err(Error::invalid("file_pattern", "a file name pattern such as *.csv, without folders"));
    }
    glob::Pattern::new(&input.file_pattern)
        .map_err(|e| Error::invalid("file_pattern", format!("'{}': {e}", input.file_pattern)))?;
    match (input.after_pull, &input.move_to) {
        (AfterPull::Move, None) => return Err(Error::invalid("move_to", "after_pull 'move' needs a folder")),
        (AfterPull::Move, Some(folder)) if folder.trim().is_empty() => {
            return Err(Error::invalid("move_to", "is empty"));
        }
        (AfterPull::Delete | AfterPull::Leave, Some(_)) => {
            return Err(Error::invalid("move_to", "only with after_pull 'move'"));
        }
        _ => {}
    }
    match (input.direction, &input.provider_code) {
        (Direction::PullNumbers, None) => {
            return Err(Error::invalid("provider_code", "pulled numbers import as a provider; name it"));
        }
        (Direction::PullOutcomes | Direction::PushExports, Some(_)) => {
            return Err(Error::invalid("provider_code", "only for pull_numbers"));
        }
        _ => {}
    }
    // Checked by the type the pulled files' jobs read, so a misspelt option fails here.
    match input.direction {
        Direction::PullNumbers => drop(ImportOptions::from_json("import_options", &input.import_options)?),
        Direction::PullOutcomes => {
            drop(OutcomeFileOptions::from_json("import_options", &input.import_options)?)
        }
        // A push imports nothing and reads none of it.
        Direction::PushExports if !input.import_options.is_object() => {
            return Err(Error::invalid("import_options", "must be a JSON object"));
        }
        Direction::PushExports => {}
    }
    crate::platform::schedule::parse_cron(&input.cron)?;
    crate::platform::schedule::parse_zone(&input.time_zone)?;
    Ok(())
}

fn seal(key: &SecretKey, context: &str, value: &Option<String>) -> Result<Option<Vec<u8>>> {
    value.as_ref().map(|v| key.seal(context, v.as_bytes())).transpose()
}

fn name_taken(error: &tokio_postgres::Error, input: &SftpRemoteInput) -> Option<Error> {
    crate::platform::error::is_unique_violation(error, "sftp_remotes_name_key")
        .then(|| Error::AlreadyExists { entity: "sftp remote", key: input.name.trim().to_owned() })
}

/// Creates a remote and its schedule. Its credentials are sealed here; the clear text is
/// never stored or logged.
pub async fn create(
    client: &mut impl GenericClient,
    key: &SecretKey,
    tenant: TenantId,
    actor: &Actor,
    input: &SftpRemoteInput,
) -> Result<SftpRemote> {
    check(input)?;
    if input.password.is_none() && input.private_key.is_none() {
        return Err(Error::invalid("password", "a remote needs a password or a private key"));
    }
    let (password, private_key) =
        (seal(key, PASSWORD, &input.password)?, seal(key, PRIVATE_KEY, &input.private_key)?);
    let tx = client.transaction().await?;
    let provider_id = match &input.provider_code {
        Some(code) => Some(crate::intake::provider::find_by_code(&tx, tenant, code).await?.id),
        None => None,
    };
    let inserted = tx
        .query_one(
            "INSERT INTO sftp_remotes (tenant_id, name, host, port, username, password_sealed, private_key_sealed,
                                       direction, remote_dir, file_pattern, after_pull, move_to, provider_id,
                                       import_options, enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            &[
                &tenant.0,
                &input.name.trim(),
                &input.host,
                &input.port,
                &input.username,
                &password,
                &private_key,
                &input.direction.name(),
                &input.remote_dir,
                &input.file_pattern,
                &input.after_pull.name(),
                &input.move_to,
                &provider_id,
                &input.import_options,
                &input.enabled,
            ],
        )
        .await;
    let id: i64 = match inserted {
        Ok(row) => row.get(0),
        Err(error) => return Err(name_taken(&error, input).unwrap_or_else(|| error.into())),
    };
    save_schedule(&tx, tenant, id, input).await?;
    let created = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("sftp_remote.create", "sftp_remote", id, &created))
        .await?;
    tx.commit().await?;
    Ok(created)
}

/// The remote's schedule is a system schedule: it follows the remote's name, cron and
/// whether it is enabled, and goes with it.
async fn save_schedule(
    client: &impl GenericClient,
    tenant: TenantId,
    id: i64,
    input: &SftpRemoteInput,
) -> Result<()> {
    let kind = input.direction.job_kind();
    let name = format!(
        "{}: {} (#{id})",
        if kind == JobKind::SftpPush { "SFTP push" } else { "SFTP pull" },
        input.name.trim()
    );
    client
        .execute(
            "INSERT INTO schedules (tenant_id, name, cron, time_zone, kind, args, enabled, system_key)
             VALUES ($1, $2, $3, $4, $5, jsonb_build_object('remote_id', $6::bigint), $7, $8)
             ON CONFLICT (system_key) WHERE system_key IS NOT NULL DO UPDATE
                SET name = excluded.name, cron = excluded.cron, time_zone = excluded.time_zone,
                    kind = excluded.kind, enabled = excluded.enabled, updated_at = now()",
            &[
                &tenant.0,
                &name,
                &input.cron.trim(),
                &input.time_zone,
                &kind.name(),
                &id,
                &input.enabled,
                &schedule_key(id),
            ],
        )
        .await?;
    Ok(())
}

/// Replaces a remote. Absent credentials keep the stored ones. A new host or port
/// forgets the confirmed host key: it was another machine's.
pub async fn update(
    client: &mut impl GenericClient,
    key: &SecretKey,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    input: &SftpRemoteInput,
) -> Result<SftpRemote> {
    check(input)?;
    let (password, private_key) =
        (seal(key, PASSWORD, &input.password)?, seal(key, PRIVATE_KEY, &input.private_key)?);
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    let provider_id = match &input.provider_code {
        Some(code) => Some(crate::intake::provider::find_by_code(&tx, tenant, code).await?.id),
        None => None,
    };
    let updated = tx
        .execute(
            include_str!("config.update.sql"),
            &[
                &tenant.0,
                &id,
                &input.name.trim(),
                &input.host,
                &input.port,
                &input.username,
                &password,
                &private_key,
                &input.direction.name(),
                &input.remote_dir,
                &input.file_pattern,
                &input.after_pull.name(),
                &input.move_to,
                &provider_id,
                &input.import_options,
                &input.enabled,
            ],
        )
        .await;
    if let Err(error) = updated {
        return Err(name_taken(&error, input).unwrap_or_else(|| error.into()));
    }
    save_schedule(&tx, tenant, id, input).await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated("sftp_remote.update", "sftp_remote", id, &before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a remote, its schedule, fingerprints and transfer log.
pub async fn delete(client: &mut impl GenericClient, tenant: TenantId, actor: &Actor, id: i64) -> Result<()> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    tx.execute("DELETE FROM schedules WHERE system_key = $1", &[&schedule_key(id)]).await?;
    tx.execute("DELETE FROM sftp_remotes WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id]).await?;
    audit::record(&tx, tenant, actor, Change::deleted("sftp_remote.delete", "sftp_remote", id, &before))
        .await?;
    tx.commit().await?;
    Ok(())
}
