//! Exports over HTTP: start one for a project (it runs in the background and records its
//! progress on its row), follow it, list the history, download the kept file.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dialpool_engine::delivery::export::ExportJob;
use dialpool_engine::delivery::export::{
    self, ExportFilter, ExportFormat, ExportOptions, ExportRecord, ExportRequest,
};
use dialpool_engine::platform::job::{self, JobArgs};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, ExportsCreate};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::routes::projects::check_project;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartExport {
    #[serde(default)]
    pub filter: ExportFilter,
    #[serde(default)]
    pub options: ExportOptions,
}

/// Start exporting a project's numbers. The export runs as a job; follow it
/// with `GET /exports/{id}` and download the file from `/exports/{id}/file` once it has
/// succeeded.
#[utoipa::path(post, path = "/projects/{id}/exports", tag = "exports", params(("id" = i64, Path)),
    request_body = StartExport, responses((status = 202, body = ExportRecord)))]
pub async fn start_export(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ExportsCreate>,
    Path(project_id): Path<i64>,
    Json(body): Json<StartExport>,
) -> ApiResult<(StatusCode, Json<ExportRecord>)> {
    check_project(&caller, project_id)?;
    let tenant = caller.tenant();
    let dir = format!("exports/{}", tenant.0);
    tokio::fs::create_dir_all(state.config.data_dir.join(&dir))
        .await
        .map_err(|e| ApiError::Internal(format!("creating {dir}: {e}")))?;
    // The stored name is random so one tenant's path never names another's file.
    let stored = format!(
        "{dir}/{}.{}",
        &dialpool_engine::platform::access::random_secret()[..24],
        body.options.format.extension()
    );
    let request = ExportRequest {
        tenant,
        project_id,
        filter: body.filter,
        out: state.config.data_dir.join(&stored),
        stored_path: Some(stored),
        expires_at: Some(chrono::Utc::now() + state.config.exports_keep),
        options: body.options,
        actor: caller.actor(),
    };
    let export_id = export::start(&state.pool, &request).await?;
    // The export runs as a job, so any server's worker takes it, and a server that dies
    // mid-export leaves it to another.
    let job = ExportJob {
        project_id,
        out: request.stored_path.clone().unwrap_or_default(),
        sftp_account_id: None,
        sftp_remote_id: None,
        export_id: Some(export_id),
        keep_until: request.expires_at,
        filter: request.filter,
        options: request.options,
    };
    let client = state.pool.get().await?;
    let mut new = job.job(Some(tenant), Some(&request.actor));
    new.created_by = request.actor.user_id;
    new.priority = 10;
    job::enqueue(&**client, &new).await?;
    Ok((StatusCode::ACCEPTED, Json(export::get(&**client, tenant, export_id).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryFilter {
    /// Only this project's exports.
    pub project_id: Option<i64>,
    /// At most this many (default 100, at most 1000), newest first.
    pub limit: Option<i64>,
}

/// The export history of the projects in the caller's scope, newest first.
#[utoipa::path(get, path = "/exports", tag = "exports", params(HistoryFilter),
    responses((status = 200, body = Vec<ExportRecord>)))]
pub async fn list_exports(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ExportsCreate>,
    Query(filter): Query<HistoryFilter>,
) -> ApiResult<Json<Vec<ExportRecord>>> {
    let client = state.pool.get().await?;
    Ok(Json(
        export::list(
            &**client,
            caller.tenant(),
            caller.scope().project_filter(),
            filter.project_id,
            filter.limit.unwrap_or(100),
        )
        .await?,
    ))
}

/// The export with its kept file's path, or not found for a manager outside its project.
async fn reachable(state: &AppState, caller: &Caller, id: i64) -> ApiResult<(ExportRecord, Option<String>)> {
    let client = state.pool.get().await?;
    let (record, stored) = export::get_with_file(&**client, caller.tenant(), id).await?;
    check_project(caller, record.project_id).map_err(|_| ApiError::NotFound(format!("export '{id}'")))?;
    Ok((record, stored))
}

/// One export: its status, progress (`rows` of `rows_total`) and whether its file can be
/// downloaded.
#[utoipa::path(get, path = "/exports/{id}", tag = "exports", params(("id" = i64, Path)),
    responses((status = 200, body = ExportRecord)))]
pub async fn get_export(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ExportsCreate>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ExportRecord>> {
    Ok(Json(reachable(&state, &caller, id).await?.0))
}

/// The export's file, while the server keeps it.
#[utoipa::path(get, path = "/exports/{id}/file", tag = "exports", params(("id" = i64, Path)),
    responses((status = 200, description = "The file, in the export's format", content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (String = "text/tab-separated-values"),
        (Vec<u8> = "application/vnd.apache.parquet")))))]
pub async fn download_export(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ExportsCreate>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let (record, stored) = reachable(&state, &caller, id).await?;
    let stored = export::kept_file(&record, stored)?;
    let file = match tokio::fs::File::open(state.config.data_dir.join(&stored)).await {
        Ok(file) => file,
        // Gone from the disk while the record says kept (an erasure that deleted it and
        // was then interrupted, or a hand): a conflict to resolve, not a server fault.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(dialpool_engine::Error::Refused(format!(
                "export {id}'s file is gone from the server; export again"
            ))
            .into());
        }
        Err(e) => return Err(ApiError::Internal(format!("opening export file {stored}: {e}"))),
    };
    let format = ExportFormat::parse(&record.format)?;
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let name = format!("export-{id}-project-{}.{}", record.project_id, format.extension());
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
