//! Reaching a remote: its address and unsealed credentials, and the host key it offers
//! and an administrator confirms.

use super::*;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::secret::SecretKey;
use serde::Serialize;
use tokio_postgres::GenericClient;

/// What a connection needs, credentials opened. Lives only as long as the transfer.
pub struct Endpoint {
    pub remote: SftpRemote,
    pub tenant: TenantId,
    pub password: Option<String>,
    pub private_key: Option<String>,
    /// The confirmed host key line.
    pub host_key: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("remote", &self.remote.id)
            .field("host", &self.remote.host)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("private_key", &self.private_key.as_ref().map(|_| "…"))
            .finish()
    }
}

pub async fn endpoint(
    client: &impl GenericClient,
    key: &SecretKey,
    tenant: TenantId,
    id: i64,
) -> Result<Endpoint> {
    let remote = get(client, tenant, id).await?;
    let row = client
        .query_one(
            "SELECT password_sealed, private_key_sealed, host_key FROM sftp_remotes WHERE tenant_id = $1 AND id = $2",
            &[&tenant.0, &id],
        )
        .await?;
    let open = |context: &str, sealed: Option<Vec<u8>>| -> Result<Option<String>> {
        sealed
            .map(|sealed| {
                let plain = key.open(context, &sealed)?;
                String::from_utf8(plain)
                    .map_err(|_| Error::Refused(format!("the stored {context} is not text")))
            })
            .transpose()
    };
    Ok(Endpoint {
        password: open(PASSWORD, row.get(0))?,
        private_key: open(PRIVATE_KEY, row.get(1))?,
        host_key: row.get(2),
        remote,
        tenant,
    })
}

/// Notes the key a host offered, for an administrator to confirm.
pub async fn record_offered_host_key(client: &impl GenericClient, id: i64, key_line: &str) -> Result<()> {
    client.execute("UPDATE sftp_remotes SET offered_host_key = $2 WHERE id = $1", &[&id, &key_line]).await?;
    Ok(())
}

/// Confirms the key the host last offered, if its fingerprint is the one the
/// administrator was shown; from now on only that key is accepted.
pub async fn confirm_host_key(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    confirmed_fingerprint: &str,
) -> Result<SftpRemote> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    let offered: Option<String> = tx
        .query_one(
            "SELECT offered_host_key FROM sftp_remotes WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            &[&tenant.0, &id],
        )
        .await?
        .get(0);
    let Some(offered) = offered else {
        return Err(Error::Refused("the host has offered no key yet; test the connection first".into()));
    };
    let offered_fingerprint = fingerprint(&offered).unwrap_or_default();
    if offered_fingerprint != confirmed_fingerprint.trim() {
        return Err(Error::Refused(format!(
            "the host's key is {offered_fingerprint}, not {}; test the connection again and compare",
            confirmed_fingerprint.trim()
        )));
    }
    tx.execute(
        "UPDATE sftp_remotes SET host_key = offered_host_key, updated_at = now() WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id],
    )
    .await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated("sftp_remote.confirm_host_key", "sftp_remote", id, &before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// What "test connection" found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// Where it stopped: `connect`, `host_key`, `sign_in`, `sftp`, `directory`, or `ok`.
    pub stage: String,
    pub message: String,
    pub host_key_fingerprint: Option<String>,
    /// The key the host offered when it is not the confirmed one: compare it with the
    /// host's administrator, then confirm it.
    pub offered_host_key_fingerprint: Option<String>,
    /// Files in the remote folder matching the pattern.
    pub matching_files: Option<i64>,
}
