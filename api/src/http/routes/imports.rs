//! Imports in the browser: a multipart upload streamed to disk, the import as a background
//! task with progress over Server-Sent Events, the history, and the rejects file.

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use dialpool_engine::intake::import::history::{self, ImportRecord};
use dialpool_engine::intake::import::{ImportJob, ImportOptions};
use dialpool_engine::intake::provider;
use dialpool_engine::platform::page::Page;
use futures_util::Stream;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use super::PageParams;
use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, ImportsCreate, NumbersRead};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Multipart, Path, Query};
use crate::http::tasks::{self, ImportTaskView};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportFilter {
    pub provider_id: Option<i64>,
    /// `succeeded` or `failed`.
    pub status: Option<String>,
}

/// Finished imports, newest first. Sort: `id` (`-id` by default).
#[utoipa::path(get, path = "/imports", tag = "imports", params(PageParams, ImportFilter),
    responses((status = 200, body = Page<ImportRecord>)))]
pub async fn list_imports(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<ImportFilter>,
) -> ApiResult<Json<Page<ImportRecord>>> {
    let client = state.pool.get().await?;
    let only = caller.scope().provider_filter();
    Ok(Json(
        history::list(
            &**client,
            caller.tenant(),
            only,
            filter.provider_id,
            filter.status.as_deref(),
            &page.into(),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/imports/{id}", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, body = ImportRecord)))]
pub async fn get_import(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ImportRecord>> {
    let client = state.pool.get().await?;
    Ok(Json(history::get(&**client, caller.tenant(), caller.scope().provider_filter(), id).await?))
}

/// The rejected rows of an import as CSV (row, raw value, reason, detail).
#[utoipa::path(get, path = "/imports/{id}/rejects", tag = "imports", params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn download_rejects(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let client = state.pool.get().await?;
    let path = history::rejects_path(&**client, caller.tenant(), caller.scope().provider_filter(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("rejects of import {id} (it rejected no rows)")))?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::Internal(format!("opening rejects file {path}: {e}")))?;
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"import-{id}-rejects.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The multipart form of an upload; `file` last, so the options are known when it arrives.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; parsed field by field.
pub struct ImportUpload {
    /// The provider the numbers come from.
    provider_id: i64,
    /// `skip` (default) or `update`.
    on_duplicate: Option<String>,
    /// `auto` (default), `csv`, `xlsx`, `xls`, `vicidial`.
    format: Option<String>,
    encoding: Option<String>,
    sheet: Option<String>,
    /// Overrides the provider's saved mapping, e.g. `phone=3,geo=Region`.
    mapping: Option<String>,
    /// Overrides the provider's default region.
    region: Option<String>,
    /// Overrides the provider's re-entry rule: `skip`, `refresh:DAYS[:SCOPE]` or
    /// `refresh_if_status:DAYS:CATEGORIES[:SCOPE]`.
    reentry: Option<String>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Default)]
struct UploadOptions {
    provider_id: Option<i64>,
    on_duplicate: Option<String>,
    format: Option<String>,
    encoding: Option<String>,
    sheet: Option<String>,
    mapping: Option<String>,
    region: Option<String>,
    reentry: Option<String>,
}

/// Keeps a file name a person recognises but that cannot climb out of a directory.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() { "upload".to_owned() } else { cleaned.to_owned() }
}

/// Streams an uploaded file field into the tenant's upload directory under a random,
/// safe name, within the upload limit; returns the path and the name the client gave.
async fn save_upload(
    state: &AppState,
    caller: &Caller,
    field: &mut axum::extract::multipart::Field<'_>,
) -> ApiResult<(PathBuf, String)> {
    let upload_dir = state.config.data_dir.join("uploads").join(caller.tenant().0.to_string());
    let original = field.file_name().map(str::to_owned).unwrap_or_else(|| "upload".into());
    tokio::fs::create_dir_all(&upload_dir)
        .await
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", upload_dir.display())))?;
    let path = upload_dir.join(format!(
        "{}-{}",
        &dialpool_engine::platform::access::random_secret()[..12],
        safe_file_name(&original)
    ));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", path.display())))?;
    let mut written: u64 = 0;
    let result: ApiResult<()> = async {
        while let Some(chunk) = field.chunk().await? {
            written += chunk.len() as u64;
            if written > state.config.max_upload_bytes {
                return Err(ApiError::PayloadTooLarge(state.config.max_upload_bytes));
            }
            file.write_all(&chunk).await.map_err(|e| ApiError::Internal(format!("writing upload: {e}")))?;
        }
        file.flush().await.map_err(|e| ApiError::Internal(format!("writing upload: {e}")))
    }
    .await;
    if let Err(error) = result {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(error);
    }
    Ok((path, original))
}

/// A multipart upload read whole: the text fields a route names (trimmed; blank ones left
/// out) and its `file`, streamed to disk. Any other field is refused; whenever reading or
/// checking the form fails, the file saved so far is removed.
pub(crate) struct UploadForm {
    fields: std::collections::HashMap<String, String>,
    pub path: PathBuf,
    /// The file's name as the client sent it.
    pub original: String,
}

impl UploadForm {
    pub(crate) async fn read(
        state: &AppState,
        caller: &Caller,
        multipart: &mut axum::extract::Multipart,
        names: &[&str],
    ) -> ApiResult<UploadForm> {
        let mut fields = std::collections::HashMap::new();
        let mut stored: Option<(PathBuf, String)> = None;
        let read: ApiResult<()> = async {
            while let Some(mut field) = multipart.next_field().await? {
                let name = field.name().unwrap_or("").to_owned();
                if name == "file" {
                    stored = Some(save_upload(state, caller, &mut field).await?);
                } else if names.contains(&name.as_str()) {
                    let value = field.text().await?.trim().to_owned();
                    if !value.is_empty() {
                        fields.insert(name, value);
                    }
                } else {
                    return Err(ApiError::BadRequest(format!("unknown form field '{name}'")));
                }
            }
            Ok(())
        }
        .await;
        match (read, stored) {
            (Ok(()), Some((path, original))) => Ok(UploadForm { fields, path, original }),
            (Ok(()), None) => Err(ApiError::BadRequest("the form has no 'file' field".into())),
            (Err(error), stored) => {
                if let Some((path, _)) = stored {
                    let _ = tokio::fs::remove_file(path).await;
                }
                Err(error)
            }
        }
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.fields.remove(name)
    }

    /// Passes `checked` through; when it is an error, the uploaded file is removed first.
    pub(crate) async fn keep<T, E: Into<ApiError>>(&self, checked: Result<T, E>) -> ApiResult<T> {
        match checked {
            Ok(value) => Ok(value),
            Err(error) => {
                let _ = tokio::fs::remove_file(&self.path).await;
                Err(error.into())
            }
        }
    }
}

/// Upload a number file and start importing it. Answers 202 with the task to follow on
/// `/imports/tasks/{task_id}/events`.
#[utoipa::path(post, path = "/imports", tag = "imports",
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses((status = 202, body = ImportTaskView), (status = 413, description = "larger than the upload limit")))]
pub async fn upload(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ImportsCreate>,
    Multipart(mut multipart): Multipart,
) -> ApiResult<(StatusCode, Json<ImportTaskView>)> {
    let mut form = UploadForm::read(
        &state,
        &caller,
        &mut multipart,
        &["provider_id", "on_duplicate", "format", "encoding", "sheet", "mapping", "region", "reentry"],
    )
    .await?;
    let provider_id = form
        .take("provider_id")
        .unwrap_or_default()
        .parse()
        .map_err(|_| ApiError::BadRequest("provider_id must be a provider's numeric id".into()));
    let provider_id = form.keep(provider_id).await?;
    let options = UploadOptions {
        provider_id: Some(provider_id),
        on_duplicate: form.take("on_duplicate"),
        format: form.take("format"),
        encoding: form.take("encoding"),
        sheet: form.take("sheet"),
        mapping: form.take("mapping"),
        region: form.take("region"),
        reentry: form.take("reentry"),
    };
    let (path, original) = (form.path, form.original);
    let started = start_import(&state, &caller, options, path.clone(), original).await;
    if started.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    Ok((StatusCode::ACCEPTED, Json(started?)))
}

