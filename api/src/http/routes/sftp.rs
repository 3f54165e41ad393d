//! Partner SFTP accounts and their uploads; remote SFTP hosts, their connection test,
//! host key confirmation and transfer log. Needs `settings.manage`.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::delivery::sftp::account::{self, SftpAccount, SftpAccountInput, SftpUpload};
use dialpool_engine::delivery::sftp::remote::{self, ConnectionTest, SftpRemote, SftpRemoteInput, Transfer};
use dialpool_engine::platform::job;
use dialpool_engine::platform::secret::SecretKey;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, SettingsManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};

/// Partner accounts with their quotas and last activity (passwords never shown).
#[utoipa::path(get, path = "/sftp/accounts", tag = "sftp", responses((status = 200, body = Vec<SftpAccount>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
) -> ApiResult<Json<Vec<SftpAccount>>> {
    let client = state.pool.get().await?;
    Ok(Json(account::list(&**client, caller.tenant()).await?))
}

/// Add a partner account for a provider: a password (10+ characters), OpenSSH public
/// keys, or both. Its files import as that provider.
#[utoipa::path(post, path = "/sftp/accounts", tag = "sftp", request_body = SftpAccountInput,
    responses((status = 201, body = SftpAccount)))]
pub async fn create_account(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<SftpAccountInput>,
) -> ApiResult<(StatusCode, Json<SftpAccount>)> {
    let mut client = state.pool.get().await?;
    let created = account::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// Completed uploads, newest first, with what became of each (its import job's state, or
/// a duplicate).
#[utoipa::path(get, path = "/sftp/uploads", tag = "sftp", params(UploadParams),
    responses((status = 200, body = Vec<SftpUpload>)))]
pub async fn list_uploads(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Query(params): Query<UploadParams>,
) -> ApiResult<Json<Vec<SftpUpload>>> {
    let client = state.pool.get().await?;
    Ok(Json(account::uploads(&**client, caller.tenant(), params.limit.unwrap_or(100)).await?))
}

fn secret_key(state: &AppState) -> ApiResult<SecretKey> {
    Ok(SecretKey::load(&state.config.data_dir)?)
}

/// Remote SFTP hosts this tenant pulls from or pushes to (credentials never shown), with
/// their confirmed host key, schedule and failures.
#[utoipa::path(get, path = "/sftp/remotes", tag = "sftp", responses((status = 200, body = Vec<SftpRemote>)))]
pub async fn list_remotes(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
) -> ApiResult<Json<Vec<SftpRemote>>> {
    let client = state.pool.get().await?;
    Ok(Json(remote::list(&**client, caller.tenant()).await?))
}

/// Add a remote host: its password or private key is stored sealed with the
/// installation's secret key. Test the connection next, then confirm the host key.
#[utoipa::path(post, path = "/sftp/remotes", tag = "sftp", request_body = SftpRemoteInput,
    responses((status = 201, body = SftpRemote)))]
pub async fn create_remote(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<SftpRemoteInput>,
) -> ApiResult<(StatusCode, Json<SftpRemote>)> {
    let key = secret_key(&state)?;
    let mut client = state.pool.get().await?;
    let created = remote::create(&mut **client, &key, caller.tenant(), &caller.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/sftp/remotes/{id}", tag = "sftp", responses((status = 200, body = SftpRemote)))]
pub async fn get_remote(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<SftpRemote>> {
    let client = state.pool.get().await?;
    Ok(Json(remote::get(&**client, caller.tenant(), id).await?))
}

/// Replace a remote. Absent `password` / `private_key` keep the stored ones; a new host
/// or port forgets the confirmed host key.
#[utoipa::path(put, path = "/sftp/remotes/{id}", tag = "sftp", request_body = SftpRemoteInput,
    responses((status = 200, body = SftpRemote)))]
pub async fn update_remote(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(input): Json<SftpRemoteInput>,
) -> ApiResult<Json<SftpRemote>> {
    let key = secret_key(&state)?;
    let mut client = state.pool.get().await?;
    Ok(Json(remote::update(&mut **client, &key, caller.tenant(), &caller.actor(), id, &input).await?))
}

#[utoipa::path(delete, path = "/sftp/remotes/{id}", tag = "sftp", responses((status = 204)))]
pub async fn delete_remote(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    remote::delete(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connect, sign in and list the remote folder. When the host's key is not the confirmed
/// one, stops before signing in and returns the offered key's fingerprint to confirm.
#[utoipa::path(post, path = "/sftp/remotes/{id}/test", tag = "sftp",
    responses((status = 200, body = ConnectionTest)))]
pub async fn test_remote(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ConnectionTest>> {
    let key = secret_key(&state)?;
    Ok(Json(dialpool_sftp::remote::test(&state.pool, &key, caller.tenant(), id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmHostKey {
    /// The fingerprint the connection test showed (`SHA256:…`), after comparing it with
    /// the host's administrator.
    pub fingerprint: String,
}

/// Confirm the host key the host last offered; only that key is accepted from now on.
#[utoipa::path(post, path = "/sftp/remotes/{id}/host-key", tag = "sftp", request_body = ConfirmHostKey,
    responses((status = 200, body = SftpRemote)))]
pub async fn confirm_host_key(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(input): Json<ConfirmHostKey>,
) -> ApiResult<Json<SftpRemote>> {
    let mut client = state.pool.get().await?;
    Ok(Json(
        remote::confirm_host_key(&mut **client, caller.tenant(), &caller.actor(), id, &input.fingerprint)
            .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedJob {
    pub job_id: i64,
}

/// Pull (or push) now, outside the schedule: queues the remote's transfer job.
#[utoipa::path(post, path = "/sftp/remotes/{id}/run", tag = "sftp", responses((status = 202, body = QueuedJob)))]
pub async fn run_remote(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<QueuedJob>)> {
    let client = state.pool.get().await?;
    let remote = remote::get(&**client, caller.tenant(), id).await?;
    if !remote.enabled {
        return Err(
            dialpool_engine::Error::Refused(format!("remote {id} is disabled; enable it first")).into()
        );
    }
    let mut new = remote::transfer_job(caller.tenant(), id, remote.direction, Some(&caller.actor()));
    new.created_by = caller.actor().user_id;
    let job_id = job::enqueue(&**client, &new)
        .await?
        .ok_or_else(|| dialpool_engine::Error::Refused("the job was not queued".into()))?;
    Ok((StatusCode::ACCEPTED, Json(QueuedJob { job_id })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TransferParams {
    /// Only this remote's.
    pub remote_id: Option<i64>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
}

/// The transfer log: every pull and push, newest first, with its files and error.
#[utoipa::path(get, path = "/sftp/transfers", tag = "sftp", params(TransferParams),
    responses((status = 200, body = Vec<Transfer>)))]
pub async fn list_transfers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Query(params): Query<TransferParams>,
) -> ApiResult<Json<Vec<Transfer>>> {
    let client = state.pool.get().await?;
    Ok(Json(
        remote::transfers(&**client, caller.tenant(), params.remote_id, params.limit.unwrap_or(100)).await?,
    ))
}
