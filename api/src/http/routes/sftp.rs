//! Partner SFTP accounts and their uploads. Needs `settings.manage`.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::sftp_account::{self, SftpAccount, SftpAccountInput, SftpUpload};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::AppState;
use crate::http::auth::{Allowed, SettingsManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};

/// Partner accounts with their quotas and last activity (passwords never shown).
#[utoipa::path(get, path = "/sftp/accounts", tag = "sftp", responses((status = 200, body = Vec<SftpAccount>)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
) -> ApiResult<Json<Vec<SftpAccount>>> {
    let client = state.pool.get().await?;
    Ok(Json(sftp_account::list(&**client, caller.tenant()).await?))
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
    let created = sftp_account::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
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
    Ok(Json(sftp_account::uploads(&**client, caller.tenant(), params.limit.unwrap_or(100)).await?))
}