async fn start_import(
    state: &AppState,
    caller: &Caller,
    options: UploadOptions,
    path: PathBuf,
    original: String,
) -> ApiResult<ImportTaskView> {
    let provider_id =
        options.provider_id.ok_or_else(|| ApiError::BadRequest("the form has no 'provider_id'".into()))?;
    if !caller.scope().allows_provider(provider_id) {
        return Err(ApiError::NotFound(format!("provider '{provider_id}'")));
    }
    let client = state.pool.get().await?;
    let provider = provider::get(&**client, caller.tenant(), provider_id).await?;
    // Wrong options are the caller's to fix now, not the job's to discover.
    let read_as = ImportOptions::from_text(
        options.format.as_deref(),
        options.encoding,
        options.sheet,
        options.region.as_deref(),
        options.mapping.as_deref(),
        options.on_duplicate.as_deref(),
        options.reentry.as_deref(),
    )?;
    let rejects_dir = state.config.data_dir.join("rejects").join(caller.tenant().0.to_string());
    tokio::fs::create_dir_all(&rejects_dir)
        .await
        .map_err(|e| ApiError::Internal(format!("creating {}: {e}", rejects_dir.display())))?;
    let rejects = rejects_dir
        .join(format!("{}.rejects.csv", &dialpool_engine::platform::access::random_secret()[..16]));
    let mut job = ImportJob::new(provider.code, path, read_as);
    job.file_name = Some(original);
    job.rejects_path = Some(rejects);
    job.remove_file = true;
    let job_id = tasks::enqueue(&**client, caller.tenant(), &caller.actor(), &job).await?;
    state.metrics.import_started();
    tasks::get(&**client, caller.tenant(), &job_id.to_string())
        .await?
        .ok_or_else(|| ApiError::Internal(format!("the import job {job_id} vanished")))
}

/// Imports waiting, running or finished in the last minutes, on any server.
#[utoipa::path(get, path = "/imports/tasks", tag = "imports", responses((status = 200, body = Vec<ImportTaskView>)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
) -> ApiResult<Json<Vec<ImportTaskView>>> {
    let scope = caller.scope();
    let client = state.pool.get().await?;
    let listed = tasks::list(&**client, caller.tenant()).await?;
    Ok(Json(listed.into_iter().filter(|t| scope.allows_provider(t.provider_id)).collect()))
}

async fn find_task(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ImportTaskView> {
    let client = state.pool.get().await?;
    tasks::get(&**client, caller.tenant(), id)
        .await?
        .filter(|t| caller.scope().allows_provider(t.provider_id))
        .ok_or_else(|| ApiError::NotFound(format!("import task '{id}'")))
}

#[utoipa::path(get, path = "/imports/tasks/{task_id}", tag = "imports", params(("task_id" = String, Path)),
    responses((status = 200, body = ImportTaskView)))]
pub async fn get_task(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(task_id): Path<String>,
) -> ApiResult<Json<ImportTaskView>> {
    Ok(Json(find_task(&state, &caller, &task_id).await?))
}

/// Server-Sent Events: `progress` about twice a second while the import waits or runs,
/// then one `done` event (data: the task, with `import_id` or `error`) and the stream
/// ends.
#[utoipa::path(get, path = "/imports/tasks/{task_id}/events", tag = "imports", params(("task_id" = String, Path)),
    responses((status = 200, content_type = "text/event-stream", body = crate::http::ServerSentEvent)))]
pub async fn task_events(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(task_id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let first = find_task(&state, &caller, &task_id).await?;
    let tenant = caller.tenant();
    let stream =
        futures_util::stream::unfold((state.pool.clone(), Some(first), false), move |(pool, known, done)| {
            let task_id = task_id.clone();
            async move {
                if done {
                    return None;
                }
                let view = match known {
                    Some(view) => view,
                    None => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let read = match pool.get().await {
                            Ok(client) => tasks::get(&**client, tenant, &task_id).await,
                            Err(error) => Err(error.into()),
                        };
                        match read {
                            Ok(Some(view)) => view,
                            // Gone (deleted by retention) or unreadable: end the stream.
                            Ok(None) | Err(_) => return None,
                        }
                    }
                };
                let finished = !view.is_running();
                let event = Event::default()
                    .event(if finished { "done" } else { "progress" })
                    .json_data(&view)
                    .unwrap_or_else(|_| Event::default().event("progress"));
                Some((Ok(event), (pool, None, finished)))
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
